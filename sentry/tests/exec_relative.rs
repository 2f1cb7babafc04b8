//! execve of a bare name (no slash) runs the file of that name in the working directory, as
//! Linux does, also for a dynamic program the sentry runs through its ELF interpreter (which
//! would otherwise search its library path for the name). The host's /usr/bin/true, a dynamic
//! program, run natively and under the sentry.

use std::process::Command;
use test_support::{variant_tests, Variant};

fn a_bare_name_runs_from_the_working_directory(v: Variant) {
    let native = Command::new(v.program("exec_relative"))
        .arg("true")
        .current_dir("/usr/bin")
        .status()
        .expect("run exec_relative natively");
    assert!(native.success(), "natively: {native}");
    let run = v.run(
        &["--cwd", "/usr/bin"],
        &[v.program("exec_relative"), "true".into()],
    );
    run.expect_code(0);
}

variant_tests!(a_bare_name_runs_from_the_working_directory);

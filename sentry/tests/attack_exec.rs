//! An exec the sentry decided runs the file it vetted, whatever another thread of the task does
//! meanwhile. The attacker (`escape_exec_race`) execs a program of the sandbox from one thread
//! while a second thread rewrites the byte that ends the program's path (so that a kernel that
//! reads the "empty" path there finds an absolute host path) and re-points the fd numbers the
//! program is installed at to a sandbox program whose ELF interpreter is a host file. The host
//! file, outside the sandbox's root, prints a marker if it ever runs: the test looks for it, and
//! checks from the host that the payload's access time never moved. Both platforms, as the
//! invoking user and as uid 65534.
//!
//! Before the sentry checked the new image at the exec event and put the empty path in a page
//! the task cannot write, the payload ran within the first few hundred rounds. A second racer
//! finds that page in /proc/self/maps and makes it writable before the kernel reads the path;
//! before the page was sealed (mseal) ahead of the execveat, the kernel opened the host file.

use std::path::Path;
use std::process::{Command, Stdio};
use test_support::{variant_tests, Variant};

/// Rounds of the race per run: each forks a child that races until its exec succeeds.
const ROUNDS: &str = "1500";

fn compile_dynamic(source: &Path, out: &Path, interpreter: &Path) {
    let o = Command::new(std::env::var_os("CC").unwrap_or_else(|| "gcc".into()))
        .args(["-O2", "-o"])
        .arg(out)
        .arg(source)
        .arg(format!("-Wl,--dynamic-linker={}", interpreter.display()))
        .stdin(Stdio::null())
        .output()
        .expect("run gcc");
    assert!(
        o.status.success(),
        "gcc failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn exec_race_runs_only_the_vetted_file(v: Variant) {
    race(v, &[]);
}

/// The racer looks for the read-only page of the exec's path and argv in /proc/self/maps
/// and makes it writable (mprotect, or a mapping over it) to put a host path there.
fn exec_page_race_runs_only_the_vetted_file(v: Variant) {
    race(v, &["page"]);
}

fn race(v: Variant, mode: &[&str]) {
    use std::os::unix::fs::PermissionsExt;
    let progs = test_support::escape_programs();
    let scratch = test_support::Scratch::new("attack-exec");
    std::fs::set_permissions(&scratch.dir, std::fs::Permissions::from_mode(0o755))
        .expect("chmod the scratch directory");
    let rootfs = scratch.copy_rootfs(&test_support::busybox_rootfs());
    let outside = scratch.dir.join("outside");
    std::fs::create_dir_all(&outside).expect("mkdir outside");
    let payload = outside.join("payload");
    std::fs::copy(progs.join("escape_exec_payload"), &payload).expect("copy the payload");
    let inside = rootfs.join("attack");
    std::fs::create_dir_all(&inside).expect("mkdir /attack");
    std::fs::copy(progs.join("escape_exec_race"), inside.join("race")).expect("copy the racer");
    let source = scratch.dir.join("evil.c");
    std::fs::write(&source, "int main(void) { return 0; }\n").expect("write evil.c");
    compile_dynamic(&source, &inside.join("evil"), &payload);
    let before = std::fs::metadata(&payload).expect("stat the payload");

    let payload_path = payload.to_str().expect("UTF-8 path");
    let mut cmd = v.sentry_command();
    cmd.arg("run")
        .arg(v.platform_flag())
        .arg(&rootfs)
        .args(["/attack/race", ROUNDS, "/bin/true", "/attack/evil"])
        .arg(payload_path)
        .args(mode);
    let run = test_support::run_to_end(cmd, test_support::RUN_DEADLINE);
    assert!(
        !run.stdout.contains("HOST-PAYLOAD-RAN"),
        "a host file ran inside the sandbox\n{}",
        run.describe()
    );
    run.expect_code(0);
    assert!(
        run.stdout.contains(&format!("rounds {ROUNDS} ")),
        "the race did not finish its rounds\n{}",
        run.describe()
    );
    let after = std::fs::metadata(&payload).expect("stat the payload");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        (before.atime(), before.atime_nsec()),
        (after.atime(), after.atime_nsec()),
        "the host payload was read (its access time moved)\n{}",
        run.describe()
    );
}

/// A long run of execs from one address space (vfork children, as a shell runs commands)
/// leaves one sealed exec area there, not a mapping per exec; the sandbox can neither make
/// it writable nor unmap it nor map over it.
fn exec_area_is_one_sealed_mapping_per_address_space(v: Variant) {
    v.run(&[], &[v.program("exec_area")])
        .expect_program_ok("exec_area done");
}

variant_tests!(
    exec_race_runs_only_the_vetted_file,
    exec_page_race_runs_only_the_vetted_file,
    exec_area_is_one_sealed_mapping_per_address_space
);

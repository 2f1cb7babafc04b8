//! `sentry run` basics (issue 2, points 6, 7 and 9): a shell pipeline, exit codes and signal
//! deaths (and the core bit), the sentry's own errors (one line on stderr, docker-run exit codes), `--strace`.
//! Each test runs on both platforms, as the invoking user and as uid 65534.

use std::os::unix::fs::PermissionsExt;
use test_support::{variant_tests, Run, Variant};

variant_tests!(
    pipeline,
    exit_status_of_the_command,
    signal_deaths,
    command_not_found,
    command_not_executable,
    bad_rootfs,
    bad_options,
    strace_decodes_calls,
    profile_reports_handler_times,
);

/// Asserts the sentry refused with `code` and exactly one line on stderr containing `needle`.
fn expect_one_line_error(run: &Run, code: i32, needle: &str) {
    run.expect_code(code);
    let lines = run.stderr_lines();
    assert_eq!(
        lines.len(),
        1,
        "want one line on stderr\n{}",
        run.describe()
    );
    assert!(
        lines[0].starts_with("sentry: ") && lines[0].contains(needle),
        "stderr should name '{needle}'\n{}",
        run.describe()
    );
    assert!(
        !run.stderr.contains("panicked"),
        "the sentry panicked\n{}",
        run.describe()
    );
}

fn pipeline(v: Variant) {
    let run = v.run(&[], &["/bin/sh", "-c", "echo a | tr a b"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "b\n", "{}", run.describe());
    assert_eq!(run.stderr, "", "{}", run.describe());

    // A longer pipeline with a subshell and the shell's own exit status of the last stage.
    let run = v.run(
        &[],
        &[
            "/bin/sh",
            "-c",
            "seq 1 200 | (sort -rn; echo end) | head -n 3; false | true",
        ],
    );
    run.expect_code(0);
    assert_eq!(run.stdout, "200\n199\n198\n", "{}", run.describe());
}

fn exit_status_of_the_command(v: Variant) {
    v.run(&[], &["/bin/sh", "-c", "exit 7"]).expect_code(7);
    v.run(&[], &["/bin/sh", "-c", "exit 0"]).expect_code(0);
    v.run(&[], &["/bin/sh", "-c", "exit 255"]).expect_code(255);
    let exits = v.program("exits");
    v.run(&[], &[exits.as_str(), "exit", "42"]).expect_code(42);
    v.run(&[], &[exits.as_str(), "exit", "124"])
        .expect_code(124);
}

fn signal_deaths(v: Variant) {
    // The first process is the sandbox's PID 1 and has init's semantics, as in a real PID
    // namespace (`unshare -fp` gives the same results): a signal with the default action sent
    // from inside the sandbox does not kill it, but a fault does. Death by signal N gives
    // 128+N, core-dumping signals included.
    let exits = v.program("exits");
    v.run(&[], &[exits.as_str(), "segv"]).expect_code(139);
    let run = v.run(&[], &["/bin/sh", "-c", "kill -SEGV $$; echo alive"]);
    run.expect_code(0);
    assert_eq!(
        run.stdout,
        "alive\n",
        "init ignores SIGSEGV from kill\n{}",
        run.describe()
    );
    v.run(&[], &[exits.as_str(), "kill", "10"]).expect_code(0);

    // Any other process dies of them; its parent sees the signal in the wait status.
    for (cmd, want) in [
        ("/bin/sh -c 'kill -SEGV $$'", "139"),
        ("/bin/sh -c 'kill -TERM $$'", "143"),
        ("/bin/sh -c 'kill -KILL $$'", "137"),
        (&format!("{exits} abort"), "134"),
        (&format!("{exits} segv"), "139"),
        (&format!("{exits} kill 10"), "138"),
    ] {
        let script = format!("{cmd}; echo $?");
        let run = v.run(&[], &["/bin/sh", "-c", script.as_str()]);
        run.expect_code(0);
        assert_eq!(run.stdout.trim(), want, "{cmd}\n{}", run.describe());
    }
    // The status of a child's death passes through as the first process's exit status.
    let script = format!("{exits} abort; exit $?");
    v.run(&[], &["/bin/sh", "-c", script.as_str()])
        .expect_code(134);

    // The core bit (WCOREDUMP) follows the sandbox's own RLIMIT_CORE, as on Linux with
    // core_pattern "core", though the host kernel writes no core: the sandbox's shell says
    // "(core dumped)" only when the limit lets a core be written. The sentry's own status for
    // its first process is 128+N either way, as a shell shows a death by signal N.
    for (limit, core) in [("unlimited", true), ("0", false)] {
        let script = format!("ulimit -c {limit} && {exits} segv; echo $?");
        let run = v.run(&[], &["/bin/sh", "-c", script.as_str()]);
        run.expect_code(0);
        assert_eq!(run.stdout.trim(), "139", "{}", run.describe());
        assert!(
            run.stderr.contains("Segmentation fault"),
            "{}",
            run.describe()
        );
        assert_eq!(
            run.stderr.contains("(core dumped)"),
            core,
            "RLIMIT_CORE {limit}\n{}",
            run.describe()
        );
        let script = format!("ulimit -c {limit} && exec {exits} segv");
        v.run(&[], &["/bin/sh", "-c", script.as_str()])
            .expect_code(139);
    }
}

fn command_not_found(v: Variant) {
    let run = v.run(&[], &["sentry-test-no-such-command"]);
    expect_one_line_error(&run, 127, "sentry-test-no-such-command");
    let run = v.run(&[], &["/no/such/dir/prog"]);
    expect_one_line_error(&run, 127, "/no/such/dir/prog");
}

fn command_not_executable(v: Variant) {
    let dir = v.scratch();
    // One file per test: the variants run in parallel.
    let file = dir.join(test_support::unique_marker("not-executable"));
    std::fs::write(&file, "#!/bin/sh\necho should not run\n").expect("write the test file");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod 644");
    let path = file.to_str().expect("UTF-8 path").to_string();
    let run = v.run(&[], &[path.as_str()]);
    let _ = std::fs::remove_file(&file);
    expect_one_line_error(&run, 126, &path);
    assert_eq!(run.stdout, "", "{}", run.describe());

    // A directory is not executable either.
    let dir_path = dir.to_str().expect("UTF-8 path").to_string();
    let run = v.run(&[], &[dir_path.as_str()]);
    expect_one_line_error(&run, 126, &dir_path);
}

fn bad_rootfs(v: Variant) {
    let missing = "/sentry-test-no-such-rootfs";
    let mut cmd = v.sentry_command();
    cmd.args(["run", v.platform_flag(), missing, "/bin/true"]);
    let run = test_support::run_to_end(cmd, test_support::RUN_DEADLINE);
    expect_one_line_error(&run, 125, missing);

    let file = "/etc/passwd";
    let mut cmd = v.sentry_command();
    cmd.args(["run", v.platform_flag(), file, "/bin/true"]);
    let run = test_support::run_to_end(cmd, test_support::RUN_DEADLINE);
    expect_one_line_error(&run, 125, file);
}

fn bad_options(v: Variant) {
    let cases: &[&[&str]] = &[
        &["run", "--no-such-option", "/", "/bin/true"],
        &["run", "--platform=nonsense", "/", "/bin/true"],
        &["run", "--net=nonsense", "/", "/bin/true"],
        &["run", "--log=warn,=[", "/", "/bin/true"],
        &["run", "--env", "=value", "/", "/bin/true"],
        &["run"],
        &["run", "/"],
        &["no-such-subcommand"],
    ];
    for args in cases {
        let mut cmd = v.sentry_command();
        cmd.args(*args);
        let run = test_support::run_to_end(cmd, test_support::RUN_DEADLINE);
        assert_eq!(run.code(), 125, "{args:?}\n{}", run.describe());
        let lines = run.stderr_lines();
        assert_eq!(
            lines.len(),
            1,
            "{args:?}: want one line on stderr\n{}",
            run.describe()
        );
        assert!(
            lines[0].starts_with("sentry: "),
            "{args:?}\n{}",
            run.describe()
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.describe());
        assert_eq!(run.stdout, "", "{args:?}\n{}", run.describe());
    }
}

/// Finds the `--strace` line of the call `call_prefix` (e.g. `openat(AT_FDCWD, "/x", O_RDONLY`).
fn strace_line<'a>(run: &'a Run, call_prefix: &str) -> &'a str {
    run.stderr
        .lines()
        .find(|l| {
            l.starts_with("[pid ")
                && l.split_once("] ").is_some_and(|(pid, call)| {
                    pid["[pid ".len()..].parse::<u32>().is_ok() && call.starts_with(call_prefix)
                })
        })
        .unwrap_or_else(|| panic!("no strace line for {call_prefix}\n{}", run.describe()))
}

fn strace_decodes_calls(v: Variant) {
    // A successful open: path, flags, the fd returned and the table class.
    let run = v.run(&["--strace"], &["/bin/cat", "/etc/passwd"]);
    run.expect_code(0);
    assert!(run.stdout.starts_with("root:"), "{}", run.describe());
    let line = strace_line(&run, "openat(AT_FDCWD, \"/etc/passwd\", O_RDONLY");
    assert!(line.ends_with(") = 3 <gofer>"), "line: {line}");

    // A failing one: -1 with the errno's name and text.
    let missing = "/sentry-test-no-such-file";
    let run = v.run(&["--strace"], &["/bin/cat", missing]);
    run.expect_code(1);
    let line = strace_line(&run, &format!("openat(AT_FDCWD, \"{missing}\", O_RDONLY"));
    assert!(
        line.ends_with(") = -1 ENOENT (No such file or directory) <gofer>"),
        "line: {line}"
    );

    // The sandbox's exit status is unchanged by tracing, and every task is traced: the lines
    // of a pipeline's children carry other pids.
    let run = v.run(&["--strace"], &["/bin/sh", "-c", "echo a | tr a b"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "b\n");
    let pids: std::collections::BTreeSet<&str> = run
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("[pid ")?.split_once(']').map(|p| p.0))
        .collect();
    assert!(
        pids.len() >= 3,
        "want lines of the shell and both children, got pids {pids:?}"
    );
}

/// `--profile`: after the command's own output, a table of the sentry's handler time per
/// syscall, the busiest first; the exit status is the command's.
fn profile_reports_handler_times(v: Variant) {
    let run = v.run(&["--profile"], &["/bin/cat", "/etc/passwd"]);
    run.expect_code(0);
    assert!(run.stdout.starts_with("root:"), "{}", run.describe());
    let rows: Vec<(u64, f64, &str)> = run
        .stderr_lines()
        .into_iter()
        .filter_map(|l| l.strip_prefix("sentry: profile: "))
        .filter_map(|row| {
            let mut fields = row.split_whitespace();
            let calls = fields.next()?.parse().ok()?;
            let total = fields.next()?.parse().ok()?;
            let _mean = fields.next()?;
            Some((calls, total, row))
        })
        .collect();
    assert!(
        rows.iter().any(|r| r.2.contains(" openat (")),
        "no openat row\n{}",
        run.describe()
    );
    assert!(
        rows.windows(2).all(|w| w[0].1 >= w[1].1),
        "rows not busiest first\n{}",
        run.describe()
    );
    assert!(rows.iter().all(|r| r.0 > 0), "{}", run.describe());
}

//! Process life cycle and tracing details: zombies, exec from a thread, threads exiting while
//! others run, orphans and subreapers, and the --strace format.

use test_support::{variant_tests, Variant};

variant_tests!(
    zombie_reaped_by_parent,
    strace_format_like_strace,
    exec_from_a_thread,
    threads_exit_while_others_run,
    orphan_reaped_by_subreaper,
    a_stderr_that_cannot_be_written_loses_lines_only,
);

fn zombie_reaped_by_parent(v: Variant) {
    // kill(pid, 0) on an unreaped zombie child succeeds natively.
    v.run(&[], &[v.program("zombie")])
        .expect_program_ok("zombie done");
}

fn strace_format_like_strace(v: Variant) {
    let run = v.run(&["--strace"], &["/bin/cat", "/etc/passwd"]);
    run.expect_code(0);
    let calls: Vec<&str> = run
        .stderr
        .lines()
        .filter_map(|l| l.split_once("] ").map(|(_, call)| call))
        .collect();
    // strace prints the mode of openat only with O_CREAT or O_TMPFILE, and each call with its
    // own number of arguments.
    for want in [
        "openat(AT_FDCWD, \"/etc/ld.so.cache\", O_RDONLY|O_CLOEXEC) = 3 <gofer>",
        "openat(AT_FDCWD, \"/etc/passwd\", O_RDONLY) = 3 <gofer>",
        "close(3) = 0 <passthrough>",
    ] {
        assert!(
            calls.contains(&want),
            "no line '{want}'\n{}",
            run.describe()
        );
    }
}

fn exec_from_a_thread(v: Variant) {
    // The thread re-executes the program itself...
    v.run(&[], &[v.program("exec_thread")])
        .expect_program_ok("exec from thread ok");
    // ...or a dynamically linked host program.
    let run = v.run(&[], &[v.program("exec_thread"), "/bin/echo".to_string()]);
    run.expect_code(0);
    assert_eq!(run.stdout, "exec from thread ok\n", "{}", run.describe());
}

fn threads_exit_while_others_run(v: Variant) {
    v.run(&[], &[v.program("thread_exit")])
        .expect_program_ok("thread_exit done");
}

fn orphan_reaped_by_subreaper(v: Variant) {
    v.run(&[], &[v.program("orphan"), "subreaper".to_string()])
        .expect_program_ok("orphan done");
}

/// With --strace and --log debug on a stderr that takes nothing (a full disk), the lines are
/// lost and the sandbox runs to its end with its own status.
fn a_stderr_that_cannot_be_written_loses_lines_only(v: Variant) {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("open /dev/full");
    let status = v
        .run_command(
            &["--strace", "--log", "debug"],
            &["/bin/sh", "-c", "exit 3"],
        )
        .stdout(std::process::Stdio::null())
        .stderr(full)
        .status()
        .expect("run the sentry");
    assert_eq!(status.code(), Some(3), "{status:?}");
}

//! Process and thread life cycles under `sentry run` (issue 2, point 2): many threads making
//! syscalls, execve from a non-main thread, threads exiting while others run, zombies reaped by
//! their parent, orphans. Each test runs on both platforms, as the invoking user and as uid 65534.

mod common;

use common::Variant;

variant_tests!(
    threads_make_syscalls,
    threads_exit_while_others_run,
    orphan_runs_to_completion,
    orphan_reaped_by_subreaper,
);

fn threads_make_syscalls(v: Variant) {
    v.run(&[], &[v.program("threads")])
        .expect_program_ok("threads done");
}

fn threads_exit_while_others_run(v: Variant) {
    v.run(&[], &[v.program("thread_exit")])
        .expect_program_ok("thread_exit done");
}

fn orphan_runs_to_completion(v: Variant) {
    v.run(&[], &[v.program("orphan")])
        .expect_program_ok("orphan done");
}

fn orphan_reaped_by_subreaper(v: Variant) {
    v.run(&[], &[v.program("orphan"), "subreaper".to_string()])
        .expect_program_ok("orphan done");
}

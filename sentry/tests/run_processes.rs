//! Process and thread life cycles under `sentry run` (issue 2, point 2): many threads making
//! syscalls, execve from a non-main thread, threads exiting while others run, zombies reaped by
//! their parent, orphans. Each test runs on both platforms, as the invoking user and as uid 65534.

use test_support::{variant_tests, Variant};

variant_tests!(threads_make_syscalls, orphan_runs_to_completion,);

fn threads_make_syscalls(v: Variant) {
    v.run(&[], &[v.program("threads")])
        .expect_program_ok("threads done");
}

fn orphan_runs_to_completion(v: Variant) {
    v.run(&[], &[v.program("orphan")])
        .expect_program_ok("orphan done");
}

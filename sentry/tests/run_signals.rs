//! Signals under `sentry run` (issue 2, points 2, 5 and 9): handlers, EINTR, SIGSTOP/SIGCONT
//! and group-stop; the sentry killed with SIGKILL takes the whole sandbox with it; a fork bomb
//! ended by SIGTERM (and SIGINT, SIGHUP) to the sentry leaves nothing behind. Each test runs on
//! both platforms, as the invoking user and as uid 65534.
//!
//! Synchronisation is by the sandbox's own output ("ready", "started") and by pidfds, never
//! by sleeping.

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;
use test_support::{
    assert_none_survive, janitor_done, marked_processes, pidfd_open, pidfd_wait_exit,
    variant_tests, Live, Variant,
};

variant_tests!(
    signal_handlers,
    exec_under_a_stream_of_signals,
    stop_and_continue,
    sigkill_to_sentry_kills_sandbox,
    fork_bomb_ended_by_sigterm,
    sigint_and_sighup_end_sandbox,
    first_process_exit_ends_sandbox,
);

/// How long processes may take to disappear once the sentry is gone: generous, it is only a
/// bound on an event (the pidfd becoming readable), not a delay.
const DIE_DEADLINE: Duration = Duration::from_secs(30);

/// An execve whose task keeps receiving a signal it handles: the exec neither fails with
/// EINTR nor is run again and again (its steps run with the task's signals held).
fn exec_under_a_stream_of_signals(v: Variant) {
    v.run(&[], &[v.program("exec_signals")])
        .expect_program_ok("exec_signals done");
}

fn signal_handlers(v: Variant) {
    v.run(&[], &[v.program("signals")])
        .expect_program_ok("signals done");
}

fn stop_and_continue(v: Variant) {
    v.run(&[], &[v.program("stopcont")])
        .expect_program_ok("stopcont done");
}

fn sigkill_to_sentry_kills_sandbox(v: Variant) {
    let marker = test_support::unique_marker("tree");
    let mut live = Live::spawn(v.run_command(&[], &[v.program("tree"), marker.clone()]));
    live.wait_line("ready");
    assert!(
        live.seen.contains("procs 5 threads 15"),
        "seen: {}",
        live.seen
    );

    // Every process of the sandbox, found by the marker in its argv (the sentry's own argv
    // carries it too: leave the sentry out), with a pidfd opened before the kill.
    let procs = marked_processes(&marker, &[live.pid()]);
    assert_eq!(procs.len(), 5, "want 5 sandbox processes, found {procs:?}");
    let threads: usize = procs.iter().map(|&p| test_support::thread_count(p)).sum();
    assert_eq!(threads, 15, "want 15 threads in {procs:?}");
    let pidfds: Vec<_> = procs
        .iter()
        .map(|&p| (p, pidfd_open(p).expect("the sandbox is running")))
        .collect();

    let sentry = live.pid();
    live.signal(libc::SIGKILL);
    let run = live.finish();
    // The sentry's scratch directories go too (the one in /dev/shm holds its /sys): its
    // janitor removes them once the sentry and everything it started are gone.
    assert!(
        janitor_done(sentry, DIE_DEADLINE),
        "the scratch directory of the SIGKILLed sentry stayed"
    );
    assert_eq!(
        run.status.signal(),
        Some(libc::SIGKILL),
        "{}",
        run.describe()
    );

    for (pid, fd) in &pidfds {
        assert!(
            pidfd_wait_exit(fd, DIE_DEADLINE),
            "sandbox process {pid} survived the sentry's SIGKILL"
        );
    }
    assert_none_survive(&marker, DIE_DEADLINE);
}

fn fork_bomb_ended_by_sigterm(v: Variant) {
    let marker = test_support::unique_marker("bomb");
    // The cap only protects the host should the sentry fail; see forkbomb.c.
    let mut live = Live::spawn(v.run_command(
        &[],
        &[v.program("forkbomb"), marker.clone(), "20000".to_string()],
    ));
    // SIGTERM right away: the bomb forks as fast as the sentry lets it meanwhile (thousands of
    // processes within a second). Waiting for a later line of the bomb would measure how soon
    // the sentry serves one old task among thousands of new ones, not how it ends them.
    live.wait_line("started");
    live.signal(libc::SIGTERM);
    let run = live.finish();
    assert_eq!(run.code(), 143, "{}", run.describe());
    assert_none_survive(&marker, DIE_DEADLINE);
}

fn sigint_and_sighup_end_sandbox(v: Variant) {
    for (sig, code) in [
        (libc::SIGINT, 130),
        (libc::SIGHUP, 129),
        (libc::SIGTERM, 143),
    ] {
        let marker = test_support::unique_marker("tree");
        let mut live = Live::spawn(v.run_command(&[], &[v.program("tree"), marker.clone()]));
        live.wait_line("ready");
        let procs = marked_processes(&marker, &[live.pid()]);
        assert_eq!(procs.len(), 5, "want 5 sandbox processes, found {procs:?}");
        live.signal(sig);
        let run = live.finish();
        assert_eq!(run.code(), code, "signal {sig}\n{}", run.describe());
        assert_none_survive(&marker, DIE_DEADLINE);
    }
}

fn first_process_exit_ends_sandbox(v: Variant) {
    // Init semantics: when the first process exits, the rest of the sandbox is killed. The
    // background tree keeps the sandbox's stdout open, so `run` returning at all shows it died.
    let marker = test_support::unique_marker("tree");
    let script = format!("{} {} & echo started", v.program("tree"), marker);
    let run = v.run(&[], &["/bin/sh".to_string(), "-c".to_string(), script]);
    run.expect_code(0);
    assert!(run.stdout.starts_with("started\n"), "{}", run.describe());
    assert_none_survive(&marker, DIE_DEADLINE);
}

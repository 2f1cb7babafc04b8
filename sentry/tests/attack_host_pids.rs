//! No host pid reaches or leaves the sandbox. A canary process runs on the host as the same
//! uid as the sandbox's tasks (65534); `attack_pids` gets its host pid and tries to make it
//! the owner of an fd that signals SIGTERM on I/O (F_SETOWN, F_SETOWN_EX, FIOSETOWN,
//! SIOCSPGRP, and a thread flipping the id between the sentry's read and the kernel's), and
//! to take pidfds of peers. The verdict is the canary's, read on the host: alive, not
//! stopped. Before the fix the canary died in every variant.

use std::process::{Command, Stdio};
use test_support::{variant_tests, Variant};

fn canary_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

fn a_host_process_is_out_of_reach(v: Variant) {
    if !test_support::is_root() {
        println!("skipped: the canary must run as uid 65534, which needs root");
        return;
    }
    let mut canary = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "sleep",
            "1000",
        ])
        .stdin(Stdio::null())
        .spawn()
        .expect("start the canary");
    let pid = canary.id();
    let run = v.run(&[], &[v.program("attack_pids"), pid.to_string()]);
    let state = canary_state(pid);
    let _ = canary.kill();
    let _ = canary.wait();
    assert!(
        matches!(state, Some('S') | Some('R')),
        "the host canary was reached: state {state:?}\n{}",
        run.describe()
    );
    run.expect_program_ok("pids done");
}

variant_tests!(a_host_process_is_out_of_reach);

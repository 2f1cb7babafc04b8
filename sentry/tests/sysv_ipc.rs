//! SysV IPC in a namespace of the sandbox's own: keyed objects work as Linux's (`sysv_ipc.c`
//! checks the calls), the sandbox reaches none of the host's objects, holds a bounded number,
//! and nothing it made outlives it: the ids it left behind are gone from the host's
//! /proc/sysvipc tables once the sentry has exited.

use std::time::Duration;
use test_support::{janitor_done, variant_tests, Live, Variant};

/// Whether /proc/sysvipc/`table` lists an object with this id (the second column).
fn host_has(table: &str, id: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sysvipc/{table}"))
        .expect("read /proc/sysvipc")
        .lines()
        .skip(1)
        .any(|line| line.split_whitespace().nth(1) == Some(id))
}

/// Asserts that none of the objects on the program's "left" line is on the host any more.
fn none_left(stdout: &str, describe: &dyn Fn() -> String) {
    let left = stdout
        .lines()
        .find_map(|l| l.strip_prefix("left "))
        .unwrap_or_else(|| panic!("no 'left' line\n{}", describe()));
    let words: Vec<&str> = left.split_whitespace().collect();
    assert_eq!(words.len(), 6, "{}", describe());
    for pair in words.chunks(2) {
        assert!(
            !host_has(pair[0], pair[1]),
            "{} {} outlived the sandbox\n{}",
            pair[0],
            pair[1],
            describe()
        );
    }
}

fn keyed_objects_work_and_none_outlives_the_sandbox(v: Variant) {
    let run = v.run(&[], &[v.program("sysv_ipc")]);
    run.expect_program_ok("sysv_ipc done");
    none_left(&run.stdout, &|| run.describe());
}

/// The host's /proc/sysvipc/shm row of segment `id`: its perms, uid and cuid columns.
fn host_shm_perms(id: &str) -> Option<(String, String, String)> {
    let table = std::fs::read_to_string("/proc/sysvipc/shm").expect("read /proc/sysvipc/shm");
    table.lines().skip(1).find_map(|line| {
        let columns: Vec<&str> = line.split_whitespace().collect();
        (columns.get(1) == Some(&id) && columns.len() > 9).then(|| {
            let column = |i: usize| columns[i].to_string();
            (column(2), column(7), column(9))
        })
    })
}

/// Nor when the sentry is SIGKILLed while the sandbox holds them: its janitor removes them,
/// from the journal the sentry kept it, before the scratch directories. While they are held,
/// the segment the sandbox gave to uid 4242 with mode 0666 is, on the host, still its
/// creator's with mode 0600: no other user of the host can reach it.
fn none_outlives_a_sigkilled_sentry(v: Variant) {
    let mut live =
        Live::spawn(v.run_command(&[], &[v.program("sysv_ipc"), "24344".into(), "hold".into()]));
    live.wait_line("holding");
    let sentry = live.pid();
    let shm = live
        .seen
        .lines()
        .find_map(|l| l.strip_prefix("left shm "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the program printed its segment's id")
        .to_string();
    let (perms, uid, cuid) = host_shm_perms(&shm).expect("the segment is on the host");
    assert_eq!(perms, "600", "the segment's mode on the host");
    assert_eq!(uid, cuid, "the segment's owner on the host is its creator");
    live.signal(libc::SIGKILL);
    let run = live.finish();
    assert!(
        janitor_done(sentry, Duration::from_secs(30)),
        "the janitor of the SIGKILLed sentry did not finish"
    );
    none_left(&run.stdout, &|| run.describe());
}

variant_tests!(
    keyed_objects_work_and_none_outlives_the_sandbox,
    none_outlives_a_sigkilled_sentry
);

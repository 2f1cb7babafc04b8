//! SysV IPC in a namespace of the sandbox's own: keyed objects work as Linux's (`sysv_ipc.c`
//! checks the calls), the sandbox reaches none of the host's objects, holds a bounded number,
//! and nothing it made outlives it: the ids it left behind are gone from the host's
//! /proc/sysvipc tables once the sentry has exited.

use test_support::{variant_tests, Variant};

/// Whether /proc/sysvipc/`table` lists an object with this id (the second column).
fn host_has(table: &str, id: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sysvipc/{table}"))
        .expect("read /proc/sysvipc")
        .lines()
        .skip(1)
        .any(|line| line.split_whitespace().nth(1) == Some(id))
}

fn keyed_objects_work_and_none_outlives_the_sandbox(v: Variant) {
    let run = v.run(&[], &[v.program("sysv_ipc")]);
    run.expect_program_ok("sysv_ipc done");
    let left = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("left "))
        .unwrap_or_else(|| panic!("no 'left' line\n{}", run.describe()));
    let words: Vec<&str> = left.split_whitespace().collect();
    assert_eq!(words.len(), 6, "{}", run.describe());
    for pair in words.chunks(2) {
        assert!(
            !host_has(pair[0], pair[1]),
            "{} {} outlived the sandbox\n{}",
            pair[0],
            pair[1],
            run.describe()
        );
    }
}

variant_tests!(keyed_objects_work_and_none_outlives_the_sandbox);

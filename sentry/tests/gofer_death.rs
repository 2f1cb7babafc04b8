//! Issue 3, point 7: a gofer that dies mid-run. The calls waiting on it fail with EIO, the
//! sentry says so on stderr, ends the sandbox and leaves nothing running.

use test_support::busybox_rootfs;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

/// The host pids of the children of `pid` (all its threads).
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let list = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        out.extend(
            list.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    out
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

fn run(platform: &str) {
    let rootfs = busybox_rootfs();
    let sentry = Command::new(env!("CARGO_BIN_EXE_sentry"))
        .args(["run", "--platform", platform])
        .arg(&rootfs)
        .args([
            "/bin/sh",
            "-c",
            "echo ready; while :; do cat /etc/hostname >/dev/null; done",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the sentry");
    let mut sentry = test_support::KillOnDrop::new(sentry);
    let mut stdout = BufReader::new(sentry.child().stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout
        .read_line(&mut line)
        .expect("read the sandbox's first line");
    assert_eq!(line, "ready\n");

    let kids = children(sentry.child().id());
    let gofer = kids
        .iter()
        .copied()
        .find(|&p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default()
                == "sentry-gofer\n"
        })
        .expect("the sentry has a gofer child");
    let sandbox: Vec<u32> = kids.iter().copied().filter(|&p| p != gofer).collect();
    assert!(
        !sandbox.is_empty(),
        "the sandbox's first process is the sentry's child"
    );
    // SAFETY: kill takes plain integers; `gofer` is a live child of our child.
    assert_eq!(unsafe { libc::kill(gofer as i32, libc::SIGKILL) }, 0);

    let mut stderr = String::new();
    sentry
        .child()
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .unwrap();
    let status = sentry.wait();
    assert_eq!(status.code(), Some(125), "stderr: {stderr}");
    assert!(stderr.contains("the gofer died"), "stderr: {stderr}");
    for pid in sandbox {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists() || cmdline(pid).is_empty(),
            "sandbox process {pid} outlived the sentry"
        );
    }
}

#[test]
fn gofer_death_ends_the_sandbox_ptrace() {
    run("ptrace");
}

#[test]
fn gofer_death_ends_the_sandbox_seccomp() {
    run("seccomp");
}

//! Socket buffers count against `--memory-limit`. `attack_sockbuf` fills AF_UNIX socketpairs
//! until the sandbox refuses a socket (stream pairs kept open, stream pairs whose senders
//! are closed once full, datagram pairs), then waits. The verdict is read on the host: the
//! bytes queued in every socket the sandbox's processes hold (SIOCINQ on duplicates taken
//! with pidfd_getfd), which must stay under the limit. Before socket buffers were charged,
//! the same program held 460 MB under a 64 MiB limit (it stops at 2000 pairs).

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Stdio;
use test_support::{variant_tests, Variant};

const LIMIT: u64 = 64 << 20;

/// Host pids of `root` and all its descendants.
fn descendants(root: i32) -> Vec<i32> {
    let mut found = vec![root];
    let mut at = 0;
    while at < found.len() {
        let parent = found[at];
        for task in std::fs::read_dir(format!("/proc/{parent}/task"))
            .into_iter()
            .flatten()
        {
            let children =
                std::fs::read_to_string(task.expect("task entry").path().join("children"))
                    .unwrap_or_default();
            found.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<i32>().ok()),
            );
        }
        at += 1;
    }
    found
}

/// Bytes queued for reading in every socket the processes hold, each socket counted once.
fn queued_bytes(pids: &[i32]) -> u64 {
    let mut seen = HashSet::new();
    let mut total = 0u64;
    for &pid in pids {
        let Some(pidfd) = test_support::pidfd_open(pid) else {
            continue;
        };
        for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten()
        {
            let entry = entry.expect("fd entry");
            let is_socket = std::fs::read_link(entry.path())
                .map(|l| l.to_string_lossy().starts_with("socket:"))
                .unwrap_or(false);
            let Some(fd) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            if !is_socket {
                continue;
            }
            // SAFETY: pidfd_getfd takes plain integers and returns a new fd or -1.
            let dup = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
            if dup < 0 {
                continue;
            }
            // SAFETY: the fd was just created and is ours alone.
            let dup = unsafe { OwnedFd::from_raw_fd(dup as i32) };
            let ino = std::fs::metadata(format!("/proc/self/fd/{}", dup.as_raw_fd()))
                .map(|m| m.ino())
                .unwrap_or(0);
            if !seen.insert(ino) {
                continue;
            }
            // A stream's unread bytes wait in its receive queue (SIOCINQ); a datagram
            // socket's receive queue shows only its first datagram, so what a datagram
            // sender holds is counted instead (SIOCOUTQ, its send buffer in use).
            let mut kind: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: getsockopt writes one int into memory we own.
            unsafe {
                libc::getsockopt(
                    dup.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_TYPE,
                    (&mut kind as *mut libc::c_int).cast(),
                    &mut len,
                )
            };
            let request = if kind == libc::SOCK_DGRAM {
                libc::TIOCOUTQ
            } else {
                libc::FIONREAD
            };
            let mut queued: libc::c_int = 0;
            // SAFETY: SIOCINQ and SIOCOUTQ write one int into memory we own.
            if unsafe { libc::ioctl(dup.as_raw_fd(), request, &mut queued) } == 0 {
                total += queued.max(0) as u64;
            }
        }
    }
    total
}

fn socket_buffers_are_charged(v: Variant, mode: &str) {
    let events = v.scratch_path(&format!("sockbuf-events-{mode}"));
    let _ = std::fs::remove_file(&events);
    // The unprivileged sentry writes it too.
    std::fs::write(&events, "").expect("create the events file");
    std::fs::set_permissions(&events, std::fs::Permissions::from_mode(0o666))
        .expect("chmod the events file");
    let events_arg = format!("--events={}", events.display());
    let mut child = v
        .run_command(
            &["--memory-limit=64M", &events_arg],
            &[v.program("attack_sockbuf"), mode.to_string()],
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the sentry");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout"));
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if lines
            .read_line(&mut line)
            .expect("read the program's output")
            == 0
        {
            break;
        }
        seen.push_str(&line);
        if line.trim() == "ready" {
            break;
        }
    }
    let queued = test_support::is_root().then(|| queued_bytes(&descendants(child.id() as i32)));
    drop(child.stdin.take());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut lines, &mut rest).expect("read the rest");
    seen.push_str(&rest);
    let out = child.wait_with_output().expect("wait for the sentry");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let final_event = std::fs::read_to_string(&events).unwrap_or_default();
    let _ = std::fs::remove_file(&events);
    assert!(
        seen.contains("ready"),
        "the program did not get ready:\n{seen}\n{stderr}"
    );
    if let Some(queued) = queued {
        println!("{mode}: {queued} bytes queued in the sandbox's sockets, seen from the host");
        assert!(
            queued > 0 && queued < LIMIT,
            "{queued} bytes queued under a {LIMIT}-byte limit\n{seen}"
        );
    }
    assert!(
        out.status.success() && seen.contains("sockbuf done") && !seen.contains("FAIL"),
        "{}\n{seen}\n{stderr}",
        out.status
    );
    assert!(
        final_event
            .lines()
            .any(|l| l.contains("\"memory_final\"") && l.contains("\"charged\":0,")),
        "charges left at the end: {final_event}"
    );
}

fn stream_pairs(v: Variant) {
    socket_buffers_are_charged(v, "pairs");
}

fn closed_senders(v: Variant) {
    socket_buffers_are_charged(v, "orphans");
}

fn datagram_pairs(v: Variant) {
    socket_buffers_are_charged(v, "dgram");
}

variant_tests!(stream_pairs, closed_senders, datagram_pairs);

//! The host processes of a running sandbox, seen from its sandbox process: its tasks are the
//! sandbox process's descendants, less the gofer (and a janitor, which is not a descendant).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The host pids of the sandbox's tasks: the descendants of the sandbox process, less the
/// gofer and its own (found through each thread's `children`, without scanning /proc).
pub fn descendants(root: i32, gofer: i32) -> Vec<i32> {
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let pid = found[i];
        let threads = std::fs::read_dir(format!("/proc/{pid}/task"));
        for thread in threads.into_iter().flatten().flatten() {
            let children = std::fs::read_to_string(thread.path().join("children"));
            for child in children.unwrap_or_default().split_whitespace() {
                if let Ok(child) = child.parse::<i32>() {
                    if child != gofer && !found.contains(&child) {
                        found.push(child);
                    }
                }
            }
        }
        i += 1;
    }
    found.remove(0);
    found
}

fn parent(pid: i32) -> Option<i32> {
    let stat = crate::host::read_proc_text(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(1)?.parse().ok()
}

/// Signals `pid` if, once pinned by a pidfd, it is still a descendant of the sentry.
pub fn signal_task(pid: i32, sentry: i32, sig: i32) {
    // SAFETY: pidfd_open takes plain integers and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as RawFd;
    if fd < 0 {
        return;
    }
    // SAFETY: the fd was just returned to us.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut p = pid;
    for _ in 0..4096 {
        match parent(p) {
            Some(pp) if pp == sentry => {
                send(&fd, sig);
                return;
            }
            Some(pp) if pp > 1 => p = pp,
            _ => return,
        }
    }
}

/// Sends `signal` through a pidfd, which cannot reach another process by pid reuse.
pub fn send(pidfd: &OwnedFd, signal: i32) -> bool {
    // SAFETY: pidfd_send_signal on a pidfd we own; it cannot reach another process.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            0usize,
            0u32,
        ) == 0
    }
}

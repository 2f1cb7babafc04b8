//! Host processes: pidfds, waits with a deadline, signals, and processes found by a token in
//! their argv or environment.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// A pidfd for `pid`, or the error of pidfd_open(2).
pub(crate) fn pidfd(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes plain integers and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// A pidfd for a process (ours or not). None when it is already gone (ESRCH).
pub fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    match pidfd(pid) {
        Ok(fd) => Some(fd),
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => None,
        Err(e) => panic!("pidfd_open({pid}): {e}"),
    }
}

/// Waits until the process behind `pidfd` has exited (readable pidfd). False at the deadline.
pub fn pidfd_wait_exit(pidfd: &OwnedFd, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n > 0 {
            return true;
        }
        if n == 0 {
            return false;
        }
        let err = io::Error::last_os_error();
        assert_eq!(err.raw_os_error(), Some(libc::EINTR), "poll(pidfd): {err}");
    }
}

/// Sends `sig` through a pidfd (no pid-reuse race).
pub(crate) fn pidfd_signal(pidfd: &OwnedFd, sig: i32) {
    // SAFETY: pidfd_send_signal takes an fd we own, a signal number and a null siginfo.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r != 0 {
        let err = io::Error::last_os_error();
        // The process may have exited already; anything else is a test bug.
        assert_eq!(
            err.raw_os_error(),
            Some(libc::ESRCH),
            "pidfd_send_signal: {err}"
        );
    }
}

/// SIGKILL to the process group `pgid` (a child started with `process_group(0)`).
pub(crate) fn kill_group(pgid: i32) {
    // SAFETY: kill(2) with a negative pid signals our own child's process group; no memory is
    // involved.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// Live processes (thread group ids, ascending) one of whose NUL-separated entries of
/// /proc/<pid>/`file` is exactly `want`, except `exclude`. Zombies have no argv and no
/// environment any more and are not listed.
fn processes_with(file: &str, want: &[u8], exclude: &[i32]) -> Vec<i32> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if exclude.contains(&pid) {
            continue;
        }
        let Ok(text) = std::fs::read(entry.path().join(file)) else {
            continue; // gone meanwhile
        };
        if text.split(|&b| b == 0).any(|item| item == want) {
            found.push(pid);
        }
    }
    found.sort_unstable();
    found
}

/// The processes whose argv contains `marker` as a whole argument, except `exclude`.
pub fn marked_processes(marker: &str, exclude: &[i32]) -> Vec<i32> {
    processes_with("cmdline", marker.as_bytes(), exclude)
}

/// The processes other than this one whose environment holds the entry `entry` (`KEY=VALUE`).
pub(crate) fn processes_with_env(entry: &str) -> Vec<i32> {
    processes_with("environ", entry.as_bytes(), &[std::process::id() as i32])
}

/// Number of threads of process `pid` (0 when it is gone).
pub fn thread_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// A marker unique to this test run, for `marked_processes`.
pub fn unique_marker(what: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("sentry-test-{what}-{}-{n}-{nanos}", std::process::id())
}

/// Asserts that no process carrying `marker` is alive: each one found must exit within the
/// deadline (a process in the middle of dying is fine). Rescans a bounded number of times in
/// case one of them had forked meanwhile.
pub fn assert_none_survive(marker: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    for _round in 0..20 {
        let pids = marked_processes(marker, &[]);
        if pids.is_empty() {
            return;
        }
        let mut survivors = Vec::new();
        for pid in pids {
            if let Some(fd) = pidfd_open(pid) {
                let left = deadline.saturating_duration_since(Instant::now());
                if !pidfd_wait_exit(&fd, left) {
                    survivors.push(pid);
                }
            }
        }
        assert!(
            survivors.is_empty(),
            "processes of the sandbox survived: {survivors:?} ({})",
            describe_pids(&survivors)
        );
    }
    let left = marked_processes(marker, &[]);
    assert!(
        left.is_empty(),
        "processes of the sandbox keep appearing: {left:?}"
    );
}

fn describe_pids(pids: &[i32]) -> String {
    pids.iter()
        .take(5)
        .map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            format!("[{}]", stat.trim())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A child that is SIGKILLed and reaped when dropped unless [`KillOnDrop::wait`] took it:
/// a test that fails half-way leaves no sentry (and so no sandbox) running.
pub struct KillOnDrop(Option<std::process::Child>);

impl KillOnDrop {
    pub fn new(child: std::process::Child) -> KillOnDrop {
        KillOnDrop(Some(child))
    }

    pub fn child(&mut self) -> &mut std::process::Child {
        self.0.as_mut().expect("not waited for yet")
    }

    /// Waits for the child's exit.
    pub fn wait(mut self) -> std::process::ExitStatus {
        let mut child = self.0.take().expect("not waited for yet");
        child.wait().expect("wait for the child")
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Threads of this process that only wait, for tests that act on a task's affinity: their
/// host ids, and on drop they are let go and joined.
pub struct ParkedThreads {
    pub tids: Vec<i32>,
    release: Option<std::sync::mpsc::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl ParkedThreads {
    pub fn new(n: usize) -> ParkedThreads {
        let (tx, rx) = std::sync::mpsc::channel();
        let (release, parked) = std::sync::mpsc::channel::<()>();
        let parked = std::sync::Arc::new(std::sync::Mutex::new(parked));
        let threads: Vec<_> = (0..n)
            .map(|_| {
                let (tx, parked) = (tx.clone(), parked.clone());
                std::thread::spawn(move || {
                    // SAFETY: gettid takes no arguments.
                    tx.send(unsafe { libc::gettid() }).unwrap();
                    // Returns once the sender is dropped (or sends).
                    let _ = parked.lock().unwrap().recv();
                })
            })
            .collect();
        let tids = (0..n).map(|_| rx.recv().unwrap()).collect();
        ParkedThreads {
            tids,
            release: Some(release),
            threads,
        }
    }
}

impl Drop for ParkedThreads {
    fn drop(&mut self) {
        drop(self.release.take());
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Waits until the janitor of sentry `sentry` has removed its scratch directories
/// (`sentry-<pid>-*` in the temporary directory and in /dev/shm), which it does last, once
/// the sentry and everything it started are gone. False at the deadline.
pub fn janitor_done(sentry: i32, timeout: Duration) -> bool {
    let prefix = format!("sentry-{sentry}-");
    let left = || {
        [std::env::temp_dir(), "/dev/shm".into()]
            .iter()
            .any(|parent| {
                std::fs::read_dir(parent)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            })
    };
    let end = Instant::now() + timeout;
    while left() {
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

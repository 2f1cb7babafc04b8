//! What the tracer and the limits watcher thread share: a pidfd per process of the sandbox,
//! the committed-memory totals, the request for an RSS sample, the events sink.

use crate::config::Limits;
use crate::events::Events;
use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// State shared by the tracer (which knows the processes) and the watcher thread.
pub struct Watch {
    /// A pidfd per live process of the sandbox (thread-group id), opened by the tracer while
    /// the process was stopped.
    pub(super) procs: Mutex<HashMap<i32, (OwnedFd, i32)>>,
    /// The first process: killing it ends the sandbox (the tracer kills the rest).
    pub(super) init: Mutex<Option<i32>>,
    /// Committed memory of the sandbox and its peak, kept by the tracer, for the final event.
    pub charged: AtomicU64,
    pub peak: AtomicU64,
    /// A request for an RSS sample now (an allocation stop happened).
    pub(super) poke: (Mutex<bool>, Condvar),
    /// The sandbox made a memfd: the RSS sample also counts memfds held only by fds.
    pub memfds_seen: AtomicBool,
    pub(super) limits: Limits,
    /// Where limit events go.
    pub events: Arc<Events>,
    /// Set when `--timeout` ended the sandbox: the sentry exits with 124.
    pub(super) timed_out: AtomicBool,
}

/// The sampling period of the watcher thread (RSS and CPU time).
pub const SAMPLE_PERIOD: Duration = Duration::from_millis(10);

impl Watch {
    pub fn new(limits: Limits, events: Arc<Events>) -> Arc<Watch> {
        Arc::new(Watch {
            procs: Mutex::new(HashMap::new()),
            init: Mutex::new(None),
            charged: AtomicU64::new(0),
            peak: AtomicU64::new(0),
            poke: (Mutex::new(false), Condvar::new()),
            memfds_seen: AtomicBool::new(false),
            limits,
            events,
            timed_out: AtomicBool::new(false),
        })
    }

    /// Registers a live process (called by the tracer while it is stopped, so the pid is
    /// still its own).
    /// `shown` is the number the sandbox knows it by, for events.
    pub fn add_process(&self, tgid: i32, shown: i32) {
        // SAFETY: pidfd_open takes plain integers and returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, tgid, 0) } as i32;
        if fd < 0 {
            return;
        }
        // SAFETY: the fd was just created and is ours alone.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        if let Ok(mut procs) = self.procs.lock() {
            procs.insert(tgid, (fd, shown));
        }
    }

    pub fn set_init(&self, tgid: i32) {
        self.add_process(tgid, 1);
        if let Ok(mut init) = self.init.lock() {
            *init = Some(tgid);
        }
    }

    pub fn remove_process(&self, tgid: i32) {
        if let Ok(mut procs) = self.procs.lock() {
            procs.remove(&tgid);
        }
    }

    /// Whether `--timeout` ended the sandbox.
    pub fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::SeqCst)
    }

    /// Asks the watcher for an RSS sample now.
    pub fn poke(&self) {
        if let Ok(mut flag) = self.poke.0.lock() {
            *flag = true;
            self.poke.1.notify_one();
        }
    }

    pub(super) fn signal(&self, tgid: i32, sig: i32) {
        if let Ok(procs) = self.procs.lock() {
            if let Some((fd, _)) = procs.get(&tgid) {
                send(fd, sig);
            }
        }
    }

    pub(super) fn signal_all(&self, sig: i32) {
        if let Ok(procs) = self.procs.lock() {
            for (fd, _) in procs.values() {
                send(fd, sig);
            }
        }
    }

    /// SIGKILL to every process; the tracer kills whatever appears later once the first
    /// process is gone.
    pub(super) fn kill_sandbox(&self) {
        self.signal_all(libc::SIGKILL);
    }
}

fn send(fd: &OwnedFd, sig: i32) {
    // SAFETY: pidfd_send_signal on a pidfd we own; a pidfd cannot be redirected to another
    // process by pid reuse.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            0usize,
            0u32,
        )
    };
}

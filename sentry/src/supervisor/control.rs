//! Requests to a running sandbox from outside the supervisor's thread (the OCI runtime's
//! control socket): start another process in it, freeze and thaw every task.
//!
//! The supervisor must make these changes itself: it is the tracer of every task (ptrace
//! requests come only from the tracing thread) and the owner of the kernel tables. A
//! request is queued here and an eventfd wakes the supervisor's loop.

use super::Supervisor;
use crate::kernel::Kernel;
use platform_ptrace::notify::Listener;
use platform_ptrace::{Spawned, Tid};
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::mpsc::Sender;
use std::sync::Mutex;

/// Starts a process in the sandbox on the supervisor's thread (its tracer), with access to
/// the kernel tables: finds the program, spawns it under the sandbox's filters, and enters
/// it in the tables (task, identity, files).
pub type Start = Box<dyn FnOnce(&mut Kernel) -> Result<Spawned, String> + Send>;

/// What happens to a process started by a [`Request::Start`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessEvent {
    /// It exists, with this host pid (before its program runs).
    Started(Tid),
    /// It could not be started.
    Failed(String),
    /// It ended: its exit status, or 128+N for a death by signal N.
    Exited(i32),
}

pub enum Request {
    /// Start a process; its events go to the sender.
    Start(Start, Sender<ProcessEvent>),
    /// Stop every task where it is until `Thaw`; the sender learns when every task is
    /// stopped.
    Freeze(Sender<()>),
    Thaw(Sender<()>),
    /// The CPU throttle's freeze (true) and thaw, apart from `Freeze`'s: the sandbox runs
    /// only when neither holds it.
    Throttle(bool),
}

/// The queue of requests and the eventfd that wakes the supervisor for them.
pub struct Control {
    queue: Mutex<VecDeque<Request>>,
    wake: OwnedFd,
}

impl Control {
    pub fn new() -> std::io::Result<Control> {
        // SAFETY: eventfd takes plain integers and returns a new fd or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Control {
            queue: Mutex::new(VecDeque::new()),
            // SAFETY: the fd was just created and is ours alone.
            wake: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Queues a request and wakes the supervisor.
    pub fn send(&self, request: Request) {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(request);
        let one = 1u64.to_ne_bytes();
        // SAFETY: write reads 8 bytes we own; an eventfd only counts.
        unsafe { libc::write(self.wake.as_raw_fd(), one.as_ptr().cast(), one.len()) };
    }

    pub(super) fn fd(&self) -> RawFd {
        self.wake.as_raw_fd()
    }

    fn take(&self) -> Vec<Request> {
        let mut count = [0u8; 8];
        // SAFETY: read writes at most 8 bytes into our buffer; the fd is non-blocking.
        unsafe {
            libc::read(
                self.wake.as_raw_fd(),
                count.as_mut_ptr().cast(),
                count.len(),
            )
        };
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect()
    }
}

/// A process started by a request, until its first exec.
pub(super) struct Fresh {
    pub(super) spawned: Spawned,
    pub(super) events: Sender<ProcessEvent>,
}

impl Supervisor {
    /// Serves every queued request.
    pub(super) fn serve_control(&mut self) {
        let Some(control) = self.control.clone() else {
            return;
        };
        for request in control.take() {
            match request {
                Request::Start(start, events) => self.start_process(start, events),
                Request::Freeze(done) => {
                    self.paused = true;
                    let running = self.interrupt_all();
                    self.freezing = Some((running, done));
                    self.freeze_progress(None);
                }
                Request::Thaw(done) => {
                    self.paused = false;
                    self.freezing = None;
                    let _ = done.send(());
                }
                Request::Throttle(on) => {
                    if on && !self.frozen() {
                        self.interrupt_all();
                    }
                    self.throttled = on;
                }
            }
        }
    }

    /// Interrupts every task that is not stopped already; the ones interrupted whose stop is
    /// to come. A task waiting for its vfork child reports none until the child execs or
    /// exits (never, while the child is frozen), and cannot run before it stops: it is
    /// interrupted but not waited for.
    fn interrupt_all(&self) -> hashbrown::HashSet<Tid> {
        let parked: hashbrown::HashSet<Tid> = self.parked.iter().map(|(s, _)| s.tid()).collect();
        let mut running = hashbrown::HashSet::new();
        for &tid in self.kernel.tasks.keys() {
            // A task that is gone already has its exit event coming.
            let stopped = parked.contains(&tid) || self.held_for_alone_call(tid);
            let interrupted = !stopped && platform_ptrace::interrupt(tid).is_ok();
            if interrupted && !self.vfork_waiting.contains(&tid) {
                running.insert(tid);
            }
        }
        running
    }

    /// Every task is to stay stopped (paused, or throttled).
    pub(super) fn frozen(&self) -> bool {
        self.paused || self.throttled
    }

    fn start_process(&mut self, start: Start, events: Sender<ProcessEvent>) {
        if self.terminating {
            let _ = events.send(ProcessEvent::Failed("the container is stopping".into()));
            return;
        }
        let mut spawned = match start(&mut self.kernel) {
            Ok(spawned) => spawned,
            Err(why) => {
                let _ = events.send(ProcessEvent::Failed(why));
                return;
            }
        };
        let tid = spawned.tid;
        let Some(listener) = spawned.listener.take() else {
            // SAFETY: kill takes plain integers; `tid` is our tracee.
            unsafe { libc::kill(tid, libc::SIGKILL) };
            let _ = events.send(ProcessEvent::Failed("no seccomp listener came".into()));
            return;
        };
        let listener = Listener::new(listener, self.cookie);
        if self.notifying {
            if let Err(e) = listener.set_sync_wakeup() {
                tracing::warn!("sentry: SECCOMP_IOCTL_NOTIF_SET_FLAGS: {e}");
            }
        }
        self.listener_of.insert(tid, self.listeners.len());
        self.listeners.push(listener);
        let _ = events.send(ProcessEvent::Started(tid));
        self.fresh.insert(tid, Fresh { spawned, events });
    }

    /// `tid` stopped (or ended) while the sandbox freezes: once every task has, the one who
    /// asked learns it.
    pub(super) fn freeze_progress(&mut self, stopped: Option<Tid>) {
        let Some((running, _)) = &mut self.freezing else {
            return;
        };
        if let Some(tid) = stopped {
            running.remove(&tid);
        }
        if running.is_empty() {
            if let Some((_, done)) = self.freezing.take() {
                let _ = done.send(());
            }
        }
    }

    /// The task is a process the sentry started that has not reached its program yet.
    pub(super) fn before_first_exec(&self, tid: Tid) -> bool {
        (tid == self.kernel.init_tid && !self.init_execed) || self.fresh.contains_key(&tid)
    }

    /// A started process ended (or failed its exec): the one who asked learns its status.
    pub(super) fn started_process_exited(&mut self, tid: Tid, status: i32) {
        if let Some(fresh) = self.fresh.remove(&tid) {
            let why = match fresh.spawned.exec_error() {
                Some(errno) => format!("exec failed: {}", errno.desc()),
                None => format!("it ended before its program ran (status {status})"),
            };
            let _ = fresh.events.send(ProcessEvent::Failed(why));
            return;
        }
        if let Some(events) = self.process_events.remove(&tid) {
            let _ = events.send(ProcessEvent::Exited(status));
        }
    }
}

//! The fd-install broker: fds the sentry opened for a task are placed in its table when it
//! makes its install request (a seccomp notification answered with ADDFD); opens that may
//! wait (FIFOs, leased files) run on threads of their own and are cancelled when nobody
//! waits for them any more.

use super::*;

/// The fd a task waits for in its install request.
pub(super) struct Awaited {
    /// None while an open is still running on its thread.
    pub(super) fd: Option<Result<OwnedFd, nix::errno::Errno>>,
    pub(super) cloexec: bool,
    /// Names the open running for it (0: none), what it opens, and what ends it early.
    pub(super) token: u64,
    pub(super) key: Option<OpenKey>,
    pub(super) cancel: Option<Cancel>,
    /// The task's install request, once it arrived before the fd.
    pub(super) request: Option<Request>,
    /// The request is a notified call (not a call the sentry turned into one): a new call
    /// from the task means a signal withdrew it.
    pub(super) notified: bool,
    /// The lowest number a signalfd or memfd may take (an F_DUPFD's; else the floor).
    pub(super) at_least: Option<u32>,
}

impl Awaited {
    pub(super) fn ready(fd: OwnedFd, cloexec: bool) -> Awaited {
        Awaited {
            fd: Some(Ok(fd)),
            cloexec,
            token: 0,
            key: None,
            cancel: None,
            request: None,
            notified: false,
            at_least: None,
        }
    }
}

/// What a FIFO open opens: the file (device, inode) and the flags.
pub(super) type OpenKey = (u64, u64, i32);

/// Ends a FIFO open that nobody waits for any more.
pub(super) struct Cancel {
    /// Set before the open is ended; the open's thread checks it before it opens.
    pub(super) cancelled: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// None for an open a lease holds: nothing ends it sooner, and its thread is left to
    /// finish on its own (its fd, when it comes, is dropped).
    pub(super) other_end: Option<syscalls::OtherEnd>,
    pub(super) thread: Option<std::thread::JoinHandle<()>>,
}

impl Cancel {
    /// Ends the open: the other end of the FIFO is opened (and held) until the open's
    /// thread has returned, so the open cannot wait on; the thread's fd is then in the
    /// channel, and the held end is returned for the caller to close after draining it.
    pub(super) fn run(self) -> Option<OwnedFd> {
        self.cancelled.store(true, Ordering::SeqCst);
        let other_end = self.other_end?;
        let thread = self.thread?;
        let mut held = None;
        // Bounded: once the thread is in its open, the held end lets it return; until then
        // opening the other end may fail (no reader yet for a writer's end).
        while !thread.is_finished() {
            if held.is_none() {
                held = (other_end.0)().ok();
            }
            std::thread::yield_now();
        }
        let _ = thread.join();
        held
    }
}

pub(super) struct Abandoned {
    pub(super) key: OpenKey,
    pub(super) token: u64,
    pub(super) cancel: Cancel,
    /// The open's result, if it came while the task was away.
    pub(super) fd: Option<Result<OwnedFd, nix::errno::Errno>>,
}

impl Supervisor {
    /// Serves one request of the listener `index` (readable).
    pub(super) fn serve_install_request(&mut self, index: usize) {
        let Ok(request) = self.listeners[index].receive() else {
            return;
        };
        if index != 0 {
            // A task of a process started later (an OCI exec): its calls come on the
            // listener of that process's filter.
            self.listener_of.insert(request.tid, index);
        }
        if !request.is_install && self.notifying {
            return self.on_notified(request);
        }
        let tid = request.tid;
        let Some(awaited) = self
            .awaiting_install
            .get_mut(&tid)
            .filter(|_| request.is_install)
        else {
            self.listeners[index].refuse(request.id, nix::errno::Errno::ENOSYS);
            return;
        };
        if awaited.fd.is_none() {
            awaited.request = Some(request); // answered when its open returns
            return;
        }
        if let Some(awaited) = self.awaiting_install.remove(&tid) {
            self.install(tid, &request, awaited);
        }
    }

    /// Opens that finished on their threads: their fds go to the tasks waiting for them.
    pub(super) fn serve_opened(&mut self) {
        while let Ok((token, result)) = self.opened_rx.try_recv() {
            let Some((&tid, awaited)) = self
                .awaiting_install
                .iter_mut()
                .find(|(_, a)| a.token == token && a.fd.is_none())
            else {
                // Its task was interrupted: kept for its return. Or it is gone (or gave
                // up): the fd is dropped.
                if let Some(away) = self
                    .abandoned
                    .values_mut()
                    .find(|a| a.token == token && a.fd.is_none())
                {
                    away.fd = Some(result);
                }
                continue;
            };
            awaited.fd = Some(result);
            if let Some(request) = awaited.request {
                if let Some(awaited) = self.awaiting_install.remove(&tid) {
                    self.install(tid, &request, awaited);
                }
            }
        }
    }

    /// Answers the install request of `tid` with its fd (or the open's error). Returns
    /// the call's result, None if the task was no longer waiting.
    pub(super) fn install(&mut self, tid: Tid, request: &Request, awaited: Awaited) -> Option<i64> {
        let Awaited {
            fd,
            cloexec,
            token,
            key,
            cancel,
            notified,
            at_least,
            ..
        } = awaited;
        let refuse = |listener: &Listener, e: nix::errno::Errno| {
            listener
                .answer(request.id, -(e as i64))
                .ok()
                .map(|_| -(e as i64))
        };
        let fd = match fd {
            Some(Ok(fd)) => fd,
            Some(Err(e)) => return refuse(self.listener(tid), e),
            None => return None,
        };
        // The install wakes the task and waits for it: a pair of wake-ups, as a stop is.
        self.kernel.holds.exchanged(tid);
        let at = match crate::syscalls::signalfd::slot(&self.kernel, tid, fd.as_fd(), at_least) {
            Ok(at) => at,
            Err(e) => return refuse(self.listener(tid), e),
        };
        match self
            .listener(tid)
            .install(request.id, tid, fd.as_fd(), cloexec, at)
        {
            Ok(number) => Some(number.into()),
            // A signalfd's or memfd's slot is beyond the task's RLIMIT_NOFILE.
            Err(nix::errno::Errno::EBADF) if at.is_some() => {
                refuse(self.listener(tid), nix::errno::Errno::EMFILE)
            }
            // The task was interrupted: the request is gone; its exit stop says how. A FIFO
            // open's fd is kept for the task's return (the open it stands for is done).
            Err(nix::errno::Errno::ENOENT) => {
                let awaited = Awaited {
                    fd: Some(Ok(fd)),
                    cloexec,
                    token,
                    key,
                    cancel,
                    request: None,
                    notified,
                    at_least,
                };
                self.awaiting_install.insert(tid, awaited);
                self.forget_install(tid);
                None
            }
            // The fd cannot be installed (EBADF for an O_PATH fd, EMFILE for a full
            // table): the call fails with that error rather than waiting forever.
            Err(e) => refuse(self.listener(tid), e),
        }
    }

    /// The task no longer waits in an install request (its call ended, was interrupted or
    /// abandoned): a FIFO open still running for it is kept for its return (see `abandoned`).
    pub(super) fn forget_install(&mut self, tid: Tid) {
        if let Some(Awaited {
            fd,
            token,
            key: Some(key),
            cancel: Some(cancel),
            ..
        }) = self.awaiting_install.remove(&tid)
        {
            let abandoned = Abandoned {
                key,
                token,
                cancel,
                fd,
            };
            self.abandoned.insert(tid, abandoned);
        }
    }

    /// Ends the FIFO open kept for `tid`, if any: it must not hold an end of the FIFO that
    /// the task will never get.
    pub(super) fn cancel_abandoned(&mut self, tid: Tid) {
        if let Some(abandoned) = self.abandoned.remove(&tid) {
            self.cancel(abandoned);
        }
    }

    pub(super) fn cancel(&mut self, abandoned: Abandoned) {
        tracing::debug!(target: "sentry::fifo", "open {} cancelled", abandoned.token);
        drop(abandoned.fd);
        let held = abandoned.cancel.run();
        // The cancelled open's fd is dropped before the end that ended it.
        self.serve_opened();
        drop(held);
    }

    /// Starts `open` on a thread of its own; the task waits for its fd in `awaiting_install`.
    pub(super) fn open_off_loop(&mut self, tid: Tid, fifo: syscalls::FifoOpen, cloexec: bool) {
        let syscalls::FifoOpen {
            open,
            other_end,
            key,
        } = fifo;
        let mut awaited = Awaited {
            fd: None,
            cloexec,
            token: 0,
            key: Some(key),
            cancel: None,
            request: None,
            notified: false,
            at_least: None,
        };
        match self.abandoned.remove(&tid) {
            Some(again) if again.key == key => {
                // The same open after a signal: the task waits for the one still running
                // (or takes its result).
                awaited.token = again.token;
                awaited.cancel = Some(again.cancel);
                awaited.fd = again.fd;
                self.awaiting_install.insert(tid, awaited);
                return;
            }
            Some(other) => self.cancel(other),
            None => {}
        }
        self.next_token += 1;
        let token = self.next_token;
        let cancelled = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (tx, wake, stop) = (
            self.opened_tx.clone(),
            self.opened_wake.clone(),
            cancelled.clone(),
        );
        let spawned = std::thread::Builder::new()
            .name("sentry-open".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let _ = tx.send((token, (open.0)()));
                let one = 1u64.to_ne_bytes();
                // SAFETY: write of 8 bytes we own to an eventfd we hold.
                unsafe { libc::write(wake.as_raw_fd(), one.as_ptr().cast(), one.len()) };
            });
        tracing::debug!(target: "sentry::fifo", "[{tid}] open {token} started");
        awaited.token = token;
        match spawned {
            Ok(thread) => {
                awaited.cancel = Some(Cancel {
                    cancelled,
                    other_end,
                    thread: Some(thread),
                })
            }
            Err(_) => awaited.fd = Some(Err(nix::errno::Errno::EAGAIN)),
        }
        self.awaiting_install.insert(tid, awaited);
    }
}

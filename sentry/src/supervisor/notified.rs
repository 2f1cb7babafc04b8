//! Calls that reach the sentry as seccomp user notifications rather than ptrace stops
//! (`syscalls::filter::notified`): decided by the same table and handlers, answered on the
//! listener with a value, an errno, an fd (ADDFD with SEND) or CONTINUE. The task waits in
//! the kernel meanwhile; the sentry never touches its registers.
//!
//! A signal that arrives before the answer withdraws the notification: the answer fails
//! with ENOENT, and at the signal-delivery stop the sentry makes the kernel run the call
//! again after the handler (`restart_interrupted_notification`), as Linux would have
//! finished it before delivering the signal; the call then comes back as a new
//! notification. Only calls whose work is harmless to do again are notified (see
//! `filter::NOTIFIED`). A FIFO open, which waits as in Linux, keeps Linux's EINTR.

use super::*;
use crate::syscalls::sys_signal::{ERESTARTNOINTR, ERESTARTSYS};

impl Supervisor {
    /// A notified call of `request.tid`.
    pub(super) fn on_notified(&mut self, request: Request) {
        let tid = request.tid;
        let id = request.id;
        self.notified_calls += 1;
        self.call_or_end(tid);
        // The filter notifies native calls only; anything else is not the sentry's.
        if !request.is_native() {
            return self.listener(tid).refuse(id, Errno::ENOSYS);
        }
        if self.terminating {
            return self.listener(tid).refuse(id, Errno::EINTR);
        }
        if self.before_first_exec(tid) {
            // The sentry's own code between fork and execve in a child it started.
            let _ = self.listener(tid).continue_call(id);
            return;
        }
        if !self.kernel.tasks.contains_key(&tid) {
            self.adopt(tid);
        }
        if let Some(pending) = self.pending.get(&tid) {
            let exec_step = pending
                .exec
                .as_ref()
                .map(|state| state.is_expected(request.nr, &request.args));
            if exec_step == Some(false) {
                // Not the step of the exec the sentry set up (a signal handler ran in
                // between): the exec is abandoned and this call is decided as any other.
                self.pending.remove(&tid);
                self.kernel.holds.call_ended(tid);
                self.forget_install(tid);
            } else {
                // A call the sentry decided at its stop and rewrote (an exec step, a wait):
                // the kernel checks the filters again after a stop, which notifies it.
                let _ = self.listener(tid).continue_call(id);
                return;
            }
        }
        if self.exec_beside(tid) {
            self.held_during_exec.push(request);
            return;
        }
        self.new_call_from(tid, request.nr);
        let Some(sysno) = Sysno::new(request.nr as usize) else {
            syscalls::foreign_abi_event(&mut self.kernel, tid, "an unknown number", request.nr);
            return self.listener(tid).refuse(id, Errno::ENOSYS);
        };
        let started = self.profile.as_ref().map(|_| std::time::Instant::now());
        let mut call = Call::new(&mut self.kernel, tid, sysno, request.args);
        let (action, class) = syscalls::decide(&mut call);
        let paths = call.paths.into_inner();
        if let (Some(profile), Some(started)) = (&mut self.profile, started) {
            profile.add(request.nr, true, started.elapsed());
        }
        let strace_line = self.strace.then(|| {
            let shown = self.kernel.shown_pid(tid);
            strace::format_entry(tid, shown, Some(sysno), request.nr, &request.args, &paths)
        });
        let result = match action {
            Action::Return(value) => self.listener(tid).answer(id, value).ok().map(|_| value),
            Action::Pass => {
                if syscalls::filter::is_quiet_passthrough(sysno) {
                    // A call that would have stopped under ptrace meets the sentry as often.
                    self.kernel.holds.exchanged(tid);
                }
                let _ = self.listener(tid).continue_call(id);
                None
            }
            Action::Install { fd, cloexec } => {
                self.install(tid, &request, Awaited::ready(fd, cloexec))
            }
            Action::InstallTerminal { fd, cloexec } => {
                self.terminal_notified(tid, &request, fd, cloexec)
            }
            Action::InstallWhenOpened { fifo, cloexec } => {
                self.open_off_loop(tid, fifo, cloexec);
                if let Some(awaited) = self.awaiting_install.get_mut(&tid) {
                    awaited.notified = true;
                    if awaited.fd.is_none() {
                        awaited.request = Some(request); // answered when its open returns
                        return;
                    }
                }
                let awaited = self.awaiting_install.remove(&tid);
                awaited.and_then(|awaited| self.install(tid, &request, awaited))
            }
            other => {
                // The notified set holds only calls whose handlers answer whole; this is a
                // fault of the sentry's, refused rather than guessed at.
                tracing::error!(
                    "sentry: internal: notified {} decided as {other:?}; refused",
                    sysno.name()
                );
                let _ = self.listener(tid).answer(id, -(Errno::ENOSYS as i64));
                Some(-(Errno::ENOSYS as i64))
            }
        };
        if let Some(line) = &strace_line {
            match result {
                Some(value) => strace::emit(line, Some(sysno), value, class),
                None => strace::emit_no_return(line, class),
            }
        }
    }

    /// Whether another thread of `tid`'s process is in an exec the sentry is making.
    fn exec_beside(&self, tid: Tid) -> bool {
        let tgid = |t: &Tid| self.kernel.tasks.get(t).map(|task| task.tgid);
        let Some(own) = tgid(&tid) else {
            return false;
        };
        self.pending
            .iter()
            .any(|(t, p)| p.exec.is_some() && *t != tid && tgid(t) == Some(own))
    }

    /// The notified calls held while an exec of their process was made, once it is over
    /// (the exec failed, or succeeded and the other threads are gone).
    pub(super) fn release_held_calls(&mut self) {
        let held = std::mem::take(&mut self.held_during_exec);
        for request in held {
            if !self.kernel.tasks.contains_key(&request.tid) {
                continue;
            }
            if self.exec_beside(request.tid) {
                self.held_during_exec.push(request);
            } else {
                self.notified_calls -= 1; // counted when it first came
                self.on_notified(request);
            }
        }
    }

    /// A task the sentry has not seen created (its creation event is still queued): adopted
    /// into its thread group.
    pub(super) fn adopt(&mut self, tid: Tid) {
        let tgid = thread_group_of(tid);
        let (parent, ns) = self
            .kernel
            .tasks
            .get(&tgid)
            .map_or((0, crate::kernel::pid::ROOT_NS), |t| (t.parent, t.ns));
        self.kernel.add_task(tid, tgid, parent, ns);
    }

    /// `tid` makes a new call (`nr`), stopped or notified: whatever it waited for before is
    /// over. A notified open it was interrupted in is kept for its return (a restart) and
    /// cancelled if the new call is anything but an open.
    pub(super) fn new_call_from(&mut self, tid: Tid, nr: u64) {
        if self.awaiting_install.get(&tid).is_some_and(|a| a.notified) {
            self.forget_install(tid);
        }
        if self.abandoned.contains_key(&tid) {
            // Any call but an open (or the handler's return) means the interrupted FIFO open
            // failed with EINTR rather than restarting.
            let reopening = [
                Sysno::open,
                Sysno::openat,
                Sysno::openat2,
                Sysno::creat,
                Sysno::rt_sigreturn,
            ]
            .iter()
            .any(|s| s.id() as u64 == nr);
            if !reopening {
                self.cancel_abandoned(tid);
            }
        }
    }
}

impl Supervisor {
    /// At a signal-delivery stop: a notified call the signal interrupted while it waited for
    /// the sentry's answer (the kernel's ERESTARTSYS) runs again after the handler, whatever
    /// its SA_RESTART: Linux would have completed it before delivering the signal, since no
    /// notified call waits in the kernel, except an open of a FIFO, which keeps Linux's
    /// EINTR.
    pub(super) fn restart_interrupted_notification(
        &mut self,
        stopped: &Stopped,
    ) -> super::Result<()> {
        let Some(filter) = &self.notify_filter else {
            return Ok(());
        };
        let mut regs = stopped.regs()?;
        if regs.ret() != -ERESTARTSYS {
            return Ok(());
        }
        let args: [u64; 6] = std::array::from_fn(|i| regs.arg(i));
        let notified = platform_ptrace::notify::notifies(filter, regs.syscall(), &args);
        let waits = self
            .awaiting_install
            .get(&stopped.tid())
            .is_some_and(|a| a.notified)
            || self.abandoned.contains_key(&stopped.tid());
        if notified && !waits {
            regs.set_ret(-ERESTARTNOINTR);
            stopped.set_regs(&regs)?;
        }
        Ok(())
    }
}

//! rt_sigtimedwait that fills a siginfo, and a signalfd's read (`Action::WaitSignal`). The
//! kernel's own call would write the siginfo (or record), with the sender's host pid and
//! uid, into the task's memory, where another thread of the task (or a process sharing the
//! page) could read it before the exit stop put it in the sandbox's terms (and a signalfd's
//! read has no exit-stop translation at all). So the signal is taken at its delivery
//! instead, where the sentry reads the siginfo from the kernel and the task never holds the
//! host's:
//!
//! 1. At the entry stop the call becomes ppoll(NULL, 0, timeout, mask, 8). `mask` is the
//!    task's signal mask without the signals of the set, as Linux's sigtimedwait lets them
//!    through while it waits; `timeout` is a copy of the task's timespec (ppoll writes the
//!    time left into its own; sigtimedwait leaves the task's alone). Both go below the red
//!    zone of the task's stack. A signalfd's read waits for the fd's signals, without a
//!    timeout, or with a zero one if the fd does not block.
//! 2. ppoll returns 0 at the timeout: the call fails with EAGAIN. Interrupted, it gets the
//!    task's registers and call back with EINTR, what sigtimedwait gives when a handled
//!    signal interrupts it (a signalfd's read: ERESTARTSYS, restarted per SA_RESTART); the
//!    kernel then delivers the pending signal with ppoll's mask still in force.
//! 3. At that signal's delivery stop the sentry puts the task's own mask back
//!    (PTRACE_SETSIGMASK), so that no second signal of the set is taken. A signal of the set
//!    is the call's: the sentry discards it, writes its siginfo, translated, at the task's
//!    `info` (a signalfd's read: one record), and makes its number (128) the result. Any
//!    other signal is delivered as it comes; one the task ignores starts sigtimedwait again
//!    (it would not have ended Linux's wait), one it handles leaves EINTR.
//!
//! What another thread can do meanwhile (rewrite the scratch below the stack) changes only
//! how this thread waits, which it could ask for itself.

use super::*;
use crate::syscalls::Delivery;
use platform_ptrace::Regs;

/// The timespec (16 bytes) and the mask (8), below the red zone.
const SCRATCH: u64 = 24;

/// A task between the end of its wait's ppoll and the delivery stop of the signal that
/// ended it.
#[derive(Debug)]
pub(super) struct Armed {
    set: u64,
    delivery: Delivery,
    /// The task's own signal mask.
    blocked: u64,
    /// The task's call, and where it returns to: the delivery stop that ends the wait is
    /// there.
    nr: i64,
    ip: u64,
    /// The call's `--strace` line, shown with its final result.
    strace: Option<(String, Class)>,
}

impl Supervisor {
    /// Step 1. The task's own registers, to be put back at the exit stop, and the exit
    /// hook; None when the scratch could not be written (the call then fails with EFAULT).
    pub(super) fn start_signal_wait(
        &mut self,
        stopped: &Stopped,
        set: u64,
        timeout: Option<[u8; 16]>,
        delivery: Delivery,
    ) -> Result<Option<(Regs, ExitHook)>> {
        let regs = stopped.regs()?;
        let blocked = stopped.sigmask()?;
        let at = (regs.sp() - 128 - SCRATCH) & !15;
        let mut scratch = timeout.unwrap_or_default().to_vec();
        scratch.extend_from_slice(&(blocked & !set).to_ne_bytes());
        if platform_ptrace::write_bytes(stopped.tid(), at, &scratch).is_err() {
            stopped.skip_syscall(-(libc::EFAULT as i64))?;
            return Ok(None);
        }
        let timespec = if timeout.is_some() { at } else { 0 };
        let mut ppoll = regs;
        ppoll.set_syscall(Sysno::ppoll.id() as i64);
        for (i, value) in [0, 0, timespec, at + 16, 8, 0].into_iter().enumerate() {
            ppoll.set_arg(i, value);
        }
        stopped.set_regs(&ppoll)?;
        if let Some(task) = self.kernel.tasks.get_mut(&stopped.tid()) {
            task.awaited_signals = set;
        }
        let hook = ExitHook::SignalWait {
            set,
            blocked,
            delivery,
        };
        Ok(Some((regs, hook)))
    }

    /// Step 2: the call's result at the exit stop of its ppoll (`rval`). `original`: the
    /// task's registers; `strace`: its line, kept until the result is known.
    pub(super) fn signal_wait_at_exit(
        &mut self,
        tid: Tid,
        hook: ExitHook,
        original: &Regs,
        strace: &mut Option<String>,
        class: Class,
        rval: i64,
    ) -> i64 {
        let ExitHook::SignalWait {
            set,
            blocked,
            delivery,
        } = hook
        else {
            return rval;
        };
        // Those of its signals that came are pending by now.
        if let Some(task) = self.kernel.tasks.get_mut(&tid) {
            task.awaited_signals = 0;
        }
        match rval {
            0 => -(libc::EAGAIN as i64),
            r if r == -(libc::EINTR as i64) || syscalls::sys_signal::ERESTART.contains(&r) => {
                let armed = Armed {
                    set,
                    delivery,
                    blocked,
                    nr: original.syscall(),
                    ip: original.ip(),
                    strace: strace.take().map(|line| (line, class)),
                };
                self.signal_waits.insert(tid, armed);
                delivery.interrupted()
            }
            r => r,
        }
    }

    /// Step 3, at the delivery stop of `sig`: whether the signal was the wait's, taken by
    /// the sentry (it must not be delivered).
    pub(super) fn signal_wait_delivery(&mut self, stopped: &Stopped, sig: i32) -> Result<bool> {
        let tid = stopped.tid();
        let Some(armed) = self.signal_waits.remove(&tid) else {
            return Ok(false);
        };
        let mut regs = stopped.regs()?;
        let interrupted = armed.delivery.interrupted();
        let at_return =
            regs.ip() == armed.ip && regs.syscall() == armed.nr && regs.ret() == interrupted;
        if !at_return {
            // Not the wait's end (no signal came to end it): the call already returned.
            emit_line(armed.strace, armed.nr, interrupted);
            return Ok(false);
        }
        stopped.set_sigmask(armed.blocked)?;
        let k = &self.kernel;
        let efault = -(libc::EFAULT as i64);
        let taken = (1..=64).contains(&sig) && armed.set & 1u64 << (sig - 1) != 0;
        let result = if taken {
            let mut info = stopped.siginfo()?;
            syscalls::sys_signal::translate_siginfo(k, tid, &mut info);
            match armed.delivery {
                Delivery::Siginfo { at } => match k.mem.write(tid, at, &info) {
                    Ok(()) => sig as i64,
                    Err(_) => efault,
                },
                delivery => {
                    let record = syscalls::signalfd::record_of(&info);
                    match syscalls::signalfd::write_record(k, tid, delivery, &record) {
                        true => syscalls::signalfd::RECORD as i64,
                        false => efault,
                    }
                }
            }
        } else if matches!(armed.delivery, Delivery::Siginfo { .. })
            && syscalls::sys_signal::ignores(k, tid, sig)
        {
            -syscalls::sys_signal::ERESTARTNOHAND
        } else {
            interrupted
        };
        if result != interrupted {
            regs.set_ret(result);
            stopped.set_regs(&regs)?;
        }
        emit_line(armed.strace, armed.nr, result);
        Ok(taken)
    }

    /// A task that makes a call or ends has no wait left to end, and a read it made before
    /// has looked its fd up by now (see `syscalls::signalfd`). Called at every stop and
    /// notification: the maps are looked into only when not empty.
    pub(super) fn call_or_end(&mut self, tid: Tid) {
        if !self.signal_waits.is_empty() {
            if let Some(armed) = self.signal_waits.remove(&tid) {
                emit_line(armed.strace, armed.nr, armed.delivery.interrupted());
            }
        }
        if !self.kernel.high_reads.is_empty() {
            self.kernel.high_reads.remove(&tid);
        }
    }
}

fn emit_line(line: Option<(String, Class)>, nr: i64, result: i64) {
    if let Some((line, class)) = line {
        strace::emit(&line, Sysno::new(nr as usize), result, class);
    }
}

//! A call's exit stop: the wait of a call the sentry made itself, then the call's exit hook
//! (ids, addresses and charges put in the sandbox's terms) and its `--strace` line.

use super::*;

impl Supervisor {
    /// The poll of a `WaitReady` returned `rval`; the task's own call is `original`. None when
    /// the task runs its call again; otherwise the call's result, set in its registers.
    pub(super) fn after_wait(
        &mut self,
        stopped: &Stopped,
        original: platform_ptrace::Regs,
        fd: i32,
        then: syscalls::Ready,
        rval: i64,
    ) -> super::Result<Option<i64>> {
        let mut regs = original;
        let result = match (then, rval) {
            (syscalls::Ready::Rerun, r) if r > 0 => {
                let nr = original.syscall();
                regs.set_ip(regs.ip() - SYSCALL_INSN_LEN);
                regs.set_ret(nr);
                stopped.set_regs(&regs)?;
                return Ok(None);
            }
            (syscalls::Ready::ConnectResult, r) if r > 0 => {
                let tgid = self.kernel.tgid_of(stopped.tid());
                match crate::host::task_fd(tgid, fd) {
                    Ok(sock) => syscalls::net::pending_error(&sock),
                    Err(e) => -(e as i64),
                }
            }
            // The socket's send timeout passed.
            (syscalls::Ready::Rerun, 0) => -(libc::EAGAIN as i64),
            (syscalls::Ready::ConnectResult, 0) => -(libc::EINPROGRESS as i64),
            // A signal: the call restarts under SA_RESTART or fails with EINTR, as a send
            // or a connect interrupted in the kernel does.
            (_, r) if syscalls::sys_signal::ERESTART.contains(&r) => {
                -syscalls::sys_signal::ERESTARTSYS
            }
            (_, r) => r,
        };
        regs.set_ret(result);
        stopped.set_regs(&regs)?;
        Ok(Some(result))
    }

    /// The work of a call's exit stop: its hook, then its `--strace` line.
    pub(super) fn finish_call(
        &mut self,
        stopped: &Stopped,
        pending: Pending,
        rval: i64,
    ) -> super::Result<()> {
        let tid = stopped.tid();
        // The call is over (an exec: all its steps, at its exit stop or its exec event):
        // the task's own signal mask is back.
        if let Some(mask) = pending.held_mask {
            stopped.set_sigmask(mask)?;
        }
        self.kernel.holds.call_ended(tid);
        let k = &mut self.kernel;
        syscalls::mm::call_done(k, tid, pending.sysno);
        let translated = match pending.hook {
            Some(ExitHook::Memory(hook)) => {
                syscalls::mm::at_exit(k, tid, hook, rval);
                rval
            }
            Some(ExitHook::SocketsMade(made)) => {
                syscalls::socket_memory::at_exit(k, tid, made, rval);
                rval
            }
            Some(ExitHook::Ipc(hook)) => syscalls::ipc::at_exit(k, tid, hook, rval),
            Some(ExitHook::Owner(hook)) => syscalls::owner::at_exit(k, tid, hook, rval),
            // The supervisor puts the bytes back once the call is over (`alone`).
            Some(ExitHook::Alone) => rval,
            Some(ExitHook::FixUnixAddress {
                named,
                addr,
                len,
                room,
            }) if rval >= 0 => {
                let named = match named {
                    syscalls::unix_address::UnixNamed::AcceptedPeer => {
                        syscalls::unix_address::UnixNamed::Peer(rval as i32)
                    }
                    named => named,
                };
                syscalls::unix_address::fix_unix_address(tid, k, named, (addr, len, room));
                rval
            }
            Some(ExitHook::TranslatePid) if rval > 0 => k.vpid_for(tid, rval as Tid) as i64,
            Some(ExitHook::ReceivedCreds { msg, vector }) => {
                syscalls::pid::translate_received_creds(k, tid, msg, vector, rval);
                rval
            }
            Some(ExitHook::Clone) => syscalls::pid::after_clone(k, tid, rval),
            Some(ExitHook::Accepted {
                listener,
                addr,
                len,
            }) => {
                syscalls::inet::accepted(k, tid, listener, (addr, len), rval);
                rval
            }
            Some(ExitHook::Dequeued)
                if rval == -(libc::EINTR as i64)
                    && syscalls::sys_signal::interrupted_by_ignored(k, tid) =>
            {
                -syscalls::sys_signal::ERESTARTNOHAND
            }
            Some(ExitHook::WaitidPeek {
                infop,
                idtype,
                id,
                nohang,
                eagain_if_none,
            }) => {
                let peek = (infop, idtype, id, nohang, eagain_if_none);
                match syscalls::sys_wait::after_waitid_peek(k, tid, peek, rval) {
                    Some(result) => result,
                    // The child went before the sentry looked.
                    None => return self.run_call_again(stopped),
                }
            }
            Some(ExitHook::WaitidProbe {
                infop,
                eagain_if_none,
                asked,
            }) => {
                let probe = (infop, eagain_if_none, asked);
                match syscalls::sys_wait::after_waitid_probe(k, tid, probe, rval) {
                    Some(result) => result,
                    None => return self.run_call_again(stopped),
                }
            }
            Some(ExitHook::WaitidAsWait4 {
                infop,
                eagain_if_none,
            }) => syscalls::sys_wait::after_waitid_as_wait4(k, tid, (infop, eagain_if_none), rval),
            Some(ExitHook::Reaped {
                infop,
                status,
                nowait,
                eagain_if_none,
            }) => {
                let how = (nowait, eagain_if_none);
                syscalls::sys_wait::after_wait(k, tid, (infop, status), how, rval)
            }
            _ => rval,
        };
        if translated != rval {
            stopped.set_return(translated)?;
        }
        if let Some(line) = pending.strace_line {
            if !matches!(pending.sysno, Some(Sysno::exit | Sysno::exit_group)) {
                strace::emit(&line, pending.sysno, translated, pending.class);
            }
        }
        Ok(())
    }

    /// The task makes its own call again, from its entry (its registers are its own again).
    fn run_call_again(&self, stopped: &Stopped) -> super::Result<()> {
        let mut regs = stopped.regs()?;
        regs.set_ip(regs.ip() - SYSCALL_INSN_LEN);
        regs.set_ret(regs.syscall());
        stopped.set_regs(&regs)?;
        Ok(())
    }
}

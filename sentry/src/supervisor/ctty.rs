//! A controlling terminal taken by an open, as Linux gives one: a session leader without a
//! controlling terminal that opens a terminal without O_NOCTTY gets it as its own
//! (`Action::InstallTerminal`).
//!
//! The sentry opens the terminal in its own context, so the kernel cannot give it to the
//! task then, and TIOCSCTTY acts on the caller's session: the task itself must make it. Once
//! the fd is in the task's table, and before its open returns, the sentry has the task run
//! ioctl(fd, TIOCSCTTY, 0) from the instruction of its open (the registers rewound over the
//! `syscall` instruction), then puts the task's registers back with the fd as the open's
//! result. The ioctl stops under seccomp in both platforms; its entry and exit are this
//! module's, and `--strace` does not show it.
//!
//! Two ways in. An open decided at a ptrace stop was turned into an install request: at that
//! request's exit stop the fd is in the table and the ioctl is set up. An open that came as a
//! notification gets its fd with ADDFD but no answer, and the task is interrupted
//! (PTRACE_INTERRUPT): the notification ends with ERESTARTSYS and the task stops before it
//! returns to user space, where the ioctl is set up in place of the restart.
//!
//! The fd number is the task's, and another thread may re-point it (dup2) before the ioctl
//! runs. Right before, the sentry checks that the number holds the terminal it opened (the
//! same inode, through pidfd_getfd); right after, that the session's controlling terminal is
//! that terminal, and a task whose session took another one is killed before its open
//! returns. What the ioctl can do is no more than the task may do itself on any fd it holds
//! (TIOCSCTTY with 0 never takes a terminal from another session), and the sandbox holds no
//! terminal but its own ptys.

use super::*;
use crate::syscalls::sys_signal::ERESTARTSYS;
use platform_ptrace::Regs;

/// The terminal the sentry opened: its inode, and its device number (what the session's
/// controlling terminal reads as in /proc).
#[derive(Debug, Clone, Copy)]
pub(super) struct Pinned {
    dev: u64,
    ino: u64,
    rdev: u64,
}

impl Pinned {
    fn of(fd: &OwnedFd) -> Option<Pinned> {
        let st = nix::sys::stat::fstat(fd.as_raw_fd()).ok()?;
        Some(Pinned {
            dev: st.st_dev,
            ino: st.st_ino,
            rdev: st.st_rdev,
        })
    }
}

/// Where a task is in taking its terminal.
#[derive(Debug)]
pub(super) enum Step {
    /// Its open became an install request; the ioctl follows at the request's exit.
    Installing { slave: Pinned },
    /// Its notified open got fd `fd` unanswered, and it was interrupted: its next stop
    /// finds it leaving that call (`nr`, `args`) with ERESTARTSYS.
    Interrupted {
        fd: i32,
        nr: u64,
        args: [u64; 6],
        slave: Pinned,
    },
    /// It runs the ioctl on `fd` from `ip`; `original` (the open returning `fd`) follows.
    Ioctl {
        fd: i32,
        ip: u64,
        original: Regs,
        slave: Pinned,
    },
}

impl Supervisor {
    /// An open decided at a stop that gives a controlling terminal: the fd is installed as
    /// any other (the caller does that), and the ioctl follows at the exit stop.
    pub(super) fn terminal_installing(&mut self, tid: Tid, fd: &OwnedFd) {
        match Pinned::of(fd) {
            Some(slave) => self.terminal_steps.insert(tid, Step::Installing { slave }),
            None => self.terminal_steps.remove(&tid),
        };
    }

    /// A notified open that gives a controlling terminal: the fd goes into the task's
    /// table, the call is left unanswered and the task interrupted, to be taken over at
    /// its stop. Returns the fd's number for `--strace` (None if the task was gone).
    pub(super) fn terminal_notified(
        &mut self,
        tid: Tid,
        request: &Request,
        fd: OwnedFd,
        cloexec: bool,
    ) -> Option<i64> {
        let Some(slave) = Pinned::of(&fd) else {
            return self.install(tid, request, Awaited::ready(fd, cloexec));
        };
        let placed = self.listener(tid).place(request.id, fd.as_fd(), cloexec);
        let answer = |this: &Self, value: i64| {
            this.listener(tid)
                .answer(request.id, value)
                .ok()
                .map(|_| value)
        };
        match placed {
            Ok(n) => {
                if platform_ptrace::interrupt(tid).is_err() {
                    // Not to be stopped (it is dying): the open returns its fd as it is.
                    return answer(self, n.into());
                }
                let step = Step::Interrupted {
                    fd: n,
                    nr: request.nr,
                    args: request.args,
                    slave,
                };
                self.terminal_steps.insert(tid, step);
                Some(n.into())
            }
            // A signal withdrew the call first: it is made again after the signal.
            Err(Errno::ENOENT) => None,
            Err(e) => answer(self, -(e as i64)),
        }
    }

    /// At a stop out of a call's exit path (an interrupt's, a group-stop, a signal's): an
    /// interrupted notified open is taken over, and runs the ioctl when resumed.
    pub(super) fn terminal_at_stop(&mut self, stopped: &Stopped) -> Result<()> {
        let tid = stopped.tid();
        if !matches!(
            self.terminal_steps.get(&tid),
            Some(Step::Interrupted { .. })
        ) {
            return Ok(());
        }
        let Some(Step::Interrupted {
            fd,
            nr,
            args,
            slave,
        }) = self.terminal_steps.remove(&tid)
        else {
            return Ok(());
        };
        let regs = stopped.regs()?;
        let leaving = regs.syscall() as u64 == nr
            && regs.ret() == -ERESTARTSYS
            && (0..6).all(|i| regs.arg(i) == args[i]);
        if !leaving {
            tracing::debug!(
                target: "sentry::terminal",
                "[{tid}] not leaving its open at its stop: no controlling terminal"
            );
            return Ok(());
        }
        let mut original = regs;
        original.set_ret(fd.into());
        self.run_tiocsctty(stopped, fd, original, slave)?;
        Ok(())
    }

    /// Whether the call at this entry or seccomp stop is the ioctl the sentry set up: it
    /// runs to its exit stop.
    pub(super) fn terminal_ioctl_entry(&self, stopped: &Stopped, info: &SyscallInfo) -> bool {
        let Some(&Step::Ioctl { fd, ip, .. }) = self.terminal_steps.get(&stopped.tid()) else {
            return false;
        };
        info.nr == Sysno::ioctl.id() as u64
            && info.args[..3] == [fd as u64, libc::TIOCSCTTY, 0]
            && stopped.regs().is_ok_and(|r| r.ip() == ip)
    }

    /// At a syscall-exit stop: the install request of an open that gives a terminal sets up
    /// the ioctl; the ioctl's own exit puts the open's registers back. The resume request
    /// to use, None for a stop that is not this module's.
    pub(super) fn terminal_at_exit(
        &mut self,
        stopped: &Stopped,
        rval: i64,
    ) -> Result<Option<Resume>> {
        let tid = stopped.tid();
        match self.terminal_steps.remove(&tid) {
            None => Ok(None),
            // Interrupted by a signal: the open is made again (and decided again).
            Some(Step::Installing { .. }) if rval < 0 => Ok(None),
            Some(Step::Installing { slave }) => {
                // The task's own registers, with the fd as the result, are in place.
                let original = stopped.regs()?;
                let runs = self.run_tiocsctty(stopped, rval as i32, original, slave)?;
                Ok(runs.then_some(Resume::Syscall))
            }
            Some(Step::Ioctl {
                fd,
                ip,
                original,
                slave,
            }) => {
                let regs = stopped.regs()?;
                let ours = regs.ip() == ip
                    && regs.syscall() == Sysno::ioctl.id() as i64
                    && [regs.arg(0), regs.arg(1), regs.arg(2)] == [fd as u64, libc::TIOCSCTTY, 0];
                if !ours {
                    // Another call's exit (a signal handler's, before the ioctl ran).
                    let step = Step::Ioctl {
                        fd,
                        ip,
                        original,
                        slave,
                    };
                    self.terminal_steps.insert(tid, step);
                    return Ok(None);
                }
                stopped.set_regs(&original)?;
                self.check_taken(tid, rval, slave);
                Ok(Some(self.steady()))
            }
            Some(step) => {
                self.terminal_steps.insert(tid, step);
                Ok(None)
            }
        }
    }

    /// Sets up ioctl(fd, TIOCSCTTY, 0) in the task stopped leaving its open (`original`:
    /// its registers as the open returns `fd`), if `fd` still holds the terminal. False
    /// (the open's registers put back) if it does not.
    fn run_tiocsctty(
        &mut self,
        stopped: &Stopped,
        fd: i32,
        original: Regs,
        slave: Pinned,
    ) -> Result<bool> {
        let tid = stopped.tid();
        let tgid = self.kernel.tgid_of(tid);
        let holds = crate::host::task_fd(tgid, fd)
            .ok()
            .and_then(|held| Pinned::of(&held))
            .is_some_and(|held| (held.dev, held.ino) == (slave.dev, slave.ino));
        if !holds {
            tracing::info!(
                target: "sentry::deny",
                "sentry: [pid {}] open: fd {fd} no longer holds the terminal opened; no controlling terminal taken",
                self.kernel.shown_pid(tid)
            );
            stopped.set_regs(&original)?;
            return Ok(false);
        }
        let mut regs = original;
        regs.set_ip(original.ip() - SYSCALL_INSN_LEN);
        regs.set_ret(Sysno::ioctl.id() as i64);
        regs.set_arg(0, fd as u64);
        regs.set_arg(1, libc::TIOCSCTTY);
        regs.set_arg(2, 0);
        stopped.set_regs(&regs)?;
        let step = Step::Ioctl {
            fd,
            ip: original.ip(),
            original,
            slave,
        };
        self.terminal_steps.insert(tid, step);
        Ok(true)
    }

    /// After the ioctl returned `rval`: the session's controlling terminal, if the ioctl
    /// gave one, must be the terminal the sentry opened; a task that re-pointed the fd
    /// in between to take another is killed before its open returns.
    fn check_taken(&self, tid: Tid, rval: i64, slave: Pinned) {
        if rval != 0 {
            // The kernel's own checks refused (another session has the terminal): the
            // open succeeds without one, as on Linux.
            tracing::debug!(target: "sentry::terminal", "[{tid}] TIOCSCTTY: {rval}");
            return;
        }
        let tty_nr = self
            .kernel
            .mem
            .proc_file(tid, "stat")
            .and_then(|stat| {
                let fields = stat.rsplit_once(") ")?.1.to_string();
                fields.split(' ').nth(4)?.parse::<u64>().ok()
            })
            .unwrap_or(0);
        // tty_nr: major in bits 8-19, minor in bits 0-7 and 20-31.
        let major = (tty_nr >> 8) & 0xfff;
        let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xf_ff00);
        let wanted = (
            u64::from(libc::major(slave.rdev)),
            u64::from(libc::minor(slave.rdev)),
        );
        // 0: another thread gave the terminal up again meanwhile, which it may.
        if tty_nr != 0 && (major, minor) != wanted {
            tracing::error!(
                target: "sentry::deny",
                "sentry: [pid {}] open: its fd was re-pointed to another terminal while the sentry made it the controlling one; task killed",
                self.kernel.shown_pid(tid)
            );
            // SAFETY: kill takes plain integers; `tid` is our stopped tracee.
            unsafe { libc::kill(tid, libc::SIGKILL) };
        }
    }
}

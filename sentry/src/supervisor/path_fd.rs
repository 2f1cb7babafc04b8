//! Installing an O_PATH fd (`Action::InstallPath`). seccomp's ADDFD takes its source with
//! fget(), which refuses O_PATH files; SCM_RIGHTS carries them. So the task receives the
//! fd itself, from its own open's instruction, in steps the sentry drives at ptrace stops:
//!
//! 1. The open becomes an install request (as for any fd), answered with a helper: the
//!    task's end of a fresh AF_UNIX datagram socketpair, on whose other end the sentry has
//!    already sent the O_PATH fd (one byte, SCM_RIGHTS) and which it has closed. The helper
//!    lands at the lowest free number H, where Linux's open would put the fd.
//! 2. recvmsg(H, msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT), with the msghdr the sentry wrote
//!    below the red zone of the task's stack: the fd lands at some number N.
//! 3. dup3(N, H, O_CLOEXEC or 0): the fd replaces the helper at H, with the open's flag.
//! 4. close(N). The open then returns H, with the task's own registers back.
//!
//! Steps 2–4 are run from the open's `syscall` instruction (the registers rewound over it)
//! with every signal but SIGKILL and SIGSTOP blocked (PTRACE_SETSIGMASK), so that no
//! handler runs between them: signals that come meanwhile wait, and are delivered when the
//! open returns, as Linux delivers them after an open that did not wait. The task stops at
//! every syscall entry and exit until the last step is done (`in_call`).
//!
//! What another thread of the task can do meanwhile changes only the task's own table and
//! memory: rewrite the msghdr (the fd lands elsewhere, or nowhere), re-point H or N with
//! dup2, keep a duplicate of the helper (a socket with nothing queued and no peer, as it
//! could make itself). The number the sentry reads back from the task's memory is never
//! trusted: the file at that number must be the very file the sentry sent (kcmp), or the
//! open fails with EMFILE (what an honest run gets there: a table with no slot for N). The
//! sentry never acts on the task's fds itself; the kernel runs each step with the task's
//! own credentials on its own table.

use super::*;
use platform_ptrace::Regs;

/// The msghdr, its iovec, the byte and the control buffer, as written below the task's
/// red zone: msghdr at 0 (56 bytes), iovec at 56, the byte at 72, the cmsg at 80 (24).
const BLOCK: usize = 104;
const IOV: usize = 56;
const BYTE: usize = 72;
const CMSG: usize = 80;
/// CMSG_SPACE(sizeof(int)) and CMSG_LEN(sizeof(int)).
const CMSG_SPACE: usize = 24;
const CMSG_LEN: u64 = 20;
const MSG_FLAGS: usize = 48;
const KCMP_FILE: libc::c_long = 0;

/// Where a task is in receiving its O_PATH fd.
#[derive(Debug)]
pub(super) struct PathInstall {
    /// The sentry's copy of the fd, to recognise the one the task received.
    fd: OwnedFd,
    cloexec: bool,
    /// The open's `--strace` line, shown with its final result.
    strace: Option<(String, Option<Sysno>, Class)>,
    /// None while the install request of the helper is under way.
    running: Option<Running>,
}

/// The task runs `call` from `ip`; `original` (the open's registers) follows at the end,
/// `mask` is its signal mask to put back.
#[derive(Debug, Clone, Copy)]
struct Running {
    call: [u64; 4],
    ip: u64,
    original: Regs,
    mask: u64,
    then: Then,
}

/// What the step running now is, and what it knows.
#[derive(Debug, Clone, Copy)]
enum Then {
    /// recvmsg on the helper at `helper`, msghdr at `msg`.
    Received { helper: i32, msg: u64 },
    /// dup3 of the received `fd` onto `helper`.
    Moved { helper: i32, fd: i32 },
    /// close of the last spare fd; the open's result is `result`.
    Closed { result: i64 },
}

impl PathInstall {
    pub(super) fn new(fd: OwnedFd, cloexec: bool) -> Self {
        PathInstall {
            fd,
            cloexec,
            strace: None,
            running: None,
        }
    }
}

/// The helper for `fd`: the task's end of a socketpair whose other end sent `fd` and is
/// closed.
pub(super) fn helper_for(fd: &OwnedFd) -> std::result::Result<OwnedFd, Errno> {
    use nix::sys::socket::{
        sendmsg, socketpair, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType,
    };
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::Datagram,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    let fds = [fd.as_raw_fd()];
    let byte = [0u8; 1];
    let iov = [std::io::IoSlice::new(&byte)];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(ours.as_raw_fd(), &iov, &cmsg, MsgFlags::MSG_DONTWAIT, None)?;
    // Closed before the task holds its end: nothing the task sends reaches the sentry.
    drop(ours);
    Ok(theirs)
}

/// The msghdr block for a recvmsg whose block starts at `at` in the task.
fn msghdr_block(at: u64) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    let mut put = |offset: usize, value: u64| {
        b[offset..offset + 8].copy_from_slice(&value.to_ne_bytes());
    };
    put(16, at + IOV as u64); // msg_iov
    put(24, 1); // msg_iovlen
    put(32, at + CMSG as u64); // msg_control
    put(40, CMSG_SPACE as u64); // msg_controllen
    put(IOV, at + BYTE as u64); // iov_base
    put(IOV + 8, 1); // iov_len
    b
}

/// The fd number a recvmsg wrote into `block` (as read back from the task: untrusted),
/// or None if no fd came (MSG_CTRUNC, no SCM_RIGHTS message).
fn received_fd(block: &[u8; BLOCK]) -> Option<i32> {
    let word = |at: usize| i32::from_ne_bytes(block[at..at + 4].try_into().expect("4 bytes"));
    let len = u64::from_ne_bytes(block[CMSG..CMSG + 8].try_into().expect("8 bytes"));
    let truncated = word(MSG_FLAGS) & libc::MSG_CTRUNC != 0;
    let rights = word(CMSG + 8) == libc::SOL_SOCKET && word(CMSG + 12) == libc::SCM_RIGHTS;
    (!truncated && rights && len == CMSG_LEN).then(|| word(CMSG + 16))
}

/// Whether fd `theirs` of task `tid` is the open file `ours` of the sentry.
fn same_file(tid: Tid, theirs: i32, ours: &OwnedFd) -> bool {
    // SAFETY: kcmp takes plain integers and compares two fd-table entries; it reads no
    // memory of ours.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_kcmp,
            std::process::id() as libc::c_long,
            tid as libc::c_long,
            KCMP_FILE,
            ours.as_raw_fd() as libc::c_long,
            theirs as libc::c_long,
        )
    };
    rc == 0
}

impl Supervisor {
    /// An O_PATH open decided at a stop: the helper goes in as any installed fd (the caller
    /// turns the call into an install request); the steps follow at its exit stop.
    pub(super) fn path_installing(
        &mut self,
        tid: Tid,
        fd: OwnedFd,
        cloexec: bool,
        strace: Option<(String, Option<Sysno>, Class)>,
    ) -> std::result::Result<OwnedFd, Errno> {
        let helper = helper_for(&fd)?;
        let mut install = PathInstall::new(fd, cloexec);
        install.strace = strace;
        self.path_steps.insert(tid, install);
        Ok(helper)
    }

    /// Whether the call at this entry (or seccomp) stop is the step the sentry set up: it
    /// runs to its exit stop. A task in the steps makes no other call (its signals are
    /// blocked); if it did, the steps are given up and the call decided as any other.
    pub(super) fn path_step_entry(&mut self, stopped: &Stopped, info: &SyscallInfo) -> bool {
        let tid = stopped.tid();
        let Some(running) = self.path_steps.get(&tid).and_then(|p| p.running) else {
            return false;
        };
        let ours = info.nr == running.call[0]
            && info.args[..3] == running.call[1..]
            && stopped.regs().is_ok_and(|r| r.ip() == running.ip);
        if !ours {
            tracing::error!(
                target: "sentry::deny",
                "sentry: [pid {}] open: another call in the steps of an O_PATH install; given up",
                self.kernel.shown_pid(tid)
            );
            let _ = stopped.set_sigmask(running.mask);
            self.path_steps.remove(&tid);
        }
        ours
    }

    /// At a syscall-exit stop: the helper's install request sets up the first step; each
    /// step's exit sets up the next, the last puts the open's registers back with its
    /// result. The resume request to use, None for a stop that is not this module's.
    pub(super) fn path_at_exit(&mut self, stopped: &Stopped, rval: i64) -> Result<Option<Resume>> {
        let tid = stopped.tid();
        let Some(mut install) = self.path_steps.remove(&tid) else {
            return Ok(None);
        };
        let Some(running) = install.running else {
            if rval < 0 {
                // Interrupted by a signal: the open is made again (and decided again). Or
                // the helper found no slot: the open fails so (EMFILE), as Linux's would.
                Self::path_done(&install, rval);
                return Ok(None);
            }
            // The task's own registers, with the helper's number as the result.
            let original = stopped.regs()?;
            let mask = stopped.sigmask()?;
            stopped.set_sigmask(!0)?;
            let helper = rval as i32;
            let at = (original.sp() - 128 - BLOCK as u64) & !15;
            let (call, then) = match platform_ptrace::write_bytes(tid, at, &msghdr_block(at)) {
                Ok(()) => {
                    let flags = (libc::MSG_CMSG_CLOEXEC | libc::MSG_DONTWAIT) as u64;
                    let call = [Sysno::recvmsg.id() as u64, helper as u64, at, flags];
                    (call, Then::Received { helper, msg: at })
                }
                Err(_) => {
                    let result = -(libc::EFAULT as i64);
                    (close_call(helper), Then::Closed { result })
                }
            };
            install.running = Some(Running {
                call,
                ip: original.ip(),
                original,
                mask,
                then,
            });
            return self.path_run(stopped, install);
        };
        let regs = stopped.regs()?;
        if regs.ip() != running.ip || regs.syscall() as u64 != running.call[0] {
            // Not a step's exit (cannot be: the task makes no other call).
            self.path_steps.insert(tid, install);
            return Ok(None);
        }
        let failed = |helper: i32| {
            let result = -(libc::EMFILE as i64);
            (close_call(helper), Then::Closed { result })
        };
        let (call, then) = match running.then {
            Then::Received { helper, msg } => {
                let mut block = [0u8; BLOCK];
                let got = (rval == 1)
                    .then(|| self.kernel.mem.read(tid, msg, &mut block).ok())
                    .flatten()
                    .and_then(|_| received_fd(&block))
                    .filter(|&fd| fd >= 0 && same_file(tid, fd, &install.fd));
                match got {
                    Some(fd) => {
                        let flags = if install.cloexec { libc::O_CLOEXEC } else { 0 };
                        let dup3 = Sysno::dup3.id() as u64;
                        let call = [dup3, fd as u64, helper as u64, flags as u64];
                        (call, Then::Moved { helper, fd })
                    }
                    None => failed(helper),
                }
            }
            Then::Moved { helper, fd } if rval == i64::from(helper) => {
                (close_call(fd), Then::Closed { result: rval })
            }
            Then::Moved { helper, .. } => failed(helper),
            Then::Closed { result } => {
                let mut back = running.original;
                back.set_ret(result);
                stopped.set_regs(&back)?;
                stopped.set_sigmask(running.mask)?;
                Self::path_done(&install, result);
                return Ok(Some(self.steady()));
            }
        };
        install.running = Some(Running {
            call,
            then,
            ..running
        });
        self.path_run(stopped, install)
    }

    /// Sets the task up to run the step of `install` from the open's instruction.
    fn path_run(&mut self, stopped: &Stopped, install: PathInstall) -> Result<Option<Resume>> {
        let Some(running) = install.running else {
            return Ok(None);
        };
        let mut regs = running.original;
        regs.set_ip(running.ip - SYSCALL_INSN_LEN);
        regs.set_ret(running.call[0] as i64);
        for (i, value) in running.call[1..].iter().enumerate() {
            regs.set_arg(i, *value);
        }
        stopped.set_regs(&regs)?;
        self.path_steps.insert(stopped.tid(), install);
        Ok(Some(Resume::Syscall))
    }

    /// The open's `--strace` line, with its result.
    fn path_done(install: &PathInstall, result: i64) {
        if let Some((line, sysno, class)) = &install.strace {
            strace::emit(line, *sysno, result, *class);
        }
    }
}

fn close_call(fd: i32) -> [u64; 4] {
    [Sysno::close.id() as u64, fd as u64, 0, 0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_msghdr_points_into_its_own_block() {
        let at = 0x7fff_0000_1000;
        let b = msghdr_block(at);
        let word = |o: usize| u64::from_ne_bytes(b[o..o + 8].try_into().unwrap());
        assert_eq!(word(0), 0, "no name");
        assert_eq!(word(16), at + IOV as u64);
        assert_eq!(word(24), 1);
        assert_eq!(word(32), at + CMSG as u64);
        assert_eq!(word(40), CMSG_SPACE as u64);
        assert_eq!(word(IOV), at + BYTE as u64);
        assert_eq!(word(IOV + 8), 1);
        assert_eq!(
            CMSG_SPACE,
            // SAFETY: CMSG_SPACE computes a size from an integer.
            unsafe { libc::CMSG_SPACE(4) } as usize
        );
        // SAFETY: CMSG_LEN computes a size from an integer.
        assert_eq!(CMSG_LEN, unsafe { libc::CMSG_LEN(4) } as u64);
    }

    fn with_cmsg(len: u64, level: i32, kind: i32, fd: i32, flags: i32) -> [u8; BLOCK] {
        let mut b = msghdr_block(0x1000);
        b[MSG_FLAGS..MSG_FLAGS + 4].copy_from_slice(&flags.to_ne_bytes());
        b[CMSG..CMSG + 8].copy_from_slice(&len.to_ne_bytes());
        b[CMSG + 8..CMSG + 12].copy_from_slice(&level.to_ne_bytes());
        b[CMSG + 12..CMSG + 16].copy_from_slice(&kind.to_ne_bytes());
        b[CMSG + 16..CMSG + 20].copy_from_slice(&fd.to_ne_bytes());
        b
    }

    #[test]
    fn only_one_whole_scm_rights_message_names_a_received_fd() {
        let (s, r) = (libc::SOL_SOCKET, libc::SCM_RIGHTS);
        assert_eq!(received_fd(&with_cmsg(CMSG_LEN, s, r, 7, 0)), Some(7));
        assert_eq!(
            received_fd(&with_cmsg(CMSG_LEN, s, r, 7, libc::MSG_CTRUNC)),
            None
        );
        assert_eq!(received_fd(&with_cmsg(0, 0, 0, 0, 0)), None);
        assert_eq!(received_fd(&with_cmsg(CMSG_LEN, s, 2, 7, 0)), None);
        assert_eq!(received_fd(&with_cmsg(CMSG_LEN + 4, s, r, 7, 0)), None);
    }

    #[test]
    fn the_helper_carries_the_fd_and_has_no_peer() {
        let file = std::fs::File::open("/").unwrap();
        let fd: OwnedFd = file.into();
        let helper = helper_for(&fd).unwrap();
        let mut byte = [0u8; 1];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let mut iov = [std::io::IoSliceMut::new(&mut byte)];
        let msg = nix::sys::socket::recvmsg::<()>(
            helper.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            nix::sys::socket::MsgFlags::MSG_DONTWAIT,
        )
        .unwrap();
        let got: Vec<i32> = msg
            .cmsgs()
            .unwrap()
            .filter_map(|c| match c {
                nix::sys::socket::ControlMessageOwned::ScmRights(fds) => Some(fds),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(got.len(), 1);
        // SAFETY: the fd was just received and is ours alone.
        let received = unsafe { OwnedFd::from_raw_fd(got[0]) };
        let me = std::process::id() as Tid;
        assert!(same_file(me, received.as_raw_fd(), &fd));
        // Another open of the same file is not the file sent; nor is a number held by nothing.
        let other: OwnedFd = std::fs::File::open("/").unwrap().into();
        assert!(!same_file(me, other.as_raw_fd(), &fd));
        assert!(!same_file(me, 1 << 20, &fd));
        // Nothing reaches the sentry's end: it is closed. A child that another test of this
        // process forks meanwhile holds a copy of it until its exec: the send fails once
        // that is over (the deadline bounds the event, it is not a delay).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let sent = loop {
            let sent = nix::sys::socket::send(
                helper.as_raw_fd(),
                b"x",
                nix::sys::socket::MsgFlags::MSG_DONTWAIT,
            );
            if sent.is_err() || std::time::Instant::now() > deadline {
                break sent;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        };
        assert!(sent.is_err(), "{sent:?}");
    }
}

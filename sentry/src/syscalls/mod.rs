//! Syscall handlers, one file per family, and the dispatch that applies the table.

pub mod args;
pub mod filter;
pub mod table;

mod clocks;
pub mod exec;
pub mod ids;
pub mod inet;
pub mod ipc;
pub mod memfd;
pub mod mm;
mod mount;
pub mod net;
pub mod netlink;
pub mod owner;
pub mod pid;
mod process;
pub mod rlimit;
pub mod signalfd;
pub mod socket_memory;
mod sys_cwd;
mod sys_ioctl;
mod sys_namei;
mod sys_open;
pub mod sys_signal;
mod sys_stat;
pub mod sys_wait;
pub mod sys_xattr;
mod terminals;
pub mod unix_address;
mod uts;
pub mod vfs;

#[cfg(test)]
mod tests;

use crate::kernel::Kernel;
use nix::errno::Errno;
use platform_ptrace::Tid;
use syscalls::Sysno;
use table::Class;

/// A call being decided: who makes it, and its six arguments (copied out of the registers).
pub struct Call<'a> {
    pub kernel: &'a mut Kernel,
    pub tid: Tid,
    pub sysno: Sysno,
    pub args: [u64; 6],
    /// The paths read out of the task, by argument index: read once, then every handler
    /// and `--strace` use this copy (another thread may have changed the task's since).
    pub paths: std::cell::RefCell<Vec<(usize, Vec<u8>)>>,
    /// openat2's RESOLVE_NO_MAGICLINKS: a /proc magic link met on the way is ELOOP.
    pub no_magic_links: bool,
}

impl<'a> Call<'a> {
    pub fn new(kernel: &'a mut Kernel, tid: Tid, sysno: Sysno, args: [u64; 6]) -> Self {
        Call {
            kernel,
            tid,
            sysno,
            args,
            paths: Default::default(),
            no_magic_links: false,
        }
    }

    /// The sentry's own duplicate of fd `fd` of the calling task.
    pub fn task_fd(&self, fd: i32) -> Result<std::os::fd::OwnedFd, nix::errno::Errno> {
        crate::host::task_fd(self.kernel.tgid_of(self.tid), fd)
    }
}

/// What the sentry does with a call.
#[derive(Debug)]
pub enum Action {
    /// The host runs it as the task made it.
    Pass,
    /// The host runs it with these arguments instead.
    PassWith([u64; 6]),
    /// The host runs it, and the sentry looks at the result at the exit stop.
    PassThenExit(ExitHook),
    /// The host runs it with these arguments, and the sentry looks at the result.
    PassWithThenExit([u64; 6], ExitHook),
    /// The host never runs it; the task sees this value (a negative errno on failure).
    Return(i64),
    /// The host runs another call, without pointers of the task's, in its place.
    PassAs { nr: u64, args: [u64; 6] },
    /// The host runs another call in its place, and the sentry makes the task's result of
    /// it at the exit stop.
    PassAsThenExit {
        nr: u64,
        args: [u64; 6],
        hook: ExitHook,
    },
    /// The program is executed in steps (see `exec`), starting with installing this fd.
    Exec {
        fd: std::os::fd::OwnedFd,
        state: Box<exec::InFlight>,
    },
    /// The host never runs it; this fd is placed in the task's table and its number returned.
    Install {
        fd: std::os::fd::OwnedFd,
        cloexec: bool,
    },
    /// As `Install`, for a terminal the caller takes as its controlling terminal, as Linux's
    /// open does for a session leader without one (no O_NOCTTY): before the open returns, the
    /// task itself makes ioctl(fd, TIOCSCTTY, 0) on the installed fd (see the supervisor).
    InstallTerminal {
        fd: std::os::fd::OwnedFd,
        cloexec: bool,
    },
    /// As `Install`, for an O_PATH fd, which seccomp's ADDFD refuses: the task receives it
    /// itself, over a socket the sentry installs for the purpose (see the supervisor's
    /// `path_fd`). Comes only from ptrace stops (O_PATH opens are never notified).
    InstallPath {
        fd: std::os::fd::OwnedFd,
        cloexec: bool,
    },
    /// As `Install`, for an open that may wait (a FIFO's): `open` runs on a thread of its
    /// own, and the task waits in its install request until it returns.
    InstallWhenOpened { fifo: FifoOpen, cloexec: bool },
    /// A call the sentry made itself would block, and the task asked to wait: the task
    /// waits in poll(2) on its own `fd` for `events` (in the kernel, interrupted by signals
    /// as the call would be), then `then`.
    WaitReady {
        fd: i32,
        events: i16,
        timeout_ms: i32,
        then: Ready,
    },
    /// As `Install`, at the lowest free number at or above `at_least` (an F_DUPFD of a
    /// signalfd).
    InstallAbove {
        fd: std::os::fd::OwnedFd,
        cloexec: bool,
        at_least: u32,
    },
    /// A call the kernel makes reading a host id from the task's memory (TIOCSPGRP's group,
    /// timer_create's thread): the host runs it with `args`, argument `arg` pointing at
    /// `host`, the bytes the task gave there (`own`) with the host's id in, placed for the
    /// call's length where no other task can read them: the tasks that share the caller's
    /// memory are held stopped (see the supervisor's `alone`), and the bytes lie in a
    /// private mapping ([`place_host_bytes`]). The task's own bytes go back when the call is
    /// over.
    PassWithHostBytes {
        args: [u64; 6],
        arg: usize,
        host: Vec<u8>,
        own: Vec<u8>,
    },
    /// rt_sigtimedwait with a siginfo to fill, and a signalfd's read: the task waits in
    /// ppoll(2) with the signals of `set` let through its mask (for at most `timeout`, a
    /// timespec as it was read), so that the signal it takes is delivered, and comes to the
    /// sentry at its delivery stop: the sentry writes what `delivery` says in the sandbox's
    /// terms and makes the call's result. The kernel never writes a siginfo with host ids
    /// into the task's memory, where another thread could read it (see the supervisor's
    /// `signal_wait`).
    WaitSignal {
        set: u64,
        timeout: Option<[u8; 16]>,
        delivery: Delivery,
    },
}

/// Where the signal an [`Action::WaitSignal`] takes goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// rt_sigtimedwait: its siginfo at `at`; the result is the signal's number.
    Siginfo { at: u64 },
    /// A signalfd's read: one record at `at`; the result is its size.
    Record { at: u64 },
    /// A signalfd's readv: one record over the iovecs at `iov`.
    RecordVector { iov: u64, count: u64 },
}

impl Delivery {
    /// The result of a wait that a signal it does not take interrupted: sigtimedwait fails
    /// with EINTR; a signalfd's read is restarted or fails per SA_RESTART, as Linux's.
    pub fn interrupted(self) -> i64 {
        match self {
            Delivery::Siginfo { .. } => -(libc::EINTR as i64),
            _ => -sys_signal::ERESTARTSYS,
        }
    }
}

/// What follows the wait of [`Action::WaitReady`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// The task makes its call again (and the sentry decides it again).
    Rerun,
    /// The call was a connect: its result is the socket's pending error.
    ConnectResult,
}

/// A blocking open of a FIFO (or of a file under a lease): `open` runs off the sentry's
/// loop; `other_end` opens the other end of a FIFO for a moment, which makes `open` return
/// (to cancel it); `key` names the file (device, inode) and the flags.
#[derive(Debug)]
pub struct FifoOpen {
    pub open: Opener,
    pub other_end: Option<OtherEnd>,
    pub key: (u64, u64, i32),
}

/// Opens the other end of a FIFO without waiting (and may be tried again).
pub struct OtherEnd(pub Box<dyn Fn() -> Result<std::os::fd::OwnedFd, gofer::Errno> + Send>);

impl std::fmt::Debug for OtherEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OtherEnd")
    }
}

/// An open that may wait, run off the sentry's loop.
pub struct Opener(pub Box<dyn FnOnce() -> Result<std::os::fd::OwnedFd, gofer::Errno> + Send>);

impl std::fmt::Debug for Opener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Opener")
    }
}

/// Work left for the syscall-exit-stop of a call the host ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitHook {
    /// Ids of fd owners, terminal groups and lock holders, in the caller's numbers.
    Owner(owner::OwnerHook),
    /// A call that ran with a host id in the caller's memory: the supervisor puts the
    /// task's own bytes back and lets the tasks that share its memory go on.
    Alone,
    /// SysV IPC: the sandbox's namespace and the call's result in its terms.
    Ipc(ipc::IpcHook),
    /// Put the AF_UNIX address written at (addr, len) in the sandbox's terms: whose it is,
    /// and `room`, the length of the task's buffer (the length word as the call began).
    FixUnixAddress {
        named: unix_address::UnixNamed,
        addr: u64,
        len: u64,
        room: u32,
    },
    /// recvmsg/recvmmsg on a socket with SO_PASSCRED: SCM_CREDENTIALS in the sandbox's
    /// numbers and ids. `vector`: recvmmsg's array of 64-byte entries.
    ReceivedCreds { msg: u64, vector: bool },
    /// The result is the caller's own host id: give its number instead.
    TranslatePid,
    /// clone/fork/vfork in the parent: the child's number.
    Clone,
    /// wait4/waitid: the reaped child's number; waitid's siginfo at `infop`, wait4's
    /// status at `status`.
    Reaped {
        infop: Option<u64>,
        status: u64,
        nowait: bool,
        /// A wait by a pidfd that does not block, made WNOHANG: no child is EAGAIN.
        eagain_if_none: bool,
    },
    /// Memory accounting: settle a charge against the host's result.
    Memory(mm::Hook),
    /// New sockets: their charges settled against the sockets made.
    SocketsMade(socket_memory::Made),
    /// waitid run as wait4 with the status word at `infop`: the siginfo made there by the
    /// sentry, in the caller's numbers and ids.
    WaitidAsWait4 { infop: u64, eagain_if_none: bool },
    /// waitid for exits with WNOWAIT, run without a siginfo: the sentry finds the child
    /// (of `idtype`/`id`, as host ids) and writes the siginfo at `infop`.
    WaitidPeek {
        infop: u64,
        idtype: i32,
        id: Tid,
        nohang: bool,
        eagain_if_none: bool,
    },
    /// A call the sentry had the task make for a waitid for stops or continues that it
    /// answers itself (`sys_wait::waitid_probed`), whose siginfo goes at `infop`.
    WaitidProbe {
        infop: u64,
        eagain_if_none: bool,
        asked: sys_wait::WaitAsk,
    },
    /// rt_sigtimedwait without a siginfo: a signal the task ignores ends no wait.
    Dequeued,
    /// The ppoll of [`Action::WaitSignal`] returned; `blocked`: the task's signal mask.
    SignalWait {
        set: u64,
        blocked: u64,
        delivery: Delivery,
    },
    /// accept on a loopback listener: the new socket's record, and its peer's address at
    /// (addr, len).
    Accepted { listener: u64, addr: u64, len: u64 },
    /// The poll of [`Action::WaitReady`] returned.
    Ready { fd: i32, then: Ready },
}

/// What a task's pending call needs at its exit stop.
#[derive(Debug)]
pub struct Pending {
    pub sysno: Option<Sysno>,
    /// The class that decided it, for `--strace`.
    pub class: Class,
    /// The call as `--strace` prints it, up to the result.
    pub strace_line: Option<String>,
    pub hook: Option<ExitHook>,
    /// The task's registers before the sentry turned its call into an fd-install request.
    pub restore: Option<platform_ptrace::Regs>,
    /// The task's registers before the sentry rewrote the call's arguments, put back at
    /// the exit stop (with the result).
    pub restore_on_restart: Option<platform_ptrace::Regs>,
    /// An exec in progress.
    pub exec: Option<Box<exec::InFlight>>,
    /// The task's signal mask, put back at the exit stop: every signal is held while the
    /// task waits in an install request for an fd that is ready.
    pub held_mask: Option<u64>,
}

fn errno(e: Errno) -> Action {
    Action::Return(-((e as i32) as i64))
}

/// A call the sentry answered whole (the memory it writes written): 0, or the errno.
fn answered(done: Result<(), Errno>) -> Action {
    done.map_or_else(errno, |()| Action::Return(0))
}

/// Applies the table to one call; returns the action and the class that took it.
pub fn decide(call: &mut Call) -> (Action, Class) {
    let nr = call.sysno.id() as u64;
    let entry = table::lookup(nr, table::Policy::of(call.kernel));
    let action = match (entry.class, entry.handler) {
        (Class::Passthrough, _) => Action::Pass,
        (Class::Deny(e), _) => {
            if table::is_known(nr) {
                deny_event(call, e as i32, "denied by the syscall table");
            } else if call.kernel.first_report(nr) {
                tracing::warn!(
                    target: "sentry::deny",
                    "sentry: [pid {}] {} denied (ENOSYS): not supported by the sentry",
                    call.kernel.shown_pid(call.tid),
                    call.sysno.name()
                );
            }
            errno(e)
        }
        (_, Some(handler)) => handler(call),
        (_, None) => {
            // The table gives a class that stops without a handler: refuse rather than pass.
            deny_event(
                call,
                Errno::ENOSYS as i32,
                "a call that stops without a handler",
            );
            tracing::error!("sentry: internal: no handler for {}", call.sysno.name());
            errno(Errno::ENOSYS)
        }
    };
    // A checked call that was refused shows as denied.
    let class = match (entry.class, &action) {
        (Class::Checked, Action::Return(v)) if *v < 0 => Class::Deny(Errno::from_raw(-*v as i32)),
        (class, _) => class,
    };
    (action, class)
}

/// Exit-stop fix-ups read and write task memory the kernel has just written. A failure
/// there means the sentry was cut off from the task, or another thread unmapped the memory
/// under it: the task must not go on with the host's values, so it is killed, with an event.
pub fn fix_read(mem: &dyn crate::host::TaskMemory, tid: Tid, addr: u64, buf: &mut [u8]) -> bool {
    let ok = mem.read(tid, addr, buf).is_ok();
    if !ok {
        fixup_failed(tid);
    }
    ok
}

/// Raises `signal` in the calling thread, as the kernel does for a call that fails with
/// it (SIGPIPE for a send on a closed stream, SIGXFSZ for a file grown past RLIMIT_FSIZE).
pub(super) fn raise_in_caller(call: &Call, signal: i32) {
    // SAFETY: tgkill of our tracee with a plain signal number.
    unsafe {
        libc::syscall(
            libc::SYS_tgkill,
            call.kernel.tgid_of(call.tid),
            call.tid,
            signal,
        )
    };
}

/// See [`fix_read`].
pub fn fix_write(mem: &dyn crate::host::TaskMemory, tid: Tid, addr: u64, data: &[u8]) -> bool {
    let ok = mem.write(tid, addr, data).is_ok();
    if !ok {
        fixup_failed(tid);
    }
    ok
}

/// Where the bytes `host` (with a host id) go for a call of task `tid` (stack pointer `sp`)
/// that reads them at `addr` ([`Action::PassWithHostBytes`]), once every other task sharing
/// its memory is stopped: at `addr` itself if they lie in a private mapping there, or else
/// (a page another process may map too) below the red zone of the task's stack, where a
/// signal frame would go, if that is private; EFAULT if neither is. They are written there
/// (a private page is the task's own copy, read-only or not); the caller points the call at
/// them and puts the task's own bytes back when the call is over.
pub fn place_host_bytes(
    mem: &dyn crate::host::TaskMemory,
    tid: Tid,
    addr: u64,
    sp: u64,
    host: &[u8],
) -> Result<u64, Errno> {
    let maps = mem.proc_file(tid, "maps").ok_or(Errno::EFAULT)?;
    let len = host.len() as u64;
    let scratch = sp.wrapping_sub(128 + len.next_multiple_of(16)) & !15;
    let at = [addr, scratch]
        .into_iter()
        .find(|&at| in_private_mapping(&maps, at, len))
        .ok_or(Errno::EFAULT)?;
    mem.write_forced(tid, at, host).map_err(|_| Errno::EFAULT)?;
    Ok(at)
}

/// Whether `len` bytes at `at` lie in one private mapping of a /proc/<pid>/maps text.
fn in_private_mapping(maps: &str, at: u64, len: u64) -> bool {
    let Some(end) = at.checked_add(len) else {
        return false;
    };
    maps.lines().any(|line| {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            return false;
        };
        let Some((start, stop)) = range.split_once('-') else {
            return false;
        };
        let parse = |hex| u64::from_str_radix(hex, 16).ok();
        matches!((parse(start), parse(stop)), (Some(s), Some(e)) if s <= at && end <= e)
            && perms.as_bytes().get(3) == Some(&b'p')
    })
}

/// A fix-up of a task's memory failed: the task, which could be left with the host's bytes,
/// is killed (unless it is gone already).
pub fn fixup_failed(tid: Tid) {
    // A task that is already gone (a thread that exited meanwhile, a zombie until the
    // sentry reaps it) has nothing to protect, and a signal to it would reach its process.
    let state = crate::host::task_state(tid);
    if !matches!(state, Some(s) if s != 'Z' && s != 'X') {
        return;
    }
    tracing::error!(
        target: "sentry::deny",
        "sentry: [tid {tid}] cannot put a call's result in the sandbox's terms in the task's memory; task killed"
    );
    // SAFETY: kill takes plain integers; `tid` is a tracee of ours (SIGKILL ends its process).
    unsafe { libc::kill(tid, libc::SIGKILL) };
}

/// The trace event for a refused call.
pub fn deny_event(call: &Call, e: i32, why: &str) {
    tracing::info!(
        target: "sentry::deny",
        "sentry: [pid {}] {} denied ({:?}): {why}",
        call.kernel.shown_pid(call.tid),
        call.sysno.name(),
        Errno::from_raw(e)
    );
}

/// The trace event for a call with a number outside the native x86_64 ABI
/// (`int 0x80`, x32, or beyond the table). Each kind and number warns once per sandbox;
/// later ones are debug events, so a program probing many numbers does not flood stderr.
pub fn foreign_abi_event(kernel: &mut Kernel, tid: Tid, what: &str, nr: u64) {
    let tid = kernel.shown_pid(tid);
    if !kernel.first_report(nr | (what.len() as u64) << 48) {
        tracing::debug!(target: "sentry::deny", "sentry: [pid {tid}] syscall {nr} via {what} denied (ENOSYS)");
        return;
    }
    tracing::warn!(
        target: "sentry::deny",
        "sentry: [pid {tid}] syscall {nr} via {what} denied (ENOSYS): only the native x86_64 ABI is served"
    );
}

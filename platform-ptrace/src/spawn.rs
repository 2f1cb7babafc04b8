//! Starting a program traced from its first instruction.
//!
//! The child is forked and waits on a pipe until the parent has seized it
//! (PTRACE_SEIZE with EXITKILL and automatic attach to every clone, fork and
//! vfork); only then does it prepare itself and call execve. The exec event
//! stop comes before the new program's first instruction.

use crate::notify::INSTALL_FILTER_FLAGS;
use crate::seccomp::Filter;
use crate::Tid;
use nix::errno::Errno;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// What to start and how.
pub struct SpawnSpec {
    /// Host path of the program handed to execve, when `exec_fd` is None.
    pub path: CString,
    /// An fd of the program to run with `execveat(fd, "", …, AT_EMPTY_PATH)` instead.
    pub exec_fd: Option<std::os::fd::RawFd>,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    /// Host directory to start in.
    pub cwd: CString,
    /// Put the child in a process group of its own.
    pub new_process_group: bool,
    /// Put the child in a session of its own with no controlling terminal (setsid), so
    /// that no terminal of the spawner's session is the child's to take the foreground of.
    /// Takes the place of `new_process_group` and `take_terminal`.
    pub new_session: bool,
    /// Make the child a child subreaper (PR_SET_CHILD_SUBREAPER): orphans of its
    /// descendants come to it, as to init in a PID namespace.
    pub child_subreaper: bool,
    /// Also make that group the foreground group of the terminal on fd 0.
    pub take_terminal: bool,
    /// A terminal of the child's own (the slave end of a pty): the child starts a session
    /// with it as its controlling terminal, in place of every one of fds 0–2 that is a
    /// terminal. Takes the place of `new_process_group` and `take_terminal`.
    pub terminal: Option<std::os::fd::RawFd>,
    /// Fds to make the child's 0, 1 and 2 (in place of the spawner's own); they must not
    /// be 0, 1 or 2 themselves.
    pub stdio: Option<[std::os::fd::RawFd; 3]>,
    /// The sandbox's filter: the calls it lets run in the kernel, the rest stop
    /// (PR_SET_NO_NEW_PRIVS is set first). It must trace the child's execve: the
    /// spawner takes the child's listener at that stop.
    pub seccomp: Filter,
    /// The fd-install filter, with the calls it notifies ([`crate::notify::listener_filter`]);
    /// its listener comes back in [`Spawned::listener`]. The child gets one program: this
    /// filter, and `seccomp` for the calls it does not notify. The actions combine as the
    /// kernel would combine two filters (a notification outranks TRACE and ALLOW, and this
    /// filter allows every call of another ABI, which `seccomp` traps), for one program's
    /// cost a call.
    pub listener_filter: Filter,
    /// Host uid and gid to switch to before execve (the spawner must be root), with no
    /// supplementary groups; None keeps the spawner's. Either way every capability set
    /// (bounding, inheritable, permitted, effective, ambient) is emptied as far as the
    /// spawner may, and the child fails rather than exec with a capability it could not
    /// drop (only the bounding set of an unprivileged spawner stays; NO_NEW_PRIVS makes
    /// it unusable).
    pub credentials: Option<(u32, u32)>,
}

/// A spawned, seized child that has been released towards its execve.
pub struct Spawned {
    pub tid: Tid,
    /// The listener of the child's filter; None when the child ended before installing it
    /// (its exec error tells why).
    pub listener: Option<OwnedFd>,
    /// Read end of a close-on-exec pipe: holds the errno of a failed execve.
    exec_error: OwnedFd,
}

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("cannot create a pipe: {0}")]
    Pipe(Errno),
    #[error("cannot fork: {0}")]
    Fork(Errno),
    #[error("cannot trace the child (PTRACE_SEIZE): {0}")]
    Seize(Errno),
    #[error("the sandbox's filter lets the child's execve run unseen")]
    Filter,
    #[error("cannot take the child's listener: {0}")]
    Listener(Errno),
}

const TRACE_OPTIONS: libc::c_int = libc::PTRACE_O_EXITKILL
    | libc::PTRACE_O_TRACESYSGOOD
    | libc::PTRACE_O_TRACECLONE
    | libc::PTRACE_O_TRACEFORK
    | libc::PTRACE_O_TRACEVFORK
    | libc::PTRACE_O_TRACEEXEC
    | libc::PTRACE_O_TRACESECCOMP;

fn pipe(flags: libc::c_int) -> Result<(OwnedFd, OwnedFd), SpawnError> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into the array we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), flags) } < 0 {
        return Err(SpawnError::Pipe(Errno::last()));
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn ptr_array(items: &[CString]) -> Vec<*const libc::c_char> {
    items
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// Forks, seizes and releases the child. The caller's wait loop sees the child's
/// stops from then on; the first of the new program is the exec event.
pub fn spawn(spec: &SpawnSpec) -> Result<Spawned, SpawnError> {
    let argv = ptr_array(&spec.argv);
    let envp = ptr_array(&spec.envp);
    let (go_read, go_write) = pipe(libc::O_CLOEXEC)?;
    let (err_read, err_write) = pipe(libc::O_CLOEXEC)?;
    let filter = spec.listener_filter.then_where_allowed(&spec.seccomp);
    let exec_nr = match spec.exec_fd {
        Some(_) => libc::SYS_execveat,
        None => libc::SYS_execve,
    };
    if filter.evaluate_call(bpf::AUDIT_ARCH_X86_64, exec_nr as u32, &[0; 6])
        != libc::SECCOMP_RET_TRACE
    {
        return Err(SpawnError::Filter);
    }

    // The child starts with every signal blocked (see `child_after_fork`).
    // SAFETY: sigset operations on locals; the calling thread's mask is put back below.
    let saved_mask = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut saved: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut saved);
        saved
    };
    // SAFETY: after fork the child runs only async-signal-safe calls on memory that
    // was fully prepared above (no allocation, no locks), then execs or _exits.
    let pid = unsafe { libc::fork() };
    if pid != 0 {
        // SAFETY: restores this thread's own mask, saved above.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &saved_mask, std::ptr::null_mut()) };
    }
    if pid < 0 {
        return Err(SpawnError::Fork(Errno::last()));
    }
    if pid == 0 {
        // SAFETY: see above; this block never returns.
        unsafe {
            child_after_fork(
                spec,
                go_read.as_raw_fd(),
                err_write.as_raw_fd(),
                &filter.instructions,
                &argv,
                &envp,
            )
        }
    }
    drop(go_read);
    drop(err_write);
    if spec.new_process_group && spec.terminal.is_none() && !spec.new_session {
        // Done in both processes so that neither order of execution leaves a window.
        // SAFETY: setpgid takes plain integers.
        unsafe { libc::setpgid(pid, pid) };
        if spec.take_terminal {
            give_terminal_to(pid);
        }
    }
    // SAFETY: PTRACE_SEIZE takes the options in `data` and no pointers.
    let rc = unsafe {
        libc::ptrace(
            libc::PTRACE_SEIZE,
            pid,
            std::ptr::null_mut::<libc::c_void>(),
            TRACE_OPTIONS as libc::c_long as *mut libc::c_void,
        )
    };
    if rc < 0 {
        let errno = Errno::last();
        // SAFETY: killing and reaping our own child; no pointers but the status slot.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
        return Err(SpawnError::Seize(errno));
    }
    // SAFETY: writing one byte from a local to a pipe we own.
    unsafe { libc::write(go_write.as_raw_fd(), b"g".as_ptr().cast(), 1) };
    let listener = take_listener(pid)?;
    Ok(Spawned {
        tid: pid,
        listener,
        exec_error: err_read,
    })
}

/// Waits for the child's execve, the first call its filter stops, which carries the
/// listener's number as its sixth argument (execve and execveat take five at most). Takes
/// the listener out of the child's table (pidfd_getfd: the spawner is its tracer) and
/// empties the child's signal mask (blocked since the fork, so that no signal stopped it
/// while nobody waited). The stop itself is left for the caller's first wait, which
/// decides the execve as any other. None when the child ended first: its exit is left for
/// the caller to reap too.
fn take_listener(pid: Tid) -> Result<Option<OwnedFd>, SpawnError> {
    loop {
        // SAFETY: an all-zero siginfo_t is valid; waitid writes into ours.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid on our own child, writing into `info`; WNOWAIT leaves the event
        // to the caller's wait.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WSTOPPED | libc::WNOWAIT | libc::__WALL,
            )
        };
        if rc < 0 {
            match Errno::last() {
                Errno::EINTR => continue,
                errno => return Err(SpawnError::Listener(errno)),
            }
        }
        if info.si_code != libc::CLD_TRAPPED {
            return Ok(None);
        }
        // SAFETY: the child is in a ptrace-stop (CLD_TRAPPED just above).
        let status = unsafe { info.si_status() };
        let stopped = crate::Stopped::new(pid);
        let regs = stopped
            .regs()
            .map_err(|_| SpawnError::Listener(Errno::ESRCH))?;
        let seccomp_stop = status == libc::SIGTRAP | (libc::PTRACE_EVENT_SECCOMP << 8);
        if !seccomp_stop || ![libc::SYS_execve, libc::SYS_execveat].contains(&regs.syscall()) {
            // Nothing else stops the child before its execve (its signals are blocked but
            // SIGSTOP's, which it gets no more of once it runs its program).
            let mut status = 0;
            // SAFETY: reaps the stop just seen, of our own child, into a c_int we own.
            unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
            let _ = stopped.resume(crate::Resume::Continue, 0);
            continue;
        }
        // SAFETY: pidfd_open and pidfd_getfd take plain integers and return new fds.
        let taken = unsafe {
            let pidfd = libc::syscall(libc::SYS_pidfd_open, pid, 0) as libc::c_int;
            let fd = match pidfd {
                -1 => -1,
                _ => libc::syscall(libc::SYS_pidfd_getfd, pidfd, regs.arg(5) as i32, 0) as i32,
            };
            let errno = Errno::last();
            if pidfd >= 0 {
                libc::close(pidfd);
            }
            match fd {
                -1 => Err(SpawnError::Listener(errno)),
                // SAFETY: pidfd_getfd just made this fd ours alone (close-on-exec).
                fd => Ok(OwnedFd::from_raw_fd(fd)),
            }
        };
        // The child stays stopped, for the caller's wait.
        let emptied = stopped.set_sigmask(0);
        return match (taken, emptied) {
            (Ok(listener), Ok(())) => Ok(Some(listener)),
            (Err(e), _) => Err(e),
            (Ok(_), Err(_)) => Err(SpawnError::Listener(Errno::ESRCH)),
        };
    }
}

/// Makes process group `pgrp` the foreground group of the terminal on fd 0.
/// SIGTTOU is blocked around the call, since the caller may be in the background.
pub fn give_terminal_to(pgrp: Tid) {
    // SAFETY: sigset operations on locals; tcsetpgrp takes plain integers.
    unsafe {
        let mut block: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut block);
        libc::sigaddset(&mut block, libc::SIGTTOU);
        libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut old);
        libc::tcsetpgrp(0, pgrp);
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
    }
}

/// The child's side: wait to be seized, prepare, execve.
///
/// # Safety
/// Must be called only in the child right after fork; uses only async-signal-safe calls.
unsafe fn child_after_fork(
    spec: &SpawnSpec,
    go: libc::c_int,
    err: libc::c_int,
    filter: &[libc::sock_filter],
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
) -> ! {
    let fail = |errno: i32| -> ! {
        let bytes = errno.to_ne_bytes();
        libc::write(err, bytes.as_ptr().cast(), bytes.len());
        libc::_exit(127)
    };
    let mut byte = 0u8;
    if libc::read(go, (&mut byte as *mut u8).cast(), 1) != 1 {
        // The parent died or failed to seize us: never run untraced.
        libc::_exit(125);
    }
    // The sentry blocks and ignores signals of its own; the program starts clean (the mask
    // is emptied by the spawner when it takes the listener, below).
    for sig in 1..32 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            libc::signal(sig, libc::SIG_DFL);
        }
    }
    if let Some(stdio) = spec.stdio {
        for (target, fd) in stdio.into_iter().enumerate() {
            if libc::dup2(fd, target as libc::c_int) < 0 {
                fail(*libc::__errno_location());
            }
        }
    }
    if let Some(tty) = spec.terminal {
        if libc::setsid() < 0 || libc::ioctl(tty, libc::TIOCSCTTY, 0) != 0 {
            fail(*libc::__errno_location());
        }
        for fd in 0..3 {
            if libc::isatty(fd) == 1 && libc::dup2(tty, fd) < 0 {
                fail(*libc::__errno_location());
            }
        }
    } else if spec.new_session {
        // Not a group leader yet (the parent makes no group for it), so setsid succeeds.
        if libc::setsid() < 0 {
            fail(*libc::__errno_location());
        }
    } else if spec.new_process_group {
        libc::setpgid(0, 0);
    }
    // Only stdin, stdout and stderr pass to the program: any other fd the sentry was
    // started with (a host file, a directory outside the rootfs) closes at execve.
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC) != 0 {
        fail(*libc::__errno_location());
    }
    if spec.child_subreaper && libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 {
        fail(*libc::__errno_location());
    }
    if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
        fail(*libc::__errno_location());
    }
    if libc::chdir(spec.cwd.as_ptr()) != 0 {
        fail(*libc::__errno_location());
    }
    if let Err(errno) = drop_privileges(spec.credentials) {
        fail(errno);
    }
    let listener = match bpf::install(filter, INSTALL_FILTER_FLAGS) {
        Ok(listener) => listener,
        Err(errno) => fail(errno as i32),
    };
    // The filter's first stop: the spawner takes the listener, named in the sixth
    // argument (left open here: the kernel made it close-on-exec), and empties the
    // signal mask.
    match spec.exec_fd {
        Some(fd) => {
            libc::syscall(
                libc::SYS_execveat,
                fd,
                c"".as_ptr(),
                argv.as_ptr(),
                envp.as_ptr(),
                libc::AT_EMPTY_PATH,
                listener,
            );
        }
        None => {
            libc::syscall(
                libc::SYS_execve,
                spec.path.as_ptr(),
                argv.as_ptr(),
                envp.as_ptr(),
                0,
                0,
                listener,
            );
        }
    }
    fail(*libc::__errno_location())
}

/// Capability numbers tried: every one a 64-bit set can hold (the kernel answers EINVAL
/// above its own last one).
const CAP_MAX: libc::c_ulong = 63;

/// Linux's capability ABI (linux/capability.h), version 3: two data words.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// The child's privileges before execve: the bounding set emptied (when it may be), the
/// ids switched (`credentials`), then inheritable, permitted, effective and ambient
/// emptied and checked. Errors are errnos for the exec-error pipe.
///
/// # Safety
/// Async-signal-safe (raw syscalls on locals only); called in the child after fork.
unsafe fn drop_privileges(credentials: Option<(u32, u32)>) -> Result<(), i32> {
    let errno = || *libc::__errno_location();
    // The bounding set first: dropping needs CAP_SETPCAP, which the id switch takes away.
    for cap in 0..=CAP_MAX {
        if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) != 0
            && errno() != libc::EINVAL
            && credentials.is_some()
        {
            return Err(errno());
        }
    }
    if let Some((uid, gid)) = credentials {
        if libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) != 0
            || libc::syscall(libc::SYS_setresgid, gid, gid, gid) != 0
            || libc::syscall(libc::SYS_setresuid, uid, uid, uid) != 0
        {
            return Err(errno());
        }
    }
    if libc::prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
        0,
        0,
        0,
    ) != 0
        && errno() != libc::EINVAL
    {
        return Err(errno());
    }
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    if libc::syscall(
        libc::SYS_capset,
        &mut header as *mut CapHeader,
        data.as_ptr(),
    ) != 0
    {
        return Err(errno());
    }
    // Fail closed: nothing may be left in the sets the program could use.
    if libc::syscall(
        libc::SYS_capget,
        &mut header as *mut CapHeader,
        data.as_mut_ptr(),
    ) != 0
    {
        return Err(errno());
    }
    if data
        .iter()
        .any(|d| d.effective | d.permitted | d.inheritable != 0)
    {
        return Err(libc::EPERM);
    }
    if credentials.is_some() {
        for cap in 0..=CAP_MAX {
            if libc::prctl(libc::PR_CAPBSET_READ, cap, 0, 0, 0) > 0 {
                return Err(libc::EPERM);
            }
        }
    }
    Ok(())
}

impl Spawned {
    /// The errno of the child's failed execve, once the child has exited without exec.
    pub fn exec_error(&self) -> Option<Errno> {
        let mut bytes = [0u8; 4];
        // SAFETY: reading into a local buffer from a pipe we own; the write end is closed.
        let n = unsafe { libc::read(self.exec_error.as_raw_fd(), bytes.as_mut_ptr().cast(), 4) };
        (n == 4).then(|| Errno::from_raw(i32::from_ne_bytes(bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_that_lets_the_execve_run_is_refused() {
        let spec = SpawnSpec {
            path: c"/bin/true".into(),
            exec_fd: None,
            argv: vec![c"true".into()],
            envp: vec![],
            cwd: c"/".into(),
            new_process_group: false,
            new_session: false,
            child_subreaper: false,
            take_terminal: false,
            terminal: None,
            stdio: None,
            seccomp: Filter::allow_list(&[libc::SYS_execve as u32]),
            listener_filter: crate::notify::install_filter([1, 2]),
            credentials: None,
        };
        // Refused before any fork: the spawner could not take the child's listener.
        assert!(matches!(spawn(&spec), Err(SpawnError::Filter)));
    }
}

//! Seccomp filters for the `seccomp-bpf` and `seccomp-notify` configurations, built as
//! [`bpf::chain`]s, and the minimal user-notification supervisor.
//!
//! [`send_fd`] runs in the forked child between `fork` and `exec` (after [`bpf::install`]):
//! it makes raw system calls only and allocates nothing, so it is safe to call from
//! `CommandExt::pre_exec`.

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::str::FromStr;

use bpf::chain::{self, Check, Fallback, Rule};
use bpf::ret_errno;
use libc::sock_filter;
use syscalls::Sysno;

/// The x86_64 names of the unconditional allow list of Docker's default seccomp profile
/// (moby `profiles/seccomp/default.json`, for a container without added capabilities, on a
/// kernel ≥ 4.8), including the x86-only entries `arch_prctl` and `modify_ldt`. The
/// conditional entries (clone, clone3, socket, personality) are in [`docker_default_filter`].
pub const DOCKER_ALLOW: &[&str] = &[
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "clock_adjtime",
    "clock_getres",
    "clock_gettime",
    "clock_nanosleep",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchown",
    "fchownat",
    "fcntl",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstatfs",
    "fsync",
    "ftruncate",
    "futex",
    "futex_waitv",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "geteuid",
    "getgid",
    "getgroups",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresuid",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listxattr",
    "llistxattr",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "madvise",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedsend",
    "mq_unlink",
    "mremap",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recvfrom",
    "recvmmsg",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "sendfile",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsuid",
    "setgid",
    "setgroups",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setresgid",
    "setresuid",
    "setreuid",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setxattr",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "socketpair",
    "splice",
    "stat",
    "statfs",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_settime",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_settime",
    "times",
    "tkill",
    "truncate",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "write",
    "writev",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "arch_prctl",
    "modify_ldt",
];

/// Namespace flags that Docker's profile refuses in `clone` without CAP_SYS_ADMIN.
const CLONE_NS_MASK: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP) as u32;

/// Values of `personality(2)`'s argument that Docker's profile allows.
const PERSONALITY_ALLOWED: &[u32] = &[0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

fn sysno(name: &str) -> Option<u32> {
    Sysno::from_str(name).ok().map(|s| s.id() as u32)
}

/// Both filters kill a call of another architecture and refuse x32 numbers.
const fn fallback(unlisted: u32) -> Fallback {
    Fallback {
        foreign_arch: libc::SECCOMP_RET_KILL_PROCESS,
        x32: ret_errno(libc::EPERM),
        unlisted,
    }
}

/// An allow-list filter in the manner of Docker's default profile: the listed calls are
/// allowed, `clone` without namespace flags is allowed, `clone3` fails with ENOSYS (so libc
/// falls back to `clone`), `socket` is allowed except for AF_VSOCK, `personality` only for
/// the usual values, and everything else fails with EPERM. The comparisons form a linear
/// chain, as libseccomp emits by default.
pub fn docker_default_filter() -> Vec<sock_filter> {
    let deny = ret_errno(libc::EPERM);
    let mut rules: Vec<Rule> = DOCKER_ALLOW
        .iter()
        .filter_map(|n| sysno(n))
        .map(Rule::allow)
        .collect();
    let rule = |nr: Sysno, check, otherwise| Rule {
        nr: nr.id() as u32,
        check,
        otherwise,
    };
    rules.extend([
        // clone: allowed when no namespace flag is set in the low 32 bits of the flags.
        rule(
            Sysno::clone,
            Check::MaskedZero {
                arg: 0,
                mask: CLONE_NS_MASK,
            },
            deny,
        ),
        rule(Sysno::clone3, Check::Never, ret_errno(libc::ENOSYS)),
        rule(
            Sysno::socket,
            Check::Ne {
                arg: 0,
                value: libc::AF_VSOCK as u32,
            },
            deny,
        ),
        rule(
            Sysno::personality,
            Check::In {
                arg: 0,
                values: PERSONALITY_ALLOWED,
            },
            deny,
        ),
    ]);
    chain::compile(&rules, fallback(deny)).expect("the Docker list fits a program")
}

/// The user-notification filter: every call goes to the supervisor, except `sendmsg`, which
/// the child needs to hand the listener to the supervisor before anyone can answer.
pub fn notify_filter() -> Vec<sock_filter> {
    let sendmsg = [Rule::allow(Sysno::sendmsg.id() as u32)];
    chain::compile(&sendmsg, fallback(libc::SECCOMP_RET_USER_NOTIF)).expect("one rule fits")
}

/// Room for one `cmsghdr` carrying one fd, aligned for `cmsghdr`.
#[repr(C, align(8))]
struct CmsgBuf([u8; 32]);

/// Sends `fd` over the Unix socket `sock` with SCM_RIGHTS (one data byte).
///
/// Async-signal-safe: raw system calls and stack buffers only.
pub fn send_fd(sock: RawFd, fd: RawFd) -> io::Result<()> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut buf = CmsgBuf([0; 32]);
    // SAFETY: CMSG_SPACE is pure arithmetic on a constant.
    let space = unsafe { libc::CMSG_SPACE(mem::size_of::<RawFd>() as u32) } as usize;
    debug_assert!(space <= buf.0.len());
    // SAFETY: msghdr is plain data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = buf.0.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: `msg` has a control buffer of `space` bytes, enough for one header and one fd,
    // so CMSG_FIRSTHDR is non-null and CMSG_DATA points inside `buf`.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
    }
    // SAFETY: every pointer in `msg` refers to live stack buffers of the stated sizes.
    let r = unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Receives one fd sent by [`send_fd`]. `Ok(None)` when the peer closed without sending.
pub fn recv_fd(sock: RawFd) -> io::Result<Option<OwnedFd>> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut buf = CmsgBuf([0; 32]);
    // SAFETY: msghdr is plain data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = buf.0.as_mut_ptr().cast();
    msg.msg_controllen = buf.0.len() as _;
    let r = loop {
        // SAFETY: every pointer in `msg` refers to live stack buffers of the stated sizes.
        let r = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if r < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        break r;
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    if r == 0 {
        return Ok(None);
    }
    // SAFETY: the kernel filled `msg`; CMSG_FIRSTHDR/NXTHDR walk only within msg_controllen.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>());
                // SAFETY: SCM_RIGHTS installed a new fd in this process that nothing else owns.
                return Ok(Some(OwnedFd::from_raw_fd(fd)));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok(None)
}

/// SECCOMP_IOCTL_NOTIF_SET_FLAGS and its one flag (Linux 6.6).
const SECCOMP_IOCTL_NOTIF_SET_FLAGS: libc::c_ulong = 0x4008_2104;
const SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP: u64 = 1;

/// The minimal supervisor: receives every notification on `listener` and answers
/// SECCOMP_USER_NOTIF_FLAG_CONTINUE, until no task uses the filter any more (POLLHUP).
/// With `sync`, the kernel switches straight between the task and this thread
/// (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP). Returns the number of notifications answered.
pub fn supervise(listener: &OwnedFd, sync: bool) -> io::Result<u64> {
    let fd = listener.as_raw_fd();
    if sync {
        // SAFETY: the ioctl takes a plain integer.
        let r = unsafe {
            libc::ioctl(
                fd,
                SECCOMP_IOCTL_NOTIF_SET_FLAGS,
                SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    let mut answered = 0u64;
    loop {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, -1) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if pfd.revents & libc::POLLIN == 0 {
            if pfd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
                return Ok(answered);
            }
            continue;
        }
        // SAFETY: seccomp_notif is plain data; the kernel requires it zeroed before RECV.
        let mut req: libc::seccomp_notif = unsafe { mem::zeroed() };
        // SAFETY: `req` is a valid, writable seccomp_notif for the RECV ioctl.
        let r = unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) };
        if r < 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                // The task died or was interrupted between poll and recv.
                Some(libc::ENOENT) | Some(libc::EINTR) => continue,
                _ => return Err(e),
            }
        }
        let mut resp = libc::seccomp_notif_resp {
            id: req.id,
            val: 0,
            error: 0,
            flags: libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
        };
        // SAFETY: `resp` is a valid seccomp_notif_resp for the SEND ioctl.
        let r = unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ENOENT) {
                return Err(e);
            }
        }
        answered += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use bpf::{AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};

    fn eval(prog: &[sock_filter], arch: u32, nr: u32, arg0: u64) -> u32 {
        bpf::evaluate(prog, arch, nr, &[arg0, 0, 0, 0, 0, 0])
    }

    fn nr(s: Sysno) -> u32 {
        s.id() as u32
    }

    const EPERM: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;

    #[test]
    fn every_allow_list_name_is_an_x86_64_syscall() {
        for name in DOCKER_ALLOW {
            assert!(sysno(name).is_some(), "{name} is not an x86_64 syscall");
        }
    }

    #[test]
    fn docker_filter_allows_the_list_and_denies_the_rest() {
        let p = docker_default_filter();
        assert!(p.len() < 4096);
        let allow = libc::SECCOMP_RET_ALLOW;
        for s in [
            Sysno::getpid,
            Sysno::openat,
            Sysno::execve,
            Sysno::wait4,
            Sysno::brk,
        ] {
            assert_eq!(eval(&p, AUDIT_ARCH_X86_64, nr(s), 0), allow, "{s}");
        }
        for s in [
            Sysno::mount,
            Sysno::unshare,
            Sysno::reboot,
            Sysno::kexec_load,
            Sysno::bpf,
        ] {
            assert_eq!(eval(&p, AUDIT_ARCH_X86_64, nr(s), 0), EPERM, "{s}");
        }
        assert_eq!(eval(&p, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 39, 0), EPERM);
        assert_eq!(
            eval(&p, 0x4000_0003, nr(Sysno::getpid), 0),
            libc::SECCOMP_RET_KILL_PROCESS
        );
    }

    #[test]
    fn docker_filter_conditions_on_arguments() {
        let p = docker_default_filter();
        let a = AUDIT_ARCH_X86_64;
        let allow = libc::SECCOMP_RET_ALLOW;
        let fork_flags = (libc::CLONE_CHILD_SETTID | libc::CLONE_CHILD_CLEARTID) as u64 | 17;
        assert_eq!(eval(&p, a, nr(Sysno::clone), fork_flags), allow);
        assert_eq!(
            eval(
                &p,
                a,
                nr(Sysno::clone),
                fork_flags | libc::CLONE_NEWUSER as u64
            ),
            EPERM
        );
        assert_eq!(
            eval(&p, a, nr(Sysno::clone3), 0),
            libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32
        );
        assert_eq!(eval(&p, a, nr(Sysno::socket), libc::AF_UNIX as u64), allow);
        assert_eq!(eval(&p, a, nr(Sysno::socket), libc::AF_VSOCK as u64), EPERM);
        for &v in PERSONALITY_ALLOWED {
            assert_eq!(eval(&p, a, nr(Sysno::personality), v as u64), allow);
        }
        assert_eq!(eval(&p, a, nr(Sysno::personality), 0x0040_0000), EPERM);
    }

    #[test]
    fn notify_filter_notifies_all_but_sendmsg() {
        let p = notify_filter();
        let a = AUDIT_ARCH_X86_64;
        assert_eq!(eval(&p, a, nr(Sysno::sendmsg), 0), libc::SECCOMP_RET_ALLOW);
        for s in [
            Sysno::getpid,
            Sysno::execve,
            Sysno::exit_group,
            Sysno::close,
        ] {
            assert_eq!(eval(&p, a, nr(s), 0), libc::SECCOMP_RET_USER_NOTIF);
        }
    }

    #[test]
    fn fds_cross_a_socketpair() {
        let mut sv = [0; 2];
        // SAFETY: `sv` has room for the two fds.
        let r = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                sv.as_mut_ptr(),
            )
        };
        assert_eq!(r, 0);
        // SAFETY: socketpair returned two fresh fds that we now own.
        let (a, b) = unsafe { (OwnedFd::from_raw_fd(sv[0]), OwnedFd::from_raw_fd(sv[1])) };
        let file = std::fs::File::open("/dev/null").unwrap();
        send_fd(a.as_raw_fd(), file.as_raw_fd()).unwrap();
        let got = recv_fd(b.as_raw_fd()).unwrap().expect("an fd");
        assert_ne!(got.as_raw_fd(), file.as_raw_fd());
        drop(a);
        assert!(recv_fd(b.as_raw_fd()).unwrap().is_none());
    }
}

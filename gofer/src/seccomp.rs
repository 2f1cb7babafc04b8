//! The gofer's own seccomp-BPF filter: an allow list compiled as a [`bpf::chain`].
//!
//! The architecture check kills a call of another architecture or an x32 call; then one
//! block per allowed system call, either `ret ALLOW` or an argument check that ends in
//! `ret ALLOW` / `ret <otherwise>`. Anything not listed kills the process.

use bpf::chain::{self, Check, Fallback, Rule};
use bpf::ret_errno;
use nix::errno::Errno;

const RET_KILL: u32 = libc::SECCOMP_RET_KILL_PROCESS;

const fn any(nr: i64) -> Rule {
    Rule::allow(nr as u32)
}

/// A call whose `check` must hold, else the process dies.
const fn only(nr: i64, check: Check) -> Rule {
    Rule {
        nr: nr as u32,
        check,
        otherwise: RET_KILL,
    }
}

const MKNOD_TYPES: &[u32] = &[0, libc::S_IFREG, libc::S_IFIFO, libc::S_IFSOCK];
const NO_EXEC: Check = Check::MaskedZero {
    arg: 2,
    mask: libc::PROT_EXEC as u32,
};
const FCNTL_CMDS: &[u32] = &[
    libc::F_GETFL as u32,
    libc::F_SETFL as u32,
    libc::F_GETFD as u32,
];

/// The gofer's rules. `sock` is its control socket: the only fd it sends or receives on.
pub fn gofer_rules(sock: i32) -> Vec<Rule> {
    let s = sock as u32;
    vec![
        // The protocol: one socket, one packet at a time.
        only(libc::SYS_recvmsg, Check::Eq { arg: 0, value: s }),
        only(libc::SYS_sendmsg, Check::Eq { arg: 0, value: s }),
        // Diagnostics on stderr only.
        only(libc::SYS_write, Check::Eq { arg: 0, value: 2 }),
        // Path resolution and the file operations themselves.
        any(libc::SYS_openat2),
        any(libc::SYS_close),
        any(libc::SYS_fstat),
        any(libc::SYS_newfstatat),
        any(libc::SYS_statx),
        any(libc::SYS_fstatfs),
        any(libc::SYS_readlinkat),
        any(libc::SYS_mkdirat),
        // Devices cannot be created even by a subverted gofer.
        Rule {
            nr: libc::SYS_mknodat as u32,
            check: Check::MaskedIn {
                arg: 2,
                mask: libc::S_IFMT,
                values: MKNOD_TYPES,
            },
            otherwise: ret_errno(libc::EPERM),
        },
        any(libc::SYS_unlinkat),
        // No whiteouts (they are character devices).
        Rule {
            nr: libc::SYS_renameat2 as u32,
            check: Check::MaskedZero {
                arg: 4,
                mask: libc::RENAME_WHITEOUT,
            },
            otherwise: ret_errno(libc::EPERM),
        },
        any(libc::SYS_linkat),
        any(libc::SYS_symlinkat),
        any(libc::SYS_fchmodat),
        any(libc::SYS_fchownat),
        any(libc::SYS_utimensat),
        any(libc::SYS_ftruncate),
        any(libc::SYS_faccessat2),
        // xattrs through /proc/self/fd/N (the path variants follow the magic link to the inode).
        any(libc::SYS_getxattr),
        any(libc::SYS_setxattr),
        any(libc::SYS_listxattr),
        any(libc::SYS_removexattr),
        // AF_UNIX sockets bound or connected inside a mount. No other family: no network.
        Rule {
            nr: libc::SYS_socket as u32,
            check: Check::Eq {
                arg: 0,
                value: libc::AF_UNIX as u32,
            },
            otherwise: ret_errno(libc::EAFNOSUPPORT),
        },
        any(libc::SYS_bind),
        any(libc::SYS_connect),
        only(
            libc::SYS_getsockopt,
            Check::Eq {
                arg: 1,
                value: libc::SOL_SOCKET as u32,
            },
        ),
        // bind() of a long name happens relative to the parent directory.
        any(libc::SYS_fchdir),
        any(libc::SYS_umask),
        only(
            libc::SYS_fcntl,
            Check::In {
                arg: 1,
                values: FCNTL_CMDS,
            },
        ),
        // Memory for the allocator; never executable.
        any(libc::SYS_brk),
        only(libc::SYS_mmap, NO_EXEC),
        only(libc::SYS_mprotect, NO_EXEC),
        any(libc::SYS_munmap),
        any(libc::SYS_mremap),
        any(libc::SYS_madvise),
        // The runtime: locks, signal return, exit.
        any(libc::SYS_futex),
        any(libc::SYS_rt_sigreturn),
        // The Rust runtime disables the main thread's alternate signal stack at exit.
        any(libc::SYS_sigaltstack),
        any(libc::SYS_restart_syscall),
        any(libc::SYS_exit_group),
        any(libc::SYS_exit),
    ]
}

/// The gofer's filter, for its control socket `sock`.
pub fn filter(sock: i32) -> Result<Vec<libc::sock_filter>, Errno> {
    let kill = Fallback {
        foreign_arch: RET_KILL,
        x32: RET_KILL,
        unlisted: RET_KILL,
    };
    chain::compile(&gofer_rules(sock), kill)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` in a forked child under the gofer filter and returns its wait status.
    /// The child only makes system calls (no allocation) so forking a threaded test is sound.
    fn in_filtered_child(prog: &[libc::sock_filter], f: fn() -> i32) -> i32 {
        // SAFETY: the child only calls async-signal-safe functions (prctl, seccomp, socket,
        // close, syscall, _exit) before it exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let code = match bpf::install(prog, 0) {
                Ok(_) => f(),
                Err(_) => 100,
            };
            // SAFETY: _exit never returns and runs no destructors.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waiting on our own child with a valid status pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(r, pid);
        status
    }

    fn try_socket(family: i32) -> i32 {
        // SAFETY: plain socket(2) call; the fd is closed at once.
        let fd = unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
        if fd >= 0 {
            // SAFETY: closing the fd just created.
            unsafe { libc::close(fd) };
            0
        } else {
            Errno::last_raw()
        }
    }

    #[test]
    fn filter_decides_calls_by_their_arguments() {
        let p = filter(3).unwrap();
        let run = |arch, nr: i64, args: [u64; 6]| bpf::evaluate(&p, arch, nr as u32, &args);
        let call = |nr, args| run(bpf::AUDIT_ARCH_X86_64, nr, args);
        let (allow, eperm) = (libc::SECCOMP_RET_ALLOW, ret_errno(libc::EPERM));
        assert_eq!(call(libc::SYS_openat2, [9; 6]), allow);
        assert_eq!(call(libc::SYS_exit_group, [0; 6]), allow);
        assert_eq!(call(libc::SYS_recvmsg, [3, 0, 0, 0, 0, 0]), allow);
        assert_eq!(call(libc::SYS_recvmsg, [4, 0, 0, 0, 0, 0]), RET_KILL);
        assert_eq!(call(libc::SYS_write, [2, 0, 0, 0, 0, 0]), allow);
        assert_eq!(call(libc::SYS_write, [1, 0, 0, 0, 0, 0]), RET_KILL);
        let mknod = |mode: u32| call(libc::SYS_mknodat, [0, 0, u64::from(mode), 0, 0, 0]);
        assert_eq!(mknod(libc::S_IFIFO | 0o600), allow);
        assert_eq!(mknod(0o600), allow);
        assert_eq!(mknod(libc::S_IFCHR | 0o600), eperm);
        assert_eq!(mknod(libc::S_IFBLK), eperm);
        let whiteout = u64::from(libc::RENAME_WHITEOUT);
        assert_eq!(call(libc::SYS_renameat2, [0; 6]), allow);
        assert_eq!(call(libc::SYS_renameat2, [0, 0, 0, 0, whiteout, 0]), eperm);
        let inet = libc::AF_INET as u64;
        assert_eq!(call(libc::SYS_socket, [1, 0, 0, 0, 0, 0]), allow);
        assert_eq!(
            call(libc::SYS_socket, [inet, 0, 0, 0, 0, 0]),
            ret_errno(libc::EAFNOSUPPORT)
        );
        let sol_socket = libc::SOL_SOCKET as u64;
        assert_eq!(
            call(libc::SYS_getsockopt, [3, sol_socket, 0, 0, 0, 0]),
            allow
        );
        assert_eq!(call(libc::SYS_getsockopt, [3, 6, 0, 0, 0, 0]), RET_KILL);
        let fcntl = |cmd: i32| call(libc::SYS_fcntl, [3, cmd as u64, 0, 0, 0, 0]);
        assert_eq!(fcntl(libc::F_SETFL), allow);
        assert_eq!(fcntl(libc::F_SETOWN), RET_KILL);
        let exec = libc::PROT_READ | libc::PROT_EXEC;
        assert_eq!(call(libc::SYS_mmap, [0, 4096, 3, 0, 0, 0]), allow);
        assert_eq!(
            call(libc::SYS_mprotect, [0, 4096, exec as u64, 0, 0, 0]),
            RET_KILL
        );
        assert_eq!(call(libc::SYS_getuid, [0; 6]), RET_KILL);
        assert_eq!(call(libc::SYS_execve, [0; 6]), RET_KILL);
        assert_eq!(call(libc::SYS_openat2 | 0x4000_0000, [0; 6]), RET_KILL);
        assert_eq!(run(0x4000_0003, libc::SYS_openat2, [0; 6]), RET_KILL);
    }

    #[test]
    fn unix_sockets_allowed_inet_refused() {
        let prog = filter(3).unwrap();
        let status = in_filtered_child(&prog, || {
            if try_socket(libc::AF_UNIX) != 0 {
                return 1;
            }
            if try_socket(libc::AF_INET) != libc::EAFNOSUPPORT {
                return 2;
            }
            if try_socket(libc::AF_INET6) != libc::EAFNOSUPPORT {
                return 3;
            }
            if try_socket(libc::AF_NETLINK) != libc::EAFNOSUPPORT {
                return 4;
            }
            0
        });
        assert!(libc::WIFEXITED(status), "status {status:#x}");
        assert_eq!(libc::WEXITSTATUS(status), 0);
    }

    #[test]
    fn unlisted_call_kills_with_sigsys() {
        let prog = filter(3).unwrap();
        let status = in_filtered_child(&prog, || {
            // SAFETY: getuid has no arguments; it is not on the list, so the process dies.
            unsafe { libc::syscall(libc::SYS_getuid) };
            0
        });
        assert!(libc::WIFSIGNALED(status), "status {status:#x}");
        assert_eq!(libc::WTERMSIG(status), libc::SIGSYS);
    }

    #[test]
    fn device_mknod_refused_fifo_allowed() {
        let prog = filter(3).unwrap();
        let status = in_filtered_child(&prog, || {
            // SAFETY: mknodat with a static NUL-terminated name; refused before any effect.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_mknodat,
                    libc::AT_FDCWD,
                    c"/nonexistent-dir/x".as_ptr(),
                    libc::S_IFCHR | 0o600,
                    0,
                )
            };
            if r != -1 || Errno::last() != Errno::EPERM {
                return 1;
            }
            // A FIFO passes the filter and fails in the kernel (ENOENT: no such directory).
            // SAFETY: as above.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_mknodat,
                    libc::AT_FDCWD,
                    c"/nonexistent-dir/x".as_ptr(),
                    libc::S_IFIFO | 0o600,
                    0,
                )
            };
            if r != -1 || Errno::last() != Errno::ENOENT {
                return 2;
            }
            0
        });
        assert!(libc::WIFEXITED(status), "status {status:#x}");
        assert_eq!(libc::WEXITSTATUS(status), 0);
    }

    #[test]
    fn recvmsg_on_other_fd_kills() {
        let prog = filter(1000).unwrap();
        let status = in_filtered_child(&prog, || {
            // SAFETY: recvmsg on fd 0 with a null msghdr: refused by the filter before the kernel
            // looks at the pointer.
            unsafe {
                libc::syscall(
                    libc::SYS_recvmsg,
                    0,
                    std::ptr::null_mut::<libc::msghdr>(),
                    0,
                )
            };
            0
        });
        assert!(libc::WIFSIGNALED(status), "status {status:#x}");
        assert_eq!(libc::WTERMSIG(status), libc::SIGSYS);
    }
}

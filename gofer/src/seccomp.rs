//! The gofer's own seccomp-BPF filter: a hand-built classic BPF allow list.
//!
//! Layout: check `arch == AUDIT_ARCH_X86_64` (else kill), refuse x32 numbers (kill), then one
//! block per allowed system call: `ld nr; jeq NR ? body : next`, where the body is either
//! `ret ALLOW` or an argument check that ends in `ret ALLOW` / `ret <else action>`. Anything
//! not listed falls through to `ret KILL_PROCESS`.

use nix::errno::Errno;

/// `AUDIT_ARCH_X86_64` (EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE).
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

const RET_ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const RET_KILL: u32 = libc::SECCOMP_RET_KILL_PROCESS;

fn ret_errno(e: Errno) -> u32 {
    libc::SECCOMP_RET_ERRNO | (e as u32 & libc::SECCOMP_RET_DATA)
}

// Offsets in `struct seccomp_data`.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
fn off_arg_lo(arg: u32) -> u32 {
    16 + 8 * arg
}

/// What a rule demands of the call's arguments (low 32 bits: every argument checked is an
/// `int`/`unsigned int`, which the kernel truncates to 32 bits).
#[derive(Clone, Copy, Debug)]
pub enum Check {
    /// Any arguments.
    Any,
    /// `arg == value`.
    Eq { arg: u32, value: u32 },
    /// `(arg & mask)` is one of `values`.
    MaskedIn {
        arg: u32,
        mask: u32,
        values: &'static [u32],
    },
    /// `(arg & mask) == 0`.
    MaskedZero { arg: u32, mask: u32 },
}

/// One allowed system call; `otherwise` is the action when `check` fails.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub nr: i64,
    pub check: Check,
    pub otherwise: u32,
}

const fn any(nr: i64) -> Rule {
    Rule {
        nr,
        check: Check::Any,
        otherwise: RET_KILL,
    }
}

const MKNOD_TYPES: &[u32] = &[0, libc::S_IFREG, libc::S_IFIFO, libc::S_IFSOCK];
const FCNTL_CMDS: &[u32] = &[
    libc::F_GETFL as u32,
    libc::F_SETFL as u32,
    libc::F_GETFD as u32,
];
const SOCKOPT_LEVELS: &[u32] = &[libc::SOL_SOCKET as u32];

/// The gofer's rules. `sock` is its control socket: the only fd it sends or receives on.
pub fn gofer_rules(sock: i32) -> Vec<Rule> {
    let s = sock as u32;
    vec![
        // The protocol: one socket, one packet at a time.
        Rule {
            nr: libc::SYS_recvmsg,
            check: Check::Eq { arg: 0, value: s },
            otherwise: RET_KILL,
        },
        Rule {
            nr: libc::SYS_sendmsg,
            check: Check::Eq { arg: 0, value: s },
            otherwise: RET_KILL,
        },
        // Diagnostics on stderr only.
        Rule {
            nr: libc::SYS_write,
            check: Check::Eq { arg: 0, value: 2 },
            otherwise: RET_KILL,
        },
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
            nr: libc::SYS_mknodat,
            check: Check::MaskedIn {
                arg: 2,
                mask: libc::S_IFMT,
                values: MKNOD_TYPES,
            },
            otherwise: ret_errno(Errno::EPERM),
        },
        any(libc::SYS_unlinkat),
        // No whiteouts (they are character devices).
        Rule {
            nr: libc::SYS_renameat2,
            check: Check::MaskedZero {
                arg: 4,
                mask: libc::RENAME_WHITEOUT,
            },
            otherwise: ret_errno(Errno::EPERM),
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
            nr: libc::SYS_socket,
            check: Check::Eq {
                arg: 0,
                value: libc::AF_UNIX as u32,
            },
            otherwise: ret_errno(Errno::EAFNOSUPPORT),
        },
        any(libc::SYS_bind),
        any(libc::SYS_connect),
        Rule {
            nr: libc::SYS_getsockopt,
            check: Check::MaskedIn {
                arg: 1,
                mask: u32::MAX,
                values: SOCKOPT_LEVELS,
            },
            otherwise: RET_KILL,
        },
        // bind() of a long name happens relative to the parent directory.
        any(libc::SYS_fchdir),
        any(libc::SYS_umask),
        Rule {
            nr: libc::SYS_fcntl,
            check: Check::MaskedIn {
                arg: 1,
                mask: u32::MAX,
                values: FCNTL_CMDS,
            },
            otherwise: RET_KILL,
        },
        // Memory for the allocator; never executable.
        any(libc::SYS_brk),
        Rule {
            nr: libc::SYS_mmap,
            check: Check::MaskedZero {
                arg: 2,
                mask: libc::PROT_EXEC as u32,
            },
            otherwise: RET_KILL,
        },
        Rule {
            nr: libc::SYS_mprotect,
            check: Check::MaskedZero {
                arg: 2,
                mask: libc::PROT_EXEC as u32,
            },
            otherwise: RET_KILL,
        },
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

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

const LD_W_ABS: u32 = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
const JEQ_K: u32 = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;
const JSET_K: u32 = libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K;
const AND_K: u32 = libc::BPF_ALU | libc::BPF_AND | libc::BPF_K;
const RET_K: u32 = libc::BPF_RET | libc::BPF_K;

/// Compiles rules into a classic BPF program. Errors only if a rule is too large to jump over
/// (more than 255 instructions), which the fixed rule set never is.
pub fn compile(rules: &[Rule]) -> Result<Vec<libc::sock_filter>, Errno> {
    let mut p = vec![
        stmt(LD_W_ABS, OFF_ARCH),
        jump(JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(RET_K, RET_KILL),
        stmt(LD_W_ABS, OFF_NR),
        jump(JSET_K, X32_SYSCALL_BIT, 0, 1),
        stmt(RET_K, RET_KILL),
    ];
    for rule in rules {
        let mut body = Vec::new();
        match rule.check {
            Check::Any => body.push(stmt(RET_K, RET_ALLOW)),
            Check::Eq { arg, value } => {
                body.push(stmt(LD_W_ABS, off_arg_lo(arg)));
                body.push(jump(JEQ_K, value, 0, 1));
                body.push(stmt(RET_K, RET_ALLOW));
                body.push(stmt(RET_K, rule.otherwise));
            }
            Check::MaskedIn { arg, mask, values } => {
                body.push(stmt(LD_W_ABS, off_arg_lo(arg)));
                body.push(stmt(AND_K, mask));
                let n = values.len();
                for (i, v) in values.iter().enumerate() {
                    let jt = u8::try_from(n - i).map_err(|_| Errno::E2BIG)?;
                    body.push(jump(JEQ_K, *v, jt, 0));
                }
                body.push(stmt(RET_K, rule.otherwise));
                body.push(stmt(RET_K, RET_ALLOW));
            }
            Check::MaskedZero { arg, mask } => {
                body.push(stmt(LD_W_ABS, off_arg_lo(arg)));
                body.push(jump(JSET_K, mask, 0, 1));
                body.push(stmt(RET_K, rule.otherwise));
                body.push(stmt(RET_K, RET_ALLOW));
            }
        }
        let skip = u8::try_from(body.len()).map_err(|_| Errno::E2BIG)?;
        p.push(stmt(LD_W_ABS, OFF_NR));
        p.push(jump(JEQ_K, rule.nr as u32, 0, skip));
        p.extend(body);
    }
    p.push(stmt(RET_K, RET_KILL));
    if p.len() > libc::BPF_MAXINSNS as usize {
        return Err(Errno::E2BIG);
    }
    Ok(p)
}

/// Sets PR_SET_NO_NEW_PRIVS and installs `prog` on the calling thread (the gofer has one).
/// Allocation-free, so it may run in a freshly forked child.
pub fn install(prog: &[libc::sock_filter]) -> Result<(), Errno> {
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: prctl with integer arguments only.
    Errno::result(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) })?;
    // SAFETY: `fprog` points at `prog`, which outlives the call; the kernel copies the program.
    Errno::result(unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &fprog as *const libc::sock_fprog,
        )
    })?;
    Ok(())
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
            let code = match install(prog) {
                Ok(()) => f(),
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
    fn filter_compiles_and_starts_with_arch_check() {
        let p = compile(&gofer_rules(3)).unwrap();
        assert_eq!((p[0].code as u32, p[0].k), (LD_W_ABS, OFF_ARCH));
        assert_eq!((p[1].code as u32, p[1].k), (JEQ_K, AUDIT_ARCH_X86_64));
        assert_eq!((p[2].code as u32, p[2].k), (RET_K, RET_KILL));
        let last = p.last().unwrap();
        assert_eq!((last.code as u32, last.k), (RET_K, RET_KILL));
    }

    #[test]
    fn unix_sockets_allowed_inet_refused() {
        let prog = compile(&gofer_rules(3)).unwrap();
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
        let prog = compile(&gofer_rules(3)).unwrap();
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
        let prog = compile(&gofer_rules(3)).unwrap();
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
        let prog = compile(&gofer_rules(1000)).unwrap();
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

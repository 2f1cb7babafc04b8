//! Classic-BPF seccomp programs for x86_64: the one builder the platform, the gofer and the
//! bench use.
//!
//! - this module: instructions, the architecture check every program starts with, an
//!   interpreter for tests ([`evaluate`]) and installation with seccomp(2) ([`install`]);
//! - [`chain`]: a linear list of rules, one number each with an argument check (the gofer's
//!   own confinement, the bench's Docker-like and notification filters);
//! - [`tree`]: an allow set searched as a balanced tree, with argument guards (the sandbox's
//!   filter).

pub mod chain;
pub mod tree;

use libc::sock_filter;
use nix::errno::Errno;
use std::os::fd::RawFd;

pub const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
pub const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
pub const JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
pub const JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
pub const JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;
pub const AND_K: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
pub const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

/// `AUDIT_ARCH_X86_64` (EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE).
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// Set in the numbers of x32 calls; no native number reaches it.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// Offsets in `struct seccomp_data`.
pub const OFFSET_NR: u32 = 0;
pub const OFFSET_ARCH: u32 = 4;
const OFFSET_ARGS: u32 = 16;
const DATA_LEN: usize = 64;

/// The offset of the low 32 bits of argument `arg` (little-endian).
pub const fn arg_lo(arg: u32) -> u32 {
    OFFSET_ARGS + 8 * arg
}

/// The offset of the high 32 bits of argument `arg`.
pub const fn arg_hi(arg: u32) -> u32 {
    arg_lo(arg) + 4
}

pub const fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

pub const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

pub const fn ret(action: u32) -> sock_filter {
    stmt(RET_K, action)
}

/// Loads the call's number into the accumulator.
pub const fn load_nr() -> sock_filter {
    stmt(LD_W_ABS, OFFSET_NR)
}

/// Loads the low 32 bits of argument `arg` into the accumulator.
pub const fn load_arg(arg: u32) -> sock_filter {
    stmt(LD_W_ABS, arg_lo(arg))
}

/// The action that fails a call with `errno`.
pub const fn ret_errno(errno: i32) -> u32 {
    libc::SECCOMP_RET_ERRNO | (errno as u32 & libc::SECCOMP_RET_DATA)
}

/// The start of every program: a call of another architecture (`int 0x80`) gets
/// `foreign_arch`, an x32 call gets `x32`; a native call goes on with its number in the
/// accumulator.
pub const fn arch_check(foreign_arch: u32, x32: u32) -> [sock_filter; 6] {
    [
        stmt(LD_W_ABS, OFFSET_ARCH),
        jump(JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        ret(foreign_arch),
        load_nr(),
        jump(JGE_K, X32_SYSCALL_BIT, 0, 1),
        ret(x32),
    ]
}

/// Runs `prog` on a call as the kernel would, and returns its action (for tests). Panics on
/// an instruction no builder here emits, or on a program the kernel would refuse (a load
/// outside `seccomp_data`, a jump past the end).
pub fn evaluate(prog: &[sock_filter], arch: u32, nr: u32, args: &[u64; 6]) -> u32 {
    let mut data = [0u8; DATA_LEN];
    data[0..4].copy_from_slice(&nr.to_ne_bytes());
    data[4..8].copy_from_slice(&arch.to_ne_bytes());
    for (i, arg) in args.iter().enumerate() {
        let at = arg_lo(i as u32) as usize;
        data[at..at + 8].copy_from_slice(&arg.to_ne_bytes());
    }
    let mut acc = 0u32;
    let mut pc = 0usize;
    loop {
        let ins = *prog.get(pc).expect("the program ends in a return");
        pc += 1;
        let skip = |taken: bool| usize::from(if taken { ins.jt } else { ins.jf });
        match ins.code {
            LD_W_ABS => {
                let k = ins.k as usize;
                assert!(
                    k.is_multiple_of(4) && k < DATA_LEN,
                    "load outside seccomp_data: {k}"
                );
                acc = u32::from_ne_bytes(data[k..k + 4].try_into().expect("4 bytes"));
            }
            JEQ_K => pc += skip(acc == ins.k),
            JGE_K => pc += skip(acc >= ins.k),
            JSET_K => pc += skip(acc & ins.k != 0),
            JA => pc += ins.k as usize,
            AND_K => acc &= ins.k,
            RET_K => return ins.k,
            other => panic!("unexpected BPF code {other:#x}"),
        }
    }
}

/// One program of two: `first`, and where it would allow a call, `rest` decides it (each of
/// `first`'s ALLOW returns becomes a jump to `rest`'s start; both keep their own jumps).
/// The kernel runs every filter of a task for each call it does not cache, and each
/// program is a call of its own (about 20 ns here): a task that needs both decisions is
/// cheaper with one program. Where `first` returns something other than ALLOW, that is the
/// answer, whatever `rest` would say, so `first` may only return actions that outrank every
/// action of `rest` it overrides.
pub fn then_where_allowed(first: &[sock_filter], rest: &[sock_filter]) -> Vec<sock_filter> {
    let mut code: Vec<sock_filter> = first
        .iter()
        .enumerate()
        .map(|(i, ins)| {
            if ins.code == RET_K && ins.k == libc::SECCOMP_RET_ALLOW {
                stmt(JA, (first.len() - i - 1) as u32)
            } else {
                *ins
            }
        })
        .collect();
    code.extend_from_slice(rest);
    code
}

/// Sets PR_SET_NO_NEW_PRIVS (an unprivileged caller needs it) and installs `prog` on the
/// calling thread with seccomp(2) and `flags`. Returns what seccomp returns: the listener
/// fd under SECCOMP_FILTER_FLAG_NEW_LISTENER, else 0.
///
/// Async-signal-safe: raw system calls and the stack only, so it may run between fork and
/// exec.
pub fn install(prog: &[sock_filter], flags: libc::c_ulong) -> Result<RawFd, Errno> {
    let fprog = libc::sock_fprog {
        len: u16::try_from(prog.len()).map_err(|_| Errno::EINVAL)?,
        filter: prog.as_ptr().cast_mut(),
    };
    // SAFETY: prctl with integer arguments only.
    Errno::result(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) })?;
    // SAFETY: `fprog` points at `prog`, which outlives the call; the kernel copies the
    // program and does not write through the pointer.
    let r = Errno::result(unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &fprog as *const libc::sock_fprog,
        )
    })?;
    Ok(r as RawFd)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOREIGN: u32 = libc::SECCOMP_RET_TRAP | 7;
    const X32: u32 = libc::SECCOMP_RET_ERRNO | 8;

    #[test]
    fn arch_check_sorts_out_foreign_calls() {
        let mut p = arch_check(FOREIGN, X32).to_vec();
        p.push(ret(libc::SECCOMP_RET_ALLOW));
        let run = |arch, nr| evaluate(&p, arch, nr, &[0; 6]);
        assert_eq!(run(AUDIT_ARCH_X86_64, 39), libc::SECCOMP_RET_ALLOW);
        assert_eq!(run(0x4000_0003, 39), FOREIGN);
        assert_eq!(run(AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 39), X32);
        // Numbers past the x32 bit are no native calls either (nr -1 among them).
        assert_eq!(run(AUDIT_ARCH_X86_64, 0x8000_0000), X32);
        assert_eq!(run(AUDIT_ARCH_X86_64, u32::MAX), X32);
    }

    #[test]
    fn loads_see_each_word_of_the_arguments() {
        let args = [0x1_0000_0002, 3, 4, 5, 6, 0x7_0000_0008];
        // 1 when the word at `offset` is `value`.
        let word_is = |offset, value| {
            let p = [
                stmt(LD_W_ABS, offset),
                jump(JEQ_K, value, 0, 1),
                ret(1),
                ret(0),
            ];
            evaluate(&p, AUDIT_ARCH_X86_64, 9, &args)
        };
        assert_eq!(word_is(OFFSET_NR, 9), 1);
        assert_eq!(word_is(OFFSET_ARCH, AUDIT_ARCH_X86_64), 1);
        assert_eq!(word_is(arg_hi(0), 1), 1);
        assert_eq!(word_is(arg_hi(5), 7), 1);
        for (i, lo) in [2, 3, 4, 5, 6, 8].into_iter().enumerate() {
            assert_eq!(word_is(arg_lo(i as u32), lo), 1, "arg {i}");
        }
        assert_eq!(word_is(arg_lo(0), 1), 0);
    }

    #[test]
    fn jumps_and_masks() {
        // acc = arg0 & 0xf0; == 0x30 → 1; & 0x80 → 2; >= 0x40 → 3; else 4.
        let p = [
            load_arg(0),
            stmt(AND_K, 0xf0),
            jump(JEQ_K, 0x30, 0, 1),
            ret(1),
            jump(JSET_K, 0x80, 0, 1),
            ret(2),
            jump(JGE_K, 0x40, 1, 0),
            stmt(JA, 1),
            ret(3),
            ret(4),
        ];
        let run = |a0| evaluate(&p, AUDIT_ARCH_X86_64, 0, &[a0, 0, 0, 0, 0, 0]);
        assert_eq!(run(0x3f), 1);
        assert_eq!(run(0x8f), 2);
        assert_eq!(run(0x40), 3);
        assert_eq!(run(0x2f), 4);
    }

    /// Runs `f` in a forked child and returns its exit code. The child makes raw system
    /// calls only, so forking the threaded test harness is sound.
    fn in_child(f: fn() -> i32) -> i32 {
        // SAFETY: the child runs async-signal-safe calls only, then _exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            // SAFETY: _exit never returns and runs no destructors.
            unsafe { libc::_exit(f()) };
        }
        let mut status = 0;
        // SAFETY: waiting on our own child with a valid status pointer.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status), "status {status:#x}");
        libc::WEXITSTATUS(status)
    }

    #[test]
    fn an_installed_program_decides_the_calls_and_may_return_a_listener() {
        let code = in_child(|| {
            let prog = [
                load_nr(),
                jump(JEQ_K, libc::SYS_getppid as u32, 0, 1),
                ret(ret_errno(libc::EXDEV)),
                ret(libc::SECCOMP_RET_ALLOW),
            ];
            let flags = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as libc::c_ulong;
            let Ok(listener) = install(&prog, flags) else {
                return 1;
            };
            if fd_flags(listener) < 0 {
                return 2;
            }
            // SAFETY: getppid takes no arguments.
            let r = unsafe { libc::syscall(libc::SYS_getppid) };
            if r != -1 || Errno::last() != Errno::EXDEV {
                return 3;
            }
            0
        });
        assert_eq!(code, 0);
    }

    fn fd_flags(fd: RawFd) -> i32 {
        // SAFETY: F_GETFD takes no pointer; a bad fd gives EBADF.
        unsafe { libc::fcntl(fd, libc::F_GETFD) }
    }

    #[test]
    fn the_second_program_decides_where_the_first_allows() {
        // first: getppid → errno, nr 1 → allow, else allow; rest: nr 1 → trace, else 7.
        let first = [
            load_nr(),
            jump(JEQ_K, 110, 0, 1),
            ret(ret_errno(libc::EXDEV)),
            ret(libc::SECCOMP_RET_ALLOW),
        ];
        let rest = [
            load_nr(),
            jump(JEQ_K, 1, 0, 1),
            ret(libc::SECCOMP_RET_TRACE),
            ret(7),
        ];
        let both = then_where_allowed(&first, &rest);
        let run = |nr| evaluate(&both, AUDIT_ARCH_X86_64, nr, &[0; 6]);
        assert_eq!(run(110), ret_errno(libc::EXDEV));
        assert_eq!(run(1), libc::SECCOMP_RET_TRACE);
        assert_eq!(run(2), 7);
    }

    #[test]
    fn errno_actions_carry_the_errno() {
        assert_eq!(ret_errno(libc::EPERM), 0x0005_0001);
        assert_eq!(ret_errno(libc::ENOSYS), libc::SECCOMP_RET_ERRNO | 38);
    }
}

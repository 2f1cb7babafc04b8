//! A seccomp-BPF program for the accelerated platform: the syscalls in an allow set run
//! in the kernel, every other one stops at the tracer (SECCOMP_RET_TRACE). Calls through
//! another ABI (`int 0x80`, x32) never run: they raise SIGSYS (SECCOMP_RET_TRAP with
//! [`FOREIGN_ABI`] as its data), which the tracer sees, reports and suppresses; so every
//! seccomp stop is a native x86_64 call, described by its registers alone.
//!
//! The program is built by [`bpf::tree`]: a balanced search over the allow set, and a few
//! calls guarded on their arguments instead (they run in the kernel unless one of their
//! tests holds: an fd number at or above a floor, a command the tracer must see).

use libc::sock_filter;

pub use bpf::tree::{ArgTest, Guard};

/// The data of the SECCOMP_RET_TRAP a foreign-ABI call gets (its SIGSYS's si_errno).
pub const FOREIGN_ABI: u32 = 0x5e;

/// A classic-BPF seccomp program.
#[derive(Clone, Default)]
pub struct Filter {
    pub instructions: Vec<sock_filter>,
}

impl Filter {
    /// Allows the x86_64 syscalls in `allowed`; everything else returns SECCOMP_RET_TRACE.
    pub fn allow_list(allowed: &[u32]) -> Filter {
        Filter::allow_list_guarded(allowed, &[])
    }

    /// As [`Filter::allow_list`], with `guards` decided on their argument before the tree
    /// (a guarded call need not be in `allowed`).
    pub fn allow_list_guarded(allowed: &[u32], guards: &[Guard]) -> Filter {
        let foreign = libc::SECCOMP_RET_TRAP | FOREIGN_ABI;
        let mut code = bpf::arch_check(foreign, foreign).to_vec();
        code.extend(bpf::tree::compile(
            allowed,
            guards,
            libc::SECCOMP_RET_ALLOW,
            libc::SECCOMP_RET_TRACE,
        ));
        Filter { instructions: code }
    }

    /// This filter, and where it allows a call, `rest` ([`bpf::then_where_allowed`]).
    pub fn then_where_allowed(&self, rest: &Filter) -> Filter {
        Filter {
            instructions: bpf::then_where_allowed(&self.instructions, &rest.instructions),
        }
    }

    /// Runs the program on a syscall number, as the kernel would (for tests).
    pub fn evaluate(&self, arch: u32, nr: u32) -> u32 {
        self.evaluate_call(arch, nr, &[0; 6])
    }

    /// Runs the program on a call with arguments, as the kernel would (for tests).
    pub fn evaluate_call(&self, arch: u32, nr: u32, args: &[u64; 6]) -> u32 {
        bpf::evaluate(&self.instructions, arch, nr, args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpf::{AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};

    #[test]
    fn foreign_abis_always_trap() {
        let filter = Filter::allow_list(&[0, 1, 39]);
        let foreign = libc::SECCOMP_RET_TRAP | FOREIGN_ABI;
        assert_eq!(filter.evaluate(0x4000_0003, 39), foreign);
        assert_eq!(
            filter.evaluate(AUDIT_ARCH_X86_64, 39 | X32_SYSCALL_BIT),
            foreign
        );
    }

    #[test]
    fn guarded_calls_stop_and_the_rest_follow_the_list() {
        let guards = [Guard {
            nr: 1,
            arg: 0,
            test: ArgTest::AtLeast(512),
        }];
        let filter = Filter::allow_list_guarded(&[0, 39], &guards);
        let call = |nr, a0| filter.evaluate_call(AUDIT_ARCH_X86_64, nr, &[a0, 0, 0, 0, 0, 0]);
        let (allow, trace) = (libc::SECCOMP_RET_ALLOW, libc::SECCOMP_RET_TRACE);
        assert_eq!(call(1, 3), allow);
        assert_eq!(call(1, 512), trace);
        assert_eq!(call(39, 600), allow);
        assert_eq!(call(2, 0), trace);
    }
}

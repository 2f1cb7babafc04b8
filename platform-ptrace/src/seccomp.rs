//! A seccomp-BPF program for the accelerated platform: the syscalls in an allow set run
//! in the kernel, every other one stops at the tracer (SECCOMP_RET_TRACE). Calls through
//! another ABI (`int 0x80`, x32) never run: they raise SIGSYS (SECCOMP_RET_TRAP with
//! [`FOREIGN_ABI`] as its data), which the tracer sees, reports and suppresses; so every
//! seccomp stop is a native x86_64 call, described by its registers alone.
//!
//! The numbers are searched with a balanced tree of `jge` comparisons over the runs of
//! equal action, so a call costs O(log runs) instructions, not a scan of the set.
//! A few calls may be guarded on their arguments instead: they run in the kernel unless one
//! of their tests holds (an fd number at or above a floor, a command the tracer must see).

use libc::sock_filter;

pub(crate) const BPF_LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
pub(crate) const BPF_JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const BPF_JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const BPF_JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;
pub(crate) const BPF_RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// The data of the SECCOMP_RET_TRAP a foreign-ABI call gets (its SIGSYS's si_errno).
pub const FOREIGN_ABI: u32 = 0x5e;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
/// Offsets in `struct seccomp_data`.
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;
const OFFSET_ARGS: u32 = 16;

/// A call that runs in the kernel unless `test` holds for the low 32 bits of argument `arg`.
/// Several guards of one call stop it when any of them holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guard {
    pub nr: u32,
    pub arg: u8,
    pub test: ArgTest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgTest {
    /// `>= floor`, unsigned: a negative fd also stops at the tracer.
    AtLeast(u32),
    /// One of these values.
    OneOf(&'static [u32]),
}

/// The guard block of call `nr`: load each tested argument and jump to the trailing
/// `trace` when a test holds; fall through to `allow`. The block is entered with the
/// number in the accumulator and skipped whole for any other number.
fn guard_block(nr: u32, guards: &[&Guard], allow: u32, trace: u32) -> Vec<sock_filter> {
    let mut body = Vec::new();
    // Each jump's target is the `trace` return; offsets are fixed once the body is known.
    let mut to_trace = Vec::new();
    for g in guards {
        body.push(stmt(BPF_LD_W_ABS, OFFSET_ARGS + 8 * g.arg as u32));
        match g.test {
            ArgTest::AtLeast(floor) => {
                to_trace.push(body.len());
                body.push(jump(BPF_JGE_K, floor, 0, 0));
            }
            ArgTest::OneOf(values) => {
                for &v in values {
                    to_trace.push(body.len());
                    body.push(jump(BPF_JEQ_K, v, 0, 0));
                }
            }
        }
    }
    body.push(stmt(BPF_RET_K, allow));
    let trace_at = body.len();
    body.push(stmt(BPF_RET_K, trace));
    for at in to_trace {
        body[at].jt = u8::try_from(trace_at - at - 1).expect("a guard block fits a jump");
    }
    let mut code = vec![jump(
        BPF_JEQ_K,
        nr,
        0,
        u8::try_from(body.len()).expect("a guard block fits a jump"),
    )];
    code.extend(body);
    code
}

/// A classic-BPF seccomp program.
#[derive(Clone, Default)]
pub struct Filter {
    pub instructions: Vec<sock_filter>,
}

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// Runs of consecutive numbers with one action: (first number, allowed).
fn runs(allowed: &[u32]) -> Vec<(u32, bool)> {
    let mut sorted = allowed.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut runs: Vec<(u32, bool)> = vec![(0, false)];
    for nr in sorted {
        let last = *runs.last().expect("never empty");
        if last.1 && runs.len() > 1 && is_next(&runs, nr) {
            continue;
        }
        if last.0 == nr {
            runs.pop();
        }
        runs.push((nr, true));
        runs.push((nr + 1, false));
    }
    // Merge adjacent runs with the same action.
    runs.dedup_by(|next, prev| next.1 == prev.1);
    runs
}

fn is_next(runs: &[(u32, bool)], nr: u32) -> bool {
    runs.last()
        .is_some_and(|&(start, allowed)| !allowed && start == nr)
}

/// The code for the runs `runs[lo..hi]`, each returning `allow` or `trace`.
fn tree(runs: &[(u32, bool)], allow: u32, trace: u32) -> Vec<sock_filter> {
    if runs.len() == 1 {
        return vec![stmt(BPF_RET_K, if runs[0].1 { allow } else { trace })];
    }
    let mid = runs.len() / 2;
    let below = tree(&runs[..mid], allow, trace);
    let above = tree(&runs[mid..], allow, trace);
    let mut code = Vec::with_capacity(below.len() + above.len() + 2);
    if above.len() <= u8::MAX as usize {
        // nr >= start of the upper half: fall into `above`, else jump over it.
        code.push(jump(BPF_JGE_K, runs[mid].0, 0, above.len() as u8));
    } else {
        code.push(jump(BPF_JGE_K, runs[mid].0, 1, 0));
        code.push(stmt(BPF_JA, above.len() as u32));
    }
    code.extend(above);
    code.extend(below);
    code
}

impl Filter {
    /// Allows the x86_64 syscalls in `allowed`; everything else returns SECCOMP_RET_TRACE.
    pub fn allow_list(allowed: &[u32]) -> Filter {
        Filter::allow_list_guarded(allowed, &[])
    }

    /// As [`Filter::allow_list`], with `guards` decided on their argument before the tree
    /// (a guarded call need not be in `allowed`).
    pub fn allow_list_guarded(allowed: &[u32], guards: &[Guard]) -> Filter {
        let allow = libc::SECCOMP_RET_ALLOW;
        let trace = libc::SECCOMP_RET_TRACE;
        let foreign = libc::SECCOMP_RET_TRAP | FOREIGN_ABI;
        let mut code = vec![
            stmt(BPF_LD_W_ABS, OFFSET_ARCH),
            jump(BPF_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
            stmt(BPF_RET_K, foreign),
            stmt(BPF_LD_W_ABS, OFFSET_NR),
            jump(BPF_JGE_K, X32_SYSCALL_BIT, 0, 1),
            stmt(BPF_RET_K, foreign),
        ];
        let mut numbers: Vec<u32> = guards.iter().map(|g| g.nr).collect();
        numbers.sort_unstable();
        numbers.dedup();
        for nr in numbers {
            // The accumulator holds the number until a guarded call's block is entered.
            let of_nr: Vec<&Guard> = guards.iter().filter(|g| g.nr == nr).collect();
            code.extend(guard_block(nr, &of_nr, allow, trace));
        }
        code.extend(tree(&runs(allowed), allow, trace));
        Filter { instructions: code }
    }

    /// The `sock_fprog` the kernel takes; it borrows `self`, which must outlive its use.
    pub fn as_sock_fprog(&self) -> libc::sock_fprog {
        libc::sock_fprog {
            len: self.instructions.len() as u16,
            filter: self.instructions.as_ptr() as *mut sock_filter,
        }
    }

    /// Runs the program on a syscall number, as the kernel would (for tests).
    pub fn evaluate(&self, arch: u32, nr: u32) -> u32 {
        self.evaluate_call(arch, nr, &[0; 6])
    }

    /// Runs the program on a call with arguments, as the kernel would (for tests).
    pub fn evaluate_call(&self, arch: u32, nr: u32, args: &[u64; 6]) -> u32 {
        let mut acc = 0u32;
        let mut pc = 0usize;
        loop {
            let ins = self.instructions[pc];
            pc += 1;
            match ins.code {
                BPF_LD_W_ABS => {
                    acc = match ins.k {
                        OFFSET_NR => nr,
                        OFFSET_ARCH => arch,
                        k => args[((k - OFFSET_ARGS) / 8) as usize] as u32,
                    }
                }
                BPF_JEQ_K => pc += if acc == ins.k { ins.jt } else { ins.jf } as usize,
                BPF_JGE_K => pc += if acc >= ins.k { ins.jt } else { ins.jf } as usize,
                BPF_JA => pc += ins.k as usize,
                BPF_RET_K => return ins.k,
                other => panic!("unexpected BPF code {other}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_exactly_the_set() {
        let allowed: Vec<u32> = vec![0, 1, 2, 5, 7, 8, 9, 100, 101, 200, 334, 450, 451, 452];
        let filter = Filter::allow_list(&allowed);
        for nr in 0..600 {
            let expected = if allowed.contains(&nr) {
                libc::SECCOMP_RET_ALLOW
            } else {
                libc::SECCOMP_RET_TRACE
            };
            assert_eq!(filter.evaluate(AUDIT_ARCH_X86_64, nr), expected, "nr {nr}");
        }
    }

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
    fn a_large_scattered_set_compiles_with_long_jumps() {
        let allowed: Vec<u32> = (0..460).filter(|n| n % 3 == 0).collect();
        let filter = Filter::allow_list(&allowed);
        for nr in 0..470 {
            let expected = if allowed.contains(&nr) {
                libc::SECCOMP_RET_ALLOW
            } else {
                libc::SECCOMP_RET_TRACE
            };
            assert_eq!(filter.evaluate(AUDIT_ARCH_X86_64, nr), expected, "nr {nr}");
        }
    }

    #[test]
    fn guarded_calls_stop_only_at_or_above_their_floor() {
        let guards = [
            Guard {
                nr: 1,
                arg: 0,
                test: ArgTest::AtLeast(512),
            },
            Guard {
                nr: 275,
                arg: 2,
                test: ArgTest::AtLeast(512),
            },
        ];
        let filter = Filter::allow_list_guarded(&[0, 3, 39], &guards);
        let call = |nr, args: [u64; 6]| filter.evaluate_call(AUDIT_ARCH_X86_64, nr, &args);
        let (allow, trace) = (libc::SECCOMP_RET_ALLOW, libc::SECCOMP_RET_TRACE);
        assert_eq!(call(1, [511, 0, 0, 0, 0, 0]), allow);
        assert_eq!(call(1, [512, 0, 0, 0, 0, 0]), trace);
        assert_eq!(call(1, [u32::MAX as u64, 0, 0, 0, 0, 0]), trace);
        // Only the low 32 bits are an fd.
        assert_eq!(call(1, [(1 << 32) | 3, 0, 0, 0, 0, 0]), allow);
        assert_eq!(call(275, [600, 0, 4, 0, 0, 0]), allow);
        assert_eq!(call(275, [4, 0, 600, 0, 0, 0]), trace);
        // Unguarded calls keep the allow list's answer.
        assert_eq!(call(39, [600; 6]), allow);
        assert_eq!(call(2, [0; 6]), trace);
    }

    #[test]
    fn a_call_with_several_guards_stops_when_any_holds() {
        let guards = [
            Guard {
                nr: 72,
                arg: 0,
                test: ArgTest::AtLeast(512),
            },
            Guard {
                nr: 72,
                arg: 1,
                test: ArgTest::OneOf(&[8, 9, 15]),
            },
        ];
        let filter = Filter::allow_list_guarded(&[0], &guards);
        let call = |args: [u64; 6]| filter.evaluate_call(AUDIT_ARCH_X86_64, 72, &args);
        let (allow, trace) = (libc::SECCOMP_RET_ALLOW, libc::SECCOMP_RET_TRACE);
        assert_eq!(call([3, 1, 0, 0, 0, 0]), allow);
        assert_eq!(call([3, 8, 0, 0, 0, 0]), trace);
        assert_eq!(call([3, 15, 0, 0, 0, 0]), trace);
        assert_eq!(call([3, 16, 0, 0, 0, 0]), allow);
        assert_eq!(call([600, 1, 0, 0, 0, 0]), trace);
        // Only the low 32 bits are compared.
        assert_eq!(call([3, (1 << 32) | 9, 0, 0, 0, 0]), trace);
        assert_eq!(
            filter.evaluate_call(AUDIT_ARCH_X86_64, 0, &[0, 8, 0, 0, 0, 0]),
            allow
        );
    }
}

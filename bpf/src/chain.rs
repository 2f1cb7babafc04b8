//! A linear chain of rules, as libseccomp emits by default: after [`crate::arch_check`],
//! each rule is `jeq NR` followed by its block, and a number no rule names falls through to
//! the `unlisted` action.
//!
//! Every block returns on each of its paths, so the accumulator still holds the number at
//! each `jeq NR` without loading it again. A block allows the call or returns the rule's
//! `otherwise`: `ld arg; test; ret ALLOW; ret otherwise`.

use crate::{arch_check, jump, load_arg, ret, stmt, AND_K, JA, JEQ_K, JSET_K, X32_SYSCALL_BIT};
use libc::sock_filter;
use nix::errno::Errno;

/// What a rule demands of the call's arguments (their low 32 bits: every argument checked
/// is an `int` or `unsigned int`, which the kernel truncates to 32 bits).
#[derive(Clone, Copy, Debug)]
pub enum Check {
    /// Any arguments.
    Any,
    /// No arguments: the call always gets `otherwise`.
    Never,
    /// `arg == value`.
    Eq { arg: u32, value: u32 },
    /// `arg != value`.
    Ne { arg: u32, value: u32 },
    /// `arg` is one of `values`.
    In { arg: u32, values: &'static [u32] },
    /// `(arg & mask)` is one of `values`.
    MaskedIn {
        arg: u32,
        mask: u32,
        values: &'static [u32],
    },
    /// `(arg & mask) == 0`.
    MaskedZero { arg: u32, mask: u32 },
}

/// One system call: allowed when `check` holds, else `otherwise`.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub nr: u32,
    pub check: Check,
    pub otherwise: u32,
}

impl Rule {
    /// A call allowed with any arguments.
    pub const fn allow(nr: u32) -> Rule {
        Rule {
            nr,
            check: Check::Any,
            // Never returned.
            otherwise: libc::SECCOMP_RET_KILL_PROCESS,
        }
    }
}

/// The actions of the calls no rule decides.
#[derive(Clone, Copy, Debug)]
pub struct Fallback {
    /// A call of another architecture (`int 0x80`).
    pub foreign_arch: u32,
    /// A number at or above [`X32_SYSCALL_BIT`]: an x32 call.
    pub x32: u32,
    /// A native number no rule names.
    pub unlisted: u32,
}

/// Compiles `rules` into a whole program. E2BIG when a block or a set is too long to jump
/// over (255 instructions) or the program exceeds BPF_MAXINSNS; EINVAL for a rule whose
/// number the architecture check already sorts out (it could never match).
pub fn compile(rules: &[Rule], fallback: Fallback) -> Result<Vec<sock_filter>, Errno> {
    let mut p = arch_check(fallback.foreign_arch, fallback.x32).to_vec();
    for rule in rules {
        if rule.nr >= X32_SYSCALL_BIT {
            return Err(Errno::EINVAL);
        }
        let body = block(rule)?;
        let skip = u8::try_from(body.len()).map_err(|_| Errno::E2BIG)?;
        p.push(jump(JEQ_K, rule.nr, 0, skip));
        p.extend(body);
    }
    p.push(ret(fallback.unlisted));
    if p.len() > libc::BPF_MAXINSNS as usize {
        return Err(Errno::E2BIG);
    }
    Ok(p)
}

fn block(rule: &Rule) -> Result<Vec<sock_filter>, Errno> {
    let allow = ret(libc::SECCOMP_RET_ALLOW);
    let otherwise = ret(rule.otherwise);
    let mut body = match rule.check {
        Check::Any => return Ok(vec![allow]),
        Check::Never => return Ok(vec![otherwise]),
        Check::Eq { arg, value } => vec![load_arg(arg), jump(JEQ_K, value, 0, 1)],
        Check::Ne { arg, value } => vec![load_arg(arg), jump(JEQ_K, value, 1, 0)],
        Check::In { arg, values } => {
            let mut body = vec![load_arg(arg)];
            body.extend(one_of(values)?);
            body
        }
        Check::MaskedIn { arg, mask, values } => {
            let mut body = vec![load_arg(arg), stmt(AND_K, mask)];
            body.extend(one_of(values)?);
            body
        }
        Check::MaskedZero { arg, mask } => vec![load_arg(arg), jump(JSET_K, mask, 1, 0)],
    };
    body.extend([allow, otherwise]);
    Ok(body)
}

/// Falls through to the `ret ALLOW` that follows when the accumulator is one of `values`,
/// and jumps over it otherwise.
fn one_of(values: &[u32]) -> Result<Vec<sock_filter>, Errno> {
    if values.is_empty() {
        return Ok(vec![stmt(JA, 1)]);
    }
    let n = values.len();
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let to_allow = u8::try_from(n - 1 - i).map_err(|_| Errno::E2BIG)?;
            Ok(jump(JEQ_K, v, to_allow, u8::from(i + 1 == n)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{evaluate, ret_errno, AUDIT_ARCH_X86_64};

    const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
    const KILL: u32 = libc::SECCOMP_RET_KILL_PROCESS;
    const EPERM: u32 = ret_errno(libc::EPERM);
    const FALLBACK: Fallback = Fallback {
        foreign_arch: KILL,
        x32: ret_errno(libc::ENOSYS),
        unlisted: EPERM,
    };

    fn rule(nr: u32, check: Check) -> Rule {
        Rule {
            nr,
            check,
            otherwise: ret_errno(libc::EACCES),
        }
    }

    fn run(p: &[sock_filter], nr: u32, arg: u32, value: u64) -> u32 {
        let mut args = [0; 6];
        args[arg as usize] = value;
        evaluate(p, AUDIT_ARCH_X86_64, nr, &args)
    }

    #[test]
    fn each_check_decides_its_call() {
        let no = ret_errno(libc::EACCES);
        let rules = [
            Rule::allow(1),
            rule(2, Check::Never),
            rule(3, Check::Eq { arg: 0, value: 7 }),
            rule(4, Check::Ne { arg: 1, value: 7 }),
            rule(
                5,
                Check::In {
                    arg: 2,
                    values: &[1, 5, 9],
                },
            ),
            rule(
                6,
                Check::MaskedIn {
                    arg: 3,
                    mask: 0xf0,
                    values: &[0x10, 0x20],
                },
            ),
            rule(7, Check::MaskedZero { arg: 4, mask: 0x6 }),
            rule(
                8,
                Check::In {
                    arg: 5,
                    values: &[],
                },
            ),
            rule(
                9,
                Check::In {
                    arg: 0,
                    values: &[4],
                },
            ),
        ];
        let p = compile(&rules, FALLBACK).unwrap();
        assert_eq!(run(&p, 1, 0, 99), ALLOW);
        assert_eq!(run(&p, 2, 0, 0), no);
        assert_eq!(run(&p, 3, 0, 7), ALLOW);
        // Only the low 32 bits count.
        assert_eq!(run(&p, 3, 0, (1 << 32) | 7), ALLOW);
        assert_eq!(run(&p, 3, 0, 8), no);
        assert_eq!(run(&p, 4, 1, 8), ALLOW);
        assert_eq!(run(&p, 4, 1, 7), no);
        for v in [1, 5, 9] {
            assert_eq!(run(&p, 5, 2, v), ALLOW, "{v}");
        }
        for v in [0, 2, 10] {
            assert_eq!(run(&p, 5, 2, v), no, "{v}");
        }
        assert_eq!(run(&p, 6, 3, 0x1f), ALLOW);
        assert_eq!(run(&p, 6, 3, 0x2f), ALLOW);
        assert_eq!(run(&p, 6, 3, 0x3f), no);
        assert_eq!(run(&p, 7, 4, 0x9), ALLOW);
        assert_eq!(run(&p, 7, 4, 0x2), no);
        assert_eq!(run(&p, 8, 5, 0), no);
        assert_eq!(run(&p, 9, 0, 4), ALLOW);
        assert_eq!(run(&p, 9, 0, 5), no);
        // The rest.
        assert_eq!(run(&p, 0, 0, 0), EPERM);
        assert_eq!(run(&p, 10, 0, 0), EPERM);
        assert_eq!(run(&p, X32_SYSCALL_BIT | 1, 0, 0), ret_errno(libc::ENOSYS));
        assert_eq!(
            evaluate(&p, 0x4000_0003, 1, &[0; 6]),
            KILL,
            "a foreign architecture"
        );
    }

    #[test]
    fn the_first_rule_of_a_number_decides() {
        let p = compile(
            &[rule(3, Check::Eq { arg: 0, value: 7 }), Rule::allow(3)],
            FALLBACK,
        )
        .unwrap();
        assert_eq!(run(&p, 3, 0, 8), ret_errno(libc::EACCES));
    }

    #[test]
    fn what_cannot_be_compiled_is_refused() {
        let big: &'static [u32] = Vec::leak((0..300).collect());
        let set = [rule(
            1,
            Check::In {
                arg: 0,
                values: big,
            },
        )];
        assert_eq!(compile(&set, FALLBACK).err(), Some(Errno::E2BIG));
        let many: Vec<Rule> = (0..3000).map(Rule::allow).collect();
        assert_eq!(compile(&many, FALLBACK).err(), Some(Errno::E2BIG));
        let x32 = [Rule::allow(X32_SYSCALL_BIT | 1)];
        assert_eq!(compile(&x32, FALLBACK).err(), Some(Errno::EINVAL));
    }
}

//! An allow set searched as a balanced tree: the numbers in the set get one action, every
//! other number another. The numbers are searched with `jge` comparisons over the runs of
//! equal action, so a call costs O(log runs) instructions, not a scan of the set.
//!
//! A few calls may be guarded on their arguments instead: they get the allow action unless
//! one of their tests holds (an fd number at or above a floor, a command that must stop).

use crate::{jump, load_arg, ret, stmt, JA, JEQ_K, JGE_K, JSET_K};
use libc::sock_filter;

/// A call that is allowed unless `test` holds for the low 32 bits of argument `arg`.
/// Several guards of one call stop it when any of them holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guard {
    pub nr: u32,
    pub arg: u8,
    pub test: ArgTest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgTest {
    /// `>= floor`, unsigned: a negative fd also stops.
    AtLeast(u32),
    /// `>= floor` and `< ceiling`, unsigned.
    Within(u32, u32),
    /// One of these values.
    OneOf(&'static [u32]),
    /// Any of these bits set (a flag that changes what the call does).
    AnyBit(u32),
}

/// The code that follows [`crate::arch_check`] (the number in the accumulator): the guarded
/// calls first, then the tree. A number in `allowed` gets `allow`, any other `other`; a
/// guarded number gets `other` when one of its tests holds, else `allow` (it need not be in
/// `allowed`).
pub fn compile(allowed: &[u32], guards: &[Guard], allow: u32, other: u32) -> Vec<sock_filter> {
    let mut numbers: Vec<u32> = guards.iter().map(|g| g.nr).collect();
    numbers.sort_unstable();
    numbers.dedup();
    let mut code = Vec::new();
    for nr in numbers {
        // The accumulator holds the number until a guarded call's block is entered.
        let of_nr: Vec<&Guard> = guards.iter().filter(|g| g.nr == nr).collect();
        code.extend(guard_block(nr, &of_nr, allow, other));
    }
    code.extend(tree(&runs(allowed), allow, other));
    code
}

/// The guard block of call `nr`: load each tested argument and jump to the trailing
/// `other` when a test holds; fall through to `allow`. The block is entered with the
/// number in the accumulator and skipped whole for any other number.
fn guard_block(nr: u32, guards: &[&Guard], allow: u32, other: u32) -> Vec<sock_filter> {
    let mut body = Vec::new();
    // Each jump's target is the `other` return; offsets are fixed once the body is known.
    let mut to_other = Vec::new();
    // Jumps whose false branch goes to the `other` return.
    let mut else_other = Vec::new();
    for g in guards {
        body.push(load_arg(u32::from(g.arg)));
        match g.test {
            ArgTest::AtLeast(floor) => {
                to_other.push(body.len());
                body.push(jump(JGE_K, floor, 0, 0));
            }
            ArgTest::Within(floor, ceiling) => {
                // Below the floor: on to the next test; then below the ceiling: `other`.
                body.push(jump(JGE_K, floor, 0, 1));
                else_other.push(body.len());
                body.push(jump(JGE_K, ceiling, 0, 0));
            }
            ArgTest::OneOf(values) => {
                for &v in values {
                    to_other.push(body.len());
                    body.push(jump(JEQ_K, v, 0, 0));
                }
            }
            ArgTest::AnyBit(mask) => {
                to_other.push(body.len());
                body.push(jump(JSET_K, mask, 0, 0));
            }
        }
    }
    body.push(ret(allow));
    let other_at = body.len();
    body.push(ret(other));
    for at in to_other {
        body[at].jt = u8::try_from(other_at - at - 1).expect("a guard block fits a jump");
    }
    for at in else_other {
        body[at].jf = u8::try_from(other_at - at - 1).expect("a guard block fits a jump");
    }
    let mut code = vec![jump(
        JEQ_K,
        nr,
        0,
        u8::try_from(body.len()).expect("a guard block fits a jump"),
    )];
    code.extend(body);
    code
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

/// The code for `runs`, each returning `allow` or `other`.
fn tree(runs: &[(u32, bool)], allow: u32, other: u32) -> Vec<sock_filter> {
    if runs.len() == 1 {
        return vec![ret(if runs[0].1 { allow } else { other })];
    }
    let mid = runs.len() / 2;
    let below = tree(&runs[..mid], allow, other);
    let above = tree(&runs[mid..], allow, other);
    let mut code = Vec::with_capacity(below.len() + above.len() + 2);
    if above.len() <= u8::MAX as usize {
        // nr >= start of the upper half: fall into `above`, else jump over it.
        code.push(jump(JGE_K, runs[mid].0, 0, above.len() as u8));
    } else {
        code.push(jump(JGE_K, runs[mid].0, 1, 0));
        code.push(stmt(JA, above.len() as u32));
    }
    code.extend(above);
    code.extend(below);
    code
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{arch_check, evaluate, AUDIT_ARCH_X86_64};

    const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
    const OTHER: u32 = libc::SECCOMP_RET_TRACE;

    fn program(allowed: &[u32], guards: &[Guard]) -> Vec<sock_filter> {
        let foreign = libc::SECCOMP_RET_KILL_PROCESS;
        let mut p = arch_check(foreign, foreign).to_vec();
        p.extend(compile(allowed, guards, ALLOW, OTHER));
        p
    }

    fn expect_exactly(allowed: &[u32], up_to: u32) {
        let p = program(allowed, &[]);
        for nr in 0..up_to {
            let expected = if allowed.contains(&nr) { ALLOW } else { OTHER };
            assert_eq!(
                evaluate(&p, AUDIT_ARCH_X86_64, nr, &[0; 6]),
                expected,
                "nr {nr}"
            );
        }
    }

    #[test]
    fn allows_exactly_the_set() {
        expect_exactly(
            &[0, 1, 2, 5, 7, 8, 9, 100, 101, 200, 334, 450, 451, 452],
            600,
        );
        expect_exactly(&[], 10);
        expect_exactly(&[3, 1, 2, 3, 0], 10);
    }

    #[test]
    fn a_large_scattered_set_compiles_with_long_jumps() {
        let allowed: Vec<u32> = (0..460).filter(|n| n % 3 == 0).collect();
        assert!(program(&allowed, &[]).iter().any(|i| i.code == JA));
        expect_exactly(&allowed, 470);
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
        let p = program(&[0, 3, 39], &guards);
        let call = |nr, args: [u64; 6]| evaluate(&p, AUDIT_ARCH_X86_64, nr, &args);
        assert_eq!(call(1, [511, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(call(1, [512, 0, 0, 0, 0, 0]), OTHER);
        assert_eq!(call(1, [u32::MAX as u64, 0, 0, 0, 0, 0]), OTHER);
        // Only the low 32 bits are an fd.
        assert_eq!(call(1, [(1 << 32) | 3, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(call(275, [600, 0, 4, 0, 0, 0]), ALLOW);
        assert_eq!(call(275, [4, 0, 600, 0, 0, 0]), OTHER);
        // Unguarded calls keep the allow list's answer.
        assert_eq!(call(39, [600; 6]), ALLOW);
        assert_eq!(call(2, [0; 6]), OTHER);
    }

    #[test]
    fn a_range_guard_stops_only_within_its_range() {
        let guards = [
            Guard {
                nr: 0,
                arg: 0,
                test: ArgTest::Within(512, 576),
            },
            Guard {
                nr: 0,
                arg: 2,
                test: ArgTest::OneOf(&[7]),
            },
        ];
        let p = program(&[1], &guards);
        let call = |fd: u64, a2: u64| evaluate(&p, AUDIT_ARCH_X86_64, 0, &[fd, 0, a2, 0, 0, 0]);
        assert_eq!(call(511, 0), ALLOW);
        assert_eq!(call(512, 0), OTHER);
        assert_eq!(call(575, 0), OTHER);
        assert_eq!(call(576, 0), ALLOW);
        assert_eq!(call(u32::MAX as u64, 0), ALLOW);
        // Only the low 32 bits, and the other guard still holds on its own.
        assert_eq!(call((1 << 32) | 520, 0), OTHER);
        assert_eq!(call(600, 7), OTHER);
        assert_eq!(call(3, 7), OTHER);
    }

    #[test]
    fn a_flag_guard_stops_when_any_of_its_bits_is_set() {
        let flags = [Guard {
            nr: 257,
            arg: 2,
            test: ArgTest::AnyBit(0o200),
        }];
        let p = program(&[257], &flags);
        let call = |a2: u64| evaluate(&p, AUDIT_ARCH_X86_64, 257, &[0, 0, a2, 0, 0, 0]);
        assert_eq!(call(0o101), ALLOW);
        assert_eq!(call(0o301), OTHER);
    }

    /// Many sets and guards, every number and several argument vectors, against what
    /// `compile` promises: the guards decide a guarded number, the set any other.
    #[test]
    fn every_number_gets_what_its_set_and_guards_say() {
        const VALUES: &[u32] = &[8, 9, 15];
        let tests = [
            ArgTest::AtLeast(512),
            ArgTest::Within(512, 576),
            ArgTest::OneOf(VALUES),
            ArgTest::AnyBit(0o200),
        ];
        let holds = |test: ArgTest, value: u64| {
            let value = value as u32;
            match test {
                ArgTest::AtLeast(floor) => value >= floor,
                ArgTest::Within(floor, ceiling) => value >= floor && value < ceiling,
                ArgTest::OneOf(values) => values.contains(&value),
                ArgTest::AnyBit(mask) => value & mask != 0,
            }
        };
        let argument_sets: [[u64; 6]; 5] = [
            [0; 6],
            [600, 9, 0o200, 0, 0, 0],
            [520, 0, 0, 0, 0, 0],
            [3, 15, 0o101, 0, 0, 0],
            [(1 << 32) | 530, 8, 0, 0, 0, 0],
        ];
        // A small deterministic generator: the sets differ in density and in where the
        // guarded numbers fall (inside runs, at their edges, alone).
        let mut seed = 0x9e37_79b9_u32;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for round in 0..40 {
            let density = 1 + round % 5;
            let allowed: Vec<u32> = (0..500).filter(|_| next() % 6 < density).collect();
            let guards: Vec<Guard> = (0..(round % 12))
                .map(|_| Guard {
                    nr: next() % 500,
                    arg: (next() % 3) as u8,
                    test: tests[(next() % 4) as usize],
                })
                .collect();
            let p = program(&allowed, &guards);
            for nr in 0..520 {
                for args in &argument_sets {
                    let mine: Vec<&Guard> = guards.iter().filter(|g| g.nr == nr).collect();
                    let expected = if mine.is_empty() {
                        if allowed.contains(&nr) {
                            ALLOW
                        } else {
                            OTHER
                        }
                    } else if mine.iter().any(|g| holds(g.test, args[g.arg as usize])) {
                        OTHER
                    } else {
                        ALLOW
                    };
                    assert_eq!(
                        evaluate(&p, AUDIT_ARCH_X86_64, nr, args),
                        expected,
                        "round {round}, nr {nr}, args {args:?}"
                    );
                }
            }
        }
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
        let p = program(&[0], &guards);
        let call = |args: [u64; 6]| evaluate(&p, AUDIT_ARCH_X86_64, 72, &args);
        assert_eq!(call([3, 1, 0, 0, 0, 0]), ALLOW);
        assert_eq!(call([3, 8, 0, 0, 0, 0]), OTHER);
        assert_eq!(call([3, 15, 0, 0, 0, 0]), OTHER);
        assert_eq!(call([3, 16, 0, 0, 0, 0]), ALLOW);
        assert_eq!(call([600, 1, 0, 0, 0, 0]), OTHER);
        // Only the low 32 bits are compared.
        assert_eq!(call([3, (1 << 32) | 9, 0, 0, 0, 0]), OTHER);
        assert_eq!(
            evaluate(&p, AUDIT_ARCH_X86_64, 0, &[0, 8, 0, 0, 0, 0]),
            ALLOW
        );
    }
}

//! The syscall table compiled for `--platform=seccomp`: passthrough calls run in the
//! kernel, every other class stops at the sentry, and guarded calls stop only when an
//! argument names what the sentry must see.

use super::table::{class_of, Class, Policy, MAX_NR};
use platform_ptrace::seccomp::{ArgTest, Filter, Guard};
use syscalls::Sysno;

/// Checked calls that stop only for some values of one argument: fcntl for the commands that
/// carry process ids, setsockopt for SO_PASSPIDFD, SO_PASSCRED and the buffer sizes (charged
/// under a memory limit), getrlimit and setrlimit for RLIMIT_CORE,
/// the clock calls for CPU clocks (negative clock ids, which carry a pid). The rest of each
/// runs in the kernel.
const GUARDED: [(Sysno, u8, ArgTest); 8] = [
    (Sysno::fcntl, 1, ArgTest::OneOf(&super::owner::COMMANDS)),
    (
        Sysno::setsockopt,
        2,
        ArgTest::OneOf(&[
            super::net::SO_PASSPIDFD as u32,
            libc::SO_PASSCRED as u32,
            libc::SO_SNDBUF as u32,
            libc::SO_RCVBUF as u32,
        ]),
    ),
    (
        Sysno::getrlimit,
        0,
        ArgTest::OneOf(&super::rlimit::RESOURCES),
    ),
    (
        Sysno::setrlimit,
        0,
        ArgTest::OneOf(&super::rlimit::RESOURCES),
    ),
    (Sysno::clock_gettime, 0, NEGATIVE),
    (Sysno::clock_getres, 0, NEGATIVE),
    (Sysno::clock_nanosleep, 0, NEGATIVE),
    (Sysno::timer_create, 0, NEGATIVE),
];

/// An int argument below zero (its low 32 bits, unsigned, at or above 2^31).
const NEGATIVE: ArgTest = ArgTest::AtLeast(0x8000_0000);

pub fn compile(policy: Policy) -> Filter {
    let allowed: Vec<u32> = (0..MAX_NR as u32)
        .filter(|&nr| class_of(nr as u64, policy) == Class::Passthrough)
        .collect();
    let mut guards: Vec<Guard> = GUARDED
        .iter()
        .map(|&(sysno, arg, test)| Guard {
            nr: sysno.id() as u32,
            arg,
            test,
        })
        .collect();
    // Under a memory limit, writes and dups stop only for the fds where memfds live.
    if policy.memory {
        guards.extend(super::memfd::guards());
    }
    Filter::allow_list_guarded(&allowed, &guards)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guarded_calls_stop_only_for_what_the_sentry_must_see() {
        const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
        let filter = compile(Policy::default());
        let run = |sysno: Sysno, args: [u64; 6]| {
            filter.evaluate_call(AUDIT_ARCH_X86_64, sysno.id() as u32, &args)
        };
        let (allow, trace) = (libc::SECCOMP_RET_ALLOW, libc::SECCOMP_RET_TRACE);
        let fcntl = |cmd: i32| run(Sysno::fcntl, [3, cmd as u64, 0, 0, 0, 0]);
        assert_eq!(fcntl(libc::F_GETFL), allow);
        assert_eq!(fcntl(libc::F_SETFD), allow);
        assert_eq!(fcntl(libc::F_SETOWN), trace);
        assert_eq!(fcntl(libc::F_GETLK), trace);
        let limit = |sysno, res: u32| run(sysno, [res as u64, 0, 0, 0, 0, 0]);
        assert_eq!(limit(Sysno::getrlimit, libc::RLIMIT_NOFILE), allow);
        assert_eq!(limit(Sysno::getrlimit, libc::RLIMIT_CORE), trace);
        assert_eq!(limit(Sysno::setrlimit, libc::RLIMIT_CORE), trace);
        let sockopt = |name: i32| run(Sysno::setsockopt, [3, 1, name as u64, 0, 0, 0]);
        assert_eq!(sockopt(libc::SO_REUSEADDR), allow);
        assert_eq!(sockopt(super::super::net::SO_PASSPIDFD), trace);
        assert_eq!(sockopt(libc::SO_PASSCRED), trace);
        let clock = |id: i32| run(Sysno::clock_gettime, [id as u32 as u64, 0, 0, 0, 0, 0]);
        assert_eq!(clock(libc::CLOCK_MONOTONIC), allow);
        assert_eq!(clock(libc::CLOCK_PROCESS_CPUTIME_ID), allow);
        assert_eq!(clock(!1234 << 3 | 2), trace);
        // The table's own classes are untouched.
        assert_eq!(run(Sysno::read, [0; 6]), allow);
        assert_eq!(run(Sysno::getpid, [0; 6]), trace);
    }
}

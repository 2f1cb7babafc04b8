//! The syscall table compiled for `--platform=seccomp`: passthrough calls run in the
//! kernel, every other class stops at the sentry, and the calls guarded on an fd
//! argument stop only for the fds the sentry must see.

use super::table::{class_of, Class, MAX_NR};
use platform_ptrace::seccomp::{ArgTest, Filter, Guard};
use syscalls::Sysno;

pub fn compile() -> Filter {
    let allowed: Vec<u32> = (0..MAX_NR as u32)
        .filter(|&nr| class_of(nr as u64) == Class::Passthrough)
        .collect();
    // fcntl stops for the commands that carry process ids, setsockopt for SO_PASSPIDFD,
    // getrlimit and setrlimit for RLIMIT_CORE; the rest stay in the kernel.
    let mut guards = vec![
        Guard {
            nr: Sysno::fcntl.id() as u32,
            arg: 1,
            test: ArgTest::OneOf(&super::owner::COMMANDS),
        },
        Guard {
            nr: Sysno::setsockopt.id() as u32,
            arg: 2,
            test: ArgTest::OneOf(&[super::net::SO_PASSPIDFD as u32]),
        },
        Guard {
            nr: Sysno::getrlimit.id() as u32,
            arg: 0,
            test: ArgTest::OneOf(&super::rlimit::RESOURCES),
        },
        Guard {
            nr: Sysno::setrlimit.id() as u32,
            arg: 0,
            test: ArgTest::OneOf(&super::rlimit::RESOURCES),
        },
    ];
    // Under a memory limit, writes and dups stop only for the fds where memfds live.
    if super::mm::accounts_memory() {
        guards.extend(super::memfd::guards());
    }
    Filter::allow_list_guarded(&allowed, &guards)
}

//! The syscall table compiled to seccomp-BPF. The main filter (`compile`, for
//! `--platform=seccomp`): passthrough calls run in the kernel, every other class stops at
//! the sentry, and guarded calls stop only when an argument names what the sentry must see.
//! The notified set (`notified`): calls whose handlers answer them whole reach the sentry
//! as seccomp user notifications instead of ptrace stops.

use super::table::{class_of, Class, Policy, MAX_NR};
use platform_ptrace::seccomp::{ArgTest, Filter, Guard};
use syscalls::Sysno;

/// Checked calls that stop only for some values of one argument: fcntl for the commands that
/// carry process ids, setsockopt for SO_PASSPIDFD, SO_PASSCRED and the buffer sizes (charged
/// under a memory limit), getrlimit and setrlimit for RLIMIT_CORE,
/// the clock calls for CPU clocks (negative clock ids, which carry a pid), prlimit64 of
/// another process or of RLIMIT_CORE, the prctl options the sentry decides, futex's
/// priority-inheritance operations, and timer_create with an event. The rest of each runs
/// in the kernel.
const GUARDED: [(Sysno, u8, ArgTest); 15] = [
    (Sysno::fcntl, 1, ArgTest::OneOf(&super::owner::COMMANDS)),
    (
        Sysno::setsockopt,
        2,
        ArgTest::OneOf(&[
            super::net::SO_PASSPIDFD as u32,
            libc::SO_PASSCRED as u32,
            libc::SO_SNDBUF as u32,
            libc::SO_RCVBUF as u32,
            libc::SO_REUSEPORT as u32,
        ]),
    ),
    // The IP and TCP levels: a loopback socket's options are the sentry's.
    (
        Sysno::setsockopt,
        1,
        ArgTest::OneOf(&[
            libc::IPPROTO_IP as u32,
            libc::IPPROTO_TCP as u32,
            libc::IPPROTO_IPV6 as u32,
        ]),
    ),
    // recvfrom with an address (its low 32 bits: a pointer whose low half is zero passes,
    // and then gets the AF_UNIX name of the sender's socket file, which opens nothing).
    (Sysno::recvfrom, 4, ArgTest::AtLeast(1)),
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
    (Sysno::prlimit64, 0, ArgTest::AtLeast(1)),
    (
        Sysno::prlimit64,
        1,
        ArgTest::OneOf(&super::rlimit::RESOURCES),
    ),
    (
        Sysno::prctl,
        0,
        ArgTest::OneOf(&super::process::PRCTL_DECIDED),
    ),
    (
        Sysno::futex,
        1,
        ArgTest::OneOf(&super::process::FUTEX_PI_OPS),
    ),
    (Sysno::clock_gettime, 0, NEGATIVE),
    (Sysno::clock_getres, 0, NEGATIVE),
    (Sysno::clock_nanosleep, 0, NEGATIVE),
    (Sysno::timer_create, 0, NEGATIVE),
    // An event may name a thread (SIGEV_THREAD_ID) by the sandbox's number. A pointer whose
    // low half is zero passes: the kernel then takes the number as a host id, and accepts
    // only a thread of the caller's own process.
    (Sysno::timer_create, 1, ArgTest::AtLeast(1)),
];

/// An int argument below zero (its low 32 bits, unsigned, at or above 2^31).
const NEGATIVE: ArgTest = ArgTest::AtLeast(0x8000_0000);

pub fn compile(policy: Policy) -> Filter {
    let mut allowed: Vec<u32> = (0..MAX_NR as u32)
        .filter(|&nr| class_of(nr as u64, policy) == Class::Passthrough)
        .collect();
    // A vfork's entry has nothing to decide unless tasks or memory are counted: the sentry
    // takes it up at its event stop, before the child runs and before the call returns.
    if !policy.memory && !policy.pids {
        allowed.push(Sysno::vfork.id() as u32);
        allowed.sort_unstable();
    }
    let mut guards = as_guards(&GUARDED);
    // Reads and dups stop only for the fds where signalfds live (and, under a memory
    // limit, writes for those where memfds live).
    guards.extend(super::signalfd::filter_guards());
    if policy.memory {
        guards.extend(super::memfd::guards());
    }
    guards.sort_by_key(|g| (g.nr, g.arg));
    guards.dedup();
    Filter::allow_list_guarded(&allowed, &guards)
}

/// Calls whose handlers answer them whole — with a value, an errno, memory the sentry
/// writes, an fd it installs, or the task's own call unchanged (`Action::Return`,
/// `Install`, `InstallWhenOpened`, `Pass`) — and whose work is harmless to do again if a
/// signal interrupts the task before the answer reaches it (the call then restarts or
/// fails with EINTR, as on Linux). Calls that need register surgery or an exit stop stay
/// ptrace stops; so do the variants in [`NOTIFIED_UNLESS`].
const NOTIFIED: &[Sysno] = &[
    Sysno::sysinfo,
    Sysno::getpid,
    Sysno::gettid,
    Sysno::getppid,
    Sysno::getpgrp,
    Sysno::getpgid,
    Sysno::getsid,
    Sysno::getuid,
    Sysno::geteuid,
    Sysno::getgid,
    Sysno::getegid,
    Sysno::getresuid,
    Sysno::getresgid,
    Sysno::getgroups,
    Sysno::capget,
    Sysno::uname,
    Sysno::open,
    Sysno::openat,
    Sysno::stat,
    Sysno::lstat,
    Sysno::newfstatat,
    Sysno::statx,
    Sysno::fstat,
    Sysno::access,
    Sysno::faccessat,
    Sysno::faccessat2,
    Sysno::readlink,
    Sysno::readlinkat,
    Sysno::getcwd,
    Sysno::chdir,
    Sysno::fchdir,
    Sysno::umask,
    Sysno::statfs,
    Sysno::getxattr,
    Sysno::lgetxattr,
    Sysno::listxattr,
    Sysno::llistxattr,
    Sysno::fgetxattr,
    Sysno::flistxattr,
];

/// Notified calls that stop under ptrace when a flag asks for what a notification cannot
/// give: an exclusive create (done twice if a signal interrupted the first answer, the
/// second would fail with EEXIST) and an O_PATH open (ADDFD cannot install an O_PATH fd: the
/// task receives it in steps from a stop).
const NOTIFIED_UNLESS: [(Sysno, u8, ArgTest); 2] = [
    (Sysno::open, 1, ArgTest::AnyBit(OPEN_STOPS)),
    (Sysno::openat, 2, ArgTest::AnyBit(OPEN_STOPS)),
];

/// The open flags that make a notified open stop instead.
const OPEN_STOPS: u32 = (libc::O_EXCL | libc::O_PATH) as u32;

/// Passthrough calls that never wait and never end in a restart code of their own (close
/// makes its interruption EINTR), and that the sentry sees, under `--platform=ptrace`, as
/// notifications it answers by letting the call run (CONTINUE): a notification's round
/// trip is cheaper than a ptrace stop's. An interruption while one waits for its answer is
/// then always the notification's own, which the sentry restarts as for the calls it
/// answers whole (see the supervisor). Calls that may wait (read, write, futex, the waits
/// and polls) stay ptrace stops: a restart code at their signal-delivery stop may be
/// theirs, to end per SA_RESTART, which the sentry could not tell from the notification's.
/// The memory calls (mmap, brk, …) stay stops too: the synchronous wake-up of the answer
/// moves the task to the sentry's CPU, and two compile jobs that map memory all the time
/// ended up sharing it (`make -j2` 863 → 999 ms).
const QUIET_PASSTHROUGH: &[Sysno] = &[
    Sysno::close,
    Sysno::close_range,
    Sysno::fstat,
    Sysno::lseek,
    Sysno::getdents64,
    Sysno::dup,
    Sysno::dup2,
    Sysno::dup3,
    Sysno::pipe2,
    Sysno::rt_sigaction,
    Sysno::sigaltstack,
    Sysno::arch_prctl,
    Sysno::set_robust_list,
    Sysno::rseq,
    Sysno::getrusage,
    Sysno::times,
];

/// Whether `sysno` is one of the passthrough calls notified under `--platform=ptrace`.
pub fn is_quiet_passthrough(sysno: Sysno) -> bool {
    QUIET_PASSTHROUGH.contains(&sysno)
}

/// The calls that reach the sentry as notifications, and the guards that send some of
/// their variants to a ptrace stop instead. Refused calls are notified too: their answer is
/// an errno. Passthrough calls are not, but for [`QUIET_PASSTHROUGH`] when `quiet` (under
/// `--platform=ptrace`, where they would otherwise stop): a call waiting for its
/// notification can be interrupted by a signal, which Linux would deliver only after a call
/// that does not block (a write to a regular file, a read of a full pipe); the sentry
/// restarts interrupted notified calls it answers whole (see the supervisor), but cannot
/// tell such an interruption from a passthrough call's own.
pub fn notified(policy: Policy, quiet: bool) -> (Vec<u32>, Vec<Guard>) {
    // The dups are the sentry's only for the fds where signalfds and memfds live: below
    // those they are notified (and let run), at or above they stop (guards below).
    let dups = super::signalfd::DUPS.map(|s| s.id() as u32);
    let passes = |nr: u32| class_of(nr as u64, policy) == Class::Passthrough || dups.contains(&nr);
    let quiet_calls = QUIET_PASSTHROUGH.iter().filter(|_| quiet);
    let mut numbers: Vec<u32> = NOTIFIED
        .iter()
        .map(|s| s.id() as u32)
        .filter(|&nr| !passes(nr))
        .chain(quiet_calls.map(|s| s.id() as u32).filter(|&nr| passes(nr)))
        .collect();
    for nr in 0..MAX_NR as u32 {
        let known = Sysno::new(nr as usize).is_some();
        if known && matches!(class_of(nr as u64, policy), Class::Deny(_)) {
            numbers.push(nr);
        }
    }
    numbers.sort_unstable();
    numbers.dedup();
    let mut guards = as_guards(&NOTIFIED_UNLESS);
    if quiet {
        guards.extend(super::signalfd::guards(&super::signalfd::DUPS));
    }
    (numbers, guards)
}

/// Argument tests by syscall, as the BPF builder takes them.
fn as_guards(tests: &[(Sysno, u8, ArgTest)]) -> Vec<Guard> {
    tests
        .iter()
        .map(|&(sysno, arg, test)| Guard {
            nr: sysno.id() as u32,
            arg,
            test,
        })
        .collect()
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
        let prlimit =
            |pid: i32, res: u32| run(Sysno::prlimit64, [pid as u64, res as u64, 0, 0, 0, 0]);
        assert_eq!(prlimit(0, libc::RLIMIT_STACK), allow);
        assert_eq!(prlimit(0, libc::RLIMIT_CORE), trace);
        assert_eq!(prlimit(7, libc::RLIMIT_STACK), trace);
        assert_eq!(prlimit(-1, libc::RLIMIT_STACK), trace);
        let prctl = |option: i32| run(Sysno::prctl, [option as u64, 0, 0, 0, 0, 0]);
        assert_eq!(prctl(libc::PR_GET_NAME), allow);
        assert_eq!(prctl(libc::PR_SET_NAME), allow);
        assert_eq!(prctl(libc::PR_SET_SECCOMP), trace);
        assert_eq!(prctl(libc::PR_SET_DUMPABLE), trace);
        let futex = |op: i32| run(Sysno::futex, [0x1000, op as u64, 0, 0, 0, 0]);
        let private = libc::FUTEX_PRIVATE_FLAG;
        assert_eq!(futex(libc::FUTEX_WAIT | private), allow);
        assert_eq!(futex(libc::FUTEX_WAKE), allow);
        assert_eq!(futex(libc::FUTEX_LOCK_PI | private), trace);
        assert_eq!(futex(libc::FUTEX_UNLOCK_PI), trace);
        assert_eq!(
            futex(13 | private | libc::FUTEX_CLOCK_REALTIME),
            trace,
            "LOCK_PI2"
        );
        let timer = |event: u64| run(Sysno::timer_create, [1, event, 0x2000, 0, 0, 0]);
        assert_eq!(timer(0), allow, "no event: a signal to the process");
        assert_eq!(timer(0x1000), trace, "an event may name a thread");
        let clock = |id: i32| run(Sysno::clock_gettime, [id as u32 as u64, 0, 0, 0, 0, 0]);
        assert_eq!(clock(libc::CLOCK_MONOTONIC), allow);
        assert_eq!(clock(libc::CLOCK_PROCESS_CPUTIME_ID), allow);
        assert_eq!(clock(!1234 << 3 | 2), trace);
        // The table's own classes are untouched.
        assert_eq!(run(Sysno::read, [0; 6]), allow);
        assert_eq!(run(Sysno::getpid, [0; 6]), trace);
    }

    #[test]
    fn one_program_decides_as_the_two_filters_would() {
        const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
        const AUDIT_ARCH_I386: u32 = 0x4000_0003;
        // The kernel's rule for a task's filters: the lowest action (as a signed number)
        // wins.
        let kernel = |a: u32, b: u32| {
            let rank = |x: u32| (x & 0xffff_0000) as i32;
            if rank(a) <= rank(b) {
                a
            } else {
                b
            }
        };
        let cookie = [0x1234_5678_9abc_def0, 0x0fed_cba9_8765_4321];
        let open_flags = (libc::O_EXCL | libc::O_PATH) as u64;
        let floor = super::super::signalfd::FLOOR as u64;
        let arg_sets = [
            [0; 6],
            [cookie[0], cookie[1], 0, 0, 0, 0],
            [floor, 3, open_flags, 0, 0, 0],
            [3, open_flags, libc::F_SETOWN as u64, 0, 0, 0],
            [0x8000_0000, floor, 1, 1, 1, 0],
        ];
        for memory in [false, true] {
            let policy = Policy {
                memory,
                ..Policy::default()
            };
            for main in [compile(policy), Filter::allow_list(&[])] {
                for quiet in [false, true] {
                    let (set, guards) = notified(policy, quiet);
                    let listener = platform_ptrace::notify::listener_filter(cookie, &set, &guards);
                    let one = listener.then_where_allowed(&main);
                    let numbers = (0..MAX_NR as u32 + 2)
                        .chain([platform_ptrace::notify::INSTALL_NR as u32])
                        .chain([0x4000_0001, u32::MAX]);
                    for nr in numbers {
                        for arch in [AUDIT_ARCH_X86_64, AUDIT_ARCH_I386] {
                            for args in &arg_sets {
                                let two = kernel(
                                    listener.evaluate_call(arch, nr, args),
                                    main.evaluate_call(arch, nr, args),
                                );
                                assert_eq!(one.evaluate_call(arch, nr, args), two, "{nr} {args:?}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn notified_calls_are_those_answered_whole() {
        let has = |set: &[u32], s: Sysno| set.contains(&(s.id() as u32));
        let (set, guards) = notified(Policy::default(), false);
        assert!(has(&set, Sysno::getpid));
        assert!(has(&set, Sysno::openat));
        // Refused calls are answered with their errno.
        assert!(has(&set, Sysno::ptrace));
        // Passthrough calls stay in the kernel; calls that need an exit stop stay stops.
        assert!(!has(&set, Sysno::read));
        assert!(!has(&set, Sysno::fstat));
        assert!(!has(&set, Sysno::execve));
        assert!(!has(&set, Sysno::wait4));
        assert!(!has(&set, Sysno::openat2));
        assert!(guards.iter().any(|g| g.nr == Sysno::openat.id() as u32));
        // An O_PATH or exclusive open stops: its fd comes in steps, its create is not redone.
        let filter = platform_ptrace::notify::listener_filter([1, 2], &set, &guards);
        let openat = |flags: i32| {
            let args = [libc::AT_FDCWD as u64, 0, flags as u64, 0, 0, 0];
            platform_ptrace::notify::notifies(&filter, Sysno::openat.id() as i64, &args)
        };
        assert!(openat(libc::O_RDONLY | libc::O_CLOEXEC));
        assert!(!openat(libc::O_PATH | libc::O_CLOEXEC));
        assert!(!openat(libc::O_CREAT | libc::O_EXCL));
        // fstat is notified when owners make it stop.
        let owners = Policy {
            owners: true,
            ..Policy::default()
        };
        assert!(has(&notified(owners, false).0, Sysno::fstat));
    }

    #[test]
    fn quiet_passthrough_calls_are_notified_only_where_they_would_stop() {
        let has = |set: &[u32], s: Sysno| set.contains(&(s.id() as u32));
        let (quiet, _) = notified(Policy::default(), true);
        assert!(has(&quiet, Sysno::close));
        assert!(has(&quiet, Sysno::getpid), "the calls answered whole stay");
        // Calls that wait stay ptrace stops, and so do the exits and the memory calls.
        for waits in [
            Sysno::read,
            Sysno::write,
            Sysno::futex,
            Sysno::wait4,
            Sysno::poll,
        ] {
            assert!(!has(&quiet, waits), "{waits:?}");
        }
        assert!(!has(&quiet, Sysno::exit_group));
        assert!(!has(&quiet, Sysno::mmap));
        for sysno in QUIET_PASSTHROUGH {
            let class = class_of(sysno.id() as u64, Policy::default());
            assert!(
                class == Class::Passthrough || super::super::signalfd::DUPS.contains(sysno),
                "{sysno:?} is answered by letting it run"
            );
        }
        // Under a memory limit close is the sentry's to decide (memfds).
        let memory = Policy {
            memory: true,
            ..Policy::default()
        };
        let (limited, _) = notified(memory, true);
        assert!(!has(&limited, Sysno::close));
    }

    #[test]
    fn calls_on_the_fds_of_signalfds_stop() {
        use super::super::signalfd::{CEILING, FLOOR};
        const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
        let (trace, allow) = (libc::SECCOMP_RET_TRACE, libc::SECCOMP_RET_ALLOW);
        let filter = compile(Policy::default());
        let on_fd = |sysno: Sysno, fd: u32| {
            filter.evaluate_call(
                AUDIT_ARCH_X86_64,
                sysno.id() as u32,
                &[fd as u64, 0, 0, 0, 0, 0],
            )
        };
        for sysno in [
            Sysno::read,
            Sysno::readv,
            Sysno::preadv2,
            Sysno::dup,
            Sysno::dup2,
        ] {
            assert_eq!(on_fd(sysno, 3), allow, "{sysno:?}");
            assert_eq!(on_fd(sysno, FLOOR), trace, "{sysno:?}");
            assert_eq!(on_fd(sysno, CEILING - 1), trace, "{sysno:?}");
        }
        // Above the signalfds' numbers a read runs in the kernel; a dup still stops (memfds
        // live there too).
        for sysno in [Sysno::read, Sysno::readv, Sysno::preadv2] {
            assert_eq!(on_fd(sysno, CEILING), allow, "{sysno:?}");
        }
        assert_eq!(on_fd(Sysno::dup, CEILING), trace);
        // Under ptrace a dup is notified below the floor and stops at or above it.
        let (set, guards) = notified(Policy::default(), true);
        assert!(set.contains(&(Sysno::dup2.id() as u32)));
        let listener = platform_ptrace::notify::listener_filter([1, 2], &set, &guards);
        let dup2 = |fd: u32| {
            let args = [fd as u64, 3, 0, 0, 0, 0];
            platform_ptrace::notify::notifies(&listener, Sysno::dup2.id() as i64, &args)
        };
        assert!(dup2(3));
        assert!(!dup2(FLOOR));
    }
}

//! The syscall table: every x86_64 syscall number has exactly one entry, its class and the
//! handler that decides it when it stops at the sentry. It is an allow list: a number not
//! named here is denied with ENOSYS. The seccomp filter is compiled from it (`filter`).

use super::args::Shown;
use super::{Action, Call};
use nix::errno::Errno;
use syscalls::Sysno;

/// Declares the entries of the syscalls a file serves:
///
/// ```text
/// syscall_entries! {
///     /// why it is served this way
///     openat(dirfd: DirFd, path: Path, flags: OpenFlags, mode: OpenMode) => Gofer, openat;
///     getpid() => Emulate, |call, _| getpid(call);
/// }
/// ```
///
/// Each line gives the syscall, its arguments with their kinds ([`kind`](super::args::kind)), its class and
/// optionally its handler: a function or closure taking the call and the syscall's argument
/// struct (`args::<name>`), returning an `Action` or `Result<Action, Errno>`. The block
/// makes the structs and `entries()`, which the table collects.
#[macro_export]
macro_rules! syscall_entries {
    ($(
        $(#[$doc:meta])*
        $name:ident ( $($field:ident : $kind:ident),* $(,)? ) => $class:expr $(, $handler:expr)? ;
    )*) => {
        /// The argument structs of this file's syscalls, one per syscall, named after it.
        #[allow(non_camel_case_types, dead_code)]
        pub mod args {
            $(
                $(#[$doc])*
                #[derive(Clone, Copy, Debug)]
                pub struct $name {
                    $(pub $field: <$crate::syscalls::args::kind::$kind as $crate::syscalls::args::Arg>::Value,)*
                }

                impl $name {
                    #[allow(unused_variables, unused_mut, unused_assignments)]
                    pub fn decode(raw: &[u64; 6]) -> Self {
                        let mut index = 0;
                        $(
                            let $field = <$crate::syscalls::args::kind::$kind as $crate::syscalls::args::Arg>::decode(raw[index], index);
                            index += 1;
                        )*
                        $name { $($field,)* }
                    }

                    #[allow(unused_variables, unused_mut, unused_assignments)]
                    pub fn show(shown: &$crate::syscalls::args::Shown) -> String {
                        let decoded = Self::decode(shown.raw);
                        let mut parts: Vec<String> = Vec::new();
                        let mut index = 0;
                        $(
                            if let Some(part) = <$crate::syscalls::args::kind::$kind as $crate::syscalls::args::Arg>::show(decoded.$field, index, shown) {
                                parts.push(part);
                            }
                            index += 1;
                        )*
                        parts.join(", ")
                    }
                }
            )*
        }

        /// This file's entries of the syscall table.
        pub(super) fn entries() -> Vec<(::syscalls::Sysno, $crate::syscalls::table::Entry)> {
            #[allow(unused_imports)]
            use $crate::syscalls::table::Class::*;
            vec![$(
                (
                    ::syscalls::Sysno::$name,
                    $crate::syscalls::table::Entry {
                        class: $class,
                        handler: $crate::syscall_entries!(@handler $name $(, $handler)?),
                        show: Some(args::$name::show),
                    },
                ),
            )*]
        }
    };
    (@handler $name:ident) => { None };
    (@handler $name:ident, $handler:expr) => {{
        let handler: $crate::syscalls::table::Handler = |call| {
            let decoded = args::$name::decode(&call.args);
            let typed: fn(&mut $crate::syscalls::Call<'_>, args::$name) -> _ = $handler;
            $crate::syscalls::args::IntoAction::into_action(typed(call, decoded))
        };
        Some(handler)
    }};
}

/// How the sentry serves a syscall (DESIGN.md, "sentry").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// The host runs it with the task's own arguments: they cannot name a host resource.
    Passthrough,
    /// Passthrough after an argument check that may deny or rewrite the call
    /// (pids that must belong to the sandbox, flags that must be stripped, socket families).
    Checked,
    /// The sentry computes the result from its tables; the host never runs it.
    Emulate,
    /// A path-bearing call, served through the file system layer.
    Gofer,
    /// Refused with this errno and a trace event.
    Deny(Errno),
}

impl Class {
    /// The short label used by `--strace` and `sentry table`.
    pub fn label(self) -> String {
        match self {
            Class::Passthrough => "passthrough".into(),
            Class::Checked => "checked".into(),
            Class::Emulate => "emulate".into(),
            Class::Gofer => "gofer".into(),
            Class::Deny(errno) => format!("deny:{errno:?}"),
        }
    }
}

/// Highest syscall number the table covers; anything above is unknown.
pub const MAX_NR: usize = 512;

/// What the run's configuration makes stop at the sentry beyond the table's own classes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// Committed memory is accounted: memory calls, memfd sizes and sockets stop.
    pub memory: bool,
    /// Tasks are counted: fork and vfork stop.
    pub pids: bool,
    /// File owners show other than on the host: fstat stops.
    pub owners: bool,
}

impl Policy {
    pub fn new(limits: &crate::config::Limits, identity: &crate::kernel::creds::Identity) -> Self {
        Policy {
            memory: limits.accounts_memory(),
            pids: limits.pids.is_some(),
            owners: identity.maps_owners(),
        }
    }

    /// The policy of the run a kernel serves.
    pub fn of(kernel: &crate::kernel::Kernel) -> Self {
        Policy::new(&kernel.memory.limits, &kernel.identity)
    }
}

/// What the sentry does with a call it sees: the function that decides it.
pub type Handler = fn(&mut Call) -> Action;

/// One syscall's entry: its class, and the handler of a call that stops at the sentry
/// (None for a passthrough call no policy makes stop, and for denied calls).
#[derive(Clone, Copy)]
pub struct Entry {
    pub class: Class,
    pub handler: Option<Handler>,
    /// The call's arguments as `--strace` shows them, from its typed struct (None: an
    /// untyped passthrough or denied call, shown as three hex words).
    pub show: Option<fn(&Shown) -> String>,
}

/// The host runs it; no policy makes it stop.
const fn pass() -> Entry {
    Entry {
        class: Class::Passthrough,
        handler: None,
        show: None,
    }
}

const fn deny(errno: Errno) -> Entry {
    Entry {
        class: Class::Deny(errno),
        handler: None,
        show: None,
    }
}

/// The class of syscall number `nr` (x86_64 numbering, without the x32 bit) under `policy`.
pub fn class_of(nr: u64, policy: Policy) -> Class {
    class_override(nr, policy).unwrap_or(entry(nr).0.class)
}

/// The class and handler of syscall number `nr` under `policy`.
pub fn lookup(nr: u64, policy: Policy) -> Entry {
    let base = entry(nr).0;
    Entry {
        class: class_override(nr, policy).unwrap_or(base.class),
        ..base
    }
}

/// The class a call takes because of the run's policy, overriding the table: memory calls
/// must stop at the sentry (also in seccomp mode) when memory is accounted, fork/vfork when
/// tasks are counted, fstat when owners show other than on the host.
fn class_override(nr: u64, policy: Policy) -> Option<Class> {
    let sysno = Sysno::new(nr as usize)?;
    use Sysno::*;
    let memory = policy.memory;
    match sysno {
        brk | mmap | munmap | mremap | mprotect | pkey_mprotect if memory => Some(Class::Checked),
        memfd_create | ftruncate | fallocate | close | close_range | io_submit | accept
        | accept4
            if memory =>
        {
            Some(Class::Checked)
        }
        // Under `--platform=seccomp` these stop only for fds at or above signalfd::FLOOR.
        _ if memory && super::memfd::MEMFD_GUARDED.iter().any(|&(s, _)| s == sysno) => {
            Some(Class::Checked)
        }
        // fstat stops at the sentry when owners show other than on the host.
        fstat if policy.owners => Some(Class::Checked),
        fork | vfork if memory || policy.pids => Some(Class::Checked),
        _ => None,
    }
}

/// Whether the table names `nr` on purpose; the rest are denied as unknown.
pub fn is_known(nr: u64) -> bool {
    entry(nr).1
}

fn entry(nr: u64) -> (Entry, bool) {
    static TABLE: std::sync::OnceLock<Vec<(Entry, bool)>> = std::sync::OnceLock::new();
    TABLE
        .get_or_init(build)
        .get(nr as usize)
        .copied()
        .unwrap_or((deny(Errno::ENOSYS), false))
}

/// The table by number. A syscall given two entries is a bug the first call finds (and the
/// unit tests): no entry may shadow another.
fn build() -> Vec<(Entry, bool)> {
    let mut table = vec![(deny(Errno::ENOSYS), false); MAX_NR];
    for (sysno, entry) in every_entry() {
        let slot = &mut table[sysno.id() as usize];
        assert!(!slot.1, "syscall {} has two entries", sysno.name());
        *slot = (entry, true);
    }
    table
}

/// The entries one file of `syscalls` declares.
type Family = fn() -> Vec<(Sysno, Entry)>;

/// Every entry: each file of `syscalls` declares the calls it serves (`syscall_entries!`,
/// next to their handlers); the calls the host runs with no handler and the denied calls
/// are declared here.
fn every_entry() -> Vec<(Sysno, Entry)> {
    use super::*;
    let families: &[Family] = &[
        entries,
        clocks::entries,
        exec::entries,
        ids::entries,
        inet::entries,
        ipc::entries,
        memfd::entries,
        mm::entries,
        mount::entries,
        net::entries,
        owner::entries,
        pid::entries,
        process::entries,
        rlimit::entries,
        signalfd::entries,
        sys_cwd::entries,
        sys_ioctl::entries,
        sys_namei::entries,
        sys_open::entries,
        sys_signal::entries,
        sys_stat::entries,
        sys_wait::entries,
        sys_xattr::entries,
        uts::entries,
    ];
    let mut all: Vec<(Sysno, Entry)> = families.iter().flat_map(|family| family()).collect();
    all.extend(PASSTHROUGH.iter().map(|&sysno| (sysno, pass())));
    for &(errno, calls) in DENIED {
        all.extend(calls.iter().map(|&sysno| (sysno, deny(errno))));
    }
    all
}

// The host runs these with the task's own arguments; `--strace` decodes them.
crate::syscall_entries! {
    pread64(fd: Fd, buf: Ptr, count: Int, offset: Int) => Passthrough;
    lseek(fd: Fd, offset: Int, whence: Int) => Passthrough;
    fsync(fd: Fd) => Passthrough;
    fdatasync(fd: Fd) => Passthrough;
    getdents64(fd: Fd, dirent: Ptr, count: Int) => Passthrough;
    rt_sigaction(signal: Signal, act: Ptr, oldact: Ptr, size: Int) => Passthrough;
    exit(status: Int) => Passthrough;
    exit_group(status: Int) => Passthrough;
    sched_yield() => Passthrough;
    pause() => Passthrough;
}

/// I/O on fds the task holds, memory, time, futexes, signal state of the caller: the host
/// runs them with the task's own arguments, which cannot name a host resource.
const PASSTHROUGH: &[Sysno] = {
    use Sysno::*;
    &[
        poll,
        rt_sigprocmask,
        rt_sigreturn,
        pipe,
        select,
        msync,
        mincore,
        madvise,
        shmdt,
        nanosleep,
        getitimer,
        alarm,
        setitimer,
        shutdown,
        flock,
        getdents,
        gettimeofday,
        getrusage,
        times,
        rt_sigpending,
        rt_sigsuspend,
        sigaltstack,
        fstatfs,
        sched_get_priority_max,
        sched_get_priority_min,
        mlock,
        munlock,
        mlockall,
        munlockall,
        arch_prctl,
        sync,
        readahead,
        time,
        set_thread_area,
        io_destroy,
        io_getevents,
        io_cancel,
        get_thread_area,
        epoll_create,
        remap_file_pages,
        restart_syscall,
        fadvise64,
        timer_settime,
        timer_gettime,
        timer_getoverrun,
        timer_delete,
        epoll_wait,
        epoll_ctl,
        mbind,
        set_mempolicy,
        get_mempolicy,
        mq_timedsend,
        mq_timedreceive,
        mq_notify,
        mq_getsetattr,
        inotify_init,
        inotify_rm_watch,
        pselect6,
        ppoll,
        set_robust_list,
        tee,
        sync_file_range,
        vmsplice,
        epoll_pwait,
        timerfd_create,
        eventfd,
        timerfd_settime,
        timerfd_gettime,
        eventfd2,
        epoll_create1,
        pipe2,
        inotify_init1,
        preadv,
        syncfs,
        getcpu,
        getrandom,
        membarrier,
        mlock2,
        pkey_alloc,
        pkey_free,
        io_pgetevents,
        rseq,
        epoll_pwait2,
        memfd_secret,
        futex_waitv,
        set_mempolicy_home_node,
        cachestat,
        map_shadow_stack,
        futex_wake,
        futex_wait,
        futex_requeue,
        mseal,
    ]
};

/// Refused with an errno and a trace event, by group.
const DENIED: &[(Errno, &[Sysno])] = {
    use Sysno::*;
    &[
        // Interfaces that would act outside per-syscall interception (DESIGN.md invariant 4).
        (
            Errno::ENOSYS,
            &[io_uring_setup, io_uring_enter, io_uring_register],
        ),
        (
            Errno::EPERM,
            &[
                ptrace,
                process_vm_readv,
                process_vm_writev,
                bpf,
                kexec_load,
                kexec_file_load,
                init_module,
                finit_module,
                delete_module,
                open_by_handle_at,
                name_to_handle_at,
                process_madvise,
                process_mrelease,
                kcmp,
                userfaultfd,
            ],
        ),
        (Errno::EACCES, &[perf_event_open]),
        // glibc falls back to clone(2), whose flags live in a register the sentry can
        // police race-free; clone3's live in task memory another thread could rewrite.
        (Errno::ENOSYS, &[clone3]),
        // Host-wide state: time, mounts, swap, power, modules, quotas, accounting, the
        // kernel log, namespaces, the LDT and port I/O.
        (
            Errno::EPERM,
            &[
                settimeofday,
                clock_settime,
                clock_adjtime,
                adjtimex,
                swapon,
                swapoff,
                reboot,
                acct,
                quotactl,
                quotactl_fd,
                syslog,
                vhangup,
                iopl,
                ioperm,
                modify_ldt,
                fanotify_init,
                fanotify_mark,
                open_tree,
                move_mount,
                fsopen,
                fsconfig,
                fsmount,
                fspick,
                mount_setattr,
                open_tree_attr,
            ],
        ),
        // Host-global names (keyrings, POSIX message queues) and obsolete or unsupported calls.
        (
            Errno::ENOSYS,
            &[
                add_key,
                request_key,
                keyctl,
                mq_open,
                mq_unlink,
                uselib,
                ustat,
                sysfs,
                _sysctl,
                create_module,
                get_kernel_syms,
                query_module,
                nfsservctl,
                getpmsg,
                putpmsg,
                afs_syscall,
                tuxcall,
                security,
                lookup_dcookie,
                epoll_ctl_old,
                epoll_wait_old,
                vserver,
                landlock_create_ruleset,
                landlock_add_rule,
                landlock_restrict_self,
                statmount,
                listmount,
                lsm_get_self_attr,
                lsm_set_self_attr,
                lsm_list_modules,
                uretprobe,
                uprobe,
                file_getattr,
                file_setattr,
                setxattrat,
                getxattrat,
                listxattrat,
                removexattrat,
            ],
        ),
    ]
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_that_stops_has_a_handler() {
        let every_policy = Policy {
            memory: true,
            pids: true,
            owners: true,
        };
        for policy in [Policy::default(), every_policy] {
            for nr in 0..MAX_NR as u64 {
                let entry = lookup(nr, policy);
                let stops = matches!(entry.class, Class::Checked | Class::Emulate | Class::Gofer);
                assert!(
                    !stops || entry.handler.is_some(),
                    "syscall {nr} stops as {:?} under {policy:?} without a handler",
                    entry.class
                );
            }
        }
    }

    #[test]
    fn no_syscall_has_two_entries() {
        let mut seen = std::collections::HashSet::new();
        for (sysno, _) in every_entry() {
            assert!(seen.insert(sysno), "{} has two entries", sysno.name());
        }
    }

    #[test]
    fn arguments_show_from_the_typed_entry() {
        let path = b"/etc/passwd\0";
        let raw = [
            libc::AT_FDCWD as u64,
            path.as_ptr() as u64,
            (libc::O_WRONLY | libc::O_CREAT) as u64,
            0o644,
            0,
            0,
        ];
        let paths = [(1, b"/etc/passwd".to_vec())];
        let shown = Shown {
            tid: 0,
            raw: &raw,
            paths: &paths,
        };
        let show = lookup(Sysno::openat.id() as u64, Policy::default()).show;
        assert_eq!(
            show.expect("openat is typed")(&shown),
            "AT_FDCWD, \"/etc/passwd\", O_WRONLY|O_CREAT, 0644"
        );
        let show = lookup(Sysno::kill.id() as u64, Policy::default()).show;
        let raw = [7, libc::SIGTERM as u64, 0, 0, 0, 0];
        let shown = Shown {
            tid: 0,
            raw: &raw,
            paths: &[],
        };
        assert_eq!(show.expect("kill is typed")(&shown), "7, SIGTERM");
    }

    #[test]
    fn unknown_numbers_are_denied_with_enosys() {
        assert_eq!(
            class_of(1000, Policy::default()),
            Class::Deny(Errno::ENOSYS)
        );
        assert_eq!(class_of(400, Policy::default()), Class::Deny(Errno::ENOSYS));
        assert_eq!(
            class_of(u64::MAX, Policy::default()),
            Class::Deny(Errno::ENOSYS)
        );
        assert!(!is_known(1000));
        assert!(is_known(Sysno::clone3.id() as u64));
    }

    #[test]
    fn invariant_four_calls_are_denied() {
        for sysno in [
            Sysno::io_uring_setup,
            Sysno::ptrace,
            Sysno::process_vm_readv,
            Sysno::process_vm_writev,
            Sysno::bpf,
            Sysno::perf_event_open,
            Sysno::kexec_load,
            Sysno::init_module,
            Sysno::open_by_handle_at,
            Sysno::clone3,
        ] {
            assert!(
                matches!(
                    class_of(sysno.id() as u64, Policy::default()),
                    Class::Deny(_)
                ),
                "{} must be denied",
                sysno.name()
            );
        }
    }

    #[test]
    fn path_calls_are_never_passthrough() {
        for sysno in [
            Sysno::open,
            Sysno::openat,
            Sysno::execve,
            Sysno::stat,
            Sysno::connect,
        ] {
            assert_eq!(class_of(sysno.id() as u64, Policy::default()), Class::Gofer);
        }
    }
}

//! The syscall table: every x86_64 syscall number has exactly one entry, its class and the
//! handler that decides it when it stops at the sentry. It is an allow list: a number not
//! named here is denied with ENOSYS. The seccomp filter is compiled from it (`filter`).

use super::{
    clocks, fs, ids, inet, ipc, memfd, mm, net, owner, pid, process, rlimit, socket_memory,
    sys_ioctl, sys_signal, sys_stat, sys_wait, sys_xattr, uts, Action, Call, ExitHook,
};
use nix::errno::Errno;
use syscalls::Sysno;

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
    /// A hard memory limit: sysinfo shows it.
    pub memory_limit: bool,
    /// Tasks are counted: fork and vfork stop.
    pub pids: bool,
    /// File owners show other than on the host: fstat stops.
    pub owners: bool,
}

impl Policy {
    pub fn new(limits: &crate::config::Limits, identity: &crate::kernel::creds::Identity) -> Self {
        Policy {
            memory: limits.accounts_memory(),
            memory_limit: limits.memory.is_some(),
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
}

/// The host runs it; no policy makes it stop.
const fn pass() -> Entry {
    Entry {
        class: Class::Passthrough,
        handler: None,
    }
}

/// The host runs it, unless the run's policy makes it stop; then `handler` decides it.
const fn pass_or(handler: Handler) -> Entry {
    Entry {
        class: Class::Passthrough,
        handler: Some(handler),
    }
}

const fn sys(class: Class, handler: Handler) -> Entry {
    Entry {
        class,
        handler: Some(handler),
    }
}

const fn deny(errno: Errno) -> Entry {
    Entry {
        class: Class::Deny(errno),
        handler: None,
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
        handler: base.handler,
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
        // Under `--platform=seccomp` these stop only for fds at or above memfd::FLOOR.
        _ if memory && memfd::MEMFD_GUARDED.iter().any(|&(s, _)| s == sysno) => {
            Some(Class::Checked)
        }
        // fstat stops at the sentry when owners show other than on the host.
        fstat if policy.owners => Some(Class::Checked),
        sysinfo if policy.memory_limit => Some(Class::Checked),
        fork | vfork if memory || policy.pids => Some(Class::Checked),
        _ => None,
    }
}

/// Whether the table names `nr` on purpose; the rest are denied as unknown.
pub fn is_known(nr: u64) -> bool {
    entry(nr).1
}

fn entry(nr: u64) -> (Entry, bool) {
    static TABLE: std::sync::OnceLock<[(Entry, bool); MAX_NR]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = [(deny(Errno::ENOSYS), false); MAX_NR];
        for sysno in Sysno::iter() {
            if let Some(slot) = table.get_mut(sysno.id() as usize) {
                *slot = match entry_of(sysno) {
                    Some(entry) => (entry, true),
                    None => (deny(Errno::ENOSYS), false),
                };
            }
        }
        table
    });
    table
        .get(nr as usize)
        .copied()
        .unwrap_or((deny(Errno::ENOSYS), false))
}

/// The whole table: each syscall's class and handler, in one arm. Comments say why a call
/// is where it is.
fn entry_of(sysno: Sysno) -> Option<Entry> {
    use Class::*;
    use Sysno::*;
    Some(match sysno {
        // I/O on fds the task holds, memory, time, futexes, signal state of the caller.
        read
        | poll
        | lseek
        | rt_sigaction
        | rt_sigprocmask
        | rt_sigreturn
        | pread64
        | readv
        | pipe
        | select
        | sched_yield
        | msync
        | mincore
        | madvise
        | shmdt
        | pause
        | nanosleep
        | getitimer
        | alarm
        | setitimer
        | shutdown
        | exit
        | flock
        | fsync
        | fdatasync
        | getdents
        | umask
        | gettimeofday
        | getrusage
        | times
        | rt_sigpending
        | rt_sigsuspend
        | sigaltstack
        | fstatfs
        | sched_get_priority_max
        | sched_get_priority_min
        | mlock
        | munlock
        | mlockall
        | munlockall
        | arch_prctl
        | sync
        | readahead
        | time
        | futex
        | set_thread_area
        | io_setup
        | io_destroy
        | io_getevents
        | io_cancel
        | get_thread_area
        | epoll_create
        | remap_file_pages
        | getdents64
        | restart_syscall
        | fadvise64
        | timer_settime
        | timer_gettime
        | timer_getoverrun
        | timer_delete
        | exit_group
        | epoll_wait
        | epoll_ctl
        | mbind
        | set_mempolicy
        | get_mempolicy
        | mq_timedsend
        | mq_timedreceive
        | mq_notify
        | mq_getsetattr
        | inotify_init
        | inotify_rm_watch
        | pselect6
        | ppoll
        | set_robust_list
        | tee
        | sync_file_range
        | vmsplice
        | epoll_pwait
        | signalfd
        | timerfd_create
        | eventfd
        | timerfd_settime
        | timerfd_gettime
        | signalfd4
        | eventfd2
        | epoll_create1
        | pipe2
        | inotify_init1
        | preadv
        | syncfs
        | getcpu
        | getrandom
        | membarrier
        | mlock2
        | preadv2
        | pkey_alloc
        | pkey_free
        | io_pgetevents
        | rseq
        | epoll_pwait2
        | memfd_secret
        | futex_waitv
        | set_mempolicy_home_node
        | cachestat
        | map_shadow_stack
        | futex_wake
        | futex_wait
        | futex_requeue
        | mseal => pass(),
        write | pwrite64 | writev | dup | dup2 | sendfile | io_submit | splice | dup3 | pwritev
        | copy_file_range | pwritev2 => pass_or(memfd::handle),
        close | mmap | mprotect | munmap | brk | mremap | ftruncate | sysinfo | fallocate
        | pkey_mprotect | close_range => pass_or(mm::handle),
        fstat => pass_or(sys_stat::fstat),
        // A loopback listener's accept is the sentry's to record (`inet`).
        accept | accept4 => sys(Checked, |c| socket_memory::creating(c, inet::accept)),
        listen => sys(Checked, inet::listen),
        // A loopback datagram's sender is named by the sentry (stops only with an address
        // under --platform=seccomp: see `filter`).
        recvfrom => sys(Checked, inet::recvfrom),
        memfd_create => pass_or(memfd::create),
        // pidfd_getfd is made by the sentry, for a process of the sandbox only.
        pidfd_getfd => sys(Checked, pid::pidfd_getfd),
        // A pidfd can only come from pidfd_open (checked) or CLONE_PIDFD (an own child).
        pidfd_send_signal => pass(),
        // Arguments that name processes, groups, ipc objects, devices or flags to police.
        // fcntl and setsockopt stop only for the commands and options that need the sentry
        // (see `filter`): fd owners and lock holders, pidfds of peers; getrlimit and
        // setrlimit for RLIMIT_CORE only; the clock calls for CPU clocks of other tasks.
        fcntl => sys(Checked, |c| owner::fcntl(c, memfd::handle)),
        setsockopt => sys(Checked, net::setsockopt),
        getrlimit | setrlimit => sys(Checked, rlimit::handle),
        clock_gettime | clock_getres | clock_nanosleep | timer_create => {
            sys(Checked, clocks::handle)
        }
        ioctl => sys(Checked, sys_ioctl::ioctl),
        socket => sys(Checked, |c| socket_memory::creating(c, net::socket)),
        socketpair => sys(Checked, |c| socket_memory::creating(c, |_| Action::Pass)),
        clone => sys(Checked, |c| mm::creating(c, process::clone)),
        kill | rt_sigqueueinfo | rt_tgsigqueueinfo | tkill | tgkill | pidfd_open => {
            sys(Checked, sys_signal::send)
        }
        setpgid
        | getpriority
        | setpriority
        | sched_setparam
        | sched_getparam
        | sched_setscheduler
        | sched_getscheduler
        | sched_rr_get_interval
        | sched_setaffinity
        | sched_getaffinity
        | sched_setattr
        | sched_getattr
        | ioprio_set
        | ioprio_get
        | migrate_pages
        | move_pages
        | get_robust_list
        | prlimit64 => sys(Checked, pid::pid_argument),
        personality => sys(Checked, process::personality),
        prctl => sys(Checked, process::prctl),
        unshare => sys(Checked, process::unshare),
        seccomp => sys(Checked, process::seccomp),
        shmget | shmat | shmctl | semget | semop | semctl | semtimedop | msgget | msgsnd
        | msgrcv | msgctl => sys(Checked, ipc::handle),
        getsockname | getpeername => sys(Checked, net::fix_address_at_exit),
        fchmod | fsetxattr | fremovexattr => sys(Checked, |c| {
            ids::fd_inode_change(c).unwrap_or_else(|| process::inode_change(c))
        }),
        // Read by the sentry when the tasks' host uid does not own what the gofer made.
        fgetxattr | flistxattr => sys(Checked, sys_xattr::fd_read),
        fchown => sys(Checked, |c| {
            ids::fchown(c, c.args[0] as i32, [c.args[1], c.args[2]])
        }),
        // Identity: each task's sandbox credentials, kept by the sentry
        // (`syscalls::ids`); on the host every task is unprivileged.
        getuid | geteuid | getgid | getegid | getresuid | getresgid | getgroups | setuid
        | setgid | setreuid | setregid | setresuid | setresgid | setgroups | setfsuid
        | setfsgid | capget | capset => sys(Emulate, ids::handle),
        // The sandbox's own hostname and domain name.
        uname | sethostname | setdomainname => sys(Emulate, uts::handle),
        // Process ids are the sentry's own numbers (DESIGN.md invariant 5).
        getpid | gettid | getppid | getpgrp | getpgid | getsid => sys(Emulate, pid::emulate),
        // Mounts are the sandbox's own tables (only what stays inside can be mounted).
        mount | umount2 | pivot_root => sys(Emulate, super::mount::handle),
        setns => sys(Emulate, process::setns),
        // The kernel computes a host id that the sentry translates at the exit stop.
        fork | vfork => sys(Checked, |c| {
            mm::creating(c, |_| Action::PassThenExit(ExitHook::Clone))
        }),
        wait4 | waitid => sys(Checked, sys_wait::wait),
        setsid | set_tid_address => sys(Checked, pid::translate_result),
        rt_sigtimedwait => sys(Checked, sys_signal::timedwait),
        // SO_PEERCRED names the peer by host pid: translated at the exit stop.
        getsockopt => sys(Checked, net::getsockopt),
        // SCM_CREDENTIALS received on an AF_UNIX socket with SO_PASSCRED name the sender by
        // host pid and ids: translated at the exit stop.
        recvmsg | recvmmsg => sys(Checked, net::receive),
        // Calls that name a path, or an address that can be a path.
        open | stat | lstat | access | connect | sendto | sendmsg | sendmmsg | bind | execve
        | truncate | getcwd | chdir | fchdir | rename | mkdir | rmdir | creat | link | unlink
        | symlink | readlink | chmod | chown | lchown | utime | mknod | statfs | setxattr
        | lsetxattr | getxattr | lgetxattr | listxattr | llistxattr | removexattr
        | lremovexattr | utimes | inotify_add_watch | openat | mkdirat | mknodat | fchownat
        | futimesat | newfstatat | unlinkat | renameat | linkat | symlinkat | readlinkat
        | fchmodat | faccessat | utimensat | renameat2 | execveat | statx | openat2
        | faccessat2 | fchmodat2 | chroot => sys(Gofer, fs::handle),
        // Interfaces that would act outside per-syscall interception (DESIGN.md invariant 4).
        io_uring_setup | io_uring_enter | io_uring_register => deny(Errno::ENOSYS),
        ptrace | process_vm_readv | process_vm_writev | bpf | kexec_load | kexec_file_load
        | init_module | finit_module | delete_module | open_by_handle_at | name_to_handle_at
        | process_madvise | process_mrelease | kcmp | userfaultfd => deny(Errno::EPERM),
        perf_event_open => deny(Errno::EACCES),
        // glibc falls back to clone(2), whose flags live in a register the sentry can
        // police race-free; clone3's live in task memory another thread could rewrite.
        clone3 => deny(Errno::ENOSYS),
        // Host-wide state: time, mounts, swap, power, modules, quotas, accounting, the
        // kernel log, namespaces, the LDT and port I/O.
        settimeofday | clock_settime | clock_adjtime | adjtimex | swapon | swapoff | reboot
        | acct | quotactl | quotactl_fd | syslog | vhangup | iopl | ioperm | modify_ldt
        | fanotify_init | fanotify_mark | open_tree | move_mount | fsopen | fsconfig | fsmount
        | fspick | mount_setattr | open_tree_attr => deny(Errno::EPERM),
        // Host-global names (keyrings, POSIX message queues) and obsolete or unsupported calls.
        add_key
        | request_key
        | keyctl
        | mq_open
        | mq_unlink
        | uselib
        | ustat
        | sysfs
        | _sysctl
        | create_module
        | get_kernel_syms
        | query_module
        | nfsservctl
        | getpmsg
        | putpmsg
        | afs_syscall
        | tuxcall
        | security
        | lookup_dcookie
        | epoll_ctl_old
        | epoll_wait_old
        | vserver
        | landlock_create_ruleset
        | landlock_add_rule
        | landlock_restrict_self
        | statmount
        | listmount
        | lsm_get_self_attr
        | lsm_set_self_attr
        | lsm_list_modules
        | uretprobe
        | uprobe
        | file_getattr
        | file_setattr
        | setxattrat
        | getxattrat
        | listxattrat
        | removexattrat => deny(Errno::ENOSYS),

        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_that_stops_has_a_handler() {
        let every_policy = Policy {
            memory: true,
            memory_limit: true,
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

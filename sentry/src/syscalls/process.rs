//! clone, unshare, personality, prctl, seccomp, ioctl and futex: flags and operations that
//! must not take effect.

use super::{deny_event, errno, Action, Call, ExitHook};
use nix::errno::Errno;

crate::syscall_entries! {
    clone(flags: CloneFlags, stack: Ptr, parent_tid: Ptr, child_tid: Ptr, tls: Hex) => Checked,
        |call, a| {
            creation_entry(call);
            super::mm::creating(call, |call| clone(call, a))
        };
    // The kernel computes a host id that the sentry translates at the exit stop.
    fork() => Checked, |call, _| {
        creation_entry(call);
        super::mm::creating(call, |_| Action::PassThenExit(ExitHook::Clone))
    };
    vfork() => Checked, |call, _| {
        creation_entry(call);
        super::mm::creating(call, |_| Action::PassThenExit(ExitHook::Clone))
    };
    unshare(flags: Hex) => Checked, unshare;
    personality(persona: Hex) => Checked, personality;
    prctl(option: Int32, arg2: Hex, arg3: Hex, arg4: Hex, arg5: Hex) => Checked, prctl;
    seccomp(operation: Int32, flags: Hex, args: Ptr) => Checked, seccomp;
    setns(fd: Fd, nstype: Int32) => Emulate, setns;
    // Only the priority-inheritance operations stop (see `filter`): the rest run in the kernel.
    futex(word: Ptr, op: Hex, value: Int32, timeout: Ptr, word2: Ptr, value3: Int32) => Checked,
        |call, a| futex(call, a.op);
}

/// The priority-inheritance futex operations, with every combination of the private and
/// realtime-clock flags: FUTEX_LOCK_PI, UNLOCK_PI, TRYLOCK_PI, WAIT_REQUEUE_PI,
/// CMP_REQUEUE_PI and LOCK_PI2.
pub const FUTEX_PI_OPS: [u32; 24] = {
    const OPS: [u32; 6] = [6, 7, 8, 11, 12, 13];
    const FLAGS: [u32; 4] = [0, 128, 256, 384];
    let mut all = [0; 24];
    let mut i = 0;
    while i < 24 {
        all[i] = OPS[i / 4] | FLAGS[i % 4];
        i += 1;
    }
    all
};

/// futex(2): the priority-inheritance operations are ENOSYS, as from a kernel built without
/// them. The kernel keeps such a lock's owner in the futex word as a thread id in the
/// host's numbers, where the sandbox's threads write their own (and glibc checks ownership
/// against them): a contended lock failed ("The futex facility returned an unexpected error
/// code") or named a host task as its owner. glibc asks FUTEX_UNLOCK_PI whether the kernel
/// has them and, told ENOSYS, refuses PTHREAD_PRIO_INHERIT mutexes (ENOTSUP) at
/// pthread_mutex_init. Every other operation runs in the kernel.
fn futex(call: &mut Call, op: u64) -> Action {
    if FUTEX_PI_OPS.contains(&(op as u32)) {
        deny_event(
            call,
            Errno::ENOSYS as i32,
            "priority-inheritance futexes name their owners by host thread id",
        );
        return errno(Errno::ENOSYS);
    }
    Action::Pass
}

/// At the entry of a clone, fork or vfork: the exec area the caller's address space has
/// now, sealed before the kernel copies the address space, is what a fork child inherits;
/// the arguments of an earlier clone that failed are forgotten (clone records its own).
fn creation_entry(call: &mut Call) {
    if let Some(task) = call.kernel.tasks.get_mut(&call.tid) {
        task.area_at_clone = task.space.area();
        task.clone_args = None;
    }
}

/// Namespace flags the sentry does not emulate yet; real ones would reach the host.
const CLONE_NEW_UNSERVED: u64 = (libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWTIME) as u64;
const CLONE_NEWPID: u64 = libc::CLONE_NEWPID as u64;
const CLONE_NEWUTS: u64 = libc::CLONE_NEWUTS as u64;
/// Namespaces that are tables of the sentry's: the host never sees these flags.
const CLONE_NEWNS: u64 = libc::CLONE_NEWNS as u64;
const CLONE_NEW_EMULATED: u64 = CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWNS;
/// The ids written into memory: the sentry's to write.
const SETTID: u64 = (libc::CLONE_PARENT_SETTID | libc::CLONE_CHILD_SETTID) as u64;

/// clone(2): CLONE_UNTRACED never takes effect (the child must be traced from its first
/// instruction); CLONE_NEWPID makes a PID namespace of the sentry's own tables, never a
/// host one; other namespace flags are refused. The child's id is translated at the exit,
/// and CLONE_PARENT_SETTID and CLONE_CHILD_SETTID are the sentry's: the host would write
/// its id for the child where another thread could read it, and where the caller could,
/// returned before the sentry had put the number there (the supervisor writes it at the
/// parent's clone event, before either runs on).
fn clone(call: &mut Call, a: args::clone) -> Action {
    let flags = a.flags;
    if flags & CLONE_NEW_UNSERVED != 0 {
        deny_event(
            call,
            Errno::EPERM as i32,
            "only PID, UTS and mount namespaces are served",
        );
        return errno(Errno::EPERM);
    }
    if flags & CLONE_NEWPID != 0 && flags & (libc::CLONE_THREAD | libc::CLONE_PARENT) as u64 != 0 {
        return errno(Errno::EINVAL);
    }
    // Both would write into the one word (the host, which never sees the second, cannot say).
    let pidfd_and_settid = (libc::CLONE_PIDFD | libc::CLONE_PARENT_SETTID) as u64;
    if flags & pidfd_and_settid == pidfd_and_settid {
        return errno(Errno::EINVAL);
    }
    if flags & CLONE_NEW_EMULATED != 0 && !may_make_namespaces(call) {
        return errno(Errno::EPERM);
    }
    if let Some(task) = call.kernel.tasks.get_mut(&call.tid) {
        task.clone_args = Some(call.args);
    }
    let mut args = call.args;
    args[0] &= !(libc::CLONE_UNTRACED as u64 | CLONE_NEW_EMULATED | SETTID);
    let hook = ExitHook::Clone;
    if args == call.args {
        Action::PassThenExit(hook)
    } else {
        Action::PassWithThenExit(args, hook)
    }
}

/// unshare(2): CLONE_NEWPID gives the caller's future children a new PID namespace of the
/// sentry's tables; other namespace flags are refused.
fn unshare(call: &mut Call, a: args::unshare) -> Action {
    let flags = a.flags;
    if flags & CLONE_NEW_UNSERVED != 0 {
        deny_event(
            call,
            Errno::EPERM as i32,
            "only PID, UTS and mount namespaces are served",
        );
        return errno(Errno::EPERM);
    }
    if flags & CLONE_NEW_EMULATED != 0 && !may_make_namespaces(call) {
        return errno(Errno::EPERM);
    }
    let k = &mut *call.kernel;
    if flags & CLONE_NEWPID != 0 {
        let current = k.tasks.get(&call.tid).map_or(0, |t| t.child_ns);
        let ns = k.pids.new_namespace(current);
        if let Some(task) = k.tasks.get_mut(&call.tid) {
            task.child_ns = ns;
        }
    }
    if flags & CLONE_NEWUTS != 0 {
        let ns = k.copy_uts(k.uts_of(call.tid));
        if let Some(task) = k.tasks.get_mut(&call.tid) {
            task.uts_ns = ns;
        }
    }
    if flags & CLONE_NEWNS != 0 {
        let from = k.tasks.get(&call.tid).map_or(0, |t| t.mnt_ns);
        let ns = k.copy_mount_ns(from);
        if let Some(task) = k.tasks.get_mut(&call.tid) {
            task.mnt_ns = ns;
        }
    }
    if flags & CLONE_NEW_EMULATED != 0 {
        let rest = flags & !CLONE_NEW_EMULATED;
        if rest == 0 {
            return Action::Return(0);
        }
        let mut args = call.args;
        args[0] = rest;
        return Action::PassWith(args);
    }
    Action::Pass
}

/// New namespaces, and entering one, take CAP_SYS_ADMIN in the sandbox's credentials, as on
/// Linux: a mount namespace of its own would let an ordinary user mount over what other
/// users' processes read.
fn may_make_namespaces(call: &Call) -> bool {
    call.kernel
        .creds_of(call.tid)
        .capable(crate::kernel::creds::CAP_SYS_ADMIN)
}

/// personality(2): queries and ADDR_NO_RANDOMIZE are fine; anything that changes the
/// ABI (PER_LINUX32, READ_IMPLIES_EXEC, ADDR_LIMIT_32BIT, …) is refused.
fn personality(call: &mut Call, a: args::personality) -> Action {
    const QUERY: u64 = 0xffff_ffff;
    // Flags that change neither the ABI nor what the sentry relies on: UNAME26 (uname is
    // the sentry's, which honours it), ADDR_NO_RANDOMIZE, ADDR_COMPAT_LAYOUT (the legacy
    // bottom-up mmap layout of the task's own address space), SHORT_INODE, WHOLE_SECONDS,
    // STICKY_TIMEOUTS. The type must stay PER_LINUX.
    const HARMLESS: u64 = 0x0020000 | 0x0040000 | 0x0200000 | 0x1000000 | 0x2000000 | 0x4000000;
    let persona = a.persona & 0xffff_ffff;
    if persona == QUERY || persona & !HARMLESS == 0 {
        return Action::Pass;
    }
    deny_event(
        call,
        Errno::EPERM as i32,
        "personality would change the ABI",
    );
    errno(Errno::EPERM)
}

/// The prctl options the sentry decides (the handlers below and `ids::prctl_caps`); every
/// other option runs on the host as the task made it, and under `--platform=seccomp` never
/// leaves the kernel.
pub const PRCTL_DECIDED: [u32; 14] = [
    libc::PR_GET_DUMPABLE as u32,
    libc::PR_SET_DUMPABLE as u32,
    libc::PR_GET_KEEPCAPS as u32,
    libc::PR_SET_KEEPCAPS as u32,
    libc::PR_SET_SECCOMP as u32,
    libc::PR_CAPBSET_READ as u32,
    libc::PR_CAPBSET_DROP as u32,
    libc::PR_GET_SECUREBITS as u32,
    libc::PR_SET_SECUREBITS as u32,
    libc::PR_SET_MM as u32,
    libc::PR_SET_CHILD_SUBREAPER as u32,
    libc::PR_SET_NO_NEW_PRIVS as u32,
    libc::PR_GET_NO_NEW_PRIVS as u32,
    libc::PR_CAP_AMBIENT as u32,
];

/// prctl(2): no seccomp filters of the sandbox's own (see `seccomp`), no PR_SET_MM.
fn prctl(call: &mut Call, a: args::prctl) -> Action {
    // The capability options act on the sandbox's emulated sets.
    if let Some(done) = super::ids::prctl_caps(call) {
        return done;
    }
    match a.option {
        libc::PR_SET_SECCOMP => {
            deny_event(
                call,
                Errno::EINVAL as i32,
                "seccomp filters inside the sandbox are refused",
            );
            errno(Errno::EINVAL)
        }
        libc::PR_SET_MM => {
            deny_event(call, Errno::EPERM as i32, "PR_SET_MM");
            errno(Errno::EPERM)
        }
        // Emulated: a task that is not dumpable on the host is closed to the sentry's reads
        // of its memory and its /proc files.
        libc::PR_GET_DUMPABLE => {
            let dumpable = call.kernel.creds_of(call.tid).dumpable;
            Action::Return(dumpable as i64)
        }
        libc::PR_SET_DUMPABLE => {
            let dumpable = match a.arg2 {
                0 => false,
                1 => true,
                _ => return errno(Errno::EINVAL),
            };
            let tgid = call.kernel.tgid_of(call.tid);
            for task in call.kernel.tasks.values_mut().filter(|t| t.tgid == tgid) {
                task.creds.dumpable = dumpable;
            }
            Action::Return(0)
        }
        libc::PR_SET_CHILD_SUBREAPER => {
            // The sentry follows where orphans go (its tables know each process's parent).
            let tgid = call.kernel.tgid_of(call.tid);
            if let Some(task) = call.kernel.tasks.get_mut(&tgid) {
                task.subreaper = a.arg2 != 0;
            }
            Action::Pass
        }
        _ => Action::Pass,
    }
}

/// seccomp(2): the sandbox may ask what is available but may not install a filter or
/// strict mode. A filter of its own could block the calls the sentry injects into it,
/// and a SECCOMP_RET_TRACE filter would send stops the sentry would take for its own.
/// Programs see EINVAL, as on a kernel built without seccomp filters.
fn seccomp(call: &mut Call, a: args::seccomp) -> Action {
    match a.operation as u32 {
        libc::SECCOMP_SET_MODE_STRICT | libc::SECCOMP_SET_MODE_FILTER => {
            deny_event(
                call,
                Errno::EINVAL as i32,
                "seccomp filters inside the sandbox are refused",
            );
            errno(Errno::EINVAL)
        }
        _ => Action::Pass,
    }
}

/// setns(fd, nstype): fd must come from a /proc/<pid>/ns file of the sandbox (EINVAL for
/// anything else, as for an fd that is no namespace), nstype 0 or the namespace's kind.
fn setns(call: &mut Call, a: args::setns) -> Action {
    use crate::proc::NsRef;
    let Ok(fd) = call.task_fd(a.fd) else {
        return errno(Errno::EBADF);
    };
    let Ok(st) = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&fd)) else {
        return errno(Errno::EBADF);
    };
    let Some(ns) = call.kernel.ns_files.get(&(st.st_dev, st.st_ino)).copied() else {
        deny_event(
            call,
            Errno::EINVAL as i32,
            "not a namespace file of the sandbox",
        );
        return errno(Errno::EINVAL);
    };
    let nstype = a.nstype;
    let kind = match ns {
        NsRef::Uts(_) => libc::CLONE_NEWUTS,
        NsRef::Pid(_) => libc::CLONE_NEWPID,
        NsRef::Mnt(_) => libc::CLONE_NEWNS,
    };
    if nstype != 0 && nstype != kind {
        return errno(Errno::EINVAL);
    }
    if !may_make_namespaces(call) {
        return errno(Errno::EPERM);
    }
    let Some(task) = call.kernel.tasks.get_mut(&call.tid) else {
        return errno(Errno::ESRCH);
    };
    match ns {
        NsRef::Uts(id) => task.uts_ns = id,
        // A PID namespace is entered by the caller's future children, as on Linux.
        NsRef::Pid(id) => task.child_ns = id,
        NsRef::Mnt(id) => task.mnt_ns = id,
    }
    Action::Return(0)
}

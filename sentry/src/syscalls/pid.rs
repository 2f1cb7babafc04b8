//! Process ids. The sandbox speaks only virtual PIDs (DESIGN.md invariant 5): calls that
//! return ids are answered from the PID tables, calls that take ids have them translated to
//! host ids of the sandbox's own tasks (ESRCH for anything else), and results the kernel
//! computes (clone, wait, setsid, set_tid_address) are translated at their exit stop.

use super::{errno, Action, Call, ExitHook};
use crate::kernel::creds::Creds;
use crate::kernel::Kernel;
use nix::errno::Errno;
use platform_ptrace::Tid;

pub(super) fn pass_with(call: &Call, changes: &[(usize, i64)]) -> Action {
    let mut args = call.args;
    for &(i, v) in changes {
        args[i] = v as u64;
    }
    // Nothing to rewrite (pid 0, the caller itself, say): the call runs as the task made it,
    // with no registers to put back at an exit stop.
    if args == call.args {
        return Action::Pass;
    }
    Action::PassWith(args)
}

// Process ids are the sentry's own numbers (DESIGN.md invariant 5).
crate::syscall_entries! {
    getpid() => Emulate, |call, _| {
        let tgid = call.kernel.tgid_of(call.tid);
        Action::Return(call.kernel.vpid_for(call.tid, tgid) as i64)
    };
    gettid() => Emulate, |call, _| Action::Return(call.kernel.vpid_for(call.tid, call.tid) as i64);
    getppid() => Emulate, |call, _| Action::Return(parent_vpid(call.kernel, call.tid) as i64);
    getpgrp() => Emulate, |call, _| group_of(call, 0, false);
    getpgid(pid: Int32) => Emulate, |call, a| group_of(call, a.pid, false);
    getsid(pid: Int32) => Emulate, |call, a| group_of(call, a.pid, true);
    // Calls with a pid, process group or "who" argument that must name the sandbox.
    setpgid(pid: Int32, pgid: Int32) => Checked, setpgid;
    getpriority(which: Int32, who: Int32) => Checked, |call, a| {
        priority(call, a.which, a.who, false)
    };
    setpriority(which: Int32, who: Int32, priority: Int32) => Checked, |call, a| {
        priority(call, a.which, a.who, true)
    };
    // IOPRIO_WHO_PROCESS/PGRP/USER are 1/2/3, PRIO_PROCESS/PGRP/USER 0/1/2.
    ioprio_get(which: Int32, who: Int32) => Checked, |call, a| {
        priority(call, a.which - 1, a.who, false)
    };
    ioprio_set(which: Int32, who: Int32, priority: Int32) => Checked, |call, a| {
        priority(call, a.which - 1, a.who, true)
    };
    sched_setparam(pid: Int32, param: Ptr) => Checked,
        |call, a| other_process(call, a.pid, Creds::may_reschedule);
    sched_getparam(pid: Int32, param: Ptr) => Checked, |call, a| first_pid(call, a.pid);
    sched_setscheduler(pid: Int32, policy: Int32, param: Ptr) => Checked,
        |call, a| other_process(call, a.pid, Creds::may_reschedule);
    sched_getscheduler(pid: Int32) => Checked, |call, a| first_pid(call, a.pid);
    sched_rr_get_interval(pid: Int32, interval: Ptr) => Checked, |call, a| first_pid(call, a.pid);
    sched_setaffinity(pid: Int32, len: UInt, mask: Ptr) => Checked, |call, a| {
        match permitted(call, a.pid, Creds::may_reschedule) {
            Ok(()) => affinity(call, a.pid),
            Err(e) => errno(e),
        }
    };
    sched_getaffinity(pid: Int32, len: UInt, mask: Ptr) => Checked,
        |call, a| affinity(call, a.pid);
    sched_setattr(pid: Int32, attr: Ptr, flags: Hex) => Checked,
        |call, a| other_process(call, a.pid, Creds::may_reschedule);
    sched_getattr(pid: Int32, attr: Ptr, size: UInt, flags: Hex) => Checked,
        |call, a| first_pid(call, a.pid);
    migrate_pages(pid: Int32, maxnode: UInt, old: Ptr, new: Ptr) => Checked,
        |call, a| other_process(call, a.pid, Creds::may_inspect);
    move_pages(pid: Int32, count: UInt, pages: Ptr, nodes: Ptr, status: Ptr, flags: Hex) =>
        Checked, |call, a| other_process(call, a.pid, Creds::may_inspect);
    get_robust_list(pid: Int32, head: Ptr, len: Ptr) => Checked,
        |call, a| other_process(call, a.pid, Creds::may_inspect);
    prlimit64(pid: Int32, resource: Int32, new: Ptr, old: Ptr) => Checked, prlimit64;
    // The result is the caller's own host id: its number is given at the exit stop.
    setsid() => Checked, |_, _| Action::PassThenExit(ExitHook::TranslatePid);
    set_tid_address(tidptr: Ptr) => Checked, |_, _| Action::PassThenExit(ExitHook::TranslatePid);
    // Made by the sentry, for a process of the sandbox only.
    pidfd_getfd(pidfd: Fd, fd: Fd, flags: Hex) => Checked, pidfd_getfd;
}

/// getpgrp, getpgid(pid), getsid(pid): the host knows the group; the sentry names it.
fn group_of(call: &mut Call, pid: i32, session: bool) -> Action {
    let k = &mut *call.kernel;
    let tid = call.tid;
    let target = match pid {
        0 => k.tgid_of(tid),
        v if v < 0 => return errno(Errno::ESRCH),
        v => match k.translate(tid, v) {
            Some(host) => host,
            None => return errno(Errno::ESRCH),
        },
    };
    // SAFETY: getpgid/getsid take plain integers; `target` is a sandbox task.
    let host = unsafe {
        if session {
            libc::getsid(target)
        } else {
            libc::getpgid(target)
        }
    };
    if host < 0 {
        return errno(Errno::ESRCH);
    }
    // A group or session led from outside the namespace shows as 0, as on Linux.
    Action::Return(k.pids.vpid(k.ns_of(tid), host).unwrap_or(0) as i64)
}

/// A pid argument as the host must see it: 0 is the caller; negative ids name no process
/// here (the kernel answers them itself); None: no process of the sandbox.
fn host_pid(k: &Kernel, tid: Tid, pid: i32) -> Option<i64> {
    if pid <= 0 {
        Some(pid as i64)
    } else {
        k.translate(tid, pid).map(|h| h as i64)
    }
}

/// As [`host_pid`], for a process group.
fn host_pgrp(k: &Kernel, tid: Tid, pgrp: i32) -> Option<i64> {
    if pgrp <= 0 {
        Some(pgrp as i64)
    } else {
        k.translate_pgrp(tid, pgrp).map(|h| h as i64)
    }
}

/// Whether the caller may act on process `pid` (its number; 0 is itself) by `rule` on the
/// two processes' credentials, as Linux checks before changing another process: the host
/// cannot, as every task of the sandbox has the same host uid. ESRCH for no such process.
fn permitted(call: &Call, pid: i32, rule: fn(&Creds, &Creds) -> bool) -> Result<(), Errno> {
    let (k, tid) = (&*call.kernel, call.tid);
    let host = match host_pid(k, tid, pid) {
        Some(0) => return Ok(()),
        Some(host) => host as Tid,
        None => return Err(Errno::ESRCH),
    };
    if k.tgid_of(host) == k.tgid_of(tid) || rule(&k.creds_of(tid), &k.creds_of(host)) {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// A call on process `pid` that `rule` must allow (see [`permitted`]).
fn other_process(call: &mut Call, pid: i32, rule: fn(&Creds, &Creds) -> bool) -> Action {
    match permitted(call, pid, rule) {
        Ok(()) => first_pid(call, pid),
        Err(e) => errno(e),
    }
}

/// A call whose first argument is a pid of the sandbox.
fn first_pid(call: &mut Call, pid: i32) -> Action {
    match host_pid(call.kernel, call.tid, pid) {
        Some(host) => pass_with(call, &[(0, host)]),
        None => errno(Errno::ESRCH),
    }
}

/// sched_getaffinity, sched_setaffinity: the task they name is let go from the sentry's CPU
/// first (`kernel::placement`), so that the call shows and sets the task's own affinity.
fn affinity(call: &mut Call, pid: i32) -> Action {
    match host_pid(call.kernel, call.tid, pid) {
        Some(host) => {
            let target = if host == 0 { call.tid } else { host as Tid };
            call.kernel.holds.asked(target);
            pass_with(call, &[(0, host)])
        }
        None => errno(Errno::ESRCH),
    }
}

fn setpgid(call: &mut Call, a: args::setpgid) -> Action {
    let (k, tid) = (&*call.kernel, call.tid);
    let Some(host) = host_pid(k, tid, a.pid) else {
        return errno(Errno::ESRCH);
    };
    let target = if host == 0 {
        k.tgid_of(tid) as i64
    } else {
        host
    };
    let group = if a.pgid <= 0 {
        Some(a.pgid as i64)
    } else if k.translate(tid, a.pgid).map(|h| h as i64) == Some(target) {
        Some(target)
    } else {
        host_pgrp(k, tid, a.pgid)
    };
    match group {
        Some(g) => pass_with(call, &[(0, host), (1, g)]),
        None => errno(Errno::EPERM),
    }
}

/// get/setpriority, ioprio_get/set: `which` as PRIO_PROCESS/PGRP/USER (0/1/2).
fn priority(call: &mut Call, which: i32, who: i32, setting: bool) -> Action {
    if setting && which == 0 {
        if let Err(e) = permitted(call, who, Creds::may_reschedule) {
            return errno(e);
        }
    }
    if setting && which == 1 && !may_reschedule_group(call, who) {
        return errno(Errno::EPERM);
    }
    let (k, tid) = (&*call.kernel, call.tid);
    let who = match which {
        0 => host_pid(k, tid, who),
        1 => host_pgrp(k, tid, who),
        // Every host process of the user: readable, never changeable.
        2 if setting => return errno(Errno::EPERM),
        _ => Some(who as i64),
    };
    match who {
        Some(w) => pass_with(call, &[(1, w)]),
        None => errno(Errno::ESRCH),
    }
}

/// Whether the caller may change the priority of every member of process group `pgrp` (its
/// number; 0 is its own): the host would change them all, every task of the sandbox having
/// the same host uid. Linux changes those it may and fails with EPERM if any is another's;
/// the sentry refuses the whole call then, and changes none.
fn may_reschedule_group(call: &Call, pgrp: i32) -> bool {
    let (k, tid) = (&*call.kernel, call.tid);
    let host = match host_pgrp(k, tid, pgrp) {
        // SAFETY: getpgid takes a plain integer; `tid` is the calling task.
        Some(0) => unsafe { libc::getpgid(tid) },
        Some(host) if host > 0 => host as Tid,
        // No such group: the host answers.
        _ => return true,
    };
    let caller = k.creds_of(tid);
    k.group_members(host).into_iter().all(|member| {
        k.tgid_of(member) == k.tgid_of(tid) || caller.may_reschedule(&k.creds_of(member))
    })
}

/// prlimit64: RLIMIT_CORE is the sentry's (`rlimit`); other resources are the host's.
fn prlimit64(call: &mut Call, a: args::prlimit64) -> Action {
    if let Err(e) = permitted(call, a.pid, Creds::may_limit) {
        return errno(e);
    }
    match host_pid(call.kernel, call.tid, a.pid) {
        Some(0) if a.resource == libc::RLIMIT_CORE as i32 => {
            super::rlimit::prlimit_core(call, call.tid)
        }
        Some(host) if a.resource == libc::RLIMIT_CORE as i32 => {
            super::rlimit::prlimit_core(call, host as Tid)
        }
        Some(host) => pass_with(call, &[(0, host)]),
        None => errno(Errno::ESRCH),
    }
}

/// The parent as the caller sees it: 0 from a namespace's init; a process whose parent
/// has exited belongs to its namespace's init (PID 1).
fn parent_vpid(k: &Kernel, tid: Tid) -> i32 {
    let tgid = k.tgid_of(tid);
    let Some(task) = k.tasks.get(&tgid).or_else(|| k.tasks.get(&tid)) else {
        return 0;
    };
    if k.pids.namespaces[task.ns].init == Some(tgid) {
        return 0;
    }
    if task.parent == 0 {
        // Reparented to the sentry: in the sandbox, that is its namespace's init.
        return if task.parent_outside { 0 } else { 1 };
    }
    // A parent outside the caller's namespace shows as 0, as on Linux.
    k.pids.vpid(task.ns, task.parent).unwrap_or(0)
}

/// At the exit stop of clone/fork/vfork in the parent: the child's number.
pub fn after_clone(k: &Kernel, tid: Tid, rval: i64) -> i64 {
    if rval <= 0 {
        return rval;
    }
    k.vpid_for(tid, rval as Tid) as i64
}

/// The real uid a sandbox process has, or had if it is an unreaped zombie or was reaped
/// lately, in sandbox ids.
pub(super) fn sandbox_ruid(k: &Kernel, host: Tid) -> Option<u32> {
    if k.tasks.contains_key(&host) {
        return Some(k.creds_of(host).ruid);
    }
    k.zombies
        .get(&host)
        .copied()
        .or_else(|| k.departed.ruid(host))
}

/// recvmsg/recvmmsg returned: each SCM_CREDENTIALS names the sender by host pid and ids;
/// the receiver gets its number for the sender and, for a sandbox sender, its sandbox ids.
pub fn translate_received_creds(k: &Kernel, tid: Tid, msg: u64, vector: bool, rval: i64) {
    if rval < 0 {
        return;
    }
    let headers: Vec<u64> = if vector {
        (0..rval as u64).map(|i| msg + i * 64).collect()
    } else {
        vec![msg]
    };
    for hdr in headers {
        let Some(at) = super::net::find_creds(&*k.mem, tid, hdr) else {
            continue;
        };
        let mut ucred = [0u8; 12];
        if !super::fix_read(&*k.mem, tid, at, &mut ucred) {
            return;
        }
        let host = i32::from_ne_bytes(ucred[0..4].try_into().expect("4 bytes"));
        let mut out = k.vpid_for(tid, host).to_ne_bytes().to_vec();
        if host > 0 && k.tasks.contains_key(&host) {
            let creds = k.creds_of(host);
            out.extend_from_slice(&creds.euid.to_ne_bytes());
            out.extend_from_slice(&creds.egid.to_ne_bytes());
        }
        super::fix_write(&*k.mem, tid, at, &out);
    }
}

/// The sandbox process (host id) the task's pidfd `fd` refers to, looked up once on the
/// sentry's duplicate: EBADF for no pidfd, ESRCH for one of a process that ended or that
/// the caller cannot see.
pub(super) fn pidfd_target(call: &Call, fd: i32) -> Result<Tid, Errno> {
    let pidfd = call.task_fd(fd).map_err(|_| Errno::EBADF)?;
    process_of_pidfd(call, &pidfd)
}

/// What the fdinfo of the sentry's duplicate of a pidfd says: the process it refers to
/// (host id; -1 once it exited) and whether it does not block. EBADF for no pidfd.
pub(super) fn pidfd_info(pidfd: &std::os::fd::OwnedFd) -> Result<(Tid, bool), Errno> {
    let fdinfo = std::fs::read_to_string(format!(
        "/proc/self/fdinfo/{}",
        std::os::fd::AsRawFd::as_raw_fd(pidfd)
    ))
    .unwrap_or_default();
    let host = crate::host::proc_field(&fdinfo, "Pid:")
        .and_then(|v| v.parse::<i32>().ok())
        .ok_or(Errno::EBADF)?;
    let nonblocking = crate::host::fdinfo_flags(&fdinfo) & libc::O_NONBLOCK as u64 != 0;
    Ok((host, nonblocking))
}

/// See [`pidfd_target`]: the process a pidfd refers to (host ids).
fn process_of_pidfd(call: &Call, pidfd: &std::os::fd::OwnedFd) -> Result<Tid, Errno> {
    let (host, _) = pidfd_info(pidfd)?;
    let k = &*call.kernel;
    if host <= 0 || !k.tasks.contains_key(&host) || k.vpid_for(call.tid, host) == 0 {
        return Err(Errno::ESRCH);
    }
    Ok(host)
}

/// pidfd_getfd(pidfd, targetfd, flags): a duplicate of another process's fd, for a process
/// of the sandbox only and under ptrace's access rule in the sandbox's credentials. The
/// sentry makes the call on its own duplicate of the pidfd and installs the fd it got
/// (close-on-exec, as the kernel's).
fn pidfd_getfd(call: &mut Call, a: args::pidfd_getfd) -> Action {
    if a.flags != 0 {
        return errno(Errno::EINVAL);
    }
    let Ok(pidfd) = call.task_fd(a.pidfd) else {
        return errno(Errno::EBADF);
    };
    let host = match process_of_pidfd(call, &pidfd) {
        Ok(host) => host,
        Err(e) => return errno(e),
    };
    let k = &*call.kernel;
    if !k.creds_of(call.tid).may_inspect(&k.creds_of(host)) {
        return errno(Errno::EPERM);
    }
    // SAFETY: pidfd_getfd takes plain integers and returns a new fd or -1.
    let got = unsafe {
        libc::syscall(
            libc::SYS_pidfd_getfd,
            std::os::fd::AsRawFd::as_raw_fd(&pidfd),
            a.fd,
            0,
        )
    };
    if got < 0 {
        return errno(Errno::last());
    }
    // SAFETY: the fd was just created and is ours alone.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(got as i32) };
    if call.kernel.memory.active()
        && crate::kernel::memory::memfd_of(std::process::id() as Tid, got as u64).is_some()
    {
        // Its charge could not follow it to the number the kernel picks.
        super::deny_event(
            call,
            libc::EPERM,
            "a memfd cannot be taken with pidfd_getfd while memory is accounted",
        );
        return errno(Errno::EPERM);
    }
    if super::signalfd::is_own_signalfd(std::os::fd::AsFd::as_fd(&fd)) {
        if super::signalfd::uses_aio(call) {
            super::deny_event(
                call,
                libc::EPERM,
                "a signalfd for a process that uses Linux AIO",
            );
            return errno(Errno::EPERM);
        }
        // Where signalfds live (see `signalfd`).
        return Action::InstallAbove {
            fd,
            cloexec: true,
            at_least: super::signalfd::FLOOR,
        };
    }
    Action::Install { fd, cloexec: true }
}

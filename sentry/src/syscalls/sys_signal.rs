//! kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_open: the target is a
//! task of the sandbox named by its number (ESRCH for anything else); and the sender's id in
//! a siginfo the task receives, in the receiver's numbers.

use super::pid::*;
use super::{errno, Action, Call, ExitHook};
use crate::kernel::creds::CAP_KILL;
use crate::kernel::Kernel;
use nix::errno::Errno;
use platform_ptrace::Tid;

/// One signal mask of a task's /proc status ("SigCgt:", "SigBlk:", ...); 0 when unknown.
fn status_mask(status: &str, field: &str) -> u64 {
    crate::host::proc_field(status, field)
        .and_then(|v| u64::from_str_radix(v, 16).ok())
        .unwrap_or(0)
}

/// The signals a task's /proc status says it ignores: SIG_IGN, or SIG_DFL for a signal
/// whose default is to be ignored.
fn ignored_mask(status: &str) -> u64 {
    let by_default = IGNORED_BY_DEFAULT
        .iter()
        .fold(0, |bits, sig| bits | 1u64 << (sig - 1));
    status_mask(status, "SigIgn:") | (by_default & !status_mask(status, "SigCgt:"))
}

/// The signals whose default action is to ignore them.
const IGNORED_BY_DEFAULT: [i32; 4] = [libc::SIGCHLD, libc::SIGCONT, libc::SIGURG, libc::SIGWINCH];

/// Whether a signal sent from inside init's namespace reaches init: Linux queues it when
/// init handles it or blocks it (sigtimedwait and signalfd then take it), and drops it
/// otherwise.
fn reaches_init(k: &Kernel, init: Tid, sig: i32) -> bool {
    if sig == 0 {
        return true;
    }
    let Some(status) = k.mem.proc_file(init, "status") else {
        return true;
    };
    let awaited = k.tasks.get(&init).map_or(0, |t| t.awaited_signals);
    let kept = status_mask(&status, "SigCgt:") | status_mask(&status, "SigBlk:") | awaited;
    (1..=64).contains(&sig) && kept & (1u64 << (sig - 1)) != 0
}

/// At the delivery of `sig` (siginfo `info`, as the host wrote it) to `tid`: whether Linux
/// would discard it because `tid` belongs to its namespace's init, which does not handle
/// it. Init acts only on the signals it handles, whoever sent them (a blocked signal taken
/// later, the kernel's SIGPIPE or SIGALRM), except the faults its own code causes. Signals
/// from outside the sandbox (the sentry's own, as a container engine asks) go on as before.
pub fn discarded_by_init(k: &Kernel, tid: Tid, sig: i32, info: &[u8; 128]) -> bool {
    const SI_USER: i32 = 0;
    const SI_TKILL: i32 = -6;
    const SI_KERNEL: i32 = 0x80;
    const FAULTS: [i32; 6] = [
        libc::SIGSEGV,
        libc::SIGBUS,
        libc::SIGILL,
        libc::SIGFPE,
        libc::SIGTRAP,
        libc::SIGSYS,
    ];
    // Signals whose default is to be ignored (SIGCHLD first of all) the host treats as Linux
    // does, handled or not.
    let init = k.pids.namespaces[k.ns_of(tid)].init;
    if init != Some(k.tgid_of(tid))
        || !(1..=64).contains(&sig)
        || [libc::SIGKILL, libc::SIGSTOP].contains(&sig)
        || IGNORED_BY_DEFAULT.contains(&sig)
    {
        return false;
    }
    let word = |at: usize| i32::from_ne_bytes(info[at..at + 4].try_into().expect("4 bytes"));
    let discarded_unless_handled = match word(8) {
        SI_USER | SI_TKILL => k.sender_vpid(tid, word(16)) != 0,
        SI_KERNEL => true,
        code if code < 0 => true,
        _ => !FAULTS.contains(&sig),
    };
    // The task's /proc status, read only when the answer hangs on its handlers.
    discarded_unless_handled
        && k.mem.proc_file(tid, "status").is_some_and(|status| {
            let acted_on = status_mask(&status, "SigCgt:") | status_mask(&status, "SigIgn:");
            acted_on & (1u64 << (sig - 1)) == 0
        })
}

crate::syscall_entries! {
    kill(pid: Int32, signal: Signal) => Checked, kill;
    tkill(tid: Int32, signal: Signal) => Checked, |call, a| to_one(call, a.tid, a.signal);
    rt_sigqueueinfo(pid: Int32, signal: Signal, info: Ptr) => Checked,
        |call, a| to_one(call, a.pid, a.signal);
    // A pidfd names the process for good: only one of the sandbox's.
    pidfd_open(pid: Int32, flags: Hex) => Checked, |call, a| to_one(call, a.pid, 0);
    tgkill(tgid: Int32, tid: Int32, signal: Signal) => Checked,
        |call, a| to_thread(call, a.tgid, a.tid, a.signal);
    rt_tgsigqueueinfo(tgid: Int32, tid: Int32, signal: Signal, info: Ptr) => Checked,
        |call, a| to_thread(call, a.tgid, a.tid, a.signal);
    pidfd_send_signal(pidfd: Fd, signal: Signal, info: Ptr, flags: Hex) => Checked,
        pidfd_send_signal;
    // The siginfo it dequeues names the sender in the caller's numbers, and a signal the
    // task ignores does not end the wait (see `interrupted_by_ignored`).
    rt_sigtimedwait(set: Ptr, info: Ptr, timeout: Ptr, size: UInt) => Checked,
        sigtimedwait;
}

/// rt_sigtimedwait: one that fills a siginfo waits for its signal's delivery instead
/// ([`Action::WaitSignal`]); one without (or with a wrong set size, EINVAL before anything
/// is read) runs as the task made it.
fn sigtimedwait(call: &mut Call, a: args::rt_sigtimedwait) -> Action {
    if a.info == 0 || a.size != 8 {
        return Action::PassThenExit(ExitHook::Dequeued);
    }
    let mem = &*call.kernel.mem;
    let mut set = [0u8; 8];
    if mem.read(call.tid, a.set, &mut set).is_err() {
        return errno(Errno::EFAULT);
    }
    let timeout = match a.timeout {
        0 => None,
        at => {
            let mut timespec = [0u8; 16];
            if mem.read(call.tid, at, &mut timespec).is_err() {
                return errno(Errno::EFAULT);
            }
            Some(timespec)
        }
    };
    // SIGKILL and SIGSTOP are never waited for: Linux takes them out of the set.
    let unwaitable = 1u64 << (libc::SIGKILL - 1) | 1u64 << (libc::SIGSTOP - 1);
    Action::WaitSignal {
        set: u64::from_ne_bytes(set) & !unwaitable,
        timeout,
        delivery: super::Delivery::Siginfo { at: a.info },
    }
}

/// Whether `tid` ignores `sig`: SIG_IGN, or SIG_DFL for a signal whose default is to be
/// ignored.
pub fn ignores(k: &Kernel, tid: Tid, sig: i32) -> bool {
    let Some(status) = k.mem.proc_file(tid, "status") else {
        return false;
    };
    (1..=64).contains(&sig) && ignored_mask(&status) & 1u64 << (sig - 1) != 0
}

fn valid_signal(sig: i32) -> bool {
    (0..=64).contains(&sig)
}

/// Whether `host` is the init of the caller's namespace and `sig` is one it does not handle.
fn dropped_by_init(k: &Kernel, tid: Tid, host: Tid, sig: i32) -> bool {
    k.pids.namespaces[k.ns_of(tid)].init == Some(host) && !reaches_init(k, host, sig)
}

/// Whether the caller may send `sig` to task `target` (host id), as Linux's
/// check_kill_permission: its own thread group, [`Creds::may_signal`], or SIGCONT within its
/// session. The host cannot tell: every task of the sandbox has the same host uid.
pub(super) fn may_signal(k: &Kernel, tid: Tid, target: Tid, sig: i32) -> bool {
    if k.tgid_of(tid) == k.tgid_of(target) || k.creds_of(tid).may_signal(&k.creds_of(target)) {
        return true;
    }
    // SAFETY: getsid takes plain integers; both are tasks of the sandbox.
    sig == libc::SIGCONT && unsafe { libc::getsid(k.tgid_of(tid)) == libc::getsid(target) }
}

/// kill(pid, sig): a process, the caller's group (0), a group (-pgrp) or every process (-1).
fn kill(call: &mut Call, a: args::kill) -> Action {
    if !valid_signal(a.signal) {
        return errno(Errno::EINVAL);
    }
    let (k, tid) = (&*call.kernel, call.tid);
    match a.pid {
        0 if k.creds_of(tid).capable(CAP_KILL) => Action::Pass,
        // SAFETY: getpgid takes a plain integer.
        0 => to_group(call, unsafe { libc::getpgid(k.tgid_of(tid)) }, a.signal),
        -1 => kill_all(call, a.signal),
        pid if pid > 0 => match k.translate(tid, pid) {
            Some(host) if !may_signal(k, tid, host, a.signal) => errno(Errno::EPERM),
            Some(host) if dropped_by_init(k, tid, host, a.signal) => Action::Return(0),
            Some(host) => pass_with(call, &[(0, host as i64)]),
            None => errno(Errno::ESRCH),
        },
        pgrp => match k.translate_pgrp(tid, -pgrp) {
            Some(host) => to_group(call, host, a.signal),
            None => errno(Errno::ESRCH),
        },
    }
}

/// kill of process group `pgrp` (a host id): as the task asked when it may signal every
/// member; EPERM when it may signal none; else the sentry signals those it may (Linux
/// signals them and succeeds), which then see no sender.
fn to_group(call: &mut Call, pgrp: Tid, sig: i32) -> Action {
    let (k, tid) = (&*call.kernel, call.tid);
    if k.creds_of(tid).capable(CAP_KILL) {
        return pass_with(call, &[(0, -(pgrp as i64))]);
    }
    let members = k.group_members(pgrp);
    let allowed: Vec<Tid> = members
        .iter()
        .copied()
        .filter(|&p| may_signal(k, tid, p, sig))
        .collect();
    if allowed.len() == members.len() {
        return pass_with(call, &[(0, -(pgrp as i64))]);
    }
    if allowed.is_empty() {
        return errno(Errno::EPERM);
    }
    for p in allowed {
        if !dropped_by_init(k, tid, p, sig) {
            // SAFETY: kill takes plain integers; `p` is a live sandbox process we trace.
            unsafe { libc::kill(p, sig) };
        }
    }
    Action::Return(0)
}

/// tkill(tid, sig), rt_sigqueueinfo(pid, sig, info), pidfd_open(pid, flags) (as signal 0):
/// one task of the sandbox, named by its number in the first argument.
fn to_one(call: &mut Call, pid: i32, sig: i32) -> Action {
    if !valid_signal(sig) {
        return errno(Errno::EINVAL);
    }
    if pid <= 0 {
        // The kernel's own EINVAL.
        return Action::Pass;
    }
    let (k, tid) = (&*call.kernel, call.tid);
    // A pidfd can be had for any process; signals need the permission.
    let signals = call.sysno != ::syscalls::Sysno::pidfd_open;
    match k.translate(tid, pid) {
        Some(host) if signals && !may_signal(k, tid, host, sig) => errno(Errno::EPERM),
        Some(host) if dropped_by_init(k, tid, host, sig) => Action::Return(0),
        Some(host) => pass_with(call, &[(0, host as i64)]),
        None => errno(Errno::ESRCH),
    }
}

/// tgkill(tgid, tid, sig), rt_tgsigqueueinfo(tgid, tid, sig, info): a thread of a process.
fn to_thread(call: &mut Call, tgid: i32, thread: i32, sig: i32) -> Action {
    if !valid_signal(sig) {
        return errno(Errno::EINVAL);
    }
    if tgid <= 0 || thread <= 0 {
        return Action::Pass;
    }
    let (k, tid) = (&*call.kernel, call.tid);
    match (k.translate(tid, tgid), k.translate(tid, thread)) {
        (Some(group), Some(host)) if k.tgid_of(host) == group => {
            if !may_signal(k, tid, host, sig) {
                return errno(Errno::EPERM);
            }
            if dropped_by_init(k, tid, group, sig) {
                return Action::Return(0);
            }
            pass_with(call, &[(0, group as i64), (1, host as i64)])
        }
        _ => errno(Errno::ESRCH),
    }
}

/// kill(-1, sig): every process of the caller's namespace and below, but its init and
/// the caller.
fn kill_all(call: &mut Call, sig: i32) -> Action {
    let k = &*call.kernel;
    let caller = k.tgid_of(call.tid);
    let ns = k.ns_of(call.tid);
    let init = k.pids.namespaces[ns].init;
    let targets: Vec<Tid> = k
        .processes()
        .filter(|&p| p != caller && Some(p) != init && k.pids.is_within(k.ns_of(p), ns))
        .collect();
    if targets.is_empty() {
        return errno(Errno::ESRCH);
    }
    // Those the caller may signal; Linux succeeds even when that is none of them.
    for pid in targets
        .into_iter()
        .filter(|&p| may_signal(k, call.tid, p, sig))
    {
        // SAFETY: kill takes plain integers; `pid` is a live sandbox process we trace.
        unsafe { libc::kill(pid, sig) };
    }
    Action::Return(0)
}

/// pidfd_send_signal(pidfd, sig, info, flags): run as kill, or rt_sigqueueinfo with an
/// info, of the process the pidfd refers to, by the task itself, so that the receiver sees
/// it as the sender; the sentry looks the pidfd up on its own duplicate, once, and checks
/// the permission. Passed as it was, another thread could put a pidfd of a process the
/// caller may not signal at the number after the check (pidfd_open takes any process).
/// The flags of Linux 6.9 (a thread, a process group) are refused with EINVAL.
fn pidfd_send_signal(call: &mut Call, a: args::pidfd_send_signal) -> Action {
    if a.flags != 0 {
        super::deny_event(call, libc::EINVAL, "pidfd_send_signal flags");
        return errno(Errno::EINVAL);
    }
    if !valid_signal(a.signal) {
        return errno(Errno::EINVAL);
    }
    // A pidfd, or (as Linux allows here alone) an fd of a /proc/<pid> directory.
    let host = match super::pid::pidfd_target(call, a.pidfd) {
        Err(Errno::EBADF) => super::vfs::process_of_proc_dir(call, a.pidfd),
        found => found,
    };
    let host = match host {
        Ok(host) => host,
        Err(e) => return errno(e),
    };
    let (k, tid) = (&*call.kernel, call.tid);
    if !may_signal(k, tid, host, a.signal) {
        return errno(Errno::EPERM);
    }
    if dropped_by_init(k, tid, host, a.signal) {
        return Action::Return(0);
    }
    let (nr, args) = if a.info == 0 {
        (
            ::syscalls::Sysno::kill,
            [host as u64, a.signal as u64, 0, 0, 0, 0],
        )
    } else {
        let signal = a.signal as u64;
        (
            ::syscalls::Sysno::rt_sigqueueinfo,
            [host as u64, signal, a.info, 0, 0, 0],
        )
    };
    Action::PassAs {
        nr: nr.id() as u64,
        args,
    }
}

/// A signal about to be delivered: the sender's id in si_pid becomes the receiver's number
/// for it (0 when the receiver cannot see the sender, such as the sentry itself), and si_uid
/// the sender's real uid in the sandbox.
pub fn translate_siginfo(k: &Kernel, tid: Tid, info: &mut [u8; 128]) -> bool {
    let signo = i32::from_ne_bytes(info[0..4].try_into().expect("4 bytes"));
    let code = i32::from_ne_bytes(info[8..12].try_into().expect("4 bytes"));
    // SI_USER, SI_MESGQ, SI_TKILL carry a sender the host kernel names; so does every CLD_*
    // SIGCHLD. SI_QUEUE's ids are the sender's own words (rt_sigqueueinfo), which Linux
    // passes on as they are: already the sandbox's numbers.
    let has_pid =
        matches!(code, 0 | -3 | -6) || (signo == libc::SIGCHLD && (1..=6).contains(&code));
    if !has_pid {
        return false;
    }
    let host = i32::from_ne_bytes(info[16..20].try_into().expect("4 bytes"));
    if signo == libc::SIGCHLD && host > 0 {
        super::rlimit::core_in_sigchld(k, host, info);
    }
    let vpid = if host > 0 {
        k.sender_vpid(tid, host)
    } else {
        0
    };
    info[16..20].copy_from_slice(&vpid.to_ne_bytes());
    // si_uid: the sender's real uid, as the sandbox knows it (a sandbox sender's own).
    let sender = if signo == libc::SIGCHLD {
        host
    } else {
        k.tgid_of(host)
    };
    if let Some(uid) = sandbox_ruid(k, sender).filter(|_| host > 0) {
        info[20..24].copy_from_slice(&uid.to_ne_bytes());
    }
    true
}

/// The kernel's restart codes, as a call interrupted by a signal returns them (negated):
/// ERESTARTSYS runs it again after the signal unless a handler without SA_RESTART runs
/// (then EINTR); ERESTARTNOINTR runs it again whatever the handler; ERESTARTNOHAND runs it
/// again only if no handler runs.
pub const ERESTARTSYS: i64 = 512;
pub const ERESTARTNOINTR: i64 = 513;
pub const ERESTARTNOHAND: i64 = 514;

/// The kernel's restart codes as a call returns them (-ERESTARTSYS … -ERESTART_RESTARTBLOCK):
/// the call was interrupted by a signal and is run again (or fails with EINTR) after it.
pub const ERESTART: std::ops::RangeInclusive<i64> = -516..=-512;

/// Whether every signal pending for `tid` is one it ignores (SIG_IGN, or SIG_DFL for a
/// signal whose default is to be ignored). Linux discards such a signal when it is sent, so
/// it interrupts no call; a traced task gets it queued (its tracer must see it), and a wait
/// it was in ends with EINTR, which the sentry turns into a restart.
pub fn interrupted_by_ignored(k: &Kernel, tid: Tid) -> bool {
    let Some(status) = k.mem.proc_file(tid, "status") else {
        return false;
    };
    let pending = status_mask(&status, "SigPnd:") | status_mask(&status, "ShdPnd:");
    pending != 0 && pending & !ignored_mask(&status) == 0
}

//! Process ids. The sandbox speaks only virtual PIDs (DESIGN.md invariant 5): calls that
//! return ids are answered from the PID tables, calls that take ids have them translated to
//! host ids of the sandbox's own tasks (ESRCH for anything else), and results the kernel
//! computes (clone, wait, setsid, set_tid_address) are translated at their exit stop.

use super::{errno, Action, Call, ExitHook};
use crate::kernel::Kernel;
use platform_ptrace::Tid;
use syscalls::{Errno, Sysno};

const P_PID: u64 = 1;
const P_PGID: u64 = 2;

fn pass_with(call: &Call, changes: &[(usize, i64)]) -> Action {
    let mut args = call.args;
    for &(i, v) in changes {
        args[i] = v as u64;
    }
    Action::PassWith(args)
}

/// getpid, gettid, getppid, getpgrp, getpgid, getsid: answered from the tables.
pub fn emulate(call: &mut Call) -> Action {
    let k = &mut *call.kernel;
    let tid = call.tid;
    let ns = k.ns_of(tid);
    let tgid = k.tgid_of(tid);
    let value = match call.sysno {
        Sysno::getpid => k.vpid_for(tid, tgid),
        Sysno::gettid => k.vpid_for(tid, tid),
        Sysno::getppid => parent_vpid(k, tid),
        _ => {
            // getpgrp, getpgid(pid), getsid(pid): the host knows the group; we name it.
            let target = match call.args[0] as i32 {
                _ if call.sysno == Sysno::getpgrp => tgid,
                0 => tgid,
                v if v < 0 => return errno(Errno::ESRCH),
                v => match k.translate(tid, v) {
                    Some(host) => host,
                    None => return errno(Errno::ESRCH),
                },
            };
            // SAFETY: getpgid/getsid take plain integers; `target` is a sandbox task.
            let host = unsafe {
                if call.sysno == Sysno::getsid {
                    libc::getsid(target)
                } else {
                    libc::getpgid(target)
                }
            };
            if host < 0 {
                return errno(Errno::ESRCH);
            }
            // A group or session led from outside the namespace shows as 0, as on Linux.
            k.pids.vpid(ns, host).unwrap_or(0)
        }
    };
    Action::Return(value as i64)
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
        return 1;
    }
    // A parent outside the caller's namespace shows as 0, as on Linux.
    k.pids.vpid(task.ns, task.parent).unwrap_or(0)
}

/// Whether a signal sent from inside init's namespace reaches init: only those it handles.
fn reaches_init(init: Tid, sig: i32) -> bool {
    if sig == 0 {
        return true;
    }
    let Ok(status) = std::fs::read_to_string(format!("/proc/{init}/status")) else {
        return true;
    };
    let mask = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(0)
    };
    (1..=64).contains(&sig) && mask("SigCgt:") & (1u64 << (sig - 1)) != 0
}

/// kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_open.
pub fn send(call: &mut Call) -> Action {
    let sig_index = match call.sysno {
        Sysno::kill | Sysno::tkill | Sysno::rt_sigqueueinfo => Some(1),
        Sysno::tgkill | Sysno::rt_tgsigqueueinfo => Some(2),
        _ => None,
    };
    if let Some(i) = sig_index {
        if !(0..=64).contains(&(call.args[i] as i32)) {
            return errno(Errno::EINVAL);
        }
    }
    let k = &*call.kernel;
    let tid = call.tid;
    let a0 = call.args[0] as i32;
    let a1 = call.args[1] as i32;
    let target = |v: i32| k.translate(tid, v);
    let to_init = |host: Tid, sig: i32| {
        let ns = k.ns_of(tid);
        k.pids.namespaces[ns].init == Some(host) && !reaches_init(host, sig)
    };
    match call.sysno {
        Sysno::kill => match a0 {
            0 => Action::Pass,
            -1 => kill_all(call),
            pid if pid > 0 => match target(pid) {
                Some(host) if to_init(host, a1) => Action::Return(0),
                Some(host) => pass_with(call, &[(0, host as i64)]),
                None => errno(Errno::ESRCH),
            },
            pgrp => match k.translate_pgrp(tid, -pgrp) {
                Some(host) => pass_with(call, &[(0, -(host as i64))]),
                None => errno(Errno::ESRCH),
            },
        },
        Sysno::tkill | Sysno::rt_sigqueueinfo | Sysno::pidfd_open => {
            if a0 <= 0 {
                // The kernel's own EINVAL.
                return Action::Pass;
            }
            let sig = if call.sysno == Sysno::pidfd_open {
                0
            } else {
                a1
            };
            match target(a0) {
                Some(host) if to_init(host, sig) => Action::Return(0),
                Some(host) => pass_with(call, &[(0, host as i64)]),
                None => errno(Errno::ESRCH),
            }
        }
        _ => {
            // tgkill(tgid, tid, sig), rt_tgsigqueueinfo(tgid, tid, sig, info)
            if a0 <= 0 || a1 <= 0 {
                return Action::Pass;
            }
            match (target(a0), target(a1)) {
                (Some(group), Some(thread)) if k.tgid_of(thread) == group => {
                    if to_init(group, call.args[2] as i32) {
                        return Action::Return(0);
                    }
                    pass_with(call, &[(0, group as i64), (1, thread as i64)])
                }
                _ => errno(Errno::ESRCH),
            }
        }
    }
}

/// kill(-1, sig): every process of the caller's namespace and below, but its init and
/// the caller.
fn kill_all(call: &mut Call) -> Action {
    let sig = call.args[1] as i32;
    if !(0..=64).contains(&sig) {
        return errno(Errno::EINVAL);
    }
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
    for pid in targets {
        // SAFETY: kill takes plain integers; `pid` is a live sandbox process we trace.
        unsafe { libc::kill(pid, sig) };
    }
    Action::Return(0)
}

/// Calls with a pid, process group or "who" argument that must name the sandbox.
pub fn pid_argument(call: &mut Call) -> Action {
    let k = &*call.kernel;
    let tid = call.tid;
    let a0 = call.args[0] as i32;
    let a1 = call.args[1] as i32;
    // 0 is the caller; negative ids name no process here: the kernel answers them itself.
    let pid = |v: i32| -> Option<i64> {
        if v <= 0 {
            Some(v as i64)
        } else {
            k.translate(tid, v).map(|h| h as i64)
        }
    };
    let pgrp = |v: i32| -> Option<i64> {
        if v <= 0 {
            Some(v as i64)
        } else {
            k.translate_pgrp(tid, v).map(|h| h as i64)
        }
    };
    match call.sysno {
        Sysno::setpgid => {
            let Some(host) = pid(a0) else {
                return errno(Errno::ESRCH);
            };
            let target = if host == 0 {
                k.tgid_of(tid) as i64
            } else {
                host
            };
            let group = if a1 <= 0 {
                Some(a1 as i64)
            } else if k.translate(tid, a1).map(|h| h as i64) == Some(target) {
                Some(target)
            } else {
                pgrp(a1)
            };
            match group {
                Some(g) => pass_with(call, &[(0, host), (1, g)]),
                None => errno(Errno::EPERM),
            }
        }
        Sysno::getpriority | Sysno::setpriority | Sysno::ioprio_get | Sysno::ioprio_set => {
            // PRIO_PROCESS/PGRP/USER are 0/1/2; IOPRIO_WHO_PROCESS/PGRP/USER are 1/2/3.
            let which = if matches!(call.sysno, Sysno::ioprio_get | Sysno::ioprio_set) {
                a0 - 1
            } else {
                a0
            };
            let setting = matches!(call.sysno, Sysno::setpriority | Sysno::ioprio_set);
            let who = match which {
                0 => pid(a1),
                1 => pgrp(a1),
                // Every host process of the user: readable, never changeable.
                2 if setting => return errno(Errno::EPERM),
                _ => Some(a1 as i64),
            };
            match who {
                Some(w) => pass_with(call, &[(1, w)]),
                None => errno(Errno::ESRCH),
            }
        }
        Sysno::prlimit64 if call.args[1] == libc::RLIMIT_CORE as u64 => match pid(a0) {
            Some(0) => super::rlimit::prlimit_core(call, tid),
            Some(host) => super::rlimit::prlimit_core(call, host as Tid),
            None => errno(Errno::ESRCH),
        },
        _ => match pid(a0) {
            Some(host) => pass_with(call, &[(0, host)]),
            None => errno(Errno::ESRCH),
        },
    }
}

/// wait4(pid, status, options, rusage) and waitid(idtype, id, infop, options, rusage).
pub fn wait(call: &mut Call) -> Action {
    let k = &*call.kernel;
    let tid = call.tid;
    // WNOWAIT leaves the child waitable: it keeps its number.
    let options = if call.sysno == Sysno::wait4 {
        call.args[2]
    } else {
        call.args[3]
    };
    let nowait = options as i32 & libc::WNOWAIT != 0;
    let (index, id, kind) = if call.sysno == Sysno::wait4 {
        let v = call.args[0] as i32;
        match v {
            v if v > 0 => (0, v, P_PID),
            v if v < -1 => (0, -v, P_PGID),
            _ => {
                return Action::PassThenExit(ExitHook::Reaped {
                    infop: None,
                    nowait,
                })
            }
        }
    } else {
        match call.args[0] {
            P_PID | P_PGID if call.args[1] as i32 > 0 => (1, call.args[1] as i32, call.args[0]),
            _ => {
                return Action::PassThenExit(ExitHook::Reaped {
                    infop: Some(call.args[2]),
                    nowait,
                })
            }
        }
    };
    let host = if kind == P_PID {
        k.translate(tid, id)
    } else {
        k.pids.host(k.ns_of(tid), id)
    };
    let Some(host) = host else {
        return errno(Errno::ECHILD);
    };
    let mut args = call.args;
    args[index] = if call.sysno == Sysno::wait4 && kind == P_PGID {
        -(host as i64) as u64
    } else {
        host as u64
    };
    let infop = (call.sysno == Sysno::waitid).then_some(call.args[2]);
    Action::PassWithThenExit(args, ExitHook::Reaped { infop, nowait })
}

/// At the exit stop of wait4/waitid: the reaped child's id in the caller's terms; a reaped
/// zombie's number is released.
pub fn after_wait(k: &mut Kernel, tid: Tid, infop: Option<u64>, nowait: bool, rval: i64) -> i64 {
    let host = match infop {
        None if rval > 0 => rval as Tid,
        // waitid returns 0; the child is in the siginfo (si_pid at offset 16).
        Some(addr) if rval == 0 && addr != 0 => {
            let mut word = [0u8; 4];
            if !super::fix_read(&*k.mem, tid, addr + 16, &mut word) {
                return rval;
            }
            let host = i32::from_ne_bytes(word);
            if host > 0 {
                super::fix_write(
                    &*k.mem,
                    tid,
                    addr + 16,
                    &k.vpid_for(tid, host).to_ne_bytes(),
                );
                if let Some(uid) = sandbox_ruid(k, host) {
                    super::fix_write(&*k.mem, tid, addr + 20, &uid.to_ne_bytes());
                    // si_uid
                }
            }
            host
        }
        _ => return rval,
    };
    let vpid = k.vpid_for(tid, host);
    if !nowait && k.zombies.remove(&host).is_some() {
        k.pids.release(host);
    }
    if infop.is_some() {
        rval
    } else {
        vpid as i64
    }
}

/// At the exit stop of clone/fork/vfork in the parent: the child's number.
pub fn after_clone(k: &Kernel, tid: Tid, rval: i64) -> i64 {
    if rval <= 0 {
        return rval;
    }
    k.vpid_for(tid, rval as Tid) as i64
}

/// A call whose result is the caller's own host id (setsid, set_tid_address).
pub fn translate_result(_call: &mut Call) -> Action {
    Action::PassThenExit(ExitHook::TranslatePid)
}

/// A signal about to be delivered: the sender's id in si_pid becomes the receiver's number
/// for it (0 when the receiver cannot see the sender, such as the sentry itself), and si_uid
/// the sender's real uid in the sandbox.
pub fn translate_siginfo(k: &Kernel, tid: Tid, info: &mut [u8; 128]) -> bool {
    let signo = i32::from_ne_bytes(info[0..4].try_into().expect("4 bytes"));
    let code = i32::from_ne_bytes(info[8..12].try_into().expect("4 bytes"));
    // SI_USER, SI_QUEUE, SI_MESGQ, SI_TKILL carry a sender; so does every CLD_* SIGCHLD.
    let has_pid =
        matches!(code, 0 | -1 | -3 | -6) || (signo == libc::SIGCHLD && (1..=6).contains(&code));
    if !has_pid {
        return false;
    }
    let host = i32::from_ne_bytes(info[16..20].try_into().expect("4 bytes"));
    let vpid = if host > 0 { k.vpid_for(tid, host) } else { 0 };
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

/// rt_sigtimedwait returned a signal: the siginfo it wrote at `at`, as delivery shows it.
pub fn translate_dequeued(k: &Kernel, tid: Tid, at: u64) {
    let mut info = [0u8; 128];
    if super::fix_read(&*k.mem, tid, at, &mut info) && translate_siginfo(k, tid, &mut info) {
        super::fix_write(&*k.mem, tid, at, &info);
    }
}

/// The real uid a sandbox process has, or had if it is an unreaped zombie, in sandbox ids.
fn sandbox_ruid(k: &Kernel, host: Tid) -> Option<u32> {
    if k.tasks.contains_key(&host) {
        return Some(k.creds_of(host).ruid);
    }
    k.zombies.get(&host).copied()
}

/// getsockopt(SO_PEERCRED) returned: the `struct ucred` at `addr` names the peer by host
/// pid and host ids; the caller gets its number for it (0 when the peer is not the
/// sandbox's, as for a peer outside a PID namespace) and, for a sandbox peer, its ids as the
/// sandbox sees them.
pub fn translate_peercred(k: &Kernel, tid: Tid, addr: u64, len_addr: u64) {
    let mut len = [0u8; 4];
    if !super::fix_read(&*k.mem, tid, len_addr, &mut len) || u32::from_ne_bytes(len) < 4 {
        return;
    }
    let mut pid = [0u8; 4];
    if !super::fix_read(&*k.mem, tid, addr, &mut pid) {
        return;
    }
    let host = i32::from_ne_bytes(pid);
    if host <= 0 {
        return;
    }
    let mut ucred = k.vpid_for(tid, host).to_ne_bytes().to_vec();
    if k.tasks.contains_key(&host) {
        // A peer of the sandbox: its ids as the sandbox sees them.
        let creds = k.creds_of(host);
        ucred.extend_from_slice(&creds.euid.to_ne_bytes());
        ucred.extend_from_slice(&creds.egid.to_ne_bytes());
    }
    super::fix_write(&*k.mem, tid, addr, &ucred);
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

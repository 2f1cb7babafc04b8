//! Calls that name a process, thread or process group: a signal (or a scheduling, limit
//! or priority change) can reach only the sandbox's own tasks (DESIGN.md invariant 5).

use super::{errno, Action, Call};
use syscalls::{Errno, Sysno};

/// kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_open.
pub fn send(call: &mut Call) -> Action {
    let k = &call.kernel;
    let a0 = call.args[0] as i32;
    let a1 = call.args[1] as i32;
    let in_group = |tgid: i32, tid: i32| k.tasks.get(&tid).is_some_and(|t| t.tgid == tgid);
    let allowed = match call.sysno {
        Sysno::kill => match a0 {
            0 => true,
            -1 => return kill_all(call),
            pid if pid > 0 => k.is_sandbox_task(pid),
            pgrp => k.is_sandbox_pgrp(-pgrp),
        },
        Sysno::tkill | Sysno::rt_sigqueueinfo => a0 <= 0 || k.is_sandbox_task(a0),
        Sysno::tgkill | Sysno::rt_tgsigqueueinfo => a0 <= 0 || a1 <= 0 || in_group(a0, a1),
        // pidfd_open(pid <= 0) is EINVAL from the kernel itself.
        Sysno::pidfd_open => a0 <= 0 || k.is_sandbox_task(a0),
        _ => false,
    };
    if allowed {
        Action::Pass
    } else {
        errno(Errno::ESRCH)
    }
}

/// kill(-1, sig): every process of the sandbox but its first and the caller's own.
fn kill_all(call: &mut Call) -> Action {
    let sig = call.args[1] as i32;
    if !(0..=64).contains(&sig) {
        return errno(Errno::EINVAL);
    }
    let caller = call
        .kernel
        .tasks
        .get(&call.tid)
        .map_or(call.tid, |t| t.tgid);
    let init = call.kernel.init_tid;
    let targets: Vec<i32> = call
        .kernel
        .processes()
        .filter(|&p| p != caller && p != init)
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

/// Calls with a pid (or process group) argument that must name the sandbox.
pub fn pid_argument(call: &mut Call) -> Action {
    let k = &call.kernel;
    // Negative ids name no process here: the kernel answers them (EINVAL) itself.
    let pid_ok = |pid: i32| pid <= 0 || k.is_sandbox_task(pid);
    let a0 = call.args[0] as i32;
    let a1 = call.args[1] as i32;
    match call.sysno {
        Sysno::setpgid => {
            if !pid_ok(a0) {
                return errno(Errno::ESRCH);
            }
            let target = if a0 == 0 { call.tid } else { a0 };
            if a1 == 0 || a1 == target || k.is_sandbox_pgrp(a1) {
                Action::Pass
            } else {
                errno(Errno::EPERM)
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
            match which {
                0 if !pid_ok(a1) => errno(Errno::ESRCH),
                1 if a1 != 0 && !k.is_sandbox_pgrp(a1) => errno(Errno::ESRCH),
                // Every host process of the user: readable, never changeable.
                2 if setting => errno(Errno::EPERM),
                _ => Action::Pass,
            }
        }
        _ => {
            if pid_ok(a0) {
                Action::Pass
            } else {
                errno(Errno::ESRCH)
            }
        }
    }
}

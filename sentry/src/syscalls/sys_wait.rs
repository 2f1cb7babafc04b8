//! wait4 and waitid: the child named by its number, and the reaped child's number and
//! siginfo in the caller's terms at the exit stop.

use super::pid::*;
use super::{errno, Action, Call, ExitHook};
use crate::kernel::Kernel;
use nix::errno::Errno;
use platform_ptrace::Tid;
use syscalls::Sysno;

const P_PID: u64 = 1;

const P_PGID: u64 = 2;

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
    let status = if call.sysno == Sysno::wait4 {
        call.args[1]
    } else {
        0
    };
    let (index, id, kind) = if call.sysno == Sysno::wait4 {
        let v = call.args[0] as i32;
        match v {
            v if v > 0 => (0, v, P_PID),
            v if v < -1 => (0, -v, P_PGID),
            _ => {
                return Action::PassThenExit(ExitHook::Reaped {
                    infop: None,
                    status,
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
                    status,
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
    Action::PassWithThenExit(
        args,
        ExitHook::Reaped {
            infop,
            status,
            nowait,
        },
    )
}

/// At the exit stop of wait4/waitid: the reaped child's id in the caller's terms, and the
/// core bit the host could not set (`dumped_core`) in wait4's status or waitid's si_code;
/// a reaped zombie's number is released.
pub fn after_wait(
    k: &mut Kernel,
    tid: Tid,
    (infop, status): (Option<u64>, u64),
    nowait: bool,
    rval: i64,
) -> i64 {
    let host = match infop {
        None if rval > 0 => {
            super::rlimit::core_in_status(k, tid, rval as Tid, status);
            rval as Tid
        }
        // waitid returns 0; the child is in the siginfo (si_pid at offset 16).
        Some(addr) if rval == 0 && addr != 0 => {
            let mut word = [0u8; 4];
            if !super::fix_read(&*k.mem, tid, addr + 16, &mut word) {
                return rval;
            }
            let host = i32::from_ne_bytes(word);
            if host > 0 {
                super::rlimit::core_in_code(k, tid, host, addr + 8);
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
    if !nowait {
        if let Some(ruid) = k.zombies.remove(&host) {
            k.release_pid(host, ruid);
        }
    }
    if infop.is_some() {
        rval
    } else {
        vpid as i64
    }
}

//! wait4 and waitid: the child named by its number, and the reaped child's number and
//! siginfo in the caller's terms at the exit stop.

use super::pid::*;
use super::{errno, Action, Call, ExitHook};
use crate::kernel::Kernel;
use nix::errno::Errno;
use platform_ptrace::Tid;

const P_PID: i32 = 1;

const P_PGID: i32 = 2;

crate::syscall_entries! {
    wait4(pid: Int32, status: Ptr, options: Hex, rusage: Ptr) => Checked, wait4;
    waitid(idtype: Int32, id: Int32, info: Ptr, options: Hex, rusage: Ptr) => Checked, waitid;
}

/// wait4(pid, status, options, rusage): a child or a group named by its number.
fn wait4(call: &mut Call, a: args::wait4) -> Action {
    // WNOWAIT leaves the child waitable: it keeps its number.
    let nowait = a.options as i32 & libc::WNOWAIT != 0;
    let hook = ExitHook::Reaped {
        infop: None,
        status: a.status,
        nowait,
    };
    let (k, tid) = (&*call.kernel, call.tid);
    let host = match a.pid {
        pid if pid > 0 => k.translate(tid, pid).map(|h| h as i64),
        pgrp if pgrp < -1 => k.pids.host(k.ns_of(tid), -pgrp).map(|h| -(h as i64)),
        // Any child, or the caller's group: the kernel knows them.
        _ => return Action::PassThenExit(hook),
    };
    let Some(host) = host else {
        return errno(Errno::ECHILD);
    };
    let mut args = call.args;
    args[0] = host as u64;
    Action::PassWithThenExit(args, hook)
}

/// waitid(idtype, id, infop, options, rusage): P_PID and P_PGID name a child or a group by
/// its number; the siginfo at `infop` is put in the caller's terms at the exit.
fn waitid(call: &mut Call, a: args::waitid) -> Action {
    let nowait = a.options as i32 & libc::WNOWAIT != 0;
    let hook = ExitHook::Reaped {
        infop: Some(a.info),
        status: 0,
        nowait,
    };
    let (k, tid) = (&*call.kernel, call.tid);
    let host = match a.idtype {
        P_PID if a.id > 0 => k.translate(tid, a.id),
        P_PGID if a.id > 0 => k.pids.host(k.ns_of(tid), a.id),
        _ => return Action::PassThenExit(hook),
    };
    let Some(host) = host else {
        return errno(Errno::ECHILD);
    };
    let mut args = call.args;
    args[1] = host as u64;
    Action::PassWithThenExit(args, hook)
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

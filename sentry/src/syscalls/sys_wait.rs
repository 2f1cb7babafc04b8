//! wait4 and waitid: the child named by its number, and the reaped child's number and
//! siginfo in the caller's terms at the exit stop.

use super::pid::*;
use super::{errno, Action, Call, ExitHook};
use crate::kernel::Kernel;
use nix::errno::Errno;
use platform_ptrace::Tid;

const P_ALL: i32 = 0;

const P_PID: i32 = 1;

const P_PGID: i32 = 2;

const P_PIDFD: i32 = 3;

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
        eagain_if_none: false,
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
/// its number. A wait that reaps (WEXITED without WNOWAIT) runs as wait4 with its status
/// word at `infop`, and the sentry writes the siginfo itself (`after_waitid_as_wait4`): the
/// kernel's waitid would write the child's host pid and uid there, where another thread of
/// the task could read them before the exit stop puts them in the caller's terms, and the
/// child reaped would be read back from memory the task can rewrite. A wait for exits that
/// reaps nothing (WNOWAIT) runs with no siginfo, and the sentry finds the child and writes
/// the siginfo itself (`after_waitid_peek`). Other waits (stops, continues) leave the
/// siginfo to the kernel and put it in the caller's terms at the exit stop. A wait by pidfd
/// is served as one by number (`by_pidfd`).
fn waitid(call: &mut Call, a: args::waitid) -> Action {
    let (a, eagain_if_none) = match a.idtype {
        P_PIDFD => match by_pidfd(call, a) {
            Ok(by_number) => by_number,
            Err(e) => return errno(e),
        },
        _ => (a, false),
    };
    let action =
        waitid_as_wait4(call, &a, eagain_if_none).or_else(|| waitid_peek(call, &a, eagain_if_none));
    if let Some(action) = action {
        return action;
    }
    let nowait = a.options as i32 & libc::WNOWAIT != 0;
    let hook = ExitHook::Reaped {
        infop: Some(a.info),
        status: 0,
        nowait,
        eagain_if_none,
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

/// waitid(P_PIDFD, pidfd, ...): the same wait for the child the sentry looked the pidfd up
/// to, once, by its number (P_PID), so that it is served as one (the call's arguments are
/// rewritten: another thread cannot re-point the pidfd between the sentry's look and the
/// kernel's). Bad options are the kernel's to refuse first. A pidfd that does not block
/// (PIDFD_NONBLOCK) makes the wait WNOHANG, and one that finds no child fails with EAGAIN
/// unless the caller asked for WNOHANG itself (the second value), as Linux does; with no
/// siginfo to fill, the kernel's waitid writes none and keeps the pidfd.
fn by_pidfd(call: &mut Call, a: args::waitid) -> Result<(args::waitid, bool), Errno> {
    let options = a.options as i32;
    let valid = WAIT4_OPTIONS | libc::WEXITED | libc::WNOWAIT;
    let waits_for = libc::WEXITED | libc::WSTOPPED | libc::WCONTINUED;
    if options & !valid != 0 || options & waits_for == 0 {
        return Ok((a, false));
    }
    let pidfd = call.task_fd(a.id).map_err(|_| Errno::EBADF)?;
    let (host, nonblocking) = pidfd_info(&pidfd)?;
    let k = &*call.kernel;
    let known = k.tasks.contains_key(&host) || k.zombies.contains_key(&host);
    if host <= 0 || !known {
        return Err(Errno::ECHILD);
    }
    if nonblocking && a.info == 0 {
        return Ok((a, false));
    }
    call.args[0] = P_PID as u64;
    call.args[1] = k.vpid_for(call.tid, host) as u64;
    if nonblocking {
        call.args[3] |= libc::WNOHANG as u64;
    }
    let eagain_if_none = nonblocking && options & libc::WNOHANG == 0;
    Ok((args::waitid::decode(&call.args), eagain_if_none))
}

/// The options waitid shares with wait4 (WSTOPPED is wait4's WUNTRACED).
const WAIT4_OPTIONS: i32 = libc::WNOHANG
    | libc::WSTOPPED
    | libc::WCONTINUED
    | libc::__WNOTHREAD
    | libc::__WCLONE
    | libc::__WALL;

/// waitid as wait4 (see [`waitid`]), when wait4 can say the same: a siginfo to fill,
/// WEXITED without WNOWAIT, no option wait4 lacks, and a child, a group or any child.
fn waitid_as_wait4(call: &mut Call, a: &args::waitid, eagain_if_none: bool) -> Option<Action> {
    let options = a.options as i32;
    let known = WAIT4_OPTIONS | libc::WEXITED;
    if a.info == 0 || options & libc::WEXITED == 0 || options & !known != 0 {
        return None;
    }
    let (k, tid) = (&*call.kernel, call.tid);
    let pid = match a.idtype {
        P_ALL => -1,
        P_PID if a.id > 0 => match k.translate(tid, a.id) {
            Some(host) => host as i64,
            None => return Some(errno(Errno::ECHILD)),
        },
        // Group 0 is the caller's own, as wait4's 0 says.
        P_PGID if a.id == 0 => 0,
        P_PGID if a.id > 0 => match k.pids.host(k.ns_of(tid), a.id) {
            Some(host) => -(host as i64),
            None => return Some(errno(Errno::ECHILD)),
        },
        _ => return None,
    };
    Some(Action::PassAsThenExit {
        nr: ::syscalls::Sysno::wait4.id() as u64,
        args: [
            pid as u64,
            a.info,
            (options & WAIT4_OPTIONS) as u64,
            a.rusage,
            0,
            0,
        ],
        hook: ExitHook::WaitidAsWait4 {
            infop: a.info,
            eagain_if_none,
        },
    })
}

/// waitid for exits with WNOWAIT (see [`waitid`]): a child, a group or any child, with a
/// siginfo to fill. The kernel waits with none (infop NULL); the child it found stays a
/// zombie, which the sentry finds again at the exit stop.
fn waitid_peek(call: &mut Call, a: &args::waitid, eagain_if_none: bool) -> Option<Action> {
    let options = a.options as i32;
    let peek = libc::WEXITED | libc::WNOWAIT;
    if a.info == 0 || options & peek != peek || options & (libc::WSTOPPED | libc::WCONTINUED) != 0 {
        return None;
    }
    let (k, tid) = (&*call.kernel, call.tid);
    let host = match a.idtype {
        P_ALL => 0,
        P_PID if a.id > 0 => match k.translate(tid, a.id) {
            Some(host) => host,
            None => return Some(errno(Errno::ECHILD)),
        },
        // Group 0 is the caller's own.
        P_PGID if a.id == 0 => 0,
        P_PGID if a.id > 0 => match k.pids.host(k.ns_of(tid), a.id) {
            Some(host) => host,
            None => return Some(errno(Errno::ECHILD)),
        },
        _ => return None,
    };
    let mut args = call.args;
    args[1] = host as u64;
    args[2] = 0;
    Some(Action::PassWithThenExit(
        args,
        ExitHook::WaitidPeek {
            infop: a.info,
            idtype: a.idtype,
            id: host,
            nohang: options & libc::WNOHANG != 0,
            eagain_if_none,
        },
    ))
}

/// At the exit stop of a [`waitid_peek`]: waitid's result, with the siginfo written at
/// `infop` for the child the kernel found waitable (the oldest of the caller's zombie
/// children the wait names; zeros when WNOHANG found none, or on an error, as Linux
/// writes them; EAGAIN for none by a pidfd that does not block). None when no such zombie
/// is left (another thread reaped it meanwhile): the task makes its call again.
pub fn after_waitid_peek(
    k: &mut Kernel,
    tid: Tid,
    (infop, idtype, id, nohang, eagain_if_none): (u64, i32, Tid, bool, bool),
    rval: i64,
) -> Option<i64> {
    // The kernel never looked at `infop`: memory that is not the task's is its EFAULT.
    let write = |k: &Kernel, fields: [i32; 6]| {
        write_child_siginfo(k, tid, infop, fields, false).unwrap_or(rval)
    };
    if rval != 0 {
        return Some(write(k, [0; 6]));
    }
    let caller = k.tgid_of(tid);
    let group = match (idtype, id) {
        // SAFETY: getpgid takes a plain integer.
        (P_PGID, 0) => unsafe { libc::getpgid(caller) },
        (_, id) => id,
    };
    let found = k
        .zombies
        .keys()
        .filter_map(|&zombie| {
            let stat = crate::host::read_proc_text(format!("/proc/{zombie}/stat")).ok()?;
            let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
            let number = |at: usize| fields.get(at)?.parse::<i64>().ok();
            // After the name: state, ppid, pgrp, ... starttime (22nd), ... exit_code (52nd).
            let named = match idtype {
                P_PID => zombie == id,
                P_PGID => number(2)? == group as i64,
                _ => true,
            };
            let ours = fields.first() == Some(&"Z") && number(1)? == caller as i64 && named;
            ours.then_some((number(19)?, zombie, number(49)? as i32))
        })
        .min();
    let fields = match found {
        Some((_, host, status)) => {
            let core = if k.dumped_core.contains(&host) {
                0x80
            } else {
                0
            };
            let (code, value) = child_event(status | core);
            [
                libc::SIGCHLD,
                0,
                code,
                k.vpid_for(tid, host),
                sandbox_ruid(k, host).unwrap_or(65534) as i32,
                value,
            ]
        }
        None if nohang => [0; 6],
        None => return None,
    };
    let written = write(k, fields);
    match found {
        None if eagain_if_none && written == 0 => Some(-(libc::EAGAIN as i64)),
        _ => Some(written),
    }
}

/// Writes si_signo, si_errno, si_code, si_pid, si_uid and si_status at `infop` (the
/// padding after si_code is the task's); Some(-EFAULT) when that memory is not the task's,
/// after killing the task if `known_good` (the kernel wrote there in the call: the memory
/// went away under the sentry, see `fix_read`).
fn write_child_siginfo(
    k: &Kernel,
    tid: Tid,
    infop: u64,
    fields: [i32; 6],
    known_good: bool,
) -> Option<i64> {
    let mem = &*k.mem;
    let mut bytes = [0u8; 28];
    let read = match known_good {
        true => super::fix_read(mem, tid, infop, &mut bytes),
        false => mem.read(tid, infop, &mut bytes).is_ok(),
    };
    for (field, at) in fields.iter().zip([0, 4, 8, 16, 20, 24]) {
        bytes[at..at + 4].copy_from_slice(&field.to_ne_bytes());
    }
    let written = read
        && match known_good {
            true => super::fix_write(mem, tid, infop, &bytes),
            false => mem.write(tid, infop, &bytes).is_ok(),
        };
    (!written).then_some(-(libc::EFAULT as i64))
}

/// At the exit stop of a waitid run as wait4 (`rval`: wait4's result, the reaped child's
/// host id): waitid's result, and its siginfo at `infop` as Linux writes it (si_signo,
/// si_errno, si_code, si_pid, si_uid, si_status; zeros when no child was waited for),
/// made from the child's id and its status word, which wait4 left at `infop`. EAGAIN for
/// none by a pidfd that does not block (`eagain_if_none`).
pub fn after_waitid_as_wait4(
    k: &mut Kernel,
    tid: Tid,
    (infop, eagain_if_none): (u64, bool),
    rval: i64,
) -> i64 {
    if super::sys_signal::ERESTART.contains(&rval) {
        // Interrupted: the kernel runs the task's own waitid again, or fails it.
        return rval;
    }
    let mut fields = [0i32; 6];
    if rval > 0 {
        let host = rval as Tid;
        super::rlimit::core_in_status(k, tid, host, infop);
        let mut word = [0u8; 4];
        if !super::fix_read(&*k.mem, tid, infop, &mut word) {
            return -(libc::EFAULT as i64);
        }
        let (code, value) = child_event(i32::from_ne_bytes(word));
        fields = [
            libc::SIGCHLD,
            0,
            code,
            k.vpid_for(tid, host),
            // An id the sandbox cannot name shows as the overflow id, as Linux shows it.
            sandbox_ruid(k, host).unwrap_or(65534) as i32,
            value,
        ];
        let reaped = matches!(code, libc::CLD_EXITED | libc::CLD_KILLED | libc::CLD_DUMPED);
        if let Some(ruid) = k.zombies.remove(&host).filter(|_| reaped) {
            k.release_pid(host, ruid);
        }
    }
    if let Some(efault) = write_child_siginfo(k, tid, infop, fields, true) {
        return efault;
    }
    match rval {
        0 if eagain_if_none => -(libc::EAGAIN as i64),
        reaped if reaped > 0 => 0,
        error => error,
    }
}

/// (si_code, si_status) of a child's wait status, as waitid reports it.
fn child_event(status: i32) -> (i32, i32) {
    if libc::WIFEXITED(status) {
        (libc::CLD_EXITED, libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        let code = if libc::WCOREDUMP(status) {
            libc::CLD_DUMPED
        } else {
            libc::CLD_KILLED
        };
        (code, libc::WTERMSIG(status))
    } else if libc::WIFSTOPPED(status) {
        (libc::CLD_STOPPED, libc::WSTOPSIG(status))
    } else {
        (libc::CLD_CONTINUED, libc::SIGCONT)
    }
}

/// At the exit stop of wait4/waitid: the reaped child's id in the caller's terms, and the
/// core bit the host could not set (`dumped_core`) in wait4's status or waitid's si_code;
/// a reaped zombie's number is released.
pub fn after_wait(
    k: &mut Kernel,
    tid: Tid,
    (infop, status): (Option<u64>, u64),
    (nowait, eagain_if_none): (bool, bool),
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
            if host == 0 && eagain_if_none {
                // No child (the kernel wrote zeros), by a pidfd that does not block.
                return -(libc::EAGAIN as i64);
            }
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

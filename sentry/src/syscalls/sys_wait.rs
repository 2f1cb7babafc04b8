//! wait4 and waitid: the child named by its number, and the reaped child's number and
//! siginfo in the caller's terms at the exit stop.

use super::pid::*;
use super::{errno, Action, Call, ExitHook};
use crate::kernel::{Kernel, WaitProbe, WaitStep};
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
/// the siginfo itself (`after_waitid_peek`). A wait for stops or continues is answered by
/// the sentry from waits that write nothing (`waitid_probed`). A wait by pidfd is served
/// as one by number (`by_pidfd`).
fn waitid(call: &mut Call, a: args::waitid) -> Action {
    let (a, eagain_if_none) = match a.idtype {
        P_PIDFD => match by_pidfd(call, a) {
            Ok(by_number) => by_number,
            Err(e) => return errno(e),
        },
        _ => (a, false),
    };
    let action = waitid_as_wait4(call, &a, eagain_if_none)
        .or_else(|| waitid_peek(call, &a, eagain_if_none))
        .or_else(|| waitid_probed(call, &a, eagain_if_none));
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

/// The host id a waitid's (idtype, id) names for the caller: a child's or a group's (0 for
/// any child, and for the caller's own group); None when the kernel is left to refuse the
/// pair (EINVAL); ECHILD for a number that names nothing of the sandbox.
fn waited_host(call: &Call, a: &args::waitid) -> Option<Result<Tid, Errno>> {
    let (k, tid) = (&*call.kernel, call.tid);
    let host = match a.idtype {
        P_ALL => Some(0),
        P_PID if a.id > 0 => k.translate(tid, a.id),
        // Group 0 is the caller's own.
        P_PGID if a.id == 0 => Some(0),
        P_PGID if a.id > 0 => k.pids.host(k.ns_of(tid), a.id),
        _ => return None,
    };
    Some(host.ok_or(Errno::ECHILD))
}

/// waitid as wait4 (see [`waitid`]), when wait4 can say the same: WEXITED without WNOWAIT,
/// no option wait4 lacks, and a child, a group or any child. Without a siginfo to fill it
/// runs as wait4 too (with no status word), so that the sentry learns which child it reaped.
fn waitid_as_wait4(call: &mut Call, a: &args::waitid, eagain_if_none: bool) -> Option<Action> {
    let options = a.options as i32;
    let known = WAIT4_OPTIONS | libc::WEXITED;
    if options & libc::WEXITED == 0 || options & !known != 0 {
        return None;
    }
    let host = match waited_host(call, a)? {
        Ok(host) => host as i64,
        Err(e) => return Some(errno(e)),
    };
    // wait4's pid: -1 for any child, 0 for the caller's group (as waitid's group 0), a
    // group negated.
    let pid = match a.idtype {
        P_ALL => -1,
        P_PGID => -host,
        _ => host,
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
    let host = match waited_host(call, a)? {
        Ok(host) => host,
        Err(e) => return Some(errno(e)),
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
            let stat = ProcStat::of(zombie)?;
            let named = match idtype {
                P_PID => zombie == id,
                P_PGID => stat.number(PGRP)? == group as i64,
                _ => true,
            };
            let ours = stat.state() == Some("Z") && stat.number(PPID)? == caller as i64 && named;
            ours.then_some((
                stat.number(STARTTIME)?,
                zombie,
                stat.number(EXIT_CODE)? as i32,
            ))
        })
        .min();
    let fields = match found {
        Some((_, host, status)) => child_siginfo(k, tid, host, exit_event(k, host, status)),
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
    if infop == 0 {
        // No siginfo: a child no longer on the host was reaped (not a stop or a continue).
        if rval > 0 {
            k.forget_zombie_if_reaped(rval as Tid);
        }
        return match rval {
            0 if eagain_if_none => -(libc::EAGAIN as i64),
            reaped if reaped > 0 => 0,
            error => error,
        };
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
        fields = child_siginfo(k, tid, host, (code, value));
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

/// The siginfo fields (si_signo, si_errno, si_code, si_pid, si_uid, si_status) of an event
/// (si_code, si_status) of child `host`, in the caller's numbers and ids.
fn child_siginfo(k: &Kernel, tid: Tid, host: Tid, (code, value): (i32, i32)) -> [i32; 6] {
    [
        libc::SIGCHLD,
        0,
        code,
        // A zombie the sentry let go meanwhile (`forget_reaped_zombies`) keeps its number.
        k.sender_vpid(tid, host),
        // An id the sandbox cannot name shows as the overflow id, as Linux shows it.
        sandbox_ruid(k, host).unwrap_or(65534) as i32,
        value,
    ]
}

/// The event of zombie `host` whose exit status the kernel shows as `status`, with the core
/// bit the host could not set (`dumped_core`).
fn exit_event(k: &Kernel, host: Tid, status: i32) -> (i32, i32) {
    let core = if k.dumped_core.contains(&host) {
        0x80
    } else {
        0
    };
    child_event(status | core)
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
    let vpid = k.sender_vpid(tid, host);
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

/// The fields of /proc/<pid>/stat after the command name, numbered from the state (field 3
/// of proc(5)) at 0.
struct ProcStat(Vec<String>);

const PPID: usize = 1;
const PGRP: usize = 2;
const STARTTIME: usize = 19;
const EXIT_CODE: usize = 49;

impl ProcStat {
    fn of(host: Tid) -> Option<ProcStat> {
        let stat = crate::host::read_proc_text(format!("/proc/{host}/stat")).ok()?;
        let after_name = stat.rsplit_once(") ")?.1;
        Some(ProcStat(
            after_name.split_whitespace().map(str::to_owned).collect(),
        ))
    }

    fn state(&self) -> Option<&str> {
        self.0.first().map(String::as_str)
    }

    fn number(&self, at: usize) -> Option<i64> {
        self.0.get(at)?.parse().ok()
    }
}

/// A user address the kernel refuses before writing anything there (the kernel's half).
/// Given as waitid's rusage, which the kernel copies out only when the wait found a child
/// (after taking its event, unless WNOWAIT), it turns "found" into EFAULT, while the siginfo
/// (NULL) gets nothing: the sentry learns whether without the host ids.
const REFUSED_ADDRESS: u64 = 0xffff_ffff_ffff_f000;

/// The options that choose which children a wait looks at, kept in every wait the sentry
/// has the task make for it.
const WHICH_CHILDREN: i32 = libc::__WNOTHREAD | libc::__WCLONE | libc::__WALL;

/// What a call the sentry had a task make for a waitid for stops or continues asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitAsk {
    /// Whether anything the wait names is waitable (WNOWAIT; blocking unless WNOHANG).
    Any,
    /// Whether `child` has `event` (WEXITED, WSTOPPED or WCONTINUED) to report; `answers`:
    /// the call is the task's own wait for it (with the task's WNOWAIT, no rusage to fill).
    Child {
        child: Tid,
        event: i32,
        answers: bool,
    },
    /// The task's own wait for `event` of `child`, found before, with the task's rusage.
    Take { child: Tid, event: i32 },
}

/// waitid for stops or continues with a siginfo to fill (and for exits too only with
/// WNOWAIT: a reaping one ran as wait4). The kernel's waitid would write the child's host
/// pid and uid at `infop`, where another thread of the task could read them before the
/// exit stop put them in the caller's terms. So the sentry answers it from calls it has the
/// task make in its place, none of which writes a siginfo (NULL) and each of which tells
/// whether it found a child by failing to write its rusage ([`REFUSED_ADDRESS`]): one for
/// the whole set the caller named, which waits as the caller's would and takes nothing
/// (WNOWAIT); then, child by child in the kernel's order and event by event (exit, stop,
/// continue, as the kernel looks), one for that child and event alone (WNOHANG), which
/// takes the event unless the caller said WNOWAIT; the first found is the answer, whose
/// siginfo the sentry writes. A caller's rusage is filled by its own wait for the event
/// found, made last. Between those calls the task makes its own call again
/// (`after_waitid_probe`), and `Kernel::wait_probes` carries the sentry's progress.
fn waitid_probed(call: &mut Call, a: &args::waitid, eagain_if_none: bool) -> Option<Action> {
    let options = a.options as i32;
    let valid = WAIT4_OPTIONS | libc::WEXITED | libc::WNOWAIT;
    if a.info == 0 || options & (libc::WSTOPPED | libc::WCONTINUED) == 0 || options & !valid != 0 {
        return None;
    }
    let target = match waited_host(call, a)? {
        Ok(host) => host,
        Err(e) => return Some(errno(e)),
    };
    let (k, tid) = (&mut *call.kernel, call.tid);
    let ask = |args: [u64; 6], asked| {
        Action::PassWithThenExit(
            args,
            ExitHook::WaitidProbe {
                infop: a.info,
                eagain_if_none,
                asked,
            },
        )
    };
    let which = options & WHICH_CHILDREN;
    let own = [a.idtype as u64, target as u64, a.info, a.options, a.rusage];
    let step = k
        .wait_probes
        .get(&tid)
        .filter(|probe| probe.call == own)
        .map(|probe| probe.step.clone());
    let looked_at = match step {
        Some(WaitStep::Looking { children, next }) => {
            let events = waited_events(options);
            children
                .get(next / events.len())
                .map(|&child| (child, events[next % events.len()]))
        }
        Some(WaitStep::Taking { child, event }) => {
            let options = event | libc::WNOHANG | options & (libc::WNOWAIT | which);
            let args = [P_PID as u64, child as u64, 0, options as u64, a.rusage, 0];
            return Some(ask(args, WaitAsk::Take { child, event }));
        }
        None => None,
    };
    let Some((child, event)) = looked_at else {
        // A new wait, or what was waitable went meanwhile (another thread's wait took it).
        let step = WaitStep::Looking {
            children: Vec::new(),
            next: 0,
        };
        k.wait_probes.insert(tid, WaitProbe { call: own, step });
        let options = (options | libc::WNOWAIT) as u64;
        let args = [
            a.idtype as u64,
            target as u64,
            0,
            options,
            REFUSED_ADDRESS,
            0,
        ];
        return Some(ask(args, WaitAsk::Any));
    };
    let answers = a.rusage == 0;
    let nowait = if answers {
        options & libc::WNOWAIT
    } else {
        libc::WNOWAIT
    };
    let options = (event | libc::WNOHANG | nowait | which) as u64;
    let args = [P_PID as u64, child as u64, 0, options, REFUSED_ADDRESS, 0];
    let asked = WaitAsk::Child {
        child,
        event,
        answers,
    };
    Some(ask(args, asked))
}

/// The events a wait asks for, in the order the kernel looks for them in each child.
fn waited_events(options: i32) -> Vec<i32> {
    [libc::WEXITED, libc::WSTOPPED, libc::WCONTINUED]
        .into_iter()
        .filter(|&event| options & event != 0)
        .collect()
}

/// At the exit stop of a call the sentry had the task make for a [`waitid_probed`]: the
/// task's result, with its siginfo written at `infop`; None when the task makes its own
/// call again, for the sentry's next question.
pub fn after_waitid_probe(
    k: &mut Kernel,
    tid: Tid,
    (infop, eagain_if_none, asked): (u64, bool, WaitAsk),
    rval: i64,
) -> Option<i64> {
    let found = rval == -(libc::EFAULT as i64);
    let Some(probe) = k.wait_probes.get(&tid) else {
        return Some(rval);
    };
    let [idtype, target, _, options, _] = probe.call;
    match asked {
        WaitAsk::Any if found => {
            let children = children_in_wait_order(k, tid, idtype as i32, target as Tid, options);
            if let Some(probe) = k.wait_probes.get_mut(&tid) {
                probe.step = WaitStep::Looking { children, next: 0 };
            }
            None
        }
        // Nothing waitable (WNOHANG), or the kernel's error (ECHILD, EINVAL, a restart):
        // zeros, as Linux writes them whenever its wait reports no child.
        WaitAsk::Any => {
            k.wait_probes.remove(&tid);
            let written = write_child_siginfo(k, tid, infop, [0; 6], false);
            Some(match (written, rval) {
                (Some(efault), _) => efault,
                (None, 0) if eagain_if_none => -(libc::EAGAIN as i64),
                (None, rval) => rval,
            })
        }
        WaitAsk::Child {
            child,
            event,
            answers: true,
        } if found => Some(answer(k, tid, infop, child, event)),
        WaitAsk::Child { child, event, .. } => {
            if let Some(probe) = k.wait_probes.get_mut(&tid) {
                match &mut probe.step {
                    _ if found => probe.step = WaitStep::Taking { child, event },
                    WaitStep::Looking { next, .. } => *next += 1,
                    WaitStep::Taking { .. } => {}
                }
            }
            None
        }
        // Taken: the answer, whether or not another thread's wait took the event first
        // (the call cannot tell: it fills the task's rusage either way).
        WaitAsk::Take { child, event } if rval == 0 => Some(answer(k, tid, infop, child, event)),
        // The task's rusage is not writable (EFAULT: Linux took the event and wrote no
        // siginfo), or the kernel's error.
        WaitAsk::Take { .. } => {
            k.wait_probes.remove(&tid);
            Some(rval)
        }
    }
}

/// The wait of task `tid` is over with `event` of `child`: its siginfo, written at `infop`.
fn answer(k: &mut Kernel, tid: Tid, infop: u64, child: Tid, event: i32) -> i64 {
    k.wait_probes.remove(&tid);
    let happened = match event {
        libc::WSTOPPED => {
            let signal = k.stop_signals.get(&child).copied();
            (libc::CLD_STOPPED, signal.unwrap_or(libc::SIGSTOP))
        }
        libc::WCONTINUED => (libc::CLD_CONTINUED, libc::SIGCONT),
        _ => {
            let status = ProcStat::of(child).and_then(|stat| stat.number(EXIT_CODE));
            exit_event(k, child, status.unwrap_or(0) as i32)
        }
    };
    let fields = child_siginfo(k, tid, child, happened);
    write_child_siginfo(k, tid, infop, fields, false).unwrap_or(0)
}

/// The children a wait by `idtype` and (host) `id` may report, in the order the kernel
/// looks at them: those of the calling thread, then those of the threads after it in its
/// process (unless __WNOTHREAD), each thread's oldest first.
fn children_in_wait_order(k: &Kernel, tid: Tid, idtype: i32, id: Tid, options: u64) -> Vec<Tid> {
    let group = match idtype {
        P_PID => return vec![id],
        P_PGID if id > 0 => Some(id as i64),
        P_PGID => match ProcStat::of(tid).and_then(|stat| stat.number(PGRP)) {
            Some(group) => Some(group),
            None => return Vec::new(),
        },
        _ => None,
    };
    let tgid = k.tgid_of(tid);
    let mut threads: Vec<Tid> = std::fs::read_dir(format!("/proc/{tgid}/task"))
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    if let Some(at) = threads.iter().position(|&t| t == tid) {
        threads.rotate_left(at);
    }
    if options as i32 & libc::__WNOTHREAD != 0 {
        threads = vec![tid];
    }
    let in_group = |child: Tid| match group {
        Some(group) => ProcStat::of(child).and_then(|stat| stat.number(PGRP)) == Some(group),
        None => true,
    };
    threads
        .iter()
        .filter_map(|t| crate::host::read_proc_text(format!("/proc/{tgid}/task/{t}/children")).ok())
        .flat_map(|list| {
            let children: Vec<Tid> = list
                .split_whitespace()
                .filter_map(|c| c.parse().ok())
                .collect();
            children
        })
        .filter(|&child| in_group(child))
        .collect()
}

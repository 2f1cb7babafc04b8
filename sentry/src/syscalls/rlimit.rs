//! RLIMIT_CORE, emulated: on the host every task's core limit is pinned to one byte (no core
//! file, no core_pattern helper: the host kernel writes nothing for the sandbox), and the
//! sandbox sees and sets the limit it would have, with Linux's rules. Every other resource is
//! the host kernel's. Since the host writes no core, it sets no core bit either: the sentry
//! sets it where the sandbox's own limit would have had a core written (`Kernel::task_ended`)
//! in the wait status, waitid's si_code and the SIGCHLD siginfo.

use super::{errno, Action, Call};
use crate::kernel::task::WCOREFLAG;
use crate::kernel::Kernel;
use nix::errno::Errno;
use platform_ptrace::Tid;

/// The resource the sentry keeps, for the seccomp filter's guard.
pub const RESOURCES: [u32; 1] = [libc::RLIMIT_CORE];

const CAP_SYS_RESOURCE: u32 = 24;

// RLIMIT_CORE only: the seccomp filter lets other resources through, and they pass here.
crate::syscall_entries! {
    getrlimit(resource: Int32, limit: Ptr) => Checked, |call, a| {
        if a.resource != libc::RLIMIT_CORE as i32 {
            return Ok(Action::Pass);
        }
        let limit = core_limit(call, call.tid);
        write_limit(&*call.kernel.mem, call.tid, a.limit, limit).map(|()| Action::Return(0))
    };
    setrlimit(resource: Int32, limit: Ptr) => Checked, |call, a| {
        if a.resource != libc::RLIMIT_CORE as i32 {
            return Ok(Action::Pass);
        }
        let new = read_limit(&*call.kernel.mem, call.tid, a.limit)?;
        set_core_limit(call, call.tid, new).map(|()| Action::Return(0))
    };
}

/// prlimit64(pid, RLIMIT_CORE, new, old) of `target` (a host id the caller may name).
pub fn prlimit_core(call: &mut Call, target: Tid) -> Action {
    let (new_at, old_at) = (call.args[2], call.args[3]);
    let result = (|| {
        let new = if new_at != 0 {
            Some(read_limit(&*call.kernel.mem, call.tid, new_at)?)
        } else {
            None
        };
        let old = core_limit(call, target);
        if let Some(new) = new {
            set_core_limit(call, target, new)?;
        }
        if old_at != 0 {
            write_limit(&*call.kernel.mem, call.tid, old_at, old)?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => Action::Return(0),
        Err(e) => errno(e),
    }
}

fn core_limit(call: &Call, tid: Tid) -> (u64, u64) {
    call.kernel.creds_of(tid).core_limit
}

/// Linux's rules: soft <= hard (EINVAL); raising the hard limit needs CAP_SYS_RESOURCE (EPERM).
fn set_core_limit(call: &mut Call, target: Tid, new: (u64, u64)) -> Result<(), Errno> {
    if new.0 > new.1 {
        return Err(Errno::EINVAL);
    }
    let old = core_limit(call, target);
    let caller = call.kernel.creds_of(call.tid);
    if new.1 > old.1 && !caller.capable(CAP_SYS_RESOURCE) {
        return Err(Errno::EPERM);
    }
    let tgid = call.kernel.tgid_of(target);
    for task in call.kernel.tasks.values_mut().filter(|t| t.tgid == tgid) {
        task.creds.core_limit = new;
    }
    Ok(())
}

/// A struct rlimit (rlim_cur, rlim_max: two u64) out of the task.
fn read_limit(mem: &dyn crate::host::TaskMemory, tid: Tid, at: u64) -> Result<(u64, u64), Errno> {
    let mut raw = [0u8; 16];
    mem.read(tid, at, &mut raw).map_err(|_| Errno::EFAULT)?;
    Ok((
        u64::from_ne_bytes(raw[0..8].try_into().expect("8 bytes")),
        u64::from_ne_bytes(raw[8..16].try_into().expect("8 bytes")),
    ))
}

fn write_limit(
    mem: &dyn crate::host::TaskMemory,
    tid: Tid,
    at: u64,
    limit: (u64, u64),
) -> Result<(), Errno> {
    let mut raw = limit.0.to_ne_bytes().to_vec();
    raw.extend_from_slice(&limit.1.to_ne_bytes());
    mem.write(tid, at, &raw).map_err(|_| Errno::EFAULT)
}

/// si_code of a SIGCHLD or waitid siginfo for a child killed by a signal, with and without a
/// core written.
const CLD_KILLED: i32 = 2;
const CLD_DUMPED: i32 = 3;

/// wait4 reaped (or saw) `child`: the status it wrote at `at` for the caller `tid` gets the
/// core bit if the child's core would have been written.
pub fn core_in_status(k: &Kernel, tid: Tid, child: Tid, at: u64) {
    if at == 0 || !k.dumped_core.contains(&child) {
        return;
    }
    let mut word = [0u8; 4];
    if !super::fix_read(&*k.mem, tid, at, &mut word) {
        return;
    }
    let status = i32::from_ne_bytes(word);
    // Killed by a signal: the low seven bits are the signal, neither 0 (exited) nor 0x7f
    // (stopped).
    let signaled = !matches!(status & 0x7f, 0 | 0x7f);
    if signaled && status & WCOREFLAG == 0 {
        super::fix_write(&*k.mem, tid, at, &(status | WCOREFLAG).to_ne_bytes());
    }
}

/// waitid reported `child` in the siginfo whose si_code is at `at`: CLD_DUMPED for a child
/// killed with its core written.
pub fn core_in_code(k: &Kernel, tid: Tid, child: Tid, at: u64) {
    if !k.dumped_core.contains(&child) {
        return;
    }
    let mut word = [0u8; 4];
    if super::fix_read(&*k.mem, tid, at, &mut word) && i32::from_ne_bytes(word) == CLD_KILLED {
        super::fix_write(&*k.mem, tid, at, &CLD_DUMPED.to_ne_bytes());
    }
}

/// A SIGCHLD siginfo (`info`) about host child `child`: CLD_DUMPED for a child killed with its
/// core written. True when it changed.
pub fn core_in_sigchld(k: &Kernel, child: Tid, info: &mut [u8; 128]) -> bool {
    let code = i32::from_ne_bytes(info[8..12].try_into().expect("4 bytes"));
    if code != CLD_KILLED || !k.dumped_core.contains(&child) {
        return false;
    }
    info[8..12].copy_from_slice(&CLD_DUMPED.to_ne_bytes());
    true
}

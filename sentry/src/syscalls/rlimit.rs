//! RLIMIT_CORE, emulated: on the host every task's core limit is pinned to one byte (no core
//! file, no core_pattern helper: the host kernel writes nothing for the sandbox), and the
//! sandbox sees and sets the limit it would have, with Linux's rules. Every other resource is
//! the host kernel's.

use super::{errno, Action, Call};
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

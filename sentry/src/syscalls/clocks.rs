//! CPU-time clocks of processes and threads (clock_getcpuclockid, pthread_getcpuclockid):
//! their clock ids carry a pid or tid, which the sandbox knows by its own number. The id is
//! translated to the host's; one that names no task of the sandbox is EINVAL, as Linux says of
//! a pid that does not exist. Without this, the host kernel read the sandbox's number as a host
//! pid, and CPU times of host processes reached the sandbox.

use super::{errno, Action, Call};
use nix::errno::Errno;

/// The low three bits of a CPU clock id: which clock, and whether it is a thread's.
const CPUCLOCK_PERTHREAD: i32 = 4;
const CLOCKFD: i32 = 3;

// They stop only for CPU clocks of other tasks (see `filter`).
crate::syscall_entries! {
    clock_gettime(clock: Int32, time: Ptr) => Checked, |call, a| cpu_clock(call, a.clock);
    clock_getres(clock: Int32, resolution: Ptr) => Checked, |call, a| cpu_clock(call, a.clock);
    clock_nanosleep(clock: Int32, flags: Hex, request: Ptr, remain: Ptr) => Checked,
        |call, a| cpu_clock(call, a.clock);
    timer_create(clock: Int32, event: Ptr, timer: Ptr) => Checked,
        |call, a| cpu_clock(call, a.clock);
}

/// A call whose first argument is `clock`, rewritten with the host's id for it.
fn cpu_clock(call: &mut Call, clock: i32) -> Action {
    if clock >= 0 || clock & 7 == CLOCKFD {
        // A fixed clock, or a clock of an fd the task holds.
        return Action::Pass;
    }
    let id = !(clock >> 3);
    if id == 0 {
        // The caller itself.
        return Action::Pass;
    }
    let Some(host) = call.kernel.translate(call.tid, id) else {
        return errno(Errno::EINVAL);
    };
    if clock & CPUCLOCK_PERTHREAD == 0 && call.kernel.tgid_of(host) != host {
        // A process clock must name a process, not one of its threads.
        return errno(Errno::EINVAL);
    }
    let mut args = call.args;
    args[0] = ((!host) << 3 | (clock & 7)) as u32 as u64;
    Action::PassWith(args)
}

#[cfg(test)]
mod tests {
    #[test]
    fn clock_ids_encode_as_linux_does() {
        // MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED) and its thread variant.
        let make = |pid: i32, low: i32| (!pid) << 3 | low;
        assert_eq!(!(make(1234, 2) >> 3), 1234);
        assert_eq!(make(1234, 6) & 7, 6);
        assert!(make(1, 2) < 0);
    }
}

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
        |call, a| timer_create(call, a.clock, a.event);
}

/// struct sigevent's length, and where sigev_notify and sigev_notify_thread_id lie in it.
const SIGEVENT: usize = 64;
const SIGEV_NOTIFY: usize = 12;
const SIGEV_THREAD_ID_AT: usize = 16;
const SIGEV_THREAD_ID: i32 = 4;

/// timer_create: a CPU clock's id (as for the other clock calls), and a SIGEV_THREAD_ID
/// event's thread, which the kernel looks up among the host's ids (glibc's SIGEV_THREAD
/// timers name their helper thread so; with the sandbox's number the kernel found no such
/// thread: EINVAL). The event is read once; with a thread it goes to the kernel with the
/// host's id of that thread where no other task can read it (`Action::PassWithHostBytes`).
/// A thread that is not the sandbox's is EINVAL, as a thread outside the caller's process
/// is (the kernel checks that the thread is the caller's process's).
fn timer_create(call: &mut Call, clock: i32, event: u64) -> Action {
    let action = cpu_clock(call, clock);
    let args = match action {
        Action::Pass => call.args,
        Action::PassWith(args) => args,
        refused => return refused,
    };
    let mut own = vec![0u8; SIGEVENT];
    if event == 0 || call.kernel.mem.read(call.tid, event, &mut own).is_err() {
        // No event, or one the kernel fails to read as well (EFAULT).
        return action;
    }
    let word = |at: usize| i32::from_ne_bytes(own[at..at + 4].try_into().expect("4 bytes"));
    if word(SIGEV_NOTIFY) & SIGEV_THREAD_ID == 0 {
        return action;
    }
    let Some(thread) = call.kernel.translate(call.tid, word(SIGEV_THREAD_ID_AT)) else {
        return errno(Errno::EINVAL);
    };
    let mut host = own.clone();
    host[SIGEV_THREAD_ID_AT..SIGEV_THREAD_ID_AT + 4].copy_from_slice(&thread.to_ne_bytes());
    Action::PassWithHostBytes {
        args,
        arg: 1,
        host,
        own,
    }
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

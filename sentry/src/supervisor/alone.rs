//! A call that reads a host id from the caller's memory (`Action::PassWithHostBytes`:
//! TIOCSPGRP takes its group from there, timer_create its thread) runs while no task of the
//! sandbox can read it.
//!
//! Every other task that shares the caller's address space (its threads, CLONE_VM children,
//! a vfork parent; the kernel says which, by kcmp) is interrupted (PTRACE_INTERRUPT) before
//! the bytes are written. From then on such a task cannot run an instruction of its own
//! without a ptrace stop first: the interrupt is pending until it stops, and every way back
//! to user space passes the check for it. Only a task running on another CPU at that moment
//! may go on until the interrupt reaches it: the sentry waits for the stop of each task the
//! host shows running. The stops of those tasks are held until the caller's exit stop has
//! put its own bytes back (or the caller has died and they were put back through another
//! task of that address space). The bytes lie in a private mapping
//! (`syscalls::place_host_bytes`), so no other process sees them either.

use super::*;

/// A call in flight with a host id in the caller's memory.
pub(super) struct AloneCall {
    /// The tasks that share the caller's memory.
    sharers: Vec<Tid>,
    /// Where the host's id is, and the caller's own bytes that go back there.
    at: u64,
    own: Vec<u8>,
    /// Stops of those tasks, served once the call is over.
    held: Vec<(Stopped, Stop)>,
}

const KCMP_VM: libc::c_long = 1;

/// Whether tasks `a` and `b` use one address space; an error (one of them is gone, or is not
/// ours to look at) counts as yes.
fn same_memory(a: Tid, b: Tid) -> bool {
    // SAFETY: kcmp takes plain integers and compares two tasks' mm; it reads no memory of ours.
    let rc = unsafe { libc::syscall(libc::SYS_kcmp, a, b, KCMP_VM, 0, 0) };
    rc != 1 && rc != 2
}

impl Supervisor {
    /// The task at `stopped` asked for a call that reads `host` (its `own` bytes with a host
    /// id in) at `addr`: the other tasks of its address space are stopped and the bytes are
    /// placed. Where they were placed (the call's argument from now on), or the errno of
    /// bytes with no private place (nothing was written).
    pub(super) fn alone_with_host_bytes(
        &mut self,
        stopped: &Stopped,
        addr: u64,
        host: &[u8],
        own: Vec<u8>,
    ) -> Result<std::result::Result<u64, Errno>> {
        let tid = stopped.tid();
        let sp = stopped.regs()?.sp();
        let sharers = self.stop_sharers(tid);
        let at = match syscalls::place_host_bytes(&*self.kernel.mem, tid, addr, sp, host) {
            Ok(at) => at,
            Err(e) => {
                // The stopped tasks go on from their interrupts.
                self.held_for.retain(|_, caller| *caller != tid);
                return Ok(Err(e));
            }
        };
        self.alone.insert(
            tid,
            AloneCall {
                sharers,
                at,
                own,
                held: Vec::new(),
            },
        );
        Ok(Ok(at))
    }

    /// Interrupts every task sharing `caller`'s address space and waits for the stop of
    /// each the host shows running; the tasks interrupted. Their events are served in turn,
    /// held while a call of `caller` runs alone.
    fn stop_sharers(&mut self, caller: Tid) -> Vec<Tid> {
        let sharers: Vec<Tid> = self
            .kernel
            .tasks
            .keys()
            .copied()
            .filter(|&t| t != caller && same_memory(caller, t))
            // A task that is gone already has its exit event coming.
            .filter(|&t| platform_ptrace::interrupt(t).is_ok())
            .collect();
        for &sharer in &sharers {
            // Only a task the host shows running (or runnable) may be in user space.
            if crate::host::task_state(sharer) != Some('R') {
                // In the kernel (or stopped): it stops before it returns to user space.
                continue;
            }
            match platform_ptrace::wait_for(sharer) {
                Ok(Some(event)) => self.waited.push_back(event),
                Ok(None) => {}
                Err(e) => tracing::debug!(target: "sentry::stops", "waiting for {sharer}: {e}"),
            }
        }
        for &sharer in &sharers {
            self.held_for.insert(sharer, caller);
        }
        tracing::debug!(
            target: "sentry::stops",
            "{caller}: {} other tasks share its memory, held over its call",
            sharers.len()
        );
        sharers
    }

    /// A stop of a task held while a call of another runs alone is kept for later; any
    /// other comes back.
    pub(super) fn hold_if_sharer(
        &mut self,
        stopped: Stopped,
        stop: Stop,
    ) -> Option<(Stopped, Stop)> {
        // Every stop comes here; nearly always no call is running alone.
        if self.held_for.is_empty() {
            return Some((stopped, stop));
        }
        let tid = stopped.tid();
        let Some(call) = self
            .held_for
            .get(&tid)
            .and_then(|caller| self.alone.get_mut(caller))
        else {
            return Some((stopped, stop));
        };
        call.held.push((stopped, stop));
        // Stopped, as far as a freeze is concerned.
        self.freeze_progress(Some(tid));
        None
    }

    /// Whether `tid` is held while another task's call runs alone.
    pub(super) fn held_for_alone_call(&self, tid: Tid) -> bool {
        self.held_for.contains_key(&tid)
    }

    /// The call of `caller` is over: its own bytes go back (written as the host's were: the
    /// page may be read-only to the task), and the tasks it held go on.
    pub(super) fn alone_call_over(&mut self, caller: Tid) {
        // Every exit stop comes here; nearly always no call is running alone.
        if self.alone.is_empty() {
            return;
        }
        let Some(call) = self.alone.remove(&caller) else {
            return;
        };
        if self
            .kernel
            .mem
            .write_forced(caller, call.at, &call.own)
            .is_err()
        {
            syscalls::fixup_failed(caller);
        }
        self.release(call);
    }

    /// The tasks a call held go on, their stops served first.
    fn release(&mut self, call: AloneCall) {
        for sharer in &call.sharers {
            self.held_for.remove(sharer);
        }
        for (stopped, stop) in call.held.into_iter().rev() {
            self.waited.push_front(Event::Stopped(stopped, stop));
        }
    }

    /// Task `tid` ended. The caller of a call running alone: its own bytes go back through
    /// another task of its address space, if any is left, before they go on. A held task:
    /// its stops are dropped.
    pub(super) fn alone_task_ended(&mut self, tid: Tid) {
        if let Some(call) = self.alone.remove(&tid) {
            for &sharer in &call.sharers {
                if self
                    .kernel
                    .mem
                    .write_forced(sharer, call.at, &call.own)
                    .is_ok()
                {
                    break;
                }
            }
            self.release(call);
        }
        if let Some(caller) = self.held_for.remove(&tid) {
            if let Some(call) = self.alone.get_mut(&caller) {
                call.held.retain(|(stopped, _)| stopped.tid() != tid);
                call.sharers.retain(|&t| t != tid);
            }
        }
    }

    /// Every held task goes on (the sandbox is ending).
    pub(super) fn release_all_alone_calls(&mut self) {
        let calls: Vec<AloneCall> = self.alone.drain().map(|(_, call)| call).collect();
        for call in calls {
            self.release(call);
        }
    }
}

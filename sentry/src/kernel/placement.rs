//! Where tasks run: a task that meets the sentry often is held to the sentry's CPU.
//!
//! Every ptrace stop wakes the sentry and then, when it resumes the task, the task: two
//! wake-ups that cross CPUs when the two sleep on different ones, and on this project's VM
//! waking a halted vCPU costs tens of microseconds, against a few for a wake-up on the CPU
//! one runs on. A shell's loop of forks, execs and waits is made of such stops. An fd
//! installed at a notification (SECCOMP_IOCTL_NOTIF_ADDFD) is such a pair too: the kernel
//! wakes the task to take the fd (an ordinary wake-up, not the notification's synchronous
//! one), and the task wakes the sentry, which waits for it. So a task that meets the sentry
//! so often ([`EXCHANGES_TO_HOLD`] times within [`HOLD_FOR`]) is held (with the sentry) to
//! the CPU the sentry serves it on, and let go once it has not met it for [`HOLD_FOR`]: a
//! task that computes is not kept from the other CPUs for longer than that. A task made by
//! a held one starts held (it inherits the one-CPU affinity) and gets its creator's own
//! affinity back when let go. What the sandbox asks of affinities (sched_getaffinity,
//! sched_setaffinity) lets the task go first, so it sees and sets its own. A task is also
//! held over a call whose steps are each a ptrace stop (an exec's), until the call ends.
//! A process the sentry starts (the sandbox's first, an OCI exec's) is held from its start:
//! its exec and the loader's calls come one after the other, and it is let go as any other
//! once it meets the sentry no more.

use hashbrown::HashMap;
use platform_ptrace::notify::HeldCpu;
use platform_ptrace::Tid;
use std::time::{Duration, Instant};

/// How many stops or fd installs within [`HOLD_FOR`] make a task one to hold. A held task
/// waits for the sentry to finish its own work after each answer before it runs again
/// (they share a CPU): for a task that stops now and then that costs more than the
/// wake-ups it saves (`sentry run / true` took 2.5 ms longer when every task a process
/// made was held from its first stop).
const EXCHANGES_TO_HOLD: u32 = 12;

/// How long a held task stays held without a stop or an fd install.
pub const HOLD_FOR: Duration = Duration::from_millis(4);

/// A task let go this soon after another was moved off the sentry's CPU stays on it.
const MOVED_RECENTLY: Duration = Duration::from_millis(20);

/// The tasks held to the sentry's CPU.
#[derive(Default)]
pub struct Holds {
    /// Off: no task is held for its stops and installs (under `--strace`, or without the
    /// notification path); a call's hold still is.
    pub enabled: bool,
    tasks: HashMap<Tid, Held>,
    /// Tasks not held yet: their stops and installs so far, and when the first came.
    exchanging: HashMap<Tid, (u32, Instant)>,
    /// When a task let go was last moved off the sentry's CPU.
    last_moved: Option<Instant>,
}

struct Held {
    cpu: HeldCpu,
    /// The time of its last stop or install.
    last: Instant,
    /// Held over one call (an exec's steps, each a stop) until [`Holds::call_ended`],
    /// whatever its stops; otherwise for its stops and installs, until they end.
    over_call: bool,
}

impl Holds {
    /// Task `tid` stopped, or is given an fd at a notification: held once that happens
    /// often, then for [`HOLD_FOR`] at least.
    pub fn exchanged(&mut self, tid: Tid) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        match self.tasks.get_mut(&tid) {
            Some(held) if !held.over_call => {
                held.last = now;
                return;
            }
            _ => {}
        }
        let (count, since) = self.exchanging.entry(tid).or_insert((0, now));
        if now.duration_since(*since) > HOLD_FOR {
            (*count, *since) = (0, now);
        }
        *count += 1;
        if *count < EXCHANGES_TO_HOLD {
            return;
        }
        self.exchanging.remove(&tid);
        if self.tasks.contains_key(&tid) {
            return; // held over its call already
        }
        if let Some(cpu) = HeldCpu::hold(tid) {
            self.insert(tid, cpu, false);
        }
    }

    /// Holds task `tid`, a process the sentry started, from its start: as a task that met
    /// the sentry often, let go once it meets it no more.
    pub fn hold_from_start(&mut self, tid: Tid) {
        if !self.enabled {
            return;
        }
        if let Some(cpu) = HeldCpu::hold(tid) {
            self.insert(tid, cpu, false);
        }
    }

    /// Holds task `tid` over the call it is in (each of whose steps is a ptrace stop), unless
    /// it is held already, until [`Holds::call_ended`].
    pub fn hold_over_call(&mut self, tid: Tid) {
        if self.tasks.contains_key(&tid) {
            return;
        }
        if let Some(cpu) = HeldCpu::hold(tid) {
            self.insert(tid, cpu, true);
        }
    }

    /// A call of task `tid` ended: if the task was held over it, it gets its own affinity
    /// back (a task held for its stops and installs stays held).
    pub fn call_ended(&mut self, tid: Tid) {
        if self.tasks.get(&tid).is_some_and(|held| held.over_call) {
            self.let_go(tid);
        }
    }

    fn insert(&mut self, tid: Tid, cpu: HeldCpu, over_call: bool) {
        let last = Instant::now();
        let held = Held {
            cpu,
            last,
            over_call,
        };
        self.tasks.insert(tid, held);
    }

    /// Task `child` was made by `parent`: if the parent is held for its stops, so is the
    /// child.
    pub fn born(&mut self, parent: Tid, child: Tid) {
        let Some(held) = self.tasks.get(&parent).filter(|held| !held.over_call) else {
            return;
        };
        if let Some(inherited) = HeldCpu::inherited(child, held.cpu.task_set()) {
            self.insert(child, inherited, false);
        }
    }

    /// A thread that exec'd goes on under its leader's id, `tid` (the leader is gone): what
    /// was held of it is held under that id.
    pub fn renamed(&mut self, former: Tid, tid: Tid) {
        self.exchanging.remove(&former);
        if let Some(held) = self.tasks.remove(&former) {
            self.gone(tid);
            let cpu = held.cpu.renamed(tid);
            self.tasks.insert(tid, Held { cpu, ..held });
        }
    }

    /// Task `tid` is gone: nothing of it is held (its id may be another's by now).
    pub fn gone(&mut self, tid: Tid) {
        self.exchanging.remove(&tid);
        if let Some(held) = self.tasks.remove(&tid) {
            held.cpu.release(false);
        }
    }

    /// Lets task `tid` go now, with its own affinity back.
    pub fn let_go(&mut self, tid: Tid) {
        if let Some(held) = self.tasks.remove(&tid) {
            held.cpu.release(true);
        }
    }

    /// What the sandbox asks of task `tid`'s affinity: a task held for its stops is let go
    /// first, so that the call shows and sets its own.
    pub fn asked(&mut self, tid: Tid) {
        if self.tasks.get(&tid).is_some_and(|held| !held.over_call) {
            self.let_go(tid);
        }
    }

    /// The affinity task `tid` has of its own, while it is held for its stops.
    pub fn own_set(&self, tid: Tid) -> Option<libc::cpu_set_t> {
        let held = self.tasks.get(&tid).filter(|held| !held.over_call)?;
        Some(held.cpu.task_set())
    }

    /// Lets go every task held for its stops and installs that had none for [`HOLD_FOR`];
    /// returns how long until the next one is due (None: none held).
    pub fn let_go_idle(&mut self) -> Option<Duration> {
        if self.tasks.is_empty() {
            return None;
        }
        let now = Instant::now();
        let idle = |held: &Held| !held.over_call && now.duration_since(held.last) >= HOLD_FOR;
        // Called at every turn of the supervisor's loop: nothing is collected unless due.
        if self.tasks.values().any(idle) {
            let due: Vec<Tid> = self
                .tasks
                .iter()
                .filter(|(_, held)| idle(held))
                .map(|(tid, _)| *tid)
                .collect();
            for tid in due {
                let Some(held) = self.tasks.remove(&tid) else {
                    continue;
                };
                // It may compute from now on: off the sentry's CPU, unless another went
                // there just before (two busy tasks would only have swapped CPUs).
                if self
                    .last_moved
                    .is_some_and(|t| now.duration_since(t) < MOVED_RECENTLY)
                {
                    held.cpu.release(true);
                } else {
                    held.cpu.release_elsewhere();
                    self.last_moved = Some(now);
                }
            }
        }
        self.tasks
            .values()
            .filter(|held| !held.over_call)
            .map(|held| HOLD_FOR.saturating_sub(now.duration_since(held.last)))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::Holds;

    fn affinity(tid: i32) -> usize {
        // SAFETY: an all-zero cpu_set_t is an empty set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: the set is ours and `size` bytes long.
        assert_eq!(unsafe { libc::sched_getaffinity(tid, size, &mut set) }, 0);
        // SAFETY: CPU_COUNT only reads the set.
        unsafe { libc::CPU_COUNT(&set) as usize }
    }

    /// A task held when it stops often; one it makes is held with it and gets its creator's own
    /// affinity back; a task let go shows its own again, and so does the sentry once
    /// nothing is held.
    #[test]
    fn stops_hold_and_children_inherit() {
        let cpus = affinity(0);
        if cpus < 2 {
            return; // nothing to hold on one CPU
        }
        let parked = test_support::ParkedThreads::new(2);
        let (parent, child) = (parked.tids[0], parked.tids[1]);
        let mut holds = Holds {
            enabled: true,
            ..Default::default()
        };
        for _ in 1..super::EXCHANGES_TO_HOLD {
            holds.exchanged(parent);
        }
        assert_eq!(affinity(parent), cpus, "not held for a stop or two");
        holds.exchanged(parent);
        assert_eq!(affinity(parent), 1, "held");
        assert_eq!(affinity(0), 1, "the sentry with it");
        // As a fork by a held task leaves its child: on the one CPU, inherited.
        // SAFETY: an all-zero cpu_set_t is an empty set.
        let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: the set is ours and `size` bytes long.
        unsafe {
            libc::sched_getaffinity(parent, size, &mut one);
            libc::sched_setaffinity(child, size, &one);
        }
        holds.born(parent, child);
        // SAFETY: CPU_COUNT only reads the set.
        let own = holds
            .own_set(child)
            .map(|s| unsafe { libc::CPU_COUNT(&s) as usize });
        assert_eq!(
            own,
            Some(cpus),
            "what the child gets back is its creator's own"
        );
        holds.let_go(parent);
        assert_eq!(affinity(parent), cpus);
        assert_eq!(affinity(0), 1, "still held for the child");
        holds.let_go(child);
        assert_eq!(affinity(child), cpus);
        assert_eq!(affinity(0), cpus, "nothing held: the sentry goes free");
        assert_eq!(holds.let_go_idle(), None);
    }

    /// A process the sentry starts is held from its start, as one held for its stops: what
    /// the sandbox asks of its affinity lets it go first.
    #[test]
    fn started_processes_are_held_from_their_start() {
        let cpus = affinity(0);
        if cpus < 2 {
            return; // nothing to hold on one CPU
        }
        let parked = test_support::ParkedThreads::new(1);
        let task = parked.tids[0];
        let mut holds = Holds::default();
        holds.hold_from_start(task);
        assert_eq!(affinity(task), cpus, "nothing is held while holds are off");
        holds.enabled = true;
        holds.hold_from_start(task);
        assert_eq!(affinity(task), 1, "held from its start");
        assert_eq!(affinity(0), 1, "the sentry with it");
        holds.asked(task);
        assert_eq!(affinity(task), cpus, "let go when the sandbox asks");
        assert_eq!(affinity(0), cpus);
    }
}

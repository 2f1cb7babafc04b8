//! Memory accounting: the sandbox's committed memory, charged before the host
//! allocates it, per address space (mm) and for the whole sandbox.
//!
//! What is charged, like Linux's strict commit accounting: private writable anonymous
//! mappings (and private anonymous ones made writable by mprotect), shared anonymous
//! mappings, brk growth, SysV shm segments, memfd sizes (see "memfds" below). File-backed private mappings are charged only
//! as they become resident (the RSS sample of `limits`), and so are pages outside every
//! accounted call (page cache, the image the kernel loaded at execve).
//!
//! Each mm keeps its own interval map of the ranges it mapped, so munmap, shrinking mremap,
//! brk decrease and mprotect know exactly what they touch; execve and exit drop the map and
//! release its whole charge. fork copies the parent's map and charges the copy (as Linux
//! does for private writable mappings); threads and CLONE_VM children share the mm.
//!
//! memfds: a memfd is one object however many fds and mappings refer to it, so its charge
//! belongs to the sandbox, keyed by its inode (st_dev, st_ino), not to an mm. A memfd is
//! tracked from its memfd_create (or, for one the sentry had forgotten, from its next
//! ftruncate or fallocate); its charge is max(st_size rounded up to pages, st_blocks * 512),
//! as of the last time the sentry looked at it. ftruncate growth past the hard limit fails
//! with ENOMEM, fallocate growth with ENOSPC (what a full tmpfs gives). Growth by write(2)
//! past the end is not stopped (every write would have to stop at the sentry): it is
//! charged, without a limit check, the next time the sentry looks. The sentry cannot see a
//! memfd's reference count: it looks for holders (an entry of /proc/TID/fd or a mapping in
//! /proc/TID/maps of any sandbox task) after close or close_range of a tracked memfd, after
//! munmap when a tracked memfd was held only by mappings, at execve, at process exit,
//! before refusing any charge and at sysinfo; a memfd nobody holds is released then.
//! Every task's fd table is walked (a thread may have its own). The gap is a reference the
//! sentry cannot see, an fd in flight in an AF_UNIX message: such a memfd is released early
//! and charged again at its next ftruncate or fallocate.

use super::sockets::{self, SockIno};
use super::watch::{Watch, SAMPLE_PERIOD};
use crate::config::{Limits, OomMode};
use crate::events::Events;
use hashbrown::{HashMap, HashSet};
use platform_ptrace::Tid;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub const PAGE: u64 = 4096;

pub fn page_up(x: u64) -> Option<u64> {
    x.checked_add(PAGE - 1).map(|v| v & !(PAGE - 1))
}

/// One mapped range the sentry saw created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seg {
    pub end: u64,
    /// Anonymous (MAP_ANONYMOUS) memory.
    pub anon: bool,
    /// MAP_SHARED.
    pub shared: bool,
    /// This range's bytes are in the charge of its mm.
    pub charged: bool,
}

/// An address space: its mapped ranges and what it is charged.
#[derive(Debug, Default, Clone)]
pub struct Mm {
    ranges: BTreeMap<u64, Seg>,
    /// Everything this mm is charged: charged ranges + brk + reservations of calls in flight.
    pub charged: u64,
    /// The break where charging starts (the first break the sentry saw) and the current one.
    pub brk_base: Option<u64>,
    pub brk: Option<u64>,
    /// Bytes of the heap (brk_base..brk, page-rounded) in the charge.
    pub brk_charged: u64,
    /// Processes using this mm (a vfork or CLONE_VM child shares its parent's).
    users: usize,
}

impl Mm {
    /// Splits the segment containing `at` (if any) so that a segment starts at `at`.
    fn split_at(&mut self, at: u64) {
        let found = self
            .ranges
            .range(..at)
            .next_back()
            .map(|(&s, &seg)| (s, seg));
        if let Some((start, seg)) = found {
            if start < at && seg.end > at {
                self.ranges.insert(start, Seg { end: at, ..seg });
                self.ranges.insert(at, seg);
            }
        }
    }

    /// The segments inside [start, end), split at the bounds.
    fn take(&mut self, start: u64, end: u64) -> Vec<(u64, Seg)> {
        if start >= end {
            return Vec::new();
        }
        self.split_at(start);
        self.split_at(end);
        let keys: Vec<u64> = self.ranges.range(start..end).map(|(&k, _)| k).collect();
        keys.into_iter()
            .filter_map(|k| self.ranges.remove(&k).map(|seg| (k, seg)))
            .collect()
    }

    /// Removes [start, end) from the map; returns the charged bytes it held.
    pub fn remove(&mut self, start: u64, end: u64) -> u64 {
        self.take(start, end)
            .iter()
            .filter(|(_, s)| s.charged)
            .map(|(k, s)| s.end - k)
            .sum()
    }

    /// Charged bytes within [start, end), without changing anything.
    pub fn charged_in(&self, start: u64, end: u64) -> u64 {
        let mut total = 0;
        let first = self
            .ranges
            .range(..start)
            .next_back()
            .map(|(&k, &s)| (k, s));
        for (k, s) in first
            .into_iter()
            .chain(self.ranges.range(start..end).map(|(&k, &s)| (k, s)))
        {
            if s.charged {
                let lo = k.max(start);
                let hi = s.end.min(end);
                total += hi.saturating_sub(lo);
            }
        }
        total
    }

    /// The segment containing `addr`.
    pub fn seg_at(&self, addr: u64) -> Option<(u64, Seg)> {
        self.ranges
            .range(..=addr)
            .next_back()
            .filter(|(_, s)| s.end > addr)
            .map(|(&k, &s)| (k, s))
    }

    /// Private anonymous, uncharged bytes in [start, end): what mprotect(PROT_WRITE) would charge.
    pub fn chargeable_in(&self, start: u64, end: u64) -> u64 {
        let first = self
            .ranges
            .range(..start)
            .next_back()
            .map(|(&k, &s)| (k, s));
        first
            .into_iter()
            .chain(self.ranges.range(start..end).map(|(&k, &s)| (k, s)))
            .filter(|(_, s)| s.anon && !s.shared && !s.charged)
            .map(|(k, s)| s.end.min(end).saturating_sub(k.max(start)))
            .sum()
    }

    /// Marks the private anonymous ranges in [start, end) charged; returns the bytes newly charged.
    pub fn mark_charged(&mut self, start: u64, end: u64) -> u64 {
        let mut added = 0;
        for (k, mut s) in self.take(start, end) {
            if s.anon && !s.shared && !s.charged {
                s.charged = true;
                added += s.end - k;
            }
            self.ranges.insert(k, s);
        }
        added
    }

    /// Inserts a range (the caller removed what it overlapped).
    pub fn insert(&mut self, start: u64, seg: Seg) {
        if seg.end > start {
            self.ranges.insert(start, seg);
        }
    }

    /// The sum of the charged ranges (for checks).
    pub fn ranges_charged(&self) -> u64 {
        self.ranges
            .iter()
            .filter(|(_, s)| s.charged)
            .map(|(k, s)| s.end - k)
            .sum()
    }

    /// A copy for a forked child: private charged ranges stay charged; shared anonymous
    /// ranges are the parent's charge (one object, mapped twice).
    fn fork_copy(&self) -> Mm {
        let mut ranges = self.ranges.clone();
        for seg in ranges.values_mut() {
            if seg.shared {
                seg.charged = false;
            }
        }
        let mut mm = Mm {
            ranges,
            charged: 0,
            brk_base: self.brk_base,
            brk: self.brk,
            brk_charged: self.brk_charged,
            users: 1,
        };
        mm.charged = mm.ranges_charged() + mm.brk_charged;
        mm
    }
}

type MmId = u64;

/// A memfd's identity: (st_dev, st_ino).
pub type Inode = (u64, u64);

/// A tracked memfd.
#[derive(Debug, Default, Clone, Copy)]
struct Memfd {
    /// Bytes in the sandbox's charge.
    charged: u64,
    /// At the last look, only mappings held it (no fd): munmap may release it.
    mapped_only: bool,
}

/// Why a charge was refused: with `kill` (--oom=kill) the process `tgid` must die.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub kill: bool,
    pub tgid: Tid,
}

/// The accounting tables of the sandbox.
#[derive(Default)]
pub struct MemoryTable {
    pub limits: Limits,
    mms: HashMap<MmId, Mm>,
    /// Process (thread-group id) → its mm.
    procs: HashMap<Tid, MmId>,
    next_id: MmId,
    /// Committed memory of the whole sandbox.
    pub charged: u64,
    pub peak: u64,
    /// Above the soft limit (an event was emitted; re-armed when the charge goes back down).
    above_soft: bool,
    /// SysV shm segments the sandbox created: id → charged bytes.
    shm: HashMap<i32, u64>,
    /// memfds the sandbox holds: inode → charge.
    memfds: HashMap<Inode, Memfd>,
    /// Sockets the sandbox created, each charged the most its buffers can hold.
    sockets: HashMap<SockIno, sockets::Charged>,
    /// Tasks inside a clone/fork/vfork call whose new task is not in the tables yet.
    pub clones_in_flight: HashSet<Tid>,
    /// Shared with the watcher thread, when one runs.
    pub watch: Option<Arc<Watch>>,
    /// Where limit events go.
    events: Arc<Events>,
    last_poke: Option<std::time::Instant>,
}

impl MemoryTable {
    pub fn new(limits: Limits, watch: Option<Arc<Watch>>, events: Arc<Events>) -> Self {
        MemoryTable {
            limits,
            watch,
            events,
            ..Default::default()
        }
    }

    pub fn active(&self) -> bool {
        self.limits.accounts_memory()
    }

    fn mm_id(&mut self, tgid: Tid) -> MmId {
        if let Some(&id) = self.procs.get(&tgid) {
            return id;
        }
        let id = self.new_mm(Mm::default());
        self.procs.insert(tgid, id);
        id
    }

    fn new_mm(&mut self, mut mm: Mm) -> MmId {
        self.next_id += 1;
        mm.users = 1;
        self.mms.insert(self.next_id, mm);
        self.next_id
    }

    /// The mm of process `tgid` (created empty if the sentry has not seen it yet).
    pub fn mm(&mut self, tgid: Tid) -> &mut Mm {
        let id = self.mm_id(tgid);
        self.mms.entry(id).or_default()
    }

    /// Charges `bytes` to `tgid`'s mm, unless the hard limit would be crossed. `tid` is only
    /// for events: the number the sandbox knows the caller by.
    pub fn try_charge(&mut self, tgid: Tid, tid: Tid, bytes: u64) -> Result<(), Refused> {
        if bytes == 0 {
            return Ok(());
        }
        if let Some(limit) = self.limits.memory {
            if self.charged.saturating_add(bytes) > limit {
                return Err(self.refuse(tgid, tid, bytes, limit));
            }
        }
        self.force_charge(tgid, tid, bytes);
        Ok(())
    }

    fn refuse(&mut self, tgid: Tid, tid: Tid, bytes: u64, limit: u64) -> Refused {
        let kill = self.limits.oom == OomMode::Kill;
        let charged = self.charged;
        if kill {
            self.events.emit(
                "memory_oom_kill",
                crate::event_fields!(
                    "pid": tid, "reason": "limit", "request": bytes,
                    "charged": charged, "limit": limit
                ),
                Some(&format!(
                    "memory: [pid {tid}] killed: {bytes} more bytes would cross the limit ({charged} of {limit} charged)"
                )),
            );
        } else {
            tracing::info!(
                target: "sentry::memory",
                "sentry: memory: [pid {tid}] ENOMEM: {bytes} more bytes would cross the limit ({charged} of {limit} charged)"
            );
        }
        Refused { kill, tgid }
    }

    /// Whether `bytes` more fit under the hard limit.
    pub fn fits(&self, bytes: u64) -> bool {
        self.limits
            .memory
            .is_none_or(|limit| self.charged.saturating_add(bytes) <= limit)
    }

    /// Reserves `bytes` for the sandbox as a whole (not an mm), unless the hard limit
    /// would be crossed: a memfd growing. `tgid` dies with --oom=kill.
    pub fn try_reserve(&mut self, tgid: Tid, tid: Tid, bytes: u64) -> Result<(), Refused> {
        if let Some(limit) = self.limits.memory {
            if bytes > 0 && self.charged.saturating_add(bytes) > limit {
                return Err(self.refuse(tgid, tid, bytes, limit));
            }
        }
        self.add_total(bytes as i64, tid);
        Ok(())
    }

    pub fn has_memfds(&self) -> bool {
        !self.memfds.is_empty()
    }

    pub fn tracks_memfd(&self, ino: Inode) -> bool {
        self.memfds.contains_key(&ino)
    }

    /// Whether a tracked memfd was held only by mappings at the last look.
    pub fn memfd_mapped_only(&self) -> bool {
        self.memfds.values().any(|m| m.mapped_only)
    }

    /// The memfd `ino` is charged `bytes` now (tracked from now on if it was not).
    pub fn memfd_set(&mut self, tid: Tid, ino: Inode, bytes: u64) {
        if let Some(watch) = &self.watch {
            watch
                .memfds_seen
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let m = self.memfds.entry(ino).or_default();
        let before = m.charged;
        m.charged = bytes;
        m.mapped_only = false;
        self.add_total(bytes as i64 - before as i64, tid);
    }

    /// The end of a call that reserved `reserved` for the memfd `ino`: the memfd is charged
    /// `now` (None: unknown, it keeps its charge) and the reservation goes, in one step (the
    /// total neither peaks above nor dips below where it ends).
    pub fn memfd_settle(&mut self, tid: Tid, ino: Inode, now: Option<u64>, reserved: u64) {
        let mut delta = -(reserved as i64);
        if let (Some(now), Some(m)) = (now, self.memfds.get_mut(&ino)) {
            delta += now as i64 - m.charged as i64;
            m.charged = now;
            m.mapped_only = false;
        }
        self.add_total(delta, tid);
    }

    /// The memfd `ino` has no holder left: its charge is released.
    pub fn memfd_release(&mut self, tid: Tid, ino: Inode) {
        if let Some(m) = self.memfds.remove(&ino) {
            self.add_total(-(m.charged as i64), tid);
            tracing::debug!(
                target: "sentry::memory",
                "sentry: memory: memfd {ino:?} released ({} bytes), sandbox charged {}",
                m.charged,
                self.charged
            );
        }
    }

    pub fn has_sockets(&self) -> bool {
        !self.sockets.is_empty()
    }

    pub fn tracks_socket(&self, ino: SockIno) -> bool {
        self.sockets.contains_key(&ino)
    }

    /// The socket `ino` is charged as `charged` says from now on; `reserved` (taken
    /// when the call that made it began) goes in the same step.
    pub fn socket_set(&mut self, tid: Tid, ino: SockIno, charged: sockets::Charged, reserved: u64) {
        let before = self.sockets.insert(ino, charged).map_or(0, |c| c.bytes);
        self.add_total(charged.bytes as i64 - before as i64 - reserved as i64, tid);
    }

    /// The peers of two sockets made together (socketpair).
    pub fn socket_peers(&mut self, a: SockIno, b: SockIno) {
        for (ino, peer) in [(a, b), (b, a)] {
            if let Some(c) = self.sockets.get_mut(&ino) {
                c.peer = Some(peer);
            }
        }
    }

    pub fn socket_charge(&self, ino: SockIno) -> Option<sockets::Charged> {
        self.sockets.get(&ino).copied()
    }

    /// A reservation for sockets that were not made is given back.
    pub fn unreserve(&mut self, tid: Tid, bytes: u64) {
        self.add_total(-(bytes as i64), tid);
    }

    /// Charges without a limit check (the host already allocated, or a fork copy).
    pub fn force_charge(&mut self, tgid: Tid, tid: Tid, bytes: u64) {
        if bytes == 0 {
            return;
        }
        self.mm(tgid).charged += bytes;
        self.add_total(bytes as i64, tid);
    }

    pub fn uncharge(&mut self, tgid: Tid, tid: Tid, bytes: u64) {
        if bytes == 0 {
            return;
        }
        let mm = self.mm(tgid);
        let bytes = bytes.min(mm.charged);
        mm.charged -= bytes;
        self.add_total(-(bytes as i64), tid);
    }

    /// Undoes a reservation and applies the charge the host's result calls for.
    pub fn settle(&mut self, tgid: Tid, tid: Tid, reserved: u64, actual: i64) {
        let delta = actual - reserved as i64;
        if delta > 0 {
            self.force_charge(tgid, tid, delta as u64);
        } else {
            self.uncharge(tgid, tid, (-delta) as u64);
        }
    }

    fn add_total(&mut self, delta: i64, tid: Tid) {
        let before = self.charged;
        self.charged = if delta >= 0 {
            self.charged.saturating_add(delta as u64)
        } else {
            self.charged.saturating_sub((-delta) as u64)
        };
        self.peak = self.peak.max(self.charged);
        if let Some(watch) = &self.watch {
            watch.charged.store(self.charged, Ordering::Relaxed);
            watch.peak.store(self.peak, Ordering::Relaxed);
        }
        if let Some(soft) = self.limits.memory_soft {
            if !self.above_soft && before <= soft && self.charged > soft {
                self.above_soft = true;
                let charged = self.charged;
                self.events.emit(
                    "memory_soft_limit",
                    crate::event_fields!("pid": tid, "charged": charged, "limit": soft),
                    Some(&format!(
                        "memory: [pid {tid}] soft limit crossed: {charged} bytes charged, soft limit {soft}"
                    )),
                );
            } else if self.above_soft && self.charged <= soft {
                self.above_soft = false;
            }
        }
    }

    /// Asks the watcher for an RSS sample, at most twice per sampling period.
    pub fn poke_watcher(&mut self) {
        if let Some(watch) = &self.watch {
            let now = std::time::Instant::now();
            if self
                .last_poke
                .is_none_or(|t| now.duration_since(t) >= SAMPLE_PERIOD / 2)
            {
                self.last_poke = Some(now);
                watch.poke();
            }
        }
    }

    /// A new task exists (the parent's clone/fork/vfork event).
    /// `shown` is the number the sandbox knows the child by (for events).
    pub fn on_new_task(
        &mut self,
        parent: Tid,
        parent_tgid: Tid,
        child: Tid,
        child_tgid: Tid,
        shares_vm: bool,
        shown: Tid,
    ) {
        self.clones_in_flight.remove(&parent);
        if child_tgid != child {
            return; // a thread: same process, same mm
        }
        if let Some(watch) = &self.watch {
            watch.add_process(child, shown);
        }
        if !self.active() {
            return;
        }
        let parent_id = self.mm_id(parent_tgid);
        if shares_vm {
            self.procs.insert(child, parent_id);
            if let Some(mm) = self.mms.get_mut(&parent_id) {
                mm.users += 1;
            }
            return;
        }
        let copy = self
            .mms
            .get(&parent_id)
            .map(Mm::fork_copy)
            .unwrap_or_default();
        let charge = copy.charged;
        let id = self.new_mm(Mm { charged: 0, ..copy });
        self.procs.insert(child, id);
        self.force_charge(child, shown, charge);
    }

    /// Bytes a fork of `tgid` would charge (its private charged ranges and heap).
    pub fn fork_cost(&mut self, tgid: Tid) -> u64 {
        let mm = self.mm(tgid);
        mm.ranges
            .values()
            .zip(mm.ranges.keys())
            .filter(|(s, _)| s.charged && !s.shared)
            .map(|(s, k)| s.end - k)
            .sum::<u64>()
            + mm.brk_charged
    }

    /// Process `tgid` no longer uses its mm (execve replaced it, or it exited).
    fn detach(&mut self, tgid: Tid) {
        let Some(id) = self.procs.remove(&tgid) else {
            return;
        };
        let Some(mm) = self.mms.get_mut(&id) else {
            return;
        };
        mm.users = mm.users.saturating_sub(1);
        if mm.users == 0 {
            let released = mm.charged;
            self.mms.remove(&id);
            self.add_total(-(released as i64), tgid);
            tracing::debug!(
                target: "sentry::memory",
                "sentry: memory: [pid {tgid}] address space gone, {released} bytes released, sandbox charged {}",
                self.charged
            );
        }
    }

    /// execve succeeded in process `tgid`: a new, empty address space.
    pub fn on_exec(&mut self, tgid: Tid) {
        self.detach(tgid);
    }

    /// The last task of process `tgid` is gone.
    pub fn on_process_exit(&mut self, tgid: Tid) {
        self.detach(tgid);
        if let Some(watch) = &self.watch {
            watch.remove_process(tgid);
        }
    }

    pub fn on_task_exit(&mut self, tid: Tid) {
        self.clones_in_flight.remove(&tid);
    }

    /// A SysV shm segment was created with `bytes` (already charged to `tgid`): the charge
    /// moves from the process to the segment.
    pub fn shm_created(&mut self, tgid: Tid, id: i32, bytes: u64) {
        let mm = self.mm(tgid);
        let moved = bytes.min(mm.charged);
        mm.charged -= moved;
        *self.shm.entry(id).or_default() += moved;
    }

    /// The segment `id` was removed (IPC_RMID): its charge is released.
    pub fn shm_removed(&mut self, tid: Tid, id: i32) {
        if let Some(bytes) = self.shm.remove(&id) {
            self.add_total(-(bytes as i64), tid);
        }
    }

    /// The text of /proc/meminfo inside the sandbox when a hard limit is set (for the
    /// synthesized /proc): MemTotal is the limit, MemFree and MemAvailable what is left of it.
    pub fn meminfo(&self) -> Option<String> {
        let limit = self.limits.memory?;
        let kb = |b: u64| b / 1024;
        let free = limit.saturating_sub(self.charged);
        let mut text = String::new();
        for (name, bytes) in [
            ("MemTotal", limit),
            ("MemFree", free),
            ("MemAvailable", free),
            ("Buffers", 0),
            ("Cached", 0),
            ("SwapCached", 0),
            ("Committed_AS", self.charged),
            ("CommitLimit", limit),
            ("SwapTotal", 0),
            ("SwapFree", 0),
        ] {
            text.push_str(&format!("{:<16}{:>8} kB\n", format!("{name}:"), kb(bytes)));
        }
        Some(text)
    }

    /// Sum of every mm's and segment's charge: equals `charged` (a consistency check).
    #[cfg(test)]
    pub fn recount(&self) -> u64 {
        self.mms.values().map(|m| m.charged).sum::<u64>()
            + self.shm.values().sum::<u64>()
            + self.memfds.values().map(|m| m.charged).sum::<u64>()
            + self.sockets.values().map(|s| s.bytes).sum::<u64>()
    }
}

/// Hook for the supervisor's exit handling: the task `tid` is gone; if it was the last of
/// its process, the process's address space is released.
pub fn on_task_exit(kernel: &mut super::Kernel, tid: Tid) {
    let Some(tgid) = kernel.tasks.get(&tid).map(|t| t.tgid) else {
        return;
    };
    kernel.memory.on_task_exit(tid);
    let others = kernel
        .tasks
        .iter()
        .any(|(&other, t)| other != tid && t.tgid == tgid);
    if !others {
        kernel.memory.on_process_exit(tgid);
        // Its fds and mappings are gone: were they the last holders of a memfd?
        let who = kernel.shown_pid(tid);
        memfd_rescan(kernel, Some(tid), who);
        if kernel.tasks.keys().all(|&other| other == tid) {
            // The sandbox's last task: nothing of it can hold a socket any more.
            let charged: u64 = kernel.memory.sockets.drain().map(|(_, c)| c.bytes).sum();
            kernel.memory.add_total(-(charged as i64), who);
        } else if kernel.memory.has_sockets() {
            socket_rescan(kernel, Some(tid), who);
        }
    }
}

/// Looks at the host for the sockets the sandbox holds: a socket found in a task's fd table
/// that is not charged yet (it came to the sandbox by a way the sentry did not see) is
/// charged now, and the charge of a socket that can hold no data any more is released
/// (see `sockets`). `skip` is a task that is gone; `who` is the number events name.
pub fn socket_rescan(kernel: &mut super::Kernel, skip: Option<Tid>, who: Tid) {
    if !kernel.memory.active() {
        return;
    }
    let mut census = sockets::Census::default();
    let tids: Vec<Tid> = kernel
        .tasks
        .keys()
        .copied()
        .filter(|&t| Some(t) != skip)
        .collect();
    let mut untracked = Vec::new();
    for tid in tids {
        for ino in sockets::held_by(tid) {
            if census.held.insert(ino) && !kernel.memory.tracks_socket(ino) {
                untracked.push((tid, ino));
            }
        }
    }
    for (tid, ino) in untracked {
        charge_untracked(kernel, tid, ino, who);
    }
    if !kernel.memory.has_sockets() {
        return;
    }
    let Some(unix) = sockets::unix_sockets() else {
        return;
    };
    census.unix = unix;
    let memory = &mut kernel.memory;
    if memory
        .sockets
        .iter()
        .any(|(ino, c)| c.kind == sockets::Kind::Other && !census.held.contains(ino))
    {
        census.other = sockets::other_sockets();
    }
    for (ino, listed) in &census.unix {
        if let (Some(c), Some(peer)) = (memory.sockets.get_mut(ino), listed.peer) {
            c.peer = Some(peer);
        }
    }
    for ino in sockets::releasable(&memory.sockets, &census) {
        if let Some(c) = memory.sockets.remove(&ino) {
            memory.add_total(-(c.bytes as i64), who);
        }
    }
}

/// Charges a socket of the sandbox the sentry had not seen made, found in the fd table of
/// `tid`, without a limit check (it exists already).
fn charge_untracked(kernel: &mut super::Kernel, tid: Tid, ino: SockIno, who: Tid) {
    let tgid = kernel.tgid_of(tid);
    let Some(dup) = find_fd_of(tid, ino).and_then(|fd| crate::host::task_fd(tgid, fd).ok()) else {
        return;
    };
    if let Some((found, charged)) = sockets::examine(&dup, None) {
        if found == ino {
            kernel.memory.socket_set(who, ino, charged, 0);
        }
    }
}

/// The number of an fd of task `tid` that holds socket `ino`.
fn find_fd_of(tid: Tid, ino: SockIno) -> Option<i32> {
    use std::os::unix::ffi::OsStrExt;
    std::fs::read_dir(format!("/proc/{tid}/fd"))
        .ok()?
        .flatten()
        .find_map(|entry| {
            let link = std::fs::read_link(entry.path()).ok()?;
            (sockets::socket_link(link.as_os_str().as_bytes()) == Some(ino))
                .then(|| entry.file_name().to_str()?.parse().ok())?
        })
}

/// Hook for the supervisor's exec handling: process `tgid` has a new address space and
/// its close-on-exec fds are closed.
pub fn on_exec(kernel: &mut super::Kernel, tgid: Tid) {
    kernel.memory.on_exec(tgid);
    let who = kernel.shown_pid(tgid);
    memfd_rescan(kernel, None, who);
}

/// A memfd's charge from its stat: its size in pages, or its allocated blocks when
/// fallocate(FALLOC_FL_KEEP_SIZE) allocated past the end.
fn memfd_charge(size: u64, blocks: u64) -> u64 {
    page_up(size)
        .unwrap_or(u64::MAX)
        .max(blocks.saturating_mul(512))
}

/// How /proc shows a memfd: "/memfd:NAME (deleted)".
pub fn is_memfd_link(link: &[u8]) -> bool {
    link.starts_with(b"/memfd:") && link.ends_with(b" (deleted)")
}

/// The memfd behind the fd `path` (/proc/TID/fd/N): its inode and charge now.
fn memfd_at(path: &std::path::Path) -> Option<(Inode, u64)> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;
    let link = std::fs::read_link(path).ok()?;
    if !is_memfd_link(link.as_os_str().as_bytes()) {
        return None;
    }
    let st = std::fs::metadata(path).ok()?;
    Some(((st.dev(), st.ino()), memfd_charge(st.size(), st.blocks())))
}

/// The memfd that fd `fd` of task `tid` refers to, if it is one: its inode and charge now.
/// The kernel reads an fd argument as its low 32 bits; so does this.
pub fn memfd_of(tid: Tid, fd: u64) -> Option<(Inode, u64)> {
    let fd = Some(fd as u32 as i32).filter(|&f| f >= 0)?;
    memfd_at(std::path::Path::new(&format!("/proc/{tid}/fd/{fd}")))
}

/// The memfd inodes mapped in /proc/TID/maps (None: unreadable or empty, the task is gone).
fn mapped_memfds(tid: Tid) -> Option<Vec<Inode>> {
    let text = crate::host::read_proc_text(format!("/proc/{tid}/maps")).ok()?;
    if text.is_empty() {
        return None;
    }
    let mut found = Vec::new();
    for line in text.lines() {
        // start-end perms offset major:minor inode path
        let mut fields = line.split_whitespace();
        let (Some(dev), Some(ino), Some(path)) = (fields.nth(3), fields.next(), fields.next())
        else {
            continue;
        };
        if !path.starts_with("/memfd:") {
            continue;
        }
        let Some((major, minor)) = dev.split_once(':') else {
            continue;
        };
        let (Ok(major), Ok(minor), Ok(ino)) = (
            u32::from_str_radix(major, 16),
            u32::from_str_radix(minor, 16),
            ino.parse::<u64>(),
        ) else {
            continue;
        };
        found.push((libc::makedev(major, minor), ino));
    }
    Some(found)
}

/// Bytes in memfds that sandbox processes hold by fd but none maps: write(2) grows such a
/// file without a call the sentry stops, and its pages are in no process's RSS. The
/// watcher adds them to its resident-memory sample.
pub fn unmapped_memfd_bytes(tgids: &[i32]) -> u64 {
    let mut held: HashMap<Inode, u64> = HashMap::new();
    for tgid in tgids {
        if let Ok(dir) = std::fs::read_dir(format!("/proc/{tgid}/fd")) {
            held.extend(dir.flatten().filter_map(|entry| memfd_at(&entry.path())));
        }
    }
    if !held.is_empty() {
        for &tgid in tgids {
            for ino in mapped_memfds(tgid).unwrap_or_default() {
                held.remove(&ino);
            }
        }
    }
    held.values().sum()
}

/// Looks for the holders of every tracked memfd in the fd tables and address spaces of
/// the sandbox's tasks (but `skip`, which is gone): a memfd without one is released, one
/// an fd holds is charged its current size (growth by write shows here). `who` is the
/// number events name.
pub fn memfd_rescan(kernel: &mut super::Kernel, skip: Option<Tid>, who: Tid) {
    if !kernel.memory.has_memfds() {
        return;
    }
    let mut by_fd: HashMap<Inode, u64> = HashMap::new();
    let mut by_map: HashSet<Inode> = HashSet::new();
    let mut maps_read: HashSet<Tid> = HashSet::new();
    for (&tid, task) in &kernel.tasks {
        if Some(tid) == skip {
            continue;
        }
        // Every task, not every process: a thread may have its own fd table, and a
        // leader that exited before its threads shows none.
        if let Ok(dir) = std::fs::read_dir(format!("/proc/{tid}/fd")) {
            for entry in dir.flatten() {
                if let Some((ino, charge)) = memfd_at(&entry.path()) {
                    if kernel.memory.memfds.contains_key(&ino) {
                        by_fd.insert(ino, charge);
                    }
                }
            }
        }
        if !maps_read.contains(&task.tgid) {
            if let Some(mapped) = mapped_memfds(tid) {
                maps_read.insert(task.tgid);
                by_map.extend(mapped);
            }
        }
    }
    let tracked: Vec<Inode> = kernel.memory.memfds.keys().copied().collect();
    let memory = &mut kernel.memory;
    for ino in tracked {
        if let Some(&charge) = by_fd.get(&ino) {
            memory.memfd_set(who, ino, charge);
        } else if by_map.contains(&ino) {
            if let Some(m) = memory.memfds.get_mut(&ino) {
                m.mapped_only = true;
            }
        } else {
            memory.memfd_release(who, ino);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anon(end: u64) -> Seg {
        Seg {
            end,
            anon: true,
            shared: false,
            charged: true,
        }
    }

    #[test]
    fn memfd_links_and_charges() {
        assert!(is_memfd_link(b"/memfd:buf (deleted)"));
        assert!(!is_memfd_link(b"/memfd:buf"));
        assert!(!is_memfd_link(b"/tmp/memfd:x (deleted)"));
        assert_eq!(memfd_charge(1, 0), PAGE);
        assert_eq!(memfd_charge(0, 16), 2 * PAGE);
        assert_eq!(memfd_charge(3 * PAGE, 8), 3 * PAGE);
    }

    #[test]
    fn remove_splits_and_counts() {
        let mut mm = Mm::default();
        mm.insert(0x1000, anon(0x5000));
        assert_eq!(mm.charged_in(0x2000, 0x3000), 0x1000);
        assert_eq!(mm.remove(0x2000, 0x3000), 0x1000);
        assert_eq!(mm.ranges_charged(), 0x3000);
        assert_eq!(mm.remove(0x0, 0x10000), 0x3000);
        assert_eq!(mm.ranges_charged(), 0);
    }

    #[test]
    fn mprotect_marks_only_uncharged_private_anon() {
        let mut mm = Mm::default();
        mm.insert(
            0x1000,
            Seg {
                charged: false,
                ..anon(0x4000)
            },
        );
        assert_eq!(mm.chargeable_in(0x2000, 0x8000), 0x2000);
        assert_eq!(mm.mark_charged(0x2000, 0x8000), 0x2000);
        assert_eq!(mm.chargeable_in(0x0, 0x8000), 0x1000);
        assert_eq!(mm.ranges_charged(), 0x2000);
    }

    #[test]
    fn limits_refuse_and_release_exactly() {
        let limits = Limits {
            memory: Some(0x10000),
            ..Default::default()
        };
        let mut t = MemoryTable::new(limits, None, Default::default());
        assert!(t.try_charge(1, 1, 0x8000).is_ok());
        assert!(t.try_charge(1, 1, 0x9000).is_err());
        t.on_new_task(1, 1, 2, 2, false, 2);
        t.mm(1).insert(0x1000, anon(0x2000));
        t.on_process_exit(1);
        assert_eq!(t.charged, t.recount());
        t.on_process_exit(2);
        assert_eq!(t.charged, 0);
        assert_eq!(t.recount(), 0);
        t.memfd_set(3, (1, 7), 0x4000);
        assert!(!t.fits(0xd000));
        assert!(t.try_reserve(3, 3, 0xd000).is_err());
        assert_eq!(t.charged, t.recount());
        assert!(t.try_reserve(3, 3, 0x2000).is_ok());
        t.memfd_settle(3, (1, 7), Some(0x5000), 0x2000);
        assert_eq!(t.charged, 0x5000);
        assert_eq!(t.charged, t.recount());
        t.memfd_release(3, (1, 7));
        assert_eq!(t.charged, 0);
        let text = t.meminfo().unwrap_or_default();
        assert!(text.starts_with("MemTotal:             64 kB\n"), "{text}");
        assert!(text.contains("MemAvailable:         64 kB\n"), "{text}");
    }
}

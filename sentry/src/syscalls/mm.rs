//! Memory calls and process creation under the sandbox's limits: brk, mmap,
//! munmap, mremap, mprotect, shmget/shmctl sizes, sysinfo, and the pids limit on
//! clone/fork/vfork, memfd sizes (ftruncate, fallocate, and close, close_range, munmap for
//! their release; memfd_create and the write family are in `memfd`). The tables are in
//! `kernel::memory`.
//!
//! Charges are taken at the call's entry, before the host allocates (charge before
//! allocate); the exit stop settles them against what the host did (the address it
//! chose, what a MAP_FIXED replaced). Releases happen at munmap's entry, so that another
//! thread's mmap reusing the range is recorded after the release.

use super::{deny_event, errno, Action, Call, ExitHook};
use crate::kernel::memory::{
    memfd_of, memfd_rescan, page_up, socket_rescan, Inode, Refused, Seg, PAGE,
};
use crate::kernel::Kernel;
use nix::errno::Errno;
use platform_ptrace::Tid;
use syscalls::Sysno;

/// What a memory call leaves for its exit stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    Mmap {
        len: u64,
        seg: Seg,
        reserved: u64,
    },
    Mremap {
        old: u64,
        old_len: u64,
        new_len: u64,
        seg: Seg,
        reserved: u64,
        keep_old: bool,
    },
    Mprotect {
        addr: u64,
        len: u64,
        reserved: u64,
    },
    Brk {
        reserved: u64,
    },
    /// ftruncate/fallocate of a memfd: its charge is its size after the call.
    MemfdResize {
        fd: u64,
        ino: Inode,
        reserved: u64,
    },
    /// close/close_range/munmap may have dropped the last reference of a memfd.
    MemfdScan,
}

fn hook(h: Hook) -> Action {
    Action::PassThenExit(ExitHook::Memory(h))
}

/// ENOMEM; with --oom=kill, the call becomes kill(own pid, SIGKILL) in the task's own
/// context: the process dies before the call returns, and no task is signalled while the
/// sentry holds it stopped.
pub fn refused(r: Refused) -> Action {
    if r.kill {
        return Action::PassAs {
            nr: Sysno::kill.id() as u64,
            args: [r.tgid as u64, libc::SIGKILL as u64, 0, 0, 0, 0],
        };
    }
    errno(Errno::ENOMEM)
}

// Memory calls the host runs; they stop at the sentry when memory is accounted: see
// `table::class_override`. sysinfo is the sentry's (its count of processes is the host's).
crate::syscall_entries! {
    mmap(addr: Ptr, len: UInt, prot: Prot, flags: MapFlags, fd: Fd, offset: Hex) => Passthrough,
        |call, _| mmap(call);
    mprotect(addr: Ptr, len: UInt, prot: Prot) => Passthrough, |call, _| mprotect(call);
    pkey_mprotect(addr: Ptr, len: UInt, prot: Prot, pkey: Int32) => Passthrough,
        |call, _| mprotect(call);
    munmap(addr: Ptr, len: UInt) => Passthrough, |call, _| munmap(call);
    mremap(addr: Ptr, old_len: UInt, new_len: UInt, flags: Hex, new_addr: Ptr) => Passthrough,
        |call, _| mremap(call);
    brk(addr: Ptr) => Passthrough, |call, _| brk(call);
    sysinfo(info: Ptr) => Checked, |call, _| sysinfo(call);
    ftruncate(fd: Fd, length: Int) => Passthrough, |call, _| ftruncate(call);
    fallocate(fd: Fd, mode: Hex, offset: Int, len: Int) => Passthrough, |call, _| fallocate(call);
    close(fd: Fd) => Passthrough, |call, _| close(call);
    close_range(first: Fd, last: Fd, flags: Hex) => Passthrough, |call, _| close(call);
}

/// Before a charge of `bytes` is refused, memfds and sockets nobody holds any more are
/// released.
pub fn make_room(call: &mut Call, bytes: u64) {
    let memory = &call.kernel.memory;
    if bytes == 0 || memory.fits(bytes) {
        return;
    }
    let who = call.kernel.shown_pid(call.tid);
    if call.kernel.memory.has_memfds() {
        memfd_rescan(call.kernel, None, who);
    }
    if call.kernel.memory.has_sockets() && !call.kernel.memory.fits(bytes) {
        socket_rescan(call.kernel, None, who);
    }
}

fn mmap(call: &mut Call) -> Action {
    let [addr, len, prot, flags, _fd, _off] = call.args;
    let Some(len) = page_up(len).filter(|&l| l > 0) else {
        return Action::Pass;
    };
    let anon = flags & libc::MAP_ANONYMOUS as u64 != 0;
    let map_type = flags & 0x0f;
    let shared =
        map_type == libc::MAP_SHARED as u64 || map_type == libc::MAP_SHARED_VALIDATE as u64;
    let charged = anon && (shared || prot & libc::PROT_WRITE as u64 != 0);
    let tid = call.tid;
    let tgid = call.kernel.tgid_of(tid);
    let who = call.kernel.shown_pid(tid);
    let memory = &mut call.kernel.memory;
    let replaced = match addr.checked_add(len) {
        Some(end) if flags & libc::MAP_FIXED as u64 != 0 => memory.mm(tgid).charged_in(addr, end),
        _ => 0,
    };
    let need = if charged { len } else { 0 };
    let reserved = need.saturating_sub(replaced);
    make_room(call, reserved);
    let memory = &mut call.kernel.memory;
    if let Err(r) = memory.try_charge(tgid, who, reserved) {
        return refused(r);
    }
    if need > 0 {
        memory.poke_watcher();
    }
    let seg = Seg {
        end: 0,
        anon,
        shared,
        charged,
    };
    hook(Hook::Mmap { len, seg, reserved })
}

fn munmap(call: &mut Call) -> Action {
    let [addr, len, ..] = call.args;
    if addr % PAGE != 0 {
        return Action::Pass;
    }
    let Some(end) = page_up(len)
        .filter(|&l| l > 0)
        .and_then(|l| addr.checked_add(l))
    else {
        return Action::Pass;
    };
    let tgid = call.kernel.tgid_of(call.tid);
    let who = call.kernel.shown_pid(call.tid);
    let memory = &mut call.kernel.memory;
    let released = memory.mm(tgid).remove(addr, end);
    memory.uncharge(tgid, who, released);
    if memory.memfd_mapped_only() {
        // The mapping may have been a memfd's last holder.
        return hook(Hook::MemfdScan);
    }
    Action::Pass
}

fn mremap(call: &mut Call) -> Action {
    const MREMAP_FIXED: u64 = 2;
    const MREMAP_DONTUNMAP: u64 = 4;
    let [old, old_len, new_len, flags, new_addr, _] = call.args;
    let (Some(old_len), Some(new_len)) = (page_up(old_len), page_up(new_len)) else {
        return Action::Pass;
    };
    if old % PAGE != 0 || old_len == 0 || new_len == 0 || old.checked_add(old_len).is_none() {
        // old_len 0 duplicates a shared mapping: nothing new is committed.
        return Action::Pass;
    }
    let tid = call.tid;
    let tgid = call.kernel.tgid_of(tid);
    let who = call.kernel.shown_pid(tid);
    let memory = &mut call.kernel.memory;
    let mm = memory.mm(tgid);
    let seg = mm.seg_at(old).map_or(
        Seg {
            end: 0,
            anon: false,
            shared: false,
            charged: false,
        },
        |(_, s)| s,
    );
    let keep_old = flags & MREMAP_DONTUNMAP != 0;
    let need = match (seg.charged, keep_old) {
        (false, _) => 0,
        (true, true) => new_len,
        (true, false) => new_len.saturating_sub(old_len),
    };
    let replaced = match new_addr.checked_add(new_len) {
        Some(end) if flags & MREMAP_FIXED != 0 => mm.charged_in(new_addr, end),
        _ => 0,
    };
    let reserved = need.saturating_sub(replaced);
    make_room(call, reserved);
    let memory = &mut call.kernel.memory;
    if let Err(r) = memory.try_charge(tgid, who, reserved) {
        return refused(r);
    }
    if need > 0 {
        memory.poke_watcher();
    }
    hook(Hook::Mremap {
        old,
        old_len,
        new_len,
        seg,
        reserved,
        keep_old,
    })
}

fn mprotect(call: &mut Call) -> Action {
    let [addr, len, prot, ..] = call.args;
    if prot & libc::PROT_WRITE as u64 == 0 || addr % PAGE != 0 {
        return Action::Pass;
    }
    let Some(end) = page_up(len).and_then(|l| addr.checked_add(l)) else {
        return Action::Pass;
    };
    let tid = call.tid;
    let tgid = call.kernel.tgid_of(tid);
    let who = call.kernel.shown_pid(tid);
    let memory = &mut call.kernel.memory;
    let need = memory.mm(tgid).chargeable_in(addr, end);
    if need == 0 {
        return Action::Pass;
    }
    make_room(call, need);
    let memory = &mut call.kernel.memory;
    if let Err(r) = memory.try_charge(tgid, who, need) {
        return refused(r);
    }
    memory.poke_watcher();
    hook(Hook::Mprotect {
        addr,
        len: end - addr,
        reserved: need,
    })
}

fn brk(call: &mut Call) -> Action {
    let addr = call.args[0];
    let tid = call.tid;
    let tgid = call.kernel.tgid_of(tid);
    let who = call.kernel.shown_pid(tid);
    let memory = &mut call.kernel.memory;
    let mm = memory.mm(tgid);
    let (Some(cur), Some(base)) = (mm.brk, mm.brk_base) else {
        // The first brk the sentry sees (brk(0) in every libc): its result is the base.
        return hook(Hook::Brk { reserved: 0 });
    };
    if addr < base {
        return hook(Hook::Brk { reserved: 0 });
    }
    let (Some(new_top), Some(cur_top)) = (page_up(addr), page_up(cur)) else {
        return hook(Hook::Brk { reserved: 0 });
    };
    let grow = new_top.saturating_sub(cur_top);
    make_room(call, grow);
    let memory = &mut call.kernel.memory;
    if let Err(r) = memory.try_charge(tgid, who, grow) {
        if r.kill {
            return refused(r);
        }
        // brk fails by returning the current break; libc's sbrk turns that into ENOMEM.
        return Action::Return(cur as i64);
    }
    if grow > 0 {
        memory.poke_watcher();
    }
    hook(Hook::Brk { reserved: grow })
}

/// sysinfo: the host's uptime and loads, the sandbox's own count of tasks (the host's would
/// tell how busy the host is), and under a memory limit that limit as the memory.
fn sysinfo(call: &mut Call) -> Action {
    // SAFETY: sysinfo is plain data; an all-zero value is valid.
    let mut info: libc::sysinfo = unsafe { std::mem::zeroed() };
    // SAFETY: sysinfo writes one struct into memory we own.
    if unsafe { libc::sysinfo(&mut info) } != 0 {
        return errno(Errno::EFAULT);
    }
    info.procs = call.kernel.tasks.len().min(u16::MAX as usize) as u16;
    if let Some(limit) = call.kernel.memory.limits.memory {
        // What is left must not count memfds nobody holds any more.
        let who = call.kernel.shown_pid(call.tid);
        memfd_rescan(call.kernel, None, who);
        if call.kernel.memory.has_sockets() {
            socket_rescan(call.kernel, None, who);
        }
        let charged = call.kernel.memory.charged.min(limit);
        info.mem_unit = 1;
        info.totalram = limit;
        info.freeram = limit - charged;
        info.sharedram = 0;
        info.bufferram = 0;
        info.totalswap = 0;
        info.freeswap = 0;
        info.totalhigh = 0;
        info.freehigh = 0;
    }
    // SAFETY: `info` is a live, initialised plain-data struct; the slice covers exactly its bytes.
    let bytes = unsafe {
        std::slice::from_raw_parts(
            &info as *const libc::sysinfo as *const u8,
            std::mem::size_of::<libc::sysinfo>(),
        )
    };
    match call.kernel.mem.write(call.tid, call.args[0], bytes) {
        Ok(()) => Action::Return(0),
        Err(_) => errno(Errno::EFAULT),
    }
}

/// The pids limit and the memory a new process would be charged. `None`: go on.
fn creation_check(call: &mut Call, new_process: bool) -> Option<Action> {
    let tid = call.tid;
    let kernel = &mut *call.kernel;
    if let Some(limit) = kernel.memory.limits.pids {
        // Zombies hold their pids until reaped, as in a pids cgroup.
        let in_use = |k: &crate::kernel::Kernel| {
            (k.tasks.len() + k.zombies.len() + k.memory.clones_in_flight.len()) as u64
        };
        if in_use(kernel) >= limit {
            kernel.forget_reaped_zombies();
        }
        if in_use(kernel) >= limit {
            deny_event(
                call,
                Errno::EAGAIN as i32,
                &format!("pids limit ({limit} tasks) reached"),
            );
            return Some(errno(Errno::EAGAIN));
        }
    }
    if new_process && call.kernel.memory.active() {
        let tgid = call.kernel.tgid_of(tid);
        let who = call.kernel.shown_pid(tid);
        let cost = call.kernel.memory.fork_cost(tgid);
        make_room(call, cost);
        let kernel = &mut *call.kernel;
        // A fork copies the private committed memory: charge it before the copy exists.
        // The copy is charged to the child when its creation event comes; this checks only.
        if let Err(r) = kernel.memory.try_charge(tgid, who, cost) {
            return Some(refused(r));
        }
        kernel.memory.uncharge(tgid, who, cost);
    }
    call.kernel.memory.clones_in_flight.insert(tid);
    None
}

/// clone/fork/vfork: the pids limit and the memory check first, then `then` (the call's
/// own checks). The task counts as creating one until its new task appears in the tables
/// or its call returns (`call_done`).
pub fn creating(call: &mut Call, then: impl FnOnce(&mut Call) -> Action) -> Action {
    let new_process = match call.sysno {
        Sysno::fork => true,
        Sysno::vfork => false,
        _ => call.args[0] & libc::CLONE_VM as u64 == 0,
    };
    let limits = call.kernel.memory.limits;
    if limits.pids.is_none() && !limits.accounts_memory() {
        return then(call);
    }
    if let Some(action) = creation_check(call, new_process) {
        return action;
    }
    let action = then(call);
    if let Action::Return(_) = action {
        call.kernel.memory.clones_in_flight.remove(&call.tid);
    }
    action
}

/// The exit stop of any call of `tid`: a clone/fork/vfork is over.
pub fn call_done(kernel: &mut Kernel, tid: Tid, sysno: Option<Sysno>) {
    if matches!(sysno, Some(Sysno::clone | Sysno::fork | Sysno::vfork)) {
        kernel.memory.clones_in_flight.remove(&tid);
    }
}

/// shmget(2) of a new segment: its size is charged before it exists. Ok: the bytes
/// reserved (settled when the call returns); Err: the refusal.
pub(super) fn charge_shm(call: &mut Call, size: u64) -> Result<u64, Action> {
    if !call.kernel.memory.active() {
        return Ok(0);
    }
    let Some(bytes) = page_up(size) else {
        return Ok(0);
    };
    let tgid = call.kernel.tgid_of(call.tid);
    let who = call.kernel.shown_pid(call.tid);
    make_room(call, bytes);
    call.kernel
        .memory
        .try_charge(tgid, who, bytes)
        .map_err(refused)?;
    Ok(bytes)
}

/// ftruncate(2) of a memfd: growth past the hard limit fails with ENOMEM. (A full tmpfs
/// would let ftruncate make a sparse file; a memfd's size is what the limit applies to.)
fn ftruncate(call: &mut Call) -> Action {
    let [fd, len, ..] = call.args;
    if (len as i64) < 0 {
        return Action::Pass; // EINVAL from the host
    }
    let Some(target) = page_up(len) else {
        return Action::Pass;
    };
    match memfd_of(call.tid, fd) {
        Some(memfd) => memfd_resize(call, fd, memfd, Some(target), Errno::ENOMEM),
        None => Action::Pass,
    }
}

/// fallocate(2) of a memfd: growth past the hard limit fails with ENOSPC, as on a full
/// tmpfs. Punching or collapsing a range allocates nothing.
fn fallocate(call: &mut Call) -> Action {
    const PUNCH_HOLE: u64 = 0x02;
    const COLLAPSE_RANGE: u64 = 0x08;
    const INSERT_RANGE: u64 = 0x20;
    let [fd, mode, offset, len, ..] = call.args;
    if (offset as i64) < 0 || (len as i64) <= 0 {
        return Action::Pass; // EINVAL from the host
    }
    let Some(memfd @ (_, now)) = memfd_of(call.tid, fd) else {
        return Action::Pass;
    };
    let target = if mode & (PUNCH_HOLE | COLLAPSE_RANGE) != 0 {
        None
    } else if mode & INSERT_RANGE != 0 {
        // The size grows by `len`: what the memfd is charged now, plus `len`.
        page_up(len).and_then(|l| l.checked_add(now))
    } else {
        match offset.checked_add(len).and_then(page_up) {
            Some(end) => Some(end),
            None => return Action::Pass, // EFBIG from the host
        }
    };
    memfd_resize(call, fd, memfd, target, Errno::ENOSPC)
}

/// A call that may grow `memfd` (its inode and charge now), the memfd at `fd`, to `target`
/// bytes (None: it does not grow it): the growth is reserved before the host runs it, or
/// the call fails with `full`.
pub(super) fn memfd_resize(
    call: &mut Call,
    fd: u64,
    (ino, now): (Inode, u64),
    target: Option<u64>,
    full: Errno,
) -> Action {
    let tid = call.tid;
    let tgid = call.kernel.tgid_of(tid);
    let who = call.kernel.shown_pid(tid);
    // Tracked from now on (if it was not), at its current size: growth by write shows here.
    call.kernel.memory.memfd_set(who, ino, now);
    let need = target.map_or(0, |t| t.saturating_sub(now));
    make_room(call, need);
    let memory = &mut call.kernel.memory;
    if let Err(r) = memory.try_reserve(tgid, who, need) {
        if r.kill {
            return refused(r);
        }
        return errno(full);
    }
    if need > 0 {
        memory.poke_watcher();
    }
    hook(Hook::MemfdResize {
        fd,
        ino,
        reserved: need,
    })
}

/// close/close_range: a memfd may have lost its last holder; the sentry looks after the call.
fn close(call: &mut Call) -> Action {
    let memory = &call.kernel.memory;
    if !memory.has_memfds() {
        return Action::Pass;
    }
    if call.sysno == Sysno::close_range {
        return hook(Hook::MemfdScan);
    }
    match memfd_of(call.tid, call.args[0]) {
        Some((ino, _)) if memory.tracks_memfd(ino) => hook(Hook::MemfdScan),
        _ => Action::Pass,
    }
}

/// The exit stop of a call that left a hook: settle its charge against the host's result.
pub fn at_exit(kernel: &mut Kernel, tid: Tid, h: Hook, rval: i64) {
    let tgid = kernel.tgid_of(tid);
    let who = kernel.shown_pid(tid);
    let failed = (-4095..0).contains(&rval);
    let memory = &mut kernel.memory;
    match h {
        Hook::Mmap { len, seg, reserved } => {
            if failed {
                memory.uncharge(tgid, who, reserved);
                return;
            }
            let addr = rval as u64;
            let Some(end) = addr.checked_add(len) else {
                return;
            };
            let mm = memory.mm(tgid);
            let released = mm.remove(addr, end);
            mm.insert(addr, Seg { end, ..seg });
            let charge = if seg.charged { len } else { 0 };
            memory.settle(tgid, who, reserved, charge as i64 - released as i64);
        }
        Hook::Mremap {
            old,
            old_len,
            new_len,
            seg,
            reserved,
            keep_old,
        } => {
            if failed {
                memory.uncharge(tgid, who, reserved);
                return;
            }
            let addr = rval as u64;
            let Some(end) = addr.checked_add(new_len) else {
                return;
            };
            let mm = memory.mm(tgid);
            let released_old = if keep_old {
                0
            } else {
                mm.remove(old, old + old_len)
            };
            let released_dst = mm.remove(addr, end);
            mm.insert(addr, Seg { end, ..seg });
            let charge = if seg.charged { new_len } else { 0 };
            memory.settle(
                tgid,
                who,
                reserved,
                charge as i64 - released_old as i64 - released_dst as i64,
            );
        }
        Hook::Mprotect {
            addr,
            len,
            reserved,
        } => {
            if failed {
                memory.uncharge(tgid, who, reserved);
                return;
            }
            let added = memory.mm(tgid).mark_charged(addr, addr + len);
            memory.settle(tgid, who, reserved, added as i64);
        }
        Hook::Brk { reserved } => {
            let new = rval as u64;
            let mm = memory.mm(tgid);
            let base = *mm.brk_base.get_or_insert(new);
            mm.brk = Some(new);
            let target = page_up(new)
                .zip(page_up(base))
                .map_or(0, |(n, b)| n.saturating_sub(b));
            let delta = target as i64 - mm.brk_charged as i64;
            mm.brk_charged = target;
            memory.settle(tgid, who, reserved, delta);
        }
        Hook::MemfdResize { fd, ino, reserved } => {
            // The memfd's size after the call (whatever it did), if the fd still names it.
            let now = memfd_of(tid, fd).filter(|&(i, _)| i == ino).map(|(_, c)| c);
            memory.memfd_settle(who, ino, now, reserved);
        }
        Hook::MemfdScan => memfd_rescan(kernel, None, who),
    }
}

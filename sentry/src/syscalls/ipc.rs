//! SysV IPC calls, served against the sandbox's IPC namespace (`kernel::ipc`). The host sees
//! only IPC_PRIVATE objects: a key the sandbox names is looked up in the namespace, and a new
//! keyed object is made private on the host and remembered under its key. Every other call
//! names an id, which must be one of the sandbox's objects. IPC_STAT is the sentry's (the
//! kernel's would write host ids into the task's memory), in the sandbox's terms; semctl's
//! GETPID result is put in them at the exit stop. IPC_INFO and
//! *_INFO give the host's limits with the usage of the sandbox's own objects; the commands
//! that index the host's objects (*_STAT, *_STAT_ANY) are refused.

use super::{deny_event, errno, Action, Call, ExitHook};
use crate::kernel::creds::CAP_IPC_OWNER;
use crate::kernel::ipc::{max_objects, remove_from_host, PRIVATE};
use crate::kernel::{IpcKind, Kernel};
use nix::errno::Errno;
use platform_ptrace::Tid;

/// Work for the exit stop of an IPC call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpcHook {
    /// A get that creates: remember the object under `key` (PRIVATE: none). `reserved`: the
    /// memory charge of a new segment, settled here.
    Created {
        kind: IpcKind,
        key: i32,
        excl: bool,
        reserved: u64,
    },
    /// IPC_RMID.
    Removed { kind: IpcKind, id: i32 },
    /// semctl(GETPID): the result is a host pid.
    LastPid,
}

const IPC_64: i32 = 0x100;
const SEM_STAT: i32 = 18;
const SEM_INFO: i32 = 19;
const SEM_STAT_ANY: i32 = 20;
const MSG_STAT: i32 = 11;
const MSG_INFO: i32 = 12;
const MSG_STAT_ANY: i32 = 13;
const SHM_STAT: i32 = 13;
const SHM_INFO: i32 = 14;
const SHM_STAT_ANY: i32 = 15;
const GETPID: i32 = 11;

// SysV IPC: the sandbox's own namespace of keys and ids. A get of a key makes or finds the
// sandbox's object; the other calls must name an object of the sandbox.
crate::syscall_entries! {
    shmget(key: Int32, size: UInt, flags: Hex) => Checked, |call, a| {
        get(call, IpcKind::Shm, a.key, a.size, a.flags as i32)
    };
    semget(key: Int32, count: Int32, flags: Hex) => Checked, |call, a| {
        get(call, IpcKind::Sem, a.key, a.count as u64, a.flags as i32)
    };
    msgget(key: Int32, flags: Hex) => Checked, |call, a| {
        get(call, IpcKind::Msg, a.key, 0, a.flags as i32)
    };
    shmctl(id: Int32, command: Int32, buf: Ptr) => Checked, |call, a| {
        ctl(call, IpcKind::Shm, a.id, a.command, a.buf)
    };
    semctl(id: Int32, number: Int32, command: Int32, arg: Hex) => Checked, |call, a| {
        ctl(call, IpcKind::Sem, a.id, a.command, a.arg)
    };
    msgctl(id: Int32, command: Int32, buf: Ptr) => Checked, |call, a| {
        ctl(call, IpcKind::Msg, a.id, a.command, a.buf)
    };
    shmat(id: Int32, addr: Ptr, flags: Hex) => Checked, |call, a| own(call, IpcKind::Shm, a.id);
    semop(id: Int32, ops: Ptr, count: UInt) => Checked, |call, a| own(call, IpcKind::Sem, a.id);
    semtimedop(id: Int32, ops: Ptr, count: UInt, timeout: Ptr) => Checked,
        |call, a| own(call, IpcKind::Sem, a.id);
    msgsnd(id: Int32, msg: Ptr, size: UInt, flags: Hex) => Checked,
        |call, a| own(call, IpcKind::Msg, a.id);
    msgrcv(id: Int32, msg: Ptr, size: UInt, kind: Int, flags: Hex) => Checked,
        |call, a| own(call, IpcKind::Msg, a.id);
}

/// A call on an object: only one of the sandbox's (EINVAL, as for an id that does not exist).
fn own(call: &mut Call, kind: IpcKind, id: i32) -> Action {
    if call.kernel.ipc.owns(kind, id) {
        Action::Pass
    } else {
        errno(Errno::EINVAL)
    }
}

/// shmget(key, size, flags), semget(key, nsems, flags), msgget(key, flags); `size` is the
/// size or count a get of an existing object may ask at most.
fn get(call: &mut Call, kind: IpcKind, key: i32, size: u64, flags: i32) -> Action {
    if let Some(id) = call.kernel.ipc.id_of_key(kind, key) {
        if flags & libc::IPC_CREAT != 0 && flags & libc::IPC_EXCL != 0 {
            return errno(Errno::EEXIST);
        }
        return match fits_existing(kind, id, size) {
            Ok(()) => Action::Return(id as i64),
            Err(e) => errno(e),
        };
    }
    if key != PRIVATE && flags & libc::IPC_CREAT == 0 {
        return errno(Errno::ENOENT);
    }
    if call.kernel.ipc.count(kind) >= max_objects(kind) {
        deny_event(
            call,
            Errno::ENOSPC as i32,
            &format!(
                "the sandbox holds {} objects of this kind",
                max_objects(kind)
            ),
        );
        return errno(Errno::ENOSPC);
    }
    let reserved = if kind == IpcKind::Shm {
        match super::mm::charge_shm(call, size) {
            Ok(bytes) => bytes,
            Err(refused) => return refused,
        }
    } else {
        0
    };
    let hook = ExitHook::Ipc(IpcHook::Created {
        kind,
        key,
        excl: flags & libc::IPC_EXCL != 0,
        reserved,
    });
    if key == PRIVATE {
        return Action::PassThenExit(hook);
    }
    let mut args = call.args;
    args[0] = PRIVATE as u64;
    Action::PassWithThenExit(args, hook)
}

/// A get of an existing object asks for no more than it has (EINVAL as Linux gives it).
fn fits_existing(kind: IpcKind, id: i32, asked: u64) -> Result<(), Errno> {
    match kind {
        IpcKind::Shm => {
            // SAFETY: shmid_ds is plain data; IPC_STAT fills it and we check the result.
            let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
            // SAFETY: IPC_STAT writes one shmid_ds into memory we own.
            if unsafe { libc::shmctl(id, libc::IPC_STAT, &mut ds) } == 0
                && asked > ds.shm_segsz as u64
            {
                return Err(Errno::EINVAL);
            }
        }
        IpcKind::Sem => {
            // SAFETY: semid_ds is plain data; IPC_STAT fills it and we check the result.
            let mut ds: libc::semid_ds = unsafe { std::mem::zeroed() };
            // SAFETY: IPC_STAT writes one semid_ds at the pointer we pass as its argument.
            if unsafe { libc::semctl(id, 0, libc::IPC_STAT, &mut ds as *mut libc::semid_ds) } == 0
                && asked > ds.sem_nsems as u64
            {
                return Err(Errno::EINVAL);
            }
        }
        IpcKind::Msg => {}
    }
    Ok(())
}

/// shmctl(id, cmd, buf), msgctl(id, cmd, buf), semctl(id, num, cmd, arg).
fn ctl(call: &mut Call, kind: IpcKind, id: i32, cmd: i32, buf: u64) -> Action {
    let cmd = cmd & !IPC_64;
    let usage = match kind {
        IpcKind::Shm => cmd == SHM_INFO,
        IpcKind::Msg => cmd == MSG_INFO,
        IpcKind::Sem => cmd == SEM_INFO,
    };
    if cmd == libc::IPC_INFO || usage {
        return match info(call, kind, usage, buf) {
            Ok(index) => Action::Return(index),
            Err(e) => errno(e),
        };
    }
    let lists_host = match kind {
        IpcKind::Shm => matches!(cmd, SHM_STAT | SHM_STAT_ANY),
        IpcKind::Msg => matches!(cmd, MSG_STAT | MSG_STAT_ANY),
        IpcKind::Sem => matches!(cmd, SEM_STAT | SEM_STAT_ANY),
    };
    if lists_host {
        deny_event(
            call,
            Errno::EINVAL as i32,
            "the host's IPC objects are not listed",
        );
        return errno(Errno::EINVAL);
    }
    if !call.kernel.ipc.owns(kind, id) {
        return errno(Errno::EINVAL);
    }
    let hook = match cmd {
        libc::IPC_RMID => IpcHook::Removed { kind, id },
        libc::IPC_STAT => return super::answered(stat(call, kind, id, buf)),
        GETPID if kind == IpcKind::Sem => IpcHook::LastPid,
        _ => return Action::Pass,
    };
    Action::PassThenExit(ExitHook::Ipc(hook))
}

/// IPC_INFO (`usage` false) and SHM_INFO/MSG_INFO/SEM_INFO (`usage` true) into the task's
/// `buf`: the host's limits, and for the *_INFO commands the usage of the sandbox's own
/// objects in place of the host's totals. The result is the highest index in use, which
/// the sandbox cannot use (the *_STAT commands are refused): its count of objects less one.
fn info(call: &mut Call, kind: IpcKind, usage: bool, buf: u64) -> Result<i64, Errno> {
    let ids = call.kernel.ipc.ids(kind);
    let mut words = [0u64; 9];
    let ptr = words.as_mut_ptr();
    // SAFETY: each call writes one info struct (at most 72 bytes: shminfo64) into `words`,
    // which holds 72.
    let rc = unsafe {
        match kind {
            IpcKind::Shm => libc::shmctl(0, libc::IPC_INFO, ptr.cast()),
            IpcKind::Msg => libc::msgctl(0, libc::IPC_INFO, ptr.cast()),
            IpcKind::Sem => libc::semctl(0, 0, libc::IPC_INFO, ptr),
        }
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    let mut bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
    let set_int = |bytes: &mut Vec<u8>, at: usize, v: i64| {
        let v = i32::try_from(v).unwrap_or(i32::MAX);
        bytes[at * 4..at * 4 + 4].copy_from_slice(&v.to_ne_bytes());
    };
    let len = match kind {
        // struct shminfo64: nine unsigned longs; struct shm_info: an int (padded) and five
        // unsigned longs.
        IpcKind::Shm if usage => {
            let page = 4096u64;
            let pages: u64 = ids
                .iter()
                .filter_map(|&id| {
                    // SAFETY: shmid_ds is plain data, filled by IPC_STAT.
                    let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
                    // SAFETY: IPC_STAT writes one shmid_ds into memory we own.
                    (unsafe { libc::shmctl(id, libc::IPC_STAT, &mut ds) } == 0)
                        .then(|| (ds.shm_segsz as u64).div_ceil(page))
                })
                .sum();
            let mut out = vec![0u8; 48];
            out[..4].copy_from_slice(&(ids.len() as i32).to_ne_bytes());
            out[8..16].copy_from_slice(&pages.to_ne_bytes());
            out[16..24].copy_from_slice(&pages.to_ne_bytes());
            bytes = out;
            48
        }
        IpcKind::Shm => 72,
        // struct msginfo: seven ints and a short; msgpool, msgmap and msgtql carry usage.
        IpcKind::Msg => {
            if usage {
                let (mut messages, mut bytes_queued) = (0i64, 0i64);
                for &id in &ids {
                    // SAFETY: msqid_ds is plain data, filled by IPC_STAT.
                    let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
                    // SAFETY: IPC_STAT writes one msqid_ds into memory we own.
                    if unsafe { libc::msgctl(id, libc::IPC_STAT, &mut ds) } == 0 {
                        messages += ds.msg_qnum as i64;
                        bytes_queued += ds.__msg_cbytes as i64;
                    }
                }
                set_int(&mut bytes, 0, ids.len() as i64);
                set_int(&mut bytes, 1, messages);
                set_int(&mut bytes, 6, bytes_queued);
            }
            32
        }
        // struct seminfo: ten ints; semusz (7) and semaem (9) carry usage.
        IpcKind::Sem => {
            if usage {
                let semaphores: i64 = ids
                    .iter()
                    .filter_map(|&id| {
                        // SAFETY: semid_ds is plain data, filled by IPC_STAT.
                        let mut ds: libc::semid_ds = unsafe { std::mem::zeroed() };
                        // SAFETY: IPC_STAT writes one semid_ds at the pointer we pass.
                        (unsafe { libc::semctl(id, 0, libc::IPC_STAT, &mut ds) } == 0)
                            .then_some(ds.sem_nsems as i64)
                    })
                    .sum();
                set_int(&mut bytes, 7, ids.len() as i64);
                set_int(&mut bytes, 9, semaphores);
            }
            40
        }
    };
    call.kernel
        .mem
        .write(call.tid, buf, &bytes[..len])
        .map_err(|_| Errno::EFAULT)?;
    Ok(ids.len().saturating_sub(1) as i64)
}

/// The exit stop of an IPC call: returns the value the task sees.
pub fn at_exit(k: &mut Kernel, tid: Tid, hook: IpcHook, rval: i64) -> i64 {
    match hook {
        IpcHook::Created {
            kind,
            key,
            excl,
            reserved,
        } => created(k, tid, (kind, key, excl, reserved), rval),
        IpcHook::Removed { kind, id } if rval == 0 => {
            k.ipc.removed(kind, id);
            if kind == IpcKind::Shm && k.memory.active() {
                k.memory.shm_removed(tid, id);
            }
            rval
        }
        IpcHook::LastPid if rval > 0 => k.vpid_for(tid, rval as Tid) as i64,
        _ => rval,
    }
}

fn created(k: &mut Kernel, tid: Tid, made: (IpcKind, i32, bool, u64), rval: i64) -> i64 {
    let (kind, key, excl, reserved) = made;
    let tgid = k.tgid_of(tid);
    let who = k.shown_pid(tid);
    if rval < 0 {
        k.memory.uncharge(tgid, who, reserved);
        return rval;
    }
    let id = rval as i32;
    // Two tasks made the same key at once: the first one made stands, as if the second
    // get had come after it.
    if let Some(first) = k.ipc.id_of_key(kind, key) {
        remove_from_host(kind, id);
        k.memory.uncharge(tgid, who, reserved);
        return if excl {
            -((Errno::EEXIST as i32) as i64)
        } else {
            first as i64
        };
    }
    let creds = k.creds_of(tid);
    k.ipc.record(kind, id, key, (creds.euid, creds.egid));
    if kind == IpcKind::Shm && reserved > 0 {
        k.memory.shm_created(tgid, id, reserved);
    }
    rval
}

/// IPC_STAT, made by the sentry: the kernel's own would write the object's record, with the
/// host's ids and pids, into the task's memory, where another thread could read it before
/// the exit stop put it in the sandbox's terms. The sentry reads the record itself, refuses
/// it (EACCES) where the kernel would refuse the task (its host ids against the owner's and
/// creator's, the mode's read bits), and writes it in the sandbox's terms
/// (`in_sandbox_terms`).
fn stat(call: &mut Call, kind: IpcKind, id: i32, buf: u64) -> Result<(), Errno> {
    // x86_64's struct shmid64_ds, msqid64_ds, semid64_ds.
    let len = match kind {
        IpcKind::Shm => 112,
        IpcKind::Msg => 120,
        IpcKind::Sem => 104,
    };
    let mut record = [0u8; 120];
    let at = record.as_mut_ptr();
    // SAFETY: each IPC_STAT writes one record of at most 120 bytes into ours.
    let rc = unsafe {
        match kind {
            IpcKind::Shm => libc::syscall(libc::SYS_shmctl, id, libc::IPC_STAT, at),
            IpcKind::Msg => libc::syscall(libc::SYS_msgctl, id, libc::IPC_STAT, at),
            IpcKind::Sem => libc::syscall(libc::SYS_semctl, id, 0, libc::IPC_STAT, at),
        }
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    let record = &mut record[..len];
    if !task_may_read(call.kernel, call.tid, record) {
        return Err(Errno::EACCES);
    }
    in_sandbox_terms(call.kernel, call.tid, kind, id, record);
    call.kernel
        .mem
        .write(call.tid, buf, record)
        .map_err(|_| Errno::EFAULT)
}

/// Whether the task may read an object whose record (struct ipc64_perm first: key, uid,
/// gid, cuid, cgid, mode) is `record`: ipcperms' rule, for the task's host ids, or
/// CAP_IPC_OWNER in the sandbox (the objects are all the sandbox's own).
pub(super) fn task_may_read(k: &Kernel, tid: Tid, record: &[u8]) -> bool {
    if k.creds_of(tid).capable(CAP_IPC_OWNER) {
        return true;
    }
    let word = |at: usize| u32::from_ne_bytes(record[at..at + 4].try_into().expect("4 bytes"));
    let (uid, gid, cuid, cgid, mode) = (word(4), word(8), word(12), word(16), word(20));
    let Some(status) = k.mem.proc_file(tid, "status") else {
        return false;
    };
    let ids = |name: &str, at: usize| -> Vec<u32> {
        let fields = crate::host::proc_field(&status, name).unwrap_or_default();
        let values = fields.split_whitespace().filter_map(|v| v.parse().ok());
        values.skip(at).collect()
    };
    let (euid, egid) = (ids("Uid:", 1), ids("Gid:", 1));
    let (Some(&euid), Some(&egid)) = (euid.first(), egid.first()) else {
        return false;
    };
    let in_group = |g: u32| g == egid || ids("Groups:", 0).contains(&g);
    let granted = if euid == uid || euid == cuid {
        mode >> 6
    } else if in_group(gid) || in_group(cgid) {
        mode >> 3
    } else {
        mode
    };
    granted & 0o4 != 0
}

/// IPC_STAT's record as the sandbox would see it in a namespace of its own: the key it
/// named, the owner and creator it knows, the pids in its numbers. Offsets are x86_64's
/// struct shmid64_ds / msqid64_ds / semid64_ds, which begin with struct ipc64_perm.
fn in_sandbox_terms(k: &Kernel, tid: Tid, kind: IpcKind, id: i32, record: &mut [u8]) {
    let key = k.ipc.key_of(kind, id).unwrap_or(PRIVATE);
    let (uid, gid) = k.ipc.creator_of(kind, id).unwrap_or((0, 0));
    record[0..4].copy_from_slice(&key.to_ne_bytes());
    for (at, value) in [(4, uid), (8, gid), (12, uid), (16, gid)] {
        record[at..at + 4].copy_from_slice(&value.to_ne_bytes());
    }
    let pids: &[usize] = match kind {
        IpcKind::Shm => &[80, 84],
        IpcKind::Msg => &[96, 100],
        IpcKind::Sem => &[],
    };
    for &at in pids {
        let host = i32::from_ne_bytes(record[at..at + 4].try_into().expect("4 bytes"));
        let shown = if host > 0 { k.vpid_for(tid, host) } else { 0 };
        record[at..at + 4].copy_from_slice(&shown.to_ne_bytes());
    }
}

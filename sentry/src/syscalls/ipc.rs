//! SysV IPC calls, served against the sandbox's IPC namespace (`kernel::ipc`). The host sees
//! only IPC_PRIVATE objects of mode `HOST_MODE`: a key the sandbox names is looked up in the
//! namespace, and a new keyed object is made private on the host and remembered under its
//! key, with the owner and mode the sandbox gave it. Every other call names an id, which must
//! be one of the sandbox's objects, and is checked against that owner and mode as Linux
//! checks (the host would find every task the owner). IPC_SET is the sentry's: it changes the
//! sandbox's owner and mode, and on the host only a queue's size. IPC_STAT is the sentry's
//! too (the kernel's would write host ids into the task's memory), in the sandbox's terms;
//! semctl's GETPID result is put in them at the exit stop. IPC_INFO and
//! *_INFO give the host's limits with the usage of the sandbox's own objects; the commands
//! that index the host's objects (*_STAT, *_STAT_ANY) are refused.

use super::{deny_event, errno, Action, Call, ExitHook};
use crate::kernel::creds::{CAP_IPC_LOCK, CAP_SYS_RESOURCE};
use crate::kernel::ipc::{max_objects, remove_from_host, Perm, HOST_MODE, PRIVATE};
use crate::kernel::{IpcKind, Kernel};
use nix::errno::Errno;
use platform_ptrace::Tid;

/// Work for the exit stop of an IPC call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpcHook {
    /// A get that creates: remember the object under `key` (PRIVATE: none), with the
    /// sandbox's `mode`. `reserved`: the memory charge of a new segment, settled here.
    Created {
        kind: IpcKind,
        key: i32,
        excl: bool,
        reserved: u64,
        mode: u32,
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
const GETVAL: i32 = 12;
const GETALL: i32 = 13;
const GETNCNT: i32 = 14;
const GETZCNT: i32 = 15;
const SETVAL: i32 = 16;
const SETALL: i32 = 17;
const SHM_RDONLY: u64 = 0o10000;
const SHM_EXEC: u64 = 0o100000;
const READ: u32 = 0o444;
const WRITE: u32 = 0o222;

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
    shmat(id: Int32, addr: Ptr, flags: Hex) => Checked, |call, a| {
        let write = if a.flags & SHM_RDONLY != 0 { 0 } else { WRITE };
        let exec = if a.flags & SHM_EXEC != 0 { 0o111 } else { 0 };
        use_object(call, IpcKind::Shm, a.id, READ | write | exec)
    };
    semop(id: Int32, ops: Ptr, count: UInt) => Checked, |call, a| semop(call, a.id, a.ops, a.count);
    semtimedop(id: Int32, ops: Ptr, count: UInt, timeout: Ptr) => Checked,
        |call, a| semop(call, a.id, a.ops, a.count);
    msgsnd(id: Int32, msg: Ptr, size: UInt, flags: Hex) => Checked,
        |call, a| use_object(call, IpcKind::Msg, a.id, WRITE);
    msgrcv(id: Int32, msg: Ptr, size: UInt, kind: Int, flags: Hex) => Checked,
        |call, a| use_object(call, IpcKind::Msg, a.id, READ);
}

/// The sandbox's owner and mode of its object `id`; EINVAL (as for an id that does not
/// exist) for any other.
fn perm_of(call: &Call, kind: IpcKind, id: i32) -> Result<Perm, Errno> {
    call.kernel.ipc.perm(kind, id).ok_or(Errno::EINVAL)
}

/// Whether the caller may use object `id` with access `asked` (READ, WRITE): only one of
/// the sandbox's, and only as its mode allows (EACCES).
fn may_use(call: &Call, kind: IpcKind, id: i32, asked: u32) -> Result<(), Errno> {
    let perm = perm_of(call, kind, id)?;
    match perm.permits(&call.kernel.creds_of(call.tid), asked) {
        true => Ok(()),
        false => Err(Errno::EACCES),
    }
}

/// A call that uses an object as [`may_use`] allows: the host makes it.
fn use_object(call: &mut Call, kind: IpcKind, id: i32, asked: u32) -> Action {
    match may_use(call, kind, id, asked) {
        Ok(()) => Action::Pass,
        Err(e) => errno(e),
    }
}

/// semop and semtimedop: an operation that changes a semaphore needs write access, one that
/// waits for zero read access. The operations are read only when the caller's access turns
/// on them; anything the kernel refuses first (their number, an unreadable array) is left
/// to it. A thread of the task that rewrites an operation after this read can make a change
/// with read access alone: the sandbox's own objects, between its own users.
fn semop(call: &mut Call, id: i32, ops: u64, count: u64) -> Action {
    let perm = match perm_of(call, IpcKind::Sem, id) {
        Ok(perm) => perm,
        Err(e) => return errno(e),
    };
    let creds = call.kernel.creds_of(call.tid);
    if perm.permits(&creds, READ | WRITE) {
        return Action::Pass;
    }
    // struct sembuf: sem_num (u16), sem_op (i16), sem_flg (i16). More operations than the
    // sentry reads count as a change (the default SEMOPM is 500).
    const SEMBUF: usize = 6;
    const MOST: u64 = 1000;
    if count > MOST {
        return errno(Errno::EACCES);
    }
    let mut sops = vec![0u8; SEMBUF * count as usize];
    if count == 0 || call.kernel.mem.read(call.tid, ops, &mut sops).is_err() {
        return Action::Pass;
    }
    let changes = sops.chunks_exact(SEMBUF).any(|op| op[2..4] != [0, 0]);
    let asked = if changes { WRITE } else { READ };
    if perm.permits(&creds, asked) {
        Action::Pass
    } else {
        errno(Errno::EACCES)
    }
}

/// shmget(key, size, flags), semget(key, nsems, flags), msgget(key, flags); `size` is the
/// size or count a get of an existing object may ask at most.
fn get(call: &mut Call, kind: IpcKind, key: i32, size: u64, flags: i32) -> Action {
    if let Some(id) = call.kernel.ipc.id_of_key(kind, key) {
        if flags & libc::IPC_CREAT != 0 && flags & libc::IPC_EXCL != 0 {
            return errno(Errno::EEXIST);
        }
        if let Err(e) = fits_existing(kind, id, size) {
            return errno(e);
        }
        // The access the flags' mode bits ask for (ipc_check_perms).
        return match may_use(call, kind, id, flags as u32 & 0o777) {
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
        mode: flags as u32 & 0o777,
    });
    // Private, and the sentry's uid's alone, on the host.
    let mut args = call.args;
    args[0] = PRIVATE as u64;
    let flags_at = if kind == IpcKind::Msg { 1 } else { 2 };
    args[flags_at] = (flags as u32 & !0o777 | HOST_MODE) as u64;
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
            if semaphores(id).is_some_and(|count| asked > count) {
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
    let perm = match perm_of(call, kind, id) {
        Ok(perm) => perm,
        Err(e) => return errno(e),
    };
    let creds = call.kernel.creds_of(call.tid);
    let sem = kind == IpcKind::Sem;
    let hook = match cmd {
        libc::IPC_RMID if !perm.may_change(&creds) => return errno(Errno::EPERM),
        libc::IPC_RMID => IpcHook::Removed { kind, id },
        libc::IPC_SET => return super::answered(set(call, kind, id, buf)),
        libc::IPC_STAT => return super::answered(stat(call, kind, id, buf)),
        GETPID | GETVAL | GETALL | GETNCNT | GETZCNT | SETALL if sem => {
            let asked = if cmd == SETALL { WRITE } else { READ };
            if !perm.permits(&creds, asked) {
                return errno(Errno::EACCES);
            }
            if cmd != GETPID {
                return Action::Pass;
            }
            IpcHook::LastPid
        }
        SETVAL if sem && !perm.permits(&creds, WRITE) => {
            return setval_refused(id, call.args[1], buf)
        }
        libc::SHM_LOCK | libc::SHM_UNLOCK if kind == IpcKind::Shm => {
            let owner = creds.euid == perm.owner.0 || creds.euid == perm.creator.0;
            if !owner && !creds.capable(CAP_IPC_LOCK) {
                return errno(Errno::EPERM);
            }
            return Action::Pass;
        }
        _ => return Action::Pass,
    };
    Action::PassThenExit(ExitHook::Ipc(hook))
}

/// SETVAL without write access: EACCES, after the value's range (ERANGE) and the
/// semaphore's number (EINVAL), which Linux checks first; those the host gives.
fn setval_refused(id: i32, number: u64, value: u64) -> Action {
    const SEMVMX: i32 = 32767;
    let in_range = (0..=SEMVMX).contains(&(value as i32));
    if in_range && semaphores(id).is_some_and(|count| number < count) {
        errno(Errno::EACCES)
    } else {
        Action::Pass
    }
}

/// The number of semaphores in host set `id`.
fn semaphores(id: i32) -> Option<u64> {
    // SAFETY: semid_ds is plain data; IPC_STAT fills it and we check the result.
    let mut ds: libc::semid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: IPC_STAT writes one semid_ds at the pointer we pass.
    let rc = unsafe { libc::semctl(id, 0, libc::IPC_STAT, &mut ds as *mut libc::semid_ds) };
    (rc == 0).then_some(ds.sem_nsems as u64)
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
            mode,
        } => created(k, tid, (kind, key, excl, reserved), mode, rval),
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

fn created(k: &mut Kernel, tid: Tid, made: (IpcKind, i32, bool, u64), mode: u32, rval: i64) -> i64 {
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
    let perm = Perm::new(&k.creds_of(tid), mode);
    k.ipc.record(kind, id, key, perm);
    if kind == IpcKind::Shm && reserved > 0 {
        k.memory.shm_created(tgid, id, reserved);
    }
    rval
}

/// The length of x86_64's struct shmid64_ds, msqid64_ds, semid64_ds.
fn record_len(kind: IpcKind) -> usize {
    match kind {
        IpcKind::Shm => 112,
        IpcKind::Msg => 120,
        IpcKind::Sem => 104,
    }
}

/// IPC_STAT or IPC_SET of host object `id` with `record` (the raw call's 64-bit layout).
fn host_ctl(kind: IpcKind, id: i32, cmd: i32, record: &mut [u8; 120]) -> Result<(), Errno> {
    let at = record.as_mut_ptr();
    // SAFETY: each call reads or writes one record of at most 120 bytes at `at`, ours.
    let rc = unsafe {
        match kind {
            IpcKind::Shm => libc::syscall(libc::SYS_shmctl, id, cmd, at),
            IpcKind::Msg => libc::syscall(libc::SYS_msgctl, id, cmd, at),
            IpcKind::Sem => libc::syscall(libc::SYS_semctl, id, 0, cmd, at),
        }
    };
    match rc {
        0.. => Ok(()),
        _ => Err(Errno::last()),
    }
}

/// The host's record of object `id` (IPC_STAT).
fn host_record(kind: IpcKind, id: i32) -> Result<[u8; 120], Errno> {
    let mut record = [0u8; 120];
    host_ctl(kind, id, libc::IPC_STAT, &mut record)?;
    Ok(record)
}

/// IPC_STAT, made by the sentry: the kernel's own would write the object's record, with the
/// host's ids and pids, into the task's memory, where another thread could read it before
/// the exit stop put it in the sandbox's terms. The sentry reads the record itself, refuses
/// it (EACCES) where Linux would refuse the task (the sandbox's owner and mode, the task's
/// sandbox credentials), and writes it in the sandbox's terms (`in_sandbox_terms`).
fn stat(call: &mut Call, kind: IpcKind, id: i32, buf: u64) -> Result<(), Errno> {
    may_use(call, kind, id, READ)?;
    let mut record = host_record(kind, id)?;
    let record = &mut record[..record_len(kind)];
    in_sandbox_terms(call.kernel, call.tid, kind, id, record);
    call.kernel
        .mem
        .write(call.tid, buf, record)
        .map_err(|_| Errno::EFAULT)
}

/// IPC_SET, made by the sentry: the owner and mode the sandbox gives change in its
/// namespace, checked as Linux checks them (the owner or creator, or CAP_SYS_ADMIN: EPERM;
/// an id of -1: EINVAL); on the host the object stays the sentry's uid's with `HOST_MODE`,
/// and only a queue's size (and the change time) is set there. A queue larger than msgmnb
/// needs CAP_SYS_RESOURCE in the sandbox (and the host's leave, for a sentry that is not
/// root).
fn set(call: &mut Call, kind: IpcKind, id: i32, buf: u64) -> Result<(), Errno> {
    let len = record_len(kind);
    let mut given = [0u8; 120];
    call.kernel
        .mem
        .read(call.tid, buf, &mut given[..len])
        .map_err(|_| Errno::EFAULT)?;
    let perm = perm_of(call, kind, id)?;
    let creds = call.kernel.creds_of(call.tid);
    if !perm.may_change(&creds) {
        return Err(Errno::EPERM);
    }
    let word = |at: usize| u32::from_ne_bytes(given[at..at + 4].try_into().expect("4 bytes"));
    // msqid64_ds.msg_qbytes.
    const QBYTES: usize = 88;
    let mut host = host_record(kind, id)?;
    if kind == IpcKind::Msg {
        let qbytes = u64::from_ne_bytes(given[QBYTES..QBYTES + 8].try_into().expect("8 bytes"));
        if qbytes > queue_limit() && !creds.capable(CAP_SYS_RESOURCE) {
            return Err(Errno::EPERM);
        }
        host[QBYTES..QBYTES + 8].copy_from_slice(&qbytes.to_ne_bytes());
    }
    let (uid, gid, mode) = (word(4), word(8), word(20));
    if uid == u32::MAX || gid == u32::MAX {
        return Err(Errno::EINVAL);
    }
    // The host's owner stays; its mode keeps the kernel's own bits (SHM_DEST, SHM_LOCKED).
    let host_mode = u32::from_ne_bytes(host[20..24].try_into().expect("4 bytes"));
    host[20..24].copy_from_slice(&(host_mode & !0o777 | HOST_MODE).to_ne_bytes());
    host_ctl(kind, id, libc::IPC_SET, &mut host)?;
    call.kernel.ipc.set_perm(kind, id, (uid, gid), mode);
    Ok(())
}

/// msgmnb: the largest queue a task without CAP_SYS_RESOURCE may ask for.
fn queue_limit() -> u64 {
    crate::host::read_proc_text("/proc/sys/kernel/msgmnb")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(16384)
}

/// IPC_STAT's record as the sandbox would see it in a namespace of its own: the key it
/// named, the owner and creator it knows, the pids in its numbers. Offsets are x86_64's
/// struct shmid64_ds / msqid64_ds / semid64_ds, which begin with struct ipc64_perm.
fn in_sandbox_terms(k: &Kernel, tid: Tid, kind: IpcKind, id: i32, record: &mut [u8]) {
    let key = k.ipc.key_of(kind, id).unwrap_or(PRIVATE);
    let Some(perm) = k.ipc.perm(kind, id) else {
        return;
    };
    let (owner, creator) = (perm.owner, perm.creator);
    record[0..4].copy_from_slice(&key.to_ne_bytes());
    for (at, value) in [(4, owner.0), (8, owner.1), (12, creator.0), (16, creator.1)] {
        record[at..at + 4].copy_from_slice(&value.to_ne_bytes());
    }
    // The sandbox's permission bits, beside the kernel's own (SHM_DEST, SHM_LOCKED).
    let host_mode = u32::from_ne_bytes(record[20..24].try_into().expect("4 bytes"));
    record[20..24].copy_from_slice(&(host_mode & !0o777 | perm.mode).to_ne_bytes());
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

//! The fd owner and lock commands of fcntl(2) and the ioctls that carry a process id: the
//! owner that receives SIGIO (F_SETOWN, F_SETOWN_EX, FIOSETOWN, SIOCSPGRP), a terminal's
//! foreground group (TIOCSPGRP), and the ids the kernel reports (F_GETOWN, F_GETOWN_EX,
//! F_GETLK, FIOGETOWN, SIOCGPGRP, TIOCGPGRP, TIOCGSID). A host pid never reaches the
//! sandbox and a sandbox id never reaches a host process: ids are translated, and one that
//! names no task of the sandbox is ESRCH, as in a PID namespace holding only the sandbox.
//! Where the kernel would read an id from task memory, the sentry reads it once and either
//! rewrites the call into a register-only form or makes the call itself on its own
//! duplicate of the fd. Where the kernel would write one there (F_GETOWN_EX, F_GETLK,
//! F_OFD_GETLK, FIOGETOWN, SIOCGPGRP, TIOCGPGRP, TIOCGSID), the sentry answers whole,
//! from its duplicate or from /proc, and writes the caller's numbers: a host id written
//! by the kernel would be readable by another thread before an exit stop could fix it.

use super::{Action, Call, ExitHook};
use crate::kernel::Kernel;
use nix::errno::Errno;
use platform_ptrace::Tid;
use std::os::fd::AsRawFd;
use syscalls::Sysno;

fn errno(e: Errno) -> Action {
    Action::Return(-(e as i64))
}

const F_GETLK: u64 = 5;
const F_SETOWN: u64 = 8;
const F_GETOWN: u64 = 9;
const F_SETOWN_EX: u64 = 15;
const F_GETOWN_EX: u64 = 16;
const F_OFD_GETLK: u64 = 36;
const F_SETLEASE: u64 = 1024;
const CAP_LEASE: u32 = 28;
const F_OWNER_TID: i32 = 0;
const F_OWNER_PID: i32 = 1;
const F_OWNER_PGRP: i32 = 2;

const FIOSETOWN: u64 = 0x8901;
const SIOCSPGRP: u64 = 0x8902;
const FIOGETOWN: u64 = 0x8903;
const SIOCGPGRP: u64 = 0x8904;

/// The fcntl commands the sentry must see, for the seccomp filter's guard.
pub const COMMANDS: [u32; 7] = [
    F_GETLK as u32,
    F_SETOWN as u32,
    F_GETOWN as u32,
    F_SETOWN_EX as u32,
    F_GETOWN_EX as u32,
    F_OFD_GETLK as u32,
    F_SETLEASE as u32,
];

/// Work for the exit stop: an id the kernel returned, in the caller's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerHook {
    /// The result is an owner: a pid, or a process group as its negative.
    Owner,
}

/// A sandbox owner (pid, or -pgid) as the host's; 0 stays 0 (no owner).
fn owner_to_host(k: &Kernel, tid: Tid, owner: i32) -> Result<i32, Errno> {
    let host = match owner {
        0 => Ok(0),
        p if p > 0 => k.translate(tid, p).ok_or(Errno::ESRCH),
        g => k
            .translate_pgrp(tid, g.checked_neg().ok_or(Errno::ESRCH)?)
            .map(|h| -h)
            .ok_or(Errno::ESRCH),
    }?;
    may_own(k, tid, host)?;
    Ok(host)
}

/// Whether the caller may make host owner `host` (pid, -pgid, 0) receive the fd's signals.
/// Linux accepts any owner and drops, at delivery, a signal the owner's setter could not
/// send (sigio_perm); the host cannot, as every task of the sandbox has the same host uid,
/// so the sentry refuses such an owner at once (EPERM): a process that had dropped to
/// nobody had root's processes killed by SIGIO or F_SETSIG's signal.
fn may_own(k: &Kernel, tid: Tid, host: i32) -> Result<(), Errno> {
    let allowed = match host {
        _ if k.creds_of(tid).capable(crate::kernel::creds::CAP_KILL) => true,
        0 => true,
        p if p > 0 => super::sys_signal::may_signal(k, tid, p, 0),
        g => k
            .group_members(-g)
            .into_iter()
            .all(|p| super::sys_signal::may_signal(k, tid, p, 0)),
    };
    if allowed {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// A host owner as the caller's number for it; one outside the sandbox shows as 0.
fn owner_to_sandbox(k: &Kernel, tid: Tid, owner: i32) -> i32 {
    match owner {
        0 => 0,
        p if p > 0 => k.vpid_for(tid, p),
        g => -k.vpid_for(tid, -g),
    }
}

// fcntl stops only for the commands that need the sentry (see `filter`): fd owners and lock
// holders, pidfds of peers; and, while memory is accounted, duplicates of memfds.
crate::syscall_entries! {
    fcntl(fd: Fd, command: Int32, arg: Hex) => Checked, |call, _| {
        fcntl(call, super::memfd::handle)
    };
}

/// fcntl(fd, cmd, arg) for the commands in [`COMMANDS`]; any other goes on to `other`.
fn fcntl(call: &mut Call, other: impl FnOnce(&mut Call) -> Action) -> Action {
    let cmd = call.args[1] & 0xffff_ffff;
    let hook = |h| Action::PassThenExit(ExitHook::Owner(h));
    match cmd {
        F_SETOWN => match owner_to_host(call.kernel, call.tid, call.args[2] as i32) {
            Ok(host) => {
                let mut args = call.args;
                args[2] = host as i64 as u64;
                Action::PassWith(args)
            }
            Err(e) => errno(e),
        },
        F_GETOWN => hook(OwnerHook::Owner),
        F_SETOWN_EX => setown_ex(call).unwrap_or_else(errno),
        F_GETOWN_EX => super::answered(getown_ex(call)),
        F_GETLK => super::answered(get_lock(call)),
        F_OFD_GETLK => super::answered(get_ofd_lock(call)),
        F_SETLEASE => set_lease(call).unwrap_or_else(errno),
        _ => other(call),
    }
}

/// F_SETOWN_EX: the struct is read once and the sentry sets the owner itself, on its own
/// duplicate of the fd (the owner belongs to the open file, which the duplicate shares).
fn setown_ex(call: &mut Call) -> Result<Action, Errno> {
    let mut raw = [0u8; 8];
    call.kernel
        .mem
        .read(call.tid, call.args[2], &mut raw)
        .map_err(|_| Errno::EFAULT)?;
    let kind = i32::from_ne_bytes(raw[0..4].try_into().expect("4 bytes"));
    let id = i32::from_ne_bytes(raw[4..8].try_into().expect("4 bytes"));
    let host = match kind {
        F_OWNER_TID | F_OWNER_PID if id > 0 => call.kernel.translate(call.tid, id),
        F_OWNER_PGRP if id > 0 => call.kernel.translate_pgrp(call.tid, id),
        F_OWNER_TID | F_OWNER_PID | F_OWNER_PGRP if id == 0 => Some(0),
        F_OWNER_TID | F_OWNER_PID | F_OWNER_PGRP => None,
        _ => return Err(Errno::EINVAL),
    }
    .ok_or(Errno::ESRCH)?;
    may_own(
        call.kernel,
        call.tid,
        if kind == F_OWNER_PGRP { -host } else { host },
    )?;
    let file = call.task_fd(call.args[0] as i32)?;
    let owner = [kind, host];
    // SAFETY: F_SETOWN_EX reads one struct f_owner_ex (two ints) from memory we own, on an
    // fd we own.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), F_SETOWN_EX as i32, owner.as_ptr()) };
    if rc < 0 {
        return Err(Errno::last());
    }
    Ok(Action::Return(0))
}

/// F_SETLEASE with the sandbox's rule (the owner it sees, or CAP_LEASE), made by the sentry
/// on its own duplicate: on the host the file may belong to the gofer's user, not the
/// task's. The lease belongs to the open file, which the duplicate shares; its break signal
/// goes to the task's process, as if the task had set it.
fn set_lease(call: &mut Call) -> Result<Action, Errno> {
    let file = call.task_fd(call.args[0] as i32)?;
    let creds = call.kernel.creds_of(call.tid);
    let unlock = call.args[2] as i32 == libc::F_UNLCK;
    if !unlock && !creds.capable(CAP_LEASE) {
        let st = nix::sys::stat::fstat(file.as_raw_fd()).map_err(|_| Errno::EBADF)?;
        let owner = call
            .kernel
            .shown_owner(st.st_dev, st.st_ino, st.st_uid, st.st_gid);
        if owner.uid != creds.fsuid {
            return Err(Errno::EACCES);
        }
    }
    // SAFETY: fcntl with integer arguments on an fd we own.
    if unsafe { libc::fcntl(file.as_raw_fd(), F_SETLEASE as i32, call.args[2] as i32) } < 0 {
        return Err(Errno::last());
    }
    if !unlock {
        // The kernel made the sentry the file's owner; the task's process is.
        let tgid = call.kernel.tgid_of(call.tid);
        // SAFETY: fcntl with integer arguments on an fd we own.
        unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETOWN, tgid) };
    }
    Ok(Action::Return(0))
}

/// The pid-bearing ioctls; `None` for any other command.
pub fn ioctl(call: &mut Call) -> Option<Action> {
    let cmd = call.args[1] & 0xffff_ffff;
    match cmd {
        FIOSETOWN | SIOCSPGRP => Some(set_socket_owner(call).unwrap_or_else(errno)),
        FIOGETOWN | SIOCGPGRP => Some(super::answered(get_owner_at(call))),
        c if c == libc::TIOCSPGRP => Some(set_foreground(call).unwrap_or_else(errno)),
        c if c == libc::TIOCGPGRP || c == libc::TIOCGSID => {
            Some(super::answered(terminal_ids(call, c)))
        }
        _ => None,
    }
}

/// F_GETOWN_EX, asked by the sentry of its own duplicate of the fd (the owner belongs to the
/// open file): the kernel's would write the owner's host id into the task's memory, where
/// another thread could read it before the exit stop put it in the caller's numbers.
fn getown_ex(call: &mut Call) -> Result<(), Errno> {
    let file = call.task_fd(call.args[0] as i32)?;
    // struct f_owner_ex { int type; pid_t pid; }
    let mut ex = [0i32; 2];
    // SAFETY: F_GETOWN_EX writes one struct f_owner_ex (8 bytes) into ours.
    if unsafe { libc::fcntl(file.as_raw_fd(), F_GETOWN_EX as i32, ex.as_mut_ptr()) } < 0 {
        return Err(Errno::last());
    }
    let pid = call.kernel.vpid_for(call.tid, ex[1]);
    let bytes = [ex[0].to_ne_bytes(), pid.to_ne_bytes()].concat();
    let mem = &*call.kernel.mem;
    mem.write(call.tid, call.args[2], &bytes)
        .map_err(|_| Errno::EFAULT)
}

/// FIOGETOWN and SIOCGPGRP: a socket's owner (F_GETOWN; ENOTTY for any other file, as
/// Linux), asked by the sentry of its own duplicate of the fd and written in the caller's
/// terms (a pid, or a group negated), for the reason `getown_ex` gives.
fn get_owner_at(call: &mut Call) -> Result<(), Errno> {
    let file = call.task_fd(call.args[0] as i32)?;
    let st = nix::sys::stat::fstat(file.as_raw_fd()).map_err(|_| Errno::EBADF)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(Errno::ENOTTY);
    }
    // SAFETY: F_GETOWN takes no pointer.
    let owner = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETOWN) };
    if owner == -1 {
        return Err(Errno::last());
    }
    let shown = owner_to_sandbox(call.kernel, call.tid, owner);
    let mem = &*call.kernel.mem;
    mem.write(call.tid, call.args[2], &shown.to_ne_bytes())
        .map_err(|_| Errno::EFAULT)
}

/// struct flock: l_type (i16) at 0, l_whence (i16) at 2, l_start at 8, l_len at 16, l_pid
/// (i32) at 24.
const FLOCK_SIZE: usize = 32;

/// A struct flock as the task wrote it, its padding kept: the kernel writes back the whole
/// struct it read.
struct Flock([u8; FLOCK_SIZE]);

impl Flock {
    fn read(call: &Call) -> Result<Flock, Errno> {
        let mut raw = [0u8; FLOCK_SIZE];
        call.kernel
            .mem
            .read(call.tid, call.args[2], &mut raw)
            .map_err(|_| Errno::EFAULT)?;
        Ok(Flock(raw))
    }

    fn write(&self, call: &Call) -> Result<(), Errno> {
        let mem = &*call.kernel.mem;
        mem.write(call.tid, call.args[2], &self.0)
            .map_err(|_| Errno::EFAULT)
    }

    fn kind(&self) -> i16 {
        i16::from_ne_bytes([self.0[0], self.0[1]])
    }

    fn whence(&self) -> i16 {
        i16::from_ne_bytes([self.0[2], self.0[3]])
    }

    fn int64(&self, at: usize) -> i64 {
        i64::from_ne_bytes(self.0[at..at + 8].try_into().expect("8 bytes"))
    }

    fn pid(&self) -> i32 {
        i32::from_ne_bytes(self.0[24..28].try_into().expect("4 bytes"))
    }

    fn set_kind(&mut self, kind: i16) {
        self.0[0..2].copy_from_slice(&kind.to_ne_bytes());
    }

    /// The holder of a conflicting lock: its type and range (from the start of the file),
    /// and its pid in the caller's numbers.
    fn set_holder(&mut self, lock: &HeldLock, pid: i32) {
        self.set_kind(lock.kind);
        self.0[2..4].copy_from_slice(&(libc::SEEK_SET as i16).to_ne_bytes());
        self.0[8..16].copy_from_slice(&lock.start.to_ne_bytes());
        let len = lock.end.map_or(0, |end| end - lock.start + 1);
        self.0[16..24].copy_from_slice(&len.to_ne_bytes());
        self.0[24..28].copy_from_slice(&pid.to_ne_bytes());
    }
}

/// A lock of /proc/locks: POSIX or OFD, its holder's host pid (-1 for an OFD lock), its
/// file, type and range (`end` None: to the end of the file).
#[derive(Debug, PartialEq, Eq)]
struct HeldLock {
    ofd: bool,
    pid: i32,
    dev: (u32, u32),
    ino: u64,
    kind: i16,
    start: i64,
    end: Option<i64>,
}

/// The POSIX and OFD locks of /proc/locks (`text`), each once: the blocked requests listed
/// under a lock ("->") and other kinds (FLOCK, LEASE) are left out.
fn posix_locks(text: &str) -> Vec<HeldLock> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let ofd = match *f.get(1)? {
                "POSIX" => false,
                "OFDLCK" => true,
                _ => return None,
            };
            let kind = match *f.get(3)? {
                "WRITE" => libc::F_WRLCK as i16,
                "READ" => libc::F_RDLCK as i16,
                _ => return None,
            };
            let mut dev = f.get(5)?.split(':');
            let major = u32::from_str_radix(dev.next()?, 16).ok()?;
            let minor = u32::from_str_radix(dev.next()?, 16).ok()?;
            let ino = dev.next()?.parse().ok()?;
            let end = match *f.get(7)? {
                "EOF" => None,
                n => Some(n.parse().ok()?),
            };
            Some(HeldLock {
                ofd,
                pid: f.get(4)?.parse().ok()?,
                dev: (major, minor),
                ino,
                kind,
                start: f.get(6)?.parse().ok()?,
                end,
            })
        })
        .collect()
}

/// The range of a struct flock from the start of the file, as Linux reckons it
/// (flock64_to_posix_lock): `position` and `size` are the file's offset and size, for
/// SEEK_CUR and SEEK_END. `end` None: to the end of the file.
fn lock_range(
    whence: i16,
    start: i64,
    len: i64,
    position: i64,
    size: i64,
) -> Result<(i64, Option<i64>), Errno> {
    let base = match i32::from(whence) {
        libc::SEEK_SET => 0,
        libc::SEEK_CUR => position,
        libc::SEEK_END => size,
        _ => return Err(Errno::EINVAL),
    };
    let from = base.checked_add(start).ok_or(Errno::EOVERFLOW)?;
    if from < 0 {
        return Err(Errno::EINVAL);
    }
    match len {
        0 => Ok((from, None)),
        l if l > 0 => {
            let end = from.checked_add(l - 1).ok_or(Errno::EOVERFLOW)?;
            Ok((from, Some(end)))
        }
        l => {
            let begin = from + l; // l < 0 and from >= 0: no overflow
            if begin < 0 {
                return Err(Errno::EINVAL);
            }
            Ok((begin, Some(from - 1)))
        }
    }
}

/// The first lock of `locks` on the file (`dev`, `ino`) that a POSIX lock of type `kind`
/// over `range` by process `caller` (host id) conflicts with: one of another owner (a
/// process's own POSIX locks never conflict with its own; an OFD lock always may), that
/// overlaps, one of the two a write lock.
fn first_conflict(
    locks: &[HeldLock],
    file: ((u32, u32), u64),
    kind: i16,
    range: (i64, Option<i64>),
    caller: i32,
) -> Option<&HeldLock> {
    let (start, end) = (range.0, range.1.unwrap_or(i64::MAX));
    locks.iter().find(|l| {
        (l.dev, l.ino) == file
            && (l.ofd || l.pid != caller)
            && l.start <= end
            && l.end.unwrap_or(i64::MAX) >= start
            && (kind == libc::F_WRLCK as i16 || l.kind == libc::F_WRLCK as i16)
    })
}

/// F_GETLK, answered by the sentry from /proc/locks: the kernel's answer would put the
/// holder's host pid in the task's memory, where another thread could read it before the
/// exit stop put it in the sandbox's numbers; and the sentry cannot ask the kernel in the
/// task's place, since a POSIX lock's owner is the asking process. The kernel reports the
/// first conflicting lock of the file's list, this the first of /proc/locks: with several
/// conflicting locks, the one named may differ.
fn get_lock(call: &mut Call) -> Result<(), Errno> {
    let file = file_of(call)?;
    let mut flock = Flock::read(call)?;
    let kind = flock.kind();
    if kind != libc::F_RDLCK as i16 && kind != libc::F_WRLCK as i16 {
        return Err(Errno::EINVAL);
    }
    let st = nix::sys::stat::fstat(file.as_raw_fd()).map_err(|_| Errno::EBADF)?;
    // SAFETY: lseek with integer arguments on an fd we own (the task's open file, whose
    // offset it shares); a file without one (a pipe) counts from 0.
    let position = unsafe { libc::lseek(file.as_raw_fd(), 0, libc::SEEK_CUR) }.max(0);
    let range = lock_range(
        flock.whence(),
        flock.int64(8),
        flock.int64(16),
        position,
        st.st_size,
    )?;
    let text = std::fs::read_to_string("/proc/locks").map_err(|_| Errno::ENOLCK)?;
    let locks = posix_locks(&text);
    let this = ((libc::major(st.st_dev), libc::minor(st.st_dev)), st.st_ino);
    let caller = call.kernel.tgid_of(call.tid);
    match first_conflict(&locks, this, kind, range, caller) {
        Some(lock) => {
            let pid = match lock.pid {
                -1 => -1,
                host => call.kernel.vpid_for(call.tid, host),
            };
            flock.set_holder(lock, pid);
        }
        None => flock.set_kind(libc::F_UNLCK as i16),
    }
    flock.write(call)
}

/// F_OFD_GETLK, made by the sentry on its own duplicate of the fd (an OFD lock's owner is
/// the open file, which the duplicate shares, so the answer is the task's), the holder
/// written in the caller's numbers.
fn get_ofd_lock(call: &mut Call) -> Result<(), Errno> {
    let file = file_of(call)?;
    let mut flock = Flock::read(call)?;
    // SAFETY: F_OFD_GETLK reads and writes one struct flock (FLOCK_SIZE bytes) in memory we
    // own, on an fd we own.
    let rc = unsafe {
        libc::fcntl(
            file.as_raw_fd(),
            F_OFD_GETLK as i32,
            flock.0.as_mut_ptr().cast::<libc::flock>(),
        )
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    if flock.kind() != libc::F_UNLCK as i16 && flock.pid() > 0 {
        let pid = call.kernel.vpid_for(call.tid, flock.pid());
        flock.0[24..28].copy_from_slice(&pid.to_ne_bytes());
    }
    flock.write(call)
}

/// TIOCGPGRP and TIOCGSID, answered by the sentry and written in the caller's numbers: the
/// kernel's answer would put the host id in the task's memory, where another thread could
/// read it before the exit stop put it in the sandbox's terms. A pty master answers anyone,
/// so the sentry asks its own duplicate; any other terminal answers only a process whose
/// controlling terminal it is, with what /proc says of that terminal.
fn terminal_ids(call: &mut Call, cmd: u64) -> Result<(), Errno> {
    let file = file_of(call)?;
    let st = nix::sys::stat::fstat(file.as_raw_fd()).map_err(|_| Errno::EBADF)?;
    let character_device = st.st_mode & libc::S_IFMT == libc::S_IFCHR;
    let mut index: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int into memory we own; only a pty master
    // answers it.
    let master = character_device
        && unsafe { libc::ioctl(file.as_raw_fd(), libc::TIOCGPTN, &mut index) } == 0;
    let host = if master {
        let mut id: libc::pid_t = 0;
        // SAFETY: TIOCGPGRP and TIOCGSID write one pid_t into memory we own.
        if unsafe { libc::ioctl(file.as_raw_fd(), cmd as _, &mut id) } < 0 {
            return Err(Errno::last());
        }
        id
    } else if character_device {
        let stat = call
            .kernel
            .mem
            .proc_file(call.tid, "stat")
            .ok_or(Errno::ESRCH)?;
        controlling_terminal_id(&stat, st.st_rdev, cmd)?
    } else {
        return Err(Errno::ENOTTY);
    };
    let shown = if host > 0 {
        call.kernel.vpid_for(call.tid, host)
    } else {
        0
    };
    let mem = &*call.kernel.mem;
    mem.write(call.tid, call.args[2], &shown.to_ne_bytes())
        .map_err(|_| Errno::EFAULT)
}

/// What TIOCGPGRP or TIOCGSID (`cmd`) answers of the terminal `rdev` for the task whose
/// /proc stat is `stat`: its terminal's foreground group or its session (host ids) when
/// the terminal is its controlling terminal (or /dev/tty, which stands for it), ENOTTY for
/// any other, as Linux answers a terminal that is not the caller's.
fn controlling_terminal_id(stat: &str, rdev: u64, cmd: u64) -> Result<i32, Errno> {
    // "pid (comm) state ppid pgrp session tty_nr tpgid …": comm may hold spaces and ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .ok_or(Errno::ESRCH)?
        .1
        .split(' ')
        .collect();
    let field = |i: usize| -> Result<i64, Errno> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or(Errno::ESRCH)
    };
    let (session, tty_nr, foreground) = (field(3)?, field(4)?, field(5)?);
    if tty_nr == 0 {
        return Err(Errno::ENOTTY);
    }
    // The encoding of /proc's tty_nr (new_encode_dev).
    let tty_major = (tty_nr >> 8) & 0xfff;
    let tty_minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xf_ff00);
    let (major, minor) = (i64::from(libc::major(rdev)), i64::from(libc::minor(rdev)));
    let controlling = (major, minor) == (tty_major, tty_minor) || (major, minor) == (5, 0);
    if !controlling {
        return Err(Errno::ENOTTY);
    }
    let id = if cmd == libc::TIOCGPGRP {
        foreground
    } else {
        session
    };
    i32::try_from(id).map_err(|_| Errno::ESRCH)
}

/// The sentry's duplicate of the file the call's fd (its first argument) is open on; EBADF
/// for an O_PATH fd, which fcntl's lock commands and ioctl refuse.
fn file_of(call: &Call) -> Result<std::os::fd::OwnedFd, Errno> {
    let file = call.task_fd(call.args[0] as i32)?;
    if super::sys_open::is_path_fd(&file) {
        return Err(Errno::EBADF);
    }
    Ok(file)
}

/// FIOSETOWN and SIOCSPGRP set a socket's owner as F_SETOWN does: the call becomes that
/// fcntl, with the id (read once) translated into its register.
fn set_socket_owner(call: &mut Call) -> Result<Action, Errno> {
    let file = call.task_fd(call.args[0] as i32)?;
    let st = nix::sys::stat::fstat(file.as_raw_fd()).map_err(|_| Errno::EBADF)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(Errno::ENOTTY);
    }
    let owner = call.kernel.mem.read_i32(call.tid, call.args[2])?;
    let host = owner_to_host(call.kernel, call.tid, owner)?;
    Ok(Action::PassAs {
        nr: Sysno::fcntl.id() as u64,
        args: [call.args[0], F_SETOWN, host as i64 as u64, 0, 0, 0],
    })
}

/// TIOCSPGRP: the kernel makes the call in the task, since it acts on the caller's own
/// controlling terminal and session, and reads the group from the task's memory: the group
/// (read once, translated) goes there for the call (`Action::PassWithHostBytes`). What a task
/// could change meanwhile (the fd, through a table it shares) reaches nothing outside the
/// sandbox: the kernel takes only the caller's controlling terminal, and only a group of the
/// caller's session, and every session of the sandbox holds only its processes (its first
/// process starts a session of its own).
fn set_foreground(call: &mut Call) -> Result<Action, Errno> {
    let addr = call.args[2];
    let pgrp = call.kernel.mem.read_i32(call.tid, addr)?;
    if pgrp < 0 {
        return Err(Errno::EINVAL);
    }
    let host = call
        .kernel
        .translate_pgrp(call.tid, pgrp)
        .ok_or(Errno::ESRCH)?;
    Ok(Action::PassWithHostBytes {
        args: call.args,
        arg: 2,
        host: host.to_ne_bytes().to_vec(),
        own: pgrp.to_ne_bytes().to_vec(),
    })
}

/// The exit stop: the owner the kernel returned in the caller's numbers.
pub fn at_exit(k: &Kernel, tid: Tid, hook: OwnerHook, rval: i64) -> i64 {
    match hook {
        OwnerHook::Owner if rval < 0 => rval,
        OwnerHook::Owner => owner_to_sandbox(k, tid, rval as i32) as i64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// /proc stat of host task 700 (session 650, group 700) whose controlling terminal is
    /// /dev/pts/3 (136, 3), with group 710 in the foreground; its comm holds ") ".
    const STAT: &str = "700 (a) b) S 690 700 650 34819 710 4194560 0 0";

    #[test]
    fn the_controlling_terminal_reports_its_group_and_session() {
        let pts3 = libc::makedev(136, 3);
        assert_eq!(
            controlling_terminal_id(STAT, pts3, libc::TIOCGPGRP),
            Ok(710)
        );
        assert_eq!(controlling_terminal_id(STAT, pts3, libc::TIOCGSID), Ok(650));
        // /dev/tty stands for it.
        let tty = libc::makedev(5, 0);
        assert_eq!(controlling_terminal_id(STAT, tty, libc::TIOCGPGRP), Ok(710));
    }

    #[test]
    fn another_terminal_or_none_is_enotty() {
        let pts4 = libc::makedev(136, 4);
        assert_eq!(
            controlling_terminal_id(STAT, pts4, libc::TIOCGPGRP),
            Err(Errno::ENOTTY)
        );
        // A minor above 255 is encoded apart: /dev/pts/259 is not /dev/pts/3.
        let pts259 = libc::makedev(137, 3);
        assert_eq!(
            controlling_terminal_id(STAT, pts259, libc::TIOCGSID),
            Err(Errno::ENOTTY)
        );
        let none = "700 (a) S 690 700 650 0 -1 4194560";
        let tty = libc::makedev(5, 0);
        assert_eq!(
            controlling_terminal_id(none, tty, libc::TIOCGPGRP),
            Err(Errno::ENOTTY)
        );
    }

    const LOCKS: &str = "\
1: POSIX  ADVISORY  WRITE 994 fe:00:10010707 5 14
1: -> POSIX  ADVISORY  WRITE 995 fe:00:10010707 0 EOF
2: OFDLCK ADVISORY  READ -1 fe:00:10010707 20 EOF
3: FLOCK  ADVISORY  WRITE 996 fe:00:10010708
4: POSIX  ADVISORY  READ 997 103:0a:77 0 0
";

    #[test]
    fn proc_locks_are_read_without_waiters_and_other_kinds() {
        let locks = posix_locks(LOCKS);
        let at = |ino, kind: i32, start, end| (ino, kind as i16, start, end);
        let seen: Vec<_> = locks
            .iter()
            .map(|l| (l.ino, l.kind, l.start, l.end))
            .collect();
        assert_eq!(
            seen,
            [
                at(10010707, libc::F_WRLCK, 5, Some(14)),
                at(10010707, libc::F_RDLCK, 20, None),
                at(77, libc::F_RDLCK, 0, Some(0)),
            ]
        );
        assert_eq!((locks[0].pid, locks[0].ofd), (994, false));
        assert_eq!((locks[1].pid, locks[1].ofd), (-1, true));
        assert_eq!(locks[2].dev, (0x103, 0x0a));
    }

    #[test]
    fn a_lock_range_is_reckoned_as_linux_does() {
        let set = libc::SEEK_SET as i16;
        assert_eq!(lock_range(set, 5, 10, 0, 0), Ok((5, Some(14))));
        assert_eq!(lock_range(set, 5, 0, 0, 0), Ok((5, None)));
        assert_eq!(lock_range(set, 10, -4, 0, 0), Ok((6, Some(9))));
        assert_eq!(lock_range(set, 2, -4, 0, 0), Err(Errno::EINVAL));
        assert_eq!(lock_range(set, -1, 1, 0, 0), Err(Errno::EINVAL));
        let cur = libc::SEEK_CUR as i16;
        assert_eq!(lock_range(cur, 2, 3, 100, 0), Ok((102, Some(104))));
        let end = libc::SEEK_END as i16;
        assert_eq!(lock_range(end, -10, 0, 0, 50), Ok((40, None)));
        assert_eq!(lock_range(7, 0, 0, 0, 0), Err(Errno::EINVAL));
        assert_eq!(lock_range(set, i64::MAX, 2, 0, 0), Err(Errno::EOVERFLOW));
        assert_eq!(lock_range(cur, i64::MAX, 1, 1, 0), Err(Errno::EOVERFLOW));
    }

    #[test]
    fn the_conflict_is_another_owners_overlapping_lock_one_of_them_writing() {
        let locks = posix_locks(LOCKS);
        let file = ((0xfe, 0), 10010707);
        let (read, write) = (libc::F_RDLCK as i16, libc::F_WRLCK as i16);
        // Another process's write lock over 5-14.
        let found = first_conflict(&locks, file, read, (0, Some(9)), 1);
        assert_eq!(found.map(|l| l.pid), Some(994));
        // The caller's own POSIX lock: not a conflict; the OFD read lock reads alike.
        assert!(first_conflict(&locks, file, read, (0, None), 994).is_none());
        // A write over the OFD read lock conflicts, whoever asks.
        let found = first_conflict(&locks, file, write, (30, None), 994);
        assert_eq!(found.map(|l| l.pid), Some(-1));
        // Beside the locks, or on another file: none.
        assert!(first_conflict(&locks, file, write, (15, Some(19)), 1).is_none());
        assert!(first_conflict(&locks, ((0xfe, 1), 10010707), write, (0, None), 1).is_none());
    }
}

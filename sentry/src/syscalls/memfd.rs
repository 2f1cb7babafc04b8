//! Memfds under memory accounting. A memfd grows by write(2) and its relatives
//! as well as by ftruncate/fallocate, and every byte it holds is memory. So that a write
//! that may grow one is charged before the host runs it, while ordinary writes stay in the
//! kernel, every memfd of a task lives at fd number [`FLOOR`] or above: memfd_create, dup
//! and a reopen through /proc put it there, and the seccomp filter stops the write family
//! only for fds at or above the floor. What could carry a memfd below the floor is refused
//! with a trace event: dup2/dup3 onto a lower number, SCM_RIGHTS (the receiver's kernel
//! picks the number), and asynchronous writes (io_submit) to a memfd.

use super::mm::memfd_resize;
use super::signalfd::FLOOR;
use super::{deny_event, errno, Action, Call};
use crate::kernel::memory::{memfd_of, page_up, Inode};
use nix::errno::Errno;
use platform_ptrace::seccomp::{ArgTest, Guard};
use platform_ptrace::Tid;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use syscalls::Sysno;

/// The calls that write to, or duplicate, the fd in one of their arguments.
pub const MEMFD_GUARDED: [(Sysno, u8); 12] = [
    (Sysno::write, 0),
    (Sysno::pwrite64, 0),
    (Sysno::writev, 0),
    (Sysno::pwritev, 0),
    (Sysno::pwritev2, 0),
    (Sysno::sendfile, 0),
    (Sysno::splice, 2),
    (Sysno::copy_file_range, 2),
    (Sysno::dup, 0),
    (Sysno::dup2, 0),
    (Sysno::dup3, 0),
    (Sysno::fcntl, 0),
];

/// The most a single read or write moves (the kernel's MAX_RW_COUNT).
const MAX_RW_COUNT: u64 = 0x7fff_f000;
const RWF_APPEND: u64 = 0x10;

/// The guards for the seccomp filter.
pub fn guards() -> Vec<Guard> {
    MEMFD_GUARDED
        .iter()
        .map(|&(sysno, arg)| Guard {
            nr: sysno.id() as u32,
            arg,
            test: ArgTest::AtLeast(FLOOR),
        })
        .collect()
}

// Calls that can grow or duplicate a memfd: they stop when memory is accounted (under
// `--platform=seccomp` only for fds at or above FLOOR: `guards`).
crate::syscall_entries! {
    write(fd: Fd, buf: Ptr, count: Int) => Passthrough, |call, _| handle(call);
    pwrite64(fd: Fd, buf: Ptr, count: Int, offset: Int) => Passthrough, |call, _| handle(call);
    writev(fd: Fd, iov: Ptr, count: Int) => Passthrough, |call, _| handle(call);
    pwritev(fd: Fd, iov: Ptr, count: Int, offset: Int) => Passthrough, |call, _| handle(call);
    pwritev2(fd: Fd, iov: Ptr, count: Int, offset: Int, offset_high: Hex, flags: Hex) =>
        Passthrough,
        |call, _| handle(call);
    // Signalfds live at or above the floor too (see `signalfd`): the dups stop for fds
    // there whatever the policy.
    dup(fd: Fd) => Checked, |call, _| handle(call);
    dup2(fd: Fd, to: Fd) => Checked, |call, _| handle(call);
    dup3(fd: Fd, to: Fd, flags: Hex) => Checked, |call, _| handle(call);
    sendfile(out: Fd, from: Fd, offset: Ptr, count: Int) => Passthrough, |call, _| handle(call);
    splice(from: Fd, from_offset: Ptr, to: Fd, to_offset: Ptr, len: Int, flags: Hex) =>
        Passthrough, |call, _| handle(call);
    copy_file_range(from: Fd, from_offset: Ptr, to: Fd, to_offset: Ptr, len: Int, flags: Hex) =>
        Passthrough, |call, _| handle(call);
    io_submit(ctx: Hex, count: Int, iocbs: Ptr) => Passthrough, |call, _| io_submit(call);
    memfd_create(name: Ptr, flags: Hex) => Passthrough, |call, _| create(call);
}

/// A guarded call.
pub fn handle(call: &mut Call) -> Action {
    let Some(&(_, arg)) = MEMFD_GUARDED.iter().find(|&&(s, _)| s == call.sysno) else {
        return Action::Pass;
    };
    // The kernel reads an fd as its low 32 bits. Under ptrace every call stops here.
    let fd = call.args[arg as usize] as u32;
    if fd < FLOOR {
        return Action::Pass;
    }
    let dup = matches!(
        call.sysno,
        Sysno::dup | Sysno::dup2 | Sysno::dup3 | Sysno::fcntl
    );
    if dup && super::signalfd::is_signalfd(call, fd) {
        return super::signalfd::duplicate(call, fd);
    }
    if !call.kernel.memory.active() {
        return Action::Pass;
    }
    let Some((ino, now)) = memfd_of(call.tid, fd as u64) else {
        return Action::Pass;
    };
    match call.sysno {
        Sysno::dup | Sysno::dup2 | Sysno::dup3 | Sysno::fcntl => duplicate(call, fd),
        _ => match grown_to(call, fd) {
            Ok(target) => memfd_resize(call, fd as u64, (ino, now), target, Errno::ENOMEM),
            Err(e) => errno(e),
        },
    }
}

/// dup and fcntl(F_DUPFD*) of a memfd take the lowest free number at or above the floor;
/// dup2/dup3 onto a number below it are refused.
fn duplicate(call: &mut Call, fd: u32) -> Action {
    match call.sysno {
        Sysno::dup => Action::PassAs {
            nr: Sysno::fcntl.id() as u64,
            args: [fd as u64, libc::F_DUPFD as u64, FLOOR as u64, 0, 0, 0],
        },
        Sysno::fcntl => {
            let cmd = call.args[1] as i32;
            let lowest = call.args[2] as i32;
            if (cmd == libc::F_DUPFD || cmd == libc::F_DUPFD_CLOEXEC) && lowest >= 0 {
                let mut args = call.args;
                args[2] = (lowest as u32).max(FLOOR) as u64;
                Action::PassWith(args)
            } else {
                Action::Pass
            }
        }
        _ => {
            let target = call.args[1] as u32;
            if target >= FLOOR || target == fd {
                return Action::Pass;
            }
            deny_event(
                call,
                Errno::EPERM as i32,
                "a memfd stays at fd 512 or above while memory is accounted",
            );
            errno(Errno::EPERM)
        }
    }
}

/// The size (in whole pages) the memfd at `fd` can have after this write-family call.
fn grown_to(call: &Call, fd: u32) -> Result<Option<u64>, Errno> {
    let tid = call.tid;
    let a = call.args;
    let mem = &*call.kernel.mem;
    let (mut at, append) = position(mem, tid, fd);
    let len = match call.sysno {
        Sysno::write => a[2],
        Sysno::pwrite64 => {
            at = a[3];
            a[2]
        }
        Sysno::writev => vector_len(mem, tid, a[1], a[2])?,
        Sysno::pwritev | Sysno::pwritev2 => {
            if !(call.sysno == Sysno::pwritev2 && a[3] as i64 == -1) {
                at = a[3];
            }
            vector_len(mem, tid, a[1], a[2])?
        }
        // sendfile(out, in, in offset, len)
        Sysno::sendfile => a[3].min(available(mem, tid, a[1] as u32, a[2])?),
        // splice and copy_file_range: (in, in offset, out, out offset, len, flags).
        _ => {
            if a[3] != 0 {
                at = read_offset(mem, tid, a[3])?;
            }
            a[4].min(available(mem, tid, a[0] as u32, a[1])?)
        }
    };
    if (at as i64) < 0 {
        return Ok(None); // EINVAL from the host
    }
    let append = append || (call.sysno == Sysno::pwritev2 && a[5] & RWF_APPEND != 0);
    if append {
        at = size_of(tid, fd);
    }
    Ok(at.checked_add(len.min(MAX_RW_COUNT)).and_then(page_up))
}

fn read_offset(mem: &dyn crate::host::TaskMemory, tid: Tid, at: u64) -> Result<u64, Errno> {
    let mut offset = [0u8; 8];
    mem.read(tid, at, &mut offset).map_err(|_| Errno::EFAULT)?;
    Ok(u64::from_ne_bytes(offset))
}

/// How much a copy from the task's fd `fd` (read at `*offset_at`, or its position) can
/// move: what is left of a regular file; from a pipe or socket, at most a pipe's worth
/// (/proc/sys/fs/pipe-max-size; should more arrive, the exit stop charges it).
fn available(
    mem: &dyn crate::host::TaskMemory,
    tid: Tid,
    fd: u32,
    offset_at: u64,
) -> Result<u64, Errno> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(format!("/proc/{tid}/fd/{fd}"));
    match meta {
        Ok(m) if m.file_type().is_file() => {
            let at = if offset_at != 0 {
                read_offset(mem, tid, offset_at)?
            } else {
                position(mem, tid, fd).0
            };
            Ok(m.size().saturating_sub(at))
        }
        _ => Ok(std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(1 << 20)),
    }
}

/// The file position of a task's fd and whether it was opened O_APPEND (/proc fdinfo).
fn position(mem: &dyn crate::host::TaskMemory, tid: Tid, fd: u32) -> (u64, bool) {
    let text = mem
        .proc_file(tid, &format!("fdinfo/{fd}"))
        .unwrap_or_default();
    let pos = crate::host::proc_field(&text, "pos:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let flags = crate::host::fdinfo_flags(&text);
    (pos, flags & libc::O_APPEND as u64 != 0)
}

fn size_of(tid: Tid, fd: u32) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{tid}/fd/{fd}")).map_or(0, |m| m.size())
}

/// The bytes an iovec array in task memory describes.
fn vector_len(
    mem: &dyn crate::host::TaskMemory,
    tid: Tid,
    iov: u64,
    count: u64,
) -> Result<u64, Errno> {
    const UIO_MAXIOV: u64 = 1024;
    if count > UIO_MAXIOV {
        return Ok(0); // EINVAL from the host
    }
    let mut raw = vec![0u8; count as usize * 16];
    mem.read(tid, iov, &mut raw).map_err(|_| Errno::EFAULT)?;
    Ok(raw
        .chunks_exact(16)
        .map(|e| u64::from_ne_bytes(e[8..16].try_into().expect("8 bytes")))
        .fold(0u64, u64::saturating_add))
}

/// io_submit: an asynchronous write to a memfd is refused (EINVAL, as for a file that does
/// not support it); the sentry could not charge it before the kernel runs it.
fn io_submit(call: &mut Call) -> Action {
    const IOCB_CMD_PWRITE: u16 = 1;
    const IOCB_CMD_PWRITEV: u16 = 8;
    let [_, count, list, ..] = call.args;
    for i in 0..(count as i64).clamp(0, 65536) as u64 {
        let mut ptr = [0u8; 8];
        // The kernel stops at the first unreadable entry; so does the check.
        if call
            .kernel
            .mem
            .read(call.tid, list + i * 8, &mut ptr)
            .is_err()
        {
            break;
        }
        // struct iocb: ... u16 aio_lio_opcode at 16, u32 aio_fildes at 20.
        let mut iocb = [0u8; 24];
        if call
            .kernel
            .mem
            .read(call.tid, u64::from_ne_bytes(ptr), &mut iocb)
            .is_err()
        {
            break;
        }
        let opcode = u16::from_ne_bytes([iocb[16], iocb[17]]);
        let fd = u32::from_ne_bytes(iocb[20..24].try_into().expect("4 bytes"));
        if (opcode == IOCB_CMD_PWRITE || opcode == IOCB_CMD_PWRITEV)
            && fd >= FLOOR
            && memfd_of(call.tid, fd as u64).is_some()
        {
            deny_event(
                call,
                Errno::EINVAL as i32,
                "asynchronous write to a memfd while memory is accounted",
            );
            return errno(Errno::EINVAL);
        }
    }
    Action::Pass
}

/// memfd_create, made by the sentry so that the fd can be placed at or above the floor
/// (the kernel would take the lowest free number). The memfd is owned by the task's host
/// fs ids, as if the task had made it.
pub fn create(call: &mut Call) -> Action {
    // The kernel's limit: NAME_MAX less "memfd:".
    const MAX_NAME: usize = 249;
    let name = match call
        .kernel
        .mem
        .read_cstring(call.tid, call.args[0], MAX_NAME)
    {
        Ok(name) => name,
        Err(nix::errno::Errno::ENAMETOOLONG) => return errno(Errno::EINVAL),
        Err(e) => return errno(Errno::from_raw(e as i32)),
    };
    let name = std::ffi::CString::new(name).expect("read up to the NUL");
    let flags = call.args[1] as u32;
    let made = super::ids::as_task_fs_ids(call.tid, || {
        // SAFETY: memfd_create with a NUL-terminated name; the result is checked.
        let raw = unsafe { libc::memfd_create(name.as_ptr(), flags | libc::MFD_CLOEXEC) };
        if raw < 0 {
            return Err(Errno::from_raw(
                std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
            ));
        }
        // SAFETY: `raw` is a new fd that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(raw) })
    });
    let fd = match made {
        Ok(fd) => fd,
        Err(e) => return errno(e),
    };
    if let Some(ino) = inode_of(fd.as_raw_fd()) {
        let who = call.kernel.shown_pid(call.tid);
        call.kernel.memory.memfd_set(who, ino, 0);
    }
    Action::Install {
        fd,
        cloexec: flags & libc::MFD_CLOEXEC != 0,
    }
}

fn inode_of(fd: i32) -> Option<Inode> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(format!("/proc/self/fd/{fd}")).ok()?;
    Some((m.dev(), m.ino()))
}

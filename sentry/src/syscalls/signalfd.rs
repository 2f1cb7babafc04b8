//! Signalfds. A read of one has the kernel write, in each record, the sender's host pid and
//! uid (ssi_pid, ssi_uid) into the task's memory. So no task ever reads a signalfd in the
//! kernel: the sentry serves the read as rt_sigtimedwait is served (`Action::WaitSignal`:
//! the task waits in ppoll with the fd's signals let through its mask, and the sentry takes
//! the signal at its delivery stop and writes the record itself, in the sandbox's terms).
//!
//! For the sentry to see those reads without stopping every read, signalfds live at fd
//! numbers from [`FLOOR`] up to [`CEILING`] (excluded), where the seccomp filter stops the
//! read family (read, readv, preadv2 at the file position): a program with more fds than
//! that reads the ones above at the kernel's speed. The sentry makes every signalfd itself
//! and installs it there (EMFILE when those numbers are all taken); dup and F_DUPFD of one
//! are installs too. What would put one elsewhere, or at a number the sentry did not
//! choose, is refused with a trace event: dup2/dup3 of a signalfd, and SCM_RIGHTS carrying
//! one (the receiver's kernel picks the number). The dups themselves stop for every fd at
//! or above the floor, where memfds live too.
//!
//! A read of any other fd in that range runs in the kernel, and its number is kept until
//! the thread meets the sentry again (its next call, stop or exit; by then the kernel has
//! looked the fd up): no signalfd is installed at that number meanwhile, so another thread
//! cannot swap one in between the sentry's look and the kernel's.
//!
//! Linux AIO reads an fd named in memory the sentry cannot hold still, so a process (or fd
//! table) has either AIO contexts or signalfds, never both.

use super::{deny_event, errno, Action, Call, Delivery};
use crate::kernel::Kernel;
use nix::errno::Errno;
use platform_ptrace::seccomp::{ArgTest, Guard};
use platform_ptrace::Tid;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use syscalls::Sysno;

/// The lowest fd number a signalfd takes, and a memfd while memory is accounted (see
/// `memfd`). Below the usual soft RLIMIT_NOFILE (1024), above what ordinary programs open.
pub const FLOOR: u32 = 512;

/// The number above the highest a signalfd takes: room for 64 per process.
pub const CEILING: u32 = FLOOR + 64;

/// What /proc shows as the target of a signalfd.
const SIGNALFD_LINK: &[u8] = b"anon_inode:[signalfd]";

/// The size of one record (struct signalfd_siginfo).
pub const RECORD: usize = 128;

/// The calls that read from the fd in their first argument: they stop for the fds where
/// signalfds live.
const READS: [Sysno; 3] = [Sysno::read, Sysno::readv, Sysno::preadv2];

/// The calls that duplicate the fd in their first argument: they stop for every fd at or
/// above the floor.
const DUPLICATES: [Sysno; 4] = [Sysno::dup, Sysno::dup2, Sysno::dup3, Sysno::fcntl];

/// The dups: notified under `--platform=ptrace` for fds below the floor (see `filter`).
pub const DUPS: [Sysno; 3] = [Sysno::dup, Sysno::dup2, Sysno::dup3];

/// The guards for the seccomp filters.
pub fn guards(calls: &[Sysno]) -> Vec<Guard> {
    calls
        .iter()
        .map(|&sysno| Guard {
            nr: sysno.id() as u32,
            arg: 0,
            test: ArgTest::AtLeast(FLOOR),
        })
        .collect()
}

/// The guards of the main filter.
pub fn filter_guards() -> Vec<Guard> {
    let reads = READS.iter().map(|&sysno| Guard {
        nr: sysno.id() as u32,
        arg: 0,
        test: ArgTest::Within(FLOOR, CEILING),
    });
    reads.chain(guards(&DUPLICATES)).collect()
}

crate::syscall_entries! {
    signalfd(fd: Int32, mask: Ptr, size: UInt) => Checked,
        |call, a| create(call, a.fd, a.mask, a.size, 0);
    signalfd4(fd: Int32, mask: Ptr, size: UInt, flags: Hex) => Checked,
        |call, a| create(call, a.fd, a.mask, a.size, a.flags);
    read(fd: Fd, buf: Ptr, count: UInt) => Checked,
        |call, a| read(call, a.fd, a.count, Delivery::Record { at: a.buf }, false);
    readv(fd: Fd, iov: Ptr, count: UInt) => Checked,
        |call, a| readv(call, a.fd, a.iov, a.count, false);
    // At the file position (offset -1) a signalfd reads as with readv; at an offset it
    // fails with ESPIPE before reading anything.
    preadv2(fd: Fd, iov: Ptr, count: UInt, offset: Int, offset_high: Hex, flags: Hex) =>
        Checked, |call, a| {
        const RWF_NOWAIT: u64 = 0x8;
        match a.offset {
            -1 => readv(call, a.fd, a.iov, a.count, a.flags & RWF_NOWAIT != 0),
            _ => Action::Pass,
        }
    };
    io_setup(events: UInt, context: Ptr) => Checked, io_setup;
}

/// signalfd4(-1, mask, size, flags): made by the sentry (a signalfd reads the queue of
/// whoever reads it, so one the sentry made serves the task as its own would), installed at
/// or above the floor. With an fd of its own the task changes that signalfd's mask.
fn create(call: &mut Call, fd: i32, mask: u64, size: u64, flags: u64) -> Action {
    if fd != -1 {
        return Action::Pass;
    }
    if size != 8 {
        return errno(Errno::EINVAL);
    }
    let mut set = [0u8; 8];
    if call.kernel.mem.read(call.tid, mask, &mut set).is_err() {
        return errno(Errno::EFAULT);
    }
    if uses_aio(call) {
        deny_event(
            call,
            libc::EINVAL,
            "a signalfd for a process that uses Linux AIO",
        );
        return errno(Errno::EINVAL);
    }
    // SAFETY: signalfd4 reads 8 bytes of `set` and returns a new fd or -1.
    let raw = unsafe {
        libc::syscall(
            libc::SYS_signalfd4,
            -1,
            set.as_ptr(),
            8usize,
            (flags as i32) | libc::SFD_CLOEXEC,
        )
    };
    if raw < 0 {
        return errno(Errno::last());
    }
    // SAFETY: `raw` is a new fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw as i32) };
    Action::InstallAbove {
        fd,
        cloexec: flags & libc::SFD_CLOEXEC as u64 != 0,
        at_least: FLOOR,
    }
}

/// Whether the caller's process, or one that may share its fd table, has had an AIO
/// context: it gets no signalfd.
pub fn uses_aio(call: &Call) -> bool {
    let k = &*call.kernel;
    k.aio_processes.contains(&k.tgid_of(call.tid))
        || (k.fd_table_shared(call.tid) && !k.aio_processes.is_empty())
}

/// A signalfd of the task: its mask and whether it does not block (from /proc fdinfo,
/// which only a signalfd gives a "sigmask:").
fn signalfd_state(k: &Kernel, tid: Tid, fd: i32) -> Option<(u64, bool)> {
    let text = k.mem.proc_file(tid, &format!("fdinfo/{fd}"))?;
    let mask = u64::from_str_radix(crate::host::proc_field(&text, "sigmask:")?, 16).ok()?;
    let flags = crate::host::fdinfo_flags(&text);
    Some((mask, flags & libc::O_NONBLOCK as u64 != 0))
}

/// Whether the task's fd `fd` is a signalfd.
pub fn is_signalfd(call: &Call, fd: u32) -> bool {
    fd < i32::MAX as u32 && signalfd_state(call.kernel, call.tid, fd as i32).is_some()
}

/// A read of `count` bytes from `fd` (see the module's comment).
fn read(call: &mut Call, fd: i32, count: u64, delivery: Delivery, nowait: bool) -> Action {
    let Some((set, nonblock)) = high_signalfd(call, fd) else {
        return Action::Pass;
    };
    wait(set, nonblock || nowait, count, delivery)
}

/// readv and preadv2 at the file position: as read, with the iovecs' total (read from the
/// task only for a signalfd's read: the kernel says what a bad vector is for any other).
fn readv(call: &mut Call, fd: i32, iov: u64, count: u64, nowait: bool) -> Action {
    let Some((set, nonblock)) = high_signalfd(call, fd) else {
        return Action::Pass;
    };
    let total = match vectors(&*call.kernel.mem, call.tid, iov, count) {
        Ok(v) => v.iter().map(|&(_, len)| len).fold(0, u64::saturating_add),
        Err(e) => return errno(e),
    };
    let delivery = Delivery::RecordVector { iov, count };
    wait(set, nonblock || nowait, total, delivery)
}

/// The mask of the signalfd a read names, and whether it does not block; None for an fd
/// below the floor (no signalfd) and for any other fd at or above it, whose number is then
/// kept from new signalfds until the thread's next call.
fn high_signalfd(call: &mut Call, fd: i32) -> Option<(u64, bool)> {
    if fd < FLOOR as i32 {
        return None;
    }
    let state = signalfd_state(call.kernel, call.tid, fd);
    if state.is_none() {
        call.kernel.high_reads.insert(call.tid, fd as u32);
    }
    state
}

/// A signalfd's read of `count` bytes: a wait for one of `set` (see `signal_wait`).
fn wait(set: u64, nonblocking: bool, count: u64, delivery: Delivery) -> Action {
    if count < RECORD as u64 {
        return errno(Errno::EINVAL);
    }
    Action::WaitSignal {
        set,
        timeout: nonblocking.then_some([0; 16]),
        delivery,
    }
}

/// The (address, length) pairs of an iovec array in task memory.
fn vectors(
    mem: &dyn crate::host::TaskMemory,
    tid: Tid,
    iov: u64,
    count: u64,
) -> Result<Vec<(u64, u64)>, Errno> {
    const UIO_MAXIOV: u64 = 1024;
    if count > UIO_MAXIOV {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; count as usize * 16];
    mem.read(tid, iov, &mut raw).map_err(|_| Errno::EFAULT)?;
    Ok(raw
        .chunks_exact(16)
        .map(|e| {
            let word = |at: usize| u64::from_ne_bytes(e[at..at + 8].try_into().expect("8 bytes"));
            (word(0), word(8))
        })
        .collect())
}

/// Writes one record where a signalfd read of the task puts it; false if the memory is
/// not the task's to write (the read then fails with EFAULT).
pub fn write_record(k: &Kernel, tid: Tid, delivery: Delivery, record: &[u8; RECORD]) -> bool {
    let mem = &*k.mem;
    match delivery {
        Delivery::Record { at } => mem.write(tid, at, record).is_ok(),
        Delivery::RecordVector { iov, count } => {
            let Ok(vectors) = vectors(mem, tid, iov, count) else {
                return false;
            };
            let mut left: &[u8] = record;
            for (at, len) in vectors {
                if left.is_empty() {
                    break;
                }
                let n = (len as usize).min(left.len());
                if mem.write(tid, at, &left[..n]).is_err() {
                    return false;
                }
                left = &left[n..];
            }
            left.is_empty()
        }
        Delivery::Siginfo { .. } => false,
    }
}

/// The record (struct signalfd_siginfo) of a siginfo, field by field as the kernel's
/// signalfd_copyinfo fills it for the siginfo's layout.
pub fn record_of(info: &[u8; 128]) -> [u8; RECORD] {
    let i32_at = |at: usize| i32::from_ne_bytes(info[at..at + 4].try_into().expect("4 bytes"));
    let u64_at = |at: usize| u64::from_ne_bytes(info[at..at + 8].try_into().expect("8 bytes"));
    let (signo, code) = (i32_at(0), i32_at(8));
    let mut record = [0u8; RECORD];
    let mut put = |at: usize, bytes: &[u8]| record[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, &signo.to_ne_bytes());
    put(4, &i32_at(4).to_ne_bytes());
    put(8, &code.to_ne_bytes());
    // signalfd_siginfo: pid 12, uid 16, fd 20, tid 24, band 28, overrun 32, trapno 36,
    // status 40, int 44, ptr 48, utime 56, stime 64, addr 72, addr_lsb 80, syscall 84,
    // call_addr 88, arch 96. The siginfo's union starts at 16.
    match layout(signo, code) {
        Layout::Kill => {
            put(12, &info[16..24]);
        }
        Layout::Rt => {
            put(12, &info[16..24]);
            put(44, &info[24..28]);
            put(48, &u64_at(24).to_ne_bytes());
        }
        Layout::Timer => {
            put(24, &info[16..20]);
            put(32, &info[20..24]);
            put(44, &info[24..28]);
            put(48, &u64_at(24).to_ne_bytes());
        }
        Layout::Child => {
            put(12, &info[16..24]);
            put(40, &info[24..28]);
            put(56, &u64_at(32).to_ne_bytes());
            put(64, &u64_at(40).to_ne_bytes());
        }
        Layout::Poll => {
            put(28, &(u64_at(16) as u32).to_ne_bytes());
            put(20, &info[24..28]);
        }
        Layout::Fault { lsb } => {
            put(72, &u64_at(16).to_ne_bytes());
            if lsb {
                put(80, &info[24..26]);
            }
        }
        Layout::Sys => {
            put(88, &u64_at(16).to_ne_bytes());
            put(84, &info[24..28]);
            put(96, &info[28..32]);
        }
    }
    record
}

/// Which of its union's members a siginfo fills (the kernel's siginfo_layout).
#[derive(Debug, PartialEq, Eq)]
enum Layout {
    Kill,
    Rt,
    Timer,
    Child,
    Poll,
    Fault { lsb: bool },
    Sys,
}

fn layout(signo: i32, code: i32) -> Layout {
    const SI_KERNEL: i32 = 0x80;
    const SI_TIMER: i32 = -2;
    const SI_SIGIO: i32 = -5;
    const NSIGPOLL: i32 = 6;
    const BUS_MCEERR_AR: i32 = 4;
    const BUS_MCEERR_AO: i32 = 5;
    if code > 0 && code < SI_KERNEL {
        // The codes each signal has (NSIGILL, NSIGFPE, ...): beyond them it is a SIGPOLL's.
        let (limit, layout) = match signo {
            libc::SIGILL => (11, Layout::Fault { lsb: false }),
            libc::SIGFPE => (15, Layout::Fault { lsb: false }),
            libc::SIGSEGV => (10, Layout::Fault { lsb: false }),
            libc::SIGBUS => (
                5,
                Layout::Fault {
                    lsb: (BUS_MCEERR_AR..=BUS_MCEERR_AO).contains(&code),
                },
            ),
            libc::SIGTRAP => (6, Layout::Fault { lsb: false }),
            libc::SIGCHLD => (6, Layout::Child),
            libc::SIGPOLL => (NSIGPOLL, Layout::Poll),
            libc::SIGSYS => (2, Layout::Sys),
            _ => (0, Layout::Kill),
        };
        if code <= limit {
            layout
        } else if code <= NSIGPOLL {
            Layout::Poll
        } else {
            Layout::Kill
        }
    } else {
        match code {
            SI_TIMER => Layout::Timer,
            SI_SIGIO => Layout::Poll,
            c if c < 0 && c != SI_TKILL => Layout::Rt,
            _ => Layout::Kill,
        }
    }
}

const SI_TKILL: i32 = -6;

/// dup, F_DUPFD and dup2/dup3 of a signalfd (see the module's comment).
pub fn duplicate(call: &mut Call, fd: u32) -> Action {
    let copy = |call: &mut Call, cloexec: bool, at_least: u32| match call.task_fd(fd as i32) {
        Ok(fd) => Action::InstallAbove {
            fd,
            cloexec,
            at_least: at_least.max(FLOOR),
        },
        Err(e) => errno(e),
    };
    match call.sysno {
        Sysno::dup => copy(call, false, FLOOR),
        Sysno::fcntl => {
            let (cmd, lowest) = (call.args[1] as i32, call.args[2] as i32);
            match cmd {
                libc::F_DUPFD | libc::F_DUPFD_CLOEXEC if lowest >= 0 => {
                    copy(call, cmd == libc::F_DUPFD_CLOEXEC, lowest as u32)
                }
                _ => Action::Pass,
            }
        }
        _ if call.args[1] as u32 == fd => Action::Pass,
        _ => {
            deny_event(
                call,
                libc::EPERM,
                "a signalfd is not duplicated onto a number of the task's choosing",
            );
            errno(Errno::EPERM)
        }
    }
}

/// io_setup: refused to a process whose fd table holds a signalfd (see the module's
/// comment); otherwise its process is one that uses AIO from now on.
fn io_setup(call: &mut Call, _: args::io_setup) -> Action {
    let holds_signalfd = std::fs::read_dir(format!("/proc/{}/fd", call.tid))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .any(|e| names_signalfd(e.path()))
        })
        .unwrap_or(false);
    if holds_signalfd {
        deny_event(
            call,
            libc::EINVAL,
            "Linux AIO for a process that holds a signalfd",
        );
        return errno(Errno::EINVAL);
    }
    let tgid = call.kernel.tgid_of(call.tid);
    call.kernel.aio_processes.insert(tgid);
    Action::Pass
}

fn is_memfd(fd: BorrowedFd) -> bool {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .is_ok_and(|link| crate::kernel::memory::is_memfd_link(link.as_os_str().as_bytes()))
}

/// Whether the sentry's own fd `fd` is a signalfd.
pub fn is_own_signalfd(fd: BorrowedFd) -> bool {
    names_signalfd(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Whether the /proc fd link at `path` is a signalfd's.
fn names_signalfd(path: impl AsRef<std::path::Path>) -> bool {
    std::fs::read_link(path).is_ok_and(|link| link.as_os_str().as_bytes() == SIGNALFD_LINK)
}

/// Where an fd being installed in task `tid` goes: a signalfd (installed with `at_least`,
/// see `Action::InstallAbove`) at the lowest free number from `at_least` (and the floor)
/// below the ceiling that no read in flight names, EMFILE if there is none; a memfd while
/// memory is accounted at the lowest such number at or above the floor; anything else at
/// the lowest free number (None). ESRCH when the task's fd table cannot be read (it ended).
pub fn slot(
    k: &Kernel,
    tid: Tid,
    fd: BorrowedFd,
    at_least: Option<u32>,
) -> Result<Option<u32>, Errno> {
    let (floor, ceiling) = match at_least {
        Some(at_least) => (at_least.max(FLOOR), CEILING),
        None if k.memory.active() && is_memfd(fd) => (FLOOR, u32::MAX),
        None => return Ok(None),
    };
    let mut taken: hashbrown::HashSet<u32> = std::fs::read_dir(format!("/proc/{tid}/fd"))
        .map_err(|_| Errno::ESRCH)?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&n| n >= floor)
        .collect();
    taken.extend(k.high_reads.values().copied());
    match (floor..ceiling).find(|n| !taken.contains(n)) {
        Some(n) => Ok(Some(n)),
        None => Err(Errno::EMFILE),
    }
}

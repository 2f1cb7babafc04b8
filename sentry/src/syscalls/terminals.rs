//! The sandbox's pseudo-terminals (`kernel::ptys`): /dev/ptmx opens the host's and numbers
//! the new terminal for the sandbox; /dev/pts lists and opens only the sandbox's own; TIOCGPTN
//! answers the sandbox's number. A terminal's other end is opened with TIOCGPTPEER on a
//! master that a process of the sandbox holds, never by a host path, so a host terminal
//! that took a number the sandbox's once had is out of reach. The sentry opens every end
//! with O_NOCTTY, so its own open never gives anyone a controlling terminal: when Linux's
//! open would (a session leader without one opens a terminal without O_NOCTTY), the open
//! is answered with `Action::InstallTerminal` and the task itself makes TIOCSCTTY on the fd
//! it was given before its open returns (see `supervisor::terminal`).

use super::{Action, Call};
use nix::errno::Errno;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The host's devpts index of the master `fd`.
fn host_index(fd: &OwnedFd) -> Result<u32, Errno> {
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int into memory we own.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGPTN, &mut n) } < 0 {
        return Err(Errno::last());
    }
    Ok(n)
}

/// The directory that backs the sandbox's /dev/pts (in the sentry's scratch directory).
fn pts_dir(call: &Call) -> Option<std::path::PathBuf> {
    let mounts = call.kernel.mounts(call.tid);
    let dev = mounts.mounts.iter().find(|m| m.is_dev)?;
    Some(dev.host_root.join("pts"))
}

/// A master the sentry just opened from /dev/ptmx: the sandbox numbers it, and its
/// /dev/pts lists it.
pub(super) fn made(call: &mut Call, master: &OwnedFd) -> Result<(), Errno> {
    let n = call.kernel.ptys.register(host_index(master)?);
    if let Some(dir) = pts_dir(call) {
        let _ = std::fs::File::create(dir.join(n.to_string()));
    }
    Ok(())
}

/// Opens the other end of the sandbox's terminal whose host index is `host`, through a
/// master a process of the sandbox holds; ENOENT when none does (the terminal is gone).
pub(super) fn open_slave(call: &mut Call, host: u32, flags: i32) -> Result<OwnedFd, Errno> {
    let peer_flags = flags & (libc::O_ACCMODE | libc::O_NONBLOCK) | libc::O_NOCTTY;
    if let Some(own) = &call.kernel.ptys.own_master {
        if host_index(own) == Ok(host) {
            return peer(own, peer_flags);
        }
    }
    let groups: Vec<_> = call
        .kernel
        .tasks
        .iter()
        .filter(|(&tid, t)| t.tgid == tid)
        .map(|(&tid, _)| tid)
        .collect();
    for tgid in groups {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{tgid}/fd")) else {
            continue;
        };
        for entry in fds.flatten() {
            let is_master = std::fs::read_link(entry.path()).is_ok_and(|target| {
                target == std::path::Path::new("/dev/ptmx")
                    || target == std::path::Path::new("/dev/pts/ptmx")
            });
            let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            if !is_master {
                continue;
            }
            let Ok(master) = crate::host::task_fd(tgid, fd) else {
                continue;
            };
            if host_index(&master) != Ok(host) {
                continue;
            }
            return peer(&master, peer_flags);
        }
    }
    if let Some(n) = call.kernel.ptys.sandbox_of(host) {
        call.kernel.ptys.forget(n);
        if let Some(dir) = pts_dir(call) {
            let _ = std::fs::remove_file(dir.join(n.to_string()));
        }
    }
    Err(Errno::ENOENT)
}

/// The other end of `master`, opened with `flags`.
fn peer(master: &OwnedFd, flags: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: TIOCGPTPEER takes open flags and returns a new fd or -1.
    let slave = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            flags | libc::O_CLOEXEC,
        )
    };
    if slave < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the fd was just made and is ours alone.
    Ok(unsafe { OwnedFd::from_raw_fd(slave) })
}

/// Whether an open of a terminal of the sandbox with `flags` makes it the caller's
/// controlling terminal, as Linux's tty_open does: no O_NOCTTY, opened for reading (a
/// write-only open never gives one), and the caller leads its session and has no
/// controlling terminal yet. The kernel checks the last two again when the task makes the
/// TIOCSCTTY, and also that no other session has the terminal.
pub(super) fn becomes_controlling(call: &Call, flags: i32) -> bool {
    if flags & libc::O_NOCTTY != 0 || flags & libc::O_ACCMODE == libc::O_WRONLY {
        return false;
    }
    let Some(stat) = call.kernel.mem.proc_file(call.tid, "stat") else {
        return false;
    };
    // "pid (comm) state ppid pgrp session tty_nr …": comm may hold spaces and ')'.
    let Some((_, fields)) = stat.rsplit_once(") ") else {
        return false;
    };
    let mut fields = fields.split(' ').skip(3);
    let session: Option<i32> = fields.next().and_then(|f| f.parse().ok());
    let tty_nr: Option<u64> = fields.next().and_then(|f| f.parse().ok());
    session == Some(call.kernel.tgid_of(call.tid)) && tty_nr == Some(0)
}

/// open("/dev/tty"): the caller's controlling terminal. One of the sandbox's opens as its
/// /dev/pts/N would; with none, ENXIO as on Linux. None: another terminal (the sentry's
/// own, which the sandbox shares when it has none of its own), which the host opens.
pub(super) fn open_controlling(call: &mut Call, flags: i32) -> Option<Result<OwnedFd, Errno>> {
    let stat = call.kernel.mem.proc_file(call.tid, "stat")?;
    // "pid (comm) state ppid pgrp session tty_nr …": comm may hold spaces and ')'.
    let tty_nr: u64 = stat.rsplit_once(") ")?.1.split(' ').nth(4)?.parse().ok()?;
    if tty_nr == 0 {
        return Some(Err(Errno::ENXIO));
    }
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xf_ff00);
    // Unix98 ptys: majors 136 to 143, 256 minors each.
    if !(136..=143).contains(&major) {
        return None;
    }
    let host = ((major - 136) * 256 + minor) as u32;
    Some(open_slave(call, host, flags))
}

/// ioctl(fd, TIOCGPTN, &n): the sandbox's number of the terminal.
pub(super) fn ptn(call: &mut Call) -> Action {
    let result = (|| -> Result<Action, Errno> {
        let master = call.task_fd(call.args[0] as i32)?;
        let host = host_index(&master)?;
        let n = match call.kernel.ptys.sandbox_of(host) {
            Some(n) => n,
            None => call.kernel.ptys.register(host),
        };
        call.kernel
            .mem
            .write(call.tid, call.args[2], &n.to_ne_bytes())
            .map_err(|_| Errno::EFAULT)?;
        Ok(Action::Return(0))
    })();
    result.unwrap_or_else(|e| Action::Return(-(e as i64)))
}

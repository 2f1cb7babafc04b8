//! Calls that change names and inodes by path: mkdir, mknod, unlink, rmdir, rename, link,
//! symlink, chmod, chown, utime(s), utimensat, truncate, inotify_add_watch.

use super::vfs::*;
use super::{Action, Call};
use gofer::Timespec;
use nix::errno::Errno;
use std::ffi::CString;
use std::os::fd::AsRawFd;

pub(super) fn mkdir_at(
    call: &mut Call,
    dirfd: u64,
    index: usize,
    mode: u32,
) -> Result<Action, Errno> {
    if matches!(last_component(&read_path(call, index)?), b"." | b"..") {
        return Err(Errno::EEXIST);
    }
    let target = resolve_arg(call, dirfd, index, false)?;
    check_writable(call, &target)?;
    let mode = mode & 0o7777 & !umask_of(call.tid);
    super::vfs::check_name_change(call, &target, false)?;
    let owner = super::vfs::creates_as_other(call);
    let (index, rel) = (target.gofer_index, target.rel);
    files(call)?.mkdir(index, &rel, mode)?;
    super::vfs::created(call, index, &rel, owner);
    Ok(Action::Return(0))
}

pub(super) fn mknod_at(
    call: &mut Call,
    dirfd: u64,
    index: usize,
    mode: u32,
    dev: u64,
) -> Result<Action, Errno> {
    let kind = mode & libc::S_IFMT;
    if kind == libc::S_IFCHR || kind == libc::S_IFBLK {
        return Err(Errno::EPERM);
    }
    let target = resolve_arg(call, dirfd, index, false)?;
    check_writable(call, &target)?;
    let mode = kind | (mode & 0o7777 & !umask_of(call.tid));
    super::vfs::check_name_change(call, &target, false)?;
    let owner = super::vfs::creates_as_other(call);
    let (index, rel) = (target.gofer_index, target.rel);
    files(call)?.mknod(index, &rel, mode, dev)?;
    super::vfs::created(call, index, &rel, owner);
    Ok(Action::Return(0))
}

pub(super) fn unlink_at(
    call: &mut Call,
    dirfd: u64,
    index: usize,
    flags: i32,
) -> Result<Action, Errno> {
    if flags & !libc::AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    let raw = read_path(call, index)?;
    match (last_component(&raw), flags & libc::AT_REMOVEDIR != 0) {
        (b".", true) => return Err(Errno::EINVAL),
        (b"..", true) => return Err(Errno::ENOTEMPTY),
        (b"." | b"..", false) => return Err(Errno::EISDIR),
        _ => {}
    }
    let target = resolve_arg(call, dirfd, index, false)?;
    check_writable(call, &target)?;
    if target.rel == b"." {
        return Err(Errno::EBUSY);
    }
    super::vfs::check_name_change(call, &target, true)?;
    let (index, rel) = (target.gofer_index, target.rel);
    super::vfs::removing(call, index, &rel);
    files(call)?.unlink(index, &rel, flags)?;
    Ok(Action::Return(0))
}

/// Two paths (`[olddirfd, oldpath index, newdirfd, newpath index]`) in one mount.
pub(super) fn two_targets(call: &mut Call, at: [u64; 4]) -> Result<(Target, Target), Errno> {
    for index in [at[1], at[3]] {
        let raw = read_path(call, index as usize)?;
        if matches!(last_component(&raw), b"." | b"..") {
            return Err(Errno::EBUSY);
        }
    }
    let from = resolve_arg(call, at[0], at[1] as usize, false)?;
    let to = resolve_arg(call, at[2], at[3] as usize, false)?;
    if from.mount != to.mount {
        return Err(Errno::EXDEV);
    }
    check_writable(call, &to)?;
    Ok((from, to))
}

pub(super) fn rename_at(call: &mut Call, at: [u64; 4], flags: u32) -> Result<Action, Errno> {
    let (from, to) = two_targets(call, at)?;
    super::vfs::check_name_change(call, &from, true)?;
    super::vfs::check_name_change(call, &to, false)?;
    super::vfs::removing(call, to.gofer_index, &to.rel);
    files(call)?.rename(from.gofer_index, &from.rel, to.gofer_index, &to.rel, flags)?;
    Ok(Action::Return(0))
}

pub(super) fn link_at(call: &mut Call, at: [u64; 4], flags: i32) -> Result<Action, Errno> {
    if flags & !(libc::AT_SYMLINK_FOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & libc::AT_EMPTY_PATH != 0 && read_path(call, at[1] as usize)?.is_empty() {
        return link_fd(call, at);
    }
    let (from, to) = two_targets(call, at)?;
    let follow = flags & libc::AT_SYMLINK_FOLLOW != 0;
    super::vfs::check_name_change(call, &to, false)?;
    files(call)?.link(from.gofer_index, &from.rel, to.gofer_index, &to.rel, follow)?;
    Ok(Action::Return(0))
}

/// linkat(fd, "", newdirfd, newpath, AT_EMPTY_PATH): a name for the file behind a task's fd
/// (an O_TMPFILE file, say). The sentry links its own duplicate of the fd into the parent
/// directory the gofer opened, by a single name: no path of the task reaches the host. Like
/// Linux it needs CAP_DAC_READ_SEARCH, which a root sentry has.
pub(super) fn link_fd(call: &mut Call, at: [u64; 4]) -> Result<Action, Errno> {
    let from = call.task_fd(at[0] as i32)?;
    let st = nix::sys::stat::fstat(from.as_raw_fd()).map_err(|_| Errno::EBADF)?;
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        return Err(Errno::EPERM);
    }
    let to = resolve_arg(call, at[2], at[3] as usize, false)?;
    check_writable(call, &to)?;
    super::vfs::check_name_change(call, &to, false)?;
    let (parent, name) = match to.rel.iter().rposition(|&b| b == b'/') {
        Some(i) => (to.rel[..i].to_vec(), to.rel[i + 1..].to_vec()),
        None => (b".".to_vec(), to.rel.clone()),
    };
    if matches!(name.as_slice(), b"" | b"." | b"..") {
        return Err(Errno::EEXIST);
    }
    let dir = files(call)?.open(to.gofer_index, &parent, libc::O_PATH | libc::O_DIRECTORY, 0)?;
    let name = CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: linkat on fds we own, with NUL-terminated strings we own.
    let rc = unsafe {
        libc::linkat(
            from.as_raw_fd(),
            c"".as_ptr(),
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    if rc != 0 {
        return Err(Errno::last());
    }
    Ok(Action::Return(0))
}

pub(super) fn symlink_at(call: &mut Call, dirfd: u64, index: usize) -> Result<Action, Errno> {
    let link_target = read_path(call, 0)?;
    if link_target.is_empty() {
        return Err(Errno::ENOENT);
    }
    let target = resolve_arg(call, dirfd, index, false)?;
    check_writable(call, &target)?;
    super::vfs::check_name_change(call, &target, false)?;
    let owner = super::vfs::creates_as_other(call);
    let (index, rel) = (target.gofer_index, target.rel);
    files(call)?.symlink(index, &rel, &link_target)?;
    super::vfs::created(call, index, &rel, owner);
    Ok(Action::Return(0))
}

pub(super) fn chmod_at(
    call: &mut Call,
    dirfd: u64,
    index: usize,
    mode: u32,
    flags: u64,
) -> Result<Action, Errno> {
    let flags = flags as i32;
    if flags & !libc::AT_SYMLINK_NOFOLLOW != 0 {
        return Err(Errno::EINVAL);
    }
    let target = resolve_arg(call, dirfd, index, false)?;
    check_writable(call, &target)?;
    super::vfs::check_owner(call, &target, flags & libc::AT_SYMLINK_NOFOLLOW == 0)?;
    let (index, rel) = (target.gofer_index, target.rel);
    if flags & libc::AT_SYMLINK_NOFOLLOW != 0 {
        let st = files(call)?.stat(index, &rel, false)?;
        if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
            return Err(Errno::EOPNOTSUPP);
        }
    }
    // The set-user-ID and set-group-ID bits stay in the sentry (the gofer drops them).
    files(call)?.chmod(index, &rel, mode & 0o7777)?;
    let st = files(call)?.stat(index, &rel, flags & libc::AT_SYMLINK_NOFOLLOW == 0)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        call.kernel
            .owners
            .record_special_bits(st.st_dev, st.st_ino, mode);
    }
    Ok(Action::Return(0))
}

pub(super) fn chown_at(
    call: &mut Call,
    dirfd: u64,
    index: usize,
    ids: [u64; 2],
    flags: u64,
) -> Result<Action, Errno> {
    let flags = flags as i32;
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = read_path(call, index)?;
    if path.is_empty() && flags & libc::AT_EMPTY_PATH != 0 {
        // Chown is recorded by the sentry, never done on the host.
        return Ok(super::ids::fchown(call, call.args[0] as i32, ids));
    }
    let target = resolve(call, dirfd, &path, false)?;
    check_writable(call, &target)?;
    let follow = flags & libc::AT_SYMLINK_NOFOLLOW == 0;
    super::ids::chown(call, target, ids, follow)
}

/// Reads a `[timespec; 2]`-like pair of (seconds, sub-second) words; None means "now".
pub(super) fn read_times(
    call: &Call,
    addr: u64,
    nanos_per_unit: i64,
) -> Result<Option<[Timespec; 2]>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let mut raw = [0u8; 32];
    call.kernel
        .mem
        .read(call.tid, addr, &mut raw)
        .map_err(|_| Errno::EFAULT)?;
    let word = |i: usize| i64::from_ne_bytes(raw[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    let time = |i: usize| Timespec {
        sec: word(i * 2),
        nsec: word(i * 2 + 1) * nanos_per_unit,
    };
    Ok(Some([time(0), time(1)]))
}

pub(super) fn utimens(
    call: &mut Call,
    target: Target,
    times: Option<[Timespec; 2]>,
    follow: bool,
) -> Result<Action, Errno> {
    check_writable(call, &target)?;
    // Explicit times need the owner (or CAP_FOWNER); "now" (both UTIME_NOW, as NULL) also
    // write permission. A missing file is ENOENT whoever asks (touch then creates it).
    const UTIME_NOW: i64 = (1 << 30) - 1;
    let now = times.is_none_or(|t| t[0].nsec == UTIME_NOW && t[1].nsec == UTIME_NOW);
    match super::vfs::check_owner(call, &target, follow) {
        Ok(()) => {}
        Err(e) if e != Errno::EPERM && e != Errno::EACCES => return Err(e),
        Err(_) => match now {
            true => {
                let flags = libc::O_WRONLY | if follow { 0 } else { libc::O_NOFOLLOW };
                super::vfs::check_open(call, &target, flags).map_err(|_| Errno::EACCES)?;
            }
            false => return Err(Errno::EPERM),
        },
    }
    let (index, rel) = (target.gofer_index, target.rel);
    files(call)?.utimens(index, &rel, times, follow)?;
    Ok(Action::Return(0))
}

pub(super) fn utime(call: &mut Call) -> Result<Action, Errno> {
    let target = resolve_arg(call, AT_FDCWD, 0, false)?;
    let times = if call.args[1] == 0 {
        None
    } else {
        // struct utimbuf { time_t actime; time_t modtime; }
        let mut raw = [0u8; 16];
        call.kernel
            .mem
            .read(call.tid, call.args[1], &mut raw)
            .map_err(|_| Errno::EFAULT)?;
        let word =
            |i: usize| i64::from_ne_bytes(raw[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        Some([
            Timespec {
                sec: word(0),
                nsec: 0,
            },
            Timespec {
                sec: word(1),
                nsec: 0,
            },
        ])
    };
    utimens(call, target, times, true)
}

pub(super) fn utimes_at(
    call: &mut Call,
    dirfd: u64,
    index: usize,
    times_addr: u64,
) -> Result<Action, Errno> {
    let target = resolve_arg(call, dirfd, index, false)?;
    let times = read_times(call, times_addr, 1000)?;
    utimens(call, target, times, true)
}

pub(super) fn utimensat(call: &mut Call) -> Result<Action, Errno> {
    let [dirfd, path_ptr, times_addr, flags, _, _] = call.args;
    let flags = flags as i32;
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    if path_ptr == 0 {
        // futimens(fd): no path for the kernel to read; a read-only mount is checked.
        super::vfs::refuse_on_read_only_fd(call, dirfd as i32)?;
        // Made by the sentry when the task's host uid does not own the file.
        if let Some(done) = super::ids::futimens(call, dirfd as i32, times_addr)? {
            return Ok(done);
        }
        return Ok(Action::Pass);
    }
    let path = read_path(call, 1)?;
    if path.is_empty() && flags & libc::AT_EMPTY_PATH != 0 {
        super::vfs::refuse_on_read_only_fd(call, dirfd as i32)?;
        if let Some(done) = super::ids::futimens(call, dirfd as i32, times_addr)? {
            return Ok(done);
        }
        let mut args = call.args;
        args[1] = 0;
        args[3] = 0;
        return Ok(Action::PassWith(args));
    }
    let target = resolve(call, dirfd, &path, false)?;
    let times = read_times(call, times_addr, 1)?;
    utimens(call, target, times, flags & libc::AT_SYMLINK_NOFOLLOW == 0)
}

pub(super) fn truncate(call: &mut Call) -> Result<Action, Errno> {
    let target = resolve_arg(call, AT_FDCWD, 0, true)?;
    check_writable(call, &target)?;
    // A non-root sandbox user needs write permission on the file.
    super::vfs::check_open(call, &target, libc::O_WRONLY)?;
    let (index, rel) = (target.gofer_index, target.rel);
    let len = call.args[1] as i64;
    files(call)?.truncate(index, &rel, len)?;
    Ok(Action::Return(0))
}

/// inotify_add_watch(fd, path, mask): the sentry adds the watch itself, on the task's
/// inotify instance, for the inode the gofer opened.
pub(super) fn inotify_add_watch(call: &mut Call) -> Result<Action, Errno> {
    let target = resolve_arg(call, AT_FDCWD, 1, true)?;
    let mask = call.args[2] as u32;
    let (index, rel) = (target.gofer_index, target.rel);
    let mut flags = libc::O_PATH;
    if mask & libc::IN_DONT_FOLLOW != 0 {
        flags |= libc::O_NOFOLLOW;
    }
    let inode = files(call)?.open(index, &rel, flags, 0)?;
    let instance = call.task_fd(call.args[0] as i32)?;
    let path = CString::new(format!("/proc/self/fd/{}", inode.as_raw_fd())).expect("no NUL");
    // SAFETY: inotify_add_watch on fds we own with a NUL-terminated path we own.
    let wd = unsafe { libc::inotify_add_watch(instance.as_raw_fd(), path.as_ptr(), mask) };
    if wd < 0 {
        return Err(Errno::last());
    }
    Ok(Action::Return(wd as i64))
}

//! Calls that change names and inodes by path: mkdir, mknod, unlink, rmdir, rename, link,
//! symlink, chmod, chown, utime(s), utimensat, truncate, inotify_add_watch.

use super::vfs::*;
use super::{Action, Call};
use gofer::Timespec;
use nix::errno::Errno;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

const NOFOLLOW: u64 = libc::AT_SYMLINK_NOFOLLOW as u64;

crate::syscall_entries! {
    mkdir(path: Path, mode: Mode) => Gofer, |call, a| {
        by_path(call, a, |c, a| mkdir_at(c, AT_FDCWD, a.path, a.mode))
    };
    mkdirat(dirfd: DirFd, path: Path, mode: Mode) => Gofer, |call, a| {
        by_path(call, a, |c, a| mkdir_at(c, a.dirfd as u64, a.path, a.mode))
    };
    mknod(path: Path, mode: Mode, dev: Hex) => Gofer, |call, a| {
        by_path(call, a, |c, a| mknod_at(c, AT_FDCWD, a.path, a.mode, a.dev))
    };
    mknodat(dirfd: DirFd, path: Path, mode: Mode, dev: Hex) => Gofer, |call, a| {
        by_path(call, a, |c, a| mknod_at(c, a.dirfd as u64, a.path, a.mode, a.dev))
    };
    unlink(path: Path) => Gofer, |call, a| {
        by_path(call, a, |c, a| unlink_at(c, AT_FDCWD, a.path, 0))
    };
    rmdir(path: Path) => Gofer, |call, a| {
        by_path(call, a, |c, a| unlink_at(c, AT_FDCWD, a.path, libc::AT_REMOVEDIR))
    };
    unlinkat(dirfd: DirFd, path: Path, flags: Hex) => Gofer, |call, a| {
        by_path(call, a, |c, a| unlink_at(c, a.dirfd as u64, a.path, a.flags as i32))
    };
    rename(from: Path, to: Path) => Gofer, |call, a| {
        by_path(call, a, |c, a| rename_at(c, (AT_FDCWD, a.from), (AT_FDCWD, a.to), 0))
    };
    renameat(fromdir: DirFd, from: Path, todir: DirFd, to: Path) => Gofer, |call, a| {
        by_path(call, a, |c, a| {
            rename_at(c, (a.fromdir as u64, a.from), (a.todir as u64, a.to), 0)
        })
    };
    renameat2(fromdir: DirFd, from: Path, todir: DirFd, to: Path, flags: Hex) => Gofer,
        |call, a| {
            by_path(call, a, |c, a| {
                let (from, to) = ((a.fromdir as u64, a.from), (a.todir as u64, a.to));
                rename_at(c, from, to, a.flags as u32)
            })
        };
    link(from: Path, to: Path) => Gofer, |call, a| {
        by_path(call, a, |c, a| link_at(c, (AT_FDCWD, a.from), (AT_FDCWD, a.to), 0))
    };
    linkat(fromdir: DirFd, from: Path, todir: DirFd, to: Path, flags: Hex) => Gofer,
        |call, a| {
            by_path(call, a, |c, a| {
                let (from, to) = ((a.fromdir as u64, a.from), (a.todir as u64, a.to));
                link_at(c, from, to, a.flags as i32)
            })
        };
    symlink(target: Path, path: Path) => Gofer, |call, a| {
        by_path(call, a, |c, a| symlink_at(c, a.target, AT_FDCWD, a.path))
    };
    symlinkat(target: Path, dirfd: DirFd, path: Path) => Gofer, |call, a| {
        by_path(call, a, |c, a| symlink_at(c, a.target, a.dirfd as u64, a.path))
    };
    chmod(path: Path, mode: Mode) => Gofer, |call, a| {
        by_path(call, a, |c, a| chmod_at(c, AT_FDCWD, a.path, a.mode, 0))
    };
    fchmodat(dirfd: DirFd, path: Path, mode: Mode) => Gofer, |call, a| {
        by_path(call, a, |c, a| chmod_at(c, a.dirfd as u64, a.path, a.mode, 0))
    };
    fchmodat2(dirfd: DirFd, path: Path, mode: Mode, flags: Hex) => Gofer, |call, a| {
        by_path(call, a, |c, a| chmod_at(c, a.dirfd as u64, a.path, a.mode, a.flags))
    };
    chown(path: Path, uid: Id, gid: Id) => Gofer, |call, a| {
        by_path(call, a, |c, a| chown_at(c, AT_FDCWD, a.path, [a.uid, a.gid], 0))
    };
    lchown(path: Path, uid: Id, gid: Id) => Gofer, |call, a| {
        by_path(call, a, |c, a| chown_at(c, AT_FDCWD, a.path, [a.uid, a.gid], NOFOLLOW))
    };
    fchownat(dirfd: DirFd, path: Path, uid: Id, gid: Id, flags: Hex) => Gofer, |call, a| {
        by_path(call, a, |c, a| {
            chown_at(c, a.dirfd as u64, a.path, [a.uid, a.gid], a.flags)
        })
    };
    utime(path: Path, times: Ptr) => Gofer, |call, a| by_path(call, a, utime);
    utimes(path: Path, times: Ptr) => Gofer, |call, a| {
        by_path(call, a, |c, a| utimes_at(c, AT_FDCWD, a.path, a.times))
    };
    futimesat(dirfd: DirFd, path: Path, times: Ptr) => Gofer, |call, a| {
        by_path(call, a, |c, a| utimes_at(c, a.dirfd as u64, a.path, a.times))
    };
    utimensat(dirfd: DirFd, path: Path, times: Ptr, flags: Hex) => Gofer, |call, a| {
        by_path(call, a, utimensat)
    };
    truncate(path: Path, length: Int) => Gofer, |call, a| by_path(call, a, truncate);
    inotify_add_watch(fd: Fd, path: Path, mask: Hex) => Gofer, |call, a| {
        by_path(call, a, inotify_add_watch)
    };
}

/// A directory fd (or AT_FDCWD) and a path relative to it.
type At = (u64, PathArg);

fn mkdir_at(call: &mut Call, dirfd: u64, path: PathArg, mode: u32) -> Result<Action, Errno> {
    if matches!(last_component(&read_path(call, path)?), b"." | b"..") {
        return Err(Errno::EEXIST);
    }
    let target = resolve_arg(call, dirfd, path, false)?;
    check_writable(call, &target)?;
    let mode = mode & 0o7777 & !umask_of(call);
    super::vfs::check_name_change(call, &target, false)?;
    let owner = super::vfs::creates_as_other(call, &target);
    let (index, rel) = (target.gofer_index, target.rel);
    files(call)?.mkdir(index, &rel, mode)?;
    super::vfs::created(call, index, &rel, owner);
    Ok(Action::Return(0))
}

fn mknod_at(
    call: &mut Call,
    dirfd: u64,
    path: PathArg,
    mode: u32,
    dev: u64,
) -> Result<Action, Errno> {
    let kind = mode & libc::S_IFMT;
    if kind == libc::S_IFCHR || kind == libc::S_IFBLK {
        return Err(Errno::EPERM);
    }
    let target = resolve_arg(call, dirfd, path, false)?;
    check_writable(call, &target)?;
    let mode = kind | (mode & 0o7777 & !umask_of(call));
    super::vfs::check_name_change(call, &target, false)?;
    let owner = super::vfs::creates_as_other(call, &target);
    let (index, rel) = (target.gofer_index, target.rel);
    files(call)?.mknod(index, &rel, mode, dev)?;
    super::vfs::created(call, index, &rel, owner);
    Ok(Action::Return(0))
}

fn unlink_at(call: &mut Call, dirfd: u64, path: PathArg, flags: i32) -> Result<Action, Errno> {
    if flags & !libc::AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    let raw = read_path(call, path)?;
    match (last_component(&raw), flags & libc::AT_REMOVEDIR != 0) {
        (b".", true) => return Err(Errno::EINVAL),
        (b"..", true) => return Err(Errno::ENOTEMPTY),
        (b"." | b"..", false) => return Err(Errno::EISDIR),
        _ => {}
    }
    let target = resolve_arg(call, dirfd, path, false)?;
    // A mount's root: EBUSY as Linux's vfs_rmdir/vfs_unlink give it, whatever the mount's
    // own read-only flag (the name lives in the parent mount).
    let mount_root = &call.kernel.mounts(call.tid).mounts[target.mount].sandbox_path;
    if target.rel == b"." || target.path == *mount_root {
        return Err(Errno::EBUSY);
    }
    check_writable(call, &target)?;
    super::vfs::check_name_change(call, &target, true)?;
    let (index, rel) = (target.gofer_index, target.rel);
    super::vfs::removing(call, index, &rel);
    files(call)?.unlink(index, &rel, flags)?;
    Ok(Action::Return(0))
}

/// Two paths in one mount.
fn two_targets(call: &mut Call, from: At, to: At) -> Result<(Target, Target), Errno> {
    for (_, path) in [from, to] {
        let raw = read_path(call, path)?;
        if matches!(last_component(&raw), b"." | b"..") {
            return Err(Errno::EBUSY);
        }
    }
    let from = resolve_arg(call, from.0, from.1, false)?;
    let to = resolve_arg(call, to.0, to.1, false)?;
    if from.mount != to.mount {
        return Err(Errno::EXDEV);
    }
    check_writable(call, &to)?;
    Ok((from, to))
}

fn rename_at(call: &mut Call, from: At, to: At, flags: u32) -> Result<Action, Errno> {
    let (from, to) = two_targets(call, from, to)?;
    super::vfs::check_name_change(call, &from, true)?;
    // A name the rename replaces is removed: the sticky bit's rule applies to it too.
    super::vfs::check_name_change(call, &to, true)?;
    check_directory_moves(call, &from, &to, flags)?;
    super::vfs::removing(call, to.gofer_index, &to.rel);
    files(call)?.rename(from.gofer_index, &from.rel, to.gofer_index, &to.rel, flags)?;
    Ok(Action::Return(0))
}

/// A directory that changes parent has its `..` rewritten: for a task without DAC
/// override, write permission on it (and on the other one of an exchange), as Linux asks.
fn check_directory_moves(
    call: &mut Call,
    from: &Target,
    to: &Target,
    flags: u32,
) -> Result<(), Errno> {
    let Some(c) = checking(call) else {
        return Ok(());
    };
    if parent_of(&from.rel) == parent_of(&to.rel) {
        return Ok(());
    }
    let mut moving = vec![from];
    if flags & libc::RENAME_EXCHANGE != 0 {
        moving.push(to);
    }
    for target in moving {
        let Ok(mut st) = files(call)?.stat(target.gofer_index, &target.rel, false) else {
            continue;
        };
        call.kernel.map_stat(&mut st);
        let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
        if is_dir && !c.may_access(st.st_mode, st.st_uid, st.st_gid, libc::W_OK) {
            return Err(Errno::EACCES);
        }
    }
    Ok(())
}

fn link_at(call: &mut Call, from: At, to: At, flags: i32) -> Result<Action, Errno> {
    if flags & !(libc::AT_SYMLINK_FOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & libc::AT_EMPTY_PATH != 0 && read_path(call, from.1)?.is_empty() {
        return link_fd(call, from.0 as i32, to);
    }
    let follow = flags & libc::AT_SYMLINK_FOLLOW != 0;
    if follow {
        if let Some(done) = link_through_proc(call, from, to)? {
            return Ok(done);
        }
    }
    let (from, to) = two_targets(call, from, to)?;
    check_link_source(call, &from, follow)?;
    super::vfs::check_name_change(call, &to, false)?;
    files(call)?.link(from.gofer_index, &from.rel, to.gofer_index, &to.rel, follow)?;
    Ok(Action::Return(0))
}

/// Before a hard link, for a task without DAC override: search permission on the way to
/// the file, and Linux's protected_hardlinks rule (EPERM, [`Creds::may_link`]). The gofer,
/// which may link anything, knows neither the sandbox's owners nor its users.
fn check_link_source(call: &mut Call, from: &Target, follow: bool) -> Result<(), Errno> {
    let Some(c) = checking(call) else {
        return Ok(());
    };
    check_walk(call, &c, from)?;
    let mut st = files(call)?.stat(from.gofer_index, &from.rel, follow)?;
    call.kernel.map_stat(&mut st);
    if c.may_link(st.st_mode, st.st_uid, st.st_gid) {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// linkat(fd, "", newdirfd, newpath, AT_EMPTY_PATH): a name for the file behind a task's fd
/// (an O_TMPFILE file, say). The sentry links its own duplicate of the fd into the parent
/// directory the gofer opened, by a single name: no path of the task reaches the host. Like
/// Linux it needs CAP_DAC_READ_SEARCH, which a root sentry has.
fn link_fd(call: &mut Call, fd: i32, to: At) -> Result<Action, Errno> {
    let from = call.task_fd(fd)?;
    let st = nix::sys::stat::fstat(from.as_raw_fd()).map_err(|_| Errno::EBADF)?;
    if st.st_nlink > 0 {
        // A named file must be one of the sandbox's mounts: a host file the task was handed
        // (a redirected stdin) gets no name inside the sandbox.
        super::vfs::refuse_on_read_only_file(call, &from)?;
    }
    link_file(call, from, to, false)
}

/// linkat(…, "/proc/<pid>/fd/<n>", …, AT_SYMLINK_FOLLOW): the magic link is followed to
/// its file, as Linux does, which links an O_TMPFILE file without CAP_DAC_READ_SEARCH.
/// A link to a file with a sandbox path links that path. None when `from` is not in /proc.
fn link_through_proc(call: &mut Call, from: At, to: At) -> Result<Option<Action>, Errno> {
    let source = resolve_arg(call, from.0, from.1, false)?;
    if source.proc.is_none() {
        return Ok(None);
    }
    let source = follow(call, source)?;
    match source.proc {
        Some(crate::proc::Resolved::TaskFd { host, fd }) => {
            let file = crate::host::task_fd(host, fd)?;
            // Only a file without a name (O_TMPFILE): one with a name outside the sandbox's
            // paths (a host file the task was handed) gets none inside it.
            let st = nix::sys::stat::fstat(file.as_raw_fd()).map_err(|_| Errno::EBADF)?;
            if st.st_nlink > 0 {
                return Err(Errno::EXDEV);
            }
            link_file(call, file, to, true).map(Some)
        }
        Some(_) => Err(Errno::EXDEV),
        None => {
            let to = resolve_arg(call, to.0, to.1, false)?;
            if source.mount != to.mount {
                return Err(Errno::EXDEV);
            }
            check_writable(call, &to)?;
            check_link_source(call, &source, false)?;
            super::vfs::check_name_change(call, &to, false)?;
            let (from_index, from_rel) = (source.gofer_index, source.rel);
            files(call)?.link(from_index, &from_rel, to.gofer_index, &to.rel, false)?;
            Ok(Some(Action::Return(0)))
        }
    }
}

/// Links the sentry's own fd `from` of a task's file at `to`. `via_proc`: through the
/// sentry's /proc/self/fd link, followed (no capability needed; an O_TMPFILE file opened
/// without O_EXCL), rather than by AT_EMPTY_PATH (CAP_DAC_READ_SEARCH).
fn link_file(call: &mut Call, from: OwnedFd, to: At, via_proc: bool) -> Result<Action, Errno> {
    let mut st = nix::sys::stat::fstat(from.as_raw_fd()).map_err(|_| Errno::EBADF)?;
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        return Err(Errno::EPERM);
    }
    // protected_hardlinks, as for a link by path ([`check_link_source`]).
    if let Some(c) = checking(call) {
        call.kernel.map_stat(&mut st);
        if !c.may_link(st.st_mode, st.st_uid, st.st_gid) {
            return Err(Errno::EPERM);
        }
    }
    let to = resolve_arg(call, to.0, to.1, false)?;
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
    let rc = if via_proc {
        let link = CString::new(format!("/proc/self/fd/{}", from.as_raw_fd())).expect("no NUL");
        // SAFETY: linkat of our own fd's /proc link into a dir fd we own, NUL-terminated
        // strings we own.
        unsafe {
            libc::linkat(
                libc::AT_FDCWD,
                link.as_ptr(),
                dir.as_raw_fd(),
                name.as_ptr(),
                libc::AT_SYMLINK_FOLLOW,
            )
        }
    } else {
        // SAFETY: linkat on fds we own, with NUL-terminated strings we own.
        unsafe {
            libc::linkat(
                from.as_raw_fd(),
                c"".as_ptr(),
                dir.as_raw_fd(),
                name.as_ptr(),
                libc::AT_EMPTY_PATH,
            )
        }
    };
    if rc != 0 {
        return Err(Errno::last());
    }
    Ok(Action::Return(0))
}

fn symlink_at(
    call: &mut Call,
    link_target: PathArg,
    dirfd: u64,
    path: PathArg,
) -> Result<Action, Errno> {
    let link_target = read_path(call, link_target)?;
    if link_target.is_empty() {
        return Err(Errno::ENOENT);
    }
    let target = resolve_arg(call, dirfd, path, false)?;
    check_writable(call, &target)?;
    super::vfs::check_name_change(call, &target, false)?;
    let owner = super::vfs::creates_as_other(call, &target);
    let (index, rel) = (target.gofer_index, target.rel);
    files(call)?.symlink(index, &rel, &link_target)?;
    super::vfs::created(call, index, &rel, owner);
    Ok(Action::Return(0))
}

fn chmod_at(
    call: &mut Call,
    dirfd: u64,
    path: PathArg,
    mode: u32,
    flags: u64,
) -> Result<Action, Errno> {
    let flags = flags as i32;
    if flags & !libc::AT_SYMLINK_NOFOLLOW != 0 {
        return Err(Errno::EINVAL);
    }
    let target = resolve_arg(call, dirfd, path, false)?;
    // As Linux checks: search permission on the walk, then the mount, then the owner.
    super::vfs::check_search(call, &target)?;
    check_writable(call, &target)?;
    let follow = flags & libc::AT_SYMLINK_NOFOLLOW == 0;
    super::vfs::check_owner(call, &target, follow)?;
    let (index, rel) = (target.gofer_index, target.rel);
    if !follow {
        let st = files(call)?.stat(index, &rel, false)?;
        if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
            return Err(Errno::EOPNOTSUPP);
        }
    }
    let mut mode = mode & 0o7777;
    if mode & libc::S_ISGID != 0 {
        let st = files(call)?.stat(index, &rel, follow)?;
        let group = call
            .kernel
            .shown_owner(st.st_dev, st.st_ino, st.st_uid, st.st_gid)
            .gid;
        mode = super::vfs::sgid_kept(&call.kernel.creds_of(call.tid), group, mode);
    }
    // The set-user-ID and set-group-ID bits stay in the sentry (the gofer drops them).
    files(call)?.chmod(index, &rel, mode)?;
    let st = files(call)?.stat(index, &rel, follow)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        call.kernel
            .owners
            .record_special_bits(st.st_dev, st.st_ino, mode);
    }
    Ok(Action::Return(0))
}

fn chown_at(
    call: &mut Call,
    dirfd: u64,
    path: PathArg,
    ids: [u32; 2],
    flags: u64,
) -> Result<Action, Errno> {
    let flags = flags as i32;
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = read_path(call, path)?;
    if path.is_empty() && flags & libc::AT_EMPTY_PATH != 0 {
        // Chown is recorded by the sentry, never done on the host.
        return Ok(super::ids::fchown(call, dirfd as i32, ids));
    }
    let target = resolve(call, dirfd, &path, false)?;
    // Search permission on the walk comes before the mount's and the owner's checks.
    super::vfs::check_search(call, &target)?;
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

fn utime(call: &mut Call, a: args::utime) -> Result<Action, Errno> {
    let target = resolve_arg(call, AT_FDCWD, a.path, false)?;
    let times = if a.times == 0 {
        None
    } else {
        // struct utimbuf { time_t actime; time_t modtime; }
        let mut raw = [0u8; 16];
        call.kernel
            .mem
            .read(call.tid, a.times, &mut raw)
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

fn utimes_at(call: &mut Call, dirfd: u64, path: PathArg, times_addr: u64) -> Result<Action, Errno> {
    let target = resolve_arg(call, dirfd, path, false)?;
    let times = read_times(call, times_addr, 1000)?;
    utimens(call, target, times, true)
}

fn utimensat(call: &mut Call, a: args::utimensat) -> Result<Action, Errno> {
    let (dirfd, times_addr, flags) = (a.dirfd as u64, a.times, a.flags as i32);
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    // futimens(fd), or an empty path with AT_EMPTY_PATH: made by the sentry on the file.
    if a.path.is_null() {
        if dirfd as i32 == libc::AT_FDCWD {
            return Err(Errno::EFAULT);
        }
        if flags != 0 {
            return Err(Errno::EINVAL);
        }
        return super::ids::futimens(call, dirfd as i32, times_addr);
    }
    let path = read_path(call, a.path)?;
    if path.is_empty() && flags & libc::AT_EMPTY_PATH != 0 {
        return super::ids::futimens(call, dirfd as i32, times_addr);
    }
    let target = resolve(call, dirfd, &path, false)?;
    let times = read_times(call, times_addr, 1)?;
    utimens(call, target, times, flags & libc::AT_SYMLINK_NOFOLLOW == 0)
}

fn truncate(call: &mut Call, a: args::truncate) -> Result<Action, Errno> {
    let target = resolve_arg(call, AT_FDCWD, a.path, true)?;
    check_writable(call, &target)?;
    // A non-root sandbox user needs write permission on the file.
    super::vfs::check_open(call, &target, libc::O_WRONLY)?;
    let (index, rel) = (target.gofer_index, target.rel);
    // The gofer truncates under its own limits: the task's RLIMIT_FSIZE is applied here, as
    // Linux's inode_newsize_ok does (EFBIG and SIGXFSZ for growth past it).
    if let Some(limit) = file_size_limit(call) {
        let size = files(call)?.stat(index, &rel, true)?.st_size;
        if grows_past(a.length, size, limit) {
            super::raise_in_caller(call, libc::SIGXFSZ);
            return Err(Errno::EFBIG);
        }
    }
    files(call)?.truncate(index, &rel, a.length)?;
    Ok(Action::Return(0))
}

/// The calling task's soft RLIMIT_FSIZE (a host limit: the sandbox sets it on its own
/// process), from its /proc limits (the sentry, its tracer, may read them where prlimit of
/// another process would need CAP_SYS_RESOURCE); None when unlimited or unreadable.
fn file_size_limit(call: &Call) -> Option<u64> {
    let limits = call.kernel.mem.proc_file(call.tid, "limits")?;
    soft_file_size_limit(&limits)
}

/// The soft "Max file size" of a /proc/<pid>/limits text.
pub(super) fn soft_file_size_limit(limits: &str) -> Option<u64> {
    let line = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max file size"))?;
    line.split_whitespace().next()?.parse().ok()
}

/// Whether truncating a file of `size` bytes to `length` grows it past `limit`.
pub(super) fn grows_past(length: i64, size: i64, limit: u64) -> bool {
    length > size && u64::try_from(length).is_ok_and(|l| l > limit)
}

/// inotify_add_watch(fd, path, mask): the sentry adds the watch itself, on the task's
/// inotify instance, for the inode the gofer opened.
fn inotify_add_watch(call: &mut Call, a: args::inotify_add_watch) -> Result<Action, Errno> {
    let target = resolve_arg(call, AT_FDCWD, a.path, true)?;
    let mask = a.mask as u32;
    let follow = mask & libc::IN_DONT_FOLLOW == 0;
    // A watch reports what happens to the file: read permission, as Linux asks.
    check_permission(call, &target, libc::R_OK, follow)?;
    let (index, rel) = (target.gofer_index, target.rel);
    let mut flags = libc::O_PATH;
    if !follow {
        flags |= libc::O_NOFOLLOW;
    }
    let inode = files(call)?.open(index, &rel, flags, 0)?;
    let instance = call.task_fd(a.fd)?;
    let path = CString::new(format!("/proc/self/fd/{}", inode.as_raw_fd())).expect("no NUL");
    // SAFETY: inotify_add_watch on fds we own with a NUL-terminated path we own.
    let wd = unsafe { libc::inotify_add_watch(instance.as_raw_fd(), path.as_ptr(), mask) };
    if wd < 0 {
        return Err(Errno::last());
    }
    Ok(Action::Return(wd as i64))
}

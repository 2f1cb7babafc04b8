//! stat, lstat, newfstatat, statx, access, faccessat(2), readlink(at), statfs: answered
//! from the gofer's stat of the resolved path, owners in the sandbox's ids.

use super::vfs::*;
use super::{Action, Call};
use crate::proc;
use nix::errno::Errno;
use std::ffi::CString;
use std::os::fd::AsRawFd;

const NOFOLLOW: i32 = libc::AT_SYMLINK_NOFOLLOW;

crate::syscall_entries! {
    stat(path: Path, buf: Ptr) => Gofer, |call, a| {
        by_path(call, a, |c, a| stat_at(c, AT_FDCWD, a.path, a.buf, 0))
    };
    lstat(path: Path, buf: Ptr) => Gofer, |call, a| {
        by_path(call, a, |c, a| stat_at(c, AT_FDCWD, a.path, a.buf, NOFOLLOW))
    };
    newfstatat(dirfd: DirFd, path: Path, buf: Ptr, flags: Hex) => Gofer, |call, a| {
        by_path(call, a, |c, a| stat_at(c, a.dirfd as u64, a.path, a.buf, a.flags as i32))
    };
    statx(dirfd: DirFd, path: Path, flags: Hex, mask: Hex, buf: Ptr) => Gofer, |call, a| {
        by_path(call, a, statx)
    };
    access(path: Path, mode: AccessMode) => Gofer, |call, a| {
        by_path(call, a, |c, a| access_at(c, AT_FDCWD, a.path, a.mode, 0))
    };
    faccessat(dirfd: DirFd, path: Path, mode: AccessMode) => Gofer, |call, a| {
        by_path(call, a, |c, a| access_at(c, a.dirfd as u64, a.path, a.mode, 0))
    };
    faccessat2(dirfd: DirFd, path: Path, mode: AccessMode, flags: Hex) => Gofer, |call, a| {
        by_path(call, a, |c, a| access_at(c, a.dirfd as u64, a.path, a.mode, a.flags as i32))
    };
    readlink(path: Path, buf: Ptr, size: Int) => Gofer, |call, a| {
        by_path(call, a, |c, a| readlink_at(c, AT_FDCWD, a.path, a.buf, a.size))
    };
    readlinkat(dirfd: DirFd, path: Path, buf: Ptr, size: Int) => Gofer, |call, a| {
        by_path(call, a, |c, a| readlink_at(c, a.dirfd as u64, a.path, a.buf, a.size))
    };
    statfs(path: Path, buf: Ptr) => Gofer, |call, a| by_path(call, a, statfs);
    // Stops when owners show other than on the host (`table::class_override`).
    fstat(fd: Fd, buf: Ptr) => Passthrough, fstat;
}

/// `stat`, `lstat`, `newfstatat` (the only one of them whose path may be NULL).
fn stat_at(
    call: &mut Call,
    dirfd: u64,
    path: PathArg,
    buf: u64,
    flags: i32,
) -> Result<Action, Errno> {
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH | libc::AT_NO_AUTOMOUNT) != 0 {
        return Err(Errno::EINVAL);
    }
    let null_path = path.is_null() && call.sysno == syscalls::Sysno::newfstatat;
    let mut path = if null_path {
        Vec::new()
    } else {
        read_path(call, path)?
    };
    if path.is_empty() && flags & libc::AT_EMPTY_PATH != 0 {
        // The fd's own file, stated by the sentry: a kernel let run would read the path
        // again, which another thread may have changed meanwhile.
        if let Some(done) = stat_fd(call, dirfd, buf)? {
            return Ok(done);
        }
        path = b".".to_vec(); // the working directory
    }
    if null_path {
        // No path pointer for the kernel to read (the working directory with AT_EMPTY_PATH,
        // EFAULT without).
        return Ok(Action::Pass);
    }
    let mut target = resolve(call, dirfd, &path, true)?;
    let follow_last = flags & libc::AT_SYMLINK_NOFOLLOW == 0;
    if follow_last {
        target = follow(call, target)?;
    }
    let st = if target.proc.is_some() {
        let (host, link) = stat_proc(call, &target)?;
        std::fs::symlink_metadata(&host).map_err(|_| Errno::ENOENT)?;
        let c = CString::new(host.as_os_str().as_encoded_bytes()).map_err(|_| Errno::EINVAL)?;
        // SAFETY: stat is plain data; zeroed is a valid value, filled by the kernel.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // A task's fd (a followed /proc/<pid>/fd/<n>) is the file itself: the host's link
        // is followed. Any other node is laid out as itself.
        let rc = if is_task_fd(&target) {
            // SAFETY: stat of a NUL-terminated path we own into memory we own.
            unsafe { libc::stat(c.as_ptr(), &mut st) }
        } else {
            // SAFETY: lstat of a NUL-terminated path we own into memory we own.
            unsafe { libc::lstat(c.as_ptr(), &mut st) }
        };
        if rc != 0 {
            return Err(Errno::last());
        }
        if let Some(link) = link {
            link.apply(&mut st);
        }
        st
    } else if let Some(device) = target.device(call) {
        // SAFETY: stat is plain data; zeroed is a valid value, filled by the kernel.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: stat of a NUL-terminated path we own into memory we own.
        if unsafe { libc::stat(host_device(&device).as_ptr(), &mut st) } != 0 {
            return Err(Errno::last());
        }
        st
    } else {
        super::vfs::check_search(call, &target)?;
        let (index, rel) = (target.gofer_index, target.rel);
        files(call)?.stat(index, &rel, follow_last)?
    };
    let mut st = st;
    call.kernel.map_stat(&mut st); // owners in sandbox ids
    write_out(call, buf, &st)?;
    Ok(Action::Return(0))
}

fn statx(call: &mut Call, a: args::statx) -> Result<Action, Errno> {
    let (dirfd, flags, mask, buf) = (a.dirfd as u64, a.flags as i32, a.mask, a.buf);
    let known = libc::AT_SYMLINK_NOFOLLOW
        | libc::AT_EMPTY_PATH
        | libc::AT_NO_AUTOMOUNT
        | libc::AT_STATX_SYNC_TYPE;
    if flags & !known != 0 || flags & libc::AT_STATX_SYNC_TYPE == libc::AT_STATX_SYNC_TYPE {
        return Err(Errno::EINVAL);
    }
    if mask as u32 & libc::STATX__RESERVED as u32 != 0 {
        return Err(Errno::EINVAL);
    }
    let mut path = if a.path.is_null() {
        Vec::new()
    } else {
        read_path(call, a.path)?
    };
    if path.is_empty() && flags & libc::AT_EMPTY_PATH != 0 {
        // As for newfstatat: the fd's own file, stated by the sentry.
        if let Some(done) = statx_fd(call, dirfd, flags, mask as u32, buf)? {
            return Ok(done);
        }
        path = b".".to_vec(); // the working directory
    }
    if a.path.is_null() {
        return Ok(Action::Pass);
    }
    let mut target = resolve(call, dirfd, &path, true)?;
    let follow_last = flags & libc::AT_SYMLINK_NOFOLLOW == 0;
    if follow_last {
        target = follow(call, target)?;
    }
    let proc_host = if target.proc.is_some() {
        Some(stat_proc(call, &target)?)
    } else {
        None
    };
    let stx = if let Some((host, link)) = proc_host {
        let c = CString::new(host.as_os_str().as_encoded_bytes()).map_err(|_| Errno::EINVAL)?;
        // SAFETY: statx is plain data; zeroed is valid and filled by the kernel.
        let mut stx: libc::statx = unsafe { std::mem::zeroed() };
        // SAFETY: statx of a NUL-terminated path we own into memory we own.
        let rc = unsafe {
            libc::statx(
                libc::AT_FDCWD,
                c.as_ptr(),
                if is_task_fd(&target) {
                    0
                } else {
                    libc::AT_SYMLINK_NOFOLLOW
                },
                mask as u32,
                &mut stx,
            )
        };
        if rc != 0 {
            return Err(Errno::last());
        }
        if let Some(link) = link {
            link.apply_statx(&mut stx);
        }
        stx
    } else if let Some(device) = target.device(call) {
        // SAFETY: statx is plain data; zeroed is valid and filled by the kernel.
        let mut stx: libc::statx = unsafe { std::mem::zeroed() };
        // SAFETY: statx of a NUL-terminated path we own into memory we own.
        let rc = unsafe {
            libc::statx(
                libc::AT_FDCWD,
                host_device(&device).as_ptr(),
                0,
                mask as u32,
                &mut stx,
            )
        };
        if rc != 0 {
            return Err(Errno::last());
        }
        stx
    } else {
        super::vfs::check_search(call, &target)?;
        let (index, rel) = (target.gofer_index, target.rel);
        let sync = flags & libc::AT_STATX_SYNC_TYPE;
        files(call)?.statx(index, &rel, follow_last, sync, mask as u32)?
    };
    let mut stx = stx;
    call.kernel.map_statx(&mut stx); // owners in sandbox ids
    write_out(call, buf, &stx)?;
    Ok(Action::Return(0))
}

fn access_at(
    call: &mut Call,
    dirfd: u64,
    path: PathArg,
    mode: i32,
    flags: i32,
) -> Result<Action, Errno> {
    if mode & !(libc::R_OK | libc::W_OK | libc::X_OK) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & !(libc::AT_EACCESS | libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & libc::AT_EMPTY_PATH != 0 && read_path(call, path)?.is_empty() {
        // The fd itself: checked by the sentry on its own copy of it, with a path ("")
        // of its own.
        let fd = call.task_fd(dirfd as i32)?;
        // SAFETY: faccessat2 on an fd we own with a NUL-terminated empty path of ours.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_faccessat2,
                fd.as_raw_fd(),
                c"".as_ptr(),
                mode,
                flags,
            )
        };
        return if rc == 0 {
            Ok(Action::Return(0))
        } else {
            Err(Errno::last())
        };
    }
    let target = resolve_arg(call, dirfd, path, true)?;
    let target = if flags & libc::AT_SYMLINK_NOFOLLOW == 0 {
        follow(call, target)?
    } else {
        target
    };
    if target.proc.is_some() {
        let writable = matches!(&target.proc, Some(proc::Resolved::TaskFd { .. }));
        return if mode & libc::W_OK != 0 && !writable {
            Err(Errno::EACCES)
        } else {
            Ok(Action::Return(0))
        };
    }
    if let Some(device) = target.device(call) {
        // SAFETY: access of a NUL-terminated path we own.
        return match unsafe { libc::access(host_device(&device).as_ptr(), mode) } {
            0 => Ok(Action::Return(0)),
            _ => Err(Errno::last()),
        };
    }
    // Decided for the sandbox identity, on the owner the sandbox sees.
    super::ids::access(call, &target, mode, flags)
}

fn readlink_at(
    call: &mut Call,
    dirfd: u64,
    path: PathArg,
    buf: u64,
    size: i64,
) -> Result<Action, Errno> {
    if size <= 0 {
        return Err(Errno::EINVAL);
    }
    if dirfd as i32 != libc::AT_FDCWD && read_path(call, path)?.is_empty() {
        // The link an O_PATH|O_NOFOLLOW fd holds (ENOENT for any other file), read by the
        // sentry on its own duplicate of the fd.
        let fd = call.task_fd(dirfd as i32)?;
        let mut link = vec![0u8; libc::PATH_MAX as usize];
        // SAFETY: readlinkat writes at most `link.len()` bytes into our buffer.
        let n = unsafe {
            libc::readlinkat(
                fd.as_raw_fd(),
                c"".as_ptr(),
                link.as_mut_ptr().cast(),
                link.len(),
            )
        };
        if n < 0 {
            return Err(Errno::last());
        }
        link.truncate((n as usize).min(size as usize));
        call.kernel
            .mem
            .write(call.tid, buf, &link)
            .map_err(|_| Errno::EFAULT)?;
        return Ok(Action::Return(link.len() as i64));
    }
    let target = resolve_arg(call, dirfd, path, false)?;
    let mut link = match &target.proc {
        Some(proc::Resolved::Node(proc::Node::Link(link))) => link.clone(),
        Some(_) => return Err(Errno::EINVAL),
        None => {
            super::vfs::check_search(call, &target)?;
            let (index, rel) = (target.gofer_index, target.rel);
            files(call)?.readlink(index, &rel)?
        }
    };
    link.truncate(size as usize);
    call.kernel
        .mem
        .write(call.tid, buf, &link)
        .map_err(|_| Errno::EFAULT)?;
    Ok(Action::Return(link.len() as i64))
}

fn statfs(call: &mut Call, a: args::statfs) -> Result<Action, Errno> {
    let target = resolve_arg(call, AT_FDCWD, a.path, true)?;
    check_search(call, &target)?;
    let (index, rel) = (target.gofer_index, target.rel);
    let tmpfs = call.kernel.mounts(call.tid).mounts[target.mount].is_tmpfs;
    let mut st = files(call)?.statfs(index, &rel)?;
    if tmpfs {
        // Backed by a directory of the sentry's, but a tmpfs to the sandbox.
        st.f_type = TMPFS_MAGIC;
    }
    call.kernel
        .mem
        .write(call.tid, a.buf, &st.to_kernel_bytes())
        .map_err(|_| Errno::EFAULT)?;
    Ok(Action::Return(0))
}

/// fstat, and newfstatat/statx of an fd (AT_EMPTY_PATH or no path): the sentry stats the
/// task's file itself and writes the result with the owner in sandbox ids. None for the
/// working directory (AT_FDCWD), which the caller stats by its path.
pub fn stat_fd(call: &mut Call, dirfd: u64, buf: u64) -> Result<Option<Action>, Errno> {
    if dirfd as i32 == libc::AT_FDCWD {
        return Ok(None);
    }
    let mut st = fd_stat(call, dirfd as i32)?;
    call.kernel.map_stat(&mut st);
    // SAFETY: viewing the plain-data stat we own as its bytes, for copying out.
    let bytes = unsafe {
        std::slice::from_raw_parts(
            &st as *const libc::stat as *const u8,
            std::mem::size_of::<libc::stat>(),
        )
    };
    call.kernel
        .mem
        .write(call.tid, buf, bytes)
        .map_err(|_| Errno::EFAULT)?;
    Ok(Some(Action::Return(0)))
}

/// statx of an fd (see `stat_fd`); `flags` may carry AT_STATX_* sync bits.
pub fn statx_fd(
    call: &mut Call,
    dirfd: u64,
    flags: i32,
    mask: u32,
    buf: u64,
) -> Result<Option<Action>, Errno> {
    if dirfd as i32 == libc::AT_FDCWD {
        return Ok(None);
    }
    let file = call.task_fd(dirfd as i32)?;
    // SAFETY: statx is plain data; zeroed is valid and filled by the kernel.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: statx of an fd we own with an empty NUL-terminated path, into memory we own.
    let rc = unsafe {
        libc::statx(
            std::os::fd::AsRawFd::as_raw_fd(&file),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | (flags & libc::AT_STATX_SYNC_TYPE),
            mask,
            &mut stx,
        )
    };
    if rc != 0 {
        return Err(Errno::last());
    }
    call.kernel.map_statx(&mut stx);
    // SAFETY: viewing the plain-data statx we own as its bytes, for copying out.
    let bytes = unsafe {
        std::slice::from_raw_parts(
            &stx as *const libc::statx as *const u8,
            std::mem::size_of::<libc::statx>(),
        )
    };
    call.kernel
        .mem
        .write(call.tid, buf, bytes)
        .map_err(|_| Errno::EFAULT)?;
    Ok(Some(Action::Return(0)))
}

/// fstat(fd, buf) when it is checked (`class_override`).
fn fstat(call: &mut Call, a: args::fstat) -> Result<Action, Errno> {
    Ok(stat_fd(call, a.fd as u64, a.buf)?.unwrap_or(Action::Pass))
}

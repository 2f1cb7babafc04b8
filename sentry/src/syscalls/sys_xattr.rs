//! Extended attributes by path: setxattr, getxattr, listxattr, removexattr and their l*
//! forms; and the reads by fd, fgetxattr and flistxattr. security.* and trusted.* are never
//! written; trusted.* is never read (as for any unprivileged reader on the host).

use super::vfs::*;
use super::{Action, Call};
use nix::errno::Errno;
use std::os::fd::AsRawFd;

crate::syscall_entries! {
    setxattr(path: Path, name: Ptr, value: Ptr, size: UInt, flags: Hex) => Gofer, |call, a| {
        by_path(call, a, |c, a| set(c, a.path, true, a.name, a.value, a.size, a.flags))
    };
    lsetxattr(path: Path, name: Ptr, value: Ptr, size: UInt, flags: Hex) => Gofer, |call, a| {
        by_path(call, a, |c, a| set(c, a.path, false, a.name, a.value, a.size, a.flags))
    };
    getxattr(path: Path, name: Ptr, value: Ptr, size: UInt) => Gofer, |call, a| {
        by_path(call, a, |c, a| get(c, a.path, true, a.name, a.value, a.size))
    };
    lgetxattr(path: Path, name: Ptr, value: Ptr, size: UInt) => Gofer, |call, a| {
        by_path(call, a, |c, a| get(c, a.path, false, a.name, a.value, a.size))
    };
    listxattr(path: Path, list: Ptr, size: UInt) => Gofer, |call, a| {
        by_path(call, a, |c, a| list(c, a.path, true, a.list, a.size))
    };
    llistxattr(path: Path, list: Ptr, size: UInt) => Gofer, |call, a| {
        by_path(call, a, |c, a| list(c, a.path, false, a.list, a.size))
    };
    removexattr(path: Path, name: Ptr) => Gofer, |call, a| {
        by_path(call, a, |c, a| remove(c, a.path, true, a.name))
    };
    lremovexattr(path: Path, name: Ptr) => Gofer, |call, a| {
        by_path(call, a, |c, a| remove(c, a.path, false, a.name))
    };
    // Read by the sentry when the tasks' host uid does not own what the gofer made.
    fgetxattr(fd: Fd, name: Ptr, value: Ptr, size: UInt) => Checked, fgetxattr;
    flistxattr(fd: Fd, list: Ptr, size: UInt) => Checked, flistxattr;
}

/// The file an xattr call names; /proc keeps no extended attributes.
fn xattr_target(call: &mut Call, path: PathArg) -> Result<Target, Errno> {
    let target = resolve_arg(call, AT_FDCWD, path, false)?;
    if target.proc.is_some() {
        return Err(Errno::EOPNOTSUPP);
    }
    Ok(target)
}

/// A change of attribute `name`: a writable mount, and for a non-root sandbox user write
/// permission, with Linux's rules for user.*: only regular files and directories have
/// them, and on a sticky directory only its owner (or CAP_FOWNER) changes them (EPERM).
fn check_change(call: &mut Call, target: &Target, name: &[u8], follow: bool) -> Result<(), Errno> {
    check_writable(call, target)?;
    if let Some(c) = checking(call).filter(|_| name.starts_with(b"user.")) {
        check_walk(call, &c, target)?;
        let mut st = files(call)?.stat(target.gofer_index, &target.rel, follow)?;
        call.kernel.map_stat(&mut st);
        if !c.may_change_user_xattr(st.st_mode, st.st_uid) {
            return Err(Errno::EPERM);
        }
    }
    let flags = libc::O_WRONLY | if follow { 0 } else { libc::O_NOFOLLOW };
    super::vfs::check_open(call, target, flags).map(|_| ())
}

fn set(
    call: &mut Call,
    path: PathArg,
    follow: bool,
    name: u64,
    value: u64,
    size: u64,
    flags: u64,
) -> Result<Action, Errno> {
    let target = xattr_target(call, path)?;
    let name = read_name(call, name)?;
    check_change(call, &target, &name, follow)?;
    let size = size as usize;
    if size > XATTR_SIZE_MAX {
        return Err(Errno::E2BIG);
    }
    let mut bytes = vec![0u8; size];
    call.kernel
        .mem
        .read(call.tid, value, &mut bytes)
        .map_err(|_| Errno::EFAULT)?;
    let (index, rel) = (target.gofer_index, target.rel);
    files(call)?.setxattr(index, &rel, &name, &bytes, flags as i32, follow)?;
    Ok(Action::Return(0))
}

fn get(
    call: &mut Call,
    path: PathArg,
    follow: bool,
    name: u64,
    value: u64,
    size: u64,
) -> Result<Action, Errno> {
    let target = xattr_target(call, path)?;
    let name = read_name(call, name)?;
    if name.starts_with(TRUSTED) {
        return Err(Errno::ENODATA);
    }
    check_read(call, &target, &name, follow)?;
    let size = (size as usize).min(XATTR_SIZE_MAX);
    let mut bytes = vec![0u8; size];
    let (index, rel) = (target.gofer_index, target.rel);
    let n = files(call)?.getxattr(index, &rel, &name, &mut bytes, follow)?;
    if size > 0 {
        call.kernel
            .mem
            .write(call.tid, value, &bytes[..n])
            .map_err(|_| Errno::EFAULT)?;
    }
    Ok(Action::Return(n as i64))
}

fn list(call: &mut Call, path: PathArg, follow: bool, to: u64, size: u64) -> Result<Action, Errno> {
    let target = xattr_target(call, path)?;
    check_search(call, &target)?;
    let mut names = vec![0u8; XATTR_SIZE_MAX];
    let (index, rel) = (target.gofer_index, target.rel);
    let n = files(call)?.listxattr(index, &rel, &mut names, follow)?;
    names.truncate(n);
    put_list(call, to, size as usize, &names)
}

fn remove(call: &mut Call, path: PathArg, follow: bool, name: u64) -> Result<Action, Errno> {
    let target = xattr_target(call, path)?;
    let name = read_name(call, name)?;
    check_change(call, &target, &name, follow)?;
    let (index, rel) = (target.gofer_index, target.rel);
    files(call)?.removexattr(index, &rel, &name, follow)?;
    Ok(Action::Return(0))
}

/// A read of attribute `name`, for a task without DAC override: search permission on the
/// way, and for a user.* attribute of a regular file or directory, read permission on it
/// (other kinds of file have none: the gofer answers ENODATA). security.* and system.*
/// are left to the file system, as Linux's VFS does.
fn check_read(call: &mut Call, target: &Target, name: &[u8], follow: bool) -> Result<(), Errno> {
    let Some(c) = checking(call) else {
        return Ok(());
    };
    check_walk(call, &c, target)?;
    if !name.starts_with(b"user.") {
        return Ok(());
    }
    let st = files(call)?.stat(target.gofer_index, &target.rel, follow)?;
    let owner = call
        .kernel
        .shown_owner(st.st_dev, st.st_ino, st.st_uid, st.st_gid);
    let has_user_attrs = matches!(st.st_mode & libc::S_IFMT, libc::S_IFREG | libc::S_IFDIR);
    if has_user_attrs && !c.may_access(st.st_mode, owner.uid, owner.gid, libc::R_OK) {
        return Err(Errno::EACCES);
    }
    Ok(())
}

const XATTR_SIZE_MAX: usize = 65536;
const TRUSTED: &[u8] = b"trusted.";

/// The attribute name at `at`, read once (ERANGE as Linux for an empty or over-long one).
fn read_name(call: &Call, at: u64) -> Result<Vec<u8>, Errno> {
    let name = call
        .kernel
        .mem
        .read_cstring(call.tid, at, 255)
        .map_err(|e| match e as i32 {
            libc::ENAMETOOLONG => Errno::ERANGE,
            other => Errno::from_raw(other),
        })?;
    if name.is_empty() {
        return Err(Errno::ERANGE);
    }
    Ok(name)
}

/// Writes the names of `list` a task may see (all but trusted.*) at `addr`, as listxattr
/// returns them: only their size when `size` is 0, ERANGE when they do not fit.
fn put_list(call: &Call, addr: u64, size: usize, list: &[u8]) -> Result<Action, Errno> {
    let visible: Vec<u8> = list
        .split_inclusive(|&b| b == 0)
        .filter(|name| !name.starts_with(TRUSTED))
        .flatten()
        .copied()
        .collect();
    if size > 0 {
        if visible.len() > size {
            return Err(Errno::ERANGE);
        }
        call.kernel
            .mem
            .write(call.tid, addr, &visible)
            .map_err(|_| Errno::EFAULT)?;
    }
    Ok(Action::Return(visible.len() as i64))
}

/// fgetxattr(fd, name, value, size) and flistxattr(fd, list, size). When the tasks run under
/// a host uid of their own, the files the gofer made belong on the host to the sentry's uid,
/// and the kernel would refuse the task (EACCES) what the sandbox's owner may read: the
/// sentry reads them on its duplicate of the fd. Otherwise the kernel does, as the task
/// asked.
fn flistxattr(call: &mut Call, a: args::flistxattr) -> Result<Action, Errno> {
    if !call.kernel.identity.switched {
        return Ok(Action::Pass);
    }
    let file = call.task_fd(a.fd)?;
    let mut names = vec![0u8; XATTR_SIZE_MAX];
    // SAFETY: flistxattr on an fd we own into a buffer of the given length we own.
    let n = unsafe { libc::flistxattr(file.as_raw_fd(), names.as_mut_ptr().cast(), names.len()) };
    if n < 0 {
        return Err(Errno::last());
    }
    names.truncate(n as usize);
    put_list(call, a.list, a.size as usize, &names)
}

/// See [`flistxattr`].
fn fgetxattr(call: &mut Call, a: args::fgetxattr) -> Result<Action, Errno> {
    if !call.kernel.identity.switched {
        return Ok(Action::Pass);
    }
    let file = call.task_fd(a.fd)?;
    let name = read_name(call, a.name)?;
    if name.starts_with(TRUSTED) {
        return Err(Errno::ENODATA);
    }
    let name = std::ffi::CString::new(name).map_err(|_| Errno::EINVAL)?;
    let size = (a.size as usize).min(XATTR_SIZE_MAX);
    let mut value = vec![0u8; size];
    let buf = if size == 0 {
        std::ptr::null_mut()
    } else {
        value.as_mut_ptr().cast()
    };
    // SAFETY: fgetxattr on an fd we own, with a NUL-terminated name, into a buffer of
    // `size` bytes we own (or none when asking for the size).
    let n = unsafe { libc::fgetxattr(file.as_raw_fd(), name.as_ptr(), buf, size) };
    if n < 0 {
        return Err(Errno::last());
    }
    if size > 0 {
        call.kernel
            .mem
            .write(call.tid, a.value, &value[..n as usize])
            .map_err(|_| Errno::EFAULT)?;
    }
    Ok(Action::Return(n as i64))
}

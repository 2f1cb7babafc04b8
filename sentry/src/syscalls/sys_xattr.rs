//! Extended attributes by path: setxattr, getxattr, listxattr, removexattr and their l*
//! forms; and the reads by fd, fgetxattr and flistxattr. security.* and trusted.* are never
//! written; trusted.* is never read (as for any unprivileged reader on the host).

use super::vfs::*;
use super::{Action, Call};
use nix::errno::Errno;
use syscalls::Sysno;

/// The xattr family by path: `(path, name, value, size, flags)` and friends.
pub(super) fn xattr(call: &mut Call) -> Result<Action, Errno> {
    use Sysno::{getxattr, lgetxattr, listxattr, llistxattr, lsetxattr, removexattr, setxattr};
    let follow = matches!(call.sysno, setxattr | getxattr | listxattr | removexattr);
    let target = resolve_arg(call, AT_FDCWD, 0, false)?;
    if target.proc.is_some() {
        // /proc keeps no extended attributes.
        return Err(Errno::EOPNOTSUPP);
    }
    let writable = check_writable(call, &target).and_then(|()| {
        // Changing attributes needs write permission for a non-root sandbox user.
        if matches!(call.sysno, getxattr | lgetxattr | listxattr | llistxattr) {
            return Ok(());
        }
        let flags = libc::O_WRONLY | if follow { 0 } else { libc::O_NOFOLLOW };
        super::vfs::check_open(call, &target, flags).map(|_| ())
    });
    let (index, rel) = (target.gofer_index, target.rel);
    match call.sysno {
        setxattr | lsetxattr => {
            writable?;
            let name = read_name(call)?;
            let size = call.args[3] as usize;
            if size > XATTR_SIZE_MAX {
                return Err(Errno::E2BIG);
            }
            let mut value = vec![0u8; size];
            call.kernel
                .mem
                .read(call.tid, call.args[2], &mut value)
                .map_err(|_| Errno::EFAULT)?;
            let flags = call.args[4] as i32;
            files(call)?.setxattr(index, &rel, &name, &value, flags, follow)?;
            Ok(Action::Return(0))
        }
        getxattr | lgetxattr => {
            let name = read_name(call)?;
            if name.starts_with(TRUSTED) {
                return Err(Errno::ENODATA);
            }
            let size = (call.args[3] as usize).min(XATTR_SIZE_MAX);
            let mut value = vec![0u8; size];
            let n = files(call)?.getxattr(index, &rel, &name, &mut value, follow)?;
            if size > 0 {
                call.kernel
                    .mem
                    .write(call.tid, call.args[2], &value[..n])
                    .map_err(|_| Errno::EFAULT)?;
            }
            Ok(Action::Return(n as i64))
        }
        listxattr | llistxattr => {
            let mut list = vec![0u8; XATTR_SIZE_MAX];
            let n = files(call)?.listxattr(index, &rel, &mut list, follow)?;
            list.truncate(n);
            put_list(call, call.args[1], call.args[2] as usize, &list)
        }
        _ => {
            writable?;
            let name = read_name(call)?;
            files(call)?.removexattr(index, &rel, &name, follow)?;
            Ok(Action::Return(0))
        }
    }
}

const XATTR_SIZE_MAX: usize = 65536;
const TRUSTED: &[u8] = b"trusted.";

/// The attribute name at the call's second argument, read once (ERANGE as Linux for an empty
/// or over-long one).
fn read_name(call: &Call) -> Result<Vec<u8>, Errno> {
    let name = call
        .kernel
        .mem
        .read_cstring(call.tid, call.args[1], 255)
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
pub fn fd_read(call: &mut Call) -> Action {
    if !call.kernel.identity.switched {
        return Action::Pass;
    }
    let result = (|| -> Result<Action, Errno> {
        let file = call.task_fd(call.args[0] as i32)?;
        let raw = std::os::fd::AsRawFd::as_raw_fd(&file);
        if call.sysno == Sysno::flistxattr {
            let mut list = vec![0u8; XATTR_SIZE_MAX];
            // SAFETY: flistxattr on an fd we own into a buffer of the given length we own.
            let n = unsafe { libc::flistxattr(raw, list.as_mut_ptr().cast(), list.len()) };
            if n < 0 {
                return Err(Errno::last());
            }
            list.truncate(n as usize);
            return put_list(call, call.args[1], call.args[2] as usize, &list);
        }
        let name = read_name(call)?;
        if name.starts_with(TRUSTED) {
            return Err(Errno::ENODATA);
        }
        let name = std::ffi::CString::new(name).map_err(|_| Errno::EINVAL)?;
        let size = (call.args[3] as usize).min(XATTR_SIZE_MAX);
        let mut value = vec![0u8; size];
        let buf = if size == 0 {
            std::ptr::null_mut()
        } else {
            value.as_mut_ptr().cast()
        };
        // SAFETY: fgetxattr on an fd we own, with a NUL-terminated name, into a buffer of
        // `size` bytes we own (or none when asking for the size).
        let n = unsafe { libc::fgetxattr(raw, name.as_ptr(), buf, size) };
        if n < 0 {
            return Err(Errno::last());
        }
        if size > 0 {
            call.kernel
                .mem
                .write(call.tid, call.args[2], &value[..n as usize])
                .map_err(|_| Errno::EFAULT)?;
        }
        Ok(Action::Return(n as i64))
    })();
    result.unwrap_or_else(|e| Action::Return(-(e as i64)))
}

//! Extended attributes by path: setxattr, getxattr, listxattr, removexattr and their l*
//! forms. security.* and trusted.* are refused.

use super::vfs::*;
use super::{Action, Call};
use nix::errno::Errno;
use syscalls::Sysno;

/// The xattr family by path: `(path, name, value, size, flags)` and friends.
pub(super) fn xattr(call: &mut Call) -> Result<Action, Errno> {
    use Sysno::{getxattr, lgetxattr, listxattr, llistxattr, lsetxattr, removexattr, setxattr};
    const XATTR_SIZE_MAX: usize = 65536;
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
    let name = || -> Result<Vec<u8>, Errno> {
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
    };
    match call.sysno {
        setxattr | lsetxattr => {
            writable?;
            let name = name()?;
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
            let name = name()?;
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
            let size = (call.args[2] as usize).min(XATTR_SIZE_MAX);
            let mut list = vec![0u8; size];
            let n = files(call)?.listxattr(index, &rel, &mut list, follow)?;
            if size > 0 {
                call.kernel
                    .mem
                    .write(call.tid, call.args[1], &list[..n])
                    .map_err(|_| Errno::EFAULT)?;
            }
            Ok(Action::Return(n as i64))
        }
        _ => {
            writable?;
            let name = name()?;
            files(call)?.removexattr(index, &rel, &name, follow)?;
            Ok(Action::Return(0))
        }
    }
}

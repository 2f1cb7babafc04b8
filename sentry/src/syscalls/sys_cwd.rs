//! The process's view of the file system: chdir, fchdir, getcwd, chroot, umask.

use super::vfs::*;
use super::{Action, Call};
use crate::kernel::FsState;
use nix::errno::Errno;

pub(super) const CAP_SYS_CHROOT: u32 = 18;

crate::syscall_entries! {
    chdir(path: Path) => Gofer, |call, a| by_path(call, a, chdir);
    fchdir(fd: Fd) => Gofer, |call, a| {
        let dir = dir_of_fd(call, a.fd)?;
        if let Some(c) = checking(call) {
            let st = fd_stat(call, a.fd)?;
            let owner = call.kernel.shown_owner(st.st_dev, st.st_ino, st.st_uid, st.st_gid);
            if !c.may_access(st.st_mode, owner.uid, owner.gid, libc::X_OK) {
                return Err(Errno::EACCES);
            }
        }
        set_fs(call, |fs| fs.cwd = dir);
        Ok(Action::Return(0))
    };
    getcwd(buf: Ptr, size: UInt) => Gofer, getcwd;
    chroot(path: Path) => Gofer, |call, a| by_path(call, a, chroot);
    // The kernel sets it (from a register); the sentry forgets the umasks it kept.
    umask(mask: Mode) => Checked, |call, _| {
        call.kernel.umasks.clear();
        Ok(Action::Pass)
    };
}

pub(super) fn set_fs(call: &mut Call, update: impl FnOnce(&mut FsState)) {
    let tgid = call.kernel.tgid_of(call.tid);
    let mut state = call.kernel.fs_of(call.tid);
    update(&mut state);
    call.kernel.fs.insert(tgid, state);
}

fn chdir(call: &mut Call, a: args::chdir) -> Result<Action, Errno> {
    let target = resolve_arg(call, AT_FDCWD, a.path, true)?;
    let target = follow(call, target)?;
    check_search(call, &target)?;
    let dir = canonical_dir(call, &target)?;
    check_file(call, &target, libc::X_OK, true)?;
    set_fs(call, |fs| fs.cwd = dir);
    Ok(Action::Return(0))
}

fn getcwd(call: &mut Call, a: args::getcwd) -> Result<Action, Errno> {
    let FsState { root, cwd } = call.kernel.fs_of(call.tid);
    // Named from the process's root; outside it, "(unreachable)" as Linux says.
    let mut cwd = if within(&cwd, &root) {
        let rest = &cwd[if root == b"/" { 0 } else { root.len() }..];
        if rest.is_empty() {
            b"/".to_vec()
        } else {
            rest.to_vec()
        }
    } else {
        [&b"(unreachable)"[..], &cwd].concat()
    };
    cwd.push(0);
    if (a.size as usize) < cwd.len() {
        return Err(Errno::ERANGE);
    }
    call.kernel
        .mem
        .write(call.tid, a.buf, &cwd)
        .map_err(|_| Errno::EFAULT)?;
    Ok(Action::Return(cwd.len() as i64))
}

/// chroot inside the sandbox: a new root for the calling process. `..` from the new root
/// stays there; a cwd left outside it can still walk up, as on Linux, but never above the
/// sandbox's own root.
fn chroot(call: &mut Call, a: args::chroot) -> Result<Action, Errno> {
    let target = resolve_arg(call, AT_FDCWD, a.path, true)?;
    check_search(call, &target)?;
    let dir = canonical_dir(call, &target)?;
    // Search permission on the new root comes before the capability, as on Linux.
    check_file(call, &target, libc::X_OK, true)?;
    if !call.kernel.creds_of(call.tid).capable(CAP_SYS_CHROOT) {
        return Err(Errno::EPERM);
    }
    set_fs(call, |fs| fs.root = dir);
    Ok(Action::Return(0))
}

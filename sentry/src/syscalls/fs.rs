//! Path-bearing calls, served through the gofer. The sentry reads each path out of the
//! task once, resolves it against the process's root, cwd or dirfd and the mount table,
//! and asks the gofer, which resolves it beneath the mount's root with
//! RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS. The host kernel never sees a path pointer of
//! the task. Fds come back from the gofer and are installed into the task.

use super::vfs::*;
use super::{exec, Action, Call};
use super::{sys_cwd::*, sys_namei::*, sys_open::*, sys_stat::*, sys_xattr::*};
use nix::errno::Errno;
use syscalls::Sysno;

pub fn handle(call: &mut Call) -> Action {
    match across_mounts(call, dispatch) {
        Ok(action) => action,
        Err(e) => Action::Return(-(e as i64)),
    }
}

fn dispatch(call: &mut Call) -> Result<Action, Errno> {
    use Sysno as S;
    let a = call.args;
    let nofollow = libc::AT_SYMLINK_NOFOLLOW as u64;
    match call.sysno {
        S::open => open_at(call, AT_FDCWD, 0, a[1] as i32, a[2] as u32),
        S::creat => open_at(
            call,
            AT_FDCWD,
            0,
            libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC,
            a[1] as u32,
        ),
        S::openat => open_at(call, a[0], 1, a[2] as i32, a[3] as u32),
        S::openat2 => openat2(call),
        S::stat => stat_at(call, AT_FDCWD, 0, 1, 0),
        S::lstat => stat_at(call, AT_FDCWD, 0, 1, nofollow),
        S::newfstatat => stat_at(call, a[0], 1, 2, a[3]),
        S::statx => statx(call),
        S::access => access_at(call, AT_FDCWD, 0, a[1] as i32, 0),
        S::faccessat => access_at(call, a[0], 1, a[2] as i32, 0),
        S::faccessat2 => access_at(call, a[0], 1, a[2] as i32, a[3] as i32),
        S::readlink => readlink_at(call, AT_FDCWD, 0, a[1], a[2]),
        S::readlinkat => readlink_at(call, a[0], 1, a[2], a[3]),
        S::mkdir => mkdir_at(call, AT_FDCWD, 0, a[1] as u32),
        S::mkdirat => mkdir_at(call, a[0], 1, a[2] as u32),
        S::mknod => mknod_at(call, AT_FDCWD, 0, a[1] as u32, a[2]),
        S::mknodat => mknod_at(call, a[0], 1, a[2] as u32, a[3]),
        S::unlink => unlink_at(call, AT_FDCWD, 0, 0),
        S::rmdir => unlink_at(call, AT_FDCWD, 0, libc::AT_REMOVEDIR),
        S::unlinkat => unlink_at(call, a[0], 1, a[2] as i32),
        S::rename => rename_at(call, [AT_FDCWD, 0, AT_FDCWD, 1], 0),
        S::renameat => rename_at(call, [a[0], 1, a[2], 3], 0),
        S::renameat2 => rename_at(call, [a[0], 1, a[2], 3], a[4] as u32),
        S::link => link_at(call, [AT_FDCWD, 0, AT_FDCWD, 1], 0),
        S::linkat => link_at(call, [a[0], 1, a[2], 3], a[4] as i32),
        S::symlink => symlink_at(call, AT_FDCWD, 1),
        S::symlinkat => symlink_at(call, a[1], 2),
        S::chmod => chmod_at(call, AT_FDCWD, 0, a[1] as u32, 0),
        S::fchmodat => chmod_at(call, a[0], 1, a[2] as u32, 0),
        S::fchmodat2 => chmod_at(call, a[0], 1, a[2] as u32, a[3]),
        S::chown => chown_at(call, AT_FDCWD, 0, [a[1], a[2]], 0),
        S::lchown => chown_at(call, AT_FDCWD, 0, [a[1], a[2]], nofollow),
        S::fchownat => chown_at(call, a[0], 1, [a[2], a[3]], a[4]),
        S::utime => utime(call),
        S::utimes => utimes_at(call, AT_FDCWD, 0, a[1]),
        S::futimesat => utimes_at(call, a[0], 1, a[2]),
        S::utimensat => utimensat(call),
        S::truncate => truncate(call),
        S::statfs => statfs(call),
        S::setxattr
        | S::lsetxattr
        | S::getxattr
        | S::lgetxattr
        | S::listxattr
        | S::llistxattr
        | S::removexattr
        | S::lremovexattr => xattr(call),
        S::chdir => chdir(call),
        S::fchdir => fchdir(call),
        S::getcwd => getcwd(call),
        S::chroot => chroot(call),
        S::execve | S::execveat => exec::handle(call),
        S::connect | S::bind => super::net::connect_or_bind(call),
        S::sendto | S::sendmsg | S::sendmmsg => super::net::send(call),
        S::inotify_add_watch => inotify_add_watch(call),
        _ => Err(Errno::ENOSYS),
    }
}

//! mount(2) and umount2(2) on the sandbox's own mount tables. What can be mounted is what
//! stays inside the sandbox: bind mounts of its own directories, tmpfs (a directory of the
//! sentry's scratch space, served by the gofer), proc (the synthesized /proc), remounts and
//! propagation changes. Block devices, host paths and other file system types are refused.

use super::vfs::{by_path, canonical_dir, follow, read_path, resolve, PathArg, Target};
use super::{deny_event, Action, Call};
use crate::kernel::mounts::{normalize, Mount};
use nix::errno::Errno;

const AT_FDCWD: u64 = libc::AT_FDCWD as i64 as u64;
const PROPAGATION: u64 = libc::MS_SHARED | libc::MS_PRIVATE | libc::MS_SLAVE | libc::MS_UNBINDABLE;

// Mounts are the sandbox's own tables (only what stays inside can be mounted).
crate::syscall_entries! {
    mount(source: Path, target: Path, fstype: Ptr, flags: Hex, data: Ptr) => Emulate,
        |call, a| by_path(call, a, mount);
    umount2(target: Path, flags: Int32) => Emulate, |call, a| by_path(call, a, umount);
    pivot_root(new_root: Path, put_old: Path) => Emulate, |call, a| by_path(call, a, pivot_root);
}

/// A directory's sandbox path, following links as mount(2) does.
fn directory(call: &mut Call, path: PathArg) -> Result<(Target, Vec<u8>), Errno> {
    let target = resolve(call, AT_FDCWD, &read_path(call, path)?, true)?;
    let target = follow(call, target)?;
    let path = canonical_dir(call, &target)?;
    Ok((target, path))
}

/// Mounts and unmounts take CAP_SYS_ADMIN in the sandbox's credentials (EPERM after the
/// path is looked up, as on Linux): an ordinary user's mount over a directory would change
/// what root's processes read there.
fn may_mount(call: &Call) -> Result<(), Errno> {
    let c = call.kernel.creds_of(call.tid);
    if c.capable(crate::kernel::creds::CAP_SYS_ADMIN) {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

fn mount(call: &mut Call, a: args::mount) -> Result<Action, Errno> {
    let flags = a.flags;
    let (_, point) = directory(call, a.target)?;
    may_mount(call)?;
    let tid = call.tid;
    if flags & libc::MS_REMOUNT != 0 {
        let table = call.kernel.mounts_mut(tid);
        let index = table.mount_point(&point).ok_or(Errno::EINVAL)?;
        let m = &mut table.mounts[index];
        let read_only = flags & libc::MS_RDONLY != 0;
        if !read_only && m.gofer_read_only {
            // The source itself is read-only (a `:ro` mount, `--read-only`).
            return Err(Errno::EACCES);
        }
        m.read_only = read_only;
        return Ok(Action::Return(0));
    }
    if flags & PROPAGATION != 0 {
        // Nothing propagates between the sandbox's tables and the host's; between the
        // sandbox's own namespaces, mounts never propagate (as MS_PRIVATE).
        let table = call.kernel.mounts(tid);
        return match table.mount_point(&point) {
            Some(_) => Ok(Action::Return(0)),
            None => Err(Errno::EINVAL),
        };
    }
    let read_only = flags & libc::MS_RDONLY != 0;
    let new: Vec<Mount> = if flags & libc::MS_BIND != 0 {
        let (source, source_path) = directory(call, a.source)?;
        let table = call.kernel.mounts(tid);
        let from = table.mounts[source.mount].clone();
        let mut views = vec![view(call, &from, &source, &point, read_only)?];
        if flags & libc::MS_REC != 0 {
            // The mounts below the source come along, under the new mount point.
            let below: Vec<Mount> = call
                .kernel
                .mounts(tid)
                .mounts
                .iter()
                .filter(|m| {
                    m.sandbox_path.starts_with(&source_path)
                        && m.sandbox_path.get(source_path.len()) == Some(&b'/')
                })
                .cloned()
                .collect();
            for mut m in below {
                let tail = m.sandbox_path[source_path.len()..].to_vec();
                m.sandbox_path = normalize(&[point.as_slice(), &tail].concat(), 0);
                m.read_only |= read_only;
                views.push(m);
            }
        }
        views
    } else {
        let fstype = call
            .kernel
            .mem
            .read_cstring(call.tid, a.fstype, 64)
            .map_err(|_| Errno::EFAULT)?;
        match fstype.as_slice() {
            b"tmpfs" | b"ramfs" => {
                let source = call
                    .kernel
                    .mem
                    .read_cstring(call.tid, a.source.ptr, 4095)
                    .unwrap_or_default();
                let mut m = tmpfs(call, &point, read_only)?;
                m.source = source;
                vec![m]
            }
            b"proc" => {
                let proc = call
                    .kernel
                    .mounts(tid)
                    .mounts
                    .iter()
                    .find(|m| m.is_proc)
                    .cloned()
                    .ok_or(Errno::ENODEV)?;
                vec![Mount {
                    sandbox_path: point.clone(),
                    ..proc
                }]
            }
            unknown if !host_knows_fstype(unknown) => return Err(Errno::ENODEV),
            _ => {
                deny_event(
                    call,
                    libc::EPERM,
                    &format!(
                        "mounting {} would reach the host",
                        String::from_utf8_lossy(&fstype)
                    ),
                );
                return Err(Errno::EPERM);
            }
        }
    };
    call.kernel.mounts_mut(tid).mounts.extend(new);
    Ok(Action::Return(0))
}

/// Whether the host kernel knows a file system type (as /proc/filesystems lists it): an
/// unknown type is ENODEV as on Linux; a known one the sandbox may not mount is EPERM.
fn host_knows_fstype(fstype: &[u8]) -> bool {
    std::fs::read("/proc/filesystems").is_ok_and(|list| {
        list.split(|&b| b == b'\n')
            .any(|line| line.rsplit(|&b| b == b'\t').next() == Some(fstype))
    })
}

/// A bind mount: a view of the source directory's mount, rooted at the source.
fn view(
    call: &mut Call,
    from: &Mount,
    source: &Target,
    point: &[u8],
    read_only: bool,
) -> Result<Mount, Errno> {
    if from.is_proc || from.is_dev {
        let mut m = from.clone();
        m.sandbox_path = point.to_vec();
        m.read_only |= read_only;
        return Ok(m);
    }
    let fd = super::vfs::files(call)?.open(
        source.gofer_index,
        &source.rel,
        libc::O_PATH | libc::O_DIRECTORY,
        0,
    )?;
    let host = std::fs::read_link(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&fd)
    ))
    .map_err(|_| Errno::ENOENT)?;
    Ok(Mount {
        sandbox_path: point.to_vec(),
        gofer_index: from.gofer_index,
        host_root: host,
        read_only: from.read_only || read_only,
        is_dev: false,
        is_proc: false,
        base: source
            .rel
            .strip_suffix(b"/")
            .unwrap_or(&source.rel)
            .to_vec(),
        gofer_read_only: from.gofer_read_only,
        is_tmpfs: from.is_tmpfs,
        source: from.source.clone(),
    })
}

/// A tmpfs: a new directory in the sentry's pool, which the gofer serves.
fn tmpfs(call: &mut Call, point: &[u8], read_only: bool) -> Result<Mount, Errno> {
    use std::os::unix::fs::PermissionsExt;
    let (pool_index, pool) = call.kernel.tmpfs_pool.clone();
    let name = format!("t{}", call.kernel.next_tmpfs());
    let host = pool.join(&name);
    std::fs::create_dir(&host).map_err(|_| Errno::ENOSPC)?;
    std::fs::set_permissions(&host, std::fs::Permissions::from_mode(0o1777))
        .map_err(|_| Errno::EIO)?;
    Ok(Mount {
        sandbox_path: point.to_vec(),
        gofer_index: pool_index,
        host_root: host,
        read_only,
        is_dev: false,
        is_proc: false,
        base: name.into_bytes(),
        gofer_read_only: false,
        is_tmpfs: true,
        source: Vec::new(),
    })
}

/// pivot_root is not served (a sandbox changes its root with chroot). Its arguments are
/// read first, so a bad pointer is EFAULT as on Linux; then EPERM with a trace event.
fn pivot_root(call: &mut Call, a: args::pivot_root) -> Result<Action, Errno> {
    read_path(call, a.new_root)?;
    read_path(call, a.put_old)?;
    deny_event(call, libc::EPERM, "pivot_root is not served");
    Err(Errno::EPERM)
}

/// umount2(target, flags): the latest mount at that mount point goes away.
fn umount(call: &mut Call, a: args::umount2) -> Result<Action, Errno> {
    let flags = a.flags;
    let known = libc::MNT_FORCE | libc::MNT_DETACH | libc::MNT_EXPIRE | libc::UMOUNT_NOFOLLOW;
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    let path = read_path(call, a.target)?;
    let target = resolve(call, AT_FDCWD, &path, false)?;
    let target = if flags & libc::UMOUNT_NOFOLLOW != 0 {
        target
    } else {
        follow(call, target)?
    };
    let point = if target.proc.is_some() {
        normalize(&target.path, 0)
    } else {
        match canonical_dir(call, &target) {
            Ok(dir) => dir,
            Err(Errno::ENOTDIR) => target.path.clone(),
            Err(e) => return Err(e),
        }
    };
    may_mount(call)?;
    let table = call.kernel.mounts_mut(call.tid);
    match table.mount_point(&point) {
        None => Err(Errno::EINVAL),
        Some(0) => Err(Errno::EBUSY),
        Some(index) => {
            table.mounts.remove(index);
            Ok(Action::Return(0))
        }
    }
}

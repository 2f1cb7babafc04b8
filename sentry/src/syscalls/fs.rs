//! Path-bearing calls, served through the gofer. The sentry reads each path out of the
//! task once, resolves it against the process's root, cwd or dirfd and the mount table,
//! and asks the gofer, which resolves it beneath the mount's root with
//! RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS. The host kernel never sees a path pointer of
//! the task. Fds come back from the gofer and are installed into the task.

use super::{exec, Action, Call};
use crate::kernel::mounts::{depth, normalize, DEVICES};
use crate::kernel::{FsState, WalkLinks};
use crate::proc;
use gofer::Timespec;
use nix::errno::Errno;
use platform_ptrace::Tid;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use syscalls::Sysno;

const CAP_SYS_CHROOT: u32 = 18;
const TMPFS_MAGIC: i64 = 0x0102_1994;

/// Linux's PATH_MAX, including the NUL.
const PATH_MAX: usize = 4096;
const AT_FDCWD: u64 = libc::AT_FDCWD as i64 as u64;

pub fn handle(call: &mut Call) -> Action {
    match across_mounts(call, dispatch) {
        Ok(action) => action,
        Err(e) => Action::Return(-(e as i64)),
    }
}

/// Runs `decide`, which resolves paths through the gofer. If a symlink led out of its mount
/// (an absolute link in a bind mount, say), the gofer answered EREMOTE before it changed
/// anything, and `decide` runs again with the paths' links followed by the sentry, up to
/// the last name, then the last name too.
pub fn across_mounts<T>(
    call: &mut Call,
    mut decide: impl FnMut(&mut Call) -> Result<T, Errno>,
) -> Result<T, Errno> {
    let mut result = decide(call);
    for walk in [WalkLinks::Parents, WalkLinks::All] {
        if result.as_ref().err() != Some(&Errno::EREMOTE) {
            break;
        }
        call.kernel.walk_links = walk;
        result = decide(call);
    }
    call.kernel.walk_links = WalkLinks::InGofer;
    // Not expected once the sentry walks every link; never shown to the task.
    result.map_err(|e| if e == Errno::EREMOTE { Errno::ELOOP } else { e })
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

/// A path resolved to a mount: the gofer's mount index and the path inside it.
pub struct Target {
    pub mount: usize,
    pub gofer_index: u32,
    pub rel: Vec<u8>,
    /// The normalised sandbox path.
    pub path: Vec<u8>,
    /// In /proc: what the path names there.
    pub proc: Option<proc::Resolved>,
}

impl Target {
    /// The host device this names in the sandbox's /dev, if any.
    fn device(&self, call: &Call) -> Option<&'static str> {
        if !call.kernel.mounts(call.tid).mounts[self.mount].is_dev {
            return None;
        }
        let name = self.rel.strip_suffix(b"/").unwrap_or(&self.rel);
        DEVICES.iter().copied().find(|d| d.as_bytes() == name)
    }
}

/// Reads the path argument `index` of the call, once.
pub fn read_path(call: &Call, index: usize) -> Result<Vec<u8>, Errno> {
    call.kernel
        .mem
        .read_cstring(call.tid, call.args[index], PATH_MAX - 1)
}

/// The sandbox path of a directory fd of the task.
fn dir_of_fd(call: &Call, fd: i32) -> Result<Vec<u8>, Errno> {
    let link = format!("/proc/{}/fd/{fd}", call.tid);
    let host = std::fs::read_link(&link).map_err(|_| Errno::EBADF)?;
    let meta = std::fs::metadata(&link).map_err(|_| Errno::ENOENT)?;
    if !meta.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    let host = host.as_os_str().as_encoded_bytes();
    if let Some(proc_path) = call.kernel.proc_dirs.get(host) {
        return Ok(proc_path.clone());
    }
    call.kernel
        .mounts(call.tid)
        .sandbox_path_of(host)
        .ok_or(Errno::ENOENT)
}

/// Resolves `path` as the call's `dirfd` sees it. `keep_slash`: a trailing slash stays, so
/// that the gofer insists on a directory (open, stat); calls that create or remove a name
/// drop it, as Linux accepts `mkdir("d/")`.
pub fn resolve(
    call: &mut Call,
    dirfd: u64,
    path: &[u8],
    keep_slash: bool,
) -> Result<Target, Errno> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let FsState { root, cwd } = call.kernel.fs_of(call.tid);
    let base = if path[0] == b'/' {
        root.clone()
    } else if dirfd == AT_FDCWD || dirfd as i32 == libc::AT_FDCWD {
        cwd
    } else {
        dir_of_fd(call, dirfd as i32)?
    };
    // `..` stops at the process's root when the walk starts inside it; from a directory
    // left outside a chroot it goes on up (chroot(2)), never above the sandbox's root.
    let floor = if within(&base, &root) {
        depth(&root)
    } else {
        0
    };
    let mut joined = base;
    joined.push(b'/');
    joined.extend_from_slice(path);
    let mut normal = match call.kernel.walk_links {
        WalkLinks::InGofer => normalize(&joined, floor),
        walk => walk_links(call, &joined, &root, walk == WalkLinks::All)?,
    };
    // Links of /proc met on the way (/proc/self/root/…, /proc/1/cwd/…) lead elsewhere.
    for _ in 0..MAX_PROC_LINKS {
        let (mount, rel) = call
            .kernel
            .mounts(call.tid)
            .lookup(&normal)
            .ok_or(Errno::ENOENT)?;
        let mut rel = rel.to_vec();
        let proc = if call.kernel.mounts(call.tid).mounts[mount].is_proc {
            match proc::resolve(call.kernel, call.tid, &rel, false)? {
                proc::Resolved::Elsewhere(next) => {
                    normal = normalize(&next, 0);
                    continue;
                }
                other => Some(other),
            }
        } else if call.kernel.mounts(call.tid).mounts[mount].is_dev {
            // /dev/fd, /dev/stdin, /dev/stdout and /dev/stderr lead into /proc: on the way
            // they are followed here; at the end they are links, as /proc's own.
            match dev_link(&rel) {
                Some((link, [])) => Some(proc::Resolved::Node(proc::Node::Link(link))),
                Some((mut link, rest)) => {
                    link.push(b'/');
                    link.extend_from_slice(rest);
                    normal = normalize(&link, 0);
                    continue;
                }
                None => None,
            }
        } else {
            None
        };
        if keep_slash && path.ends_with(b"/") && rel != b"." {
            rel.push(b'/');
        }
        let m = &call.kernel.mounts(call.tid).mounts[mount];
        return Ok(Target {
            mount,
            gofer_index: m.gofer_index,
            rel: m.gofer_path(&rel),
            path: normal,
            proc,
        });
    }
    Err(Errno::ELOOP)
}

/// The links of the synthesized /dev (as Linux's devtmpfs and container runtimes have
/// them): for a path inside /dev, the link's target and what follows the link's name.
fn dev_link(rel: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let (name, rest) = match rel.iter().position(|&b| b == b'/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => (rel, &rel[rel.len()..]),
    };
    let target: &[u8] = match name {
        b"fd" => b"/proc/self/fd",
        b"stdin" => b"/proc/self/fd/0",
        b"stdout" => b"/proc/self/fd/1",
        b"stderr" => b"/proc/self/fd/2",
        _ => return None,
    };
    Some((target.to_vec(), rest))
}

/// Names of the links [`dev_link`] knows, with their targets (made in /dev's directory).
pub const DEV_LINKS: [(&str, &str); 4] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];

/// Follows the symlinks of `path` (absolute, not normalised) in the sentry, one name at a
/// time through the gofer's readlink, across mounts; `..` is taken after the links before
/// it, as the kernel does. The last name is followed only if `last`. Inside /proc and /dev
/// the rest is left to their own resolution. Returns the normalised path.
fn walk_links(call: &mut Call, path: &[u8], root: &[u8], last: bool) -> Result<Vec<u8>, Errno> {
    const MAX_LINKS: usize = 40; // as Linux's MAXSYMLINKS
    let floor = depth(root);
    let mut todo: std::collections::VecDeque<Vec<u8>> = path
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .map(<[u8]>::to_vec)
        .collect();
    let mut done = b"/".to_vec();
    let mut links = 0;
    while let Some(name) = todo.pop_front() {
        if name == b".." {
            done = normalize(&[&done[..], b"/.."].concat(), floor);
            continue;
        }
        let here = normalize(&[&done[..], b"/", &name[..]].concat(), 0);
        if todo.is_empty() && !last {
            done = here;
            break;
        }
        let mounts = call.kernel.mounts(call.tid);
        let (mount, rel) = mounts.lookup(&here).ok_or(Errno::ENOENT)?;
        let m = &mounts.mounts[mount];
        if m.is_proc || m.is_dev {
            done = here;
            break;
        }
        let (index, rel) = (m.gofer_index, m.gofer_path(rel));
        match files(call)?.readlink(index, &rel) {
            Ok(link) => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(Errno::ELOOP);
                }
                if link.starts_with(b"/") {
                    done = root.to_vec();
                }
                for c in link.split(|&b| b == b'/').rev() {
                    if !c.is_empty() && c != b"." {
                        todo.push_front(c.to_vec());
                    }
                }
            }
            // Not a link (EINVAL), or not there: the call itself says what is wrong.
            Err(_) => done = here,
        }
    }
    let rest: Vec<&[u8]> = todo.iter().map(Vec::as_slice).collect();
    Ok(normalize(
        &[&done[..], b"/", &rest.join(&b'/')[..]].concat(),
        floor,
    ))
}

/// How many links of /proc one resolution may follow.
const MAX_PROC_LINKS: usize = 8;

/// Follows a /proc link at the end of a path (open, stat, chdir and exec follow it).
pub fn follow(call: &mut Call, mut target: Target) -> Result<Target, Errno> {
    for _ in 0..MAX_PROC_LINKS {
        let Some(proc::Resolved::Node(proc::Node::Link(link))) = &target.proc else {
            return Ok(target);
        };
        if !call.kernel.mounts(call.tid).mounts[target.mount].is_proc {
            // A link of /dev (see `dev_link`): absolute, into /proc.
            target = resolve(call, AT_FDCWD, &link.clone(), true)?;
            continue;
        }
        let parent = match target.path.iter().rposition(|&b| b == b'/') {
            Some(0) | None => b"/".to_vec(),
            Some(i) => target.path[..i].to_vec(),
        };
        let rel = target.rel.clone();
        let next = proc::resolve(call.kernel, call.tid, &rel, true)?;
        target = match next {
            proc::Resolved::Elsewhere(path) => resolve(call, AT_FDCWD, &path, true)?,
            proc::Resolved::Node(proc::Node::Link(_)) | proc::Resolved::Node(_)
                if link.starts_with(b"/") =>
            {
                resolve(call, AT_FDCWD, link, true)?
            }
            other @ (proc::Resolved::TaskFd { .. } | proc::Resolved::Namespace(_)) => Target {
                proc: Some(other),
                ..target
            },
            _ => resolve(call, AT_FDCWD, &proc::link_target(&parent, link), true)?,
        };
    }
    Err(Errno::ELOOP)
}

/// Opens a /proc node for the task: a file's content, a directory's layout, another
/// fd of a task's open file.
fn open_proc(call: &mut Call, target: &Target, flags: i32) -> Result<OwnedFd, Errno> {
    let writing =
        flags & libc::O_ACCMODE != libc::O_RDONLY || flags & (libc::O_CREAT | libc::O_TRUNC) != 0;
    match target.proc.as_ref().expect("a /proc target") {
        proc::Resolved::TaskFd { host, fd } => {
            let link = format!("/proc/{host}/fd/{fd}");
            let unlinked_file = std::fs::metadata(&link).is_ok_and(|m| {
                use std::os::unix::fs::MetadataExt;
                m.is_file() && m.nlink() == 0
            });
            if !unlinked_file {
                return super::net::task_fd_of(*host, *fd);
            }
            // A new open of the file with the caller's flags, as the kernel reopens through
            // /proc, checked as the sandbox's identity sees the file.
            let link = CString::new(link).expect("no NUL");
            super::ids::check_reopen(call, &link, flags)?;
            reopen(&link, flags)
        }
        proc::Resolved::Node(proc::Node::File(content)) if writing => {
            let domain = match target.path.as_slice() {
                b"/proc/sys/kernel/hostname" => false,
                b"/proc/sys/kernel/domainname" => true,
                _ => return Err(Errno::EACCES),
            };
            // The task writes into a memfd of the current value; the sentry reads it back.
            // SAFETY: memfd_create with a NUL-terminated name; the result is checked.
            let raw = unsafe { libc::memfd_create(c"uts".as_ptr(), libc::MFD_CLOEXEC) };
            if raw < 0 {
                return Err(Errno::last());
            }
            // SAFETY: the fd was just created and is ours alone.
            let memfd = unsafe { OwnedFd::from_raw_fd(raw) };
            if flags & libc::O_TRUNC == 0 {
                // SAFETY: writing our buffer to our fd.
                unsafe { libc::write(raw, content.as_ptr().cast(), content.len()) };
            }
            let st = nix::sys::stat::fstat(raw).map_err(|_| Errno::EIO)?;
            let path = CString::new(format!("/proc/self/fd/{raw}")).expect("no NUL");
            let access = flags & libc::O_ACCMODE;
            // SAFETY: open of a NUL-terminated path we own; the result is checked.
            let task_fd = unsafe { libc::open(path.as_ptr(), access | libc::O_CLOEXEC) };
            if task_fd < 0 {
                return Err(Errno::last());
            }
            let ns = call.kernel.uts_of(call.tid);
            call.kernel.uts_writes.push(crate::kernel::UtsWrite {
                ns,
                domain,
                file: memfd,
                seen: (st.st_mtime, st.st_mtime_nsec, st.st_size),
            });
            // SAFETY: the fd was just opened and is ours alone.
            Ok(unsafe { OwnedFd::from_raw_fd(task_fd) })
        }
        proc::Resolved::Node(proc::Node::File(content)) => {
            if flags & libc::O_DIRECTORY != 0 {
                return Err(Errno::ENOTDIR);
            }
            proc::file_fd(content)
        }
        proc::Resolved::Node(proc::Node::Link(_)) => Err(Errno::ELOOP),
        proc::Resolved::Node(node @ proc::Node::Dir(_)) => {
            if writing {
                return Err(Errno::EISDIR);
            }
            let host = proc::materialize(&call.kernel.proc_scratch, &target.path, node)?;
            let host_bytes = host.as_os_str().as_encoded_bytes().to_vec();
            call.kernel
                .proc_dirs
                .insert(host_bytes, target.path.clone());
            let c = CString::new(host.as_os_str().as_encoded_bytes()).map_err(|_| Errno::EINVAL)?;
            // SAFETY: open of a NUL-terminated path we own; the result is checked.
            let fd = unsafe {
                libc::open(
                    c.as_ptr(),
                    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
                )
            };
            if fd < 0 {
                return Err(Errno::last());
            }
            // SAFETY: the fd was just opened and is ours alone.
            Ok(unsafe { OwnedFd::from_raw_fd(fd) })
        }
        proc::Resolved::Namespace(ns) => {
            let fd = proc::file_fd(b"")?;
            let st = nix::sys::stat::fstat(fd.as_raw_fd()).map_err(|_| Errno::EIO)?;
            call.kernel.ns_files.insert((st.st_dev, st.st_ino), *ns);
            Ok(fd)
        }
        proc::Resolved::Elsewhere(_) => Err(Errno::ENOENT),
    }
}

fn is_task_fd(target: &Target) -> bool {
    matches!(target.proc, Some(proc::Resolved::TaskFd { .. }))
}

/// stat of a /proc node: the host's stat of its layout.
fn stat_proc(call: &mut Call, target: &Target) -> Result<std::path::PathBuf, Errno> {
    match target.proc.as_ref().expect("a /proc target") {
        proc::Resolved::Node(node) => {
            proc::materialize(&call.kernel.proc_scratch, &target.path, node)
        }
        proc::Resolved::TaskFd { host, fd } => {
            Ok(std::path::PathBuf::from(format!("/proc/{host}/fd/{fd}")))
        }
        proc::Resolved::Namespace(ns) => proc::materialize(
            &call.kernel.proc_scratch,
            &target.path,
            &proc::Node::File(format!("{ns:?}").into_bytes()),
        ),
        proc::Resolved::Elsewhere(_) => Err(Errno::ENOENT),
    }
}

/// EROFS for a change under a read-only view (a read-only bind or remount made inside
/// the sandbox) of a mount the gofer would let it change.
pub fn check_writable(call: &Call, target: &Target) -> Result<(), Errno> {
    let m = &call.kernel.mounts(call.tid).mounts[target.mount];
    if m.read_only && !m.gofer_read_only {
        return Err(Errno::EROFS);
    }
    Ok(())
}

fn resolve_arg(
    call: &mut Call,
    dirfd: u64,
    index: usize,
    keep_slash: bool,
) -> Result<Target, Errno> {
    let path = read_path(call, index)?;
    resolve(call, dirfd, &path, keep_slash)
}

pub fn files<'a>(call: &'a mut Call) -> Result<&'a mut gofer::Client, Errno> {
    call.kernel.files.as_mut().ok_or(Errno::EIO)
}

/// The task's umask, which the sentry applies to the modes it asks the gofer for.
pub fn umask_of(tid: Tid) -> u32 {
    std::fs::read_to_string(format!("/proc/{tid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

fn write_out<T>(call: &Call, addr: u64, value: &T) -> Result<(), Errno> {
    // SAFETY: viewing a plain-data value we own as its bytes, for copying out.
    let bytes = unsafe {
        std::slice::from_raw_parts(value as *const T as *const u8, std::mem::size_of::<T>())
    };
    call.kernel
        .mem
        .write(call.tid, addr, bytes)
        .map_err(|_| Errno::EFAULT)
}

fn host_device(name: &str) -> CString {
    CString::new(format!("/dev/{name}")).expect("device names have no NUL")
}

fn open_at(
    call: &mut Call,
    dirfd: u64,
    index: usize,
    flags: i32,
    mode: u32,
) -> Result<Action, Errno> {
    if !call.kernel.uts_writes.is_empty() {
        // A name written to /proc since the last read is what this open must see.
        call.kernel.sync_uts_writes();
    }
    let target = resolve_arg(call, dirfd, index, true)?;
    open_target(call, target, flags, mode)
}

/// The open of a resolved path (open, openat, openat2 after their own resolution).
fn open_target(
    call: &mut Call,
    mut target: Target,
    flags: i32,
    mode: u32,
) -> Result<Action, Errno> {
    if flags & libc::O_NOFOLLOW == 0 {
        target = follow(call, target)?;
    }
    let cloexec = flags & libc::O_CLOEXEC != 0;
    let fd = if target.proc.is_some() {
        open_proc(call, &target, flags)?
    } else if let Some(device) = target.device(call) {
        let flags = flags & !(libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC) | libc::O_CLOEXEC;
        // SAFETY: open of a NUL-terminated path we own; the result is checked.
        let fd = unsafe { libc::open(host_device(device).as_ptr(), flags) };
        if fd < 0 {
            return Err(Errno::last());
        }
        // SAFETY: the fd was just opened and is ours alone.
        unsafe { OwnedFd::from_raw_fd(fd) }
    } else {
        let creating = flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE;
        if creating || flags & (libc::O_ACCMODE | libc::O_TRUNC) != libc::O_RDONLY {
            check_writable(call, &target)?;
        }
        let mode = if creating {
            mode & 0o7777 & !umask_of(call.tid)
        } else {
            0
        };
        let owner = super::ids::check_open(call, &target, flags)?; // issue 8
        let (index, rel) = (target.gofer_index, target.rel);
        // The kernel cannot install an O_PATH fd into another task (ADDFD takes only fds
        // with file operations): such opens get an ordinary read-only fd of the same file,
        // non-blocking so that a FIFO does not wait for a writer. A symbolic link itself
        // (O_PATH|O_NOFOLLOW) cannot be given this way: EOPNOTSUPP, which is what callers
        // that open a link to change its mode (gnulib's lchmod, tar) get from the change.
        let o_path = flags & libc::O_PATH != 0;
        let flags = if o_path {
            flags & (libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
                | libc::O_RDONLY
                | libc::O_NONBLOCK
        } else {
            flags
        };
        let fd = match files(call)?.open(index, &rel, flags, mode) {
            Err(Errno::ELOOP) if o_path && flags & libc::O_NOFOLLOW != 0 => {
                return Err(Errno::EOPNOTSUPP)
            }
            other => other?,
        };
        super::ids::created_fd(call.kernel, &fd, owner);
        // A blocking open of a FIFO, or of a file under another process's lease: the gofer
        // never waits, and answers an O_PATH fd.
        if !o_path && is_path_fd(&fd) {
            return Ok(fifo_open(fd, flags, cloexec));
        }
        fd
    };
    Ok(Action::Install { fd, cloexec })
}

/// A new open file of what a /proc fd link (`/proc/<pid>/fd/<n>`) names, as the sentry's own.
fn reopen(link: &std::ffi::CStr, flags: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: open of a NUL-terminated path we own; the result is checked.
    let raw = unsafe { libc::open(link.as_ptr(), flags | libc::O_CLOEXEC, 0) };
    if raw < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the fd was just opened and is ours alone.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

fn is_path_fd(fd: &OwnedFd) -> bool {
    nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFL)
        .is_ok_and(|f| f & libc::O_PATH != 0)
}

/// A blocking open of the FIFO `node` (an fd of it from the gofer): the open waits for the
/// other end, as open(2) does, on a thread of its own; the task waits in its install
/// request (where a signal interrupts it, as it would the open) until the fd comes.
/// A regular file `node` is one another process holds a lease on: the open waits, the same
/// way, for the lease to be broken.
fn fifo_open(node: OwnedFd, flags: i32, cloexec: bool) -> Action {
    let reopen = |node: &OwnedFd, flags: i32| {
        let link = CString::new(format!("/proc/self/fd/{}", node.as_raw_fd())).expect("no NUL");
        reopen(&link, flags)
    };
    let st = nix::sys::stat::fstat(node.as_raw_fd()).ok();
    let key = st.map_or((0, 0, flags), |st| (st.st_dev, st.st_ino, flags));
    if st.is_some_and(|st| st.st_mode & libc::S_IFMT != libc::S_IFIFO) {
        let flags = flags & !(libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW);
        let fifo = super::FifoOpen {
            open: super::Opener(Box::new(move || reopen(&node, flags))),
            // Nothing makes a lease break sooner: a cancelled open finishes on its own.
            other_end: None,
            key,
        };
        return Action::InstallWhenOpened { fifo, cloexec };
    }
    let Ok(other) = node.try_clone() else {
        return Action::Return(-(libc::EMFILE as i64));
    };
    let flags = flags & !(libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC | libc::O_NOFOLLOW);
    let other_end = if flags & libc::O_ACCMODE == libc::O_RDONLY {
        libc::O_WRONLY
    } else {
        libc::O_RDONLY
    };
    let fifo = super::FifoOpen {
        open: super::Opener(Box::new(move || reopen(&node, flags))),
        other_end: Some(super::OtherEnd(Box::new(move || {
            reopen(&other, other_end | libc::O_NONBLOCK)
        }))),
        key,
    };
    Action::InstallWhenOpened { fifo, cloexec }
}

fn openat2(call: &mut Call) -> Result<Action, Errno> {
    // struct open_how { u64 flags; u64 mode; u64 resolve; }
    let size = call.args[3] as usize;
    if size < 24 {
        return Err(Errno::EINVAL);
    }
    let mut how = [0u8; 24];
    call.kernel
        .mem
        .read(call.tid, call.args[2], &mut how)
        .map_err(|_| Errno::EFAULT)?;
    let field = |i: usize| u64::from_ne_bytes(how[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    if size > 4096 {
        return Err(Errno::E2BIG);
    }
    if size > 24 {
        // A larger struct from a newer caller: what we do not know must be zero.
        let mut tail = vec![0u8; size - 24];
        call.kernel
            .mem
            .read(call.tid, call.args[2] + 24, &mut tail)
            .map_err(|_| Errno::EFAULT)?;
        if tail.iter().any(|&b| b != 0) {
            return Err(Errno::E2BIG);
        }
    }
    let resolve = field(2);
    if resolve & !RESOLVE_KNOWN != 0
        || resolve & (RESOLVE_BENEATH | RESOLVE_IN_ROOT) == RESOLVE_BENEATH | RESOLVE_IN_ROOT
    {
        return Err(Errno::EINVAL);
    }
    let flags = field(0);
    if flags > u32::MAX as u64 || field(1) > 0o7777 {
        return Err(Errno::EINVAL);
    }
    let creating =
        flags as i32 & libc::O_CREAT != 0 || flags as i32 & libc::O_TMPFILE == libc::O_TMPFILE;
    if field(1) != 0 && !creating {
        return Err(Errno::EINVAL);
    }
    if !call.kernel.uts_writes.is_empty() {
        call.kernel.sync_uts_writes();
    }
    let path = read_path(call, 1)?;
    let target = resolve_scoped(call, call.args[0], &path, resolve)?;
    let mut flags = flags as i32;
    if resolve & RESOLVE_NO_SYMLINKS != 0 {
        flags |= libc::O_NOFOLLOW;
    }
    open_target(call, target, flags, field(1) as u32)
}

const RESOLVE_NO_XDEV: u64 = 0x01;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_BENEATH: u64 = 0x08;
const RESOLVE_IN_ROOT: u64 = 0x10;
const RESOLVE_KNOWN: u64 = 0x3f;

/// openat2's scoped resolution. RESOLVE_IN_ROOT: the dirfd is `/` for this walk (`..`
/// stops there, absolute paths start there). RESOLVE_BENEATH: an absolute path, or `..`
/// climbing above the dirfd, is EXDEV. RESOLVE_NO_XDEV: ending in another mount than the
/// dirfd's is EXDEV. RESOLVE_NO_SYMLINKS: a symbolic link anywhere on the way is ELOOP.
/// (RESOLVE_NO_MAGICLINKS holds always: the gofer never follows magic links. Symbolic links
/// met inside a mount are resolved by the gofer against the mount's root.)
fn resolve_scoped(call: &mut Call, dirfd: u64, path: &[u8], scope: u64) -> Result<Target, Errno> {
    if scope & (RESOLVE_IN_ROOT | RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS) == 0 {
        return resolve(call, dirfd, path, true);
    }
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let base = if path.starts_with(b"/") && scope & RESOLVE_IN_ROOT == 0 {
        call.kernel.fs_of(call.tid).root
    } else if dirfd == AT_FDCWD || dirfd as i32 == libc::AT_FDCWD {
        call.kernel.fs_of(call.tid).cwd
    } else {
        dir_of_fd(call, dirfd as i32)?
    };
    if scope & RESOLVE_BENEATH != 0 {
        if path.starts_with(b"/") {
            return Err(Errno::EXDEV);
        }
        let mut level: i64 = 0;
        for part in path.split(|&b| b == b'/') {
            match part {
                b"" | b"." => {}
                b".." => level -= 1,
                _ => level += 1,
            }
            if level < 0 {
                return Err(Errno::EXDEV);
            }
        }
    }
    let mut joined = base.clone();
    joined.push(b'/');
    joined.extend_from_slice(path.strip_prefix(b"/").unwrap_or(path));
    let normal = normalize(&joined, depth(&base));
    if scope & RESOLVE_NO_SYMLINKS != 0 {
        // Every component from the base on must be no symbolic link, the last one included.
        let mut prefix = base.clone();
        let below = &normal[base.len().min(normal.len())..];
        for part in below.split(|&b| b == b'/').filter(|p| !p.is_empty()) {
            if prefix.last() != Some(&b'/') {
                prefix.push(b'/');
            }
            prefix.extend_from_slice(part);
            let step = resolve(call, AT_FDCWD, &prefix, false)?;
            if step.proc.is_some() || step.device(call).is_some() {
                continue;
            }
            match files(call)?.stat(step.gofer_index, &step.rel, false) {
                Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFLNK => return Err(Errno::ELOOP),
                Ok(_) | Err(Errno::ENOENT) => {}
                Err(e) => return Err(e),
            }
        }
    }
    let target = resolve(call, AT_FDCWD, &normal, path.ends_with(b"/"))?;
    if scope & RESOLVE_NO_XDEV != 0 {
        let (base_mount, _) = call
            .kernel
            .mounts(call.tid)
            .lookup(&base)
            .ok_or(Errno::ENOENT)?;
        if base_mount != target.mount {
            return Err(Errno::EXDEV);
        }
    }
    Ok(target)
}

/// `stat`, `lstat`, `newfstatat`: `path_index`, `buf_index` are argument positions.
fn stat_at(
    call: &mut Call,
    dirfd: u64,
    path_index: usize,
    buf_index: usize,
    flags: u64,
) -> Result<Action, Errno> {
    let flags = flags as i32;
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH | libc::AT_NO_AUTOMOUNT) != 0 {
        return Err(Errno::EINVAL);
    }
    let null_path = call.args[path_index] == 0 && call.sysno == Sysno::newfstatat;
    if (null_path || read_path(call, path_index)?.is_empty()) && flags & libc::AT_EMPTY_PATH != 0 {
        // Issue 8: the fd's owner in sandbox ids.
        if let Some(done) = super::ids::stat_fd(call, dirfd, call.args[buf_index])? {
            return Ok(done);
        }
    }
    if null_path {
        // No path pointer for the kernel to read: it stats the fd itself.
        return Ok(Action::Pass);
    }
    let path = read_path(call, path_index)?;
    if path.is_empty() && flags & libc::AT_EMPTY_PATH != 0 {
        let mut args = call.args;
        args[path_index] = 0;
        return Ok(Action::PassWith(args));
    }
    let mut target = resolve(call, dirfd, &path, true)?;
    let follow_last = flags & libc::AT_SYMLINK_NOFOLLOW == 0;
    if follow_last {
        target = follow(call, target)?;
    }
    let st = if target.proc.is_some() {
        let host = stat_proc(call, &target)?;
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
        st
    } else if let Some(device) = target.device(call) {
        // SAFETY: stat is plain data; zeroed is a valid value, filled by the kernel.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: stat of a NUL-terminated path we own into memory we own.
        if unsafe { libc::stat(host_device(device).as_ptr(), &mut st) } != 0 {
            return Err(Errno::last());
        }
        st
    } else {
        super::ids::check_search(call, &target)?;
        let (index, rel) = (target.gofer_index, target.rel);
        files(call)?.stat(index, &rel, follow_last)?
    };
    let mut st = st;
    call.kernel.map_stat(&mut st); // owners in sandbox ids
    write_out(call, call.args[buf_index], &st)?;
    Ok(Action::Return(0))
}

fn statx(call: &mut Call) -> Result<Action, Errno> {
    let [dirfd, path_ptr, flags, mask, buf, _] = call.args;
    let flags = flags as i32;
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
    if (path_ptr == 0 || read_path(call, 1)?.is_empty()) && flags & libc::AT_EMPTY_PATH != 0 {
        // Issue 8: the fd's owner in sandbox ids.
        if let Some(done) = super::ids::statx_fd(call, dirfd, flags, mask as u32, buf)? {
            return Ok(done);
        }
    }
    if path_ptr == 0 {
        return Ok(Action::Pass);
    }
    let path = read_path(call, 1)?;
    if path.is_empty() && flags & libc::AT_EMPTY_PATH != 0 {
        let mut args = call.args;
        args[1] = 0;
        return Ok(Action::PassWith(args));
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
    let stx = if let Some(host) = proc_host {
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
        stx
    } else if let Some(device) = target.device(call) {
        // SAFETY: statx is plain data; zeroed is valid and filled by the kernel.
        let mut stx: libc::statx = unsafe { std::mem::zeroed() };
        // SAFETY: statx of a NUL-terminated path we own into memory we own.
        let rc = unsafe {
            libc::statx(
                libc::AT_FDCWD,
                host_device(device).as_ptr(),
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
        super::ids::check_search(call, &target)?;
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
    index: usize,
    mode: i32,
    flags: i32,
) -> Result<Action, Errno> {
    if mode & !(libc::R_OK | libc::W_OK | libc::X_OK) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & !(libc::AT_EACCESS | libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & libc::AT_EMPTY_PATH != 0 && read_path(call, index)?.is_empty() {
        // The fd itself: checked by the sentry on its own copy of it, with a path ("")
        // of its own.
        let fd = super::net::task_fd(call, dirfd as i32)?;
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
    let target = resolve_arg(call, dirfd, index, true)?;
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
        return match unsafe { libc::access(host_device(device).as_ptr(), mode) } {
            0 => Ok(Action::Return(0)),
            _ => Err(Errno::last()),
        };
    }
    // Issue 8: decided for the sandbox identity, on the owner the sandbox sees.
    super::ids::access(call, &target, mode, flags)
}

fn readlink_at(
    call: &mut Call,
    dirfd: u64,
    index: usize,
    buf: u64,
    size: u64,
) -> Result<Action, Errno> {
    if size as i64 <= 0 {
        return Err(Errno::EINVAL);
    }
    let target = resolve_arg(call, dirfd, index, false)?;
    let mut link = match &target.proc {
        Some(proc::Resolved::Node(proc::Node::Link(link))) => link.clone(),
        Some(_) => return Err(Errno::EINVAL),
        None => {
            super::ids::check_search(call, &target)?;
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

fn mkdir_at(call: &mut Call, dirfd: u64, index: usize, mode: u32) -> Result<Action, Errno> {
    if matches!(last_component(&read_path(call, index)?), b"." | b"..") {
        return Err(Errno::EEXIST);
    }
    let target = resolve_arg(call, dirfd, index, false)?;
    check_writable(call, &target)?;
    let mode = mode & 0o7777 & !umask_of(call.tid);
    super::ids::check_name_change(call, &target, false)?; // issue 8
    let owner = super::ids::creates_as_other(call);
    let (index, rel) = (target.gofer_index, target.rel);
    files(call)?.mkdir(index, &rel, mode)?;
    super::ids::created(call, index, &rel, owner);
    Ok(Action::Return(0))
}

fn mknod_at(
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
    super::ids::check_name_change(call, &target, false)?; // issue 8
    let owner = super::ids::creates_as_other(call);
    let (index, rel) = (target.gofer_index, target.rel);
    files(call)?.mknod(index, &rel, mode, dev)?;
    super::ids::created(call, index, &rel, owner);
    Ok(Action::Return(0))
}

/// The last component of a path as the task wrote it ("" for "/"): `.` and `..` there
/// have Linux's own answers, which lexical normalisation would otherwise hide.
fn last_component(path: &[u8]) -> &[u8] {
    let trimmed = path.strip_suffix(b"/").unwrap_or(path);
    trimmed.rsplit(|&b| b == b'/').next().unwrap_or(trimmed)
}

fn unlink_at(call: &mut Call, dirfd: u64, index: usize, flags: i32) -> Result<Action, Errno> {
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
    super::ids::check_name_change(call, &target, true)?; // issue 8
    let (index, rel) = (target.gofer_index, target.rel);
    super::ids::removing(call, index, &rel);
    files(call)?.unlink(index, &rel, flags)?;
    Ok(Action::Return(0))
}

/// Two paths (`[olddirfd, oldpath index, newdirfd, newpath index]`) in one mount.
fn two_targets(call: &mut Call, at: [u64; 4]) -> Result<(Target, Target), Errno> {
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

fn rename_at(call: &mut Call, at: [u64; 4], flags: u32) -> Result<Action, Errno> {
    let (from, to) = two_targets(call, at)?;
    super::ids::check_name_change(call, &from, true)?; // issue 8
    super::ids::check_name_change(call, &to, false)?;
    super::ids::removing(call, to.gofer_index, &to.rel);
    files(call)?.rename(from.gofer_index, &from.rel, to.gofer_index, &to.rel, flags)?;
    Ok(Action::Return(0))
}

fn link_at(call: &mut Call, at: [u64; 4], flags: i32) -> Result<Action, Errno> {
    if flags & !(libc::AT_SYMLINK_FOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & libc::AT_EMPTY_PATH != 0 && read_path(call, at[1] as usize)?.is_empty() {
        return link_fd(call, at);
    }
    let (from, to) = two_targets(call, at)?;
    let follow = flags & libc::AT_SYMLINK_FOLLOW != 0;
    super::ids::check_name_change(call, &to, false)?; // issue 8
    files(call)?.link(from.gofer_index, &from.rel, to.gofer_index, &to.rel, follow)?;
    Ok(Action::Return(0))
}

/// linkat(fd, "", newdirfd, newpath, AT_EMPTY_PATH): a name for the file behind a task's fd
/// (an O_TMPFILE file, say). The sentry links its own duplicate of the fd into the parent
/// directory the gofer opened, by a single name: no path of the task reaches the host. Like
/// Linux it needs CAP_DAC_READ_SEARCH, which a root sentry has.
fn link_fd(call: &mut Call, at: [u64; 4]) -> Result<Action, Errno> {
    let from = super::net::task_fd(call, at[0] as i32)?;
    let st = nix::sys::stat::fstat(from.as_raw_fd()).map_err(|_| Errno::EBADF)?;
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        return Err(Errno::EPERM);
    }
    let to = resolve_arg(call, at[2], at[3] as usize, false)?;
    check_writable(call, &to)?;
    super::ids::check_name_change(call, &to, false)?; // issue 8
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

fn symlink_at(call: &mut Call, dirfd: u64, index: usize) -> Result<Action, Errno> {
    let link_target = read_path(call, 0)?;
    if link_target.is_empty() {
        return Err(Errno::ENOENT);
    }
    let target = resolve_arg(call, dirfd, index, false)?;
    check_writable(call, &target)?;
    super::ids::check_name_change(call, &target, false)?; // issue 8
    let owner = super::ids::creates_as_other(call);
    let (index, rel) = (target.gofer_index, target.rel);
    files(call)?.symlink(index, &rel, &link_target)?;
    super::ids::created(call, index, &rel, owner);
    Ok(Action::Return(0))
}

fn chmod_at(
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
    super::ids::check_owner(call, &target, flags & libc::AT_SYMLINK_NOFOLLOW == 0)?; // issue 8
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

fn chown_at(
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
        // Issue 8: chown is recorded by the sentry, never done on the host.
        return Ok(super::ids::fchown(call, call.args[0] as i32, ids));
    }
    let target = resolve(call, dirfd, &path, false)?;
    check_writable(call, &target)?;
    let follow = flags & libc::AT_SYMLINK_NOFOLLOW == 0;
    super::ids::chown(call, target, ids, follow)
}

/// Reads a `[timespec; 2]`-like pair of (seconds, sub-second) words; None means "now".
fn read_times(call: &Call, addr: u64, nanos_per_unit: i64) -> Result<Option<[Timespec; 2]>, Errno> {
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

fn utimens(
    call: &mut Call,
    target: Target,
    times: Option<[Timespec; 2]>,
    follow: bool,
) -> Result<Action, Errno> {
    check_writable(call, &target)?;
    // Issue 8: explicit times need the owner (or CAP_FOWNER); "now" also write permission.
    if super::ids::check_owner(call, &target, follow).is_err() {
        match times {
            None => {
                let flags = libc::O_WRONLY | if follow { 0 } else { libc::O_NOFOLLOW };
                super::ids::check_open(call, &target, flags).map_err(|_| Errno::EACCES)?;
            }
            Some(_) => return Err(Errno::EPERM),
        }
    }
    let (index, rel) = (target.gofer_index, target.rel);
    files(call)?.utimens(index, &rel, times, follow)?;
    Ok(Action::Return(0))
}

fn utime(call: &mut Call) -> Result<Action, Errno> {
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

fn utimes_at(call: &mut Call, dirfd: u64, index: usize, times_addr: u64) -> Result<Action, Errno> {
    let target = resolve_arg(call, dirfd, index, false)?;
    let times = read_times(call, times_addr, 1000)?;
    utimens(call, target, times, true)
}

fn utimensat(call: &mut Call) -> Result<Action, Errno> {
    let [dirfd, path_ptr, times_addr, flags, _, _] = call.args;
    let flags = flags as i32;
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    if path_ptr == 0 {
        // futimens(fd): no path for the kernel to read; a read-only mount is checked.
        super::process::refuse_on_read_only_fd(call, dirfd as i32)?;
        // Issue 8: made by the sentry when the task's host uid does not own the file.
        if let Some(done) = super::ids::futimens(call, dirfd as i32, times_addr)? {
            return Ok(done);
        }
        return Ok(Action::Pass);
    }
    let path = read_path(call, 1)?;
    if path.is_empty() && flags & libc::AT_EMPTY_PATH != 0 {
        super::process::refuse_on_read_only_fd(call, dirfd as i32)?;
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

fn truncate(call: &mut Call) -> Result<Action, Errno> {
    let target = resolve_arg(call, AT_FDCWD, 0, true)?;
    check_writable(call, &target)?;
    // Issue 8: a non-root sandbox user needs write permission on the file.
    super::ids::check_open(call, &target, libc::O_WRONLY)?;
    let (index, rel) = (target.gofer_index, target.rel);
    let len = call.args[1] as i64;
    files(call)?.truncate(index, &rel, len)?;
    Ok(Action::Return(0))
}

fn statfs(call: &mut Call) -> Result<Action, Errno> {
    let target = resolve_arg(call, AT_FDCWD, 0, true)?;
    let (index, rel) = (target.gofer_index, target.rel);
    let tmpfs = call.kernel.mounts(call.tid).mounts[target.mount].is_tmpfs;
    let mut st = files(call)?.statfs(index, &rel)?;
    if tmpfs {
        // Backed by a directory of the sentry's, but a tmpfs to the sandbox.
        st.f_type = TMPFS_MAGIC;
    }
    call.kernel
        .mem
        .write(call.tid, call.args[1], &st.to_kernel_bytes())
        .map_err(|_| Errno::EFAULT)?;
    Ok(Action::Return(0))
}

/// The xattr family by path: `(path, name, value, size, flags)` and friends.
fn xattr(call: &mut Call) -> Result<Action, Errno> {
    use Sysno::{getxattr, lgetxattr, listxattr, llistxattr, lsetxattr, removexattr, setxattr};
    const XATTR_SIZE_MAX: usize = 65536;
    let follow = matches!(call.sysno, setxattr | getxattr | listxattr | removexattr);
    let target = resolve_arg(call, AT_FDCWD, 0, false)?;
    if target.proc.is_some() {
        // /proc keeps no extended attributes.
        return Err(Errno::EOPNOTSUPP);
    }
    let writable = check_writable(call, &target).and_then(|()| {
        // Issue 8: changing attributes needs write permission for a non-root sandbox user.
        if matches!(call.sysno, getxattr | lgetxattr | listxattr | llistxattr) {
            return Ok(());
        }
        let flags = libc::O_WRONLY | if follow { 0 } else { libc::O_NOFOLLOW };
        super::ids::check_open(call, &target, flags).map(|_| ())
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

/// The canonical sandbox path of a directory: opened by the gofer, named by the host.
pub fn canonical_dir(call: &mut Call, target: &Target) -> Result<Vec<u8>, Errno> {
    if target.device(call).is_some() {
        return Err(Errno::ENOTDIR);
    }
    match &target.proc {
        Some(proc::Resolved::Node(proc::Node::Dir(_))) => return Ok(target.path.clone()),
        Some(_) => return Err(Errno::ENOTDIR),
        None => {}
    }
    let (index, rel) = (target.gofer_index, target.rel.clone());
    let fd = files(call)?.open(index, &rel, libc::O_PATH | libc::O_DIRECTORY, 0)?;
    let host = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map_err(|_| Errno::ENOENT)?;
    let host = host.as_os_str().as_encoded_bytes();
    // Within the mount the path was resolved in: the same host directory can be seen at
    // several places (bind mounts), and this is the one the task named.
    let m = &call.kernel.mounts(call.tid).mounts[target.mount];
    let root = m.host_root.as_os_str().as_encoded_bytes();
    if let Some(rest) = host.strip_prefix(root) {
        if rest.is_empty() || rest.starts_with(b"/") || root == b"/" {
            return Ok(crate::kernel::mounts::join(&m.sandbox_path, rest));
        }
    }
    call.kernel
        .mounts(call.tid)
        .sandbox_path_of(host)
        .ok_or(Errno::ENOENT)
}

fn set_fs(call: &mut Call, update: impl FnOnce(&mut FsState)) {
    let tgid = call.kernel.tgid_of(call.tid);
    let mut state = call.kernel.fs_of(call.tid);
    update(&mut state);
    call.kernel.fs.insert(tgid, state);
}

fn chdir(call: &mut Call) -> Result<Action, Errno> {
    let target = resolve_arg(call, AT_FDCWD, 0, true)?;
    let target = follow(call, target)?;
    let dir = canonical_dir(call, &target)?;
    set_fs(call, |fs| fs.cwd = dir);
    Ok(Action::Return(0))
}

fn fchdir(call: &mut Call) -> Result<Action, Errno> {
    let dir = dir_of_fd(call, call.args[0] as i32)?;
    set_fs(call, |fs| fs.cwd = dir);
    Ok(Action::Return(0))
}

/// Whether `path` is `root` or below it (both normalised).
fn within(path: &[u8], root: &[u8]) -> bool {
    root == b"/" || path == root || (path.starts_with(root) && path.get(root.len()) == Some(&b'/'))
}

fn getcwd(call: &mut Call) -> Result<Action, Errno> {
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
    if (call.args[1] as usize) < cwd.len() {
        return Err(Errno::ERANGE);
    }
    call.kernel
        .mem
        .write(call.tid, call.args[0], &cwd)
        .map_err(|_| Errno::EFAULT)?;
    Ok(Action::Return(cwd.len() as i64))
}

/// chroot inside the sandbox: a new root for the calling process. `..` from the new root
/// stays there; a cwd left outside it can still walk up, as on Linux, but never above the
/// sandbox's own root.
fn chroot(call: &mut Call) -> Result<Action, Errno> {
    let target = resolve_arg(call, AT_FDCWD, 0, true)?;
    let dir = canonical_dir(call, &target)?;
    if !super::ids::creds_of(call.kernel, call.tid).capable(CAP_SYS_CHROOT) {
        return Err(Errno::EPERM);
    }
    set_fs(call, |fs| fs.root = dir);
    Ok(Action::Return(0))
}

/// inotify_add_watch(fd, path, mask): the sentry adds the watch itself, on the task's
/// inotify instance, for the inode the gofer opened.
fn inotify_add_watch(call: &mut Call) -> Result<Action, Errno> {
    let target = resolve_arg(call, AT_FDCWD, 1, true)?;
    let mask = call.args[2] as u32;
    let (index, rel) = (target.gofer_index, target.rel);
    let mut flags = libc::O_PATH;
    if mask & libc::IN_DONT_FOLLOW != 0 {
        flags |= libc::O_NOFOLLOW;
    }
    let inode = files(call)?.open(index, &rel, flags, 0)?;
    let instance = super::net::task_fd(call, call.args[0] as i32)?;
    let path = CString::new(format!("/proc/self/fd/{}", inode.as_raw_fd())).expect("no NUL");
    // SAFETY: inotify_add_watch on fds we own with a NUL-terminated path we own.
    let wd = unsafe { libc::inotify_add_watch(instance.as_raw_fd(), path.as_ptr(), mask) };
    if wd < 0 {
        return Err(Errno::last());
    }
    Ok(Action::Return(wd as i64))
}

//! The file system layer below the path calls: resolving a task's path (against its root,
//! cwd or dirfd and the mount table, links walked by the gofer or the sentry), the
//! synthesized /proc and /dev nodes, the permission walk the sentry applies for a task
//! without DAC override, the owners of what a task creates, and the gofer handle.

pub(super) use super::args::PathArg;
use super::{Action, Call};
use crate::kernel::creds::{Creds, Ids, CAP_FOWNER, CAP_FSETID};
use crate::kernel::mounts::{depth, normalize, DEVICES};
use crate::kernel::{FsState, WalkLinks};
use crate::proc;
use nix::errno::Errno;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub(super) const TMPFS_MAGIC: i64 = 0x0102_1994;

/// Linux's PATH_MAX, including the NUL.
pub(super) const PATH_MAX: usize = 4096;

pub(super) const AT_FDCWD: u64 = libc::AT_FDCWD as i64 as u64;

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
    /// The host device the /dev path names: one of [`DEVICES`], or `pts/<host index>` for a
    /// terminal of the sandbox's (`/dev/pts/<its number>`).
    pub(super) fn device(&self, call: &Call) -> Option<String> {
        if !call.kernel.mounts(call.tid).mounts[self.mount].is_dev {
            return None;
        }
        let name = self.rel.strip_suffix(b"/").unwrap_or(&self.rel);
        if let Some(n) = name.strip_prefix(b"pts/") {
            let n: u32 = std::str::from_utf8(n).ok()?.parse().ok()?;
            return Some(format!("pts/{}", call.kernel.ptys.host_of(n)?));
        }
        DEVICES
            .iter()
            .find(|d| d.as_bytes() == name)
            .map(|d| d.to_string())
    }
}

/// A path call's handler, run across mounts (see [`across_mounts`]).
pub(super) fn by_path<A: Copy>(
    call: &mut Call,
    args: A,
    decide: fn(&mut Call, A) -> Result<Action, Errno>,
) -> Result<Action, Errno> {
    across_mounts(call, |call| decide(call, args))
}

/// Reads a path argument of the call out of the task, once: later reads (a second
/// resolution, `--strace`) get the same copy, whatever the task's memory holds by then.
pub(super) fn read_path(call: &Call, path: PathArg) -> Result<Vec<u8>, Errno> {
    if let Some((_, copy)) = call.paths.borrow().iter().find(|(i, _)| *i == path.index) {
        return Ok(copy.clone());
    }
    let copy = call
        .kernel
        .mem
        .read_cstring(call.tid, path.ptr, PATH_MAX - 1)?;
    call.paths.borrow_mut().push((path.index, copy.clone()));
    Ok(copy)
}

/// The process (host id) whose /proc/<pid> directory the task's `fd` is open on; EBADF for
/// any other fd, ESRCH for a process that is gone.
pub(super) fn process_of_proc_dir(call: &mut Call, fd: i32) -> Result<platform_ptrace::Tid, Errno> {
    let host = host_dir_of_fd(call, fd).map_err(|_| Errno::EBADF)?;
    let path = call
        .kernel
        .proc_dirs
        .get(host.as_slice())
        .ok_or(Errno::EBADF)?;
    let number = path
        .strip_prefix(b"/proc/")
        .and_then(|n| std::str::from_utf8(n).ok())
        .and_then(|n| n.parse::<i32>().ok())
        .ok_or(Errno::EBADF)?;
    let task = call
        .kernel
        .translate(call.tid, number)
        .ok_or(Errno::ESRCH)?;
    let process = call.kernel.tgid_of(task);
    if !call.kernel.tasks.contains_key(&process) {
        return Err(Errno::ESRCH);
    }
    Ok(process)
}

/// The sandbox path of a directory fd of the task.
pub(super) fn dir_of_fd(call: &mut Call, fd: i32) -> Result<Vec<u8>, Errno> {
    let host = host_dir_of_fd(call, fd)?;
    let host = host.as_slice();
    if let Some(proc_path) = call.kernel.proc_dirs.get(host) {
        return Ok(proc_path.clone());
    }
    call.kernel
        .mounts(call.tid)
        .sandbox_path_of(host)
        .ok_or(Errno::ENOENT)
}

/// The host path of the directory the task's fd `fd` is, remembered from an earlier call
/// when it still holds (see [`crate::kernel::DirFdPaths`]).
fn host_dir_of_fd(call: &mut Call, fd: i32) -> Result<Vec<u8>, Errno> {
    let generation = call.kernel.files.as_ref().map_or(0, |f| f.generation());
    let paths = &call.kernel.dir_fd_paths;
    if let Some(host) = paths.get(call.tid, fd, generation) {
        return Ok(host.to_vec());
    }
    if !call.kernel.dir_fd_paths.enabled {
        let link = format!("/proc/{}/fd/{fd}", call.tid);
        return host_dir_of_link(&link);
    }
    // The sentry's own duplicate first, and the path of that: whatever the task does with
    // its fd meanwhile, the path kept is the one of the open file kept with it.
    let tgid = call.kernel.tgid_of(call.tid);
    let file = crate::host::task_fd(tgid, fd)?;
    let host = host_dir_of_link(&format!("/proc/self/fd/{}", file.as_raw_fd()))?;
    call.kernel
        .dir_fd_paths
        .remember(call.tid, fd, file, host.clone(), generation);
    Ok(host)
}

/// The host path of the directory a /proc fd link names: EBADF if there is no such fd,
/// ENOTDIR if it is no directory.
fn host_dir_of_link(link: &str) -> Result<Vec<u8>, Errno> {
    let host = std::fs::read_link(link).map_err(|_| Errno::EBADF)?;
    let meta = std::fs::metadata(link).map_err(|_| Errno::ENOENT)?;
    if !meta.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    Ok(host.into_os_string().into_encoded_bytes())
}

/// Resolves `path` as the call's `dirfd` sees it. `keep_slash`: a trailing slash stays, so
/// that the gofer insists on a directory (open, stat); calls that create or remove a name
/// drop it, as Linux accepts `mkdir("d/")`.
pub(super) fn resolve(
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
        let index = call.kernel.mounts(call.tid).mounts[mount].gofer_index;
        call.kernel.wait_for_fill(index, &rel)?;
        let proc = if call.kernel.mounts(call.tid).mounts[mount].is_proc {
            match proc::resolve(call.kernel, call.tid, &rel, false)? {
                // Only a process's magic links (exe, cwd, root, fd/N) lead elsewhere.
                proc::Resolved::Elsewhere(_) if call.no_magic_links => return Err(Errno::ELOOP),
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
pub(super) fn dev_link(rel: &[u8]) -> Option<(Vec<u8>, &[u8])> {
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
pub(super) fn walk_links(
    call: &mut Call,
    path: &[u8],
    root: &[u8],
    last: bool,
) -> Result<Vec<u8>, Errno> {
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
        call.kernel.wait_for_fill(index, &rel)?;
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
pub(super) const MAX_PROC_LINKS: usize = 8;

/// Follows a /proc link at the end of a path (open, stat, chdir and exec follow it).
pub(super) fn follow(call: &mut Call, mut target: Target) -> Result<Target, Errno> {
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
            other @ (proc::Resolved::TaskFd { .. }
            | proc::Resolved::Namespace(_)
            | proc::Resolved::Pagemap { .. }) => Target {
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
pub(super) fn open_proc(call: &mut Call, target: &Target, flags: i32) -> Result<OwnedFd, Errno> {
    let writing =
        flags & libc::O_ACCMODE != libc::O_RDONLY || flags & (libc::O_CREAT | libc::O_TRUNC) != 0;
    // O_CREAT of a file that exists creates nothing: only the access mode and O_TRUNC write.
    let writes_file = flags & libc::O_ACCMODE != libc::O_RDONLY || flags & libc::O_TRUNC != 0;
    let proc_file = matches!(target.proc, Some(proc::Resolved::Node(proc::Node::File(_))));
    if proc_file && flags & (libc::O_CREAT | libc::O_EXCL) == libc::O_CREAT | libc::O_EXCL {
        return Err(Errno::EEXIST);
    }
    match target.proc.as_ref().expect("a /proc target") {
        proc::Resolved::TaskFd { host, fd } => {
            // Looked at and reopened through the sentry's one duplicate: the task can put
            // another file at that number at any moment, such as a host file its stdio came
            // from, which a reopen for writing must never reach.
            let file = crate::host::task_fd(*host, *fd)?;
            let link = format!("/proc/self/fd/{}", file.as_raw_fd());
            let unlinked_file = std::fs::metadata(&link).is_ok_and(|m| {
                use std::os::unix::fs::MetadataExt;
                m.is_file() && m.nlink() == 0
            });
            if !unlinked_file {
                return Ok(file);
            }
            // A new open of the file with the caller's flags, as the kernel reopens through
            // /proc, checked as the sandbox's identity sees the file.
            if writing {
                refuse_on_read_only_file(call, &file)?;
            }
            let link = CString::new(link).expect("no NUL");
            super::vfs::check_reopen(call, &link, flags)?;
            reopen(&link, flags)
        }
        proc::Resolved::Node(proc::Node::File(content)) if writes_file => {
            let domain = match target.path.as_slice() {
                b"/proc/sys/kernel/hostname" => false,
                b"/proc/sys/kernel/domainname" => true,
                _ => return Err(Errno::EACCES),
            };
            // Mode 0644, root's: Linux lets an effective uid of 0 write a sysctl file.
            if call.kernel.creds_of(call.tid).euid != 0 {
                return Err(Errno::EACCES);
            }
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
        // Mode 0400, and no write of its own.
        proc::Resolved::Pagemap { .. } if writing => Err(Errno::EACCES),
        proc::Resolved::Pagemap { .. } if flags & libc::O_DIRECTORY != 0 => Err(Errno::ENOTDIR),
        proc::Resolved::Pagemap { host } => proc::open_pagemap(*host),
        proc::Resolved::Elsewhere(_) => Err(Errno::ENOENT),
    }
}

pub(super) fn is_task_fd(target: &Target) -> bool {
    matches!(target.proc, Some(proc::Resolved::TaskFd { .. }))
}

/// stat of a /proc node: the host's stat of its layout, and for a link of /proc's the mode
/// and size Linux gives it in place of the layout's (a plain symlink's).
pub(super) fn stat_proc(
    call: &mut Call,
    target: &Target,
) -> Result<(std::path::PathBuf, Option<proc::LinkStat>), Errno> {
    let host = stat_proc_layout(call, target)?;
    let in_proc = call.kernel.mounts(call.tid).mounts[target.mount].is_proc;
    let link = match &target.proc {
        // Not /dev's links (stdin, fd, …): plain symlinks on Linux too.
        Some(proc::Resolved::Node(proc::Node::Link(_))) if in_proc => {
            let rel = call.kernel.mounts(call.tid).lookup(&target.path);
            rel.and_then(|(_, rel)| proc::link_stat(call.kernel, call.tid, rel))
        }
        _ => None,
    };
    Ok((host, link))
}

/// The host path of a /proc node's layout, for the host to stat.
fn stat_proc_layout(call: &mut Call, target: &Target) -> Result<std::path::PathBuf, Errno> {
    match target.proc.as_ref().expect("a /proc target") {
        proc::Resolved::Node(node) => {
            proc::materialize(&call.kernel.proc_scratch, &target.path, node)
        }
        proc::Resolved::TaskFd { host, fd } => {
            Ok(std::path::PathBuf::from(format!("/proc/{host}/fd/{fd}")))
        }
        // As the other files of /proc, with pagemap's mode (not the host file: its owner is
        // the task's host uid).
        proc::Resolved::Pagemap { .. } => {
            let path = proc::materialize(
                &call.kernel.proc_scratch,
                &target.path,
                &proc::Node::File(Vec::new()),
            )?;
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o400))
                .map_err(|_| Errno::EIO)?;
            Ok(path)
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
pub(super) fn check_writable(call: &Call, target: &Target) -> Result<(), Errno> {
    let m = &call.kernel.mounts(call.tid).mounts[target.mount];
    if m.read_only && !m.gofer_read_only {
        return Err(Errno::EROFS);
    }
    Ok(())
}

pub(super) fn resolve_arg(
    call: &mut Call,
    dirfd: u64,
    path: PathArg,
    keep_slash: bool,
) -> Result<Target, Errno> {
    let path = read_path(call, path)?;
    resolve(call, dirfd, &path, keep_slash)
}

pub(super) fn files<'a>(call: &'a mut Call) -> Result<&'a mut gofer::Client, Errno> {
    call.kernel.files.as_mut().ok_or(Errno::EIO)
}

/// The task's umask, which the sentry applies to the modes it asks the gofer for: the one
/// kept for its process, else read from /proc and kept (`Kernel::umasks`).
pub(super) fn umask_of(call: &mut Call) -> u32 {
    let tgid = call.kernel.tgid_of(call.tid);
    if let Some(&umask) = call.kernel.umasks.get(&tgid) {
        return umask;
    }
    let read = call.kernel.mem.proc_file(call.tid, "status").and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Umask:"))
            .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
    });
    match read {
        Some(umask) => {
            call.kernel.umasks.insert(tgid, umask);
            umask
        }
        None => 0o022,
    }
}

pub(super) fn write_out<T>(call: &Call, addr: u64, value: &T) -> Result<(), Errno> {
    // SAFETY: viewing a plain-data value we own as its bytes, for copying out.
    let bytes = unsafe {
        std::slice::from_raw_parts(value as *const T as *const u8, std::mem::size_of::<T>())
    };
    call.kernel
        .mem
        .write(call.tid, addr, bytes)
        .map_err(|_| Errno::EFAULT)
}

pub(super) fn host_device(name: &str) -> CString {
    CString::new(format!("/dev/{name}")).expect("device names have no NUL")
}

/// The last component of a path as the task wrote it ("" for "/"): `.` and `..` there
/// have Linux's own answers, which lexical normalisation would otherwise hide.
pub(super) fn last_component(path: &[u8]) -> &[u8] {
    let trimmed = path.strip_suffix(b"/").unwrap_or(path);
    trimmed.rsplit(|&b| b == b'/').next().unwrap_or(trimmed)
}

/// The canonical sandbox path of a directory: opened by the gofer, named by the host.
pub(super) fn canonical_dir(call: &mut Call, target: &Target) -> Result<Vec<u8>, Errno> {
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

/// Whether `path` is `root` or below it (both normalised).
pub(super) fn within(path: &[u8], root: &[u8]) -> bool {
    root == b"/" || path == root || (path.starts_with(root) && path.get(root.len()) == Some(&b'/'))
}

// ---------------------------------------------------------------------------------------
// Files: owners and permission checks.

/// The stat of a target as the host sees it (no owner mapping).
pub(super) fn host_stat(
    call: &mut Call,
    target: &Target,
    follow: bool,
) -> Result<libc::stat, Errno> {
    if target.proc.is_some() {
        return Err(Errno::EPERM);
    }
    let (index, rel) = (target.gofer_index, target.rel.clone());
    files(call)?.stat(index, &rel, follow)
}

/// The stat of the host file behind fd `fd` of the calling task.
pub(super) fn fd_stat(call: &Call, fd: i32) -> Result<libc::stat, Errno> {
    let file = call.task_fd(fd)?;
    nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&file)).map_err(|_| Errno::EBADF)
}

/// The owner a file the task creates must show, when it is not what the host gives it:
/// the gofer creates files as the sentry's user, which shows as the sandbox user, not
/// as the task's fsuid/fsgid. In a set-group-ID directory the group is the directory's
/// as the sandbox sees it (the host's own rule only knows the host's group).
pub(super) fn creates_as_other(call: &mut Call, target: &Target) -> Option<Ids> {
    let c = call.kernel.creds_of(call.tid);
    let shown = call.kernel.identity.sandbox;
    let mut gid = c.fsgid;
    let parent = parent_of(&target.rel);
    if let Ok(dir) = files(call).and_then(|f| f.stat(target.gofer_index, &parent, true)) {
        if dir.st_mode & libc::S_ISGID != 0 {
            gid = call
                .kernel
                .shown_owner(dir.st_dev, dir.st_ino, dir.st_uid, dir.st_gid)
                .gid;
        }
    }
    (c.fsuid != shown.uid || gid != shown.gid).then_some(Ids { uid: c.fsuid, gid })
}

/// After a task created `rel` under another identity: records its owner.
pub(super) fn created(call: &mut Call, gofer_index: u32, rel: &[u8], owner: Option<Ids>) {
    let Some(owner) = owner else {
        return;
    };
    let Ok(files) = files(call) else {
        return;
    };
    if let Ok(st) = files.stat(gofer_index, rel, false) {
        call.kernel.owners.record(st.st_dev, st.st_ino, owner);
    }
}

/// After open with O_CREAT returned `fd` for a file that did not exist before.
pub(super) fn created_fd(
    kernel: &mut crate::kernel::Kernel,
    fd: &std::os::fd::OwnedFd,
    owner: Option<Ids>,
) {
    let Some(owner) = owner else {
        return;
    };
    if let Ok(st) = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(fd)) {
        kernel.owners.record(st.st_dev, st.st_ino, owner);
    }
}

/// Before a name is removed: its inode leaves the owner table with its last link.
pub(super) fn removing(call: &mut Call, gofer_index: u32, rel: &[u8]) {
    if !call.kernel.owners.any() {
        return;
    }
    let Ok(files) = files(call) else {
        return;
    };
    if let Ok(st) = files.stat(gofer_index, rel, false) {
        let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
        if st.st_nlink <= 1 || is_dir {
            call.kernel.owners.forget(st.st_dev, st.st_ino);
        }
    }
}

/// The parent directory of a path inside its mount ("." for a top-level name).
pub(super) fn parent_of(rel: &[u8]) -> Vec<u8> {
    let rel = rel.strip_suffix(b"/").unwrap_or(rel);
    match rel.iter().rposition(|&b| b == b'/') {
        Some(0) => b"/".to_vec(),
        Some(i) => rel[..i].to_vec(),
        None => b".".to_vec(),
    }
}

/// Search permission on every directory from the mount's root down to the target's parent.
/// A mount served from below a gofer root (a tmpfs of the pool, a bind of a subdirectory)
/// starts at its own root: the directories above it are not on the sandbox's path.
pub(super) fn check_walk(call: &mut Call, c: &Creds, target: &Target) -> Result<(), Errno> {
    let index = target.gofer_index;
    let base = call.kernel.mounts(call.tid).mounts[target.mount]
        .base
        .clone();
    let rel = target.rel.strip_suffix(b"/").unwrap_or(&target.rel);
    let inside = if base.is_empty() {
        rel
    } else if rel == base.as_slice() {
        b"."
    } else {
        match rel.strip_prefix(base.as_slice()) {
            Some(rest) if rest.first() == Some(&b'/') => &rest[1..],
            _ => rel,
        }
    };
    let mut parts: Vec<&[u8]> = inside
        .split(|&b| b == b'/')
        .filter(|p| !p.is_empty() && *p != b".")
        .collect();
    parts.pop();
    let mut prefix = if base.is_empty() {
        b".".to_vec()
    } else {
        base.clone()
    };
    for i in 0..=parts.len() {
        let st = files(call)?.stat(index, &prefix, true)?;
        let owner = call
            .kernel
            .shown_owner(st.st_dev, st.st_ino, st.st_uid, st.st_gid);
        if st.st_mode & libc::S_IFMT == libc::S_IFDIR
            && !c.may_access(st.st_mode, owner.uid, owner.gid, libc::X_OK)
        {
            return Err(Errno::EACCES);
        }
        if let Some(part) = parts.get(i) {
            if prefix == b"." {
                prefix.clear();
            } else {
                prefix.push(b'/');
            }
            prefix.extend_from_slice(part);
        }
    }
    Ok(())
}

/// The task's credentials when the sentry checks file permissions for it itself (it has
/// no DAC override); None for a task with root's file capabilities.
pub(super) fn checking(call: &Call) -> Option<Creds> {
    let c = call.kernel.creds_of(call.tid);
    c.checks_files().then_some(c)
}

/// Before a call that only looks a gofer name up (stat, statx, readlink, getxattr): search
/// permission on the way, for a task without DAC override.
pub(super) fn check_search(call: &mut Call, target: &Target) -> Result<(), Errno> {
    let Some(c) = checking(call) else {
        return Ok(());
    };
    check_walk(call, &c, target)
}

/// For a task without DAC override: search permission on the way to `target`, then `want`
/// on the file itself (see [`check_file`]).
pub(super) fn check_permission(
    call: &mut Call,
    target: &Target,
    want: i32,
    follow: bool,
) -> Result<(), Errno> {
    check_search(call, target)?;
    check_file(call, target, want, follow)
}

/// For a task without DAC override: `want` (a mask of R_OK, W_OK, X_OK) on the file a
/// target names, its owner as the sandbox shows it. chdir and chroot need search on the
/// directory, exec execute on the program, an inotify watch and a user.* attribute read
/// need read. /proc's own nodes are left to their handlers.
pub(super) fn check_file(
    call: &mut Call,
    target: &Target,
    want: i32,
    follow: bool,
) -> Result<(), Errno> {
    let Some(c) = checking(call) else {
        return Ok(());
    };
    if target.proc.is_some() {
        return Ok(());
    }
    let st = files(call)?.stat(target.gofer_index, &target.rel, follow)?;
    let owner = call
        .kernel
        .shown_owner(st.st_dev, st.st_ino, st.st_uid, st.st_gid);
    if !c.may_access(st.st_mode, owner.uid, owner.gid, want) {
        return Err(Errno::EACCES);
    }
    Ok(())
}

/// Before an open through the gofer. For a task without DAC override: search permission
/// on the way, then read/write permission on the file, or write permission on the
/// directory where O_CREAT makes a new name. Returns the owner to record when the open
/// creates a file under an identity the host does not give it.
pub(super) fn check_open(
    call: &mut Call,
    target: &Target,
    flags: i32,
) -> Result<Option<Ids>, Errno> {
    let owner_change = if flags & libc::O_CREAT != 0 {
        creates_as_other(call, target)
    } else {
        None
    };
    let (index, rel) = (target.gofer_index, target.rel.clone());
    let Some(c) = checking(call) else {
        if owner_change.is_some() && flags & libc::O_CREAT != 0 {
            let exists = match files(call)?.stat(index, &rel, true) {
                Err(Errno::ENOENT) => false,
                // A link out of its mount: decided again with the links walked.
                Err(Errno::EREMOTE) => return Err(Errno::EREMOTE),
                _ => true,
            };
            return Ok(owner_change.filter(|_| !exists));
        }
        return Ok(None);
    };
    check_walk(call, &c, target)?;
    let follow = flags & libc::O_NOFOLLOW == 0;
    match files(call)?.stat(index, &rel, follow) {
        Ok(st) => {
            if flags & libc::O_CREAT != 0 && flags & libc::O_EXCL != 0 {
                return Err(Errno::EEXIST);
            }
            let mut want = match flags & libc::O_ACCMODE {
                libc::O_RDONLY => libc::R_OK,
                libc::O_WRONLY => libc::W_OK,
                _ => libc::R_OK | libc::W_OK,
            };
            if flags & libc::O_TRUNC != 0 {
                want |= libc::W_OK;
            }
            if flags & libc::O_PATH == libc::O_PATH {
                want = 0;
            }
            // A read-only mount (the sandbox's own view or the gofer's `--read-only` and
            // `:ro` mounts) answers a write with EROFS before the file's permission bits.
            let kind = st.st_mode & libc::S_IFMT;
            if want & libc::W_OK != 0
                && call.kernel.mounts(call.tid).mounts[target.mount].read_only
                && matches!(kind, libc::S_IFREG | libc::S_IFDIR | libc::S_IFLNK)
            {
                return Err(Errno::EROFS);
            }
            let owner = call
                .kernel
                .shown_owner(st.st_dev, st.st_ino, st.st_uid, st.st_gid);
            if want != 0 && !c.may_access(st.st_mode, owner.uid, owner.gid, want) {
                return Err(Errno::EACCES);
            }
            // O_NOATIME only for the owner (or CAP_FOWNER), after the access check.
            if flags & libc::O_NOATIME != 0 && owner.uid != c.fsuid && !c.capable(CAP_FOWNER) {
                return Err(Errno::EPERM);
            }
            Ok(None)
        }
        Err(Errno::ENOENT) if flags & libc::O_CREAT != 0 => {
            if call.kernel.mounts(call.tid).mounts[target.mount].read_only {
                return Err(Errno::EROFS);
            }
            check_dir_write(call, &c, index, &rel)?;
            Ok(owner_change)
        }
        Err(e) => Err(e),
    }
}

/// A reopen through /proc/<pid>/fd/<n> (`link`) of an unlinked file: the access asked,
/// against the file's mode and owner as the sandbox sees them.
pub(super) fn check_reopen(call: &Call, link: &std::ffi::CStr, flags: i32) -> Result<(), Errno> {
    let Some(c) = checking(call) else {
        return Ok(());
    };
    // SAFETY: stat fills a struct we own from a NUL-terminated path.
    let st = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        cvt(libc::stat(link.as_ptr(), &mut st))?;
        st
    };
    let want = match flags & libc::O_ACCMODE {
        libc::O_RDONLY => libc::R_OK,
        libc::O_WRONLY => libc::W_OK,
        _ => libc::R_OK | libc::W_OK,
    } | if flags & libc::O_TRUNC != 0 {
        libc::W_OK
    } else {
        0
    };
    let owner = call
        .kernel
        .shown_owner(st.st_dev, st.st_ino, st.st_uid, st.st_gid);
    if flags & libc::O_PATH == 0 && !c.may_access(st.st_mode, owner.uid, owner.gid, want) {
        return Err(Errno::EACCES);
    }
    Ok(())
}

pub(super) fn check_dir_write(
    call: &mut Call,
    c: &Creds,
    index: u32,
    rel: &[u8],
) -> Result<(), Errno> {
    let parent = parent_of(rel);
    let st = files(call)?.stat(index, &parent, true)?;
    let owner = call
        .kernel
        .shown_owner(st.st_dev, st.st_ino, st.st_uid, st.st_gid);
    if !c.may_access(st.st_mode, owner.uid, owner.gid, libc::W_OK | libc::X_OK) {
        return Err(Errno::EACCES);
    }
    Ok(())
}

/// Before a name is made or removed (mkdir, mknod, symlink, unlink, rename), for a task
/// without DAC override: search on the way, write on the directory, and the sticky bit's
/// rule for removals.
pub(super) fn check_name_change(
    call: &mut Call,
    target: &Target,
    removing: bool,
) -> Result<(), Errno> {
    let Some(c) = checking(call) else {
        return Ok(());
    };
    let (index, rel) = (target.gofer_index, target.rel.clone());
    check_walk(call, &c, target)?;
    check_dir_write(call, &c, index, &rel)?;
    if removing {
        let dir = files(call)?.stat(index, &parent_of(&rel), true)?;
        if dir.st_mode & libc::S_ISVTX != 0 && !c.capable(CAP_FOWNER) {
            let d = call
                .kernel
                .shown_owner(dir.st_dev, dir.st_ino, dir.st_uid, dir.st_gid);
            if let Ok(st) = files(call)?.stat(index, &rel, false) {
                let f = call
                    .kernel
                    .shown_owner(st.st_dev, st.st_ino, st.st_uid, st.st_gid);
                if c.fsuid != f.uid && c.fsuid != d.uid {
                    return Err(Errno::EPERM);
                }
            }
        }
    }
    Ok(())
}

/// The mode chmod sets: S_ISGID is dropped when the caller is neither in the file's group
/// (`group`, as the sandbox sees it) nor holds CAP_FSETID, as Linux's setattr_copy does.
pub(super) fn sgid_kept(c: &Creds, group: u32, mode: u32) -> u32 {
    if mode & libc::S_ISGID != 0 && !c.in_group(group) && !c.capable(CAP_FSETID) {
        mode & !libc::S_ISGID
    } else {
        mode
    }
}

/// Before chmod: only the owner (or CAP_FOWNER) may change an inode's mode.
pub(super) fn check_owner(call: &mut Call, target: &Target, follow: bool) -> Result<(), Errno> {
    let c = call.kernel.creds_of(call.tid);
    if c.capable(CAP_FOWNER) || target.proc.is_some() {
        return Ok(());
    }
    let st = host_stat(call, target, follow)?;
    let owner = call
        .kernel
        .shown_owner(st.st_dev, st.st_ino, st.st_uid, st.st_gid);
    if owner.uid != c.fsuid {
        return Err(Errno::EPERM);
    }
    Ok(())
}

pub(super) fn cvt(rc: libc::c_int) -> Result<(), Errno> {
    if rc < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// The task's fd `fd`, as the sentry's own duplicate, for a call that changes the inode
/// behind it (fchmod, fchown, fsetxattr, fremovexattr, futimens, a link of it): taken once,
/// and every check and the change itself are made on it. Another thread of the task can
/// put another file at that number at any moment, such as a host file its stdio came
/// from: a check of the number and a change through a second duplicate could see two files.
pub(super) fn changeable_fd(call: &Call, fd: i32) -> Result<OwnedFd, Errno> {
    let file = call.task_fd(fd)?;
    refuse_on_read_only_file(call, &file)?;
    Ok(file)
}

/// Whether the inode behind `file` (the sentry's duplicate of a task's fd) may be changed
/// (fchmod, fchown, fsetxattr, fremovexattr, futimens act on the inode whatever the fd's
/// open mode): EROFS on a read-only mount; EPERM for a device, or for a host file outside
/// every mount (such as a file the sandbox's stdio was redirected from).
pub(super) fn refuse_on_read_only_file(call: &Call, file: &OwnedFd) -> Result<(), Errno> {
    use std::os::unix::fs::FileTypeExt;
    let link = format!("/proc/self/fd/{}", file.as_raw_fd());
    let Ok(host) = std::fs::read_link(&link) else {
        return Err(Errno::EBADF);
    };
    let host = host.as_os_str().as_encoded_bytes();
    if !host.starts_with(b"/") || host.starts_with(b"/memfd:") {
        // Pipes, sockets, anonymous inodes and memfds are the sandbox's own.
        return Ok(());
    }
    let file_type = std::fs::metadata(&link)
        .map_err(|_| Errno::EBADF)?
        .file_type();
    if file_type.is_char_device() || file_type.is_block_device() {
        return Err(Errno::EPERM);
    }
    let inside = |root: &[u8]| {
        root == b"/"
            || host == root
            || (host.starts_with(root) && host.get(root.len()) == Some(&b'/'))
    };
    let mount = call
        .kernel
        .mounts(call.tid)
        .mounts
        .iter()
        .filter(|m| inside(m.host_root.as_os_str().as_encoded_bytes()))
        .max_by_key(|m| m.host_root.as_os_str().len());
    match mount {
        None => Err(Errno::EPERM),
        Some(m) if m.read_only => Err(Errno::EROFS),
        Some(_) => Ok(()),
    }
}

/// A new open file of what a /proc fd link (`/proc/<pid>/fd/<n>`) names, as the sentry's own.
pub(super) fn reopen(link: &std::ffi::CStr, flags: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: open of a NUL-terminated path we own; the result is checked.
    let raw = unsafe { libc::open(link.as_ptr(), flags | libc::O_CLOEXEC, 0) };
    if raw < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the fd was just opened and is ours alone.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

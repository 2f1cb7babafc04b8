//! open, openat, creat, openat2, and reopening /proc/<pid>/fd links: the sentry resolves,
//! checks and has the gofer open; the fd is installed into the task.

use super::vfs::*;
use super::{Action, Call};
use crate::kernel::mounts::{depth, normalize};
use crate::proc;
use nix::errno::Errno;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

crate::syscall_entries! {
    open(path: Path, flags: OpenFlags, mode: OpenMode) => Gofer, |call, a| {
        by_path(call, a, |c, a| open_at(c, AT_FDCWD, a.path, a.flags, a.mode))
    };
    creat(path: Path, mode: Mode) => Gofer, |call, a| {
        by_path(call, a, |c, a| {
            let flags = libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC;
            open_at(c, AT_FDCWD, a.path, flags, a.mode)
        })
    };
    openat(dirfd: DirFd, path: Path, flags: OpenFlags, mode: OpenMode) => Gofer, |call, a| {
        by_path(call, a, |c, a| open_at(c, a.dirfd as u64, a.path, a.flags, a.mode))
    };
    openat2(dirfd: DirFd, path: Path, how: Ptr, size: UInt) => Gofer, |call, a| {
        by_path(call, a, openat2)
    };
}

fn open_at(
    call: &mut Call,
    dirfd: u64,
    path: PathArg,
    flags: i32,
    mode: u32,
) -> Result<Action, Errno> {
    if !call.kernel.uts_writes.is_empty() {
        // A name written to /proc since the last read is what this open must see.
        call.kernel.sync_uts_writes();
    }
    let target = resolve_arg(call, dirfd, path, true)?;
    open_target(call, target, flags, mode)
}

/// The open of a resolved path (open, openat, openat2 after their own resolution).
pub(super) fn open_target(
    call: &mut Call,
    mut target: Target,
    flags: i32,
    mode: u32,
) -> Result<Action, Errno> {
    // An O_PATH open takes no other flag but these (build_open_how).
    let o_path = flags & libc::O_PATH != 0;
    let flags = if o_path { flags & O_PATH_FLAGS } else { flags };
    if flags & libc::O_NOFOLLOW == 0 {
        target = follow(call, target)?;
    }
    let cloexec = flags & libc::O_CLOEXEC != 0;
    let fd = if target.proc.is_some() {
        if let (true, Some(proc::Resolved::Node(link @ proc::Node::Link(_)))) =
            (o_path && flags & libc::O_NOFOLLOW != 0, &target.proc)
        {
            // The link itself (`/proc/<pid>/fd/N`, `/proc/self/exe`, `/proc/self`): an fd
            // of a symbolic link holding its text, which fstat shows as a link and
            // readlinkat(fd, "") reads.
            let host = proc::materialize(&call.kernel.proc_scratch, &target.path, link)?;
            let host = host.into_os_string().into_encoded_bytes();
            // /proc/<pid>/fd names it by its /proc path, not the sentry's file.
            call.kernel
                .proc_dirs
                .insert(host.clone(), target.path.clone());
            let host = CString::new(host).map_err(|_| Errno::EINVAL)?;
            let fd = reopen(&host, libc::O_PATH | libc::O_NOFOLLOW)?;
            return Ok(Action::InstallPath { fd, cloexec });
        }
        let fd = open_proc(call, &target, flags)?;
        if o_path {
            // The file the sentry opened for the node, as an O_PATH fd of its own.
            return Ok(Action::InstallPath {
                fd: path_of(&fd)?,
                cloexec,
            });
        }
        fd
    } else if let (true, Some(device)) = (o_path, target.device(call)) {
        // Nothing is opened: no terminal is taken, no pty made.
        reopen(&host_device(&device), flags)?
    } else if let Some(device) = target.device(call) {
        let flags = flags & !(libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC) | libc::O_CLOEXEC;
        if let Some(host) = device.strip_prefix("pts/") {
            let host = host.parse().map_err(|_| Errno::ENOENT)?;
            let fd = super::terminals::open_slave(call, host, flags)?;
            if super::terminals::becomes_controlling(call, flags) {
                return Ok(Action::InstallTerminal { fd, cloexec });
            }
            return Ok(Action::Install { fd, cloexec });
        }
        if device == "tty" {
            if let Some(opened) = super::terminals::open_controlling(call, flags) {
                return Ok(Action::Install {
                    fd: opened?,
                    cloexec,
                });
            }
        }
        // The sentry never takes a terminal as its own controlling one.
        let flags = flags | libc::O_NOCTTY;
        // SAFETY: open of a NUL-terminated path we own; the result is checked.
        let fd = unsafe { libc::open(host_device(&device).as_ptr(), flags) };
        if fd < 0 {
            return Err(Errno::last());
        }
        // SAFETY: the fd was just opened and is ours alone.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        if device == "ptmx" {
            super::terminals::made(call, &fd)?;
        }
        fd
    } else {
        let creating = flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE;
        if creating || flags & (libc::O_ACCMODE | libc::O_TRUNC) != libc::O_RDONLY {
            if let Err(e) = check_writable(call, &target) {
                // The walk's EACCES (search permission on the way) comes before the EROFS
                // of the file's own mount, as Linux looks the path up before the open.
                super::vfs::check_search(call, &target)?;
                return Err(e);
            }
        }
        let mode = if creating {
            mode & 0o7777 & !umask_of(call)
        } else {
            0
        };
        let owner = super::vfs::check_open(call, &target, flags)?;
        let (index, rel) = (target.gofer_index, target.rel);
        let fd = files(call)?.open(index, &rel, flags, mode)?;
        super::vfs::created_fd(call.kernel, &fd, owner);
        // A blocking open of a FIFO, or of a file under another process's lease: the gofer
        // never waits, and answers an O_PATH fd.
        if !o_path && is_path_fd(&fd) {
            return Ok(fifo_open(fd, flags, cloexec));
        }
        fd
    };
    if o_path {
        // An O_PATH fd, of the link itself for O_PATH|O_NOFOLLOW of a symbolic link.
        return Ok(Action::InstallPath { fd, cloexec });
    }
    Ok(Action::Install { fd, cloexec })
}

/// `O_PATH_FLAGS` of fs/open.c: what an O_PATH open keeps of its flags.
const O_PATH_FLAGS: i32 = libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;

/// An O_PATH fd of the file `fd` is open on (reopened through the sentry's /proc/self/fd,
/// which names the file itself, whatever its path).
fn path_of(fd: &OwnedFd) -> Result<OwnedFd, Errno> {
    if is_path_fd(fd) {
        return fd.try_clone().map_err(|_| Errno::EMFILE);
    }
    let link = CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("no NUL");
    reopen(&link, libc::O_PATH)
}

pub(super) fn is_path_fd(fd: &OwnedFd) -> bool {
    nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFL)
        .is_ok_and(|f| f & libc::O_PATH != 0)
}

/// A blocking open of the FIFO `node` (an fd of it from the gofer): the open waits for the
/// other end, as open(2) does, on a thread of its own; the task waits in its install
/// request (where a signal interrupts it, as it would the open) until the fd comes.
/// A regular file `node` is one another process holds a lease on: the open waits, the same
/// way, for the lease to be broken.
pub(super) fn fifo_open(node: OwnedFd, flags: i32, cloexec: bool) -> Action {
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

fn openat2(call: &mut Call, a: args::openat2) -> Result<Action, Errno> {
    // struct open_how { u64 flags; u64 mode; u64 resolve; }
    let size = a.size as usize;
    if size < 24 {
        return Err(Errno::EINVAL);
    }
    let mut how = [0u8; 24];
    call.kernel
        .mem
        .read(call.tid, a.how, &mut how)
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
            .read(call.tid, a.how + 24, &mut tail)
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
    // openat2 refuses what open(2) would drop from an O_PATH open.
    let o_path = flags as i32 & libc::O_PATH != 0;
    if o_path && flags as i32 & !(O_PATH_FLAGS | libc::O_LARGEFILE) != 0 {
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
    let path = read_path(call, a.path)?;
    call.no_magic_links = resolve & RESOLVE_NO_MAGICLINKS != 0;
    let target = resolve_scoped(call, a.dirfd as u64, &path, resolve)?;
    let mut flags = flags as i32;
    if resolve & RESOLVE_NO_SYMLINKS != 0 {
        flags |= libc::O_NOFOLLOW;
    }
    if resolve & RESOLVE_NO_MAGICLINKS != 0
        && flags & libc::O_NOFOLLOW == 0
        && is_magic_link(call, &target)
    {
        return Err(Errno::ELOOP);
    }
    open_target(call, target, flags, field(1) as u32)
}

/// Whether `target` is a /proc link the kernel follows by its object, not its text
/// (`/proc/<pid>/exe`, `cwd`, `root`, `fd/<n>`, `ns/<kind>`): every link of /proc below a
/// process directory. `/proc/self`, `/proc/thread-self` and `/proc/mounts` are plain links.
pub(super) fn is_magic_link(call: &Call, target: &Target) -> bool {
    if !call.kernel.mounts(call.tid).mounts[target.mount].is_proc {
        return false;
    }
    match &target.proc {
        Some(proc::Resolved::TaskFd { .. } | proc::Resolved::Namespace(_)) => true,
        Some(proc::Resolved::Node(proc::Node::Link(_))) => {
            let rel = target.rel.strip_prefix(b"/").unwrap_or(&target.rel);
            rel.contains(&b'/')
        }
        _ => false,
    }
}

pub(super) const RESOLVE_NO_XDEV: u64 = 0x01;

pub(super) const RESOLVE_NO_MAGICLINKS: u64 = 0x02;

pub(super) const RESOLVE_NO_SYMLINKS: u64 = 0x04;

pub(super) const RESOLVE_BENEATH: u64 = 0x08;

pub(super) const RESOLVE_IN_ROOT: u64 = 0x10;

pub(super) const RESOLVE_KNOWN: u64 = 0x3f;

/// openat2's scoped resolution. RESOLVE_IN_ROOT: the dirfd is `/` for this walk (`..`
/// stops there, absolute paths start there). RESOLVE_BENEATH: an absolute path, or `..`
/// climbing above the dirfd, is EXDEV. RESOLVE_NO_XDEV: ending in another mount than the
/// dirfd's is EXDEV. RESOLVE_NO_SYMLINKS: a symbolic link anywhere on the way is ELOOP.
/// (RESOLVE_NO_MAGICLINKS: the gofer never follows magic links; a /proc magic link on the
/// way is refused by the resolution (`Call::no_magic_links`), one at the end by `openat2`.
/// Symbolic links met inside a mount are resolved by the gofer against the mount's root.)
pub(super) fn resolve_scoped(
    call: &mut Call,
    dirfd: u64,
    path: &[u8],
    scope: u64,
) -> Result<Target, Errno> {
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

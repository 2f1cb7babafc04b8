//! The gofer's request handlers. Every path is resolved beneath a mount root fd with
//! `openat2(RESOLVE_NO_MAGICLINKS)` and `RESOLVE_IN_ROOT` (the first mount) or
//! `RESOLVE_BENEATH` (any other: a link out of it is answered EREMOTE); calls that act on a
//! name without following it resolve the parent that way and then act on the single final
//! component.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::rc::Rc;

use nix::errno::Errno;

use crate::protocol::{
    Request, Response, Timespec, FD_RELEASED, MAX_FRAME, VERSION, XATTR_SIZE_MAX,
};
use crate::sys::{self, file_type, CPath, FdName, RESOLVE_BENEATH_ONLY, RESOLVE_CONFINED};

/// One mount served by the gofer.
pub struct MountRoot {
    /// An `O_PATH | O_DIRECTORY` fd of the mount source.
    pub root: OwnedFd,
    pub read_only: bool,
}

/// The request handler state.
pub struct Server {
    mounts: Vec<MountRoot>,
    /// Per mount: its root is on a kernel-interface file system (see
    /// `sys::is_kernel_interface`), so nothing in it is served.
    refused: Vec<bool>,
    /// `/proc/self/fd`, opened before confinement: used to reopen an `O_PATH` fd we resolved
    /// (never a path from a request) and to reach its inode for chmod/utimens/xattrs.
    proc_fd: OwnedFd,
    handshake_done: bool,
    /// Scratch for getxattr/listxattr/readlink results.
    scratch: Vec<u8>,
    /// The directories resolved so far, when this server keeps them (see [`LookupCache`]).
    lookups: Option<RefCell<LookupCache>>,
    /// Whether the kernel has getxattrat and listxattrat (Linux 6.13), for names in cached
    /// directories; cleared at the first ENOSYS.
    xattrat: bool,
}

/// The directories a server has resolved, per mount by path: a later call on a name in one
/// of them looks the name up in the directory's fd instead of walking the whole path again
/// from the mount root. Only the sentry's in-process walker keeps one, for the calls that
/// change nothing; its owner forgets them all before any request that may change a tree
/// (see `Client`), so what is kept is what the sandbox cannot have changed since. A tree
/// that something else changes meanwhile (the host, another sandbox sharing a mount) may be
/// seen as it was, which is why the cache can be turned off.
#[derive(Default)]
struct LookupCache {
    /// Per mount index.
    dirs: Vec<HashMap<Vec<u8>, CachedDir>>,
}

/// How many directories a cache keeps before it starts again from empty.
const LOOKUP_CACHE_DIRS: usize = 64;

#[derive(Clone)]
struct CachedDir {
    fd: Rc<OwnedFd>,
    /// Its device: a name in it on another device is a mount point, left to the full walk,
    /// which refuses kernel interfaces.
    dev: u64,
    /// Its path went through a symlink: the full walk tells a link into another mount
    /// (EREMOTE) from a missing name, so a failed lookup is left to it.
    through_links: bool,
    /// On a mount where device nodes cannot be opened: a name in it may be opened by name
    /// (see [`Probe::Name`]).
    nodev: bool,
}

/// A name found in a cached directory, with what `lstat` says of it.
struct CachedName {
    dir: Rc<OwnedFd>,
    name: CPath,
    st: libc::stat,
    /// For an open of a name on a mount that is not `nodev`: the `O_PATH` fd the name was
    /// looked up with (`st` is its fstat).
    path_fd: Option<OwnedFd>,
}

/// What a lookup in a cached directory is for.
#[derive(Clone, Copy, PartialEq)]
enum LookFor {
    /// The name's attributes only.
    Stat,
    /// An open: off `nodev` mounts, the name is looked up as an `O_PATH` fd, which the open
    /// reopens (one lookup, where an `lstat` and then an `O_PATH` open checked to be the
    /// same inode would be two).
    Open,
}

/// What an open found at its path before it opens it for real.
enum Probe {
    /// An `O_PATH` fd of the object, reopened through /proc/self/fd: the same inode.
    Fd(OwnedFd),
    /// A name in a cached directory on a `nodev` mount, opened by name and then checked to
    /// be the inode that was looked at (ESTALE if it is not). Only there: should something
    /// outside the sandbox (the host, another sandbox sharing the mount) swap a device node
    /// in between, its open would reach the driver before the check.
    Name(CachedName),
}

impl Probe {
    /// Opens the inode `st` describes, with `flags`.
    fn open(&self, server: &Server, st: &libc::stat, flags: i32) -> Result<OwnedFd, Errno> {
        match self {
            Probe::Fd(fd) => server.reopen(fd.as_fd(), flags),
            Probe::Name(found) => {
                // No link is followed, and the file's flags are the open's own: O_NOFOLLOW
                // would show in its F_GETFL.
                let (dir, name) = (found.dir.as_fd(), found.name.as_cstr());
                let fd = sys::openat2(dir, name, flags, 0, RESOLVE_NAME_ONLY)?;
                same_inode(&fd, st)?;
                Ok(fd)
            }
        }
    }

    /// An `O_PATH` fd of the object, for the caller to open itself.
    fn into_path_fd(self, st: &libc::stat) -> Result<OwnedFd, Errno> {
        match self {
            Probe::Fd(fd) => Ok(fd),
            Probe::Name(found) => {
                let fd = sys::open_name(found.dir.as_fd(), found.name.as_cstr())?;
                same_inode(&fd, st)?;
                Ok(fd)
            }
        }
    }
}

/// How a name in a kept directory is opened: that name only, never a link.
const RESOLVE_NAME_ONLY: u64 =
    libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;

/// EACCES unless the caller may execute the file `fd` (an `O_PATH` fd) is open on.
fn may_execute(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: "" is NUL-terminated; AT_EMPTY_PATH makes faccessat2 act on fd.
    Errno::result(unsafe {
        libc::syscall(
            libc::SYS_faccessat2,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::X_OK,
            libc::AT_EMPTY_PATH,
        )
    })
    .map(drop)
}

/// ESTALE unless `fd` is the inode `st` describes.
fn same_inode(fd: &OwnedFd, st: &libc::stat) -> Result<(), Errno> {
    let now = sys::fstat(fd.as_fd())?;
    if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino) {
        return Err(Errno::ESTALE);
    }
    Ok(())
}

/// `VALID_OPEN_FLAGS` from include/linux/fcntl.h.
const VALID_OPEN_FLAGS: i32 = libc::O_RDONLY
    | libc::O_WRONLY
    | libc::O_RDWR
    | libc::O_CREAT
    | libc::O_EXCL
    | libc::O_NOCTTY
    | libc::O_TRUNC
    | libc::O_APPEND
    | libc::O_NONBLOCK
    | libc::O_DSYNC
    | libc::O_ASYNC
    | libc::O_DIRECT
    | libc::O_LARGEFILE
    | libc::O_DIRECTORY
    | libc::O_NOFOLLOW
    | libc::O_NOATIME
    | libc::O_CLOEXEC
    | libc::O_SYNC
    | libc::O_PATH
    | libc::O_TMPFILE;
/// `O_PATH_FLAGS` from fs/open.c.
const O_PATH_FLAGS: i32 = libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_PATH | libc::O_CLOEXEC;
/// `__O_TMPFILE` (O_TMPFILE without O_DIRECTORY).
const O_TMPFILE_BIT: i32 = libc::O_TMPFILE & !libc::O_DIRECTORY;
const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// The final component of a path, as Linux classifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Last {
    /// The path is empty or only slashes: the mount root.
    Root,
    Dot,
    DotDot,
    Name,
}

/// A path split into its parent directory and its final component.
struct Split<'a> {
    parent: &'a [u8],
    /// The final component with any trailing slashes (handed to the kernel as is).
    last: &'a [u8],
    kind: Last,
    trailing_slash: bool,
}

fn split(path: &[u8]) -> Split<'_> {
    let mut end = path.len();
    while end > 0 && path[end - 1] == b'/' {
        end -= 1;
    }
    let trailing_slash = end < path.len();
    if end == 0 {
        return Split {
            parent: b"",
            last: b"",
            kind: Last::Root,
            trailing_slash,
        };
    }
    let core = &path[..end];
    let (parent, start) = match core.iter().rposition(|&c| c == b'/') {
        Some(i) => (&path[..i], i + 1),
        None => (&path[..0], 0),
    };
    let name = &core[start..];
    let kind = match name {
        b"." => Last::Dot,
        b".." => Last::DotDot,
        _ => Last::Name,
    };
    Split {
        parent,
        last: &path[start..],
        kind,
        trailing_slash,
    }
}

/// A resolved parent directory: the mount root itself (borrowed) or an fd opened beneath it.
enum Dir<'m> {
    Root(BorrowedFd<'m>),
    Owned(OwnedFd),
    Cached(Rc<OwnedFd>),
}

impl Dir<'_> {
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Dir::Root(b) => *b,
            Dir::Owned(o) => o.as_fd(),
            Dir::Cached(c) => c.as_fd(),
        }
    }
}

/// The outcome of one request: a response and maybe an fd to pass with it.
pub struct Reply<'s> {
    pub response: Response<'s>,
    pub fd: Option<OwnedFd>,
}

fn unit(r: Result<(), Errno>) -> Result<Response<'static>, Errno> {
    r.map(|()| Response::Unit)
}

fn cvt(r: libc::c_int) -> Result<(), Errno> {
    Errno::result(r).map(drop)
}

impl Server {
    /// `proc_fd` must be an fd of `/proc/self/fd` of the serving process.
    pub fn new(mounts: Vec<MountRoot>, proc_fd: OwnedFd) -> Server {
        let refused = mounts
            .iter()
            .map(|m| sys::is_kernel_interface(m.root.as_fd()))
            .collect();
        Server {
            mounts,
            refused,
            proc_fd,
            handshake_done: false,
            scratch: Vec::with_capacity(XATTR_SIZE_MAX),
            lookups: None,
            xattrat: true,
        }
    }

    /// Keeps the directories this server resolves (see [`LookupCache`]): for a server that
    /// runs only requests that change nothing, and whose owner calls
    /// [`Server::forget_lookups`] before anything changes a tree it serves.
    pub fn cache_lookups(&mut self, on: bool) {
        self.lookups = on.then(RefCell::default);
    }

    /// Forgets every directory kept so far.
    pub fn forget_lookups(&self) {
        if let Some(cache) = &self.lookups {
            cache.borrow_mut().dirs.clear();
        }
    }

    /// Serves requests on `sock` until the peer closes it (Ok) or the socket fails (Err).
    pub fn serve(&mut self, sock: BorrowedFd<'_>) -> Result<(), Errno> {
        // Modes come from the sentry with the calling task's umask already applied: the
        // gofer's own must not narrow them again.
        // SAFETY: umask takes and returns a plain integer.
        unsafe { libc::umask(0) };
        let mut rbuf = vec![0u8; MAX_FRAME];
        let mut wbuf = Vec::with_capacity(MAX_FRAME);
        loop {
            let pkt = sys::recv_packet(sock, &mut rbuf)?;
            if pkt.len == 0 && !pkt.truncated {
                return Ok(());
            }
            let frame = &rbuf[..pkt.len];
            let seq = crate::protocol::frame_seq(frame);
            let (reply_fd, err) = if pkt.truncated {
                (None, Some(Errno::EPROTO))
            } else {
                match Request::decode(frame) {
                    Ok((_, req)) => {
                        let reply = self.handle(req, pkt.fd);
                        reply.response.encode(seq, &mut wbuf);
                        (reply.fd, None)
                    }
                    Err(e) => (None, Some(e)),
                }
            };
            if let Some(e) = err {
                Response::Error(e).encode(seq, &mut wbuf);
            }
            // A client that hung up with a request still queued (the handshake of a sentry
            // that failed before reading it) ends the service as its hang-up does.
            match sys::send_packet(sock, &wbuf, reply_fd.as_ref().map(|f| f.as_fd())) {
                Err(Errno::EPIPE) => return Ok(()),
                sent => sent?,
            }
            if let Some(fd) = reply_fd {
                // Closed before the client goes on (see `FD_RELEASED`).
                drop(fd);
                match sys::send_packet(sock, &[FD_RELEASED], None) {
                    Err(Errno::EPIPE) => return Ok(()),
                    sent => sent?,
                }
            }
        }
    }

    /// Handles one decoded request. `fd_in` is the fd that came with it, if any.
    pub fn handle(&mut self, req: Request<'_>, fd_in: Option<OwnedFd>) -> Reply<'_> {
        if let Request::Hello { version } = req {
            let response = if version == VERSION {
                self.handshake_done = true;
                Response::Version(VERSION)
            } else {
                Response::Error(Errno::EPROTONOSUPPORT)
            };
            return Reply { response, fd: None };
        }
        if !self.handshake_done {
            return Reply {
                response: Response::Error(Errno::EPROTO),
                fd: None,
            };
        }
        let mut fd_out = None;
        let result = self.dispatch(req, fd_in, &mut fd_out);
        match result {
            Ok(Response::Fd) if fd_out.is_some() => Reply {
                response: Response::Fd,
                fd: fd_out,
            },
            Ok(Response::Fd) => Reply {
                response: Response::Error(Errno::EIO),
                fd: None,
            },
            Ok(Response::Bytes(_)) => Reply {
                response: Response::Bytes(&self.scratch),
                fd: None,
            },
            Ok(r) => Reply {
                response: r,
                fd: None,
            },
            Err(e) => Reply {
                response: Response::Error(e),
                fd: None,
            },
        }
    }

    fn dispatch(
        &mut self,
        req: Request<'_>,
        fd_in: Option<OwnedFd>,
        fd_out: &mut Option<OwnedFd>,
    ) -> Result<Response<'static>, Errno> {
        // Only BindUnix/ConnectUnix take an fd; any other fd is dropped (closed) here.
        match req {
            Request::Hello { .. } => Err(Errno::EPROTO),
            Request::Open {
                mount,
                path,
                flags,
                mode,
            } => {
                *fd_out = Some(self.open(mount, path, flags, mode)?);
                Ok(Response::Fd)
            }
            Request::OpenExec { mount, path } => {
                *fd_out = Some(self.open_exec(mount, path)?);
                Ok(Response::Fd)
            }
            Request::Stat {
                mount,
                path,
                follow,
            } => self.stat(mount, path, follow).map(Response::Stat),
            Request::Statx {
                mount,
                path,
                follow,
                flags,
                mask,
            } => self
                .statx(mount, path, follow, flags, mask)
                .map(Response::Statx),
            Request::Access {
                mount,
                path,
                mode,
                flags,
            } => unit(self.access(mount, path, mode, flags)),
            Request::Readlink { mount, path } => {
                self.readlink(mount, path)?;
                Ok(Response::Bytes(&[]))
            }
            Request::Mkdir { mount, path, mode } => unit(self.mkdir(mount, path, mode)),
            Request::Mknod {
                mount,
                path,
                mode,
                dev,
            } => unit(self.mknod(mount, path, mode, dev)),
            Request::Unlink { mount, path, flags } => unit(self.unlink(mount, path, flags)),
            Request::Rename {
                mount,
                path,
                to_mount,
                to_path,
                flags,
            } => unit(self.rename(mount, path, to_mount, to_path, flags)),
            Request::Link {
                mount,
                path,
                to_mount,
                to_path,
                follow,
            } => unit(self.link(mount, path, to_mount, to_path, follow)),
            Request::Symlink {
                mount,
                path,
                target,
            } => unit(self.symlink(mount, path, target)),
            Request::Chmod { mount, path, mode } => unit(self.chmod(mount, path, mode)),
            Request::Chown {
                mount,
                path,
                uid,
                gid,
                follow,
            } => unit(self.chown(mount, path, uid, gid, follow)),
            Request::Utimens {
                mount,
                path,
                times,
                follow,
            } => unit(self.utimens(mount, path, times, follow)),
            Request::Truncate { mount, path, len } => unit(self.truncate(mount, path, len)),
            Request::Statfs { mount, path } => self.statfs(mount, path).map(Response::Statfs),
            Request::Getxattr {
                mount,
                path,
                name,
                size,
                follow,
            } => match self.getxattr(mount, path, name, size, follow)? {
                Some(n) => Ok(Response::Size(n)),
                None => Ok(Response::Bytes(&[])),
            },
            Request::Setxattr {
                mount,
                path,
                name,
                value,
                flags,
                follow,
            } => unit(self.setxattr(mount, path, name, value, flags, follow)),
            Request::Listxattr {
                mount,
                path,
                size,
                follow,
            } => match self.listxattr(mount, path, size, follow)? {
                Some(n) => Ok(Response::Size(n)),
                None => Ok(Response::Bytes(&[])),
            },
            Request::Removexattr {
                mount,
                path,
                name,
                follow,
            } => unit(self.removexattr(mount, path, name, follow)),
            Request::BindUnix {
                mount,
                path,
                sock_type,
            } => {
                let created = self.bind_unix(mount, path, sock_type, fd_in)?;
                Ok(self.socket_reply(created, fd_out))
            }
            Request::ConnectUnix {
                mount,
                path,
                sock_type,
            } => {
                let created = self.connect_unix(mount, path, sock_type, fd_in)?;
                Ok(self.socket_reply(created, fd_out))
            }
        }
    }

    fn socket_reply(
        &self,
        created: Option<OwnedFd>,
        fd_out: &mut Option<OwnedFd>,
    ) -> Response<'static> {
        match created {
            Some(fd) => {
                *fd_out = Some(fd);
                Response::Fd
            }
            None => Response::Unit,
        }
    }

    // -----------------------------------------------------------------------------------------
    // Resolution helpers

    fn mount(&self, m: u32) -> Result<&MountRoot, Errno> {
        self.mounts.get(m as usize).ok_or(Errno::EINVAL)
    }

    fn root(&self, m: u32) -> Result<BorrowedFd<'_>, Errno> {
        let root = self.mount(m)?.root.as_fd();
        if self.refused[m as usize] {
            return Err(Errno::EACCES);
        }
        Ok(root)
    }

    fn read_only(&self, m: u32) -> Result<bool, Errno> {
        Ok(self.mount(m)?.read_only)
    }

    /// `openat2` beneath the mount root.
    fn resolve(&self, m: u32, path: &[u8], flags: i32, mode: u32) -> Result<OwnedFd, Errno> {
        let p = CPath::new(path)?;
        let root = self.root(m)?;
        let how = if m == 0 {
            RESOLVE_CONFINED
        } else {
            RESOLVE_BENEATH_ONLY
        };
        let resolved = sys::openat2(root, p.as_cstr(), flags, mode, how).and_then(|fd| {
            // A path into the host's /proc, /sys or the like (a mount point in the rootfs).
            if sys::is_kernel_interface(fd.as_fd()) {
                return Err(Errno::EACCES);
            }
            Ok(fd)
        });
        match resolved {
            // A link out of a mount other than the root: where it leads is another mount's.
            Err(Errno::EXDEV) if m != 0 => Err(Errno::EREMOTE),
            // In the root file system links are followed beneath its root, which is wrong
            // when one leads into another mount (Debian's /etc/mtab -> ../proc/self/mounts,
            // an absolute link into a bind mount): a lookup that failed after a link is
            // answered EREMOTE, and the caller follows the links across its mounts.
            Err(e @ (Errno::ENOENT | Errno::ENOTDIR | Errno::EACCES)) if m == 0 => {
                let probe = libc::O_PATH | (flags & libc::O_NOFOLLOW);
                let no_links = RESOLVE_CONFINED | libc::RESOLVE_NO_SYMLINKS;
                match sys::openat2(root, p.as_cstr(), probe, 0, no_links) {
                    Err(Errno::ELOOP) => Err(Errno::EREMOTE),
                    _ => Err(e),
                }
            }
            other => other,
        }
    }

    /// An `O_PATH` fd on the object `path` names, following the final symlink or not. Never a
    /// magic link: those are refused with ELOOP, as RESOLVE_NO_MAGICLINKS refuses them elsewhere.
    fn object(&self, m: u32, path: &[u8], follow: bool) -> Result<OwnedFd, Errno> {
        let flags = libc::O_PATH | if follow { 0 } else { libc::O_NOFOLLOW };
        let fd = self.resolve(m, path, flags, 0)?;
        if !follow {
            refuse_magic_link(fd.as_fd())?;
        }
        Ok(fd)
    }

    /// The parent directory of a split path.
    fn parent(&self, m: u32, s: &Split<'_>) -> Result<Dir<'_>, Errno> {
        let root = self.root(m)?;
        if s.parent.is_empty() {
            return Ok(Dir::Root(root));
        }
        if let Some(dir) = self.cached_dir(m, s.parent)? {
            return Ok(Dir::Cached(dir.fd));
        }
        Ok(Dir::Owned(self.resolve(
            m,
            s.parent,
            libc::O_PATH | libc::O_DIRECTORY,
            0,
        )?))
    }

    /// The directory `path` names in mount `m`, from the cache or resolved into it. None
    /// without a cache, or when the walk is left to the caller: a path that does not resolve
    /// to a directory (the caller's own walk says why) or lands in a kernel interface.
    fn cached_dir(&self, m: u32, path: &[u8]) -> Result<Option<CachedDir>, Errno> {
        let Some(cache) = &self.lookups else {
            return Ok(None);
        };
        let index = m as usize;
        if let Some(dir) = cache.borrow().dirs.get(index).and_then(|d| d.get(path)) {
            return Ok(Some(dir.clone()));
        }
        let root = self.root(m)?;
        let (fd, through_links) = if path.is_empty() {
            (sys::dup(root)?, false)
        } else {
            let p = CPath::new(path)?;
            let how = if m == 0 {
                RESOLVE_CONFINED
            } else {
                RESOLVE_BENEATH_ONLY
            };
            let dir_flags = libc::O_PATH | libc::O_DIRECTORY;
            match sys::openat2(
                root,
                p.as_cstr(),
                dir_flags,
                0,
                how | libc::RESOLVE_NO_SYMLINKS,
            ) {
                Ok(fd) => (fd, false),
                Err(Errno::ELOOP) => match self.resolve(m, path, dir_flags, 0) {
                    Ok(fd) => (fd, true),
                    Err(_) => return Ok(None),
                },
                Err(_) => return Ok(None),
            }
        };
        let fs = sys::fstatfs(fd.as_fd())?;
        if sys::is_kernel_fs(fs.f_type) {
            return Ok(None);
        }
        let dir = CachedDir {
            dev: sys::fstat(fd.as_fd())?.st_dev,
            fd: Rc::new(fd),
            through_links,
            nodev: fs.f_flags & sys::ST_NODEV != 0,
        };
        let mut cache = cache.borrow_mut();
        if cache.dirs.len() <= index {
            cache.dirs.resize_with(index + 1, HashMap::new);
        }
        if cache.dirs.iter().map(HashMap::len).sum::<usize>() >= LOOKUP_CACHE_DIRS {
            cache.dirs.iter_mut().for_each(HashMap::clear);
        }
        cache.dirs[index].insert(path.to_vec(), dir.clone());
        Ok(Some(dir))
    }

    /// The object `path` names, looked up as one name in its cached parent directory, when
    /// that settles it: a name that is there and is neither a mount point nor a link to
    /// follow, or (Err(ENOENT)) one that is not there. None: the caller walks the path as
    /// without a cache.
    fn cached_name(
        &self,
        m: u32,
        path: &[u8],
        follow: bool,
        look_for: LookFor,
    ) -> Result<Option<CachedName>, Errno> {
        if self.lookups.is_none() {
            return Ok(None);
        }
        let s = split(path);
        if s.kind != Last::Name || s.trailing_slash {
            return Ok(None);
        }
        let Some(dir) = self.cached_dir(m, s.parent)? else {
            return Ok(None);
        };
        let name = CPath::new(s.last)?;
        let found = if look_for == LookFor::Open && !dir.nodev {
            sys::open_name(dir.fd.as_fd(), name.as_cstr())
                .and_then(|fd| Ok((sys::fstat(fd.as_fd())?, Some(fd))))
        } else {
            sys::fstatat_nofollow(dir.fd.as_fd(), name.as_cstr()).map(|st| (st, None))
        };
        match found {
            Ok((st, path_fd)) => {
                if st.st_dev != dir.dev || (follow && file_type(&st) == libc::S_IFLNK) {
                    return Ok(None);
                }
                Ok(Some(CachedName {
                    dir: dir.fd,
                    name,
                    st,
                    path_fd,
                }))
            }
            Err(Errno::ENOENT) if !dir.through_links => Err(Errno::ENOENT),
            Err(_) => Ok(None),
        }
    }

    /// Reopens an `O_PATH` fd we resolved through `/proc/self/fd/N`: the same inode, with real
    /// access modes and the kernel's permission checks.
    fn reopen(&self, fd: BorrowedFd<'_>, flags: i32) -> Result<OwnedFd, Errno> {
        let name = FdName::new(fd.as_raw_fd());
        sys::openat2(self.proc_fd.as_fd(), name.as_cstr(), flags, 0, 0)
    }

    /// EEXIST if `name` exists in `dir`, else `otherwise` (Linux reports EEXIST before EROFS).
    fn exists_or(&self, dir: BorrowedFd<'_>, name: &[u8], otherwise: Errno) -> Errno {
        match CPath::new(name) {
            Ok(c) => match sys::fstatat_nofollow(dir, c.as_cstr()) {
                Ok(_) => Errno::EEXIST,
                Err(_) => otherwise,
            },
            Err(e) => e,
        }
    }

    // -----------------------------------------------------------------------------------------
    // Open

    fn open(&self, m: u32, path: &[u8], flags: i32, mode: u32) -> Result<OwnedFd, Errno> {
        // What open(2) does before it reaches the lookup (build_open_how).
        let mut flags = flags & VALID_OPEN_FLAGS;
        let mut mode = host_mode(mode, flags & libc::O_DIRECTORY != 0);
        if flags & libc::O_PATH != 0 {
            flags &= O_PATH_FLAGS;
            mode = 0;
        }
        let creat = flags & libc::O_CREAT != 0;
        let tmpfile = flags & O_TMPFILE_BIT != 0;
        if !creat && !tmpfile {
            mode = 0;
        }
        let ro = self.read_only(m)?;

        if flags & libc::O_PATH != 0 {
            let fd = self.resolve(m, path, flags, 0)?;
            refuse_magic_link(fd.as_fd())?;
            return Ok(fd);
        }
        flags |= libc::O_NOCTTY;
        if tmpfile {
            if ro {
                self.resolve(m, path, libc::O_PATH | libc::O_DIRECTORY, 0)?;
                return Err(Errno::EROFS);
            }
            // A new unnamed regular file in a directory beneath the root.
            return self.resolve(m, path, flags, mode);
        }

        // Probe without side effects: what does the path name right now?
        let mut probe_flags = libc::O_PATH | (flags & (libc::O_NOFOLLOW | libc::O_DIRECTORY));
        let excl = creat && flags & libc::O_EXCL != 0;
        if excl {
            probe_flags |= libc::O_NOFOLLOW;
        }
        let found = if creat {
            None
        } else {
            self.cached_name(m, path, flags & libc::O_NOFOLLOW == 0, LookFor::Open)?
        };
        if let Some(mut found) = found {
            if flags & libc::O_DIRECTORY != 0 && file_type(&found.st) != libc::S_IFDIR {
                return Err(Errno::ENOTDIR);
            }
            let st = found.st;
            // Elsewhere the O_PATH fd of the name, reopened as without a cache.
            let probe = match found.path_fd.take() {
                Some(fd) => Probe::Fd(fd),
                None => Probe::Name(found),
            };
            match self.open_found(probe, &st, flags, ro) {
                // Not the inode looked at a moment before: something outside the sandbox
                // changed the name meanwhile. Walked again, as without a cache.
                Err(Errno::ESTALE) => {}
                other => return other,
            }
        }
        let probed = self
            .resolve(m, path, probe_flags, 0)
            .and_then(|probe| Ok((sys::fstat(probe.as_fd())?, probe)));
        match probed {
            Ok((st, probe)) => {
                if excl {
                    return Err(Errno::EEXIST);
                }
                self.open_found(Probe::Fd(probe), &st, flags, ro)
            }
            Err(Errno::ENOENT) if creat => {
                let s = split(path);
                if s.trailing_slash {
                    return Err(Errno::EISDIR);
                }
                if ro {
                    self.parent(m, &s)?;
                    return Err(Errno::EROFS);
                }
                let fd = self.resolve(m, path, flags | libc::O_NONBLOCK, mode)?;
                let st = sys::fstat(fd.as_fd())?;
                // Something else was put there between the probe and now.
                if matches!(file_type(&st), libc::S_IFCHR | libc::S_IFBLK) {
                    return Err(Errno::EACCES);
                }
                if flags & libc::O_NONBLOCK == 0 {
                    clear_nonblock(fd.as_fd(), flags)?;
                }
                Ok(fd)
            }
            Err(e) => Err(e),
        }
    }

    /// A program for execve, checked as execve checks it: a regular file (EACCES for
    /// anything else) that the caller may execute (faccessat2 of the object found), then
    /// opened read-only. The name is looked up once, for all three.
    fn open_exec(&self, m: u32, path: &[u8]) -> Result<OwnedFd, Errno> {
        let ro = self.read_only(m)?;
        let flags = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY;
        if let Some(mut found) = self.cached_name(m, path, true, LookFor::Open)? {
            let st = found.st;
            if file_type(&st) != libc::S_IFREG {
                return Err(Errno::EACCES);
            }
            let probe = match found.path_fd.take() {
                Some(fd) => Probe::Fd(fd),
                None => {
                    let (dir, name) = (found.dir.as_raw_fd(), found.name.as_cstr().as_ptr());
                    let at = libc::AT_SYMLINK_NOFOLLOW;
                    // SAFETY: the name is NUL-terminated; faccessat2 only reads it.
                    Errno::result(unsafe {
                        libc::syscall(libc::SYS_faccessat2, dir, name, libc::X_OK, at)
                    })?;
                    Probe::Name(found)
                }
            };
            if let Probe::Fd(fd) = &probe {
                may_execute(fd.as_fd())?;
            }
            match self.open_found(probe, &st, flags, ro) {
                // Not the inode looked at a moment before: walked again, as without a cache.
                Err(Errno::ESTALE) => {}
                other => return other,
            }
        }
        let probe = self.resolve(m, path, libc::O_PATH, 0)?;
        let st = sys::fstat(probe.as_fd())?;
        if file_type(&st) != libc::S_IFREG {
            return Err(Errno::EACCES);
        }
        may_execute(probe.as_fd())?;
        self.open_found(Probe::Fd(probe), &st, flags, ro)
    }

    /// The rest of an open once its path was found (and is not to be created): the checks
    /// by file type, then the open itself, of the inode `st` describes.
    fn open_found(
        &self,
        probe: Probe,
        st: &libc::stat,
        flags: i32,
        ro: bool,
    ) -> Result<OwnedFd, Errno> {
        let acc = flags & libc::O_ACCMODE;
        let writes = acc == libc::O_WRONLY || acc == libc::O_RDWR;
        let trunc = flags & libc::O_TRUNC != 0;
        let creat = flags & libc::O_CREAT != 0;
        let mut extra = 0;
        match file_type(st) {
            // Only reachable with O_NOFOLLOW: open(2) says ELOOP.
            libc::S_IFLNK => return Err(Errno::ELOOP),
            // Mounts are nodev.
            libc::S_IFCHR | libc::S_IFBLK => return Err(Errno::EACCES),
            libc::S_IFSOCK => return Err(Errno::ENXIO),
            libc::S_IFDIR => {
                if writes || trunc || creat {
                    return Err(Errno::EISDIR);
                }
            }
            libc::S_IFREG => {
                if ro && (writes || trunc) {
                    return Err(Errno::EROFS);
                }
                // Never block the gofer on a file lease either (see below).
                extra = libc::O_NONBLOCK;
            }
            // Never block the gofer on a FIFO. An open that may wait for the other end
            // (blocking, read-only or write-only) gets the O_PATH probe: the caller makes
            // that open, and nothing here holds an end meanwhile.
            libc::S_IFIFO if flags & libc::O_NONBLOCK == 0 && acc != libc::O_RDWR => {
                return probe.into_path_fd(st);
            }
            // The blocking mode is restored below.
            libc::S_IFIFO => extra = libc::O_NONBLOCK,
            _ => return Err(Errno::EACCES),
        }
        let reflags = (flags | extra) & !(libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW);
        let fd = match probe.open(self, st, reflags) {
            // A lease another process holds: a blocking open would wait for its break (up
            // to lease-break-time). The caller gets the O_PATH probe and makes that open
            // itself, as for a FIFO.
            Err(Errno::EWOULDBLOCK)
                if file_type(st) == libc::S_IFREG && flags & libc::O_NONBLOCK == 0 =>
            {
                return probe.into_path_fd(st);
            }
            other => other?,
        };
        if extra != 0 && flags & libc::O_NONBLOCK == 0 {
            clear_nonblock(fd.as_fd(), reflags)?;
        }
        Ok(fd)
    }

    // -----------------------------------------------------------------------------------------
    // Metadata

    fn stat(&self, m: u32, path: &[u8], follow: bool) -> Result<libc::stat, Errno> {
        if let Some(found) = self.cached_name(m, path, follow, LookFor::Stat)? {
            return Ok(found.st);
        }
        let s = split(path);
        if !follow && s.kind == Last::Name && !s.trailing_slash {
            let dir = self.parent(m, &s)?;
            let name = CPath::new(s.last)?;
            return sys::fstatat_nofollow(dir.fd(), name.as_cstr());
        }
        // Following, or a name that is a directory by syntax (".", "..", root, trailing "/").
        let fd = self.resolve(m, path, libc::O_PATH, 0)?;
        sys::fstat(fd.as_fd())
    }

    fn statx(
        &self,
        m: u32,
        path: &[u8],
        follow: bool,
        flags: i32,
        mask: u32,
    ) -> Result<libc::statx, Errno> {
        let sync = flags & libc::AT_STATX_SYNC_TYPE;
        // SAFETY: all-zero is a valid statx.
        let mut stx: libc::statx = unsafe { std::mem::zeroed() };
        if let Some(found) = self.cached_name(m, path, follow, LookFor::Stat)? {
            // The name is no link to follow: looked at without following, as found.
            // SAFETY: the name is NUL-terminated; stx is writable.
            cvt(unsafe {
                libc::statx(
                    found.dir.as_raw_fd(),
                    found.name.as_cstr().as_ptr(),
                    libc::AT_SYMLINK_NOFOLLOW | sync,
                    mask,
                    &mut stx,
                )
            })?;
            return Ok(stx);
        }
        let fd = self.object(m, path, follow)?;
        // SAFETY: "" is NUL-terminated; stx is writable; AT_EMPTY_PATH makes the call act on fd.
        cvt(unsafe {
            libc::statx(
                fd.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_EMPTY_PATH | sync,
                mask,
                &mut stx,
            )
        })?;
        Ok(stx)
    }

    fn access(&self, m: u32, path: &[u8], mode: i32, flags: i32) -> Result<(), Errno> {
        if mode & !(libc::R_OK | libc::W_OK | libc::X_OK) != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & !(libc::AT_EACCESS | libc::AT_SYMLINK_NOFOLLOW) != 0 {
            return Err(Errno::EINVAL);
        }
        let follow = flags & libc::AT_SYMLINK_NOFOLLOW == 0;
        let eaccess = flags & libc::AT_EACCESS;
        // What the object is: its stat when the cache found it, else the fd walked to.
        let object = if let Some(found) = self.cached_name(m, path, follow, LookFor::Stat)? {
            let (dir, name) = (found.dir.as_raw_fd(), found.name.as_cstr().as_ptr());
            let at = libc::AT_SYMLINK_NOFOLLOW | eaccess;
            // SAFETY: the name is NUL-terminated; faccessat2 only reads it.
            Errno::result(unsafe { libc::syscall(libc::SYS_faccessat2, dir, name, mode, at) })?;
            Ok(found.st)
        } else {
            let fd = self.object(m, path, follow)?;
            let at = libc::AT_EMPTY_PATH | eaccess;
            // SAFETY: "" is NUL-terminated; faccessat2 only reads it.
            Errno::result(unsafe {
                libc::syscall(libc::SYS_faccessat2, fd.as_raw_fd(), c"".as_ptr(), mode, at)
            })?;
            Err(fd)
        };
        if mode & libc::W_OK != 0 && self.read_only(m)? {
            let st = match object {
                Ok(st) => st,
                Err(fd) => sys::fstat(fd.as_fd())?,
            };
            if matches!(
                file_type(&st),
                libc::S_IFREG | libc::S_IFDIR | libc::S_IFLNK
            ) {
                return Err(Errno::EROFS);
            }
        }
        Ok(())
    }

    fn readlink(&mut self, m: u32, path: &[u8]) -> Result<(), Errno> {
        let s = split(path);
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        buf.resize(crate::protocol::MAX_PATH + 1, 0);
        let r = (|| {
            if s.kind == Last::Name && !s.trailing_slash {
                let dir = self.parent(m, &s)?;
                let name = CPath::new(s.last)?;
                readlinkat(dir.fd(), name.as_cstr(), &mut buf)
            } else {
                // Trailing slash: Linux follows, and then the object is a directory (EINVAL).
                let fd = self.object(m, path, s.trailing_slash)?;
                let st = sys::fstat(fd.as_fd())?;
                if file_type(&st) != libc::S_IFLNK {
                    return Err(Errno::EINVAL);
                }
                readlinkat(fd.as_fd(), c"", &mut buf)
            }
        })();
        match r {
            Ok(n) => buf.truncate(n),
            Err(_) => buf.clear(),
        }
        self.scratch = buf;
        r.map(drop)
    }

    fn chmod(&self, m: u32, path: &[u8], mode: u32) -> Result<(), Errno> {
        let fd = self.object(m, path, true)?;
        if self.read_only(m)? {
            return Err(Errno::EROFS);
        }
        refuse_device(&fd)?;
        let is_dir = file_type(&sys::fstat(fd.as_fd())?) == libc::S_IFDIR;
        let name = FdName::new(fd.as_raw_fd());
        // SAFETY: NUL-terminated name relative to our /proc/self/fd; follows the magic link to
        // the inode we resolved.
        cvt(unsafe {
            libc::fchmodat(
                self.proc_fd.as_raw_fd(),
                name.as_cstr().as_ptr(),
                host_mode(mode, is_dir),
                0,
            )
        })
    }

    fn chown(&self, m: u32, path: &[u8], uid: u32, gid: u32, follow: bool) -> Result<(), Errno> {
        let fd = self.object(m, path, follow)?;
        if self.read_only(m)? {
            return Err(Errno::EROFS);
        }
        refuse_device(&fd)?;
        // SAFETY: "" is NUL-terminated; AT_EMPTY_PATH acts on fd itself (a symlink if !follow).
        cvt(unsafe { libc::fchownat(fd.as_raw_fd(), c"".as_ptr(), uid, gid, libc::AT_EMPTY_PATH) })
    }

    fn utimens(
        &self,
        m: u32,
        path: &[u8],
        times: Option<[Timespec; 2]>,
        follow: bool,
    ) -> Result<(), Errno> {
        let fd = self.object(m, path, follow)?;
        if self.read_only(m)? {
            return Err(Errno::EROFS);
        }
        refuse_device(&fd)?;
        let ts = times.map(|t| {
            t.map(|x| libc::timespec {
                tv_sec: x.sec,
                tv_nsec: x.nsec,
            })
        });
        let ptr = match &ts {
            Some(t) => t.as_ptr(),
            None => std::ptr::null(),
        };
        let name = FdName::new(fd.as_raw_fd());
        // SAFETY: NUL-terminated name relative to /proc/self/fd (the magic link leads to the
        // resolved inode, symlink or not); `ptr` is null or two valid timespecs.
        cvt(unsafe { libc::utimensat(self.proc_fd.as_raw_fd(), name.as_cstr().as_ptr(), ptr, 0) })
    }

    fn truncate(&self, m: u32, path: &[u8], len: i64) -> Result<(), Errno> {
        if len < 0 {
            return Err(Errno::EINVAL);
        }
        let fd = self.object(m, path, true)?;
        let st = sys::fstat(fd.as_fd())?;
        match file_type(&st) {
            libc::S_IFDIR => return Err(Errno::EISDIR),
            libc::S_IFREG => {}
            _ => return Err(Errno::EINVAL),
        }
        if self.read_only(m)? {
            return Err(Errno::EROFS);
        }
        let wfd = self.reopen(
            fd.as_fd(),
            libc::O_WRONLY | libc::O_NOCTTY | libc::O_NONBLOCK,
        )?;
        // SAFETY: ftruncate on an fd we own.
        cvt(unsafe { libc::ftruncate(wfd.as_raw_fd(), len) })
    }

    fn statfs(&self, m: u32, path: &[u8]) -> Result<crate::protocol::StatFs, Errno> {
        let fd = self.object(m, path, true)?;
        let mut s = sys::fstatfs(fd.as_fd())?;
        s.f_flags |= libc::ST_NODEV as i64;
        if self.read_only(m)? {
            s.f_flags |= libc::ST_RDONLY as i64;
        }
        Ok(s)
    }

    // -----------------------------------------------------------------------------------------
    // Namespace operations: parent + final component

    /// The parent of a path whose final component must be a plain name, or the errno Linux
    /// gives for ".", ".." and the root in this call.
    fn create_parent<'s>(
        &self,
        m: u32,
        s: &Split<'s>,
        special: Errno,
    ) -> Result<(Dir<'_>, CPath), Errno> {
        let dir = self.parent(m, s)?;
        if s.kind != Last::Name {
            return Err(special);
        }
        Ok((dir, CPath::new(s.last)?))
    }

    fn mkdir(&self, m: u32, path: &[u8], mode: u32) -> Result<(), Errno> {
        let s = split(path);
        let (dir, name) = self.create_parent(m, &s, Errno::EEXIST)?;
        if self.read_only(m)? {
            return Err(self.exists_or(dir.fd(), s.last, Errno::EROFS));
        }
        // SAFETY: NUL-terminated single component relative to a resolved directory fd.
        cvt(unsafe {
            libc::mkdirat(
                dir.fd().as_raw_fd(),
                name.as_cstr().as_ptr(),
                host_mode(mode, true),
            )
        })
    }

    fn mknod(&self, m: u32, path: &[u8], mode: u32, dev: u64) -> Result<(), Errno> {
        // may_mknod(), before any lookup.
        match mode & libc::S_IFMT {
            0 | libc::S_IFREG | libc::S_IFIFO | libc::S_IFSOCK => {}
            libc::S_IFDIR | libc::S_IFCHR | libc::S_IFBLK => return Err(Errno::EPERM),
            _ => return Err(Errno::EINVAL),
        }
        let _ = dev; // meaningless for the types we create
        let s = split(path);
        let (dir, name) = self.create_parent(m, &s, Errno::EEXIST)?;
        if self.read_only(m)? {
            return Err(self.exists_or(dir.fd(), s.last, Errno::EROFS));
        }
        // SAFETY: NUL-terminated single component relative to a resolved directory fd.
        cvt(unsafe {
            libc::mknodat(
                dir.fd().as_raw_fd(),
                name.as_cstr().as_ptr(),
                mode & libc::S_IFMT | host_mode(mode, false),
                0,
            )
        })
    }

    fn symlink(&self, m: u32, path: &[u8], target: &[u8]) -> Result<(), Errno> {
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        let target = CPath::new(target)?;
        let s = split(path);
        let (dir, name) = self.create_parent(m, &s, Errno::EEXIST)?;
        if self.read_only(m)? {
            return Err(self.exists_or(dir.fd(), s.last, Errno::EROFS));
        }
        // SAFETY: both strings NUL-terminated; the link is created in a resolved directory.
        cvt(unsafe {
            libc::symlinkat(
                target.as_cstr().as_ptr(),
                dir.fd().as_raw_fd(),
                name.as_cstr().as_ptr(),
            )
        })
    }

    fn unlink(&self, m: u32, path: &[u8], flags: i32) -> Result<(), Errno> {
        if flags & !libc::AT_REMOVEDIR != 0 {
            return Err(Errno::EINVAL);
        }
        let rmdir = flags & libc::AT_REMOVEDIR != 0;
        let s = split(path);
        let special = match (rmdir, s.kind) {
            (false, _) => Errno::EISDIR,
            (true, Last::Dot) => Errno::EINVAL,
            (true, Last::DotDot) => Errno::ENOTEMPTY,
            (true, _) => Errno::EBUSY,
        };
        let (dir, name) = self.create_parent(m, &s, special)?;
        if self.read_only(m)? {
            return Err(Errno::EROFS);
        }
        // SAFETY: NUL-terminated single component (maybe with trailing slashes, which the
        // kernel interprets) relative to a resolved directory fd.
        cvt(unsafe { libc::unlinkat(dir.fd().as_raw_fd(), name.as_cstr().as_ptr(), flags) })
    }

    fn rename(
        &self,
        m: u32,
        path: &[u8],
        to_m: u32,
        to_path: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        if flags & libc::RENAME_WHITEOUT != 0 {
            return Err(Errno::EPERM);
        }
        if flags & !(libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE) != 0 {
            return Err(Errno::EINVAL);
        }
        let from = split(path);
        let to = split(to_path);
        let from_dir = self.parent(m, &from)?;
        let to_dir = self.parent(to_m, &to)?;
        if m != to_m {
            return Err(Errno::EXDEV);
        }
        if from.kind != Last::Name {
            return Err(Errno::EBUSY);
        }
        if to.kind != Last::Name {
            return Err(if flags & libc::RENAME_NOREPLACE != 0 {
                Errno::EEXIST
            } else {
                Errno::EBUSY
            });
        }
        if self.read_only(m)? {
            return Err(Errno::EROFS);
        }
        let a = CPath::new(from.last)?;
        let b = CPath::new(to.last)?;
        // SAFETY: NUL-terminated single components relative to resolved directory fds. The raw
        // call: glibc's wrapper turns flags == 0 into renameat, which the filter does not allow.
        Errno::result(unsafe {
            libc::syscall(
                libc::SYS_renameat2,
                from_dir.fd().as_raw_fd(),
                a.as_cstr().as_ptr(),
                to_dir.fd().as_raw_fd(),
                b.as_cstr().as_ptr(),
                flags,
            )
        })
        .map(drop)
    }

    fn link(
        &self,
        m: u32,
        path: &[u8],
        to_m: u32,
        to_path: &[u8],
        follow: bool,
    ) -> Result<(), Errno> {
        // The existing object: resolved in its mount; following only if asked.
        let src = self.object(m, path, follow)?;
        let to = split(to_path);
        let (dir, name) = self.create_parent(to_m, &to, Errno::EEXIST)?;
        if m != to_m {
            return Err(Errno::EXDEV);
        }
        if self.read_only(to_m)? {
            return Err(self.exists_or(dir.fd(), to.last, Errno::EROFS));
        }
        let src_name = FdName::new(src.as_raw_fd());
        // SAFETY: NUL-terminated names. The source is /proc/self/fd/N of the inode we resolved
        // (AT_SYMLINK_FOLLOW follows that magic link only, to exactly that inode, which is a
        // symlink itself when !follow); the new name is a single component in a resolved dir.
        cvt(unsafe {
            libc::linkat(
                self.proc_fd.as_raw_fd(),
                src_name.as_cstr().as_ptr(),
                dir.fd().as_raw_fd(),
                name.as_cstr().as_ptr(),
                libc::AT_SYMLINK_FOLLOW,
            )
        })
    }

    // -----------------------------------------------------------------------------------------
    // Extended attributes: by name in a kept directory (getxattrat, listxattrat), else
    // through /proc/self/fd/N of the resolved object.

    fn proc_path(&self, fd: BorrowedFd<'_>) -> ProcPath {
        ProcPath::new(fd.as_raw_fd())
    }

    fn getxattr(
        &mut self,
        m: u32,
        path: &[u8],
        name: &[u8],
        size: u32,
        follow: bool,
    ) -> Result<Option<u64>, Errno> {
        let name = CPath::new(name)?;
        if let Some(found) = self.xattr_name(m, path, follow)? {
            match self.sized_reply(size, |buf, size| {
                let (dir, file) = (found.dir.as_fd(), found.name.as_cstr());
                // SAFETY: buf is null or writable for `size` bytes (`sized_reply`).
                unsafe { sys::getxattrat_nofollow(dir, file, name.as_cstr(), buf, size) }
            }) {
                Err(Errno::ENOSYS) => self.xattrat = false,
                done => return done,
            }
        }
        let fd = self.object(m, path, follow)?;
        let p = self.proc_path(fd.as_fd());
        self.sized_reply(size, |buf, size| {
            // SAFETY: NUL-terminated path and name; buf is null or writable for `size` bytes.
            unsafe { libc::getxattr(p.as_cstr().as_ptr(), name.as_cstr().as_ptr(), buf, size) }
        })
    }

    fn listxattr(
        &mut self,
        m: u32,
        path: &[u8],
        size: u32,
        follow: bool,
    ) -> Result<Option<u64>, Errno> {
        if let Some(found) = self.xattr_name(m, path, follow)? {
            match self.sized_reply(size, |buf, size| {
                let (dir, name) = (found.dir.as_fd(), found.name.as_cstr());
                // SAFETY: buf is null or writable for `size` bytes (`sized_reply`).
                unsafe { sys::listxattrat_nofollow(dir, name, buf.cast(), size) }
            }) {
                Err(Errno::ENOSYS) => self.xattrat = false,
                done => return done,
            }
        }
        let fd = self.object(m, path, follow)?;
        let p = self.proc_path(fd.as_fd());
        self.sized_reply(size, |buf, size| {
            // SAFETY: NUL-terminated path; buf is null or writable for `size` bytes.
            unsafe { libc::listxattr(p.as_cstr().as_ptr(), buf.cast(), size) }
        })
    }

    /// The name `path` ends in and its cached parent, for an xattr read by name there
    /// (getxattrat, listxattrat) that never follows a final link: a name that is there, on
    /// its directory's file system, and not a link to follow (`cached_name`). Then one
    /// lookup of one name, where the walk from the mount root, a statfs and a lookup
    /// through /proc/self/fd were four. Err(ENOENT) for a name known missing.
    fn xattr_name(&self, m: u32, path: &[u8], follow: bool) -> Result<Option<CachedName>, Errno> {
        if !self.xattrat {
            return Ok(None);
        }
        self.cached_name(m, path, follow, LookFor::Stat)
    }

    /// getxattr/listxattr into the scratch buffer (the reply's payload): `call` gets a null
    /// buffer when `size` is 0, which asks only for the size (returned as the reply's value).
    fn sized_reply(
        &mut self,
        size: u32,
        call: impl FnOnce(*mut libc::c_void, usize) -> isize,
    ) -> Result<Option<u64>, Errno> {
        let size = (size as usize).min(XATTR_SIZE_MAX);
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        buf.resize(size, 0);
        let ptr = if size == 0 {
            std::ptr::null_mut()
        } else {
            buf.as_mut_ptr().cast()
        };
        let res = Errno::result(call(ptr, size)).map(|n| n as usize);
        buf.truncate(*res.as_ref().unwrap_or(&0));
        self.scratch = buf;
        let n = res?;
        Ok(if size == 0 { Some(n as u64) } else { None })
    }

    fn setxattr(
        &self,
        m: u32,
        path: &[u8],
        name: &[u8],
        value: &[u8],
        flags: i32,
        follow: bool,
    ) -> Result<(), Errno> {
        if flags & !(libc::XATTR_CREATE | libc::XATTR_REPLACE) != 0 {
            return Err(Errno::EINVAL);
        }
        let fd = self.object(m, path, follow)?;
        if self.read_only(m)? {
            return Err(Errno::EROFS);
        }
        refuse_device(&fd)?;
        if privileged_xattr(name) {
            return Err(Errno::EPERM);
        }
        let name = CPath::new(name)?;
        let p = self.proc_path(fd.as_fd());
        // SAFETY: NUL-terminated path and name; value is readable for its length.
        cvt(unsafe {
            libc::setxattr(
                p.as_cstr().as_ptr(),
                name.as_cstr().as_ptr(),
                value.as_ptr() as *const libc::c_void,
                value.len(),
                flags,
            )
        })
    }

    fn removexattr(&self, m: u32, path: &[u8], name: &[u8], follow: bool) -> Result<(), Errno> {
        let fd = self.object(m, path, follow)?;
        if self.read_only(m)? {
            return Err(Errno::EROFS);
        }
        refuse_device(&fd)?;
        let name = CPath::new(name)?;
        let p = self.proc_path(fd.as_fd());
        // SAFETY: NUL-terminated path and name.
        cvt(unsafe { libc::removexattr(p.as_cstr().as_ptr(), name.as_cstr().as_ptr()) })
    }

    // -----------------------------------------------------------------------------------------
    // AF_UNIX sockets

    /// The socket to act on: the one passed in (checked to be AF_UNIX), or a new one.
    fn unix_socket(
        &self,
        sock_type: i32,
        fd_in: Option<OwnedFd>,
    ) -> Result<(OwnedFd, bool), Errno> {
        if let Some(fd) = fd_in {
            let mut domain: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: domain/len are valid for writing one int.
            let r = unsafe {
                libc::getsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_DOMAIN,
                    &mut domain as *mut libc::c_int as *mut libc::c_void,
                    &mut len,
                )
            };
            Errno::result(r).map_err(|e| {
                if e == Errno::ENOTSOCK {
                    Errno::ENOTSOCK
                } else {
                    Errno::EBADF
                }
            })?;
            if domain != libc::AF_UNIX {
                return Err(Errno::EAFNOSUPPORT);
            }
            return Ok((fd, false));
        }
        let base = sock_type & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC);
        if !matches!(
            base,
            libc::SOCK_STREAM | libc::SOCK_DGRAM | libc::SOCK_SEQPACKET
        ) {
            return Err(Errno::EINVAL);
        }
        // SAFETY: socket(2) with integer arguments.
        let raw = Errno::result(unsafe {
            libc::socket(libc::AF_UNIX, sock_type | libc::SOCK_CLOEXEC, 0)
        })?;
        // SAFETY: a fresh descriptor nothing else owns.
        Ok((unsafe { OwnedFd::from_raw_fd(raw) }, true))
    }

    fn bind_unix(
        &self,
        m: u32,
        path: &[u8],
        sock_type: i32,
        fd_in: Option<OwnedFd>,
    ) -> Result<Option<OwnedFd>, Errno> {
        let s = split(path);
        let (dir, name) = self.create_parent(m, &s, Errno::EADDRINUSE)?;
        if self.read_only(m)? {
            let e = self.exists_or(dir.fd(), s.last, Errno::EROFS);
            return Err(if e == Errno::EEXIST {
                Errno::EADDRINUSE
            } else {
                e
            });
        }
        let (sock, created) = self.unix_socket(sock_type, fd_in)?;
        // Bind relative to the parent: the gofer is single-threaded, so its cwd is ours to move.
        let (addr, len) = sockaddr_un(name.as_cstr().to_bytes())?;
        // SAFETY: fchdir on a directory fd we resolved.
        cvt(unsafe { libc::fchdir(dir.fd().as_raw_fd()) })?;
        // The socket file is made with no permission at all; the caller gives it its mode
        // (the task's umask applied) with a chmod, so it is never wider than asked.
        // SAFETY: umask and bind take plain integers and a valid sockaddr_un of `len` bytes.
        let r = unsafe {
            libc::umask(0o777);
            let r = libc::bind(
                sock.as_raw_fd(),
                &addr as *const libc::sockaddr_un as *const libc::sockaddr,
                len,
            );
            libc::umask(0);
            r
        };
        Errno::result(r).map_err(|e| {
            if e == Errno::EEXIST {
                Errno::EADDRINUSE
            } else {
                e
            }
        })?;
        Ok(created.then_some(sock))
    }

    fn connect_unix(
        &self,
        m: u32,
        path: &[u8],
        sock_type: i32,
        fd_in: Option<OwnedFd>,
    ) -> Result<Option<OwnedFd>, Errno> {
        let target = self.object(m, path, true)?;
        let st = sys::fstat(target.as_fd())?;
        if file_type(&st) != libc::S_IFSOCK {
            return Err(Errno::ECONNREFUSED);
        }
        let (sock, created) = self.unix_socket(sock_type, fd_in)?;
        // The gofer must never block: connect non-blocking and restore the mode afterwards.
        let was_nonblock = get_nonblock(sock.as_fd())?;
        if !was_nonblock {
            set_nonblock(sock.as_fd(), true)?;
        }
        // Connect through /proc/self/fd/N: the kernel follows the magic link to the socket
        // inode we resolved, never a path from the request.
        let p = self.proc_path(target.as_fd());
        let (addr, len) = sockaddr_un(p.as_cstr().to_bytes())?;
        // SAFETY: addr is a valid sockaddr_un of `len` bytes.
        let r = unsafe {
            libc::connect(
                sock.as_raw_fd(),
                &addr as *const libc::sockaddr_un as *const libc::sockaddr,
                len,
            )
        };
        let res = Errno::result(r);
        if !was_nonblock {
            set_nonblock(sock.as_fd(), false)?;
        }
        res?;
        Ok(created.then_some(sock))
    }
}

/// "/proc/self/fd/N" as a C string.
struct ProcPath {
    buf: [u8; 32],
}

impl ProcPath {
    fn new(fd: RawFd) -> ProcPath {
        let mut buf = [0u8; 32];
        let prefix = b"/proc/self/fd/";
        buf[..prefix.len()].copy_from_slice(prefix);
        let n = FdName::new(fd);
        let digits = n.as_cstr().to_bytes();
        buf[prefix.len()..prefix.len() + digits.len()].copy_from_slice(digits);
        ProcPath { buf }
    }
    fn as_cstr(&self) -> &CStr {
        CStr::from_bytes_until_nul(&self.buf).unwrap_or(c"/")
    }
}

fn sockaddr_un(path: &[u8]) -> Result<(libc::sockaddr_un, libc::socklen_t), Errno> {
    // SAFETY: all-zero is a valid sockaddr_un.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if path.len() >= addr.sun_path.len() {
        return Err(Errno::ENAMETOOLONG);
    }
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, s) in addr.sun_path.iter_mut().zip(path) {
        *d = *s as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + path.len() + 1;
    Ok((addr, len as libc::socklen_t))
}

fn readlinkat(dir: BorrowedFd<'_>, name: &CStr, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: NUL-terminated name; buf is writable for its length.
    let r = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
        )
    };
    Errno::result(r).map(|n| n as usize)
}

fn get_nonblock(fd: BorrowedFd<'_>) -> Result<bool, Errno> {
    // SAFETY: F_GETFL on a live fd.
    let fl = Errno::result(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })?;
    Ok(fl & libc::O_NONBLOCK != 0)
}

/// The mode a file the sandbox makes or changes may have on the host: never set-user-ID,
/// and set-group-ID only on a directory (where it makes new entries take its group). A
/// host user running a file of the sandbox's gets no identity of the gofer's.
pub fn host_mode(mode: u32, is_dir: bool) -> u32 {
    let mode = mode & 0o7777;
    if is_dir {
        mode & !libc::S_ISUID
    } else {
        mode & !(libc::S_ISUID | libc::S_ISGID)
    }
}

/// Attributes that hold privilege on the host (file capabilities, security labels) or
/// belong to the administrator (`trusted.*`): never written for the sandbox.
pub fn privileged_xattr(name: &[u8]) -> bool {
    name.starts_with(b"security.") || name.starts_with(b"trusted.")
}

/// Clears O_NONBLOCK of `fd`, opened with `flags`, in one call: F_SETFL changes only
/// O_APPEND, O_ASYNC, O_DIRECT, O_NOATIME and O_NONBLOCK, and the rest are set back as the
/// open set them.
fn clear_nonblock(fd: BorrowedFd<'_>, flags: i32) -> Result<(), Errno> {
    // SAFETY: F_SETFL on a live fd with a plain integer.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK) })?;
    Ok(())
}

fn set_nonblock(fd: BorrowedFd<'_>, on: bool) -> Result<(), Errno> {
    // SAFETY: F_GETFL/F_SETFL on a live fd.
    let fl = Errno::result(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })?;
    let new = if on {
        fl | libc::O_NONBLOCK
    } else {
        fl & !libc::O_NONBLOCK
    };
    if new != fl {
        // SAFETY: as above.
        cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, new) })?;
    }
    Ok(())
}

/// ELOOP for an `O_PATH` fd of a procfs symlink (a magic link such as /proc/self/root).
fn refuse_magic_link(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    let st = sys::fstat(fd)?;
    if file_type(&st) == libc::S_IFLNK {
        let fs = sys::fstatfs(fd)?;
        if fs.f_type == PROC_SUPER_MAGIC {
            return Err(Errno::ELOOP);
        }
    }
    Ok(())
}

/// Device nodes are never the sandbox's to change: every mount is `nodev`, and a device
/// reached through a mount (a rootfs of `/`, say) keeps its owner, mode, times and
/// attributes whatever the sandbox asks.
fn refuse_device(fd: &OwnedFd) -> Result<(), Errno> {
    let st = crate::sys::fstat(fd.as_fd())?;
    let kind = st.st_mode & libc::S_IFMT;
    if kind == libc::S_IFCHR || kind == libc::S_IFBLK {
        return Err(Errno::EPERM);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_paths() {
        let s = split(b"a/b/c");
        assert_eq!(
            (s.parent, s.last, s.kind, s.trailing_slash),
            (&b"a/b"[..], &b"c"[..], Last::Name, false)
        );
        let s = split(b"c//");
        assert_eq!(
            (s.parent, s.last, s.kind, s.trailing_slash),
            (&b""[..], &b"c//"[..], Last::Name, true)
        );
        let s = split(b"/x");
        assert_eq!(
            (s.parent, s.last, s.kind),
            (&b""[..], &b"x"[..], Last::Name)
        );
        assert_eq!(split(b"").kind, Last::Root);
        assert_eq!(split(b"///").kind, Last::Root);
        assert_eq!(split(b"a/..").kind, Last::DotDot);
        assert_eq!(split(b"a/./").kind, Last::Dot);
        let s = split(b"a//b");
        assert_eq!((s.parent, s.last), (&b"a/"[..], &b"b"[..]));
    }

    #[test]
    fn handshake_comes_first() {
        let proc_fd = sys::openat2(
            // SAFETY: AT_FDCWD is a valid directory argument for *at calls.
            unsafe { BorrowedFd::borrow_raw(libc::AT_FDCWD) },
            c"/proc/self/fd",
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            0,
        )
        .unwrap();
        let mut s = Server::new(Vec::new(), proc_fd);
        let stat = Request::Stat {
            mount: 0,
            path: b"",
            follow: true,
        };
        let code = |r: Reply<'_>| match r.response {
            Response::Error(e) => Err(e),
            Response::Version(v) => Ok(v),
            other => panic!("{other:?}"),
        };
        assert_eq!(code(s.handle(stat, None)), Err(Errno::EPROTO));
        assert_eq!(
            code(s.handle(
                Request::Hello {
                    version: VERSION + 1
                },
                None
            )),
            Err(Errno::EPROTONOSUPPORT)
        );
        assert_eq!(code(s.handle(stat, None)), Err(Errno::EPROTO));
        assert_eq!(
            code(s.handle(Request::Hello { version: VERSION }, None)),
            Ok(VERSION)
        );
        // No such mount.
        assert_eq!(code(s.handle(stat, None)), Err(Errno::EINVAL));
    }

    #[test]
    fn fd_names() {
        assert_eq!(FdName::new(0).as_cstr(), c"0");
        assert_eq!(FdName::new(1234).as_cstr(), c"1234");
        assert_eq!(ProcPath::new(57).as_cstr(), c"/proc/self/fd/57");
    }
}

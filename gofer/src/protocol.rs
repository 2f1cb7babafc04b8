//! The gofer wire protocol: typed requests and responses, encoded by hand into compact frames.
//!
//! Transport: one `SOCK_SEQPACKET` Unix socket pair; one request or response per packet; at most
//! one file descriptor per packet, passed with `SCM_RIGHTS`. All integers are little-endian.
//! A response that carries an fd is followed by one packet of the byte [`FD_RELEASED`], sent
//! once the gofer has closed its own copy: until then the file is still open in the gofer,
//! and a task that got it and closed it would find it held (a read lease refused, an exec of
//! a file just written failing with ETXTBSY).
//!
//! Request frame:  `len:u32 seq:u32 op:u16 reserved:u16` then the op's fields.
//! Response frame: `len:u32 seq:u32 tag:u16 reserved:u16` then the tag's fields.
//!
//! `len` is the whole frame length (header included) and must equal the packet length. `seq` is
//! chosen by the client and echoed by the gofer. Byte strings (paths, names, values) are
//! `len:u32` followed by the bytes. Every failure is a [`Response::Error`] carrying an errno.
//!
//! The first request on a connection must be [`Request::Hello`] with [`VERSION`]; the gofer
//! answers [`Response::Version`] or `EPROTONOSUPPORT`, and refuses anything else before it with
//! `EPROTO`.

use nix::errno::Errno;

/// Protocol version; bumped on any incompatible change of a frame.
pub const VERSION: u32 = 2;

/// The packet after a response with an fd: the gofer's copy is closed.
pub const FD_RELEASED: u8 = 0xfd;
/// Largest frame either side sends or accepts (an xattr value of 64 KiB plus two paths fit).
pub const MAX_FRAME: usize = 80 * 1024;
/// Size of the fixed header of every frame.
pub const HEADER_LEN: usize = 12;
/// Longest path accepted, in bytes, without the terminating NUL (Linux: PATH_MAX - 1).
pub const MAX_PATH: usize = 4095;
/// Longest xattr name (Linux XATTR_NAME_MAX).
pub const XATTR_NAME_MAX: usize = 255;
/// Largest xattr value or list (Linux XATTR_SIZE_MAX / XATTR_LIST_MAX).
pub const XATTR_SIZE_MAX: usize = 65536;

/// A timestamp for [`Request::Utimens`]; `nsec` may be `UTIME_NOW` or `UTIME_OMIT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Timespec {
    pub sec: i64,
    pub nsec: i64,
}

/// `struct statfs` exactly as the x86_64 kernel lays it out (120 bytes), including `f_flags`,
/// which glibc's and libc's `struct statfs` do not name. The sentry can copy it to a task as is.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct StatFs {
    pub f_type: i64,
    pub f_bsize: i64,
    pub f_blocks: u64,
    pub f_bfree: u64,
    pub f_bavail: u64,
    pub f_files: u64,
    pub f_ffree: u64,
    pub f_fsid: [i32; 2],
    pub f_namelen: i64,
    pub f_frsize: i64,
    pub f_flags: i64,
    pub f_spare: [i64; 4],
}

impl StatFs {
    /// The kernel's byte image of this `struct statfs` (what `statfs(2)` writes).
    pub fn to_kernel_bytes(&self) -> [u8; 120] {
        let mut out = [0u8; 120];
        let mut w = Writer::slice(&mut out);
        w.i64(self.f_type);
        w.i64(self.f_bsize);
        for v in [
            self.f_blocks,
            self.f_bfree,
            self.f_bavail,
            self.f_files,
            self.f_ffree,
        ] {
            w.u64(v);
        }
        w.i32(self.f_fsid[0]);
        w.i32(self.f_fsid[1]);
        w.i64(self.f_namelen);
        w.i64(self.f_frsize);
        w.i64(self.f_flags);
        for s in self.f_spare {
            w.i64(s);
        }
        out
    }
}

/// Operation codes of requests.
#[repr(u16)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Hello = 1,
    Open = 2,
    Stat = 3,
    Statx = 4,
    Access = 5,
    Readlink = 6,
    Mkdir = 7,
    Mknod = 8,
    Unlink = 9,
    Rename = 10,
    Link = 11,
    Symlink = 12,
    Chmod = 13,
    Chown = 14,
    Utimens = 15,
    Truncate = 16,
    Statfs = 17,
    Getxattr = 18,
    Setxattr = 19,
    Listxattr = 20,
    Removexattr = 21,
    BindUnix = 22,
    ConnectUnix = 23,
    OpenExec = 24,
}

impl Op {
    fn from_u16(v: u16) -> Option<Op> {
        use Op::*;
        const ALL: [Op; 24] = [
            Hello,
            Open,
            Stat,
            Statx,
            Access,
            Readlink,
            Mkdir,
            Mknod,
            Unlink,
            Rename,
            Link,
            Symlink,
            Chmod,
            Chown,
            Utimens,
            Truncate,
            Statfs,
            Getxattr,
            Setxattr,
            Listxattr,
            Removexattr,
            BindUnix,
            ConnectUnix,
            OpenExec,
        ];
        ALL.iter().copied().find(|op| *op as u16 == v)
    }
}

/// A request. Every file request names a mount (its index in the gofer's mount list) and a path
/// relative to that mount's root; the empty path names the root itself. Paths are bytes without
/// NUL. Nothing leaves the mount root: in the first mount a leading `/` or `..` stops at its
/// root (`RESOLVE_IN_ROOT`); a symlink that leads out of any other mount, or a lookup in the
/// first one that failed after a symlink, is answered EREMOTE, for the caller to follow the
/// links across its mounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// First message: the client's protocol version.
    Hello { version: u32 },
    /// `openat(2)` flags and mode → an fd. Character and block devices are refused (EACCES, as
    /// on a `nodev` mount). A FIFO never blocks the gofer: with O_NONBLOCK or O_RDWR it is
    /// opened so; otherwise the answer is an O_PATH fd of it, for the caller to open (an
    /// open that waits for the other end).
    Open {
        mount: u32,
        path: &'a [u8],
        flags: i32,
        mode: u32,
    },
    /// What execve needs of a program: the regular file at the path (links followed) that
    /// the caller may execute, opened read-only → [`Response::Fd`]; EACCES for any other
    /// file, as execve gives. One walk where a stat, an access and an open took three.
    OpenExec { mount: u32, path: &'a [u8] },
    /// `stat`/`lstat` → [`Response::Stat`].
    Stat {
        mount: u32,
        path: &'a [u8],
        follow: bool,
    },
    /// `statx(2)`; `flags` may hold `AT_STATX_*` sync bits → [`Response::Statx`].
    Statx {
        mount: u32,
        path: &'a [u8],
        follow: bool,
        flags: i32,
        mask: u32,
    },
    /// `faccessat2(2)`; `flags` may hold `AT_EACCESS` and `AT_SYMLINK_NOFOLLOW`.
    Access {
        mount: u32,
        path: &'a [u8],
        mode: i32,
        flags: i32,
    },
    /// `readlink(2)` → [`Response::Bytes`] (the whole target).
    Readlink { mount: u32, path: &'a [u8] },
    Mkdir {
        mount: u32,
        path: &'a [u8],
        mode: u32,
    },
    /// Regular files, FIFOs and sockets only; devices and whiteouts get EPERM.
    Mknod {
        mount: u32,
        path: &'a [u8],
        mode: u32,
        dev: u64,
    },
    /// `unlinkat(2)`; `flags` may hold `AT_REMOVEDIR`.
    Unlink {
        mount: u32,
        path: &'a [u8],
        flags: i32,
    },
    /// `renameat2(2)`; different mounts give EXDEV; `RENAME_WHITEOUT` gives EPERM.
    Rename {
        mount: u32,
        path: &'a [u8],
        to_mount: u32,
        to_path: &'a [u8],
        flags: u32,
    },
    /// `linkat(2)` from (mount, path) to (to_mount, to_path); `follow` = `AT_SYMLINK_FOLLOW`.
    Link {
        mount: u32,
        path: &'a [u8],
        to_mount: u32,
        to_path: &'a [u8],
        follow: bool,
    },
    /// `symlink(target, path)`.
    Symlink {
        mount: u32,
        path: &'a [u8],
        target: &'a [u8],
    },
    Chmod {
        mount: u32,
        path: &'a [u8],
        mode: u32,
    },
    /// `uid`/`gid` of `u32::MAX` (-1) leave that id unchanged.
    Chown {
        mount: u32,
        path: &'a [u8],
        uid: u32,
        gid: u32,
        follow: bool,
    },
    /// `times: None` sets both to now (as `utimensat(.., NULL, ..)`).
    Utimens {
        mount: u32,
        path: &'a [u8],
        times: Option<[Timespec; 2]>,
        follow: bool,
    },
    Truncate {
        mount: u32,
        path: &'a [u8],
        len: i64,
    },
    /// → [`Response::Statfs`].
    Statfs { mount: u32, path: &'a [u8] },
    /// `size == 0` asks for the value's size ([`Response::Size`]); otherwise the value
    /// ([`Response::Bytes`]) or ERANGE if it is longer than `size`.
    Getxattr {
        mount: u32,
        path: &'a [u8],
        name: &'a [u8],
        size: u32,
        follow: bool,
    },
    Setxattr {
        mount: u32,
        path: &'a [u8],
        name: &'a [u8],
        value: &'a [u8],
        flags: i32,
        follow: bool,
    },
    /// As [`Request::Getxattr`], for the NUL-separated name list.
    Listxattr {
        mount: u32,
        path: &'a [u8],
        size: u32,
        follow: bool,
    },
    Removexattr {
        mount: u32,
        path: &'a [u8],
        name: &'a [u8],
        follow: bool,
    },
    /// Bind an AF_UNIX socket at the path. Without an fd in the packet the gofer creates a socket
    /// of `sock_type` (`SOCK_*` | `SOCK_NONBLOCK` | `SOCK_CLOEXEC`) and returns it
    /// ([`Response::Fd`]); with one (an AF_UNIX socket) it binds that socket ([`Response::Unit`]).
    BindUnix {
        mount: u32,
        path: &'a [u8],
        sock_type: i32,
    },
    /// Connect an AF_UNIX socket to the socket file at the path; fd handling as `BindUnix`.
    ConnectUnix {
        mount: u32,
        path: &'a [u8],
        sock_type: i32,
    },
}

/// A response. [`Response::Fd`] travels with exactly one fd in `SCM_RIGHTS`.
#[derive(Clone, Copy)]
pub enum Response<'a> {
    Error(Errno),
    Version(u32),
    Unit,
    Fd,
    Stat(libc::stat),
    Statx(libc::statx),
    Statfs(StatFs),
    Bytes(&'a [u8]),
    Size(u64),
}

impl std::fmt::Debug for Response<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Response::Error(e) => write!(f, "Error({e:?})"),
            Response::Version(v) => write!(f, "Version({v})"),
            Response::Unit => write!(f, "Unit"),
            Response::Fd => write!(f, "Fd"),
            Response::Stat(s) => write!(f, "Stat(mode={:o}, ino={})", s.st_mode, s.st_ino),
            Response::Statx(s) => write!(f, "Statx(mode={:o}, ino={})", s.stx_mode, s.stx_ino),
            Response::Statfs(s) => write!(f, "{s:?}"),
            Response::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Response::Size(n) => write!(f, "Size({n})"),
        }
    }
}

#[repr(u16)]
enum Tag {
    Error = 1,
    Version = 2,
    Unit = 3,
    Fd = 4,
    Stat = 5,
    Statx = 6,
    Statfs = 7,
    Bytes = 8,
    Size = 9,
}

// ---------------------------------------------------------------------------------------------
// Writer / Reader

/// Appends little-endian fields to a buffer: a reusable `Vec` or a fixed slice.
pub struct Writer<'b> {
    buf: WriterBuf<'b>,
}

enum WriterBuf<'b> {
    Vec(&'b mut Vec<u8>),
    Slice(&'b mut [u8], usize),
}

impl<'b> Writer<'b> {
    fn vec(v: &'b mut Vec<u8>) -> Self {
        Writer {
            buf: WriterBuf::Vec(v),
        }
    }
    fn slice(s: &'b mut [u8]) -> Self {
        Writer {
            buf: WriterBuf::Slice(s, 0),
        }
    }
    fn put(&mut self, b: &[u8]) {
        match &mut self.buf {
            WriterBuf::Vec(v) => v.extend_from_slice(b),
            WriterBuf::Slice(s, pos) => {
                // Only used for fixed layouts whose size is known at compile time.
                let end = (*pos + b.len()).min(s.len());
                s[*pos..end].copy_from_slice(&b[..end - *pos]);
                *pos = end;
            }
        }
    }
    fn u8(&mut self, v: u8) {
        self.put(&[v]);
    }
    fn u16(&mut self, v: u16) {
        self.put(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.put(&v.to_le_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.put(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.put(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.put(&v.to_le_bytes());
    }
    fn bool(&mut self, v: bool) {
        self.u8(v as u8);
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.put(b);
    }
}

/// Reads little-endian fields; every shortfall is `EPROTO`.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Errno> {
        let end = self.pos.checked_add(n).ok_or(Errno::EPROTO)?;
        let s = self.buf.get(self.pos..end).ok_or(Errno::EPROTO)?;
        self.pos = end;
        Ok(s)
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], Errno> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, Errno> {
        Ok(self.arr::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, Errno> {
        Ok(u16::from_le_bytes(self.arr()?))
    }
    fn u32(&mut self) -> Result<u32, Errno> {
        Ok(u32::from_le_bytes(self.arr()?))
    }
    fn i32(&mut self) -> Result<i32, Errno> {
        Ok(i32::from_le_bytes(self.arr()?))
    }
    fn u64(&mut self) -> Result<u64, Errno> {
        Ok(u64::from_le_bytes(self.arr()?))
    }
    fn i64(&mut self) -> Result<i64, Errno> {
        Ok(i64::from_le_bytes(self.arr()?))
    }
    fn bool(&mut self) -> Result<bool, Errno> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Errno::EPROTO),
        }
    }
    fn bytes(&mut self, max: usize) -> Result<&'a [u8], Errno> {
        let n = self.u32()? as usize;
        if n > max {
            // Well-formed but too long for the call: the kernel's answer.
            self.take(n)?;
            return Err(Errno::ENAMETOOLONG);
        }
        self.take(n)
    }
    fn path(&mut self) -> Result<&'a [u8], Errno> {
        self.bytes(MAX_PATH)
    }
    fn end(&self) -> Result<(), Errno> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(Errno::EPROTO)
        }
    }
}

fn header(w: &mut Writer<'_>, seq: u32, code: u16) {
    w.u32(0); // patched once the frame is complete
    w.u32(seq);
    w.u16(code);
    w.u16(0);
}

fn patch_len(buf: &mut [u8]) {
    let len = buf.len() as u32;
    buf[..4].copy_from_slice(&len.to_le_bytes());
}

/// Splits a frame into (seq, code, body) after checking its length field.
fn split_header(frame: &[u8]) -> Result<(u32, u16, &[u8]), Errno> {
    if frame.len() < HEADER_LEN || frame.len() > MAX_FRAME {
        return Err(Errno::EPROTO);
    }
    let mut r = Reader { buf: frame, pos: 0 };
    let len = r.u32()? as usize;
    let seq = r.u32()?;
    let code = r.u16()?;
    let reserved = r.u16()?;
    if len != frame.len() || reserved != 0 {
        return Err(Errno::EPROTO);
    }
    Ok((seq, code, &frame[HEADER_LEN..]))
}

/// The sequence number of a frame, if its header is readable (to answer a malformed request).
pub fn frame_seq(frame: &[u8]) -> u32 {
    match frame.get(4..8) {
        Some(b) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        None => 0,
    }
}

// ---------------------------------------------------------------------------------------------
// Requests

impl<'a> Request<'a> {
    pub fn op(&self) -> Op {
        match self {
            Request::Hello { .. } => Op::Hello,
            Request::Open { .. } => Op::Open,
            Request::OpenExec { .. } => Op::OpenExec,
            Request::Stat { .. } => Op::Stat,
            Request::Statx { .. } => Op::Statx,
            Request::Access { .. } => Op::Access,
            Request::Readlink { .. } => Op::Readlink,
            Request::Mkdir { .. } => Op::Mkdir,
            Request::Mknod { .. } => Op::Mknod,
            Request::Unlink { .. } => Op::Unlink,
            Request::Rename { .. } => Op::Rename,
            Request::Link { .. } => Op::Link,
            Request::Symlink { .. } => Op::Symlink,
            Request::Chmod { .. } => Op::Chmod,
            Request::Chown { .. } => Op::Chown,
            Request::Utimens { .. } => Op::Utimens,
            Request::Truncate { .. } => Op::Truncate,
            Request::Statfs { .. } => Op::Statfs,
            Request::Getxattr { .. } => Op::Getxattr,
            Request::Setxattr { .. } => Op::Setxattr,
            Request::Listxattr { .. } => Op::Listxattr,
            Request::Removexattr { .. } => Op::Removexattr,
            Request::BindUnix { .. } => Op::BindUnix,
            Request::ConnectUnix { .. } => Op::ConnectUnix,
        }
    }

    /// Encodes the request into `buf` (cleared first; its capacity is reused).
    pub fn encode(&self, seq: u32, buf: &mut Vec<u8>) {
        buf.clear();
        let mut w = Writer::vec(buf);
        header(&mut w, seq, self.op() as u16);
        match *self {
            Request::Hello { version } => w.u32(version),
            Request::OpenExec { mount, path } => {
                w.u32(mount);
                w.bytes(path);
            }
            Request::Open {
                mount,
                path,
                flags,
                mode,
            } => {
                w.u32(mount);
                w.bytes(path);
                w.i32(flags);
                w.u32(mode);
            }
            Request::Stat {
                mount,
                path,
                follow,
            } => {
                w.u32(mount);
                w.bytes(path);
                w.bool(follow);
            }
            Request::Statx {
                mount,
                path,
                follow,
                flags,
                mask,
            } => {
                w.u32(mount);
                w.bytes(path);
                w.bool(follow);
                w.i32(flags);
                w.u32(mask);
            }
            Request::Access {
                mount,
                path,
                mode,
                flags,
            } => {
                w.u32(mount);
                w.bytes(path);
                w.i32(mode);
                w.i32(flags);
            }
            Request::Readlink { mount, path } | Request::Statfs { mount, path } => {
                w.u32(mount);
                w.bytes(path);
            }
            Request::Mkdir { mount, path, mode } | Request::Chmod { mount, path, mode } => {
                w.u32(mount);
                w.bytes(path);
                w.u32(mode);
            }
            Request::Mknod {
                mount,
                path,
                mode,
                dev,
            } => {
                w.u32(mount);
                w.bytes(path);
                w.u32(mode);
                w.u64(dev);
            }
            Request::Unlink { mount, path, flags } => {
                w.u32(mount);
                w.bytes(path);
                w.i32(flags);
            }
            Request::Rename {
                mount,
                path,
                to_mount,
                to_path,
                flags,
            } => {
                w.u32(mount);
                w.bytes(path);
                w.u32(to_mount);
                w.bytes(to_path);
                w.u32(flags);
            }
            Request::Link {
                mount,
                path,
                to_mount,
                to_path,
                follow,
            } => {
                w.u32(mount);
                w.bytes(path);
                w.u32(to_mount);
                w.bytes(to_path);
                w.bool(follow);
            }
            Request::Symlink {
                mount,
                path,
                target,
            } => {
                w.u32(mount);
                w.bytes(path);
                w.bytes(target);
            }
            Request::Chown {
                mount,
                path,
                uid,
                gid,
                follow,
            } => {
                w.u32(mount);
                w.bytes(path);
                w.u32(uid);
                w.u32(gid);
                w.bool(follow);
            }
            Request::Utimens {
                mount,
                path,
                times,
                follow,
            } => {
                w.u32(mount);
                w.bytes(path);
                match times {
                    None => w.u8(0),
                    Some(t) => {
                        w.u8(1);
                        for ts in t {
                            w.i64(ts.sec);
                            w.i64(ts.nsec);
                        }
                    }
                }
                w.bool(follow);
            }
            Request::Truncate { mount, path, len } => {
                w.u32(mount);
                w.bytes(path);
                w.i64(len);
            }
            Request::Getxattr {
                mount,
                path,
                name,
                size,
                follow,
            } => {
                w.u32(mount);
                w.bytes(path);
                w.bytes(name);
                w.u32(size);
                w.bool(follow);
            }
            Request::Setxattr {
                mount,
                path,
                name,
                value,
                flags,
                follow,
            } => {
                w.u32(mount);
                w.bytes(path);
                w.bytes(name);
                w.bytes(value);
                w.i32(flags);
                w.bool(follow);
            }
            Request::Listxattr {
                mount,
                path,
                size,
                follow,
            } => {
                w.u32(mount);
                w.bytes(path);
                w.u32(size);
                w.bool(follow);
            }
            Request::Removexattr {
                mount,
                path,
                name,
                follow,
            } => {
                w.u32(mount);
                w.bytes(path);
                w.bytes(name);
                w.bool(follow);
            }
            Request::BindUnix {
                mount,
                path,
                sock_type,
            }
            | Request::ConnectUnix {
                mount,
                path,
                sock_type,
            } => {
                w.u32(mount);
                w.bytes(path);
                w.i32(sock_type);
            }
        }
        patch_len(buf);
    }

    /// Decodes a request frame into (seq, request). Malformed frames give `EPROTO`; over-long
    /// strings give `ENAMETOOLONG` (paths, names) or `E2BIG` (xattr values).
    pub fn decode(frame: &'a [u8]) -> Result<(u32, Request<'a>), Errno> {
        let (seq, code, body) = split_header(frame)?;
        let op = Op::from_u16(code).ok_or(Errno::EPROTO)?;
        let mut r = Reader { buf: body, pos: 0 };
        let req = match op {
            Op::Hello => Request::Hello { version: r.u32()? },
            Op::Open => Request::Open {
                mount: r.u32()?,
                path: r.path()?,
                flags: r.i32()?,
                mode: r.u32()?,
            },
            Op::OpenExec => Request::OpenExec {
                mount: r.u32()?,
                path: r.path()?,
            },
            Op::Stat => Request::Stat {
                mount: r.u32()?,
                path: r.path()?,
                follow: r.bool()?,
            },
            Op::Statx => Request::Statx {
                mount: r.u32()?,
                path: r.path()?,
                follow: r.bool()?,
                flags: r.i32()?,
                mask: r.u32()?,
            },
            Op::Access => Request::Access {
                mount: r.u32()?,
                path: r.path()?,
                mode: r.i32()?,
                flags: r.i32()?,
            },
            Op::Readlink => Request::Readlink {
                mount: r.u32()?,
                path: r.path()?,
            },
            Op::Statfs => Request::Statfs {
                mount: r.u32()?,
                path: r.path()?,
            },
            Op::Mkdir => Request::Mkdir {
                mount: r.u32()?,
                path: r.path()?,
                mode: r.u32()?,
            },
            Op::Chmod => Request::Chmod {
                mount: r.u32()?,
                path: r.path()?,
                mode: r.u32()?,
            },
            Op::Mknod => Request::Mknod {
                mount: r.u32()?,
                path: r.path()?,
                mode: r.u32()?,
                dev: r.u64()?,
            },
            Op::Unlink => Request::Unlink {
                mount: r.u32()?,
                path: r.path()?,
                flags: r.i32()?,
            },
            Op::Rename => Request::Rename {
                mount: r.u32()?,
                path: r.path()?,
                to_mount: r.u32()?,
                to_path: r.path()?,
                flags: r.u32()?,
            },
            Op::Link => Request::Link {
                mount: r.u32()?,
                path: r.path()?,
                to_mount: r.u32()?,
                to_path: r.path()?,
                follow: r.bool()?,
            },
            Op::Symlink => Request::Symlink {
                mount: r.u32()?,
                path: r.path()?,
                target: r.path()?,
            },
            Op::Chown => Request::Chown {
                mount: r.u32()?,
                path: r.path()?,
                uid: r.u32()?,
                gid: r.u32()?,
                follow: r.bool()?,
            },
            Op::Utimens => {
                let mount = r.u32()?;
                let path = r.path()?;
                let times = match r.u8()? {
                    0 => None,
                    1 => {
                        let a = Timespec {
                            sec: r.i64()?,
                            nsec: r.i64()?,
                        };
                        let m = Timespec {
                            sec: r.i64()?,
                            nsec: r.i64()?,
                        };
                        Some([a, m])
                    }
                    _ => return Err(Errno::EPROTO),
                };
                Request::Utimens {
                    mount,
                    path,
                    times,
                    follow: r.bool()?,
                }
            }
            Op::Truncate => Request::Truncate {
                mount: r.u32()?,
                path: r.path()?,
                len: r.i64()?,
            },
            Op::Getxattr => Request::Getxattr {
                mount: r.u32()?,
                path: r.path()?,
                name: xattr_name(&mut r)?,
                size: r.u32()?,
                follow: r.bool()?,
            },
            Op::Setxattr => Request::Setxattr {
                mount: r.u32()?,
                path: r.path()?,
                name: xattr_name(&mut r)?,
                value: xattr_value(&mut r)?,
                flags: r.i32()?,
                follow: r.bool()?,
            },
            Op::Listxattr => Request::Listxattr {
                mount: r.u32()?,
                path: r.path()?,
                size: r.u32()?,
                follow: r.bool()?,
            },
            Op::Removexattr => Request::Removexattr {
                mount: r.u32()?,
                path: r.path()?,
                name: xattr_name(&mut r)?,
                follow: r.bool()?,
            },
            Op::BindUnix => Request::BindUnix {
                mount: r.u32()?,
                path: r.path()?,
                sock_type: r.i32()?,
            },
            Op::ConnectUnix => Request::ConnectUnix {
                mount: r.u32()?,
                path: r.path()?,
                sock_type: r.i32()?,
            },
        };
        r.end()?;
        Ok((seq, req))
    }
}

fn xattr_name<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], Errno> {
    // Linux: a name longer than XATTR_NAME_MAX is ERANGE.
    r.bytes(XATTR_NAME_MAX).map_err(|e| {
        if e == Errno::ENAMETOOLONG {
            Errno::ERANGE
        } else {
            e
        }
    })
}

fn xattr_value<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], Errno> {
    r.bytes(XATTR_SIZE_MAX).map_err(|e| {
        if e == Errno::ENAMETOOLONG {
            Errno::E2BIG
        } else {
            e
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Responses

impl<'a> Response<'a> {
    /// Encodes the response into `buf` (cleared first).
    pub fn encode(&self, seq: u32, buf: &mut Vec<u8>) {
        buf.clear();
        let mut w = Writer::vec(buf);
        match *self {
            Response::Error(e) => {
                header(&mut w, seq, Tag::Error as u16);
                w.i32(e as i32);
            }
            Response::Version(v) => {
                header(&mut w, seq, Tag::Version as u16);
                w.u32(v);
            }
            Response::Unit => header(&mut w, seq, Tag::Unit as u16),
            Response::Fd => header(&mut w, seq, Tag::Fd as u16),
            Response::Stat(ref st) => {
                header(&mut w, seq, Tag::Stat as u16);
                put_stat(&mut w, st);
            }
            Response::Statx(ref stx) => {
                header(&mut w, seq, Tag::Statx as u16);
                put_statx(&mut w, stx);
            }
            Response::Statfs(ref s) => {
                header(&mut w, seq, Tag::Statfs as u16);
                w.put(&s.to_kernel_bytes());
            }
            Response::Bytes(b) => {
                header(&mut w, seq, Tag::Bytes as u16);
                w.bytes(b);
            }
            Response::Size(n) => {
                header(&mut w, seq, Tag::Size as u16);
                w.u64(n);
            }
        }
        patch_len(buf);
    }

    /// Decodes a response frame into (seq, response).
    pub fn decode(frame: &'a [u8]) -> Result<(u32, Response<'a>), Errno> {
        let (seq, code, body) = split_header(frame)?;
        let mut r = Reader { buf: body, pos: 0 };
        let resp = match code {
            c if c == Tag::Error as u16 => {
                let e = r.i32()?;
                if e <= 0 {
                    return Err(Errno::EPROTO);
                }
                Response::Error(Errno::from_raw(e))
            }
            c if c == Tag::Version as u16 => Response::Version(r.u32()?),
            c if c == Tag::Unit as u16 => Response::Unit,
            c if c == Tag::Fd as u16 => Response::Fd,
            c if c == Tag::Stat as u16 => Response::Stat(get_stat(&mut r)?),
            c if c == Tag::Statx as u16 => Response::Statx(get_statx(&mut r)?),
            c if c == Tag::Statfs as u16 => Response::Statfs(get_statfs(&mut r)?),
            c if c == Tag::Bytes as u16 => Response::Bytes(r.bytes(MAX_FRAME)?),
            c if c == Tag::Size as u16 => Response::Size(r.u64()?),
            _ => return Err(Errno::EPROTO),
        };
        r.end()?;
        Ok((seq, resp))
    }
}

fn put_stat(w: &mut Writer<'_>, st: &libc::stat) {
    w.u64(st.st_dev);
    w.u64(st.st_ino);
    w.u64(st.st_nlink);
    w.u32(st.st_mode);
    w.u32(st.st_uid);
    w.u32(st.st_gid);
    w.u64(st.st_rdev);
    w.i64(st.st_size);
    w.i64(st.st_blksize);
    w.i64(st.st_blocks);
    for (s, ns) in [
        (st.st_atime, st.st_atime_nsec),
        (st.st_mtime, st.st_mtime_nsec),
        (st.st_ctime, st.st_ctime_nsec),
    ] {
        w.i64(s);
        w.i64(ns);
    }
}

fn get_stat(r: &mut Reader<'_>) -> Result<libc::stat, Errno> {
    // SAFETY: `libc::stat` is plain old data; all-zero is a valid value (private padding too).
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    st.st_dev = r.u64()?;
    st.st_ino = r.u64()?;
    st.st_nlink = r.u64()?;
    st.st_mode = r.u32()?;
    st.st_uid = r.u32()?;
    st.st_gid = r.u32()?;
    st.st_rdev = r.u64()?;
    st.st_size = r.i64()?;
    st.st_blksize = r.i64()?;
    st.st_blocks = r.i64()?;
    st.st_atime = r.i64()?;
    st.st_atime_nsec = r.i64()?;
    st.st_mtime = r.i64()?;
    st.st_mtime_nsec = r.i64()?;
    st.st_ctime = r.i64()?;
    st.st_ctime_nsec = r.i64()?;
    Ok(st)
}

fn put_statx(w: &mut Writer<'_>, s: &libc::statx) {
    w.u32(s.stx_mask);
    w.u32(s.stx_blksize);
    w.u64(s.stx_attributes);
    w.u32(s.stx_nlink);
    w.u32(s.stx_uid);
    w.u32(s.stx_gid);
    w.u16(s.stx_mode);
    w.u64(s.stx_ino);
    w.u64(s.stx_size);
    w.u64(s.stx_blocks);
    w.u64(s.stx_attributes_mask);
    for t in [&s.stx_atime, &s.stx_btime, &s.stx_ctime, &s.stx_mtime] {
        w.i64(t.tv_sec);
        w.u32(t.tv_nsec);
    }
    for v in [
        s.stx_rdev_major,
        s.stx_rdev_minor,
        s.stx_dev_major,
        s.stx_dev_minor,
    ] {
        w.u32(v);
    }
    w.u64(s.stx_mnt_id);
    w.u32(s.stx_dio_mem_align);
    w.u32(s.stx_dio_offset_align);
    w.u64(s.stx_subvol);
    w.u32(s.stx_atomic_write_unit_min);
    w.u32(s.stx_atomic_write_unit_max);
    w.u32(s.stx_atomic_write_segments_max);
    w.u32(s.stx_dio_read_offset_align);
    w.u32(s.stx_atomic_write_unit_max_opt);
}

fn get_statx(r: &mut Reader<'_>) -> Result<libc::statx, Errno> {
    // SAFETY: `libc::statx` is plain old data; all-zero is a valid value (private padding too).
    let mut s: libc::statx = unsafe { std::mem::zeroed() };
    s.stx_mask = r.u32()?;
    s.stx_blksize = r.u32()?;
    s.stx_attributes = r.u64()?;
    s.stx_nlink = r.u32()?;
    s.stx_uid = r.u32()?;
    s.stx_gid = r.u32()?;
    s.stx_mode = r.u16()?;
    s.stx_ino = r.u64()?;
    s.stx_size = r.u64()?;
    s.stx_blocks = r.u64()?;
    s.stx_attributes_mask = r.u64()?;
    for t in [
        &mut s.stx_atime,
        &mut s.stx_btime,
        &mut s.stx_ctime,
        &mut s.stx_mtime,
    ] {
        t.tv_sec = r.i64()?;
        t.tv_nsec = r.u32()?;
    }
    s.stx_rdev_major = r.u32()?;
    s.stx_rdev_minor = r.u32()?;
    s.stx_dev_major = r.u32()?;
    s.stx_dev_minor = r.u32()?;
    s.stx_mnt_id = r.u64()?;
    s.stx_dio_mem_align = r.u32()?;
    s.stx_dio_offset_align = r.u32()?;
    s.stx_subvol = r.u64()?;
    s.stx_atomic_write_unit_min = r.u32()?;
    s.stx_atomic_write_unit_max = r.u32()?;
    s.stx_atomic_write_segments_max = r.u32()?;
    s.stx_dio_read_offset_align = r.u32()?;
    s.stx_atomic_write_unit_max_opt = r.u32()?;
    Ok(s)
}

fn get_statfs(r: &mut Reader<'_>) -> Result<StatFs, Errno> {
    Ok(StatFs {
        f_type: r.i64()?,
        f_bsize: r.i64()?,
        f_blocks: r.u64()?,
        f_bfree: r.u64()?,
        f_bavail: r.u64()?,
        f_files: r.u64()?,
        f_ffree: r.u64()?,
        f_fsid: [r.i32()?, r.i32()?],
        f_namelen: r.i64()?,
        f_frsize: r.i64()?,
        f_flags: r.i64()?,
        f_spare: [r.i64()?, r.i64()?, r.i64()?, r.i64()?],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trip() {
        let reqs = [
            Request::Hello { version: VERSION },
            Request::Open {
                mount: 3,
                path: b"a/b",
                flags: libc::O_RDWR,
                mode: 0o644,
            },
            Request::Rename {
                mount: 0,
                path: b"x",
                to_mount: 1,
                to_path: b"y/z",
                flags: 1,
            },
            Request::Utimens {
                mount: 0,
                path: b"f",
                times: Some([Timespec { sec: 1, nsec: 2 }, Timespec { sec: -3, nsec: 4 }]),
                follow: false,
            },
            Request::Setxattr {
                mount: 2,
                path: b"",
                name: b"user.x",
                value: b"v\0v",
                flags: 1,
                follow: true,
            },
            Request::ConnectUnix {
                mount: 0,
                path: b"s",
                sock_type: libc::SOCK_STREAM,
            },
            Request::OpenExec {
                mount: 1,
                path: b"bin/sh",
            },
        ];
        let mut buf = Vec::new();
        for (i, req) in reqs.iter().enumerate() {
            req.encode(i as u32, &mut buf);
            let (seq, back) = Request::decode(&buf).unwrap();
            assert_eq!(seq, i as u32);
            assert_eq!(&back, req);
        }
    }

    #[test]
    fn malformed_requests_are_eproto() {
        let mut buf = Vec::new();
        Request::Stat {
            mount: 0,
            path: b"abc",
            follow: true,
        }
        .encode(7, &mut buf);
        // Truncated frame, wrong length field, trailing garbage, unknown op, bad bool.
        assert_eq!(Request::decode(&buf[..buf.len() - 1]), Err(Errno::EPROTO));
        let mut long = buf.clone();
        long.push(0);
        assert_eq!(Request::decode(&long), Err(Errno::EPROTO));
        patch_len(&mut long);
        assert_eq!(Request::decode(&long), Err(Errno::EPROTO));
        let mut bad_op = buf.clone();
        bad_op[8] = 0xee;
        assert_eq!(Request::decode(&bad_op), Err(Errno::EPROTO));
        let mut bad_bool = buf.clone();
        *bad_bool.last_mut().unwrap() = 2;
        assert_eq!(Request::decode(&bad_bool), Err(Errno::EPROTO));
        assert_eq!(Request::decode(&[1, 2, 3]), Err(Errno::EPROTO));
        // A string length pointing past the end.
        let mut huge = buf.clone();
        huge[16..20].copy_from_slice(&1000u32.to_le_bytes());
        assert_eq!(Request::decode(&huge), Err(Errno::EPROTO));
    }

    #[test]
    fn long_path_is_enametoolong() {
        let path = vec![b'a'; MAX_PATH + 1];
        let mut buf = Vec::new();
        Request::Readlink {
            mount: 0,
            path: &path,
        }
        .encode(1, &mut buf);
        assert_eq!(Request::decode(&buf), Err(Errno::ENAMETOOLONG));
    }

    #[test]
    fn response_round_trip() {
        let mut buf = Vec::new();
        Response::Error(Errno::EROFS).encode(9, &mut buf);
        match Response::decode(&buf).unwrap() {
            (9, Response::Error(e)) => assert_eq!(e, Errno::EROFS),
            other => panic!("{other:?}"),
        }
        // SAFETY: plain old data.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        st.st_ino = 42;
        st.st_mode = libc::S_IFREG | 0o640;
        st.st_mtime_nsec = 5;
        Response::Stat(st).encode(1, &mut buf);
        match Response::decode(&buf).unwrap() {
            (1, Response::Stat(s)) => {
                assert_eq!((s.st_ino, s.st_mode, s.st_mtime_nsec), (42, st.st_mode, 5))
            }
            other => panic!("{other:?}"),
        }
        let fs = StatFs {
            f_type: 0x9fa0,
            f_flags: 33,
            f_fsid: [1, -2],
            ..Default::default()
        };
        Response::Statfs(fs).encode(2, &mut buf);
        match Response::decode(&buf).unwrap() {
            (2, Response::Statfs(s)) => assert_eq!(s, fs),
            other => panic!("{other:?}"),
        }
        Response::Bytes(b"target").encode(3, &mut buf);
        match Response::decode(&buf).unwrap() {
            (3, Response::Bytes(b)) => assert_eq!(b, b"target"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn statfs_kernel_layout() {
        let fs = StatFs {
            f_type: 1,
            f_flags: 0x21,
            f_fsid: [7, 8],
            ..Default::default()
        };
        let b = fs.to_kernel_bytes();
        assert_eq!(&b[0..8], &1i64.to_le_bytes());
        assert_eq!(&b[56..60], &7i32.to_le_bytes());
        assert_eq!(&b[60..64], &8i32.to_le_bytes());
        assert_eq!(&b[80..88], &0x21i64.to_le_bytes());
        assert_eq!(std::mem::size_of::<StatFs>(), 120);
    }
}

//! Thin, allocation-free wrappers over the raw system calls the gofer and its client use.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

use crate::protocol::MAX_PATH;

/// `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`: the resolution paths of the first mount (the
/// sandbox's root) get: an absolute symlink starts again at that root.
pub const RESOLVE_CONFINED: u64 = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
/// `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`: the resolution paths of every other mount get:
/// a symlink that leads out of the mount (absolute, or `..` above its root) fails with
/// EXDEV, since where it leads is another mount's business (answered as EREMOTE).
pub const RESOLVE_BENEATH_ONLY: u64 = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;

/// A path copied into a NUL-terminated stack buffer.
pub struct CPath {
    /// The path's bytes and one NUL after them (a path is short: no 4 KiB copy per call).
    buf: Vec<u8>,
}

impl CPath {
    /// Copies `bytes`; interior NUL is EINVAL, more than MAX_PATH bytes ENAMETOOLONG. The empty
    /// path becomes "." (the directory itself).
    pub fn new(bytes: &[u8]) -> Result<CPath, Errno> {
        let bytes: &[u8] = if bytes.is_empty() { b"." } else { bytes };
        if bytes.len() > MAX_PATH {
            return Err(Errno::ENAMETOOLONG);
        }
        if bytes.contains(&0) {
            return Err(Errno::EINVAL);
        }
        let mut buf = Vec::with_capacity(bytes.len() + 1);
        buf.extend_from_slice(bytes);
        buf.push(0);
        Ok(CPath { buf })
    }

    pub fn as_cstr(&self) -> &CStr {
        // The buffer holds exactly one NUL, at its end.
        CStr::from_bytes_with_nul(&self.buf).unwrap_or(c".")
    }
}

/// Formats a file descriptor number as a NUL-terminated decimal name ("17\0").
pub struct FdName {
    buf: [u8; 12],
}

impl FdName {
    pub fn new(fd: RawFd) -> FdName {
        let mut buf = [0u8; 12];
        let mut digits = [0u8; 10];
        let mut n = fd.max(0) as u32;
        let mut i = 0;
        loop {
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            i += 1;
            if n == 0 {
                break;
            }
        }
        for j in 0..i {
            buf[j] = digits[i - 1 - j];
        }
        FdName { buf }
    }
    pub fn as_cstr(&self) -> &CStr {
        CStr::from_bytes_until_nul(&self.buf).unwrap_or(c"0")
    }
}

/// `struct open_how` (linux/openat2.h).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// How many times a confined lookup is retried when the kernel reports EAGAIN: with
/// RESOLVE_IN_ROOT, a `..` walked while any rename or mount happens on the system makes
/// openat2 fail rather than risk an escape. Linux's own lookups retry such races too.
pub const EAGAIN_RETRIES: u32 = 1024;

/// `openat2(2)`; O_CLOEXEC is always added. EINTR is retried, and so is EAGAIN of a confined
/// lookup (up to EAGAIN_RETRIES times).
pub fn openat2(
    dir: BorrowedFd<'_>,
    path: &CStr,
    flags: i32,
    mode: u32,
    resolve: u64,
) -> Result<OwnedFd, Errno> {
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u32 as u64,
        mode: mode as u64,
        resolve,
    };
    let mut eagain = 0;
    loop {
        // SAFETY: `path` is NUL-terminated, `how` is a valid open_how of the size passed; the
        // kernel only reads both.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                path.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        match Errno::result(r) {
            // SAFETY: on success openat2 returns a new descriptor that nothing else owns.
            Ok(fd) => return Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }),
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) if resolve != 0 && eagain < EAGAIN_RETRIES => eagain += 1,
            Err(e) => return Err(e),
        }
    }
}

pub fn fstat(fd: BorrowedFd<'_>) -> Result<libc::stat, Errno> {
    // SAFETY: all-zero is a valid `stat`; fstat writes at most sizeof(stat) bytes into it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: see above; `fd` is a live descriptor.
    Errno::result(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) })?;
    Ok(st)
}

/// A new descriptor (close-on-exec) of what `fd` is.
pub fn dup(fd: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    fd.try_clone_to_owned()
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
}

/// An `O_PATH | O_NOFOLLOW` fd of the single name `name` in `dir`: nothing beyond `dir` is
/// walked, and a link is the link itself.
pub fn open_name(dir: BorrowedFd<'_>, name: &CStr) -> Result<OwnedFd, Errno> {
    let flags = libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: `name` is NUL-terminated; openat returns a new fd or -1.
    let fd = Errno::result(unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags) })?;
    // SAFETY: a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn fstatat_nofollow(dir: BorrowedFd<'_>, name: &CStr) -> Result<libc::stat, Errno> {
    // SAFETY: all-zero is a valid `stat`.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `name` is NUL-terminated; `st` is writable for sizeof(stat) bytes.
    Errno::result(unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })?;
    Ok(st)
}

/// `struct xattr_args` of getxattrat(2) and listxattrat's sibling calls.
#[repr(C)]
struct XattrArgs {
    value: u64,
    size: u32,
    flags: u32,
}

/// getxattrat(2) (Linux 6.13) of attribute `attr` of `name` in `dir`, never following a
/// final link: the value into `buf` (null with `size` 0 asks for the size). The raw
/// result: the length, or -1 with errno set (ENOSYS on an older kernel).
///
/// # Safety
/// `buf` is null or writable for `size` bytes.
pub unsafe fn getxattrat_nofollow(
    dir: BorrowedFd<'_>,
    name: &CStr,
    attr: &CStr,
    buf: *mut libc::c_void,
    size: usize,
) -> isize {
    let mut args = XattrArgs {
        value: buf as u64,
        size: size as u32,
        flags: 0,
    };
    // SAFETY: NUL-terminated name and attribute; `args` points at `buf`, which the caller
    // vouches for, and lives across the call.
    unsafe {
        libc::syscall(
            SYS_GETXATTRAT,
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
            attr.as_ptr(),
            &mut args as *mut XattrArgs,
            std::mem::size_of::<XattrArgs>(),
        ) as isize
    }
}

/// listxattrat(2) (Linux 6.13) of `name` in `dir`, never following a final link: the
/// names into `buf` (null with `size` 0 asks for the size). The raw result, as above.
///
/// # Safety
/// `buf` is null or writable for `size` bytes.
pub unsafe fn listxattrat_nofollow(
    dir: BorrowedFd<'_>,
    name: &CStr,
    buf: *mut libc::c_char,
    size: usize,
) -> isize {
    // SAFETY: NUL-terminated name; `buf` as the caller vouches.
    unsafe {
        libc::syscall(
            SYS_LISTXATTRAT,
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
            buf,
            size,
        ) as isize
    }
}

/// x86_64's numbers of the *xattrat calls (not yet in the `libc` crate).
const SYS_GETXATTRAT: libc::c_long = 464;
const SYS_LISTXATTRAT: libc::c_long = 465;

/// `fstatfs(2)` into the kernel's own layout (with `f_flags`).
pub fn fstatfs(fd: BorrowedFd<'_>) -> Result<crate::protocol::StatFs, Errno> {
    let mut s = crate::protocol::StatFs::default();
    // SAFETY: `StatFs` is repr(C) and laid out exactly as the kernel's x86_64 struct statfs.
    Errno::result(unsafe {
        libc::syscall(
            libc::SYS_fstatfs,
            fd.as_raw_fd(),
            &mut s as *mut crate::protocol::StatFs,
        )
    })?;
    Ok(s)
}

/// `ST_NODEV` of statfs(2)'s f_flags: device nodes cannot be opened on the mount.
pub const ST_NODEV: i64 = 4;

pub fn close_range_from(first: u32) {
    // SAFETY: closes descriptors this process owns from `first` up; the caller guarantees none
    // of them is owned by live Rust objects.
    unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0) };
}

pub fn file_type(st: &libc::stat) -> u32 {
    st.st_mode & libc::S_IFMT
}

// ---------------------------------------------------------------------------------------------
// SOCK_SEQPACKET messages with at most one fd.

#[repr(C, align(8))]
struct CmsgBuf([u8; 64]);

fn cmsg_space_one() -> usize {
    // SAFETY: CMSG_SPACE is a pure computation.
    unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize }
}

/// Sends one packet, with `fd` in SCM_RIGHTS if given. Never raises SIGPIPE.
pub fn send_packet(
    sock: BorrowedFd<'_>,
    data: &[u8],
    fd: Option<BorrowedFd<'_>>,
) -> Result<(), Errno> {
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    let mut cbuf = CmsgBuf([0; 64]);
    // SAFETY: all-zero is a valid msghdr.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if let Some(fd) = fd {
        msg.msg_control = cbuf.0.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = cmsg_space_one();
        // SAFETY: msg_control points at a buffer of at least CMSG_SPACE(sizeof(int)) bytes,
        // aligned for cmsghdr, so CMSG_FIRSTHDR is non-null and its data holds one int.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(c) as *mut RawFd, fd.as_raw_fd());
        }
    }
    loop {
        // SAFETY: msg points at live iovec and control buffers for the duration of the call.
        let r = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
        match Errno::result(r) {
            Ok(n) if n as usize == data.len() => return Ok(()),
            Ok(_) => return Err(Errno::EMSGSIZE),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// One received packet.
pub struct Packet {
    /// Bytes stored in the buffer (0 = the peer closed the socket).
    pub len: usize,
    /// The first fd that came with it.
    pub fd: Option<OwnedFd>,
    /// The packet did not fit the buffer, or carried more than one fd (the others are closed).
    pub truncated: bool,
}

/// Receives one packet into `buf`.
pub fn recv_packet(sock: BorrowedFd<'_>, buf: &mut [u8]) -> Result<Packet, Errno> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    };
    let mut cbuf = CmsgBuf([0; 64]);
    // SAFETY: all-zero is a valid msghdr.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.0.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = cmsg_space_one();
    let n = loop {
        // SAFETY: msg points at live, writable iovec and control buffers of the stated sizes.
        let r = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        match Errno::result(r) {
            Ok(n) => break n as usize,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    };
    let mut fd = None;
    let mut extra = false;
    // SAFETY: the kernel filled msg_control/msg_controllen; CMSG_* walk within that buffer.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(c) as *const RawFd;
                let count =
                    ((*c).cmsg_len - libc::CMSG_LEN(0) as usize) / std::mem::size_of::<RawFd>();
                for i in 0..count {
                    let raw = std::ptr::read_unaligned(data.add(i));
                    // The kernel installed `raw` for us; we own it from here on.
                    let owned = OwnedFd::from_raw_fd(raw);
                    if fd.is_none() {
                        fd = Some(owned);
                    } else {
                        extra = true;
                    }
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    let truncated = msg.msg_flags & (libc::MSG_TRUNC | libc::MSG_CTRUNC) != 0 || extra;
    Ok(Packet {
        len: n.min(buf.len()),
        fd,
        truncated,
    })
}

/// Whether `fd` is on a file system that is the host kernel's interface rather than files:
/// procfs, sysfs, devpts, cgroups, debugfs and their kind. A root file system that holds
/// the host's live /proc or /sys (a rootfs of `/`) must not show them: the sandbox has its
/// own /proc, and the host's processes, terminals and devices are not its business.
pub fn is_kernel_interface(fd: BorrowedFd<'_>) -> bool {
    fstatfs(fd).is_ok_and(|s| is_kernel_fs(s.f_type))
}

/// Whether a file system of type `f_type` (fstatfs) is one of the host kernel's interfaces.
pub fn is_kernel_fs(f_type: i64) -> bool {
    const KINDS: [i64; 18] = [
        0x9fa0,      // proc
        0x6265_6572, // sysfs
        0x1cd1,      // devpts
        0x6462_6720, // debugfs
        0x7472_6163, // tracefs
        0x7363_6673, // securityfs
        0x0027_e0eb, // cgroup
        0x6367_7270, // cgroup2
        0xcafe_4a11, // bpf
        0xde5e_81e4, // efivarfs
        0x6165_676c, // pstore
        0x6265_6570, // configfs
        0x6573_5543, // fusectl
        0x4249_4e4d, // binfmt_misc
        0xf97c_ff8c, // selinuxfs
        0x4341_5d53, // smackfs
        0x6e73_6673, // nsfs
        0x1980_0202, // mqueue
    ];
    KINDS.contains(&f_type)
}

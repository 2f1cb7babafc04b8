//! Sockets. `socket`/`socketpair`: with `--net=none` the sandbox gets AF_UNIX only.
//! `connect`/`bind` of AF_UNIX sockets by path go through the gofer, on the sentry's own
//! duplicate of the task's socket (pidfd_getfd), with the address the sentry read once:
//! the host kernel never reads a socket address from the task.

use super::fs::{files, resolve};
use super::{deny_event, Action, Call, ExitHook};
use crate::kernel::NetMode;
use nix::errno::Errno;
use platform_ptrace::read_bytes;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use syscalls::Sysno;

/// SO_PASSPIDFD and SO_PEERPIDFD (Linux 6.5): pidfds of a socket's senders and peer.
pub const SO_PASSPIDFD: i32 = 76;
pub const SO_PEERPIDFD: i32 = 77;

/// One past the highest address family Linux knows (AF_MCTP + 1 in 6.x).
const AF_MAX: i32 = 46;

pub fn socket(call: &mut Call) -> Action {
    let domain = call.args[0] as i32;
    // Unknown families get the kernel's own EAFNOSUPPORT.
    if call.kernel.net == NetMode::Host || domain == libc::AF_UNIX || !(0..AF_MAX).contains(&domain)
    {
        return Action::Pass;
    }
    deny_event(
        call,
        Errno::EACCES as i32,
        &format!("address family {domain} with --net=none"),
    );
    Action::Return(-(Errno::EACCES as i64))
}

/// The sentry's own duplicate of fd `fd` of the calling task.
pub fn task_fd(call: &Call, fd: i32) -> Result<OwnedFd, Errno> {
    task_fd_of(call.kernel.tgid_of(call.tid), fd)
}

/// The sentry's own duplicate of fd `fd` of process `tgid` (host id).
pub fn task_fd_of(tgid: platform_ptrace::Tid, fd: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open takes plain integers and returns a new fd or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, tgid, 0) };
    if pidfd < 0 {
        return Err(Errno::ESRCH);
    }
    // SAFETY: the fd was just created and is ours alone.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as i32) };
    // SAFETY: pidfd_getfd takes plain integers and returns a new fd or -1.
    let dup = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    if dup < 0 {
        return Err(Errno::EBADF);
    }
    // SAFETY: as above.
    Ok(unsafe { OwnedFd::from_raw_fd(dup as i32) })
}

fn sockopt(sock: &OwnedFd, option: i32) -> Result<i32, Errno> {
    let mut value: i32 = 0;
    let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: getsockopt writes one int into memory we own.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            (&mut value as *mut i32).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    Ok(value)
}

pub fn connect_or_bind(call: &mut Call) -> Result<Action, Errno> {
    let sock = task_fd(call, call.args[0] as i32)?;
    if sockopt(&sock, libc::SO_DOMAIN)? != libc::AF_UNIX {
        // Only an AF_UNIX socket can reach a path; others cannot name host files.
        return Ok(Action::Pass);
    }
    let len = call.args[2] as usize;
    if !(2..=std::mem::size_of::<libc::sockaddr_un>()).contains(&len) {
        return Err(Errno::EINVAL);
    }
    let mut addr = vec![0u8; len];
    read_bytes(call.tid, call.args[1], &mut addr).map_err(|_| Errno::EFAULT)?;
    if u16::from_ne_bytes([addr[0], addr[1]]) != libc::AF_UNIX as u16 {
        return Err(Errno::EINVAL);
    }
    let name = &addr[2..];
    if name.is_empty() {
        // Autobind (bind) or EINVAL (connect): no name the task chose; the kernel picks.
        return sock_call(call, &sock, &addr);
    }
    if name[0] == 0 {
        // Abstract names are one namespace for the whole host: the sandbox gets its own
        // by a prefix only it uses, so it reaches neither host sockets nor other sandboxes.
        let mut private = addr[..3].to_vec();
        private.extend_from_slice(&call.kernel.abstract_prefix);
        private.extend_from_slice(&name[1..]);
        if private.len() > std::mem::size_of::<libc::sockaddr_un>() {
            return Err(Errno::EINVAL);
        }
        return sock_call(call, &sock, &private);
    }
    let path = name.split(|&b| b == 0).next().unwrap_or(name).to_vec();
    let target = resolve(call, libc::AT_FDCWD as i64 as u64, &path, false)?;
    // Issue 8: a non-root sandbox user needs search on the way and, to bind, write on the
    // directory; to connect, write on the socket (as Linux asks).
    if call.sysno == Sysno::bind {
        super::ids::check_name_change(call, &target, false)?;
    } else {
        super::ids::check_open(call, &target, libc::O_WRONLY)?;
    }
    let (index, rel) = (target.gofer_index, target.rel);
    use std::os::fd::AsFd;
    if call.sysno == Sysno::bind {
        files(call)?.bind_unix_fd(index, &rel, sock.as_fd())?;
        // The kernel names the socket by what the gofer bound (a name relative to its
        // directory, the same for "s" and "d/s"); the task named it `path`.
        let bound = nix::sys::stat::fstat(sock.as_raw_fd())
            .ok()
            .and_then(|st| unix_diag(st.st_ino, Diag::BoundFile));
        if let Some(file) = bound {
            call.kernel.unix_names.insert(file, path);
        }
    } else {
        files(call)?.connect_unix_fd(index, &rel, sock.as_fd())?;
    }
    Ok(Action::Return(0))
}

/// bind or connect of the sentry's duplicate of the task's socket, with an address the
/// sentry built.
fn sock_call(call: &Call, sock: &OwnedFd, addr: &[u8]) -> Result<Action, Errno> {
    let f = if call.sysno == Sysno::bind {
        libc::bind
    } else {
        libc::connect
    };
    // SAFETY: the address bytes are ours and `len` is their length.
    let rc = unsafe {
        f(
            sock.as_raw_fd(),
            addr.as_ptr().cast(),
            addr.len() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    Ok(Action::Return(0))
}

/// getsockname/getpeername of an AF_UNIX socket, at the call's exit stop: the address the
/// kernel wrote is put in the sandbox's terms. An abstract name loses the sandbox's
/// private prefix; a path bound through the gofer becomes the path the task bound (found
/// by the file the named socket, the task's `fd` or its peer, is bound to).
pub fn fix_unix_address(
    tid: platform_ptrace::Tid,
    kernel: &crate::kernel::Kernel,
    hook: (i32, bool),
    addr: u64,
    len_addr: u64,
) {
    let (fd, peer) = hook;
    let mut len_bytes = [0u8; 4];
    if read_bytes(tid, len_addr, &mut len_bytes).is_err() {
        return;
    }
    let len =
        (u32::from_ne_bytes(len_bytes) as usize).min(std::mem::size_of::<libc::sockaddr_un>());
    let mut sa = vec![0u8; len];
    if len < 3
        || read_bytes(tid, addr, &mut sa).is_err()
        || u16::from_ne_bytes([sa[0], sa[1]]) != libc::AF_UNIX as u16
    {
        return;
    }
    let name = &sa[2..];
    let fixed = if name[0] == 0 {
        match name[1..].strip_prefix(kernel.abstract_prefix.as_slice()) {
            Some(own) => [&[0u8][..], own].concat(),
            None => return,
        }
    } else {
        use std::os::unix::fs::MetadataExt;
        let Ok(own) = std::fs::metadata(format!("/proc/{tid}/fd/{fd}")).map(|m| m.ino()) else {
            return;
        };
        let named = if peer {
            unix_diag(own, Diag::Peer)
        } else {
            Some(own)
        };
        let file = named.and_then(|ino| unix_diag(ino, Diag::BoundFile));
        match file.and_then(|file| kernel.unix_names.get(&file)) {
            Some(sandbox_path) => [sandbox_path.as_slice(), &[0u8][..]].concat(),
            None => return,
        }
    };
    let mut out = sa[..2].to_vec();
    out.extend_from_slice(&fixed);
    out.truncate(std::mem::size_of::<libc::sockaddr_un>());
    let _ = platform_ptrace::write_bytes(tid, addr, &out);
    let _ = platform_ptrace::write_bytes(tid, len_addr, &(out.len() as u32).to_ne_bytes());
}

/// What the kernel's socket diagnostics (NETLINK_SOCK_DIAG; any user may ask) know of the
/// AF_UNIX socket with inode `ino`: its peer's socket inode (`UDIAG_SHOW_PEER`) or the
/// inode of the file it is bound to (`UDIAG_SHOW_VFS`: an accepted socket shares its
/// listener's).
#[derive(Clone, Copy)]
enum Diag {
    Peer,
    BoundFile,
}

fn unix_diag(ino: u64, ask: Diag) -> Option<u64> {
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    let (show, attribute): (u32, u16) = match ask {
        Diag::BoundFile => (0x2, 1), // UDIAG_SHOW_VFS, UNIX_DIAG_VFS
        Diag::Peer => (0x4, 2),      // UDIAG_SHOW_PEER, UNIX_DIAG_PEER
    };
    // SAFETY: socket takes plain integers; the result is checked.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::NETLINK_SOCK_DIAG,
        )
    };
    if raw < 0 {
        return None;
    }
    // SAFETY: the fd was just created and is ours alone.
    let nl = unsafe { OwnedFd::from_raw_fd(raw) };
    // struct nlmsghdr, then struct unix_diag_req (family, protocol, pad, states, ino,
    // show, cookie[2]); the cookie ~0 means "any socket with this inode".
    let mut req = Vec::with_capacity(40);
    req.extend(40u32.to_ne_bytes());
    req.extend(SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    req.extend((libc::NLM_F_REQUEST as u16).to_ne_bytes());
    req.extend([0u8; 8]); // sequence, port
    req.extend([libc::AF_UNIX as u8, 0, 0, 0]);
    req.extend(u32::MAX.to_ne_bytes());
    req.extend((ino as u32).to_ne_bytes());
    req.extend(show.to_ne_bytes());
    req.extend([0xffu8; 8]);
    // SAFETY: send reads `req`, which we own, for its length.
    if unsafe { libc::send(nl.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) } < 0 {
        return None;
    }
    let mut reply = [0u8; 512];
    // SAFETY: recv writes at most `reply.len()` bytes into memory we own.
    let got = unsafe { libc::recv(nl.as_raw_fd(), reply.as_mut_ptr().cast(), reply.len(), 0) };
    let reply = reply.get(..usize::try_from(got).ok()?)?;
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(reply.get(at..at + 4)?.try_into().ok()?))
    };
    if u16::from_ne_bytes(reply.get(4..6)?.try_into().ok()?) != SOCK_DIAG_BY_FAMILY {
        return None; // NLMSG_ERROR: no such socket
    }
    let end = (word(0)? as usize).min(reply.len());
    // struct unix_diag_msg is 16 bytes; its attributes follow, 4-byte aligned.
    let mut at = 16 + 16;
    while at + 4 <= end {
        let len = u16::from_ne_bytes(reply[at..at + 2].try_into().ok()?) as usize;
        let kind = u16::from_ne_bytes(reply[at + 2..at + 4].try_into().ok()?);
        if len < 4 {
            return None;
        }
        if kind == attribute && len >= 8 {
            return match ask {
                Diag::Peer => word(at + 4).map(u64::from),
                // struct unix_diag_vfs { u32 ino; u32 dev; }
                Diag::BoundFile => Some((word(at + 8)? as u64) << 32 | word(at + 4)? as u64),
            };
        }
        at += len.next_multiple_of(4);
    }
    None
}

/// sendto/sendmsg/sendmmsg: an address given with the data could name a host socket.
/// Stream and seqpacket AF_UNIX sockets ignore or refuse addresses, and other families
/// cannot reach paths: those pass. An AF_UNIX datagram with an address is refused.
pub fn send(call: &mut Call) -> Result<Action, Errno> {
    if call.sysno == Sysno::sendto && call.args[4] == 0 {
        return Ok(Action::Pass);
    }
    let sock = task_fd(call, call.args[0] as i32)?;
    if sockopt(&sock, libc::SO_DOMAIN)? != libc::AF_UNIX {
        return Ok(Action::Pass);
    }
    if super::mm::accounts_memory() {
        // sendmmsg: an array of 64-byte entries, each starting with its msghdr.
        let (first, count) = match call.sysno {
            Sysno::sendmsg => (call.args[1], 1),
            Sysno::sendmmsg => (call.args[1], call.args[2].min(1024)),
            _ => (0, 0),
        };
        if (0..count).any(|i| passes_memfd(call.tid, first + i * 64)) {
            super::deny_event(
                call,
                libc::EPERM,
                "a memfd cannot be passed with SCM_RIGHTS while memory is accounted",
            );
            return Err(Errno::EPERM);
        }
    }
    let creds = match call.sysno {
        Sysno::sendmsg => send_creds(call, call.args[1])?,
        _ => None,
    };
    if sockopt(&sock, libc::SO_TYPE)? != libc::SOCK_DGRAM {
        return Ok(creds.unwrap_or(Action::Pass));
    }
    if let Some(creds) = creds {
        // A datagram with both credentials and (possibly) an address: the address rule
        // first, as below; credentials pass translated.
        let mut name = [0u8; 8];
        read_bytes(call.tid, call.args[1], &mut name).map_err(|_| Errno::EFAULT)?;
        if u64::from_ne_bytes(name) != 0 {
            return refuse_named(call);
        }
        return Ok(creds);
    }
    match call.sysno {
        Sysno::sendto => send_to_path(call, &sock),
        Sysno::sendmsg => {
            // struct msghdr starts with void *msg_name.
            let mut name = [0u8; 8];
            read_bytes(call.tid, call.args[1], &mut name).map_err(|_| Errno::EFAULT)?;
            if u64::from_ne_bytes(name) != 0 {
                return refuse_named(call);
            }
            Ok(Action::Pass)
        }
        _ => {
            // sendmmsg(fd, struct mmsghdr[vlen], vlen, flags): each entry is 64 bytes and
            // starts with its msghdr's msg_name.
            let count = (call.args[2] as usize).min(1024);
            for i in 0..count {
                let mut name = [0u8; 8];
                read_bytes(call.tid, call.args[1] + i as u64 * 64, &mut name)
                    .map_err(|_| Errno::EFAULT)?;
                if u64::from_ne_bytes(name) != 0 {
                    return refuse_named(call);
                }
            }
            Ok(Action::Pass)
        }
    }
}

/// recvmsg/recvmmsg: with SO_PASSCRED on an AF_UNIX socket, the credentials the kernel
/// attaches are translated at the exit stop; anything else passes.
pub fn receive(call: &mut Call) -> Action {
    let Ok(sock) = task_fd(call, call.args[0] as i32) else {
        return Action::Pass;
    };
    let passcred = sockopt(&sock, libc::SO_DOMAIN) == Ok(libc::AF_UNIX)
        && sockopt(&sock, libc::SO_PASSCRED).is_ok_and(|v| v != 0);
    if !passcred {
        return Action::Pass;
    }
    Action::PassThenExit(ExitHook::ReceivedCreds {
        msg: call.args[1],
        vector: call.sysno == Sysno::recvmmsg,
    })
}

/// The control messages of a msghdr in task memory: (level, type, data address, data
/// length) each. Stops at the first malformed or unreadable header, as the kernel would.
fn control_messages(tid: platform_ptrace::Tid, msg: u64) -> Vec<(i32, i32, u64, u64)> {
    // struct msghdr: name(8) namelen(4+4) iov(8) iovlen(8) control(8) controllen(8) flags
    let mut hdr = [0u8; 56];
    if read_bytes(tid, msg, &mut hdr).is_err() {
        return Vec::new();
    }
    let word = |at: usize| u64::from_ne_bytes(hdr[at..at + 8].try_into().expect("8 bytes"));
    let (control, len) = (word(32), word(40).min(4096));
    let mut found = Vec::new();
    let mut at = 0u64;
    while at + 16 <= len {
        let mut ch = [0u8; 16];
        if read_bytes(tid, control + at, &mut ch).is_err() {
            break;
        }
        let cmsg_len = u64::from_ne_bytes(ch[0..8].try_into().expect("8 bytes"));
        let level = i32::from_ne_bytes(ch[8..12].try_into().expect("4 bytes"));
        let kind = i32::from_ne_bytes(ch[12..16].try_into().expect("4 bytes"));
        if cmsg_len < 16 || at + cmsg_len > len {
            break;
        }
        found.push((level, kind, control + at + 16, cmsg_len - 16));
        at += cmsg_len.next_multiple_of(8);
    }
    found
}

/// The SCM_CREDENTIALS control message of a msghdr in task memory: its ucred's address.
pub fn find_creds(tid: platform_ptrace::Tid, msg: u64) -> Option<u64> {
    control_messages(tid, msg)
        .into_iter()
        .find(|&(level, kind, _, len)| {
            level == libc::SOL_SOCKET && kind == libc::SCM_CREDENTIALS && len >= 12
        })
        .map(|(_, _, at, _)| at)
}

/// Whether a msghdr in task memory passes a memfd with SCM_RIGHTS (see `memfd`).
fn passes_memfd(tid: platform_ptrace::Tid, msg: u64) -> bool {
    control_messages(tid, msg)
        .into_iter()
        .filter(|&(level, kind, _, _)| level == libc::SOL_SOCKET && kind == libc::SCM_RIGHTS)
        .any(|(_, _, at, len)| {
            let mut fds = vec![0u8; len.min(253 * 4) as usize];
            read_bytes(tid, at, &mut fds).is_ok()
                && fds.chunks_exact(4).any(|fd| {
                    let fd = i32::from_ne_bytes(fd.try_into().expect("4 bytes"));
                    super::memfd::refuses_passing(tid, fd)
                })
        })
}

/// sendmsg with SCM_CREDENTIALS: the task names itself by its number and sandbox ids; the
/// kernel checks them against its host ones. The ucred in the task's buffer gets the host
/// values for the call and its own back at the exit stop.
fn send_creds(call: &mut Call, msg: u64) -> Result<Option<Action>, Errno> {
    let Some(at) = find_creds(call.tid, msg) else {
        return Ok(None);
    };
    let mut ucred = [0u8; 12];
    read_bytes(call.tid, at, &mut ucred).map_err(|_| Errno::EFAULT)?;
    let pid = i32::from_ne_bytes(ucred[0..4].try_into().expect("4 bytes"));
    let host_pid = match call.kernel.translate(call.tid, pid) {
        Some(host) => host,
        None => return Err(Errno::EPERM),
    };
    // The task's host ids (what the kernel checks the ucred against).
    let status = std::fs::read_to_string(format!("/proc/{}/status", call.tid)).unwrap_or_default();
    let host_id = |key: &str| -> u32 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().nth(1).and_then(|e| e.parse().ok()))
            .unwrap_or(0)
    };
    let mut host = host_pid.to_ne_bytes().to_vec();
    host.extend_from_slice(&host_id("Uid:").to_ne_bytes());
    host.extend_from_slice(&host_id("Gid:").to_ne_bytes());
    platform_ptrace::write_bytes(call.tid, at, &host).map_err(|_| Errno::EFAULT)?;
    Ok(Some(Action::PassThenExit(ExitHook::SentCreds {
        at,
        ucred,
    })))
}

fn refuse_named(call: &Call) -> Result<Action, Errno> {
    deny_event(
        call,
        Errno::EACCES as i32,
        "AF_UNIX datagrams with an address in a message header are not served yet",
    );
    Err(Errno::EACCES)
}

/// sendto(fd, buf, len, flags, addr, addrlen) of an AF_UNIX datagram: the sentry sends it
/// itself, on its duplicate of the task's socket, with a copy of the data and the address
/// the sentry resolved: a path through the gofer (an O_PATH fd of the socket, named to the
/// kernel as the sentry's own /proc/self/fd/N), an abstract name with the sandbox's prefix.
fn send_to_path(call: &mut Call, sock: &OwnedFd) -> Result<Action, Errno> {
    let len = call.args[2] as usize;
    if len > 1 << 20 {
        return Err(Errno::EMSGSIZE);
    }
    let mut data = vec![0u8; len];
    read_bytes(call.tid, call.args[1], &mut data).map_err(|_| Errno::EFAULT)?;
    let addr_len = call.args[5] as usize;
    if !(2..=std::mem::size_of::<libc::sockaddr_un>()).contains(&addr_len) {
        return Err(Errno::EINVAL);
    }
    let mut addr = vec![0u8; addr_len];
    read_bytes(call.tid, call.args[4], &mut addr).map_err(|_| Errno::EFAULT)?;
    if u16::from_ne_bytes([addr[0], addr[1]]) != libc::AF_UNIX as u16 {
        return Err(Errno::EINVAL);
    }
    let name = &addr[2..];
    let mut kernel_addr = addr[..2].to_vec();
    let _inode;
    if name.first() == Some(&0) {
        kernel_addr.push(0);
        kernel_addr.extend_from_slice(&call.kernel.abstract_prefix);
        kernel_addr.extend_from_slice(&name[1..]);
    } else {
        let path = name.split(|&b| b == 0).next().unwrap_or(name).to_vec();
        let target = resolve(call, libc::AT_FDCWD as i64 as u64, &path, false)?;
        super::ids::check_open(call, &target, libc::O_WRONLY)?; // issue 8, as for connect
        let (index, rel) = (target.gofer_index, target.rel);
        let inode = files(call)?.open(index, &rel, libc::O_PATH, 0)?;
        kernel_addr.extend_from_slice(format!("/proc/self/fd/{}", inode.as_raw_fd()).as_bytes());
        kernel_addr.push(0);
        _inode = inode;
    }
    let flags = (call.args[3] as i32 | libc::MSG_DONTWAIT) & !libc::MSG_CONFIRM;
    // SAFETY: sendto with our buffers and their lengths, on our own duplicate fd.
    let n = unsafe {
        libc::sendto(
            sock.as_raw_fd(),
            data.as_ptr().cast(),
            data.len(),
            flags,
            kernel_addr.as_ptr().cast(),
            kernel_addr.len() as libc::socklen_t,
        )
    };
    if n < 0 {
        return Err(Errno::last());
    }
    Ok(Action::Return(n as i64))
}

/// Interface ioctls (SIOCGIFCONF and the other SIOC*IF* commands) under `--net none`: the
/// sandbox's network is its own loopback, so they describe `lo` alone, never the host's
/// interfaces, addresses or MAC. Changes are refused (EPERM, as without CAP_NET_ADMIN).
/// `None`: not an interface command, or the host's network.
pub fn interface_ioctl(call: &mut Call) -> Option<Action> {
    const SIOCGIFNAME: u64 = 0x8910;
    const SIOCGIFCONF: u64 = 0x8912;
    const SIOCGIFFLAGS: u64 = 0x8913;
    const SIOCGIFADDR: u64 = 0x8915;
    const SIOCGIFDSTADDR: u64 = 0x8917;
    const SIOCGIFBRDADDR: u64 = 0x8919;
    const SIOCGIFNETMASK: u64 = 0x891b;
    const SIOCGIFMETRIC: u64 = 0x891d;
    const SIOCGIFMTU: u64 = 0x8921;
    const SIOCGIFHWADDR: u64 = 0x8927;
    const SIOCGIFINDEX: u64 = 0x8933;
    const SIOCGIFTXQLEN: u64 = 0x8942;
    const SIOCGIFMAP: u64 = 0x8970;
    const IFREQ: usize = 40;
    let cmd = call.args[1] & 0xffff_ffff;
    if call.kernel.net == NetMode::Host || !(0x8910..=0x89ff).contains(&cmd) {
        return None;
    }
    let (tid, arg) = (call.tid, call.args[2]);
    let result = (|| -> Result<i64, Errno> {
        let sockaddr_in = |a: [u8; 4]| {
            let mut sa = [0u8; 16];
            sa[0..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            sa[4..8].copy_from_slice(&a);
            sa
        };
        if cmd == SIOCGIFCONF {
            // struct ifconf { int ifc_len; (pad) char *ifc_buf; }
            let mut conf = [0u8; 16];
            read_bytes(tid, arg, &mut conf).map_err(|_| Errno::EFAULT)?;
            let len = i32::from_ne_bytes(conf[0..4].try_into().expect("4 bytes"));
            let buf = u64::from_ne_bytes(conf[8..16].try_into().expect("8 bytes"));
            let written = if buf == 0 || (len as usize) < IFREQ {
                if buf == 0 {
                    IFREQ
                } else {
                    0
                }
            } else {
                let mut req = [0u8; IFREQ];
                req[..2].copy_from_slice(b"lo");
                req[16..32].copy_from_slice(&sockaddr_in([127, 0, 0, 1]));
                platform_ptrace::write_bytes(tid, buf, &req).map_err(|_| Errno::EFAULT)?;
                IFREQ
            };
            platform_ptrace::write_bytes(tid, arg, &(written as i32).to_ne_bytes())
                .map_err(|_| Errno::EFAULT)?;
            return Ok(0);
        }
        let mut req = [0u8; IFREQ];
        read_bytes(tid, arg, &mut req).map_err(|_| Errno::EFAULT)?;
        if cmd == SIOCGIFNAME {
            if i32::from_ne_bytes(req[16..20].try_into().expect("4 bytes")) != 1 {
                return Err(Errno::ENODEV);
            }
            req[..16].fill(0);
            req[..2].copy_from_slice(b"lo");
        } else {
            let name = &req[..16];
            if &name[..name.iter().position(|&b| b == 0).unwrap_or(16)] != b"lo" {
                return Err(Errno::ENODEV);
            }
            let field = &mut req[16..];
            field.fill(0);
            match cmd {
                SIOCGIFFLAGS => {
                    let flags = (libc::IFF_UP | libc::IFF_LOOPBACK | libc::IFF_RUNNING) as u16;
                    field[..2].copy_from_slice(&flags.to_ne_bytes());
                }
                SIOCGIFADDR => field[..16].copy_from_slice(&sockaddr_in([127, 0, 0, 1])),
                SIOCGIFNETMASK => field[..16].copy_from_slice(&sockaddr_in([255, 0, 0, 0])),
                SIOCGIFDSTADDR | SIOCGIFBRDADDR => {
                    field[..16].copy_from_slice(&sockaddr_in([0, 0, 0, 0]))
                }
                SIOCGIFMTU => field[..4].copy_from_slice(&65536i32.to_ne_bytes()),
                SIOCGIFINDEX => field[..4].copy_from_slice(&1i32.to_ne_bytes()),
                SIOCGIFTXQLEN => field[..4].copy_from_slice(&1000i32.to_ne_bytes()),
                SIOCGIFMETRIC | SIOCGIFMAP => {}
                SIOCGIFHWADDR => {
                    field[..2].copy_from_slice(&libc::ARPHRD_LOOPBACK.to_ne_bytes());
                }
                _ => {
                    deny_event(
                        call,
                        Errno::EPERM as i32,
                        "interface commands act on the sandbox's loopback only",
                    );
                    return Err(Errno::EPERM);
                }
            }
        }
        platform_ptrace::write_bytes(tid, arg, &req).map_err(|_| Errno::EFAULT)?;
        Ok(0)
    })();
    Some(Action::Return(result.unwrap_or_else(|e| -(e as i64))))
}

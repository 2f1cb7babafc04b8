//! Kernel memory in socket buffers, charged to `--memory-limit`.
//!
//! The kernel holds what a socket sent and nobody read yet: an AF_UNIX sender's skbs count
//! against its SO_SNDBUF (they sit in the peer's receive queue), an AF_INET socket's against
//! its SO_SNDBUF and SO_RCVBUF. No call the sentry sees tells how full a buffer is, so every
//! sandbox socket is charged the most it can hold, from its creation until the kernel can
//! hold nothing for it any more:
//! - AF_UNIX: twice its send buffer (the kernel lets one skb past the limit, and an skb of a
//!   datagram may be as large as the buffer);
//! - other families (`--net host`): twice its send and receive buffers, which the sentry
//!   fixes at the host's defaults at creation (TCP would grow them up to `tcp_wmem`/`tcp_rmem`
//!   otherwise).
//!
//! A socket is gone when no sandbox fd holds it and the kernel's socket diagnostics list it
//! no more (a socket in flight in SCM_RIGHTS is still listed). Data it sent outlives it in
//! its peer's queue, so a gone socket keeps its charge while its peer lives with data queued,
//! and, when the peer is not known (or was a connection not yet accepted), while any live
//! sandbox socket of its type might hold such data.

use hashbrown::{HashMap, HashSet};

/// A socket's inode number (sockets share one file system).
pub type SockIno = u64;

/// What kind of queue a socket has, for where its unread data can wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// AF_UNIX stream or seqpacket.
    Stream,
    /// AF_UNIX datagram.
    Dgram,
    /// Any other family: its buffers are its own.
    Other,
}

/// A charged socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charged {
    pub bytes: u64,
    pub kind: Kind,
    /// The peer, as last seen.
    pub peer: Option<SockIno>,
}

/// A live AF_UNIX socket as the kernel's diagnostics show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed {
    pub kind: Kind,
    pub peer: Option<SockIno>,
    /// Its receive queue is not empty (for a listener: connections wait to be accepted).
    pub queued: bool,
}

/// What a look at the host found.
#[derive(Debug, Default)]
pub struct Census {
    /// Sockets in some sandbox task's fd table.
    pub held: HashSet<SockIno>,
    /// Every AF_UNIX socket of the host's network namespace.
    pub unix: HashMap<SockIno, Listed>,
    /// Sockets of other families the host lists (bound or connected).
    pub other: HashSet<SockIno>,
}

impl Census {
    fn alive(&self, ino: SockIno) -> bool {
        self.held.contains(&ino) || self.unix.contains_key(&ino) || self.other.contains(&ino)
    }
}

/// Which of the `tracked` sockets no longer hold kernel memory for the sandbox.
pub fn releasable(tracked: &HashMap<SockIno, Charged>, census: &Census) -> Vec<SockIno> {
    let live = |kind: Kind| {
        tracked
            .keys()
            .filter_map(move |ino| census.unix.get(ino).filter(|l| l.kind == kind))
    };
    // Data of a sender whose peer is unknown may wait in any live queue of its kind:
    // a stream's in a queue or an unaccepted connection of a listener; a datagram's
    // anywhere (a datagram of length 0 leaves the queue length at 0).
    let stream_may_hold = live(Kind::Stream).any(|l| l.queued);
    let dgram_may_hold = live(Kind::Dgram).next().is_some();
    tracked
        .iter()
        .filter(|(&ino, charged)| {
            if census.alive(ino) {
                return false;
            }
            let peer = charged.peer.and_then(|p| census.unix.get(&p));
            match (charged.kind, peer) {
                (Kind::Other, _) => true,
                (Kind::Stream, Some(peer)) => !peer.queued,
                (Kind::Dgram, Some(_)) => false,
                (Kind::Stream, None) => !stream_may_hold,
                (Kind::Dgram, None) => !dgram_may_hold,
            }
        })
        .map(|(&ino, _)| ino)
        .collect()
}

/// The most kernel memory a socket with these buffer sizes (as SO_SNDBUF/SO_RCVBUF report
/// them) can hold.
pub fn bound(kind: Kind, sndbuf: u64, rcvbuf: u64) -> u64 {
    match kind {
        Kind::Stream | Kind::Dgram => sndbuf.saturating_mul(2),
        Kind::Other => sndbuf.saturating_add(rcvbuf).saturating_mul(2),
    }
}

/// An int option of a socket at SOL_SOCKET (getsockopt on the sentry's own fd).
pub fn get_int_option(sock: &std::os::fd::OwnedFd, option: i32) -> Result<i32, nix::errno::Errno> {
    use std::os::fd::AsRawFd;
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
        return Err(nix::errno::Errno::last());
    }
    Ok(value)
}

/// Sets an int option of a socket at `level` (setsockopt on the sentry's own fd).
pub fn set_int_option(
    sock: &std::os::fd::OwnedFd,
    level: i32,
    option: i32,
    value: i32,
) -> Result<(), nix::errno::Errno> {
    use std::os::fd::AsRawFd;
    // SAFETY: setsockopt reads one int we own.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            option,
            (&value as *const i32).cast(),
            4,
        )
    };
    if rc < 0 {
        return Err(nix::errno::Errno::last());
    }
    Ok(())
}

/// A NETLINK_SOCK_DIAG socket that was sent one AF_UNIX request (struct unix_diag_req):
/// a dump of every socket, or the socket with inode `ino`, with the attributes `show` asks
/// for. Replies are read from the returned socket.
pub fn unix_diag_request(dump: bool, ino: u32, show: u32) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
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
    let flags = if dump {
        libc::NLM_F_REQUEST | libc::NLM_F_DUMP
    } else {
        libc::NLM_F_REQUEST
    };
    // struct nlmsghdr, then struct unix_diag_req (family, protocol, pad, states, ino,
    // show, cookie[2]); for a lookup the cookie ~0 means "any socket with this inode".
    let mut req = Vec::with_capacity(40);
    req.extend(40u32.to_ne_bytes());
    req.extend(SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    req.extend((flags as u16).to_ne_bytes());
    req.extend([0u8; 8]); // sequence, port
    req.extend([libc::AF_UNIX as u8, 0, 0, 0]);
    req.extend(u32::MAX.to_ne_bytes());
    req.extend(ino.to_ne_bytes());
    req.extend(show.to_ne_bytes());
    req.extend(if dump { [0u8; 8] } else { [0xffu8; 8] });
    // SAFETY: send reads `req`, which we own, for its length.
    if unsafe { libc::send(nl.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) } < 0 {
        return None;
    }
    Some(nl)
}

/// The netlink message type of socket diagnostics requests and replies.
pub const SOCK_DIAG_BY_FAMILY: u16 = 20;

/// Every AF_UNIX socket of the network namespace, from the kernel's socket diagnostics
/// (NETLINK_SOCK_DIAG; any user may ask): kind, peer and whether anything is queued.
/// None: the dump failed (the caller then releases nothing).
pub fn unix_sockets() -> Option<HashMap<SockIno, Listed>> {
    use std::os::fd::AsRawFd;
    const UDIAG_SHOW_PEER: u32 = 0x4;
    const UDIAG_SHOW_RQLEN: u32 = 0x10;
    const UNIX_DIAG_PEER: u16 = 2;
    const UNIX_DIAG_RQLEN: u16 = 4;
    let nl = unix_diag_request(true, 0, UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN)?;
    let mut found = HashMap::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // SAFETY: recv writes at most `buf.len()` bytes into memory we own.
        let got = unsafe { libc::recv(nl.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        let batch = buf.get(..usize::try_from(got).ok()?)?;
        if batch.is_empty() {
            return None;
        }
        let mut at = 0;
        while at + 16 <= batch.len() {
            let len = word(batch, at)? as usize;
            let kind = u16::from_ne_bytes(batch.get(at + 4..at + 6)?.try_into().ok()?);
            if len < 16 || at + len > batch.len() {
                return None;
            }
            match kind {
                k if k == libc::NLMSG_DONE as u16 => return Some(found),
                k if k == libc::NLMSG_ERROR as u16 => return None,
                SOCK_DIAG_BY_FAMILY => {
                    let msg = &batch[at + 16..at + len];
                    if let Some((ino, listed)) = parse_unix(msg, UNIX_DIAG_PEER, UNIX_DIAG_RQLEN) {
                        found.insert(ino, listed);
                    }
                }
                _ => {}
            }
            at += len.next_multiple_of(4);
        }
    }

    /// struct unix_diag_msg (family, type, state, pad, ino, cookie[2]), then attributes.
    fn parse_unix(msg: &[u8], peer_attr: u16, rqlen_attr: u16) -> Option<(SockIno, Listed)> {
        let kind = match *msg.get(1)? as i32 {
            libc::SOCK_DGRAM => Kind::Dgram,
            _ => Kind::Stream,
        };
        let ino = word(msg, 4)? as SockIno;
        let mut listed = Listed {
            kind,
            peer: None,
            queued: false,
        };
        let mut at = 16;
        while at + 4 <= msg.len() {
            let len = u16::from_ne_bytes(msg[at..at + 2].try_into().ok()?) as usize;
            let attr = u16::from_ne_bytes(msg[at + 2..at + 4].try_into().ok()?);
            if len < 4 {
                break;
            }
            if attr == peer_attr {
                listed.peer = word(msg, at + 4).filter(|&p| p != 0).map(SockIno::from);
            } else if attr == rqlen_attr {
                listed.queued = word(msg, at + 4).is_some_and(|q| q > 0);
            }
            at += len.next_multiple_of(4);
        }
        Some((ino, listed))
    }

    fn word(bytes: &[u8], at: usize) -> Option<u32> {
        Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    }
}

/// Inodes of the sockets of other families the host lists in /proc/net (bound or
/// connected ones: a socket that is neither holds no data).
pub fn other_sockets() -> HashSet<SockIno> {
    let mut found = HashSet::new();
    for table in [
        "tcp", "tcp6", "udp", "udp6", "raw", "raw6", "udplite", "udplite6",
    ] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/net/{table}")) else {
            continue;
        };
        // The inode is the tenth column after the header line.
        found.extend(
            text.lines()
                .skip(1)
                .filter_map(|line| line.split_whitespace().nth(9)?.parse::<SockIno>().ok()),
        );
    }
    found
}

/// The socket inode of an fd link target ("socket:[123]").
pub fn socket_link(link: &[u8]) -> Option<SockIno> {
    std::str::from_utf8(link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?)
        .ok()?
        .parse()
        .ok()
}

/// The sockets in the fd table of task `tid` (host id).
pub fn held_by(tid: platform_ptrace::Tid) -> Vec<SockIno> {
    use std::os::unix::ffi::OsStrExt;
    let Ok(dir) = std::fs::read_dir(format!("/proc/{tid}/fd")) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|entry| {
            let link = std::fs::read_link(entry.path()).ok()?;
            socket_link(link.as_os_str().as_bytes())
        })
        .collect()
}

/// What the sentry reads of a socket it holds a duplicate of: its inode, kind and charge.
/// Sockets of other families than AF_UNIX get fixed buffers first (see the module's
/// comment) when `defaults` (the host's wmem_default, rmem_default) are given.
pub fn examine(
    sock: &std::os::fd::OwnedFd,
    defaults: Option<(u64, u64)>,
) -> Option<(SockIno, Charged)> {
    use std::os::fd::AsRawFd;
    let fd = sock.as_raw_fd();
    let st = nix::sys::stat::fstat(fd).ok()?;
    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return None;
    }
    let get = |option: i32| get_int_option(sock, option).ok().map(|v| v.max(0) as u64);
    let kind = match (get(libc::SO_DOMAIN)? as i32, get(libc::SO_TYPE)? as i32) {
        (libc::AF_UNIX, libc::SOCK_DGRAM) => Kind::Dgram,
        (libc::AF_UNIX, _) => Kind::Stream,
        _ => Kind::Other,
    };
    if let (Kind::Other, Some(defaults)) = (kind, defaults) {
        for (option, size) in [(libc::SO_SNDBUF, defaults.0), (libc::SO_RCVBUF, defaults.1)] {
            // The kernel doubles what it is given.
            let half = (size / 2).min(i32::MAX as u64) as i32;
            let _ = set_int_option(sock, libc::SOL_SOCKET, option, half);
        }
    }
    let bytes = bound(kind, get(libc::SO_SNDBUF)?, get(libc::SO_RCVBUF)?);
    Some((
        st.st_ino,
        Charged {
            bytes,
            kind,
            peer: None,
        },
    ))
}

/// The host's default socket buffer sizes (net.core.wmem_default, rmem_default).
pub fn host_defaults() -> (u64, u64) {
    static DEFAULTS: std::sync::OnceLock<(u64, u64)> = std::sync::OnceLock::new();
    *DEFAULTS.get_or_init(|| {
        let read = |name: &str| {
            std::fs::read_to_string(format!("/proc/sys/net/core/{name}"))
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(212_992)
        };
        (read("wmem_default"), read("rmem_default"))
    })
}

/// Whether the AF_UNIX socket with inode `ino` still exists.
pub fn unix_socket_exists(ino: u64) -> bool {
    let Some(nl) = unix_diag_request(false, ino as u32, 0) else {
        return false;
    };
    let mut reply = [0u8; 128];
    // SAFETY: recv writes at most `reply.len()` bytes into memory we own.
    let got = unsafe {
        libc::recv(
            std::os::fd::AsRawFd::as_raw_fd(&nl),
            reply.as_mut_ptr().cast(),
            reply.len(),
            0,
        )
    };
    got >= 6 && u16::from_ne_bytes([reply[4], reply[5]]) == SOCK_DIAG_BY_FAMILY
}

/// The inode of the peer of the AF_UNIX socket with inode `ino`.
pub fn unix_peer(ino: u64) -> Option<u64> {
    unix_diag(ino, Diag::Peer)
}

/// What the kernel's socket diagnostics (NETLINK_SOCK_DIAG; any user may ask) know of the
/// AF_UNIX socket with inode `ino`: its peer's socket inode (`UDIAG_SHOW_PEER`) or the
/// inode of the file it is bound to (`UDIAG_SHOW_VFS`: an accepted socket shares its
/// listener's).
#[derive(Clone, Copy)]
pub enum Diag {
    Peer,
    BoundFile,
}

pub fn unix_diag(ino: u64, ask: Diag) -> Option<u64> {
    let (show, attribute): (u32, u16) = match ask {
        Diag::BoundFile => (0x2, 1), // UDIAG_SHOW_VFS, UNIX_DIAG_VFS
        Diag::Peer => (0x4, 2),      // UDIAG_SHOW_PEER, UNIX_DIAG_PEER
    };
    let nl = unix_diag_request(false, ino as u32, show)?;
    let mut reply = [0u8; 512];
    // SAFETY: recv writes at most `reply.len()` bytes into memory we own.
    let got = unsafe {
        libc::recv(
            std::os::fd::AsRawFd::as_raw_fd(&nl),
            reply.as_mut_ptr().cast(),
            reply.len(),
            0,
        )
    };
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

/// Whether a call on the task's socket would wait: the socket blocks (no O_NONBLOCK) and the
/// call's flags do not ask otherwise.
pub fn blocks(sock: &std::os::fd::OwnedFd, call_flags: i32) -> bool {
    let file = nix::fcntl::fcntl(
        std::os::fd::AsRawFd::as_raw_fd(sock),
        nix::fcntl::FcntlArg::F_GETFL,
    )
    .unwrap_or(0);
    file & libc::O_NONBLOCK == 0 && call_flags & libc::MSG_DONTWAIT == 0
}

/// The socket's SO_SNDTIMEO in milliseconds for poll(2) (-1: none).
pub fn send_timeout_ms(sock: &std::os::fd::OwnedFd) -> i32 {
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    let mut len = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
    // SAFETY: getsockopt writes one timeval into memory we own.
    let rc = unsafe {
        libc::getsockopt(
            std::os::fd::AsRawFd::as_raw_fd(sock),
            libc::SOL_SOCKET,
            libc::SO_SNDTIMEO,
            (&mut tv as *mut libc::timeval).cast(),
            &mut len,
        )
    };
    if rc < 0 || (tv.tv_sec == 0 && tv.tv_usec == 0) {
        return -1;
    }
    (tv.tv_sec * 1000 + tv.tv_usec / 1000).clamp(1, i32::MAX as i64) as i32
}

/// Writes the socket address `bytes` at `addr` for a caller whose buffer holds `*len_addr`
/// bytes, as the kernel does: truncated to the buffer, and `*len_addr` set to the whole size.
pub fn write_name(
    mem: &dyn crate::host::TaskMemory,
    tid: platform_ptrace::Tid,
    bytes: &[u8],
    addr: u64,
    len_addr: u64,
) -> Result<(), nix::errno::Errno> {
    use nix::errno::Errno;
    let mut len = [0u8; 4];
    mem.read(tid, len_addr, &mut len)
        .map_err(|_| Errno::EFAULT)?;
    let room = i32::from_ne_bytes(len);
    if room < 0 {
        return Err(Errno::EINVAL);
    }
    let n = (room as usize).min(bytes.len());
    mem.write(tid, addr, &bytes[..n])
        .map_err(|_| Errno::EFAULT)?;
    mem.write(tid, len_addr, &(bytes.len() as u32).to_ne_bytes())
        .map_err(|_| Errno::EFAULT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charged(kind: Kind, peer: Option<SockIno>) -> Charged {
        Charged {
            bytes: 1000,
            kind,
            peer,
        }
    }

    fn listed(kind: Kind, peer: Option<SockIno>, queued: bool) -> Listed {
        Listed { kind, peer, queued }
    }

    #[test]
    fn a_held_or_listed_socket_keeps_its_charge() {
        let tracked: HashMap<_, _> = [
            (1, charged(Kind::Stream, None)),
            (2, charged(Kind::Other, None)),
            (3, charged(Kind::Other, None)),
        ]
        .into_iter()
        .collect();
        let mut census = Census::default();
        census.unix.insert(1, listed(Kind::Stream, None, false));
        census.held.insert(2);
        assert_eq!(releasable(&tracked, &census), vec![3]);
        census.other.insert(3);
        assert!(releasable(&tracked, &census).is_empty());
    }

    #[test]
    fn a_gone_sender_is_charged_while_its_peer_holds_data() {
        let tracked: HashMap<_, _> = [
            (1, charged(Kind::Stream, Some(2))),
            (2, charged(Kind::Stream, Some(1))),
        ]
        .into_iter()
        .collect();
        let mut census = Census::default();
        census.unix.insert(2, listed(Kind::Stream, None, true));
        assert!(releasable(&tracked, &census).is_empty());
        census.unix.insert(2, listed(Kind::Stream, None, false));
        assert_eq!(releasable(&tracked, &census), vec![1]);
    }

    #[test]
    fn a_gone_socket_without_a_known_peer_waits_for_every_queue_of_its_kind() {
        let tracked: HashMap<_, _> = [
            (1, charged(Kind::Stream, None)),
            (2, charged(Kind::Stream, None)),
            (5, charged(Kind::Dgram, None)),
            (6, charged(Kind::Dgram, None)),
        ]
        .into_iter()
        .collect();
        let mut census = Census::default();
        // A listener with a connection waiting: the gone client's data may be in it.
        census.unix.insert(2, listed(Kind::Stream, None, true));
        census.unix.insert(6, listed(Kind::Dgram, None, false));
        assert!(releasable(&tracked, &census).is_empty());
        census.unix.remove(&6);
        let mut gone = releasable(&tracked, &census);
        gone.sort();
        assert_eq!(gone, vec![5, 6]);
        census.unix.insert(2, listed(Kind::Stream, None, false));
        let mut gone = releasable(&tracked, &census);
        gone.sort();
        assert_eq!(gone, vec![1, 5, 6]);
    }

    #[test]
    fn bounds() {
        assert_eq!(bound(Kind::Stream, 212992, 212992), 425984);
        assert_eq!(bound(Kind::Other, 100, 50), 300);
        assert_eq!(bound(Kind::Other, u64::MAX, 1), u64::MAX);
    }
}

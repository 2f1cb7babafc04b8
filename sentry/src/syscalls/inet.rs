//! TCP and UDP over the sandbox's own loopback (`--net none`; the tables are
//! `kernel::loopback`). socket(AF_INET/AF_INET6, SOCK_STREAM or SOCK_DGRAM) gives the task an
//! AF_UNIX socket of that type the sentry made; bind, listen, connect and accept are the
//! sentry's, on its own duplicate of the task's socket, with the address it read once, and
//! so are a datagram's sendto and recvfrom with an address (the sender's port is the socket
//! file it is bound to); getsockname, getpeername and the options of the IP and TCP levels
//! answer from the tables. Stream data and datagrams without addresses never pass through
//! the sentry.
//! Addresses other than loopback or unspecified are refused as in a network namespace with
//! only `lo`: EADDRNOTAVAIL to bind, ENETUNREACH to connect.

use super::{Action, Call, ExitHook};
use crate::kernel::loopback::{self, InetSocket, Proto};
use crate::kernel::sockets;
use nix::errno::Errno;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use syscalls::Sysno;

crate::syscall_entries! {
    // A loopback listener's accept is the sentry's to record.
    accept(fd: Fd, addr: Ptr, len: Ptr) => Checked, |call, _| {
        super::socket_memory::creating(call, accept)
    };
    accept4(fd: Fd, addr: Ptr, len: Ptr, flags: Hex) => Checked, |call, _| {
        super::socket_memory::creating(call, accept)
    };
    listen(fd: Fd, backlog: Int32) => Checked, |call, _| listen(call);
    // A loopback datagram's sender is named by the sentry (stops only with an address
    // under --platform=seccomp: see `filter`).
    recvfrom(fd: Fd, buf: Ptr, len: UInt, flags: Hex, addr: Ptr, addr_len: Ptr) => Checked,
        |call, _| recvfrom(call);
}

/// socket(AF_INET or AF_INET6, type, protocol).
pub fn socket(call: &mut Call) -> Action {
    let family = call.args[0] as i32;
    let kind = call.args[1] as i32;
    // socket(2): the low four bits are the type, the rest flags; a type past SOCK_PACKET or
    // another flag is EINVAL.
    const SOCK_MAX: i32 = 11;
    let (base, flags) = (kind & 0xf, kind & !0xf);
    if flags & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) != 0 || base >= SOCK_MAX {
        return Action::Return(-(Errno::EINVAL as i64));
    }
    let protocol = call.args[2] as i32;
    let refuse = |call: &Call, e: Errno, why: &str| {
        super::deny_event(call, e as i32, why);
        Action::Return(-(e as i64))
    };
    let proto = match base {
        libc::SOCK_STREAM if protocol == 0 || protocol == libc::IPPROTO_TCP => Proto::Tcp,
        libc::SOCK_DGRAM if protocol == 0 || protocol == libc::IPPROTO_UDP => Proto::Udp,
        libc::SOCK_STREAM | libc::SOCK_DGRAM => {
            return Action::Return(-(Errno::EPROTONOSUPPORT as i64))
        }
        libc::SOCK_RAW => return refuse(call, Errno::EPERM, "raw sockets need privilege"),
        // SOCK_SEQPACKET, SOCK_RDM, SOCK_DCCP, SOCK_PACKET: no such protocol of the family.
        _ => return Action::Return(-(Errno::ESOCKTNOSUPPORT as i64)),
    };
    // SAFETY: socket takes plain integers and returns a new fd or -1.
    let fd = unsafe { libc::socket(libc::AF_UNIX, base | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Action::Return(-(Errno::last() as i64));
    }
    // SAFETY: the fd was just made and is ours alone.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    if flags & libc::SOCK_NONBLOCK != 0 {
        let _ = nix::fcntl::fcntl(
            sock.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
    }
    let Ok(st) = nix::sys::stat::fstat(sock.as_raw_fd()) else {
        return Action::Return(-(Errno::EMFILE as i64));
    };
    call.kernel.loopback.sockets.insert(
        st.st_ino,
        InetSocket {
            family,
            proto,
            ..InetSocket::default()
        },
    );
    Action::Install {
        fd: sock,
        cloexec: flags & libc::SOCK_CLOEXEC != 0,
    }
}

/// The inode of the task's socket `fd`, if it is one of the loopback's.
pub fn emulated(call: &Call, sock: &OwnedFd) -> Option<u64> {
    let ino = nix::sys::stat::fstat(sock.as_raw_fd()).ok()?.st_ino;
    call.kernel
        .loopback
        .sockets
        .contains_key(&ino)
        .then_some(ino)
}

fn read_addr(call: &Call, at: u64, len: u64) -> Result<Vec<u8>, Errno> {
    if len > std::mem::size_of::<libc::sockaddr_storage>() as u64 {
        return Err(Errno::EINVAL);
    }
    let mut bytes = vec![0u8; len as usize];
    call.kernel
        .mem
        .read(call.tid, at, &mut bytes)
        .map_err(|_| Errno::EFAULT)?;
    Ok(bytes)
}

/// The table's record of the loopback socket `ino` (one the caller looked up).
fn record<'a>(call: &'a mut Call, ino: u64) -> &'a mut InetSocket {
    call.kernel
        .loopback
        .sockets
        .get_mut(&ino)
        .expect("a socket the caller looked up")
}

/// The protocol of the loopback socket `ino`.
fn proto_of(call: &Call, ino: u64) -> Proto {
    call.kernel.loopback.sockets[&ino].proto
}

/// Binds the sentry's duplicate `sock` (inode `ino`) to `port`'s socket file.
fn bind_port(call: &mut Call, sock: &OwnedFd, ino: u64, port: u16) -> Result<(), Errno> {
    let proto = proto_of(call, ino);
    call.kernel.loopback.dir.made().map_err(|_| Errno::EIO)?;
    let path = call.kernel.loopback.path_of(proto, port);
    let _ = std::fs::remove_file(&path);
    let addr = nix::sys::socket::UnixAddr::new(&path).map_err(|_| Errno::ENAMETOOLONG)?;
    nix::sys::socket::bind(sock.as_raw_fd(), &addr)?;
    call.kernel.loopback.ports.insert((proto, port), ino);
    Ok(())
}

/// A free port: the one asked for, or an ephemeral one for 0.
fn claim(call: &mut Call, proto: Proto, port: u16) -> Result<u16, Errno> {
    let lo = &mut call.kernel.loopback;
    if port == 0 {
        return lo
            .ephemeral(proto, sockets::unix_socket_exists)
            .ok_or(Errno::EADDRINUSE);
    }
    if !lo.free(proto, port, sockets::unix_socket_exists) {
        return Err(Errno::EADDRINUSE);
    }
    Ok(port)
}

/// Gives an unbound socket an ephemeral port of the loopback's address, as Linux does before
/// a connect or a send (a datagram's receiver learns its sender from the socket file).
fn autobind(call: &mut Call, sock: &OwnedFd, ino: u64) -> Result<(), Errno> {
    if call.kernel.loopback.sockets[&ino].local.is_some() {
        return Ok(());
    }
    let proto = proto_of(call, ino);
    let port = claim(call, proto, 0)?;
    match proto {
        Proto::Udp => bind_port(call, sock, ino, port)?,
        // A TCP client's port needs no socket file: nothing connects to it.
        Proto::Tcp => {
            call.kernel.loopback.ports.insert((proto, port), ino);
        }
    }
    let family = call.kernel.loopback.sockets[&ino].family;
    let record = record(call, ino);
    record.local = Some(SocketAddr::new(loopback::loopback_of(family), port));
    Ok(())
}

/// bind and connect of a loopback socket.
pub fn connect_or_bind(call: &mut Call, sock: &OwnedFd, ino: u64) -> Result<Action, Errno> {
    let bytes = read_addr(call, call.args[1], call.args[2])?;
    let family = call.kernel.loopback.sockets[&ino].family;
    // As inet_bind/inet6_bind and the connects check: the length first, then the family.
    let least = if family == libc::AF_INET6 { 24 } else { 16 };
    if bytes.len() < least.min(16) || (call.sysno == Sysno::bind && bytes.len() < least) {
        return Err(Errno::EINVAL);
    }
    let given = u16::from_ne_bytes([bytes[0], bytes[1]]) as i32;
    let mapped = family == libc::AF_INET6 && given == libc::AF_INET && call.sysno == Sysno::connect;
    if given != family && !mapped {
        return Err(Errno::EAFNOSUPPORT);
    }
    let addr = loopback::parse(&bytes).ok_or(Errno::EINVAL)?;
    if call.sysno == Sysno::bind {
        if call.kernel.loopback.sockets[&ino].local.is_some() {
            return Err(Errno::EINVAL);
        }
        if !loopback::is_local(addr.ip()) {
            return Err(Errno::EADDRNOTAVAIL);
        }
        let port = claim(call, proto_of(call, ino), addr.port())?;
        bind_port(call, sock, ino, port)?;
        let record = record(call, ino);
        record.local = Some(SocketAddr::new(addr.ip(), port));
        return Ok(Action::Return(0));
    }
    let target = addr;
    if call.kernel.loopback.sockets[&ino].peer.is_some() {
        return Err(Errno::EISCONN);
    }
    if !loopback::is_local(target.ip()) {
        return Err(Errno::ENETUNREACH);
    }
    let proto = proto_of(call, ino);
    // A TCP peer must listen; a UDP one must be bound (Linux would accept the connect and
    // report the refusal on a later call: the sentry refuses at once).
    let ready = call
        .kernel
        .loopback
        .ports
        .get(&(proto, target.port()))
        .copied()
        .filter(|&l| sockets::unix_socket_exists(l))
        .and_then(|l| call.kernel.loopback.sockets.get(&l))
        .is_some_and(|l| l.listening || proto == Proto::Udp);
    if !ready || target.port() == 0 {
        return Err(Errno::ECONNREFUSED);
    }
    // The client's own address: an ephemeral port, reserved while it lives.
    autobind(call, sock, ino)?;
    let path = call.kernel.loopback.path_of(proto, target.port());
    let to = nix::sys::socket::UnixAddr::new(&path).map_err(|_| Errno::ENAMETOOLONG)?;
    // The file is shared with the task: non-blocking only for this connect, which a
    // listening AF_UNIX socket with room in its backlog completes at once.
    let fd = sock.as_raw_fd();
    let file = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL).map_err(|_| Errno::EBADF)?;
    let set = |flags: i32| {
        nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::from_bits_truncate(flags)),
        )
    };
    set(file | libc::O_NONBLOCK).map_err(|_| Errno::EBADF)?;
    let result = nix::sys::socket::connect(fd, &to);
    let _ = set(file);
    match result {
        Ok(()) => {}
        // A full backlog: Linux's SYN would be dropped and sent again; refused here.
        Err(Errno::EAGAIN) => return Err(Errno::ECONNREFUSED),
        Err(e) => return Err(e),
    }
    let shown = if target.ip().is_unspecified() {
        SocketAddr::new(loopback::loopback_of(family), target.port())
    } else {
        target
    };
    let record = record(call, ino);
    record.peer = Some(loopback::shown_as(shown, family));
    Ok(Action::Return(0))
}

/// listen(fd, backlog): a socket with no port gets an ephemeral one first, as Linux's.
fn listen(call: &mut Call) -> Action {
    let result = (|| -> Result<Action, Errno> {
        let Ok(sock) = call.task_fd(call.args[0] as i32) else {
            return Ok(Action::Pass);
        };
        let Some(ino) = emulated(call, &sock) else {
            return Ok(Action::Pass);
        };
        if proto_of(call, ino) == Proto::Udp {
            return Err(Errno::EOPNOTSUPP);
        }
        if call.kernel.loopback.sockets[&ino].local.is_none() {
            let port = claim(call, Proto::Tcp, 0)?;
            bind_port(call, &sock, ino, port)?;
            let family = call.kernel.loopback.sockets[&ino].family;
            let record = record(call, ino);
            record.local = Some(SocketAddr::new(loopback::unspecified_of(family), port));
        }
        let record = record(call, ino);
        if record.peer.is_some() {
            return Err(Errno::EINVAL);
        }
        record.listening = true;
        Ok(Action::Pass)
    })();
    result.unwrap_or_else(|e| Action::Return(-(e as i64)))
}

/// accept/accept4 on a loopback listener: the kernel accepts with no address (it would write
/// an AF_UNIX one); the sentry records the new socket and writes the peer's inet address.
/// On an AF_UNIX listener the peer's address is put in the sandbox's terms at the exit stop
/// (but under memory accounting, whose own exit stop charges the new socket: there it is
/// the kernel's, the last component of the path the peer bound).
fn accept(call: &mut Call) -> Action {
    let Ok(sock) = call.task_fd(call.args[0] as i32) else {
        return Action::Pass;
    };
    let Some(listener) = emulated(call, &sock) else {
        let named = super::unix_address::UnixNamed::AcceptedPeer;
        let wants_address = call.args[1] != 0 && !call.kernel.memory.active();
        if wants_address && super::unix_address::is_unix(&sock) {
            let (addr, len_at) = (call.args[1], call.args[2]);
            return super::unix_address::unix_address_at_exit(call, named, addr, len_at);
        }
        return Action::Pass;
    };
    let mut args = call.args;
    args[1] = 0;
    args[2] = 0;
    Action::PassWithThenExit(
        args,
        ExitHook::Accepted {
            listener,
            addr: call.args[1],
            len: call.args[2],
        },
    )
}

/// The exit stop of an accept on a loopback listener that returned `rval`.
pub fn accepted(
    k: &mut crate::kernel::Kernel,
    tid: platform_ptrace::Tid,
    listener: u64,
    (addr, len): (u64, u64),
    rval: i64,
) {
    if rval < 0 {
        return;
    }
    let Ok(sock) = crate::host::task_fd(k.tgid_of(tid), rval as i32) else {
        return;
    };
    let Ok(st) = nix::sys::stat::fstat(sock.as_raw_fd()) else {
        return;
    };
    let Some(family) = k.loopback.sockets.get(&listener).map(|l| l.family) else {
        return;
    };
    let client_ino = sockets::unix_peer(st.st_ino);
    let client = client_ino.and_then(|c| k.loopback.sockets.get(&c));
    let published = client_ino.and_then(|c| {
        let mut relayed = k.loopback.published.lock().ok()?;
        relayed.remove(&c)
    });
    let listening_on = k.loopback.sockets[&listener].local;
    let (local, peer) = match (client, published) {
        (Some(c), _) => (c.peer, c.local),
        // A connection `--publish` relays from the host: the host client's port.
        (None, Some(host)) => (
            listening_on.map(|l| SocketAddr::new(loopback::loopback_of(family), l.port())),
            Some(SocketAddr::new(loopback::loopback_of(family), host.port())),
        ),
        (None, None) => (listening_on, None),
    };
    let record = InetSocket {
        family,
        local: local.map(|a| loopback::shown_as(a, family)),
        peer: peer.map(|a| loopback::shown_as(a, family)),
        ..InetSocket::default()
    };
    let shown = record.peer;
    k.loopback.sockets.insert(st.st_ino, record);
    if addr != 0 {
        if let Some(peer) = shown {
            let _ = write_name(k, tid, peer, addr, len);
        }
    }
}

/// Writes `name` at `addr` for a caller whose buffer holds `*len` bytes, as the kernel does:
/// truncated to the buffer, and `*len` set to the whole size.
pub(super) fn write_name(
    k: &crate::kernel::Kernel,
    tid: platform_ptrace::Tid,
    name: SocketAddr,
    addr: u64,
    len_addr: u64,
) -> Result<(), Errno> {
    sockets::write_name(&*k.mem, tid, &loopback::encode(name), addr, len_addr)
}

/// getsockname, getpeername of a loopback socket.
pub fn name(call: &mut Call, ino: u64) -> Action {
    let record = &call.kernel.loopback.sockets[&ino];
    let name = if call.sysno == Sysno::getpeername {
        match record.peer {
            Some(peer) => peer,
            None => return Action::Return(-(Errno::ENOTCONN as i64)),
        }
    } else {
        record
            .local
            .unwrap_or_else(|| SocketAddr::new(loopback::unspecified_of(record.family), 0))
    };
    match write_name(call.kernel, call.tid, name, call.args[1], call.args[2]) {
        Ok(()) => Action::Return(0),
        Err(e) => Action::Return(-(e as i64)),
    }
}

/// Whether the option is one the AF_UNIX socket does not have and the sentry keeps: those
/// of the IP and TCP levels, and SO_REUSEPORT (inet sockets only, in Linux).
fn kept(level: i32, name: i32) -> bool {
    matches!(
        level,
        libc::IPPROTO_IP | libc::IPPROTO_IPV6 | libc::IPPROTO_TCP
    ) || (level == libc::SOL_SOCKET && name == libc::SO_REUSEPORT)
}

/// setsockopt of a loopback socket: options of the IP and TCP levels are remembered (the
/// data path is the host's AF_UNIX socket, which has none); SOL_SOCKET ones are the host's.
pub fn setsockopt(call: &mut Call, ino: u64) -> Option<Action> {
    let (level, name) = (call.args[1] as i32, call.args[2] as i32);
    if !kept(level, name) {
        return None;
    }
    if (call.args[4] as u32) < 4 {
        return Some(Action::Return(-(Errno::EINVAL as i64)));
    }
    let mut value = [0u8; 4];
    if call
        .kernel
        .mem
        .read(call.tid, call.args[3], &mut value)
        .is_err()
    {
        return Some(Action::Return(-(Errno::EFAULT as i64)));
    }
    let record = call.kernel.loopback.sockets.get_mut(&ino)?;
    record
        .options
        .insert((level, name), i32::from_ne_bytes(value));
    Some(Action::Return(0))
}

/// getsockopt of a loopback socket: the family and protocol it was made with, and the
/// options of the IP and TCP levels the sentry keeps (0 when never set).
pub fn getsockopt(call: &mut Call, ino: u64) -> Option<Action> {
    let (level, name) = (call.args[1] as i32, call.args[2] as i32);
    let record = call.kernel.loopback.sockets.get(&ino)?;
    let value = match (level, name) {
        (libc::SOL_SOCKET, libc::SO_DOMAIN) => record.family,
        (libc::SOL_SOCKET, libc::SO_PROTOCOL) => match record.proto {
            Proto::Tcp => libc::IPPROTO_TCP,
            Proto::Udp => libc::IPPROTO_UDP,
        },
        (level, name) if kept(level, name) => {
            record.options.get(&(level, name)).copied().unwrap_or(0)
        }
        _ => return None,
    };
    let mut len = [0u8; 4];
    let mem = &call.kernel.mem;
    if mem.read(call.tid, call.args[4], &mut len).is_err() {
        return Some(Action::Return(-(Errno::EFAULT as i64)));
    }
    let room = i32::from_ne_bytes(len);
    if room < 0 {
        return Some(Action::Return(-(Errno::EINVAL as i64)));
    }
    let n = (room as usize).min(4);
    let written = mem
        .write(call.tid, call.args[3], &value.to_ne_bytes()[..n])
        .and_then(|()| mem.write(call.tid, call.args[4], &(n as u32).to_ne_bytes()));
    Some(match written {
        Ok(()) => Action::Return(0),
        Err(_) => Action::Return(-(Errno::EFAULT as i64)),
    })
}

/// sendto(fd, buf, len, flags, addr, addrlen) of a loopback datagram socket: made by the
/// sentry on its duplicate, to the receiver's socket file, with its own copy of the data.
/// Nobody bound at the port: the datagram is lost, as Linux's to a closed port.
pub fn sendto(call: &mut Call, sock: &OwnedFd, ino: u64) -> Result<Action, Errno> {
    if proto_of(call, ino) == Proto::Tcp {
        // A stream socket ignores the address, as TCP's does.
        return Ok(Action::PassWith({
            let mut args = call.args;
            args[4] = 0;
            args[5] = 0;
            args
        }));
    }
    let bytes = read_addr(call, call.args[4], call.args[5])?;
    let len = (call.args[2] as usize).min(65507);
    let mut data = vec![0u8; len];
    call.kernel
        .mem
        .read(call.tid, call.args[1], &mut data)
        .map_err(|_| Errno::EFAULT)?;
    send_datagram(call, sock, ino, &data, &bytes, call.args[3] as i32)
}

/// Whether the loopback socket `ino` is a datagram (UDP) one.
pub fn is_datagram(call: &Call, ino: u64) -> bool {
    proto_of(call, ino) == Proto::Udp
}

/// Sends `data` from the loopback datagram socket `ino` to the address `bytes` (the task's
/// sockaddr), on the sentry's duplicate `sock`: sendto's and sendmsg's.
pub fn send_datagram(
    call: &mut Call,
    sock: &OwnedFd,
    ino: u64,
    data: &[u8],
    bytes: &[u8],
    flags: i32,
) -> Result<Action, Errno> {
    let family = call.kernel.loopback.sockets[&ino].family;
    if bytes.len() < 16 {
        return Err(Errno::EINVAL);
    }
    let given = u16::from_ne_bytes([bytes[0], bytes[1]]) as i32;
    if given != family && !(family == libc::AF_INET6 && given == libc::AF_INET) {
        return Err(Errno::EAFNOSUPPORT);
    }
    let target = loopback::parse(bytes).ok_or(Errno::EINVAL)?;
    if !loopback::is_local(target.ip()) {
        return Err(Errno::ENETUNREACH);
    }
    if data.len() > 65507 {
        return Err(Errno::EMSGSIZE);
    }
    let len = data.len();
    autobind(call, sock, ino)?;
    let bound = call
        .kernel
        .loopback
        .ports
        .get(&(Proto::Udp, target.port()))
        .is_some_and(|&r| sockets::unix_socket_exists(r));
    if !bound {
        return Ok(Action::Return(len as i64));
    }
    let path = call.kernel.loopback.path_of(Proto::Udp, target.port());
    let to = nix::sys::socket::UnixAddr::new(&path).map_err(|_| Errno::ENAMETOOLONG)?;
    let blocking = sockets::blocks(sock, flags);
    let flags = flags | libc::MSG_DONTWAIT;
    match nix::sys::socket::sendto(
        sock.as_raw_fd(),
        data,
        &to,
        nix::sys::socket::MsgFlags::from_bits_truncate(flags),
    ) {
        Ok(n) => Ok(Action::Return(n as i64)),
        Err(Errno::EAGAIN) if blocking => Ok(Action::WaitReady {
            fd: call.args[0] as i32,
            events: libc::POLLOUT,
            timeout_ms: sockets::send_timeout_ms(sock),
            then: super::Ready::Rerun,
        }),
        // The receiver went away meanwhile: lost, as above.
        Err(Errno::ECONNREFUSED | Errno::ENOENT) => Ok(Action::Return(len as i64)),
        Err(e) => Err(e),
    }
}

/// recvfrom(fd, buf, len, flags, addr, addrlen) with an address, on a loopback datagram
/// socket: made by the sentry, which names the sender by the port of its socket file. On
/// an AF_UNIX socket the task's own call, whose sender's address is put in the sandbox's
/// terms at the exit stop. Anything else is the task's own call.
fn recvfrom(call: &mut Call) -> Action {
    if call.args[4] == 0 {
        return Action::Pass;
    }
    let Ok(sock) = call.task_fd(call.args[0] as i32) else {
        return Action::Pass;
    };
    let netlink = super::netlink::emulated(call, &sock);
    let ino = match emulated(call, &sock) {
        Some(ino) if proto_of(call, ino) == Proto::Udp => Some(ino),
        _ if netlink.is_some() => None,
        _ if super::unix_address::is_unix(&sock) => {
            let named = super::unix_address::UnixNamed::Sender;
            let (addr, len_at) = (call.args[4], call.args[5]);
            return super::unix_address::unix_address_at_exit(call, named, addr, len_at);
        }
        _ => return Action::Pass,
    };
    let result = (|| -> Result<Action, Errno> {
        let len = (call.args[2] as usize).min(65536);
        let mut data = vec![0u8; len];
        let flags = call.args[3] as i32;
        let mut from: libc::sockaddr_un = unsafe_zeroed();
        let mut from_len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
        // SAFETY: recvfrom writes at most `len` bytes into `data` and one sockaddr_un into
        // `from`, all memory we own.
        let n = unsafe {
            libc::recvfrom(
                sock.as_raw_fd(),
                data.as_mut_ptr().cast(),
                len,
                flags | libc::MSG_DONTWAIT,
                (&mut from as *mut libc::sockaddr_un).cast(),
                &mut from_len,
            )
        };
        if n < 0 {
            let e = Errno::last();
            if e == Errno::EAGAIN && sockets::blocks(&sock, flags) {
                return Ok(Action::WaitReady {
                    fd: call.args[0] as i32,
                    events: libc::POLLIN,
                    timeout_ms: -1,
                    then: super::Ready::Rerun,
                });
            }
            return Err(e);
        }
        let n = n as usize;
        call.kernel
            .mem
            .write(call.tid, call.args[1], &data[..n.min(len)])
            .map_err(|_| Errno::EFAULT)?;
        let name = match ino {
            Some(ino) => loopback::encode(sender_of(call, ino, &from)),
            None => super::netlink::sender(),
        };
        sockets::write_name(
            &*call.kernel.mem,
            call.tid,
            &name,
            call.args[4],
            call.args[5],
        )?;
        Ok(Action::Return(n as i64))
    })();
    result.unwrap_or_else(|e| Action::Return(-(e as i64)))
}

/// The loopback address of the sender of a datagram that came from the socket file `from`
/// (port 0 if it is not one of the sandbox's ports).
pub fn sender_of(call: &Call, ino: u64, from: &libc::sockaddr_un) -> SocketAddr {
    let path: Vec<u8> = from
        .sun_path
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    let port = call
        .kernel
        .loopback
        .port_of(std::path::Path::new(std::ffi::OsStr::from_bytes(&path)));
    let family = call.kernel.loopback.sockets[&ino].family;
    SocketAddr::new(loopback::loopback_of(family), port.unwrap_or(0))
}

/// An all-zero sockaddr_un.
pub(super) fn unsafe_zeroed() -> libc::sockaddr_un {
    // SAFETY: sockaddr_un is plain data; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

//! Sockets. `socket`/`socketpair`: with `--net=none` the sandbox gets AF_UNIX only.
//!
//! No socket address the sentry checked is read again by the kernel, and no check holds only
//! for the socket an fd number named at the time (another thread can re-point the number):
//! - `connect`/`bind` are made by the sentry on its own duplicate of the task's socket
//!   (pidfd_getfd), with the address it read once: AF_UNIX paths through the gofer, abstract
//!   names under the sandbox's private prefix, other families (`--net host`) as given.
//! - A send that carries an address or control data is made by the sentry on its
//!   duplicate, with its own copy of the address, the data and the control messages (the
//!   fds of SCM_RIGHTS taken from the task); a send that carries neither becomes a call
//!   whose address is a register the sentry set to none (sendto or writev).
//! - When such a call of the sentry's would block and the task's socket blocks, the task
//!   waits in poll(2) on its own fd and then makes its call again (`Action::WaitReady`).

use super::unix_address::{is_unix, unix_address_at_exit, UnixNamed};
use super::vfs::{files, resolve};
use super::{deny_event, Action, Call, ExitHook};
use crate::kernel::sockets::{self, Diag};
use crate::kernel::NetMode;
use nix::errno::Errno;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use syscalls::Sysno;

/// SO_PASSPIDFD and SO_PEERPIDFD (Linux 6.5): pidfds of a socket's senders and peer.
pub const SO_PASSPIDFD: i32 = 76;
pub const SO_PEERPIDFD: i32 = 77;

/// One past the highest address family Linux knows (AF_MCTP + 1 in 6.x).
const AF_MAX: i32 = 46;

crate::syscall_entries! {
    socket(domain: Domain, kind: Hex, protocol: Int32) => Checked, |call, _| {
        super::socket_memory::creating(call, socket)
    };
    socketpair(domain: Domain, kind: Hex, protocol: Int32, fds: Ptr) => Checked, |call, _| {
        super::socket_memory::creating(call, |_| Action::Pass)
    };
    setsockopt(fd: Fd, level: Int32, option: Int32, value: Ptr, len: UInt) => Checked,
        |call, _| setsockopt(call);
    // SO_PEERCRED names the peer by host pid: translated at the exit stop.
    getsockopt(fd: Fd, level: Int32, option: Int32, value: Ptr, len: Ptr) => Checked,
        |call, _| getsockopt(call);
    getsockname(fd: Fd, addr: Ptr, len: Ptr) => Checked, |call, _| fix_address_at_exit(call);
    getpeername(fd: Fd, addr: Ptr, len: Ptr) => Checked, |call, _| fix_address_at_exit(call);
    // SCM_CREDENTIALS received on an AF_UNIX socket with SO_PASSCRED name the sender by
    // host pid and ids: translated at the exit stop.
    recvmsg(fd: Fd, msg: Ptr, flags: Hex) => Checked, |call, _| receive(call);
    recvmmsg(fd: Fd, msgs: Ptr, count: UInt, flags: Hex, timeout: Ptr) => Checked,
        |call, _| receive(call);
    // An address can be a path: made by the sentry, with the address it read once.
    connect(fd: Fd, addr: Ptr, len: Int) => Gofer, |call, a| {
        super::vfs::by_path(call, a, |c, _| connect_or_bind(c))
    };
    bind(fd: Fd, addr: Ptr, len: Int) => Gofer, |call, a| {
        super::vfs::by_path(call, a, |c, _| connect_or_bind(c))
    };
    sendto(fd: Fd, buf: Ptr, len: UInt, flags: Hex, addr: Ptr, addr_len: Int) => Gofer,
        |call, a| super::vfs::by_path(call, a, sendto);
    sendmsg(fd: Fd, msg: Ptr, flags: Hex) => Gofer, |call, a| {
        super::vfs::by_path(call, a, sendmsg)
    };
    sendmmsg(fd: Fd, msgs: Ptr, count: UInt, flags: Hex) => Gofer, |call, a| {
        super::vfs::by_path(call, a, sendmmsg)
    };
}

fn socket(call: &mut Call) -> Action {
    let domain = call.args[0] as i32;
    if call.kernel.net == NetMode::None && matches!(domain, libc::AF_INET | libc::AF_INET6) {
        return super::inet::socket(call);
    }
    const NETLINK_ROUTE: u64 = 0;
    if call.kernel.net == NetMode::None
        && domain == libc::AF_NETLINK
        && call.args[2] == NETLINK_ROUTE
    {
        return super::netlink::socket(call);
    }
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

/// The socket inode behind the task's fd `fd` (ENOTSOCK for another file).
fn socket_inode(call: &Call, fd: i32) -> Result<u64, Errno> {
    let sock = call.task_fd(fd).map_err(|_| Errno::EBADF)?;
    let st = nix::sys::stat::fstat(sock.as_raw_fd()).map_err(|_| Errno::EBADF)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(Errno::ENOTSOCK);
    }
    Ok(st.st_ino)
}

/// setsockopt(SOL_SOCKET, SO_PASSCRED): recorded by the sentry only.
fn passcred_set(call: &mut Call) -> Result<Action, Errno> {
    let ino = socket_inode(call, call.args[0] as i32)?;
    if (call.args[4] as u32) < 4 {
        return Err(Errno::EINVAL);
    }
    let mut raw = [0u8; 4];
    call.kernel
        .mem
        .read(call.tid, call.args[3], &mut raw)
        .map_err(|_| Errno::EFAULT)?;
    if i32::from_ne_bytes(raw) != 0 {
        call.kernel.passcred.insert(ino);
    } else {
        call.kernel.passcred.remove(&ino);
    }
    Ok(Action::Return(0))
}

/// getsockopt(SOL_SOCKET, SO_PASSCRED): what the sandbox set.
fn passcred_get(call: &mut Call) -> Result<Action, Errno> {
    let ino = socket_inode(call, call.args[0] as i32)?;
    let mut len = [0u8; 4];
    call.kernel
        .mem
        .read(call.tid, call.args[4], &mut len)
        .map_err(|_| Errno::EFAULT)?;
    let len = i32::from_ne_bytes(len);
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    let value = i32::from(call.kernel.passcred.contains(&ino)).to_ne_bytes();
    let n = (len as usize).min(4);
    let mem = &call.kernel.mem;
    mem.write(call.tid, call.args[3], &value[..n])
        .and_then(|()| mem.write(call.tid, call.args[4], &(n as i32).to_ne_bytes()))
        .map_err(|_| Errno::EFAULT)?;
    Ok(Action::Return(0))
}

/// getsockname, getpeername: an AF_UNIX address the kernel writes is put in the sandbox's
/// terms at the exit stop.
fn fix_address_at_exit(call: &mut Call) -> Action {
    if let Some(ino) = loopback_socket(call) {
        return super::inet::name(call, ino);
    }
    if let Some(ino) = call
        .task_fd(call.args[0] as i32)
        .ok()
        .and_then(|sock| super::netlink::emulated(call, &sock))
    {
        return super::netlink::name(call, ino);
    }
    let fd = call.args[0] as i32;
    let named = match call.sysno {
        Sysno::getpeername => UnixNamed::Peer(fd),
        _ => UnixNamed::Own(fd),
    };
    unix_address_at_exit(call, named, call.args[1], call.args[2])
}

/// getsockopt: SO_PEERCRED is the sentry's (`peer_credentials`); SO_PEERPIDFD is refused
/// (a pidfd of a peer names a host process); SO_PASSCRED is the sentry's (see `setsockopt`).
fn getsockopt(call: &mut Call) -> Action {
    if let Some(ino) = loopback_socket(call) {
        if let Some(done) = super::inet::getsockopt(call, ino) {
            return done;
        }
    }
    if call.args[1] as i32 != libc::SOL_SOCKET {
        return Action::Pass;
    }
    match call.args[2] as i32 {
        libc::SO_PASSCRED => passcred_get(call).unwrap_or_else(|e| Action::Return(-(e as i64))),
        libc::SO_PEERCRED => super::answered(peer_credentials(call, call.args[3], call.args[4])),
        SO_PEERPIDFD => {
            deny_event(
                call,
                libc::ENOPROTOOPT,
                "a pidfd of a peer names a host process",
            );
            Action::Return(-(libc::ENOPROTOOPT as i64))
        }
        _ => Action::Pass,
    }
}

/// getsockopt(fd, SOL_SOCKET, SO_PEERCRED, addr, len), made by the sentry on its own copy of
/// the socket: the kernel's would write the peer's host pid and ids into the task's memory,
/// where another thread could read them before the exit stop put them in the caller's
/// terms. The struct ucred is written as Linux writes it (at most `*len` bytes, then the
/// length), with the peer's number for the caller (0 when it cannot see it) and, for a peer
/// of the sandbox, its ids as the sandbox sees them.
fn peer_credentials(call: &mut Call, addr: u64, len_at: u64) -> Result<(), Errno> {
    let len = call.kernel.mem.read_i32(call.tid, len_at)?;
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    let sock = call.task_fd(call.args[0] as i32)?;
    let mut ucred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut size = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `size` bytes into our ucred, and its length.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut ucred as *mut libc::ucred).cast(),
            &mut size,
        )
    };
    if rc != 0 {
        return Err(Errno::last());
    }
    let (k, tid) = (&*call.kernel, call.tid);
    let host = ucred.pid;
    if host > 0 {
        ucred.pid = k.vpid_for(tid, host);
        if k.tasks.contains_key(&host) {
            let creds = k.creds_of(host);
            (ucred.uid, ucred.gid) = (creds.euid, creds.egid);
        }
    }
    let bytes = [ucred.pid as u32, ucred.uid, ucred.gid]
        .map(u32::to_ne_bytes)
        .concat();
    let len = (len as usize).min(bytes.len());
    k.mem
        .write(tid, addr, &bytes[..len])
        .and_then(|()| k.mem.write(tid, len_at, &(len as i32).to_ne_bytes()))
        .map_err(|_| Errno::EFAULT)
}

/// setsockopt: SO_PASSPIDFD is refused (pidfds of senders name host processes); SO_PASSCRED
/// is kept by the sentry and never set on the host socket (the kernel would put the senders'
/// host pids and ids in SCM_CREDENTIALS, and no check at the call's entry can hold against a
/// thread that swaps the fd or the msghdr before the kernel reads them), so the sandbox
/// receives no SCM_CREDENTIALS; the buffer sizes are charged under a memory limit.
fn setsockopt(call: &mut Call) -> Action {
    if let Some(ino) = loopback_socket(call) {
        if let Some(done) = super::inet::setsockopt(call, ino) {
            return done;
        }
    }
    if call.args[1] as i32 != libc::SOL_SOCKET {
        return Action::Pass;
    }
    match call.args[2] as i32 {
        libc::SO_PASSCRED => passcred_set(call).unwrap_or_else(|e| Action::Return(-(e as i64))),
        SO_PASSPIDFD => {
            deny_event(
                call,
                libc::ENOPROTOOPT,
                "pidfds of senders name host processes",
            );
            Action::Return(-(libc::ENOPROTOOPT as i64))
        }
        libc::SO_SNDBUF | libc::SO_RCVBUF => super::socket_memory::set_buffer(call)
            .unwrap_or_else(|e| Action::Return(-((e as i32) as i64))),
        _ => Action::Pass,
    }
}

fn sockopt(sock: &OwnedFd, option: i32) -> Result<i32, Errno> {
    crate::kernel::sockets::get_int_option(sock, option)
}

/// The inode of the task's socket named by the call's first argument, if it is one of the
/// sandbox's loopback sockets.
fn loopback_socket(call: &Call) -> Option<u64> {
    let sock = call.task_fd(call.args[0] as i32).ok()?;
    super::inet::emulated(call, &sock)
}

fn connect_or_bind(call: &mut Call) -> Result<Action, Errno> {
    let sock = call.task_fd(call.args[0] as i32)?;
    if let Some(ino) = super::inet::emulated(call, &sock) {
        return super::inet::connect_or_bind(call, &sock, ino);
    }
    if let Some(ino) = super::netlink::emulated(call, &sock) {
        // connect names the kernel, the only peer there is.
        return match call.sysno {
            Sysno::bind => super::netlink::bind(call, ino),
            _ => Ok(Action::Return(0)),
        };
    }
    if sockopt(&sock, libc::SO_DOMAIN)? != libc::AF_UNIX {
        return inet_connect_or_bind(call, &sock);
    }
    let len = call.args[2] as usize;
    if !(2..=std::mem::size_of::<libc::sockaddr_un>()).contains(&len) {
        return Err(Errno::EINVAL);
    }
    let mut addr = vec![0u8; len];
    call.kernel
        .mem
        .read(call.tid, call.args[1], &mut addr)
        .map_err(|_| Errno::EFAULT)?;
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
    // A non-root sandbox user needs search on the way and, to bind, write on the
    // directory; to connect, write on the socket (as Linux asks).
    if call.sysno == Sysno::bind {
        super::vfs::check_name_change(call, &target, false)?;
    } else {
        super::vfs::check_open(call, &target, libc::O_WRONLY)?;
    }
    let (index, rel) = (target.gofer_index, target.rel);
    use std::os::fd::AsFd;
    if call.sysno == Sysno::bind {
        files(call)?.bind_unix_fd(index, &rel, sock.as_fd())?;
        // The gofer binds with no permission; the socket file gets Linux's mode now.
        let mode = 0o777 & !super::vfs::umask_of(call);
        files(call)?.chmod(index, &rel, mode)?;
        // The kernel names the socket by what the gofer bound (a name relative to its
        // directory, the same for "s" and "d/s"); the task named it `path`.
        let bound = nix::sys::stat::fstat(sock.as_raw_fd())
            .ok()
            .and_then(|st| sockets::unix_diag(st.st_ino, Diag::BoundFile));
        if let Some(file) = bound {
            call.kernel.unix_names.insert(file, path);
        }
    } else {
        // A name that is not there fails as the connect would, without the gofer process:
        // glibc asks for nscd's socket at every user or group lookup, and hosts rarely
        // run nscd. A socket made meanwhile is one made after this call.
        files(call)?.stat(index, &rel, true)?;
        files(call)?.connect_unix_fd(index, &rel, sock.as_fd())?;
    }
    Ok(Action::Return(0))
}

/// The socket's pending error (SO_ERROR) as a call's result: 0 or a negative errno.
pub fn pending_error(sock: &OwnedFd) -> i64 {
    match sockopt(sock, libc::SO_ERROR) {
        Ok(e) => -(e as i64),
        Err(e) => -(e as i64),
    }
}

/// connect/bind of a socket of another family than AF_UNIX (`--net host`), made by the sentry
/// on its duplicate with the address it read once. A connect that must wait leaves the task
/// waiting in poll(2) on its own fd; the result is then the socket's pending error.
fn inet_connect_or_bind(call: &mut Call, sock: &OwnedFd) -> Result<Action, Errno> {
    let len = call.args[2] as usize;
    if len > std::mem::size_of::<libc::sockaddr_storage>() {
        return Err(Errno::EINVAL);
    }
    let mut addr = vec![0u8; len];
    call.kernel
        .mem
        .read(call.tid, call.args[1], &mut addr)
        .map_err(|_| Errno::EFAULT)?;
    if call.sysno == Sysno::bind {
        refuse_privileged_port(&addr)?;
        return sock_call(call, sock, &addr);
    }
    let fd = sock.as_raw_fd();
    let file = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL).map_err(|_| Errno::EBADF)?;
    let waits = file & libc::O_NONBLOCK == 0;
    // The file is shared with the task: it is non-blocking only for this connect.
    let set = |flags: i32| {
        nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::from_bits_truncate(flags)),
        )
    };
    if waits {
        set(file | libc::O_NONBLOCK).map_err(|_| Errno::EBADF)?;
    }
    let result = sock_call(call, sock, &addr);
    if waits {
        let _ = set(file);
    }
    match result {
        Err(Errno::EINPROGRESS | Errno::EALREADY) if waits => Ok(Action::WaitReady {
            fd: call.args[0] as i32,
            events: libc::POLLOUT,
            timeout_ms: sockets::send_timeout_ms(sock),
            then: super::Ready::ConnectResult,
        }),
        other => other,
    }
}

/// A root sentry binds for tasks that hold no host privilege: a port below the host's
/// ip_unprivileged_port_start is theirs only if they could bind it themselves (EACCES).
fn refuse_privileged_port(addr: &[u8]) -> Result<(), Errno> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || addr.len() < 4 {
        return Ok(());
    }
    let family = u16::from_ne_bytes([addr[0], addr[1]]) as i32;
    if family != libc::AF_INET && family != libc::AF_INET6 {
        return Ok(());
    }
    let port = u16::from_be_bytes([addr[2], addr[3]]);
    let start: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(1024);
    if port != 0 && port < start {
        return Err(Errno::EACCES);
    }
    Ok(())
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

/// sendto (see the module's comment).
fn sendto(call: &mut Call, a: args::sendto) -> Result<Action, Errno> {
    // No address: nothing the kernel reads can name a socket. But a request on the
    // sandbox's netlink socket (send() is sendto without one) is the sentry's to answer.
    if a.addr == 0 && call.kernel.netlink.sockets.is_empty() {
        return Ok(Action::Pass);
    }
    let sock = match socket_of(call, a.fd) {
        Ok(sock) => sock,
        // The kernel gives the same errno for its own send.
        Err(_) if a.addr == 0 => return Ok(Action::Pass),
        Err(e) => return Err(e),
    };
    if let Some(ino) = super::netlink::emulated(call, &sock) {
        let data = read_data(&*call.kernel.mem, call.tid, &[(a.buf, a.len as usize)])?;
        let to = match a.addr {
            0 => None,
            at => Some(read_name(
                &*call.kernel.mem,
                call.tid,
                at,
                a.addr_len as usize,
            )?),
        };
        return super::netlink::send(call, ino, &data, to.as_deref());
    }
    if a.addr == 0 {
        return Ok(Action::Pass);
    }
    if let Some(ino) = super::inet::emulated(call, &sock) {
        return super::inet::sendto(call, &sock, ino);
    }
    let len = a.len as usize;
    let data = read_data(&*call.kernel.mem, call.tid, &[(a.buf, len)])?;
    let name = read_name(&*call.kernel.mem, call.tid, a.addr, a.addr_len as usize)?;
    let msg = OutMessage {
        name: Some(name),
        data,
        control: Vec::new(),
    };
    send_by_sentry(call, &sock, &msg, a.flags as i32)
}

/// sendmsg (see the module's comment).
fn sendmsg(call: &mut Call, a: args::sendmsg) -> Result<Action, Errno> {
    let hdr = MsgHeader::read(&*call.kernel.mem, call.tid, a.msg)?;
    let flags = a.flags as i32;
    if hdr.name_len == 0 && hdr.control_len == 0 && !is_sandbox_netlink(call, a.fd) {
        if let Some(action) = send_plain(call, &hdr, flags)? {
            return Ok(action);
        }
    }
    let sock = socket_of(call, a.fd)?;
    let msg = hdr.copy(call)?;
    if let Some(ino) = super::netlink::emulated(call, &sock) {
        return super::netlink::send(call, ino, &msg.data, msg.name.as_deref());
    }
    if let Some(ino) = super::inet::emulated(call, &sock) {
        // The task's AF_INET name is the sentry's to resolve on the loopback; its
        // IP-level control messages (IP_PKTINFO, …) are not carried.
        return match &msg.name {
            Some(name) if super::inet::is_datagram(call, ino) => {
                super::inet::send_datagram(call, &sock, ino, &msg.data, name, flags)
            }
            _ => {
                let plain = OutMessage {
                    name: None,
                    data: msg.data,
                    control: Vec::new(),
                };
                send_by_sentry(call, &sock, &plain, flags)
            }
        };
    }
    send_by_sentry(call, &sock, &msg, flags)
}

/// sendmmsg(fd, struct mmsghdr *vec, vlen, flags): each entry is a msghdr and the msg_len
/// the kernel fills in, 64 bytes in all.
fn sendmmsg(call: &mut Call, a: args::sendmmsg) -> Result<Action, Errno> {
    const MAX_VECTOR: u64 = 1024; // UIO_MAXIOV, the kernel's bound on sendmmsg's vlen
    let sock = socket_of(call, a.fd)?;
    let (vec, flags) = (a.msgs, a.flags as i32);
    let count = a.count.min(MAX_VECTOR);
    let mut sent = 0u64;
    for i in 0..count {
        let at = vec + i * 64;
        let result = MsgHeader::read(&*call.kernel.mem, call.tid, at)
            .and_then(|hdr| hdr.copy(call))
            .and_then(|msg| sentry_send(call, &sock, &msg, flags | libc::MSG_DONTWAIT));
        match result {
            Ok(n) => {
                call.kernel
                    .mem
                    .write(call.tid, at + 56, &(n as u32).to_ne_bytes())
                    .map_err(|_| Errno::EFAULT)?;
                sent += 1;
            }
            Err(Errno::EAGAIN) if sent == 0 && sockets::blocks(&sock, flags) => {
                return Ok(wait_to_send(call, &sock));
            }
            Err(e) if sent == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(Action::Return(sent as i64))
}

/// A send the sentry made would block and the task's socket blocks: the task waits until it
/// can write, then makes its call again.
fn wait_to_send(call: &Call, sock: &OwnedFd) -> Action {
    Action::WaitReady {
        fd: call.args[0] as i32,
        events: libc::POLLOUT,
        timeout_ms: sockets::send_timeout_ms(sock),
        then: super::Ready::Rerun,
    }
}

/// sendmsg with neither address nor control data, as a call that reads no msghdr: sendto
/// (one buffer, or none) or writev (flags 0). `None`: several buffers with flags.
fn send_plain(call: &Call, hdr: &MsgHeader, flags: i32) -> Result<Option<Action>, Errno> {
    let fd = call.args[0];
    let as_call = |nr: Sysno, args: [u64; 6]| Action::PassAs {
        nr: nr.id() as u64,
        args,
    };
    Ok(match hdr.iov_len {
        0 => Some(as_call(Sysno::sendto, [fd, 0, 0, flags as u64, 0, 0])),
        1 => {
            let (base, len) = hdr.iovecs(&*call.kernel.mem, call.tid)?[0];
            Some(as_call(
                Sysno::sendto,
                [fd, base, len as u64, flags as u32 as u64, 0, 0],
            ))
        }
        // writev is sendmsg with flags 0 on a socket only.
        n if flags == 0 && is_socket(call, fd as i32)? => {
            Some(as_call(Sysno::writev, [fd, hdr.iov, n as u64, 0, 0, 0]))
        }
        _ => None,
    })
}

/// Whether `fd` is one of the sandbox's netlink sockets, whose requests the sentry answers
/// whatever call sends them. Looked at only when the sandbox has made one.
fn is_sandbox_netlink(call: &mut Call, fd: i32) -> bool {
    if call.kernel.netlink.sockets.is_empty() {
        return false;
    }
    socket_of(call, fd).is_ok_and(|sock| super::netlink::emulated(call, &sock).is_some())
}

fn is_socket(call: &Call, fd: i32) -> Result<bool, Errno> {
    socket_of(call, fd).map(|_| true).or_else(|e| match e {
        Errno::ENOTSOCK => Ok(false),
        e => Err(e),
    })
}

/// The sentry's duplicate of the task's socket `fd`: EBADF, or ENOTSOCK for another file.
fn socket_of(call: &Call, fd: i32) -> Result<OwnedFd, Errno> {
    let file = call.task_fd(fd)?;
    let st = nix::sys::stat::fstat(file.as_raw_fd())?;
    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(Errno::ENOTSOCK);
    }
    Ok(file)
}

/// One message as the sentry sends it: the address as the task gave it (put in the
/// sandbox's terms by `sentry_send`), the data, and control messages whose fds are the
/// sentry's own duplicates (kept open in `fds` until the send is done).
struct OutMessage {
    name: Option<Vec<u8>>,
    data: Vec<u8>,
    control: Vec<(i32, i32, Vec<u8>, Vec<OwnedFd>)>,
}

/// One datagram from a loopback datagram socket (`udp`: its inode) or a netlink socket into
/// the msghdr at `msg_at`, received by the sentry without waiting: the kernel would name the
/// sender by its socket file, the sentry names it by its loopback address and port, or as the
/// kernel (netlink port 0). Its length as recvmsg returns it, or EAGAIN.
fn receive_one(
    call: &mut Call,
    sock: &OwnedFd,
    udp: Option<u64>,
    msg_at: u64,
    flags: i32,
) -> Result<usize, Errno> {
    let hdr = MsgHeader::read(&*call.kernel.mem, call.tid, msg_at)?;
    let iovecs = hdr.iovecs(&*call.kernel.mem, call.tid)?;
    let room: usize = iovecs.iter().map(|&(_, len)| len).sum::<usize>().min(65536);
    let mut data = vec![0u8; room];
    let mut from = super::inet::unsafe_zeroed();
    let mut from_len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    // SAFETY: recvfrom writes at most `room` bytes into `data` and one sockaddr_un into
    // `from`, all memory we own. MSG_TRUNC makes it return the datagram's whole length.
    let n = unsafe {
        libc::recvfrom(
            sock.as_raw_fd(),
            data.as_mut_ptr().cast(),
            room,
            flags | libc::MSG_DONTWAIT | libc::MSG_TRUNC,
            (&mut from as *mut libc::sockaddr_un).cast(),
            &mut from_len,
        )
    };
    if n < 0 {
        return Err(Errno::last());
    }
    let whole = n as usize;
    let mut left = &data[..whole.min(room)];
    for (base, len) in iovecs {
        let take = len.min(left.len());
        if take == 0 {
            break;
        }
        call.kernel
            .mem
            .write(call.tid, base, &left[..take])
            .map_err(|_| Errno::EFAULT)?;
        left = &left[take..];
    }
    if hdr.name != 0 {
        let name = match udp {
            Some(ino) => crate::kernel::loopback::encode(super::inet::sender_of(call, ino, &from)),
            None => super::netlink::sender(),
        };
        sockets::write_name(&*call.kernel.mem, call.tid, &name, hdr.name, msg_at + 8)?;
    }
    // No control messages; MSG_TRUNC when the datagram did not fit.
    let msg_flags = if whole > room { libc::MSG_TRUNC } else { 0 };
    call.kernel
        .mem
        .write(call.tid, msg_at + 40, &0u64.to_ne_bytes())
        .and_then(|()| {
            call.kernel
                .mem
                .write(call.tid, msg_at + 48, &msg_flags.to_ne_bytes())
        })
        .map_err(|_| Errno::EFAULT)?;
    Ok(if flags & libc::MSG_TRUNC != 0 {
        whole
    } else {
        whole.min(room)
    })
}

/// recvmsg on a loopback UDP socket or the sandbox's netlink socket: one datagram, the
/// sender named in sandbox terms; a blocking socket with nothing queued waits.
fn receive_datagram(call: &mut Call, sock: &OwnedFd, udp: Option<u64>) -> Result<Action, Errno> {
    let flags = call.args[2] as i32;
    match receive_one(call, sock, udp, call.args[1], flags) {
        Ok(n) => Ok(Action::Return(n as i64)),
        Err(Errno::EAGAIN) if sockets::blocks(sock, flags) => Ok(wait_to_receive(call)),
        Err(e) => Err(e),
    }
}

/// recvmmsg(fd, struct mmsghdr *vec, vlen, flags, timeout) on such a socket: what is queued,
/// up to vlen datagrams, each entry a msghdr and the msg_len the sentry fills in (64 bytes).
/// A blocking socket with nothing queued waits for the first; later ones are taken as they
/// are there (as with MSG_WAITFORONE).
fn receive_datagrams(call: &mut Call, sock: &OwnedFd, udp: Option<u64>) -> Result<Action, Errno> {
    const MAX_VECTOR: u64 = 1024; // UIO_MAXIOV, the kernel's bound on vlen
    const MSG_WAITFORONE: i32 = 0x10000;
    let (vec, count) = (call.args[1], call.args[2].min(MAX_VECTOR));
    let flags = call.args[3] as i32 & !MSG_WAITFORONE;
    let mut got = 0u64;
    while got < count {
        let at = vec + got * 64;
        match receive_one(call, sock, udp, at, flags) {
            Ok(n) => {
                call.kernel
                    .mem
                    .write(call.tid, at + 56, &(n as u32).to_ne_bytes())
                    .map_err(|_| Errno::EFAULT)?;
                got += 1;
            }
            Err(Errno::EAGAIN) if got == 0 && sockets::blocks(sock, flags) => {
                return Ok(wait_to_receive(call));
            }
            Err(e) if got == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(Action::Return(got as i64))
}

/// Nothing is queued on a blocking socket: the task waits until it can read, then makes its
/// call again.
fn wait_to_receive(call: &Call) -> Action {
    Action::WaitReady {
        fd: call.args[0] as i32,
        events: libc::POLLIN,
        timeout_ms: -1,
        then: super::Ready::Rerun,
    }
}

/// The fields of a struct msghdr the kernel uses, read once out of the task.
struct MsgHeader {
    name: u64,
    name_len: usize,
    iov: u64,
    iov_len: usize,
    control: u64,
    control_len: usize,
}

/// The kernel's bounds: UIO_MAXIOV iovecs; control data up to the largest optmem_max a
/// host is likely to allow; what the sentry copies of one message.
const MAX_IOV: usize = 1024;
const MAX_CONTROL: usize = 1 << 20;
const MAX_MESSAGE: usize = 4 << 20;

impl MsgHeader {
    fn read(
        mem: &dyn crate::host::TaskMemory,
        tid: platform_ptrace::Tid,
        at: u64,
    ) -> Result<MsgHeader, Errno> {
        // name(8) namelen(4+4) iov(8) iovlen(8) control(8) controllen(8) flags(4+4)
        let mut raw = [0u8; 56];
        mem.read(tid, at, &mut raw).map_err(|_| Errno::EFAULT)?;
        let word = |i: usize| u64::from_ne_bytes(raw[i..i + 8].try_into().expect("8 bytes"));
        let name_len = u32::from_ne_bytes(raw[8..12].try_into().expect("4 bytes")) as usize;
        let hdr = MsgHeader {
            name: word(0),
            name_len: if word(0) == 0 { 0 } else { name_len },
            iov: word(16),
            iov_len: word(24) as usize,
            control: word(32),
            control_len: word(40) as usize,
        };
        if hdr.iov_len > MAX_IOV {
            return Err(Errno::EMSGSIZE);
        }
        if hdr.control_len > MAX_CONTROL {
            return Err(Errno::ENOBUFS);
        }
        Ok(hdr)
    }

    fn iovecs(
        &self,
        mem: &dyn crate::host::TaskMemory,
        tid: platform_ptrace::Tid,
    ) -> Result<Vec<(u64, usize)>, Errno> {
        let mut raw = vec![0u8; self.iov_len * 16];
        mem.read(tid, self.iov, &mut raw)
            .map_err(|_| Errno::EFAULT)?;
        Ok(raw
            .chunks_exact(16)
            .map(|v| {
                let base = u64::from_ne_bytes(v[0..8].try_into().expect("8 bytes"));
                let len = u64::from_ne_bytes(v[8..16].try_into().expect("8 bytes"));
                (base, len as usize)
            })
            .collect())
    }

    /// The message, copied out of the task once.
    fn copy(&self, call: &mut Call) -> Result<OutMessage, Errno> {
        let name = if self.name_len == 0 {
            None
        } else {
            Some(read_name(
                &*call.kernel.mem,
                call.tid,
                self.name,
                self.name_len,
            )?)
        };
        let data = read_data(
            &*call.kernel.mem,
            call.tid,
            &self.iovecs(&*call.kernel.mem, call.tid)?,
        )?;
        let control = if self.control_len == 0 {
            Vec::new()
        } else {
            let mut raw = vec![0u8; self.control_len];
            call.kernel
                .mem
                .read(call.tid, self.control, &mut raw)
                .map_err(|_| Errno::EFAULT)?;
            control_from_task(call, &raw)?
        };
        Ok(OutMessage {
            name,
            data,
            control,
        })
    }
}

fn read_name(
    mem: &dyn crate::host::TaskMemory,
    tid: platform_ptrace::Tid,
    at: u64,
    len: usize,
) -> Result<Vec<u8>, Errno> {
    if len > std::mem::size_of::<libc::sockaddr_storage>() {
        return Err(Errno::EINVAL);
    }
    let mut name = vec![0u8; len];
    mem.read(tid, at, &mut name).map_err(|_| Errno::EFAULT)?;
    Ok(name)
}

/// The bytes of `buffers` in the task, at most MAX_MESSAGE of them (a stream send of more is
/// a partial send, as the kernel may make too).
fn read_data(
    mem: &dyn crate::host::TaskMemory,
    tid: platform_ptrace::Tid,
    buffers: &[(u64, usize)],
) -> Result<Vec<u8>, Errno> {
    let mut data = Vec::new();
    for &(base, len) in buffers {
        let take = len.min(MAX_MESSAGE - data.len());
        let at = data.len();
        data.resize(at + take, 0);
        mem.read(tid, base, &mut data[at..])
            .map_err(|_| Errno::EFAULT)?;
        if data.len() == MAX_MESSAGE {
            break;
        }
    }
    Ok(data)
}

/// The control messages of a send, each (level, type, data, fds): SCM_RIGHTS fds become the
/// sentry's own duplicates of the task's (a memfd is refused while memory is accounted, as
/// its charge cannot follow it); SCM_CREDENTIALS names the task by its host pid and ids.
/// Malformed control data is EINVAL, as the kernel says.
#[allow(clippy::type_complexity)]
fn control_from_task(
    call: &mut Call,
    raw: &[u8],
) -> Result<Vec<(i32, i32, Vec<u8>, Vec<OwnedFd>)>, Errno> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 16 <= raw.len() {
        let len = u64::from_ne_bytes(raw[at..at + 8].try_into().expect("8 bytes")) as usize;
        let level = i32::from_ne_bytes(raw[at + 8..at + 12].try_into().expect("4 bytes"));
        let kind = i32::from_ne_bytes(raw[at + 12..at + 16].try_into().expect("4 bytes"));
        if len < 16 || at + len > raw.len() {
            return Err(Errno::EINVAL);
        }
        let data = raw[at + 16..at + len].to_vec();
        let mut fds = Vec::new();
        let mut own = data.clone();
        if level == libc::SOL_SOCKET && kind == libc::SCM_RIGHTS {
            for (i, word) in data.chunks_exact(4).enumerate() {
                let fd = i32::from_ne_bytes(word.try_into().expect("4 bytes"));
                let dup = call.task_fd(fd)?;
                if super::signalfd::is_own_signalfd(dup.as_fd()) {
                    // The receiver's kernel would pick its number, below the floor.
                    super::deny_event(
                        call,
                        libc::EPERM,
                        "a signalfd cannot be passed with SCM_RIGHTS",
                    );
                    return Err(Errno::EPERM);
                }
                let sentry = std::process::id() as platform_ptrace::Tid;
                if call.kernel.memory.active()
                    && crate::kernel::memory::memfd_of(sentry, dup.as_raw_fd() as u64).is_some()
                {
                    super::deny_event(
                        call,
                        libc::EPERM,
                        "a memfd cannot be passed with SCM_RIGHTS while memory is accounted",
                    );
                    return Err(Errno::EPERM);
                }
                if call.kernel.memory.active() {
                    // A socket the sandbox got by a way the sentry did not see leaves the
                    // fd tables here: it is charged before it goes in flight.
                    let who = call.kernel.shown_pid(call.tid);
                    super::socket_memory::charge_if_new(call.kernel, who, &dup, 0, false);
                }
                own[i * 4..i * 4 + 4].copy_from_slice(&dup.as_raw_fd().to_ne_bytes());
                fds.push(dup);
            }
        } else if level == libc::SOL_SOCKET && kind == libc::SCM_CREDENTIALS && data.len() >= 12 {
            own[..12].copy_from_slice(&host_creds(call, &data[..12])?);
        }
        out.push((level, kind, own, fds));
        at += len.next_multiple_of(8);
    }
    Ok(out)
}

/// SCM_CREDENTIALS as the task gave them (its number and sandbox ids) in host terms, once
/// checked as Linux checks them against the sender's credentials (the kernel checks them
/// against the sentry's, which sends them).
fn host_creds(call: &Call, ucred: &[u8]) -> Result<[u8; 12], Errno> {
    use crate::kernel::creds::{CAP_SETGID, CAP_SETUID, CAP_SYS_ADMIN};
    let word = |at: usize| u32::from_ne_bytes(ucred[at..at + 4].try_into().expect("4 bytes"));
    let (pid, uid, gid) = (word(0) as i32, word(4), word(8));
    let host_pid = call.kernel.translate(call.tid, pid).ok_or(Errno::EPERM)?;
    // Linux's scm_check_creds, in the sandbox's credentials (the sentry sends with its own):
    // another process only with CAP_SYS_ADMIN, ids of the sender's own unless CAP_SETUID or
    // CAP_SETGID.
    let creds = call.kernel.creds_of(call.tid);
    let own_pid = host_pid == call.kernel.tgid_of(call.tid) || creds.capable(CAP_SYS_ADMIN);
    let own_uid = [creds.ruid, creds.euid, creds.suid].contains(&uid) || creds.capable(CAP_SETUID);
    let own_gid = [creds.rgid, creds.egid, creds.sgid].contains(&gid) || creds.capable(CAP_SETGID);
    if !(own_pid && own_uid && own_gid) {
        return Err(Errno::EPERM);
    }
    let status = call
        .kernel
        .mem
        .proc_file(call.tid, "status")
        .unwrap_or_default();
    let host_id = |key: &str| -> u32 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().nth(1).and_then(|e| e.parse().ok()))
            .unwrap_or(0)
    };
    let mut out = [0u8; 12];
    out[0..4].copy_from_slice(&host_pid.to_ne_bytes());
    out[4..8].copy_from_slice(&host_id("Uid:").to_ne_bytes());
    out[8..12].copy_from_slice(&host_id("Gid:").to_ne_bytes());
    Ok(out)
}

/// A send made by the sentry, or the wait for the socket when it would block.
fn send_by_sentry(
    call: &mut Call,
    sock: &OwnedFd,
    msg: &OutMessage,
    flags: i32,
) -> Result<Action, Errno> {
    match sentry_send(call, sock, msg, flags | libc::MSG_DONTWAIT) {
        Ok(n) => Ok(Action::Return(n as i64)),
        Err(Errno::EAGAIN) if sockets::blocks(sock, flags) => Ok(wait_to_send(call, sock)),
        Err(e) => Err(e),
    }
}

/// sendmsg on the sentry's duplicate of the task's socket with the sentry's copy of the
/// message: an AF_UNIX path through the gofer (an O_PATH fd of the socket file, named to the
/// kernel as the sentry's own /proc/self/fd/N), an abstract name under the sandbox's prefix.
fn sentry_send(
    call: &mut Call,
    sock: &OwnedFd,
    msg: &OutMessage,
    flags: i32,
) -> Result<usize, Errno> {
    let mut held = None;
    let name = match &msg.name {
        Some(name) => Some(kernel_name(call, sock, name, &mut held)?),
        None => None,
    };
    let mut control = Vec::new();
    for (level, kind, data, _) in &msg.control {
        control.extend(((16 + data.len()) as u64).to_ne_bytes());
        control.extend(level.to_ne_bytes());
        control.extend(kind.to_ne_bytes());
        control.extend_from_slice(data);
        control.resize(control.len().next_multiple_of(8), 0);
    }
    let mut iov = libc::iovec {
        iov_base: msg.data.as_ptr() as *mut libc::c_void,
        iov_len: msg.data.len(),
    };
    // SAFETY: msghdr is plain data; every pointer set below is to memory we own that lives
    // until sendmsg returns.
    let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
    if let Some(name) = &name {
        hdr.msg_name = name.as_ptr() as *mut libc::c_void;
        hdr.msg_namelen = name.len() as libc::socklen_t;
    }
    hdr.msg_iov = &mut iov;
    hdr.msg_iovlen = 1;
    if !control.is_empty() {
        hdr.msg_control = control.as_mut_ptr().cast();
        hdr.msg_controllen = control.len();
    }
    let flags = flags & !libc::MSG_CONFIRM;
    // SAFETY: sendmsg on our own duplicate fd with a msghdr whose buffers we own.
    let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &hdr, flags | libc::MSG_NOSIGNAL) };
    if n < 0 {
        let e = Errno::last();
        if e == Errno::EPIPE && flags & libc::MSG_NOSIGNAL == 0 {
            // The task's own send would have raised SIGPIPE.
            super::raise_in_caller(call, libc::SIGPIPE);
        }
        return Err(e);
    }
    drop(held);
    Ok(n as usize)
}

/// The address a send names, as the kernel must see it on the sentry's side.
fn kernel_name(
    call: &mut Call,
    sock: &OwnedFd,
    name: &[u8],
    held: &mut Option<OwnedFd>,
) -> Result<Vec<u8>, Errno> {
    if sockopt(sock, libc::SO_DOMAIN)? != libc::AF_UNIX
        || name.len() < 2
        || u16::from_ne_bytes([name[0], name[1]]) != libc::AF_UNIX as u16
    {
        // Another family's address names no file; the kernel answers for it.
        return Ok(name.to_vec());
    }
    let path = &name[2..];
    let mut kernel = name[..2].to_vec();
    match path.first() {
        None => {}
        Some(0) => {
            kernel.push(0);
            kernel.extend_from_slice(&call.kernel.abstract_prefix);
            kernel.extend_from_slice(&path[1..]);
            if kernel.len() > std::mem::size_of::<libc::sockaddr_un>() {
                return Err(Errno::EINVAL);
            }
        }
        Some(_) => {
            let path = path.split(|&b| b == 0).next().unwrap_or(path).to_vec();
            let target = resolve(call, libc::AT_FDCWD as i64 as u64, &path, false)?;
            super::vfs::check_open(call, &target, libc::O_WRONLY)?; // as for connect
            let (index, rel) = (target.gofer_index, target.rel);
            let inode = files(call)?.open(index, &rel, libc::O_PATH, 0)?;
            kernel.extend_from_slice(format!("/proc/self/fd/{}", inode.as_raw_fd()).as_bytes());
            kernel.push(0);
            *held = Some(inode);
        }
    }
    Ok(kernel)
}

/// recvmsg/recvmmsg: with SO_PASSCRED on an AF_UNIX socket, the credentials the kernel
/// attaches are translated at the exit stop; anything else passes.
fn receive(call: &mut Call) -> Action {
    let Ok(sock) = call.task_fd(call.args[0] as i32) else {
        return Action::Pass;
    };
    let udp = super::inet::emulated(call, &sock).filter(|&ino| super::inet::is_datagram(call, ino));
    if udp.is_some() || super::netlink::emulated(call, &sock).is_some() {
        let received = if call.sysno == Sysno::recvmsg {
            receive_datagram(call, &sock, udp)
        } else {
            receive_datagrams(call, &sock, udp)
        };
        return received.unwrap_or_else(|e| Action::Return(-(e as i64)));
    }
    let unix = is_unix(&sock);
    let passcred = unix && sockopt(&sock, libc::SO_PASSCRED).is_ok_and(|v| v != 0);
    if !passcred {
        if !unix || call.sysno != Sysno::recvmsg {
            return Action::Pass;
        }
        // A single recvmsg's sender, if it asked for one (msg_name, msg_namelen at 8).
        let mut word = [0u8; 8];
        let read = call.kernel.mem.read(call.tid, call.args[1], &mut word);
        return match read.map_or(0, |()| u64::from_ne_bytes(word)) {
            0 => Action::Pass,
            name => unix_address_at_exit(call, UnixNamed::Sender, name, call.args[1] + 8),
        };
    }
    Action::PassThenExit(ExitHook::ReceivedCreds {
        msg: call.args[1],
        vector: call.sysno == Sysno::recvmmsg,
    })
}

/// The control messages of a msghdr in task memory: (level, type, data address, data
/// length) each. Stops at the first malformed or unreadable header, as the kernel would.
fn control_messages(
    mem: &dyn crate::host::TaskMemory,
    tid: platform_ptrace::Tid,
    msg: u64,
) -> Vec<(i32, i32, u64, u64)> {
    // struct msghdr: name(8) namelen(4+4) iov(8) iovlen(8) control(8) controllen(8) flags
    let mut hdr = [0u8; 56];
    // At the exit stop: what the sentry cannot read here it cannot translate (a thread that
    // unmapped the header keeps the host's ids in the buffer), so the task is killed.
    if !super::fix_read(mem, tid, msg, &mut hdr) {
        return Vec::new();
    }
    let word = |at: usize| u64::from_ne_bytes(hdr[at..at + 8].try_into().expect("8 bytes"));
    let (control, len) = (word(32), word(40).min(MAX_CONTROL as u64));
    let mut found = Vec::new();
    let mut at = 0u64;
    while at + 16 <= len {
        let mut ch = [0u8; 16];
        if !super::fix_read(mem, tid, control + at, &mut ch) {
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
pub fn find_creds(
    mem: &dyn crate::host::TaskMemory,
    tid: platform_ptrace::Tid,
    msg: u64,
) -> Option<u64> {
    control_messages(mem, tid, msg)
        .into_iter()
        .find(|&(level, kind, _, len)| {
            level == libc::SOL_SOCKET && kind == libc::SCM_CREDENTIALS && len >= 12
        })
        .map(|(_, _, at, _)| at)
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
            call.kernel
                .mem
                .read(tid, arg, &mut conf)
                .map_err(|_| Errno::EFAULT)?;
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
                call.kernel
                    .mem
                    .write(tid, buf, &req)
                    .map_err(|_| Errno::EFAULT)?;
                IFREQ
            };
            call.kernel
                .mem
                .write(tid, arg, &(written as i32).to_ne_bytes())
                .map_err(|_| Errno::EFAULT)?;
            return Ok(0);
        }
        let mut req = [0u8; IFREQ];
        call.kernel
            .mem
            .read(tid, arg, &mut req)
            .map_err(|_| Errno::EFAULT)?;
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
        call.kernel
            .mem
            .write(tid, arg, &req)
            .map_err(|_| Errno::EFAULT)?;
        Ok(0)
    })();
    Some(Action::Return(result.unwrap_or_else(|e| -(e as i64))))
}

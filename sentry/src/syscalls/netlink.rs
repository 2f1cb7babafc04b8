//! NETLINK_ROUTE sockets of the sandbox under `--net none` (the messages are
//! `kernel::netlink`'s): socket(2) gives the task one end of an AF_UNIX datagram pair the
//! sentry made; bind, getsockname, sendto/sendmsg with the kernel's address and
//! recvmsg/recvfrom are the sentry's, which answers each request on its own end and names
//! the kernel (port 0) as every message's sender.

use super::{Action, Call};
use crate::kernel::netlink::{self, NetlinkSocket};
use crate::kernel::sockets;
use nix::errno::Errno;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// socket(AF_NETLINK, SOCK_RAW or SOCK_DGRAM, NETLINK_ROUTE).
pub fn socket(call: &mut Call) -> Action {
    let kind = call.args[1] as i32;
    let flags = kind & (libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC);
    let base = kind & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC);
    if !matches!(base, libc::SOCK_RAW | libc::SOCK_DGRAM) {
        return Action::Return(-(Errno::ESOCKTNOSUPPORT as i64));
    }
    // Records of sockets the sandbox has closed go first.
    call.kernel
        .netlink
        .sockets
        .retain(|&ino, _| sockets::unix_socket_exists(ino));
    let mut pair = [0; 2];
    // SAFETY: socketpair writes two fds into our array.
    if unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            0,
            pair.as_mut_ptr(),
        )
    } != 0
    {
        return Action::Return(-(Errno::last() as i64));
    }
    // SAFETY: both fds were just made and are ours alone.
    let (task_end, peer) =
        unsafe { (OwnedFd::from_raw_fd(pair[0]), OwnedFd::from_raw_fd(pair[1])) };
    if flags & libc::SOCK_NONBLOCK != 0 {
        let _ = nix::fcntl::fcntl(
            task_end.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
    }
    let Ok(st) = nix::sys::stat::fstat(task_end.as_raw_fd()) else {
        return Action::Return(-(Errno::EMFILE as i64));
    };
    let port_id = call.kernel.netlink.new_port();
    call.kernel
        .netlink
        .sockets
        .insert(st.st_ino, NetlinkSocket { port_id, peer });
    Action::Install {
        fd: task_end,
        cloexec: flags & libc::SOCK_CLOEXEC != 0,
    }
}

/// The inode of the task's socket, if it is one of the sandbox's netlink sockets.
pub fn emulated(call: &Call, sock: &OwnedFd) -> Option<u64> {
    let ino = nix::sys::stat::fstat(sock.as_raw_fd()).ok()?.st_ino;
    call.kernel
        .netlink
        .sockets
        .contains_key(&ino)
        .then_some(ino)
}

/// A sockaddr_nl.
fn address(port_id: u32) -> Vec<u8> {
    let mut out = (libc::AF_NETLINK as u16).to_ne_bytes().to_vec();
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&port_id.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    out
}

/// bind(2): the port id asked for (0: the one it has); no multicast groups.
pub fn bind(call: &mut Call, ino: u64) -> Result<Action, Errno> {
    let len = call.args[2] as usize;
    if len < 12 {
        return Err(Errno::EINVAL);
    }
    let mut addr = [0u8; 12];
    call.kernel
        .mem
        .read(call.tid, call.args[1], &mut addr)
        .map_err(|_| Errno::EFAULT)?;
    if u16::from_ne_bytes([addr[0], addr[1]]) != libc::AF_NETLINK as u16 {
        return Err(Errno::EINVAL);
    }
    let wanted = u32::from_ne_bytes(addr[4..8].try_into().expect("4 bytes"));
    let groups = u32::from_ne_bytes(addr[8..12].try_into().expect("4 bytes"));
    if groups != 0 {
        // Nothing of the sandbox's network changes: no group would ever send.
        return Err(Errno::EPERM);
    }
    if wanted != 0 {
        let taken = call
            .kernel
            .netlink
            .sockets
            .iter()
            .any(|(&other, s)| other != ino && s.port_id == wanted);
        if taken {
            return Err(Errno::EADDRINUSE);
        }
        if let Some(s) = call.kernel.netlink.sockets.get_mut(&ino) {
            s.port_id = wanted;
        }
    }
    Ok(Action::Return(0))
}

/// getsockname (its port id) and getpeername (the kernel, port 0).
pub fn name(call: &mut Call, ino: u64) -> Action {
    let port_id = match call.sysno {
        syscalls::Sysno::getsockname => call.kernel.netlink.sockets[&ino].port_id,
        _ => 0,
    };
    let bytes = address(port_id);
    match sockets::write_name(
        &*call.kernel.mem,
        call.tid,
        &bytes,
        call.args[1],
        call.args[2],
    ) {
        Ok(()) => Action::Return(0),
        Err(e) => Action::Return(-(e as i64)),
    }
}

/// A request sent to the kernel (sendto, sendmsg): its answers are queued for the socket.
pub fn send(call: &mut Call, ino: u64, data: &[u8], to: Option<&[u8]>) -> Result<Action, Errno> {
    if let Some(to) = to {
        if to.len() < 12 || u16::from_ne_bytes([to[0], to[1]]) != libc::AF_NETLINK as u16 {
            return Err(Errno::EINVAL);
        }
        if u32::from_ne_bytes(to[4..8].try_into().expect("4 bytes")) != 0 {
            // Only the kernel listens here.
            return Err(Errno::ECONNREFUSED);
        }
    }
    let socket = &call.kernel.netlink.sockets[&ino];
    for datagram in netlink::answer(data, socket.port_id) {
        // SAFETY: send reads the datagram we own; the peer end is ours.
        let n = unsafe {
            libc::send(
                socket.peer.as_raw_fd(),
                datagram.as_ptr().cast(),
                datagram.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            // The task's end is full (it sent without reading): the kernel drops too.
            return Err(Errno::ENOBUFS);
        }
    }
    Ok(Action::Return(data.len() as i64))
}

/// The sender of every message: the kernel.
pub fn sender() -> Vec<u8> {
    address(0)
}

//! The AF_UNIX addresses the kernel writes into a task's memory (getsockname, getpeername,
//! and a received message's sender), put in the sandbox's terms at the call's exit stop: an
//! abstract name without the sandbox's private prefix, a path as the sandbox bound it (the
//! kernel keeps the last component the gofer bound).

use super::{Action, Call, ExitHook};
use crate::kernel::sockets::{self, Diag};
use std::os::fd::OwnedFd;

/// Whose AF_UNIX address a call writes: the socket `fd`'s own (getsockname), its peer's
/// (getpeername), the peer's of the socket the call returns (accept), or the sender's of
/// what it received (recvfrom, recvmsg).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnixNamed {
    Own(i32),
    Peer(i32),
    AcceptedPeer,
    Sender,
}

/// The call runs, and the AF_UNIX address it writes at `addr` (its length at `len_at`) is
/// put in the sandbox's terms at the exit stop, within the task's buffer as it is now.
pub fn unix_address_at_exit(call: &Call, named: UnixNamed, addr: u64, len_at: u64) -> Action {
    let room = call
        .kernel
        .mem
        .read_i32(call.tid, len_at)
        .unwrap_or(0)
        .max(0) as u32;
    Action::PassThenExit(ExitHook::FixUnixAddress {
        named,
        addr,
        len: len_at,
        room,
    })
}

/// Whether `sock` is an AF_UNIX socket.
pub fn is_unix(sock: &OwnedFd) -> bool {
    sockets::get_int_option(sock, libc::SO_DOMAIN) == Ok(libc::AF_UNIX)
}

/// The exit stop of a call that wrote an AF_UNIX address (see [`UnixNamed`]): the address the
/// kernel wrote is put in the sandbox's terms. An abstract name loses the sandbox's private
/// prefix; a path bound through the gofer becomes the path the task bound: for a socket or
/// its peer, found by the file the socket is bound to; for a sender, whose socket the
/// receiver cannot name, by the name the kernel keeps (the last component the gofer bound),
/// when one path the sandbox bound has it. The result is written within the task's buffer
/// (`room` bytes), its whole length in the length word, as the kernel writes it.
pub fn fix_unix_address(
    tid: platform_ptrace::Tid,
    kernel: &crate::kernel::Kernel,
    named: UnixNamed,
    (addr, len_addr, room): (u64, u64, u32),
) {
    let mut len_bytes = [0u8; 4];
    if !super::fix_read(&*kernel.mem, tid, len_addr, &mut len_bytes) {
        return;
    }
    let written = (u32::from_ne_bytes(len_bytes).min(room) as usize)
        .min(std::mem::size_of::<libc::sockaddr_un>());
    let mut sa = vec![0u8; written];
    if written < 3
        || !super::fix_read(&*kernel.mem, tid, addr, &mut sa)
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
        let sandbox_path = match named {
            UnixNamed::Own(fd) | UnixNamed::Peer(fd) => bound_path(tid, kernel, fd, named),
            // The exit stop names the accepted socket by its fd (`Peer`).
            UnixNamed::AcceptedPeer => None,
            UnixNamed::Sender => {
                let kept = name.split(|&b| b == 0).next().unwrap_or(name);
                path_bound_as(kernel, kept)
            }
        };
        match sandbox_path {
            Some(path) => [path.as_slice(), &[0u8][..]].concat(),
            None => return,
        }
    };
    let mut out = sa[..2].to_vec();
    out.extend_from_slice(&fixed);
    out.truncate(std::mem::size_of::<libc::sockaddr_un>());
    let fits = out.len().min(room as usize);
    if super::fix_write(&*kernel.mem, tid, addr, &out[..fits]) {
        super::fix_write(
            &*kernel.mem,
            tid,
            len_addr,
            &(out.len() as u32).to_ne_bytes(),
        );
    }
}

/// The path the sandbox bound task `tid`'s socket `fd` (Own) or its peer (Peer) by.
fn bound_path(
    tid: platform_ptrace::Tid,
    kernel: &crate::kernel::Kernel,
    fd: i32,
    named: UnixNamed,
) -> Option<Vec<u8>> {
    use std::os::unix::fs::MetadataExt;
    let own = std::fs::metadata(format!("/proc/{tid}/fd/{fd}"))
        .ok()?
        .ino();
    let socket = match named {
        UnixNamed::Peer(_) => sockets::unix_diag(own, Diag::Peer)?,
        _ => own,
    };
    let file = sockets::unix_diag(socket, Diag::BoundFile)?;
    kernel.unix_names.get(&file).cloned()
}

/// The one path the sandbox bound a socket by whose last component is `kept` (the name the
/// kernel keeps for a socket the gofer bound); None if none or several are.
fn path_bound_as(kernel: &crate::kernel::Kernel, kept: &[u8]) -> Option<Vec<u8>> {
    let last = |path: &[u8]| -> Vec<u8> {
        let trimmed = path.strip_suffix(b"/").unwrap_or(path);
        trimmed
            .rsplit(|&b| b == b'/')
            .next()
            .unwrap_or(trimmed)
            .to_vec()
    };
    let mut found = kernel.unix_names.values().filter(|path| last(path) == kept);
    match (found.next(), found.next()) {
        (Some(path), None) => Some(path.clone()),
        _ => None,
    }
}

//! Socket buffers under `--memory-limit` (what is charged and why: `kernel::sockets`).
//!
//! socket, socketpair, accept and accept4 reserve a socket's charge at entry, before the
//! kernel makes it, and settle it at exit against the socket made. The new sockets are found
//! by the fd numbers the call returned; when another thread re-pointed such a number in
//! between, the caller's whole fd table is searched instead, so a socket cannot escape its
//! charge. setsockopt(SO_SNDBUF/SO_RCVBUF) is made by the sentry on its duplicate, with the
//! charge following the buffer (a buffer that would cross the limit stays as it was, as the
//! kernel itself clamps buffer sizes without an error).

use super::{Action, Call, ExitHook};
use crate::kernel::sockets::{self, Kind, SockIno};
use crate::kernel::Kernel;
use platform_ptrace::Tid;
use std::os::fd::OwnedFd;
use syscalls::Sysno;

/// The socket-making calls' work at their exit stop: `reserved` bytes were reserved, and
/// socketpair wrote its two fds at `pair`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Made {
    pub reserved: u64,
    pub pair: Option<u64>,
}

/// The charge of a socket of `domain` with the host's default buffers.
fn default_charge(domain: Option<i32>) -> u64 {
    let (wmem, rmem) = sockets::host_defaults();
    match domain {
        Some(libc::AF_UNIX) => sockets::bound(Kind::Stream, wmem, rmem),
        _ => sockets::bound(Kind::Other, wmem, rmem),
    }
}

/// socket, socketpair, accept, accept4 while memory is accounted: reserve, then let `then`
/// decide the call; a call it passes settles at its exit stop.
pub fn creating(call: &mut Call, then: fn(&mut Call) -> Action) -> Action {
    if !call.kernel.memory.active() {
        return then(call);
    }
    let (count, domain) = match call.sysno {
        Sysno::socket => (1, Some(call.args[0] as i32)),
        Sysno::socketpair => (2, Some(call.args[0] as i32)),
        _ => (1, None),
    };
    let reserved = default_charge(domain) * count;
    super::mm::make_room(call, reserved);
    let tgid = call.kernel.tgid_of(call.tid);
    let who = call.kernel.shown_pid(call.tid);
    if let Err(refused) = call.kernel.memory.try_reserve(tgid, who, reserved) {
        return super::mm::refused(refused);
    }
    let made = Made {
        reserved,
        pair: (call.sysno == Sysno::socketpair).then_some(call.args[3]),
    };
    match then(call) {
        Action::Pass => Action::PassThenExit(ExitHook::SocketsMade(made)),
        other => {
            call.kernel.memory.unreserve(who, reserved);
            other
        }
    }
}

/// The exit stop of a socket-making call that returned `rval`.
pub fn at_exit(kernel: &mut Kernel, tid: Tid, made: Made, rval: i64) {
    let who = kernel.shown_pid(tid);
    if rval < 0 {
        kernel.memory.unreserve(who, made.reserved);
        return;
    }
    let fds: Vec<i32> = match made.pair {
        Some(at) => {
            let mut raw = [0u8; 8];
            match kernel.mem.read(tid, at, &mut raw) {
                Ok(()) => raw
                    .chunks_exact(4)
                    .map(|w| i32::from_ne_bytes(w.try_into().expect("4 bytes")))
                    .collect(),
                Err(_) => Vec::new(),
            }
        }
        None => vec![rval as i32],
    };
    let expected = if made.pair.is_some() { 2 } else { 1 };
    let tgid = kernel.tgid_of(tid);
    let mut reserved = made.reserved;
    let mut new = Vec::new();
    for fd in fds {
        let Ok(dup) = crate::host::task_fd(tgid, fd) else {
            continue;
        };
        if let Some(ino) = charge_if_new(kernel, who, &dup, reserved, true) {
            reserved = 0;
            new.push(ino);
        }
    }
    if reserved > 0 {
        kernel.memory.unreserve(who, reserved);
    }
    if new.len() < expected {
        // A number was re-pointed before this stop: the new sockets are elsewhere in the
        // table (or already passed on, and found by the next look).
        crate::kernel::memory::socket_rescan(kernel, None, who);
    } else if let [a, b] = new[..] {
        kernel.memory.socket_peers(a, b);
    }
}

/// Charges the socket behind `dup` if it is not charged yet (`reserved` is part of that
/// charge already); its inode if it was new. A socket `just_made` gets its fixed buffers.
pub fn charge_if_new(
    kernel: &mut Kernel,
    who: Tid,
    dup: &OwnedFd,
    reserved: u64,
    just_made: bool,
) -> Option<SockIno> {
    let defaults = just_made.then(sockets::host_defaults);
    let (ino, charged) = sockets::examine(dup, defaults)?;
    if kernel.memory.tracks_socket(ino) {
        return None;
    }
    kernel.memory.socket_set(who, ino, charged, reserved);
    Some(ino)
}

/// setsockopt(SOL_SOCKET, SO_SNDBUF or SO_RCVBUF) while memory is accounted.
pub fn set_buffer(call: &mut Call) -> Result<Action, nix::errno::Errno> {
    use nix::errno::Errno;
    let [fd, level, option, value_at, len, _] = call.args;
    if call.args[1] as i32 != libc::SOL_SOCKET || !call.kernel.memory.active() {
        return Ok(Action::Pass);
    }
    let (fd, level, option) = (fd as i32, level as i32, option as i32);
    if (len as u32) < 4 {
        return Err(Errno::EINVAL);
    }
    let value = call.kernel.mem.read_i32(call.tid, value_at)?;
    let sock = call.task_fd(fd).map_err(|_| Errno::EBADF)?;
    let who = call.kernel.shown_pid(call.tid);
    let tgid = call.kernel.tgid_of(call.tid);
    let before = match sockets::examine(&sock, None) {
        Some((ino, charged)) => {
            if !call.kernel.memory.tracks_socket(ino) {
                call.kernel.memory.socket_set(who, ino, charged, 0);
            }
            (
                ino,
                call.kernel.memory.socket_charge(ino).unwrap_or(charged),
            )
        }
        None => return Err(Errno::ENOTSOCK),
    };
    let sizes = buffer_sizes(&sock);
    sockets::set_int_option(&sock, level, option, value)?;
    let Some((ino, mut after)) = sockets::examine(&sock, None) else {
        return Ok(Action::Return(0));
    };
    after.peer = before.1.peer;
    let grows = after.bytes.saturating_sub(before.1.bytes);
    super::mm::make_room(call, grows);
    let memory = &mut call.kernel.memory;
    if grows > 0 && memory.try_reserve(tgid, who, grows).is_err() {
        // The buffers stay as they were, and so does the charge.
        for (option, size) in [(libc::SO_SNDBUF, sizes.0), (libc::SO_RCVBUF, sizes.1)] {
            let _ = sockets::set_int_option(
                &sock,
                level,
                option,
                (size / 2).min(i32::MAX as u64) as i32,
            );
        }
        tracing::info!(
            target: "sentry::memory",
            "sentry: memory: [pid {who}] socket buffer kept at its size: a larger one would cross the limit"
        );
        return Ok(Action::Return(0));
    }
    memory.socket_set(who, ino, after, grows);
    Ok(Action::Return(0))
}

fn buffer_sizes(sock: &OwnedFd) -> (u64, u64) {
    let get = |option| sockets::get_int_option(sock, option).map_or(0, |v| v.max(0) as u64);
    (get(libc::SO_SNDBUF), get(libc::SO_RCVBUF))
}

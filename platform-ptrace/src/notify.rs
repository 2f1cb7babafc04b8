//! Installing a host fd into a stopped task, with seccomp user notification.
//!
//! Every sandbox task carries a tiny seccomp filter (installed before its first
//! instruction) that returns SECCOMP_RET_USER_NOTIF for one syscall number with a
//! 128-bit cookie in its first two arguments, and allows everything else. To hand a task
//! an fd, the tracer rewrites the call the task is stopped in into that request
//! ([`Listener::prepare`]) and resumes it; the task blocks in the filter, and the tracer
//! answers with SECCOMP_IOCTL_NOTIF_ADDFD + SECCOMP_ADDFD_FLAG_SEND ([`Listener::install`]),
//! which places the fd in the task's table and returns its number as the call's result in
//! one atomic step. Nothing is added to the task's fd table for the mechanism itself, and
//! the task never holds a channel to the sentry.
//!
//! The cookie is random per sandbox and never stays in a task's registers: the tracer
//! restores the original registers at the call's exit stop.

use crate::seccomp::Filter;
use crate::{Regs, Stopped, Tid};
use bpf::{arg_hi, arg_lo, jump, ret, stmt, JEQ_K, LD_W_ABS, OFFSET_NR};
use nix::errno::Errno;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

/// The syscall number of an install request: beyond every real x86_64 number.
pub const INSTALL_NR: u64 = 0x3ff;

const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;
const SECCOMP_IOCTL_NOTIF_RECV: libc::c_ulong = 0xc050_2100;
const SECCOMP_IOCTL_NOTIF_SEND: libc::c_ulong = 0xc018_2101;
const SECCOMP_IOCTL_NOTIF_ADDFD: libc::c_ulong = 0x4018_2103;
const SECCOMP_ADDFD_FLAG_SETFD: u32 = 1 << 0;
const SECCOMP_ADDFD_FLAG_SEND: u32 = 1 << 1;
/// Filter flags for the install filter: return a listener (SECCOMP_FILTER_FLAG_NEW_LISTENER).
/// Any signal interrupts a waiting task, as it would a blocking open: the request is gone
/// (ADDFD answers ENOENT), the call fails with ERESTARTSYS and is restarted or gives EINTR
/// by the task's handler. WAIT_KILLABLE_RECV would hold a received request against all but
/// fatal signals, and so a FIFO's open (whose fd may take long) against ^C; an ordinary
/// install is answered microseconds after the request arrives.
pub const INSTALL_FILTER_FLAGS: libc::c_ulong = 1 << 3;

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct SeccompData {
    nr: i32,
    arch: u32,
    instruction_pointer: u64,
    args: [u64; 6],
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct SeccompNotif {
    id: u64,
    pid: u32,
    flags: u32,
    data: SeccompData,
}

#[repr(C)]
#[derive(Default)]
struct SeccompNotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct SeccompNotifAddfd {
    id: u64,
    flags: u32,
    srcfd: u32,
    newfd: u32,
    newfd_flags: u32,
}

/// The random cookie of one sandbox.
pub type Cookie = [u64; 2];

/// A fresh random cookie.
pub fn new_cookie() -> Cookie {
    let mut bytes = [0u8; 16];
    // SAFETY: getrandom writes at most 16 bytes into our buffer.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    assert_eq!(n, 16, "getrandom failed");
    [
        u64::from_ne_bytes(bytes[..8].try_into().expect("8 bytes")),
        u64::from_ne_bytes(bytes[8..].try_into().expect("8 bytes")),
    ]
}

/// The install filter for `cookie`.
pub fn install_filter(cookie: Cookie) -> Filter {
    // Each check falls through on a match and jumps to the final ALLOW otherwise.
    let words = [
        (OFFSET_NR, INSTALL_NR as u32),
        (arg_lo(0), cookie[0] as u32),
        (arg_hi(0), (cookie[0] >> 32) as u32),
        (arg_lo(1), cookie[1] as u32),
        (arg_hi(1), (cookie[1] >> 32) as u32),
    ];
    let mut code = Vec::new();
    for (i, (offset, value)) in words.iter().enumerate() {
        let remaining = (words.len() - i - 1) as u8;
        code.push(stmt(LD_W_ABS, *offset));
        // Skip the remaining checks (2 instructions each) and the USER_NOTIF return.
        code.push(jump(JEQ_K, *value, 0, remaining * 2 + 1));
    }
    code.push(ret(SECCOMP_RET_USER_NOTIF));
    code.push(ret(libc::SECCOMP_RET_ALLOW));
    Filter { instructions: code }
}

/// A request the tracer received from a task.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    pub id: u64,
    pub tid: Tid,
    /// Whether it is an install request carrying the sandbox's cookie.
    pub is_install: bool,
}

/// The tracer's end of the install filter.
pub struct Listener {
    fd: OwnedFd,
    cookie: Cookie,
}

impl Listener {
    pub fn new(fd: OwnedFd, cookie: Cookie) -> Self {
        Listener { fd, cookie }
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.fd.as_fd()
    }

    /// Turns the call `stopped` is in (at an entry or seccomp stop) into an install
    /// request. Returns the registers to put back at the call's exit stop.
    pub fn prepare(&self, stopped: &Stopped) -> crate::Result<Regs> {
        let saved = stopped.regs()?;
        let mut regs = saved;
        regs.set_syscall(INSTALL_NR as i64);
        regs.set_arg(0, self.cookie[0]);
        regs.set_arg(1, self.cookie[1]);
        stopped.set_regs(&regs)?;
        Ok(saved)
    }

    /// Receives one pending request (the listener is readable).
    pub fn receive(&self) -> Result<Request, Errno> {
        let mut notif = SeccompNotif::default();
        // SAFETY: the ioctl writes one seccomp_notif into memory we own.
        let rc = unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                SECCOMP_IOCTL_NOTIF_RECV,
                &mut notif as *mut SeccompNotif,
            )
        };
        if rc < 0 {
            return Err(Errno::last());
        }
        let d = notif.data;
        Ok(Request {
            id: notif.id,
            tid: notif.pid as Tid,
            is_install: d.nr as u64 == INSTALL_NR
                && d.args[0] == self.cookie[0]
                && d.args[1] == self.cookie[1],
        })
    }

    /// Places `fd` in the requesting task's table (at number `at`, or the lowest free
    /// number as open(2) does) and completes its call with that number.
    pub fn install(
        &self,
        id: u64,
        fd: BorrowedFd,
        cloexec: bool,
        at: Option<u32>,
    ) -> Result<i32, Errno> {
        let addfd = SeccompNotifAddfd {
            id,
            flags: SECCOMP_ADDFD_FLAG_SEND | at.map_or(0, |_| SECCOMP_ADDFD_FLAG_SETFD),
            srcfd: fd.as_raw_fd() as u32,
            newfd: at.unwrap_or(0),
            newfd_flags: if cloexec { libc::O_CLOEXEC as u32 } else { 0 },
        };
        // SAFETY: the ioctl reads one seccomp_notif_addfd from memory we own.
        let rc = unsafe { libc::ioctl(self.fd.as_raw_fd(), SECCOMP_IOCTL_NOTIF_ADDFD, &addfd) };
        if rc < 0 {
            return Err(Errno::last());
        }
        Ok(rc)
    }

    /// Completes a request with an error (for requests that are not the sentry's).
    pub fn refuse(&self, id: u64, errno: Errno) {
        let resp = SeccompNotifResp {
            id,
            val: 0,
            error: -(errno as i32),
            flags: 0,
        };
        // SAFETY: the ioctl reads one seccomp_notif_resp from memory we own.
        unsafe { libc::ioctl(self.fd.as_raw_fd(), SECCOMP_IOCTL_NOTIF_SEND, &resp) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(filter: &Filter, data: &SeccompData) -> u32 {
        filter.evaluate_call(data.arch, data.nr as u32, &data.args)
    }

    #[test]
    fn only_the_cookie_request_notifies() {
        let cookie = [0x1122_3344_5566_7788, 0x99aa_bbcc_ddee_ff00];
        let filter = install_filter(cookie);
        let mut data = SeccompData {
            nr: INSTALL_NR as i32,
            arch: 0xc000_003e,
            instruction_pointer: 0,
            args: [cookie[0], cookie[1], 0, 0, 0, 0],
        };
        assert_eq!(eval(&filter, &data), SECCOMP_RET_USER_NOTIF);
        data.args[1] ^= 1 << 40;
        assert_eq!(eval(&filter, &data), libc::SECCOMP_RET_ALLOW);
        data.args[1] = cookie[1];
        data.nr = 2;
        assert_eq!(eval(&filter, &data), libc::SECCOMP_RET_ALLOW);
    }
}

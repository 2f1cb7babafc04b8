//! ioctl: TIOCSTI and TIOCLINUX refused on every terminal; the ids of fd owners, process
//! groups and sessions translated; interface queries answered for the sandbox's network.

use super::{deny_event, errno, Action, Call};
use nix::errno::Errno;

crate::syscall_entries! {
    ioctl(fd: Fd, request: Hex, arg: Hex) => Checked, |call, _| ioctl(call);
}

/// ioctl(2): TIOCSTI would push keystrokes into the terminal the user's shell reads,
/// TIOCLINUX can do the same on a virtual console.
fn ioctl(call: &mut Call) -> Action {
    const TIOCLINUX: u64 = 0x541c;
    if let Some(action) = super::owner::ioctl(call) {
        return action;
    }
    if let Some(action) = super::net::interface_ioctl(call) {
        return action;
    }
    match call.args[1] & 0xffff_ffff {
        c if c == libc::TIOCSTI => {
            deny_event(call, Errno::EPERM as i32, "TIOCSTI");
            errno(Errno::EPERM)
        }
        TIOCLINUX => {
            deny_event(call, Errno::EPERM as i32, "TIOCLINUX");
            errno(Errno::EPERM)
        }
        // The sandbox numbers its terminals itself.
        c if c == libc::TIOCGPTN => super::terminals::ptn(call),
        _ => Action::Pass,
    }
}

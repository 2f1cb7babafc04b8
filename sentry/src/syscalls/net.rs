//! socket and socketpair: with `--net=none` the sandbox gets AF_UNIX only.

use super::{deny_event, errno, Action, Call};
use crate::kernel::NetMode;
use syscalls::Errno;

pub fn socket(call: &mut Call) -> Action {
    let domain = call.args[0] as i32;
    if call.kernel.net == NetMode::Host || domain == libc::AF_UNIX {
        return Action::Pass;
    }
    deny_event(
        call,
        Errno::EACCES,
        &format!("address family {domain} with --net=none"),
    );
    errno(Errno::EACCES)
}

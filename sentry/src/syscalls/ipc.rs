//! SysV IPC. Keys and ids are host-global; the sandbox may create private objects and
//! use the ids it created, and nothing else.

use super::{deny_event, errno, Action, Call, ExitHook};
use crate::kernel::IpcKind;
use syscalls::{Errno, Sysno};

pub fn handle(call: &mut Call) -> Action {
    let (kind, creating) = match call.sysno {
        Sysno::shmget => (IpcKind::Shm, true),
        Sysno::semget => (IpcKind::Sem, true),
        Sysno::msgget => (IpcKind::Msg, true),
        Sysno::shmat | Sysno::shmctl => (IpcKind::Shm, false),
        Sysno::semop | Sysno::semctl | Sysno::semtimedop => (IpcKind::Sem, false),
        _ => (IpcKind::Msg, false),
    };
    if creating {
        if call.args[0] != libc::IPC_PRIVATE as u64 {
            deny_event(
                call,
                Errno::EACCES.into_raw(),
                "SysV IPC keys name host objects",
            );
            return errno(Errno::EACCES);
        }
        return Action::PassThenExit(ExitHook::RecordIpc(kind));
    }
    let id = call.args[0] as i32;
    if call.kernel.ipc_ids.contains(&(kind, id)) {
        Action::Pass
    } else {
        errno(Errno::EINVAL)
    }
}

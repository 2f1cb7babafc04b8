//! The mechanics of stopping and steering traced tasks, on Linux's ptrace(2).
//!
//! This crate knows no policy: it starts a traced child, waits for stops and
//! tells what each stop is ([`Stop`]), reads and writes registers and memory,
//! and resumes. A task can only be operated on while it is stopped: the
//! [`Stopped`] handle returned by [`wait`] is the proof, and resuming consumes it.

mod mem;
pub mod notify;
mod regs;
pub mod seccomp;
mod spawn;
mod stop;

pub use mem::{read_bytes, read_cstring, write_bytes, write_bytes_forced};
pub use regs::Regs;
pub use spawn::{give_terminal_to, spawn, SpawnError, SpawnSpec, Spawned};
pub use stop::{
    interrupt, wait, wait_for, wait_nohang, Event, NewTaskKind, Resume, Stop, Stopped, SyscallArch,
    SyscallInfo, Waited,
};

/// A host thread id.
pub type Tid = libc::pid_t;

/// Errors from the platform: a ptrace or wait call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{op} on task {tid}: {errno}")]
    Ptrace {
        op: &'static str,
        tid: Tid,
        errno: nix::errno::Errno,
    },
    #[error("waitpid: {0}")]
    Wait(nix::errno::Errno),
}

pub type Result<T> = std::result::Result<T, Error>;

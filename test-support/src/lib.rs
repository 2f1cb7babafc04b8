//! What the workspace's integration tests share: the repository's paths, fixtures built once
//! per test binary, scratch directories, processes found by a token, commands run with a
//! deadline, and the sentry run in its test variants.
//!
//! Processes are waited for with pidfds and poll(2), never with sleeps, and every wait has a
//! deadline: past it the process is killed and the test fails (or the caller is told), so a
//! hang shows up as a failure instead of a stuck test run.

mod fixtures;
mod group;
mod process;
mod run;
mod scratch;
mod sentry;

use std::path::{Path, PathBuf};

pub use fixtures::{busybox_rootfs, escape_programs, hostlibs_rootfs, programs_dir};
pub use group::{run_in_group, Finished};
pub use process::{
    assert_none_survive, janitor_done, marked_processes, pidfd_open, pidfd_wait_exit, thread_count,
    unique_marker, KillOnDrop, ParkedThreads,
};
pub use run::{run_to_end, Live, Run, RUN_DEADLINE};
pub use scratch::Scratch;
pub use sentry::{Outcome, Platform, User, Variant};

/// The uid and gid of the unprivileged runs.
pub const NOBODY: u32 = 65534;

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("test-support sits in the workspace root")
        .to_path_buf()
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

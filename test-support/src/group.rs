//! A command run in its own process group with a deadline, its output in files, and nothing of
//! it left running afterwards.

use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::process::{kill_group, pidfd, pidfd_wait_exit, processes_with_env};

/// How a command run by [`run_in_group`] ended.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status (SIGKILL when it was killed at the deadline).
    pub status: ExitStatus,
    /// It was still running at the deadline.
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
    /// Processes still alive after the command ended that carried the token; they were then
    /// killed.
    pub leftover: Vec<i32>,
}

/// Runs `cmd` in a new process group, stdin from /dev/null, stdout and stderr into the files
/// `out` and `err`. Waits at most `timeout`; at the deadline the whole group gets SIGKILL.
/// Afterwards the processes whose environment holds the entry `token` (`KEY=VALUE`) are killed
/// and listed, and the group is killed again: nothing of the run outlives it.
pub fn run_in_group(
    mut cmd: Command,
    out: &Path,
    err: &Path,
    timeout: Duration,
    token: Option<&str>,
) -> io::Result<Finished> {
    cmd.stdin(Stdio::null())
        .stdout(File::create(out)?)
        .stderr(File::create(err)?)
        .process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot start {cmd:?}: {e}")))?;
    let pid = child.id() as i32;
    let exited = match pidfd(pid) {
        Ok(fd) => pidfd_wait_exit(&fd, timeout),
        Err(e) => {
            kill_group(pid);
            let _ = child.wait();
            return Err(io::Error::new(e.kind(), format!("pidfd_open: {e}")));
        }
    };
    if !exited {
        kill_group(pid);
    }
    let status = child.wait()?;
    // Looked for before the group is killed, since a task that left the group (setsid) would
    // survive that kill.
    let leftover = token.map(processes_with_env).unwrap_or_default();
    for p in &leftover {
        // SAFETY: kill(2) of a pid found carrying this run's token: a process this run started.
        unsafe {
            libc::kill(*p, libc::SIGKILL);
        }
    }
    kill_group(pid);
    let read =
        |path: &Path| String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into();
    Ok(Finished {
        status,
        timed_out: !exited,
        stdout: read(out),
        stderr: read(err),
        leftover,
    })
}

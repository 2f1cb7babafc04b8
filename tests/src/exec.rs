//! Running one command with a timeout, its output captured in files, in its own process group.

use std::fs::File;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// Exited with this status.
    Exit(i32),
    /// Killed by this signal.
    Signal(i32),
    /// Still running at the deadline: its process group was killed.
    Timeout,
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ending::Exit(c) => write!(f, "exit {c}"),
            Ending::Signal(s) => write!(f, "signal {s}"),
            Ending::Timeout => write!(f, "timeout"),
        }
    }
}

/// The result of [`run`].
#[derive(Debug, Clone)]
pub struct Outcome {
    pub ending: Ending,
    pub stdout: String,
    pub stderr: String,
    /// Host pids still alive after the command ended whose environment held the token (they
    /// were then killed).
    pub leftover: Vec<i32>,
}

/// Runs `argv` with the environment `env` only, stdin from /dev/null, stdout and stderr into
/// files under `scratch`, in a new process group. Waits at most `timeout` (a poll(2) on a pidfd,
/// not a sleep); at the deadline the whole process group gets SIGKILL.
pub fn run(
    argv: &[String],
    env: &[(String, String)],
    scratch: &Path,
    timeout: Duration,
    token: Option<&str>,
) -> Result<Outcome> {
    let (prog, args) = argv.split_first().context("empty command")?;
    std::fs::create_dir_all(scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let out_path = scratch.join("stdout");
    let err_path = scratch.join("stderr");
    let out = File::create(&out_path).context("creating stdout file")?;
    let err = File::create(&err_path).context("creating stderr file")?;
    let mut child = Command::new(prog)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .with_context(|| format!("spawning {prog}"))?;
    let pid = child.id() as libc::pid_t;
    let ending = match wait_deadline(pid, timeout)? {
        true => status_ending(child.wait().context("wait")?),
        false => {
            kill_group(pid);
            let _ = child.wait();
            Ending::Timeout
        }
    };
    // Tasks that outlived the command: looked for before the group is killed, since a task that
    // left the group (setsid) would survive that kill.
    let leftover = token.map(processes_with_env).unwrap_or_default();
    for p in &leftover {
        // SAFETY: kill(2) on a pid we found carrying our run token: a process this run started.
        unsafe {
            libc::kill(*p, libc::SIGKILL);
        }
    }
    // Whatever the ending, nothing of this group may outlive the run.
    kill_group(pid);
    let stdout = String::from_utf8_lossy(&std::fs::read(&out_path).unwrap_or_default()).into();
    let stderr = String::from_utf8_lossy(&std::fs::read(&err_path).unwrap_or_default()).into();
    Ok(Outcome {
        ending,
        stdout,
        stderr,
        leftover,
    })
}

fn status_ending(st: std::process::ExitStatus) -> Ending {
    match (st.code(), st.signal()) {
        (Some(c), _) => Ending::Exit(c),
        (None, Some(s)) => Ending::Signal(s),
        _ => Ending::Exit(-1),
    }
}

fn kill_group(pgid: libc::pid_t) {
    // SAFETY: kill(2) with a negative pid only sends a signal to our own child's process group;
    // it touches no memory of ours.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// Waits until `pid` (our child) has exited or `timeout` passed; true when it exited.
fn wait_deadline(pid: libc::pid_t, timeout: Duration) -> Result<bool> {
    // SAFETY: pidfd_open takes two integers and returns a new fd or -1; no memory is shared.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as libc::c_int;
    if fd < 0 {
        anyhow::bail!("pidfd_open: {}", std::io::Error::last_os_error());
    }
    let deadline = std::time::Instant::now() + timeout;
    let ready = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break false;
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = left.as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: pfd is a valid pollfd on our stack and we pass a count of 1.
        let r = unsafe { libc::poll(&mut pfd, 1, ms.max(1)) };
        if r > 0 {
            break true;
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break false;
        }
    };
    // SAFETY: fd is the pidfd we opened above and own.
    unsafe {
        libc::close(fd);
    }
    Ok(ready)
}

/// Host pids of live processes whose environment holds `token` (as `KEY=token`).
pub fn processes_with_env(token: &str) -> Vec<i32> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    let me = std::process::id() as i32;
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(env) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        if env
            .split(|b| *b == 0)
            .any(|kv| kv.ends_with(token.as_bytes()) && kv.contains(&b'='))
        {
            found.push(pid);
        }
    }
    found
}

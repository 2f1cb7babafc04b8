//! Running one command with a timeout, its output captured in files, in its own process group.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;
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
/// not a sleep); at the deadline the whole process group gets SIGKILL. With a `token`, the
/// processes still alive afterwards whose environment holds `CONFORMANCE_TOKEN=<token>` are
/// killed and listed.
pub fn run(
    argv: &[String],
    env: &[(String, String)],
    scratch: &Path,
    timeout: Duration,
    token: Option<&str>,
) -> Result<Outcome> {
    let (prog, args) = argv.split_first().context("empty command")?;
    std::fs::create_dir_all(scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)));
    let token = token.map(|t| format!("CONFORMANCE_TOKEN={t}"));
    let run = test_support::run_in_group(
        cmd,
        &scratch.join("stdout"),
        &scratch.join("stderr"),
        timeout,
        token.as_deref(),
    )
    .with_context(|| format!("running {prog}"))?;
    let ending = match (run.timed_out, run.status.code(), run.status.signal()) {
        (true, _, _) => Ending::Timeout,
        (false, Some(c), _) => Ending::Exit(c),
        (false, None, Some(s)) => Ending::Signal(s),
        (false, None, None) => Ending::Exit(-1),
    };
    Ok(Outcome {
        ending,
        stdout: run.stdout,
        stderr: run.stderr,
        leftover: run.leftover,
    })
}

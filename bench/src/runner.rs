//! Running one command under one configuration: spawn, wait with a deadline, capture output,
//! time it, and (optionally) sample the memory of the process tree.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use libc::sock_filter;
use serde::{Deserialize, Serialize};

use crate::seccomp;

/// How a configuration starts a command.
#[derive(Debug, Clone)]
pub enum Wrapper {
    /// Exec the command directly.
    Direct,
    /// Exec `prefix... command...` (the sentry, runsc, proot, bwrap).
    Prefix(Vec<String>),
    /// Fork, install this allow-list filter with no_new_privs, exec.
    SeccompBpf(Arc<Vec<sock_filter>>),
    /// Fork, install this user-notification filter, hand the listener to a supervisor thread
    /// of the harness over a socketpair (SCM_RIGHTS), exec.
    /// A user-notification filter and a supervisor thread that answers CONTINUE; `true`:
    /// with SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP on the listener.
    SeccompNotify(Arc<Vec<sock_filter>>, bool),
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    Exited(i32),
    Signaled(i32),
    TimedOut,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Exited(c) => write!(f, "exit status {c}"),
            Status::Signaled(s) => write!(f, "killed by signal {s}"),
            Status::TimedOut => write!(f, "timed out"),
        }
    }
}

/// One process seen in the tree while sampling memory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcRss {
    pub pid: i32,
    pub name: String,
    /// The process's own peak resident set size (VmHWM), at the last sample that saw it.
    pub hwm_kib: u64,
}

/// The memory of a process tree, sampled from /proc while it ran.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RssPeak {
    /// Sum of `hwm_kib` over `processes`.
    pub total_kib: u64,
    /// The processes counted: every process of the tree that was never seen traced.
    pub processes: Vec<ProcRss>,
    /// How many traced processes (the sandboxed program's) were seen and left out.
    pub excluded_traced: usize,
    pub samples: u64,
}

/// What one run of a command produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    pub stdout: String,
    pub stderr: String,
    /// From just before spawn to the moment the process was seen to exit.
    pub wall_ns: f64,
    /// `ru_maxrss` from wait4: the largest single process of the tree, in KiB.
    pub maxrss_kib: u64,
    pub rss: Option<RssPeak>,
    /// Notifications the supervisor answered (seccomp-notify only).
    pub notifications: Option<u64>,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.status == Status::Exited(0)
    }

    /// A one-line description of a failure: the status and the last line of stderr.
    pub fn failure(&self) -> String {
        let last = self
            .stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        if last.is_empty() {
            self.status.to_string()
        } else {
            format!("{}: {}", self.status, truncate(last, 200))
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

/// Interval between memory samples.
const RSS_INTERVAL: Duration = Duration::from_millis(5);

/// Runs `argv` under `wrapper`. `Err` only when the command could not be started at all.
pub fn run(
    wrapper: &Wrapper,
    argv: &[String],
    timeout: Duration,
    sample_rss: bool,
) -> Result<Outcome> {
    let (program, args): (&str, Vec<&str>) = match wrapper {
        Wrapper::Prefix(prefix) => {
            let (p, rest) = prefix
                .split_first()
                .ok_or_else(|| anyhow!("empty prefix"))?;
            (p, rest.iter().chain(argv).map(String::as_str).collect())
        }
        _ => {
            let (p, rest) = argv.split_first().ok_or_else(|| anyhow!("empty command"))?;
            (p, rest.iter().map(String::as_str).collect())
        }
    };
    let mut cmd = Command::new(program);
    cmd.args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);

    let mut supervisor = None;
    let mut child_sock = None;
    match wrapper {
        Wrapper::Direct | Wrapper::Prefix(_) => {}
        Wrapper::SeccompBpf(prog) => {
            let prog = Arc::clone(prog);
            // SAFETY: the closure runs in the forked child before exec; it only makes raw
            // system calls (prctl, seccomp) on memory allocated before the fork.
            unsafe {
                cmd.pre_exec(move || bpf::install(&prog, 0).map(|_| ()).map_err(io::Error::from));
            }
        }
        Wrapper::SeccompNotify(prog, sync) => {
            let sync = *sync;
            let (parent, child) = socketpair()?;
            let prog = Arc::clone(prog);
            let child_fd = child.as_raw_fd();
            // SAFETY: the closure runs in the forked child before exec; it only makes raw
            // system calls (prctl, seccomp, sendmsg, close) on memory allocated before the fork
            // or on its own stack. Calls after the filter is installed, except sendmsg, wait
            // for the supervisor thread, which is already running.
            unsafe {
                cmd.pre_exec(move || {
                    let listener = bpf::install(
                        &prog,
                        libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as libc::c_ulong,
                    )?;
                    seccomp::send_fd(child_fd, listener)?;
                    libc::close(listener);
                    Ok(())
                });
            }
            supervisor = Some(thread::spawn(move || -> io::Result<u64> {
                match seccomp::recv_fd(parent.as_raw_fd())? {
                    Some(listener) => seccomp::supervise(&listener, sync),
                    None => Ok(0),
                }
            }));
            child_sock = Some(child);
        }
    }

    let start = Instant::now();
    let spawned = cmd.spawn();
    // The child has its copy (closed at exec); ours must go so that the supervisor sees EOF
    // if the child never sends the listener.
    drop(child_sock);
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            if let Some(s) = supervisor {
                let _ = s.join();
            }
            return Err(anyhow!(e).context(format!("cannot start {program}")));
        }
    };
    let pid = child.id() as i32;
    let out = child.stdout.take().map(OwnedFd::from);
    let err = child.stderr.take().map(OwnedFd::from);
    let pidfd = pidfd_open(pid).context("pidfd_open")?;

    let deadline = start + timeout;
    let mut timed_out = false;
    let mut sampler = sample_rss.then(Sampler::default);
    let mut next_sample = start;
    let mut bufs = [Vec::new(), Vec::new()];
    let mut pipes = [out, err];
    for p in pipes.iter().flatten() {
        set_nonblocking(p.as_raw_fd())?;
    }
    let end;
    loop {
        let now = Instant::now();
        if let Some(s) = sampler.as_mut() {
            if now >= next_sample {
                s.sample(pid);
                next_sample = now + RSS_INTERVAL;
            }
        }
        if !timed_out && now >= deadline {
            timed_out = true;
            kill_group(pid);
        }
        let mut wait_for = if timed_out {
            Duration::from_secs(10)
        } else {
            deadline.saturating_duration_since(now)
        };
        if sampler.is_some() {
            wait_for = wait_for.min(next_sample.saturating_duration_since(now));
        }
        let mut fds = vec![libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        for p in pipes.iter().flatten() {
            fds.push(libc::pollfd {
                fd: p.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        let ms = wait_for.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: `fds` is a valid array of `fds.len()` pollfds.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e).context("poll");
        }
        drain(&mut pipes, &mut bufs);
        if fds[0].revents != 0 {
            end = Instant::now();
            break;
        }
    }
    if let Some(s) = sampler.as_mut() {
        s.sample(pid);
    }
    let (status, maxrss_kib) = wait4(pid)?;
    // Anything the command left behind in its process group goes now.
    kill_group(pid);
    drain(&mut pipes, &mut bufs);
    let notifications = match supervisor {
        Some(s) => Some(
            s.join()
                .map_err(|_| anyhow!("supervisor thread panicked"))?
                .context("seccomp supervisor")?,
        ),
        None => None,
    };
    let [out, err] = bufs;
    Ok(Outcome {
        status: if timed_out { Status::TimedOut } else { status },
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
        wall_ns: end.duration_since(start).as_nanos() as f64,
        maxrss_kib,
        rss: sampler.map(Sampler::finish),
        notifications,
    })
}

/// Reads whatever is available on the pipes; closes a pipe at EOF.
fn drain(pipes: &mut [Option<OwnedFd>; 2], bufs: &mut [Vec<u8>; 2]) {
    for (p, buf) in pipes.iter_mut().zip(bufs.iter_mut()) {
        let Some(fd) = p.as_ref() else { continue };
        // SAFETY: `fd` is a valid open fd that we own; the ManuallyDrop'd File only borrows it.
        let mut f =
            std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd.as_raw_fd()) });
        let mut chunk = [0u8; 8192];
        loop {
            match f.read(&mut chunk) {
                Ok(0) => {
                    *p = None;
                    break;
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    }
}

fn socketpair() -> Result<(OwnedFd, OwnedFd)> {
    let mut sv = [0; 2];
    // SAFETY: `sv` has room for the two fds socketpair writes.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            sv.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error()).context("socketpair");
    }
    // SAFETY: socketpair returned two fresh fds that nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(sv[0]), OwnedFd::from_raw_fd(sv[1])) })
}

fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags; no pointers.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a fresh fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) })
}

fn set_nonblocking(fd: RawFd) -> Result<()> {
    // SAFETY: fcntl on an fd we own, integer arguments only.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error()).context("fcntl O_NONBLOCK");
    }
    Ok(())
}

fn kill_group(pid: i32) {
    // SAFETY: kill takes integers only; the group was created for this command
    // (process_group(0)), so its id is the child's pid.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
}

fn wait4(pid: i32) -> Result<(Status, u64)> {
    let mut status = 0;
    // SAFETY: rusage is plain data; all-zero is valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to `status` and `ru`.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            break;
        }
        let e = io::Error::last_os_error();
        if r < 0 && e.kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return Err(e).context("wait4");
    }
    let st = if libc::WIFEXITED(status) {
        Status::Exited(libc::WEXITSTATUS(status))
    } else {
        Status::Signaled(libc::WTERMSIG(status))
    };
    Ok((st, ru.ru_maxrss.max(0) as u64))
}

#[derive(Default)]
struct Seen {
    name: String,
    hwm_kib: u64,
    traced: bool,
}

/// Walks the process tree under a root through /proc and keeps, per process, its name, its
/// peak RSS (VmHWM) and whether it was ever seen traced.
#[derive(Default)]
struct Sampler {
    seen: BTreeMap<i32, Seen>,
    samples: u64,
}

impl Sampler {
    fn sample(&mut self, root: i32) {
        self.samples += 1;
        let mut stack = vec![root];
        let mut visited = 0;
        while let Some(pid) = stack.pop() {
            visited += 1;
            if visited > 100_000 {
                break;
            }
            if let Some((name, tracer, hwm)) = read_status(pid) {
                let e = self.seen.entry(pid).or_default();
                // argv[0] tells re-executed runtimes apart (runsc-sandbox, runsc-gofer), where
                // the kernel's name is just "exe".
                e.name = argv0(pid).unwrap_or(name);
                e.traced |= tracer != 0;
                if let Some(h) = hwm {
                    e.hwm_kib = e.hwm_kib.max(h);
                }
            }
            stack.extend(children(pid));
        }
    }

    fn finish(self) -> RssPeak {
        let excluded_traced = self.seen.values().filter(|s| s.traced).count();
        let processes: Vec<ProcRss> = self
            .seen
            .into_iter()
            .filter(|(_, s)| !s.traced && s.hwm_kib > 0)
            .map(|(pid, s)| ProcRss {
                pid,
                name: s.name,
                hwm_kib: s.hwm_kib,
            })
            .collect();
        RssPeak {
            total_kib: processes.iter().map(|p| p.hwm_kib).sum(),
            processes,
            excluded_traced,
            samples: self.samples,
        }
    }
}

/// Name, TracerPid and VmHWM (KiB) from /proc/<pid>/status.
fn read_status(pid: i32) -> Option<(String, i32, Option<u64>)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status(&text)
}

fn parse_status(text: &str) -> Option<(String, i32, Option<u64>)> {
    let mut name = None;
    let mut tracer = 0;
    let mut hwm = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("Name:") {
            name = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("TracerPid:") {
            tracer = v.trim().parse().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("VmHWM:") {
            hwm = v.trim().trim_end_matches("kB").trim().parse().ok();
        }
    }
    Some((name?, tracer, hwm))
}

/// The base name of argv[0] from /proc/<pid>/cmdline.
fn argv0(pid: i32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let first = raw.split(|b| *b == 0).next()?;
    let s = String::from_utf8_lossy(first);
    let base = s.rsplit('/').next()?.trim();
    (!base.is_empty()).then(|| base.to_string())
}

fn children(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        let p = t.path().join("children");
        if let Ok(s) = std::fs::read_to_string(Path::new(&p)) {
            out.extend(s.split_whitespace().filter_map(|x| x.parse::<i32>().ok()));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_are_parsed() {
        let text = "Name:\tsentry\nUmask:\t0022\nState:\tS (sleeping)\nTracerPid:\t0\nVmHWM:\t   12345 kB\n";
        assert_eq!(parse_status(text), Some(("sentry".into(), 0, Some(12345))));
        let zombie = "Name:\tsh\nTracerPid:\t77\n";
        assert_eq!(parse_status(zombie), Some(("sh".into(), 77, None)));
        assert_eq!(parse_status("garbage"), None);
    }

    #[test]
    fn failure_names_status_and_last_stderr_line() {
        let o = Outcome {
            status: Status::Exited(125),
            stdout: String::new(),
            stderr: "warning\nsentry: no such platform\n\n".into(),
            wall_ns: 0.0,
            maxrss_kib: 0,
            rss: None,
            notifications: None,
        };
        assert!(!o.ok());
        assert_eq!(o.failure(), "exit status 125: sentry: no such platform");
    }
}

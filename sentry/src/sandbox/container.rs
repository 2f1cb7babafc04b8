//! The long-lived sandbox of the OCI runtime commands.
//!
//! `create` forks a sentry process (the *sandbox process*) that leaves the caller's session,
//! sets the sandbox up (gofer, tables, the program found) and then waits on a control socket
//! in its state directory `ROOT/ID/`. Its pid is the one written to `--pid-file`: it stays a
//! descendant of the caller, so a subreaper (conmon, containerd's shim) waits on it, and it
//! exits with the container's status (N, or 128+N for a death by signal N). `start` asks it
//! to start the first task; `kill` to signal the first task or every task; `delete` kills
//! it if needed and removes the state directory, which also holds the sandbox's scratch
//! directory, so that nothing is left even after the sandbox process was SIGKILLed.

use super::bundle::Bundle;
use super::tasks::{descendants, send, signal_task};
use super::{Failure, Process, Starter};
use crate::supervisor::control::{Control, ProcessEvent, Request};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Exit status of a runtime command that failed (runc's).
pub const EXIT_FAILED: u8 = 1;

/// What the OCI commands report: one line, and runc's exit status 1.
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(text: impl Into<String>) -> Result<T, Error> {
    Err(Error(text.into()))
}

/// The container states of the OCI runtime spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// What `state.json` records of a sandbox.
#[derive(Debug, Clone)]
pub struct State {
    pub id: String,
    pub pid: i32,
    /// The sandbox process's start time (field 22 of /proc/PID/stat), so that a reused pid
    /// is never taken for it.
    pub start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub started: bool,
    /// Every task is frozen (`pause`).
    pub paused: bool,
    pub annotations: Vec<(String, String)>,
}

impl State {
    fn to_json(&self) -> serde_json::Value {
        let annotations: serde_json::Map<String, serde_json::Value> = self
            .annotations
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        serde_json::json!({
            "id": self.id,
            "pid": self.pid,
            "start_time": self.start_time,
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "started": self.started,
            "paused": self.paused,
            "annotations": annotations,
        })
    }

    fn from_json(v: &serde_json::Value) -> Option<State> {
        Some(State {
            id: v.get("id")?.as_str()?.to_string(),
            pid: i32::try_from(v.get("pid")?.as_i64()?).ok()?,
            start_time: v.get("start_time")?.as_u64()?,
            bundle: PathBuf::from(v.get("bundle")?.as_str()?),
            rootfs: PathBuf::from(v.get("rootfs")?.as_str()?),
            created: v.get("created")?.as_str()?.to_string(),
            started: v.get("started")?.as_bool()?,
            paused: v.get("paused").and_then(|p| p.as_bool()).unwrap_or(false),
            annotations: v
                .get("annotations")?
                .as_object()?
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect(),
        })
    }

    /// The state as `sentry state` prints it (the runtime spec's, with runc's extras).
    pub fn report(&self, status: Status) -> serde_json::Value {
        let mut v = serde_json::json!({
            "ociVersion": "1.0.2",
            "id": self.id,
            "status": status.name(),
            "pid": if status == Status::Stopped { 0 } else { self.pid },
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": "",
        });
        if !self.annotations.is_empty() {
            v["annotations"] = self.to_json()["annotations"].clone();
        }
        v
    }
}

/// The root directory of the state directories: `--root`, or /run/sentry for root and
/// $XDG_RUNTIME_DIR/sentry (else /tmp/sentry-UID) for others.
pub fn default_root() -> PathBuf {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    if uid == 0 {
        return PathBuf::from("/run/sentry");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("sentry"),
        _ => std::env::temp_dir().join(format!("sentry-{uid}")),
    }
}

/// Checks a container id: a file name of letters, digits and `_+-.`, as runc allows.
pub fn check_id(id: &str) -> Result<(), Error> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b));
    if ok {
        Ok(())
    } else {
        err(format!("invalid container id '{id}'"))
    }
}

fn state_dir(root: &Path, id: &str) -> Result<PathBuf, Error> {
    check_id(id)?;
    Ok(root.join(id))
}

/// The start time of a live process, if `pid` is one (zombies count as gone).
fn start_time(pid: i32) -> Option<u64> {
    let stat = crate::host::read_proc_text(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields count from the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    if fields.first() == Some(&"Z") || fields.first() == Some(&"X") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// Opens a pidfd for the sandbox process of `state` if it still runs (the same process:
/// its start time matches, checked after the pidfd pins it).
fn pin(state: &State) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes plain integers and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, state.pid, 0) } as RawFd;
    if fd < 0 {
        return None;
    }
    // SAFETY: the fd was just returned to us and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    (start_time(state.pid) == Some(state.start_time)).then_some(fd)
}

/// Loads the state of `id`.
pub fn load(root: &Path, id: &str) -> Result<(State, Status), Error> {
    let dir = state_dir(root, id)?;
    let text = match std::fs::read_to_string(dir.join("state.json")) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return err(format!("container {id} does not exist"))
        }
        Err(e) => return err(format!("container {id}: cannot read its state: {e}")),
    };
    let state = serde_json::from_str(&text)
        .ok()
        .and_then(|v| State::from_json(&v))
        .ok_or_else(|| Error(format!("container {id}: its state file is damaged")))?;
    let status = if pin(&state).is_none() {
        Status::Stopped
    } else if state.started && state.paused {
        Status::Paused
    } else if state.started {
        Status::Running
    } else {
        Status::Created
    };
    Ok((state, status))
}

/// The ids under `root` (for `list`).
pub fn ids(root: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("state.json").exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    ids
}

fn write_state(dir: &Path, state: &State) -> std::io::Result<()> {
    let tmp = dir.join("state.json.tmp");
    std::fs::write(&tmp, state.to_json().to_string())?;
    std::fs::rename(tmp, dir.join("state.json"))
}

/// A path to `name` in `dir` short enough for a Unix socket address whatever `dir`'s
/// length: through /proc/self/fd of an fd of `dir`.
fn socket_path(dir_fd: &std::fs::File, name: &str) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}/{name}", dir_fd.as_raw_fd()))
}

/// Talks to the sandbox process of `id`: one request line, one answer line.
fn request(root: &Path, id: &str, line: &str) -> Result<String, Error> {
    let dir = state_dir(root, id)?;
    let dir_fd = std::fs::File::open(&dir).map_err(|e| Error(format!("container {id}: {e}")))?;
    let mut stream = UnixStream::connect(socket_path(&dir_fd, "ctl"))
        .map_err(|e| Error(format!("container {id} does not answer: {e}")))?;
    stream
        .write_all(format!("{line}\n").as_bytes())
        .map_err(|e| Error(format!("container {id}: {e}")))?;
    let mut answer = String::new();
    BufReader::new(stream)
        .read_line(&mut answer)
        .map_err(|e| Error(format!("container {id}: {e}")))?;
    let answer = answer.trim_end();
    match answer.strip_prefix("error ") {
        Some(text) => err(text.to_string()),
        None if answer.is_empty() => err(format!("container {id} ended before it answered")),
        None => Ok(answer.to_string()),
    }
}

/// `start ID`.
pub fn start(root: &Path, id: &str) -> Result<(), Error> {
    let (_, status) = load(root, id)?;
    if status != Status::Created {
        return err(format!(
            "cannot start a container that is {} (only a created one)",
            status.name()
        ));
    }
    request(root, id, "start")?;
    let (state, status) = load(root, id)?;
    let hooks = saved_hooks(&state_dir(root, id)?).poststart;
    for e in super::hooks::run_all(&hooks, "poststart", &state.report(status)) {
        warn(&e);
    }
    Ok(())
}

/// `run`: create, start, and (unless `detach`) wait for the container's end; its status.
pub fn run(root: &Path, args: CreateArgs, bundle: Bundle, detach: bool) -> Result<u8, Error> {
    let id = args.id.clone();
    let pid = create(root, args, bundle)?;
    if let Err(e) = start(root, &id) {
        let _ = delete(root, &id, true);
        return Err(e);
    }
    if detach {
        return Ok(0);
    }
    let mut status = 0;
    // SAFETY: waitpid on our own child, writing one int we own.
    if unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
        return err(format!("waitpid: {}", std::io::Error::last_os_error()));
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    Ok(code.clamp(0, 255) as u8)
}

/// `pause ID` (`freeze` true) and `resume ID`.
pub fn pause(root: &Path, id: &str, freeze: bool) -> Result<(), Error> {
    let (_, status) = load(root, id)?;
    let (want, verb) = if freeze {
        (Status::Running, "pause")
    } else {
        (Status::Paused, "resume")
    };
    if status != want {
        return err(format!(
            "cannot {verb} container {id}: it is {}",
            status.name()
        ));
    }
    request(root, id, verb).map(drop)
}

/// `ps ID`: the host pids of the container's processes.
pub fn pids(root: &Path, id: &str) -> Result<Vec<i32>, Error> {
    let (_, status) = load(root, id)?;
    if status == Status::Stopped {
        return Ok(Vec::new());
    }
    let answer = request(root, id, "ps")?;
    Ok(answer
        .strip_prefix("pids")
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect())
}

/// What `exec` was asked for.
pub struct ExecArgs {
    pub id: String,
    /// The OCI process object (args, env, cwd, user, terminal).
    pub process: serde_json::Value,
    pub console_socket: Option<PathBuf>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
}

/// `exec`: starts a process in a running container. With `detach`, a waiter process
/// (whose pid goes to --pid-file, and whose exit status is the process's) is left behind
/// and this returns 0 once the process started; otherwise this waits and returns its status.
pub fn exec(root: &Path, args: ExecArgs) -> Result<u8, Error> {
    let id = &args.id;
    let (_, status) = load(root, id)?;
    if status != Status::Running {
        return err(format!(
            "cannot exec in a container that is {} (only a running one)",
            status.name()
        ));
    }
    let terminal = args.process["terminal"].as_bool().unwrap_or(false);
    if terminal && args.console_socket.is_none() {
        return err("exec --tty needs --console-socket");
    }
    let line = format!("exec {}\n", args.process);
    if !args.detach {
        if let Some(pid_file) = &args.pid_file {
            write_pid_file(pid_file, std::process::id() as i32)?;
        }
        let started = |_: Result<(), String>| {};
        return wait_for_exec(root, id, &line, args.console_socket.as_deref(), started);
    }
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into our array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return err(format!("pipe: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    let (ready_r, ready_w) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // The command line process has no thread but this one.
    // SAFETY: fork in a single-threaded process.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        drop(ready_r);
        // SAFETY: setsid takes no arguments: the waiter leaves the caller's session.
        unsafe { libc::setsid() };
        let mut ready = std::fs::File::from(ready_w);
        let started = |result: Result<(), String>| {
            let line = match result {
                Ok(()) => "ok\n".to_string(),
                Err(e) => format!("error {}\n", e.replace('\n', " ")),
            };
            let _ = ready.write_all(line.as_bytes());
        };
        let code = match wait_for_exec(root, id, &line, args.console_socket.as_deref(), started) {
            Ok(code) => i32::from(code),
            Err(_) => i32::from(EXIT_FAILED),
        };
        // SAFETY: _exit ends this process without running the parent's atexit handlers.
        unsafe { libc::_exit(code) };
    }
    drop(ready_w);
    let mut answer = String::new();
    let _ = std::fs::File::from(ready_r).read_to_string(&mut answer);
    match answer.trim_end() {
        "ok" => {}
        other => {
            // SAFETY: waitpid on our own child.
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
            let text = other.strip_prefix("error ").unwrap_or("");
            return err(if text.is_empty() {
                "the exec ended before its process started".to_string()
            } else {
                text.to_string()
            });
        }
    }
    if let Some(pid_file) = &args.pid_file {
        write_pid_file(pid_file, pid).inspect_err(|_| {
            // SAFETY: kill with plain integers, on our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        })?;
    }
    Ok(0)
}

/// Asks the sandbox process to start the process `line` describes with this process's
/// stdio (or a terminal sent to `console_socket`), tells `started` how that went, then
/// waits for the process's end: its status.
fn wait_for_exec(
    root: &Path,
    id: &str,
    line: &str,
    console_socket: Option<&Path>,
    started: impl FnOnce(Result<(), String>),
) -> Result<u8, Error> {
    let fail = |started: Box<dyn FnOnce(Result<(), String>)>, text: String| {
        started(Err(text.clone()));
        Err(Error(text))
    };
    let started: Box<dyn FnOnce(Result<(), String>)> = Box::new(started);
    let dir = state_dir(root, id)?;
    let dir_fd = match std::fs::File::open(&dir) {
        Ok(f) => f,
        Err(e) => return fail(started, format!("container {id}: {e}")),
    };
    let stream = match UnixStream::connect(socket_path(&dir_fd, "ctl")) {
        Ok(s) => s,
        Err(e) => return fail(started, format!("container {id} does not answer: {e}")),
    };
    let stdio: &[RawFd] = if console_socket.is_some() {
        &[]
    } else {
        &[0, 1, 2]
    };
    if let Err(e) = send_with_fds(&stream, line.as_bytes(), stdio) {
        return fail(started, format!("container {id}: {e}"));
    }
    let (answer, fds) = match receive_request(&stream) {
        Ok(a) => a,
        Err(e) => return fail(started, format!("container {id}: {e}")),
    };
    let pid = match answer.strip_prefix("started ") {
        Some(pid) => pid.trim().parse::<i32>().unwrap_or(0),
        None => {
            let text = answer.strip_prefix("error ").unwrap_or(&answer);
            let text = if text.is_empty() {
                format!("container {id} ended before the process started")
            } else {
                text.to_string()
            };
            return fail(started, text);
        }
    };
    if let Some(socket) = console_socket {
        let Some(master) = fds.first() else {
            return fail(started, "the sandbox sent no terminal".into());
        };
        let sent = UnixStream::connect(socket)
            .and_then(|console| send_with_fds(&console, b"/dev/pts/ptmx", &[master.as_raw_fd()]));
        if let Err(e) = sent {
            return fail(
                started,
                format!("--console-socket {}: {e}", socket.display()),
            );
        }
    }
    drop(fds);
    started(Ok(()));
    forward_signals(root.to_path_buf(), id.to_string(), pid);
    // The process has its own copies of stdio: this waiter holds no pipe of the caller's open.
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        for fd in 0..3 {
            // SAFETY: dup2 of an fd we own onto stdio.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
    let mut reader = BufReader::new(&stream);
    let mut end = String::new();
    let _ = reader.read_line(&mut end);
    match end.trim_end().strip_prefix("exited ") {
        Some(code) => Ok(code.parse::<i32>().unwrap_or(255).clamp(0, 255) as u8),
        None => err(format!("container {id}: {}", end.trim_end())),
    }
}

/// The signals an engine may send the pid of an exec (the waiter's): each goes on to the
/// exec'd process, as if the waiter were that process.
const FORWARDED: [libc::c_int; 8] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGTERM,
    libc::SIGALRM,
    libc::SIGWINCH,
];

/// Passes the signals of [`FORWARDED`] that reach this process to the sandbox's `pid`
/// through the control socket. Called in the waiter, which has a single thread until then.
fn forward_signals(root: PathBuf, id: String, pid: i32) {
    // SAFETY: sigset operations on a local; the mask is this thread's, inherited by the
    // forwarding thread, so that sigwait receives them there.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in FORWARDED {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    let _ = std::thread::Builder::new()
        .name("forward".into())
        .spawn(move || loop {
            let mut sig = 0;
            // SAFETY: sigwait reads the set we own and writes one int.
            if unsafe { libc::sigwait(&set, &mut sig) } == 0 {
                let _ = request(&root, &id, &format!("signal {pid} {sig}"));
            }
        });
}

fn write_pid_file(path: &Path, pid: i32) -> Result<(), Error> {
    let tmp = path.with_extension("sentry-tmp");
    std::fs::write(&tmp, pid.to_string())
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| Error(format!("--pid-file {}: {e}", path.display())))
}

/// `kill ID SIGNAL [--all]`.
pub fn kill(root: &Path, id: &str, signal: i32, all: bool) -> Result<(), Error> {
    let (state, status) = load(root, id)?;
    match status {
        Status::Stopped => err(format!("container {id} is not running")),
        Status::Created => {
            // No task exists yet: the container ends, as runc's init would on the signal.
            if let Some(fd) = pin(&state) {
                send(&fd, libc::SIGKILL);
            }
            Ok(())
        }
        Status::Running | Status::Paused => {
            request(root, id, &format!("kill {signal} {}", u8::from(all))).map(|_| ())
        }
    }
}

/// `delete [--force] ID`: a running container only with --force; the state directory goes.
pub fn delete(root: &Path, id: &str, force: bool) -> Result<(), Error> {
    let dir = state_dir(root, id)?;
    let (state, status) = load(root, id)?;
    if matches!(status, Status::Running | Status::Paused) && !force {
        return err(format!(
            "cannot delete container {id} that is not stopped: {}",
            status.name()
        ));
    }
    if let Some(fd) = pin(&state) {
        send(&fd, libc::SIGKILL);
        // The pidfd turns readable when the process has exited; its parent reaps it.
        let mut poll = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll reads and writes one pollfd we own.
        unsafe { libc::poll(&mut poll, 1, 10_000) };
    }
    let hooks = saved_hooks(&dir).poststop;
    super::remove_tree(&dir)
        .map_err(|e| Error(format!("container {id}: cannot remove its state: {e}")))?;
    for e in super::hooks::run_all(&hooks, "poststop", &state.report(Status::Stopped)) {
        warn(&e);
    }
    Ok(())
}

/// What `create` was given besides the bundle.
pub struct CreateArgs {
    pub id: String,
    pub bundle_dir: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    /// An fd the sandbox process keeps (the --log file).
    pub log_fd: Option<RawFd>,
}

/// `create`: the sandbox process is set up and waiting for `start` when this returns.
/// Returns the sandbox process's pid (a child of the caller).
pub fn create(root: &Path, args: CreateArgs, bundle: Bundle) -> Result<i32, Error> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = state_dir(root, &args.id)?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o711)
        .create(root)
        .map_err(|e| Error(format!("cannot create {}: {e}", root.display())))?;
    if bundle.terminal && args.console_socket.is_none() {
        return err("process.terminal is set but no --console-socket was given");
    }
    if !bundle.terminal && args.console_socket.is_some() {
        return err("--console-socket was given but process.terminal is not set");
    }
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return err(format!("container with id {} already exists", args.id))
        }
        Err(e) => return err(format!("cannot create {}: {e}", dir.display())),
    }
    let id = args.id.clone();
    let create_runtime = bundle.hooks.create_runtime.clone();
    // Later changes to config.json do not reach the container: its hooks are kept here.
    if let Err(e) = std::fs::write(dir.join("hooks.json"), bundle.hooks_raw.to_string()) {
        let _ = super::remove_tree(&dir);
        return err(format!(
            "cannot write {}: {e}",
            dir.join("hooks.json").display()
        ));
    }
    let result = create_in(&dir, args, bundle).and_then(|pid| {
        let (state, status) = load(root, &id)?;
        match super::hooks::run(&create_runtime, "createRuntime", &state.report(status)) {
            Ok(()) => Ok(pid),
            Err(e) => {
                // SAFETY: kill and waitpid with plain integers, on our own child.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, std::ptr::null_mut(), 0);
                }
                Err(Error(e))
            }
        }
    });
    if result.is_err() {
        let _ = super::remove_tree(&dir);
    }
    result
}

/// The hooks the container was created with (kept in its state directory).
fn saved_hooks(dir: &Path) -> super::hooks::Hooks {
    std::fs::read_to_string(dir.join("hooks.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|hooks| super::hooks::parse(Some(&hooks)).ok())
        .unwrap_or_default()
}

/// A warning of a runtime command: on stderr, and in --log as the sandbox's log is.
fn warn(text: &str) {
    tracing::warn!("{text}");
    crate::events::stderr_line(format_args!("sentry: warning: {text}"));
}

fn create_in(dir: &Path, args: CreateArgs, bundle: Bundle) -> Result<i32, Error> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into our array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return err(format!("pipe: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    let (ready_r, ready_w) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let dir_file =
        std::fs::File::open(dir).map_err(|e| Error(format!("{}: {e}", dir.display())))?;
    let state = State {
        id: args.id.clone(),
        pid: 0,
        start_time: 0,
        bundle: args
            .bundle_dir
            .canonicalize()
            .unwrap_or_else(|_| args.bundle_dir.clone()),
        rootfs: bundle.config.rootfs.clone(),
        created: now_rfc3339(),
        started: false,
        paused: false,
        annotations: bundle.annotations.clone(),
    };
    // The command line process has no thread but this one, so the child may go on
    // running Rust after fork.
    // SAFETY: fork in a single-threaded process.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        drop(ready_r);
        let status = sandbox_process(
            dir,
            dir_file,
            ready_w,
            state,
            (args.console_socket, args.log_fd),
            bundle,
        );
        // SAFETY: _exit ends this process without running the parent's atexit handlers.
        unsafe { libc::_exit(status) };
    }
    drop(ready_w);
    let mut answer = String::new();
    let _ = std::fs::File::from(ready_r).read_to_string(&mut answer);
    if answer.trim_end() != "ok" {
        // SAFETY: waitpid on our own child.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        let text = answer.trim_end().strip_prefix("error ").unwrap_or("");
        if text.is_empty() {
            return err("the sandbox process ended while it was set up");
        }
        return err(text.to_string());
    }
    if let Some(pid_file) = &args.pid_file {
        write_pid_file(pid_file, pid).inspect_err(|_| {
            // SAFETY: kill with plain integers, on our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        })?;
    }
    Ok(pid)
}

/// The body of the sandbox process; its exit status.
fn sandbox_process(
    dir: &Path,
    dir_file: std::fs::File,
    ready: OwnedFd,
    mut state: State,
    (console_socket, log_fd): (Option<PathBuf>, Option<RawFd>),
    bundle: Bundle,
) -> i32 {
    let mut ready = std::fs::File::from(ready);
    let fail = |ready: &mut std::fs::File, text: String| {
        let line = text.replace('\n', " ");
        let _ = ready.write_all(format!("error {line}\n").as_bytes());
        EXIT_FAILED as i32
    };
    // Out of the caller's session and process group: a terminal's hang-up or a signal to
    // the engine's group does not reach the sandbox.
    // SAFETY: setsid takes no arguments.
    unsafe { libc::setsid() };
    // Fds the caller passed on beyond stdio (conmon's sync pipes) are not ours to hold.
    let keep = [
        dir_file.as_raw_fd(),
        ready.as_raw_fd(),
        log_fd.unwrap_or(-1),
    ];
    close_other_fds(&keep);
    state.pid = std::process::id() as i32;
    state.start_time = start_time(state.pid).unwrap_or(0);
    let listener = match UnixListener::bind(socket_path(&dir_file, "ctl")) {
        Ok(l) => l,
        Err(e) => return fail(&mut ready, format!("cannot make the control socket: {e}")),
    };
    if bundle.terminal {
        let socket = console_socket.expect("checked by create");
        if let Err(e) = open_terminal(&socket, bundle.console_size) {
            return fail(&mut ready, e);
        }
    }
    if let Err(e) = apply_rlimits(&bundle.rlimits) {
        return fail(&mut ready, e);
    }
    if let Some(nice) = bundle.nice {
        // SAFETY: setpriority takes plain integers.
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) } != 0 {
            let e = std::io::Error::last_os_error();
            return fail(
                &mut ready,
                format!("linux.resources.cpu.shares: cannot set nice {nice}: {e}"),
            );
        }
    }
    let cpu_quota = bundle.cpu_quota;
    let prepared = match super::prepare(bundle.config, Some(dir)) {
        Ok(p) => p,
        Err(failure) => {
            let text = match &failure {
                // Engines read these words (podman: exit status 127).
                Failure::NotFound(t) => {
                    let t = t.replace("No such", "no such");
                    format!(
                        "exec: {}",
                        t.replace("command not found", "executable file not found in $PATH")
                    )
                }
                Failure::CannotExecute(t) => format!("exec: {t}: permission denied"),
                other => other.to_string(),
            };
            return fail(&mut ready, text);
        }
    };
    if let Err(e) = write_state(dir, &state) {
        return fail(&mut ready, format!("cannot write the state: {e}"));
    }
    let _ = ready.write_all(b"ok\n");
    drop(ready);

    // Created: serve requests until `start`.
    let start_client = loop {
        let Ok((stream, _)) = listener.accept() else {
            continue;
        };
        let mut line = String::new();
        let mut reader = BufReader::new(stream);
        if reader.read_line(&mut line).is_err() {
            continue;
        }
        let mut stream = reader.into_inner();
        match line.trim_end() {
            "start" => break stream,
            _ => {
                let _ = stream.write_all(b"error the container has not started\n");
            }
        }
    };
    let gofer_pid = prepared.gofer_pid();
    let control = match Control::new() {
        Ok(control) => Arc::new(control),
        Err(e) => {
            let mut client = start_client;
            let _ =
                client.write_all(format!("error cannot make the control queue: {e}\n").as_bytes());
            return EXIT_FAILED as i32;
        }
    };
    let started_state = State {
        started: true,
        ..state
    };
    let dir = dir.to_path_buf();
    let serving = control.clone();
    let outcome = prepared.launch(Some(control), move |init, starter| {
        let answer: &[u8] = match write_state(&dir, &started_state) {
            Ok(()) => b"ok\n",
            Err(_) => b"error cannot write the state\n",
        };
        let mut client = start_client;
        let _ = client.write_all(answer);
        drop(client);
        let sentry = std::process::id() as i32;
        if let Some((quota, period)) = cpu_quota {
            if let Err(e) =
                super::throttle::start(serving.clone(), quota, period, sentry, gofer_pid)
            {
                tracing::error!("sentry: no CPU throttle: {e}");
            }
        }
        let server = Server {
            dir,
            state: Mutex::new(started_state),
            sentry,
            gofer: gofer_pid,
            init,
            control: serving,
            starter,
        };
        let _ = std::thread::Builder::new()
            .name("control".into())
            .spawn(move || server.serve(listener));
    });
    match outcome {
        Ok(status) => i32::from(status),
        Err(failure) => {
            tracing::error!("{failure:#}");
            i32::from(failure.exit_code())
        }
    }
}

/// The sandbox process's side of the control socket while the sandbox runs.
struct Server {
    dir: PathBuf,
    state: Mutex<State>,
    sentry: i32,
    gofer: i32,
    init: i32,
    control: Arc<Control>,
    starter: Starter,
}

impl Server {
    fn serve(self, listener: UnixListener) {
        let server = Arc::new(self);
        // SAFETY: pidfd_open takes plain integers and returns a new fd or -1.
        let init_fd = unsafe { libc::syscall(libc::SYS_pidfd_open, server.init, 0) } as RawFd;
        // SAFETY: the fd (if any) was just returned to us.
        let init_fd = (init_fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(init_fd) });
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Ok((line, fds)) = receive_request(&stream) else {
                continue;
            };
            let words: Vec<&str> = line.split_whitespace().collect();
            let answer = match words.as_slice() {
                ["start"] => "error the container has already started".to_string(),
                ["kill", sig, all] => match sig.parse::<i32>() {
                    Ok(sig) if *all == "1" => {
                        for pid in descendants(server.sentry, server.gofer) {
                            signal_task(pid, server.sentry, sig);
                        }
                        "ok".into()
                    }
                    Ok(sig) => match &init_fd {
                        Some(fd) if send(fd, sig) => "ok".into(),
                        _ => "error the container's process has ended".into(),
                    },
                    Err(_) => "error bad signal".into(),
                },
                ["signal", pid, sig] => match (pid.parse::<i32>(), sig.parse::<i32>()) {
                    (Ok(pid), Ok(sig)) => {
                        signal_task(pid, server.sentry, sig);
                        "ok".into()
                    }
                    _ => "error bad signal request".into(),
                },
                ["pause"] => server.freeze(true),
                ["resume"] => server.freeze(false),
                ["ps"] => {
                    // The container's pid (the pid file's, this process) first, as runc
                    // lists its init, then every task.
                    let pids: Vec<String> = std::iter::once(server.sentry)
                        .chain(descendants(server.sentry, server.gofer))
                        .map(|p| p.to_string())
                        .collect();
                    format!("pids {}", pids.join(" "))
                }
                ["exec", ..] => {
                    let server = server.clone();
                    let json = line["exec".len()..].trim().to_string();
                    // It answers when the process has started and again when it ends.
                    let _ = std::thread::Builder::new()
                        .name("exec".into())
                        .spawn(move || server.exec(stream, &json, fds));
                    continue;
                }
                _ => "error unknown request".into(),
            };
            let _ = stream.write_all(format!("{answer}\n").as_bytes());
        }
    }

    /// Freezes (or thaws) every task, and records it in the state.
    fn freeze(&self, frozen: bool) -> String {
        let (done, wait) = std::sync::mpsc::channel();
        self.control.send(if frozen {
            Request::Freeze(done)
        } else {
            Request::Thaw(done)
        });
        match wait.recv_timeout(std::time::Duration::from_secs(30)) {
            Ok(()) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                return "error not every process stopped within 30 s".into()
            }
            Err(_) => return "error the sandbox has ended".into(),
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.paused = frozen;
        match write_state(&self.dir, &state) {
            Ok(()) => "ok".into(),
            Err(e) => format!("error cannot write the state: {e}"),
        }
    }

    /// Starts the process `json` describes with `fds` as its stdio (or a terminal, whose
    /// master goes back to the client), answers `started PID`, then `exited STATUS`.
    fn exec(&self, stream: UnixStream, json: &str, fds: Vec<OwnedFd>) {
        let answer = |line: String| {
            let _ = (&stream).write_all(format!("{line}\n").as_bytes());
        };
        let (process, terminal) = match exec_process(json, fds) {
            Ok(p) => p,
            Err(e) => return answer(format!("error {e}")),
        };
        let (master_tx, master_rx) = std::sync::mpsc::channel();
        let process = Process {
            terminal: terminal.then_some(master_tx),
            ..process
        };
        let (events, events_rx) = std::sync::mpsc::channel();
        self.control
            .send(Request::Start(self.starter.start(process), events));
        match events_rx.recv() {
            Ok(ProcessEvent::Started(pid)) => {
                if terminal {
                    let Ok(master) = master_rx.recv() else {
                        return answer("error no terminal was made".into());
                    };
                    let line = format!("started {pid}\n");
                    if send_with_fds(&stream, line.as_bytes(), &[master.as_raw_fd()]).is_err() {
                        return;
                    }
                } else {
                    answer(format!("started {pid}"));
                }
            }
            Ok(ProcessEvent::Failed(why)) => return answer(format!("error {why}")),
            Ok(ProcessEvent::Exited(_)) | Err(_) => {
                return answer("error the container has ended".into())
            }
        }
        let status = loop {
            match events_rx.recv() {
                Ok(ProcessEvent::Exited(status)) => break status,
                Ok(ProcessEvent::Failed(why)) => return answer(format!("error {why}")),
                Ok(ProcessEvent::Started(_)) => continue,
                // The sandbox ended with the process in it: killed with it.
                Err(_) => break 128 + libc::SIGKILL,
            }
        };
        answer(format!("exited {status}"));
    }
}

/// The process of an exec request: `{"args", "env", "cwd", "user": {"uid", "gid",
/// "additionalGids"}, "terminal"}` (the OCI process object's fields), with three stdio fds
/// unless it has a terminal (the second value).
fn exec_process(json: &str, fds: Vec<OwnedFd>) -> Result<(Process, bool), String> {
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("bad exec request: {e}"))?;
    let strings = |key: &str| -> Vec<String> {
        v.get(key)
            .and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let args: Vec<std::ffi::OsString> = strings("args").into_iter().map(Into::into).collect();
    if args.is_empty() {
        return Err("exec: no command was given".into());
    }
    let env = strings("env")
        .into_iter()
        .map(|e| std::ffi::CString::new(e).map_err(|_| "exec: NUL in the environment"))
        .collect::<Result<Vec<_>, _>>()?;
    let cwd = v
        .get("cwd")
        .and_then(|c| c.as_str())
        .unwrap_or("/")
        .as_bytes()
        .to_vec();
    let user = v.get("user").map(|u| {
        let id = |k: &str| u.get(k).and_then(|n| n.as_u64()).unwrap_or(0) as u32;
        let groups = u
            .get("additionalGids")
            .and_then(|g| g.as_array())
            .map(|g| {
                g.iter()
                    .filter_map(|n| n.as_u64())
                    .map(|n| n as u32)
                    .collect()
            })
            .unwrap_or_default();
        (
            crate::config::Ids {
                uid: id("uid"),
                gid: id("gid"),
            },
            groups,
        )
    });
    let terminal = v.get("terminal").and_then(|t| t.as_bool()).unwrap_or(false);
    let stdio = match <[OwnedFd; 3]>::try_from(fds) {
        Ok(fds) => Some(fds),
        Err(_) if terminal => None,
        Err(_) => return Err("exec: the request did not carry stdin, stdout and stderr".into()),
    };
    let process = Process {
        args,
        env,
        cwd,
        user,
        stdio: if terminal { None } else { stdio },
        terminal: None,
    };
    Ok((process, terminal))
}

/// Reads one request line and the fds sent with it.
/// Byte by byte: whatever follows the line (an exec's `exited` answer after its `started`)
/// stays in the socket for the next read.
fn receive_request(stream: &UnixStream) -> std::io::Result<(String, Vec<OwnedFd>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut line = Vec::new();
    let mut fds = Vec::new();
    loop {
        let mut buf = [0u8; 1];
        let mut space = nix::cmsg_space!([RawFd; 3]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(std::io::Error::from)?;
        for cmsg in msg.cmsgs().map_err(std::io::Error::from)? {
            if let ControlMessageOwned::ScmRights(received) = cmsg {
                for fd in received {
                    // SAFETY: the kernel just gave us this fd; nothing else owns it.
                    fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
                }
            }
        }
        let n = msg.bytes;
        if n == 0 {
            break;
        }
        line.extend_from_slice(&buf[..n]);
        if line.ends_with(b"\n") {
            break;
        }
    }
    String::from_utf8(line)
        .map(|l| (l.trim_end().to_string(), fds))
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidData))
}

/// Sends `bytes` with `fds` (SCM_RIGHTS) in one message.
fn send_with_fds(stream: &UnixStream, bytes: &[u8], fds: &[RawFd]) -> std::io::Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let iov = [std::io::IoSlice::new(bytes)];
    let cmsgs = [ControlMessage::ScmRights(fds)];
    sendmsg::<()>(
        stream.as_raw_fd(),
        &iov,
        if fds.is_empty() { &[] } else { &cmsgs },
        MsgFlags::empty(),
        None,
    )
    .map(drop)
    .map_err(std::io::Error::from)
}

fn close_other_fds(keep: &[RawFd]) {
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    for fd in fds {
        if fd > 2 && !keep.contains(&fd) {
            // SAFETY: closing an fd of ours that nothing in this process uses: the only
            // objects holding fds here are `keep`'s.
            unsafe { libc::close(fd) };
        }
    }
}

fn apply_rlimits(rlimits: &[(i32, u64, u64)]) -> Result<(), String> {
    // RLIMIT_CORE too: the sentry then records it as the sandbox's and pins its own.
    for &(resource, soft, hard) in rlimits {
        let limit = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        };
        // SAFETY: setrlimit reads one rlimit we own.
        if unsafe { libc::setrlimit(resource as _, &limit) } != 0 {
            return Err(format!(
                "rlimit {resource} ({soft}/{hard}): {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// Opens a host terminal, makes its slave the sandbox process's stdio (and controlling
/// terminal: the process leads a session of its own) and sends its master over the console
/// socket with SCM_RIGHTS, as runc does.
fn open_terminal(socket: &Path, size: Option<(u16, u16)>) -> Result<(), String> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let master = nix::pty::posix_openpt(nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY)
        .map_err(|e| format!("cannot open a terminal: {e}"))?;
    nix::pty::grantpt(&master).map_err(|e| format!("grantpt: {e}"))?;
    nix::pty::unlockpt(&master).map_err(|e| format!("unlockpt: {e}"))?;
    let name = nix::pty::ptsname_r(&master).map_err(|e| format!("ptsname: {e}"))?;
    if let Some((rows, cols)) = size {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one winsize we own.
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    }
    // Without O_NOCTTY: it becomes this session leader's controlling terminal.
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&name)
        .map_err(|e| format!("cannot open {name}: {e}"))?;
    // The sandbox gets a terminal of its own, relayed to this one (see `terminal.rs`), which
    // only carries bytes: raw from the start, or what the engine writes before `start` would
    // be echoed twice.
    let mut modes = nix::sys::termios::tcgetattr(&slave).map_err(|e| format!("tcgetattr: {e}"))?;
    nix::sys::termios::cfmakeraw(&mut modes);
    nix::sys::termios::tcsetattr(&slave, nix::sys::termios::SetArg::TCSANOW, &modes)
        .map_err(|e| format!("tcsetattr: {e}"))?;
    for target in 0..3 {
        // SAFETY: dup2 of an fd we own onto stdio.
        unsafe { libc::dup2(slave.as_raw_fd(), target) };
    }
    drop(slave);
    let stream = UnixStream::connect(socket)
        .map_err(|e| format!("--console-socket {}: {e}", socket.display()))?;
    let fds = [master.as_raw_fd()];
    let iov = [std::io::IoSlice::new(name.as_bytes())];
    sendmsg::<()>(
        stream.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| format!("cannot send the terminal over {}: {e}", socket.display()))?;
    Ok(())
}

/// The current time in RFC 3339 (UTC, nanoseconds), as runc writes `created`.
fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_nanos()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_file_names() {
        for good in ["a", "c1", "0319e6d6", "x_y-z.1+2"] {
            assert!(check_id(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "../x"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn state_round_trips_and_reports() {
        let state = State {
            id: "c1".into(),
            pid: 42,
            start_time: 7,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: now_rfc3339(),
            started: true,
            paused: false,
            annotations: vec![("k".into(), "v".into())],
        };
        let back = State::from_json(&state.to_json()).unwrap();
        assert_eq!(back.pid, 42);
        assert_eq!(back.annotations, state.annotations);
        let report = state.report(Status::Running);
        assert_eq!(report["status"], "running");
        assert_eq!(report["pid"], 42);
        assert_eq!(report["annotations"]["k"], "v");
        assert_eq!(state.report(Status::Stopped)["pid"], 0);
    }

    #[test]
    fn timestamps_are_rfc3339() {
        let t = now_rfc3339();
        assert_eq!(t.len(), "2026-12-05T14:20:02.000000000Z".len(), "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z') && t.as_bytes()[10] == b'T');
    }

    #[test]
    fn unknown_containers_are_one_clear_line() {
        let root = std::env::temp_dir().join(format!("sentry-oci-unit-{}", std::process::id()));
        let e = load(&root, "nope").unwrap_err();
        assert_eq!(e.0, "container nope does not exist");
        assert!(delete(&root, "nope", true).is_err());
        assert!(start(&root, "nope").is_err());
        assert!(load(&root, "../etc").is_err());
    }
}

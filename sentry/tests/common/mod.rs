//! Shared helpers of the `sentry run` integration tests.
//!
//! - The C programs of `sentry/tests/programs/` are compiled once per test binary by
//!   `rootfs-fixtures/programs.sh` into `build/programs/`.
//! - Every test runs in four variants: `--platform=ptrace` and `--platform=seccomp`, as root
//!   (the user running the tests) and as uid/gid 65534 through `setpriv` (only when root;
//!   otherwise that variant prints why it is skipped).
//! - Processes are waited for with pidfds and `poll`, never with sleeps; every wait has a
//!   generous deadline after which the sentry is killed and the test fails, so a hang shows up
//!   as a failure instead of a stuck test run.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Once, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// Deadline of one sandbox run: far above what any test needs, even on a loaded machine.
pub const RUN_DEADLINE: Duration = Duration::from_secs(120);

/// The uid and gid of the unprivileged variant.
pub const NOBODY: u32 = 65534;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the sentry crate sits in the workspace root")
        .to_path_buf()
}

pub fn sentry_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sentry"))
}

static BUILD_PROGRAMS: Once = Once::new();

/// Compiles the C test programs (once per test binary) and returns their directory.
pub fn programs_dir() -> PathBuf {
    let root = repo_root();
    BUILD_PROGRAMS.call_once(|| {
        let script = root.join("rootfs-fixtures/programs.sh");
        let out = Command::new("bash")
            .arg(&script)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "{} failed ({}):\n{}{}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
    root.join("build/programs")
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    Ptrace,
    Seccomp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum User {
    /// Whoever runs the tests (root in CI).
    Invoker,
    /// uid/gid 65534 with no supplementary groups, through setpriv.
    Nobody,
}

/// One way of running the sentry.
#[derive(Clone, Copy, Debug)]
pub struct Variant {
    pub platform: Platform,
    pub user: User,
}

/// The files a test hands to the sentry, readable and executable by the variant's user.
struct Files {
    sentry: PathBuf,
    programs: PathBuf,
    scratch: PathBuf,
}

static INVOKER_FILES: OnceLock<Files> = OnceLock::new();
static NOBODY_FILES: OnceLock<Files> = OnceLock::new();

/// A directory of ours, mode 755, under the system's temp dir, reused across runs.
fn scratch_root() -> PathBuf {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    let dir = std::env::temp_dir().join(format!("sentry-tests-{uid}"));
    std::fs::create_dir_all(&dir).expect("create the tests' scratch directory");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
        .expect("chmod the tests' scratch directory");
    dir
}

/// Whether uid 65534 can execute `path` (every directory on the way searchable).
fn nobody_can_execute(path: &Path) -> bool {
    Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "test",
            "-x",
        ])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn copy_executable(from: &Path, to: &Path) {
    let tmp = to.with_extension("tmp");
    std::fs::copy(from, &tmp)
        .unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), tmp.display()));
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).expect("chmod 755");
    std::fs::rename(&tmp, to).expect("rename into place");
}

impl Variant {
    pub const ALL: [Variant; 4] = [
        Variant {
            platform: Platform::Ptrace,
            user: User::Invoker,
        },
        Variant {
            platform: Platform::Seccomp,
            user: User::Invoker,
        },
        Variant {
            platform: Platform::Ptrace,
            user: User::Nobody,
        },
        Variant {
            platform: Platform::Seccomp,
            user: User::Nobody,
        },
    ];

    /// False (after printing why) when this variant cannot run here.
    pub fn available(self) -> bool {
        if self.user == User::Nobody && !is_root() {
            println!("skipped: the uid-65534 variant needs root to switch users (setpriv)");
            return false;
        }
        true
    }

    fn files(self) -> &'static Files {
        let programs = programs_dir();
        match self.user {
            User::Invoker => INVOKER_FILES.get_or_init(|| Files {
                sentry: sentry_bin(),
                programs,
                scratch: scratch_root(),
            }),
            User::Nobody => NOBODY_FILES.get_or_init(|| {
                let scratch = scratch_root();
                let sentry = sentry_bin();
                let probe = programs.join("exits");
                if nobody_can_execute(&sentry) && nobody_can_execute(&probe) {
                    return Files {
                        sentry,
                        programs,
                        scratch,
                    };
                }
                // target/ or build/ is not reachable by uid 65534: use copies.
                let bin_dir = scratch.join(format!("bin-{}", std::process::id()));
                std::fs::create_dir_all(&bin_dir).expect("create the copies' directory");
                std::fs::set_permissions(&bin_dir, std::fs::Permissions::from_mode(0o755))
                    .expect("chmod 755");
                copy_executable(&sentry, &bin_dir.join("sentry"));
                for entry in std::fs::read_dir(&programs).expect("read build/programs") {
                    let path = entry.expect("read build/programs").path();
                    let is_program = path.extension().is_none()
                        && path
                            .metadata()
                            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                            .unwrap_or(false);
                    if is_program {
                        copy_executable(&path, &bin_dir.join(path.file_name().expect("a name")));
                    }
                }
                Files {
                    sentry: bin_dir.join("sentry"),
                    programs: bin_dir,
                    scratch,
                }
            }),
        }
    }

    /// The path of test program `name`, as the sandbox (rootfs `/`) sees it.
    pub fn program(self, name: &str) -> String {
        self.files()
            .programs
            .join(name)
            .to_str()
            .expect("UTF-8 path")
            .to_string()
    }

    /// A directory every variant's user can read (mode 755), for files a test creates.
    pub fn scratch(self) -> PathBuf {
        self.files().scratch.clone()
    }

    pub fn platform_flag(self) -> &'static str {
        match self.platform {
            Platform::Ptrace => "--platform=ptrace",
            Platform::Seccomp => "--platform=seccomp",
        }
    }

    /// `sentry` (through setpriv for the unprivileged variant) with no arguments yet.
    pub fn sentry_command(self) -> Command {
        let files = self.files();
        let mut cmd = match self.user {
            User::Invoker => Command::new(&files.sentry),
            User::Nobody => {
                // setpriv execs the sentry in place: the child's pid is the sentry's.
                let mut c = Command::new("setpriv");
                c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                    .arg(&files.sentry);
                c
            }
        };
        cmd.current_dir("/").stdin(Stdio::null());
        cmd
    }

    /// `sentry run --platform=P OPTIONS... / CMD...`
    pub fn run_command<S: AsRef<OsStr>>(self, options: &[&str], cmd: &[S]) -> Command {
        let mut c = self.sentry_command();
        c.arg("run")
            .arg(self.platform_flag())
            .args(options)
            .arg("/");
        c.args(cmd);
        c
    }

    /// Runs `sentry run` to completion (with the run deadline) and collects its output.
    pub fn run<S: AsRef<OsStr>>(self, options: &[&str], cmd: &[S]) -> Run {
        let c = self.run_command(options, cmd);
        run_to_end(c, RUN_DEADLINE)
    }
}

/// Generates, for each named test function `f(Variant)`, a module `f` with one `#[test]`
/// per variant: `ptrace`, `seccomp`, `ptrace_nobody`, `seccomp_nobody`.
#[macro_export]
macro_rules! variant_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use super::common::Variant;
                fn go(i: usize) {
                    let v = Variant::ALL[i];
                    if v.available() {
                        super::$name(v);
                    }
                }
                #[test]
                fn ptrace() { go(0) }
                #[test]
                fn seccomp() { go(1) }
                #[test]
                fn ptrace_nobody() { go(2) }
                #[test]
                fn seccomp_nobody() { go(3) }
            }
        )*
    };
}

/// The result of a finished `sentry run`.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The sentry's exit code (it never dies of a signal in these tests).
    pub fn code(&self) -> i32 {
        match self.status.code() {
            Some(c) => c,
            None => panic!(
                "the sentry itself died of signal {:?}\n{}",
                self.status.signal(),
                self.describe()
            ),
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "status: {}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }

    /// Asserts the exit code, showing everything on failure.
    pub fn expect_code(&self, want: i32) -> &Self {
        assert_eq!(
            self.code(),
            want,
            "unexpected exit code\n{}",
            self.describe()
        );
        self
    }

    /// Asserts that a test program printed `<done>` and no FAIL line.
    pub fn expect_program_ok(&self, done: &str) -> &Self {
        let fails: Vec<&str> = self
            .stdout
            .lines()
            .filter(|l| l.starts_with("FAIL"))
            .collect();
        assert!(
            fails.is_empty(),
            "checks failed: {fails:?}\n{}",
            self.describe()
        );
        assert!(
            self.stdout.lines().any(|l| l == done),
            "no '{done}' line\n{}",
            self.describe()
        );
        self.expect_code(0)
    }

    /// The lines of stderr that are the sentry's own error messages.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }
}

/// A pidfd for a process (ours or not). None when it is already gone (ESRCH).
pub fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes plain integers and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        let err = std::io::Error::last_os_error();
        assert_eq!(
            err.raw_os_error(),
            Some(libc::ESRCH),
            "pidfd_open({pid}): {err}"
        );
        return None;
    }
    // SAFETY: the kernel just returned this fd to us; nothing else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Waits until the process behind `pidfd` has exited (readable pidfd). False at the deadline.
pub fn pidfd_wait_exit(pidfd: &OwnedFd, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n > 0 {
            return true;
        }
        if n == 0 {
            return false;
        }
        let err = std::io::Error::last_os_error();
        assert_eq!(err.raw_os_error(), Some(libc::EINTR), "poll(pidfd): {err}");
    }
}

/// Sends `sig` through a pidfd (no pid-reuse race).
pub fn pidfd_signal(pidfd: &OwnedFd, sig: i32) {
    // SAFETY: pidfd_send_signal takes an fd we own, a signal number and a null siginfo.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r != 0 {
        let err = std::io::Error::last_os_error();
        // The process may have exited already; anything else is a test bug.
        assert_eq!(
            err.raw_os_error(),
            Some(libc::ESRCH),
            "pidfd_send_signal: {err}"
        );
    }
}

/// Kills a process with SIGKILL when the deadline passes, unless dropped first.
pub struct Watchdog {
    cancel: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<bool>>,
}

impl Watchdog {
    pub fn new(pid: i32, timeout: Duration) -> Watchdog {
        let pidfd = pidfd_open(pid);
        let (tx, rx) = mpsc::channel::<()>();
        let thread = thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(timeout) {
                if let Some(fd) = &pidfd {
                    pidfd_signal(fd, libc::SIGKILL);
                }
                return true;
            }
            false
        });
        Watchdog {
            cancel: Some(tx),
            thread: Some(thread),
        }
    }

    /// Stops the watchdog; true when it had fired.
    pub fn disarm(mut self) -> bool {
        self.stop()
    }

    fn stop(&mut self) -> bool {
        drop(self.cancel.take());
        self.thread
            .take()
            .map(|t| t.join().unwrap_or(false))
            .unwrap_or(false)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads a pipe to its end in a thread; the result arrives on the returned channel.
fn drain<R: Read + Send + 'static>(mut r: R) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

/// Receives a drained pipe. The pipe ends when every process holding it has exited: a
/// sandbox process that outlives the sentry keeps it open, which fails the test here.
fn collect(rx: mpsc::Receiver<Vec<u8>>, what: &str, deadline: Instant) -> String {
    let left = deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(10);
    match rx.recv_timeout(left) {
        Ok(buf) => String::from_utf8_lossy(&buf).into_owned(),
        Err(_) => {
            panic!("the sandbox's {what} stayed open after the sentry exited: a process survived")
        }
    }
}

/// Spawns `cmd` with piped stdout/stderr, waits for it with a deadline (SIGKILL then failure),
/// and returns its status and output.
pub fn run_to_end(mut cmd: Command, deadline: Duration) -> Run {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let out = drain(child.stdout.take().expect("piped stdout"));
    let err = drain(child.stderr.take().expect("piped stderr"));
    let end = Instant::now() + deadline;
    let dog = Watchdog::new(child.id() as i32, deadline);
    let status = child.wait().expect("wait for the sentry");
    let fired = dog.disarm();
    let run = Run {
        status,
        stdout: collect(out, "stdout", end),
        stderr: collect(err, "stderr", end),
    };
    assert!(
        !fired,
        "the sentry did not finish within {deadline:?}: killed\n{}",
        run.describe()
    );
    run
}

/// A running sentry whose stdout the test reads line by line.
pub struct Live {
    pub child: Child,
    pub pidfd: OwnedFd,
    stdout: Option<BufReader<ChildStdout>>,
    stderr: Option<mpsc::Receiver<Vec<u8>>>,
    dog: Option<Watchdog>,
    pub seen: String,
}

impl Live {
    pub fn spawn(mut cmd: Command) -> Live {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let pid = child.id() as i32;
        let pidfd = pidfd_open(pid).expect("our child is not reaped yet");
        let stdout = Some(BufReader::new(child.stdout.take().expect("piped stdout")));
        let stderr = Some(drain(child.stderr.take().expect("piped stderr")));
        Live {
            child,
            pidfd,
            stdout,
            stderr,
            dog: Some(Watchdog::new(pid, RUN_DEADLINE)),
            seen: String::new(),
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Reads stdout lines until one equals `want` (the watchdog bounds the wait).
    pub fn wait_line(&mut self, want: &str) {
        loop {
            let mut line = String::new();
            let n = self
                .stdout
                .as_mut()
                .expect("stdout is read until finish")
                .read_line(&mut line)
                .expect("read the sandbox's stdout");
            assert!(
                n > 0,
                "the sandbox's stdout ended before '{want}'; seen:\n{}",
                self.seen
            );
            self.seen.push_str(&line);
            if line.trim_end() == want {
                return;
            }
        }
    }

    pub fn signal(&self, sig: i32) {
        pidfd_signal(&self.pidfd, sig);
    }

    /// Waits for the sentry to exit; returns its status, the rest of stdout and stderr.
    pub fn finish(mut self) -> Run {
        let end = Instant::now() + RUN_DEADLINE;
        let status = self.child.wait().expect("wait for the sentry");
        let fired = self.dog.take().map(|d| d.disarm()).unwrap_or(false);
        let out_rx = drain(self.stdout.take().expect("stdout once"));
        let rest = collect(out_rx, "stdout", end);
        let err = collect(self.stderr.take().expect("stderr once"), "stderr", end);
        let run = Run {
            status,
            stdout: format!("{}{}", self.seen, rest),
            stderr: err,
        };
        assert!(
            !fired,
            "the sentry did not finish in time: killed\n{}",
            run.describe()
        );
        run
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        // A failing test must not leave the sandbox behind: SIGKILL the sentry (the sandbox
        // dies with it) and reap it.
        if self.dog.is_some() {
            pidfd_signal(&self.pidfd, libc::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// The processes (thread group ids) whose argv contains `marker` as a whole argument, except
/// `exclude`. Zombies have no argv any more and are not listed.
pub fn marked_processes(marker: &str, exclude: &[i32]) -> Vec<i32> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if exclude.contains(&pid) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue; // gone meanwhile
        };
        if cmdline
            .split(|&b| b == 0)
            .any(|arg| arg == marker.as_bytes())
        {
            found.push(pid);
        }
    }
    found.sort_unstable();
    found
}

/// Number of threads of process `pid` (0 when it is gone).
pub fn thread_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// A marker unique to this test run, for `marked_processes`.
pub fn unique_marker(what: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("sentry-test-{what}-{}-{n}-{nanos}", std::process::id())
}

/// Asserts that no process carrying `marker` is alive: each one found must exit within the
/// deadline (a process in the middle of dying is fine). Rescans a bounded number of times in
/// case one of them had forked meanwhile.
pub fn assert_none_survive(marker: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    for _round in 0..20 {
        let pids = marked_processes(marker, &[]);
        if pids.is_empty() {
            return;
        }
        let mut survivors = Vec::new();
        for pid in pids {
            if let Some(fd) = pidfd_open(pid) {
                let left = deadline.saturating_duration_since(Instant::now());
                if !pidfd_wait_exit(&fd, left) {
                    survivors.push(pid);
                }
            }
        }
        assert!(
            survivors.is_empty(),
            "processes of the sandbox survived: {survivors:?} ({})",
            describe_pids(&survivors)
        );
    }
    let left = marked_processes(marker, &[]);
    assert!(
        left.is_empty(),
        "processes of the sandbox keep appearing: {left:?}"
    );
}

fn describe_pids(pids: &[i32]) -> String {
    pids.iter()
        .take(5)
        .map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            format!("[{}]", stat.trim())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

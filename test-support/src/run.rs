//! A command run to its end with a deadline, or kept running while a test reads its output.

use std::io::{BufRead, BufReader, Read};
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::process::{pidfd_open, pidfd_signal};

/// Deadline of one sandbox run: far above what any test needs, even on a loaded machine.
pub const RUN_DEADLINE: Duration = Duration::from_secs(120);

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

    /// Asserts that a race program (the escape tests') exited 0 after all `rounds`: its
    /// "rounds N " line.
    pub fn expect_race_finished(&self, rounds: &str) -> &Self {
        self.expect_code(0);
        assert!(
            self.stdout.contains(&format!("rounds {rounds} ")),
            "the race did not finish\n{}",
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

/// Kills a process with SIGKILL when the deadline passes, unless dropped first.
struct Watchdog {
    cancel: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<bool>>,
}

impl Watchdog {
    fn new(pid: i32, timeout: Duration) -> Watchdog {
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
    fn disarm(mut self) -> bool {
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
    child: Child,
    pidfd: OwnedFd,
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

    /// The sentry's stdin, for a command spawned with `Stdio::piped()` there.
    pub fn take_stdin(&mut self) -> std::process::ChildStdin {
        self.child
            .stdin
            .take()
            .expect("the command's stdin is piped")
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

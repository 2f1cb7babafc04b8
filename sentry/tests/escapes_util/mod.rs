//! Helpers of the escape and real-program tests (`escapes.rs`, `real_programs.rs`): fixture
//! rootfs builds, the escape programs, fresh rootfs copies, and `sentry run` with a deadline
//! (a poll(2) on a pidfd, never a sleep), its tasks found afterwards by a token in their
//! environment so that nothing is left running.
#![allow(dead_code)]

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

/// The two platform modes every test runs in.
pub const PLATFORMS: [&str; 2] = ["ptrace", "seccomp"];

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the sentry crate sits in the workspace root")
        .to_path_buf()
}

pub fn sentry_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sentry"))
}

fn run_script(script: &str, arg: &Path) {
    let path = repo_root().join(script);
    let out = Command::new("bash")
        .arg(&path)
        .arg(arg)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
    assert!(
        out.status.success(),
        "{} failed ({}):\n{}{}",
        path.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

static BUSYBOX: Once = Once::new();
static HOSTLIBS: Once = Once::new();
static ESCAPES: Once = Once::new();

/// build/rootfs/busybox, built by rootfs-fixtures/busybox.sh (once per test binary).
pub fn busybox_rootfs() -> PathBuf {
    let dir = repo_root().join("build/rootfs/busybox");
    BUSYBOX.call_once(|| run_script("rootfs-fixtures/busybox.sh", &dir));
    dir
}

/// build/rootfs/hostlibs, built by rootfs-fixtures/hostlibs.sh (once per test binary).
pub fn hostlibs_rootfs() -> PathBuf {
    let dir = repo_root().join("build/rootfs/hostlibs");
    HOSTLIBS.call_once(|| run_script("rootfs-fixtures/hostlibs.sh", &dir));
    dir
}

/// Compiles sentry/tests/programs/escape_*.c (static, -O2, warnings are errors) into
/// build/escapes/, once per test binary; returns that directory.
pub fn escape_programs() -> PathBuf {
    let root = repo_root();
    let out = root.join("build/escapes");
    ESCAPES.call_once(|| {
        std::fs::create_dir_all(&out).expect("create build/escapes");
        let src = root.join("sentry/tests/programs");
        let mut names: Vec<PathBuf> = std::fs::read_dir(&src)
            .expect("read sentry/tests/programs")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| x == "c")
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("escape_"))
            })
            .collect();
        names.sort();
        for c in names {
            let stem = c.file_stem().and_then(|s| s.to_str()).expect("utf-8 name");
            let bin = out.join(stem);
            let tmp = out.join(format!(".{stem}.{}.tmp", std::process::id()));
            let o = Command::new(std::env::var_os("CC").unwrap_or_else(|| "gcc".into()))
                .args(["-static", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread"])
                .args(["-D_GNU_SOURCE", "-o"])
                .arg(&tmp)
                .arg(&c)
                .stdin(Stdio::null())
                .output()
                .expect("run gcc");
            assert!(
                o.status.success(),
                "gcc {} failed:\n{}",
                c.display(),
                String::from_utf8_lossy(&o.stderr)
            );
            std::fs::rename(&tmp, &bin).expect("rename the program into place");
        }
    });
    out
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A scratch directory of one test: removed (with everything in it) when dropped.
pub struct Scratch {
    pub dir: PathBuf,
}

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "sentry-{tag}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        Scratch { dir }
    }

    /// A copy of `rootfs` at `<scratch>/rootfs` (cp -a: symlinks, modes and owners kept),
    /// without the conformance suite's binaries (`/conformance`) when the fixture holds them.
    pub fn copy_rootfs(&self, rootfs: &Path) -> PathBuf {
        let dst = self.dir.join("rootfs");
        std::fs::create_dir_all(&dst).expect("create the rootfs copy");
        let mut c = Command::new("cp");
        c.arg("-a");
        let mut n = 0;
        for e in std::fs::read_dir(rootfs)
            .expect("read the fixture rootfs")
            .flatten()
        {
            if e.file_name() == "conformance" {
                continue;
            }
            c.arg(e.path());
            n += 1;
        }
        assert!(n > 0, "{} is empty", rootfs.display());
        let st = c.arg(&dst).status().expect("run cp -a");
        assert!(
            st.success(),
            "cp -a {}/* {}",
            rootfs.display(),
            dst.display()
        );
        let meta = std::fs::metadata(rootfs).expect("stat the fixture rootfs");
        std::fs::set_permissions(&dst, meta.permissions()).expect("chmod the rootfs copy");
        dst
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The result of a finished `sentry run`.
#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn describe(&self) -> String {
        let tail = |s: &str| {
            let lines: Vec<&str> = s.lines().collect();
            lines[lines.len().saturating_sub(40)..].join("\n")
        };
        format!(
            "exit code {:?}, signal {:?}\n--- stdout (last 40 lines) ---\n{}\n--- stderr (last 40 lines) ---\n{}",
            self.code,
            self.signal,
            tail(&self.stdout),
            tail(&self.stderr)
        )
    }
}

/// Runs `sentry run --platform=P OPTIONS ROOTFS CMD...` in its own process group, stdin from
/// /dev/null, output captured in files of `scratch`, with `deadline`: past it the group is
/// killed and the test fails. Afterwards no task may be left: tasks carrying the run's token
/// in their environment (the sentry's own, and the sandbox's through `-e`) are killed and fail
/// the test.
pub fn sentry_run(
    scratch: &Scratch,
    platform: &str,
    options: &[&str],
    rootfs: &Path,
    cmd: &[&str],
    deadline: Duration,
) -> Outcome {
    sentry_run_inheriting(scratch, platform, options, rootfs, cmd, deadline, &[])
}

/// [`sentry_run`], with the sentry inheriting `inherit`: (our fd, the fd number the sentry gets
/// it as), as a careless invoker would leave descriptors open.
pub fn sentry_run_inheriting(
    scratch: &Scratch,
    platform: &str,
    options: &[&str],
    rootfs: &Path,
    cmd: &[&str],
    deadline: Duration,
    inherit: &[(i32, i32)],
) -> Outcome {
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    let token = format!("sentry-test-{}-{n}", std::process::id());
    let out_path = scratch.dir.join(format!("out.{n}"));
    let err_path = scratch.dir.join(format!("err.{n}"));
    let out = std::fs::File::create(&out_path).expect("create the stdout file");
    let err = std::fs::File::create(&err_path).expect("create the stderr file");
    let mut c = Command::new(sentry_bin());
    c.arg("run")
        .arg(format!("--platform={platform}"))
        .args(["-e", &format!("SENTRY_TEST_TOKEN={token}")])
        .args(options)
        .arg(rootfs)
        .args(cmd)
        .env("SENTRY_TEST_TOKEN", &token)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    let inherit: Vec<(i32, i32)> = inherit.to_vec();
    if !inherit.is_empty() {
        // SAFETY: the closure runs in the forked child before exec and calls only dup2(2),
        // which is async-signal-safe; it allocates nothing and touches no lock.
        unsafe {
            c.pre_exec(move || {
                for (from, to) in &inherit {
                    // dup2 leaves the new descriptor without FD_CLOEXEC: the sentry inherits it.
                    if libc::dup2(*from, *to) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
    }
    let mut child = c
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {c:?}: {e}"));
    let pid = child.id() as libc::pid_t;
    let finished = wait_deadline(pid, deadline);
    if !finished {
        kill_group(pid);
    }
    let status = child.wait().expect("wait for the sentry");
    let leftover = processes_with_token(&token);
    for p in &leftover {
        // SAFETY: kill(2) of a pid found carrying this run's token: a task this test started.
        unsafe {
            libc::kill(*p, libc::SIGKILL);
        }
    }
    kill_group(pid);
    let outcome = Outcome {
        code: status.code(),
        signal: status.signal(),
        stdout: String::from_utf8_lossy(&std::fs::read(&out_path).unwrap_or_default()).into(),
        stderr: String::from_utf8_lossy(&std::fs::read(&err_path).unwrap_or_default()).into(),
    };
    assert!(
        finished,
        "sentry run {cmd:?} (--platform={platform}) did not finish within {deadline:?}: killed\n{}",
        outcome.describe()
    );
    assert!(
        leftover.is_empty(),
        "sentry run {cmd:?} (--platform={platform}) left {} task(s) running: {leftover:?}\n{}",
        leftover.len(),
        outcome.describe()
    );
    outcome
}

fn kill_group(pgid: libc::pid_t) {
    // SAFETY: kill(2) with a negative pid signals the process group of our own child; no memory
    // is involved.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// Waits until our child `pid` has exited or `timeout` passed (poll on a pidfd); true when it
/// exited.
fn wait_deadline(pid: libc::pid_t, timeout: Duration) -> bool {
    // SAFETY: pidfd_open takes two integers and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as libc::c_int;
    assert!(fd >= 0, "pidfd_open: {}", std::io::Error::last_os_error());
    let end = Instant::now() + timeout;
    let done = loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break false;
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
        // SAFETY: pfd is a valid pollfd on our stack and the count is 1.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r > 0 {
            break true;
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break false;
        }
    };
    // SAFETY: fd is the pidfd opened above, owned here.
    unsafe {
        libc::close(fd);
    }
    done
}

/// Host pids of live processes whose environment holds `SENTRY_TEST_TOKEN=token`.
fn processes_with_token(token: &str) -> Vec<i32> {
    let want = format!("SENTRY_TEST_TOKEN={token}");
    let me = std::process::id() as i32;
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
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
        if env.split(|b| *b == 0).any(|kv| kv == want.as_bytes()) {
            found.push(pid);
        }
    }
    found
}

/// (st_dev, st_ino) of a host path, as decimal strings for a program's argv.
pub fn dev_ino(path: &Path) -> (String, String) {
    let m = std::fs::metadata(path).unwrap_or_else(|e| panic!("stat {}: {e}", path.display()));
    (m.dev().to_string(), m.ino().to_string())
}

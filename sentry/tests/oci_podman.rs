//! The sentry as podman's OCI runtime: what podman users see (output, exit statuses, stdin,
//! hostname, environment, working directory, volumes, detached containers and `stop`).
//!
//! Each test runs with the sentry and, where runc is installed, again with runc, since the
//! tests check podman's behaviour, not the sentry's own words. Every podman store, run
//! directory and temporary directory is private to the test and removed with it; the
//! sentry keeps its state under /run/sentry (podman's cleanup calls the runtime without the
//! test's options), and no container, process or directory of the test is left behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;
use test_support::{run_to_end, Live, Run, Scratch};

const DEADLINE: Duration = Duration::from_secs(60);
const IMAGE: &str = "sentry-test-busybox";

/// One podman test at a time: podman's shared blob cache (see `Podman::drop`) and two CPUs.
static SERIAL: Mutex<()> = Mutex::new(());

/// A private podman (store, run root, temporary directory, configuration) with the busybox
/// image imported, using one runtime.
struct Podman {
    scratch: Scratch,
    runtime: PathBuf,
    /// Whether podman's blob cache (/var/lib/containers/cache) was there before the test.
    cache_existed: bool,
    _serial: std::sync::MutexGuard<'static, ()>,
}

const BLOB_CACHE: &str = "/var/lib/containers/cache";

impl Podman {
    fn new(runtime: &Path) -> Podman {
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let scratch = Scratch::new("oci-podman");
        std::fs::write(
            scratch.dir.join("containers.conf"),
            // The host's own rlimits (podman's defaults need CAP_SYS_RESOURCE), no network
            // namespace, no systemd.
            "[containers]\nnetns = \"none\"\ndefault_ulimits = []\n\
             [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
        )
        .expect("write containers.conf");
        let podman = Podman {
            cache_existed: Path::new(BLOB_CACHE).exists(),
            scratch,
            runtime: runtime.to_path_buf(),
            _serial: serial,
        };
        let tarball = test_support::repo_root().join("build/oci/busybox.tar");
        assert!(
            tarball.exists(),
            "{} is missing: run rootfs-fixtures/setup.sh",
            tarball.display()
        );
        podman
            .run(&["import", tarball.to_str().expect("utf-8 path"), IMAGE])
            .expect_code(0);
        podman
    }

    fn command(&self, args: &[&str]) -> Command {
        let d = &self.scratch.dir;
        let mut c = Command::new("podman");
        c.arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("run"))
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .args([
                "--storage-driver",
                "vfs",
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "file",
            ])
            .arg("--runtime")
            .arg(&self.runtime)
            .args(args)
            .env("CONTAINERS_CONF", d.join("containers.conf"))
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        run_to_end(self.command(args), DEADLINE)
    }

    /// `podman run --rm IMAGE ARGS…` with `options` before the image.
    fn run_rm(&self, options: &[&str], args: &[&str]) -> Run {
        let mut all = vec!["run", "--rm"];
        all.extend_from_slice(options);
        all.push(IMAGE);
        all.extend_from_slice(args);
        self.run(&all)
    }

    fn name(&self) -> String {
        self.runtime
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = run_to_end(
            self.command(&["rm", "--all", "--force", "--time", "0"]),
            DEADLINE,
        );
        let _ = run_to_end(self.command(&["rmi", "--all", "--force"]), DEADLINE);
        // podman mounts a tmpfs for each container's /dev/shm (as root): unmount anything
        // still mounted below the test's directory before removing it.
        let dir = self.scratch.dir.to_string_lossy().into_owned();
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut points: Vec<&str> = mountinfo
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|p| p.starts_with(&dir))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for point in points {
            let c = std::ffi::CString::new(point).expect("no NUL in a mount point");
            // SAFETY: umount2 reads a NUL-terminated path we own.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
        if !self.cache_existed {
            let _ = std::fs::remove_dir_all(BLOB_CACHE);
            let _ = std::fs::remove_dir("/var/lib/containers");
        }
    }
}

/// The runtimes to test with: the sentry, and runc where it is installed.
fn runtimes() -> Vec<PathBuf> {
    let mut list = vec![PathBuf::from(env!("CARGO_BIN_EXE_sentry"))];
    let runc = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("runc"))
        .find(|p| p.is_file());
    match runc {
        Some(runc) => list.push(runc),
        None => eprintln!("runc is not installed: the comparison with runc is skipped"),
    }
    list
}

/// Runs `test` with each runtime, or says plainly why podman tests cannot run here.
fn with_podman(test: impl Fn(&Podman)) {
    if Command::new("podman")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        eprintln!(
            "podman is not installed (rootfs-fixtures/setup.sh installs it as root): skipped"
        );
        return;
    }
    if !test_support::is_root() {
        eprintln!("the podman tests run as root (podman's mounts): skipped");
        return;
    }
    for runtime in runtimes() {
        let before = sentry_states();
        let podman = Podman::new(&runtime);
        eprintln!("runtime: {}", podman.name());
        test(&podman);
        let left: Vec<String> = sentry_states()
            .into_iter()
            .filter(|s| !before.contains(s))
            .collect();
        assert!(
            left.is_empty(),
            "the sentry left state directories: {left:?}"
        );
    }
}

/// The sentry's state directories (root's default --root).
fn sentry_states() -> Vec<String> {
    std::fs::read_dir("/run/sentry")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// The containers podman knows, running or not.
fn containers(podman: &Podman) -> String {
    podman.run(&["ps", "--all", "--quiet"]).stdout
}

#[test]
fn output_of_echo() {
    with_podman(|p| {
        let run = p.run_rm(&[], &["echo", "hi"]);
        run.expect_code(0);
        assert_eq!(run.stdout, "hi\n", "{}", run.describe());
        assert_eq!(containers(p), "", "--rm left a container");
    });
}

#[test]
fn exit_statuses() {
    with_podman(|p| {
        p.run_rm(&[], &["sh", "-c", "exit 7"]).expect_code(7);
        let run = p.run_rm(&[], &["/no/such/command"]);
        run.expect_code(127);
        p.run_rm(&[], &["no-such-command-in-path"]).expect_code(127);
        // The container's first process is its PID 1: its own SIGKILL is ignored, as
        // for any init of a PID namespace.
        let run = p.run_rm(&[], &["sh", "-c", "kill -9 $$; echo survived"]);
        run.expect_code(0);
        assert_eq!(run.stdout, "survived\n", "{}", run.describe());
        // A death by a signal from outside: 128 + N.
        let script = "echo ready; while true; do sleep 1; done; echo unreachable";
        p.run(&["run", "-d", "--name", "k1", IMAGE, "sh", "-c", script])
            .expect_code(0);
        let mut logs = Live::spawn(p.command(&["logs", "-f", "k1"]));
        logs.wait_line("ready");
        p.run(&["kill", "--signal", "KILL", "k1"]).expect_code(0);
        logs.finish();
        let wait = p.run(&["wait", "k1"]);
        assert_eq!(wait.stdout.trim(), "137", "{}", wait.describe());
        p.run(&["rm", "k1"]).expect_code(0);
        assert_eq!(containers(p), "");
    });
}

#[test]
fn piped_stdin_with_i() {
    with_podman(|p| {
        let mut cmd = p.command(&["run", "--rm", "-i", IMAGE, "cat"]);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start podman");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("piped stdin");
            stdin.write_all(b"piped\nlines\n").expect("write stdin");
        }
        let out = child.wait_with_output().expect("wait for podman");
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "piped\nlines\n");
    });
}

#[test]
fn hostname_env_and_workdir() {
    with_podman(|p| {
        let run = p.run_rm(
            &["--hostname", "boxy", "-e", "A=B", "--workdir", "/tmp"],
            &["sh", "-c", "hostname; echo $A; pwd; cat /etc/hostname"],
        );
        run.expect_code(0);
        // podman writes /etc/hostname without a newline.
        assert_eq!(run.stdout, "boxy\nB\n/tmp\nboxy", "{}", run.describe());
    });
}

#[test]
fn volumes_read_only_and_writable() {
    with_podman(|p| {
        let data = p.scratch.dir.join("data");
        std::fs::create_dir(&data).expect("mkdir data");
        std::fs::write(data.join("f"), "content\n").expect("write data/f");
        let ro = format!("{}:/data:ro", data.display());
        let run = p.run_rm(&["-v", &ro], &["sh", "-c", "cat /data/f; echo x > /data/g"]);
        assert_ne!(run.code(), 0, "a write to a :ro volume succeeded");
        assert_eq!(run.stdout, "content\n", "{}", run.describe());
        assert!(!data.join("g").exists());
        let rw = format!("{}:/data", data.display());
        p.run_rm(&["-v", &rw], &["sh", "-c", "echo written > /data/g"])
            .expect_code(0);
        assert_eq!(
            std::fs::read_to_string(data.join("g")).expect("read data/g"),
            "written\n"
        );
    });
}

#[test]
fn detached_then_stop_and_rm() {
    with_podman(|p| {
        // The shell stays (a trailing command after the loop) and answers SIGTERM with 3.
        let script = "trap 'echo got-term; exit 3' TERM; echo ready; \
                      while true; do sleep 1; done; echo unreachable";
        let run = p.run(&["run", "-d", "--name", "d1", IMAGE, "sh", "-c", script]);
        run.expect_code(0);
        // Follow the log until the trap is set: no sleeping on time.
        let mut logs = Live::spawn(p.command(&["logs", "-f", "d1"]));
        logs.wait_line("ready");
        let running = p.run(&["ps", "--format", "{{.Names}} {{.Status}}"]);
        assert!(
            running.stdout.starts_with("d1 Up"),
            "{}",
            running.describe()
        );
        p.run(&["stop", "--time", "20", "d1"]).expect_code(0);
        let logs = logs.finish();
        assert!(logs.stdout.contains("got-term"), "{}", logs.describe());
        let code = p.run(&["inspect", "--format", "{{.State.ExitCode}}", "d1"]);
        assert_eq!(code.stdout.trim(), "3", "{}", code.describe());
        p.run(&["rm", "d1"]).expect_code(0);
        assert_eq!(containers(p), "");
    });
}

/// The lines of a container's log.
fn log_lines(p: &Podman, name: &str) -> usize {
    p.run(&["logs", name]).stdout.lines().count()
}

#[test]
fn terminal_with_it() {
    with_podman(|p| {
        // podman -it needs a terminal of its own: script(1) gives it one. The container
        // waits for a line typed at it, so that its output comes after podman attached
        // (a container that prints at once may finish before, with runc too).
        let podman: Vec<String> = p
            .command(&[
                "run",
                "--rm",
                "-it",
                IMAGE,
                "sh",
                "-c",
                "read line; tty; exit 3",
            ])
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let line = format!("podman {}", podman.join(" "));
        let mut script = Command::new("sh");
        script.args(["-c", "printf 'go\\n' | script -qec \"$0\" /dev/null", &line]);
        for (k, v) in p.command(&[]).get_envs() {
            if let Some(v) = v {
                script.env(k, v);
            }
        }
        let run = run_to_end(script, DEADLINE);
        run.expect_code(3);
        assert!(run.stdout.contains("/dev/pts/0"), "{}", run.describe());
        assert_eq!(containers(p), "");
    });
}

#[test]
fn exec_into_a_detached_container() {
    with_podman(|p| {
        let script = "echo ready; while true; do sleep 1; done; echo unreachable";
        p.run(&["run", "-d", "--name", "x1", IMAGE, "sh", "-c", script])
            .expect_code(0);
        let mut logs = Live::spawn(p.command(&["logs", "-f", "x1"]));
        logs.wait_line("ready");
        let exec = p.run(&["exec", "x1", "sh", "-c", "echo in $(hostname); exit 5"]);
        exec.expect_code(5);
        assert!(exec.stdout.starts_with("in "), "{}", exec.describe());
        p.run(&["exec", "x1", "/no/such/program"]).expect_code(127);
        p.run(&["rm", "--force", "--time", "0", "x1"])
            .expect_code(0);
        logs.finish();
        assert_eq!(containers(p), "");
    });
}

#[test]
fn pause_stops_a_counter() {
    with_podman(|p| {
        let script = "i=0; while true; do i=$((i+1)); echo $i; sleep 0.05; done; echo x";
        p.run(&["run", "-d", "--name", "c1", IMAGE, "sh", "-c", script])
            .expect_code(0);
        let mut logs = Live::spawn(p.command(&["logs", "-f", "c1"]));
        logs.wait_line("3");
        p.run(&["pause", "c1"]).expect_code(0);
        let status = p.run(&["inspect", "--format", "{{.State.Status}}", "c1"]);
        assert_eq!(status.stdout.trim(), "paused", "{}", status.describe());
        let frozen_at = log_lines(p, "c1");
        // A window in which a running counter writes several lines (not a wait for anything).
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(
            log_lines(p, "c1"),
            frozen_at,
            "the counter moved while paused"
        );
        p.run(&["unpause", "c1"]).expect_code(0);
        let end = std::time::Instant::now() + DEADLINE;
        while log_lines(p, "c1") == frozen_at {
            assert!(
                std::time::Instant::now() < end,
                "the counter did not move again"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        p.run(&["rm", "--force", "--time", "0", "c1"])
            .expect_code(0);
        logs.finish();
    });
}

#[test]
fn memory_and_pids_limits_hold() {
    with_podman(|p| {
        // 100 MB in one buffer under a 64 MB limit: refused (ENOMEM) or killed (OOM).
        let run = p.run_rm(
            &["--memory", "64m"],
            &["dd", "if=/dev/zero", "of=/dev/null", "bs=100M", "count=1"],
        );
        assert_ne!(run.code(), 0, "{}", run.describe());
        // 40 background processes under a limit of 20: not all of them start (busybox's sh
        // gives up at the first fork that fails; each line is one that started).
        let bomb = "for i in $(seq 40); do sleep 30 & echo $i; done";
        let run = p.run_rm(&["--pids-limit", "20"], &["sh", "-c", bomb]);
        let started = run.stdout.lines().count();
        assert!(
            (1..20).contains(&started),
            "{started} processes started under --pids-limit 20\n{}",
            run.describe()
        );
        assert_eq!(containers(p), "");
    });
}

#[test]
fn read_only_and_user() {
    with_podman(|p| {
        let run = p.run_rm(&["--read-only"], &["sh", "-c", "touch /made-here"]);
        assert_ne!(run.code(), 0, "a write to a --read-only root succeeded");
        let run = p.run_rm(&["--user", "1000:1000"], &["sh", "-c", "id -u; id -g"]);
        run.expect_code(0);
        assert_eq!(run.stdout, "1000\n1000\n", "{}", run.describe());
    });
}

#[test]
fn python_in_the_debian_package_rootfs() {
    with_podman(|p| {
        let tarball = test_support::repo_root().join("build/oci/hostlibs.tar");
        if !tarball.exists() {
            eprintln!(
                "{} is missing (rootfs-fixtures/oci.sh): skipped",
                tarball.display()
            );
            return;
        }
        p.run(&[
            "import",
            tarball.to_str().expect("utf-8 path"),
            "sentry-test-hostlibs",
        ])
        .expect_code(0);
        let run = p.run(&[
            "run",
            "--rm",
            "sentry-test-hostlibs",
            "python3",
            "-c",
            "import socket, sqlite3; print(sqlite3.connect(':memory:').execute('select 6*7').fetchone()[0])",
        ]);
        run.expect_code(0);
        assert_eq!(run.stdout, "42\n", "{}", run.describe());
    });
}

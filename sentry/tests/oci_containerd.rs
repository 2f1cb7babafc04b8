//! The sentry as containerd's runtime, through `ctr` and containerd's own runc shim
//! (`io.containerd.runc.v2` with `--runc-binary`): output and exit codes, a detached task with
//! `task exec`, `task ps`, `pause`/`resume`, `kill` and `delete`, and two containers at once.
//!
//! Each test starts a private containerd (its root, state and socket in the test's scratch
//! directory) and imports the busybox image that rootfs-fixtures/oci.sh packs; each runs with
//! the sentry and, where it is installed, with runc, since the tests check containerd's
//! behaviour, not the sentry's own words. Nothing is left behind: containerd and its shims
//! end, and the scratch directory goes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use test_support::{run_to_end, Run, Scratch};

const DEADLINE: Duration = Duration::from_secs(60);
const IMAGE: &str = "sentry-test/busybox:latest";

/// One containerd at a time: two CPUs, and shims that find each other by socket.
static SERIAL: Mutex<()> = Mutex::new(());

/// A private containerd with the busybox image imported.
struct Containerd {
    scratch: Scratch,
    daemon: Child,
    runtime: PathBuf,
    /// Shim sockets that were there before (containerd keeps them in /run/containerd/s).
    shim_sockets_before: Vec<PathBuf>,
    _serial: std::sync::MutexGuard<'static, ()>,
}

const SHIM_SOCKETS: &str = "/run/containerd/s";

fn shim_sockets() -> Vec<PathBuf> {
    std::fs::read_dir(SHIM_SOCKETS)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect()
}

impl Containerd {
    fn start(runtime: &Path) -> Containerd {
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let scratch = Scratch::new("oci-ctr");
        let d = &scratch.dir;
        std::fs::write(
            d.join("config.toml"),
            format!(
                "version = 2\nroot = \"{root}\"\nstate = \"{state}\"\n\
                 disabled_plugins = [\"io.containerd.grpc.v1.cri\", \
                 \"io.containerd.snapshotter.v1.btrfs\", \"io.containerd.snapshotter.v1.zfs\", \
                 \"io.containerd.snapshotter.v1.devmapper\", \"io.containerd.snapshotter.v1.aufs\"]\n\
                 [grpc]\n  address = \"{sock}\"\n[ttrpc]\n  address = \"{sock}.ttrpc\"\n",
                root = d.join("root").display(),
                state = d.join("state").display(),
                sock = d.join("c.sock").display(),
            ),
        )
        .expect("write config.toml");
        let shim_sockets_before = shim_sockets();
        let log = std::fs::File::create(d.join("containerd.log")).expect("create the log");
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(d.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup the log"))
            .stderr(log)
            .spawn()
            .expect("start containerd");
        let ctr = Containerd {
            scratch,
            daemon,
            runtime: runtime.to_path_buf(),
            shim_sockets_before,
            _serial: serial,
        };
        // Ready when it answers (a condition, polled: containerd has no readiness signal).
        let end = Instant::now() + DEADLINE;
        while !ctr
            .command(&["version"])
            .output()
            .is_ok_and(|o| o.status.success())
        {
            assert!(
                Instant::now() < end,
                "containerd did not come up: {}",
                ctr.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let image = test_support::repo_root().join("build/oci/busybox-oci.tar");
        assert!(
            image.exists(),
            "{} is missing: run rootfs-fixtures/setup.sh",
            image.display()
        );
        ctr.run(&[
            "image",
            "import",
            "--snapshotter",
            "native",
            image.to_str().expect("a UTF-8 path"),
        ])
        .expect_code(0);
        ctr
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.scratch.dir.join("containerd.log")).unwrap_or_default()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ctr");
        c.arg("--address")
            .arg(self.scratch.dir.join("c.sock"))
            .args(args)
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        run_to_end(self.command(args), DEADLINE)
    }

    /// `ctr run --runc-binary RUNTIME --snapshotter native OPTIONS IMAGE ID ARGS…`.
    fn run_container(&self, options: &[&str], id: &str, args: &[&str]) -> Run {
        let mut all = vec!["run", "--snapshotter", "native", "--runc-binary"];
        let runtime = self.runtime.to_str().expect("a UTF-8 path").to_string();
        all.push(&runtime);
        all.extend_from_slice(options);
        all.push(IMAGE);
        all.push(id);
        all.extend_from_slice(args);
        self.run(&all)
    }

    fn name(&self) -> String {
        self.runtime
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Waits until task `id`'s status is `want` (RUNNING, STOPPED, PAUSED).
    fn wait_status(&self, id: &str, want: &str) {
        let end = Instant::now() + DEADLINE;
        loop {
            let ls = self.run(&["task", "ls"]);
            let status = ls
                .stdout
                .lines()
                .find(|l| l.split_whitespace().next() == Some(id))
                .and_then(|l| l.split_whitespace().nth(2).map(str::to_string));
            if status.as_deref() == Some(want) {
                return;
            }
            assert!(
                Instant::now() < end,
                "task {id} never became {want}: {}",
                ls.describe()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Every task and container goes, then containerd; the shims end with their tasks.
        let tasks = self.run(&["task", "ls", "-q"]).stdout;
        for id in tasks.lines() {
            let _ = self.run(&["task", "kill", "-s", "SIGKILL", id]);
            let _ = self.run(&["task", "delete", "-f", id]);
        }
        for id in self.run(&["container", "ls", "-q"]).stdout.lines() {
            let _ = self.run(&["container", "delete", id]);
        }
        // SAFETY: kill with plain integers, on our own child.
        unsafe { libc::kill(self.daemon.id() as i32, libc::SIGTERM) };
        let _ = self.daemon.wait();
        let dir = self.scratch.dir.to_string_lossy().into_owned();
        let left = test_support::marked_processes(&dir, &[]);
        for pid in &left {
            // SAFETY: kill with plain integers; a shim of this test's containerd.
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
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
        for socket in shim_sockets() {
            if !self.shim_sockets_before.contains(&socket) {
                let _ = std::fs::remove_file(socket);
            }
        }
        if !std::thread::panicking() {
            assert!(left.is_empty(), "processes outlived the test: {left:?}");
        }
    }
}

/// The runtimes to test with: the sentry, and runc where it is installed.
fn runtimes() -> Vec<PathBuf> {
    let mut list = vec![PathBuf::from(env!("CARGO_BIN_EXE_sentry"))];
    let runc = ["/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    match runc {
        Some(runc) => list.push(runc),
        None => eprintln!("runc is not installed: the comparison with runc is skipped"),
    }
    list
}

/// Runs `test` with each runtime, or says plainly why containerd tests cannot run here.
fn with_containerd(test: impl Fn(&Containerd)) {
    let installed = |tool: &str| {
        Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !installed("containerd") || !installed("ctr") {
        eprintln!(
            "containerd is not installed (rootfs-fixtures/setup.sh installs it as root): skipped"
        );
        return;
    }
    if !test_support::is_root() {
        eprintln!("the containerd tests run as root: skipped");
        return;
    }
    for runtime in runtimes() {
        let ctr = Containerd::start(&runtime);
        eprintln!("runtime: {}", ctr.name());
        test(&ctr);
    }
}

#[test]
fn output_and_exit_codes() {
    with_containerd(|c| {
        let run = c.run_container(&["--rm"], "out", &["sh", "-c", "echo hi from $0"]);
        run.expect_code(0);
        assert_eq!(run.stdout, "hi from sh\n", "{}", run.describe());
        c.run_container(&["--rm"], "seven", &["sh", "-c", "exit 7"])
            .expect_code(7);
        assert_eq!(c.run(&["container", "ls", "-q"]).stdout, "");
    });
}

#[test]
fn detached_exec_ps_pause_kill_delete() {
    with_containerd(|c| {
        let script = "trap 'exit 3' TERM; echo ready; while true; do sleep 1; done; echo x";
        c.run_container(&["-d"], "d1", &["sh", "-c", script])
            .expect_code(0);
        c.wait_status("d1", "RUNNING");
        let exec = c.run(&[
            "task",
            "exec",
            "--exec-id",
            "e1",
            "d1",
            "sh",
            "-c",
            "echo exec; exit 4",
        ]);
        exec.expect_code(4);
        assert_eq!(exec.stdout, "exec\n", "{}", exec.describe());
        let ps = c.run(&["task", "ps", "d1"]);
        ps.expect_code(0);
        assert!(ps.stdout.lines().count() >= 2, "{}", ps.describe());
        c.run(&["task", "pause", "d1"]).expect_code(0);
        c.wait_status("d1", "PAUSED");
        c.run(&["task", "resume", "d1"]).expect_code(0);
        c.wait_status("d1", "RUNNING");
        c.run(&["task", "kill", "d1"]).expect_code(0);
        c.wait_status("d1", "STOPPED");
        let delete = c.run(&["task", "delete", "d1"]);
        delete.expect_code(0);
        c.run(&["container", "delete", "d1"]).expect_code(0);
        assert_eq!(c.run(&["task", "ls", "-q"]).stdout, "");
    });
}

#[test]
fn two_containers_at_once() {
    with_containerd(|c| {
        let script = "echo up; while true; do sleep 1; done; echo x";
        for id in ["a1", "a2"] {
            c.run_container(&["-d"], id, &["sh", "-c", script])
                .expect_code(0);
        }
        c.wait_status("a1", "RUNNING");
        c.wait_status("a2", "RUNNING");
        for id in ["a1", "a2"] {
            let exec = c.run(&["task", "exec", "--exec-id", "h", id, "hostname"]);
            exec.expect_code(0);
            c.run(&["task", "kill", "-s", "SIGKILL", id]).expect_code(0);
            c.wait_status(id, "STOPPED");
            c.run(&["task", "delete", id]).expect_code(0);
            c.run(&["container", "delete", id]).expect_code(0);
        }
    });
}

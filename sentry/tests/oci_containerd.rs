//! The sentry as containerd's runtime: a private containerd 1.6 runs each test's containers
//! through its runc shim (`io.containerd.runc.v2`) given `ctr run --runc-binary`, and the
//! tests check what `ctr` users see (output, exit statuses, detached containers, `task exec`,
//! `task ps`, `task kill`, `task delete`, two containers at once).
//!
//! Each test runs with runc first, where it is installed, then with the sentry: the tests check
//! containerd's behaviour, so a failure with the sentry alone is the sentry's. Every containerd
//! is private to one test and one runtime: its configuration, root, state, temporary directory,
//! GRPC socket, FIFOs and the runtime's `--root` are in the test's scratch directory, and its
//! namespace is unique. What containerd's shim writes elsewhere (its socket under
//! /run/containerd/s, the cgroups runc makes for the namespace) is removed when the test made
//! it, and no process, mount or container of the test is left behind.
//!
//! Nothing waits on time: containerd is ready when it says so on stderr, a container when its
//! output (read from a FIFO given as `--log-uri`) says so, and a task has stopped when
//! containerd's event stream (`ctr events`) says so.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use test_support::{pidfd_open, pidfd_wait_exit, run_in_group, run_to_end, Run, Scratch};

const DEADLINE: Duration = Duration::from_secs(60);
const IMAGE: &str = "docker.io/library/sentry-test-busybox:latest";
/// Where containerd 1.6 puts its shims' sockets, whatever its configuration says.
const SHIM_SOCKETS: &str = "/run/containerd/s";
/// The environment variable that marks every process of one test's containerd.
const TOKEN_KEY: &str = "SENTRY_CONTAINERD_TEST";

/// One containerd test at a time: two CPUs, and the shared /run/containerd/s.
static SERIAL: Mutex<()> = Mutex::new(());

/// A private containerd with the busybox image imported, whose containers run with one
/// runtime.
struct Containerd {
    scratch: Scratch,
    runtime: PathBuf,
    /// containerd's namespace for this test (also the name of the cgroups runc makes).
    namespace: String,
    /// `TOKEN_KEY=value`, in the environment of containerd, its shims, the runtime and the
    /// containers' processes.
    token: String,
    daemon: Option<Child>,
    /// `ctr events`, started before any container.
    events: Option<Child>,
    event_lines: Option<mpsc::Receiver<String>>,
    /// Every event seen so far: (topic, payload).
    seen_events: RefCell<Vec<(String, serde_json::Value)>>,
    /// Every container id given to `ctr run`, for the shims' socket names.
    ids: RefCell<BTreeSet<String>>,
    /// Whether /run/containerd and /run/containerd/s were there before the test.
    run_dirs_existed: (bool, bool),
    /// How many `ctr_quietly` calls were made (their output files' names).
    quiet_runs: RefCell<usize>,
    cleaned: bool,
    _serial: std::sync::MutexGuard<'static, ()>,
}

impl Containerd {
    fn new(runtime: &Path) -> Containerd {
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let scratch = Scratch::new("oci-containerd");
        let unique = scratch
            .dir
            .file_name()
            .expect("a scratch directory has a name")
            .to_string_lossy()
            .into_owned();
        let mut c = Containerd {
            namespace: unique.clone(),
            token: format!("{TOKEN_KEY}={unique}"),
            scratch,
            runtime: runtime.to_path_buf(),
            daemon: None,
            events: None,
            event_lines: None,
            seen_events: RefCell::new(Vec::new()),
            ids: RefCell::new(BTreeSet::new()),
            run_dirs_existed: (
                Path::new("/run/containerd").exists(),
                Path::new(SHIM_SOCKETS).exists(),
            ),
            quiet_runs: RefCell::new(0),
            cleaned: false,
            _serial: serial,
        };
        let d = c.scratch.dir.clone();
        for sub in ["tmp", "fifo", "runc"] {
            std::fs::create_dir(d.join(sub)).expect("mkdir in the scratch directory");
        }
        std::fs::write(d.join("config.toml"), config_toml(&d)).expect("write config.toml");
        c.start_daemon();
        c.start_events();
        let image = d.join("image.tar");
        write_oci_archive(&d.join("image"), &image);
        c.ctr_run(&["images", "import", path_str(&image)])
            .expect_code(0);
        let images = c.ctr_run(&["images", "list", "--quiet"]);
        assert_eq!(images.stdout.trim(), IMAGE, "{}", images.describe());
        c
    }

    /// Starts containerd and waits until it says it has booted.
    fn start_daemon(&mut self) {
        let d = &self.scratch.dir;
        let (key, value) = self.token.split_once('=').expect("KEY=VALUE");
        let mut cmd = Command::new("containerd");
        cmd.arg("--config")
            .arg(d.join("config.toml"))
            // The shims inherit containerd's environment, the runtime the shim's: the shim's
            // temporary files (runc's --process files) go to the scratch directory too.
            .env("TMPDIR", d.join("tmp"))
            .env(key, value)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start containerd");
        let stderr = child.stderr.take().expect("piped stderr");
        self.daemon = Some(child);
        let log = File::create(d.join("containerd.log")).expect("create containerd.log");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut log = log;
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(log, "{line}");
                if line.contains("containerd successfully booted") {
                    let _ = tx.send(());
                }
            }
        });
        if rx.recv_timeout(DEADLINE).is_err() {
            panic!(
                "containerd did not boot within {DEADLINE:?}\n--- containerd.log ---\n{}",
                self.daemon_log()
            );
        }
    }

    /// Starts `ctr events` and makes sure it is subscribed: it must report an update of the
    /// namespace's labels made after it started. Until it does, the update is repeated (a
    /// handshake: every round waits for the event, none is assumed to be enough).
    fn start_events(&mut self) {
        let namespace = self.namespace.clone();
        self.ctr_run(&["namespaces", "create", &namespace])
            .expect_code(0);
        let mut cmd = self.ctr(&["events"]);
        cmd.stdout(Stdio::piped()).stderr(Stdio::null());
        let mut child = cmd.spawn().expect("start ctr events");
        let stdout = child.stdout.take().expect("piped stdout");
        self.events = Some(child);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        self.event_lines = Some(rx);
        let end = Instant::now() + DEADLINE;
        for round in 0.. {
            assert!(
                Instant::now() < end,
                "ctr events reported nothing within {DEADLINE:?}"
            );
            let label = format!("sentry-test-sync={round}");
            self.ctr_run(&["namespaces", "label", &namespace, &label])
                .expect_code(0);
            let want = round.to_string();
            let got = self.wait_event(Duration::from_millis(500), |topic, e| {
                topic == "/namespaces/update" && e["labels"]["sentry-test-sync"] == want.as_str()
            });
            if got.is_some() {
                return;
            }
        }
    }

    /// The first event (seen before or arriving within `timeout`) that `want` accepts.
    fn wait_event(
        &self,
        timeout: Duration,
        want: impl Fn(&str, &serde_json::Value) -> bool,
    ) -> Option<serde_json::Value> {
        let end = Instant::now() + timeout;
        loop {
            if let Some((_, e)) = self
                .seen_events
                .borrow()
                .iter()
                .find(|(topic, e)| want(topic, e))
            {
                return Some(e.clone());
            }
            let left = end.saturating_duration_since(Instant::now());
            let line = match self.event_lines.as_ref()?.recv_timeout(left) {
                Ok(line) => line,
                Err(_) => return None,
            };
            // "DATE TIME ZONE UTC NAMESPACE TOPIC JSON"
            let fields: Vec<&str> = line.splitn(7, ' ').collect();
            if let [_, _, _, _, _, topic, json] = fields[..] {
                if let Ok(value) = serde_json::from_str(json) {
                    self.seen_events
                        .borrow_mut()
                        .push((topic.to_string(), value));
                }
            }
        }
    }

    /// Waits for containerd's `/tasks/exit` event of process `exec_id` of container `id` (the
    /// container's own process when they are equal); its exit status.
    fn wait_exit(&self, id: &str, exec_id: &str) -> i64 {
        let event = self.wait_event(DEADLINE, |topic, e| {
            topic == "/tasks/exit" && e["container_id"] == id && e["id"] == exec_id
        });
        match event {
            // containerd leaves out an exit_status of 0.
            Some(e) => e["exit_status"].as_i64().unwrap_or(0),
            None => panic!(
                "no exit of {id}/{exec_id} within {DEADLINE:?}; events seen: {:?}\n{}",
                self.seen_events.borrow(),
                self.ctr_run(&["tasks", "list"]).describe()
            ),
        }
    }

    /// `ctr --address SOCKET --namespace NS ARGS…`, with the native snapshotter.
    fn ctr(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ctr");
        c.arg("--address")
            .arg(self.scratch.dir.join("containerd.sock"))
            .arg("--namespace")
            .arg(&self.namespace)
            .args(args)
            .env("CONTAINERD_SNAPSHOTTER", "native")
            .stdin(Stdio::null());
        c
    }

    fn ctr_run(&self, args: &[&str]) -> Run {
        run_to_end(self.ctr(args), DEADLINE)
    }

    /// The options of `ctr run` that select the runtime and keep its files here.
    fn run_options(&self, id: &str) -> Vec<String> {
        self.ids.borrow_mut().insert(id.to_string());
        let d = &self.scratch.dir;
        vec![
            "--fifo-dir".into(),
            path_str(&d.join("fifo")).into(),
            "--runc-binary".into(),
            path_str(&self.runtime).into(),
            "--runc-root".into(),
            path_str(&d.join("runc")).into(),
            "--env".into(),
            self.token.clone(),
        ]
    }

    /// `ctr run --rm IMAGE ID ARGS…`
    fn run_rm(&self, id: &str, args: &[&str]) -> Run {
        let options = self.run_options(id);
        let mut all: Vec<&str> = vec!["run", "--rm"];
        all.extend(options.iter().map(String::as_str));
        all.extend([IMAGE, id]);
        all.extend_from_slice(args);
        self.ctr_run(&all)
    }

    /// `ctr run -d --log-uri file://FIFO IMAGE ID sh -c SCRIPT`: the container's output is
    /// read from the FIFO.
    fn run_detached(&self, id: &str, script: &str) -> Output {
        let output = Output::new(&self.scratch.dir.join(format!("{id}.out")));
        let options = self.run_options(id);
        let log_uri = format!("file://{}", output.path.display());
        let mut all: Vec<&str> = vec!["run", "-d", "--log-uri", &log_uri];
        all.extend(options.iter().map(String::as_str));
        all.extend([IMAGE, id, "sh", "-c", script]);
        self.ctr_run(&all).expect_code(0);
        output
    }

    /// `ctr task exec --exec-id EXEC_ID ID ARGS…`
    fn exec(&self, id: &str, exec_id: &str, args: &[&str]) -> Run {
        let fifo = self.scratch.dir.join("fifo");
        let mut all = vec![
            "tasks",
            "exec",
            "--fifo-dir",
            path_str(&fifo),
            "--exec-id",
            exec_id,
            id,
        ];
        all.extend_from_slice(args);
        self.ctr_run(&all)
    }

    /// The tasks containerd lists: (id, pid, status).
    fn tasks(&self) -> Vec<(String, String, String)> {
        let run = self.ctr_run(&["tasks", "list"]);
        run.expect_code(0);
        parse_tasks(&run.stdout)
    }

    fn containers(&self) -> String {
        self.ctr_run(&["containers", "list", "--quiet"]).stdout
    }

    fn name(&self) -> String {
        self.runtime
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.scratch.dir.join("containerd.log")).unwrap_or_default()
    }

    /// `ctr ARGS…` for the clean-up, which may run while a failed test unwinds: it never
    /// panics (a `ctr` still running at the deadline is killed). Its stdout.
    fn ctr_quietly(&self, args: &[&str]) -> String {
        let n = self.quiet_runs.replace_with(|n| *n + 1);
        let out = self.scratch.dir.join(format!("cleanup.{n}.out"));
        let err = self.scratch.dir.join(format!("cleanup.{n}.err"));
        run_in_group(self.ctr(args), &out, &err, DEADLINE, None)
            .map(|f| f.stdout)
            .unwrap_or_default()
    }

    /// Everything of a test that passed must already be gone: cleans up, then fails the test
    /// for whatever was left.
    fn finish(mut self) {
        let problems = self.cleanup();
        assert!(
            problems.is_empty(),
            "the test left: {problems:#?}\n--- containerd.log (tail) ---\n{}",
            tail(&self.daemon_log(), 30)
        );
    }

    /// Removes every container, stops containerd, kills whatever of it is left, unmounts,
    /// removes the shims' sockets and the namespace's cgroups. What had to be removed that a
    /// clean test would not have left, in words.
    fn cleanup(&mut self) -> Vec<String> {
        self.cleaned = true;
        let mut problems = Vec::new();
        if self.daemon.is_some() {
            let listed = self.ctr_quietly(&["tasks", "list"]);
            for (id, _, status) in parse_tasks(&listed) {
                problems.push(format!("task {id} ({status})"));
                self.ctr_quietly(&["tasks", "delete", "--force", &id]);
            }
            let containers = self.ctr_quietly(&["containers", "list", "--quiet"]);
            for id in containers.lines() {
                problems.push(format!("container {id}"));
                self.ids.borrow_mut().insert(id.to_string());
                self.ctr_quietly(&["containers", "delete", id]);
            }
        }
        if let Some(mut events) = self.events.take() {
            let _ = events.kill();
            let _ = events.wait();
        }
        if let Some(mut daemon) = self.daemon.take() {
            if let Some(fd) = pidfd_open(daemon.id() as i32) {
                // SAFETY: kill(2) of our own child, not reaped yet (the pidfd is open).
                unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
                if !pidfd_wait_exit(&fd, DEADLINE) {
                    problems.push("containerd ignored SIGTERM".into());
                    let _ = daemon.kill();
                }
            }
            let _ = daemon.wait();
        }
        // The shims and the runtime carry the token in their environment, and so do the
        // containers' processes (`--env`). A shim exits by itself once its container is
        // deleted: they get a common deadline to do so.
        let end = Instant::now() + Duration::from_secs(10);
        for pid in processes_with_env(&self.token) {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let argv: Vec<String> = cmdline
                .split(|&b| b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            if let Some(i) = argv.iter().position(|a| a == "-id") {
                if let Some(id) = argv.get(i + 1) {
                    self.ids.borrow_mut().insert(id.clone());
                }
            }
            let Some(fd) = pidfd_open(pid) else { continue };
            if !pidfd_wait_exit(&fd, end.saturating_duration_since(Instant::now())) {
                problems.push(format!("process {pid}: {}", argv.join(" ")));
                // SAFETY: pidfd_send_signal through a pidfd we own, no siginfo.
                unsafe {
                    libc::syscall(
                        libc::SYS_pidfd_send_signal,
                        fd.as_raw_fd(),
                        libc::SIGKILL,
                        std::ptr::null::<libc::siginfo_t>(),
                        0,
                    )
                };
                pidfd_wait_exit(&fd, DEADLINE);
            }
        }
        let runtime_state = self.scratch.dir.join("runc").join(&self.namespace);
        let left: Vec<String> = std::fs::read_dir(&runtime_state)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if !left.is_empty() {
            problems.push(format!(
                "the runtime's state in {}: {left:?}",
                runtime_state.display()
            ));
        }
        unmount_below(&self.scratch.dir);
        let address = self.scratch.dir.join("containerd.sock");
        for id in self.ids.borrow().iter() {
            let key = format!("{}/{}/{id}", address.display(), self.namespace);
            let socket = Path::new(SHIM_SOCKETS).join(sha256_hex(key.as_bytes()));
            if std::fs::remove_file(&socket).is_ok() {
                problems.push(format!("shim socket {} of {id}", socket.display()));
            }
        }
        if !self.run_dirs_existed.1 {
            let _ = std::fs::remove_dir(SHIM_SOCKETS);
        }
        if !self.run_dirs_existed.0 {
            let _ = std::fs::remove_dir("/run/containerd");
        }
        problems.extend(remove_cgroups(&self.namespace));
        problems
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        if !self.cleaned {
            // The test failed: what it left is cleaned up, and shown.
            let problems = self.cleanup();
            if !problems.is_empty() {
                eprintln!("cleaned up after the failed test: {problems:#?}");
            }
        }
    }
}

/// containerd's configuration: everything under `d`, only the plugins these tests use (no
/// CRI, the native snapshotter only).
fn config_toml(d: &Path) -> String {
    let p = |s: &str| d.join(s).display().to_string();
    format!(
        r#"version = 2
root = "{root}"
state = "{state}"
temp = "{tmp}"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.overlayfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "{grpc}"

[ttrpc]
  address = "{ttrpc}"

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""
"#,
        root = p("root"),
        state = p("state"),
        tmp = p("tmp"),
        grpc = p("containerd.sock"),
        ttrpc = p("containerd.sock.ttrpc"),
    )
}

/// The image: an OCI image layout of one uncompressed layer (build/oci/busybox.tar), named
/// IMAGE by the `io.containerd.image.name` annotation, packed into `archive` (what
/// `ctr images import` takes), built in `dir`.
fn write_oci_archive(dir: &Path, archive: &Path) {
    let tarball = test_support::repo_root().join("build/oci/busybox.tar");
    assert!(
        tarball.exists(),
        "{} is missing: run rootfs-fixtures/setup.sh",
        tarball.display()
    );
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("mkdir blobs/sha256");
    let layer = std::fs::read(&tarball).expect("read busybox.tar");
    let add = |bytes: &[u8]| -> (String, usize) {
        let digest = sha256_hex(bytes);
        std::fs::write(blobs.join(&digest), bytes).expect("write a blob");
        (format!("sha256:{digest}"), bytes.len())
    };
    let (layer_digest, layer_size) = add(&layer);
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let config = serde_json::json!({
        "architecture": arch,
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["sh"],
        },
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    });
    let (config_digest, config_size) = add(config.to_string().as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": layer_digest,
            "size": layer_size,
        }],
    });
    let (manifest_digest, manifest_size) = add(manifest.to_string().as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "annotations": {
                "io.containerd.image.name": IMAGE,
                "org.opencontainers.image.ref.name": "latest",
            },
        }],
    });
    std::fs::write(dir.join("index.json"), index.to_string()).expect("write index.json");
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("write oci-layout");
    let st = Command::new("tar")
        .arg("-C")
        .arg(dir)
        .arg("-cf")
        .arg(archive)
        .args(["oci-layout", "index.json", "blobs"])
        .status()
        .expect("run tar");
    assert!(st.success(), "tar of the OCI image layout failed");
}

/// The hex SHA-256 of `bytes` (sha256sum).
fn sha256_hex(bytes: &[u8]) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run sha256sum");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(bytes)
        .expect("write to sha256sum");
    let out = child.wait_with_output().expect("wait for sha256sum");
    assert!(out.status.success(), "sha256sum failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let hex = text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    assert_eq!(hex.len(), 64, "sha256sum printed {text:?}");
    hex
}

/// The rows of `ctr tasks list`: (id, pid, status).
fn parse_tasks(listing: &str) -> Vec<(String, String, String)> {
    listing
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f[..] {
                [id, pid, status] => Some((id.into(), pid.into(), status.into())),
                _ => None,
            }
        })
        .collect()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The processes other than this one whose environment holds `entry` (`KEY=VALUE`).
fn processes_with_env(entry: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut found: Vec<i32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()))
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|&b| b == 0).any(|e| e == entry.as_bytes()))
                .unwrap_or(false)
        })
        .collect();
    found.sort_unstable();
    found
}

/// Unmounts everything mounted below `dir` (the containers' root filesystems), deepest first.
fn unmount_below(dir: &Path) {
    let dir = dir.to_string_lossy().into_owned();
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
}

/// Removes the cgroups runc made for containerd's namespace `namespace` (runc removes a
/// container's own cgroup, `<hierarchy>/<namespace>/<id>`, but not its parent). What could not
/// be removed, in words.
fn remove_cgroups(namespace: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten() {
        let Ok(hierarchy) = hierarchy else { continue };
        if hierarchy
            .file_type()
            .map(|t| t.is_symlink())
            .unwrap_or(true)
        {
            continue;
        }
        let group = hierarchy.path().join(namespace);
        if !group.is_dir() {
            continue;
        }
        for child in std::fs::read_dir(&group).into_iter().flatten().flatten() {
            if child.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                problems.push(format!("cgroup {}", child.path().display()));
                let _ = std::fs::remove_dir(child.path());
            }
        }
        if let Err(e) = std::fs::remove_dir(&group) {
            problems.push(format!("cgroup {}: {e}", group.display()));
        }
    }
    problems
}

/// A container's output, read from the FIFO given to `ctr run --log-uri file://`. Opened
/// read-write here, so it never blocks and never ends: the reads have deadlines.
struct Output {
    path: PathBuf,
    file: File,
    pending: Vec<u8>,
    seen: String,
}

impl Output {
    fn new(path: &Path) -> Output {
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("no NUL in a path");
        // SAFETY: mkfifo reads a NUL-terminated path we own.
        let r = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
        assert_eq!(
            r,
            0,
            "mkfifo {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        );
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .expect("open the output FIFO");
        Output {
            path: path.to_path_buf(),
            file,
            pending: Vec::new(),
            seen: String::new(),
        }
    }

    /// Reads lines until one equals `want`.
    fn wait_line(&mut self, want: &str) {
        let end = Instant::now() + DEADLINE;
        loop {
            while let Some(nl) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=nl).collect();
                let line = String::from_utf8_lossy(&line).into_owned();
                self.seen.push_str(&line);
                if line.trim_end() == want {
                    return;
                }
            }
            let left = end.saturating_duration_since(Instant::now());
            let mut pfd = libc::pollfd {
                fd: self.file.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd for the duration of the call.
            let n =
                unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(i32::MAX as u128) as i32) };
            assert!(
                n != 0,
                "no line '{want}' within {DEADLINE:?}; the container wrote:\n{}",
                self.seen
            );
            if n < 0 {
                let err = std::io::Error::last_os_error();
                assert_eq!(err.raw_os_error(), Some(libc::EINTR), "poll: {err}");
                continue;
            }
            let mut buf = [0u8; 4096];
            let got = self.file.read(&mut buf).expect("read the output FIFO");
            self.pending.extend_from_slice(&buf[..got]);
        }
    }
}

/// The runtimes to test with: runc where it is installed, then the sentry.
fn runtimes() -> Vec<PathBuf> {
    let mut list = Vec::new();
    let runc = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("runc"))
        .find(|p| p.is_file());
    match runc {
        Some(runc) => list.push(runc),
        None => eprintln!("runc is not installed: the comparison with runc is skipped"),
    }
    list.push(PathBuf::from(env!("CARGO_BIN_EXE_sentry")));
    list
}

fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Runs `test` with each runtime, each time with a new containerd, or says plainly why
/// containerd tests cannot run here.
fn with_containerd(test: impl Fn(&Containerd)) {
    if !installed("containerd") || !installed("ctr") {
        eprintln!(
            "containerd or ctr is not installed (rootfs-fixtures/setup.sh installs them as \
             root): skipped"
        );
        return;
    }
    if !test_support::is_root() {
        eprintln!("the containerd tests run as root (containerd's mounts and cgroups): skipped");
        return;
    }
    for runtime in runtimes() {
        let c = Containerd::new(&runtime);
        eprintln!("runtime: {}", c.name());
        test(&c);
        c.finish();
    }
}

/// The trap answers `ctr task kill`'s SIGTERM (an init without a handler ignores it); the
/// trailing command keeps the shell from exec-ing its last one.
const TRAP_LOOP: &str = "trap 'echo got-term; exit 3' TERM; echo ready; \
                         while true; do sleep 1; done; echo unreachable";

/// Kills a detached container's task with SIGTERM, waits for its exit (status 3, from
/// TRAP_LOOP's trap) and deletes the task and the container.
fn stop_and_delete(c: &Containerd, id: &str, output: &mut Output) {
    c.ctr_run(&["tasks", "kill", id]).expect_code(0);
    assert_eq!(c.wait_exit(id, id), 3, "exit status of {id}");
    output.wait_line("got-term");
    c.ctr_run(&["tasks", "delete", id]).expect_code(0);
    c.ctr_run(&["containers", "delete", id]).expect_code(0);
}

#[test]
fn run_rm_output_and_exit_codes() {
    with_containerd(|c| {
        let run = c.run_rm("echo1", &["echo", "hi"]);
        run.expect_code(0);
        assert_eq!(run.stdout, "hi\n", "{}", run.describe());
        c.run_rm("exit7", &["sh", "-c", "exit 7"]).expect_code(7);
        let run = c.run_rm("env1", &["sh", "-c", "echo $PATH; pwd"]);
        run.expect_code(0);
        assert_eq!(
            run.stdout,
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n/\n",
            "{}",
            run.describe()
        );
        assert_eq!(c.containers(), "", "--rm left a container");
        assert!(c.tasks().is_empty(), "--rm left a task");
    });
}

#[test]
fn run_rm_missing_command() {
    with_containerd(|c| {
        // The shim reads the runtime's error from its JSON log (`--log FILE --log-format
        // json`) and ctr prints it.
        let run = c.run_rm("missing1", &["/no/such/command"]);
        assert_ne!(run.code(), 0, "{}", run.describe());
        assert!(
            run.stderr.contains("no such file or directory"),
            "{}",
            run.describe()
        );
        assert_eq!(c.containers(), "", "--rm left a container");
    });
}

#[test]
fn detached_kill_then_delete() {
    with_containerd(|c| {
        let mut out = c.run_detached("d1", TRAP_LOOP);
        out.wait_line("ready");
        let tasks = c.tasks();
        assert!(
            matches!(&tasks[..], [(id, _, status)] if id == "d1" && status == "RUNNING"),
            "{tasks:?}"
        );
        c.ctr_run(&["tasks", "kill", "d1"]).expect_code(0);
        assert_eq!(c.wait_exit("d1", "d1"), 3);
        out.wait_line("got-term");
        let tasks = c.tasks();
        assert!(
            matches!(&tasks[..], [(id, _, status)] if id == "d1" && status == "STOPPED"),
            "{tasks:?}"
        );
        c.ctr_run(&["tasks", "delete", "d1"]).expect_code(0);
        assert!(c.tasks().is_empty(), "ctr task delete left the task");
        c.ctr_run(&["containers", "delete", "d1"]).expect_code(0);
        assert_eq!(c.containers(), "");
    });
}

#[test]
fn exec_in_detached_container() {
    with_containerd(|c| {
        let script = format!("echo init-was-here > /tmp/mark; {TRAP_LOOP}");
        let mut out = c.run_detached("x1", &script);
        out.wait_line("ready");
        let run = c.exec("x1", "e1", &["echo", "hi"]);
        run.expect_code(0);
        assert_eq!(run.stdout, "hi\n", "{}", run.describe());
        // Quick processes, one after the other: each status is its own.
        for code in 2..7 {
            let exec_id = format!("e{code}");
            let script = format!("exit {code}");
            c.exec("x1", &exec_id, &["sh", "-c", &script])
                .expect_code(code);
        }
        // The exec runs in the container: its files, and the first process is its PID 1.
        let run = c.exec(
            "x1",
            "e7",
            &["sh", "-c", "cat /tmp/mark; kill -0 1 && echo pid1"],
        );
        run.expect_code(0);
        assert_eq!(run.stdout, "init-was-here\npid1\n", "{}", run.describe());
        stop_and_delete(c, "x1", &mut out);
        assert_eq!(c.containers(), "");
    });
}

#[test]
fn pause_and_resume() {
    with_containerd(|c| {
        let mut out = c.run_detached("z1", TRAP_LOOP);
        out.wait_line("ready");
        c.ctr_run(&["tasks", "pause", "z1"]).expect_code(0);
        let tasks = c.tasks();
        assert!(
            matches!(&tasks[..], [(id, _, s)] if id == "z1" && s == "PAUSED"),
            "{tasks:?}"
        );
        c.ctr_run(&["tasks", "resume", "z1"]).expect_code(0);
        let tasks = c.tasks();
        assert!(
            matches!(&tasks[..], [(id, _, s)] if id == "z1" && s == "RUNNING"),
            "{tasks:?}"
        );
        // Running again: it answers SIGTERM.
        stop_and_delete(c, "z1", &mut out);
    });
}

#[test]
fn task_ps_lists_the_processes() {
    with_containerd(|c| {
        // Two processes: the shell (the container's first process) and its `sleep`.
        let script = "trap 'echo got-term; exit 3' TERM; sleep 1000 & echo ready; wait; \
                      echo unreachable";
        let mut out = c.run_detached("p1", script);
        out.wait_line("ready");
        let tasks = c.tasks();
        let [(_, init_pid, _)] = &tasks[..] else {
            panic!("one task expected: {tasks:?}")
        };
        let run = c.ctr_run(&["tasks", "ps", "p1"]);
        run.expect_code(0);
        let mut lines = run.stdout.lines();
        let header: Vec<&str> = lines
            .next()
            .map(|l| l.split_whitespace().collect())
            .unwrap_or_default();
        assert_eq!(header, ["PID", "INFO"], "{}", run.describe());
        let pids: Vec<&str> = lines.filter_map(|l| l.split_whitespace().next()).collect();
        // The shell and its sleep (and, with the sentry, its sandbox process, which is the
        // task's pid).
        assert!(pids.len() >= 2, "{}", run.describe());
        assert!(
            pids.contains(&init_pid.as_str()),
            "the first process ({init_pid}) is not listed\n{}",
            run.describe()
        );
        stop_and_delete(c, "p1", &mut out);
    });
}

#[test]
fn two_containers_at_once() {
    with_containerd(|c| {
        let mut a = c.run_detached("a1", TRAP_LOOP);
        let mut b = c.run_detached("b1", TRAP_LOOP);
        a.wait_line("ready");
        b.wait_line("ready");
        let mut tasks = c.tasks();
        tasks.sort();
        assert!(
            matches!(&tasks[..], [(x, _, s1), (y, _, s2)]
                if x == "a1" && y == "b1" && s1 == "RUNNING" && s2 == "RUNNING"),
            "{tasks:?}"
        );
        assert_ne!(tasks[0].1, tasks[1].1, "two containers, one pid: {tasks:?}");
        // A third one comes and goes meanwhile.
        let run = c.run_rm("c1", &["echo", "third"]);
        run.expect_code(0);
        assert_eq!(run.stdout, "third\n", "{}", run.describe());
        // Stopping one leaves the other running.
        stop_and_delete(c, "a1", &mut a);
        let tasks = c.tasks();
        assert!(
            matches!(&tasks[..], [(id, _, s)] if id == "b1" && s == "RUNNING"),
            "{tasks:?}"
        );
        stop_and_delete(c, "b1", &mut b);
        assert_eq!(c.containers(), "");
    });
}

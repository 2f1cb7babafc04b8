//! The OCI runtime commands driven directly, as an engine would: create/start/state/kill/
//! delete, exec, ps, pause/resume, hooks, bad input, and a SIGKILLed sandbox process. Each
//! test runs in both platforms (the `dev.sentry.platform` annotation), as the invoker and as
//! uid 65534, with its own `--root` and bundle in a scratch directory that is removed after.

use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use test_support::{run_to_end, variant_tests, Run, User, Variant};

const DEADLINE: Duration = Duration::from_secs(60);

/// One container's bundle and state root, deleted (with --force) when dropped.
struct Container {
    variant: Variant,
    dir: PathBuf,
    id: String,
}

impl Container {
    /// A bundle running `args` in the busybox rootfs (read-only), with `extra` fields
    /// merged into config.json.
    fn new(variant: Variant, args: &[&str], extra: serde_json::Value) -> Container {
        let dir = variant
            .scratch()
            .join(test_support::unique_marker("oci-runtime"));
        std::fs::create_dir_all(dir.join("root")).expect("create the test directory");
        let platform = &variant.platform_flag()["--platform=".len()..];
        let mut config = serde_json::json!({
            "ociVersion": "1.0.2",
            "process": {"args": args, "env": ["PATH=/bin:/usr/bin"], "cwd": "/"},
            "root": {"path": test_support::busybox_rootfs(), "readonly": true},
            "hostname": "oci-test",
            "annotations": {"dev.sentry.platform": platform},
        });
        if let (Some(config), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                config.insert(k.clone(), v.clone());
            }
        }
        std::fs::write(dir.join("config.json"), config.to_string()).expect("write config.json");
        if variant.user == User::Nobody {
            chown_tree(&dir, 65534);
        }
        let id = dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a UTF-8 name")
            .to_string();
        Container { variant, dir, id }
    }

    fn root(&self) -> PathBuf {
        self.dir.join("root")
    }

    /// `sentry --root ROOT ARGS…`, with stdout and stderr to files of its own (a sandbox
    /// process started by it may hold them long after it returns).
    fn command(&self, args: &[&str]) -> Command {
        let mut c = self.variant.sentry_command();
        c.arg("--root").arg(self.root()).args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        run_to_end(self.command(args), DEADLINE)
    }

    /// `create` with the container's stdout and stderr in `out`; the pid in the pid file.
    fn create(&self) -> i32 {
        let pid_file = self.dir.join("pid");
        let out = std::fs::File::create(self.dir.join("out")).expect("create out");
        if self.variant.user == User::Nobody {
            chown_tree(&self.dir.join("out"), 65534);
        }
        let mut c = self.command(&["create", "--bundle"]);
        c.arg(&self.dir)
            .arg("--pid-file")
            .arg(&pid_file)
            .arg(&self.id)
            .stdout(out.try_clone().expect("dup out"))
            .stderr(out);
        let status = c.status().expect("run sentry create");
        assert!(status.success(), "create failed: {}", self.output());
        std::fs::read_to_string(&pid_file)
            .expect("read the pid file")
            .trim()
            .parse()
            .expect("a pid")
    }

    fn output(&self) -> String {
        std::fs::read_to_string(self.dir.join("out")).unwrap_or_default()
    }

    /// `create`, then `start`, then waits until the output holds `text`; the pid.
    fn start_until(&self, text: &str) -> i32 {
        let pid = self.create();
        self.run(&["start", &self.id]).expect_code(0);
        self.wait_output(text);
        pid
    }

    /// Waits until the container's output holds `text`.
    fn wait_output(&self, text: &str) {
        let end = Instant::now() + DEADLINE;
        while !self.output().contains(text) {
            assert!(
                Instant::now() < end,
                "no '{text}' in the output: {}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn state(&self) -> serde_json::Value {
        let run = self.run(&["state", &self.id]);
        run.expect_code(0);
        serde_json::from_str(&run.stdout).expect("state prints JSON")
    }

    fn status(&self) -> String {
        self.state()["status"]
            .as_str()
            .expect("a status")
            .to_string()
    }

    fn pids(&self) -> Vec<i32> {
        let run = self.run(&["ps", "--format", "json", &self.id]);
        run.expect_code(0);
        serde_json::from_str(&run.stdout).expect("ps prints a JSON list")
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = self.run(&["delete", "--force", &self.id]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn chown_tree(path: &Path, uid: u32) {
    let status = Command::new("chown")
        .arg("-R")
        .arg(format!("{uid}:{uid}"))
        .arg(path)
        .status()
        .expect("run chown");
    assert!(status.success());
}

/// Waits for a process that is not our child to end.
fn wait_gone(pid: i32) {
    if let Some(fd) = test_support::pidfd_open(pid) {
        assert!(
            test_support::pidfd_wait_exit(&fd, DEADLINE),
            "process {pid} did not end"
        );
    }
}

/// The state letter of /proc/PID/status ('t' for a tracing stop), if the process exists.
fn proc_state(pid: i32) -> Option<char> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("State:"))
        .and_then(|s| s.trim().chars().next())
}

fn one_line_error(run: &Run, words: &str) {
    run.expect_code(1);
    let lines = run.stderr_lines();
    assert_eq!(lines.len(), 1, "{}", run.describe());
    assert!(lines[0].contains(words), "{}", run.describe());
}

fn lifecycle(v: Variant) {
    let c = Container::new(
        v,
        &["sh", "-c", "echo started $$ $(hostname); exit 7"],
        serde_json::json!({}),
    );
    let pid = c.create();
    let state = c.state();
    assert_eq!(state["status"], "created", "{state}");
    assert_eq!(state["pid"], pid, "{state}");
    assert_eq!(state["id"], c.id.as_str());
    assert!(
        proc_state(pid).is_some(),
        "the pid-file process is not alive"
    );
    // Created: the program has not run.
    assert_eq!(c.output(), "");
    c.run(&["start", &c.id]).expect_code(0);
    wait_gone(pid);
    assert_eq!(c.output(), "started 1 oci-test\n");
    assert_eq!(c.status(), "stopped");
    one_line_error(&c.run(&["start", &c.id]), "stopped");
    c.run(&["delete", &c.id]).expect_code(0);
    one_line_error(&c.run(&["state", &c.id]), "does not exist");
    let left: Vec<_> = std::fs::read_dir(c.root())
        .expect("read the root")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "delete left {left:?}");
}

fn exec_ps_and_kill(v: Variant) {
    let c = Container::new(
        v,
        &[
            "sh",
            "-c",
            "trap 'echo got-term; exit 3' TERM; echo ready; while true; do sleep 1; done; echo x",
        ],
        serde_json::json!({}),
    );
    let pid = c.start_until("ready");
    assert_eq!(c.status(), "running");
    // In the foreground: its output, its status, the container's PID namespace.
    let run = c.run(&[
        "exec",
        &c.id,
        "sh",
        "-c",
        "echo in $(hostname) ppid $PPID; exit 5",
    ]);
    run.expect_code(5);
    assert_eq!(run.stdout, "in oci-test ppid 0\n", "{}", run.describe());
    let run = c.run(&["exec", &c.id, "/no/such/program"]);
    one_line_error(&run, "no/such/program");
    // Every pid ps lists is a live process.
    let pids = c.pids();
    assert!(!pids.is_empty());
    for p in &pids {
        assert!(proc_state(*p).is_some(), "ps listed {p}, which is gone");
    }
    // SIGTERM reaches the first process.
    c.run(&["kill", &c.id, "TERM"]).expect_code(0);
    wait_gone(pid);
    assert!(c.output().contains("got-term"), "{}", c.output());
    one_line_error(&c.run(&["exec", &c.id, "true"]), "stopped");
}

fn pause_and_resume(v: Variant) {
    let c = Container::new(
        v,
        &["sh", "-c", "while true; do echo tick; done"],
        serde_json::json!({}),
    );
    let sandbox = c.start_until("tick");
    c.run(&["pause", &c.id]).expect_code(0);
    assert_eq!(c.status(), "paused");
    // pause returns once every task is stopped: nothing is written from then on. (ps lists
    // the sandbox process first, which stays awake to serve.)
    let size = c.output().len();
    let pids = c.pids();
    assert_eq!(pids.first(), Some(&sandbox), "ps: {pids:?}");
    for &p in &pids[1..] {
        assert_eq!(proc_state(p), Some('t'), "task {p} runs while paused");
    }
    assert_eq!(c.output().len(), size, "output grew while paused");
    one_line_error(&c.run(&["pause", &c.id]), "paused");
    c.run(&["resume", &c.id]).expect_code(0);
    assert_eq!(c.status(), "running");
    let end = Instant::now() + DEADLINE;
    while c.output().len() == size {
        assert!(Instant::now() < end, "no output after resume");
        std::thread::sleep(Duration::from_millis(20));
    }
    c.run(&["kill", &c.id, "KILL"]).expect_code(0);
}

/// A vfork parent waits in the kernel until its child execs or exits, and cannot report a
/// stop meanwhile: pause does not wait for it (it cannot run before its child, stopped, does).
fn pause_with_a_vfork_parent_waiting(v: Variant) {
    let program = PathBuf::from(v.program("vfork_hold"));
    let programs = program.parent().expect("the programs' directory");
    let c = Container::new(
        v,
        &["/programs/vfork_hold"],
        serde_json::json!({"mounts": [{
            "destination": "/programs",
            "type": "bind",
            "source": programs,
            "options": ["rbind", "ro"],
        }]}),
    );
    c.start_until("child ready");
    let paused = c.run(&["pause", &c.id]);
    paused.expect_code(0);
    assert_eq!(c.status(), "paused");
    c.run(&["resume", &c.id]).expect_code(0);
    assert_eq!(c.status(), "running");
    c.run(&["kill", &c.id, "KILL"]).expect_code(0);
}

fn hooks_see_the_state(v: Variant) {
    let hook = |out: &Path| serde_json::json!([{"path": "/bin/sh", "args": ["sh", "-c", "cat > \"$0\"", out]}]);
    let c = Container::new(v, &["true"], serde_json::json!({}));
    let created = c.dir.join("created.json");
    let stopped = c.dir.join("stopped.json");
    let config = std::fs::read_to_string(c.dir.join("config.json")).unwrap();
    let mut config: serde_json::Value = serde_json::from_str(&config).unwrap();
    config["hooks"] = serde_json::json!({
        "createRuntime": hook(&created),
        "poststop": hook(&stopped),
    });
    std::fs::write(c.dir.join("config.json"), config.to_string()).unwrap();
    let pid = c.create();
    let seen: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&created).expect("createRuntime ran"))
            .expect("the state as JSON");
    assert_eq!(seen["id"], c.id.as_str());
    assert_eq!(seen["status"], "created");
    assert_eq!(seen["pid"], pid);
    c.run(&["start", &c.id]).expect_code(0);
    wait_gone(pid);
    c.run(&["delete", &c.id]).expect_code(0);
    let seen: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stopped).expect("poststop ran"))
            .expect("the state as JSON");
    assert_eq!(seen["status"], "stopped");
}

fn bad_input_is_one_line(v: Variant) {
    let c = Container::new(v, &["sleep", "1000"], serde_json::json!({}));
    for command in [
        vec!["state", "nope"],
        vec!["start", "nope"],
        vec!["kill", "nope", "KILL"],
        vec!["delete", "nope"],
        vec!["exec", "nope", "true"],
        vec!["pause", "nope"],
    ] {
        one_line_error(&c.run(&command), "does not exist");
    }
    one_line_error(&c.run(&["state", "../escape"]), "invalid container id");
    // A bundle without config.json, then with a malformed one: nothing is left behind.
    let empty = c.dir.join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o777)).unwrap();
    let run = c.run(&["create", "--bundle", empty.to_str().unwrap(), "x1"]);
    one_line_error(&run, "config.json");
    std::fs::write(empty.join("config.json"), "{not json").unwrap();
    let run = c.run(&["create", "--bundle", empty.to_str().unwrap(), "x1"]);
    one_line_error(&run, "malformed");
    assert!(
        !c.root().join("x1").exists(),
        "a failed create left its state"
    );
    // A second create with the id in use; start twice.
    let pid = c.create();
    let mut again = c.command(&["create", "--bundle"]);
    again.arg(&c.dir).arg(&c.id);
    one_line_error(&run_to_end(again, DEADLINE), "already exists");
    c.run(&["start", &c.id]).expect_code(0);
    one_line_error(&c.run(&["start", &c.id]), "running");
    one_line_error(&c.run(&["delete", &c.id]), "running");
    c.run(&["delete", "--force", &c.id]).expect_code(0);
    wait_gone(pid);
}

fn nothing_left_after_sigkill(v: Variant) {
    let script = "sleep 1000 & echo ready; wait; echo x";
    let c = Container::new(v, &["sh", "-c", script], serde_json::json!({}));
    let pid = c.start_until("ready");
    // The sandbox's processes, pinned before the kill.
    let tasks: Vec<_> = c
        .pids()
        .into_iter()
        .skip(1)
        .filter_map(test_support::pidfd_open)
        .collect();
    assert!(tasks.len() >= 2, "ps: {:?}", c.pids());
    let fd = test_support::pidfd_open(pid).expect("the sandbox process");
    // SAFETY: pidfd_send_signal on a pidfd we own.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            libc::SIGKILL,
            0,
            0,
        )
    };
    wait_gone(pid);
    for task in &tasks {
        assert!(
            test_support::pidfd_wait_exit(task, DEADLINE),
            "a task of the sandbox outlived its sentry"
        );
    }
    assert_eq!(c.status(), "stopped");
    c.run(&["delete", &c.id]).expect_code(0);
    assert!(
        !c.root().join(&c.id).exists(),
        "delete left the state directory"
    );
}

#[test]
fn features_and_list() {
    let v = test_support::invoker_variants!()[0];
    let c = Container::new(v, &["true"], serde_json::json!({}));
    let run = c.run(&["features"]);
    run.expect_code(0);
    let features: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert!(features["ociVersionMax"].is_string(), "{features}");
    let run = c.run(&["list"]);
    run.expect_code(0);
}

variant_tests!(
    lifecycle,
    exec_ps_and_kill,
    pause_and_resume,
    pause_with_a_vfork_parent_waiting,
    hooks_see_the_state,
    bad_input_is_one_line,
    nothing_left_after_sigkill,
    cpu_quota_throttles,
    idle_after_an_exec_ended,
);

/// The CPU time (ns) every thread of `pids` has used.
/// CPU time (ns, from schedstat) of each thread of the processes `pids`, by thread id.
fn cpu_by_thread(pids: &[i32]) -> std::collections::HashMap<String, u64> {
    let mut threads = std::collections::HashMap::new();
    for pid in pids {
        for thread in std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let ns = std::fs::read_to_string(thread.path().join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0);
            threads.insert(
                format!("{pid}/{}", thread.file_name().to_string_lossy()),
                ns,
            );
        }
    }
    threads
}

/// CPU time (ns) the threads of `pids` used since `before` was taken: a thread that ended
/// meanwhile takes its time with it, so each thread is counted against its own earlier
/// figure (a new one from zero), never the sums against each other.
fn cpu_since(before: &std::collections::HashMap<String, u64>, pids: &[i32]) -> u64 {
    cpu_by_thread(pids)
        .into_iter()
        .map(|(thread, ns)| ns.saturating_sub(before.get(&thread).copied().unwrap_or(0)))
        .sum()
}

fn cpu_quota_throttles(v: Variant) {
    // A fifth of a CPU.
    let c = Container::new(
        v,
        &["sh", "-c", "echo spinning; while true; do :; done"],
        serde_json::json!({"linux": {"resources": {"cpu": {"quota": 20000, "period": 100000}}}}),
    );
    c.start_until("spinning");
    let pids: Vec<i32> = c.pids().into_iter().skip(1).collect();
    let (cpu0, wall0) = (cpu_by_thread(&pids), Instant::now());
    // A window of a few periods to measure in (not a wait for anything to happen).
    std::thread::sleep(Duration::from_millis(1500));
    let used = cpu_since(&cpu0, &pids) as f64 / 1e9;
    let share = used / wall0.elapsed().as_secs_f64();
    eprintln!("{v}: {share:.2} of a CPU under a 0.2 quota");
    // Unthrottled, the loop takes a whole CPU (or what contention leaves it); throttled,
    // its quota and at most a sampling tick more each period.
    assert!(
        share < 0.45,
        "the sandbox used {share:.2} of a CPU under a 0.2 quota"
    );
    assert!(
        share > 0.02,
        "the sandbox made no progress ({share:.3} of a CPU)"
    );
    c.run(&["kill", &c.id, "KILL"]).expect_code(0);
}

/// Once an exec'd process has ended, a sandbox whose processes all sleep costs no CPU: the
/// sentry stops watching the ended process's seccomp listener (which reports POLLHUP for
/// ever once no task uses its filter) instead of spinning on it.
fn idle_after_an_exec_ended(v: Variant) {
    let c = Container::new(
        v,
        &["sh", "-c", "echo ready; exec sleep 100000"],
        serde_json::json!({}),
    );
    let pid = c.start_until("ready");
    c.run(&["exec", &c.id, "true"]).expect_code(0);
    let (cpu0, wall0) = (cpu_by_thread(&[pid]), Instant::now());
    // A window to measure in (not a wait for anything to happen).
    std::thread::sleep(Duration::from_millis(500));
    let share = cpu_since(&cpu0, &[pid]) as f64 / 1e9 / wall0.elapsed().as_secs_f64();
    // Spinning, the sentry takes a whole CPU or what contention leaves it; idle, nothing.
    assert!(
        share < 0.1,
        "the sentry used {share:.2} of a CPU while the sandbox slept"
    );
    c.run(&["kill", &c.id, "KILL"]).expect_code(0);
}

//! The notification path: calls the sentry answers whole arrive as seccomp user
//! notifications (`--notify auto`, where the kernel has the synchronous wake-up), or as
//! ptrace stops (`--notify off`, and an older kernel's). Both give the same results;
//! the counts the sentry logs at `--log debug` show which path the calls took. A race flips
//! what notified and stopped calls name (a path, an open_how, a sockaddr, an iovec) while
//! they wait for the sentry: the sentry acts on the one copy it read, and nothing reaches
//! the host file or socket outside the sandbox (checked on the host). Both platforms, as the
//! invoking user and as uid 65534.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use test_support::{variant_tests, Variant};

const ROUNDS: &str = "3000";

/// (notified, stopped) from the sentry's `--log debug` count.
fn counts(stderr: &str) -> (u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.contains("calls came as notifications"))
        .unwrap_or_else(|| panic!("no count in the sentry's log:\n{stderr}"));
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

fn notification_and_stops_give_the_same_results(v: Variant) {
    let scratch = test_support::Scratch::new("notify-paths");
    let rootfs = scratch.copy_rootfs(&test_support::busybox_rootfs());
    let script = "echo $$; id; uname -n; mkdir -p /d/e; echo text > /d/e/f; ln -s e/f /d/l; \
                  cat /d/l; readlink /d/l; ls -l /d/e | wc -l; test -r /d/e/f && echo readable; \
                  stat -c %s /d/e/f; (exit 3); echo $?";
    let run = |notify: &str| {
        let mut cmd = v.sentry_command();
        cmd.arg("run")
            .arg(v.platform_flag())
            .arg(format!("--notify={notify}"))
            .arg("--log=debug")
            .arg("--hostname=same")
            .arg("--tmpfs=/d")
            .arg(&rootfs)
            .args(["/bin/sh", "-c", script]);
        let run = test_support::run_to_end(cmd, test_support::RUN_DEADLINE);
        run.expect_code(0);
        run
    };
    let notified = run("auto");
    let stopped = run("off");
    assert_eq!(
        notified.stdout,
        stopped.stdout,
        "notified:\n{}\nstopped:\n{}",
        notified.describe(),
        stopped.describe()
    );
    assert!(
        notified.stdout.contains("text\ne/f\n"),
        "{}",
        notified.describe()
    );
    let (n, _) = counts(&notified.stderr);
    assert!(n > 0, "no call came as a notification");
    let (n, s) = counts(&stopped.stderr);
    assert!(
        n == 0 && s > 0,
        "--notify off: {n} notifications, {s} stops"
    );
}

fn notified_calls_act_on_one_copy(v: Variant) {
    let (scratch, rootfs) =
        test_support::Scratch::escape_root("notify-race", "escape_notified_race", "race");
    std::fs::write(rootfs.join("inside"), "inside\n").expect("write /inside");
    let outside = scratch.dir.join("outside");
    std::fs::create_dir_all(&outside).expect("mkdir outside");
    std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    // Readable by the sandbox's host uid, so that only the sentry stands in the way.
    let canary = outside.join("canary");
    let text = format!("{:<63}\n", "HOST-CANARY");
    std::fs::write(&canary, &text).expect("write the canary");
    std::fs::set_permissions(&canary, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let sock_path = outside.join("stream.sock");
    let listener = UnixListener::bind(&sock_path).expect("bind the canary listener");
    listener.set_nonblocking(true).expect("non-blocking");
    std::fs::set_permissions(&sock_path, std::fs::Permissions::from_mode(0o777)).expect("chmod");

    let mut cmd = v.sentry_command();
    cmd.arg("run")
        .arg(v.platform_flag())
        .arg("--notify=auto")
        .arg(&rootfs)
        .arg("/race")
        .arg(&canary)
        .arg(&sock_path)
        .arg(ROUNDS);
    let run = test_support::run_to_end(cmd, test_support::RUN_DEADLINE);
    assert!(
        listener.accept().is_err(),
        "a connection reached the host listener\n{}",
        run.describe()
    );
    run.expect_race_finished(ROUNDS);
    // The race is real only if some calls named the sandbox's file.
    assert!(
        !run.stdout.contains(" opened 0"),
        "no open named the sandbox's file\n{}",
        run.describe()
    );
}

/// A shell's loop of forks, execs and waits stops often, so the sentry holds it (and the
/// children it makes) to its own CPU for a while: what the sandbox sees of affinities is
/// still each task's own, the CPUs the sentry was given.
fn held_tasks_show_their_own_affinity(v: Variant) {
    let scratch = test_support::Scratch::new("held-affinity");
    let rootfs = scratch.copy_rootfs(&test_support::busybox_rootfs());
    let script = "i=0; while [ $i -lt 30 ]; do /bin/true; i=$((i+1)); done; nproc; \
                  grep Cpus_allowed /proc/self/status; grep Cpus_allowed /proc/$$/status; \
                  taskset -p $$";
    let mut cmd = v.sentry_command();
    cmd.arg("run")
        .arg(v.platform_flag())
        .arg(&rootfs)
        .args(["/bin/sh", "-c", script]);
    let run = test_support::run_to_end(cmd, test_support::RUN_DEADLINE);
    run.expect_code(0);
    let own = std::fs::read_to_string("/proc/self/status").expect("own status");
    let allowed: Vec<&str> = own
        .lines()
        .filter(|l| l.starts_with("Cpus_allowed"))
        .collect();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut lines = run.stdout.lines();
    assert_eq!(
        lines.next(),
        Some(cpus.to_string().as_str()),
        "{}",
        run.describe()
    );
    for expected in allowed.iter().chain(allowed.iter()) {
        assert_eq!(lines.next(), Some(*expected), "{}", run.describe());
    }
    let mask = allowed[0].split_whitespace().last().expect("a mask");
    let taskset = lines.next().unwrap_or_default();
    assert!(
        taskset.ends_with(mask.trim_start_matches('0')),
        "{}",
        run.describe()
    );
}

variant_tests!(
    notification_and_stops_give_the_same_results,
    notified_calls_act_on_one_copy,
    held_tasks_show_their_own_affinity
);

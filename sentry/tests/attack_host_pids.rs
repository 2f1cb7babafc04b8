//! No host pid reaches or leaves the sandbox. A canary process runs on the host as the same
//! uid as the sandbox's tasks (65534); `attack_pids` gets its host pid and tries to make it
//! the owner of an fd that signals SIGTERM on I/O (F_SETOWN, F_SETOWN_EX, FIOSETOWN,
//! SIOCSPGRP, and a thread flipping the id between the sentry's read and the kernel's), and
//! to take pidfds of peers. The verdict is the canary's, read on the host: alive, not
//! stopped. Before the fix the canary died in every variant. And the siginfo of a waitid or
//! a sigtimedwait never shows a host pid or uid, not even to a thread that reads it while
//! the call runs.

use std::process::{Command, Stdio};
use test_support::{variant_tests, Variant};

fn canary_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

fn a_host_process_is_out_of_reach(v: Variant) {
    if !test_support::is_root() {
        println!("skipped: the canary must run as uid 65534, which needs root");
        return;
    }
    let mut canary = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "sleep",
            "1000",
        ])
        .stdin(Stdio::null())
        .spawn()
        .expect("start the canary");
    let pid = canary.id();
    let run = v.run(&[], &[v.program("attack_pids"), pid.to_string()]);
    let state = canary_state(pid);
    let _ = canary.kill();
    let _ = canary.wait();
    assert!(
        matches!(state, Some('S') | Some('R')),
        "the host canary was reached: state {state:?}\n{}",
        run.describe()
    );
    run.expect_program_ok("pids done");
}

variant_tests!(a_host_process_is_out_of_reach);

/// Runs the escape program `program` (with `args`) alone in a root of its own; it must end
/// well and say `done`.
fn runs_clean(v: Variant, program: &str, args: &[&str], done: &str) {
    let name = program.trim_start_matches("escape_");
    let (_scratch, rootfs) = test_support::Scratch::escape_root(name, program, name);
    let mut cmd = v.sentry_command();
    cmd.arg("run")
        .arg(v.platform_flag())
        .arg(&rootfs)
        .arg(format!("/{name}"))
        .args(args);
    let run = test_support::run_to_end(cmd, test_support::RUN_DEADLINE);
    run.expect_code(0);
    assert!(
        run.stdout.contains(done),
        "{program} did not finish\n{}",
        run.describe()
    );
}

/// A waited-for child's siginfo (a reaping waitid's, or one with WNOWAIT) never shows its
/// host pid or uid, not even to another thread of the waiter that reads the buffer while
/// waitid runs (`escape_wait_race`): before, the kernel wrote the host ids and the exit stop
/// translated them after.
fn waitid_shows_no_host_id(v: Variant) {
    runs_clean(v, "escape_wait_race", &["300"], "waits 300");
}

variant_tests!(waitid_shows_no_host_id);

/// A siginfo that sigtimedwait fills never shows a host pid or uid, not even to another
/// thread that reads the buffer while the call runs (`escape_wait_race` in its sigtimedwait
/// mode): before, the kernel wrote the host ids and the exit stop translated them after.
fn sigtimedwait_shows_no_host_id(v: Variant) {
    runs_clean(v, "escape_wait_race", &["300", "sigtimedwait"], "waits 300");
}

variant_tests!(sigtimedwait_shows_no_host_id);

/// Nor does the siginfo of a waitid by a pidfd that does not block (`escape_wait_race` in
/// its pidfd mode): before, such a wait was left to the kernel, which wrote the host ids.
fn nonblocking_pidfd_wait_shows_no_host_id(v: Variant) {
    runs_clean(v, "escape_wait_race", &["300", "pidfd"], "waits 300");
}

variant_tests!(nonblocking_pidfd_wait_shows_no_host_id);

/// Nor does the siginfo of a waitid for a child's stop or continue without WEXITED
/// (`escape_wait_race` in its stopped mode): before, such a wait was left to the kernel,
/// which wrote the host ids for the exit stop to translate after.
fn stop_and_continue_waits_show_no_host_id(v: Variant) {
    runs_clean(v, "escape_wait_race", &["300", "stopped"], "waits 300");
}

variant_tests!(stop_and_continue_waits_show_no_host_id);

/// Nor does the record of a SysV object's IPC_STAT (`escape_record_race` in its ipc mode):
/// before, the kernel wrote the host's ids and pids there for the exit stop to translate
/// after.
fn ipc_stat_shows_no_host_id(v: Variant) {
    runs_clean(v, "escape_record_race", &["2000", "ipc"], "records 2000");
}

variant_tests!(ipc_stat_shows_no_host_id);

/// Nor does the struct ucred of getsockopt(SO_PEERCRED), nor the owner of F_GETOWN_EX and
/// FIOGETOWN (`escape_record_race` in its peer mode): before, the kernel wrote the host pid
/// and ids there for the exit stop to translate after.
fn peer_credentials_show_no_host_id(v: Variant) {
    runs_clean(v, "escape_record_race", &["3000", "peer"], "records 3000");
}

variant_tests!(peer_credentials_show_no_host_id);

/// Nor do the foreground group and session TIOCGPGRP and TIOCGSID report, of a controlling
/// terminal or of its master (`escape_record_race` in its tty mode): before, the kernel
/// wrote the host's ids there for the exit stop to translate after.
fn terminal_ids_show_no_host_id(v: Variant) {
    runs_clean(v, "escape_record_race", &["3000", "tty"], "records 3000");
}

variant_tests!(terminal_ids_show_no_host_id);

/// Nor does the holder F_GETLK and F_OFD_GETLK name for a lock a child holds
/// (`escape_record_race` in its lock mode): before, the kernel wrote the holder's host pid
/// into the struct flock for the exit stop to translate after.
fn lock_holder_shows_no_host_id(v: Variant) {
    runs_clean(v, "escape_record_race", &["3000", "lock"], "records 3000");
}

variant_tests!(lock_holder_shows_no_host_id);

/// A child reaped where the sentry does not see it (by the kernel, for a parent that
/// ignores SIGCHLD; by a waitid with no siginfo) leaves its number naming nothing, even once
/// its host pid belongs to a process outside the sandbox (`escape_zombie_reuse`): before, the
/// sentry kept the number for the host pid, and kill, getpgid and pidfd_open reached the
/// host process that took it. Needs root, to give the pid to a process of the test's own
/// (/proc/sys/kernel/ns_last_pid).
fn reaped_child_number_names_no_host_process(v: Variant) {
    if !test_support::is_root() {
        eprintln!("skipped: placing a host pid needs root");
        return;
    }
    for how in ["ignore", "nullinfo"] {
        number_of_reaped_child_stays_unknown(v, how);
    }
}

variant_tests!(reaped_child_number_names_no_host_process);

fn number_of_reaped_child_stays_unknown(v: Variant, how: &str) {
    use std::io::Write;
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // A comm is 15 bytes at most.
    let name = format!("zr{}-{run}", std::process::id() % 1_000_000);
    let (_scratch, rootfs) =
        test_support::Scratch::escape_root("zombie_reuse", "escape_zombie_reuse", "zombie_reuse");
    let mut cmd = v.sentry_command();
    cmd.arg("run")
        .arg(v.platform_flag())
        .arg(&rootfs)
        .args(["/zombie_reuse", how, &name])
        .stdin(std::process::Stdio::piped());
    let mut live = test_support::Live::spawn(cmd);
    let mut stdin = live.take_stdin();
    live.wait_line("named");
    let named: Vec<i32> = std::fs::read_dir("/proc")
        .expect("read /proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim_end() == name)
        })
        .collect();
    let [host_pid] = named[..] else {
        panic!("expected one process named {name}, found {named:?}");
    };
    writeln!(stdin, "reap").expect("write to the sandbox");
    live.wait_line("reaped");
    let _taker = take_host_pid(host_pid);
    writeln!(stdin, "check").expect("write to the sandbox");
    let run = live.finish();
    run.expect_code(0);
    assert!(run.stdout.contains("clean"), "{how}:\n{}", run.describe());
}

/// A process of the test's own (`sleep`) that has host pid `pid`, made by setting the pid
/// namespace's last pid just before each try (another process may take it in between; the
/// variants running at once take turns). None when another process has the pid already:
/// it serves as well, since the number must name no process at all.
fn take_host_pid(pid: i32) -> Option<test_support::KillOnDrop> {
    static TURNS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = TURNS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for _ in 0..1000 {
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            return None;
        }
        std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string())
            .expect("write /proc/sys/kernel/ns_last_pid");
        let child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .expect("spawn sleep");
        let got = child.id() as i32;
        let taker = test_support::KillOnDrop::new(child);
        if got == pid {
            return Some(taker);
        }
    }
    panic!("host pid {pid} stayed free, and no process of the test's got it");
}

/// A signalfd's records never show a host pid or uid, however the fd is read or carried
/// (`escape_signalfd`): before, every read gave the sender's host ids.
fn signalfd_shows_no_host_id(v: Variant) {
    runs_clean(v, "escape_signalfd", &[], "signalfd ok");
}

variant_tests!(signalfd_shows_no_host_id);

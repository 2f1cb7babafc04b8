//! Start-up and end of `sentry run`: the read-only trees the sentry writes before the sandbox
//! starts (its /sys, /dev and the directory behind /proc) go to a private directory in the
//! host's memory-backed /dev/shm when that is a tmpfs; the scratch directories are the sentry's own (mode 0700); and after a normal
//! exit the janitor removes both, the sentry itself no longer waiting for the unlinks. Each
//! test runs on both platforms, as the invoking user and as uid 65534.
//!
//! Synchronisation is by the sandbox's own output and a FIFO the test writes to; the removal
//! by the janitor, which happens after the sentry has exited, is awaited with a deadline.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use test_support::{variant_tests, Live, User, Variant};

variant_tests!(
    scratch_in_memory_and_gone_after_exit,
    dev_and_sys_are_complete_before_the_program_is_found,
    sys_is_written_only_once_the_sandbox_looks_there,
);

/// How long the janitor may take to remove the directories once the sentry exited: generous,
/// it bounds an event, it is not a delay.
const GONE_DEADLINE: Duration = Duration::from_secs(30);

/// The entries `sentry-<pid>-*` of `parent`.
fn scratch_dirs(parent: &Path, pid: i32) -> Vec<PathBuf> {
    let prefix = format!("sentry-{pid}-");
    std::fs::read_dir(parent)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

/// The children of `parent` whose name (comm) is `name`.
fn children_named(parent: i32, name: &str) -> Vec<i32> {
    let stats = std::fs::read_dir("/proc").expect("list /proc");
    stats
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            // A process that ended meanwhile has no stat: not a child.
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                return false;
            };
            let ppid = stat[close + 1..].split_whitespace().nth(1);
            &stat[open + 1..close] == name && ppid == Some(&parent.to_string())
        })
        .collect()
}

fn shm_is_tmpfs() -> bool {
    nix::sys::statfs::statfs("/dev/shm")
        .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC)
}

/// A new FIFO `name` in the variant's scratch directory, which its sandbox opens too.
fn fifo(v: Variant, name: &str) -> PathBuf {
    let fifo = v.scratch_path(name);
    let _ = std::fs::remove_file(&fifo);
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).expect("no NUL");
    // SAFETY: mkfifo reads a NUL-terminated path we own.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    // The unprivileged variant's sandbox opens it too.
    std::fs::set_permissions(&fifo, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    fifo
}

fn scratch_in_memory_and_gone_after_exit(v: Variant) {
    let fifo = fifo(v, "startup-go");

    // Read-only directories left in the scratch directory must go too, also for an
    // unprivileged sentry: a /proc directory the sentry lays out (twice: the second time
    // replaces the first), and one the sandbox makes in its /dev/shm.
    let script = format!(
        "cat /sys/kernel/mm/transparent_hugepage/enabled >/dev/null \
         && ls /proc/self/fd >/dev/null && ls /proc/self/fd >/dev/null \
         && mkdir /dev/shm/ro && touch /dev/shm/ro/f && chmod 555 /dev/shm/ro \
         && echo ready && read x < {}",
        fifo.display()
    );
    let mut live = Live::spawn(v.run_command(&[], &["/bin/sh", "-c", &script]));
    live.wait_line("ready");
    let pid = live.pid();
    // The janitor is reparented away before the sentry becomes a subreaper: a child of the
    // sentry's, it would be waited for by the sentry while it waits for the sentry's end.
    assert_eq!(children_named(pid, "sentry-janitor"), Vec::<i32>::new());

    let on_disk = scratch_dirs(&std::env::temp_dir(), pid);
    assert_eq!(on_disk.len(), 1, "the scratch directory: {on_disk:?}");
    let in_memory = scratch_dirs(Path::new("/dev/shm"), pid);
    if shm_is_tmpfs() {
        assert_eq!(in_memory.len(), 1, "the in-memory directory: {in_memory:?}");
        assert!(in_memory[0].join("sys/kernel/mm").is_dir());
        assert!(in_memory[0].join("dev/pts").is_dir());
        assert!(in_memory[0].join("dev/null").is_file());
        assert!(in_memory[0].join("proc").is_dir());
        // The read-only trees are there, not on the disk.
        for name in ["sys", "dev", "proc"] {
            assert!(!on_disk[0].join(name).exists(), "{name} on the disk");
        }
        // What the sandbox writes stays on the disk, under its memory limit.
        assert!(on_disk[0].join("shm").is_dir());
    } else {
        assert!(in_memory.is_empty(), "{in_memory:?}");
        assert!(on_disk[0].join("sys/kernel/mm").is_dir());
        assert!(on_disk[0].join("dev/pts").is_dir());
    }
    for dir in on_disk.iter().chain(&in_memory) {
        let meta = std::fs::symlink_metadata(dir).expect("stat");
        assert!(meta.is_dir(), "{}", dir.display());
        assert_eq!(meta.mode() & 0o7777, 0o700, "{}", dir.display());
        let sentry_uid = match v.user {
            User::Nobody => 65534,
            // SAFETY: geteuid has no preconditions.
            User::Invoker => unsafe { libc::geteuid() },
        };
        assert_eq!(meta.uid(), sentry_uid, "{}", dir.display());
    }

    // Let the sandbox end normally.
    std::fs::write(&fifo, "go\n").expect("write the FIFO");
    live.finish().expect_code(0);
    let end = Instant::now() + GONE_DEADLINE;
    for dir in on_disk.iter().chain(&in_memory) {
        while dir.exists() {
            assert!(
                Instant::now() < end,
                "{} stayed after the sentry exited",
                dir.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    std::fs::remove_file(&fifo).expect("remove the FIFO");
}

/// /dev is filled before the program is looked up: a program named in /dev is found (and
/// refused: not executable), never missing. /sys is filled by the janitor when the sandbox
/// first looks there, and that look waits for it: it sees every entry.
fn dev_and_sys_are_complete_before_the_program_is_found(v: Variant) {
    // Ten times: a look made before the fill is over would find no /dev/null (127), or no
    // /sys file.
    for _ in 0..10 {
        v.run(&[], &["/dev/null"]).expect_code(126);
        let run = v.run(&[], &["/bin/cat", "/sys/class/net/lo/mtu"]);
        run.expect_code(0);
        assert_eq!(run.stdout, "65536\n");
    }
    let script = "ls /dev | wc -l; cat /sys/devices/system/cpu/online /sys/class/net/lo/mtu";
    let run = v.run(&[], &["/bin/sh", "-c", script]);
    run.expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{:?}", run.stdout);
    assert_eq!(lines[0].trim(), "13", "the entries of /dev");
    assert!(!lines[1].is_empty(), "online CPUs");
    assert_eq!(lines[2], "65536", "lo's MTU");
}

/// The sandbox's /sys, a hundred files copied from the host's, is written only for a
/// sandbox that looks there: an empty directory until then, complete at the first look.
fn sys_is_written_only_once_the_sandbox_looks_there(v: Variant) {
    let fifo = fifo(v, "startup-sys");
    // libselinux's look for /sys/fs/selinux (a name the fill never makes) writes nothing:
    // missing either way.
    let script = format!(
        "stat -f /sys/fs/selinux || echo unlooked && read x < {0} \
         && cat /sys/class/net/lo/mtu && read x < {0}",
        fifo.display()
    );
    let mut live = Live::spawn(v.run_command(&[], &["/bin/sh", "-c", &script]));
    live.wait_line("unlooked");
    let pid = live.pid();
    let parent = if shm_is_tmpfs() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let scratch = scratch_dirs(&parent, pid);
    assert_eq!(
        scratch.len(),
        1,
        "the directory that holds /sys: {scratch:?}"
    );
    let sys = scratch[0].join("sys");
    let entries = |dir: &Path| std::fs::read_dir(dir).expect("read /sys's source").count();
    assert_eq!(
        entries(&sys),
        0,
        "/sys written before the sandbox looked there"
    );
    std::fs::write(&fifo, "go\n").expect("write the FIFO");
    live.wait_line("65536");
    assert!(sys.join("devices/system/cpu/online").is_file());
    assert!(entries(&sys.join("kernel/mm")) > 0);
    std::fs::write(&fifo, "go\n").expect("write the FIFO");
    live.finish().expect_code(0);
    std::fs::remove_file(&fifo).expect("remove the FIFO");
}

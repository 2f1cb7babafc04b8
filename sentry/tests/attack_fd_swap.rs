//! The calls the sentry makes itself on the file behind a task's fd (fchmod, fsetxattr,
//! fremovexattr, futimens, linkat with AT_EMPTY_PATH) check and change one duplicate of it.
//! A second thread swaps the number between a sandbox file and stdin, a host file outside
//! every mount of the sandbox: its mode, times and attributes stay as they were on the host,
//! and it never gets a name inside the sandbox. Before, the check looked the number up and
//! the change took a second duplicate: under `--platform=seccomp` (where the swap does not
//! wait for the sentry) a root sentry chmodded the host file. Both platforms, as the
//! invoking user and as uid 65534.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use test_support::{variant_tests, Variant};

const ROUNDS: &str = "3000";

/// The mode, modification time and user.* attribute names of a host file.
fn seen(path: &std::path::Path) -> (u32, i64, Vec<u8>) {
    use std::os::unix::ffi::OsStrExt;
    let meta = std::fs::metadata(path).expect("stat the canary");
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("no NUL");
    let mut names = vec![0u8; 4096];
    // SAFETY: listxattr writes at most `names.len()` bytes into memory we own.
    let n = unsafe { libc::listxattr(c.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    names.truncate(n.max(0) as usize);
    (meta.mode(), meta.mtime(), names)
}

fn changes_act_on_one_duplicate_of_the_fd(v: Variant) {
    let (scratch, rootfs) = test_support::Scratch::escape_root("fd-swap", "escape_fd_swap", "swap");
    let canary = scratch.dir.join("canary");
    std::fs::write(&canary, "HOST-CANARY\n").expect("write the canary");
    std::fs::set_permissions(&canary, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let before = seen(&canary);

    let mut cmd = v.sentry_command();
    cmd.arg("run")
        .arg(v.platform_flag())
        .args(["--tmpfs", "/tmp"])
        .arg(&rootfs)
        .arg("/swap")
        .arg(ROUNDS)
        .stdin(std::fs::File::open(&canary).expect("open the canary"));
    let run = test_support::run_to_end(cmd, test_support::RUN_DEADLINE);
    assert_eq!(
        seen(&canary),
        before,
        "the host file's mode, times or attributes changed\n{}",
        run.describe()
    );
    assert_eq!(
        std::fs::metadata(&canary).expect("stat").nlink(),
        1,
        "the host file got another name\n{}",
        run.describe()
    );
    run.expect_race_finished(ROUNDS);
    // The race is real only if some calls acted on the sandbox's file.
    assert!(
        !run.stdout.contains(" changed 0"),
        "no call changed the sandbox's file\n{}",
        run.describe()
    );
}

variant_tests!(changes_act_on_one_duplicate_of_the_fd);

//! No host privilege is left on the host: files the sandbox makes or chmods never carry the
//! set-user-ID bit, nor set-group-ID but on a directory, nor `security.*` or `trusted.*`
//! attributes — checked on the host files themselves — while the sandbox sees the modes it
//! set. Before, a root sentry left root-owned set-user-ID files and file capabilities behind,
//! and the host kernel wrote core files into the root, `--read-only` or not.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use test_support::{variant_tests, Variant};

/// The extended attribute names of a host file (not following a symlink).
fn xattr_names(path: &Path) -> Vec<String> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("no NUL");
    let mut buf = vec![0u8; 4096];
    // SAFETY: llistxattr writes at most `buf.len()` bytes into memory we own.
    let n = unsafe { libc::llistxattr(c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n <= 0 {
        return Vec::new();
    }
    buf[..n as usize]
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

fn no_privilege_lands_on_the_host(v: Variant) {
    let dir = v.scratch_path("privilege");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the directory");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777))
        .expect("chmod the directory");
    let run = v.run(
        &[],
        &[
            v.program("attack_privilege"),
            dir.to_str().expect("UTF-8").to_string(),
        ],
    );
    let mut verdicts = Vec::new();
    for name in ["chmod", "fchmod", "created", "mknod", "dir"] {
        let path = dir.join(name);
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let mode = meta.permissions().mode();
        let forbidden = if meta.is_dir() { 0o4000 } else { 0o6000 };
        if mode & forbidden != 0 {
            verdicts.push(format!("{name}: host mode {:o}", mode & 0o7777));
        }
        for attr in xattr_names(&path) {
            if attr.starts_with("security.") || attr.starts_with("trusted.") {
                verdicts.push(format!("{name}: host attribute {attr}"));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        verdicts.is_empty(),
        "privilege left on the host: {verdicts:?}\n{}",
        run.describe()
    );
    run.expect_program_ok("privilege done");
}

variant_tests!(no_privilege_lands_on_the_host);

/// The host kernel writes nothing on its own: children that crash with a raised RLIMIT_CORE
/// leave no core file in the root (writable by the tasks' host uid), with `--read-only` or
/// without; the sandbox sees the limit it set; PR_SET_DUMPABLE 0 does not blind the sentry.
fn no_core_file_on_the_host(v: Variant) {
    let (_scratch, rootfs) =
        test_support::Scratch::escape_root("core", "escape_core", "escape_core");
    std::fs::set_permissions(&rootfs, std::fs::Permissions::from_mode(0o777))
        .expect("let the tasks write the root");
    for read_only in [false, true] {
        let mut cmd = v.sentry_command();
        cmd.arg("run").arg(v.platform_flag());
        if read_only {
            cmd.args(["--read-only", "--tmpfs", "/tmp"]);
        } else {
            cmd.args(["--tmpfs", "/tmp"]);
        }
        cmd.arg(&rootfs).arg("/escape_core");
        let run = test_support::run_to_end(cmd, test_support::RUN_DEADLINE);
        let cores: Vec<String> = std::fs::read_dir(&rootfs)
            .expect("read the root")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("core"))
            .collect();
        assert!(
            cores.is_empty(),
            "core files on the host (read-only {read_only}): {cores:?}\n{}",
            run.describe()
        );
        run.expect_program_ok("core done");
    }
}

variant_tests!(no_core_file_on_the_host);

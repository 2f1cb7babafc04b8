//! Fixtures built once per test binary: the C test programs and the root filesystems of
//! `rootfs-fixtures/`, and the escape programs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Once;

use crate::repo_root;

/// Runs `bash <repo>/script arg`, failing the test with its output when it fails.
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

static PROGRAMS: Once = Once::new();
static BUSYBOX: Once = Once::new();
static HOSTLIBS: Once = Once::new();
static ESCAPES: Once = Once::new();

/// build/programs: the C programs of sentry/tests/programs/, built by
/// rootfs-fixtures/programs.sh.
pub fn programs_dir() -> PathBuf {
    let dir = repo_root().join("build/programs");
    PROGRAMS.call_once(|| run_script("rootfs-fixtures/programs.sh", &dir));
    dir
}

/// build/rootfs/busybox, built by rootfs-fixtures/busybox.sh.
pub fn busybox_rootfs() -> PathBuf {
    let dir = repo_root().join("build/rootfs/busybox");
    BUSYBOX.call_once(|| run_script("rootfs-fixtures/busybox.sh", &dir));
    dir
}

/// build/rootfs/hostlibs, built by rootfs-fixtures/hostlibs.sh.
pub fn hostlibs_rootfs() -> PathBuf {
    let dir = repo_root().join("build/rootfs/hostlibs");
    HOSTLIBS.call_once(|| run_script("rootfs-fixtures/hostlibs.sh", &dir));
    dir
}

/// build/escapes/: sentry/tests/programs/escape_*.c compiled static, -O2, warnings as errors.
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

//! Issue 3, point 3: a program executed in the sandbox sees the sandbox path it was executed
//! by: AT_EXECFN (not the kernel's /dev/fd/N of the fd the sentry executed) and
//! /proc/self/exe, whether it is static or run through its ELF interpreter.

use test_support::{busybox_rootfs, repo_root};

use std::path::PathBuf;
use std::process::Command;

/// A copy of the busybox rootfs with the test program in /bin, static and dynamic.
fn rootfs() -> PathBuf {
    let busybox = busybox_rootfs();
    let dir = std::env::temp_dir().join(format!("sentry-execnames-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let copy = Command::new("cp")
        .arg("-a")
        .arg(&busybox)
        .arg(&dir)
        .status()
        .expect("cp");
    assert!(copy.success());
    let source = repo_root().join("sentry/tests/programs/execnames.c");
    let built = Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(dir.join("bin/execnames"))
        .arg(&source)
        .status()
        .expect("gcc");
    assert!(built.success(), "building execnames");
    dir
}

#[test]
fn execfn_and_exe_name_the_sandbox_path() {
    let rootfs = rootfs();
    for platform in test_support::invoker_variants!() {
        let out = platform.sh(
            &[],
            &rootfs,
            "/bin/execnames a; cd /bin && ./execnames b c; execnames",
        );
        assert_eq!(
            out,
            "execfn=/bin/execnames argv0=/bin/execnames exe=/bin/execnames argc=2\n\
             execfn=./execnames argv0=./execnames exe=/bin/execnames argc=3\n\
             execfn=/bin/execnames argv0=execnames exe=/bin/execnames argc=1\n",
            "{platform}"
        );
    }
    std::fs::remove_dir_all(&rootfs).unwrap();
}

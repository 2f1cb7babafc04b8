//! The sentry confines its own file access with Landlock before it starts any thread: after
//! that, the host's `/` (outside every mount source) cannot even be listed by the sentry
//! process, so a sentry an attacker took over reaches by path only the sandbox's mounts, its
//! scratch directory, /proc and /dev. The sentry checks this itself right after confining
//! and reports the kernel's answer at `--log debug`; the sandbox still works, reads and
//! writes its files and runs programs. Both platforms, as the invoking user and as uid 65534.

use test_support::{variant_tests, Variant};

fn the_sentry_cannot_list_the_hosts_root(v: Variant) {
    let scratch = test_support::Scratch::new("confinement");
    let rootfs = scratch.copy_rootfs(&test_support::busybox_rootfs());
    let mut cmd = v.sentry_command();
    cmd.arg("run")
        .arg(v.platform_flag())
        .arg("--log=debug")
        .arg("--tmpfs=/work")
        .arg(&rootfs)
        .args([
            "/bin/sh",
            "-c",
            "echo data > /work/f && cat /work/f && ls /bin/sh && /bin/true && echo done",
        ]);
    let run = test_support::run_to_end(cmd, test_support::RUN_DEADLINE);
    run.expect_code(0);
    assert!(
        run.stdout.contains("data\n/bin/sh\ndone"),
        "the sandbox did not work under confinement\n{}",
        run.describe()
    );
    assert!(
        run.stderr
            .contains("confined by Landlock (Fully); listing the host's / fails: EACCES"),
        "the sentry was not confined\n{}",
        run.describe()
    );
}

variant_tests!(the_sentry_cannot_list_the_hosts_root);

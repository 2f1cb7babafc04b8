//! Errno order on the sentry's own read-only mounts: a write open of a file its user may not
//! write is EROFS on a `--read-only` root, as Linux checks the mount before the file's
//! permission bits, and EACCES on a writable one; a new name on a `--read-only` root is EROFS.

use std::os::unix::fs::PermissionsExt;

const SCRIPT: &str = "{ echo x > /locked; } 2>&1; { echo x > /new-file; } 2>&1; true";

#[test]
fn a_read_only_root_answers_erofs_before_eacces() {
    let scratch = test_support::Scratch::new("errno-order");
    let rootfs = scratch.copy_rootfs(&test_support::busybox_rootfs());
    let locked = rootfs.join("locked");
    std::fs::write(&locked, "kept\n").expect("write the locked file");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o444)).expect("chmod");
    for v in test_support::invoker_variants!() {
        let user = ["--sandbox-user", "1000:1000"];
        let read_only = v.sh(&[&["--read-only"][..], &user].concat(), &rootfs, SCRIPT);
        let lines: Vec<&str> = read_only.lines().collect();
        assert_eq!(lines.len(), 2, "{read_only}");
        for line in &lines {
            assert!(line.ends_with("Read-only file system"), "{read_only}");
        }
        // Writable: the file's mode refuses the write, even to its owner.
        let writable = v.sh(&user, &rootfs, "{ echo x > /locked; } 2>&1; true");
        assert!(
            writable.trim_end().ends_with("Permission denied"),
            "{writable}"
        );
        assert_eq!(std::fs::read_to_string(&locked).expect("read"), "kept\n");
        assert!(!rootfs.join("new-file").exists());
    }
}

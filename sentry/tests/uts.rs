//! Issue 4, point 1: the sandbox's hostname is its own. A default name is derived for each
//! sandbox; a name the sandbox sets (sethostname, /proc/sys/kernel/hostname) changes only the
//! sandbox's UTS namespace, never the host's.

use test_support::{busybox_rootfs, Variant};

fn host_name() -> String {
    let mut buf = [0u8; 65];
    // SAFETY: gethostname writes at most buf.len() bytes into our buffer.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    assert_eq!(rc, 0);
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

fn run(platform: Variant, options: &[&str], script: &str) -> String {
    platform.sh(options, &busybox_rootfs(), script)
}

#[test]
fn the_sandbox_hostname_never_reaches_the_host() {
    for platform in test_support::invoker_variants!() {
        let before = host_name();
        let default = run(platform, &[], "hostname");
        assert!(
            default.starts_with("sentry-") && default.len() == "sentry-123456\n".len(),
            "{default:?}"
        );
        assert_ne!(default.trim(), before);
        let out = run(
            platform,
            &["--hostname", "given"],
            "hostname; hostname changed; hostname; echo viaproc > /proc/sys/kernel/hostname; uname -n",
        );
        assert_eq!(out, "given\nchanged\nviaproc\n");
        assert_eq!(host_name(), before, "the host's hostname changed");
    }
}

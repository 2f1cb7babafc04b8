//! `features`: what this runtime supports, in the shape of the runtime spec's features.md.

use crate::sandbox::container::Error;

pub fn run() -> Result<(), Error> {
    let features = serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.0.2",
        "hooks": [],
        "mountOptions": ["bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec",
            "rprivate", "private", "relatime", "strictatime"],
        "linux": {
            "namespaces": ["pid", "network", "ipc", "uts", "mount"],
            "capabilities": [],
            "cgroup": {"v1": false, "v2": false, "systemd": false, "systemdUser": false},
            "seccomp": {"enabled": false},
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false}
        },
        "annotations": {
            "dev.sentry.platform": "ptrace (default) or seccomp",
            "dev.sentry.net": "none (default) or host",
            "dev.sentry.strace": "true: every syscall to the sandbox's log",
            "dev.sentry.events": "a file for the limit events, as JSON lines"
        }
    });
    let text = serde_json::to_string_pretty(&features).map_err(|e| Error(e.to_string()))?;
    println!("{text}");
    Ok(())
}

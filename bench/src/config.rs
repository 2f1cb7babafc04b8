//! The configurations a benchmark runs under, how each starts a command, and how the harness
//! decides whether one is available on this machine.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::runner::{self, Wrapper};
use crate::seccomp;

/// Every configuration the harness knows, in report order, with a one-line description.
pub const KNOWN: &[(&str, &str)] = &[
    ("native", "the program runs directly on the host"),
    (
        "seccomp-bpf",
        "an allow-list seccomp-BPF filter like Docker's default profile (others fail with EPERM), installed with no_new_privs before exec",
    ),
    (
        "seccomp-notify",
        "a seccomp user-notification filter sends every syscall to a supervisor thread in the harness, which answers CONTINUE",
    ),
    (
        "seccomp-notify-sync",
        "as seccomp-notify, with SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP on the listener: the floor for a call the sentry must see",
    ),
    ("sentry-ptrace", "`sentry run --platform=ptrace / <cmd>`"),
    ("sentry-seccomp", "`sentry run --platform=seccomp / <cmd>`"),
    (
        "sentry-ptrace-stops",
        "`sentry run --platform=ptrace --notify=off --cpus=one / <cmd>`: every call a ptrace stop, on one CPU (the sentry before the notification path)",
    ),
    (
        "sentry-seccomp-stops",
        "`sentry run --platform=seccomp --notify=off --cpus=one / <cmd>` (the sentry before the notification path)",
    ),
    ("runsc", "gVisor `runsc --platform=ptrace --network=none do <cmd>`"),
    ("proot", "`proot -r / <cmd>` (ptrace-based path translation)"),
    (
        "bwrap",
        "bubblewrap: `bwrap --ro-bind / / --dev /dev --proc /proc --unshare-all --die-with-parent <cmd>` (namespaces)",
    ),
];

/// Configurations whose supervising processes are worth measuring: the sandboxed program is
/// traced, so the sampler can tell it apart from the sentry, gofer or runtime.
pub const MEASURES_RSS: &[&str] = &[
    "sentry-ptrace",
    "sentry-seccomp",
    "sentry-ptrace-stops",
    "sentry-seccomp-stops",
    "runsc",
    "proot",
];

/// A configuration ready to run commands.
#[derive(Debug, Clone)]
pub struct Config {
    pub name: String,
    pub description: String,
    pub wrapper: Wrapper,
    pub measures_rss: bool,
}

impl Config {
    /// The command line prefix as shown in the report.
    pub fn display_prefix(&self) -> String {
        match &self.wrapper {
            Wrapper::Direct => String::new(),
            Wrapper::Prefix(p) => p.join(" "),
            Wrapper::SeccompBpf(p) => format!("(seccomp-BPF allow list, {} instructions)", p.len()),
            Wrapper::SeccompNotify(p, _) => {
                format!("(seccomp user notification, {} instructions)", p.len())
            }
        }
    }
}

/// Where the harness looks for things.
#[derive(Debug, Clone)]
pub struct Env {
    pub sentry: PathBuf,
    /// The static `true` used to probe a configuration.
    pub true_bin: PathBuf,
    pub probe_timeout: Duration,
}

/// The full path of `name` found in PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Builds configuration `name`, or says why it cannot run here.
pub fn resolve(name: &str, env: &Env) -> Result<Config, String> {
    let Some((_, description)) = KNOWN.iter().find(|(n, _)| *n == name) else {
        let names: Vec<&str> = KNOWN.iter().map(|(n, _)| *n).collect();
        return Err(format!(
            "unknown configuration (known: {})",
            names.join(", ")
        ));
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let wrapper = match name {
        "native" => Wrapper::Direct,
        "seccomp-bpf" => Wrapper::SeccompBpf(Arc::new(seccomp::docker_default_filter())),
        "seccomp-notify" => Wrapper::SeccompNotify(Arc::new(seccomp::notify_filter()), false),
        "seccomp-notify-sync" => Wrapper::SeccompNotify(Arc::new(seccomp::notify_filter()), true),
        "sentry-ptrace" | "sentry-seccomp" | "sentry-ptrace-stops" | "sentry-seccomp-stops" => {
            if !is_executable(&env.sentry) {
                return Err(format!(
                    "{} not found (build it with `cargo build --release -p sentry`)",
                    env.sentry.display()
                ));
            }
            let mode = name.trim_start_matches("sentry-");
            let platform = mode.trim_end_matches("-stops");
            let mut p = vec![env.sentry.display().to_string(), "run".into()];
            p.push(format!("--platform={platform}"));
            if mode.ends_with("-stops") {
                p.extend(s(&["--notify=off", "--cpus=one"]));
            }
            p.push("/".into());
            Wrapper::Prefix(p)
        }
        "runsc" => {
            let bin = which("runsc").ok_or("runsc not installed (Debian package runsc)")?;
            let mut p = vec![bin.display().to_string()];
            // SAFETY: geteuid has no preconditions.
            if unsafe { libc::geteuid() } != 0 {
                p.push("--rootless".into());
            }
            p.extend(s(&["--platform=ptrace", "--network=none", "do"]));
            Wrapper::Prefix(p)
        }
        "proot" => {
            let bin = which("proot").ok_or("proot not installed (Debian package proot)")?;
            Wrapper::Prefix(vec![bin.display().to_string(), "-r".into(), "/".into()])
        }
        "bwrap" => {
            let bin = which("bwrap").ok_or("bwrap not installed (Debian package bubblewrap)")?;
            let mut p = vec![bin.display().to_string()];
            p.extend(s(&[
                "--ro-bind",
                "/",
                "/",
                "--dev",
                "/dev",
                "--proc",
                "/proc",
                "--unshare-all",
                "--die-with-parent",
            ]));
            Wrapper::Prefix(p)
        }
        _ => return Err("no way to run this configuration".into()),
    };
    Ok(Config {
        name: name.to_string(),
        description: description.to_string(),
        wrapper,
        measures_rss: MEASURES_RSS.contains(&name),
    })
}

/// Runs the static `true` under `config`: the configuration is usable only if that exits 0.
pub fn probe(config: &Config, env: &Env) -> Result<(), String> {
    let argv = vec![env.true_bin.display().to_string()];
    let shown = format!("{} {}", config.display_prefix(), argv[0]);
    match runner::run(&config.wrapper, &argv, env.probe_timeout, false) {
        Ok(o) if o.ok() => Ok(()),
        Ok(o) => Err(format!("probe `{}` failed: {}", shown.trim(), o.failure())),
        Err(e) => Err(format!("probe `{}` failed: {e:#}", shown.trim())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        Env {
            sentry: PathBuf::from("/nonexistent/sentry"),
            true_bin: PathBuf::from("/bin/true"),
            probe_timeout: Duration::from_secs(10),
        }
    }

    #[test]
    fn unknown_names_are_refused_with_the_known_list() {
        let e = resolve("docker", &env()).unwrap_err();
        assert!(e.starts_with("unknown configuration"), "{e}");
        assert!(e.contains("sentry-ptrace"), "{e}");
    }

    #[test]
    fn a_missing_sentry_binary_is_a_reason_not_a_panic() {
        let e = resolve("sentry-seccomp", &env()).unwrap_err();
        assert!(e.contains("/nonexistent/sentry not found"), "{e}");
    }

    #[test]
    fn sentry_prefix_names_the_platform_and_root() {
        let mut env = env();
        env.sentry = PathBuf::from("/bin/true");
        let c = resolve("sentry-seccomp", &env).unwrap();
        assert_eq!(c.display_prefix(), "/bin/true run --platform=seccomp /");
        assert!(c.measures_rss);
    }
}

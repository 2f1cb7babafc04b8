//! The sandbox's configuration: plain data, built once by the command line and passed down.

use std::path::PathBuf;
use std::time::Duration;

/// The sandbox's network: none (AF_UNIX only) or the host's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetMode {
    #[default]
    None,
    Host,
}

/// `--oom`: what an allocation that would cross the hard limit gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OomMode {
    /// The call fails with ENOMEM (brk returns the old break); the process goes on.
    #[default]
    Enomem,
    /// The process making the call is killed with SIGKILL, and an event records it.
    Kill,
}

/// The parsed, checked limits.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    pub memory: Option<u64>,
    pub memory_soft: Option<u64>,
    pub oom: OomMode,
    pub pids: Option<u64>,
    pub cpu_time: Option<Duration>,
    pub timeout: Option<Duration>,
}

impl Limits {
    /// Whether committed memory is accounted at all (any memory flag given).
    pub fn accounts_memory(&self) -> bool {
        self.memory.is_some() || self.memory_soft.is_some()
    }

    /// Whether the watcher thread has anything to do.
    pub fn needs_watcher(&self) -> bool {
        self.memory.is_some() || self.cpu_time.is_some() || self.timeout.is_some()
    }
}

/// Which calls stop at the sentry (DESIGN.md, "Modes"). Both install a seccomp filter
/// before the first instruction whose SECCOMP_RET_TRACE makes a call stop once, at its
/// entry (a syscall-exit-stop follows only when the sentry asks for one): half the stops of
/// PTRACE_SYSCALL, which stops at entry and exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Platform {
    /// Every syscall stops at the sentry.
    #[default]
    Ptrace,
    /// The table compiled to seccomp-BPF: passthrough calls stay in the kernel.
    Seccomp,
}

/// A uid or gid pair given on the command line (`UID:GID`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ids {
    pub uid: u32,
    pub gid: u32,
}

impl Ids {
    /// Parses `UID:GID`: two decimal numbers below 2^32 - 1 (which is "no id" to the kernel).
    pub fn parse(text: &str, option: &str) -> Result<Ids, String> {
        let bad = || format!("{option} '{text}': expected UID:GID (decimal numbers)");
        let (u, g) = text.split_once(':').ok_or_else(bad)?;
        let number = |s: &str| -> Result<u32, String> {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            match s.parse::<u32>() {
                Ok(n) if n != u32::MAX => Ok(n),
                _ => Err(format!("{option} '{text}': ids must be below {}", u32::MAX)),
            }
        };
        Ok(Ids {
            uid: number(u)?,
            gid: number(g)?,
        })
    }
}

/// A mount asked for on the command line.
#[derive(Debug, Clone)]
pub enum MountRequest {
    /// `--mount HOST:SANDBOX[:ro]`
    Bind {
        host: PathBuf,
        sandbox: Vec<u8>,
        read_only: bool,
    },
    /// `--tmpfs SANDBOX`
    Tmpfs { sandbox: Vec<u8> },
}

/// Everything a sandbox is started with, checked by the command line.
#[derive(Debug, Clone)]
pub struct Config {
    pub platform: Platform,
    /// Calls the sentry answers whole reach it as seccomp user notifications where the
    /// kernel has the synchronous wake-up (`--notify auto`), else as ptrace stops.
    pub notify: bool,
    /// The sentry keeps the directories it has resolved, and the paths of the sandbox's
    /// directory fds, until the sandbox changes a tree (`--lookup-cache on`); off for trees
    /// the host changes while the sandbox runs.
    pub lookup_cache: bool,
    /// Print every syscall with its decoded arguments and result.
    pub strace: bool,
    /// Report the sentry's handler time per syscall on stderr at the end.
    pub profile: bool,
    pub net: NetMode,
    /// `--publish`: (host port, sandbox port) pairs on the host's 127.0.0.1.
    pub publish: Vec<(u16, u16)>,
    pub hostname: String,
    /// The program's environment (`KEY=VALUE`).
    pub env: Vec<std::ffi::CString>,
    /// The working directory inside the sandbox (absolute).
    pub cwd: std::path::PathBuf,
    pub mounts: Vec<MountRequest>,
    pub read_only: bool,
    /// `--cpus`: `one`, `all` or a list such as `0,2-3`.
    pub cpus: String,
    pub limits: Limits,
    /// Where limit events go as JSON lines.
    pub events: Option<std::path::PathBuf>,
    /// The host ids the sandbox's processes run as (a root sentry), if not the sentry's.
    pub host_user: Option<Ids>,
    /// The identity the sandbox sees itself run as.
    pub sandbox_user: Ids,
    /// The first process's own identity in the sandbox (uid, gid, supplementary groups),
    /// when it is not `sandbox_user`'s (an OCI process.user).
    pub first_user: Option<(Ids, Vec<u32>)>,
    /// The first process's capability sets (bounding, effective, permitted, inheritable,
    /// ambient) in the sandbox, when given (an OCI process.capabilities).
    pub first_caps: Option<[u64; 5]>,
    /// The directory that becomes the sandbox's `/` (canonical).
    pub rootfs: std::path::PathBuf,
    /// The program and its arguments.
    pub command: Vec<std::ffi::OsString>,
}

/// The limit flags as given, before they are checked.
#[derive(Debug, Default, Clone)]
pub struct LimitFlags {
    pub memory_limit: Option<String>,
    pub memory_soft_limit: Option<String>,
    pub oom: OomMode,
    pub pids_limit: Option<String>,
    pub cpu_time: Option<String>,
    pub timeout: Option<String>,
}

impl LimitFlags {
    /// Checks the flags; the error is one line for the user (exit status 125).
    pub fn parse(&self) -> Result<Limits, String> {
        let flags = self;
        let size = |flag: &str, v: &Option<String>| {
            v.as_deref()
                .map(|s| parse_size(s).map_err(|e| format!("--{flag}: {e}")))
                .transpose()
        };
        let seconds = |flag: &str, v: &Option<String>| {
            v.as_deref()
                .map(|s| parse_seconds(s).map_err(|e| format!("--{flag}: {e}")))
                .transpose()
        };
        let memory = size("memory-limit", &flags.memory_limit)?;
        let memory_soft = size("memory-soft-limit", &flags.memory_soft_limit)?;
        if let (Some(hard), Some(soft)) = (memory, memory_soft) {
            if soft > hard {
                return Err(format!(
                    "--memory-soft-limit ({soft} bytes) is above --memory-limit ({hard} bytes)"
                ));
            }
        }
        let pids = match flags.pids_limit.as_deref() {
            None => None,
            Some(s) => match s.trim().parse::<u64>() {
                Ok(n) if n > 0 => Some(n),
                Ok(_) => return Err(format!("--pids-limit: '{s}': must be at least 1")),
                Err(_) => return Err(format!("--pids-limit: '{s}' is not a positive integer")),
            },
        };
        Ok(Limits {
            memory,
            memory_soft,
            oom: flags.oom,
            pids,
            cpu_time: seconds("cpu-time", &flags.cpu_time)?,
            timeout: seconds("timeout", &flags.timeout)?,
        })
    }
}

/// Parses a size: a positive integer of bytes, optionally followed by K, M, G or T (binary
/// multiples; `KB`/`KiB` spellings and lower case accepted).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, suffix) = t.split_at(digits_end);
    if digits.is_empty() {
        return Err(format!(
            "'{text}' is not a size (expected a number of bytes, optionally with K, M, G or T)"
        ));
    }
    let shift = match suffix.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => {
            return Err(format!(
                "'{text}' is not a size (unknown unit '{suffix}'; use K, M, G or T)"
            ))
        }
    };
    let value: u64 = digits
        .parse()
        .map_err(|_| format!("'{text}' is too large"))?;
    let bytes = value
        .checked_mul(1u64 << shift)
        .ok_or_else(|| format!("'{text}' is too large"))?;
    if bytes == 0 {
        return Err(format!("'{text}': the limit must be greater than zero"));
    }
    Ok(bytes)
}

/// Parses a positive number of seconds (decimals allowed).
pub fn parse_seconds(text: &str) -> Result<Duration, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds"))?;
    if !value.is_finite() || value <= 0.0 {
        return Err(format!("'{text}': the limit must be greater than zero"));
    }
    if value > 1e9 {
        return Err(format!("'{text}' is too large"));
    }
    Ok(Duration::from_secs_f64(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert_eq!(parse_size("3MiB"), Ok(3 << 20));
        for bad in [
            "",
            "0",
            "0K",
            "-1",
            "-64M",
            "12Q",
            "M",
            "1.5G",
            "99999999999999999999",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_size("20000000000T").is_err());
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_seconds("0.5"), Ok(Duration::from_millis(500)));
        for bad in ["0", "-1", "x", "inf", "NaN", ""] {
            assert!(parse_seconds(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn soft_above_hard_is_refused() {
        let args = LimitFlags {
            memory_limit: Some("64M".into()),
            memory_soft_limit: Some("65M".into()),
            ..Default::default()
        };
        assert!(args.parse().unwrap_err().contains("above"));
        let args = LimitFlags {
            pids_limit: Some("0".into()),
            ..Default::default()
        };
        assert!(args.parse().is_err());
        let args = LimitFlags {
            memory_limit: Some("64M".into()),
            memory_soft_limit: Some("32M".into()),
            pids_limit: Some("10".into()),
            ..Default::default()
        };
        let limits = args.parse().unwrap();
        assert_eq!(limits.memory, Some(64 << 20));
        assert_eq!(limits.pids, Some(10));
    }
}

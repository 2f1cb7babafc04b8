//! An OCI bundle's config.json read into the sentry's [`Config`]: what the sentry honours is
//! translated, what the engines always send and means nothing here (cgroup paths, the
//! namespaces list, seccomp profiles, masked paths) is accepted and named in README, and
//! anything else that the sentry cannot honour is refused with one clear line.

use crate::config::{Config, Ids, Limits, MountRequest, NetMode, Platform};
use serde_json::Value;
use std::ffi::{CString, OsString};
use std::path::{Path, PathBuf};

/// What `create` needs beyond the sandbox's [`Config`].
#[derive(Debug, Clone)]
pub struct Bundle {
    pub config: Config,
    /// `process.terminal`: the first task's stdio is a terminal sent over --console-socket.
    pub terminal: bool,
    /// `process.consoleSize` (rows, columns).
    pub console_size: Option<(u16, u16)>,
    /// `process.rlimits`: (resource, soft, hard), applied to the first task.
    pub rlimits: Vec<(i32, u64, u64)>,
    /// `annotations`, as given, for `state`.
    pub annotations: Vec<(String, String)>,
    pub hooks: super::hooks::Hooks,
    /// `hooks` as config.json gave them, kept with the container's state at `create`.
    pub hooks_raw: Value,
    /// `linux.resources.cpu.shares` as a nice value for the sandbox's host processes.
    pub nice: Option<i32>,
    /// `linux.resources.cpu.quota` and `period`: CPU time per period (see `throttle.rs`).
    pub cpu_quota: Option<(std::time::Duration, std::time::Duration)>,
}

/// Reads `DIR/config.json`; relative `root.path` is taken from `DIR`.
pub fn load(dir: &Path) -> Result<Bundle, String> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let value: Value =
        serde_json::from_str(&text).map_err(|e| format!("malformed {}: {e}", path.display()))?;
    parse(&value, dir)
}

fn obj<'a>(v: &'a Value, name: &str) -> Result<Option<&'a serde_json::Map<String, Value>>, String> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(format!("config.json: {name} must be an object")),
    }
}

fn string<'a>(v: &'a Value, what: &str) -> Result<&'a str, String> {
    v.as_str()
        .ok_or_else(|| format!("config.json: {what} must be a string"))
}

fn strings(v: Option<&Value>, what: &str) -> Result<Vec<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| string(i, what).map(str::to_string))
            .collect(),
        Some(_) => Err(format!("config.json: {what} must be a list of strings")),
    }
}

fn number(v: &Value, what: &str) -> Result<u64, String> {
    v.as_u64()
        .ok_or_else(|| format!("config.json: {what} must be a non-negative integer"))
}

/// Parses a config.json already read as JSON.
pub fn parse(spec: &Value, dir: &Path) -> Result<Bundle, String> {
    if !spec.is_object() {
        return Err("config.json: not a JSON object".into());
    }
    let hooks = super::hooks::parse(spec.get("hooks"))?;
    let process = obj(spec, "process")?.ok_or("config.json: no process")?;
    let process = Value::Object(process.clone());
    let args = strings(process.get("args"), "process.args")?;
    if args.is_empty() {
        return Err("config.json: process.args must not be empty".into());
    }
    let cwd = match process.get("cwd") {
        None => "/".to_string(),
        Some(v) => string(v, "process.cwd")?.to_string(),
    };
    if !cwd.starts_with('/') {
        return Err(format!("config.json: process.cwd '{cwd}' must be absolute"));
    }
    let mut env = Vec::new();
    for item in strings(process.get("env"), "process.env")? {
        if !item.contains('=') {
            return Err(format!(
                "config.json: process.env entry '{item}' has no '='"
            ));
        }
        env.push(CString::new(item).map_err(|_| "config.json: NUL in process.env")?);
    }
    let terminal = process.get("terminal").and_then(Value::as_bool) == Some(true);
    let console_size = match obj(&process, "consoleSize")? {
        None => None,
        Some(size) => {
            let get = |k: &str| -> Result<u16, String> {
                let n = size
                    .get(k)
                    .map(|v| number(v, "process.consoleSize"))
                    .transpose()?;
                Ok(n.unwrap_or(0).min(u16::MAX as u64) as u16)
            };
            Some((get("height")?, get("width")?))
        }
    };
    // The sandbox's own identity stays root's, as a container's: the image's files keep
    // their owners; the process runs as its user in the sandbox's tables.
    let first_user = match obj(&process, "user")? {
        None => None,
        Some(user) => Some(user_ids(user)?),
    }
    .filter(|(ids, groups)| ids.uid != 0 || ids.gid != 0 || !groups.is_empty());
    let first_caps = capabilities(process.get("capabilities"))?;
    for refused in ["apparmorProfile", "selinuxLabel", "ioPriority", "scheduler"] {
        if process
            .get(refused)
            .is_some_and(|v| !v.is_null() && v != "")
        {
            return Err(format!(
                "config.json: process.{refused} is not supported by the sentry"
            ));
        }
    }
    let rlimits = rlimits(process.get("rlimits"))?;

    let root = obj(spec, "root")?.ok_or("config.json: no root")?;
    let root_path = string(root.get("path").unwrap_or(&Value::Null), "root.path")?;
    let rootfs = if Path::new(root_path).is_absolute() {
        PathBuf::from(root_path)
    } else {
        dir.join(root_path)
    };
    let rootfs = rootfs
        .canonicalize()
        .map_err(|e| format!("root.path {}: {e}", rootfs.display()))?;
    if !rootfs.is_dir() {
        return Err(format!("root.path {}: not a directory", rootfs.display()));
    }
    let read_only = root.get("readonly").and_then(Value::as_bool) == Some(true);

    let hostname = match spec.get("hostname") {
        None | Some(Value::Null) => "sentry".to_string(),
        Some(v) => string(v, "hostname")?.to_string(),
    };
    if hostname.is_empty() || hostname.len() > 64 {
        return Err("config.json: hostname must be 1 to 64 bytes".into());
    }

    let mut annotations = Vec::new();
    let mut platform = Platform::Ptrace;
    let mut events = None;
    let mut strace = false;
    let mut net = NetMode::None;
    if let Some(map) = obj(spec, "annotations")? {
        for (key, value) in map {
            let value = string(value, "an annotation")?.to_string();
            match key.strip_prefix("dev.sentry.") {
                None => {}
                Some("platform") => {
                    platform = match value.as_str() {
                        "ptrace" => Platform::Ptrace,
                        "seccomp" => Platform::Seccomp,
                        _ => return Err(format!("annotation {key}: '{value}': ptrace or seccomp")),
                    }
                }
                Some("events") => events = Some(PathBuf::from(&value)),
                Some("strace") => strace = value == "true",
                Some("net") => {
                    net = match value.as_str() {
                        "none" => NetMode::None,
                        "host" => NetMode::Host,
                        _ => return Err(format!("annotation {key}: '{value}': none or host")),
                    }
                }
                Some(other) => {
                    return Err(format!(
                        "annotation dev.sentry.{other}: unknown to the sentry"
                    ))
                }
            }
            annotations.push((key.clone(), value));
        }
    }

    let mut limits = Limits::default();
    let mut cpu = CpuRequests::default();
    if let Some(linux) = obj(spec, "linux")? {
        let linux = Value::Object(linux.clone());
        cpu = linux_section(&linux, &mut limits)?;
    }
    let mounts = mounts(spec.get("mounts"))?;

    let command: Vec<OsString> = args.into_iter().map(OsString::from).collect();
    Ok(Bundle {
        config: Config {
            platform,
            strace,
            profile: false,
            net,
            hostname,
            env,
            cwd: PathBuf::from(cwd),
            mounts,
            read_only,
            cpus: "all".into(),
            notify: true,
            lookup_cache: true,
            publish: Vec::new(),
            limits,
            events,
            host_user: None,
            sandbox_user: Ids { uid: 0, gid: 0 },
            first_user,
            first_caps,
            rootfs,
            command,
        },
        terminal,
        console_size,
        rlimits,
        annotations,
        hooks,
        hooks_raw: spec.get("hooks").cloned().unwrap_or(Value::Null),
        nice: cpu.nice,
        cpu_quota: cpu.quota,
    })
}

/// Capability names by number, as Linux numbers them (0 to 40).
const CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// `process.capabilities`: (bounding, effective, permitted, inheritable, ambient) as masks.
fn capabilities(v: Option<&Value>) -> Result<Option<[u64; 5]>, String> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let mut sets = [0u64; 5];
    for (i, key) in [
        "bounding",
        "effective",
        "permitted",
        "inheritable",
        "ambient",
    ]
    .into_iter()
    .enumerate()
    {
        for name in strings(v.get(key), &format!("process.capabilities.{key}"))? {
            let bit = CAPABILITIES
                .iter()
                .position(|&c| c == name)
                .ok_or_else(|| {
                    format!("config.json: process.capabilities.{key}: unknown '{name}'")
                })?;
            sets[i] |= 1 << bit;
        }
    }
    Ok(Some(sets))
}

/// The process's uid and gid, and its supplementary groups.
fn user_ids(user: &serde_json::Map<String, Value>) -> Result<(Ids, Vec<u32>), String> {
    let id = |k: &str| -> Result<u32, String> {
        match user.get(k) {
            None => Ok(0),
            Some(v) => {
                let n = number(v, &format!("process.user.{k}"))?;
                u32::try_from(n)
                    .ok()
                    .filter(|&n| n != u32::MAX)
                    .ok_or_else(|| format!("config.json: process.user.{k} {n} is out of range"))
            }
        }
    };
    let ids = Ids {
        uid: id("uid")?,
        gid: id("gid")?,
    };
    let user_value = Value::Object(user.clone());
    let mut groups = Vec::new();
    for gid in user_value
        .get("additionalGids")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let gid = number(gid, "process.user.additionalGids")?;
        groups.push(
            u32::try_from(gid)
                .ok()
                .filter(|&g| g != u32::MAX)
                .ok_or_else(|| format!("config.json: additionalGids {gid} is out of range"))?,
        );
    }
    if let Some(umask) = user.get("umask") {
        if umask.as_u64() != Some(0o022) {
            return Err(format!(
                "config.json: process.user.umask {umask}: the sentry starts tasks with 022 only"
            ));
        }
    }
    if user.get("username").is_some_and(|v| v != "") {
        return Err("config.json: process.user.username is not supported (Windows)".into());
    }
    Ok((ids, groups))
}

fn rlimits(list: Option<&Value>) -> Result<Vec<(i32, u64, u64)>, String> {
    let Some(list) = list.and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for item in list {
        let kind = string(item.get("type").unwrap_or(&Value::Null), "an rlimit's type")?;
        let resource = match kind {
            "RLIMIT_AS" => libc::RLIMIT_AS,
            "RLIMIT_CPU" => libc::RLIMIT_CPU,
            "RLIMIT_DATA" => libc::RLIMIT_DATA,
            "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
            "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
            "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
            "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
            "RLIMIT_NICE" => libc::RLIMIT_NICE,
            "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
            "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
            "RLIMIT_RSS" => libc::RLIMIT_RSS,
            "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
            "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
            "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
            "RLIMIT_STACK" => libc::RLIMIT_STACK,
            "RLIMIT_CORE" => libc::RLIMIT_CORE,
            other => return Err(format!("config.json: unknown rlimit {other}")),
        };
        let soft = number(item.get("soft").unwrap_or(&Value::Null), "an rlimit's soft")?;
        let hard = number(item.get("hard").unwrap_or(&Value::Null), "an rlimit's hard")?;
        if soft > hard {
            return Err(format!(
                "config.json: {kind}: soft {soft} above hard {hard}"
            ));
        }
        out.push((resource as i32, soft, hard));
    }
    Ok(out)
}

/// The nice value whose CFS weight is nearest `shares` (cgroup v1 cpu.shares, 1024 for
/// nice 0; each step of nice weighs 1.25 times less).
pub fn nice_of_shares(shares: u64) -> i32 {
    let steps = -((shares.max(2) as f64) / 1024.0).ln() / 1.25f64.ln();
    (steps.round() as i32).clamp(-20, 19)
}

/// What `linux.resources` asks beyond [`Limits`].
#[derive(Debug, Default)]
struct CpuRequests {
    nice: Option<i32>,
    quota: Option<(std::time::Duration, std::time::Duration)>,
}

fn linux_section(linux: &Value, limits: &mut Limits) -> Result<CpuRequests, String> {
    for ns in linux
        .get("namespaces")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if ns.get("path").is_some_and(|p| p != "") {
            return Err(format!(
                "config.json: joining a namespace by path ({}) is not supported: every sentry \
                 sandbox has its own",
                ns.get("path").unwrap_or(&Value::Null)
            ));
        }
    }
    for refused in [
        "uidMappings",
        "gidMappings",
        "sysctl",
        "intelRdt",
        "personality",
    ] {
        let given = match linux.get(refused) {
            None | Some(Value::Null) => false,
            Some(Value::Array(a)) => !a.is_empty(),
            Some(Value::Object(o)) => !o.is_empty(),
            Some(_) => true,
        };
        if given {
            return Err(format!(
                "config.json: linux.{refused} is not supported by the sentry"
            ));
        }
    }
    let Some(resources) = linux.get("resources") else {
        return Ok(CpuRequests::default());
    };
    if let Some(memory) = resources.get("memory") {
        // -1 and 0 mean no limit to the engines.
        let positive = |k: &str| memory.get(k).and_then(Value::as_i64).filter(|&n| n > 0);
        limits.memory = positive("limit").map(|n| n as u64);
        limits.memory_soft = positive("reservation").map(|n| n as u64);
        if let (Some(hard), Some(soft)) = (limits.memory, limits.memory_soft) {
            if soft > hard {
                limits.memory_soft = Some(hard);
            }
        }
    }
    if let Some(pids) = resources.get("pids") {
        limits.pids = pids
            .get("limit")
            .and_then(Value::as_i64)
            .filter(|&n| n > 0)
            .map(|n| n as u64);
    }
    if let Some(cpu) = resources.get("cpu") {
        let set = |k: &str| cpu.get(k).is_some_and(|v| !v.is_null() && v != 0);
        for key in ["realtimeRuntime", "realtimePeriod"] {
            if set(key) {
                return Err(format!(
                    "config.json: linux.resources.cpu.{key} is not supported by the sentry yet"
                ));
            }
        }
        if cpu.get("cpus").is_some_and(|v| v != "") {
            return Err("config.json: linux.resources.cpu.cpus is not supported yet".into());
        }
    }
    let cpu = resources.get("cpu");
    let nice = cpu
        .and_then(|cpu| cpu.get("shares"))
        .and_then(Value::as_u64)
        .filter(|&shares| shares > 0)
        .map(nice_of_shares);
    // A quota of -1 (or none) is no limit; the period defaults to the kernel's 100 ms.
    let quota = cpu
        .and_then(|cpu| cpu.get("quota"))
        .and_then(Value::as_i64)
        .filter(|&q| q > 0)
        .map(|q| {
            let period = cpu
                .and_then(|cpu| cpu.get("period"))
                .and_then(Value::as_u64)
                .filter(|&p| p >= 1000)
                .unwrap_or(100_000);
            (
                std::time::Duration::from_micros(q as u64),
                std::time::Duration::from_micros(period),
            )
        });
    for refused in ["hugepageLimits", "network", "rdma"] {
        if resources.get(refused).is_some_and(|v| match v {
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            Value::Null => false,
            _ => true,
        }) {
            return Err(format!(
                "config.json: linux.resources.{refused} is not supported by the sentry"
            ));
        }
    }
    Ok(CpuRequests { nice, quota })
}

/// The mounts the sentry makes itself whatever the config says: /proc, /dev, /dev/pts, and
/// the kernel file systems that show nothing of the host in a sentry sandbox.
const OWN_MOUNTS: &[(&str, &str)] = &[
    ("proc", "/proc"),
    ("tmpfs", "/dev"),
    ("devpts", "/dev/pts"),
    ("mqueue", "/dev/mqueue"),
    ("sysfs", "/sys"),
    ("cgroup", "/sys/fs/cgroup"),
    ("cgroup2", "/sys/fs/cgroup"),
];

fn mounts(list: Option<&Value>) -> Result<Vec<MountRequest>, String> {
    let mut out = Vec::new();
    for m in list.and_then(Value::as_array).into_iter().flatten() {
        let dest = string(
            m.get("destination").unwrap_or(&Value::Null),
            "mount destination",
        )?;
        let kind = m.get("type").and_then(Value::as_str).unwrap_or("");
        let options = strings(m.get("options"), "mount options")?;
        let is_bind = kind == "bind" || options.iter().any(|o| o == "bind" || o == "rbind");
        let sandbox =
            super::sandbox_path(dest, "mount").map_err(|e| format!("config.json: {e}"))?;
        if !is_bind
            && OWN_MOUNTS
                .iter()
                .any(|&(t, d)| t == kind && d.as_bytes() == sandbox)
        {
            continue;
        }
        if is_bind {
            let source = string(m.get("source").unwrap_or(&Value::Null), "mount source")?;
            let read_only = options.iter().any(|o| o == "ro");
            let host = PathBuf::from(source);
            if !host.is_absolute() {
                return Err(format!(
                    "config.json: mount source {source} must be absolute"
                ));
            }
            out.push(MountRequest::Bind {
                host,
                sandbox,
                read_only,
            });
            continue;
        }
        match kind {
            "tmpfs" => {
                if let Some(o) = options.iter().find(|o| *o == "ro") {
                    return Err(format!(
                        "config.json: tmpfs at {dest} with option '{o}' is not supported"
                    ));
                }
                out.push(MountRequest::Tmpfs { sandbox })
            }
            other => {
                return Err(format!(
                    "config.json: a mount of type '{other}' at {dest} is not supported by the \
                     sentry"
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn bundle(json: &str) -> Result<Bundle, String> {
        let dir = std::env::temp_dir();
        parse(&serde_json::from_str(json).unwrap(), &dir)
    }

    fn base(extra: &str) -> String {
        format!(
            r#"{{"ociVersion":"1.0.2","process":{{"args":["sh","-c","exit 7"],"cwd":"/tmp",
            "env":["A=B"],"user":{{"uid":1000,"gid":1000,"umask":18,"additionalGids":[1000]}},
            "rlimits":[{{"type":"RLIMIT_NOFILE","hard":1024,"soft":512}}]}},
            "root":{{"path":"/","readonly":true}}{extra}}}"#
        )
    }

    #[test]
    fn podman_like_config_is_translated() {
        let b = bundle(&base(
            r#","hostname":"x","mounts":[
            {"destination":"/proc","type":"proc","source":"proc"},
            {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["mode=755"]},
            {"destination":"/sys","type":"sysfs","source":"sysfs","options":["ro"]},
            {"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup"},
            {"destination":"/tmp","type":"tmpfs","source":"tmpfs","options":["rw","tmpcopyup"]},
            {"destination":"/data","type":"bind","source":"/etc","options":["ro","rbind"]}],
            "annotations":{"dev.sentry.platform":"seccomp","io.podman":"x"},
            "linux":{"resources":{"memory":{"limit":67108864,"swap":134217728},
            "pids":{"limit":20}},"cgroupsPath":"/a/b","namespaces":[{"type":"pid"}]}"#,
        ))
        .unwrap();
        let c = &b.config;
        assert_eq!(
            c.command,
            vec![OsString::from("sh"), "-c".into(), "exit 7".into()]
        );
        assert_eq!(c.cwd, PathBuf::from("/tmp"));
        assert_eq!(c.hostname, "x");
        assert_eq!(c.sandbox_user, Ids { uid: 0, gid: 0 });
        assert_eq!(
            c.first_user,
            Some((
                Ids {
                    uid: 1000,
                    gid: 1000
                },
                vec![1000]
            ))
        );
        assert!(c.read_only);
        assert_eq!(c.platform, Platform::Seccomp);
        assert_eq!(c.limits.memory, Some(64 << 20));
        assert_eq!(c.limits.pids, Some(20));
        assert_eq!(c.env, vec![CString::new("A=B").unwrap()]);
        assert_eq!(b.rlimits, vec![(libc::RLIMIT_NOFILE as i32, 512, 1024)]);
        assert_eq!(c.mounts.len(), 2);
        assert!(matches!(&c.mounts[0], MountRequest::Tmpfs { sandbox } if sandbox == b"/tmp"));
        assert!(matches!(
            &c.mounts[1],
            MountRequest::Bind { sandbox, read_only: true, .. } if sandbox == b"/data"
        ));
        assert_eq!(b.annotations.len(), 2);
    }

    #[test]
    fn capabilities_are_read_by_name() {
        let b = bundle(&base(
            r#","process":{"args":["true"],"capabilities":{"bounding":["CAP_CHOWN","CAP_KILL"],
            "effective":["CAP_KILL"],"permitted":["CAP_KILL"]}}"#,
        ))
        .unwrap();
        assert_eq!(
            b.config.first_caps,
            Some([1 | 1 << 5, 1 << 5, 1 << 5, 0, 0])
        );
        let bad = bundle(&base(
            r#","process":{"args":["true"],"capabilities":{"bounding":["CAP_NOPE"]}}"#,
        ));
        assert!(bad.unwrap_err().contains("CAP_NOPE"));
        assert_eq!(CAPABILITIES[40], "CAP_CHECKPOINT_RESTORE");
    }

    #[test]
    fn cpu_shares_become_a_nice_value() {
        assert_eq!(nice_of_shares(1024), 0);
        assert_eq!(nice_of_shares(2), 19);
        assert_eq!(nice_of_shares(262_144), -20);
        assert_eq!(nice_of_shares(512), 3);
        let b = bundle(&base(r#","linux":{"resources":{"cpu":{"shares":1024}}}"#)).unwrap();
        assert_eq!(b.nice, Some(0));
        let b = bundle(&base(
            r#","linux":{"resources":{"cpu":{"quota":50000,"period":100000}}}"#,
        ))
        .unwrap();
        assert_eq!(
            b.cpu_quota,
            Some((Duration::from_millis(50), Duration::from_millis(100)))
        );
    }

    #[test]
    fn what_cannot_be_honoured_is_refused() {
        for (extra, word) in [
            (
                r#","hooks":{"startContainer":[{"path":"/bin/true"}]}"#,
                "startContainer",
            ),
            (
                r#","linux":{"namespaces":[{"type":"network","path":"/proc/1/ns/net"}]}"#,
                "namespace",
            ),
            (
                r#","linux":{"resources":{"cpu":{"realtimeRuntime":1000}}}"#,
                "cpu.realtimeRuntime",
            ),
            (
                r#","linux":{"uidMappings":[{"hostID":1,"containerID":0,"size":1}]}"#,
                "uidMappings",
            ),
            (
                r#","annotations":{"dev.sentry.nope":"1"}"#,
                "dev.sentry.nope",
            ),
            (
                r#","mounts":[{"destination":"/x","type":"nfs","source":"h:/"}]"#,
                "nfs",
            ),
            (
                r#","mounts":[{"destination":"x","type":"tmpfs","source":"t"}]"#,
                "absolute",
            ),
            (r#","hostname":"""#, "hostname"),
        ] {
            let err = bundle(&base(extra)).unwrap_err();
            assert!(err.contains(word), "{extra}: {err}");
        }
        assert!(bundle(r#"{"root":{"path":"/"}}"#)
            .unwrap_err()
            .contains("process"));
        assert!(bundle(r#"{"process":{"args":[]},"root":{"path":"/"}}"#)
            .unwrap_err()
            .contains("args"));
        assert!(bundle(r#"[1]"#).unwrap_err().contains("object"));
    }

    #[test]
    fn missing_and_malformed_files_are_one_line() {
        let dir = std::env::temp_dir().join(format!("sentry-bundle-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = load(&dir).unwrap_err();
        assert!(err.contains("cannot read") && !err.contains('\n'), "{err}");
        std::fs::write(dir.join("config.json"), "{ not json").unwrap();
        let err = load(&dir).unwrap_err();
        assert!(err.contains("malformed") && !err.contains('\n'), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

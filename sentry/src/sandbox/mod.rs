//! Setting up a sandbox's file system before its first instruction: the mount table
//! (rootfs, `--mount`, `--tmpfs`, /dev), the scratch directory that backs the sentry's
//! own mounts, and the gofer that serves them.

pub mod bundle;
mod confine;
pub mod container;
pub mod hooks;
mod publish;
mod run;
mod terminal;

pub use run::{prepare, run, Process, Starter, GOFER_ARG};

use crate::kernel::mounts::{normalize, Mount, MountTable, DEVICES};
use std::path::{Path, PathBuf};

/// Exit statuses of the sentry itself, after the convention of `docker run`, `chroot`, `env`.
pub const EXIT_SENTRY_FAILED: u8 = 125;
pub const EXIT_CANNOT_EXECUTE: u8 = 126;
pub const EXIT_NOT_FOUND: u8 = 127;

/// An error of the sentry itself, reported as one line with its exit status.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    CannotExecute(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::NotFound(_) => EXIT_NOT_FOUND,
            Failure::CannotExecute(_) => EXIT_CANNOT_EXECUTE,
            Failure::Usage(_) | Failure::Internal(_) => EXIT_SENTRY_FAILED,
        }
    }
}

pub use crate::config::MountRequest;

/// Parses `HOST_PATH:SANDBOX_PATH[:ro|:rw]`.
pub fn parse_mount(spec: &str) -> Result<MountRequest, String> {
    let bad = || format!("--mount '{spec}': expected HOST_PATH:SANDBOX_PATH[:ro]");
    let (rest, read_only) = match spec.rsplit_once(':') {
        Some((rest, "ro")) => (rest, true),
        Some((rest, "rw")) => (rest, false),
        _ => (spec, false),
    };
    let (host, sandbox) = rest.split_once(':').ok_or_else(bad)?;
    if host.is_empty() || sandbox.is_empty() {
        return Err(bad());
    }
    Ok(MountRequest::Bind {
        host: PathBuf::from(host),
        sandbox: sandbox_path(sandbox, "--mount")?,
        read_only,
    })
}

/// Checks and normalises a mount point given on the command line.
pub fn sandbox_path(path: &str, option: &str) -> Result<Vec<u8>, String> {
    if !path.starts_with('/') {
        return Err(format!(
            "{option} '{path}': the sandbox path must be absolute"
        ));
    }
    let normal = normalize(path.as_bytes(), 0);
    if normal == b"/" {
        return Err(format!(
            "{option} '{path}': cannot mount over the sandbox's root"
        ));
    }
    Ok(normal)
}

/// A private directory of the sentry that backs /dev, /dev/shm and `--tmpfs` mounts;
/// removed when the sandbox ends.
pub struct Scratch {
    pub dir: PathBuf,
}

impl Scratch {
    /// A new private directory under `parent` (the host's temporary directory when None).
    pub fn new(parent: Option<&Path>) -> std::io::Result<Scratch> {
        use std::os::unix::fs::DirBuilderExt;
        let mut bytes = [0u8; 8];
        // SAFETY: getrandom writes at most 8 bytes into our buffer.
        unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), 8, 0) };
        let parent = parent.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let dir = parent.join(format!(
            "sentry-{}-{:016x}",
            std::process::id(),
            u64::from_ne_bytes(bytes)
        ));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        Ok(Scratch { dir })
    }

    /// A new empty directory for a tmpfs-like mount.
    fn tmpfs(&self, name: &str, mode: u32) -> std::io::Result<PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        let path = self.dir.join(name);
        std::fs::create_dir(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        Ok(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The sandbox's /sys: what programs read to count and place CPUs (glibc's sysconf, nproc,
/// stress-ng): `devices/system/cpu` with the CPUs the sentry may run on (the sandbox's
/// affinity) online, as the host numbers them, and nothing else of the host's.
fn sysfs(scratch: &Scratch) -> std::io::Result<PathBuf> {
    let sys = scratch.tmpfs("sys", 0o755)?;
    let cpu = sys.join("devices/system/cpu");
    std::fs::create_dir_all(&cpu)?;
    let allowed = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
        .map_err(std::io::Error::from)?;
    let online: Vec<usize> = (0..nix::sched::CpuSet::count())
        .filter(|&i| allowed.is_set(i).unwrap_or(false))
        .collect();
    let last = online.last().copied().unwrap_or(0);
    std::fs::write(cpu.join("online"), format!("{}\n", cpu_list(&online)))?;
    let every: Vec<usize> = (0..=last).collect();
    for name in ["possible", "present"] {
        std::fs::write(cpu.join(name), format!("{}\n", cpu_list(&every)))?;
    }
    for i in every {
        let dir = cpu.join(format!("cpu{i}"));
        std::fs::create_dir(&dir)?;
        let state = if online.contains(&i) { "1" } else { "0" };
        std::fs::write(dir.join("online"), format!("{state}\n"))?;
    }
    Ok(sys)
}

/// A CPU list as the kernel writes one: `0-3,6`.
fn cpu_list(cpus: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        while i + 1 < cpus.len() && cpus[i + 1] == cpus[i] + 1 {
            i += 1;
        }
        parts.push(if cpus[i] == start {
            start.to_string()
        } else {
            format!("{start}-{}", cpus[i])
        });
        i += 1;
    }
    parts.join(",")
}

/// The mount table, the gofer's mount list, and the tmpfs pool (gofer index, host path).
pub type BuiltMounts = (MountTable, Vec<gofer::Mount>, (u32, PathBuf));

/// The mount table and the gofer's mount list, index for index.
pub fn build_mounts(
    rootfs: &Path,
    read_only_root: bool,
    requests: Vec<MountRequest>,
    scratch: &Scratch,
) -> Result<BuiltMounts, String> {
    let mut table = MountTable::default();
    let mut gofer_mounts = Vec::new();
    // `base`: the name of the one file inside `host` that a file bind shows ("" for a
    // directory mount).
    let mut add = |sandbox: Vec<u8>,
                   host: PathBuf,
                   read_only: bool,
                   is_dev: bool,
                   base: &str|
     -> Result<(), String> {
        let is_proc = sandbox == b"/proc";
        let host_root = host
            .canonicalize()
            .map_err(|e| format!("mount source {}: {e}", host.display()))?;
        if !host_root.is_dir() {
            return Err(format!("mount source {}: not a directory", host.display()));
        }
        table.mounts.push(Mount {
            sandbox_path: sandbox,
            gofer_index: gofer_mounts.len() as u32,
            host_root: if base.is_empty() {
                host_root.clone()
            } else {
                host_root.join(base)
            },
            read_only,
            is_dev,
            is_proc,
            base: base.as_bytes().to_vec(),
            gofer_read_only: read_only,
            is_tmpfs: host_root.starts_with(&scratch.dir),
            source: Vec::new(),
        });
        gofer_mounts.push(gofer::Mount {
            host_path: host_root,
            read_only,
        });
        Ok(())
    };
    add(
        b"/".to_vec(),
        rootfs.to_path_buf(),
        read_only_root,
        false,
        "",
    )?;
    let io = |e: std::io::Error| format!("scratch directory {}: {e}", scratch.dir.display());
    let dev = scratch.tmpfs("dev", 0o755).map_err(io)?;
    for name in DEVICES {
        std::fs::File::create(dev.join(name)).map_err(io)?;
    }
    std::fs::create_dir(dev.join("shm")).map_err(io)?;
    // The sandbox's own terminals are listed here as they are made (`syscalls::terminals`).
    std::fs::create_dir(dev.join("pts")).map_err(io)?;
    // Listed and lstat'ed through the gofer; followed by the sentry (fs::dev_link).
    for (name, target) in crate::syscalls::vfs::DEV_LINKS {
        std::os::unix::fs::symlink(target, dev.join(name)).map_err(io)?;
    }
    add(b"/dev".to_vec(), dev, true, true, "")?;
    add(
        b"/dev/shm".to_vec(),
        scratch.tmpfs("shm", 0o1777).map_err(io)?,
        false,
        false,
        "",
    )?;
    // /proc is synthesized by the sentry; its gofer mount is an empty read-only directory
    // that refuses every change (EROFS).
    add(
        b"/proc".to_vec(),
        scratch.tmpfs("proc", 0o555).map_err(io)?,
        true,
        false,
        "",
    )?;
    std::fs::create_dir(scratch.dir.join("procfs")).map_err(io)?;
    add(
        b"/sys".to_vec(),
        sysfs(scratch).map_err(io)?,
        true,
        false,
        "",
    )?;
    for (i, request) in requests.into_iter().enumerate() {
        match request {
            MountRequest::Bind {
                host,
                sandbox,
                read_only,
            } if host.is_dir() => add(sandbox, host, read_only, false, "")?,
            MountRequest::Bind {
                host,
                sandbox,
                read_only,
            } => {
                let dir = scratch.tmpfs(&format!("file{i}"), 0o755).map_err(io)?;
                bind_file(&host, &dir, read_only, &sandbox)?;
                add(sandbox, dir, read_only, false, FILE_BIND_NAME)?;
            }
            MountRequest::Tmpfs { sandbox } => {
                let dir = scratch.tmpfs(&format!("tmpfs{i}"), 0o1777).map_err(io)?;
                add(sandbox, dir, false, false, "")?;
            }
        }
    }
    // The backing of tmpfs mounts made inside the sandbox: one gofer mount, a directory
    // per tmpfs; not itself visible.
    let pool = scratch.tmpfs("tmpfs-pool", 0o700).map_err(io)?;
    let pool_index = gofer_mounts.len() as u32;
    gofer_mounts.push(gofer::Mount {
        host_path: pool.canonicalize().map_err(io)?,
        read_only: false,
    });
    Ok((table, gofer_mounts, (pool_index, pool)))
}

/// Files that engines write for each container and bind into it: a writable bind of one
/// that cannot be a hard link is a private copy.
const ENGINE_FILES: &[&str] = &[
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
    "/run/.containerenv",
];

/// The name a file bind's file has in its own scratch directory.
const FILE_BIND_NAME: &str = "file";

/// Places the source of a file bind in `dir`, a directory of its own that the gofer serves
/// (so that nothing else of the source's directory is reachable): a hard link where the
/// host allows one (the same file, writes reach it); otherwise, for a read-only bind, a
/// copy. A writable bind that cannot be linked is refused, since a copy would not carry
/// the sandbox's writes back, except for the files container engines generate for each
/// container (`ENGINE_FILES`), of which the sandbox gets a private copy.
fn bind_file(source: &Path, dir: &Path, read_only: bool, sandbox: &[u8]) -> Result<(), String> {
    let meta =
        std::fs::metadata(source).map_err(|e| format!("mount source {}: {e}", source.display()))?;
    if !meta.is_file() {
        return Err(format!(
            "mount source {}: only directories and regular files can be bound",
            source.display()
        ));
    }
    let target = dir.join(FILE_BIND_NAME);
    if std::fs::hard_link(source, &target).is_ok() {
        return Ok(());
    }
    let engine_file = ENGINE_FILES.iter().any(|f| f.as_bytes() == sandbox);
    if !read_only && !engine_file {
        return Err(format!(
            "mount source {}: a writable bind of a file needs it on the file system of the \
             sentry's state directory (a hard link); bind it read-only or bind its directory",
            source.display()
        ));
    }
    std::fs::copy(source, &target)
        .map(|_| ())
        .map_err(|e| format!("mount source {}: {e}", source.display()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_lists_read_as_the_kernel_writes_them() {
        assert_eq!(super::cpu_list(&[0, 1, 2, 3, 6]), "0-3,6");
        assert_eq!(super::cpu_list(&[1]), "1");
        assert_eq!(super::cpu_list(&[0, 2, 4, 5]), "0,2,4-5");
    }
}

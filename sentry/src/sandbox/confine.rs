//! The sentry confines its own file access with Landlock, so that a sentry an attacker took
//! over reaches, by path, only what serving the sandbox needs: the mount sources (read and
//! execute for read-only mounts; everything for writable ones, which the sandbox may change
//! anyway: the sentry walks, stats and opens them, makes the opens that may wait on a FIFO
//! or a lease, and names an fd's file with linkat itself), its scratch directory (everything: tmpfs mounts and the
//! materialized /proc files), the directory behind the sandbox's /dev/pts (everything; the
//! rest of its /dev is a read-only mount source), the host's /proc (task memory and status) and /dev
//! (the devices the sandbox's /dev offers). Nothing else of the host can be opened, listed,
//! created or executed.
//!
//! Landlock restricts the calling thread and the threads and processes it starts afterwards,
//! so this runs before the sentry starts any thread; the sandbox's tasks, forked later,
//! inherit it too (they open nothing by path themselves: an exec runs a file the sentry
//! opened, inside a mount). The gofer, started before, keeps its own seccomp confinement.
//! Signals and abstract sockets are not scoped: the sentry must still signal the gofer.

use landlock::{
    Access, AccessFs, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus,
    ABI,
};
use std::path::{Path, PathBuf};

/// How far the confinement took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confined {
    /// Every requested restriction is enforced.
    Fully,
    /// The kernel enforces only part of it (an older Landlock ABI).
    Partly,
    /// The kernel has no Landlock.
    Not,
}

/// Restricts the calling thread (and what it starts from now on) to `mount_sources` (path
/// and read-only flag: read and execute, or everything), `scratch` (everything), /proc and
/// /dev.
pub fn restrict(mount_sources: &[(PathBuf, bool)], scratch: &Path) -> Result<Confined, String> {
    let abi = ABI::V5;
    let read = AccessFs::from_read(abi);
    let all = AccessFs::from_all(abi);
    let mut rules: Vec<(&Path, _)> = mount_sources
        .iter()
        .map(|(p, read_only)| (p.as_path(), if *read_only { read } else { all }))
        .collect();
    rules.push((scratch, all));
    rules.push((Path::new("/proc"), read | AccessFs::WriteFile));
    rules.push((
        Path::new("/dev"),
        read | AccessFs::WriteFile | AccessFs::IoctlDev,
    ));
    let text = |e: landlock::RulesetError| e.to_string();
    let mut ruleset = Ruleset::default()
        .handle_access(all)
        .and_then(|r| r.create())
        .map_err(text)?;
    for (path, access) in rules {
        let fd = PathFd::new(path).map_err(|e| format!("{}: {e}", path.display()))?;
        ruleset = ruleset
            .add_rule(PathBeneath::new(fd, access))
            .map_err(text)?;
    }
    let status = ruleset.restrict_self().map_err(text)?;
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => Confined::Fully,
        RulesetStatus::PartiallyEnforced => Confined::Partly,
        RulesetStatus::NotEnforced => Confined::Not,
    })
}

//! The sandbox's mount table and path arithmetic: a sandbox path → (mount, path inside
//! the mount), and back from a host path the gofer opened to the sandbox path.
//!
//! Paths are normalised lexically (`.` and `..` folded, `..` never above `/`) before the
//! mount is chosen; symbolic links are then resolved by the gofer inside that mount
//! (RESOLVE_IN_ROOT), so a link is followed within the mount that holds it.

use std::path::PathBuf;

/// One mount of the sandbox.
#[derive(Debug, Clone)]
pub struct Mount {
    /// Where it appears in the sandbox: normalised, absolute, no trailing slash ("/" for the root).
    pub sandbox_path: Vec<u8>,
    /// The gofer's index for its source.
    pub gofer_index: u32,
    /// Its source on the host, canonical, to map host paths of opened fds back.
    pub host_root: PathBuf,
    pub read_only: bool,
    /// The synthetic /dev: a few names open the host's devices, nothing else of /dev.
    pub is_dev: bool,
    /// The synthesized /proc (`crate::proc`).
    pub is_proc: bool,
    /// The directory inside the gofer's mount this one shows ("" for its root): bind
    /// mounts and tmpfs mounts made inside the sandbox are views of a gofer mount.
    pub base: Vec<u8>,
    /// Whether the gofer itself refuses writes to the source; otherwise a read-only view
    /// is enforced by the sentry.
    pub gofer_read_only: bool,
    /// A tmpfs of the sandbox's (`--tmpfs`, /dev/shm, mount -t tmpfs), and the source name
    /// /proc/mounts shows for it.
    pub is_tmpfs: bool,
    pub source: Vec<u8>,
}

impl Mount {
    /// The path to give the gofer for `rel` inside this mount.
    pub fn gofer_path(&self, rel: &[u8]) -> Vec<u8> {
        if self.base.is_empty() {
            return rel.to_vec();
        }
        let mut path = self.base.clone();
        if rel != b"." {
            path.push(b'/');
            path.extend_from_slice(rel);
        }
        path
    }
}

/// A mount source that another process fills when asked, the first time the sandbox looks
/// into it: the sandbox's /sys, which the janitor writes (`sandbox::janitor`), most
/// programs never reading it. Nothing in it is looked at before the fill is over, except
/// names under a top-level entry the fill never makes: those are missing either way (the
/// tree is read-only to the sandbox), and libselinux's start looks for /sys/fs/selinux in
/// every program linked with it (tar, ls, cp), which paid the whole fill for it.
#[derive(Debug)]
pub struct LateFill {
    /// The gofer's index of the mount source.
    pub gofer_index: u32,
    /// The entries the fill makes at the top of the tree.
    top: &'static [&'static str],
    /// The socket to the filler: a byte asks for the fill, and the filler answers with a
    /// byte once the tree is written; its end closes without one if the fill failed or
    /// the filler died.
    filler: std::os::fd::OwnedFd,
    state: FillState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FillState {
    Unasked,
    Filled,
    Failed,
}

impl LateFill {
    pub fn new(
        gofer_index: u32,
        top: &'static [&'static str],
        filler: std::os::fd::OwnedFd,
    ) -> LateFill {
        LateFill {
            gofer_index,
            top,
            filler,
            state: FillState::Unasked,
        }
    }

    /// Whether a look at `rel` (a normalized path inside the mount, "." or "" for its root)
    /// may see what the fill makes: the root, and anything under one of its top-level
    /// entries.
    pub fn covers(&self, rel: &[u8]) -> bool {
        let first = rel
            .split(|&b| b == b'/')
            .find(|c| !c.is_empty() && *c != b".");
        first.is_none_or(|first| self.top.iter().any(|t| t.as_bytes() == first))
    }

    /// Asks for the fill and waits for its end (at once after the first time): whether it
    /// succeeded.
    pub fn wait(&mut self) -> bool {
        if self.state == FillState::Unasked {
            self.state = if ask(&self.filler) && read_byte(&self.filler) == Some(1) {
                FillState::Filled
            } else {
                tracing::warn!("sentry: the sandbox's /sys could not be written");
                FillState::Failed
            };
        }
        self.state == FillState::Filled
    }
}

/// Sends the byte that asks a filler for its fill: whether it went. MSG_NOSIGNAL: a filler
/// that died is an error here, not a SIGPIPE.
fn ask(filler: &std::os::fd::OwnedFd) -> bool {
    use nix::sys::socket::{send, MsgFlags};
    use std::os::fd::AsRawFd;
    loop {
        match send(filler.as_raw_fd(), &[1], MsgFlags::MSG_NOSIGNAL) {
            Err(nix::errno::Errno::EINTR) => {}
            sent => return sent == Ok(1),
        }
    }
}

/// Reads the pipe `fd` to its end (the janitor's exec pipe: until its exec).
pub fn until_end(fd: &std::os::fd::OwnedFd) {
    while read_byte(fd).is_some() {}
}

/// One byte of `fd`; None at its end (or on an error other than EINTR).
fn read_byte(fd: &std::os::fd::OwnedFd) -> Option<u8> {
    use std::os::fd::AsRawFd;
    let mut byte = 0u8;
    loop {
        // SAFETY: read writes at most one byte into our buffer, from an fd we borrow.
        match unsafe { libc::read(fd.as_raw_fd(), (&mut byte as *mut u8).cast(), 1) } {
            1 => return Some(byte),
            n if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) => {}
            _ => return None,
        }
    }
}

/// The mounts of the sandbox, in the order they were made.
#[derive(Debug, Clone, Default)]
pub struct MountTable {
    pub mounts: Vec<Mount>,
}

/// Host devices the sandbox's /dev offers.
pub const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty", "ptmx"];

impl MountTable {
    /// The mount that holds `path` (normalised, absolute) and the path inside it
    /// (relative, "." for the mount's root). The latest mount at the longest prefix wins.
    pub fn lookup<'a>(&self, path: &'a [u8]) -> Option<(usize, &'a [u8])> {
        let mut best: Option<(usize, usize)> = None;
        for (i, m) in self.mounts.iter().enumerate() {
            let prefix = &m.sandbox_path;
            let matches = prefix == b"/"
                || path == prefix.as_slice()
                || (path.starts_with(prefix) && path.get(prefix.len()) == Some(&b'/'));
            if matches && best.is_none_or(|(_, len)| prefix.len() >= len) {
                best = Some((i, prefix.len()));
            }
        }
        let (index, len) = best?;
        let rest = &path[len.min(path.len())..];
        let rest = rest.strip_prefix(b"/").unwrap_or(rest);
        Some((index, if rest.is_empty() { b"." } else { rest }))
    }

    /// The latest mount whose mount point is exactly `path`.
    pub fn mount_point(&self, path: &[u8]) -> Option<usize> {
        self.mounts.iter().rposition(|m| m.sandbox_path == path)
    }

    /// The sandbox path of a host path inside one of the mounts' sources.
    pub fn sandbox_path_of(&self, host: &[u8]) -> Option<Vec<u8>> {
        let mut best: Option<(&Mount, usize)> = None;
        for m in &self.mounts {
            let root = m.host_root.as_os_str().as_encoded_bytes();
            let inside = host == root
                || root == b"/"
                || (host.starts_with(root) && host.get(root.len()) == Some(&b'/'));
            if inside && best.is_none_or(|(_, len)| root.len() > len) {
                best = Some((m, root.len()));
            }
        }
        let (m, len) = best?;
        let rest = if m.host_root.as_os_str() == "/" {
            host
        } else {
            &host[len..]
        };
        Some(join(&m.sandbox_path, rest))
    }
}

/// `base` + "/" + `rest`, normalised.
pub fn join(base: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut joined = base.to_vec();
    joined.push(b'/');
    joined.extend_from_slice(rest);
    normalize(&joined, 0)
}

/// Folds `.`, `..` and repeated slashes of an absolute path; `..` stops at the first
/// `floor` components (a chroot's root), and always at `/`.
pub fn normalize(path: &[u8], floor: usize) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in path.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if parts.len() > floor {
                    parts.pop();
                }
            }
            name => parts.push(name),
        }
    }
    let mut out = Vec::with_capacity(path.len() + 1);
    for part in &parts {
        out.push(b'/');
        out.extend_from_slice(part);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// How many components an absolute normalised path has.
pub fn depth(path: &[u8]) -> usize {
    path.split(|&b| b == b'/').filter(|p| !p.is_empty()).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn a_late_fill_is_asked_for_and_over_with_its_byte() {
        use std::os::unix::net::UnixStream;
        let (sentry, janitor) = UnixStream::pair().expect("socketpair");
        // The janitor's answer, waiting before the ask: the socket holds both.
        (&janitor).write_all(&[1]).expect("answer");
        let mut fill = LateFill::new(3, &["kernel"], sentry.into());
        assert!(fill.wait(), "the byte says the fill is over");
        assert!(fill.wait());
        let mut asked = [0u8; 2];
        janitor.set_nonblocking(true).expect("nonblocking");
        assert_eq!((&janitor).read(&mut asked).ok(), Some(1), "asked once");
    }

    #[test]
    fn a_late_fill_covers_its_root_and_its_top_level_entries_only() {
        use std::os::unix::net::UnixStream;
        let (sentry, _janitor) = UnixStream::pair().expect("socketpair");
        let fill = LateFill::new(3, &["class", "kernel"], sentry.into());
        for covered in [
            &b""[..],
            b".",
            b"/",
            b"kernel",
            b"kernel/mm",
            b"/class/net/lo",
        ] {
            assert!(fill.covers(covered), "{}", String::from_utf8_lossy(covered));
        }
        for missing in [&b"fs"[..], b"fs/selinux", b"/kern", b"kernelx/mm", b"block"] {
            assert!(
                !fill.covers(missing),
                "{}",
                String::from_utf8_lossy(missing)
            );
        }
    }

    #[test]
    fn a_late_fill_failed_without_its_byte_at_every_look() {
        use std::os::unix::net::UnixStream;
        // The janitor reads the ask and ends its side without the byte.
        let (sentry, janitor) = UnixStream::pair().expect("socketpair");
        janitor
            .shutdown(std::net::Shutdown::Write)
            .expect("shutdown");
        let mut fill = LateFill::new(3, &["kernel"], sentry.into());
        assert!(!fill.wait());
        assert!(!fill.wait());
        // The janitor is gone: the ask itself fails, without a SIGPIPE.
        let (sentry, janitor) = UnixStream::pair().expect("socketpair");
        drop(janitor);
        let mut fill = LateFill::new(3, &["kernel"], sentry.into());
        assert!(!fill.wait());
    }

    fn table() -> MountTable {
        let mount = |path: &str, index: u32, host: &str| Mount {
            sandbox_path: path.as_bytes().to_vec(),
            gofer_index: index,
            host_root: PathBuf::from(host),
            read_only: false,
            is_dev: false,
            is_proc: false,
            base: Vec::new(),
            gofer_read_only: false,
            is_tmpfs: false,
            source: Vec::new(),
        };
        MountTable {
            mounts: vec![
                mount("/", 0, "/srv/root"),
                mount("/data", 1, "/host/data"),
                mount("/data/sub", 2, "/tmp/x"),
            ],
        }
    }

    #[test]
    fn normalize_folds_dots_and_never_rises_above_root() {
        assert_eq!(normalize(b"/a/./b/../c//d/", 0), b"/a/c/d");
        assert_eq!(normalize(b"/../../etc", 0), b"/etc");
        assert_eq!(normalize(b"/", 0), b"/");
        assert_eq!(normalize(b"/jail/../../x", 1), b"/jail/x");
    }

    #[test]
    fn lookup_takes_the_longest_mount_prefix_on_component_boundaries() {
        let t = table();
        assert_eq!(t.lookup(b"/etc/passwd"), Some((0, &b"etc/passwd"[..])));
        assert_eq!(t.lookup(b"/data"), Some((1, &b"."[..])));
        assert_eq!(t.lookup(b"/data/f"), Some((1, &b"f"[..])));
        assert_eq!(t.lookup(b"/database"), Some((0, &b"database"[..])));
        assert_eq!(t.lookup(b"/data/sub/y"), Some((2, &b"y"[..])));
        assert_eq!(t.lookup(b"/"), Some((0, &b"."[..])));
    }

    #[test]
    fn host_paths_map_back_to_sandbox_paths() {
        let t = table();
        assert_eq!(t.sandbox_path_of(b"/srv/root/etc"), Some(b"/etc".to_vec()));
        assert_eq!(t.sandbox_path_of(b"/srv/root"), Some(b"/".to_vec()));
        assert_eq!(
            t.sandbox_path_of(b"/host/data/q"),
            Some(b"/data/q".to_vec())
        );
        assert_eq!(t.sandbox_path_of(b"/elsewhere"), None);
    }
}

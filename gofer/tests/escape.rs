//! Nothing outside a mount root is reachable: `..`, absolute symlinks, `/../..`, magic links,
//! and directories swapped for symlinks while lookups run.

mod common;

use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::*;
use gofer::{Client, Errno};

/// outer/secret = "OUTSIDE"; outer/root is the mount, with root/secret = "inside".
struct Layout {
    outer: TempDir,
}

impl Layout {
    fn new(tag: &str) -> Layout {
        let outer = TempDir::new(tag);
        std::fs::write(outer.join("secret"), b"OUTSIDE").unwrap();
        std::fs::create_dir_all(outer.join("root/sub/deeper")).unwrap();
        std::fs::write(outer.join("root/secret"), b"inside").unwrap();
        Layout { outer }
    }
    fn root(&self) -> std::path::PathBuf {
        self.outer.join("root")
    }
}

/// Opens `path` and checks the fd is beneath `root` and never the outside secret.
fn open_checked(c: &mut Client, root: &Path, path: &[u8]) -> Result<Vec<u8>, Errno> {
    let fd: OwnedFd = c.open(0, path, libc::O_RDONLY, 0)?;
    let real = fd_path(&fd);
    assert!(
        real.starts_with(root),
        "{} escaped to {}",
        String::from_utf8_lossy(path),
        real.display()
    );
    let data = read_fd(&fd);
    assert_ne!(data, b"OUTSIDE");
    Ok(data)
}

#[test]
fn dotdot_stays_at_the_root() {
    let l = Layout::new("dotdot");
    let root = l.root();
    let mut c = spawn(&[(&root, false)]);
    for p in [
        &b"../secret"[..],
        b"../../../../../../secret",
        b"sub/../../secret",
        b"sub/deeper/../../../../secret",
        b"/../secret",
    ] {
        assert_eq!(
            open_checked(&mut c, &root, p).unwrap(),
            b"inside",
            "{}",
            String::from_utf8_lossy(p)
        );
    }
    assert_eq!(
        c.stat(0, b"..", true).unwrap().st_ino,
        c.stat(0, b"", true).unwrap().st_ino
    );
    // Parent-relative operations too: ".." at the root names the root.
    c.mkdir(0, b"../../made", 0o755).unwrap();
    assert!(root.join("made").is_dir() && !l.outer.join("made").exists());
    c.symlink(0, b"../sl", b"x").unwrap();
    assert!(
        root.join("sl").symlink_metadata().is_ok()
            && l.outer.join("sl").symlink_metadata().is_err()
    );
    c.unlink(0, b"sub/../../../secret", 0).unwrap();
    assert!(l.outer.join("secret").exists() && !root.join("secret").exists());
}

#[test]
fn absolute_and_dotdot_symlinks_stay_inside() {
    let l = Layout::new("symlinks");
    let root = l.root();
    let host_secret = l.outer.join("secret");
    std::os::unix::fs::symlink(&host_secret, root.join("abs")).unwrap();
    std::os::unix::fs::symlink("/secret", root.join("rooted")).unwrap();
    std::os::unix::fs::symlink("/../..", root.join("sub/up")).unwrap();
    std::os::unix::fs::symlink("../../../..", root.join("sub/deeper/rel")).unwrap();
    std::os::unix::fs::symlink(&l.outer.path, root.join("outerdir")).unwrap();
    let mut c = spawn(&[(&root, false)]);

    // The host's absolute path is looked up beneath the root, where it does not exist.
    assert_outside(open_checked(&mut c, &root, b"abs").unwrap_err());
    assert_outside(open_checked(&mut c, &root, b"outerdir/secret").unwrap_err());
    assert_eq!(open_checked(&mut c, &root, b"rooted").unwrap(), b"inside");
    assert_eq!(
        open_checked(&mut c, &root, b"sub/up/secret").unwrap(),
        b"inside"
    );
    assert_eq!(
        open_checked(&mut c, &root, b"sub/deeper/rel/secret").unwrap(),
        b"inside"
    );
    assert_outside(c.stat(0, b"abs", true).unwrap_err());
    assert_eq!(
        c.stat(0, b"sub/up", true).unwrap().st_ino,
        c.stat(0, b"", true).unwrap().st_ino
    );

    // Operations that follow: chmod, truncate, xattrs, hard link with follow, connect.
    let before = std::fs::metadata(&host_secret).unwrap();
    assert_outside(c.chmod(0, b"abs", 0o777).unwrap_err());
    assert_outside(c.truncate(0, b"outerdir/secret", 0).unwrap_err());
    assert_outside(c.setxattr(0, b"abs", b"user.x", b"1", 0, true).unwrap_err());
    assert_outside(c.link(0, b"abs", 0, b"hl", true).unwrap_err());
    assert_outside(c.utimens(0, b"abs", None, true).unwrap_err());
    assert_eq!(std::fs::read(&host_secret).unwrap(), b"OUTSIDE");
    assert_eq!(
        std::fs::metadata(&host_secret).unwrap().permissions(),
        before.permissions()
    );
    // A hard link of the symlink itself is a symlink (still pointing at a path, not the file).
    c.link(0, b"abs", 0, b"hl2", false).unwrap();
    assert!(root
        .join("hl2")
        .symlink_metadata()
        .unwrap()
        .file_type()
        .is_symlink());
    // Creating through a dangling-looking absolute symlink creates inside.
    std::os::unix::fs::symlink(l.outer.join("created"), root.join("mk")).unwrap();
    let made = c.open(0, b"mk", libc::O_CREAT | libc::O_WRONLY, 0o600);
    assert!(!l.outer.join("created").exists());
    if let Ok(fd) = made {
        assert!(fd_path(&fd).starts_with(&root));
    }
}

/// In a mount other than the first, a symlink that leads out of it (absolute, or `..`
/// above its root) is answered EREMOTE, for the caller to resolve across its mounts; links
/// that stay inside work; nothing outside is reached.
#[test]
fn links_leaving_a_second_mount_are_remote() {
    let l = Layout::new("remote");
    let root = l.root();
    let second = l.outer.join("second");
    std::fs::create_dir_all(second.join("d")).unwrap();
    std::fs::write(second.join("d/f"), b"second").unwrap();
    std::os::unix::fs::symlink("/secret", second.join("abs")).unwrap();
    std::os::unix::fs::symlink("../secret", second.join("up")).unwrap();
    std::os::unix::fs::symlink("d/f", second.join("rel")).unwrap();
    std::os::unix::fs::symlink("/d", second.join("absdir")).unwrap();
    let mut c = spawn(&[(&root, false), (&second, false)]);
    for p in [&b"abs"[..], b"up", b"absdir/f"] {
        assert_eq!(
            c.open(1, p, libc::O_RDONLY, 0).unwrap_err(),
            Errno::EREMOTE,
            "{}",
            String::from_utf8_lossy(p)
        );
    }
    assert_eq!(c.stat(1, b"abs", true).unwrap_err(), Errno::EREMOTE);
    // Not followed: the link itself.
    assert_eq!(c.readlink(1, b"abs").unwrap(), b"/secret");
    assert_eq!(
        c.stat(1, b"abs", false).unwrap().st_mode & libc::S_IFMT,
        libc::S_IFLNK
    );
    let fd = c.open(1, b"rel", libc::O_RDONLY, 0).unwrap();
    assert!(fd_path(&fd).starts_with(&second));
    // In the first mount an absolute link starts again at its root; a lookup that fails
    // after a link may have needed another mount (EREMOTE), one without a link is ENOENT.
    std::os::unix::fs::symlink("/secret", root.join("abs")).unwrap();
    assert_eq!(open_checked(&mut c, &root, b"abs").unwrap(), b"inside");
    std::os::unix::fs::symlink("sub/../proc/self/mounts", root.join("mtab")).unwrap();
    assert_eq!(
        c.open(0, b"mtab", libc::O_RDONLY, 0).unwrap_err(),
        Errno::EREMOTE
    );
    assert_eq!(
        c.open(0, b"sub/missing", libc::O_RDONLY, 0).unwrap_err(),
        Errno::ENOENT
    );
}

#[test]
fn unix_socket_outside_is_unreachable() {
    let l = Layout::new("sock");
    let root = l.root();
    let host_sock = l.outer.join("host.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&host_sock).unwrap();
    std::os::unix::fs::symlink(&host_sock, root.join("s")).unwrap();
    std::os::unix::fs::symlink("../host.sock", root.join("s2")).unwrap();
    let mut c = spawn(&[(&root, false)]);
    assert_outside(c.connect_unix(0, b"s", libc::SOCK_STREAM).unwrap_err());
    assert_outside(c.connect_unix(0, b"s2", libc::SOCK_STREAM).unwrap_err());
    assert_outside(
        c.connect_unix(0, b"../host.sock", libc::SOCK_STREAM)
            .unwrap_err(),
    );
    // bind through a symlinked parent directory pointing outside: created inside or refused.
    std::os::unix::fs::symlink(&l.outer.path, root.join("out")).unwrap();
    assert_outside(
        c.bind_unix(0, b"out/new.sock", libc::SOCK_STREAM)
            .unwrap_err(),
    );
    assert!(!l.outer.join("new.sock").exists());
}

/// The host's /proc, /sys and the like are never served: not as a mount, and not through a
/// mount point inside one (a rootfs of `/`). Magic links are refused as well.
#[test]
fn kernel_interfaces_and_magic_links_are_refused() {
    let l = Layout::new("magic");
    let root = l.root();
    std::os::unix::fs::symlink("/proc/self/root/etc/passwd", root.join("pw")).unwrap();
    // Mount 1 is the host's /proc, mount 2 the host's root (with /proc and /sys in it).
    let mut c = spawn(&[
        (&root, false),
        (Path::new("/proc"), true),
        (Path::new("/"), true),
    ]);

    // Inside a normal mount, "/proc/self/root" is just a path beneath the root.
    assert_outside(c.open(0, b"pw", libc::O_RDONLY, 0).unwrap_err());
    for (m, p) in [
        (1, &b"self/root/etc/passwd"[..]),
        (1, b"self/status"),
        (1, b"1/cmdline"),
        (1, b""),
        (2, b"proc/self/status"),
        (2, b"proc/1/environ"),
        (2, b"sys/kernel"),
        (2, b"dev/pts/ptmx"),
    ] {
        let name = String::from_utf8_lossy(p);
        let e = c.open(m, p, libc::O_RDONLY, 0).unwrap_err();
        assert!(
            e == Errno::EACCES || e == Errno::ENOENT,
            "{m}:{name}: {e:?}"
        );
        let e = c.open(m, p, libc::O_PATH, 0).unwrap_err();
        assert!(
            e == Errno::EACCES || e == Errno::ENOENT,
            "{m}:{name} O_PATH: {e:?}"
        );
    }
    assert_eq!(c.stat(1, b"self", false).unwrap_err(), Errno::EACCES);
    assert_eq!(
        c.getxattr(1, b"self/root", b"user.x", &mut [], false)
            .unwrap_err(),
        Errno::EACCES
    );
    assert_eq!(
        c.statx(2, b"proc/self/cwd", false, 0, libc::STATX_BASIC_STATS)
            .unwrap_err(),
        Errno::EACCES
    );
    // The rest of the host's root is served (read-only here).
    assert!(c.open(2, b"etc/hostname", libc::O_RDONLY, 0).is_ok());
}

/// Swaps `root/d` (a real directory) with a symlink to the outside, as fast as it can, while the
/// main thread resolves paths through `d`. No lookup may ever reach the outside.
#[test]
fn directory_swapped_with_symlink_during_lookups() {
    const ROUNDS: usize = 20_000;
    let l = Layout::new("swap");
    let root = l.root();
    std::fs::create_dir(root.join("d")).unwrap();
    std::fs::write(root.join("d/f"), b"inside-d").unwrap();
    std::fs::create_dir(root.join("d/victim")).unwrap();
    std::fs::write(l.outer.join("f"), b"OUTSIDE").unwrap();
    std::fs::create_dir(l.outer.join("victim")).unwrap();
    // Two attack links, exchanged with d in turn: absolute host path, and a `..` chain.
    std::os::unix::fs::symlink(&l.outer.path, root.join("evil_abs")).unwrap();
    std::os::unix::fs::symlink("../../../../../..", root.join("evil_rel")).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        let started = started.clone();
        let d = CString::new(root.join("d").as_os_str().as_bytes()).unwrap();
        let a = CString::new(root.join("evil_abs").as_os_str().as_bytes()).unwrap();
        let r = CString::new(root.join("evil_rel").as_os_str().as_bytes()).unwrap();
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let other = if swaps.is_multiple_of(2) { &a } else { &r };
                // SAFETY: two NUL-terminated paths; RENAME_EXCHANGE swaps them atomically.
                let rc = unsafe {
                    libc::renameat2(
                        libc::AT_FDCWD,
                        d.as_ptr(),
                        libc::AT_FDCWD,
                        other.as_ptr(),
                        libc::RENAME_EXCHANGE,
                    )
                };
                assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
                swaps += 1;
                started.store(true, Ordering::Release);
            }
            swaps
        })
    };

    let mut c = spawn(&[(&root, false)]);
    // Start only once the swapping is under way.
    while !started.load(Ordering::Acquire) {
        std::thread::yield_now();
    }
    let mut hits = 0;
    for i in 0..ROUNDS {
        if let Ok(data) = open_checked(&mut c, &root, b"d/f") {
            assert_ne!(data, b"OUTSIDE");
            hits += 1;
        }
        if let Ok(st) = c.stat(0, b"d/f", true) {
            assert_ne!(
                st.st_ino,
                std::fs::metadata(l.outer.join("f")).unwrap().ino_()
            );
        }
        // Parent-relative writes through d must land inside or fail.
        let _ = c.mkdir(0, b"d/victim/x", 0o755);
        let _ = c.unlink(0, b"d/victim/x", libc::AT_REMOVEDIR);
        let _ = c.symlink(0, b"d/planted", b"/etc/shadow");
        let _ = c.unlink(0, b"d/planted", 0);
        if i.is_multiple_of(64) {
            let _ = c.truncate(0, b"d/f", 8);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    // The outside is untouched.
    assert_eq!(std::fs::read(l.outer.join("f")).unwrap(), b"OUTSIDE");
    assert!(!l.outer.join("victim/x").exists());
    assert!(l.outer.join("planted").symlink_metadata().is_err());
    eprintln!("swap race: {ROUNDS} rounds, {hits} reads of the real file, {swaps} swaps");
}

trait Ino {
    fn ino_(&self) -> u64;
}
impl Ino for std::fs::Metadata {
    fn ino_(&self) -> u64 {
        std::os::unix::fs::MetadataExt::ino(self)
    }
}

/// A path through a symlink that leads out of its mount reaches nothing outside: ENOENT, or
/// EREMOTE (the link leads out of the mount; the caller resolves where it goes).
fn assert_outside(e: Errno) {
    assert!(e == Errno::ENOENT || e == Errno::EREMOTE, "{e:?}");
}

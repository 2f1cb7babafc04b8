//! Calls that change nothing (stat, statx, access, readlink, read-only opens) are served by
//! the client in its own process, by the same handlers the gofer runs, on its own fds of the
//! mount roots. Each answers exactly as the gofer process does, and stays beneath the root:
//! `..`, absolute and relative links out, loops and missing names included.

mod common;

use common::*;
use gofer::{Client, Errno};

type Answer = Result<Vec<u8>, Errno>;

/// A regular file's content, or its type.
fn content(fd: std::os::fd::OwnedFd) -> Vec<u8> {
    let st = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&fd)).expect("fstat");
    if st.st_mode & libc::S_IFMT == libc::S_IFREG {
        read_fd(&fd)
    } else {
        format!("mode {:o}", st.st_mode).into_bytes()
    }
}

fn answers(c: &mut Client, path: &[u8]) -> Vec<Answer> {
    let stat = |st: libc::stat| format!("{} {:o} {}", st.st_ino, st.st_mode, st.st_size);
    let mut out = Vec::new();
    for follow in [true, false] {
        out.push(c.stat(0, path, follow).map(|st| stat(st).into_bytes()));
        out.push(
            c.statx(0, path, follow, 0, libc::STATX_BASIC_STATS)
                .map(|st| format!("{} {:o}", st.stx_ino, st.stx_mode).into_bytes()),
        );
    }
    out.push(c.readlink(0, path));
    out.push(c.access(0, path, libc::R_OK, 0).map(|()| Vec::new()));
    out.push(c.access(0, path, libc::W_OK, 0).map(|()| Vec::new()));
    out.push(c.open(0, path, libc::O_RDONLY, 0).map(content));
    out.push(
        c.open(0, path, libc::O_RDONLY | libc::O_NOFOLLOW, 0)
            .map(content),
    );
    out.push(c.open_exec(0, path).map(content));
    // The xattr reads: one name in a kept directory is read there (getxattrat and
    // listxattrat, never following a final link), anything else through the full walk.
    for follow in [true, false] {
        let mut value = [0u8; 64];
        let got = c.getxattr(0, path, b"user.k", &mut value, follow);
        out.push(got.map(|n| value[..n].to_vec()));
        out.push(
            c.getxattr(0, path, b"user.k", &mut [], follow)
                .map(|n| n.to_string().into_bytes()),
        );
        let mut names = [0u8; 256];
        let listed = c.listxattr(0, path, &mut names, follow);
        out.push(listed.map(|n| names[..n].to_vec()));
    }
    out
}

/// Sets the user xattr `user.k` of `path` (the test's own files, on a file system that
/// takes user xattrs).
fn set_user_k(path: &std::path::Path, value: &[u8]) {
    let p = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: NUL-terminated path and name; the value is `value.len()` readable bytes.
    let r = unsafe {
        libc::setxattr(
            p.as_ptr(),
            c"user.k".as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    assert_eq!(
        r,
        0,
        "setxattr {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

#[test]
fn local_walks_answer_as_the_gofer_does() {
    let outer = TempDir::new("local-walks");
    std::fs::write(outer.join("secret"), b"OUTSIDE").unwrap();
    let root = outer.join("root");
    std::fs::create_dir_all(root.join("d/e")).unwrap();
    std::fs::write(root.join("f"), b"inside").unwrap();
    std::fs::write(root.join("secret"), b"inside secret").unwrap();
    let link = |target: &str, name: &str| std::os::unix::fs::symlink(target, root.join(name));
    link("f", "rel").unwrap();
    link("/secret", "abs").unwrap();
    link("../../secret", "up").unwrap();
    link("loop", "loop").unwrap();
    link("d/e", "dir").unwrap();
    std::os::unix::fs::symlink("../f", root.join("d/rel")).unwrap();
    std::os::unix::fs::symlink("/secret", root.join("d/abs")).unwrap();
    std::os::unix::fs::symlink("../../../secret", root.join("d/e/up")).unwrap();
    std::fs::write(root.join("d/e/g"), b"deep").unwrap();
    // A program (an execute bit) and a link to it, for the exec opens.
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(root.join("d/e/x"), b"program").unwrap();
    std::fs::set_permissions(root.join("d/e/x"), std::fs::Permissions::from_mode(0o755)).unwrap();
    link("d/e/x", "xl").unwrap();
    set_user_k(&outer.join("secret"), b"OUTSIDE");
    set_user_k(&root.join("f"), b"inside");
    set_user_k(&root.join("secret"), b"inside secret");
    set_user_k(&root.join("d/e/g"), b"deep");
    set_user_k(&root.join("d/e"), b"a directory");
    let mut local = spawn_walking_locally(&[(&root, false)]);
    let mut remote = spawn(&[(&root, false)]);
    for path in [
        &b""[..],
        b"f",
        b"d",
        b"d/",
        b"rel",
        b"abs",
        b"up",
        b"loop",
        b"dir/",
        b"missing",
        b"f/x",
        b"../secret",
        b"/../secret",
        b"d/../../secret",
        // Names in directories below the root, which the walker keeps once resolved:
        // each is asked twice (below), the second time from the kept directory.
        b"d/e",
        b"d/e/",
        b"d/e/g",
        b"d/e/x",
        b"xl",
        b"d/e/missing",
        b"d/e/up",
        b"d/rel",
        b"d/abs",
        b"dir/g",
        b"dir/up",
        b"dir/missing",
        b"d/e/g/x",
        b"d/e/../../secret",
    ] {
        let first = answers(&mut local, path);
        let here = answers(&mut local, path);
        assert_eq!(first, here, "{}", String::from_utf8_lossy(path));
        let there = answers(&mut remote, path);
        assert_eq!(here, there, "{}", String::from_utf8_lossy(path));
        for answer in here.iter().flatten() {
            assert_ne!(answer.as_slice(), b"OUTSIDE");
        }
    }
    // A read-only mount answers EROFS the same way; writes always go to the gofer.
    let mut local_ro = spawn_walking_locally(&[(&root, true)]);
    let mut remote_ro = spawn(&[(&root, true)]);
    assert_eq!(answers(&mut local_ro, b"f"), answers(&mut remote_ro, b"f"));
    assert_eq!(local.mkdir(0, b"made", 0o755), Ok(()));
    assert!(root.join("made").is_dir());
}

/// What the sandbox changes through the gofer is seen at once, although the walker keeps
/// the directories it resolved: every request that may change a tree forgets them.
#[test]
fn kept_directories_are_forgotten_when_the_sandbox_changes_a_tree() {
    let outer = TempDir::new("local-kept");
    let root = outer.join("root");
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    std::fs::write(root.join("a/b/f"), b"one").unwrap();
    let mut c = spawn_walking_locally(&[(&root, false)]);
    assert!(c.stat(0, b"a/b/f", true).is_ok());
    // The kept directory a/b is renamed away, and another made in its place.
    assert_eq!(c.rename(0, b"a/b", 0, b"a/moved", 0), Ok(()));
    assert_eq!(c.stat(0, b"a/b/f", true).err(), Some(Errno::ENOENT));
    assert_eq!(c.mkdir(0, b"a/b", 0o755), Ok(()));
    assert_eq!(c.stat(0, b"a/b/f", true).err(), Some(Errno::ENOENT));
    assert!(c.stat(0, b"a/moved/f", true).is_ok());
    let fd = c.open(0, b"a/moved/f", libc::O_RDONLY, 0).expect("open");
    assert_eq!(read_fd(&fd), b"one");
}

/// A tree the host changes under a running sandbox: with the cache on, a directory kept
/// before the host moved it may still be seen where it was; with it off, every call walks
/// its whole path again and sees the change at once.
#[test]
fn without_the_cache_host_changes_show_at_once() {
    let outer = TempDir::new("local-host-changes");
    let root = outer.join("root");
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    std::fs::write(root.join("a/b/f"), b"one").unwrap();
    let mut c = spawn_walking_locally(&[(&root, false)]);
    c.set_lookup_cache(false);
    assert!(c.stat(0, b"a/b/f", true).is_ok());
    std::fs::rename(root.join("a/b"), root.join("a/moved")).unwrap();
    assert_eq!(c.stat(0, b"a/b/f", true).err(), Some(Errno::ENOENT));
    assert_eq!(
        c.open(0, b"a/b/f", libc::O_RDONLY, 0).err(),
        Some(Errno::ENOENT)
    );
    // With it on: what the walker kept is what it answers from until the sandbox changes
    // something, here the directory where the host moved it.
    c.set_lookup_cache(true);
    assert!(c.stat(0, b"a/moved/f", true).is_ok());
    std::fs::rename(root.join("a/moved"), root.join("a/b")).unwrap();
    assert!(c.stat(0, b"a/moved/f", true).is_ok(), "seen as it was");
    assert_eq!(c.mkdir(0, b"x", 0o755), Ok(()));
    assert_eq!(c.stat(0, b"a/moved/f", true).err(), Some(Errno::ENOENT));
}

//! Read-only mounts refuse every write with EROFS (keeping Linux's precedence of other errors);
//! no mount lets a device be created or opened.

mod common;

use std::os::unix::fs::MetadataExt;

use common::*;
use gofer::{Errno, Timespec};

#[test]
fn every_write_on_a_read_only_mount_is_erofs() {
    let t = TempDir::new("ro");
    std::fs::write(t.join("f"), b"data").unwrap();
    std::fs::create_dir(t.join("d")).unwrap();
    std::fs::create_dir(t.join("empty")).unwrap();
    std::os::unix::fs::symlink("f", t.join("l")).unwrap();
    let before = std::fs::metadata(t.join("f")).unwrap();
    let mut c = spawn(&[(&t.path, true)]);
    let ro = Errno::EROFS;

    for flags in [
        libc::O_WRONLY,
        libc::O_RDWR,
        libc::O_RDONLY | libc::O_TRUNC,
        libc::O_WRONLY | libc::O_CREAT,
    ] {
        assert_eq!(
            c.open(0, b"f", flags, 0o644).unwrap_err(),
            ro,
            "flags {flags:#o}"
        );
        assert_eq!(
            c.open(0, b"l", flags, 0o644).unwrap_err(),
            ro,
            "via symlink, flags {flags:#o}"
        );
    }
    assert_eq!(
        c.open(0, b"new", libc::O_CREAT | libc::O_WRONLY, 0o644)
            .unwrap_err(),
        ro
    );
    assert_eq!(
        c.open(0, b"new", libc::O_CREAT | libc::O_RDONLY, 0o644)
            .unwrap_err(),
        ro
    );
    assert_eq!(
        c.open(0, b"", libc::O_TMPFILE | libc::O_RDWR, 0o600)
            .unwrap_err(),
        ro
    );
    assert_eq!(c.mkdir(0, b"newdir", 0o755).unwrap_err(), ro);
    assert_eq!(
        c.mknod(0, b"fifo", libc::S_IFIFO | 0o644, 0).unwrap_err(),
        ro
    );
    assert_eq!(
        c.mknod(0, b"reg", libc::S_IFREG | 0o644, 0).unwrap_err(),
        ro
    );
    assert_eq!(c.unlink(0, b"f", 0).unwrap_err(), ro);
    assert_eq!(c.unlink(0, b"empty", libc::AT_REMOVEDIR).unwrap_err(), ro);
    assert_eq!(c.rename(0, b"f", 0, b"g", 0).unwrap_err(), ro);
    assert_eq!(c.link(0, b"f", 0, b"hard", false).unwrap_err(), ro);
    assert_eq!(c.symlink(0, b"sym", b"f").unwrap_err(), ro);
    assert_eq!(c.chmod(0, b"f", 0o600).unwrap_err(), ro);
    assert_eq!(c.chown(0, b"f", u32::MAX, u32::MAX, true).unwrap_err(), ro);
    assert_eq!(c.chown(0, b"l", u32::MAX, u32::MAX, false).unwrap_err(), ro);
    assert_eq!(c.utimens(0, b"f", None, true).unwrap_err(), ro);
    assert_eq!(
        c.utimens(0, b"f", Some([Timespec { sec: 1, nsec: 0 }; 2]), false)
            .unwrap_err(),
        ro
    );
    assert_eq!(c.truncate(0, b"f", 0).unwrap_err(), ro);
    assert_eq!(
        c.setxattr(0, b"f", b"user.a", b"1", 0, true).unwrap_err(),
        ro
    );
    assert_eq!(c.removexattr(0, b"f", b"user.a", true).unwrap_err(), ro);
    assert_eq!(c.bind_unix(0, b"sock", libc::SOCK_STREAM).unwrap_err(), ro);
    assert_eq!(c.access(0, b"f", libc::W_OK, 0).unwrap_err(), ro);

    // Other errors come first, as on Linux.
    assert_eq!(c.mkdir(0, b"d", 0o755).unwrap_err(), Errno::EEXIST);
    assert_eq!(c.symlink(0, b"f", b"x").unwrap_err(), Errno::EEXIST);
    assert_eq!(
        c.bind_unix(0, b"f", libc::SOCK_STREAM).unwrap_err(),
        Errno::EADDRINUSE
    );
    assert_eq!(c.mkdir(0, b"nodir/x", 0o755).unwrap_err(), Errno::ENOENT);
    assert_eq!(
        c.open(0, b"nodir/x", libc::O_CREAT | libc::O_WRONLY, 0o644)
            .unwrap_err(),
        Errno::ENOENT
    );
    assert_eq!(
        c.open(
            0,
            b"f",
            libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY,
            0o644
        )
        .unwrap_err(),
        Errno::EEXIST
    );
    assert_eq!(
        c.open(0, b"d", libc::O_WRONLY, 0).unwrap_err(),
        Errno::EISDIR
    );
    assert_eq!(c.chmod(0, b"missing", 0o600).unwrap_err(), Errno::ENOENT);
    assert_eq!(c.truncate(0, b"d", 0).unwrap_err(), Errno::EISDIR);
    assert_eq!(
        c.mknod(0, b"dev", libc::S_IFCHR | 0o600, 0x0103)
            .unwrap_err(),
        Errno::EPERM
    );

    // Reads still work.
    assert_eq!(
        read_fd(&c.open(0, b"f", libc::O_RDONLY, 0).unwrap()),
        b"data"
    );
    assert_eq!(
        read_fd(
            &c.open(0, b"f", libc::O_RDONLY | libc::O_CREAT, 0o644)
                .unwrap()
        ),
        b"data"
    );
    c.access(0, b"f", libc::R_OK, 0).unwrap();
    assert_eq!(c.readlink(0, b"l").unwrap(), b"f");
    let fs = c.statfs(0, b"").unwrap();
    assert_ne!(fs.f_flags & libc::ST_RDONLY as i64, 0);

    // Nothing changed.
    let after = std::fs::metadata(t.join("f")).unwrap();
    assert_eq!(
        (after.mode(), after.mtime(), after.mtime_nsec(), after.len()),
        (
            before.mode(),
            before.mtime(),
            before.mtime_nsec(),
            before.len()
        )
    );
    let mut names: Vec<_> = std::fs::read_dir(&t.path)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["d", "empty", "f", "l"]);
}

#[test]
fn fifo_on_read_only_mount_can_be_written() {
    // Linux: writing to a FIFO (or device) on a read-only mount is allowed.
    let t = TempDir::new("ro-fifo");
    let path = std::ffi::CString::new(t.join("p").into_os_string().into_encoded_bytes()).unwrap();
    // SAFETY: NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    let mut c = spawn(&[(&t.path, true)]);
    let r = c
        .open(0, b"p", libc::O_RDONLY | libc::O_NONBLOCK, 0)
        .unwrap();
    let w = c
        .open(0, b"p", libc::O_WRONLY | libc::O_NONBLOCK, 0)
        .unwrap();
    write_fd(&w, b"z");
    drop(w);
    assert_eq!(read_fd_nonblock(&r), b"z");
}

fn read_fd_nonblock(fd: &std::os::fd::OwnedFd) -> Vec<u8> {
    let mut b = [0u8; 16];
    // SAFETY: reading into b.
    let n = unsafe {
        libc::read(
            std::os::fd::AsRawFd::as_raw_fd(fd),
            b.as_mut_ptr() as *mut libc::c_void,
            b.len(),
        )
    };
    assert!(n >= 0);
    b[..n as usize].to_vec()
}

#[test]
fn devices_are_never_created_or_opened() {
    let t = TempDir::new("dev");
    let mut c = spawn(&[(&t.path, false)]);
    assert_eq!(
        c.mknod(0, b"null", libc::S_IFCHR | 0o666, 0x0103)
            .unwrap_err(),
        Errno::EPERM
    );
    assert_eq!(
        c.mknod(0, b"sda", libc::S_IFBLK | 0o600, 0x0800)
            .unwrap_err(),
        Errno::EPERM
    );
    assert_eq!(
        c.mknod(0, b"dir", libc::S_IFDIR | 0o755, 0).unwrap_err(),
        Errno::EPERM
    );
    assert_eq!(
        c.mknod(0, b"bad", 0o170000 | 0o644, 0).unwrap_err(),
        Errno::EINVAL
    );
    assert!(!t.join("null").exists() && !t.join("sda").exists());
    // A whiteout is a 0:0 character device.
    std::fs::write(t.join("a"), b"").unwrap();
    assert_eq!(
        c.rename(0, b"a", 0, b"b", libc::RENAME_WHITEOUT)
            .unwrap_err(),
        Errno::EPERM
    );

    // A device node already in the mount (only root can make one here) cannot be opened:
    // mounts are nodev. O_PATH (no I/O possible) and stat are fine.
    let node =
        std::ffi::CString::new(t.join("hostnull").into_os_string().into_encoded_bytes()).unwrap();
    // SAFETY: NUL-terminated path.
    if unsafe { libc::mknod(node.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) } == 0 {
        for flags in [libc::O_RDONLY, libc::O_WRONLY, libc::O_RDWR | libc::O_CREAT] {
            assert_eq!(
                c.open(0, b"hostnull", flags, 0o666).unwrap_err(),
                Errno::EACCES
            );
        }
        assert!(c.open(0, b"hostnull", libc::O_PATH, 0).is_ok());
        assert_eq!(
            c.stat(0, b"hostnull", true).unwrap().st_mode & libc::S_IFMT,
            libc::S_IFCHR
        );
    } else {
        eprintln!("not root: skipped opening a pre-existing device node");
    }
}

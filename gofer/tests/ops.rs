//! Ordinary file operations through a real gofer process.

mod common;

use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

use common::*;
use gofer::{Errno, Timespec};

#[test]
fn open_read_create_write() {
    let t = TempDir::new("open");
    std::fs::write(t.join("hello"), b"hello world").unwrap();
    let mut c = spawn(&[(&t.path, false)]);

    let fd = c.open(0, b"hello", libc::O_RDONLY, 0).unwrap();
    assert_eq!(read_fd(&fd), b"hello world");
    assert_eq!(fd_path(&fd), t.join("hello"));
    // Absolute paths are relative to the mount root.
    let fd = c.open(0, b"/hello", libc::O_RDONLY, 0).unwrap();
    assert_eq!(read_fd(&fd), b"hello world");

    let fd = c
        .open(
            0,
            b"new",
            libc::O_CREAT | libc::O_WRONLY | libc::O_EXCL,
            0o600,
        )
        .unwrap();
    write_fd(&fd, b"abc");
    assert_eq!(std::fs::read(t.join("new")).unwrap(), b"abc");
    assert_eq!(
        std::fs::metadata(t.join("new")).unwrap().mode() & 0o777,
        0o600
    );
    assert_eq!(
        fd_flags(&fd) & libc::O_NONBLOCK,
        0,
        "O_NONBLOCK must not leak"
    );
    assert_eq!(
        c.open(
            0,
            b"new",
            libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY,
            0o600
        )
        .unwrap_err(),
        Errno::EEXIST
    );
    let fd = c.open(0, b"new", libc::O_RDWR | libc::O_TRUNC, 0).unwrap();
    assert_eq!(read_fd(&fd), b"");
    let fd = c
        .open(
            0,
            b"new",
            libc::O_WRONLY | libc::O_APPEND | libc::O_NONBLOCK,
            0,
        )
        .unwrap();
    assert_ne!(fd_flags(&fd) & libc::O_APPEND, 0);
    assert_ne!(fd_flags(&fd) & libc::O_NONBLOCK, 0);

    assert_eq!(
        c.open(0, b"missing", libc::O_RDONLY, 0).unwrap_err(),
        Errno::ENOENT
    );
    assert_eq!(
        c.open(0, b"hello/x", libc::O_RDONLY, 0).unwrap_err(),
        Errno::ENOTDIR
    );
    assert_eq!(c.open(0, b"", libc::O_RDWR, 0).unwrap_err(), Errno::EISDIR);
    assert_eq!(
        c.open(0, b"hello", libc::O_RDONLY | libc::O_DIRECTORY, 0)
            .unwrap_err(),
        Errno::ENOTDIR
    );
    assert_eq!(
        c.open(0, b"nodir/x", libc::O_CREAT | libc::O_WRONLY, 0o600)
            .unwrap_err(),
        Errno::ENOENT
    );
    // The root itself, as a directory.
    let dir = c
        .open(0, b"", libc::O_RDONLY | libc::O_DIRECTORY, 0)
        .unwrap();
    assert_eq!(fd_path(&dir), t.path);
    // Symlinks: followed, or ELOOP with O_NOFOLLOW; an O_PATH|O_NOFOLLOW fd of the link itself.
    std::os::unix::fs::symlink("hello", t.join("ln")).unwrap();
    assert_eq!(
        read_fd(&c.open(0, b"ln", libc::O_RDONLY, 0).unwrap()),
        b"hello world"
    );
    assert_eq!(
        c.open(0, b"ln", libc::O_RDONLY | libc::O_NOFOLLOW, 0)
            .unwrap_err(),
        Errno::ELOOP
    );
    let lfd = c
        .open(0, b"ln", libc::O_PATH | libc::O_NOFOLLOW, 0)
        .unwrap();
    assert_eq!(fd_path(&lfd), t.join("ln"));
    // O_TMPFILE in the root.
    let tmp = c
        .open(0, b"", libc::O_TMPFILE | libc::O_RDWR, 0o600)
        .unwrap();
    write_fd(&tmp, b"tmp");
    assert_eq!(read_fd(&tmp), b"tmp");
}

#[test]
fn fifo_open_does_not_block_the_gofer() {
    let t = TempDir::new("fifo");
    let mut c = spawn(&[(&t.path, false)]);
    c.mknod(0, b"p", libc::S_IFIFO | 0o600, 0).unwrap();
    // No writer anywhere: a blocking open(O_RDONLY) would hang. The gofer answers at once
    // with an O_PATH fd, holding no end of the FIFO; the caller makes the open that waits.
    for flags in [libc::O_RDONLY, libc::O_WRONLY] {
        let node = c.open(0, b"p", flags, 0).unwrap();
        assert_ne!(fd_flags(&node) & libc::O_PATH, 0, "flags {flags:#x}");
    }
    // Non-blocking: a writer with no reader gets ENXIO; a reader opens at once. The writer
    // comes first: once this process has held a reader, a child another test forks at that
    // moment may hold it too until its exec, and the writer would then find a reader.
    assert_eq!(
        c.open(0, b"p", libc::O_WRONLY | libc::O_NONBLOCK, 0)
            .unwrap_err(),
        Errno::ENXIO
    );
    let r = c
        .open(0, b"p", libc::O_RDONLY | libc::O_NONBLOCK, 0)
        .unwrap();
    assert_ne!(fd_flags(&r) & libc::O_NONBLOCK, 0);
    drop(r);
    // O_RDWR never waits, and keeps the blocking mode asked for.
    let rw = c.open(0, b"p", libc::O_RDWR, 0).unwrap();
    assert_eq!(fd_flags(&rw) & (libc::O_NONBLOCK | libc::O_PATH), 0);
    write_fd(&rw, b"x");
    let mut b = [0u8; 1];
    // SAFETY: reading one byte into b.
    let n = unsafe { libc::read(rw.as_raw_fd(), b.as_mut_ptr() as *mut libc::c_void, 1) };
    assert_eq!(n, 1);
    assert_eq!(&b, b"x");
}

#[test]
fn stat_family() {
    let t = TempDir::new("stat");
    std::fs::write(t.join("f"), b"12345").unwrap();
    std::fs::create_dir(t.join("d")).unwrap();
    std::os::unix::fs::symlink("f", t.join("l")).unwrap();
    std::os::unix::fs::symlink("nowhere", t.join("dangling")).unwrap();
    let mut c = spawn(&[(&t.path, false)]);

    let st = c.stat(0, b"f", true).unwrap();
    assert_eq!(st.st_size, 5);
    assert_eq!(st.st_ino, std::fs::metadata(t.join("f")).unwrap().ino());
    let st = c.stat(0, b"l", true).unwrap();
    assert_eq!(st.st_mode & libc::S_IFMT, libc::S_IFREG);
    let st = c.stat(0, b"l", false).unwrap();
    assert_eq!(st.st_mode & libc::S_IFMT, libc::S_IFLNK);
    // Failed after a link: the caller follows the links across its mounts (and finds ENOENT).
    assert_eq!(c.stat(0, b"dangling", true).unwrap_err(), Errno::EREMOTE);
    assert_eq!(
        c.stat(0, b"dangling", false).unwrap().st_mode & libc::S_IFMT,
        libc::S_IFLNK
    );
    assert_eq!(
        c.stat(0, b"", false).unwrap().st_ino,
        std::fs::metadata(&t.path).unwrap().ino()
    );
    assert_eq!(
        c.stat(0, b"d/..", false).unwrap().st_ino,
        std::fs::metadata(&t.path).unwrap().ino()
    );
    assert_eq!(c.stat(0, b"f/", false).unwrap_err(), Errno::ENOTDIR);
    assert_eq!(
        c.stat(0, b"d/", false).unwrap().st_mode & libc::S_IFMT,
        libc::S_IFDIR
    );

    let stx = c.statx(0, b"f", true, 0, libc::STATX_BASIC_STATS).unwrap();
    assert_eq!(stx.stx_size, 5);
    assert_eq!(stx.stx_mode as u32 & libc::S_IFMT, libc::S_IFREG);
    let stx = c.statx(0, b"l", false, 0, libc::STATX_BASIC_STATS).unwrap();
    assert_eq!(stx.stx_mode as u32 & libc::S_IFMT, libc::S_IFLNK);

    c.access(0, b"f", libc::R_OK | libc::W_OK, 0).unwrap();
    c.access(0, b"l", libc::F_OK, libc::AT_SYMLINK_NOFOLLOW)
        .unwrap();
    assert_eq!(
        c.access(0, b"nope", libc::F_OK, 0).unwrap_err(),
        Errno::ENOENT
    );
    assert_eq!(c.access(0, b"f", 0o100, 0).unwrap_err(), Errno::EINVAL);

    // An exec's open: a regular file with an execute bit, links followed; EACCES for a
    // directory or a file nobody may execute.
    std::fs::write(t.join("prog"), b"#!/bin/sh\n").unwrap();
    std::fs::set_permissions(t.join("prog"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("prog", t.join("prog-link")).unwrap();
    assert_eq!(read_fd(&c.open_exec(0, b"prog").unwrap()), b"#!/bin/sh\n");
    let fd = c.open_exec(0, b"prog-link").unwrap();
    assert_eq!(fd_path(&fd), t.join("prog"));
    assert_eq!(fd_flags(&fd) & libc::O_ACCMODE, libc::O_RDONLY);
    assert_eq!(c.open_exec(0, b"d").unwrap_err(), Errno::EACCES);
    assert_eq!(c.open_exec(0, b"f").unwrap_err(), Errno::EACCES);
    assert_eq!(c.open_exec(0, b"nope").unwrap_err(), Errno::ENOENT);

    assert_eq!(c.readlink(0, b"l").unwrap(), b"f");
    assert_eq!(c.readlink(0, b"dangling").unwrap(), b"nowhere");
    assert_eq!(c.readlink(0, b"f").unwrap_err(), Errno::EINVAL);
    assert_eq!(c.readlink(0, b"missing").unwrap_err(), Errno::ENOENT);

    let fs = c.statfs(0, b"f").unwrap();
    assert!(fs.f_bsize > 0 && fs.f_namelen > 0);
    assert_ne!(fs.f_flags & libc::ST_NODEV as i64, 0);
    assert_eq!(fs.f_flags & libc::ST_RDONLY as i64, 0);
}

#[test]
fn namespace_operations() {
    let t = TempDir::new("ns");
    let other = TempDir::new("ns-other");
    let mut c = spawn(&[(&t.path, false), (&other.path, false)]);

    c.mkdir(0, b"d", 0o755).unwrap();
    assert!(t.join("d").is_dir());
    assert_eq!(c.mkdir(0, b"d", 0o755).unwrap_err(), Errno::EEXIST);
    c.mkdir(0, b"d/e/", 0o700).unwrap();
    assert_eq!(c.mkdir(0, b"d/.", 0o700).unwrap_err(), Errno::EEXIST);
    assert_eq!(c.mkdir(0, b"d/..", 0o700).unwrap_err(), Errno::EEXIST);
    assert_eq!(c.mkdir(0, b"", 0o700).unwrap_err(), Errno::EEXIST);
    assert_eq!(c.mkdir(0, b"x/y", 0o700).unwrap_err(), Errno::ENOENT);

    c.mknod(0, b"d/reg", libc::S_IFREG | 0o640, 0).unwrap();
    assert!(t.join("d/reg").is_file());
    c.mknod(0, b"d/sock", libc::S_IFSOCK | 0o640, 0).unwrap();

    c.symlink(0, b"d/sl", b"/etc/passwd").unwrap();
    assert_eq!(
        std::fs::read_link(t.join("d/sl")).unwrap().as_os_str(),
        "/etc/passwd"
    );
    assert_eq!(c.symlink(0, b"d/sl", b"x").unwrap_err(), Errno::EEXIST);
    assert_eq!(c.symlink(0, b"d/s2", b"").unwrap_err(), Errno::ENOENT);

    c.link(0, b"d/reg", 0, b"hard", false).unwrap();
    assert_eq!(
        std::fs::metadata(t.join("hard")).unwrap().ino(),
        std::fs::metadata(t.join("d/reg")).unwrap().ino()
    );
    // Hard link of a symlink itself (no follow) and of its target (follow).
    std::os::unix::fs::symlink("d/reg", t.join("toreg")).unwrap();
    c.link(0, b"toreg", 0, b"hard-link-of-link", false).unwrap();
    assert!(std::fs::symlink_metadata(t.join("hard-link-of-link"))
        .unwrap()
        .file_type()
        .is_symlink());
    c.link(0, b"toreg", 0, b"hard-of-target", true).unwrap();
    assert_eq!(
        std::fs::symlink_metadata(t.join("hard-of-target"))
            .unwrap()
            .ino(),
        std::fs::metadata(t.join("d/reg")).unwrap().ino()
    );
    assert_eq!(
        c.link(0, b"d", 0, b"dirlink", false).unwrap_err(),
        Errno::EPERM
    );
    assert_eq!(
        c.link(0, b"d/reg", 1, b"x", false).unwrap_err(),
        Errno::EXDEV
    );

    c.rename(0, b"hard", 0, b"d/renamed", 0).unwrap();
    assert!(t.join("d/renamed").exists() && !t.join("hard").exists());
    assert_eq!(
        c.rename(0, b"d/renamed", 1, b"x", 0).unwrap_err(),
        Errno::EXDEV
    );
    assert_eq!(
        c.rename(0, b"d/renamed", 0, b"d/reg", libc::RENAME_NOREPLACE)
            .unwrap_err(),
        Errno::EEXIST
    );
    c.rename(0, b"d/renamed", 0, b"hard-of-target", libc::RENAME_EXCHANGE)
        .unwrap();
    assert_eq!(c.rename(0, b"d/..", 0, b"z", 0).unwrap_err(), Errno::EBUSY);
    assert_eq!(
        c.rename(0, b"d/reg/", 0, b"z", 0).unwrap_err(),
        Errno::ENOTDIR
    );
    assert_eq!(
        c.rename(0, b"x", 0, b"y", libc::RENAME_WHITEOUT)
            .unwrap_err(),
        Errno::EPERM
    );

    assert_eq!(c.unlink(0, b"d", 0).unwrap_err(), Errno::EISDIR);
    assert_eq!(c.unlink(0, b"d/reg/", 0).unwrap_err(), Errno::ENOTDIR);
    assert_eq!(
        c.unlink(0, b"d/.", libc::AT_REMOVEDIR).unwrap_err(),
        Errno::EINVAL
    );
    assert_eq!(
        c.unlink(0, b"d/e/..", libc::AT_REMOVEDIR).unwrap_err(),
        Errno::ENOTEMPTY
    );
    assert_eq!(
        c.unlink(0, b"/", libc::AT_REMOVEDIR).unwrap_err(),
        Errno::EBUSY
    );
    assert_eq!(
        c.unlink(0, b"d", libc::AT_REMOVEDIR).unwrap_err(),
        Errno::ENOTEMPTY
    );
    c.unlink(0, b"d/reg", 0).unwrap();
    c.unlink(0, b"d/e/", libc::AT_REMOVEDIR).unwrap();
    assert!(!t.join("d/reg").exists() && !t.join("d/e").exists());
}

#[test]
fn attributes() {
    let t = TempDir::new("attr");
    std::fs::write(t.join("f"), b"0123456789").unwrap();
    std::os::unix::fs::symlink("f", t.join("l")).unwrap();
    let mut c = spawn(&[(&t.path, false)]);

    c.chmod(0, b"l", 0o604).unwrap();
    assert_eq!(
        std::fs::metadata(t.join("f")).unwrap().permissions().mode() & 0o7777,
        0o604
    );
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    c.chown(0, b"f", uid, gid, true).unwrap();
    c.chown(0, b"l", u32::MAX, gid, false).unwrap();

    let times = [
        Timespec { sec: 1000, nsec: 5 },
        Timespec { sec: 2000, nsec: 7 },
    ];
    c.utimens(0, b"l", Some(times), true).unwrap();
    let m = std::fs::metadata(t.join("f")).unwrap();
    assert_eq!(
        (m.atime(), m.atime_nsec(), m.mtime(), m.mtime_nsec()),
        (1000, 5, 2000, 7)
    );
    c.utimens(0, b"l", Some(times), false).unwrap();
    let m = std::fs::symlink_metadata(t.join("l")).unwrap();
    assert_eq!((m.mtime(), m.mtime_nsec()), (2000, 7));
    c.utimens(0, b"f", None, true).unwrap();
    assert!(std::fs::metadata(t.join("f")).unwrap().mtime() > 2000);

    c.truncate(0, b"l", 3).unwrap();
    assert_eq!(std::fs::read(t.join("f")).unwrap(), b"012");
    assert_eq!(c.truncate(0, b"", 0).unwrap_err(), Errno::EISDIR);
    assert_eq!(c.truncate(0, b"f", -1).unwrap_err(), Errno::EINVAL);

    c.setxattr(0, b"f", b"user.k", b"value", 0, true).unwrap();
    assert_eq!(c.getxattr(0, b"f", b"user.k", &mut [], true).unwrap(), 5);
    let mut buf = [0u8; 16];
    let n = c.getxattr(0, b"l", b"user.k", &mut buf, true).unwrap();
    assert_eq!(&buf[..n], b"value");
    assert_eq!(
        c.getxattr(0, b"f", b"user.k", &mut [0u8; 2], true)
            .unwrap_err(),
        Errno::ERANGE
    );
    assert_eq!(
        c.setxattr(0, b"f", b"user.k", b"v", libc::XATTR_CREATE, true)
            .unwrap_err(),
        Errno::EEXIST
    );
    let n = c.listxattr(0, b"f", &mut [], true).unwrap();
    let mut list = vec![0u8; n];
    let n = c.listxattr(0, b"f", &mut list, true).unwrap();
    assert!(list[..n].split(|&b| b == 0).any(|name| name == b"user.k"));
    c.removexattr(0, b"f", b"user.k", true).unwrap();
    assert_eq!(
        c.getxattr(0, b"f", b"user.k", &mut buf, true).unwrap_err(),
        Errno::ENODATA
    );
    // user.* xattrs are not allowed on symlinks themselves.
    assert_eq!(
        c.setxattr(0, b"l", b"user.k", b"v", 0, false).unwrap_err(),
        Errno::EPERM
    );
}

#[test]
fn unix_sockets_bind_and_connect() {
    let t = TempDir::new("unix");
    std::fs::create_dir(t.join("run")).unwrap();
    let mut c = spawn(&[(&t.path, false)]);

    let listener = c.bind_unix(0, b"run/s", libc::SOCK_STREAM).unwrap();
    assert!(std::fs::symlink_metadata(t.join("run/s"))
        .unwrap()
        .file_type()
        .is_socket());
    // SAFETY: listen on our socket.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 4) }, 0);
    assert_eq!(
        c.bind_unix(0, b"run/s", libc::SOCK_STREAM).unwrap_err(),
        Errno::EADDRINUSE
    );

    let conn = c.connect_unix(0, b"/run/s", libc::SOCK_STREAM).unwrap();
    assert_eq!(fd_flags(&conn) & libc::O_NONBLOCK, 0);
    write_fd(&conn, b"ping");
    // SAFETY: accept on our listening socket.
    let acc = unsafe {
        libc::accept(
            listener.as_raw_fd(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    assert!(acc >= 0);
    let mut b = [0u8; 4];
    // SAFETY: read 4 bytes into b, then close the accepted fd.
    unsafe {
        assert_eq!(libc::read(acc, b.as_mut_ptr() as *mut libc::c_void, 4), 4);
        libc::close(acc);
    }
    assert_eq!(&b, b"ping");

    // A socket handed in by the caller is connected in place.
    // SAFETY: socket(2).
    let mine = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    // SAFETY: fresh fd.
    let mine = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(mine) };
    c.connect_unix_fd(0, b"run/s", std::os::fd::AsFd::as_fd(&mine))
        .unwrap();
    write_fd(&mine, b"pong");

    // Not a socket / missing.
    std::fs::write(t.join("run/file"), b"").unwrap();
    assert_eq!(
        c.connect_unix(0, b"run/file", libc::SOCK_STREAM)
            .unwrap_err(),
        Errno::ECONNREFUSED
    );
    assert_eq!(
        c.connect_unix(0, b"run/none", libc::SOCK_STREAM)
            .unwrap_err(),
        Errno::ENOENT
    );
    // An inet socket is never passed to the gofer.
    // SAFETY: socket(2).
    let inet = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    // SAFETY: fresh fd.
    let inet = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(inet) };
    assert_eq!(
        c.connect_unix_fd(0, b"run/s", std::os::fd::AsFd::as_fd(&inet))
            .unwrap_err(),
        Errno::EAFNOSUPPORT
    );
}

#[test]
fn gofer_exits_zero_when_socket_closes() {
    let t = TempDir::new("exit");
    let mut c = spawn(&[(&t.path, false)]);
    c.stat(0, b"", true).unwrap();
    let status = c.shutdown().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn bad_mount_index_and_bad_paths() {
    let t = TempDir::new("bad");
    let mut c = spawn(&[(&t.path, false)]);
    assert_eq!(c.stat(7, b"", true).unwrap_err(), Errno::EINVAL);
    assert_eq!(c.stat(0, b"a\0b", true).unwrap_err(), Errno::EINVAL);
    let long = vec![b'a'; 5000];
    assert_eq!(c.stat(0, &long, true).unwrap_err(), Errno::ENAMETOOLONG);
    // Still serving.
    c.stat(0, b"", true).unwrap();
}

#[test]
fn spawn_with_leading_args() {
    // As the sentry would re-execute itself with a hidden subcommand: here `env GOFER ...`.
    let t = TempDir::new("lead");
    std::fs::write(t.join("f"), b"via env").unwrap();
    let exe = gofer_exe().to_str().unwrap();
    let mounts = [gofer::Mount {
        host_path: t.path.clone(),
        read_only: true,
    }];
    let mut c =
        gofer::Client::spawn_with_args(std::path::Path::new("/usr/bin/env"), &[exe], &mounts)
            .unwrap();
    assert_eq!(
        read_fd(&c.open(0, b"f", libc::O_RDONLY, 0).unwrap()),
        b"via env"
    );
    assert_eq!(c.unlink(0, b"f", 0).unwrap_err(), Errno::EROFS);
    assert!(c.shutdown().unwrap().success());
}

/// The gofer runs on the CPU of the thread that calls it, and follows that thread to
/// another: every call is synchronous, and a wake-up on one CPU is a local one.
#[test]
fn the_gofer_follows_its_caller_from_cpu_to_cpu() {
    let t = TempDir::new("follow");
    let mut c = spawn(&[(&t.path, false)]);
    let size = std::mem::size_of::<libc::cpu_set_t>();
    let affinity = |tid: libc::pid_t| -> Vec<usize> {
        // SAFETY: an all-zero cpu_set_t is an empty set, which the kernel fills (`size`
        // bytes); CPU_ISSET reads one bit of it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            assert_eq!(libc::sched_getaffinity(tid, size, &mut set), 0);
            (0..libc::CPU_SETSIZE as usize)
                .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
                .collect()
        }
    };
    let own = affinity(0);
    for (round, &cpu) in own.iter().rev().enumerate() {
        // SAFETY: as above; CPU_SET writes one bit of a set we own; this thread's own
        // affinity, given back below.
        let rc = unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            libc::sched_setaffinity(0, size, &set)
        };
        assert_eq!(rc, 0);
        c.mkdir(0, format!("d{round}").as_bytes(), 0o755).unwrap();
        assert_eq!(affinity(c.pid() as libc::pid_t), [cpu], "round {round}");
    }
    // SAFETY: this thread's affinity back, from a set we own.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &cpu in &own {
            libc::CPU_SET(cpu, &mut set);
        }
        libc::sched_setaffinity(0, size, &set);
    }
}

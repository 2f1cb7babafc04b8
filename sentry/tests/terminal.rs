//! Issue 2, point 2: Ctrl-C at a terminal reaches the sandbox's foreground process, not the
//! sentry. The sentry runs on a pseudo-terminal as its controlling terminal; ^C typed on it
//! must interrupt the sandboxed shell (which traps SIGINT and exits 3), and the sentry must
//! report that exit status rather than die of SIGINT itself (130).

use test_support::busybox_rootfs;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

fn openpty() -> (OwnedFd, OwnedFd) {
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two fds; the name, termios and winsize pointers may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both fds were just created and are ours alone.
    unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

fn ctrl_c(platform: &str) {
    let rootfs = busybox_rootfs();
    let (master, slave) = openpty();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sentry"));
    cmd.args(["run", "--platform", platform])
        .arg(&rootfs)
        .args([
            "/bin/sh",
            "-c",
            "trap 'echo got-INT; exit 3' INT; echo ready; while :; do :; done",
        ])
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave));
    // SAFETY: between fork and exec only async-signal-safe calls: a new session whose
    // controlling terminal is the pty on fd 0, as a login shell would have.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut sentry = cmd.spawn().expect("start the sentry");
    drop(cmd);
    let mut reader = std::fs::File::from(master.try_clone().unwrap());
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("ready") {
        let n = reader.read(&mut buf).expect("read the terminal");
        assert!(
            n > 0,
            "the terminal closed before 'ready': {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    let mut writer = std::fs::File::from(master.try_clone().unwrap());
    writer.write_all(b"\x03").expect("type ^C");
    // Everything up to the sandbox's exit; EIO once the last slave fd closes.
    loop {
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
        if String::from_utf8_lossy(&seen).contains("got-INT") {
            break;
        }
    }
    let status = sentry.wait().expect("wait for the sentry");
    let text = String::from_utf8_lossy(&seen);
    assert!(
        text.contains("got-INT"),
        "the sandbox's shell never saw SIGINT: {text}"
    );
    assert_eq!(status.code(), Some(3), "terminal: {text}");
}

#[test]
fn ctrl_c_reaches_the_sandbox_ptrace() {
    ctrl_c("ptrace");
}

#[test]
fn ctrl_c_reaches_the_sandbox_seccomp() {
    ctrl_c("seccomp");
}

/// The sandbox puts the terminal it inherited in raw mode without echo and resizes it; once
/// the sentry has ended, the terminal has its modes and size back (read from the host side,
/// on the pty itself).
fn terminal_restored(platform: &str) {
    let rootfs = busybox_rootfs();
    let (master, slave) = openpty();
    let size = libc::winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize we own.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
    assert_eq!(rc, 0);
    let modes = |fd: i32| {
        // SAFETY: termios is plain data; tcgetattr fills it.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: tcgetattr writes one termios into memory we own.
        assert_eq!(unsafe { libc::tcgetattr(fd, &mut t) }, 0);
        (t.c_lflag, t.c_iflag, t.c_oflag)
    };
    let before = modes(slave.as_raw_fd());
    let status = Command::new(env!("CARGO_BIN_EXE_sentry"))
        .args(["run", "--platform", platform])
        .arg(&rootfs)
        .args([
            "/bin/sh",
            "-c",
            "stty raw -echo -isig && stty rows 7 cols 9 && stty -a | grep -q 'rows 7'",
        ])
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave.try_clone().unwrap()))
        .status()
        .expect("run the sentry");
    assert!(
        status.success(),
        "the sandbox could not change the terminal: {status}"
    );
    assert_eq!(
        modes(slave.as_raw_fd()),
        before,
        "terminal modes not restored"
    );
    let mut now = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into memory we own.
    let rc = unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCGWINSZ, &mut now) };
    assert_eq!(rc, 0);
    assert_eq!(
        (now.ws_row, now.ws_col),
        (24, 80),
        "window size not restored"
    );
}

#[test]
fn terminal_restored_ptrace() {
    terminal_restored("ptrace");
}

#[test]
fn terminal_restored_seccomp() {
    terminal_restored("seccomp");
}

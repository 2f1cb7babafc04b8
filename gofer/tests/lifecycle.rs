//! The gofer process: confinement in place, death with its parent, EIO when it dies, and
//! error replies (not crashes) for malformed frames.

mod common;

use std::io::{BufRead, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use gofer::protocol::{Request, Response, HEADER_LEN, MAX_FRAME};
use gofer::Errno;

fn status_field(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field).map(|v| v.trim().to_string()))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

fn pidfd_open(pid: u32) -> OwnedFd {
    // SAFETY: pidfd_open with integer arguments.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    assert!(fd >= 0, "pidfd_open: {}", std::io::Error::last_os_error());
    // SAFETY: a fresh descriptor.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// Polls a pidfd; true once the process has exited. `timeout_ms` only bounds a failing test.
fn exited(pidfd: &OwnedFd, timeout_ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    assert!(n >= 0);
    n == 1
}

#[test]
fn gofer_is_confined() {
    let t = TempDir::new("confined");
    let mut c = spawn(&[(&t.path, false)]);
    c.stat(0, b"", true).unwrap(); // the filter is installed before the first request is read
    let pid = c.pid();
    assert_eq!(status_field(pid, "Seccomp:"), "2", "filter mode");
    assert_eq!(status_field(pid, "NoNewPrivs:"), "1");
    // Only its socket, its mount root and /proc/self/fd are open.
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    assert_eq!(fds, 3 + 3, "stdio, socket, one mount root, /proc/self/fd");
}

/// The sentry goes on while its gofer starts: a client whose handshake is not yet answered
/// serves, its first call to the gofer process waits for the answer, and `confirm` then
/// finds nothing left to wait for.
#[test]
fn an_unconfirmed_client_waits_for_the_handshake_at_its_first_gofer_call() {
    let t = TempDir::new("unconfirmed");
    let mounts = [gofer::Mount {
        host_path: t.path.clone(),
        read_only: false,
    }];
    let starting = gofer::Client::start(gofer_exe(), &[], &mounts).expect("start the gofer");
    let mut c = starting.finish_unconfirmed().expect("a client");
    c.mkdir(0, b"made", 0o755)
        .expect("mkdir through the gofer process");
    assert!(t.join("made").is_dir());
    c.confirm().expect("the handshake was answered");
}

#[test]
fn killed_gofer_gives_eio() {
    let t = TempDir::new("killed");
    let mut c = spawn(&[(&t.path, false)]);
    c.stat(0, b"", true).unwrap();
    // SAFETY: kill our own child.
    let rc = unsafe { libc::kill(c.pid() as i32, libc::SIGKILL) };
    assert_eq!(rc, 0);
    assert_eq!(c.stat(0, b"", true).unwrap_err(), Errno::EIO);
    assert!(!c.is_alive());
    assert_eq!(c.open(0, b"", libc::O_RDONLY, 0).unwrap_err(), Errno::EIO);
    assert_eq!(c.mkdir(0, b"x", 0o755).unwrap_err(), Errno::EIO);
}

#[test]
fn malformed_frames_get_error_replies() {
    let t = TempDir::new("malformed");
    let mut c = spawn(&[(&t.path, false)]);
    let expect_error = |reply: &[u8], seq: u32, want: Errno| match Response::decode(reply) {
        Ok((s, Response::Error(e))) => {
            assert_eq!(s, seq);
            assert_eq!(e, want);
        }
        other => panic!("unexpected reply {other:?}"),
    };

    // Too short for a header.
    let r = c.raw_exchange(&[1, 2, 3]).unwrap();
    expect_error(&r, 0, Errno::EPROTO);
    // Unknown op.
    let mut f = Vec::new();
    Request::Stat {
        mount: 0,
        path: b"",
        follow: true,
    }
    .encode(41, &mut f);
    f[8] = 0x7f;
    expect_error(&c.raw_exchange(&f).unwrap(), 41, Errno::EPROTO);
    // Length field lies.
    Request::Stat {
        mount: 0,
        path: b"abc",
        follow: true,
    }
    .encode(42, &mut f);
    f[0] = 200;
    expect_error(&c.raw_exchange(&f).unwrap(), 42, Errno::EPROTO);
    // String length runs past the end.
    Request::Stat {
        mount: 0,
        path: b"abc",
        follow: true,
    }
    .encode(43, &mut f);
    f[HEADER_LEN + 4..HEADER_LEN + 8].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    expect_error(&c.raw_exchange(&f).unwrap(), 43, Errno::EPROTO);
    // A frame larger than any valid one.
    let mut big = vec![0u8; MAX_FRAME + 100];
    Request::Stat {
        mount: 0,
        path: b"",
        follow: true,
    }
    .encode(44, &mut f);
    big[..f.len()].copy_from_slice(&f);
    expect_error(&c.raw_exchange(&big).unwrap(), 44, Errno::EPROTO);
    // Random garbage of every length up to 64 bytes.
    let mut x: u32 = 0x1234_5678;
    for len in 0..64 {
        let mut g = vec![0u8; len.max(1)];
        for b in g.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
        let r = c.raw_exchange(&g).unwrap();
        assert!(matches!(Response::decode(&r), Ok((_, Response::Error(_)))));
    }
    // A second Hello with a wrong version.
    Request::Hello { version: 999 }.encode(45, &mut f);
    expect_error(&c.raw_exchange(&f).unwrap(), 45, Errno::EPROTONOSUPPORT);
    // The gofer is still serving.
    assert!(c.is_alive());
    c.stat(0, b"", true).unwrap();
}

/// Helper process for `gofer_dies_with_its_parent`: starts a gofer, prints its pid, and waits
/// to be killed. Run only by that test (through GOFER_TEST_HELPER_DIR).
#[test]
#[ignore = "helper process for gofer_dies_with_its_parent"]
fn helper_parent_process() {
    let Ok(dir) = std::env::var("GOFER_TEST_HELPER_DIR") else {
        return;
    };
    let c = spawn(&[(Path::new(&dir), false)]);
    // Straight to fd 1: println! output is captured by the test harness.
    let mut out = std::io::stdout().lock();
    writeln!(out, "GOFER_PID={}", c.pid()).unwrap();
    out.flush().unwrap();
    drop(out);
    let mut line = String::new();
    // Blocks until the test kills us (stdin never gets a line).
    let _ = std::io::stdin().read_line(&mut line);
}

#[test]
fn gofer_dies_with_its_parent() {
    let t = TempDir::new("orphan");
    let mut helper = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_parent_process",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("GOFER_TEST_HELPER_DIR", &t.path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = helper.stdout.take().unwrap();
    let mut pid = None;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.unwrap();
        // libtest prints "test helper_parent_process ... " before it on the same line.
        if let Some(i) = line.find("GOFER_PID=") {
            pid = Some(
                line[i + "GOFER_PID=".len()..]
                    .trim()
                    .parse::<u32>()
                    .unwrap(),
            );
            break;
        }
    }
    let pid = pid.expect("helper printed no gofer pid");
    let pidfd = pidfd_open(pid);
    assert!(!exited(&pidfd, 0), "gofer exited before its parent");
    assert_eq!(status_field(pid, "PPid:"), helper.id().to_string());

    helper.kill().unwrap();
    helper.wait().unwrap();
    // PR_SET_PDEATHSIG(SIGKILL): the gofer goes with its parent. The timeout only turns a
    // failure into a red test instead of a hang.
    assert!(exited(&pidfd, 30_000), "gofer {pid} outlived its parent");
}

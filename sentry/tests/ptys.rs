//! The sandbox's own pseudo-terminals: /dev/ptmx makes one, /dev/pts lists and opens only the
//! sandbox's (numbered from 0, whatever the host's numbers), ttyname names them, window
//! sizes and termios work, `script` and Python's `pty` run programs in them, TIOCSTI is
//! refused; the host's terminals are out of reach (a pty the test holds on the host stays
//! unnamed and unopenable inside). Both platforms, as the invoking user and as uid 65534.

use test_support::{variant_tests, Variant};

fn hostlibs(v: Variant, cmd: &[&str]) -> test_support::Run {
    let mut c = v.sentry_command();
    c.arg("run")
        .arg(v.platform_flag())
        .args(["-e", "PATH=/usr/bin:/bin", "-e", "LC_ALL=C"])
        .arg(test_support::hostlibs_rootfs())
        .args(cmd)
        .stdin(std::process::Stdio::null());
    test_support::run_to_end(c, test_support::RUN_DEADLINE)
}

fn script_runs_a_shell_in_a_terminal_of_the_sandbox(v: Variant) {
    let run = hostlibs(
        v,
        &[
            "/usr/bin/script",
            "-qc",
            "tty; stty size; ls /dev/pts",
            "/dev/null",
        ],
    );
    run.expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().map(str::trim_end).collect();
    assert!(
        lines.starts_with(&["/dev/pts/0", "0 0", "0"]),
        "{}",
        run.describe()
    );
}

const PTY: &str = r#"
import errno, fcntl, os, pty, struct, termios
m, s = os.openpty()
name = os.ttyname(s)
print('slave', name, os.isatty(s))
print('listed', sorted(os.listdir('/dev/pts')))
fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 80, 0, 0))
print('winsize', struct.unpack('HHHH', fcntl.ioctl(s, termios.TIOCGWINSZ, b'\0' * 8))[:2])
attrs = termios.tcgetattr(s); attrs[3] &= ~termios.ECHO; termios.tcsetattr(s, termios.TCSANOW, attrs)
print('echo off', termios.tcgetattr(s)[3] & termios.ECHO == 0)
os.write(m, b'hi\n'); print('read', os.read(s, 10))
os.write(s, b'yo'); print('master read', os.read(m, 10))
again = os.open(name, os.O_RDWR | os.O_NOCTTY); print('reopened', os.ttyname(again) == name)
try:
    fcntl.ioctl(s, termios.TIOCSTI, b'x')
    print('TIOCSTI allowed')
except OSError as e:
    print('TIOCSTI', errno.errorcode[e.errno])
for fd in (again, s, m):
    os.close(fd)
pid, fd = pty.fork()
if pid == 0:
    os.execv('/usr/bin/sh', ['sh', '-c', 'tty; echo in-pty'])
out = b''
while True:
    try:
        d = os.read(fd, 100)
    except OSError:
        break
    if not d:
        break
    out += d
os.waitpid(pid, 0)
print('child', ' '.join(out.decode().split()))
"#;

fn python_opens_and_forks_into_terminals(v: Variant) {
    let run = hostlibs(v, &["/usr/bin/python3", "-c", PTY]);
    run.expect_code(0);
    for want in [
        "slave /dev/pts/0 True",
        "listed ['0']",
        "winsize (24, 80)",
        "echo off True",
        "read b'hi\\n'",
        "master read b'yo'",
        "reopened True",
        "TIOCSTI EPERM",
    ] {
        assert!(
            run.stdout.lines().any(|l| l == want),
            "missing '{want}'\n{}",
            run.describe()
        );
    }
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("child /dev/pts/") && l.ends_with(" in-pty")),
        "{}",
        run.describe()
    );
}

fn the_hosts_terminals_are_out_of_reach(v: Variant) {
    // A terminal of the host's, held open while the sandbox looks for it.
    let (host_master, host_slave) = nix::pty::openpty(None, None)
        .map(|p| (p.master, p.slave))
        .expect("a pty on the host");
    let index = std::fs::read_link(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&host_slave)
    ))
    .expect("its name");
    let index = index
        .to_str()
        .and_then(|p| p.strip_prefix("/dev/pts/"))
        .expect("a devpts name")
        .to_string();
    let program = format!(
        "import os\nprint('listed', os.listdir('/dev/pts'))\ntry:\n    os.open('/dev/pts/{index}', os.O_RDWR)\n    print('opened')\nexcept OSError as e:\n    print('refused', e.errno)\n"
    );
    let run = hostlibs(v, &["/usr/bin/python3", "-c", &program]);
    drop((host_master, host_slave));
    run.expect_code(0);
    assert!(
        run.stdout.contains("listed []") && run.stdout.contains("refused 2"),
        "{}",
        run.describe()
    );
}

variant_tests!(
    script_runs_a_shell_in_a_terminal_of_the_sandbox,
    python_opens_and_forks_into_terminals,
    the_hosts_terminals_are_out_of_reach
);

/// The sentry run on a terminal of the test's: the sandbox gets a terminal of its own with
/// the same size, a resize of the outer one reaches it (SIGWINCH), Ctrl-C typed outside
/// interrupts its foreground process, and the exit status passes through.
mod own_terminal {
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::time::{Duration, Instant};
    use test_support::Variant;

    const PROGRAM: &str = r#"
import os, signal
print('tty', os.ttyname(0))
print('size', *os.get_terminal_size(0))
# Blocked, then waited for: a signal that comes before the wait is not lost.
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGWINCH, signal.SIGINT})
print('ready')
signal.sigwaitinfo({signal.SIGWINCH})
print('resized', *os.get_terminal_size(0))
print('ready again')
signal.sigwaitinfo({signal.SIGINT})
print('interrupted')
raise SystemExit(4)
"#;

    fn set_size(fd: &OwnedFd, rows: u16, cols: u16) {
        let size = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one winsize we own.
        let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &size) };
        assert_eq!(rc, 0);
    }

    /// Reads the terminal's output until it holds `want` (the deadline bounds the wait).
    fn read_until(master: &OwnedFd, seen: &mut String, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !seen.contains(want) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no '{want}' in the terminal's output:\n{seen}"
            );
            let mut fds = [libc::pollfd {
                fd: master.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            // SAFETY: poll on one pollfd we own.
            if unsafe { libc::poll(fds.as_mut_ptr(), 1, left.as_millis() as i32) } <= 0 {
                continue;
            }
            let mut buf = [0u8; 1024];
            // SAFETY: read into a buffer we own.
            let n = unsafe { libc::read(master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            assert!(n > 0, "the terminal ended before '{want}':\n{seen}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n as usize]));
        }
    }

    fn the_sandbox_gets_a_terminal_of_its_own(v: Variant) {
        let pty = nix::pty::openpty(None, None).expect("a pty for the sentry");
        set_size(&pty.master, 30, 100);
        let mut cmd = v.sentry_command();
        cmd.arg("run")
            .arg(v.platform_flag())
            .args(["-e", "PATH=/usr/bin:/bin"])
            .arg(test_support::hostlibs_rootfs())
            .args(["/usr/bin/python3", "-u", "-c", PROGRAM]);
        for (fd, name) in [(0, "stdin"), (1, "stdout"), (2, "stderr")] {
            let dup = pty.slave.try_clone().expect(name);
            match fd {
                0 => cmd.stdin(dup),
                1 => cmd.stdout(dup),
                _ => cmd.stderr(dup),
            };
        }
        // The sentry in the foreground of that terminal, as in a user's shell.
        // SAFETY: setsid and ioctl are async-signal-safe; nothing is allocated.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("start the sentry");
        drop(pty.slave);
        let mut seen = String::new();
        read_until(&pty.master, &mut seen, "ready\r\n");
        assert!(seen.contains("tty /dev/pts/0\r\n"), "{seen}");
        assert!(seen.contains("size 100 30\r\n"), "{seen}");
        set_size(&pty.master, 40, 120);
        read_until(&pty.master, &mut seen, "ready again\r\n");
        assert!(seen.contains("resized 120 40\r\n"), "{seen}");
        // SAFETY: write of one byte we own.
        let wrote = unsafe { libc::write(pty.master.as_raw_fd(), b"\x03".as_ptr().cast(), 1) };
        assert_eq!(wrote, 1);
        read_until(&pty.master, &mut seen, "interrupted\r\n");
        let status = child.wait().expect("the sentry's status");
        assert_eq!(status.code(), Some(4), "{seen}");
    }

    test_support::variant_tests!(the_sandbox_gets_a_terminal_of_its_own);
}

//! Terminals and the user's terminal: a shell's job control inside a pty of the sandbox
//! (the shell gives the terminal to a job, Ctrl-Z stops that job and Ctrl-C kills it, the
//! shell itself untouched), and a sentry whose stdout (but not stdin) is the user's
//! terminal, or which runs as a background job of the user's shell: the sandbox gets a
//! terminal of its own, and its attempt to take the foreground of its terminal leaves the
//! user's as it was. An open of a terminal gives a session leader its controlling
//! terminal, as on Linux. Both platforms, as the invoking user and as uid 65534.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};
use test_support::{variant_tests, Variant};

/// A shell (a session of its own on a pty, as login_tty makes it) runs a job in the
/// foreground; the program on the pty's other end types ^Z, then ^C once the shell has
/// resumed the job. Every step waits for the line that says the previous one is done.
const JOBS: &str = r#"
import os, pty, signal
pid, m = pty.fork()
if pid == 0:
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    r, w = os.pipe()
    go_r, go_w = os.pipe()
    job = os.fork()
    if job == 0:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTTOU, signal.SIG_DFL)
        os.setpgid(0, 0)
        os.write(w, b'x')
        os.read(go_r, 1)
        while True:
            os.read(0, 100)
    os.read(r, 1)
    os.setpgid(job, job)
    os.tcsetpgrp(0, job)
    print('foreground', os.tcgetpgrp(0) == job, flush=True)
    os.write(go_w, b'x')
    _, st = os.waitpid(job, os.WUNTRACED)
    print('job stopped by', signal.Signals(os.WSTOPSIG(st)).name if os.WIFSTOPPED(st) else st, flush=True)
    os.tcsetpgrp(0, os.getpgrp())
    print('shell in the foreground', os.tcgetpgrp(0) == os.getpgrp(), flush=True)
    os.tcsetpgrp(0, job)
    os.killpg(job, signal.SIGCONT)
    print('job resumed', flush=True)
    _, st = os.waitpid(job, 0)
    print('job killed by', signal.Signals(os.WTERMSIG(st)).name if os.WIFSIGNALED(st) else st, flush=True)
    os.tcsetpgrp(0, os.getpgrp())
    print('shell alive', flush=True)
    os._exit(0)
seen = b''
def until(want):
    global seen
    while want not in seen:
        d = os.read(m, 1000)
        if not d:
            raise SystemExit('terminal ended before %r: %r' % (want, seen))
        seen += d
until(b'foreground True')
os.write(m, b'\x1a')
until(b'job resumed')
os.write(m, b'\x03')
until(b'shell alive')
_, st = os.waitpid(pid, 0)
for line in seen.decode().replace('^Z', '').replace('^C', '').splitlines():
    print(line.strip())
print('shell status', st)
"#;

fn a_shell_stops_and_interrupts_only_its_foreground_job(v: Variant) {
    let c = python(v, &[], &[JOBS]);
    let run = test_support::run_to_end(c, test_support::RUN_DEADLINE);
    run.expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().map(str::trim).collect();
    assert_eq!(
        lines,
        [
            "foreground True",
            "job stopped by SIGTSTP",
            "shell in the foreground True",
            "job resumed",
            "job killed by SIGINT",
            "shell alive",
            "shell status 0",
        ],
        "{}",
        run.describe()
    );
}

/// What the sandbox tries on its terminal (fd `FD`): the foreground of it, SIGTTOU ignored
/// as a program that wants it would.
const TAKE_FOREGROUND: &str = r#"
import os, signal, sys
fd = int(sys.argv[1])
signal.signal(signal.SIGTTOU, signal.SIG_IGN)
signal.signal(signal.SIGTTIN, signal.SIG_IGN)
print('tty', os.ttyname(fd), 'session', os.getsid(0))
try:
    os.tcsetpgrp(fd, os.getpgrp())
    print('foreground taken', os.tcgetpgrp(fd) == os.getpgrp())
except OSError as e:
    print('foreground refused', e.errno)
print('tried', flush=True)
"#;

/// Reads the terminal's output until it holds `want` (the deadline bounds the wait).
fn read_until(master: &OwnedFd, seen: &mut String, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
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

/// The foreground process group of the terminal whose master is `master`.
fn foreground_of(master: &OwnedFd) -> i32 {
    let mut pgrp: libc::pid_t = 0;
    // SAFETY: TIOCGPGRP writes one pid_t into memory we own.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPGRP, &mut pgrp) };
    assert_eq!(rc, 0, "TIOCGPGRP: {}", std::io::Error::last_os_error());
    pgrp
}

/// The sentry's command running TAKE_FOREGROUND on the sandbox's fd `fd`.
fn take_foreground(v: Variant, fd: &str) -> std::process::Command {
    python(v, &[], &[TAKE_FOREGROUND, fd])
}

/// The sentry's command (with `options`) running `python3 -c SCRIPT ARGS...` in the
/// hostlibs rootfs.
fn python(v: Variant, options: &[&str], script_and_args: &[&str]) -> std::process::Command {
    let mut c = v.sentry_command();
    c.arg("run")
        .arg(v.platform_flag())
        .args(options)
        .args(["-e", "PATH=/usr/bin:/bin"])
        .arg(test_support::hostlibs_rootfs())
        .args(["/usr/bin/python3", "-c"])
        .args(script_and_args);
    c
}

/// A shell running `script` with the sentry's command as its arguments, a session leader
/// on the terminal whose slave is `slave` (its controlling terminal, on fds 0 to 2), as a
/// login shell is. The script ends with a read of a line, so that the shell holds its
/// session until the test has looked at the terminal.
fn shell_on(slave: &OwnedFd, script: &str, sentry: &std::process::Command) -> Shell {
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.args(["-c", script, "sh"])
        .arg(sentry.get_program())
        .args(sentry.get_args())
        .current_dir("/");
    for (fd, name) in [(0, "stdin"), (1, "stdout"), (2, "stderr")] {
        let dup = slave.try_clone().expect(name);
        match fd {
            0 => cmd.stdin(dup),
            1 => cmd.stdout(dup),
            _ => cmd.stderr(dup),
        };
    }
    // SAFETY: setsid and ioctl are async-signal-safe; nothing is allocated.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Shell(Some(cmd.spawn().expect("start the shell")))
}

/// The shell of a test; killed if the test fails before it has ended (it would wait for
/// its line for ever).
struct Shell(Option<std::process::Child>);

impl Shell {
    fn id(&self) -> u32 {
        self.0.as_ref().map_or(0, std::process::Child::id)
    }

    fn wait(mut self) -> std::process::ExitStatus {
        let mut child = self.0.take().expect("a running shell");
        child.wait().expect("the shell's status")
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// After the sandbox has tried: the terminal's foreground is still the shell's, and the
/// shell (given its line) and the sentry end well.
fn foreground_stays_the_shells(master: &OwnedFd, shell: Shell) {
    let mut seen = String::new();
    read_until(master, &mut seen, "tried");
    assert_eq!(
        foreground_of(master),
        shell.id() as i32,
        "the sandbox took the user's terminal:\n{seen}"
    );
    // SAFETY: write of one byte we own.
    let wrote = unsafe { libc::write(master.as_raw_fd(), b"\n".as_ptr().cast(), 1) };
    assert_eq!(wrote, 1);
    read_until(master, &mut seen, "sentry status 0");
    let status = shell.wait();
    assert_eq!(status.code(), Some(0), "{seen}");
    assert!(seen.contains("tty /dev/pts/0 session 1"), "{seen}");
    assert!(seen.contains("foreground taken True"), "{seen}");
}

/// The sentry in the foreground of the user's terminal, with stdin not a terminal and
/// stdout and stderr that terminal: the sandbox's fd 1 is a terminal of its own, and the
/// user's terminal stays as it was.
fn only_stdout_on_the_users_terminal(v: Variant) {
    let pty = nix::pty::openpty(None, None).expect("a pty for the shell");
    let shell = shell_on(
        &pty.slave,
        "\"$@\" </dev/null; echo sentry status $?; read line",
        &take_foreground(v, "1"),
    );
    drop(pty.slave);
    foreground_stays_the_shells(&pty.master, shell);
}

/// The sentry as a background job of a shell with job control on the user's terminal: the
/// shell keeps the terminal's foreground whatever the sandbox does.
fn a_background_sentry_leaves_the_terminal_to_the_shell(v: Variant) {
    let pty = nix::pty::openpty(None, None).expect("a pty for the shell");
    let shell = shell_on(
        &pty.slave,
        "set -m; \"$@\" & wait $!; echo sentry status $?; read line",
        &take_foreground(v, "0"),
    );
    drop(pty.slave);
    foreground_stays_the_shells(&pty.master, shell);
}

/// A session leader without a terminal opens a pty's slave without O_NOCTTY: as on Linux,
/// it becomes its controlling terminal (/dev/tty opens it and writes to it, its group is the
/// terminal's foreground, and ^C typed on the terminal kills it). A second session's open of the same
/// terminal succeeds without taking it, and an open with O_NOCTTY gives none.
const OPEN_TAKES_TERMINAL: &str = r#"
import os, signal
m, s = os.openpty()
name = os.ttyname(s)
def child(flags):
    os.close(s)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.setsid()
    fd = os.open(name, flags)
    try:
        t = os.open('/dev/tty', os.O_RDWR)
    except OSError as e:
        print('no terminal', e.errno, flush=True)
        os._exit(0)
    print('foreground', os.tcgetpgrp(t) == os.getpgrp(), flush=True)
    os.write(t, b'ready\n')
    while True:
        os.read(fd, 100)
pid = os.fork()
if pid == 0:
    child(os.O_RDWR)
seen = b''
while b'ready' not in seen:
    seen += os.read(m, 100)
for flags in (os.O_RDWR, os.O_RDWR | os.O_NOCTTY):
    other = os.fork()
    if other == 0:
        child(flags)
    os.waitpid(other, 0)
os.write(m, b'\x03')
_, st = os.waitpid(pid, 0)
print('killed by', signal.Signals(os.WTERMSIG(st)).name if os.WIFSIGNALED(st) else st, flush=True)
"#;

fn open_takes_terminal(v: Variant, notify: &str) {
    let c = python(v, &[notify], &[OPEN_TAKES_TERMINAL]);
    let run = test_support::run_to_end(c, test_support::RUN_DEADLINE);
    run.expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().map(str::trim).collect();
    assert_eq!(
        lines,
        [
            "foreground True",
            "no terminal 6",
            "no terminal 6",
            "killed by SIGINT",
        ],
        "{}",
        run.describe()
    );
}

/// The open comes as a seccomp notification (where the kernel has them).
fn an_open_makes_a_terminal_controlling(v: Variant) {
    open_takes_terminal(v, "--notify=auto");
}

/// The open comes as a ptrace stop.
fn an_open_at_a_stop_makes_a_terminal_controlling(v: Variant) {
    open_takes_terminal(v, "--notify=off");
}

variant_tests!(
    a_shell_stops_and_interrupts_only_its_foreground_job,
    only_stdout_on_the_users_terminal,
    a_background_sentry_leaves_the_terminal_to_the_shell,
    an_open_makes_a_terminal_controlling,
    an_open_at_a_stop_makes_a_terminal_controlling
);

//! The sandbox's own terminal: when the sentry runs in the foreground of a terminal (or on
//! one that is nobody's controlling terminal here), the sandbox does not get the user's
//! terminal but a pty of its own, `/dev/pts/0` inside, with the same window size. The
//! sentry puts the user's terminal in raw mode and relays bytes both ways; the pty's line
//! discipline does what the user's would (Ctrl-C and Ctrl-Z reach the sandbox's foreground
//! job), a resize of the user's terminal reaches the sandbox (SIGWINCH), and no ioctl of
//! the sandbox touches the user's terminal. The user's terminal is restored at the end.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A pty for the sandbox: the sentry's master and the slave the first task gets.
pub struct OwnTerminal {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    /// The host's devpts index.
    pub index: u32,
}

/// Whether the sentry should give the sandbox a terminal of its own: its stdin is a
/// terminal, and the sentry is either in its foreground or not in its session at all (a
/// background job of an interactive shell keeps today's behaviour: the terminal is not the
/// sentry's to put in raw mode).
pub fn wanted() -> bool {
    // SAFETY: isatty, tcgetpgrp and getpgrp take plain integers.
    unsafe {
        libc::isatty(0) == 1 && {
            let owner = libc::tcgetpgrp(0);
            owner == libc::getpgrp() || owner < 0
        }
    }
}

impl OwnTerminal {
    /// A new pty with the window size of the sentry's terminal.
    pub fn open() -> std::io::Result<OwnTerminal> {
        let master = nix::pty::posix_openpt(
            nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY | nix::fcntl::OFlag::O_CLOEXEC,
        )?;
        nix::pty::grantpt(&master)?;
        nix::pty::unlockpt(&master)?;
        let mut index: libc::c_uint = 0;
        // SAFETY: TIOCGPTN writes one unsigned int into memory we own.
        if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut index) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: TIOCGPTPEER takes open flags and returns a new fd or -1.
        let slave = unsafe {
            libc::ioctl(
                master.as_raw_fd(),
                libc::TIOCGPTPEER,
                libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
            )
        };
        if slave < 0 {
            return Err(std::io::Error::last_os_error());
        }
        use std::os::fd::IntoRawFd;
        // SAFETY: the slave's fd was just made and is ours alone; the master's is the
        // PtyMaster's, whose ownership moves into an OwnedFd here.
        let (slave, master) = unsafe {
            (
                OwnedFd::from_raw_fd(slave),
                OwnedFd::from_raw_fd(master.into_raw_fd()),
            )
        };
        copy_window_size(0, master.as_raw_fd());
        Ok(OwnTerminal {
            master,
            slave,
            index,
        })
    }
}

/// Copies the window size of terminal `from` to terminal `to` (which signals SIGWINCH to
/// its foreground group when it changes).
pub fn copy_window_size(from: RawFd, to: RawFd) {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into memory we own; TIOCSWINSZ reads it.
    unsafe {
        if libc::ioctl(from, libc::TIOCGWINSZ, &mut size) == 0 {
            libc::ioctl(to, libc::TIOCSWINSZ, &size);
        }
    }
}

/// Puts the sentry's terminal (fd 0) in raw mode: every byte goes to the sandbox's terminal,
/// whose own line discipline interprets it.
pub fn raw_mode() {
    // SAFETY: termios is plain data, filled by tcgetattr; cfmakeraw and tcsetattr work on
    // our own copy.
    unsafe {
        let mut modes: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(0, &mut modes) == 0 {
            libc::cfmakeraw(&mut modes);
            libc::tcsetattr(0, libc::TCSANOW, &modes);
        }
    }
}

/// Starts relaying the user's keystrokes to the sandbox's terminal; the thread that relays
/// its output back is returned, to be joined once the sandbox has ended (so that the last
/// output is written before the sentry exits). Threads inherit the sentry's signal mask.
pub fn relay(master: &OwnedFd) -> std::io::Result<std::thread::JoinHandle<()>> {
    let keys_to = std::fs::File::from(master.try_clone()?);
    let output_from = std::fs::File::from(master.try_clone()?);
    // The terminal's output goes to the user's terminal: the first of stdout, stderr and
    // stdin that is one (a redirected stdout keeps what the sandbox writes there itself).
    // SAFETY: isatty takes a plain integer.
    let screen_fd = [1, 2, 0]
        .into_iter()
        .find(|&fd| unsafe { libc::isatty(fd) } == 1)
        .unwrap_or(1);
    // SAFETY: the fd is one of the sentry's standard fds, open for its whole life.
    let screen = unsafe { std::os::fd::BorrowedFd::borrow_raw(screen_fd) }.try_clone_to_owned()?;
    std::thread::Builder::new()
        .name("sentry-tty-in".into())
        .spawn(move || {
            let mut keys_to = keys_to;
            let mut stdin = std::io::stdin().lock();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdin.read(&mut buf) {
                if n == 0 || keys_to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        })?;
    std::thread::Builder::new()
        .name("sentry-tty-out".into())
        .spawn(move || {
            let mut output_from = output_from;
            let mut screen = std::fs::File::from(screen);
            let mut buf = [0u8; 4096];
            // EIO once no process of the sandbox holds the terminal any more.
            while let Ok(n) = output_from.read(&mut buf) {
                if n == 0 || screen.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        })
}

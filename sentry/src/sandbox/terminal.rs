//! The sandbox's own terminal: when any of the sentry's stdin, stdout and stderr is a
//! terminal, the sandbox does not get the user's terminal but a pty of its own,
//! `/dev/pts/0` inside, with the same window size, in place of each of them, as the
//! controlling terminal of its first process (a session of its own). The sentry relays the
//! pty's output to the user's terminal; while it may read its stdin (a terminal whose
//! foreground it is in, or one that is not its controlling terminal) it puts that terminal
//! in raw mode and relays the keys too, and the pty's line discipline does what the user's
//! would (Ctrl-C and Ctrl-Z reach the sandbox's foreground job). A resize of the user's
//! terminal reaches the sandbox (SIGWINCH); no ioctl of the sandbox touches the user's
//! terminal, since no fd of the sandbox is it and it is no process's controlling terminal
//! in the sandbox. The user's terminal gets its modes back at the end.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A pty for the sandbox: the sentry's master and the slave the first task gets.
pub struct OwnTerminal {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    /// The host's devpts index.
    pub index: u32,
}

/// The sentry's standard fds that are terminals decide the sandbox's: when any of stdin,
/// stdout and stderr is one, the sandbox gets a pty of its own in place of each, never the
/// user's terminal (as a process of the user's session it could otherwise make itself the
/// foreground of that terminal, ignoring SIGTTOU, and read what the user types to the
/// shell). With none, its first process starts a session of its own with no controlling
/// terminal.
pub fn on_terminal() -> bool {
    // SAFETY: isatty takes a plain integer.
    (0..3).any(|fd| unsafe { libc::isatty(fd) } == 1)
}

/// The user's terminal, for its window size: the first of stdin, stdout and stderr that is
/// one.
fn outer() -> Option<RawFd> {
    // SAFETY: isatty takes a plain integer.
    (0..3).find(|&fd| unsafe { libc::isatty(fd) } == 1)
}

/// Whether the keys typed on the sentry's stdin are the sandbox's to read now: stdin is a
/// terminal, and the sentry is either in its foreground or not in its session at all. A
/// sentry started as a background job reads nothing until it is brought to the foreground
/// (see [`Keys::start_if_foreground`]), as a background job that reads its terminal stops.
fn keys_are_ours() -> bool {
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
        resize(master.as_raw_fd());
        Ok(OwnTerminal {
            master,
            slave,
            index,
        })
    }
}

/// Gives the sandbox's terminal `master` the window size of the user's terminal (which
/// signals SIGWINCH to its foreground group when it changes).
pub fn resize(master: RawFd) {
    if let Some(outer) = outer() {
        copy_window_size(outer, master);
    }
}

/// Copies the window size of terminal `from` to terminal `to`.
fn copy_window_size(from: RawFd, to: RawFd) {
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
fn raw_mode() {
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

/// The user's keystrokes to the sandbox's terminal: relayed by a thread of their own while
/// the sentry may read its stdin, the user's terminal then in raw mode.
pub struct Keys {
    to: OwnedFd,
    relaying: AtomicBool,
    made_raw: AtomicBool,
}

impl Keys {
    pub fn new(master: &OwnedFd) -> std::io::Result<Arc<Keys>> {
        Ok(Arc::new(Keys {
            to: master.try_clone()?,
            relaying: AtomicBool::new(false),
            made_raw: AtomicBool::new(false),
        }))
    }

    /// Starts the relay if the keys are the sandbox's now and no relay runs: at the start,
    /// and on SIGCONT (a background job brought to the foreground). The relay ends at the
    /// end of stdin, or when the sentry is no longer in the foreground (its reads then fail
    /// with EIO, SIGTTIN being ignored). Threads inherit the calling thread's signal mask.
    pub fn start_if_foreground(self: &Arc<Self>) {
        if !keys_are_ours() || self.relaying.swap(true, Ordering::SeqCst) {
            return;
        }
        raw_mode();
        self.made_raw.store(true, Ordering::SeqCst);
        let keys = self.clone();
        let started = std::thread::Builder::new()
            .name("sentry-tty-in".into())
            .spawn(move || {
                let mut to = std::fs::File::from(keys.to.try_clone().expect("dup of the master"));
                let mut stdin = std::io::stdin().lock();
                let mut buf = [0u8; 4096];
                while let Ok(n) = stdin.read(&mut buf) {
                    if n == 0 || to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                keys.relaying.store(false, Ordering::SeqCst);
            });
        if started.is_err() {
            self.relaying.store(false, Ordering::SeqCst);
        }
    }

    /// Whether the user's terminal was put in raw mode (and so needs its modes back).
    pub fn made_raw(&self) -> bool {
        self.made_raw.load(Ordering::SeqCst)
    }
}

/// Starts relaying the sandbox's terminal's output to the user's terminal; the thread is
/// returned, to be joined once the sandbox has ended (so that the last output is written
/// before the sentry exits). Threads inherit the sentry's signal mask.
pub fn relay_output(master: &OwnedFd) -> std::io::Result<std::thread::JoinHandle<()>> {
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

/// The modes of the user's terminal (the first of the sentry's stdin, stdout and stderr that
/// is one), given back at the end when the sentry put it in raw mode.
pub struct TerminalState {
    fd: i32,
    modes: libc::termios,
}

impl TerminalState {
    pub fn save() -> Option<TerminalState> {
        let fd = outer()?;
        // SAFETY: termios is plain data; tcgetattr fills it and we check its result.
        let mut modes: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: tcgetattr writes one termios into memory we own.
        if unsafe { libc::tcgetattr(fd, &mut modes) } != 0 {
            return None;
        }
        Some(TerminalState { fd, modes })
    }

    pub fn restore(&self) {
        // SAFETY: tcsetattr reads our own value. SIGTTOU is ignored (see the sentry's signal
        // thread), so a sentry in the background may restore too. A failure leaves the
        // terminal raw, which is all we could do.
        unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, &self.modes) };
    }
}

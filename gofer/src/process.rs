//! The gofer process: ties its life to its parent, confines itself, serves requests.

use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::process::ExitCode;

use crate::seccomp;
use crate::server::{MountRoot, Server};
use crate::sys;
use nix::errno::Errno;

struct Args {
    socket: RawFd,
    mounts: Vec<(RawFd, bool)>,
    ppid: Option<i32>,
}

fn parse_fd(s: &str) -> Result<RawFd, String> {
    match s.parse::<RawFd>() {
        Ok(fd) if fd >= 3 => Ok(fd),
        _ => Err(format!("not a descriptor number >= 3: {s:?}")),
    }
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut socket = None;
    let mut mounts = Vec::new();
    let mut ppid = None;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--socket" => socket = Some(parse_fd(&val()?)?),
            "--mount" => {
                let v = val()?;
                let (fd, mode) = v
                    .split_once(':')
                    .ok_or_else(|| format!("--mount wants FD:rw|ro, got {v:?}"))?;
                let ro = match mode {
                    "rw" => false,
                    "ro" => true,
                    _ => return Err(format!("--mount wants FD:rw|ro, got {v:?}")),
                };
                mounts.push((parse_fd(fd)?, ro));
            }
            "--ppid" => {
                let v = val()?;
                ppid = Some(v.parse::<i32>().map_err(|_| format!("bad --ppid {v:?}"))?);
            }
            _ => return Err(format!("unknown argument {a:?}")),
        }
    }
    let socket = socket.ok_or("missing --socket")?;
    let mut all: Vec<RawFd> = mounts.iter().map(|m| m.0).collect();
    all.push(socket);
    all.sort_unstable();
    if all.windows(2).any(|w| w[0] == w[1]) {
        return Err("a descriptor is given twice".into());
    }
    Ok(Args {
        socket,
        mounts,
        ppid,
    })
}

fn check_fd(fd: RawFd, want: u32, what: &str) -> Result<OwnedFd, String> {
    // SAFETY: F_GETFD only inspects the descriptor table.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(format!("{what} fd {fd} is not open"));
    }
    // SAFETY: the fd is open and was handed to us by the parent for our exclusive use.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let st = sys::fstat(owned.as_fd()).map_err(|e| format!("{what} fd {fd}: {e}"))?;
    if sys::file_type(&st) != want {
        return Err(format!("{what} fd {fd} has the wrong file type"));
    }
    Ok(owned)
}

fn run(args: impl IntoIterator<Item = String>) -> Result<(), String> {
    let args = parse_args(args)?;

    // Die with the parent, and make sure it did not die before we asked.
    // SAFETY: prctl with integer arguments.
    Errno::result(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) })
        .map_err(|e| format!("PR_SET_PDEATHSIG: {e}"))?;
    // SAFETY: getppid cannot fail.
    let parent = unsafe { libc::getppid() };
    match args.ppid {
        Some(p) if p != parent => return Err("parent already gone".into()),
        None if parent == 1 => return Err("parent already gone".into()),
        _ => {}
    }

    let sock = check_fd(args.socket, libc::S_IFSOCK, "--socket")?;
    let mut roots = Vec::new();
    for (fd, read_only) in &args.mounts {
        let root = check_fd(*fd, libc::S_IFDIR, "--mount")?;
        roots.push(MountRoot {
            root,
            read_only: *read_only,
        });
    }
    // Keep nothing else we may have inherited.
    let max = args
        .mounts
        .iter()
        .map(|m| m.0)
        .chain([args.socket])
        .max()
        .unwrap_or(2);
    sys::close_range_from(max as u32 + 1);

    let proc_fd = sys::openat2(
        // SAFETY: AT_FDCWD is a valid "descriptor" for *at calls and is never closed.
        unsafe { BorrowedFd::borrow_raw(libc::AT_FDCWD) },
        c"/proc/self/fd",
        libc::O_PATH | libc::O_DIRECTORY,
        0,
        0,
    )
    .map_err(|e| format!("open /proc/self/fd: {e}"))?;
    let mut server = Server::new(roots, proc_fd);

    let prog = seccomp::filter(args.socket).map_err(|e| format!("seccomp filter: {e}"))?;
    bpf::install(&prog, 0).map_err(|e| format!("seccomp: {e}"))?;

    server
        .serve(sock.as_fd())
        .map_err(|e| format!("socket: {e}"))
}

/// The gofer process's main: `args` are the arguments after the program name
/// (`--socket FD --mount FD:rw|ro ... [--ppid PID]`). Serves until the socket closes; returns
/// the exit code. Besides the `gofer` binary, any binary may call this (for instance the sentry
/// re-executing itself with a hidden subcommand, see `Client::spawn_with_args`). It must run in a
/// single-threaded process: the filter it installs confines only the calling thread.
pub fn gofer_main(args: impl IntoIterator<Item = String>) -> ExitCode {
    ExitCode::from(gofer_status(args))
}

/// [`gofer_main`] with its exit status as a number, for a gofer that is its caller's fork
/// ([`crate::Client::start_forked`]).
pub fn gofer_status(args: impl IntoIterator<Item = String>) -> u8 {
    match run(args) {
        Ok(()) => 0,
        Err(msg) => {
            eprintln!("gofer: {msg}");
            1
        }
    }
}

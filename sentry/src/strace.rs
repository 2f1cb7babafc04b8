//! `--strace`: every call of every task, with decoded arguments, result and class,
//! close to strace(1)'s format: `[pid 3] openat(AT_FDCWD, "/etc/passwd", O_RDONLY) = 3 <gofer>`.

use crate::syscalls::table::Class;
use ::syscalls::Sysno;
use nix::errno::Errno;
use platform_ptrace::{read_cstring, Tid};
use std::fmt::Write;

/// How one argument is shown.
#[derive(Clone, Copy)]
enum Arg {
    Int,
    Hex,
    Ptr,
    Fd,
    DirFd,
    Path,
    OpenFlags,
    Mode,
    /// The mode of open/openat: shown only with O_CREAT or O_TMPFILE, as strace does.
    OpenMode,
    AccessMode,
    Prot,
    MapFlags,
    Signal,
    CloneFlags,
    Domain,
}

fn arg_kinds(sysno: Sysno) -> &'static [Arg] {
    use Arg::*;
    use Sysno::*;
    match sysno {
        read | write => &[Fd, Ptr, Int],
        pread64 | pwrite64 => &[Fd, Ptr, Int, Int],
        readv | writev => &[Fd, Ptr, Int],
        close | fsync | fdatasync | fchdir | dup => &[Fd],
        fstat => &[Fd, Ptr],
        getdents64 => &[Fd, Ptr, Int],
        dup2 | dup3 => &[Fd, Fd, Hex],
        lseek => &[Fd, Int, Int],
        open => &[Path, OpenFlags, OpenMode],
        creat | mkdir | chmod => &[Path, Mode],
        openat => &[DirFd, Path, OpenFlags, OpenMode],
        openat2 => &[DirFd, Path, Ptr, Int],
        stat | lstat | statfs | truncate | utime | utimes => &[Path, Ptr],
        access => &[Path, AccessMode],
        newfstatat => &[DirFd, Path, Ptr, Hex],
        statx => &[DirFd, Path, Hex, Hex, Ptr],
        faccessat | faccessat2 => &[DirFd, Path, AccessMode, Hex],
        readlink => &[Path, Ptr, Int],
        readlinkat => &[DirFd, Path, Ptr, Int],
        mkdirat | fchmodat => &[DirFd, Path, Mode],
        mknod => &[Path, Mode, Hex],
        mknodat => &[DirFd, Path, Mode, Hex],
        unlink | rmdir | chdir | chroot | uselib | acct => &[Path],
        unlinkat => &[DirFd, Path, Hex],
        rename | link | symlink => &[Path, Path],
        renameat | linkat => &[DirFd, Path, DirFd, Path, Hex],
        renameat2 => &[DirFd, Path, DirFd, Path, Hex],
        symlinkat => &[Path, DirFd, Path],
        chown | lchown => &[Path, Int, Int],
        fchownat => &[DirFd, Path, Int, Int, Hex],
        utimensat => &[DirFd, Path, Ptr, Hex],
        execve => &[Path, Ptr, Ptr],
        execveat => &[DirFd, Path, Ptr, Ptr, Hex],
        getcwd => &[Ptr, Int],
        mmap => &[Ptr, Int, Prot, MapFlags, Fd, Hex],
        mprotect => &[Ptr, Int, Prot],
        munmap => &[Ptr, Int],
        brk => &[Ptr],
        kill => &[Int, Signal],
        tkill => &[Int, Signal],
        tgkill => &[Int, Int, Signal],
        rt_sigaction => &[Signal, Ptr, Ptr, Int],
        clone => &[CloneFlags, Ptr, Ptr, Ptr, Hex],
        socket | socketpair => &[Domain, Hex, Int, Ptr],
        connect | bind => &[Fd, Ptr, Int],
        ioctl | fcntl => &[Fd, Hex, Hex],
        exit | exit_group => &[Int],
        wait4 => &[Int, Ptr, Hex, Ptr],
        getpid | getppid | gettid | getuid | geteuid | getgid | getegid | fork | vfork
        | sched_yield | pause | setsid | getpgrp => &[],
        _ => &[Hex, Hex, Hex],
    }
}

const OPEN_FLAGS: &[(i32, &str)] = &[
    (libc::O_CREAT, "O_CREAT"),
    (libc::O_EXCL, "O_EXCL"),
    (libc::O_NOCTTY, "O_NOCTTY"),
    (libc::O_TRUNC, "O_TRUNC"),
    (libc::O_APPEND, "O_APPEND"),
    (libc::O_NONBLOCK, "O_NONBLOCK"),
    (libc::O_DSYNC, "O_DSYNC"),
    (libc::O_DIRECT, "O_DIRECT"),
    (libc::O_LARGEFILE, "O_LARGEFILE"),
    (libc::O_DIRECTORY, "O_DIRECTORY"),
    (libc::O_NOFOLLOW, "O_NOFOLLOW"),
    (libc::O_NOATIME, "O_NOATIME"),
    (libc::O_CLOEXEC, "O_CLOEXEC"),
    (libc::O_PATH, "O_PATH"),
    (libc::O_TMPFILE & !libc::O_DIRECTORY, "O_TMPFILE"),
];

const CLONE_FLAGS: &[(i32, &str)] = &[
    (libc::CLONE_VM, "CLONE_VM"),
    (libc::CLONE_FS, "CLONE_FS"),
    (libc::CLONE_FILES, "CLONE_FILES"),
    (libc::CLONE_SIGHAND, "CLONE_SIGHAND"),
    (libc::CLONE_PIDFD, "CLONE_PIDFD"),
    (libc::CLONE_PTRACE, "CLONE_PTRACE"),
    (libc::CLONE_VFORK, "CLONE_VFORK"),
    (libc::CLONE_PARENT, "CLONE_PARENT"),
    (libc::CLONE_THREAD, "CLONE_THREAD"),
    (libc::CLONE_NEWNS, "CLONE_NEWNS"),
    (libc::CLONE_SYSVSEM, "CLONE_SYSVSEM"),
    (libc::CLONE_SETTLS, "CLONE_SETTLS"),
    (libc::CLONE_PARENT_SETTID, "CLONE_PARENT_SETTID"),
    (libc::CLONE_CHILD_CLEARTID, "CLONE_CHILD_CLEARTID"),
    (libc::CLONE_UNTRACED, "CLONE_UNTRACED"),
    (libc::CLONE_CHILD_SETTID, "CLONE_CHILD_SETTID"),
    (libc::CLONE_NEWCGROUP, "CLONE_NEWCGROUP"),
    (libc::CLONE_NEWUTS, "CLONE_NEWUTS"),
    (libc::CLONE_NEWIPC, "CLONE_NEWIPC"),
    (libc::CLONE_NEWUSER, "CLONE_NEWUSER"),
    (libc::CLONE_NEWPID, "CLONE_NEWPID"),
    (libc::CLONE_NEWNET, "CLONE_NEWNET"),
    (libc::CLONE_IO, "CLONE_IO"),
];

fn flags(out: &mut String, value: i32, table: &[(i32, &str)], base: Option<&str>) {
    let mut rest = value;
    let mut parts: Vec<String> = base.map(|b| b.to_string()).into_iter().collect();
    for &(bit, name) in table {
        if bit != 0 && rest & bit == bit {
            parts.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 || parts.is_empty() {
        parts.push(format!("{rest:#x}"));
    }
    out.push_str(&parts.join("|"));
}

fn signal_name(sig: i32) -> String {
    const NAMES: [&str; 32] = [
        "0",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    match usize::try_from(sig).ok().and_then(|s| NAMES.get(s)) {
        Some(name) => name.to_string(),
        None => format!("SIGRT_{}", sig - 32),
    }
}

fn quote(bytes: &[u8]) -> String {
    let mut s = String::from("\"");
    for &b in bytes {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s.push('"');
    s
}

fn format_arg(out: &mut String, tid: Tid, kind: Arg, value: u64) {
    let _ = match kind {
        Arg::Int => write!(out, "{}", value as i64),
        Arg::Hex => write!(out, "{value:#x}"),
        Arg::Ptr if value == 0 => write!(out, "NULL"),
        Arg::Ptr => write!(out, "{value:#x}"),
        Arg::Fd => write!(out, "{}", value as i32),
        Arg::DirFd if value as i32 == libc::AT_FDCWD => write!(out, "AT_FDCWD"),
        Arg::DirFd => write!(out, "{}", value as i32),
        Arg::Path => match read_cstring(tid, value, 4096) {
            Ok(bytes) => write!(out, "{}", quote(&bytes)),
            Err(_) if value == 0 => write!(out, "NULL"),
            Err(_) => write!(out, "{value:#x}"),
        },
        Arg::OpenFlags => {
            let v = value as i32;
            let access = match v & libc::O_ACCMODE {
                libc::O_RDONLY => "O_RDONLY",
                libc::O_WRONLY => "O_WRONLY",
                _ => "O_RDWR",
            };
            flags(out, v & !libc::O_ACCMODE, OPEN_FLAGS, Some(access));
            Ok(())
        }
        Arg::Mode | Arg::OpenMode => write!(out, "0{:o}", value),
        Arg::AccessMode if value == 0 => write!(out, "F_OK"),
        Arg::AccessMode => {
            flags(
                out,
                value as i32,
                &[
                    (libc::R_OK, "R_OK"),
                    (libc::W_OK, "W_OK"),
                    (libc::X_OK, "X_OK"),
                ],
                None,
            );
            Ok(())
        }
        Arg::Prot if value == 0 => write!(out, "PROT_NONE"),
        Arg::Prot => {
            let table = [
                (libc::PROT_READ, "PROT_READ"),
                (libc::PROT_WRITE, "PROT_WRITE"),
                (libc::PROT_EXEC, "PROT_EXEC"),
            ];
            flags(out, value as i32, &table, None);
            Ok(())
        }
        Arg::MapFlags => {
            let table = [
                (libc::MAP_SHARED, "MAP_SHARED"),
                (libc::MAP_PRIVATE, "MAP_PRIVATE"),
                (libc::MAP_FIXED, "MAP_FIXED"),
                (libc::MAP_ANONYMOUS, "MAP_ANONYMOUS"),
                (libc::MAP_GROWSDOWN, "MAP_GROWSDOWN"),
                (libc::MAP_DENYWRITE, "MAP_DENYWRITE"),
                (libc::MAP_NORESERVE, "MAP_NORESERVE"),
                (libc::MAP_POPULATE, "MAP_POPULATE"),
                (libc::MAP_STACK, "MAP_STACK"),
                (libc::MAP_FIXED_NOREPLACE, "MAP_FIXED_NOREPLACE"),
            ];
            flags(out, value as i32, &table, None);
            Ok(())
        }
        Arg::Signal => write!(out, "{}", signal_name(value as i32)),
        Arg::CloneFlags => {
            let v = value as i32;
            let exit_signal = v & 0xff;
            flags(out, v & !0xff, CLONE_FLAGS, None);
            if exit_signal != 0 {
                let _ = write!(out, "|{}", signal_name(exit_signal));
            }
            Ok(())
        }
        Arg::Domain => match value as i32 {
            libc::AF_UNIX => write!(out, "AF_UNIX"),
            libc::AF_INET => write!(out, "AF_INET"),
            libc::AF_INET6 => write!(out, "AF_INET6"),
            libc::AF_NETLINK => write!(out, "AF_NETLINK"),
            libc::AF_PACKET => write!(out, "AF_PACKET"),
            other => write!(out, "{other}"),
        },
    };
}

/// The call up to its result: `[pid 3] openat(AT_FDCWD, "/etc/passwd", O_RDONLY)`.
/// Paths are the sentry's own copies when it read them to decide the call (`paths`, by
/// argument index); other arguments are read at entry, before the call runs.
/// `tid` is the host task (to read its memory), `shown` the sandbox's number for it.
pub fn format_entry(
    tid: Tid,
    shown: i32,
    sysno: Option<Sysno>,
    nr: u64,
    args: &[u64; 6],
    paths: &[(usize, Vec<u8>)],
) -> String {
    let mut out = format!("[pid {shown}] ");
    let Some(sysno) = sysno else {
        let _ = write!(
            out,
            "syscall_{nr}({:#x}, {:#x}, {:#x})",
            args[0], args[1], args[2]
        );
        return out;
    };
    out.push_str(sysno.name());
    out.push('(');
    let kinds = arg_kinds(sysno);
    for (i, &kind) in kinds.iter().enumerate() {
        if matches!(kind, Arg::OpenMode) {
            let open_flags = args[i - 1] as i32;
            let creates =
                open_flags & libc::O_CREAT != 0 || open_flags & libc::O_TMPFILE == libc::O_TMPFILE;
            if !creates {
                continue;
            }
        }
        if i > 0 {
            out.push_str(", ");
        }
        match (kind, paths.iter().find(|(at, _)| *at == i)) {
            // The copy the sentry decided on, when it read this path.
            (Arg::Path, Some((_, path))) => out.push_str(&quote(path)),
            _ => format_arg(&mut out, tid, kind, args[i]),
        }
    }
    out.push(')');
    out
}

/// Finishes a line with the result and class, and emits it.
pub fn emit(line: &str, sysno: Option<Sysno>, ret: i64, class: Class) {
    let result = if (-4095..0).contains(&ret) {
        let e = Errno::from_raw(-ret as i32);
        match e {
            Errno::UnknownErrno => "-1 E? (unknown error)".to_string(),
            e => format!("-1 {e:?} ({})", e.desc()),
        }
    } else if matches!(sysno, Some(Sysno::mmap | Sysno::brk | Sysno::mremap)) {
        format!("{ret:#x}")
    } else {
        ret.to_string()
    };
    tracing::info!(target: "strace", "{line} = {result} <{}>", class.label());
}

/// A call that does not return (exit, a successful execve seen from the old image).
pub fn emit_no_return(line: &str, class: Class) {
    tracing::info!(target: "strace", "{line} = ? <{}>", class.label());
}

//! `--strace`: every call of every task, with decoded arguments, result and class,
//! close to strace(1)'s format: `[pid 3] openat(AT_FDCWD, "/etc/passwd", O_RDONLY) = 3 <gofer>`.

use crate::syscalls::args::{show_untyped, Shown};
use crate::syscalls::table::{self, Class};
use ::syscalls::Sysno;
use nix::errno::Errno;
use platform_ptrace::Tid;
use std::fmt::Write;

/// The call up to its result: `[pid 3] openat(AT_FDCWD, "/etc/passwd", O_RDONLY)`.
/// The arguments are shown from the call's typed struct (its table entry); paths are the
/// sentry's own copies when it read them to decide the call (`paths`, by argument index).
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
    let view = Shown {
        tid,
        raw: args,
        paths,
    };
    let shown_args = match table::lookup(nr, table::Policy::default()).show {
        Some(show) => show(&view),
        None => show_untyped(args),
    };
    let _ = write!(out, "{}({shown_args})", sysno.name());
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

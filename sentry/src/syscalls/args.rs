//! Typed syscall arguments. Each syscall's entry (the `syscall_entries!` block of the file
//! that serves it; see `table`) names its arguments and their kinds; the macro makes a struct of them per
//! syscall, decoded from the registers once, shown by `--strace` from the same struct, and
//! handed to the handler. A path argument is a handle: its bytes are copied out of the task
//! the first time a handler (or `--strace`) asks, and every later use reads that copy.

use nix::errno::Errno;
use platform_ptrace::Tid;
use std::fmt::Write;

/// How the arguments of a call are shown: the task (for a path no handler read), the raw
/// registers (an argument shown according to another) and the paths the sentry read.
pub struct Shown<'a> {
    pub tid: Tid,
    pub raw: &'a [u64; 6],
    pub paths: &'a [(usize, Vec<u8>)],
}

/// One kind of argument: its value in the struct, and how `--strace` shows it.
pub trait Arg {
    type Value: Copy + std::fmt::Debug;
    fn decode(raw: u64, index: usize) -> Self::Value;
    /// The argument as strace(1) shows it, or None when strace leaves it out.
    fn show(value: Self::Value, index: usize, shown: &Shown) -> Option<String>;
}

/// A path argument: which argument it is, and the task's pointer. Read it with
/// `Call::path`, which copies it out of the task once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathArg {
    pub index: usize,
    pub ptr: u64,
}

impl PathArg {
    pub fn is_null(self) -> bool {
        self.ptr == 0
    }
}

/// The argument kinds a `syscall_entries!` entry names.
pub mod kind {
    use super::*;

    macro_rules! plain {
        ($($(#[$doc:meta])* $name:ident: $value:ty = |$v:ident| $show:expr;)*) => {$(
            $(#[$doc])*
            pub struct $name;
            impl Arg for $name {
                type Value = $value;
                fn decode(raw: u64, _: usize) -> $value {
                    raw as $value
                }
                fn show($v: $value, _: usize, _: &Shown) -> Option<String> {
                    Some($show)
                }
            }
        )*};
    }

    plain! {
        /// A signed number.
        Int: i64 = |v| v.to_string();
        /// An unsigned number (a size, a count).
        UInt: u64 = |v| v.to_string();
        /// A 32-bit signed number (a pid, a command, a resource).
        Int32: i32 = |v| v.to_string();
        /// A user or group id (-1 leaves it unchanged).
        Id: u32 = |v| (v as i32).to_string();
        /// Flags or a value best read in hex.
        Hex: u64 = |v| format!("{v:#x}");
        /// A pointer into the task; what it points to is read by the handler, once.
        Ptr: u64 = |v| if v == 0 { "NULL".into() } else { format!("{v:#x}") };
        /// A file descriptor of the task.
        Fd: i32 = |v| v.to_string();
        /// A directory fd, or AT_FDCWD.
        DirFd: i32 = |v| if v == libc::AT_FDCWD { "AT_FDCWD".into() } else { v.to_string() };
        /// A file mode.
        Mode: u32 = |v| format!("0{v:o}");
        /// open's flags.
        OpenFlags: i32 = |v| open_flags(v);
        /// access's mode.
        AccessMode: i32 = |v| access_mode(v);
        /// mmap's and mprotect's protection.
        Prot: i32 = |v| prot(v);
        /// mmap's flags.
        MapFlags: i32 = |v| flags(v, MAP_FLAGS, None);
        /// A signal number.
        Signal: i32 = |v| signal_name(v);
        /// clone's flags and exit signal.
        CloneFlags: u64 = |v| clone_flags(v);
        /// A socket's address family.
        Domain: i32 = |v| domain(v);
    }

    /// A path in the task's memory: see [`PathArg`].
    pub struct Path;
    impl Arg for Path {
        type Value = PathArg;
        fn decode(raw: u64, index: usize) -> PathArg {
            PathArg { index, ptr: raw }
        }
        fn show(value: PathArg, index: usize, shown: &Shown) -> Option<String> {
            if let Some((_, path)) = shown.paths.iter().find(|(at, _)| *at == index) {
                // The copy the sentry decided on.
                return Some(quote(path));
            }
            Some(
                match platform_ptrace::read_cstring(shown.tid, value.ptr, 4096) {
                    Ok(bytes) => quote(&bytes),
                    Err(_) if value.ptr == 0 => "NULL".into(),
                    Err(_) => format!("{:#x}", value.ptr),
                },
            )
        }
    }

    /// The mode of open/openat, shown only with O_CREAT or O_TMPFILE (the argument before
    /// it holds the flags), as strace does.
    pub struct OpenMode;
    impl Arg for OpenMode {
        type Value = u32;
        fn decode(raw: u64, _: usize) -> u32 {
            raw as u32
        }
        fn show(value: u32, index: usize, shown: &Shown) -> Option<String> {
            let flags = shown.raw[index.checked_sub(1)?] as i32;
            let creates = flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE;
            creates.then(|| format!("0{value:o}"))
        }
    }
}

/// The arguments of a call whose entry names no kinds: three in hex, as strace shows an
/// unknown call.
pub fn show_untyped(raw: &[u64; 6]) -> String {
    format!("{:#x}, {:#x}, {:#x}", raw[0], raw[1], raw[2])
}

/// What a handler gives back: an action, or an errno the task sees.
pub trait IntoAction {
    fn into_action(self) -> super::Action;
}

impl IntoAction for super::Action {
    fn into_action(self) -> super::Action {
        self
    }
}

impl IntoAction for Result<super::Action, Errno> {
    fn into_action(self) -> super::Action {
        self.unwrap_or_else(|e| super::Action::Return(-(e as i64)))
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

const MAP_FLAGS: &[(i32, &str)] = &[
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

/// `value` as `A|B|0x..`, each bit named by `table`, after `base` when given.
fn flags(value: i32, table: &[(i32, &str)], base: Option<&str>) -> String {
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
    parts.join("|")
}

fn open_flags(value: i32) -> String {
    let access = match value & libc::O_ACCMODE {
        libc::O_RDONLY => "O_RDONLY",
        libc::O_WRONLY => "O_WRONLY",
        _ => "O_RDWR",
    };
    flags(value & !libc::O_ACCMODE, OPEN_FLAGS, Some(access))
}

fn access_mode(value: i32) -> String {
    if value == 0 {
        return "F_OK".into();
    }
    let table = [
        (libc::R_OK, "R_OK"),
        (libc::W_OK, "W_OK"),
        (libc::X_OK, "X_OK"),
    ];
    flags(value, &table, None)
}

fn prot(value: i32) -> String {
    if value == 0 {
        return "PROT_NONE".into();
    }
    let table = [
        (libc::PROT_READ, "PROT_READ"),
        (libc::PROT_WRITE, "PROT_WRITE"),
        (libc::PROT_EXEC, "PROT_EXEC"),
    ];
    flags(value, &table, None)
}

fn clone_flags(value: u64) -> String {
    let value = value as i32;
    let exit_signal = value & 0xff;
    let mut out = flags(value & !0xff, CLONE_FLAGS, None);
    if exit_signal != 0 {
        let _ = write!(out, "|{}", signal_name(exit_signal));
    }
    out
}

fn domain(value: i32) -> String {
    match value {
        libc::AF_UNIX => "AF_UNIX".into(),
        libc::AF_INET => "AF_INET".into(),
        libc::AF_INET6 => "AF_INET6".into(),
        libc::AF_NETLINK => "AF_NETLINK".into(),
        libc::AF_PACKET => "AF_PACKET".into(),
        other => other.to_string(),
    }
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

/// A byte string as strace quotes it.
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

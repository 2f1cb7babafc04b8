//! Setting up a sandbox's file system before its first instruction: the mount table
//! (rootfs, `--mount`, `--tmpfs`, /dev), the scratch directory that backs the sentry's
//! own mounts, and the gofer that serves them.

pub mod bundle;
mod confine;
pub mod container;
pub mod hooks;
mod publish;
mod run;
mod tasks;
mod terminal;
mod throttle;

pub use run::{gofer_process, prepare, run, Process, Starter, GOFER_ARG};

use crate::kernel::mounts::{normalize, Mount, MountTable, DEVICES};
use std::path::{Path, PathBuf};

/// Exit statuses of the sentry itself, after the convention of `docker run`, `chroot`, `env`.
pub const EXIT_SENTRY_FAILED: u8 = 125;
pub const EXIT_CANNOT_EXECUTE: u8 = 126;
pub const EXIT_NOT_FOUND: u8 = 127;

/// An error of the sentry itself, reported as one line with its exit status.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    CannotExecute(String),
    /// The sentry could not set up or keep up the sandbox.
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Supervisor(#[from] crate::supervisor::Error),
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::NotFound(_) => EXIT_NOT_FOUND,
            Failure::CannotExecute(_) => EXIT_CANNOT_EXECUTE,
            Failure::Usage(_) | Failure::Internal(_) | Failure::Supervisor(_) => EXIT_SENTRY_FAILED,
        }
    }
}

pub use crate::config::MountRequest;

/// Parses `HOST_PATH:SANDBOX_PATH[:ro|:rw]`.
pub fn parse_mount(spec: &str) -> Result<MountRequest, String> {
    let bad = || format!("--mount '{spec}': expected HOST_PATH:SANDBOX_PATH[:ro]");
    let (rest, read_only) = match spec.rsplit_once(':') {
        Some((rest, "ro")) => (rest, true),
        Some((rest, "rw")) => (rest, false),
        _ => (spec, false),
    };
    let (host, sandbox) = rest.split_once(':').ok_or_else(bad)?;
    if host.is_empty() || sandbox.is_empty() {
        return Err(bad());
    }
    Ok(MountRequest::Bind {
        host: PathBuf::from(host),
        sandbox: sandbox_path(sandbox, "--mount")?,
        read_only,
    })
}

/// Checks and normalises a mount point given on the command line.
pub fn sandbox_path(path: &str, option: &str) -> Result<Vec<u8>, String> {
    if !path.starts_with('/') {
        return Err(format!(
            "{option} '{path}': the sandbox path must be absolute"
        ));
    }
    let normal = normalize(path.as_bytes(), 0);
    if normal == b"/" {
        return Err(format!(
            "{option} '{path}': cannot mount over the sandbox's root"
        ));
    }
    Ok(normal)
}

/// A private directory of the sentry that backs /dev/shm, `--tmpfs` mounts and what the
/// sentry writes for the sandbox (with a second one in memory for the read-only trees);
/// removed when the sandbox ends, also when the sentry is SIGKILLed: see [`janitor`].
pub struct Scratch {
    pub dir: PathBuf,
    /// A second private directory, on the host's memory-backed /dev/shm when it is a tmpfs,
    /// for the read-only trees the sentry writes before the sandbox starts (its /sys, /dev
    /// and the empty directory behind /proc): small files that cost milliseconds on a disk
    /// and microseconds in memory. The sandbox cannot write there (read-only mounts) and,
    /// once confined, nor can the sentry, except for an empty file per terminal in /dev/pts
    /// (numbers are reused, so it stays as small as the set of terminals open at once);
    /// the janitor removes it with `dir`. None: those trees go in `dir`.
    fixed: Option<PathBuf>,
    /// The write end of the janitor's pipe: it closes when the sentry ends.
    janitor: Option<std::os::fd::OwnedFd>,
    /// The janitor's start until the sentry takes its ends (see [`janitor`]).
    janitor_start: Option<JanitorStart>,
    /// The janitor's intermediate child until it is reaped: it probes the synchronous
    /// wake-up meanwhile.
    janitor_intermediate: Option<libc::pid_t>,
    /// Then what tells that the janitor has renamed itself, waited on at the end.
    janitor_title_wait: Option<std::os::fd::OwnedFd>,
    /// What the janitor's intermediate child found of the synchronous wake-up.
    sync_wakeup: Option<bool>,
    /// Whether dropping this leaves the contents to the janitor instead of removing them.
    leave_to_janitor: bool,
}

/// The fd on which a janitor waits for the end of its sentry.
const JANITOR_FD: libc::c_int = 3;
/// The janitor's pidfd of its sentry: it starts removing once the sentry has exited.
const JANITOR_SENTRY_FD: libc::c_int = 4;
/// The fd on which a janitor says it filled /sys.
const JANITOR_FILL_FD: libc::c_int = 5;
/// The janitor's intermediate child's status when the kernel has no synchronous wake-up.
const NO_SYNC_WAKEUP: libc::c_int = 2;

/// Starts a process that removes `dir` once the sentry has ended, however it ends: the
/// sentry confines itself with Landlock to the inside of `dir`, so it cannot remove `dir`
/// itself, and a SIGKILLed sentry cleans up nothing. The janitor is a grandchild (never a
/// child the supervisor waits for) in a session of its own, ignores the signals a terminal
/// sends, and waits for the end of a pipe whose only write end the sentry holds. On that
/// pipe the sentry also writes a journal of the SysV objects the sandbox makes and removes
/// on the host (`kernel::ipc`): at the end the janitor removes those left (a sentry that
/// ends by itself has removed them already), before `dir`. Must be called while the
/// sentry has a single thread.
///
/// The janitor is a fork of the sentry that does not exec, as the forked gofer: an exec of
/// the sentry's binary costs half a millisecond of CPU on this project's VM (the C
/// library's start asks CPUID for the caches dozens of times, each a trap to the
/// hypervisor), beside the sandbox's own start. It is renamed at once (`sentry-janitor` in
/// ps and /proc/<pid>/cmdline, which would show the sentry's command line, the sandbox's
/// command in it), empties its environment, keeps only the fds it needs, and holds a copy
/// of the sentry's memory as it was before any task existed, which no sandbox process can
/// reach (the sandbox sees no host pid, and the sentry denies ptrace and checks
/// process_vm_readv and /proc).
///
/// Returns the pipe's write end and what tells that the janitor has renamed itself: the
/// sentry goes on with its start meanwhile, reaps the intermediate child with
/// [`Scratch::sync_wakeup`] just before the sandbox's first task, and waits for the rename
/// when the scratch directory is dropped. The intermediate child, which ends anyway, also
/// tells by its status whether the kernel has `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP`: asked
/// on a thread of the sentry's own, that took 0.12–0.17 ms of every start; reaped as soon
/// as the sentry had its tables, the sentry still waited 0.06 ms for it.
///
/// With `sys`, the janitor fills the sandbox's /sys there when the sentry asks, the first
/// time the sandbox looks into /sys (`kernel::mounts::LateFill`): a hundred small files
/// copied from the host's /sys, about a millisecond to write and another to remove, that
/// most programs never read. The sentry asks with a byte on a socket; the janitor answers
/// with a byte once the tree is written, and closes its end without one if the fill failed.
fn janitor(
    dirs: &[&Path],
    sys: Option<&Path>,
) -> std::io::Result<(std::os::fd::OwnedFd, JanitorStart)> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    let dirs: Vec<PathBuf> = dirs.iter().map(|d| d.to_path_buf()).collect();
    let sys = sys.map(Path::to_path_buf);
    let (read_end, write_end) = pipe()?;
    // Ends (EOF) when the janitor has renamed itself and emptied its environment: until then
    // it shows the sentry's command line and environment, and must not outlive the sentry's
    // start unnoticed.
    let (title_wait, title_done) = pipe()?;
    // The fill's socket (the sentry's end, the janitor's), when there is one.
    let fill = sys
        .as_ref()
        .map(|_| {
            use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
            let stream = SockType::Stream;
            socketpair(AddressFamily::Unix, stream, None, SockFlag::SOCK_CLOEXEC)
        })
        .transpose()?;
    let fill_done = fill.as_ref().map_or(-1, |(_, done)| done.as_raw_fd());
    // SAFETY: pidfd_open of this process, with integer arguments; -1 if the kernel has none.
    let sentry = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) } as RawFd;
    // SAFETY: a new fd of ours alone, closed when this returns (the janitor has its copy).
    let sentry = (sentry >= 0).then(|| unsafe { OwnedFd::from_raw_fd(sentry) });
    let sentry_fd = sentry.as_ref().map_or(-1, |fd| fd.as_raw_fd());
    // SAFETY: fork while single-threaded (see above), so the children may allocate.
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if child == 0 {
        // SAFETY: as above. The intermediate child exits at once so that the janitor is
        // reparented away from the sentry; the janitor keeps only the fds it needs, as 3 to
        // 5 (a pipe of the sentry's caller held open would keep its reader waiting), and
        // never returns.
        unsafe {
            let janitor = libc::fork();
            if janitor < 0 {
                libc::_exit(1);
            }
            if janitor > 0 {
                let sync = platform_ptrace::notify::probe_sync_wakeup_here();
                libc::_exit(if sync { 0 } else { NO_SYNC_WAKEUP });
            }
            libc::prctl(libc::PR_SET_NAME, c"sentry-janitor".as_ptr());
            run::retitle(b"sentry-janitor");
            run::forget_environment();
            libc::setsid();
            for sig in [
                libc::SIGINT,
                libc::SIGHUP,
                libc::SIGTERM,
                libc::SIGQUIT,
                libc::SIGTSTP,
            ] {
                libc::signal(sig, libc::SIG_IGN);
            }
            // Each fd above the numbers they go to, so that none is overwritten; then each to
            // its number, or that number closed.
            let kept = [
                (read_end.as_raw_fd(), JANITOR_FD),
                (sentry_fd, JANITOR_SENTRY_FD),
                (fill_done, JANITOR_FILL_FD),
            ]
            .map(|(fd, to)| {
                let high = if fd < 0 {
                    -1
                } else {
                    libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10)
                };
                (fd, high, to)
            });
            for (fd, high, to) in kept {
                let placed = match (fd, high) {
                    (fd, _) if fd < 0 => {
                        libc::close(to) == 0 || *libc::__errno_location() == libc::EBADF
                    }
                    (_, high) => high >= 0 && libc::dup3(high, to, libc::O_CLOEXEC) >= 0,
                };
                if !placed {
                    libc::_exit(1);
                }
            }
            // The end of the rename's pipe closes with the rest.
            libc::syscall(libc::SYS_close_range, 0u32, 2u32, 0u32);
            libc::syscall(
                libc::SYS_close_range,
                JANITOR_FILL_FD as u32 + 1,
                u32::MAX,
                0u32,
            );
            // A panic must not unwind into the sentry's own code, in this copy of it.
            let served = std::panic::catch_unwind(|| janitor_main(sys.as_deref(), &dirs));
            libc::_exit(if served.is_ok() { 0 } else { 101 });
        }
    }
    drop(title_done);
    Ok((
        write_end,
        JanitorStart {
            intermediate: child,
            title_wait,
            fill_ask: fill.map(|(ask, _)| ask),
        },
    ))
}

/// A new pipe (read end, write end), both close-on-exec.
fn pipe() -> std::io::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into our array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both fds were just made and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A janitor on its way: the intermediate child to reap, the end that tells of the
/// janitor's rename, and the sentry's end of the socket that asks for the fill of /sys.
struct JanitorStart {
    intermediate: libc::pid_t,
    title_wait: std::os::fd::OwnedFd,
    fill_ask: Option<std::os::fd::OwnedFd>,
}

/// Reaps the janitor's intermediate child, `pid`: its wait status, None if it could not
/// be reaped.
fn reap(pid: libc::pid_t) -> Option<libc::c_int> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid on our own child, by its pid, writing one int: no task exists yet
        // whose wait loop could have reaped it, so the pid still names it.
        if unsafe { libc::waitpid(pid, &mut status, 0) } == pid {
            return Some(status);
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return None;
        }
    }
}

/// Whether the calling process has a single thread (read from /proc; false if unknown).
pub(super) fn single_threaded() -> bool {
    std::fs::read_dir("/proc/self/task").is_ok_and(|tasks| tasks.count() == 1)
}

/// The janitor's body: follows the sentry's journal on fd 3 until its end (filling `sys` if
/// the sentry asks on fd 5 meanwhile), then removes the SysV objects left and `dirs`.
fn janitor_main(sys: Option<&Path>, dirs: &[PathBuf]) {
    use crate::kernel::ipc;
    let left = follow_journal(sys);
    // The journal ends as the sentry ends, before its exit is made: a janitor that removed
    // at once took a CPU the sentry's last thread was to exit on (0.1-0.2 ms of each run).
    until_sentry_exited();
    // SAFETY: setpriority of this process with integer arguments; a failure leaves it as is.
    unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) };
    for (kind, id) in left {
        // Only one still IPC_PRIVATE, as every object of the sandbox's is on the host: an id
        // reused since by a keyed object of another's is left alone.
        if ipc::is_private_on_host(kind, id) {
            ipc::remove_from_host(kind, id);
        }
    }
    for dir in dirs {
        let _ = remove_tree(dir);
    }
}

/// Waits until the sentry has exited, as its pidfd on fd 4 tells (when the kernel gave one).
fn until_sentry_exited() {
    let mut exited = libc::pollfd {
        fd: JANITOR_SENTRY_FD,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll of one pollfd we own; a closed fd 4 answers POLLNVAL at once.
    while unsafe { libc::poll(&mut exited, 1, -1) } < 0
        && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
    {}
}

/// Reads the journal of SysV objects on fd 3 until its end (the sentry and all it started
/// are gone) and returns the objects made and not removed. Fills `sys` if the sentry asks
/// (a byte on fd 5) before that, and answers with a byte once it is written; fd 5 is closed
/// after its one request, or at the end.
fn follow_journal(sys: Option<&Path>) -> hashbrown::HashSet<(crate::kernel::ipc::IpcKind, i32)> {
    use crate::kernel::ipc::{read_journal_entry, JOURNAL_ENTRY};
    let mut objects = hashbrown::HashSet::new();
    let mut fill = sys;
    let mut buf = [0u8; 4096];
    let mut have = 0;
    loop {
        let mut watched =
            [JANITOR_FD, fill.map_or(-1, |_| JANITOR_FILL_FD)].map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            });
        // SAFETY: poll reads and writes our array of two pollfds (a negative fd is skipped).
        if unsafe { libc::poll(watched.as_mut_ptr(), 2, -1) } < 0 {
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                _ => break,
            }
        }
        if watched[1].revents != 0 {
            if let Some(sys) = fill.take() {
                fill_sys(sys);
            }
        }
        if watched[0].revents == 0 {
            continue;
        }
        // SAFETY: read writes at most the free part of our buffer.
        let n = unsafe {
            libc::read(
                JANITOR_FD,
                buf[have..].as_mut_ptr().cast(),
                buf.len() - have,
            )
        };
        if n == 0 || (n < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR))
        {
            break;
        }
        have += n.max(0) as usize;
        let whole = have - have % JOURNAL_ENTRY;
        for entry in buf[..whole].chunks_exact(JOURNAL_ENTRY) {
            match read_journal_entry(entry.try_into().expect("an entry")) {
                Some((true, kind, id)) => objects.insert((kind, id)),
                Some((false, kind, id)) => objects.remove(&(kind, id)),
                None => false,
            };
        }
        buf.copy_within(whole..have, 0);
        have -= whole;
    }
    if fill.is_some() {
        // SAFETY: closing the fill's socket, ours alone: the sentry held the other end.
        unsafe { libc::close(JANITOR_FILL_FD) };
    }
    objects
}

/// Serves the one request to fill the sandbox's /sys in `sys` (a byte on fd 5: none when
/// the sentry closed its end), answers with a byte once it is written, and closes fd 5.
fn fill_sys(sys: &Path) {
    let mut asked = 0u8;
    // SAFETY: read writes at most one byte into our buffer.
    let n = unsafe { libc::read(JANITOR_FILL_FD, (&mut asked as *mut u8).cast(), 1) };
    if n == 1 && sysfs(sys).is_ok() {
        let filled = 1u8;
        // SAFETY: send reads one byte of ours; fd 5 is the fill's socket (see `janitor`).
        // MSG_NOSIGNAL: a sentry gone meanwhile is no signal.
        unsafe {
            libc::send(
                JANITOR_FILL_FD,
                (&filled as *const u8).cast(),
                1,
                libc::MSG_NOSIGNAL,
            )
        };
    }
    // SAFETY: closing the fill's socket, ours alone: the sentry holds the other end.
    unsafe { libc::close(JANITOR_FILL_FD) };
}

/// Removes `dir` and everything beneath it. Some directories in it may be read-only (the
/// sentry's /proc materializations are mode 0555, and the sandbox may chmod its own):
/// without CAP_DAC_OVERRIDE their entries cannot be unlinked until their owner, the
/// sentry's user, makes them writable again. For a tree nothing runs in any more.
pub fn remove_tree(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(first) => {
            // An explicit stack: the depth of a tree the sandbox made is not bounded.
            let mut stack = vec![dir.to_path_buf()];
            while let Some(d) = stack.pop() {
                let _ = std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700));
                for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                    if entry.file_type().is_ok_and(|t| t.is_dir()) {
                        stack.push(entry.path());
                    }
                }
            }
            std::fs::remove_dir_all(dir).map_err(|_| first)
        }
    }
}

impl Scratch {
    /// A new private directory under `parent` (the host's temporary directory when None).
    pub fn new(parent: Option<&Path>) -> std::io::Result<Scratch> {
        use std::os::unix::fs::DirBuilderExt;
        let mut bytes = [0u8; 8];
        // SAFETY: getrandom writes at most 8 bytes into our buffer.
        unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), 8, 0) };
        let parent = parent.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let name = format!(
            "sentry-{}-{:016x}",
            std::process::id(),
            u64::from_ne_bytes(bytes)
        );
        let dir = parent.join(&name);
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        let fixed = memory_backed_dir(&name);
        Ok(Scratch {
            dir,
            fixed,
            janitor: None,
            janitor_start: None,
            janitor_intermediate: None,
            janitor_title_wait: None,
            sync_wakeup: None,
            leave_to_janitor: false,
        })
    }

    /// Starts the janitor (see [`janitor`]) once the mount roots exist, and has it fill
    /// `unfilled`'s /sys; whether it does (otherwise the caller fills it). Must be called
    /// while the sentry has a single thread; until then, dropping this removes the
    /// directories itself.
    pub fn start_janitor(&mut self, unfilled: &Unfilled) -> bool {
        let mut dirs = vec![self.dir.as_path()];
        dirs.extend(self.fixed.as_deref());
        match janitor(&dirs, Some(unfilled.sys())) {
            Ok((janitor, start)) => {
                self.janitor = Some(janitor);
                self.janitor_start = Some(start);
                true
            }
            Err(e) => {
                tracing::warn!("sentry: no janitor for {}: {e}", self.dir.display());
                false
            }
        }
    }

    /// The sentry's end of the socket that asks the janitor to fill /sys (see [`janitor`]),
    /// for when the sandbox first looks there.
    pub fn janitor_started(&mut self) -> Option<std::os::fd::OwnedFd> {
        let JanitorStart {
            intermediate,
            title_wait,
            fill_ask,
        } = self.janitor_start.take()?;
        self.janitor_intermediate = Some(intermediate);
        self.janitor_title_wait = Some(title_wait);
        fill_ask
    }

    /// Where the sentry tells the janitor of the SysV objects the sandbox makes and removes
    /// (see [`janitor`]): the pipe's write end again, not blocking.
    pub fn janitor_journal(&self) -> Option<std::os::fd::OwnedFd> {
        use std::os::fd::{AsRawFd, FromRawFd};
        let janitor = self.janitor.as_ref()?;
        // SAFETY: F_DUPFD_CLOEXEC and F_SETFL take integers; the new fd is ours alone.
        unsafe {
            let journal = libc::fcntl(janitor.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0);
            if journal < 0 {
                return None;
            }
            let journal = std::os::fd::OwnedFd::from_raw_fd(journal);
            (libc::fcntl(journal.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) == 0)
                .then_some(journal)
        }
    }

    /// Whether the kernel has `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP`, as the janitor's
    /// intermediate child found (see [`janitor`]); None when it could not tell. Reaps that
    /// child at the first call, which must come before the sandbox's first task exists (no
    /// task's wait loop may meet it); until then it probes while the sentry prepares.
    pub fn sync_wakeup(&mut self) -> Option<bool> {
        let _ = self.janitor_started();
        if let Some(intermediate) = self.janitor_intermediate.take() {
            let status = reap(intermediate);
            self.sync_wakeup = match status.map(|s| (libc::WIFEXITED(s), libc::WEXITSTATUS(s))) {
                Some((true, 0)) => Some(true),
                Some((true, NO_SYNC_WAKEUP)) => Some(false),
                _ => None,
            };
        }
        self.sync_wakeup
    }

    /// Makes dropping this leave the removal to the janitor, if there is one: for a sentry
    /// that exits right after, so that its exit does not wait for hundreds of unlinks on the
    /// host's disk (the janitor starts them once the sentry and its gofer are gone).
    pub fn leave_to_janitor(&mut self) {
        self.leave_to_janitor = true;
    }

    /// A new empty directory for a read-only tree that the sentry fills before the sandbox
    /// starts: in the memory-backed directory if there is one.
    fn fixed_tree(&self, name: &str, mode: u32) -> std::io::Result<PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        let Some(fixed) = &self.fixed else {
            return self.tmpfs(name, mode);
        };
        let path = fixed.join(name);
        std::fs::create_dir(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        Ok(path)
    }

    /// Whether `host` is inside one of the scratch directories: a tmpfs to the sandbox.
    fn holds(&self, host: &Path) -> bool {
        host.starts_with(&self.dir) || self.fixed.as_ref().is_some_and(|f| host.starts_with(f))
    }

    /// A new empty directory for a tmpfs-like mount.
    fn tmpfs(&self, name: &str, mode: u32) -> std::io::Result<PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        let path = self.dir.join(name);
        std::fs::create_dir(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        Ok(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // A sentry that failed before its first task: the copies are not left behind either,
        // nor the janitor's intermediate child.
        let _ = self.sync_wakeup();
        // The janitor shows the sentry's command line and environment until it renames
        // itself (a fraction of a millisecond after the fork): it does not outlive the
        // sentry as one.
        if let Some(title_wait) = self.janitor_title_wait.take() {
            crate::kernel::mounts::until_end(&title_wait);
        }
        if self.leave_to_janitor && self.janitor.is_some() {
            return;
        }
        let _ = remove_tree(&self.dir);
        if let Some(fixed) = &self.fixed {
            // Once the sentry is confined only the janitor can: this is for the cases
            // before that, or without a janitor.
            let _ = remove_tree(fixed);
        }
    }
}

/// A new private directory `name` in the host's /dev/shm, if that is a tmpfs the sentry
/// may write to; its canonical path.
fn memory_backed_dir(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let shm = Path::new("/dev/shm");
    let fs = nix::sys::statfs::statfs(shm).ok()?;
    if fs.filesystem_type() != nix::sys::statfs::TMPFS_MAGIC {
        return None;
    }
    let dir = shm.join(name);
    // Fails if anything has the name already: the directory is the sentry's own, mode 0700.
    std::fs::DirBuilder::new().mode(0o700).create(&dir).ok()?;
    match dir.canonicalize() {
        Ok(canonical) => Some(canonical),
        Err(_) => {
            let _ = std::fs::remove_dir(&dir);
            None
        }
    }
}

/// The sandbox's /sys: what programs read to count and place CPUs (glibc's sysconf, nproc,
/// stress-ng): `devices/system/cpu` with the CPUs the sentry may run on (the sandbox's
/// affinity) online, as the host numbers them, and nothing else of the host's. Written into
/// the empty directory `sys`.
/// The entries [`sysfs`] makes at the top of the sandbox's /sys: a look anywhere else in
/// it needs no fill (`kernel::mounts::LateFill`).
pub const SYS_TOP: &[&str] = &["class", "devices", "kernel"];

fn sysfs(sys: &Path) -> std::io::Result<()> {
    let cpu = sys.join("devices/system/cpu");
    std::fs::create_dir_all(&cpu)?;
    let allowed = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
        .map_err(std::io::Error::from)?;
    let online: Vec<usize> = (0..nix::sched::CpuSet::count())
        .filter(|&i| allowed.is_set(i).unwrap_or(false))
        .collect();
    let last = online.last().copied().unwrap_or(0);
    std::fs::write(cpu.join("online"), format!("{}\n", cpu_list(&online)))?;
    let every: Vec<usize> = (0..=last).collect();
    for name in ["possible", "present"] {
        std::fs::write(cpu.join(name), format!("{}\n", cpu_list(&every)))?;
    }
    for i in every {
        let dir = cpu.join(format!("cpu{i}"));
        std::fs::create_dir(&dir)?;
        let state = if online.contains(&i) { "1" } else { "0" };
        std::fs::write(dir.join("online"), format!("{state}\n"))?;
    }
    // Memory settings programs read (transparent huge pages, huge page pools): the host's
    // values when the sandbox starts. Plain numbers and choices: no pid, path or device.
    // One level down (khugepaged/, hugepages-<size>kB/) and no further: below that are only
    // the per-size `stats/` counters, the host's own fault and swap counts, about 200 files
    // that are not the sandbox's business and made most of the sandbox's start-up time.
    let mm = sys.join("kernel/mm");
    std::fs::create_dir_all(&mm)?;
    for name in ["transparent_hugepage", "hugepages"] {
        copy_values(&Path::new("/sys/kernel/mm").join(name), &mm.join(name), 1)?;
    }
    loopback_class(sys)?;
    Ok(())
}

/// Copies the readable regular files of host directory `from` into `to`, and its
/// subdirectories down to `depth` more levels; links and anything else are left out.
fn copy_values(from: &Path, to: &Path, depth: u32) -> std::io::Result<()> {
    let Ok(entries) = std::fs::read_dir(from) else {
        // A kernel without the feature: the sandbox does not have it either.
        return Ok(());
    };
    std::fs::create_dir_all(to)?;
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let target = to.join(entry.file_name());
        if kind.is_dir() && depth > 0 {
            copy_values(&entry.path(), &target, depth - 1)?;
        } else if kind.is_file() {
            if let Ok(value) = crate::host::read_pseudo_file(entry.path()) {
                std::fs::write(&target, value)?;
            }
        }
    }
    Ok(())
}

/// /sys/class/net/lo, as a network namespace of its own shows its `lo` once it is up (the
/// sandbox's loopback is up from the start, and its traffic is not counted: /proc/net/dev
/// says 0 too): a link to devices/virtual/net/lo with the device's attributes.
fn loopback_class(sys: &Path) -> std::io::Result<()> {
    let lo = sys.join("devices/virtual/net/lo");
    std::fs::create_dir_all(lo.join("statistics"))?;
    let attributes = [
        ("addr_assign_type", "0"),
        ("addr_len", "6"),
        ("address", "00:00:00:00:00:00"),
        ("broadcast", "00:00:00:00:00:00"),
        ("carrier", "1"),
        ("carrier_changes", "0"),
        ("carrier_down_count", "0"),
        ("carrier_up_count", "0"),
        ("dev_id", "0x0"),
        ("dev_port", "0"),
        ("dormant", "0"),
        ("flags", "0x9"),
        ("ifalias", ""),
        ("ifindex", "1"),
        ("iflink", "1"),
        ("link_mode", "0"),
        ("mtu", "65536"),
        ("netdev_group", "0"),
        ("operstate", "unknown"),
        ("proto_down", "0"),
        ("testing", "0"),
        ("tx_queue_len", "1000"),
        ("type", "772"),
    ];
    for (name, value) in attributes {
        std::fs::write(lo.join(name), format!("{value}\n"))?;
    }
    std::fs::write(lo.join("uevent"), "INTERFACE=lo\nIFINDEX=1\n")?;
    for counter in [
        "collisions",
        "multicast",
        "rx_bytes",
        "rx_compressed",
        "rx_crc_errors",
        "rx_dropped",
        "rx_errors",
        "rx_fifo_errors",
        "rx_frame_errors",
        "rx_length_errors",
        "rx_missed_errors",
        "rx_nohandler",
        "rx_over_errors",
        "rx_packets",
        "tx_aborted_errors",
        "tx_bytes",
        "tx_carrier_errors",
        "tx_compressed",
        "tx_dropped",
        "tx_errors",
        "tx_fifo_errors",
        "tx_heartbeat_errors",
        "tx_packets",
        "tx_window_errors",
    ] {
        std::fs::write(lo.join("statistics").join(counter), "0\n")?;
    }
    let class = sys.join("class/net");
    std::fs::create_dir_all(&class)?;
    std::os::unix::fs::symlink("../../devices/virtual/net/lo", class.join("lo"))?;
    std::os::unix::fs::symlink("../../../../class/net", lo.join("subsystem"))?;
    Ok(())
}

/// A CPU list as the kernel writes one: `0-3,6`.
fn cpu_list(cpus: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        while i + 1 < cpus.len() && cpus[i + 1] == cpus[i] + 1 {
            i += 1;
        }
        parts.push(if cpus[i] == start {
            start.to_string()
        } else {
            format!("{start}-{}", cpus[i])
        });
        i += 1;
    }
    parts.join(",")
}

/// The mount table, the gofer's mount list, and the tmpfs pool (gofer index, host path).
pub type BuiltMounts = (MountTable, Vec<gofer::Mount>, (u32, PathBuf));

/// The roots of the sandbox's read-only trees, made empty by [`Unfilled::roots`] (with
/// /dev/pts, which the sentry's Landlock rule names): the janitor, which starts right
/// after, and the gofer need only the roots, so both can start before the trees are filled.
pub struct Unfilled {
    dev: PathBuf,
    sys: PathBuf,
    /// The empty directory behind /proc (nothing to fill).
    proc: PathBuf,
}

impl Unfilled {
    /// Makes the empty roots in `scratch`'s directory for read-only trees.
    pub fn roots(scratch: &Scratch) -> Result<Unfilled, String> {
        let io = |e: std::io::Error| format!("scratch directory {}: {e}", scratch.dir.display());
        // /dev and the backing of /proc are read-only to the sandbox and hold only
        // placeholders (and /dev/pts a name per terminal the sandbox has open, which the
        // sentry adds): they go in memory with /sys, where creating an entry costs
        // microseconds, not the half-millisecond of the host's disk.
        let dev = scratch.fixed_tree("dev", 0o755).map_err(io)?;
        // The sandbox's own terminals are listed here as they are made
        // (`syscalls::terminals`).
        std::fs::create_dir(dev.join("pts")).map_err(io)?;
        Ok(Unfilled {
            dev,
            sys: scratch.fixed_tree("sys", 0o755).map_err(io)?,
            proc: scratch.fixed_tree("proc", 0o555).map_err(io)?,
        })
    }

    /// Writes /dev's placeholders; before the sentry confines itself, after which it can
    /// no longer write there.
    pub fn fill_dev(&self) -> Result<(), String> {
        let io = |e: std::io::Error| format!("scratch directory {}: {e}", self.dev.display());
        for name in DEVICES {
            std::fs::File::create(self.dev.join(name)).map_err(io)?;
        }
        std::fs::create_dir(self.dev.join("shm")).map_err(io)?;
        // Listed and lstat'ed through the gofer; followed by the sentry (fs::dev_link).
        for (name, target) in crate::syscalls::vfs::DEV_LINKS {
            std::os::unix::fs::symlink(target, self.dev.join(name)).map_err(io)?;
        }
        Ok(())
    }

    /// Writes /sys's values, as [`Unfilled::fill_dev`] before the sentry confines itself.
    pub fn fill_sys(&self) -> Result<(), String> {
        sysfs(&self.sys).map_err(|e| format!("scratch directory {}: {e}", self.sys.display()))
    }

    /// The directory behind /sys.
    pub fn sys(&self) -> &Path {
        &self.sys
    }
}

/// The mount table and the gofer's mount list, index for index.
pub fn build_mounts(
    rootfs: &Path,
    read_only_root: bool,
    requests: Vec<MountRequest>,
    scratch: &Scratch,
    roots: &Unfilled,
) -> Result<BuiltMounts, String> {
    let mut table = MountTable::default();
    let mut gofer_mounts = Vec::new();
    // `base`: the name of the one file inside `host` that a file bind shows ("" for a
    // directory mount).
    let mut add = |sandbox: Vec<u8>,
                   host: PathBuf,
                   read_only: bool,
                   is_dev: bool,
                   base: &str|
     -> Result<(), String> {
        let is_proc = sandbox == b"/proc";
        let host_root = host
            .canonicalize()
            .map_err(|e| format!("mount source {}: {e}", host.display()))?;
        if !host_root.is_dir() {
            return Err(format!("mount source {}: not a directory", host.display()));
        }
        table.mounts.push(Mount {
            sandbox_path: sandbox,
            gofer_index: gofer_mounts.len() as u32,
            host_root: if base.is_empty() {
                host_root.clone()
            } else {
                host_root.join(base)
            },
            read_only,
            is_dev,
            is_proc,
            base: base.as_bytes().to_vec(),
            gofer_read_only: read_only,
            is_tmpfs: scratch.holds(&host_root),
            source: Vec::new(),
        });
        gofer_mounts.push(gofer::Mount {
            host_path: host_root,
            read_only,
        });
        Ok(())
    };
    add(
        b"/".to_vec(),
        rootfs.to_path_buf(),
        read_only_root,
        false,
        "",
    )?;
    let io = |e: std::io::Error| format!("scratch directory {}: {e}", scratch.dir.display());
    add(b"/dev".to_vec(), roots.dev.clone(), true, true, "")?;
    add(
        b"/dev/shm".to_vec(),
        scratch.tmpfs("shm", 0o1777).map_err(io)?,
        false,
        false,
        "",
    )?;
    // /proc is synthesized by the sentry; its gofer mount is an empty read-only directory
    // that refuses every change (EROFS).
    add(b"/proc".to_vec(), roots.proc.clone(), true, false, "")?;
    add(b"/sys".to_vec(), roots.sys.clone(), true, false, "")?;
    for (i, request) in requests.into_iter().enumerate() {
        match request {
            MountRequest::Bind {
                host,
                sandbox,
                read_only,
            } if host.is_dir() => add(sandbox, host, read_only, false, "")?,
            MountRequest::Bind {
                host,
                sandbox,
                read_only,
            } => {
                let dir = scratch.tmpfs(&format!("file{i}"), 0o755).map_err(io)?;
                bind_file(&host, &dir, read_only, &sandbox)?;
                add(sandbox, dir, read_only, false, FILE_BIND_NAME)?;
            }
            MountRequest::Tmpfs { sandbox } => {
                let dir = scratch.tmpfs(&format!("tmpfs{i}"), 0o1777).map_err(io)?;
                add(sandbox, dir, false, false, "")?;
            }
        }
    }
    // The backing of tmpfs mounts made inside the sandbox: one gofer mount, a directory
    // per tmpfs; not itself visible.
    let pool = scratch.tmpfs("tmpfs-pool", 0o700).map_err(io)?;
    let pool_index = gofer_mounts.len() as u32;
    gofer_mounts.push(gofer::Mount {
        host_path: pool.canonicalize().map_err(io)?,
        read_only: false,
    });
    Ok((table, gofer_mounts, (pool_index, pool)))
}

/// Files that engines write for each container and bind into it: a writable bind of one
/// that cannot be a hard link is a private copy.
const ENGINE_FILES: &[&str] = &[
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
    "/run/.containerenv",
];

/// The name a file bind's file has in its own scratch directory.
const FILE_BIND_NAME: &str = "file";

/// Places the source of a file bind in `dir`, a directory of its own that the gofer serves
/// (so that nothing else of the source's directory is reachable): a hard link where the
/// host allows one (the same file, writes reach it); otherwise, for a read-only bind, a
/// copy. A writable bind that cannot be linked is refused, since a copy would not carry
/// the sandbox's writes back, except for the files container engines generate for each
/// container (`ENGINE_FILES`), of which the sandbox gets a private copy.
fn bind_file(source: &Path, dir: &Path, read_only: bool, sandbox: &[u8]) -> Result<(), String> {
    let meta =
        std::fs::metadata(source).map_err(|e| format!("mount source {}: {e}", source.display()))?;
    if !meta.is_file() {
        return Err(format!(
            "mount source {}: only directories and regular files can be bound",
            source.display()
        ));
    }
    let target = dir.join(FILE_BIND_NAME);
    if std::fs::hard_link(source, &target).is_ok() {
        return Ok(());
    }
    let engine_file = ENGINE_FILES.iter().any(|f| f.as_bytes() == sandbox);
    if !read_only && !engine_file {
        return Err(format!(
            "mount source {}: a writable bind of a file needs it on the file system of the \
             sentry's state directory (a hard link); bind it read-only or bind its directory",
            source.display()
        ));
    }
    std::fs::copy(source, &target)
        .map(|_| ())
        .map_err(|e| format!("mount source {}: {e}", source.display()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_lists_read_as_the_kernel_writes_them() {
        assert_eq!(super::cpu_list(&[0, 1, 2, 3, 6]), "0-3,6");
        assert_eq!(super::cpu_list(&[1]), "1");
        assert_eq!(super::cpu_list(&[0, 2, 4, 5]), "0,2,4-5");
    }

    #[test]
    fn sys_copies_values_only_and_shows_lo_alone() {
        let dir = std::env::temp_dir().join(format!("sentry-sysfs-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (from, to) = (dir.join("from"), dir.join("to"));
        std::fs::create_dir_all(from.join("a/b/c")).expect("mkdir");
        std::fs::write(from.join("enabled"), "always [madvise] never\n").expect("write");
        std::fs::write(from.join("a/b/c/deep"), "1\n").expect("write");
        std::fs::write(from.join("a/b/shallow"), "2\n").expect("write");
        std::os::unix::fs::symlink("/etc/passwd", from.join("link")).expect("symlink");
        super::copy_values(&from, &to, 2).expect("copy");
        let read = |p: &str| std::fs::read_to_string(to.join(p)).ok();
        assert_eq!(read("enabled").as_deref(), Some("always [madvise] never\n"));
        assert_eq!(read("a/b/shallow").as_deref(), Some("2\n"));
        assert_eq!(read("a/b/c/deep"), None, "below the depth asked");
        assert!(
            to.join("link").symlink_metadata().is_err(),
            "links stay out"
        );

        super::loopback_class(&to).expect("lo");
        let lo = to.join("class/net/lo");
        assert_eq!(
            std::fs::read_link(&lo).expect("a link"),
            std::path::Path::new("../../devices/virtual/net/lo")
        );
        assert_eq!(read("class/net/lo/mtu").as_deref(), Some("65536\n"));
        assert_eq!(
            read("class/net/lo/statistics/rx_bytes").as_deref(),
            Some("0\n")
        );
        let names: Vec<_> = std::fs::read_dir(to.join("class/net"))
            .expect("class/net")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["lo"]);
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    /// What the late fill covers is what it makes: its top-level entries are SYS_TOP's.
    #[test]
    fn the_fill_makes_exactly_the_top_level_entries_named() {
        let dir = test_support::Scratch::new("sys-top");
        let sys = dir.dir.join("sys");
        std::fs::create_dir(&sys).expect("mkdir");
        super::sysfs(&sys).expect("fill");
        let mut names: Vec<String> = std::fs::read_dir(&sys)
            .expect("read the tree")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, super::SYS_TOP);
    }
}

//! The sentry's side: spawn a gofer and call it synchronously, one packet each way per call.
//!
//! Calls that change nothing on the host (stat, statx, access, readlink, statfs, xattr
//! reads, and opens that neither create, truncate nor write) are served in the sentry's own
//! process by the same request handlers the gofer runs ([`Server`]), on the sentry's own fds
//! of the mount roots: every walk is still an `openat2` confined by the host kernel beneath
//! a mount root (RESOLVE_IN_ROOT / RESOLVE_BENEATH with RESOLVE_NO_MAGICLINKS), never a path
//! the host resolves from `/`. The walker keeps the directories it resolved (their `O_PATH`
//! fds, by mount and path), so that a call on a name in one of them looks up that one name;
//! they are all forgotten before any request goes to the gofer process, so nothing the
//! sandbox changes is seen stale. A tree that the host changes under a running sandbox may
//! be: [`Client::set_lookup_cache`] turns the cache off, and every call walks its whole path
//! again. What creates, removes, renames or writes still goes to the gofer process, which
//! runs under its own seccomp filter.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

use nix::errno::Errno;

use crate::protocol::{
    Request, Response, StatFs, Timespec, FD_RELEASED, MAX_FRAME, VERSION, XATTR_SIZE_MAX,
};
use crate::server::{MountRoot, Server};
use crate::sys;

/// A mount source the gofer serves; its index in the slice given to [`Client::spawn`] is the
/// `mount` argument of every call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub host_path: PathBuf,
    pub read_only: bool,
}

/// A gofer process that was started and has not answered yet (see [`Client::start`]).
/// Dropping it hangs up and reaps the gofer, as dropping a [`Client`] does.
pub struct Starting {
    /// Not yet called: no handshake, no local walker.
    client: Client,
    roots: Vec<OwnedFd>,
    mounts: Vec<Mount>,
}

impl Starting {
    /// The gofer's process id (a child of the process that called [`Client::start`]).
    pub fn pid(&self) -> u32 {
        self.client.pid
    }

    /// Waits for the gofer's answer to the version handshake: a client ready for calls.
    pub fn finish(self) -> io::Result<Client> {
        let mut client = self.finish_unconfirmed()?;
        client.confirm()?;
        Ok(client)
    }

    /// A client whose handshake may still be on its way: calls that change nothing are
    /// served at once, the first call to the gofer process waits for the answer, and
    /// [`Client::confirm`] waits for it explicitly. The gofer's start-up (a fork that
    /// drops capabilities and installs its filter, or an exec) then overlaps the caller's.
    pub fn finish_unconfirmed(self) -> io::Result<Client> {
        let Starting {
            mut client,
            roots,
            mounts,
        } = self;
        let mut walker = local_walker(roots, &mounts)?;
        walker.cache_lookups(true);
        client.walker = Some(walker);
        Ok(client)
    }
}

/// A connection to a running gofer process. Every method is one request and one response.
/// If the gofer dies (or answers nonsense), that call and every later one fail with EIO.
pub struct Client {
    sock: OwnedFd,
    pid: u32,
    /// A pidfd of the gofer, to wait for it without ever naming a pid that may have been reaped
    /// (by the sentry's own wait loop) and reused. None once waited for.
    pidfd: Option<OwnedFd>,
    wbuf: Vec<u8>,
    rbuf: Vec<u8>,
    seq: u32,
    dead: bool,
    /// The handlers of calls that change nothing, run here (see the module's comment).
    walker: Option<Server>,
    /// Counts the requests sent to the gofer process: what the sentry keeps of the trees
    /// (the paths of directory fds, say) holds while it has not moved.
    generation: u64,
    /// The CPU the gofer was last placed on (see [`Client::follow_caller`]); -1: none yet.
    gofer_cpu: i32,
    /// The version handshake was sent and its answer not yet read.
    handshake_pending: bool,
}

/// Whether `req` changes nothing on the host, and so may be served in the sentry's process.
fn changes_nothing(req: &Request<'_>) -> bool {
    match *req {
        Request::Stat { .. }
        | Request::OpenExec { .. }
        | Request::Statx { .. }
        | Request::Access { .. }
        | Request::Readlink { .. }
        | Request::Statfs { .. }
        | Request::Getxattr { .. }
        | Request::Listxattr { .. } => true,
        Request::Open { flags, .. } => {
            // O_TMPFILE holds O_DIRECTORY's bit: only its own bit makes a file.
            let tmpfile = libc::O_TMPFILE & !libc::O_DIRECTORY;
            let changing = libc::O_CREAT | libc::O_TRUNC | tmpfile | libc::O_ACCMODE;
            flags & changing == 0
        }
        _ => false,
    }
}

/// How the gofer process starts.
enum Launch<'a> {
    /// `exe` is executed with `leading_args` before the gofer's own arguments.
    Exec {
        exe: &'a Path,
        leading_args: &'a [&'a str],
    },
    /// The fork runs this with the gofer's arguments; its exit status is what it returns.
    Fork(fn(Vec<String>) -> u8),
}

/// The first fd number the gofer receives (`--socket`); mounts follow in order.
const FIRST_FD: RawFd = 3;

impl Client {
    /// Opens every mount root (`O_PATH | O_DIRECTORY`), creates the socket pair and starts
    /// `gofer_exe` with them, then does the version handshake.
    ///
    /// The gofer gets `PR_SET_PDEATHSIG(SIGKILL)`: it dies when the *thread* that called
    /// `spawn` exits, so call it from a thread that lives as long as the sandbox.
    pub fn spawn(gofer_exe: &Path, mounts: &[Mount]) -> io::Result<Client> {
        Client::spawn_with_args(gofer_exe, &[], mounts)
    }

    /// As [`Client::spawn`], with `leading_args` placed before the gofer's own arguments: e.g.
    /// `spawn_with_args(&std::env::current_exe()?, &["__gofer"], mounts)` when the sentry binary
    /// runs [`crate::process::gofer_main`] for a hidden `__gofer` subcommand.
    pub fn spawn_with_args(
        gofer_exe: &Path,
        leading_args: &[&str],
        mounts: &[Mount],
    ) -> io::Result<Client> {
        Client::start(gofer_exe, leading_args, mounts)?.finish()
    }

    /// The first half of [`Client::spawn_with_args`]: opens the mount roots and starts the
    /// gofer process, without waiting for it to answer. The caller may go on with other work
    /// (filling the mount roots, which the gofer reaches through the fds it was given) while
    /// the gofer loads, and then calls [`Starting::finish`] for the handshake.
    pub fn start(
        gofer_exe: &Path,
        leading_args: &[&str],
        mounts: &[Mount],
    ) -> io::Result<Starting> {
        Client::launch(
            Launch::Exec {
                exe: gofer_exe,
                leading_args,
            },
            mounts,
        )
    }

    /// As [`Client::start`], but the gofer is this process's fork, which runs `main` with
    /// the gofer's arguments (`--socket FD --mount FD:rw|ro ... --ppid PID`) and exits with
    /// the status it returns: no program is loaded, and the gofer answers within a fraction
    /// of a millisecond instead of after its exec and dynamic loading. Only for a caller
    /// with a single thread, whose fork may run any code.
    pub fn start_forked(main: fn(Vec<String>) -> u8, mounts: &[Mount]) -> io::Result<Starting> {
        Client::launch(Launch::Fork(main), mounts)
    }

    fn launch(how: Launch<'_>, mounts: &[Mount]) -> io::Result<Starting> {
        let mut roots = Vec::with_capacity(mounts.len());
        for m in mounts {
            let root = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
                .open(&m.host_path)
                .map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("mount source {}: {e}", m.host_path.display()),
                    )
                })?;
            roots.push(OwnedFd::from(root));
        }
        let mut pair = [0 as RawFd; 2];
        // SAFETY: socketpair writes two descriptors into `pair`.
        Errno::result(unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                pair.as_mut_ptr(),
            )
        })?;
        // SAFETY: both descriptors are fresh and owned by nobody else.
        let (ours, theirs) =
            unsafe { (OwnedFd::from_raw_fd(pair[0]), OwnedFd::from_raw_fd(pair[1])) };

        let parent = std::process::id() as libc::pid_t;
        let mut gofer_args = vec!["--socket".to_string(), FIRST_FD.to_string()];
        for (i, m) in mounts.iter().enumerate() {
            let mode = if m.read_only { "ro" } else { "rw" };
            gofer_args.push("--mount".into());
            gofer_args.push(format!("{}:{mode}", FIRST_FD + 1 + i as RawFd));
        }
        gofer_args.push("--ppid".into());
        gofer_args.push(parent.to_string());
        let (exe, leading_args, fork_main) = match how {
            Launch::Exec { exe, leading_args } => (exe, leading_args, None),
            Launch::Fork(main) => (Path::new(""), &[][..], Some(main)),
        };
        let mut args = vec![exe.as_os_str().to_os_string()];
        args.extend(leading_args.iter().map(|a| a.into()));
        args.extend(gofer_args.iter().map(|a| a.into()));
        let env: Vec<std::ffi::OsString> = std::env::vars_os()
            .map(|(k, v)| {
                let mut kv = k;
                kv.push("=");
                kv.push(v);
                kv
            })
            .collect();
        let c_strings = |items: &[std::ffi::OsString]| {
            items
                .iter()
                .map(|a| std::ffi::CString::new(a.as_bytes()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
        };
        let (args, env) = (c_strings(&args)?, c_strings(&env)?);
        let argv: Vec<*const libc::c_char> = args
            .iter()
            .map(|a| a.as_ptr())
            .chain([std::ptr::null()])
            .collect();
        let envp: Vec<*const libc::c_char> = env
            .iter()
            .map(|a| a.as_ptr())
            .chain([std::ptr::null()])
            .collect();
        let null = OwnedFd::from(
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")?,
        );

        // The fds the child must find at FIRST_FD, FIRST_FD + 1, ..., and its stdin and
        // stdout (/dev/null; stderr stays the sentry's).
        let mut sources: Vec<RawFd> = vec![theirs.as_raw_fd()];
        sources.extend(roots.iter().map(|r| r.as_raw_fd()));
        let n = sources.len() as RawFd;
        sources.push(null.as_raw_fd());
        let high = sources.iter().copied().max().unwrap_or(0).max(FIRST_FD + n) + 1;
        let mut moved = vec![0 as RawFd; sources.len()];

        // Forked by hand rather than with std's Command, which waits until the child has
        // exec'd: the caller goes on while the gofer's exec and start-up run, and a failed
        // exec shows as a failed handshake in `finish`.
        // SAFETY: to its exec, the child makes only async-signal-safe system calls (prctl,
        // getppid, sigprocmask, signal, fcntl, dup2, execve, _exit) on memory prepared before
        // the fork (`moved` is never resized), so it is sound even if the caller has threads;
        // `fork_main`, which runs any code, is only for a caller with one thread.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            // SAFETY: see the fork above.
            unsafe {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0
                    || libc::getppid() != parent
                {
                    libc::_exit(127);
                }
                // The signal mask and SIGPIPE's disposition as a fresh process has them.
                let mut empty: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut empty);
                libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
                libc::signal(libc::SIGPIPE, libc::SIG_DFL);
                // Move every source above all targets first, so no dup2 clobbers a source.
                for (i, src) in sources.iter().enumerate() {
                    let fd = libc::fcntl(*src, libc::F_DUPFD_CLOEXEC, high);
                    if fd < 0 {
                        libc::_exit(127);
                    }
                    moved[i] = fd;
                }
                let (fds, null) = moved.split_at(moved.len() - 1);
                // dup2 leaves FD_CLOEXEC clear on the target: it survives exec.
                if libc::dup2(null[0], 0) < 0 || libc::dup2(null[0], 1) < 0 {
                    libc::_exit(127);
                }
                for (i, tmp) in fds.iter().enumerate() {
                    if libc::dup2(*tmp, FIRST_FD + i as RawFd) < 0 {
                        libc::_exit(127);
                    }
                }
                if let Some(main) = fork_main {
                    // Whatever else the caller had open is closed by the gofer's start
                    // (everything above its last fd), as an exec would have closed it. A
                    // panic must not unwind into the caller's code in this copy of it.
                    let serve = std::panic::AssertUnwindSafe(|| main(gofer_args));
                    libc::_exit(std::panic::catch_unwind(serve).map_or(101, i32::from));
                }
                libc::execve(args[0].as_ptr(), argv.as_ptr(), envp.as_ptr());
                libc::_exit(127);
            }
        }
        drop(theirs);
        drop(null);
        // Nothing has waited for the child yet, so its pid still names it.
        // SAFETY: pidfd_open with integer arguments.
        let raw = Errno::result(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
        // SAFETY: a fresh descriptor owned by nobody else.
        let pidfd = unsafe { OwnedFd::from_raw_fd(raw as RawFd) };
        let pid = pid as u32;
        let mut starting = Starting {
            client: Client {
                sock: ours,
                pid,
                pidfd: Some(pidfd),
                wbuf: Vec::with_capacity(MAX_FRAME),
                rbuf: vec![0; MAX_FRAME],
                seq: 0,
                dead: false,
                walker: None,
                generation: 0,
                gofer_cpu: -1,
                handshake_pending: false,
            },
            roots,
            mounts: mounts.to_vec(),
        };
        // Sent now, answered when the gofer is up: see `finish_unconfirmed`.
        if starting
            .client
            .send(&Request::Hello { version: VERSION }, None)
            .is_ok()
        {
            starting.client.handshake_pending = true;
        }
        Ok(starting)
    }

    /// The gofer's process id (a child of the process that called `spawn`).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Places the gofer on the CPU the calling thread runs on, if it is not there yet. A call
    /// is synchronous: while the gofer works the caller waits, so the two never need two
    /// CPUs, and on one CPU each wake-up between them is a local one. Left to its own
    /// affinity, the gofer slept on the other CPU, and waking a halted vCPU costs tens of
    /// microseconds on a VM: a creating open took 94 us, against 24 us with both on one CPU.
    /// The caller moves rarely; the gofer follows it at the first call after it did.
    fn follow_caller(&mut self) {
        // SAFETY: sched_getcpu takes no arguments.
        let cpu = unsafe { libc::sched_getcpu() };
        if cpu < 0 || cpu == self.gofer_cpu {
            return;
        }
        // SAFETY: an all-zero cpu_set_t is an empty set; CPU_SET writes one bit of it, and
        // sched_getcpu's answer is below CPU_SETSIZE.
        let set = unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu as usize, &mut set);
            set
        };
        // Its pid is named only while its pidfd says it runs: one that ended may have been
        // reaped by the caller's own wait loop, and the pid taken by a host process. (It
        // cannot be reaped before this call returns: that loop runs on this thread.)
        let Some(pidfd) = &self.pidfd else {
            return;
        };
        let mut ended = libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll of one pollfd we own, without waiting.
        if unsafe { libc::poll(&mut ended, 1, 0) } != 0 {
            return;
        }
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: sched_setaffinity of our own child, from a set we own of `size` bytes. A
        // failure leaves it where it was, to be tried again next call.
        if unsafe { libc::sched_setaffinity(self.pid as libc::pid_t, size, &set) } == 0 {
            self.gofer_cpu = cpu;
        }
    }

    /// False once a call has found the gofer gone.
    pub fn is_alive(&self) -> bool {
        !self.dead
    }

    /// Closes the connection and waits for the gofer, which exits 0 when its socket closes.
    /// ECHILD if something else (the sentry's wait loop) has already reaped it.
    pub fn shutdown(mut self) -> io::Result<ExitStatus> {
        self.hang_up();
        let pidfd = self
            .pidfd
            .take()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ECHILD))?;
        wait_pidfd(&pidfd)
    }

    /// Serves every call through the gofer process, none in this one (for comparison and
    /// for tests of the gofer itself).
    pub fn without_local_walks(&mut self) {
        self.walker = None;
    }

    /// Whether the walker keeps the directories it resolves (on by default). Off for trees
    /// the host changes while the sandbox runs: every call then walks its whole path.
    pub fn set_lookup_cache(&mut self, on: bool) {
        if let Some(walker) = self.walker.as_mut() {
            walker.cache_lookups(on);
        }
    }

    /// Grows with every request that may change a served tree (any the gofer process
    /// serves); what was learnt of the trees at one generation may be stale at the next.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// A request goes to the gofer process: whatever it changes, nothing kept of the trees
    /// from before it is trusted after.
    fn may_change_trees(&mut self) {
        self.generation += 1;
        if let Some(walker) = &self.walker {
            walker.forget_lookups();
        }
    }

    /// Shuts our end of the socket down: the gofer's next receive sees end of file.
    fn hang_up(&mut self) {
        self.dead = true;
        // SAFETY: shutdown(2) on a socket we own; no memory is involved.
        unsafe { libc::shutdown(self.sock.as_raw_fd(), libc::SHUT_RDWR) };
    }

    fn fail(&mut self) -> Errno {
        self.dead = true;
        Errno::EIO
    }

    /// One round trip. Error responses become `Err(errno)`; transport failures `Err(EIO)`.
    fn call(
        &mut self,
        req: &Request<'_>,
        fd: Option<BorrowedFd<'_>>,
    ) -> Result<(Response<'_>, Option<OwnedFd>), Errno> {
        if self.dead {
            return Err(Errno::EIO);
        }
        // Checked first and then taken (not `if let`): the borrow of the reply may then end
        // with this branch, which the borrow checker does not see for a returned `if let`.
        #[allow(clippy::unnecessary_unwrap)]
        if self.walker.is_some() && changes_nothing(req) {
            let walker = self.walker.as_mut().expect("checked just above");
            let reply = walker.handle(*req, None);
            return match reply.response {
                Response::Error(e) => Err(e),
                response => Ok((response, reply.fd)),
            };
        }
        self.may_change_trees();
        if self.confirm().is_err() {
            return Err(self.fail());
        }
        self.follow_caller();
        self.send(req, fd)?;
        self.receive()
    }

    /// Waits for the answer to the version handshake, if it has not come yet.
    pub fn confirm(&mut self) -> io::Result<()> {
        if !std::mem::take(&mut self.handshake_pending) {
            return match self.dead {
                true => Err(io::Error::other("gofer handshake failed: EIO")),
                false => Ok(()),
            };
        }
        match self.receive() {
            Ok((Response::Version(VERSION), _)) => Ok(()),
            Ok(_) => {
                self.dead = true;
                Err(io::Error::other("gofer: unexpected handshake reply"))
            }
            Err(e) => Err(io::Error::other(format!("gofer handshake failed: {e}"))),
        }
    }

    /// Sends one request, numbered in sequence.
    fn send(&mut self, req: &Request<'_>, fd: Option<BorrowedFd<'_>>) -> Result<(), Errno> {
        self.seq = self.seq.wrapping_add(1);
        req.encode(self.seq, &mut self.wbuf);
        if self.wbuf.len() > MAX_FRAME {
            return Err(Errno::E2BIG);
        }
        if sys::send_packet(self.sock.as_fd(), &self.wbuf, fd).is_err() {
            return Err(self.fail());
        }
        Ok(())
    }

    /// The answer to the last request sent.
    fn receive(&mut self) -> Result<(Response<'_>, Option<OwnedFd>), Errno> {
        let pkt = match sys::recv_packet(self.sock.as_fd(), &mut self.rbuf) {
            Ok(p) if p.len > 0 && !p.truncated => p,
            _ => return Err(self.fail()),
        };
        if pkt.fd.is_some() {
            // The gofer's copy of the fd is gone once this comes (see `FD_RELEASED`).
            let mut released = [0u8; 1];
            match sys::recv_packet(self.sock.as_fd(), &mut released) {
                Ok(p) if p.len == 1 && !p.truncated && p.fd.is_none() => {}
                _ => return Err(self.fail()),
            }
            if released[0] != FD_RELEASED {
                return Err(self.fail());
            }
        }
        let seq = self.seq;
        match Response::decode(&self.rbuf[..pkt.len]) {
            Ok((_, Response::Error(e))) => Err(e),
            Ok((s, Response::Fd)) if s == seq && pkt.fd.is_none() => {
                self.dead = true;
                Err(Errno::EIO)
            }
            Ok((s, r)) if s == seq => Ok((r, pkt.fd)),
            _ => {
                self.dead = true;
                Err(Errno::EIO)
            }
        }
    }

    fn expect_unit(&mut self, req: &Request<'_>, fd: Option<BorrowedFd<'_>>) -> Result<(), Errno> {
        match self.call(req, fd)? {
            (Response::Unit, _) => Ok(()),
            _ => Err(self.fail()),
        }
    }

    fn expect_fd(&mut self, req: &Request<'_>) -> Result<OwnedFd, Errno> {
        match self.call(req, None)? {
            (Response::Fd, Some(fd)) => Ok(fd),
            _ => Err(self.fail()),
        }
    }

    /// Sends a raw frame and returns the raw reply (for protocol tests).
    #[doc(hidden)]
    pub fn raw_exchange(&mut self, frame: &[u8]) -> Result<Vec<u8>, Errno> {
        if self.dead {
            return Err(Errno::EIO);
        }
        self.may_change_trees();
        if sys::send_packet(self.sock.as_fd(), frame, None).is_err() {
            return Err(self.fail());
        }
        match sys::recv_packet(self.sock.as_fd(), &mut self.rbuf) {
            Ok(p) if p.len > 0 && !p.truncated => Ok(self.rbuf[..p.len].to_vec()),
            _ => Err(self.fail()),
        }
    }

    // -----------------------------------------------------------------------------------------
    // The calls

    /// `openat(2)` beneath the mount root → a new fd (O_CLOEXEC set; the sentry decides the
    /// task's flag when it installs it).
    pub fn open(
        &mut self,
        mount: u32,
        path: &[u8],
        flags: i32,
        mode: u32,
    ) -> Result<OwnedFd, Errno> {
        self.expect_fd(&Request::Open {
            mount,
            path,
            flags,
            mode,
        })
    }

    /// A program for execve: the regular file at `path` (links followed) that the caller may
    /// execute, opened read-only; EACCES for any other file.
    pub fn open_exec(&mut self, mount: u32, path: &[u8]) -> Result<OwnedFd, Errno> {
        self.expect_fd(&Request::OpenExec { mount, path })
    }

    /// `stat(2)` (`follow`) or `lstat(2)`.
    pub fn stat(&mut self, mount: u32, path: &[u8], follow: bool) -> Result<libc::stat, Errno> {
        match self.call(
            &Request::Stat {
                mount,
                path,
                follow,
            },
            None,
        )? {
            (Response::Stat(st), _) => Ok(st),
            _ => Err(self.fail()),
        }
    }

    /// `statx(2)`; `flags` may carry `AT_STATX_*` sync bits.
    pub fn statx(
        &mut self,
        mount: u32,
        path: &[u8],
        follow: bool,
        flags: i32,
        mask: u32,
    ) -> Result<libc::statx, Errno> {
        match self.call(
            &Request::Statx {
                mount,
                path,
                follow,
                flags,
                mask,
            },
            None,
        )? {
            (Response::Statx(st), _) => Ok(st),
            _ => Err(self.fail()),
        }
    }

    /// `faccessat2(2)`; `flags`: `AT_EACCESS`, `AT_SYMLINK_NOFOLLOW`.
    pub fn access(&mut self, mount: u32, path: &[u8], mode: i32, flags: i32) -> Result<(), Errno> {
        self.expect_unit(
            &Request::Access {
                mount,
                path,
                mode,
                flags,
            },
            None,
        )
    }

    /// `readlink(2)`: the whole target (the caller truncates to the task's buffer).
    pub fn readlink(&mut self, mount: u32, path: &[u8]) -> Result<Vec<u8>, Errno> {
        match self.call(&Request::Readlink { mount, path }, None)? {
            (Response::Bytes(b), _) => Ok(b.to_vec()),
            _ => Err(self.fail()),
        }
    }

    pub fn mkdir(&mut self, mount: u32, path: &[u8], mode: u32) -> Result<(), Errno> {
        self.expect_unit(&Request::Mkdir { mount, path, mode }, None)
    }

    /// Regular files, FIFOs and sockets; devices get EPERM.
    pub fn mknod(&mut self, mount: u32, path: &[u8], mode: u32, dev: u64) -> Result<(), Errno> {
        self.expect_unit(
            &Request::Mknod {
                mount,
                path,
                mode,
                dev,
            },
            None,
        )
    }

    /// `unlinkat(2)`; `flags` may be `AT_REMOVEDIR`.
    pub fn unlink(&mut self, mount: u32, path: &[u8], flags: i32) -> Result<(), Errno> {
        self.expect_unit(&Request::Unlink { mount, path, flags }, None)
    }

    /// `renameat2(2)`; across mounts EXDEV.
    pub fn rename(
        &mut self,
        mount: u32,
        path: &[u8],
        to_mount: u32,
        to_path: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        self.expect_unit(
            &Request::Rename {
                mount,
                path,
                to_mount,
                to_path,
                flags,
            },
            None,
        )
    }

    /// `linkat(2)`; `follow` is `AT_SYMLINK_FOLLOW`; across mounts EXDEV.
    pub fn link(
        &mut self,
        mount: u32,
        path: &[u8],
        to_mount: u32,
        to_path: &[u8],
        follow: bool,
    ) -> Result<(), Errno> {
        self.expect_unit(
            &Request::Link {
                mount,
                path,
                to_mount,
                to_path,
                follow,
            },
            None,
        )
    }

    /// `symlink(target, path)`.
    pub fn symlink(&mut self, mount: u32, path: &[u8], target: &[u8]) -> Result<(), Errno> {
        self.expect_unit(
            &Request::Symlink {
                mount,
                path,
                target,
            },
            None,
        )
    }

    pub fn chmod(&mut self, mount: u32, path: &[u8], mode: u32) -> Result<(), Errno> {
        self.expect_unit(&Request::Chmod { mount, path, mode }, None)
    }

    /// `u32::MAX` leaves an id unchanged.
    pub fn chown(
        &mut self,
        mount: u32,
        path: &[u8],
        uid: u32,
        gid: u32,
        follow: bool,
    ) -> Result<(), Errno> {
        self.expect_unit(
            &Request::Chown {
                mount,
                path,
                uid,
                gid,
                follow,
            },
            None,
        )
    }

    /// `utimensat(2)`; `None` = both now.
    pub fn utimens(
        &mut self,
        mount: u32,
        path: &[u8],
        times: Option<[Timespec; 2]>,
        follow: bool,
    ) -> Result<(), Errno> {
        self.expect_unit(
            &Request::Utimens {
                mount,
                path,
                times,
                follow,
            },
            None,
        )
    }

    pub fn truncate(&mut self, mount: u32, path: &[u8], len: i64) -> Result<(), Errno> {
        self.expect_unit(&Request::Truncate { mount, path, len }, None)
    }

    /// `statfs(2)`; `f_flags` has `ST_NODEV`, and `ST_RDONLY` on read-only mounts.
    pub fn statfs(&mut self, mount: u32, path: &[u8]) -> Result<StatFs, Errno> {
        match self.call(&Request::Statfs { mount, path }, None)? {
            (Response::Statfs(s), _) => Ok(s),
            _ => Err(self.fail()),
        }
    }

    /// `getxattr(2)` semantics: an empty `buf` asks for the size; otherwise the value is copied
    /// into `buf` and its length returned (ERANGE if it does not fit).
    pub fn getxattr(
        &mut self,
        mount: u32,
        path: &[u8],
        name: &[u8],
        buf: &mut [u8],
        follow: bool,
    ) -> Result<usize, Errno> {
        let size = buf.len().min(XATTR_SIZE_MAX) as u32;
        let r = self.call(
            &Request::Getxattr {
                mount,
                path,
                name,
                size,
                follow,
            },
            None,
        );
        match copy_sized(r, buf) {
            Sized::Done(r) => r,
            Sized::Unexpected => Err(self.fail()),
        }
    }

    /// `listxattr(2)` semantics, as [`Client::getxattr`].
    pub fn listxattr(
        &mut self,
        mount: u32,
        path: &[u8],
        buf: &mut [u8],
        follow: bool,
    ) -> Result<usize, Errno> {
        let size = buf.len().min(XATTR_SIZE_MAX) as u32;
        let r = self.call(
            &Request::Listxattr {
                mount,
                path,
                size,
                follow,
            },
            None,
        );
        match copy_sized(r, buf) {
            Sized::Done(r) => r,
            Sized::Unexpected => Err(self.fail()),
        }
    }

    /// `setxattr(2)`; `flags`: `XATTR_CREATE`, `XATTR_REPLACE`.
    pub fn setxattr(
        &mut self,
        mount: u32,
        path: &[u8],
        name: &[u8],
        value: &[u8],
        flags: i32,
        follow: bool,
    ) -> Result<(), Errno> {
        if value.len() > XATTR_SIZE_MAX {
            return Err(Errno::E2BIG);
        }
        self.expect_unit(
            &Request::Setxattr {
                mount,
                path,
                name,
                value,
                flags,
                follow,
            },
            None,
        )
    }

    pub fn removexattr(
        &mut self,
        mount: u32,
        path: &[u8],
        name: &[u8],
        follow: bool,
    ) -> Result<(), Errno> {
        self.expect_unit(
            &Request::Removexattr {
                mount,
                path,
                name,
                follow,
            },
            None,
        )
    }

    /// A new AF_UNIX socket of `sock_type` (`SOCK_*` | `SOCK_NONBLOCK` | `SOCK_CLOEXEC`) bound at
    /// the path. Its `getsockname` is the final component only: the sentry reports the name.
    pub fn bind_unix(&mut self, mount: u32, path: &[u8], sock_type: i32) -> Result<OwnedFd, Errno> {
        self.expect_fd(&Request::BindUnix {
            mount,
            path,
            sock_type,
        })
    }

    /// Binds `sock` (an AF_UNIX socket, e.g. the task's own, fetched with pidfd_getfd) at the
    /// path; the task's descriptor shares the bound socket.
    pub fn bind_unix_fd(
        &mut self,
        mount: u32,
        path: &[u8],
        sock: BorrowedFd<'_>,
    ) -> Result<(), Errno> {
        check_unix_socket(sock)?;
        self.expect_unit(
            &Request::BindUnix {
                mount,
                path,
                sock_type: 0,
            },
            Some(sock),
        )
    }

    /// A new AF_UNIX socket connected to the socket file at the path. Never blocks: a full
    /// listen backlog gives EAGAIN even for a blocking socket (the sentry may retry).
    pub fn connect_unix(
        &mut self,
        mount: u32,
        path: &[u8],
        sock_type: i32,
    ) -> Result<OwnedFd, Errno> {
        self.expect_fd(&Request::ConnectUnix {
            mount,
            path,
            sock_type,
        })
    }

    /// Connects `sock` (an AF_UNIX socket) to the socket file at the path; as `connect_unix`.
    pub fn connect_unix_fd(
        &mut self,
        mount: u32,
        path: &[u8],
        sock: BorrowedFd<'_>,
    ) -> Result<(), Errno> {
        check_unix_socket(sock)?;
        self.expect_unit(
            &Request::ConnectUnix {
                mount,
                path,
                sock_type: 0,
            },
            Some(sock),
        )
    }
}

/// Only AF_UNIX sockets are ever handed to the gofer.
fn check_unix_socket(sock: BorrowedFd<'_>) -> Result<(), Errno> {
    let mut domain: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: domain/len are valid for writing one int.
    Errno::result(unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_DOMAIN,
            &mut domain as *mut libc::c_int as *mut libc::c_void,
            &mut len,
        )
    })?;
    if domain != libc::AF_UNIX {
        return Err(Errno::EAFNOSUPPORT);
    }
    Ok(())
}

enum Sized {
    Done(Result<usize, Errno>),
    /// A reply of the wrong kind: the connection is out of step.
    Unexpected,
}

/// Copies a Size/Bytes reply into `buf`.
fn copy_sized(r: Result<(Response<'_>, Option<OwnedFd>), Errno>, buf: &mut [u8]) -> Sized {
    match r {
        Err(e) => Sized::Done(Err(e)),
        Ok((Response::Size(n), _)) if buf.is_empty() => Sized::Done(Ok(n as usize)),
        Ok((Response::Bytes(b), _)) if !buf.is_empty() => match buf.get_mut(..b.len()) {
            Some(dst) => {
                dst.copy_from_slice(b);
                Sized::Done(Ok(b.len()))
            }
            None => Sized::Done(Err(Errno::ERANGE)),
        },
        Ok(_) => Sized::Unexpected,
    }
}

/// The handlers of calls that change nothing, on this process's own fds of the mount roots
/// (`roots`, opened for the gofer in the same order as `mounts`).
fn local_walker(roots: Vec<OwnedFd>, mounts: &[Mount]) -> io::Result<Server> {
    let proc_fd = sys::openat2(
        // SAFETY: AT_FDCWD is a valid "descriptor" for *at calls and is never closed.
        unsafe { BorrowedFd::borrow_raw(libc::AT_FDCWD) },
        c"/proc/self/fd",
        libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        0,
        0,
    )
    .map_err(|e| io::Error::other(format!("open /proc/self/fd: {e}")))?;
    let roots = roots
        .into_iter()
        .zip(mounts)
        .map(|(root, m)| MountRoot {
            root,
            read_only: m.read_only,
        })
        .collect();
    let mut walker = Server::new(roots, proc_fd);
    walker.handle(Request::Hello { version: VERSION }, None);
    Ok(walker)
}

/// Waits for the process behind `pidfd` to exit and reaps it.
fn wait_pidfd(pidfd: &OwnedFd) -> io::Result<ExitStatus> {
    use std::os::unix::process::ExitStatusExt;
    loop {
        // SAFETY: all-zero is a valid siginfo_t; waitid writes into it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid on a pidfd we own, with a valid siginfo pointer.
        let r = unsafe {
            libc::waitid(
                libc::P_PIDFD,
                pidfd.as_raw_fd() as libc::id_t,
                &mut info,
                libc::WEXITED,
            )
        };
        match Errno::result(r) {
            Ok(_) => {
                // SAFETY: waitid succeeded with WEXITED, so si_status is the exit code or signal.
                let status = unsafe { info.si_status() };
                let raw = if info.si_code == libc::CLD_EXITED {
                    (status & 0xff) << 8
                } else {
                    status & 0x7f
                };
                return Ok(ExitStatus::from_raw(raw));
            }
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

impl Drop for Client {
    /// Hangs up and reaps the gofer (it exits at once: it never blocks). No signal is sent, and
    /// the wait goes through the pidfd: the sentry's own wait loop may already have reaped it.
    fn drop(&mut self) {
        if let Some(pidfd) = self.pidfd.take() {
            self.hang_up();
            let _ = wait_pidfd(&pidfd);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{changes_nothing, Client, Mount, Request};
    use std::os::fd::AsRawFd;

    /// Read-only opens, of directories too, are served in the sentry's process; an open
    /// that may create, truncate or write goes to the gofer.
    #[test]
    fn read_only_opens_of_files_and_directories_change_nothing() {
        let open = |flags| Request::Open {
            mount: 0,
            path: b"d",
            flags,
            mode: 0,
        };
        let directory = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NONBLOCK | libc::O_CLOEXEC;
        assert!(changes_nothing(&open(directory)));
        assert!(changes_nothing(&open(libc::O_RDONLY | libc::O_CLOEXEC)));
        assert!(changes_nothing(&open(libc::O_PATH | libc::O_DIRECTORY)));
        for changing in [
            libc::O_TMPFILE | libc::O_RDWR,
            libc::O_CREAT,
            libc::O_TRUNC,
            libc::O_WRONLY,
            libc::O_RDWR | libc::O_DIRECTORY,
        ] {
            assert!(!changes_nothing(&open(changing)), "{changing:#o}");
        }
    }

    /// A gofer started from a program that does not exist: its fork succeeds, its exec fails.
    fn start_without_gofer(read_only: bool) -> super::Starting {
        let mounts = [Mount {
            host_path: std::env::temp_dir(),
            read_only,
        }];
        let missing = std::path::Path::new("/nonexistent/sentry-gofer");
        Client::start(missing, &[], &mounts).expect("the fork succeeds")
    }

    /// The child is forked without waiting for its exec: an exec that fails shows at the
    /// handshake, as an error, and the child is reaped.
    #[test]
    fn a_gofer_that_cannot_exec_fails_at_the_handshake() {
        let starting = start_without_gofer(true);
        let pidfd = starting.client.pidfd.as_ref().expect("a pidfd").as_raw_fd();
        // SAFETY: fcntl(F_DUPFD_CLOEXEC) on a pidfd we hold; the result is a new fd we own.
        let watch = unsafe { libc::fcntl(pidfd, libc::F_DUPFD_CLOEXEC, 0) };
        assert!(watch >= 0, "dup the pidfd");
        let failure = starting.finish().err().expect("no gofer answers");
        assert!(
            failure.to_string().contains("handshake"),
            "unexpected error: {failure}"
        );
        // The child is gone and reaped: waitid on its pidfd finds no child left.
        // SAFETY: siginfo_t is plain data that waitid fills.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid with P_PIDFD on an fd we own, writing into `info`.
        let r = unsafe {
            libc::waitid(
                libc::P_PIDFD,
                watch as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG,
            )
        };
        assert_eq!(r, -1, "the child was reaped when the handshake failed");
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::ECHILD)
        );
        // SAFETY: closing the fd we made above.
        unsafe { libc::close(watch) };
    }

    /// A client used before its handshake is answered: a gofer that never came up fails
    /// the first call that needs it (EIO) and `confirm` (the handshake's error).
    #[test]
    fn an_unconfirmed_client_of_a_gofer_that_never_came_up_fails_its_calls() {
        let mut client = start_without_gofer(false)
            .finish_unconfirmed()
            .expect("a client");
        assert_eq!(
            client.mkdir(0, b"never-made", 0o755),
            Err(nix::errno::Errno::EIO)
        );
        let failure = client.confirm().expect_err("no gofer answered");
        assert!(
            failure.to_string().contains("handshake"),
            "unexpected error: {failure}"
        );
    }
}

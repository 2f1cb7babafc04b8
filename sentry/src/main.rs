//! `sentry`: a user-space kernel for untrusted Linux programs, on the ptrace platform.

mod kernel;
mod limits;
mod proc;
mod sandbox;
mod strace;
mod supervisor;
mod syscalls;

use clap::{Parser, Subcommand};
use kernel::{Kernel, NetMode, Uts};
use platform_ptrace::{spawn, SpawnSpec};
use std::ffi::{CString, OsString};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use supervisor::{Outcome, Platform, Supervisor, TERMINATE_SIGNAL};

/// Exit statuses of the sentry itself, after the convention of `docker run`, `chroot`, `env`.
const EXIT_SENTRY_FAILED: u8 = 125;
const EXIT_CANNOT_EXECUTE: u8 = 126;
const EXIT_NOT_FOUND: u8 = 127;

#[derive(Parser)]
#[command(
    name = "sentry",
    version,
    about = "Run untrusted Linux programs under a user-space kernel"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run CMD with ROOTFS as its root, every syscall decided by the sentry.
    Run(Box<RunArgs>),
    /// Print the syscall table: one line per x86_64 syscall, `name<TAB>class`.
    Table,
}

#[derive(clap::Args)]
struct RunArgs {
    /// How calls are stopped: every call (ptrace) or only non-passthrough calls (seccomp).
    #[arg(long, value_enum, default_value = "ptrace")]
    platform: Platform,
    /// Print every syscall of every task to stderr, with decoded arguments and result.
    #[arg(long)]
    strace: bool,
    /// Network: none (AF_UNIX only; other socket families get EACCES) or host.
    #[arg(long, value_enum, default_value = "none")]
    net: NetMode,
    /// The sandbox's hostname (default: `sentry-` and a short id of this sandbox).
    #[arg(long)]
    hostname: Option<String>,
    /// Set an environment variable (KEY=VALUE), or pass the host's value (KEY). Repeatable.
    #[arg(long = "env", short = 'e', value_name = "KEY[=VALUE]")]
    env: Vec<String>,
    /// Working directory inside the sandbox.
    #[arg(long, default_value = "/")]
    cwd: PathBuf,
    /// Bind HOST_PATH at SANDBOX_PATH (a directory), read-only with `:ro`. Repeatable.
    #[arg(long = "mount", value_name = "HOST_PATH:SANDBOX_PATH[:ro]")]
    mounts: Vec<String>,
    /// A writable scratch directory at SANDBOX_PATH that disappears after the run. Repeatable.
    #[arg(long = "tmpfs", value_name = "SANDBOX_PATH")]
    tmpfs: Vec<String>,
    /// Make the rootfs itself read-only (writes fail with EROFS).
    #[arg(long)]
    read_only: bool,
    /// CPUs for the sentry, its gofer and the sandbox: `one` (default: the CPU the sentry
    /// starts on, so that every stop is a local wake-up, several times cheaper than waking
    /// another CPU), `all`, or a list such as `0,2-3`.
    #[arg(long, default_value = "one")]
    cpus: String,
    /// Log level of the sentry's own events (error, warn, info, debug).
    #[arg(long, default_value = "warn")]
    log: String,
    /// Memory, task, CPU-time and wall-clock limits (limits.rs).
    #[command(flatten)]
    limits: limits::LimitArgs,
    /// Host user and group the sandbox's processes run as when the sentry runs as root
    /// (default 65534:65534); never root. They hold no capability in any case.
    #[arg(long = "user", value_name = "UID:GID")]
    user: Option<String>,
    /// The identity the sandbox sees itself run as (getuid, stat owners, `id`).
    #[arg(long = "sandbox-user", value_name = "UID:GID", default_value = "0:0")]
    sandbox_user: String,
    /// The directory that becomes the sandbox's `/`.
    rootfs: PathBuf,
    /// The program to run and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<OsString>,
}

/// An error of the sentry itself, reported as one line with its exit status.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    CannotExecute(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Failure {
    fn exit_code(&self) -> u8 {
        match self {
            Failure::NotFound(_) => EXIT_NOT_FOUND,
            Failure::CannotExecute(_) => EXIT_CANNOT_EXECUTE,
            Failure::Usage(_) | Failure::Internal(_) => EXIT_SENTRY_FAILED,
        }
    }
}

/// The hidden first argument with which the sentry starts itself as its gofer.
const GOFER_ARG: &str = "__gofer";

fn main() -> ExitCode {
    // The gofer is a separate process of the same binary (no second executable to find);
    // it must start before any thread exists.
    if std::env::args().nth(1).as_deref() == Some(GOFER_ARG) {
        // Issue 8: a root gofer keeps only the capabilities serving files needs.
        if let Err(e) = kernel::creds::confine_gofer() {
            eprintln!("sentry: gofer: {e}");
            return ExitCode::from(EXIT_SENTRY_FAILED);
        }
        return gofer::process::gofer_main(std::env::args().skip(2));
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help, --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            eprintln!(
                "sentry: {} (see 'sentry --help')",
                first.trim_start_matches("error: ")
            );
            return ExitCode::from(EXIT_SENTRY_FAILED);
        }
    };
    match cli.command {
        Command::Table => {
            print_table();
            ExitCode::SUCCESS
        }
        Command::Run(args) => match run(*args) {
            Ok(status) => ExitCode::from(status),
            Err(failure) => {
                eprintln!("sentry: {failure:#}");
                ExitCode::from(failure.exit_code())
            }
        },
    }
}

fn print_table() {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for sysno in ::syscalls::Sysno::iter() {
        let class = syscalls::table::class_of(sysno.id() as u64);
        // A closed pipe (`sentry table | head`) just ends the listing.
        if writeln!(out, "{}\t{}", sysno.name(), class.label()).is_err() {
            return;
        }
    }
}

fn init_logging(level: &str, strace: bool) -> Result<(), Failure> {
    let mut directives = level.to_string();
    if strace {
        directives.push_str(",strace=info");
    }
    let filter = tracing_subscriber::EnvFilter::try_new(&directives)
        .map_err(|e| Failure::Usage(format!("invalid --log '{level}': {e}")))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .with_level(false)
        .init();
    Ok(())
}

/// The environment the program starts with: a clean one, not the host's, so that
/// secrets in the caller's environment do not reach untrusted code.
fn sandbox_env(requested: &[String]) -> Result<Vec<CString>, Failure> {
    let mut vars: Vec<(String, String)> = vec![
        (
            "PATH".into(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        ),
        ("HOME".into(), "/root".into()),
    ];
    if let Ok(term) = std::env::var("TERM") {
        vars.push(("TERM".into(), term));
    }
    for item in requested {
        let (key, value) = match item.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => match std::env::var(item) {
                Ok(v) => (item.clone(), v),
                Err(_) => continue,
            },
        };
        if key.is_empty() || key.contains('\0') || value.contains('\0') {
            return Err(Failure::Usage(format!("invalid --env '{item}'")));
        }
        vars.retain(|(k, _)| *k != key);
        vars.push((key, value));
    }
    Ok(vars
        .into_iter()
        .map(|(k, v)| CString::new(format!("{k}={v}")).expect("checked for NUL above"))
        .collect())
}

/// Finds the program as execvp would, inside the sandbox, through the gofer: a name
/// with a slash is a path, otherwise each directory of PATH is tried.
fn find_program(
    kernel: &mut Kernel,
    name: &OsString,
    env: &[CString],
) -> Result<(syscalls::exec::Plan, Vec<u8>), Failure> {
    let display = name.to_string_lossy().into_owned();
    let mut try_path = |path: &[u8]| {
        let mut call = syscalls::Call {
            kernel,
            tid: 0,
            sysno: ::syscalls::Sysno::execve,
            args: [0; 6],
        };
        syscalls::fs::across_mounts(&mut call, |call| {
            syscalls::exec::plan(call, libc::AT_FDCWD as i64 as u64, path, name.as_bytes())
        })
    };
    let failure = |errno: nix::errno::Errno| match errno {
        nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR => {
            Failure::NotFound(format!("{display}: No such file or directory"))
        }
        other => Failure::CannotExecute(format!("{display}: {}", other.desc())),
    };
    if name.as_bytes().contains(&b'/') {
        return try_path(name.as_bytes())
            .map(|plan| (plan, name.as_bytes().to_vec()))
            .map_err(failure);
    }
    if name.is_empty() {
        return Err(Failure::NotFound("'': command not found".into()));
    }
    let path_var = env
        .iter()
        .find_map(|v| v.to_bytes().strip_prefix(b"PATH="))
        .unwrap_or(b"");
    let mut refused = None;
    for dir in path_var.split(|&b| b == b':') {
        let mut candidate = if dir.is_empty() {
            b".".to_vec()
        } else {
            dir.to_vec()
        };
        candidate.push(b'/');
        candidate.extend_from_slice(name.as_bytes());
        match try_path(&candidate) {
            Ok(plan) => return Ok((plan, candidate)),
            Err(nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR) => {}
            Err(e) => refused = refused.or(Some(e)),
        }
    }
    Err(match refused {
        Some(e) => failure(e),
        None => Failure::NotFound(format!("{display}: command not found")),
    })
}

fn check_rootfs(rootfs: &Path) -> Result<PathBuf, Failure> {
    let meta = std::fs::metadata(rootfs)
        .map_err(|e| Failure::Usage(format!("rootfs {}: {e}", rootfs.display())))?;
    if !meta.is_dir() {
        return Err(Failure::Usage(format!(
            "rootfs {}: not a directory",
            rootfs.display()
        )));
    }
    rootfs
        .canonicalize()
        .map_err(|e| Failure::Usage(format!("rootfs {}: {e}", rootfs.display())))
}

/// Blocks SIGTERM, SIGINT and SIGHUP in the sentry and waits for them on a thread of
/// their own: the first one ends the sandbox (its first process is killed, and the
/// supervisor then kills the rest). SIGTTOU/SIGTTIN are ignored so that the sentry
/// never stops while the sandbox owns the terminal.
fn start_signal_thread() -> Result<(), Failure> {
    // SAFETY: signal-mask and disposition calls on locals; done before any other thread exists.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            libc::sigaddset(&mut set, sig);
        }
        // SIGCHLD is blocked too: the supervisor reads it from a signalfd.
        let mut blocked = set;
        libc::sigaddset(&mut blocked, libc::SIGCHLD);
        libc::pthread_sigmask(libc::SIG_BLOCK, &blocked, std::ptr::null_mut());
        libc::signal(libc::SIGTTOU, libc::SIG_IGN);
        libc::signal(libc::SIGTTIN, libc::SIG_IGN);
        set
    };
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || loop {
            let mut sig = 0;
            // SAFETY: sigwait reads the set we own and writes one int.
            if unsafe { libc::sigwait(&set, &mut sig) } == 0 {
                let _ =
                    TERMINATE_SIGNAL.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
                // The gofer too: a loop waiting on a gofer request (an open a lease holds)
                // then fails that request and sees the signal at once.
                for pidfd in [
                    INIT_PIDFD.load(Ordering::SeqCst),
                    GOFER_PIDFD.load(Ordering::SeqCst),
                ] {
                    if pidfd < 0 {
                        continue;
                    }
                    // SAFETY: pidfd_send_signal on a pidfd we own; a pidfd cannot be
                    // redirected to another process by pid reuse.
                    unsafe {
                        libc::syscall(
                            libc::SYS_pidfd_send_signal,
                            pidfd,
                            libc::SIGKILL,
                            0usize,
                            0u32,
                        )
                    };
                }
            }
        })
        .map_err(|e| Failure::Internal(anyhow::anyhow!("cannot start the signal thread: {e}")))?;
    Ok(())
}

/// Places the sentry (and so its gofer and every task of the sandbox, which inherit it) on
/// the CPUs asked for. A ptrace stop wakes the tracer; on one CPU that is a local context
/// switch, across CPUs an inter-processor wake-up that costs several times more.
fn pin_cpus(spec: &str) -> Result<(), Failure> {
    // SAFETY: cpu_set_t is plain data; the kernel fills it.
    let mut allowed: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: sched_getaffinity writes one cpu_set_t we own.
    if unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut allowed) }
        != 0
    {
        return Ok(());
    }
    // SAFETY: CPU_ISSET reads the set we own.
    let is_allowed =
        |cpu: usize| cpu < libc::CPU_SETSIZE as usize && unsafe { libc::CPU_ISSET(cpu, &allowed) };
    let wanted: Vec<usize> = match spec {
        "all" => return Ok(()),
        "one" => {
            // SAFETY: sched_getcpu takes no arguments.
            let current = unsafe { libc::sched_getcpu() };
            let cpu = usize::try_from(current).ok().filter(|&c| is_allowed(c));
            match cpu.or_else(|| (0..libc::CPU_SETSIZE as usize).find(|&c| is_allowed(c))) {
                Some(cpu) => vec![cpu],
                None => return Ok(()),
            }
        }
        list => parse_cpu_list(list).ok_or_else(|| {
            Failure::Usage(format!(
                "--cpus '{list}': expected one, all, or a list such as 0,2-3"
            ))
        })?,
    };
    // SAFETY: cpu_set_t is plain data; zeroed is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in &wanted {
        if !is_allowed(cpu) {
            return Err(Failure::Usage(format!(
                "--cpus: CPU {cpu} is not available to the sentry"
            )));
        }
        // SAFETY: CPU_SET writes the set we own; cpu < CPU_SETSIZE was checked.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: sched_setaffinity reads one cpu_set_t we own.
    if unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) } != 0 {
        return Err(Failure::Usage(format!(
            "--cpus '{spec}': {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// `0,2-3` → [0, 2, 3].
fn parse_cpu_list(list: &str) -> Option<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in list.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if a > b || b >= libc::CPU_SETSIZE as usize {
                    return None;
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(
                part.trim()
                    .parse()
                    .ok()
                    .filter(|&c| c < libc::CPU_SETSIZE as usize)?,
            ),
        }
    }
    (!cpus.is_empty()).then_some(cpus)
}

/// A short name for a sandbox that was given none: `sentry-` and six random hex digits.
fn sandbox_name() -> String {
    let mut bytes = [0u8; 4];
    // SAFETY: getrandom writes at most 4 bytes into our buffer.
    unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    format!("sentry-{:06x}", u32::from_ne_bytes(bytes) & 0xff_ffff)
}

/// A pidfd of the sandbox's first process, for the signal thread.
static INIT_PIDFD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);
/// A pidfd of the gofer, for the signal thread.
static GOFER_PIDFD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

fn run(args: RunArgs) -> Result<u8, Failure> {
    init_logging(&args.log, args.strace)?;
    // Before any task exists: the host kernel never writes a core file for the sandbox.
    kernel::creds::pin_core_limit()
        .map_err(|e| Failure::Internal(anyhow::anyhow!("cannot pin RLIMIT_CORE: {e}")))?;
    // Limits first: a malformed one is a usage error, and they shape the seccomp filter.
    let limits = args.limits.parse().map_err(Failure::Usage)?;
    if let Some(path) = &args.limits.events {
        limits::open_events(path).map_err(Failure::Usage)?;
    }
    syscalls::mm::configure(limits);
    // Issue 8: who the sandbox is inside, and which host ids its processes run as.
    let sandbox_user =
        kernel::creds::Ids::parse(&args.sandbox_user, "--sandbox-user").map_err(Failure::Usage)?;
    let requested_user = match &args.user {
        Some(text) => Some(kernel::creds::Ids::parse(text, "--user").map_err(Failure::Usage)?),
        None => None,
    };
    let host_user = kernel::creds::host_user(requested_user).map_err(Failure::Usage)?;
    kernel::creds::configure(sandbox_user);
    kernel::creds::set_switched(host_user.is_some());
    let rootfs = check_rootfs(&args.rootfs)?;
    if !args.cwd.is_absolute() {
        return Err(Failure::Usage(format!(
            "--cwd {}: must be an absolute path",
            args.cwd.display()
        )));
    }
    let hostname = args.hostname.clone().unwrap_or_else(sandbox_name);
    if hostname.is_empty() || hostname.len() > 64 {
        return Err(Failure::Usage("--hostname must be 1 to 64 bytes".into()));
    }
    let mut requests = Vec::new();
    for spec in &args.mounts {
        requests.push(sandbox::parse_mount(spec).map_err(Failure::Usage)?);
    }
    for path in &args.tmpfs {
        let sandbox = sandbox::sandbox_path(path, "--tmpfs").map_err(Failure::Usage)?;
        requests.push(sandbox::MountRequest::Tmpfs { sandbox });
    }
    // Before the gofer starts: it and the sandbox inherit the placement.
    pin_cpus(&args.cpus)?;
    let scratch = sandbox::Scratch::new().map_err(|e| {
        Failure::Internal(anyhow::anyhow!("cannot create a scratch directory: {e}"))
    })?;
    let (mounts, gofer_mounts, tmpfs_pool) =
        sandbox::build_mounts(&rootfs, args.read_only, requests, &scratch)
            .map_err(Failure::Usage)?;
    let exe = std::env::current_exe().map_err(|e| {
        Failure::Internal(anyhow::anyhow!("cannot find the sentry's executable: {e}"))
    })?;
    let files = gofer::Client::spawn_with_args(&exe, &[GOFER_ARG], &gofer_mounts)
        .map_err(|e| Failure::Internal(anyhow::anyhow!("cannot start the gofer: {e}")))?;
    let gofer_pid = files.pid() as i32;
    // SAFETY: pidfd_open takes plain integers and returns a new fd or -1.
    let gofer_pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, gofer_pid, 0) } as i32;
    GOFER_PIDFD.store(gofer_pidfd, Ordering::SeqCst);
    let mut kernel = Kernel::new(
        Uts {
            hostname: hostname.into_bytes(),
            domainname: b"(none)".to_vec(),
        },
        args.net,
        mounts,
        files,
    );
    kernel.proc_scratch = scratch.dir.join("procfs");
    kernel.tmpfs_pool = tmpfs_pool;
    let initial_fs = kernel::FsState {
        root: b"/".to_vec(),
        cwd: kernel::mounts::normalize(args.cwd.as_os_str().as_bytes(), 0),
    };
    kernel.fs.insert(0, initial_fs.clone());
    let watch =
        (limits.needs_watcher() || limits.accounts_memory()).then(|| limits::Watch::new(limits));
    kernel.memory = kernel::memory::MemoryTable::new(limits, watch.clone());

    let envp = sandbox_env(&args.env)?;
    let (plan, found_at) = find_program(&mut kernel, &args.command[0], &envp)?;
    kernel.init_execfn = Some(found_at);
    let to_c = |s: &[u8]| {
        CString::new(s.to_vec())
            .map_err(|_| Failure::Usage("arguments must not contain NUL bytes".into()))
    };
    let mut argv = Vec::new();
    if plan.argv_prefix.is_empty() {
        argv.push(to_c(args.command[0].as_bytes())?);
    } else {
        for arg in &plan.argv_prefix {
            argv.push(to_c(arg)?);
        }
    }
    for arg in &args.command[1..] {
        argv.push(to_c(arg.as_bytes())?);
    }
    // SAFETY: isatty, tcgetpgrp and getpgrp take plain integers.
    let foreground = unsafe { libc::isatty(0) == 1 && libc::tcgetpgrp(0) == libc::getpgrp() };
    // The sandbox may change the modes and size of the terminal it inherits; the user gets
    // the terminal back as it was.
    let terminal = TerminalState::save();

    start_signal_thread()?;
    // SAFETY: prctl with integer arguments. Orphans of the sandbox come to the sentry,
    // never to the host's init.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };

    let cookie = platform_ptrace::notify::new_cookie();
    let spec = SpawnSpec {
        path: CString::new(args.command[0].as_bytes())
            .map_err(|_| Failure::Usage("command contains NUL".into()))?,
        exec_fd: Some(plan.file.as_raw_fd()),
        argv,
        envp,
        cwd: CString::new(rootfs.as_os_str().as_bytes())
            .map_err(|_| Failure::Usage("rootfs path contains NUL".into()))?,
        new_process_group: true,
        // PID 1 of the sandbox reaps its orphans, as init does in a PID namespace.
        child_subreaper: true,
        take_terminal: foreground,
        install_cookie: Some(cookie),
        credentials: host_user.map(|ids| (ids.uid, ids.gid)),
        seccomp: Some(match args.platform {
            Platform::Seccomp if !args.strace => syscalls::filter::compile(),
            // Every call stops at the sentry.
            _ => platform_ptrace::seccomp::Filter::allow_list(&[]),
        }),
    };
    let child = spawn(&spec).map_err(|e| Failure::Internal(e.into()))?;
    // SAFETY: pidfd_open takes plain integers and returns a new fd or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, child.tid, 0) } as i32;
    INIT_PIDFD.store(pidfd, Ordering::SeqCst);
    if let Some(watch) = &watch {
        watch.set_init(child.tid);
        if limits.needs_watcher() {
            limits::start_watcher(watch.clone())
                .map_err(|e| Failure::Internal(anyhow::anyhow!(e)))?;
        }
    }

    kernel.exe.insert(child.tid, plan.program.clone());
    if let Some(view) = plan.loader {
        kernel.loader_views.insert(child.tid, view);
    }
    drop(plan);
    kernel.fs.remove(&0);
    kernel.fs.insert(child.tid, initial_fs);
    let outcome = Supervisor::new(kernel, args.strace, child, cookie, gofer_pid)
        .and_then(|supervisor| supervisor.run());
    if foreground {
        // SAFETY: getpgrp takes no arguments.
        platform_ptrace::give_terminal_to(unsafe { libc::getpgrp() });
    }
    if let Some(terminal) = terminal {
        terminal.restore();
    }
    if let Some(watch) = &watch {
        limits::final_event(watch);
    }
    if limits::timed_out() {
        return Ok(124);
    }
    let terminated_by = TERMINATE_SIGNAL.load(Ordering::SeqCst);
    if terminated_by != 0 {
        return Ok((128 + terminated_by) as u8);
    }
    drop(scratch);
    match outcome? {
        Outcome::Status(status) => Ok(status.clamp(0, 255) as u8),
        Outcome::ExecFailed(errno) => {
            let name = args.command[0].to_string_lossy();
            let failure = if errno == nix::errno::Errno::ENOENT {
                Failure::NotFound(format!("{name}: {}", errno.desc()))
            } else {
                Failure::CannotExecute(format!("{name}: {}", errno.desc()))
            };
            Err(failure)
        }
    }
}

/// The modes and window size of the terminal on the sentry's standard input, output or error.
struct TerminalState {
    fd: i32,
    modes: libc::termios,
    size: Option<libc::winsize>,
}

impl TerminalState {
    fn save() -> Option<TerminalState> {
        // SAFETY: isatty takes a plain integer.
        let fd = (0..3).find(|&fd| unsafe { libc::isatty(fd) } == 1)?;
        // SAFETY: termios is plain data; tcgetattr fills it and we check its result.
        let mut modes: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: tcgetattr writes one termios into memory we own.
        if unsafe { libc::tcgetattr(fd, &mut modes) } != 0 {
            return None;
        }
        let mut size = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ writes one winsize into memory we own.
        let size = (unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut size) } == 0).then_some(size);
        Some(TerminalState { fd, modes, size })
    }

    fn restore(&self) {
        // SAFETY: tcsetattr and TIOCSWINSZ read our own values. SIGTTOU is ignored (see
        // `start_signal_thread`), so a sentry in the background may restore too. Failures
        // leave the terminal as the sandbox left it, which is all we could do.
        unsafe {
            libc::tcsetattr(self.fd, libc::TCSANOW, &self.modes);
            if let Some(size) = &self.size {
                libc::ioctl(self.fd, libc::TIOCSWINSZ, size);
            }
        }
    }
}

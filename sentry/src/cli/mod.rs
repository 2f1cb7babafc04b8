//! The command line: `sentry run`, `sentry table` and the OCI runtime commands (`oci/`). clap lives here only; what it parses
//! becomes a [`Config`] that the rest of the sentry takes as plain data.

use crate::config::{Config, Ids, LimitFlags, MountRequest, NetMode, OomMode, Platform};
use crate::sandbox::{self, Failure};
use clap::{Parser, Subcommand};
use std::ffi::{CString, OsString};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod oci;

#[derive(Parser)]
#[command(
    name = "sentry",
    version,
    about = "Run untrusted Linux programs under a user-space kernel"
)]
struct Cli {
    #[command(flatten)]
    globals: oci::Globals,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run CMD with ROOTFS as its root, every syscall decided by the sentry.
    Run(Box<RunArgs>),
    /// Print the syscall table: one line per x86_64 syscall, `name<TAB>class`.
    Table,
    #[command(flatten)]
    Oci(oci::Command),
}

/// `--platform`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum PlatformArg {
    /// Every syscall stops at the sentry.
    Ptrace,
    /// The table compiled to seccomp-BPF: passthrough calls stay in the kernel.
    Seccomp,
}

/// `--notify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum NotifyArg {
    Auto,
    Off,
}

/// `--lookup-cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LookupCacheArg {
    On,
    Off,
}

/// `--net`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum NetArg {
    None,
    Host,
}

/// `--oom`.
#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
enum OomArg {
    /// The call fails with ENOMEM (brk returns the old break); the process goes on.
    #[default]
    Enomem,
    /// The process making the call is killed with SIGKILL, and an event records it.
    Kill,
}

#[derive(clap::Args)]
struct RunArgs {
    /// How calls are stopped: every call (ptrace) or only non-passthrough calls (seccomp).
    #[arg(long, value_enum, default_value = "ptrace")]
    platform: PlatformArg,
    /// How calls the sentry answers whole reach it: `auto` (default: seccomp user
    /// notification with synchronous wake-up where the kernel has it, Linux 6.6+; ptrace
    /// stops otherwise) or `off` (ptrace stops only).
    #[arg(long, value_enum, default_value = "auto")]
    notify: NotifyArg,
    /// `on` (default): the sentry keeps the directories it has resolved (and the paths of
    /// the sandbox's directory fds) until the sandbox itself changes a tree, so a call on a
    /// name in one of them looks up that one name. `off`: every call walks its whole path
    /// again; for a root file system or mount that the host changes (renames, removes
    /// directories) while the sandbox runs, which `on` may see as it was.
    #[arg(long, value_enum, default_value = "on")]
    lookup_cache: LookupCacheArg,
    /// Print every syscall of every task to stderr, with decoded arguments and result.
    #[arg(long)]
    strace: bool,
    /// At the end, print on stderr the sentry's own time per call, by syscall and by how
    /// the call came (notification or ptrace stop).
    #[arg(long)]
    profile: bool,
    /// Network: none (AF_UNIX only; other socket families get EACCES) or host.
    #[arg(long, value_enum, default_value = "none")]
    net: NetArg,
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
    /// Expose the sandbox's TCP port SANDBOX_PORT on the host's 127.0.0.1:HOST_PORT
    /// (with `--net none`). Repeatable.
    #[arg(long = "publish", short = 'p', value_name = "HOST_PORT:SANDBOX_PORT")]
    publish: Vec<String>,
    /// A writable scratch directory at SANDBOX_PATH that disappears after the run. Repeatable.
    #[arg(long = "tmpfs", value_name = "SANDBOX_PATH")]
    tmpfs: Vec<String>,
    /// Make the rootfs itself read-only (writes fail with EROFS).
    #[arg(long)]
    read_only: bool,
    /// CPUs for the sentry, its gofer and the sandbox: `all` (default), `one` (the CPU the
    /// sentry starts on: every ptrace stop is then a local wake-up, several times cheaper
    /// than waking another CPU), or a list such as `0,2-3`.
    #[arg(long, default_value = "all")]
    cpus: String,
    /// Log level of the sentry's own events (error, warn, info, debug).
    #[arg(long, default_value = "warn")]
    log: String,
    /// Memory, task, CPU-time and wall-clock limits.
    #[command(flatten)]
    limits: LimitArgs,
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

/// The limit flags of `sentry run`, flattened into its arguments.
#[derive(clap::Args, Debug, Default, Clone)]
struct LimitArgs {
    /// Hard limit of the sandbox's committed memory (65536, 64K, 64M, 1G): allocations past it
    /// fail with ENOMEM (or, with --oom=kill, kill the allocating process).
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
    memory_limit: Option<String>,
    /// Soft limit: each upward crossing emits one event (stderr, and --events); nothing is killed.
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
    memory_soft_limit: Option<String>,
    /// What an allocation past the hard limit gets: ENOMEM, or SIGKILL for its process.
    #[arg(long, value_enum, default_value = "enomem")]
    oom: OomArg,
    /// Append limit events to FILE as JSON lines.
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    /// At most N live tasks (threads and processes); clone/fork/vfork beyond fail with EAGAIN.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pids_limit: Option<String>,
    /// CPU time of the whole sandbox (user + system): SIGXCPU, then SIGKILL a second later.
    #[arg(long, value_name = "SECONDS", allow_hyphen_values = true)]
    cpu_time: Option<String>,
    /// Wall-clock limit: the sandbox is killed and the sentry exits with status 124.
    #[arg(long, value_name = "SECONDS", allow_hyphen_values = true)]
    timeout: Option<String>,
}

/// Parses the command line and runs what it asks for.
pub fn main() -> ExitCode {
    let mut words: Vec<OsString> = std::env::args_os().collect();
    // The OCI runtime's `run ID` and the sentry's `run ROOTFS CMD…` share a name.
    let globals_with_values = ["--root", "--log", "--log-format"];
    let mut at = 1;
    while at < words.len() {
        let word = words[at].to_string_lossy();
        if globals_with_values.contains(&word.as_ref()) {
            at += 2;
        } else if word.starts_with("--") {
            at += 1;
        } else {
            break;
        }
    }
    if words.get(at).is_some_and(|w| w == "run") && oci::is_oci_run(&words[at + 1..]) {
        words[at] = "oci-run".into();
    }
    let cli = match Cli::try_parse_from(words) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help, --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            crate::events::stderr_line(format_args!(
                "sentry: {} (see 'sentry --help')",
                first.trim_start_matches("error: ")
            ));
            return ExitCode::from(sandbox::EXIT_SENTRY_FAILED);
        }
    };
    match cli.command {
        Command::Oci(command) => oci::main(&cli.globals, command),
        Command::Table => {
            print_table();
            ExitCode::SUCCESS
        }
        Command::Run(args) => match run(*args) {
            Ok(status) => ExitCode::from(status),
            Err(failure) => {
                crate::events::stderr_line(format_args!("sentry: {failure:#}"));
                ExitCode::from(failure.exit_code())
            }
        },
    }
}

fn run(args: RunArgs) -> Result<u8, Failure> {
    init_logging(&args.log, args.strace)?;
    let config = config(args)?;
    sandbox::run(config)
}

fn print_table() {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for sysno in ::syscalls::Sysno::iter() {
        let class = crate::syscalls::table::class_of(sysno.id() as u64, Default::default());
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
        // A stderr that cannot be written loses the line; the default reports that on
        // stderr again, which panics.
        .log_internal_errors(false)
        .without_time()
        .with_target(false)
        .with_level(false)
        .init();
    Ok(())
}

/// Checks the flags of `sentry run`: a malformed one is one line and exit status 125.
fn config(args: RunArgs) -> Result<Config, Failure> {
    let flags = LimitFlags {
        memory_limit: args.limits.memory_limit,
        memory_soft_limit: args.limits.memory_soft_limit,
        oom: match args.limits.oom {
            OomArg::Enomem => OomMode::Enomem,
            OomArg::Kill => OomMode::Kill,
        },
        pids_limit: args.limits.pids_limit,
        cpu_time: args.limits.cpu_time,
        timeout: args.limits.timeout,
    };
    let limits = flags.parse().map_err(Failure::Usage)?;
    let sandbox_user = Ids::parse(&args.sandbox_user, "--sandbox-user").map_err(Failure::Usage)?;
    let requested_user = match &args.user {
        Some(text) => Some(Ids::parse(text, "--user").map_err(Failure::Usage)?),
        None => None,
    };
    let host_user = crate::kernel::creds::host_user(requested_user).map_err(Failure::Usage)?;
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
    let mut mounts = Vec::new();
    for spec in &args.mounts {
        mounts.push(sandbox::parse_mount(spec).map_err(Failure::Usage)?);
    }
    for path in &args.tmpfs {
        let sandbox = sandbox::sandbox_path(path, "--tmpfs").map_err(Failure::Usage)?;
        mounts.push(MountRequest::Tmpfs { sandbox });
    }
    let mut publish = Vec::new();
    for spec in &args.publish {
        let parsed = spec
            .split_once(':')
            .and_then(|(h, s)| Some((h.parse::<u16>().ok()?, s.parse::<u16>().ok()?)))
            .filter(|&(h, s)| h != 0 && s != 0);
        match parsed {
            Some(pair) => publish.push(pair),
            None => {
                return Err(Failure::Usage(format!(
                    "--publish '{spec}': expected HOST_PORT:SANDBOX_PORT, two ports from 1 to 65535"
                )))
            }
        }
    }
    if !publish.is_empty() && matches!(args.net, NetArg::Host) {
        return Err(Failure::Usage(
            "--publish needs --net none: with --net host the sandbox's ports are the host's".into(),
        ));
    }
    Ok(Config {
        publish,
        platform: match args.platform {
            PlatformArg::Ptrace => Platform::Ptrace,
            PlatformArg::Seccomp => Platform::Seccomp,
        },
        notify: args.notify == NotifyArg::Auto,
        lookup_cache: args.lookup_cache == LookupCacheArg::On,
        strace: args.strace,
        profile: args.profile,
        net: match args.net {
            NetArg::None => NetMode::None,
            NetArg::Host => NetMode::Host,
        },
        hostname,
        env: sandbox_env(&args.env)?,
        cwd: args.cwd,
        mounts,
        read_only: args.read_only,
        cpus: args.cpus,
        limits,
        events: args.limits.events,
        host_user,
        sandbox_user,
        first_user: None,
        first_caps: None,
        rootfs,
        command: args.command,
    })
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

/// A short name for a sandbox that was given none: `sentry-` and six random hex digits.
fn sandbox_name() -> String {
    let mut bytes = [0u8; 4];
    // SAFETY: getrandom writes at most 4 bytes into our buffer.
    unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    format!("sentry-{:06x}", u32::from_ne_bytes(bytes) & 0xff_ffff)
}

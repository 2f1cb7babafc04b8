//! The OCI runtime commands, with runc's names, options and exit behaviour: a failed
//! command prints one line on stderr (and to `--log`) and exits with status 1.

mod create;
mod delete;
mod exec;
mod features;
mod kill;
mod list;
mod ps;
mod start;
mod state;

use crate::sandbox::container::{self, Error, EXIT_FAILED};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

pub use create::{CreateArgs, RunArgs};
pub use delete::DeleteArgs;
pub use exec::ExecArgs;
pub use kill::KillArgs;
pub use list::ListArgs;
pub use ps::PsArgs;

/// `--log-format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The global options of the runtime commands (given before the command, as engines do).
#[derive(clap::Args, Debug, Clone)]
pub struct Globals {
    /// Where the runtime commands keep each container's state directory (default
    /// /run/sentry for root, $XDG_RUNTIME_DIR/sentry otherwise).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Also write the runtime commands' errors (and the sandbox's log) to FILE.
    #[arg(long = "log", value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// The format of --log: text or json (one object per line, as runc writes).
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Accepted for runc's command line and ignored: the sentry uses no cgroups.
    #[arg(long)]
    pub systemd_cgroup: bool,
}

impl Globals {
    fn root(&self) -> PathBuf {
        self.root.clone().unwrap_or_else(container::default_root)
    }
}

/// An argument that is only the container's id.
#[derive(clap::Args, Debug)]
pub struct IdArg {
    /// The container's id.
    pub id: String,
}

/// The runtime commands.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Create a container from a bundle: set up, waiting for `start`.
    Create(Box<CreateArgs>),
    /// Start the program of a created container.
    Start(IdArg),
    /// Create and start a container, and wait for its end (unless --detach). Given as
    /// `run`: [`is_oci_run`] tells it from the sentry's own `run ROOTFS CMD…`.
    #[command(name = "oci-run", hide = true)]
    Run(Box<RunArgs>),
    /// Run another process in a running container.
    Exec(Box<ExecArgs>),
    /// List the host pids of a container's processes.
    Ps(PsArgs),
    /// Freeze every process of a running container.
    Pause(IdArg),
    /// Thaw a paused container.
    Resume(IdArg),
    /// Print a container's state as JSON.
    State(IdArg),
    /// Send a signal to a container's first process (or every process with --all).
    Kill(KillArgs),
    /// Remove a container's state; a running one only with --force.
    Delete(DeleteArgs),
    /// List the containers under --root.
    List(ListArgs),
    /// Print what this runtime supports, as JSON.
    Features,
}

/// Whether the words after `run` are the OCI runtime's `run` (`[--bundle DIR] [--detach]
/// … ID`) rather than the sentry's `run ROOTFS CMD…`, which needs at least two words.
pub fn is_oci_run(rest: &[std::ffi::OsString]) -> bool {
    const OCI_ONLY: &[&str] = &[
        "--bundle",
        "-b",
        "--detach",
        "-d",
        "--pid-file",
        "--console-socket",
        "--no-pivot",
        "--no-new-keyring",
        "--preserve-fds",
    ];
    let oci_option = rest.iter().any(|arg| {
        let arg = arg.to_string_lossy();
        let name = arg.split('=').next().unwrap_or("");
        OCI_ONLY.contains(&name)
    });
    // A lone word that can be a container id and is not a directory (a rootfs given
    // without its command stays the sentry's, and fails as such).
    let lone_id = rest.len() == 1
        && container::check_id(&rest[0].to_string_lossy()).is_ok()
        && !rest[0].to_string_lossy().starts_with('-')
        && !std::path::Path::new(&rest[0]).is_dir();
    oci_option || lone_id
}

/// Runs one runtime command.
pub fn main(globals: &Globals, command: Command) -> ExitCode {
    let root = globals.root();
    let result = match command {
        Command::Create(args) => create::run(globals, &root, *args),
        Command::Run(args) => create::run_container(globals, &root, *args),
        Command::Exec(args) => exec::run(&root, *args),
        Command::Ps(args) => ps::run(&root, args),
        Command::Pause(args) => container::pause(&root, &args.id, true).map(|()| 0),
        Command::Resume(args) => container::pause(&root, &args.id, false).map(|()| 0),
        Command::Start(args) => start::run(&root, &args.id).map(|()| 0),
        Command::State(args) => state::run(&root, &args.id).map(|()| 0),
        Command::Kill(args) => kill::run(&root, args).map(|()| 0),
        Command::Delete(args) => delete::run(&root, args).map(|()| 0),
        Command::List(args) => list::run(&root, args).map(|()| 0),
        Command::Features => features::run().map(|()| 0),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            report(globals, &e);
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// One line on stderr, and one in --log in its format.
fn report(globals: &Globals, error: &Error) {
    crate::events::stderr_line(format_args!("sentry: {error}"));
    let Some(path) = &globals.log_file else {
        return;
    };
    let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    else {
        return;
    };
    let line = match globals.log_format {
        LogFormat::Json => {
            serde_json::json!({"level": "error", "msg": error.to_string()}).to_string()
        }
        LogFormat::Text => format!("level=error msg={:?}", error.to_string()),
    };
    let _ = writeln!(file, "{line}");
}

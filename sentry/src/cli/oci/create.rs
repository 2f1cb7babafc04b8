//! `create --bundle DIR [--pid-file F] [--console-socket S] ID`.

use super::{Globals, LogFormat};
use crate::sandbox::bundle;
use crate::sandbox::container::{self, Error};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// The bundle directory (config.json and, usually, the root file system).
    #[arg(long, short = 'b', default_value = ".")]
    bundle: PathBuf,
    /// Write the host pid of the container's process (the sandbox process) to FILE.
    #[arg(long, value_name = "FILE")]
    pid_file: Option<PathBuf>,
    /// With process.terminal: the Unix socket that receives the terminal's master.
    #[arg(long, value_name = "PATH")]
    console_socket: Option<PathBuf>,
    /// Accepted for runc's command line: the sentry never pivots the host's root.
    #[arg(long)]
    no_pivot: bool,
    /// Accepted for runc's command line: the sentry makes no session keyring.
    #[arg(long)]
    no_new_keyring: bool,
    /// Fds beyond stdio to pass to the container (not supported: must be 0).
    #[arg(long, default_value = "0")]
    preserve_fds: u32,
    /// The container's id.
    id: String,
}

pub fn run(globals: &Globals, root: &Path, args: CreateArgs) -> Result<u8, Error> {
    let (args, bundle) = prepare(globals, args)?;
    container::create(root, args, bundle).map(|_| 0)
}

/// `run [--detach] ...`: create's options, then start, then (unless detached) the
/// container's exit status.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Return once the container started, leaving it running.
    #[arg(long, short = 'd')]
    detach: bool,
    #[command(flatten)]
    create: CreateArgs,
}

pub fn run_container(globals: &Globals, root: &Path, args: RunArgs) -> Result<u8, Error> {
    let (create, bundle) = prepare(globals, args.create)?;
    container::run(root, create, bundle, args.detach)
}

/// Checks the options, reads the bundle and sets up the log of the sandbox process.
fn prepare(
    globals: &Globals,
    args: CreateArgs,
) -> Result<(container::CreateArgs, bundle::Bundle), Error> {
    container::check_id(&args.id)?;
    if args.preserve_fds != 0 {
        return Err(Error(
            "--preserve-fds is not supported by the sentry".into(),
        ));
    }
    let bundle = bundle::load(&args.bundle).map_err(Error)?;
    // The sandbox process logs to --log (text); with JSON (read back by engines as one
    // object a line) or without --log, its log goes nowhere.
    let log = match (&globals.log_file, globals.log_format) {
        (Some(path), LogFormat::Text) => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ok(),
        _ => None,
    };
    let log_fd = log.as_ref().map(|f| f.as_raw_fd());
    let filter = tracing_subscriber::EnvFilter::new("warn");
    match log {
        Some(file) => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(false)
            .init(),
        None => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::sink)
            .init(),
    }
    Ok((
        container::CreateArgs {
            id: args.id,
            bundle_dir: args.bundle,
            pid_file: args.pid_file,
            console_socket: args.console_socket,
            log_fd,
        },
        bundle,
    ))
}

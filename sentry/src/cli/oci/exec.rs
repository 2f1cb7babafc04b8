//! `exec [--process F | ARGS…] [--tty --console-socket S] [--detach] [--pid-file F] ID`:
//! another process in a running container.

use crate::sandbox::container::{self, Error};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    /// The process as an OCI process object (JSON), in place of ARGS and the options below.
    #[arg(long, short = 'p', value_name = "FILE")]
    process: Option<PathBuf>,
    /// Give the process a terminal (its master goes to --console-socket).
    #[arg(long, short = 't')]
    tty: bool,
    /// With a terminal: the Unix socket that receives its master.
    #[arg(long, value_name = "PATH")]
    console_socket: Option<PathBuf>,
    /// Return once the process started; a waiter whose pid goes to --pid-file ends with it.
    #[arg(long, short = 'd')]
    detach: bool,
    /// Write the pid of the process that ends with the exec'd one (and with its status).
    #[arg(long, value_name = "FILE")]
    pid_file: Option<PathBuf>,
    /// The working directory in the container (default: the container's).
    #[arg(long)]
    cwd: Option<String>,
    /// Set an environment variable (KEY=VALUE), after the container's.
    #[arg(long, short = 'e')]
    env: Vec<String>,
    /// UID[:GID] in the container (default: the container's user).
    #[arg(long, short = 'u')]
    user: Option<String>,
    /// A supplementary group in the container.
    #[arg(long = "additional-gids", short = 'g')]
    additional_gids: Vec<u32>,
    /// Fds beyond stdio to pass to the process (not supported: must be 0).
    #[arg(long, default_value = "0")]
    preserve_fds: u32,
    /// The container's id.
    id: String,
    /// The command and its arguments (without --process).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

pub fn run(root: &Path, args: ExecArgs) -> Result<u8, Error> {
    if args.preserve_fds != 0 {
        return Err(Error(
            "--preserve-fds is not supported by the sentry".into(),
        ));
    }
    let process = match &args.process {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| Error(format!("--process {}: {e}", file.display())))?;
            serde_json::from_str(&text)
                .map_err(|e| Error(format!("--process {}: {e}", file.display())))?
        }
        None => process_from_options(root, &args)?,
    };
    container::exec(
        root,
        container::ExecArgs {
            id: args.id,
            process,
            console_socket: args.console_socket,
            detach: args.detach,
            pid_file: args.pid_file,
        },
    )
}

/// The container's own process object with the command line's changes, as runc makes it.
fn process_from_options(root: &Path, args: &ExecArgs) -> Result<serde_json::Value, Error> {
    if args.command.is_empty() {
        return Err(Error("exec: no command was given".into()));
    }
    let (state, _) = container::load(root, &args.id)?;
    let config = state.bundle.join("config.json");
    let spec: serde_json::Value = std::fs::read_to_string(&config)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .ok_or_else(|| Error(format!("cannot read {}", config.display())))?;
    let mut process = spec
        .get("process")
        .cloned()
        .unwrap_or_else(|| serde_json::json!({}));
    process["args"] = serde_json::json!(args.command);
    process["terminal"] = serde_json::json!(args.tty);
    if let Some(cwd) = &args.cwd {
        process["cwd"] = serde_json::json!(cwd);
    }
    let mut env: Vec<serde_json::Value> = process["env"].as_array().cloned().unwrap_or_default();
    env.extend(args.env.iter().map(|e| serde_json::json!(e)));
    process["env"] = serde_json::Value::Array(env);
    if let Some(user) = &args.user {
        let (uid, gid) = user.split_once(':').unwrap_or((user, "0"));
        let parse = |n: &str| {
            n.parse::<u32>()
                .map_err(|_| Error(format!("--user '{user}': expected UID[:GID] numbers")))
        };
        process["user"] = serde_json::json!({"uid": parse(uid)?, "gid": parse(gid)?});
    }
    if !args.additional_gids.is_empty() {
        process["user"]["additionalGids"] = serde_json::json!(args.additional_gids);
    }
    Ok(process)
}

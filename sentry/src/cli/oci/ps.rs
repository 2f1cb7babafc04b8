//! `ps [--format table|json] ID`: the host pids of the container's processes.

use crate::sandbox::container::{self, Error};
use std::path::Path;

#[derive(clap::Args, Debug)]
pub struct PsArgs {
    /// `json` (a list of pids, as engines read it) or `table`.
    #[arg(long, short = 'f', default_value = "table")]
    format: String,
    /// The container's id.
    id: String,
}

pub fn run(root: &Path, args: PsArgs) -> Result<u8, Error> {
    let pids = container::pids(root, &args.id)?;
    match args.format.as_str() {
        "json" => println!("{}", serde_json::json!(pids)),
        "table" => {
            println!("PID");
            for pid in pids {
                println!("{pid}");
            }
        }
        other => return Err(Error(format!("--format '{other}': expected table or json"))),
    }
    Ok(0)
}

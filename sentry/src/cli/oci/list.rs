//! `list [--format table|json] [-q]`.

use crate::sandbox::container::{self, Error};
use std::path::Path;

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// table or json.
    #[arg(long, short = 'f', default_value = "table")]
    format: String,
    /// Only the ids.
    #[arg(long, short = 'q')]
    quiet: bool,
}

pub fn run(root: &Path, args: ListArgs) -> Result<(), Error> {
    let mut rows = Vec::new();
    for id in container::ids(root) {
        if let Ok((state, status)) = container::load(root, &id) {
            rows.push(state.report(status));
        }
    }
    if args.quiet {
        for row in &rows {
            println!("{}", row["id"].as_str().unwrap_or(""));
        }
        return Ok(());
    }
    match args.format.as_str() {
        "json" => println!("{}", serde_json::Value::Array(rows)),
        "table" => {
            println!("ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER");
            for r in &rows {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    r["id"].as_str().unwrap_or(""),
                    r["pid"],
                    r["status"].as_str().unwrap_or(""),
                    r["bundle"].as_str().unwrap_or(""),
                    r["created"].as_str().unwrap_or(""),
                    r["owner"].as_str().unwrap_or(""),
                );
            }
        }
        other => return Err(Error(format!("--format '{other}': table or json"))),
    }
    Ok(())
}

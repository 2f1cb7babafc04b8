//! `state ID`: the runtime spec's state as JSON on stdout.

use crate::sandbox::container::{self, Error};
use std::path::Path;

pub fn run(root: &Path, id: &str) -> Result<(), Error> {
    let (state, status) = container::load(root, id)?;
    let text = serde_json::to_string_pretty(&state.report(status))
        .map_err(|e| Error(format!("state: {e}")))?;
    println!("{text}");
    Ok(())
}

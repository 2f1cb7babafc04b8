//! `delete [--force] ID`.

use crate::sandbox::container::{self, Error};
use std::path::Path;

#[derive(clap::Args, Debug)]
pub struct DeleteArgs {
    /// Kill a running container first.
    #[arg(long, short = 'f')]
    force: bool,
    /// The container's id.
    id: String,
}

pub fn run(root: &Path, args: DeleteArgs) -> Result<(), Error> {
    container::delete(root, &args.id, args.force)
}

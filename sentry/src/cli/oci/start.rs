//! `start ID`: the created container's program starts.

use crate::sandbox::container::{self, Error};
use std::path::Path;

pub fn run(root: &Path, id: &str) -> Result<(), Error> {
    container::start(root, id)
}

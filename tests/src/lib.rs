//! The conformance suite: per-syscall C cases (tests/cases/*.c) run natively and under the
//! sentry, compared line by line, summarised in tests/REPORT.md and tests/REPORT.json.
//! See tests/README.md.

pub mod exec;
pub mod fuzz;
pub mod report;
pub mod runner;
pub mod tap;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

/// The sentry binary: `$SENTRY_BIN`, else the workspace's release binary (in
/// target/x86_64-unknown-linux-gnu/release), built with `cargo build --release -p sentry`
/// when missing and `build` is true.
pub fn locate_sentry(build: bool) -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("SENTRY_BIN") {
        let p = PathBuf::from(p);
        if !p.exists() {
            bail!("SENTRY_BIN={} does not exist", p.display());
        }
        return Ok(p);
    }
    let root = test_support::repo_root();
    let p = release_binary("sentry").context("where this program is")?;
    if !p.exists() && build {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let st = std::process::Command::new(cargo)
            .args(["build", "--release", "-p", "sentry"])
            .current_dir(&root)
            .status()
            .context("running cargo build --release -p sentry")?;
        if !st.success() {
            bail!("cargo build --release -p sentry failed");
        }
    }
    if !p.exists() {
        bail!("no sentry binary at {}", p.display());
    }
    Ok(p)
}

/// The default build directory of the case binaries: `<repo>/build/conformance`.
pub fn default_build_dir() -> PathBuf {
    test_support::repo_root().join("build/conformance")
}

/// The workspace's release binary `name`: in the `release` directory beside the directory of
/// the running program (cargo puts tests in `deps` below the binaries).
fn release_binary(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let mut dir = exe.parent()?;
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir = dir.parent()?;
    }
    Some(dir.parent()?.join("release").join(name))
}

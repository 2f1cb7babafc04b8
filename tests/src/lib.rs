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

/// The sentry binary: `$SENTRY_BIN`, else `<repo>/target/release/sentry`, built with
/// `cargo build --release -p sentry` when missing and `build` is true.
pub fn locate_sentry(build: bool) -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("SENTRY_BIN") {
        let p = PathBuf::from(p);
        if !p.exists() {
            bail!("SENTRY_BIN={} does not exist", p.display());
        }
        return Ok(p);
    }
    let root = test_support::repo_root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let p = target.join("release/sentry");
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

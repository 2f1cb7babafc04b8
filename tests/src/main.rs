//! `cargo run -p tests --release -- [--rootfs DIR] [--platform P]... [--fuzz] [FILTER]`

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Parser;

use conformance::{fuzz, locate_sentry, report, runner};

/// Runs the conformance cases natively and under the sentry and writes the report.
#[derive(Parser, Debug)]
#[command(name = "conformance")]
struct Cli {
    /// Root filesystem: `/` or a directory (native runs are then a chroot of it). Default: the
    /// busybox fixture build/rootfs/busybox (built by rootfs-fixtures/busybox.sh when missing).
    #[arg(long)]
    rootfs: Option<PathBuf>,
    /// Sentry platform modes to run (each is probed first). Default: ptrace and seccomp.
    #[arg(long = "platform")]
    platforms: Vec<String>,
    /// Run natively only (no sentry).
    #[arg(long)]
    native_only: bool,
    /// The sentry binary (default: $SENTRY_BIN or the workspace's, built if missing).
    #[arg(long)]
    sentry: Option<PathBuf>,
    /// Per-case timeout in seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Where the case binaries are built (default: <repo>/build/conformance).
    #[arg(long)]
    build_dir: Option<PathBuf>,
    /// Where REPORT.md/REPORT.json go (default: tests/ for a full run, the build dir when a
    /// FILTER is given).
    #[arg(long)]
    report_dir: Option<PathBuf>,
    /// Rewrite tests/expected-pass.txt from this run's passes under the sentry.
    #[arg(long)]
    update_baseline: bool,
    /// Also run the syscall fuzzer under the sentry.
    #[arg(long)]
    fuzz: bool,
    /// Only the fuzzer (no cases).
    #[arg(long)]
    fuzz_only: bool,
    /// Number of fuzzed syscalls.
    #[arg(long, default_value_t = 100_000)]
    fuzz_count: u64,
    /// Fuzz seed (default: random; printed for replay).
    #[arg(long)]
    fuzz_seed: Option<u64>,
    /// Only cases whose file name contains this.
    filter: Option<String>,
}

fn main() {
    match real_main() {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("conformance: {e:#}");
            std::process::exit(2);
        }
    }
}

fn real_main() -> Result<i32> {
    let cli = Cli::parse();
    let sentry = if cli.native_only {
        None
    } else {
        match cli.sentry.clone() {
            Some(p) => Some(p),
            None => Some(locate_sentry(true)?),
        }
    };
    let platforms = if cli.platforms.is_empty() {
        vec!["ptrace".to_string(), "seccomp".to_string()]
    } else {
        cli.platforms.clone()
    };
    let build_dir = cli
        .build_dir
        .clone()
        .unwrap_or_else(conformance::default_build_dir);
    let rootfs = match cli.rootfs.clone() {
        Some(r) => r,
        None => runner::default_rootfs()?,
    };
    let cfg = runner::Config {
        rootfs,
        platforms,
        filter: cli.filter.clone(),
        sentry,
        build_dir: build_dir.clone(),
        timeout: Duration::from_secs(cli.timeout),
    };
    let mut ok = true;
    let mut fuzz_text = None;
    if cli.fuzz || cli.fuzz_only {
        if cfg.sentry.is_none() {
            bail!("--fuzz needs the sentry (it never runs natively: random syscalls as root)");
        }
        let sentry = cfg
            .sentry
            .as_deref()
            .unwrap_or(std::path::Path::new("sentry"));
        let scratch =
            std::env::temp_dir().join(format!("conformance-probe-{}", std::process::id()));
        let avail: Vec<String> = cfg
            .platforms
            .iter()
            .filter(|p| runner::probe_platform(sentry, p, &cfg.rootfs, &scratch))
            .cloned()
            .collect();
        let _ = std::fs::remove_dir_all(&scratch);
        let seed = cli.fuzz_seed.unwrap_or_else(fuzz::random_seed);
        println!(
            "fuzz: seed {seed}, {} syscalls, platforms {:?}",
            cli.fuzz_count, avail
        );
        let runs = fuzz::run(&cfg, &avail, cli.fuzz_count, seed)?;
        let text = if avail.is_empty() {
            "No sentry platform mode available: the fuzzer did not run.\n".to_string()
        } else {
            fuzz::describe(&runs)
        };
        print!("{text}");
        ok &= runs.iter().all(|r| r.pass) && !avail.is_empty();
        fuzz_text = Some(text);
        if cli.fuzz_only {
            return Ok(if ok { 0 } else { 1 });
        }
    }
    let res = runner::run(&cfg, &mut |l| println!("{l}"))?;
    let report_dir = cli.report_dir.clone().unwrap_or_else(|| {
        if cli.filter.is_some() {
            build_dir.clone()
        } else {
            runner::suite_dir()
        }
    });
    report::write(&report_dir, &res, fuzz_text.as_deref())?;
    println!("report: {}", report_dir.join("REPORT.md").display());
    for (m, why) in &res.unavailable {
        println!("platform {m}: not available ({why})");
    }
    let baseline_path = runner::baseline_path();
    let baseline = runner::read_baseline(&baseline_path)?;
    let regressed = runner::regressions(&baseline, &res);
    for r in &regressed {
        println!(
            "REGRESSION (in baseline, fails now): {}",
            r.replace('\t', " | ")
        );
    }
    if cli.update_baseline {
        let n = runner::write_baseline(&baseline_path, &res)?;
        println!(
            "baseline: {n} entries written to {}",
            baseline_path.display()
        );
    } else {
        let new = res.passing_keys().difference(&baseline).count();
        if new > 0 {
            println!("{new} point(s) pass that the baseline does not list (--update-baseline)");
        }
    }
    let native_fail = res.points.iter().filter(|p| !p.native_ok).count();
    if native_fail > 0 {
        println!("{native_fail} point(s) fail natively");
    }
    println!("{}", res.summary_line());
    ok &= regressed.is_empty() || cli.update_baseline;
    Ok(if ok { 0 } else { 1 })
}

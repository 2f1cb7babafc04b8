//! `cargo test -p tests --release`: the whole suite natively and under the sentry (every
//! available platform mode), plus a short fuzz run.
//!
//! Fails when a case fails natively (the host kernel is the oracle: such a case is broken), when
//! a point listed in tests/expected-pass.txt no longer passes under the sentry, or when the fuzz
//! run breaks the sentry, leaks a task or changes a canary file. New passes are printed.

use std::time::Duration;

use conformance::{default_build_dir, fuzz, locate_sentry, report, runner};

fn config() -> runner::Config {
    let sentry = locate_sentry(true).expect("the sentry binary (SENTRY_BIN or the workspace's)");
    runner::Config {
        rootfs: match std::env::var_os("CONFORMANCE_ROOTFS") {
            Some(r) => r.into(),
            None => runner::default_rootfs().expect("the busybox fixture rootfs"),
        },
        platforms: vec!["ptrace".into(), "seccomp".into()],
        filter: std::env::var("CONFORMANCE_FILTER").ok(),
        sentry: Some(sentry),
        build_dir: default_build_dir(),
        // Cases take about a second; a hang (a sentry bug) costs this much per case and mode.
        timeout: Duration::from_secs(20),
    }
}

#[test]
fn suite_matches_native_and_keeps_the_baseline() {
    let cfg = config();
    let res = runner::run(&cfg, &mut |l| eprintln!("{l}")).expect("the runner");
    let out = cfg.build_dir.join("cargo-test-report");
    report::write(&out, &res, None).expect("writing the report");
    eprintln!("report: {}", out.join("REPORT.md").display());
    for (m, why) in &res.unavailable {
        eprintln!("platform {m}: not available ({why})");
    }

    assert!(!res.points.is_empty(), "no test points ran");
    let native_fail: Vec<_> = res
        .points
        .iter()
        .filter(|p| !p.native_ok)
        .map(|p| format!("{}: {}", p.case, p.native_line))
        .collect();
    assert!(
        native_fail.is_empty(),
        "cases failing natively: {native_fail:#?}"
    );

    let baseline = runner::read_baseline(&runner::baseline_path()).expect("the baseline");
    let new: Vec<_> = res.passing_keys().difference(&baseline).cloned().collect();
    if !new.is_empty() {
        eprintln!(
            "{} point(s) now pass beyond the baseline (run with --update-baseline):",
            new.len()
        );
        for k in new.iter().take(50) {
            eprintln!("  new pass: {}", k.replace('\t', " | "));
        }
    }
    let regressed = runner::regressions(&baseline, &res);
    assert!(
        regressed.is_empty(),
        "{} baseline point(s) regressed under the sentry: {:#?}",
        regressed.len(),
        regressed
    );
    eprintln!("{}", res.summary_line());
}

#[test]
fn fuzz_does_not_break_the_sentry() {
    let cfg = config();
    let sentry = cfg.sentry.clone().expect("sentry");
    let scratch = std::env::temp_dir().join(format!("conformance-tprobe-{}", std::process::id()));
    let avail: Vec<String> = cfg
        .platforms
        .iter()
        .filter(|p| runner::probe_platform(&sentry, p, &cfg.rootfs, &scratch))
        .cloned()
        .collect();
    let _ = std::fs::remove_dir_all(&scratch);
    if avail.is_empty() {
        eprintln!("fuzz: no sentry platform mode is available yet; nothing to fuzz");
        return;
    }
    let seed = std::env::var("CONFORMANCE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let runs = fuzz::run(&cfg, &avail, 5_000, seed).expect("the fuzz run");
    eprint!("{}", fuzz::describe(&runs));
    assert!(runs.iter().all(|r| r.pass), "fuzz failures: {runs:#?}");
}

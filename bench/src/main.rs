//! `sentry-bench`: times the same operations and workloads natively, under seccomp filters,
//! under the sentry in each platform mode and under installed peers (runsc, proot, bwrap),
//! and writes results.md, results.json and chart.svg to a directory.

mod config;
mod report;
mod runner;
mod seccomp;
mod stats;
mod svg;
mod units;
mod workload;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::Parser;

use config::{Config, Env};
use report::{Cell, ConfigReport, Host, Memory, Report, SkippedBench};
use workload::{Bench, Kind, Params};

/// Times syscalls and workloads natively, under seccomp, under the sentry and under peers.
#[derive(Parser, Debug)]
#[command(name = "sentry-bench", version)]
struct Cli {
    /// Directory for results.md, results.json and chart.svg (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Runs per configuration (interleaved round-robin). Default 5, or 1 with --quick.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    runs: Option<u32>,
    /// Comma-separated configurations (native is always added, first). Default: all known.
    #[arg(long, value_delimiter = ',')]
    configs: Option<Vec<String>>,
    /// Comma-separated benchmarks (operations and workloads). Default: all.
    #[arg(long, value_delimiter = ',')]
    ops: Option<Vec<String>>,
    /// Fewer iterations, 1 run by default, a 30-process shell loop: for smoke tests.
    #[arg(long)]
    quick: bool,
    /// The sentry binary. Default: the workspace's, beside this program.
    #[arg(long)]
    sentry: Option<PathBuf>,
    /// Where bench/build.sh puts the C programs. Default: <workspace>/build/bench.
    #[arg(long)]
    programs: Option<PathBuf>,
    /// Directory tree for the tar workload. Default: a generated tree under --programs.
    #[arg(long)]
    tree: Option<PathBuf>,
    /// Processes the shell loop spawns. Default 300, or 30 with --quick.
    #[arg(long)]
    shell_procs: Option<u32>,
    /// Seconds before one command is killed and counted as failed.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Pin the harness and everything it starts to these CPUs (e.g. `0` or `0-1`), like
    /// `taskset`. Default: no pinning.
    #[arg(long)]
    cpus: Option<String>,
    /// Do not run anything: re-render results.md, results.json and chart.svg in --out from
    /// an existing results.json.
    #[arg(long, value_name = "FILE")]
    from_json: Option<PathBuf>,
    /// List the configurations and benchmarks and exit.
    #[arg(long)]
    list: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sentry-bench: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs bench/build.sh, which builds the static `ops` and `true` into `dir`.
fn build_programs(dir: &Path) -> Result<()> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("build.sh");
    if !script.exists() {
        if dir.join("ops").exists() && dir.join("true").exists() {
            return Ok(());
        }
        bail!(
            "{} is missing and {} has no programs",
            script.display(),
            dir.display()
        );
    }
    let out = std::process::Command::new("sh")
        .arg(&script)
        .arg(dir)
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn host() -> Host {
    // SAFETY: utsname is plain data; all-zero is valid and uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    let kernel = if unsafe { libc::uname(&mut u) } == 0 {
        // SAFETY: uname NUL-terminates the release field.
        unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    } else {
        "unknown".into()
    };
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    Host {
        kernel,
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        cpu_model,
    }
}

/// The workspace's commit (`git rev-parse --short HEAD`, plus `-dirty` with local changes).
fn git_commit() -> Option<String> {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(workspace_dir())
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let head = git(&["rev-parse", "--short", "HEAD"])?;
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{head}-dirty") } else { head })
}

fn find_python() -> PathBuf {
    // The distribution's python rather than a version manager's shell shim.
    let system = PathBuf::from("/usr/bin/python3");
    if system.exists() {
        return system;
    }
    config::which("python3").unwrap_or(system)
}

fn find_shell() -> PathBuf {
    let sh = PathBuf::from("/bin/sh");
    if sh.exists() {
        sh
    } else {
        PathBuf::from("/usr/bin/busybox")
    }
}

/// Runs one benchmark once under one configuration: the measured nanoseconds, or why not.
/// One sample of `bench` under `config`: an operation's time per call, or a workload's
/// wall time (the median of its `repeats` runs).
fn measure(
    bench: &Bench,
    config: &Config,
    timeout: Duration,
) -> (Result<f64, String>, Option<u64>) {
    let mut walls = Vec::new();
    let mut notifications = None;
    for _ in 0..bench.repeats.max(1) {
        match runner::run(&config.wrapper, &bench.argv, timeout, false) {
            Err(e) => return (Err(format!("{e:#}")), None),
            Ok(o) if !o.ok() => return (Err(o.failure()), o.notifications),
            Ok(o) => {
                notifications = o.notifications;
                match bench.kind {
                    Kind::Op => {
                        return (
                            workload::parse_op_output(&bench.name, &o.stdout),
                            notifications,
                        )
                    }
                    Kind::Workload => walls.push(o.wall_ns),
                }
            }
        }
    }
    walls.sort_by(f64::total_cmp);
    (Ok(walls[walls.len() / 2]), notifications)
}

/// Parses a CPU list such as `0`, `0,1` or `0-3`.
fn parse_cpus(s: &str) -> Result<Vec<usize>, String> {
    let mut cpus = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || format!("bad CPU list `{s}` (expected e.g. 0 or 0,1 or 0-3)");
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?),
            None => {
                let a: usize = part.parse().map_err(|_| bad())?;
                (a, a)
            }
        };
        if a > b || b >= libc::CPU_SETSIZE as usize {
            return Err(bad());
        }
        cpus.extend(a..=b);
    }
    if cpus.is_empty() {
        return Err(format!("bad CPU list `{s}`"));
    }
    Ok(cpus)
}

/// Pins the calling thread (and so every process it starts later) to `cpus`.
fn pin_to(cpus: &[usize]) -> Result<()> {
    // SAFETY: cpu_set_t is plain data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus {
        // SAFETY: `c` < CPU_SETSIZE was checked by parse_cpus.
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    // SAFETY: `set` is a valid cpu_set_t of the size passed.
    if unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) } != 0 {
        return Err(std::io::Error::last_os_error()).context("sched_setaffinity");
    }
    Ok(())
}

fn real_main(cli: Cli) -> Result<()> {
    // Before any thread exists, so that every thread and child inherits it.
    if let Some(list) = &cli.cpus {
        match parse_cpus(list) {
            Ok(cpus) => pin_to(&cpus)?,
            Err(e) => {
                eprintln!("sentry-bench: {e}");
                std::process::exit(2);
            }
        }
    }
    let runs = cli.runs.unwrap_or(if cli.quick { 1 } else { 5 }) as usize;
    let timeout = Duration::from_secs(cli.timeout.max(1));

    // Configurations: native first, then the requested ones (default: all) in the given order.
    let mut config_names: Vec<String> = vec!["native".into()];
    let requested: Vec<String> = match &cli.configs {
        Some(v) => v
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        None => config::KNOWN.iter().map(|(n, _)| n.to_string()).collect(),
    };
    for n in requested {
        if !config_names.contains(&n) {
            config_names.push(n);
        }
    }
    let bench_names: Vec<String> = match &cli.ops {
        Some(v) => v
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        None => workload::all_names()
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    if let Some(from) = &cli.from_json {
        return rerender(from, &cli.out);
    }
    if cli.list {
        println!("configurations:");
        for (n, d) in config::KNOWN {
            println!("  {n:15} {d}");
        }
        println!("benchmarks: {}", workload::all_names().join(", "));
        return Ok(());
    }

    let programs = cli
        .programs
        .clone()
        .unwrap_or_else(|| workspace_dir().join("build").join("bench"));
    std::fs::create_dir_all(&programs)
        .with_context(|| format!("creating {}", programs.display()))?;
    let programs = programs.canonicalize()?;
    build_programs(&programs)?;
    let gen_tree = programs.join("tree");
    let file = workload::ensure_tree(&gen_tree)
        .with_context(|| format!("creating {}", gen_tree.display()))?;
    let make_project = match (config::which("make"), config::which("cc")) {
        (None, _) => Err("make not found in PATH (Debian package make)".to_string()),
        (_, None) => Err("cc not found in PATH (Debian package gcc)".to_string()),
        (Some(make), Some(cc)) => {
            let dir = programs.join("cproj");
            workload::ensure_cproj(&dir, &cc)
                .map(|()| (make, dir.clone()))
                .map_err(|e| format!("cannot generate the C project in {}: {e}", dir.display()))
        }
    };
    let tar = config::which("tar").unwrap_or_else(|| PathBuf::from("/usr/bin/tar"));
    let tree = cli.tree.clone().unwrap_or(gen_tree);
    let untar = (programs.join("tree.tar"), programs.join("untar"));
    if bench_names.iter().any(|n| n == "untar") {
        workload::ensure_untar(&tar, &tree, &untar.0, &untar.1)
            .with_context(|| format!("preparing {}", untar.0.display()))?;
    }
    let params = Params {
        ops_bin: programs.join("ops"),
        true_bin: programs.join("true"),
        file,
        tree,
        untar,
        shell: find_shell(),
        python: find_python(),
        tar,
        make_project,
        shell_procs: cli.shell_procs.unwrap_or(if cli.quick { 30 } else { 300 }),
        quick: cli.quick,
    };
    let benches = match workload::build(&bench_names, &params) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("sentry-bench: {e}");
            std::process::exit(2);
        }
    };
    let (benches, unavailable): (Vec<Bench>, Vec<Bench>) =
        benches.into_iter().partition(|b| b.unavailable.is_none());
    let skipped_benchmarks: Vec<SkippedBench> = unavailable
        .into_iter()
        .map(|b| {
            let reason = b.unavailable.unwrap_or_default();
            eprintln!("sentry-bench: {}: unavailable: {reason}", b.name);
            SkippedBench {
                name: b.name,
                reason,
            }
        })
        .collect();

    std::fs::create_dir_all(&cli.out).with_context(|| format!("creating {}", cli.out.display()))?;

    let env = Env {
        sentry: cli.sentry.clone().unwrap_or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|exe| Some(exe.parent()?.join("sentry")))
                .unwrap_or_else(|| PathBuf::from("sentry"))
        }),
        true_bin: params.true_bin.clone(),
        probe_timeout: timeout.min(Duration::from_secs(60)),
    };
    let mut ready: Vec<Config> = Vec::new();
    let mut config_reports = Vec::new();
    for name in &config_names {
        let resolved =
            config::resolve(name, &env).and_then(|c| config::probe(&c, &env).map(|()| c));
        match resolved {
            Ok(c) => {
                eprintln!("sentry-bench: {name}: ready");
                config_reports.push(ConfigReport {
                    name: name.clone(),
                    status: "ok".into(),
                    reason: None,
                    description: c.description.clone(),
                    command_prefix: c.display_prefix(),
                });
                ready.push(c);
            }
            Err(reason) => {
                eprintln!("sentry-bench: {name}: skipped: {reason}");
                let description = config::KNOWN
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, d)| d.to_string())
                    .unwrap_or_default();
                config_reports.push(ConfigReport {
                    name: name.clone(),
                    status: "skipped".into(),
                    reason: Some(reason),
                    description,
                    command_prefix: String::new(),
                });
            }
        }
    }
    if !ready.iter().any(|c| c.name == "native") {
        bail!("the native configuration does not run here, so there is no baseline");
    }

    // samples[bench][config] holds one entry per run, in run order.
    let nb = benches.len();
    let nc = ready.len();
    let mut samples: Vec<Vec<Vec<Option<f64>>>> = vec![vec![Vec::with_capacity(runs); nc]; nb];
    let mut errors = vec![vec![Vec::new(); nc]; nb];
    let mut notifications = vec![vec![None; nc]; nb];
    for run in 0..runs {
        eprintln!("sentry-bench: run {}/{runs}", run + 1);
        for (bi, bench) in benches.iter().enumerate() {
            // Round-robin, starting one configuration later in each run.
            for k in 0..nc {
                let ci = (k + run) % nc;
                let (v, n) = measure(bench, &ready[ci], timeout);
                match v {
                    Ok(ns) => samples[bi][ci].push(Some(ns)),
                    Err(e) => {
                        samples[bi][ci].push(None);
                        errors[bi][ci].push(format!("run {}: {e}", run + 1));
                    }
                }
                if n.is_some() {
                    notifications[bi][ci] = n;
                }
            }
        }
    }

    let native = ready.iter().position(|c| c.name == "native").unwrap_or(0);
    let mut cells = Vec::new();
    for (bi, bench) in benches.iter().enumerate() {
        for (ci, c) in ready.iter().enumerate() {
            let vals: Vec<f64> = samples[bi][ci].iter().flatten().copied().collect();
            let ratios = stats::paired_ratios(&samples[bi][ci], &samples[bi][native]);
            cells.push(Cell {
                benchmark: bench.name.clone(),
                config: c.name.clone(),
                samples_ns: samples[bi][ci].clone(),
                summary_ns: stats::summarize(&vals),
                ratio_to_native: stats::summarize(&ratios),
                errors: errors[bi][ci].clone(),
                seccomp_notifications: notifications[bi][ci],
            });
        }
    }

    // Memory: one extra, untimed run of the shell loop per configuration that has a
    // supervisor worth measuring, with the /proc sampler on.
    let mut memory = Vec::new();
    if let Some(shell) = benches.iter().find(|b| b.name == "shell_loop") {
        for c in ready.iter().filter(|c| c.measures_rss) {
            eprintln!("sentry-bench: memory: {}", c.name);
            let m = match runner::run(&c.wrapper, &shell.argv, timeout, true) {
                Ok(o) if o.ok() => {
                    let rss = o.rss.unwrap_or_default();
                    Memory {
                        config: c.name.clone(),
                        workload: shell.name.clone(),
                        peak_rss_kib: Some(rss.total_kib),
                        processes: rss.processes,
                        excluded_traced_processes: rss.excluded_traced,
                        largest_process_maxrss_kib: Some(o.maxrss_kib),
                        error: None,
                    }
                }
                Ok(o) => failed_memory(c, shell, o.failure()),
                Err(e) => failed_memory(c, shell, format!("{e:#}")),
            };
            memory.push(m);
        }
    }

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let command = std::iter::once("sentry-bench".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    let report = Report {
        tool: format!("sentry-bench {}", env!("CARGO_PKG_VERSION")),
        command,
        date_utc: report::utc_string(now),
        host: host(),
        runs,
        quick: cli.quick,
        cpus: cli.cpus.clone(),
        git_commit: git_commit(),
        configs: config_reports,
        benchmarks: benches,
        skipped_benchmarks,
        results: cells,
        memory,
        targets: Vec::new(),
        memory_method: "Peak RSS is sampled from /proc every 5 ms during one extra run of the \
            shell loop: the sum, over every process of the configuration's process tree that \
            was never seen traced (the sentry and its gofer; runsc and its sandbox and gofer \
            processes; proot), of that process's own peak RSS (VmHWM). The traced processes \
            are the sandboxed program and are left out. The last column is ru_maxrss from \
            wait4, the largest single process of the whole tree, for comparison."
            .into(),
    };

    write_outputs(report, &cli.out)
}

/// Writes results.json, results.md and chart.svg, and prints the Markdown.
fn write_outputs(mut report: Report, out: &Path) -> Result<()> {
    report.targets = report.check_targets();
    let json = serde_json::to_string_pretty(&report)?;
    write(&out.join("results.json"), &json)?;
    let md = report.markdown();
    write(&out.join("results.md"), &md)?;
    write(&out.join("chart.svg"), &svg::render(&report.chart()))?;
    print!("{md}");
    eprintln!(
        "sentry-bench: wrote results.md, results.json and chart.svg to {}",
        out.display()
    );
    Ok(())
}

/// `--from-json`: re-renders an earlier run's results.
fn rerender(from: &Path, out: &Path) -> Result<()> {
    let text =
        std::fs::read_to_string(from).with_context(|| format!("reading {}", from.display()))?;
    let report: Report =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", from.display()))?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    write_outputs(report, out)
}

fn failed_memory(c: &Config, shell: &Bench, error: String) -> Memory {
    Memory {
        config: c.name.clone(),
        workload: shell.name.clone(),
        peak_rss_kib: None,
        processes: Vec::new(),
        excluded_traced_processes: 0,
        largest_process_maxrss_kib: None,
        error: Some(error),
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::parse_cpus;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpus("0"), Ok(vec![0]));
        assert_eq!(parse_cpus("0,2"), Ok(vec![0, 2]));
        assert_eq!(parse_cpus("1-3"), Ok(vec![1, 2, 3]));
        assert!(parse_cpus("").is_err());
        assert!(parse_cpus("3-1").is_err());
        assert!(parse_cpus("x").is_err());
        assert!(parse_cpus("99999").is_err());
    }
}

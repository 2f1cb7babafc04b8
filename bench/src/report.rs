//! The results: JSON (serialised directly), Markdown tables and the SVG chart, all made from
//! the same [`Report`].

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::runner::ProcRss;
use crate::stats::{self, Summary};
use crate::svg;
use crate::units::{self, format_kib, format_ns, format_ratio};
use crate::workload::{Bench, Kind};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Host {
    pub kernel: String,
    pub cpus: usize,
    pub cpu_model: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfigReport {
    pub name: String,
    /// "ok" or "skipped".
    pub status: String,
    pub reason: Option<String>,
    pub description: String,
    pub command_prefix: String,
}

/// The results of one benchmark under one configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cell {
    pub benchmark: String,
    pub config: String,
    /// One entry per run, in run order; `null` where the run failed.
    pub samples_ns: Vec<Option<f64>>,
    pub summary_ns: Option<Summary>,
    /// Per-run ratios to native in the same run, summarised.
    pub ratio_to_native: Option<Summary>,
    pub errors: Vec<String>,
    /// seccomp-notify only: notifications the supervisor answered in the last run.
    pub seccomp_notifications: Option<u64>,
}

/// A benchmark that cannot run here, with the reason (a tool it needs is missing).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SkippedBench {
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Memory {
    pub config: String,
    pub workload: String,
    /// Sum of the peak RSS (VmHWM) of every untraced process of the tree: the sentry and its
    /// gofer, or runsc and its sandbox and gofer processes.
    pub peak_rss_kib: Option<u64>,
    pub processes: Vec<ProcRss>,
    pub excluded_traced_processes: usize,
    /// `ru_maxrss` of the tree from wait4: the largest single process, sandboxed ones included.
    pub largest_process_maxrss_kib: Option<u64>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub tool: String,
    pub command: String,
    pub date_utc: String,
    pub host: Host,
    pub runs: usize,
    pub quick: bool,
    /// `--cpus`: the CPUs everything was pinned to, if any.
    pub cpus: Option<String>,
    /// The workspace commit the harness (and the sentry, if built from it) came from.
    pub git_commit: Option<String>,
    pub configs: Vec<ConfigReport>,
    pub benchmarks: Vec<Bench>,
    /// Benchmarks asked for that cannot run here.
    #[serde(default)]
    pub skipped_benchmarks: Vec<SkippedBench>,
    pub results: Vec<Cell>,
    pub memory: Vec<Memory>,
    pub memory_method: String,
    /// The project's speed targets checked against these figures (see [`Report::check_targets`]).
    #[serde(default)]
    pub targets: Vec<TargetCheck>,
}

impl Report {
    fn cell(&self, bench: &str, config: &str) -> Option<&Cell> {
        self.results
            .iter()
            .find(|c| c.benchmark == bench && c.config == config)
    }

    fn ready_configs(&self) -> Vec<&ConfigReport> {
        self.configs.iter().filter(|c| c.status == "ok").collect()
    }

    fn cell_text(&self, bench: &str, config: &str) -> String {
        let Some(cell) = self.cell(bench, config) else {
            return "—".into();
        };
        match (&cell.summary_ns, &cell.ratio_to_native) {
            (Some(s), Some(r)) if config != "native" => {
                format!("{} ({})", format_ns(s.median), format_ratio(r.median))
            }
            (Some(s), _) => format_ns(s.median),
            (None, _) => "failed".into(),
        }
    }

    /// The Markdown report.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# sentry-bench results\n");
        let _ = writeln!(s, "Command: `{}`  ", self.command);
        if let Some(c) = &self.git_commit {
            let _ = writeln!(s, "Workspace commit: {c}  ");
        }
        let _ = writeln!(
            s,
            "Date: {} · host: Linux {}, {} CPUs ({}) · {} run(s) per configuration, interleaved{}{}\n",
            self.date_utc,
            self.host.kernel,
            self.host.cpus,
            self.host.cpu_model,
            self.runs,
            if self.quick { " · quick mode" } else { "" },
            match &self.cpus {
                Some(c) => format!(" · pinned to CPU(s) {c}"),
                None => String::new(),
            }
        );
        let _ = writeln!(
            s,
            "Each cell: the median over the runs, and in parentheses the median of the per-run \
             ratios to native. Min and max are in the details below and in results.json.\n"
        );
        let ready = self.ready_configs();
        for (kind, title) in [
            (
                Kind::Op,
                "Operations (time per operation, measured inside the sandbox)",
            ),
            (
                Kind::Workload,
                "Workloads (wall time per run, measured by the harness)",
            ),
        ] {
            let benches: Vec<&Bench> = self.benchmarks.iter().filter(|b| b.kind == kind).collect();
            if benches.is_empty() {
                continue;
            }
            let _ = writeln!(s, "## {title}\n");
            let repeated: Vec<String> = benches
                .iter()
                .filter(|b| b.repeats > 1)
                .map(|b| format!("{} the median of {}", b.label, b.repeats))
                .collect();
            if !repeated.is_empty() {
                let _ = writeln!(
                    s,
                    "One run's value of a short workload is the median of several: {}.\n",
                    repeated.join(", ")
                );
            }
            let mem = kind == Kind::Workload && !self.memory.is_empty();
            let mut head = "| configuration |".to_string();
            let mut rule = "|---|".to_string();
            for b in &benches {
                let _ = write!(head, " {} |", b.label);
                rule.push_str("---:|");
            }
            if mem {
                head.push_str(" peak RSS, sh loop |");
                rule.push_str("---:|");
            }
            let _ = writeln!(s, "{head}\n{rule}");
            for c in &ready {
                let _ = write!(s, "| {} |", c.name);
                for b in &benches {
                    let _ = write!(s, " {} |", self.cell_text(&b.name, &c.name));
                }
                if mem {
                    let m = self.memory.iter().find(|m| m.config == c.name);
                    let t = match m {
                        Some(Memory {
                            peak_rss_kib: Some(k),
                            ..
                        }) => format_kib(*k),
                        Some(_) => "failed".into(),
                        None => "—".into(),
                    };
                    let _ = write!(s, " {t} |");
                }
                s.push('\n');
            }
            s.push('\n');
        }

        s.push_str(&self.targets_markdown());

        let skipped: Vec<&ConfigReport> =
            self.configs.iter().filter(|c| c.status != "ok").collect();
        if !skipped.is_empty() {
            let _ = writeln!(s, "## Skipped configurations\n");
            for c in skipped {
                let _ = writeln!(
                    s,
                    "- `{}`: skipped: {}",
                    c.name,
                    c.reason.as_deref().unwrap_or("no reason given")
                );
            }
            s.push('\n');
        }

        if !self.skipped_benchmarks.is_empty() {
            let _ = writeln!(s, "## Unavailable benchmarks\n");
            for b in &self.skipped_benchmarks {
                let _ = writeln!(s, "- `{}`: unavailable: {}", b.name, b.reason);
            }
            s.push('\n');
        }

        let _ = writeln!(s, "## Configurations\n");
        for c in &self.configs {
            let _ = writeln!(s, "- `{}` ({}): {}", c.name, c.status, c.description);
        }
        s.push('\n');

        if !self.memory.is_empty() {
            let _ = writeln!(s, "## Memory while running the shell loop\n");
            let _ = writeln!(s, "{}\n", self.memory_method);
            let _ = writeln!(
                s,
                "| configuration | peak RSS (sum) | processes counted | traced processes left out | largest process (ru_maxrss) |\n|---|---:|---|---:|---:|"
            );
            for m in &self.memory {
                let procs: Vec<String> = m
                    .processes
                    .iter()
                    .map(|p| format!("{} {}", p.name, format_kib(p.hwm_kib)))
                    .collect();
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} |",
                    m.config,
                    m.peak_rss_kib.map(format_kib).unwrap_or_else(|| format!(
                        "failed: {}",
                        m.error.as_deref().unwrap_or("?")
                    )),
                    if procs.is_empty() {
                        "—".into()
                    } else {
                        procs.join(", ")
                    },
                    m.excluded_traced_processes,
                    m.largest_process_maxrss_kib
                        .map(format_kib)
                        .unwrap_or_else(|| "—".into()),
                );
            }
            s.push('\n');
        }

        let _ = writeln!(s, "## Details\n");
        let _ = writeln!(
            s,
            "| benchmark | configuration | median | min | max | ratio to native: median (min–max) | runs ok |\n|---|---|---:|---:|---:|---:|---:|"
        );
        for b in &self.benchmarks {
            for c in &ready {
                let Some(cell) = self.cell(&b.name, &c.name) else {
                    continue;
                };
                let ok = cell.samples_ns.iter().filter(|x| x.is_some()).count();
                let (med, min, max) = match &cell.summary_ns {
                    Some(x) => (format_ns(x.median), format_ns(x.min), format_ns(x.max)),
                    None => ("failed".into(), "—".into(), "—".into()),
                };
                let ratio = match &cell.ratio_to_native {
                    Some(r) => format!(
                        "{} ({}–{})",
                        format_ratio(r.median),
                        format_ratio(r.min),
                        format_ratio(r.max)
                    ),
                    None => "—".into(),
                };
                let _ = writeln!(
                    s,
                    "| {} | {} | {med} | {min} | {max} | {ratio} | {ok}/{} |",
                    b.label,
                    c.name,
                    cell.samples_ns.len()
                );
            }
        }
        s.push('\n');

        let failures: Vec<&Cell> = self
            .results
            .iter()
            .filter(|c| !c.errors.is_empty())
            .collect();
        if !failures.is_empty() {
            let _ = writeln!(s, "## Failures\n");
            for c in failures {
                let mut errs = c.errors.clone();
                errs.dedup();
                for e in errs {
                    let _ = writeln!(
                        s,
                        "- `{}` under `{}`: {}",
                        c.benchmark,
                        c.config,
                        e.replace('|', "\\|")
                    );
                }
            }
            s.push('\n');
        }
        s
    }

    /// Per-run ratios of `config` to `base` for `bench`, summarised.
    fn ratio_between(&self, bench: &str, config: &str, base: &str) -> Option<Summary> {
        let a = self.cell(bench, config)?;
        let b = self.cell(bench, base)?;
        stats::summarize(&stats::paired_ratios(&a.samples_ns, &b.samples_ns))
    }

    /// Per-run ratios of `bench` to `base`, both under `config`, summarised.
    fn ratio_of_benchmarks(&self, config: &str, bench: &str, base: &str) -> Option<Summary> {
        let a = self.cell(bench, config)?;
        let b = self.cell(base, config)?;
        stats::summarize(&stats::paired_ratios(&a.samples_ns, &b.samples_ns))
    }

    /// The project's speed targets, checked against this run's figures.
    pub fn check_targets(&self) -> Vec<TargetCheck> {
        TARGETS
            .iter()
            .filter(|t| self.benchmarks.iter().any(|b| b.name == t.benchmark))
            .map(|t| {
                let measured = match t.against {
                    Against::Config(base) => self.ratio_between(t.benchmark, t.config, base),
                    Against::Benchmark(base) => {
                        self.ratio_of_benchmarks(t.config, t.benchmark, base)
                    }
                    Against::AbsoluteNs => {
                        self.cell(t.benchmark, t.config).and_then(|c| c.summary_ns)
                    }
                };
                TargetCheck {
                    target: t.what.to_string(),
                    config: t.config.to_string(),
                    benchmark: t.benchmark.to_string(),
                    against: match t.against {
                        Against::Config(b) => b.to_string(),
                        Against::Benchmark(b) => format!("{b} (same configuration)"),
                        Against::AbsoluteNs => "ns".to_string(),
                    },
                    limit: t.limit,
                    measured_median: measured.map(|m| m.median),
                    measured_min: measured.map(|m| m.min),
                    measured_max: measured.map(|m| m.max),
                    met: measured.map(|m| m.median <= t.limit),
                }
            })
            .collect()
    }

    fn targets_markdown(&self) -> String {
        let checks = self.check_targets();
        if checks.is_empty() {
            return String::new();
        }
        let mut s = String::new();
        let _ = writeln!(s, "## Targets\n");
        let _ = writeln!(
            s,
            "Ratios are per-run (same run), median with min–max over the runs.\n\n| target | benchmark | configuration | measured | limit | met |\n|---|---|---|---:|---:|---|"
        );
        for c in &checks {
            let fmt = |v: f64| {
                if c.against == "ns" {
                    format_ns(v)
                } else {
                    format_ratio(v)
                }
            };
            let measured = match (c.measured_median, c.measured_min, c.measured_max) {
                (Some(m), Some(lo), Some(hi)) => format!("{} ({}–{})", fmt(m), fmt(lo), fmt(hi)),
                _ => "not measured".into(),
            };
            let limit = if c.against == "ns" {
                format!("≤ {}", format_ns(c.limit))
            } else {
                format!("≤ {} {}", format_ratio(c.limit), c.against)
            };
            let met = match c.met {
                Some(true) => "yes".to_string(),
                Some(false) => format!(
                    "no, {}× over",
                    units::sig3(c.measured_median.unwrap_or(0.0) / c.limit)
                ),
                None => "—".into(),
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                c.target, c.benchmark, c.config, measured, limit, met
            );
        }
        s.push('\n');
        s
    }

    /// The chart: one panel for operations, one for workloads; one bar per ready configuration.
    pub fn chart(&self) -> svg::Chart {
        let ready = self.ready_configs();
        let series: Vec<String> = ready.iter().map(|c| c.name.clone()).collect();
        let panel = |kind: Kind, title: &str| svg::Panel {
            title: title.to_string(),
            groups: self
                .benchmarks
                .iter()
                .filter(|b| b.kind == kind)
                .map(|b| svg::Group {
                    label: b.label.clone(),
                    bars: ready
                        .iter()
                        .map(|c| {
                            self.cell(&b.name, &c.name)
                                .and_then(|cell| cell.summary_ns)
                                .map(|x| svg::Bar {
                                    value: x.median,
                                    min: x.min,
                                    max: x.max,
                                })
                        })
                        .collect(),
                })
                .collect(),
        };
        let mut panels = Vec::new();
        if self.benchmarks.iter().any(|b| b.kind == Kind::Op) {
            panels.push(panel(
                Kind::Op,
                "Time per operation (log scale; whiskers: min–max)",
            ));
        }
        if self.benchmarks.iter().any(|b| b.kind == Kind::Workload) {
            panels.push(panel(
                Kind::Workload,
                "Wall time per workload run (log scale; whiskers: min–max)",
            ));
        }
        svg::Chart {
            title: format!("sentry-bench · {} · {} run(s)", self.date_utc, self.runs),
            series,
            panels,
        }
    }
}

/// What a target compares against.
#[derive(Debug, Clone, Copy)]
enum Against {
    /// The per-run ratio to another configuration.
    Config(&'static str),
    /// The per-run ratio to another benchmark of the same configuration.
    Benchmark(&'static str),
    /// The median in nanoseconds.
    AbsoluteNs,
}

struct Target {
    what: &'static str,
    config: &'static str,
    benchmark: &'static str,
    against: Against,
    limit: f64,
}

const fn t(
    what: &'static str,
    config: &'static str,
    benchmark: &'static str,
    against: Against,
    limit: f64,
) -> Target {
    Target {
        what,
        config,
        benchmark,
        against,
        limit,
    }
}

/// The project's speed targets, as (configuration, benchmark, baseline, limit).
const TARGETS: &[Target] = &[
    t(
        "a notified call: half of a ptrace stop",
        "sentry-ptrace",
        "getpid",
        Against::Config("sentry-ptrace-stops"),
        0.55,
    ),
    t(
        "a notified call: near the bare round trip",
        "sentry-ptrace",
        "getpid",
        Against::Config("seccomp-notify-sync"),
        1.3,
    ),
    t(
        "a notified call: near the bare round trip",
        "sentry-seccomp",
        "getpid",
        Against::Config("seccomp-notify-sync"),
        1.3,
    ),
    t(
        "file calls without a gofer round trip",
        "sentry-seccomp",
        "stat",
        Against::Benchmark("getpid"),
        1.5,
    ),
    t(
        "file calls without a gofer round trip",
        "sentry-seccomp",
        "open_close",
        Against::Benchmark("getpid"),
        2.5,
    ),
    t(
        "passthrough at native speed",
        "sentry-seccomp",
        "pipe_read",
        Against::Config("native"),
        1.2,
    ),
    t(
        "passthrough at native speed",
        "sentry-seccomp",
        "write_devnull",
        Against::Config("native"),
        1.2,
    ),
    t(
        "passthrough at native speed",
        "sentry-seccomp",
        "clock_gettime",
        Against::Config("native"),
        1.2,
    ),
    t(
        "sandbox startup under 5 ms",
        "sentry-seccomp",
        "true_startup",
        Against::AbsoluteNs,
        5e6,
    ),
    t(
        "sandbox startup under 5 ms",
        "sentry-ptrace",
        "true_startup",
        Against::AbsoluteNs,
        5e6,
    ),
    t(
        "workloads",
        "sentry-seccomp",
        "tar",
        Against::Config("native"),
        5.0,
    ),
    t(
        "workloads",
        "sentry-seccomp",
        "shell_loop",
        Against::Config("native"),
        1.5,
    ),
    t(
        "workloads",
        "sentry-seccomp",
        "python",
        Against::Config("native"),
        1.5,
    ),
    t(
        "every CPU",
        "sentry-seccomp",
        "cpu2",
        Against::Config("native"),
        1.15,
    ),
    t(
        "every CPU",
        "sentry-ptrace",
        "cpu2",
        Against::Config("native"),
        1.15,
    ),
    t(
        "every CPU",
        "sentry-seccomp",
        "make_j2",
        Against::Config("native"),
        1.5,
    ),
    t(
        "every CPU",
        "sentry-ptrace",
        "make_j2",
        Against::Config("native"),
        1.5,
    ),
];

/// One target checked against the figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetCheck {
    pub target: String,
    pub config: String,
    pub benchmark: String,
    /// The configuration the ratio is taken against, or "ns" for an absolute limit.
    pub against: String,
    pub limit: f64,
    pub measured_median: Option<f64>,
    pub measured_min: Option<f64>,
    pub measured_max: Option<f64>,
    /// `None` when not measured (a configuration skipped or failed).
    pub met: Option<bool>,
}

/// `YYYY-MM-DD HH:MM` in UTC for a Unix time in seconds.
pub fn utc_string(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    // Civil-from-days (proleptic Gregorian), after Howard Hinnant's algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(bench: &str, config: &str, samples: &[f64]) -> Cell {
        let s: Vec<Option<f64>> = samples.iter().map(|v| Some(*v)).collect();
        Cell {
            benchmark: bench.into(),
            config: config.into(),
            summary_ns: stats::summarize(samples),
            ratio_to_native: None,
            samples_ns: s,
            errors: Vec::new(),
            seccomp_notifications: None,
        }
    }

    fn report(results: Vec<Cell>) -> Report {
        let cfg = |n: &str| ConfigReport {
            name: n.into(),
            status: "ok".into(),
            reason: None,
            description: String::new(),
            command_prefix: String::new(),
        };
        let bench = |n: &str, kind| Bench {
            name: n.into(),
            kind,
            label: n.into(),
            argv: vec![n.into()],
            iterations: None,
            repeats: 1,
            unavailable: None,
        };
        Report {
            tool: "t".into(),
            command: "c".into(),
            date_utc: "d".into(),
            host: Host {
                kernel: "k".into(),
                cpus: 2,
                cpu_model: "m".into(),
            },
            runs: 2,
            quick: false,
            cpus: None,
            git_commit: None,
            configs: vec![cfg("native"), cfg("sentry-seccomp"), cfg("runsc")],
            benchmarks: vec![
                bench("getpid", Kind::Op),
                bench("stat", Kind::Op),
                bench("true_startup", Kind::Workload),
            ],
            skipped_benchmarks: vec![SkippedBench {
                name: "make_j2".into(),
                reason: "make not found".into(),
            }],
            results,
            memory: Vec::new(),
            memory_method: String::new(),
            targets: Vec::new(),
        }
    }

    #[test]
    fn targets_pair_runs_and_check_limits() {
        let r = report(vec![
            cell("getpid", "native", &[100.0, 100.0]),
            cell("getpid", "sentry-seccomp", &[4_000.0, 8_000.0]),
            cell("getpid", "seccomp-notify-sync", &[4_000.0, 4_000.0]),
            cell("stat", "sentry-seccomp", &[4_000.0, 16_000.0]),
            cell("true_startup", "sentry-seccomp", &[12e6, 14e6]),
        ]);
        let checks = r.check_targets();
        let getpid = checks
            .iter()
            .find(|c| c.benchmark == "getpid" && c.config == "sentry-seccomp")
            .unwrap();
        // Per-run ratios 1.0 and 2.0: median 1.5 > 1.3.
        assert_eq!(getpid.measured_median, Some(1.5));
        assert_eq!(getpid.met, Some(false));
        let ptrace = checks
            .iter()
            .find(|c| c.benchmark == "getpid" && c.config == "sentry-ptrace")
            .unwrap();
        assert_eq!(ptrace.met, None);
        // Against another benchmark of the same run: ratios 1.0 and 2.0.
        let stat = checks.iter().find(|c| c.benchmark == "stat").unwrap();
        assert_eq!(stat.measured_median, Some(1.5));
        assert_eq!(stat.met, Some(true));
        let startup = checks
            .iter()
            .find(|c| c.benchmark == "true_startup")
            .unwrap();
        assert_eq!(startup.measured_median, Some(13e6));
        assert_eq!(startup.met, Some(false));
        // Benchmarks that were not run have no target line.
        assert!(checks.iter().all(|c| c.benchmark != "tar"));
        let md = r.markdown();
        assert!(md.contains("| native |"), "{md}");
        assert!(md.contains("## Targets"), "{md}");
        assert!(
            md.contains("## Unavailable benchmarks\n\n- `make_j2`: unavailable: make not found"),
            "{md}"
        );
    }

    #[test]
    fn json_round_trips() {
        let r = report(vec![cell("getpid", "native", &[1.0, 2.0])]);
        let text = serde_json::to_string(&r).unwrap();
        let back: Report = serde_json::from_str(&text).unwrap();
        assert_eq!(back.results.len(), 1);
        assert_eq!(back.markdown(), r.markdown());
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc_string(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_string(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc_string(1_700_000_000), "2023-11-14 22:13 UTC");
    }
}

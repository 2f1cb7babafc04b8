//! The results: JSON (serialised directly), Markdown tables and the SVG chart, all made from
//! the same [`Report`].

use std::fmt::Write as _;

use serde::Serialize;

use crate::runner::ProcRss;
use crate::stats::Summary;
use crate::svg;
use crate::units::{format_kib, format_ns, format_ratio};
use crate::workload::{Bench, Kind};

#[derive(Debug, Clone, Serialize)]
pub struct Host {
    pub kernel: String,
    pub cpus: usize,
    pub cpu_model: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConfigReport {
    pub name: String,
    /// "ok" or "skipped".
    pub status: String,
    pub reason: Option<String>,
    pub description: String,
    pub command_prefix: String,
}

/// The results of one benchmark under one configuration.
#[derive(Debug, Clone, Serialize)]
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

#[derive(Debug, Clone, Serialize)]
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

#[derive(Debug, Clone, Serialize)]
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
    pub results: Vec<Cell>,
    pub memory: Vec<Memory>,
    pub memory_method: String,
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

    #[test]
    fn utc_dates() {
        assert_eq!(utc_string(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_string(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc_string(1_700_000_000), "2023-11-14 22:13 UTC");
    }
}

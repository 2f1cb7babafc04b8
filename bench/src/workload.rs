//! The benchmarks: operations timed inside the `ops` program, and whole workloads timed by
//! the harness from spawn to exit.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Whether the `ops` program or the harness measures the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Nanoseconds per operation, measured by `ops` around its loop.
    Op,
    /// Nanoseconds per run of the whole command, measured by the harness.
    Workload,
}

/// What `ops` needs as its third argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PathArg {
    None,
    File,
    True,
}

/// (name, label, iterations, quick iterations, path argument)
const OPS: &[(&str, &str, u64, u64, PathArg)] = &[
    ("getpid", "getpid", 50_000, 2_000, PathArg::None),
    ("open_close", "open+close", 20_000, 500, PathArg::File),
    ("stat", "stat", 20_000, 500, PathArg::File),
    (
        "pipe_read",
        "pipe write+read 1 B",
        20_000,
        1_000,
        PathArg::None,
    ),
    (
        "write_devnull",
        "write 1 B /dev/null",
        50_000,
        2_000,
        PathArg::None,
    ),
    (
        "mmap_munmap",
        "mmap+munmap 4 KiB",
        20_000,
        500,
        PathArg::None,
    ),
    ("brk", "brk grow+shrink", 20_000, 500, PathArg::None),
    ("fork_wait", "fork+wait", 500, 20, PathArg::None),
    ("fork_exec_wait", "fork+exec+wait", 200, 10, PathArg::True),
    (
        "clock_gettime",
        "clock_gettime",
        200_000,
        5_000,
        PathArg::None,
    ),
    ("empty", "empty loop", 10_000_000, 200_000, PathArg::None),
];

/// Workload names, in report order.
const WORKLOADS: &[&str] = &["true_startup", "shell_loop", "tar", "python", "cpu2"];

/// Iterations of each of the two busy loops of `cpu2` (about 0.2 s each natively here).
const CPU2_ITERATIONS: u64 = 800_000_000;

/// Every benchmark name, in report order.
pub fn all_names() -> Vec<&'static str> {
    OPS.iter()
        .map(|o| o.0)
        .chain(WORKLOADS.iter().copied())
        .collect()
}

/// One benchmark, ready to run under any configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bench {
    pub name: String,
    pub kind: Kind,
    pub label: String,
    pub argv: Vec<String>,
    /// Timed iterations inside `ops` (operations only).
    pub iterations: Option<u64>,
}

/// Paths and sizes the benchmarks use.
#[derive(Debug, Clone)]
pub struct Params {
    pub ops_bin: PathBuf,
    pub true_bin: PathBuf,
    /// The file that open_close and stat use.
    pub file: PathBuf,
    /// The directory tree that `tar` archives.
    pub tree: PathBuf,
    pub shell: PathBuf,
    pub python: PathBuf,
    pub tar: PathBuf,
    pub shell_procs: u32,
    pub quick: bool,
}

/// Builds the named benchmarks in report order. `Err` names the first unknown one.
pub fn build(names: &[String], p: &Params) -> Result<Vec<Bench>, String> {
    for n in names {
        if !all_names().contains(&n.as_str()) {
            return Err(format!(
                "unknown benchmark `{n}` (known: {})",
                all_names().join(", ")
            ));
        }
    }
    let wanted = |n: &str| names.iter().any(|x| x == n);
    let s = |p: &Path| p.display().to_string();
    let mut out = Vec::new();
    for &(name, label, iters, quick_iters, arg) in OPS {
        if !wanted(name) {
            continue;
        }
        let n = if p.quick { quick_iters } else { iters };
        let mut argv = vec![s(&p.ops_bin), name.to_string(), n.to_string()];
        match arg {
            PathArg::None => {}
            PathArg::File => argv.push(s(&p.file)),
            PathArg::True => argv.push(s(&p.true_bin)),
        }
        out.push(Bench {
            name: name.to_string(),
            kind: Kind::Op,
            label: label.to_string(),
            argv,
            iterations: Some(n),
        });
    }
    for &name in WORKLOADS {
        if !wanted(name) {
            continue;
        }
        let (label, argv) = match name {
            "true_startup" => ("start `true`".to_string(), vec![s(&p.true_bin)]),
            "shell_loop" => {
                let mut argv = vec![s(&p.shell)];
                if p.shell.file_name().is_some_and(|n| n == "busybox") {
                    argv.push("sh".into());
                }
                argv.push("-c".into());
                argv.push(format!(
                    "i=0; while [ $i -lt {} ]; do /bin/true; i=$((i+1)); done",
                    p.shell_procs
                ));
                (format!("sh loop, {} procs", p.shell_procs), argv)
            }
            "tar" => (
                "tar cf /dev/null".to_string(),
                vec![s(&p.tar), "cf".into(), "/dev/null".into(), s(&p.tree)],
            ),
            // Two CPU-bound processes at once: what the sandbox gets of a second CPU.
            "cpu2" => {
                let n = if p.quick {
                    CPU2_ITERATIONS / 40
                } else {
                    CPU2_ITERATIONS
                };
                let mut argv = vec![s(&p.shell)];
                if p.shell.file_name().is_some_and(|n| n == "busybox") {
                    argv.push("sh".into());
                }
                argv.push("-c".into());
                let ops = s(&p.ops_bin);
                argv.push(format!(
                    "{ops} empty {n} >/dev/null & {ops} empty {n} >/dev/null; wait"
                ));
                ("2 busy processes".to_string(), argv)
            }
            _ => (
                "python3 -c pass".to_string(),
                vec![s(&p.python), "-c".into(), "pass".into()],
            ),
        };
        out.push(Bench {
            name: name.to_string(),
            kind: Kind::Workload,
            label,
            argv,
            iterations: None,
        });
    }
    Ok(out)
}

/// Reads `ops`' output line `<op> <ns_per_op>`.
pub fn parse_op_output(op: &str, stdout: &str) -> Result<f64, String> {
    let line = stdout.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut it = line.split_whitespace();
    match (it.next(), it.next().map(str::parse::<f64>), it.next()) {
        (Some(name), Some(Ok(v)), None) if name == op && v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!(
            "unexpected output from ops: {:?}",
            truncate(line, 120)
        )),
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

const TREE_DIRS: usize = 16;
const TREE_FILES: usize = 64;
const TREE_FILE_BYTES: usize = 2048;
const TREE_MARK: &str = ".complete-v1";

/// Makes the directory tree for `tar` (16 directories × 64 files × 2 KiB) unless it is
/// already complete. Returns the file that open_close and stat use.
pub fn ensure_tree(dir: &Path) -> io::Result<PathBuf> {
    let first = dir.join("d00").join("f00");
    if dir.join(TREE_MARK).exists() {
        return Ok(first);
    }
    for d in 0..TREE_DIRS {
        let sub = dir.join(format!("d{d:02}"));
        fs::create_dir_all(&sub)?;
        for f in 0..TREE_FILES {
            let content: Vec<u8> = (0..TREE_FILE_BYTES)
                .map(|i| b'a' + ((i + d * 7 + f * 13) % 26) as u8)
                .collect();
            fs::write(sub.join(format!("f{f:02}")), content)?;
        }
    }
    fs::write(dir.join(TREE_MARK), b"")?;
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(quick: bool) -> Params {
        Params {
            ops_bin: "/b/ops".into(),
            true_bin: "/b/true".into(),
            file: "/b/tree/d00/f00".into(),
            tree: "/b/tree".into(),
            shell: "/bin/sh".into(),
            python: "/usr/bin/python3".into(),
            tar: "/usr/bin/tar".into(),
            shell_procs: 300,
            quick,
        }
    }

    #[test]
    fn benchmarks_keep_report_order_and_arguments() {
        let names: Vec<String> = ["tar", "fork_exec_wait", "getpid"]
            .map(String::from)
            .to_vec();
        let b = build(&names, &params(false)).unwrap();
        let got: Vec<&str> = b.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(got, ["getpid", "fork_exec_wait", "tar"]);
        assert_eq!(b[0].argv, ["/b/ops", "getpid", "50000"]);
        assert_eq!(b[1].argv, ["/b/ops", "fork_exec_wait", "200", "/b/true"]);
        assert_eq!(b[2].argv, ["/usr/bin/tar", "cf", "/dev/null", "/b/tree"]);
        assert_eq!(b[2].kind, Kind::Workload);
    }

    #[test]
    fn quick_mode_uses_fewer_iterations() {
        let names = vec!["getpid".to_string()];
        let full = build(&names, &params(false)).unwrap()[0]
            .iterations
            .unwrap();
        let quick = build(&names, &params(true)).unwrap()[0].iterations.unwrap();
        assert!(quick < full);
    }

    #[test]
    fn unknown_benchmark_is_an_error() {
        let e = build(&["getppid".to_string()], &params(false)).unwrap_err();
        assert!(e.contains("unknown benchmark `getppid`"), "{e}");
    }

    #[test]
    fn op_output_is_checked() {
        assert_eq!(parse_op_output("getpid", "getpid 89.839\n"), Ok(89.839));
        assert!(parse_op_output("getpid", "stat 3.0\n").is_err());
        assert!(parse_op_output("getpid", "getpid nan\n").is_err());
        assert!(parse_op_output("getpid", "").is_err());
        assert!(parse_op_output("getpid", "getpid 1 2\n").is_err());
    }
}

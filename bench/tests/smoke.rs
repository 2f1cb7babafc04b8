//! End-to-end: the harness in quick mode writes well-formed results, and bad input (an
//! unknown configuration, a missing sentry) is reported as skipped, not as a failure.

use std::path::PathBuf;
use std::process::Command;

fn out_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn bench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sentry-bench"))
}

#[test]
fn quick_run_writes_markdown_json_and_svg() {
    let out = out_dir("smoke-quick");
    let res = bench()
        .args(["--quick", "--runs", "2", "--out"])
        .arg(&out)
        .args([
            "--configs",
            "native,seccomp-bpf,seccomp-notify,no-such-config",
            "--sentry",
            "/nonexistent/sentry",
        ])
        .output()
        .expect("run sentry-bench");
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "sentry-bench failed: {stderr}");

    // JSON parses and has one cell per benchmark and ready configuration, two runs each.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(json["runs"], 2);
    let configs = json["configs"].as_array().unwrap();
    let status = |name: &str| {
        configs
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["status"].as_str().unwrap().to_string())
    };
    assert_eq!(status("native").as_deref(), Some("ok"));
    assert_eq!(status("seccomp-bpf").as_deref(), Some("ok"));
    assert_eq!(status("seccomp-notify").as_deref(), Some("ok"));
    assert_eq!(status("no-such-config").as_deref(), Some("skipped"));
    let unknown = configs
        .iter()
        .find(|c| c["name"] == "no-such-config")
        .unwrap();
    assert!(unknown["reason"]
        .as_str()
        .unwrap()
        .contains("unknown configuration"));

    // Every benchmark either ran or is listed as unavailable (make_j2 without make or cc).
    let benches = json["benchmarks"].as_array().unwrap();
    let unavailable = json["skipped_benchmarks"].as_array().unwrap();
    assert_eq!(benches.len() + unavailable.len(), 18);
    assert!(
        unavailable.iter().all(|b| b["name"] == "make_j2"),
        "{unavailable:?}"
    );
    let n = benches.len();
    let results = json["results"].as_array().unwrap();
    assert_eq!(results.len(), n * 3);
    for cell in results {
        let samples = cell["samples_ns"].as_array().unwrap();
        assert_eq!(samples.len(), 2, "{cell}");
        assert!(cell["errors"].as_array().unwrap().is_empty(), "{cell}");
        let median = cell["summary_ns"]["median"].as_f64().unwrap();
        assert!(median > 0.0, "{cell}");
        let min = cell["summary_ns"]["min"].as_f64().unwrap();
        let max = cell["summary_ns"]["max"].as_f64().unwrap();
        assert!(min <= median && median <= max, "{cell}");
        if cell["config"] == "native" {
            assert_eq!(cell["ratio_to_native"]["median"].as_f64(), Some(1.0));
        }
    }
    // The supervisor really answered the workload's system calls.
    let notify_getpid = results
        .iter()
        .find(|c| c["config"] == "seccomp-notify" && c["benchmark"] == "getpid")
        .unwrap();
    assert!(notify_getpid["seccomp_notifications"].as_u64().unwrap() >= 2000);

    // The Markdown table has a native row and the skipped configuration with its reason.
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    assert!(md.lines().any(|l| l.starts_with("| native |")), "{md}");
    assert!(
        md.lines().any(|l| l.starts_with("| seccomp-notify |")),
        "{md}"
    );
    assert!(
        md.contains("`no-such-config`: skipped: unknown configuration"),
        "{md}"
    );

    // The SVG has an <svg> root, is closed, and has a bar per cell.
    let svg = std::fs::read_to_string(out.join("chart.svg")).unwrap();
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<title>").count(), n * 3);
}

#[test]
fn missing_sentry_is_skipped_with_a_reason() {
    let out = out_dir("smoke-missing-sentry");
    let res = bench()
        .args(["--quick", "--out"])
        .arg(&out)
        .args([
            "--configs",
            "sentry-ptrace,sentry-seccomp",
            "--ops",
            "getpid,true_startup",
            "--sentry",
            "/nonexistent/sentry",
        ])
        .output()
        .expect("run sentry-bench");
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    for name in ["sentry-ptrace", "sentry-seccomp"] {
        assert!(
            md.contains(&format!("`{name}`: skipped: /nonexistent/sentry not found")),
            "{md}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(json["results"].as_array().unwrap().len(), 2);
}

#[test]
fn unknown_benchmark_and_bad_options_are_usage_errors() {
    let out = out_dir("smoke-bad");
    let res = bench()
        .args(["--quick", "--ops", "getppid", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(res.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(stderr.contains("unknown benchmark `getppid`"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    let res = bench()
        .args(["--runs", "0", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(res.status.code(), Some(2));
    let res = bench()
        .args(["--cpus", "x", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(res.status.code(), Some(2));
}

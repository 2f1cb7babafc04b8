//! Memory and process limits (issue 5): `--memory-limit`, `--memory-soft-limit`, `--oom`,
//! the RSS sample, `--pids-limit`, `--cpu-time`, `--timeout`, sysinfo under the limit, and
//! malformed limits. Each runs under `--platform=ptrace` and `--platform=seccomp`, with the
//! host as the rootfs (the programs are static).
//!
//! Waits use pidfds and poll with a generous deadline (the sentry is killed and the test
//! fails past it); nothing sleeps to synchronise.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use test_support::{
    marked_processes, pidfd_open, pidfd_wait_exit, programs_dir, run_to_end, unique_marker, Run,
    Scratch, RUN_DEADLINE,
};

const PLATFORMS: [&str; 2] = ["ptrace", "seccomp"];
const MIB: u64 = 1 << 20;

/// The compiled test program `name` (rootfs-fixtures/programs.sh builds every program).
fn program(name: &str) -> String {
    programs_dir().join(name).to_string_lossy().into_owned()
}

/// Runs `sentry run ARGS... / PROGRAM PROGRAM_ARGS...` to its end.
fn sentry(args: &[&str], command: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sentry"));
    cmd.arg("run")
        .args(args)
        .arg("/")
        .args(command)
        .stdin(Stdio::null());
    run_to_end(cmd, RUN_DEADLINE)
}

fn platform(p: &str) -> String {
    format!("--platform={p}")
}

/// Runs the sentry with `options` and `--events` to a fresh file; the run and its events.
fn sentry_with_events(
    name: &str,
    options: &[&str],
    command: &[&str],
) -> (Run, Vec<serde_json::Value>) {
    let dir = Scratch::new(&format!("limits-{name}"));
    let path = dir.dir.join("events.json");
    let mut args = options.to_vec();
    args.extend(["--events", path.to_str().expect("utf-8 path")]);
    let run = sentry(&args, command);
    (run, events(&path))
}

fn events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad event line {l:?}: {e}")))
        .collect()
}

fn of_kind<'a>(events: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

fn assert_no_fail(run: &Run) {
    assert!(
        !run.stdout.contains("FAIL"),
        "a check failed\n{}",
        run.describe()
    );
}

#[test]
fn memory_limit_refuses_every_kind_of_commit_and_releases_exactly() {
    let limit = 64 * MIB;
    for p in PLATFORMS {
        let run = sentry(
            &[&platform(p), "--memory-limit", "64M"],
            &[&program("limits_alloc"), &limit.to_string()],
        );
        assert_no_fail(&run);
        assert_eq!(run.code(), 0, "{p}: {}", run.describe());
        assert!(run.stdout.contains("done"), "{p}: {}", run.describe());
        // Enough checks ran (each prints one line).
        let checks = run.stdout.lines().filter(|l| l.starts_with("ok ")).count();
        assert!(
            checks >= 30,
            "{p}: only {checks} checks\n{}",
            run.describe()
        );
    }
}

#[test]
fn memory_limit_accepts_the_documented_spellings() {
    for (spelling, bytes) in [
        ("67108864", 64 * MIB),
        ("65536K", 64 * MIB),
        ("64M", 64 * MIB),
        ("1G", 1024 * MIB),
    ] {
        let run = sentry(
            &["--memory-limit", spelling],
            &[&program("limits_alloc"), &bytes.to_string()],
        );
        assert_no_fail(&run);
        assert_eq!(run.code(), 0, "{spelling}: {}", run.describe());
    }
}

#[test]
fn no_drift_after_100000_cycles_across_processes_and_threads() {
    for p in PLATFORMS {
        let (run, all) = sentry_with_events(
            "churn",
            &[&platform(p), "--memory-limit", "1G"],
            &[&program("limits_churn")],
        );
        assert_no_fail(&run);
        assert_eq!(run.code(), 0, "{p}: {}", run.describe());
        assert!(run.stdout.contains("cycles 100000"), "{}", run.describe());
        let finals = of_kind(&all, "memory_final");
        assert_eq!(finals.len(), 1, "{p}: {all:?}");
        assert_eq!(
            finals[0]["charged"], 0,
            "{p}: charge left after exit: {all:?}"
        );
        let peak = finals[0]["peak"].as_u64().unwrap_or(0);
        assert!(peak > 0, "{p}: nothing was ever charged: {all:?}");
    }
}

#[test]
fn malloc_returns_null_and_the_sandbox_goes_on() {
    for p in PLATFORMS {
        let run = sentry(
            &[&platform(p), "--memory-limit", "32M"],
            &[&program("limits_hog"), "alloc"],
        );
        assert_eq!(run.code(), 0, "{p}: {}", run.describe());
        let mib: u64 = run
            .stdout
            .trim()
            .strip_prefix("malloc failed after ")
            .and_then(|s| s.strip_suffix(" MiB"))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{p}: {}", run.describe()));
        assert!(
            (16..32).contains(&mib),
            "{p}: {mib} MiB under a 32 MiB limit"
        );
    }
}

#[test]
fn soft_limit_emits_one_event_per_upward_crossing() {
    for p in PLATFORMS {
        let soft = 16 * MIB;
        let (run, all) = sentry_with_events(
            "soft",
            &[
                &platform(p),
                "--memory-limit",
                "64M",
                "--memory-soft-limit",
                "16M",
            ],
            &[&program("limits_soft"), &soft.to_string()],
        );
        assert_no_fail(&run);
        assert_eq!(run.code(), 0, "{p}: {}", run.describe());
        let crossings = of_kind(&all, "memory_soft_limit");
        assert_eq!(crossings.len(), 2, "{p}: {all:?}");
        for e in crossings {
            assert_eq!(e["limit"], soft, "{e}");
            assert!(e["charged"].as_u64().unwrap_or(0) > soft, "{e}");
            assert_eq!(e["pid"], 1, "{e}");
            assert!(e["time"].as_f64().unwrap_or(0.0) > 1.0e9, "{e}");
        }
        let lines = run
            .stderr
            .lines()
            .filter(|l| l.contains("soft limit crossed"))
            .count();
        assert_eq!(lines, 2, "{p}: {}", run.describe());
    }
}

#[test]
fn oom_kill_kills_the_allocating_process_with_an_event() {
    for p in PLATFORMS {
        let (run, all) = sentry_with_events(
            "oom",
            &[&platform(p), "--memory-limit", "32M", "--oom=kill"],
            &[&program("limits_hog"), "alloc"],
        );
        assert_eq!(run.code(), 128 + libc::SIGKILL, "{p}: {}", run.describe());
        assert!(!run.stdout.contains("malloc failed"), "{}", run.describe());
        let kills = of_kind(&all, "memory_oom_kill");
        assert_eq!(kills.len(), 1, "{p}: {all:?}");
        assert_eq!(kills[0]["reason"], "limit");
        assert_eq!(kills[0]["pid"], 1);
        assert_eq!(of_kind(&all, "memory_final")[0]["charged"], 0, "{all:?}");
    }
}

#[test]
fn resident_memory_cannot_evade_the_limit() {
    for p in PLATFORMS {
        let data = Scratch::new("limits-rss-data");
        let mount = format!("{}:/scratch", data.dir.display());
        // A 512 MiB file mapped MAP_PRIVATE is not committed memory; writing every page
        // makes it resident, which the RSS sample sees.
        let (run, all) = sentry_with_events(
            "rss",
            &[&platform(p), "--memory-limit", "64M", "--mount", &mount],
            &[
                &program("limits_hog"),
                "rss",
                &(512 * MIB).to_string(),
                "/scratch",
            ],
        );
        assert!(run.stdout.contains("mapped"), "{p}: {}", run.describe());
        assert!(
            !run.stdout.contains("wrote every page"),
            "{}",
            run.describe()
        );
        assert_eq!(run.code(), 128 + libc::SIGKILL, "{p}: {}", run.describe());
        let kills = of_kind(&all, "memory_oom_kill");
        assert_eq!(kills.len(), 1, "{p}: {all:?}");
        assert_eq!(kills[0]["reason"], "rss");
        let rss = kills[0]["rss"].as_u64().unwrap_or(0);
        assert!(rss > 64 * MIB, "{rss}");
    }
}

/// A memfd grown by write(2) alone makes no call the sentry charges and shows in no RSS;
/// the watcher's sample counts it, so the hard limit still holds (by SIGKILL).
#[test]
fn memfd_growth_by_write_fails_with_enomem() {
    for p in PLATFORMS {
        let (run, all) = sentry_with_events(
            "memfd-write",
            &[&platform(p), "--memory-limit", "64M"],
            &[
                &program("limits_hog"),
                "memfd-write",
                &(2048 * MIB).to_string(),
            ],
        );
        assert_eq!(run.code(), 0, "{p}: {}", run.describe());
        let line = run
            .stdout
            .lines()
            .find(|l| l.starts_with("write failed after "))
            .unwrap_or_else(|| panic!("{p}: no failed write\n{}", run.describe()));
        assert!(line.ends_with("Cannot allocate memory"), "{p}: {line}");
        let held: u64 = line["write failed after ".len()..]
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(u64::MAX);
        assert!(held > 32 * MIB && held <= 64 * MIB, "{p}: {line}");
        assert!(of_kind(&all, "memory_oom_kill").is_empty(), "{p}: {all:?}");
    }
}

#[test]
fn every_write_path_into_a_memfd_is_charged() {
    for p in PLATFORMS {
        let run = sentry(
            &[&platform(p), "--memory-limit", "64M"],
            &[&program("limits_memfd_write")],
        );
        assert_no_fail(&run);
        assert_eq!(run.code(), 0, "{p}: {}", run.describe());
        for fact in [
            "ok a memfd lives at fd 512 or above",
            "ok write(2) growth stops with ENOMEM",
            "ok pwrite beyond the limit: ENOMEM",
            "ok writev beyond the limit: ENOMEM",
            "ok pwritev2 appending beyond the limit: ENOMEM",
            "ok dup, F_DUPFD and a reopen stay at 512 or above",
            "ok writing through the reopened fd beyond the limit: ENOMEM",
            "ok dup2 of a memfd below 512: EPERM",
            "ok sendfile of 40 MiB into the memfd: ENOMEM",
            "ok copy_file_range of 40 MiB into the memfd: ENOMEM",
            "ok splice from a pipe reserves the pipe's worth",
            "ok SCM_RIGHTS of a memfd: EPERM",
            "ok io_submit writing to a memfd: EINVAL",
            "ok a child's write beyond the limit: ENOMEM",
            "ok closing every name releases the charge",
        ] {
            assert!(
                run.stdout.contains(fact),
                "{p}: no {fact:?}\n{}",
                run.describe()
            );
        }
    }
}

#[test]
fn pids_limit_counts_threads_and_processes() {
    for p in PLATFORMS {
        let run = sentry(
            &[&platform(p), "--pids-limit", "20"],
            &[&program("limits_forkbomb"), "count", "3"],
        );
        assert_no_fail(&run);
        assert_eq!(run.code(), 0, "{p}: {}", run.describe());
        // 1 process + 3 threads + 16 children = 20 tasks; then EAGAIN for fork and threads.
        assert!(
            run.stdout.contains(
                "forked 16, then Resource temporarily unavailable; \
                 pthread_create: Resource temporarily unavailable"
            ),
            "{p}: {}",
            run.describe()
        );
    }
}

#[test]
fn pids_limit_counts_zombies_until_they_are_reaped() {
    for p in PLATFORMS {
        let run = sentry(
            &[&platform(p), "--pids-limit", "16"],
            &[&program("limits_forkbomb"), "zombies"],
        );
        assert_no_fail(&run);
        assert_eq!(run.code(), 0, "{p}: {}", run.describe());
        // 1 process + 15 unreaped children = 16 tasks; then EAGAIN.
        assert!(
            run.stdout
                .contains("zombies 15, then Resource temporarily unavailable"),
            "{p}: {}",
            run.describe()
        );
    }
}

#[test]
fn a_fork_bomb_stops_at_the_limit_and_sigterm_ends_everything() {
    for p in PLATFORMS {
        let mark = unique_marker(&format!("bomb-{p}"));
        let child = Command::new(env!("CARGO_BIN_EXE_sentry"))
            .args([
                "run",
                &platform(p),
                "--pids-limit",
                "40",
                "--log",
                "info",
                "/",
            ])
            .args([&program("limits_forkbomb"), "bomb", &mark])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the sentry");
        let mut child = test_support::KillOnDrop::new(child);
        let pid = child.child().id() as i32;
        let pidfd = pidfd_open(pid).expect("our child is not reaped yet");
        // The sentry reports each refused fork: once one is refused, the bomb is at the limit.
        let mut lines = BufReader::new(child.child().stderr.take().expect("stderr")).lines();
        let reached = lines.any(|l| l.is_ok_and(|l| l.contains("pids limit (40 tasks) reached")));
        assert!(reached, "{p}: the sentry never refused a fork");
        // The sentry itself holds the marker too.
        let during = marked_processes(&mark, &[]).len().saturating_sub(1);
        assert!(during <= 40, "{p}: {during} processes under a limit of 40");
        // SAFETY: kill takes plain integers; `pid` is our child, which KillOnDrop holds
        // unwaited (its number cannot be reused meanwhile).
        unsafe { libc::kill(pid, libc::SIGTERM) };
        // Keep reading stderr so the sentry never blocks on a full pipe.
        let drain = std::thread::spawn(move || lines.count());
        assert!(
            pidfd_wait_exit(&pidfd, RUN_DEADLINE),
            "{p}: the sentry did not end after SIGTERM"
        );
        let status = child.wait();
        let _ = drain.join();
        assert_eq!(status.code(), Some(128 + libc::SIGTERM), "{p}");
        assert_eq!(
            marked_processes(&mark, &[]).len(),
            0,
            "{p}: processes left behind"
        );
    }
}

#[test]
fn cpu_time_sends_sigxcpu_then_sigkill() {
    for p in PLATFORMS {
        let (run, all) = sentry_with_events(
            "cpu",
            &[&platform(p), "--cpu-time", "0.5"],
            &[&program("limits_hog"), "spin"],
        );
        // SIGXCPU's default action ends the process.
        assert_eq!(run.code(), 128 + libc::SIGXCPU, "{p}: {}", run.describe());
        let cpu = of_kind(&all, "cpu_time");
        assert_eq!(cpu.len(), 1, "{all:?}");
        assert_eq!(cpu[0]["signal"], "SIGXCPU");
        assert!(cpu[0]["used_seconds"].as_f64().unwrap_or(0.0) >= 0.5);

        let (run, all) = sentry_with_events(
            "cpu-again",
            &[&platform(p), "--cpu-time", "0.5"],
            &[&program("limits_hog"), "spin-ignore-xcpu"],
        );
        assert_eq!(run.code(), 128 + libc::SIGKILL, "{p}: {}", run.describe());
        let kills: Vec<_> = of_kind(&all, "cpu_time")
            .into_iter()
            .filter(|e| e["signal"] == "SIGKILL")
            .collect();
        assert_eq!(kills.len(), 1, "{all:?}");
    }
}

#[test]
fn timeout_ends_the_sandbox_with_124() {
    for p in PLATFORMS {
        let mark = unique_marker(&format!("timeout-{p}"));
        let started = Instant::now();
        let run = sentry(
            &[&platform(p), "--timeout", "0.5"],
            &[&program("limits_hog"), "sleep", &mark],
        );
        assert_eq!(run.code(), 124, "{p}: {}", run.describe());
        assert!(started.elapsed() >= Duration::from_millis(500));
        assert!(run.stdout.contains("sleeping"), "{}", run.describe());
        assert_eq!(
            marked_processes(&mark, &[]).len(),
            0,
            "{p}: processes left behind"
        );
    }
}

#[test]
fn malformed_limits_are_refused_with_one_line_and_125() {
    let cases: &[&[&str]] = &[
        &["--memory-limit", "lots"],
        &["--memory-limit", "0"],
        &["--memory-limit", "-64M"],
        &["--memory-limit", "64Q"],
        &["--memory-limit", "99999999999999999999"],
        &["--memory-soft-limit", "0K"],
        &["--memory-limit", "32M", "--memory-soft-limit", "64M"],
        &["--pids-limit", "0"],
        &["--pids-limit", "-3"],
        &["--pids-limit", "ten"],
        &["--cpu-time", "0"],
        &["--cpu-time", "-1"],
        &["--timeout", "soon"],
        &["--timeout", "0"],
        &["--oom", "maybe"],
    ];
    for args in cases {
        let run = sentry(args, &["/bin/true"]);
        assert_eq!(run.code(), 125, "{args:?}: {}", run.describe());
        assert_eq!(
            run.stderr.lines().count(),
            1,
            "{args:?}: {}",
            run.describe()
        );
        assert!(
            run.stderr.starts_with("sentry: "),
            "{args:?}: {}",
            run.describe()
        );
    }
}

#[test]
fn python_raises_memory_error_and_sizes_itself_to_the_limit() {
    let python = "/usr/bin/python3";
    if !Path::new(python).exists() {
        eprintln!("skipped: {python} is not installed");
        return;
    }
    let script = "import os\n\
        try:\n    x = bytearray(1 << 30)\nexcept MemoryError:\n    print('MemoryError')\n\
        y = bytearray(10 << 20)\nprint('still running', len(y))\n\
        print('phys', os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE'))\n";
    for p in PLATFORMS {
        let run = sentry(
            &[&platform(p), "--memory-limit", "256M"],
            &[python, "-c", script],
        );
        assert_eq!(run.code(), 0, "{p}: {}", run.describe());
        assert_eq!(
            run.stdout,
            format!(
                "MemoryError\nstill running {}\nphys {}\n",
                10 * MIB,
                256 * MIB
            ),
            "{p}: {}",
            run.describe()
        );
    }
}

#[test]
fn memfd_sizes_are_charged_refused_and_released_without_drift() {
    let limit = 64 * MIB;
    for p in PLATFORMS {
        let (run, all) = sentry_with_events(
            "memfd",
            &[&platform(p), "--memory-limit", "64M"],
            &[&program("limits_memfd"), &limit.to_string(), "5000"],
        );
        assert_no_fail(&run);
        assert_eq!(run.code(), 0, "{p}: {}", run.describe());
        assert!(
            run.stdout.contains("cycles 10000"),
            "{p}: {}",
            run.describe()
        );
        for fact in [
            "ok a memfd grows to 32M",
            "ok a second memfd cannot grow to 40M: ftruncate ENOMEM",
            "ok fallocate to 40M fails with ENOSPC",
            "ok after close of the first, the second grows to 40M",
            "ok after munmap of its last mapping, it is released",
            "ok after the child's exit, it is released",
        ] {
            assert!(
                run.stdout.contains(fact),
                "{p}: no {fact:?}\n{}",
                run.describe()
            );
        }
        let finals = of_kind(&all, "memory_final");
        assert_eq!(finals.len(), 1, "{p}: {all:?}");
        assert_eq!(
            finals[0]["charged"], 0,
            "{p}: charge left after exit: {all:?}"
        );
        let peak = finals[0]["peak"].as_u64().unwrap_or(0);
        assert!(
            peak >= 40 * MIB,
            "{p}: the memfds were not charged: {all:?}"
        );
        assert!(
            peak <= limit,
            "{p}: the charge went past the limit: {all:?}"
        );
    }
}

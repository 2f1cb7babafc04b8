//! Resource limits of the whole sandbox: the watcher thread that samples the sandbox's
//! processes from /proc, and the state it shares with the tracer.
//!
//! The tracer loop blocks in waitpid, so time-driven limits (`--timeout`, `--cpu-time`, the
//! RSS sample on a timer) run on a thread of their own. That thread never uses ptrace: it
//! reads /proc and sends signals through pidfds the tracer opened while each process was
//! stopped, so a signal can never reach a recycled pid.

use super::watch::{Watch, SAMPLE_PERIOD};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One process's figures from /proc/<pid>/stat.
#[derive(Debug, Default, Clone, Copy)]
struct ProcSample {
    /// utime + stime + cutime + cstime, in clock ticks.
    cpu_ticks: u64,
    /// Resident pages.
    rss_pages: u64,
}

fn sample(pid: i32) -> Option<ProcSample> {
    let text = crate::host::read_proc_text(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): field N is fields[N - 3].
    let num = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<i64>().ok());
    let cpu = [14, 15, 16, 17]
        .iter()
        .map(|&n| num(n).unwrap_or(0).max(0) as u64)
        .sum();
    Some(ProcSample {
        cpu_ticks: cpu,
        rss_pages: num(24).unwrap_or(0).max(0) as u64,
    })
}

/// CPU time of the sentry's reaped children (sandbox processes reaped by the sentry as
/// their parent or subreaper), in clock ticks.
fn reaped_children_ticks(ticks_per_sec: u64) -> u64 {
    // SAFETY: rusage is plain data; getrusage fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes one rusage into memory we own.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    (micros(usage.ru_utime) + micros(usage.ru_stime)) * ticks_per_sec / 1_000_000
}

/// Starts the watcher thread (when a limit needs it).
pub fn start_watcher(watch: Arc<Watch>) -> Result<(), String> {
    std::thread::Builder::new()
        .name("limits".into())
        .spawn(move || watcher(watch))
        .map(|_| ())
        .map_err(|e| format!("cannot start the limits thread: {e}"))
}

fn watcher(watch: Arc<Watch>) {
    let limits = watch.limits;
    let start = Instant::now();
    let deadline = limits.timeout.map(|t| start + t);
    // SAFETY: sysconf takes a plain integer.
    let ticks_per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    // SAFETY: as above.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
    let cpu_limit_ticks = limits
        .cpu_time
        .map(|d| (d.as_secs_f64() * ticks_per_sec as f64).ceil() as u64);
    let mut xcpu_sent: Option<Instant> = None;
    let mut cpu_killed = false;
    let mut cpu_high = 0u64;
    let mut rss_killed: Vec<i32> = Vec::new();
    let sample_procs = limits.memory.is_some() || limits.cpu_time.is_some();
    loop {
        // Wait one period, or until poked, or until the deadline.
        let mut wait = SAMPLE_PERIOD;
        if !sample_procs {
            wait = Duration::from_secs(3600);
        }
        if let Some(d) = deadline {
            wait = wait.min(d.saturating_duration_since(Instant::now()));
        }
        if let Some(t) = xcpu_sent {
            wait = wait.min((t + Duration::from_secs(1)).saturating_duration_since(Instant::now()));
        }
        if let Ok(flag) = watch.poke.0.lock() {
            if let Ok((mut flag, _)) = watch.poke.1.wait_timeout_while(flag, wait, |f| !*f) {
                *flag = false;
            }
        }
        if let Some(d) = deadline {
            if Instant::now() >= d && !watch.timed_out.swap(true, Ordering::SeqCst) {
                let secs = limits.timeout.map_or(0.0, |t| t.as_secs_f64());
                watch.events.emit(
                    "timeout",
                    crate::event_fields!("limit_seconds": secs),
                    Some(&format!(
                        "timeout: the sandbox ran for {secs} s; killing it"
                    )),
                );
                watch.kill_sandbox();
            }
            if watch.timed_out.load(Ordering::SeqCst) {
                // Keep killing: tasks created while the tracer had not seen the kill yet.
                watch.kill_sandbox();
                std::thread::sleep(SAMPLE_PERIOD);
                continue;
            }
        }
        if !sample_procs {
            continue;
        }
        let pids: Vec<(i32, i32)> = match watch.procs.lock() {
            Ok(p) => p.iter().map(|(&pid, (_, shown))| (pid, *shown)).collect(),
            Err(_) => return,
        };
        let samples: Vec<(i32, ProcSample)> = pids
            .iter()
            .filter_map(|&(pid, _)| sample(pid).map(|s| (pid, s)))
            .collect();
        let shown = |pid: i32| pids.iter().find(|p| p.0 == pid).map_or(pid, |p| p.1);
        if let Some(limit) = limits.memory {
            let mut rss: u64 = samples.iter().map(|(_, s)| s.rss_pages * page).sum();
            if watch.memfds_seen.load(Ordering::Relaxed) {
                let tgids: Vec<i32> = pids.iter().map(|p| p.0).collect();
                rss += crate::kernel::memory::unmapped_memfd_bytes(&tgids);
            }
            if rss > limit {
                // Like the OOM killer: the largest process goes.
                if let Some((pid, s)) = samples
                    .iter()
                    .filter(|(pid, _)| !rss_killed.contains(pid))
                    .max_by_key(|(_, s)| s.rss_pages)
                {
                    rss_killed.push(*pid);
                    let who = shown(*pid);
                    watch.events.emit(
                        "memory_oom_kill",
                        crate::event_fields!(
                            "pid": who, "reason": "rss", "rss": rss,
                            "process_rss": s.rss_pages * page, "limit": limit
                        ),
                        Some(&format!(
                            "memory: [pid {who}] killed: the sandbox's resident memory ({rss} bytes) is above the limit ({limit} bytes)"
                        )),
                    );
                    watch.signal(*pid, libc::SIGKILL);
                }
            }
            rss_killed.retain(|pid| pids.iter().any(|p| p.0 == *pid));
        }
        if let Some(limit_ticks) = cpu_limit_ticks {
            let used: u64 = samples.iter().map(|(_, s)| s.cpu_ticks).sum::<u64>()
                + reaped_children_ticks(ticks_per_sec);
            cpu_high = cpu_high.max(used);
            if cpu_high >= limit_ticks && xcpu_sent.is_none() {
                let secs = limits.cpu_time.map_or(0.0, |t| t.as_secs_f64());
                watch.events.emit(
                    "cpu_time",
                    crate::event_fields!(
                        "limit_seconds": secs,
                        "used_seconds": cpu_high as f64 / ticks_per_sec as f64,
                        "signal": "SIGXCPU"
                    ),
                    Some(&format!(
                        "cpu time limit ({secs} s) reached: SIGXCPU to the sandbox, SIGKILL in 1 s"
                    )),
                );
                watch.signal_all(libc::SIGXCPU);
                xcpu_sent = Some(Instant::now());
            }
            if let Some(t) = xcpu_sent {
                if !cpu_killed && t.elapsed() >= Duration::from_secs(1) {
                    cpu_killed = true;
                    watch.events.emit(
                        "cpu_time",
                        crate::event_fields!("signal": "SIGKILL"),
                        Some("cpu time limit: grace second over, SIGKILL to the sandbox"),
                    );
                }
                if cpu_killed {
                    watch.kill_sandbox();
                }
            }
        }
    }
}

/// At the end of the run: the sandbox's committed memory after every process is gone (0 when
/// every charge was released) and its peak, as a debug line and a `memory_final` event.
pub fn final_event(watch: &Watch) {
    if !watch.limits.accounts_memory() {
        return;
    }
    let charged = watch.charged.load(Ordering::Relaxed);
    let peak = watch.peak.load(Ordering::Relaxed);
    tracing::debug!(target: "sentry::memory", "sentry: memory: at the end {charged} bytes charged, peak {peak}");
    watch.events.emit(
        "memory_final",
        crate::event_fields!("charged": charged, "peak": peak),
        None,
    );
}

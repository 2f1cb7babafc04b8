//! The CPU-time throttle of an OCI sandbox (`linux.resources.cpu.quota`/`period`), without
//! cgroups: every tenth of a period the sandbox's CPU time is sampled from each of its
//! threads' schedstat; once the period's quota is spent, every task is frozen (as `pause`
//! does) until the period ends, as CFS bandwidth control throttles a cgroup.

use crate::supervisor::control::{Control, Request};
use hashbrown::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Starts the throttle's thread; it ends with the sandbox process.
pub fn start(
    control: Arc<Control>,
    quota: Duration,
    period: Duration,
    sentry: i32,
    gofer: i32,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("cpu-throttle".into())
        .spawn(move || {
            let tick = (period / 10).max(Duration::from_millis(1));
            let mut seen: HashMap<i32, u64> = HashMap::new();
            let mut period_start = Instant::now();
            let mut used = Duration::ZERO;
            let mut throttled = false;
            loop {
                std::thread::sleep(tick);
                used += Duration::from_nanos(cpu_since_last(&mut seen, sentry, gofer));
                if period_start.elapsed() >= period {
                    if throttled {
                        control.send(Request::Throttle(false));
                        throttled = false;
                    }
                    period_start = Instant::now();
                    used = Duration::ZERO;
                } else if !throttled && used >= quota {
                    control.send(Request::Throttle(true));
                    throttled = true;
                }
            }
        })
        .map(drop)
}

/// The CPU time (ns) the sandbox's threads used since the last call; `seen` holds each
/// thread's total at the last call. Threads that ended in between lose what they used since.
fn cpu_since_last(seen: &mut HashMap<i32, u64>, sentry: i32, gofer: i32) -> u64 {
    let mut now = HashMap::new();
    let mut delta = 0;
    for pid in super::tasks::descendants(sentry, gofer) {
        let threads = std::fs::read_dir(format!("/proc/{pid}/task"));
        for thread in threads.into_iter().flatten().flatten() {
            let Some(tid) = thread
                .file_name()
                .to_str()
                .and_then(|t| t.parse::<i32>().ok())
            else {
                continue;
            };
            let Some(total) = std::fs::read_to_string(thread.path().join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            else {
                continue;
            };
            delta += total.saturating_sub(seen.get(&tid).copied().unwrap_or(0));
            now.insert(tid, total);
        }
    }
    *seen = now;
    delta
}

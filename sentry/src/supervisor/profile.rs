//! `--profile`: the sentry's own time per call, by syscall and by how the call came (a
//! seccomp notification or a ptrace stop), reported on stderr when the sandbox ends. What is
//! timed is the handler deciding the call (reading the task's memory, walking paths, the
//! gofer's work): not the round trip to the task, whose cost the bench harness measures.
//! A call whose handler takes much longer in a real program than in a micro-benchmark is
//! where to look (a directory open that crossed to the gofer process was found so).

use hashbrown::HashMap;
use std::time::Duration;
use syscalls::Sysno;

#[derive(Default)]
pub(super) struct Profile {
    /// (syscall number, notified) → (calls, total handler time).
    calls: HashMap<(u64, bool), (u64, Duration)>,
}

impl Profile {
    pub(super) fn add(&mut self, nr: u64, notified: bool, took: Duration) {
        let entry = self.calls.entry((nr, notified)).or_default();
        entry.0 += 1;
        entry.1 += took;
    }

    /// The table, longest total first.
    pub(super) fn report(&self) -> String {
        let mut rows: Vec<_> = self.calls.iter().collect();
        rows.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then(a.0.cmp(b.0)));
        let mut out = String::from(
            "sentry: profile: the sentry's handler time per call (not the round trip)\n\
             sentry: profile:    calls   total \u{b5}s    mean \u{b5}s  syscall (how it came)\n",
        );
        for (&(nr, notified), &(calls, total)) in rows {
            let name =
                Sysno::new(nr as usize).map_or_else(|| format!("#{nr}"), |s| s.name().into());
            let how = if notified { "notified" } else { "stop" };
            let micros = total.as_secs_f64() * 1e6;
            out.push_str(&format!(
                "sentry: profile: {calls:>8} {micros:>10.1} {:>10.2}  {name} ({how})\n",
                micros / calls as f64
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_summed_per_syscall_and_way_longest_first() {
        let mut p = Profile::default();
        let micros = Duration::from_micros;
        p.add(262, true, micros(5));
        p.add(262, true, micros(7));
        p.add(257, true, micros(30));
        p.add(257, false, micros(2));
        let report = p.report();
        let lines: Vec<&str> = report.lines().skip(2).collect();
        assert_eq!(lines.len(), 3, "{report}");
        assert!(lines[0].ends_with("openat (notified)"), "{report}");
        assert!(lines[1].ends_with("newfstatat (notified)"), "{report}");
        assert!(
            lines[1].contains(" 2 ") && lines[1].contains("12.0"),
            "{report}"
        );
        assert!(lines[2].ends_with("openat (stop)"), "{report}");
    }
}

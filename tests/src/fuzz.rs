//! The syscall fuzz run: `cases/fuzz.c` under the sentry, with canary files that must survive.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::exec::{self, Ending};
use crate::runner::{self, Config};
use test_support::{is_root, NOBODY};

/// The outcome of one fuzz run under one platform mode.
#[derive(Debug, Clone, Serialize)]
pub struct FuzzRun {
    pub platform: String,
    pub seed: u64,
    pub count: u64,
    pub ending: Ending,
    /// The fuzzer's own report (its TAP point), if it printed one.
    pub fuzzer_line: Option<String>,
    pub canaries_unchanged: bool,
    pub canary_changes: Vec<String>,
    pub leftover_tasks: usize,
    pub pass: bool,
    pub problems: Vec<String>,
}

#[derive(PartialEq, Eq, Debug)]
struct Snapshot {
    content: Vec<u8>,
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    mtime: (i64, i64),
    ino: u64,
}

fn snapshot(p: &Path) -> Option<Snapshot> {
    let m = std::fs::symlink_metadata(p).ok()?;
    Some(Snapshot {
        content: std::fs::read(p).unwrap_or_default(),
        mode: m.mode(),
        uid: m.uid(),
        gid: m.gid(),
        size: m.size(),
        mtime: (m.mtime(), m.mtime_nsec()),
        ino: m.ino(),
    })
}

fn chown_nobody(p: &Path) {
    if let Ok(c) = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()) {
        // SAFETY: c is a valid NUL-terminated path; chown(2) only reads it.
        unsafe {
            libc::chown(c.as_ptr(), NOBODY, NOBODY);
        }
    }
}

/// A seed from the kernel's random pool.
pub fn random_seed() -> u64 {
    let mut b = [0u8; 8];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut b);
    }
    u64::from_le_bytes(b)
}

/// Runs the fuzzer under each platform of `platforms`. When the runner is root the sentry runs
/// as nobody (uid 65534): the canaries are then writable by that user, so only the sandbox keeps
/// them unchanged, and a wrong pass-through cannot harm the host as root.
pub fn run(cfg: &Config, platforms: &[String], count: u64, seed: u64) -> Result<Vec<FuzzRun>> {
    let sentry = cfg
        .sentry
        .as_ref()
        .context("the fuzz run needs the sentry")?;
    runner::build_cases(&cfg.build_dir)?;
    let rootfs = cfg.rootfs.canonicalize()?;
    let chroot = rootfs != Path::new("/");
    let fuzz_bin = if chroot {
        let dst = rootfs.join("conformance/bin");
        std::fs::create_dir_all(&dst)?;
        let tmp = dst.join(format!(".fuzz.{}.tmp", std::process::id()));
        std::fs::copy(cfg.build_dir.join("bin/fuzz"), &tmp)?;
        std::fs::rename(&tmp, dst.join("fuzz"))?;
        PathBuf::from("/conformance/bin/fuzz")
    } else {
        cfg.build_dir.join("bin/fuzz")
    };
    let mut out = Vec::new();
    for p in platforms {
        let id = format!("{}-{p}", std::process::id());
        // Canaries: outside the fuzzer's work dir (and outside the rootfs when it is not `/`).
        let canary_dir = PathBuf::from(format!("/tmp/conformance-canary-{id}"));
        std::fs::create_dir_all(&canary_dir)?;
        let canaries: Vec<PathBuf> = (0..3)
            .map(|i| canary_dir.join(format!("canary{i}")))
            .collect();
        for (i, c) in canaries.iter().enumerate() {
            std::fs::write(c, format!("canary {i} {seed}\n"))?;
            std::fs::set_permissions(c, std::fs::Permissions::from_mode(0o666))?;
        }
        std::fs::set_permissions(&canary_dir, std::fs::Permissions::from_mode(0o777))?;
        let work_inside = PathBuf::from(format!("/tmp/conformance-fuzz-{id}"));
        let work_host = rootfs.join(work_inside.strip_prefix("/").unwrap_or(&work_inside));
        std::fs::create_dir_all(&work_host)?;
        if is_root() {
            for c in &canaries {
                chown_nobody(c);
            }
            chown_nobody(&canary_dir);
            chown_nobody(&work_host);
        }
        let before: Vec<_> = canaries.iter().map(|c| snapshot(c)).collect();
        let token = runner::run_token(&format!("fuzz-{p}"));
        let mut argv: Vec<String> = Vec::new();
        if is_root() {
            argv.extend(
                [
                    "setpriv",
                    "--reuid=65534",
                    "--regid=65534",
                    "--clear-groups",
                    "--",
                ]
                .iter()
                .map(|s| s.to_string()),
            );
        }
        argv.extend([
            sentry.to_string_lossy().into_owned(),
            "run".into(),
            format!("--platform={p}"),
            rootfs.to_string_lossy().into_owned(),
            fuzz_bin.to_string_lossy().into_owned(),
            count.to_string(),
            seed.to_string(),
        ]);
        // With a real rootfs the canaries are outside it: hand their host paths to the fuzzer so
        // it aims path calls at them. With `/` they are inside the sandbox's view by definition.
        let paths = if chroot {
            canaries
                .iter()
                .map(|c| c.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(":")
        } else {
            String::new()
        };
        let env = vec![
            ("PATH".to_string(), "/usr/bin:/bin".to_string()),
            ("CONFORMANCE_TOKEN".to_string(), token.clone()),
            (
                "CONFORMANCE_TMP".to_string(),
                work_inside.to_string_lossy().into_owned(),
            ),
            ("FUZZ_PATHS".to_string(), paths),
        ];
        let scratch = std::env::temp_dir().join(format!("conformance-fuzz-out-{id}"));
        let timeout = cfg.timeout.max(Duration::from_secs(600));
        let o = exec::run(&argv, &env, &scratch, timeout, Some(&token))?;
        let _ = std::fs::remove_dir_all(&scratch);
        let _ = std::fs::remove_dir_all(&work_host);
        let mut changes = Vec::new();
        for (c, b) in canaries.iter().zip(&before) {
            let a = snapshot(c);
            if a.as_ref() != b.as_ref() {
                changes.push(format!("{}: {:?} -> {:?}", c.display(), b, a));
            }
        }
        let extra: Vec<String> = std::fs::read_dir(&canary_dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with("canary"))
                    .collect()
            })
            .unwrap_or_default();
        if !extra.is_empty() {
            changes.push(format!("new entries in the canary dir: {extra:?}"));
        }
        let _ = std::fs::remove_dir_all(&canary_dir);
        let mut problems = Vec::new();
        match o.ending {
            Ending::Timeout => problems.push(format!("no exit within {}s", timeout.as_secs())),
            Ending::Signal(s) => problems.push(format!("the sentry died by signal {s}")),
            Ending::Exit(125) => problems.push(format!(
                "the sentry failed (exit 125): {}",
                o.stderr.lines().take(3).collect::<Vec<_>>().join(" / ")
            )),
            Ending::Exit(_) => {}
        }
        if !changes.is_empty() {
            problems.push("canary files changed".into());
        }
        if !o.leftover.is_empty() {
            problems.push(format!("{} task(s) left alive", o.leftover.len()));
        }
        let fuzzer_line = o
            .stdout
            .lines()
            .find(|l| l.starts_with("ok ") || l.starts_with("not ok "))
            .map(str::to_string);
        if fuzzer_line.is_none() {
            problems.push("the fuzzer printed no result line".into());
        }
        out.push(FuzzRun {
            platform: p.clone(),
            seed,
            count,
            ending: o.ending,
            fuzzer_line,
            canaries_unchanged: changes.is_empty(),
            canary_changes: changes,
            leftover_tasks: o.leftover.len(),
            pass: problems.is_empty(),
            problems,
        });
    }
    Ok(out)
}

/// A Markdown paragraph about fuzz runs.
pub fn describe(runs: &[FuzzRun]) -> String {
    let mut s = String::new();
    for r in runs {
        s.push_str(&format!(
            "- `{}`: {} syscalls, seed {} (replay: `--fuzz --fuzz-count {} --fuzz-seed {}`): {} — \
             sentry {}, canaries {}, leftover tasks {}{}\n",
            r.platform,
            r.count,
            r.seed,
            r.count,
            r.seed,
            if r.pass { "PASS" } else { "FAIL" },
            r.ending,
            if r.canaries_unchanged {
                "unchanged"
            } else {
                "CHANGED"
            },
            r.leftover_tasks,
            if r.problems.is_empty() {
                String::new()
            } else {
                format!(" ({})", r.problems.join("; "))
            }
        ));
    }
    s
}

//! Building the cases, running them natively and under the sentry, comparing the outputs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::exec::{self, Ending};
use crate::tap;

/// The suite's own directory (`tests/`).
pub fn suite_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The default rootfs of the suite: the static busybox fixture (`build/rootfs/busybox`), built
/// with `rootfs-fixtures/busybox.sh` when it is missing. Native runs are a chroot of it, so the
/// host kernel and the sentry see the same tree.
pub fn default_rootfs() -> Result<PathBuf> {
    let root = test_support::repo_root();
    let dir = root.join("build/rootfs/busybox");
    if !dir.join("bin/busybox").exists() {
        let script = root.join("rootfs-fixtures/busybox.sh");
        let st = std::process::Command::new("bash")
            .arg(&script)
            .arg(&dir)
            .status()
            .with_context(|| format!("running {}", script.display()))?;
        if !st.success() || !dir.join("bin/busybox").exists() {
            bail!("{} did not build {}", script.display(), dir.display());
        }
    }
    Ok(dir)
}

/// Everything a run needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    /// The root filesystem: `/` or a directory (then native runs are a chroot of it).
    pub rootfs: PathBuf,
    /// Platform modes to try under the sentry (each is probed first).
    pub platforms: Vec<String>,
    /// Only cases whose name contains this.
    pub filter: Option<String>,
    /// The sentry binary; None runs natively only.
    pub sentry: Option<PathBuf>,
    /// Where the case binaries are built.
    pub build_dir: PathBuf,
    /// Per-case timeout.
    pub timeout: Duration,
}

/// A case file: `cases/<name>.c` and what it declares.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    /// `// conformance: ns` — about hostname, pids or mounts: native run inside unshare.
    pub namespaced: bool,
    /// `// conformance: netns` — about the network: native run in a network namespace of
    /// its own, which has only `lo` (the case brings it up), as the sandbox's.
    pub own_network: bool,
    /// `// conformance: pts` — about pseudo-terminals: native run in a mount namespace of
    /// its own, where the rootfs's /dev has a devpts instance of its own (see [`PTS_SETUP`]).
    pub pts: bool,
    /// `// conformance: fuzz` — not part of the ordinary run.
    pub fuzz: bool,
    /// `cases/<name>.expect-sentry`: test point number -> the line the sentry must print.
    pub expect_sentry: BTreeMap<u32, String>,
}

/// Reads the case list from `tests/cases/`.
pub fn discover(filter: Option<&str>) -> Result<Vec<Case>> {
    let dir = suite_dir().join("cases");
    let mut cases = Vec::new();
    for e in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = e?.path();
        if path.extension().and_then(|x| x.to_str()) != Some("c") {
            continue;
        }
        let Some(name) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        if let Some(f) = filter {
            if !name.contains(f) {
                continue;
            }
        }
        let src = std::fs::read_to_string(&path)?;
        let directives: Vec<&str> = src
            .lines()
            .filter_map(|l| l.trim().strip_prefix("// conformance:"))
            .flat_map(|d| d.split_whitespace())
            .collect();
        let mut expect_sentry = BTreeMap::new();
        let exp = dir.join(format!("{name}.expect-sentry"));
        if exp.exists() {
            for l in std::fs::read_to_string(&exp)?.lines() {
                if let Some(p) = tap::parse_line(l) {
                    expect_sentry.insert(p.number, p.line);
                }
            }
        }
        cases.push(Case {
            namespaced: directives.contains(&"ns"),
            own_network: directives.contains(&"netns"),
            fuzz: directives.contains(&"fuzz"),
            pts: directives.contains(&"pts"),
            name,
            expect_sentry,
        });
    }
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(cases)
}

/// Builds the case binaries with `tests/build-cases.sh` into `<build_dir>/bin`.
pub fn build_cases(build_dir: &Path) -> Result<()> {
    let script = suite_dir().join("build-cases.sh");
    let st = std::process::Command::new("sh")
        .arg(&script)
        .arg(build_dir)
        .status()
        .with_context(|| format!("running {}", script.display()))?;
    if !st.success() {
        bail!("{} failed: {st}", script.display());
    }
    Ok(())
}

/// The sentry's syscall table (`sentry table`): name -> class.
pub fn read_table(sentry: &Path) -> Option<BTreeMap<String, String>> {
    let out = std::process::Command::new(sentry)
        .arg("table")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let m: BTreeMap<String, String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(n, c)| (n.trim().to_string(), c.trim().to_string()))
        .collect();
    (!m.is_empty()).then_some(m)
}

/// Where a case binary is, seen from inside the rootfs, and where the work dirs go.
struct Layout {
    rootfs: PathBuf,
    chroot: bool,
    bin_dir: PathBuf,
    /// Host path of the per-run scratch directory (inside the rootfs).
    run_host: PathBuf,
    /// The same directory seen from inside the rootfs.
    run_inside: PathBuf,
}

impl Layout {
    fn new(cfg: &Config) -> Result<Self> {
        let rootfs = cfg
            .rootfs
            .canonicalize()
            .with_context(|| format!("rootfs {} does not exist", cfg.rootfs.display()))?;
        let chroot = rootfs != Path::new("/");
        let built = cfg.build_dir.join("bin");
        let bin_dir = if chroot {
            // Copy the static case binaries into the rootfs (`/conformance/bin/<case>`) so the
            // chroot and the sentry see them. Copied to a temporary name and renamed, so a
            // binary still running from an earlier run is never rewritten in place.
            let dst = rootfs.join("conformance/bin");
            std::fs::create_dir_all(&dst)?;
            for e in std::fs::read_dir(&built)? {
                let p = e?.path();
                let Some(n) = p.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                if n.ends_with(".tmp") || !p.is_file() {
                    continue;
                }
                let tmp = dst.join(format!(".{n}.{}.tmp", std::process::id()));
                std::fs::copy(&p, &tmp)
                    .with_context(|| format!("copying {} into the rootfs", p.display()))?;
                std::fs::rename(&tmp, dst.join(n))?;
            }
            PathBuf::from("/conformance/bin")
        } else {
            built
        };
        let leaf = format!("conformance-run-{}", std::process::id());
        let run_inside = Path::new("/tmp").join(&leaf);
        let run_host = rootfs.join("tmp").join(&leaf);
        std::fs::create_dir_all(&run_host)
            .with_context(|| format!("creating {}", run_host.display()))?;
        Ok(Layout {
            rootfs,
            chroot,
            bin_dir,
            run_host,
            run_inside,
        })
    }

    fn case_path(&self, name: &str) -> String {
        self.bin_dir.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for Layout {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.run_host);
    }
}

/// A string no other process carries in its environment: finds the tasks of one run.
pub fn run_token(what: &str) -> String {
    format!("conformance-{}-{what}", std::process::id())
}

fn base_env(work_inside: &Path, token: &str) -> Vec<(String, String)> {
    vec![
        ("CONFORMANCE_TOKEN".into(), token.to_string()),
        ("PATH".into(), "/usr/sbin:/usr/bin:/sbin:/bin".into()),
        ("LC_ALL".into(), "C".into()),
        (
            "CONFORMANCE_TMP".into(),
            work_inside.to_string_lossy().into_owned(),
        ),
    ]
}

/// The native command line of a case: the binary, in a chroot of the rootfs when it is not `/`,
/// inside fresh pid/uts/mount namespaces when the case is about them.
fn native_argv(l: &Layout, case: &Case) -> Vec<String> {
    let mut argv: Vec<String> = Vec::new();
    if case.pts {
        argv.extend(
            [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                PTS_SETUP,
                "sh",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        argv.push(l.rootfs.to_string_lossy().into_owned());
    }
    if case.own_network {
        argv.extend(["unshare", "--net"].iter().map(|s| s.to_string()));
    }
    if case.namespaced {
        argv.extend(
            ["unshare", "--fork", "--pid", "--uts", "--mount"]
                .iter()
                .map(|s| s.to_string()),
        );
        if l.chroot {
            argv.push(format!("--mount-proc={}", l.rootfs.join("proc").display()));
        } else {
            argv.push("--mount-proc".into());
        }
    }
    if l.chroot {
        argv.push("chroot".into());
        argv.push(l.rootfs.to_string_lossy().into_owned());
    }
    argv.push(l.case_path(&case.name));
    argv
}

/// Gives the rootfs `$1` (in the mount namespace of the native run only) /dev/ptmx and a
/// /dev/pts of a new devpts instance, and /dev/tty and /dev/null (a tmpfs on its /dev, unless
/// it is the host's own), then runs the rest of the arguments. The host's /dev/pts is never
/// touched.
const PTS_SETUP: &str = r#"set -e
root=$1; shift
if [ "$root" != / ]; then
    mount -t tmpfs -o mode=755 conformance-dev "$root/dev"
    mkdir "$root/dev/pts"
    for f in tty null ptmx; do touch "$root/dev/$f"; done
    mount --bind /dev/tty "$root/dev/tty"
    mount --bind /dev/null "$root/dev/null"
fi
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
mount --bind "$root/dev/pts/ptmx" "$root/dev/ptmx"
exec "$@""#;

fn sentry_argv(sentry: &Path, platform: &str, l: &Layout, prog: &str) -> Vec<String> {
    vec![
        sentry.to_string_lossy().into_owned(),
        "run".into(),
        format!("--platform={platform}"),
        l.rootfs.to_string_lossy().into_owned(),
        prog.to_string(),
    ]
}

/// Whether `sentry run --platform=P <rootfs> /bin/echo probe` works.
pub fn probe_platform(sentry: &Path, platform: &str, rootfs: &Path, scratch: &Path) -> bool {
    let argv = vec![
        sentry.to_string_lossy().into_owned(),
        "run".into(),
        format!("--platform={platform}"),
        rootfs.to_string_lossy().into_owned(),
        "/bin/echo".into(),
        "probe".into(),
    ];
    let env = vec![("PATH".to_string(), "/usr/bin:/bin".to_string())];
    match exec::run(&argv, &env, scratch, Duration::from_secs(30), None) {
        Ok(o) => o.ending == Ending::Exit(0) && o.stdout.trim() == "probe",
        Err(_) => false,
    }
}

/// One test point's results.
#[derive(Debug, Clone, Serialize)]
pub struct PointResult {
    pub case: String,
    pub number: u32,
    pub syscall: String,
    pub description: String,
    pub native_ok: bool,
    pub native_line: String,
    /// The line the sentry must print (the native one unless the case declares another).
    pub expected_sentry_line: String,
    /// platform -> (pass, the line the sentry printed or "(missing)")
    pub sentry: BTreeMap<String, SentryPoint>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SentryPoint {
    pub pass: bool,
    pub line: String,
    /// The case's diagnostics for the point under the sentry.
    pub diag: String,
}

/// One case file's runs.
#[derive(Debug, Clone, Serialize)]
pub struct CaseRun {
    pub case: String,
    pub namespaced: bool,
    pub native_ending: Ending,
    pub native_plan: Option<u32>,
    /// platform -> ending of the sentry run
    pub sentry_endings: BTreeMap<String, Ending>,
    /// platform -> first lines of the sentry's stderr, when it failed
    pub sentry_stderr: BTreeMap<String, String>,
    /// platform -> tasks left alive after the sentry exited (a bug; they were killed)
    pub sentry_leftover: BTreeMap<String, usize>,
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub rootfs: String,
    pub sentry: Option<String>,
    /// Platform modes run, in order.
    pub platforms: Vec<String>,
    /// Platform modes asked for but not available (with the reason).
    pub unavailable: BTreeMap<String, String>,
    pub table_available: bool,
    pub table: BTreeMap<String, String>,
    pub cases: Vec<CaseRun>,
    pub points: Vec<PointResult>,
}

fn expand_expectation(line: &str, syscall: &str, table: &BTreeMap<String, String>) -> String {
    if !line.contains("{deny}") {
        return line.to_string();
    }
    let errno = table
        .get(syscall)
        .and_then(|c| c.strip_prefix("deny:"))
        .unwrap_or("<not denied in the sentry table>");
    line.replace("{deny}", errno)
}

/// Runs the cases of `cfg` natively and under each available sentry platform.
pub fn run(cfg: &Config, log: &mut dyn FnMut(&str)) -> Result<RunResult> {
    build_cases(&cfg.build_dir)?;
    let cases: Vec<Case> = discover(cfg.filter.as_deref())?
        .into_iter()
        .filter(|c| !c.fuzz)
        .collect();
    let layout = Layout::new(cfg)?;
    let mut platforms = Vec::new();
    let mut unavailable = BTreeMap::new();
    let mut table = BTreeMap::new();
    let mut table_available = false;
    if let Some(s) = &cfg.sentry {
        if let Some(t) = read_table(s) {
            table = t;
            table_available = true;
        }
        for p in &cfg.platforms {
            if probe_platform(
                s,
                p,
                &layout.rootfs,
                &layout.run_host.join(format!("probe-{p}")),
            ) {
                platforms.push(p.clone());
            } else {
                unavailable.insert(
                    p.clone(),
                    format!(
                        "`sentry run --platform={p} {} /bin/echo probe` did not print `probe`",
                        layout.rootfs.display()
                    ),
                );
            }
        }
    }
    let mut case_runs = Vec::new();
    let mut points = Vec::new();
    for case in &cases {
        let work = |mode: &str| {
            let leaf = format!("{}.{mode}", case.name);
            (layout.run_host.join(&leaf), layout.run_inside.join(&leaf))
        };
        let (wh, wi) = work("native");
        let token = run_token(&format!("{}-native", case.name));
        let native = exec::run(
            &native_argv(&layout, case),
            &base_env(&wi, &token),
            &layout.run_host.join(format!("{}.native.out", case.name)),
            cfg.timeout,
            Some(&token),
        )?;
        let _ = std::fs::remove_dir_all(&wh);
        let native_points = tap::parse(&native.stdout);
        let mut run = CaseRun {
            case: case.name.clone(),
            namespaced: case.namespaced,
            native_ending: native.ending,
            native_plan: tap::plan(&native.stdout),
            sentry_endings: BTreeMap::new(),
            sentry_stderr: BTreeMap::new(),
            sentry_leftover: BTreeMap::new(),
        };
        let mut sentry_points = BTreeMap::new();
        if let Some(s) = &cfg.sentry {
            for p in &platforms {
                let (wh, wi) = work(p);
                let token = run_token(&format!("{}-{p}", case.name));
                let o = exec::run(
                    &sentry_argv(s, p, &layout, &layout.case_path(&case.name)),
                    &base_env(&wi, &token),
                    &layout.run_host.join(format!("{}.{p}.out", case.name)),
                    cfg.timeout,
                    Some(&token),
                )?;
                let _ = std::fs::remove_dir_all(&wh);
                run.sentry_endings.insert(p.clone(), o.ending);
                if !o.leftover.is_empty() {
                    run.sentry_leftover.insert(p.clone(), o.leftover.len());
                }
                if o.ending != native.ending {
                    let head: Vec<&str> = o.stderr.lines().take(5).collect();
                    run.sentry_stderr.insert(p.clone(), head.join("\n"));
                }
                sentry_points.insert(p.clone(), tap::parse(&o.stdout));
            }
        }
        let mut pass_count: BTreeMap<&str, usize> = BTreeMap::new();
        for (n, np) in &native_points {
            // A declared line (cases/<case>.expect-sentry) is what the sentry must print by
            // design; it may be a `not ok` line (the case asserts what Linux does, and the
            // sentry refuses on purpose, e.g. mknod of a device). Otherwise the native line,
            // which must be `ok`.
            let declared = case.expect_sentry.get(n);
            let expected = match declared {
                Some(l) => expand_expectation(l, np.syscall(), &table),
                None => np.line.clone(),
            };
            let mut sentry = BTreeMap::new();
            for p in &platforms {
                let got = sentry_points.get(p).and_then(|m| m.get(n));
                let line = got
                    .map(|g| g.line.clone())
                    .unwrap_or_else(|| "(missing)".into());
                let diag = got.map(|g| g.diag.clone()).unwrap_or_default();
                let pass = line == expected && (declared.is_some() || expected.starts_with("ok "));
                if pass {
                    *pass_count.entry(p.as_str()).or_default() += 1;
                }
                sentry.insert(p.clone(), SentryPoint { pass, line, diag });
            }
            points.push(PointResult {
                case: case.name.clone(),
                number: *n,
                syscall: np.syscall().to_string(),
                description: np.description.clone(),
                native_ok: np.ok,
                native_line: np.line.clone(),
                expected_sentry_line: expected,
                sentry,
            });
        }
        let native_ok = native_points.values().filter(|p| p.ok).count();
        let mut msg = format!(
            "{:<12} native {}/{} ({})",
            case.name,
            native_ok,
            native_points.len(),
            native.ending
        );
        for p in &platforms {
            msg.push_str(&format!(
                "  {p} {}/{} ({})",
                pass_count.get(p.as_str()).copied().unwrap_or(0),
                native_points.len(),
                run.sentry_endings[p]
            ));
        }
        log(&msg);
        case_runs.push(run);
    }
    Ok(RunResult {
        rootfs: layout.rootfs.to_string_lossy().into_owned(),
        sentry: cfg
            .sentry
            .as_ref()
            .map(|s| s.to_string_lossy().into_owned()),
        platforms,
        unavailable,
        table_available,
        table,
        cases: case_runs,
        points,
    })
}

impl RunResult {
    /// Cases passing under the sentry in every platform mode that ran (0 when none ran).
    pub fn sentry_pass_count(&self) -> usize {
        if self.platforms.is_empty() {
            return 0;
        }
        self.points
            .iter()
            .filter(|p| {
                self.platforms
                    .iter()
                    .all(|m| p.sentry.get(m).is_some_and(|s| s.pass))
            })
            .count()
    }

    pub fn syscalls(&self) -> BTreeSet<&str> {
        self.points.iter().map(|p| p.syscall.as_str()).collect()
    }

    /// The report's last line.
    pub fn summary_line(&self) -> String {
        format!(
            "conformance: {}/{} cases pass under sentry ({} syscalls)",
            self.sentry_pass_count(),
            self.points.len(),
            self.syscalls().len()
        )
    }

    /// Baseline keys (`platform<TAB>case<TAB>description`) of the points passing under the sentry.
    pub fn passing_keys(&self) -> BTreeSet<String> {
        let mut keys = BTreeSet::new();
        for p in &self.points {
            for (m, s) in &p.sentry {
                if s.pass {
                    keys.insert(baseline_key(m, &p.case, &p.description));
                }
            }
        }
        keys
    }
}

pub fn baseline_key(platform: &str, case: &str, description: &str) -> String {
    format!("{platform}\t{case}\t{description}")
}

/// The committed baseline: points expected to pass under the sentry.
pub fn baseline_path() -> PathBuf {
    suite_dir().join("expected-pass.txt")
}

pub fn read_baseline(path: &Path) -> Result<BTreeSet<String>> {
    if !path.exists() {
        return Ok(BTreeSet::new());
    }
    Ok(std::fs::read_to_string(path)?
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

/// Writes the baseline: every point of `res` that passes, plus the entries of the old baseline
/// for cases `res` did not run (a filtered run keeps the rest).
pub fn write_baseline(path: &Path, res: &RunResult) -> Result<usize> {
    let ran: BTreeSet<&str> = res.cases.iter().map(|c| c.case.as_str()).collect();
    let mut keys: BTreeSet<String> = read_baseline(path)?
        .into_iter()
        .filter(|k| k.split('\t').nth(1).is_some_and(|c| !ran.contains(c)))
        .collect();
    keys.extend(res.passing_keys());
    let mut text = String::from(
        "# Conformance points expected to pass under the sentry: platform<TAB>case<TAB>description.\n\
         # Generated by `cargo run -p tests --release -- --update-baseline`; `cargo test -p tests`\n\
         # fails when one of them stops passing.\n",
    );
    for k in &keys {
        text.push_str(k);
        text.push('\n');
    }
    std::fs::write(path, text)?;
    Ok(keys.len())
}

/// Baseline entries (for cases that ran) that did not pass in `res`.
pub fn regressions(baseline: &BTreeSet<String>, res: &RunResult) -> Vec<String> {
    let ran: BTreeSet<&str> = res.cases.iter().map(|c| c.case.as_str()).collect();
    let passing = res.passing_keys();
    baseline
        .iter()
        .filter(|k| k.split('\t').nth(1).is_some_and(|c| ran.contains(c)))
        .filter(|k| !passing.contains(*k))
        .cloned()
        .collect()
}

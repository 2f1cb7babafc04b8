//! The sentry under test, run in its variants: `--platform=ptrace` and `--platform=seccomp`, as
//! root (the user running the tests) and as uid/gid 65534 through `setpriv` (only when root;
//! otherwise that variant prints why it is skipped).
//!
//! The binary is the one Cargo built for the calling test crate: only that crate sees
//! `CARGO_BIN_EXE_sentry`, so the variants come from the macros [`variants!`],
//! [`invoker_variants!`] and [`variant_tests!`], which expand there.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::fixtures::programs_dir;
use crate::group::run_in_group;
use crate::run::{run_to_end, Run, RUN_DEADLINE};
use crate::scratch::{next_seq, shared_root, Scratch};

/// The four variants of the sentry built for the calling test crate, in the order of
/// [`variant_tests!`].
#[macro_export]
macro_rules! variants {
    () => {
        $crate::Variant::all(::std::env!("CARGO_BIN_EXE_sentry"))
    };
}

/// The two variants (ptrace, seccomp) of the sentry built for the calling test crate that run
/// as the invoking user.
#[macro_export]
macro_rules! invoker_variants {
    () => {
        $crate::Variant::invokers(::std::env!("CARGO_BIN_EXE_sentry"))
    };
}

/// Generates, for each named test function `f(Variant)`, a module `f` with one `#[test]`
/// per variant: `ptrace`, `seccomp`, `ptrace_nobody`, `seccomp_nobody`.
#[macro_export]
macro_rules! variant_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                fn go(i: usize) {
                    let v = $crate::variants!()[i];
                    if v.available() {
                        super::$name(v);
                    }
                }
                #[test]
                fn ptrace() { go(0) }
                #[test]
                fn seccomp() { go(1) }
                #[test]
                fn ptrace_nobody() { go(2) }
                #[test]
                fn seccomp_nobody() { go(3) }
            }
        )*
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    Ptrace,
    Seccomp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum User {
    /// Whoever runs the tests (root in CI).
    Invoker,
    /// uid/gid 65534 with no supplementary groups, through setpriv.
    Nobody,
}

/// One way of running the sentry.
#[derive(Clone, Copy)]
pub struct Variant {
    pub platform: Platform,
    pub user: User,
    /// The sentry binary (`CARGO_BIN_EXE_sentry` of the test crate).
    sentry: &'static str,
}

impl std::fmt::Debug for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Variant")
            .field("platform", &self.platform)
            .field("user", &self.user)
            .finish()
    }
}

/// The platform's name, as `--platform` takes it, and the user when it is not the invoker.
impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = &self.platform_flag()["--platform=".len()..];
        match self.user {
            User::Invoker => f.write_str(name),
            User::Nobody => write!(f, "{name} as uid {}", crate::NOBODY),
        }
    }
}

/// The files a test hands to the sentry, readable and executable by the variant's user.
struct Files {
    sentry: PathBuf,
    programs: PathBuf,
    scratch: PathBuf,
}

static INVOKER_FILES: OnceLock<Files> = OnceLock::new();
static NOBODY_FILES: OnceLock<Files> = OnceLock::new();

/// Whether uid 65534 can execute `path` (every directory on the way searchable).
fn nobody_can_execute(path: &Path) -> bool {
    Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "test",
            "-x",
        ])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn copy_executable(from: &Path, to: &Path) {
    let tmp = to.with_extension("tmp");
    std::fs::copy(from, &tmp)
        .unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), tmp.display()));
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).expect("chmod 755");
    std::fs::rename(&tmp, to).expect("rename into place");
}

/// The result of a finished [`Variant::run_rootfs`].
#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn describe(&self) -> String {
        let tail = |s: &str| {
            let lines: Vec<&str> = s.lines().collect();
            lines[lines.len().saturating_sub(40)..].join("\n")
        };
        format!(
            "exit code {:?}, signal {:?}\n--- stdout (last 40 lines) ---\n{}\n--- stderr (last 40 lines) ---\n{}",
            self.code,
            self.signal,
            tail(&self.stdout),
            tail(&self.stderr)
        )
    }
}

impl Variant {
    /// ptrace and seccomp as the invoker, then as uid 65534.
    pub const fn all(sentry: &'static str) -> [Variant; 4] {
        [
            Variant::new(Platform::Ptrace, User::Invoker, sentry),
            Variant::new(Platform::Seccomp, User::Invoker, sentry),
            Variant::new(Platform::Ptrace, User::Nobody, sentry),
            Variant::new(Platform::Seccomp, User::Nobody, sentry),
        ]
    }

    /// ptrace and seccomp as the invoker.
    pub const fn invokers(sentry: &'static str) -> [Variant; 2] {
        let all = Variant::all(sentry);
        [all[0], all[1]]
    }

    const fn new(platform: Platform, user: User, sentry: &'static str) -> Variant {
        Variant {
            platform,
            user,
            sentry,
        }
    }

    /// False (after printing why) when this variant cannot run here.
    pub fn available(self) -> bool {
        if self.user == User::Nobody && !crate::is_root() {
            println!("skipped: the uid-65534 variant needs root to switch users (setpriv)");
            return false;
        }
        true
    }

    fn files(self) -> &'static Files {
        let programs = programs_dir();
        let sentry = PathBuf::from(self.sentry);
        match self.user {
            User::Invoker => INVOKER_FILES.get_or_init(|| Files {
                sentry,
                programs,
                scratch: shared_root(),
            }),
            User::Nobody => NOBODY_FILES.get_or_init(|| {
                let scratch = shared_root();
                let probe = programs.join("exits");
                if nobody_can_execute(&sentry) && nobody_can_execute(&probe) {
                    return Files {
                        sentry,
                        programs,
                        scratch,
                    };
                }
                // target/ or build/ is not reachable by uid 65534: use copies.
                let bin_dir = scratch.join(format!("bin-{}", std::process::id()));
                std::fs::create_dir_all(&bin_dir).expect("create the copies' directory");
                std::fs::set_permissions(&bin_dir, std::fs::Permissions::from_mode(0o755))
                    .expect("chmod 755");
                copy_executable(&sentry, &bin_dir.join("sentry"));
                for entry in std::fs::read_dir(&programs).expect("read build/programs") {
                    let path = entry.expect("read build/programs").path();
                    let is_program = path.extension().is_none()
                        && path
                            .metadata()
                            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                            .unwrap_or(false);
                    if is_program {
                        copy_executable(&path, &bin_dir.join(path.file_name().expect("a name")));
                    }
                }
                Files {
                    sentry: bin_dir.join("sentry"),
                    programs: bin_dir,
                    scratch,
                }
            }),
        }
    }

    /// The path of test program `name`, as the sandbox (rootfs `/`) sees it.
    pub fn program(self, name: &str) -> String {
        self.files()
            .programs
            .join(name)
            .to_str()
            .expect("UTF-8 path")
            .to_string()
    }

    /// A directory every variant's user can read (mode 755), for files a test creates.
    pub fn scratch(self) -> PathBuf {
        self.files().scratch.clone()
    }

    /// A path in the scratch directory that is this test process's and this variant's
    /// alone: `<name>-<pid>-<platform>-<user>`.
    pub fn scratch_path(self, name: &str) -> PathBuf {
        self.scratch().join(format!(
            "{name}-{}-{:?}-{:?}",
            std::process::id(),
            self.platform,
            self.user
        ))
    }

    pub fn platform_flag(self) -> &'static str {
        match self.platform {
            Platform::Ptrace => "--platform=ptrace",
            Platform::Seccomp => "--platform=seccomp",
        }
    }

    /// `sentry` (through setpriv for the unprivileged variant) with no arguments yet.
    pub fn sentry_command(self) -> Command {
        let files = self.files();
        let mut cmd = match self.user {
            User::Invoker => Command::new(&files.sentry),
            User::Nobody => {
                // setpriv execs the sentry in place: the child's pid is the sentry's.
                let mut c = Command::new("setpriv");
                c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                    .arg(&files.sentry);
                c
            }
        };
        cmd.current_dir("/").stdin(Stdio::null());
        cmd
    }

    /// `sentry run --platform=P OPTIONS... / CMD...`
    pub fn run_command<S: AsRef<OsStr>>(self, options: &[&str], cmd: &[S]) -> Command {
        let mut c = self.sentry_command();
        c.arg("run")
            .arg(self.platform_flag())
            .args(options)
            .arg("/");
        c.args(cmd);
        c
    }

    /// Runs `sentry run` to completion (with the run deadline) and collects its output.
    pub fn run<S: AsRef<OsStr>>(self, options: &[&str], cmd: &[S]) -> Run {
        let c = self.run_command(options, cmd);
        run_to_end(c, RUN_DEADLINE)
    }

    /// The sentry binary itself, for the runs that are made as the invoker only.
    fn invoker_command(self) -> Command {
        assert_eq!(
            self.user,
            User::Invoker,
            "this run is made as the invoking user"
        );
        Command::new(self.sentry)
    }

    /// The invoker's `sentry run --platform=P OPTIONS ROOTFS /bin/sh -c SCRIPT`, which must
    /// succeed; its stdout.
    pub fn sh(self, options: &[&str], rootfs: &Path, script: &str) -> String {
        let out = self
            .invoker_command()
            .args(["run", self.platform_flag()])
            .args(options)
            .arg(rootfs)
            .args(["/bin/sh", "-c", script])
            .output()
            .expect("run the sentry");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The invoker's `sentry run --platform=P OPTIONS ROOTFS CMD...` in its own process group,
    /// stdin from /dev/null, output captured in files of `scratch`, with `deadline`: past it
    /// the group is killed and the test fails. Afterwards no task may be left: tasks carrying
    /// the run's token in their environment (the sentry's own, and the sandbox's through `-e`)
    /// are killed and fail the test. The sentry inherits `inherit`: (our fd, the fd number it
    /// gets it as), as a careless invoker would leave descriptors open.
    pub fn run_rootfs(
        self,
        scratch: &Scratch,
        options: &[&str],
        rootfs: &Path,
        cmd: &[&str],
        deadline: Duration,
        inherit: &[(i32, i32)],
    ) -> Outcome {
        let n = next_seq();
        let value = format!("sentry-test-{}-{n}", std::process::id());
        let token = format!("SENTRY_TEST_TOKEN={value}");
        let mut c = self.invoker_command();
        c.arg("run")
            .arg(self.platform_flag())
            .args(["-e", &token])
            .args(options)
            .arg(rootfs)
            .args(cmd)
            .env("SENTRY_TEST_TOKEN", &value)
            .current_dir("/");
        let inherit: Vec<(i32, i32)> = inherit.to_vec();
        if !inherit.is_empty() {
            // SAFETY: the closure runs in the forked child before exec and calls only dup2(2),
            // which is async-signal-safe; it allocates nothing and touches no lock.
            unsafe {
                c.pre_exec(move || {
                    for (from, to) in &inherit {
                        // dup2 leaves the new descriptor without FD_CLOEXEC: the sentry
                        // inherits it.
                        if libc::dup2(*from, *to) < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                    }
                    Ok(())
                });
            }
        }
        let out = scratch.dir.join(format!("out.{n}"));
        let err = scratch.dir.join(format!("err.{n}"));
        let run =
            run_in_group(c, &out, &err, deadline, Some(&token)).unwrap_or_else(|e| panic!("{e}"));
        let outcome = Outcome {
            code: run.status.code(),
            signal: run.status.signal(),
            stdout: run.stdout,
            stderr: run.stderr,
        };
        let flag = self.platform_flag();
        assert!(
            !run.timed_out,
            "sentry run {cmd:?} ({flag}) did not finish within {deadline:?}: killed\n{}",
            outcome.describe()
        );
        assert!(
            run.leftover.is_empty(),
            "sentry run {cmd:?} ({flag}) left {} task(s) running: {:?}\n{}",
            run.leftover.len(),
            run.leftover,
            outcome.describe()
        );
        outcome
    }
}

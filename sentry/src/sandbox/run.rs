//! Running one sandbox: its gofer, its tables, its first task and the supervisor, from a
//! [`Config`] to the sentry's exit status.

use super::Failure;
use crate::config::{Config, Platform};
use crate::events::Events;
use crate::kernel::watch::Watch;
use crate::kernel::{self, Kernel, Uts};
use crate::supervisor::control::Control;
use crate::supervisor::{Outcome, Supervisor, Termination};
use crate::syscalls;
use platform_ptrace::{spawn, SpawnSpec, Spawned};
use std::ffi::{CString, OsString};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

/// The hidden first argument with which the sentry starts itself as its gofer.
pub const GOFER_ARG: &str = "__gofer";

/// The gofer process's body, with its arguments after the program name and subcommand:
/// its exit status.
pub fn gofer_process(args: Vec<String>) -> u8 {
    // Its name in ps and /proc/<pid>/comm, whether it was exec'd or is a fork; a fork would
    // otherwise show the sentry's command line, the sandbox's command in it.
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, c"sentry-gofer".as_ptr()) };
    retitle(b"sentry-gofer");
    // A root gofer keeps only the capabilities serving files needs.
    if let Err(e) = kernel::creds::confine_gofer() {
        crate::events::stderr_line(format_args!("sentry: gofer: {e}"));
        return super::EXIT_SENTRY_FAILED;
    }
    gofer::process::gofer_status(args)
}

/// Replaces this process's command line (what /proc/<pid>/cmdline and ps show) with
/// `title`, as setproctitle(3) does: the arguments' area is overwritten in place. Only for a
/// process that no longer reads its arguments (std::env::args reads that area).
pub(super) fn retitle(title: &[u8]) {
    let Some(area) = first_stack_area(StackArea::Arguments) else {
        return;
    };
    area.fill(0);
    let n = title.len().min(area.len() - 1);
    area[..n].copy_from_slice(&title[..n]);
}

/// Empties this process's environment, and blanks the area /proc/<pid>/environ shows: for
/// a fork of the sentry that outlives it (the janitor), which needs none of it.
pub(super) fn forget_environment() {
    // SAFETY: called in a single-threaded process; nothing holds a pointer into environ.
    unsafe { libc::clearenv() };
    if let Some(area) = first_stack_area(StackArea::Environment) {
        area.fill(0);
    }
}

#[derive(Clone, Copy)]
enum StackArea {
    Arguments,
    Environment,
}

/// The area of this process's first stack that holds its arguments or environment, as
/// /proc/self/stat gives it: arg_start and arg_end, env_start and env_end are fields 48 to
/// 51 of proc(5). None if unknown or empty.
fn first_stack_area(which: StackArea) -> Option<&'static mut [u8]> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command's name (which may hold spaces and parentheses), from
    // field 3 of proc(5) on.
    let (_, rest) = stat.rsplit_once(')')?;
    let skip = match which {
        StackArea::Arguments => 45,
        StackArea::Environment => 47,
    };
    let fields: Vec<usize> = rest
        .split_whitespace()
        .skip(skip)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    let [start, end] = fields[..] else {
        return None;
    };
    if start == 0 || end <= start {
        return None;
    }
    // SAFETY: the area is mapped and writable for the life of the process (the top of its
    // first stack); no Rust value lives there. The callers overwrite it once, after the
    // last read of the arguments (std::env::args reads that area) or with the environment
    // emptied first.
    Some(unsafe { std::slice::from_raw_parts_mut(start as *mut u8, end - start) })
}

/// Runs a sandbox to its end; the sentry's exit status.
pub fn run(config: Config) -> Result<u8, Failure> {
    let mut prepared = prepare(config, None)?;
    // The sentry exits when the sandbox ends: its janitor removes the scratch directory.
    prepared.scratch.leave_to_janitor();
    prepared.launch(None, |_, _| {})
}

/// A sandbox whose gofer and tables are set up and whose program was found, but whose
/// first task does not exist yet: `run` launches it at once, an OCI `create` on `start`.
pub struct Prepared {
    kernel: Kernel,
    plan: syscalls::exec::Plan,
    argv: Vec<CString>,
    envp: Vec<CString>,
    command: Vec<OsString>,
    rootfs: std::path::PathBuf,
    platform: Platform,
    strace: bool,
    profile: bool,
    notify: bool,
    host_user: Option<crate::config::Ids>,
    policy: syscalls::table::Policy,
    termination: Arc<Termination>,
    watch: Option<Arc<Watch>>,
    needs_watcher: bool,
    publishers: Vec<(super::publish::Publisher, std::path::PathBuf)>,
    scratch: super::Scratch,
    gofer_pid: i32,
    initial_fs: kernel::FsState,
}

/// Sets up a sandbox up to its first task; its scratch directory goes under `scratch_in`
/// (the host's temporary directory when None).
pub fn prepare(config: Config, scratch_in: Option<&std::path::Path>) -> Result<Prepared, Failure> {
    // Before any task exists: the host kernel never writes a core file for the sandbox.
    let core_limit = kernel::creds::pin_core_limit()
        .map_err(|e| Failure::Internal(format!("cannot pin RLIMIT_CORE: {e}")))?;
    let limits = config.limits;
    let events = Arc::new(Events::open(config.events.as_deref()).map_err(Failure::Usage)?);
    // Who the sandbox is inside, and which host ids its processes run as.
    let identity =
        kernel::creds::Identity::new(config.sandbox_user, config.host_user.is_some(), core_limit);
    // The limits and the identity shape the seccomp filter.
    let policy = syscalls::table::Policy::new(&limits, &identity);
    // Before the gofer starts: it and the sandbox inherit the placement.
    pin_cpus(&config.cpus)?;
    let mut scratch = super::Scratch::new(scratch_in)
        .map_err(|e| Failure::Internal(format!("cannot create a scratch directory: {e}")))?;
    let unfilled = super::Unfilled::roots(&scratch).map_err(Failure::Internal)?;
    // Right after the directories exist, so that they are removed however the sentry ends;
    // it fills /sys while the sandbox starts, when it can.
    let sys_by_janitor = scratch.start_janitor(&unfilled);
    let (mounts, gofer_mounts, tmpfs_pool) = super::build_mounts(
        &config.rootfs,
        config.read_only,
        config.mounts,
        &scratch,
        &unfilled,
    )
    .map_err(Failure::Usage)?;
    let exe = std::env::current_exe()
        .map_err(|e| Failure::Internal(format!("cannot find the sentry's executable: {e}")))?;
    let gofer_failed =
        |e: std::io::Error| Failure::Internal(format!("cannot start the gofer: {e}"));
    // The gofer starts while the trees it serves from the root fds it was given are filled,
    // and the sentry makes its own directories and tables: its handshake is read at the end.
    // A sentry with one thread forks it, serving at once; otherwise its fork must exec (the
    // sentry's binary, which loads for a millisecond or two) before it may run code that
    // allocates.
    let starting = if super::single_threaded() {
        gofer::Client::start_forked(gofer_process, &gofer_mounts)
    } else {
        gofer::Client::start(&exe, &[GOFER_ARG], &gofer_mounts)
    }
    .map_err(gofer_failed)?;
    unfilled.fill_dev().map_err(Failure::Internal)?;
    if !sys_by_janitor {
        unfilled.fill_sys().map_err(Failure::Internal)?;
    }
    // The sentry's own directories on the disk: the loopback network's sockets and the
    // /proc files it materializes (both grow with what the sandbox does), each made at its
    // first use (kernel::LazyDir).
    let net_dir = scratch.dir.join("net");
    let proc_dir = scratch.dir.join("procfs");
    // The sentry lists the sandbox's terminals in /dev/pts as they are made.
    let pts = mounts
        .mounts
        .iter()
        .find(|m| m.is_dev)
        .map(|m| m.host_root.join("pts"));
    // Before the sentry starts any thread: every later thread and task inherits it.
    // The OCI sandbox process also writes its state next to the scratch directory.
    confine(
        &gofer_mounts,
        scratch_in.unwrap_or(&scratch.dir),
        pts.as_deref(),
    )?;
    let mut files = starting.finish_unconfirmed().map_err(gofer_failed)?;
    files.set_lookup_cache(config.lookup_cache);
    let gofer_pid = files.pid() as i32;
    // SAFETY: pidfd_open takes plain integers and returns a new fd or -1.
    let gofer_pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, gofer_pid, 0) } as i32;
    let termination = Arc::new(Termination::default());
    termination.set_gofer(gofer_pidfd);
    let mut kernel = Kernel::new(
        Uts {
            hostname: config.hostname.into_bytes(),
            domainname: b"(none)".to_vec(),
        },
        config.net,
        identity,
        mounts,
        Some(files),
    );
    kernel.proc_scratch = kernel::LazyDir::new(proc_dir, 0o777);
    kernel.dir_fd_paths.enabled = config.lookup_cache;
    if config.first_user.is_some() || config.first_caps.is_some() {
        let (ids, groups) = config
            .first_user
            .unwrap_or((config.sandbox_user, Vec::new()));
        let mut creds = kernel::creds::Creds::initial(ids, core_limit);
        creds.groups = groups;
        if let Some([bounding, effective, permitted, inheritable, ambient]) = config.first_caps {
            creds.cap_bounding = bounding;
            creds.cap_effective = effective & permitted;
            creds.cap_permitted = permitted;
            creds.cap_inheritable = inheritable;
            creds.cap_ambient = ambient & permitted & inheritable;
        }
        kernel.first_creds = Some(creds);
    }
    kernel.loopback = kernel::loopback::Loopback::new(net_dir);
    let mut publishers = Vec::new();
    for &(host_port, sandbox_port) in &config.publish {
        publishers.push((
            super::publish::Publisher::bind(host_port, sandbox_port).map_err(Failure::Usage)?,
            kernel
                .loopback
                .path_of(kernel::loopback::Proto::Tcp, sandbox_port),
        ));
    }

    kernel.tmpfs_pool = tmpfs_pool;
    let initial_fs = kernel::FsState {
        root: b"/".to_vec(),
        cwd: kernel::mounts::normalize(config.cwd.as_os_str().as_bytes(), 0),
    };
    kernel.fs.insert(0, initial_fs.clone());
    let watch = (limits.needs_watcher() || limits.accounts_memory())
        .then(|| Watch::new(limits, events.clone()));
    kernel.memory = kernel::memory::MemoryTable::new(limits, watch.clone(), events);

    let envp = config.env;
    let command = config.command;
    // The janitor is on its own before the first task; it fills /sys when the sandbox
    // first looks there, and removes the SysV objects a SIGKILLed sentry leaves.
    if let Some(journal) = scratch.janitor_journal() {
        kernel.ipc.set_journal(journal);
    }
    if let Some(filler) = scratch.janitor_started() {
        let sys = kernel.mount_ns[0]
            .mounts
            .iter()
            .find(|m| m.host_root == unfilled.sys());
        if let Some(sys) = sys {
            kernel.late_fill = Some(kernel::mounts::LateFill::new(
                sys.gofer_index,
                super::SYS_TOP,
                filler,
            ));
        }
    }
    let (plan, found_at) = find_program(&mut kernel, &command[0], &envp)?;
    kernel.init_execfn = Some(found_at);
    let argv = argv_for(&plan, &command).map_err(Failure::Usage)?;
    // The gofer started while all of the above ran: a gofer that failed to is told here.
    if let Some(files) = kernel.files.as_mut() {
        files.confirm().map_err(gofer_failed)?;
    }
    Ok(Prepared {
        kernel,
        plan,
        argv,
        envp,
        command,
        rootfs: config.rootfs,
        platform: config.platform,
        strace: config.strace,
        profile: config.profile,
        notify: config.notify,
        host_user: config.host_user,
        policy,
        termination,
        watch,
        needs_watcher: limits.needs_watcher(),
        publishers,
        scratch,
        gofer_pid,
        initial_fs,
    })
}

impl Prepared {
    /// The host pid of the sandbox's gofer.
    pub fn gofer_pid(&self) -> i32 {
        self.gofer_pid
    }

    /// Starts the first task with the sentry's fds 0-2 as its stdio and supervises the
    /// sandbox to its end, serving `control`'s requests if given; `started` learns the
    /// first task's host pid once it exists, and how to start more processes.
    pub fn launch(
        self,
        control: Option<Arc<Control>>,
        started: impl FnOnce(i32, Starter),
    ) -> Result<u8, Failure> {
        let Prepared {
            mut kernel,
            plan,
            argv,
            envp,
            command,
            rootfs,
            platform,
            strace,
            profile,
            notify,
            host_user,
            policy,
            termination,
            watch,
            needs_watcher,
            publishers,
            mut scratch,
            gofer_pid,
            initial_fs,
        } = self;
        // The user's terminal, if the sentry runs on one, gets its modes back at the end.
        let terminal = super::terminal::TerminalState::save();
        let own_terminal = if super::terminal::on_terminal() {
            let own = super::terminal::OwnTerminal::open()
                .map_err(|e| Failure::Internal(format!("cannot make a terminal: {e}")))?;
            let n = kernel.ptys.register(own.index);
            kernel.ptys.own_master = own.master.try_clone().ok();
            if let Some(dev) = kernel.mount_ns[0].mounts.iter().find(|m| m.is_dev) {
                let _ = std::fs::File::create(dev.host_root.join("pts").join(n.to_string()));
            }
            termination.set_terminal(own.master.as_raw_fd());
            Some(own)
        } else {
            None
        };
        let keys = match &own_terminal {
            Some(own) => Some(
                super::terminal::Keys::new(&own.master)
                    .map_err(|e| Failure::Internal(format!("terminal relay: {e}")))?,
            ),
            None => None,
        };

        start_signal_thread(termination.clone(), keys.clone())?;
        let terminal_output = match &own_terminal {
            Some(own) => Some(
                super::terminal::relay_output(&own.master)
                    .map_err(|e| Failure::Internal(format!("terminal relay: {e}")))?,
            ),
            None => None,
        };
        if let Some(keys) = &keys {
            keys.start_if_foreground();
        }
        // After the signal thread blocked SIGCHLD and the termination signals: threads inherit
        // the mask, and one that let SIGCHLD through would take it from the supervisor.
        let relays = super::publish::Relays::default();
        for (publisher, socket_file) in publishers {
            publisher
                .start(
                    socket_file,
                    kernel.loopback.published.clone(),
                    relays.clone(),
                )
                .map_err(|e| Failure::Internal(format!("--publish: {e}")))?;
        }
        // Asked whether notifying or not, since it reaps the janitor's intermediate child,
        // which must have ended before the sentry is a subreaper: the janitor, its orphan,
        // would become the sentry's child otherwise.
        let sync_wakeup = scratch.sync_wakeup();
        // SAFETY: prctl with integer arguments. Orphans of the sandbox come to the sentry,
        // never to the host's init.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };

        let cookie = platform_ptrace::notify::new_cookie();
        let notifying =
            notify && sync_wakeup.unwrap_or_else(platform_ptrace::notify::sync_wakeup_supported);
        if notify && !notifying {
            tracing::info!(
                "sentry: this kernel has no SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (Linux 6.6): every call the sentry decides stops under ptrace"
            );
        }
        let (notified, unless) = if notifying {
            // Not under strace, which shows each call's result.
            let quiet = platform == Platform::Ptrace && !strace;
            syscalls::filter::notified(policy, quiet)
        } else {
            Default::default()
        };
        let listener_filter = platform_ptrace::notify::listener_filter(cookie, &notified, &unless);
        // A task that meets the sentry often is held to its CPU (kernel::placement); under
        // ptrace, where every call stops, a task that computes makes no calls and is let go
        // as under seccomp. Not under strace, whose own stops would hold every task.
        kernel.holds.enabled = !strace && notifying;
        let seccomp = match platform {
            Platform::Seccomp if !strace => syscalls::filter::compile(policy),
            // Every call stops at the sentry.
            _ => platform_ptrace::seccomp::Filter::allow_list(&[]),
        };
        let rootfs = CString::new(rootfs.as_os_str().as_bytes())
            .map_err(|_| Failure::Usage("rootfs path contains NUL".into()))?;
        let starter = Starter {
            rootfs: rootfs.clone(),
            seccomp: seccomp.clone(),
            listener_filter: listener_filter.clone(),
            credentials: host_user.map(|ids| (ids.uid, ids.gid)),
        };
        let spec = SpawnSpec {
            path: CString::new(command[0].as_bytes())
                .map_err(|_| Failure::Usage("command contains NUL".into()))?,
            exec_fd: Some(plan.file.as_raw_fd()),
            argv,
            envp,
            cwd: rootfs,
            new_process_group: true,
            // No terminal of the sentry's session is the sandbox's to take the foreground of.
            new_session: own_terminal.is_none(),
            // PID 1 of the sandbox reaps its orphans, as init does in a PID namespace.
            child_subreaper: true,
            take_terminal: false,
            terminal: own_terminal.as_ref().map(|t| t.slave.as_raw_fd()),
            stdio: None,
            listener_filter: listener_filter.clone(),
            credentials: starter.credentials,
            seccomp,
        };
        let child = spawn(&spec).map_err(|e| Failure::Internal(e.to_string()))?;
        // The first task has its terminal; the sentry keeps only the master (resized with the
        // user's terminal until the end), so that the relay sees the end of the terminal once
        // the sandbox's processes are gone.
        let _own_master = own_terminal.map(|t| t.master);
        // SAFETY: pidfd_open takes plain integers and returns a new fd or -1.
        let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, child.tid, 0) } as i32;
        termination.set_init(pidfd);
        if let Some(watch) = &watch {
            watch.set_init(child.tid);
            if needs_watcher {
                kernel::limits::start_watcher(watch.clone())
                    .map_err(|e| Failure::Internal(e.to_string()))?;
            }
        }

        kernel.holds.hold_from_start(child.tid);
        kernel.exe.insert(child.tid, plan.program.clone());
        if let Some(view) = plan.loader {
            kernel.loader_views.insert(child.tid, view);
        }
        drop(plan);
        kernel.fs.remove(&0);
        kernel.fs.insert(child.tid, initial_fs);
        started(child.tid, starter);
        let outcome = Supervisor::new(
            kernel,
            strace,
            child,
            cookie,
            gofer_pid,
            termination.clone(),
            notifying.then_some(listener_filter),
        )
        .and_then(|supervisor| supervisor.with_control(control).with_profile(profile).run());
        if let Some(output) = terminal_output {
            // Every process of the sandbox is gone: the relay reads the last output, then EIO.
            let _ = output.join();
        }
        // And the relays of published ports copy what the sandbox last wrote, then see the
        // end of its connections (bounded, should the sentry still hold one of them).
        relays.finish(std::time::Duration::from_secs(2));
        if let (Some(terminal), Some(keys)) = (terminal, keys) {
            if keys.made_raw() {
                terminal.restore();
            }
        }
        if let Some(watch) = &watch {
            kernel::limits::final_event(watch);
            if watch.timed_out() {
                return Ok(124);
            }
        }
        let terminated_by = termination.signal();
        if terminated_by != 0 {
            return Ok((128 + terminated_by) as u8);
        }
        drop(scratch);
        match outcome? {
            Outcome::Status(status) => Ok(status.clamp(0, 255) as u8),
            Outcome::ExecFailed(errno) => {
                let name = command[0].to_string_lossy();
                let failure = if errno == nix::errno::Errno::ENOENT {
                    Failure::NotFound(format!("{name}: {}", errno.desc()))
                } else {
                    Failure::CannotExecute(format!("{name}: {}", errno.desc()))
                };
                Err(failure)
            }
        }
    }
}

/// The argv the program gets: `command` with its first word replaced by the plan's
/// interpreter words (a script's `#!` line), if any.
fn argv_for(plan: &syscalls::exec::Plan, command: &[OsString]) -> Result<Vec<CString>, String> {
    let to_c = |s: &[u8]| {
        CString::new(s.to_vec()).map_err(|_| "arguments must not contain NUL bytes".to_string())
    };
    let mut argv = Vec::new();
    if plan.argv_prefix.is_empty() {
        argv.push(to_c(command[0].as_bytes())?);
    } else {
        for arg in &plan.argv_prefix {
            argv.push(to_c(arg)?);
        }
    }
    for arg in &command[1..] {
        argv.push(to_c(arg.as_bytes())?);
    }
    Ok(argv)
}

/// A process to start in a running sandbox (an OCI exec).
pub struct Process {
    pub args: Vec<OsString>,
    pub env: Vec<CString>,
    /// Its working directory in the sandbox.
    pub cwd: Vec<u8>,
    /// Its identity in the sandbox (uid, gid, supplementary groups); None: the sandbox's.
    pub user: Option<(crate::config::Ids, Vec<u32>)>,
    /// Its stdin, stdout and stderr, unless it gets a terminal.
    pub stdio: Option<[std::os::fd::OwnedFd; 3]>,
    /// It gets a terminal of the sandbox's own; the master goes to this sender.
    pub terminal: Option<std::sync::mpsc::Sender<std::os::fd::OwnedFd>>,
}

/// How later processes of a running sandbox are spawned: under the first task's filters,
/// host identity and host directory.
#[derive(Clone)]
pub struct Starter {
    rootfs: CString,
    seccomp: platform_ptrace::seccomp::Filter,
    listener_filter: platform_ptrace::seccomp::Filter,
    credentials: Option<(u32, u32)>,
}

impl Starter {
    /// The supervisor's request that starts `process`.
    pub fn start(&self, process: Process) -> crate::supervisor::control::Start {
        let starter = self.clone();
        Box::new(move |kernel| starter.spawn_in(kernel, process))
    }

    fn spawn_in(&self, kernel: &mut Kernel, process: Process) -> Result<Spawned, String> {
        let Some(name) = process.args.first() else {
            return Err("no command was given".into());
        };
        // Engines read these words (podman: 127 for a missing program, 126 otherwise).
        let (plan, _) =
            find_program(kernel, name, &process.env).map_err(|failure| match failure {
                Failure::NotFound(t) => format!("exec: {t}: executable file not found"),
                Failure::CannotExecute(t) => format!("exec: {t}: permission denied"),
                other => other.to_string(),
            })?;
        let argv = argv_for(&plan, &process.args)?;
        let terminal = match &process.terminal {
            Some(_) => {
                let own = super::terminal::OwnTerminal::open()
                    .map_err(|e| format!("cannot make a terminal: {e}"))?;
                let n = kernel.ptys.register(own.index);
                if let Some(dev) = kernel.mount_ns[0].mounts.iter().find(|m| m.is_dev) {
                    let _ = std::fs::File::create(dev.host_root.join("pts").join(n.to_string()));
                }
                Some(own)
            }
            None => None,
        };
        let stdio = match (&terminal, &process.stdio) {
            (Some(own), _) => Some([own.slave.as_raw_fd(); 3]),
            (None, Some(fds)) => Some([fds[0].as_raw_fd(), fds[1].as_raw_fd(), fds[2].as_raw_fd()]),
            (None, None) => None,
        };
        let spec = SpawnSpec {
            path: CString::new(name.as_bytes()).map_err(|_| "command contains NUL")?,
            exec_fd: Some(plan.file.as_raw_fd()),
            argv,
            envp: process.env,
            cwd: self.rootfs.clone(),
            new_process_group: true,
            new_session: terminal.is_none(),
            child_subreaper: false,
            take_terminal: false,
            terminal: terminal.as_ref().map(|t| t.slave.as_raw_fd()),
            stdio,
            listener_filter: self.listener_filter.clone(),
            credentials: self.credentials,
            seccomp: self.seccomp.clone(),
        };
        let child = spawn(&spec).map_err(|e| e.to_string())?;
        let tid = child.tid;
        // Its parent is outside the sandbox's PID namespace, as a runc exec's is.
        kernel.add_task(tid, tid, 0, kernel::pid::ROOT_NS);
        kernel.holds.hold_from_start(tid);
        if let Some(task) = kernel.tasks.get_mut(&tid) {
            task.parent_outside = true;
            if let Some((ids, groups)) = &process.user {
                let mut creds = kernel::creds::Creds::initial(*ids, task.creds.core_limit);
                creds.groups = groups.clone();
                task.creds = creds;
            }
        }
        kernel.exe.insert(tid, plan.program.clone());
        if let Some(view) = plan.loader {
            kernel.loader_views.insert(tid, view);
        }
        kernel.fs.insert(
            tid,
            kernel::FsState {
                root: b"/".to_vec(),
                cwd: kernel::mounts::normalize(&process.cwd, 0),
            },
        );
        if let (Some(own), Some(sender)) = (terminal, process.terminal) {
            let _ = sender.send(own.master);
        }
        Ok(child)
    }
}

/// Finds the program as execvp would, inside the sandbox, through the gofer: a name
/// with a slash is a path, otherwise each directory of PATH is tried.
fn find_program(
    kernel: &mut Kernel,
    name: &OsString,
    env: &[CString],
) -> Result<(syscalls::exec::Plan, Vec<u8>), Failure> {
    let display = name.to_string_lossy().into_owned();
    let mut try_path = |path: &[u8]| {
        let mut call = syscalls::Call::new(kernel, 0, ::syscalls::Sysno::execve, [0; 6]);
        syscalls::vfs::across_mounts(&mut call, |call| {
            syscalls::exec::plan(
                call,
                libc::AT_FDCWD as i64 as u64,
                path,
                name.as_bytes(),
                false,
            )
        })
    };
    let failure = |errno: nix::errno::Errno| match errno {
        nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR => {
            Failure::NotFound(format!("{display}: No such file or directory"))
        }
        other => Failure::CannotExecute(format!("{display}: {}", other.desc())),
    };
    if name.as_bytes().contains(&b'/') {
        return try_path(name.as_bytes())
            .map(|plan| (plan, name.as_bytes().to_vec()))
            .map_err(failure);
    }
    if name.is_empty() {
        return Err(Failure::NotFound("'': command not found".into()));
    }
    let path_var = env
        .iter()
        .find_map(|v| v.to_bytes().strip_prefix(b"PATH="))
        .unwrap_or(b"");
    let mut refused = None;
    for dir in path_var.split(|&b| b == b':') {
        let mut candidate = if dir.is_empty() {
            b".".to_vec()
        } else {
            dir.to_vec()
        };
        candidate.push(b'/');
        candidate.extend_from_slice(name.as_bytes());
        match try_path(&candidate) {
            Ok(plan) => return Ok((plan, candidate)),
            Err(nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR) => {}
            Err(e) => refused = refused.or(Some(e)),
        }
    }
    Err(match refused {
        Some(e) => failure(e),
        None => Failure::NotFound(format!("{display}: command not found")),
    })
}

/// Blocks SIGTERM, SIGINT and SIGHUP in the sentry and waits for them on a thread of
/// their own: the first one ends the sandbox (its first process is killed, and the
/// supervisor then kills the rest). SIGTTOU/SIGTTIN are ignored so that the sentry
/// never stops on its terminal. SIGWINCH resizes the sandbox's terminal; SIGCONT (a
/// background job brought to the foreground) starts relaying the user's keys to it.
fn start_signal_thread(
    termination: Arc<Termination>,
    keys: Option<Arc<super::terminal::Keys>>,
) -> Result<(), Failure> {
    // SAFETY: signal-mask and disposition calls on locals; done before any other thread exists.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGHUP,
            libc::SIGWINCH,
            libc::SIGCONT,
        ] {
            libc::sigaddset(&mut set, sig);
        }
        // SIGCHLD is blocked too: the supervisor reads it from a signalfd.
        let mut blocked = set;
        libc::sigaddset(&mut blocked, libc::SIGCHLD);
        libc::pthread_sigmask(libc::SIG_BLOCK, &blocked, std::ptr::null_mut());
        libc::signal(libc::SIGTTOU, libc::SIG_IGN);
        libc::signal(libc::SIGTTIN, libc::SIG_IGN);
        set
    };
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || loop {
            let mut sig = 0;
            // SAFETY: sigwait reads the set we own and writes one int.
            if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
                continue;
            }
            if sig == libc::SIGWINCH {
                // The user's terminal was resized: so is the sandbox's own, if it has one.
                if let Some(master) = termination.terminal() {
                    super::terminal::resize(master);
                }
            } else if sig == libc::SIGCONT {
                if let Some(keys) = &keys {
                    keys.start_if_foreground();
                }
            } else if sig != 0 {
                // The gofer too: a loop waiting on a gofer request (an open a lease holds)
                // then fails that request and sees the signal at once.
                for pidfd in termination.request(sig) {
                    // SAFETY: pidfd_send_signal on a pidfd we own; a pidfd cannot be
                    // redirected to another process by pid reuse.
                    unsafe {
                        libc::syscall(
                            libc::SYS_pidfd_send_signal,
                            pidfd,
                            libc::SIGKILL,
                            0usize,
                            0u32,
                        )
                    };
                }
            }
        })
        .map_err(|e| Failure::Internal(format!("cannot start the signal thread: {e}")))?;
    Ok(())
}

/// Places the sentry (and so its gofer and every task of the sandbox, which inherit it) on
/// the CPUs asked for. A ptrace stop wakes the tracer; on one CPU that is a local context
/// switch, across CPUs an inter-processor wake-up that costs several times more.
fn pin_cpus(spec: &str) -> Result<(), Failure> {
    // SAFETY: cpu_set_t is plain data; the kernel fills it.
    let mut allowed: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: sched_getaffinity writes one cpu_set_t we own.
    if unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut allowed) }
        != 0
    {
        return Ok(());
    }
    // SAFETY: CPU_ISSET reads the set we own.
    let is_allowed =
        |cpu: usize| cpu < libc::CPU_SETSIZE as usize && unsafe { libc::CPU_ISSET(cpu, &allowed) };
    let wanted: Vec<usize> = match spec {
        "all" => return Ok(()),
        "one" => {
            // SAFETY: sched_getcpu takes no arguments.
            let current = unsafe { libc::sched_getcpu() };
            let cpu = usize::try_from(current).ok().filter(|&c| is_allowed(c));
            match cpu.or_else(|| (0..libc::CPU_SETSIZE as usize).find(|&c| is_allowed(c))) {
                Some(cpu) => vec![cpu],
                None => return Ok(()),
            }
        }
        list => parse_cpu_list(list).ok_or_else(|| {
            Failure::Usage(format!(
                "--cpus '{list}': expected one, all, or a list such as 0,2-3"
            ))
        })?,
    };
    // SAFETY: cpu_set_t is plain data; zeroed is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in &wanted {
        if !is_allowed(cpu) {
            return Err(Failure::Usage(format!(
                "--cpus: CPU {cpu} is not available to the sentry"
            )));
        }
        // SAFETY: CPU_SET writes the set we own; cpu < CPU_SETSIZE was checked.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: sched_setaffinity reads one cpu_set_t we own.
    if unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) } != 0 {
        return Err(Failure::Usage(format!(
            "--cpus '{spec}': {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// `0,2-3` → [0, 2, 3].
fn parse_cpu_list(list: &str) -> Option<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in list.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if a > b || b >= libc::CPU_SETSIZE as usize {
                    return None;
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(
                part.trim()
                    .parse()
                    .ok()
                    .filter(|&c| c < libc::CPU_SETSIZE as usize)?,
            ),
        }
    }
    (!cpus.is_empty()).then_some(cpus)
}

/// Confines the sentry's own file access to what serving the sandbox needs (see
/// `confine`), and checks it: the host's `/` must then be out of reach, unless a mount
/// source is `/` itself. `pts`: the directory behind the sandbox's /dev/pts, which the
/// sentry writes although the sandbox's /dev is read-only.
fn confine(
    gofer_mounts: &[gofer::Mount],
    scratch: &std::path::Path,
    pts: Option<&std::path::Path>,
) -> Result<(), Failure> {
    let mut sources: Vec<(std::path::PathBuf, bool)> = gofer_mounts
        .iter()
        .map(|m| (m.host_path.clone(), m.read_only))
        .collect();
    sources.extend(pts.map(|p| (p.to_path_buf(), false)));
    let confined = super::confine::restrict(&sources, scratch)
        .map_err(|e| Failure::Internal(format!("cannot confine the sentry: {e}")))?;
    let root = std::fs::read_dir("/").map(drop);
    match (confined, root) {
        (super::confine::Confined::Not, _) => tracing::info!(
            "sentry: this kernel has no Landlock: the sentry's own file access is not confined"
        ),
        (how, Ok(())) => tracing::debug!(
            "sentry: confined by Landlock ({how:?}); the host's / stays readable (a mount source holds it)"
        ),
        (how, Err(e)) => tracing::debug!(
            "sentry: confined by Landlock ({how:?}); listing the host's / fails: {}",
            e.raw_os_error().map_or("?".into(), |n| format!("{:?}", nix::errno::Errno::from_raw(n)))
        ),
    }
    Ok(())
}

//! The tracer's loop: wait for a stop, decide, resume. Owns the kernel tables.

mod alone;
pub mod control;
mod ctty;
mod exits;
mod install;
mod notified;
mod path_fd;
mod profile;
mod signal_wait;

use crate::kernel::{self, Kernel};
use crate::strace;
use crate::syscalls::table::Class;
use crate::syscalls::{self, exec, Action, Call, ExitHook, Pending};
use ::syscalls::Sysno;
use hashbrown::HashMap;
use install::{Abandoned, Awaited};
use nix::errno::Errno;
use platform_ptrace::notify::{Listener, Request};
use platform_ptrace::{
    wait, wait_nohang, Event, Resume, Spawned, Stop, Stopped, SyscallArch, SyscallInfo, Tid, Waited,
};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

/// What stops the supervisor: the platform failed, or the sentry could not set up what it
/// drives. A call a task makes never does: its errors are the task's, as errnos.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Platform(#[from] platform_ptrace::Error),
    #[error("{what}: {source}")]
    Host {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Setup(&'static str),
}

impl Error {
    pub fn host(what: &'static str, source: impl Into<std::io::Error>) -> Self {
        Error::Host {
            what,
            source: source.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A request to end the sandbox from outside (SIGTERM, SIGINT, SIGHUP to the sentry), shared
/// by the thread that receives those signals and the supervisor.
#[derive(Debug)]
pub struct Termination {
    /// The signal that asked for the end; 0 if none.
    signal: AtomicI32,
    /// pidfds of the sandbox's first process and of the gofer, killed at once on a request.
    init_pidfd: AtomicI32,
    gofer_pidfd: AtomicI32,
    /// The master of the sandbox's own terminal, resized with the user's (-1: none).
    terminal: AtomicI32,
}

impl Default for Termination {
    fn default() -> Self {
        Termination {
            signal: AtomicI32::new(0),
            init_pidfd: AtomicI32::new(-1),
            gofer_pidfd: AtomicI32::new(-1),
            terminal: AtomicI32::new(-1),
        }
    }
}

impl Termination {
    pub fn set_init(&self, pidfd: i32) {
        self.init_pidfd.store(pidfd, Ordering::SeqCst);
    }

    pub fn set_gofer(&self, pidfd: i32) {
        self.gofer_pidfd.store(pidfd, Ordering::SeqCst);
    }

    pub fn set_terminal(&self, master: i32) {
        self.terminal.store(master, Ordering::SeqCst);
    }

    /// The master of the sandbox's own terminal, if it has one.
    pub fn terminal(&self) -> Option<i32> {
        Some(self.terminal.load(Ordering::SeqCst)).filter(|&fd| fd >= 0)
    }

    /// Records `sig` (the first one wins); the pidfds to kill now.
    pub fn request(&self, sig: i32) -> impl Iterator<Item = i32> {
        let _ = self
            .signal
            .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
        [
            self.init_pidfd.load(Ordering::SeqCst),
            self.gofer_pidfd.load(Ordering::SeqCst),
        ]
        .into_iter()
        .filter(|&fd| fd >= 0)
    }

    /// The signal that asked for the end; 0 if none.
    pub fn signal(&self) -> i32 {
        self.signal.load(Ordering::SeqCst)
    }
}

/// How the sandbox ended, as an exit status for the sentry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The first process exited with this status or died of a signal (128+N).
    Status(i32),
    /// The first process's execve failed before the program ran.
    ExecFailed(nix::errno::Errno),
}

pub struct Supervisor {
    kernel: Kernel,
    strace: bool,
    /// `--profile`: each call's handler time.
    profile: Option<profile::Profile>,
    init: Spawned,
    init_execed: bool,
    outcome: Option<Outcome>,
    /// New tasks whose first stop came before their parent's clone event: held
    /// stopped until the sentry has their entry in its tables.
    early: HashMap<Tid, Stopped>,
    /// The call each task is in, between its entry and exit stops, when its exit matters.
    pending: HashMap<Tid, Pending>,
    /// An end asked for from outside.
    termination: std::sync::Arc<Termination>,
    terminating: bool,
    /// The gofer process: if it dies, the sandbox cannot go on.
    gofer_pid: Tid,
    /// The tracer's end of the fd-install filter, which also notifies the calls the sentry
    /// answers whole when `notifying`: the first task's, then one for each process started
    /// through `control` (each has a filter of its own).
    listeners: Vec<Listener>,
    /// The listener of each task whose calls do not come on the first one.
    listener_of: HashMap<Tid, usize>,
    cookie: platform_ptrace::notify::Cookie,
    /// Requests from outside the loop (the OCI runtime's control socket), if any.
    control: Option<std::sync::Arc<control::Control>>,
    /// Every task is to stay stopped (`pause`, or the CPU throttle): stops are parked
    /// until the thaw.
    paused: bool,
    throttled: bool,
    parked: std::collections::VecDeque<(Stopped, Stop)>,
    /// While freezing: the tasks not stopped yet, and who waits for them all.
    freezing: Option<(hashbrown::HashSet<Tid>, std::sync::mpsc::Sender<()>)>,
    /// Processes started through `control`, until their first exec.
    fresh: HashMap<Tid, control::Fresh>,
    /// Who learns when a process started through `control` ends.
    process_events: HashMap<Tid, std::sync::mpsc::Sender<control::ProcessEvent>>,
    notifying: bool,
    /// The listener's filter when it notifies calls: tells, at a signal-delivery stop,
    /// whether the interrupted call was waiting for its notification's answer.
    notify_filter: Option<platform_ptrace::seccomp::Filter>,
    /// Calls that came as notifications, and ptrace stops of calls (for `--log debug`).
    notified_calls: u64,
    stopped_calls: u64,
    /// Fds to hand to tasks that were resumed into their install request.
    awaiting_install: HashMap<Tid, Awaited>,
    /// Opens that may wait (FIFOs) finish on threads of their own and report here, with
    /// the token of their `Awaited`; `opened_wake` (an eventfd) wakes the loop.
    opened_tx: std::sync::mpsc::Sender<(u64, Result<OwnedFd, nix::errno::Errno>)>,
    opened_rx: std::sync::mpsc::Receiver<(u64, Result<OwnedFd, nix::errno::Errno>)>,
    opened_wake: std::sync::Arc<OwnedFd>,
    next_token: u64,
    /// A FIFO open still running for a task whose wait a signal interrupted: the task
    /// comes back to the same open (a restart) and waits for it again, or makes any other
    /// call (the open failed with EINTR) and the open is cancelled.
    abandoned: HashMap<Tid, Abandoned>,
    /// A signalfd for SIGCHLD, to wait for stops and install requests at once.
    sigchld: OwnedFd,
    /// A SIGCHLD came since the last wait that found nothing.
    reap_pending: bool,
    /// Events collected with the one being served, served before the next wait: one wait
    /// takes every task that has an event, so that a task that stops again at once (a thread
    /// looping on a call) cannot take every wait from the others (the kernel returns the
    /// newest tracee first).
    waited: std::collections::VecDeque<Event>,
    /// Notified calls of a process one of whose threads is in an exec the sentry is making
    /// (its page of path and argv mapped, not yet sealed): answered once the exec is over,
    /// as if the exec had run without a pause. The exec then wins its race with the
    /// process's other threads as it would in Linux, where nothing pauses it.
    held_during_exec: Vec<platform_ptrace::notify::Request>,
    /// Tasks taking the terminal they opened as their controlling one (see `ctty`).
    terminal_steps: HashMap<Tid, ctty::Step>,
    /// Tasks receiving the O_PATH fd of their open (see `path_fd`).
    path_steps: HashMap<Tid, path_fd::PathInstall>,
    /// Tasks whose rt_sigtimedwait or signalfd read ends at the delivery of the signal that
    /// interrupted it (see `signal_wait`).
    signal_waits: HashMap<Tid, signal_wait::Armed>,
    /// What the loop polls, refilled each time (kept: one allocation, not one a call).
    pollfds: Vec<libc::pollfd>,
    /// Calls running with a host id in their caller's memory, by caller (see `alone`), and
    /// the caller each task sharing that memory is held for.
    alone: HashMap<Tid, alone::AloneCall>,
    held_for: HashMap<Tid, Tid>,
    /// Tasks waiting in the kernel for their vfork child to exec or exit (from the vfork
    /// event to the vfork-done stop): no stop of theirs can come meanwhile.
    vfork_waiting: hashbrown::HashSet<Tid>,
}

impl Drop for Supervisor {
    /// The sandbox's SysV IPC objects do not outlive it, however it ends.
    fn drop(&mut self) {
        for (kind, id) in self.kernel.ipc.take_all() {
            kernel::ipc::remove_from_host(kind, id);
        }
    }
}

/// What the loop does next.
enum Next {
    Event(Event),
    /// Something other than a stop was handled; look again.
    Again,
    /// No task is left.
    Done,
}

const X32_SYSCALL_BIT: u64 = 0x4000_0000;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;

impl Supervisor {
    pub fn new(
        mut kernel: Kernel,
        strace: bool,
        mut init: Spawned,
        cookie: platform_ptrace::notify::Cookie,
        gofer_pid: Tid,
        termination: std::sync::Arc<Termination>,
        notify_filter: Option<platform_ptrace::seccomp::Filter>,
    ) -> Result<Self> {
        let notifying = notify_filter.is_some();
        kernel.init_tid = init.tid;
        kernel.add_task(init.tid, init.tid, 0, crate::kernel::pid::ROOT_NS);
        if let Some(task) = kernel.tasks.get_mut(&init.tid) {
            // Spawned a child subreaper: orphans of the sandbox come to it.
            task.subreaper = true;
        }
        let listener = init
            .listener
            .take()
            .ok_or(Error::Setup("the first task sent no seccomp listener"))?;
        let listener = Listener::new(listener, cookie);
        if notifying {
            listener
                .set_sync_wakeup()
                .map_err(|e| Error::host("SECCOMP_IOCTL_NOTIF_SET_FLAGS", e))?;
        }
        let (opened_tx, opened_rx) = std::sync::mpsc::channel();
        // SAFETY: eventfd takes plain integers and returns a new fd or -1.
        let wake = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if wake < 0 {
            return Err(Error::host("eventfd", std::io::Error::last_os_error()));
        }
        Ok(Supervisor {
            gofer_pid,
            listeners: vec![listener],
            listener_of: HashMap::new(),
            cookie,
            control: None,
            paused: false,
            throttled: false,
            parked: Default::default(),
            freezing: None,
            fresh: HashMap::new(),
            process_events: HashMap::new(),
            notifying,
            notify_filter,
            notified_calls: 0,
            stopped_calls: 0,
            awaiting_install: HashMap::new(),
            opened_tx,
            opened_rx,
            // SAFETY: the fd was just created and is ours alone.
            opened_wake: std::sync::Arc::new(unsafe { OwnedFd::from_raw_fd(wake) }),
            next_token: 0,
            abandoned: HashMap::new(),
            sigchld: sigchld_fd()?,
            reap_pending: true,
            waited: Default::default(),
            held_during_exec: Vec::new(),
            terminal_steps: HashMap::new(),
            path_steps: HashMap::new(),
            signal_waits: HashMap::new(),
            pollfds: Vec::new(),
            alone: HashMap::new(),
            held_for: HashMap::new(),
            vfork_waiting: hashbrown::HashSet::new(),
            kernel,
            strace,
            profile: None,
            init,
            init_execed: false,
            outcome: None,
            early: HashMap::new(),
            pending: HashMap::new(),
            termination,
            terminating: false,
        })
    }

    /// Serves `control`'s requests too while the sandbox runs.
    pub fn with_control(mut self, control: Option<std::sync::Arc<control::Control>>) -> Self {
        self.control = control;
        self
    }

    /// Times each call's handler, and reports the times on stderr at the end (`--profile`).
    pub fn with_profile(mut self, on: bool) -> Self {
        self.profile = on.then(profile::Profile::default);
        self
    }

    /// Runs until every task of the sandbox is gone.
    pub fn run(mut self) -> Result<Outcome> {
        loop {
            if self.termination.signal() != 0 && !self.terminating {
                self.kill_all();
            }
            let thawed = if self.frozen() {
                None
            } else {
                self.parked.pop_front()
            };
            let event = match thawed {
                Some((stopped, stop)) => Event::Stopped(stopped, stop),
                None => match self.next()? {
                    Next::Event(event) => event,
                    Next::Again => continue,
                    Next::Done => break,
                },
            };
            match event {
                Event::Stopped(stopped, stop) if self.frozen() && !self.terminating => {
                    self.freeze_progress(Some(stopped.tid()));
                    self.parked.push_back((stopped, stop));
                }
                Event::Stopped(stopped, stop) => {
                    let Some((stopped, stop)) = self.hold_if_sharer(stopped, stop) else {
                        continue;
                    };
                    if let Err(e) = self.on_stop(stopped, stop) {
                        // A task killed (SIGKILL) while stopped answers ESRCH to every ptrace
                        // request; its exit event follows. Anything else is the sentry's fault.
                        if !task_vanished(&e) {
                            return Err(e);
                        }
                        tracing::debug!(target: "sentry::stops", "a task vanished: {e}");
                    }
                }
                Event::Exited { tid, code } => {
                    self.kernel.task_ended(tid, None);
                    self.on_exit(tid, Outcome::Status(code))
                }
                // The sentry's own status for the first process is 128+N, as a shell shows a
                // death by signal N, core or not; the sandbox's waits see the core bit.
                Event::Killed { tid, signal, .. } => {
                    self.kernel.task_ended(tid, Some(signal));
                    self.on_exit(tid, Outcome::Status(128 + signal))
                }
            }
            // Events already collected belong to tasks that are stopped until served (a
            // child's first stop can be collected after its parent died): the loop ends only
            // once they are, or those tasks would wait for ever and the sentry with them.
            if self.outcome.is_some()
                && self.kernel.tasks.is_empty()
                && self.early.is_empty()
                && self.waited.is_empty()
            {
                break;
            }
        }
        if let Some(profile) = &self.profile {
            eprint!("{}", profile.report());
        }
        tracing::debug!(
            target: "sentry::stats",
            "sentry: {} calls came as notifications, {} as ptrace stops",
            self.notified_calls,
            self.stopped_calls
        );
        // Every task is gone: let the gofer go (it exits when its socket closes), then
        // collect anything still reported (none is expected; late tasks are killed).
        if let Some(files) = self.kernel.files.take() {
            let _ = files.shutdown();
        }
        self.terminating = true;
        let parked = self.parked.drain(..).map(|(stopped, _)| stopped);
        let collected = self.waited.drain(..).filter_map(|event| match event {
            Event::Stopped(stopped, _) => Some(stopped),
            _ => None,
        });
        for stopped in parked.chain(collected).collect::<Vec<_>>() {
            // SAFETY: kill takes plain integers; `stopped` is our tracee, not yet reaped.
            unsafe { libc::kill(stopped.tid(), libc::SIGKILL) };
            let _ = stopped.resume(Resume::Continue, 0);
        }
        loop {
            match wait() {
                Ok(Some(Event::Stopped(stopped, _))) => {
                    // SAFETY: kill takes plain integers; `stopped` is our tracee.
                    unsafe { libc::kill(stopped.tid(), libc::SIGKILL) };
                    let _ = stopped.resume(Resume::Continue, 0);
                }
                Ok(Some(_)) => {}
                Err(platform_ptrace::Error::Wait(nix::errno::Errno::EINTR)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        Ok(self.outcome.unwrap_or(Outcome::Status(125)))
    }

    /// The next stop; notified calls, and install requests while tasks wait for an fd,
    /// are served too.
    fn next(&mut self) -> Result<Next> {
        if !self.held_during_exec.is_empty() {
            self.release_held_calls();
        }
        if let Some(event) = self.waited.pop_front() {
            return Ok(Next::Event(event));
        }
        if self.awaiting_install.is_empty() && !self.notifying && self.control.is_none() {
            self.reap_pending = true;
            return match wait() {
                Ok(Some(event)) => {
                    self.collect_waiting();
                    Ok(Next::Event(event))
                }
                Ok(None) => Ok(Next::Done),
                Err(platform_ptrace::Error::Wait(nix::errno::Errno::EINTR)) => Ok(Next::Again),
                Err(e) => vanished(e.into()),
            };
        }
        // Stops and exits are looked for only after a SIGCHLD (every ptrace stop and every
        // exit of a tracee raises one), until none is left: a notified call costs no wait.
        // While stops are pending the poll does not block, but it is made all the same:
        // a task that stops again as soon as it is resumed (a loop of calls that stop) would
        // otherwise keep the sentry in waits while the notified calls of others wait.
        let pollfd = |fd: std::os::fd::RawFd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SIGCHLD, finished opens, control requests, then each listener. An open finishes
        // only while a task waits for one (or was interrupted in one): left out otherwise,
        // as each fd polled costs every notified call. A result that comes meanwhile
        // leaves the eventfd readable for the next poll that has it.
        let opens_running = !self.awaiting_install.is_empty() || !self.abandoned.is_empty();
        let mut fds = std::mem::take(&mut self.pollfds);
        fds.clear();
        fds.extend([
            pollfd(self.sigchld.as_raw_fd()),
            pollfd(if opens_running {
                self.opened_wake.as_raw_fd()
            } else {
                -1
            }),
            pollfd(self.control.as_ref().map_or(-1, |c| c.fd())),
        ]);
        // A listener no task uses any more is left out: poll would report its POLLHUP at
        // once, and the loop would spin on the CPU that the last task, still exiting, is
        // held to.
        fds.extend(self.listeners.iter().map(|l| match l.unused() {
            true => pollfd(-1),
            false => pollfd(l.fd().as_raw_fd()),
        }));
        // Tasks held to the sentry's CPU are let go once they stop no more (see
        // kernel::placement): the poll wakes for that if nothing else comes.
        let timeout = match self.kernel.holds.let_go_idle() {
            _ if self.reap_pending => 0,
            Some(due) => due.as_millis().max(1) as i32,
            None => -1,
        };
        // SAFETY: poll reads and writes the pollfds we own.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if rc > 0 {
            let ready = |i: usize| fds[i].revents & libc::POLLIN != 0;
            if ready(0) {
                drain(&self.sigchld);
                self.reap_pending = true;
            }
            if ready(1) {
                drain(&self.opened_wake);
                self.serve_opened();
            }
            if ready(2) {
                self.serve_control();
            }
            for index in 0..self.listeners.len().min(fds.len() - 3) {
                if ready(3 + index) {
                    self.serve_install_request(index);
                } else if fds[3 + index].revents & libc::POLLHUP != 0 {
                    self.listeners[index].set_unused();
                }
            }
        }
        self.pollfds = fds;
        if self.reap_pending {
            let waited = match wait_nohang() {
                Ok(waited) => waited,
                Err(e) => return vanished(e.into()),
            };
            match waited {
                Waited::Event(event) => {
                    self.collect_waiting();
                    return Ok(Next::Event(event));
                }
                Waited::NoChildren => return Ok(Next::Done),
                Waited::Nothing => self.reap_pending = false,
            }
        }
        Ok(Next::Again)
    }

    /// Takes the events every other task has now, to be served in turn before the next wait.
    fn collect_waiting(&mut self) {
        while let Ok(Waited::Event(event)) = wait_nohang() {
            self.waited.push_back(event);
        }
    }

    /// A SIGSYS from the filter's trap for a call through another ABI (`int 0x80`, x32):
    /// reported as a denied call, made to return ENOSYS. False for any other SIGSYS (one the
    /// program's own filter or a kill raised), which is delivered.
    fn foreign_abi_call(&mut self, stopped: &Stopped) -> Result<bool> {
        const SYS_SECCOMP: i32 = 1;
        let Ok(info) = stopped.siginfo() else {
            return Ok(false);
        };
        let word = |at: usize| i32::from_ne_bytes(info[at..at + 4].try_into().expect("4 bytes"));
        // siginfo: errno at 4, code at 8; for SIGSYS, the call's number at 24 and arch at 28.
        let ours =
            word(8) == SYS_SECCOMP && word(4) as u32 == platform_ptrace::seccomp::FOREIGN_ABI;
        if !ours {
            return Ok(false);
        }
        let (nr, arch) = (word(24) as u32 as u64, word(28) as u32);
        let what = if arch == AUDIT_ARCH_I386 {
            "int 0x80"
        } else if nr & X32_SYSCALL_BIT != 0 {
            "the x32 ABI"
        } else {
            "a foreign ABI"
        };
        syscalls::foreign_abi_event(&mut self.kernel, stopped.tid(), what, nr);
        let mut regs = stopped.regs()?;
        regs.set_ret(-((Errno::ENOSYS as i32) as i64));
        stopped.set_regs(&regs)?;
        Ok(true)
    }

    /// The listener on which `tid`'s notifications come.
    fn listener(&self, tid: Tid) -> &Listener {
        &self.listeners[self.listener_of.get(&tid).copied().unwrap_or(0)]
    }

    /// The resume request after a stop that needs nothing more.
    fn steady(&self) -> Resume {
        // Calls stop through the seccomp filter (SECCOMP_RET_TRACE) in both platforms; a
        // syscall-exit-stop is asked for only where one is needed (PTRACE_SYSCALL).
        Resume::Continue
    }

    fn on_stop(&mut self, stopped: Stopped, stop: Stop) -> Result<()> {
        self.kernel.holds.exchanged(stopped.tid());
        let tid = stopped.tid();
        tracing::trace!(target: "sentry::stops", "stop of {tid}: {stop:?}");
        if self.terminating {
            // SAFETY: kill takes plain integers; `tid` is our stopped tracee.
            unsafe { libc::kill(tid, libc::SIGKILL) };
            return Ok(stopped.resume(Resume::Continue, 0)?);
        }
        if !self.kernel.tasks.contains_key(&tid) {
            if let Stop::Trap = stop {
                self.early.insert(tid, stopped);
                return Ok(());
            }
            // A task the sentry has not seen created: adopt it into its thread group.
            self.adopt(tid);
        }
        // A task in the middle of a call that needs its exit stop keeps stopping at
        // syscall exits (in seccomp mode only such tasks do) whatever stop comes between.
        let in_call = self.pending.contains_key(&tid) || self.path_steps.contains_key(&tid);
        if matches!(stop, Stop::Trap | Stop::GroupStop(_) | Stop::Signal(_)) {
            self.terminal_at_stop(&stopped)?;
        }
        let steady = if in_call {
            Resume::Syscall
        } else {
            self.steady()
        };
        match stop {
            Stop::SyscallEntry(info) => self.on_syscall(stopped, info, false)?,
            Stop::Seccomp(info) => {
                self.stopped_calls += 1;
                self.on_syscall(stopped, info, true)?
            }
            Stop::SyscallExit { rval } => {
                if let Some(mut pending) = self.pending.remove(&tid) {
                    if let Some(state) = pending.exec.take() {
                        self.forget_install(tid);
                        let next = match exec::at_exit(&*self.kernel.mem, &stopped, state, rval)? {
                            exec::Step::Continue(state) => Some((state, Resume::Syscall)),
                            exec::Step::ToSeccompStop(state) => Some((state, Resume::Continue)),
                            exec::Step::Failed | exec::Step::Done => None,
                        };
                        if let Some((state, how)) = next {
                            pending.exec = Some(state);
                            if self.kernel.tasks.contains_key(&tid) {
                                self.pending.insert(tid, pending);
                            }
                            return Ok(stopped.resume(how, 0)?);
                        }
                    }
                    let mut rval = rval;
                    if let Some(ExitHook::Ready { fd, then }) = pending.hook {
                        if let Some(original) = pending.restore_on_restart.take() {
                            match self.after_wait(&stopped, original, fd, then, rval)? {
                                None => return Ok(stopped.resume(self.steady(), 0)?),
                                Some(result) => rval = result,
                            }
                            pending.hook = None;
                        }
                    }
                    if let (Some(hook @ ExitHook::SignalWait { .. }), Some(original)) =
                        (pending.hook, &pending.restore_on_restart)
                    {
                        let line = &mut pending.strace_line;
                        rval = self.signal_wait_at_exit(
                            tid,
                            hook,
                            original,
                            line,
                            pending.class,
                            rval,
                        );
                        pending.hook = None;
                    }
                    if let Some(mut regs) = pending.restore_on_restart.take() {
                        // The task gets its own argument registers back, whatever the sentry
                        // put there for the kernel (host ids, another call's arguments): the
                        // kernel preserves them across a call, and compiled code relies on it.
                        // On a restart code the kernel re-runs the original call.
                        regs.set_ret(rval);
                        stopped.set_regs(&regs)?;
                    }
                    if let Some(mut regs) = pending.restore.take() {
                        // Back to the task's own registers and call. On a restart code
                        // (ERESTART*) the kernel re-runs the original call or fails it
                        // with EINTR, as if the sentry had never rewritten it. Only an
                        // open that waits (a FIFO's) may fail so: any other fd was ready,
                        // and Linux would have finished the call before the signal.
                        let waits = self
                            .awaiting_install
                            .get(&tid)
                            .is_some_and(|a| a.key.is_some());
                        self.forget_install(tid);
                        // ERESTARTSYS, and ERESTARTNOINTR: restarted whatever SA_RESTART says.
                        let interrupted = rval == -syscalls::sys_signal::ERESTARTSYS;
                        regs.set_ret(if interrupted && !waits {
                            -syscalls::sys_signal::ERESTARTNOINTR
                        } else {
                            rval
                        });
                        stopped.set_regs(&regs)?;
                    }
                    self.finish_call(&stopped, pending, rval)?;
                    self.alone_call_over(tid);
                }
                let how = match self.terminal_at_exit(&stopped, rval)? {
                    Some(how) => Some(how),
                    None => self.path_at_exit(&stopped, rval)?,
                };
                stopped.resume(how.unwrap_or(self.steady()), 0)?;
            }
            Stop::Signal(libc::SIGSYS) if self.foreign_abi_call(&stopped)? => {
                // Refused: the call did not run; it returns ENOSYS and no signal comes.
                stopped.resume(steady, 0)?
            }
            Stop::Signal(sig) if self.signal_wait_delivery(&stopped, sig)? => {
                // The signal a sigtimedwait or a signalfd's read took: it is not delivered.
                stopped.resume(steady, 0)?
            }
            Stop::Signal(sig) => {
                self.restart_interrupted_notification(&stopped)?;
                // The sender's id in the siginfo is the receiver's number for it.
                let mut deliver = sig;
                if let Ok(mut info) = stopped.siginfo() {
                    if syscalls::sys_signal::discarded_by_init(&self.kernel, tid, sig, &info) {
                        deliver = 0;
                    } else if syscalls::sys_signal::translate_siginfo(&self.kernel, tid, &mut info)
                    {
                        let _ = stopped.set_siginfo(&info);
                    }
                }
                self.note_stop_signal(tid, deliver);
                stopped.resume(steady, deliver)?
            }
            Stop::GroupStop(sig) => {
                self.note_stop_signal(tid, sig);
                stopped.resume(Resume::Listen, 0)?
            }
            Stop::NewTask { child, kind } => {
                let unseen_vfork =
                    kind == platform_ptrace::NewTaskKind::Vfork && !self.pending.contains_key(&tid);
                if unseen_vfork {
                    self.vfork_seen_at_its_event(tid);
                }
                self.on_new_task(tid, child, kind);
                if let Some(child_stop) = self.early.remove(&child) {
                    child_stop.resume(self.steady(), 0)?;
                }
                let how = if unseen_vfork {
                    Resume::Syscall
                } else {
                    steady
                };
                stopped.resume(how, 0)?;
            }
            Stop::Exec { former_tid } => {
                let first = self.before_first_exec(tid);
                if let Some(fresh) = self.fresh.remove(&tid) {
                    self.process_events.insert(tid, fresh.events);
                } else if first {
                    self.init_execed = true;
                    if let Some(execfn) = self.kernel.init_execfn.take() {
                        let read = exec::InitialStack::read(&*self.kernel.mem, &stopped);
                        if let Ok(Some(stack)) = read {
                            stack.set_execfn(&*self.kernel.mem, &stopped, &execfn)?;
                        }
                    }
                }
                self.on_exec(tid, former_tid);
                // Every exec after the first task's own is one the sentry drove: the new
                // image must be the file it vetted, or the task dies before it runs.
                let mut stack = None;
                let verdict = match self.pending.get(&tid) {
                    Some(Pending {
                        exec: Some(state), ..
                    }) => {
                        let mem = &*self.kernel.mem;
                        let read = exec::InitialStack::read(mem, &stopped);
                        let verdict = exec::check_image(mem, tid, state, &read);
                        stack = read.ok().flatten();
                        verdict
                    }
                    _ if first => Ok(()),
                    _ => Err("an exec the sentry did not drive".into()),
                };
                if let Err(why) = verdict {
                    tracing::error!(
                        target: "sentry::deny",
                        "sentry: [pid {}] execve: {why}; task killed",
                        self.kernel.shown_pid(tid)
                    );
                    // SAFETY: kill takes plain integers; `tid` is our stopped tracee.
                    unsafe { libc::kill(tid, libc::SIGKILL) };
                    self.pending.remove(&tid);
                    return Ok(stopped.resume(Resume::Continue, 0)?);
                }
                // The exec succeeded: its steps are over; the result is 0.
                let done = self
                    .pending
                    .remove_entry(&tid)
                    .and_then(|(tid, p)| match p.exec {
                        Some(_) => Some(p),
                        None => {
                            self.pending.insert(tid, p);
                            None
                        }
                    });
                if let Some(state) = done.as_ref().and_then(|p| p.exec.as_ref()) {
                    if let Some(stack) = stack {
                        stack.set_execfn(&*self.kernel.mem, &stopped, &state.execfn)?;
                    }
                    self.kernel.exe.insert(tid, state.program.clone());
                    match state.loader {
                        Some(view) => {
                            self.kernel.loader_views.insert(tid, view);
                        }
                        None => {
                            self.kernel.loader_views.remove(&tid);
                        }
                    }
                }
                if let Some(pending) = done {
                    self.finish_call(&stopped, pending, 0)?;
                }
                // The exec's exit stop is not needed once its steps are over.
                let how = if self.pending.contains_key(&tid) {
                    Resume::Syscall
                } else {
                    self.steady()
                };
                stopped.resume(how, 0)?;
            }
            Stop::VforkDone => {
                self.vfork_waiting.remove(&tid);
                stopped.resume(steady, 0)?
            }
            Stop::Trap | Stop::Exiting => stopped.resume(steady, 0)?,
        }
        Ok(())
    }

    /// A vfork that the filter let through without a stop (nothing is counted, so its entry
    /// has nothing to decide): at its event the sentry takes it up as if it had stopped at
    /// the entry, so that its exit stop puts the child's number in the caller's terms. The
    /// arguments of an earlier clone that failed are forgotten (a vfork has none).
    fn vfork_seen_at_its_event(&mut self, tid: Tid) {
        if let Some(task) = self.kernel.tasks.get_mut(&tid) {
            task.clone_args = None;
        }
        let strace_line = self.strace.then(|| {
            let shown = self.kernel.shown_pid(tid);
            let nr = Sysno::vfork.id() as u64;
            strace::format_entry(tid, shown, Some(Sysno::vfork), nr, &[0; 6], &[])
        });
        self.pending.insert(
            tid,
            Pending {
                sysno: Some(Sysno::vfork),
                class: Class::Checked,
                strace_line,
                hook: Some(ExitHook::Clone),
                restore: None,
                exec: None,
                restore_on_restart: None,
                held_mask: None,
            },
        );
    }

    /// Records a task created by `parent_tid`'s clone, fork or vfork: its thread group,
    /// parent, PID namespace (a new one for CLONE_NEWPID), numbers, root and cwd.
    ///
    /// At the parent's event, stopped before its clone returns and before the child runs its
    /// first instruction, the child's numbers go where CLONE_PARENT_SETTID and
    /// CLONE_CHILD_SETTID asked (in the parent's memory and the child's). As in Linux, a
    /// word that cannot be written is left: the clone goes on.
    fn on_new_task(&mut self, parent_tid: Tid, child: Tid, kind: platform_ptrace::NewTaskKind) {
        let vfork = kind == platform_ptrace::NewTaskKind::Vfork;
        if vfork {
            self.vfork_waiting.insert(parent_tid);
        }
        for (whose, addr, number) in self.kernel.task_created(parent_tid, child, vfork) {
            let _ = self.kernel.mem.write(whose, addr, &number.to_ne_bytes());
        }
        self.kernel.holds.born(parent_tid, child);
    }

    /// After execve, the thread group is the exec'ing thread alone, under the leader's id.
    fn on_exec(&mut self, tid: Tid, former_tid: Tid) {
        let carried = (former_tid != tid)
            .then(|| self.pending.remove(&former_tid))
            .flatten();
        self.kernel.task_execed(tid, former_tid);
        // The new image's address space has no AIO context.
        self.kernel.aio_processes.remove(&tid);
        if former_tid != tid {
            // The thread that exec'd goes on under the leader's id.
            self.kernel.holds.renamed(former_tid, tid);
        }
        // A terminal step left behind (its ioctl never ran) names the old image's code.
        self.terminal_steps.remove(&tid);
        self.terminal_steps.remove(&former_tid);
        self.path_steps.remove(&tid);
        self.path_steps.remove(&former_tid);
        let tasks = &self.kernel.tasks;
        self.pending.retain(|t, _| tasks.contains_key(t));
        if let Some(carried) = carried {
            if self.kernel.tasks.contains_key(&tid) {
                self.pending.insert(tid, carried);
            }
        }
    }

    /// A stop signal delivered (or the one a group stop reports) is the one the process's
    /// parent learns of by waitid, which the sentry answers itself (`syscalls::sys_wait`).
    /// Every signal of a traced task comes to a signal-delivery stop before it acts, so the
    /// group stop a waitid can see has had its signal noted here.
    fn note_stop_signal(&mut self, tid: Tid, sig: i32) {
        if [libc::SIGSTOP, libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU].contains(&sig) {
            let tgid = self.kernel.tgid_of(tid);
            self.kernel.stop_signals.insert(tgid, sig);
        }
    }

    /// A call stopped at its entry: `seccomp_stop` for a SECCOMP_RET_TRACE stop, false for
    /// a syscall-enter-stop (after a PTRACE_SYSCALL resume).
    fn on_syscall(
        &mut self,
        stopped: Stopped,
        info: SyscallInfo,
        seccomp_stop: bool,
    ) -> Result<()> {
        let tid = stopped.tid();
        self.call_or_end(tid);
        if self.before_first_exec(tid) {
            // The sentry's own code between fork and execve in a child it started.
            return Ok(stopped.resume(self.steady(), 0)?);
        }
        if self.terminal_ioctl_entry(&stopped, &info) || self.path_step_entry(&stopped, &info) {
            return Ok(stopped.resume(Resume::Syscall, 0)?);
        }
        let exec_step = self
            .pending
            .get(&tid)
            .and_then(|p| p.exec.as_ref())
            .map(|state| state.is_expected(info.nr, &info.args));
        match exec_step {
            // A step of an exec the sentry is driving: let it run to its exit stop.
            Some(true) => return Ok(stopped.resume(Resume::Syscall, 0)?),
            // Not the step the sentry set up (a signal handler ran in between and changed
            // the registers): the exec is abandoned and this call is decided as any other.
            Some(false) => {
                if let Some(pending) = self.pending.remove(&tid) {
                    self.kernel.holds.call_ended(tid);
                    if let Some(mask) = pending.held_mask {
                        stopped.set_sigmask(mask)?;
                    }
                }
                self.forget_install(tid);
            }
            None => {}
        }
        if !seccomp_stop {
            // Calls are decided at their seccomp stop, which follows this one for every call
            // that is not passed through (the kernel runs ptrace's entry report, then the
            // filter). Deciding here as well would decide twice: a call skipped here (its
            // number set to -1) would reach the filter as syscall -1.
            return Ok(stopped.resume(Resume::Continue, 0)?);
        }
        self.new_call_from(tid, info.nr);
        let foreign = match info.arch {
            SyscallArch::X86_64 if info.nr & X32_SYSCALL_BIT == 0 => None,
            SyscallArch::X86_64 => Some("the x32 ABI"),
            SyscallArch::I386 => Some("int 0x80"),
            SyscallArch::Other(_) => Some("a foreign ABI"),
        };
        let sysno = if foreign.is_some() {
            None
        } else {
            Sysno::new(info.nr as usize)
        };
        let mut paths = Vec::new();
        let (action, class) = match (foreign, sysno) {
            (Some(what), _) => {
                syscalls::foreign_abi_event(&mut self.kernel, tid, what, info.nr);
                (
                    Action::Return(-((Errno::ENOSYS as i32) as i64)),
                    Class::Deny(Errno::ENOSYS),
                )
            }
            (None, Some(sysno)) => {
                let started = self.profile.as_ref().map(|_| std::time::Instant::now());
                let mut call = Call::new(&mut self.kernel, tid, sysno, info.args);
                let decided = syscalls::decide(&mut call);
                paths = call.paths.into_inner();
                if let (Some(profile), Some(started)) = (&mut self.profile, started) {
                    profile.add(info.nr, false, started.elapsed());
                }
                decided
            }
            (None, None) => {
                syscalls::foreign_abi_event(&mut self.kernel, tid, "an unknown number", info.nr);
                (
                    Action::Return(-((Errno::ENOSYS as i32) as i64)),
                    Class::Deny(Errno::ENOSYS),
                )
            }
        };
        let mut strace_line = self.strace.then(|| {
            let shown = self.kernel.shown_pid(tid);
            strace::format_entry(tid, shown, sysno, info.nr, &info.args, &paths)
        });
        let mut hook = None;
        let mut restore = None;
        let mut exec = None;
        // The task's registers before the sentry rewrote the call's arguments: if the call
        // is interrupted and restarted, it must run again with its own, not the rewrite.
        let mut restore_on_restart = None;
        let mut held_mask = None;
        let mut returned = match action {
            Action::Return(value) => Some(value),
            _ => None,
        };
        match action {
            Action::Pass => {}
            Action::PassWith(args) => {
                restore_on_restart = Some(rewrite_call(&stopped, None, &args)?);
            }
            Action::PassThenExit(h) => hook = Some(h),
            Action::PassWithHostBytes {
                args,
                arg,
                host,
                own,
            } => match self.alone_with_host_bytes(&stopped, args[arg], &host, own)? {
                Ok(at) => {
                    let mut args = args;
                    args[arg] = at;
                    if args != info.args {
                        restore_on_restart = Some(rewrite_call(&stopped, None, &args)?);
                    }
                    hook = Some(ExitHook::Alone);
                }
                Err(e) => {
                    returned = Some(-(e as i64));
                    stopped.skip_syscall(-(e as i64))?;
                }
            },
            Action::PassWithThenExit(args, h) => {
                restore_on_restart = Some(rewrite_call(&stopped, None, &args)?);
                hook = Some(h);
            }
            Action::Return(value) => stopped.skip_syscall(value)?,
            Action::PassAs { nr, args } => {
                restore_on_restart = Some(rewrite_call(&stopped, Some(nr), &args)?);
            }
            Action::PassAsThenExit { nr, args, hook: h } => {
                restore_on_restart = Some(rewrite_call(&stopped, Some(nr), &args)?);
                hook = Some(h);
            }
            Action::Install { fd, cloexec } => {
                restore = Some(self.listeners[0].prepare(&stopped)?);
                held_mask = Some(hold_signals(&stopped)?);
                self.awaiting_install
                    .insert(tid, Awaited::ready(fd, cloexec));
            }
            Action::InstallTerminal { fd, cloexec } => {
                restore = Some(self.listeners[0].prepare(&stopped)?);
                self.terminal_installing(tid, &fd);
                self.awaiting_install
                    .insert(tid, Awaited::ready(fd, cloexec));
            }
            Action::InstallPath { fd, cloexec } => {
                // The open's line is shown when the fd is in place, with its number.
                let line = strace_line.take().map(|line| (line, sysno, class));
                match self.path_installing(tid, fd, cloexec, line) {
                    Ok(helper) => {
                        restore = Some(self.listeners[0].prepare(&stopped)?);
                        held_mask = Some(hold_signals(&stopped)?);
                        self.awaiting_install
                            .insert(tid, Awaited::ready(helper, true));
                    }
                    Err(e) => stopped.skip_syscall(-(e as i64))?,
                }
            }
            Action::InstallWhenOpened { fifo, cloexec } => {
                // A signal interrupts the wait (and restarts the call), as it would the open.
                restore = Some(self.listeners[0].prepare(&stopped)?);
                self.open_off_loop(tid, fifo, cloexec);
            }
            Action::WaitReady {
                fd,
                events,
                timeout_ms,
                then,
            } => {
                let regs = stopped.regs()?;
                // The pollfd goes below the red zone of the task's stack, where a signal
                // frame would go; the task's own data is not touched.
                let at = (regs.sp() - 128 - 16) & !15;
                let mut pollfd = fd.to_ne_bytes().to_vec();
                pollfd.extend_from_slice(&events.to_ne_bytes());
                pollfd.extend_from_slice(&0i16.to_ne_bytes());
                if platform_ptrace::write_bytes(tid, at, &pollfd).is_err() {
                    stopped.skip_syscall(-(libc::EFAULT as i64))?;
                } else {
                    restore_on_restart = Some(regs);
                    let mut poll = regs;
                    poll.set_syscall(Sysno::poll.id() as i64);
                    for (i, value) in [at, 1, timeout_ms as i64 as u64, 0, 0, 0]
                        .iter()
                        .enumerate()
                    {
                        poll.set_arg(i, *value);
                    }
                    stopped.set_regs(&poll)?;
                    hook = Some(ExitHook::Ready { fd, then });
                }
            }
            Action::InstallAbove {
                fd,
                cloexec,
                at_least,
            } => {
                restore = Some(self.listeners[0].prepare(&stopped)?);
                held_mask = Some(hold_signals(&stopped)?);
                let mut awaited = Awaited::ready(fd, cloexec);
                awaited.at_least = Some(at_least);
                self.awaiting_install.insert(tid, awaited);
            }
            Action::WaitSignal {
                set,
                timeout,
                delivery,
            } => {
                if let Some((regs, h)) = self.start_signal_wait(&stopped, set, timeout, delivery)? {
                    restore_on_restart = Some(regs);
                    hook = Some(h);
                }
            }
            Action::Exec { fd, mut state } => {
                state.original = self.listeners[0].prepare(&stopped)?;
                // Held over every step: a handler run between two would find the registers
                // of the sentry's step (and return into it), not the task's own.
                held_mask = Some(hold_signals(&stopped)?);
                self.kernel.holds.hold_over_call(tid);
                self.awaiting_install.insert(tid, Awaited::ready(fd, true));
                exec = Some(state);
            }
        }
        if let Some(line) = &strace_line {
            if matches!(sysno, Some(Sysno::exit | Sysno::exit_group)) {
                strace::emit_no_return(line, class);
            }
        }
        // In ptrace mode the exit stop always comes; in seccomp mode only when asked for.
        let needs_exit = hook.is_some()
            || restore.is_some()
            || exec.is_some()
            || restore_on_restart.is_some()
            || (strace_line.is_some() && returned.is_none());
        if !needs_exit {
            if let (Some(line), Some(value)) = (&strace_line, returned) {
                strace::emit(line, sysno, value, class);
            }
            return Ok(stopped.resume(Resume::Continue, 0)?);
        }
        if self.kernel.tasks.contains_key(&tid) {
            self.pending.insert(
                tid,
                Pending {
                    sysno,
                    class,
                    strace_line,
                    hook,
                    restore,
                    exec,
                    restore_on_restart,
                    held_mask,
                },
            );
        }
        Ok(stopped.resume(Resume::Syscall, 0)?)
    }

    fn on_exit(&mut self, tid: Tid, outcome: Outcome) {
        tracing::trace!(target: "sentry::stops", "exit of {tid}: {outcome:?}");
        if tid == self.gofer_pid && self.gofer_pid != 0 {
            // On SIGTERM and friends the signal thread ends the gofer itself.
            if !self.terminating && self.termination.signal() == 0 {
                tracing::error!("sentry: the gofer died ({outcome:?}); ending the sandbox");
                self.outcome.get_or_insert(Outcome::Status(125));
                self.kill_all();
            }
            return;
        }
        self.early.remove(&tid);
        self.vfork_waiting.remove(&tid);
        self.alone_task_ended(tid);
        self.call_or_end(tid);
        self.kernel.holds.gone(tid);
        self.held_during_exec.retain(|request| request.tid != tid);
        self.listener_of.remove(&tid);
        self.freeze_progress(Some(tid));
        if let Outcome::Status(status) = outcome {
            self.started_process_exited(tid, status);
        }
        self.forget_install(tid);
        self.cancel_abandoned(tid);
        self.pending.remove(&tid);
        self.terminal_steps.remove(&tid);
        self.path_steps.remove(&tid);
        let Some(ended_ns) = self.kernel.task_exited(tid) else {
            return;
        };
        if tid == self.kernel.init_tid && self.outcome.is_none() {
            let failed_exec = (!self.init_execed)
                .then(|| self.init.exec_error())
                .flatten();
            self.outcome = Some(match failed_exec {
                Some(errno) => Outcome::ExecFailed(errno),
                None => outcome,
            });
            // Like PID 1: when the first process ends, every other process of the sandbox ends.
            self.kill_all();
        } else if let Some(ns) = ended_ns {
            // The init of a nested PID namespace: its namespace ends with it.
            for member in self.kernel.members_of(ns) {
                // SAFETY: kill takes plain integers; `member` is a live tracee of ours.
                unsafe { libc::kill(member, libc::SIGKILL) };
            }
        }
    }

    /// SIGKILL to every task; tasks that appear from now on are killed at their first stop.
    fn kill_all(&mut self) {
        self.terminating = true;
        self.release_all_alone_calls();
        for &tid in self.kernel.tasks.keys() {
            // SAFETY: kill takes plain integers; every tid here is a live tracee of ours
            // (its exit has not been waited for, so the id cannot have been reused).
            unsafe { libc::kill(tid, libc::SIGKILL) };
        }
        for (tid, stopped) in self.early.drain() {
            // SAFETY: as above, for a tracee held in its first stop.
            unsafe { libc::kill(tid, libc::SIGKILL) };
            let _ = stopped.resume(Resume::Continue, 0);
        }
    }
}

/// Blocks every signal of a stopped task that is about to wait in an install request for
/// an fd that is ready (an open, or the first step of an exec); its mask before, to put back
/// when the call is over. The answer comes at once, so Linux's open would have finished
/// before any signal: signals that come meanwhile are delivered when the call returns, and
/// cannot interrupt the request (which would make the whole call run again, and under a
/// stream of signals never finish).
fn hold_signals(stopped: &Stopped) -> Result<u64> {
    let mask = stopped.sigmask()?;
    stopped.set_sigmask(!0)?;
    Ok(mask)
}

/// Puts another call (`nr`) or other arguments in a stopped task's registers; returns the
/// task's own, which it gets back at the exit stop.
fn rewrite_call(
    stopped: &Stopped,
    nr: Option<u64>,
    args: &[u64; 6],
) -> Result<platform_ptrace::Regs> {
    let original = stopped.regs()?;
    let mut regs = original;
    if let Some(nr) = nr {
        regs.set_syscall(nr as i64);
    }
    for (i, value) in args.iter().enumerate() {
        regs.set_arg(i, *value);
    }
    stopped.set_regs(&regs)?;
    Ok(original)
}

/// The length of the x86_64 `syscall` instruction, to run it again from an exit stop.
const SYSCALL_INSN_LEN: u64 = 2;

/// Whether an error comes from a task that no longer exists (ESRCH from ptrace).
/// A stop whose task was killed before it could be read (a sibling's exit_group, a SIGKILL):
/// its exit event follows, so the loop looks again; any other error is the sentry's.
fn vanished(e: Error) -> Result<Next> {
    if task_vanished(&e) {
        tracing::debug!(target: "sentry::stops", "a task vanished while stopping: {e}");
        return Ok(Next::Again);
    }
    Err(e)
}

fn task_vanished(e: &Error) -> bool {
    matches!(
        e,
        Error::Platform(platform_ptrace::Error::Ptrace {
            errno: nix::errno::Errno::ESRCH,
            ..
        })
    )
}

/// A non-blocking signalfd for SIGCHLD (blocked in the sentry by `main`).
fn sigchld_fd() -> Result<OwnedFd> {
    // SAFETY: sigset operations on a local; signalfd returns a new fd or -1.
    let fd = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC)
    };
    if fd < 0 {
        return Err(Error::host("signalfd", std::io::Error::last_os_error()));
    }
    // SAFETY: the fd was just created and is ours alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Reads everything pending from a non-blocking signalfd or eventfd. A read that did not
/// fill the buffer took all there was: no second read (an EAGAIN) is needed to know it.
fn drain(fd: &OwnedFd) {
    let mut buf = [0u8; 128 * 8];
    loop {
        // SAFETY: read into a local buffer from an fd we own.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < buf.len() as isize {
            return;
        }
    }
}

/// The thread group of a task, read from /proc (only for tasks seen before their creation event).
fn thread_group_of(tid: Tid) -> Tid {
    crate::host::read_proc_text(format!("/proc/{tid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Tgid:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(tid)
}

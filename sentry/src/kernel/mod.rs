//! The sentry's own tables: tasks and thread groups, the UTS names, the network mode,
//! the SysV IPC objects the sandbox created, the mounts and each process's root and cwd.

pub mod creds;
pub mod exec_area;
pub mod ipc;
pub mod limits;
pub mod loopback;
pub mod memory;
pub mod mounts;
pub mod netlink;
pub mod pid;
pub mod placement;
pub mod ptys;
pub mod sockets;
pub mod task;
pub mod watch;

use hashbrown::{HashMap, HashSet};
use mounts::MountTable;
use pid::{NsId, PidTable, ROOT_NS};
use platform_ptrace::Tid;

/// What the sentry remembers about one traced thread.
#[derive(Debug)]
pub struct Task {
    /// The thread group (process) this thread belongs to, as a host id.
    pub tgid: Tid,
    /// The arguments of the clone(2) this thread is making, for the new task.
    pub clone_args: Option<[u64; 6]>,
    /// The process that created this one (host tgid), 0 for the sandbox's first.
    pub parent: Tid,
    /// Its parent is outside the sandbox for good (a process started by an OCI exec):
    /// getppid gives 0 rather than the namespace's init.
    pub parent_outside: bool,
    /// The UTS namespace (hostname, domain name) of the task.
    pub uts_ns: usize,
    /// The mount namespace of the task.
    pub mnt_ns: usize,
    /// PR_SET_CHILD_SUBREAPER of the process (kept on its leader).
    pub subreaper: bool,
    /// The PID namespace the task lives in.
    pub ns: NsId,
    /// The PID namespace its new children go into (differs after unshare(CLONE_NEWPID)).
    pub child_ns: NsId,
    /// The task's credentials as the sandbox sees them (`creds`).
    pub creds: creds::Creds,
    /// Whether a task of another process may share this task's fd table (CLONE_FILES
    /// without CLONE_THREAD, by this task or its creator). Threads are counted apart.
    pub files_shared: bool,
    /// Its address space, for the exec area (`exec_area`).
    pub space: std::sync::Arc<exec_area::AddressSpace>,
    /// The exec area of its address space when the clone(2) it is making began: what a
    /// fork copies.
    pub area_at_clone: Option<exec_area::ExecArea>,
    /// The signals an rt_sigtimedwait of this thread is waiting for: Linux counts them as
    /// blocked (its real_blocked) while the wait lets them through the thread's mask.
    pub awaited_signals: u64,
}

pub use crate::config::NetMode;

/// Where a program run through its ELF interpreter finds its own argv in the process's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoaderView {
    pub argv0_at: usize,
    pub rest_from: usize,
}

/// A namespace of the sentry's tables, as named by a /proc/<pid>/ns link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NsRef {
    Uts(usize),
    Pid(usize),
    Mnt(usize),
}

pub use ipc::IpcKind;

/// The UTS names of the sandbox.
#[derive(Debug, Clone)]
pub struct Uts {
    pub hostname: Vec<u8>,
    pub domainname: Vec<u8>,
}

/// How path resolution treats symlinks (see `syscalls::vfs::walk`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WalkLinks {
    /// The gofer follows them, inside their mount.
    #[default]
    InGofer,
    /// The sentry follows every link but the last name's.
    Parents,
    /// The sentry follows every link, the last name's too.
    All,
}

/// A process's view of the file system: its root (after chroot) and working directory,
/// both normalised sandbox paths.
#[derive(Debug, Clone)]
pub struct FsState {
    pub root: Vec<u8>,
    pub cwd: Vec<u8>,
}

/// A hostname or domain name file of /proc the sandbox opened for writing: the sentry's
/// own fd of the memfd the task writes into, and when it last looked at it.
pub struct UtsWrite {
    pub ns: usize,
    pub domain: bool,
    pub file: std::os::fd::OwnedFd,
    pub seen: (i64, i64, i64),
}

/// How many released host ids `Departed` remembers.
const DEPARTED: usize = 256;

/// The tasks whose host id the sentry released lately (exited threads, reaped processes),
/// newest last, at most `DEPARTED`: each one's numbers in the PID namespaces that saw it and
/// its real uid in the sandbox. A signal names its sender by host id (si_pid, si_uid as the
/// host kernel wrote them), and a sender may be reaped before the signal is taken: its
/// numbers are looked up here then. A host id reused since names the newer task first (the
/// live tables are asked before this record).
#[derive(Debug, Default)]
pub struct Departed(std::collections::VecDeque<Gone>);

/// One task of `Departed`: its host id, its numbers (namespace, number) and real uid.
type Gone = (Tid, Vec<(NsId, i32)>, u32);

impl Departed {
    fn record(&mut self, host: Tid, numbers: Vec<(NsId, i32)>, ruid: u32) {
        if self.0.len() == DEPARTED {
            self.0.pop_front();
        }
        self.0.push_back((host, numbers, ruid));
    }

    fn latest(&self, host: Tid) -> Option<&Gone> {
        self.0.iter().rev().find(|(h, _, _)| *h == host)
    }

    /// The number `ns` knew departed task `host` by.
    pub fn vpid(&self, ns: NsId, host: Tid) -> Option<i32> {
        let (_, numbers, _) = self.latest(host)?;
        numbers.iter().find(|(n, _)| *n == ns).map(|&(_, v)| v)
    }

    /// The real uid departed task `host` had in the sandbox.
    pub fn ruid(&self, host: Tid) -> Option<u32> {
        self.latest(host).map(|&(_, _, ruid)| ruid)
    }
}

/// How many zombies the sentry keeps before it first looks for those the kernel reaped
/// without a wait it saw; it looks again each time their number doubles since.
const ZOMBIES_BEFORE_PRUNING: usize = 256;

/// A waitid for stops or continues that the sentry answers itself: the task's own
/// arguments (idtype, id, infop, options, rusage), so that a stale one is told apart, and
/// how far the sentry has got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitProbe {
    pub call: [u64; 5],
    pub step: WaitStep,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitStep {
    /// Something is waitable: the caller's children that may be it, in the order the kernel
    /// looks at them, and the next (child, event) pair to ask about.
    Looking { children: Vec<Tid>, next: usize },
    /// The event (WSTOPPED or WCONTINUED) of `child`, found without taking it: the task's
    /// own wait takes it next.
    Taking { child: Tid, event: i32 },
}

pub struct Kernel {
    pub tasks: HashMap<Tid, Task>,
    /// Memory accounting and the limits.
    pub memory: memory::MemoryTable,
    pub pids: PidTable,
    /// Processes that exited and wait for their parent to reap them: host id -> the real
    /// uid it had in the sandbox (waitid and SIGCHLD report it).
    pub zombies: HashMap<Tid, u32>,
    /// How many zombies make the sentry look for those the kernel reaped unseen.
    zombies_pruned_at: usize,
    /// Processes killed by a signal whose core Linux would have written (see
    /// `Kernel::task_killed`): their wait status carries WCOREDUMP, their waitid and
    /// SIGCHLD siginfo CLD_DUMPED. Host ids, kept while the zombie is.
    pub dumped_core: HashSet<Tid>,
    /// Tasks whose host id was released lately, for the signals they sent before.
    pub departed: Departed,
    /// The stop signal each process (host tgid) last stopped with: a waitid for stops that
    /// the sentry answers itself reports it (the kernel's report carries the host ids).
    pub stop_signals: HashMap<Tid, i32>,
    /// The waitid for stops or continues each task (host id) is in, between the calls the
    /// sentry has it make (`syscalls::sys_wait`).
    pub wait_probes: HashMap<Tid, WaitProbe>,
    /// Mount namespaces: a mount table each; a task's `mnt_ns` indexes this.
    pub mount_ns: Vec<MountTable>,
    /// Where tmpfs mounts made inside the sandbox live: the gofer's index and host path.
    pub tmpfs_pool: (u32, std::path::PathBuf),
    tmpfs_count: u64,
    /// The gofer; None once it has been shut down.
    pub files: Option<gofer::Client>,
    /// While a call is retried because a symlink led out of its mount (the gofer answered
    /// EREMOTE): path resolution walks links in the sentry.
    pub walk_links: WalkLinks,
    /// Root and cwd per process (thread group id).
    pub fs: HashMap<Tid, FsState>,
    /// Each process's umask as last read from /proc (by thread group id): a creating call
    /// reads it, and reading /proc/<pid>/status for it was a third of a creating open's
    /// time. Forgotten whole at any umask call (every one reaches the sentry, and a process
    /// made with CLONE_FS shares its umask with its creator) and per process at its exit.
    pub umasks: HashMap<Tid, u32>,
    /// UTS namespaces; a task's `uts_ns` indexes this.
    pub uts: Vec<Uts>,
    pub net: NetMode,
    pub ipc: ipc::IpcNamespace,
    /// The first process of the sandbox (its PID 1).
    pub init_tid: Tid,
    /// The path the first program was found at, for its AT_EXECFN.
    pub init_execfn: Option<Vec<u8>>,
    /// The sandbox path of each process's program (for /proc/<pid>/exe), by host tgid.
    pub exe: HashMap<Tid, Vec<u8>>,
    /// /proc/sys/kernel/{hostname,domainname} opened for writing: what is written is
    /// applied the next time the names are read (uname, /proc).
    pub uts_writes: Vec<UtsWrite>,
    /// Fds of namespace files opened by the sandbox, by the (st_dev, st_ino) of the file
    /// behind them, for setns(2).
    pub ns_files: HashMap<(u64, u64), NsRef>,
    /// Processes run through their ELF interpreter: where their own argv is, for /proc.
    pub loader_views: HashMap<Tid, LoaderView>,
    /// Where the sentry lays out /proc directories for the host to list.
    pub proc_scratch: LazyDir,
    /// Those layouts, by host path, with the /proc path each stands for.
    pub proc_dirs: HashMap<Vec<u8>, Vec<u8>>,
    /// The host paths of the sandbox's directory fds looked up last.
    pub dir_fd_paths: DirFdPaths,
    /// A mount source filled when the sandbox first looks into it (its /sys, by the janitor).
    pub late_fill: Option<mounts::LateFill>,
    /// The tasks held to the sentry's CPU while they stop often.
    pub holds: placement::Holds,
    /// AF_UNIX sockets bound by path: the socket file (device << 32 | inode, as the kernel's
    /// socket diagnostics give it) → the path as the task bound it.
    pub unix_names: HashMap<u64, Vec<u8>>,
    /// Sockets (by inode) the sandbox set SO_PASSCRED on: kept here, never on the host
    /// socket, where the kernel would attach the senders' host ids to what they send.
    pub passcred: HashSet<u64>,
    /// The prefix that makes abstract AF_UNIX names private to this sandbox.
    pub abstract_prefix: Vec<u8>,
    /// The sandbox's loopback network (`--net none`).
    pub loopback: loopback::Loopback,
    /// The credentials of the first task, when not the sandbox's own identity's.
    pub first_creds: Option<creds::Creds>,
    /// The sandbox's NETLINK_ROUTE sockets (`--net none`).
    pub netlink: netlink::Netlink,
    /// The sandbox's pseudo-terminals.
    pub ptys: ptys::Ptys,
    /// How host ids and sandbox ids relate.
    pub identity: creds::Identity,
    /// The memory of the sandbox's tasks.
    pub mem: std::sync::Arc<dyn crate::host::TaskMemory>,
    /// Reads of fds at or above the floor of signalfds that the host may be running, by
    /// thread, until the thread meets the sentry again: no signalfd is installed at those
    /// numbers meanwhile (`syscalls::signalfd`).
    pub high_reads: HashMap<Tid, u32>,
    /// Processes (host tgid) whose address space has had a Linux AIO context: they get no
    /// signalfd (`syscalls::signalfd`).
    pub aio_processes: HashSet<Tid>,
    /// Owners and set-id bits the sandbox gave files, kept off the host files.
    pub owners: creds::Owners,
    /// Unsupported syscall numbers already reported (each warns once).
    reported: HashSet<u64>,
}

impl Kernel {
    /// Has the mount source filled and waits for it, the first time something looks at a
    /// path `rel` of the gofer mount `gofer_index` that the fill makes, if that mount is the
    /// one filled late. EIO if the fill failed (then at every such look).
    pub fn wait_for_fill(&mut self, gofer_index: u32, rel: &[u8]) -> Result<(), nix::errno::Errno> {
        match &mut self.late_fill {
            Some(fill) if fill.gofer_index == gofer_index && fill.covers(rel) => {
                match fill.wait() {
                    true => Ok(()),
                    false => Err(nix::errno::Errno::EIO),
                }
            }
            _ => Ok(()),
        }
    }

    pub fn new(
        uts: Uts,
        net: NetMode,
        identity: creds::Identity,
        mounts: MountTable,
        files: Option<gofer::Client>,
    ) -> Self {
        Kernel {
            tasks: HashMap::new(),
            memory: memory::MemoryTable::default(),
            pids: PidTable::default(),
            zombies: HashMap::new(),
            zombies_pruned_at: ZOMBIES_BEFORE_PRUNING,
            dumped_core: HashSet::new(),
            departed: Departed::default(),
            stop_signals: HashMap::new(),
            wait_probes: HashMap::new(),
            mount_ns: vec![mounts],
            tmpfs_pool: (0, std::path::PathBuf::new()),
            tmpfs_count: 0,
            files,
            walk_links: WalkLinks::InGofer,
            fs: HashMap::new(),
            umasks: HashMap::new(),
            uts: vec![uts],
            net,
            ipc: ipc::IpcNamespace::default(),
            init_tid: 0,
            reported: HashSet::new(),
            unix_names: HashMap::new(),
            passcred: HashSet::new(),
            exe: HashMap::new(),
            init_execfn: None,
            loader_views: HashMap::new(),
            ns_files: HashMap::new(),
            uts_writes: Vec::new(),
            proc_scratch: LazyDir::default(),
            proc_dirs: HashMap::new(),
            dir_fd_paths: DirFdPaths::default(),
            late_fill: None,
            holds: placement::Holds::default(),
            abstract_prefix: random_abstract_prefix(),
            loopback: loopback::Loopback::default(),
            netlink: netlink::Netlink::default(),
            first_creds: None,
            ptys: ptys::Ptys::default(),
            identity,
            owners: creds::Owners::default(),
            mem: std::sync::Arc::new(crate::host::Live),
            high_reads: HashMap::new(),
            aio_processes: HashSet::new(),
        }
    }

    /// The credentials of a task (the sandbox's initial ones for a task not yet recorded).
    pub fn creds_of(&self, tid: Tid) -> creds::Creds {
        self.tasks
            .get(&tid)
            .map(|t| t.creds.clone())
            .unwrap_or_else(|| self.identity.initial_creds())
    }

    /// The owner the sandbox sees for a host inode owned by `uid`:`gid`.
    pub fn shown_owner(&self, dev: u64, ino: u64, uid: u32, gid: u32) -> creds::Ids {
        self.owners.shown(&self.identity, dev, ino, uid, gid)
    }

    /// Rewrites the owner and mode of a `struct stat` into the sandbox's terms.
    pub fn map_stat(&self, st: &mut libc::stat) {
        self.owners.map_stat(&self.identity, st);
    }

    /// Rewrites the owner and mode of a `struct statx` into the sandbox's terms.
    pub fn map_statx(&self, stx: &mut libc::statx) {
        self.owners.map_statx(&self.identity, stx);
    }

    /// The number the sentry's own messages use for a task: its PID in the sandbox's root
    /// namespace (the host id only for a task not yet numbered).
    pub fn shown_pid(&self, tid: Tid) -> i32 {
        self.pids.vpid(ROOT_NS, tid).unwrap_or(tid)
    }

    /// Drops the zombies the kernel reaped without a wait the sentry saw (a parent that
    /// ignores SIGCHLD or set SA_NOCLDWAIT, a waitid with no siginfo): a host process that
    /// is gone, or is no longer the sandbox's zombie (its pid was reused), no longer holds a
    /// pid of the sandbox. Their numbers stay known to the waits that reaped them
    /// (`departed`).
    pub fn forget_reaped_zombies(&mut self) {
        let zombies: Vec<Tid> = self.zombies.keys().copied().collect();
        for tid in zombies {
            self.forget_zombie_if_reaped(tid);
        }
        self.zombies_pruned_at = self.zombies.len().max(ZOMBIES_BEFORE_PRUNING / 2) * 2;
    }

    /// Lets zombie `tid` go (its number released) if the host no longer shows it as the
    /// sandbox's zombie (see `forget_reaped_zombies`).
    pub fn forget_zombie_if_reaped(&mut self, tid: Tid) {
        if let Some(&ruid) = self.zombies.get(&tid) {
            if !self.is_sandbox_zombie(tid) {
                self.zombies.remove(&tid);
                self.release_pid(tid, ruid);
            }
        }
    }

    /// Whether host process `tid` is still a zombie of the sandbox: a zombie whose parent
    /// is a process of the sandbox or the sentry (which orphans come to). One the kernel
    /// reaped unseen may have left its pid to any host process since: never to be named.
    fn is_sandbox_zombie(&self, tid: Tid) -> bool {
        match self.mem.zombie_parent(tid) {
            // Any thread of the parent (its leader may have ended before it).
            Some(parent) => {
                parent as u32 == std::process::id() || self.tasks.values().any(|t| t.tgid == parent)
            }
            None => false,
        }
    }

    /// Whether another task may use `tid`'s fd table: a thread of its process, or a
    /// process made with CLONE_FILES.
    pub fn fd_table_shared(&self, tid: Tid) -> bool {
        let Some(task) = self.tasks.get(&tid) else {
            return true;
        };
        task.files_shared || self.tasks.values().filter(|t| t.tgid == task.tgid).count() > 1
    }

    /// The mount table a task sees.
    pub fn mounts(&self, tid: Tid) -> &MountTable {
        &self.mount_ns[self.tasks.get(&tid).map_or(0, |t| t.mnt_ns)]
    }

    /// The mount table a task sees, to change it.
    pub fn mounts_mut(&mut self, tid: Tid) -> &mut MountTable {
        let ns = self.tasks.get(&tid).map_or(0, |t| t.mnt_ns);
        &mut self.mount_ns[ns]
    }

    /// A fresh number for a tmpfs made inside the sandbox.
    pub fn next_tmpfs(&mut self) -> u64 {
        self.tmpfs_count += 1;
        self.tmpfs_count
    }

    /// A new mount namespace with a copy of `from`'s mounts.
    pub fn copy_mount_ns(&mut self, from: usize) -> usize {
        self.mount_ns.push(self.mount_ns[from].clone());
        self.mount_ns.len() - 1
    }

    /// The UTS namespace of a task.
    pub fn uts_of(&self, tid: Tid) -> usize {
        self.tasks.get(&tid).map_or(0, |t| t.uts_ns)
    }

    /// Applies what the sandbox wrote to /proc/sys/kernel/{hostname,domainname} since last
    /// time (Linux applies it at write(2); the sentry does not see writes to a memfd).
    pub fn sync_uts_writes(&mut self) {
        use std::os::fd::AsRawFd;
        for w in &mut self.uts_writes {
            let Ok(st) = nix::sys::stat::fstat(w.file.as_raw_fd()) else {
                continue;
            };
            let stamp = (st.st_mtime, st.st_mtime_nsec, st.st_size);
            if stamp == w.seen {
                continue;
            }
            w.seen = stamp;
            let mut buf = vec![0u8; (st.st_size as usize).min(4096)];
            // SAFETY: pread into our buffer from our fd.
            let n =
                unsafe { libc::pread(w.file.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                continue;
            }
            buf.truncate(n as usize);
            let value = buf.strip_suffix(b"\n").unwrap_or(&buf);
            if value.len() < 65 {
                let uts = &mut self.uts[w.ns];
                if w.domain {
                    uts.domainname = value.to_vec();
                } else {
                    uts.hostname = value.to_vec();
                }
            }
        }
    }

    /// A new UTS namespace with a copy of `from`'s names.
    pub fn copy_uts(&mut self, from: usize) -> usize {
        self.uts.push(self.uts[from].clone());
        self.uts.len() - 1
    }

    /// The PID namespace of a task.
    pub fn ns_of(&self, tid: Tid) -> NsId {
        self.tasks.get(&tid).map_or(ROOT_NS, |t| t.ns)
    }

    /// Releases host task `tid`'s numbers (it is gone: an exited thread, a reaped process),
    /// remembering them and its real uid `ruid` in `departed`.
    pub fn release_pid(&mut self, tid: Tid, ruid: u32) {
        let numbers: Vec<(NsId, i32)> = (0..self.pids.namespaces.len())
            .filter_map(|ns| self.pids.vpid(ns, tid).map(|v| (ns, v)))
            .collect();
        if !numbers.is_empty() {
            self.departed.record(tid, numbers, ruid);
        }
        self.pids.release(tid);
        self.dumped_core.remove(&tid);
        self.stop_signals.remove(&tid);
    }

    /// The number the caller `tid` knows the sender `host` of a signal by: a live task or
    /// zombie, or a task reaped since it sent (`departed`); 0 when it cannot see it.
    pub fn sender_vpid(&self, tid: Tid, host: Tid) -> i32 {
        let ns = self.ns_of(tid);
        self.pids
            .vpid(ns, host)
            .or_else(|| self.departed.vpid(ns, host))
            .unwrap_or(0)
    }

    /// The host task that `vpid` names for the caller `tid`: a live task or an unreaped
    /// zombie of the caller's namespace or below. Never a host process outside the sandbox.
    pub fn translate(&self, tid: Tid, vpid: i32) -> Option<Tid> {
        let host = self.pids.host(self.ns_of(tid), vpid)?;
        let zombie = || self.zombies.contains_key(&host) && self.is_sandbox_zombie(host);
        (self.tasks.contains_key(&host) || zombie()).then_some(host)
    }

    /// The number the caller `tid` knows host task `host` by; 0 when it cannot see it.
    pub fn vpid_for(&self, tid: Tid, host: Tid) -> i32 {
        self.pids.vpid(self.ns_of(tid), host).unwrap_or(0)
    }

    /// The host process group that `vpgid` names for the caller, if it is the sandbox's.
    /// Sandbox tasks start in a group of their own and can only join groups of the
    /// sandbox (setpgid is checked), so such a group holds only sandbox tasks.
    pub fn translate_pgrp(&self, tid: Tid, vpgid: i32) -> Option<Tid> {
        let host = self.pids.host(self.ns_of(tid), vpgid)?;
        self.tasks
            .keys()
            // SAFETY: getpgid takes a plain integer.
            .any(|&t| unsafe { libc::getpgid(t) } == host)
            .then_some(host)
    }

    /// The thread-group ids (processes) of the sandbox.
    pub fn processes(&self) -> impl Iterator<Item = Tid> + '_ {
        self.tasks
            .iter()
            .filter(|(tid, task)| **tid == task.tgid)
            .map(|(tid, _)| *tid)
    }

    /// The sandbox's processes in process group `pgrp` (a host id), as the host has them.
    pub fn group_members(&self, pgrp: Tid) -> Vec<Tid> {
        self.processes()
            // SAFETY: getpgid takes a plain integer; `p` is a task of the sandbox.
            .filter(|&p| unsafe { libc::getpgid(p) } == pgrp)
            .collect()
    }

    /// Records a new task and gives it its numbers.
    pub fn add_task(&mut self, tid: Tid, tgid: Tid, parent: Tid, ns: NsId) {
        crate::host::forget_process(tid);
        // A thread starts with its group's credentials (its creator's are set by the
        // supervisor at the clone event); the first task with the sandbox's.
        let creds = match self.tasks.get(&tgid) {
            Some(t) => t.creds.clone(),
            None => self
                .first_creds
                .take()
                .unwrap_or_else(|| self.identity.initial_creds()),
        };
        self.tasks.insert(
            tid,
            Task {
                tgid,
                clone_args: None,
                subreaper: false,
                uts_ns: 0,
                mnt_ns: 0,
                parent,
                parent_outside: false,
                ns,
                child_ns: ns,
                files_shared: false,
                creds,
                space: exec_area::AddressSpace::new(None),
                area_at_clone: None,
                awaited_signals: 0,
            },
        );
        self.pids.register(tid, ns);
    }

    /// True the first time `key` is reported, false after.
    pub fn first_report(&mut self, key: u64) -> bool {
        self.reported.insert(key)
    }

    /// The thread group of a task of the sandbox.
    pub fn tgid_of(&self, tid: Tid) -> Tid {
        self.tasks.get(&tid).map_or(tid, |t| t.tgid)
    }

    /// The root and cwd of the process `tid` belongs to.
    pub fn fs_of(&self, tid: Tid) -> FsState {
        self.fs
            .get(&self.tgid_of(tid))
            .cloned()
            .unwrap_or_else(|| FsState {
                root: b"/".to_vec(),
                cwd: b"/".to_vec(),
            })
    }
}

/// The sandbox's private prefix for abstract AF_UNIX names: random, so that nothing outside
/// the sandbox (another sandbox, a host process) can guess it and bind the names first or
/// connect to the sandbox's.
fn random_abstract_prefix() -> Vec<u8> {
    // 64 bits: out of reach of guessing, and short, since the prefix takes room from the
    // 107 bytes of an abstract name.
    let mut bytes = [0u8; 8];
    // SAFETY: getrandom writes at most 8 bytes into our buffer.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if n != bytes.len() as isize {
        // No randomness to be had: the pid and the time at least differ between sandboxes.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = ((now as u64) ^ u64::from(std::process::id())).to_ne_bytes();
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sentry-{hex}/").into_bytes()
}

/// The host paths of the directory fds the sandbox's calls named last (the dirfd of
/// `openat`, `fstatat`, …): reading `/proc/<tid>/fd/<n>` costs two lookups in the host's
/// /proc per call. Each path is kept with the sentry's own duplicate of the open file, and
/// is used only while the task's fd still is that open file (`kcmp`) and the gofer has
/// served no request since (a rename may have moved the directory).
#[derive(Default)]
pub struct DirFdPaths {
    /// Off: every call reads /proc (for trees the host changes, `--lookup-cache off`).
    pub enabled: bool,
    entries: Vec<DirFdPath>,
}

struct DirFdPath {
    tid: Tid,
    fd: i32,
    file: std::os::fd::OwnedFd,
    host: Vec<u8>,
    generation: u64,
}

/// How many directory fds are remembered.
const DIR_FD_PATHS: usize = 16;

impl DirFdPaths {
    /// The host path of task `tid`'s fd `fd`, if remembered and still true at `generation`.
    pub fn get(&self, tid: Tid, fd: i32, generation: u64) -> Option<&[u8]> {
        use std::os::fd::AsRawFd;
        let entry = self
            .entries
            .iter()
            .find(|e| e.tid == tid && e.fd == fd && e.generation == generation)?;
        // The sentry's own pid, asked once (glibc's getpid is a system call each time).
        static SENTRY_PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
        let sentry = *SENTRY_PID.get_or_init(std::process::id);
        // SAFETY: kcmp takes plain integers and compares two open files; no memory is involved.
        let same = unsafe {
            libc::syscall(
                libc::SYS_kcmp,
                tid,
                sentry,
                KCMP_FILE,
                fd,
                entry.file.as_raw_fd(),
            )
        };
        (same == 0).then_some(entry.host.as_slice())
    }

    /// Remembers `host` for task `tid`'s fd `fd`, whose open file `file` is.
    pub fn remember(
        &mut self,
        tid: Tid,
        fd: i32,
        file: std::os::fd::OwnedFd,
        host: Vec<u8>,
        generation: u64,
    ) {
        self.entries.retain(|e| !(e.tid == tid && e.fd == fd));
        if self.entries.len() >= DIR_FD_PATHS {
            self.entries.remove(0);
        }
        self.entries.push(DirFdPath {
            tid,
            fd,
            file,
            host,
            generation,
        });
    }
}

/// `KCMP_FILE` of linux/kcmp.h: whether two fds are the same open file.
const KCMP_FILE: libc::c_int = 0;

/// A directory of the sentry's scratch that is made at its first use: a directory on the
/// host's disk costs 40-60 us to make and as much to remove on this project's VM, and most
/// sandboxes never need the loopback network's or /proc's.
#[derive(Debug, Default)]
pub struct LazyDir {
    path: std::path::PathBuf,
    mode: u32,
    made: std::cell::Cell<bool>,
}

impl LazyDir {
    /// `path`, to be made with `mode` (less the umask).
    pub fn new(path: std::path::PathBuf, mode: u32) -> LazyDir {
        LazyDir {
            path,
            mode,
            made: std::cell::Cell::new(false),
        }
    }

    /// Its path, made or not.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Its path, once the directory exists (made now if it was not).
    pub fn made(&self) -> std::io::Result<&std::path::Path> {
        use std::os::unix::fs::DirBuilderExt;
        if !self.made.get() {
            match std::fs::DirBuilder::new()
                .mode(self.mode)
                .create(&self.path)
            {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
                _ => self.made.set(true),
            }
        }
        Ok(&self.path)
    }
}

#[cfg(test)]
mod lazy_dir_tests {
    use super::LazyDir;

    #[test]
    fn made_at_the_first_use_only() {
        let scratch = test_support::Scratch::new("lazy-dir");
        let path = scratch.dir.join("net");
        let dir = LazyDir::new(path.clone(), 0o700);
        assert_eq!(dir.path(), path);
        assert!(!path.exists(), "nothing is made until it is used");
        assert_eq!(dir.made().unwrap(), path);
        assert!(path.is_dir());
        std::fs::remove_dir(&path).unwrap();
        assert_eq!(
            dir.made().unwrap(),
            path,
            "made once: no syscall the second time"
        );
        assert!(!path.exists());
    }
}

#[cfg(test)]
mod dir_fd_paths_tests {
    use super::DirFdPaths;
    use std::os::fd::{AsRawFd, OwnedFd};

    fn open_dir(path: &str) -> OwnedFd {
        std::fs::File::open(path).expect("open a directory").into()
    }

    /// A path is given back only while the fd is still the open file it was kept with, and
    /// only at the generation it was kept at.
    #[test]
    fn a_kept_path_holds_while_the_fd_is_the_same_open_file() {
        let me = std::process::id() as platform_ptrace::Tid;
        let task_fd = open_dir("/");
        let fd = task_fd.as_raw_fd();
        let mut paths = DirFdPaths {
            enabled: true,
            ..Default::default()
        };
        let kept = task_fd.try_clone().expect("dup");
        paths.remember(me, fd, kept, b"/".to_vec(), 7);
        assert_eq!(paths.get(me, fd, 7), Some(&b"/"[..]));
        assert_eq!(paths.get(me, fd, 8), None, "another generation");
        // The number now names another open file (of the same directory, even).
        let other = open_dir("/");
        // SAFETY: dup2 onto a number this test owns; `task_fd` keeps owning it.
        assert!(unsafe { libc::dup2(other.as_raw_fd(), fd) } >= 0);
        assert_eq!(paths.get(me, fd, 7), None);
    }
}

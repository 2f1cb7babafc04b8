//! The rules of task creation, exec and exit, as the sentry's tables follow them: what a
//! clone shares or copies, what exec resets, where orphans go, when a zombie is kept.

use super::pid::{NsId, ROOT_NS};
use super::{memory, Kernel};
use platform_ptrace::Tid;

/// The signals whose default action writes a core (signal(7); SIG_KERNEL_COREDUMP_MASK).
pub const CORE_SIGNALS: [i32; 10] = [
    libc::SIGQUIT,
    libc::SIGILL,
    libc::SIGTRAP,
    libc::SIGABRT,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGSEGV,
    libc::SIGXCPU,
    libc::SIGXFSZ,
    libc::SIGSYS,
];

/// The smallest core file Linux writes (the ELF loader's min_coredump, a page): a lower
/// RLIMIT_CORE writes none.
const MIN_COREDUMP: u64 = 4096;

/// The bit of a wait status that says a core was written (WCOREDUMP).
pub const WCOREFLAG: i32 = 0x80;

impl Kernel {
    /// A new task `child` made by `parent_tid` (with the clone arguments recorded at its
    /// entry; `vfork` when the platform saw a vfork without them). The ids that
    /// CLONE_PARENT_SETTID and CLONE_CHILD_SETTID ask for, for the caller to write: (whose
    /// memory, address, number).
    pub fn task_created(
        &mut self,
        parent_tid: Tid,
        child: Tid,
        vfork: bool,
    ) -> Vec<(Tid, u64, i32)> {
        let k = self;
        let Some(creator) = k.tasks.get_mut(&parent_tid) else {
            k.add_task(child, child, 0, ROOT_NS);
            return Vec::new();
        };
        let args = creator.clone_args.take();
        let area_at_clone = creator.area_at_clone.take();
        let creator_space = creator.space.clone();
        let flags = match (args, vfork) {
            (Some(a), _) => a[0],
            (None, true) => (libc::CLONE_VFORK | libc::CLONE_VM) as u64,
            (None, false) => 0,
        };
        let (creator_tgid, creator_parent, creator_ns, creator_child_ns, creator_uts, creator_mnt) = (
            creator.tgid,
            creator.parent,
            creator.ns,
            creator.child_ns,
            creator.uts_ns,
            creator.mnt_ns,
        );
        let thread = flags & libc::CLONE_THREAD as u64 != 0;
        let tgid = if thread { creator_tgid } else { child };
        let parent = if thread || flags & libc::CLONE_PARENT as u64 != 0 {
            creator_parent
        } else {
            creator_tgid
        };
        let ns = if thread {
            creator_ns
        } else if flags & libc::CLONE_NEWPID as u64 != 0 {
            k.pids.new_namespace(creator_child_ns)
        } else {
            creator_child_ns
        };
        k.add_task(child, tgid, parent, ns);
        // A new task has its creator's credentials.
        let creds = k.creds_of(parent_tid);
        if let Some(task) = k.tasks.get_mut(&child) {
            task.creds = creds;
        }
        let uts_ns = if flags & libc::CLONE_NEWUTS as u64 != 0 {
            k.copy_uts(creator_uts)
        } else {
            creator_uts
        };
        let mnt_ns = if flags & libc::CLONE_NEWNS as u64 != 0 {
            k.copy_mount_ns(creator_mnt)
        } else {
            creator_mnt
        };
        // Threads and CLONE_VM children (vfork) share their creator's address space; a
        // fork copies it, with the exec area it had when the call began.
        let space = if flags & libc::CLONE_VM as u64 != 0 {
            creator_space
        } else {
            super::exec_area::AddressSpace::new(area_at_clone)
        };
        if let Some(task) = k.tasks.get_mut(&child) {
            task.uts_ns = uts_ns;
            task.mnt_ns = mnt_ns;
            task.space = space;
        }
        if !thread && flags & libc::CLONE_FILES as u64 != 0 {
            // Both ends share one fd table from now on (a conservative mark: it stays).
            for tid in [child, parent_tid] {
                if let Some(task) = k.tasks.get_mut(&tid) {
                    task.files_shared = true;
                }
            }
        }
        // The host never writes its id where CLONE_CHILD_SETTID and CLONE_PARENT_SETTID ask
        // (the flags are taken off the call): the sandbox's numbers go there.
        let mut writes = Vec::new();
        if let Some(a) = args {
            if flags & libc::CLONE_CHILD_SETTID as u64 != 0 {
                writes.push((child, a[3], k.vpid_for(child, child)));
            }
            if flags & libc::CLONE_PARENT_SETTID as u64 != 0 {
                writes.push((parent_tid, a[2], k.vpid_for(parent_tid, child)));
            }
        }
        if !thread {
            // A new process starts with its parent's root, cwd and program.
            let fs = k.fs_of(parent_tid);
            k.fs.insert(child, fs);
            if let Some(exe) = k.exe.get(&creator_tgid).cloned() {
                k.exe.insert(child, exe);
            }
            if let Some(view) = k.loader_views.get(&creator_tgid).copied() {
                k.loader_views.insert(child, view);
            }
        }
        // Memory accounting: a new process gets a copy of its parent's charge.
        let shares_vm = flags & libc::CLONE_VM as u64 != 0;
        let shown = k.shown_pid(child);
        k.memory
            .on_new_task(parent_tid, creator_tgid, child, tgid, shares_vm, shown);
        writes
    }

    /// execve succeeded in `tid` (the thread `former_tid` made it): the thread group is
    /// that thread alone, under the leader's id, with exec's credential rules applied and a
    /// new address space.
    pub fn task_execed(&mut self, tid: Tid, former_tid: Tid) {
        let mut creds = self.creds_of(former_tid);
        creds.on_exec();
        if former_tid != tid {
            self.tasks.remove(&former_tid);
        }
        if let Some(task) = self.tasks.get_mut(&tid) {
            task.creds = creds;
            task.space = super::exec_area::AddressSpace::new(None);
            task.area_at_clone = None;
        }
        let tgid = self.tgid_of(tid);
        memory::on_exec(self, tgid);
        self.tasks
            .retain(|&other, task| other == tid || task.tgid != tgid);
    }

    /// Task `tid` ended: killed by `signal`, or exited (None). Whether Linux would have
    /// written its core, as the sandbox sees it: a signal that dumps core, a dumpable process
    /// and a RLIMIT_CORE (the sandbox's, emulated: on the host it is pinned to one byte, so
    /// the host kernel writes nothing and sets no bit) of a page or more, core_pattern being
    /// the sandbox's "core". (Linux also writes nothing, and sets no bit, when the core would
    /// outgrow a limit above that, or the file cannot be made: the sentry does not guess.)
    /// Called before `task_exited`, while the task's credentials are known.
    pub fn task_ended(&mut self, tid: Tid, signal: Option<i32>) {
        let creds = self.tasks.get(&tid).map(|t| &t.creds);
        let dumps = match (signal, creds) {
            (Some(sig), Some(creds)) => {
                CORE_SIGNALS.contains(&sig) && creds.dumpable && creds.core_limit.0 >= MIN_COREDUMP
            }
            _ => false,
        };
        if dumps {
            self.dumped_core.insert(tid);
        } else {
            self.dumped_core.remove(&tid);
        }
    }

    /// Task `tid` is gone (its exit was waited for): its tables are released, its children
    /// reparented, and a process whose parent lives stays a zombie until reaped. None when
    /// it was not a task (a zombie reaped now); else, when it was the init of a PID
    /// namespace, that namespace, whose other members end with it.
    pub fn task_exited(&mut self, tid: Tid) -> Option<Option<NsId>> {
        self.fs.remove(&tid);
        self.umasks.remove(&tid);
        self.wait_probes.remove(&tid);
        crate::host::forget_process(tid);
        memory::on_task_exit(self, tid);
        let Some(task) = self.tasks.remove(&tid) else {
            // A zombie that came to the sentry when its parent exited: reaped now.
            if let Some(ruid) = self.zombies.remove(&tid) {
                self.release_pid(tid, ruid);
            }
            self.dumped_core.remove(&tid);
            return None;
        };
        let is_init_of = self
            .pids
            .namespaces
            .iter()
            .position(|ns| ns.init == Some(tid) && task.tgid == tid);
        if task.tgid != tid {
            // A thread: its id is free as soon as it is gone.
            self.release_pid(tid, task.creds.ruid);
        } else {
            self.reparent_children_of(tid, task.parent);
            if task.parent != 0 && self.tasks.contains_key(&task.parent) {
                // A process whose parent lives: a zombie until the parent's wait reaps it.
                // (If the parent is exiting too, the zombie comes to the sentry, whose wait
                // reports it a second time: released then.)
                self.zombies.insert(tid, task.creds.ruid);
                if self.zombies.len() >= self.zombies_pruned_at {
                    self.forget_reaped_zombies();
                }
            } else {
                // The sentry is its parent (the first process, an orphan): reaped by the
                // wait that reported it.
                self.release_pid(tid, task.creds.ruid);
            }
        }
        Some(is_init_of)
    }

    /// The tasks of PID namespace `ns` and those below it.
    pub fn members_of(&self, ns: NsId) -> Vec<Tid> {
        self.tasks
            .iter()
            .filter(|(_, t)| self.pids.is_within(t.ns, ns))
            .map(|(&t, _)| t)
            .collect()
    }

    /// The children of an exited process go, as on Linux, to the nearest living ancestor
    /// that is a child subreaper, or else to the sentry (parent 0: shown as PID 1).
    fn reparent_children_of(&mut self, dead: Tid, mut ancestor: Tid) {
        let k = self;
        let reaper = loop {
            match k.tasks.get(&ancestor) {
                None => break 0,
                Some(t) if t.subreaper => break ancestor,
                Some(t) => ancestor = t.parent,
            }
        };
        for task in k.tasks.values_mut() {
            if task.parent == dead {
                task.parent = reaper;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NetMode;
    use crate::kernel::creds::Identity;
    use crate::kernel::mounts::MountTable;
    use crate::kernel::Uts;

    fn kernel_with_init(init: Tid) -> Kernel {
        let uts = Uts {
            hostname: b"box".to_vec(),
            domainname: b"(none)".to_vec(),
        };
        let mut k = Kernel::new(
            uts,
            NetMode::None,
            Identity::default(),
            MountTable::default(),
            None,
        );
        k.add_task(init, init, 0, ROOT_NS);
        k.tasks.get_mut(&init).expect("init").subreaper = true;
        k.init_tid = init;
        k
    }

    /// A fake host on which process `tid` is a zombie of `parent`.
    fn host_with_zombie(tid: Tid, parent: Tid) -> std::sync::Arc<crate::host::FakeMemory> {
        let host = std::sync::Arc::new(crate::host::FakeMemory::default());
        host.set_proc_file(tid, "stat", &format!("{tid} (sh) Z {parent} {tid} 0"));
        host
    }

    #[test]
    fn orphans_go_to_the_subreaper_and_zombies_keep_their_number() {
        let mut k = kernel_with_init(10);
        k.mem = host_with_zombie(20, 10);
        k.task_created(10, 20, false);
        k.task_created(20, 30, false);
        assert_eq!(k.vpid_for(10, 30), 3);
        assert_eq!(k.task_exited(20), Some(None));
        // The grandchild's parent is now init (the subreaper); the child is a zombie of
        // init's until it is reaped, and keeps pid 2 meanwhile.
        assert_eq!(k.tasks[&30].parent, 10);
        assert!(k.zombies.contains_key(&20));
        assert_eq!(k.translate(10, 2), Some(20));
        // The zombie reaped: its number is free, and a reaped id is not a task.
        assert_eq!(k.task_exited(20), None);
        assert_eq!(k.translate(10, 2), None);
    }

    #[test]
    fn a_zombie_reaped_unseen_names_no_host_process() {
        let mut k = kernel_with_init(10);
        k.task_created(10, 20, false);
        k.task_created(10, 21, false);
        assert_eq!(k.task_exited(20), Some(None));
        assert_eq!(k.task_exited(21), Some(None));
        // The kernel reaped both without a wait the sentry saw; host pid 20 went to a host
        // process (another parent, running), 21 to a zombie of another host process.
        let host = std::sync::Arc::new(crate::host::FakeMemory::default());
        host.set_proc_file(20, "stat", "20 (victim) S 1 20 0");
        host.set_proc_file(21, "stat", "21 (victim) Z 1 21 0");
        k.mem = host;
        assert_eq!(k.translate(10, 2), None);
        assert_eq!(k.translate(10, 3), None);
        // Let go: their numbers are free again, and remembered for the waits that reaped them.
        k.forget_reaped_zombies();
        assert!(k.zombies.is_empty());
        assert_eq!(k.pids.host(ROOT_NS, 2), None);
        assert_eq!(k.sender_vpid(10, 20), 2);
    }

    #[test]
    fn the_settid_words_get_the_sandbox_numbers() {
        let mut k = kernel_with_init(10);
        let flags = (libc::CLONE_VM | libc::CLONE_PARENT_SETTID | libc::CLONE_CHILD_SETTID) as u64;
        k.tasks.get_mut(&10).expect("init").clone_args = Some([flags, 0, 0x1000, 0x2000, 0, 0]);
        let writes = k.task_created(10, 4321, false);
        let number = k.vpid_for(10, 4321);
        assert_ne!(number, 4321, "the sandbox's number, not the host's id");
        assert_eq!(writes, vec![(4321, 0x2000, number), (10, 0x1000, number)]);
        // A fork without the flags, or a vfork seen without its arguments: nothing.
        assert!(k.task_created(10, 4322, false).is_empty());
        assert!(k.task_created(10, 4323, true).is_empty());
    }

    #[test]
    fn the_exec_area_follows_the_address_space() {
        use crate::kernel::exec_area::ExecArea;
        let area = ExecArea {
            at: 0x2000_0000_0000,
            len: 0x10000,
        };
        let mut k = kernel_with_init(10);
        // A vfork child shares its parent's address space: an area made by its exec steps
        // is its parent's.
        k.task_created(10, 20, true);
        drop(k.tasks[&20].space.record(area));
        assert_eq!(k.tasks[&10].space.area(), Some(area));
        // Its exec gives it a new, empty one; the parent keeps the area.
        k.task_execed(20, 20);
        assert_eq!(k.tasks[&20].space.area(), None);
        assert_eq!(k.tasks[&10].space.area(), Some(area));
        // A fork copies the area the address space had at the call's entry, and only that.
        k.tasks.get_mut(&10).expect("init").area_at_clone = Some(area);
        k.task_created(10, 30, false);
        assert_eq!(k.tasks[&30].space.area(), Some(area));
        k.task_created(10, 40, false);
        assert_eq!(k.tasks[&40].space.area(), None, "no entry seen: no area");
        // A thread shares it.
        k.tasks.get_mut(&30).expect("child").clone_args =
            Some([(libc::CLONE_THREAD | libc::CLONE_VM) as u64, 0, 0, 0, 0, 0]);
        k.task_created(30, 31, false);
        assert!(std::sync::Arc::ptr_eq(
            &k.tasks[&30].space,
            &k.tasks[&31].space
        ));
    }

    #[test]
    fn a_thread_shares_its_process_and_a_new_pid_namespace_starts_at_one() {
        let mut k = kernel_with_init(10);
        k.tasks.get_mut(&10).expect("init").clone_args = Some([
            libc::CLONE_THREAD as u64 | libc::CLONE_VM as u64,
            0,
            0,
            0,
            0,
            0,
        ]);
        k.task_created(10, 11, false);
        assert_eq!(k.tgid_of(11), 10);
        assert_eq!(k.vpid_for(11, 10), 1);
        k.tasks.get_mut(&10).expect("init").clone_args =
            Some([libc::CLONE_NEWPID as u64, 0, 0, 0, 0, 0]);
        k.task_created(10, 40, false);
        let ns = k.ns_of(40);
        assert_ne!(ns, ROOT_NS);
        assert_eq!(k.vpid_for(40, 40), 1);
        k.task_created(40, 50, false);
        let mut members = k.members_of(ns);
        members.sort();
        assert_eq!(members, [40, 50]);
        // The namespace's init exits: the namespace is named for its members to end.
        assert_eq!(k.task_exited(40), Some(Some(ns)));
        // An exec by a thread leaves the process as that one task, under the leader's id.
        k.task_execed(10, 11);
        assert!(!k.tasks.contains_key(&11));
        assert_eq!(k.tgid_of(10), 10);
    }
}

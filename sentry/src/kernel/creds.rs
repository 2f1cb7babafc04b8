//! Credentials as the sandbox sees them.
//!
//! On the host every task of the sandbox runs without privilege: NO_NEW_PRIVS, empty
//! capability sets and, when the sentry runs as root, a host uid/gid of its own (`--user`,
//! see `platform_ptrace::SpawnSpec::credentials`). Inside, each task has the credentials
//! kept here: real, effective, saved and file-system uid and gid, supplementary groups and
//! the capability sets, starting from `--sandbox-user` (root by default). They are copied
//! to new tasks at clone/fork and follow Linux's rules at execve, where set-user-ID and
//! set-group-ID bits and file capabilities are ignored, as on a `nosuid` mount.
//!
//! File owners: the host files owned by the sentry's own uid/gid appear owned by the
//! sandbox user/group, and `chown` inside is recorded in an owner table keyed by
//! (device, inode), since the host cannot store an arbitrary owner for an unprivileged
//! sentry (and must not, for a privileged one: sandbox ids are not host ids).

use hashbrown::HashMap;
use std::sync::OnceLock;

/// Capability numbers this module needs by name (linux/capability.h).
pub const CAP_CHOWN: u32 = 0;
pub const CAP_DAC_OVERRIDE: u32 = 1;
pub const CAP_DAC_READ_SEARCH: u32 = 2;
pub const CAP_FOWNER: u32 = 3;
pub const CAP_FSETID: u32 = 4;
pub const CAP_KILL: u32 = 5;
pub const CAP_SETGID: u32 = 6;
pub const CAP_SETUID: u32 = 7;
pub const CAP_SETPCAP: u32 = 8;
pub const CAP_IPC_LOCK: u32 = 14;
pub const CAP_IPC_OWNER: u32 = 15;
pub const CAP_SYS_PTRACE: u32 = 19;
pub const CAP_SYS_ADMIN: u32 = 21;
pub const CAP_SYS_NICE: u32 = 23;
pub const CAP_SYS_RESOURCE: u32 = 24;
const CAP_LINUX_IMMUTABLE: u32 = 9;
const CAP_MKNOD: u32 = 27;
const CAP_MAC_OVERRIDE: u32 = 32;

/// The capabilities that follow the file-system uid (CAP_FS_MASK of the kernel).
const FS_MASK: u64 = bit(CAP_CHOWN)
    | bit(CAP_DAC_OVERRIDE)
    | bit(CAP_DAC_READ_SEARCH)
    | bit(CAP_FOWNER)
    | bit(CAP_FSETID)
    | bit(CAP_LINUX_IMMUTABLE)
    | bit(CAP_MKNOD)
    | bit(CAP_MAC_OVERRIDE);

/// Linux's NGROUPS_MAX.
pub const NGROUPS_MAX: usize = 65536;

const fn bit(cap: u32) -> u64 {
    1 << cap
}

/// Every capability the host kernel knows (bits 0..=cap_last_cap).
pub fn full_caps() -> u64 {
    static FULL: OnceLock<u64> = OnceLock::new();
    *FULL.get_or_init(|| {
        let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .filter(|&n| n < 64)
            .unwrap_or(40);
        if last == 63 {
            u64::MAX
        } else {
            (1u64 << (last + 1)) - 1
        }
    })
}

pub use crate::config::Ids;

/// How host ids and sandbox ids relate for this run.
#[derive(Debug, Clone, Copy)]
pub struct Identity {
    /// The identity of the sandbox's first task (`--sandbox-user`).
    pub sandbox: Ids,
    /// Host files owned by these ids appear owned by `sandbox` (the sentry's own ids).
    pub host_owner: Ids,
    /// Whether the sandbox's tasks run under another host uid than the sentry (`--user` of
    /// a root sentry): inode changes through their fds are then made by the sentry.
    pub switched: bool,
    /// RLIMIT_CORE (soft, hard) the sandbox starts with: the sentry's own before it pinned it.
    pub core_limit: (u64, u64),
}

impl Default for Identity {
    fn default() -> Self {
        Identity::new(Ids { uid: 0, gid: 0 }, false, (0, u64::MAX))
    }
}

impl Identity {
    /// The identity of a run whose sandbox user is `sandbox`; the host owner is the sentry.
    pub fn new(sandbox: Ids, switched: bool, core_limit: (u64, u64)) -> Identity {
        // SAFETY: geteuid and getegid have no preconditions and cannot fail.
        let host_owner = unsafe {
            Ids {
                uid: libc::geteuid(),
                gid: libc::getegid(),
            }
        };
        Identity {
            sandbox,
            host_owner,
            switched,
            core_limit,
        }
    }

    /// The credentials of the sandbox's first task.
    pub fn initial_creds(&self) -> Creds {
        Creds::initial(self.sandbox, self.core_limit)
    }

    /// Host ids in the sandbox's terms (without the owner table): the sentry's own ids are
    /// the sandbox user's, every other id shows as it is.
    pub fn shown_ids(&self, uid: u32, gid: u32) -> Ids {
        Ids {
            uid: if uid == self.host_owner.uid {
                self.sandbox.uid
            } else {
                uid
            },
            gid: if gid == self.host_owner.gid {
                self.sandbox.gid
            } else {
                gid
            },
        }
    }

    /// Whether stat results can differ from the host's: the mapping is not the identity, or
    /// the sandbox can record owners (a root sandbox may chown).
    pub fn maps_owners(&self) -> bool {
        self.sandbox != self.host_owner || self.sandbox.uid == 0
    }
}

/// The credentials of one task, as the sandbox sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creds {
    pub ruid: u32,
    pub euid: u32,
    pub suid: u32,
    pub fsuid: u32,
    pub rgid: u32,
    pub egid: u32,
    pub sgid: u32,
    pub fsgid: u32,
    pub groups: Vec<u32>,
    pub cap_effective: u64,
    pub cap_permitted: u64,
    pub cap_inheritable: u64,
    pub cap_bounding: u64,
    pub cap_ambient: u64,
    /// PR_SET_KEEPCAPS (SECBIT_KEEP_CAPS): a change away from uid 0 keeps the permitted set.
    pub keep_caps: bool,
    /// PR_SET_NO_NEW_PRIVS as the task set it (on the host every task has it already).
    pub no_new_privs: bool,
    /// PR_SET_DUMPABLE as the process set it: on the host every task stays dumpable, or
    /// the sentry could no longer read its memory. Kept on each thread of the process.
    pub dumpable: bool,
    /// RLIMIT_CORE (soft, hard) as the process set it: on the host it is pinned to one byte,
    /// so the host kernel never writes a core file for the sandbox. Kept on each thread.
    pub core_limit: (u64, u64),
}

/// The host's fs.suid_dumpable (0, 1 or 2; 0 if unreadable), read once.
fn suid_dumpable() -> u8 {
    static VALUE: std::sync::OnceLock<u8> = std::sync::OnceLock::new();
    *VALUE.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/fs/suid_dumpable")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    })
}

/// Pins the host RLIMIT_CORE of the sentry (and so of every task it starts) to one byte,
/// which stops both core files and core_pattern pipe helpers; the limit it had, which the
/// sandbox sees instead.
pub fn pin_core_limit() -> std::io::Result<(u64, u64)> {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: u64::MAX,
    };
    // SAFETY: getrlimit writes one rlimit into memory we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut old) } != 0 {
        old = libc::rlimit {
            rlim_cur: 0,
            rlim_max: u64::MAX,
        };
    }
    let pinned = libc::rlimit {
        rlim_cur: 1,
        rlim_max: 1,
    };
    // SAFETY: setrlimit reads one rlimit from memory we own.
    if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &pinned) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((old.rlim_cur, old.rlim_max))
}

/// Which uid (or gid) call is being made, for the capability rules of setuid(2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    /// setuid, setreuid, setresuid.
    Ids,
    /// setfsuid.
    Fs,
}

/// "No change" in the set*id calls.
const KEEP: u32 = u32::MAX;

impl Creds {
    /// The credentials of the first task: every id `ids`, no supplementary group, and
    /// for root the full capability sets (as after a login as that user).
    pub fn initial(ids: Ids, core_limit: (u64, u64)) -> Creds {
        let caps = if ids.uid == 0 { full_caps() } else { 0 };
        Creds {
            ruid: ids.uid,
            euid: ids.uid,
            suid: ids.uid,
            fsuid: ids.uid,
            rgid: ids.gid,
            egid: ids.gid,
            sgid: ids.gid,
            fsgid: ids.gid,
            groups: Vec::new(),
            cap_effective: caps,
            cap_permitted: caps,
            cap_inheritable: 0,
            cap_bounding: full_caps(),
            cap_ambient: 0,
            keep_caps: false,
            no_new_privs: false,
            dumpable: true,
            core_limit,
        }
    }

    pub fn capable(&self, cap: u32) -> bool {
        self.cap_effective & bit(cap) != 0
    }

    /// Whether `gid` is the task's file-system gid or one of its groups (in_group_p).
    pub fn in_group(&self, gid: u32) -> bool {
        gid == self.fsgid || self.groups.contains(&gid)
    }

    /// The capability rules that follow a change of uids (cap_task_fix_setuid, without
    /// SECBIT_KEEP_CAPS or SECBIT_NO_SETUID_FIXUP).
    fn fix_caps(&mut self, old: &Creds, change: Change) {
        match change {
            Change::Ids => {
                let was_root = old.ruid == 0 || old.euid == 0 || old.suid == 0;
                let is_root = self.ruid == 0 || self.euid == 0 || self.suid == 0;
                if was_root && !is_root {
                    if !self.keep_caps {
                        self.cap_permitted = 0;
                    }
                    self.cap_effective = 0;
                    self.cap_ambient = 0;
                }
                if old.euid == 0 && self.euid != 0 {
                    self.cap_effective = 0;
                }
                if old.euid != 0 && self.euid == 0 {
                    self.cap_effective = self.cap_permitted;
                }
            }
            Change::Fs => {
                if old.fsuid == 0 && self.fsuid != 0 {
                    self.cap_effective &= !FS_MASK;
                }
                if old.fsuid != 0 && self.fsuid == 0 {
                    self.cap_effective |= self.cap_permitted & FS_MASK;
                }
            }
        }
    }

    /// commit_creds's rule for the process's dumpable flag: a change of the effective or
    /// file-system ids, or permitted capabilities gained, set it to the host's
    /// fs.suid_dumpable, which the sentry keeps as dumpable only when it is 1 (2, "root
    /// only", writes no core to the sandbox's relative core_pattern, and PR_GET_DUMPABLE then
    /// says 0 where Linux says 2).
    fn dumpable_after(&mut self, old: &Creds) {
        let changed = self.euid != old.euid
            || self.egid != old.egid
            || self.fsuid != old.fsuid
            || self.fsgid != old.fsgid
            || self.cap_permitted & !old.cap_permitted != 0;
        if changed {
            self.dumpable = suid_dumpable() == 1;
        }
    }

    /// setuid(2).
    pub fn setuid(&mut self, uid: u32) -> Result<(), i32> {
        if uid == KEEP {
            return Err(libc::EINVAL);
        }
        let old = self.clone();
        if self.capable(CAP_SETUID) {
            self.ruid = uid;
            self.suid = uid;
        } else if uid != self.ruid && uid != self.suid {
            return Err(libc::EPERM);
        }
        self.euid = uid;
        self.fsuid = uid;
        self.fix_caps(&old, Change::Ids);
        self.dumpable_after(&old);
        Ok(())
    }

    /// setreuid(2).
    pub fn setreuid(&mut self, ruid: u32, euid: u32) -> Result<(), i32> {
        let old = self.clone();
        let privileged = self.capable(CAP_SETUID);
        if ruid != KEEP && !privileged && ruid != old.ruid && ruid != old.euid {
            return Err(libc::EPERM);
        }
        if euid != KEEP && !privileged && ![old.ruid, old.euid, old.suid].contains(&euid) {
            return Err(libc::EPERM);
        }
        if ruid != KEEP {
            self.ruid = ruid;
        }
        if euid != KEEP {
            self.euid = euid;
        }
        if ruid != KEEP || (euid != KEEP && euid != old.ruid) {
            self.suid = self.euid;
        }
        self.fsuid = self.euid;
        self.fix_caps(&old, Change::Ids);
        self.dumpable_after(&old);
        Ok(())
    }

    /// setresuid(2).
    pub fn setresuid(&mut self, ruid: u32, euid: u32, suid: u32) -> Result<(), i32> {
        let old = self.clone();
        if !self.capable(CAP_SETUID) {
            let allowed = [old.ruid, old.euid, old.suid];
            if [ruid, euid, suid]
                .iter()
                .any(|&id| id != KEEP && !allowed.contains(&id))
            {
                return Err(libc::EPERM);
            }
        }
        if ruid != KEEP {
            self.ruid = ruid;
        }
        if euid != KEEP {
            self.euid = euid;
        }
        if suid != KEEP {
            self.suid = suid;
        }
        self.fsuid = self.euid;
        self.fix_caps(&old, Change::Ids);
        self.dumpable_after(&old);
        Ok(())
    }

    /// setfsuid(2): always the old fsuid; the new one only when allowed.
    pub fn setfsuid(&mut self, fsuid: u32) -> u32 {
        let old = self.clone();
        let allowed =
            [old.ruid, old.euid, old.suid, old.fsuid].contains(&fsuid) || self.capable(CAP_SETUID);
        if fsuid != KEEP && allowed && fsuid != old.fsuid {
            self.fsuid = fsuid;
            self.fix_caps(&old, Change::Fs);
            self.dumpable_after(&old);
        }
        old.fsuid
    }

    /// setgid(2).
    pub fn setgid(&mut self, gid: u32) -> Result<(), i32> {
        if gid == KEEP {
            return Err(libc::EINVAL);
        }
        let old = self.clone();
        if self.capable(CAP_SETGID) {
            self.rgid = gid;
            self.sgid = gid;
        } else if gid != self.rgid && gid != self.sgid {
            return Err(libc::EPERM);
        }
        self.egid = gid;
        self.fsgid = gid;
        self.dumpable_after(&old);
        Ok(())
    }

    /// setregid(2).
    pub fn setregid(&mut self, rgid: u32, egid: u32) -> Result<(), i32> {
        let old = self.clone();
        let privileged = self.capable(CAP_SETGID);
        if rgid != KEEP && !privileged && rgid != old.rgid && rgid != old.egid {
            return Err(libc::EPERM);
        }
        if egid != KEEP && !privileged && ![old.rgid, old.egid, old.sgid].contains(&egid) {
            return Err(libc::EPERM);
        }
        if rgid != KEEP {
            self.rgid = rgid;
        }
        if egid != KEEP {
            self.egid = egid;
        }
        if rgid != KEEP || (egid != KEEP && egid != old.rgid) {
            self.sgid = self.egid;
        }
        self.fsgid = self.egid;
        self.dumpable_after(&old);
        Ok(())
    }

    /// setresgid(2).
    pub fn setresgid(&mut self, rgid: u32, egid: u32, sgid: u32) -> Result<(), i32> {
        let old = self.clone();
        if !self.capable(CAP_SETGID) {
            let allowed = [self.rgid, self.egid, self.sgid];
            if [rgid, egid, sgid]
                .iter()
                .any(|&id| id != KEEP && !allowed.contains(&id))
            {
                return Err(libc::EPERM);
            }
        }
        if rgid != KEEP {
            self.rgid = rgid;
        }
        if egid != KEEP {
            self.egid = egid;
        }
        if sgid != KEEP {
            self.sgid = sgid;
        }
        self.fsgid = self.egid;
        self.dumpable_after(&old);
        Ok(())
    }

    /// setfsgid(2): always the old fsgid; the new one only when allowed.
    pub fn setfsgid(&mut self, fsgid: u32) -> u32 {
        let old = self.clone();
        let allowed = [self.rgid, self.egid, self.sgid, self.fsgid].contains(&fsgid)
            || self.capable(CAP_SETGID);
        if fsgid != KEEP && allowed {
            self.fsgid = fsgid;
            self.dumpable_after(&old);
        }
        old.fsgid
    }

    /// setgroups(2), with the list already read: sorted, as the kernel keeps it.
    pub fn setgroups(&mut self, mut groups: Vec<u32>) -> Result<(), i32> {
        if !self.capable(CAP_SETGID) {
            return Err(libc::EPERM);
        }
        groups.sort_unstable();
        self.groups = groups;
        Ok(())
    }

    /// capset(2) on the caller's own sets (cap_capset).
    pub fn capset(&mut self, effective: u64, permitted: u64, inheritable: u64) -> Result<(), i32> {
        let valid = full_caps();
        let (effective, permitted, inheritable) =
            (effective & valid, permitted & valid, inheritable & valid);
        let subset = |a: u64, b: u64| a & !b == 0;
        if !self.capable(CAP_SETPCAP)
            && !subset(inheritable, self.cap_inheritable | self.cap_permitted)
        {
            return Err(libc::EPERM);
        }
        if !subset(inheritable, self.cap_inheritable | self.cap_bounding) {
            return Err(libc::EPERM);
        }
        if !subset(permitted, self.cap_permitted) || !subset(effective, permitted) {
            return Err(libc::EPERM);
        }
        self.cap_effective = effective;
        self.cap_permitted = permitted;
        self.cap_inheritable = inheritable;
        self.cap_ambient &= permitted & inheritable;
        Ok(())
    }

    /// After a successful execve. Set-user-ID and set-group-ID bits and file capabilities
    /// are ignored (nosuid): the ids stay the caller's, the saved and file-system ids follow
    /// the effective ones, and the capability sets are computed as for a file without
    /// capabilities, with root's special case (cap_bprm_creds_from_file).
    pub fn on_exec(&mut self) {
        self.keep_caps = false;
        self.dumpable = true;
        self.suid = self.euid;
        self.fsuid = self.euid;
        self.sgid = self.egid;
        self.fsgid = self.egid;
        if self.euid == 0 || self.ruid == 0 {
            // Root: the program is treated as having every file capability; the ambient
            // set stays (only file capabilities or set-id bits clear it, and neither
            // applies here), and joins the permitted one as for anyone.
            self.cap_permitted = self.cap_inheritable | self.cap_bounding | self.cap_ambient;
            self.cap_effective = if self.euid == 0 {
                self.cap_permitted
            } else {
                self.cap_ambient
            };
        } else {
            self.cap_permitted = self.cap_ambient;
            self.cap_effective = self.cap_ambient;
        }
    }

    /// Whether the task may access a file with `mode`, shown owner `uid`:`gid`, for `want`
    /// (a mask of R_OK, W_OK, X_OK), as generic_permission decides.
    pub fn may_access(&self, mode: u32, uid: u32, gid: u32, want: i32) -> bool {
        let want = (want & 7) as u32;
        let is_dir = mode & libc::S_IFMT == libc::S_IFDIR;
        let class = if self.fsuid == uid {
            (mode >> 6) & 7
        } else if self.in_group(gid) {
            (mode >> 3) & 7
        } else {
            mode & 7
        };
        if class & want == want {
            return true;
        }
        // The capabilities follow the fsuid: a root fsuid has them, others lose them.
        if self.capable(CAP_DAC_OVERRIDE) {
            // Execute is granted only when some execute bit is set (or a directory).
            let exec_ok = want & 1 == 0 || is_dir || mode & 0o111 != 0;
            return exec_ok;
        }
        if self.capable(CAP_DAC_READ_SEARCH) {
            let read_search = want & 2 == 0 && (want & 1 == 0 || is_dir);
            if read_search {
                return true;
            }
        }
        false
    }

    /// Whether the task may make a hard link to a file with `mode` and shown owner
    /// `uid`:`gid`, as Linux's protected_hardlinks decides: its owner (or CAP_FOWNER) may,
    /// and anyone may link a regular file that is neither set-user-ID nor an executable
    /// set-group-ID and that they may read and write.
    pub fn may_link(&self, mode: u32, uid: u32, gid: u32) -> bool {
        if self.fsuid == uid || self.capable(CAP_FOWNER) {
            return true;
        }
        let setgid_exec = libc::S_ISGID | libc::S_IXGRP;
        mode & libc::S_IFMT == libc::S_IFREG
            && mode & libc::S_ISUID == 0
            && mode & setgid_exec != setgid_exec
            && self.may_access(mode, uid, gid, libc::R_OK | libc::W_OK)
    }

    /// Whether the task may set or remove a user.* attribute of a file with `mode` and
    /// shown owner `uid` beyond write permission: only regular files and directories have
    /// them, and a sticky directory's are its owner's (or CAP_FOWNER's).
    pub fn may_change_user_xattr(&self, mode: u32, uid: u32) -> bool {
        let kind = mode & libc::S_IFMT;
        let sticky_dir = kind == libc::S_IFDIR && mode & libc::S_ISVTX != 0;
        (kind == libc::S_IFREG || kind == libc::S_IFDIR)
            && (!sticky_dir || self.fsuid == uid || self.capable(CAP_FOWNER))
    }

    /// Whether a task with these credentials may inspect one with `target`'s as ptrace's
    /// "attach, real credentials" check allows (pidfd_getfd, /proc/<pid>/mem): the same
    /// real, effective and saved ids and a dumpable target, or CAP_SYS_PTRACE.
    pub fn may_inspect(&self, target: &Creds) -> bool {
        self.capable(CAP_SYS_PTRACE) || (self.owns(target) && target.dumpable)
    }

    /// Whether `target`'s real, effective and saved uids and gids are all this task's real
    /// uid and gid.
    fn owns(&self, target: &Creds) -> bool {
        let same_uids = [target.ruid, target.euid, target.suid]
            .iter()
            .all(|&u| u == self.ruid);
        let same_gids = [target.rgid, target.egid, target.sgid]
            .iter()
            .all(|&g| g == self.rgid);
        same_uids && same_gids
    }

    /// Whether the task may signal a process with `target`'s credentials, as Linux's
    /// kill_ok_by_cred: its real or effective uid is the target's real or saved uid, or
    /// CAP_KILL. (SIGCONT within a session is the caller's to allow.)
    pub fn may_signal(&self, target: &Creds) -> bool {
        self.capable(CAP_KILL)
            || [self.ruid, self.euid]
                .iter()
                .any(|&u| u == target.ruid || u == target.suid)
    }

    /// Whether the task may change the scheduling (priority, policy, affinity) of a process
    /// with `target`'s credentials, as Linux's check_same_owner: its effective uid is the
    /// target's real or effective uid, or CAP_SYS_NICE.
    pub fn may_reschedule(&self, target: &Creds) -> bool {
        self.capable(CAP_SYS_NICE) || self.euid == target.ruid || self.euid == target.euid
    }

    /// Whether the task may read or set the resource limits of a process with `target`'s
    /// credentials, as Linux's check_prlimit_permission: the target's real, effective and
    /// saved ids are all the caller's real ones, or CAP_SYS_RESOURCE.
    pub fn may_limit(&self, target: &Creds) -> bool {
        self.owns(target) || self.capable(CAP_SYS_RESOURCE)
    }

    /// Whether the file checks of the sentry apply (a task without DAC override).
    pub fn checks_files(&self) -> bool {
        !self.capable(CAP_DAC_OVERRIDE)
    }
}

const SPECIAL: u32 = libc::S_ISUID | libc::S_ISGID;

/// What the sandbox gave files that the host file does not carry, keyed by (host device,
/// host inode): owners it gave with chown (or got by creating a file under another
/// identity), and set-user-ID and set-group-ID bits it gave with chmod, which on the host
/// file would hand the sentry's host identity to whoever runs it.
#[derive(Debug, Default)]
pub struct Owners {
    owners: HashMap<(u64, u64), Ids>,
    special: HashMap<(u64, u64), u32>,
}

impl Owners {
    /// Records the set-user-ID and set-group-ID bits of `mode` for a file (not a directory,
    /// whose set-group-ID bit stays on the host).
    pub fn record_special_bits(&mut self, dev: u64, ino: u64, mode: u32) {
        match mode & SPECIAL {
            0 => self.special.remove(&(dev, ino)),
            bits => self.special.insert((dev, ino), bits),
        };
    }

    /// The set-user-ID and set-group-ID bits the sandbox gave a file.
    pub fn special_bits(&self, dev: u64, ino: u64) -> u32 {
        self.special.get(&(dev, ino)).copied().unwrap_or(0)
    }

    /// Records the owner the sandbox gave an inode.
    pub fn record(&mut self, dev: u64, ino: u64, ids: Ids) {
        self.owners.insert((dev, ino), ids);
    }

    /// Forgets an inode (its last name is gone; its number may be reused).
    pub fn forget(&mut self, dev: u64, ino: u64) {
        self.owners.remove(&(dev, ino));
        self.special.remove(&(dev, ino));
    }

    /// Whether any owner or mode bit is recorded (so that removals must look up the inode
    /// first).
    pub fn any(&self) -> bool {
        !self.owners.is_empty() || !self.special.is_empty()
    }

    /// The owner the sandbox sees for a host inode owned by `uid`:`gid`.
    pub fn shown(&self, identity: &Identity, dev: u64, ino: u64, uid: u32, gid: u32) -> Ids {
        match self.owners.get(&(dev, ino)) {
            Some(&ids) => ids,
            None => identity.shown_ids(uid, gid),
        }
    }

    /// Rewrites the owner of a `struct stat`.
    pub fn map_stat(&self, identity: &Identity, st: &mut libc::stat) {
        let ids = self.shown(identity, st.st_dev, st.st_ino, st.st_uid, st.st_gid);
        st.st_uid = ids.uid;
        st.st_gid = ids.gid;
        st.st_mode |= self.special_bits(st.st_dev, st.st_ino);
    }

    /// Rewrites the owner of a `struct statx` (when the kernel filled it).
    pub fn map_statx(&self, identity: &Identity, stx: &mut libc::statx) {
        let dev = libc::makedev(stx.stx_dev_major, stx.stx_dev_minor);
        let ids = self.shown(identity, dev, stx.stx_ino, stx.stx_uid, stx.stx_gid);
        if stx.stx_mask & libc::STATX_UID != 0 {
            stx.stx_uid = ids.uid;
        }
        if stx.stx_mask & libc::STATX_GID != 0 {
            stx.stx_gid = ids.gid;
        }
        if stx.stx_mask & libc::STATX_MODE != 0 {
            stx.stx_mode |= self.special_bits(dev, stx.stx_ino) as u16;
        }
    }
}

/// The host ids the sandbox's tasks run as (`--user`), checked: `requested` (default
/// 65534:65534) when the sentry runs as root; the sentry's own ids otherwise, where a
/// `--user` naming other ids is refused (only root can switch). Root's ids are refused:
/// a task must never hold the host's root uid, even without capabilities.
pub fn host_user(requested: Option<Ids>) -> Result<Option<Ids>, String> {
    // SAFETY: the get*id calls have no preconditions and cannot fail.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    if uid != 0 {
        return match requested {
            Some(ids) if ids.uid != uid || ids.gid != gid => Err(format!(
                "--user {}:{}: only a sentry running as root can run the sandbox as another                  host user (this one runs as {uid}:{gid})",
                ids.uid, ids.gid
            )),
            _ => Ok(None),
        };
    }
    let ids = requested.unwrap_or(Ids {
        uid: 65534,
        gid: 65534,
    });
    if ids.uid == 0 || ids.gid == 0 {
        return Err(format!(
            "--user {}:{}: the sandbox must not run as the host's root user or group",
            ids.uid, ids.gid
        ));
    }
    for (id, map, what) in [(ids.uid, "uid_map", "uid"), (ids.gid, "gid_map", "gid")] {
        if !mapped(id, map) {
            return Err(format!(
                "--user {}:{}: {what} {id} cannot be used on this host (not in /proc/self/{map})",
                ids.uid, ids.gid
            ));
        }
    }
    Ok(Some(ids))
}

/// Whether `id` is mapped in the sentry's user namespace (/proc/self/uid_map or gid_map).
fn mapped(id: u32, map: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(format!("/proc/self/{map}")) else {
        return true;
    };
    text.lines().any(|line| {
        let f: Vec<u64> = line
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        f.len() == 3 && (id as u64) >= f[0] && (id as u64) < f[0] + f[2]
    })
}

/// The gofer's confinement of privilege, when the sentry (and so the gofer) runs as root:
/// it keeps only what serving files owned by anyone needs, CAP_DAC_OVERRIDE,
/// CAP_DAC_READ_SEARCH and CAP_FOWNER (chmod and utimes of files it does not own), and
/// drops every other capability from all its sets, the bounding set included. It needs
/// no CAP_CHOWN: chown inside the sandbox is kept by the sentry, never done on the host.
pub fn confine_gofer() -> Result<(), String> {
    let keep = bit(CAP_DAC_OVERRIDE) | bit(CAP_DAC_READ_SEARCH) | bit(CAP_FOWNER);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    let last = 63 - full_caps().leading_zeros();
    for cap in 0..=last {
        if keep & bit(cap) == 0 {
            // SAFETY: prctl with integer arguments.
            if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) } != 0 {
                return Err(format!(
                    "cannot drop capability {cap}: {}",
                    std::io::Error::last_os_error()
                ));
            }
        }
    }
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut header = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let data = [
        Data {
            effective: keep as u32,
            permitted: keep as u32,
            inheritable: 0,
        },
        Data {
            effective: (keep >> 32) as u32,
            permitted: (keep >> 32) as u32,
            inheritable: 0,
        },
    ];
    // SAFETY: capset reads the header and two data structs we own.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) };
    if rc != 0 {
        return Err(format!("capset: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: prctl with integer arguments.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> Creds {
        Creds::initial(Ids { uid: 0, gid: 0 }, (0, u64::MAX))
    }

    fn user(uid: u32) -> Creds {
        Creds::initial(Ids { uid, gid: uid }, (0, u64::MAX))
    }

    #[test]
    fn parse_ids() {
        assert_eq!(
            Ids::parse("1000:100", "--user"),
            Ok(Ids {
                uid: 1000,
                gid: 100
            })
        );
        for bad in [
            "",
            ":",
            "1000",
            "1000:",
            ":1",
            "a:b",
            "-1:0",
            "1:2:3",
            "4294967295:0",
            " 1:2",
            "99999999999:0",
        ] {
            assert!(Ids::parse(bad, "--user").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_change_of_ids_makes_the_process_dumpable_as_fs_suid_dumpable_says() {
        let after_change = suid_dumpable() == 1;
        // Ids set to what they are change nothing.
        let mut c = root();
        c.setuid(0).unwrap();
        c.setresgid(0, 0, 0).unwrap();
        assert!(c.dumpable);
        for change in [
            |c: &mut Creds| c.setuid(1000),
            |c: &mut Creds| c.setresuid(KEEP, 7, KEEP),
            |c: &mut Creds| c.setreuid(KEEP, 7),
            |c: &mut Creds| c.setgid(7),
            |c: &mut Creds| c.setregid(KEEP, 7),
            |c: &mut Creds| c.setresgid(KEEP, 7, KEEP),
            |c: &mut Creds| {
                c.setfsuid(7);
                Ok(())
            },
            |c: &mut Creds| {
                c.setfsgid(7);
                Ok(())
            },
        ] {
            let mut c = root();
            change(&mut c).unwrap();
            assert_eq!(c.dumpable, after_change);
        }
        // Only the real or saved id: still dumpable.
        let mut c = root();
        c.setresuid(7, KEEP, 7).unwrap();
        assert!(c.dumpable);
        // A refused change changes nothing.
        let mut c = user(1000);
        assert_eq!(c.setuid(7), Err(libc::EPERM));
        assert!(c.dumpable);
    }

    #[test]
    fn root_drops_and_cannot_regain() {
        let mut c = root();
        assert!(c.capable(CAP_SETUID));
        c.setuid(1000).unwrap();
        assert_eq!((c.ruid, c.euid, c.suid, c.fsuid), (1000, 1000, 1000, 1000));
        assert_eq!(c.cap_permitted, 0);
        assert_eq!(c.cap_effective, 0);
        assert_eq!(c.setuid(0), Err(libc::EPERM));
        assert_eq!(c.setresuid(0, KEEP, KEEP), Err(libc::EPERM));
    }

    #[test]
    fn seteuid_keeps_the_saved_root() {
        let mut c = root();
        c.setresuid(KEEP, 1000, KEEP).unwrap();
        assert_eq!((c.ruid, c.euid, c.suid), (0, 1000, 0));
        assert_eq!(c.cap_effective, 0);
        assert_eq!(c.cap_permitted, full_caps());
        c.setresuid(KEEP, 0, KEEP).unwrap();
        assert_eq!(c.cap_effective, full_caps());
    }

    #[test]
    fn unprivileged_rules() {
        let mut c = user(1000);
        assert_eq!(c.setuid(0), Err(libc::EPERM));
        assert_eq!(c.setgid(0), Err(libc::EPERM));
        assert_eq!(c.setgroups(vec![1]), Err(libc::EPERM));
        assert_eq!(c.setreuid(1000, 1000), Ok(()));
        assert_eq!(c.setfsuid(0), 1000);
        assert_eq!(c.fsuid, 1000);
        assert_eq!(c.setuid(u32::MAX), Err(libc::EINVAL));
        assert_eq!(c.capset(0, 1, 0), Err(libc::EPERM));
    }

    #[test]
    fn setreuid_sets_saved() {
        let mut c = root();
        c.setreuid(KEEP, 5).unwrap();
        assert_eq!((c.ruid, c.euid, c.suid), (0, 5, 5));
    }

    #[test]
    fn fsuid_moves_fs_caps() {
        let mut c = root();
        assert_eq!(c.setfsuid(7), 0);
        assert!(!c.capable(CAP_DAC_OVERRIDE));
        assert!(c.capable(CAP_SETUID));
        assert_eq!(c.setfsuid(0), 7);
        assert!(c.capable(CAP_DAC_OVERRIDE));
    }

    #[test]
    fn exec_ignores_set_id_and_recomputes_caps() {
        let mut c = root();
        c.capset(0, full_caps(), 0).unwrap();
        c.on_exec();
        assert_eq!(c.cap_effective, full_caps());
        let mut u = user(1000);
        u.on_exec();
        assert_eq!((u.euid, u.cap_permitted), (1000, 0));
    }

    #[test]
    fn access_rules() {
        let u = user(1000);
        assert!(!u.may_access(libc::S_IFREG | 0o600, 1001, 1001, libc::R_OK));
        assert!(u.may_access(libc::S_IFREG | 0o600, 1000, 1000, libc::R_OK));
        assert!(u.may_access(libc::S_IFREG | 0o644, 0, 0, libc::R_OK));
        let r = root();
        assert!(r.may_access(libc::S_IFREG | 0o600, 1001, 1001, libc::R_OK | libc::W_OK));
        assert!(!r.may_access(libc::S_IFREG | 0o600, 1001, 1001, libc::X_OK));
    }

    #[test]
    fn other_processes_are_signalled_and_changed_by_their_owner() {
        let (u, other, r) = (user(1000), user(1001), root());
        assert!(u.may_signal(&user(1000)) && !u.may_signal(&other) && r.may_signal(&other));
        let mut setuid_child = user(1001);
        setuid_child.suid = 1000;
        assert!(u.may_signal(&setuid_child), "the saved uid is the sender's");
        assert!(!u.may_reschedule(&other) && r.may_reschedule(&other));
        assert!(u.may_limit(&user(1000)) && !u.may_limit(&setuid_child));
        assert!(r.may_limit(&other));
    }

    #[test]
    fn hard_links_follow_protected_hardlinks() {
        let u = user(1000);
        let reg = libc::S_IFREG;
        assert!(u.may_link(reg | 0o600, 1000, 1000), "own file");
        assert!(!u.may_link(reg | 0o644, 0, 0), "readable, not writable");
        assert!(u.may_link(reg | 0o666, 0, 0), "readable and writable");
        assert!(
            !u.may_link(reg | libc::S_ISUID | 0o666, 0, 0),
            "set-user-ID"
        );
        assert!(
            !u.may_link(reg | libc::S_ISGID | 0o676, 0, 0),
            "executable set-group-ID"
        );
        assert!(
            u.may_link(reg | libc::S_ISGID | 0o666, 0, 0),
            "set-group-ID, no group x"
        );
        assert!(
            !u.may_link(libc::S_IFIFO | 0o666, 0, 0),
            "not a regular file"
        );
        assert!(root().may_link(reg | 0o600, 1001, 1001), "CAP_FOWNER");
    }

    #[test]
    fn user_attributes_of_sticky_directories_are_the_owners() {
        let u = user(1000);
        let sticky = libc::S_IFDIR | libc::S_ISVTX | 0o777;
        assert!(!u.may_change_user_xattr(sticky, 0));
        assert!(u.may_change_user_xattr(sticky, 1000));
        assert!(root().may_change_user_xattr(sticky, 1000));
        assert!(u.may_change_user_xattr(libc::S_IFDIR | 0o777, 0));
        assert!(u.may_change_user_xattr(libc::S_IFREG | 0o666, 0));
        assert!(!u.may_change_user_xattr(libc::S_IFLNK | 0o777, 1000));
    }
}

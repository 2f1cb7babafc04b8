//! The sandbox's SysV IPC namespace. The host has one set of keys and ids for everybody, so
//! every object the sandbox makes is an IPC_PRIVATE object on the host; the keys the sandbox
//! names live here, mapped to the host ids of its objects. The sandbox reaches only the
//! objects it created, at most [`max_objects`] of each kind, and every one of them is
//! removed from the host when the sandbox ends: by the sentry, or by its janitor when the
//! sentry could not (SIGKILLed), from a journal of the objects made and removed.
//!
//! On the host every object is the sentry's uid's with mode [`HOST_MODE`], whatever the
//! sandbox asks: a mode or an owner the sandbox sets would open the object to the host's
//! other users (a channel out of the sandbox). The sandbox's owner and mode live here, and
//! the sentry checks them as Linux's ipcperms does ([`Perm::permits`]).

use super::creds::{Creds, CAP_IPC_OWNER, CAP_SYS_ADMIN};
use hashbrown::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};

/// The mode of every object of the sandbox's on the host: its owner's alone.
pub const HOST_MODE: u32 = 0o600;

/// SysV IPC object kinds, whose ids are host-global and must be the sandbox's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpcKind {
    Shm,
    Sem,
    Msg,
}

/// How many objects of a kind one sandbox may hold. Message queues and semaphore sets cost
/// kernel memory the memory limit does not see (a queue holds up to msgmnb bytes, 16 KiB by
/// default; a set up to semmsl semaphores), so their number is what bounds it. Shared memory
/// segments are charged to the memory limit, and the count bounds the rest.
pub fn max_objects(kind: IpcKind) -> usize {
    match kind {
        IpcKind::Shm => 1024,
        IpcKind::Msg => 256,
        IpcKind::Sem => 128,
    }
}

/// The key of an object made with IPC_PRIVATE (and of a removed shm segment still attached).
pub const PRIVATE: i32 = 0;

/// One object of the sandbox's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Object {
    /// The key the sandbox named it by.
    key: i32,
    perm: Perm,
}

/// An object's owner, creator and permission bits as the sandbox sees them (struct
/// ipc64_perm's uid, gid, cuid, cgid and mode); on the host it is the sentry's uid's, with
/// [`HOST_MODE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Perm {
    /// Sandbox uid and gid.
    pub owner: (u32, u32),
    pub creator: (u32, u32),
    /// The read, write and execute bits of owner, group and others (0o777 at most).
    pub mode: u32,
}

impl Perm {
    /// A new object's: the creator's euid and egid own it.
    pub fn new(creds: &Creds, mode: u32) -> Perm {
        Perm {
            owner: (creds.euid, creds.egid),
            creator: (creds.euid, creds.egid),
            mode: mode & 0o777,
        }
    }

    /// ipcperms: whether `creds` may have each access of `asked` (0o4 read, 0o2 write,
    /// 0o1 execute, in any of the three places): the owner's or creator's bits for either
    /// uid, else the group's for either gid, else the others'; CAP_IPC_OWNER passes all.
    pub fn permits(&self, creds: &Creds, asked: u32) -> bool {
        let asked = (asked >> 6 | asked >> 3 | asked) & 0o7;
        let granted = if creds.euid == self.owner.0 || creds.euid == self.creator.0 {
            self.mode >> 6
        } else if creds.in_group(self.owner.1) || creds.in_group(self.creator.1) {
            self.mode >> 3
        } else {
            self.mode
        };
        asked & !granted & 0o7 == 0 || creds.capable(CAP_IPC_OWNER)
    }

    /// ipcctl_obtain_check: whether `creds` may set or remove the object (IPC_SET,
    /// IPC_RMID): its owner, its creator, or CAP_SYS_ADMIN.
    pub fn may_change(&self, creds: &Creds) -> bool {
        creds.euid == self.owner.0 || creds.euid == self.creator.0 || creds.capable(CAP_SYS_ADMIN)
    }
}

#[derive(Debug, Default)]
pub struct IpcNamespace {
    /// (kind, host id) of every object the sandbox made.
    objects: HashMap<(IpcKind, i32), Object>,
    /// The janitor's journal (a pipe, written without blocking): each object made and
    /// removed, so that the janitor removes those left when the sentry could not.
    journal: Option<OwnedFd>,
}

/// The length of one journal entry ([`journal_entry`]).
pub const JOURNAL_ENTRY: usize = 8;

/// One entry of the janitor's journal: made or removed, the kind, the host id. Entries are
/// written whole (a pipe write this short is atomic).
pub fn journal_entry(made: bool, kind: IpcKind, id: i32) -> [u8; JOURNAL_ENTRY] {
    let kind = match kind {
        IpcKind::Shm => 0,
        IpcKind::Sem => 1,
        IpcKind::Msg => 2,
    };
    let mut entry = [u8::from(made), kind, 0, 0, 0, 0, 0, 0];
    entry[4..].copy_from_slice(&id.to_ne_bytes());
    entry
}

/// What [`journal_entry`] wrote; None for bytes it never writes.
pub fn read_journal_entry(entry: &[u8; JOURNAL_ENTRY]) -> Option<(bool, IpcKind, i32)> {
    let made = match entry[0] {
        0 => false,
        1 => true,
        _ => return None,
    };
    let kind = match entry[1] {
        0 => IpcKind::Shm,
        1 => IpcKind::Sem,
        2 => IpcKind::Msg,
        _ => return None,
    };
    let id = i32::from_ne_bytes(entry[4..].try_into().expect("4 bytes"));
    Some((made, kind, id))
}

impl IpcNamespace {
    /// The id of the object with a (non-private) `key`.
    pub fn id_of_key(&self, kind: IpcKind, key: i32) -> Option<i32> {
        if key == PRIVATE {
            return None;
        }
        self.objects
            .iter()
            .find(|(&(k, _), o)| k == kind && o.key == key)
            .map(|(&(_, id), _)| id)
    }

    /// The key the sandbox gave an object.
    pub fn key_of(&self, kind: IpcKind, id: i32) -> Option<i32> {
        self.objects.get(&(kind, id)).map(|o| o.key)
    }

    /// The object's owner, creator and mode in the sandbox.
    pub fn perm(&self, kind: IpcKind, id: i32) -> Option<Perm> {
        self.objects.get(&(kind, id)).map(|o| o.perm)
    }

    /// IPC_SET: a new owner and mode.
    pub fn set_perm(&mut self, kind: IpcKind, id: i32, owner: (u32, u32), mode: u32) {
        if let Some(object) = self.objects.get_mut(&(kind, id)) {
            object.perm.owner = owner;
            object.perm.mode = mode & 0o777;
        }
    }

    /// The host ids of the sandbox's objects of `kind`.
    pub fn ids(&self, kind: IpcKind) -> Vec<i32> {
        self.objects
            .keys()
            .filter(|(k, _)| *k == kind)
            .map(|&(_, id)| id)
            .collect()
    }

    pub fn count(&self, kind: IpcKind) -> usize {
        self.objects.keys().filter(|(k, _)| *k == kind).count()
    }

    /// Keeps the janitor told of the objects made and removed from now on.
    pub fn set_journal(&mut self, journal: OwnedFd) {
        self.journal = Some(journal);
    }

    fn tell_janitor(&self, made: bool, kind: IpcKind, id: i32) {
        if let Some(journal) = &self.journal {
            let entry = journal_entry(made, kind, id);
            // SAFETY: write reads the entry, ours; the pipe does not block (a janitor that
            // cannot keep up loses the entry: the object stays on the host only if the
            // sentry is SIGKILLed too).
            unsafe { libc::write(journal.as_raw_fd(), entry.as_ptr().cast(), entry.len()) };
        }
    }

    pub fn record(&mut self, kind: IpcKind, id: i32, key: i32, perm: Perm) {
        self.objects.insert((kind, id), Object { key, perm });
        self.tell_janitor(true, kind, id);
    }

    /// After IPC_RMID: a queue or a set is gone at once; a segment lives on, keyless, while
    /// it is attached.
    pub fn removed(&mut self, kind: IpcKind, id: i32) {
        match kind {
            IpcKind::Shm => {
                if let Some(object) = self.objects.get_mut(&(kind, id)) {
                    object.key = PRIVATE;
                }
            }
            IpcKind::Msg | IpcKind::Sem => {
                if self.objects.remove(&(kind, id)).is_some() {
                    self.tell_janitor(false, kind, id);
                }
            }
        }
    }

    /// The objects left, to remove from the host when the sandbox ends (the janitor is told
    /// first: an id it still held could be another's by the time it runs).
    pub fn take_all(&mut self) -> Vec<(IpcKind, i32)> {
        let left: Vec<(IpcKind, i32)> = self.objects.drain().map(|(object, _)| object).collect();
        for &(kind, id) in &left {
            self.tell_janitor(false, kind, id);
        }
        left
    }
}

/// Whether host object `id` is an IPC_PRIVATE one, as every object of a sandbox's is on the
/// host (false when it is gone). Read from /proc/sysvipc, which lists every object whatever
/// its mode: IPC_STAT needs read permission, which the sandbox may have taken from its own
/// objects (IPC_SET mode 000) against a sentry that is not root.
pub fn is_private_on_host(kind: IpcKind, id: i32) -> bool {
    let table = match kind {
        IpcKind::Shm => "shm",
        IpcKind::Msg => "msg",
        IpcKind::Sem => "sem",
    };
    let Ok(text) = std::fs::read_to_string(format!("/proc/sysvipc/{table}")) else {
        return false;
    };
    private_in_table(&text, id)
}

/// Whether a /proc/sysvipc table (a header line, then "key id perms ..." per object) lists
/// object `id` with the key IPC_PRIVATE.
fn private_in_table(text: &str, id: i32) -> bool {
    text.lines().skip(1).any(|line| {
        let mut columns = line.split_whitespace();
        let key = columns.next().and_then(|k| k.parse::<i32>().ok());
        let listed = columns.next().and_then(|i| i.parse::<i32>().ok());
        listed == Some(id) && key == Some(libc::IPC_PRIVATE)
    })
}

/// Removes an object from the host (IPC_RMID); errors (already gone) are of no interest.
pub fn remove_from_host(kind: IpcKind, id: i32) {
    // SAFETY: IPC_RMID takes no buffer; the ids are plain integers.
    unsafe {
        match kind {
            IpcKind::Shm => libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()),
            IpcKind::Msg => libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()),
            IpcKind::Sem => libc::semctl(id, 0, libc::IPC_RMID),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::creds::Ids;

    /// An object that `uid` (group `uid` too) made with `mode`.
    fn perm(uid: u32, mode: u32) -> Perm {
        Perm {
            owner: (uid, uid),
            creator: (uid, uid),
            mode,
        }
    }

    fn user(uid: u32, groups: &[u32]) -> Creds {
        let mut creds = Creds::initial(Ids { uid, gid: uid }, (0, 0));
        creds.groups = groups.to_vec();
        creds
    }

    #[test]
    fn the_sandbox_mode_decides_as_ipcperms() {
        let root = user(0, &[]);
        let (owner, member, other) = (user(1000, &[]), user(1001, &[1000]), user(1002, &[]));
        let object = perm(1000, 0o640);
        assert!(object.permits(&owner, 0o600) && !object.permits(&owner, 0o100));
        assert!(object.permits(&member, 0o400) && !object.permits(&member, 0o200));
        assert!(!object.permits(&other, 0o400));
        assert!(object.permits(&other, 0), "nothing asked, nothing refused");
        assert!(object.permits(&root, 0o777), "CAP_IPC_OWNER");
        // The creator keeps the owner's bits after giving the object away.
        let given = Perm {
            owner: (1002, 1002),
            ..object
        };
        assert!(given.permits(&owner, 0o600) && given.permits(&other, 0o600));
        assert!(given.may_change(&owner) && given.may_change(&other));
        assert!(!given.may_change(&member) && given.may_change(&root));
    }

    #[test]
    fn a_private_object_is_found_in_its_proc_table_whatever_its_mode() {
        let shm = "       key      shmid perms                  size  cpid  lpid nattch   uid\n\
                            0         12     0                  4096   100   100      0 65534\n\
                        24344         13   600                  4096   100   100      0 65534\n";
        assert!(private_in_table(shm, 12));
        assert!(
            !private_in_table(shm, 13),
            "a keyed object is not one of the sandbox's"
        );
        assert!(!private_in_table(shm, 14), "a gone object is not");
        assert!(!private_in_table("header only\n", 12));
    }

    #[test]
    fn keys_name_the_sandbox_objects_of_their_kind() {
        let mut ns = IpcNamespace::default();
        ns.record(IpcKind::Shm, 7, 42, perm(0, 0o600));
        ns.record(IpcKind::Msg, 9, 42, perm(0, 0o600));
        ns.record(IpcKind::Sem, 11, PRIVATE, perm(1000, 0o600));
        assert_eq!(ns.id_of_key(IpcKind::Shm, 42), Some(7));
        assert_eq!(ns.id_of_key(IpcKind::Msg, 42), Some(9));
        assert_eq!(ns.id_of_key(IpcKind::Sem, 42), None);
        assert_eq!(ns.id_of_key(IpcKind::Sem, PRIVATE), None);
        assert!(ns.perm(IpcKind::Sem, 11).is_some() && ns.perm(IpcKind::Shm, 11).is_none());
        assert_eq!(ns.count(IpcKind::Shm), 1);
        assert_eq!(ns.perm(IpcKind::Sem, 11), Some(perm(1000, 0o600)));
    }

    #[test]
    fn journal_entries_read_back() {
        for made in [true, false] {
            for kind in [IpcKind::Shm, IpcKind::Sem, IpcKind::Msg] {
                for id in [0, 32769, i32::MAX] {
                    let entry = journal_entry(made, kind, id);
                    assert_eq!(read_journal_entry(&entry), Some((made, kind, id)));
                }
            }
        }
        assert_eq!(read_journal_entry(&[7, 0, 0, 0, 1, 0, 0, 0]), None);
        assert_eq!(read_journal_entry(&[1, 9, 0, 0, 1, 0, 0, 0]), None);
    }

    #[test]
    fn the_janitor_hears_of_what_is_made_and_removed() {
        let (read_end, write_end) = nix::unistd::pipe().expect("pipe");
        let mut ns = IpcNamespace::default();
        ns.set_journal(write_end);
        ns.record(IpcKind::Msg, 9, 43, perm(0, 0o600));
        ns.record(IpcKind::Shm, 7, PRIVATE, perm(0, 0o600));
        ns.removed(IpcKind::Msg, 9);
        ns.removed(IpcKind::Msg, 9);
        let left = ns.take_all();
        drop(ns);
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::fs::File::from(read_end), &mut bytes).unwrap();
        let entries: Vec<_> = bytes
            .chunks(JOURNAL_ENTRY)
            .map(|e| read_journal_entry(e.try_into().unwrap()).unwrap())
            .collect();
        assert_eq!(left, vec![(IpcKind::Shm, 7)]);
        assert_eq!(
            entries,
            vec![
                (true, IpcKind::Msg, 9),
                (true, IpcKind::Shm, 7),
                (false, IpcKind::Msg, 9),
                (false, IpcKind::Shm, 7),
            ]
        );
    }

    #[test]
    fn a_removed_segment_loses_its_key_and_a_queue_is_gone() {
        let mut ns = IpcNamespace::default();
        ns.record(IpcKind::Shm, 7, 42, perm(0, 0o600));
        ns.record(IpcKind::Msg, 9, 43, perm(0, 0o600));
        ns.removed(IpcKind::Shm, 7);
        ns.removed(IpcKind::Msg, 9);
        assert!(ns.perm(IpcKind::Shm, 7).is_some());
        assert_eq!(ns.id_of_key(IpcKind::Shm, 42), None);
        assert!(ns.perm(IpcKind::Msg, 9).is_none());
        let mut left = ns.take_all();
        left.sort_by_key(|&(_, id)| id);
        assert_eq!(left, vec![(IpcKind::Shm, 7)]);
    }
}

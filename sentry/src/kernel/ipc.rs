//! The sandbox's SysV IPC namespace. The host has one set of keys and ids for everybody, so
//! every object the sandbox makes is an IPC_PRIVATE object on the host; the keys the sandbox
//! names live here, mapped to the host ids of its objects. The sandbox reaches only the
//! objects it created, at most [`max_objects`] of each kind, and every one of them is
//! removed from the host when the sandbox ends.

use hashbrown::HashMap;

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
    /// The creator's sandbox euid and egid: the owner the sandbox sees (on the host the
    /// object belongs to the task's host uid).
    creator: (u32, u32),
}

#[derive(Debug, Default)]
pub struct IpcNamespace {
    /// (kind, host id) of every object the sandbox made.
    objects: HashMap<(IpcKind, i32), Object>,
}

impl IpcNamespace {
    /// Whether `id` names an object of the sandbox's.
    pub fn owns(&self, kind: IpcKind, id: i32) -> bool {
        self.objects.contains_key(&(kind, id))
    }

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

    /// The sandbox euid and egid of the object's creator.
    pub fn creator_of(&self, kind: IpcKind, id: i32) -> Option<(u32, u32)> {
        self.objects.get(&(kind, id)).map(|o| o.creator)
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

    pub fn record(&mut self, kind: IpcKind, id: i32, key: i32, creator: (u32, u32)) {
        self.objects.insert((kind, id), Object { key, creator });
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
                self.objects.remove(&(kind, id));
            }
        }
    }

    /// The objects left, to remove from the host when the sandbox ends.
    pub fn take_all(&mut self) -> Vec<(IpcKind, i32)> {
        self.objects.drain().map(|(object, _)| object).collect()
    }
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

    #[test]
    fn keys_name_the_sandbox_objects_of_their_kind() {
        let mut ns = IpcNamespace::default();
        ns.record(IpcKind::Shm, 7, 42, (0, 0));
        ns.record(IpcKind::Msg, 9, 42, (0, 0));
        ns.record(IpcKind::Sem, 11, PRIVATE, (1000, 1000));
        assert_eq!(ns.id_of_key(IpcKind::Shm, 42), Some(7));
        assert_eq!(ns.id_of_key(IpcKind::Msg, 42), Some(9));
        assert_eq!(ns.id_of_key(IpcKind::Sem, 42), None);
        assert_eq!(ns.id_of_key(IpcKind::Sem, PRIVATE), None);
        assert!(ns.owns(IpcKind::Sem, 11) && !ns.owns(IpcKind::Shm, 11));
        assert_eq!(ns.count(IpcKind::Shm), 1);
        assert_eq!(ns.creator_of(IpcKind::Sem, 11), Some((1000, 1000)));
    }

    #[test]
    fn a_removed_segment_loses_its_key_and_a_queue_is_gone() {
        let mut ns = IpcNamespace::default();
        ns.record(IpcKind::Shm, 7, 42, (0, 0));
        ns.record(IpcKind::Msg, 9, 43, (0, 0));
        ns.removed(IpcKind::Shm, 7);
        ns.removed(IpcKind::Msg, 9);
        assert!(ns.owns(IpcKind::Shm, 7));
        assert_eq!(ns.id_of_key(IpcKind::Shm, 42), None);
        assert!(!ns.owns(IpcKind::Msg, 9));
        let mut left = ns.take_all();
        left.sort_by_key(|&(_, id)| id);
        assert_eq!(left, vec![(IpcKind::Shm, 7)]);
    }
}

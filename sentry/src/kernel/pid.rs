//! PID namespaces as plain tables: a tree of namespaces, each numbering the tasks it can
//! see. A task is visible in the namespace it lives in and in every ancestor, under a
//! number of each one's own; a namespace never sees its ancestors' tasks. The sandbox's
//! first task is PID 1 of the root namespace. No host PID is ever shown to the sandbox.

use hashbrown::HashMap;
use platform_ptrace::Tid;

/// Index of a namespace in [`PidTable::namespaces`].
pub type NsId = usize;

/// The root namespace of the sandbox.
pub const ROOT_NS: NsId = 0;

#[derive(Debug, Default)]
pub struct PidNamespace {
    pub parent: Option<NsId>,
    /// The host tid of this namespace's init (its PID 1), once it exists.
    pub init: Option<Tid>,
    next: i32,
    to_host: HashMap<i32, Tid>,
    from_host: HashMap<Tid, i32>,
}

#[derive(Debug)]
pub struct PidTable {
    pub namespaces: Vec<PidNamespace>,
}

impl Default for PidTable {
    fn default() -> Self {
        PidTable {
            namespaces: vec![PidNamespace {
                next: 1,
                ..Default::default()
            }],
        }
    }
}

impl PidTable {
    /// A new namespace below `parent`.
    pub fn new_namespace(&mut self, parent: NsId) -> NsId {
        self.namespaces.push(PidNamespace {
            parent: Some(parent),
            next: 1,
            ..Default::default()
        });
        self.namespaces.len() - 1
    }

    /// `ns` and its ancestors, innermost first.
    pub fn chain(&self, ns: NsId) -> impl Iterator<Item = NsId> + '_ {
        std::iter::successors(Some(ns), move |&n| self.namespaces[n].parent)
    }

    /// Whether `inner` is `outer` or one of its descendants.
    pub fn is_within(&self, inner: NsId, outer: NsId) -> bool {
        self.chain(inner).any(|n| n == outer)
    }

    /// Gives host task `tid` a number in `ns` and every ancestor. The first task of a
    /// namespace becomes its init.
    pub fn register(&mut self, tid: Tid, ns: NsId) {
        for n in self.chain(ns).collect::<Vec<_>>() {
            let space = &mut self.namespaces[n];
            if let Some(old) = space.from_host.insert(tid, space.next) {
                space.to_host.remove(&old);
            }
            space.to_host.insert(space.next, tid);
            if space.next == 1 {
                space.init = Some(tid);
            }
            space.next += 1;
        }
    }

    /// Forgets host task `tid` in every namespace (its id is free on the host).
    pub fn release(&mut self, tid: Tid) {
        for space in &mut self.namespaces {
            if let Some(v) = space.from_host.remove(&tid) {
                space.to_host.remove(&v);
            }
        }
    }

    /// The number of host task `tid` as seen from `ns`; None when `ns` cannot see it.
    pub fn vpid(&self, ns: NsId, tid: Tid) -> Option<i32> {
        self.namespaces[ns].from_host.get(&tid).copied()
    }

    /// The host task numbered `vpid` in `ns`.
    pub fn host(&self, ns: NsId, vpid: i32) -> Option<Tid> {
        self.namespaces[ns].to_host.get(&vpid).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_namespace_numbers_from_one_and_its_parent_sees_it() {
        let mut t = PidTable::default();
        t.register(1000, ROOT_NS);
        t.register(1001, ROOT_NS);
        let child = t.new_namespace(ROOT_NS);
        t.register(1002, child);
        assert_eq!(t.vpid(ROOT_NS, 1000), Some(1));
        assert_eq!(t.vpid(ROOT_NS, 1002), Some(3));
        assert_eq!(t.vpid(child, 1002), Some(1));
        assert_eq!(
            t.vpid(child, 1000),
            None,
            "a child never sees its ancestors"
        );
        assert_eq!(t.namespaces[child].init, Some(1002));
        assert_eq!(t.host(child, 1), Some(1002));
        assert!(t.is_within(child, ROOT_NS));
        assert!(!t.is_within(ROOT_NS, child));
    }

    #[test]
    fn a_released_and_reused_host_id_gets_a_new_number() {
        let mut t = PidTable::default();
        t.register(1000, ROOT_NS);
        t.register(1001, ROOT_NS);
        t.release(1001);
        assert_eq!(t.host(ROOT_NS, 2), None);
        t.register(1001, ROOT_NS);
        assert_eq!(t.vpid(ROOT_NS, 1001), Some(3));
    }
}

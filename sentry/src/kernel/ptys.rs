//! The sandbox's pseudo-terminals. /dev/ptmx opens the host's, and the sandbox numbers its
//! terminals itself (0, 1, …), so that its /dev/pts holds only its own and names none of the
//! host's: this table maps the host's devpts index of each to the sandbox's number.

use hashbrown::HashMap;

#[derive(Debug, Default)]
pub struct Ptys {
    by_host: HashMap<u32, u32>,
    /// The master of the sandbox's own terminal (the sentry's side of it), when it has one.
    pub own_master: Option<std::os::fd::OwnedFd>,
}

impl Ptys {
    /// The sandbox's number for the host's pty `host`, given one if it has none (the lowest
    /// number no other pty of the sandbox holds).
    pub fn register(&mut self, host: u32) -> u32 {
        if let Some(&n) = self.by_host.get(&host) {
            return n;
        }
        let n = (0..)
            .find(|n| !self.by_host.values().any(|v| v == n))
            .expect("u32 numbers suffice");
        self.by_host.insert(host, n);
        n
    }

    /// The sandbox's number of the host's pty `host`.
    pub fn sandbox_of(&self, host: u32) -> Option<u32> {
        self.by_host.get(&host).copied()
    }

    /// The host's index of the sandbox's pty `n`.
    pub fn host_of(&self, n: u32) -> Option<u32> {
        self.by_host
            .iter()
            .find(|(_, &v)| v == n)
            .map(|(&host, _)| host)
    }

    /// The sandbox's pty `n` is gone: its number may be given again.
    pub fn forget(&mut self, n: u32) {
        self.by_host.retain(|_, v| *v != n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_numbers_its_terminals_from_zero() {
        let mut p = Ptys::default();
        assert_eq!(p.register(17), 0);
        assert_eq!(p.register(4), 1);
        assert_eq!(p.register(17), 0);
        assert_eq!(p.host_of(1), Some(4));
        assert_eq!(p.sandbox_of(4), Some(1));
        p.forget(0);
        assert_eq!(p.register(30), 0);
        assert_eq!(p.host_of(0), Some(30));
    }
}

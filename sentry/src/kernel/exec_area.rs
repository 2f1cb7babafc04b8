//! The exec area of an address space: a sealed read-only mapping the sentry's own exec
//! steps made in it (`syscalls::exec`), whose first bytes are NULs, the empty path of every
//! `execveat(fd, "", argv, envp, AT_EMPTY_PATH)` the sentry runs from that address space,
//! and whose rest holds a new argv when one is needed (written by the sentry through
//! /proc/<tid>/mem, which writes to a read-only page).
//!
//! The area is made once per address space and used by every exec from it. A shell's
//! vfork children exec from the shell's own address space: a page made for each exec
//! would stay there, sealed, for the shell's life, one more mapping per command run.
//!
//! Nothing of the sandbox can change the area once it is sealed (no mprotect, munmap,
//! mremap or mmap over it; no ptrace, process_vm_writev, userfaultfd or /proc/<pid>/mem
//! in the sandbox), so the sentry trusts its record as long as the address space lives.
//! The record follows the kernel's rules: threads and CLONE_VM children (vfork, posix_spawn)
//! share their creator's address space, a fork gets a copy (of the area too, if it was
//! sealed before the fork began: the copy is taken at the call's entry stop), and an exec
//! starts an empty one.

use std::sync::{Arc, Mutex};

/// Where the area of an address space is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecArea {
    pub at: u64,
    pub len: u64,
}

/// An address space as the sentry follows it.
#[derive(Debug, Default)]
pub struct AddressSpace(Mutex<AreaState>);

#[derive(Debug, Default)]
struct AreaState {
    area: Option<ExecArea>,
    /// An exec in flight writes its argv in the area until the kernel has read it.
    leased: bool,
}

/// The use of an address space's area by one exec in flight, given back when dropped.
#[derive(Debug)]
pub struct AreaLease {
    space: Arc<AddressSpace>,
    pub area: ExecArea,
}

impl Drop for AreaLease {
    fn drop(&mut self) {
        self.space.state().leased = false;
    }
}

impl AddressSpace {
    /// A fresh address space: with a copy of its creator's area (a fork), or none.
    pub fn new(area: Option<ExecArea>) -> Arc<AddressSpace> {
        Arc::new(AddressSpace(Mutex::new(AreaState {
            area,
            leased: false,
        })))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, AreaState> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The area, if the address space has one.
    pub fn area(&self) -> Option<ExecArea> {
        self.state().area
    }

    /// The area for an exec to use, unless it has none or another exec uses it now.
    pub fn lease(self: &Arc<Self>) -> Option<AreaLease> {
        let mut state = self.state();
        let area = state.area.filter(|_| !state.leased)?;
        state.leased = true;
        Some(AreaLease {
            space: self.clone(),
            area,
        })
    }

    /// Records the area an exec just made and sealed, leased to that exec; None if the
    /// address space has one already (the new mapping then serves that exec alone).
    pub fn record(self: &Arc<Self>, area: ExecArea) -> Option<AreaLease> {
        let mut state = self.state();
        if state.area.is_some() {
            return None;
        }
        state.area = Some(area);
        state.leased = true;
        Some(AreaLease {
            space: self.clone(),
            area,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_area_serves_one_exec_at_a_time() {
        let space = AddressSpace::new(None);
        assert!(space.lease().is_none(), "no area yet");
        let area = ExecArea {
            at: 0x2000_0000_0000,
            len: 0x10000,
        };
        let made = space.record(area).expect("the first area is recorded");
        assert!(space.lease().is_none(), "in use by the exec that made it");
        assert!(
            space.record(ExecArea { at: 0x3000, ..area }).is_none(),
            "a second area is not"
        );
        drop(made);
        let lease = space.lease().expect("free again");
        assert_eq!(lease.area, area);
        drop(lease);
        assert_eq!(space.area(), Some(area));
    }

    #[test]
    fn a_fork_starts_with_its_copy_of_the_area_free() {
        let area = ExecArea {
            at: 0x1000,
            len: 0x1000,
        };
        let parent = AddressSpace::new(Some(area));
        let _busy = parent.lease().expect("lease");
        let child = AddressSpace::new(parent.area());
        assert!(child.lease().is_some());
    }
}

//! A seccomp-BPF program, built by the sentry and installed before the first instruction.

/// A classic-BPF seccomp program.
#[derive(Clone, Default)]
pub struct Filter {
    pub instructions: Vec<libc::sock_filter>,
}

impl Filter {
    /// The `sock_fprog` the kernel takes; it borrows `self`, which must outlive its use.
    pub fn as_sock_fprog(&self) -> libc::sock_fprog {
        libc::sock_fprog {
            len: self.instructions.len() as u16,
            filter: self.instructions.as_ptr() as *mut libc::sock_filter,
        }
    }
}

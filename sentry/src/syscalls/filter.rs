//! The syscall table compiled for `--platform=seccomp`: passthrough calls run in the
//! kernel, every other class stops at the sentry, and the calls guarded on an fd
//! argument stop only for the fds the sentry must see.

use super::table::{class_of, Class, MAX_NR};
use platform_ptrace::seccomp::Filter;

pub fn compile() -> Filter {
    let allowed: Vec<u32> = (0..MAX_NR as u32)
        .filter(|&nr| class_of(nr as u64) == Class::Passthrough)
        .collect();
    // Under a memory limit, writes and dups stop only for the fds where memfds live.
    let guards = if super::mm::accounts_memory() {
        super::memfd::guards()
    } else {
        Vec::new()
    };
    Filter::allow_list_guarded(&allowed, &guards)
}

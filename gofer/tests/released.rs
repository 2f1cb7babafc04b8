//! A file the gofer opened is closed in the gofer before the client has the fd. A test
//! binary of its own: another test's fork would hold a copy of the fd for a moment too.

mod common;

use std::os::fd::AsRawFd;

use common::*;

/// Once the caller closes a file the gofer opened for writing, nothing holds it open for
/// writing, so a read lease is granted (EAGAIN while any writer is left).
#[test]
fn a_written_file_is_not_held_open_by_the_gofer() {
    let t = TempDir::new("released");
    // One CPU for both: the gofer's reply wakes the client there, which then runs before
    // the gofer does anything more (what makes a copy closed only after the reply show).
    // SAFETY: the set is plain data; the call reads it.
    unsafe {
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut one);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one);
    }
    let mut c = spawn(&[(&t.path, false)]);
    for round in 0..200 {
        let name = format!("f{round}");
        let fd = c
            .open(0, name.as_bytes(), libc::O_CREAT | libc::O_WRONLY, 0o644)
            .unwrap();
        drop(fd);
        let file = std::fs::File::open(t.join(&name)).unwrap();
        // SAFETY: fcntl on an fd we own; F_SETLEASE takes an int.
        let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLEASE, libc::F_RDLCK) };
        assert_eq!(rc, 0, "round {round}: {}", std::io::Error::last_os_error());
    }
}

//! Shared helpers: temporary directories and gofer spawning.
#![allow(dead_code)]

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use gofer::{Client, Mount};

/// A directory under the system temp dir, removed (recursively) on drop.
pub struct TempDir {
    pub path: PathBuf,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("gofer-test-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir { path }
    }
    pub fn join(&self, p: &str) -> PathBuf {
        self.path.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Make everything writable again (tests chmod things) before removing.
        let _ = std::process::Command::new("chmod")
            .arg("-R")
            .arg("u+rwx")
            .arg(&self.path)
            .status();
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

pub fn gofer_exe() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_gofer"))
}

pub fn spawn(mounts: &[(&Path, bool)]) -> Client {
    let mut client = spawn_walking_locally(mounts);
    // These tests are about the gofer process: every call goes to it.
    client.without_local_walks();
    client
}

/// A client that serves the calls that change nothing in this process, as the sentry's does.
pub fn spawn_walking_locally(mounts: &[(&Path, bool)]) -> Client {
    let mounts: Vec<Mount> = mounts
        .iter()
        .map(|(p, ro)| Mount {
            host_path: p.to_path_buf(),
            read_only: *ro,
        })
        .collect();
    Client::spawn(gofer_exe(), &mounts).expect("spawn gofer")
}

/// Reads a whole fd from offset 0.
pub fn read_fd(fd: &OwnedFd) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let mut off = 0i64;
    loop {
        // SAFETY: buf is writable for its length; fd is live.
        let n = unsafe {
            libc::pread(
                fd.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                off,
            )
        };
        assert!(n >= 0, "pread: {}", std::io::Error::last_os_error());
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n as usize]);
        off += n as i64;
    }
}

pub fn write_fd(fd: &OwnedFd, data: &[u8]) {
    // SAFETY: data is readable for its length; fd is live.
    let n = unsafe {
        libc::write(
            fd.as_raw_fd(),
            data.as_ptr() as *const libc::c_void,
            data.len(),
        )
    };
    assert_eq!(
        n,
        data.len() as isize,
        "write: {}",
        std::io::Error::last_os_error()
    );
}

/// The real path of an fd (via /proc/self/fd).
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap()
}

pub fn fd_flags(fd: &OwnedFd) -> i32 {
    // SAFETY: F_GETFL on a live fd.
    unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) }
}

//! Scratch directories under the system's temp dir.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A number no other call in this process gets.
pub(crate) fn next_seq() -> usize {
    SEQ.fetch_add(1, Ordering::SeqCst)
}

/// A directory of this test process, mode 755, under the system's temp dir: every
/// variant's user can read what a test puts there. Removed, with what is left in it, when
/// the process exits.
pub(crate) fn shared_root() -> PathBuf {
    static ROOT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let uid = unsafe { libc::geteuid() };
        let dir = std::env::temp_dir().join(format!("sentry-tests-{uid}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the tests' scratch directory");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
            .expect("chmod the tests' scratch directory");
        extern "C" fn remove_shared_root() {
            if let Some(dir) = ROOT.get() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
        // SAFETY: registers a function of ours that takes no arguments; it runs once, at
        // exit, after every test thread is done.
        unsafe { libc::atexit(remove_shared_root) };
        dir
    })
    .clone()
}

/// A scratch directory of one test: removed (with everything in it) when dropped.
pub struct Scratch {
    pub dir: PathBuf,
}

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "sentry-{tag}-{}-{}",
            std::process::id(),
            next_seq()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        Scratch { dir }
    }

    /// A copy of `rootfs` at `<scratch>/rootfs` (cp -a: symlinks, modes and owners kept),
    /// without the conformance suite's binaries (`/conformance`) when the fixture holds them.
    pub fn copy_rootfs(&self, rootfs: &Path) -> PathBuf {
        let dst = self.dir.join("rootfs");
        std::fs::create_dir_all(&dst).expect("create the rootfs copy");
        let mut c = Command::new("cp");
        c.arg("-a");
        let mut n = 0;
        for e in std::fs::read_dir(rootfs)
            .expect("read the fixture rootfs")
            .flatten()
        {
            if e.file_name() == "conformance" {
                continue;
            }
            c.arg(e.path());
            n += 1;
        }
        assert!(n > 0, "{} is empty", rootfs.display());
        let st = c.arg(&dst).status().expect("run cp -a");
        assert!(
            st.success(),
            "cp -a {}/* {}",
            rootfs.display(),
            dst.display()
        );
        let meta = std::fs::metadata(rootfs).expect("stat the fixture rootfs");
        std::fs::set_permissions(&dst, meta.permissions()).expect("chmod the rootfs copy");
        dst
    }

    /// A scratch directory every variant's user reaches (mode 755), with a copy of the
    /// busybox root in it and escape program `program` copied to `/<name>` there.
    pub fn escape_root(tag: &str, program: &str, name: &str) -> (Scratch, PathBuf) {
        let scratch = Scratch::new(tag);
        std::fs::set_permissions(&scratch.dir, std::fs::Permissions::from_mode(0o755))
            .expect("chmod the scratch directory");
        let rootfs = scratch.copy_rootfs(&crate::busybox_rootfs());
        std::fs::copy(crate::escape_programs().join(program), rootfs.join(name))
            .expect("copy the escape program into the root");
        (scratch, rootfs)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

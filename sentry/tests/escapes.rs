//! Escapes are held (issue 3, point 6). Each test runs a program of
//! `sentry/tests/programs/escape_*.c` under the sentry, on a fresh copy of the busybox fixture
//! rootfs, in both platform modes. The test creates, on the host and outside that rootfs, a
//! directory with a secret file; the program tries to reach them and compares every fd it gets
//! with the host's (st_dev, st_ino), which the test passes in. The verdict is checked from the
//! outside too: the secret's content never appears in the output, the secret file and its
//! directory are unchanged (content, link count, no new names), and no task is left running.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use test_support::{Outcome, Scratch, Variant};

const PLATFORMS: [Variant; 2] = test_support::invoker_variants!();

/// Deadline of one run: far above what any of them needs.
const DEADLINE: Duration = Duration::from_secs(300);

/// Open() calls of the path-flipping race: a million, as issue 3 asks (measured: about 40 s per
/// platform mode with a release sentry; how many reads saw each path is printed).
const RACE_OPENS: &str = "1000000";
/// Lookups through the directory that another thread swaps with a symlink.
const RENAME_LOOKUPS: &str = "200000";

/// One test's world: a rootfs copy with the programs in /escapes, and outside it a directory
/// with the secret.
struct World {
    scratch: Scratch,
    rootfs: PathBuf,
    outside: PathBuf,
    secret: PathBuf,
    secret_text: String,
}

impl World {
    fn new(tag: &str) -> World {
        let progs = test_support::escape_programs();
        let fixture = test_support::busybox_rootfs();
        let scratch = Scratch::new(tag);
        let rootfs = scratch.copy_rootfs(&fixture);
        let inside = rootfs.join("escapes");
        std::fs::create_dir_all(&inside).expect("mkdir /escapes");
        for name in ["escape_probe", "escape_unix"] {
            std::fs::copy(progs.join(name), inside.join(name)).expect("copy an escape program");
        }
        let outside = scratch.dir.join("outside");
        std::fs::create_dir_all(&outside).expect("mkdir outside");
        let secret = outside.join("secret");
        let secret_text = format!("SENTRY-SECRET-{}-{tag}-do-not-leak", std::process::id());
        std::fs::write(&secret, &secret_text).expect("write the secret");
        World {
            scratch,
            rootfs,
            outside,
            secret,
            secret_text,
        }
    }

    fn run(&self, platform: Variant, cmd: &[&str]) -> Outcome {
        platform.run_rootfs(&self.scratch, &[], &self.rootfs, cmd, DEADLINE, &[])
    }

    /// `escape_probe MODE ...` with the secret's and the outside directory's identity.
    fn probe(&self, platform: Variant, mode: &str, extra: &[&str]) -> Outcome {
        let (sd, si) = dev_ino(&self.secret);
        let (od, oi) = dev_ino(&self.outside);
        let secret = self.secret.to_string_lossy().into_owned();
        let outside = self.outside.to_string_lossy().into_owned();
        let mut cmd = vec![
            "/escapes/escape_probe",
            mode,
            &secret,
            &sd,
            &si,
            &outside,
            &od,
            &oi,
        ];
        cmd.extend_from_slice(extra);
        let o = self.run(platform, &cmd);
        self.assert_held(platform, mode, &o);
        o
    }

    /// `escape_probe fds`, the sentry started with the secret file and the outside directory
    /// open as its fds 7 and 8 (not close-on-exec), as a careless invoker would leave them.
    fn probe_inheriting(&self, platform: Variant) -> Outcome {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(&self.secret).expect("open the secret");
        let dir = std::fs::File::open(&self.outside).expect("open the outside dir");
        let (sd, si) = dev_ino(&self.secret);
        let (od, oi) = dev_ino(&self.outside);
        let secret = self.secret.to_string_lossy().into_owned();
        let outside = self.outside.to_string_lossy().into_owned();
        let cmd = [
            "/escapes/escape_probe",
            "fds",
            &secret,
            &sd,
            &si,
            &outside,
            &od,
            &oi,
        ];
        let o = platform.run_rootfs(
            &self.scratch,
            &[],
            &self.rootfs,
            &cmd,
            DEADLINE,
            &[(file.as_raw_fd(), 7), (dir.as_raw_fd(), 8)],
        );
        drop((file, dir));
        self.assert_held(platform, "fds", &o);
        o
    }

    /// The verdict from outside: nothing leaked, nothing changed outside the rootfs.
    fn assert_held(&self, platform: Variant, mode: &str, o: &Outcome) {
        let ctx = format!("escape {mode} (--platform={platform})");
        assert!(
            !o.stdout.contains(&self.secret_text) && !o.stderr.contains(&self.secret_text),
            "{ctx}: the secret's content appeared in the output\n{}",
            o.describe()
        );
        let escapes: Vec<&str> = o
            .stdout
            .lines()
            .filter(|l| l.starts_with("ESCAPE") || l.starts_with("CONNECTED"))
            .collect();
        assert!(escapes.is_empty(), "{ctx}: {escapes:#?}\n{}", o.describe());
        assert_eq!(
            std::fs::read_to_string(&self.secret).expect("read the secret"),
            self.secret_text,
            "{ctx}: the secret changed"
        );
        let m = std::fs::metadata(&self.secret).expect("stat the secret");
        assert_eq!(m.nlink(), 1, "{ctx}: the secret got another link");
        let mut names: Vec<String> = std::fs::read_dir(&self.outside)
            .expect("read the outside dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert!(
            names
                .iter()
                .all(|n| n == "secret" || n.starts_with("host-")),
            "{ctx}: new names outside the rootfs: {names:?}\n{}",
            o.describe()
        );
        assert!(
            o.code == Some(0) && o.stdout.contains(&format!("ALL HELD {mode}")),
            "{ctx}: the program did not finish with every attempt held\n{}",
            o.describe()
        );
    }
}

fn each_platform(tag: &str, f: impl Fn(&World, Variant)) {
    for p in PLATFORMS {
        let w = World::new(&format!("{tag}-{p}"));
        f(&w, p);
    }
}

#[test]
fn dotdot_beyond_the_root() {
    each_platform("dotdot", |w, p| {
        let o = w.probe(p, "dotdot", &[]);
        assert!(o
            .stdout
            .contains("held dotdot: /.. is / (same dev and inode)"));
    });
}

#[test]
fn absolute_and_dotdot_symlinks() {
    each_platform("symlink", |w, p| {
        let o = w.probe(p, "symlink", &[]);
        // What O_CREAT through the dangling links made must be inside the rootfs.
        for line in o.stdout.lines().filter(|l| l.contains("created inside")) {
            assert!(line.starts_with("held"), "{line}");
        }
        // The absolute dangling link named <outside>/created-by-sandbox: if anything was
        // created, it is that path under the rootfs.
        let inside_twin = w
            .rootfs
            .join(w.outside.strip_prefix("/").expect("absolute"))
            .join("created-by-sandbox");
        if inside_twin.exists() {
            let text = std::fs::read_to_string(&inside_twin).expect("read the inside file");
            assert_eq!(text, "sandbox was here\n");
        }
    });
}

#[test]
fn proc_self_root_and_cwd_tricks() {
    each_platform("proc", |w, p| {
        w.probe(p, "proc", &[]);
    });
}

#[test]
fn chroot_then_chdir_dotdot() {
    each_platform("chroot", |w, p| {
        w.probe(p, "chroot", &[]);
    });
}

#[test]
fn fchdir_to_a_directory_opened_before_chroot() {
    each_platform("fchdir", |w, p| {
        w.probe(p, "fchdir", &[]);
    });
}

#[test]
fn hard_links_to_files_outside() {
    each_platform("link", |w, p| {
        w.probe(p, "link", &[]);
    });
}

#[test]
fn path_buffer_flipped_by_another_thread() {
    each_platform("race", |w, p| {
        let o = w.probe(p, "race", &[RACE_OPENS]);
        let line = o
            .stdout
            .lines()
            .find(|l| l.contains("open() calls of a flipped buffer"))
            .expect("the race summary line");
        eprintln!("--platform={p}: {line}");
        // Both paths must have been seen: some opens succeeded (the harmless path), some
        // failed (the forbidden path resolved inside the rootfs, where it does not exist).
        assert!(
            !line.contains(": 0 opened inside"),
            "the harmless path was never opened: {line}"
        );
        assert!(
            !line.contains(", 0 failed,"),
            "the forbidden path was never read: {line}"
        );
    });
}

#[test]
fn directory_swapped_with_a_symlink_by_rename() {
    each_platform("rename", |w, p| {
        let o = w.probe(p, "rename", &[RENAME_LOOKUPS]);
        let line = o
            .stdout
            .lines()
            .find(|l| l.contains("swapped with a symlink"))
            .expect("the rename summary line");
        eprintln!("--platform={p}: {line}");
    });
}

#[test]
fn no_fd_names_anything_outside() {
    each_platform("fds", |w, p| {
        w.probe(p, "fds", &[]);
    });
}

/// A listening socket on the host, outside the rootfs, and one with an abstract name. After
/// the sandbox ran, neither may have a connection waiting (checked with non-blocking accept).
#[test]
fn af_unix_to_host_sockets() {
    each_platform("unix", |w, p| {
        let path = w.outside.join("host-listener.sock");
        let listener = UnixListener::bind(&path).expect("bind the host socket");
        listener.set_nonblocking(true).expect("non-blocking");
        let abstract_name = format!("sentry-escape-test-{}-{p}", std::process::id());
        let abs = abstract_listener(&abstract_name);
        let sock = path.to_string_lossy().into_owned();
        let o = w.run(p, &["/escapes/escape_unix", &sock, &abstract_name]);
        w.assert_held(p, "unix", &o);
        match listener.accept() {
            Ok((mut s, _)) => {
                let mut buf = Vec::new();
                let _ = s.set_nonblocking(true);
                let _ = s.read_to_end(&mut buf);
                panic!(
                    "the host path listener got a connection from the sandbox\n{}",
                    o.describe()
                )
            }
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock, "accept: {e}"),
        }
        abs.assert_no_connection(&o);
        drop(listener);
        let _ = std::fs::remove_file(&path);
    });
}

/// A host listener with an abstract name, non-blocking.
struct AbstractListener {
    fd: std::os::fd::OwnedFd,
}

fn abstract_listener(name: &str) -> AbstractListener {
    use std::os::fd::FromRawFd;
    // SAFETY: socket(2) with constant arguments; the result is checked before use.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0) };
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: fd is a fresh socket that nothing else owns.
    let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_un is plain old data; all-zero is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = name.as_bytes();
    assert!(bytes.len() + 1 < addr.sun_path.len());
    for (i, b) in bytes.iter().enumerate() {
        addr.sun_path[i + 1] = *b as libc::c_char;
    }
    let len = (std::mem::size_of::<libc::sa_family_t>() + 1 + bytes.len()) as libc::socklen_t;
    // SAFETY: addr is a valid sockaddr_un on our stack and len does not exceed its size.
    let r = unsafe {
        libc::bind(
            fd,
            &addr as *const libc::sockaddr_un as *const libc::sockaddr,
            len,
        )
    };
    assert_eq!(r, 0, "bind abstract: {}", std::io::Error::last_os_error());
    // SAFETY: listen(2) on the socket we own.
    let r = unsafe { libc::listen(fd, 8) };
    assert_eq!(r, 0, "listen: {}", std::io::Error::last_os_error());
    AbstractListener { fd: owned }
}

impl AbstractListener {
    fn assert_no_connection(&self, o: &Outcome) {
        use std::os::fd::AsRawFd;
        // SAFETY: accept4(2) on our non-blocking listening socket, no address wanted.
        let c = unsafe {
            libc::accept4(
                self.fd.as_raw_fd(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_CLOEXEC,
            )
        };
        if c >= 0 {
            // SAFETY: c is the fd accept4 just returned, ours to close.
            unsafe {
                libc::close(c);
            }
            panic!(
                "the host's abstract listener got a connection from the sandbox\n{}",
                o.describe()
            );
        }
        let e = std::io::Error::last_os_error();
        assert_eq!(e.raw_os_error(), Some(libc::EAGAIN), "accept4: {e}");
    }
}

#[test]
fn o_path_fds_stay_inside() {
    each_platform("opath", |w, p| {
        w.probe(p, "opath", &[]);
    });
}

/// Descriptors the sentry inherits from whoever started it must not reach the task: issue 3,
/// "no fd that names anything outside the rootfs and mounts ever reaches the task".
#[test]
fn fds_inherited_by_the_sentry_do_not_reach_the_task() {
    each_platform("inherit", |w, p| {
        w.probe_inheriting(p);
    });
}

/// (st_dev, st_ino) of a host path, as decimal strings for a program's argv.
fn dev_ino(path: &Path) -> (String, String) {
    let m = std::fs::metadata(path).unwrap_or_else(|e| panic!("stat {}: {e}", path.display()));
    (m.dev().to_string(), m.ino().to_string())
}

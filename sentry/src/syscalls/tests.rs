//! Handlers on a fake host: a kernel without a gofer, task memory in [`FakeMemory`], and
//! calls decided as the supervisor decides them. No ptrace, no root, no process.

use super::{decide, Action, Call};
use crate::config::{Ids, Limits, NetMode};
use crate::host::{FakeMemory, TaskMemory};
use crate::kernel::creds::Identity;
use crate::kernel::memory::MemoryTable;
use crate::kernel::mounts::MountTable;
use crate::kernel::pid::ROOT_NS;
use crate::kernel::{FsState, Kernel, Uts};
use platform_ptrace::Tid;
use std::sync::Arc;
use syscalls::Sysno;

/// Host ids of the fake sandbox's tasks: its init (pid 1) and a child (pid 2).
const INIT: Tid = 4100;
const CHILD: Tid = 4200;
/// Where the fake task memory is mapped, in both tasks.
const BUF: u64 = 0x10_0000;

fn sandbox(sandbox_user: Ids) -> (Kernel, Arc<FakeMemory>) {
    let uts = Uts {
        hostname: b"box".to_vec(),
        domainname: b"(none)".to_vec(),
    };
    let identity = Identity::new(sandbox_user, false, (0, u64::MAX));
    let mut kernel = Kernel::new(uts, NetMode::None, identity, MountTable::default(), None);
    let mem = Arc::new(FakeMemory::default());
    kernel.mem = mem.clone();
    for (tid, parent) in [(INIT, 0), (CHILD, INIT)] {
        kernel.add_task(tid, tid, parent, ROOT_NS);
        mem.map(tid, BUF, &[0u8; 4096]);
        kernel.fs.insert(
            tid,
            FsState {
                root: b"/".to_vec(),
                cwd: b"/home/user".to_vec(),
            },
        );
    }
    kernel.init_tid = INIT;
    (kernel, mem)
}

fn run(kernel: &mut Kernel, tid: Tid, sysno: Sysno, args: [u64; 6]) -> Action {
    let mut call = Call::new(kernel, tid, sysno, args);
    decide(&mut call).0
}

fn returned(action: Action) -> i64 {
    match action {
        Action::Return(v) => v,
        other => panic!("expected a value, got {other:?}"),
    }
}

fn words(mem: &FakeMemory, tid: Tid, at: u64, n: usize) -> Vec<u32> {
    mem.get(tid, at, n * 4)
        .chunks_exact(4)
        .map(|w| u32::from_ne_bytes(w.try_into().expect("4 bytes")))
        .collect()
}

#[test]
fn process_ids_are_the_sandbox_numbers() {
    let (mut k, _) = sandbox(Ids { uid: 0, gid: 0 });
    assert_eq!(returned(run(&mut k, INIT, Sysno::getpid, [0; 6])), 1);
    assert_eq!(returned(run(&mut k, CHILD, Sysno::getpid, [0; 6])), 2);
    assert_eq!(returned(run(&mut k, CHILD, Sysno::gettid, [0; 6])), 2);
    assert_eq!(returned(run(&mut k, CHILD, Sysno::getppid, [0; 6])), 1);
}

#[test]
fn a_signal_reaches_only_a_task_of_the_sandbox() {
    let (mut k, _) = sandbox(Ids { uid: 0, gid: 0 });
    // kill(2, SIGTERM) becomes the host's kill of the child's host id.
    match run(
        &mut k,
        INIT,
        Sysno::kill,
        [2, libc::SIGTERM as u64, 0, 0, 0, 0],
    ) {
        Action::PassWith(args) => assert_eq!(args[0], CHILD as u64),
        other => panic!("kill was not translated: {other:?}"),
    }
    // A number the sandbox does not hold is ESRCH, never a host process.
    let esrch = -(libc::ESRCH as i64);
    for pid in [3u64, INIT as u64, 999_999] {
        assert_eq!(
            returned(run(&mut k, INIT, Sysno::kill, [pid, 9, 0, 0, 0, 0])),
            esrch
        );
    }
    assert_eq!(
        returned(run(&mut k, INIT, Sysno::tgkill, [1, 77, 9, 0, 0, 0])),
        esrch
    );
    // Signal numbers past 64 are the kernel's EINVAL, before any lookup.
    assert_eq!(
        returned(run(&mut k, INIT, Sysno::kill, [2, 65, 0, 0, 0, 0])),
        -(libc::EINVAL as i64)
    );
}

#[test]
fn identity_calls_are_answered_from_the_sandbox_credentials() {
    let (mut k, mem) = sandbox(Ids { uid: 0, gid: 0 });
    assert_eq!(returned(run(&mut k, CHILD, Sysno::getuid, [0; 6])), 0);
    // setresuid(1000, 1000, -1): root may; then getresuid writes the three ids.
    let keep = u32::MAX as u64;
    assert_eq!(
        returned(run(
            &mut k,
            CHILD,
            Sysno::setresuid,
            [1000, 1000, keep, 0, 0, 0]
        )),
        0
    );
    let args = [BUF, BUF + 4, BUF + 8, 0, 0, 0];
    assert_eq!(returned(run(&mut k, CHILD, Sysno::getresuid, args)), 0);
    assert_eq!(words(&mem, CHILD, BUF, 3), [1000, 1000, 0]);
    // With the saved uid 0 it may go back; an unprivileged setuid to another id may not.
    assert_eq!(returned(run(&mut k, CHILD, Sysno::setuid, [0; 6])), 0);
    assert_eq!(
        returned(run(&mut k, CHILD, Sysno::setresuid, [7, 7, 7, 0, 0, 0])),
        0
    );
    assert_eq!(
        returned(run(&mut k, CHILD, Sysno::setuid, [0; 6])),
        -(libc::EPERM as i64)
    );
    // The other task is untouched, and an address outside the task is EFAULT.
    assert_eq!(returned(run(&mut k, INIT, Sysno::geteuid, [0; 6])), 0);
    let bad = [0xdead_0000, BUF, BUF, 0, 0, 0];
    assert_eq!(
        returned(run(&mut k, INIT, Sysno::getresuid, bad)),
        -(libc::EFAULT as i64)
    );
}

#[test]
fn the_working_directory_is_the_sandbox_path() {
    let (mut k, mem) = sandbox(Ids { uid: 0, gid: 0 });
    let n = returned(run(&mut k, CHILD, Sysno::getcwd, [BUF, 64, 0, 0, 0, 0]));
    assert_eq!(n, 11);
    assert_eq!(mem.get(CHILD, BUF, 11), b"/home/user\0");
    assert_eq!(
        returned(run(&mut k, CHILD, Sysno::getcwd, [BUF, 5, 0, 0, 0, 0])),
        -(libc::ERANGE as i64)
    );
    // After a chroot to /home, the cwd shows from the new root.
    k.fs.get_mut(&CHILD).expect("fs").root = b"/home".to_vec();
    let n = returned(run(&mut k, CHILD, Sysno::getcwd, [BUF, 64, 0, 0, 0, 0]));
    assert_eq!(mem.get(CHILD, BUF, n as usize), b"/user\0");
}

#[test]
fn the_names_are_the_sandbox_names() {
    let (mut k, mem) = sandbox(Ids { uid: 0, gid: 0 });
    assert_eq!(
        returned(run(&mut k, INIT, Sysno::uname, [BUF, 0, 0, 0, 0, 0])),
        0
    );
    // struct utsname: six 65-byte fields; the nodename is the second.
    assert_eq!(&mem.get(INIT, BUF + 65, 4), b"box\0");
    let name = b"other";
    mem.map(INIT, 0x20_0000, name);
    let args = [0x20_0000, name.len() as u64, 0, 0, 0, 0];
    assert_eq!(returned(run(&mut k, INIT, Sysno::sethostname, args)), 0);
    assert_eq!(k.uts[0].hostname, b"other");
}

#[test]
fn anonymous_memory_is_charged_before_it_is_mapped() {
    let (mut k, _) = sandbox(Ids { uid: 0, gid: 0 });
    let limits = Limits {
        memory: Some(64 << 20),
        ..Default::default()
    };
    k.memory = MemoryTable::new(limits, None, Default::default());
    let private = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as u64;
    let rw = (libc::PROT_READ | libc::PROT_WRITE) as u64;
    let mmap = |len: u64| [0, len, rw, private, u64::MAX, 0];
    assert!(matches!(
        run(&mut k, CHILD, Sysno::mmap, mmap(32 << 20)),
        Action::PassThenExit(_)
    ));
    assert_eq!(k.memory.charged, 32 << 20);
    // Past the limit: ENOMEM before the host maps anything.
    assert_eq!(
        returned(run(&mut k, CHILD, Sysno::mmap, mmap(40 << 20))),
        -(libc::ENOMEM as i64)
    );
    assert_eq!(k.memory.charged, 32 << 20);
    // Read-only anonymous memory is not committed.
    let ro = [0, 40 << 20, libc::PROT_READ as u64, private, u64::MAX, 0];
    assert!(matches!(
        run(&mut k, CHILD, Sysno::mmap, ro),
        Action::PassThenExit(_)
    ));
    assert_eq!(k.memory.charged, 32 << 20);
}

#[test]
fn a_path_is_read_once_and_the_copy_is_used_after() {
    let (mut k, mem) = sandbox(Ids { uid: 0, gid: 0 });
    mem.map(CHILD, 0x30_0000, b"/etc/passwd\0");
    let call = Call::new(&mut k, CHILD, Sysno::open, [0x30_0000, 0, 0, 0, 0, 0]);
    let path = super::sys_open::args::open::decode(&call.args).path;
    assert_eq!(super::vfs::read_path(&call, path).unwrap(), b"/etc/passwd");
    // Another thread rewrites the task's string: the call goes on with its first copy, and
    // `--strace` shows that copy.
    mem.write(CHILD, 0x30_0000, b"/etc/shadow\0").unwrap();
    assert_eq!(super::vfs::read_path(&call, path).unwrap(), b"/etc/passwd");
    assert_eq!(call.paths.borrow().len(), 1);
    let paths = call.paths.borrow();
    let shown = super::args::Shown {
        tid: CHILD,
        raw: &call.args,
        paths: &paths,
    };
    assert_eq!(
        super::sys_open::args::open::show(&shown),
        "\"/etc/passwd\", O_RDONLY"
    );
}

#[test]
fn a_foreground_group_is_translated_and_the_number_goes_back_at_the_exit() {
    use super::owner::{at_exit, OwnerHook};
    let (mut k, mem) = sandbox(Ids { uid: 0, gid: 0 });
    // ioctl(0, TIOCSPGRP, &77): no process group of the sandbox is 77.
    mem.write(INIT, BUF, &77i32.to_ne_bytes()).expect("mapped");
    let esrch = -(libc::ESRCH as i64);
    let args = [0, libc::TIOCSPGRP, BUF, 0, 0, 0];
    assert_eq!(returned(run(&mut k, INIT, Sysno::ioctl, args)), esrch);
    assert_eq!(words(&mem, INIT, BUF, 1), [77]);
    // The host's id written for the call gives way to the task's number at the exit stop,
    // whatever the call returned.
    mem.write(INIT, BUF, &INIT.to_ne_bytes()).expect("mapped");
    let hook = OwnerHook::Restore {
        addr: BUF,
        value: 1,
    };
    let eperm = -(libc::EPERM as i64);
    assert_eq!(at_exit(&k, INIT, hook, eperm), eperm);
    assert_eq!(words(&mem, INIT, BUF, 1), [1]);
}

#[test]
fn uname_under_uname26_gives_a_2_6_release() {
    const FIELD: usize = 65;
    let (mut k, mem) = sandbox(Ids { uid: 0, gid: 0 });
    mem.set_proc_file(INIT, "personality", "00020000\n");
    assert_eq!(
        returned(run(&mut k, INIT, Sysno::uname, [BUF, 0, 0, 0, 0, 0])),
        0
    );
    let release = mem.get(INIT, BUF + 2 * FIELD as u64, FIELD);
    assert!(release.starts_with(b"2.6."), "{release:?}");
    // Without the flag, the host's release.
    mem.set_proc_file(INIT, "personality", "00000000\n");
    assert_eq!(
        returned(run(&mut k, INIT, Sysno::uname, [BUF, 0, 0, 0, 0, 0])),
        0
    );
    let release = mem.get(INIT, BUF + 2 * FIELD as u64, FIELD);
    assert!(!release.starts_with(b"2.6."), "{release:?}");
}

#[test]
fn init_gets_only_the_signals_it_handles() {
    let (mut k, mem) = sandbox(Ids { uid: 0, gid: 0 });
    let kill_init = [1, libc::SIGTERM as u64, 0, 0, 0, 0];
    // SIGTERM not caught by init: dropped, as Linux drops it for a namespace's init.
    mem.set_proc_file(INIT, "status", "SigCgt:\t0000000000000000\n");
    assert_eq!(returned(run(&mut k, CHILD, Sysno::kill, kill_init)), 0);
    // Caught: the host's kill of init's host id.
    let caught = 1u64 << (libc::SIGTERM - 1);
    mem.set_proc_file(INIT, "status", &format!("SigCgt:\t{caught:016x}\n"));
    match run(&mut k, CHILD, Sysno::kill, kill_init) {
        Action::PassWith(args) => assert_eq!(args[0], INIT as u64),
        other => panic!("expected the host's kill, got {other:?}"),
    }
}

#[test]
fn rlimit_core_is_the_sentrys_whatever_the_high_bits() {
    let (mut k, mem) = sandbox(Ids { uid: 0, gid: 0 });
    // The kernel reads the resource as an int: 1 << 32 | RLIMIT_CORE is RLIMIT_CORE, which the
    // host must never set for the sandbox.
    mem.write(INIT, BUF, &[0u8; 16]).expect("mapped");
    let core = 1 << 32 | libc::RLIMIT_CORE as u64;
    assert_eq!(
        returned(run(&mut k, INIT, Sysno::setrlimit, [core, BUF, 0, 0, 0, 0])),
        0
    );
    assert!(matches!(
        run(
            &mut k,
            INIT,
            Sysno::getrlimit,
            [libc::RLIMIT_NOFILE as u64, BUF, 0, 0, 0, 0]
        ),
        Action::Pass
    ));
}

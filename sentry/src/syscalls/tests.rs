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

/// A call passed with a host id in its bytes: (arguments, which one points at them, the
/// bytes the kernel reads, the task's own).
fn host_bytes(action: Action) -> ([u64; 6], usize, Vec<u8>, Vec<u8>) {
    match action {
        Action::PassWithHostBytes {
            args,
            arg,
            host,
            own,
        } => (args, arg, host, own),
        other => panic!("expected a pass with a host id in memory, got {other:?}"),
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
fn a_foreground_group_is_translated_for_the_kernel_to_read() {
    let (mut k, mem) = sandbox(Ids { uid: 0, gid: 0 });
    // ioctl(0, TIOCSPGRP, &77): no process group of the sandbox is 77.
    mem.write(INIT, BUF, &77i32.to_ne_bytes()).expect("mapped");
    let esrch = -(libc::ESRCH as i64);
    let args = [0, libc::TIOCSPGRP, BUF, 0, 0, 0];
    assert_eq!(returned(run(&mut k, INIT, Sysno::ioctl, args)), esrch);
    // A group of the sandbox (the test's own, whose members the host knows): its host id
    // goes with the call, and the handler writes nothing itself.
    let me = std::process::id() as Tid;
    // SAFETY: getpgid takes a plain integer.
    let group = unsafe { libc::getpgid(0) };
    k.add_task(me, me, INIT, ROOT_NS);
    if group != me {
        k.add_task(group, group, INIT, ROOT_NS);
    }
    mem.map(me, BUF, &[0u8; 4096]);
    let number = k.vpid_for(me, group);
    mem.write(me, BUF, &number.to_ne_bytes()).expect("mapped");
    let (host_args, arg, host, own) = host_bytes(run(&mut k, me, Sysno::ioctl, args));
    assert_eq!((host_args, arg), (args, 2));
    assert_eq!(host, group.to_ne_bytes());
    assert_eq!(own, number.to_ne_bytes());
    assert_eq!(words(&mem, me, BUF, 1), [number as u32]);
}

#[test]
fn host_bytes_go_only_where_no_other_process_maps_them() {
    use super::place_host_bytes;
    let (_, mem) = sandbox(Ids { uid: 0, gid: 0 });
    let stack = 0x7000_0000u64;
    mem.map(INIT, stack - 4096, &[0u8; 4096]);
    let sp = stack - 64;
    let scratch = (sp - 128 - 16) & !15;
    let maps = |buf_perms: &str, stack_perms: &str| {
        format!(
            "{BUF:x}-{:x} {buf_perms} 00000000 00:01 7 /dev/zero (deleted)\n\
             {:x}-{stack:x} {stack_perms} 00000000 00:00 0 [stack]\n",
            BUF + 4096,
            stack - 4096,
        )
    };
    // The word in a private mapping: there (read-only to the task or not).
    mem.set_proc_file(INIT, "maps", &maps("r--p", "rw-p"));
    assert_eq!(
        place_host_bytes(&*mem, INIT, BUF, sp, &4100i32.to_ne_bytes()),
        Ok(BUF)
    );
    assert_eq!(words(&mem, INIT, BUF, 1), [4100]);
    // In a shared one: below the stack's red zone instead, the task's word untouched.
    mem.write(INIT, BUF, &1i32.to_ne_bytes()).expect("mapped");
    mem.set_proc_file(INIT, "maps", &maps("rw-s", "rw-p"));
    assert_eq!(
        place_host_bytes(&*mem, INIT, BUF, sp, &4100i32.to_ne_bytes()),
        Ok(scratch)
    );
    assert_eq!(words(&mem, INIT, BUF, 1), [1]);
    assert_eq!(words(&mem, INIT, scratch, 1), [4100]);
    // Neither private, or a word across a mapping's end: nowhere.
    mem.set_proc_file(INIT, "maps", &maps("rw-s", "rw-s"));
    assert_eq!(
        place_host_bytes(&*mem, INIT, BUF, sp, &4100i32.to_ne_bytes()),
        Err(nix::errno::Errno::EFAULT)
    );
    mem.set_proc_file(INIT, "maps", &maps("rw-p", "rw-s"));
    assert_eq!(
        place_host_bytes(&*mem, INIT, BUF + 4094, sp, &4100i32.to_ne_bytes()),
        Err(nix::errno::Errno::EFAULT)
    );
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
fn personality_takes_the_flags_that_keep_the_abi() {
    let (mut k, _mem) = sandbox(Ids { uid: 0, gid: 0 });
    for flags in [
        0xffff_ffffu64,
        0x0020000,
        0x0040000,
        0x0200000,
        0x1000000,
        0x0260000,
    ] {
        let action = run(&mut k, INIT, Sysno::personality, [flags, 0, 0, 0, 0, 0]);
        assert!(matches!(action, Action::Pass), "{flags:#x}: {action:?}");
    }
    // PER_LINUX32, READ_IMPLIES_EXEC, ADDR_LIMIT_32BIT change the ABI.
    for flags in [0x0008u64, 0x0400000, 0x0800000] {
        let action = run(&mut k, INIT, Sysno::personality, [flags, 0, 0, 0, 0, 0]);
        assert_eq!(returned(action), -(libc::EPERM as i64), "{flags:#x}");
    }
}

#[test]
fn chmod_keeps_s_isgid_only_for_the_group_or_cap_fsetid() {
    use super::vfs::sgid_kept;
    use crate::kernel::creds::Creds;
    let mut nobody = Creds::initial(
        Ids {
            uid: 65534,
            gid: 65534,
        },
        (0, 0),
    );
    // Outside the file's group: dropped; the other bits stay.
    assert_eq!(sgid_kept(&nobody, 4242, 0o6755), 0o4755);
    // The file-system gid or a supplementary group keeps it.
    assert_eq!(sgid_kept(&nobody, 65534, 0o2755), 0o2755);
    nobody.groups.push(4242);
    assert_eq!(sgid_kept(&nobody, 4242, 0o2755), 0o2755);
    // Root holds CAP_FSETID.
    let root = Creds::initial(Ids { uid: 0, gid: 0 }, (0, 0));
    assert_eq!(sgid_kept(&root, 4242, 0o2755), 0o2755);
    // Without the bit there is nothing to drop.
    assert_eq!(sgid_kept(&nobody, 1, 0o755), 0o755);
}

#[test]
fn truncate_past_the_file_size_limit_is_only_growth() {
    use super::sys_namei::grows_past;
    assert!(grows_past(8192, 1, 4096));
    assert!(!grows_past(4096, 1, 4096));
    // Shrinking, or a file already past the limit keeping its size, is allowed.
    assert!(!grows_past(8192, 8192, 4096));
    assert!(!grows_past(10, 8192, 4096));
    assert!(!grows_past(-1, 0, 0));
}

#[test]
fn the_file_size_limit_is_the_soft_one_of_proc_limits() {
    use super::sys_namei::soft_file_size_limit;
    let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                  Max cpu time              unlimited            unlimited            seconds   \n\
                  Max file size             4096                 8192                 bytes     \n";
    assert_eq!(soft_file_size_limit(limits), Some(4096));
    let unlimited = "Max file size             unlimited            unlimited            bytes\n";
    assert_eq!(soft_file_size_limit(unlimited), None);
    assert_eq!(soft_file_size_limit(""), None);
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
    expect_host_kill_of_init(run(&mut k, CHILD, Sysno::kill, kill_init));
}

/// The action of a kill that the host makes, to init's host id.
fn expect_host_kill_of_init(action: Action) {
    match action {
        Action::PassWith(args) => assert_eq!(args[0], INIT as u64),
        other => panic!("expected the host's kill, got {other:?}"),
    }
}

#[test]
fn init_gets_the_signals_it_blocks() {
    let (mut k, mem) = sandbox(Ids { uid: 0, gid: 0 });
    // Blocked, not caught: queued for init's sigtimedwait or signalfd, as on Linux.
    let blocked = 1u64 << (libc::SIGUSR1 - 1);
    let status = format!("SigBlk:\t{blocked:016x}\nSigCgt:\t0000000000000000\n");
    mem.set_proc_file(INIT, "status", &status);
    let kill_init = |sig: i32| [1, sig as u64, 0, 0, 0, 0];
    expect_host_kill_of_init(run(&mut k, CHILD, Sysno::kill, kill_init(libc::SIGUSR1)));
    // Another signal, neither blocked nor caught: dropped.
    assert_eq!(
        returned(run(&mut k, CHILD, Sysno::kill, kill_init(libc::SIGUSR2))),
        0
    );
}

#[test]
fn init_gets_the_signals_its_sigtimedwait_awaits() {
    let (mut k, mem) = sandbox(Ids { uid: 0, gid: 0 });
    // While the wait runs the mask lets SIGTERM through; Linux counts it as blocked.
    mem.set_proc_file(INIT, "status", "SigBlk:\t0000000000000000\nSigCgt:\t0\n");
    let kill_init = [1, libc::SIGTERM as u64, 0, 0, 0, 0];
    assert_eq!(returned(run(&mut k, CHILD, Sysno::kill, kill_init)), 0);
    k.tasks.get_mut(&INIT).unwrap().awaited_signals = 1 << (libc::SIGTERM - 1);
    expect_host_kill_of_init(run(&mut k, CHILD, Sysno::kill, kill_init));
}

#[test]
fn sigtimedwait_with_a_siginfo_waits_for_the_delivery() {
    let (mut k, mem) = sandbox(Ids { uid: 0, gid: 0 });
    let bit = |sig: i32| 1u64 << (sig - 1);
    let set = bit(libc::SIGUSR1) | bit(libc::SIGKILL) | bit(libc::SIGSTOP);
    mem.write(INIT, BUF, &set.to_ne_bytes()).unwrap();
    let timespec: Vec<u8> = [7u64, 9].iter().flat_map(|w| w.to_ne_bytes()).collect();
    mem.write(INIT, BUF + 16, &timespec).unwrap();
    let info = BUF + 64;
    match run(
        &mut k,
        INIT,
        Sysno::rt_sigtimedwait,
        [BUF, info, BUF + 16, 8, 0, 0],
    ) {
        Action::WaitSignal {
            set: waited,
            timeout: Some(copy),
            delivery,
        } => {
            // SIGKILL and SIGSTOP are never waited for; the timespec is the task's, copied.
            assert_eq!(waited, bit(libc::SIGUSR1));
            assert_eq!(delivery, super::Delivery::Siginfo { at: info });
            assert_eq!(copy.to_vec(), timespec);
        }
        other => panic!("expected a wait for the delivery, got {other:?}"),
    }
    let no_timeout = run(
        &mut k,
        INIT,
        Sysno::rt_sigtimedwait,
        [BUF, info, 0, 8, 0, 0],
    );
    assert!(matches!(
        no_timeout,
        Action::WaitSignal { timeout: None, .. }
    ));
    // Unreadable set or timespec: EFAULT, before any wait.
    let efault = -(libc::EFAULT as i64);
    let unmapped = 0x10;
    let call = [unmapped, info, 0, 8, 0, 0];
    assert_eq!(
        returned(run(&mut k, INIT, Sysno::rt_sigtimedwait, call)),
        efault
    );
    let call = [BUF, info, unmapped, 8, 0, 0];
    assert_eq!(
        returned(run(&mut k, INIT, Sysno::rt_sigtimedwait, call)),
        efault
    );
    // Without a siginfo (or with a wrong set size) the kernel writes no host id: it runs.
    for call in [[BUF, 0, 0, 8, 0, 0], [BUF, info, 0, 4, 0, 0]] {
        let action = run(&mut k, INIT, Sysno::rt_sigtimedwait, call);
        assert!(matches!(action, Action::PassThenExit(_)), "{action:?}");
    }
}

#[test]
fn a_signalfd_read_waits_for_the_delivery_and_other_high_reads_are_recorded() {
    use super::signalfd::FLOOR;
    use super::Delivery;
    let (mut k, mem) = sandbox(Ids { uid: 0, gid: 0 });
    let (sfd, pipe) = (FLOOR as u64 + 3, FLOOR as u64 + 4);
    let usr1 = 1u64 << (libc::SIGUSR1 - 1);
    let fdinfo =
        format!("pos:\t0\nflags:\t02004000\nmnt_id:\t15\nino:\t1057\nsigmask:\t{usr1:016x}\n");
    mem.set_proc_file(INIT, &format!("fdinfo/{sfd}"), &fdinfo);
    mem.set_proc_file(INIT, &format!("fdinfo/{pipe}"), "pos:\t0\nflags:\t02\n");
    // Below the floor no signalfd lives: the read runs.
    assert!(matches!(
        run(&mut k, INIT, Sysno::read, [3, BUF, 128, 0, 0, 0]),
        Action::Pass
    ));
    // A non-blocking signalfd: a wait for its signals that does not block.
    match run(&mut k, INIT, Sysno::read, [sfd, BUF, 4096, 0, 0, 0]) {
        Action::WaitSignal {
            set,
            timeout,
            delivery,
        } => {
            assert_eq!(set, usr1);
            assert_eq!(timeout, Some([0; 16]));
            assert_eq!(delivery, Delivery::Record { at: BUF });
        }
        other => panic!("expected a wait for the delivery, got {other:?}"),
    }
    let short = run(&mut k, INIT, Sysno::read, [sfd, BUF, 64, 0, 0, 0]);
    assert_eq!(returned(short), -(libc::EINVAL as i64));
    // Another fd at or above the floor runs, its number kept for the kernel's look.
    assert!(matches!(
        run(&mut k, INIT, Sysno::read, [pipe, BUF, 64, 0, 0, 0]),
        Action::Pass
    ));
    assert_eq!(k.high_reads.get(&INIT), Some(&(pipe as u32)));
    // dup2 of a signalfd is refused; dup2 of the pipe runs.
    let dup2 = |k: &mut Kernel, fd: u64| run(k, INIT, Sysno::dup2, [fd, 5, 0, 0, 0, 0]);
    assert_eq!(returned(dup2(&mut k, sfd)), -(libc::EPERM as i64));
    assert!(matches!(dup2(&mut k, pipe), Action::Pass));
}

#[test]
fn a_signalfd_record_is_filled_as_the_kernel_fills_it() {
    use super::signalfd::record_of;
    let word = |r: &[u8], at: usize| u32::from_ne_bytes(r[at..at + 4].try_into().unwrap());
    let long = |r: &[u8], at: usize| u64::from_ne_bytes(r[at..at + 8].try_into().unwrap());
    let mut info = [0u8; 128];
    let put = |info: &mut [u8; 128], at: usize, bytes: &[u8]| {
        info[at..at + bytes.len()].copy_from_slice(bytes)
    };
    // SIGCHLD, CLD_EXITED: pid, uid, status, utime, stime.
    put(&mut info, 0, &libc::SIGCHLD.to_ne_bytes());
    put(&mut info, 8, &libc::CLD_EXITED.to_ne_bytes());
    put(&mut info, 16, &7i32.to_ne_bytes());
    put(&mut info, 20, &1000u32.to_ne_bytes());
    put(&mut info, 24, &3i32.to_ne_bytes());
    put(&mut info, 32, &11u64.to_ne_bytes());
    put(&mut info, 40, &12u64.to_ne_bytes());
    let record = record_of(&info);
    assert_eq!(word(&record, 0), libc::SIGCHLD as u32);
    assert_eq!((word(&record, 12), word(&record, 16)), (7, 1000));
    assert_eq!(word(&record, 40), 3);
    assert_eq!((long(&record, 56), long(&record, 64)), (11, 12));
    // sigqueue (SI_QUEUE): pid, uid and the value as int and pointer.
    let mut info = [0u8; 128];
    put(&mut info, 0, &libc::SIGUSR1.to_ne_bytes());
    put(&mut info, 8, &(-1i32).to_ne_bytes());
    put(&mut info, 16, &9i32.to_ne_bytes());
    put(&mut info, 24, &0x1234_0000_0042u64.to_ne_bytes());
    let record = record_of(&info);
    assert_eq!(word(&record, 12), 9);
    assert_eq!(word(&record, 44), 0x42);
    assert_eq!(long(&record, 48), 0x1234_0000_0042);
    // A fault: only the address.
    let mut info = [0u8; 128];
    put(&mut info, 0, &libc::SIGSEGV.to_ne_bytes());
    put(&mut info, 8, &1i32.to_ne_bytes());
    put(&mut info, 16, &0xdead_beefu64.to_ne_bytes());
    let record = record_of(&info);
    assert_eq!(long(&record, 72), 0xdead_beef);
    assert_eq!(word(&record, 12), 0);
}

#[test]
fn init_discards_at_delivery_the_signals_it_does_not_handle() {
    use super::sys_signal::discarded_by_init;
    let (k, mem) = sandbox(Ids { uid: 0, gid: 0 });
    let siginfo = |signo: i32, code: i32, sender: Tid| {
        let mut info = [0u8; 128];
        info[0..4].copy_from_slice(&signo.to_ne_bytes());
        info[8..12].copy_from_slice(&code.to_ne_bytes());
        info[16..20].copy_from_slice(&sender.to_ne_bytes());
        info
    };
    let none = "SigIgn:\t0000000000000000\nSigCgt:\t0000000000000000\n";
    mem.set_proc_file(INIT, "status", none);
    mem.set_proc_file(CHILD, "status", none);
    let (usr1, kernel_code, segv_maperr) = (libc::SIGUSR1, 0x80, 1);
    // Sent by a task of the sandbox (kill: SI_USER), by the kernel (SI_KERNEL) or by init's
    // own write to a broken pipe (SI_USER from itself): discarded.
    assert!(discarded_by_init(&k, INIT, usr1, &siginfo(usr1, 0, CHILD)));
    assert!(discarded_by_init(
        &k,
        INIT,
        libc::SIGALRM,
        &siginfo(libc::SIGALRM, kernel_code, 0)
    ));
    assert!(discarded_by_init(
        &k,
        INIT,
        libc::SIGPIPE,
        &siginfo(libc::SIGPIPE, 0, INIT)
    ));
    // A fault of init's own code, a sender outside the sandbox, another process: delivered.
    let segv = siginfo(libc::SIGSEGV, segv_maperr, 0);
    assert!(!discarded_by_init(&k, INIT, libc::SIGSEGV, &segv));
    assert!(!discarded_by_init(
        &k,
        INIT,
        usr1,
        &siginfo(usr1, 0, 99_999)
    ));
    assert!(!discarded_by_init(&k, CHILD, usr1, &siginfo(usr1, 0, INIT)));
    // A child's SIGCHLD: ignored by default, the host does as Linux, handled or not.
    let chld = siginfo(libc::SIGCHLD, 1, CHILD);
    assert!(!discarded_by_init(&k, INIT, libc::SIGCHLD, &chld));
    // Handled or ignored by init: the host delivers it as it would anyway.
    let caught = 1u64 << (usr1 - 1);
    mem.set_proc_file(INIT, "status", &format!("SigCgt:\t{caught:016x}\n"));
    assert!(!discarded_by_init(&k, INIT, usr1, &siginfo(usr1, 0, CHILD)));
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

/// The child killed by `sig` after a setrlimit(RLIMIT_CORE, {soft, unlimited}) of its own
/// and, when `undumpable`, a PR_SET_DUMPABLE 0; then reaped by init's wait4(2, BUF, 0):
/// the status init reads, the host having written `sig` alone (it writes no core).
fn status_of_child_killed(sig: i32, soft: u64, undumpable: bool) -> i32 {
    use super::{sys_wait, ExitHook};
    let (mut k, mem) = sandbox(Ids { uid: 0, gid: 0 });
    mem.write(CHILD, BUF, &soft.to_ne_bytes()).expect("mapped");
    mem.write(CHILD, BUF + 8, &u64::MAX.to_ne_bytes())
        .expect("mapped");
    let core = libc::RLIMIT_CORE as u64;
    assert_eq!(
        returned(run(
            &mut k,
            CHILD,
            Sysno::setrlimit,
            [core, BUF, 0, 0, 0, 0]
        )),
        0
    );
    if undumpable {
        let dumpable = libc::PR_SET_DUMPABLE as u64;
        assert_eq!(
            returned(run(&mut k, CHILD, Sysno::prctl, [dumpable, 0, 0, 0, 0, 0])),
            0
        );
    }
    // Its death, as the supervisor records it; a zombie of init's, on the host too.
    k.task_ended(CHILD, Some(sig));
    assert_eq!(k.task_exited(CHILD), Some(None));
    mem.set_proc_file(
        CHILD,
        "stat",
        &format!("{CHILD} (child) Z {INIT} {CHILD} 0"),
    );
    let status_at = BUF + 64;
    let Action::PassWithThenExit(
        args,
        ExitHook::Reaped {
            infop,
            status,
            nowait,
            eagain_if_none,
        },
    ) = run(&mut k, INIT, Sysno::wait4, [2, status_at, 0, 0, 0, 0])
    else {
        panic!("wait4 of the child was not translated");
    };
    assert_eq!((args[0], status, infop), (CHILD as u64, status_at, None));
    mem.write(INIT, status_at, &sig.to_ne_bytes())
        .expect("mapped");
    let how = (nowait, eagain_if_none);
    let rval = sys_wait::after_wait(&mut k, INIT, (infop, status), how, CHILD as i64);
    assert_eq!(rval, 2, "the child's number");
    assert!(
        k.dumped_core.is_empty(),
        "nothing is left of the reaped child"
    );
    words(&mem, INIT, status_at, 1)[0] as i32
}

#[test]
fn the_core_bit_follows_the_sandbox_core_limit() {
    let unlimited = u64::MAX;
    for sig in [libc::SIGQUIT, libc::SIGSEGV, libc::SIGABRT, libc::SIGSYS] {
        assert_eq!(status_of_child_killed(sig, unlimited, false), sig | 0x80);
    }
    // A page is the smallest core Linux writes.
    assert_eq!(status_of_child_killed(libc::SIGSEGV, 4096, false), 0x8b);
    // Below it, or not dumpable, or a signal that dumps nothing: no bit.
    for soft in [0, 1, 4095] {
        assert_eq!(status_of_child_killed(libc::SIGSEGV, soft, false), 0xb);
    }
    assert_eq!(status_of_child_killed(libc::SIGQUIT, unlimited, true), 3);
    for sig in [libc::SIGTERM, libc::SIGKILL, libc::SIGUSR1] {
        assert_eq!(status_of_child_killed(sig, unlimited, false), sig);
    }
}

#[test]
fn waitid_and_sigchld_say_cld_dumped() {
    use super::{sys_signal, sys_wait};
    const CLD_KILLED: i32 = 2;
    const CLD_DUMPED: i32 = 3;
    let (mut k, mem) = sandbox(Ids { uid: 0, gid: 0 });
    // A child with an unlimited core limit (as after its setrlimit) dies of SIGABRT.
    k.tasks.get_mut(&CHILD).expect("child").creds.core_limit = (u64::MAX, u64::MAX);
    k.task_ended(CHILD, Some(libc::SIGABRT));
    assert_eq!(k.task_exited(CHILD), Some(None));
    // The SIGCHLD the host sends init names the host child, CLD_KILLED.
    let mut info = [0u8; 128];
    info[0..4].copy_from_slice(&libc::SIGCHLD.to_ne_bytes());
    info[8..12].copy_from_slice(&CLD_KILLED.to_ne_bytes());
    info[16..20].copy_from_slice(&CHILD.to_ne_bytes());
    assert!(sys_signal::translate_siginfo(&k, INIT, &mut info));
    assert_eq!(info[8..12], CLD_DUMPED.to_ne_bytes());
    assert_eq!(info[16..20], 2i32.to_ne_bytes());
    // waitid(P_PID, 2, infop, WEXITED | WNOWAIT), then without WNOWAIT.
    for nowait in [true, false] {
        let mut siginfo = [0u8; 128];
        siginfo[0..4].copy_from_slice(&libc::SIGCHLD.to_ne_bytes());
        siginfo[8..12].copy_from_slice(&CLD_KILLED.to_ne_bytes());
        siginfo[16..20].copy_from_slice(&CHILD.to_ne_bytes());
        mem.write(INIT, BUF, &siginfo).expect("mapped");
        let rval = sys_wait::after_wait(&mut k, INIT, (Some(BUF), 0), (nowait, false), 0);
        assert_eq!(rval, 0);
        assert_eq!(words(&mem, INIT, BUF + 8, 1), [CLD_DUMPED as u32]);
        assert_eq!(words(&mem, INIT, BUF + 16, 1), [2]);
        assert_eq!(k.dumped_core.contains(&CHILD), nowait);
    }
}

/// A siginfo as the host kernel writes it: signal, code, sender's host pid and host uid.
fn host_siginfo(signo: i32, code: i32, pid: Tid, uid: u32) -> [u8; 128] {
    let mut info = [0u8; 128];
    info[0..4].copy_from_slice(&signo.to_ne_bytes());
    info[8..12].copy_from_slice(&code.to_ne_bytes());
    info[16..20].copy_from_slice(&pid.to_ne_bytes());
    info[20..24].copy_from_slice(&uid.to_ne_bytes());
    info
}

#[test]
fn a_reaped_sender_is_still_named_in_its_signal() {
    use super::{sys_signal::translate_siginfo, sys_wait};
    let (mut k, _) = sandbox(Ids {
        uid: 1000,
        gid: 1000,
    });
    const HOST_UID: u32 = 4321;
    // The child sent SIGUSR1 (SI_USER) to init, exited and was reaped.
    k.task_ended(CHILD, None);
    assert_eq!(k.task_exited(CHILD), Some(None));
    assert_eq!(
        sys_wait::after_wait(&mut k, INIT, (None, 0), (false, false), CHILD as i64),
        2
    );
    assert_eq!(k.translate(INIT, 2), None, "its number is free");
    let mut info = host_siginfo(libc::SIGUSR1, 0, CHILD, HOST_UID);
    assert!(translate_siginfo(&k, INIT, &mut info));
    assert_eq!(info[16..20], 2i32.to_ne_bytes(), "si_pid: its number");
    assert_eq!(
        info[20..24],
        1000u32.to_ne_bytes(),
        "si_uid: its sandbox uid"
    );
    // SI_QUEUE's ids are the sender's own words: passed on as they are.
    let mut info = host_siginfo(libc::SIGUSR1, -1, 2, 1000);
    assert!(!translate_siginfo(&k, INIT, &mut info));
    // A host id the sandbox never had is no sender of the sandbox: 0.
    let mut info = host_siginfo(libc::SIGUSR1, 0, 777_777, HOST_UID);
    translate_siginfo(&k, INIT, &mut info);
    assert_eq!(info[16..20], 0i32.to_ne_bytes());
}

#[test]
fn the_record_of_departed_tasks_is_bounded() {
    let (mut k, _) = sandbox(Ids { uid: 0, gid: 0 });
    // Orphans (the sentry their parent) are released at their exit: 1000 of them.
    let first: Tid = 10_000;
    for tid in first..first + 1000 {
        k.add_task(tid, tid, 0, ROOT_NS);
        k.task_ended(tid, None);
        assert_eq!(k.task_exited(tid), Some(None));
    }
    // The latest are remembered under their numbers (3 onwards: init and the child are 1
    // and 2), the oldest forgotten.
    let last = first + 999;
    assert_eq!(k.sender_vpid(INIT, last), 1002);
    assert_eq!(k.sender_vpid(INIT, last - 255), 1002 - 255);
    assert_eq!(k.sender_vpid(INIT, first), 0);
    assert_eq!(k.sender_vpid(INIT, last - 256), 0);
    // A host id reused by a new task names the new one.
    k.add_task(last, last, INIT, ROOT_NS);
    assert_eq!(k.sender_vpid(INIT, last), 1003);
}

#[test]
fn pagemap_is_the_host_file_for_its_process_or_an_inspector() {
    use crate::proc::{resolve, Resolved};
    let (mut k, _) = sandbox(Ids {
        uid: 1000,
        gid: 1000,
    });
    let pagemap_of = |k: &Kernel, reader: Tid, path: &[u8]| match resolve(k, reader, path, true) {
        Ok(Resolved::Pagemap { host }) => Ok(host),
        Ok(_) => panic!("{} is not a pagemap", String::from_utf8_lossy(path)),
        Err(e) => Err(e),
    };
    assert_eq!(pagemap_of(&k, CHILD, b"self/pagemap"), Ok(CHILD));
    // Same ids: init's too.
    assert_eq!(pagemap_of(&k, CHILD, b"1/pagemap"), Ok(INIT));
    // Once init has other ids (a set-id program, say), its pagemap is closed to the child
    // (EACCES), as ptrace's check says.
    let init = &mut k.tasks.get_mut(&INIT).expect("init").creds;
    (init.ruid, init.euid, init.suid) = (7, 7, 7);
    assert_eq!(
        pagemap_of(&k, CHILD, b"1/pagemap"),
        Err(nix::errno::Errno::EACCES)
    );
    assert_eq!(pagemap_of(&k, CHILD, b"2/pagemap"), Ok(CHILD));
}

#[test]
fn an_open_gives_a_terminal_only_to_a_session_leader_without_one() {
    let (mut k, mem) = sandbox(Ids { uid: 0, gid: 0 });
    // "pid (comm) state ppid pgrp session tty_nr …", with a comm that holds ") ".
    let stat = |session: Tid, tty_nr: u64| {
        format!("{INIT} (a) b) S 1 {session} {session} {tty_nr} -1 4194560 0\n")
    };
    let gives = |k: &mut Kernel, flags: i32| {
        let call = Call::new(k, INIT, Sysno::openat, [0; 6]);
        super::terminals::becomes_controlling(&call, flags)
    };
    mem.set_proc_file(INIT, "stat", &stat(INIT, 0));
    assert!(gives(&mut k, libc::O_RDWR));
    assert!(gives(&mut k, libc::O_RDONLY));
    assert!(!gives(&mut k, libc::O_RDWR | libc::O_NOCTTY));
    // Linux gives none to a write-only open.
    assert!(!gives(&mut k, libc::O_WRONLY));
    // Not the leader of its session, or one that has a terminal already.
    mem.set_proc_file(INIT, "stat", &stat(CHILD, 0));
    assert!(!gives(&mut k, libc::O_RDWR));
    mem.set_proc_file(INIT, "stat", &stat(INIT, 34816));
    assert!(!gives(&mut k, libc::O_RDWR));
}

#[test]
fn prctl_options_outside_the_decided_set_run_on_the_host() {
    // The seccomp filter lets every option outside PRCTL_DECIDED run in the kernel: the
    // handler must have nothing to say about them either.
    let (mut k, _mem) = sandbox(Ids { uid: 0, gid: 0 });
    for option in (0..80u32).filter(|o| !super::process::PRCTL_DECIDED.contains(o)) {
        let action = run(&mut k, CHILD, Sysno::prctl, [option as u64, 0, 0, 0, 0, 0]);
        assert!(
            matches!(action, Action::Pass),
            "prctl option {option}: {action:?}"
        );
    }
}

/// A call that names the caller itself (pid 0) has nothing to translate: it runs as the
/// task made it, with no exit stop to put registers back; another pid is translated.
#[test]
fn a_pid_of_zero_is_passed_as_it_is() {
    let (mut k, _) = sandbox(Ids { uid: 0, gid: 0 });
    let nofile = libc::RLIMIT_NOFILE as u64;
    match run(
        &mut k,
        CHILD,
        Sysno::prlimit64,
        [0, nofile, 0, 0x1000, 0, 0],
    ) {
        Action::Pass => {}
        other => panic!("prlimit64 of the caller was rewritten: {other:?}"),
    }
    match run(&mut k, INIT, Sysno::prlimit64, [2, nofile, 0, 0x1000, 0, 0]) {
        Action::PassWith(args) => assert_eq!(args[0], CHILD as u64),
        other => panic!("prlimit64 of the child was not translated: {other:?}"),
    }
}

#[test]
fn a_fork_takes_the_exec_area_of_its_entry_and_no_failed_clones_flags() {
    use crate::kernel::exec_area::ExecArea;
    let (mut kernel, _mem) = sandbox(Ids {
        uid: 1000,
        gid: 1000,
    });
    let area = ExecArea {
        at: 0x2000_0000_0000,
        len: 0x10000,
    };
    drop(kernel.tasks[&INIT].space.record(area));
    // A clone of a thread that the kernel then refused leaves its flags behind...
    let thread = (libc::CLONE_THREAD | libc::CLONE_VM | libc::CLONE_SIGHAND) as u64;
    run(&mut kernel, INIT, Sysno::clone, [thread, 0, 0, 0, 0, 0]);
    assert!(kernel.tasks[&INIT].clone_args.is_some());
    // ...which a fork's entry forgets: its child is a process with a copy of the area.
    run(&mut kernel, INIT, Sysno::fork, [0; 6]);
    assert_eq!(kernel.tasks[&INIT].area_at_clone, Some(area));
    kernel.task_created(INIT, 4300, false);
    assert_eq!(kernel.tgid_of(4300), 4300);
    let child = &kernel.tasks[&4300].space;
    assert!(!Arc::ptr_eq(child, &kernel.tasks[&INIT].space));
    assert_eq!(child.area(), Some(area));
}

/// The call the sentry has the task make for a waitid for stops or continues, and what it
/// asked; None for any other action.
fn probe_of(action: Action) -> Option<([u64; 6], super::sys_wait::WaitAsk)> {
    match action {
        Action::PassWithThenExit(args, super::ExitHook::WaitidProbe { asked, infop, .. }) => {
            assert_eq!(infop, BUF);
            Some((args, asked))
        }
        _ => None,
    }
}

#[test]
fn a_waitid_for_stops_is_answered_by_the_sentry_from_waits_that_write_nothing() {
    use super::sys_wait::{after_waitid_probe, WaitAsk};
    let (mut k, mem) = sandbox(Ids { uid: 0, gid: 0 });
    const P_PID: u64 = 1;
    const REFUSED: u64 = 0xffff_ffff_ffff_f000;
    let efault = -(libc::EFAULT as i64);
    let waitid = |k: &mut Kernel, options: i32, rusage: u64| {
        let args = [P_PID, 2, BUF, options as u64, rusage, 0];
        probe_of(run(k, INIT, Sysno::waitid, args)).expect("a probe")
    };
    let after =
        |k: &mut Kernel, asked, rval| after_waitid_probe(k, INIT, (BUF, false, asked), rval);
    k.stop_signals.insert(CHILD, libc::SIGTSTP);

    // First, whether anything is waitable: the caller's wait with WNOWAIT, no siginfo, and
    // the refused rusage, which makes "found" EFAULT.
    let stopped = libc::WSTOPPED;
    let (args, asked) = waitid(&mut k, stopped, 0);
    let nowait = (stopped | libc::WNOWAIT) as u64;
    assert_eq!(
        (args, asked),
        ([P_PID, CHILD as u64, 0, nowait, REFUSED, 0], WaitAsk::Any)
    );
    assert_eq!(after(&mut k, asked, efault), None);
    // Then the child, event by event, with WNOHANG: this one takes the stop and answers.
    let (args, asked) = waitid(&mut k, stopped, 0);
    let one = (stopped | libc::WNOHANG) as u64;
    assert_eq!(args, [P_PID, CHILD as u64, 0, one, REFUSED, 0]);
    let child = WaitAsk::Child {
        child: CHILD,
        event: stopped,
        answers: true,
    };
    assert_eq!(asked, child);
    assert_eq!(after(&mut k, asked, efault), Some(0));
    // The siginfo: SIGCHLD, CLD_STOPPED, the child's number and uid, its stop signal.
    let w = words(&mem, INIT, BUF, 7);
    let stop = [libc::SIGCHLD, libc::CLD_STOPPED, 2, 0, libc::SIGTSTP].map(|v| v as u32);
    assert_eq!([w[0], w[2], w[4], w[5], w[6]], stop);
    assert!(k.wait_probes.is_empty());

    // Nothing waitable under WNOHANG: zeros, as Linux writes them.
    let (_, asked) = waitid(&mut k, stopped | libc::WNOHANG, 0);
    assert_eq!(after(&mut k, asked, 0), Some(0));
    assert_eq!(words(&mem, INIT, BUF, 7)[..3], [0, 0, 0]);
    // The kernel's error ends the wait, with zeros too.
    let (_, asked) = waitid(&mut k, stopped, 0);
    let echild = -(libc::ECHILD as i64);
    assert_eq!(after(&mut k, asked, echild), Some(echild));
    assert!(k.wait_probes.is_empty());

    // A child with nothing to report is passed over; when none is left, the wait starts
    // again (what was waitable went meanwhile).
    let continued = libc::WCONTINUED;
    let (_, asked) = waitid(&mut k, continued, 0);
    assert_eq!(after(&mut k, asked, efault), None);
    let (_, asked) = waitid(&mut k, continued, 0);
    assert_eq!(after(&mut k, asked, 0), None);
    let (_, asked) = waitid(&mut k, continued, 0);
    assert_eq!(asked, WaitAsk::Any);

    // With the caller's rusage: found without taking it (WNOWAIT), then taken by the
    // caller's own wait, which fills the rusage, and answered.
    let rusage = BUF + 0x400;
    k.wait_probes.clear();
    let (_, asked) = waitid(&mut k, continued, rusage);
    assert_eq!(after(&mut k, asked, efault), None);
    let (args, asked) = waitid(&mut k, continued, rusage);
    assert_eq!(args[3], (continued | libc::WNOHANG | libc::WNOWAIT) as u64);
    assert_eq!(after(&mut k, asked, efault), None);
    let (args, asked) = waitid(&mut k, continued, rusage);
    let take = (continued | libc::WNOHANG) as u64;
    assert_eq!(args, [P_PID, CHILD as u64, 0, take, rusage, 0]);
    assert_eq!(
        asked,
        WaitAsk::Take {
            child: CHILD,
            event: continued
        }
    );
    assert_eq!(after(&mut k, asked, 0), Some(0));
    let w = words(&mem, INIT, BUF, 7);
    assert_eq!(
        (w[2], w[4], w[6]),
        (libc::CLD_CONTINUED as u32, 2, libc::SIGCONT as u32)
    );

    // Progress belongs to the call it was made for: another call starts afresh.
    let (_, asked) = waitid(&mut k, continued, 0);
    assert_eq!(after(&mut k, asked, efault), None);
    let (_, asked) = waitid(&mut k, stopped, 0);
    assert_eq!(asked, WaitAsk::Any);
}

#[test]
fn a_reaping_waitid_runs_as_wait4_and_the_sentry_writes_its_siginfo() {
    let (mut k, mem) = sandbox(Ids { uid: 0, gid: 0 });
    const P_PID: u64 = 1;
    let waitid = |k: &mut Kernel, options: i32| {
        run(
            k,
            INIT,
            Sysno::waitid,
            [P_PID, 2, BUF, options as u64, 0, 0],
        )
    };
    // Reaping: wait4 for the child's host id, its status word at the siginfo.
    match waitid(&mut k, libc::WEXITED | libc::WNOHANG) {
        Action::PassAsThenExit { nr, args, .. } => {
            assert_eq!(nr, Sysno::wait4.id() as u64);
            assert_eq!(args[..3], [CHILD as u64, BUF, libc::WNOHANG as u64]);
        }
        other => panic!("expected waitid as wait4, got {other:?}"),
    }
    // WNOWAIT leaves the child: the kernel's waitid for the child's host id, with no
    // siginfo for the kernel to write; the sentry writes it.
    match waitid(&mut k, libc::WEXITED | libc::WNOWAIT) {
        Action::PassWithThenExit(args, super::ExitHook::WaitidPeek { infop, id, .. }) => {
            assert_eq!(args[..3], [P_PID, CHILD as u64, 0]);
            assert_eq!((infop, id), (BUF, CHILD));
        }
        other => panic!("expected a waitid without a siginfo, got {other:?}"),
    }
    // Failed: zeros, as Linux writes them; unwritable memory is EFAULT, not a kill.
    mem.write(INIT, BUF + 16, &77i32.to_ne_bytes()).unwrap();
    let peek = (BUF, P_PID as i32, CHILD, false, false);
    let echild = -(libc::ECHILD as i64);
    let rval = super::sys_wait::after_waitid_peek(&mut k, INIT, peek, echild);
    assert_eq!((rval, words(&mem, INIT, BUF, 7)[4]), (Some(echild), 0));
    let unmapped = (0x10, P_PID as i32, CHILD, false, false);
    let rval = super::sys_wait::after_waitid_peek(&mut k, INIT, unmapped, echild);
    assert_eq!(rval, Some(-(libc::EFAULT as i64)));
    // Without a siginfo, a reaping waitid is wait4 too, with no status word: the sentry
    // lets the child it reaped go (gone from the host), and waitid says 0.
    match run(
        &mut k,
        INIT,
        Sysno::waitid,
        [P_PID, 2, 0, libc::WEXITED as u64, 0, 0],
    ) {
        Action::PassAsThenExit { nr, args, .. } => {
            assert_eq!(nr, Sysno::wait4.id() as u64);
            assert_eq!(args[..3], [CHILD as u64, 0, 0]);
        }
        other => panic!("expected waitid as wait4, got {other:?}"),
    }
    const REAPED: Tid = 4300;
    k.zombies.insert(REAPED, 0);
    let rval = super::sys_wait::after_waitid_as_wait4(&mut k, INIT, (0, false), REAPED as i64);
    assert_eq!((rval, k.zombies.contains_key(&REAPED)), (0, false));
    // Stops are the sentry's to report too (see the test below).
    assert!(matches!(
        waitid(&mut k, libc::WSTOPPED | libc::WNOWAIT),
        Action::PassWithThenExit(_, super::ExitHook::WaitidProbe { .. })
    ));
    k.wait_probes.clear();
    // wait4 reaped the child, which exited 7: the siginfo names it by its number.
    mem.write(INIT, BUF, &0x0700i32.to_ne_bytes())
        .expect("status word");
    let rval = super::sys_wait::after_waitid_as_wait4(&mut k, INIT, (BUF, false), CHILD as i64);
    assert_eq!(rval, 0);
    let w = words(&mem, INIT, BUF, 7);
    let (signo, code, pid, uid, status) = (w[0], w[2], w[4], w[5], w[6]);
    assert_eq!(
        (signo, code, pid, uid, status),
        (libc::SIGCHLD as u32, libc::CLD_EXITED as u32, 2, 0, 7)
    );
    // Nothing to report (WNOHANG): zeros, as Linux writes them; by a pidfd that does not
    // block, EAGAIN unless the caller asked for WNOHANG.
    let rval = super::sys_wait::after_waitid_as_wait4(&mut k, INIT, (BUF, false), 0);
    assert_eq!((rval, words(&mem, INIT, BUF, 7)[4]), (0, 0));
    let rval = super::sys_wait::after_waitid_as_wait4(&mut k, INIT, (BUF, true), 0);
    let eagain = -(libc::EAGAIN as i64);
    assert_eq!((rval, words(&mem, INIT, BUF, 7)[4]), (eagain, 0));
    let none = (BUF, P_PID as i32, CHILD, true, true);
    let rval = super::sys_wait::after_waitid_peek(&mut k, INIT, none, 0);
    assert_eq!((rval, words(&mem, INIT, BUF, 7)[4]), (Some(eagain), 0));
    mem.write(INIT, BUF, &[0u8; 28]).unwrap();
    let rval = super::sys_wait::after_wait(&mut k, INIT, (Some(BUF), 0), (false, true), 0);
    assert_eq!(rval, eagain);
}

#[test]
fn sysv_objects_are_used_as_their_sandbox_mode_allows() {
    use crate::kernel::ipc::Perm;
    use crate::kernel::IpcKind;
    // A sandbox user without CAP_IPC_OWNER, and objects of root's (host ids the host never
    // made: the handlers decide from the sandbox's table alone).
    let (mut k, mem) = sandbox(Ids {
        uid: 1000,
        gid: 1000,
    });
    let root = |mode| Perm {
        owner: (0, 0),
        creator: (0, 0),
        mode,
    };
    let (shm, msg, sem) = (-7001, -7002, -7003);
    k.ipc.record(IpcKind::Shm, shm, 42, root(0o604));
    k.ipc.record(IpcKind::Msg, msg, 43, root(0o602));
    k.ipc.record(IpcKind::Sem, sem, 44, root(0o604));
    let eacces = -(libc::EACCES as i64);
    let eperm = -(libc::EPERM as i64);
    let shmat =
        |k: &mut Kernel, flags: u64| run(k, INIT, Sysno::shmat, [shm as u64, 0, flags, 0, 0, 0]);
    assert!(matches!(shmat(&mut k, 0o10000), Action::Pass), "SHM_RDONLY");
    assert_eq!(returned(shmat(&mut k, 0)), eacces, "read and write");
    let msgsnd = run(&mut k, INIT, Sysno::msgsnd, [msg as u64, BUF, 8, 0, 0, 0]);
    assert!(matches!(msgsnd, Action::Pass));
    let msgrcv = run(&mut k, INIT, Sysno::msgrcv, [msg as u64, BUF, 8, 0, 0, 0]);
    assert_eq!(returned(msgrcv), eacces);
    // semop: waiting for zero reads, an increment writes.
    let sembuf = |op: i16| [0u16.to_ne_bytes(), op.to_ne_bytes(), 0i16.to_ne_bytes()].concat();
    mem.write(INIT, BUF, &sembuf(0)).expect("mapped");
    let semop = |k: &mut Kernel| run(k, INIT, Sysno::semop, [sem as u64, BUF, 1, 0, 0, 0]);
    assert!(matches!(semop(&mut k), Action::Pass));
    mem.write(INIT, BUF, &sembuf(1)).expect("mapped");
    assert_eq!(returned(semop(&mut k)), eacces);
    // A get of the key asks for the access its mode bits name.
    let shmget =
        |k: &mut Kernel, flags: u64| returned(run(k, INIT, Sysno::shmget, [42, 0, flags, 0, 0, 0]));
    assert_eq!(shmget(&mut k, 0o400), shm as i64);
    assert_eq!(shmget(&mut k, 0o600), eacces);
    assert_eq!(shmget(&mut k, 0), shm as i64, "nothing asked");
    // Only the owner, the creator or CAP_SYS_ADMIN removes or sets.
    let rmid = run(&mut k, INIT, Sysno::shmctl, [shm as u64, 0, 0, 0, 0, 0]);
    assert_eq!(returned(rmid), eperm);
    let set = run(&mut k, INIT, Sysno::msgctl, [msg as u64, 1, BUF, 0, 0, 0]);
    assert_eq!(returned(set), eperm);
    // Given to the user, the queue is theirs to set: the sandbox's owner and mode change
    // (the host call fails on this made-up id, and nothing changes).
    k.ipc.set_perm(IpcKind::Msg, msg, (1000, 1000), 0o600);
    let set = run(&mut k, INIT, Sysno::msgctl, [msg as u64, 1, BUF, 0, 0, 0]);
    assert_eq!(returned(set), -(libc::EINVAL as i64));
    let perm = k.ipc.perm(IpcKind::Msg, msg).expect("recorded");
    assert_eq!((perm.owner, perm.mode), ((1000, 1000), 0o600));
    // An id that is not the sandbox's: EINVAL, as Linux for an id that does not exist.
    let other = run(&mut k, INIT, Sysno::shmat, [12345, 0, 0, 0, 0, 0]);
    assert_eq!(returned(other), -(libc::EINVAL as i64));
}

#[test]
fn clone_leaves_the_settid_words_to_the_sentry() {
    let (mut k, _) = sandbox(Ids { uid: 0, gid: 0 });
    let settid = (libc::CLONE_PARENT_SETTID | libc::CLONE_CHILD_SETTID) as u64;
    let flags = libc::CLONE_VM as u64 | libc::SIGCHLD as u64 | settid;
    let args = [flags, 0, BUF, BUF + 4, 0, 0];
    match run(&mut k, INIT, Sysno::clone, args) {
        Action::PassWithThenExit(host, super::ExitHook::Clone) => {
            assert_eq!(host[0], flags & !settid);
            assert_eq!(host[1..], args[1..]);
        }
        other => panic!("expected the clone without the settid flags, got {other:?}"),
    }
    assert_eq!(
        k.tasks[&INIT].clone_args,
        Some(args),
        "the task's own, for its child"
    );
}

#[test]
fn sysinfo_counts_the_sandbox_tasks_not_the_hosts() {
    let (mut k, mem) = sandbox(Ids { uid: 0, gid: 0 });
    assert_eq!(
        returned(run(&mut k, INIT, Sysno::sysinfo, [BUF, 0, 0, 0, 0, 0])),
        0
    );
    let offset = std::mem::offset_of!(libc::sysinfo, procs) as u64;
    let procs = u16::from_ne_bytes(mem.get(INIT, BUF + offset, 2).try_into().expect("2 bytes"));
    assert_eq!(procs, 2, "init and its child");
    let uptime = i64::from_ne_bytes(mem.get(INIT, BUF, 8).try_into().expect("8 bytes"));
    assert!(uptime > 0, "the host's uptime");
}

#[test]
fn a_senders_name_is_the_path_the_sandbox_bound_within_the_buffer() {
    use super::unix_address::{fix_unix_address, UnixNamed};
    let (mut k, mem) = sandbox(Ids { uid: 0, gid: 0 });
    let len_at = BUF + 512;
    // The kernel named the sender "a" (what the gofer bound), in 4 bytes.
    let kernel_wrote = |mem: &FakeMemory| {
        let family = (libc::AF_UNIX as u16).to_ne_bytes();
        mem.write(INIT, BUF, &[&family[..], b"a\0", &[b'x'; 16][..]].concat())
            .expect("mapped");
        mem.write(INIT, len_at, &4u32.to_ne_bytes())
            .expect("mapped");
    };
    let name_and_len = |mem: &FakeMemory| {
        let len = u32::from_ne_bytes(mem.get(INIT, len_at, 4).try_into().expect("4 bytes"));
        (mem.get(INIT, BUF + 2, 12), len)
    };
    k.unix_names.insert(1, b"senders/a".to_vec());
    k.unix_names.insert(2, b"other/b".to_vec());
    kernel_wrote(&mem);
    fix_unix_address(INIT, &k, UnixNamed::Sender, (BUF, len_at, 110));
    assert_eq!(name_and_len(&mem), (b"senders/a\0xx".to_vec(), 12));
    // A buffer of 5 bytes takes 5 of them; the length is the whole name's.
    kernel_wrote(&mem);
    fix_unix_address(INIT, &k, UnixNamed::Sender, (BUF, len_at, 5));
    assert_eq!(name_and_len(&mem), (b"senxxxxxxxxx".to_vec(), 12));
    // Two paths end in "a": the kernel's name stays.
    k.unix_names.insert(3, b"elsewhere/a".to_vec());
    kernel_wrote(&mem);
    fix_unix_address(INIT, &k, UnixNamed::Sender, (BUF, len_at, 110));
    assert_eq!(name_and_len(&mem), (b"a\0xxxxxxxxxx".to_vec(), 4));
}

#[test]
fn a_timers_thread_goes_to_the_kernel_by_its_host_id() {
    let (mut k, mem) = sandbox(Ids { uid: 0, gid: 0 });
    // struct sigevent: value (8), signo (4), notify (4), the thread's id at 16.
    let event = |notify: i32, thread: i32| {
        let mut e = vec![0u8; 64];
        e[8..12].copy_from_slice(&libc::SIGUSR1.to_ne_bytes());
        e[12..16].copy_from_slice(&notify.to_ne_bytes());
        e[16..20].copy_from_slice(&thread.to_ne_bytes());
        e
    };
    let args = [libc::CLOCK_MONOTONIC as u64, BUF, BUF + 512, 0, 0, 0];
    mem.write(INIT, BUF, &event(4, 2)).expect("mapped");
    let (host_args, arg, host, own) = host_bytes(run(&mut k, INIT, Sysno::timer_create, args));
    assert_eq!((host_args, arg), (args, 1));
    assert_eq!(own, event(4, 2));
    assert_eq!(host, event(4, CHILD), "thread 2 is host task {CHILD}");
    // No thread of the sandbox's: EINVAL, as for a thread outside the caller's process.
    mem.write(INIT, BUF, &event(4, 99)).expect("mapped");
    let einval = -(libc::EINVAL as i64);
    assert_eq!(
        returned(run(&mut k, INIT, Sysno::timer_create, args)),
        einval
    );
    // A signal to the process names no thread: the task's own call.
    mem.write(INIT, BUF, &event(libc::SIGEV_SIGNAL, 99))
        .expect("mapped");
    assert!(matches!(
        run(&mut k, INIT, Sysno::timer_create, args),
        Action::Pass
    ));
}

//! Identity calls: the uid, gid, group and capability calls are answered from
//! each task's credentials in the sentry (`kernel::creds`), never by the host, where every
//! task runs unprivileged. Also here: chown as the sandbox sees it (recorded in the owner
//! table, never done on the host), the owners of files a task creates under another
//! identity, and the permission checks the sentry applies for a task without DAC override
//! before it asks the gofer (which runs as the sentry's user and cannot know sandbox ids).

use super::vfs::*;
use super::{Action, Call};
use crate::kernel::creds::{self, Creds, Ids, CAP_CHOWN, CAP_FOWNER, NGROUPS_MAX};
use nix::errno::Errno;
use platform_ptrace::Tid;
use std::os::fd::{AsRawFd, OwnedFd};

const LINUX_CAPABILITY_VERSION_1: u32 = 0x1998_0330;
const LINUX_CAPABILITY_VERSION_2: u32 = 0x2007_1026;
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

fn fail(e: i32) -> Action {
    Action::Return(-(e as i64))
}

fn update(call: &mut Call, change: impl FnOnce(&mut Creds) -> Result<(), i32>) -> Action {
    let Some(task) = call.kernel.tasks.get_mut(&call.tid) else {
        return fail(libc::ESRCH);
    };
    match change(&mut task.creds) {
        Ok(()) => Action::Return(0),
        Err(e) => fail(e),
    }
}

fn write_u32s(
    mem: &dyn crate::host::TaskMemory,
    tid: Tid,
    addr: u64,
    values: &[u32],
) -> Result<(), i32> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_ne_bytes()).collect();
    mem.write(tid, addr, &bytes).map_err(|_| libc::EFAULT)
}

crate::syscall_entries! {
    // Identity: each task's sandbox credentials, kept by the sentry; on the host every task
    // is unprivileged.
    getuid() => Emulate, |call, _| Action::Return(call.kernel.creds_of(call.tid).ruid as i64);
    geteuid() => Emulate, |call, _| Action::Return(call.kernel.creds_of(call.tid).euid as i64);
    getgid() => Emulate, |call, _| Action::Return(call.kernel.creds_of(call.tid).rgid as i64);
    getegid() => Emulate, |call, _| Action::Return(call.kernel.creds_of(call.tid).egid as i64);
    getresuid(ruid: Ptr, euid: Ptr, suid: Ptr) => Emulate, |call, a| {
        let c = call.kernel.creds_of(call.tid);
        get_three(call, [a.ruid, a.euid, a.suid], [c.ruid, c.euid, c.suid])
    };
    getresgid(rgid: Ptr, egid: Ptr, sgid: Ptr) => Emulate, |call, a| {
        let c = call.kernel.creds_of(call.tid);
        get_three(call, [a.rgid, a.egid, a.sgid], [c.rgid, c.egid, c.sgid])
    };
    getgroups(size: Int32, list: Ptr) => Emulate, getgroups;
    setgroups(size: Int32, list: Ptr) => Emulate, setgroups;
    setuid(uid: Id) => Emulate, |call, a| update(call, |c| c.setuid(a.uid));
    setgid(gid: Id) => Emulate, |call, a| update(call, |c| c.setgid(a.gid));
    setreuid(ruid: Id, euid: Id) => Emulate, |call, a| update(call, |c| c.setreuid(a.ruid, a.euid));
    setregid(rgid: Id, egid: Id) => Emulate, |call, a| update(call, |c| c.setregid(a.rgid, a.egid));
    setresuid(ruid: Id, euid: Id, suid: Id) => Emulate, |call, a| {
        update(call, |c| c.setresuid(a.ruid, a.euid, a.suid))
    };
    setresgid(rgid: Id, egid: Id, sgid: Id) => Emulate, |call, a| {
        update(call, |c| c.setresgid(a.rgid, a.egid, a.sgid))
    };
    setfsuid(uid: Id) => Emulate, |call, a| set_fs_id(call, |c| c.setfsuid(a.uid));
    setfsgid(gid: Id) => Emulate, |call, a| set_fs_id(call, |c| c.setfsgid(a.gid));
    capget(header: Ptr, data: Ptr) => Emulate, cap_get;
    capset(header: Ptr, data: Ptr) => Emulate, cap_set;
    // Chown is recorded by the sentry, never done on the host.
    fchown(fd: Fd, uid: Id, gid: Id) => Checked, |call, a| fchown(call, a.fd, [a.uid, a.gid]);
    // Made by the sentry on its own duplicate of the fd when the tasks' host uid does not
    // own what the gofer made; otherwise a read-only mount is checked and the host runs it.
    fchmod(fd: Fd, mode: Mode) => Checked, fchmod;
    fsetxattr(fd: Fd, name: Ptr, value: Ptr, size: UInt, flags: Hex) => Checked, fsetxattr;
    fremovexattr(fd: Fd, name: Ptr) => Checked, fremovexattr;
}

/// getresuid/getresgid: three ids to three pointers.
fn get_three(call: &mut Call, to: [u64; 3], ids: [u32; 3]) -> Action {
    for (addr, value) in to.into_iter().zip(ids) {
        if let Err(e) = write_u32s(&*call.kernel.mem, call.tid, addr, &[value]) {
            return fail(e);
        }
    }
    Action::Return(0)
}

fn getgroups(call: &mut Call, a: args::getgroups) -> Action {
    if a.size < 0 {
        return fail(libc::EINVAL);
    }
    let groups = call.kernel.creds_of(call.tid).groups.clone();
    let n = groups.len();
    if a.size == 0 {
        return Action::Return(n as i64);
    }
    if (a.size as usize) < n {
        return fail(libc::EINVAL);
    }
    match write_u32s(&*call.kernel.mem, call.tid, a.list, &groups) {
        Ok(()) => Action::Return(n as i64),
        Err(e) => fail(e),
    }
}

fn setgroups(call: &mut Call, a: args::setgroups) -> Action {
    if !call.kernel.creds_of(call.tid).capable(creds::CAP_SETGID) {
        return fail(libc::EPERM);
    }
    if a.size < 0 || a.size as usize > NGROUPS_MAX {
        return fail(libc::EINVAL);
    }
    let mut raw = vec![0u8; a.size as usize * 4];
    if a.size > 0 && call.kernel.mem.read(call.tid, a.list, &mut raw).is_err() {
        return fail(libc::EFAULT);
    }
    let groups: Vec<u32> = raw
        .chunks_exact(4)
        .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if groups.contains(&u32::MAX) {
        return fail(libc::EINVAL);
    }
    update(call, |c| c.setgroups(groups))
}

/// setfsuid/setfsgid: the old id, whatever happens.
fn set_fs_id(call: &mut Call, change: impl FnOnce(&mut Creds) -> u32) -> Action {
    let Some(task) = call.kernel.tasks.get_mut(&call.tid) else {
        return fail(libc::ESRCH);
    };
    Action::Return(change(&mut task.creds) as i64)
}

/// The header of capget/capset: the number of data words its version implies, and the
/// pid. A bad version is answered with the kernel's preferred one written back, EINVAL.
fn cap_header(call: &Call, header: u64) -> Result<(usize, i32), i32> {
    let mut raw = [0u8; 8];
    call.kernel
        .mem
        .read(call.tid, header, &mut raw)
        .map_err(|_| libc::EFAULT)?;
    let version = u32::from_ne_bytes(raw[0..4].try_into().expect("4 bytes"));
    let pid = i32::from_ne_bytes(raw[4..8].try_into().expect("4 bytes"));
    let words = match version {
        LINUX_CAPABILITY_VERSION_1 => 1,
        LINUX_CAPABILITY_VERSION_2 | LINUX_CAPABILITY_VERSION_3 => 2,
        _ => {
            write_u32s(
                &*call.kernel.mem,
                call.tid,
                header,
                &[LINUX_CAPABILITY_VERSION_3],
            )?;
            return Err(libc::EINVAL);
        }
    };
    Ok((words, pid))
}

fn cap_get(call: &mut Call, a: args::capget) -> Action {
    let (words, pid) = match cap_header(call, a.header) {
        Ok(h) => h,
        // A bad version with no data pointer is how programs ask for the version.
        Err(libc::EINVAL) if a.data == 0 => return Action::Return(0),
        Err(e) => return fail(e),
    };
    if pid < 0 {
        return fail(libc::EINVAL);
    }
    let target = if pid == 0 {
        call.tid
    } else {
        match call.kernel.translate(call.tid, pid) {
            Some(host) if call.kernel.tasks.contains_key(&host) => host,
            _ => return fail(libc::ESRCH),
        }
    };
    if a.data == 0 {
        return Action::Return(0);
    }
    let c = call.kernel.creds_of(target);
    let mut data = Vec::new();
    for w in 0..words {
        for set in [c.cap_effective, c.cap_permitted, c.cap_inheritable] {
            data.push((set >> (32 * w)) as u32);
        }
    }
    match write_u32s(&*call.kernel.mem, call.tid, a.data, &data) {
        Ok(()) => Action::Return(0),
        Err(e) => fail(e),
    }
}

fn cap_set(call: &mut Call, a: args::capset) -> Action {
    let (words, pid) = match cap_header(call, a.header) {
        Ok(h) => h,
        Err(e) => return fail(e),
    };
    // Only the caller's own sets may change.
    if pid != 0 && call.kernel.translate(call.tid, pid) != Some(call.tid) {
        return fail(libc::EPERM);
    }
    let mut raw = vec![0u8; words * 12];
    if call.kernel.mem.read(call.tid, a.data, &mut raw).is_err() {
        return fail(libc::EFAULT);
    }
    let word = |i: usize| u32::from_ne_bytes(raw[i * 4..i * 4 + 4].try_into().expect("4 bytes"));
    let mut sets = [0u64; 3];
    for w in 0..words {
        for (s, set) in sets.iter_mut().enumerate() {
            *set |= (word(w * 3 + s) as u64) << (32 * w);
        }
    }
    update(call, |c| c.capset(sets[0], sets[1], sets[2]))
}

/// chown, lchown, fchownat on a resolved path: Linux's permission rules for the caller's
/// sandbox credentials; the new owner goes into the owner table, not to the host.
pub fn chown(
    call: &mut Call,
    target: Target,
    ids: [u32; 2],
    follow: bool,
) -> Result<Action, Errno> {
    let st = host_stat(call, &target, follow)?;
    if call.kernel.mounts(call.tid).mounts[target.mount].read_only {
        return Err(Errno::EROFS);
    }
    let (index, rel) = (target.gofer_index, target.rel.clone());
    change_owner(call, &st, ids, |call, mode| {
        files(call)?.chmod(index, &rel, mode)
    })
}

/// fchown(fd, uid, gid), and fchownat with AT_EMPTY_PATH.
pub fn fchown(call: &mut Call, fd: i32, ids: [u32; 2]) -> Action {
    let result = (|| {
        let file = super::vfs::changeable_fd(call, fd)?;
        let st = nix::sys::stat::fstat(file.as_raw_fd())?;
        change_owner(call, &st, ids, |call, mode| {
            chmod_fd(&mut call.kernel.owners, file.as_raw_fd(), mode)
        })
    })();
    result.unwrap_or_else(|e| fail(e as i32))
}

fn change_owner(
    call: &mut Call,
    st: &libc::stat,
    ids: [u32; 2],
    chmod: impl FnOnce(&mut Call, u32) -> Result<(), Errno>,
) -> Result<Action, Errno> {
    let c = call.kernel.creds_of(call.tid);
    let now = call
        .kernel
        .shown_owner(st.st_dev, st.st_ino, st.st_uid, st.st_gid);
    let [uid, gid] = ids;
    let new = Ids {
        uid: if uid == u32::MAX { now.uid } else { uid },
        gid: if gid == u32::MAX { now.gid } else { gid },
    };
    let privileged = c.capable(CAP_CHOWN);
    // chown_ok and chgrp_ok of fs/attr.c.
    let uid_ok = uid == u32::MAX || privileged || (c.fsuid == now.uid && uid == now.uid);
    let gid_ok = gid == u32::MAX
        || privileged
        || (c.fsuid == now.uid && (gid == now.gid || c.in_group(gid)));
    if !uid_ok || !gid_ok {
        return Err(Errno::EPERM);
    }
    // A chown of anything but a directory drops set-user-ID, and set-group-ID when the
    // group may execute.
    let mode = st.st_mode | call.kernel.owners.special_bits(st.st_dev, st.st_ino);
    if mode & libc::S_IFMT != libc::S_IFDIR && mode & libc::S_IFMT != libc::S_IFLNK {
        let mut kept = mode & 0o7777 & !libc::S_ISUID;
        if mode & libc::S_IXGRP != 0 {
            kept &= !libc::S_ISGID;
        }
        if kept != mode & 0o7777 {
            chmod(call, kept)?;
            call.kernel
                .owners
                .record_special_bits(st.st_dev, st.st_ino, kept);
        }
    }
    call.kernel.owners.record(st.st_dev, st.st_ino, new);
    Ok(Action::Return(0))
}

/// access, faccessat, faccessat2 of a gofer file, decided for the sandbox's identity: the
/// real ids (the effective ones with AT_EACCESS), root's capabilities as Linux grants them.
pub fn access(call: &mut Call, target: &Target, mode: i32, flags: i32) -> Result<Action, Errno> {
    let mut c = call.kernel.creds_of(call.tid);
    if flags & libc::AT_EACCESS == 0 {
        // access(2) checks with the real ids; root's capabilities follow the real uid.
        let old = c.clone();
        c.fsuid = old.ruid;
        c.fsgid = old.rgid;
        c.cap_effective = if old.ruid == 0 { old.cap_permitted } else { 0 };
    }
    let (index, rel) = (target.gofer_index, target.rel.clone());
    if c.checks_files() {
        check_walk(call, &c, target)?;
    }
    let follow = flags & libc::AT_SYMLINK_NOFOLLOW == 0;
    let st = files(call)?.stat(index, &rel, follow)?;
    if mode == libc::F_OK {
        return Ok(Action::Return(0));
    }
    if mode & libc::W_OK != 0 && call.kernel.mounts(call.tid).mounts[target.mount].read_only {
        let kind = st.st_mode & libc::S_IFMT;
        if kind == libc::S_IFREG || kind == libc::S_IFDIR || kind == libc::S_IFLNK {
            return Err(Errno::EROFS);
        }
    }
    let owner = call
        .kernel
        .shown_owner(st.st_dev, st.st_ino, st.st_uid, st.st_gid);
    if c.may_access(st.st_mode, owner.uid, owner.gid, mode) {
        Ok(Action::Return(0))
    } else {
        Err(Errno::EACCES)
    }
}

/// fchmod, fsetxattr, fremovexattr when the tasks run under their own host uid: the task
/// does not own the host file (the gofer made it), so the sentry makes the change on its
/// own duplicate of the task's fd, after the sandbox's rule (owner or CAP_FOWNER for
/// fchmod). None when the host can run the call as the task made it.
/// fchmod of an fd of the sentry's: the set-user-ID and set-group-ID bits are recorded by the
/// sentry and never reach the host file.
pub fn chmod_fd(owners: &mut creds::Owners, fd: i32, mode: u32) -> Result<(), Errno> {
    let st = nix::sys::stat::fstat(fd)?;
    let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
    // SAFETY: fchmod on an fd we own.
    cvt(unsafe { libc::fchmod(fd, gofer::server::host_mode(mode, is_dir)) })?;
    if !is_dir {
        owners.record_special_bits(st.st_dev, st.st_ino, mode);
    }
    Ok(())
}

fn fchmod(call: &mut Call, a: args::fchmod) -> Result<Action, Errno> {
    // Made by the sentry on its own duplicate of the fd: the set-user-ID and set-group-ID
    // bits are kept by the sentry, never on the host file.
    let file = super::vfs::changeable_fd(call, a.fd)?;
    owner_or_fowner(call, &file, false)?;
    let mut mode = a.mode;
    if mode & libc::S_ISGID != 0 {
        let st = nix::sys::stat::fstat(file.as_raw_fd())?;
        let group = call
            .kernel
            .shown_owner(st.st_dev, st.st_ino, st.st_uid, st.st_gid)
            .gid;
        mode = super::vfs::sgid_kept(&call.kernel.creds_of(call.tid), group, mode);
    }
    chmod_fd(&mut call.kernel.owners, file.as_raw_fd(), mode)?;
    Ok(Action::Return(0))
}

fn fsetxattr(call: &mut Call, a: args::fsetxattr) -> Result<Action, Errno> {
    let file = super::vfs::changeable_fd(call, a.fd)?;
    const XATTR_SIZE_MAX: usize = 65536;
    let name = xattr_name(call, a.name)?;
    if gofer::server::privileged_xattr(name.as_bytes()) {
        return Err(Errno::EPERM);
    }
    may_change_xattr(call, &file, name.as_bytes())?;
    let size = a.size as usize;
    if size > XATTR_SIZE_MAX {
        return Err(Errno::E2BIG);
    }
    let mut value = vec![0u8; size];
    call.kernel
        .mem
        .read(call.tid, a.value, &mut value)
        .map_err(|_| Errno::EFAULT)?;
    // SAFETY: fsetxattr on an fd we own, with a NUL-terminated name and a buffer of
    // `size` bytes we own.
    cvt(unsafe {
        libc::fsetxattr(
            file.as_raw_fd(),
            name.as_ptr(),
            value.as_ptr().cast(),
            size,
            a.flags as i32,
        )
    })?;
    Ok(Action::Return(0))
}

fn fremovexattr(call: &mut Call, a: args::fremovexattr) -> Result<Action, Errno> {
    let file = super::vfs::changeable_fd(call, a.fd)?;
    let name = xattr_name(call, a.name)?;
    may_change_xattr(call, &file, name.as_bytes())?;
    // SAFETY: fremovexattr on an fd we own with a NUL-terminated name.
    cvt(unsafe { libc::fremovexattr(file.as_raw_fd(), name.as_ptr()) })?;
    Ok(Action::Return(0))
}

/// An attribute change through the sentry's duplicate `file`, for a task without DAC
/// override, as Linux's xattr_permission: user.* as [`Creds::may_change_user_xattr`] says
/// (EPERM) and with write permission (EACCES); system.* (ACLs) by the owner (EPERM);
/// others with write permission.
fn may_change_xattr(call: &Call, file: &OwnedFd, name: &[u8]) -> Result<(), Errno> {
    let Some(c) = super::vfs::checking(call) else {
        return Ok(());
    };
    let st = nix::sys::stat::fstat(file.as_raw_fd())?;
    let owner = call
        .kernel
        .shown_owner(st.st_dev, st.st_ino, st.st_uid, st.st_gid);
    if name.starts_with(b"system.") {
        return owner_or_fowner(call, file, false);
    }
    if name.starts_with(b"user.") && !c.may_change_user_xattr(st.st_mode, owner.uid) {
        return Err(Errno::EPERM);
    }
    if !c.may_access(st.st_mode, owner.uid, owner.gid, libc::W_OK) {
        return Err(Errno::EACCES);
    }
    Ok(())
}

/// futimens(fd, times) (utimensat with no path, or AT_EMPTY_PATH): made by the sentry on its
/// duplicate of the fd, after the sandbox's rule (explicit times: owner or CAP_FOWNER;
/// "now": also write permission).
pub fn futimens(call: &mut Call, fd: i32, times_addr: u64) -> Result<Action, Errno> {
    let file = super::vfs::changeable_fd(call, fd)?;
    let mut times = [libc::timespec {
        tv_sec: 0,
        tv_nsec: libc::UTIME_NOW,
    }; 2];
    if times_addr != 0 {
        let mut raw = [0u8; 32];
        call.kernel
            .mem
            .read(call.tid, times_addr, &mut raw)
            .map_err(|_| Errno::EFAULT)?;
        let word = |i: usize| i64::from_ne_bytes(raw[i * 8..i * 8 + 8].try_into().expect("8"));
        for (i, t) in times.iter_mut().enumerate() {
            t.tv_sec = word(i * 2);
            t.tv_nsec = word(i * 2 + 1);
        }
    }
    let now = times.iter().all(|t| t.tv_nsec == libc::UTIME_NOW);
    owner_or_fowner(call, &file, now)?;
    // SAFETY: futimens on an fd we own with two timespecs we own.
    cvt(unsafe { libc::futimens(file.as_raw_fd(), times.as_ptr()) })?;
    Ok(Action::Return(0))
}

fn xattr_name(call: &Call, name: u64) -> Result<std::ffi::CString, Errno> {
    let name = call
        .kernel
        .mem
        .read_cstring(call.tid, name, 255)
        .map_err(|e| match e as i32 {
            libc::ENAMETOOLONG => Errno::ERANGE,
            other => Errno::from_raw(other),
        })?;
    std::ffi::CString::new(name).map_err(|_| Errno::EINVAL)
}

/// The sandbox's rule for attribute changes through the sentry's duplicate `file` of a
/// task's fd: the owner (fsuid), or CAP_FOWNER, or (when `write_will_do`) write permission.
fn owner_or_fowner(call: &Call, file: &OwnedFd, write_will_do: bool) -> Result<(), Errno> {
    let c = call.kernel.creds_of(call.tid);
    if c.capable(CAP_FOWNER) {
        return Ok(());
    }
    let st = nix::sys::stat::fstat(file.as_raw_fd())?;
    let owner = call
        .kernel
        .shown_owner(st.st_dev, st.st_ino, st.st_uid, st.st_gid);
    if owner.uid == c.fsuid {
        return Ok(());
    }
    if write_will_do && c.may_access(st.st_mode, owner.uid, owner.gid, libc::W_OK) {
        return Ok(());
    }
    Err(if write_will_do {
        Errno::EACCES
    } else {
        Errno::EPERM
    })
}

/// prctl's capability options, on the task's emulated sets: PR_CAPBSET_READ/DROP,
/// PR_GET/SET_KEEPCAPS, PR_CAP_AMBIENT and PR_GET/SET_SECUREBITS (only SECBIT_KEEP_CAPS);
/// and PR_GET/SET_NO_NEW_PRIVS, which the host sets for every task before its first
/// instruction but the task sees as it set it. None for every other option (it goes to
/// the host).
pub fn prctl_caps(call: &mut Call) -> Option<Action> {
    const PR_GET_KEEPCAPS: u64 = 7;
    const PR_SET_KEEPCAPS: u64 = 8;
    const PR_CAPBSET_READ: u64 = 23;
    const PR_CAPBSET_DROP: u64 = 24;
    const PR_GET_SECUREBITS: u64 = 27;
    const PR_SET_SECUREBITS: u64 = 28;
    const PR_CAP_AMBIENT: u64 = 47;
    const SECBIT_KEEP_CAPS: u64 = 1 << 4;
    const CAP_SETPCAP: u32 = 8;
    const CAP_LAST: u64 = 40;
    let [option, arg, arg2, arg3, arg4, _] = call.args;
    let c = call.kernel.creds_of(call.tid);
    let valid = |cap: u64| cap <= CAP_LAST;
    let nnp = (
        libc::PR_SET_NO_NEW_PRIVS as u64,
        libc::PR_GET_NO_NEW_PRIVS as u64,
    );
    Some(match option {
        o if o == nnp.0 && (arg != 1 || arg2 | arg3 | arg4 != 0) => fail(libc::EINVAL),
        o if o == nnp.0 => update(call, |c| {
            c.no_new_privs = true;
            Ok(())
        }),
        o if o == nnp.1 && (arg | arg2 | arg3 | arg4 != 0) => fail(libc::EINVAL),
        o if o == nnp.1 => Action::Return(c.no_new_privs as i64),
        PR_GET_KEEPCAPS => Action::Return(c.keep_caps as i64),
        PR_SET_KEEPCAPS if arg > 1 => fail(libc::EINVAL),
        PR_SET_KEEPCAPS => update(call, |c| {
            c.keep_caps = arg == 1;
            Ok(())
        }),
        PR_GET_SECUREBITS => Action::Return(if c.keep_caps {
            SECBIT_KEEP_CAPS as i64
        } else {
            0
        }),
        PR_SET_SECUREBITS if arg & !SECBIT_KEEP_CAPS != 0 || !c.capable(CAP_SETPCAP) => {
            fail(libc::EPERM)
        }
        PR_SET_SECUREBITS => update(call, |c| {
            c.keep_caps = arg & SECBIT_KEEP_CAPS != 0;
            Ok(())
        }),
        PR_CAPBSET_READ if !valid(arg) => fail(libc::EINVAL),
        PR_CAPBSET_READ => Action::Return(((c.cap_bounding >> arg) & 1) as i64),
        PR_CAPBSET_DROP if !valid(arg) => fail(libc::EINVAL),
        PR_CAPBSET_DROP if !c.capable(CAP_SETPCAP) => fail(libc::EPERM),
        PR_CAPBSET_DROP => update(call, |c| {
            c.cap_bounding &= !(1u64 << arg);
            Ok(())
        }),
        PR_CAP_AMBIENT => {
            const IS_SET: u64 = 1;
            const RAISE: u64 = 2;
            const LOWER: u64 = 3;
            const CLEAR_ALL: u64 = 4;
            match arg {
                CLEAR_ALL => update(call, |c| {
                    c.cap_ambient = 0;
                    Ok(())
                }),
                _ if !valid(arg2) => fail(libc::EINVAL),
                IS_SET => Action::Return(((c.cap_ambient >> arg2) & 1) as i64),
                RAISE => update(call, |c| {
                    let bit = 1u64 << arg2;
                    if c.cap_permitted & bit == 0 || c.cap_inheritable & bit == 0 {
                        return Err(libc::EPERM);
                    }
                    c.cap_ambient |= bit;
                    Ok(())
                }),
                LOWER => update(call, |c| {
                    c.cap_ambient &= !(1u64 << arg2);
                    Ok(())
                }),
                _ => fail(libc::EINVAL),
            }
        }
        _ => return None,
    })
}

/// Runs `make` (which creates or opens a file for task `tid`) with the sentry's fs ids set
/// to the task's host ones (root only; otherwise they are the same user already).
/// setfsuid/setfsgid change only the calling thread.
pub fn as_task_fs_ids<T>(tid: Tid, make: impl FnOnce() -> T) -> T {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return make();
    }
    let status = crate::host::read_proc_text(format!("/proc/{tid}/status")).unwrap_or_default();
    let fs_id = |key: &str| -> Option<u32> {
        let line = status.lines().find_map(|l| l.strip_prefix(key))?;
        line.split_whitespace().nth(3)?.parse().ok()
    };
    let (Some(uid), Some(gid)) = (fs_id("Uid:"), fs_id("Gid:")) else {
        return make();
    };
    // SAFETY: setfsgid/setfsuid take plain ids and affect only this thread; they are put
    // back below (root keeps CAP_SETUID/CAP_SETGID while its fsuid is another user's).
    unsafe {
        libc::setfsgid(gid);
        libc::setfsuid(uid);
    }
    let made = make();
    // SAFETY: as above.
    unsafe {
        libc::setfsuid(0);
        libc::setfsgid(0);
    }
    made
}

//! uname, sethostname, setdomainname: the sandbox's own names, never the host's.

use super::{errno, Action, Call};
use platform_ptrace::{read_bytes, write_bytes};
use syscalls::{Errno, Sysno};

/// Linux's __NEW_UTS_LEN + 1.
const FIELD: usize = 65;

pub fn handle(call: &mut Call) -> Action {
    call.kernel.sync_uts_writes();
    match call.sysno {
        Sysno::uname => uname(call),
        Sysno::sethostname | Sysno::setdomainname => set_name(call),
        _ => errno(Errno::ENOSYS),
    }
}

/// The host's release, version and machine, read once: programs check them for features.
fn host_utsname() -> &'static libc::utsname {
    static HOST: std::sync::OnceLock<libc::utsname> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        // SAFETY: utsname is plain data; uname fills it.
        let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
        // SAFETY: uname writes one utsname into memory we own.
        unsafe { libc::uname(&mut uts) };
        uts
    })
}

fn field(bytes: &[u8]) -> [u8; FIELD] {
    let mut out = [0u8; FIELD];
    let n = bytes.len().min(FIELD - 1);
    out[..n].copy_from_slice(&bytes[..n]);
    out
}

fn c_field(chars: &[libc::c_char; FIELD]) -> [u8; FIELD] {
    chars.map(|c| c as u8)
}

fn uname(call: &mut Call) -> Action {
    let host = host_utsname();
    let mut buf = Vec::with_capacity(FIELD * 6);
    buf.extend_from_slice(&field(b"Linux"));
    let uts = &call.kernel.uts[call.kernel.uts_of(call.tid)];
    buf.extend_from_slice(&field(&uts.hostname));
    buf.extend_from_slice(&c_field(&host.release));
    buf.extend_from_slice(&c_field(&host.version));
    buf.extend_from_slice(&c_field(&host.machine));
    buf.extend_from_slice(&field(&uts.domainname));
    match write_bytes(call.tid, call.args[0], &buf) {
        Ok(()) => Action::Return(0),
        Err(_) => errno(Errno::EFAULT),
    }
}

fn set_name(call: &mut Call) -> Action {
    const CAP_SYS_ADMIN: u32 = 21;
    if !super::ids::creds_of(call.kernel, call.tid).capable(CAP_SYS_ADMIN) {
        return errno(Errno::EPERM);
    }
    let len = call.args[1] as i64;
    if !(0..FIELD as i64).contains(&len) {
        return errno(Errno::EINVAL);
    }
    let mut name = vec![0u8; len as usize];
    if read_bytes(call.tid, call.args[0], &mut name).is_err() {
        return errno(Errno::EFAULT);
    }
    let ns = call.kernel.uts_of(call.tid);
    let uts = &mut call.kernel.uts[ns];
    if call.sysno == Sysno::sethostname {
        uts.hostname = name;
    } else {
        uts.domainname = name;
    }
    Action::Return(0)
}

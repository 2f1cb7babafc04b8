//! uname, sethostname, setdomainname: the sandbox's own names, never the host's.

use super::{errno, Action, Call};
use nix::errno::Errno;
use syscalls::Sysno;

/// Linux's __NEW_UTS_LEN + 1.
const FIELD: usize = 65;

// The sandbox's own hostname and domain name; what the sandbox wrote to
// /proc/sys/kernel/{hostname,domainname} since is applied first.
crate::syscall_entries! {
    uname(buf: Ptr) => Emulate, |call, a| {
        call.kernel.sync_uts_writes();
        uname(call, a.buf)
    };
    sethostname(name: Ptr, len: Int) => Emulate, |call, a| {
        call.kernel.sync_uts_writes();
        set_name(call, a.name, a.len)
    };
    setdomainname(name: Ptr, len: Int) => Emulate, |call, a| {
        call.kernel.sync_uts_writes();
        set_name(call, a.name, a.len)
    };
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

fn uname(call: &mut Call, to: u64) -> Action {
    let host = host_utsname();
    let mut buf = Vec::with_capacity(FIELD * 6);
    buf.extend_from_slice(&field(b"Linux"));
    let uts = &call.kernel.uts[call.kernel.uts_of(call.tid)];
    buf.extend_from_slice(&field(&uts.hostname));
    let release = c_field(&host.release);
    if personality_of(call) & UNAME26 != 0 {
        buf.extend_from_slice(&field(&uname26(until_nul(&release))));
    } else {
        buf.extend_from_slice(&release);
    }
    buf.extend_from_slice(&c_field(&host.version));
    buf.extend_from_slice(&c_field(&host.machine));
    buf.extend_from_slice(&field(&uts.domainname));
    match call.kernel.mem.write(call.tid, to, &buf) {
        Ok(()) => Action::Return(0),
        Err(_) => errno(Errno::EFAULT),
    }
}

/// personality(2)'s flag that makes uname report a 2.6 release to old programs.
const UNAME26: u32 = 0x0020000;

/// The task's personality, as the kernel keeps it (personality(2) passes through).
fn personality_of(call: &Call) -> u32 {
    call.kernel
        .mem
        .proc_file(call.tid, "personality")
        .and_then(|s| u32::from_str_radix(s.trim(), 16).ok())
        .unwrap_or(0)
}

fn until_nul(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len())]
}

/// The release under UNAME26, as Linux makes it: "2.6.<60 + minor>" and whatever followed
/// the version numbers ("6.18.44-x" gives "2.6.78-x").
fn uname26(release: &[u8]) -> Vec<u8> {
    let mut dots = 0;
    let rest = release
        .iter()
        .position(|&b| {
            if b == b'.' {
                dots += 1;
            }
            (b == b'.' && dots >= 3) || !(b.is_ascii_digit() || b == b'.')
        })
        .unwrap_or(release.len());
    let minor: u32 = release
        .split(|&b| b == b'.')
        .nth(1)
        .and_then(|m| std::str::from_utf8(m).ok())
        .and_then(|m| {
            m.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .ok()
        })
        .unwrap_or(0);
    let mut out = format!("2.6.{}", 60 + minor).into_bytes();
    out.extend_from_slice(&release[rest..]);
    out
}

fn set_name(call: &mut Call, from: u64, len: i64) -> Action {
    if !call
        .kernel
        .creds_of(call.tid)
        .capable(crate::kernel::creds::CAP_SYS_ADMIN)
    {
        return errno(Errno::EPERM);
    }
    if !(0..FIELD as i64).contains(&len) {
        return errno(Errno::EINVAL);
    }
    let mut name = vec![0u8; len as usize];
    if call.kernel.mem.read(call.tid, from, &mut name).is_err() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uname26_keeps_what_follows_the_version() {
        assert_eq!(uname26(b"6.18.44-fc-v1272"), b"2.6.78-fc-v1272");
        assert_eq!(uname26(b"5.4.0"), b"2.6.64");
        assert_eq!(uname26(b"6.1.2.3-rc"), b"2.6.61.3-rc");
    }
}

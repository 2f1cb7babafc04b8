//! The host below the sentry's tables: the memory, the /proc files and the fds of the
//! sandbox's tasks. Handlers reach task memory and a task's /proc files through
//! [`TaskMemory`]: in a running sandbox through the platform's access
//! (process_vm_readv/writev, /proc/<tid>/mem) and the host's /proc, in unit tests through
//! [`FakeMemory`].

use nix::errno::Errno;
use platform_ptrace::Tid;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Reading and writing the memory of a task, and reading its /proc files.
pub trait TaskMemory {
    /// The text of the host's /proc/<tid>/`name` (status, stat, personality, maps, ...).
    fn proc_file(&self, tid: Tid, name: &str) -> Option<String> {
        read_proc_text(format!("/proc/{tid}/{name}")).ok()
    }

    /// The parent (host pid) of host process `tid` if it is a zombie: it exited and nobody
    /// reaped it yet.
    fn zombie_parent(&self, tid: Tid) -> Option<Tid> {
        let stat = self.proc_file(tid, "stat")?;
        let mut fields = stat.rsplit_once(") ")?.1.split_whitespace();
        if fields.next()? != "Z" {
            return None;
        }
        fields.next()?.parse().ok()
    }

    /// Reads `buf.len()` bytes at `addr`; EFAULT if any of them is not mapped.
    fn read(&self, tid: Tid, addr: u64, buf: &mut [u8]) -> Result<(), Errno>;
    /// Writes `data` at `addr`; EFAULT if any of it is not mapped writable.
    fn write(&self, tid: Tid, addr: u64, data: &[u8]) -> Result<(), Errno>;
    /// Reads the int at `addr` (an id, a length, an option's value); EFAULT if unmapped.
    fn read_i32(&self, tid: Tid, addr: u64) -> Result<i32, Errno> {
        let mut raw = [0u8; 4];
        self.read(tid, addr, &mut raw).map_err(|_| Errno::EFAULT)?;
        Ok(i32::from_ne_bytes(raw))
    }
    /// Writes `data` at `addr` also into a read-only mapping, as a debugger does.
    fn write_forced(&self, tid: Tid, addr: u64, data: &[u8]) -> Result<(), Errno> {
        self.write(tid, addr, data)
    }
    /// Reads a NUL-terminated string of at most `max` bytes (without the NUL): EFAULT on an
    /// unmapped address, ENAMETOOLONG when no NUL comes within `max`.
    fn read_cstring(&self, tid: Tid, addr: u64, max: usize) -> Result<Vec<u8>, Errno>;
}

/// The contents of a kernel pseudo-file (/proc, /sys). They report a size of 0 (or a page),
/// so `fs::read` and `fs::read_to_string` stat and seek the file for nothing and then read
/// 32 bytes, 32, 64, 128…: ten reads for a 7 KiB smaps. This reads into 16 KiB from the
/// start (two reads for most files).
pub fn read_pseudo_file(path: impl AsRef<std::path::Path>) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut bytes = vec![0u8; 16 * 1024];
    let mut len = 0;
    loop {
        if len == bytes.len() {
            bytes.resize(len * 2, 0);
        }
        match file.read(&mut bytes[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    bytes.truncate(len);
    Ok(bytes)
}

/// The text of a /proc file (see [`read_pseudo_file`]).
pub fn read_proc_text(path: impl AsRef<std::path::Path>) -> std::io::Result<String> {
    String::from_utf8(read_pseudo_file(path)?)
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidData))
}

/// The state letter of host task `tid` in its /proc stat ('R', 'S', 'D', 't', 'Z', ...); None
/// once it is gone.
pub fn task_state(tid: Tid) -> Option<char> {
    read_proc_text(format!("/proc/{tid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ")?.1.chars().next())
}

/// The value of field `name` ("pos:", "flags:", "SigBlk:", ...) in the text of a /proc file
/// that has one `name value` per line, trimmed.
pub fn proc_field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .map(str::trim)
}

/// The file status flags of an fdinfo text ("flags:", octal); 0 when it has none.
pub fn fdinfo_flags(text: &str) -> u64 {
    proc_field(text, "flags:")
        .and_then(|v| u64::from_str_radix(v, 8).ok())
        .unwrap_or(0)
}

/// The memory of live tasks, through the platform.
pub struct Live;

impl TaskMemory for Live {
    fn read(&self, tid: Tid, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        platform_ptrace::read_bytes(tid, addr, buf)
    }

    fn write(&self, tid: Tid, addr: u64, data: &[u8]) -> Result<(), Errno> {
        platform_ptrace::write_bytes(tid, addr, data)
    }

    fn write_forced(&self, tid: Tid, addr: u64, data: &[u8]) -> Result<(), Errno> {
        platform_ptrace::write_bytes_forced(tid, addr, data)
    }

    fn read_cstring(&self, tid: Tid, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
        platform_ptrace::read_cstring(tid, addr, max)
    }
}

/// pidfds of the sandbox's processes by host id, opened at a process's first
/// [`task_fd`] and kept until the sentry learns that the process ended or that a new task
/// took its id ([`forget_process`]): a task's fd then costs one pidfd_getfd, not a
/// pidfd_open and a close besides.
static PIDFDS: std::sync::Mutex<Option<std::collections::HashMap<Tid, OwnedFd>>> =
    std::sync::Mutex::new(None);

/// The sentry's own duplicate of fd `fd` of process `tgid` (host id).
pub fn task_fd(tgid: Tid, fd: i32) -> Result<OwnedFd, Errno> {
    let mut pidfds = PIDFDS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let pidfds = pidfds.get_or_insert_with(Default::default);
    let pidfd = match pidfds.entry(tgid) {
        std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
        std::collections::hash_map::Entry::Vacant(slot) => {
            // SAFETY: pidfd_open takes plain integers and returns a new fd or -1.
            let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, tgid, 0) };
            if pidfd < 0 {
                return Err(Errno::ESRCH);
            }
            // SAFETY: the fd was just created and is ours alone.
            slot.insert(unsafe { OwnedFd::from_raw_fd(pidfd as i32) })
        }
    };
    // SAFETY: pidfd_getfd takes plain integers and returns a new fd or -1.
    let dup = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    if dup < 0 {
        if Errno::last() == Errno::ESRCH {
            pidfds.remove(&tgid);
        }
        return Err(Errno::EBADF);
    }
    // SAFETY: as above.
    Ok(unsafe { OwnedFd::from_raw_fd(dup as i32) })
}

/// Drops the pidfd kept for host id `tid`: the process ended, or a new task has that id.
pub fn forget_process(tid: Tid) {
    let mut pidfds = PIDFDS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(pidfds) = pidfds.as_mut() {
        pidfds.remove(&tid);
    }
}

/// Task memory for unit tests: regions of bytes per task, mapped by the test.
#[cfg(test)]
#[derive(Default)]
pub struct FakeMemory {
    regions: std::sync::Mutex<Vec<(Tid, u64, Vec<u8>)>>,
    proc_files: std::sync::Mutex<Vec<(Tid, String, String)>>,
}

#[cfg(test)]
impl FakeMemory {
    /// Gives task `tid` a /proc file `name` with `text`.
    pub fn set_proc_file(&self, tid: Tid, name: &str, text: &str) {
        let mut files = self.proc_files.lock().expect("fake /proc lock");
        files.retain(|(t, n, _)| !(*t == tid && n == name));
        files.push((tid, name.to_string(), text.to_string()));
    }

    /// Maps `data` at `addr` in task `tid`.
    pub fn map(&self, tid: Tid, addr: u64, data: &[u8]) {
        self.regions
            .lock()
            .expect("fake memory lock")
            .push((tid, addr, data.to_vec()));
    }

    /// The `len` bytes at `addr` in task `tid` (panics when they are not mapped).
    pub fn get(&self, tid: Tid, addr: u64, len: usize) -> Vec<u8> {
        let mut out = vec![0; len];
        self.read(tid, addr, &mut out).expect("mapped in the fake");
        out
    }

    fn with_region<R>(
        &self,
        tid: Tid,
        addr: u64,
        len: usize,
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> Result<R, Errno> {
        let mut regions = self.regions.lock().expect("fake memory lock");
        let end = addr.checked_add(len as u64).ok_or(Errno::EFAULT)?;
        let (_, start, bytes) = regions
            .iter_mut()
            .find(|(t, start, bytes)| {
                *t == tid && *start <= addr && end <= start + bytes.len() as u64
            })
            .ok_or(Errno::EFAULT)?;
        let at = (addr - *start) as usize;
        Ok(f(&mut bytes[at..at + len]))
    }
}

#[cfg(test)]
impl TaskMemory for FakeMemory {
    fn proc_file(&self, tid: Tid, name: &str) -> Option<String> {
        let files = self.proc_files.lock().expect("fake /proc lock");
        files
            .iter()
            .find(|(t, n, _)| *t == tid && n == name)
            .map(|(_, _, text)| text.clone())
    }

    fn read(&self, tid: Tid, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        self.with_region(tid, addr, buf.len(), |bytes| buf.copy_from_slice(bytes))
    }

    fn write(&self, tid: Tid, addr: u64, data: &[u8]) -> Result<(), Errno> {
        self.with_region(tid, addr, data.len(), |bytes| bytes.copy_from_slice(data))
    }

    fn read_cstring(&self, tid: Tid, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        loop {
            let mut byte = [0u8];
            self.read(tid, addr + out.len() as u64, &mut byte)?;
            if byte[0] == 0 {
                return Ok(out);
            }
            out.push(byte[0]);
            if out.len() > max {
                return Err(Errno::ENAMETOOLONG);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fake_faults_outside_its_regions() {
        let mem = FakeMemory::default();
        mem.map(7, 0x1000, b"path\0rest");
        assert_eq!(mem.read_cstring(7, 0x1000, 100).unwrap(), b"path");
        assert_eq!(mem.read_cstring(7, 0x1000, 2), Err(Errno::ENAMETOOLONG));
        let mut buf = [0u8; 4];
        assert_eq!(mem.read(8, 0x1000, &mut buf), Err(Errno::EFAULT));
        assert_eq!(mem.read(7, 0x1007, &mut buf), Err(Errno::EFAULT));
        mem.write(7, 0x1005, b"REST").unwrap();
        assert_eq!(mem.get(7, 0x1000, 9), b"path\0REST");
    }
}

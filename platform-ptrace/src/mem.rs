//! Reading and writing a task's memory with process_vm_readv/writev.
//! Each read copies into the sentry's own memory once; callers act on that copy.

use crate::Tid;
use nix::errno::Errno;
use nix::sys::uio::{process_vm_readv, process_vm_writev, RemoteIoVec};
use nix::unistd::Pid;
use std::io::{IoSlice, IoSliceMut};

const PAGE: usize = 4096;

/// Reads exactly `buf.len()` bytes at `addr`; EFAULT when any of them is unmapped.
pub fn read_bytes(tid: Tid, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
    if buf.is_empty() {
        return Ok(());
    }
    let len = buf.len();
    let remote = [RemoteIoVec {
        base: addr as usize,
        len,
    }];
    let n = process_vm_readv(Pid::from_raw(tid), &mut [IoSliceMut::new(buf)], &remote)
        .map_err(|_| Errno::EFAULT)?;
    if n == len {
        Ok(())
    } else {
        Err(Errno::EFAULT)
    }
}

/// Writes `data` at `addr` in the task.
pub fn write_bytes(tid: Tid, addr: u64, data: &[u8]) -> Result<(), Errno> {
    let remote = [RemoteIoVec {
        base: addr as usize,
        len: data.len(),
    }];
    let n = process_vm_writev(Pid::from_raw(tid), &[IoSlice::new(data)], &remote)
        .map_err(|_| Errno::EFAULT)?;
    if n == data.len() {
        Ok(())
    } else {
        Err(Errno::EFAULT)
    }
}

/// Writes `data` at `addr` in the task through `/proc/<tid>/mem`, which a tracer may use to
/// write pages the task itself can only read (the kernel breaks copy-on-write for it, as for
/// a debugger's breakpoint). The sentry places arguments there that the kernel must read
/// after the task resumes: no thread of the task can rewrite them without a syscall.
pub fn write_bytes_forced(tid: Tid, addr: u64, data: &[u8]) -> Result<(), Errno> {
    use std::os::unix::fs::FileExt;
    let mem = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/{tid}/mem"))
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    mem.write_all_at(data, addr)
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EFAULT)))
}

/// Reads a NUL-terminated string of at most `max` bytes (without the NUL).
/// EFAULT on an unmapped address, ENAMETOOLONG when no NUL comes within `max`.
/// Reads page by page so that a string ending just before an unmapped page works; the
/// first read takes only [`FIRST_READ`] bytes, onto the stack: most paths and names end
/// there, and a read of the whole rest of the page cost a copy of up to 4 KiB for them.
pub fn read_cstring(tid: Tid, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
    if addr == 0 {
        return Err(Errno::EFAULT);
    }
    let to_page_end = PAGE - (addr as usize % PAGE);
    let mut first = [0u8; FIRST_READ];
    let first = &mut first[..to_page_end.min(FIRST_READ)];
    read_bytes(tid, addr, first)?;
    if let Some(nul) = first.iter().position(|&b| b == 0) {
        return if nul > max {
            Err(Errno::ENAMETOOLONG)
        } else {
            Ok(first[..nul].to_vec())
        };
    }
    let mut out = first.to_vec();
    let mut cursor = addr + out.len() as u64;
    loop {
        if out.len() > max {
            return Err(Errno::ENAMETOOLONG);
        }
        let to_page_end = PAGE - (cursor as usize % PAGE);
        let start = out.len();
        out.resize(start + to_page_end, 0);
        read_bytes(tid, cursor, &mut out[start..])?;
        if let Some(nul) = out[start..].iter().position(|&b| b == 0) {
            out.truncate(start + nul);
            return if out.len() > max {
                Err(Errno::ENAMETOOLONG)
            } else {
                Ok(out)
            };
        }
        cursor += to_page_end as u64;
    }
}

/// How many bytes [`read_cstring`] reads first (fewer when the page ends sooner).
const FIRST_READ: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    /// Two pages of this process, the second unmapped: strings placed against its edge.
    struct Edge {
        base: *mut u8,
    }

    impl Edge {
        fn new() -> Edge {
            // SAFETY: a fresh anonymous mapping of two pages; the second is unmapped
            // again, so that a read running past the first fails.
            let base = unsafe {
                let p = libc::mmap(
                    std::ptr::null_mut(),
                    2 * PAGE,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                );
                assert_ne!(p, libc::MAP_FAILED);
                libc::munmap(p.cast::<u8>().add(PAGE).cast(), PAGE);
                p.cast::<u8>()
            };
            Edge { base }
        }

        /// `bytes` placed so that their last byte is the first page's last.
        fn place(&self, bytes: &[u8]) -> u64 {
            // SAFETY: `bytes` fits in the first page, which is ours and writable.
            unsafe {
                let at = self.base.add(PAGE - bytes.len());
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), at, bytes.len());
                at as u64
            }
        }
    }

    impl Drop for Edge {
        fn drop(&mut self) {
            // SAFETY: the first page is still mapped, and ours.
            unsafe { libc::munmap(self.base.cast(), PAGE) };
        }
    }

    fn me() -> Tid {
        std::process::id() as Tid
    }

    #[test]
    fn strings_short_long_and_against_an_unmapped_page() {
        let edge = Edge::new();
        let short = edge.place(b"/etc/passwd\0");
        assert_eq!(read_cstring(me(), short, 4095).unwrap(), b"/etc/passwd");
        let mut long = vec![b'a'; 3000];
        long.push(0);
        let at = edge.place(&long);
        assert_eq!(read_cstring(me(), at, 4095).unwrap(), vec![b'a'; 3000]);
        assert_eq!(read_cstring(me(), at, 2999), Err(Errno::ENAMETOOLONG));
        assert_eq!(read_cstring(me(), at, 3000).unwrap().len(), 3000);
        // No NUL before the unmapped page: the read past the first window fails.
        let unterminated = edge.place(&[b'b'; 700]);
        assert_eq!(read_cstring(me(), unterminated, 4095), Err(Errno::EFAULT));
        assert_eq!(
            read_cstring(me(), unterminated, 100),
            Err(Errno::ENAMETOOLONG)
        );
        assert_eq!(read_cstring(me(), 0, 4095), Err(Errno::EFAULT));
    }

    #[test]
    fn a_string_across_a_page_boundary_is_read_whole() {
        let mut buf = vec![b'c'; 3 * PAGE];
        let page_start = (buf.as_ptr() as usize).next_multiple_of(PAGE) - buf.as_ptr() as usize;
        // 300 bytes before the boundary (more than the first read), 50 after it.
        let begin = page_start + PAGE - 300;
        buf[begin + 350] = 0;
        let at = buf.as_ptr() as u64 + begin as u64;
        assert_eq!(read_cstring(me(), at, 4095).unwrap(), vec![b'c'; 350]);
    }
}

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
/// Reads page by page so that a string ending just before an unmapped page works.
pub fn read_cstring(tid: Tid, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
    if addr == 0 {
        return Err(Errno::EFAULT);
    }
    let mut out = Vec::new();
    let mut cursor = addr;
    loop {
        let to_page_end = PAGE - (cursor as usize % PAGE);
        let mut chunk = vec![0u8; to_page_end];
        read_bytes(tid, cursor, &mut chunk)?;
        if let Some(nul) = chunk.iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..nul]);
            return if out.len() > max {
                Err(Errno::ENAMETOOLONG)
            } else {
                Ok(out)
            };
        }
        out.extend_from_slice(&chunk);
        if out.len() > max {
            return Err(Errno::ENAMETOOLONG);
        }
        cursor += to_page_end as u64;
    }
}

//! execve and execveat of programs inside the sandbox.
//!
//! The host kernel never resolves a path of the sandbox, not even an ELF interpreter or
//! a `#!` line: the sentry reads the program through the gofer, follows `#!` lines (up to
//! Linux's four levels), resolves PT_INTERP inside the sandbox (goblin), and runs what
//! it found with `execveat(fd, "", argv, envp, AT_EMPTY_PATH)` on an fd the gofer opened.
//! A dynamic program runs as `<interpreter> [--argv0 NAME] <program> args…`, so its
//! interpreter and libraries come from the sandbox too.
//!
//! In the task this takes a few steps, driven from the supervisor's stops:
//! the execve is turned into an fd install; at its exit stop the task re-runs its syscall
//! instruction as `unshare(CLONE_FILES)` when another task shares its fd table, then, the
//! first time its address space execs, as an `mmap` of a read-only area; at that exit
//! stop, the new argv (when one is needed) is written into the area through
//! `/proc/<tid>/mem`, the instruction re-runs as `mseal(2)` of the area, and then as the
//! `execveat`, whose empty path lies in the area. The sealed area stays for the later
//! execs of that address space (`kernel::exec_area`): they write their argv there and go
//! from the install straight to the `execveat`.
//!
//! The kernel reads the path and the fd number after the task resumes, so another thread
//! could try to rewrite the one or re-point the other. After the seal no thread can change,
//! unmap or replace the area, and the sentry checks that the sealed area holds its own bytes
//! (a thread that got at it between the mmap and the seal makes the exec fail with EFAULT
//! before the kernel reads a path). The argv it holds is only what the new image starts
//! with, which the exec'ing task chooses anyway. At the exec event, before the new
//! image's first instruction, the sentry checks that the kernel ran the very file it vetted
//! and loaded no other file (no interpreter of the host's): a task for which that fails is
//! killed.

use super::sys_signal::{ERESTARTNOINTR, ERESTARTSYS};
use super::vfs::{
    by_path, check_file, check_permission, check_search, files, follow, read_path, resolve,
    walk_links, PathArg, Target,
};
use super::{Action, Call};
use crate::kernel::exec_area::{AddressSpace, AreaLease, ExecArea};
use nix::errno::Errno;
use platform_ptrace::{Regs, Stopped, Tid};
use std::os::fd::{AsRawFd, OwnedFd};
use syscalls::Sysno;

/// Linux's limit on one argument or environment string (MAX_ARG_STRLEN).
const MAX_ARG_STRLEN: usize = 32 * 4096;
/// The most argument bytes (strings and pointers) Linux takes whatever RLIMIT_STACK is
/// (_STK_LIM / 4 * 3): the sentry's own copy of an argv is bounded by it.
const MAX_ARG_BYTES: usize = 6 << 20;
/// Linux's limit on nested interpreters (`#!` lines).
const MAX_INTERPRETER_DEPTH: usize = 4;
/// Linux reads this much of a file for the `#!` line (BINPRM_BUF_SIZE).
const BINPRM_BUF_SIZE: usize = 256;
/// How much of a program the sentry reads at once: the `#!` line, or the ELF header, the
/// program headers and PT_INTERP's path of any usual binary.
const HEAD_LEN: usize = 4096;
/// The largest vector block (argc, argv, envp, auxv) the sentry reads at an exec event.
const MAX_VECTOR_BLOCK: usize = 64 * 1024;
/// The length of the x86_64 `syscall` instruction, to run it again from an exit stop.
const SYSCALL_INSN_LEN: u64 = 2;
/// The size of an address space's exec area (more when an argv needs it).
const EXEC_AREA_LEN: u64 = 64 * 1024;
/// Where an argv block starts in the exec area: the bytes before it are the empty path.
const ARGV_BLOCK_AT: u64 = 64;

/// What to run for a program: the file to exec and how argv changes.
#[derive(Debug)]
pub struct Plan {
    /// The file the kernel executes (opened by the gofer).
    pub file: OwnedFd,
    /// Arguments put before the original `argv[1..]`; empty when argv is kept as it is.
    pub argv_prefix: Vec<Vec<u8>>,
    /// The program's sandbox path, as /proc/<pid>/exe names it.
    pub program: Vec<u8>,
    /// Set when the program runs through its ELF interpreter.
    pub loader: Option<LoaderView>,
}

/// The new image's initial stack as the kernel laid it out, read at the exec event before
/// the image's first instruction (none of its code has run: these are the kernel's bytes).
/// Read through [`InitialStack::read`].
pub struct InitialStack {
    regs: Regs,
    /// The vector block: argc, argv, envp and auxv up to its AT_NULL entry, from sp.
    block: Vec<u8>,
    /// Where AT_EXECFN's value is in `block`.
    execfn_slot: Option<usize>,
    /// AT_BASE: where the kernel loaded the image's ELF interpreter; 0 when it loaded none.
    interpreter_base: Option<u64>,
}

impl InitialStack {
    /// Reads the block a page at a time (from sp to its page's end, then whole pages: all
    /// mapped, up to the stack's top), not a word per read. Ok(None) when it cannot be read
    /// or is larger than MAX_VECTOR_BLOCK; an error when the image is not 64-bit code, which
    /// the sandbox never runs (its file changed after the sentry read its ELF header).
    pub fn read(
        mem: &dyn crate::host::TaskMemory,
        stopped: &Stopped,
    ) -> Result<Option<InitialStack>, String> {
        let Ok(regs) = stopped.regs() else {
            return Ok(None);
        };
        if !regs.is_64bit_code() {
            return Err("the kernel executed an image that is not x86_64 code".into());
        }
        Ok(Self::read_block(mem, stopped.tid(), regs))
    }

    fn read_block(mem: &dyn crate::host::TaskMemory, tid: Tid, regs: Regs) -> Option<Self> {
        let sp = regs.sp();
        let mut block = Vec::new();
        let mut word = |at: usize| -> Option<u64> {
            if at + 8 > MAX_VECTOR_BLOCK {
                return None;
            }
            while block.len() < at + 8 {
                let from = sp + block.len() as u64;
                let mut page = vec![0u8; (4096 - from % 4096) as usize];
                mem.read(tid, from, &mut page).ok()?;
                block.extend_from_slice(&page);
            }
            Some(u64::from_ne_bytes(block[at..at + 8].try_into().ok()?))
        };
        let (len, execfn_slot, interpreter_base) = parse_vector_block(&mut word)?;
        block.truncate(len);
        Some(InitialStack {
            regs,
            block,
            execfn_slot,
            interpreter_base,
        })
    }

    /// AT_EXECFN names the path the program was executed by, not the kernel's `/dev/fd/N`
    /// of the fd the sentry executed. The block moves down to make room for the string right
    /// above it, where the program's own stack use never reaches; the strings above keep
    /// their addresses.
    pub fn set_execfn(
        self,
        mem: &dyn crate::host::TaskMemory,
        stopped: &Stopped,
        execfn: &[u8],
    ) -> platform_ptrace::Result<()> {
        let (Some(slot), false) = (self.execfn_slot, execfn.is_empty()) else {
            return Ok(());
        };
        let InitialStack {
            mut regs,
            mut block,
            ..
        } = self;
        let block_len = block.len();
        let room = (execfn.len() as u64 + 1).next_multiple_of(16);
        let new_sp = regs.sp() - room;
        let string_at = new_sp + block_len as u64;
        block[slot..slot + 8].copy_from_slice(&string_at.to_ne_bytes());
        let mut string = execfn.to_vec();
        string.resize(room as usize, 0);
        block.extend_from_slice(&string);
        if mem.write(stopped.tid(), new_sp, &block).is_err() {
            return Ok(());
        }
        regs.set_sp(new_sp);
        stopped.set_regs(&regs)
    }
}

/// Walks a vector block through `word` (the word at a byte offset from sp): argc,
/// argv[argc], NULL, envp…, NULL, then (type, value) pairs up to AT_NULL. Returns the
/// block's length and, as offsets or values, AT_EXECFN's slot and AT_BASE.
fn parse_vector_block(
    word: &mut impl FnMut(usize) -> Option<u64>,
) -> Option<(usize, Option<usize>, Option<u64>)> {
    const AT_NULL: u64 = 0;
    const AT_BASE: u64 = 7;
    const AT_EXECFN: u64 = 31;
    let argc = usize::try_from(word(0)?).ok()?;
    let mut at = argc.checked_add(2)?.checked_mul(8)?;
    while word(at)? != 0 {
        at += 8;
    }
    at += 8;
    let (mut execfn_slot, mut base) = (None, None);
    loop {
        let kind = word(at)?;
        match kind {
            AT_EXECFN => execfn_slot = Some(at + 8),
            AT_BASE => base = Some(word(at + 8)?),
            _ => {}
        }
        if kind == AT_NULL {
            // Its value word too: the block the caller keeps ends after it.
            word(at + 8)?;
            return Some((at + 16, execfn_slot, base));
        }
        at += 16;
    }
}

pub use crate::kernel::LoaderView;

impl Plan {
    pub fn keeps_argv(&self) -> bool {
        self.argv_prefix.is_empty()
    }
}

/// Where the task is in the steps of its exec.
#[derive(Debug)]
pub enum Stage {
    /// The fd install is on its way; at its exit stop the fd number is known.
    Installing { new_argv: Option<Vec<Vec<u8>>> },
    /// The task re-runs its syscall instruction as unshare(CLONE_FILES): from then on no
    /// other task can re-point the fd number the kernel will execute.
    Unsharing {
        fd: i32,
        new_argv: Option<Vec<Vec<u8>>>,
    },
    /// The task re-runs its syscall instruction as mmap of a read-only area for the empty
    /// path and the argv block (when argv changes).
    Mapping {
        fd: i32,
        new_argv: Option<Vec<Vec<u8>>>,
    },
    /// The task re-runs its syscall instruction as mseal(2) of that area: from then on no
    /// thread can change, unmap or replace it. `block` is what the sentry wrote at
    /// `base + ARGV_BLOCK_AT`.
    Sealing {
        fd: i32,
        base: u64,
        len: u64,
        block: Vec<u8>,
        execveat: [u64; 6],
    },
    /// The task re-runs its syscall instruction as the execveat.
    Executing,
}

/// The state kept between the stops of one exec.
#[derive(Debug)]
pub struct InFlight {
    pub stage: Stage,
    /// The task's registers at its execve, restored when the exec fails.
    pub original: Regs,
    /// The call the task is about to re-run (number and arguments). Between an exit stop
    /// and that call, a signal handler of the task may run and change its registers: only
    /// this exact call is let through as the sentry's own step.
    pub expected: Option<(u64, [u64; 6])>,
    /// The program's sandbox path, for /proc/<pid>/exe once the exec succeeded.
    pub program: Vec<u8>,
    pub loader: Option<LoaderView>,
    /// The path as the task gave it to execve, for AT_EXECFN.
    pub execfn: Vec<u8>,
    /// The original argv and envp pointers.
    argv: u64,
    envp: u64,
    /// The (device, inode) of the file the sentry vetted: the only file the kernel may map.
    vetted: (u64, u64),
    /// Whether another task may re-point the fd number: the table must be unshared first.
    unshare_files: bool,
    /// The task's address space, whose exec area the exec uses or makes.
    space: Option<std::sync::Arc<AddressSpace>>,
    /// The exec area in this exec's use, until the kernel has read its argv.
    lease: Option<AreaLease>,
}

impl InFlight {
    /// Whether the call at an entry stop is the step the sentry set up.
    pub fn is_expected(&self, nr: u64, args: &[u64; 6]) -> bool {
        self.expected.is_some_and(|(n, a)| n == nr && a == *args)
    }
}

/// Reads a file's first bytes with pread (the file offset stays as it is).
fn head(file: &OwnedFd, len: usize) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; len];
    // SAFETY: pread into a buffer we own, from an fd we own.
    let n = unsafe { libc::pread(file.as_raw_fd(), buf.as_mut_ptr().cast(), len, 0) };
    if n < 0 {
        return Err(Errno::last());
    }
    buf.truncate(n as usize);
    Ok(buf)
}

/// The interpreter and optional argument of a `#!` line, as Linux splits it.
fn shebang(head: &[u8]) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    let line = head.strip_prefix(b"#!")?;
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let is_blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = line.iter().position(|b| !is_blank(b))?;
    let line = &line[start..];
    let end = line.iter().rposition(|b| !is_blank(b)).map_or(0, |e| e + 1);
    let line = &line[..end];
    let split = line.iter().position(is_blank);
    match split {
        None => Some((line.to_vec(), None)),
        Some(i) => {
            let rest = &line[i..];
            let arg_start = rest.iter().position(|b| !is_blank(b)).unwrap_or(rest.len());
            let arg = &rest[arg_start..];
            Some((line[..i].to_vec(), (!arg.is_empty()).then(|| arg.to_vec())))
        }
    }
}

/// `len` bytes of `file` at `offset`: from `start` (the file's first bytes, already read)
/// when they lie there, else read. ENOEXEC when the file is shorter.
fn file_bytes(file: &OwnedFd, start: &[u8], offset: u64, len: usize) -> Result<Vec<u8>, Errno> {
    let end = offset.checked_add(len as u64).ok_or(Errno::ENOEXEC)?;
    if end <= start.len() as u64 {
        return Ok(start[offset as usize..end as usize].to_vec());
    }
    let mut buf = vec![0u8; len];
    pread_exact(file, &mut buf, offset)?;
    Ok(buf)
}

/// The PT_INTERP of an ELF file whose first bytes are `start`, if it has one. ENOEXEC for
/// a malformed ELF.
fn elf_interpreter(file: &OwnedFd, start: &[u8]) -> Result<Option<Vec<u8>>, Errno> {
    use goblin::elf::{header, program_header};
    let Some(ehdr) = start.get(..header::header64::SIZEOF_EHDR) else {
        return Err(Errno::ENOEXEC);
    };
    let header = goblin::elf::Elf::parse_header(ehdr).map_err(|_| Errno::ENOEXEC)?;
    if header.e_ident[header::EI_CLASS] != header::ELFCLASS64
        || header.e_machine != header::EM_X86_64
    {
        // The sandbox runs only x86_64 code (DESIGN.md invariant 3).
        return Err(Errno::ENOEXEC);
    }
    let table_len = header.e_phnum as usize * header.e_phentsize as usize;
    if header.e_phentsize as usize != program_header::program_header64::SIZEOF_PHDR
        || table_len > 64 * 1024
    {
        return Err(Errno::ENOEXEC);
    }
    let table = file_bytes(file, start, header.e_phoff, table_len)?;
    for entry in table.chunks_exact(program_header::program_header64::SIZEOF_PHDR) {
        // SAFETY: ProgramHeader is a plain repr(C) struct of SIZEOF_PHDR bytes; the
        // unaligned read copies it out of our buffer.
        let phdr: program_header::program_header64::ProgramHeader =
            unsafe { std::ptr::read_unaligned(entry.as_ptr().cast()) };
        if phdr.p_type == program_header::PT_INTERP {
            if phdr.p_filesz == 0 || phdr.p_filesz > 4096 {
                return Err(Errno::ENOEXEC);
            }
            let mut path = file_bytes(file, start, phdr.p_offset, phdr.p_filesz as usize)?;
            let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
            path.truncate(end);
            return Ok(Some(path));
        }
    }
    Ok(None)
}

fn pread_exact(file: &OwnedFd, buf: &mut [u8], offset: u64) -> Result<(), Errno> {
    // SAFETY: pread into a buffer we own, from an fd we own.
    let n = unsafe {
        libc::pread(
            file.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            offset as i64,
        )
    };
    if n < 0 {
        return Err(Errno::last());
    }
    if n as usize != buf.len() {
        return Err(Errno::ENOEXEC);
    }
    Ok(())
}

/// Opens the program for execution through the gofer: a regular file the sandbox may
/// execute (EACCES otherwise, as execve says).
fn open_program(call: &mut Call, target: &Target) -> Result<OwnedFd, Errno> {
    files(call)?.open_exec(target.gofer_index, &target.rel)
}

/// Works out what to run for `path` (as the program named it) with `argv0`.
/// `dirfd` is the directory relative paths start from. `from_fd`: the path is that of an
/// fd the task holds (fexecve), so no search permission is needed on its way.
pub fn plan(
    call: &mut Call,
    dirfd: u64,
    path: &[u8],
    argv0: &[u8],
    from_fd: bool,
) -> Result<Plan, Errno> {
    let mut prefix: Vec<Vec<u8>> = Vec::new();
    let mut name = path.to_vec();
    let mut name_dirfd = dirfd;
    let mut walked = from_fd;
    for _ in 0..=MAX_INTERPRETER_DEPTH {
        let target = resolve(call, name_dirfd, &name, true)?;
        let target = follow(call, target)?;
        if target.proc.is_some() {
            return Err(Errno::EACCES);
        }
        // The sandbox's own user must be allowed to execute it (and each interpreter), as
        // the sandbox shows the owner; the gofer only knows the host's.
        if !std::mem::replace(&mut walked, false) {
            check_search(call, &target)?;
        }
        check_file(call, &target, libc::X_OK, true)?;
        let file = open_program(call, &target)?;
        let start = head(&file, HEAD_LEN)?;
        if let Some((interpreter, arg)) = shebang(&start[..start.len().min(BINPRM_BUF_SIZE)]) {
            // argv becomes: interpreter [arg] script args…; the script as it was named.
            let mut next = vec![interpreter.clone()];
            next.extend(arg);
            next.push(name.clone());
            if prefix.is_empty() {
                prefix = next;
            } else {
                // The previous level's argv[0] (this script) is replaced by this line.
                prefix.remove(0);
                next.extend(prefix);
                prefix = next;
            }
            name = interpreter;
            name_dirfd = libc::AT_FDCWD as i64 as u64;
            continue;
        }
        if !start.starts_with(b"\x7fELF") {
            return Err(Errno::ENOEXEC);
        }
        // The program as /proc/<pid>/exe names it: the file the kernel runs, every link on
        // the way followed (as the kernel's d_path of it).
        let program = followed_path(call, &target);
        let Some(interpreter) = elf_interpreter(&file, &start)? else {
            return Ok(Plan {
                file,
                argv_prefix: prefix,
                program,
                loader: None,
            });
        };
        // A dynamic program: run its interpreter from inside the sandbox.
        let target = resolve(call, libc::AT_FDCWD as i64 as u64, &interpreter, true)?;
        check_permission(call, &target, libc::X_OK, true)?;
        let loader = open_program(call, &target).map_err(|e| {
            if e == Errno::ENOENT {
                Errno::ENOENT
            } else {
                Errno::ELIBBAD
            }
        })?;
        if elf_interpreter(&loader, &head(&loader, HEAD_LEN)?)?.is_some() {
            return Err(Errno::ELIBBAD);
        }
        let program_argv0 = if prefix.is_empty() {
            argv0.to_vec()
        } else {
            prefix[0].clone()
        };
        let mut next = vec![interpreter.clone()];
        // How the program's own argv sits in the loader's: argv[0] at `argv0_at`, the
        // rest from `rest_from` (the loader's options and the program path are not it).
        let view = if is_glibc_loader(&interpreter) {
            next.push(b"--argv0".to_vec());
            next.push(program_argv0);
            LoaderView {
                argv0_at: 2,
                rest_from: 4,
            }
        } else {
            LoaderView {
                argv0_at: 1,
                rest_from: 2,
            }
        };
        // The loader is given the program by the path /proc/<pid>/exe names: its $ORIGIN
        // (a library path relative to the program, as java's) is that path's directory, as
        // for a program the kernel loads. The name it was run by stays argv[0].
        next.push(program.clone());
        if !prefix.is_empty() {
            prefix.remove(0);
        }
        next.extend(prefix);
        return Ok(Plan {
            file: loader,
            argv_prefix: next,
            program,
            loader: Some(view),
        });
    }
    Err(Errno::ELOOP)
}

/// The sandbox path of `target` with every symbolic link on it followed, as the kernel
/// names a file it runs (/proc/<pid>/exe); the path as resolved if the links cannot be read.
fn followed_path(call: &mut Call, target: &Target) -> Vec<u8> {
    let root = call.kernel.fs_of(call.tid).root;
    walk_links(call, &target.path, &root, true).unwrap_or_else(|_| target.path.clone())
}

/// glibc's ld.so takes `--argv0` (since 2.33); musl's does not.
fn is_glibc_loader(path: &[u8]) -> bool {
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    name.starts_with(b"ld-linux")
}

/// Reads a NULL-terminated array of string pointers (argv) out of the task, a page's worth
/// of pointers per read. A pointer the kernel could not read faults here too: every read
/// stays within the page of the first pointer it takes.
fn read_pointer_array(
    mem: &dyn crate::host::TaskMemory,
    tid: Tid,
    addr: u64,
) -> Result<Vec<u64>, Errno> {
    let mut out = Vec::new();
    if addr == 0 {
        return Ok(out);
    }
    let mut at = addr;
    loop {
        let to_page_end = (4096 - at % 4096) as usize;
        let mut chunk = vec![0u8; (to_page_end / 8).max(1) * 8];
        mem.read(tid, at, &mut chunk).map_err(|_| Errno::EFAULT)?;
        for word in chunk.chunks_exact(8) {
            let ptr = u64::from_ne_bytes(word.try_into().expect("8 bytes"));
            if ptr == 0 {
                return Ok(out);
            }
            out.push(ptr);
            if out.len() * 8 > MAX_ARG_BYTES {
                return Err(Errno::E2BIG);
            }
        }
        at += chunk.len() as u64;
    }
}

/// One argument string out of the task: EFAULT and E2BIG as the kernel gives them.
fn read_arg(mem: &dyn crate::host::TaskMemory, tid: Tid, addr: u64) -> Result<Vec<u8>, Errno> {
    mem.read_cstring(tid, addr, MAX_ARG_STRLEN - 1)
        .map_err(|e| {
            if e == Errno::ENAMETOOLONG {
                Errno::E2BIG
            } else {
                e
            }
        })
}

crate::syscall_entries! {
    execve(path: Path, argv: Ptr, envp: Ptr) => Gofer, |call, a| {
        by_path(call, a, |c, a| exec(c, AT_FDCWD, a.path, a.argv, a.envp, 0))
    };
    execveat(dirfd: DirFd, path: Path, argv: Ptr, envp: Ptr, flags: Hex) => Gofer, |call, a| {
        by_path(call, a, |c, a| exec(c, a.dirfd as u64, a.path, a.argv, a.envp, a.flags as i32))
    };
}

const AT_FDCWD: u64 = libc::AT_FDCWD as i64 as u64;

/// execve(path, argv, envp) / execveat(dirfd, path, argv, envp, flags).
fn exec(
    call: &mut Call,
    dirfd: u64,
    path: PathArg,
    argv: u64,
    envp: u64,
    flags: i32,
) -> Result<Action, Errno> {
    if flags & !(libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW) != 0 {
        return Err(Errno::EINVAL);
    }
    let path_arg = path;
    let mut path = read_path(call, path_arg)?;
    let given_len = path.len();
    let mut dirfd = dirfd;
    if path.is_empty() {
        if flags & libc::AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT);
        }
        // fexecve: the program is the fd's file, named by its sandbox path.
        let link = format!("/proc/{}/fd/{}", call.tid, dirfd as i32);
        let host = std::fs::read_link(&link).map_err(|_| Errno::EBADF)?;
        path = call
            .kernel
            .mounts(call.tid)
            .sandbox_path_of(host.as_os_str().as_encoded_bytes())
            .ok_or(Errno::EACCES)?;
        dirfd = libc::AT_FDCWD as i64 as u64;
    }
    let pointers = read_pointer_array(&*call.kernel.mem, call.tid, argv)?;
    // A shell passes the path it found as argv[0] too: the same bytes, read once.
    let argv0 = match pointers.first() {
        Some(&p) if p == path_arg.ptr && given_len > 0 => read_path(call, path_arg)?,
        Some(&p) => read_arg(&*call.kernel.mem, call.tid, p)?,
        None => Vec::new(),
    };
    let plan = plan(call, dirfd, &path, &argv0, given_len == 0)?;
    let program = plan.program.clone();
    let loader = plan.loader;
    let new_argv = if plan.keeps_argv() {
        None
    } else {
        // The original arguments after argv[0], by value (they live in the old image),
        // within the kernel's limits: the sentry's copy is as bounded as the kernel's.
        let mut argv = plan.argv_prefix.clone();
        let mut total: usize = argv.iter().map(|a| a.len() + 1 + 8).sum();
        for &p in pointers.iter().skip(1) {
            let arg = read_arg(&*call.kernel.mem, call.tid, p)?;
            total += arg.len() + 1 + 8;
            if total > MAX_ARG_BYTES {
                return Err(Errno::E2BIG);
            }
            argv.push(arg);
        }
        Some(argv)
    };
    let vetted = nix::sys::stat::fstat(plan.file.as_raw_fd())
        .map(|st| (st.st_dev, st.st_ino))
        .map_err(|_| Errno::EACCES)?;
    let space = call.kernel.tasks.get(&call.tid).map(|t| t.space.clone());
    Ok(Action::Exec {
        fd: plan.file,
        state: Box::new(InFlight {
            stage: Stage::Installing { new_argv },
            original: Regs::default(),
            expected: None,
            argv,
            envp,
            vetted,
            unshare_files: call.kernel.fd_table_shared(call.tid),
            lease: space.as_ref().and_then(|space| space.lease()),
            space,
            program,
            loader,
            execfn: if given_len == 0 {
                Vec::new()
            } else {
                path.clone()
            },
        }),
    })
}

/// What the supervisor does after one step.
pub enum Step {
    /// Resume with PTRACE_SYSCALL and come back at the next syscall stop.
    Continue(Box<InFlight>),
    /// Resume with PTRACE_CONT: the step is a call the filter always stops (execveat), so
    /// its seccomp stop comes without an entry stop before it.
    ToSeccompStop(Box<InFlight>),
    /// The exec is over (failed): the task's registers are back, with this result.
    Failed,
    /// The execveat ran: success shows as the exec event; nothing left to do.
    Done,
}

fn rerun_as(state: &mut InFlight, regs: &mut Regs, nr: Sysno, args: [u64; 6]) {
    state.expected = Some((nr.id() as u64, args));
    regs.set_ip(regs.ip() - SYSCALL_INSN_LEN);
    regs.set_ret(nr.id() as i64);
    regs.set_syscall(nr.id() as i64);
    for (i, a) in args.iter().enumerate() {
        regs.set_arg(i, *a);
    }
}

fn fail(stopped: &Stopped, state: &InFlight, rval: i64) -> platform_ptrace::Result<Step> {
    let mut regs = state.original;
    // A step interrupted by a signal (ERESTARTSYS): execve is run again after the handler,
    // whatever SA_RESTART says; Linux's execve never fails with EINTR.
    regs.set_ret(if rval == -ERESTARTSYS {
        -ERESTARTNOINTR
    } else {
        rval
    });
    stopped.set_regs(&regs)?;
    Ok(Step::Failed)
}

/// The argv block: strings, then the pointer array, at `base` in the task.
fn argv_block(base: u64, argv: &[Vec<u8>]) -> (Vec<u8>, u64) {
    let strings_len: usize = argv.iter().map(|a| a.len() + 1).sum();
    let array_offset = strings_len.next_multiple_of(8);
    let mut block = Vec::with_capacity(array_offset + (argv.len() + 1) * 8);
    let mut pointers = Vec::with_capacity(argv.len() + 1);
    for arg in argv {
        pointers.push(base + block.len() as u64);
        block.extend_from_slice(arg);
        block.push(0);
    }
    block.resize(array_offset, 0);
    for p in pointers {
        block.extend_from_slice(&p.to_ne_bytes());
    }
    block.extend_from_slice(&0u64.to_ne_bytes());
    (block, base + array_offset as u64)
}

/// The next step once the fd is installed (and the fd table unshared): the `execveat`,
/// its argv written in the address space's exec area, if the exec has the use of one;
/// else the mmap of an area.
fn after_install(
    mem: &dyn crate::host::TaskMemory,
    stopped: &Stopped,
    mut state: Box<InFlight>,
    fd: i32,
    new_argv: Option<Vec<Vec<u8>>>,
) -> platform_ptrace::Result<Step> {
    let Some(area) = state.lease.as_ref().map(|lease| lease.area) else {
        return map_area(stopped, state, fd, new_argv);
    };
    let argv = match new_argv.as_deref() {
        None => state.argv,
        Some(argv) => {
            let (block, array) = argv_block(area.at + ARGV_BLOCK_AT, argv);
            let fits = ARGV_BLOCK_AT + block.len() as u64 <= area.len;
            if !fits
                || mem
                    .write_forced(stopped.tid(), area.at + ARGV_BLOCK_AT, &block)
                    .is_err()
            {
                // An argv larger than the area gets an area of its own, for this exec.
                state.lease = None;
                return map_area(stopped, state, fd, new_argv);
            }
            array
        }
    };
    let mut regs = stopped.regs()?;
    let execveat = execveat_args(fd, area.at, argv, state.envp);
    rerun_as(&mut state, &mut regs, Sysno::execveat, execveat);
    stopped.set_regs(&regs)?;
    Ok(Step::ToSeccompStop(state))
}

/// The next step: the task re-runs its syscall instruction as an mmap of a read-only area
/// for the empty path and the argv block.
fn map_area(
    stopped: &Stopped,
    mut state: Box<InFlight>,
    fd: i32,
    new_argv: Option<Vec<Vec<u8>>>,
) -> platform_ptrace::Result<Step> {
    let mut regs = stopped.regs()?;
    let block_len = new_argv
        .as_ref()
        .map_or(0, |argv| argv_block(0, argv).0.len());
    let len = area_len(block_len);
    let prot = libc::PROT_READ as u64;
    let flags = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as u64;
    rerun_as(
        &mut state,
        &mut regs,
        Sysno::mmap,
        [random_hint(), len, prot, flags, u64::MAX, 0],
    );
    state.stage = Stage::Mapping { fd, new_argv };
    stopped.set_regs(&regs)?;
    Ok(Step::Continue(state))
}

/// `execveat(fd, empty, argv, envp, AT_EMPTY_PATH)`'s arguments, `empty` the address of an
/// empty string.
fn execveat_args(fd: i32, empty: u64, argv: u64, envp: u64) -> [u64; 6] {
    [fd as u64, empty, argv, envp, libc::AT_EMPTY_PATH as u64, 0]
}

/// The length of an exec area that holds an argv block of `block_len` bytes.
fn area_len(block_len: usize) -> u64 {
    (ARGV_BLOCK_AT + block_len as u64)
        .next_multiple_of(4096)
        .max(EXEC_AREA_LEN)
}

/// Advances an exec at the exit stop of its current step; `rval` is that step's result.
pub fn at_exit(
    mem: &dyn crate::host::TaskMemory,
    stopped: &Stopped,
    mut state: Box<InFlight>,
    rval: i64,
) -> platform_ptrace::Result<Step> {
    let stage = std::mem::replace(&mut state.stage, Stage::Executing);
    match stage {
        Stage::Installing { new_argv } => {
            if rval < 0 {
                return fail(stopped, &state, rval);
            }
            let fd = rval as i32;
            let mut regs = stopped.regs()?;
            if state.unshare_files {
                rerun_as(
                    &mut state,
                    &mut regs,
                    Sysno::unshare,
                    [libc::CLONE_FILES as u64, 0, 0, 0, 0, 0],
                );
                state.stage = Stage::Unsharing { fd, new_argv };
                stopped.set_regs(&regs)?;
                return Ok(Step::Continue(state));
            }
            after_install(mem, stopped, state, fd, new_argv)
        }
        Stage::Unsharing { fd, new_argv } => {
            if rval < 0 {
                return fail(stopped, &state, rval);
            }
            // Another thread may have re-pointed the number before the table was unshared.
            if fd_identity(stopped.tid(), fd) != Some(state.vetted) {
                return fail(stopped, &state, -(libc::EBADF as i64));
            }
            after_install(mem, stopped, state, fd, new_argv)
        }
        Stage::Mapping { fd, new_argv } => {
            if (-4095..0).contains(&rval) {
                return fail(stopped, &state, -(libc::ENOMEM as i64));
            }
            let base = rval as u64;
            // The area is zeros: its first byte is an empty string.
            let (argv, block) = match &new_argv {
                None => (state.argv, Vec::new()),
                Some(new_argv) => {
                    let (block, array) = argv_block(base + ARGV_BLOCK_AT, new_argv);
                    if let Err(e) = mem.write_forced(stopped.tid(), base + ARGV_BLOCK_AT, &block) {
                        tracing::error!(
                            "sentry: [tid {}] cannot write the argv of an exec into the task: {e}",
                            stopped.tid()
                        );
                        return fail(stopped, &state, -(libc::ENOMEM as i64));
                    }
                    (array, block)
                }
            };
            let len = area_len(block.len());
            let execveat = execveat_args(fd, base, argv, state.envp);
            let mut regs = stopped.regs()?;
            rerun_as(&mut state, &mut regs, Sysno::mseal, [base, len, 0, 0, 0, 0]);
            state.stage = Stage::Sealing {
                fd,
                base,
                len,
                block,
                execveat,
            };
            stopped.set_regs(&regs)?;
            Ok(Step::Continue(state))
        }
        Stage::Sealing {
            fd,
            base,
            len,
            block,
            execveat,
        } => {
            // Another thread may have changed or replaced the page before it was sealed:
            // the exec goes on only with the sentry's own bytes in a sealed read-only page.
            // A kernel without mseal (before 6.10) leaves the window open, as it was.
            let sealed = rval != -(libc::ENOSYS as i64);
            if (sealed && rval < 0) || !as_written(mem, stopped.tid(), base, len, &block) {
                tracing::warn!(
                    target: "sentry::deny",
                    "sentry: [tid {}] exec refused (EFAULT): the page of its path and argv changed before it was sealed",
                    stopped.tid()
                );
                return fail(stopped, &state, -(libc::EFAULT as i64));
            }
            // The fd number: see Unsharing (the table is the task's own by now).
            if state.unshare_files && fd_identity(stopped.tid(), fd) != Some(state.vetted) {
                return fail(stopped, &state, -(libc::EBADF as i64));
            }
            // The area stays for the address space's later execs, if it is the first and
            // sealed (a kernel without mseal gets an area for each exec).
            if sealed && state.lease.is_none() {
                let area = ExecArea { at: base, len };
                state.lease = state.space.as_ref().and_then(|space| space.record(area));
            }
            let mut regs = stopped.regs()?;
            rerun_as(&mut state, &mut regs, Sysno::execveat, execveat);
            stopped.set_regs(&regs)?;
            Ok(Step::ToSeccompStop(state))
        }
        Stage::Executing => {
            if rval < 0 {
                return fail(stopped, &state, rval);
            }
            Ok(Step::Done)
        }
    }
}

/// Whether task `tid` has exactly [base, base + len) mapped as one read-only private
/// anonymous mapping holding zeros with `block` at ARGV_BLOCK_AT. Once mseal succeeded on the range,
/// the mapping there is the one it sealed (a sealed mapping cannot be unmapped, replaced,
/// split or made writable), so /proc/<tid>/maps says enough: smaps, whose VmFlags show the
/// seal, costs a page-table walk of every mapping of the task.
fn as_written(
    mem: &dyn crate::host::TaskMemory,
    tid: Tid,
    base: u64,
    len: u64,
    block: &[u8],
) -> bool {
    let Some(maps) = mem.proc_file(tid, "maps") else {
        return false;
    };
    if !is_private_anonymous_read_only(&maps, base, base + len) {
        return false;
    }
    let mut now = vec![0u8; len as usize];
    if mem.read(tid, base, &mut now).is_err() {
        return false;
    }
    let (head, rest) = now.split_at(ARGV_BLOCK_AT as usize);
    let (written, tail) = rest.split_at(block.len());
    head.iter().chain(tail).all(|&b| b == 0) && written == block
}

/// Whether a /proc/<pid>/maps text has one mapping from `start` to `end`, private,
/// read-only and anonymous (no file whose other writers could change its pages).
fn is_private_anonymous_read_only(maps: &str, start: u64, end: u64) -> bool {
    let head = format!("{start:x}-{end:x} r--p ");
    maps.lines()
        .find_map(|line| line.strip_prefix(&head))
        .is_some_and(|rest| {
            let mut fields = rest.split_ascii_whitespace();
            fields.nth(1) == Some("00:00") && fields.next() == Some("0") && fields.next().is_none()
        })
}

/// The (device, inode) of fd `fd` of task `tid`, as the kernel sees it now.
fn fd_identity(tid: Tid, fd: i32) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let st = std::fs::metadata(format!("/proc/{tid}/fd/{fd}")).ok()?;
    Some((st.dev(), st.ino()))
}

/// A page-aligned address hint at random in the upper half of the user address space: the
/// page for the empty path lands where no thread of the task can know it in advance.
fn random_hint() -> u64 {
    let mut bytes = [0u8; 8];
    // SAFETY: getrandom writes at most `bytes.len()` bytes into memory we own.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if n != bytes.len() as isize {
        return 0;
    }
    // Pages from 2^45 to 2^46: far from the heap, the stack and the usual mmap area.
    (1u64 << 45) + (u64::from_ne_bytes(bytes) % (1u64 << 33)) * 4096
}

/// At the exec event, before the new image's first instruction: whether the kernel ran the
/// file the sentry vetted and loaded no other file (a host interpreter named by a PT_INTERP
/// written into the file after the sentry read it). The answer is the kernel's own view of
/// the new image: AT_BASE in the initial stack (`stack`) is where the kernel loaded an ELF
/// interpreter and 0 when it loaded none (none can be at 0: tasks map nothing below
/// mmap_min_addr); without the stack, /proc/<tid>/maps must show one file. An image that is
/// not 64-bit code (`stack` says so) is refused.
pub fn check_image(
    mem: &dyn crate::host::TaskMemory,
    tid: Tid,
    state: &InFlight,
    stack: &Result<Option<InitialStack>, String>,
) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let stack = stack.as_ref().map_err(Clone::clone)?;
    let exe = std::fs::metadata(format!("/proc/{tid}/exe"))
        .map_err(|e| format!("cannot inspect the new image: {e}"))?;
    if (exe.dev(), exe.ino()) != state.vetted {
        return Err("the kernel executed another file than the one the sentry vetted".into());
    }
    let besides = match stack.as_ref().and_then(|stack| stack.interpreter_base) {
        Some(base) => base != 0,
        None => {
            let maps = mem
                .proc_file(tid, "maps")
                .ok_or("cannot inspect the new image: no maps")?;
            mapped_files(&maps).len() > 1
        }
    };
    if besides {
        return Err("the kernel loaded a file besides the one the sentry vetted".into());
    }
    Ok(())
}

/// The distinct (device, inode) pairs of the file mappings in a /proc/<pid>/maps text.
fn mapped_files(maps: &str) -> std::collections::BTreeSet<(&str, &str)> {
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.split_ascii_whitespace();
            let (dev, inode) = (fields.nth(3)?, fields.next()?);
            (inode != "0").then_some((dev, inode))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_whole_private_anonymous_read_only_mapping_counts() {
        let maps = "\
200000000000-200000001000 r--p 00000000 00:00 0 
200000001000-200000002000 rw-p 00000000 00:00 0 
200000003000-200000004000 r--p 00000000 08:01 1234 /tmp/attacker
200000004000-200000005000 r--s 00000000 00:01 77 /dev/zero (deleted)
";
        let page = 0x2000_0000_0000;
        assert!(is_private_anonymous_read_only(maps, page, page + 4096));
        // Writable, not the whole range as one mapping, a file's pages, shared memory.
        assert!(!is_private_anonymous_read_only(
            maps,
            page + 4096,
            page + 8192
        ));
        assert!(!is_private_anonymous_read_only(maps, page, page + 8192));
        assert!(!is_private_anonymous_read_only(
            maps,
            page + 0x3000,
            page + 0x4000
        ));
        assert!(!is_private_anonymous_read_only(
            maps,
            page + 0x4000,
            page + 0x5000
        ));
    }

    #[test]
    fn mapped_files_are_told_apart_by_device_and_inode() {
        let maps = "\
00400000-00401000 r--p 00000000 08:01 1234 /lib64/ld-linux-x86-64.so.2
00401000-00402000 r-xp 00001000 08:01 1234 /lib64/ld-linux-x86-64.so.2
7ffd0000-7ffd1000 rw-p 00000000 00:00 0 [stack]
7ffd2000-7ffd3000 r-xp 00000000 00:00 0 [vdso]
";
        assert_eq!(mapped_files(maps).len(), 1);
        let with_interp = format!("{maps}7f000000-7f001000 r-xp 00000000 08:02 99 /host/ld.so\n");
        assert_eq!(mapped_files(&with_interp).len(), 2);
    }

    /// The words of an initial stack: argc, argv, NULL, envp, NULL, then the auxv pairs.
    fn vector_block(argc: u64, envc: u64, auxv: &[(u64, u64)]) -> Vec<u64> {
        let mut words = vec![argc];
        words.extend((0..argc).map(|i| 0x7ffd_0000 + i));
        words.push(0);
        words.extend((0..envc).map(|i| 0x7ffe_0000 + i));
        words.push(0);
        for &(kind, value) in auxv {
            words.extend([kind, value]);
        }
        words
    }

    fn parse(words: &[u64]) -> Option<(usize, Option<usize>, Option<u64>)> {
        parse_vector_block(&mut |at: usize| words.get(at / 8).copied())
    }

    #[test]
    fn the_vector_block_gives_at_base_and_the_execfn_slot() {
        // AT_PHDR, AT_BASE (the interpreter at 0x7f00_0000), AT_EXECFN, AT_NULL.
        let auxv = [(3, 0x40_0040), (7, 0x7f00_0000), (31, 0x7ffe_f000), (0, 0)];
        let words = vector_block(2, 1, &auxv);
        let execfn_at = (1 + 3 + 2 + 4 + 1) * 8;
        assert_eq!(
            parse(&words),
            Some((words.len() * 8, Some(execfn_at), Some(0x7f00_0000)))
        );
        // No interpreter: the kernel says AT_BASE 0.
        let words = vector_block(0, 0, &[(7, 0), (0, 0)]);
        assert_eq!(parse(&words), Some((words.len() * 8, None, Some(0))));
        // Without AT_BASE the block says nothing of an interpreter.
        let words = vector_block(1, 0, &[(31, 0x7ffe_f000), (0, 0)]);
        assert_eq!(parse(&words).map(|(.., base)| base), Some(None));
    }

    #[test]
    fn a_vector_block_without_its_end_is_not_read() {
        // No AT_NULL before the readable words end, and an argc past every word.
        let words = vector_block(1, 1, &[(7, 0), (31, 0x7ffe_f000)]);
        assert_eq!(parse(&words), None);
        assert_eq!(parse(&[u64::MAX, 0, 0]), None);
    }

    /// A minimal x86_64 ELF file with one PT_INTERP program header at `phoff` naming
    /// `interp`, whose bytes sit at `interp_at`.
    fn elf_with_interp(phoff: usize, interp_at: usize, interp: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; interp_at + interp.len() + 1];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4..7].copy_from_slice(&[2, 1, 1]);
        f[16..18].copy_from_slice(&3u16.to_le_bytes());
        f[18..20].copy_from_slice(&62u16.to_le_bytes());
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[32..40].copy_from_slice(&(phoff as u64).to_le_bytes());
        f[52..54].copy_from_slice(&64u16.to_le_bytes());
        f[54..56].copy_from_slice(&56u16.to_le_bytes());
        f[56..58].copy_from_slice(&1u16.to_le_bytes());
        f[58..60].copy_from_slice(&64u16.to_le_bytes());
        let ph = &mut f[phoff..phoff + 56];
        ph[..4].copy_from_slice(&3u32.to_le_bytes());
        ph[8..16].copy_from_slice(&(interp_at as u64).to_le_bytes());
        ph[32..40].copy_from_slice(&(interp.len() as u64 + 1).to_le_bytes());
        f[interp_at..interp_at + interp.len()].copy_from_slice(interp);
        f
    }

    #[test]
    fn the_interpreter_is_found_in_the_first_page_or_past_it() {
        let dir = std::env::temp_dir().join(format!("sentry-elf-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (phoff, interp_at) in [(64, 200), (64, 6000), (5000, 9000)] {
            let path = dir.join(format!("elf-{phoff}-{interp_at}"));
            std::fs::write(&path, elf_with_interp(phoff, interp_at, b"/lib/ld.so")).unwrap();
            let file: OwnedFd = std::fs::File::open(&path).unwrap().into();
            let start = head(&file, HEAD_LEN).unwrap();
            assert_eq!(
                elf_interpreter(&file, &start).unwrap().as_deref(),
                Some(&b"/lib/ld.so"[..]),
                "program headers at {phoff}, path at {interp_at}"
            );
            // Cut before its path: malformed.
            let short: OwnedFd = {
                std::fs::write(
                    &path,
                    &elf_with_interp(phoff, interp_at, b"/x")[..interp_at],
                )
                .unwrap();
                std::fs::File::open(&path).unwrap().into()
            };
            let start = head(&short, HEAD_LEN).unwrap();
            assert_eq!(elf_interpreter(&short, &start), Err(Errno::ENOEXEC));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn shebang_lines_split_as_linux_does() {
        assert_eq!(
            shebang(b"#!/bin/sh\necho"),
            Some((b"/bin/sh".to_vec(), None))
        );
        assert_eq!(
            shebang(b"#! /usr/bin/env  python3 -u \n"),
            Some((b"/usr/bin/env".to_vec(), Some(b"python3 -u".to_vec())))
        );
        assert_eq!(shebang(b"#!\n"), None);
        assert_eq!(shebang(b"\x7fELF"), None);
    }

    #[test]
    fn argv_block_points_at_its_strings() {
        let (block, array) = argv_block(0x1000, &[b"a".to_vec(), b"bc".to_vec()]);
        assert_eq!(&block[..5], b"a\0bc\0");
        let off = (array - 0x1000) as usize;
        let p0 = u64::from_ne_bytes(block[off..off + 8].try_into().unwrap());
        let p1 = u64::from_ne_bytes(block[off + 8..off + 16].try_into().unwrap());
        let end = u64::from_ne_bytes(block[off + 16..off + 24].try_into().unwrap());
        assert_eq!((p0, p1, end), (0x1000, 0x1002, 0));
    }
}

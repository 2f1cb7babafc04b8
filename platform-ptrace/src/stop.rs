//! Waiting for tasks and telling what each stop is.
//!
//! The words of ptrace(2) name the stops: syscall-enter-stop, syscall-exit-stop,
//! PTRACE_EVENT stops, signal-delivery-stop and group-stop.

use crate::{Error, Regs, Result, Tid};
use nix::errno::Errno;

const PTRACE_GET_SYSCALL_INFO: libc::c_uint = 0x420e;
const PTRACE_SYSCALL_INFO_ENTRY: u8 = 1;
const PTRACE_SYSCALL_INFO_EXIT: u8 = 2;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;

/// The kernel's `struct ptrace_syscall_info` (linux/ptrace.h), union flattened:
/// `entry`/`seccomp` use nr+args (+ret_data), `exit` uses the first 9 bytes as rval+is_error.
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct RawSyscallInfo {
    op: u8,
    pad: [u8; 3],
    arch: u32,
    instruction_pointer: u64,
    stack_pointer: u64,
    nr_or_rval: u64,
    args_or_is_error: [u64; 6],
    ret_data: u32,
    pad2: u32,
}

/// Which syscall ABI a stopped call came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyscallArch {
    /// The native x86_64 `syscall` instruction (x32 numbers have bit 30 set).
    X86_64,
    /// `int 0x80` / sysenter: the i386 compat ABI.
    I386,
    Other(u32),
}

/// A syscall as seen at an entry or seccomp stop.
#[derive(Debug, Clone, Copy)]
pub struct SyscallInfo {
    pub arch: SyscallArch,
    pub nr: u64,
    pub args: [u64; 6],
}

/// What stopped a task. Stops that come with a stopped task carry a [`Stopped`] in [`Event`].
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    /// syscall-enter-stop: the task is about to run `info`.
    SyscallEntry(SyscallInfo),
    /// syscall-exit-stop: the call returned `rval` (negative errno on failure).
    SyscallExit { rval: i64 },
    /// PTRACE_EVENT_SECCOMP: a seccomp filter returned SECCOMP_RET_TRACE for `info`.
    Seccomp(SyscallInfo),
    /// signal-delivery-stop: `signal` is about to be delivered; resume with it to deliver.
    Signal(i32),
    /// group-stop (PTRACE_EVENT_STOP with a stopping signal): resume with PTRACE_LISTEN.
    GroupStop(i32),
    /// PTRACE_EVENT_STOP with SIGTRAP: the first stop of an auto-attached child, or an interrupt.
    Trap,
    /// PTRACE_EVENT_CLONE/FORK/VFORK: a new task `child` exists and is traced.
    NewTask { child: Tid, kind: NewTaskKind },
    /// PTRACE_EVENT_VFORK_DONE: the vfork child released the parent's memory.
    VforkDone,
    /// PTRACE_EVENT_EXEC: execve succeeded; `former_tid` is the thread that called it.
    Exec { former_tid: Tid },
    /// PTRACE_EVENT_EXIT: the task is about to exit with the given wait status.
    Exiting,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewTaskKind {
    Clone,
    Fork,
    Vfork,
}

/// The outcome of one wait.
#[derive(Debug)]
pub enum Event {
    Stopped(Stopped, Stop),
    /// The task exited with `code` (it is gone, or a zombie for its parent to reap).
    Exited {
        tid: Tid,
        code: i32,
    },
    /// The task was killed by `signal`.
    Killed {
        tid: Tid,
        signal: i32,
        core: bool,
    },
}

/// Proof that a task is in a ptrace-stop: only this handle issues ptrace requests,
/// and resuming consumes it, so "ptrace on a running task" cannot be written.
#[derive(Debug)]
#[must_use = "a stopped task stays stopped until resumed"]
pub struct Stopped {
    tid: Tid,
    /// The registers, once read in this stop (and as last set): one PTRACE_GETREGS a stop.
    /// (Boxed: a stop travels in events, which stay small.)
    regs: Box<std::cell::Cell<Option<Regs>>>,
}

/// How to let a stopped task go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// PTRACE_CONT: run until the next signal, event or seccomp stop.
    Continue,
    /// PTRACE_SYSCALL: also stop at the next syscall entry or exit.
    Syscall,
    /// PTRACE_LISTEN: stay in group-stop but report SIGCONT and new events.
    Listen,
}

fn ptrace_err(op: &'static str, tid: Tid) -> Error {
    Error::Ptrace {
        op,
        tid,
        errno: Errno::last(),
    }
}

impl Stopped {
    /// # Safety contract (not `unsafe`): `tid` must be a tracee of this thread in a ptrace-stop.
    /// The spawn path uses it for the child it has just seized and seen stop.
    pub(crate) fn new(tid: Tid) -> Self {
        Stopped {
            tid,
            regs: Box::new(std::cell::Cell::new(None)),
        }
    }

    pub fn tid(&self) -> Tid {
        self.tid
    }

    pub fn regs(&self) -> Result<Regs> {
        if let Some(regs) = self.regs.get() {
            return Ok(regs);
        }
        // SAFETY: user_regs_struct is plain data; an all-zero value is valid.
        let mut regs: libc::user_regs_struct = unsafe { std::mem::zeroed() };
        // SAFETY: PTRACE_GETREGS writes one user_regs_struct to the pointer we own.
        let rc = unsafe {
            libc::ptrace(
                libc::PTRACE_GETREGS,
                self.tid,
                std::ptr::null_mut::<libc::c_void>(),
                &mut regs as *mut _ as *mut libc::c_void,
            )
        };
        if rc < 0 {
            return Err(ptrace_err("PTRACE_GETREGS", self.tid));
        }
        self.regs.set(Some(Regs(regs)));
        Ok(Regs(regs))
    }

    pub fn set_regs(&self, regs: &Regs) -> Result<()> {
        // SAFETY: PTRACE_SETREGS reads one user_regs_struct from a pointer we own.
        let rc = unsafe {
            libc::ptrace(
                libc::PTRACE_SETREGS,
                self.tid,
                std::ptr::null_mut::<libc::c_void>(),
                &regs.0 as *const _ as *mut libc::c_void,
            )
        };
        if rc < 0 {
            self.regs.set(None);
            return Err(ptrace_err("PTRACE_SETREGS", self.tid));
        }
        self.regs.set(Some(*regs));
        Ok(())
    }

    /// Makes the syscall at this entry/seccomp stop return `value` without running it.
    pub fn skip_syscall(&self, value: i64) -> Result<()> {
        let mut regs = self.regs()?;
        regs.set_syscall(-1);
        regs.set_ret(value);
        self.set_regs(&regs)
    }

    /// Sets the return value at a syscall-exit-stop.
    pub fn set_return(&self, value: i64) -> Result<()> {
        let mut regs = self.regs()?;
        regs.set_ret(value);
        self.set_regs(&regs)
    }

    /// PTRACE_GETSIGINFO at a signal-delivery-stop: the raw 128-byte siginfo.
    pub fn siginfo(&self) -> Result<[u8; 128]> {
        let mut info = [0u8; 128];
        // SAFETY: PTRACE_GETSIGINFO writes one 128-byte siginfo_t into our buffer.
        let rc = unsafe {
            libc::ptrace(
                libc::PTRACE_GETSIGINFO,
                self.tid,
                std::ptr::null_mut::<libc::c_void>(),
                info.as_mut_ptr() as *mut libc::c_void,
            )
        };
        if rc < 0 {
            return Err(ptrace_err("PTRACE_GETSIGINFO", self.tid));
        }
        Ok(info)
    }

    /// PTRACE_SETSIGINFO: the siginfo the task will receive.
    pub fn set_siginfo(&self, info: &[u8; 128]) -> Result<()> {
        // SAFETY: PTRACE_SETSIGINFO reads one 128-byte siginfo_t from our buffer.
        let rc = unsafe {
            libc::ptrace(
                libc::PTRACE_SETSIGINFO,
                self.tid,
                std::ptr::null_mut::<libc::c_void>(),
                info.as_ptr() as *mut libc::c_void,
            )
        };
        if rc < 0 {
            return Err(ptrace_err("PTRACE_SETSIGINFO", self.tid));
        }
        Ok(())
    }

    /// PTRACE_GETSIGMASK: the task's blocked signals (bit N-1 for signal N).
    pub fn sigmask(&self) -> Result<u64> {
        let mut mask: u64 = 0;
        // SAFETY: PTRACE_GETSIGMASK writes one 8-byte kernel sigset_t to a pointer we own.
        let rc = unsafe {
            libc::ptrace(
                libc::PTRACE_GETSIGMASK,
                self.tid,
                std::mem::size_of::<u64>(),
                &mut mask as *mut u64 as *mut libc::c_void,
            )
        };
        if rc < 0 {
            return Err(ptrace_err("PTRACE_GETSIGMASK", self.tid));
        }
        Ok(mask)
    }

    /// PTRACE_SETSIGMASK: the task's blocked signals (the kernel never blocks SIGKILL and
    /// SIGSTOP, whatever the mask says).
    pub fn set_sigmask(&self, mask: u64) -> Result<()> {
        // SAFETY: PTRACE_SETSIGMASK reads one 8-byte kernel sigset_t from our variable.
        let rc = unsafe {
            libc::ptrace(
                libc::PTRACE_SETSIGMASK,
                self.tid,
                std::mem::size_of::<u64>(),
                &mask as *const u64 as *mut libc::c_void,
            )
        };
        if rc < 0 {
            return Err(ptrace_err("PTRACE_SETSIGMASK", self.tid));
        }
        Ok(())
    }

    /// PTRACE_GETEVENTMSG: the new tid of a clone event, the former tid of an exec event.
    fn event_msg(&self) -> Result<u64> {
        let mut msg: libc::c_ulong = 0;
        // SAFETY: PTRACE_GETEVENTMSG writes one unsigned long to a pointer we own.
        let rc = unsafe {
            libc::ptrace(
                libc::PTRACE_GETEVENTMSG,
                self.tid,
                std::ptr::null_mut::<libc::c_void>(),
                &mut msg as *mut _ as *mut libc::c_void,
            )
        };
        if rc < 0 {
            return Err(ptrace_err("PTRACE_GETEVENTMSG", self.tid));
        }
        Ok(msg)
    }

    fn syscall_info(&self) -> Result<RawSyscallInfo> {
        let mut info = RawSyscallInfo::default();
        // SAFETY: the kernel writes at most `size` bytes into `info`, which we own.
        let rc = unsafe {
            libc::ptrace(
                PTRACE_GET_SYSCALL_INFO,
                self.tid,
                std::mem::size_of::<RawSyscallInfo>() as *mut libc::c_void,
                &mut info as *mut _ as *mut libc::c_void,
            )
        };
        if rc < 0 {
            return Err(ptrace_err("PTRACE_GET_SYSCALL_INFO", self.tid));
        }
        Ok(info)
    }

    /// Lets the task go on, delivering `signal` (0 for none) where the stop allows it.
    pub fn resume(self, how: Resume, signal: i32) -> Result<()> {
        let (req, op) = match how {
            Resume::Continue => (libc::PTRACE_CONT, "PTRACE_CONT"),
            Resume::Syscall => (libc::PTRACE_SYSCALL, "PTRACE_SYSCALL"),
            Resume::Listen => (libc::PTRACE_LISTEN, "PTRACE_LISTEN"),
        };
        // SAFETY: resume requests take no pointers; `data` is the signal number.
        let rc = unsafe {
            libc::ptrace(
                req,
                self.tid,
                std::ptr::null_mut::<libc::c_void>(),
                signal as libc::c_long as *mut libc::c_void,
            )
        };
        // ESRCH: the task was killed (SIGKILL) while stopped; its exit is reported by wait.
        if rc < 0 {
            return Err(ptrace_err(op, self.tid));
        }
        Ok(())
    }
}

fn decode_arch(arch: u32) -> SyscallArch {
    match arch {
        AUDIT_ARCH_X86_64 => SyscallArch::X86_64,
        AUDIT_ARCH_I386 => SyscallArch::I386,
        other => SyscallArch::Other(other),
    }
}

/// Stops a running tracee (PTRACE_INTERRUPT): it reports a [`Stop::Trap`] soon, out of
/// any call it was waiting in (which restarts when it is resumed).
pub fn interrupt(tid: Tid) -> Result<()> {
    // SAFETY: PTRACE_INTERRUPT takes no pointers; a tid that is not our tracee fails.
    let rc = unsafe { libc::ptrace(libc::PTRACE_INTERRUPT, tid, 0, 0) };
    if rc < 0 {
        return Err(Error::Ptrace {
            op: "PTRACE_INTERRUPT",
            tid,
            errno: Errno::last(),
        });
    }
    Ok(())
}

/// Waits for the next event of any tracee or child (`waitpid(-1, __WALL)`).
/// `Ok(None)` when there is nothing left to wait for (ECHILD).
/// EINTR is returned as an error so that the caller can look at its signal flags.
pub fn wait() -> Result<Option<Event>> {
    match wait_with(libc::__WALL)? {
        Waited::Event(event) => Ok(Some(event)),
        Waited::NoChildren => Ok(None),
        Waited::Nothing => unreachable!("a blocking wait returned no event"),
    }
}

/// What a non-blocking wait found.
#[derive(Debug)]
pub enum Waited {
    Event(Event),
    /// Nothing has happened yet.
    Nothing,
    /// There is nothing left to wait for (ECHILD).
    NoChildren,
}

/// Like [`wait`], but returns [`Waited::Nothing`] at once when no task has an event.
pub fn wait_nohang() -> Result<Waited> {
    wait_with(libc::__WALL | libc::WNOHANG)
}

/// Waits for the next event of tracee `tid` alone (`waitpid(tid, __WALL)`), leaving every
/// other task's to later waits; EINTR is waited through. `Ok(None)` if `tid` is not a
/// tracee or child of ours (ECHILD).
pub fn wait_for(tid: Tid) -> Result<Option<Event>> {
    loop {
        match wait_on(tid, libc::__WALL) {
            Ok(Waited::Event(event)) => return Ok(Some(event)),
            Ok(_) => return Ok(None),
            Err(Error::Wait(Errno::EINTR)) => continue,
            Err(e) => return Err(e),
        }
    }
}

fn wait_with(flags: libc::c_int) -> Result<Waited> {
    wait_on(-1, flags)
}

fn wait_on(who: Tid, flags: libc::c_int) -> Result<Waited> {
    let mut status: libc::c_int = 0;
    // SAFETY: waitpid writes the status into a c_int we own.
    let tid = unsafe { libc::waitpid(who, &mut status, flags) };
    if tid < 0 {
        let errno = Errno::last();
        return if errno == Errno::ECHILD {
            Ok(Waited::NoChildren)
        } else {
            Err(Error::Wait(errno))
        };
    }
    if tid == 0 {
        return Ok(Waited::Nothing);
    }
    decode(tid, status).map(Waited::Event)
}

fn decode(tid: Tid, status: libc::c_int) -> Result<Event> {
    if libc::WIFEXITED(status) {
        return Ok(Event::Exited {
            tid,
            code: libc::WEXITSTATUS(status),
        });
    }
    if libc::WIFSIGNALED(status) {
        return Ok(Event::Killed {
            tid,
            signal: libc::WTERMSIG(status),
            core: libc::WCOREDUMP(status),
        });
    }
    let stopped = Stopped::new(tid);
    let sig = libc::WSTOPSIG(status);
    let event = (status >> 16) & 0xffff;
    let stop = if sig == (libc::SIGTRAP | 0x80) {
        let info = stopped.syscall_info()?;
        match info.op {
            PTRACE_SYSCALL_INFO_ENTRY => Stop::SyscallEntry(SyscallInfo {
                arch: decode_arch(info.arch),
                nr: info.nr_or_rval,
                args: info.args_or_is_error,
            }),
            PTRACE_SYSCALL_INFO_EXIT => Stop::SyscallExit {
                rval: info.nr_or_rval as i64,
            },
            // A syscall stop the kernel cannot describe (should not happen): treat as exit.
            _ => Stop::SyscallExit {
                rval: stopped.regs()?.ret(),
            },
        }
    } else if event == 0 {
        Stop::Signal(sig)
    } else {
        match event {
            libc::PTRACE_EVENT_STOP => {
                if sig == libc::SIGTRAP {
                    Stop::Trap
                } else {
                    Stop::GroupStop(sig)
                }
            }
            libc::PTRACE_EVENT_CLONE | libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK => {
                let kind = match event {
                    libc::PTRACE_EVENT_CLONE => NewTaskKind::Clone,
                    libc::PTRACE_EVENT_FORK => NewTaskKind::Fork,
                    _ => NewTaskKind::Vfork,
                };
                Stop::NewTask {
                    child: stopped.event_msg()? as Tid,
                    kind,
                }
            }
            libc::PTRACE_EVENT_VFORK_DONE => Stop::VforkDone,
            libc::PTRACE_EVENT_EXEC => Stop::Exec {
                former_tid: stopped.event_msg()? as Tid,
            },
            libc::PTRACE_EVENT_EXIT => Stop::Exiting,
            libc::PTRACE_EVENT_SECCOMP => {
                // Only native x86_64 calls stop here (foreign ABIs trap, see `seccomp`): the
                // registers, which the sentry reads anyway, describe the call.
                let regs = stopped.regs()?;
                Stop::Seccomp(SyscallInfo {
                    arch: SyscallArch::X86_64,
                    nr: regs.syscall() as u64,
                    args: std::array::from_fn(|i| regs.arg(i)),
                })
            }
            _ => Stop::Trap,
        }
    };
    Ok(Event::Stopped(stopped, stop))
}

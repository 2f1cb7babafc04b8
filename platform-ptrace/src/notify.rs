//! Installing a host fd into a stopped task, with seccomp user notification.
//!
//! Every sandbox task carries a tiny seccomp filter (installed before its first
//! instruction) that returns SECCOMP_RET_USER_NOTIF for one syscall number with a
//! 128-bit cookie in its first two arguments, and allows everything else. To hand a task
//! an fd, the tracer rewrites the call the task is stopped in into that request
//! ([`Listener::prepare`]) and resumes it; the task blocks in the filter, and the tracer
//! answers with SECCOMP_IOCTL_NOTIF_ADDFD + SECCOMP_ADDFD_FLAG_SEND ([`Listener::install`]),
//! which places the fd in the task's table and returns its number as the call's result in
//! one atomic step. Nothing is added to the task's fd table for the mechanism itself, and
//! the task never holds a channel to the sentry.
//!
//! The cookie is random per sandbox and never stays in a task's registers: the tracer
//! restores the original registers at the call's exit stop.
//!
//! The same filter carries the fast path: calls the tracer answers whole (a value, an
//! errno, memory it writes, an fd it installs) return SECCOMP_RET_USER_NOTIF there too, so
//! they reach the tracer as notifications on the same listener, without a ptrace stop
//! ([`listener_filter`], [`Listener::answer`], [`Listener::continue_call`]). A task gets
//! this filter and the main one as one program (see [`crate::spawn`]): where this filter
//! allows a call (every call of another ABI among them), the main filter decides it. With `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` ([`Listener::set_sync_wakeup`])
//! the kernel hands the CPU straight between the task and the tracer, so a round trip costs
//! little more than two context switches, on any CPU.

use crate::seccomp::Filter;
use crate::{Regs, Stopped, Tid};
use bpf::tree::Guard;
use bpf::{arg_hi, arg_lo, jump, ret, stmt, JEQ_K, LD_W_ABS, OFFSET_NR};
use nix::errno::Errno;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// The syscall number of an install request: beyond every real x86_64 number.
pub const INSTALL_NR: u64 = 0x3ff;

const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;
const SECCOMP_IOCTL_NOTIF_RECV: libc::c_ulong = 0xc050_2100;
const SECCOMP_IOCTL_NOTIF_SEND: libc::c_ulong = 0xc018_2101;
const SECCOMP_IOCTL_NOTIF_ADDFD: libc::c_ulong = 0x4018_2103;
const SECCOMP_IOCTL_NOTIF_SET_FLAGS: libc::c_ulong = 0x4008_2104;
const SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP: u64 = 1;
const SECCOMP_USER_NOTIF_FLAG_CONTINUE: u32 = 1;
const SECCOMP_ADDFD_FLAG_SETFD: u32 = 1 << 0;
const SECCOMP_ADDFD_FLAG_SEND: u32 = 1 << 1;
/// Filter flags for the install filter: return a listener (SECCOMP_FILTER_FLAG_NEW_LISTENER).
/// Any signal interrupts a waiting task, as it would a blocking open: the request is gone
/// (ADDFD answers ENOENT), the call fails with ERESTARTSYS and is restarted or gives EINTR
/// by the task's handler. WAIT_KILLABLE_RECV would hold a received request against all but
/// fatal signals, and so a FIFO's open (whose fd may take long) against ^C; an ordinary
/// install is answered microseconds after the request arrives.
pub const INSTALL_FILTER_FLAGS: libc::c_ulong = 1 << 3;

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct SeccompData {
    nr: i32,
    arch: u32,
    instruction_pointer: u64,
    args: [u64; 6],
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct SeccompNotif {
    id: u64,
    pid: u32,
    flags: u32,
    data: SeccompData,
}

#[repr(C)]
#[derive(Default)]
struct SeccompNotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct SeccompNotifAddfd {
    id: u64,
    flags: u32,
    srcfd: u32,
    newfd: u32,
    newfd_flags: u32,
}

/// The random cookie of one sandbox.
pub type Cookie = [u64; 2];

/// A fresh random cookie.
pub fn new_cookie() -> Cookie {
    let mut bytes = [0u8; 16];
    // SAFETY: getrandom writes at most 16 bytes into our buffer.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    assert_eq!(n, 16, "getrandom failed");
    [
        u64::from_ne_bytes(bytes[..8].try_into().expect("8 bytes")),
        u64::from_ne_bytes(bytes[8..].try_into().expect("8 bytes")),
    ]
}

/// The install filter for `cookie`.
pub fn install_filter(cookie: Cookie) -> Filter {
    listener_filter(cookie, &[], &[])
}

/// The install filter for `cookie`, which also notifies the native calls numbered in
/// `notified` (unless one of `guards` holds for the call: then the main filter decides it).
/// Calls of another ABI are left to the main filter, which traps them.
pub fn listener_filter(cookie: Cookie, notified: &[u32], guards: &[Guard]) -> Filter {
    let allow = libc::SECCOMP_RET_ALLOW;
    let mut code = bpf::arch_check(allow, allow).to_vec();
    // The install request: each check falls through on a match and jumps to the ALLOW
    // that ends the block otherwise.
    let words = [
        (arg_lo(0), cookie[0] as u32),
        (arg_hi(0), (cookie[0] >> 32) as u32),
        (arg_lo(1), cookie[1] as u32),
        (arg_hi(1), (cookie[1] >> 32) as u32),
    ];
    let block_len = (words.len() * 2 + 2) as u8;
    code.push(jump(JEQ_K, INSTALL_NR as u32, 0, block_len));
    for (i, (offset, value)) in words.iter().enumerate() {
        let remaining = (words.len() - i - 1) as u8;
        code.push(stmt(LD_W_ABS, *offset));
        // Skip the remaining checks (2 instructions each) and the USER_NOTIF return.
        code.push(jump(JEQ_K, *value, 0, remaining * 2 + 1));
    }
    code.push(ret(SECCOMP_RET_USER_NOTIF));
    code.push(ret(allow));
    code.push(stmt(LD_W_ABS, OFFSET_NR));
    code.extend(bpf::tree::compile(
        notified,
        guards,
        SECCOMP_RET_USER_NOTIF,
        allow,
    ));
    Filter { instructions: code }
}

/// Whether `filter` (a [`listener_filter`]) notifies the native call `nr` with `args`.
pub fn notifies(filter: &Filter, nr: i64, args: &[u64; 6]) -> bool {
    u32::try_from(nr).is_ok_and(|nr| {
        filter.evaluate_call(bpf::AUDIT_ARCH_X86_64, nr, args) == SECCOMP_RET_USER_NOTIF
    })
}

/// Whether this kernel has `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` (Linux 6.6): a thread of
/// the tracer installs a filter that notifies nothing on itself, asks for the flag on its
/// listener and exits (seccomp filters belong to the thread that installed them).
pub fn sync_wakeup_supported() -> bool {
    // The thread starts on the caller's CPU, with the affinity it inherits from the caller
    // for that moment: placed on the other CPU (halted, or busy with the janitor's start),
    // it took up to 2.5 ms to run and be joined, against 0.15 ms here.
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: an all-zero cpu_set_t is an empty set.
    let mut own: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: sched_getcpu takes no arguments; the sets are ours and `size` bytes long.
    let pinned = unsafe {
        let cpu = libc::sched_getcpu();
        let mut here: libc::cpu_set_t = std::mem::zeroed();
        cpu >= 0 && libc::sched_getaffinity(0, size, &mut own) == 0 && {
            libc::CPU_SET(cpu as usize, &mut here);
            libc::sched_setaffinity(0, size, &here) == 0
        }
    };
    let probe = std::thread::spawn(probe_sync_wakeup_here);
    if pinned {
        // SAFETY: the set is ours and `size` bytes long.
        unsafe { libc::sched_setaffinity(0, size, &own) };
    }
    probe.join().unwrap_or(false)
}

/// Whether this kernel has `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP`, asked on the calling
/// thread: it installs a filter that notifies nothing (and sets no_new_privs), so only a
/// thread or process that ends right after may ask.
pub fn probe_sync_wakeup_here() -> bool {
    let filter = listener_filter([0, 0], &[], &[]);
    let Ok(fd) = bpf::install(&filter.instructions, INSTALL_FILTER_FLAGS) else {
        return false;
    };
    // SAFETY: the listener was just returned to this thread and is ours alone.
    let listener = Listener::new(unsafe { OwnedFd::from_raw_fd(fd) }, [0, 0]);
    listener.set_sync_wakeup().is_ok()
}

/// A request the tracer received from a task.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    pub id: u64,
    pub tid: Tid,
    /// Whether it is an install request carrying the sandbox's cookie.
    pub is_install: bool,
    /// The call, as the task made it (a notified call's number and arguments).
    pub nr: u64,
    pub args: [u64; 6],
    /// AUDIT_ARCH_* of the call.
    pub arch: u32,
}

impl Request {
    /// A call of the native x86_64 ABI (not `int 0x80`, not x32).
    pub fn is_native(&self) -> bool {
        self.arch == bpf::AUDIT_ARCH_X86_64 && self.nr & u64::from(bpf::X32_SYSCALL_BIT) == 0
    }
}

/// The tracer's end of the install filter.
pub struct Listener {
    fd: OwnedFd,
    cookie: Cookie,
    placement: Placement,
    /// Whether no task uses the filter any more, as poll says with POLLHUP.
    unused: bool,
}

impl Listener {
    pub fn new(fd: OwnedFd, cookie: Cookie) -> Self {
        Listener {
            fd,
            cookie,
            placement: Placement::default(),
            unused: false,
        }
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.fd.as_fd()
    }

    /// Whether no task uses the filter any more: nothing can come on the listener again
    /// (a task gets the filter only from one that has it), and a poll reports POLLHUP on it
    /// at once, for ever.
    pub fn unused(&self) -> bool {
        self.unused
    }

    /// Records that poll reported POLLHUP on the listener without POLLIN.
    pub fn set_unused(&mut self) {
        self.unused = true;
    }

    /// Turns the call `stopped` is in (at an entry or seccomp stop) into an install
    /// request. Returns the registers to put back at the call's exit stop.
    pub fn prepare(&self, stopped: &Stopped) -> crate::Result<Regs> {
        let saved = stopped.regs()?;
        let mut regs = saved;
        regs.set_syscall(INSTALL_NR as i64);
        regs.set_arg(0, self.cookie[0]);
        regs.set_arg(1, self.cookie[1]);
        stopped.set_regs(&regs)?;
        Ok(saved)
    }

    /// Receives one pending request (the listener is readable).
    pub fn receive(&self) -> Result<Request, Errno> {
        let mut notif = SeccompNotif::default();
        // SAFETY: the ioctl writes one seccomp_notif into memory we own.
        let rc = unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                SECCOMP_IOCTL_NOTIF_RECV,
                &mut notif as *mut SeccompNotif,
            )
        };
        if rc < 0 {
            return Err(Errno::last());
        }
        let d = notif.data;
        Ok(Request {
            id: notif.id,
            tid: notif.pid as Tid,
            is_install: d.nr as u64 == INSTALL_NR
                && d.args[0] == self.cookie[0]
                && d.args[1] == self.cookie[1],
            nr: d.nr as u32 as u64,
            args: d.args,
            arch: d.arch,
        })
    }

    /// Asks the kernel to switch straight between a notifying task and the tracer.
    pub fn set_sync_wakeup(&self) -> Result<(), Errno> {
        // SAFETY: the ioctl takes a plain integer.
        let rc = unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                SECCOMP_IOCTL_NOTIF_SET_FLAGS,
                SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP,
            )
        };
        if rc < 0 {
            return Err(Errno::last());
        }
        Ok(())
    }

    /// Completes a notified call with `value` (a negative errno on failure). ENOENT: the
    /// task is no longer waiting (a signal interrupted it, or it died).
    pub fn answer(&self, id: u64, value: i64) -> Result<(), Errno> {
        let (val, error) = if (-4095..0).contains(&value) {
            (0, value as i32)
        } else {
            (value, 0)
        };
        self.send(&SeccompNotifResp {
            id,
            val,
            error,
            flags: 0,
        })
    }

    /// Lets a notified call run in the kernel with the task's own registers.
    pub fn continue_call(&self, id: u64) -> Result<(), Errno> {
        self.send(&SeccompNotifResp {
            id,
            val: 0,
            error: 0,
            flags: SECCOMP_USER_NOTIF_FLAG_CONTINUE,
        })
    }

    fn send(&self, resp: &SeccompNotifResp) -> Result<(), Errno> {
        // SAFETY: the ioctl reads one seccomp_notif_resp from memory we own.
        let rc = unsafe { libc::ioctl(self.fd.as_raw_fd(), SECCOMP_IOCTL_NOTIF_SEND, resp) };
        if rc < 0 {
            return Err(Errno::last());
        }
        Ok(())
    }

    /// Places `fd` in the requesting task's table (at number `at`, or the lowest free
    /// number as open(2) does) and completes its call with that number.
    /// `tid` is the requesting task (the notification's pid).
    pub fn install(
        &self,
        id: u64,
        tid: i32,
        fd: BorrowedFd,
        cloexec: bool,
        at: Option<u32>,
    ) -> Result<i32, Errno> {
        let addfd = SeccompNotifAddfd {
            id,
            flags: SECCOMP_ADDFD_FLAG_SEND | at.map_or(0, |_| SECCOMP_ADDFD_FLAG_SETFD),
            srcfd: fd.as_raw_fd() as u32,
            newfd: at.unwrap_or(0),
            newfd_flags: if cloexec { libc::O_CLOEXEC as u32 } else { 0 },
        };
        let rc = self.placement.run(tid, || {
            // SAFETY: the ioctl reads one seccomp_notif_addfd from memory we own.
            unsafe { libc::ioctl(self.fd.as_raw_fd(), SECCOMP_IOCTL_NOTIF_ADDFD, &addfd) }
        });
        if rc < 0 {
            return Err(Errno::last());
        }
        Ok(rc)
    }

    /// Places `fd` in the requesting task's table at the lowest free number, which it
    /// returns, and leaves the call waiting for its answer (ADDFD without SEND): the tracer
    /// completes it, or interrupts the task to take the call over at a ptrace stop.
    pub fn place(&self, id: u64, fd: BorrowedFd, cloexec: bool) -> Result<i32, Errno> {
        let addfd = SeccompNotifAddfd {
            id,
            flags: 0,
            srcfd: fd.as_raw_fd() as u32,
            newfd: 0,
            newfd_flags: if cloexec { libc::O_CLOEXEC as u32 } else { 0 },
        };
        // SAFETY: the ioctl reads one seccomp_notif_addfd from memory we own.
        let rc = unsafe { libc::ioctl(self.fd.as_raw_fd(), SECCOMP_IOCTL_NOTIF_ADDFD, &addfd) };
        if rc < 0 {
            return Err(Errno::last());
        }
        Ok(rc)
    }

    /// Completes a request with an error (for requests that are not the sentry's).
    pub fn refuse(&self, id: u64, errno: Errno) {
        let _ = self.answer(id, -(errno as i64));
    }
}

/// Where an ADDFD with SEND runs. The kernel wakes the waiting task to take the fd, and the
/// task then wakes the caller, both with ordinary wake-ups: on an otherwise idle machine
/// each picks the idle CPU, and waking an idle (halted) vCPU costs tens of microseconds, so
/// an open took twice as long as on one CPU. Held to the caller's CPU for the call (the
/// task slept there: the synchronous wake-up brought the caller to it), both wake-ups stay
/// local, at the price of four affinity calls, which is a loss when the other CPUs are
/// busy anyway. So both ways are timed as they run, and the faster on average is used,
/// with the other tried every [`Placement::EXPLORE`]th call to follow the machine's load.
#[derive(Default)]
struct Placement {
    /// Moving averages of the call's duration (ns) held to one CPU and left free; 0: none yet.
    held_ns: std::cell::Cell<u64>,
    free_ns: std::cell::Cell<u64>,
    calls: std::cell::Cell<u32>,
}

impl Placement {
    const EXPLORE: u32 = 16;

    /// Whether the next call is held to one CPU: each way once first, then the faster,
    /// and the other every EXPLORE-th call.
    fn hold_next(&self) -> bool {
        let n = self.calls.get().wrapping_add(1);
        self.calls.set(n);
        let (held, free) = (self.held_ns.get(), self.free_ns.get());
        let prefer_held = held == 0 || (free != 0 && held <= free);
        prefer_held != n.is_multiple_of(Self::EXPLORE)
    }

    fn run(&self, tid: i32, f: impl FnOnce() -> libc::c_int) -> libc::c_int {
        let hold = self.hold_next();
        let start = std::time::Instant::now();
        let (rc, timed) = if hold {
            on_this_cpu(tid, f)
        } else {
            (f(), true)
        };
        if !timed {
            // Nothing to hold (one CPU allowed): leave the task free from now on, but for
            // a look every EXPLORE-th call in case the affinity changes.
            self.held_ns.set(u64::MAX);
        } else if rc >= 0 {
            let took = start.elapsed().as_nanos().min(u64::MAX as u128) as u64;
            let avg = if hold { &self.held_ns } else { &self.free_ns };
            let old = avg.get();
            avg.set(if old == 0 || old == u64::MAX {
                took
            } else {
                old - old / 8 + took / 8
            });
        }
        rc
    }
}

/// Runs `f` with the task `tid` and the calling thread both on the CPU the caller runs on,
/// and puts each affinity back afterwards. The second value is false when nothing was
/// held (one CPU allowed, or the affinities could not be read): such a call times nothing.
fn on_this_cpu(tid: i32, f: impl FnOnce() -> libc::c_int) -> (libc::c_int, bool) {
    let Some(held) = HeldCpu::hold(tid) else {
        return (f(), false);
    };
    let rc = f();
    held.release(true);
    (rc, true)
}

/// A task and the calling thread held to the CPU the caller runs on, so that every wake-up
/// between them (a ptrace stop and its resumption, an fd install) is a local one: on this
/// VM waking a halted vCPU costs tens of microseconds, a local wake-up a few. Dropping it
/// lets the caller go again once no other hold keeps it; [`HeldCpu::release`] puts the
/// task's own affinity back too.
pub struct HeldCpu {
    tid: i32,
    task_set: libc::cpu_set_t,
    /// The CPU held to.
    cpu: usize,
}

thread_local! {
    /// How many holds keep the calling thread on its CPU, and its affinity before the first.
    static CALLER_HELD: std::cell::Cell<(u32, Option<libc::cpu_set_t>)> =
        const { std::cell::Cell::new((0, None)) };
}

impl HeldCpu {
    /// None when there is nothing to hold: one CPU allowed to the task, or the affinities
    /// could not be read or set.
    pub fn hold(tid: i32) -> Option<HeldCpu> {
        // SAFETY: sched_getcpu takes no arguments.
        let cpu = unsafe { libc::sched_getcpu() };
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: an all-zero cpu_set_t is an empty set.
        let mut task_set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: the set is ours and `size` bytes long; the id is a plain integer.
        let known = cpu >= 0
            && unsafe {
                libc::sched_getaffinity(tid, size, &mut task_set) == 0
                    && libc::CPU_ISSET(cpu as usize, &task_set)
                    && libc::CPU_COUNT(&task_set) > 1
            };
        if !known {
            return None;
        }
        let (holds, saved) = CALLER_HELD.get();
        let saved = match (holds, saved) {
            (0, _) => {
                // SAFETY: an all-zero cpu_set_t is an empty set.
                let mut own: libc::cpu_set_t = unsafe { std::mem::zeroed() };
                // SAFETY: the set is ours and `size` bytes long.
                if unsafe { libc::sched_getaffinity(0, size, &mut own) } != 0 {
                    return None;
                }
                own
            }
            (_, Some(saved)) => saved,
            (_, None) => return None,
        };
        // SAFETY: an all-zero cpu_set_t is an empty set.
        let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `cpu` is a CPU number sched_getcpu gave.
        unsafe { libc::CPU_SET(cpu as usize, &mut one) };
        // SAFETY: the set is ours; a call that fails leaves the affinity as it was.
        if unsafe { libc::sched_setaffinity(tid, size, &one) } != 0 {
            return None;
        }
        if holds == 0 {
            // SAFETY: as above.
            unsafe { libc::sched_setaffinity(0, size, &one) };
        }
        CALLER_HELD.set((holds + 1, Some(saved)));
        Some(HeldCpu {
            tid,
            task_set,
            cpu: cpu as usize,
        })
    }

    /// A task that is held already because it was made (fork, clone) by a held task: it
    /// inherited the one-CPU affinity, and `task_set` (its creator's own) is what it gets
    /// back. None when the caller is not held (nothing was inherited from a hold).
    pub fn inherited(tid: i32, task_set: libc::cpu_set_t) -> Option<HeldCpu> {
        let (holds, saved) = CALLER_HELD.get();
        // SAFETY: sched_getcpu takes no arguments.
        let cpu = unsafe { libc::sched_getcpu() };
        if holds == 0 || cpu < 0 {
            return None;
        }
        CALLER_HELD.set((holds + 1, saved));
        Some(HeldCpu {
            tid,
            task_set,
            cpu: cpu as usize,
        })
    }

    /// The same hold of the same task, known by another id (a thread that exec'd takes its
    /// leader's).
    pub fn renamed(mut self, tid: i32) -> HeldCpu {
        self.tid = tid;
        self
    }

    /// The task's own affinity, which it gets back.
    pub fn task_set(&self) -> libc::cpu_set_t {
        self.task_set
    }

    /// Puts back the task's affinity when `task_alive` (a task that is gone may have been
    /// reaped, and its id be another process's by now), and lets the caller go.
    pub fn release(self, task_alive: bool) {
        if task_alive {
            let size = std::mem::size_of::<libc::cpu_set_t>();
            // SAFETY: the set is ours; a call that fails leaves the affinity as it was.
            unsafe { libc::sched_setaffinity(self.tid, size, &self.task_set) };
        }
    }

    /// As [`HeldCpu::release`] of a live task that may be running, moved off the CPU it was
    /// held to first when it may run elsewhere: widening an affinity moves nothing, and a
    /// task that computes from now on would share that CPU with the sentry (and with any
    /// other task let go there) until the scheduler balances the load, which on this VM can
    /// take tens of milliseconds.
    pub fn release_elsewhere(self) {
        let size = std::mem::size_of::<libc::cpu_set_t>();
        let mut elsewhere = self.task_set;
        // SAFETY: `cpu` is a CPU number sched_getcpu gave, below CPU_SETSIZE.
        let others = unsafe {
            libc::CPU_CLR(self.cpu, &mut elsewhere);
            libc::CPU_COUNT(&elsewhere)
        };
        if others > 0 {
            // SAFETY: the set is ours; a call that fails leaves the affinity as it was.
            unsafe { libc::sched_setaffinity(self.tid, size, &elsewhere) };
        }
        // SAFETY: as above.
        unsafe { libc::sched_setaffinity(self.tid, size, &self.task_set) };
    }
}

impl std::fmt::Debug for HeldCpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldCpu").field("tid", &self.tid).finish()
    }
}

impl Drop for HeldCpu {
    fn drop(&mut self) {
        let (holds, saved) = CALLER_HELD.get();
        let holds = holds.saturating_sub(1);
        if let (0, Some(own)) = (holds, saved) {
            let size = std::mem::size_of::<libc::cpu_set_t>();
            // SAFETY: the set is ours; a call that fails leaves the affinity as it was.
            unsafe { libc::sched_setaffinity(0, size, &own) };
            CALLER_HELD.set((0, None));
        } else {
            CALLER_HELD.set((holds, saved));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_tries_both_ways_then_keeps_the_faster_and_looks_again() {
        let p = Placement::default();
        assert!(p.hold_next(), "first held");
        p.held_ns.set(30_000);
        assert!(!p.hold_next(), "then free, never timed yet");
        p.free_ns.set(60_000);
        let held: Vec<bool> = (3..=Placement::EXPLORE).map(|_| p.hold_next()).collect();
        assert!(held[..held.len() - 1].iter().all(|&h| h), "the faster way");
        assert!(
            !held[held.len() - 1],
            "the other way on the EXPLORE-th call"
        );
        p.held_ns.set(90_000);
        assert!(!p.hold_next(), "free once it is the faster");
        p.held_ns.set(u64::MAX);
        p.free_ns.set(60_000);
        assert!(!p.hold_next(), "free when nothing could be held");
    }

    fn eval(filter: &Filter, data: &SeccompData) -> u32 {
        filter.evaluate_call(data.arch, data.nr as u32, &data.args)
    }

    #[test]
    fn only_the_cookie_request_notifies() {
        let cookie = [0x1122_3344_5566_7788, 0x99aa_bbcc_ddee_ff00];
        let filter = install_filter(cookie);
        let mut data = SeccompData {
            nr: INSTALL_NR as i32,
            arch: 0xc000_003e,
            instruction_pointer: 0,
            args: [cookie[0], cookie[1], 0, 0, 0, 0],
        };
        assert_eq!(eval(&filter, &data), SECCOMP_RET_USER_NOTIF);
        data.args[1] ^= 1 << 40;
        assert_eq!(eval(&filter, &data), libc::SECCOMP_RET_ALLOW);
        data.args[1] = cookie[1];
        data.nr = 2;
        assert_eq!(eval(&filter, &data), libc::SECCOMP_RET_ALLOW);
    }

    #[test]
    fn notified_calls_notify_unless_a_guard_holds() {
        let cookie = [7, 9];
        let guards = [Guard {
            nr: 2,
            arg: 1,
            test: bpf::tree::ArgTest::AnyBit(libc::O_EXCL as u32),
        }];
        let filter = listener_filter(cookie, &[2, 39], &guards);
        let call = |arch: u32, nr: i32, args: [u64; 6]| {
            let data = SeccompData {
                nr,
                arch,
                instruction_pointer: 0,
                args,
            };
            eval(&filter, &data)
        };
        let native = bpf::AUDIT_ARCH_X86_64;
        let (notif, allow) = (SECCOMP_RET_USER_NOTIF, libc::SECCOMP_RET_ALLOW);
        assert_eq!(call(native, 39, [0; 6]), notif);
        assert_eq!(
            call(native, 2, [0, libc::O_CREAT as u64, 0, 0, 0, 0]),
            notif
        );
        let exclusive = (libc::O_CREAT | libc::O_EXCL) as u64;
        assert_eq!(call(native, 2, [0, exclusive, 0, 0, 0, 0]), allow);
        assert_eq!(call(native, 0, [0; 6]), allow);
        assert_eq!(call(native, INSTALL_NR as i32, [7, 9, 0, 0, 0, 0]), notif);
        assert_eq!(call(native, INSTALL_NR as i32, [7, 8, 0, 0, 0, 0]), allow);
        // Another ABI's number 39 is not getpid: the main filter traps it.
        assert_eq!(call(0x4000_0003, 39, [0; 6]), allow);
    }

    fn affinity(tid: i32) -> Vec<usize> {
        // SAFETY: an all-zero cpu_set_t is an empty set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: the set is ours and `size` bytes long.
        assert_eq!(unsafe { libc::sched_getaffinity(tid, size, &mut set) }, 0);
        (0..libc::CPU_SETSIZE as usize)
            // SAFETY: `cpu` is below CPU_SETSIZE.
            .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
            .collect()
    }

    /// Two holds at once (two tasks exec'ing): the caller goes free only when the last is
    /// dropped, with the affinity it had before the first; each task gets its own back.
    #[test]
    fn holds_nest_and_each_affinity_comes_back() {
        if affinity(0).len() < 2 {
            return; // nothing to hold on one CPU
        }
        let parked = test_support::ParkedThreads::new(2);
        let (a, b) = (parked.tids[0], parked.tids[1]);
        let (own_before, a_before, b_before) = (affinity(0), affinity(a), affinity(b));
        let first = HeldCpu::hold(a).expect("held");
        let cpu = affinity(0);
        assert_eq!(cpu.len(), 1, "the caller is held to one CPU");
        assert_eq!(affinity(a), cpu, "the task is held with it");
        let second = HeldCpu::hold(b).expect("a second task held");
        assert_eq!(affinity(b), cpu);
        first.release(true);
        assert_eq!(affinity(a), a_before);
        assert_eq!(affinity(0), cpu, "still held by the second hold");
        second.release(true);
        assert_eq!(affinity(b), b_before);
        assert_eq!(affinity(0), own_before);
    }
}

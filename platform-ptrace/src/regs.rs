//! The x86_64 register view: syscall number, arguments, return value, pointers.
//! Kept small so that an aarch64 twin can follow.

/// The general-purpose registers of a stopped task.
#[derive(Clone, Copy)]
pub struct Regs(pub(crate) libc::user_regs_struct);

impl Regs {
    /// The syscall number as the kernel saw it at entry (`orig_rax`).
    pub fn syscall(&self) -> i64 {
        self.0.orig_rax as i64
    }

    /// Replaces the syscall about to run; -1 makes the kernel skip it.
    pub fn set_syscall(&mut self, nr: i64) {
        self.0.orig_rax = nr as u64;
    }

    /// Argument `i` (0..6) of the x86_64 syscall ABI.
    pub fn arg(&self, i: usize) -> u64 {
        let r = &self.0;
        match i {
            0 => r.rdi,
            1 => r.rsi,
            2 => r.rdx,
            3 => r.r10,
            4 => r.r8,
            5 => r.r9,
            _ => panic!("syscall argument index {i} out of range"),
        }
    }

    pub fn set_arg(&mut self, i: usize, value: u64) {
        let r = &mut self.0;
        match i {
            0 => r.rdi = value,
            1 => r.rsi = value,
            2 => r.rdx = value,
            3 => r.r10 = value,
            4 => r.r8 = value,
            5 => r.r9 = value,
            _ => panic!("syscall argument index {i} out of range"),
        }
    }

    /// The return value register (`rax`).
    pub fn ret(&self) -> i64 {
        self.0.rax as i64
    }

    pub fn set_ret(&mut self, value: i64) {
        self.0.rax = value as u64;
    }

    pub fn ip(&self) -> u64 {
        self.0.rip
    }

    pub fn set_ip(&mut self, ip: u64) {
        self.0.rip = ip;
    }

    pub fn sp(&self) -> u64 {
        self.0.rsp
    }

    pub fn set_sp(&mut self, sp: u64) {
        self.0.rsp = sp;
    }

    /// Whether the task runs 64-bit code (its code segment is __USER_CS, not the 32-bit
    /// __USER32_CS).
    pub fn is_64bit_code(&self) -> bool {
        self.0.cs == 0x33
    }
}

impl Default for Regs {
    fn default() -> Self {
        // SAFETY: user_regs_struct is plain integers; all-zero is a valid value.
        Regs(unsafe { std::mem::zeroed() })
    }
}

impl std::fmt::Debug for Regs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Regs")
            .field("syscall", &self.syscall())
            .field("ip", &format_args!("{:#x}", self.ip()))
            .field("ret", &self.ret())
            .finish_non_exhaustive()
    }
}

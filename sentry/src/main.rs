//! `sentry`: a user-space kernel for untrusted Linux programs, on the ptrace platform.

mod cli;
mod config;
mod events;
mod host;
mod kernel;
#[cfg(test)]
mod layering;
mod proc;
mod sandbox;
mod strace;
mod supervisor;
mod syscalls;

use std::process::ExitCode;

fn main() -> ExitCode {
    // The gofer is a separate process of the same binary (no second executable to find);
    // it must start before any thread exists.
    if std::env::args().nth(1).as_deref() == Some(sandbox::GOFER_ARG) {
        return ExitCode::from(sandbox::gofer_process(std::env::args().skip(2).collect()));
    }
    cli::main()
}

//! The gofer process: `gofer --socket FD --mount FD:rw|ro ... [--ppid PID]`.
//!
//! Started by the sentry (see `gofer::Client::spawn`) with the socket and one
//! `O_PATH | O_DIRECTORY` fd per mount already open. It ties its life to its parent, confines
//! itself with seccomp, and serves requests until the socket closes.

fn main() -> std::process::ExitCode {
    gofer::process::gofer_main(std::env::args().skip(1))
}

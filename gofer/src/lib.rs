//! The gofer: the sentry's file server.
//!
//! - [`protocol`]: the typed, versioned wire protocol (requests, responses, frames).
//! - [`client`]: [`Client`], which spawns a gofer process and calls it (used by the sentry).
//! - [`server`]: the request handlers the `gofer` binary runs.
//! - [`seccomp`]: the gofer's own seccomp-BPF filter.
//! - [`process`]: the gofer process's main ([`process::gofer_main`]).
//!
//! See README.md for the protocol and the confinement.

pub mod client;
pub mod process;
pub mod protocol;
pub mod seccomp;
pub mod server;
pub mod sys;

pub use client::{Client, Mount, Starting};
pub use nix::errno::Errno;
pub use protocol::{StatFs, Timespec};

//! `kill ID [SIGNAL] [--all]`: SIGNAL is a number or a name (`TERM`, `SIGTERM`).

use crate::sandbox::container::{self, Error};
use std::path::Path;

#[derive(clap::Args, Debug)]
pub struct KillArgs {
    /// Signal every process of the container, not only its first.
    #[arg(long, short = 'a')]
    all: bool,
    /// The container's id.
    id: String,
    /// The signal (default SIGTERM).
    #[arg(default_value = "SIGTERM")]
    signal: String,
}

pub fn run(root: &Path, args: KillArgs) -> Result<(), Error> {
    let signal = parse_signal(&args.signal)?;
    container::kill(root, &args.id, signal, args.all)
}

/// `9`, `KILL`, `SIGKILL` (any case) → 9.
pub fn parse_signal(text: &str) -> Result<i32, Error> {
    let bad = || Error(format!("unknown signal '{text}'"));
    if let Ok(n) = text.parse::<i32>() {
        return nix::sys::signal::Signal::try_from(n)
            .map(|s| s as i32)
            .or_else(|_| {
                // Real-time signals have no name in nix.
                (libc::SIGRTMIN()..=libc::SIGRTMAX())
                    .contains(&n)
                    .then_some(n)
                    .ok_or_else(bad)
            });
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<nix::sys::signal::Signal>()
        .map(|s| s as i32)
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_number_and_name() {
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("sigterm").unwrap(), 15);
        assert_eq!(parse_signal("SIGUSR1").unwrap(), libc::SIGUSR1);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("0x").is_err());
        assert!(parse_signal("999").is_err());
    }
}

//! Round-trip cost of gofer calls against the same calls made directly.
//!
//! `cargo run --release -p gofer --example latency [ITERATIONS]` (needs target/x86_64-unknown-linux-gnu/release/gofer:
//! `cargo build --release -p gofer` first). Prints ns per call, median of 5 runs.

use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::Instant;

use gofer::{Client, Mount};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn time(iters: u32, mut f: impl FnMut()) -> f64 {
    let runs: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    median(runs)
}

fn main() {
    let iters: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let exe = std::env::current_exe().unwrap();
    let gofer_exe = exe
        .parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("gofer"))
        .unwrap();
    let dir: PathBuf = std::env::temp_dir().join(format!("gofer-latency-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("a/b")).unwrap();
    std::fs::write(dir.join("a/b/file"), b"x").unwrap();
    let mut c = Client::spawn(
        &gofer_exe,
        &[Mount {
            host_path: dir.clone(),
            read_only: false,
        }],
    )
    .unwrap();

    let cpath = CString::new(dir.join("a/b/file").into_os_string().into_encoded_bytes()).unwrap();
    let native_stat = time(iters, || {
        // SAFETY: all-zero stat; NUL-terminated path.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        assert_eq!(unsafe { libc::stat(cpath.as_ptr(), &mut st) }, 0);
    });
    let native_open = time(iters, || {
        // SAFETY: NUL-terminated path; the fd is closed at once.
        let fd = unsafe { libc::open(cpath.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        assert!(fd >= 0);
        // SAFETY: closing the fd just opened.
        unsafe { libc::close(fd) };
    });
    let gofer_stat = time(iters, || {
        c.stat(0, b"a/b/file", true).unwrap();
    });
    let gofer_lstat = time(iters, || {
        c.stat(0, b"a/b/file", false).unwrap();
    });
    let gofer_open = time(iters, || {
        let fd = c.open(0, b"a/b/file", libc::O_RDONLY, 0).unwrap();
        assert!(fd.as_raw_fd() >= 0);
    });
    println!("iterations: {iters} x 5 runs (median)");
    println!(
        "stat       native {native_stat:8.0} ns   gofer {gofer_stat:8.0} ns   ratio {:5.1}",
        gofer_stat / native_stat
    );
    println!(
        "lstat      native {native_stat:8.0} ns   gofer {gofer_lstat:8.0} ns   ratio {:5.1}",
        gofer_lstat / native_stat
    );
    println!(
        "open+close native {native_open:8.0} ns   gofer {gofer_open:8.0} ns   ratio {:5.1}",
        gofer_open / native_open
    );
    drop(c);
    std::fs::remove_dir_all(&dir).unwrap();
}

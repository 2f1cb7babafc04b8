//! A task can delay only itself: an open that waits (here for a file lease another task holds)
//! leaves the sentry and its gofer serving every other task. Before opens of leased files were
//! taken off the gofer, the gofer waited out the lease (up to lease-break-time, 45 s) and the
//! whole sandbox with it.

use std::os::unix::fs::PermissionsExt;
use test_support::{variant_tests, Variant};

/// The task owns the file as the sandbox sees it; on the host a root gofer's files belong
/// to root, and the sentry sets the lease for the task.
fn lease_delays_only_its_caller(v: Variant) {
    let dir = v.scratch_path("lease");
    std::fs::create_dir_all(&dir).expect("create the lease directory");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777))
        .expect("chmod the lease directory");
    let run = v.run(
        &[],
        &[
            v.program("lease_wait"),
            dir.to_str().expect("UTF-8").to_string(),
        ],
    );
    let _ = std::fs::remove_dir_all(&dir);
    run.expect_program_ok("lease_wait done");
}

variant_tests!(lease_delays_only_its_caller);

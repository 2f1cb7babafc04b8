//! Socket addresses the sentry checked are never read again by the kernel, and no check holds
//! only for the socket an fd number named at the time. `escape_sock_race` flips msg_name, a
//! sockaddr's path and the fd number (dup2) from one thread while another sends and connects.
//! Host sockets outside the sandbox's root, bound by the test and writable by the tasks' host
//! uid, must receive nothing: the verdict is read on the host. Before the sentry made such
//! sends itself, a datagram reached the host socket within 20,000 rounds (under
//! --platform=seccomp). Both platforms, as the invoking user and as uid 65534.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixDatagram, UnixListener};
use test_support::{variant_tests, Variant};

const ROUNDS: &str = "20000";

fn socket_address_races_reach_no_host_socket(v: Variant) {
    let (scratch, rootfs) =
        test_support::Scratch::escape_root("attack-sockets", "escape_sock_race", "sock_race");
    let outside = scratch.dir.join("outside");
    std::fs::create_dir_all(&outside).expect("mkdir outside");
    std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let dgram_path = outside.join("dgram.sock");
    let stream_path = outside.join("stream.sock");
    let dgram = UnixDatagram::bind(&dgram_path).expect("bind the canary datagram socket");
    dgram.set_nonblocking(true).expect("non-blocking");
    let stream = UnixListener::bind(&stream_path).expect("bind the canary listener");
    stream.set_nonblocking(true).expect("non-blocking");
    // Writable by the sandbox's host uid, so that only the sentry stands in the way.
    for path in [&dgram_path, &stream_path] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777))
            .expect("chmod a canary socket");
    }
    let mut cmd = v.sentry_command();
    cmd.arg("run")
        .arg(v.platform_flag())
        .arg(&rootfs)
        .arg("/sock_race")
        .arg(&dgram_path)
        .arg(&stream_path)
        .arg(ROUNDS);
    let run = test_support::run_to_end(cmd, test_support::RUN_DEADLINE);
    let mut buf = [0u8; 16];
    assert!(
        dgram.recv(&mut buf).is_err(),
        "a datagram reached the host socket\n{}",
        run.describe()
    );
    assert!(
        stream.accept().is_err(),
        "a connection reached the host listener\n{}",
        run.describe()
    );
    run.expect_race_finished(ROUNDS);
}

variant_tests!(socket_address_races_reach_no_host_socket);

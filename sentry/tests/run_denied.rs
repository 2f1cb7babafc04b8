//! What the sandbox may not do (issue 2, points 4 and 11): foreign ABIs, io_uring, ptrace,
//! process_vm_*, bpf, perf_event_open, kexec, modules, file handles, clone3, CLONE_UNTRACED,
//! seccomp filters of its own; `--net=none` and `--net=host`. Each test runs on both platforms,
//! as the invoking user and as uid 65534.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;
use test_support::{variant_tests, Variant};

variant_tests!(denied_calls, denied_calls_are_logged, net_none, net_host);

fn denied_calls(v: Variant) {
    // The program checks each errno itself; CLONE_UNTRACED children compare the nodename they
    // see with this hostname (an untraced task would see the host's).
    let host = "sentry-denied-probe";
    v.run(
        &[&format!("--hostname={host}")],
        &[v.program("denied"), host.to_string()],
    )
    .expect_program_ok("denied done");
}

fn denied_calls_are_logged(v: Variant) {
    // At --log info every denied call leaves a line on stderr; foreign ABIs warn by default.
    let host = "sentry-denied-probe";
    let run = v.run(
        &["--log=info", &format!("--hostname={host}")],
        &[v.program("denied"), host.to_string()],
    );
    run.expect_program_ok("denied done");
    for name in [
        "int 0x80",
        "x32",
        "io_uring_setup",
        "ptrace",
        "process_vm_readv",
        "bpf",
        "perf_event_open",
        "kexec_load",
        "init_module",
        "open_by_handle_at",
        "clone3",
        "seccomp",
    ] {
        assert!(
            run.stderr.contains(name),
            "no trace event naming {name}\n{}",
            run.describe()
        );
    }
}

fn net_none(v: Variant) {
    // --net=none is the default; say it once explicitly, too.
    v.run(&[], &[v.program("net"), "none".to_string()])
        .expect_program_ok("net none done");
    v.run(&["--net=none"], &[v.program("net"), "none".to_string()])
        .expect_program_ok("net none done");
}

fn net_host(v: Variant) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen on 127.0.0.1");
    let port = listener.local_addr().expect("local address").port();
    // The test's side of the conversation, in a thread: one connection, one line each way.
    let (tx, rx) = mpsc::channel();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept the sandbox's connection");
        let mut line = String::new();
        BufReader::new(&stream)
            .read_line(&mut line)
            .expect("read from the sandbox");
        (&stream)
            .write_all(b"hello from the host\n")
            .expect("answer the sandbox");
        let _ = tx.send(line);
    });
    let run = v.run(
        &["--net=host"],
        &[v.program("net"), "host".to_string(), port.to_string()],
    );
    run.expect_program_ok("net host done");
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the server thread got a line");
    assert_eq!(line, "hello from the sandbox\n");
    server.join().expect("server thread");
}

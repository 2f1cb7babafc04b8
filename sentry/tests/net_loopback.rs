//! The sandbox's own loopback network (`--net none`, the default): TCP on 127.0.0.1 and ::1
//! between processes of one sandbox, with real programs (Python's asyncio, http.server and
//! urllib from the host-library rootfs). Two sandboxes use the same port at once without
//! meeting, a listener on the host's loopback is out of reach (checked on the host), and a
//! port published with `--publish` is reached from the host's 127.0.0.1.
//! Both platforms, as the invoking user and as uid 65534.

use std::net::TcpListener;
use test_support::{variant_tests, Variant};

fn python(v: Variant, program: &str) -> std::process::Command {
    python_with(v, &[], program)
}

fn python_with(v: Variant, options: &[&str], program: &str) -> std::process::Command {
    let mut cmd = v.sentry_command();
    cmd.arg("run")
        .arg(v.platform_flag())
        .args(options)
        .args(["-e", "PATH=/usr/bin:/bin", "-e", "LC_ALL=C"])
        .arg(test_support::hostlibs_rootfs())
        .args(["/usr/bin/python3", "-u", "-c", program]);
    cmd
}

const ECHO: &str = r#"
import asyncio, errno, socket
async def handle(r, w):
    w.write((await r.read(100)).upper()); await w.drain(); w.close()
async def main():
    srv = await asyncio.start_server(handle, '127.0.0.1', 0)
    port = srv.sockets[0].getsockname()[1]
    r, w = await asyncio.open_connection('127.0.0.1', port)
    w.write(b'hello'); await w.drain()
    print('echo', (await r.read(100)).decode())
    print('peer', w.get_extra_info('peername')[0])
    w.close(); srv.close(); await srv.wait_closed()
asyncio.run(main())
print('interfaces', [l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]])
for target, name in ((('10.1.2.3', 80), 'off-loopback'), (('127.0.0.1', 1), 'closed port')):
    try:
        socket.create_connection(target, timeout=5)
    except OSError as e:
        print(name, errno.errorcode[e.errno])
"#;

fn asyncio_echo_over_loopback(v: Variant) {
    let run = test_support::run_to_end(python(v, ECHO), test_support::RUN_DEADLINE);
    run.expect_code(0);
    for want in [
        "echo HELLO",
        "peer 127.0.0.1",
        "interfaces ['lo']",
        "off-loopback ENETUNREACH",
        "closed port ECONNREFUSED",
    ] {
        assert!(
            run.stdout.lines().any(|l| l == want),
            "missing '{want}'\n{}",
            run.describe()
        );
    }
}

const HTTP: &str = r#"
import subprocess, sys, urllib.request
server = subprocess.Popen([sys.executable, '-u', '-m', 'http.server', '8000', '--bind', '127.0.0.1',
                           '--directory', '/etc'], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
print('server:', server.stdout.readline().decode().split(' (')[0])
body = urllib.request.urlopen('http://127.0.0.1:8000/passwd').read().decode()
print('fetched root' if body.startswith('root:') else 'fetched something else')
server.terminate(); server.wait()
"#;

fn http_server_fetched_in_the_same_sandbox(v: Variant) {
    let run = test_support::run_to_end(python(v, HTTP), test_support::RUN_DEADLINE);
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("server: Serving HTTP on 127.0.0.1 port 8000")
            && run.stdout.contains("fetched root"),
        "{}",
        run.describe()
    );
}

const HOLD_PORT: &str = r#"
import socket
s = socket.socket(); s.bind(('127.0.0.1', 8765)); s.listen()
print('holding 8765')
s.accept()
"#;

const USE_PORT: &str = r#"
import socket
s = socket.socket(); s.bind(('127.0.0.1', 8765)); s.listen()
c = socket.create_connection(('127.0.0.1', 8765)); a, _ = s.accept()
c.sendall(b'mine'); print('second sandbox got', a.recv(4).decode())
"#;

fn two_sandboxes_use_one_port(v: Variant) {
    let mut first = test_support::Live::spawn(python(v, HOLD_PORT));
    first.wait_line("holding 8765");
    let second = test_support::run_to_end(python(v, USE_PORT), test_support::RUN_DEADLINE);
    first.signal(libc::SIGTERM);
    let first = first.finish();
    second.expect_code(0);
    assert!(
        second.stdout.contains("second sandbox got mine"),
        "{}\nfirst:\n{}",
        second.describe(),
        first.describe()
    );
}

fn the_hosts_loopback_is_out_of_reach(v: Variant) {
    let host = TcpListener::bind("127.0.0.1:0").expect("a listener on the host's loopback");
    host.set_nonblocking(true).expect("non-blocking");
    let port = host.local_addr().expect("its address").port();
    let program = format!(
        "import socket, errno\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=5)\n    print('reached')\nexcept OSError as e:\n    print('refused', errno.errorcode[e.errno])\n"
    );
    let run = test_support::run_to_end(python(v, &program), test_support::RUN_DEADLINE);
    assert!(
        host.accept().is_err(),
        "the sandbox reached the host's listener\n{}",
        run.describe()
    );
    run.expect_code(0);
    assert!(
        run.stdout.contains("refused ECONNREFUSED"),
        "{}",
        run.describe()
    );
}

const SERVE_ONCE: &str = r#"
import socket
s = socket.socket(); s.bind(('127.0.0.1', 8080)); s.listen()
print('listening')
a, peer = s.accept()
a.sendall(a.recv(100).upper() + (' from %s' % peer[0]).encode())
a.close()
"#;

fn a_published_port_is_reached_from_the_host(v: Variant) {
    use std::io::{Read, Write};
    // A free port of the host's, for the sentry to listen on.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let publish = format!("{port}:8080");
    let mut sandbox =
        test_support::Live::spawn(python_with(v, &["--publish", &publish], SERVE_ONCE));
    sandbox.wait_line("listening");
    let mut host = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    host.write_all(b"ping").expect("send");
    let mut reply = String::new();
    host.read_to_string(&mut reply).expect("the reply");
    let run = sandbox.finish();
    run.expect_code(0);
    assert_eq!(reply, "PING from 127.0.0.1", "{}", run.describe());
}

const UDP: &str = r#"
import socket
srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); srv.bind(('127.0.0.1', 0))
cli = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
cli.sendto(b'ping', srv.getsockname())
data, sender = srv.recvfrom(100)
print('server got', data.decode(), sender == cli.getsockname())
srv.sendto(data.upper(), sender)
data, replier = cli.recvfrom(100)
print('client got', data.decode(), replier == srv.getsockname())
"#;

fn udp_datagrams_name_their_senders(v: Variant) {
    let run = test_support::run_to_end(python(v, UDP), test_support::RUN_DEADLINE);
    run.expect_code(0);
    assert!(
        run.stdout.contains("server got ping True") && run.stdout.contains("client got PING True"),
        "{}",
        run.describe()
    );
}

/// lo as glibc finds it (netlink), and a datagram received with recvmsg and its name.
const INTERFACES: &str = r#"
import socket
print('interfaces', socket.if_nameindex())
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.bind(('127.0.0.1', 0))
b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); b.bind(('127.0.0.1', 0))
b.sendmsg([b'pi', b'ng'], [], 0, a.getsockname())
data, anc, flags, sender = a.recvmsg(100)
print('recvmsg', data, sender == b.getsockname(), flags)
"#;

fn lo_through_netlink_and_recvmsg_names(v: Variant) {
    let run = test_support::run_to_end(python(v, INTERFACES), test_support::RUN_DEADLINE);
    run.expect_code(0);
    assert_eq!(
        run.stdout,
        "interfaces [(1, 'lo')]\nrecvmsg b'ping' True 0\n",
        "{}",
        run.describe()
    );
}

variant_tests!(
    lo_through_netlink_and_recvmsg_names,
    udp_datagrams_name_their_senders,
    a_published_port_is_reached_from_the_host,
    asyncio_echo_over_loopback,
    http_server_fetched_in_the_same_sandbox,
    two_sandboxes_use_one_port,
    the_hosts_loopback_is_out_of_reach
);

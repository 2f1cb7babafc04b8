//! `--publish HOST_PORT:SANDBOX_PORT`: a TCP port of the sandbox's loopback reachable from
//! the host's 127.0.0.1, as engines publish a container's port. The sentry listens on the
//! host side and, for each connection, connects to the sandbox's listener (its socket file
//! in the sentry's loopback directory) and relays bytes both ways on two threads of its own.
//! The sandbox sees the connection come from 127.0.0.1 and the host client's port.

use crate::kernel::loopback::Published;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// The relays from the sandbox to host clients still copying: when the sandbox ends, the
/// sentry waits for them, so that what the sandbox wrote before it ended (a server's last
/// reply) reaches the client before the sentry's exit closes the connection.
#[derive(Clone, Default)]
pub struct Relays(Arc<(Mutex<usize>, Condvar)>);

impl Relays {
    fn begin(&self) {
        *self.0 .0.lock().unwrap_or_else(|e| e.into_inner()) += 1;
    }

    fn end(&self) {
        *self.0 .0.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        self.0 .1.notify_all();
    }

    /// Waits until every relay from the sandbox has copied all it will get (each ends when
    /// the sandbox's end of its connection closes, at the latest with the sandbox's last
    /// process), or `limit` passed.
    pub fn finish(&self, limit: Duration) {
        let (count, ended) = &*self.0;
        let guard = count.lock().unwrap_or_else(|e| e.into_inner());
        let _ = ended.wait_timeout_while(guard, limit, |n| *n > 0);
    }
}

/// A `--publish` whose host side is bound; `start` serves it.
pub struct Publisher {
    listener: TcpListener,
    sandbox_port: u16,
}

impl Publisher {
    /// Binds 127.0.0.1:`host_port` on the host: a clear error if it is taken.
    pub fn bind(host_port: u16, sandbox_port: u16) -> Result<Publisher, String> {
        let listener = TcpListener::bind(("127.0.0.1", host_port)).map_err(|e| {
            format!("--publish {host_port}:{sandbox_port}: 127.0.0.1:{host_port}: {e}")
        })?;
        Ok(Publisher {
            listener,
            sandbox_port,
        })
    }

    /// Accepts host connections for as long as the sentry lives, each relayed to the sandbox.
    pub fn start(
        self,
        socket_file: PathBuf,
        published: Published,
        relays: Relays,
    ) -> std::io::Result<()> {
        std::thread::Builder::new()
            .name("sentry-publish".into())
            .spawn(move || {
                for host in self.listener.incoming().flatten() {
                    let Ok(peer) = host.peer_addr() else {
                        continue;
                    };
                    if let Err(e) = relay(host, peer, &socket_file, &published, &relays) {
                        tracing::debug!(
                            "sentry: --publish to sandbox port {}: {e}",
                            self.sandbox_port
                        );
                    }
                }
            })?;
        Ok(())
    }
}

/// Connects to the sandbox's listener and copies both ways until each side ends.
fn relay(
    host: TcpStream,
    peer: SocketAddr,
    socket_file: &std::path::Path,
    published: &Published,
    relays: &Relays,
) -> std::io::Result<()> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType, UnixAddr};
    use std::os::fd::AsRawFd;
    let sock = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    let ino = nix::sys::stat::fstat(sock.as_raw_fd())?.st_ino;
    // Before the sandbox can accept it: the sentry names the peer from this.
    published
        .lock()
        .map_err(|_| std::io::Error::other("published table poisoned"))?
        .insert(ino, peer);
    let to = UnixAddr::new(socket_file)?;
    if let Err(e) = nix::sys::socket::connect(sock.as_raw_fd(), &to) {
        if let Ok(mut table) = published.lock() {
            table.remove(&ino);
        }
        return Err(e.into());
    }
    let inside = UnixStream::from(sock);
    let (host_in, inside_out) = (host.try_clone()?, inside.try_clone()?);
    std::thread::Builder::new()
        .name("sentry-relay".into())
        .spawn(move || copy(host_in, inside_out))?;
    relays.begin();
    let relays = relays.clone();
    let spawned = std::thread::Builder::new()
        .name("sentry-relay".into())
        .spawn({
            let relays = relays.clone();
            move || {
                copy(inside, host);
                relays.end();
            }
        });
    if spawned.is_err() {
        relays.end();
    }
    spawned.map(|_| ())
}

/// Copies `from` into `to` until `from` ends, then ends `to`'s writing half.
fn copy(mut from: impl Read + Half, mut to: impl Write + Half) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    to.end_writing();
    from.end_reading();
}

/// Half-closing a stream.
trait Half {
    fn end_writing(&self);
    fn end_reading(&self);
}

impl Half for TcpStream {
    fn end_writing(&self) {
        let _ = self.shutdown(Shutdown::Write);
    }
    fn end_reading(&self) {
        let _ = self.shutdown(Shutdown::Read);
    }
}

impl Half for UnixStream {
    fn end_writing(&self) {
        let _ = self.shutdown(Shutdown::Write);
    }
    fn end_reading(&self) {
        let _ = self.shutdown(Shutdown::Read);
    }
}

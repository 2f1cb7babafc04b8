//! The sandbox's loopback network (`--net none`): the tables of its TCP sockets. Each is a
//! host AF_UNIX stream socket (so reads, writes, poll, epoll, splice and shutdown stay in the
//! host kernel), known here by its inode, with the inet addresses the program asked for. A
//! bound port is a socket file in a directory of the sentry's, outside every mount: only
//! the sentry connects to it, on the task's behalf, so nothing outside the sandbox — not the
//! host's loopback, not another sandbox — is ever reached.

use hashbrown::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

/// The ports Linux hands out when a program asks for none (ip_local_port_range).
pub const EPHEMERAL: std::ops::RangeInclusive<u16> = 32768..=60999;

/// The two protocols of the loopback; each has its own ports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Proto {
    #[default]
    Tcp,
    Udp,
}

/// One TCP or UDP socket of the sandbox.
#[derive(Debug, Clone, Default)]
pub struct InetSocket {
    /// AF_INET or AF_INET6.
    pub family: i32,
    pub proto: Proto,
    pub local: Option<SocketAddr>,
    pub peer: Option<SocketAddr>,
    pub listening: bool,
    /// Options of the IP and TCP levels, which the AF_UNIX socket does not have:
    /// (level, name) → value.
    pub options: HashMap<(i32, i32), i32>,
}

/// Connections `--publish` relays into the sandbox: the inode of the sentry's end of each,
/// and the host client's address, which the sandbox sees as the peer. Filled by the relay
/// threads, read when the sandbox accepts.
pub type Published = std::sync::Arc<std::sync::Mutex<HashMap<u64, SocketAddr>>>;

#[derive(Debug, Default)]
pub struct Loopback {
    /// Connections relayed from the host (`--publish`).
    pub published: Published,
    /// Where bound ports live as socket files (in the sentry's scratch directory), made at
    /// the first bind.
    pub dir: super::LazyDir,
    /// Sockets by the inode of their AF_UNIX socket.
    pub sockets: HashMap<u64, InetSocket>,
    /// Ports in use, by the inode of the socket holding each.
    pub ports: HashMap<(Proto, u16), u64>,
    next_ephemeral: u16,
}

impl Loopback {
    pub fn new(dir: PathBuf) -> Loopback {
        Loopback {
            dir: super::LazyDir::new(dir, 0o700),
            next_ephemeral: *EPHEMERAL.start(),
            ..Loopback::default()
        }
    }

    /// The socket file of a bound port.
    pub fn path_of(&self, proto: Proto, port: u16) -> PathBuf {
        let name = match proto {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        };
        self.dir.path().join(format!("{name}-{port}"))
    }

    /// The port of a socket file of the loopback's (for a datagram's sender).
    pub fn port_of(&self, path: &std::path::Path) -> Option<u16> {
        let name = path.strip_prefix(self.dir.path()).ok()?.to_str()?;
        name.strip_prefix("udp-")
            .or(name.strip_prefix("tcp-"))?
            .parse()
            .ok()
    }

    /// A free ephemeral port (`in_use` tells whether a holder is still alive); None when
    /// every one is taken.
    pub fn ephemeral(&mut self, proto: Proto, in_use: impl Fn(u64) -> bool) -> Option<u16> {
        let span = (EPHEMERAL.end() - EPHEMERAL.start()) as usize + 1;
        for _ in 0..span {
            let port = self.next_ephemeral;
            self.next_ephemeral = if port == *EPHEMERAL.end() {
                *EPHEMERAL.start()
            } else {
                port + 1
            };
            if self.free(proto, port, &in_use) {
                return Some(port);
            }
        }
        None
    }

    /// Whether `port` is free; a holder that no longer exists gives its port back.
    pub fn free(&mut self, proto: Proto, port: u16, in_use: impl Fn(u64) -> bool) -> bool {
        match self.ports.get(&(proto, port)) {
            Some(&ino) if in_use(ino) && self.sockets.contains_key(&ino) => false,
            Some(_) => {
                self.ports.remove(&(proto, port));
                true
            }
            None => true,
        }
    }
}

/// Whether a program may use `ip` in the sandbox: loopback and the unspecified address (as
/// in a network namespace that has only `lo`), in either family.
pub fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_unspecified(),
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_local(IpAddr::V4(v4)))
        }
    }
}

/// `addr` as a socket of `family` shows it (IPv4 addresses mapped into IPv6 for an
/// AF_INET6 socket).
pub fn shown_as(addr: SocketAddr, family: i32) -> SocketAddr {
    match (addr, family) {
        (SocketAddr::V4(v4), libc::AF_INET6) => {
            SocketAddr::new(IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port())
        }
        (SocketAddr::V6(v6), libc::AF_INET) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), v6.port()),
        },
        _ => addr,
    }
}

/// The loopback address of a family.
pub fn loopback_of(family: i32) -> IpAddr {
    if family == libc::AF_INET6 {
        IpAddr::V6(Ipv6Addr::LOCALHOST)
    } else {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    }
}

/// The unspecified address of a family (0.0.0.0 or ::).
pub fn unspecified_of(family: i32) -> IpAddr {
    if family == libc::AF_INET6 {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    }
}

/// Parses a sockaddr_in or sockaddr_in6.
pub fn parse(bytes: &[u8]) -> Option<SocketAddr> {
    let family = u16::from_ne_bytes(bytes.get(..2)?.try_into().ok()?) as i32;
    let port = u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?);
    match family {
        libc::AF_INET if bytes.len() >= 16 => {
            let ip: [u8; 4] = bytes[4..8].try_into().ok()?;
            Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port))
        }
        libc::AF_INET6 if bytes.len() >= 24 => {
            let ip: [u8; 16] = bytes[8..24].try_into().ok()?;
            Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port))
        }
        _ => None,
    }
}

/// The sockaddr_in or sockaddr_in6 of `addr`.
pub fn encode(addr: SocketAddr) -> Vec<u8> {
    match addr {
        SocketAddr::V4(v4) => {
            let mut out = vec![0u8; 16];
            out[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            out[2..4].copy_from_slice(&v4.port().to_be_bytes());
            out[4..8].copy_from_slice(&v4.ip().octets());
            out
        }
        SocketAddr::V6(v6) => {
            let mut out = vec![0u8; 28];
            out[..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
            out[2..4].copy_from_slice(&v6.port().to_be_bytes());
            out[8..24].copy_from_slice(&v6.ip().octets());
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_and_only_local_ones_are_allowed() {
        for text in [
            "127.0.0.1:8080",
            "[::1]:443",
            "0.0.0.0:0",
            "[::ffff:127.0.0.2]:9",
        ] {
            let addr: SocketAddr = text.parse().unwrap();
            assert_eq!(parse(&encode(addr)), Some(addr));
            assert!(is_local(addr.ip()), "{text}");
        }
        for text in ["10.0.0.1:80", "[2001:db8::1]:80", "[::ffff:8.8.8.8]:53"] {
            let addr: SocketAddr = text.parse().unwrap();
            assert!(!is_local(addr.ip()), "{text}");
        }
        let v4: SocketAddr = "127.0.0.1:5".parse().unwrap();
        assert_eq!(
            shown_as(v4, libc::AF_INET6),
            "[::ffff:127.0.0.1]:5".parse().unwrap()
        );
        assert_eq!(shown_as(shown_as(v4, libc::AF_INET6), libc::AF_INET), v4);
    }

    #[test]
    fn ephemeral_ports_skip_live_holders_and_reuse_dead_ones() {
        let mut lo = Loopback::new(PathBuf::from("/nonexistent"));
        let first = lo.ephemeral(Proto::Tcp, |_| true).unwrap();
        lo.ports.insert((Proto::Tcp, first), 7);
        lo.sockets.insert(7, InetSocket::default());
        lo.next_ephemeral = first;
        let second = lo.ephemeral(Proto::Tcp, |_| true).unwrap();
        assert_ne!(first, second);
        // UDP has ports of its own.
        lo.next_ephemeral = first;
        assert_eq!(lo.ephemeral(Proto::Udp, |_| true), Some(first));
        // The holder is gone: its port is free again.
        lo.next_ephemeral = first;
        assert_eq!(lo.ephemeral(Proto::Tcp, |_| false), Some(first));
        let file = lo.path_of(Proto::Udp, 53);
        assert_eq!(lo.port_of(&file), Some(53));
    }
}

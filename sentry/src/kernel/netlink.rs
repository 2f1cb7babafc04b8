//! The sandbox's NETLINK_ROUTE under `--net none`: enough of rtnetlink for programs to find
//! `lo` as in a network namespace that has only it (glibc's `if_nameindex` and `getifaddrs`,
//! `ip link`, `ip addr`). A netlink socket of the sandbox is one end of an AF_UNIX datagram
//! pair; the sentry keeps the other end and queues the answers to each request there.
//! Requests that would change the network fail with EPERM; other queries are answered
//! with nothing (a dump) or EOPNOTSUPP.

use hashbrown::HashMap;
use std::os::fd::OwnedFd;

pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const RTM_NEWLINK: u16 = 16;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_GETADDR: u16 = 22;
const NLM_F_MULTI: u16 = 0x2;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const IFLA_ADDRESS: u16 = 1;
const IFLA_BROADCAST: u16 = 2;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_TXQLEN: u16 = 13;
const IFLA_OPERSTATE: u16 = 16;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFA_F_PERMANENT: u8 = 0x80;
const RT_SCOPE_HOST: u8 = 254;
const ARPHRD_LOOPBACK: u16 = 772;
/// `lo`'s index and flags (UP, LOOPBACK, RUNNING, LOWER_UP), as the interface ioctls say.
pub const LO_INDEX: i32 = 1;
const LO_FLAGS: u32 = 0x1 | 0x8 | 0x40 | 0x1_0000;
const LO_MTU: u32 = 65536;

/// One netlink socket of the sandbox.
#[derive(Debug)]
pub struct NetlinkSocket {
    /// Its port id (nl_pid): what getsockname gives and replies carry.
    pub port_id: u32,
    /// The sentry's end of the pair: answers written here reach the task's end.
    pub peer: OwnedFd,
}

/// The sandbox's netlink sockets, by the inode of the task's end.
#[derive(Debug, Default)]
pub struct Netlink {
    pub sockets: HashMap<u64, NetlinkSocket>,
    next_port: u32,
}

impl Netlink {
    /// A port id for a new socket (the kernel gives the creator's tgid first; any unique
    /// positive number will do, since the sandbox has no other netlink peer).
    pub fn new_port(&mut self) -> u32 {
        self.next_port += 1;
        0x4000_0000 + self.next_port
    }
}

fn push_attr(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    let len = 4 + data.len();
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(data);
    out.resize(out.len() + (4 - len % 4) % 4, 0);
}

/// A whole netlink message: header and `payload`.
fn message(kind: u16, flags: u16, seq: u32, port_id: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + payload.len());
    out.extend_from_slice(&((16 + payload.len()) as u32).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&port_id.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize(out.len() + (4 - out.len() % 4) % 4, 0);
    out
}

/// RTM_NEWLINK for `lo`.
fn lo_link() -> Vec<u8> {
    let mut p = Vec::new();
    p.push(libc::AF_UNSPEC as u8);
    p.push(0);
    p.extend_from_slice(&ARPHRD_LOOPBACK.to_ne_bytes());
    p.extend_from_slice(&LO_INDEX.to_ne_bytes());
    p.extend_from_slice(&LO_FLAGS.to_ne_bytes());
    p.extend_from_slice(&0u32.to_ne_bytes());
    push_attr(&mut p, IFLA_IFNAME, b"lo\0");
    push_attr(&mut p, IFLA_MTU, &LO_MTU.to_ne_bytes());
    push_attr(&mut p, IFLA_TXQLEN, &1000u32.to_ne_bytes());
    push_attr(&mut p, IFLA_OPERSTATE, &[0]); // IF_OPER_UNKNOWN, as lo reports
    push_attr(&mut p, IFLA_ADDRESS, &[0; 6]);
    push_attr(&mut p, IFLA_BROADCAST, &[0; 6]);
    p
}

/// RTM_NEWADDR for 127.0.0.1/8 or ::1/128 on `lo`.
fn lo_address(family: i32) -> Vec<u8> {
    let (prefix, addr): (u8, &[u8]) = if family == libc::AF_INET {
        (8, &[127, 0, 0, 1])
    } else {
        (128, &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    };
    let mut p = vec![family as u8, prefix, IFA_F_PERMANENT, RT_SCOPE_HOST];
    p.extend_from_slice(&(LO_INDEX as u32).to_ne_bytes());
    push_attr(&mut p, IFA_ADDRESS, addr);
    if family == libc::AF_INET {
        push_attr(&mut p, IFA_LOCAL, addr);
        push_attr(&mut p, IFA_LABEL, b"lo\0");
    }
    p
}

fn error(errno: i32, request: &[u8], seq: u32, port_id: u32) -> Vec<u8> {
    let mut p = (-errno).to_ne_bytes().to_vec();
    p.extend_from_slice(&request[..16.min(request.len())]);
    p.resize(4 + 16, 0);
    message(NLMSG_ERROR, 0, seq, port_id, &p)
}

/// The datagrams that answer `request` (one or more netlink messages) for the socket
/// `port_id`: a dump's messages, then NLMSG_DONE apart, as the kernel sends them.
pub fn answer(request: &[u8], port_id: u32) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = request;
    while rest.len() >= 16 {
        let len = u32::from_ne_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
        if len < 16 || len > rest.len() {
            break;
        }
        let msg = &rest[..len];
        let kind = u16::from_ne_bytes([msg[4], msg[5]]);
        let flags = u16::from_ne_bytes([msg[6], msg[7]]);
        let seq = u32::from_ne_bytes(msg[8..12].try_into().expect("4 bytes"));
        let body = &msg[16..];
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        // A dump's messages in one datagram (if any), then NLMSG_DONE in another.
        let reply = |out: &mut Vec<Vec<u8>>, parts: Vec<Vec<u8>>| {
            if dump {
                if !parts.is_empty() {
                    out.push(parts.concat());
                }
                out.push(message(
                    NLMSG_DONE,
                    NLM_F_MULTI,
                    seq,
                    port_id,
                    &0i32.to_ne_bytes(),
                ));
            } else {
                out.extend(parts);
            }
        };
        match kind {
            RTM_GETLINK if dump => reply(
                &mut out,
                vec![message(RTM_NEWLINK, NLM_F_MULTI, seq, port_id, &lo_link())],
            ),
            RTM_GETLINK => {
                let index = body
                    .get(4..8)
                    .map_or(0, |b| i32::from_ne_bytes(b.try_into().expect("4 bytes")));
                let by_name = find_attr(body.get(16..).unwrap_or(&[]), IFLA_IFNAME);
                let is_lo = index == LO_INDEX
                    || (index == 0
                        && by_name.is_some_and(|n| n.split(|&b| b == 0).next() == Some(b"lo")));
                if is_lo {
                    reply(
                        &mut out,
                        vec![message(RTM_NEWLINK, 0, seq, port_id, &lo_link())],
                    );
                    if flags & NLM_F_ACK != 0 {
                        out.push(error(0, msg, seq, port_id));
                    }
                } else {
                    out.push(error(libc::ENODEV, msg, seq, port_id));
                }
            }
            RTM_GETADDR if dump => {
                let family = body.first().copied().unwrap_or(0) as i32;
                let mut parts = Vec::new();
                for f in [libc::AF_INET, libc::AF_INET6] {
                    if family == libc::AF_UNSPEC || family == f {
                        parts.push(message(
                            RTM_NEWADDR,
                            NLM_F_MULTI,
                            seq,
                            port_id,
                            &lo_address(f),
                        ));
                    }
                }
                reply(&mut out, parts);
            }
            // Any other dump has nothing of the sandbox's to list (routes, neighbours, …).
            _ if dump => reply(&mut out, Vec::new()),
            // RTM_NEW*, RTM_DEL*, RTM_SET*: the sandbox may not change its network.
            16..=99 if kind % 4 != 2 => out.push(error(libc::EPERM, msg, seq, port_id)),
            _ => out.push(error(libc::EOPNOTSUPP, msg, seq, port_id)),
        }
        rest = &rest[((len + 3) & !3).min(rest.len())..];
    }
    out
}

/// The data of the first attribute of `kind` in `attrs`.
fn find_attr(mut attrs: &[u8], kind: u16) -> Option<&[u8]> {
    while attrs.len() >= 4 {
        let len = u16::from_ne_bytes([attrs[0], attrs[1]]) as usize;
        let k = u16::from_ne_bytes([attrs[2], attrs[3]]);
        if len < 4 || len > attrs.len() {
            return None;
        }
        if k == kind {
            return Some(&attrs[4..len]);
        }
        attrs = &attrs[((len + 3) & !3).min(attrs.len())..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(kind: u16, flags: u16, payload: &[u8]) -> Vec<u8> {
        message(kind, flags | 1, 7, 0, payload)
    }

    fn kinds(datagram: &[u8]) -> Vec<u16> {
        let mut out = Vec::new();
        let mut rest = datagram;
        while rest.len() >= 16 {
            let len = u32::from_ne_bytes(rest[0..4].try_into().unwrap()) as usize;
            out.push(u16::from_ne_bytes([rest[4], rest[5]]));
            rest = &rest[len..];
        }
        out
    }

    #[test]
    fn a_link_dump_lists_lo_then_done() {
        let answer = answer(&request(RTM_GETLINK, NLM_F_DUMP, &[0; 16]), 99);
        assert_eq!(answer.len(), 2);
        assert_eq!(kinds(&answer[0]), [RTM_NEWLINK]);
        assert_eq!(kinds(&answer[1]), [NLMSG_DONE]);
        let link = &answer[0];
        assert_eq!(u32::from_ne_bytes(link[12..16].try_into().unwrap()), 99);
        assert_eq!(u32::from_ne_bytes(link[8..12].try_into().unwrap()), 7);
        assert_eq!(find_attr(&link[32..], IFLA_IFNAME), Some(&b"lo\0"[..]));
    }

    #[test]
    fn an_address_dump_gives_both_families_or_one() {
        let both = answer(&request(RTM_GETADDR, NLM_F_DUMP, &[0; 8]), 1);
        assert_eq!(kinds(&both[0]), [RTM_NEWADDR, RTM_NEWADDR]);
        let v6 = answer(
            &request(
                RTM_GETADDR,
                NLM_F_DUMP,
                &[libc::AF_INET6 as u8, 0, 0, 0, 0, 0, 0, 0],
            ),
            1,
        );
        assert_eq!(kinds(&v6[0]), [RTM_NEWADDR]);
        assert_eq!(v6[0][16], libc::AF_INET6 as u8);
    }

    #[test]
    fn changes_are_refused_and_unknown_links_are_enodev() {
        let add = answer(&request(RTM_NEWADDR, NLM_F_ACK, &[0; 8]), 1);
        assert_eq!(kinds(&add[0]), [NLMSG_ERROR]);
        assert_eq!(
            i32::from_ne_bytes(add[0][16..20].try_into().unwrap()),
            -libc::EPERM
        );
        let mut by_index = [0u8; 16];
        by_index[4..8].copy_from_slice(&5i32.to_ne_bytes());
        let other = answer(&request(RTM_GETLINK, 0, &by_index), 1);
        assert_eq!(
            i32::from_ne_bytes(other[0][16..20].try_into().unwrap()),
            -libc::ENODEV
        );
        let routes = answer(&request(26, NLM_F_DUMP, &[0; 12]), 1);
        assert_eq!(routes.len(), 1);
        assert_eq!(kinds(&routes[0]), [NLMSG_DONE]);
    }
}

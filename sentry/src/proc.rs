//! A synthesized /proc, seen from the caller's PID namespace: only the sandbox's own
//! processes, under their sandbox numbers, with sandbox paths. Files are generated when
//! opened (a sealed memfd the task reads); directories are snapshots the sentry lays out
//! in its scratch directory, so `getdents64` on them is an ordinary host call.

use crate::kernel::mounts::join;
use crate::kernel::{Kernel, LazyDir};
use nix::errno::Errno;
use platform_ptrace::Tid;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// What a /proc path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A directory and its entries, each with its kind.
    Dir(Vec<(Vec<u8>, Kind)>),
    /// A file and its whole content.
    File(Vec<u8>),
    /// A symbolic link and its target.
    Link(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Link,
}

/// Where a /proc path leads: a node of /proc, or (through a link such as
/// `/proc/self/root` or `/proc/1/cwd`) a sandbox path elsewhere.
pub enum Resolved {
    Node(Node),
    /// A namespace file (`/proc/<pid>/ns/<kind>` followed): opening it gives an fd that
    /// setns(2) accepts.
    Namespace(NsRef),
    Elsewhere(Vec<u8>),
    /// `/proc/<pid>/fd/<n>` of a pipe, socket, unlinked file or other fd without a sandbox
    /// path: opening it gives another fd of the same file.
    TaskFd {
        host: Tid,
        fd: i32,
    },
    /// `/proc/<pid>/pagemap` of host task `host`: opening it gives the host's own pagemap,
    /// opened without CAP_SYS_ADMIN (`open_pagemap`).
    Pagemap {
        host: Tid,
    },
}

/// Identifies the kernel's namespace files (`ns/uts` and friends).
const NS_INODE_BASE: u64 = 0xeffff000;

pub use crate::kernel::NsRef;

impl NsRef {
    fn link(self) -> Vec<u8> {
        match self {
            NsRef::Uts(id) => ns_link("uts", id),
            NsRef::Pid(id) => ns_link("pid", 0x100 + id),
            NsRef::Mnt(id) => ns_link("mnt", 0x200 + id),
        }
    }
}

/// The identity lines of /proc/<pid>/status (`Uid`, `Gid`, `Groups`, `Cap*`) for the
/// task's sandbox credentials; None for other lines.
fn status_line(kernel: &crate::kernel::Kernel, host: Tid, key: &str) -> Option<String> {
    let c = kernel.creds_of(host);
    Some(match key {
        "Uid" => format!("{}\t{}\t{}\t{}", c.ruid, c.euid, c.suid, c.fsuid),
        "Gid" => format!("{}\t{}\t{}\t{}", c.rgid, c.egid, c.sgid, c.fsgid),
        "Groups" => c.groups.iter().map(|g| format!("{g} ")).collect::<String>(),
        "CapInh" => format!("{:016x}", c.cap_inheritable),
        "CapPrm" => format!("{:016x}", c.cap_permitted),
        "CapEff" => format!("{:016x}", c.cap_effective),
        "CapBnd" => format!("{:016x}", c.cap_bounding),
        "CapAmb" => format!("{:016x}", c.cap_ambient),
        _ => return None,
    })
}

fn host_file(path: impl AsRef<Path>) -> Result<Vec<u8>, Errno> {
    std::fs::read(path).map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
}

/// An fdinfo text with the pid of a pidfd (`Pid:`, `NSpid:`) in the reader's numbers (0 for
/// a process outside the sandbox), never the host's.
fn fdinfo_in_sandbox_terms(k: &Kernel, tid: Tid, text: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(text);
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let field = ["Pid:", "NSpid:"].into_iter().find(|f| line.starts_with(f));
        match field {
            Some(field) => {
                let host: i32 = line[field.len()..]
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let shown = if host > 0 {
                    k.vpid_for(tid, host)
                } else {
                    host
                };
                out.push_str(&format!("{field}\t{shown}\n"));
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out.into_bytes()
}

/// /proc/sys/kernel files whose value in a sandbox is fixed: no taint of the sandbox's, and
/// cores are never written by the host kernel.
const SYS_KERNEL_FIXED: [(&str, &str); 2] = [("tainted", "0"), ("core_pattern", "core")];

/// Host /proc/sys files (and directories, with everything under them) shown read-only as
/// they are: limits and settings programs read, which name nothing of the host's.
const SYS_MIRRORED: [&str; 10] = [
    "fs/pipe-max-size",
    "fs/pipe-user-pages-soft",
    "fs/nr_open",
    "kernel/ngroups_max",
    "kernel/random",
    "net/core/somaxconn",
    "net/ipv4/ip_local_port_range",
    "net/ipv4/conf/lo",
    "vm/overcommit_memory",
    "vm/max_map_count",
];

/// Whether /proc/sys/`rest` is a mirrored file or directory, or lies on the way to one.
fn mirrored(rest: &[&[u8]]) -> bool {
    let path = rest.join(&b'/');
    SYS_MIRRORED.iter().any(|m| {
        let m = m.as_bytes();
        m == path.as_slice()
            || m.starts_with(&[path.as_slice(), b"/"].concat())
            || path.starts_with(&[m, b"/"].concat())
    })
}

/// /proc/sys/`rest` from the host, where `mirrored` allows it: a directory lists only the
/// entries that are mirrored or lead to one.
fn sys_mirror(rest: &[&[u8]]) -> Result<Node, Errno> {
    if !mirrored(rest) {
        return Err(Errno::ENOENT);
    }
    let path = rest.join(&b'/');
    let host = format!("/proc/sys/{}", String::from_utf8_lossy(&path));
    let meta = std::fs::metadata(&host).map_err(|_| Errno::ENOENT)?;
    if !meta.is_dir() {
        return Ok(Node::File(host_file(&host)?));
    }
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(&host)
        .map_err(|_| Errno::ENOENT)?
        .flatten()
    {
        let name = entry.file_name().into_encoded_bytes();
        let mut child: Vec<&[u8]> = rest.to_vec();
        child.push(&name);
        if mirrored(&child) {
            let kind = if entry.path().is_dir() {
                Kind::Dir
            } else {
                Kind::File
            };
            entries.push((name.clone(), kind));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Node::Dir(entries))
}

fn process_entries() -> Vec<(Vec<u8>, Kind)> {
    [
        ("status", Kind::File),
        ("stat", Kind::File),
        ("statm", Kind::File),
        ("cmdline", Kind::File),
        ("comm", Kind::File),
        ("environ", Kind::File),
        ("maps", Kind::File),
        ("pagemap", Kind::File),
        ("limits", Kind::File),
        ("mounts", Kind::File),
        ("mountinfo", Kind::File),
        ("exe", Kind::Link),
        ("cwd", Kind::Link),
        ("root", Kind::Link),
        ("fd", Kind::Dir),
        ("fdinfo", Kind::Dir),
        ("ns", Kind::Dir),
        ("task", Kind::Dir),
    ]
    .iter()
    .map(|(n, k)| (n.as_bytes().to_vec(), *k))
    .collect()
}

/// The processes (or, with `of`, the threads of one process) the caller sees, by number.
fn visible(k: &Kernel, tid: Tid, of: Option<Tid>) -> Vec<(i32, Tid)> {
    let ns = k.ns_of(tid);
    let mut out: Vec<(i32, Tid)> = k
        .tasks
        .iter()
        .filter(|(t, task)| match of {
            Some(group) => task.tgid == group,
            None => **t == task.tgid,
        })
        .filter_map(|(&t, _)| k.pids.vpid(ns, t).map(|v| (v, t)))
        .collect();
    out.sort();
    out
}

fn number(s: &[u8]) -> Option<i32> {
    std::str::from_utf8(s)
        .ok()?
        .parse()
        .ok()
        .filter(|&n: &i32| n > 0)
}

/// A host path of a mount's source, in sandbox terms; other host files are not shown.
fn sandbox_name(k: &Kernel, tid: Tid, host: &[u8]) -> Vec<u8> {
    if !host.starts_with(b"/") {
        return host.to_vec();
    }
    if host == b"/dev/pts/ptmx" {
        return b"/dev/ptmx".to_vec();
    }
    // A node of /proc the sentry made a file of (a directory, an O_PATH fd's link).
    if let Some(proc_path) = k.proc_dirs.get(host) {
        return proc_path.clone();
    }
    if let Some(index) = host.strip_prefix(b"/dev/pts/") {
        let number = std::str::from_utf8(index).ok().and_then(|i| i.parse().ok());
        return match number.and_then(|i| k.ptys.sandbox_of(i)) {
            Some(n) => format!("/dev/pts/{n}").into_bytes(),
            None => b"/[host]".to_vec(),
        };
    }
    if let Some(device) = host.strip_prefix(b"/dev/") {
        if crate::kernel::mounts::DEVICES
            .iter()
            .any(|d| d.as_bytes() == device)
        {
            return host.to_vec();
        }
    }
    k.mounts(tid)
        .sandbox_path_of(host)
        .unwrap_or_else(|| b"/[host]".to_vec())
}

/// The state of a task the host shows in a tracing stop: the caller itself is running;
/// any other task stopped at the sentry is, for the sandbox, in a system call.
fn running_state(tid: Tid, host: Tid) -> &'static str {
    if tid == host {
        "R (running)"
    } else {
        "S (sleeping)"
    }
}

/// Rewrites the id fields of a host /proc/<pid>/status for the caller.
fn status(k: &Kernel, tid: Tid, host: Tid) -> Result<Vec<u8>, Errno> {
    let text = host_file(format!("/proc/{host}/status"))?;
    let text = String::from_utf8_lossy(&text);
    let v = |h: Tid| k.vpid_for(tid, h);
    let task = k.tasks.get(&host);
    let ppid = task.map_or(0, |t| {
        if t.parent == 0 {
            0
        } else {
            k.pids.vpid(k.ns_of(tid), t.parent).unwrap_or(0)
        }
    });
    let tgid = task.map_or(host, |t| t.tgid);
    let mut out = String::new();
    for line in text.lines() {
        let (key, _) = line.split_once(':').unwrap_or((line, ""));
        let value = match key {
            "Tgid" | "NStgid" => Some(v(tgid).to_string()),
            "Pid" | "NSpid" => Some(v(host).to_string()),
            "PPid" => Some(ppid.to_string()),
            "TracerPid" => Some("0".into()),
            "Name" => Some(String::from_utf8_lossy(&comm(k, host)).into_owned()),
            // Every task is traced by the sentry; none should look stopped for it.
            "State" if line.contains("tracing stop") => Some(running_state(tid, host).into()),
            // SAFETY: getpgid/getsid take plain integers.
            "NSpgid" => Some(v(unsafe { libc::getpgid(host) }).to_string()),
            // SAFETY: as above.
            "NSsid" => Some(v(unsafe { libc::getsid(host) }).to_string()),
            // The task's sandbox credentials, not the host's.
            "Uid" | "Gid" | "Groups" | "CapInh" | "CapPrm" | "CapEff" | "CapBnd" | "CapAmb" => {
                status_line(k, host, key)
            }
            // A task held to the sentry's CPU shows its own affinity, not the hold.
            "Cpus_allowed" => k
                .holds
                .own_set(host)
                .map(|set| cpu_mask(&set, line[key.len() + 1..].trim())),
            "Cpus_allowed_list" => k.holds.own_set(host).map(|set| cpu_list(&set)),
            _ => None,
        };
        match value {
            Some(value) => out.push_str(&format!("{key}:\t{value}\n")),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    Ok(out.into_bytes())
}

/// The CPUs of `set` as the kernel prints a CPU mask: hex words of 32 bits, most significant
/// first, separated by commas, in the layout of `host_value` (the host's own line).
fn cpu_mask(set: &libc::cpu_set_t, host_value: &str) -> String {
    let words: Vec<&str> = host_value.split(',').collect();
    let word = |index: usize| -> u32 {
        (0..32)
            .filter(|bit| {
                let cpu = index * 32 + bit;
                // SAFETY: CPU_ISSET only reads the set; `cpu` is checked against its size.
                cpu < libc::CPU_SETSIZE as usize && unsafe { libc::CPU_ISSET(cpu, set) }
            })
            .fold(0, |w, bit| w | 1 << bit)
    };
    words
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let index = words.len() - 1 - i;
            format!("{:0width$x}", word(index), width = host.len())
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The CPUs of `set` as the kernel prints a CPU list: ranges such as `0-3,6`.
fn cpu_list(set: &libc::cpu_set_t) -> String {
    // SAFETY: CPU_ISSET only reads the set; every index is below CPU_SETSIZE.
    let on = |cpu: usize| unsafe { libc::CPU_ISSET(cpu, set) };
    let mut ranges = Vec::new();
    let mut cpu = 0;
    while cpu < libc::CPU_SETSIZE as usize {
        if !on(cpu) {
            cpu += 1;
            continue;
        }
        let first = cpu;
        while cpu + 1 < libc::CPU_SETSIZE as usize && on(cpu + 1) {
            cpu += 1;
        }
        ranges.push(if first == cpu {
            first.to_string()
        } else {
            format!("{first}-{cpu}")
        });
        cpu += 1;
    }
    ranges.join(",")
}

/// Rewrites pid, ppid, pgrp, session and tpgid of a host /proc/<pid>/stat.
fn stat(k: &Kernel, tid: Tid, host: Tid) -> Result<Vec<u8>, Errno> {
    let text = host_file(format!("/proc/{host}/stat"))?;
    let text = String::from_utf8_lossy(&text);
    // "pid (comm) state ppid pgrp session tty_nr tpgid …"; comm may hold spaces and ')'.
    text.find('(').ok_or(Errno::EIO)?;
    let close = text.rfind(')').ok_or(Errno::EIO)?;
    let mut rest: Vec<String> = text[close + 1..]
        .split_whitespace()
        .map(String::from)
        .collect();
    let v = |h: i32| if h > 0 { k.vpid_for(tid, h) } else { h };
    let ppid = k.tasks.get(&host).map_or(0, |t| {
        if t.parent == 0 {
            0
        } else {
            k.pids.vpid(k.ns_of(tid), t.parent).unwrap_or(0)
        }
    });
    if rest.len() > 5 {
        if rest[0] == "t" {
            rest[0] = running_state(tid, host)[..1].to_string();
        }
        rest[1] = ppid.to_string();
        for i in [2, 3, 5] {
            let host_id: i32 = rest[i].parse().unwrap_or(0);
            rest[i] = v(host_id).to_string();
        }
    }
    let name = String::from_utf8_lossy(&comm(k, host)).into_owned();
    Ok(format!("{} ({name}) {}\n", v(host), rest.join(" ")).into_bytes())
}

/// /proc/<pid>/maps with file paths in sandbox terms.
fn maps(k: &Kernel, tid: Tid, host: Tid) -> Result<Vec<u8>, Errno> {
    let text = host_file(format!("/proc/{host}/maps"))?;
    let mut out = Vec::with_capacity(text.len());
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        // Six columns; the path (if any) starts at the first '/' after them.
        match line.iter().position(|&b| b == b'/') {
            Some(i)
                if line[..i]
                    .split(|&b| b == b' ')
                    .filter(|c| !c.is_empty())
                    .count()
                    >= 5 =>
            {
                out.extend_from_slice(&line[..i]);
                out.extend_from_slice(&sandbox_name(k, tid, &line[i..]));
            }
            _ => out.extend_from_slice(line),
        }
        out.push(b'\n');
    }
    Ok(out)
}

/// /proc/mounts and /proc/<pid>/mountinfo from the mount table.
fn mounts(k: &Kernel, host: Tid, info: bool) -> Vec<u8> {
    let mut out = String::new();
    for (i, m) in k.mounts(host).mounts.iter().enumerate() {
        let point = String::from_utf8_lossy(&m.sandbox_path);
        let opts = if m.read_only { "ro" } else { "rw" };
        let (fstype, source) = if m.is_proc {
            ("proc", "proc")
        } else if m.is_dev {
            ("devtmpfs", "dev")
        } else if m.is_tmpfs {
            ("tmpfs", "tmpfs")
        } else if i == 0 {
            ("sentryfs", "rootfs")
        } else {
            ("sentryfs", "sentry")
        };
        let named = String::from_utf8_lossy(&m.source);
        let source = if named.is_empty() {
            source
        } else {
            named.as_ref()
        };
        if info {
            // The root mount is the parent of every other (mounts are not nested yet).
            let parent = if i == 0 { 0 } else { 1 };
            out.push_str(&format!(
                "{} {parent} 0:{} / {point} {opts} - {fstype} {source} {opts}\n",
                i + 1,
                100 + i
            ));
        } else {
            out.push_str(&format!("{source} {point} {fstype} {opts} 0 0\n"));
        }
    }
    out.into_bytes()
}

fn ns_link(kind: &str, id: usize) -> Vec<u8> {
    format!("{kind}:[{}]", NS_INODE_BASE + id as u64).into_bytes()
}

/// `self` or `thread-self` at the head of `parts` replaced by what it names for `tid`:
/// `<pid>` or `<pid>/task/<tid>`.
fn expand_self(k: &Kernel, tid: Tid, parts: &mut Vec<Vec<u8>>) {
    let me = k.vpid_for(tid, k.tgid_of(tid)).to_string().into_bytes();
    match parts.first().map(|p| p.as_slice()) {
        Some(b"self") => parts[0] = me,
        Some(b"thread-self") => {
            let thread = k.vpid_for(tid, tid).to_string().into_bytes();
            parts.splice(0..1, [me, b"task".to_vec(), thread]);
        }
        _ => {}
    }
}

/// How Linux's procfs shows one of its links in stat where a plain symlink (its layout in
/// the scratch directory) shows otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkStat {
    /// The permission bits; the type stays S_IFLNK.
    pub perms: u32,
    pub size: i64,
}

impl LinkStat {
    /// `/proc/self`, `/proc/thread-self` and a process's exe, cwd, root and ns/*: procfs
    /// makes them with no size of their own.
    const SIZELESS: LinkStat = LinkStat {
        perms: 0o777,
        size: 0,
    };

    pub fn apply(self, st: &mut libc::stat) {
        st.st_mode = libc::S_IFLNK | self.perms;
        st.st_size = self.size;
    }

    pub fn apply_statx(self, stx: &mut libc::statx) {
        stx.stx_mode = (libc::S_IFLNK | self.perms) as u16;
        stx.stx_size = self.size as u64;
    }
}

/// The stat of the link at `rel` (a path inside /proc that `resolve`, not following it,
/// found to be a link), where it is not a plain symlink's: None for `mounts`, a symlink on
/// Linux too.
pub fn link_stat(k: &Kernel, tid: Tid, rel: &[u8]) -> Option<LinkStat> {
    let parts: Vec<&[u8]> = rel
        .split(|&b| b == b'/')
        .filter(|p| !p.is_empty() && *p != b".")
        .collect();
    match parts.as_slice() {
        [b"self" | b"thread-self"] => Some(LinkStat::SIZELESS),
        [.., b"exe" | b"cwd" | b"root"] | [.., b"ns", _] => Some(LinkStat::SIZELESS),
        [dir @ .., b"fd", n] => {
            use std::os::unix::fs::MetadataExt;
            let mut dir: Vec<Vec<u8>> = dir.iter().map(|p| p.to_vec()).collect();
            expand_self(k, tid, &mut dir);
            let dir: Vec<&[u8]> = dir.iter().map(Vec::as_slice).collect();
            let vpid = match dir.as_slice() {
                [pid] | [_, b"task", pid] => number(pid)?,
                _ => return None,
            };
            let host = k.pids.host(k.ns_of(tid), vpid)?;
            let fd = number(n).or((*n == b"0").then_some(0))?;
            // The host's link of the same fd of the same task: size 64 and the owner's
            // permissions by the fd's access mode (r-x read, -wx write, rwx both).
            let link = std::fs::symlink_metadata(format!("/proc/{host}/fd/{fd}")).ok()?;
            Some(LinkStat {
                perms: link.mode() & 0o7777,
                size: link.size() as i64,
            })
        }
        _ => None,
    }
}

/// The node at `rel` (a path inside /proc, normalised, "." for /proc itself), for `tid`.
pub fn resolve(k: &Kernel, tid: Tid, rel: &[u8], follow_last: bool) -> Result<Resolved, Errno> {
    let mut parts: Vec<Vec<u8>> = rel
        .split(|&b| b == b'/')
        .filter(|p| !p.is_empty() && *p != b".")
        .map(|p| p.to_vec())
        .collect();
    let ns = k.ns_of(tid);
    let me = k.vpid_for(tid, k.tgid_of(tid));
    // The links inside /proc itself.
    if parts.len() > 1 || follow_last {
        expand_self(k, tid, &mut parts);
    }
    let names: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
    let node = match names.as_slice() {
        [] => {
            let mut entries: Vec<(Vec<u8>, Kind)> = visible(k, tid, None)
                .into_iter()
                .map(|(v, _)| (v.to_string().into_bytes(), Kind::Dir))
                .collect();
            for (name, kind) in [
                ("self", Kind::Link),
                ("thread-self", Kind::Link),
                ("mounts", Kind::Link),
                ("meminfo", Kind::File),
                ("cpuinfo", Kind::File),
                ("uptime", Kind::File),
                ("loadavg", Kind::File),
                ("stat", Kind::File),
                ("version", Kind::File),
                ("filesystems", Kind::File),
                ("sys", Kind::Dir),
                ("net", Kind::Dir),
            ] {
                entries.push((name.as_bytes().to_vec(), kind));
            }
            Node::Dir(entries)
        }
        [b"self"] => Node::Link(me.to_string().into_bytes()),
        [b"thread-self"] => Node::Link(format!("{me}/task/{}", k.vpid_for(tid, tid)).into_bytes()),
        [b"mounts"] => Node::Link(b"self/mounts".to_vec()),
        // Under a memory limit, the machine the sandbox sees is the limit.
        [b"meminfo"] => Node::File(match k.memory.meminfo() {
            Some(text) => text.into_bytes(),
            None => host_file("/proc/meminfo")?,
        }),
        [b"cpuinfo"] => Node::File(host_file("/proc/cpuinfo")?),
        // The sandbox's network: `lo` alone, as in a network namespace of its own (its
        // traffic is AF_UNIX on the host, so the counters stay 0).
        [b"net"] => Node::Dir(vec![(b"dev".to_vec(), Kind::File)]),
        [b"net", b"dev"] if k.net == crate::kernel::NetMode::Host => {
            Node::File(host_file("/proc/net/dev")?)
        }
        [b"net", b"dev"] => Node::File(
            concat!(
                "Inter-|   Receive                                                |  Transmit\n",
                " face |bytes    packets errs drop fifo frame compressed multicast|",
                "bytes    packets errs drop fifo colls carrier compressed\n",
                "    lo:       0       0    0    0    0     0          0         0 ",
                "       0       0    0    0    0     0       0          0\n",
            )
            .as_bytes()
            .to_vec(),
        ),
        [b"uptime"] => Node::File(host_file("/proc/uptime")?),
        [b"stat"] => Node::File(host_file("/proc/stat")?),
        [b"version"] => Node::File(host_file("/proc/version")?),
        [b"filesystems"] => Node::File(host_file("/proc/filesystems")?),
        [b"loadavg"] => {
            // The last field is the most recent pid: the host's is not the sandbox's.
            let text = String::from_utf8_lossy(&host_file("/proc/loadavg")?).into_owned();
            let mut fields: Vec<&str> = text.split_whitespace().collect();
            let last = visible(k, tid, None)
                .last()
                .map_or(0, |(v, _)| *v)
                .to_string();
            if let Some(f) = fields.last_mut() {
                *f = &last;
            }
            Node::File(format!("{}\n", fields.join(" ")).into_bytes())
        }
        [b"sys"] => Node::Dir(
            ["fs", "kernel", "net", "vm"]
                .iter()
                .map(|n| (n.as_bytes().to_vec(), Kind::Dir))
                .collect(),
        ),
        [b"sys", b"kernel"] => {
            let mut entries: Vec<(Vec<u8>, Kind)> =
                ["hostname", "domainname", "pid_max", "ostype", "osrelease"]
                    .iter()
                    .chain(SYS_KERNEL_FIXED.iter().map(|(n, _)| n))
                    .map(|n| (n.as_bytes().to_vec(), Kind::File))
                    .collect();
            if let Node::Dir(mirrored) = sys_mirror(&[b"kernel"])? {
                entries.extend(mirrored);
            }
            Node::Dir(entries)
        }
        [b"sys", b"kernel", name]
            if SYS_KERNEL_FIXED.iter().any(|(n, _)| n.as_bytes() == *name) =>
        {
            let value = SYS_KERNEL_FIXED
                .iter()
                .find(|(n, _)| n.as_bytes() == *name)
                .map_or("", |(_, v)| v);
            Node::File(format!("{value}\n").into_bytes())
        }
        [b"sys", rest @ ..] if rest.first() != Some(&b"kernel".as_slice()) || mirrored(rest) => {
            sys_mirror(rest)?
        }
        [b"sys", b"kernel", name] => {
            let uts = &k.uts[k.uts_of(tid)];
            let mut value = match *name {
                b"hostname" => uts.hostname.clone(),
                b"domainname" => uts.domainname.clone(),
                b"pid_max" => b"4194304".to_vec(),
                b"ostype" => b"Linux".to_vec(),
                b"osrelease" => host_file("/proc/sys/kernel/osrelease")?
                    .trim_ascii_end()
                    .to_vec(),
                _ => return Err(Errno::ENOENT),
            };
            value.push(b'\n');
            Node::File(value)
        }
        [pid, rest @ ..] => {
            let vpid = number(pid).ok_or(Errno::ENOENT)?;
            let host = k
                .pids
                .host(ns, vpid)
                .filter(|h| k.tasks.contains_key(h))
                .ok_or(Errno::ENOENT)?;
            let group = k.tgid_of(host);
            if group != host {
                // Threads are listed under task/ only.
                return Err(Errno::ENOENT);
            }
            return process(k, tid, host, rest, follow_last);
        }
    };
    Ok(Resolved::Node(node))
}

/// /proc/<pid>/… (and …/task/<tid>/…) of host task `host`.
fn process(
    k: &Kernel,
    tid: Tid,
    host: Tid,
    rest: &[&[u8]],
    follow_last: bool,
) -> Result<Resolved, Errno> {
    let group = k.tgid_of(host);
    let fs = k.fs_of(host);
    let link_or_follow = |target: Vec<u8>, more: &[&[u8]]| -> Resolved {
        if more.is_empty() && !follow_last {
            return Resolved::Node(Node::Link(target));
        }
        let mut path = target;
        for part in more {
            path.push(b'/');
            path.extend_from_slice(part);
        }
        Resolved::Elsewhere(path)
    };
    // What Linux shows only to the process itself or one that may inspect it (its ptrace
    // access check): its environment, memory layout, fds, working directory, root and
    // program. Other processes' stat, status and cmdline are anyone's.
    let inspects = matches!(
        rest.first().copied(),
        Some(b"environ" | b"maps" | b"pagemap" | b"fd" | b"fdinfo" | b"cwd" | b"root" | b"exe")
    );
    if inspects && k.tgid_of(tid) != group && !k.creds_of(tid).may_inspect(&k.creds_of(host)) {
        return Err(Errno::EACCES);
    }
    let node = match rest {
        [] => Node::Dir(process_entries()),
        [b"status"] => Node::File(status(k, tid, host)?),
        [b"stat"] => Node::File(stat(k, tid, host)?),
        [b"maps"] => Node::File(maps(k, tid, host)?),
        [b"mounts"] => Node::File(mounts(k, host, false)),
        [b"mountinfo"] => Node::File(mounts(k, host, true)),
        [b"cmdline"] => {
            let raw = host_file(format!("/proc/{host}/cmdline"))?;
            Node::File(match k.loader_views.get(&group) {
                Some(view) => program_cmdline(&raw, *view),
                None => raw,
            })
        }
        [b"comm"] => {
            let mut name = comm(k, host);
            name.push(b'\n');
            Node::File(name)
        }
        [name @ (b"statm" | b"environ" | b"limits")] => Node::File(host_file(format!(
            "/proc/{host}/{}",
            String::from_utf8_lossy(name)
        ))?),
        [b"exe", more @ ..] => {
            let exe = k.exe.get(&group).cloned().ok_or(Errno::ENOENT)?;
            return Ok(link_or_follow(exe, more));
        }
        [b"pagemap"] => return Ok(Resolved::Pagemap { host }),
        [b"cwd", more @ ..] => return Ok(link_or_follow(fs.cwd, more)),
        [b"root", more @ ..] => return Ok(link_or_follow(fs.root, more)),
        [b"fd"] | [b"fdinfo"] => {
            let kind = if rest[0] == b"fd" {
                Kind::Link
            } else {
                Kind::File
            };
            let mut fds: Vec<i32> = std::fs::read_dir(format!("/proc/{host}/fd"))
                .map_err(|_| Errno::ENOENT)?
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect();
            fds.sort();
            Node::Dir(
                fds.into_iter()
                    .map(|n| (n.to_string().into_bytes(), kind))
                    .collect(),
            )
        }
        [b"fd", n, more @ ..] => {
            let n = number(n)
                .or((*n == b"0").then_some(0))
                .ok_or(Errno::ENOENT)?;
            let link = format!("/proc/{host}/fd/{n}");
            let target = std::fs::read_link(&link).map_err(|_| Errno::ENOENT)?;
            let target = sandbox_name(k, tid, target.as_os_str().as_encoded_bytes());
            // An unlinked file (a memfd, an O_TMPFILE, a removed file) has no path to follow.
            let unlinked = std::fs::metadata(&link).is_ok_and(|m| {
                use std::os::unix::fs::MetadataExt;
                m.nlink() == 0
            });
            if !target.starts_with(b"/") || target == b"/[host]" || unlinked {
                // Pipes, sockets and host files: a link that names no path of the sandbox.
                if more.is_empty() && !follow_last {
                    return Ok(Resolved::Node(Node::Link(target)));
                }
                if more.is_empty() {
                    return Ok(Resolved::TaskFd { host: group, fd: n });
                }
                return Err(Errno::ENOTDIR);
            }
            return Ok(link_or_follow(target, more));
        }
        [b"fdinfo", n] => {
            let n = number(n)
                .or((*n == b"0").then_some(0))
                .ok_or(Errno::ENOENT)?;
            let text = host_file(format!("/proc/{host}/fdinfo/{n}"))?;
            Node::File(fdinfo_in_sandbox_terms(k, tid, &text))
        }
        [b"ns"] => Node::Dir(
            ["uts", "pid", "pid_for_children", "mnt"]
                .iter()
                .map(|n| (n.as_bytes().to_vec(), Kind::Link))
                .collect(),
        ),
        [b"ns", name] => {
            let task = k.tasks.get(&host).ok_or(Errno::ENOENT)?;
            let ns = match *name {
                b"uts" => NsRef::Uts(task.uts_ns),
                b"pid" => NsRef::Pid(task.ns),
                b"pid_for_children" => NsRef::Pid(task.child_ns),
                b"mnt" => NsRef::Mnt(task.mnt_ns),
                _ => return Err(Errno::ENOENT),
            };
            if follow_last {
                return Ok(Resolved::Namespace(ns));
            }
            Node::Link(ns.link())
        }
        [b"task"] => Node::Dir(
            visible(k, tid, Some(group))
                .into_iter()
                .map(|(v, _)| (v.to_string().into_bytes(), Kind::Dir))
                .collect(),
        ),
        [b"task", t, more @ ..] => {
            let thread = k
                .pids
                .host(k.ns_of(tid), number(t).ok_or(Errno::ENOENT)?)
                .filter(|h| k.tgid_of(*h) == group && k.tasks.contains_key(h))
                .ok_or(Errno::ENOENT)?;
            if more.first() == Some(&&b"task"[..]) {
                return Err(Errno::ENOENT);
            }
            return process(k, tid, thread, more, follow_last);
        }
        _ => return Err(Errno::ENOENT),
    };
    Ok(Resolved::Node(node))
}

/// A task's name (comm). The kernel names a program run through its loader after the
/// loader; the sandbox sees the program's name unless the program renamed itself.
fn comm(k: &Kernel, host: Tid) -> Vec<u8> {
    let real = host_file(format!("/proc/{host}/comm")).unwrap_or_default();
    let real = real.trim_ascii_end();
    let group = k.tgid_of(host);
    match (k.loader_views.get(&group), k.exe.get(&group)) {
        (Some(_), Some(exe)) if real.starts_with(b"ld-") => {
            let base = exe.rsplit(|&b| b == b'/').next().unwrap_or(exe);
            base[..base.len().min(15)].to_vec()
        }
        _ => real.to_vec(),
    }
}

/// The command line of a program run through its loader: its own argv, not the loader's.
fn program_cmdline(raw: &[u8], view: crate::kernel::LoaderView) -> Vec<u8> {
    let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
    let args: Vec<&[u8]> = raw.split(|&b| b == 0).collect();
    let Some(argv0) = args.get(view.argv0_at) else {
        return raw.to_vec();
    };
    let mut out = argv0.to_vec();
    out.push(0);
    for arg in args.iter().skip(view.rest_from) {
        out.extend_from_slice(arg);
        out.push(0);
    }
    out
}

/// The content of a file node as an fd the task can read: a sealed memfd, reopened
/// read-only.
/// Opens `/proc/<host>/pagemap` for the sandbox: the host's own file, which the task reads
/// live (present, swapped, soft-dirty and exclusive bits as Linux gives them). The kernel
/// shows page frame numbers and swap places only to a file opened with CAP_SYS_ADMIN (judged
/// on the opener's credentials, kept with the open file), and the sentry may have it: the open
/// is made by a thread of the sentry's that first drops CAP_SYS_ADMIN from its effective set
/// (capabilities are per thread in the kernel, and the thread ends with the open). So frames
/// read as zeros, as for an unprivileged reader on Linux, whoever the sentry runs as.
pub fn open_pagemap(host: Tid) -> Result<OwnedFd, Errno> {
    let path = CString::new(format!("/proc/{host}/pagemap")).expect("no NUL");
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                drop_sys_admin()?;
                // SAFETY: open of a NUL-terminated path we own; the result is checked.
                let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
                if fd < 0 {
                    return Err(Errno::last());
                }
                // SAFETY: the fd was just opened and is ours alone.
                Ok(unsafe { OwnedFd::from_raw_fd(fd) })
            })
            .join()
            .unwrap_or(Err(Errno::EIO))
    })
}

/// Removes CAP_SYS_ADMIN from the calling thread's effective set (capset(2) changes only the
/// calling thread); an error if it cannot.
fn drop_sys_admin() -> Result<(), Errno> {
    const CAP_SYS_ADMIN: u32 = 21;
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Default, Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut header = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget reads the header and writes two Data (version 3) into memory we own.
    if unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) } != 0 {
        return Err(Errno::last());
    }
    if data[0].effective & (1 << CAP_SYS_ADMIN) == 0 {
        return Ok(());
    }
    data[0].effective &= !(1 << CAP_SYS_ADMIN);
    // SAFETY: capset reads the header and two Data from memory we own; pid 0 is this thread.
    if unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) } != 0 {
        return Err(Errno::last());
    }
    Ok(())
}

pub fn file_fd(content: &[u8]) -> Result<OwnedFd, Errno> {
    // SAFETY: memfd_create with a NUL-terminated name; the result is checked.
    let fd = unsafe {
        libc::memfd_create(
            c"proc".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the fd was just created and is ours alone.
    let memfd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut written = 0;
    while written < content.len() {
        // SAFETY: writing from our buffer to our fd.
        let n = unsafe {
            libc::write(
                fd,
                content[written..].as_ptr().cast(),
                content.len() - written,
            )
        };
        if n <= 0 {
            return Err(Errno::last());
        }
        written += n as usize;
    }
    // SAFETY: fcntl with integer arguments on our fd.
    unsafe {
        libc::fcntl(
            fd,
            libc::F_ADD_SEALS,
            libc::F_SEAL_WRITE | libc::F_SEAL_GROW | libc::F_SEAL_SHRINK | libc::F_SEAL_SEAL,
        )
    };
    let path = CString::new(format!("/proc/self/fd/{}", memfd.as_raw_fd())).expect("no NUL");
    // SAFETY: open of a NUL-terminated path we own; the result is checked.
    let ro = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if ro < 0 {
        return Err(Errno::last());
    }
    // SAFETY: as above.
    Ok(unsafe { OwnedFd::from_raw_fd(ro) })
}

/// Lays out a node on the host under `dir` (a directory's entries as empty files, empty
/// directories and symlinks; a file as an empty file; a link as a symlink) so that the
/// host can open, list and stat it. Returns the host path of the node.
pub fn materialize(dir: &LazyDir, key: &[u8], node: &Node) -> Result<PathBuf, Errno> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::{symlink, DirBuilderExt, OpenOptionsExt};
    let io = |e: std::io::Error| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
    let name: String = key
        .iter()
        .map(|&b| if b == b'/' { '%' } else { b as char })
        .collect();
    let path = dir.made().map_err(io)?.join(if name.is_empty() {
        "%".to_string()
    } else {
        name
    });
    // A directory laid out before is read-only (below): writable again, its entries can
    // go without CAP_DAC_OVERRIDE.
    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
        let _ =
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755));
    }
    let _ = std::fs::remove_dir_all(&path);
    let _ = std::fs::remove_file(&path);
    let make = |p: &Path, kind: Kind, target: &[u8]| -> Result<(), Errno> {
        match kind {
            Kind::Dir => std::fs::DirBuilder::new().mode(0o555).create(p).map_err(io),
            Kind::File => std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o444)
                .open(p)
                .map(drop)
                .map_err(io),
            Kind::Link => symlink(std::ffi::OsStr::from_bytes(target), p).map_err(io),
        }
    };
    match node {
        Node::Dir(entries) => {
            std::fs::DirBuilder::new()
                .mode(0o755)
                .create(&path)
                .map_err(io)?;
            for (entry, kind) in entries {
                let p = path.join(String::from_utf8_lossy(entry).as_ref());
                make(&p, *kind, b"?")?;
            }
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o555))
                .map_err(io)?;
        }
        Node::File(_) => make(&path, Kind::File, b"")?,
        Node::Link(target) => make(&path, Kind::Link, target)?,
    }
    Ok(path)
}

/// The sandbox path a link of /proc names, for following it: `join` with the link's
/// directory for a relative target.
pub fn link_target(base_dir: &[u8], target: &[u8]) -> Vec<u8> {
    if target.starts_with(b"/") {
        target.to_vec()
    } else {
        join(base_dir, target)
    }
}

#[cfg(test)]
mod cpu_format_tests {
    use super::{cpu_list, cpu_mask};

    fn set(cpus: &[usize]) -> libc::cpu_set_t {
        // SAFETY: an all-zero cpu_set_t is an empty set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        for &cpu in cpus {
            // SAFETY: every CPU given is below CPU_SETSIZE.
            unsafe { libc::CPU_SET(cpu, &mut set) };
        }
        set
    }

    /// As Linux prints them in /proc/<pid>/status (`%*pb` and `%*pbl`).
    #[test]
    fn masks_and_lists_as_the_kernel_prints_them() {
        assert_eq!(cpu_mask(&set(&[0, 1]), "1"), "3");
        assert_eq!(cpu_mask(&set(&[1]), "3"), "2");
        assert_eq!(cpu_mask(&set(&[0, 4]), "00"), "11");
        assert_eq!(cpu_mask(&set(&[0, 33]), "3,ffffffff"), "2,00000001");
        assert_eq!(cpu_list(&set(&[0, 1])), "0-1");
        assert_eq!(cpu_list(&set(&[1])), "1");
        assert_eq!(cpu_list(&set(&[0, 2, 3, 4, 7])), "0,2-4,7");
    }
}

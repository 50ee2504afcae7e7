//! Kernel ground truth from tracepoints, read through perf_event_open (no
//! eBPF): every TCP state change, retransmission, and reset, with the
//! reset's reason by the name the running kernel gives it.
//!
//! Field offsets and the names of enum values are read from each
//! tracepoint's `format` file, never hard-coded: `enum sk_rst_reason` is
//! renumbered between kernels.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// A tracepoint's format: field offsets and sizes, and symbolic value names.
#[derive(Debug, Default, Clone)]
pub struct Format {
    /// Tracepoint id.
    pub id: u64,
    /// field name -> (offset, size).
    pub fields: HashMap<String, (usize, usize)>,
    /// field name -> value -> name, from `__print_symbolic` in the print format.
    pub symbols: HashMap<String, HashMap<i64, String>>,
}

impl Format {
    /// Parse a `format` file.
    pub fn parse(text: &str) -> Format {
        let mut f = Format::default();
        for line in text.lines() {
            let line = line.trim();
            if let Some(id) = line.strip_prefix("ID:") {
                f.id = id.trim().parse().unwrap_or(0);
            } else if let Some(rest) = line.strip_prefix("field:") {
                let mut decl = "";
                let (mut off, mut size) = (None, None);
                for part in rest.split(';') {
                    let part = part.trim();
                    if let Some(v) = part.strip_prefix("offset:") {
                        off = v.parse().ok();
                    } else if let Some(v) = part.strip_prefix("size:") {
                        size = v.parse().ok();
                    } else if decl.is_empty() {
                        decl = part;
                    }
                }
                let name = decl
                    .rsplit(|c: char| c == ' ' || c == '*')
                    .next()
                    .unwrap_or("");
                let name = name.split('[').next().unwrap_or(name);
                if let (Some(o), Some(s)) = (off, size) {
                    f.fields.insert(name.to_string(), (o, s));
                }
            } else if let Some(fmt) = line.strip_prefix("print fmt:") {
                parse_symbolic(fmt, &mut f.symbols);
            }
        }
        f
    }

    /// Read a little-endian unsigned field.
    pub fn uint(&self, raw: &[u8], name: &str) -> Option<u64> {
        let &(o, s) = self.fields.get(name)?;
        let b = raw.get(o..o + s)?;
        let mut v = 0u64;
        for (i, x) in b.iter().enumerate().take(8) {
            v |= (*x as u64) << (8 * i);
        }
        Some(v)
    }

    /// A field's raw bytes.
    pub fn bytes<'a>(&self, raw: &'a [u8], name: &str) -> Option<&'a [u8]> {
        let &(o, s) = self.fields.get(name)?;
        raw.get(o..o + s)
    }

    /// The symbolic name of a field's value, if the print format has one.
    pub fn symbol(&self, field: &str, value: i64) -> Option<&str> {
        self.symbols.get(field)?.get(&value).map(|s| s.as_str())
    }
}

/// Collect `__print_symbolic(REC->field, { 0, "NAME" }, ...)` tables with numeric values.
fn parse_symbolic(fmt: &str, out: &mut HashMap<String, HashMap<i64, String>>) {
    let mut rest = fmt;
    while let Some(i) = rest.find("__print_symbolic(REC->") {
        rest = &rest[i + "__print_symbolic(REC->".len()..];
        let Some(comma) = rest.find(',') else { break };
        let field = rest[..comma].trim().to_string();
        let mut map = HashMap::new();
        let mut body = &rest[comma..];
        // Entries until the closing parenthesis of this call.
        while let Some(open) = body.find('{') {
            let close_call = body.find(')').unwrap_or(usize::MAX);
            if open > close_call {
                break;
            }
            let Some(end) = body[open..].find('}') else {
                break;
            };
            let entry = &body[open + 1..open + end];
            if let Some((v, name)) = entry.split_once(',') {
                if let Ok(v) = v.trim().parse::<i64>() {
                    map.insert(v, name.trim().trim_matches('"').to_string());
                }
            }
            body = &body[open + end + 1..];
        }
        if !map.is_empty() {
            out.entry(field).or_insert(map);
        }
        rest = body;
    }
}

/// CLOCK_MONOTONIC now, in nanoseconds: the tracepoints' clock (perf
/// samples are stamped with it, `use_clockid`).
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime fills the struct we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The tracing filesystem, mounting it (as root) when it is not yet.
pub fn tracefs() -> io::Result<PathBuf> {
    for p in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] {
        if Path::new(p).join("events").is_dir() {
            return Ok(PathBuf::from(p));
        }
    }
    let target = std::ffi::CString::new("/sys/kernel/tracing").expect("no NUL");
    let fstype = std::ffi::CString::new("tracefs").expect("no NUL");
    // SAFETY: mount(2) with valid C strings; fails cleanly without privilege.
    let r = unsafe {
        libc::mount(
            fstype.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if r == 0 && Path::new("/sys/kernel/tracing/events").is_dir() {
        return Ok(PathBuf::from("/sys/kernel/tracing"));
    }
    Err(io::Error::new(
        io::ErrorKind::PermissionDenied,
        "tracefs is not mounted and cannot be mounted here",
    ))
}

/// Read one tracepoint's format, e.g. ("tcp", "tcp_send_reset").
pub fn format(group: &str, name: &str) -> io::Result<Format> {
    let dir = tracefs()?.join("events").join(group).join(name);
    Ok(Format::parse(&std::fs::read_to_string(dir.join("format"))?))
}

/// The tracepoints `tcpscope trace` follows.
pub const EVENTS: &[(&str, &str)] = &[
    ("sock", "inet_sock_set_state"),
    ("tcp", "tcp_retransmit_skb"),
    ("tcp", "tcp_retransmit_synack"),
    ("tcp", "tcp_send_reset"),
    ("tcp", "tcp_receive_reset"),
];

/// One perf ring buffer of one tracepoint on one CPU.
struct Ring {
    fd: i32,
    base: *mut u8,
    len: usize,
    event: usize,
}

const PAGES: usize = 64;

/// Open perf events for the tracepoints on every CPU.
pub struct Tracer {
    rings: Vec<Ring>,
    /// The formats, in the order of [`EVENTS`].
    pub formats: Vec<Format>,
    page: usize,
    /// With namespaces: the ring the BPF programs write to.
    bpf_ring: Option<crate::bpf::Ring>,
    /// Its records, by address, in time order.
    records: HashMap<u64, Vec<crate::bpf::SockInfo>>,
    /// The loaded programs (kept open while attached).
    progs: Vec<crate::bpf::Fd>,
}

/// One sample: which event, when (CLOCK_MONOTONIC ns), which process, raw data.
pub struct Sample {
    /// Index into [`EVENTS`].
    pub event: usize,
    /// CLOCK_MONOTONIC time in nanoseconds.
    pub time_ns: u64,
    /// Process id current when the event fired.
    pub pid: u32,
    /// The tracepoint's raw record.
    pub raw: Vec<u8>,
}

impl Tracer {
    /// Open every tracepoint of [`EVENTS`] on every online CPU.
    pub fn open() -> Result<Tracer, crate::KernelError> {
        let t = Tracer::open_io().map_err(crate::KernelError::trace)?;
        t.enable();
        Ok(t)
    }

    /// The same, with each event's network namespace recorded (see
    /// [`Tracer::namespace`]): the BPF programs are attached before the
    /// events are enabled, so none goes without. The second value says why
    /// the namespaces are not recorded, when they are not.
    pub fn open_with_namespaces() -> Result<(Tracer, Option<io::Error>), crate::KernelError> {
        let mut t = Tracer::open_io().map_err(crate::KernelError::trace)?;
        let why = t.with_namespaces().err();
        t.enable();
        Ok((t, why))
    }

    fn enable(&self) {
        for r in &self.rings {
            // SAFETY: PERF_EVENT_IOC_ENABLE on our descriptor.
            unsafe { libc::ioctl(r.fd, 0x2400, 0) };
        }
    }

    fn open_io() -> io::Result<Tracer> {
        let formats = EVENTS
            .iter()
            .map(|(g, n)| format(g, n))
            .collect::<io::Result<Vec<_>>>()?;
        // SAFETY: sysconf has no preconditions.
        let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as i32;
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let mut t = Tracer {
            rings: Vec::new(),
            formats,
            page,
            bpf_ring: None,
            records: HashMap::new(),
            progs: Vec::new(),
        };
        for (i, f) in t.formats.iter().enumerate() {
            for cpu in 0..cpus {
                let mut attr = [0u8; 128];
                attr[0..4].copy_from_slice(&2u32.to_le_bytes()); // PERF_TYPE_TRACEPOINT
                attr[4..8].copy_from_slice(&128u32.to_le_bytes());
                attr[8..16].copy_from_slice(&f.id.to_le_bytes());
                attr[16..24].copy_from_slice(&1u64.to_le_bytes()); // every event
                let sample_type: u64 = (1 << 1) | (1 << 2) | (1 << 10); // TID | TIME | RAW
                attr[24..32].copy_from_slice(&sample_type.to_le_bytes());
                let flags: u64 = 1 | (1 << 25); // disabled, use_clockid
                attr[40..48].copy_from_slice(&flags.to_le_bytes());
                attr[48..52].copy_from_slice(&1u32.to_le_bytes()); // wakeup_events
                attr[92..96].copy_from_slice(&(libc::CLOCK_MONOTONIC).to_le_bytes());
                // SAFETY: perf_event_open with a fully initialised attr buffer.
                let fd = unsafe {
                    libc::syscall(
                        libc::SYS_perf_event_open,
                        attr.as_ptr(),
                        -1i32,
                        cpu,
                        -1i32,
                        8u64, /* PERF_FLAG_FD_CLOEXEC */
                    )
                } as i32;
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                let len = page * (PAGES + 1);
                // SAFETY: maps the perf ring of our own descriptor.
                let base = unsafe {
                    libc::mmap(
                        std::ptr::null_mut(),
                        len,
                        libc::PROT_READ | libc::PROT_WRITE,
                        libc::MAP_SHARED,
                        fd,
                        0,
                    )
                };
                if base == libc::MAP_FAILED {
                    let e = io::Error::last_os_error();
                    unsafe { libc::close(fd) };
                    return Err(e);
                }
                t.rings.push(Ring {
                    fd,
                    base: base as *mut u8,
                    len,
                    event: i,
                });
            }
        }
        Ok(t)
    }

    /// Attach a BPF program to each tracepoint that records every event's
    /// network namespace (see [`crate::bpf`]); [`Tracer::namespace`] then
    /// answers. Needs CAP_BPF (root).
    fn with_namespaces(&mut self) -> io::Result<()> {
        let layout = crate::bpf::Layout::of_running_kernel()?;
        let ring = crate::bpf::Ring::create(4 << 20)?;
        let mut progs = Vec::new();
        for f in &self.formats {
            let insns = crate::bpf::program(f, &ring, &layout)
                .ok_or_else(|| io::Error::other("a tracepoint without skaddr"))?;
            progs.push(crate::bpf::load(&insns)?);
        }
        // A tracepoint's programs run for every perf event on it, on every
        // CPU: attach each once, to its first CPU's event.
        for (i, prog) in progs.iter().enumerate() {
            let Some(r) = self.rings.iter().find(|r| r.event == i) else {
                continue;
            };
            // SAFETY: PERF_EVENT_IOC_SET_BPF on our perf descriptor with a
            // program descriptor we own.
            let rc = unsafe { libc::ioctl(r.fd, crate::bpf::PERF_EVENT_IOC_SET_BPF as _, prog.0) };
            if rc < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        self.bpf_ring = Some(ring);
        self.progs = progs;
        Ok(())
    }

    /// The namespace (and byte counts) the BPF program recorded for an
    /// event: the last record of its address written before the sample.
    /// `None` without namespaces, or when the kernel could not say.
    pub fn namespace(&self, e: &TcpEvent) -> Option<crate::bpf::SockInfo> {
        self.records
            .get(&e.addr)?
            .iter()
            .rev()
            .find(|r| r.time_ns <= e.time_ns)
            .filter(|i| i.netns != 0)
            .cloned()
    }

    /// Read the BPF ring after the perf rings, so that every sample read
    /// has its record; forget records more than 10 s older than the newest.
    fn drain_records(&mut self) {
        let Some(ring) = self.bpf_ring.as_mut() else {
            return;
        };
        let mut new = Vec::new();
        ring.drain(&mut new);
        let newest = new.iter().map(|r| r.time_ns).max().unwrap_or(0);
        for r in new {
            self.records.entry(r.addr).or_default().push(r);
        }
        if newest > 0 {
            let horizon = newest.saturating_sub(10_000_000_000);
            self.records.retain(|_, v| {
                v.retain(|r| r.time_ns >= horizon);
                !v.is_empty()
            });
        }
    }

    /// Wait up to `timeout_ms` for samples and return them in time order.
    pub fn poll(&mut self, timeout_ms: i32) -> Vec<Sample> {
        let mut fds: Vec<libc::pollfd> = self
            .rings
            .iter()
            .map(|r| libc::pollfd {
                fd: r.fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: fds is a valid array of pollfd.
        unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as u64, timeout_ms) };
        let mut out = Vec::new();
        for r in &self.rings {
            self.drain(r, &mut out);
        }
        self.drain_records();
        out.sort_by_key(|s| s.time_ns);
        out
    }

    fn drain(&self, r: &Ring, out: &mut Vec<Sample>) {
        let data_size = self.page * PAGES;
        // SAFETY: the first page is perf_event_mmap_page; data_head at 1024,
        // data_tail at 1032, as the perf ABI fixes them.
        unsafe {
            let head_ptr = r.base.add(1024) as *const u64;
            let tail_ptr = r.base.add(1032) as *mut u64;
            let head = std::ptr::read_volatile(head_ptr);
            std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
            let mut tail = std::ptr::read_volatile(tail_ptr);
            let data = r.base.add(self.page);
            let read = |at: u64, n: usize| -> Vec<u8> {
                (0..n)
                    .map(|i| *data.add(((at as usize) + i) % data_size))
                    .collect()
            };
            while tail < head {
                let hdr = read(tail, 8);
                let ty = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
                let size = u16::from_le_bytes([hdr[6], hdr[7]]) as u64;
                if size < 8 {
                    break;
                }
                if ty == 9 {
                    // PERF_RECORD_SAMPLE: pid, tid, time, raw size, raw.
                    let body = read(tail + 8, size as usize - 8);
                    if body.len() >= 20 {
                        let pid = u32::from_le_bytes(body[0..4].try_into().unwrap_or([0; 4]));
                        let time_ns = u64::from_le_bytes(body[8..16].try_into().unwrap_or([0; 8]));
                        let rsize =
                            u32::from_le_bytes(body[16..20].try_into().unwrap_or([0; 4])) as usize;
                        let raw = body.get(20..20 + rsize).unwrap_or(&[]).to_vec();
                        out.push(Sample {
                            event: r.event,
                            time_ns,
                            pid,
                            raw,
                        });
                    }
                }
                tail += size;
            }
            std::sync::atomic::fence(std::sync::atomic::Ordering::Release);
            std::ptr::write_volatile(tail_ptr, tail);
        }
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        for r in &self.rings {
            // SAFETY: PERF_EVENT_IOC_DISABLE on our descriptor, so the
            // programs stop before they are closed.
            unsafe { libc::ioctl(r.fd, 0x2401, 0) };
        }
        for r in &self.rings {
            // SAFETY: unmapping and closing what open() created.
            unsafe {
                libc::munmap(r.base as *mut libc::c_void, r.len);
                libc::close(r.fd);
            }
        }
    }
}

/// What one TCP tracepoint record says, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TcpEventKind {
    /// `sock:inet_sock_set_state`: the socket at kernel address `sk` went
    /// from kernel state `old` to `new`.
    State {
        /// The socket's kernel address, which names it across events.
        sk: u64,
        /// Kernel state number before.
        old: u8,
        /// Kernel state number after.
        new: u8,
    },
    /// `tcp:tcp_retransmit_skb`, in this kernel state.
    Retransmit {
        /// Kernel state number.
        state: Option<u8>,
    },
    /// `tcp:tcp_retransmit_synack`: a listener re-sent a SYN-ACK.
    RetransmitSynAck,
    /// `tcp:tcp_send_reset`, with the kernel's reason named from the format.
    SendReset {
        /// Kernel state number (none for a reset without a socket).
        state: Option<u8>,
        /// The reason's name (`TCP_ABORT_ON_CLOSE`), when this kernel gives one.
        reason: Option<String>,
    },
    /// `tcp:tcp_receive_reset`.
    ReceiveReset {
        /// Kernel state number.
        state: Option<u8>,
    },
}

/// One decoded event with its time, process and endpoints.
#[derive(Clone, Debug)]
pub struct TcpEvent {
    /// CLOCK_MONOTONIC nanoseconds.
    pub time_ns: u64,
    /// The socket's kernel address, or the packet's for a reset sent
    /// without a socket (0 when neither).
    pub addr: u64,
    /// The process current when it fired (not always the socket's owner).
    pub pid: u32,
    /// The socket's own address.
    pub local: SocketAddr,
    /// The peer's.
    pub peer: SocketAddr,
    /// What happened.
    pub kind: TcpEventKind,
}

impl Tracer {
    /// Decode a sample; `None` for a record that is not about TCP or has no
    /// endpoints.
    pub fn decode(&self, s: &Sample) -> Option<TcpEvent> {
        let f = &self.formats[s.event];
        let (local, peer) = endpoints(f, &s.raw)?;
        let state = |f: &Format| f.uint(&s.raw, "state").filter(|&v| v != 0).map(|v| v as u8);
        let kind = match EVENTS[s.event].1 {
            "inet_sock_set_state" => {
                if f.uint(&s.raw, "protocol") != Some(libc::IPPROTO_TCP as u64) {
                    return None;
                }
                TcpEventKind::State {
                    sk: f.uint(&s.raw, "skaddr").unwrap_or(0),
                    old: f.uint(&s.raw, "oldstate").unwrap_or(0) as u8,
                    new: f.uint(&s.raw, "newstate").unwrap_or(0) as u8,
                }
            }
            "tcp_retransmit_skb" => TcpEventKind::Retransmit { state: state(f) },
            "tcp_retransmit_synack" => TcpEventKind::RetransmitSynAck,
            "tcp_send_reset" => TcpEventKind::SendReset {
                state: state(f),
                reason: f.uint(&s.raw, "reason").map(|r| {
                    f.symbol("reason", r as i64)
                        .map_or(format!("reason {r}"), str::to_string)
                }),
            },
            "tcp_receive_reset" => TcpEventKind::ReceiveReset { state: state(f) },
            _ => return None,
        };
        let sk = f.uint(&s.raw, "skaddr").unwrap_or(0);
        let addr = if sk != 0 {
            sk
        } else {
            f.uint(&s.raw, "skbaddr").unwrap_or(0)
        };
        Some(TcpEvent {
            time_ns: s.time_ns,
            addr,
            pid: s.pid,
            local,
            peer,
            kind,
        })
    }
}

/// The endpoints of a sock or tcp tracepoint record (both layouts).
pub fn endpoints(f: &Format, raw: &[u8]) -> Option<(SocketAddr, SocketAddr)> {
    if f.fields.contains_key("sport") && f.fields.contains_key("family") {
        let family = f.uint(raw, "family")?;
        let (s, d) = if family == libc::AF_INET6 as u64 {
            let s: [u8; 16] = f.bytes(raw, "saddr_v6")?.try_into().ok()?;
            let d: [u8; 16] = f.bytes(raw, "daddr_v6")?.try_into().ok()?;
            (IpAddr::V6(Ipv6Addr::from(s)), IpAddr::V6(Ipv6Addr::from(d)))
        } else {
            let s = f.bytes(raw, "saddr")?;
            let d = f.bytes(raw, "daddr")?;
            (
                IpAddr::V4(Ipv4Addr::new(s[0], s[1], s[2], s[3])),
                IpAddr::V4(Ipv4Addr::new(d[0], d[1], d[2], d[3])),
            )
        };
        return Some((
            SocketAddr::new(s, f.uint(raw, "sport")? as u16),
            SocketAddr::new(d, f.uint(raw, "dport")? as u16),
        ));
    }
    // tcp_send_reset and friends carry sockaddr_in / sockaddr_in6 in 28 bytes.
    let sa = |b: &[u8]| -> Option<SocketAddr> {
        let family = u16::from_le_bytes([*b.first()?, *b.get(1)?]);
        let port = u16::from_be_bytes([*b.get(2)?, *b.get(3)?]);
        if family == libc::AF_INET6 as u16 {
            let a: [u8; 16] = b.get(8..24)?.try_into().ok()?;
            Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(a)), port))
        } else {
            Some(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(
                    *b.get(4)?,
                    *b.get(5)?,
                    *b.get(6)?,
                    *b.get(7)?,
                )),
                port,
            ))
        }
    };
    Some((sa(f.bytes(raw, "saddr")?)?, sa(f.bytes(raw, "daddr")?)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "name: tcp_send_reset\nID: 2280\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:int state;\toffset:24;\tsize:4;\tsigned:1;\n\tfield:enum sk_rst_reason reason;\toffset:28;\tsize:4;\tsigned:0;\n\tfield:__u8 saddr[28];\toffset:32;\tsize:28;\tsigned:0;\n\nprint fmt: \"state=%s reason=%s\", REC->state ? __print_symbolic(REC->state, { TCP_ESTABLISHED, \"TCP_ESTABLISHED\" }) : \"UNKNOWN\", __print_symbolic(REC->reason, { 0, \"NOT_SPECIFIED\" }, { 1, \"NO_SOCKET\" }, { 8, \"TCP_ABORT_ON_DATA\" })\n";

    #[test]
    fn reads_offsets_and_symbolic_names_from_the_format() {
        let f = Format::parse(SAMPLE);
        assert_eq!(f.id, 2280);
        assert_eq!(f.fields["reason"], (28, 4));
        assert_eq!(f.fields["saddr"], (32, 28));
        assert_eq!(f.symbol("reason", 1), Some("NO_SOCKET"));
        assert_eq!(f.symbol("reason", 8), Some("TCP_ABORT_ON_DATA"));
        // Non-numeric values (kernel constants) are not guessed.
        assert_eq!(f.symbol("state", 1), None);
    }
}

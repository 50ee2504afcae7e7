//! A TCP segment as the tracker needs it, pulled out of a captured frame
//! through the wire views. No allocation: everything is copied into a small
//! `Copy` struct.

use tcpscope_capture::{Frame, LinkType};
use tcpscope_wire::ethernet::{ethertype, EthernetFrame};
use tcpscope_wire::ip::proto;
use tcpscope_wire::ipv4::{Ipv4Packet, MF, OFFSET_MASK};
use tcpscope_wire::ipv6::Ipv6Packet;
use tcpscope_wire::link::{null_family, Sll2Header, SllHeader};
use tcpscope_wire::tcp::{TcpOption, TcpPacket};

/// An IPv4 or IPv6 address, stored in 16 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct Addr {
    /// The bytes (IPv4 in the first four).
    pub bytes: [u8; 16],
    /// IPv6.
    pub v6: bool,
}

impl Addr {
    /// An IPv4 address.
    pub fn v4(a: [u8; 4]) -> Addr {
        // Built as one 16-byte value, so it is stored in one piece and the
        // table's word loads of it are forwarded from that store.
        let bytes = (u32::from_le_bytes(a) as u128).to_le_bytes();
        Addr { bytes, v6: false }
    }
    /// An IPv6 address.
    pub fn v6(bytes: [u8; 16]) -> Addr {
        Addr { bytes, v6: true }
    }
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.v6 {
            std::net::Ipv6Addr::from(self.bytes).fmt(f)
        } else {
            std::net::Ipv4Addr::new(self.bytes[0], self.bytes[1], self.bytes[2], self.bytes[3])
                .fmt(f)
        }
    }
}

/// One endpoint: address and port.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct Endpoint {
    /// Address.
    pub addr: Addr,
    /// Port.
    pub port: u16,
}

impl From<Endpoint> for std::net::SocketAddr {
    fn from(e: Endpoint) -> std::net::SocketAddr {
        let ip = if e.addr.v6 {
            std::net::IpAddr::V6(std::net::Ipv6Addr::from(e.addr.bytes))
        } else {
            let b = e.addr.bytes;
            std::net::IpAddr::V4(std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]))
        };
        std::net::SocketAddr::new(ip, e.port)
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.addr.v6 {
            write!(f, "[{}]:{}", self.addr, self.port)
        } else {
            write!(f, "{}:{}", self.addr, self.port)
        }
    }
}

/// A point in time: seconds and nanoseconds since the epoch.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Default)]
pub struct Ts {
    /// Seconds.
    pub sec: i64,
    /// Nanoseconds, 0..1e9.
    pub nsec: u32,
}

impl Ts {
    /// From a frame's timestamp in the given precision.
    pub fn from_frame(f: &Frame<'_>, nano: bool) -> Ts {
        // The file's fraction field is unsigned; an out-of-range one carries
        // into the seconds, as Wireshark reads it.
        let raw = f.ts_frac as u32 as i64;
        let frac = if nano { raw } else { raw * 1000 };
        let (sec, nsec) = (
            f.ts_sec.saturating_add(frac.div_euclid(1_000_000_000)),
            frac.rem_euclid(1_000_000_000) as u32,
        );
        Ts { sec, nsec }
    }
    /// Seconds since the epoch as a float.
    pub fn secs(self) -> f64 {
        self.sec as f64 + self.nsec as f64 / 1e9
    }
    /// `self - earlier` in seconds (exact to the nanosecond for any span
    /// a capture really has; never wrapping, whatever the file says).
    pub fn since(self, earlier: Ts) -> f64 {
        // i64 on the per-packet path; i128 only when that would overflow
        // (its conversion to f64 is a library call).
        let secs = match self.sec.checked_sub(earlier.sec) {
            Some(d) => d as f64,
            None => (i128::from(self.sec) - i128::from(earlier.sec)) as f64,
        };
        secs + (self.nsec as f64 - earlier.nsec as f64) / 1e9
    }
}

/// The TCP facts of one captured packet.
#[derive(Clone, Copy, Debug, Default)]
pub struct Segment {
    /// Capture time.
    pub ts: Ts,
    /// Sender.
    pub src: Endpoint,
    /// Receiver.
    pub dst: Endpoint,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Flag byte.
    pub flags: u8,
    /// Window field, unscaled.
    pub win: u16,
    /// Payload length from the IP lengths (not the captured length).
    pub len: u32,
    /// The IP packet's length on the wire, headers included (IPv4's total
    /// length; IPv6's payload length plus its 40-byte header): Zeek's
    /// `orig_ip_bytes` adds these up.
    pub ip_len: u32,
    /// MSS option.
    pub mss: Option<u16>,
    /// Window scale option.
    pub wscale: Option<u8>,
    /// SACK permitted option.
    pub sack_ok: bool,
    /// Timestamps option (val, ecr).
    pub tsopt: Option<(u32, u32)>,
    /// SACK blocks (left, right), `nsack` of them.
    pub sack: [(u32, u32); 4],
    /// Number of SACK blocks.
    pub nsack: u8,
    /// The capture ends inside the options: the segment is tracked, but
    /// (as Wireshark, whose dissection stops there) its flags are not shown.
    pub options_cut: bool,
}

/// TCP flag bits.
pub mod flag {
    pub use tcpscope_wire::tcp::flags::*;
}

impl Segment {
    /// Whether all of `bits` are set.
    pub fn has(&self, bits: u8) -> bool {
        self.flags & bits == bits
    }
    /// Sequence space the segment occupies (data plus SYN and FIN).
    pub fn seq_len(&self) -> u32 {
        self.len + self.has(flag::SYN) as u32 + self.has(flag::FIN) as u32
    }
}

/// Extract the TCP segment of a frame, if it carries one whose header was captured.
pub fn extract(frame: &Frame<'_>, nano: bool) -> Option<Segment> {
    let data = frame.data;
    let (ip_off, family) = match LinkType::from_u32(frame.linktype) {
        LinkType::Ethernet => {
            let (t, off) = EthernetFrame::new(data).payload()?;
            (off, t)
        }
        LinkType::LinuxSll => (16, SllHeader::new(data).protocol()?),
        LinkType::LinuxSll2 => (20, Sll2Header::new(data).protocol()?),
        LinkType::Null | LinkType::Loop => {
            let af = null_family(data, false)?;
            (
                4,
                if af == 2 {
                    ethertype::IPV4
                } else {
                    ethertype::IPV6
                },
            )
        }
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => {
            let v = data.first()? >> 4;
            (
                0,
                if v == 4 {
                    ethertype::IPV4
                } else {
                    ethertype::IPV6
                },
            )
        }
        LinkType::Unknown(_) => return None,
    };
    let ip = data.get(ip_off..)?;
    // Every field goes into a local and the segment is written once at the
    // end: filling a default segment piecewise costs store-forwarding
    // stalls on every packet.
    let (src, dst, tcp, tcp_len, ip_len) = match family {
        ethertype::IPV4 => {
            let p = Ipv4Packet::new(ip);
            if p.version()? != 4
                || p.protocol()? != proto::TCP
                // A fragment's TCP segment is incomplete: not tracked (no reassembly).
                || p.frag_field()? & (OFFSET_MASK | MF) != 0
            {
                return None;
            }
            let hl = p.header_len()?;
            let total = p.total_len()? as usize;
            // TSO/GRO captures carry a total length of 0: use what was on the wire.
            let total = if total == 0 {
                (frame.len as usize).checked_sub(ip_off)?
            } else {
                total
            };
            (
                Addr::v4(p.src()?),
                Addr::v4(p.dst()?),
                ip.get(hl..)?,
                total.checked_sub(hl)?,
                total,
            )
        }
        ethertype::IPV6 => {
            let p = Ipv6Packet::new(ip);
            let up = p.upper_layer()?;
            if p.version()? != 6
                || up.protocol != proto::TCP
                || !up.first_fragment
                || p.more_fragments()?
            {
                return None;
            }
            let plen = p.payload_len()? as usize;
            let plen = if plen == 0 {
                (frame.len as usize).checked_sub(ip_off + 40)?
            } else {
                plen
            };
            (
                Addr::v6(p.src()?.try_into().ok()?),
                Addr::v6(p.final_destination()?.try_into().ok()?),
                ip.get(up.offset..)?,
                (plen + 40).checked_sub(up.offset)?,
                plen + 40,
            )
        }
        _ => return None,
    };
    let t = TcpPacket::new(tcp);
    let hl = t.header_len()?;
    // Like Wireshark, analyse segments whose fixed header was captured.
    if hl < 20 || tcp.len() < 20 {
        return None;
    }
    let (mut mss, mut wscale, mut sack_ok, mut tsopt) = (None, None, false, None);
    let (mut sack, mut nsack) = ([(0, 0); 4], 0u8);
    let mut options_cut = tcp.len() < hl;
    let options = tcp.get(20..hl).unwrap_or(&[]);
    if let [1, 1, 8, 10, v0, v1, v2, v3, e0, e1, e2, e3] = *options {
        // What Linux puts on every segment after the handshake: two NOPs
        // and the timestamps.
        tsopt = Some((
            u32::from_be_bytes([v0, v1, v2, v3]),
            u32::from_be_bytes([e0, e1, e2, e3]),
        ));
    } else {
        for o in t.options() {
            match o {
                TcpOption::Mss(m) => mss = Some(m),
                TcpOption::WindowScale(w) => wscale = Some(w),
                TcpOption::SackPermitted => sack_ok = true,
                TcpOption::Timestamp { val, ecr } => tsopt = Some((val, ecr)),
                // Wireshark stops dissecting at a malformed option, before its analysis.
                TcpOption::Malformed { .. } | TcpOption::Other { kind: 5, .. } => {
                    options_cut = true
                }
                TcpOption::Sack(blocks) => {
                    for b in blocks.chunks_exact(8).take(4) {
                        let l = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                        let r = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                        sack[nsack as usize] = (l, r);
                        nsack += 1;
                    }
                }
                _ => {}
            }
        }
    }
    Some(Segment {
        ts: Ts::from_frame(frame, nano),
        src: Endpoint {
            addr: src,
            port: t.src_port()?,
        },
        dst: Endpoint {
            addr: dst,
            port: t.dst_port()?,
        },
        seq: t.seq()?,
        ack: t.ack()?,
        flags: t.flags()?,
        win: t.window()?,
        len: tcp_len.saturating_sub(hl) as u32,
        ip_len: u32::try_from(ip_len).unwrap_or(u32::MAX),
        mss,
        wscale,
        sack_ok,
        tsopt,
        sack,
        nsack,
        options_cut,
    })
}

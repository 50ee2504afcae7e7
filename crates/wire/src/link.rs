//! Capture pseudo-headers: Linux cooked (SLL, SLL2) and BSD loopback (NULL, LOOP).

use crate::bytes::{be16, be32, u8_at};

/// Length of a LINUX_SLL header.
pub const SLL_HEADER_LEN: usize = 16;
/// Length of a LINUX_SLL2 header.
pub const SLL2_HEADER_LEN: usize = 20;
/// Length of a NULL/LOOP header.
pub const NULL_HEADER_LEN: usize = 4;

/// Packet types of the cooked headers (who the packet was for).
pub mod pkttype {
    /// To us.
    pub const HOST: u16 = 0;
    /// Broadcast.
    pub const BROADCAST: u16 = 1;
    /// Multicast.
    pub const MULTICAST: u16 = 2;
    /// To someone else (promiscuous).
    pub const OTHERHOST: u16 = 3;
    /// Sent by us.
    pub const OUTGOING: u16 = 4;
}

/// A LINUX_SLL (v1) header: pkttype, hatype, halen, 8 address bytes, protocol.
#[derive(Clone, Copy, Debug)]
pub struct SllHeader<'a> {
    buf: &'a [u8],
}

impl<'a> SllHeader<'a> {
    /// Wrap captured bytes.
    pub fn new(buf: &'a [u8]) -> Self {
        SllHeader { buf }
    }
    /// Packet type.
    pub fn pkttype(&self) -> Option<u16> {
        be16(self.buf, 0)
    }
    /// ARPHRD_ hardware type.
    pub fn hatype(&self) -> Option<u16> {
        be16(self.buf, 2)
    }
    /// Link-layer address length.
    pub fn halen(&self) -> Option<u16> {
        be16(self.buf, 4)
    }
    /// The first six address bytes (a MAC when halen is 6).
    pub fn addr(&self) -> Option<&'a [u8]> {
        self.buf.get(6..12)
    }
    /// EtherType of the payload.
    pub fn protocol(&self) -> Option<u16> {
        be16(self.buf, 14)
    }
}

/// A LINUX_SLL2 header: protocol, reserved, ifindex, hatype, pkttype, halen, address.
#[derive(Clone, Copy, Debug)]
pub struct Sll2Header<'a> {
    buf: &'a [u8],
}

impl<'a> Sll2Header<'a> {
    /// Wrap captured bytes.
    pub fn new(buf: &'a [u8]) -> Self {
        Sll2Header { buf }
    }
    /// EtherType of the payload.
    pub fn protocol(&self) -> Option<u16> {
        be16(self.buf, 0)
    }
    /// Interface index on the capturing host.
    pub fn ifindex(&self) -> Option<u32> {
        be32(self.buf, 4)
    }
    /// ARPHRD_ hardware type.
    pub fn hatype(&self) -> Option<u16> {
        be16(self.buf, 8)
    }
    /// Packet type.
    pub fn pkttype(&self) -> Option<u8> {
        u8_at(self.buf, 10)
    }
    /// Link-layer address length.
    pub fn halen(&self) -> Option<u8> {
        u8_at(self.buf, 11)
    }
    /// The first six address bytes.
    pub fn addr(&self) -> Option<&'a [u8]> {
        self.buf.get(12..18)
    }
}

/// BSD address-family values seen in NULL/LOOP headers.
pub mod bsd_af {
    /// IPv4 everywhere.
    pub const INET: u32 = 2;
    /// ISO.
    pub const ISO: u32 = 7;
    /// AppleTalk.
    pub const APPLETALK: u32 = 16;
    /// IPX.
    pub const IPX: u32 = 23;
    /// IPv6 on NetBSD and OpenBSD.
    pub const INET6_BSD: u32 = 24;
    /// IPv6 on FreeBSD.
    pub const INET6_FREEBSD: u32 = 28;
    /// IPv6 on Darwin (macOS lo0).
    pub const INET6_DARWIN: u32 = 30;
}

/// The address family of a NULL (host byte order of the writer) or LOOP
/// (network byte order) header. Like libpcap, a value with any of its upper
/// 16 bits set is taken to be byte-swapped.
pub fn null_family(buf: &[u8], network_order: bool) -> Option<u32> {
    let b = buf.get(0..4)?;
    let v = if network_order {
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    } else {
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    };
    Some(if v & 0xffff_0000 != 0 {
        v.swap_bytes()
    } else {
        v
    })
}

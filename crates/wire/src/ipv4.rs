//! IPv4 header view.

use crate::bytes::{be16, slice, u8_at};

/// Field offsets of the IPv4 header.
pub mod field {
    /// Version and IHL.
    pub const VER_IHL: usize = 0;
    /// Type of service (DSCP and ECN).
    pub const TOS: usize = 1;
    /// Total length.
    pub const LEN: usize = 2;
    /// Identification.
    pub const ID: usize = 4;
    /// Flags and fragment offset.
    pub const FRAG: usize = 6;
    /// Time to live.
    pub const TTL: usize = 8;
    /// Protocol.
    pub const PROTO: usize = 9;
    /// Header checksum.
    pub const CHECKSUM: usize = 10;
    /// Source address.
    pub const SRC: usize = 12;
    /// Destination address.
    pub const DST: usize = 16;
}

/// Length of an IPv4 header without options.
pub const MIN_HEADER_LEN: usize = 20;
/// Don't-fragment flag in the FRAG field.
pub const DF: u16 = 0x4000;
/// More-fragments flag.
pub const MF: u16 = 0x2000;
/// The reserved ("evil") bit.
pub const RESERVED: u16 = 0x8000;
/// Mask of the fragment offset (in 8-byte units).
pub const OFFSET_MASK: u16 = 0x1fff;

/// A view of an IPv4 packet.
#[derive(Clone, Copy, Debug)]
pub struct Ipv4Packet<'a> {
    buf: &'a [u8],
}

impl<'a> Ipv4Packet<'a> {
    /// Wrap captured bytes starting at the IP header.
    pub fn new(buf: &'a [u8]) -> Self {
        Ipv4Packet { buf }
    }
    /// The captured bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.buf
    }
    /// IP version (4 for a well-formed packet).
    pub fn version(&self) -> Option<u8> {
        Some(u8_at(self.buf, field::VER_IHL)? >> 4)
    }
    /// Header length in bytes (IHL * 4).
    pub fn header_len(&self) -> Option<usize> {
        Some((u8_at(self.buf, field::VER_IHL)? & 0x0f) as usize * 4)
    }
    /// Type of service byte.
    pub fn tos(&self) -> Option<u8> {
        u8_at(self.buf, field::TOS)
    }
    /// Total length field.
    pub fn total_len(&self) -> Option<u16> {
        be16(self.buf, field::LEN)
    }
    /// Identification.
    pub fn ident(&self) -> Option<u16> {
        be16(self.buf, field::ID)
    }
    /// Flags and fragment offset field.
    pub fn frag_field(&self) -> Option<u16> {
        be16(self.buf, field::FRAG)
    }
    /// Time to live.
    pub fn ttl(&self) -> Option<u8> {
        u8_at(self.buf, field::TTL)
    }
    /// Protocol of the payload.
    pub fn protocol(&self) -> Option<u8> {
        u8_at(self.buf, field::PROTO)
    }
    /// Header checksum field.
    pub fn checksum(&self) -> Option<u16> {
        be16(self.buf, field::CHECKSUM)
    }
    /// Source address.
    pub fn src(&self) -> Option<[u8; 4]> {
        slice(self.buf, field::SRC, 4).map(|s| [s[0], s[1], s[2], s[3]])
    }
    /// Destination address.
    pub fn dst(&self) -> Option<[u8; 4]> {
        slice(self.buf, field::DST, 4).map(|s| [s[0], s[1], s[2], s[3]])
    }
    /// The options bytes between the fixed header and the payload.
    pub fn options(&self) -> Option<&'a [u8]> {
        let hl = self.header_len()?;
        self.buf.get(MIN_HEADER_LEN..hl)
    }
    /// The payload as far as the total length and capture allow.
    pub fn payload(&self) -> Option<&'a [u8]> {
        let hl = self.header_len()?;
        let end = (self.total_len()? as usize).min(self.buf.len());
        self.buf.get(hl..end.max(hl))
    }
}

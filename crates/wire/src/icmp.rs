//! ICMP and ICMPv6 header views (type, code, checksum, rest of header).

use crate::bytes::{be16, be32, u8_at};

/// A view of an ICMP or ICMPv6 message; both share the first four bytes.
#[derive(Clone, Copy, Debug)]
pub struct IcmpPacket<'a> {
    buf: &'a [u8],
}

impl<'a> IcmpPacket<'a> {
    /// Wrap captured bytes starting at the ICMP header.
    pub fn new(buf: &'a [u8]) -> Self {
        IcmpPacket { buf }
    }
    /// Message type.
    pub fn kind(&self) -> Option<u8> {
        u8_at(self.buf, 0)
    }
    /// Message code.
    pub fn code(&self) -> Option<u8> {
        u8_at(self.buf, 1)
    }
    /// Checksum field.
    pub fn checksum(&self) -> Option<u16> {
        be16(self.buf, 2)
    }
    /// The four bytes after the checksum (id/seq for echo, MTU, pointer ...).
    pub fn rest_of_header(&self) -> Option<u32> {
        be32(self.buf, 4)
    }
    /// Identifier of an echo request or reply.
    pub fn echo_id(&self) -> Option<u16> {
        be16(self.buf, 4)
    }
    /// Sequence number of an echo request or reply.
    pub fn echo_seq(&self) -> Option<u16> {
        be16(self.buf, 6)
    }
    /// What follows the 8-byte header (the quoted datagram for errors).
    pub fn body(&self) -> &'a [u8] {
        self.buf.get(8..).unwrap_or(&[])
    }
}

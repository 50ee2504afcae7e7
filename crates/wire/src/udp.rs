//! UDP header view.

use crate::bytes::be16;

/// Length of the UDP header.
pub const HEADER_LEN: usize = 8;

/// A view of a UDP datagram.
#[derive(Clone, Copy, Debug)]
pub struct UdpPacket<'a> {
    buf: &'a [u8],
}

impl<'a> UdpPacket<'a> {
    /// Wrap captured bytes starting at the UDP header.
    pub fn new(buf: &'a [u8]) -> Self {
        UdpPacket { buf }
    }
    /// Source port.
    pub fn src_port(&self) -> Option<u16> {
        be16(self.buf, 0)
    }
    /// Destination port.
    pub fn dst_port(&self) -> Option<u16> {
        be16(self.buf, 2)
    }
    /// Length field (header and data).
    pub fn len(&self) -> Option<u16> {
        be16(self.buf, 4)
    }
    /// Whether the length field says the datagram holds no data.
    pub fn is_empty(&self) -> Option<bool> {
        Some(self.len()? as usize <= HEADER_LEN)
    }
    /// Checksum field.
    pub fn checksum(&self) -> Option<u16> {
        be16(self.buf, 6)
    }
    /// The data as captured.
    pub fn payload(&self) -> &'a [u8] {
        self.buf.get(HEADER_LEN..).unwrap_or(&[])
    }
}

//! IPv6 header view and extension-header walk.

use crate::bytes::{be16, be32, slice, u8_at};
use crate::ip::proto;

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;

/// A view of an IPv6 packet.
#[derive(Clone, Copy, Debug)]
pub struct Ipv6Packet<'a> {
    buf: &'a [u8],
}

impl<'a> Ipv6Packet<'a> {
    /// Wrap captured bytes starting at the IPv6 header.
    pub fn new(buf: &'a [u8]) -> Self {
        Ipv6Packet { buf }
    }
    /// The captured bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.buf
    }
    /// Version (6).
    pub fn version(&self) -> Option<u8> {
        Some(u8_at(self.buf, 0)? >> 4)
    }
    /// Version, traffic class and flow label as one word.
    pub fn vtcfl(&self) -> Option<u32> {
        be32(self.buf, 0)
    }
    /// Traffic class.
    pub fn traffic_class(&self) -> Option<u8> {
        Some(((self.vtcfl()? >> 20) & 0xff) as u8)
    }
    /// Flow label.
    pub fn flow_label(&self) -> Option<u32> {
        Some(self.vtcfl()? & 0x000f_ffff)
    }
    /// Payload length field.
    pub fn payload_len(&self) -> Option<u16> {
        be16(self.buf, 4)
    }
    /// Next header of the fixed header.
    pub fn next_header(&self) -> Option<u8> {
        u8_at(self.buf, 6)
    }
    /// Hop limit.
    pub fn hop_limit(&self) -> Option<u8> {
        u8_at(self.buf, 7)
    }
    /// Source address.
    pub fn src(&self) -> Option<&'a [u8]> {
        slice(self.buf, 8, 16)
    }
    /// Destination address.
    pub fn dst(&self) -> Option<&'a [u8]> {
        slice(self.buf, 24, 16)
    }

    /// Walk the extension headers: the upper-layer protocol, its offset, and
    /// whether a fragment header was passed. `None` if a header is cut.
    pub fn upper_layer(&self) -> Option<UpperLayer> {
        let mut nh = self.next_header()?;
        let mut at = HEADER_LEN;
        let mut fragmented = false;
        for _ in 0..16 {
            match nh {
                proto::HOPOPTS
                | proto::DSTOPTS
                | proto::ROUTING
                | proto::MOBILITY_OLD
                | proto::MOBILITY => {
                    let len = (u8_at(self.buf, at + 1)? as usize + 1) * 8;
                    nh = u8_at(self.buf, at)?;
                    at += len;
                }
                proto::FRAGMENT => {
                    let off = be16(self.buf, at + 2)? & 0xfff8;
                    fragmented = true;
                    nh = u8_at(self.buf, at)?;
                    at += 8;
                    if off != 0 {
                        return Some(UpperLayer {
                            protocol: nh,
                            offset: at,
                            fragmented,
                            first_fragment: false,
                        });
                    }
                }
                proto::AH => {
                    let len = (u8_at(self.buf, at + 1)? as usize + 2) * 4;
                    nh = u8_at(self.buf, at)?;
                    at += len;
                }
                _ => {
                    return Some(UpperLayer {
                        protocol: nh,
                        offset: at,
                        fragmented,
                        first_fragment: true,
                    })
                }
            }
        }
        None
    }
}

impl<'a> Ipv6Packet<'a> {
    /// The destination a routing header will deliver to (its last address
    /// for types 0 and 2, the first segment for type 4), else `dst()`.
    /// Pseudo-headers and conversations use this address.
    pub fn final_destination(&self) -> Option<&'a [u8]> {
        let mut nh = self.next_header()?;
        let mut at = HEADER_LEN;
        for _ in 0..8 {
            match nh {
                proto::HOPOPTS | proto::DSTOPTS => {
                    nh = u8_at(self.buf, at)?;
                    at += (u8_at(self.buf, at + 1)? as usize + 1) * 8;
                }
                proto::ROUTING => {
                    let len = u8_at(self.buf, at + 1)? as usize;
                    let segleft = u8_at(self.buf, at + 3)?;
                    if segleft == 0 || len % 2 == 1 || len == 0 {
                        break;
                    }
                    return match u8_at(self.buf, at + 2)? {
                        0 | 2 => slice(self.buf, at + 8 + (len / 2 - 1) * 16, 16),
                        4 => slice(self.buf, at + 8, 16),
                        _ => self.dst(),
                    };
                }
                _ => break,
            }
        }
        self.dst()
    }

    /// Whether a fragment header says more fragments follow.
    pub fn more_fragments(&self) -> Option<bool> {
        let mut nh = self.next_header()?;
        let mut at = HEADER_LEN;
        for _ in 0..8 {
            match nh {
                proto::HOPOPTS | proto::DSTOPTS | proto::ROUTING => {
                    nh = u8_at(self.buf, at)?;
                    at += (u8_at(self.buf, at + 1)? as usize + 1) * 8;
                }
                proto::FRAGMENT => return Some(be16(self.buf, at + 2)? & 1 == 1),
                _ => return Some(false),
            }
        }
        Some(false)
    }
}

/// Where the upper-layer header of an IPv6 packet starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpperLayer {
    /// Protocol number of the upper layer.
    pub protocol: u8,
    /// Offset of its header from the start of the IPv6 header.
    pub offset: usize,
    /// A fragment header was seen.
    pub fragmented: bool,
    /// False when the packet is a non-first fragment (no upper header here).
    pub first_fragment: bool,
}

//! Ethernet II and 802.1Q/802.1ad VLAN tags.

use crate::bytes::{be16, slice};

/// Field offsets of the Ethernet header.
pub mod field {
    /// Destination MAC.
    pub const DST: usize = 0;
    /// Source MAC.
    pub const SRC: usize = 6;
    /// EtherType or 802.3 length.
    pub const ETHERTYPE: usize = 12;
}

/// Length of an untagged Ethernet header.
pub const HEADER_LEN: usize = 14;
/// Largest value of the type field that is an 802.3 length, not a type.
pub const MAX_LENGTH_VALUE: u16 = 1500;

/// EtherTypes this project decodes or names.
pub mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// ARP.
    pub const ARP: u16 = 0x0806;
    /// Reverse ARP.
    pub const REVARP: u16 = 0x8035;
    /// IPv6.
    pub const IPV6: u16 = 0x86dd;
    /// 802.1Q VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// 802.1ad (QinQ) service tag.
    pub const QINQ: u16 = 0x88a8;
    /// Old QinQ tags.
    pub const VLAN_9100: u16 = 0x9100;
    /// Old QinQ tags.
    pub const VLAN_9200: u16 = 0x9200;
    /// Loopback (Ethernet configuration testing protocol).
    pub const LOOPBACK: u16 = 0x9000;
}

/// Whether an EtherType announces a VLAN tag.
pub fn is_vlan(t: u16) -> bool {
    matches!(
        t,
        ethertype::VLAN | ethertype::QINQ | ethertype::VLAN_9100 | ethertype::VLAN_9200
    )
}

/// A view of an Ethernet frame.
#[derive(Clone, Copy, Debug)]
pub struct EthernetFrame<'a> {
    buf: &'a [u8],
}

impl<'a> EthernetFrame<'a> {
    /// Wrap captured bytes.
    pub fn new(buf: &'a [u8]) -> Self {
        EthernetFrame { buf }
    }
    /// Destination MAC address.
    pub fn dst(&self) -> Option<&'a [u8]> {
        slice(self.buf, field::DST, 6)
    }
    /// Source MAC address.
    pub fn src(&self) -> Option<&'a [u8]> {
        slice(self.buf, field::SRC, 6)
    }
    /// The outer EtherType.
    pub fn ethertype(&self) -> Option<u16> {
        be16(self.buf, field::ETHERTYPE)
    }
    /// The inner EtherType after any VLAN tags, and the offset of the payload.
    pub fn payload(&self) -> Option<(u16, usize)> {
        let mut at = field::ETHERTYPE;
        let mut t = be16(self.buf, at)?;
        while is_vlan(t) {
            at += 4;
            t = be16(self.buf, at)?;
        }
        Some((t, at + 2))
    }
}

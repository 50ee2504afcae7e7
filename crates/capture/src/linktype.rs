//! LINKTYPE_ values this project knows by name.

/// Link-layer header types (the LINKTYPE_ numbers stored in capture files).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum LinkType {
    Null,
    Ethernet,
    Raw,
    Loop,
    LinuxSll,
    Ipv4,
    Ipv6,
    LinuxSll2,
    Unknown(u32),
}

impl LinkType {
    /// Known constants.
    pub const NULL: u32 = 0;
    /// Ethernet (DLT_EN10MB).
    pub const ETHERNET: u32 = 1;
    /// Raw IP (LINKTYPE_RAW).
    pub const RAW: u32 = 101;
    /// OpenBSD loopback, AF in network byte order.
    pub const LOOP: u32 = 108;
    /// Linux cooked capture v1.
    pub const LINUX_SLL: u32 = 113;
    /// Raw IPv4.
    pub const IPV4: u32 = 228;
    /// Raw IPv6.
    pub const IPV6: u32 = 229;
    /// Linux cooked capture v2.
    pub const LINUX_SLL2: u32 = 276;

    /// Classify a LINKTYPE_ number.
    pub fn from_u32(v: u32) -> LinkType {
        match v {
            Self::NULL => LinkType::Null,
            Self::ETHERNET => LinkType::Ethernet,
            Self::RAW => LinkType::Raw,
            Self::LOOP => LinkType::Loop,
            Self::LINUX_SLL => LinkType::LinuxSll,
            Self::IPV4 => LinkType::Ipv4,
            Self::IPV6 => LinkType::Ipv6,
            Self::LINUX_SLL2 => LinkType::LinuxSll2,
            // On some systems DLT_RAW is 12 or 14 in old files.
            12 | 14 => LinkType::Raw,
            other => LinkType::Unknown(other),
        }
    }
}

/// The name and description tcpdump prints in "reading from file ..., link-type NAME (DESC)".
pub fn linktype_name(v: u32) -> (&'static str, &'static str) {
    match LinkType::from_u32(v) {
        LinkType::Null => ("NULL", "BSD loopback"),
        LinkType::Ethernet => ("EN10MB", "Ethernet"),
        LinkType::Raw => ("RAW", "Raw IP"),
        LinkType::Loop => ("LOOP", "OpenBSD loopback"),
        LinkType::LinuxSll => ("LINUX_SLL", "Linux cooked v1"),
        LinkType::Ipv4 => ("IPV4", "Raw IPv4"),
        LinkType::Ipv6 => ("IPV6", "Raw IPv6"),
        LinkType::LinuxSll2 => ("LINUX_SLL2", "Linux cooked v2"),
        LinkType::Unknown(_) => ("UNKNOWN", "unsupported link type"),
    }
}

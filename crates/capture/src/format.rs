//! Recognising a capture file and the errors its reading can meet.

use std::fmt;

/// Which container a capture uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Classic libpcap format.
    Pcap {
        /// Whether the file is in the opposite byte order of its writer's reader.
        swapped: bool,
        /// Whether record fractions are nanoseconds.
        nano: bool,
    },
    /// pcapng.
    Pcapng,
}

/// Everything that can go wrong while reading a capture.
///
/// Each variant says where in the file it happened, so a user can tell a
/// truncated download from a corrupt block.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The first bytes are no pcap or pcapng magic.
    #[error("not a pcap or pcapng file")]
    NotCapture,
    /// Nothing at all to read.
    #[error("empty: no capture file header (0 bytes)")]
    Empty,
    /// The file ends in the middle of a header or record.
    #[error("truncated capture: record {record} at byte offset {offset} needs {needed} bytes, only {available} remain")]
    Truncated {
        /// 1-based number of the record that is cut.
        record: u64,
        /// Offset of the record's first byte.
        offset: u64,
        /// Bytes the record claims.
        needed: u64,
        /// Bytes left in the file.
        available: u64,
    },
    /// A header or block claims something impossible.
    #[error("corrupt capture at byte offset {offset}: {what}")]
    Corrupt {
        /// Offset of the offending header.
        offset: u64,
        /// What is wrong with it.
        what: String,
    },
    /// A pcapng file that ends before any interface is described: it can
    /// hold no packet (libpcap refuses it with the same words).
    #[error("the capture file has no Interface Description Blocks")]
    NoInterfaces,
    /// The operating system refused to read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The largest caplen libpcap accepts for any link type (MAXIMUM_SNAPLEN).
pub const MAXIMUM_SNAPLEN: u32 = 262_144;

pub(crate) const PCAP_MAGIC_MICRO: u32 = 0xa1b2_c3d4;
pub(crate) const PCAP_MAGIC_NANO: u32 = 0xa1b2_3c4d;
pub(crate) const PCAPNG_SHB: u32 = 0x0a0d_0d0a;

/// Identify the container from the first four bytes.
pub(crate) fn sniff(head: &[u8]) -> Result<Format, ReadError> {
    if head.is_empty() {
        return Err(ReadError::Empty);
    }
    if head.len() < 4 {
        return Err(ReadError::NotCapture);
    }
    let le = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    let be = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    // "swapped" is relative to little-endian, the only byte order this code
    // is built for; pcap's own notion of host order does not matter here.
    match (le, be) {
        (PCAP_MAGIC_MICRO, _) => Ok(Format::Pcap {
            swapped: false,
            nano: false,
        }),
        (PCAP_MAGIC_NANO, _) => Ok(Format::Pcap {
            swapped: false,
            nano: true,
        }),
        (_, PCAP_MAGIC_MICRO) => Ok(Format::Pcap {
            swapped: true,
            nano: false,
        }),
        (_, PCAP_MAGIC_NANO) => Ok(Format::Pcap {
            swapped: true,
            nano: true,
        }),
        (PCAPNG_SHB, _) => Ok(Format::Pcapng),
        _ => Err(ReadError::NotCapture),
    }
}

/// Reads 16- and 32-bit fields in a file's byte order.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Endian {
    pub big: bool,
}

impl Endian {
    pub fn u16(self, b: &[u8], at: usize) -> u16 {
        let v = [b[at], b[at + 1]];
        if self.big {
            u16::from_be_bytes(v)
        } else {
            u16::from_le_bytes(v)
        }
    }
    pub fn u32(self, b: &[u8], at: usize) -> u32 {
        let v = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if self.big {
            u32::from_be_bytes(v)
        } else {
            u32::from_le_bytes(v)
        }
    }
}

/// What a parser makes of the bytes at the current position.
#[derive(Debug)]
pub(crate) enum Step {
    /// A frame whose data lies at `data_at..data_at + caplen` of the buffer.
    Frame {
        consumed: usize,
        data_at: usize,
        meta: FrameMeta,
    },
    /// A block with no frame (a header, an interface, an unknown block).
    Skip { consumed: usize },
    /// `need` bytes from the current position are required to go on.
    NeedMore { need: usize },
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct FrameMeta {
    pub ts_sec: i64,
    pub ts_frac: i64,
    pub linktype: u32,
    pub caplen: u32,
    pub len: u32,
    pub interface: u32,
}

impl FrameMeta {
    pub fn frame(self, data: &[u8]) -> crate::Frame<'_> {
        crate::Frame {
            ts_sec: self.ts_sec,
            ts_frac: self.ts_frac,
            linktype: self.linktype,
            caplen: self.caplen,
            len: self.len,
            interface: self.interface,
            data,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Format::Pcap { nano: false, .. } => f.write_str("pcap"),
            Format::Pcap { nano: true, .. } => f.write_str("pcap (nanosecond)"),
            Format::Pcapng => f.write_str("pcapng"),
        }
    }
}

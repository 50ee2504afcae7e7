//! Frame sources for tcpscope: pcap and pcapng captures, read through mmap or
//! from a stream.
//!
//! A [`Reader`] yields [`Frame`]s: a timestamp, the link type, the captured
//! and original lengths, and the captured bytes borrowed from the file (no
//! copy, no allocation per frame). Timestamps are converted the way libpcap
//! converts them, so a printer that formats them as tcpdump does prints the
//! same digits, even for records whose fraction field is out of range.
//!
//! ```no_run
//! use tcpscope_capture::{Reader, Precision};
//! let mut reader = Reader::open("trace.pcap".as_ref(), Precision::Micro).unwrap();
//! while let Some(frame) = reader.next_frame().unwrap() {
//!     println!("{} bytes of link type {}", frame.caplen, frame.linktype);
//! }
//! ```
#![deny(missing_docs)]

mod format;
mod linktype;
pub mod live;
mod pcap;
mod pcapng;
mod pipeline;
mod populate;
pub mod privileges;
mod reader;
pub mod rotate;
mod write;

pub use format::{Format, ReadError};
pub use linktype::{linktype_name, LinkType};
pub use pipeline::{FrameSource, Pipelined};
pub use reader::Reader;
pub use write::{WriteFormat, Writer};

/// The precision in which timestamps are delivered, as `--nano` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// Fractions are microseconds (tcpdump's default).
    Micro,
    /// Fractions are nanoseconds (`--nano`).
    Nano,
}

/// One captured frame, borrowed from the reader's buffer.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// Seconds since the epoch, as the capture file's 32-bit field holds it
    /// for pcap (signed, as libpcap reads it) or as computed for pcapng.
    pub ts_sec: i64,
    /// Fraction of a second in the reader's [`Precision`]. It can be out of
    /// range (or negative) when the file says so; printers show it as is.
    pub ts_frac: i64,
    /// The link-layer header type (a LINKTYPE_ value).
    pub linktype: u32,
    /// Bytes captured (the length of `data`).
    pub caplen: u32,
    /// Length of the packet on the wire.
    pub len: u32,
    /// pcapng interface id (0 for pcap).
    pub interface: u32,
    /// The captured bytes.
    pub data: &'a [u8],
}

//! The classic libpcap file format.

use crate::format::{Endian, FrameMeta, ReadError, Step, MAXIMUM_SNAPLEN};
use crate::Precision;

pub(crate) const FILE_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;

/// State carried from the file header to each record.
#[derive(Debug)]
pub(crate) struct PcapState {
    endian: Endian,
    nano: bool,
    pub snaplen: u32,
    pub linktype: u32,
    seen_header: bool,
    /// Records whose caplen exceeded the file's snaplen (cut to it, as libpcap does).
    pub over_snaplen: u64,
}

impl PcapState {
    pub fn new(swapped: bool, nano: bool) -> Self {
        PcapState {
            endian: Endian { big: swapped },
            nano,
            snaplen: 0,
            linktype: 0,
            seen_header: false,
            over_snaplen: 0,
        }
    }

    /// Parse the next item at `buf[0..]`; `offset` is its place in the file.
    pub fn step(
        &mut self,
        buf: &[u8],
        offset: u64,
        precision: Precision,
    ) -> Result<Step, ReadError> {
        if !self.seen_header {
            if buf.len() < FILE_HEADER_LEN {
                return Ok(Step::NeedMore {
                    need: FILE_HEADER_LEN,
                });
            }
            let major = self.endian.u16(buf, 4);
            if major != 2 {
                return Err(ReadError::Corrupt {
                    offset,
                    what: format!("unsupported pcap version {major}"),
                });
            }
            self.snaplen = self.endian.u32(buf, 16);
            // The upper bits of the link type field carry FCS information.
            self.linktype = self.endian.u32(buf, 20) & 0x03ff_ffff;
            self.seen_header = true;
            return Ok(Step::Skip {
                consumed: FILE_HEADER_LEN,
            });
        }
        if buf.len() < RECORD_HEADER_LEN {
            return Ok(Step::NeedMore {
                need: RECORD_HEADER_LEN,
            });
        }
        let e = self.endian;
        // libpcap reads both fields as signed 32-bit values.
        let sec = e.u32(buf, 0) as i32;
        let frac = e.u32(buf, 4) as i32;
        let caplen = e.u32(buf, 8);
        let len = e.u32(buf, 12);
        if caplen > MAXIMUM_SNAPLEN {
            return Err(ReadError::Corrupt {
                offset,
                what: format!("record claims {caplen} captured bytes, more than the maximum of {MAXIMUM_SNAPLEN}"),
            });
        }
        let total = RECORD_HEADER_LEN + caplen as usize;
        if buf.len() < total {
            return Ok(Step::NeedMore { need: total });
        }
        let ts_frac = match (self.nano, precision) {
            (false, Precision::Micro) | (true, Precision::Nano) => frac as i64,
            (true, Precision::Micro) => (frac / 1000) as i64,
            (false, Precision::Nano) => frac.wrapping_mul(1000) as i64,
        };
        let mut delivered = caplen;
        if self.snaplen != 0 && caplen > self.snaplen {
            self.over_snaplen += 1;
            delivered = self.snaplen;
        }
        Ok(Step::Frame {
            consumed: total,
            data_at: RECORD_HEADER_LEN,
            meta: FrameMeta {
                ts_sec: sec as i64,
                ts_frac,
                linktype: self.linktype,
                caplen: delivered,
                len,
                interface: 0,
            },
        })
    }
}

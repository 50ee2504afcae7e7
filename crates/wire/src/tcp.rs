//! TCP header view and option iterator.

use crate::bytes::{be16, be32, slice, u8_at};

/// Field offsets of the TCP header.
pub mod field {
    /// Source port.
    pub const SRC_PORT: usize = 0;
    /// Destination port.
    pub const DST_PORT: usize = 2;
    /// Sequence number.
    pub const SEQ: usize = 4;
    /// Acknowledgment number.
    pub const ACK: usize = 8;
    /// Data offset (upper nibble) and the AE bit.
    pub const OFFSET: usize = 12;
    /// Flags.
    pub const FLAGS: usize = 13;
    /// Window.
    pub const WINDOW: usize = 14;
    /// Checksum.
    pub const CHECKSUM: usize = 16;
    /// Urgent pointer.
    pub const URGENT: usize = 18;
}

/// Length of a TCP header without options.
pub const MIN_HEADER_LEN: usize = 20;

/// The flag bits of byte 13.
pub mod flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
    /// URG.
    pub const URG: u8 = 0x20;
    /// ECN-Echo.
    pub const ECE: u8 = 0x40;
    /// Congestion Window Reduced.
    pub const CWR: u8 = 0x80;

    /// Every flag bit with tcpdump's letter and its name, in bit order,
    /// which is also the order tcpdump prints the letters in. The one table
    /// of flag text in tcpscope.
    pub const TABLE: [(u8, u8, &str); 8] = [
        (FIN, b'F', "FIN"),
        (SYN, b'S', "SYN"),
        (RST, b'R', "RST"),
        (PSH, b'P', "PSH"),
        (ACK, b'.', "ACK"),
        (URG, b'U', "URG"),
        (ECE, b'E', "ECE"),
        (CWR, b'W', "CWR"),
    ];

    /// Append tcpdump's letters for `flags` (`S.`, `FP.`, `none`).
    pub fn push_letters(flags: u8, out: &mut Vec<u8>) {
        if flags == 0 {
            out.extend_from_slice(b"none");
        }
        for (bit, letter, _) in TABLE {
            if flags & bit != 0 {
                out.push(letter);
            }
        }
    }

    /// tcpdump's letters for `flags` as a string.
    pub fn letters(flags: u8) -> String {
        let mut v = Vec::with_capacity(8);
        push_letters(flags, &mut v);
        String::from_utf8(v).unwrap_or_default()
    }

    /// The flags' names joined by commas (`SYN,ACK`).
    pub fn names(flags: u8) -> String {
        let mut s = String::new();
        for (bit, _, name) in TABLE {
            if flags & bit != 0 {
                if !s.is_empty() {
                    s.push(',');
                }
                s.push_str(name);
            }
        }
        s
    }
}

/// TCP option kinds.
pub mod kind {
    /// End of option list.
    pub const EOL: u8 = 0;
    /// No operation.
    pub const NOP: u8 = 1;
    /// Maximum segment size.
    pub const MSS: u8 = 2;
    /// Window scale.
    pub const WSCALE: u8 = 3;
    /// SACK permitted.
    pub const SACK_OK: u8 = 4;
    /// SACK blocks.
    pub const SACK: u8 = 5;
    /// Echo (RFC 1072).
    pub const ECHO: u8 = 6;
    /// Echo reply (RFC 1072).
    pub const ECHO_REPLY: u8 = 7;
    /// Timestamps.
    pub const TIMESTAMP: u8 = 8;
    /// T/TCP CC.
    pub const CC: u8 = 11;
    /// T/TCP CC.NEW.
    pub const CC_NEW: u8 = 12;
    /// T/TCP CC.ECHO.
    pub const CC_ECHO: u8 = 13;
    /// TCP MD5 signature (RFC 2385).
    pub const MD5: u8 = 19;
    /// SCPS capabilities.
    pub const SCPS: u8 = 20;
    /// User timeout (RFC 5482).
    pub const UTO: u8 = 28;
    /// TCP authentication option (RFC 5925).
    pub const TCP_AO: u8 = 29;
    /// Multipath TCP.
    pub const MPTCP: u8 = 30;
    /// TCP Fast Open cookie (RFC 7413).
    pub const FASTOPEN: u8 = 34;
    /// AccECN order 0.
    pub const ACCECN0: u8 = 172;
    /// AccECN order 1.
    pub const ACCECN1: u8 = 174;
    /// Experimental (RFC 4727), with an RFC 6994 magic.
    pub const EXPERIMENT1: u8 = 253;
    /// Experimental (RFC 4727), with an RFC 6994 magic.
    pub const EXPERIMENT2: u8 = 254;
}

/// A view of a TCP segment.
#[derive(Clone, Copy, Debug)]
pub struct TcpPacket<'a> {
    buf: &'a [u8],
}

impl<'a> TcpPacket<'a> {
    /// Wrap captured bytes starting at the TCP header.
    pub fn new(buf: &'a [u8]) -> Self {
        TcpPacket { buf }
    }
    /// The captured bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.buf
    }
    /// Source port.
    pub fn src_port(&self) -> Option<u16> {
        be16(self.buf, field::SRC_PORT)
    }
    /// Destination port.
    pub fn dst_port(&self) -> Option<u16> {
        be16(self.buf, field::DST_PORT)
    }
    /// Sequence number.
    pub fn seq(&self) -> Option<u32> {
        be32(self.buf, field::SEQ)
    }
    /// Acknowledgment number.
    pub fn ack(&self) -> Option<u32> {
        be32(self.buf, field::ACK)
    }
    /// Header length in bytes (data offset * 4).
    pub fn header_len(&self) -> Option<usize> {
        Some((u8_at(self.buf, field::OFFSET)? >> 4) as usize * 4)
    }
    /// Flag byte.
    pub fn flags(&self) -> Option<u8> {
        u8_at(self.buf, field::FLAGS)
    }
    /// Window field, unscaled.
    pub fn window(&self) -> Option<u16> {
        be16(self.buf, field::WINDOW)
    }
    /// Checksum field.
    pub fn checksum(&self) -> Option<u16> {
        be16(self.buf, field::CHECKSUM)
    }
    /// Urgent pointer.
    pub fn urgent(&self) -> Option<u16> {
        be16(self.buf, field::URGENT)
    }
    /// Option bytes as captured (may be cut short).
    pub fn option_bytes(&self) -> &'a [u8] {
        let hl = self.header_len().unwrap_or(0).max(MIN_HEADER_LEN);
        let end = hl.min(self.buf.len());
        self.buf.get(MIN_HEADER_LEN..end).unwrap_or(&[])
    }
    /// Iterate the options.
    pub fn options(&self) -> TcpOptions<'a> {
        TcpOptions {
            buf: self.option_bytes(),
            at: 0,
        }
    }
    /// Payload as captured.
    pub fn payload(&self) -> &'a [u8] {
        let hl = self.header_len().unwrap_or(self.buf.len());
        self.buf.get(hl..).unwrap_or(&[])
    }
}

/// One TCP option as found in the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpOption<'a> {
    /// End of option list; iteration stops after it.
    Eol,
    /// Padding.
    Nop,
    /// Maximum segment size.
    Mss(u16),
    /// Window scale shift.
    WindowScale(u8),
    /// SACK permitted.
    SackPermitted,
    /// SACK blocks: pairs of (left, right) edges, 8 bytes each.
    Sack(&'a [u8]),
    /// Timestamps value and echo reply.
    Timestamp {
        /// TSval.
        val: u32,
        /// TSecr.
        ecr: u32,
    },
    /// Any other kind, with its data.
    Other {
        /// Option kind.
        kind: u8,
        /// Data after kind and length.
        data: &'a [u8],
    },
    /// An option whose length byte is impossible or runs past the header.
    Malformed {
        /// Option kind.
        kind: u8,
    },
}

/// Iterator over the options of a TCP header; stops at EOL, at the end, or
/// after a malformed option.
#[derive(Clone, Debug)]
pub struct TcpOptions<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Iterator for TcpOptions<'a> {
    type Item = TcpOption<'a>;

    fn next(&mut self) -> Option<TcpOption<'a>> {
        let kind_byte = u8_at(self.buf, self.at)?;
        match kind_byte {
            kind::EOL => {
                self.at = self.buf.len();
                return Some(TcpOption::Eol);
            }
            kind::NOP => {
                self.at += 1;
                return Some(TcpOption::Nop);
            }
            _ => {}
        }
        let len = match u8_at(self.buf, self.at + 1) {
            Some(l) if l >= 2 => l as usize,
            _ => {
                self.at = self.buf.len();
                return Some(TcpOption::Malformed { kind: kind_byte });
            }
        };
        let data = match slice(self.buf, self.at + 2, len - 2) {
            Some(d) => d,
            None => {
                self.at = self.buf.len();
                return Some(TcpOption::Malformed { kind: kind_byte });
            }
        };
        self.at += len;
        Some(match (kind_byte, data.len()) {
            (kind::MSS, 2) => TcpOption::Mss(u16::from_be_bytes([data[0], data[1]])),
            (kind::WSCALE, 1) => TcpOption::WindowScale(data[0]),
            (kind::SACK_OK, 0) => TcpOption::SackPermitted,
            (kind::SACK, n) if n % 8 == 0 => TcpOption::Sack(data),
            (kind::TIMESTAMP, 8) => TcpOption::Timestamp {
                val: u32::from_be_bytes([data[0], data[1], data[2], data[3]]),
                ecr: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
            },
            _ => TcpOption::Other {
                kind: kind_byte,
                data,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syn_with(opts: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; 20];
        v[12] = (((20 + opts.len()) / 4) as u8) << 4;
        v[13] = flags::SYN;
        v.extend_from_slice(opts);
        v
    }

    #[test]
    fn parses_a_linux_syn() {
        let seg = syn_with(&[
            2, 4, 0xff, 0xd7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
        ]);
        let got: Vec<_> = TcpPacket::new(&seg).options().collect();
        assert_eq!(
            got,
            vec![
                TcpOption::Mss(65495),
                TcpOption::SackPermitted,
                TcpOption::Timestamp { val: 1, ecr: 0 },
                TcpOption::Nop,
                TcpOption::WindowScale(7)
            ]
        );
    }

    #[test]
    fn bad_length_is_reported_not_fatal() {
        let seg = syn_with(&[2, 1, 0, 0]);
        let got: Vec<_> = TcpPacket::new(&seg).options().collect();
        assert_eq!(got, vec![TcpOption::Malformed { kind: 2 }]);
        let seg = syn_with(&[8, 40, 0, 0]);
        let got: Vec<_> = TcpPacket::new(&seg).options().collect();
        assert_eq!(got, vec![TcpOption::Malformed { kind: 8 }]);
    }

    #[test]
    fn truncated_header_reads_none() {
        let seg = [0u8, 80, 0, 81, 1];
        let t = TcpPacket::new(&seg);
        assert_eq!(t.dst_port(), Some(81));
        assert_eq!(t.seq(), None);
        assert_eq!(t.options().count(), 0);
    }
}

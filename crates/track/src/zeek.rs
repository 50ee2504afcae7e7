//! Zeek's summary of a connection: its conn_state and its history string,
//! with Zeek's own definitions (base/protocols/conn/main.zeek).

use std::fmt;

use crate::analysis::Flags;
use crate::conn::{Conn, Side};
use crate::segment::{flag, Segment};

/// Zeek's history string, built as packets arrive. The letters, upper case
/// when the originator (the client) sent the packet:
///
/// | letter | meaning |
/// | --- | --- |
/// | s | a SYN without the ACK bit |
/// | h | a SYN-ACK ("handshake") |
/// | a | a pure ACK |
/// | d | a packet with payload ("data") |
/// | f | a packet with FIN |
/// | r | a packet with RST |
/// | c | a packet with a bad checksum (not computed here) |
/// | g | a content gap: a segment after a hole in the sequence space |
/// | t | a retransmitted packet with payload |
/// | w | a packet advertising a zero window |
/// | i | an inconsistent packet, e.g. FIN and RST both set (not computed here) |
/// | q | a multi-flag packet: SYN with FIN or RST |
/// | ^ | the connection's direction was flipped (not computed here) |
///
/// a, d, i and q are recorded once per direction; s, h, f and r again when
/// the sequence number differs; c, g, t and w at the 1st, 10th, 100th ...
/// occurrence.
#[derive(Clone, Debug, Default)]
pub(crate) struct History {
    text: [u8; 32],
    len: u8,
    once: u32,
    last_seq: [[Option<u32>; 4]; 2],
    counts: [[u64; 4]; 2],
}

impl History {
    pub(crate) fn push(&mut self, c: u8) {
        if (self.len as usize) < self.text.len() {
            self.text[self.len as usize] = c;
            self.len += 1;
        }
    }
    pub(crate) fn letter(c: u8, orig: bool) -> u8 {
        if orig {
            c.to_ascii_uppercase()
        } else {
            c
        }
    }
    /// 'a', 'd', 'i', 'q': once per direction.
    pub(crate) fn once(&mut self, c: u8, orig: bool) {
        let bit = 1u32 << ((c - b'a') as u32 % 16 + if orig { 16 } else { 0 });
        if self.once & bit == 0 {
            self.once |= bit;
            self.push(Self::letter(c, orig));
        }
    }
    /// 's', 'h', 'f', 'r': again whenever the sequence number differs.
    pub(crate) fn by_seq(&mut self, c: u8, orig: bool, seq: u32) {
        let slot = match c {
            b's' => 0,
            b'h' => 1,
            b'f' => 2,
            _ => 3,
        };
        let d = !orig as usize;
        if self.last_seq[d][slot] != Some(seq) {
            self.last_seq[d][slot] = Some(seq);
            self.push(Self::letter(c, orig));
        }
    }
    /// 't', 'w', 'g', 'c': at the 1st, 10th, 100th ... occurrence.
    pub(crate) fn logarithmic(&mut self, c: u8, orig: bool) {
        let slot = match c {
            b't' => 0,
            b'w' => 1,
            b'g' => 2,
            _ => 3,
        };
        let d = !orig as usize;
        self.counts[d][slot] += 1;
        let n = self.counts[d][slot];
        if n == 1 || (n >= 10 && is_power_of_ten(n)) {
            self.push(Self::letter(c, orig));
        }
    }
    /// Record one packet; `orig`: the client sent it; `retransmitted`: the
    /// analysis called it a retransmission of some kind.
    pub(crate) fn record(&mut self, seg: &Segment, orig: bool, f: Flags, retransmitted: bool) {
        let (syn, ack, fin, rst) = (
            seg.has(flag::SYN),
            seg.has(flag::ACK),
            seg.has(flag::FIN),
            seg.has(flag::RST),
        );
        if syn && rst || syn && fin {
            self.once(b'q', orig);
        }
        if syn && !ack {
            self.by_seq(b's', orig, seg.seq);
        } else if syn {
            self.by_seq(b'h', orig, seg.seq);
        }
        if fin {
            self.by_seq(b'f', orig, seg.seq);
        }
        if rst {
            self.by_seq(b'r', orig, seg.seq);
        }
        if seg.len > 0 {
            self.once(b'd', orig);
        } else if ack && !syn && !fin && !rst {
            self.once(b'a', orig);
        }
        if retransmitted && seg.len > 0 {
            self.logarithmic(b't', orig);
        }
        if f.has(Flags::ZERO_WINDOW) {
            self.logarithmic(b'w', orig);
        }
        if f.has(Flags::LOST_SEGMENT) {
            self.logarithmic(b'g', orig);
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text[..self.len as usize]).unwrap_or("")
    }
}

fn is_power_of_ten(mut n: u64) -> bool {
    while n >= 10 && n % 10 == 0 {
        n /= 10;
    }
    n == 1
}

/// Zeek's conn_state: how far the connection got and how it ended. Each
/// value's doc is Zeek's one-line definition ("originator" is the client).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnState {
    /// S0: Connection attempt seen, no reply.
    S0,
    /// S1: Connection established, not terminated.
    S1,
    /// SF: Normal establishment and termination.
    SF,
    /// REJ: Connection attempt rejected.
    REJ,
    /// S2: Connection established and close attempt by originator seen (but no reply from responder).
    S2,
    /// S3: Connection established and close attempt by responder seen (but no reply from originator).
    S3,
    /// RSTO: Connection established, originator aborted (sent a RST).
    RSTO,
    /// RSTR: Responder sent a RST.
    RSTR,
    /// RSTOS0: Originator sent a SYN followed by a RST, we never saw a SYN-ACK from the responder.
    RSTOS0,
    /// RSTRH: Responder sent a SYN ACK followed by a RST, we never saw a SYN from the (purported) originator.
    RSTRH,
    /// SH: Originator sent a SYN followed by a FIN, we never saw a SYN ACK from the responder (hence the connection was "half" open).
    SH,
    /// SHR: Responder sent a SYN ACK followed by a FIN, we never saw a SYN from the originator.
    SHR,
    /// OTH: No SYN seen, just midstream traffic (one example of this is a "partial connection" that was not later closed).
    OTH,
}

impl ConnState {
    /// The value as Zeek writes it.
    pub fn name(self) -> &'static str {
        match self {
            ConnState::S0 => "S0",
            ConnState::S1 => "S1",
            ConnState::SF => "SF",
            ConnState::REJ => "REJ",
            ConnState::S2 => "S2",
            ConnState::S3 => "S3",
            ConnState::RSTO => "RSTO",
            ConnState::RSTR => "RSTR",
            ConnState::RSTOS0 => "RSTOS0",
            ConnState::RSTRH => "RSTRH",
            ConnState::SH => "SH",
            ConnState::SHR => "SHR",
            ConnState::OTH => "OTH",
        }
    }
}

impl fmt::Display for ConnState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Conn {
    /// Zeek's history string.
    pub fn history(&self) -> &str {
        self.history.as_str()
    }

    /// Zeek's conn_state.
    pub fn conn_state(&self) -> ConnState {
        let (o, r) = (&self.stats[0], &self.stats[1]);
        let established = o.syn && r.synack;
        if self.roles_guessed && !o.syn && !r.synack {
            return ConnState::OTH;
        }
        if o.syn && !r.synack {
            if r.rst {
                return ConnState::REJ;
            }
            if o.rst {
                return ConnState::RSTOS0;
            }
            if o.fin {
                return ConnState::SH;
            }
            return ConnState::S0;
        }
        if !o.syn && r.synack {
            if r.rst {
                return ConnState::RSTRH;
            }
            if r.fin {
                return ConnState::SHR;
            }
            return ConnState::OTH;
        }
        if established {
            if o.rst && self.first_rst == Some(Side::Client) {
                return ConnState::RSTO;
            }
            if r.rst {
                return ConnState::RSTR;
            }
            if o.rst {
                return ConnState::RSTO;
            }
            if o.fin && r.fin {
                return ConnState::SF;
            }
            if o.fin {
                return ConnState::S2;
            }
            if r.fin {
                return ConnState::S3;
            }
            return ConnState::S1;
        }
        ConnState::OTH
    }
}

#[cfg(test)]
mod tests {
    use super::ConnState;
    use crate::conn::testing::seg;
    use crate::conn::Conn;
    use crate::segment::flag::{ACK, FIN, PSH, RST, SYN};

    #[test]
    fn a_normal_connection_is_sf_with_its_history() {
        let syn = seg(0, true, SYN, 100, 0, 0);
        let mut c = Conn::new(1, &syn);
        for s in [
            syn,
            seg(1, false, SYN | ACK, 500, 101, 0),
            seg(2, true, ACK, 101, 501, 0),
            seg(3, true, PSH | ACK, 101, 501, 10),
            seg(4, false, ACK, 501, 111, 0),
            seg(5, true, FIN | ACK, 111, 501, 0),
            seg(6, false, FIN | ACK, 501, 112, 0),
            seg(7, true, ACK, 112, 502, 0),
        ] {
            c.observe(&s);
        }
        assert_eq!(c.conn_state(), ConnState::SF);
        assert_eq!(c.history(), "ShADaFf");
    }

    #[test]
    fn a_refused_attempt_is_rej() {
        let syn = seg(0, true, SYN, 100, 0, 0);
        let mut c = Conn::new(1, &syn);
        c.observe(&syn);
        c.observe(&seg(1, false, RST | ACK, 0, 101, 0));
        assert_eq!(c.conn_state(), ConnState::REJ);
        assert_eq!(c.history(), "Sr");
    }

    #[test]
    fn retransmissions_are_logged_at_powers_of_ten() {
        assert!(super::is_power_of_ten(10) && super::is_power_of_ten(1000));
        assert!(!super::is_power_of_ten(20) && !super::is_power_of_ten(11));
    }
}

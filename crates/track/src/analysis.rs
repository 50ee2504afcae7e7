//! Wireshark's TCP analysis flags, with its definitions (packet-tcp.c,
//! `tcp_analyze_sequence_number`), computed per direction. Each flag's
//! definition is written on its constant and again above the test that sets
//! it, as packet-tcp.c does.

use tcpscope_wire::SeqNumber as Seq;

use crate::conn::{Conn, Observation};
use crate::segment::{flag, Segment, Ts};

/// A set of analysis flags on one packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(pub u32);

macro_rules! flag_consts {
    ($($(#[$doc:meta])* $name:ident = $bit:expr, $label:expr, $key:expr;)*) => {
        impl Flags {
            $($(#[$doc])* pub const $name: u32 = 1 << $bit;)*
            /// (bit, Wireshark's label, JSON key) for every flag, in display order.
            pub const ALL: &'static [(u32, &'static str, &'static str)] = &[$((1 << $bit, $label, $key),)*];
        }
    };
}

flag_consts! {
    /// Data (or SYN/FIN) that does not advance the sequence number.
    RETRANSMISSION = 0, "TCP Retransmission", "retransmission";
    /// A retransmission within 20 ms of the second duplicate ACK asking for it.
    FAST_RETRANSMISSION = 1, "TCP Fast Retransmission", "fast_retransmission";
    /// A retransmission of data the receiver had already acknowledged.
    SPURIOUS_RETRANSMISSION = 2, "TCP Spurious Retransmission", "spurious_retransmission";
    /// Old sequence numbers, but sooner after the highest one than the handshake RTT.
    OUT_OF_ORDER = 3, "TCP Out-Of-Order", "out_of_order";
    /// The segment starts beyond the next expected sequence number.
    LOST_SEGMENT = 4, "TCP Previous segment not captured", "lost_segment";
    /// The ACK covers data this capture never saw.
    ACKED_UNSEEN = 5, "TCP ACKed unseen segment", "acked_unseen_segment";
    /// Same ACK, window and sequence as the previous segment, no data.
    DUPLICATE_ACK = 6, "TCP Dup ACK", "duplicate_ack";
    /// The sender advertises a zero receive window.
    ZERO_WINDOW = 7, "TCP ZeroWindow", "zero_window";
    /// One byte at the next sequence number while the peer's window is zero.
    ZERO_WINDOW_PROBE = 8, "TCP ZeroWindowProbe", "zero_window_probe";
    /// The answer to a zero window probe.
    ZERO_WINDOW_PROBE_ACK = 9, "TCP ZeroWindowProbeAck", "zero_window_probe_ack";
    /// The data fills the peer's advertised window exactly.
    WINDOW_FULL = 10, "TCP Window Full", "window_full";
    /// No data, same sequence and ACK, a new window.
    WINDOW_UPDATE = 11, "TCP Window Update", "window_update";
    /// 0 or 1 byte one below the next sequence number.
    KEEP_ALIVE = 12, "TCP Keep-Alive", "keep_alive";
    /// The answer to a keep-alive.
    KEEP_ALIVE_ACK = 13, "TCP Keep-Alive ACK", "keep_alive_ack";
    /// A new SYN on a 4-tuple that was used before.
    REUSED_PORTS = 14, "TCP Port numbers reused", "reused_ports";
    /// The first SACK block reports data received twice (RFC 2883): below the
    /// cumulative ACK, or inside the second block.
    DSACK = 15, "D-SACK Sequence", "dsack";
}

impl Flags {
    /// Whether `bit` is set.
    pub fn has(self, bit: u32) -> bool {
        self.0 & bit != 0
    }
    /// Whether no flag is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// Set `bit`.
    pub fn set(&mut self, bit: u32) {
        self.0 |= bit;
    }
    /// Whether the segment re-sends data: a retransmission of any kind
    /// (plain, fast or spurious).
    pub fn retransmitted(self) -> bool {
        self.has(
            Flags::RETRANSMISSION | Flags::FAST_RETRANSMISSION | Flags::SPURIOUS_RETRANSMISSION,
        )
    }
}

/// Wireshark's per-direction sequence analysis state.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SeqInfo {
    pub(crate) isn: u32,
    pub(crate) isn_set: bool,
    pub(crate) nextseq: u32,
    pub(crate) nextseq_time: Ts,
    pub(crate) lastack: u32,
    pub(crate) lastack_time: Ts,
    pub(crate) maxseqtobeacked: u32,
    pub(crate) dupacknum: i32,
    pub(crate) window: u32,
    /// -1 unknown (no SYN seen), -2 SYN without the option, else the shift.
    pub(crate) win_scale: i8,
    pub(crate) last_flags: Flags,
    pub(crate) seen_ack: bool,
}

impl Conn {
    /// The SACK blocks, relative to the peer's ISN, and whether the first is
    /// a D-SACK (RFC 2883: it lies below the cumulative ACK, or inside the
    /// second block), as Wireshark decides it.
    pub(crate) fn sack(&mut self, seg: &Segment, r: usize, obs: &mut Observation) {
        let blocks = &seg.sack[..seg.nsack as usize];
        let Some(&(l1, r1)) = blocks.first() else {
            return;
        };
        let isn = self.seq[r].isn;
        for (i, &(l, rr)) in blocks.iter().enumerate() {
            obs.sack[i] = (l.wrapping_sub(isn), rr.wrapping_sub(isn));
        }
        obs.nsack = seg.nsack;
        let inside_second = blocks
            .get(1)
            .is_some_and(|&(l2, r2)| Seq(l1) >= Seq(l2) && Seq(r1) <= Seq(r2));
        if Seq(l1) < Seq(seg.ack) || inside_second {
            obs.flags.set(Flags::DSACK);
        }
    }

    /// Wireshark's `tcp_analyze_sequence_number`, on absolute numbers.
    pub(crate) fn analyze(&mut self, seg: &Segment, d: usize, r: usize, obs: &mut Observation) {
        let (seq, ack, seglen, window) = (seg.seq, seg.ack, seg.len, seg.win as u32);
        let sfr = seg.flags & (flag::SYN | flag::FIN | flag::RST) != 0;
        let f = &mut obs.flags;
        let fwd = self.seq[d];
        let rev = self.seq[r];
        let mut skip_rest = false;

        // ZERO WINDOW PROBE: one byte at the next expected sequence number
        // while the peer's last window was zero. Nothing else is checked.
        if seglen == 1 && seq == fwd.nextseq && rev.window == 0 && rev.seen_ack {
            f.set(Flags::ZERO_WINDOW_PROBE);
            skip_rest = true;
        }
        if !skip_rest {
            // ZERO WINDOW: the window is zero and none of SYN, FIN, RST is set.
            if window == 0 && !sfr {
                f.set(Flags::ZERO_WINDOW);
            }
            // LOST SEGMENT: the segment starts beyond the next expected
            // sequence number (not an RST).
            if fwd.nextseq != 0 && Seq(seq) > Seq(fwd.nextseq) && !seg.has(flag::RST) {
                f.set(Flags::LOST_SEGMENT);
            }
            // KEEP ALIVE: 0 or 1 byte, one below the next expected sequence
            // number, no SYN, FIN or RST.
            if seglen <= 1 && seq == fwd.nextseq.wrapping_sub(1) && !sfr {
                f.set(Flags::KEEP_ALIVE);
            }
            let same =
                seglen == 0 && seq == fwd.nextseq && ack == fwd.lastack && !sfr && fwd.seen_ack;
            // WINDOW UPDATE: no data, same sequence and ACK as this side's
            // last segment, a new non-zero window.
            if same && window != 0 && window != fwd.window {
                f.set(Flags::WINDOW_UPDATE);
            }
            // WINDOW FULL: the data ends exactly at the right edge of the
            // window the peer advertised last.
            if seglen > 0 && rev.win_scale != -1 && rev.seen_ack && !sfr {
                let sh = if rev.win_scale < 0 {
                    0
                } else {
                    rev.win_scale as u32
                };
                if seq.wrapping_add(seglen) == rev.lastack.wrapping_add(rev.window << sh) {
                    f.set(Flags::WINDOW_FULL);
                }
            }
            // KEEP ALIVE ACK: a duplicate of this side's last ACK, answering
            // a keep-alive. ZERO WINDOW PROBE ACK: the same, zero window,
            // answering a probe. DUPLICATE ACK: the same, with a non-zero
            // window, answering anything else; numbered from 1.
            if same && window != 0 && window == fwd.window && rev.last_flags.has(Flags::KEEP_ALIVE)
            {
                f.set(Flags::KEEP_ALIVE_ACK);
            } else if same
                && window == 0
                && window == fwd.window
                && rev.last_flags.has(Flags::ZERO_WINDOW_PROBE)
            {
                f.set(Flags::ZERO_WINDOW_PROBE_ACK);
            } else if same && window != 0 && window == fwd.window {
                let n = if fwd.dupacknum < 0 {
                    1
                } else {
                    fwd.dupacknum + 1
                };
                self.seq[d].dupacknum = n;
                f.set(Flags::DUPLICATE_ACK);
                obs.dupack = n as u32;
            }
        }
        // finished_fwd:
        if ack != self.seq[d].lastack {
            self.seq[d].dupacknum = 0;
        }
        // ACKED UNSEEN: the ACK covers data beyond what the capture saw the
        // peer send.
        if rev.maxseqtobeacked != 0 && Seq(ack) > Seq(rev.maxseqtobeacked) && seg.has(flag::ACK) {
            if Seq(rev.maxseqtobeacked) > Seq(rev.nextseq) {
                self.seq[r].maxseqtobeacked = rev.nextseq;
                f.set(Flags::ACKED_UNSEEN);
            } else {
                if self.seq[r].dupacknum == 0 {
                    f.set(Flags::ACKED_UNSEEN);
                }
                self.seq[r].dupacknum = -1;
            }
        }
        if (seglen > 0 || seg.flags & (flag::SYN | flag::FIN) != 0) && !f.has(Flags::KEEP_ALIVE) {
            let mut not_advanced = fwd.nextseq != 0 && Seq(seq) < Seq(fwd.nextseq);
            if seglen > 1 && fwd.nextseq.wrapping_sub(1) == seq {
                not_advanced = false;
            }
            // SPURIOUS RETRANSMISSION: data the receiver had already
            // acknowledged. Otherwise, for a segment that does not advance the
            // sequence: FAST RETRANSMISSION when two or more duplicate ACKs
            // asked for exactly it within 20 ms; OUT-OF-ORDER when it comes
            // sooner after the highest segment than the handshake RTT (3 ms
            // when unknown) and is not a plain repeat; else RETRANSMISSION.
            if seglen > 0
                && rev.lastack != 0
                && Seq(seq.wrapping_add(seglen)) <= Seq(rev.lastack)
                && rev.seen_ack
            {
                f.set(Flags::SPURIOUS_RETRANSMISSION);
            } else {
                // Only a segment that does not advance needs the clock.
                let next_after = seq
                    .wrapping_add(seglen)
                    .wrapping_add((seg.flags & (flag::SYN | flag::FIN) != 0) as u32);
                if !not_advanced {
                } else if rev.dupacknum >= 2
                    && rev.lastack == seq
                    && seg.ts.since(rev.lastack_time) < 0.02
                {
                    f.set(Flags::FAST_RETRANSMISSION);
                } else if seg.ts.since(fwd.nextseq_time) < self.irtt.unwrap_or(0.003)
                    && fwd.nextseq != next_after
                {
                    f.set(Flags::OUT_OF_ORDER);
                } else {
                    f.set(Flags::RETRANSMISSION);
                }
            }
        }
        // Update this direction.
        let mut nextseq = seq.wrapping_add(seglen);
        if seg.flags & (flag::SYN | flag::FIN) != 0 {
            nextseq = nextseq.wrapping_add(1);
        }
        let s = &mut self.seq[d];
        if (Seq(nextseq) > Seq(s.nextseq) || s.nextseq == 0) && !f.has(Flags::ZERO_WINDOW_PROBE) {
            s.nextseq = nextseq;
            s.nextseq_time = seg.ts;
        }
        if (seq == s.maxseqtobeacked || s.maxseqtobeacked == 0) && !f.has(Flags::ZERO_WINDOW_PROBE)
        {
            s.maxseqtobeacked = s.nextseq;
        }
        s.window = window;
        s.lastack = ack;
        s.lastack_time = seg.ts;
        s.last_flags = *f;
        if seg.has(flag::ACK) {
            s.seen_ack = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Flags;
    use crate::conn::testing::seg;
    use crate::conn::Conn;
    use crate::segment::flag::{ACK, SYN};

    fn open() -> Conn {
        let syn = seg(0, true, SYN, 100, 0, 0);
        let mut c = Conn::new(1, &syn);
        c.observe(&syn);
        c.observe(&seg(1, false, SYN | ACK, 500, 101, 0));
        c.observe(&seg(2, true, ACK, 101, 501, 0));
        c
    }

    #[test]
    fn duplicate_acks_are_numbered() {
        let mut c = open();
        c.observe(&seg(3, false, ACK, 501, 101, 100));
        c.observe(&seg(4, true, ACK, 101, 601, 0));
        let first = c.observe(&seg(5, true, ACK, 101, 601, 0));
        let second = c.observe(&seg(6, true, ACK, 101, 601, 0));
        assert!(first.flags.has(Flags::DUPLICATE_ACK) && first.dupack == 1);
        assert!(second.flags.has(Flags::DUPLICATE_ACK) && second.dupack == 2);
    }

    #[test]
    fn old_data_is_a_retransmission_and_acked_data_a_spurious_one() {
        let mut c = open();
        c.observe(&seg(3, false, ACK, 501, 101, 100));
        let again = c.observe(&seg(400, false, ACK, 501, 101, 100));
        assert!(again.flags.has(Flags::RETRANSMISSION), "{:?}", again.flags);
        c.observe(&seg(401, true, ACK, 101, 601, 0));
        let spurious = c.observe(&seg(800, false, ACK, 501, 101, 100));
        assert!(spurious.flags.has(Flags::SPURIOUS_RETRANSMISSION));
    }

    #[test]
    fn a_zero_window_and_a_keep_alive() {
        let mut c = open();
        let mut z = seg(3, true, ACK, 101, 501, 0);
        z.win = 0;
        assert!(c.observe(&z).flags.has(Flags::ZERO_WINDOW));
        let ka = c.observe(&seg(5000, false, ACK, 500, 101, 0));
        assert!(ka.flags.has(Flags::KEEP_ALIVE));
    }
}

//! Wireshark's TCP analysis flags, with its definitions (packet-tcp.c,
//! `tcp_analyze_sequence_number`), computed per direction.

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
}

/// Sequence comparisons modulo 2^32.
pub fn seq_gt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}
/// a < b modulo 2^32.
pub fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}
/// a >= b modulo 2^32.
pub fn seq_ge(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) >= 0
}
/// a <= b modulo 2^32.
pub fn seq_le(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) <= 0
}

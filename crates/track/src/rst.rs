//! Why each RST was sent, and whether its receiver obeyed it, from the
//! wire alone.
//!
//! How Linux makes an RST decides what it looks like:
//!
//! - A socket that aborts (close() with unread data, SO_LINGER 0, a
//!   keep-alive or retransmission timeout) sends RST+ACK at its next
//!   sequence number (`tcp_send_active_reset`).
//! - A segment that finds no socket to take it (no listener, a full accept
//!   queue with tcp_abort_on_overflow=1, data to a socket already closed,
//!   a host that restarted) is answered by `tcp_v4_send_reset`: to a
//!   segment with ACK, a *bare* RST (no ACK) whose sequence number is that
//!   segment's acknowledgment; to one without (a SYN), RST+ACK with
//!   sequence 0 acknowledging it.
//! - A TIME-WAIT socket answers anything but an RST with an ACK, never
//!   with an RST.
//!
//! And whether the receiver obeys it (RFC 5961, `tcp_validate_incoming`):
//! only an RST at exactly the next expected sequence number ends the
//! connection (in CLOSE-WAIT, LAST-ACK and CLOSING one below it too); one
//! elsewhere inside the receive window draws a challenge ACK; one outside
//! is dropped.

use tcpscope_wire::SeqNumber as Seq;

use crate::conn::{Conn, Side};
use crate::segment::{flag, Segment};
use crate::state::State;

/// Why an RST was sent, as far as the wire can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RstCause {
    /// It answered a SYN: nothing listens on the port (or a firewall
    /// rejects with tcp-reset, which looks the same).
    AnswerToSyn,
    /// It answered the handshake's final ACK: the listener's accept queue
    /// was full and tcp_abort_on_overflow=1 (or the listener had closed).
    AcceptQueueAbort,
    /// It answered data that arrived after its sender had closed: the peer
    /// wrote on a connection this side had already closed (the keep-alive
    /// race, or close() before reading everything).
    DataAfterClose,
    /// A bare RST from a side that had no socket for the segment: the host
    /// restarted, the port closed mid-stream, or its TIME-WAIT had already
    /// gone (a full TIME-WAIT table, tcp_max_tw_buckets).
    NoSocket,
    /// RST+ACK from a server that never sent more than its SYN-ACK: the
    /// connection was never accept()ed, and the listener closed (or its
    /// process exited) with it still in the accept queue.
    ListenerClosed,
    /// The sender aborted on close(): the peer's last data got no reply, so
    /// close() with that data unread is likely (SO_LINGER 0 looks the same).
    AbortUnread,
    /// The sender aborted on close() with nothing unread the capture shows:
    /// SO_LINGER 0 (or data unread from earlier).
    AbortLinger,
    /// The sender's keep-alive probes went unanswered: its application gets
    /// ETIMEDOUT.
    KeepAliveTimeout,
    /// The sender's retransmissions went unanswered and it gave up.
    RetransmissionTimeout,
    /// An RST to a side in TIME-WAIT: it ends TIME-WAIT early (RFC 1337's
    /// "TIME-WAIT assassination"; Linux allows it with tcp_rfc1337=0).
    TimeWaitAssassination,
    /// None of the above fits.
    Unknown,
}

impl RstCause {
    /// The machine word, as JSON and CSV give it.
    pub fn key(self) -> &'static str {
        match self {
            RstCause::AnswerToSyn => "answer_to_syn",
            RstCause::AcceptQueueAbort => "accept_queue_abort",
            RstCause::DataAfterClose => "data_after_close",
            RstCause::NoSocket => "no_socket",
            RstCause::ListenerClosed => "listener_closed",
            RstCause::AbortUnread => "abort_unread",
            RstCause::AbortLinger => "abort_linger",
            RstCause::KeepAliveTimeout => "keepalive_timeout",
            RstCause::RetransmissionTimeout => "retransmission_timeout",
            RstCause::TimeWaitAssassination => "time_wait_assassination",
            RstCause::Unknown => "unknown",
        }
    }

    /// The cause in words.
    pub fn text(self) -> &'static str {
        match self {
            RstCause::AnswerToSyn => {
                "answer to a SYN: nothing listens on the port (or a firewall rejects with tcp-reset)"
            }
            RstCause::AcceptQueueAbort => {
                "answer to the handshake's last ACK: the accept queue was full with tcp_abort_on_overflow=1 (or the listener had closed)"
            }
            RstCause::DataAfterClose => {
                "answer to data that arrived after this side had closed: the peer wrote on a connection already closed (the keep-alive race)"
            }
            RstCause::NoSocket => {
                "no socket for the segment: the host restarted, the port closed mid-stream, or its TIME-WAIT was already gone"
            }
            RstCause::ListenerClosed => {
                "never accepted: the listener closed (or its process exited) with the connection still in its accept queue"
            }
            RstCause::AbortUnread => {
                "abort on close: close() with unread data, or SO_LINGER 0 (the wire cannot tell them apart; the peer's last data got no reply, so unread data is likely)"
            }
            RstCause::AbortLinger => {
                "abort on close: SO_LINGER 0, or close() with unread data (the wire cannot tell them apart; every request got a reply, so SO_LINGER 0 is likely)"
            }
            RstCause::KeepAliveTimeout => {
                "keep-alive timeout: its keep-alive probes went unanswered"
            }
            RstCause::RetransmissionTimeout => {
                "retransmission timeout: its retransmissions went unanswered"
            }
            RstCause::TimeWaitAssassination => {
                "TIME-WAIT assassination (RFC 1337): an RST ends the peer's TIME-WAIT early"
            }
            RstCause::Unknown => "unknown",
        }
    }
}

/// What the receiver does with an RST.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RstEffect {
    /// At the next expected sequence number: the connection ends.
    Accepted,
    /// Inside the window but not at the next sequence number: the receiver
    /// answers with a challenge ACK and the connection goes on.
    Challenged,
    /// Outside the window: dropped, and the connection goes on.
    Ignored,
}

impl RstEffect {
    /// The machine word.
    pub fn key(self) -> &'static str {
        match self {
            RstEffect::Accepted => "accepted",
            RstEffect::Challenged => "challenged",
            RstEffect::Ignored => "ignored",
        }
    }
}

/// One RST: why it was sent and what it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RstVerdict {
    /// Why it was sent.
    pub cause: RstCause,
    /// What its receiver did with it.
    pub effect: RstEffect,
}

impl Conn {
    /// Whether the receiver of this RST (sent by direction `d`) obeys it.
    pub(crate) fn rst_effect(&self, seg: &Segment, d: usize, receiver: State) -> RstEffect {
        let r = 1 - d;
        // The receiver's next expected sequence number, as far as the
        // capture can tell: what it last acknowledged, or everything the
        // sender sent (if what is in flight arrives first).
        let acked = self.last_ack[r];
        let sent = self.sent_end[d];
        if receiver == State::SynSent {
            // RFC 9293: in SYN-SENT an RST is acceptable if it acknowledges the SYN.
            return RstEffect::Accepted;
        }
        let (Some(acked), Some(sent)) = (acked.or(sent), sent.or(acked)) else {
            return RstEffect::Accepted; // nothing to judge by
        };
        let s = seg.seq;
        let after_fin = matches!(receiver, State::CloseWait | State::LastAck | State::Closing);
        if s == acked || s == sent || (after_fin && s == acked.wrapping_sub(1)) {
            return RstEffect::Accepted;
        }
        let win = self.seq[r].window as u64;
        let shift = self.seq[r].win_scale.max(0) as u32;
        let window = ((win << shift).max(1)).min(1 << 30) as u32;
        if Seq(s) >= Seq(acked) && Seq(s) < Seq(acked.wrapping_add(window)) {
            RstEffect::Challenged
        } else {
            RstEffect::Ignored
        }
    }

    /// Why the side `sender` (direction `d`) sent this RST.
    pub(crate) fn rst_cause(&self, seg: &Segment, sender: Side, d: usize) -> RstCause {
        let r = 1 - d;
        let receiver = self.state(sender.other());
        let me = self.state(sender);
        let bare = !seg.has(flag::ACK);
        // A bare RST whose sequence number is the acknowledgment of the
        // segment it answers: no socket took that segment.
        let answers = bare && self.last_ack[r] == Some(seg.seq);
        if receiver == State::SynSent || (me == State::Listen && !bare) {
            return RstCause::AnswerToSyn;
        }
        if receiver == State::TimeWait {
            return RstCause::TimeWaitAssassination;
        }
        if self.probes[d] > 0 && !bare {
            return RstCause::KeepAliveTimeout;
        }
        if self.retry[d].count >= 2 && !bare {
            return RstCause::RetransmissionTimeout;
        }
        if bare {
            // The server answers the handshake's last ACK without having
            // sent anything but its SYN-ACK: the listener could not queue it.
            // (Not when the client had sent its FIN: that finds a handshake
            // already given up, no socket.)
            // (Nor after SYN-ACKs re-sent: the half-open connection was
            // given up after tcp_synack_retries, and no socket is left.)
            let handshake_only = me != State::Closed
                && sender == Side::Server
                && self.stats[d].synack
                && !self.spoke[d];
            if (me == State::SynReceived || handshake_only)
                && self.fin_seq[r].is_none()
                && self.stats[d].retransmissions == 0
            {
                return RstCause::AcceptQueueAbort;
            }
            // Data the sender never acknowledged, after its FIN: it had
            // closed, and a closed socket answers data with an RST.
            let unacked_data = match (self.sent_end[r], self.last_ack[d]) {
                (Some(end), Some(acked)) => Seq(end) > Seq(acked),
                _ => false,
            };
            if matches!(me, State::FinWait1 | State::FinWait2 | State::Closing)
                && (self.data_after_fin[r] || unacked_data)
            {
                return RstCause::DataAfterClose;
            }
            if answers || me == State::TimeWait || me == State::Closed {
                return RstCause::NoSocket;
            }
            return RstCause::Unknown;
        }
        if sender == Side::Server && self.stats[d].synack && !self.spoke[d] {
            return RstCause::ListenerClosed;
        }
        // RST+ACK at its next sequence number: an abort by a socket.
        if self.sent_end[d].is_none_or(|e| e == seg.seq) {
            if self.last_data_dir == Some(r) {
                RstCause::AbortUnread
            } else {
                RstCause::AbortLinger
            }
        } else {
            RstCause::Unknown
        }
    }
}

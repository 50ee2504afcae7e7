//! The TCP states of RFC 9293, the vocabulary of the whole tool.

use std::fmt;

/// An endpoint's connection state (RFC 9293 section 3.3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// No connection.
    Closed,
    /// Waiting for a SYN.
    Listen,
    /// Sent a SYN, waiting for the SYN-ACK.
    SynSent,
    /// Received a SYN and answered it, waiting for the ACK of the answer.
    SynReceived,
    /// Open.
    Established,
    /// Sent a FIN, waiting for its ACK (or the peer's FIN).
    FinWait1,
    /// Our FIN is acknowledged; waiting for the peer's FIN.
    FinWait2,
    /// The peer sent a FIN; the application has not closed yet.
    CloseWait,
    /// Both sent FINs at once; waiting for the ACK of ours.
    Closing,
    /// Closed after the peer did; waiting for the ACK of our FIN.
    LastAck,
    /// Closed first and saw everything acknowledged: 2*MSL before the
    /// 4-tuple may be used again. Only the side that closed first gets here.
    TimeWait,
}

impl State {
    /// The RFC's name, as every output of tcpscope spells it.
    pub fn name(self) -> &'static str {
        match self {
            State::Closed => "CLOSED",
            State::Listen => "LISTEN",
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECEIVED",
            State::Established => "ESTABLISHED",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::CloseWait => "CLOSE-WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST-ACK",
            State::TimeWait => "TIME-WAIT",
        }
    }

    /// States where the endpoint has sent its FIN.
    pub fn fin_sent(self) -> bool {
        matches!(
            self,
            State::FinWait1 | State::FinWait2 | State::Closing | State::LastAck | State::TimeWait
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

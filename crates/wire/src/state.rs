//! The TCP states of RFC 9293, the vocabulary of the whole tool, and the
//! kernel's numbering of them (`include/net/tcp_states.h`), so `track`,
//! `kernel` and the reports all say the same thing.

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

/// The kernel's state numbers (`TCP_ESTABLISHED` ... `TCP_NEW_SYN_RECV`),
/// as sock_diag and the `sock:inet_sock_set_state` tracepoint report them.
pub mod kernel {
    /// TCP_ESTABLISHED.
    pub const ESTABLISHED: u8 = 1;
    /// TCP_SYN_SENT.
    pub const SYN_SENT: u8 = 2;
    /// TCP_SYN_RECV: a full socket in SYN-RECEIVED (Fast Open, simultaneous open).
    pub const SYN_RECV: u8 = 3;
    /// TCP_FIN_WAIT1.
    pub const FIN_WAIT1: u8 = 4;
    /// TCP_FIN_WAIT2.
    pub const FIN_WAIT2: u8 = 5;
    /// TCP_TIME_WAIT.
    pub const TIME_WAIT: u8 = 6;
    /// TCP_CLOSE.
    pub const CLOSE: u8 = 7;
    /// TCP_CLOSE_WAIT.
    pub const CLOSE_WAIT: u8 = 8;
    /// TCP_LAST_ACK.
    pub const LAST_ACK: u8 = 9;
    /// TCP_LISTEN.
    pub const LISTEN: u8 = 10;
    /// TCP_CLOSING.
    pub const CLOSING: u8 = 11;
    /// TCP_NEW_SYN_RECV: a request socket of a listener (the SYN queue).
    pub const NEW_SYN_RECV: u8 = 12;
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

    /// The state a kernel state number stands for; a request socket
    /// (`TCP_NEW_SYN_RECV`) is SYN-RECEIVED too.
    pub fn from_kernel(n: u8) -> Option<State> {
        Some(match n {
            kernel::ESTABLISHED => State::Established,
            kernel::SYN_SENT => State::SynSent,
            kernel::SYN_RECV | kernel::NEW_SYN_RECV => State::SynReceived,
            kernel::FIN_WAIT1 => State::FinWait1,
            kernel::FIN_WAIT2 => State::FinWait2,
            kernel::TIME_WAIT => State::TimeWait,
            kernel::CLOSE => State::Closed,
            kernel::CLOSE_WAIT => State::CloseWait,
            kernel::LAST_ACK => State::LastAck,
            kernel::LISTEN => State::Listen,
            kernel::CLOSING => State::Closing,
            _ => return None,
        })
    }

    /// The RFC name of a kernel state number, "UNKNOWN" for one this
    /// version does not know.
    pub fn kernel_name(n: u8) -> &'static str {
        State::from_kernel(n).map_or("UNKNOWN", State::name)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_numbers_round_trip_to_rfc_names() {
        assert_eq!(State::kernel_name(kernel::ESTABLISHED), "ESTABLISHED");
        assert_eq!(State::kernel_name(kernel::NEW_SYN_RECV), "SYN-RECEIVED");
        assert_eq!(State::kernel_name(kernel::CLOSE), "CLOSED");
        assert_eq!(State::kernel_name(13), "UNKNOWN");
        assert_eq!(State::from_kernel(kernel::TIME_WAIT), Some(State::TimeWait));
    }
}

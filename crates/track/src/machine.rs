//! The RFC 9293 state machine as the capture point sees it: what sending a
//! segment proves about its sender (certain), and what receiving it does to
//! the receiver (inferred: the capture shows the segment leave, not arrive).

use tcpscope_wire::SeqNumber as Seq;

use crate::conn::{Conn, Observation, Side};
use crate::segment::{flag, Segment};
use crate::state::State;

/// Why a state changed, when there is more to say than the new state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Note {
    /// Nothing more.
    None,
    /// The handshake completed; iRTT in seconds (SYN to the ACK of the SYN-ACK).
    Handshake(f64),
    /// This side closed first and will hold TIME-WAIT.
    ActiveClose,
    /// This side closed after the peer.
    PassiveClose,
    /// An RST answered a SYN: connect() fails with ECONNREFUSED.
    Refused,
    /// An RST arrived: the next read fails with ECONNRESET, a later write with EPIPE.
    Reset,
    /// This side sent the RST (SO_LINGER 0, unread data, or no such connection).
    SentReset,
    /// The peer's FIN arrived: read() returns 0 (EOF).
    PeerFin,
    /// An RST answered a SYN: nothing listened on the port.
    NoListener,
    /// Both sides sent their FIN before receiving the other's.
    SimultaneousClose,
}

/// One state change of one endpoint.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Transition {
    /// Whose state.
    pub side: Side,
    /// Before.
    pub from: State,
    /// After.
    pub to: State,
    /// Deduced from a packet this side received (the capture cannot see it arrive).
    pub inferred: bool,
    /// More about it.
    pub note: Note,
}

impl Conn {
    /// Move `side` to `to`, and record the change (if it is one).
    pub(crate) fn enter(
        &mut self,
        obs: &mut Observation,
        side: Side,
        to: State,
        inferred: bool,
        note: Note,
    ) {
        let from = self.state(side);
        *self.state_mut(side) = to;
        if (obs.ntrans as usize) < obs.transitions.len() && from != to {
            obs.transitions[obs.ntrans as usize] = Transition {
                side,
                from,
                to,
                inferred,
                note,
            };
            obs.ntrans += 1;
        }
    }

    /// The RFC 9293 state machine, as the capture point sees it: one match
    /// on (state, event) for the sender, one for the receiver.
    pub(crate) fn transitions(
        &mut self,
        seg: &Segment,
        sender: Side,
        d: usize,
        r: usize,
        obs: &mut Observation,
    ) {
        let receiver = sender.other();
        let (syn, ack, fin, rst) = (
            seg.has(flag::SYN),
            seg.has(flag::ACK),
            seg.has(flag::FIN),
            seg.has(flag::RST),
        );
        // fin_seq[r] is the receiver's FIN: an ACK beyond it acknowledges it.
        let acks_peer_fin = ack && self.fin_seq[r].is_some_and(|s| Seq(seg.ack) > Seq(s));
        let acks_peer_syn = ack && self.seq[r].isn_set && Seq(seg.ack) > Seq(self.seq[r].isn);

        if rst {
            let before = self.state(sender);
            let peer = self.state(receiver);
            if peer == State::SynSent && before == State::Listen {
                // Assumed listening until now: nothing was.
                *self.state_mut(sender) = State::Closed;
                obs.transitions[obs.ntrans as usize] = Transition {
                    side: sender,
                    from: State::Closed,
                    to: State::Closed,
                    inferred: false,
                    note: Note::NoListener,
                };
                obs.ntrans += 1;
            } else {
                self.enter(obs, sender, State::Closed, false, Note::SentReset);
            }
            let note = if peer == State::SynSent {
                Note::Refused
            } else {
                Note::Reset
            };
            if self.first_rst.is_none() {
                self.first_rst = Some(sender);
                self.refused = peer == State::SynSent;
            }
            if peer != State::Closed && peer != State::TimeWait && peer != State::Listen {
                self.enter(obs, receiver, State::Closed, true, note);
            }
            return;
        }

        // What sending this segment proves about the sender.
        let s = self.state(sender);
        let next = match (s, syn, ack, fin) {
            (State::Closed, true, false, _) => Some((State::SynSent, Note::None)),
            (State::Closed | State::Listen | State::SynSent, true, true, _) => {
                Some((State::SynReceived, Note::None))
            }
            (State::SynSent, false, true, _) if acks_peer_syn => {
                let irtt = self.syn_time.map(|t| seg.ts.since(t));
                self.irtt = irtt;
                obs.irtt = irtt;
                Some((State::Established, irtt.map_or(Note::None, Note::Handshake)))
            }
            _ => None,
        };
        if let Some((to, note)) = next {
            self.enter(obs, sender, to, false, note);
        }
        if fin {
            self.fin_seq[d].get_or_insert(seg.seq.wrapping_add(seg.len));
            let s = self.state(sender);
            let to = match s {
                State::Established | State::SynReceived => {
                    self.first_fin.get_or_insert(sender);
                    Some((State::FinWait1, Note::ActiveClose))
                }
                // The FINs crossed: this FIN does not acknowledge the peer's,
                // so the peer's had not arrived when this one left. Both
                // sides close at once and pass through CLOSING.
                State::CloseWait if !acks_peer_fin => {
                    Some((State::Closing, Note::SimultaneousClose))
                }
                State::CloseWait => Some((State::LastAck, Note::PassiveClose)),
                _ => None,
            };
            if let Some((to, note)) = to {
                self.enter(obs, sender, to, false, note);
            }
        }
        // What receiving it does to the receiver (assumed delivered).
        let p = self.state(receiver);
        let mut next = match (p, syn, ack) {
            (State::SynReceived, false, true) if acks_peer_syn => State::Established,
            (State::SynSent, true, false) => State::SynReceived,
            _ => p,
        };
        if acks_peer_fin {
            // The receiver's own FIN is acknowledged.
            next = match next {
                State::FinWait1 => State::FinWait2,
                State::Closing => State::TimeWait,
                State::LastAck => State::Closed,
                other => other,
            };
        }
        if fin {
            next = match next {
                State::Established | State::SynReceived => State::CloseWait,
                State::FinWait1 => State::Closing,
                State::FinWait2 => State::TimeWait,
                other => other,
            };
        }
        if next != p {
            let note = if fin && next == State::CloseWait {
                Note::PeerFin
            } else {
                Note::None
            };
            self.enter(obs, receiver, next, true, note);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::conn::testing::seg;
    use crate::conn::{Conn, Side};
    use crate::machine::Note;
    use crate::segment::flag::{ACK, FIN, RST, SYN};
    use crate::state::State;

    #[test]
    fn the_handshake_is_certain_for_the_sender_and_inferred_for_the_receiver() {
        let syn = seg(0, true, SYN, 100, 0, 0);
        let mut c = Conn::new(1, &syn);
        let o = c.observe(&syn);
        assert_eq!(o.transitions()[0].to, State::SynSent);
        assert!(!o.transitions()[0].inferred);
        c.observe(&seg(1, false, SYN | ACK, 500, 101, 0));
        assert_eq!(c.server_state, State::SynReceived);
        let o = c.observe(&seg(2, true, ACK, 101, 501, 0));
        assert_eq!(
            (c.client_state, c.server_state),
            (State::Established, State::Established)
        );
        assert!(matches!(o.transitions()[0].note, Note::Handshake(_)));
        assert!(o.transitions()[1].inferred);
    }

    #[test]
    fn an_rst_answering_a_syn_means_nothing_listens() {
        let syn = seg(0, true, SYN, 100, 0, 0);
        let mut c = Conn::new(1, &syn);
        c.observe(&syn);
        let o = c.observe(&seg(1, false, RST | ACK, 0, 101, 0));
        assert_eq!(o.transitions()[0].note, Note::NoListener);
        assert_eq!(o.transitions()[1].note, Note::Refused);
        assert_eq!(c.client_state, State::Closed);
        assert_eq!(c.first_rst, Some(Side::Server));
    }

    #[test]
    fn the_active_closer_reaches_time_wait() {
        let syn = seg(0, true, SYN, 100, 0, 0);
        let mut c = Conn::new(1, &syn);
        c.observe(&syn);
        c.observe(&seg(1, false, SYN | ACK, 500, 101, 0));
        c.observe(&seg(2, true, ACK, 101, 501, 0));
        c.observe(&seg(3, true, FIN | ACK, 101, 501, 0));
        assert_eq!(
            (c.client_state, c.server_state),
            (State::FinWait1, State::CloseWait)
        );
        c.observe(&seg(4, false, FIN | ACK, 501, 102, 0));
        assert_eq!(
            (c.client_state, c.server_state),
            (State::TimeWait, State::LastAck)
        );
        c.observe(&seg(5, true, ACK, 102, 502, 0));
        assert_eq!(c.server_state, State::Closed);
        assert_eq!(c.first_fin, Some(Side::Client));
    }
}

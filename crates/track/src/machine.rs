//! The RFC 9293 state machine as the capture point sees it: what sending a
//! segment proves about its sender (certain), and what receiving it does to
//! the receiver (inferred: the capture shows the segment leave, not arrive).

use tcpscope_wire::SeqNumber as Seq;

use crate::analysis::Flags;
use crate::conn::{Conn, Observation, Side};
use crate::outcome::AppOutcome;
use crate::rst::{RstCause, RstEffect, RstVerdict};
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
    /// An RST arrived after the peer's FIN (CLOSE-WAIT): reads keep
    /// returning 0 and the next write fails with EPIPE.
    ResetInCloseWait,
    /// An RST arrived after this side's own FIN: its application had
    /// closed, so no call sees it.
    ResetAfterClose,
    /// This side sent the RST (SO_LINGER 0, unread data, or no such connection).
    SentReset,
    /// The peer's FIN arrived: read() returns 0 (EOF).
    PeerFin,
    /// An RST answered a SYN: nothing listened on the port.
    NoListener,
    /// Both sides sent their FIN before receiving the other's.
    SimultaneousClose,
    /// The four-tuple was used again by a new connection: the kernel
    /// destroyed this side's TIME-WAIT socket.
    TimeWaitEnded,
    /// An RST ended this side's TIME-WAIT early (RFC 1337).
    TimeWaitAssassinated,
    /// This side sent an RST although inferred in TIME-WAIT: a TIME-WAIT
    /// socket never sends one, so its TIME-WAIT had already ended.
    TimeWaitGone,
    /// Its keep-alive probes went unanswered: the application gets ETIMEDOUT.
    KeepAliveTimeout,
    /// Its retransmissions went unanswered and it gave up: ETIMEDOUT.
    RetransmissionTimeout,
    /// An earlier inference is withdrawn (see the packet's correction).
    Withdrawn,
}

/// An earlier inference a later packet disproves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Correction {
    /// This side's FIN does not acknowledge the peer's FIN, so it had not
    /// received it: the CLOSE-WAIT inferred from the peer's FIN is withdrawn.
    FinNotReceived(Side),
    /// This side acknowledged the peer's FIN without the peer re-sending
    /// it: the FINs crossed, and it went FIN-WAIT-1 → CLOSING (the
    /// FIN-WAIT-2 inferred before is withdrawn).
    FinsCrossed(Side),
    /// This side goes on sending after the RST the capture took for its
    /// own: that RST did not come from its TCP (a middlebox or an attacker
    /// forged it), and the side never closed.
    RstNotFromSender(Side),
    /// This side sends after the RST inferred delivered to it: the RST was
    /// still on its way, and arrives after this segment.
    RstNotYetArrived(Side),
    /// A bare RST answers a segment that did not acknowledge its sender's
    /// FIN: it was sent before the ACK of that FIN arrived, and the
    /// FIN-WAIT-2 inferred from that ACK is withdrawn.
    RstAnswersEarlier(Side),
    /// The server's segment echoes a timestamp older than the client's
    /// final ACK: it sent it before that ACK arrived, still in SYN-RECEIVED
    /// (TCP Fast Open servers answer before the handshake completes).
    SentBeforeFinalAck,
    /// The server re-sent its SYN-ACK after the client's final ACK: the
    /// listener dropped that ACK (a full accept queue), so the server never
    /// left SYN-RECEIVED.
    FinalAckDropped,
}

impl Correction {
    /// The correction in words.
    pub fn text(self) -> String {
        match self {
            Correction::FinNotReceived(s) => format!(
                "earlier inference withdrawn: the {} had not received the {}'s FIN when it sent its own (it does not acknowledge it)",
                s.name(),
                s.other().name()
            ),
            Correction::FinsCrossed(s) => format!(
                "earlier inference withdrawn: the FINs crossed; the {} got the {}'s FIN in FIN-WAIT-1 and went through CLOSING",
                s.name(),
                s.other().name()
            ),
            Correction::RstNotFromSender(s) => format!(
                "earlier inference withdrawn: the {} goes on sending after the RST sent in its name, so that RST did not come from its TCP (forged by a middlebox or an attacker) and it never closed",
                s.name()
            ),
            Correction::RstNotYetArrived(s) => format!(
                "earlier inference withdrawn: the {} sends after the RST, so the RST had not reached it yet; it arrives after this segment",
                s.name()
            ),
            Correction::RstAnswersEarlier(s) => format!(
                "earlier inference withdrawn: this RST answers a segment that did not acknowledge the {}'s FIN, so it closed before the ACK of its FIN arrived (it never was in FIN-WAIT-2)",
                s.name()
            ),
            Correction::SentBeforeFinalAck => "earlier inference withdrawn: this segment echoes a timestamp older than the client's final ACK, so the server sent it before that ACK arrived, in SYN-RECEIVED".to_string(),
            Correction::FinalAckDropped => "earlier inference withdrawn: the server never left SYN-RECEIVED (the listener did not take the final ACK: a full accept queue, or the half-open connection was already given up)".to_string(),
        }
    }

    /// The machine word.
    pub fn key(self) -> &'static str {
        match self {
            Correction::FinNotReceived(_) => "fin_not_received",
            Correction::FinsCrossed(_) => "fins_crossed",
            Correction::FinalAckDropped => "final_ack_dropped",
            Correction::RstNotFromSender(_) => "rst_not_from_sender",
            Correction::RstNotYetArrived(_) => "rst_not_yet_arrived",
            Correction::RstAnswersEarlier(_) => "rst_answers_earlier",
            Correction::SentBeforeFinalAck => "sent_before_final_ack",
        }
    }
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
    /// `from` was a wrong inference: this side never was in it, and its
    /// history goes from the state before `from` straight to `to`.
    pub withdraws: bool,
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
        self.enter_as(obs, side, to, inferred, note, false);
    }

    /// Move `side` to `to`, withdrawing the state it leaves when `withdraws`.
    pub(crate) fn enter_as(
        &mut self,
        obs: &mut Observation,
        side: Side,
        to: State,
        inferred: bool,
        note: Note,
        withdraws: bool,
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
                withdraws,
            };
            obs.ntrans += 1;
        }
    }

    /// A later packet disproves an earlier inference: count it, and say
    /// why on this packet.
    fn disproved(&mut self, obs: &mut Observation, why: Correction) {
        self.corrections += 1;
        obs.correction = Some(why);
    }

    /// `side` never was in its current state (a wrong inference): it goes
    /// back to `to`.
    fn withdraw_to(&mut self, obs: &mut Observation, side: Side, to: State) {
        self.enter_as(obs, side, to, false, Note::Withdrawn, true);
    }

    /// The server (direction `d`) never took the client's final ACK: back
    /// to SYN-RECEIVED, through ESTABLISHED when a CLOSE-WAIT was inferred
    /// too (the FIN was not taken either).
    fn final_ack_not_taken(&mut self, obs: &mut Observation, d: usize) {
        self.disproved(obs, Correction::FinalAckDropped);
        self.saw[d] = AppOutcome::Nothing;
        if self.state(Side::Server) == State::CloseWait {
            self.withdraw_to(obs, Side::Server, State::Established);
        }
        self.withdraw_to(obs, Side::Server, State::SynReceived);
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
        if rst {
            self.reset(seg, sender, d, obs);
            return;
        }
        // fin_seq[r] is the receiver's FIN: an ACK beyond it acknowledges it.
        let acks_peer_fin = ack && self.fin_seq[r].is_some_and(|s| Seq(seg.ack) > Seq(s));
        let acks_peer_syn = ack && self.seq[r].isn_set && Seq(seg.ack) > Seq(self.seq[r].isn);
        self.bookkeeping(seg, d, r, obs);

        // What sending this segment proves about the sender.
        let s = self.state(sender);
        let resent_synack = syn
            && ack
            && matches!(s, State::Established | State::CloseWait)
            && sender == Side::Server
            && !self.spoke[d]
            && self.seq[d].isn == seg.seq;
        if resent_synack {
            // A SYN-ACK proves its sender is in SYN-RECEIVED: the final ACK
            // inferred delivered was dropped by the listener.
            self.synacks_after_final_ack += 1;
            self.server_deaf = true;
            self.final_ack_not_taken(obs, d);
        }
        // A side that sends after "its" RST had not sent it.
        if self.state(sender) == State::Closed
            && self.first_rst == Some(sender)
            && !syn
            && self.before_rst[d] != State::Closed
        {
            self.disproved(obs, Correction::RstNotFromSender(sender));
            self.first_rst = None;
            self.rst_cause = None;
            let back = self.before_rst[d];
            self.withdraw_to(obs, sender, back);
        }
        // A side closed by an RST inferred delivered that sends again had
        // not received it yet.
        let mut rst_in_flight = false;
        if let (State::Closed, Some(prev), false) = (self.state(sender), self.reset_from[d], syn) {
            self.reset_from[d] = None;
            self.disproved(obs, Correction::RstNotYetArrived(sender));
            self.withdraw_to(obs, sender, prev);
            rst_in_flight = true;
        }
        let s = self.state(sender);
        // TCP timestamps: the ecr of what the sender sends is the newest
        // TSval it had received. Older than the ACK its ESTABLISHED was
        // inferred from: that ACK had not arrived yet.
        if let (Some(v), Some((_, ecr))) = (self.est_tsval[d], seg.tsopt) {
            if Seq(ecr) < Seq(v) && s == State::Established && !syn {
                self.disproved(obs, Correction::SentBeforeFinalAck);
                self.withdraw_to(obs, sender, State::SynReceived);
            } else if Seq(ecr) >= Seq(v) {
                self.est_tsval[d] = None;
                if self.state(sender) == State::SynReceived {
                    self.enter(obs, sender, State::Established, false, Note::None);
                }
            }
        }
        let s = self.state(sender);
        let next = match (s, syn, ack, fin) {
            (State::Closed, true, false, _) => Some((State::SynSent, Note::None)),
            (State::Closed | State::Listen | State::SynSent, true, true, _) => {
                Some((State::SynReceived, Note::None))
            }
            // A server that dropped a final ACK and now sends anything but
            // a SYN-ACK (a request socket sends nothing else) took a later
            // one: the handshake is complete.
            (State::SynReceived, false, true, _) if acks_peer_syn && self.server_deaf => {
                Some((State::Established, Note::None))
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
        if !syn {
            self.spoke[d] = true;
            if sender == Side::Server {
                self.server_deaf = false;
            }
        }
        // Acknowledging the peer's FIN proves the sender received it; if
        // that had been withdrawn, the FINs crossed.
        if acks_peer_fin && self.fin_pending[d] {
            self.fin_pending[d] = false;
            match self.state(sender) {
                State::Established => {
                    self.enter(obs, sender, State::CloseWait, false, Note::PeerFin)
                }
                State::FinWait1 => {
                    self.enter(obs, sender, State::Closing, false, Note::SimultaneousClose)
                }
                State::FinWait2 => {
                    self.disproved(obs, Correction::FinsCrossed(sender));
                    self.enter_as(
                        obs,
                        sender,
                        State::Closing,
                        false,
                        Note::SimultaneousClose,
                        true,
                    );
                    self.enter(obs, sender, State::TimeWait, false, Note::None);
                }
                _ => {}
            }
            self.peer_fin_seen(sender);
        }
        if fin {
            self.fin_seq[d].get_or_insert(seg.seq.wrapping_add(seg.len));
            match self.state(sender) {
                State::Established | State::SynReceived => {
                    self.first_fin.get_or_insert(sender);
                    self.enter(obs, sender, State::FinWait1, false, Note::ActiveClose);
                }
                State::CloseWait if acks_peer_fin => {
                    self.enter(obs, sender, State::LastAck, false, Note::PassiveClose)
                }
                State::CloseWait => {
                    // This FIN does not acknowledge the peer's: the sender
                    // had not received it. It closes actively, and the
                    // CLOSE-WAIT inferred from the peer's FIN is withdrawn.
                    self.fin_pending[d] = true;
                    self.disproved(obs, Correction::FinNotReceived(sender));
                    if self.saw[d] == AppOutcome::Eof {
                        self.saw[d] = AppOutcome::Nothing;
                    }
                    self.withdraw_to(obs, sender, State::FinWait1);
                }
                _ => {}
            }
        }
        // What receiving it does to the receiver (assumed delivered).
        // A server that dropped a final ACK is not assumed to take what
        // the client sends until it speaks again.
        if receiver == Side::Server && self.server_deaf {
            if fin {
                self.fin_pending[r] = true;
            }
            self.finish_rst_in_flight(obs, sender, rst_in_flight);
            return;
        }
        let p = self.state(receiver);
        let mut next = match (p, syn, ack) {
            (State::SynReceived, false, true) if acks_peer_syn => State::Established,
            (State::SynSent, true, false) => State::SynReceived,
            // The peer acknowledges data the receiver sent after its SYN
            // (its own ACK was not captured): it had completed the handshake.
            (State::SynSent, false, true)
                if self.seq[r].isn_set && Seq(seg.ack) > Seq(self.seq[r].isn.wrapping_add(1)) =>
            {
                State::Established
            }
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
            self.fin_pending[r] = false;
            next = match next {
                State::Established | State::SynReceived => State::CloseWait,
                State::FinWait1 => State::Closing,
                State::FinWait2 => State::TimeWait,
                other => other,
            };
            if !matches!(p, State::Closed | State::Listen | State::SynSent) {
                self.peer_fin_seen(receiver);
            }
        }
        if p == State::SynReceived && next == State::Established {
            self.est_tsval[r] = seg.tsopt.map(|(v, _)| v);
        }
        if next != p {
            let note = if fin && next == State::CloseWait {
                Note::PeerFin
            } else {
                Note::None
            };
            self.enter(obs, receiver, next, true, note);
        }
        self.finish_rst_in_flight(obs, sender, rst_in_flight);
    }

    /// The RST that was still on its way to `sender` arrives after its
    /// segment.
    fn finish_rst_in_flight(&mut self, obs: &mut Observation, sender: Side, in_flight: bool) {
        if in_flight && self.state(sender) != State::Closed {
            self.enter(obs, sender, State::Closed, true, Note::None);
        }
    }

    /// The peer's FIN reached `side`: its application reads EOF, unless it
    /// had closed first (then nothing reaches it; after shutdown(SHUT_WR)
    /// only, which the wire shows when it goes on reading, EOF).
    fn peer_fin_seen(&mut self, side: Side) {
        let i = side as usize;
        if self.saw[i] != AppOutcome::Nothing {
            return;
        }
        self.saw[i] = if self.fin_seq[i].is_some() && !self.reads_after_fin[i] {
            AppOutcome::AfterClose
        } else {
            AppOutcome::Eof
        };
    }

    /// The per-direction facts the RST and outcome rules read: what each
    /// side sent and acknowledged, who spoke last, and the retries and
    /// keep-alive probes nobody answered.
    fn bookkeeping(&mut self, seg: &Segment, d: usize, r: usize, obs: &mut Observation) {
        let (syn, ack, fin) = (seg.has(flag::SYN), seg.has(flag::ACK), seg.has(flag::FIN));
        // Anything from this side answers the other side's retries.
        self.probes[r] = 0;
        self.retry[r].count = 0;
        let retransmitted = obs.flags.retransmitted();
        let rt = &mut self.retry[d];
        if obs.flags.has(Flags::KEEP_ALIVE) {
            self.probes[d] += 1;
        } else if retransmitted && rt.sent {
            rt.count += 1;
            rt.prev = rt.last;
            rt.syn = syn;
        } else if seg.len > 0 || syn || fin {
            rt.count = 0;
        }
        if seg.len > 0 || syn || fin {
            rt.last = seg.ts;
            rt.sent = true;
        }
        if self.challenge_due[d] && ack && !syn && !fin && seg.len == 0 {
            self.challenge_due[d] = false;
            obs.challenge_ack = true;
        }
        if ack {
            // Acknowledging new data after its own FIN: it still reads.
            if self.fin_seq[d].is_some()
                && self.data_after_fin[r]
                && self.last_ack[d].is_none_or(|a| Seq(seg.ack) > Seq(a))
            {
                self.reads_after_fin[d] = true;
            }
            self.last_ack[d] = Some(seg.ack);
        }
        let end = seg.seq.wrapping_add(seg.len + syn as u32 + fin as u32);
        if self.sent_end[d].is_none_or(|e| Seq(end) > Seq(e)) {
            self.sent_end[d] = Some(end);
        }
        if seg.len > 0 {
            self.last_data_dir = Some(d);
            if self.fin_seq[r].is_some() && !retransmitted {
                self.data_after_fin[d] = true;
            }
        }
    }

    /// An RST: why it was sent, whether its receiver obeys it, and what
    /// that does to both sides and their applications.
    fn reset(&mut self, seg: &Segment, sender: Side, d: usize, obs: &mut Observation) {
        let receiver = sender.other();
        let r = 1 - d;
        let cause = self.rst_cause(seg, sender, d);
        let peer = self.state(receiver);
        let effect = self.rst_effect(seg, d, peer);
        obs.rst = Some(RstVerdict { cause, effect });
        if effect != RstEffect::Accepted {
            // RFC 5961: the connection goes on; one inside the window is
            // answered with a challenge ACK.
            self.rsts_not_obeyed += 1;
            self.challenge_due[r] = effect == RstEffect::Challenged;
            return;
        }
        // What the RST proves about its sender's past: an RST+ACK that does
        // not acknowledge the peer's FIN was sent before that FIN arrived;
        // a listener that could not queue the handshake never had it
        // ESTABLISHED.
        let fin_not_taken = seg.has(flag::ACK)
            && self.fin_seq[r].is_some_and(|f| Seq(seg.ack) <= Seq(f))
            && self.state(sender) == State::CloseWait;
        if fin_not_taken {
            self.disproved(obs, Correction::FinNotReceived(sender));
            self.saw[d] = AppOutcome::Nothing;
            self.withdraw_to(obs, sender, State::Established);
        }
        // A bare RST's sequence number is the acknowledgment of the segment
        // it answers: if that did not acknowledge the sender's FIN, the ACK
        // of the FIN had not arrived when the sender closed.
        if !seg.has(flag::ACK)
            && self.state(sender) == State::FinWait2
            && self.fin_seq[d].is_some_and(|f| Seq(seg.seq) <= Seq(f))
        {
            self.disproved(obs, Correction::RstAnswersEarlier(sender));
            self.withdraw_to(obs, sender, State::FinWait1);
        }
        let never_spoke = sender == Side::Server && self.stats[d].synack && !self.spoke[d];
        if !seg.has(flag::ACK)
            && never_spoke
            && matches!(self.state(sender), State::Established | State::CloseWait)
        {
            // A server that sent only its SYN-ACK answers with a bare RST:
            // it never had the connection ESTABLISHED.
            self.final_ack_not_taken(obs, d);
        }
        let before = self.state(sender);
        self.before_rst[d] = before;
        if peer == State::SynSent && before == State::Listen {
            // Assumed listening until now: nothing was.
            *self.state_mut(sender) = State::Closed;
            obs.transitions[obs.ntrans as usize] = Transition {
                side: sender,
                from: State::Closed,
                to: State::Closed,
                inferred: false,
                note: Note::NoListener,
                withdraws: false,
            };
            obs.ntrans += 1;
        } else if before == State::TimeWait {
            self.enter(obs, sender, State::Closed, false, Note::TimeWaitGone);
        } else {
            let note = match cause {
                RstCause::KeepAliveTimeout => Note::KeepAliveTimeout,
                RstCause::RetransmissionTimeout => Note::RetransmissionTimeout,
                _ => Note::SentReset,
            };
            self.enter(obs, sender, State::Closed, false, note);
        }
        if self.first_rst.is_none() {
            self.first_rst = Some(sender);
            self.rst_cause = Some(cause);
            self.refused = peer == State::SynSent;
        }
        if matches!(
            cause,
            RstCause::KeepAliveTimeout | RstCause::RetransmissionTimeout
        ) {
            self.saw[d] = AppOutcome::TimedOut;
        }
        let (note, saw) = match peer {
            State::Closed | State::Listen => return,
            State::SynSent => (Note::Refused, Some(AppOutcome::Refused)),
            State::TimeWait => (Note::TimeWaitAssassinated, None),
            State::CloseWait => (Note::ResetInCloseWait, Some(AppOutcome::EofThenEpipe)),
            State::LastAck => (Note::ResetAfterClose, None),
            State::FinWait1 | State::FinWait2 | State::Closing if !self.reads_after_fin[r] => {
                (Note::ResetAfterClose, None)
            }
            State::SynReceived => (Note::None, None),
            _ => (Note::Reset, Some(AppOutcome::Reset)),
        };
        if let Some(saw) = saw {
            self.saw[r] = saw;
        }
        self.reset_from[r] = Some(peer);
        if matches!(
            cause,
            RstCause::KeepAliveTimeout | RstCause::RetransmissionTimeout
        ) {
            // It stopped answering: the RST most likely never reached it.
            self.saw[r] = AppOutcome::CannotTell;
        }
        self.enter(obs, receiver, State::Closed, true, note);
    }
}

#[cfg(test)]
mod tests {
    use crate::conn::testing::seg;
    use crate::conn::{Conn, Side};
    use crate::machine::{Correction, Note};
    use crate::outcome::AppOutcome;
    use crate::rst::{RstCause, RstEffect};
    use crate::segment::flag::{ACK, FIN, PSH, RST, SYN};
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

    /// A connection from the client (ISN 100) to the server (ISN 500),
    /// established, at 0..2 ms.
    fn established() -> Conn {
        let syn = seg(0, true, SYN, 100, 0, 0);
        let mut c = Conn::new(1, &syn);
        c.observe(&syn);
        c.observe(&seg(1, false, SYN | ACK, 500, 101, 0));
        c.observe(&seg(2, true, ACK, 101, 501, 0));
        c
    }

    fn states(c: &Conn) -> (State, State) {
        (c.client_state, c.server_state)
    }

    #[test]
    fn a_fin_that_does_not_acknowledge_the_peers_withdraws_close_wait() {
        // The client's FIN is lost: the server's FIN acknowledges only 101.
        let mut c = established();
        c.observe(&seg(10, true, FIN | ACK, 101, 501, 0));
        assert_eq!(c.server_state, State::CloseWait);
        let o = c.observe(&seg(20, false, FIN | ACK, 501, 101, 0));
        assert_eq!(o.correction, Some(Correction::FinNotReceived(Side::Server)));
        let t = o.transitions()[0];
        assert_eq!(
            (t.from, t.to, t.withdraws),
            (State::CloseWait, State::FinWait1, true)
        );
        assert_eq!(states(&c), (State::Closing, State::FinWait1));
        c.observe(&seg(21, true, ACK, 102, 502, 0));
        assert_eq!(c.server_state, State::FinWait2);
        // The client re-sends its FIN: now it arrives.
        c.observe(&seg(300, true, FIN | ACK, 101, 502, 0));
        assert_eq!(c.server_state, State::TimeWait);
        c.observe(&seg(310, false, ACK, 502, 102, 0));
        assert_eq!(states(&c), (State::TimeWait, State::TimeWait));
        assert_eq!(c.corrections, 1);
    }

    #[test]
    fn fins_that_crossed_go_through_closing() {
        let mut c = established();
        c.observe(&seg(10, true, FIN | ACK, 101, 501, 0));
        c.observe(&seg(11, false, FIN | ACK, 501, 101, 0));
        c.observe(&seg(12, true, ACK, 102, 502, 0));
        assert_eq!(c.server_state, State::FinWait2);
        // The server acknowledges the client's FIN, which was not re-sent:
        // it had arrived, in FIN-WAIT-1.
        let o = c.observe(&seg(13, false, ACK, 502, 102, 0));
        assert_eq!(o.correction, Some(Correction::FinsCrossed(Side::Server)));
        let tos: Vec<_> = o
            .transitions()
            .iter()
            .map(|t| (t.to, t.withdraws))
            .collect();
        assert_eq!(tos[..2], [(State::Closing, true), (State::TimeWait, false)]);
        assert_eq!(states(&c), (State::TimeWait, State::TimeWait));
    }

    #[test]
    fn a_new_incarnation_ends_the_old_time_wait() {
        use crate::FlowTable;
        let mut t = FlowTable::new();
        let s = |ms, from_client, flags, seq, ack| seg(ms, from_client, flags, seq, ack, 0);
        for p in [
            s(0, true, SYN, 100, 0),
            s(1, false, SYN | ACK, 500, 101),
            s(2, true, ACK, 101, 501),
            s(3, true, FIN | ACK, 101, 501),
            s(4, false, FIN | ACK, 501, 102),
            s(5, true, ACK, 102, 502),
        ] {
            t.observe(&p);
        }
        let o = t.observe(&s(1000, true, SYN, 90_000, 0));
        assert_eq!(o.ended_time_wait, Some((1, Side::Client)));
        let all = t.finish();
        assert_eq!(all[0].client_state, State::Closed);
        assert_eq!(all[0].time_wait_ended_by, Some(2));
        assert_eq!(all[0].time_wait(), Some(Side::Client));
    }

    #[test]
    fn a_synack_after_the_final_ack_puts_the_server_back_in_syn_received() {
        let mut c = established();
        assert_eq!(c.server_state, State::Established);
        let o = c.observe(&seg(1000, false, SYN | ACK, 500, 101, 0));
        assert_eq!(o.correction, Some(Correction::FinalAckDropped));
        assert_eq!(c.server_state, State::SynReceived);
        assert!(o.transitions()[0].withdraws);
        assert_eq!(c.synacks_after_final_ack, 1);
        // Its later client ACKs are not assumed taken, until it speaks.
        c.observe(&seg(1001, true, ACK, 101, 501, 0));
        assert_eq!(c.server_state, State::SynReceived);
        // It gives up the half-open connection: what the client sends next
        // finds no socket.
        let o = c.observe(&seg(9000, false, RST, 501, 0, 0));
        assert_eq!(o.rst.unwrap().cause, RstCause::NoSocket);
        // The accept-queue abort: a bare RST answering the final ACK at once.
        let mut c = established();
        let o = c.observe(&seg(3, false, RST, 501, 0, 0));
        assert_eq!(o.rst.unwrap().cause, RstCause::AcceptQueueAbort);
        assert_eq!(o.correction, Some(Correction::FinalAckDropped));
    }

    #[test]
    fn a_time_wait_socket_never_sends_an_rst() {
        let mut c = established();
        c.observe(&seg(3, true, FIN | ACK, 101, 501, 0));
        c.observe(&seg(4, false, FIN | ACK, 501, 102, 0));
        c.observe(&seg(5, true, ACK, 102, 502, 0));
        assert_eq!(c.client_state, State::TimeWait);
        // Later the server (which the capture thought CLOSED) writes; the
        // client's bare RST says it has no socket any more.
        let o = c.observe(&seg(9000, true, RST, 102, 0, 0));
        assert_eq!(o.transitions()[0].note, Note::TimeWaitGone);
        assert_eq!(o.rst.unwrap().cause, RstCause::NoSocket);
    }

    #[test]
    fn only_an_rst_at_the_next_sequence_number_ends_the_connection() {
        let mut c = established();
        c.observe(&seg(3, true, PSH | ACK, 101, 501, 5));
        c.observe(&seg(4, false, ACK, 501, 106, 0));
        // Far outside the server's window: dropped.
        let o = c.observe(&seg(5, true, RST, 9_000_000, 0, 0));
        assert_eq!(o.rst.unwrap().effect, RstEffect::Ignored);
        assert_eq!(states(&c), (State::Established, State::Established));
        // Inside the window: a challenge ACK.
        let o = c.observe(&seg(6, true, RST, 300, 0, 0));
        assert_eq!(o.rst.unwrap().effect, RstEffect::Challenged);
        let o = c.observe(&seg(7, false, ACK, 501, 106, 0));
        assert!(o.challenge_ack);
        assert_eq!(c.first_rst, None);
        assert_eq!(c.outcome(Side::Server), AppOutcome::Nothing);
        // Exactly the next one: the server's connection ends.
        let o = c.observe(&seg(8, true, RST, 106, 0, 0));
        assert_eq!(o.rst.unwrap().effect, RstEffect::Accepted);
        assert_eq!(c.server_state, State::Closed);
        assert_eq!(c.outcome(Side::Server), AppOutcome::Reset);
        assert_eq!(c.rsts_not_obeyed, 2);
    }

    #[test]
    fn an_rst_after_the_peers_fin_gives_eof_then_epipe() {
        let mut c = established();
        c.observe(&seg(3, false, FIN | ACK, 501, 101, 0));
        c.observe(&seg(4, true, PSH | ACK, 101, 502, 10));
        let o = c.observe(&seg(5, false, RST, 502, 0, 0));
        assert_eq!(o.rst.unwrap().cause, RstCause::DataAfterClose);
        assert_eq!(c.outcome(Side::Client), AppOutcome::EofThenEpipe);
        assert_eq!(c.outcome(Side::Client).errno(), Some(libc::EPIPE));
    }

    #[test]
    fn an_rst_after_close_reaches_no_application() {
        let mut c = established();
        c.observe(&seg(3, true, PSH | ACK, 101, 501, 10));
        c.observe(&seg(4, true, FIN | ACK, 111, 501, 0));
        c.observe(&seg(5, false, ACK, 501, 112, 0));
        // The server closes with the client's request unread.
        let o = c.observe(&seg(6, false, RST | ACK, 501, 112, 0));
        assert_eq!(o.rst.unwrap().cause, RstCause::AbortUnread);
        assert_eq!(o.transitions()[1].note, Note::ResetAfterClose);
        assert_eq!(c.outcome(Side::Client), AppOutcome::Nothing);
    }

    #[test]
    fn unanswered_keepalives_end_in_etimedout() {
        let mut c = established();
        c.observe(&seg(3, true, PSH | ACK, 101, 501, 5));
        c.observe(&seg(4, false, ACK, 501, 106, 0));
        for i in 0..3 {
            let o = c.observe(&seg(1000 + i * 100, true, ACK, 105, 501, 0));
            assert!(o.flags.has(crate::Flags::KEEP_ALIVE));
        }
        let o = c.observe(&seg(1400, true, RST | ACK, 106, 501, 0));
        assert_eq!(o.rst.unwrap().cause, RstCause::KeepAliveTimeout);
        assert_eq!(c.outcome(Side::Client), AppOutcome::TimedOut);
        assert_eq!(c.outcome(Side::Server), AppOutcome::CannotTell);
    }

    #[test]
    fn syns_nobody_answers_time_out_once_the_capture_runs_past_the_next_retry() {
        let syn = seg(0, true, SYN, 100, 0, 0);
        let mut c = Conn::new(1, &syn);
        c.observe(&syn);
        c.observe(&seg(1000, true, SYN, 100, 0, 0));
        c.observe(&seg(3000, true, SYN, 100, 0, 0));
        c.capture_end = Some(seg(4000, true, 0, 0, 0, 0).ts);
        assert_eq!(c.outcome(Side::Client), AppOutcome::CannotTell);
        assert_eq!(c.end_state(Side::Client), State::SynSent);
        c.capture_end = Some(seg(8000, true, 0, 0, 0, 0).ts);
        assert_eq!(c.outcome(Side::Client), AppOutcome::TimedOutLikely);
        assert_eq!(c.end_state(Side::Client), State::Closed);
    }

    #[test]
    fn a_capture_of_one_direction_says_so() {
        // Only the server's packets (a filter such as `src port 80`).
        let synack = seg(1, false, SYN | ACK, 500, 101, 0);
        let mut c = Conn::new(1, &synack);
        c.observe(&synack);
        c.observe(&seg(3, false, PSH | ACK, 501, 106, 100));
        c.observe(&seg(4, false, FIN | ACK, 601, 106, 0));
        assert_eq!(c.missing_direction(), Some(Side::Client));
        assert_eq!(c.outcome(Side::Server), AppOutcome::CannotTell);
        assert_eq!(c.outcome(Side::Client), AppOutcome::Eof);
        assert_eq!(c.summary().closed_first, None);
    }

    #[test]
    fn an_rst_answering_data_sent_before_the_fin_arrived_withdraws_fin_wait_2() {
        // The keep-alive race seen from the client: its request leaves, the
        // server's FIN arrives and is acknowledged, then the server's RST
        // answers the request (ack 501: not its FIN).
        let mut c = established();
        c.observe(&seg(10, true, PSH | ACK, 101, 501, 10));
        c.observe(&seg(11, false, FIN | ACK, 501, 101, 0));
        c.observe(&seg(12, true, ACK, 111, 502, 0));
        assert_eq!(c.server_state, State::FinWait2);
        let o = c.observe(&seg(13, false, RST, 501, 0, 0));
        assert_eq!(
            o.correction,
            Some(Correction::RstAnswersEarlier(Side::Server))
        );
        let t = o.transitions()[0];
        assert_eq!(
            (t.from, t.to, t.withdraws),
            (State::FinWait2, State::FinWait1, true)
        );
        assert_eq!(o.rst.unwrap().cause, RstCause::DataAfterClose);
        assert_eq!(c.outcome(Side::Client), AppOutcome::EofThenEpipe);
    }
}

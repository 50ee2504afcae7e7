//! One connection: the record of both directions and both endpoints, and
//! the order in which one packet goes through the four ideas that make it:
//! Wireshark's analysis (`analysis`), the counts and Zeek's history
//! (`zeek`), the RFC 9293 state machine (`machine`), and what the
//! applications saw (`outcome`).
//!
//! The capture point sits between the endpoints. What an endpoint *sends*
//! proves its state (certain); what it *receives* is assumed delivered
//! (inferred, and marked so in the output).

use crate::analysis::{Flags, SeqInfo};
use crate::machine::{Correction, Note, Transition};
use crate::outcome::AppOutcome;
use crate::rst::{RstCause, RstVerdict};
use crate::segment::{flag, Endpoint, Segment, Ts};
use crate::state::State;
use crate::zeek::History;

/// Which endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The endpoint that sent the first SYN (or guessed so).
    Client,
    /// The other one.
    Server,
}

impl Side {
    /// "client" or "server".
    pub fn name(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
    /// The peer.
    pub fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
}

/// What one packet did, for `--explain`, `--simple` and JSON.
#[derive(Clone, Copy, Debug)]
pub struct Observation {
    /// Connection number, from 1 in order of first packet.
    pub conn: u64,
    /// Sent by the client.
    pub from_client: bool,
    /// Roles were guessed (no SYN seen).
    pub roles_guessed: bool,
    /// Sequence number relative to the sender's ISN.
    pub rel_seq: u32,
    /// Acknowledgment relative to the receiver's ISN (0 without ACK).
    pub rel_ack: u32,
    /// Window in bytes, scaled when the scale is known.
    pub window: u64,
    /// The state changes this packet caused, `ntrans` of them.
    pub transitions: [Transition; 4],
    /// How many transitions.
    pub ntrans: u8,
    /// Analysis flags.
    pub flags: Flags,
    /// Duplicate ACK number (#n), with DUPLICATE_ACK.
    pub dupack: u32,
    /// Set on the packet that completes the handshake.
    pub irtt: Option<f64>,
    /// The SACK blocks this packet carries, relative to the ISN of the data
    /// they acknowledge (the peer's), `nsack` of them.
    pub sack: [(u32, u32); 4],
    /// How many SACK blocks.
    pub nsack: u8,
    /// On an RST: why it was sent and whether its receiver obeyed it.
    pub rst: Option<RstVerdict>,
    /// An ACK that answers an RST inside the window (RFC 5961's challenge ACK).
    pub challenge_ack: bool,
    /// An earlier inference this packet disproves.
    pub correction: Option<Correction>,
    /// This SYN ended connection N's TIME-WAIT (side given): the kernel
    /// destroys it when the four-tuple is used again.
    pub ended_time_wait: Option<(u64, Side)>,
}

impl Observation {
    /// An observation of nothing, to be filled by [`Conn::observe_into`].
    pub const EMPTY: Observation = Observation {
        conn: 0,
        from_client: false,
        roles_guessed: false,
        rel_seq: 0,
        rel_ack: 0,
        window: 0,
        transitions: [Transition {
            side: Side::Client,
            from: State::Closed,
            to: State::Closed,
            inferred: false,
            note: Note::None,
            withdraws: false,
        }; 4],
        ntrans: 0,
        flags: Flags(0),
        dupack: 0,
        irtt: None,
        sack: [(0, 0); 4],
        nsack: 0,
        rst: None,
        challenge_ack: false,
        correction: None,
        ended_time_wait: None,
    };

    /// The SACK blocks as a slice.
    pub fn sack(&self) -> &[(u32, u32)] {
        &self.sack[..self.nsack as usize]
    }
}

impl Observation {
    /// The transitions as a slice.
    pub fn transitions(&self) -> &[Transition] {
        &self.transitions[..self.ntrans as usize]
    }
}

/// One direction's counters and history bookkeeping.
#[derive(Clone, Copy, Debug, Default)]
pub struct DirStats {
    /// Packets sent.
    pub packets: u64,
    /// Payload bytes sent (IP lengths, retransmissions included).
    pub bytes: u64,
    /// IP bytes sent: the IP packets' lengths, headers included (Zeek's
    /// `orig_ip_bytes` and `resp_ip_bytes`).
    pub ip_bytes: u64,
    /// Retransmissions of any kind.
    pub retransmissions: u64,
    /// Out-of-order segments.
    pub out_of_order: u64,
    /// Duplicate ACKs.
    pub dup_acks: u64,
    /// Zero-window advertisements.
    pub zero_windows: u64,
    /// Segments carrying SACK blocks (the receiver reports holes).
    pub sacks: u64,
    /// D-SACKs: data reported as received twice.
    pub dsacks: u64,
    /// Sent a SYN / SYN-ACK / FIN / RST.
    pub syn: bool,
    /// Sent a SYN with ACK.
    pub synack: bool,
    /// Sent a FIN.
    pub fin: bool,
    /// Sent an RST.
    pub rst: bool,
    first_ts: Option<Ts>,
}

/// One direction's unanswered retransmissions: how many, the times of the
/// last two, and whether they re-send a SYN (or SYN-ACK).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Retry {
    pub(crate) count: u32,
    pub(crate) syn: bool,
    /// `last` is set (it is: once the direction sent anything).
    pub(crate) sent: bool,
    /// The send before the last retransmission (valid when `count` > 0).
    pub(crate) prev: Ts,
    /// The last send.
    pub(crate) last: Ts,
}

/// A tracked connection.
#[derive(Clone, Debug)]
pub struct Conn {
    /// Number, from 1.
    pub id: u64,
    /// The client endpoint.
    pub client: Endpoint,
    /// The server endpoint.
    pub server: Endpoint,
    /// Roles come from a heuristic, not a SYN.
    pub roles_guessed: bool,
    /// First packet.
    pub start: Ts,
    /// Last packet.
    pub last: Ts,
    /// Client state.
    pub client_state: State,
    /// Server state.
    pub server_state: State,
    /// Handshake RTT (SYN to the ACK of the SYN-ACK), seconds.
    pub irtt: Option<f64>,
    /// Who sent the first FIN.
    pub first_fin: Option<Side>,
    /// Who sent the first RST that took effect.
    pub first_rst: Option<Side>,
    /// Why (the first RST that took effect).
    pub rst_cause: Option<RstCause>,
    /// The RST answered a SYN.
    pub refused: bool,
    /// RSTs that drew a challenge ACK, and RSTs ignored (outside the window).
    pub rsts_not_obeyed: u32,
    /// SYN-ACKs re-sent after the client's final ACK was captured: the
    /// listener dropped that ACK (a full accept queue).
    pub synacks_after_final_ack: u32,
    /// Inferences later packets withdrew.
    pub corrections: u32,
    /// The connection that ended this one's TIME-WAIT by using its
    /// four-tuple again.
    pub time_wait_ended_by: Option<u64>,
    /// The capture's last packet (of any connection), set when the capture
    /// ends: it decides whether a side that kept retrying had given up.
    pub capture_end: Option<Ts>,
    /// What each application saw so far, client first.
    pub(crate) saw: [AppOutcome; 2],
    /// The next sequence number after all each direction sent (SYN, data, FIN).
    pub(crate) sent_end: [Option<u32>; 2],
    /// The last acknowledgment number each direction sent.
    pub(crate) last_ack: [Option<u32>; 2],
    /// Direction of the last segment with payload.
    pub(crate) last_data_dir: Option<usize>,
    /// Direction d sent new data after the other direction's FIN.
    pub(crate) data_after_fin: [bool; 2],
    /// Side d showed it still reads after sending its FIN (it ACKed new
    /// data from the peer without an RST: a half-close, not a close()).
    pub(crate) reads_after_fin: [bool; 2],
    /// Side d has not been shown to have received the peer's FIN: the
    /// CLOSE-WAIT inferred from it was withdrawn.
    pub(crate) fin_pending: [bool; 2],
    /// The TSval of the ACK from which side d's ESTABLISHED was inferred,
    /// until a segment of d echoes it (then d had received it).
    pub(crate) est_tsval: [Option<u32>; 2],
    /// Side d's state before the RST it (so the capture thought) sent.
    pub(crate) before_rst: [State; 2],
    /// Side d was closed by an RST inferred delivered, from this state; a
    /// segment it sends afterwards shows the RST had not arrived yet.
    pub(crate) reset_from: [Option<State>; 2],
    /// The server dropped a final ACK (it re-sent its SYN-ACK): until it
    /// speaks, what the client sends is not assumed taken.
    pub(crate) server_deaf: bool,
    /// Direction d sent a segment without SYN.
    pub(crate) spoke: [bool; 2],
    /// Side d owes a challenge ACK.
    pub(crate) challenge_due: [bool; 2],
    /// Keep-alive probes direction d sent since the peer last sent anything.
    pub(crate) probes: [u32; 2],
    /// Retransmissions direction d sent since the peer last sent anything.
    pub(crate) retry: [Retry; 2],
    /// Client to server, server to client.
    pub stats: [DirStats; 2],
    pub(crate) seq: [SeqInfo; 2],
    pub(crate) syn_time: Option<Ts>,
    /// FIN sequence numbers (the sequence number the FIN occupies).
    pub(crate) fin_seq: [Option<u32>; 2],
    pub(crate) history: History,
}

/// Ports that make an endpoint look like the server when no SYN was seen.
fn looks_like_server(port: u16) -> bool {
    port < 1024
        || matches!(
            port,
            1433 | 1521
                | 2049
                | 3306
                | 5432
                | 5672
                | 6379
                | 8080
                | 8443
                | 9092
                | 9200
                | 11211
                | 27017
        )
}

impl Conn {
    /// Both sides' states before a connection's first packet `seg`: a
    /// SYN starts from CLOSED and LISTEN, a SYN-ACK from SYN-SENT and
    /// LISTEN; a capture that starts
    /// mid-stream finds both ESTABLISHED.
    pub fn initial_states(seg: &Segment) -> (State, State) {
        if seg.has(flag::SYN | flag::ACK) {
            // The SYN it answers was not captured, but was sent.
            (State::SynSent, State::Listen)
        } else if seg.has(flag::SYN) {
            (State::Closed, State::Listen)
        } else {
            (State::Established, State::Established)
        }
    }

    /// A connection whose first packet is `seg`.
    pub fn new(id: u64, seg: &Segment) -> Conn {
        let syn_only = seg.has(flag::SYN) && !seg.has(flag::ACK);
        let synack = seg.has(flag::SYN | flag::ACK);
        // The SYN's sender is the client. A SYN-ACK's receiver is. Without
        // either, guess: a well-known port, or else the lower port, serves.
        let (client, server, guessed) = if syn_only {
            (seg.src, seg.dst, false)
        } else if synack {
            (seg.dst, seg.src, false)
        } else {
            let src_serves = looks_like_server(seg.src.port) && !looks_like_server(seg.dst.port)
                || (looks_like_server(seg.src.port) == looks_like_server(seg.dst.port)
                    && seg.src.port < seg.dst.port);
            if src_serves {
                (seg.dst, seg.src, true)
            } else {
                (seg.src, seg.dst, true)
            }
        };
        let (cs, ss) = Conn::initial_states(seg);
        Conn {
            id,
            client,
            server,
            roles_guessed: guessed,
            start: seg.ts,
            last: seg.ts,
            client_state: cs,
            server_state: ss,
            irtt: None,
            first_fin: None,
            first_rst: None,
            rst_cause: None,
            refused: false,
            rsts_not_obeyed: 0,
            synacks_after_final_ack: 0,
            corrections: 0,
            time_wait_ended_by: None,
            capture_end: None,
            saw: [AppOutcome::Nothing; 2],
            sent_end: [None; 2],
            last_ack: [None; 2],
            last_data_dir: None,
            data_after_fin: [false; 2],
            reads_after_fin: [false; 2],
            fin_pending: [false; 2],
            est_tsval: [None; 2],
            before_rst: [State::Closed; 2],
            reset_from: [None; 2],
            server_deaf: false,
            spoke: [false; 2],
            challenge_due: [false; 2],
            probes: [0; 2],
            retry: [Retry::default(); 2],
            stats: [DirStats::default(); 2],
            seq: [SeqInfo {
                win_scale: -1,
                ..SeqInfo::default()
            }; 2],
            syn_time: None,
            fin_seq: [None; 2],
            history: History::default(),
        }
    }

    /// Whether a new SYN on this 4-tuple starts a new connection (and
    /// reuses the ports): a SYN whose sequence number is not the initial
    /// sequence number already known for its direction, as Wireshark decides.
    pub fn is_new_incarnation(&self, seg: &Segment) -> bool {
        if !(seg.has(flag::SYN) && !seg.has(flag::ACK)) {
            return false;
        }
        let d = if seg.src == self.client { 0 } else { 1 };
        let s = &self.seq[d];
        s.isn_set && s.isn != seg.seq
    }

    /// A new connection (number `by`) uses this one's four-tuple: the
    /// kernel destroys a TIME-WAIT socket left on it (the server recycles
    /// it for the new SYN; a client reuses its own). Returns the side whose
    /// TIME-WAIT ended.
    pub(crate) fn used_again(&mut self, by: u64) -> Option<(u64, Side)> {
        let side = [Side::Client, Side::Server]
            .into_iter()
            .find(|&s| self.state(s) == State::TimeWait)?;
        *self.state_mut(side) = State::Closed;
        self.time_wait_ended_by = Some(by);
        Some((self.id, side))
    }

    pub(crate) fn state_mut(&mut self, side: Side) -> &mut State {
        match side {
            Side::Client => &mut self.client_state,
            Side::Server => &mut self.server_state,
        }
    }

    /// The state of one endpoint.
    pub fn state(&self, side: Side) -> State {
        match side {
            Side::Client => self.client_state,
            Side::Server => self.server_state,
        }
    }

    /// Process one packet of this connection.
    pub fn observe(&mut self, seg: &Segment) -> Observation {
        let mut obs = Observation::EMPTY;
        self.observe_into(seg, &mut obs);
        obs
    }

    /// Process one packet of this connection, writing what it did into
    /// `obs` (which the caller reuses: no copy of it per packet).
    pub fn observe_into(&mut self, seg: &Segment, obs: &mut Observation) {
        let from_client = seg.src == self.client;
        let (d, r) = if from_client { (0, 1) } else { (1, 0) };
        let sender = if from_client {
            Side::Client
        } else {
            Side::Server
        };
        self.last = seg.ts;
        *obs = Observation {
            conn: self.id,
            from_client,
            roles_guessed: self.roles_guessed,
            ..Observation::EMPTY
        };

        // ISNs and window scale from the handshake.
        if seg.has(flag::SYN) {
            self.seq[d].isn = seg.seq;
            self.seq[d].isn_set = true;
            self.seq[d].win_scale = seg.wscale.map_or(-2, |w| w.min(14) as i8);
            if !seg.has(flag::ACK) && self.syn_time.is_none() {
                self.syn_time = Some(seg.ts);
            }
        } else if !self.seq[d].isn_set {
            self.seq[d].isn = seg.seq.wrapping_sub(1);
            self.seq[d].isn_set = true;
        }
        if seg.has(flag::ACK) && !self.seq[r].isn_set {
            self.seq[r].isn = seg.ack.wrapping_sub(1);
            self.seq[r].isn_set = true;
        }
        // A window scale applies only when both SYNs carried the option.
        if seg.has(flag::SYN | flag::ACK) && self.seq[r].win_scale >= 0 && seg.wscale.is_none() {
            self.seq[r].win_scale = -2;
        }
        obs.rel_seq = seg.seq.wrapping_sub(self.seq[d].isn);
        obs.rel_ack = if seg.has(flag::ACK) {
            seg.ack.wrapping_sub(self.seq[r].isn)
        } else {
            0
        };
        let shift = if seg.has(flag::SYN) || self.seq[d].win_scale < 0 {
            0
        } else {
            self.seq[d].win_scale as u32
        };
        obs.window = (seg.win as u64) << shift;

        self.analyze(seg, d, r, obs);
        self.sack(seg, r, obs);
        if seg.options_cut {
            obs.flags = Flags::default();
        }
        self.count(seg, d, from_client, obs);
        self.transitions(seg, sender, d, r, obs);
    }

    fn count(&mut self, seg: &Segment, d: usize, orig: bool, obs: &Observation) {
        let st = &mut self.stats[d];
        st.packets += 1;
        st.bytes += seg.len as u64;
        st.ip_bytes += seg.ip_len as u64;
        st.first_ts.get_or_insert(seg.ts);
        let f = obs.flags;
        let retransmitted = f.retransmitted();
        if retransmitted {
            st.retransmissions += 1;
        }
        if f.has(Flags::OUT_OF_ORDER) {
            st.out_of_order += 1;
        }
        if f.has(Flags::DUPLICATE_ACK) {
            st.dup_acks += 1;
        }
        if f.has(Flags::ZERO_WINDOW) {
            st.zero_windows += 1;
        }
        if seg.nsack > 0 {
            st.sacks += 1;
        }
        if f.has(Flags::DSACK) {
            st.dsacks += 1;
        }
        st.syn |= seg.has(flag::SYN) && !seg.has(flag::ACK);
        st.synack |= seg.has(flag::SYN | flag::ACK);
        st.fin |= seg.has(flag::FIN);
        st.rst |= seg.has(flag::RST);
        self.history.record(seg, orig, f, retransmitted);
    }
}

/// Hand-made segments for the unit tests of each idea.
#[cfg(test)]
pub(crate) mod testing {
    use crate::segment::{Addr, Endpoint, Segment, Ts};

    /// A segment at `ms` milliseconds, from the client (192.0.2.1:40000)
    /// or the server (192.0.2.2:80).
    pub fn seg(ms: i64, from_client: bool, flags: u8, seq: u32, ack: u32, len: u32) -> Segment {
        let c = Endpoint {
            addr: Addr::v4([192, 0, 2, 1]),
            port: 40000,
        };
        let s = Endpoint {
            addr: Addr::v4([192, 0, 2, 2]),
            port: 80,
        };
        let (src, dst) = if from_client { (c, s) } else { (s, c) };
        Segment {
            ts: Ts {
                sec: ms / 1000,
                nsec: (ms % 1000) as u32 * 1_000_000,
            },
            src,
            dst,
            seq,
            ack,
            flags,
            win: 1000,
            len,
            ..Segment::default()
        }
    }
}

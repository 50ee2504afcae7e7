//! One connection: both directions' sequence spaces, both endpoints'
//! states, the analysis flags of each packet, and what the connection looked
//! like as a whole.
//!
//! The capture point sits between the endpoints. What an endpoint *sends*
//! proves its state (certain); what it *receives* is assumed delivered
//! (inferred, and marked so in the output).

use crate::analysis::{seq_ge, seq_gt, seq_le, seq_lt, Flags};
use crate::segment::{flag, Endpoint, Segment, Ts};
use crate::state::State;

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
    fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
}

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
}

impl Observation {
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

/// Wireshark's per-direction sequence analysis state.
#[derive(Clone, Copy, Debug, Default)]
struct SeqInfo {
    isn: u32,
    isn_set: bool,
    nextseq: u32,
    nextseq_time: Ts,
    lastack: u32,
    lastack_time: Ts,
    maxseqtobeacked: u32,
    dupacknum: i32,
    window: u32,
    /// -1 unknown (no SYN seen), -2 SYN without the option, else the shift.
    win_scale: i8,
    last_flags: Flags,
    seen_ack: bool,
}

/// One direction's counters and history bookkeeping.
#[derive(Clone, Copy, Debug, Default)]
pub struct DirStats {
    /// Packets sent.
    pub packets: u64,
    /// Payload bytes sent (IP lengths, retransmissions included).
    pub bytes: u64,
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
    /// Who sent the first RST.
    pub first_rst: Option<Side>,
    /// The RST answered a SYN.
    pub refused: bool,
    /// Client to server, server to client.
    pub stats: [DirStats; 2],
    seq: [SeqInfo; 2],
    syn_time: Option<Ts>,
    /// FIN sequence numbers (the sequence number the FIN occupies).
    fin_seq: [Option<u32>; 2],
    history: History,
}

/// Zeek's history string, built as packets arrive.
#[derive(Clone, Debug, Default)]
struct History {
    text: [u8; 32],
    len: u8,
    once: u32,
    last_seq: [[Option<u32>; 4]; 2],
    counts: [[u64; 4]; 2],
}

impl History {
    fn push(&mut self, c: u8) {
        if (self.len as usize) < self.text.len() {
            self.text[self.len as usize] = c;
            self.len += 1;
        }
    }
    fn letter(c: u8, orig: bool) -> u8 {
        if orig {
            c.to_ascii_uppercase()
        } else {
            c
        }
    }
    /// 'a', 'd', 'i', 'q': once per direction.
    fn once(&mut self, c: u8, orig: bool) {
        let bit = 1u32 << ((c - b'a') as u32 % 16 + if orig { 16 } else { 0 });
        if self.once & bit == 0 {
            self.once |= bit;
            self.push(Self::letter(c, orig));
        }
    }
    /// 's', 'h', 'f', 'r': again whenever the sequence number differs.
    fn by_seq(&mut self, c: u8, orig: bool, seq: u32) {
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
    fn logarithmic(&mut self, c: u8, orig: bool) {
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
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text[..self.len as usize]).unwrap_or("")
    }
}

fn is_power_of_ten(mut n: u64) -> bool {
    while n >= 10 && n % 10 == 0 {
        n /= 10;
    }
    n == 1
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
        let (cs, ss) = if syn_only || synack {
            (State::Closed, State::Listen)
        } else {
            (State::Established, State::Established)
        };
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
            refused: false,
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

    /// Zeek's history string.
    pub fn history(&self) -> &str {
        self.history.as_str()
    }

    fn state_mut(&mut self, side: Side) -> &mut State {
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
        let from_client = seg.src == self.client;
        let (d, r) = if from_client { (0, 1) } else { (1, 0) };
        let sender = if from_client {
            Side::Client
        } else {
            Side::Server
        };
        self.last = seg.ts;
        let mut obs = Observation {
            conn: self.id,
            from_client,
            roles_guessed: self.roles_guessed,
            rel_seq: 0,
            rel_ack: 0,
            window: 0,
            transitions: [Transition {
                side: Side::Client,
                from: State::Closed,
                to: State::Closed,
                inferred: false,
                note: Note::None,
            }; 4],
            ntrans: 0,
            flags: Flags::default(),
            dupack: 0,
            irtt: None,
            sack: [(0, 0); 4],
            nsack: 0,
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

        self.analyze(seg, d, r, &mut obs);
        self.sack(seg, r, &mut obs);
        if seg.options_cut {
            obs.flags = Flags::default();
        }
        self.count(seg, d, from_client, &obs);
        self.transitions(seg, sender, d, r, &mut obs);
        obs
    }

    /// The SACK blocks, relative to the peer's ISN, and whether the first is
    /// a D-SACK (RFC 2883: it lies below the cumulative ACK, or inside the
    /// second block), as Wireshark decides it.
    fn sack(&mut self, seg: &Segment, r: usize, obs: &mut Observation) {
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
            .is_some_and(|&(l2, r2)| seq_ge(l1, l2) && seq_le(r1, r2));
        if seq_lt(l1, seg.ack) || inside_second {
            obs.flags.set(Flags::DSACK);
        }
    }

    /// Wireshark's `tcp_analyze_sequence_number`, on absolute numbers.
    fn analyze(&mut self, seg: &Segment, d: usize, r: usize, obs: &mut Observation) {
        let (seq, ack, seglen, window) = (seg.seq, seg.ack, seg.len, seg.win as u32);
        let sfr = seg.flags & (flag::SYN | flag::FIN | flag::RST) != 0;
        let f = &mut obs.flags;
        let fwd = self.seq[d];
        let rev = self.seq[r];
        let mut skip_rest = false;

        if seglen == 1 && seq == fwd.nextseq && rev.window == 0 && rev.seen_ack {
            f.set(Flags::ZERO_WINDOW_PROBE);
            skip_rest = true;
        }
        if !skip_rest {
            if window == 0 && !sfr {
                f.set(Flags::ZERO_WINDOW);
            }
            if fwd.nextseq != 0 && seq_gt(seq, fwd.nextseq) && !seg.has(flag::RST) {
                f.set(Flags::LOST_SEGMENT);
            }
            if seglen <= 1 && seq == fwd.nextseq.wrapping_sub(1) && !sfr {
                f.set(Flags::KEEP_ALIVE);
            }
            let same =
                seglen == 0 && seq == fwd.nextseq && ack == fwd.lastack && !sfr && fwd.seen_ack;
            if same && window != 0 && window != fwd.window {
                f.set(Flags::WINDOW_UPDATE);
            }
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
        if rev.maxseqtobeacked != 0 && seq_gt(ack, rev.maxseqtobeacked) && seg.has(flag::ACK) {
            if seq_gt(rev.maxseqtobeacked, rev.nextseq) {
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
            let mut not_advanced = fwd.nextseq != 0 && seq_lt(seq, fwd.nextseq);
            if seglen > 1 && fwd.nextseq.wrapping_sub(1) == seq {
                not_advanced = false;
            }
            if seglen > 0
                && rev.lastack != 0
                && seq_le(seq.wrapping_add(seglen), rev.lastack)
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
        if (seq_gt(nextseq, s.nextseq) || s.nextseq == 0) && !f.has(Flags::ZERO_WINDOW_PROBE) {
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

    fn count(&mut self, seg: &Segment, d: usize, orig: bool, obs: &Observation) {
        let st = &mut self.stats[d];
        st.packets += 1;
        st.bytes += seg.len as u64;
        st.first_ts.get_or_insert(seg.ts);
        let f = obs.flags;
        let retransmitted = f.0
            & (Flags::RETRANSMISSION | Flags::FAST_RETRANSMISSION | Flags::SPURIOUS_RETRANSMISSION)
            != 0;
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
        let (syn, ack, fin, rst) = (
            seg.has(flag::SYN),
            seg.has(flag::ACK),
            seg.has(flag::FIN),
            seg.has(flag::RST),
        );
        // Zeek's history letters.
        let h = &mut self.history;
        if syn && rst || syn && fin {
            h.once(b'q', orig);
        }
        if syn && !ack {
            h.by_seq(b's', orig, seg.seq);
            st.syn = true;
        } else if syn {
            h.by_seq(b'h', orig, seg.seq);
            st.synack = true;
        }
        if fin {
            h.by_seq(b'f', orig, seg.seq);
            st.fin = true;
        }
        if rst {
            h.by_seq(b'r', orig, seg.seq);
            st.rst = true;
        }
        if seg.len > 0 {
            h.once(b'd', orig);
        } else if ack && !syn && !fin && !rst {
            h.once(b'a', orig);
        }
        if retransmitted && seg.len > 0 {
            h.logarithmic(b't', orig);
        }
        if f.has(Flags::ZERO_WINDOW) {
            h.logarithmic(b'w', orig);
        }
        if f.has(Flags::LOST_SEGMENT) {
            h.logarithmic(b'g', orig);
        }
    }

    /// Move `side` to `to`, and record the change (if it is one).
    fn enter(&mut self, obs: &mut Observation, side: Side, to: State, inferred: bool, note: Note) {
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
    fn transitions(
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
        let acks_peer_fin = ack && self.fin_seq[r].is_some_and(|s| seq_gt(seg.ack, s));
        let acks_peer_syn = ack && self.seq[r].isn_set && seq_gt(seg.ack, self.seq[r].isn);

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

    /// Zeek's conn_state.
    pub fn conn_state(&self) -> &'static str {
        let (o, r) = (&self.stats[0], &self.stats[1]);
        let established = o.syn && r.synack;
        if self.roles_guessed && !o.syn && !r.synack {
            return "OTH";
        }
        if o.syn && !r.synack {
            if r.rst {
                return "REJ";
            }
            if o.rst {
                return "RSTOS0";
            }
            if o.fin {
                return "SH";
            }
            return "S0";
        }
        if !o.syn && r.synack {
            if r.rst {
                return "RSTRH";
            }
            if r.fin {
                return "SHR";
            }
            return "OTH";
        }
        if established {
            if o.rst && self.first_rst == Some(Side::Client) {
                return "RSTO";
            }
            if r.rst {
                return "RSTR";
            }
            if o.rst {
                return "RSTO";
            }
            if o.fin && r.fin {
                return "SF";
            }
            if o.fin {
                return "S2";
            }
            if r.fin {
                return "S3";
            }
            return "S1";
        }
        "OTH"
    }

    /// Who ends in TIME-WAIT: the side that closed first, once both FINs
    /// were exchanged without an RST.
    pub fn time_wait(&self) -> Option<Side> {
        if self.client_state == State::TimeWait {
            Some(Side::Client)
        } else if self.server_state == State::TimeWait {
            Some(Side::Server)
        } else if self.first_rst.is_none() && self.stats[0].fin && self.stats[1].fin {
            self.first_fin
        } else {
            None
        }
    }

    /// What each application saw from the other side's RST or FIN:
    /// (client, server).
    pub fn app_errors(&self) -> (Option<&'static str>, Option<&'static str>) {
        let verdict = |me: Side| -> Option<&'static str> {
            match self.first_rst {
                Some(s) if s != me => Some(if self.refused {
                    "ECONNREFUSED (Connection refused) on connect"
                } else {
                    "ECONNRESET (Connection reset by peer) on read, then EPIPE (Broken pipe) on write"
                }),
                _ => None,
            }
        };
        (verdict(Side::Client), verdict(Side::Server))
    }
}

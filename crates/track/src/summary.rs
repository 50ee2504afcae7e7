//! One typed record per connection: what every connection output (table,
//! JSON, CSV, Zeek's conn.log) serializes.

use crate::conn::{Conn, DirStats, Side};
use crate::outcome::AppOutcome;
use crate::rst::RstCause;
use crate::segment::{Endpoint, Ts};
use crate::state::State;
use crate::zeek::ConnState;

/// The per-direction analysis counts, each with the one name every output
/// gives it (`client_` or `server_` in front).
pub const DIR_COUNTS: [(&str, fn(&DirStats) -> u64); 5] = [
    ("retransmissions", |s| s.retransmissions),
    ("dup_acks", |s| s.dup_acks),
    ("zero_windows", |s| s.zero_windows),
    ("sacks", |s| s.sacks),
    ("dsacks", |s| s.dsacks),
];

/// A connection as a whole.
#[derive(Clone, Debug)]
pub struct ConnSummary {
    /// Connection number, from 1 in order of first packet.
    pub id: u64,
    /// The endpoint that sent the first SYN (or guessed so).
    pub client: Endpoint,
    /// The other endpoint.
    pub server: Endpoint,
    /// Roles come from a heuristic: no SYN or SYN-ACK was seen.
    pub roles_guessed: bool,
    /// First packet.
    pub start: Ts,
    /// Last packet.
    pub end: Ts,
    /// Client to server, server to client.
    pub dirs: [DirStats; 2],
    /// Handshake RTT in seconds (SYN to the ACK of the SYN-ACK).
    pub irtt: Option<f64>,
    /// Zeek's conn_state.
    pub conn_state: ConnState,
    /// Zeek's history string.
    pub history: String,
    /// Who sent the first FIN.
    pub closed_first: Option<Side>,
    /// Who ends in TIME-WAIT.
    pub time_wait: Option<Side>,
    /// Who sent the first RST that took effect.
    pub reset_by: Option<Side>,
    /// Why that RST was sent.
    pub rst_cause: Option<RstCause>,
    /// RSTs the receiver did not obey (a challenge ACK, or outside the window).
    pub rsts_not_obeyed: u32,
    /// SYN-ACKs the server re-sent after the client's final ACK (the
    /// listener dropped it: a full accept queue).
    pub synacks_after_final_ack: u32,
    /// The side none of whose packets were captured although the other
    /// acknowledged them: verdicts about it are unknown.
    pub missing: Option<Side>,
    /// The connection that used this one's four-tuple again and so ended
    /// its TIME-WAIT.
    pub time_wait_ended_by: Option<u64>,
    /// Each side's state when the capture ended (CLOSED for a side that
    /// gave up re-sending, a heuristic), client first.
    pub end_states: (State, State),
    /// What the client's application saw.
    pub client_saw: AppOutcome,
    /// What the server's application saw.
    pub server_saw: AppOutcome,
}

impl ConnSummary {
    /// Seconds from the first packet to the last.
    pub fn duration(&self) -> f64 {
        self.end.since(self.start)
    }

    /// One direction's counts: the client's (what it sent) or the server's.
    pub fn dir(&self, side: Side) -> &DirStats {
        &self.dirs[side as usize]
    }
}

impl Conn {
    /// The connection's summary record.
    pub fn summary(&self) -> ConnSummary {
        ConnSummary {
            id: self.id,
            client: self.client,
            server: self.server,
            roles_guessed: self.roles_guessed,
            start: self.start,
            end: self.last,
            dirs: self.stats,
            irtt: self.irtt,
            conn_state: self.conn_state(),
            history: self.history().to_string(),
            closed_first: self
                .first_fin
                .filter(|_| self.missing_direction().is_none()),
            time_wait: self.time_wait(),
            reset_by: self.first_rst,
            rst_cause: self.rst_cause,
            rsts_not_obeyed: self.rsts_not_obeyed,
            synacks_after_final_ack: self.synacks_after_final_ack,
            missing: self.missing_direction(),
            time_wait_ended_by: self.time_wait_ended_by,
            end_states: (self.end_state(Side::Client), self.end_state(Side::Server)),
            client_saw: self.outcome(Side::Client),
            server_saw: self.outcome(Side::Server),
        }
    }
}

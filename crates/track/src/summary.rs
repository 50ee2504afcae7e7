//! One typed record per connection: what every connection output (table,
//! JSON, CSV, Zeek's conn.log) serializes.

use crate::conn::{Conn, DirStats, Side};
use crate::outcome::AppOutcome;
use crate::segment::{Endpoint, Ts};
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
    /// Who sent the first RST.
    pub reset_by: Option<Side>,
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
            closed_first: self.first_fin,
            time_wait: self.time_wait(),
            reset_by: self.first_rst,
            client_saw: self.outcome(Side::Client),
            server_saw: self.outcome(Side::Server),
        }
    }
}

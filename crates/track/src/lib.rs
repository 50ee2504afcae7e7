//! Connection tracking: both endpoints' TCP state on every packet, the
//! analysis flags Wireshark computes, and one typed summary per connection.
//!
//! One file per idea, as Zeek splits its conn scripts:
//!
//! - [`conn`]: the connection record and the order a packet goes through it;
//! - [`machine`]: the RFC 9293 state machine as the capture point sees it;
//! - [`analysis`]: Wireshark's analysis flags with their definitions;
//! - [`zeek`]: Zeek's conn_state and history;
//! - [`outcome`]: what each application saw, with its errno;
//! - [`rst`]: why each RST was sent, and whether it was obeyed;
//! - [`summary`]: the typed record every connection output serializes.
//!
//! ```
//! use tcpscope_track::{FlowTable, segment};
//! let mut table = FlowTable::new();
//! // for each frame: if let Some(seg) = segment::extract(&frame, false) { table.observe(&seg); }
//! assert_eq!(table.len(), 0);
//! ```
//!
//! Memory: one [`Conn`] (about 860 bytes) per open connection, plus a map
//! entry. Connections that are over (closed both ways, or reset) and have
//! been quiet for a minute of capture time, and any connection quiet for
//! five minutes, are evicted on a clock driven by packet timestamps.
#![deny(missing_docs)]

pub mod analysis;
pub mod conn;
pub mod machine;
pub mod outcome;
pub mod rst;
pub mod segment;
pub mod summary;
mod table;
pub mod zeek;

/// The RFC 9293 states, from the vocabulary in `tcpscope-wire`.
pub mod state {
    pub use tcpscope_wire::State;
}

pub use analysis::Flags;
pub use conn::{Conn, DirStats, Observation, Side};
pub use machine::{Correction, Note, Transition};
pub use outcome::{AppOutcome, Retrying};
pub use rst::{RstCause, RstEffect, RstVerdict};
pub use segment::{Endpoint, Segment, Ts};
pub use state::State;
pub use summary::{ConnSummary, DIR_COUNTS};
pub use table::FlowTable;
pub use zeek::ConnState;

//! Connection tracking: both endpoints' TCP state on every packet, the
//! analysis flags Wireshark computes, and one summary per connection.
//!
//! ```
//! use tcpscope_track::{FlowTable, segment};
//! let mut table = FlowTable::new();
//! // for each frame: if let Some(seg) = segment::extract(&frame, false) { table.observe(&seg); }
//! assert_eq!(table.len(), 0);
//! ```
//!
//! Memory: one [`Conn`] (about 600 bytes) per open connection, plus a map
//! entry. Connections that are over (closed both ways, or reset) and have
//! been quiet for a minute of capture time, and any connection quiet for
//! five minutes, are evicted on a clock driven by packet timestamps.
#![deny(missing_docs)]

pub mod analysis;
pub mod conn;
pub mod segment;
pub mod state;
mod table;

pub use analysis::Flags;
pub use conn::{Conn, Note, Observation, Side, Transition};
pub use segment::{Endpoint, Segment, Ts};
pub use state::State;
pub use table::FlowTable;

//! `tcpscope conns`: one row per connection, from the typed
//! [`ConnSummary`], as an aligned table, JSON Lines, Zeek's conn.log or CSV.
//! One format per file.

mod csv;
mod json;
mod table;
mod zeek;

use tcpscope_track::{Conn, ConnSummary};

use crate::pipeline::{Output, Packet};
use crate::OutputError;

/// The formats of `conns`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// An aligned table for people.
    Table,
    /// JSON Lines, one object of type `connection` each.
    Json,
    /// Zeek's conn.log (TSV with its header).
    Zeek,
    /// CSV with a header row.
    Csv,
}

/// The connection summaries of a capture, written at its end.
pub struct Conns {
    format: Format,
}

impl Conns {
    /// In this format.
    pub fn new(format: Format) -> Conns {
        Conns { format }
    }
}

impl Output for Conns {
    fn tracks(&self) -> bool {
        true
    }
    fn packet(&mut self, _: &Packet<'_>, _: &mut Vec<u8>) {}
    fn wants_connections(&self) -> bool {
        true
    }
    fn finish(&mut self, conns: &[Conn], out: &mut Vec<u8>) -> Result<(), OutputError> {
        let all: Vec<ConnSummary> = conns.iter().map(Conn::summary).collect();
        match self.format {
            Format::Table => table::write(&all, out),
            Format::Json => json::write(&all, out),
            Format::Csv => csv::write(&all, out),
            Format::Zeek => zeek::write(&all, out),
        }
        Ok(())
    }
}

//! `tcpscope conns`: one row per connection, from the typed
//! [`ConnSummary`], as an aligned table, JSON Lines, Zeek's conn.log, CSV
//! or (with the `parquet` feature) Parquet. One format per file.
//!
//! A run over several captures gives one [`Batch`] per capture (one file,
//! or the pieces of a rotated set read as one stream); the formats write
//! the batches in order, each row naming its `source_file`.

mod csv;
mod json;
mod table;
mod zeek;

use tcpscope_track::{Conn, ConnSummary, Ts};

use crate::pipeline::{Output, Packet};
use crate::OutputError;

/// The formats of `conns` that write text.
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

/// The connections of one capture.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// The capture's files in the order read, each with the time of its
    /// first packet (`None`: it had none).
    pub pieces: Vec<(Option<Ts>, String)>,
    /// Where it was captured, when known (`--host`, or a `host=NAME`
    /// directory in its path).
    pub host: Option<String>,
    /// Its connections, by id.
    pub conns: Vec<ConnSummary>,
}

impl Batch {
    /// The file holding the first packet of `c`: of a rotated set, the
    /// last piece that began at or before it.
    pub fn source_of(&self, c: &ConnSummary) -> &str {
        let mut name = self.pieces.first().map_or("-", |(_, n)| n.as_str());
        for (first, n) in &self.pieces {
            match first {
                Some(t) if *t <= c.start => name = n,
                Some(_) => break,
                None => {}
            }
        }
        name
    }
}

/// Write `batches` in `format`: one header, every batch's rows in order.
/// Connection ids are per capture; with more than one batch, Zeek's uid
/// and the table say which capture a row is from.
pub fn write(format: Format, batches: &[Batch], out: &mut Vec<u8>) {
    match format {
        Format::Table => table::write(batches, out),
        Format::Json => json::write(batches, out),
        Format::Csv => csv::write(batches, out),
        Format::Zeek => zeek::write(batches, out),
    }
}

/// The connection summaries of a capture, written at its end, or kept for
/// the caller to write with others ([`Conns::collecting`]).
pub struct Conns {
    format: Option<Format>,
    batch: Batch,
}

impl Conns {
    /// Written in this format, naming `source` as each row's file.
    pub fn new(format: Format, source: &str) -> Conns {
        Conns {
            format: Some(format),
            batch: Batch {
                pieces: vec![(None, source.to_string())],
                ..Batch::default()
            },
        }
    }

    /// Kept in [`Conns::take`] at the end instead of written.
    pub fn collecting() -> Conns {
        Conns {
            format: None,
            batch: Batch::default(),
        }
    }

    /// The connections kept by a [`Conns::collecting`] output.
    pub fn take(&mut self) -> Vec<ConnSummary> {
        std::mem::take(&mut self.batch.conns)
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
        self.batch.conns = conns.iter().map(Conn::summary).collect();
        if let Some(format) = self.format {
            write(format, std::slice::from_ref(&self.batch), out);
            self.batch.conns.clear();
        }
        Ok(())
    }
}

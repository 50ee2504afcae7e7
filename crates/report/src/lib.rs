//! tcpscope's own outputs: everything it prints that is not tcpdump's line.
//!
//! Each output is one type behind one sink trait, [`Output`], as ripgrep's
//! printers are; a new output is a new type here, not an `if` in an old one.
//! The [`Pipeline`] feeds an output from a frame source through the filter
//! and the tracker, and is what the binary, the tests and the labs call.
//!
//! | output | type | command |
//! | --- | --- | --- |
//! | tcpdump's lines | [`tcpdump::Tcpdump`] | `read`, `capture` |
//! | `--count` | [`tcpdump::Count`] | `read`, `capture` |
//! | `--explain` | [`explain::Explain`] | `read`, `capture` |
//! | `--simple` | [`simple::Simple`] | `read`, `capture` |
//! | packet JSON | [`packet_json::PacketJson`] | `read --json`, `capture --json` |
//! | connection table, JSON, CSV, Zeek | [`conns::Conns`] | `conns` |
//! | connection and packet Parquet (feature `parquet`) | `columnar` | `conns --format parquet`, `read --format parquet` |
//! | ladder as text, SVG, JSON | [`ladder::Ladder`] | `ladder` |
//!
//! Every JSON object follows the one schema of [`json`].
//!
//! ```
//! use tcpscope_capture::{FrameSource, Precision, Reader};
//! use tcpscope_report::{conns, Pipeline};
//! # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/captures/client-close.pcap");
//! let reader = Reader::open(path.as_ref(), Precision::Nano).unwrap();
//! let mut source = FrameSource::new(reader);
//! let mut pipeline = Pipeline::new("", conns::Conns::new(conns::Format::Csv, "client-close.pcap"), true);
//! let mut out = Vec::new();
//! let run = pipeline.run(&mut source, &mut out, u64::MAX);
//! assert!(run.error.is_none());
//! assert!(String::from_utf8(out).unwrap().starts_with("id,client,server"));
//! ```
#![deny(missing_docs)]

pub mod annotate;
#[cfg(feature = "parquet")]
pub mod columnar;
pub mod conns;
pub mod diagnose;
pub mod explain;
pub mod html;
pub mod json;
pub mod ladder;
pub mod packet_json;
pub mod pipeline;
pub mod simple;
pub mod tcpdump;
pub mod words;

pub use pipeline::{Output, OutputError, Packet, Pipeline, Run, RunError, Tracked};

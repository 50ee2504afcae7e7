//! What tcpscope makes of a lab's capture: each packet with the states and
//! analysis flags the tracker gave it, tcpdump's line with `--explain`, the
//! connection summaries and the key connection's ladder. The labs' wire and
//! tcpscope checks read this; the output shows it.

use std::path::Path;

use tcpscope_capture::{FrameSource, Precision, Reader};
use tcpscope_print::{Options, Printer};
use tcpscope_report::ladder::{Ladder, Style};
use tcpscope_report::words::explain_line;
use tcpscope_report::{Output, OutputError, Packet, Pipeline};
use tcpscope_track::{Conn, ConnSummary, Flags, State, Transition, Ts};

use crate::LabError;

/// One TCP packet as the capture and the tracker saw it.
#[derive(Clone, Debug)]
pub struct Pkt {
    /// Seconds since the capture's first packet.
    pub t: f64,
    /// Connection number.
    pub conn: u64,
    /// Sent by the client.
    pub from_client: bool,
    /// TCP flag byte.
    pub flags: u8,
    /// Absolute sequence and acknowledgment numbers.
    pub seq: u32,
    /// Absolute acknowledgment number.
    pub ack: u32,
    /// Relative sequence number.
    pub rel_seq: u32,
    /// Payload bytes.
    pub len: u32,
    /// Window field (unscaled).
    pub win: u16,
    /// Window in bytes, scaled when the scale is known.
    pub window: u64,
    /// Wireshark's analysis flags.
    pub analysis: Flags,
    /// State changes the tracker made on this packet.
    pub transitions: Vec<Transition>,
    /// Both sides' states after it.
    pub states: (State, State),
    /// tcpdump's line and the explain line under it.
    pub text: String,
}

impl Pkt {
    /// Whether all of `bits` are set.
    pub fn has(&self, bits: u8) -> bool {
        self.flags & bits == bits
    }
}

/// Everything tcpscope inferred.
pub struct Analysis {
    /// Every TCP packet.
    pub packets: Vec<Pkt>,
    /// Every connection's summary.
    pub conns: Vec<ConnSummary>,
}

#[derive(Default)]
struct Collect {
    printer: Option<Printer>,
    t0: Option<tcpscope_track::Ts>,
    packets: Vec<Pkt>,
    conns: Vec<ConnSummary>,
    line: Vec<u8>,
}

impl Output for Collect {
    fn tracks(&self) -> bool {
        true
    }
    fn packet(&mut self, p: &Packet<'_>, _: &mut Vec<u8>) {
        let Some(t) = &p.tcp else {
            return;
        };
        let t0 = *self.t0.get_or_insert(t.seg.ts);
        self.line.clear();
        let printer = self.printer.get_or_insert_with(|| {
            Printer::new(Options {
                tflag: 5,
                nano: true,
                ..Options::default()
            })
        });
        printer.print(p.frame, &mut self.line);
        let mut text = String::from_utf8_lossy(&self.line).into_owned();
        if let Some(e) = explain_line(t.obs) {
            text.push_str(&e);
            text.push('\n');
        }
        self.packets.push(Pkt {
            t: t.seg.ts.since(t0),
            conn: t.obs.conn,
            from_client: t.obs.from_client,
            flags: t.seg.flags,
            seq: t.seg.seq,
            ack: t.seg.ack,
            rel_seq: t.obs.rel_seq,
            len: t.seg.len,
            win: t.seg.win,
            window: t.obs.window,
            analysis: t.obs.flags,
            transitions: t.obs.transitions().to_vec(),
            states: (t.conn.client_state, t.conn.server_state),
            text,
        });
    }
    fn wants_connections(&self) -> bool {
        true
    }
    fn finish(&mut self, conns: &[Conn], _: &mut Vec<u8>) -> Result<(), OutputError> {
        self.conns = conns.iter().map(Conn::summary).collect();
        Ok(())
    }
}

/// A frame's time (the lab's captures are in nanoseconds).
fn frame_ts(f: &tcpscope_capture::Frame<'_>) -> Ts {
    let ns = f.ts_sec as i128 * 1_000_000_000 + f.ts_frac as i128;
    Ts {
        sec: ns.div_euclid(1_000_000_000) as i64,
        nsec: ns.rem_euclid(1_000_000_000) as u32,
    }
}

fn source(pcap: &Path) -> Result<FrameSource, LabError> {
    Reader::open(pcap, Precision::Nano)
        .map(FrameSource::new)
        .map_err(|e| LabError::Capture(format!("{}: {e}", pcap.display())))
}

impl Analysis {
    /// Read a lab's capture.
    pub fn of(pcap: &Path) -> Result<Analysis, LabError> {
        let mut p = Pipeline::new("", Collect::default(), true);
        let run = p.run(&mut source(pcap)?, &mut std::io::sink(), u64::MAX);
        if let Some(e) = run.error {
            return Err(LabError::Capture(e.to_string()));
        }
        Ok(Analysis::from(p.output()))
    }

    /// Read a lab's capture up to `end`, the instant the lab listed the
    /// kernel's sockets, as a capture that ran until then.
    pub fn until(pcap: &Path, end: Ts) -> Result<Analysis, LabError> {
        let mut p = Pipeline::new("", Collect::default(), true);
        let mut src = source(pcap)?;
        loop {
            match src.next_frame() {
                Ok(Some(f)) if frame_ts(&f) <= end => p.push_unfiltered(&f),
                Ok(_) => break,
                Err(e) => return Err(LabError::Capture(e.to_string())),
            }
        }
        p.set_capture_end(end);
        p.finish().map_err(|e| LabError::Capture(e.to_string()))?;
        Ok(Analysis::from(p.output()))
    }

    fn from(c: &Collect) -> Analysis {
        Analysis {
            packets: c.packets.clone(),
            conns: c.conns.clone(),
        }
    }

    /// The packets of one connection.
    pub fn of_conn(&self, conn: u64) -> impl Iterator<Item = &Pkt> {
        self.packets.iter().filter(move |p| p.conn == conn)
    }

    /// One connection's summary.
    pub fn conn(&self, id: u64) -> Option<&ConnSummary> {
        self.conns.iter().find(|c| c.id == id)
    }
}

/// The text ladder of one connection of the capture.
pub fn ladder(pcap: &Path, conn: u64) -> Result<String, LabError> {
    let mut p = Pipeline::new("", Ladder::new(conn, Style::Text), true);
    let mut out = Vec::new();
    let run = p.run(&mut source(pcap)?, &mut out, u64::MAX);
    if let Some(e) = run.error {
        return Err(LabError::Capture(e.to_string()));
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

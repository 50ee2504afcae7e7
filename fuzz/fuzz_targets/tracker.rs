//! The tracker and its outputs on a sequence of mutated packets: the input
//! is cut into frames (a 2-byte length before each), all of one link type
//! chosen by the first byte, with timestamps that the next bytes move
//! forwards and backwards. Every output that tracks sees them, and the
//! connection summaries are made at the end.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcpscope_capture::Frame;
use tcpscope_report::conns::{Conns, Format};
use tcpscope_report::diagnose::Diagnose;
use tcpscope_report::explain::Explain;
use tcpscope_report::ladder::{Ladder, Pick, Range, Style};
use tcpscope_report::packet_json::PacketJson;
use tcpscope_report::{Output, Pipeline};

const LINKTYPES: [u32; 6] = [1, 101, 113, 276, 0, 228];

fn run<O: Output>(output: O, linktype: u32, frames: &[(i64, i64, &[u8])]) {
    let mut p = Pipeline::new("", output, true);
    let mut sink = Vec::new();
    for (sec, frac, data) in frames {
        let f = Frame {
            ts_sec: *sec,
            ts_frac: *frac,
            linktype,
            caplen: data.len() as u32,
            len: data.len() as u32,
            interface: 0,
            data,
        };
        p.push_unfiltered(&f);
        let _ = p.drain(&mut sink, 1 << 16);
    }
    let _ = p.end(&mut sink, None);
}

fuzz_target!(|data: &[u8]| {
    let [lt, tail @ ..] = data else { return };
    let mut rest: &[u8] = tail;
    let linktype = LINKTYPES[*lt as usize % LINKTYPES.len()];
    let mut frames = Vec::new();
    let mut sec = 1_700_000_000i64;
    while let &[a, b, t, ref tail @ ..] = rest {
        let n = (usize::from(a) << 8 | usize::from(b)) % 2048;
        let n = n.min(tail.len());
        // Time moves by -64..191 ms, or jumps to an extreme value.
        sec = match t {
            255 => i64::MAX,
            254 => i64::MIN,
            _ => sec,
        };
        let frac = (i64::from(t) - 64) * 1_000_000;
        frames.push((sec, frac, &tail[..n]));
        rest = &tail[n..];
    }
    run(Conns::new(Format::Json, "fuzz"), linktype, &frames);
    run(Conns::new(Format::Zeek, "fuzz"), linktype, &frames);
    run(PacketJson::default(), linktype, &frames);
    run(Explain::new(Default::default()), linktype, &frames);
    run(Diagnose::new(false, "fuzz"), linktype, &frames);
    run(Ladder::pick(Pick::parse("1").unwrap(), Range::default(), Style::Text), linktype, &frames);
});

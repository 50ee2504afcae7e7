//! The tcpdump printer on one frame under every link type it decodes and
//! the main flag sets: the first byte chooses the link type, the second
//! the flags; the rest is the frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcpscope_capture::Frame;
use tcpscope_print::{Options, PacketType, Printer};

const LINKTYPES: [u32; 12] = [0, 1, 101, 108, 113, 228, 229, 276, 12, 14, 0xffff, 147];

fn options(k: u8) -> Options {
    let base = Options::default();
    match k % 8 {
        0 => base,
        1 => Options { vflag: 3, eflag: true, ..base },
        2 => Options { vflag: 1, big_xflag: 2, ..base },
        3 => Options { qflag: 1, xflag: 1, tflag: 3, ..base },
        4 => Options { absolute_seq: true, aflag: 2, packet_number: true, ..base },
        5 => Options { packettype: Some(PacketType::Resp), vflag: 2, ..base },
        6 => Options { packettype: Some(PacketType::Domain), tflag: 4, ..base },
        _ => Options { packettype: Some(PacketType::Zmtp1), no_checksum: true, tflag: 5, nano: true, ..base },
    }
}

fuzz_target!(|data: &[u8]| {
    let [lt, flags, rest @ ..] = data else { return };
    let linktype = LINKTYPES[*lt as usize % LINKTYPES.len()];
    let mut printer = Printer::new(options(*flags));
    let mut out = Vec::new();
    // Twice: the second print sees the state the first left (relative
    // sequence numbers, the previous time).
    for len_delta in [0u32, 1] {
        let frame = Frame {
            ts_sec: i64::from(*flags) * 1_000_003 - 7,
            ts_frac: i64::from(*lt) * 999,
            linktype,
            caplen: rest.len() as u32,
            len: (rest.len() as u32).wrapping_add(len_delta.wrapping_mul(u32::from(*lt))),
            interface: 0,
            data: rest,
        };
        printer.print(&frame, &mut out);
    }
});

//! The filter: the expression parser and compiler on any text, and the
//! compiled program run by the interpreter on a frame made of the input's
//! bytes. The text is the input up to the first NUL; the frame is what
//! follows it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcpscope_filter::Filter;

const LINKTYPES: [u32; 5] = [1, 113, 276, 0, 101];

fuzz_target!(|data: &[u8]| {
    let cut = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let Ok(text) = std::str::from_utf8(&data[..cut]) else { return };
    let frame = data.get(cut + 1..).unwrap_or(&[]);
    let _ = tcpscope_filter::parse::parse(text);
    for lt in LINKTYPES {
        if let Ok(f) = Filter::new(text, lt) {
            let _ = f.matches(frame, frame.len() as u32);
            let _ = f.matches(frame, u32::MAX);
            let _ = tcpscope_filter::bpf::dump(f.program());
        }
    }
});

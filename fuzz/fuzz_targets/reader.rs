//! The capture reader on whole files, pcap and pcapng: read through a
//! memory map and as a stream, the two must give the same frames and stop
//! at the same place with the same error.
#![no_main]

use std::io::Write;
use std::os::fd::FromRawFd;

use libfuzzer_sys::fuzz_target;
use tcpscope_capture::{Precision, Reader};

/// Each frame's fields and bytes, then how reading ended.
fn frames(r: Result<Reader, tcpscope_capture::ReadError>) -> (Vec<String>, String) {
    let mut r = match r {
        Ok(r) => r,
        Err(e) => return (Vec::new(), format!("open: {e}")),
    };
    let mut out = Vec::new();
    loop {
        match r.next_frame() {
            Ok(Some(f)) => out.push(format!(
                "{} {} {} {} {} {} {:?}",
                f.ts_sec, f.ts_frac, f.linktype, f.caplen, f.len, f.interface, f.data
            )),
            Ok(None) => return (out, "end".to_string()),
            Err(e) => return (out, format!("error: {e}")),
        }
        if out.len() > 10_000 {
            return (out, "many".to_string());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    for precision in [Precision::Micro, Precision::Nano] {
        let streamed = frames(Reader::from_stream(
            Box::new(std::io::Cursor::new(data.to_vec())),
            precision,
        ));
        // SAFETY: memfd_create with a static name; the fd is owned by the File.
        let fd = unsafe { libc::memfd_create(c"capture".as_ptr(), 0) };
        assert!(fd >= 0);
        let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
        file.write_all(data).unwrap();
        let path = format!("/proc/self/fd/{fd}");
        let mapped = frames(Reader::open(path.as_ref(), precision));
        drop(file);
        assert_eq!(streamed.0, mapped.0, "the same frames");
        assert_eq!(streamed.1, mapped.1, "the same end");
    }
});

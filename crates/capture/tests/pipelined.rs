//! The helper-thread reader yields exactly the frames, and the error, that
//! the plain reader does.

use std::path::{Path, PathBuf};

use tcpscope_capture::{Frame, FrameSource, Precision, ReadError, Reader};

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/corpus/tcpdump/pcaps")
        .join(name)
}

type Seen = Vec<(i64, i64, u32, u32, u32, Vec<u8>)>;

/// Record everything about a frame; always true (go on).
fn keep(v: &mut Seen, f: &Frame<'_>) -> bool {
    v.push((
        f.ts_sec,
        f.ts_frac,
        f.linktype,
        f.caplen,
        f.len,
        f.data.to_vec(),
    ));
    true
}

fn collect(mut next: impl FnMut(&mut Seen) -> Result<bool, ReadError>) -> (Seen, Option<String>) {
    let mut seen = Vec::new();
    loop {
        match next(&mut seen) {
            Ok(true) => {}
            Ok(false) => return (seen, None),
            Err(e) => return (seen, Some(e.to_string())),
        }
    }
}

fn both(path: &Path) -> ((Seen, Option<String>), (Seen, Option<String>)) {
    let mut direct = Reader::open(path, Precision::Micro).unwrap();
    let a = collect(|v| {
        Ok(match direct.next_frame()? {
            Some(f) => keep(v, &f),
            None => false,
        })
    });
    let mut piped = match FrameSource::pipelined(Reader::open(path, Precision::Micro).unwrap()) {
        Ok(p) => p,
        Err(_) => panic!("a file is mapped"),
    };
    let b = collect(|v| {
        Ok(match piped.next_frame()? {
            Some(f) => keep(v, &f),
            None => false,
        })
    });
    (a, b)
}

#[test]
fn same_frames_for_every_corpus_file() {
    for entry in std::fs::read_dir(corpus("")).unwrap() {
        let p = entry.unwrap().path();
        let (a, b) = both(&p);
        assert!(!a.0.is_empty(), "{}", p.display());
        assert_eq!(a, b, "{}", p.display());
    }
}

/// A 24 MB capture: a corpus file's records repeated, large enough to be
/// walked in many batches.
fn big_capture() -> Vec<u8> {
    let one = std::fs::read(corpus("local-lo-ipv4.pcap")).unwrap();
    let mut big = one.clone();
    while big.len() < 24 << 20 {
        big.extend_from_slice(&one[24..]);
    }
    big
}

#[test]
fn same_frames_and_error_for_a_large_truncated_file() {
    // Cut in the middle of the last record.
    let mut big = big_capture();
    big.truncate(big.len() - 7);
    let p = std::env::temp_dir().join(format!("tcpscope-pipelined-{}.pcap", std::process::id()));
    std::fs::write(&p, &big).unwrap();
    let (a, b) = both(&p);
    std::fs::remove_file(&p).unwrap();
    assert!(a.0.len() > 10_000);
    assert!(
        a.1.as_deref()
            .unwrap_or("")
            .starts_with("truncated capture"),
        "{:?}",
        a.1
    );
    assert_eq!(a.0.len(), b.0.len());
    assert!(a == b);
}

#[test]
fn same_frames_and_error_for_a_large_file_corrupt_in_the_middle() {
    let mut big = big_capture();
    let p = std::env::temp_dir().join(format!("tcpscope-corrupt-{}.pcap", std::process::id()));
    std::fs::write(&p, &big).unwrap();
    // The offset of record 5001, some way into the helper's walk.
    let mut r = Reader::open(&p, Precision::Micro).unwrap();
    for _ in 0..5_000 {
        r.next_frame().unwrap().unwrap();
    }
    let at = r.offset() as usize;
    drop(r);
    big[at + 8..at + 12].copy_from_slice(&0x0fff_ffffu32.to_le_bytes());
    std::fs::write(&p, &big).unwrap();
    let (a, b) = both(&p);
    std::fs::remove_file(&p).unwrap();
    assert_eq!(a.0.len(), 5_000);
    assert_eq!(
        a.1.as_deref(),
        Some(format!("corrupt capture at byte offset {at}: record claims 268435455 captured bytes, more than the maximum of 262144").as_str())
    );
    assert_eq!(a.0.len(), b.0.len());
    assert!(a == b);
}

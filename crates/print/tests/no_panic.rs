//! The decoders never panic, whatever the bytes: every corpus packet cut at
//! every length, random mutations of corpus packets under every link type,
//! and random or mutated capture files through the reader.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use tcpscope_capture::{Frame, Precision, Reader};
use tcpscope_print::{Options, PacketType, Printer};

fn corpus_pcaps() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus/tcpdump/pcaps");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// (linktype, bytes) of every corpus packet.
fn corpus_frames() -> Vec<(u32, Vec<u8>)> {
    let mut out = Vec::new();
    for p in corpus_pcaps() {
        let mut r = Reader::open(&p, Precision::Micro).unwrap();
        while let Ok(Some(f)) = r.next_frame() {
            out.push((f.linktype, f.data.to_vec()));
        }
    }
    out
}

fn option_sets() -> Vec<Options> {
    let base = Options::default();
    vec![
        base.clone(),
        Options {
            vflag: 3,
            eflag: true,
            ..base.clone()
        },
        Options {
            vflag: 1,
            big_xflag: 2,
            ..base.clone()
        },
        Options {
            qflag: 1,
            xflag: 1,
            tflag: 3,
            ..base.clone()
        },
        Options {
            absolute_seq: true,
            aflag: 2,
            packet_number: true,
            ..base.clone()
        },
        Options {
            packettype: Some(PacketType::Resp),
            vflag: 1,
            ..base.clone()
        },
        Options {
            packettype: Some(PacketType::Domain),
            vflag: 2,
            ..base
        },
    ]
}

fn print_all(printers: &mut [Printer], linktype: u32, data: &[u8], len: u32) -> usize {
    let frame = Frame {
        ts_sec: 1,
        ts_frac: 2,
        linktype,
        caplen: data.len() as u32,
        len,
        interface: 0,
        data,
    };
    let mut out = Vec::new();
    for p in printers.iter_mut() {
        p.print(&frame, &mut out);
    }
    out.len()
}

#[test]
fn every_corpus_packet_cut_at_every_length() {
    let frames = corpus_frames();
    assert!(frames.len() > 900, "{} corpus frames", frames.len());
    let mut printers: Vec<Printer> = option_sets().into_iter().map(Printer::new).collect();
    let mut printed = 0;
    for (lt, data) in &frames {
        for cut in 0..=data.len().min(400) {
            printed += print_all(&mut printers, *lt, &data[..cut], data.len() as u32);
        }
    }
    eprintln!("{} frames, {printed} bytes printed", frames.len());
    assert!(printed > 100_000_000, "{printed}");
}

const LINKTYPES: [u32; 9] = [0, 1, 101, 108, 113, 228, 229, 276, 12345];

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_corpus_packets_never_panic(
        pick in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
        lt in prop::sample::select(LINKTYPES.to_vec()),
        keep_linktype in any::<bool>(),
        wire_len_delta in -64i64..64,
    ) {
        thread_local!(static FRAMES: Vec<(u32, Vec<u8>)> = corpus_frames());
        let (orig_lt, mut data) = FRAMES.with(|f| f[pick.index(f.len())].clone());
        if data.is_empty() { return Ok(()); }
        for (at, v) in flips {
            let i = at.index(data.len());
            data[i] = v;
        }
        let linktype = if keep_linktype { orig_lt } else { lt };
        let len = (data.len() as i64 + wire_len_delta).max(0) as u32;
        let mut printers: Vec<Printer> = option_sets().into_iter().map(Printer::new).collect();
        print_all(&mut printers, linktype, &data, len);
    }

    #[test]
    fn random_bytes_under_every_linktype_never_panic(
        data in prop::collection::vec(any::<u8>(), 0..200),
        lt in prop::sample::select(LINKTYPES.to_vec()),
    ) {
        let mut printers: Vec<Printer> = option_sets().into_iter().map(Printer::new).collect();
        print_all(&mut printers, lt, &data, data.len() as u32);
    }

    #[test]
    fn mutated_capture_files_never_panic_the_reader(
        pick in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        thread_local!(static FILES: Vec<Vec<u8>> = corpus_pcaps().iter().map(|p| std::fs::read(p).unwrap()).collect());
        let mut bytes = FILES.with(|f| f[pick.index(f.len())].clone());
        // Mutations aimed at headers: the first 64 bytes and record headers.
        for (at, v) in flips {
            let i = at.index(bytes.len().min(4096));
            bytes[i] = v;
        }
        let end = cut.index(bytes.len() + 1);
        bytes.truncate(end.max(bytes.len() / 2));
        let mut r = match Reader::from_stream(Box::new(std::io::Cursor::new(bytes)), Precision::Nano) {
            Ok(r) => r,
            Err(_) => return Ok(()),
        };
        let mut printer = Printer::new(Options { vflag: 2, ..Options::default() });
        let mut out = Vec::new();
        for _ in 0..10_000 {
            match r.next_frame() {
                Ok(Some(f)) => printer.print(&f, &mut out),
                _ => break,
            }
            out.clear();
        }
    }
}

//! Seed corpora for the fuzz targets, from the project's test captures:
//! `seeds OUT_DIR CAPTURE...` writes OUT_DIR/reader (the files whole),
//! OUT_DIR/printer and OUT_DIR/tracker (their frames, in each target's
//! input layout) and OUT_DIR/filter (the expressions of tests/filter, one
//! per line of its *.txt files, given as further arguments after `--`).

use std::path::{Path, PathBuf};

use tcpscope_capture::{Precision, Reader};

const PRINTER_LINKTYPES: [u32; 12] = [0, 1, 101, 108, 113, 228, 229, 276, 12, 14, 0xffff, 147];
const TRACKER_LINKTYPES: [u32; 6] = [1, 101, 113, 276, 0, 228];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = PathBuf::from(&args[0]);
    let split = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let captures = &args[1..split];
    let filters = args.get(split + 1..).unwrap_or(&[]);
    for t in ["reader", "printer", "tracker", "filter"] {
        std::fs::create_dir_all(out.join(t)).unwrap();
    }
    let mut n = 0usize;
    for c in captures {
        let path = Path::new(c);
        let Ok(bytes) = std::fs::read(path) else { continue };
        n += 1;
        std::fs::write(out.join("reader").join(format!("{n}")), &bytes).unwrap();
        let Ok(mut r) = Reader::open(path, Precision::Nano) else { continue };
        let mut stream: Option<(u8, Vec<u8>)> = None;
        let mut k = 0usize;
        while let Ok(Some(f)) = r.next_frame() {
            k += 1;
            if let Some(i) = PRINTER_LINKTYPES.iter().position(|&l| l == f.linktype) {
                if k <= 64 {
                    let mut seed = vec![i as u8, (k % 8) as u8];
                    seed.extend_from_slice(f.data);
                    std::fs::write(out.join("printer").join(format!("{n}-{k}")), seed).unwrap();
                }
            }
            if let Some(i) = TRACKER_LINKTYPES.iter().position(|&l| l == f.linktype) {
                let s = stream.get_or_insert((i as u8, Vec::new()));
                if s.0 == i as u8 && s.1.len() < 64 * 1024 {
                    let len = f.data.len().min(2047);
                    s.1.extend_from_slice(&[(len >> 8) as u8, len as u8, 65]);
                    s.1.extend_from_slice(&f.data[..len]);
                }
            }
        }
        if let Some((i, frames)) = stream {
            let mut seed = vec![i];
            seed.extend(frames);
            std::fs::write(out.join("tracker").join(format!("{n}")), seed).unwrap();
        }
    }
    let mut m = 0usize;
    for f in filters {
        let Ok(text) = std::fs::read_to_string(f) else { continue };
        for line in text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
            m += 1;
            std::fs::write(out.join("filter").join(format!("{m}")), line).unwrap();
        }
    }
    eprintln!("seeds: {n} captures, {m} filter expressions");
}

//! Capture file writers: pcap (what `tcpdump -w` writes) and pcapng.
//!
//! Records are written whole into a buffered writer; [`Writer::flush`]
//! pushes them to the file, so a file closed after a flush holds every
//! packet written so far and is valid to its last byte.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::{Frame, Precision};

/// Which file format to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteFormat {
    /// Classic pcap, microseconds (nanoseconds with [`Precision::Nano`]).
    Pcap,
    /// pcapng: one section, one interface.
    Pcapng,
}

/// A capture file being written.
pub struct Writer {
    out: BufWriter<File>,
    format: WriteFormat,
    precision: Precision,
    written: u64,
}

impl Writer {
    /// Create `path` (truncating it) and write the file header; `-` is
    /// standard output, as for tcpdump -w -.
    pub fn create(
        path: &Path,
        format: WriteFormat,
        linktype: u32,
        snaplen: u32,
        precision: Precision,
        iface: &str,
    ) -> io::Result<Writer> {
        let file = if path.as_os_str() == "-" {
            use std::os::fd::AsFd;
            File::from(io::stdout().as_fd().try_clone_to_owned()?)
        } else {
            File::create(path)?
        };
        let mut w = Writer {
            out: BufWriter::with_capacity(1 << 18, file),
            format,
            precision,
            written: 0,
        };
        let mut h = Vec::with_capacity(128);
        match format {
            WriteFormat::Pcap => {
                let magic: u32 = match precision {
                    Precision::Micro => 0xa1b2_c3d4,
                    Precision::Nano => 0xa1b2_3c4d,
                };
                h.extend_from_slice(&magic.to_ne_bytes());
                h.extend_from_slice(&2u16.to_ne_bytes());
                h.extend_from_slice(&4u16.to_ne_bytes());
                h.extend_from_slice(&0i32.to_ne_bytes());
                h.extend_from_slice(&0u32.to_ne_bytes());
                h.extend_from_slice(&snaplen.to_ne_bytes());
                h.extend_from_slice(&linktype.to_ne_bytes());
            }
            WriteFormat::Pcapng => {
                // Section header block.
                h.extend_from_slice(&0x0a0d_0d0au32.to_ne_bytes());
                h.extend_from_slice(&28u32.to_ne_bytes());
                h.extend_from_slice(&0x1a2b_3c4du32.to_ne_bytes());
                h.extend_from_slice(&1u16.to_ne_bytes());
                h.extend_from_slice(&0u16.to_ne_bytes());
                h.extend_from_slice(&(-1i64).to_ne_bytes());
                h.extend_from_slice(&28u32.to_ne_bytes());
                // Interface description block with if_name and if_tsresol.
                let mut opts = Vec::new();
                let name = iface.as_bytes();
                push_opt(&mut opts, 2, name);
                let resol = match precision {
                    Precision::Micro => 6u8,
                    Precision::Nano => 9u8,
                };
                push_opt(&mut opts, 9, &[resol]);
                opts.extend_from_slice(&[0, 0, 0, 0]);
                let len = 20 + opts.len() as u32;
                h.extend_from_slice(&1u32.to_ne_bytes());
                h.extend_from_slice(&len.to_ne_bytes());
                h.extend_from_slice(&(linktype as u16).to_ne_bytes());
                h.extend_from_slice(&0u16.to_ne_bytes());
                h.extend_from_slice(&snaplen.to_ne_bytes());
                h.extend_from_slice(&opts);
                h.extend_from_slice(&len.to_ne_bytes());
            }
        }
        w.out.write_all(&h)?;
        w.written = h.len() as u64;
        Ok(w)
    }

    /// Append one frame.
    pub fn write(&mut self, f: &Frame<'_>) -> io::Result<()> {
        self.write_commented(f, None)
    }

    /// Append one frame with a comment (pcapng's opt_comment, which
    /// Wireshark shows and `tshark -e frame.comment` prints); in a pcap
    /// file, which has no place for one, the comment is dropped.
    pub fn write_commented(&mut self, f: &Frame<'_>, comment: Option<&str>) -> io::Result<()> {
        match self.format {
            WriteFormat::Pcap => {
                let mut h = [0u8; 16];
                h[0..4].copy_from_slice(&(f.ts_sec as u32).to_ne_bytes());
                h[4..8].copy_from_slice(&(f.ts_frac as u32).to_ne_bytes());
                h[8..12].copy_from_slice(&(f.data.len() as u32).to_ne_bytes());
                h[12..16].copy_from_slice(&f.len.to_ne_bytes());
                self.out.write_all(&h)?;
                self.out.write_all(f.data)?;
                self.written += 16 + f.data.len() as u64;
            }
            WriteFormat::Pcapng => {
                let per_sec: u64 = match self.precision {
                    Precision::Micro => 1_000_000,
                    Precision::Nano => 1_000_000_000,
                };
                let ts = (f.ts_sec as u64)
                    .wrapping_mul(per_sec)
                    .wrapping_add(f.ts_frac as u64);
                let c = comment
                    .filter(|c| !c.is_empty())
                    .map(|c| &c.as_bytes()[..c.len().min(u16::MAX as usize - 8)]);
                let pad = (4 - f.data.len() % 4) % 4;
                // opt_comment (code 1, padded to 4 bytes), then opt_endofopt.
                let options = c.map_or(0, |c| 4 + c.len() + (4 - c.len() % 4) % 4 + 4);
                let len = (32 + f.data.len() + pad + options) as u32;
                let mut h = [0u8; 28];
                h[0..4].copy_from_slice(&6u32.to_ne_bytes());
                h[4..8].copy_from_slice(&len.to_ne_bytes());
                h[8..12].copy_from_slice(&0u32.to_ne_bytes());
                h[12..16].copy_from_slice(&((ts >> 32) as u32).to_ne_bytes());
                h[16..20].copy_from_slice(&(ts as u32).to_ne_bytes());
                h[20..24].copy_from_slice(&(f.data.len() as u32).to_ne_bytes());
                h[24..28].copy_from_slice(&f.len.to_ne_bytes());
                self.out.write_all(&h)?;
                self.out.write_all(f.data)?;
                self.out.write_all(&[0u8; 3][..pad])?;
                if let Some(c) = c {
                    self.out.write_all(&1u16.to_ne_bytes())?;
                    self.out.write_all(&(c.len() as u16).to_ne_bytes())?;
                    self.out.write_all(c)?;
                    self.out.write_all(&[0u8; 3][..(4 - c.len() % 4) % 4])?;
                    self.out.write_all(&[0u8; 4])?;
                }
                self.out.write_all(&len.to_ne_bytes())?;
                self.written += len as u64;
            }
        }
        Ok(())
    }

    /// Bytes in the file so far (header included), as `-C` measures it.
    pub fn size(&self) -> u64 {
        self.written
    }

    /// Push everything written to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn push_opt(out: &mut Vec<u8>, code: u16, value: &[u8]) {
    out.extend_from_slice(&code.to_ne_bytes());
    out.extend_from_slice(&(value.len() as u16).to_ne_bytes());
    out.extend_from_slice(value);
    let pad = (4 - value.len() % 4) % 4;
    out.extend_from_slice(&[0u8; 3][..pad]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Reader;

    #[test]
    fn pcap_and_pcapng_round_trip_through_the_reader() {
        let dir = std::env::temp_dir().join(format!("tcpscope-write-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (format, precision) in [
            (WriteFormat::Pcap, Precision::Micro),
            (WriteFormat::Pcap, Precision::Nano),
            (WriteFormat::Pcapng, Precision::Micro),
            (WriteFormat::Pcapng, Precision::Nano),
        ] {
            let path = dir.join(format!("{format:?}-{precision:?}"));
            let mut w = Writer::create(&path, format, 1, 262144, precision, "lo").unwrap();
            let frames: Vec<Vec<u8>> = (1..=5).map(|n| vec![n as u8; n * 7]).collect();
            for (i, d) in frames.iter().enumerate() {
                w.write(&Frame {
                    ts_sec: 1_700_000_000 + i as i64,
                    ts_frac: 123_456 + i as i64,
                    linktype: 1,
                    caplen: d.len() as u32,
                    len: d.len() as u32 + 3,
                    interface: 0,
                    data: d,
                })
                .unwrap();
            }
            w.flush().unwrap();
            assert_eq!(w.size(), std::fs::metadata(&path).unwrap().len());
            let mut r = Reader::open(&path, precision).unwrap();
            assert_eq!(r.linktype(), Some(1));
            for (i, d) in frames.iter().enumerate() {
                let f = r.next_frame().unwrap().expect("a frame");
                assert_eq!(f.data, &d[..], "{format:?} {precision:?} frame {i}");
                assert_eq!(f.ts_sec, 1_700_000_000 + i as i64);
                assert_eq!(f.ts_frac, 123_456 + i as i64);
                assert_eq!(f.len, d.len() as u32 + 3);
            }
            assert!(r.next_frame().unwrap().is_none());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

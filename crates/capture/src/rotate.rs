//! Writing a live capture to files as tcpdump does: `-C` size and `-G` time
//! rotation, `-W` file counts, and the `-z` command on each finished file.

use std::io;
use std::path::{Path, PathBuf};

use crate::{Precision, WriteFormat, Writer};

/// The name of the file with number `n`, as tcpdump's MakeFilename does it.
pub fn file_name(base: &Path, n: u32, digits: usize, pattern_time: Option<i64>) -> PathBuf {
    let mut name = base.to_string_lossy().into_owned();
    if let Some(t) = pattern_time {
        name = strftime(&name, t);
    }
    if n > 0 || digits > 0 {
        name.push_str(&format!("{n:0digits$}"));
    }
    PathBuf::from(name)
}

fn strftime(pattern: &str, t: i64) -> String {
    let Ok(c) = std::ffi::CString::new(pattern) else {
        return pattern.to_string();
    };
    let mut buf = vec![0u8; pattern.len() * 4 + 256];
    // SAFETY: tm is filled by localtime_r; buf is large enough or strftime returns 0.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        let tt = t as libc::time_t;
        libc::localtime_r(&tt, &mut tm);
        let n = libc::strftime(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            c.as_ptr(),
            &tm,
        );
        if n == 0 {
            return pattern.to_string();
        }
        buf.truncate(n);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// Where `-w` output goes, with `-C`/`-W`/`-G` rotation and `-z`.
pub struct Rotation {
    /// The -w name, before numbering and time patterns.
    pub base: PathBuf,
    /// The file being written to.
    pub writer: Writer,
    /// pcap or pcapng.
    pub format: WriteFormat,
    /// The capture's link type.
    pub linktype: u32,
    /// The capture's snapshot length.
    pub snaplen: u32,
    /// Timestamp precision.
    pub precision: Precision,
    /// The interface, for pcapng's interface block.
    pub iface: String,
    /// -C: millions of bytes per file.
    pub size_limit: Option<u64>,
    /// -G: seconds per file.
    pub seconds: Option<u64>,
    /// -W: how many files.
    pub count: Option<u32>,
    /// Digits of the file number (-W's width).
    pub digits: usize,
    /// Number of the current file (for -C).
    pub number: u32,
    /// Files opened so far (for -G -W).
    pub opened: u32,
    /// When the current -G period started.
    pub started: i64,
    /// The file being written.
    pub current: PathBuf,
    /// -z: the command run on each file the rotation closes.
    pub postrotate: Option<String>,
    /// Post-rotate commands still running (reaped as new ones start).
    pub children: Vec<std::process::Child>,
}

impl Rotation {
    /// Open the next file (number `self.number`, time `t` for a -G pattern)
    /// and hand the finished one to -z.
    pub fn open_file(&mut self, t: Option<i64>) -> io::Result<()> {
        let path = file_name(&self.base, self.number, self.digits, t);
        self.writer.flush()?;
        self.writer = Writer::create(
            &path,
            self.format,
            self.linktype,
            self.snaplen,
            self.precision,
            &self.iface,
        )
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let closed = std::mem::replace(&mut self.current, path);
        // The old writer is gone and its file closed: hand it over.
        self.post_rotate(&closed);
        self.opened += 1;
        Ok(())
    }

    /// An error of the file being written, with its name.
    pub fn named(&self, e: &io::Error) -> String {
        format!("{}: {e}", self.current.display())
    }

    /// -z: start `COMMAND FILE` for a finished file, without waiting.
    pub fn post_rotate(&mut self, file: &Path) {
        let Some(cmd) = &self.postrotate else {
            return;
        };
        self.children
            .retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_))));
        match std::process::Command::new(cmd)
            .arg(file)
            .stdin(std::process::Stdio::null())
            .spawn()
        {
            Ok(child) => self.children.push(child),
            Err(e) => eprintln!("tcpscope: -z {cmd}: {e}"),
        }
    }

    /// Rotate before writing a packet stamped `ts`, as tcpdump does.
    /// Returns false when -G -W says the capture is over.
    pub fn before_write(&mut self, ts: i64) -> io::Result<bool> {
        if let Some(g) = self.seconds {
            if ts - self.started >= g as i64 {
                if let Some(w) = self.count {
                    if self.opened >= w {
                        // The capture ends here; like tcpdump, hand the
                        // last file to -z too.
                        self.writer.flush()?;
                        let last = self.current.clone();
                        self.post_rotate(&last);
                        return Ok(false);
                    }
                }
                self.started = ts;
                self.number = 0;
                self.open_file(Some(ts))?;
                return Ok(true);
            }
        }
        if let Some(limit) = self.size_limit {
            if self.writer.size() > limit.saturating_mul(1_000_000) {
                self.number += 1;
                if let Some(w) = self.count {
                    if self.number >= w {
                        self.number = 0;
                    }
                }
                let t = self.seconds.map(|_| self.started);
                self.open_file(t)?;
            }
        }
        Ok(true)
    }
}

//! The reader: one parser over either a memory map or a stream buffer.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use crate::format::{sniff, Format, FrameMeta, ReadError, Step};
use crate::pcap::PcapState;
use crate::pcapng::PcapngState;
use crate::populate::Populator;
use crate::{Frame, Precision};

enum Parser {
    Pcap(PcapState),
    Pcapng(PcapngState),
}

enum Source {
    Map(Arc<memmap2::Mmap>),
    /// An empty regular file cannot be mapped; it is simply empty.
    Empty,
    Stream {
        input: Box<dyn Read + Send>,
        buf: Vec<u8>,
        /// Valid bytes are `buf[start..end]`.
        start: usize,
        end: usize,
        eof: bool,
    },
}

/// Reads frames from a pcap or pcapng capture.
pub struct Reader {
    source: Source,
    parser: Parser,
    format: Format,
    precision: Precision,
    /// File offset of the next unread byte.
    offset: u64,
    /// Frames returned so far.
    records: u64,
    done: bool,
    /// Mapped bytes below this offset have been handed back to the kernel.
    released: u64,
    /// Mapped bytes below this offset have been prefetched.
    prefetched: usize,
    /// Page tables of a mapped file, filled ahead of the walk.
    populator: Arc<Populator>,
    release_pages: bool,
}

const STREAM_CHUNK: usize = 1 << 20;
/// How much of a mapped file is read before its pages are dropped from
/// this process (they stay in the page cache). Keeps resident memory flat
/// however large the file is.
const RELEASE_STEP: u64 = 16 << 20;
/// How far ahead of the next record a mapped file is prefetched.
const PREFETCH_DISTANCE: usize = 4096;

impl Reader {
    /// Open a file through mmap; a FIFO, a pipe (`<(...)`, `/dev/stdin`)
    /// or a character device is read as a stream.
    pub fn open(path: &Path, precision: Precision) -> Result<Reader, ReadError> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Reader::from_stream(Box::new(file), precision);
        }
        let len = meta.len();
        let source = if len == 0 {
            Source::Empty
        } else {
            // SAFETY: the map is read-only; a capture being appended to while
            // we read it only shows us more bytes or a cut final record, both
            // of which the parser handles.
            let map = unsafe { memmap2::Mmap::map(&file)? };
            #[cfg(unix)]
            let _ = map.advise(memmap2::Advice::Sequential);
            Source::Map(Arc::new(map))
        };
        Reader::with_source(source, precision)
    }

    /// Read standard input as a stream. A closed standard input is an
    /// error (Rust's stdin would read it as empty).
    pub fn stdin(precision: Precision) -> Result<Reader, ReadError> {
        // SAFETY: F_GETFD only asks whether descriptor 0 is open.
        if unsafe { libc::fcntl(0, libc::F_GETFD) } < 0 {
            return Err(ReadError::Io(std::io::Error::last_os_error()));
        }
        Reader::from_stream(Box::new(std::io::stdin()), precision)
    }

    /// Read from a stream such as stdin.
    pub fn from_stream(
        input: Box<dyn Read + Send>,
        precision: Precision,
    ) -> Result<Reader, ReadError> {
        let source = Source::Stream {
            input,
            buf: vec![0; STREAM_CHUNK],
            start: 0,
            end: 0,
            eof: false,
        };
        Reader::with_source(source, precision)
    }

    fn with_source(mut source: Source, precision: Precision) -> Result<Reader, ReadError> {
        let head = fill(&mut source, 4)?;
        let format = sniff(head)?;
        let parser = match format {
            Format::Pcap { swapped, nano } => Parser::Pcap(PcapState::new(swapped, nano)),
            Format::Pcapng => Parser::Pcapng(PcapngState::default()),
        };
        let mut reader = Reader {
            source,
            parser,
            format,
            precision,
            offset: 0,
            records: 0,
            done: false,
            released: 0,
            prefetched: 0,
            populator: Arc::default(),
            release_pages: true,
        };
        // Read up to the first frame's metadata so that link type and
        // snaplen are known before the first frame is asked for.
        reader.skip_headers()?;
        Ok(reader)
    }

    /// The container format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The link type of the file (pcap) or of the first interface (pcapng).
    pub fn linktype(&self) -> Option<u32> {
        match &self.parser {
            Parser::Pcap(p) => Some(p.linktype),
            Parser::Pcapng(p) => p.first_linktype(),
        }
    }

    /// The snapshot length of the file (pcap) or of its first interface (pcapng).
    pub fn snaplen(&self) -> Option<u32> {
        match &self.parser {
            Parser::Pcap(p) => Some(p.snaplen),
            Parser::Pcapng(p) => p.first_snaplen(),
        }
    }

    /// How many records had a caplen above the file's snaplen and were cut.
    pub fn records_over_snaplen(&self) -> u64 {
        match &self.parser {
            Parser::Pcap(p) => p.over_snaplen,
            Parser::Pcapng(_) => 0,
        }
    }

    /// Number of frames returned so far.
    pub fn frames_read(&self) -> u64 {
        self.records
    }

    /// Byte offset of the next unread byte of the file.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn skip_headers(&mut self) -> Result<(), ReadError> {
        loop {
            match self.parse()? {
                Step::Skip { consumed } => {
                    self.advance(consumed);
                    if self.linktype().is_some() {
                        return Ok(());
                    }
                }
                Step::NeedMore { need } => {
                    if !self.refill(need)? {
                        if unread(&self.source, self.offset).is_empty() && self.offset > 0 {
                            // A pcapng file with a section header and no
                            // interface: tcpdump (libpcap) refuses it.
                            return Err(ReadError::NoInterfaces);
                        }
                        return Err(self.truncation(need, true));
                    }
                }
                Step::Frame { .. } => return Ok(()),
            }
        }
    }

    fn parse(&mut self) -> Result<Step, ReadError> {
        let buf = unread(&self.source, self.offset);
        match &mut self.parser {
            Parser::Pcap(p) => p.step(buf, self.offset, self.precision),
            Parser::Pcapng(p) => p.step(buf, self.offset, self.precision),
        }
    }

    /// The next frame, `Ok(None)` at a clean end of file, or the error that
    /// stopped reading. After an error every later call returns `Ok(None)`.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, ReadError> {
        if self.release_pages {
            self.release_consumed();
        }
        self.prefetch_ahead();
        let Some((meta, at)) = self.next_record()? else {
            return Ok(None);
        };
        let data = &window_from(&self.source, 0)[at..at + meta.caplen as usize];
        Ok(Some(meta.frame(data)))
    }

    /// The next frame's metadata and the position of its bytes in the
    /// source's buffer (for a mapped file, the file offset).
    pub(crate) fn next_record(&mut self) -> Result<Option<(FrameMeta, usize)>, ReadError> {
        if self.done {
            return Ok(None);
        }
        self.prefetch_ahead();
        loop {
            if unread(&self.source, self.offset).is_empty() && self.at_eof() {
                self.done = true;
                return Ok(None);
            }
            let step = match self.parse() {
                Ok(s) => s,
                Err(e) => {
                    self.done = true;
                    return Err(e);
                }
            };
            match step {
                Step::Skip { consumed } => {
                    self.advance(consumed);
                }
                Step::NeedMore { need } => {
                    if !self.refill(need)? {
                        self.done = true;
                        if unread(&self.source, self.offset).is_empty() {
                            return Ok(None);
                        }
                        return Err(self.truncation(need, false));
                    }
                }
                Step::Frame {
                    consumed,
                    data_at,
                    meta,
                } => {
                    let base = self.advance(consumed);
                    self.records += 1;
                    return Ok(Some((meta, base + data_at)));
                }
            }
        }
    }

    /// Append up to `max - out.len()` records to `out`; stops early only at
    /// the end of the file or an error, which `next_record` then reports.
    ///
    /// Classic pcap over a mapping takes a tight loop: this is the walk a
    /// helper thread does for every record of a large file.
    pub(crate) fn next_records(
        &mut self,
        out: &mut Vec<(FrameMeta, usize)>,
        max: usize,
    ) -> Result<(), ReadError> {
        if let (Source::Map(map), Parser::Pcap(p)) = (&self.source, &mut self.parser) {
            let bytes: &[u8] = map;
            let mut off = self.offset as usize;
            while out.len() < max {
                get_ready(bytes, off, &mut self.prefetched, &self.populator);
                match p.step(&bytes[off..], off as u64, self.precision) {
                    Ok(Step::Frame {
                        consumed,
                        data_at,
                        meta,
                    }) => {
                        out.push((meta, off + data_at));
                        off += consumed;
                        self.records += 1;
                    }
                    // The end, a cut record or a corrupt one: the general
                    // path below tells which.
                    _ => break,
                }
            }
            self.offset = off as u64;
        }
        while out.len() < max {
            match self.next_record()? {
                Some(r) => out.push(r),
                None => break,
            }
        }
        Ok(())
    }

    /// The mapping of a mapped file, for readers on other threads.
    pub(crate) fn mapping(&self) -> Option<Arc<memmap2::Mmap>> {
        match &self.source {
            Source::Map(m) => Some(m.clone()),
            _ => None,
        }
    }

    /// The page-table filler of a mapped file, for a consumer that helps.
    pub(crate) fn populator(&self) -> Arc<Populator> {
        Arc::clone(&self.populator)
    }

    /// Stop handing consumed pages back (another thread still reads them).
    pub(crate) fn keep_pages(&mut self) {
        self.release_pages = false;
    }

    /// Drop the pages of a mapped file that lie wholly before the next
    /// record: no frame borrowed from them can still be alive, since
    /// `next_frame` borrows the reader mutably.
    fn release_consumed(&mut self) {
        if let Source::Map(map) = &self.source {
            if self.offset >= self.released + RELEASE_STEP {
                let end = self.offset / 4096 * 4096;
                let len = (end - self.released) as usize;
                // SAFETY: the range ends before any byte a live borrow can
                // point into (see above); MADV_DONTNEED on a read-only file
                // mapping only refaults the pages from the page cache if
                // they are touched again.
                let _ = unsafe {
                    map.unchecked_advise_range(
                        memmap2::UncheckedAdvice::DontNeed,
                        self.released as usize,
                        len,
                    )
                };
                self.released = end;
            }
        }
    }

    #[inline]
    fn prefetch_ahead(&mut self) {
        if let Source::Map(map) = &self.source {
            get_ready(
                map,
                self.offset as usize,
                &mut self.prefetched,
                &self.populator,
            );
        }
    }

    fn truncation(&self, need: usize, header: bool) -> ReadError {
        let available = unread(&self.source, self.offset).len() as u64;
        if header && self.offset == 0 {
            return ReadError::Truncated {
                record: 0,
                offset: 0,
                needed: need as u64,
                available,
            };
        }
        ReadError::Truncated {
            record: self.records + 1,
            offset: self.offset,
            needed: need as u64,
            available,
        }
    }

    fn at_eof(&self) -> bool {
        match &self.source {
            Source::Map(_) | Source::Empty => true,
            Source::Stream { eof, .. } => *eof,
        }
    }

    /// Consume `n` bytes; returns the buffer position where they started.
    fn advance(&mut self, n: usize) -> usize {
        self.offset += n as u64;
        match &mut self.source {
            Source::Map(_) | Source::Empty => (self.offset - n as u64) as usize,
            Source::Stream { start, .. } => {
                let s = *start;
                *start += n;
                s
            }
        }
    }

    /// Make at least `need` bytes available; false at end of input.
    fn refill(&mut self, need: usize) -> Result<bool, ReadError> {
        match &mut self.source {
            Source::Map(_) | Source::Empty => Ok(false),
            Source::Stream { .. } => {
                let got = fill(&mut self.source, need)?.len();
                Ok(got >= need)
            }
        }
    }
}

/// Get a mapping ready ahead of the walk at `offset`: page tables a few
/// megabytes ahead (see [`Populator`]), and every cache line up to
/// PREFETCH_DISTANCE ahead asked for. The hardware prefetcher stops at page
/// boundaries, record headers sit at unpredictable places, and waiting for
/// each one's line is otherwise most of the cost of walking a mapped file.
#[inline]
fn get_ready(map: &[u8], offset: usize, prefetched: &mut usize, populator: &Populator) {
    populator.ahead_of(map, offset);
    #[cfg(target_arch = "x86_64")]
    {
        let end = (offset + PREFETCH_DISTANCE).min(map.len());
        let mut at = (*prefetched).max(offset & !63);
        while at < end {
            // SAFETY: the pointer is inside the mapping; prefetch has no
            // architectural effect.
            unsafe {
                core::arch::x86_64::_mm_prefetch(
                    map.as_ptr().add(at) as *const i8,
                    core::arch::x86_64::_MM_HINT_T0,
                )
            };
            at += 64;
        }
        *prefetched = at;
    }
}

/// The bytes not yet consumed; `offset` is the file offset of the next one.
fn unread(source: &Source, offset: u64) -> &[u8] {
    match source {
        Source::Map(m) => &m[(offset as usize).min(m.len())..],
        Source::Empty => &[],
        Source::Stream {
            buf, start, end, ..
        } => &buf[*start..*end],
    }
}

fn window_from(source: &Source, at: usize) -> &[u8] {
    match source {
        Source::Map(m) => &m[at..],
        Source::Empty => &[],
        Source::Stream { buf, .. } => &buf[at..],
    }
}

/// Ensure `need` bytes are buffered (stream) and return what is there.
fn fill(source: &mut Source, need: usize) -> Result<&[u8], ReadError> {
    match source {
        Source::Map(m) => Ok(&m[..]),
        Source::Empty => Ok(&[]),
        Source::Stream {
            input,
            buf,
            start,
            end,
            eof,
        } => {
            if *end - *start < need {
                // Slide the unread bytes to the front, grow if one record is
                // larger than the buffer, then read until enough or EOF.
                buf.copy_within(*start..*end, 0);
                *end -= *start;
                *start = 0;
                if buf.len() < need {
                    buf.resize(need.next_power_of_two(), 0);
                }
                while *end < need && !*eof {
                    match input.read(&mut buf[*end..]) {
                        Ok(0) => *eof = true,
                        Ok(n) => *end += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Ok(&buf[*start..*end])
        }
    }
}

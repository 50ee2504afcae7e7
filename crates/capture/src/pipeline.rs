//! Reading a mapped file on a second thread.
//!
//! Walking a large capture is bound by memory: the record headers are
//! spread over the whole file and each new stretch of it has to come from
//! RAM. [`FrameSource`] overlaps that walk with the caller's own work: a
//! helper thread parses records into batches of (metadata, offset) while the
//! caller prints the previous batch. Frames are still borrowed from the one
//! mapping, never copied, and the caller releases the pages it has finished
//! with, so memory stays flat. A caller that would wait for the helper fills
//! page tables ahead of it instead (see `populate`).

use std::sync::mpsc::{sync_channel, Receiver, RecvError, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::format::FrameMeta;
use crate::populate::Populator;
use crate::{Frame, ReadError, Reader};

const BATCH: usize = 2048;
const IN_FLIGHT: usize = 4;
/// Files smaller than this are not worth a thread.
const MIN_FILE: usize = 16 << 20;
const RELEASE_STEP: usize = 16 << 20;
const PREFETCH_DISTANCE: usize = 6;
/// How far past its own position the consumer fills page tables for the
/// helper (this much of the file is mapped ahead at most).
const HELP_AHEAD: usize = 8 << 20;

#[inline]
fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    for line in [0usize, 64] {
        if line < bytes.len() {
            // SAFETY: the address is inside `bytes`; a prefetch has no
            // architectural effect.
            unsafe {
                core::arch::x86_64::_mm_prefetch(
                    bytes.as_ptr().add(line) as *const i8,
                    core::arch::x86_64::_MM_HINT_T0,
                )
            };
        }
    }
}

enum Msg {
    Batch(Vec<(FrameMeta, usize)>),
    End {
        error: Option<ReadError>,
        over_snaplen: u64,
    },
}

/// Frames from a [`Reader`], read on a helper thread when that pays off.
pub enum FrameSource {
    /// Read on the calling thread.
    Direct(Reader),
    /// Read ahead on a helper thread.
    Pipelined(Pipelined),
}

impl FrameSource {
    /// Wrap a reader; large mapped files on a multi-core machine get a helper thread.
    pub fn new(reader: Reader) -> FrameSource {
        let worth_it = reader.mapping().is_some_and(|m| m.len() >= MIN_FILE)
            && std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2;
        if worth_it {
            FrameSource::Pipelined(Pipelined::start(reader))
        } else {
            FrameSource::Direct(reader)
        }
    }

    /// Read a mapped file on a helper thread whatever its size; a reader
    /// of a stream is handed back.
    pub fn pipelined(reader: Reader) -> Result<FrameSource, Reader> {
        if reader.mapping().is_some() {
            Ok(FrameSource::Pipelined(Pipelined::start(reader)))
        } else {
            Err(reader)
        }
    }

    /// The next frame; see [`Reader::next_frame`].
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, ReadError> {
        match self {
            FrameSource::Direct(r) => r.next_frame(),
            FrameSource::Pipelined(p) => p.next_frame(),
        }
    }

    /// How far the reading has come: bytes of the file behind the frame
    /// read last, and the file's size when it is a mapped file.
    pub fn position(&self) -> (u64, Option<u64>) {
        match self {
            FrameSource::Direct(r) => (r.offset(), r.mapping().map(|m| m.len() as u64)),
            FrameSource::Pipelined(p) => {
                let at = p
                    .current
                    .get(p.next.saturating_sub(1))
                    .map_or(p.released, |&(_, at)| at);
                (at as u64, Some(p.map.len() as u64))
            }
        }
    }

    /// Records cut to the snaplen so far (complete once reading has ended).
    pub fn records_over_snaplen(&self) -> u64 {
        match self {
            FrameSource::Direct(r) => r.records_over_snaplen(),
            FrameSource::Pipelined(p) => p.over_snaplen,
        }
    }
}

/// The consumer side of a reader running on a helper thread.
pub struct Pipelined {
    map: Arc<memmap2::Mmap>,
    populator: Arc<Populator>,
    batches: Receiver<Msg>,
    recycle: SyncSender<Vec<(FrameMeta, usize)>>,
    current: Vec<(FrameMeta, usize)>,
    next: usize,
    released: usize,
    finished: bool,
    over_snaplen: u64,
    helper: Option<JoinHandle<()>>,
}

impl Pipelined {
    fn start(mut reader: Reader) -> Pipelined {
        let map = reader.mapping().expect("only mapped files are pipelined");
        let populator = reader.populator();
        reader.keep_pages();
        let (tx, batches) = sync_channel::<Msg>(IN_FLIGHT);
        let (recycle, spare) = sync_channel::<Vec<(FrameMeta, usize)>>(IN_FLIGHT + 2);
        let helper = std::thread::Builder::new()
            .name("tcpscope-reader".into())
            .spawn(move || {
                let error = loop {
                    let mut batch = spare
                        .try_recv()
                        .unwrap_or_else(|_| Vec::with_capacity(BATCH));
                    batch.clear();
                    let walked = reader.next_records(&mut batch, BATCH);
                    // A short batch means the end of the file or an error.
                    let last = walked.is_err() || batch.len() < BATCH;
                    if !batch.is_empty() && tx.send(Msg::Batch(batch)).is_err() {
                        return;
                    }
                    if last {
                        break walked.err();
                    }
                };
                let _ = tx.send(Msg::End {
                    error,
                    over_snaplen: reader.records_over_snaplen(),
                });
            })
            .expect("spawn the reader thread");
        Pipelined {
            map,
            populator,
            batches,
            recycle,
            current: Vec::new(),
            next: 0,
            released: 0,
            finished: false,
            over_snaplen: 0,
            helper: Some(helper),
        }
    }

    /// The next message from the helper. While there is none, help it by
    /// filling page tables ahead of it: the consumer waits only when the
    /// helper is the slower of the two.
    fn wait(&mut self) -> Result<Msg, RecvError> {
        let here = self.current.last().map_or(0, |&(_, at)| at);
        loop {
            match self.batches.try_recv() {
                Ok(m) => return Ok(m),
                Err(TryRecvError::Disconnected) => return Err(RecvError),
                Err(TryRecvError::Empty) => {
                    if !self.populator.help(&self.map, here + HELP_AHEAD) {
                        return self.batches.recv();
                    }
                }
            }
        }
    }

    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, ReadError> {
        if self.next == self.current.len() {
            if self.finished {
                return Ok(None);
            }
            match self.wait() {
                Ok(Msg::Batch(b)) => {
                    let done = std::mem::replace(&mut self.current, b);
                    if let Some(&(meta, at)) = done.last() {
                        // Every frame of the finished batch is done with.
                        release_before(&self.map, &mut self.released, at + meta.caplen as usize);
                    }
                    let _ = self.recycle.try_send(done);
                    self.next = 0;
                }
                Ok(Msg::End {
                    error,
                    over_snaplen,
                }) => {
                    self.finished = true;
                    self.over_snaplen = over_snaplen;
                    self.current.clear();
                    self.next = 0;
                    return match error {
                        Some(e) => Err(e),
                        None => Ok(None),
                    };
                }
                Err(_) => {
                    self.finished = true;
                    return Ok(None);
                }
            }
        }
        let (meta, at) = self.current[self.next];
        // The printer's first read of a frame is a cache miss; start the
        // loads for a frame a few places ahead so they overlap this one.
        if let Some(&(_, ahead)) = self.current.get(self.next + PREFETCH_DISTANCE) {
            prefetch(&self.map[ahead..]);
        }
        self.next += 1;
        Ok(Some(meta.frame(&self.map[at..at + meta.caplen as usize])))
    }
}

/// Hand back the mapped pages wholly before `offset`, in steps of
/// RELEASE_STEP. Done on the helper thread, so the consumer never pays for
/// unmapping.
fn release_before(map: &memmap2::Mmap, released: &mut usize, offset: usize) {
    let end = offset / 4096 * 4096;
    if end >= *released + RELEASE_STEP {
        // SAFETY: every frame below `offset` has been handed back by the
        // consumer, so no borrow points there; MADV_DONTNEED on a read-only
        // file mapping only refaults pages from the page cache if they are
        // touched again.
        let _ = unsafe {
            map.unchecked_advise_range(
                memmap2::UncheckedAdvice::DontNeed,
                *released,
                end - *released,
            )
        };
        *released = end;
    }
}

impl Drop for Pipelined {
    fn drop(&mut self) {
        // Unblock the helper if it waits to send, then wait for it.
        while self.batches.try_recv().is_ok() {}
        let (_, dead) = sync_channel(1);
        self.batches = dead;
        if let Some(h) = self.helper.take() {
            let _ = h.join();
        }
    }
}

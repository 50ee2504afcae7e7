//! The pipeline as a library: frames from a source, through the filter, to
//! the tracker and one [`Output`]. The binary, the tests and the labs call
//! it; each output only says what it does with a packet.

use std::io::{self, Write};

use tcpscope_capture::{Frame, FrameSource, ReadError};
use tcpscope_filter::{Filter, FilterError};
use tcpscope_track::{segment, Conn, FlowTable, Observation, Segment, Ts};

/// One frame that passed the filter, and what the tracker made of it.
pub struct Packet<'a> {
    /// Number among the packets taken, from 1.
    pub n: u64,
    /// The captured frame.
    pub frame: &'a Frame<'a>,
    /// Its TCP segment with the observation and the connection after it,
    /// when the output tracks and the frame carries TCP.
    pub tcp: Option<Tracked<'a>>,
}

/// A TCP segment as the tracker saw it.
pub struct Tracked<'a> {
    /// The segment.
    pub seg: &'a Segment,
    /// What it did.
    pub obs: &'a Observation,
    /// Its connection, after it.
    pub conn: &'a Conn,
}

/// One of tcpscope's outputs. Each writes into the pipeline's buffer; the
/// pipeline decides when the buffer goes out.
pub trait Output {
    /// Whether packets go through the tracker first (false: the frames are
    /// printed as they are, and nothing is extracted).
    fn tracks(&self) -> bool;
    /// One packet.
    fn packet(&mut self, p: &Packet<'_>, out: &mut Vec<u8>);
    /// Whether [`Output::finish`] wants every connection of the capture.
    fn wants_connections(&self) -> bool {
        false
    }
    /// The packets that follow come from the capture file `name` (each
    /// piece of a rotated set in turn), for outputs that name it.
    fn set_source(&mut self, name: &str) {
        let _ = name;
    }
    /// After the last packet; `conns` holds every connection, by id, when
    /// [`Output::wants_connections`] says so, and is empty otherwise.
    fn finish(&mut self, conns: &[Conn], out: &mut Vec<u8>) -> Result<(), OutputError> {
        let _ = (conns, out);
        Ok(())
    }
}

/// What an output can fail with at the end.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The connection asked for is not in the capture.
    #[error("no connection {0} (connections are numbered from 1 in order of their first packet; `tcpscope conns -r FILE` lists them with their numbers)")]
    NoSuchConnection(u64),
    /// No connection between the endpoints asked for.
    #[error("no connection between {0} and {1} (`tcpscope conns -r FILE` lists the connections and their endpoints)")]
    NoSuchEndpoints(std::net::SocketAddr, std::net::SocketAddr),
    /// The connection has no packet in the range asked for.
    #[error("connection {0} has no packet in the time range asked for")]
    NothingInRange(u64),
}

/// Why a run stopped early.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The source could not be read on: every packet before it was handled.
    #[error("{0}")]
    Read(#[from] ReadError),
    /// The filter does not compile for a link type met in the capture.
    #[error("bad filter expression: {0}")]
    Filter(#[from] FilterError),
    /// The output failed at the end.
    #[error("{0}")]
    Output(#[from] OutputError),
    /// The output could not be written (a full disk, /dev/full); a closed
    /// pipe is not an error but [`Run::closed`].
    #[error("cannot write the output: {0}")]
    Write(io::Error),
}

/// How a run ended.
#[derive(Debug)]
pub struct Run {
    /// Packets taken (after the filter).
    pub taken: u64,
    /// Whether the writer went away (a closed pipe, as with `| head`):
    /// the caller stops quietly.
    pub closed: bool,
    /// Why it stopped before the end of the source, if it did.
    pub error: Option<RunError>,
    /// The time of the first frame read (before the filter), if any: for
    /// [`Pipeline::feed`], of this source.
    pub first_ts: Option<Ts>,
}

/// Filter, tracker and output, fed one frame at a time.
pub struct Pipeline<O> {
    expression: String,
    filters: Vec<(u32, Filter)>,
    table: FlowTable,
    output: O,
    nano: bool,
    taken: u64,
    buf: Vec<u8>,
    /// The tracker's observation of the current packet, reused.
    obs: Observation,
    /// When the capture ended, if later than its last packet (a live
    /// capture knows; a file does not).
    capture_end: Option<Ts>,
}

const FLUSH_AT: usize = 1 << 16;

impl<O: Output> Pipeline<O> {
    /// A pipeline with this filter expression (empty: every frame) and
    /// output; `nano` reads timestamps as nanoseconds.
    pub fn new(expression: &str, output: O, nano: bool) -> Pipeline<O> {
        Pipeline {
            expression: expression.trim().to_string(),
            filters: Vec::new(),
            table: FlowTable::new(),
            output,
            nano,
            taken: 0,
            buf: Vec::with_capacity(1 << 17),
            obs: Observation::EMPTY,
            capture_end: None,
        }
    }

    /// The capture ran until `end` (a live capture's stop): a side that
    /// kept re-sending and then went quiet before it had given up.
    pub fn set_capture_end(&mut self, end: Ts) {
        self.capture_end = Some(end);
    }

    /// Packets taken so far.
    pub fn taken(&self) -> u64 {
        self.taken
    }

    /// The output, to read what it gathered.
    pub fn output(&self) -> &O {
        &self.output
    }

    /// The output, to change it between frames.
    pub fn output_mut(&mut self) -> &mut O {
        &mut self.output
    }

    /// Output not yet written.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Take one frame that the kernel (or nothing) has already filtered.
    pub fn push_unfiltered(&mut self, frame: &Frame<'_>) {
        self.taken += 1;
        let n = self.taken;
        if !self.output.tracks() {
            let p = Packet {
                n,
                frame,
                tcp: None,
            };
            self.output.packet(&p, &mut self.buf);
            return;
        }
        let Some(seg) = segment::extract(frame, self.nano) else {
            return;
        };
        let conn = self.table.observe_into(&seg, &mut self.obs);
        let p = Packet {
            n,
            frame,
            tcp: Some(Tracked {
                seg: &seg,
                obs: &self.obs,
                conn,
            }),
        };
        self.output.packet(&p, &mut self.buf);
    }

    /// Take one frame if it passes the filter; returns whether it did.
    pub fn push(&mut self, frame: &Frame<'_>) -> Result<bool, FilterError> {
        if !self.expression.is_empty() {
            let f = match self
                .filters
                .iter()
                .position(|(lt, _)| *lt == frame.linktype)
            {
                Some(i) => &self.filters[i].1,
                None => {
                    let f = Filter::new(&self.expression, frame.linktype)?;
                    self.filters.push((frame.linktype, f));
                    &self.filters[self.filters.len() - 1].1
                }
            };
            if !f.matches(frame.data, frame.len) {
                return Ok(false);
            }
        }
        self.push_unfiltered(frame);
        Ok(true)
    }

    /// Write the buffer out if it holds at least `at_least` bytes.
    pub fn drain(&mut self, out: &mut impl Write, at_least: usize) -> io::Result<()> {
        if !self.buf.is_empty() && self.buf.len() >= at_least {
            out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// After the last frame: the output's closing part.
    pub fn finish(&mut self) -> Result<(), OutputError> {
        let table = std::mem::take(&mut self.table);
        let conns = if self.output.wants_connections() {
            table.finish_at(self.capture_end)
        } else {
            Vec::new()
        };
        self.output.finish(&conns, &mut self.buf)
    }

    /// Read `source` to its end (or `limit` packets taken), writing to
    /// `out` as the buffer fills, then finish.
    pub fn run(&mut self, source: &mut FrameSource, out: &mut impl Write, limit: u64) -> Run {
        self.run_with_progress(source, out, limit, &mut |_, _| {})
    }

    /// [`Pipeline::run`], calling `progress(source, frames read)` every few
    /// thousand frames (a progress bar's hook).
    pub fn run_with_progress(
        &mut self,
        source: &mut FrameSource,
        out: &mut impl Write,
        limit: u64,
        progress: &mut dyn FnMut(&FrameSource, u64),
    ) -> Run {
        let fed = self.feed(source, out, limit, progress);
        if fed.closed {
            return fed;
        }
        let mut run = self.end(out, fed.error);
        run.first_ts = fed.first_ts;
        run
    }

    /// Read `source` to its end (or until `limit` packets are taken in
    /// all), without finishing: the next source of the same capture (a
    /// rotated file's next piece) goes on from here. [`Pipeline::end`]
    /// finishes.
    pub fn feed(
        &mut self,
        source: &mut FrameSource,
        out: &mut impl Write,
        limit: u64,
        progress: &mut dyn FnMut(&FrameSource, u64),
    ) -> Run {
        let mut error = None;
        let mut read = 0u64;
        let mut first_ts = None;
        while self.taken < limit {
            read += 1;
            if read % 4096 == 0 {
                progress(source, read);
            }
            match source.next_frame() {
                Ok(Some(frame)) => {
                    if read == 1 {
                        first_ts = Some(Ts::from_frame(&frame, self.nano));
                    }
                    if let Err(e) = self.push(&frame) {
                        error = Some(RunError::Filter(e));
                        break;
                    }
                    if let Err(e) = self.drain(out, FLUSH_AT) {
                        return self.write_failed(e);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    error = Some(RunError::Read(e));
                    break;
                }
            }
        }
        Run {
            taken: self.taken,
            closed: false,
            error,
            first_ts,
        }
    }

    /// After the last source: finish the output and write what is left.
    /// `error` is why the last feed stopped, if it did.
    pub fn end(&mut self, out: &mut impl Write, mut error: Option<RunError>) -> Run {
        if let Err(e) = self.finish() {
            error.get_or_insert(RunError::Output(e));
        }
        if let Err(e) = self.drain(out, 0).and_then(|_| out.flush()) {
            return self.write_failed(e);
        }
        Run {
            taken: self.taken,
            closed: false,
            error,
            first_ts: None,
        }
    }

    /// A closed pipe ends the run quietly; any other write error is one.
    fn write_failed(&self, e: io::Error) -> Run {
        if e.kind() == io::ErrorKind::BrokenPipe {
            return self.closed();
        }
        Run {
            taken: self.taken,
            closed: false,
            error: Some(RunError::Write(e)),
            first_ts: None,
        }
    }

    /// The output, once the pipeline is done with.
    pub fn into_output(self) -> O {
        self.output
    }

    fn closed(&self) -> Run {
        Run {
            taken: self.taken,
            closed: true,
            error: None,
            first_ts: None,
        }
    }
}

impl<O: Output + ?Sized> Output for Box<O> {
    fn tracks(&self) -> bool {
        (**self).tracks()
    }
    fn packet(&mut self, p: &Packet<'_>, out: &mut Vec<u8>) {
        (**self).packet(p, out)
    }
    fn wants_connections(&self) -> bool {
        (**self).wants_connections()
    }
    fn set_source(&mut self, name: &str) {
        (**self).set_source(name)
    }
    fn finish(&mut self, conns: &[Conn], out: &mut Vec<u8>) -> Result<(), OutputError> {
        (**self).finish(conns, out)
    }
}

//! Several captures at once: `-r` given more than once or as a glob, the
//! pieces of a rotated set (`capture -C/-W/-G`, tcpdump's too) read as one
//! stream in time order, and independent captures read in parallel with
//! their outputs in the order given.
//!
//! Pieces of one set are recognised by name and time: files in the same
//! directory whose names differ only in their digits (`ring.pcap0`,
//! `ring.pcap1`; `dump-20261203-1400.pcap`, `dump-20261203-1500.pcap`),
//! with one link type, each beginning at or after the previous one ended.
//! `--one-capture` and `--separate` say it instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use clap::Args;
use tcpscope_capture::{FrameSource, Precision, Reader};
use tcpscope_report::{Output, Pipeline, RunError};
use tcpscope_track::Ts;

/// The flags that choose and join the captures read.
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// Capture file to read; "-" reads standard input. Repeat -r for
    /// several files; a quoted glob ('caps/*.pcap') is expanded.
    #[arg(short = 'r', value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// The files are pieces of one capture (a rotated set): read them as
    /// one stream, in the order of their first packets.
    #[arg(long, conflicts_with = "separate")]
    pub one_capture: bool,
    /// Every file is a capture of its own, even when the names and times
    /// look like a rotated set.
    #[arg(long)]
    pub separate: bool,
    /// Read this many captures at a time (default: one per core).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
    /// The host the captures were taken on (the `host` column and
    /// partition); without it, a `host=NAME` directory in a file's path
    /// names it.
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
}

/// One piece of a capture.
#[derive(Clone, Debug)]
pub struct Piece {
    /// The path to open ("-": standard input).
    pub path: PathBuf,
    /// As the user wrote it, for messages.
    pub name: String,
}

/// One capture: a file, or the pieces of a rotated set in time order.
#[derive(Clone, Debug)]
pub struct Capture {
    /// Its pieces, in reading order.
    pub pieces: Vec<Piece>,
    /// Where it was captured, when known.
    pub host: Option<String>,
}

impl Capture {
    /// How messages name it.
    pub fn name(&self) -> String {
        match self.pieces.as_slice() {
            [one] => one.name.clone(),
            [first, .., last] => format!(
                "{} .. {} ({} files)",
                first.name,
                last.name,
                self.pieces.len()
            ),
            [] => String::new(),
        }
    }

    /// Bytes to read, when the pieces are regular files.
    pub fn size(&self) -> u64 {
        self.pieces
            .iter()
            .filter_map(|p| std::fs::metadata(&p.path).ok())
            .map(|m| m.len())
            .sum()
    }
}

impl InputArgs {
    /// The captures these flags name, or the message saying why not.
    pub fn captures(&self) -> Result<(Vec<Capture>, Vec<String>), String> {
        let files = expand(&self.files)?;
        let mut notes = Vec::new();
        let pieces: Vec<Piece> = files
            .into_iter()
            .map(|(path, name)| Piece { path, name })
            .collect();
        if pieces.iter().filter(|p| p.name == "-").count() > 0 && pieces.len() > 1 {
            return Err("standard input (-r -) cannot be read with other files".to_string());
        }
        let groups: Vec<Vec<Piece>> = if self.one_capture {
            vec![by_first_packet(pieces)]
        } else if self.separate || pieces.len() == 1 {
            pieces.into_iter().map(|p| vec![p]).collect()
        } else {
            rotated_sets(pieces, &mut notes)
        };
        let captures = groups
            .into_iter()
            .map(|pieces| {
                let host = self
                    .host
                    .clone()
                    .or_else(|| pieces.first().and_then(|p| host_in_path(&p.path)));
                Capture { pieces, host }
            })
            .collect();
        Ok((captures, notes))
    }

    /// How many captures to read at once.
    pub fn jobs(&self) -> usize {
        self.jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    }
}

/// `-r` arguments with globs expanded (in name order); a file that
/// exists is taken as named even if its name has glob characters.
fn expand(patterns: &[PathBuf]) -> Result<Vec<(PathBuf, String)>, String> {
    let mut out = Vec::new();
    for p in patterns {
        let s = p.to_string_lossy();
        if s == "-" || p.exists() || !s.contains(['*', '?', '[']) {
            out.push((p.clone(), s.into_owned()));
            continue;
        }
        let paths = glob::glob(&s).map_err(|e| format!("-r {s}: bad pattern: {e}"))?;
        let mut found: Vec<PathBuf> = paths
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect();
        if found.is_empty() {
            return Err(format!("-r {s}: no file matches the pattern"));
        }
        found.sort();
        out.extend(found.into_iter().map(|p| {
            let name = p.display().to_string();
            (p, name)
        }));
    }
    Ok(out)
}

/// The value of a `host=NAME` directory in `path`, as Hive names partitions.
fn host_in_path(path: &Path) -> Option<String> {
    path.parent()?
        .components()
        .filter_map(|c| c.as_os_str().to_str())
        .filter_map(|c| c.strip_prefix("host="))
        .last()
        .map(str::to_string)
}

/// What a piece's name and first and last packets say about it.
struct Span {
    piece: Piece,
    linktype: Option<u32>,
    first: Option<Ts>,
    last: Option<Ts>,
}

/// The time span of a file: its first and last packets (read through the
/// map, headers only: no decoding).
fn span(piece: Piece) -> Span {
    let mut s = Span {
        piece,
        linktype: None,
        first: None,
        last: None,
    };
    let Ok(mut r) = Reader::open(&s.piece.path, Precision::Nano) else {
        return s;
    };
    s.linktype = r.linktype();
    while let Ok(Some(f)) = r.next_frame() {
        let t = Ts::from_frame(&f, true);
        s.first.get_or_insert(t);
        s.last = Some(s.last.map_or(t, |l: Ts| l.max(t)));
    }
    s
}

fn spans(pieces: Vec<Piece>) -> Vec<Span> {
    // Read in parallel: they are independent.
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<Piece>>> = pieces
        .into_iter()
        .map(|p| std::sync::Mutex::new(Some(p)))
        .collect();
    let done: Vec<std::sync::Mutex<Option<Span>>> = (0..slots.len())
        .map(|_| std::sync::Mutex::new(None))
        .collect();
    std::thread::scope(|s| {
        for _ in 0..jobs.min(slots.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(slot) = slots.get(i) else { break };
                let p = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
                if let Some(p) = p {
                    *done[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(span(p));
                }
            });
        }
    });
    done.into_iter()
        .filter_map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect()
}

/// Pieces in the order of their first packets (a ring's oldest first).
fn by_first_packet(pieces: Vec<Piece>) -> Vec<Piece> {
    let mut s = spans(pieces);
    s.sort_by_key(|s| s.first);
    s.into_iter().map(|s| s.piece).collect()
}

/// A file's name with every run of digits as `#`, and its directory: the
/// pieces of a rotated set share it.
fn set_key(path: &Path) -> (PathBuf, String) {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut key = String::new();
    for c in name.chars() {
        if c.is_ascii_digit() {
            if !key.ends_with('#') {
                key.push('#');
            }
        } else {
            key.push(c);
        }
    }
    (dir, key)
}

/// Group pieces into captures: names that differ only in digits, with one
/// link type and spans that follow each other, are one rotated set; the
/// captures keep the order of their first file on the command line.
fn rotated_sets(pieces: Vec<Piece>, notes: &mut Vec<String>) -> Vec<Vec<Piece>> {
    let mut by_key: BTreeMap<(PathBuf, String), Vec<usize>> = BTreeMap::new();
    for (i, p) in pieces.iter().enumerate() {
        if set_key(&p.path).1.contains('#') {
            by_key.entry(set_key(&p.path)).or_default().push(i);
        }
    }
    let candidates: Vec<Vec<usize>> = by_key.into_values().filter(|v| v.len() > 1).collect();
    let mut slots: Vec<Option<Piece>> = pieces.into_iter().map(Some).collect();
    // (position of the first file on the command line, pieces)
    let mut groups: Vec<(usize, Vec<Piece>)> = Vec::new();
    for idx in candidates {
        let first_pos = idx[0];
        let members: Vec<Piece> = idx.iter().filter_map(|&i| slots[i].take()).collect();
        let mut s = spans(members);
        s.sort_by_key(|s| s.first);
        let joined = s.windows(2).all(|w| {
            w[0].linktype == w[1].linktype
                && match (w[0].last, w[1].first) {
                    (Some(end), Some(start)) => start >= end,
                    _ => true,
                }
        });
        if joined {
            groups.push((first_pos, s.into_iter().map(|s| s.piece).collect()));
        } else {
            let names: Vec<&str> = s.iter().map(|s| s.piece.name.as_str()).collect();
            notes.push(format!(
                "{}: named like one rotated set, but their times overlap or their link types differ: read as separate captures (--one-capture joins them)",
                names.join(", ")
            ));
            for (k, sp) in s.into_iter().enumerate() {
                groups.push((first_pos + k, vec![sp.piece]));
            }
        }
    }
    for (i, p) in slots.into_iter().enumerate() {
        if let Some(p) = p {
            groups.push((i, vec![p]));
        }
    }
    groups.sort_by_key(|g| g.0);
    groups.into_iter().map(|g| g.1).collect()
}

/// How far the reading of all captures has come.
#[derive(Default)]
pub struct Counters {
    /// Bytes of the files read.
    pub bytes: AtomicU64,
    /// Frames read (counted every few thousand).
    pub frames: AtomicU64,
    /// Captures done.
    pub done: AtomicU64,
}

/// What reading one capture gave.
pub struct Read<O> {
    /// The output after its end.
    pub output: O,
    /// What it wrote.
    pub bytes: Vec<u8>,
    /// Each piece with the time of its first packet.
    pub firsts: Vec<(Option<Ts>, String)>,
    /// Lines for stderr: each piece's `reading from file` line and errors.
    pub messages: Vec<String>,
    /// Whether a piece could not be read to its end.
    pub failed: bool,
}

/// Read `capture` through a pipeline made by `make`: its pieces one after
/// the other into the same pipeline (a connection that spans two files
/// is one connection), finished once at the end; the output is told each
/// piece's name before it. `read` adds to the bytes-read counter as it goes.
pub fn read_capture<O: Output>(
    capture: &Capture,
    mut pipeline: Pipeline<O>,
    plan: Plan,
    read: &Counters,
    cut_note: &dyn Fn(u64) -> String,
) -> Read<O> {
    let Plan {
        limit,
        nano,
        header_lines,
        helper_thread,
    } = plan;
    let mut bytes = Vec::new();
    let mut messages = Vec::new();
    let mut firsts = Vec::new();
    let mut failed = false;
    let mut error: Option<RunError> = None;
    let precision = if nano {
        Precision::Nano
    } else {
        Precision::Micro
    };
    for piece in &capture.pieces {
        let reader = if piece.name == "-" {
            Reader::stdin(precision)
        } else {
            Reader::open(&piece.path, precision)
        };
        let reader = match reader {
            Ok(r) => r,
            Err(e) => {
                messages.push(format!(
                    "tcpscope: {}: {}",
                    piece.name,
                    crate::read::describe(&e)
                ));
                failed = true;
                firsts.push((None, piece.name.clone()));
                continue;
            }
        };
        if header_lines {
            if let Some(lt) = reader.linktype() {
                let (lname, ldesc) = tcpscope_capture::linktype_name(lt);
                let mut line = format!(
                    "reading from file {}, link-type {lname} ({ldesc})",
                    piece.name
                );
                if let Some(s) = reader.snaplen() {
                    line.push_str(&format!(", snapshot length {s}"));
                }
                messages.push(line);
            }
        }
        let mut source = if helper_thread {
            FrameSource::new(reader)
        } else {
            FrameSource::Direct(reader)
        };
        pipeline.output_mut().set_source(&piece.name);
        let mut last_pos = 0u64;
        let mut last_n = 0u64;
        let run = pipeline.feed(&mut source, &mut bytes, limit, &mut |src, n| {
            let at = src.position().0;
            read.bytes
                .fetch_add(at.saturating_sub(last_pos), Ordering::Relaxed);
            read.frames.fetch_add(n - last_n, Ordering::Relaxed);
            last_pos = at;
            last_n = n;
        });
        read.bytes.fetch_add(
            source.position().0.saturating_sub(last_pos),
            Ordering::Relaxed,
        );
        firsts.push((run.first_ts, piece.name.clone()));
        match run.error {
            None => {}
            Some(RunError::Read(e)) => {
                messages.push(format!(
                    "tcpscope: {}: {} ({})",
                    piece.name,
                    crate::read::describe(&e),
                    cut_note(run.taken)
                ));
                failed = true;
            }
            Some(e) => {
                error = Some(e);
                break;
            }
        }
        if pipeline.taken() >= limit {
            break;
        }
    }
    let run = pipeline.end(&mut bytes, error);
    if let Some(e) = run.error {
        messages.push(format!("tcpscope: {}: {e}", capture.name()));
        failed = true;
    }
    Read {
        output: pipeline.into_output(),
        bytes,
        firsts,
        messages,
        failed,
    }
}

/// Run `work` on every capture, `jobs` at a time, and hand each result to
/// `emit` in the order of the captures, as soon as it and all before it
/// are done. `progress(counters, total bytes)` is called now and then.
pub fn in_parallel<T: Send>(
    captures: &[Capture],
    jobs: usize,
    work: &(dyn Fn(usize, &Capture, &Counters) -> T + Sync),
    emit: &mut dyn FnMut(usize, T),
    progress: &mut dyn FnMut(&Counters, u64),
) {
    let total: u64 = captures.iter().map(Capture::size).sum();
    let read = Counters::default();
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, T)>();
    std::thread::scope(|s| {
        let mut workers = 0;
        for _ in 0..jobs.min(captures.len()).max(1) {
            let tx = tx.clone();
            let (next, read) = (&next, &read);
            // The main thread's stack size: a filter at its nesting limit
            // is parsed and compiled here.
            let spawned = std::thread::Builder::new()
                .stack_size(8 << 20)
                .spawn_scoped(s, move || loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(c) = captures.get(i) else { break };
                    let t = work(i, c, read);
                    read.done.fetch_add(1, Ordering::Relaxed);
                    if tx.send((i, t)).is_err() {
                        break;
                    }
                });
            workers += spawned.is_ok() as usize;
        }
        if workers == 0 {
            // No thread could be made: read them here, one by one.
            while let Some(c) = captures.get(next.fetch_add(1, Ordering::Relaxed)) {
                let i = next.load(Ordering::Relaxed) - 1;
                let _ = tx.send((i, work(i, c, &read)));
            }
        }
        drop(tx);
        let mut pending: BTreeMap<usize, T> = BTreeMap::new();
        let mut want = 0usize;
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok((i, t)) => {
                    pending.insert(i, t);
                    while let Some(t) = pending.remove(&want) {
                        emit(want, t);
                        want += 1;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            progress(&read, total);
        }
    });
}

/// How captures are read.
#[derive(Clone, Copy)]
pub struct Plan {
    /// Stop each capture after this many packets.
    pub limit: u64,
    /// Timestamps in nanoseconds.
    pub nano: bool,
    /// Give each piece tcpdump's `reading from file` line on stderr.
    pub header_lines: bool,
    /// Read a large file on a helper thread (one capture: the reader gets
    /// its helper thread; several: the cores go to the captures).
    pub helper_thread: bool,
}

impl Default for Plan {
    fn default() -> Plan {
        Plan {
            limit: u64::MAX,
            nano: true,
            header_lines: false,
            helper_thread: true,
        }
    }
}

/// Read every capture through a pipeline `make` builds, `input.jobs()` at
/// a time, and hand each result to `emit` in order; a progress bar on a
/// terminal.
pub fn read_all<O: Output + Send>(
    captures: &[Capture],
    input: &InputArgs,
    plan: Plan,
    make: &(dyn Fn(&Capture) -> Pipeline<O> + Sync),
    emit: &mut dyn FnMut(usize, Read<O>),
    cut_note: &(dyn Fn(u64) -> String + Sync),
) {
    let jobs = input.jobs();
    let progress = std::cell::RefCell::new(crate::progress::Progress::new(
        crate::progress::Kind::Bytes,
        None,
    ));
    in_parallel(
        captures,
        jobs,
        &|_, c, read| {
            let plan = Plan {
                helper_thread: captures.len() == 1 || jobs == 1,
                ..plan
            };
            read_capture(c, make(c), plan, read, cut_note)
        },
        &mut |i, r| progress.borrow().suspend(|| emit(i, r)),
        &mut |read, total| {
            let mut p = progress.borrow_mut();
            p.set_total(Some(total));
            p.update(read.bytes.load(Ordering::Relaxed), || {
                let frames = read.frames.load(Ordering::Relaxed);
                match captures.len() {
                    1 => format!("{frames} packets"),
                    n => format!(
                        "{frames} packets, {} of {n} captures",
                        read.done.load(Ordering::Relaxed)
                    ),
                }
            });
        },
    );
    progress.borrow_mut().finish();
}

//! `tcpscope conns` and `tcpscope ladder`: flags and wiring of the
//! connection outputs of the report crate.

use std::io::{self, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use tcpscope_capture::{FrameSource, Precision, Reader};
use tcpscope_report::conns::{self, Conns};
use tcpscope_report::diagnose::Diagnose;
use tcpscope_report::html::{Chosen2, HtmlReport};
use tcpscope_report::ladder::{Ladder, Pick, Range, Style};
use tcpscope_report::{Output, Pipeline, RunError};

use crate::inputs::{self, Capture, InputArgs, Plan};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    /// An aligned table for people.
    Table,
    /// JSON Lines, one object per connection.
    Json,
    /// Zeek's conn.log (TSV with its header).
    Zeek,
    /// CSV with a header row.
    Csv,
    /// Parquet (with -o): typed columns, schema in docs/parquet.md.
    #[cfg(feature = "parquet")]
    Parquet,
}

/// One row per connection, with what it looked like and how it ended.
#[derive(Args, Debug)]
#[command(
    after_help = "Columns: endpoints (a '?' after the client: roles guessed, no SYN seen), duration, packets \
and payload bytes each way, handshake RTT (SYN to the ACK of the SYN-ACK), Zeek's conn_state and history, \
retransmissions, who closed first, who ends in TIME-WAIT, who sent the RST that ended it and why (its cause, \
read from the wire: answer_to_syn, accept_queue_abort, data_after_close, no_socket, listener_closed, \
abort_unread, abort_linger, keepalive_timeout, retransmission_timeout, time_wait_assassination, unknown), \
and what each application saw.\n\n\
Several captures: repeat -r or give a quoted glob. Pieces of a rotated set (names that differ only in \
digits, times that follow each other) are read as one stream; other captures in parallel (-j), printed in \
the order given, each row naming its source_file. --format parquet -o FILE writes typed records \
(docs/parquet.md); -o DIR --partition-by date,host writes Hive partitions for DuckDB, Spark or Trino."
)]
pub struct ConnsArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// JSON Lines (the same as --format json).
    #[arg(long)]
    json: bool,
    /// Write to FILE instead of standard output (with --format parquet:
    /// required; with --partition-by, a directory).
    #[arg(short = 'o', value_name = "FILE|DIR")]
    output: Option<PathBuf>,
    /// Parquet: write a Hive-partitioned directory, by these keys in this
    /// order (date: the UTC day of each connection's first packet; host).
    #[arg(long, value_name = "KEYS", value_delimiter = ',')]
    partition_by: Vec<String>,
    /// Only packets matching this filter expression (tcpdump's syntax).
    #[arg(value_name = "EXPRESSION", trailing_var_arg = true)]
    expression: Vec<String>,
}

/// The sequence diagram of one connection.
#[derive(Args, Debug)]
#[command(
    after_help = "Choose the connection by the number `tcpscope conns -r FILE` (and \
`read --explain`) gives it, or by its two endpoints as conns prints them: \
`--conn 127.0.0.1:50139-127.0.0.1:9292` (either order; `[::1]:5000-[::1]:9292` for IPv6). \
-c, --from and --to draw part of a long connection."
)]
pub struct LadderArgs {
    /// Capture file to read; "-" reads standard input.
    #[arg(short = 'r', value_name = "FILE")]
    file: PathBuf,
    /// The connection: its number (default 1), or its endpoints A-B.
    #[arg(long, value_name = "ID|A-B", default_value = "1")]
    conn: String,
    /// Draw at most COUNT of its packets.
    #[arg(short = 'c', value_name = "COUNT")]
    count: Option<u64>,
    /// Only its packets from SECS seconds after its first packet.
    #[arg(long, value_name = "SECS")]
    from: Option<f64>,
    /// Only its packets up to SECS seconds after its first packet.
    #[arg(long, value_name = "SECS")]
    to: Option<f64>,
    /// Only packets matching this filter expression (tcpdump's syntax).
    #[arg(value_name = "EXPRESSION", trailing_var_arg = true)]
    expression: Vec<String>,
    /// Write the diagram as an SVG document (to standard output) instead of text.
    #[arg(long, conflicts_with = "json")]
    svg: bool,
    /// JSON Lines: an object of type "ladder", then one of type "arrow" per packet.
    #[arg(long)]
    json: bool,
}

/// The findings of a capture, most harmful first.
#[derive(Args, Debug)]
#[command(
    after_help = "Findings, ranked so that what broke a handshake or left a connection stuck comes \
before the resets and timeouts it explains: forged or ignored RSTs; refusals; SYNs nobody answered; \
handshakes the server never completed (the final ACK dropped by a full accept queue, or lost); \
SYN-ACKs re-sent; half-closed connections (CLOSE-WAIT); peers that stopped answering (keep-alive or \
retransmission timeouts); connections reset, by the cause read from the RST (accept-queue abort, data \
after close, no socket, listener closed, abort on close, TIME-WAIT assassination); zero windows; \
retransmissions; TIME-WAIT reuse; slow handshakes. Each with how many connections, examples with \
packet numbers (as read -# numbers them), what the applications saw, the likely cause, what to \
change and how to confirm it.\n\n\
A live capture is diagnosed with `tcpscope capture --diagnose`."
)]
pub struct DiagnoseArgs {
    #[command(flatten)]
    input: InputArgs,
    /// JSON Lines: one object of type "diagnosis" per finding.
    #[arg(long)]
    json: bool,
    /// Only packets matching this filter expression (tcpdump's syntax).
    #[arg(value_name = "EXPRESSION", trailing_var_arg = true)]
    expression: Vec<String>,
}

/// One self-contained HTML page: connections, diagnosis, ladders and graphs.
#[derive(Args, Debug)]
#[command(
    after_help = "The page needs no network to view: styles, script and SVG are inline. \
It opens on the connection table (click a column to sort) and the diagnosis, then for each chosen \
connection: a time-sequence graph in tcptrace's style (segments from first to last sequence number, \
the ACK and receive-window lines, retransmissions in red, zero windows, both sides' state changes on \
the time axis), throughput and goodput, RTT samples (Karn's rule) and bytes in flight against the \
receive window, and its ladder. Size: graphs draw at most 5,000 segments each (every retransmission \
and zero window kept, the rest sampled) and ladders the first 400 packets; the table has every \
connection."
)]
pub struct ReportArgs {
    /// Capture file to read; "-" reads standard input.
    #[arg(short = 'r', value_name = "FILE")]
    file: PathBuf,
    /// Where to write the page.
    #[arg(short = 'o', value_name = "FILE.html")]
    output: PathBuf,
    /// Graphs for these connections (their numbers in `conns`); repeatable.
    #[arg(long, value_name = "ID")]
    conn: Vec<u64>,
    /// Without --conn: graphs for the first N connections.
    #[arg(long, value_name = "N", default_value_t = 20)]
    graphs: usize,
    /// Only packets matching this filter expression (tcpdump's syntax).
    #[arg(value_name = "EXPRESSION", trailing_var_arg = true)]
    expression: Vec<String>,
}

pub fn report(args: ReportArgs) -> ExitCode {
    let expression = args.expression.join(" ");
    if let Err(code) = crate::sink::check_expression(&expression) {
        return code;
    }
    let pick = if args.conn.is_empty() {
        Chosen2::First(args.graphs)
    } else {
        Chosen2::Ids(args.conn.clone())
    };
    let name = args.file.display().to_string();
    let file = match std::fs::File::create(&args.output) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("tcpscope report: {}: {e}", args.output.display());
            return ExitCode::from(1);
        }
    };
    let mut out = io::BufWriter::new(file);
    let code = run_into(
        &args.file,
        &expression,
        HtmlReport::new(&name, pick),
        &mut out,
    );
    if let Err(e) = io::Write::flush(&mut out) {
        eprintln!("tcpscope report: {}: {e}", args.output.display());
        return ExitCode::from(1);
    }
    if code == ExitCode::SUCCESS {
        eprintln!("tcpscope report: wrote {}", args.output.display());
    }
    code
}

pub fn diagnose(args: DiagnoseArgs) -> ExitCode {
    let expression = args.expression.join(" ");
    if let Err(code) = crate::sink::check_expression(&expression) {
        return code;
    }
    let Some(captures) = crate::read::captures_or_report(&args.input) else {
        return ExitCode::from(1);
    };
    let several = captures.len() > 1;
    let json = args.json;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut failed = false;
    let mut closed = false;
    let mut write_error = None;
    inputs::read_all(
        &captures,
        &args.input,
        Plan::default(),
        &|c: &Capture| {
            let file = c.pieces.first().map_or("-".to_string(), |p| p.name.clone());
            Pipeline::new(&expression, Diagnose::of_file(json, &c.name(), &file), true)
        },
        &mut |i, r| {
            for m in &r.messages {
                eprintln!("{m}");
            }
            failed |= r.failed;
            if closed {
                return;
            }
            let sep: &[u8] = if several && i > 0 && !json {
                b"\n"
            } else {
                b""
            };
            if let Err(e) = out.write_all(sep).and_then(|_| out.write_all(&r.bytes)) {
                closed = true;
                write_error = crate::out::failed("diagnose", Err(e));
            }
        },
        &|_| "connections up to that point are diagnosed".to_string(),
    );
    if let Some(code) = write_error {
        return code;
    }
    if let Err(e) = out.flush() {
        return crate::out::status("diagnose", Err(e));
    }
    if closed {
        return ExitCode::SUCCESS;
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Read the packets of `file` that match `expression` through `output`.
fn run_filtered(file: &PathBuf, expression: &str, output: impl Output) -> ExitCode {
    run_into(file, expression, output, &mut io::stdout().lock())
}

/// The same, writing to `dest`.
fn run_into(
    file: &PathBuf,
    expression: &str,
    output: impl Output,
    dest: &mut impl io::Write,
) -> ExitCode {
    let name = file.display().to_string();
    let reader = if name == "-" {
        Reader::stdin(Precision::Nano)
    } else {
        Reader::open(file, Precision::Nano)
    };
    let mut source = match reader {
        Ok(r) => FrameSource::new(r),
        Err(e) => {
            eprintln!("tcpscope: {name}: {}", crate::read::describe(&e));
            return ExitCode::from(1);
        }
    };
    let mut pipeline = Pipeline::new(expression, output, true);
    let mut progress = crate::progress::Progress::new(crate::progress::Kind::Bytes, None);
    let run = pipeline.run_with_progress(&mut source, dest, u64::MAX, &mut |src, n| {
        progress.set_total(src.position().1);
        progress.update(src.position().0, || format!("{n} packets"));
    });
    progress.finish();
    match run.error {
        _ if run.closed => ExitCode::SUCCESS,
        None => ExitCode::SUCCESS,
        Some(RunError::Read(e)) => {
            eprintln!(
                "tcpscope: {name}: {} (connections up to that point are shown)",
                crate::read::describe(&e)
            );
            ExitCode::from(1)
        }
        Some(e) => {
            eprintln!("tcpscope: {name}: {e}");
            ExitCode::from(1)
        }
    }
}

pub fn conns(args: ConnsArgs) -> ExitCode {
    let format = match (args.json, args.format) {
        (true, _) | (_, Format::Json) => Some(conns::Format::Json),
        (_, Format::Table) => Some(conns::Format::Table),
        (_, Format::Zeek) => Some(conns::Format::Zeek),
        (_, Format::Csv) => Some(conns::Format::Csv),
        #[cfg(feature = "parquet")]
        (_, Format::Parquet) => None,
    };
    if format.is_none() && args.output.is_none() {
        eprintln!("tcpscope conns: --format parquet writes a file: give it with -o FILE (or -o DIR with --partition-by)");
        return ExitCode::from(2);
    }
    if format.is_some() && !args.partition_by.is_empty() {
        eprintln!("tcpscope conns: --partition-by is for --format parquet");
        return ExitCode::from(2);
    }
    let expression = args.expression.join(" ");
    if let Err(code) = crate::sink::check_expression(&expression) {
        return code;
    }
    let Some(captures) = crate::read::captures_or_report(&args.input) else {
        return ExitCode::from(1);
    };
    #[cfg(feature = "parquet")]
    let target = match format {
        Some(_) => None,
        None => match parquet_target(&args.output, &args.partition_by, &captures) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("tcpscope conns: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let mut batches = Vec::new();
    let mut failed = false;
    inputs::read_all(
        &captures,
        &args.input,
        Plan::default(),
        &|_| Pipeline::new(&expression, Conns::collecting(), true),
        &mut |i, mut r| {
            for m in &r.messages {
                eprintln!("{m}");
            }
            failed |= r.failed;
            batches.push(conns::Batch {
                pieces: std::mem::take(&mut r.firsts),
                host: captures[i].host.clone(),
                conns: r.output.take(),
            });
        },
        &|_| "connections up to that point are shown".to_string(),
    );
    let code = if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    let Some(format) = format else {
        #[cfg(feature = "parquet")]
        {
            let target = target.expect("parquet has a target");
            return match tcpscope_report::columnar::write_conns(&batches, target) {
                Ok(files) => {
                    let rows: usize = batches.iter().map(|b| b.conns.len()).sum();
                    eprintln!(
                        "tcpscope conns: wrote {rows} connection(s) to {} file(s) under {}",
                        files.len(),
                        args.output
                            .as_ref()
                            .map_or(String::new(), |p| p.display().to_string())
                    );
                    code
                }
                Err(e) => {
                    eprintln!("tcpscope conns: {e}");
                    ExitCode::from(1)
                }
            };
        }
        #[cfg(not(feature = "parquet"))]
        unreachable!("every text format is Some");
    };
    let mut text = Vec::new();
    conns::write(format, &batches, &mut text);
    let written = match &args.output {
        Some(path) => std::fs::write(path, &text).map_err(|e| format!("{}: {e}", path.display())),
        None => {
            let stdout = io::stdout();
            let mut out = stdout.lock();
            match out.write_all(&text).and_then(|_| out.flush()) {
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                    Err(format!("standard output: {e}"))
                }
                _ => Ok(()),
            }
        }
    };
    match written {
        Ok(()) => code,
        Err(e) => {
            eprintln!("tcpscope conns: {e}");
            ExitCode::from(1)
        }
    }
}

/// Where Parquet goes: `-o FILE`, or `-o DIR --partition-by KEYS`.
#[cfg(feature = "parquet")]
pub(crate) fn parquet_target(
    output: &Option<PathBuf>,
    partition_by: &[String],
    captures: &[Capture],
) -> Result<tcpscope_report::columnar::Target, String> {
    use tcpscope_report::columnar::{PartitionKey, Target};
    let Some(path) = output.clone() else {
        return Err("--format parquet writes a file: give it with -o FILE".to_string());
    };
    if partition_by.is_empty() {
        return Ok(Target::File(path));
    }
    let mut keys = Vec::new();
    for k in partition_by {
        match PartitionKey::parse(k.trim()) {
            Some(key) if !keys.contains(&key) => keys.push(key),
            Some(_) => return Err(format!("--partition-by: '{k}' twice")),
            None => {
                return Err(format!(
                    "--partition-by: unknown key '{k}' (known: date, host)"
                ))
            }
        }
    }
    // Part files are named after the first input, so that runs over one
    // capture each can share a directory.
    let part = captures
        .first()
        .and_then(|c| c.pieces.first())
        .filter(|p| p.name != "-")
        .and_then(|p| p.path.file_name())
        .map_or("stdin".to_string(), |n| n.to_string_lossy().into_owned());
    Ok(Target::Partitioned {
        dir: path,
        keys,
        part,
    })
}

pub fn ladder(args: LadderArgs) -> ExitCode {
    let style = if args.svg {
        Style::Svg
    } else if args.json {
        Style::Json
    } else {
        Style::Text
    };
    let pick = match Pick::parse(&args.conn) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("tcpscope ladder: --conn {e}");
            return ExitCode::from(2);
        }
    };
    let expression = args.expression.join(" ");
    if let Err(code) = crate::sink::check_expression(&expression) {
        return code;
    }
    let range = Range {
        count: args.count,
        from_s: args.from,
        to_s: args.to,
    };
    run_filtered(&args.file, &expression, Ladder::pick(pick, range, style))
}

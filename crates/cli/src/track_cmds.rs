//! `tcpscope conns` and `tcpscope ladder`: flags and wiring of the
//! connection outputs of the report crate.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use tcpscope_capture::{FrameSource, Precision, Reader};
use tcpscope_report::conns::{self, Conns};
use tcpscope_report::diagnose::Diagnose;
use tcpscope_report::html::{Chosen2, HtmlReport};
use tcpscope_report::ladder::{Ladder, Pick, Range, Style};
use tcpscope_report::{Output, Pipeline, RunError};

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
}

/// One row per connection, with what it looked like and how it ended.
#[derive(Args, Debug)]
#[command(
    after_help = "Columns: endpoints (a '?' after the client: roles guessed, no SYN seen), duration, packets \
and payload bytes each way, handshake RTT (SYN to the ACK of the SYN-ACK), Zeek's conn_state and history, \
retransmissions, who closed first, who ends in TIME-WAIT, who sent the RST that ended it and why (its cause, \
read from the wire: answer_to_syn, accept_queue_abort, data_after_close, no_socket, listener_closed, \
abort_unread, abort_linger, keepalive_timeout, retransmission_timeout, time_wait_assassination, unknown), \
and what each application saw."
)]
pub struct ConnsArgs {
    /// Capture file to read; "-" reads standard input.
    #[arg(short = 'r', value_name = "FILE")]
    file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// JSON Lines (the same as --format json).
    #[arg(long)]
    json: bool,
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
    /// Capture file to read; "-" reads standard input.
    #[arg(short = 'r', value_name = "FILE")]
    file: PathBuf,
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
    let name = args.file.display().to_string();
    run_filtered(&args.file, &expression, Diagnose::new(args.json, &name))
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
        Reader::from_stream(Box::new(io::stdin()), Precision::Nano)
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
        (true, _) | (_, Format::Json) => conns::Format::Json,
        (_, Format::Table) => conns::Format::Table,
        (_, Format::Zeek) => conns::Format::Zeek,
        (_, Format::Csv) => conns::Format::Csv,
    };
    let expression = args.expression.join(" ");
    if let Err(code) = crate::sink::check_expression(&expression) {
        return code;
    }
    run_filtered(&args.file, &expression, Conns::new(format))
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

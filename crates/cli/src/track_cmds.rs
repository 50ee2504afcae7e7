//! `tcpscope conns` and `tcpscope ladder`: flags and wiring of the
//! connection outputs of the report crate.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use tcpscope_capture::{FrameSource, Precision, Reader};
use tcpscope_report::conns::{self, Conns};
use tcpscope_report::diagnose::Diagnose;
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
#[command(after_help = "Choose the connection by the number `tcpscope conns -r FILE` (and \
`read --explain`) gives it, or by its two endpoints as conns prints them: \
`--conn 127.0.0.1:50139-127.0.0.1:9292` (either order; `[::1]:5000-[::1]:9292` for IPv6). \
-c, --from and --to draw part of a long connection.")]
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
    let run = pipeline.run_with_progress(&mut source, &mut io::stdout().lock(), u64::MAX, &mut |src, n| {
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

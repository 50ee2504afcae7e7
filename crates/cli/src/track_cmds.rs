//! `tcpscope conns` and `tcpscope ladder`: connection summaries and the
//! sequence diagram of one connection.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use tcpscope_capture::{FrameSource, Precision, ReadError, Reader};
use tcpscope_print::conns::{self, Row};
use tcpscope_print::explain;
use tcpscope_print::ladder::{self, Ladder, SvgLadder};
use tcpscope_print::{Options, Printer};
use tcpscope_track::{segment, FlowTable, State};

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
retransmissions, who closed first, who ends in TIME-WAIT, who sent an RST, and what each application saw."
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
}

/// The sequence diagram of one connection.
#[derive(Args, Debug)]
pub struct LadderArgs {
    /// Capture file to read; "-" reads standard input.
    #[arg(short = 'r', value_name = "FILE")]
    file: PathBuf,
    /// Connection number, as `conns` and `read --explain` number them (default: the first).
    #[arg(long, value_name = "ID", default_value_t = 1)]
    conn: u64,
    /// Write the diagram as an SVG document (to standard output) instead of text.
    #[arg(long)]
    svg: bool,
}

fn open(file: &PathBuf) -> Result<FrameSource, ExitCode> {
    let name = file.display().to_string();
    let r = if name == "-" {
        Reader::from_stream(Box::new(io::stdin()), Precision::Nano)
    } else {
        Reader::open(file, Precision::Nano)
    };
    match r {
        Ok(r) => Ok(FrameSource::new(r)),
        Err(e) => {
            eprintln!("tcpscope: {name}: {}", crate::read::describe(&e));
            Err(ExitCode::from(1))
        }
    }
}

fn report_failure(file: &PathBuf, failure: Option<ReadError>) -> ExitCode {
    match failure {
        None => ExitCode::SUCCESS,
        Some(e) => {
            eprintln!(
                "tcpscope: {}: {} (connections up to that point are shown)",
                file.display(),
                crate::read::describe(&e)
            );
            ExitCode::from(1)
        }
    }
}

pub fn conns(args: ConnsArgs) -> ExitCode {
    let mut src = match open(&args.file) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let mut table = FlowTable::new();
    let mut failure = None;
    loop {
        match src.next_frame() {
            Ok(Some(f)) => {
                if let Some(seg) = segment::extract(&f, true) {
                    table.observe(&seg);
                }
            }
            Ok(None) => break,
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let all = table.finish();
    let format = if args.json { Format::Json } else { args.format };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let r = (|| -> io::Result<()> {
        match format {
            Format::Table => {
                writeln!(out, "{}", conns::table_header())?;
                for c in &all {
                    writeln!(out, "{}", conns::table_row(&Row::of(c)))?;
                }
            }
            Format::Json => {
                for c in &all {
                    writeln!(out, "{}", conns::json(&Row::of(c)))?;
                }
            }
            Format::Csv => {
                writeln!(out, "{}", conns::csv_header())?;
                for c in &all {
                    writeln!(out, "{}", conns::csv(&Row::of(c)))?;
                }
            }
            Format::Zeek => {
                let open = all
                    .first()
                    .map_or("-".to_string(), |c| format!("{:.6}", c.start.secs()));
                write!(out, "{}", conns::zeek_header(&open))?;
                for c in &all {
                    writeln!(out, "{}", conns::zeek_row(c))?;
                }
                writeln!(
                    out,
                    "#close\t{}",
                    all.last()
                        .map_or("-".to_string(), |c| format!("{:.6}", c.last.secs()))
                )?;
            }
        }
        out.flush()
    })();
    if r.is_err() {
        return ExitCode::SUCCESS;
    }
    report_failure(&args.file, failure)
}

pub fn ladder(args: LadderArgs) -> ExitCode {
    let mut src = match open(&args.file) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let mut table = FlowTable::new();
    let mut failure = None;
    let mut lines: Vec<String> = Vec::new();
    let mut text: Option<Ladder> = None;
    let mut svg: Option<SvgLadder> = None;
    // The hover text of an SVG arrow: the packet as `read --nano` prints it.
    let mut printer = Printer::new(Options {
        nano: true,
        ..Options::default()
    });
    let mut line = Vec::new();
    loop {
        match src.next_frame() {
            Ok(Some(f)) => {
                let Some(seg) = segment::extract(&f, true) else {
                    continue;
                };
                let obs = table.observe(&seg);
                if obs.conn != args.conn {
                    continue;
                }
                if text.is_none() && svg.is_none() {
                    let conn = table.conn_of(&seg).expect("just observed");
                    let syn = seg.flags & 0x02 != 0;
                    let (cs, ss) = if syn {
                        (State::Closed, State::Listen)
                    } else {
                        (State::Established, State::Established)
                    };
                    let (client, server) = (conn.client.to_string(), conn.server.to_string());
                    if args.svg {
                        svg = Some(SvgLadder::new(&client, &server, cs, ss));
                    } else {
                        let (l, head) = Ladder::header(&client, &server, cs, ss);
                        lines.push(head.trim_end().to_string());
                        text = Some(l);
                    }
                }
                let flags = flag_text(seg.flags);
                if let Some(svg) = svg.as_mut() {
                    line.clear();
                    printer.print(&f, &mut line);
                    let notes = explain::notes(&obs);
                    let label = ladder::arrow_label(&seg, &obs, &flags);
                    svg.packet(
                        &seg,
                        &obs,
                        &label,
                        &notes,
                        String::from_utf8_lossy(&line).trim_end(),
                    );
                } else if let Some(l) = text.as_mut() {
                    lines.push(l.packet(&seg, &obs, &flags));
                }
            }
            Ok(None) => break,
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let mut out = io::stdout().lock();
    if let Some(svg) = svg {
        if out.write_all(svg.finish().as_bytes()).is_err() {
            return ExitCode::SUCCESS;
        }
        return report_failure(&args.file, failure);
    }
    if text.is_none() {
        eprintln!("tcpscope: {}: no connection {} (connections are numbered from 1 in order of their first packet)", args.file.display(), args.conn);
        return ExitCode::from(1);
    }
    lines.push(Ladder::footer().to_string());
    for l in &lines {
        if writeln!(out, "{l}").is_err() {
            return ExitCode::SUCCESS;
        }
    }
    report_failure(&args.file, failure)
}

fn flag_text(flags: u8) -> String {
    let mut s = String::new();
    for (bit, c) in [
        (0x02u8, "SYN"),
        (0x01, "FIN"),
        (0x04, "RST"),
        (0x08, "PSH"),
        (0x10, "ACK"),
    ] {
        if flags & bit != 0 {
            if !s.is_empty() {
                s.push(',');
            }
            s.push_str(c);
        }
    }
    s
}

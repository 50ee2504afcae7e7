//! The output side shared by `read` and `capture`: tcpdump's printing flags,
//! and one sink that prints each frame (or explains it, or writes JSON).

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{ArgAction, Args};
use tcpscope_capture::Frame;
use tcpscope_print::explain::{explain_line, packet_json, simple_header, simple_line};
use tcpscope_print::{Options, PacketType, Printer};
use tcpscope_track::{segment, FlowTable};

/// tcpdump's printing flags, with the same letters and meanings.
#[derive(Args, Debug)]
pub struct PrintArgs {
    /// Numeric output (always on; accepted for compatibility, -nn too).
    #[arg(short = 'n', action = ArgAction::Count)]
    numeric: u8,
    /// Print absolute TCP sequence numbers instead of relative ones.
    #[arg(short = 'S')]
    absolute: bool,
    /// Verbose: IP header fields, checksums, more application detail (-vv, -vvv).
    #[arg(short = 'v', action = ArgAction::Count)]
    pub verbose: u8,
    /// Print the link-level header on each line.
    #[arg(short = 'e')]
    link_header: bool,
    /// Quick output: less protocol information.
    #[arg(short = 'q', action = ArgAction::Count)]
    quick: u8,
    /// Timestamps: -t none, -tt seconds since the epoch, -ttt delta to the
    /// previous packet, -tttt date and time, -ttttt delta to the first packet.
    #[arg(short = 't', action = ArgAction::Count)]
    time: u8,
    /// Print a packet number at the start of each line.
    #[arg(short = '#')]
    number: bool,
    /// Hex dump of each packet without (-x) or with (-xx) the link header.
    #[arg(short = 'x', action = ArgAction::Count)]
    hex: u8,
    /// Hex and ASCII dump without (-X) or with (-XX) the link header.
    #[arg(short = 'X', action = ArgAction::Count)]
    hex_ascii: u8,
    /// ASCII dump without (-A) or with (-AA) the link header.
    #[arg(short = 'A', action = ArgAction::Count)]
    ascii: u8,
    /// Do not verify IP, TCP or UDP checksums.
    #[arg(short = 'K')]
    no_checksum: bool,
    /// Print timestamps in nanoseconds.
    #[arg(long = "nano")]
    pub nano: bool,
    /// Force the application decoder: resp, domain or zmtp1.
    #[arg(short = 'T', value_name = "TYPE")]
    packet_type: Option<String>,
    /// Under each packet, the TCP state changes it causes on each side and
    /// Wireshark's analysis flags (retransmission, dup ACK, zero window ...).
    #[arg(long, conflicts_with_all = ["simple", "json"])]
    explain: bool,
    /// The view people draw by hand: one line per TCP packet with direction,
    /// flags, relative seq/ack, window, length and both sides' states.
    #[arg(long, conflicts_with = "json")]
    simple: bool,
    /// JSON Lines: one object per TCP packet with states, transitions and analysis flags.
    #[arg(long)]
    json: bool,
}

enum Mode {
    Print,
    Explain,
    Json,
    Simple,
    CountOnly,
}

/// Turns frames into output lines in one growing buffer; the caller decides
/// when the buffer goes to stdout.
pub struct Sink {
    printer: Printer,
    table: FlowTable,
    mode: Mode,
    nano: bool,
    first_ts: Option<tcpscope_track::Ts>,
    /// Packets taken so far.
    pub taken: u64,
    /// Output not yet written.
    pub buf: Vec<u8>,
}

/// Parse a filter expression up front, so a bad one is reported before any
/// output: the message, the expression, and a caret under the offending token.
pub fn check_expression(expression: &str) -> Result<(), ExitCode> {
    match tcpscope_filter::parse::parse(expression) {
        Ok(_) => Ok(()),
        Err(e) => {
            eprintln!(
                "tcpscope: bad filter expression: {e}\n  {expression}\n  {}^",
                " ".repeat(e.column)
            );
            Err(ExitCode::from(1))
        }
    }
}

/// A sink for these flags, or the usage error already reported.
pub fn sink_or_usage(args: &PrintArgs, count_only: bool) -> Result<Sink, ExitCode> {
    Sink::new(args, count_only).map_err(|e| {
        eprintln!("tcpscope: {e}");
        ExitCode::from(2)
    })
}

impl Sink {
    /// A sink for these flags; `count_only` counts without printing.
    pub fn new(args: &PrintArgs, count_only: bool) -> Result<Sink, String> {
        let packettype = match args.packet_type.as_deref() {
            None => None,
            Some("resp") => Some(PacketType::Resp),
            Some("domain") => Some(PacketType::Domain),
            Some("zmtp1") => Some(PacketType::Zmtp1),
            Some(other) => {
                return Err(format!(
                    "unknown packet type '{other}' for -T (known: resp, domain, zmtp1)"
                ))
            }
        };
        let opts = Options {
            vflag: args.verbose,
            eflag: args.link_header,
            qflag: args.quick,
            absolute_seq: args.absolute,
            tflag: args.time,
            packet_number: args.number,
            xflag: args.hex,
            big_xflag: args.hex_ascii,
            aflag: args.ascii,
            no_checksum: args.no_checksum,
            nano: args.nano,
            packettype,
        };
        let _ = args.numeric;
        let mode = if count_only {
            Mode::CountOnly
        } else if args.explain {
            Mode::Explain
        } else if args.json {
            Mode::Json
        } else if args.simple {
            Mode::Simple
        } else {
            Mode::Print
        };
        let mut buf = Vec::with_capacity(1 << 17);
        if matches!(mode, Mode::Simple) {
            buf.extend_from_slice(simple_header().as_bytes());
            buf.push(b'\n');
        }
        Ok(Sink {
            printer: Printer::new(opts),
            table: FlowTable::new(),
            mode,
            nano: args.nano,
            first_ts: None,
            taken: 0,
            buf,
        })
    }

    /// Take one frame that passed the filter.
    pub fn packet(&mut self, frame: &Frame<'_>) {
        self.taken += 1;
        match self.mode {
            Mode::CountOnly => {}
            Mode::Print => self.printer.print(frame, &mut self.buf),
            Mode::Explain | Mode::Json | Mode::Simple => {
                let Some(seg) = segment::extract(frame, self.nano) else {
                    return;
                };
                let obs = self.table.observe(&seg);
                let conn = self.table.conn_of(&seg).expect("just observed");
                match self.mode {
                    Mode::Explain => {
                        self.printer.print(frame, &mut self.buf);
                        if let Some(line) = explain_line(&obs) {
                            self.buf.extend_from_slice(line.as_bytes());
                            self.buf.push(b'\n');
                        }
                    }
                    Mode::Json => {
                        self.buf.extend_from_slice(
                            packet_json(self.taken, &seg, &obs, conn).as_bytes(),
                        );
                        self.buf.push(b'\n');
                    }
                    _ => {
                        let t0 = *self.first_ts.get_or_insert(seg.ts);
                        self.buf.extend_from_slice(
                            simple_line(self.taken, seg.ts.since(t0), &seg, &obs, conn).as_bytes(),
                        );
                        self.buf.push(b'\n');
                    }
                }
            }
        }
    }

    /// At the end: `--count`'s line.
    pub fn finish(&mut self) {
        if matches!(self.mode, Mode::CountOnly) {
            let n = self.taken;
            self.buf.extend_from_slice(
                format!("{n} packet{}\n", if n == 1 { "" } else { "s" }).as_bytes(),
            );
        }
    }

    /// Write the buffer out if it holds at least `at_least` bytes. An error
    /// is a closed pipe (`| head`): the caller stops quietly.
    pub fn drain(&mut self, out: &mut impl Write, at_least: usize) -> io::Result<()> {
        if !self.buf.is_empty() && self.buf.len() >= at_least {
            out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

//! The output flags shared by `read` and `capture`: tcpdump's printing
//! flags, and which of the report crate's outputs they choose.

use std::process::ExitCode;

use clap::{ArgAction, Args};
use tcpscope_print::{Options, PacketType};
use tcpscope_report::diagnose::Diagnose;
use tcpscope_report::explain::Explain;
use tcpscope_report::packet_json::PacketJson;
use tcpscope_report::simple::Simple;
use tcpscope_report::tcpdump::{Count, Tcpdump};
use tcpscope_report::{Output, Pipeline};

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
    /// Instead of the packets, the findings when the capture ends (Ctrl-C,
    /// -c): resets by cause, refusals, timeouts, stalls, with examples and
    /// the fix, as `tcpscope diagnose` gives them (with --json: JSON Lines).
    #[arg(long, conflicts_with_all = ["explain", "simple"])]
    diagnose: bool,
}

impl PrintArgs {
    /// The flag that chooses a view of the packets (`--explain`, `--simple`,
    /// `--json`, `--diagnose`), if one was given.
    pub fn view_flag(&self) -> Option<&'static str> {
        if self.explain {
            Some("--explain")
        } else if self.simple {
            Some("--simple")
        } else if self.json {
            Some("--json")
        } else if self.diagnose {
            Some("--diagnose")
        } else {
            None
        }
    }

    /// Whether `--json` was given.
    pub fn json(&self) -> bool {
        self.json
    }
}

/// Parse a filter expression up front, so a bad one is reported before any
/// output: the message, the expression, and a caret under the offending token.
pub fn check_expression(expression: &str) -> Result<(), ExitCode> {
    match tcpscope_filter::parse::parse(expression) {
        Ok(_) => Ok(()),
        Err(e) => {
            let (shown, column) = window(expression, e.column);
            eprintln!(
                "tcpscope: bad filter expression: {e}\n  {shown}\n  {}^",
                " ".repeat(column)
            );
            Err(ExitCode::from(1))
        }
    }
}

/// At most 60 characters of `expression` either side of `column` (with
/// `...` where it was cut), and the column within what is shown.
fn window(expression: &str, column: usize) -> (String, usize) {
    let chars: Vec<char> = expression.chars().collect();
    let at = expression
        .get(..column.min(expression.len()))
        .map_or(chars.len(), |p| p.chars().count());
    let (from, to) = (at.saturating_sub(60), (at + 60).min(chars.len()));
    let mut shown: String = chars[from..to].iter().collect();
    let mut col = at - from;
    if from > 0 {
        shown.insert_str(0, "...");
        col += 3;
    }
    if to < chars.len() {
        shown.push_str("...");
    }
    (shown, col)
}

/// The pipeline these flags ask for (`count_only`: count without
/// printing), or the usage error already reported.
pub fn pipeline_or_usage(
    args: &PrintArgs,
    count_only: bool,
    expression: &str,
) -> Result<Pipeline<Box<dyn Output + Send>>, ExitCode> {
    output(args, count_only)
        .map(|o| Pipeline::new(expression, o, args.nano))
        .map_err(|e| {
            eprintln!("tcpscope: {e}");
            ExitCode::from(2)
        })
}

fn output(args: &PrintArgs, count_only: bool) -> Result<Box<dyn Output + Send>, String> {
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
    Ok(if count_only {
        Box::new(Count::default())
    } else if args.diagnose {
        Box::new(Diagnose::new(args.json, "the capture"))
    } else if args.explain {
        Box::new(Explain::new(opts))
    } else if args.json {
        Box::new(PacketJson::default())
    } else if args.simple {
        Box::new(Simple::default())
    } else {
        Box::new(Tcpdump::new(opts))
    })
}

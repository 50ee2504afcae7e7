//! `tcpscope read`: print a capture file with tcpdump's flags and output.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Args};
use tcpscope_capture::{linktype_name, FrameSource, Precision, ReadError, Reader};
use tcpscope_print::explain::{explain_line, packet_json, simple_header, simple_line};
use tcpscope_print::{Options, PacketType, Printer};
use tcpscope_track::{segment, FlowTable};

/// Flags are tcpdump's, with the same letters and meanings.
#[derive(Args, Debug)]
#[command(
    after_help = "Output is byte-identical to tcpdump 4.99.3 for TCP/IP traffic. \
Names are never resolved (as with tcpdump -n).\n\nExit status: 0 on success, \
1 if the file cannot be read or is corrupt or truncated (every complete record \
before the damage is printed first), 2 on a usage error."
)]
pub struct ReadArgs {
    /// Capture file to read (pcap or pcapng); "-" reads standard input.
    #[arg(short = 'r', value_name = "FILE")]
    file: PathBuf,
    /// Stop after printing COUNT packets.
    #[arg(short = 'c', value_name = "COUNT")]
    count: Option<u64>,
    /// Numeric output (always on; accepted for compatibility, -nn too).
    #[arg(short = 'n', action = ArgAction::Count)]
    numeric: u8,
    /// Print absolute TCP sequence numbers instead of relative ones.
    #[arg(short = 'S')]
    absolute: bool,
    /// Verbose: IP header fields, checksums, more application detail (-vv, -vvv).
    #[arg(short = 'v', action = ArgAction::Count)]
    verbose: u8,
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
    nano: bool,
    /// Force the application decoder: resp, domain or zmtp1.
    #[arg(short = 'T', value_name = "TYPE")]
    packet_type: Option<String>,
    /// Only count the packets, as tcpdump --count does.
    #[arg(long = "count")]
    count_only: bool,
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
    /// Print the compiled filter program (classic BPF) and exit, as tcpdump -d does.
    #[arg(short = 'd')]
    dump_filter: bool,
    /// Filter expression (pcap-filter syntax), as tcpdump takes it.
    #[arg(value_name = "EXPRESSION", trailing_var_arg = true)]
    expression: Vec<String>,
}

pub fn run(args: ReadArgs) -> ExitCode {
    let name = args.file.display().to_string();
    let expression = args.expression.join(" ");
    // Parse once up front, so a bad expression is reported before any output.
    if let Err(e) = tcpscope_filter::parse::parse(&expression) {
        eprintln!(
            "tcpscope: bad filter expression: {e}\n  {expression}\n  {}^",
            " ".repeat(e.column)
        );
        return ExitCode::from(1);
    }
    let packettype = match args.packet_type.as_deref() {
        None => None,
        Some("resp") => Some(PacketType::Resp),
        Some("domain") => Some(PacketType::Domain),
        Some("zmtp1") => Some(PacketType::Zmtp1),
        Some(other) => {
            eprintln!(
                "tcpscope: unknown packet type '{other}' for -T (known: resp, domain, zmtp1)"
            );
            return ExitCode::from(2);
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
    let precision = if args.nano {
        Precision::Nano
    } else {
        Precision::Micro
    };
    let opened = if name == "-" {
        Reader::from_stream(Box::new(io::stdin()), precision)
    } else {
        Reader::open(&args.file, precision)
    };
    let reader = match opened {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tcpscope: {name}: {}", describe(&e));
            return ExitCode::from(1);
        }
    };
    if let Some(lt) = reader.linktype() {
        let (lname, ldesc) = linktype_name(lt);
        let mut line = format!("reading from file {name}, link-type {lname} ({ldesc})");
        if let Some(s) = reader.snaplen() {
            line.push_str(&format!(", snapshot length {s}"));
        }
        eprintln!("{line}");
        if lt == tcpscope_capture::LinkType::LINUX_SLL2 {
            // Interface names are looked up on this host, as tcpdump does.
            eprintln!("Warning: interface names might be incorrect");
        }
    }

    if args.dump_filter {
        let lt = reader.linktype().unwrap_or(1);
        return match tcpscope_filter::Filter::new(&expression, lt) {
            Ok(f) => {
                print!("{}", tcpscope_filter::bpf::dump(f.program()));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("tcpscope: bad filter expression: {e}");
                ExitCode::from(1)
            }
        };
    }
    let mut filters: Vec<(u32, tcpscope_filter::Filter)> = Vec::new();
    let filtering = !expression.trim().is_empty();
    let mut reader = FrameSource::new(reader);
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut printer = Printer::new(opts);
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 17);
    let mut printed = 0u64;
    let limit = args.count.unwrap_or(u64::MAX);
    let mut failure = None;
    let tracking = args.explain || args.simple || args.json;
    let mut table = FlowTable::new();
    let mut first_ts = None;
    if args.simple {
        buf.extend_from_slice(simple_header().as_bytes());
        buf.push(b'\n');
    }
    while printed < limit {
        match reader.next_frame() {
            Ok(Some(frame)) => {
                if filtering {
                    let f = match filters.iter().find(|(lt, _)| *lt == frame.linktype) {
                        Some((_, f)) => f,
                        None => match tcpscope_filter::Filter::new(&expression, frame.linktype) {
                            Ok(f) => {
                                filters.push((frame.linktype, f));
                                &filters.last().expect("just pushed").1
                            }
                            Err(e) => {
                                eprintln!("tcpscope: bad filter expression: {e}");
                                return ExitCode::from(1);
                            }
                        },
                    };
                    if !f.matches(frame.data, frame.len) {
                        continue;
                    }
                }
                printed += 1;
                if tracking {
                    let Some(seg) = segment::extract(&frame, args.nano) else {
                        continue;
                    };
                    let obs = table.observe(&seg);
                    let conn = table.conn_of(&seg).expect("just observed");
                    if args.explain {
                        printer.print(&frame, &mut buf);
                        if let Some(line) = explain_line(&obs) {
                            buf.extend_from_slice(line.as_bytes());
                            buf.push(b'\n');
                        }
                    } else if args.json {
                        buf.extend_from_slice(packet_json(printed, &seg, &obs, conn).as_bytes());
                        buf.push(b'\n');
                    } else {
                        let t0 = *first_ts.get_or_insert(seg.ts);
                        buf.extend_from_slice(
                            simple_line(printed, seg.ts.since(t0), &seg, &obs, conn).as_bytes(),
                        );
                        buf.push(b'\n');
                    }
                    if buf.len() >= 1 << 16 {
                        if write_out(&mut out, &buf).is_err() {
                            return ExitCode::SUCCESS;
                        }
                        buf.clear();
                    }
                } else if !args.count_only {
                    printer.print(&frame, &mut buf);
                    if buf.len() >= 1 << 16 {
                        if write_out(&mut out, &buf).is_err() {
                            return ExitCode::SUCCESS;
                        }
                        buf.clear();
                    }
                }
            }
            Ok(None) => break,
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    if args.count_only {
        buf.extend_from_slice(
            format!("{printed} packet{}\n", if printed == 1 { "" } else { "s" }).as_bytes(),
        );
    }
    if write_out(&mut out, &buf).is_err() || out.flush().is_err() {
        return ExitCode::SUCCESS;
    }
    let over = reader.records_over_snaplen();
    if over > 0 {
        eprintln!(
            "tcpscope: {name}: warning: {over} record(s) claimed more bytes than the file's snapshot length; printed up to the snapshot length"
        );
    }
    match failure {
        None => ExitCode::SUCCESS,
        Some(e) => {
            eprintln!(
                "tcpscope: {name}: {} (after {printed} complete packets)",
                describe(&e)
            );
            ExitCode::from(1)
        }
    }
}

/// A write error on stdout is a closed pipe (`| head`): stop quietly.
fn write_out(out: &mut impl Write, buf: &[u8]) -> io::Result<()> {
    out.write_all(buf)
}

pub(crate) fn describe(e: &ReadError) -> String {
    match e {
        ReadError::Io(io) => match io.kind() {
            io::ErrorKind::NotFound => "No such file or directory".to_string(),
            io::ErrorKind::PermissionDenied => "Permission denied".to_string(),
            _ => io.to_string(),
        },
        other => other.to_string(),
    }
}

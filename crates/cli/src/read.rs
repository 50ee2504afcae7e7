//! `tcpscope read`: print a capture file with tcpdump's flags and output.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tcpscope_capture::{linktype_name, FrameSource, Precision, ReadError, Reader};

use tcpscope_report::RunError;

use crate::sink::{check_expression, pipeline_or_usage, PrintArgs};

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
    /// Only count the packets, as tcpdump --count does.
    #[arg(long = "count")]
    count_only: bool,
    /// Print the compiled filter program (classic BPF) and exit, as tcpdump -d does.
    #[arg(short = 'd')]
    dump_filter: bool,
    #[command(flatten)]
    print: PrintArgs,
    /// Filter expression (pcap-filter syntax), as tcpdump takes it.
    #[arg(value_name = "EXPRESSION")]
    expression: Vec<String>,
}

pub fn run(args: ReadArgs) -> ExitCode {
    let name = args.file.display().to_string();
    let expression = args.expression.join(" ");
    // Parse once up front, so a bad expression is reported before any output.
    if let Err(code) = check_expression(&expression) {
        return code;
    }
    let mut pipeline = match pipeline_or_usage(&args.print, args.count_only, &expression) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let precision = if args.print.nano {
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
    let mut reader = FrameSource::new(reader);
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let run = pipeline.run(&mut reader, &mut out, args.count.unwrap_or(u64::MAX));
    if run.closed {
        return ExitCode::SUCCESS;
    }
    let printed = run.taken;
    let over = reader.records_over_snaplen();
    if over > 0 {
        eprintln!(
            "tcpscope: {name}: warning: {over} record(s) claimed more bytes than the file's snapshot length; printed up to the snapshot length"
        );
    }
    match run.error {
        None => ExitCode::SUCCESS,
        Some(RunError::Read(e)) => {
            eprintln!(
                "tcpscope: {name}: {} (after {printed} complete packets)",
                describe(&e)
            );
            ExitCode::from(1)
        }
        Some(e) => {
            eprintln!("tcpscope: {e}");
            ExitCode::from(1)
        }
    }
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

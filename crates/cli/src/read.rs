//! `tcpscope read`: print a capture file with tcpdump's flags and output.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tcpscope_capture::{
    linktype_name, FrameSource, Precision, ReadError, Reader, WriteFormat, Writer,
};

use tcpscope_report::annotate::Annotator;
use tcpscope_report::{Output, Pipeline, RunError};

use crate::inputs::{self, Capture, InputArgs, Plan};
use crate::sink::{check_expression, pipeline_or_usage, PrintArgs};

/// Flags are tcpdump's, with the same letters and meanings.
#[derive(Args, Debug)]
#[command(
    after_help = "Output is byte-identical to tcpdump 4.99.3 for TCP/IP traffic. \
Names are never resolved (as with tcpdump -n).\n\nSeveral captures: repeat -r or give a quoted \
glob; a rotated set is read as one stream, other captures in parallel (-j) and printed in the order \
given (-w and -d take one file). --format parquet -o FILE writes the TCP packets as records \
(docs/parquet.md).\n\nExit status: 0 on success, \
1 if the file cannot be read or is corrupt or truncated (every complete record \
before the damage is printed first), 2 on a usage error."
)]
pub struct ReadArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Stop after printing COUNT packets.
    #[arg(short = 'c', value_name = "COUNT")]
    count: Option<u64>,
    /// Only count the packets, as tcpdump --count does.
    #[arg(long = "count")]
    count_only: bool,
    /// Print the compiled filter program (classic BPF) and exit, as tcpdump -d does.
    #[arg(short = 'd')]
    dump_filter: bool,
    /// Write the packets that pass the filter to FILE (pcap; pcapng with
    /// --pcapng) instead of printing them, as `tcpdump -r IN -w OUT EXPR`
    /// does; "-" is standard output.
    #[arg(short = 'w', value_name = "FILE")]
    write: Option<PathBuf>,
    /// With -w: write pcapng instead of pcap.
    #[arg(long, requires = "write")]
    pcapng: bool,
    /// With -w: print the packets as well.
    #[arg(long, requires = "write")]
    print: bool,
    /// With -w: give each packet a pcapng comment with tcpscope's verdicts
    /// (both sides' transitions, analysis flags, an RST's cause), which
    /// Wireshark shows and `tshark -e frame.comment` prints. Writes pcapng.
    #[arg(long, requires = "write")]
    annotate: bool,
    #[command(flatten)]
    print_args: PrintArgs,
    /// Write the TCP packets as Parquet records (states, transitions,
    /// analysis flags, RST cause; schema in docs/parquet.md) to -o.
    #[cfg(feature = "parquet")]
    #[arg(long, value_name = "FORMAT", value_parser = ["parquet"])]
    format: Option<String>,
    /// With --format parquet: the file (with --partition-by, a directory).
    #[cfg(feature = "parquet")]
    #[arg(short = 'o', value_name = "FILE|DIR", requires = "format")]
    output: Option<PathBuf>,
    /// With --format parquet: a Hive-partitioned directory, by these keys
    /// (date: each packet's UTC day; host).
    #[cfg(feature = "parquet")]
    #[arg(long, value_name = "KEYS", value_delimiter = ',', requires = "format")]
    partition_by: Vec<String>,
    /// Filter expression (pcap-filter syntax), as tcpdump takes it.
    #[arg(value_name = "EXPRESSION")]
    expression: Vec<String>,
}

pub fn run(args: ReadArgs) -> ExitCode {
    #[cfg(feature = "parquet")]
    if args.format.is_some() {
        return parquet(&args);
    }
    let single = match args.input.files.as_slice() {
        [one] => {
            !args.input.one_capture
                && (one.exists() || !one.to_string_lossy().contains(['*', '?', '[']))
        }
        _ => false,
    };
    if !single {
        return several(&args);
    }
    let file = args.input.files[0].clone();
    let name = file.display().to_string();
    if args.write.is_some() && !args.print && !args.count_only {
        if let Some(f) = args.print_args.view_flag() {
            eprintln!(
                "tcpscope read: with -w the packets go to the file, so {f} would print nothing: add --print to print them as well"
            );
            return ExitCode::from(2);
        }
    }
    if file.is_dir() {
        eprintln!("tcpscope: {name}: is a directory, not a capture file");
        return ExitCode::from(1);
    }
    let expression = args.expression.join(" ");
    // Parse once up front, so a bad expression is reported before any output.
    if let Err(code) = check_expression(&expression) {
        return code;
    }
    let mut pipeline = match pipeline_or_usage(&args.print_args, args.count_only, &expression) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let precision = if args.print_args.nano {
        Precision::Nano
    } else {
        Precision::Micro
    };
    let opened = if name == "-" {
        Reader::stdin(precision)
    } else {
        Reader::open(&file, precision)
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
    // An expression that no packet of this link type can pass ends here,
    // as tcpdump's does.
    if !expression.trim().is_empty() {
        if let Some(lt) = reader.linktype() {
            match tcpscope_filter::Filter::new(&expression, lt) {
                Ok(f) if rejects_all(f.program()) => {
                    eprintln!("tcpscope: expression rejects all packets");
                    return ExitCode::from(1);
                }
                Ok(_) => {}
                Err(e) => {
                    eprintln!("tcpscope: bad filter expression: {e}");
                    return ExitCode::from(1);
                }
            }
        }
    }
    pipeline.output_mut().set_source(&name);
    let header = (reader.linktype(), reader.snaplen());
    let mut reader = FrameSource::new(reader);
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if let Some(path) = &args.write {
        return write_subset(
            &args,
            path,
            header,
            &expression,
            &mut reader,
            &mut pipeline,
            &mut out,
        );
    }
    // Progress on stderr while printing to a file or a pipe (on a terminal
    // the lines themselves show it).
    let mut progress = crate::progress::Progress::new(crate::progress::Kind::Bytes, None);
    let show = !io::IsTerminal::is_terminal(&io::stdout());
    let run = pipeline.run_with_progress(
        &mut reader,
        &mut out,
        args.count.unwrap_or(u64::MAX),
        &mut |src, n| {
            if show {
                progress.set_total(src.position().1);
                progress.update(src.position().0, || format!("{n} packets"));
            }
        },
    );
    progress.finish();
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

/// Whether every return a compiled filter can reach is `ret #0`, so that
/// no packet can pass (tcpdump's optimizer reduces such a program to one
/// `ret #0` and says "expression rejects all packets").
pub(crate) fn rejects_all(prog: &[tcpscope_filter::Insn]) -> bool {
    let mut seen = vec![false; prog.len()];
    let mut todo = vec![0usize];
    while let Some(pc) = todo.pop() {
        let Some(i) = prog.get(pc) else {
            return false;
        };
        if std::mem::replace(&mut seen[pc], true) {
            continue;
        }
        match i.code & 0x07 {
            // BPF_RET: a constant 0 drops; anything else may accept.
            0x06 => {
                if i.code != 0x06 || i.k != 0 {
                    return false;
                }
            }
            // BPF_JMP: BPF_JA goes to pc + 1 + k, the others to jt or jf.
            0x05 if i.code == 0x05 => todo.push(pc + 1 + i.k as usize),
            0x05 => {
                todo.push(pc + 1 + i.jt as usize);
                todo.push(pc + 1 + i.jf as usize);
            }
            _ => todo.push(pc + 1),
        }
    }
    true
}

/// `read -r IN -w OUT [EXPRESSION]`: the records that pass, written as
/// read (pcap records keep their bytes), and printed too with --print.
fn write_subset(
    args: &ReadArgs,
    path: &std::path::Path,
    (file_linktype, file_snaplen): (Option<u32>, Option<u32>),
    expression: &str,
    reader: &mut FrameSource,
    pipeline: &mut Pipeline<Box<dyn Output + Send>>,
    out: &mut impl Write,
) -> ExitCode {
    let name = args.input.files[0].display().to_string();
    let precision = if args.print_args.nano {
        Precision::Nano
    } else {
        Precision::Micro
    };
    let format = if args.pcapng || args.annotate {
        WriteFormat::Pcapng
    } else {
        WriteFormat::Pcap
    };
    let limit = args.count.unwrap_or(u64::MAX);
    let mut annotator = args
        .annotate
        .then(|| Pipeline::new("", Annotator::default(), args.print_args.nano));
    let mut writer: Option<(u32, Writer)> = None;
    let mut filters: Vec<(u32, tcpscope_filter::Filter)> = Vec::new();
    let mut taken = 0u64;
    let mut failure: Option<String> = None;
    while taken < limit {
        let frame = match reader.next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                failure = Some(format!(
                    "{name}: {} (after {taken} packets written)",
                    describe(&e)
                ));
                break;
            }
        };
        if !expression.trim().is_empty() {
            let i = match filters.iter().position(|(lt, _)| *lt == frame.linktype) {
                Some(i) => i,
                None => match tcpscope_filter::Filter::new(expression, frame.linktype) {
                    Ok(f) => {
                        filters.push((frame.linktype, f));
                        filters.len() - 1
                    }
                    Err(e) => {
                        failure = Some(format!("bad filter expression: {e}"));
                        break;
                    }
                },
            };
            if !filters[i].1.matches(frame.data, frame.len) {
                continue;
            }
        }
        if writer.is_none() {
            let snaplen = file_snaplen.unwrap_or(262_144);
            match Writer::create(path, format, frame.linktype, snaplen, precision, "") {
                Ok(w) => writer = Some((frame.linktype, w)),
                Err(e) => {
                    eprintln!("tcpscope: {}: {e}", path.display());
                    return ExitCode::from(1);
                }
            }
        }
        let Some((lt, w)) = writer.as_mut() else {
            break;
        };
        if *lt != frame.linktype && format == WriteFormat::Pcap {
            failure = Some(format!(
                "{name}: packets of a second link type ({}) cannot go into one pcap file: use --pcapng",
                frame.linktype
            ));
            break;
        }
        let written = match annotator.as_mut() {
            Some(a) => {
                a.output_mut().clear();
                a.push_unfiltered(&frame);
                w.write_commented(&frame, Some(a.output().comment()))
            }
            None => w.write(&frame),
        };
        if let Err(e) = written {
            failure = Some(format!("{}: {e}", path.display()));
            break;
        }
        taken += 1;
        if args.print {
            pipeline.push_unfiltered(&frame);
            if pipeline.drain(out, 1 << 16).is_err() {
                break;
            }
        }
    }
    // A file even when nothing passed, with the input's link type.
    if writer.is_none() {
        let lt = file_linktype.unwrap_or(1);
        match Writer::create(
            path,
            format,
            lt,
            file_snaplen.unwrap_or(262_144),
            precision,
            "",
        ) {
            Ok(w) => writer = Some((lt, w)),
            Err(e) => {
                eprintln!("tcpscope: {}: {e}", path.display());
                return ExitCode::from(1);
            }
        }
    }
    if let Some((_, w)) = writer.as_mut() {
        if let Err(e) = w.flush() {
            failure.get_or_insert(format!("{}: {e}", path.display()));
        }
    }
    if args.print {
        let _ = pipeline.finish();
        let _ = pipeline.drain(out, 0);
        let _ = out.flush();
    }
    match failure {
        None => ExitCode::SUCCESS,
        Some(e) => {
            eprintln!("tcpscope: {e}");
            ExitCode::from(1)
        }
    }
}

/// Several captures (or a rotated set): each read as one stream, in
/// parallel, printed in the order given.
fn several(args: &ReadArgs) -> ExitCode {
    if args.write.is_some() || args.dump_filter {
        eprintln!("tcpscope read: -w and -d take one -r file");
        return ExitCode::from(2);
    }
    let expression = args.expression.join(" ");
    if let Err(code) = check_expression(&expression) {
        return code;
    }
    // The flags are checked once, before any file is read.
    if let Err(code) = pipeline_or_usage(&args.print_args, args.count_only, &expression) {
        return code;
    }
    let Some(captures) = captures_or_report(&args.input) else {
        return ExitCode::from(1);
    };
    let plan = Plan {
        limit: args.count.unwrap_or(u64::MAX),
        nano: args.print_args.nano,
        header_lines: true,
        ..Plan::default()
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let (mut failed, mut closed) = (false, false);
    let mut write_error = None;
    inputs::read_all(
        &captures,
        &args.input,
        plan,
        &|_| {
            pipeline_or_usage(&args.print_args, args.count_only, &expression)
                .unwrap_or_else(|_| unreachable!("checked above"))
        },
        &mut |_, r| {
            if closed {
                return;
            }
            for m in &r.messages {
                eprintln!("{m}");
            }
            failed |= r.failed;
            if let Err(e) = out.write_all(&r.bytes).and_then(|_| out.flush()) {
                closed = true;
                write_error = crate::out::failed("read", Err(e));
            }
        },
        &|n| format!("after {n} complete packets"),
    );
    if let Some(code) = write_error {
        return code;
    }
    if failed && !closed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The captures `input` names, its notes on stderr; `None` after saying
/// why there are none.
pub(crate) fn captures_or_report(input: &InputArgs) -> Option<Vec<Capture>> {
    match input.captures() {
        Ok((captures, notes)) => {
            for n in notes {
                eprintln!("tcpscope: {n}");
            }
            Some(captures)
        }
        Err(e) => {
            eprintln!("tcpscope: {e}");
            None
        }
    }
}

/// `read --format parquet -o OUT`: the TCP packets as records.
#[cfg(feature = "parquet")]
fn parquet(args: &ReadArgs) -> ExitCode {
    use tcpscope_report::columnar::{packets_schema, PacketColumns, Sink};
    let Some(output) = &args.output else {
        eprintln!("tcpscope read: --format parquet writes a file: give it with -o FILE (or -o DIR with --partition-by)");
        return ExitCode::from(2);
    };
    if args.write.is_some() || args.dump_filter || args.count_only {
        eprintln!("tcpscope read: --format parquet does not go with -w, -d or --count");
        return ExitCode::from(2);
    }
    let expression = args.expression.join(" ");
    if let Err(code) = check_expression(&expression) {
        return code;
    }
    let Some(captures) = captures_or_report(&args.input) else {
        return ExitCode::from(1);
    };
    let target = match crate::track_cmds::parquet_target(
        &Some(output.clone()),
        &args.partition_by,
        &captures,
    ) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("tcpscope read: {e}");
            return ExitCode::from(2);
        }
    };
    let plan = Plan {
        limit: args.count.unwrap_or(u64::MAX),
        nano: args.print_args.nano,
        header_lines: false,
        ..Plan::default()
    };
    let mut sink = Sink::new(target, packets_schema());
    let (mut failed, mut rows) = (false, 0usize);
    let mut write_error = None;
    inputs::read_all(
        &captures,
        &args.input,
        plan,
        &|c| {
            let first = c.pieces.first().map_or("-", |p| p.name.as_str());
            Pipeline::new(
                &expression,
                PacketColumns::new(first, c.host.as_deref()),
                args.print_args.nano,
            )
        },
        &mut |_, mut r| {
            for m in &r.messages {
                eprintln!("{m}");
            }
            failed |= r.failed;
            let host = r.output.host().map(str::to_string);
            for (date, batch) in r.output.take() {
                rows += batch.num_rows();
                if write_error.is_none() {
                    if let Err(e) = sink.write(&batch, &date, host.as_deref()) {
                        write_error = Some(e);
                    }
                }
            }
        },
        &|n| format!("after {n} complete packets"),
    );
    let closed = sink.close();
    match write_error.map_or(closed, Err) {
        Ok(files) => {
            eprintln!(
                "tcpscope read: wrote {rows} TCP packet record(s) to {} file(s) under {}",
                files.len(),
                output.display()
            );
            if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("tcpscope read: {e}");
            ExitCode::from(1)
        }
    }
}

pub(crate) fn describe(e: &ReadError) -> String {
    match e {
        ReadError::Io(io) => match io.kind() {
            io::ErrorKind::NotFound => "No such file or directory".to_string(),
            io::ErrorKind::PermissionDenied => "Permission denied".to_string(),
            _ if io.raw_os_error() == Some(libc::EBADF) => {
                "Bad file descriptor (standard input is closed)".to_string()
            }
            _ => io.to_string(),
        },
        other => other.to_string(),
    }
}

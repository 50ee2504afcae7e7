//! `tcpscope capture`: live capture with tcpdump's flags, without libpcap.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Args;
use tcpscope_capture::live::{self, Direction, Live, LiveOptions, LiveStats, SockFilter};
use tcpscope_capture::privileges::{
    drop_kept_capability, drop_privileges, drop_privileges_keeping_dac, user_exists,
};
use tcpscope_capture::rotate::{file_name, Rotation};
use tcpscope_capture::{linktype_name, Precision, WriteFormat, Writer};

use crate::sink::{check_expression, pipeline_or_usage, PrintArgs};

/// Flags are tcpdump's, with the same letters and meanings.
#[derive(Args, Debug)]
#[command(
    after_help = "Needs CAP_NET_RAW (root or sudo). Ctrl-C (SIGINT) or SIGTERM \
stops the capture: the file named by -w is flushed and closed with every packet \
captured so far, and tcpdump's three counter lines are printed on stderr; SIGUSR1 \
prints them without stopping.\n\nExit status: 0 on success, 1 if the capture cannot \
start or the file cannot be written, 2 on a usage error."
)]
pub struct CaptureArgs {
    /// Interface to capture on; "any" for all of them. Default: the first
    /// interface that is up and not loopback, else "any" (as LINUX_SLL), as
    /// tcpdump picks it.
    #[arg(short = 'i', value_name = "IFACE")]
    interface: Option<String>,
    /// List the interfaces that can be captured on, and exit.
    #[arg(short = 'D')]
    list: bool,
    /// Write the packets to FILE (pcap; pcapng with --pcapng) instead of
    /// printing them; "-" writes to standard output (for `| tcpscope read -r -`
    /// or `| tshark -r -`). As root with -Z, the first file is created with
    /// CAP_DAC_OVERRIDE kept, as tcpdump does, and belongs to the -Z user.
    #[arg(short = 'w', value_name = "FILE")]
    write: Option<PathBuf>,
    /// With -w: print the packets as well as writing them, as tcpdump --print does.
    #[arg(long)]
    print: bool,
    /// With -w: give each packet a pcapng comment with tcpscope's verdicts
    /// (both sides' transitions, analysis flags, an RST's cause) for
    /// Wireshark and `tshark -e frame.comment`. Writes pcapng.
    #[arg(long, requires = "write")]
    annotate: bool,
    /// Do not put the interface into promiscuous mode. Accepted for tcpdump's
    /// habit: tcpscope never sets promiscuous mode (it sees what the host
    /// sends and receives, and what the interface passes up).
    #[arg(short = 'p', long = "no-promiscuous-mode")]
    no_promiscuous: bool,
    /// Write pcapng instead of pcap.
    #[arg(long)]
    pcapng: bool,
    /// Before writing a packet, start a new file when the current one holds
    /// more than SIZE million bytes (file, file1, file2 ...).
    #[arg(short = 'C', value_name = "SIZE")]
    file_size: Option<u64>,
    /// With -C: keep at most N files, reusing names file0 .. fileN-1 in a ring.
    /// With -G: stop after N files.
    #[arg(short = 'W', value_name = "N")]
    file_count: Option<u32>,
    /// Start a new file every SECONDS; -w FILE is a strftime(3) pattern.
    #[arg(short = 'G', value_name = "SECONDS")]
    rotate_seconds: Option<u64>,
    /// With -C or -G: run COMMAND FILE on each file the rotation closes (as
    /// tcpdump does, e.g. -z gzip), with the privileges left after -Z, and
    /// without waiting for it. Also on the last file when -G -W ends the
    /// capture; not on the file open when the capture is interrupted.
    #[arg(short = 'z', value_name = "COMMAND")]
    postrotate: Option<String>,
    /// Bytes kept of each packet (0: 262144).
    #[arg(short = 's', value_name = "SNAPLEN", default_value_t = 262_144)]
    snaplen: u32,
    /// Kernel buffer size in KiB (default 2048, tcpdump's).
    #[arg(short = 'B', value_name = "KiB", default_value_t = 2048)]
    buffer_kib: usize,
    /// Stop after COUNT packets.
    #[arg(short = 'c', value_name = "COUNT")]
    count: Option<u64>,
    /// Hand each packet over at once (1 ms ring timeout instead of 100 ms).
    #[arg(long = "immediate-mode")]
    immediate: bool,
    /// Direction: in, out or inout.
    #[arg(short = 'Q', value_name = "DIR", default_value = "inout")]
    direction: String,
    /// Link type for -i any: LINUX_SLL2 (default) or LINUX_SLL.
    #[arg(short = 'y', value_name = "TYPE")]
    linktype: Option<String>,
    /// Drop root privileges to USER once the socket is open (default:
    /// "tcpdump" when that user exists; "root" keeps them).
    #[arg(short = 'Z', value_name = "USER")]
    user: Option<String>,
    /// With -w: flush the file after every packet.
    #[arg(short = 'U')]
    packet_buffered: bool,
    /// Line-buffered output: write each packet's lines at once (for `| grep`).
    /// Otherwise output is written whenever the ring runs dry, and at once
    /// on a terminal.
    #[arg(short = 'l')]
    line_buffered: bool,
    /// Print the compiled filter program (classic BPF) and exit.
    #[arg(short = 'd')]
    dump_filter: bool,
    /// Only count the packets that pass the filter.
    #[arg(long = "count")]
    count_only: bool,
    #[command(flatten)]
    print_args: PrintArgs,
    /// Filter expression (pcap-filter syntax), as tcpdump takes it.
    #[arg(value_name = "EXPRESSION")]
    expression: Vec<String>,
}

static STOP: AtomicBool = AtomicBool::new(false);
static REPORT: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

extern "C" fn on_report(_: libc::c_int) {
    REPORT.store(true, Ordering::SeqCst);
}

/// Handlers without SA_RESTART, so a waiting poll() returns at once.
fn install_handlers() {
    for (sig, handler) in [
        (libc::SIGINT, on_stop as extern "C" fn(libc::c_int)),
        (libc::SIGTERM, on_stop),
        (libc::SIGUSR1, on_report),
    ] {
        // SAFETY: the handlers only store to atomics.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = 0;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// tcpdump's counter lines.
fn report(captured: u64, st: LiveStats) {
    eprintln!("{captured} packet{} captured", plural(captured));
    eprintln!(
        "{} packet{} received by filter",
        st.received,
        plural(st.received)
    );
    eprintln!(
        "{} packet{} dropped by kernel",
        st.dropped,
        plural(st.dropped)
    );
}

fn list_interfaces(json: bool) -> ExitCode {
    let mut n = 0;
    let mut out = String::new();
    let ifs = live::interfaces();
    let mut line = |name: &str, extra: &str, flags: Vec<&str>| {
        n += 1;
        if json {
            let description = extra.trim().trim_start_matches('(').trim_end_matches(')');
            let v = serde_json::json!({"type": "interface", "index": n, "name": name, "description": (!description.is_empty()).then_some(description), "flags": flags});
            out.push_str(&format!("{v}\n"));
        } else {
            out.push_str(&format!("{n}.{name}{extra} [{}]\n", flags.join(", ")));
        }
    };
    let status = |i: &live::Interface| {
        let mut f = Vec::new();
        if i.up {
            f.push("Up");
        }
        if i.running {
            f.push("Running");
        }
        if i.loopback {
            f.push("Loopback");
        } else if i.up {
            f.push(match i.operstate.as_str() {
                "up" => "Connected",
                "down" => "Disconnected",
                _ => "Status unknown",
            });
        }
        if f.is_empty() {
            f.push("none");
        }
        f
    };
    // tcpdump's order: up interfaces first, "any", then loopback, then the rest.
    for i in ifs.iter().filter(|i| i.up && !i.loopback) {
        line(&i.name, "", status(i));
    }
    line(
        "any",
        " (Pseudo-device that captures on all interfaces)",
        vec!["Up", "Running"],
    );
    for i in ifs.iter().filter(|i| i.loopback) {
        line(&i.name, "", status(i));
    }
    for i in ifs.iter().filter(|i| !i.up && !i.loopback) {
        line(&i.name, "", status(i));
    }
    print!("{out}");
    ExitCode::SUCCESS
}

/// A usage error: the message, exit status 2.
fn usage(msg: &str) -> ExitCode {
    eprintln!("tcpscope capture: {msg}");
    ExitCode::from(2)
}

pub fn capture(args: CaptureArgs) -> ExitCode {
    if args.list {
        if let Some(f) = args.print_args.view_flag().filter(|f| *f != "--json") {
            return usage(&format!("-D lists interfaces; {f} does not apply"));
        }
        return list_interfaces(args.print_args.json());
    }
    let _ = args.no_promiscuous;
    let to_stdout = args.write.as_deref().is_some_and(|w| w.as_os_str() == "-");
    if args.write.is_some() && !args.print && !args.count_only {
        if let Some(f) = args.print_args.view_flag() {
            return usage(&format!(
                "with -w the packets go to the file, so {f} would print nothing: add --print to print them as well"
            ));
        }
    }
    if args.print && args.write.is_none() {
        return usage("--print goes with -w (without -w the packets are printed anyway)");
    }
    if to_stdout && args.print {
        return usage(
            "-w - writes the capture to standard output, so --print cannot print there too",
        );
    }
    if to_stdout && (args.file_size.is_some() || args.rotate_seconds.is_some()) {
        return usage("-C and -G rotate files; they do not apply to -w - (standard output)");
    }
    let expression = args.expression.join(" ");
    if let Err(code) = check_expression(&expression) {
        return code;
    }
    let direction = match args.direction.as_str() {
        "in" => Direction::In,
        "out" => Direction::Out,
        "inout" => Direction::InOut,
        other => {
            eprintln!("tcpscope: -Q takes in, out or inout, not '{other}'");
            return ExitCode::from(2);
        }
    };
    let sll2 = match args.linktype.as_deref() {
        None | Some("LINUX_SLL2") => true,
        Some("LINUX_SLL") => false,
        Some(other) => {
            eprintln!("tcpscope: -y takes LINUX_SLL2 or LINUX_SLL (for -i any), not '{other}'");
            return ExitCode::from(2);
        }
    };
    // The filter runs in the kernel, or below on each frame: the pipeline
    // gets what passed.
    let mut sink = match pipeline_or_usage(&args.print_args, args.count_only, "") {
        Ok(s) => s,
        Err(code) => return code,
    };
    let iface = args
        .interface
        .clone()
        .unwrap_or_else(live::default_interface);
    // tcpdump 4.99.3 falling back to "any" by default (no -i) opens it with
    // LINUX_SLL; an explicit -i any gets LINUX_SLL2.
    let sll2 = sll2 && !(args.interface.is_none() && args.linktype.is_none());
    let linktype = Live::linktype_for(&iface, sll2);
    let filter = if expression.trim().is_empty() {
        None
    } else {
        match tcpscope_filter::Filter::new(&expression, linktype) {
            Ok(f) if !args.dump_filter && crate::read::rejects_all(f.program()) => {
                eprintln!("tcpscope: expression rejects all packets");
                return ExitCode::from(1);
            }
            // The kernel takes at most BPF_MAXINSNS (4096) instructions.
            Ok(f) if !args.dump_filter && f.program().len() > 4096 => {
                eprintln!(
                    "tcpscope: bad filter expression: filter too large for the kernel: {} instructions, at most 4096 (a file can be read with it: capture without it, then `tcpscope read -r FILE EXPRESSION`)",
                    f.program().len()
                );
                return ExitCode::from(1);
            }
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("tcpscope: bad filter expression: {e}");
                return ExitCode::from(1);
            }
        }
    };
    if args.dump_filter {
        let f = match filter {
            Some(f) => f,
            None => tcpscope_filter::Filter::new("", linktype).expect("empty filter compiles"),
        };
        print!("{}", tcpscope_filter::bpf::dump(f.program()));
        return ExitCode::SUCCESS;
    }
    let snaplen = if args.snaplen == 0 {
        262_144
    } else {
        args.snaplen
    };
    // The kernel runs the filter; on "any" only if it can be rewritten for
    // the cooked socket (else it runs here, on each frame).
    let kernel_insns = filter.as_ref().and_then(|f| {
        if iface == "any" {
            tcpscope_filter::bpf::for_cooked_socket(f.program(), sll2)
        } else {
            Some(f.program().to_vec())
        }
    });
    let kernel_prog: Option<Vec<SockFilter>> = kernel_insns.map(|prog| {
        prog.iter()
            .map(|i| SockFilter {
                code: i.code,
                jt: i.jt,
                jf: i.jf,
                // An accepting return keeps at most the snapshot length.
                k: if i.code == 0x06 && i.k != 0 {
                    i.k.min(snaplen)
                } else {
                    i.k
                },
            })
            .collect()
    });
    let precision = if args.print_args.nano {
        Precision::Nano
    } else {
        Precision::Micro
    };
    let opts = LiveOptions {
        snaplen,
        buffer_bytes: args.buffer_kib.saturating_mul(1024),
        immediate: args.immediate,
        direction,
        sll2,
        precision,
    };
    install_handlers();
    let mut live = match Live::open(&iface, kernel_prog.as_deref(), &opts) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("tcpscope: {e}");
            return ExitCode::from(1);
        }
    };
    let user_filter = if kernel_prog.is_some() { None } else { filter };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    // Privileges go before the first file is created, as tcpdump drops them:
    // every file of a rotation then belongs to the same user, who can reopen
    // it when a -W ring comes round.
    // With -w, CAP_DAC_OVERRIDE is kept until the first file is open, as
    // tcpdump (with libcap-ng) keeps it: `sudo tcpscope capture -w x.pcap`
    // works in a directory only root can write.
    let mut dropped_to: Option<String> = None;
    // SAFETY: plain syscall.
    if unsafe { libc::geteuid() } == 0 {
        let user = match &args.user {
            Some(u) => Some(u.clone()),
            None if user_exists("tcpdump") => Some("tcpdump".to_string()),
            None => None,
        };
        if let Some(u) = user.filter(|u| u != "root") {
            let dropped = if args.write.is_some() && !to_stdout {
                drop_privileges_keeping_dac(&u)
            } else {
                drop_privileges(&u)
            };
            if let Err(e) = dropped {
                eprintln!("tcpscope: {e}");
                return ExitCode::from(1);
            }
            dropped_to = Some(u);
        }
    } else if let Some(u) = &args.user {
        eprintln!("tcpscope: -Z {u} needs root (only root can change user)");
        return ExitCode::from(1);
    }
    let mut output = match &args.write {
        None => None,
        Some(base) => {
            let digits = match (args.file_size, args.file_count) {
                (Some(_), Some(w)) if w > 1 => (w - 1).to_string().len(),
                (Some(_), Some(_)) => 1,
                _ => 0,
            };
            let t = args.rotate_seconds.map(|_| now);
            let format = if args.pcapng || args.annotate {
                WriteFormat::Pcapng
            } else {
                WriteFormat::Pcap
            };
            let path = file_name(base, 0, digits, t);
            let created = Writer::create(&path, format, linktype, snaplen, precision, &iface);
            drop_kept_capability();
            match created {
                Ok(writer) => Some(Rotation {
                    base: base.clone(),
                    writer,
                    format,
                    linktype,
                    snaplen,
                    precision,
                    iface: iface.clone(),
                    size_limit: args.file_size,
                    seconds: args.rotate_seconds,
                    count: args.file_count,
                    digits,
                    number: 0,
                    opened: 1,
                    started: now,
                    current: path.clone(),
                    postrotate: args.postrotate.clone(),
                    children: Vec::new(),
                }),
                Err(e) => {
                    let hint = match (&dropped_to, e.kind()) {
                        (Some(u), io::ErrorKind::PermissionDenied) => format!(
                            " (as user {u}, after dropping root): run with -Z root, or write into a directory {u} can write"
                        ),
                        _ => String::new(),
                    };
                    eprintln!("tcpscope: {}: {e}{hint}", path.display());
                    return ExitCode::from(1);
                }
            }
        }
    };
    // tcpdump's words: the "suppressed" line, or its name before "listening".
    let printing = output.is_none() || args.print;
    let mut annotator = args.annotate.then(|| {
        tcpscope_report::Pipeline::new(
            "",
            tcpscope_report::annotate::Annotator::default(),
            args.print_args.nano,
        )
    });
    let prefix = if printing && args.print_args.verbose == 0 {
        eprintln!("tcpscope: verbose output suppressed, use -v[v]... for full protocol decode");
        ""
    } else {
        "tcpscope: "
    };
    let (lname, ldesc) = linktype_name(linktype);
    eprintln!(
        "{prefix}listening on {iface}, link-type {lname} ({ldesc}), snapshot length {snaplen} bytes"
    );

    let stdout = io::stdout();
    let line_buffered = args.line_buffered || stdout.is_terminal();
    let mut out = stdout.lock();
    let limit = args.count.unwrap_or(u64::MAX);
    let mut captured = 0u64;
    let mut failure: Option<String> = None;
    let mut wait = 0;
    // After SIGINT/SIGTERM the ring is drained: packets the kernel already
    // took are still written (a ring block is handed over at most 100 ms
    // after its first packet). tcpdump loses those.
    let mut draining = false;
    'capture: while captured < limit {
        if !draining && STOP.load(Ordering::SeqCst) {
            draining = true;
            wait = 150;
        }
        if REPORT.swap(false, Ordering::SeqCst) {
            let _ = sink.drain(&mut out, 0);
            let _ = out.flush();
            report(captured, live.stats());
        }
        match live.next_frame(wait) {
            Ok(Some(frame)) => {
                wait = 0;
                if let Some(f) = &user_filter {
                    if !f.matches(frame.data, frame.len) {
                        continue;
                    }
                }
                captured += 1;
                if let Some(o) = output.as_mut() {
                    let comment = annotator.as_mut().map(|a| {
                        a.output_mut().clear();
                        a.push_unfiltered(&frame);
                        a.output().comment()
                    });
                    let r = o.before_write(frame.ts_sec).and_then(|go| {
                        if go {
                            o.writer
                                .write_commented(&frame, comment)
                                .map(|_| true)
                                .map_err(|e| io::Error::new(e.kind(), o.named(&e)))
                        } else {
                            Ok(false)
                        }
                    });
                    match r {
                        Ok(true) => {}
                        Ok(false) => {
                            captured -= 1;
                            break 'capture;
                        }
                        Err(e) => {
                            failure = Some(e.to_string());
                            break 'capture;
                        }
                    }
                    if args.packet_buffered {
                        if let Err(e) = o.writer.flush() {
                            failure = Some(o.named(&e));
                            break 'capture;
                        }
                    }
                }
                if printing {
                    sink.push_unfiltered(&frame);
                    let at_least = if line_buffered { 0 } else { 1 << 16 };
                    if sink.drain(&mut out, at_least).is_err() {
                        break 'capture;
                    }
                }
            }
            Ok(None) if draining => break 'capture,
            Ok(None) => {
                // Nothing ready: hand what we have to the reader and the file,
                // then wait for the ring.
                if wait == 0 {
                    if sink.drain(&mut out, 0).is_err() || out.flush().is_err() {
                        break 'capture;
                    }
                    if let Some(o) = output.as_mut() {
                        if let Err(e) = o.writer.flush() {
                            failure = Some(o.named(&e));
                            break 'capture;
                        }
                    }
                }
                wait = 200;
            }
            Err(e) => {
                failure = Some(format!("{iface}: {e}"));
                break 'capture;
            }
        }
    }
    // The capture ran until now: a side still re-sending that went quiet
    // long enough had given up.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    sink.set_capture_end(tcpscope_track::Ts {
        sec: now.as_secs() as i64,
        nsec: now.subsec_nanos(),
    });
    let _ = sink.finish();
    let _ = sink.drain(&mut out, 0);
    let _ = out.flush();
    if let Some(o) = output.as_mut() {
        if let Err(e) = o.writer.flush() {
            failure.get_or_insert(o.named(&e));
        }
    }
    report(captured, live.stats());
    match failure {
        None => ExitCode::SUCCESS,
        Some(e) => {
            eprintln!("tcpscope: {e}");
            ExitCode::from(1)
        }
    }
}

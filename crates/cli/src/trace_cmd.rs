//! `tcpscope trace`: what the kernel really did, from its tracepoints.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use tcpscope_kernel::diag::state_name;
use tcpscope_kernel::trace::{endpoints, Tracer, EVENTS};
use tcpscope_peers::parse_duration;

/// Kernel ground truth: TCP state changes (with time spent in the previous
/// state), retransmissions, and resets sent and received with their reason,
/// plus one lifetime line per closed connection (like bcc's tcpstates,
/// tcpretrans and tcplife).
#[derive(Args, Debug)]
#[command(
    after_help = "Needs root or CAP_PERFMON (tracepoints through perf_event_open). The kernel \
reports no TIME-WAIT state change: a closing socket goes FIN-WAIT-2 -> CLOSED and a timewait socket \
takes over; `tcpscope ss -a` lists those. Reset reasons are named from the tracepoint's own format."
)]
pub struct TraceArgs {
    /// Only connections with this local or remote port.
    #[arg(long, value_name = "PORT")]
    port: Option<u16>,
    /// Only events that fired in this process.
    #[arg(long, value_name = "PID")]
    pid: Option<u32>,
    /// Stop after this long.
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Stop after this many events.
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// JSON Lines.
    #[arg(long)]
    json: bool,
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

struct Life {
    start_ns: u64,
    last_ns: u64,
    path: Vec<&'static str>,
}

pub fn trace(args: TraceArgs) -> ExitCode {
    let mut tracer = match Tracer::open() {
        Ok(t) => t,
        Err(e) => {
            let code = e.raw_os_error();
            if matches!(code, Some(libc::EACCES) | Some(libc::EPERM))
                || e.kind() == io::ErrorKind::PermissionDenied
            {
                eprintln!("tcpscope trace: needs CAP_PERFMON (or root) to read kernel tracepoints: run as root or with sudo");
            } else {
                eprintln!("tcpscope trace: cannot open the TCP tracepoints: {e}");
            }
            return ExitCode::from(1);
        }
    };
    // SAFETY: installs a handler that only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as usize);
        libc::signal(libc::SIGTERM, on_signal as *const () as usize);
    }
    let started = Instant::now();
    let mut t0: Option<u64> = None;
    let mut lives: HashMap<u64, Life> = HashMap::new();
    let mut printed = 0u64;
    let mut out = io::stdout().lock();
    if !args.json {
        let _ = writeln!(
            out,
            "{:>11} {:>7}  {:<18} {:<47} detail",
            "time (s)", "pid", "event", "local > remote"
        );
        let _ = out.flush();
    }
    while !STOP.load(Ordering::Relaxed) {
        if args.duration.is_some_and(|d| started.elapsed() >= d)
            || args.count.is_some_and(|n| printed >= n)
        {
            break;
        }
        for s in tracer.poll(100) {
            let f = &tracer.formats[s.event];
            let Some((local, remote)) = endpoints(f, &s.raw) else {
                continue;
            };
            if args
                .port
                .is_some_and(|p| local.port() != p && remote.port() != p)
                || args.pid.is_some_and(|p| p != s.pid)
            {
                continue;
            }
            let base = *t0.get_or_insert(s.time_ns);
            let t = (s.time_ns.saturating_sub(base)) as f64 / 1e9;
            let (event, detail, json_extra) =
                describe(EVENTS[s.event].1, f, &s.raw, s.time_ns, &mut lives);
            if event.is_empty() {
                continue;
            }
            let r = if args.json {
                writeln!(
                    out,
                    "{{\"time\":{t:.6},\"pid\":{},\"event\":\"{event}\",\"local\":\"{local}\",\"remote\":\"{remote}\",\"detail\":\"{}\"{json_extra}}}",
                    s.pid,
                    detail.replace('"', "\\\"")
                )
            } else {
                writeln!(
                    out,
                    "{t:>11.6} {:>7}  {event:<18} {:<47} {detail}",
                    s.pid,
                    format!("{local} > {remote}")
                )
            };
            printed += 1;
            if r.and_then(|_| out.flush()).is_err() {
                return ExitCode::SUCCESS;
            }
            // A lifetime line when a connection closes.
            if EVENTS[s.event].1 == "inet_sock_set_state" && f.uint(&s.raw, "newstate") == Some(7) {
                let sk = f.uint(&s.raw, "skaddr").unwrap_or(0);
                if let Some(l) = lives.remove(&sk) {
                    let _ = lifetime(&mut out, args.json, t, s.pid, local, remote, &l, s.time_ns);
                }
            }
            if args.count.is_some_and(|n| printed >= n) {
                break;
            }
        }
    }
    ExitCode::SUCCESS
}

fn lifetime(
    out: &mut impl Write,
    json: bool,
    t: f64,
    pid: u32,
    local: SocketAddr,
    remote: SocketAddr,
    l: &Life,
    now: u64,
) -> io::Result<()> {
    let ms = (now.saturating_sub(l.start_ns)) as f64 / 1e6;
    let path = l.path.join(" -> ");
    if json {
        writeln!(out, "{{\"time\":{t:.6},\"pid\":{pid},\"event\":\"lifetime\",\"local\":\"{local}\",\"remote\":\"{remote}\",\"duration_ms\":{ms:.3},\"states\":\"{path}\"}}")
    } else {
        writeln!(
            out,
            "{t:>11.6} {pid:>7}  {:<18} {:<47} {ms:.3} ms: {path}",
            "lifetime",
            format!("{local} > {remote}")
        )
    }
}

fn describe(
    name: &str,
    f: &tcpscope_kernel::trace::Format,
    raw: &[u8],
    now: u64,
    lives: &mut HashMap<u64, Life>,
) -> (&'static str, String, String) {
    match name {
        "inet_sock_set_state" => {
            if f.uint(raw, "protocol") != Some(libc::IPPROTO_TCP as u64) {
                return ("", String::new(), String::new());
            }
            let old = f.uint(raw, "oldstate").unwrap_or(0) as u8;
            let new = f.uint(raw, "newstate").unwrap_or(0) as u8;
            let sk = f.uint(raw, "skaddr").unwrap_or(0);
            let life = lives.entry(sk).or_insert_with(|| Life {
                start_ns: now,
                last_ns: now,
                path: vec![state_name(old)],
            });
            let spent = (now.saturating_sub(life.last_ns)) as f64 / 1e6;
            life.last_ns = now;
            life.path.push(state_name(new));
            let mut detail = format!(
                "{} -> {} (after {spent:.3} ms in {})",
                state_name(old),
                state_name(new),
                state_name(old)
            );
            if new == 7 && (old == 5 || old == 4 || old == 11) {
                detail.push_str("; a TIME-WAIT socket takes over");
            }
            (
                "state",
                detail,
                format!(
                    ",\"old\":\"{}\",\"new\":\"{}\",\"ms_in_old\":{spent:.3}",
                    state_name(old),
                    state_name(new)
                ),
            )
        }
        "tcp_retransmit_skb" => {
            let st = f.uint(raw, "state").map_or("?", |s| state_name(s as u8));
            (
                "retransmit",
                format!("in {st}"),
                format!(",\"state\":\"{st}\""),
            )
        }
        "tcp_retransmit_synack" => (
            "retransmit SYN-ACK",
            "SYN-RECEIVED".to_string(),
            String::new(),
        ),
        "tcp_send_reset" | "tcp_receive_reset" => {
            let st =
                f.uint(raw, "state")
                    .map_or("-", |s| if s == 0 { "-" } else { state_name(s as u8) });
            let reason = f.uint(raw, "reason").map(|r| {
                f.symbol("reason", r as i64)
                    .map_or(format!("reason {r}"), |n| n.to_string())
            });
            let ev = if name == "tcp_send_reset" {
                "send RST"
            } else {
                "receive RST"
            };
            let detail = match &reason {
                Some(r) => format!("in {st}, reason {r}"),
                None => format!("in {st}"),
            };
            let extra = match reason {
                Some(r) => format!(",\"state\":\"{st}\",\"reason\":\"{r}\""),
                None => format!(",\"state\":\"{st}\""),
            };
            (ev, detail, extra)
        }
        _ => ("", String::new(), String::new()),
    }
}

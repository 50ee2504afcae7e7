//! `tcpscope trace`: what the kernel really did, from its tracepoints.

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde::Serialize;
use tcpscope_kernel::diag::state_name;
use tcpscope_kernel::lifetime::{timewait_takes_over, Lives};
use tcpscope_kernel::trace::{TcpEvent, TcpEventKind, Tracer};
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

/// One line of `trace --json` (type `kernel_event`); keys an event does
/// not have are null.
#[derive(Serialize, Default)]
struct Event {
    #[serde(rename = "type")]
    kind: &'static str,
    elapsed_s: f64,
    pid: u32,
    event: &'static str,
    local: String,
    peer: String,
    detail: String,
    old: Option<&'static str>,
    new: Option<&'static str>,
    ms_in_old: Option<f64>,
    state: Option<String>,
    reason: Option<String>,
    duration_ms: Option<f64>,
    states: Option<String>,
}

pub fn trace(args: TraceArgs) -> anyhow::Result<ExitCode> {
    let mut tracer = Tracer::open().context("trace")?;
    // SAFETY: installs a handler that only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as usize);
        libc::signal(libc::SIGTERM, on_signal as *const () as usize);
    }
    let started = Instant::now();
    let mut t0: Option<u64> = None;
    let mut lives = Lives::default();
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
            let Some(e) = tracer.decode(&s) else {
                continue;
            };
            let (local, remote) = (e.local, e.peer);
            if args
                .port
                .is_some_and(|p| local.port() != p && remote.port() != p)
                || args.pid.is_some_and(|p| p != e.pid)
            {
                continue;
            }
            let base = *t0.get_or_insert(e.time_ns);
            let t = (e.time_ns.saturating_sub(base)) as f64 / 1e9;
            let (mut ev, ended) = describe(&e, &mut lives);
            ev.elapsed_s = t;
            ev.pid = e.pid;
            ev.local = local.to_string();
            ev.peer = remote.to_string();
            let r = write_event(&mut out, args.json, &ev);
            printed += 1;
            if r.and_then(|_| out.flush()).is_err() {
                return Ok(ExitCode::SUCCESS);
            }
            // A lifetime line when a connection closes.
            if let Some(l) = ended {
                let life = Event {
                    kind: "kernel_event",
                    elapsed_s: t,
                    pid: e.pid,
                    event: "lifetime",
                    local: local.to_string(),
                    peer: remote.to_string(),
                    detail: format!("{:.3} ms: {}", l.ms(e.time_ns), l.path_text()),
                    duration_ms: Some(l.ms(e.time_ns)),
                    states: Some(l.path_text()),
                    ..Event::default()
                };
                let _ = write_event(&mut out, args.json, &life);
            }
            if args.count.is_some_and(|n| printed >= n) {
                break;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write_event(out: &mut impl Write, json: bool, ev: &Event) -> io::Result<()> {
    if json {
        serde_json::to_writer(&mut *out, ev)?;
        writeln!(out)
    } else {
        writeln!(
            out,
            "{:>11.6} {:>7}  {:<18} {:<47} {}",
            ev.elapsed_s,
            ev.pid,
            ev.event,
            format!("{} > {}", ev.local, ev.peer),
            ev.detail
        )
    }
}

fn describe(e: &TcpEvent, lives: &mut Lives) -> (Event, Option<tcpscope_kernel::lifetime::Life>) {
    let mut ev = Event {
        kind: "kernel_event",
        ..Event::default()
    };
    let shown = |st: Option<u8>| st.map_or("-", state_name);
    match &e.kind {
        &TcpEventKind::State { sk, old, new } => {
            let change = lives.change(sk, old, new, e.time_ns);
            let spent = change.ms_in_old;
            ev.event = "state";
            ev.detail = format!(
                "{} -> {} (after {spent:.3} ms in {})",
                state_name(old),
                state_name(new),
                state_name(old)
            );
            if timewait_takes_over(old, new) {
                ev.detail.push_str("; a TIME-WAIT socket takes over");
            }
            ev.old = Some(state_name(old));
            ev.new = Some(state_name(new));
            ev.ms_in_old = Some(spent);
            return (ev, change.ended);
        }
        TcpEventKind::Retransmit { state } => {
            let st = state.map_or("?", state_name);
            ev.event = "retransmit";
            ev.detail = format!("in {st}");
            ev.state = Some(st.to_string());
        }
        TcpEventKind::RetransmitSynAck => {
            ev.event = "retransmit SYN-ACK";
            ev.detail = "SYN-RECEIVED".to_string();
            ev.state = Some("SYN-RECEIVED".to_string());
        }
        TcpEventKind::SendReset { state, reason } => {
            ev.event = "send RST";
            ev.detail = match reason {
                Some(r) => format!("in {}, reason {r}", shown(*state)),
                None => format!("in {}", shown(*state)),
            };
            ev.state = state.map(|s| state_name(s).to_string());
            ev.reason = reason.clone();
        }
        TcpEventKind::ReceiveReset { state } => {
            ev.event = "receive RST";
            ev.detail = format!("in {}", shown(*state));
            ev.state = state.map(|s| state_name(s).to_string());
        }
    }
    (ev, None)
}

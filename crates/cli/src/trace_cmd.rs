//! `tcpscope trace`: what the kernel really did, from its tracepoints,
//! in the network namespace it runs in.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde::Serialize;
use tcpscope_kernel::bpf::own_netns;
use tcpscope_kernel::diag::{state_name, tcp_state};
use tcpscope_kernel::lifetime::{timewait_takes_over, Lives};
use tcpscope_kernel::trace::{monotonic_ns, TcpEvent, TcpEventKind, Tracer};
use tcpscope_peers::parse_duration;

/// Kernel ground truth: TCP state changes (with time spent in the previous
/// state), retransmissions, and resets sent and received with their reason,
/// plus one lifetime line per closed connection (like bcc's tcpstates,
/// tcpretrans and tcplife).
#[derive(Args, Debug)]
#[command(
    after_help = "Needs root (tracepoints through perf_event_open, and a small BPF \
program per tracepoint that reads each event's network namespace). Shows the network namespace \
it runs in (`ip netns exec NAME tcpscope trace`, or inside `unshare -n`); -A shows every namespace \
with a column naming it.

The pid and command are the socket's owner: the process that had the socket locked when the event \
fired (a system call such as connect() or close(), or the processing it does on release). Events \
in softirq or timer context fire in whatever process was running, so they show `-`. The kernel reports no TIME-WAIT state change: a closing socket goes \
FIN-WAIT-2 -> CLOSED and a timewait socket takes over; `tcpscope ss -tan state time-wait` lists \
those. Reset reasons are named from the tracepoint's own format. Events are printed in time order, \
about 0.2 s after they happen.

bcc's tcpstates habits: -T (time of day), -L PORTS (local ports), -D PORTS (remote ports), \
-4/-6, -p PID (owner)."
)]
pub struct TraceArgs {
    /// Only connections with this local or remote port.
    #[arg(long, value_name = "PORT")]
    port: Option<u16>,
    /// Only these local ports (comma-separated), as tcpstates -L.
    #[arg(
        short = 'L',
        long = "localport",
        value_name = "PORTS",
        value_delimiter = ','
    )]
    localport: Vec<u16>,
    /// Only these remote ports (comma-separated), as tcpstates -D.
    #[arg(
        short = 'D',
        long = "remoteport",
        value_name = "PORTS",
        value_delimiter = ','
    )]
    remoteport: Vec<u16>,
    /// Only sockets this process owns.
    #[arg(short = 'p', long, value_name = "PID")]
    pid: Option<u32>,
    /// IPv4 only.
    #[arg(short = '4', long)]
    ipv4: bool,
    /// IPv6 only.
    #[arg(short = '6', long)]
    ipv6: bool,
    /// A time-of-day column (HH:MM:SS.micro), as tcpstates -T.
    #[arg(short = 'T', long = "time")]
    time_of_day: bool,
    /// Every network namespace, with a column naming each.
    #[arg(short = 'A', long = "all-namespaces")]
    all_namespaces: bool,
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
    time: Option<String>,
    /// The socket's owner, where confirmed.
    pid: Option<u32>,
    command: Option<String>,
    netns: Option<u32>,
    netns_name: Option<String>,
    event: &'static str,
    local: String,
    peer: String,
    detail: String,
    old: Option<&'static str>,
    new: Option<&'static str>,
    ms_in_old: Option<f64>,
    state: Option<String>,
    reason: Option<String>,
    errno: Option<&'static str>,
    duration_ms: Option<f64>,
    states: Option<String>,
    bytes_acked: Option<u64>,
    bytes_received: Option<u64>,
}

/// Namespace inode -> a name: `ip netns` names, `host` for pid 1's.
fn namespace_names() -> HashMap<u32, String> {
    use std::os::unix::fs::MetadataExt;
    let mut names = HashMap::new();
    if let Ok(m) = std::fs::metadata("/proc/1/ns/net") {
        names.insert(m.ino() as u32, "host".to_string());
    }
    if let Ok(dir) = std::fs::read_dir("/run/netns") {
        for e in dir.flatten() {
            if let Ok(m) = std::fs::metadata(e.path()) {
                names.insert(m.ino() as u32, e.file_name().to_string_lossy().into_owned());
            }
        }
    }
    names
}

/// What the application sees after an RST arrives in this state, as the
/// kernel's tcp_reset() sets it (refused, reset and EPIPE each seen in the
/// labs rst-refused, reset-by-peer and broken-pipe).
fn rst_errno(state: Option<u8>) -> Option<(&'static str, &'static str)> {
    match state? {
        tcp_state::SYN_SENT => Some((
            "ECONNREFUSED",
            "connect() fails with ECONNREFUSED (connection refused)",
        )),
        tcp_state::CLOSE_WAIT => Some((
            "EPIPE",
            "the peer had closed; the next write fails with EPIPE",
        )),
        tcp_state::CLOSE | tcp_state::LISTEN => None,
        _ => Some((
            "ECONNRESET",
            "the next read or write fails with ECONNRESET (connection reset by peer)",
        )),
    }
}

pub fn trace(args: TraceArgs) -> anyhow::Result<ExitCode> {
    let (mut tracer, why) = Tracer::open_with_namespaces().context("trace")?;
    let ours = own_netns().context("trace: reading this process's network namespace")?;
    if let Some(e) = why {
        return Err(anyhow::anyhow!(
            "trace: cannot tell events' network namespaces apart ({e}); this needs root (CAP_BPF and CAP_PERFMON)"
        ));
    }
    let names = namespace_names();
    // SAFETY: installs a handler that only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as usize);
        libc::signal(libc::SIGTERM, on_signal as *const () as usize);
    }
    let started = Instant::now();
    let mut t0: Option<u64> = None;
    let mut lives = Lives::default();
    let mut first_owner: HashMap<u64, (u32, String)> = HashMap::new();
    let mut printed = 0u64;
    let mut unknown = 0u64;
    // Events wait here until no earlier one can still arrive from another CPU.
    let mut pending: BTreeMap<(u64, u64), TcpEvent> = BTreeMap::new();
    let mut seq = 0u64;
    let mut out = io::BufWriter::new(io::stdout().lock());
    if !args.json {
        let _ = writeln!(
            out,
            "{}{:>11} {:>7} {:<16}{} {:<18} {:<47} detail",
            if args.time_of_day {
                format!("{:<15} ", "time")
            } else {
                String::new()
            },
            "time (s)",
            "pid",
            "command",
            if args.all_namespaces {
                format!(" {:<12}", "netns")
            } else {
                String::new()
            },
            "event",
            "local > remote"
        );
        let _ = out.flush();
    }
    let hold_ns = 200_000_000u64;
    let mut done = false;
    while !done {
        let stopping = STOP.load(Ordering::Relaxed)
            || args.duration.is_some_and(|d| started.elapsed() >= d)
            || args.count.is_some_and(|n| printed >= n);
        for s in tracer.poll(if stopping { 0 } else { 100 }) {
            if let Some(e) = tracer.decode(&s) {
                pending.insert((e.time_ns, seq), e);
                seq += 1;
            }
        }
        let now = monotonic_ns();
        while let Some((&(t, _), _)) = pending.iter().next() {
            if !stopping && t + hold_ns > now {
                break;
            }
            let Some((_, e)) = pending.pop_first() else {
                break;
            };
            let info = tracer.namespace(&e);
            let netns = info.as_ref().map(|i| i.netns);
            if !args.all_namespaces && netns != Some(ours) {
                if netns.is_none() {
                    unknown += 1;
                }
                continue;
            }
            let (local, remote) = (e.local, e.peer);
            if args
                .port
                .is_some_and(|p| local.port() != p && remote.port() != p)
                || (!args.localport.is_empty() && !args.localport.contains(&local.port()))
                || (!args.remoteport.is_empty() && !args.remoteport.contains(&remote.port()))
                || (args.ipv4 && !local.is_ipv4())
                || (args.ipv6 && !local.is_ipv6())
            {
                continue;
            }
            // The owner: the process that had the socket locked, if any.
            let owner = info.as_ref().and_then(|i| i.owner.clone());
            if let Some(o) = &owner {
                first_owner.entry(e.addr).or_insert_with(|| o.clone());
            }
            if args
                .pid
                .is_some_and(|p| owner.as_ref().map(|o| o.0) != Some(p))
            {
                continue;
            }
            let base = *t0.get_or_insert(e.time_ns);
            let t = e.time_ns.saturating_sub(base) as f64 / 1e9;
            let (mut ev, ended) = describe(&e, &mut lives);
            ev.elapsed_s = t;
            ev.time = args.time_of_day.then(|| time_of_day(e.time_ns, now));
            ev.pid = owner.as_ref().map(|o| o.0);
            ev.command = owner.as_ref().map(|o| o.1.clone());
            ev.netns = netns;
            ev.netns_name = netns.and_then(|n| names.get(&n).cloned());
            ev.local = local.to_string();
            ev.peer = remote.to_string();
            let r = write_event(&mut out, &args, &ev);
            printed += 1;
            // A lifetime line when a connection closes, with tcplife's
            // bytes and the command that owned it.
            if let Some(l) = ended {
                let who = first_owner.remove(&e.addr);
                // A listener carries no bytes.
                let listener = l.path.get(1) == Some(&"LISTEN");
                let mut life = Event {
                    kind: "kernel_event",
                    elapsed_s: t,
                    time: ev.time.clone(),
                    pid: who.as_ref().map(|w| w.0),
                    command: who.as_ref().map(|w| w.1.clone()),
                    netns,
                    netns_name: ev.netns_name.clone(),
                    event: "lifetime",
                    local: local.to_string(),
                    peer: remote.to_string(),
                    duration_ms: l.ms(e.time_ns),
                    states: Some(l.path_text()),
                    bytes_acked: info.as_ref().filter(|_| !listener).map(|i| i.bytes_acked),
                    bytes_received: info
                        .as_ref()
                        .filter(|_| !listener)
                        .map(|i| i.bytes_received),
                    ..Event::default()
                };
                life.detail = format!(
                    "{}: {}{}",
                    l.ms(e.time_ns).map_or("since before the trace began".to_string(), |ms| format!("{ms:.3} ms")),
                    l.path_text(),
                    info.as_ref().filter(|_| !listener).map_or(String::new(), |i| format!(
                        "; bytes_acked {}, bytes_received {} (tcp_info's counts: a SYN or FIN counts as one)",
                        i.bytes_acked, i.bytes_received
                    ))
                );
                let _ = write_event(&mut out, &args, &life);
            }
            if r.and_then(|_| out.flush()).is_err() {
                return Ok(ExitCode::SUCCESS);
            }
            if args.count.is_some_and(|n| printed >= n) {
                done = true;
                break;
            }
        }
        if stopping && pending.is_empty() {
            done = true;
        }
    }
    if unknown > 0 && !args.json {
        eprintln!("tcpscope trace: {unknown} events whose network namespace the kernel did not say were left out");
    }
    Ok(ExitCode::SUCCESS)
}

/// The local time of day of a tracepoint time, as HH:MM:SS.micro.
fn time_of_day(event_ns: u64, now_mono: u64) -> String {
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let at = wall.saturating_sub(Duration::from_nanos(now_mono.saturating_sub(event_ns)));
    let secs = at.as_secs() as libc::time_t;
    // SAFETY: localtime_r fills the struct we pass.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    unsafe { libc::localtime_r(&secs, &mut tm) };
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        at.subsec_micros()
    )
}

fn write_event(out: &mut impl Write, args: &TraceArgs, ev: &Event) -> io::Result<()> {
    if args.json {
        serde_json::to_writer(&mut *out, ev)?;
        return writeln!(out);
    }
    let ns = if args.all_namespaces {
        let n = match (&ev.netns_name, ev.netns) {
            (Some(name), _) => name.clone(),
            (None, Some(n)) => n.to_string(),
            (None, None) => "?".to_string(),
        };
        format!(" {n:<12}")
    } else {
        String::new()
    };
    writeln!(
        out,
        "{}{:>11.6} {:>7} {:<16}{ns} {:<18} {:<47} {}",
        ev.time
            .as_ref()
            .map_or(String::new(), |t| format!("{t:<15} ")),
        ev.elapsed_s,
        ev.pid.map_or("-".to_string(), |p| p.to_string()),
        ev.command.as_deref().unwrap_or("-"),
        ev.event,
        format!("{} > {}", ev.local, ev.peer),
        ev.detail
    )
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
            ev.event = "state";
            ev.detail = match change.ms_in_old {
                Some(ms) => format!(
                    "{} -> {} (after {ms:.3} ms in {})",
                    state_name(old),
                    state_name(new),
                    state_name(old)
                ),
                None if tcpscope_kernel::lifetime::is_birth(old, new) => format!(
                    "{} -> {} (a new connection of the listener)",
                    state_name(old),
                    state_name(new)
                ),
                None => format!(
                    "{} -> {} (in {} since before the trace began)",
                    state_name(old),
                    state_name(new),
                    state_name(old)
                ),
            };
            if timewait_takes_over(old, new) {
                ev.detail.push_str("; a TIME-WAIT socket takes over");
            }
            ev.old = Some(state_name(old));
            ev.new = Some(state_name(new));
            ev.ms_in_old = change.ms_in_old;
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
            // This kernel's tcp_receive_reset carries no state: take the
            // one the socket's last change left it in.
            let state = &state.or_else(|| lives.state_of(e.addr));
            ev.event = "receive RST";
            let words = rst_errno(*state);
            ev.detail = match words {
                Some((_, w)) => format!("in {}: {w}", shown(*state)),
                None => format!("in {}", shown(*state)),
            };
            ev.state = state.map(|s| state_name(s).to_string());
            ev.errno = words.map(|w| w.0);
        }
    }
    (ev, None)
}

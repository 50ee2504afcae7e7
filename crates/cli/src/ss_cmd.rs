//! `tcpscope ss`: TCP sockets and listen queues, with what the numbers mean.

use std::collections::HashMap;
use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde::Serialize;
use tcpscope_kernel::diag::{self, state_name, tcp_state, Socket, TcpInfo};
use tcpscope_kernel::listen::{accept_queue_note, half_open, timer_name};

/// TCP sockets and listen queues from the kernel (sock_diag), like `ss -t`.
#[derive(Args, Debug)]
#[command(
    after_help = "For a listener, Recv-Q is the accept queue's length and Send-Q its limit, \
min(listen() backlog, net.core.somaxconn), as `ss -ltn` shows them; the queue holds Send-Q + 1 \
connections before further handshakes are dropped (ListenOverflows). SYN-RECV counts the half-open \
connections waiting in the listener's SYN queue."
)]
pub struct SsArgs {
    /// Listening sockets only.
    #[arg(short = 'l', long)]
    listening: bool,
    /// Listening and non-listening sockets.
    #[arg(short = 'a', long)]
    all: bool,
    /// TCP internals: RTT, RTO, cwnd, ssthresh, retransmissions, bytes, delivery rate, timers.
    #[arg(short = 'i', long)]
    info: bool,
    /// The owning process.
    #[arg(short = 'p', long)]
    processes: bool,
    /// Numeric (always; accepted for ss compatibility).
    #[arg(short = 'n', long)]
    numeric: bool,
    /// JSON Lines, one object per socket.
    #[arg(long)]
    json: bool,
    /// Filter: `port N`, `sport N` or `dport N` (also `sport = :N` as ss writes it).
    #[arg(value_name = "FILTER", trailing_var_arg = true)]
    filter: Vec<String>,
}

#[derive(Clone, Copy)]
enum PortFilter {
    Any(u16),
    Src(u16),
    Dst(u16),
}

fn parse_filter(words: &[String]) -> Result<Option<PortFilter>, String> {
    if words.is_empty() {
        return Ok(None);
    }
    let joined = words.join(" ");
    let tokens: Vec<&str> = joined
        .split(|c: char| c.is_whitespace() || c == '=' || c == ':')
        .filter(|t| !t.is_empty())
        .collect();
    let (kind, port) = match tokens.as_slice() {
        [k, p] => (*k, *p),
        _ => {
            return Err(format!(
                "filter '{joined}': use 'port N', 'sport N' or 'dport N'"
            ))
        }
    };
    let n: u16 = port
        .parse()
        .map_err(|_| format!("filter '{joined}': '{port}' is not a port number"))?;
    Ok(Some(match kind {
        "port" => PortFilter::Any(n),
        "sport" | "src" => PortFilter::Src(n),
        "dport" | "dst" => PortFilter::Dst(n),
        other => {
            return Err(format!(
                "filter '{joined}': unknown keyword '{other}' (port, sport, dport)"
            ))
        }
    }))
}

/// One line of `ss --json` (type `socket`).
#[derive(Serialize)]
struct SocketJson {
    #[serde(rename = "type")]
    kind: &'static str,
    state: &'static str,
    recv_q: u32,
    send_q: u32,
    /// Half-open handshakes of a listener; null on other sockets.
    syn_recv: Option<u32>,
    local: String,
    peer: String,
    uid: u32,
    inode: u32,
    timer: Option<&'static str>,
    timer_ms: Option<u32>,
    process: Option<String>,
    note: Option<&'static str>,
    info: Option<InfoJson>,
}

#[derive(Serialize)]
struct InfoJson {
    rtt_ms: f64,
    rttvar_ms: f64,
    rto_ms: f64,
    cwnd: u32,
    /// Null while slow start has no threshold yet.
    ssthresh: Option<u32>,
    retransmits: u8,
    total_retrans: u32,
    bytes_acked: u64,
    bytes_received: u64,
    delivery_rate: u64,
    mss: u32,
}

impl From<&TcpInfo> for InfoJson {
    fn from(i: &TcpInfo) -> InfoJson {
        InfoJson {
            rtt_ms: i.rtt_us as f64 / 1e3,
            rttvar_ms: i.rttvar_us as f64 / 1e3,
            rto_ms: i.rto_us as f64 / 1e3,
            cwnd: i.snd_cwnd,
            ssthresh: (i.snd_ssthresh < 0x7fff_ffff).then_some(i.snd_ssthresh),
            retransmits: i.retransmits,
            total_retrans: i.total_retrans,
            bytes_acked: i.bytes_acked,
            bytes_received: i.bytes_received,
            delivery_rate: i.delivery_rate,
            mss: i.snd_mss,
        }
    }
}

pub fn ss(args: SsArgs) -> anyhow::Result<ExitCode> {
    let filter = parse_filter(&args.filter).map_err(|e| crate::Usage(format!("ss: {e}")))?;
    let _ = args.numeric;
    let socks = diag::tcp_sockets(diag::ALL_STATES).context("ss")?;
    let half_open = half_open(&socks);
    let wanted = |s: &Socket| -> bool {
        let listen = s.state == tcp_state::LISTEN;
        let by_state = if args.all {
            true
        } else if args.listening {
            listen
        } else {
            !listen
        };
        let by_port = match filter {
            None => true,
            Some(PortFilter::Any(p)) => s.local.port() == p || s.peer.port() == p,
            Some(PortFilter::Src(p)) => s.local.port() == p,
            Some(PortFilter::Dst(p)) => s.peer.port() == p,
        };
        by_state && by_port
    };
    let owners = if args.processes {
        diag::owners()
    } else {
        HashMap::new()
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    if !args.json {
        let _ = writeln!(
            out,
            "{:<13} {:>7} {:>7} {:>8}  {:<40} {:<40}{}",
            "State",
            "Recv-Q",
            "Send-Q",
            "SYN-RECV",
            "Local Address:Port",
            "Peer Address:Port",
            if args.processes { " Process" } else { "" }
        );
    }
    for s in socks.iter().filter(|s| wanted(s)) {
        let listen = s.state == tcp_state::LISTEN;
        let syn = if listen {
            half_open.get(&s.local).copied().unwrap_or(0)
        } else {
            0
        };
        let proc = owners.get(&s.inode).map(|(pid, c)| format!("{c}({pid})"));
        let note = accept_queue_note(s);
        let r = if args.json {
            let rec = SocketJson {
                kind: "socket",
                state: state_name(s.state),
                recv_q: s.recv_q,
                send_q: s.send_q,
                syn_recv: listen.then_some(syn),
                local: s.local.to_string(),
                peer: s.peer.to_string(),
                uid: s.uid,
                inode: s.inode,
                timer: timer_name(s.timer),
                timer_ms: timer_name(s.timer).map(|_| s.expires_ms),
                process: proc,
                note,
                // A listener's tcp_info says nothing about a connection.
                info: if args.info && !listen {
                    s.info.as_ref().map(InfoJson::from)
                } else {
                    None
                },
            };
            serde_json::to_writer(&mut out, &rec)
                .map_err(io::Error::from)
                .and_then(|_| writeln!(out))
        } else {
            let syn_col = if listen {
                syn.to_string()
            } else {
                String::new()
            };
            writeln!(
                out,
                "{:<13} {:>7} {:>7} {:>8}  {:<40} {:<40}{}",
                state_name(s.state),
                s.recv_q,
                s.send_q,
                syn_col,
                s.local.to_string(),
                if listen { format!("{}:*", s.peer.ip()) } else { s.peer.to_string() },
                proc.map_or(String::new(), |p| format!(" {p}"))
            )
            .and_then(|_| match note { None => Ok(()), Some(note) => writeln!(out, "{:>14}{note}", "") })
            .and_then(|_| match (args.info && !listen, s.info) {
                (true, Some(i)) => {
                    let ssthresh = if i.snd_ssthresh >= 0x7fff_ffff { "-".to_string() } else { i.snd_ssthresh.to_string() };
                    let timer = timer_name(s.timer).map_or(String::new(), |t| format!(" timer {t} {} ms", s.expires_ms));
                    writeln!(
                        out,
                        "{:>14}rtt {:.3}/{:.3} ms rto {:.0} ms mss {} cwnd {} ssthresh {} retrans {}/{} bytes_acked {} bytes_received {} delivery_rate {}bps{timer}",
                        "",
                        i.rtt_us as f64 / 1e3,
                        i.rttvar_us as f64 / 1e3,
                        i.rto_us as f64 / 1e3,
                        i.snd_mss,
                        i.snd_cwnd,
                        ssthresh,
                        i.retransmits,
                        i.total_retrans,
                        i.bytes_acked,
                        i.bytes_received,
                        i.delivery_rate * 8
                    )
                }
                _ => Ok(()),
            })
        };
        if r.is_err() {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let _ = out.flush();
    Ok(ExitCode::SUCCESS)
}

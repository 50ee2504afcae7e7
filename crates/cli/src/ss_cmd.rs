//! `tcpscope ss`: sockets and listen queues, with iproute2 ss's options,
//! filter words and columns, and what the numbers mean.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser};
use serde::Serialize;
use tcpscope_kernel::counters::Snapshot;
use tcpscope_kernel::diag::{self, state_name, tcp_state, Socket, TcpInfo};
use tcpscope_kernel::listen::{accept_queue_note, half_open, timer_name};
use tcpscope_kernel::sockstat::SockStat;

use crate::ss_filter::{self, Filter};

/// Sockets and listen queues from the kernel (sock_diag), with ss's options and filters.
#[derive(Args, Debug, Default)]
#[command(
    after_help = "Options combine and may come before or after the filter, as with ss: \
`tcpscope ss -ltn`, `ss -tan state time-wait`, `ss -tnip dport = :443`, \
`ss -tn state established '( sport = :9292 or dport = :9292 )'`.

FILTER: `state NAME` and `exclude NAME` (all, connected, synchronized, bucket, big, \
established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, time-wait, closed, close-wait, \
last-ack, listening, closing), then an expression of `sport OP :PORT`, `dport OP :PORT`, \
`src ADDR[/LEN][:PORT]`, `dst ADDR[/LEN][:PORT]` joined by `and`, `or`, `not` and parentheses \
(OP is = != < <= > >= or eq ne lt le gt ge). `port N` matches either end.

The table uses ss's state names (ESTAB, SYN-RECV, UNCONN); `--json` gives the RFC name in \
`state` (the vocabulary of conns and trace) and ss's in `ss_state`.

For a listener, Recv-Q is the accept queue's length and Send-Q its limit, min(listen() backlog, \
net.core.somaxconn); the queue holds Send-Q + 1 connections. `syn-recv:N` counts the half-open \
handshakes waiting in the listener's SYN queue."
)]
pub struct SsArgs {
    /// TCP sockets (the default; with -u, both).
    #[arg(short = 't', long)]
    tcp: bool,
    /// UDP sockets.
    #[arg(short = 'u', long)]
    udp: bool,
    /// Numeric addresses and ports (always; accepted for ss compatibility).
    #[arg(short = 'n', long)]
    numeric: bool,
    /// Listening sockets only (and unconnected UDP sockets).
    #[arg(short = 'l', long)]
    listening: bool,
    /// Listening and non-listening sockets.
    #[arg(short = 'a', long)]
    all: bool,
    /// TCP internals: RTT, RTO, cwnd, ssthresh, retransmissions, bytes, delivery rate.
    #[arg(short = 'i', long)]
    info: bool,
    /// The processes holding each socket: users:(("name",pid=N,fd=N)).
    #[arg(short = 'p', long)]
    processes: bool,
    /// Owner uid (when not 0), inode and socket cookie: uid:N ino:N sk:HEX.
    #[arg(short = 'e', long)]
    extended: bool,
    /// Timers: timer:(NAME,TIME LEFT,RETRANSMISSIONS), NAME one of on, keepalive, timewait, persist.
    #[arg(short = 'o', long)]
    options: bool,
    /// Socket memory: skmem:(r,rb,t,tb,f,w,o,bl,d).
    #[arg(short = 'm', long)]
    memory: bool,
    /// Summary: totals by protocol and TCP sockets by state.
    #[arg(short = 's', long)]
    summary: bool,
    /// IPv4 sockets only.
    #[arg(short = '4', long)]
    ipv4: bool,
    /// IPv6 sockets only.
    #[arg(short = '6', long)]
    ipv6: bool,
    /// No header line.
    #[arg(short = 'H', long)]
    no_header: bool,
    /// JSON Lines, one object per socket (or one summary object with -s).
    #[arg(long)]
    json: bool,
    /// Filter words (see below); options may be mixed in.
    #[arg(
        value_name = "FILTER",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    filter: Vec<String>,
}

/// The options alone, to parse those typed after the filter.
#[derive(Parser)]
#[command(name = "tcpscope ss", no_binary_name = true, disable_help_flag = true)]
struct LateOptions {
    #[command(flatten)]
    args: SsArgs,
}

impl SsArgs {
    /// Take options typed among the filter words (`ss state listening -n`).
    fn merge_late_options(&mut self) -> Result<(), String> {
        let (flags, words): (Vec<String>, Vec<String>) = std::mem::take(&mut self.filter)
            .into_iter()
            .partition(|w| w.starts_with('-') && w.len() > 1);
        self.filter = words;
        if flags.is_empty() {
            return Ok(());
        }
        let late = LateOptions::try_parse_from(&flags)
            .map_err(|e| e.to_string().trim_end().to_string())?
            .args;
        if let Some(unknown) = late.filter.first() {
            return Err(format!(
                "unknown option '{unknown}' (see `tcpscope ss --help`)"
            ));
        }
        self.tcp |= late.tcp;
        self.udp |= late.udp;
        self.numeric |= late.numeric;
        self.listening |= late.listening;
        self.all |= late.all;
        self.info |= late.info;
        self.processes |= late.processes;
        self.extended |= late.extended;
        self.options |= late.options;
        self.memory |= late.memory;
        self.summary |= late.summary;
        self.ipv4 |= late.ipv4;
        self.ipv6 |= late.ipv6;
        self.no_header |= late.no_header;
        self.json |= late.json;
        Ok(())
    }
}

/// The state as ss prints it.
fn ss_state(s: &Socket) -> &'static str {
    match s.state {
        tcp_state::ESTABLISHED => "ESTAB",
        tcp_state::SYN_SENT => "SYN-SENT",
        tcp_state::SYN_RECV | tcp_state::NEW_SYN_RECV => "SYN-RECV",
        tcp_state::FIN_WAIT1 => "FIN-WAIT-1",
        tcp_state::FIN_WAIT2 => "FIN-WAIT-2",
        tcp_state::TIME_WAIT => "TIME-WAIT",
        tcp_state::CLOSE => "UNCONN",
        tcp_state::CLOSE_WAIT => "CLOSE-WAIT",
        tcp_state::LAST_ACK => "LAST-ACK",
        tcp_state::LISTEN => "LISTEN",
        tcp_state::CLOSING => "CLOSING",
        _ => "UNKNOWN",
    }
}

/// An endpoint as ss prints it: `*` for a zero port and for the
/// unspecified IPv6 address of a socket that also takes IPv4 (not
/// IPV6_V6ONLY), brackets around other IPv6 addresses.
fn ss_addr(a: &SocketAddr, v6only: bool) -> String {
    let ip = match a {
        SocketAddr::V4(v) => v.ip().to_string(),
        SocketAddr::V6(v) if v.ip().is_unspecified() && !v6only => "*".to_string(),
        SocketAddr::V6(v) => format!("[{}]", v.ip()),
    };
    if a.port() == 0 {
        format!("{ip}:*")
    } else {
        format!("{ip}:{}", a.port())
    }
}

/// ss's timer names, by sock_diag's idiag_timer.
fn ss_timer(t: u8) -> Option<&'static str> {
    match t {
        1 => Some("on"),
        2 => Some("keepalive"),
        3 => Some("timewait"),
        4 => Some("persist"),
        _ => None,
    }
}

/// Milliseconds as ss's print_ms_timer writes them (`59sec`, `119min`, `1.500ms`...).
fn ss_ms(timeout: u32) -> String {
    let mut secs = timeout / 1000;
    let minutes = secs / 60;
    secs %= 60;
    let mut msecs = timeout % 1000;
    let mut out = String::new();
    if minutes > 0 {
        msecs = 0;
        out.push_str(&format!("{minutes}min"));
        if minutes > 9 {
            secs = 0;
        }
    }
    if secs > 0 {
        if secs > 9 {
            msecs = 0;
        }
        out.push_str(&format!("{secs}{}", if msecs > 0 { "." } else { "sec" }));
    }
    if msecs > 0 {
        out.push_str(&format!("{msecs:03}ms"));
    }
    out
}

/// One line of `ss --json` (type `socket`).
#[derive(Serialize)]
struct SocketJson {
    #[serde(rename = "type")]
    kind: &'static str,
    netid: &'static str,
    state: &'static str,
    ss_state: &'static str,
    recv_q: u32,
    send_q: u32,
    /// Half-open handshakes of a listener; null on other sockets.
    syn_recv: Option<u32>,
    local: String,
    /// Null for a listener or an unconnected socket.
    peer: Option<String>,
    uid: u32,
    inode: u32,
    cookie: u64,
    timer: Option<&'static str>,
    timer_ms: Option<u32>,
    timer_retrans: Option<u8>,
    process: Option<String>,
    users: Vec<UserJson>,
    note: Option<&'static str>,
    info: Option<InfoJson>,
    skmem: Option<SkmemJson>,
}

#[derive(Serialize)]
struct UserJson {
    command: String,
    pid: u32,
    fd: u32,
}

#[derive(Serialize)]
struct SkmemJson {
    rmem_alloc: u32,
    rcvbuf: u32,
    wmem_alloc: u32,
    sndbuf: u32,
    fwd_alloc: u32,
    wmem_queued: u32,
    optmem: u32,
    backlog: u32,
    drops: u32,
}

impl From<[u32; 9]> for SkmemJson {
    fn from(v: [u32; 9]) -> SkmemJson {
        SkmemJson {
            rmem_alloc: v[0],
            rcvbuf: v[1],
            wmem_alloc: v[2],
            sndbuf: v[3],
            fwd_alloc: v[4],
            wmem_queued: v[5],
            optmem: v[6],
            backlog: v[7],
            drops: v[8],
        }
    }
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
    wscale: (u8, u8),
}

/// The slow-start threshold, `None` while it is "infinite".
fn ssthresh(i: &TcpInfo) -> Option<u32> {
    (i.snd_ssthresh < 0x7fff_ffff).then_some(i.snd_ssthresh)
}

impl From<&TcpInfo> for InfoJson {
    fn from(i: &TcpInfo) -> InfoJson {
        InfoJson {
            rtt_ms: i.rtt_us as f64 / 1e3,
            rttvar_ms: i.rttvar_us as f64 / 1e3,
            rto_ms: i.rto_us as f64 / 1e3,
            cwnd: i.snd_cwnd,
            ssthresh: ssthresh(i),
            retransmits: i.retransmits,
            total_retrans: i.total_retrans,
            bytes_acked: i.bytes_acked,
            bytes_received: i.bytes_received,
            delivery_rate: i.delivery_rate,
            mss: i.snd_mss,
            wscale: i.wscale,
        }
    }
}

/// `-i`'s words, with ss's keys.
fn info_words(i: &TcpInfo) -> String {
    let mut w = format!(
        "wscale:{},{} rto:{} rtt:{}/{} mss:{} cwnd:{}",
        i.wscale.0,
        i.wscale.1,
        i.rto_us as f64 / 1e3,
        i.rtt_us as f64 / 1e3,
        i.rttvar_us as f64 / 1e3,
        i.snd_mss,
        i.snd_cwnd
    );
    if let Some(t) = ssthresh(i) {
        w.push_str(&format!(" ssthresh:{t}"));
    }
    w.push_str(&format!(
        " bytes_acked:{} bytes_received:{}",
        i.bytes_acked, i.bytes_received
    ));
    if i.retransmits > 0 || i.total_retrans > 0 {
        w.push_str(&format!(" retrans:{}/{}", i.retransmits, i.total_retrans));
    }
    w.push_str(&format!(
        " lastsnd:{} lastrcv:{} delivery_rate:{}bps",
        i.last_data_sent_ms,
        i.last_data_recv_ms,
        i.delivery_rate * 8
    ));
    w
}

/// With both -l and -a, the one typed last wins, as in ss (`-tlan` is all
/// sockets, `-taln` listeners only).
fn last_of_listening_and_all(words: impl Iterator<Item = String>) -> Option<char> {
    let mut last = None;
    for w in words {
        match w.as_str() {
            "--listening" => last = Some('l'),
            "--all" => last = Some('a'),
            w if w.starts_with('-') && !w.starts_with("--") => {
                for c in w.chars().skip(1) {
                    if c == 'l' || c == 'a' {
                        last = Some(c);
                    }
                }
            }
            _ => {}
        }
    }
    last
}

/// Which sockets the options and `state` words select, as a state mask.
fn state_mask(args: &SsArgs, f: &Filter) -> u32 {
    let all = ss_filter::state_mask("all").unwrap_or(0);
    let base = if let Some(m) = f.states {
        m
    } else if args.all {
        all
    } else if args.listening {
        (1 << tcp_state::LISTEN) | (1 << tcp_state::CLOSE)
    } else {
        // ss's default: connections, without TIME-WAIT and SYN-RECV.
        ss_filter::state_mask("connected").unwrap_or(0)
            & !((1 << tcp_state::TIME_WAIT) | (1 << tcp_state::SYN_RECV))
    };
    base & !f.excluded
}

pub fn ss(mut args: SsArgs) -> anyhow::Result<ExitCode> {
    args.merge_late_options()
        .map_err(|e| crate::Usage(format!("ss: {e}")))?;
    let filter = ss_filter::parse(&args.filter).map_err(|e| crate::Usage(format!("ss: {e}")))?;
    let _ = args.numeric;
    if args.listening && args.all {
        match last_of_listening_and_all(std::env::args().skip(2)) {
            Some('a') => args.listening = false,
            _ => args.all = false,
        }
    }
    if args.summary {
        return summary(&args);
    }
    let mask = state_mask(&args, &filter);
    let (tcp, udp) = (args.tcp || !args.udp, args.udp);
    let mut socks = Vec::new();
    if tcp {
        // A TCP socket in CLOSE is bound but neither listening nor connected.
        socks.extend(diag::sockets(libc::IPPROTO_TCP as u8, mask).context("ss")?);
    }
    if udp {
        socks.extend(diag::sockets(libc::IPPROTO_UDP as u8, mask).context("ss")?);
    }
    let half_open = half_open(&diag::tcp_sockets(1 << tcp_state::SYN_RECV).context("ss")?);
    socks.retain(|s| {
        mask & (1 << s.state) != 0
            && !(args.ipv4 && s.local.is_ipv6())
            && !(args.ipv6 && s.local.is_ipv4())
            && filter.expr.as_ref().is_none_or(|e| e.matches(s))
    });
    let owners = if args.processes {
        diag::owners()
    } else {
        HashMap::new()
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    let r = if args.json {
        socks.iter().try_for_each(|s| {
            let rec = json_record(s, &half_open, &owners, &args);
            serde_json::to_writer(&mut out, &rec)
                .map_err(io::Error::from)
                .and_then(|_| writeln!(out))
        })
    } else {
        // As ss: no State column when the filter leaves a single state.
        let state_col = mask.count_ones() != 1;
        table(
            &mut out,
            &socks,
            &half_open,
            &owners,
            &args,
            tcp && udp,
            state_col,
        )
    };
    Ok(crate::out::status("ss", r.and_then(|_| out.flush())))
}

fn is_listener(s: &Socket) -> bool {
    s.state == tcp_state::LISTEN
        || (s.protocol == libc::IPPROTO_UDP as u8 && s.state == tcp_state::CLOSE)
}

fn users_text(users: &[(String, u32, u32)]) -> String {
    let each: Vec<String> = users
        .iter()
        .map(|(c, pid, fd)| format!("(\"{c}\",pid={pid},fd={fd})"))
        .collect();
    format!("users:({})", each.join(","))
}

fn json_record(
    s: &Socket,
    half_open: &HashMap<SocketAddr, u32>,
    owners: &HashMap<u32, Vec<(String, u32, u32)>>,
    args: &SsArgs,
) -> SocketJson {
    let listen = s.state == tcp_state::LISTEN;
    let users = owners.get(&s.inode).cloned().unwrap_or_default();
    SocketJson {
        kind: "socket",
        netid: if s.protocol == libc::IPPROTO_UDP as u8 {
            "udp"
        } else {
            "tcp"
        },
        state: state_name(s.state),
        ss_state: ss_state(s),
        recv_q: s.recv_q,
        send_q: s.send_q,
        syn_recv: listen.then(|| half_open.get(&s.local).copied().unwrap_or(0)),
        local: s.local.to_string(),
        peer: (!is_listener(s)).then(|| s.peer.to_string()),
        uid: s.uid,
        inode: s.inode,
        cookie: s.cookie,
        timer: timer_name(s.timer),
        timer_ms: timer_name(s.timer).map(|_| s.expires_ms),
        timer_retrans: timer_name(s.timer).map(|_| s.retrans),
        process: users.first().map(|(c, pid, _)| format!("{c}({pid})")),
        users: users
            .into_iter()
            .map(|(command, pid, fd)| UserJson { command, pid, fd })
            .collect(),
        note: accept_queue_note(s),
        // A listener's tcp_info says nothing about a connection.
        info: if args.info && !listen {
            s.info.as_ref().map(InfoJson::from)
        } else {
            None
        },
        skmem: if args.memory {
            s.skmem.map(SkmemJson::from)
        } else {
            None
        },
    }
}

fn table(
    out: &mut impl Write,
    socks: &[Socket],
    half_open: &HashMap<SocketAddr, u32>,
    owners: &HashMap<u32, Vec<(String, u32, u32)>>,
    args: &SsArgs,
    netid: bool,
    state_col: bool,
) -> io::Result<()> {
    // Each row: the fixed columns, the words after them, continuation lines.
    let mut rows: Vec<(Vec<String>, String, Vec<String>)> = Vec::new();
    for s in socks {
        let listen = s.state == tcp_state::LISTEN;
        let mut cols = Vec::new();
        if netid {
            cols.push(
                if s.protocol == libc::IPPROTO_UDP as u8 {
                    "udp"
                } else {
                    "tcp"
                }
                .to_string(),
            );
        }
        if state_col {
            cols.push(ss_state(s).to_string());
        }
        cols.push(s.recv_q.to_string());
        cols.push(s.send_q.to_string());
        cols.push(ss_addr(&s.local, s.v6only));
        let peer = if is_listener(s) {
            SocketAddr::new(s.peer.ip(), 0)
        } else {
            s.peer
        };
        cols.push(ss_addr(&peer, s.v6only));
        let mut words: Vec<String> = Vec::new();
        if let Some(u) = owners.get(&s.inode) {
            words.push(users_text(u));
        }
        if args.options {
            if let Some(t) = ss_timer(s.timer) {
                words.push(format!("timer:({t},{},{})", ss_ms(s.expires_ms), s.retrans));
            }
        }
        if args.extended {
            if s.uid != 0 {
                words.push(format!("uid:{}", s.uid));
            }
            words.push(format!("ino:{} sk:{:x}", s.inode, s.cookie));
        }
        if listen && s.protocol == libc::IPPROTO_TCP as u8 {
            words.push(format!(
                "syn-recv:{}",
                half_open.get(&s.local).copied().unwrap_or(0)
            ));
        }
        let mut more = Vec::new();
        let mut detail = Vec::new();
        if args.memory {
            if let Some(m) = s.skmem {
                detail.push(format!(
                    "skmem:(r{},rb{},t{},tb{},f{},w{},o{},bl{},d{})",
                    m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8]
                ));
            }
        }
        if args.info && !listen {
            if let Some(i) = &s.info {
                detail.push(info_words(i));
            }
        }
        if !detail.is_empty() {
            more.push(format!("\t {}", detail.join(" ")));
        }
        if let Some(note) = accept_queue_note(s) {
            more.push(format!("\t note: {note}"));
        }
        rows.push((cols, words.join(" "), more));
    }
    let mut header: Vec<&str> = Vec::new();
    if netid {
        header.push("Netid");
    }
    if state_col {
        header.push("State");
    }
    header.extend([
        "Recv-Q",
        "Send-Q",
        "Local Address:Port",
        "Peer Address:Port",
    ]);
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for (cols, _, _) in &rows {
        for (w, c) in widths.iter_mut().zip(cols) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cols: &[String], tail: &str| -> String {
        let mut l = String::new();
        for (i, (c, w)) in cols.iter().zip(&widths).enumerate() {
            if i > 0 {
                l.push(' ');
            }
            l.push_str(&format!("{c:<w$}"));
        }
        if !tail.is_empty() {
            l.push(' ');
            l.push_str(tail);
        }
        l.trim_end().to_string()
    };
    if !args.no_header {
        let h: Vec<String> = header.iter().map(|h| h.to_string()).collect();
        writeln!(
            out,
            "{}",
            line(&h, if args.processes { "Process" } else { "" })
        )?;
    }
    for (cols, words, more) in &rows {
        writeln!(out, "{}", line(cols, words))?;
        for m in more {
            writeln!(out, "{m}")?;
        }
    }
    Ok(())
}

/// One line of `ss -s --json` (type `socket_summary`).
#[derive(Serialize)]
struct SummaryJson {
    #[serde(rename = "type")]
    kind: &'static str,
    total: i64,
    tcp_total: i64,
    tcp_estab: i64,
    tcp_closed: i64,
    tcp_orphaned: i64,
    tcp_timewait: i64,
    by_state: Vec<(String, u32)>,
}

/// `ss -s`: ss's own lines from sockstat and snmp, then TCP sockets by state.
fn summary(args: &SsArgs) -> anyhow::Result<ExitCode> {
    let st = SockStat::read().context("ss -s")?;
    let snmp = Snapshot::read().context("ss -s")?;
    let alloc = st.get("TCP", "alloc");
    let tw = st.get("TCP", "tw");
    let (tcp4, tcp6) = (st.get("TCP", "inuse"), st.get("TCP6", "inuse"));
    let estab = snmp.get("Tcp", "CurrEstab").unwrap_or(0);
    let socks = diag::tcp_sockets(diag::ALL_STATES).context("ss -s")?;
    let mut by_state: Vec<(String, u32)> = Vec::new();
    for s in &socks {
        let name = ss_state(s).to_string();
        match by_state.iter_mut().find(|(n, _)| *n == name) {
            Some((_, n)) => *n += 1,
            None => by_state.push((name, 1)),
        }
    }
    by_state.sort();
    let mut out = io::BufWriter::new(io::stdout().lock());
    let r = if args.json {
        let rec = SummaryJson {
            kind: "socket_summary",
            total: st.get("sockets", "used"),
            tcp_total: alloc + tw,
            tcp_estab: estab,
            tcp_closed: alloc - (tcp4 + tcp6 - tw),
            tcp_orphaned: st.get("TCP", "orphan"),
            tcp_timewait: tw,
            by_state,
        };
        serde_json::to_writer(&mut out, &rec)
            .map_err(io::Error::from)
            .and_then(|_| writeln!(out))
    } else {
        let row =
            |name: &str, v4: i64, v6: i64| format!("{name}\t  {:<9} {:<9} {:<9}", v4 + v6, v4, v6);
        let (raw4, raw6) = (st.get("RAW", "inuse"), st.get("RAW6", "inuse"));
        let (udp4, udp6) = (st.get("UDP", "inuse"), st.get("UDP6", "inuse"));
        let states: Vec<String> = by_state.iter().map(|(n, c)| format!("{n} {c}")).collect();
        write!(
            out,
            "Total: {}\nTCP:   {} (estab {estab}, closed {}, orphaned {}, timewait {tw})\n\n\
             Transport Total     IP        IPv6\n{}\n{}\n{}\n{}\n{}\n\n\
             TCP sockets by state (sock_diag): {}\n",
            st.get("sockets", "used"),
            alloc + tw,
            alloc - (tcp4 + tcp6 - tw),
            st.get("TCP", "orphan"),
            row("RAW", raw4, raw6),
            row("UDP", udp4, udp6),
            row("TCP", tcp4, tcp6),
            row("INET", raw4 + udp4 + tcp4, raw6 + udp6 + tcp6),
            row("FRAG", st.get("FRAG", "inuse"), st.get("FRAG6", "inuse")),
            if states.is_empty() {
                "none".to_string()
            } else {
                states.join(", ")
            }
        )
    };
    Ok(crate::out::status("ss", r.and_then(|_| out.flush())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_read_as_ss_prints_them() {
        assert_eq!(ss_ms(59_000), "59sec");
        assert_eq!(ss_ms(7_140_000), "119min");
        assert_eq!(ss_ms(1_500), "1.500ms");
        assert_eq!(ss_ms(200), "200ms");
        assert_eq!(ss_ms(61_000), "1min1sec");
    }

    #[test]
    fn options_after_the_filter_are_options() {
        let mut a = SsArgs {
            filter: ["state", "time-wait", "-tn", "-o"]
                .map(String::from)
                .to_vec(),
            ..SsArgs::default()
        };
        a.merge_late_options().unwrap();
        assert!(a.tcp && a.numeric && a.options);
        assert_eq!(a.filter, ["state", "time-wait"]);
        a.filter = vec!["-x".into()];
        assert!(a.merge_late_options().unwrap_err().contains("-x"));
    }
}

//! `tcpscope diagnose`: the findings of a capture in plain words, grouped
//! by symptom, most harmful first. Each finding says how many connections
//! show it, names examples with their packet numbers, tells what the
//! applications saw, the likely cause, what to change, and how to confirm
//! it on the hosts.
//!
//! Everything here rests on what the tracker decided from the wire (RST
//! causes and whether they were obeyed, withdrawn inferences, retries
//! nobody answered, zero windows); the labs check those decisions against
//! the kernel, and each lab's capture against the finding it must give.

use std::collections::HashMap;
use std::io::Write as _;

use serde::Serialize;
use tcpscope_track::{
    AppOutcome, Conn, ConnSummary, Correction, Flags, Retrying, RstCause, RstEffect, Side, State,
};
use tcpscope_wire::tcp::flags as tcpf;

use crate::json;
use crate::pipeline::{Output, Packet};
use crate::OutputError;

/// The kinds of finding, in the order they are ranked: what broke the
/// handshake or left a connection stuck comes first, because it explains
/// the resets and timeouts that follow from it; then the resets by cause;
/// then what slowed connections down; then what is worth knowing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// RSTs not at the next sequence number (ignored or challenged), or
    /// RSTs sent in the name of a side that went on sending: forged.
    ForgedResets,
    /// SYNs answered by RST: nothing listens.
    Refused,
    /// SYNs re-sent and never answered.
    SynUnanswered,
    /// The server never took a handshake the client completed: SYN-ACKs
    /// re-sent after the final ACK, or an RST where an ACK was due (a full
    /// accept queue, or the final ACK lost).
    FinalAckNotTaken,
    /// SYN-ACKs re-sent, the final ACK never seen.
    SynAckRetransmitted,
    /// One side's FIN acknowledged and the other silent: CLOSE-WAIT.
    HalfClosed,
    /// Keep-alive probes or retransmissions nobody answered: the peer
    /// vanished (a half-open connection).
    Unanswered,
    /// Connections ended by an RST (by cause).
    Reset(RstCause),
    /// A receiver advertised a zero window: a slow reader.
    ZeroWindow,
    /// Retransmissions (loss, or RTO stalls).
    Retransmissions,
    /// A four-tuple reused while its last connection held TIME-WAIT.
    TimeWaitReuse,
    /// Handshakes much slower than the others.
    SlowHandshake,
}

impl Kind {
    /// The machine word.
    pub fn key(self) -> String {
        match self {
            Kind::ForgedResets => "forged_resets".into(),
            Kind::Reset(c) => format!("reset_{}", c.key()),
            Kind::Refused => "refused".into(),
            Kind::Unanswered => "peer_vanished".into(),
            Kind::SynUnanswered => "syn_unanswered".into(),
            Kind::FinalAckNotTaken => "final_ack_not_taken".into(),
            Kind::SynAckRetransmitted => "synack_retransmitted".into(),
            Kind::ZeroWindow => "zero_window".into(),
            Kind::Retransmissions => "retransmissions".into(),
            Kind::HalfClosed => "half_closed".into(),
            Kind::TimeWaitReuse => "time_wait_reuse".into(),
            Kind::SlowHandshake => "slow_handshake".into(),
        }
    }

    /// How bad: an application got an error, something stalled, or worth knowing.
    pub fn severity(self) -> &'static str {
        match self {
            Kind::ForgedResets | Kind::Reset(_) | Kind::Refused | Kind::Unanswered => "error",
            Kind::SynUnanswered | Kind::FinalAckNotTaken | Kind::SynAckRetransmitted => "error",
            Kind::ZeroWindow | Kind::Retransmissions | Kind::HalfClosed => "warning",
            Kind::TimeWaitReuse | Kind::SlowHandshake => "info",
        }
    }

    /// The symptom, the likely cause, what to change, and how to confirm.
    /// The symptom in a few words.
    pub fn title(self) -> String {
        match self {
            Kind::Reset(c) => format!("connections reset ({})", c.key().replace('_', " ")),
            other => other.words().0.to_string(),
        }
    }

    fn words(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Kind::ForgedResets => (
                "RSTs the receiver did not obey, or that its supposed sender did not send",
                "an RST not at exactly the next sequence number is dropped (outside the window) or answered with a challenge ACK (inside it), RFC 5961; an RST after which its sender goes on sending came from elsewhere: a middlebox or an attacker injecting resets",
                "find who injects them (a firewall's idle timeout, an IPS, a load balancer); Linux already ignores those not at the next sequence number",
                "tcpdump on both hosts: an RST seen on one side only was injected in between; nstat -az TcpExtTCPChallengeACK",
            ),
            Kind::Reset(c) => (
                "connections reset",
                c.text(),
                match c {
                    RstCause::AcceptQueueAbort => "raise the listen() backlog and net.core.somaxconn, or accept faster; tcp_abort_on_overflow=0 makes the listener drop the ACK and retry instead of resetting",
                    RstCause::DataAfterClose => "make the client's idle timeout shorter than the server's keep-alive timeout, and retry idempotent requests that fail on a reused connection",
                    RstCause::NoSocket => "check whether the server restarted or closed the port; a full TIME-WAIT table (net.ipv4.tcp_max_tw_buckets) also leaves no socket",
                    RstCause::AbortUnread => "read the peer's data before close(), or shutdown(SHUT_WR) and drain the socket first (RFC 2525)",
                    RstCause::AbortLinger => "remove SO_LINGER with a zero timeout unless an abortive close is meant",
                    RstCause::TimeWaitAssassination => "net.ipv4.tcp_rfc1337=1 makes TIME-WAIT ignore RSTs",
                    _ => "look at the example packets",
                },
                match c {
                    RstCause::AcceptQueueAbort => "ss -ltn (Recv-Q at Send-Q: the accept queue is full); nstat -az TcpExtListenOverflows; sysctl net.ipv4.tcp_abort_on_overflow",
                    RstCause::DataAfterClose | RstCause::AbortUnread | RstCause::AbortLinger => "nstat -az TcpExtTCPAbortOnData TcpExtTCPAbortOnClose; tcpscope trace shows the kernel's reason for each RST",
                    _ => "tcpscope trace shows the kernel's reason for each RST",
                },
            ),
            Kind::Refused => (
                "connections refused",
                "nothing listens on the port (or a firewall rejects with tcp-reset, which looks the same)",
                "start the server, or point the client at the address and port it listens on",
                "ss -ltn on the server: is the port listed, on that address?",
            ),
            Kind::Unanswered => (
                "the peer stopped answering (a half-open connection)",
                "keep-alive probes or retransmissions went unanswered: the peer host vanished, rebooted, or the path dropped everything; the side that gives up gets ETIMEDOUT",
                "keep-alives find it sooner (SO_KEEPALIVE; net.ipv4.tcp_keepalive_time, _intvl, _probes; TCP_USER_TIMEOUT); net.ipv4.tcp_retries2 bounds retransmissions",
                "nstat -az TcpExtTCPAbortOnTimeout; ss -tno (the keepalive or on timer of the connection)",
            ),
            Kind::SynUnanswered => (
                "SYNs nobody answered",
                "the server host is unreachable, a firewall drops the SYNs, or the listener's SYN queue is full without syncookies (many clients at once: a SYN flood looks like this)",
                "check routing and firewalls; on the server, net.ipv4.tcp_syncookies=1 and a larger listen backlog (net.ipv4.tcp_max_syn_backlog); the client's net.ipv4.tcp_syn_retries bounds how long connect() waits",
                "on the server: nstat -az TcpExtListenDrops TcpExtTCPReqQFullDrop; ss -ltn",
            ),
            Kind::FinalAckNotTaken => (
                "handshakes the server never completed although the client did",
                "the client's final ACK left but the server never took it: its accept queue was full (tcp_abort_on_overflow=0 drops the ACK), or the ACK was lost on the way; the client believes it is connected while the server re-sends its SYN-ACK, then answers what the client sends with an RST once it has given up",
                "a full accept queue: raise the listen() backlog and net.core.somaxconn (the smaller binds), or accept faster; a lossy path: find the loss",
                "ss -ltn (Recv-Q reaching Send-Q) and nstat -az TcpExtListenOverflows on the server tell a full queue; if they stay at 0, the ACKs were lost",
            ),
            Kind::SynAckRetransmitted => (
                "SYN-ACKs re-sent, the handshake never completed",
                "the client's final ACK is lost, or the client is gone (or spoofed: a SYN flood): the server keeps a half-open connection and re-sends per net.ipv4.tcp_synack_retries",
                "find the loss on the path; under a flood, net.ipv4.tcp_syncookies=1",
                "ss -tn state syn-recv; nstat -az TcpExtTCPSynRetrans",
            ),
            Kind::ZeroWindow => (
                "a receiver's window closed to zero (a slow reader)",
                "the receiving application does not read as fast as data arrives; the sender stops and probes the window",
                "read faster (or in another thread), or give the socket a larger receive buffer (SO_RCVBUF, net.ipv4.tcp_rmem)",
                "ss -tmi (Recv-Q growing on the reader); nstat -az TcpExtTCPToZeroWindowAdv TcpExtTCPFromZeroWindowAdv",
            ),
            Kind::Retransmissions => (
                "retransmissions",
                "segments were lost on the path (or their ACKs were); a retransmission after a timeout stalls the connection for the RTO",
                "find the loss (an interface's errors, a congested link, a policer); SACK (net.ipv4.tcp_sack) repairs several holes per round trip",
                "nstat -az TcpRetransSegs TcpExtTCPTimeouts TcpExtTCPLostRetransmit; ss -ti (retrans:)",
            ),
            Kind::HalfClosed => (
                "connections left half closed (CLOSE-WAIT)",
                "one side's FIN was acknowledged and the other side never sent its own: its application has not called close() (a CLOSE-WAIT pile-up leaks sockets and file descriptors)",
                "close the socket when read() returns 0; look for a leak in the error paths",
                "ss -tan state close-wait (on the silent side); ls /proc/PID/fd | wc -l",
            ),
            Kind::TimeWaitReuse => (
                "four-tuples used again while the last connection held TIME-WAIT",
                "a new SYN on the same four-tuple ends the old TIME-WAIT (the server recycles it; a client reuses its own with net.ipv4.tcp_tw_reuse): fine, but a sign of many short connections from few ports",
                "reuse connections (keep-alive, pooling), or widen net.ipv4.ip_local_port_range",
                "ss -tan state time-wait | wc -l; nstat -az TcpExtTW TcpExtTWRecycled TcpExtTCPTimeWaitOverflow",
            ),
            Kind::SlowHandshake => (
                "handshakes much slower than the rest",
                "the SYN or SYN-ACK waited (a retransmission, a busy listener, or a long path)",
                "look at the example handshakes' packets",
                "ss -ltn; nstat -az TcpExtTCPSynRetrans",
            ),
        }
    }
}

/// What the packets of one connection showed, with the packet numbers to
/// look at.
#[derive(Clone, Copy, Debug, Default)]
struct Evidence {
    /// The first RST that took effect.
    rst: Option<u64>,
    /// The first RST not obeyed, or forged.
    forged: Option<u64>,
    forged_count: u32,
    /// The first SYN-ACK re-sent after the final ACK, or the RST that
    /// showed the server never took the handshake.
    synack_after_ack: Option<u64>,
    /// Since when a side has been in CLOSE-WAIT (client, server), and the
    /// longest any stayed there silent, with the packet that began it.
    close_wait_since: [Option<tcpscope_track::Ts>; 2],
    close_wait_longest: f64,
    close_wait_pkt: Option<u64>,
    /// Side i's FIN was acknowledged (it reached FIN-WAIT-2).
    fin_acked: [bool; 2],
    /// The first SYN or SYN-ACK re-sent.
    syn_retransmission: Option<u64>,
    synack_retransmission: Option<u64>,
    /// The first zero window.
    zero_window: Option<u64>,
    zero_windows: u32,
    /// The first retransmission of data or FIN.
    retransmission: Option<u64>,
    retransmissions: u32,
    data_packets: u32,
    /// The first keep-alive probe.
    keepalive: Option<u64>,
    /// The SYN that ended a TIME-WAIT (in the new connection) and which one.
    ended_time_wait: Option<(u64, u64)>,
    first: u64,
    last: u64,
}

/// The diagnosis of a capture.
#[derive(Default)]
pub struct Diagnose {
    json: bool,
    evidence: HashMap<u64, Evidence>,
    packets: u64,
    /// What `--json` or the text names the source.
    source: String,
    /// The file, for `source_file` in JSON.
    source_file: Option<String>,
}

/// One finding, as JSON (type "diagnosis") and as text.
#[derive(Serialize)]
pub struct Finding {
    #[serde(rename = "type")]
    kind_type: &'static str,
    /// 1 for the most harmful.
    pub rank: usize,
    /// `Kind::key`.
    pub kind: String,
    /// error, warning or info.
    pub severity: &'static str,
    /// The symptom.
    pub title: String,
    /// How many connections show it.
    pub connections: usize,
    /// Up to three of them.
    pub examples: Vec<Example>,
    /// What the applications saw, with how many of each.
    pub applications: Vec<AppSaw>,
    /// The likely cause.
    pub cause: &'static str,
    /// What to change.
    pub advice: &'static str,
    /// How to confirm it on the hosts.
    pub confirm: &'static str,
    /// The capture file (the first piece of a rotated set), or `None` for
    /// a live capture or a `read --diagnose`.
    pub source_file: Option<String>,
}

/// One example connection.
#[derive(Serialize)]
pub struct Example {
    /// Connection number.
    pub conn: u64,
    /// Its client.
    pub client: String,
    /// Its server.
    pub server: String,
    /// The packet numbers to look at (as `read -#` numbers them).
    pub packets: Vec<u64>,
    /// What happened there, in words.
    pub what: String,
}

/// How many applications saw one thing.
#[derive(Serialize)]
pub struct AppSaw {
    /// client or server.
    pub side: &'static str,
    /// `AppOutcome::key`.
    pub outcome: &'static str,
    /// The outcome in words.
    pub text: &'static str,
    /// How many.
    pub count: usize,
}

impl Diagnose {
    /// A diagnosis written as text, or as JSON Lines; `source` names the capture.
    pub fn new(json: bool, source: &str) -> Diagnose {
        Diagnose {
            json,
            source: source.to_string(),
            ..Diagnose::default()
        }
    }

    /// The same, of the capture file `file` (`source_file` in JSON).
    pub fn of_file(json: bool, source: &str, file: &str) -> Diagnose {
        Diagnose {
            source_file: Some(file.to_string()),
            ..Diagnose::new(json, source)
        }
    }

    /// The findings, most harmful first.
    pub fn findings(&self, conns: &[Conn]) -> Vec<Finding> {
        let mut groups: HashMap<Kind, Vec<(&Conn, ConnSummary, Evidence, String, Vec<u64>)>> =
            HashMap::new();
        let irtts: Vec<f64> = conns.iter().filter_map(|c| c.irtt).collect();
        let median = median(&irtts);
        for c in conns {
            let s = c.summary();
            let e = self.evidence.get(&c.id).copied().unwrap_or_default();
            for (kind, what, packets) in kinds(c, &s, &e, median) {
                groups
                    .entry(kind)
                    .or_default()
                    .push((c, s.clone(), e, what, packets));
            }
        }
        let mut kinds: Vec<Kind> = groups.keys().copied().collect();
        kinds.sort();
        kinds
            .into_iter()
            .enumerate()
            .map(|(i, kind)| {
                let list = &groups[&kind];
                let (_, cause, advice, confirm) = kind.words();
                let title = kind.title();
                let mut apps: Vec<AppSaw> = Vec::new();
                for (_, s, _, _, _) in list {
                    for (side, saw) in [(Side::Client, s.client_saw), (Side::Server, s.server_saw)]
                    {
                        if saw == AppOutcome::Nothing {
                            continue;
                        }
                        match apps
                            .iter_mut()
                            .find(|a| a.side == side.name() && a.outcome == saw.key())
                        {
                            Some(a) => a.count += 1,
                            None => apps.push(AppSaw {
                                side: side.name(),
                                outcome: saw.key(),
                                text: saw.text(),
                                count: 1,
                            }),
                        }
                    }
                }
                Finding {
                    kind_type: "diagnosis",
                    source_file: self.source_file.clone(),
                    rank: i + 1,
                    kind: kind.key(),
                    severity: kind.severity(),
                    title,
                    connections: list.len(),
                    examples: list
                        .iter()
                        .take(3)
                        .map(|(c, _, _, what, packets)| Example {
                            conn: c.id,
                            client: c.client.to_string(),
                            server: c.server.to_string(),
                            packets: packets.clone(),
                            what: what.clone(),
                        })
                        .collect(),
                    applications: apps,
                    cause,
                    advice,
                    confirm,
                }
            })
            .collect()
    }
}

/// Seconds in CLOSE-WAIT that make a connection half closed: an
/// application that reads EOF and closes takes milliseconds.
const HALF_CLOSED_S: f64 = 1.0;

fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// Every finding one connection shows: its kind, what happened in words,
/// and the packet numbers.
fn kinds(
    c: &Conn,
    s: &ConnSummary,
    e: &Evidence,
    median: Option<f64>,
) -> Vec<(Kind, String, Vec<u64>)> {
    let mut out = Vec::new();
    let p = |n: Option<u64>| n.into_iter().collect::<Vec<u64>>();
    if let Some(n) = e.forged {
        out.push((
            Kind::ForgedResets,
            format!(
                "{} RST(s) not obeyed or not sent by their supposed sender, first in packet {n}",
                e.forged_count
            ),
            vec![n],
        ));
    }
    let never_taken = e.synack_after_ack.is_some();
    // A connection the listener never took is told there, not as a reset.
    let reset = if never_taken {
        (None, None)
    } else {
        (s.reset_by, s.rst_cause)
    };
    if let (Some(by), Some(cause)) = reset {
        let kind = match cause {
            RstCause::AnswerToSyn => Kind::Refused,
            RstCause::KeepAliveTimeout | RstCause::RetransmissionTimeout => Kind::Unanswered,
            other => Kind::Reset(other),
        };
        out.push((kind, format!("RST from the {}", by.name()), p(e.rst)));
    } else if [Side::Client, Side::Server]
        .iter()
        .any(|&side| c.retrying(side) != Retrying::No && !c.retry_is_syn(side))
        || e.keepalive.is_some() && s.reset_by.is_none() && c.probes_unanswered()
    {
        out.push((
            Kind::Unanswered,
            "retransmissions or keep-alive probes nobody answered".into(),
            p(e.retransmission.or(e.keepalive)),
        ));
    }
    let syn_only = s.dir(Side::Server).packets == 0 && s.dir(Side::Client).syn;
    if syn_only && e.syn_retransmission.is_some() {
        out.push((
            Kind::SynUnanswered,
            format!(
                "SYN re-sent from packet {}, never answered; the client saw: {}",
                e.syn_retransmission.unwrap_or(0),
                s.client_saw.text()
            ),
            vec![e.first, e.syn_retransmission.unwrap_or(0)],
        ));
    }
    if let Some(n) = e.synack_after_ack {
        out.push((
            Kind::FinalAckNotTaken,
            format!("packet {n} shows the server never took the client's final ACK"),
            vec![n],
        ));
    } else if let Some(n) = e.synack_retransmission {
        if !c.server_spoke() {
            out.push((
                Kind::SynAckRetransmitted,
                format!("SYN-ACK re-sent in packet {n}, the handshake never completed"),
                vec![n],
            ));
        }
    }
    if let Some(n) = e.zero_window {
        out.push((
            Kind::ZeroWindow,
            format!(
                "{} zero-window advertisement(s), first in packet {n}",
                e.zero_windows
            ),
            vec![n],
        ));
    }
    if let Some(n) = e.retransmission {
        if !out.iter().any(|(k, _, _)| *k == Kind::Unanswered) {
            out.push((
                Kind::Retransmissions,
                format!(
                    "{} retransmission(s) of {} data segments, first in packet {n}",
                    e.retransmissions, e.data_packets
                ),
                vec![n],
            ));
        }
    }
    // A side in CLOSE-WAIT for a second or more, or still there at the end.
    let end = c.capture_end.unwrap_or(c.last);
    // (Only where the peer's FIN was acknowledged: a FIN nobody
    // acknowledged may never have arrived.)
    let acked = |i: usize| e.fin_acked[1 - i];
    let still = e
        .close_wait_since
        .iter()
        .enumerate()
        .filter(|(i, _)| acked(*i))
        .filter_map(|(_, t)| *t)
        .map(|t| end.since(t))
        .fold(0.0, f64::max);
    let longest = e.close_wait_longest.max(still);
    if longest >= HALF_CLOSED_S && !never_taken {
        out.push((
            Kind::HalfClosed,
            format!(
                "in CLOSE-WAIT for {longest:.1} s from packet {}: the peer's FIN was acknowledged and no FIN followed",
                e.close_wait_pkt.unwrap_or(0)
            ),
            p(e.close_wait_pkt),
        ));
    }
    if let Some((n, conn)) = e.ended_time_wait {
        out.push((
            Kind::TimeWaitReuse,
            format!("the SYN in packet {n} ended connection {conn}'s TIME-WAIT"),
            vec![n],
        ));
    }
    if let (Some(irtt), Some(m)) = (s.irtt, median) {
        if irtt > 0.2 && irtt > 3.0 * m {
            out.push((
                Kind::SlowHandshake,
                format!(
                    "handshake took {:.0} ms (the median is {:.0} ms)",
                    irtt * 1e3,
                    m * 1e3
                ),
                vec![e.first],
            ));
        }
    }
    out
}

impl Output for Diagnose {
    fn tracks(&self) -> bool {
        true
    }

    fn packet(&mut self, p: &Packet<'_>, _: &mut Vec<u8>) {
        let Some(t) = &p.tcp else {
            return;
        };
        self.packets += 1;
        let (seg, obs) = (t.seg, t.obs);
        let n = p.n;
        let e = self.evidence.entry(obs.conn).or_insert(Evidence {
            first: n,
            ..Evidence::default()
        });
        e.last = n;
        let f = obs.flags;
        let syn = seg.has(tcpf::SYN);
        let retransmitted = f.retransmitted();
        if seg.len > 0 {
            e.data_packets += 1;
        }
        if retransmitted {
            if syn && seg.has(tcpf::ACK) {
                e.synack_retransmission.get_or_insert(n);
            } else if syn {
                e.syn_retransmission.get_or_insert(n);
            } else {
                e.retransmission.get_or_insert(n);
                e.retransmissions += 1;
            }
        }
        if f.has(Flags::ZERO_WINDOW) {
            e.zero_window.get_or_insert(n);
            e.zero_windows += 1;
        }
        if f.has(Flags::KEEP_ALIVE) {
            e.keepalive.get_or_insert(n);
        }
        if let Some(v) = obs.rst {
            if v.effect == RstEffect::Accepted {
                e.rst.get_or_insert(n);
            } else {
                e.forged.get_or_insert(n);
                e.forged_count += 1;
            }
        }
        for tr in obs.transitions() {
            let i = tr.side as usize;
            if tr.to == State::FinWait2 {
                e.fin_acked[i] = true;
            }
            if tr.to == State::CloseWait {
                e.close_wait_since[i] = Some(seg.ts);
                e.close_wait_pkt.get_or_insert(n);
            } else if tr.from == State::CloseWait {
                if let Some(t) = e.close_wait_since[i].take() {
                    if e.fin_acked[1 - i] {
                        e.close_wait_longest = e.close_wait_longest.max(seg.ts.since(t));
                    }
                }
            }
        }
        let abort = obs
            .rst
            .is_some_and(|v| v.cause == RstCause::AcceptQueueAbort);
        match obs.correction {
            Some(Correction::FinalAckDropped) if !abort => {
                e.synack_after_ack.get_or_insert(n);
            }
            Some(Correction::RstNotFromSender(_)) => {
                e.forged.get_or_insert(e.rst.unwrap_or(n));
                e.forged_count += 1;
            }
            _ => {}
        }
        if let Some((old, _)) = obs.ended_time_wait {
            e.ended_time_wait = Some((n, old));
        }
    }

    fn wants_connections(&self) -> bool {
        true
    }

    fn finish(&mut self, conns: &[Conn], out: &mut Vec<u8>) -> Result<(), OutputError> {
        let findings = self.findings(conns);
        if self.json {
            for f in &findings {
                json::line(f, out);
            }
            return Ok(());
        }
        let missing = conns
            .iter()
            .filter(|c| c.missing_direction().is_some())
            .count();
        let _ = writeln!(
            out,
            "tcpscope diagnose: {}: {} TCP packet{} in {} connection{}",
            self.source,
            self.packets,
            if self.packets == 1 { "" } else { "s" },
            conns.len(),
            if conns.len() == 1 { "" } else { "s" }
        );
        if missing > 0 {
            let _ = writeln!(
                out,
                "note: {missing} connection(s) were captured in one direction only (a capture filter such as `dst port 80`, or a capture point that sees one way): what reached the side whose packets are missing is unknown (`conns` says \"cannot tell\" for it)"
            );
        }
        if findings.is_empty() {
            let _ = writeln!(
                out,
                "no findings: no resets, refusals, timeouts, retransmissions, zero windows or half-closed connections"
            );
            return Ok(());
        }
        for f in &findings {
            let _ = writeln!(
                out,
                "\n{}. [{}] {}: {} connection{}",
                f.rank,
                f.severity,
                f.title,
                f.connections,
                if f.connections == 1 { "" } else { "s" }
            );
            let _ = writeln!(out, "   cause: {}", f.cause);
            if !f.applications.is_empty() {
                let _ = writeln!(out, "   the applications saw:");
                for a in &f.applications {
                    let _ = writeln!(out, "     {} ({}x): {}", a.side, a.count, a.text);
                }
            }
            let _ = writeln!(out, "   examples:");
            for x in &f.examples {
                let packets: Vec<String> = x.packets.iter().map(|p| format!("#{p}")).collect();
                let _ = writeln!(
                    out,
                    "     conn {} {} > {}: {} (packets {})",
                    x.conn,
                    x.client,
                    x.server,
                    x.what,
                    packets.join(" ")
                );
            }
            let _ = writeln!(out, "   what to change: {}", f.advice);
            let _ = writeln!(out, "   confirm: {}", f.confirm);
        }
        Ok(())
    }
}

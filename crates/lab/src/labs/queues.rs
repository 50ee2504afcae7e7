//! When handshakes fail or wait: SYNs and SYN-ACKs nobody answers, a full
//! accept queue, the backlog's real limit, a full SYN queue and a SYN flood.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::time::Duration;

use tcpscope_kernel::diag::{tcp_state, Socket};
use tcpscope_kernel::trace::TcpEventKind;
use tcpscope_wire::tcp::flags::{ACK, FIN, RST, SYN};

use super::util::{self, kernel_path};
use crate::analysis::{Analysis, Pkt};
use crate::app::App;
use crate::check::{Check, Source};
use crate::env::{Env, Host, Record, PORT};
use crate::link::{Dir, DropRule, LinkSpec, SERVER_ADDR};
use crate::raw::{tcp_packet, RawSocket};
use crate::{Explanation, Lab, LabError};

/// Gaps in seconds between consecutive packets.
fn gaps(p: &[&Pkt]) -> Vec<f64> {
    p.windows(2).map(|w| w[1].t - w[0].t).collect()
}

fn near(x: f64, want: f64) -> bool {
    (x - want).abs() < 0.25
}

fn gaps_text(g: &[f64]) -> String {
    let v: Vec<String> = g.iter().map(|x| format!("{x:.2} s")).collect();
    v.join(", ")
}

/// Kernel events of one kind on the server's side.
fn kernel_count(r: &Record, host: Host, f: impl Fn(&TcpEventKind) -> bool) -> usize {
    r.kernel
        .iter()
        .filter(|e| Host::of(&e.local) == Some(host) && f(&e.kind))
        .count()
}

/// The listener on `port` in a socket list.
fn listener(s: &[Socket], port: u16) -> Option<&Socket> {
    s.iter()
        .find(|s| s.state == tcp_state::LISTEN && s.local.port() == port)
}

/// Request sockets (SYN-RECEIVED) of the listener on `port`.
fn half_open(s: &[Socket], port: u16) -> usize {
    s.iter()
        .filter(|s| {
            (s.state == tcp_state::SYN_RECV || s.state == tcp_state::NEW_SYN_RECV)
                && s.local.port() == port
        })
        .count()
}

/// `lab syn-retries`.
pub struct SynRetries;

impl Lab for SynRetries {
    fn name(&self) -> &'static str {
        "syn-retries"
    }
    fn what(&self) -> &'static str {
        "SYNs nobody answers: the client re-sends per tcp_syn_retries, 1 s apart (tcp_syn_linear_timeouts) or doubling, then connect() fails with ETIMEDOUT"
    }
    fn link(&self) -> LinkSpec {
        LinkSpec {
            delay: Duration::from_millis(5),
            drops: vec![DropRule {
                name: "every SYN to the server",
                dir: Dir::ToServer,
                matches: Box::new(|v| v.is_syn()),
                after: None,
                during: None,
                max: None,
            }],
            ..LinkSpec::default()
        }
    }
    fn sysctls(&self) -> Vec<(Host, &'static str, String)> {
        vec![(Host::Client, "net.ipv4.tcp_syn_retries", "2".into())]
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        // First with this kernel's default tcp_syn_linear_timeouts, then
        // with it at 0 (classic exponential backoff).
        util::client(env, |app, to| {
            let _ = app.connect(to);
            Ok(())
        })?;
        env.client
            .set_sysctl("net.ipv4.tcp_syn_linear_timeouts", "0")
            .map_err(|e| LabError::Setup("setting tcp_syn_linear_timeouts", e))?;
        util::client(env, |app, to| {
            let _ = app.connect(to);
            Ok(())
        })
    }
    fn settle(&self) -> Duration {
        Duration::from_millis(100)
    }
    fn checks(&self, r: &Record, a: &Analysis) -> Vec<Check> {
        let have = r.kernel_missing.is_none();
        let syns = |c: u64| -> Vec<&Pkt> { a.of_conn(c).filter(|p| p.has(SYN)).collect() };
        let (s1, s2) = (syns(1), syns(2));
        let (g1, g2) = (gaps(&s1), gaps(&s2));
        let connects: Vec<_> = r.calls("client", "connect").collect();
        let timed_out = connects.len() == 2
            && connects
                .iter()
                .all(|c| c.errno_code == Some(libc::ETIMEDOUT));
        let retrans = kernel_count(r, Host::Client, |k| {
            matches!(k, TcpEventKind::Retransmit { .. })
        });
        let same_isn = |s: &[&Pkt]| s.windows(2).all(|w| w[0].seq == w[1].seq);
        let resent = (s1.len() + s2.len()).saturating_sub(2) as i64;
        vec![
            Check::new(Source::Wire, "with tcp_syn_linear_timeouts at its default (4), every re-sent SYN comes 1 s after the last", s1.len() >= 3 && g1.iter().all(|g| near(*g, 1.0)) && same_isn(&s1), format!("{} SYNs: {}", s1.len(), gaps_text(&g1))),
            Check::new(Source::Wire, "with tcp_syn_linear_timeouts = 0, the wait doubles: 3 SYNs (tcp_syn_retries = 2), 1 s then 2 s apart", s2.len() == 3 && near(g2[0], 1.0) && near(g2[1], 2.0) && same_isn(&s2), format!("{} SYNs: {}", s2.len(), gaps_text(&g2))),
            Check::new(Source::App, "both connect() calls fail with ETIMEDOUT after the same 7 s (1 + 2 + 4: tcp_syn_retries bounds the time, as if doubling)", timed_out && (connects[0].duration_s - 7.0).abs() < 0.5 && (connects[1].duration_s - 7.0).abs() < 0.5, r.calls_text("client", "connect")),
            Check::new(Source::Wire, "so the linear timeouts send more SYNs in that time", s1.len() > s2.len(), format!("{} against {}", s1.len(), s2.len())),
            Check::kernel(have, "kernel: both sockets enter SYN-SENT, and sock_diag finds none left at the end", kernel_path(r, Host::Client).iter().filter(|s| **s == "SYN-SENT").count() == 2 && r.sockets[Host::Client as usize].iter().all(|s| s.peer.port() != PORT), format!("{}; {retrans} tcp_retransmit_skb events", kernel_path(r, Host::Client).join(" -> "))),
            Check::new(Source::Counters, "the client counts every re-sent SYN as TCPSynRetrans, and 2 AttemptFails and TCPAbortOnTimeout", r.delta(Host::Client, "TCPSynRetrans") == resent && r.delta(Host::Client, "AttemptFails") == 2 && r.delta(Host::Client, "TCPAbortOnTimeout") == 2, format!("{resent} re-sent on the wire; TCPSynRetrans +{}, AttemptFails +{}, TCPAbortOnTimeout +{}", r.delta(Host::Client, "TCPSynRetrans"), r.delta(Host::Client, "AttemptFails"), r.delta(Host::Client, "TCPAbortOnTimeout"))),
            Check::new(Source::Tcpscope, "tcpscope: both attempts are S0 (a SYN, no reply) and the re-sent SYNs are retransmissions", a.conns.len() == 2 && a.conns.iter().all(|c| c.conn_state.name() == "S0") && a.of_conn(1).skip(1).all(|p| p.analysis.has(tcpscope_track::Flags::RETRANSMISSION)), format!("{:?}", a.conns.iter().map(|c| c.conn_state.name()).collect::<Vec<_>>())),
        ]
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "A SYN that gets no answer (a firewall that drops, a host that is down, a full SYN queue) is re-sent by the \
client's kernel. The first retransmission comes after the initial RTO of 1 s. Since Linux 6.5, \
tcp_syn_linear_timeouts (default 4) keeps the first retries 1 s apart before the doubling starts. tcp_syn_retries \
does not count SYNs, though: the kernel gives up when the time that many doubling retries would take has passed \
(1 + 2 + 4 = 7 s for 2; about 127 s for the default 6). So with linear timeouts connect() fails after the same time \
but sends more SYNs in it (6 here instead of 3), and recovers sooner from a single lost SYN. Then connect() fails \
with ETIMEDOUT, \"Connection timed out\". A drop looks like this; a reject (rst-refused) fails at once.",
            tune: &[
                "net.ipv4.tcp_syn_retries (default 6) and net.ipv4.tcp_syn_linear_timeouts (default 4): how long connect() waits",
                "a connect timeout in the application, shorter than the kernel's, for a fast failover",
            ],
            production: "Connections that take exactly 1 s, 2 s or 3 s longer than usual had their SYN lost; many S0 \
connections in tcpscope conns (or Zeek) toward one server mean it drops SYNs (firewall, full SYN queue).",
        }
    }
}

/// `lab synack-retries`.
pub struct SynackRetries;

impl Lab for SynackRetries {
    fn name(&self) -> &'static str {
        "synack-retries"
    }
    fn what(&self) -> &'static str {
        "final ACKs lost: the server re-sends its SYN-ACK per tcp_synack_retries, then forgets the half-open connection the client believes open"
    }
    fn link(&self) -> LinkSpec {
        LinkSpec {
            delay: Duration::from_millis(5),
            drops: vec![DropRule {
                name: "the client's pure ACKs for the first 6 s",
                dir: Dir::ToServer,
                matches: Box::new(|v| v.flags & (SYN | FIN | RST | ACK) == ACK && v.len == 0),
                after: None,
                during: Some(Duration::from_secs(6)),
                max: None,
            }],
            ..LinkSpec::default()
        }
    }
    fn sysctls(&self) -> Vec<(Host, &'static str, String)> {
        vec![(Host::Server, "net.ipv4.tcp_synack_retries", "2".into())]
    }
    /// At the server's end: the final ACKs that never arrive are not there.
    fn capture_at(&self) -> Host {
        Host::Server
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        let srv = util::server(env, 16, |_app, l| {
            // Listen, and wait; nothing will ever be accepted.
            std::thread::sleep(Duration::from_millis(8500));
            drop(l);
            Ok(())
        })?;
        let client = env
            .client
            .spawn({
                let app = env.log.app("client");
                let to = env.server_addr();
                move || {
                    let mut s = app.connect(to)?;
                    s.set_read_timeout(Some(Duration::from_secs(2)))?;
                    // The server gave up on the handshake at about 7 s.
                    std::thread::sleep(Duration::from_millis(7700));
                    let _ = app.write(&mut s, b"hello");
                    let _ = app.read(&mut s, 100);
                    app.close(s);
                    Ok(())
                }
            })
            .map_err(|e| LabError::Setup("starting the client", e))?;
        std::thread::sleep(Duration::from_millis(500));
        env.snapshot(Host::Server, "early")?;
        std::thread::sleep(Duration::from_millis(7100));
        env.snapshot(Host::Server, "late")?;
        client
            .join()
            .map_err(|_| LabError::App("client thread panicked".into()))?
            .map_err(|e| LabError::App(format!("client: {e}")))?;
        util::join(srv)
    }
    fn checks(&self, r: &Record, a: &Analysis) -> Vec<Check> {
        let synacks: Vec<&Pkt> = a.of_conn(1).filter(|p| p.has(SYN | ACK)).collect();
        let g = gaps(&synacks);
        let rst = a.of_conn(1).any(|p| !p.from_client && p.has(RST));
        let resent = kernel_count(r, Host::Server, |k| {
            matches!(k, TcpEventKind::RetransmitSynAck)
        });
        vec![
            Check::new(
                Source::App,
                "connect() succeeds: the client is ESTABLISHED as soon as the SYN-ACK arrives",
                r.calls("client", "connect").all(|c| c.errno.is_none()),
                r.calls_text("client", "connect"),
            ),
            Check::new(
                Source::Wire,
                "captured at the server's end: no ACK from the client arrives until its data, after the server gave up",
                a.of_conn(1)
                    .take_while(|p| !(p.from_client && p.len > 0))
                    .all(|p| !(p.from_client && p.flags & (SYN | ACK) == ACK)),
                format!("{} packets captured at the server", a.packets.len()),
            ),
            Check::new(
                Source::Wire,
                "the server sends its SYN-ACK 3 times (tcp_synack_retries = 2), 1 s then 2 s apart",
                synacks.len() == 3 && near(g[0], 1.0) && near(g[1], 2.0),
                format!("{} SYN-ACKs, {}", synacks.len(), gaps_text(&g)),
            ),
            Check::new(
                Source::Kernel,
                "sock_diag: the server holds the connection as a SYN-RECV request at 0.5 s, and nothing by 7.6 s",
                half_open(r.snapshot("early").unwrap_or(&[]), PORT) == 1
                    && half_open(r.snapshot("late").unwrap_or(&[]), PORT) == 0,
                format!(
                    "{} then {} SYN-RECV ({resent} tcp_retransmit_synack events seen)",
                    half_open(r.snapshot("early").unwrap_or(&[]), PORT),
                    half_open(r.snapshot("late").unwrap_or(&[]), PORT)
                ),
            ),
            Check::new(
                Source::Counters,
                "the server counts 2 TCPSynRetrans",
                r.delta(Host::Server, "TCPSynRetrans") == 2,
                format!("TCPSynRetrans +{}", r.delta(Host::Server, "TCPSynRetrans")),
            ),
            Check::new(
                Source::Wire,
                "the client's first data, after the server gave up, is answered by an RST",
                rst,
                format!("{} packets", a.packets.len()),
            ),
            Check::new(
                Source::App,
                "the client's read() then fails with ECONNRESET",
                r.calls("client", "read")
                    .any(|c| c.errno_code == Some(libc::ECONNRESET)),
                r.calls_text("client", "read"),
            ),
            Check::new(
                Source::Tcpscope,
                "tcpscope marks the re-sent SYN-ACKs as retransmissions",
                synacks
                    .iter()
                    .skip(1)
                    .all(|p| p.analysis.has(tcpscope_track::Flags::RETRANSMISSION)),
                format!(
                    "{} flagged",
                    synacks
                        .iter()
                        .skip(1)
                        .filter(|p| p.analysis.has(tcpscope_track::Flags::RETRANSMISSION))
                        .count()
                ),
            ),
        ]
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "The client's kernel considers the connection open when the SYN-ACK arrives; connect() returns and the \
client sends its ACK. If that ACK is lost, the server still holds only a request socket in SYN-RECEIVED in its SYN \
queue and re-sends the SYN-ACK on a doubling timer (1 s, 2 s, ...) up to tcp_synack_retries times (5 by default, \
about 63 s). Each re-sent SYN-ACK draws another ACK from the client; while those are lost too, the server finally \
drops the request. The client does not know: its first data reaches a listener with no such connection and is \
answered with an RST, and the client gets ECONNRESET.",
            tune: &[
                "net.ipv4.tcp_synack_retries (default 5): how long the server keeps a half-open connection",
                "a client that sends first (HTTP) completes the handshake with its data even if the bare ACK was lost",
            ],
            production: "SYN-ACK retransmissions (TCPSynRetrans on the server, `tcpscope trace`'s \"retransmit SYN-ACK\") \
with the client's ACK in the capture mean the server dropped it: usually a full accept queue (see accept-queue-overflow).",
        }
    }
}

/// The clients of the accept-queue labs: `first` connections one after
/// the other (each handshake done before the next SYN), then `burst` at
/// once, so that their SYNs find room and their final ACKs a full queue.
/// Each then waits up to 1.5 s for data the server will never send.
fn queue_clients(env: &Env, first: usize, burst: usize) -> Result<(), LabError> {
    let to = env.server_addr();
    let mut threads = Vec::new();
    for i in 0..first + burst {
        if i <= first {
            std::thread::sleep(Duration::from_millis(60));
        }
        let app = env.log.app("client");
        threads.push(
            env.client
                .spawn(move || {
                    let mut s = app.connect(to)?;
                    s.set_read_timeout(Some(Duration::from_millis(1500)))?;
                    std::thread::sleep(Duration::from_millis(200));
                    let _ = app.read(&mut s, 100);
                    std::thread::sleep(Duration::from_millis(1000));
                    app.close(s);
                    Ok(())
                })
                .map_err(|e| LabError::Setup("starting a client", e))?,
        );
    }
    for t in threads {
        t.join()
            .map_err(|_| LabError::App("client thread panicked".into()))?
            .map_err(|e| LabError::App(format!("client: {e}")))?;
    }
    Ok(())
}

fn never_accepting(
    env: &Env,
    backlog: i32,
    hold: Duration,
) -> Result<std::thread::JoinHandle<std::io::Result<()>>, LabError> {
    util::server(env, backlog, move |_app, l| {
        std::thread::sleep(hold);
        drop(l);
        Ok(())
    })
}

/// `lab accept-queue-overflow`.
pub struct AcceptQueueOverflow;

impl Lab for AcceptQueueOverflow {
    fn name(&self) -> &'static str {
        "accept-queue-overflow"
    }
    fn what(&self) -> &'static str {
        "a full accept queue with tcp_abort_on_overflow=0: the listener ignores the final ACK and re-sends its SYN-ACK while the client believes it is connected"
    }
    fn link(&self) -> LinkSpec {
        LinkSpec::with_delay(Duration::from_millis(5))
    }
    fn sysctls(&self) -> Vec<(Host, &'static str, String)> {
        vec![(Host::Server, "net.ipv4.tcp_abort_on_overflow", "0".into())]
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        let srv = never_accepting(env, 2, Duration::from_millis(3500))?;
        let c = std::thread::scope(|s| {
            let c = s.spawn(|| queue_clients(env, 2, 2));
            std::thread::sleep(Duration::from_millis(1500));
            let _ = env.snapshot(Host::Server, "server");
            let _ = env.snapshot(Host::Client, "client");
            c.join()
        });
        c.map_err(|_| LabError::App("clients panicked".into()))??;
        util::join(srv)
    }
    fn checks(&self, r: &Record, a: &Analysis) -> Vec<Check> {
        let server = r.snapshot("server").unwrap_or(&[]);
        let client = r.snapshot("client").unwrap_or(&[]);
        let l = listener(server, PORT);
        let est = client
            .iter()
            .filter(|s| s.state == tcp_state::ESTABLISHED)
            .count();
        // A SYN-ACK re-sent after the client's final ACK was captured.
        let resent_after_ack = a.conns.iter().any(|c| {
            let p: Vec<&Pkt> = a.of_conn(c.id).collect();
            p.iter()
                .position(|x| x.from_client && x.flags & (SYN | ACK) == ACK)
                .is_some_and(|i| p[i..].iter().any(|x| x.has(SYN | ACK)))
        });
        let synack = kernel_count(r, Host::Server, |k| {
            matches!(k, TcpEventKind::RetransmitSynAck)
        });
        vec![
            Check::new(Source::App, "all 4 connect() calls succeed", r.calls("client", "connect").count() == 4 && r.calls("client", "connect").all(|c| c.errno.is_none()), r.calls_text("client", "connect")),
            Check::new(Source::Kernel, "ss -ltn: the listener's Recv-Q (3: the queue holds backlog + 1) is above its Send-Q (the backlog, 2)", l.is_some_and(|l| l.recv_q == 3 && l.send_q == 2), l.map_or("no listener".into(), |l| format!("Recv-Q {} Send-Q {}", l.recv_q, l.send_q))),
            Check::new(Source::Kernel, "the fourth connection is ESTABLISHED on the client and only a SYN-RECV request on the server", est == 4 && half_open(server, PORT) == 1, format!("client ESTABLISHED {est}, server SYN-RECV {}", half_open(server, PORT))),
            Check::new(Source::Wire, "the server re-sends a SYN-ACK after the client's final ACK was captured", resent_after_ack, format!("{} connections", a.conns.len())),
            Check::new(Source::Counters, "the server counts its re-sent SYN-ACKs as TCPSynRetrans", r.delta(Host::Server, "TCPSynRetrans") >= 1, format!("TCPSynRetrans +{} ({synack} tcp_retransmit_synack events seen)", r.delta(Host::Server, "TCPSynRetrans"))),
            Check::new(Source::Counters, "the server counts ListenOverflows and ListenDrops", r.delta(Host::Server, "ListenOverflows") >= 1 && r.delta(Host::Server, "ListenDrops") >= r.delta(Host::Server, "ListenOverflows"), format!("ListenOverflows +{}, ListenDrops +{}", r.delta(Host::Server, "ListenOverflows"), r.delta(Host::Server, "ListenDrops"))),
            Check::new(Source::App, "the clients' read() calls just time out: nothing was reset", r.calls("client", "read").all(|c| c.errno_code == Some(libc::EAGAIN)), r.calls_text("client", "read")),
        ]
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "Completed handshakes wait in the listener's accept queue until the application calls accept(). Its limit \
is min(listen() backlog, net.core.somaxconn), shown by `ss -ltn` as Send-Q, and it holds one more than that (Recv-Q \
here is 2 with a backlog of 1). When a final ACK arrives and the queue is full, Linux with tcp_abort_on_overflow=0 \
ignores the ACK (ListenOverflows and ListenDrops count it) and keeps the request in SYN-RECEIVED, re-sending its \
SYN-ACK so that the handshake can complete once there is room. The client, meanwhile, is ESTABLISHED and may send \
data that the server also drops, until it retries or times out. A full queue also makes the listener drop new SYNs \
(counted as ListenOverflows too).",
            tune: &[
                "accept faster (more workers, a shorter critical section before accept())",
                "raise the application's listen() backlog and net.core.somaxconn (the effective limit is the smaller)",
                "net.ipv4.tcp_abort_on_overflow=1 makes the failure visible at once (see accept-queue-abort)",
            ],
            production: "`ss -ltn` with Recv-Q above Send-Q, ListenOverflows rising, and SYN-ACK retransmissions; clients see \
slow first requests (the data is re-sent until the server accepts) rather than errors.",
        }
    }
}

/// `lab accept-queue-abort`.
pub struct AcceptQueueAbort;

impl Lab for AcceptQueueAbort {
    fn name(&self) -> &'static str {
        "accept-queue-abort"
    }
    fn what(&self) -> &'static str {
        "a full accept queue with tcp_abort_on_overflow=1: the listener answers the final ACK with an RST, and the client gets \"connection reset by peer\""
    }
    fn link(&self) -> LinkSpec {
        LinkSpec::with_delay(Duration::from_millis(5))
    }
    fn sysctls(&self) -> Vec<(Host, &'static str, String)> {
        vec![(Host::Server, "net.ipv4.tcp_abort_on_overflow", "1".into())]
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        let srv = never_accepting(env, 2, Duration::from_millis(2500))?;
        queue_clients(env, 2, 2)?;
        util::join(srv)
    }
    fn checks(&self, r: &Record, a: &Analysis) -> Vec<Check> {
        let have = r.kernel_missing.is_none();
        // The overflow's RST answers the final ACK from the request socket:
        // a bare RST (no ACK bit). The others carry ACK: the listener's
        // close at the end resets the connections still queued.
        let bare = a
            .packets
            .iter()
            .filter(|p| !p.from_client && p.has(RST) && !p.has(ACK))
            .collect::<Vec<_>>();
        let reasons: Vec<String> = r
            .kernel
            .iter()
            .filter(|e| Host::of(&e.local) == Some(Host::Server))
            .filter_map(|e| match &e.kind {
                TcpEventKind::SendReset { reason, .. } => Some(reason.clone().unwrap_or_default()),
                _ => None,
            })
            .collect();
        vec![
            Check::new(Source::App, "all 4 connect() calls succeed", r.calls("client", "connect").count() == 4 && r.calls("client", "connect").all(|c| c.errno.is_none()), r.calls_text("client", "connect")),
            Check::new(Source::Wire, "the server answers one connection's final ACK with a bare RST (no ACK bit)", bare.len() == 1, format!("{} bare RSTs from the server", bare.len())),
            Check::new(Source::App, "that client's read() fails with ECONNRESET; the others just time out", r.calls("client", "read").filter(|c| c.errno_code == Some(libc::ECONNRESET)).count() == 1 && r.calls("client", "read").filter(|c| c.errno_code == Some(libc::EAGAIN)).count() == 3, r.calls_text("client", "read")),
            Check::kernel(have, "kernel: the listener's request socket sends it (reason INVALID_SYN, this kernel's name for a reset from the handshake's check)", reasons.first().is_some_and(|x| x == "INVALID_SYN"), reasons.join(", ")),
            Check::new(Source::Counters, "the server counts ListenOverflows", r.delta(Host::Server, "ListenOverflows") >= 1, format!("ListenOverflows +{}, ListenDrops +{}", r.delta(Host::Server, "ListenOverflows"), r.delta(Host::Server, "ListenDrops"))),
        ]
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "With tcp_abort_on_overflow=1, a final ACK that finds the accept queue full is answered with an RST instead \
of being ignored. The client had already returned from connect(), so the error shows up on its first read or write: \
ECONNRESET, \"Connection reset by peer\", on a connection that never carried a byte. The RST comes from the request \
socket (bare, without the ACK bit; this kernel's tracepoint names its reason INVALID_SYN). The lab's listener is \
closed at the end with connections still queued: the kernel resets those too (reason TCP_STATE).",
            tune: &[
                "leave tcp_abort_on_overflow at 0 unless clients should fail fast and retry elsewhere",
                "raise the backlog and somaxconn, or accept faster",
            ],
            production: "Resets right after the handshake, with ListenOverflows rising on the server, mean a full accept \
queue with tcp_abort_on_overflow=1.",
        }
    }
}

/// `lab backlog`.
pub struct Backlog;

const BACKLOG_CASES: [(i32, u32); 2] = [(8, 4), (2, 128)];

impl Lab for Backlog {
    fn name(&self) -> &'static str {
        "backlog"
    }
    fn what(&self) -> &'static str {
        "the accept queue's limit is min(listen() backlog, net.core.somaxconn), and it holds one more: measured with two settings"
    }
    fn link(&self) -> LinkSpec {
        LinkSpec::with_delay(Duration::from_millis(2))
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        for (i, (backlog, somaxconn)) in BACKLOG_CASES.iter().enumerate() {
            env.server
                .set_sysctl("net.core.somaxconn", &somaxconn.to_string())
                .map_err(|e| LabError::Setup("setting somaxconn", e))?;
            let port = PORT + i as u16;
            let addr = SocketAddr::new(SERVER_ADDR.into(), port);
            let app = env.log.app("server");
            let b = *backlog;
            let l = env
                .server
                .run(move || app.listen(addr, b))
                .map_err(|e| LabError::App(format!("server: {e}")))?;
            let mut conns = Vec::new();
            for _ in 0..8 {
                let app = env.log.app("client");
                conns.push(
                    env.client
                        .spawn(move || app.connect(addr))
                        .map_err(|e| LabError::Setup("starting a client", e))?,
                );
            }
            let held: Vec<TcpStream> = conns
                .into_iter()
                .filter_map(|h| h.join().ok().and_then(|r| r.ok()))
                .collect();
            std::thread::sleep(Duration::from_millis(100));
            env.snapshot(Host::Server, &format!("case {i}"))?;
            drop(held);
            drop(l);
        }
        Ok(())
    }
    fn checks(&self, r: &Record, _a: &Analysis) -> Vec<Check> {
        let mut v = Vec::new();
        for (i, (backlog, somaxconn)) in BACKLOG_CASES.iter().enumerate() {
            let snap = r.snapshot(&format!("case {i}")).unwrap_or(&[]);
            let l = listener(snap, PORT + i as u16);
            let limit = (*backlog as u32).min(*somaxconn);
            v.push(Check::new(
                Source::Kernel,
                format!("listen({backlog}) with somaxconn {somaxconn}: Send-Q {limit}, and 8 handshakes fill Recv-Q to {}", limit + 1),
                l.is_some_and(|l| l.send_q == limit && l.recv_q == limit + 1),
                l.map_or("no listener".into(), |l| format!("Recv-Q {} Send-Q {}", l.recv_q, l.send_q)),
            ));
        }
        v.push(Check::new(
            Source::Counters,
            "every handshake beyond the queue's room (3, then 5) is counted once as ListenOverflows",
            r.delta(Host::Server, "ListenOverflows") == 8,
            format!("ListenOverflows +{}, SyncookiesSent +{}", r.delta(Host::Server, "ListenOverflows"), r.delta(Host::Server, "SyncookiesSent")),
        ));
        v.push(Check::new(
            Source::App,
            "every connect() succeeds on the client's side",
            r.calls("client", "connect").all(|c| c.errno.is_none()),
            format!("{} connects", r.calls("client", "connect").count()),
        ));
        v
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "listen(fd, backlog) asks for an accept queue of `backlog` connections; the kernel caps it at \
net.core.somaxconn at the moment listen() is called. So listen(8) under somaxconn 4 gets 4, and listen(2) under 128 \
gets 2: raising only one of the two changes nothing. `ss -ltn` shows the limit as Send-Q and the queue as Recv-Q; the \
queue holds limit + 1 completed connections; a final ACK beyond that is dropped and counted as ListenOverflows. \
The SYN queue has the same limit here: eight SYNs at once overflow it too, and with tcp_syncookies=1 (the default) \
the extra ones are answered with syncookies (SyncookiesSent) instead of being held as requests.",
            tune: &[
                "the application's backlog (nginx `listen ... backlog=N`, Java's ServerSocket backlog, Go uses somaxconn)",
                "net.core.somaxconn (4096 by default since Linux 5.4)",
            ],
            production: "Compare each listener's Send-Q (`tcpscope ss -l`) with what the application configured: a Send-Q \
below it means somaxconn is the cap.",
        }
    }
}

/// `lab syn-queue-overflow`.
pub struct SynQueueOverflow;

impl Lab for SynQueueOverflow {
    fn name(&self) -> &'static str {
        "syn-queue-overflow"
    }
    fn what(&self) -> &'static str {
        "half-open handshakes fill the SYN queue (its limit is the listen backlog) and, without syncookies, new SYNs are dropped (TCPReqQFullDrop)"
    }
    fn link(&self) -> LinkSpec {
        LinkSpec {
            delay: Duration::from_millis(5),
            drops: vec![DropRule {
                name: "the clients' pure ACKs",
                dir: Dir::ToServer,
                matches: Box::new(|v| v.flags & (SYN | FIN | RST | ACK) == ACK && v.len == 0),
                after: None,
                during: None,
                max: None,
            }],
            ..LinkSpec::default()
        }
    }
    fn sysctls(&self) -> Vec<(Host, &'static str, String)> {
        vec![
            (Host::Server, "net.ipv4.tcp_syncookies", "0".into()),
            (Host::Client, "net.ipv4.tcp_syn_retries", "1".into()),
        ]
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        // Phase 1: backlog 4. Phase 2: backlog 64 but tcp_max_syn_backlog 8.
        for (phase, backlog) in [(0u16, 4), (1, 64)] {
            if phase == 1 {
                env.server
                    .set_sysctl("net.ipv4.tcp_max_syn_backlog", "8")
                    .map_err(|e| LabError::Setup("setting tcp_max_syn_backlog", e))?;
            }
            let port = PORT + phase;
            let addr = SocketAddr::new(SERVER_ADDR.into(), port);
            let app = env.log.app("server");
            let l = env
                .server
                .run(move || app.listen(addr, backlog))
                .map_err(|e| LabError::App(format!("server: {e}")))?;
            let mut threads = Vec::new();
            for _ in 0..12 {
                let app = env.log.app("client");
                threads.push(
                    env.client
                        .spawn(move || {
                            if let Ok(s) = app.connect(addr) {
                                // Hold it: a FIN would complete the handshake.
                                std::thread::sleep(Duration::from_millis(1500));
                                app.close(s);
                            }
                            Ok(())
                        })
                        .map_err(|e| LabError::Setup("starting a client", e))?,
                );
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(300));
            env.snapshot(Host::Server, &format!("phase {phase}"))?;
            for t in threads {
                let _ = t.join();
            }
            drop(l);
        }
        Ok(())
    }
    fn checks(&self, r: &Record, _a: &Analysis) -> Vec<Check> {
        let held = |phase: u16| {
            half_open(
                r.snapshot(&format!("phase {phase}")).unwrap_or(&[]),
                PORT + phase,
            )
        };
        // Phase 1's twelve connect() calls all return before phase 2 starts.
        let first: Vec<_> = r.calls("client", "connect").take(12).collect();
        let ok = first.iter().filter(|c| c.errno.is_none()).count();
        let timed_out = first
            .iter()
            .filter(|c| c.errno_code == Some(libc::ETIMEDOUT))
            .count();
        let (full, over, drops) = (
            r.delta(Host::Server, "TCPReqQFullDrop"),
            r.delta(Host::Server, "ListenOverflows"),
            r.delta(Host::Server, "ListenDrops"),
        );
        vec![
            Check::new(Source::Kernel, "backlog 4: the SYN queue holds 5 half-open requests (backlog + 1, like the accept queue)", held(0) == 5, format!("{} SYN-RECV", held(0))),
            Check::new(Source::App, "with backlog 4, 5 of 12 clients connect, unaware their final ACKs never arrive; the other 7 fail with ETIMEDOUT", ok == 5 && timed_out == 7, format!("{ok} connected, {timed_out} ETIMEDOUT")),
            Check::new(Source::Kernel, "backlog 64 with tcp_max_syn_backlog 8: it takes only 7 at once (no new SYN once less than a quarter of 8 is left)", held(1) == 7, format!("{} SYN-RECV", held(1))),
            Check::new(Source::Counters, "the backlog-full drops are TCPReqQFullDrop (at least one per late client); ListenDrops counts every dropped SYN", full >= 7 && drops >= full + over, format!("TCPReqQFullDrop +{full}, ListenOverflows +{over}, ListenDrops +{drops}")),
            Check::new(Source::Counters, "no syncookie was sent (tcp_syncookies = 0)", r.delta(Host::Server, "SyncookiesSent") == 0, format!("SyncookiesSent +{}", r.delta(Host::Server, "SyncookiesSent"))),
        ]
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "Each SYN that a listener answers leaves a request socket in SYN-RECEIVED until the final ACK arrives (the \
SYN queue). On this kernel the queue's limit is the listener's backlog, min(backlog, somaxconn): with backlog 4 it \
held 5, backlog + 1, like the accept queue. With tcp_syncookies=0 a SYN that finds it full is dropped and counted as \
TCPReqQFullDrop; the client re-sends it and, here with tcp_syn_retries=1, fails with ETIMEDOUT after 3 s. Half-open \
handshakes hold their place until tcp_synack_retries runs out (about 63 s by default), or until the client's next \
segment completes them (a FIN or data carries the missing ACK). tcp_max_syn_backlog sets a second limit without \
cookies: with it at 8 and a backlog of 64 the listener took only 7 requests at once, refusing SYNs once less than a \
quarter of it was left (those drops count only in ListenDrops).",
            tune: &[
                "net.ipv4.tcp_syncookies=1 (the default): answer with a cookie instead of dropping when the queue is full",
                "a larger listen backlog and net.core.somaxconn; net.ipv4.tcp_synack_retries to give up on half-open handshakes sooner",
            ],
            production: "TCPReqQFullDrop rising with tcp_syncookies=0, clients waiting 1 s and more for connect(): the SYN \
queue is full (a flood, or final ACKs lost on the way).",
        }
    }
}

/// `lab syn-flood`.
pub struct SynFlood;

/// Spoofed SYNs per phase; bounded, and only ever on the lab's own link.
const FLOOD: u16 = 64;

fn flood(env: &Env, port: u16) -> Result<(), LabError> {
    env.client
        .run(move || {
            let raw = RawSocket::open()?;
            for i in 0..FLOOD {
                let src =
                    SocketAddrV4::new(Ipv4Addr::new(10, 99, 0, 100 + (i % 100) as u8), 20000 + i);
                let dst = SocketAddrV4::new(SERVER_ADDR, port);
                raw.send(
                    &tcp_packet(src, dst, 1000 + i as u32 * 7919, 0, SYN, 64240),
                    SERVER_ADDR,
                )?;
            }
            Ok(())
        })
        .map_err(|e| {
            LabError::Setup(
                "sending the flood (raw socket in the client's namespace)",
                e,
            )
        })
}

fn legit_client(app: App, to: SocketAddr) -> std::io::Result<()> {
    if let Ok(s) = app.connect(to) {
        app.close(s);
    }
    Ok(())
}

impl Lab for SynFlood {
    fn name(&self) -> &'static str {
        "syn-flood"
    }
    fn what(&self) -> &'static str {
        "spoofed SYNs that never answer: without syncookies the real client waits and fails, with them it is served at once"
    }
    fn link(&self) -> LinkSpec {
        LinkSpec::with_delay(Duration::from_millis(5))
    }
    fn sysctls(&self) -> Vec<(Host, &'static str, String)> {
        vec![
            (Host::Server, "net.ipv4.tcp_syncookies", "0".into()),
            (Host::Client, "net.ipv4.tcp_syn_retries", "1".into()),
        ]
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        // Phase 1: no cookies, port 9000.
        let srv = never_accepting(env, 16, Duration::from_millis(6000))?;
        flood(env, PORT)?;
        std::thread::sleep(Duration::from_millis(100));
        util::client(env, legit_client)?;
        // Phase 2: cookies on, a fresh listener on 9001.
        env.server
            .set_sysctl("net.ipv4.tcp_syncookies", "1")
            .map_err(|e| LabError::Setup("setting tcp_syncookies", e))?;
        let app = env.log.app("server");
        let addr2 = SocketAddr::new(SERVER_ADDR.into(), PORT + 1);
        let l2 = env
            .server
            .run(move || app.listen(addr2, 16))
            .map_err(|e| LabError::App(format!("server: {e}")))?;
        flood(env, PORT + 1)?;
        std::thread::sleep(Duration::from_millis(100));
        let app = env.log.app("client");
        env.client
            .run(move || legit_client(app, addr2))
            .map_err(|e| LabError::App(format!("client: {e}")))?;
        // Keep listening until the client's last segments have arrived.
        std::thread::sleep(Duration::from_millis(300));
        drop(l2);
        util::join(srv)
    }
    fn settle(&self) -> Duration {
        Duration::from_millis(100)
    }
    fn checks(&self, r: &Record, a: &Analysis) -> Vec<Check> {
        let connects: Vec<_> = r.calls("client", "connect").collect();
        let real = |port: u16| {
            a.conns
                .iter()
                .find(|c| c.server.port == port && c.client.addr.to_string() == "10.99.0.1")
        };
        vec![
            Check::new(
                Source::Wire,
                format!("{} spoofed SYNs leave toward each listener, from addresses that never answer", FLOOD),
                a.packets.iter().filter(|p| p.from_client && p.has(SYN) && !p.has(ACK) && !p.text.contains("IP 10.99.0.1.")).count() == 2 * FLOOD as usize,
                format!(
                    "{} spoofed SYNs captured",
                    a.packets.iter().filter(|p| p.from_client && p.has(SYN) && !p.has(ACK) && !p.text.contains("IP 10.99.0.1.")).count()
                ),
            ),
            Check::new(Source::App, "without cookies, the real client's connect() fails with ETIMEDOUT (its SYNs were dropped)", connects.first().is_some_and(|c| c.errno_code == Some(libc::ETIMEDOUT)), r.calls_text("client", "connect")),
            Check::new(Source::App, "with cookies, it connects in one round trip", connects.get(1).is_some_and(|c| c.errno.is_none() && c.duration_s < 0.1), r.calls_text("client", "connect")),
            Check::new(Source::Counters, "the server drops SYNs with a full queue (TCPReqQFullDrop), then answers with cookies (TCPReqQFullDoCookies, SyncookiesSent) and accepts one back (SyncookiesRecv)", r.delta(Host::Server, "TCPReqQFullDrop") >= 1 && r.delta(Host::Server, "SyncookiesSent") >= 1 && r.delta(Host::Server, "SyncookiesRecv") == 1, format!("TCPReqQFullDrop +{}, TCPReqQFullDoCookies +{}, SyncookiesSent +{}, SyncookiesRecv +{}", r.delta(Host::Server, "TCPReqQFullDrop"), r.delta(Host::Server, "TCPReqQFullDoCookies"), r.delta(Host::Server, "SyncookiesSent"), r.delta(Host::Server, "SyncookiesRecv"))),
            Check::new(Source::Tcpscope, "tcpscope: the real client's first attempt is S0, its second completes", real(PORT).is_some_and(|c| c.conn_state.name() == "S0") && real(PORT + 1).is_some_and(|c| c.irtt.is_some()), format!("{:?} / {:?}", real(PORT).map(|c| c.conn_state.name()), real(PORT + 1).map(|c| c.conn_state.name()))),
        ]
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "Spoofed SYNs come from addresses that will never send the final ACK, so each holds a SYN-queue slot until \
the server gives up re-sending its SYN-ACK. Once the queue (limit: the listen backlog) is full, tcp_syncookies=0 \
means every new SYN is dropped, the real client's too (TCPReqQFullDrop), and its connect() waits and fails. With \
tcp_syncookies=1 (the default), a SYN that finds the queue full is answered statelessly: the SYN-ACK's sequence \
number encodes the connection (SyncookiesSent), and a real client's ACK proves it and creates the connection \
directly (SyncookiesRecv). The cost: some TCP options (window scale, SACK) survive only through timestamps.",
            tune: &[
                "keep net.ipv4.tcp_syncookies=1",
                "a larger backlog and somaxconn absorb bursts; net.ipv4.tcp_synack_retries frees half-open slots sooner",
            ],
            production: "SyncookiesSent rising means the SYN queue overflows: a flood or a burst. With cookies off, look for \
TCPReqQFullDrop and clients that connect after 1 s or more.",
        }
    }
}

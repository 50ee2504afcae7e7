//! Moving data: the receive window against the round trip, a slow reader's
//! zero window, keep-alive probes, random loss, and TCP Fast Open.

use std::io::Write as _;
use std::time::Duration;

use tcpscope_track::Flags;
use tcpscope_wire::tcp::flags::{ACK, SYN};

use super::util;
use crate::analysis::{Analysis, Pkt};
use crate::app::{setsockopt_int, tcp_socket};
use crate::check::{Check, Source};
use crate::env::{Env, Host, Record};
use crate::link::{Dir, DropRule, LinkSpec};
use crate::{Explanation, Lab, LabError};

/// A server that sends `bytes` on each of `conns` connections, then closes.
fn source_server(
    env: &Env,
    conns: usize,
    bytes: usize,
) -> Result<std::thread::JoinHandle<std::io::Result<()>>, LabError> {
    util::server(env, 16, move |app, l| {
        for _ in 0..conns {
            let mut s = app.accept(&l)?;
            app.read(&mut s, 100)?;
            let chunk = vec![b'x'; 64 * 1024];
            let mut left = bytes;
            while left > 0 {
                let n = left.min(chunk.len());
                // One logged call per chunk; write_all underneath.
                s.write_all(&chunk[..n])?;
                left -= n;
            }
            let _ = app.write(&mut s, b"");
            app.close(s);
        }
        Ok(())
    })
}

/// `lab window`.
pub struct Window;

const WINDOWS: [usize; 3] = [16 * 1024, 64 * 1024, 256 * 1024];
const WINDOW_BYTES: usize = 512 * 1024;
const WINDOW_RTT: f64 = 0.040;

/// One transfer's figures: advertised window, most bytes in flight,
/// throughput (bytes per second over the data's span). The capture is at
/// the receiver: a segment that arrives at `t` left the sender at `t - RTT/2`,
/// when the sender had the ACKs the receiver sent up to `t - RTT`.
fn transfer_figures(a: &Analysis, conn: u64) -> (u64, u64, f64) {
    let p: Vec<&Pkt> = a.of_conn(conn).collect();
    let window = p
        .iter()
        .filter(|x| x.from_client && !x.has(SYN))
        .map(|x| x.window)
        .max()
        .unwrap_or(0);
    let acks: Vec<(f64, u32)> = p
        .iter()
        .filter(|x| x.from_client && x.has(ACK))
        .map(|x| (x.t, x.ack))
        .collect();
    let mut in_flight = 0u64;
    let mut first = None;
    let mut last = 0.0;
    let mut bytes = 0u64;
    for x in &p {
        if !x.from_client && x.len > 0 {
            let known = acks
                .iter()
                .take_while(|(t, _)| *t <= x.t - WINDOW_RTT)
                .last();
            if let Some((_, acked)) = known {
                in_flight = in_flight.max(x.seq.wrapping_add(x.len).wrapping_sub(*acked) as u64);
            }
            first.get_or_insert(x.t);
            last = x.t;
            bytes += x.len as u64;
        }
    }
    let span = last - first.unwrap_or(last);
    (
        window,
        in_flight,
        if span > 0.0 { bytes as f64 / span } else { 0.0 },
    )
}

impl Lab for Window {
    fn name(&self) -> &'static str {
        "window"
    }
    fn what(&self) -> &'static str {
        "throughput against the receive window at a 40 ms RTT: never more than window / RTT, however fast the link"
    }
    fn link(&self) -> LinkSpec {
        LinkSpec {
            delay: Duration::from_secs_f64(WINDOW_RTT / 2.0),
            ..LinkSpec::default()
        }
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        let srv = source_server(env, WINDOWS.len(), WINDOW_BYTES)?;
        for w in WINDOWS {
            util::client(env, move |app, to| {
                let s = tcp_socket()?;
                s.set_recv_buffer_size(w)?;
                let mut s = app.connect_socket(s, to)?;
                app.write(&mut s, b"send")?;
                app.read_all(&mut s, usize::MAX)?;
                app.close(s);
                Ok(())
            })?;
        }
        util::join(srv)
    }
    fn checks(&self, r: &Record, a: &Analysis) -> Vec<Check> {
        let mut v = Vec::new();
        let mut table =
            String::from("rcvbuf, advertised window, most in flight, throughput, window/RTT: ");
        let mut rates = Vec::new();
        for (i, w) in WINDOWS.iter().enumerate() {
            let (win, flight, rate) = transfer_figures(a, i as u64 + 1);
            let bound = win as f64 / WINDOW_RTT;
            table.push_str(&format!(
                "[{} KiB, {} B, {} B, {:.0} KB/s, {:.0} KB/s] ",
                w / 1024,
                win,
                flight,
                rate / 1e3,
                bound / 1e3
            ));
            rates.push(rate);
            v.push(Check::new(
                Source::Wire,
                format!("rcvbuf {} KiB: bytes in flight never exceed the advertised window, and throughput stays under window / RTT", w / 1024),
                win > 0 && flight <= win + 1500 && rate <= bound * 1.15,
                format!("window {win} B, in flight up to {flight} B, {:.0} KB/s against {:.0} KB/s", rate / 1e3, bound / 1e3),
            ));
        }
        let (w0, _, r0) = transfer_figures(a, 1);
        v.push(Check::new(Source::Wire, "with the smallest window the transfer runs at the window's pace (at least 60% of window / RTT)", r0 >= 0.6 * w0 as f64 / WINDOW_RTT, format!("{:.0} KB/s", r0 / 1e3)));
        v.push(Check::new(
            Source::Wire,
            "a larger window gives more throughput",
            rates.windows(2).all(|x| x[1] > x[0]),
            table,
        ));
        let got: usize = r.calls("client", "read").filter_map(|c| c.bytes).sum();
        v.push(Check::new(
            Source::App,
            "the client reads every byte of the three transfers",
            got == WINDOWS.len() * WINDOW_BYTES,
            format!("{got} bytes"),
        ));
        v
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "A sender may have at most one receive window of unacknowledged data in flight, and an ACK takes a round \
trip to come back: so throughput can never exceed window / RTT, whatever the link's bandwidth. The receive window \
comes from the receiver's buffer (SO_RCVBUF, or net.ipv4.tcp_rmem's autotuning); Linux advertises only part of the \
buffer as window (tcp_adv_win_scale), which the capture shows. With 16 KiB over 40 ms the transfer crawls; each \
bigger buffer lets more data fly. On a short transfer the congestion window (slow start) can be the tighter limit.",
            tune: &[
                "do not set SO_RCVBUF by hand unless you mean to cap throughput: it turns off autotuning",
                "net.ipv4.tcp_rmem (min default max) and net.core.rmem_max bound what autotuning may grow to",
                "needed window = bandwidth x RTT (the bandwidth-delay product): 100 Mbit/s over 40 ms needs 500 KB",
            ],
            production: "A long-distance transfer stuck at a round number (window / RTT) with no loss is window-limited: \
check the advertised window in the capture (tcpscope read --explain) and the sockets' rcv_space in ss -i.",
        }
    }
}

/// `lab zero-window`.
pub struct ZeroWindow;

impl Lab for ZeroWindow {
    fn name(&self) -> &'static str {
        "zero-window"
    }
    fn what(&self) -> &'static str {
        "a slow reader: its window closes to zero, the sender probes it, and a window update opens it again"
    }
    fn link(&self) -> LinkSpec {
        LinkSpec::with_delay(Duration::from_millis(5))
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        let srv = source_server(env, 1, 256 * 1024)?;
        util::client(env, |app, to| {
            let s = tcp_socket()?;
            s.set_recv_buffer_size(8 * 1024)?;
            let mut s = app.connect_socket(s, to)?;
            app.write(&mut s, b"send")?;
            // Read nothing for a while: the buffer fills.
            std::thread::sleep(Duration::from_millis(1500));
            app.read_all(&mut s, usize::MAX)?;
            app.close(s);
            Ok(())
        })?;
        util::join(srv)
    }
    fn checks(&self, r: &Record, a: &Analysis) -> Vec<Check> {
        let count = |from_client: bool, f: u32| {
            a.of_conn(1)
                .filter(|p| p.from_client == from_client && p.analysis.0 & f != 0)
                .count()
        };
        // Linux probes a zero window with an ACK one byte behind, which
        // Wireshark's rules (and tcpscope's) call a keep-alive.
        let (zw, probes, update) = (
            count(true, Flags::ZERO_WINDOW),
            count(false, Flags::ZERO_WINDOW_PROBE | Flags::KEEP_ALIVE),
            count(true, Flags::WINDOW_UPDATE),
        );
        let got: usize = r.calls("client", "read").filter_map(|c| c.bytes).sum();
        vec![
            Check::new(Source::Wire, "the client advertises a zero window while it does not read", zw >= 1, format!("{zw} zero-window ACKs")),
            Check::new(Source::Wire, "the server probes the closed window (Linux's probe is an ACK one byte behind: flagged TCP Keep-Alive)", probes >= 1, format!("{probes} probes")),
            Check::new(Source::Counters, "the server counts its probes as TCPWinProbe", r.delta(Host::Server, "TCPWinProbe") as usize == probes, format!("TCPWinProbe +{}", r.delta(Host::Server, "TCPWinProbe"))),
            Check::new(Source::Wire, "reading again, the client sends a window update", update >= 1, format!("{update} window updates")),
            Check::new(Source::Counters, "the client counts TCPToZeroWindowAdv and TCPFromZeroWindowAdv", r.delta(Host::Client, "TCPToZeroWindowAdv") >= 1 && r.delta(Host::Client, "TCPFromZeroWindowAdv") >= 1, format!("TCPToZeroWindowAdv +{}, TCPFromZeroWindowAdv +{}", r.delta(Host::Client, "TCPToZeroWindowAdv"), r.delta(Host::Client, "TCPFromZeroWindowAdv"))),
            Check::new(Source::App, "nothing is lost: the client reads all 256 KiB", got == 256 * 1024, format!("{got} bytes")),
        ]
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "When the receiving application does not read, its socket buffer fills and the window it advertises shrinks \
to zero: the sender must stop. It then sends zero-window probes on a backing-off timer, the persist timer, so that a \
lost window update cannot deadlock the connection; Linux's probe is an empty ACK one byte behind (counted as \
TCPWinProbe), which Wireshark's rules call a keep-alive. When the reader \
catches up, it advertises a window again (a window update) and the data flows. Wireshark calls these ZeroWindow, \
ZeroWindowProbe and Window Update; tcpscope flags them the same way.",
            tune: &[
                "make the reader faster, or give it a bigger buffer (net.ipv4.tcp_rmem)",
                "net.ipv4.tcp_retries2 bounds how long unanswered probes are tolerated",
            ],
            production: "Zero windows from a server mean its application is slow to read (a busy worker, a stalled \
database call); from a client, that the client cannot keep up. TCPToZeroWindowAdv counts them on the reader's host.",
        }
    }
}

/// `lab keepalive`.
pub struct Keepalive;

impl Lab for Keepalive {
    fn name(&self) -> &'static str {
        "keepalive"
    }
    fn what(&self) -> &'static str {
        "keep-alive probes find a peer that vanished: unanswered probes end the connection with ETIMEDOUT"
    }
    fn link(&self) -> LinkSpec {
        LinkSpec {
            delay: Duration::from_millis(5),
            drops: vec![DropRule {
                name: "everything from the server after 0.5 s (the peer vanished)",
                dir: Dir::ToClient,
                matches: Box::new(|_| true),
                after: Some(Duration::from_millis(500)),
                during: None,
                max: None,
            }],
            ..LinkSpec::default()
        }
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        let srv = util::server(env, 16, |app, l| {
            let mut s = app.accept(&l)?;
            app.read(&mut s, 100)?;
            app.write(&mut s, b"hi")?;
            std::thread::sleep(Duration::from_millis(3700));
            app.close(s);
            Ok(())
        })?;
        util::client(env, |app, to| {
            let s = tcp_socket()?;
            s.set_keepalive(true)?;
            setsockopt_int(&s, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, 1)?;
            setsockopt_int(&s, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, 1)?;
            setsockopt_int(&s, libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 2)?;
            let mut s = app.connect_socket(s, to)?;
            app.write(&mut s, b"hello")?;
            app.read(&mut s, 100)?;
            // Idle: only the keep-alive timer runs now.
            let _ = app.read(&mut s, 100);
            app.close(s);
            Ok(())
        })?;
        util::join(srv)
    }
    fn checks(&self, r: &Record, a: &Analysis) -> Vec<Check> {
        let probes: Vec<&Pkt> = a
            .of_conn(1)
            .filter(|p| p.from_client && p.analysis.has(Flags::KEEP_ALIVE))
            .collect();
        let gaps: Vec<f64> = probes.windows(2).map(|w| w[1].t - w[0].t).collect();
        let idle_read = r.calls("client", "read").nth(1);
        vec![
            Check::new(
                Source::Wire,
                "the client sends keep-alive probes 1 s apart (TCP_KEEPINTVL), none answered",
                probes.len() >= 2 && gaps.iter().all(|g| (g - 1.0).abs() < 0.25),
                format!(
                    "{} probes, gaps {:?}",
                    probes.len(),
                    gaps.iter()
                        .map(|g| (g * 100.0).round() / 100.0)
                        .collect::<Vec<_>>()
                ),
            ),
            Check::new(
                Source::App,
                "the idle read() fails with ETIMEDOUT after about 3 s (idle 1 s + 2 probes)",
                idle_read.is_some_and(|c| {
                    c.errno_code == Some(libc::ETIMEDOUT) && (c.duration_s - 3.0).abs() < 0.4
                }),
                r.calls_text("client", "read"),
            ),
            Check::new(
                Source::Counters,
                "the client counts the probes (TCPKeepAlive) and the abort (TCPAbortOnTimeout)",
                r.delta(Host::Client, "TCPKeepAlive") >= 2
                    && r.delta(Host::Client, "TCPAbortOnTimeout") == 1,
                format!(
                    "TCPKeepAlive +{}, TCPAbortOnTimeout +{}",
                    r.delta(Host::Client, "TCPKeepAlive"),
                    r.delta(Host::Client, "TCPAbortOnTimeout")
                ),
            ),
            Check::new(
                Source::Tcpscope,
                "tcpscope flags the probes as TCP Keep-Alive",
                !probes.is_empty(),
                format!("{}", probes.len()),
            ),
        ]
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "TCP sends nothing on an idle connection, so a peer that vanished (powered off, unplugged, a NAT that forgot \
the mapping) goes unnoticed. With SO_KEEPALIVE, after TCP_KEEPIDLE seconds of silence the kernel sends a probe (an \
ACK one byte behind), every TCP_KEEPINTVL seconds, and after TCP_KEEPCNT unanswered probes it resets the connection: \
the blocked read() fails with ETIMEDOUT, \"Connection timed out\". The defaults are much longer: 7200 s idle, 75 s \
apart, 9 probes (more than two hours).",
            tune: &[
                "per socket: SO_KEEPALIVE with TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT",
                "host defaults: net.ipv4.tcp_keepalive_time, tcp_keepalive_intvl, tcp_keepalive_probes",
                "keep the idle time below the shortest NAT or firewall idle timeout on the path",
            ],
            production: "ETIMEDOUT on a read that waited exactly idle + count x interval is keep-alive; connections that die \
after a fixed idle time without probes point at a middlebox timeout.",
        }
    }
}

/// `lab loss`.
pub struct Loss;

const LOSS_BYTES: usize = 2 * 1024 * 1024;

impl Lab for Loss {
    fn name(&self) -> &'static str {
        "loss"
    }
    fn what(&self) -> &'static str {
        "2% random loss: duplicate ACKs, SACK blocks, fast retransmits and timeouts repair every hole"
    }
    fn link(&self) -> LinkSpec {
        LinkSpec {
            delay: Duration::from_millis(10),
            loss: 0.02,
            seed: 7,
            ..LinkSpec::default()
        }
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        let srv = source_server(env, 1, LOSS_BYTES)?;
        util::client(env, |app, to| {
            let mut s = app.connect(to)?;
            app.write(&mut s, b"send")?;
            app.read_all(&mut s, usize::MAX)?;
            app.close(s);
            Ok(())
        })?;
        util::join(srv)
    }
    fn checks(&self, r: &Record, a: &Analysis) -> Vec<Check> {
        let count = |from_client: bool, f: u32| {
            a.packets
                .iter()
                .filter(|p| p.from_client == from_client && p.analysis.has(f))
                .count()
        };
        let got: usize = r.calls("client", "read").filter_map(|c| c.bytes).sum();
        let lost_to_client = r.link.random_drops[Dir::ToClient as usize];
        // A re-sent segment that fills a hole soon after the data beyond it
        // is what Wireshark's rules call out-of-order.
        let resent = count(false, Flags::RETRANSMISSION)
            + count(false, Flags::FAST_RETRANSMISSION)
            + count(false, Flags::SPURIOUS_RETRANSMISSION)
            + count(false, Flags::OUT_OF_ORDER);
        let sacks = a
            .packets
            .iter()
            .filter(|p| p.from_client && p.text.contains("sack"))
            .count();
        vec![
            Check::new(Source::App, "the client reads all 2 MiB: TCP repaired every loss", got == LOSS_BYTES, format!("{got} bytes")),
            Check::new(Source::Wire, "segments lost before the capture point show as holes (previous segment not captured)", count(false, Flags::LOST_SEGMENT) >= 1 && lost_to_client >= 1, format!("{} holes; the link dropped {lost_to_client} segments to the client", count(false, Flags::LOST_SEGMENT))),
            Check::new(Source::Wire, "the client answers holes with duplicate ACKs carrying SACK blocks", count(true, Flags::DUPLICATE_ACK) >= 1 && sacks >= 1, format!("{} dup ACKs, {sacks} with SACK", count(true, Flags::DUPLICATE_ACK))),
            Check::new(Source::Wire, "the lost segments arrive again, flagged as retransmissions or out-of-order fills (nearly one per drop)", resent as u64 * 10 >= lost_to_client * 9 && resent as u64 <= lost_to_client, format!("{resent} re-sent segments ({} fast retransmissions, {} out-of-order fills)", count(false, Flags::FAST_RETRANSMISSION), count(false, Flags::OUT_OF_ORDER))),
            Check::new(Source::Counters, "the server counts RetransSegs, at least one per segment lost on the way to the client", r.delta(Host::Server, "RetransSegs") as u64 >= lost_to_client, format!("RetransSegs +{}, TCPFastRetrans +{}, TCPTimeouts +{}, link drops {lost_to_client}", r.delta(Host::Server, "RetransSegs"), r.delta(Host::Server, "TCPFastRetrans"), r.delta(Host::Server, "TCPTimeouts"))),
        ]
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "A lost segment leaves a hole: the receiver keeps acknowledging the byte before it (duplicate ACKs) and, with \
SACK, says which later blocks it did get. After three duplicate ACKs (or enough SACKed data: RACK on Linux) the \
sender re-sends the missing segment at once (fast retransmit) and reduces its congestion window; when nothing comes \
back at all, the retransmission timer (RTO, at least 200 ms) fires instead, which stalls the flow. Random loss of a \
few percent costs throughput far beyond its share because every loss halves the sending rate.",
            tune: &[
                "nothing on the hosts cures loss; find the lossy hop (ifconfig errors, drops on a switch, Wi-Fi)",
                "net.ipv4.tcp_congestion_control (bbr tolerates random loss better than cubic)",
                "net.ipv4.tcp_sack (on by default) keeps recovery to one round trip for several holes",
            ],
            production: "RetransSegs and TCPTimeouts rising, duplicate ACKs and \"previous segment not captured\" in a capture \
taken at the receiver: loss on the path. Retransmissions without holes at the receiver mean the ACKs were lost.",
        }
    }
}

/// `lab fast-open`.
pub struct FastOpen;

const FO_ONE_WAY: Duration = Duration::from_millis(50);

impl Lab for FastOpen {
    fn name(&self) -> &'static str {
        "fast-open"
    }
    fn what(&self) -> &'static str {
        "TCP Fast Open: with a cookie from the first connection, the second sends its request in the SYN and saves a round trip"
    }
    fn link(&self) -> LinkSpec {
        LinkSpec::with_delay(FO_ONE_WAY)
    }
    fn sysctls(&self) -> Vec<(Host, &'static str, String)> {
        vec![
            (Host::Server, "net.ipv4.tcp_fastopen", "3".into()),
            (Host::Client, "net.ipv4.tcp_fastopen", "3".into()),
        ]
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        let addr = env.server_addr();
        let app = env.log.app("server");
        let l = env
            .server
            .run(move || app.listen_fastopen(addr, 16, 16))
            .map_err(|e| LabError::App(format!("server: {e}")))?;
        let app = env.log.app("server");
        let srv = env
            .server
            .spawn(move || {
                for _ in 0..2 {
                    let mut s = app.accept(&l)?;
                    app.read(&mut s, 100)?;
                    app.write(&mut s, b"response")?;
                    app.close(s);
                }
                Ok(())
            })
            .map_err(|e| LabError::Setup("starting the server", e))?;
        for _ in 0..2 {
            util::client(env, |app, to| {
                let s = tcp_socket()?;
                setsockopt_int(&s, libc::IPPROTO_TCP, libc::TCP_FASTOPEN_CONNECT, 1)?;
                let mut s = app.connect_socket(s, to)?;
                app.write(&mut s, b"GET / HTTP/1.1\r\n\r\n")?;
                app.read(&mut s, 100)?;
                app.close(s);
                Ok(())
            })?;
            std::thread::sleep(Duration::from_millis(200));
        }
        util::join(srv)
    }
    fn checks(&self, r: &Record, a: &Analysis) -> Vec<Check> {
        let syn_data = |c: u64| {
            a.of_conn(c)
                .find(|p| p.from_client && p.has(SYN))
                .map_or(0, |p| p.len)
        };
        // From connect() to the response's arrival, per connection.
        let connects: Vec<_> = r.calls("client", "connect").collect();
        let reads: Vec<_> = r.calls("client", "read").collect();
        let first_byte = |i: usize| -> f64 {
            match (connects.get(i), reads.get(i)) {
                (Some(c), Some(rd)) => rd.elapsed_s - (c.elapsed_s - c.duration_s),
                _ => f64::NAN,
            }
        };
        let rtt = (FO_ONE_WAY * 2).as_secs_f64();
        let (t1, t2) = (first_byte(0), first_byte(1));
        vec![
            Check::new(Source::Wire, "the first SYN carries no data (it asks for a cookie); the second carries the request", syn_data(1) == 0 && syn_data(2) > 0, format!("{} and {} bytes in the SYNs", syn_data(1), syn_data(2))),
            Check::new(Source::App, "without Fast Open the response comes two round trips after connect() (handshake, then request)", (t1 - 2.0 * rtt).abs() < 0.03, format!("{:.0} ms (RTT {:.0} ms)", t1 * 1e3, rtt * 1e3)),
            Check::new(Source::App, "with Fast Open it comes one round trip after connect()", (t2 - rtt).abs() < 0.03, format!("{:.0} ms", t2 * 1e3)),
            Check::new(Source::Counters, "the client counts TCPFastOpenActive and the server TCPFastOpenPassive", r.delta(Host::Client, "TCPFastOpenActive") == 1 && r.delta(Host::Server, "TCPFastOpenPassive") == 1, format!("TCPFastOpenActive +{}, TCPFastOpenPassive +{}", r.delta(Host::Client, "TCPFastOpenActive"), r.delta(Host::Server, "TCPFastOpenPassive"))),
        ]
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "Normally a client can send its request only after the handshake: the response arrives two round trips after \
connect() (SYN / SYN-ACK, then request / response). With TCP Fast Open (RFC 7413) the server gives a returning client \
a cookie in its first SYN-ACK; on the next connection the client sends the cookie and the request in the SYN, the \
server hands the data to the application at once, and the response comes one round trip after connect(). Without TFO \
the request can at best leave with the handshake's final ACK, one round trip after the SYN.",
            tune: &[
                "net.ipv4.tcp_fastopen: 1 client, 2 server, 3 both (the default, 1, enables only the client)",
                "the server application sets TCP_FASTOPEN on the listener; the client uses TCP_FASTOPEN_CONNECT or sendto(MSG_FASTOPEN)",
                "only for idempotent first requests: a duplicated SYN can deliver the data twice",
            ],
            production: "TFO is often blocked by middleboxes that drop SYNs with data; Linux then falls back and counts \
TCPFastOpenBlackhole. TCPFastOpenActive / Passive show whether it is used at all.",
        }
    }
}

//! Resets that do not always reset, and the keep-alive race behind most
//! "broken pipe" and "connection reset by peer" reports.

use std::net::SocketAddrV4;
use std::sync::mpsc;
use std::time::Duration;

use tcpscope_wire::tcp::flags::{ACK, FIN, RST};

use super::util;
use crate::analysis::{Analysis, Pkt};
use crate::check::{Check, Source};
use crate::env::{Env, Host, Record};
use crate::link::{Dir, LinkSpec, SERVER_ADDR};
use crate::raw::{tcp_packet, RawSocket};
use crate::{Explanation, Lab, LabError};

/// `lab rst-window`.
pub struct RstWindow;

/// How far into the window the second RST lands.
const IN_WINDOW: u32 = 100;

impl Lab for RstWindow {
    fn name(&self) -> &'static str {
        "rst-window"
    }
    fn what(&self) -> &'static str {
        "an RST ends a connection only at exactly the next expected sequence number: in the window it draws a challenge ACK, outside it is ignored (RFC 5961)"
    }
    fn link(&self) -> LinkSpec {
        LinkSpec::with_delay(Duration::from_millis(5))
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        let srv = util::server(env, 16, |app, l| {
            let mut s = app.accept(&l)?;
            // Echo until the connection ends.
            loop {
                match app.read(&mut s, 100) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        app.write(&mut s, &b"echo-echo-echo"[..n.min(14)])?;
                    }
                }
            }
            Ok(())
        })?;
        let (addr_tx, addr_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let app = env.log.app("client");
        let to = env.server_addr();
        let client = env
            .client
            .spawn(move || {
                let mut s = app.connect(to)?;
                app.write(&mut s, b"hello")?;
                app.read(&mut s, 100)?;
                let _ = addr_tx.send(s.local_addr()?);
                // After the RST outside the window and the one inside it.
                let _ = go_rx.recv();
                app.write(&mut s, b"still there?")?;
                app.read(&mut s, 100)?;
                let _ = addr_tx.send(s.local_addr()?);
                // After the exact one: the server's side is gone.
                let _ = go_rx.recv();
                let _ = app.write(&mut s, b"and now?");
                std::thread::sleep(Duration::from_millis(100));
                let _ = app.read(&mut s, 100);
                app.close(s);
                Ok(())
            })
            .map_err(|e| LabError::Setup("starting the client", e))?;
        let local = addr_rx
            .recv()
            .map_err(|_| LabError::App("client: no connection".into()))?;
        let std::net::SocketAddr::V4(src) = local else {
            return Err(LabError::App("client: not IPv4".into()));
        };
        let dst = SocketAddrV4::new(SERVER_ADDR, crate::env::PORT);
        let inject = |seq: u32| -> Result<(), LabError> {
            env.client
                .run(move || {
                    RawSocket::open()?.send(&tcp_packet(src, dst, seq, 0, RST, 0), SERVER_ADDR)
                })
                .map_err(|e| {
                    LabError::Setup("sending an RST (raw socket in the client's namespace)", e)
                })
        };
        std::thread::sleep(Duration::from_millis(50));
        let next = env
            .next_seq(Dir::ToServer)
            .ok_or_else(|| LabError::App("the link saw no packet from the client".into()))?;
        inject(next.wrapping_add(1 << 30))?;
        std::thread::sleep(Duration::from_millis(100));
        inject(next.wrapping_add(IN_WINDOW))?;
        std::thread::sleep(Duration::from_millis(100));
        let _ = go_tx.send(());
        let _ = addr_rx.recv();
        std::thread::sleep(Duration::from_millis(50));
        let next = env
            .next_seq(Dir::ToServer)
            .ok_or_else(|| LabError::App("the link saw no packet from the client".into()))?;
        inject(next)?;
        std::thread::sleep(Duration::from_millis(100));
        let _ = go_tx.send(());
        client
            .join()
            .map_err(|_| LabError::App("client thread panicked".into()))?
            .map_err(|e| LabError::App(format!("client: {e}")))?;
        util::join(srv)
    }
    fn checks(&self, r: &Record, a: &Analysis) -> Vec<Check> {
        let p: Vec<&Pkt> = a.of_conn(1).collect();
        let rsts: Vec<usize> = p
            .iter()
            .enumerate()
            .filter(|(_, x)| x.from_client && x.has(RST))
            .map(|(i, _)| i)
            .collect();
        // The server's answer right after each injected RST.
        let answer = |k: usize| {
            rsts.get(k)
                .and_then(|&i| p[i + 1..].iter().find(|x| !x.from_client || x.has(RST)))
        };
        let challenge = answer(1).is_some_and(|x| {
            !x.from_client
                && x.flags & (ACK | RST | FIN) == ACK
                && x.len == 0
                && x.ack == p[rsts[1]].seq.wrapping_sub(IN_WINDOW)
        });
        let silent = answer(0).is_none_or(|x| x.from_client || x.t - p[rsts[0]].t > 0.09);
        let reads: Vec<_> = r.calls("server", "read").collect();
        let server_reset = reads
            .last()
            .is_some_and(|c| c.errno_code == Some(libc::ECONNRESET));
        let client_reads: Vec<_> = r.calls("client", "read").collect();
        vec![
            Check::new(Source::Wire, "three RSTs are sent on the client's behalf: far outside the window, inside it, exactly at the next sequence number", rsts.len() == 3, format!("{} RSTs", rsts.len())),
            Check::new(Source::Wire, "the RST outside the window gets no answer at all", rsts.len() == 3 && silent, "see the packets".to_string()),
            Check::new(Source::Wire, "the RST inside the window gets a challenge ACK: an ACK of the next expected sequence number", challenge, answer(1).map_or("no answer".into(), |x| format!("ack {}", x.ack))),
            Check::new(Source::Counters, "the server counts the challenge ACK (TCPChallengeACK)", r.delta(Host::Server, "TCPChallengeACK") == 1, format!("TCPChallengeACK +{}", r.delta(Host::Server, "TCPChallengeACK"))),
            Check::new(Source::App, "the connection survives both: the echo after them comes back", client_reads.get(1).is_some_and(|c| c.bytes.unwrap_or(0) > 0), r.calls_text("client", "read")),
            Check::new(Source::App, "the exact RST ends it: the server's read() fails with ECONNRESET", server_reset, r.calls_text("server", "read")),
            Check::new(Source::Counters, "the server counts EstabResets once", r.delta(Host::Server, "EstabResets") == 1, format!("EstabResets +{}", r.delta(Host::Server, "EstabResets"))),
            Check::new(Source::App, "the client, never told, writes again and gets ECONNRESET when the server's kernel answers with an RST", client_reads.last().is_some_and(|c| c.errno_code == Some(libc::ECONNRESET)), r.calls_text("client", "read")),
        ]
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "RFC 793 let any RST inside the receive window end a connection, so an attacker who guessed a sequence \
number roughly could reset it. RFC 5961, which Linux implements, narrows this: an RST is accepted only if its \
sequence number is exactly the next one expected (RCV.NXT). One elsewhere inside the window draws a challenge ACK \
(counted as TCPChallengeACK): a real peer that had reset will answer it with an exact RST, a blind attacker cannot. \
One outside the window is dropped silently. Here the three RSTs come from a raw socket in the client's namespace; \
only the third ends the server's side, and the client, which never sent it, learns only when its next data is \
answered with an RST.",
            tune: &["net.ipv4.tcp_challenge_ack_limit (per-host rate of challenge ACKs; per socket since Linux 6.0)"],
            production: "TCPChallengeACK rising without resets: RSTs with wrong sequence numbers are arriving (an attack, or a \
middlebox resetting with stale numbers). tcpscope marks an RST that does not end a connection.",
        }
    }
}

/// `lab http-keepalive-race`.
pub struct HttpKeepaliveRace;

const IDLE: Duration = Duration::from_millis(500);
/// The link's one-way delay. The race happens when the second request
/// leaves the client within one delay of the server's close, either side:
/// the client aims at the middle of that window, so a thread woken up to
/// one delay late on a busy machine still races.
const DELAY: Duration = Duration::from_millis(50);
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n";

impl Lab for HttpKeepaliveRace {
    fn name(&self) -> &'static str {
        "http-keepalive-race"
    }
    fn what(&self) -> &'static str {
        "a server closes an idle keep-alive connection just as the client sends its next request on it: the request is lost and the client sees EOF, then EPIPE"
    }
    fn link(&self) -> LinkSpec {
        LinkSpec::with_delay(DELAY)
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        // An HTTP/1.1 server with a 500 ms keep-alive idle timeout.
        let srv = util::server(env, 16, |app, l| {
            for _ in 0..3 {
                let mut s = app.accept(&l)?;
                s.set_read_timeout(Some(IDLE))?;
                loop {
                    match app.read(&mut s, 1000) {
                        Ok(n) if n > 0 => {
                            app.write(&mut s, RESPONSE)?;
                        }
                        // Idle too long, or the client closed: close.
                        _ => break,
                    }
                }
                app.close(s);
            }
            Ok(())
        })?;
        util::client(env, |app, to| {
            // A client that reuses its connection when the server's idle
            // timer fires (the response took one delay to arrive): the
            // server's FIN is on its way.
            let mut s = app.connect(to)?;
            app.write(&mut s, REQUEST)?;
            app.read(&mut s, 1000)?;
            std::thread::sleep(IDLE - DELAY);
            app.write(&mut s, REQUEST)?;
            let _ = app.read(&mut s, 1000);
            std::thread::sleep(Duration::from_millis(100));
            let _ = app.write(&mut s, REQUEST);
            app.close(s);
            // The cure: an idle timeout shorter than the server's (250 ms),
            // and a new connection for the next request.
            let mut s = app.connect(to)?;
            app.write(&mut s, REQUEST)?;
            app.read(&mut s, 1000)?;
            std::thread::sleep(Duration::from_millis(250));
            app.close(s);
            let mut s = app.connect(to)?;
            app.write(&mut s, REQUEST)?;
            app.read(&mut s, 1000)?;
            app.close(s);
            Ok(())
        })?;
        let _ = srv.join();
        Ok(())
    }
    fn checks(&self, r: &Record, a: &Analysis) -> Vec<Check> {
        let writes: Vec<_> = r.calls("client", "write").collect();
        let reads: Vec<_> = r.calls("client", "read").collect();
        let p: Vec<&Pkt> = a.of_conn(1).collect();
        let fin = p.iter().position(|x| !x.from_client && x.has(FIN));
        // The second request left the client before the server's FIN arrived.
        let crossed =
            fin.is_some_and(|i| p[..i].iter().filter(|x| x.from_client && x.len > 0).count() == 2);
        let rst = p.iter().any(|x| !x.from_client && x.has(RST));
        let lost = reads
            .get(1)
            .is_some_and(|c| c.bytes == Some(0) || c.errno_code == Some(libc::ECONNRESET));
        vec![
            Check::new(Source::App, "the second request's write() succeeds", writes.get(1).is_some_and(|c| c.errno.is_none()), r.calls_text("client", "write")),
            Check::new(Source::Wire, "it crosses the server's FIN on the link: it left before the FIN arrived", crossed, format!("{} packets", p.len())),
            Check::new(Source::Wire, "the server's kernel answers the request with an RST: nobody will read it", rst, format!("{} packets", p.len())),
            Check::new(Source::App, "the client's read() gets no response: end of file (the FIN came first)", lost, r.calls_text("client", "read")),
            Check::new(Source::App, "and a write after that fails with EPIPE (Broken pipe)", writes.get(2).is_some_and(|c| c.errno_code == Some(libc::EPIPE)), r.calls_text("client", "write")),
            Check::new(Source::App, "with an idle timeout shorter than the server's, the client opens a new connection and the request succeeds", reads.iter().rev().take(2).all(|c| c.bytes.unwrap_or(0) > 0), r.calls_text("client", "read")),
        ]
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "HTTP/1.1 keeps connections open between requests, and each side may close an idle one on its own timer. When \
the server's idle timeout fires just as the client sends its next request on that connection, the server's FIN and \
the request cross. The request's write() succeeds (the data is only queued), the server's kernel answers the request \
with an RST because its application has closed, and the client reads end of file (a response with no bytes: \
\"server closed the connection unexpectedly\", Go's \"EOF\"), or ECONNRESET if the RST won; the next write fails with \
EPIPE, \"Broken pipe\". Nobody did anything wrong, and it happens under light load, on connections idle for just the \
server's timeout. It is the most common source of sporadic \"connection reset by peer\" and \"broken pipe\" errors \
between HTTP services. HTTP does close connections by itself: the server's idle timeout does.",
            tune: &[
                "make the client's idle timeout (its pool's max idle time) shorter than the server's keep-alive timeout",
                "retry idempotent requests once on a fresh connection after EOF, ECONNRESET or EPIPE on a reused one",
                "or have the server send `Connection: close` / `Keep-Alive: timeout=N` so the client knows",
            ],
            production: "Errors only on reused connections, idle for about the server's keep-alive timeout (nginx 75 s, Apache \
5 s, many load balancers 60 s). In a capture: the server's FIN and the client's request in flight at the same time, \
then an RST from the server.",
        }
    }
}

//! The ways a connection ends with FINs: the client closes first, the
//! server closes first, half-close, and a simultaneous close.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use tcpscope_track::{Side, State};
use tcpscope_wire::tcp::flags::FIN;

use super::util::{self, in_order, kernel_path};
use crate::analysis::Analysis;
use crate::check::{Check, Source};
use crate::env::{Env, Host, Record};
use crate::link::LinkSpec;
use crate::{Explanation, Lab, LabError};

fn link() -> LinkSpec {
    LinkSpec::with_delay(Duration::from_millis(10))
}

/// Who sent the first FIN of connection 1, from the capture.
fn first_fin(a: &Analysis) -> Option<Host> {
    a.of_conn(1).find(|p| p.has(FIN)).map(|p| {
        if p.from_client {
            Host::Client
        } else {
            Host::Server
        }
    })
}

/// The checks both one-sided closes share: `closer` sends the first FIN,
/// holds TIME-WAIT (kernel and tcpscope), the other passes through
/// CLOSE-WAIT and LAST-ACK and its application reads EOF.
fn one_sided(r: &Record, a: &Analysis, closer: Host) -> Vec<Check> {
    let other = match closer {
        Host::Client => Host::Server,
        Host::Server => Host::Client,
    };
    let have = r.kernel_missing.is_none();
    let (cp, op) = (kernel_path(r, closer), kernel_path(r, other));
    let tw_closer = r.time_wait(closer);
    let tw_other = r.time_wait(other);
    let tw_left = tw_closer.first().map_or(0.0, |s| s.expires_ms as f64 / 1e3);
    let c = a.conn(1);
    let side = |h: Host| match h {
        Host::Client => Side::Client,
        Host::Server => Side::Server,
    };
    let eof = r
        .calls(other.name(), "read")
        .any(|c| c.bytes == Some(0) && c.errno.is_none());
    vec![
        Check::new(Source::Wire, format!("the {} sends the first FIN", closer.name()), first_fin(a) == Some(closer), format!("{:?}", first_fin(a).map(Host::name))),
        Check::kernel(have, format!("kernel: the {}'s socket goes FIN-WAIT-1 -> FIN-WAIT-2 -> CLOSED (a TIME-WAIT socket takes over)", closer.name()), in_order(&cp, &["FIN-WAIT-1", "FIN-WAIT-2", "CLOSED"]), cp.join(" -> ")),
        Check::kernel(have, format!("kernel: the {}'s socket goes CLOSE-WAIT -> LAST-ACK -> CLOSED", other.name()), in_order(&op, &["CLOSE-WAIT", "LAST-ACK", "CLOSED"]), op.join(" -> ")),
        Check::new(Source::Kernel, format!("sock_diag: the {} holds the TIME-WAIT socket, about 60 s long on Linux", closer.name()), tw_closer.len() == 1 && (55.0..=60.0).contains(&tw_left), format!("{} TIME-WAIT socket(s), {tw_left:.1} s left", tw_closer.len())),
        Check::new(Source::Kernel, format!("sock_diag: the {} holds none", other.name()), tw_other.is_empty(), format!("{} TIME-WAIT socket(s)", tw_other.len())),
        Check::new(Source::Tcpscope, format!("tcpscope: the {} closed first and holds TIME-WAIT", closer.name()), c.is_some_and(|c| c.closed_first == Some(side(closer)) && c.time_wait == Some(side(closer))), c.map_or("no connection".into(), |c| format!("closed first {:?}, TIME-WAIT {:?}", c.closed_first.map(Side::name), c.time_wait.map(Side::name)))),
        Check::new(Source::App, format!("the {}'s read() returns 0 (end of file) after the FIN", other.name()), eof, format!("{} reads", r.calls(other.name(), "read").count())),
        Check::new(Source::Counters, format!("the {}'s TW counter rises by one as its socket enters TIME-WAIT", closer.name()), r.delta(closer, "TW") == 1 && r.delta(other, "TW") == 0, format!("TW {} +{}, {} +{}", closer.name(), r.delta(closer, "TW"), other.name(), r.delta(other, "TW"))),
    ]
}

/// `lab client-close`.
pub struct ClientClose;

impl Lab for ClientClose {
    fn name(&self) -> &'static str {
        "client-close"
    }
    fn what(&self) -> &'static str {
        "the client closes first: the four-segment close, and only the client holds TIME-WAIT"
    }
    fn link(&self) -> LinkSpec {
        link()
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        let srv = util::server(env, 16, |app, l| {
            let mut s = app.accept(&l)?;
            app.read(&mut s, 100)?;
            app.write(&mut s, b"world")?;
            app.read(&mut s, 100)?;
            app.close(s);
            Ok(())
        })?;
        util::client(env, |app, to| {
            let mut s = app.connect(to)?;
            app.write(&mut s, b"hello")?;
            app.read(&mut s, 100)?;
            app.close(s);
            Ok(())
        })?;
        util::join(srv)
    }
    fn checks(&self, r: &Record, a: &Analysis) -> Vec<Check> {
        one_sided(r, a, Host::Client)
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "The side that calls close() first is the active closer: its FIN moves it to FIN-WAIT-1, the ACK of the FIN to \
FIN-WAIT-2, and the peer's FIN to TIME-WAIT, where it stays 60 seconds on Linux (TCP_TIMEWAIT_LEN, not tunable) so \
that late segments of this connection die out before the same four-tuple can be used again. The other side reads end \
of file (read() returns 0), sits in CLOSE-WAIT until its application closes too, then in LAST-ACK until its FIN is \
acknowledged, and keeps no state afterwards. Linux's tracepoint shows the closer's full socket go FIN-WAIT-2 -> \
CLOSED: a small TIME-WAIT socket takes over, which sock_diag (ss -tan state time-wait) lists.",
            tune: &[
                "TIME-WAIT costs the side that closes first: let clients close, so the server does not collect them",
                "net.ipv4.tcp_tw_reuse lets a client reuse its own TIME-WAIT ports for new connections (1: any, 2: loopback only, the default)",
                "net.ipv4.tcp_max_tw_buckets caps the number of TIME-WAIT sockets",
            ],
            production: "Thousands of TIME-WAIT sockets on a server mean the server closes first (HTTP keep-alive timeouts, \
`Connection: close`); on a client they can exhaust local ports (EADDRNOTAVAIL). `tcpscope ss -a state time-wait` counts them.",
        }
    }
}

/// `lab server-close`.
pub struct ServerClose;

impl Lab for ServerClose {
    fn name(&self) -> &'static str {
        "server-close"
    }
    fn what(&self) -> &'static str {
        "the server closes first: CLOSE-WAIT and LAST-ACK on the client, TIME-WAIT on the server"
    }
    fn link(&self) -> LinkSpec {
        link()
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        let srv = util::server(env, 16, |app, l| {
            let mut s = app.accept(&l)?;
            app.read(&mut s, 100)?;
            app.write(&mut s, b"world")?;
            app.close(s);
            Ok(())
        })?;
        util::client(env, |app, to| {
            let mut s = app.connect(to)?;
            app.write(&mut s, b"hello")?;
            app.read_all(&mut s, 1 << 20)?;
            app.close(s);
            Ok(())
        })?;
        util::join(srv)
    }
    fn checks(&self, r: &Record, a: &Analysis) -> Vec<Check> {
        one_sided(r, a, Host::Server)
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "Here the server answers and closes at once (as an HTTP/1.0 server or one that sends `Connection: close` \
does). Its FIN makes it the active closer: FIN-WAIT-1, FIN-WAIT-2, then TIME-WAIT for 60 seconds once the client's FIN \
arrives. The client reads the reply, then read() returns 0; it is in CLOSE-WAIT until it calls close(), then LAST-ACK \
until the server acknowledges its FIN. Who closes first decides who pays for TIME-WAIT; it is not about client or server.",
            tune: &[
                "let the client close first where the protocol allows (HTTP/1.1 keep-alive with a client idle timeout shorter than the server's)",
                "net.ipv4.tcp_max_tw_buckets caps the number of TIME-WAIT sockets (TCPTimeWaitOverflow counts the excess)",
            ],
            production: "A server with many TIME-WAIT sockets is closing first; they are harmless on a server (no port is tied up) \
until tcp_max_tw_buckets is reached, but show where connections end.",
        }
    }
}

/// `lab half-close`.
pub struct HalfClose;

impl Lab for HalfClose {
    fn name(&self) -> &'static str {
        "half-close"
    }
    fn what(&self) -> &'static str {
        "shutdown(SHUT_WR): the client's FIN ends its sending only, and data still flows back"
    }
    fn link(&self) -> LinkSpec {
        link()
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        let srv = util::server(env, 16, |app, l| {
            let mut s = app.accept(&l)?;
            // Read the whole request: until the client's FIN.
            app.read_all(&mut s, 1 << 20)?;
            std::thread::sleep(Duration::from_millis(50));
            for _ in 0..3 {
                app.write(&mut s, &[b'x'; 1000])?;
                std::thread::sleep(Duration::from_millis(30));
            }
            app.close(s);
            Ok(())
        })?;
        util::client(env, |app, to| {
            let mut s = app.connect(to)?;
            app.write(&mut s, b"the whole request")?;
            app.shutdown_write(&s)?;
            app.read_all(&mut s, 1 << 20)?;
            app.close(s);
            Ok(())
        })?;
        util::join(srv)
    }
    fn checks(&self, r: &Record, a: &Analysis) -> Vec<Check> {
        let have = r.kernel_missing.is_none();
        let fin_at = a
            .of_conn(1)
            .find(|p| p.from_client && p.has(FIN))
            .map(|p| p.t);
        let after: u32 = a
            .of_conn(1)
            .filter(|p| !p.from_client && fin_at.is_some_and(|t| p.t > t))
            .map(|p| p.len)
            .sum();
        let cpath = kernel_path(r, Host::Client);
        let spath = kernel_path(r, Host::Server);
        let got: usize = r.calls("client", "read").filter_map(|c| c.bytes).sum();
        let states: Vec<(State, State)> = a
            .of_conn(1)
            .filter(|p| !p.from_client && p.len > 0)
            .map(|p| p.states)
            .collect();
        vec![
            Check::new(Source::Wire, "the client's FIN comes first, and 3000 bytes of data follow it from the server", fin_at.is_some() && after == 3000, format!("{after} bytes after the client's FIN")),
            Check::new(Source::App, "shutdown() succeeds and the client still reads all 3000 bytes, then end of file", r.calls("client", "shutdown").all(|c| c.errno.is_none()) && got == 3000, format!("{got} bytes read")),
            Check::new(Source::App, "the server's read() returns 0 at the client's FIN, before it answers", r.calls("server", "read").any(|c| c.bytes == Some(0)), "see the calls".to_string()),
            Check::kernel(have, "kernel: the client sits in FIN-WAIT-2 while it receives, then TIME-WAIT takes over", in_order(&cpath, &["FIN-WAIT-1", "FIN-WAIT-2", "CLOSED"]), cpath.join(" -> ")),
            Check::kernel(have, "kernel: the server sends from CLOSE-WAIT, then LAST-ACK", in_order(&spath, &["CLOSE-WAIT", "LAST-ACK"]), spath.join(" -> ")),
            Check::new(Source::Tcpscope, "tcpscope: the server's data leaves with the client in FIN-WAIT-2 and the server in CLOSE-WAIT", !states.is_empty() && states.iter().all(|s| *s == (State::FinWait2, State::CloseWait)), format!("{:?}", states.first())),
        ]
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "shutdown(SHUT_WR) sends a FIN but keeps the socket open for reading: \"I have sent everything\". The server's \
read() returns 0, it answers, and its data reaches a client in FIN-WAIT-2, which acknowledges and reads it normally. Only \
the server's own FIN ends the connection. Protocols that mark the end of a request by closing the sending direction (an \
old HTTP/1.0 client, `nc -N`, rsh) rely on this; close() instead would make the client's kernel answer the reply with \
an RST.",
            tune: &[
                "use shutdown(SHUT_WR), not close(), when the peer still has data to send",
                "net.ipv4.tcp_fin_timeout bounds FIN-WAIT-2 only for sockets the application has closed (orphans)",
            ],
            production: "A peer that half-closes and waits for an answer looks idle in FIN-WAIT-2 on its side and CLOSE-WAIT on \
the server's; both are normal while the answer is coming.",
        }
    }
}

/// `lab simultaneous-close`.
pub struct SimultaneousClose;

impl Lab for SimultaneousClose {
    fn name(&self) -> &'static str {
        "simultaneous-close"
    }
    fn what(&self) -> &'static str {
        "both sides close at once: the FINs cross, both pass through CLOSING and both hold TIME-WAIT"
    }
    fn link(&self) -> LinkSpec {
        LinkSpec::with_delay(Duration::from_millis(30))
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        let both = Arc::new(Barrier::new(2));
        let b2 = both.clone();
        let srv = util::server(env, 16, move |app, l| {
            let mut s = app.accept(&l)?;
            app.read(&mut s, 100)?;
            b2.wait();
            app.shutdown_write(&s)?;
            app.read_all(&mut s, 100)?;
            std::thread::sleep(Duration::from_millis(200));
            app.close(s);
            Ok(())
        })?;
        util::client(env, move |app, to| {
            let mut s = app.connect(to)?;
            app.write(&mut s, b"hello")?;
            // Both applications call shutdown() within microseconds;
            // each FIN is 30 ms on the way when the other leaves.
            std::thread::sleep(Duration::from_millis(100));
            both.wait();
            app.shutdown_write(&s)?;
            app.read_all(&mut s, 100)?;
            std::thread::sleep(Duration::from_millis(200));
            app.close(s);
            Ok(())
        })?;
        util::join(srv)
    }
    fn checks(&self, r: &Record, a: &Analysis) -> Vec<Check> {
        let have = r.kernel_missing.is_none();
        let cpath = kernel_path(r, Host::Client);
        let spath = kernel_path(r, Host::Server);
        let fins: Vec<_> = a.of_conn(1).filter(|p| p.has(FIN)).collect();
        // Crossing: neither FIN acknowledges the other.
        let crossed = fins.len() == 2
            && fins[0].from_client != fins[1].from_client
            && fins[1].ack != fins[0].seq.wrapping_add(fins[0].len + 1);
        let c = a.conn(1);
        vec![
            Check::new(
                Source::Wire,
                "both FINs leave before either arrives: neither acknowledges the other",
                crossed,
                format!("{} FINs", fins.len()),
            ),
            Check::kernel(
                have,
                "kernel: the client goes FIN-WAIT-1 -> CLOSING",
                in_order(&cpath, &["FIN-WAIT-1", "CLOSING"]),
                cpath.join(" -> "),
            ),
            Check::kernel(
                have,
                "kernel: the server goes FIN-WAIT-1 -> CLOSING",
                in_order(&spath, &["FIN-WAIT-1", "CLOSING"]),
                spath.join(" -> "),
            ),
            Check::new(
                Source::Kernel,
                "sock_diag: both sides hold a TIME-WAIT socket",
                r.time_wait(Host::Client).len() == 1 && r.time_wait(Host::Server).len() == 1,
                format!(
                    "client {}, server {}",
                    r.time_wait(Host::Client).len(),
                    r.time_wait(Host::Server).len()
                ),
            ),
            Check::new(
                Source::Tcpscope,
                "tcpscope: both sides end in TIME-WAIT",
                a.packets
                    .iter()
                    .rev()
                    .find(|p| p.conn == 1)
                    .is_some_and(|p| p.states == (State::TimeWait, State::TimeWait)),
                format!(
                    "{:?}",
                    a.packets
                        .iter()
                        .rev()
                        .find(|p| p.conn == 1)
                        .map(|p| p.states)
                ),
            ),
            Check::new(
                Source::Counters,
                "both namespaces count a TW",
                r.delta(Host::Client, "TW") == 1 && r.delta(Host::Server, "TW") == 1,
                format!(
                    "client +{}, server +{}",
                    r.delta(Host::Client, "TW"),
                    r.delta(Host::Server, "TW")
                ),
            ),
            Check::new(
                Source::Tcpscope,
                "tcpscope's summary still names one closer (the first FIN seen)",
                c.is_some_and(|c| c.closed_first.is_some()),
                c.map_or("none".into(), |c| {
                    format!("{:?}", c.closed_first.map(Side::name))
                }),
            ),
        ]
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "When both sides send their FIN before receiving the other's, each is in FIN-WAIT-1 when a FIN arrives that does \
not acknowledge its own: RFC 9293 moves it to CLOSING (both closed, waiting for the ACK of my FIN). The ACKs then move \
both to TIME-WAIT, so both sides hold the four-tuple for 60 seconds. It takes a long enough path, or two applications \
that close on the same signal, for the FINs to cross.",
            tune: &["nothing to tune: it is rare and harmless; the cost is one TIME-WAIT socket on each side"],
            production: "CLOSING in `ss` is short-lived; seeing many means FINs cross often (both ends time out idle connections \
at the same moment) or the final ACKs are lost.",
        }
    }
}

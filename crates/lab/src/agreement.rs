//! How far tcpscope's inferred states and application outcomes agree with
//! the kernel's: for every endpoint of every connection between the lab's
//! two hosts, the sequence of states tcpscope gives it against the sequence
//! the kernel went through (its `inet_sock_set_state` events, then the
//! sockets sock_diag lists at the end); and for each application, what
//! tcpscope says it saw against what its calls returned. The labs' records
//! are the oracle the inference is improved against.
//!
//! Normalizations, each because the two accounts name one history
//! differently:
//!
//! - Both sequences start at the first state after CLOSED or LISTEN: a
//!   server's LISTEN belongs to the listener, another socket (a server
//!   side tcpscope leaves in LISTEN had no socket: CLOSED).
//! - The kernel's CLOSED → SYN-SENT event carries local port 0 (connect()
//!   picks the port after it): events are joined into sockets by the
//!   kernel's socket address, which names the socket across events. A
//!   socket whose only event is that one (its end, a timer's, was not
//!   delivered) goes, in order, to the client connections left without one.
//! - The account ends when the lab lists the sockets; later events are
//!   not compared.
//! - A request socket (a handshake not yet complete) never reaches the
//!   tracepoint: a server with no event whose SYN-ACK was captured starts in
//!   SYN-RECEIVED; sock_diag lists it as SYN-RECEIVED while it lives.
//! - Linux hands a closing socket to a timewait socket and traces that as
//!   CLOSED; when sock_diag lists the timewait socket at the end (TIME-WAIT,
//!   or FIN-WAIT-2 for an orphan), that CLOSED is its state instead.
//! - A timewait socket's end is not traced: tcpscope's TIME-WAIT → CLOSED
//!   (a new connection on the four-tuple ended it) compares as CLOSED.
//! - Linux passes through FIN-WAIT-2 for an instant when one segment both
//!   acknowledges its FIN and carries the peer's; RFC 9293 goes from
//!   FIN-WAIT-1 to TIME-WAIT. A kernel FIN-WAIT-2 shorter than 1 ms is
//!   dropped when tcpscope's account has none.
//! - A socket the kernel no longer lists at the end is CLOSED, also when
//!   the event that closed it (a timer's: a SYN given up, an orphan's FIN
//!   given up) was not delivered to the tracer.
//! - A socket that closed while sock_diag was listing (its CLOSED event
//!   falls after the listing began) keeps CLOSED: the list saw it a moment
//!   before its close.

use std::net::{IpAddr, SocketAddr};

use serde::Serialize;
use tcpscope_kernel::trace::TcpEventKind;
use tcpscope_track::{ConnSummary, Endpoint, Side, State};

use crate::env::Host;
use crate::Outcome;

/// One endpoint's two histories.
#[derive(Clone, Debug, Serialize)]
pub struct EndpointAgreement {
    /// Connection number.
    pub conn: u64,
    /// "client" or "server".
    pub side: &'static str,
    /// The states tcpscope inferred, in order (normalized).
    pub tcpscope: Vec<&'static str>,
    /// The states the kernel went through (normalized).
    pub kernel: Vec<&'static str>,
    /// Whether they agree.
    pub agrees: bool,
    /// When they differ: why the capture point cannot see the difference,
    /// or null when it could (a real disagreement).
    pub invisible: Option<&'static str>,
}

fn addr(e: &Endpoint) -> SocketAddr {
    let ip: IpAddr = if e.addr.v6 {
        IpAddr::from(e.addr.bytes)
    } else {
        IpAddr::from([
            e.addr.bytes[0],
            e.addr.bytes[1],
            e.addr.bytes[2],
            e.addr.bytes[3],
        ])
    };
    SocketAddr::new(ip, e.port)
}

/// One kernel socket's life: its four-tuple and its states, with the time
/// (ns) it entered each.
struct KernelSocket {
    host: Host,
    local: SocketAddr,
    peer: SocketAddr,
    states: Vec<(State, u64)>,
}

/// The kernel's state events, joined into sockets by socket address: a
/// socket's life runs from its first event to the one that closes it.
fn kernel_sockets(o: &Outcome) -> Vec<KernelSocket> {
    let mut open: Vec<(u64, KernelSocket)> = Vec::new();
    let mut done = Vec::new();
    for e in &o.record.kernel {
        let TcpEventKind::State { sk, old, new } = e.kind else {
            continue;
        };
        if e.time_ns > o.record.sockets_listed_ns {
            continue; // after the end the sockets' list gives
        }
        let Some(host) = Host::of(&e.local) else {
            continue;
        };
        let (Some(old), Some(new)) = (State::from_kernel(old), State::from_kernel(new)) else {
            continue;
        };
        if new == State::Listen || old == State::Listen && new == State::Closed {
            continue; // the listener itself
        }
        // A life starts from CLOSED (or at a listener's child): a socket
        // address seen again then is a new socket whose predecessor's end
        // was not delivered to the tracer.
        if old == State::Closed || old == State::Listen {
            if let Some(i) = open.iter().position(|(k, _)| *k == sk) {
                done.push(open.remove(i).1);
            }
        }
        let i = match open.iter().position(|(k, _)| *k == sk) {
            Some(i) => i,
            None => {
                open.push((
                    sk,
                    KernelSocket {
                        host,
                        local: e.local,
                        peer: e.peer,
                        states: vec![(old, e.time_ns)],
                    },
                ));
                open.len() - 1
            }
        };
        let s = &mut open[i].1;
        if e.local.port() != 0 {
            s.local = e.local;
            s.peer = e.peer;
        }
        s.states.push((new, e.time_ns));
        if new == State::Closed {
            done.push(open.remove(i).1);
        }
    }
    done.extend(open.into_iter().map(|(_, s)| s));
    done
}

fn dedup(v: &mut Vec<State>) {
    // LISTEN on a connection's server side means it has no socket of its
    // own for the connection yet.
    for s in v.iter_mut() {
        if *s == State::Listen {
            *s = State::Closed;
        }
    }
    v.dedup();
    while v
        .first()
        .is_some_and(|s| matches!(s, State::Closed | State::Listen))
        && v.len() > 1
    {
        v.remove(0);
    }
}

/// tcpscope's history of one side: its first state, then every change,
/// a withdrawn state taken back, then its state at the capture's end.
fn ours(o: &Outcome, c: &ConnSummary, side: Side) -> Vec<State> {
    let mut v = Vec::new();
    for p in o.at_listing.of_conn(c.id) {
        if v.is_empty() {
            let first = p.transitions.iter().find(|t| t.side == side);
            v.push(match first {
                Some(t) => t.from,
                None => match side {
                    Side::Client => p.states.0,
                    Side::Server => p.states.1,
                },
            });
        }
        for t in p.transitions.iter().filter(|t| t.side == side) {
            if t.withdraws {
                v.pop();
            }
            if v.last() != Some(&t.to) {
                v.push(t.to);
            }
        }
    }
    let end = match side {
        Side::Client => c.end_states.0,
        Side::Server => c.end_states.1,
    };
    v.push(end);
    dedup(&mut v);
    v
}

/// Every endpoint of the lab's connections, compared.
pub fn endpoints(o: &Outcome) -> Vec<EndpointAgreement> {
    let mut out = Vec::new();
    let conns = &o.at_listing.conns;
    let sockets = kernel_sockets(o);
    for c in conns {
        let (ca, sa) = (addr(&c.client), addr(&c.server));
        let (Some(ch), Some(sh)) = (Host::of(&ca), Host::of(&sa)) else {
            continue;
        };
        // Which use of this four-tuple the connection is, and whether a
        // later one owns the sockets sock_diag lists at the end.
        let same: Vec<u64> = conns
            .iter()
            .filter(|d| addr(&d.client) == ca && addr(&d.server) == sa)
            .map(|d| d.id)
            .collect();
        let nth = same.iter().position(|&id| id == c.id).unwrap_or(0);
        let superseded = nth + 1 < same.len();
        for (side, host, local, peer) in [(Side::Client, ch, ca, sa), (Side::Server, sh, sa, ca)] {
            let mut us = ours(o, c, side);
            let socket = sockets
                .iter()
                .filter(|s| s.host == host && s.local == local && s.peer == peer)
                .nth(nth)
                .or_else(|| {
                    // A connect() whose only event is CLOSED -> SYN-SENT
                    // (port 0): the k-th such socket is the k-th client
                    // connection without a socket of its own.
                    if side != Side::Client {
                        return None;
                    }
                    let k = conns
                        .iter()
                        .filter(|d| d.id <= c.id && Host::of(&addr(&d.client)) == Some(host))
                        .filter(|d| {
                            !sockets
                                .iter()
                                .any(|s| s.host == host && s.local == addr(&d.client))
                        })
                        .count();
                    sockets
                        .iter()
                        .filter(|s| s.host == host && s.local.port() == 0 && s.peer == peer)
                        .nth(k.checked_sub(1)?)
                });
            let mut kernel: Vec<(State, u64)> = socket.map_or_else(Vec::new, |s| s.states.clone());
            if kernel.is_empty() && side == Side::Server && c.dir(Side::Server).synack {
                kernel.push((State::SynReceived, 0)); // a request socket
            }
            let listed = if superseded {
                None
            } else {
                o.record.sockets[host as usize]
                    .iter()
                    .find(|s| s.local == local && s.peer == peer)
                    .and_then(|s| State::from_kernel(s.state))
            };
            match (kernel.last().copied(), listed) {
                (Some((State::Closed, _)), Some(tw @ (State::TimeWait | State::FinWait2))) => {
                    let (_, t) = kernel.pop().unwrap_or((tw, u64::MAX));
                    kernel.push((tw, t));
                }
                // The socket closed while the list was being taken: the
                // list saw it before its close, the event after.
                (Some((State::Closed, t)), Some(_)) if t >= o.record.sockets_listing_started_ns => {
                }
                (last, Some(l)) if last.map(|k| k.0) != Some(l) => kernel.push((l, u64::MAX)),
                (Some((last, _)), None) if last != State::Closed => {
                    kernel.push((State::Closed, u64::MAX))
                }
                _ => {}
            }
            // An instant's FIN-WAIT-2 on the way to TIME-WAIT.
            if !us.contains(&State::FinWait2) {
                let mut i = 0;
                while i + 1 < kernel.len() {
                    let (s, t) = kernel[i];
                    let next = kernel[i + 1].1;
                    if s == State::FinWait2
                        && next != u64::MAX
                        && next.saturating_sub(t) < 1_000_000
                    {
                        kernel.remove(i);
                    } else {
                        i += 1;
                    }
                }
            }
            let mut k: Vec<State> = kernel.into_iter().map(|(s, _)| s).collect();
            if k.is_empty() {
                k.push(State::Closed);
            }
            dedup(&mut k);
            // A timewait socket's end is not traced.
            if k.last() == Some(&State::Closed) && us.ends_with(&[State::TimeWait, State::Closed]) {
                let n = us.len();
                us.remove(n - 2);
            }
            let agrees = us == k;
            let invisible = if agrees {
                None
            } else {
                invisible_state(o, c, side, &us, &k)
            };
            out.push(EndpointAgreement {
                conn: c.id,
                side: side.name(),
                tcpscope: us.iter().map(|s| s.name()).collect(),
                kernel: k.iter().map(|s| s.name()).collect(),
                agrees,
                invisible,
            });
        }
    }
    out
}

/// Why a difference in one side's history cannot be seen where the lab
/// captures, or `None` when it could have been.
fn invisible_state(
    o: &Outcome,
    c: &ConnSummary,
    side: Side,
    us: &[State],
    kernel: &[State],
) -> Option<&'static str> {
    if c.missing.is_some() {
        return Some("one direction of the connection is missing from the capture");
    }
    if kernel.last() == Some(&State::Closed) && kernel[..kernel.len() - 1] == *us {
        return Some(
            "the kernel closed it on a timer (a retry limit or a timeout) without sending a packet",
        );
    }
    if us.last() == Some(&State::TimeWait)
        && kernel.last() == Some(&State::Closed)
        && us[..us.len() - 1] == kernel[..kernel.len() - 1]
    {
        return Some("a full TIME-WAIT table (tcp_max_tw_buckets) closes the socket at once, which looks the same on the wire");
    }
    let far = match o.record.captured_at {
        Host::Client => Side::Server,
        Host::Server => Side::Client,
    };
    let dropped: u64 = o.record.link.rule_drops.iter().map(|(_, n)| n).sum::<u64>()
        + o.record.link.random_drops.iter().sum::<u64>();
    if side == far && dropped > 0 {
        return Some("the link dropped packets between this side and the capture point: what it sent or received there is not in the capture");
    }
    None
}

/// One application's outcome: what tcpscope says it saw against what its
/// calls returned.
#[derive(Clone, Debug, Serialize)]
pub struct OutcomeAgreement {
    /// "client" or "server".
    pub side: &'static str,
    /// tcpscope's word for it (`AppOutcome::key`).
    pub tcpscope: &'static str,
    /// The same word for what the calls returned.
    pub app: &'static str,
    /// Whether they agree.
    pub agrees: bool,
    /// When they differ: why the application's calls cannot show what
    /// tcpscope says, or null when they could (a real disagreement).
    pub invisible: Option<&'static str>,
}

/// What one side's calls say, in tcpscope's words: an ECONNREFUSED connect;
/// an ECONNRESET (the RST came in ESTABLISHED); a first error of EPIPE
/// (the RST came after the peer's FIN); an ETIMEDOUT; a read of 0.
fn app_word(o: &Outcome, who: &str) -> &'static str {
    let calls: Vec<_> = o.record.apps.iter().filter(|c| c.who == who).collect();
    let first_error = calls
        .iter()
        .filter(|c| matches!(c.op, "connect" | "read" | "write"))
        .find_map(|c| c.errno_code);
    let read_eof = calls.iter().any(|c| c.op == "read" && c.bytes == Some(0));
    match first_error {
        Some(libc::ECONNREFUSED) => "refused",
        Some(libc::ECONNRESET) => "reset",
        // tcp_reset gives EPIPE rather than ECONNRESET in CLOSE-WAIT: the
        // RST came after the peer's FIN.
        Some(libc::EPIPE) => "eof_then_epipe",
        Some(libc::ETIMEDOUT) => "timed_out",
        _ if read_eof => "eof",
        _ => "nothing",
    }
}

/// Whether tcpscope's word and the application's agree: `after_close`
/// (the peer's FIN or RST came after this side's own FIN) is what a
/// close() sees (nothing) and what a shutdown(SHUT_WR) sees (EOF), which
/// the wire cannot tell apart; the heuristic ETIMEDOUT is ETIMEDOUT.
fn same(ours: &str, app: &str) -> bool {
    ours == app
        || (ours == "after_close" && matches!(app, "nothing" | "eof"))
        || (ours == "timed_out_likely" && app == "timed_out")
}

/// Why an application's calls cannot show what tcpscope says it saw.
fn invisible_outcome(o: &Outcome, who: &str, ours: &str, app: &str) -> Option<&'static str> {
    let calls = || o.record.apps.iter().filter(move |c| c.who == who);
    let reads_or_writes = calls().filter(|c| matches!(c.op, "read" | "write")).count();
    match (ours, app) {
        ("cannot_tell", _) => Some("tcpscope says it cannot tell from this capture"),
        ("eof" | "reset" | "eof_then_epipe", "nothing") => {
            // It closed (or stopped calling) before the news arrived.
            let closed = calls().any(|c| c.op == "close");
            (closed || reads_or_writes == 0).then_some(
                "the application made no read or write after what arrived: it had closed, or stopped calling",
            )
        }
        ("eof_then_epipe", "eof") => Some(
            "the application read EOF and wrote nothing after the RST, so the EPIPE never showed",
        ),
        _ => None,
    }
}

/// Both applications' outcomes, for a lab whose applications made exactly
/// one connection between the two hosts (with more, calls cannot be paired
/// with connections, and nothing is compared).
pub fn outcomes(o: &Outcome) -> Vec<OutcomeAgreement> {
    let ours: Vec<_> = o
        .analysis
        .conns
        .iter()
        .filter(|c| Host::of(&addr(&c.client)).is_some() && Host::of(&addr(&c.server)).is_some())
        .collect();
    let [c] = ours.as_slice() else {
        return Vec::new();
    };
    [("client", c.client_saw), ("server", c.server_saw)]
        .into_iter()
        .map(|(side, saw)| {
            let app = app_word(o, side);
            let agrees = same(saw.key(), app);
            OutcomeAgreement {
                side,
                tcpscope: saw.key(),
                app,
                agrees,
                invisible: if agrees {
                    None
                } else {
                    invisible_outcome(o, side, saw.key(), app)
                },
            }
        })
        .collect()
}

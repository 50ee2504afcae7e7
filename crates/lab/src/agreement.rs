//! How far tcpscope's inferred states agree with the kernel's: for every
//! endpoint of every connection between the lab's two hosts, the state
//! tcpscope gives it after the last captured packet against the state the
//! kernel lists for that socket at the end (sock_diag; a socket it no
//! longer lists is CLOSED). The labs' records are the oracle the inference
//! is improved against.
//!
//! Normalizations: LISTEN on a connection's server side means the server
//! has no socket for that connection yet (the listener is another socket),
//! so it counts as CLOSED; a request socket (`TCP_NEW_SYN_RECV`) is
//! SYN-RECEIVED;
//! an orphaned FIN-WAIT-2 handed to a timewait socket is listed by the
//! kernel as FIN-WAIT-2 until it expires; sockets of a four-tuple used again
//! by a later connection belong to the later one, so the earlier one's
//! kernel state is CLOSED.

use std::net::{IpAddr, SocketAddr};

use serde::Serialize;
use tcpscope_track::{Endpoint, Side, State};

use crate::env::Host;
use crate::Outcome;

/// One endpoint's two answers.
#[derive(Clone, Debug, Serialize)]
pub struct EndpointAgreement {
    /// Connection number.
    pub conn: u64,
    /// "client" or "server".
    pub side: &'static str,
    /// What tcpscope inferred.
    pub tcpscope: &'static str,
    /// What the kernel lists.
    pub kernel: &'static str,
    /// Whether they agree.
    pub agrees: bool,
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

/// Every endpoint of the lab's connections, compared.
pub fn endpoints(o: &Outcome) -> Vec<EndpointAgreement> {
    let mut out = Vec::new();
    let conns = &o.analysis.conns;
    for c in conns {
        let (ca, sa) = (addr(&c.client), addr(&c.server));
        let (Some(ch), Some(sh)) = (Host::of(&ca), Host::of(&sa)) else {
            continue;
        };
        // A later connection on the same four-tuple owns the kernel's socket.
        let superseded = conns
            .iter()
            .any(|d| d.id > c.id && addr(&d.client) == ca && addr(&d.server) == sa);
        let Some(last) = o.analysis.of_conn(c.id).last() else {
            continue;
        };
        for (side, host, local, peer, ours) in [
            (Side::Client, ch, ca, sa, last.states.0),
            (Side::Server, sh, sa, ca, last.states.1),
        ] {
            let ours = if ours == State::Listen {
                State::Closed
            } else {
                ours
            };
            let kernel = if superseded {
                State::Closed
            } else {
                o.record.sockets[host as usize]
                    .iter()
                    .find(|s| s.local == local && s.peer == peer)
                    .and_then(|s| State::from_kernel(s.state))
                    .unwrap_or(State::Closed)
            };
            out.push(EndpointAgreement {
                conn: c.id,
                side: side.name(),
                tcpscope: ours.name(),
                kernel: kernel.name(),
                agrees: ours == kernel,
            });
        }
    }
    out
}

/// One application's outcome: what tcpscope says it saw against what its
/// calls returned.
#[derive(Clone, Debug, Serialize)]
pub struct OutcomeAgreement {
    /// "client" or "server".
    pub side: &'static str,
    /// tcpscope's word for it (`reset`, `eof`, `refused`, `nothing`).
    pub tcpscope: &'static str,
    /// The same word for what the calls returned (`timed_out` when one
    /// failed with ETIMEDOUT, which tcpscope has no word for yet).
    pub app: &'static str,
    /// Whether they agree.
    pub agrees: bool,
}

/// What one side's calls say, in tcpscope's words: an ECONNREFUSED connect,
/// an ECONNRESET read or an EPIPE write, an ETIMEDOUT, a read of 0.
fn app_word(o: &Outcome, who: &str) -> &'static str {
    let calls: Vec<_> = o.record.apps.iter().filter(|c| c.who == who).collect();
    let has = |op: &str, e: i32| calls.iter().any(|c| c.op == op && c.errno_code == Some(e));
    if has("connect", libc::ECONNREFUSED) {
        "refused"
    } else if has("read", libc::ECONNRESET) || has("write", libc::EPIPE) {
        "reset"
    } else if calls.iter().any(|c| c.errno_code == Some(libc::ETIMEDOUT)) {
        "timed_out"
    } else if calls.iter().any(|c| c.op == "read" && c.bytes == Some(0)) {
        "eof"
    } else {
        "nothing"
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
            OutcomeAgreement {
                side,
                tcpscope: saw.key(),
                app,
                agrees: saw.key() == app,
            }
        })
        .collect()
}

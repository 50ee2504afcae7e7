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

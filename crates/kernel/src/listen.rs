//! Listen queues from sock_diag, read as `ss -ltn` readers need them: the
//! half-open handshakes of each listener and what its accept queue says.

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::diag::{tcp_state, Socket};

/// Request sockets in SYN-RECEIVED, counted per listening address: the
/// listener's SYN queue.
pub fn half_open(socks: &[Socket]) -> HashMap<SocketAddr, u32> {
    let mut n = HashMap::new();
    for s in socks
        .iter()
        .filter(|s| s.state == tcp_state::SYN_RECV || s.state == tcp_state::NEW_SYN_RECV)
    {
        *n.entry(s.local).or_insert(0) += 1;
    }
    n
}

/// What a listener's accept queue says: Recv-Q is its length and Send-Q its
/// limit, and it holds Send-Q + 1 connections before it overflows.
pub fn accept_queue_note(s: &Socket) -> Option<&'static str> {
    if s.state != tcp_state::LISTEN {
        None
    } else if s.recv_q > s.send_q {
        Some("accept queue full: new SYNs and handshakes' final ACKs are dropped (ListenOverflows)")
    } else if s.recv_q > 0 {
        Some("connections waiting for accept()")
    } else {
        None
    }
}

/// The name of a socket's active timer (sock_diag's idiag_timer), or `None`.
pub fn timer_name(t: u8) -> Option<&'static str> {
    match t {
        1 => Some("retransmit"),
        2 => Some("keepalive"),
        3 => Some("time-wait"),
        4 => Some("zero-window probe"),
        _ => None,
    }
}

//! What the application saw: per connection, and summed up.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;

use crate::errno;

/// One failed system call, as the application met it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpError {
    /// The operation: connect, accept, read, write, shutdown, close, bind, socket.
    pub op: &'static str,
    /// The errno value.
    pub errno: i32,
}

/// One connection's story.
#[derive(Clone, Debug, Default)]
pub struct ConnRecord {
    /// 1-based number in the order the connections were started or accepted.
    pub id: u64,
    /// Our address.
    pub local: Option<SocketAddr>,
    /// The peer's address.
    pub peer: Option<SocketAddr>,
    /// Time from connect() to established (client side).
    pub connect_time: Option<Duration>,
    /// Bytes the application wrote successfully.
    pub sent: u64,
    /// Bytes the application read.
    pub received: u64,
    /// Whether the peer's FIN was read (read returned 0).
    pub peer_closed: bool,
    /// How this side ended the connection, if it did.
    pub closed_by_us: Option<&'static str>,
    /// Every error, in order.
    pub errors: Vec<OpError>,
    /// HTTP responses read whole (client --http).
    pub responses: u64,
    /// Addresses tried before the one connected (or failed) last, each with
    /// the errno its connect() gave: a name's other addresses.
    pub tried: Vec<(SocketAddr, i32)>,
}

impl ConnRecord {
    /// Note a failed call from its io::Error.
    pub fn fail(&mut self, op: &'static str, e: &std::io::Error) {
        self.errors.push(OpError {
            op,
            errno: e.raw_os_error().unwrap_or(0),
        });
    }

    /// One human line, for `-v`.
    pub fn line(&self, role: &str) -> String {
        let mut s = format!("{role} conn {}", self.id);
        if let (Some(l), Some(p)) = (self.local, self.peer) {
            let _ = write!(s, " {l} -> {p}");
        }
        let mut parts = Vec::new();
        for (a, e) in &self.tried {
            parts.push(format!(
                "{a} first: connect: {} ({})",
                errno::name(*e),
                errno::message(*e)
            ));
        }
        if let Some(t) = self.connect_time {
            parts.push(format!("connected in {}", ms(t)));
        }
        parts.push(format!(
            "sent {} B, received {} B",
            self.sent, self.received
        ));
        if self.responses > 0 {
            parts.push(format!("{} HTTP responses", self.responses));
        }
        if self.peer_closed {
            parts.push("peer closed (EOF)".into());
        }
        if let Some(how) = self.closed_by_us {
            parts.push(format!("closed by us ({how})"));
        }
        for e in &self.errors {
            parts.push(format!(
                "{}: {} ({})",
                e.op,
                errno::name(e.errno),
                errno::message(e.errno)
            ));
        }
        let _ = write!(s, ": {}", parts.join(", "));
        s
    }

    /// The same as a JSON object.
    pub fn json(&self, role: &str) -> serde_json::Value {
        json!({
            "type": "peer_connection",
            "role": role,
            "id": self.id,
            "local": self.local.map(|a| a.to_string()),
            "peer": self.peer.map(|a| a.to_string()),
            "connect_time_ms": self.connect_time.map(|t| t.as_secs_f64() * 1e3),
            "sent": self.sent,
            "received": self.received,
            "responses": self.responses,
            "peer_closed": self.peer_closed,
            "closed_by_us": self.closed_by_us,
            "tried": self.tried.iter().map(|(a, e)| json!({
                "address": a.to_string(), "errno": errno::name(*e), "errno_code": e,
            })).collect::<Vec<_>>(),
            "errors": self.errors.iter().map(|e| json!({
                "op": e.op, "errno": errno::name(e.errno), "errno_code": e.errno, "message": errno::message(e.errno)
            })).collect::<Vec<_>>(),
        })
    }
}

/// The summary of a run.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// "server" or "client".
    pub role: &'static str,
    /// Connections attempted (client) or accepted (server).
    pub connections: u64,
    /// Connections that were established.
    pub established: u64,
    /// Most connections open at once.
    pub peak_open: u64,
    /// Connect latencies (client).
    pub connect_times: Vec<Duration>,
    /// Bytes written.
    pub sent: u64,
    /// Bytes read.
    pub received: u64,
    /// Error counts by (operation, errno).
    pub errors: BTreeMap<(&'static str, i32), u64>,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// A connection asked for `--close exit`: the process should exit now,
    /// with its sockets open.
    pub exit_requested: bool,
}

impl Report {
    /// A report for `role`.
    pub fn new(role: &'static str) -> Report {
        Report {
            role,
            ..Report::default()
        }
    }

    /// Fold one connection in.
    pub fn add(&mut self, rec: &ConnRecord) {
        self.sent += rec.sent;
        self.received += rec.received;
        if let Some(t) = rec.connect_time {
            self.connect_times.push(t);
        }
        for e in &rec.errors {
            *self.errors.entry((e.op, e.errno)).or_insert(0) += 1;
        }
    }

    /// How many times `op` failed with `errno`.
    pub fn error_count(&self, op: &str, errno: i32) -> u64 {
        self.errors
            .iter()
            .filter(|((o, e), _)| *o == op && *e == errno)
            .map(|(_, n)| n)
            .sum()
    }

    /// (min, median, p99) of the connect latencies.
    pub fn latency(&self) -> Option<(Duration, Duration, Duration)> {
        if self.connect_times.is_empty() {
            return None;
        }
        let mut v = self.connect_times.clone();
        v.sort();
        let p99 = ((v.len() as f64 * 0.99).ceil() as usize).clamp(1, v.len()) - 1;
        Some((v[0], v[v.len() / 2], v[p99]))
    }

    /// The human summary.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}: {} connections, {} established, peak {} open, {:.3} s",
            self.role,
            self.connections,
            self.established,
            self.peak_open,
            self.elapsed.as_secs_f64()
        );
        if let Some((min, med, p99)) = self.latency() {
            let _ = writeln!(
                s,
                "  connect latency: min {}, median {}, p99 {}",
                ms(min),
                ms(med),
                ms(p99)
            );
        }
        let _ = writeln!(s, "  bytes: sent {}, received {}", self.sent, self.received);
        if self.errors.is_empty() {
            let _ = writeln!(s, "  errors: none");
        } else {
            let _ = writeln!(s, "  errors:");
            for ((op, e), n) in &self.errors {
                let _ = writeln!(
                    s,
                    "    {op}: {} ({}) x{n}",
                    errno::name(*e),
                    errno::message(*e)
                );
            }
        }
        s
    }

    /// The summary as one JSON object.
    pub fn json(&self) -> serde_json::Value {
        let lat = self.latency().map(|(a, b, c)| {
            json!({"min_ms": a.as_secs_f64() * 1e3, "median_ms": b.as_secs_f64() * 1e3, "p99_ms": c.as_secs_f64() * 1e3})
        });
        json!({
            "type": "peer_summary",
            "role": self.role,
            "connections": self.connections,
            "established": self.established,
            "peak_open": self.peak_open,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "connect_latency": lat,
            "sent": self.sent,
            "received": self.received,
            "errors": self.errors.iter().map(|((op, e), n)| json!({
                "op": op, "errno": errno::name(*e), "errno_code": e, "message": errno::message(*e), "count": n
            })).collect::<Vec<_>>(),
        })
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

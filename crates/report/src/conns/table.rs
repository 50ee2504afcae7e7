//! The aligned table of `conns`.

use std::io::Write as _;

use tcpscope_track::Side;

use super::Batch;

use crate::words::ms;

fn side(s: Option<Side>) -> &'static str {
    s.map_or("-", |s| s.name())
}

/// The header, then one row per connection; with several captures, a
/// line naming each before its rows (ids are per capture).
pub fn write(batches: &[Batch], out: &mut Vec<u8>) {
    let _ = writeln!(
        out,
        "{:>4}  {:<22} {:<22} {:>10} {:>6} {:>9} {:>6} {:>9} {:>10}  {:<6} {:<12} {:>7}  {:<6} {:<9} {:<6} {:<24}  {}",
        "id", "client", "server", "duration", "pkts>", "bytes>", "<pkts", "<bytes", "irtt", "state", "history", "retrans", "closed", "time-wait", "rst", "rst cause", "applications saw"
    );
    for b in batches {
        if batches.len() > 1 {
            let names: Vec<&str> = b.pieces.iter().map(|(_, n)| n.as_str()).collect();
            let _ = writeln!(out, "==> {} <==", names.join(" + "));
        }
        rows(b, out);
    }
}

fn rows(b: &Batch, out: &mut Vec<u8>) {
    for c in &b.conns {
        let irtt = c.irtt.map_or("-".to_string(), ms);
        let client = if c.roles_guessed {
            format!("{}?", c.client)
        } else {
            c.client.to_string()
        };
        let (to, from) = (c.dir(Side::Client), c.dir(Side::Server));
        let _ = writeln!(
            out,
            "{:>4}  {:<22} {:<22} {:>9.6}s {:>6} {:>9} {:>6} {:>9} {:>10}  {:<6} {:<12} {:>7}  {:<6} {:<9} {:<6} {:<24}  client: {}; server: {}{}",
            c.id,
            client,
            c.server.to_string(),
            c.duration(),
            to.packets,
            to.bytes,
            from.packets,
            from.bytes,
            irtt,
            c.conn_state.name(),
            c.history,
            to.retransmissions + from.retransmissions,
            side(c.closed_first),
            side(c.time_wait),
            side(c.reset_by),
            c.rst_cause.map_or("-", |r| r.key()),
            c.client_saw.text(),
            c.server_saw.text(),
            match c.missing {
                Some(s) => format!(" (no packet from the {} was captured: verdicts about it are unknown)", s.name()),
                None => String::new(),
            },
        );
    }
}

//! `conns --format csv`: a header row, then one row per connection
//! (RFC 4180: text fields quoted, quotes doubled).
//!
//! Written by hand rather than with the csv crate: the crate quotes a field
//! only when it must, and this format has always quoted every text field,
//! which scripts reading it may rely on. The tests read it back with the csv
//! crate.

use std::io::Write as _;

use tcpscope_track::{Side, DIR_COUNTS};

use super::Batch;

fn q(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn side(s: Option<Side>) -> &'static str {
    s.map_or("-", |s| s.name())
}

/// The header, then one row per connection.
pub fn write(batches: &[Batch], out: &mut Vec<u8>) {
    let mut counts = Vec::new();
    for (name, _) in DIR_COUNTS {
        counts.push(format!("client_{name}"));
        counts.push(format!("server_{name}"));
    }
    let _ = writeln!(
        out,
        "id,client,server,roles_guessed,start,duration,client_packets,client_bytes,server_packets,server_bytes,irtt_ms,conn_state,history,{},closed_first,time_wait,reset_by,client_saw,server_saw,rst_cause,client_end_state,server_end_state,missing_direction,client_ip_bytes,server_ip_bytes,source_file",
        counts.join(",")
    );
    for (b, c) in batches
        .iter()
        .flat_map(|b| b.conns.iter().map(move |c| (b, c)))
    {
        let (to, from) = (c.dir(Side::Client), c.dir(Side::Server));
        let counts: Vec<String> = DIR_COUNTS
            .iter()
            .flat_map(|(_, get)| [get(to).to_string(), get(from).to_string()])
            .collect();
        let _ = writeln!(
            out,
            "{},{},{},{},{:.6},{:.6},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            c.id,
            q(&c.client.to_string()),
            q(&c.server.to_string()),
            c.roles_guessed,
            c.start.secs(),
            c.duration(),
            to.packets,
            to.bytes,
            from.packets,
            from.bytes,
            c.irtt.map_or(String::new(), |v| format!("{:.6}", v * 1e3)),
            c.conn_state.name(),
            q(&c.history),
            counts.join(","),
            side(c.closed_first),
            side(c.time_wait),
            side(c.reset_by),
            q(c.client_saw.text()),
            q(c.server_saw.text()),
            c.rst_cause.map_or("-", |r| r.key()),
            c.end_states.0.name(),
            c.end_states.1.name(),
            side(c.missing),
            to.ip_bytes,
            from.ip_bytes,
            q(b.source_of(c)),
        );
    }
}

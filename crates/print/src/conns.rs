//! `tcpscope conns`: one row per connection, as an aligned table, JSON
//! Lines, Zeek's conn.log or CSV.

use std::fmt::Write as _;

use tcpscope_track::{Conn, Side};

use crate::explain::ms;

/// The fields of one row, shared by every format.
pub struct Row {
    /// Connection number.
    pub id: u64,
    /// Client endpoint.
    pub client: String,
    /// Server endpoint.
    pub server: String,
    /// Roles guessed (no SYN seen).
    pub guessed: bool,
    /// Start, seconds since the epoch.
    pub start: f64,
    /// Duration in seconds.
    pub duration: f64,
    /// Packets and payload bytes client to server, server to client.
    pub packets: [u64; 2],
    /// Payload bytes each way.
    pub bytes: [u64; 2],
    /// Handshake RTT in seconds.
    pub irtt: Option<f64>,
    /// Zeek's conn_state.
    pub state: &'static str,
    /// Zeek's history.
    pub history: String,
    /// Retransmissions each way.
    pub retrans: [u64; 2],
    /// Duplicate ACKs each way.
    pub dup_acks: [u64; 2],
    /// Zero-window advertisements each way.
    pub zero_windows: [u64; 2],
    /// Segments carrying SACK blocks each way.
    pub sacks: [u64; 2],
    /// D-SACKs each way.
    pub dsacks: [u64; 2],
    /// Who sent the first FIN.
    pub closed_first: Option<Side>,
    /// Who ends in TIME-WAIT.
    pub time_wait: Option<Side>,
    /// Who sent the first RST.
    pub reset_by: Option<Side>,
    /// What the client's application saw.
    pub client_saw: &'static str,
    /// What the server's application saw.
    pub server_saw: &'static str,
}

impl Row {
    /// Summarise a connection.
    pub fn of(c: &Conn) -> Row {
        let (cs, ss) = c.app_errors();
        let saw = |e: Option<&'static str>, me: Side| -> &'static str {
            match e {
                Some(x) => x,
                None => {
                    let peer_fin = if me == Side::Client {
                        c.stats[1].fin
                    } else {
                        c.stats[0].fin
                    };
                    if peer_fin {
                        "EOF (peer closed)"
                    } else {
                        "-"
                    }
                }
            }
        };
        Row {
            id: c.id,
            client: c.client.to_string(),
            server: c.server.to_string(),
            guessed: c.roles_guessed,
            start: c.start.secs(),
            duration: c.last.since(c.start),
            packets: [c.stats[0].packets, c.stats[1].packets],
            bytes: [c.stats[0].bytes, c.stats[1].bytes],
            irtt: c.irtt,
            state: c.conn_state(),
            history: c.history().to_string(),
            retrans: [c.stats[0].retransmissions, c.stats[1].retransmissions],
            dup_acks: [c.stats[0].dup_acks, c.stats[1].dup_acks],
            zero_windows: [c.stats[0].zero_windows, c.stats[1].zero_windows],
            sacks: [c.stats[0].sacks, c.stats[1].sacks],
            dsacks: [c.stats[0].dsacks, c.stats[1].dsacks],
            closed_first: c.first_fin,
            time_wait: c.time_wait(),
            reset_by: c.first_rst,
            client_saw: saw(cs, Side::Client),
            server_saw: saw(ss, Side::Server),
        }
    }
}

/// The per-direction counts JSON and CSV give, named as they name them.
const COUNTS: [[&str; 2]; 5] = [
    ["client_retransmissions", "server_retransmissions"],
    ["client_dup_acks", "server_dup_acks"],
    ["client_zero_windows", "server_zero_windows"],
    ["client_sacks", "server_sacks"],
    ["client_dsacks", "server_dsacks"],
];

impl Row {
    /// The per-direction counts with their names, client first.
    fn counts(&self) -> Vec<(&'static str, u64)> {
        let values = [
            self.retrans,
            self.dup_acks,
            self.zero_windows,
            self.sacks,
            self.dsacks,
        ];
        COUNTS
            .iter()
            .zip(values)
            .flat_map(|(names, v)| [(names[0], v[0]), (names[1], v[1])])
            .collect()
    }
}

fn side(s: Option<Side>) -> &'static str {
    s.map_or("-", |s| s.name())
}

/// The aligned table's header.
pub fn table_header() -> String {
    format!(
        "{:>4}  {:<22} {:<22} {:>10} {:>6} {:>9} {:>6} {:>9} {:>10}  {:<6} {:<12} {:>7}  {:<6} {:<9} {:<6}  {}",
        "id", "client", "server", "duration", "pkts>", "bytes>", "<pkts", "<bytes", "irtt", "state", "history", "retrans", "closed", "time-wait", "rst", "applications saw"
    )
}

/// One aligned row.
pub fn table_row(r: &Row) -> String {
    let irtt = r.irtt.map_or("-".to_string(), ms);
    let client = if r.guessed {
        format!("{}?", r.client)
    } else {
        r.client.clone()
    };
    let mut s = format!(
        "{:>4}  {:<22} {:<22} {:>9.6}s {:>6} {:>9} {:>6} {:>9} {:>10}  {:<6} {:<12} {:>7}  {:<6} {:<9} {:<6}  ",
        r.id,
        client,
        r.server,
        r.duration,
        r.packets[0],
        r.bytes[0],
        r.packets[1],
        r.bytes[1],
        irtt,
        r.state,
        r.history,
        r.retrans[0] + r.retrans[1],
        side(r.closed_first),
        side(r.time_wait),
        side(r.reset_by),
    );
    let _ = write!(s, "client: {}; server: {}", r.client_saw, r.server_saw);
    s
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// One JSON Lines object.
pub fn json(r: &Row) -> String {
    let opt = |s: Option<Side>| s.map_or("null".to_string(), |s| format!("\"{}\"", s.name()));
    format!(
        "{{\"type\":\"connection\",\"id\":{},\"client\":\"{}\",\"server\":\"{}\",\"roles_guessed\":{},\"start\":{:.6},\"duration\":{:.6},\"client_packets\":{},\"client_bytes\":{},\"server_packets\":{},\"server_bytes\":{},\"irtt_ms\":{},\"conn_state\":\"{}\",\"history\":\"{}\",{},\"closed_first\":{},\"time_wait\":{},\"reset_by\":{},\"client_saw\":\"{}\",\"server_saw\":\"{}\"}}",
        r.id,
        r.client,
        r.server,
        r.guessed,
        r.start,
        r.duration,
        r.packets[0],
        r.bytes[0],
        r.packets[1],
        r.bytes[1],
        r.irtt.map_or("null".to_string(), |v| format!("{:.6}", v * 1e3)),
        r.state,
        esc(&r.history),
        r.counts()
            .iter()
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect::<Vec<_>>()
            .join(","),
        opt(r.closed_first),
        opt(r.time_wait),
        opt(r.reset_by),
        esc(r.client_saw),
        esc(r.server_saw),
    )
}

/// The header lines of Zeek's conn.log (TSV).
pub fn zeek_header(open_time: &str) -> String {
    format!(
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#open\t{open_time}\n\
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n\
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n"
    )
}

/// One conn.log line. Zeek's uid is random; here it is `C` and the id.
pub fn zeek_row(c: &Conn) -> String {
    let r = Row::of(c);
    let (oh, op) = split(&r.client);
    let (rh, rp) = split(&r.server);
    format!(
        "{:.6}\tC{}\t{oh}\t{op}\t{rh}\t{rp}\ttcp\t-\t{:.6}\t{}\t{}\t{}\t-\t-\t0\t{}\t{}\t-\t{}\t-\t-",
        r.start, r.id, r.duration, r.bytes[0], r.bytes[1], r.state, r.history, r.packets[0], r.packets[1]
    )
}

fn split(ep: &str) -> (&str, &str) {
    let i = ep.rfind(':').unwrap_or(ep.len());
    let host = ep[..i].trim_start_matches('[').trim_end_matches(']');
    (host, ep.get(i + 1..).unwrap_or(""))
}

/// The CSV header.
pub fn csv_header() -> String {
    let counts: Vec<&str> = COUNTS.iter().flatten().copied().collect();
    format!(
        "id,client,server,roles_guessed,start,duration,client_packets,client_bytes,server_packets,server_bytes,irtt_ms,conn_state,history,{},closed_first,time_wait,reset_by,client_saw,server_saw",
        counts.join(",")
    )
}

/// One CSV row.
pub fn csv(r: &Row) -> String {
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    format!(
        "{},{},{},{},{:.6},{:.6},{},{},{},{},{},{},{},{},{},{},{},{},{}",
        r.id,
        q(&r.client),
        q(&r.server),
        r.guessed,
        r.start,
        r.duration,
        r.packets[0],
        r.bytes[0],
        r.packets[1],
        r.bytes[1],
        r.irtt.map_or(String::new(), |v| format!("{:.6}", v * 1e3)),
        r.state,
        q(&r.history),
        r.counts()
            .iter()
            .map(|(_, v)| v.to_string())
            .collect::<Vec<_>>()
            .join(","),
        side(r.closed_first),
        side(r.time_wait),
        side(r.reset_by),
        q(r.client_saw),
        q(r.server_saw),
    )
}

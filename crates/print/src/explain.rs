//! What tcpscope adds under and beside tcpdump's lines: the state changes
//! of both endpoints (`--explain`), the hand-drawn view (`--simple`), and
//! the JSON Lines object of a packet.

use std::fmt::Write as _;

use tcpscope_track::{Conn, Flags, Note, Observation, Segment, Side, State};

/// A transition's note in words.
pub fn note_text(n: Note) -> Option<String> {
    Some(match n {
        Note::None => return None,
        Note::Handshake(s) => format!("handshake RTT {}", ms(s)),
        Note::ActiveClose => "active closer: it will hold TIME-WAIT".into(),
        Note::PassiveClose => "passive close".into(),
        Note::Refused => "connect() fails: ECONNREFUSED \"Connection refused\"".into(),
        Note::Reset => "next read fails: ECONNRESET \"Connection reset by peer\"; a later write: EPIPE \"Broken pipe\"".into(),
        Note::SentReset => "sent the RST".into(),
        Note::PeerFin => "read() returns 0 (EOF)".into(),
        Note::SimultaneousClose => "simultaneous close: the FINs crossed".into(),
        Note::NoListener => "nothing listens on this port: the kernel answers the SYN with RST".into(),
    })
}

/// Seconds as milliseconds with three decimals.
pub fn ms(s: f64) -> String {
    format!("{:.3} ms", s * 1e3)
}

/// The flags' Wireshark labels, `Dup ACK #n` with its number.
pub fn flag_labels(f: Flags, dupack: u32) -> Vec<String> {
    Flags::ALL
        .iter()
        .filter(|(bit, _, _)| f.has(*bit))
        .map(|(bit, label, _)| {
            if *bit == Flags::DUPLICATE_ACK {
                format!("{label} #{dupack}")
            } else {
                label.to_string()
            }
        })
        .collect()
}

/// The `--explain` line under a packet, or `None` if nothing happened.
pub fn explain_line(obs: &Observation) -> Option<String> {
    if obs.ntrans == 0 && obs.flags.is_empty() && obs.nsack == 0 {
        return None;
    }
    let dir = if obs.from_client {
        "client → server"
    } else {
        "server → client"
    };
    let mut s = format!("    conn {}, {dir}:", obs.conn);
    let mut first = true;
    for t in obs.transitions() {
        if !first {
            s.push(';');
        }
        first = false;
        let _ = write!(s, " {} {} → {}", t.side.name(), t.from, t.to);
        let mut extra = Vec::new();
        if t.inferred {
            extra.push("inferred".to_string());
        }
        if let Some(n) = note_text(t.note) {
            extra.push(n);
        }
        if !extra.is_empty() {
            let _ = write!(s, " ({})", extra.join(", "));
        }
    }
    for n in notes(obs) {
        let _ = write!(s, " [{n}]");
    }
    if obs.roles_guessed && obs.ntrans > 0 {
        s.push_str(" (roles guessed: no SYN seen)");
    }
    Some(s)
}

/// What a packet's analysis says, one item each: the flags' labels, then
/// the SACK blocks (a D-SACK is told there, not among the flags).
pub fn notes(obs: &Observation) -> Vec<String> {
    let mut flags = obs.flags;
    flags.0 &= !Flags::DSACK;
    let mut n = flag_labels(flags, obs.dupack);
    n.extend(sack_text(obs));
    n
}

/// What the SACK blocks say, in relative numbers: a D-SACK names data that
/// arrived twice; other blocks are data received beyond a hole, and the
/// hole (from the ACK to the lowest block) is what the receiver misses.
pub fn sack_text(obs: &Observation) -> Option<String> {
    let mut blocks = obs.sack();
    let mut parts = Vec::new();
    if obs.flags.has(Flags::DSACK) {
        let (l, r) = blocks[0];
        parts.push(format!("D-SACK {l}:{r}: received twice"));
        blocks = &blocks[1..];
    }
    if !blocks.is_empty() {
        let list: Vec<String> = blocks.iter().map(|(l, r)| format!("{l}:{r}")).collect();
        let mut t = format!("SACK {}", list.join(" "));
        let lowest = blocks
            .iter()
            .map(|b| b.0)
            .filter(|&l| (l.wrapping_sub(obs.rel_ack) as i32) > 0)
            .min_by_key(|&l| l.wrapping_sub(obs.rel_ack));
        if let Some(l) = lowest {
            let _ = write!(t, ", missing {}:{l}", obs.rel_ack);
        }
        parts.push(t);
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn flag_string(flags: u8) -> String {
    let mut s = String::new();
    for (bit, c) in [
        (0x02u8, 'S'),
        (0x01, 'F'),
        (0x04, 'R'),
        (0x08, 'P'),
        (0x10, '.'),
        (0x20, 'U'),
        (0x40, 'E'),
        (0x80, 'W'),
    ] {
        if flags & bit != 0 {
            s.push(c);
        }
    }
    if s.is_empty() {
        s.push_str("none");
    }
    s
}

/// The header of `--simple`.
pub fn simple_header() -> &'static str {
    "    #  time (s)     conn dir  flags  seq        ack        window      len  client        server        analysis"
}

/// One `--simple` line: the view people draw by hand.
pub fn simple_line(n: u64, rel_time: f64, seg: &Segment, obs: &Observation, conn: &Conn) -> String {
    let dir = if obs.from_client { "C→S" } else { "S→C" };
    let ack = if seg.flags & 0x10 != 0 {
        obs.rel_ack.to_string()
    } else {
        "-".to_string()
    };
    let labels = flag_labels(obs.flags, obs.dupack).join(", ");
    format!(
        "{n:>5}  {rel_time:<11.6}  {:>4} {dir}  {:<5}  {:<9}  {:<9}  {:>9}  {:>5}  {:<12}  {:<12}  {labels}",
        obs.conn,
        flag_string(seg.flags),
        obs.rel_seq,
        ack,
        obs.window,
        seg.len,
        conn.client_state.name(),
        conn.server_state.name(),
    )
    .trim_end()
    .to_string()
}

fn state_json(s: State) -> &'static str {
    s.name()
}

/// The JSON Lines object of one packet.
pub fn packet_json(n: u64, seg: &Segment, obs: &Observation, conn: &Conn) -> String {
    let mut s = String::with_capacity(400);
    let _ = write!(
        s,
        "{{\"type\":\"packet\",\"n\":{n},\"ts\":{:.9},\"conn\":{},\"dir\":\"{}\",\"src\":\"{}\",\"dst\":\"{}\",\"flags\":\"{}\",\"seq\":{},\"ack\":{},\"window\":{},\"len\":{},\"client_state\":\"{}\",\"server_state\":\"{}\",\"roles_guessed\":{}",
        seg.ts.secs(),
        obs.conn,
        if obs.from_client { "client_to_server" } else { "server_to_client" },
        seg.src,
        seg.dst,
        flag_string(seg.flags),
        obs.rel_seq,
        obs.rel_ack,
        obs.window,
        seg.len,
        state_json(conn.client_state),
        state_json(conn.server_state),
        obs.roles_guessed
    );
    s.push_str(",\"transitions\":[");
    for (i, t) in obs.transitions().iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let note = note_text(t.note).map_or("null".to_string(), |n| {
            format!("\"{}\"", n.replace('"', "\\\""))
        });
        let _ = write!(
            s,
            "{{\"side\":\"{}\",\"from\":\"{}\",\"to\":\"{}\",\"inferred\":{},\"note\":{note}}}",
            t.side.name(),
            t.from,
            t.to,
            t.inferred
        );
    }
    s.push_str("],\"analysis\":[");
    let keys: Vec<String> = Flags::ALL
        .iter()
        .filter(|(b, _, _)| obs.flags.has(*b))
        .map(|(_, _, k)| format!("\"{k}\""))
        .collect();
    s.push_str(&keys.join(","));
    s.push(']');
    if obs.flags.has(Flags::DUPLICATE_ACK) {
        let _ = write!(s, ",\"dupack\":{}", obs.dupack);
    }
    if let Some(r) = obs.irtt {
        let _ = write!(s, ",\"irtt_ms\":{:.6}", r * 1e3);
    }
    if obs.nsack > 0 {
        let blocks: Vec<String> = obs
            .sack()
            .iter()
            .map(|(l, r)| format!("[{l},{r}]"))
            .collect();
        let _ = write!(s, ",\"sack\":[{}]", blocks.join(","));
    }
    s.push('}');
    s
}

/// Which endpoint a side is, as text.
pub fn side_endpoint(conn: &Conn, side: Side) -> String {
    match side {
        Side::Client => conn.client.to_string(),
        Side::Server => conn.server.to_string(),
    }
}

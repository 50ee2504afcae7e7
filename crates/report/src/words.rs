//! The words every output shares: a transition's note, the analysis
//! flags' labels, the SACK blocks in relative numbers, and the `--explain`
//! line under a packet.

use std::fmt::Write as _;

use tcpscope_track::{Flags, Note, Observation};

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

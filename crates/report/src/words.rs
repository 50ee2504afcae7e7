//! The words every output shares: a transition's note, the analysis
//! flags' labels, the SACK blocks in relative numbers, and the `--explain`
//! line under a packet.

use std::fmt::Write as _;

use tcpscope_track::{Flags, Note, Observation, RstEffect, RstVerdict};

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
        Note::ResetInCloseWait => "after the peer's FIN: reads keep returning 0; the next write fails: EPIPE \"Broken pipe\"".into(),
        Note::ResetAfterClose => "it had sent its FIN: no application call sees this RST".into(),
        Note::TimeWaitEnded => "its four-tuple is used again: the kernel destroys the TIME-WAIT socket".into(),
        Note::TimeWaitAssassinated => "the RST ends TIME-WAIT early (RFC 1337 TIME-WAIT assassination)".into(),
        Note::TimeWaitGone => "a TIME-WAIT socket never sends an RST: its TIME-WAIT had already ended".into(),
        Note::KeepAliveTimeout => "its keep-alive probes went unanswered: ETIMEDOUT \"Connection timed out\"".into(),
        Note::RetransmissionTimeout => "its retransmissions went unanswered: ETIMEDOUT \"Connection timed out\"".into(),
        Note::Withdrawn => "earlier inference withdrawn".into(),
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
    if obs.ntrans == 0
        && obs.flags.is_empty()
        && obs.nsack == 0
        && obs.rst.is_none()
        && !obs.challenge_ack
        && obs.correction.is_none()
        && obs.ended_time_wait.is_none()
    {
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

/// What a packet's analysis says, one item each: the flags' labels, the
/// SACK blocks (a D-SACK is told there, not among the flags), then why an
/// RST was sent and what it did, a challenge ACK, a withdrawn inference,
/// and a TIME-WAIT this SYN ended.
pub fn notes(obs: &Observation) -> Vec<String> {
    let mut flags = obs.flags;
    flags.0 &= !Flags::DSACK;
    let mut n = flag_labels(flags, obs.dupack);
    n.extend(sack_text(obs));
    if let Some(v) = obs.rst {
        n.push(rst_text(v));
    }
    if obs.challenge_ack {
        n.push("challenge ACK: it answers an RST inside the window, not at the next sequence number (RFC 5961)".into());
    }
    if let Some(c) = obs.correction {
        n.push(c.text());
    }
    if let Some((conn, side)) = obs.ended_time_wait {
        n.push(format!(
            "ends connection {conn}'s TIME-WAIT on the {}: the kernel destroys it when the four-tuple is used again",
            side.name()
        ));
    }
    n
}

/// An RST's verdict in words: what it did, then why it was sent.
pub fn rst_text(v: RstVerdict) -> String {
    let effect = match v.effect {
        RstEffect::Accepted => "RST obeyed",
        RstEffect::Challenged => {
            "RST not obeyed: inside the window but not at the next sequence number, so the receiver sends a challenge ACK and the connection goes on (RFC 5961)"
        }
        RstEffect::Ignored => "RST ignored: outside the window, the connection goes on",
    };
    format!("{effect}; cause: {}", v.cause.text())
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

/// The UTC date of `t`, as `YYYY-MM-DD`.
pub fn utc_date(t: tcpscope_track::Ts) -> String {
    let (y, m, d) = civil(t.sec.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's
/// civil_from_days).
pub fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + (m <= 2) as i64, m, d)
}

/// `t` as Zeek writes a log's `#open` and `#close`: UTC,
/// `YYYY-MM-DD-HH-MM-SS`.
pub fn zeek_time(t: tcpscope_track::Ts) -> String {
    let s = t.sec.rem_euclid(86_400);
    format!(
        "{}-{:02}-{:02}-{:02}",
        utc_date(t),
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

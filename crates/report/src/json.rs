//! The one JSON Lines schema of tcpscope, for every command's `--json`.
//! `docs/json.md` in the repository lists every object and key; the rules
//! are these:
//!
//! - One object per line, and every object has a `type`.
//! - Endpoints are `"address:port"` strings (`"[::1]:80"` for IPv6), named
//!   `src`/`dst` on a packet, `client`/`server` on a connection and
//!   `local`/`peer` on a socket or a kernel event.
//! - An instant is `ts`: seconds since the Unix epoch, as a number. A
//!   duration or a time relative to something else carries its unit in its
//!   key (`duration_s`, `elapsed_s`, `irtt_ms`).
//! - A value that is absent is `null`; every documented key is present.
//! - TCP states are the RFC 9293 names (`"SYN-RECEIVED"`); sides are
//!   `"client"` and `"server"`.
//!
//! Every object is written by serde_json, so strings are escaped as JSON
//! requires.

use std::fmt::Display;

use serde::Serializer;
use tcpscope_track::{Correction, RstVerdict, Side, State, Transition};

use crate::words::{note_text, rst_text};

/// Serialize through `Display` (endpoints, states).
pub fn display<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// A side, or null.
pub fn side<S: Serializer>(v: &Option<Side>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) => s.serialize_str(x.name()),
        None => s.serialize_none(),
    }
}

/// A transition as JSON.
#[derive(serde::Serialize)]
pub struct TransitionJson {
    /// Whose state.
    pub side: &'static str,
    /// Before.
    pub from: &'static str,
    /// After.
    pub to: &'static str,
    /// Deduced from a packet the side received.
    pub inferred: bool,
    /// The note, or null.
    pub note: Option<String>,
    /// `from` was a wrong inference, withdrawn by this packet.
    pub withdraws: bool,
}

impl From<&Transition> for TransitionJson {
    fn from(t: &Transition) -> TransitionJson {
        TransitionJson {
            side: t.side.name(),
            from: t.from.name(),
            to: t.to.name(),
            inferred: t.inferred,
            note: note_text(t.note),
            withdraws: t.withdraws,
        }
    }
}

/// An RST's verdict as JSON: why it was sent, what it did, in words.
#[derive(serde::Serialize)]
pub struct RstJson {
    /// The cause's key (`RstCause::key`).
    pub cause: &'static str,
    /// `accepted`, `challenged` or `ignored`.
    pub effect: &'static str,
    /// Both in words.
    pub text: String,
}

impl From<RstVerdict> for RstJson {
    fn from(v: RstVerdict) -> RstJson {
        RstJson {
            cause: v.cause.key(),
            effect: v.effect.key(),
            text: rst_text(v),
        }
    }
}

/// A withdrawn inference as JSON.
#[derive(serde::Serialize)]
pub struct CorrectionJson {
    /// What was wrong (`Correction::key`).
    pub kind: &'static str,
    /// In words.
    pub text: String,
}

impl From<Correction> for CorrectionJson {
    fn from(c: Correction) -> CorrectionJson {
        CorrectionJson {
            kind: c.key(),
            text: c.text(),
        }
    }
}

/// A TIME-WAIT a SYN ended, as JSON.
#[derive(serde::Serialize)]
pub struct EndedTimeWaitJson {
    /// The earlier connection's number.
    pub conn: u64,
    /// Its side that was in TIME-WAIT.
    pub side: &'static str,
}

impl EndedTimeWaitJson {
    /// From the observation's pair.
    pub fn of(v: Option<(u64, Side)>) -> Option<EndedTimeWaitJson> {
        v.map(|(conn, side)| EndedTimeWaitJson {
            conn,
            side: side.name(),
        })
    }
}

/// A state's name (for serde's `with`).
pub fn state<S: Serializer>(v: &State, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.name())
}

/// Append one object and its newline.
pub fn line<T: serde::Serialize>(v: &T, out: &mut Vec<u8>) {
    // Serializing into a Vec cannot fail for these types: no map has
    // non-string keys.
    if serde_json::to_writer(&mut *out, v).is_ok() {
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hostile_strings_round_trip() {
        let hostile = "a\"b\\c\n\t\u{0}\u{1f}é\u{2028}</script>";
        let mut out = Vec::new();
        super::line(&serde_json::json!({ "type": "x", "s": hostile }), &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["s"], hostile);
        assert!(!out[..out.len() - 1].contains(&b'\n'));
    }
}

//! `conns --json`: one object of type `connection` per connection.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use tcpscope_track::{AppOutcome, ConnSummary, Side, DIR_COUNTS};

use super::Batch;
use crate::json;

struct Record<'a>(&'a ConnSummary, &'a str);

struct Outcome(AppOutcome);

impl Serialize for Outcome {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("outcome", self.0.key())?;
        m.serialize_entry("errno", &self.0.errno_name())?;
        m.serialize_entry("errno_code", &self.0.errno())?;
        m.serialize_entry("text", self.0.text())?;
        m.end()
    }
}

impl Serialize for Record<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let side = |v: Option<Side>| v.map(Side::name);
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", "connection")?;
        m.serialize_entry("source_file", self.1)?;
        m.serialize_entry("id", &c.id)?;
        m.serialize_entry("client", &c.client.to_string())?;
        m.serialize_entry("server", &c.server.to_string())?;
        m.serialize_entry("roles_guessed", &c.roles_guessed)?;
        m.serialize_entry("ts", &c.start.secs())?;
        m.serialize_entry("duration_s", &c.duration())?;
        m.serialize_entry("irtt_ms", &c.irtt.map(|v| v * 1e3))?;
        m.serialize_entry("conn_state", c.conn_state.name())?;
        m.serialize_entry("history", &c.history)?;
        for who in [Side::Client, Side::Server] {
            let d = c.dir(who);
            m.serialize_entry(&format!("{}_packets", who.name()), &d.packets)?;
            m.serialize_entry(&format!("{}_bytes", who.name()), &d.bytes)?;
            m.serialize_entry(&format!("{}_ip_bytes", who.name()), &d.ip_bytes)?;
            for (name, get) in DIR_COUNTS {
                m.serialize_entry(&format!("{}_{name}", who.name()), &get(d))?;
            }
        }
        m.serialize_entry("closed_first", &side(c.closed_first))?;
        m.serialize_entry("time_wait", &side(c.time_wait))?;
        m.serialize_entry("reset_by", &side(c.reset_by))?;
        m.serialize_entry("rst_cause", &c.rst_cause.map(|r| r.key()))?;
        m.serialize_entry("rsts_not_obeyed", &c.rsts_not_obeyed)?;
        m.serialize_entry("synacks_after_final_ack", &c.synacks_after_final_ack)?;
        m.serialize_entry("missing_direction", &side(c.missing))?;
        m.serialize_entry("time_wait_ended_by", &c.time_wait_ended_by)?;
        m.serialize_entry("client_end_state", c.end_states.0.name())?;
        m.serialize_entry("server_end_state", c.end_states.1.name())?;
        m.serialize_entry("client_saw", &Outcome(c.client_saw))?;
        m.serialize_entry("server_saw", &Outcome(c.server_saw))?;
        m.end()
    }
}

/// One line per connection.
pub fn write(batches: &[Batch], out: &mut Vec<u8>) {
    for b in batches {
        for c in &b.conns {
            json::line(&Record(c, b.source_of(c)), out);
        }
    }
}

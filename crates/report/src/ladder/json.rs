//! `ladder --json`: an object of type `ladder` naming the connection and
//! both sides' first states, then one of type `arrow` per packet.

use serde::Serialize;
use tcpscope_track::{Observation, Segment, State, Ts};

use crate::json::{self, TransitionJson};
use crate::words;

#[derive(Serialize)]
struct Head<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    conn: u64,
    client: &'a str,
    server: &'a str,
    client_state: &'static str,
    server_state: &'static str,
}

#[derive(Serialize)]
struct Arrow {
    #[serde(rename = "type")]
    kind: &'static str,
    conn: u64,
    n: u64,
    ts: f64,
    elapsed_s: f64,
    dir: &'static str,
    label: String,
    transitions: Vec<TransitionJson>,
    notes: Vec<String>,
}

/// The JSON ladder of one connection.
pub struct JsonLadder {
    conn: u64,
    start: Option<Ts>,
}

impl JsonLadder {
    /// Start with the header object.
    pub fn new(
        conn: u64,
        client: &str,
        server: &str,
        cs: State,
        ss: State,
        out: &mut Vec<u8>,
    ) -> JsonLadder {
        json::line(
            &Head {
                kind: "ladder",
                conn,
                client,
                server,
                client_state: cs.name(),
                server_state: ss.name(),
            },
            out,
        );
        JsonLadder { conn, start: None }
    }

    /// One arrow.
    pub fn packet(&mut self, n: u64, seg: &Segment, obs: &Observation, out: &mut Vec<u8>) {
        let t0 = *self.start.get_or_insert(seg.ts);
        json::line(
            &Arrow {
                kind: "arrow",
                conn: self.conn,
                n,
                ts: seg.ts.secs(),
                elapsed_s: seg.ts.since(t0),
                dir: if obs.from_client {
                    "client_to_server"
                } else {
                    "server_to_client"
                },
                label: super::text::arrow_label(seg, obs),
                transitions: obs.transitions().iter().map(TransitionJson::from).collect(),
                notes: words::notes(obs),
            },
            out,
        );
    }
}

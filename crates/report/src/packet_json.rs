//! `--json` on `read` and `capture`: one object of type `packet` per TCP
//! packet (see the schema in [`crate::json`]).

use serde::Serialize;
use tcpscope_track::{Flags, Segment};
use tcpscope_wire::tcp::flags;

use crate::json::{self, TransitionJson};
use crate::pipeline::{Output, Packet};

/// The JSON Lines output of packets.
#[derive(Default)]
pub struct PacketJson {
    /// The capture file the packets come from (`None`: a live capture).
    source_file: Option<String>,
}

#[derive(Serialize)]
struct PacketRecord<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    source_file: Option<&'a str>,
    n: u64,
    ts: f64,
    conn: u64,
    dir: &'static str,
    #[serde(serialize_with = "json::display")]
    src: &'a tcpscope_track::Endpoint,
    #[serde(serialize_with = "json::display")]
    dst: &'a tcpscope_track::Endpoint,
    flags: String,
    seq: u32,
    ack: Option<u32>,
    window: u64,
    len: u32,
    client_state: &'static str,
    server_state: &'static str,
    roles_guessed: bool,
    transitions: Vec<TransitionJson>,
    analysis: Vec<&'static str>,
    dupack: Option<u32>,
    irtt_ms: Option<f64>,
    sack: Vec<[u32; 2]>,
    rst: Option<json::RstJson>,
    challenge_ack: bool,
    correction: Option<json::CorrectionJson>,
    ended_time_wait: Option<json::EndedTimeWaitJson>,
}

impl Output for PacketJson {
    fn tracks(&self) -> bool {
        true
    }
    fn set_source(&mut self, name: &str) {
        self.source_file = Some(name.to_string());
    }
    fn packet(&mut self, p: &Packet<'_>, out: &mut Vec<u8>) {
        let Some(t) = &p.tcp else {
            return;
        };
        let (seg, obs, conn): (&Segment, _, _) = (t.seg, t.obs, t.conn);
        let rec = PacketRecord {
            kind: "packet",
            source_file: self.source_file.as_deref(),
            n: p.n,
            ts: seg.ts.secs(),
            conn: obs.conn,
            dir: if obs.from_client {
                "client_to_server"
            } else {
                "server_to_client"
            },
            src: &seg.src,
            dst: &seg.dst,
            flags: flags::letters(seg.flags),
            seq: obs.rel_seq,
            ack: seg.has(flags::ACK).then_some(obs.rel_ack),
            window: obs.window,
            len: seg.len,
            client_state: conn.client_state.name(),
            server_state: conn.server_state.name(),
            roles_guessed: obs.roles_guessed,
            transitions: obs.transitions().iter().map(TransitionJson::from).collect(),
            analysis: Flags::ALL
                .iter()
                .filter(|(b, _, _)| obs.flags.has(*b))
                .map(|(_, _, k)| *k)
                .collect(),
            dupack: obs.flags.has(Flags::DUPLICATE_ACK).then_some(obs.dupack),
            irtt_ms: obs.irtt.map(|r| r * 1e3),
            sack: obs.sack().iter().map(|&(l, r)| [l, r]).collect(),
            rst: obs.rst.map(json::RstJson::from),
            challenge_ack: obs.challenge_ack,
            correction: obs.correction.map(json::CorrectionJson::from),
            ended_time_wait: json::EndedTimeWaitJson::of(obs.ended_time_wait),
        };
        json::line(&rec, out);
    }
}

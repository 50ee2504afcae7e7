//! The flow table: connections by 4-tuple, with eviction on packet time.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use tcpscope_wire::hash::FastHasher;

use crate::conn::{Conn, Observation};
use crate::segment::{Endpoint, Segment, Ts};
use crate::Flags;

/// Canonical key of a 4-tuple: each endpoint as three words (address
/// halves, then port and family), the lower endpoint first. "Lower" is
/// any fixed order: it only has to give both directions the same key, so it
/// compares native words rather than bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key([u64; 6]);

impl std::hash::Hash for Key {
    /// Three words instead of the derived six: this is hashed for every
    /// packet.
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let w = &self.0;
        h.write_u64(w[0] ^ w[3].rotate_left(17));
        h.write_u64(w[1] ^ w[4].rotate_left(29));
        h.write_u64(w[2] ^ w[5].rotate_left(43));
    }
}

fn words(e: &Endpoint) -> [u64; 3] {
    let b = &e.addr.bytes;
    [
        u64::from_ne_bytes(b[..8].try_into().expect("8 bytes")),
        u64::from_ne_bytes(b[8..].try_into().expect("8 bytes")),
        (e.port as u64) << 8 | e.addr.v6 as u64,
    ]
}

impl Key {
    fn of(seg: &Segment) -> Key {
        let (s, d) = (words(&seg.src), words(&seg.dst));
        let (a, b) = if s <= d { (s, d) } else { (d, s) };
        Key([a[0], a[1], a[2], b[0], b[1], b[2]])
    }
}

/// Capture seconds a finished connection stays in the table.
const LINGER_CLOSED: i64 = 60;
/// Capture seconds of silence after which any connection is evicted.
const IDLE: i64 = 300;
/// Packets between eviction sweeps.
const SWEEP_EVERY: u64 = 1 << 16;

/// All connections of a capture.
pub struct FlowTable {
    conns: HashMap<Key, Conn, BuildHasherDefault<FastHasher>>,
    next_id: u64,
    packets: u64,
    evicted: Vec<Conn>,
}

impl Default for FlowTable {
    fn default() -> Self {
        FlowTable::new()
    }
}

impl FlowTable {
    /// An empty table.
    pub fn new() -> FlowTable {
        FlowTable {
            conns: HashMap::default(),
            next_id: 1,
            packets: 0,
            evicted: Vec::new(),
        }
    }

    /// Connections in the table now.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Track one segment; returns what it did.
    pub fn observe(&mut self, seg: &Segment) -> Observation {
        let mut obs = Observation::EMPTY;
        self.observe_into(seg, &mut obs);
        obs
    }

    /// Track one segment, writing what it did into `obs` (reused by the
    /// caller, so nothing is copied per packet); returns its connection
    /// after it (one lookup, for outputs that show the connection's states).
    pub fn observe_into(&mut self, seg: &Segment, obs: &mut Observation) -> &Conn {
        self.packets += 1;
        if self.packets % SWEEP_EVERY == 0 {
            self.sweep(seg.ts);
        }
        let key = Key::of(seg);
        let mut reused = false;
        let mut ended = None;
        let next_id = &mut self.next_id;
        let conn = match self.conns.entry(key) {
            Entry::Occupied(e) => {
                let c = e.into_mut();
                if c.is_new_incarnation(seg) {
                    let mut old = std::mem::replace(c, Conn::new(*next_id, seg));
                    ended = old.used_again(*next_id);
                    *next_id += 1;
                    self.evicted.push(old);
                    reused = true;
                }
                c
            }
            Entry::Vacant(v) => {
                let c = v.insert(Conn::new(*next_id, seg));
                *next_id += 1;
                c
            }
        };
        conn.observe_into(seg, obs);
        if reused {
            obs.flags.set(Flags::REUSED_PORTS);
            obs.ended_time_wait = ended;
        }
        conn
    }

    /// The connection a segment belongs to.
    pub fn conn_of(&self, seg: &Segment) -> Option<&Conn> {
        self.conns.get(&Key::of(seg))
    }

    /// Connections evicted since the last call (finished or idle).
    pub fn take_evicted(&mut self) -> Vec<Conn> {
        std::mem::take(&mut self.evicted)
    }

    /// Everything still in the table, and everything evicted, ordered by id.
    pub fn finish(self) -> Vec<Conn> {
        self.finish_at(None)
    }

    /// Everything, as [`FlowTable::finish`], for a capture that ran until
    /// `end` (when later than its last packet).
    pub fn finish_at(mut self, end: Option<Ts>) -> Vec<Conn> {
        let mut all = std::mem::take(&mut self.evicted);
        all.extend(self.conns.into_values());
        all.sort_by_key(|c| c.id);
        // The capture's end decides whether a side still re-sending had given up.
        let end = all.iter().map(|c| c.last).chain(end).max();
        for c in &mut all {
            c.capture_end = end;
        }
        all
    }

    fn sweep(&mut self, now: Ts) {
        let mut gone = Vec::new();
        self.conns.retain(|_, c| {
            let quiet = now.sec.saturating_sub(c.last.sec);
            let over = c.first_rst.is_some() || (c.stats[0].fin && c.stats[1].fin);
            let keep = quiet < IDLE && !(over && quiet >= LINGER_CLOSED);
            if !keep {
                gone.push(c.clone());
            }
            keep
        });
        self.evicted.extend(gone);
    }
}

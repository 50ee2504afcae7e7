//! The flow table: connections by 4-tuple, with eviction on packet time.

use std::collections::HashMap;

use crate::conn::{Conn, Observation};
use crate::segment::{Endpoint, Segment, Ts};
use crate::Flags;

/// Canonical key: the lower endpoint first.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Key(Endpoint, Endpoint);

impl Key {
    fn of(seg: &Segment) -> Key {
        if seg.src <= seg.dst {
            Key(seg.src, seg.dst)
        } else {
            Key(seg.dst, seg.src)
        }
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
    conns: HashMap<Key, Conn>,
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
            conns: HashMap::new(),
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
        self.packets += 1;
        if self.packets % SWEEP_EVERY == 0 {
            self.sweep(seg.ts);
        }
        let key = Key::of(seg);
        let mut reused = false;
        if let Some(old) = self.conns.get(&key) {
            if old.is_new_incarnation(seg) {
                let old = self.conns.remove(&key).expect("present");
                self.evicted.push(old);
                reused = true;
            }
        }
        let next_id = &mut self.next_id;
        let conn = self.conns.entry(key).or_insert_with(|| {
            let c = Conn::new(*next_id, seg);
            *next_id += 1;
            c
        });
        let mut obs = conn.observe(seg);
        if reused {
            obs.flags.set(Flags::REUSED_PORTS);
        }
        obs
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
    pub fn finish(mut self) -> Vec<Conn> {
        let mut all = std::mem::take(&mut self.evicted);
        all.extend(self.conns.into_values());
        all.sort_by_key(|c| c.id);
        all
    }

    fn sweep(&mut self, now: Ts) {
        let mut gone = Vec::new();
        self.conns.retain(|_, c| {
            let quiet = now.sec - c.last.sec;
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

//! Socket lifetimes from `sock:inet_sock_set_state`, as bcc's tcplife and
//! tcpstates tell them: how long a socket spent in each state, and its path
//! from first state to CLOSED.

use std::collections::HashMap;

use tcpscope_wire::State;

/// One socket's life so far.
#[derive(Clone, Debug)]
pub struct Life {
    /// When its first state change was seen (tracepoint time, ns).
    pub start_ns: u64,
    /// When its last state change was seen.
    pub last_ns: u64,
    /// Its states in order, kernel names.
    pub path: Vec<&'static str>,
}

impl Life {
    /// Milliseconds from the first change seen to `now`.
    pub fn ms(&self, now: u64) -> f64 {
        now.saturating_sub(self.start_ns) as f64 / 1e6
    }
    /// The path as `A -> B -> C`.
    pub fn path_text(&self) -> String {
        self.path.join(" -> ")
    }
}

/// Every socket seen changing state, by its kernel address.
#[derive(Default)]
pub struct Lives {
    by_sk: HashMap<u64, Life>,
}

/// What one state change says.
pub struct Change {
    /// Milliseconds spent in the old state (since the previous change seen).
    pub ms_in_old: f64,
    /// The life that ended with this change (the new state is CLOSED).
    pub ended: Option<Life>,
}

impl Lives {
    /// Record socket `sk` going from kernel state `old` to `new` at `now`.
    pub fn change(&mut self, sk: u64, old: u8, new: u8, now: u64) -> Change {
        let life = self.by_sk.entry(sk).or_insert_with(|| Life {
            start_ns: now,
            last_ns: now,
            path: vec![State::kernel_name(old)],
        });
        let ms_in_old = now.saturating_sub(life.last_ns) as f64 / 1e6;
        life.last_ns = now;
        life.path.push(State::kernel_name(new));
        let ended = if State::from_kernel(new) == Some(State::Closed) {
            self.by_sk.remove(&sk)
        } else {
            None
        };
        Change { ms_in_old, ended }
    }
}

/// Whether a full socket's move from `old` to CLOSED hands it to a
/// TIME-WAIT socket: the tracepoint never reports TIME-WAIT itself.
pub fn timewait_takes_over(old: u8, new: u8) -> bool {
    State::from_kernel(new) == Some(State::Closed)
        && matches!(
            State::from_kernel(old),
            Some(State::FinWait1 | State::FinWait2 | State::Closing)
        )
}

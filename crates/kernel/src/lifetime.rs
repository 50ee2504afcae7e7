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
    /// Whether that change was its birth (it left CLOSED, or is a
    /// listener's new connection): otherwise it existed before the trace.
    pub born: bool,
    /// When its last state change was seen.
    pub last_ns: u64,
    /// Its states in order, kernel names.
    pub path: Vec<&'static str>,
    /// Its state now (kernel number).
    pub state: u8,
}

impl Life {
    /// Milliseconds from its birth to `now`; `None` when it was born
    /// before the trace began.
    pub fn ms(&self, now: u64) -> Option<f64> {
        self.born
            .then(|| now.saturating_sub(self.start_ns) as f64 / 1e6)
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
    /// Milliseconds spent in the old state; `None` when the socket was
    /// already in it before the trace began.
    pub ms_in_old: Option<f64>,
    /// The life that ended with this change (the new state is CLOSED).
    pub ended: Option<Life>,
}

impl Lives {
    /// Record socket `sk` going from kernel state `old` to `new` at `now`.
    pub fn change(&mut self, sk: u64, old: u8, new: u8, now: u64) -> Change {
        let mut first = false;
        let life = self.by_sk.entry(sk).or_insert_with(|| {
            first = true;
            Life {
                start_ns: now,
                born: is_birth(old, new),
                last_ns: now,
                path: vec![State::kernel_name(old)],
                state: old,
            }
        });
        life.state = new;
        let ms_in_old = if first && !matches!(State::from_kernel(old), Some(State::Closed)) {
            // Its time in `old` began before the trace (or, for a new
            // connection in SYN-RECV, with its request socket, which the
            // tracepoint does not see).
            None
        } else {
            Some(now.saturating_sub(life.last_ns) as f64 / 1e6)
        };
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

/// Whether a socket's first state change seen is its birth: it leaves
/// CLOSED, or it is a listener's new connection (cloned from the listener,
/// so it goes LISTEN -> SYN-RECEIVED).
pub fn is_birth(old: u8, new: u8) -> bool {
    match (State::from_kernel(old), State::from_kernel(new)) {
        (Some(State::Closed), _) => true,
        (Some(State::Listen), Some(State::SynReceived)) => true,
        _ => false,
    }
}

impl Lives {
    /// A socket's state now, if a change of it was seen.
    pub fn state_of(&self, sk: u64) -> Option<u8> {
        self.by_sk.get(&sk).map(|l| l.state)
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

//! The ladder as text: the client's column on the left, the server's on
//! the right, one arrow per packet, and each side's state written at its
//! column when it changes.

use std::fmt::Write;

use tcpscope_track::{Observation, Segment, Side, State};
use tcpscope_wire::tcp::flags;

use crate::words;

const STATE_W: usize = 13;
const ARROW_W: usize = 52;

/// An arrow's text: the flags, then the relative sequence number (when the
/// segment occupies sequence space), the ACK and the payload length.
pub fn arrow_label(seg: &Segment, obs: &Observation) -> String {
    // A diagram names the flags that move the state machine and PSH, as
    // textbooks draw them; ECN and URG bits are in the packet's line.
    let mut label =
        flags::names(seg.flags & (flags::SYN | flags::FIN | flags::RST | flags::PSH | flags::ACK));
    if seg.len > 0 || seg.flags & (flags::SYN | flags::FIN | flags::RST) != 0 {
        let _ = write!(label, " seq {}", obs.rel_seq);
    }
    if seg.has(flags::ACK) {
        let _ = write!(label, " ack {}", obs.rel_ack);
    }
    if seg.len > 0 {
        let _ = write!(label, " len {}", seg.len);
    }
    label
}

/// Builds the diagram line by line.
pub struct TextLadder {
    client: State,
    server: State,
    start: Option<f64>,
}

impl TextLadder {
    /// The two column titles.
    pub fn header(
        client: &str,
        server: &str,
        client_state: State,
        server_state: State,
    ) -> (TextLadder, String) {
        let mut s = format!(
            "{:<w$}{:>a$}\n",
            format!("client {client}"),
            format!("server {server}"),
            w = STATE_W + ARROW_W / 2,
            a = ARROW_W / 2 + STATE_W
        );
        s.push_str(&format!(
            "{:<w$}{:>a$}{:>w$}\n",
            client_state.name(),
            "",
            server_state.name(),
            w = STATE_W,
            a = ARROW_W
        ));
        (
            TextLadder {
                client: client_state,
                server: server_state,
                start: None,
            },
            s,
        )
    }

    /// One packet's arrow, with the states that changed beside it.
    pub fn packet(&mut self, seg: &Segment, obs: &Observation) -> String {
        let t0 = *self.start.get_or_insert(seg.ts.secs());
        let label = format!(" {} ", arrow_label(seg, obs));
        let body = ARROW_W - 2;
        let label: String = label.chars().take(body.saturating_sub(2)).collect();
        let pad = body - label.chars().count();
        let (left, right) = (pad / 2, pad - pad / 2);
        let arrow = if obs.from_client {
            format!("{}{}{}▶ ", "─".repeat(left), label, "─".repeat(right))
        } else {
            format!(
                " ◀{}{}{} ",
                "─".repeat(left),
                label,
                "─".repeat(right.saturating_sub(1))
            )
        };
        let mut cs = String::new();
        let mut ss = String::new();
        for t in obs.transitions() {
            let mark = if t.inferred { "*" } else { "" };
            match t.side {
                Side::Client => {
                    self.client = t.to;
                    cs = format!("{}{mark}", t.to.name());
                }
                Side::Server => {
                    self.server = t.to;
                    ss = format!("{}{mark}", t.to.name());
                }
            }
        }
        let time = format!("{:>10.6}", seg.ts.secs() - t0);
        let mut line = format!("{cs:<w$}{arrow}{ss:<w$} {time}", w = STATE_W);
        for n in words::notes(obs) {
            let _ = write!(line, "  [{n}]");
        }
        line.trim_end().to_string()
    }

    /// The legend under the diagram.
    pub fn footer() -> &'static str {
        "(* = inferred: the capture shows the packet leaving, not arriving; times in seconds from the first packet)"
    }
}

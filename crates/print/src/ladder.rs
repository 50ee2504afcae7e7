//! `tcpscope ladder`: the sequence diagram a textbook draws. The client's
//! column is on the left and the server's on the right. There is one arrow
//! per packet, and each side's state is written at its column when it
//! changes.

use tcpscope_track::{Observation, Segment, Side, State};

const STATE_W: usize = 13;
const ARROW_W: usize = 52;

/// Builds the diagram line by line.
pub struct Ladder {
    client: State,
    server: State,
    start: Option<f64>,
}

impl Ladder {
    /// The two column titles.
    pub fn header(
        client: &str,
        server: &str,
        client_state: State,
        server_state: State,
    ) -> (Ladder, String) {
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
            Ladder {
                client: client_state,
                server: server_state,
                start: None,
            },
            s,
        )
    }

    /// One packet's arrow, with the states that changed beside it.
    pub fn packet(&mut self, seg: &Segment, obs: &Observation, flags: &str) -> String {
        let t0 = *self.start.get_or_insert(seg.ts.secs());
        let mut label = format!(" {flags}");
        if seg.flags & 0x02 != 0 || seg.len > 0 || seg.flags & 0x05 != 0 {
            label.push_str(&format!(" seq {}", obs.rel_seq));
        }
        if seg.flags & 0x10 != 0 {
            label.push_str(&format!(" ack {}", obs.rel_ack));
        }
        if seg.len > 0 {
            label.push_str(&format!(" len {}", seg.len));
        }
        label.push(' ');
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
        format!("{cs:<w$}{arrow}{ss:<w$} {time}", w = STATE_W)
            .trim_end()
            .to_string()
    }

    /// The legend under the diagram.
    pub fn footer() -> &'static str {
        "(* = inferred: the capture shows the packet leaving, not arriving; times in seconds from the first packet)"
    }
}

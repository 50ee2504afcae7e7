//! The ladder as an SVG document.

use std::fmt::Write;

use tcpscope_track::{Observation, Segment, Side, State};
use tcpscope_wire::tcp::flags;

/// The same diagram as an SVG document: lifelines for both endpoints, one
/// sloped arrow per packet (it leaves one side and arrives at the other a
/// little later, as textbooks draw it), states at the lifelines where they
/// change, analysis flags under the arrow's label, and the time on the
/// right. Hovering an arrow shows the whole packet line.
pub struct SvgLadder {
    body: String,
    rows: usize,
    /// Where the next arrow starts.
    y: usize,
    start: Option<f64>,
    last: Option<f64>,
    title: String,
}

const SVG_W: usize = 960;
const LEFT_X: usize = 210;
const RIGHT_X: usize = 690;
const TOP: usize = 96;
const ROW: usize = 44;
const DROP: usize = 22;
/// The extra height of a row with a note under its arrow, so that the note
/// sits nearer its own arrow than the next packet's label.
const NOTE_ROW: usize = 17;
/// A pause at least this long (seconds) between two packets is drawn as a
/// gap, with its length.
pub const GAP_S: f64 = 0.05;
const GAP_H: usize = 26;

/// XML text escaping.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            _ => o.push(c),
        }
    }
    o
}

impl SvgLadder {
    /// Start a diagram for a connection between `client` and `server`,
    /// whose states before the first packet are given.
    pub fn new(client: &str, server: &str, client_state: State, server_state: State) -> SvgLadder {
        let mut body = String::new();
        let _ = write!(
            body,
            "<text x=\"{LEFT_X}\" y=\"28\" class=\"who\">client</text>\
<text x=\"{LEFT_X}\" y=\"46\" class=\"addr\">{}</text>\
<text x=\"{RIGHT_X}\" y=\"28\" class=\"who\">server</text>\
<text x=\"{RIGHT_X}\" y=\"46\" class=\"addr\">{}</text>\
<text x=\"{}\" y=\"{}\" class=\"state\" text-anchor=\"end\">{}</text>\
<text x=\"{}\" y=\"{}\" class=\"state\">{}</text>\
<text x=\"{}\" y=\"{}\" class=\"time\" text-anchor=\"end\">time (s)</text>\n",
            esc(client),
            esc(server),
            LEFT_X - 8,
            TOP - 20,
            client_state.name(),
            RIGHT_X + 8,
            TOP - 20,
            server_state.name(),
            SVG_W - 12,
            TOP - 20,
        );
        SvgLadder {
            body,
            rows: 0,
            y: TOP,
            start: None,
            last: None,
            title: format!("{client} ↔ {server}"),
        }
    }

    /// One packet: `label` is the arrow's text (flags, seq, ack, len),
    /// `notes` the analysis flags, `line` the full text shown on hover.
    pub fn packet(
        &mut self,
        seg: &Segment,
        obs: &Observation,
        label: &str,
        notes: &[String],
        line: &str,
    ) {
        let now = seg.ts.secs();
        let t0 = *self.start.get_or_insert(now);
        // A pause (a retransmission timeout, an idle connection) shows as a
        // gap with its length, so that time is not lost between two rows.
        if let Some(prev) = self.last.filter(|p| now - p >= GAP_S) {
            let gy = self.y + 4;
            let _ = write!(
                self.body,
                "<g class=\"gap\"><line x1=\"{}\" y1=\"{gy}\" x2=\"{}\" y2=\"{gy}\"/>\
<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{:.3} s later</text></g>",
                LEFT_X - 40,
                RIGHT_X + 40,
                (LEFT_X + RIGHT_X) / 2,
                gy + 14,
                now - prev,
            );
            self.y += GAP_H;
        }
        self.last = Some(now);
        let y = self.y;
        self.rows += 1;
        self.y += ROW + if notes.is_empty() { 0 } else { NOTE_ROW };
        let (x1, x2) = if obs.from_client {
            (LEFT_X, RIGHT_X)
        } else {
            (RIGHT_X, LEFT_X)
        };
        let class = if seg.has(flags::RST) {
            "rst"
        } else if seg.flags & (flags::SYN | flags::FIN) != 0 {
            "ctl"
        } else if !notes.is_empty() {
            "warn"
        } else {
            "data"
        };
        let mid = (LEFT_X + RIGHT_X) / 2;
        let _ = write!(
            self.body,
            "<g class=\"pkt {class}\"><title>{}</title>\
<line x1=\"{x1}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{}\" marker-end=\"url(#head-{class})\"/>\
<text x=\"{mid}\" y=\"{}\" class=\"label\" text-anchor=\"middle\">{}</text>",
            esc(line),
            y + DROP,
            // Above the arrow, which runs from y down to y + DROP: the
            // sloped line never crosses the label.
            y - 4,
            esc(label),
        );
        if !notes.is_empty() {
            // Under the arrow's middle, and the row taller by NOTE_ROW:
            // the note belongs to this arrow, not to the next.
            let _ = write!(
                self.body,
                "<text x=\"{mid}\" y=\"{}\" class=\"note\" text-anchor=\"middle\">{}</text>",
                y + DROP / 2 + 19,
                esc(&notes.join(" ")),
            );
        }
        self.body.push_str("</g>");
        for t in obs.transitions() {
            // The sender's change shows where the arrow leaves; the
            // receiver's (inferred) where it arrives.
            let sender = (t.side == Side::Client) == obs.from_client;
            let ty = if sender { y } else { y + DROP };
            let (x, anchor) = match t.side {
                Side::Client => (LEFT_X - 8, "end"),
                Side::Server => (RIGHT_X + 8, "start"),
            };
            let (class, mark) = if t.inferred {
                ("state inferred", "*")
            } else {
                ("state", "")
            };
            let _ = write!(
                self.body,
                "<text x=\"{x}\" y=\"{}\" class=\"{class}\" text-anchor=\"{anchor}\">{}{mark}</text>",
                ty + 4,
                t.to.name(),
            );
        }
        let _ = writeln!(
            self.body,
            "<text x=\"{}\" y=\"{}\" class=\"time\" text-anchor=\"end\">{:.6}</text>",
            SVG_W - 12,
            y + 4,
            seg.ts.secs() - t0,
        );
    }

    /// The whole document.
    pub fn finish(self) -> String {
        let bottom = self.y;
        let height = bottom + 60;
        let mut s = String::with_capacity(self.body.len() + 2048);
        let _ = write!(
            s,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{SVG_W}\" height=\"{height}\" viewBox=\"0 0 {SVG_W} {height}\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" font-size=\"12\">\n\
<title>{}</title>\n\
<style>\
.who{{font-weight:bold;font-size:14px;text-anchor:middle}}\
.addr{{fill:#444;text-anchor:middle}}\
.life{{stroke:#888;stroke-width:2}}\
.state{{font-weight:bold;fill:#1a4d8f}}\
.inferred{{font-style:italic;fill:#6b8cc4}}\
.time{{fill:#666;font-size:11px}}\
.label{{fill:#000}}\
.note{{fill:#b3261e;font-size:11px}}\
.pkt line{{stroke-width:1.6}}\
.data line{{stroke:#333}}\
.ctl line{{stroke:#1b7f3b}}\
.rst line{{stroke:#b3261e}}\
.warn line{{stroke:#d9822b}}\
.gap line{{stroke:#999;stroke-dasharray:6,4}}\
.gap text{{fill:#666;font-size:11px;font-style:italic}}\
.legend{{font-size:11px;fill:#444}}\
</style>\n\
<defs>",
            esc(&self.title)
        );
        for (class, colour) in [
            ("data", "#333"),
            ("ctl", "#1b7f3b"),
            ("rst", "#b3261e"),
            ("warn", "#d9822b"),
        ] {
            let _ = write!(
                s,
                "<marker id=\"head-{class}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"{colour}\"/></marker>"
            );
        }
        let _ = write!(
            s,
            "</defs>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
<line class=\"life\" x1=\"{LEFT_X}\" y1=\"56\" x2=\"{LEFT_X}\" y2=\"{bottom}\"/>\
<line class=\"life\" x1=\"{RIGHT_X}\" y1=\"56\" x2=\"{RIGHT_X}\" y2=\"{bottom}\"/>\n"
        );
        // The legend, under the diagram: what the colours and the star mean.
        let ly = bottom + 44;
        let mut lx = 12;
        for (class, colour, what) in [
            ("data", "#333", "data or ACK"),
            ("ctl", "#1b7f3b", "SYN or FIN"),
            ("rst", "#b3261e", "RST"),
            ("warn", "#d9822b", "analysis flag (note in red)"),
        ] {
            let _ = write!(
                s,
                "<g class=\"legend\"><line x1=\"{lx}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{colour}\" stroke-width=\"2\" data-class=\"{class}\"/><text x=\"{}\" y=\"{}\">{what}</text></g>",
                lx + 18,
                lx + 22,
                ly + 4,
            );
            lx += 22 + 7 * what.len() + 14;
        }
        let _ = write!(
            s,
            "<g class=\"legend\"><text x=\"{lx}\" y=\"{}\">STATE* inferred</text></g>\n",
            ly + 4
        );
        s.push_str(&self.body);
        let _ = writeln!(
            s,
            "<text x=\"12\" y=\"{}\" class=\"time\">* = inferred: the capture shows the packet leaving, not arriving</text>\n</svg>",
            bottom + 24
        );
        s
    }
}

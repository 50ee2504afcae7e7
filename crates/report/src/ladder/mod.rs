//! `tcpscope ladder`: the sequence diagram of one connection, as text, SVG
//! or JSON. One renderer per file; [`Ladder`] is the output that picks the
//! connection and feeds its packets to the renderer.

mod json;
mod svg;
mod text;

pub use json::JsonLadder;
pub use svg::SvgLadder;
pub use text::{arrow_label, TextLadder};

use std::net::SocketAddr;

use tcpscope_print::{Options, Printer};
use tcpscope_track::{Conn, Ts};

use crate::pipeline::{Output, Packet};
use crate::words;
use crate::OutputError;

/// The ladder's formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Text for a terminal.
    Text,
    /// An SVG document.
    Svg,
    /// JSON Lines.
    Json,
}

enum Drawing {
    None,
    Text(TextLadder),
    Svg(SvgLadder),
    Json(JsonLadder),
}

/// One packet's arrow on an SVG ladder, with the packet's line (as
/// `read --nano` prints it) for its hover text; `line` is scratch space.
pub(crate) fn svg_arrow(
    svg: &mut SvgLadder,
    printer: &mut Printer,
    line: &mut Vec<u8>,
    p: &Packet<'_>,
    seg: &tcpscope_track::Segment,
    obs: &tcpscope_track::Observation,
) {
    line.clear();
    printer.print(p.frame, line);
    let text = String::from_utf8_lossy(line);
    svg.packet(
        seg,
        obs,
        &arrow_label(seg, obs),
        &words::notes(obs),
        text.trim_end(),
    );
}

/// Which connection a ladder draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    /// By its number, as `conns` and `read --explain` number them.
    Id(u64),
    /// The first connection between these two endpoints (either order).
    Endpoints(SocketAddr, SocketAddr),
}

impl Pick {
    /// `7`, or `127.0.0.1:50139-127.0.0.1:9292` (`[::1]:5000-[::1]:9292`
    /// for IPv6; a space or `,` also separates them).
    pub fn parse(s: &str) -> Result<Pick, String> {
        if let Ok(n) = s.trim().parse::<u64>() {
            return Ok(Pick::Id(n));
        }
        let t = s.trim();
        // Split at the separator between the two endpoints: a '-' (or ','
        // or space) right after a port.
        for (i, c) in t.char_indices() {
            if matches!(c, '-' | ',' | ' ') {
                if let (Ok(a), Ok(b)) = (
                    t[..i].trim().parse::<SocketAddr>(),
                    t[i + 1..].trim().parse::<SocketAddr>(),
                ) {
                    return Ok(Pick::Endpoints(a, b));
                }
            }
        }
        Err(format!(
            "'{s}' is neither a connection number nor two endpoints such as 127.0.0.1:50139-127.0.0.1:9292 \
             (`tcpscope conns -r FILE` lists both)"
        ))
    }

    fn matches(&self, id: u64, client: SocketAddr, server: SocketAddr) -> bool {
        match *self {
            Pick::Id(n) => n == id,
            Pick::Endpoints(a, b) => (a == client && b == server) || (a == server && b == client),
        }
    }
}

/// Which of the chosen connection's packets are drawn.
#[derive(Clone, Copy, Debug, Default)]
pub struct Range {
    /// At most this many.
    pub count: Option<u64>,
    /// From this many seconds after the connection's first packet.
    pub from_s: Option<f64>,
    /// To this many seconds after it.
    pub to_s: Option<f64>,
}

/// The ladder of one connection.
pub struct Ladder {
    pick: Pick,
    range: Range,
    /// The connection picked, once its first packet is seen.
    conn: Option<u64>,
    first: Option<Ts>,
    drawn: u64,
    style: Style,
    drawing: Drawing,
    /// The hover text of an SVG arrow: the packet as `read --nano` prints it.
    printer: Printer,
    line: Vec<u8>,
}

impl Ladder {
    /// The ladder of connection number `conn` in this style.
    pub fn new(conn: u64, style: Style) -> Ladder {
        Ladder::pick(Pick::Id(conn), Range::default(), style)
    }

    /// The ladder of the connection `pick` chooses, its packets in `range`.
    pub fn pick(pick: Pick, range: Range, style: Style) -> Ladder {
        Ladder {
            pick,
            range,
            conn: None,
            first: None,
            drawn: 0,
            style,
            drawing: Drawing::None,
            printer: Printer::new(Options {
                nano: true,
                ..Options::default()
            }),
            line: Vec::new(),
        }
    }
}

impl Output for Ladder {
    fn tracks(&self) -> bool {
        true
    }

    fn packet(&mut self, p: &Packet<'_>, out: &mut Vec<u8>) {
        let Some(t) = &p.tcp else {
            return;
        };
        match self.conn {
            Some(c) if c != t.obs.conn => return,
            Some(_) => {}
            None if self
                .pick
                .matches(t.obs.conn, t.conn.client.into(), t.conn.server.into()) =>
            {
                self.conn = Some(t.obs.conn);
            }
            None => return,
        }
        let (seg, obs) = (t.seg, t.obs);
        let first = *self.first.get_or_insert(seg.ts);
        let at = seg.ts.since(first);
        if self.range.count.is_some_and(|n| self.drawn >= n)
            || self.range.from_s.is_some_and(|f| at < f)
            || self.range.to_s.is_some_and(|t| at > t)
        {
            return;
        }
        self.drawn += 1;
        if matches!(self.drawing, Drawing::None) {
            let (cs, ss) = Conn::initial_states(seg);
            let (client, server) = (t.conn.client.to_string(), t.conn.server.to_string());
            self.drawing = match self.style {
                Style::Svg => Drawing::Svg(SvgLadder::new(&client, &server, cs, ss)),
                Style::Json => {
                    Drawing::Json(JsonLadder::new(t.obs.conn, &client, &server, cs, ss, out))
                }
                Style::Text => {
                    let (l, head) = TextLadder::header(&client, &server, cs, ss);
                    out.extend_from_slice(head.trim_end().as_bytes());
                    out.push(b'\n');
                    Drawing::Text(l)
                }
            };
        }
        match &mut self.drawing {
            Drawing::None => {}
            Drawing::Text(l) => {
                out.extend_from_slice(l.packet(seg, obs).as_bytes());
                out.push(b'\n');
            }
            Drawing::Svg(svg) => svg_arrow(svg, &mut self.printer, &mut self.line, p, seg, obs),
            Drawing::Json(j) => j.packet(p.n, seg, obs, out),
        }
    }

    fn finish(&mut self, _: &[Conn], out: &mut Vec<u8>) -> Result<(), OutputError> {
        match std::mem::replace(&mut self.drawing, Drawing::None) {
            Drawing::None => {
                return Err(match (self.pick, self.conn) {
                    (Pick::Id(n), None) => OutputError::NoSuchConnection(n),
                    (Pick::Endpoints(a, b), None) => OutputError::NoSuchEndpoints(a, b),
                    (_, Some(n)) => OutputError::NothingInRange(n),
                })
            }
            Drawing::Text(_) => {
                out.extend_from_slice(TextLadder::footer().as_bytes());
                out.push(b'\n');
            }
            Drawing::Svg(svg) => out.extend_from_slice(svg.finish().as_bytes()),
            Drawing::Json(_) => {}
        }
        Ok(())
    }
}

//! `tcpscope ladder`: the sequence diagram of one connection, as text, SVG
//! or JSON. One renderer per file; [`Ladder`] is the output that picks the
//! connection and feeds its packets to the renderer.

mod json;
mod svg;
mod text;

pub use json::JsonLadder;
pub use svg::SvgLadder;
pub use text::{arrow_label, TextLadder};

use tcpscope_print::{Options, Printer};
use tcpscope_track::Conn;

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

/// The ladder of connection `conn`.
pub struct Ladder {
    conn: u64,
    style: Style,
    drawing: Drawing,
    /// The hover text of an SVG arrow: the packet as `read --nano` prints it.
    printer: Printer,
    line: Vec<u8>,
}

impl Ladder {
    /// The ladder of connection number `conn` in this style.
    pub fn new(conn: u64, style: Style) -> Ladder {
        Ladder {
            conn,
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
        if t.obs.conn != self.conn {
            return;
        }
        let (seg, obs) = (t.seg, t.obs);
        if matches!(self.drawing, Drawing::None) {
            let (cs, ss) = Conn::initial_states(seg);
            let (client, server) = (t.conn.client.to_string(), t.conn.server.to_string());
            self.drawing = match self.style {
                Style::Svg => Drawing::Svg(SvgLadder::new(&client, &server, cs, ss)),
                Style::Json => {
                    Drawing::Json(JsonLadder::new(self.conn, &client, &server, cs, ss, out))
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
            Drawing::Svg(svg) => {
                self.line.clear();
                self.printer.print(p.frame, &mut self.line);
                let line = String::from_utf8_lossy(&self.line);
                svg.packet(
                    seg,
                    obs,
                    &arrow_label(seg, obs),
                    &words::notes(obs),
                    line.trim_end(),
                );
            }
            Drawing::Json(j) => j.packet(p.n, seg, obs, out),
        }
    }

    fn finish(&mut self, _: &[Conn], out: &mut Vec<u8>) -> Result<(), OutputError> {
        match std::mem::replace(&mut self.drawing, Drawing::None) {
            Drawing::None => return Err(OutputError::NoSuchConnection(self.conn)),
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

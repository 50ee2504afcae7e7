//! `tcpscope report`: one self-contained HTML page (styles, script and SVG
//! inline; nothing fetched) with the connection table (sortable), the
//! capture's diagnosis, and for each chosen connection its ladder, a
//! time-sequence graph in tcptrace's style (segments as bars from first to
//! last sequence number, the ACK and receive-window lines, retransmissions
//! and zero windows marked, both sides' state changes on the time axis),
//! throughput and goodput, RTT samples (Karn's rule) and bytes in flight
//! against the receive window.

use std::collections::HashMap;
use std::fmt::Write as _;

use tcpscope_print::{Options, Printer};
use tcpscope_track::Flags;
use tcpscope_track::{Conn, ConnSummary, Side, Ts};

use crate::diagnose::Diagnose;
use crate::ladder::{svg_arrow, SvgLadder};
use crate::pipeline::{Output, Packet};
use crate::OutputError;

/// Segments drawn per graph at most; beyond it the graph keeps every
/// flagged segment and an even sample of the others (the extremes kept).
pub const MAX_POINTS: usize = 5000;
/// Ladder arrows drawn per connection at most.
pub const MAX_ARROWS: usize = 400;

/// One TCP segment of a chosen connection, as the graphs need it.
#[derive(Clone, Copy)]
struct Point {
    t: f64,
    from_client: bool,
    seq: u64,
    end: u64,
    ack: Option<u64>,
    win: u64,
    retrans: bool,
    zero_window: bool,
    len: u32,
    /// SACK blocks this packet carries (relative, as read --explain shows
    /// them), up to 4.
    sack: [(u32, u32); 4],
    nsack: u8,
}

/// What one chosen connection gathers.
struct Chosen {
    start: Ts,
    points: Vec<Point>,
    /// (time, side, new state).
    states: Vec<(f64, Side, &'static str)>,
    ladder: Option<SvgLadder>,
    arrows: usize,
}

/// Which connections get graphs.
#[derive(Clone, Debug)]
pub enum Chosen2 {
    /// The first N connections.
    First(usize),
    /// These connection numbers.
    Ids(Vec<u64>),
}

/// The report output.
pub struct HtmlReport {
    title: String,
    pick: Chosen2,
    chosen: HashMap<u64, Chosen>,
    diagnose: Diagnose,
    diagnosis: Vec<u8>,
    printer: Printer,
    line: Vec<u8>,
}

impl HtmlReport {
    /// A report on `source`, with graphs for the connections `pick` names.
    pub fn new(source: &str, pick: Chosen2) -> HtmlReport {
        HtmlReport {
            title: source.to_string(),
            pick,
            chosen: HashMap::new(),
            diagnose: Diagnose::new(false, source),
            diagnosis: Vec::new(),
            printer: Printer::new(Options {
                nano: true,
                ..Options::default()
            }),
            line: Vec::new(),
        }
    }

    fn wants(&self, id: u64) -> bool {
        match &self.pick {
            Chosen2::First(n) => id <= *n as u64,
            Chosen2::Ids(ids) => ids.contains(&id),
        }
    }
}

impl Output for HtmlReport {
    fn tracks(&self) -> bool {
        true
    }

    fn wants_connections(&self) -> bool {
        true
    }

    fn packet(&mut self, p: &Packet<'_>, _: &mut Vec<u8>) {
        self.diagnose.packet(p, &mut self.diagnosis);
        let Some(t) = &p.tcp else {
            return;
        };
        let (seg, obs) = (t.seg, t.obs);
        if !self.wants(obs.conn) {
            return;
        }
        let c = self.chosen.entry(obs.conn).or_insert_with(|| {
            let (cs, ss) = Conn::initial_states(seg);
            Chosen {
                start: seg.ts,
                points: Vec::new(),
                states: Vec::new(),
                ladder: Some(SvgLadder::new(
                    &t.conn.client.to_string(),
                    &t.conn.server.to_string(),
                    cs,
                    ss,
                )),
                arrows: 0,
            }
        });
        let at = seg.ts.since(c.start);
        let syn_fin = (seg.flags
            & (tcpscope_track::segment::flag::SYN | tcpscope_track::segment::flag::FIN)
            != 0) as u64;
        let seq = obs.rel_seq as u64;
        c.points.push(Point {
            t: at,
            from_client: obs.from_client,
            seq,
            end: seq + seg.len as u64 + syn_fin,
            ack: (seg.flags & tcpscope_track::segment::flag::ACK != 0)
                .then_some(obs.rel_ack as u64),
            win: obs.window,
            retrans: obs.flags.retransmitted(),
            zero_window: obs.flags.has(Flags::ZERO_WINDOW),
            len: seg.len,
            sack: {
                let mut b = [(0, 0); 4];
                for (d, x) in b.iter_mut().zip(obs.sack()) {
                    *d = *x;
                }
                b
            },
            nsack: obs.sack().len() as u8,
        });
        for tr in obs.transitions() {
            c.states.push((at, tr.side, tr.to.name()));
        }
        if c.arrows < MAX_ARROWS {
            if let Some(l) = c.ladder.as_mut() {
                svg_arrow(l, &mut self.printer, &mut self.line, p, seg, obs);
                c.arrows += 1;
            }
        }
    }

    fn finish(&mut self, conns: &[Conn], out: &mut Vec<u8>) -> Result<(), OutputError> {
        self.diagnose.finish(conns, &mut self.diagnosis)?;
        let all: Vec<ConnSummary> = conns.iter().map(Conn::summary).collect();
        let ladders: HashMap<u64, String> = self
            .chosen
            .iter_mut()
            .filter_map(|(id, c)| c.ladder.take().map(|l| (*id, svg_body(l))))
            .collect();
        page(self, &all, &ladders, out);
        Ok(())
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ccc;padding:2px 6px;text-align:left;white-space:nowrap}\
th{background:#eee;cursor:pointer;position:sticky;top:0}td.n{text-align:right}\
pre{background:#f6f6f6;padding:.6em;overflow:auto;font-size:12px}\
section.conn{margin-top:2em;border-top:2px solid #888}svg{background:#fff}\
.legend span{display:inline-block;margin-right:1em}.legend i{display:inline-block;width:14px;height:4px;margin-right:4px;vertical-align:middle}\
.ladder{max-height:700px;overflow:auto;border:1px solid #ccc}\
.lhead{position:sticky;top:0;background:#fff;border-bottom:1px solid #ccc;display:flex;width:960px;font:bold 13px monospace}\
.lhead span{flex:1;text-align:center}\
circle.stevens{display:none}body.stevens circle.stevens{display:inline}\
body.stevens .tsg line.seg,body.stevens .tsg .ack,body.stevens .tsg .rwnd,body.stevens .tsg .sack{display:none}";

/// Click a column to sort (again to reverse); `#sort=N` (`#sort=-N`
/// descending) in the address sorts by column N on load, so a sorted view
/// can be linked; `#stevens` opens with Stevens' graphs.
const SCRIPT: &str = "function sortBy(th,i,d){var t=th.closest('table'),b=t.tBodies[0],\
r=Array.prototype.slice.call(b.rows);th.dataset.dir=d;\
r.sort(function(a,c){var x=a.cells[i].textContent,y=c.cells[i].textContent,\
nx=parseFloat(x),ny=parseFloat(y),v=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);return d==='asc'?v:-v});\
r.forEach(function(x){b.appendChild(x)})}\
document.querySelectorAll('table.sortable th').forEach(function(th,i){\
th.addEventListener('click',function(){sortBy(th,i,th.dataset.dir==='asc'?'desc':'asc')})});\
var m=/sort=(-?)(\\d+)/.exec(location.hash);if(m){var h=document.querySelectorAll('table.sortable th')[+m[2]];\
if(h){sortBy(h,+m[2],m[1]?'desc':'asc')}}\
if(/stevens/.test(location.hash)){document.getElementById('stevens').checked=true;document.body.classList.add('stevens')}";

fn page(r: &HtmlReport, all: &[ConnSummary], ladders: &HashMap<u64, String>, out: &mut Vec<u8>) {
    let mut h = String::with_capacity(1 << 16);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>tcpscope report: {t}</title>\
         <style>{STYLE}</style></head><body>\n<h1>tcpscope report: {t}</h1>\n",
        t = esc(&r.title)
    );
    let _ = write!(
        h,
        "<p>{} connections. Click a column to sort. Graphs for {} of them below.</p>\n",
        all.len(),
        r.chosen.len()
    );
    h.push_str("<p><label><input type=\"checkbox\" id=\"stevens\" onchange=\"document.body.classList.toggle('stevens',this.checked)\"> \
         Stevens' time-sequence graphs (each segment's starting sequence number over time) instead of tcptrace's</label></p>\n");
    h.push_str("<h2>What went wrong</h2>\n<pre id=\"diagnosis\">");
    h.push_str(&esc(&String::from_utf8_lossy(&r.diagnosis)));
    h.push_str("</pre>\n<h2>Connections</h2>\n<table class=\"sortable\" id=\"conns\"><thead><tr>");
    for col in [
        "id",
        "client",
        "server",
        "duration s",
        "pkts &gt;",
        "bytes &gt;",
        "&lt; pkts",
        "&lt; bytes",
        "irtt ms",
        "state",
        "history",
        "retrans",
        "closed",
        "time-wait",
        "rst",
        "rst cause",
        "client saw",
        "server saw",
    ] {
        let _ = write!(h, "<th>{col}</th>");
    }
    h.push_str("</tr></thead><tbody>\n");
    let side = |s: Option<Side>| s.map_or("-", Side::name);
    for c in all {
        let (to, from) = (c.dir(Side::Client), c.dir(Side::Server));
        let link = if r.chosen.contains_key(&c.id) {
            format!("<a href=\"#conn{0}\">{0}</a>", c.id)
        } else {
            c.id.to_string()
        };
        let _ = writeln!(
            h,
            "<tr><td class=\"n\">{link}</td><td>{}</td><td>{}</td><td class=\"n\">{:.6}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.client.to_string()),
            esc(&c.server.to_string()),
            c.duration(),
            to.packets,
            to.bytes,
            from.packets,
            from.bytes,
            c.irtt.map_or("-".to_string(), |v| format!("{:.3}", v * 1e3)),
            c.conn_state.name(),
            esc(&c.history),
            to.retransmissions + from.retransmissions,
            side(c.closed_first),
            side(c.time_wait),
            side(c.reset_by),
            c.rst_cause.map_or("-", |x| x.key()),
            esc(c.client_saw.text()),
            esc(c.server_saw.text()),
        );
    }
    h.push_str("</tbody></table>\n");
    let mut ids: Vec<&u64> = r.chosen.keys().collect();
    ids.sort();
    for id in ids {
        let c = &r.chosen[id];
        let summary = all.iter().find(|s| s.id == *id);
        let _ = write!(
            h,
            "<section class=\"conn\" id=\"conn{id}\"><h2>Connection {id}{}</h2>\n",
            summary.map_or(String::new(), |s| format!(
                ": {} &gt; {}",
                esc(&s.client.to_string()),
                esc(&s.server.to_string())
            ))
        );
        h.push_str(&graphs(c, *id));
        if let Some(l) = ladders.get(id) {
            // The endpoints stay in view while the ladder scrolls.
            let head = summary.map_or(String::new(), |s| {
                format!(
                    "<div class=\"lhead\"><span>client {}</span><span>server {}</span></div>",
                    esc(&s.client.to_string()),
                    esc(&s.server.to_string())
                )
            });
            let _ = write!(
                h,
                "<h3>Ladder{}</h3><div class=\"ladder\">{head}{l}</div>\n",
                if c.arrows >= MAX_ARROWS {
                    format!(" (first {MAX_ARROWS} packets)")
                } else {
                    String::new()
                },
            );
        }
        h.push_str("</section>\n");
    }
    let _ = write!(h, "<script>{SCRIPT}</script>\n</body></html>\n");
    out.extend_from_slice(h.as_bytes());
}

/// An SVG ladder without its XML declaration, to sit inside the page.
fn svg_body(l: SvgLadder) -> String {
    let doc = l.finish();
    match doc.find("<svg") {
        Some(i) => doc[i..].to_string(),
        None => doc,
    }
}

/// A plot's frame: maps data to pixels.
struct Frame {
    w: f64,
    h: f64,
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

const ML: f64 = 70.0;
const MR: f64 = 20.0;
const MT: f64 = 20.0;
const MB: f64 = 50.0;

impl Frame {
    fn new(x1: f64, y1: f64) -> Frame {
        Frame {
            w: 900.0,
            h: 320.0,
            x0: 0.0,
            x1: x1.max(1e-6),
            y0: 0.0,
            y1: y1.max(1.0),
        }
    }
    fn x(&self, v: f64) -> f64 {
        ML + (v - self.x0) / (self.x1 - self.x0) * (self.w - ML - MR)
    }
    fn y(&self, v: f64) -> f64 {
        self.h - MB - (v - self.y0) / (self.y1 - self.y0) * (self.h - MT - MB)
    }
    fn open(&self, class: &str, title: &str, xl: &str, yl: &str) -> String {
        let mut s = format!(
            "<h3>{title}</h3><svg class=\"{class}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-size=\"11\">",
            self.w, self.h
        );
        let _ = write!(
            s,
            "<line x1=\"{ML}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#000\"/><line x1=\"{ML}\" y1=\"{MT}\" x2=\"{ML}\" y2=\"{b}\" stroke=\"#000\"/>",
            b = self.h - MB,
            r = self.w - MR
        );
        for i in 0..=4 {
            let (xv, yv) = (
                self.x0 + (self.x1 - self.x0) * i as f64 / 4.0,
                self.y0 + (self.y1 - self.y0) * i as f64 / 4.0,
            );
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                self.x(xv),
                self.h - MB + 14.0,
                short(xv),
                ML - 4.0,
                self.y(yv) + 4.0,
                short(yv)
            );
        }
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{xl}</text><text x=\"12\" y=\"{:.1}\" transform=\"rotate(-90 12 {:.1})\" text-anchor=\"middle\">{yl}</text>",
            (ML + self.w - MR) / 2.0,
            self.h - 8.0,
            self.h / 2.0,
            self.h / 2.0
        );
        s
    }
}

fn short(v: f64) -> String {
    if v.abs() >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v.abs() >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if v.abs() >= 10.0 || v == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

fn legend(items: &[(&str, &str)]) -> String {
    let mut s = String::from("<div class=\"legend\">");
    for (color, name) in items {
        let _ = write!(s, "<span><i style=\"background:{color}\"></i>{name}</span>");
    }
    s.push_str("</div>");
    s
}

/// Keep at most `max` of `n` indices: every flagged one, and an even
/// sample of the others (the first and last among them).
fn decimate(points: &[Point], max: usize) -> Vec<usize> {
    if points.len() <= max {
        return (0..points.len()).collect();
    }
    let mut flagged: Vec<usize> = (0..points.len())
        .filter(|&i| points[i].retrans || points[i].zero_window)
        .collect();
    if flagged.len() > max / 2 {
        flagged = sample(&flagged, max / 2);
    }
    let room = max.saturating_sub(flagged.len()).max(2);
    let step = points.len() as f64 / room as f64;
    let mut keep: Vec<usize> = (0..room)
        .map(|k| ((k as f64 * step) as usize).min(points.len() - 1))
        .collect();
    keep.push(points.len() - 1);
    keep.extend(flagged);
    keep.sort_unstable();
    keep.dedup();
    keep
}

/// At most two points per pixel column (the lowest and the highest, in
/// column order), so that a line of a million points draws as it looks.
fn thin(f: &Frame, pts: &[(f64, f64)]) -> Vec<(f64, f64)> {
    if pts.len() <= 4 * (f.w as usize) {
        return pts.to_vec();
    }
    let cols = f.w as usize + 1;
    let mut lo: Vec<Option<(f64, f64)>> = vec![None; cols];
    let mut hi: Vec<Option<(f64, f64)>> = vec![None; cols];
    for &p in pts {
        let c = (f.x(p.0).max(0.0) as usize).min(cols - 1);
        if lo[c].is_none_or(|q| p.1 < q.1) {
            lo[c] = Some(p);
        }
        if hi[c].is_none_or(|q| p.1 > q.1) {
            hi[c] = Some(p);
        }
    }
    let mut out = Vec::with_capacity(2 * cols);
    for (l, h) in lo.into_iter().zip(hi) {
        if let (Some(l), Some(h)) = (l, h) {
            let (a, b) = if l.0 <= h.0 { (l, h) } else { (h, l) };
            out.push(a);
            if b != a {
                out.push(b);
            }
        }
    }
    out
}

fn polyline(f: &Frame, pts: &[(f64, f64)]) -> String {
    let mut s = String::with_capacity(pts.len() * 12);
    for (x, y) in thin(f, pts) {
        let _ = write!(s, "{:.1},{:.1} ", f.x(x), f.y(y));
    }
    s
}

/// An even sample of `n` of `items`, the first and last among them.
fn sample<T: Copy>(items: &[T], n: usize) -> Vec<T> {
    if items.len() <= n || n < 2 {
        return items.to_vec();
    }
    (0..n)
        .map(|k| items[k * (items.len() - 1) / (n - 1)])
        .collect()
}

/// State changes drawn per graph at most.
pub const MAX_STATES: usize = 400;

/// The graphs of one connection.
fn graphs(c: &Chosen, id: u64) -> String {
    let mut s = String::new();
    // The direction that carried more data is the one graphed (tcptrace
    // draws one direction per graph).
    let sent = |fc: bool| {
        c.points
            .iter()
            .filter(|p| p.from_client == fc)
            .map(|p| p.len as u64)
            .sum::<u64>()
    };
    let data_from_client = sent(true) >= sent(false);
    let dir = if data_from_client {
        "client → server"
    } else {
        "server → client"
    };
    let data: Vec<Point> = c
        .points
        .iter()
        .copied()
        .filter(|p| p.from_client == data_from_client)
        .collect();
    let acks: Vec<Point> = c
        .points
        .iter()
        .copied()
        .filter(|p| p.from_client != data_from_client && p.ack.is_some())
        .collect();
    let dur = c.points.last().map_or(0.0, |p| p.t);
    let top = data
        .iter()
        .map(|p| p.end)
        .chain(acks.iter().map(|p| p.ack.unwrap_or(0) + p.win))
        .max()
        .unwrap_or(1) as f64;
    // Time-sequence graph.
    let f = Frame::new(dur, top);
    s.push_str(&f.open(
        "tsg",
        &format!("Time-sequence graph, {dir} (tcptrace style)"),
        "seconds since the first packet",
        "relative sequence number",
    ));
    let ack_pts: Vec<(f64, f64)> = acks
        .iter()
        .map(|p| (p.t, p.ack.unwrap_or(0) as f64))
        .collect();
    let win_pts: Vec<(f64, f64)> = acks
        .iter()
        .map(|p| (p.t, (p.ack.unwrap_or(0) + p.win) as f64))
        .collect();
    let (ackline, winline) = (polyline(&f, &ack_pts), polyline(&f, &win_pts));
    let _ = write!(
        s,
        "<polyline class=\"ack\" fill=\"none\" stroke=\"#2a2\" points=\"{ackline}\"/>"
    );
    let _ = write!(
        s,
        "<polyline class=\"rwnd\" fill=\"none\" stroke=\"#d90\" points=\"{winline}\"/>"
    );
    // SACK blocks the receiver reported: what it holds above the ACK.
    let sacks: Vec<&Point> = acks.iter().filter(|p| p.nsack > 0).collect();
    for p in sample(&sacks, MAX_POINTS / 5) {
        for &(l, r) in &p.sack[..p.nsack as usize] {
            let x = f.x(p.t) + 2.0;
            let _ = write!(
                s,
                "<line class=\"sack\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#a3c\" stroke-width=\"3\"/>",
                f.y(l as f64),
                f.y(r as f64)
            );
        }
    }
    let keep = decimate(&data, MAX_POINTS);
    for &i in &keep {
        let p = &data[i];
        let color = if p.retrans { "#d00" } else { "#000" };
        let class = if p.retrans { "seg retrans" } else { "seg" };
        let (x, ya, yb) = (f.x(p.t), f.y(p.seq as f64), f.y(p.end as f64));
        let _ = write!(
            s,
            "<line class=\"{class}\" x1=\"{x:.1}\" y1=\"{ya:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"{color}\" stroke-width=\"2\"><title>{:.6} s seq {}:{}</title></line>\
<circle class=\"stevens\" cx=\"{x:.1}\" cy=\"{ya:.1}\" r=\"1.8\" fill=\"{color}\"/>",
            yb.min(ya - 1.0),
            p.t,
            p.seq,
            p.end
        );
    }
    let zw: Vec<&Point> = acks.iter().filter(|p| p.zero_window).collect();
    for p in sample(&zw, MAX_POINTS / 5) {
        let _ = write!(
            s,
            "<text class=\"zwin\" x=\"{:.1}\" y=\"{:.1}\" fill=\"#d00\">Z</text>",
            f.x(p.t),
            f.y(p.ack.unwrap_or(0) as f64) - 3.0
        );
    }
    // Each state change: a dashed line with the state in its tooltip; the
    // label under the axis only where it does not run into the last one.
    let mut last_label = [f64::MIN; 2];
    if c.states.len() > MAX_STATES {
        let _ = write!(
            s,
            "<text x=\"{ML}\" y=\"12\" fill=\"#447\">{} state changes; {MAX_STATES} drawn</text>",
            c.states.len()
        );
    }
    for (t, side, st) in sample(&c.states, MAX_STATES).iter() {
        let x = f.x(*t);
        let k = (*side == Side::Server) as usize;
        let y = f.h - MB + 26.0 + 12.0 * k as f64;
        let _ = write!(
            s,
            "<line class=\"state\" x1=\"{x:.1}\" y1=\"{MT}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#99c\" stroke-dasharray=\"2,3\"><title>{:.6} s: {} {st}</title></line>",
            f.h - MB,
            t,
            side.name()
        );
        if x - last_label[k] > 90.0 {
            let _ = write!(
                s,
                "<text x=\"{x:.1}\" y=\"{y:.1}\" fill=\"#447\" font-size=\"9\">{} {st}</text>",
                side.name()
            );
            last_label[k] = x;
        }
    }
    s.push_str("</svg>");
    s.push_str(&legend(&[
        ("#000", "segment (first to last sequence number)"),
        ("#d00", "retransmission"),
        ("#2a2", "ACK"),
        ("#d90", "receive window (ACK + window)"),
        ("#a3c", "SACK block"),
        ("#99c", "a state change (client upper, server lower label)"),
    ]));
    if acks.iter().any(|p| p.zero_window) {
        s.push_str("<p>Z: the receiver advertised a zero window.</p>");
    }
    // Throughput and goodput, in bins.
    let bins = 40usize;
    let width = (dur / bins as f64).max(1e-6);
    let mut thr = vec![0f64; bins];
    let mut good = vec![0f64; bins];
    for p in &data {
        let b = ((p.t / width) as usize).min(bins - 1);
        thr[b] += p.len as f64;
        if !p.retrans {
            good[b] += p.len as f64;
        }
    }
    let rate = |v: f64| v / width;
    let f2 = Frame::new(dur, thr.iter().map(|v| rate(*v)).fold(0.0, f64::max));
    s.push_str(&f2.open(
        "throughput",
        "Throughput and goodput",
        "seconds",
        "bytes per second",
    ));
    for (k, (a, g)) in thr.iter().zip(&good).enumerate() {
        let x = f2.x(k as f64 * width);
        let bw = (f2.x(width) - f2.x(0.0)).max(1.0) - 1.0;
        let _ = write!(s, "<rect class=\"bin\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"#9bd\"/>", f2.y(rate(*a)), f2.y(0.0) - f2.y(rate(*a)));
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"#37a\"/>",
            f2.y(rate(*g)),
            f2.y(0.0) - f2.y(rate(*g))
        );
    }
    s.push_str("</svg>");
    s.push_str(&legend(&[
        ("#9bd", "throughput (all data sent)"),
        ("#37a", "goodput (retransmissions left out)"),
    ]));
    // RTT samples: an ACK that covers a segment sent once (Karn's rule: a
    // retransmitted segment gives no sample).
    let mut samples: Vec<(f64, f64)> = Vec::new();
    let mut ai = 0;
    let mut acked = 0u64;
    let mut sent_twice = std::collections::HashSet::new();
    for p in &data {
        if p.retrans {
            sent_twice.insert(p.end);
        }
    }
    for p in data.iter() {
        if p.end <= p.seq || p.retrans || sent_twice.contains(&p.end) {
            continue;
        }
        while ai < acks.len() && acks[ai].t < p.t {
            acked = acked.max(acks[ai].ack.unwrap_or(0));
            ai += 1;
        }
        if acked >= p.end {
            continue;
        }
        // The first ACK at or after the segment that covers it.
        let mut j = ai;
        while j < acks.len() && acks[j].ack.unwrap_or(0) < p.end {
            j += 1;
        }
        if let Some(a) = acks.get(j) {
            samples.push((p.t, (a.t - p.t) * 1e3));
        }
    }
    let f3 = Frame::new(dur, samples.iter().map(|s| s.1).fold(0.0, f64::max) * 1.1);
    s.push_str(&f3.open(
        "rtt",
        &format!(
            "RTT samples ({} of them; Karn's rule: none from retransmitted segments)",
            samples.len()
        ),
        "seconds",
        "RTT (ms)",
    ));
    for (t, v) in thin(&f3, &samples) {
        let _ = write!(
            s,
            "<circle class=\"rtt\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2\" fill=\"#a3c\"/>",
            f3.x(t),
            f3.y(v)
        );
    }
    s.push_str("</svg>");
    // Bytes in flight against the receive window.
    let mut inflight: Vec<(f64, f64, f64)> = Vec::new();
    let (mut hi, mut ack, mut win) = (0u64, 0u64, 0u64);
    let mut ai = 0;
    for p in &data {
        while ai < acks.len() && acks[ai].t <= p.t {
            ack = ack.max(acks[ai].ack.unwrap_or(0));
            win = acks[ai].win;
            ai += 1;
        }
        hi = hi.max(p.end);
        inflight.push((p.t, hi.saturating_sub(ack) as f64, win as f64));
    }
    let f4 = Frame::new(
        dur,
        inflight.iter().map(|v| v.1.max(v.2)).fold(0.0, f64::max),
    );
    s.push_str(&f4.open(
        "inflight",
        "Bytes in flight and the receive window",
        "seconds",
        "bytes",
    ));
    let fl: Vec<(f64, f64)> = inflight.iter().map(|v| (v.0, v.1)).collect();
    let wl: Vec<(f64, f64)> = inflight.iter().map(|v| (v.0, v.2)).collect();
    let (a, b) = (polyline(&f4, &fl), polyline(&f4, &wl));
    let _ = write!(s, "<polyline fill=\"none\" stroke=\"#c33\" points=\"{a}\"/><polyline fill=\"none\" stroke=\"#d90\" points=\"{b}\"/></svg>");
    s.push_str(&legend(&[
        (
            "#c33",
            "bytes in flight (highest sequence sent minus highest ACK)",
        ),
        ("#d90", "receive window"),
    ]));
    let _ = id;
    s
}

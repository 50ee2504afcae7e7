//! `--simple`: the view people draw by hand, one line per TCP packet with
//! direction, flags, relative numbers and both sides' states.

use tcpscope_track::{Conn, Ts};
use tcpscope_wire::tcp::flags;

use crate::pipeline::{Output, Packet};
use crate::words::flag_labels;

/// The header line.
pub const HEADER: &str = "    #  time (s)     conn dir  flags  seq        ack        window      len  client        server        analysis";

/// The `--simple` table.
#[derive(Default)]
pub struct Simple {
    first_ts: Option<Ts>,
    header_done: bool,
}

impl Output for Simple {
    fn tracks(&self) -> bool {
        true
    }
    fn packet(&mut self, p: &Packet<'_>, out: &mut Vec<u8>) {
        if !self.header_done {
            self.header_done = true;
            out.extend_from_slice(HEADER.as_bytes());
            out.push(b'\n');
        }
        let Some(t) = &p.tcp else {
            return;
        };
        let (seg, obs, conn) = (t.seg, t.obs, t.conn);
        let t0 = *self.first_ts.get_or_insert(seg.ts);
        let rel_time = seg.ts.since(t0);
        let dir = if obs.from_client { "C→S" } else { "S→C" };
        let ack = if seg.has(flags::ACK) {
            obs.rel_ack.to_string()
        } else {
            "-".to_string()
        };
        let labels = flag_labels(obs.flags, obs.dupack).join(", ");
        let line = format!(
            "{:>5}  {rel_time:<11.6}  {:>4} {dir}  {:<5}  {:<9}  {:<9}  {:>9}  {:>5}  {:<12}  {:<12}  {labels}",
            p.n,
            obs.conn,
            flags::letters(seg.flags),
            obs.rel_seq,
            ack,
            obs.window,
            seg.len,
            conn.client_state.name(),
            conn.server_state.name(),
        );
        out.extend_from_slice(line.trim_end().as_bytes());
        out.push(b'\n');
    }
    fn finish(&mut self, _: &[Conn], out: &mut Vec<u8>) -> Result<(), crate::OutputError> {
        if !self.header_done {
            self.header_done = true;
            out.extend_from_slice(HEADER.as_bytes());
            out.push(b'\n');
        }
        Ok(())
    }
}

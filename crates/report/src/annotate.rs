//! `--annotate`: each packet's verdicts as the comment a pcapng file can
//! carry (what `read --explain` prints under it: both sides' transitions,
//! the analysis flags, an RST's cause), for Wireshark's packet list and
//! `tshark -e frame.comment`.

use crate::pipeline::{Output, Packet};
use crate::words::explain_line;

/// Keeps the comment of the last packet pushed through the pipeline.
#[derive(Default)]
pub struct Annotator {
    comment: String,
}

impl Annotator {
    /// The comment for the packet just pushed (empty: nothing to say).
    pub fn comment(&self) -> &str {
        &self.comment
    }

    /// Forget the last comment (before a frame that may not be TCP).
    pub fn clear(&mut self) {
        self.comment.clear();
    }
}

impl Output for Annotator {
    fn tracks(&self) -> bool {
        true
    }

    fn packet(&mut self, p: &Packet<'_>, _: &mut Vec<u8>) {
        self.comment.clear();
        if let Some(line) = p.tcp.as_ref().and_then(|t| explain_line(t.obs)) {
            self.comment.push_str("tcpscope: ");
            self.comment.push_str(line.trim_start());
        }
    }
}

//! `--explain`: tcpdump's line, and under it the state changes the packet
//! caused on each side, its analysis flags and SACK blocks.

use tcpscope_print::{Options, Printer};

use crate::pipeline::{Output, Packet};
use crate::words::explain_line;

/// tcpdump's lines with tcpscope's line under each packet that did something.
pub struct Explain {
    printer: Printer,
}

impl Explain {
    /// With tcpdump's printing options.
    pub fn new(opts: Options) -> Explain {
        Explain {
            printer: Printer::new(opts),
        }
    }
}

impl Output for Explain {
    fn tracks(&self) -> bool {
        true
    }
    fn packet(&mut self, p: &Packet<'_>, out: &mut Vec<u8>) {
        // Frames without TCP are not printed here, as before: --explain
        // is a view of TCP connections.
        let Some(t) = &p.tcp else {
            return;
        };
        // Numbered (-#) as tcpdump numbers the capture's frames.
        self.printer.print_nth(p.frame, p.n, out);
        if let Some(line) = explain_line(t.obs) {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
    }
}

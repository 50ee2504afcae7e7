//! tcpdump's own outputs through the pipeline: the packet lines (the
//! `print` crate's port) and `--count`.

use tcpscope_print::{Options, Printer};

use crate::pipeline::{Output, Packet};
use tcpscope_track::Conn;

/// tcpdump's lines, nothing tracked.
pub struct Tcpdump {
    printer: Printer,
}

impl Tcpdump {
    /// With tcpdump's printing options.
    pub fn new(opts: Options) -> Tcpdump {
        Tcpdump {
            printer: Printer::new(opts),
        }
    }
}

impl Output for Tcpdump {
    fn tracks(&self) -> bool {
        false
    }
    fn packet(&mut self, p: &Packet<'_>, out: &mut Vec<u8>) {
        self.printer.print(p.frame, out);
    }
}

/// `--count`: the number of packets taken, as tcpdump prints it.
#[derive(Default)]
pub struct Count {
    n: u64,
}

impl Output for Count {
    fn tracks(&self) -> bool {
        false
    }
    fn packet(&mut self, _: &Packet<'_>, _: &mut Vec<u8>) {
        self.n += 1;
    }
    fn finish(&mut self, _: &[Conn], out: &mut Vec<u8>) -> Result<(), crate::OutputError> {
        let n = self.n;
        out.extend_from_slice(format!("{n} packet{}\n", if n == 1 { "" } else { "s" }).as_bytes());
        Ok(())
    }
}

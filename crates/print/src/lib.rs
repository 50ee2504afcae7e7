//! The tcpdump-identical printer.
//!
//! [`Printer::print`] turns one captured frame into exactly the text tcpdump
//! 4.99.3 prints for it under the same flags (`-n` is implied: tcpscope never
//! resolves names). The dissectors follow tcpdump's own structure, including
//! where it stops on truncated data and says `[|proto]`, because byte-for-byte
//! agreement is the point: users keep the output they already trust.
//!
//! Nothing here allocates per packet: lines are built in a caller-owned
//! buffer with integer formatting that does not go through `format!`.
//!
//! ```
//! use tcpscope_print::{Options, Printer};
//! use tcpscope_capture::Frame;
//! let pkt = [0x45u8, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
//!            0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0];
//! let frame = Frame { ts_sec: 0, ts_frac: 0, linktype: 101, caplen: 40, len: 40, interface: 0, data: &pkt };
//! let mut printer = Printer::new(Options { tflag: 1, ..Options::default() });
//! let mut out = Vec::new();
//! printer.print(&frame, &mut out);
//! assert_eq!(String::from_utf8(out).unwrap(),
//!            "IP 127.0.0.1.40000 > 127.0.0.1.80: Flags [S], seq 1, win 65535, length 0\n");
//! ```
#![deny(missing_docs)]

mod app;
mod hexdump;
mod ip;
mod ip6;
mod link;
mod mptcp;
mod nd;
mod tcp;
mod ts;

use tcpscope_capture::Frame;

use nd::Nd;

/// The application decoder forced by `-T`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketType {
    /// ZeroMQ transport v1 (`-T zmtp1`).
    Zmtp1,
    /// Redis serialization protocol (`-T resp`).
    Resp,
    /// DNS (`-T domain`).
    Domain,
}

/// The output options, named after tcpdump's flags.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `-v` count.
    pub vflag: u8,
    /// `-e`: print the link-level header.
    pub eflag: bool,
    /// `-q` count: quick, shorter output.
    pub qflag: u8,
    /// `-S`: absolute TCP sequence numbers.
    pub absolute_seq: bool,
    /// 0 default time, 1 `-t` none, 2 `-tt` epoch, 3 `-ttt` delta, 4 `-tttt` date, 5 `-ttttt` since first.
    pub tflag: u8,
    /// `-#`: number each packet.
    pub packet_number: bool,
    /// `-x` count: hex dump.
    pub xflag: u8,
    /// `-X` count: hex and ASCII dump.
    pub big_xflag: u8,
    /// `-A` count: ASCII dump.
    pub aflag: u8,
    /// `-K`: do not verify checksums.
    pub no_checksum: bool,
    /// `--nano`: timestamps in nanoseconds.
    pub nano: bool,
    /// `-T`: force an application decoder.
    pub packettype: Option<PacketType>,
}

/// State kept across packets: relative sequence bases, the reference time
/// for `-ttt`, and the packet counter.
pub struct Printer {
    opts: Options,
    tcp: tcp::SeqTable,
    time: ts::TimeState,
    link: link::LinkState,
    addrs: nd::AddrCache,
    count: u64,
}

impl Printer {
    /// A printer with these options.
    pub fn new(opts: Options) -> Printer {
        Printer {
            opts,
            tcp: tcp::SeqTable::default(),
            time: ts::TimeState::default(),
            link: link::LinkState::default(),
            addrs: nd::AddrCache::default(),
            count: 0,
        }
    }

    /// The options in use.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Print `frame` as the `n`th of the capture (for `-#`), when the
    /// frames before it were not all printed (a view that skips frames
    /// keeps tcpdump's numbers).
    pub fn print_nth(&mut self, frame: &Frame<'_>, n: u64, out: &mut Vec<u8>) {
        self.count = n.saturating_sub(1);
        self.print(frame, out);
    }

    /// Append the text for one frame, newline included (tcpdump's
    /// `pretty_print_packet`).
    pub fn print(&mut self, frame: &Frame<'_>, out: &mut Vec<u8>) {
        self.count += 1;
        if self.opts.packet_number {
            nd::put_dec_padded(out, self.count, 5, b' ');
            out.extend_from_slice(b"  ");
        }
        if !header_is_valid(frame, out) {
            return;
        }
        self.time
            .print(&self.opts, frame.ts_sec, frame.ts_frac, out);

        let mut nd = Nd::new(frame.data, out, &self.opts, &mut self.addrs);
        let dissected = link::print_link(&mut nd, &mut self.tcp, &mut self.link, frame);
        let mut hdrlen = nd.ll_hdr_len;
        if dissected.is_err() {
            nd.print_trunc();
            hdrlen = 0;
        }
        nd.reset_snaplen();
        hexdump::print_raw(&mut nd, hdrlen);
        nd.out.push(b'\n');
    }
}

/// The sanity checks on the record header that tcpdump prints as
/// `[Invalid header: ...]` instead of dissecting.
fn header_is_valid(frame: &Frame<'_>, out: &mut Vec<u8>) -> bool {
    const MAX: u32 = 262_144;
    let mut invalid = false;
    let open = |out: &mut Vec<u8>, invalid: &mut bool| {
        if !*invalid {
            *invalid = true;
            out.extend_from_slice(b"[Invalid header:");
        } else {
            out.push(b',');
        }
    };
    if frame.caplen == 0 {
        invalid = true;
        out.extend_from_slice(b"[Invalid header: caplen==0");
    }
    if frame.len == 0 {
        open(out, &mut invalid);
        out.extend_from_slice(b" len==0");
    } else if frame.len < frame.caplen {
        open(out, &mut invalid);
        out.extend_from_slice(b" len(");
        nd::put_dec(out, frame.len as u64);
        out.extend_from_slice(b") < caplen(");
        nd::put_dec(out, frame.caplen as u64);
        out.push(b')');
    }
    if frame.caplen > MAX {
        open(out, &mut invalid);
        out.extend_from_slice(b" caplen(");
        nd::put_dec(out, frame.caplen as u64);
        out.extend_from_slice(b") > 262144");
    }
    if frame.len > MAX {
        open(out, &mut invalid);
        out.extend_from_slice(b" len(");
        nd::put_dec(out, frame.len as u64);
        out.extend_from_slice(b") > 262144");
    }
    if invalid {
        out.extend_from_slice(b"]\n");
    }
    !invalid
}

impl Options {
    /// tcpdump's ndo_suppress_default_print: -q, -x and -X stop the hex
    /// dump of payloads nothing decodes.
    pub fn suppress_default_print(&self) -> bool {
        self.qflag > 0 || self.xflag > 0 || self.big_xflag > 0
    }
}

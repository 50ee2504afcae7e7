//! Zero-copy views of the headers tcpscope decodes: Ethernet and 802.1Q,
//! Linux cooked captures (SLL, SLL2), BSD loopback (NULL/LOOP), IPv4 with
//! options, IPv6 with its extension headers, TCP with every option kind,
//! UDP, ICMP and ICMPv6.
//!
//! It also holds the TCP vocabulary every other crate shares: the RFC 9293
//! states with the kernel's numbering ([`state`]), the flag bits with their
//! one text table ([`tcp::flags`]) and sequence-number arithmetic ([`seq`]).
//!
//! Every accessor is bounds-checked and never panics, whatever the bytes:
//! a field that lies beyond the captured data reads as `None`. Truncation is
//! data, not an error, so a printer can say how far a header goes.
//!
//! ```
//! use tcpscope_wire::tcp::TcpPacket;
//! let seg = [0x1f, 0x90, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0];
//! let tcp = TcpPacket::new(&seg);
//! assert_eq!(tcp.src_port(), Some(8080));
//! assert_eq!(tcp.flags(), Some(tcpscope_wire::tcp::flags::SYN));
//! ```
#![deny(missing_docs)]

pub mod bytes;
pub mod ethernet;
pub mod hash;
pub mod icmp;
pub mod ip;
pub mod ipv4;
pub mod ipv6;
pub mod link;
pub mod seq;
pub mod state;
pub mod tcp;
pub mod udp;

pub use seq::SeqNumber;
pub use state::State;

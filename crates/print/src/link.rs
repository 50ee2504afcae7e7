//! Link-layer printers: Ethernet (with VLAN tags), Linux cooked v1 and v2,
//! BSD loopback (NULL, LOOP) and raw IP, then the EtherType demux.

use std::collections::HashMap;

use tcpscope_capture::{Frame, LinkType};
use tcpscope_wire::ethernet::{ethertype, is_vlan, MAX_LENGTH_VALUE};
use tcpscope_wire::link::{bsd_af, SLL2_HEADER_LEN, SLL_HEADER_LEN};

use crate::hexdump::default_print;
use crate::nd::{Nd, Trunc, R};
use crate::tcp::SeqTable;
use crate::{app, ip, ip6};

/// Interface names for SLL2, looked up once per index on the reading host
/// (as tcpdump does with if_indextoname).
#[derive(Default)]
pub(crate) struct LinkState {
    ifnames: HashMap<u32, ([u8; 16], usize)>,
}

impl LinkState {
    fn ifname(&mut self, index: u32) -> &[u8] {
        let (buf, len) = self.ifnames.entry(index).or_insert_with(|| {
            let mut raw = [0 as libc::c_char; libc::IF_NAMESIZE];
            // SAFETY: raw has IF_NAMESIZE bytes, as if_indextoname requires.
            let p = unsafe { libc::if_indextoname(index, raw.as_mut_ptr()) };
            let mut buf = [0u8; 16];
            if p.is_null() {
                buf[0] = b'?';
                return (buf, 1);
            }
            let mut n = 0;
            while n < 16 && raw[n] != 0 {
                buf[n] = raw[n] as u8;
                n += 1;
            }
            (buf, n)
        });
        &buf[..*len]
    }
}

/// Dispatch on the frame's link type (tcpdump's if_printer table).
pub(crate) fn print_link(
    nd: &mut Nd<'_>,
    seq: &mut SeqTable,
    st: &mut LinkState,
    frame: &Frame<'_>,
) -> R {
    let len = frame.len as usize;
    let caplen = frame.caplen as usize;
    match LinkType::from_u32(frame.linktype) {
        LinkType::Ethernet => {
            nd.proto = "ether";
            let h = ether(nd, seq, len, caplen)?;
            nd.ll_hdr_len += h;
            Ok(())
        }
        LinkType::Null => null(nd, seq, len, caplen, false),
        LinkType::Loop => null(nd, seq, len, caplen, true),
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => {
            nd.proto = "raw";
            if nd.opts.eflag {
                nd.s("ip: ");
            }
            ip::ipn_print(nd, seq, 0, len)
        }
        LinkType::LinuxSll => sll(nd, seq, len, caplen),
        LinkType::LinuxSll2 => sll2(nd, seq, st, len, caplen),
        LinkType::Unknown(v) => {
            nd.s("[unsupported link type ");
            nd.dec(v as u64);
            nd.ch(b']');
            Ok(())
        }
    }
}

/// ether_print; returns the link header length.
fn ether(nd: &mut Nd<'_>, seq: &mut SeqTable, mut length: usize, mut caplen: usize) -> R<usize> {
    if length < caplen {
        nd.s("[length ");
        nd.dec(length as u64);
        nd.s(" < caplen ");
        nd.dec(caplen as u64);
        nd.ch(b']');
        nd.print_invalid();
        return Ok(length);
    }
    if caplen < 14 {
        nd.print_trunc();
        return Ok(caplen);
    }
    let orig_length = length;
    length -= 12;
    caplen -= 12;
    let mut p = 12;
    let mut hdrlen = 12;
    if nd.opts.eflag {
        addresses(nd)?;
    }
    let mut length_type = nd.be2(p)?;
    length -= 2;
    caplen -= 2;
    p += 2;
    hdrlen += 2;
    let mut printed_length = false;
    while is_vlan(length_type) {
        if caplen < 4 || length < 4 {
            nd.proto = "vlan";
            nd.print_trunc();
            return Ok(hdrlen + caplen.min(length));
        }
        if nd.opts.eflag {
            let tag = nd.be2(p)?;
            type_print(nd, length_type);
            if !printed_length {
                nd.s(", length ");
                nd.dec(orig_length as u64);
                nd.s(": ");
                printed_length = true;
            } else {
                nd.s(", ");
            }
            nd.vlan_tci(tag);
        }
        length_type = nd.be2(p + 2)?;
        p += 4;
        length -= 4;
        caplen -= 4;
        hdrlen += 4;
    }
    if length_type <= MAX_LENGTH_VALUE {
        // 802.3 with an LLC header: tcpscope does not decode LLC.
        if (length_type as usize) < length {
            length = length_type as usize;
            caplen = caplen.min(length);
        }
        if nd.opts.eflag {
            nd.s("802.3");
            if !printed_length {
                nd.s(", length ");
                nd.dec(length as u64);
                nd.s(": ");
            }
        }
        nd.s("LLC");
        if !nd.opts.suppress_default_print() {
            default_print(nd, p, caplen)?;
        }
        return Ok(hdrlen);
    }
    if nd.opts.eflag {
        type_print(nd, length_type);
        if !printed_length {
            nd.s(", length ");
            nd.dec(orig_length as u64);
            nd.s(": ");
        } else {
            nd.s(", ");
        }
    }
    if !ethertype_print(nd, seq, length_type, p, length, caplen)? {
        if !nd.opts.eflag {
            addresses(nd)?;
            type_print(nd, length_type);
            nd.s(", length ");
            nd.dec(orig_length as u64);
            nd.s(": ");
        }
        if !nd.opts.suppress_default_print() {
            default_print(nd, p, caplen)?;
        }
    }
    Ok(hdrlen)
}

fn addresses(nd: &mut Nd<'_>) -> R {
    nd.etheraddr(6)?;
    nd.s(" > ");
    nd.etheraddr(0)?;
    nd.s(", ");
    Ok(())
}

fn type_print(nd: &mut Nd<'_>, t: u16) {
    if nd.opts.qflag == 0 {
        nd.s("ethertype ");
        nd.s(ethertype_name(t).unwrap_or("Unknown"));
        nd.s(" (0x");
        nd.hex(t as u64, 4);
        nd.ch(b')');
    } else {
        match ethertype_name(t) {
            Some(n) => nd.s(n),
            None => {
                nd.s("Unknown Ethertype (0x");
                nd.hex(t as u64, 4);
                nd.ch(b')');
            }
        }
    }
}

/// Print the network layer for an EtherType; false if it is not one we decode.
fn ethertype_print(
    nd: &mut Nd<'_>,
    seq: &mut SeqTable,
    t: u16,
    p: usize,
    length: usize,
    caplen: usize,
) -> R<bool> {
    match t {
        ethertype::IPV4 => ip::ip_print(nd, seq, p, length).map(|_| true),
        ethertype::IPV6 => ip6::ip6_print(nd, seq, p, length).map(|_| true),
        ethertype::ARP | ethertype::REVARP => {
            app::arp::arp_print(nd, p, length, caplen).map(|_| true)
        }
        _ => Ok(false),
    }
}

/// DLT_NULL and DLT_LOOP: a 4-byte address family, host or network order.
fn null(
    nd: &mut Nd<'_>,
    seq: &mut SeqTable,
    length: usize,
    caplen: usize,
    _network_order: bool,
) -> R {
    nd.proto = "null";
    nd.tcheck(0, 4)?;
    nd.ll_hdr_len += 4;
    // tcpdump reads the field in the reading host's order for both link
    // types and swaps it when the upper half is set; the result is the same
    // for every AF value that fits in 16 bits.
    let family = tcpscope_wire::link::null_family(nd.pkt, false).ok_or(Trunc)?;
    if nd.opts.eflag {
        null_header(nd, family, length);
    }
    let (length, caplen) = (length - 4, caplen - 4);
    match family {
        bsd_af::INET => ip::ip_print(nd, seq, 4, length),
        bsd_af::INET6_BSD | bsd_af::INET6_FREEBSD | bsd_af::INET6_DARWIN => {
            ip6::ip6_print(nd, seq, 4, length)
        }
        _ => {
            if !nd.opts.eflag {
                null_header(nd, family, length + 4);
            }
            if !nd.opts.suppress_default_print() {
                default_print(nd, 4, caplen)?;
            }
            Ok(())
        }
    }
}

fn null_header(nd: &mut Nd<'_>, family: u32, length: usize) {
    let name = match family {
        bsd_af::INET => Some("IPv4"),
        6 => Some("NS"),
        bsd_af::ISO => Some("ISO"),
        bsd_af::APPLETALK => Some("Appletalk"),
        bsd_af::IPX => Some("IPX"),
        bsd_af::INET6_BSD | bsd_af::INET6_FREEBSD | bsd_af::INET6_DARWIN => Some("IPv6"),
        _ => None,
    };
    if nd.opts.qflag == 0 {
        nd.s("AF ");
        nd.s(name.unwrap_or("Unknown"));
        nd.s(" (");
        nd.dec(family as u64);
        nd.ch(b')');
    } else {
        match name {
            Some(n) => nd.s(n),
            None => {
                nd.s("Unknown AF ");
                nd.dec(family as u64);
            }
        }
    }
    nd.s(", length ");
    nd.dec(length as u64);
    nd.s(": ");
}

fn pkttype_name(t: u16) -> Option<&'static str> {
    Some(match t {
        0 => "In",
        1 => "B",
        2 => "M",
        3 => "P",
        4 => "Out",
        _ => return None,
    })
}

/// sll_print / sll2_print's shared tail: address, protocol, length.
fn cooked_proto(nd: &mut Nd<'_>, proto: u16, length: usize) {
    if nd.opts.qflag != 0 {
        return;
    }
    if proto <= MAX_LENGTH_VALUE {
        match proto {
            1 => nd.s("802.3"),
            4 => nd.s("802.2"),
            _ => {
                nd.s("ethertype Unknown (0x");
                nd.hex(proto as u64, 4);
                nd.ch(b')');
            }
        }
    } else {
        nd.s("ethertype ");
        nd.s(ethertype_name(proto).unwrap_or("Unknown"));
        nd.s(" (0x");
        nd.hex(proto as u64, 4);
        nd.ch(b')');
    }
    nd.s(", length ");
    nd.dec(length as u64);
    nd.s(": ");
}

fn sll_header(nd: &mut Nd<'_>, length: usize) -> R {
    nd.proto = "sll";
    let t = nd.be2(0)?;
    let name = pkttype_name(t).unwrap_or("?");
    for _ in name.len()..3 {
        nd.ch(b' ');
    }
    nd.s(name);
    nd.ch(b' ');
    if nd.be2(4)? == 6 {
        nd.etheraddr(6)?;
        nd.ch(b' ');
    }
    let proto = nd.be2(14)?;
    cooked_proto(nd, proto, length);
    Ok(())
}

fn sll(nd: &mut Nd<'_>, seq: &mut SeqTable, length: usize, caplen: usize) -> R {
    nd.proto = "sll";
    nd.tcheck(0, SLL_HEADER_LEN)?;
    if nd.opts.eflag {
        sll_header(nd, length)?;
    }
    let proto = nd.be2(14)?;
    cooked_payload(nd, seq, proto, SLL_HEADER_LEN, length, caplen, false)
}

fn sll2_header(nd: &mut Nd<'_>, length: usize) -> R {
    nd.proto = "sll2";
    nd.s("ifindex ");
    nd.dec(nd.be4(4)? as u64);
    nd.ch(b' ');
    if nd.u1(11)? == 6 {
        nd.etheraddr(12)?;
        nd.ch(b' ');
    }
    let proto = nd.be2(0)?;
    cooked_proto(nd, proto, length);
    Ok(())
}

fn sll2(
    nd: &mut Nd<'_>,
    seq: &mut SeqTable,
    st: &mut LinkState,
    length: usize,
    caplen: usize,
) -> R {
    nd.proto = "sll2";
    nd.tcheck(0, SLL2_HEADER_LEN)?;
    let name = st.ifname(nd.be4(4)?);
    nd.out.extend_from_slice(name);
    for _ in name.len()..5 {
        nd.ch(b' ');
    }
    nd.ch(b' ');
    let t = nd.u1(10)? as u16;
    let pk = pkttype_name(t).unwrap_or("?");
    nd.s(pk);
    for _ in pk.len()..3 {
        nd.ch(b' ');
    }
    nd.ch(b' ');
    if nd.opts.eflag {
        sll2_header(nd, length)?;
    }
    let proto = nd.be2(0)?;
    cooked_payload(nd, seq, proto, SLL2_HEADER_LEN, length, caplen, true)
}

/// The part of sll_if_print / sll2_if_print after the header.
fn cooked_payload(
    nd: &mut Nd<'_>,
    seq: &mut SeqTable,
    mut proto: u16,
    header_len: usize,
    length: usize,
    caplen: usize,
    v2: bool,
) -> R {
    let mut p = header_len;
    let mut length = length - header_len;
    let mut caplen = caplen - header_len;
    let mut hdrlen = header_len;
    loop {
        if proto <= MAX_LENGTH_VALUE {
            if !nd.opts.suppress_default_print() {
                default_print(nd, p, caplen)?;
            }
            break;
        } else if proto == ethertype::VLAN {
            if caplen < 4 {
                nd.proto = "vlan";
                nd.print_trunc();
                nd.ll_hdr_len += hdrlen + caplen;
                return Ok(());
            }
            if nd.opts.eflag {
                let tag = nd.be2(p)?;
                nd.vlan_tci(tag);
            }
            proto = nd.be2(p + 2)?;
            if proto <= MAX_LENGTH_VALUE {
                proto = 4;
            }
            if nd.opts.qflag == 0 {
                nd.s("ethertype ");
                nd.s(ethertype_name(proto).unwrap_or("Unknown"));
                nd.s(", ");
            }
            p += 4;
            length -= 4.min(length);
            caplen -= 4;
            hdrlen += 4;
            continue;
        } else {
            if !ethertype_print(nd, seq, proto, p, length, caplen)? {
                if !nd.opts.eflag {
                    if v2 {
                        sll2_header(nd, length + header_len)?;
                    } else {
                        sll_header(nd, length + header_len)?;
                    }
                }
                if !nd.opts.suppress_default_print() {
                    default_print(nd, p, caplen)?;
                }
            }
            break;
        }
    }
    nd.ll_hdr_len += hdrlen;
    Ok(())
}

/// tcpdump's ethertype_values names.
pub(crate) fn ethertype_name(t: u16) -> Option<&'static str> {
    Some(match t {
        0x0800 => "IPv4",
        0x8847 => "MPLS unicast",
        0x8848 => "MPLS multicast",
        0x86dd => "IPv6",
        0x8100 => "802.1Q",
        0x9100 => "802.1Q-9100",
        0x88a8 => "802.1Q-QinQ",
        0x9200 => "802.1Q-9200",
        0x88e5 => "802.1AE MACsec",
        0x0200 => "PUP",
        0x0806 => "ARP",
        0x8035 => "Reverse ARP",
        0x0600 => "NS",
        0x0500 => "Sprite",
        0x1000 => "Trail",
        0x6001 => "MOP DL",
        0x6002 => "MOP RC",
        0x6003 => "DN",
        0x6004 => "LAT",
        0x6007 => "SCA",
        0x6558 => "TEB",
        0x8038 => "Lanbridge",
        0x803c => "DEC DNS",
        0x803e => "DEC DTS",
        0x805b => "VEXP",
        0x805c => "VPROD",
        0x809b => "Appletalk",
        0x80f3 => "Appletalk ARP",
        0x8137 => "IPX",
        0x880b => "PPP",
        0x8808 => "MPCP",
        0x8809 => "Slow Protocols",
        0x8863 => "PPPoE D",
        0x8864 => "PPPoE S",
        0x888e => "EAPOL",
        0x8899 => "Realtek protocols",
        0x886f => "MS NLB heartbeat",
        0x8870 => "Jumbo",
        0x894f => "NSH",
        0x9000 => "Loopback",
        0xfefe => "OSI",
        0x00fe => "GRE-OSI",
        0xabcd => "CFM (old)",
        0x8902 => "CFM",
        0x893a => "IEEE1905.1",
        0x88cc => "LLDP",
        0x88ca => "TIPC",
        0x0707 => "GeoNet (old)",
        0x8947 => "GeoNet",
        0x1111 => "CALM FAST",
        0x88a2 => "AoE",
        0x88f7 => "PTP",
        0xd28b => "Arista Vendor Specific Protocol",
        _ => return None,
    })
}

//! IPv4 (tcpdump's print-ip.c) and the protocol demux shared with IPv6.

use tcpscope_wire::bytes::internet_checksum;
use tcpscope_wire::ip::{proto, proto_name};
use tcpscope_wire::ipv4::{DF, MF, OFFSET_MASK, RESERVED};

use crate::nd::{Nd, Trunc, R};
use crate::tcp::SeqTable;
use crate::{app, ip6, tcp};

/// ipN_print: dispatch on the version nibble (raw IP link types).
pub(crate) fn ipn_print(nd: &mut Nd<'_>, seq: &mut SeqTable, off: usize, length: usize) -> R {
    nd.proto = "ipn";
    if length < 1 {
        nd.s("truncated-ip ");
        nd.dec(length as u64);
        return Ok(());
    }
    match nd.u1(off)? & 0xf0 {
        0x40 => ip_print(nd, seq, off, length),
        0x60 => ip6::ip6_print(nd, seq, off, length),
        v => {
            nd.s("unknown ip ");
            nd.dec((v >> 4) as u64);
            Ok(())
        }
    }
}

/// ip_print.
pub(crate) fn ip_print(nd: &mut Nd<'_>, seq: &mut SeqTable, ip: usize, length: usize) -> R {
    nd.proto = "ip";
    let ver = nd.u1(ip)? >> 4;
    if ver != 4 {
        if ver == 6 {
            nd.s("IP6, wrong link-layer encapsulation");
        } else {
            nd.s("IP");
            nd.dec(ver as u64);
        }
        nd.print_invalid();
        return Ok(());
    }
    if !nd.opts.eflag {
        nd.s("IP ");
    }
    nd.tcheck(ip, 20)?;
    if length < 20 {
        nd.s("truncated-ip ");
        nd.dec(length as u64);
        return Ok(());
    }
    let hlen = (nd.u1(ip)? & 0x0f) as usize * 4;
    if hlen < 20 {
        nd.s("bad-hlen ");
        nd.dec(hlen as u64);
        return Ok(());
    }
    let mut len = nd.be2(ip + 2)? as usize;
    if length < len {
        nd.s("truncated-ip - ");
        nd.dec((len - length) as u64);
        nd.s(" bytes missing! ");
    }
    if len < hlen {
        nd.s("bad-len ");
        nd.dec(len as u64);
        return Ok(());
    }
    nd.push_snaplen(ip, len);
    len -= hlen;
    let off = nd.be2(ip + 6)?;
    let ip_proto = nd.u1(ip + 9)?;

    if nd.opts.vflag > 0 {
        let tos = nd.u1(ip + 1)?;
        nd.s("(tos 0x");
        nd.hex(tos as u64, 0);
        match tos & 3 {
            1 => nd.s(",ECT(1)"),
            2 => nd.s(",ECT(0)"),
            3 => nd.s(",CE"),
            _ => {}
        }
        let ttl = nd.u1(ip + 8)?;
        if ttl >= 1 {
            nd.s(", ttl ");
            nd.dec(ttl as u64);
        }
        nd.s(", id ");
        nd.dec(nd.be2(ip + 4)? as u64);
        nd.s(", offset ");
        nd.dec(((off & OFFSET_MASK) as u64) * 8);
        nd.s(", flags [");
        nd.bit_names(off, &[(MF, "+"), (DF, "DF"), (RESERVED, "rsvd")]);
        nd.s("], proto ");
        nd.s(proto_name(ip_proto).unwrap_or("unknown"));
        nd.s(" (");
        nd.dec(ip_proto as u64);
        nd.s("), length ");
        nd.dec(nd.be2(ip + 2)? as u64);
        let mut truncated = false;
        if hlen > 20 {
            nd.s(", options (");
            if ip_optprint(nd, ip + 20, hlen - 20).is_err() {
                nd.s(" [truncated-option]");
                truncated = true;
            }
            nd.ch(b')');
        }
        if !nd.opts.no_checksum && ip + hlen <= nd.snapend {
            let sum = internet_checksum(&[&nd.pkt[ip..ip + hlen]]);
            if sum != 0 {
                let ip_sum = nd.be2(ip + 10)?;
                nd.s(", bad cksum ");
                nd.hex(ip_sum as u64, 0);
                nd.s(" (->");
                nd.hex(cksum_shouldbe(ip_sum, sum) as u64, 0);
                nd.s(")!");
            }
        }
        nd.s(")\n    ");
        if truncated {
            nd.ipaddr(ip + 12)?;
            nd.s(" > ");
            nd.ipaddr(ip + 16)?;
            nd.s(": ");
            nd.print_trunc();
            nd.pop_snaplen();
            return Ok(());
        }
    }

    if off & OFFSET_MASK == 0 {
        let nh = ip_proto;
        if nh != proto::TCP && nh != proto::UDP && nh != proto::SCTP && nh != proto::DCCP {
            nd.ipaddr(ip + 12)?;
            nd.s(" > ");
            nd.ipaddr(ip + 16)?;
            nd.s(": ");
        }
        if !nd.ttest(ip, hlen) {
            nd.s(" [remaining caplen(");
            nd.dec(nd.avail(ip) as u64);
            nd.s(") < header length(");
            nd.dec(hlen as u64);
            nd.s(")]");
            return Err(Trunc);
        }
        demux(nd, seq, ip + hlen, len, 4, off & MF != 0, nh, ip)?;
    } else {
        if nd.opts.qflag > 1 {
            nd.pop_snaplen();
            return Ok(());
        }
        nd.ipaddr(ip + 12)?;
        nd.s(" > ");
        nd.ipaddr(ip + 16)?;
        nd.s(": ip-proto-");
        nd.dec(ip_proto as u64);
    }
    nd.pop_snaplen();
    Ok(())
}

/// in_cksum_shouldbe: the checksum field value that would have been right.
pub(crate) fn cksum_shouldbe(sum: u16, computed: u16) -> u16 {
    let mut s = sum as u32 + computed as u32;
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s as u16
}

/// ip_optprint; Err means an option ran past the captured data.
fn ip_optprint(nd: &mut Nd<'_>, mut cp: usize, mut length: usize) -> R {
    let mut sep = "";
    while length > 0 {
        nd.s(sep);
        sep = ",";
        let code = nd.u1(cp)?;
        match code {
            0 => nd.s("EOL"),
            1 => nd.s("NOP"),
            68 => nd.s("timestamp"),
            130 => nd.s("security"),
            7 => nd.s("RR"),
            137 => nd.s("SSRR"),
            131 => nd.s("LSRR"),
            148 => nd.s("RA"),
            82 => nd.s("traceroute"),
            _ => {
                nd.s("unknown ");
                nd.dec(code as u64);
            }
        }
        let option_len = if code == 0 || code == 1 {
            1
        } else {
            let l = nd.u1(cp + 1)? as usize;
            if l < 2 {
                nd.s(" [bad length ");
                nd.dec(l as u64);
                nd.ch(b']');
                return Ok(());
            }
            l
        };
        if option_len > length {
            nd.s(" [bad length ");
            nd.dec(option_len as u64);
            nd.ch(b']');
            return Ok(());
        }
        nd.tcheck(cp, option_len)?;
        match code {
            0 => return Ok(()),
            68 => ip_printts(nd, cp, option_len)?,
            7 | 137 | 131 => ip_printroute(nd, cp, option_len)?,
            148 => {
                if option_len < 4 {
                    nd.s(" [bad length ");
                    nd.dec(option_len as u64);
                    nd.ch(b']');
                } else {
                    nd.tcheck(cp + 3, 1)?;
                    let v = nd.be2(cp + 2)?;
                    if v != 0 {
                        nd.s(" value ");
                        nd.dec(v as u64);
                    }
                }
            }
            _ => {}
        }
        cp += option_len;
        length -= option_len;
    }
    Ok(())
}

fn ip_printroute(nd: &mut Nd<'_>, cp: usize, length: usize) -> R {
    if length < 3 {
        nd.s(" [bad length ");
        nd.dec(length as u64);
        nd.ch(b']');
        return Ok(());
    }
    if (length + 1) & 3 != 0 {
        nd.s(" [bad length ");
        nd.dec(length as u64);
        nd.ch(b']');
    }
    let raw_ptr = nd.u1(cp + 2)?;
    let ptr = (raw_ptr as i64) - 1;
    if ptr < 3 || ((ptr + 1) & 3) != 0 || ptr > length as i64 + 1 {
        nd.s(" [bad ptr ");
        nd.dec(raw_ptr as u64);
        nd.ch(b']');
    }
    let mut len = 3;
    while len < length {
        nd.tcheck(cp + len, 4)?;
        nd.ch(b' ');
        nd.ipaddr(cp + len)?;
        if ptr > len as i64 {
            nd.ch(b',');
        }
        len += 4;
    }
    Ok(())
}

fn ip_printts(nd: &mut Nd<'_>, cp: usize, length: usize) -> R {
    if length < 4 {
        nd.s("[bad length ");
        nd.dec(length as u64);
        nd.ch(b']');
        return Ok(());
    }
    nd.s(" TS{");
    let flags = nd.u1(cp + 3)?;
    let hoplen = if flags & 0xf != 0 { 8 } else { 4 };
    if (length - 4) & (hoplen - 1) != 0 {
        nd.s("[bad length ");
        nd.dec(length as u64);
        nd.ch(b']');
    }
    let raw_ptr = nd.u1(cp + 2)?;
    let ptr = (raw_ptr as i64) - 1;
    let mut len = 0usize;
    if ptr < 4 || ((ptr - 4) & (hoplen as i64 - 1)) != 0 || ptr > length as i64 + 1 {
        nd.s("[bad ptr ");
        nd.dec(raw_ptr as u64);
        nd.ch(b']');
    }
    let kind = flags & 0xf;
    let known = match kind {
        0 => {
            nd.s("TSONLY");
            true
        }
        1 => {
            nd.s("TS+ADDR");
            true
        }
        3 => {
            nd.s("PRESPEC");
            true
        }
        _ => {
            nd.s("[bad ts type ");
            nd.dec(kind as u64);
            nd.ch(b']');
            false
        }
    };
    if known {
        let mut ty = " ";
        len = 4;
        while len < length {
            if ptr == len as i64 {
                ty = " ^ ";
            }
            nd.tcheck(cp + len, hoplen)?;
            nd.s(ty);
            nd.dec(nd.be4(cp + len + hoplen - 4)? as u64);
            nd.ch(b'@');
            if hoplen == 8 {
                nd.ipaddr(cp + len)?;
            }
            ty = " ";
            len += hoplen;
        }
    }
    if ptr == len as i64 {
        nd.s(" ^ ");
    }
    if flags >> 4 != 0 {
        nd.s(" [");
        nd.dec((flags >> 4) as u64);
        nd.s(" hops not recorded]} ");
    } else {
        nd.ch(b'}');
    }
    Ok(())
}

/// ip_demux_print: the payload of an IPv4 or IPv6 packet.
#[allow(clippy::too_many_arguments)]
pub(crate) fn demux(
    nd: &mut Nd<'_>,
    seq: &mut SeqTable,
    mut bp: usize,
    mut length: usize,
    ver: u8,
    fragmented: bool,
    mut nh: u8,
    iph: usize,
) -> R {
    loop {
        match nh {
            proto::AH => {
                if !nd.ttest(bp, 1) {
                    nd.proto = "ah";
                    nd.print_trunc();
                    return Ok(());
                }
                nh = nd.u1(bp)?;
                let advance = ip6::ah_print(nd, bp)?;
                if advance == 0 {
                    return Ok(());
                }
                bp += advance;
                length = length.saturating_sub(advance);
                continue;
            }
            proto::TCP => return tcp::tcp_print(nd, seq, bp, length, iph, fragmented),
            proto::UDP => return app::udp::udp_print(nd, bp, length, iph, fragmented),
            proto::ICMP if ver == 4 => return app::icmp::icmp_print(nd, bp, length),
            proto::ICMPV6 if ver == 6 => return app::icmp::icmp6_print(nd, bp, length),
            proto::ICMP | proto::ICMPV6 | proto::IGMP => {
                nd.ch(b'[');
                nd.s(proto_name(nh).unwrap_or("unknown"));
                nd.s(if nh == proto::ICMPV6 {
                    " requires IPv6]"
                } else {
                    " requires IPv4]"
                });
                nd.print_invalid();
                return Ok(());
            }
            proto::GRE => return app::gre::gre_print(nd, bp, length),
            proto::IPV4 => return ip_print(nd, seq, bp, length),
            proto::IPV6 => return ip6::ip6_print(nd, seq, bp, length),
            proto::NONE => {
                nd.s("no next header");
                return Ok(());
            }
            77 => {
                nd.s(" nd ");
                nd.dec(length as u64);
                return Ok(());
            }
            _ => {
                nd.s(" ip-proto-");
                nd.dec(nh as u64);
                nd.ch(b' ');
                nd.dec(length as u64);
                return Ok(());
            }
        }
    }
}

//! TCP (tcpdump's print-tcp.c): ports, flags, relative sequence numbers,
//! checksum verdict, every option kind, and the hand-off to application
//! printers by port.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use tcpscope_wire::hash::FastHasher;

use tcpscope_wire::bytes::internet_checksum;
use tcpscope_wire::ip::proto;
use tcpscope_wire::tcp::flags::{ACK, FIN, RST, SYN, URG};
use tcpscope_wire::tcp::kind;

use crate::app;
use crate::ip::cksum_shouldbe;
use crate::ip6::nextproto6_cksum;
use crate::mptcp::mptcp_print;
use crate::nd::{Nd, Trunc, R};
use crate::PacketType;

/// A conversation as tcpdump keys it: addresses and ports in a canonical
/// order, so both directions share one entry.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct ConvKey {
    src: [u8; 16],
    dst: [u8; 16],
    ports: u32,
    v6: bool,
}

/// The sequence bases of `-n` output: per conversation, the first sequence
/// and acknowledgment numbers seen (tcpdump's tcp_seq_hash). One entry per
/// conversation, kept for the whole run as tcpdump keeps it.
#[derive(Default)]
pub(crate) struct SeqTable {
    map: HashMap<ConvKey, (u32, u32), BuildHasherDefault<FastHasher>>,
}

const MAX_RST_DATA_LEN: usize = 30;

/// tcp_print. `bp` is the TCP header, `length` the TCP length from the IP
/// layer, `iph` the IP header.
pub(crate) fn tcp_print(
    nd: &mut Nd<'_>,
    seqt: &mut SeqTable,
    bp: usize,
    length: usize,
    iph: usize,
    fragmented: bool,
) -> R {
    nd.proto = "tcp";
    let v6 = nd.u1(iph)? >> 4 == 6;
    if !nd.ttest(bp + 2, 2) {
        if v6 {
            nd.ip6addr(iph + 8)?;
            nd.s(" > ");
            nd.ip6addr(iph + 24)?;
        } else {
            nd.ipaddr(iph + 12)?;
            nd.s(" > ");
            nd.ipaddr(iph + 16)?;
        }
        nd.ch(b':');
        nd.print_trunc();
        return Ok(());
    }
    let sport = nd.be2(bp)?;
    let dport = nd.be2(bp + 2)?;
    let direct = if v6 { nd.u1(iph + 6)? } else { nd.u1(iph + 9)? } == proto::TCP;
    if direct {
        if v6 {
            nd.ip6addr(iph + 8)?;
        } else {
            nd.ipaddr(iph + 12)?;
        }
        nd.ch(b'.');
        nd.dec(sport as u64);
        nd.s(" > ");
        if v6 {
            nd.ip6addr(iph + 24)?;
        } else {
            nd.ipaddr(iph + 16)?;
        }
        nd.ch(b'.');
        nd.dec(dport as u64);
        nd.s(": ");
    } else {
        nd.dec(sport as u64);
        nd.s(" > ");
        nd.dec(dport as u64);
        nd.s(": ");
    }
    if !nd.ttest(bp, 20) {
        nd.print_trunc();
        return Ok(());
    }
    let length32 = length as u32;
    let mut hlen = (nd.u1(bp + 12)? >> 4) as usize * 4;
    if hlen < 20 {
        nd.s(" tcp ");
        nd.dec(length32.wrapping_sub(hlen as u32) as u64);
        nd.s(" [bad hdr length ");
        nd.dec(hlen as u64);
        nd.s(" - too short, < 20]");
        return Ok(());
    }
    let mut seq = nd.be4(bp + 4)?;
    let mut ack = nd.be4(bp + 8)?;
    let win = nd.be2(bp + 14)?;
    let urp = nd.be2(bp + 18)?;
    if nd.opts.qflag > 0 {
        nd.s("tcp ");
        nd.dec(length32.wrapping_sub(hlen as u32) as u64);
        if hlen > length {
            nd.s(" [bad hdr length ");
            nd.dec(hlen as u64);
            nd.s(" - too long, > ");
            nd.dec(length as u64);
            nd.ch(b']');
        }
        return Ok(());
    }
    let flags = nd.u1(bp + 13)?;
    nd.s("Flags [");
    if flags == 0 {
        nd.s("none");
    }
    for (bit, letter, _) in tcpscope_wire::tcp::flags::TABLE {
        if flags & bit != 0 {
            nd.ch(letter);
        }
    }
    nd.ch(b']');

    let (mut thseq, mut thack, mut rev) = (0u32, 0u32, false);
    if !nd.opts.absolute_seq && flags & ACK != 0 {
        let alen = if v6 { 16 } else { 4 };
        let (sa, da) = if v6 {
            (iph + 8, iph + 24)
        } else {
            (iph + 12, iph + 16)
        };
        let src = nd.bytes(sa, alen)?;
        let dst = nd.bytes(da, alen)?;
        rev = sport > dport || (sport == dport && src > dst);
        let mut key = ConvKey {
            src: [0; 16],
            dst: [0; 16],
            ports: 0,
            v6,
        };
        if rev {
            key.src[..alen].copy_from_slice(dst);
            key.dst[..alen].copy_from_slice(src);
            key.ports = (dport as u32) << 16 | sport as u32;
        } else {
            key.src[..alen].copy_from_slice(src);
            key.dst[..alen].copy_from_slice(dst);
            key.ports = (sport as u32) << 16 | dport as u32;
        }
        let entry = seqt.map.get(&key).copied();
        let (tseq, tack) = match entry {
            Some(e) if flags & SYN == 0 => {
                if rev {
                    seq = seq.wrapping_sub(e.1);
                    ack = ack.wrapping_sub(e.0);
                } else {
                    seq = seq.wrapping_sub(e.0);
                    ack = ack.wrapping_sub(e.1);
                }
                e
            }
            _ => {
                let e = if rev {
                    (ack.wrapping_sub(1), seq)
                } else {
                    (seq, ack.wrapping_sub(1))
                };
                seqt.map.insert(key, e);
                e
            }
        };
        thseq = tseq;
        thack = tack;
    }
    if hlen > length {
        nd.s(" [bad hdr length ");
        nd.dec(hlen as u64);
        nd.s(" - too long, > ");
        nd.dec(length as u64);
        nd.ch(b']');
        return Ok(());
    }

    if nd.opts.vflag > 0 && !nd.opts.no_checksum && !fragmented && nd.ttest(bp, length) {
        let sum = if v6 {
            nextproto6_cksum(nd, iph, bp, length, proto::TCP)?
        } else {
            nextproto4_cksum(nd, iph, bp, length)?
        };
        let tcp_sum = nd.be2(bp + 16)?;
        nd.s(", cksum 0x");
        nd.hex(tcp_sum as u64, 4);
        if sum != 0 {
            nd.s(" (incorrect -> 0x");
            nd.hex(cksum_shouldbe(tcp_sum, sum) as u64, 4);
            nd.ch(b')');
        } else {
            nd.s(" (correct)");
        }
    }

    let length = length - hlen;
    let length32 = length as u32;
    if nd.opts.vflag > 1 || length > 0 || flags & (SYN | FIN | RST) != 0 {
        nd.s(", seq ");
        nd.dec(seq as u64);
        if length > 0 {
            nd.ch(b':');
            nd.dec(seq.wrapping_add(length32) as u64);
        }
    }
    if flags & ACK != 0 {
        nd.s(", ack ");
        nd.dec(ack as u64);
    }
    nd.s(", win ");
    nd.dec(win as u64);
    if flags & URG != 0 {
        nd.s(", urg ");
        nd.dec(urp as u64);
    }

    if hlen > 20 {
        match options(nd, bp, hlen - 20, flags, length, rev, thseq, thack, iph)? {
            OptEnd::Done => {}
            OptEnd::Bad { after_first } => {
                nd.s("[bad opt]");
                if after_first {
                    nd.ch(b']');
                }
                return Ok(());
            }
            OptEnd::Trunc { after_first } => {
                nd.print_trunc();
                if after_first {
                    nd.ch(b'>');
                }
                return Ok(());
            }
        }
        hlen = (nd.u1(bp + 12)? >> 4) as usize * 4;
    }

    nd.s(", length ");
    nd.dec(length as u64);
    if length == 0 {
        return Ok(());
    }
    if !nd.ttest(bp, hlen) {
        nd.s(" [remaining caplen(");
        nd.dec(nd.avail(bp) as u64);
        nd.s(") < header length(");
        nd.dec(hlen as u64);
        nd.s(")]");
        return Err(Trunc);
    }
    let data = bp + hlen;
    if flags & RST != 0 && nd.opts.vflag > 0 {
        return rst_data(nd, data, length);
    }
    if let Some(pt) = nd.opts.packettype {
        return match pt {
            PacketType::Zmtp1 => app::zmtp1_print(nd, data, length),
            PacketType::Resp => app::resp::resp_print(nd, data, length),
            PacketType::Domain => app::domain::domain_print(nd, data, length, true),
        };
    }
    app::tcp_payload(nd, data, length, sport, dport, iph)
}

enum OptEnd {
    Done,
    /// `[bad opt]`; the bracket is closed only if an option was printed before.
    Bad {
        after_first: bool,
    },
    /// A length check ran past the capture inside an option.
    Trunc {
        after_first: bool,
    },
}

#[allow(clippy::too_many_arguments)]
fn options(
    nd: &mut Nd<'_>,
    bp: usize,
    mut hlen: usize,
    flags: u8,
    payload_len: usize,
    rev: bool,
    thseq: u32,
    thack: u32,
    iph: usize,
) -> R<OptEnd> {
    let mut cp = bp + 20;
    let mut sep = false;
    nd.s(", options [");
    while hlen > 0 {
        if sep {
            nd.ch(b',');
        }
        let opt = nd.u1(cp)?;
        cp += 1;
        let zerolen = opt == kind::EOL || opt == kind::NOP;
        let len = if zerolen {
            1
        } else {
            let l = nd.u1(cp)? as usize;
            cp += 1;
            if l < 2 || l > hlen {
                return Ok(OptEnd::Bad { after_first: sep });
            }
            hlen -= 1;
            l
        };
        hlen -= 1;
        let mut datalen = 0usize;
        // LENCHECK(l): the option must have l data bytes in the header and
        // in the capture.
        macro_rules! lencheck {
            ($l:expr) => {{
                let l = $l;
                if l > hlen {
                    return Ok(OptEnd::Bad { after_first: sep });
                }
                if !nd.ttest(cp, l) {
                    return Ok(OptEnd::Trunc { after_first: sep });
                }
            }};
        }
        nd.s(option_name(opt));
        if option_name(opt).is_empty() && !is_known(opt) {
            nd.s("unknown-");
            nd.dec(opt as u64);
        }
        match opt {
            kind::MSS => {
                datalen = 2;
                lencheck!(datalen);
                nd.ch(b' ');
                nd.dec(nd.be2(cp)? as u64);
            }
            kind::WSCALE => {
                datalen = 1;
                lencheck!(datalen);
                nd.ch(b' ');
                nd.dec(nd.u1(cp)? as u64);
            }
            kind::SACK => {
                datalen = len - 2;
                if datalen % 8 != 0 {
                    nd.s(" invalid sack");
                } else {
                    nd.ch(b' ');
                    nd.dec((datalen / 8) as u64);
                    nd.ch(b' ');
                    let mut i = 0;
                    while i < datalen {
                        lencheck!(i + 4);
                        let mut s = nd.be4(cp + i)?;
                        lencheck!(i + 8);
                        let mut e = nd.be4(cp + i + 4)?;
                        if rev {
                            s = s.wrapping_sub(thseq);
                            e = e.wrapping_sub(thseq);
                        } else {
                            s = s.wrapping_sub(thack);
                            e = e.wrapping_sub(thack);
                        }
                        nd.ch(b'{');
                        nd.dec(s as u64);
                        nd.ch(b':');
                        nd.dec(e as u64);
                        nd.ch(b'}');
                        i += 8;
                    }
                }
            }
            kind::CC | kind::CC_NEW | kind::CC_ECHO | kind::ECHO | kind::ECHO_REPLY => {
                datalen = 4;
                lencheck!(datalen);
                nd.ch(b' ');
                nd.dec(nd.be4(cp)? as u64);
            }
            kind::TIMESTAMP => {
                datalen = 8;
                lencheck!(datalen);
                nd.s(" val ");
                nd.dec(nd.be4(cp)? as u64);
                nd.s(" ecr ");
                nd.dec(nd.be4(cp + 4)? as u64);
            }
            kind::MD5 => {
                datalen = 16;
                lencheck!(datalen);
                nd.ch(b' ');
                // tcpdump (built with libcrypto) verifies with -M SECRET;
                // tcpscope has no -M, so it says what tcpdump says without it.
                let data = bp + (nd.u1(bp + 12)? >> 4) as usize * 4;
                if !nd.ttest(data, payload_len) {
                    nd.s("snaplen too short, ");
                } else {
                    nd.s("shared secret not supplied with -M, ");
                }
                nd.s("can't check - ");
                for i in 0..16 {
                    nd.hex(nd.u1(cp + i)? as u64, 2);
                }
            }
            kind::SCPS => {
                datalen = 2;
                lencheck!(datalen);
                nd.s(" cap ");
                nd.hex(nd.u1(cp)? as u64, 2);
                nd.s(" id ");
                nd.dec(nd.u1(cp + 1)? as u64);
            }
            kind::TCP_AO => {
                datalen = len - 2;
                if datalen < 2 {
                    nd.print_invalid();
                } else {
                    lencheck!(1);
                    nd.s(" keyid ");
                    nd.dec(nd.u1(cp)? as u64);
                    lencheck!(2);
                    nd.s(" rnextkeyid ");
                    nd.dec(nd.u1(cp + 1)? as u64);
                    if datalen > 2 {
                        nd.s(" mac 0x");
                        for i in 2..datalen {
                            lencheck!(i + 1);
                            nd.hex(nd.u1(cp + i)? as u64, 2);
                        }
                    }
                }
            }
            kind::EOL | kind::NOP | kind::SACK_OK => {}
            kind::UTO => {
                datalen = 2;
                lencheck!(datalen);
                let raw = nd.be2(cp)? as u32;
                nd.s(" 0x");
                nd.hex(raw as u64, 0);
                let v = if raw & 1 != 0 {
                    (raw >> 1) * 60
                } else {
                    raw >> 1
                };
                nd.ch(b' ');
                nd.dec(v as u64);
            }
            kind::MPTCP => {
                datalen = len - 2;
                lencheck!(datalen);
                let saved = nd.snapend;
                nd.snapend = (cp - 2 + len).min(nd.snapend);
                let r = mptcp_print(nd, cp - 2, len, flags);
                nd.snapend = saved;
                if !r? {
                    return Ok(OptEnd::Bad { after_first: sep });
                }
            }
            kind::FASTOPEN => {
                datalen = len - 2;
                lencheck!(datalen);
                nd.ch(b' ');
                fastopen(nd, cp, datalen, false)?;
            }
            kind::EXPERIMENT2 => {
                datalen = len - 2;
                lencheck!(datalen);
                if datalen < 2 {
                    return Ok(OptEnd::Bad { after_first: sep });
                }
                let magic = nd.be2(cp)?;
                nd.ch(b'-');
                if magic == 0xf989 {
                    fastopen(nd, cp + 2, datalen - 2, true)?;
                } else {
                    nd.hex(magic as u64, 4);
                }
            }
            _ => {
                datalen = len - 2;
                if datalen > 0 {
                    nd.s(" 0x");
                }
                for i in 0..datalen {
                    lencheck!(i + 1);
                    nd.hex(nd.u1(cp + i)? as u64, 2);
                }
            }
        }
        cp += datalen;
        hlen -= datalen;
        let mut consumed = datalen + 1;
        if !zerolen {
            consumed += 1;
        }
        if consumed != len {
            nd.s("[len ");
            nd.dec(len as u64);
            nd.ch(b']');
        }
        sep = true;
        if opt == kind::EOL {
            break;
        }
    }
    nd.ch(b']');
    let _ = iph;
    Ok(OptEnd::Done)
}

fn is_known(opt: u8) -> bool {
    opt == kind::CC_ECHO
}

/// tcpdump's tcp_option_values names ("" for CC.ECHO, as tcpdump has it).
fn option_name(opt: u8) -> &'static str {
    match opt {
        kind::EOL => "eol",
        kind::NOP => "nop",
        kind::MSS => "mss",
        kind::WSCALE => "wscale",
        kind::SACK_OK => "sackOK",
        kind::SACK => "sack",
        kind::ECHO => "echo",
        kind::ECHO_REPLY => "echoreply",
        kind::TIMESTAMP => "TS",
        kind::CC => "cc",
        kind::CC_NEW => "ccnew",
        kind::CC_ECHO => "",
        kind::MD5 => "md5",
        kind::SCPS => "scps",
        kind::UTO => "uto",
        kind::TCP_AO => "tcp-ao",
        kind::MPTCP => "mptcp",
        kind::FASTOPEN => "tfo",
        kind::EXPERIMENT2 => "exp",
        _ => "",
    }
}

fn fastopen(nd: &mut Nd<'_>, cp: usize, datalen: usize, exp: bool) -> R {
    if exp {
        nd.s("tfo");
    }
    if datalen == 0 {
        nd.s(" cookiereq");
    } else if datalen % 2 != 0 || !(4..=16).contains(&datalen) {
        nd.print_invalid();
    } else {
        nd.s(" cookie ");
        for i in 0..datalen {
            nd.hex(nd.u1(cp + i)? as u64, 2);
        }
    }
    Ok(())
}

/// print_tcp_rst_data: up to 30 bytes of an RST's payload (RFC 1122 4.2.2.12).
fn rst_data(nd: &mut Nd<'_>, mut sp: usize, length: usize) -> R {
    nd.s(if nd.ttest(sp, length) {
        " [RST"
    } else {
        " [!RST"
    });
    let mut length = length;
    if length > MAX_RST_DATA_LEN {
        length = MAX_RST_DATA_LEN;
        nd.ch(b'+');
    }
    nd.ch(b' ');
    while length > 0 && sp < nd.snapend {
        let c = nd.u1(sp)?;
        sp += 1;
        nd.print_char(c);
        length -= 1;
    }
    nd.ch(b']');
    Ok(())
}

/// nextproto4_cksum: the pseudo-header uses the final destination of a
/// source route when the header has options.
fn nextproto4_cksum(nd: &Nd<'_>, ip: usize, data: usize, len: usize) -> R<u16> {
    let hl = (nd.u1(ip)? & 0xf) as usize * 4;
    let dst = if hl == 20 {
        ip + 16
    } else {
        ip_finddst(nd, ip, hl)
    };
    let mut ph = [0u8; 12];
    ph[..4].copy_from_slice(nd.bytes(ip + 12, 4)?);
    ph[4..8].copy_from_slice(nd.bytes(dst, 4)?);
    ph[9] = proto::TCP;
    ph[10..12].copy_from_slice(&(len as u16).to_be_bytes());
    Ok(internet_checksum(&[&ph, nd.bytes(data, len)?]))
}

fn ip_finddst(nd: &Nd<'_>, ip: usize, hl: usize) -> usize {
    let mut cp = ip + 20;
    let mut length = hl.saturating_sub(20);
    while length != 0 {
        let Ok(tt) = nd.u1(cp) else { break };
        let len = match tt {
            0 => break,
            1 => 1,
            _ => match nd.u1(cp + 1) {
                Ok(l) if l >= 2 => l as usize,
                _ => break,
            },
        };
        if length < len || !nd.ttest(cp, len) {
            break;
        }
        if (tt == 137 || tt == 131) && len >= 7 {
            return cp + len - 4;
        }
        cp += len;
        length -= len;
    }
    ip + 16
}

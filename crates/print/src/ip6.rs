//! IPv6 and its extension headers (print-ip6.c, print-ip6opts.c,
//! print-frag6.c, print-rt6.c, print-ah.c).

use tcpscope_wire::ip::{proto, proto_name};

use crate::ip;
use crate::nd::{Nd, Trunc, R};
use crate::tcp::SeqTable;

/// ip6_print.
pub(crate) fn ip6_print(nd: &mut Nd<'_>, seq: &mut SeqTable, ip6: usize, length: usize) -> R {
    nd.proto = "ip6";
    nd.tcheck(ip6, 40)?;
    if length < 40 {
        nd.s("truncated-ip6 ");
        nd.dec(length as u64);
        return Ok(());
    }
    if !nd.opts.eflag {
        nd.s("IP6 ");
    }
    let ver = nd.u1(ip6)? >> 4;
    if ver != 6 {
        nd.s("version error: ");
        nd.dec(ver as u64);
        nd.s(" != 6");
        return Ok(());
    }
    let mut payload_len = nd.be2(ip6 + 4)? as u32;
    let mut len = if payload_len != 0 {
        let l = payload_len as usize + 40;
        if length < l {
            nd.s("truncated-ip6 - ");
            nd.dec((l - length) as u64);
            nd.s(" bytes missing!");
        }
        l
    } else {
        length + 40
    };
    let mut ph: u8 = 255;
    let mut nh = nd.u1(ip6 + 6)?;
    if nd.opts.vflag > 0 {
        let flow = nd.be4(ip6)?;
        nd.ch(b'(');
        if flow & 0x0ff0_0000 != 0 {
            nd.s("class 0x");
            nd.hex(((flow & 0x0ff0_0000) >> 20) as u64, 2);
            nd.s(", ");
        }
        if flow & 0x000f_ffff != 0 {
            nd.s("flowlabel 0x");
            nd.hex((flow & 0x000f_ffff) as u64, 5);
            nd.s(", ");
        }
        nd.s("hlim ");
        nd.dec(nd.u1(ip6 + 7)? as u64);
        nd.s(", next-header ");
        nd.s(proto_name(nh).unwrap_or("unknown"));
        nd.s(" (");
        nd.dec(nh as u64);
        nd.s(") payload length: ");
        nd.dec(payload_len as u64);
        nd.s(") ");
    }
    nd.push_snaplen(ip6, len);

    let mut cp = ip6;
    let mut advance: usize = 40;
    let mut total_advance = 0usize;
    let mut found_ext = false;
    let mut found_jumbo = false;
    let mut found_hbh = false;
    let mut fragmented = false;
    while cp < nd.snapend && advance > 0 {
        if len < advance {
            nd.print_trunc();
            return Ok(());
        }
        cp += advance;
        len -= advance;
        total_advance += advance;
        if cp == ip6 + 40
            && nh != proto::TCP
            && nh != proto::UDP
            && nh != proto::DCCP
            && nh != proto::SCTP
        {
            addresses(nd, ip6)?;
            nd.s(": ");
        }
        match nh {
            proto::HOPOPTS => {
                if found_hbh {
                    nd.s("[The Hop-by-Hop Options header was already found]");
                    nd.print_invalid();
                    return Ok(());
                }
                if ph != 255 {
                    nd.s("[The Hop-by-Hop Options header don't follow the IPv6 header]");
                    nd.print_invalid();
                    return Ok(());
                }
                let a = hbhopt_process(nd, cp, &mut found_jumbo, &mut payload_len)?;
                if payload_len == 0 && !found_jumbo {
                    nd.s("[No valid Jumbo Payload Hop-by-Hop option found]");
                    nd.print_invalid();
                    return Ok(());
                }
                let Some(a) = a else {
                    nd.pop_snaplen();
                    return Ok(());
                };
                advance = a;
                found_ext = true;
                found_hbh = true;
                nh = nd.u1(cp)?;
            }
            proto::DSTOPTS => {
                let Some(a) = dstopt_process(nd, cp)? else {
                    nd.pop_snaplen();
                    return Ok(());
                };
                advance = a;
                found_ext = true;
                nh = nd.u1(cp)?;
            }
            proto::FRAGMENT => {
                let a = frag6_print(nd, cp, ip6)?;
                match a {
                    Some(a) if nd.snapend > cp + a => advance = a,
                    _ => {
                        nd.pop_snaplen();
                        return Ok(());
                    }
                }
                found_ext = true;
                nh = nd.u1(cp)?;
                fragmented = true;
            }
            proto::MOBILITY_OLD | proto::MOBILITY => {
                // tcpscope does not decode the mobility header.
                nd.s("MOBILITY");
                nd.pop_snaplen();
                return Ok(());
            }
            proto::ROUTING => {
                nd.tcheck(cp, 1)?;
                let Some(a) = rt6_print(nd, cp, ip6)? else {
                    nd.pop_snaplen();
                    return Ok(());
                };
                advance = a;
                found_ext = true;
                nh = nd.u1(cp)?;
            }
            _ => {
                if found_jumbo {
                    len = payload_len as usize + 40;
                    if len < total_advance {
                        nd.print_trunc();
                        return Ok(());
                    }
                    if length < len {
                        nd.s("truncated-ip6 - ");
                        nd.dec((len - length) as u64);
                        nd.s(" bytes missing!");
                    }
                    nd.change_snaplen(ip6, len);
                    len -= total_advance;
                } else if payload_len == 0 {
                    if found_ext {
                        nd.print_trunc();
                        return Ok(());
                    }
                    len = 40;
                    nd.change_snaplen(ip6, len);
                    len -= total_advance;
                }
                ip::demux(nd, seq, cp, len, 6, fragmented, nh, ip6)?;
                nd.pop_snaplen();
                return Ok(());
            }
        }
        ph = nh;
        nd.proto = "ip6";
    }
    nd.pop_snaplen();
    Ok(())
}

fn addresses(nd: &mut Nd<'_>, ip6: usize) -> R {
    nd.ip6addr(ip6 + 8)?;
    nd.s(" > ");
    nd.ip6addr(ip6 + 24)
}

/// hbhopt_process; `Ok(None)` when the options were cut (already reported).
fn hbhopt_process(
    nd: &mut Nd<'_>,
    bp: usize,
    found_jumbo: &mut bool,
    payload_len: &mut u32,
) -> R<Option<usize>> {
    nd.proto = "hbhopt";
    let hbhlen = (nd.u1(bp + 1)? as usize + 1) << 3;
    if !nd.ttest(bp, hbhlen) {
        nd.print_trunc();
        return Ok(None);
    }
    nd.s("HBH ");
    if opt_process(nd, bp + 2, hbhlen - 2, Some((found_jumbo, payload_len)))?.is_none() {
        nd.print_trunc();
        return Ok(None);
    }
    Ok(Some(hbhlen))
}

fn dstopt_process(nd: &mut Nd<'_>, bp: usize) -> R<Option<usize>> {
    nd.proto = "dstopt";
    let len = (nd.u1(bp + 1)? as usize + 1) << 3;
    if !nd.ttest(bp, len) {
        nd.print_trunc();
        return Ok(None);
    }
    nd.s("DSTOPT ");
    if nd.opts.vflag > 0 && opt_process(nd, bp + 2, len - 2, None)?.is_none() {
        nd.print_trunc();
        return Ok(None);
    }
    Ok(Some(len))
}

/// ip6_opt_process; `Ok(None)` for tcpdump's `goto trunc`.
fn opt_process(
    nd: &mut Nd<'_>,
    bp: usize,
    len: usize,
    mut hbh: Option<(&mut bool, &mut u32)>,
) -> R<Option<()>> {
    if len == 0 {
        return Ok(Some(()));
    }
    let v = nd.opts.vflag > 0;
    let mut found_jumbo = false;
    let mut i = 0usize;
    while i < len {
        let t = nd.u1(bp + i)?;
        let optlen = if t == 0 {
            1
        } else if i + 1 < len {
            nd.u1(bp + i + 1)? as usize + 2
        } else {
            return Ok(None);
        };
        if i + optlen > len {
            return Ok(None);
        }
        match t {
            0 => {
                if v {
                    nd.s("(pad1)");
                }
            }
            1 => {
                if len - i < 2 {
                    nd.s("(padn: trunc)");
                    return Ok(None);
                }
                if v {
                    nd.s("(padn)");
                }
            }
            0x05 => {
                if len - i < 4 {
                    nd.s("(rtalert: trunc)");
                    return Ok(None);
                }
                let l = nd.u1(bp + i + 1)?;
                if l != 2 {
                    nd.s("(rtalert: invalid len ");
                    nd.dec(l as u64);
                    nd.ch(b')');
                    return Ok(None);
                }
                if v {
                    nd.s("(rtalert: 0x");
                    nd.hex(nd.be2(bp + i + 2)? as u64, 4);
                    nd.s(") ");
                }
            }
            0xc2 => {
                if len - i < 6 {
                    nd.s("(jumbo: trunc)");
                    return Ok(None);
                }
                let l = nd.u1(bp + i + 1)?;
                if l != 4 {
                    nd.s("(jumbo: invalid len ");
                    nd.dec(l as u64);
                    nd.ch(b')');
                    return Ok(None);
                }
                let jumbolen = nd.be4(bp + i + 2)?;
                if found_jumbo {
                    if v {
                        nd.s("(jumbo: ");
                        nd.dec(jumbolen as u64);
                        nd.s(" - already seen) ");
                    }
                } else {
                    found_jumbo = true;
                    match hbh.as_mut() {
                        None => {
                            if v {
                                nd.s("(jumbo: ");
                                nd.dec(jumbolen as u64);
                                nd.s(" - not a hop-by-hop option) ");
                            }
                        }
                        Some((_, pl)) if **pl != 0 => {
                            if v {
                                nd.s("(jumbo: ");
                                nd.dec(jumbolen as u64);
                                nd.s(" - payload len != 0) ");
                            }
                        }
                        Some((fj, pl)) => {
                            if jumbolen < 65536 {
                                if v {
                                    nd.s("(jumbo: ");
                                    nd.dec(jumbolen as u64);
                                    nd.s(" - < 65536) ");
                                }
                            } else {
                                **fj = true;
                                **pl = jumbolen;
                                if v {
                                    nd.s("(jumbo: ");
                                    nd.dec(jumbolen as u64);
                                    nd.s(") ");
                                }
                            }
                        }
                    }
                }
            }
            0xc9 => {
                if len - i < 18 {
                    nd.s("(homeaddr: trunc)");
                    return Ok(None);
                }
                let l = nd.u1(bp + i + 1)?;
                if l < 16 {
                    nd.s("(homeaddr: invalid len ");
                    nd.dec(l as u64);
                    nd.ch(b')');
                    return Ok(None);
                }
                if v {
                    nd.s("(homeaddr: ");
                    nd.ip6addr(bp + i + 2)?;
                    nd.ch(b')');
                }
            }
            _ => {
                if len - i < 2 {
                    nd.s("(type ");
                    nd.dec(t as u64);
                    nd.s(": trunc)");
                    return Ok(None);
                }
                if v {
                    nd.s("(opt_type 0x");
                    nd.hex(t as u64, 2);
                    nd.s(": len=");
                    nd.dec(nd.u1(bp + i + 1)? as u64);
                    nd.ch(b')');
                }
            }
        }
        i += optlen;
    }
    if v {
        nd.ch(b' ');
    }
    Ok(Some(()))
}

/// frag6_print; `None` for a non-first fragment (not decoded further).
fn frag6_print(nd: &mut Nd<'_>, bp: usize, ip6: usize) -> R<Option<usize>> {
    nd.proto = "frag6";
    let offlg = nd.be2(bp + 2)?;
    let plen = nd.be2(ip6 + 4)? as i64;
    let rest = 40 + plen - (bp - ip6) as i64 - 8;
    if nd.opts.vflag > 0 {
        nd.s("frag (0x");
        nd.hex(nd.be4(bp + 4)? as u64, 8);
        nd.ch(b':');
    } else {
        nd.s("frag (");
    }
    nd.dec((offlg & 0xfff8) as u64);
    nd.ch(b'|');
    // %zu of a size_t expression: negative values wrap.
    nd.dec(rest as u64);
    nd.ch(b')');
    if offlg & 0xfff8 != 0 {
        Ok(None)
    } else {
        nd.ch(b' ');
        Ok(Some(8))
    }
}

/// rt6_print; `None` when invalid (already reported).
fn rt6_print(nd: &mut Nd<'_>, bp: usize, _ip6: usize) -> R<Option<usize>> {
    nd.proto = "rt6";
    nd.print_proto_caps();
    let len = nd.u1(bp + 1)? as usize;
    nd.s(" (len=");
    nd.dec(len as u64);
    let ty = nd.u1(bp + 2)?;
    nd.s(", type=");
    nd.dec(ty as u64);
    if ty == 0 {
        nd.s(" [Deprecated]");
    }
    nd.s(", segleft=");
    nd.dec(nd.u1(bp + 3)? as u64);
    match ty {
        0 | 2 => {
            let rsv = nd.be4(bp + 4)?;
            if rsv != 0 || nd.opts.vflag > 0 {
                nd.s(", rsv=0x");
                nd.hex(rsv as u64, 0);
            }
            rt6_addresses(nd, bp, len)
        }
        4 => {
            nd.s(", last-entry=");
            nd.dec(nd.u1(bp + 4)? as u64);
            let flags = nd.u1(bp + 5)?;
            if flags != 0 || nd.opts.vflag > 0 {
                nd.s(", flags=0x");
                nd.hex(flags as u64, 0);
            }
            nd.s(", tag=");
            nd.hex(nd.be2(bp + 6)? as u64, 0);
            rt6_addresses(nd, bp, len)
        }
        _ => {
            nd.s(" (unknown type)");
            nd.print_invalid();
            Ok(None)
        }
    }
}

/// The address list that ends both routing header types, and the header length.
fn rt6_addresses(nd: &mut Nd<'_>, bp: usize, len: usize) -> R<Option<usize>> {
    if len % 2 == 1 {
        nd.s(" (invalid length ");
        nd.dec(len as u64);
        nd.ch(b')');
        nd.print_invalid();
        return Ok(None);
    }
    for i in 0..len / 2 {
        nd.s(", [");
        nd.dec(i as u64);
        nd.ch(b']');
        nd.ip6addr(bp + 8 + 16 * i)?;
    }
    nd.s(") ");
    Ok(Some((nd.u1(bp + 1)? as usize + 1) << 3))
}

/// ah_print; returns the header length (0 when it cannot go on).
pub(crate) fn ah_print(nd: &mut Nd<'_>, bp: usize) -> R<usize> {
    nd.proto = "ah";
    nd.print_proto_caps();
    let ah_len = nd.u1(bp + 1)? as usize;
    let hdr_len = (ah_len + 2) * 4;
    nd.ch(b'(');
    if nd.opts.vflag > 0 {
        nd.s("length=");
        nd.dec(ah_len as u64);
        nd.ch(b'(');
        nd.dec(hdr_len as u64);
        nd.s("-bytes),");
    }
    let reserved = nd.be2(bp + 2)?;
    if reserved != 0 {
        nd.s("reserved=0x");
        nd.hex(reserved as u64, 0);
        nd.s("[MustBeZero],");
    }
    nd.s("spi=0x");
    nd.hex(nd.be4(bp + 4)? as u64, 8);
    nd.s(",seq=0x");
    nd.hex(nd.be4(bp + 8)? as u64, 0);
    nd.s(",icv=0x");
    let mut p = bp + 12;
    while p < bp + hdr_len {
        nd.hex(nd.u1(p)? as u64, 2);
        p += 1;
    }
    nd.s("): ");
    Ok(hdr_len)
}

/// The pseudo-header destination: the final destination of a routing header.
fn finddst(nd: &Nd<'_>, ip6: usize) -> R<usize> {
    let mut cp = ip6;
    let mut advance = 40usize;
    let mut nh = nd.u1(ip6 + 6)?;
    let mut dst = ip6 + 24;
    while cp < nd.snapend {
        cp += advance;
        match nh {
            proto::HOPOPTS | proto::DSTOPTS | proto::MOBILITY_OLD | proto::MOBILITY => {
                advance = (nd.u1(cp + 1)? as usize + 1) << 3;
                nh = nd.u1(cp)?;
            }
            proto::FRAGMENT => {
                advance = 8;
                nh = nd.u1(cp)?;
            }
            proto::ROUTING => {
                if !nd.ttest(cp, 4) {
                    break;
                }
                let len = nd.u1(cp + 1)? as usize;
                match nd.u1(cp + 2)? {
                    0 | 2 => {
                        if len % 2 == 1 {
                            break;
                        }
                        let mut p = cp + 8;
                        for _ in 0..len / 2 {
                            if !nd.ttest(p, 16) {
                                break;
                            }
                            dst = p;
                            p += 16;
                        }
                    }
                    4 => {
                        if len % 2 == 1 {
                            break;
                        }
                        let p = cp + 8;
                        if nd.ttest(p, 16) {
                            dst = p;
                        }
                    }
                    _ => {}
                }
                break;
            }
            _ => break,
        }
    }
    nd.tcheck(dst, 16)?;
    Ok(dst)
}

/// nextproto6_cksum: checksum over the pseudo-header and `data[..len]`.
pub(crate) fn nextproto6_cksum(
    nd: &Nd<'_>,
    ip6: usize,
    data: usize,
    len: usize,
    next: u8,
) -> R<u16> {
    let nh = nd.u1(ip6 + 6)?;
    let dst = match nh {
        proto::HOPOPTS
        | proto::DSTOPTS
        | proto::MOBILITY_OLD
        | proto::MOBILITY
        | proto::FRAGMENT
        | proto::ROUTING => finddst(nd, ip6)?,
        _ => ip6 + 24,
    };
    let mut ph = [0u8; 40];
    ph[..16].copy_from_slice(nd.bytes(ip6 + 8, 16)?);
    ph[16..32].copy_from_slice(nd.bytes(dst, 16)?);
    ph[32..36].copy_from_slice(&(len as u32).to_be_bytes());
    ph[39] = next;
    let body = nd.bytes(data, len).map_err(|_| Trunc)?;
    Ok(tcpscope_wire::bytes::internet_checksum(&[&ph, body]))
}

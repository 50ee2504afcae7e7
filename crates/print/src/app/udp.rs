//! UDP (print-udp.c): addresses and ports, checksum verdicts with -v, DNS
//! on port 53, otherwise "UDP, length N".

use tcpscope_wire::ip::proto;

use crate::ip::cksum_shouldbe;
use crate::ip6::nextproto6_cksum;
use crate::nd::{Nd, R};

fn ipaddr_print(nd: &mut Nd<'_>, iph: usize, ports: Option<(u16, u16)>) -> R {
    let v6 = nd.u1(iph)? >> 4 == 6;
    let direct = if v6 { nd.u1(iph + 6)? } else { nd.u1(iph + 9)? } == proto::UDP;
    let (sa, da) = if v6 {
        (iph + 8, iph + 24)
    } else {
        (iph + 12, iph + 16)
    };
    let addr = |nd: &mut Nd<'_>, at: usize| if v6 { nd.ip6addr(at) } else { nd.ipaddr(at) };
    if direct {
        addr(nd, sa)?;
        if let Some((s, _)) = ports {
            nd.ch(b'.');
            nd.dec(s as u64);
        }
        nd.s(" > ");
        addr(nd, da)?;
        if let Some((_, d)) = ports {
            nd.ch(b'.');
            nd.dec(d as u64);
        }
        nd.s(": ");
    } else if let Some((s, d)) = ports {
        nd.dec(s as u64);
        nd.s(" > ");
        nd.dec(d as u64);
        nd.s(": ");
    }
    Ok(())
}

pub(crate) fn udp_print(
    nd: &mut Nd<'_>,
    bp: usize,
    length: usize,
    iph: usize,
    fragmented: bool,
) -> R {
    nd.proto = "udp";
    if !nd.ttest(bp + 2, 2) {
        ipaddr_print(nd, iph, None)?;
        nd.print_trunc();
        return Ok(());
    }
    let sport = nd.be2(bp)?;
    let dport = nd.be2(bp + 2)?;
    if length < 8 {
        ipaddr_print(nd, iph, Some((sport, dport)))?;
        nd.s("truncated-udp ");
        nd.dec(length as u64);
        return Ok(());
    }
    if !nd.ttest(bp + 4, 2) {
        ipaddr_print(nd, iph, Some((sport, dport)))?;
        nd.print_trunc();
        return Ok(());
    }
    let mut ulen = nd.be2(bp + 4)? as usize;
    if ulen == 0 && length > 65535 {
        ulen = length;
    }
    if ulen < 8 {
        ipaddr_print(nd, iph, Some((sport, dport)))?;
        nd.s("truncated-udplength ");
        nd.dec(ulen as u64);
        return Ok(());
    }
    ulen -= 8;
    let mut length = length - 8;
    if ulen < length {
        length = ulen;
    }
    let cp = bp + 8;
    if cp > nd.snapend {
        ipaddr_print(nd, iph, Some((sport, dport)))?;
        nd.print_trunc();
        return Ok(());
    }
    if nd.opts.packettype == Some(crate::PacketType::Domain) {
        ipaddr_print(nd, iph, Some((sport, dport)))?;
        return super::domain::domain_print(nd, cp, length, false);
    }
    ipaddr_print(nd, iph, Some((sport, dport)))?;
    let v6 = nd.u1(iph)? >> 4 == 6;
    if nd.opts.vflag > 0 && !nd.opts.no_checksum && !fragmented {
        if !v6 && nd.opts.vflag > 1 {
            let udp_sum = nd.be2(bp + 6)?;
            if udp_sum == 0 {
                nd.s("[no cksum] ");
            } else if nd.ttest(cp, length) {
                let sum = udp4_cksum(nd, iph, bp, length + 8)?;
                checksum_verdict(nd, udp_sum, sum);
            }
        } else if v6 && nd.ttest(cp, length) {
            let sum = nextproto6_cksum(nd, iph, bp, length + 8, proto::UDP)?;
            let udp_sum = nd.be2(bp + 6)?;
            checksum_verdict(nd, udp_sum, sum);
        }
    }
    let either = |p: u16| sport == p || dport == p;
    if nd.opts.qflag == 0 && either(53) {
        return super::domain::domain_print(nd, cp, length, false);
    }
    if ulen > length && !fragmented {
        nd.s("UDP, bad length ");
        nd.dec(ulen as u64);
        nd.s(" > ");
        nd.dec(length as u64);
    } else {
        nd.s("UDP, length ");
        nd.dec(ulen as u64);
    }
    Ok(())
}

fn checksum_verdict(nd: &mut Nd<'_>, udp_sum: u16, sum: u16) {
    if sum != 0 {
        nd.s("[bad udp cksum 0x");
        nd.hex(udp_sum as u64, 4);
        nd.s(" -> 0x");
        nd.hex(cksum_shouldbe(udp_sum, sum) as u64, 4);
        nd.s("!] ");
    } else {
        nd.s("[udp sum ok] ");
    }
}

fn udp4_cksum(nd: &Nd<'_>, ip: usize, data: usize, len: usize) -> R<u16> {
    let mut ph = [0u8; 12];
    ph[..4].copy_from_slice(nd.bytes(ip + 12, 4)?);
    ph[4..8].copy_from_slice(nd.bytes(ip + 16, 4)?);
    ph[9] = proto::UDP;
    ph[10..12].copy_from_slice(&(len as u16).to_be_bytes());
    Ok(tcpscope_wire::bytes::internet_checksum(&[
        &ph,
        nd.bytes(data, len)?,
    ]))
}

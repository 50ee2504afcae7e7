//! ARP for Ethernet and IPv4 (print-arp.c).

use crate::hexdump::default_print;
use crate::nd::{Nd, R};

pub(crate) fn arp_print(nd: &mut Nd<'_>, ap: usize, length: usize, caplen: usize) -> R {
    nd.proto = "arp";
    nd.tcheck(ap, 8)?;
    let hrd = nd.be2(ap)?;
    let pro = nd.be2(ap + 2)?;
    let hln = nd.u1(ap + 4)? as usize;
    let pln = nd.u1(ap + 5)? as usize;
    let op = nd.be2(ap + 6)?;
    let sha = ap + 8;
    let spa = sha + hln;
    let tha = spa + pln;
    let tpa = tha + hln;
    nd.tcheck(tpa, pln)?;
    if !nd.opts.eflag {
        nd.s("ARP, ");
    }
    let v = nd.opts.vflag > 0;
    if (pro != 0x0800 && pro != 0x1000) || pln != 4 || hln == 0 || v {
        match hrd {
            1 => nd.s("Ethernet"),
            6 => nd.s("TokenRing"),
            7 => nd.s("ArcNet"),
            15 => nd.s("FrameRelay"),
            _ => {
                nd.s("Unknown Hardware (");
                nd.dec(hrd as u64);
                nd.ch(b')');
            }
        }
        nd.s(" (len ");
        nd.dec(hln as u64);
        nd.s("), ");
        match crate::link::ethertype_name(pro) {
            Some(n) => nd.s(n),
            None => {
                nd.s("Unknown Protocol (0x");
                nd.hex(pro as u64, 4);
                nd.ch(b')');
            }
        }
        nd.s(" (len ");
        nd.dec(pln as u64);
        nd.ch(b')');
        if !v {
            nd.s(", length ");
            nd.dec(length as u64);
            return Ok(());
        }
    }
    if v {
        nd.s(", ");
    }
    let name = match op {
        1 => "Request",
        2 => "Reply",
        3 => "Reverse Request",
        4 => "Reverse Reply",
        8 => "Inverse Request",
        9 => "Inverse Reply",
        10 => "NACK Reply",
        _ => "",
    };
    if name.is_empty() {
        nd.s("Unknown (");
        nd.dec(op as u64);
        nd.ch(b')');
    } else {
        nd.s(name);
    }
    nd.ch(b' ');
    match op {
        1 => {
            nd.s("who-has ");
            proto_addr(nd, tpa, pro, pln)?;
            if nd.bytes(tha, hln)?.iter().any(|b| *b != 0) {
                nd.s(" (");
                linkaddr(nd, tha, hln)?;
                nd.ch(b')');
            }
            nd.s(" tell ");
            proto_addr(nd, spa, pro, pln)?;
        }
        2 => {
            proto_addr(nd, spa, pro, pln)?;
            nd.s(" is-at ");
            linkaddr(nd, sha, hln)?;
        }
        3 | 8 => {
            nd.s("who-is ");
            linkaddr(nd, tha, hln)?;
            nd.s(" tell ");
            linkaddr(nd, sha, hln)?;
        }
        4 => {
            linkaddr(nd, tha, hln)?;
            nd.s(" at ");
            proto_addr(nd, tpa, pro, pln)?;
        }
        9 => {
            linkaddr(nd, sha, hln)?;
            nd.s(" at ");
            proto_addr(nd, spa, pro, pln)?;
        }
        _ => return default_print(nd, ap, caplen),
    }
    nd.s(", length ");
    nd.dec(length as u64);
    Ok(())
}

fn proto_addr(nd: &mut Nd<'_>, at: usize, pro: u16, pln: usize) -> R {
    if (pro != 0x0800 && pro != 0x1000) || pln != 4 {
        nd.s("<wrong proto type>");
        Ok(())
    } else {
        nd.ipaddr(at)
    }
}

fn linkaddr(nd: &mut Nd<'_>, at: usize, len: usize) -> R {
    let b = nd.bytes(at, len)?;
    if len == 0 {
        nd.s("<empty>");
    }
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            nd.ch(b':');
        }
        nd.hex(*x as u64, 2);
    }
    Ok(())
}

//! Multipath TCP options (print-mptcp.c). Each printer returns false when
//! the option's length does not fit its subtype, which tcpdump reports as
//! `[bad opt]`.

use crate::nd::{Nd, R};
use tcpscope_wire::tcp::flags::{ACK, SYN};

/// mptcp_print: `opt` is the option's first byte (the kind), `len` its length.
pub(crate) fn mptcp_print(nd: &mut Nd<'_>, opt: usize, len: usize, flags: u8) -> R<bool> {
    nd.proto = "mptcp";
    if len < 3 {
        return Ok(false);
    }
    let subtype = (nd.u1(opt + 2)? >> 4).min(8);
    nd.ch(b' ');
    nd.dec(len as u64);
    nd.ch(b' ');
    nd.s([
        "capable",
        "join",
        "dss",
        "add-addr",
        "rem-addr",
        "prio",
        "fail",
        "fast-close",
        "unknown",
    ][subtype as usize]);
    match subtype {
        0 => capable(nd, opt, len, flags),
        1 => join(nd, opt, len, flags),
        2 => dss(nd, opt, len, flags),
        3 => add_addr(nd, opt, len),
        4 => remove_addr(nd, opt, len),
        5 => prio(nd, opt, len),
        6 => {
            if len != 12 {
                return Ok(false);
            }
            nd.s(" seq ");
            nd.dec(nd.be8(opt + 4)?);
            Ok(true)
        }
        7 => {
            if len != 12 {
                return Ok(false);
            }
            nd.s(" key 0x");
            nd.hex(nd.be8(opt + 4)?, 0);
            Ok(true)
        }
        _ => Ok(true),
    }
}

fn capable(nd: &mut Nd<'_>, opt: usize, len: usize, flags: u8) -> R<bool> {
    if !((len == 12 || len == 4) && flags & SYN != 0)
        && !((len == 20 || len == 22) && flags & (SYN | ACK) == ACK)
    {
        return Ok(false);
    }
    let version = nd.u1(opt + 2)? & 0xf;
    match version {
        0 | 1 => {
            nd.s(" v");
            nd.dec(version as u64);
        }
        _ => {
            nd.s(" Unknown Version (");
            nd.dec(version as u64);
            nd.ch(b')');
            return Ok(true);
        }
    }
    if nd.u1(opt + 3)? & 0x80 != 0 {
        nd.s(" csum");
    }
    if len == 12 || len >= 20 {
        nd.s(" {0x");
        nd.hex(nd.be8(opt + 4)?, 0);
        if len >= 20 {
            nd.s(",0x");
            nd.hex(nd.be8(opt + 12)?, 0);
        }
        nd.ch(b'}');
    }
    Ok(true)
}

fn join(nd: &mut Nd<'_>, opt: usize, len: usize, flags: u8) -> R<bool> {
    if !(len == 12 && flags & SYN != 0)
        && !(len == 16 && flags & (SYN | ACK) == (SYN | ACK))
        && !(len == 24 && flags & ACK != 0)
    {
        return Ok(false);
    }
    if len != 24 {
        if nd.u1(opt + 2)? & 0x01 != 0 {
            nd.s(" backup");
        }
        nd.s(" id ");
        nd.dec(nd.u1(opt + 3)? as u64);
    }
    match len {
        12 => {
            nd.s(" token 0x");
            nd.hex(nd.be4(opt + 4)? as u64, 0);
            nd.s(" nonce 0x");
            nd.hex(nd.be4(opt + 8)? as u64, 0);
        }
        16 => {
            nd.s(" hmac 0x");
            nd.hex(nd.be8(opt + 4)?, 0);
            nd.s(" nonce 0x");
            nd.hex(nd.be4(opt + 12)? as u64, 0);
        }
        24 => {
            nd.s(" hmac 0x");
            for i in 0..20 {
                nd.hex(nd.u1(opt + 4 + i)? as u64, 2);
            }
        }
        _ => {}
    }
    Ok(true)
}

fn dss(nd: &mut Nd<'_>, opt: usize, len: usize, flags: u8) -> R<bool> {
    if len < 4 || flags & SYN != 0 {
        return Ok(false);
    }
    let f = nd.u1(opt + 3)?;
    if f & 0x10 != 0 {
        nd.s(" fin");
    }
    let mut p = opt + 4;
    let mut left = len - 4;
    if f & 0x01 != 0 {
        nd.s(" ack ");
        if !dss_number(nd, &mut p, &mut left, f & 0x02 != 0)? {
            return Ok(false);
        }
    }
    if f & 0x04 != 0 {
        nd.s(" seq ");
        if !dss_number(nd, &mut p, &mut left, f & 0x08 != 0)? {
            return Ok(false);
        }
        if left < 4 {
            return Ok(false);
        }
        nd.s(" subseq ");
        nd.dec(nd.be4(p)? as u64);
        p += 4;
        left -= 4;
        if left < 2 {
            return Ok(false);
        }
        nd.s(" len ");
        nd.dec(nd.be2(p)? as u64);
        p += 2;
        left -= 2;
        if left >= 2 {
            nd.s(" csum 0x");
            nd.hex(nd.be2(p)? as u64, 0);
            left -= 2;
        }
    }
    Ok(left == 0)
}

/// A DSS data ack or sequence number: 8 bytes when its flag says so, else 4.
fn dss_number(nd: &mut Nd<'_>, p: &mut usize, left: &mut usize, eight: bool) -> R<bool> {
    let n = if eight { 8 } else { 4 };
    if *left < n {
        return Ok(false);
    }
    nd.dec(if eight {
        nd.be8(*p)?
    } else {
        nd.be4(*p)? as u64
    });
    *p += n;
    *left -= n;
    Ok(true)
}

fn add_addr(nd: &mut Nd<'_>, opt: usize, len: usize) -> R<bool> {
    if ![8, 10, 16, 18, 20, 22, 28, 30].contains(&len) {
        return Ok(false);
    }
    nd.ch(b' ');
    nd.s(match nd.u1(opt + 2)? & 0xf {
        0x6 => "v0-ip6",
        0x4 => "v0-ip4",
        0x1 => "v1-echo",
        0x0 => "v1",
        _ => "[bad version/echo]",
    });
    nd.s(" id ");
    nd.dec(nd.u1(opt + 3)? as u64);
    if len <= 18 {
        nd.ch(b' ');
        nd.ipaddr(opt + 4)?;
        if len == 10 || len == 18 {
            nd.ch(b':');
            nd.dec(nd.be2(opt + 8)? as u64);
        }
        if len == 16 {
            nd.s(" hmac 0x");
            nd.hex(nd.be8(opt + 8)?, 0);
        }
        if len == 18 {
            nd.s(" hmac 0x");
            nd.hex(nd.be8(opt + 10)?, 0);
        }
    } else {
        nd.ch(b' ');
        nd.ip6addr(opt + 4)?;
        if len == 22 || len == 30 {
            nd.ch(b':');
            nd.dec(nd.be2(opt + 20)? as u64);
        }
        if len == 28 {
            nd.s(" hmac 0x");
            nd.hex(nd.be8(opt + 20)?, 0);
        }
        if len == 30 {
            nd.s(" hmac 0x");
            nd.hex(nd.be8(opt + 22)?, 0);
        }
    }
    Ok(true)
}

fn remove_addr(nd: &mut Nd<'_>, opt: usize, len: usize) -> R<bool> {
    if len < 4 {
        return Ok(false);
    }
    nd.s(" id");
    for i in 0..len - 3 {
        nd.ch(b' ');
        nd.dec(nd.u1(opt + 3 + i)? as u64);
    }
    Ok(true)
}

fn prio(nd: &mut Nd<'_>, opt: usize, len: usize) -> R<bool> {
    if len != 3 && len != 4 {
        return Ok(false);
    }
    if nd.u1(opt + 2)? & 0x01 != 0 {
        nd.s(" backup");
    } else {
        nd.s(" non-backup");
    }
    if len == 4 {
        nd.s(" id ");
        nd.dec(nd.u1(opt + 3)? as u64);
    }
    Ok(true)
}

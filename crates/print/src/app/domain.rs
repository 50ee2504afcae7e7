//! DNS over UDP and TCP (tcpdump's print-domain.c): header flags and
//! counts, the question, answers (and with -vv the authority and additional
//! sections), EDNS options, with name compression followed backwards only.

use crate::nd::{put_ipv4, put_ipv6, Nd, R};

const TYPE_MASK: u8 = 0xc0;
const TYPE_INDIR: u8 = 0xc0;
const TYPE_RESERVED: u8 = 0x80;
const TYPE_EDNS0: u8 = 0x40;
const EDNS0_ELT_BITLABEL: u8 = 0x01;
const MAXCDNAME: usize = 255;
const T_OPT: u16 = 41;

const NS_OPS: [&str; 16] = [
    "",
    " inv_q",
    " stat",
    " op3",
    " notify",
    " update",
    " op6",
    " op7",
    " op8",
    " updateA",
    " updateD",
    " updateDA",
    " updateM",
    " updateMA",
    " zoneInit",
    " zoneRef",
];

const NS_RESP: [&str; 24] = [
    "",
    " FormErr",
    " ServFail",
    " NXDomain",
    " NotImp",
    " Refused",
    " YXDomain",
    " YXRRSet",
    " NXRRSet",
    " NotAuth",
    " NotZone",
    " Resp11",
    " Resp12",
    " Resp13",
    " Resp14",
    " NoChange",
    " BadVers",
    "Resp17",
    " Resp18",
    " Resp19",
    " Resp20",
    "Resp21",
    " Resp22",
    " BadCookie",
];

fn type_name(t: u16) -> Option<&'static str> {
    Some(match t {
        1 => "A",
        2 => "NS",
        3 => "MD",
        4 => "MF",
        5 => "CNAME",
        6 => "SOA",
        7 => "MB",
        8 => "MG",
        9 => "MR",
        10 => "NULL",
        11 => "WKS",
        12 => "PTR",
        13 => "HINFO",
        14 => "MINFO",
        15 => "MX",
        16 => "TXT",
        17 => "RP",
        18 => "AFSDB",
        19 => "X25",
        20 => "ISDN",
        21 => "RT",
        22 => "NSAP",
        23 => "NSAP_PTR",
        24 => "SIG",
        25 => "KEY",
        26 => "PX",
        27 => "GPOS",
        28 => "AAAA",
        29 => "LOC",
        30 => "NXT",
        31 => "EID",
        32 => "NIMLOC",
        33 => "SRV",
        34 => "ATMA",
        35 => "NAPTR",
        36 => "KX",
        37 => "CERT",
        38 => "A6",
        39 => "DNAME",
        40 => "SINK",
        41 => "OPT",
        42 => "APL",
        43 => "DS",
        44 => "SSHFP",
        45 => "IPSECKEY",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        99 => "SPF",
        100 => "UINFO",
        101 => "UID",
        102 => "GID",
        103 => "UNSPEC",
        104 => "UNSPECA",
        249 => "TKEY",
        250 => "TSIG",
        251 => "IXFR",
        252 => "AXFR",
        253 => "MAILB",
        254 => "MAILA",
        255 => "ANY",
        256 => "URI",
        _ => return None,
    })
}

fn print_type(nd: &mut Nd<'_>, t: u16) {
    match type_name(t) {
        Some(n) => nd.s(n),
        None => {
            nd.s("Type");
            nd.dec(t as u64);
        }
    }
}

fn print_class(nd: &mut Nd<'_>, c: u16) {
    let name = match c {
        1 => "IN",
        3 => "CHAOS",
        4 => "HS",
        255 => "ANY",
        _ => "",
    };
    if name.is_empty() {
        nd.s("(Class ");
        nd.dec(c as u64);
        nd.ch(b')');
    } else {
        nd.s(name);
    }
}

/// domain_print.
pub(crate) fn domain_print(nd: &mut Nd<'_>, mut bp: usize, mut length: usize, over_tcp: bool) -> R {
    nd.proto = "domain";
    if over_tcp {
        if length < 2 {
            nd.s(" [DNS over TCP: length ");
            nd.dec(length as u64);
            nd.s(" < 2]");
            nd.print_invalid();
            return Ok(());
        }
        length -= 2;
        let prefix = nd.be2(bp)? as usize;
        if prefix != length {
            nd.s(" [prefix length(");
            nd.dec(prefix as u64);
            nd.s(") != length(");
            nd.dec(length as u64);
            nd.s(")]");
            nd.print_invalid();
            return Ok(());
        }
        bp += 2;
        nd.ch(b' ');
    }
    let np = bp;
    if length < 12 {
        nd.s("domain [length ");
        nd.dec(length as u64);
        nd.s(" < 12]");
        nd.print_invalid();
        return Ok(());
    }
    nd.tcheck(np, 12)?;
    let flags = nd.be2(np + 2)?;
    let mut qdcount = nd.be2(np + 4)? as u32;
    let mut ancount = nd.be2(np + 6)? as u32;
    let mut nscount = nd.be2(np + 8)? as u32;
    let mut arcount = nd.be2(np + 10)? as u32;
    let mut rcode = (flags & 0xf) as u32;
    find_ext_rcode(nd, np + 12, qdcount, ancount + nscount, arcount, &mut rcode)?;
    let v = nd.opts.vflag;
    let opcode = ((flags >> 11) & 0xf) as usize;
    let mut cp = np + 12;
    if flags & 0x8000 != 0 {
        nd.dec(nd.be2(np)? as u64);
        nd.s(NS_OPS[opcode]);
        if (rcode as usize) < NS_RESP.len() {
            nd.s(NS_RESP[rcode as usize]);
        } else {
            nd.s(" Resp");
            nd.dec((rcode & 0xfff) as u64);
        }
        if flags & 0x0400 != 0 {
            nd.ch(b'*');
        }
        if flags & 0x0080 == 0 {
            nd.ch(b'-');
        }
        if flags & 0x0200 != 0 {
            nd.ch(b'|');
        }
        if flags & 0x0020 != 0 {
            nd.ch(b'$');
        }
        if qdcount != 1 {
            nd.s(" [");
            nd.dec(qdcount as u64);
            nd.s("q]");
        }
        for i in 0..qdcount {
            if i != 0 {
                nd.ch(b',');
            }
            if v > 1 {
                nd.s(" q:");
                match qprint(nd, cp, bp)? {
                    Some(c) => cp = c,
                    None => return trunc(nd),
                }
            } else {
                match nskip(nd, cp) {
                    Some(c) => cp = c + 4,
                    None => return trunc(nd),
                }
            }
        }
        nd.ch(b' ');
        nd.dec(ancount as u64);
        nd.ch(b'/');
        nd.dec(nscount as u64);
        nd.ch(b'/');
        nd.dec(arcount as u64);
        if !section(nd, &mut cp, bp, &mut ancount, "", true)? {
            return trunc(nd);
        }
        if v > 1 {
            if !section(nd, &mut cp, bp, &mut nscount, " ns:", false)? {
                return trunc(nd);
            }
            if !section(nd, &mut cp, bp, &mut arcount, " ar:", false)? {
                return trunc(nd);
            }
        }
    } else {
        nd.dec(nd.be2(np)? as u64);
        nd.s(NS_OPS[opcode]);
        if flags & 0x0100 != 0 {
            nd.ch(b'+');
        }
        if flags & 0x0010 != 0 {
            nd.ch(b'%');
        }
        let b2 = nd.be2(np + 2)?;
        if b2 & 0x6cf != 0 {
            nd.s(" [b2&3=0x");
            nd.hex(b2 as u64, 0);
            nd.ch(b']');
        }
        let count = |nd: &mut Nd<'_>, n: u32, suffix: &str| {
            nd.s(" [");
            nd.dec(n as u64);
            nd.s(suffix);
            nd.ch(b']');
        };
        if opcode == 1 {
            if qdcount != 0 {
                count(nd, qdcount, "q");
            }
            if ancount != 1 {
                count(nd, ancount, "a");
            }
        } else {
            if ancount != 0 {
                count(nd, ancount, "a");
            }
            if qdcount != 1 {
                count(nd, qdcount, "q");
            }
        }
        if nscount != 0 {
            count(nd, nscount, "n");
        }
        if arcount != 0 {
            count(nd, arcount, "au");
        }
        if qdcount > 0 {
            match qprint(nd, cp, np)? {
                Some(c) => cp = c,
                None => return trunc(nd),
            }
            qdcount -= 1;
            while cp < nd.snapend && qdcount > 0 {
                match qprint(nd, cp, np)? {
                    Some(c) => cp = c,
                    None => return trunc(nd),
                }
                qdcount -= 1;
            }
        }
        if qdcount > 0 {
            return trunc(nd);
        }
        if v > 1 {
            if !section(nd, &mut cp, bp, &mut ancount, "", true)? {
                return trunc(nd);
            }
            if !section(nd, &mut cp, bp, &mut nscount, " ns:", false)? {
                return trunc(nd);
            }
            if !section(nd, &mut cp, bp, &mut arcount, " ar:", false)? {
                return trunc(nd);
            }
        }
    }
    nd.s(" (");
    nd.dec(length as u64);
    nd.ch(b')');
    Ok(())
}

fn trunc(nd: &mut Nd<'_>) -> R {
    nd.print_trunc();
    Ok(())
}

/// Print `count` records; false means "goto trunc". The answer section is
/// printed even when the capture ends before it (`first_always`).
fn section(
    nd: &mut Nd<'_>,
    cp: &mut usize,
    bp: usize,
    count: &mut u32,
    label: &str,
    first_always: bool,
) -> R<bool> {
    if *count > 0 && (first_always || *cp < nd.snapend) {
        nd.s(label);
        match rprint(nd, *cp, bp)? {
            Some(c) => *cp = c,
            None => return Ok(false),
        }
        *count -= 1;
        while *cp < nd.snapend && *count > 0 {
            nd.ch(b',');
            match rprint(nd, *cp, bp)? {
                Some(c) => *cp = c,
                None => return Ok(false),
            }
            *count -= 1;
        }
    }
    Ok(*count == 0)
}

/// The walk that finds an OPT record to complete the rcode.
fn find_ext_rcode(nd: &Nd<'_>, mut cp: usize, qd: u32, anns: u32, ar: u32, rcode: &mut u32) -> R {
    for _ in 0..qd {
        let Some(c) = nskip(nd, cp) else {
            return Ok(());
        };
        cp = c + 4;
        if cp >= nd.snapend {
            return Ok(());
        }
    }
    for _ in 0..anns {
        let Some(c) = nskip(nd, cp) else {
            return Ok(());
        };
        cp = c + 8;
        if cp + 2 > nd.snapend {
            return Ok(());
        }
        let rdlen = nd.be2(cp)? as usize;
        cp += 2 + rdlen;
        if cp >= nd.snapend {
            return Ok(());
        }
    }
    for _ in 0..ar {
        let Some(c) = nskip(nd, cp) else {
            return Ok(());
        };
        cp = c;
        if cp + 2 > nd.snapend {
            return Ok(());
        }
        let t = nd.be2(cp)?;
        cp += 4;
        if cp + 1 > nd.snapend {
            return Ok(());
        }
        if t == T_OPT {
            *rcode |= (nd.u1(cp)? as u32) << 4;
            return Ok(());
        }
        cp += 4;
        if cp + 2 > nd.snapend {
            return Ok(());
        }
        let rdlen = nd.be2(cp)? as usize;
        cp += 2 + rdlen;
        if cp >= nd.snapend {
            return Ok(());
        }
    }
    Ok(())
}

/// ns_nskip: the offset after a name, without printing it.
fn nskip(nd: &Nd<'_>, mut cp: usize) -> Option<usize> {
    let mut i = nd.u1(cp).ok()?;
    cp += 1;
    while i != 0 {
        match i & TYPE_MASK {
            TYPE_INDIR => return Some(cp + 1),
            TYPE_EDNS0 => {
                if i & !TYPE_MASK != EDNS0_ELT_BITLABEL {
                    return None;
                }
                let mut bitlen = nd.u1(cp).ok()? as usize;
                if bitlen == 0 {
                    bitlen = 256;
                }
                cp += 1 + (bitlen + 7) / 8;
            }
            TYPE_RESERVED => return None,
            _ => cp += i as usize,
        }
        i = nd.u1(cp).ok()?;
        cp += 1;
    }
    Some(cp)
}

/// labellen; None after printing the complaint, as tcpdump does.
fn labellen(nd: &mut Nd<'_>, cp: usize) -> Option<usize> {
    let i = nd.u1(cp).ok()?;
    match i & TYPE_MASK {
        TYPE_EDNS0 => {
            let elt = i & !TYPE_MASK;
            if elt != EDNS0_ELT_BITLABEL {
                nd.s("<ELT ");
                nd.dec(elt as u64);
                nd.ch(b'>');
                return None;
            }
            let mut bitlen = nd.u1(cp + 1).ok()? as usize;
            if bitlen == 0 {
                bitlen = 256;
            }
            Some((bitlen + 7) / 8 + 1)
        }
        TYPE_INDIR | 0 => Some(i as usize),
        _ => {
            nd.s("<BAD LABEL TYPE>");
            None
        }
    }
}

/// nd_printn: escaped characters up to the snapshot end; true if cut.
fn printn(nd: &mut Nd<'_>, mut s: usize, mut n: usize) -> R<bool> {
    while n > 0 && s < nd.snapend {
        n -= 1;
        let c = nd.u1(s)?;
        s += 1;
        nd.print_char(c);
    }
    Ok(n != 0)
}

fn blabel_print(nd: &mut Nd<'_>, cp: usize) -> R<Option<usize>> {
    let Ok(mut bitlen) = nd.u1(cp).map(|b| b as usize) else {
        return Ok(None);
    };
    if bitlen == 0 {
        bitlen = 256;
    }
    let slen = (bitlen + 3) / 4;
    let lim = cp + 1 + slen;
    nd.s("\\[x");
    let mut bitp = cp + 1;
    let mut b = bitlen;
    while bitp < lim && b > 7 {
        nd.hex(nd.u1(bitp)? as u64, 2);
        b -= 8;
        bitp += 1;
    }
    if b > 4 {
        let tc = nd.u1(bitp)?;
        nd.hex((tc & (0xffu32 << (8 - b)) as u8) as u64, 2);
    } else if b > 0 {
        let tc = nd.u1(bitp)?;
        nd.hex((((tc >> 4) & 0x0f) & (0x0f << (4 - b))) as u64, 1);
    }
    nd.ch(b'/');
    nd.dec(bitlen as u64);
    nd.ch(b']');
    Ok(Some(lim))
}

/// fqdn_print: the name at `cp`; returns the offset after it in the record.
fn fqdn_print(nd: &mut Nd<'_>, mut cp: usize, bp: usize) -> R<Option<usize>> {
    let Some(mut l) = labellen(nd, cp) else {
        return Ok(None);
    };
    let Ok(mut i) = nd.u1(cp) else {
        return Ok(None);
    };
    let mut max_offset = cp.wrapping_sub(bp);
    cp += 1;
    let mut compress = false;
    let mut rp = 0usize;
    if i & TYPE_MASK != TYPE_INDIR {
        rp = cp + l;
    }
    let mut name_chars = 0usize;
    if i != 0 {
        while i != 0 && cp < nd.snapend {
            match i & TYPE_MASK {
                TYPE_INDIR => {
                    if !compress {
                        rp = cp + 1;
                        compress = true;
                    }
                    let Ok(lo) = nd.u1(cp) else { return Ok(None) };
                    let offset = (((i as usize) << 8) | lo as usize) & 0x3fff;
                    if offset >= max_offset {
                        nd.s("<BAD PTR>");
                        return Ok(None);
                    }
                    max_offset = offset;
                    cp = bp + offset;
                    let Ok(ni) = nd.u1(cp) else { return Ok(None) };
                    i = ni;
                    let Some(nl) = labellen(nd, cp) else {
                        return Ok(None);
                    };
                    l = nl;
                    cp += 1;
                    continue;
                }
                TYPE_EDNS0 => {
                    let elt = i & !TYPE_MASK;
                    if elt == EDNS0_ELT_BITLABEL {
                        if blabel_print(nd, cp)?.is_none() {
                            return Ok(None);
                        }
                    } else {
                        nd.s("<ELT ");
                        nd.dec(elt as u64);
                        nd.ch(b'>');
                        return Ok(None);
                    }
                }
                TYPE_RESERVED => {
                    nd.s("<BAD LABEL TYPE>");
                    return Ok(None);
                }
                _ => {
                    if name_chars + l <= MAXCDNAME {
                        if printn(nd, cp, l)? {
                            return Ok(None);
                        }
                    } else if name_chars < MAXCDNAME && printn(nd, cp, MAXCDNAME - name_chars)? {
                        return Ok(None);
                    }
                    name_chars += l;
                }
            }
            cp += l;
            if name_chars <= MAXCDNAME {
                nd.ch(b'.');
            }
            name_chars += 1;
            let Ok(ni) = nd.u1(cp) else { return Ok(None) };
            i = ni;
            let Some(nl) = labellen(nd, cp) else {
                return Ok(None);
            };
            l = nl;
            cp += 1;
            if !compress {
                rp += l + 1;
            }
        }
        if name_chars > MAXCDNAME {
            nd.s("<DOMAIN NAME TOO LONG>");
        }
    } else {
        nd.ch(b'.');
    }
    Ok(Some(rp))
}

/// ns_qprint: " TYPE? name" (class shown when not IN).
fn qprint(nd: &mut Nd<'_>, np: usize, bp: usize) -> R<Option<usize>> {
    let Some(cp) = nskip(nd, np) else {
        return Ok(None);
    };
    if !nd.ttest(cp, 4) {
        return Ok(None);
    }
    nd.ch(b' ');
    print_type(nd, nd.be2(cp)?);
    let class = nd.be2(cp + 2)?;
    if class != 1 {
        nd.ch(b' ');
        print_class(nd, class);
    }
    nd.s("? ");
    Ok(fqdn_print(nd, np, bp)?.map(|c| c + 4))
}

/// ns_rprint: one resource record.
fn rprint(nd: &mut Nd<'_>, cp: usize, bp: usize) -> R<Option<usize>> {
    let v = nd.opts.vflag;
    let cp = if v > 0 {
        nd.ch(b' ');
        match fqdn_print(nd, cp, bp)? {
            Some(c) => Some(c),
            None => return Ok(None),
        }
    } else {
        nskip(nd, cp)
    };
    let Some(mut cp) = cp.filter(|c| nd.ttest(*c, 10)) else {
        return Ok(Some(nd.snapend));
    };
    let typ = nd.be2(cp)?;
    let class = nd.be2(cp + 2)?;
    cp += 4;
    if class != 1 && typ != T_OPT {
        nd.ch(b' ');
        print_class(nd, class);
    }
    let mut opt_flags = 0u16;
    if typ == T_OPT {
        cp += 2;
        opt_flags = nd.be2(cp)?;
        cp += 2;
    } else if v > 2 {
        nd.s(" [");
        relts_print(nd, nd.be4(cp)?);
        nd.ch(b']');
        cp += 4;
    } else {
        cp += 4;
    }
    let len = nd.be2(cp)? as usize;
    cp += 2;
    let rp = cp + len;
    nd.ch(b' ');
    print_type(nd, typ);
    if rp > nd.snapend {
        return Ok(None);
    }
    match typ {
        1 => {
            let Ok(a) = nd.bytes(cp, 4) else {
                return Ok(None);
            };
            let a = [a[0], a[1], a[2], a[3]];
            nd.ch(b' ');
            put_ipv4(nd.out, a);
        }
        2 | 5 | 12 | 39 => {
            nd.ch(b' ');
            if fqdn_print(nd, cp, bp)?.is_none() {
                return Ok(None);
            }
        }
        6 => {
            if v == 0 {
                return Ok(Some(rp));
            }
            nd.ch(b' ');
            let Some(c) = fqdn_print(nd, cp, bp)? else {
                return Ok(None);
            };
            nd.ch(b' ');
            let Some(c) = fqdn_print(nd, c, bp)? else {
                return Ok(None);
            };
            if !nd.ttest(c, 20) {
                return Ok(None);
            }
            for k in 0..5 {
                nd.ch(b' ');
                nd.dec(nd.be4(c + 4 * k)? as u64);
            }
        }
        15 => {
            nd.ch(b' ');
            if !nd.ttest(cp, 2) {
                return Ok(None);
            }
            if fqdn_print(nd, cp + 2, bp)?.is_none() {
                return Ok(None);
            }
            nd.ch(b' ');
            nd.dec(nd.be2(cp)? as u64);
        }
        16 => {
            let mut c = cp;
            while c < rp {
                nd.s(" \"");
                let Ok(n) = nd.u1(c) else { return Ok(None) };
                if printn(nd, c + 1, n as usize)? {
                    return Ok(None);
                }
                c += 1 + n as usize;
                nd.ch(b'"');
            }
        }
        33 => {
            nd.ch(b' ');
            if !nd.ttest(cp, 6) {
                return Ok(None);
            }
            if fqdn_print(nd, cp + 6, bp)?.is_none() {
                return Ok(None);
            }
            nd.ch(b':');
            nd.dec(nd.be2(cp + 4)? as u64);
            nd.ch(b' ');
            nd.dec(nd.be2(cp)? as u64);
            nd.ch(b' ');
            nd.dec(nd.be2(cp + 2)? as u64);
        }
        28 => {
            let Ok(a) = nd.bytes(cp, 16) else {
                return Ok(None);
            };
            let mut b = [0u8; 16];
            b.copy_from_slice(a);
            nd.ch(b' ');
            put_ipv6(nd.out, &b);
        }
        256 => {
            if !nd.ttest(cp, len) || len < 4 {
                return Ok(None);
            }
            nd.ch(b' ');
            nd.dec(nd.be2(cp)? as u64);
            nd.ch(b' ');
            nd.dec(nd.be2(cp + 2)? as u64);
            nd.ch(b' ');
            if printn(nd, cp + 4, len - 4)? {
                return Ok(None);
            }
        }
        T_OPT => {
            nd.s(" UDPsize=");
            nd.dec(class as u64);
            if opt_flags & 0x8000 != 0 {
                nd.s(" DO");
            }
            if cp < rp {
                nd.s(" [");
                let mut c = cp;
                while c < rp {
                    match eopt_print(nd, c)? {
                        Some(n) => c = n,
                        None => return Ok(None),
                    }
                    if c < rp {
                        nd.ch(b',');
                    }
                }
                nd.ch(b']');
            }
        }
        104 => {
            if !nd.ttest(cp, len) || printn(nd, cp, len)? {
                return Ok(None);
            }
        }
        250 => {
            if v == 0 {
                return Ok(Some(rp));
            }
            nd.ch(b' ');
            let Some(mut c) = fqdn_print(nd, cp, bp)? else {
                return Ok(None);
            };
            c += 6;
            for (label, skip_mac) in [
                (" fudge=", false),
                (" maclen=", true),
                (" origid=", false),
                (" error=", false),
                (" otherlen=", false),
            ] {
                if !nd.ttest(c, 2) {
                    return Ok(None);
                }
                let val = nd.be2(c)?;
                nd.s(label);
                nd.dec(val as u64);
                c += 2 + if skip_mac { val as usize } else { 0 };
            }
        }
        _ => {}
    }
    Ok(Some(rp))
}

fn eopt_print(nd: &mut Nd<'_>, mut cp: usize) -> R<Option<usize>> {
    if !nd.ttest(cp, 2) {
        return Ok(None);
    }
    let opt = nd.be2(cp)?;
    cp += 2;
    let name = match opt {
        1 => "LLQ",
        2 => "UL",
        3 => "NSID",
        5 => "DAU",
        6 => "DHU",
        7 => "N3U",
        8 => "ECS",
        9 => "EXPIRE",
        10 => "COOKIE",
        11 => "KEEPALIVE",
        12 => "PADDING",
        13 => "CHAIN",
        14 => "KEY-TAG",
        16 => "CLIENT-TAG",
        17 => "SERVER-TAG",
        _ => "",
    };
    if name.is_empty() {
        nd.s("Opt");
        nd.dec(opt as u64);
    } else {
        nd.s(name);
    }
    if !nd.ttest(cp, 2) {
        return Ok(None);
    }
    let data_len = nd.be2(cp)? as usize;
    cp += 2;
    if !nd.ttest(cp, data_len) {
        return Ok(None);
    }
    if data_len > 0 {
        nd.ch(b' ');
        match opt {
            8 => ecs_print(nd, cp, data_len)?,
            10 => {
                if data_len < 8 || (data_len > 8 && data_len < 16) || data_len > 40 {
                    nd.print_invalid();
                } else {
                    for i in 0..data_len {
                        if i == 8 {
                            nd.ch(b' ');
                        }
                        nd.hex(nd.u1(cp + i)? as u64, 2);
                    }
                }
            }
            11 => {
                if data_len != 2 {
                    nd.print_invalid();
                } else {
                    // "%0.1f sec" of tenths of a second.
                    let t = nd.be2(cp)? as u64;
                    nd.dec(t / 10);
                    nd.ch(b'.');
                    nd.dec(t % 10);
                    nd.s(" sec");
                }
            }
            9 => {
                if data_len != 4 {
                    nd.print_invalid();
                } else {
                    nd.dec(nd.be4(cp)? as u64);
                    nd.s(" sec");
                }
            }
            12 => {
                nd.ch(b'(');
                nd.dec(data_len as u64);
                nd.ch(b')');
            }
            14 => {
                if data_len % 2 != 0 {
                    nd.print_invalid();
                } else {
                    let mut i = 0;
                    while i < data_len {
                        if i > 0 {
                            nd.ch(b' ');
                        }
                        nd.dec(nd.be2(cp + i)? as u64);
                        i += 2;
                    }
                }
            }
            _ => {
                for i in 0..data_len {
                    nd.hex(nd.u1(cp + i)? as u64, 2);
                }
            }
        }
    }
    Ok(Some(cp + data_len))
}

fn ecs_print(nd: &mut Nd<'_>, cp: usize, data_len: usize) -> R {
    if data_len < 4 {
        nd.print_invalid();
        return Ok(());
    }
    let family = nd.be2(cp)?;
    let src_len = nd.u1(cp + 2)? as usize;
    let scope_len = nd.u1(cp + 3)? as usize;
    let addr_bits = match family {
        1 => 32,
        2 => 128,
        _ => {
            nd.print_invalid();
            return Ok(());
        }
    };
    if data_len - 4 > addr_bits / 8
        || src_len > addr_bits
        || scope_len > addr_bits
        || (src_len + 7) / 8 != data_len - 4
    {
        nd.print_invalid();
        return Ok(());
    }
    let mut padded = [0u8; 16];
    padded[..data_len - 4].copy_from_slice(nd.bytes(cp + 4, data_len - 4)?);
    if family == 1 {
        put_ipv4(nd.out, [padded[0], padded[1], padded[2], padded[3]]);
    } else {
        put_ipv6(nd.out, &padded);
    }
    nd.ch(b'/');
    nd.dec(src_len as u64);
    nd.ch(b'/');
    nd.dec(scope_len as u64);
    Ok(())
}

/// unsigned_relts_print: a TTL as 1w2d3h4m5s.
fn relts_print(nd: &mut Nd<'_>, mut secs: u32) {
    const UNITS: [(u32, &str); 6] = [
        (31_536_000, "y"),
        (604_800, "w"),
        (86_400, "d"),
        (3600, "h"),
        (60, "m"),
        (1, "s"),
    ];
    if secs == 0 {
        nd.s("0s");
        return;
    }
    for (len, name) in UNITS {
        if secs >= len {
            nd.dec((secs / len) as u64);
            nd.s(name);
            secs %= len;
        }
    }
}

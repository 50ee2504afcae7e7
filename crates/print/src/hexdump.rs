//! `-x`, `-xx`, `-X`, `-XX`, `-A`, `-AA` dumps and the default hex print.

use crate::nd::{put_hex, Nd, Trunc, R};

/// The raw dump after the decoded line (the tail of `pretty_print_packet`).
pub(crate) fn print_raw(nd: &mut Nd<'_>, hdrlen: usize) {
    let caplen = nd.pkt.len();
    let o = nd.opts;
    // A dump that runs out of data prints the trunc marker like any printer.
    let r = if o.big_xflag > 0 {
        if o.big_xflag > 1 {
            hex_and_ascii(nd, "\n\t", 0, caplen)
        } else if caplen > hdrlen {
            hex_and_ascii(nd, "\n\t", hdrlen, caplen - hdrlen)
        } else {
            Ok(())
        }
    } else if o.xflag > 0 {
        if o.xflag > 1 {
            hex(nd, "\n\t", 0, caplen)
        } else if caplen > hdrlen {
            hex(nd, "\n\t", hdrlen, caplen - hdrlen)
        } else {
            Ok(())
        }
    } else if o.aflag > 0 {
        if o.aflag > 1 {
            ascii(nd, 0, caplen)
        } else if caplen > hdrlen {
            ascii(nd, hdrlen, caplen - hdrlen)
        } else {
            Ok(())
        }
    } else {
        Ok(())
    };
    if r.is_err() {
        nd.print_trunc();
    }
}

/// ascii_print: printable characters, tab, space and newline as they are,
/// everything else as '.', and CR dropped before LF.
pub(crate) fn ascii(nd: &mut Nd<'_>, mut off: usize, length: usize) -> R {
    nd.proto = "ascii";
    let cap = nd.avail(off);
    let (mut length, truncated) = if length > cap {
        (cap, true)
    } else {
        (length, false)
    };
    nd.ch(b'\n');
    while length > 0 {
        let s = nd.u1(off)?;
        off += 1;
        length -= 1;
        if s == b'\r' {
            if length > 1 && nd.u1(off)? != b'\n' {
                nd.ch(b'.');
            }
        } else if !(s > 0x20 && s <= 0x7e) && s != b'\t' && s != b' ' && s != b'\n' {
            nd.ch(b'.');
        } else {
            nd.ch(s);
        }
    }
    if truncated {
        return Err(Trunc);
    }
    Ok(())
}

/// hex_and_ascii_print: 16 bytes a line as hex words, then the graphic characters.
pub(crate) fn hex_and_ascii(nd: &mut Nd<'_>, ident: &str, mut off: usize, length: usize) -> R {
    let cap = nd.avail(off);
    let (length, truncated) = if length > cap {
        (cap, true)
    } else {
        (length, false)
    };
    let mut oset = 0u64;
    let mut hex = [0u8; 40];
    let mut hlen = 0;
    let mut asc = [0u8; 16];
    let mut alen = 0;
    let mut i = 0;
    let graphic = |c: u8| if c > 0x20 && c <= 0x7e { c } else { b'.' };
    let mut nshorts = length / 2;
    while nshorts != 0 {
        let s1 = nd.u1(off)?;
        let s2 = nd.u1(off + 1)?;
        off += 2;
        hex[hlen] = b' ';
        hex_byte(&mut hex[hlen + 1..], s1);
        hex_byte(&mut hex[hlen + 3..], s2);
        hlen += 5;
        asc[alen] = graphic(s1);
        asc[alen + 1] = graphic(s2);
        alen += 2;
        i += 1;
        if i >= 8 {
            emit_line(nd, ident, oset, &hex[..hlen], &asc[..alen]);
            i = 0;
            hlen = 0;
            alen = 0;
            oset += 16;
        }
        nshorts -= 1;
    }
    if length & 1 == 1 {
        let s1 = nd.u1(off)?;
        hex[hlen] = b' ';
        hex_byte(&mut hex[hlen + 1..], s1);
        hlen += 3;
        asc[alen] = graphic(s1);
        alen += 1;
        i += 1;
    }
    if i > 0 {
        emit_line(nd, ident, oset, &hex[..hlen], &asc[..alen]);
    }
    if truncated {
        return Err(Trunc);
    }
    Ok(())
}

fn hex_byte(dst: &mut [u8], b: u8) {
    const H: &[u8; 16] = b"0123456789abcdef";
    dst[0] = H[(b >> 4) as usize];
    dst[1] = H[(b & 0xf) as usize];
}

fn emit_line(nd: &mut Nd<'_>, ident: &str, oset: u64, hex: &[u8], asc: &[u8]) {
    nd.s(ident);
    nd.s("0x");
    put_hex(nd.out, oset, 4);
    nd.s(": ");
    nd.out.extend_from_slice(hex);
    for _ in hex.len()..40 {
        nd.ch(b' ');
    }
    nd.s("  ");
    nd.out.extend_from_slice(asc);
}

/// hex_print: 16 bytes a line as hex words.
pub(crate) fn hex(nd: &mut Nd<'_>, ident: &str, mut off: usize, length: usize) -> R {
    let cap = nd.avail(off);
    let (length, truncated) = if length > cap {
        (cap, true)
    } else {
        (length, false)
    };
    let mut oset = 0u64;
    let mut i = 0usize;
    let mut nshorts = length / 2;
    while nshorts != 0 {
        if i % 8 == 0 {
            nd.s(ident);
            nd.s("0x");
            put_hex(nd.out, oset, 4);
            nd.s(": ");
            oset += 16;
        }
        i += 1;
        let s = nd.u1(off)?;
        let t = nd.u1(off + 1)?;
        off += 2;
        nd.ch(b' ');
        put_hex(nd.out, s as u64, 2);
        put_hex(nd.out, t as u64, 2);
        nshorts -= 1;
    }
    if length & 1 == 1 {
        if i % 8 == 0 {
            nd.s(ident);
            nd.s("0x");
            put_hex(nd.out, oset, 4);
            nd.s(": ");
        }
        let s = nd.u1(off)?;
        nd.ch(b' ');
        put_hex(nd.out, s as u64, 2);
    }
    if truncated {
        return Err(Trunc);
    }
    Ok(())
}

/// ND_DEFAULTPRINT: what tcpdump prints for a payload it cannot decode.
pub(crate) fn default_print(nd: &mut Nd<'_>, off: usize, length: usize) -> R {
    hex_and_ascii(nd, "\n\t", off, length)
}

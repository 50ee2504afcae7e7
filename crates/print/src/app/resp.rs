//! Redis RESP on port 6379 (print-resp.c): simple strings, errors,
//! integers, bulk strings, arrays and inline commands, pipelined.
//! Each parser returns the bytes it consumed, or `None` for tcpdump's
//! `goto trunc`.

use crate::nd::{Nd, R};

pub(crate) fn resp_print(nd: &mut Nd<'_>, mut bp: usize, length: usize) -> R {
    nd.proto = "resp";
    nd.s(": RESP");
    let mut length = length as i64;
    while length > 0 {
        match parse(nd, bp, length)? {
            Some(n) => {
                bp += n as usize;
                length -= n;
            }
            None => {
                nd.print_trunc();
                return Ok(());
            }
        }
    }
    Ok(())
}

fn parse(nd: &mut Nd<'_>, bp: usize, length: i64) -> R<Option<i64>> {
    if length < 1 {
        return Ok(None);
    }
    match nd.u1(bp)? {
        b'+' | b':' | b'-' => string_error_integer(nd, bp, length),
        b'$' => bulk_string(nd, bp, length),
        b'*' => array(nd, bp, length),
        _ => inline(nd, bp, length),
    }
}

/// RESP_PRINT_SEGMENT; false when the capture ends inside the segment.
fn segment(nd: &mut Nd<'_>, bp: usize, len: usize) -> R<bool> {
    nd.s(" \"");
    let mut n = len;
    let mut s = bp;
    while n > 0 && s < nd.snapend {
        n -= 1;
        let c = nd.u1(s)?;
        s += 1;
        nd.print_char(c);
    }
    if n != 0 {
        return Ok(false);
    }
    nd.ch(b'"');
    Ok(true)
}

/// FIND_CRLF: advance to a CR LF pair; None if it runs out first.
fn find_crlf(nd: &Nd<'_>, mut p: usize, mut len: i64) -> R<Option<(usize, i64)>> {
    loop {
        if len < 2 || !nd.ttest(p, 2) {
            return Ok(None);
        }
        if nd.u1(p)? == b'\r' && nd.u1(p + 1)? == b'\n' {
            return Ok(Some((p, len)));
        }
        p += 1;
        len -= 1;
    }
}

fn string_error_integer(nd: &mut Nd<'_>, bp: usize, length: i64) -> R<Option<i64>> {
    let start = bp + 1;
    let Some((end, _)) = find_crlf(nd, start, length - 1)? else {
        return Ok(None);
    };
    let len = end - start;
    if !segment(nd, start, len)? {
        return Ok(None);
    }
    Ok(Some(1 + len as i64 + 2))
}

/// resp_get_length: the decimal length after an opcode, with tcpdump's
/// sentinel values (-1 null, -2 trunc, -3 too large, -4 negative, -5 invalid).
fn get_length(nd: &Nd<'_>, mut bp: usize, mut len: i64) -> R<(i64, usize)> {
    if len == 0 {
        return Ok((-2, bp));
    }
    let mut neg = false;
    let mut too_large = false;
    if nd.u1(bp)? == b'-' {
        neg = true;
        bp += 1;
        len -= 1;
    }
    let mut result: i64 = 0;
    let mut saw_digit = false;
    loop {
        if len == 0 {
            return Ok((-2, bp));
        }
        let c = nd.u1(bp)?;
        if !c.is_ascii_digit() {
            if !saw_digit {
                return Ok((-5, bp + 1));
            }
            break;
        }
        let d = (c - b'0') as i64;
        let max = i32::MAX as i64;
        if result > max / 10 {
            too_large = true;
        } else {
            result *= 10;
            if result == (max / 10) * 10 && d > max % 10 {
                too_large = true;
            } else {
                result += d;
            }
        }
        bp += 1;
        len -= 1;
        saw_digit = true;
    }
    if nd.u1(bp)? != b'\r' {
        return Ok((-5, bp + 1));
    }
    bp += 1;
    len -= 1;
    if len == 0 {
        return Ok((-2, bp));
    }
    if nd.u1(bp)? != b'\n' {
        return Ok((-5, bp + 1));
    }
    bp += 1;
    if neg {
        if too_large || result != 1 {
            return Ok((-4, bp));
        }
        return Ok((-1, bp));
    }
    Ok((if too_large { -3 } else { result }, bp))
}

fn length_verdict(nd: &mut Nd<'_>, v: i64) -> bool {
    match v {
        -1 => nd.s(" null"),
        -2 => return false,
        -3 => nd.s(" length too large"),
        -4 => nd.s(" length negative and not -1"),
        _ => nd.s(" invalid"),
    }
    true
}

fn bulk_string(nd: &mut Nd<'_>, bp: usize, length: i64) -> R<Option<i64>> {
    let mut cur = length - 1;
    let p = bp + 1;
    let (string_len, endp) = get_length(nd, p, cur)?;
    cur -= (endp - p) as i64;
    let mut p = endp;
    if string_len >= 0 {
        if string_len == 0 {
            nd.s(" empty");
        } else {
            if cur < string_len || !nd.ttest(p, string_len as usize) {
                return Ok(None);
            }
            if !segment(nd, p, string_len as usize)? {
                return Ok(None);
            }
            p += string_len as usize;
            cur -= string_len;
        }
        let Some((_, l)) = find_crlf(nd, p, cur)? else {
            return Ok(None);
        };
        cur = l - 2;
    } else if !length_verdict(nd, string_len) {
        return Ok(None);
    }
    Ok(Some(length - cur))
}

fn array(nd: &mut Nd<'_>, bp: usize, length: i64) -> R<Option<i64>> {
    let mut cur = length - 1;
    let p = bp + 1;
    let (array_len, endp) = get_length(nd, p, cur)?;
    cur -= (endp - p) as i64;
    let mut p = endp;
    if array_len > 0 {
        for _ in 0..array_len {
            let Some(n) = parse(nd, p, cur)? else {
                return Ok(None);
            };
            p += n as usize;
            cur -= n;
        }
    } else if array_len == 0 {
        nd.s(" empty");
    } else if !length_verdict(nd, array_len) {
        return Ok(None);
    }
    Ok(Some(length - cur))
}

/// CONSUME_CR_OR_LF; None when the data ends before any CR or LF.
fn consume_cr_or_lf(nd: &Nd<'_>, mut p: usize, mut len: i64) -> R<Option<(usize, i64)>> {
    let mut found = false;
    loop {
        if len == 0 || !nd.ttest(p, 1) {
            return Ok(if found { Some((p, len)) } else { None });
        }
        let c = nd.u1(p)?;
        if c != b'\r' && c != b'\n' {
            return Ok(Some((p, len)));
        }
        found = true;
        p += 1;
        len -= 1;
    }
}

fn inline(nd: &mut Nd<'_>, bp: usize, length: i64) -> R<Option<i64>> {
    let Some((start, mut cur)) = consume_cr_or_lf(nd, bp, length)? else {
        return Ok(None);
    };
    let mut p = start;
    loop {
        if cur < 1 {
            return Ok(None);
        }
        let c = nd.u1(p)?;
        if c == b'\r' || c == b'\n' {
            break;
        }
        p += 1;
        cur -= 1;
    }
    if !segment(nd, start, p - start)? {
        return Ok(None);
    }
    let Some((_, rest)) = consume_cr_or_lf(nd, p, cur)? else {
        return Ok(None);
    };
    cur = rest;
    Ok(Some(length - cur))
}

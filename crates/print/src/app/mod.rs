//! Application-layer printers reached from TCP and UDP ports, as far as
//! tcpscope decodes them. Ports tcpdump decodes and tcpscope does not end
//! the line after the TCP fields; the conformance test names them.

pub(crate) mod arp;
pub(crate) mod domain;
pub(crate) mod gre;
pub(crate) mod icmp;
pub(crate) mod resp;
pub(crate) mod udp;

use crate::nd::{Nd, R};

/// The port demux at the end of tcp_print.
pub(crate) fn tcp_payload(
    nd: &mut Nd<'_>,
    bp: usize,
    length: usize,
    sport: u16,
    dport: u16,
    _iph: usize,
) -> R {
    let either = |p: u16| sport == p || dport == p;
    if either(23) {
        // telnet: not decoded.
        Ok(())
    } else if either(25) {
        nd.s(": ");
        nd.proto = "smtp";
        txtproto(nd, bp, length, None)
    } else if either(43) {
        nd.s(": ");
        nd.proto = "whois";
        txtproto(nd, bp, length, None)
    } else if either(6379) {
        resp::resp_print(nd, bp, length)
    } else if either(22) {
        ssh_print(nd, bp, length)
    } else if either(21) {
        nd.s(": ");
        nd.proto = "ftp";
        txtproto(nd, bp, length, None)
    } else if either(80) || either(8080) {
        nd.s(": ");
        nd.proto = "http";
        txtproto(nd, bp, length, Some(HTTP_CMDS))
    } else if either(554) || either(8554) {
        nd.s(": ");
        nd.proto = "rtsp";
        txtproto(nd, bp, length, Some(RTSP_CMDS))
    } else if either(53) {
        domain::domain_print(nd, bp, length, true)
    } else {
        Ok(())
    }
}

/// `-T zmtp1`: tcpscope does not decode ZMTP; the line ends after TCP.
pub(crate) fn zmtp1_print(_nd: &mut Nd<'_>, _bp: usize, _length: usize) -> R {
    Ok(())
}

const HTTP_CMDS: &[&str] = &[
    "GET",
    "PUT",
    "COPY",
    "HEAD",
    "LOCK",
    "MOVE",
    "POLL",
    "POST",
    "BCOPY",
    "BMOVE",
    "MKCOL",
    "TRACE",
    "LABEL",
    "MERGE",
    "DELETE",
    "SEARCH",
    "UNLOCK",
    "REPORT",
    "UPDATE",
    "NOTIFY",
    "BDELETE",
    "CONNECT",
    "OPTIONS",
    "CHECKIN",
    "PROPFIND",
    "CHECKOUT",
    "CCM_POST",
    "SUBSCRIBE",
    "PROPPATCH",
    "BPROPFIND",
    "BPROPPATCH",
    "UNCHECKOUT",
    "MKACTIVITY",
    "MKWORKSPACE",
    "UNSUBSCRIBE",
    "RPC_CONNECT",
    "VERSION-CONTROL",
    "BASELINE-CONTROL",
];

const RTSP_CMDS: &[&str] = &[
    "DESCRIBE",
    "ANNOUNCE",
    "GET_PARAMETER",
    "OPTIONS",
    "PAUSE",
    "PLAY",
    "RECORD",
    "REDIRECT",
    "SETUP",
    "SET_PARAMETER",
    "TEARDOWN",
];

const MAX_TOKEN: usize = 128;

/// fetch_token: the next token, or 0 if none; returns the index after the
/// token and its trailing blanks.
fn fetch_token(
    nd: &Nd<'_>,
    p: usize,
    mut idx: usize,
    len: usize,
    tok: &mut [u8; MAX_TOKEN + 1],
) -> (usize, usize) {
    let mut toklen = 0;
    while idx < len {
        let Ok(c) = nd.u1(p + idx) else { return (0, 0) };
        if c & 0x80 != 0 {
            return (0, 0);
        }
        if c == b' ' || c == b'\t' || c == b'\r' || c == b'\n' {
            break;
        }
        if !(0x20..=0x7e).contains(&c) {
            return (0, 0);
        }
        if toklen + 2 > tok.len() {
            return (0, 0);
        }
        tok[toklen] = c;
        toklen += 1;
        idx += 1;
    }
    if toklen == 0 {
        return (0, 0);
    }
    while idx < len {
        let Ok(c) = nd.u1(p + idx) else { break };
        if c == b'\r' || c == b'\n' || !(0x20..=0x7e).contains(&c) || (c != b' ' && c != b'\t') {
            break;
        }
        idx += 1;
    }
    (idx, toklen)
}

/// print_txt_line: one CRLF- or LF-terminated printable line; 0 to stop.
fn print_txt_line(nd: &mut Nd<'_>, prefix: &str, p: usize, mut idx: usize, len: usize) -> R<usize> {
    let start = idx;
    while idx < len {
        let c = nd.u1(p + idx)?;
        if c == b'\n' {
            let linelen = idx - start;
            nd.s(prefix);
            nd.out
                .extend_from_slice(&nd.pkt[p + start..p + start + linelen]);
            return Ok(idx + 1);
        } else if c == b'\r' {
            if idx + 1 >= len {
                return Ok(0);
            }
            if nd.u1(p + idx + 1)? == b'\n' {
                let linelen = idx - start;
                nd.s(prefix);
                nd.out
                    .extend_from_slice(&nd.pkt[p + start..p + start + linelen]);
                return Ok(idx + 2);
            }
            return Ok(0);
        } else if !(0x20..=0x7e).contains(&c) && c != b'\t' {
            return Ok(0);
        }
        idx += 1;
    }
    nd.s(prefix);
    nd.out.extend_from_slice(&nd.pkt[p + start..p + idx]);
    nd.print_trunc();
    Ok(0)
}

/// txtproto_print: text protocols (HTTP, RTSP, SMTP, FTP, WHOIS). With a
/// command list, only requests naming a command and responses with a
/// three-digit code are shown.
fn txtproto(nd: &mut Nd<'_>, p: usize, len: usize, cmds: Option<&[&str]>) -> R {
    let mut print_this = false;
    if let Some(cmds) = cmds {
        let mut tok = [0u8; MAX_TOKEN + 1];
        let (mut idx, mut tl) = fetch_token(nd, p, 0, len, &mut tok);
        if idx != 0 {
            if cmds
                .iter()
                .any(|c| c.as_bytes().eq_ignore_ascii_case(&tok[..tl]))
            {
                print_this = true;
            }
            // Responses carry their code in the second token.
            let (i2, t2) = fetch_token(nd, p, idx, len, &mut tok);
            idx = i2;
            if i2 != 0 {
                tl = t2;
            }
            if idx != 0 && tl == 3 && tok[..3].iter().all(u8::is_ascii_digit) {
                print_this = true;
            }
        }
    } else {
        print_this = true;
    }
    nd.print_proto_caps();
    if print_this {
        if nd.opts.vflag > 0 {
            nd.s(", length: ");
            nd.dec(len as u64);
            let mut idx = 0;
            while idx < len {
                let eol = print_txt_line(nd, "\n\t", p, idx, len)?;
                if eol == 0 {
                    break;
                }
                idx = eol;
            }
        } else {
            print_txt_line(nd, ": ", p, 0, len)?;
        }
    }
    Ok(())
}

/// ssh_print: the version banner of an SSH connection.
fn ssh_print(nd: &mut Nd<'_>, p: usize, len: usize) -> R {
    nd.proto = "ssh";
    for (i, c) in b"SSH-".iter().enumerate() {
        if nd.u1(p + i)? != *c {
            return Ok(());
        }
    }
    let mut idx = 4;
    while idx < len {
        let c = nd.u1(p + idx)?;
        if c == b'\n' {
            break;
        } else if c == b'\r' {
            if idx + 1 >= len || nd.u1(p + idx + 1)? != b'\n' {
                return Ok(());
            }
            break;
        } else if !(0x20..=0x7e).contains(&c) {
            return Ok(());
        }
        idx += 1;
    }
    if idx >= len {
        return Ok(());
    }
    nd.s(": ");
    nd.print_proto_caps();
    nd.s(": ");
    nd.out.extend_from_slice(&nd.pkt[p..p + idx]);
    Ok(())
}

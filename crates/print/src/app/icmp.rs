//! ICMP and ICMPv6, the common messages only: echo, unreachable, time
//! exceeded. Others print their type number.

use crate::nd::{Nd, R};

pub(crate) fn icmp_print(nd: &mut Nd<'_>, bp: usize, length: usize) -> R {
    nd.proto = "icmp";
    let t = nd.u1(bp)?;
    let code = nd.u1(bp + 1)?;
    nd.s("ICMP ");
    match t {
        0 | 8 => {
            nd.s(if t == 8 { "echo request" } else { "echo reply" });
            nd.s(", id ");
            nd.dec(nd.be2(bp + 4)? as u64);
            nd.s(", seq ");
            nd.dec(nd.be2(bp + 6)? as u64);
        }
        3 => {
            let inner = bp + 8;
            match code {
                3 if nd.ttest(inner, 28) && nd.u1(inner + 9)? == 17 => {
                    nd.ipaddr(inner + 16)?;
                    nd.s(" udp port ");
                    let ihl = (nd.u1(inner)? & 0xf) as usize * 4;
                    nd.dec(nd.be2(inner + ihl + 2)? as u64);
                    nd.s(" unreachable");
                }
                3 if nd.ttest(inner, 24) && nd.u1(inner + 9)? == 6 => {
                    nd.ipaddr(inner + 16)?;
                    nd.s(" tcp port ");
                    let ihl = (nd.u1(inner)? & 0xf) as usize * 4;
                    nd.dec(nd.be2(inner + ihl + 2)? as u64);
                    nd.s(" unreachable");
                }
                _ => {
                    nd.s("unreachable code ");
                    nd.dec(code as u64);
                }
            }
        }
        11 => nd.s(if code == 0 {
            "time exceeded in-transit"
        } else {
            "ip reassembly time exceeded"
        }),
        _ => {
            nd.s("type-#");
            nd.dec(t as u64);
        }
    }
    nd.s(", length ");
    nd.dec(length as u64);
    Ok(())
}

pub(crate) fn icmp6_print(nd: &mut Nd<'_>, bp: usize, length: usize) -> R {
    nd.proto = "icmp6";
    let t = nd.u1(bp)?;
    nd.s("ICMP6, ");
    match t {
        128 | 129 => {
            nd.s(if t == 128 {
                "echo request"
            } else {
                "echo reply"
            });
            nd.s(", id ");
            nd.dec(nd.be2(bp + 4)? as u64);
            nd.s(", seq ");
            nd.dec(nd.be2(bp + 6)? as u64);
        }
        1 => nd.s("destination unreachable"),
        3 => nd.s("time exceeded in-transit"),
        135 => nd.s("neighbor solicitation"),
        136 => nd.s("neighbor advertisement"),
        133 => nd.s("router solicitation"),
        134 => nd.s("router advertisement"),
        _ => {
            nd.s("type-#");
            nd.dec(t as u64);
        }
    }
    nd.s(", length ");
    nd.dec(length as u64);
    Ok(())
}

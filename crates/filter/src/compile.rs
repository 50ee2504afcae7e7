//! From an expression tree to classic BPF for one link type, with the
//! protocol checks tcpdump's compiler makes: the EtherType (or address
//! family, or IP version), the IP protocol, and "not a later fragment"
//! before anything reads a transport header.

use std::net::IpAddr;

use crate::bpf::{op, Insn};
use crate::parse::{Arith, Dir, Expr, Prim, Proto};

/// The link types a filter can be compiled for (LINKTYPE_ values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Ether,
    Sll,
    Sll2,
    /// BSD loopback: the AF in the writer's byte order (libpcap compares the reading host's).
    Null,
    /// OpenBSD loopback: the AF in network byte order.
    Loop,
    /// Raw IP: the version nibble tells.
    Raw,
    /// LINKTYPE_IPV4: every packet is IPv4.
    Ipv4,
    /// LINKTYPE_IPV6: every packet is IPv6.
    Ipv6,
}

/// Why a filter cannot be compiled for a link type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError(pub String);

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct L(usize);

enum P {
    I(Insn),
    J { code: u16, k: u32, t: L, f: L },
    Ja(L),
    Place(L),
}

struct Gen {
    code: Vec<P>,
    labels: usize,
    kind: Kind,
    off_lt: u32,
    off_nl: u32,
    scratch: u32,
}

const ETH_IP: u16 = 0x0800;
const ETH_IP6: u16 = 0x86dd;
const ETH_ARP: u16 = 0x0806;
const ETH_RARP: u16 = 0x8035;

fn ld(size: u16, k: u32) -> Insn {
    Insn {
        code: op::LD | size | op::ABS,
        jt: 0,
        jf: 0,
        k,
    }
}

/// Compile `expr` (or accept everything) for the link type `linktype`.
pub fn compile(
    expr: Option<&Expr>,
    linktype: u32,
    snaplen: u32,
) -> Result<Vec<Insn>, CompileError> {
    let (kind, off_lt, off_nl) = match linktype {
        1 => (Kind::Ether, 12, 14),
        113 => (Kind::Sll, 14, 16),
        276 => (Kind::Sll2, 0, 20),
        0 => (Kind::Null, 0, 4),
        108 => (Kind::Loop, 0, 4),
        101 | 12 | 14 => (Kind::Raw, 0, 0),
        228 => (Kind::Ipv4, 0, 0),
        229 => (Kind::Ipv6, 0, 0),
        other => {
            return Err(CompileError(format!(
                "filters are not supported on link type {other}"
            )))
        }
    };
    let mut g = Gen {
        code: Vec::new(),
        labels: 0,
        kind,
        off_lt,
        off_nl,
        scratch: 0,
    };
    let (t, f) = (g.label(), g.label());
    match expr {
        Some(e) => g.expr(e, t, f)?,
        None => g.code.push(P::Ja(t)),
    }
    g.code.push(P::Place(t));
    g.code.push(P::I(Insn {
        code: op::RET | op::K,
        jt: 0,
        jf: 0,
        k: snaplen,
    }));
    g.code.push(P::Place(f));
    g.code.push(P::I(Insn {
        code: op::RET | op::K,
        jt: 0,
        jf: 0,
        k: 0,
    }));
    g.resolve()
}

impl Gen {
    fn label(&mut self) -> L {
        self.labels += 1;
        L(self.labels - 1)
    }
    fn i(&mut self, insn: Insn) {
        self.code.push(P::I(insn));
    }
    /// A = the packet's length on the wire (`len`).
    fn load_len(&mut self) {
        self.i(Insn {
            code: op::LD | op::W | op::LEN,
            jt: 0,
            jf: 0,
            k: 0,
        });
    }
    fn j(&mut self, cmp: u16, k: u32, t: L, f: L) {
        self.code.push(P::J {
            code: op::JMP | cmp | op::K,
            k,
            t,
            f,
        });
    }
    fn place(&mut self, l: L) {
        self.code.push(P::Place(l));
    }

    /// Each label's instruction number, and the number of instructions.
    fn positions(&self) -> (Vec<usize>, usize) {
        let mut pos = vec![0usize; self.labels];
        let mut n = 0;
        for p in &self.code {
            match p {
                P::Place(l) => pos[l.0] = n,
                _ => n += 1,
            }
        }
        (pos, n)
    }

    /// A conditional jump reaches at most 255 instructions ahead (its
    /// offsets are bytes); one that must go further jumps to an
    /// unconditional `ja` (32-bit offset) placed right after it, as
    /// libpcap's code generator does. Placing them moves the code after,
    /// so this repeats until every jump reaches.
    fn lengthen_jumps(&mut self) {
        loop {
            let (pos, _) = self.positions();
            let mut far = vec![false; self.code.len()];
            let mut n = 0;
            for (idx, p) in self.code.iter().enumerate() {
                match p {
                    P::Place(_) => continue,
                    P::J { t, f, .. } => {
                        far[idx] = pos[t.0] - n - 1 > 255 || pos[f.0] - n - 1 > 255;
                    }
                    _ => {}
                }
                n += 1;
            }
            if !far.contains(&true) {
                return;
            }
            // One pass over the code for all of them (one at a time would
            // be quadratic on a long chain).
            let old = std::mem::take(&mut self.code);
            let mut labels = self.labels;
            for (p, far) in old.into_iter().zip(far) {
                match p {
                    P::J { code, k, t, f } if far => {
                        let (near_t, near_f) = (L(labels), L(labels + 1));
                        labels += 2;
                        self.code.extend([
                            P::J {
                                code,
                                k,
                                t: near_t,
                                f: near_f,
                            },
                            P::Place(near_t),
                            P::Ja(t),
                            P::Place(near_f),
                            P::Ja(f),
                        ]);
                    }
                    p => self.code.push(p),
                }
            }
            self.labels = labels;
        }
    }

    fn resolve(mut self) -> Result<Vec<Insn>, CompileError> {
        self.lengthen_jumps();
        let (pos, n) = self.positions();
        let mut out = Vec::with_capacity(n);
        for p in &self.code {
            let here = out.len();
            match p {
                P::I(i) => out.push(*i),
                P::J { code, k, t, f } => {
                    let (jt, jf) = (pos[t.0] - here - 1, pos[f.0] - here - 1);
                    if jt > 255 || jf > 255 {
                        return Err(CompileError(
                            "filter too large: a jump is longer than classic BPF allows".into(),
                        ));
                    }
                    out.push(Insn {
                        code: *code,
                        jt: jt as u8,
                        jf: jf as u8,
                        k: *k,
                    });
                }
                P::Ja(l) => out.push(Insn {
                    code: op::JMP | op::JA,
                    jt: 0,
                    jf: 0,
                    k: (pos[l.0] - here - 1) as u32,
                }),
                P::Place(_) => {}
            }
        }
        Ok(out)
    }

    fn expr(&mut self, e: &Expr, t: L, f: L) -> Result<(), CompileError> {
        match e {
            Expr::And(a, b) => {
                let mid = self.label();
                self.expr(a, mid, f)?;
                self.place(mid);
                self.expr(b, t, f)
            }
            Expr::Or(a, b) => {
                let mid = self.label();
                self.expr(a, t, mid)?;
                self.place(mid);
                self.expr(b, t, f)
            }
            Expr::Not(a) => self.expr(a, f, t),
            Expr::Prim(p) => self.prim(p, t, f),
            Expr::Rel(a, rel, b) => {
                let mut pre = Vec::new();
                preconditions(a, &mut pre);
                preconditions(b, &mut pre);
                for p in pre {
                    let next = self.label();
                    match p {
                        // Transport accessors: that protocol over IPv4, first fragment.
                        Proto::Tcp | Proto::Udp | Proto::Sctp | Proto::Icmp => {
                            self.ip_proto(transport_number(p), true, next, f)
                        }
                        _ => self.proto_check(p, next, f)?,
                    }
                    self.place(next);
                }
                self.arith(a)?;
                let m = self.alloc();
                self.i(Insn {
                    code: op::ST,
                    jt: 0,
                    jf: 0,
                    k: m,
                });
                self.arith(b)?;
                self.i(Insn {
                    code: op::MISC | op::TAX,
                    jt: 0,
                    jf: 0,
                    k: 0,
                });
                self.i(Insn {
                    code: op::LD | op::MEM,
                    jt: 0,
                    jf: 0,
                    k: m,
                });
                let x = op::JMP | op::X;
                let (cmp, tt, ff) = match *rel {
                    "=" | "==" => (op::JEQ, t, f),
                    "!=" => (op::JEQ, f, t),
                    ">" => (op::JGT, t, f),
                    ">=" => (op::JGE, t, f),
                    "<" => (op::JGE, f, t),
                    _ => (op::JGT, f, t),
                };
                self.code.push(P::J {
                    code: x | cmp,
                    k: 0,
                    t: tt,
                    f: ff,
                });
                Ok(())
            }
        }
    }

    fn alloc(&mut self) -> u32 {
        let m = self.scratch % 16;
        self.scratch += 1;
        m
    }

    /// The link layer carries this EtherType (or its AF or IP version equivalent).
    fn link_is(&mut self, et: u16, t: L, f: L) {
        match self.kind {
            Kind::Ether | Kind::Sll | Kind::Sll2 => {
                self.i(ld(op::H, self.off_lt));
                self.j(op::JEQ, et as u32, t, f);
            }
            Kind::Ipv4 | Kind::Ipv6 => {
                let yes = (et == ETH_IP && self.kind == Kind::Ipv4)
                    || (et == ETH_IP6 && self.kind == Kind::Ipv6);
                self.code.push(P::Ja(if yes { t } else { f }));
            }
            Kind::Null | Kind::Loop => {
                let afs: &[u32] = match et {
                    ETH_IP => &[2],
                    ETH_IP6 => &[24, 28, 30],
                    _ => &[],
                };
                if afs.is_empty() {
                    self.code.push(P::Ja(f));
                    return;
                }
                self.i(ld(op::W, 0));
                for af in afs {
                    // Loads are big-endian: NULL's AF is compared in this
                    // (little-endian) host's order, as libpcap does; LOOP's
                    // is in network order.
                    let v = if self.kind == Kind::Null {
                        af.swap_bytes()
                    } else {
                        *af
                    };
                    let next = self.label();
                    self.j(op::JEQ, v, t, next);
                    self.place(next);
                }
                self.code.push(P::Ja(f));
            }
            Kind::Raw => {
                let ver = match et {
                    ETH_IP => 0x40,
                    ETH_IP6 => 0x60,
                    _ => {
                        self.code.push(P::Ja(f));
                        return;
                    }
                };
                self.i(ld(op::B, 0));
                self.i(Insn {
                    code: op::ALU | op::AND | op::K,
                    jt: 0,
                    jf: 0,
                    k: 0xf0,
                });
                self.j(op::JEQ, ver, t, f);
            }
        }
    }

    fn then(
        &mut self,
        first: impl FnOnce(&mut Self, L, L),
        second: impl FnOnce(&mut Self, L, L),
        t: L,
        f: L,
    ) {
        let mid = self.label();
        first(self, mid, f);
        self.place(mid);
        second(self, t, f);
    }

    /// IPv4 with this protocol, and not a later fragment when `unfragmented`.
    fn ip_proto(&mut self, p: u8, unfragmented: bool, t: L, f: L) {
        let nl = self.off_nl;
        self.then(
            |g, t2, f2| g.link_is(ETH_IP, t2, f2),
            |g, t2, f2| {
                g.i(ld(op::B, nl + 9));
                if unfragmented {
                    let mid = g.label();
                    g.j(op::JEQ, p as u32, mid, f2);
                    g.place(mid);
                    g.i(ld(op::H, nl + 6));
                    g.j(op::JSET, 0x1fff, f2, t2);
                } else {
                    g.j(op::JEQ, p as u32, t2, f2);
                }
            },
            t,
            f,
        );
    }

    /// IPv6 whose next header (or the one after a fragment header) is `p`.
    fn ip6_proto(&mut self, p: u8, t: L, f: L) {
        let nl = self.off_nl;
        self.then(
            |g, t2, f2| g.link_is(ETH_IP6, t2, f2),
            |g, t2, f2| {
                let frag = g.label();
                let no = g.label();
                g.i(ld(op::B, nl + 6));
                g.j(op::JEQ, p as u32, t2, frag);
                g.place(frag);
                g.j(op::JEQ, 44, no, f2);
                g.place(no);
                g.i(ld(op::B, nl + 40));
                g.j(op::JEQ, p as u32, t2, f2);
            },
            t,
            f,
        );
    }

    fn proto_check(&mut self, p: Proto, t: L, f: L) -> Result<(), CompileError> {
        match p {
            Proto::Ether => {
                if self.kind != Kind::Ether {
                    return Err(CompileError(
                        "'ether' is only meaningful on Ethernet captures".into(),
                    ));
                }
                self.code.push(P::Ja(t));
            }
            Proto::Ip => self.link_is(ETH_IP, t, f),
            Proto::Ip6 => self.link_is(ETH_IP6, t, f),
            Proto::Arp => self.link_is(ETH_ARP, t, f),
            Proto::Rarp => self.link_is(ETH_RARP, t, f),
            Proto::Icmp => self.ip_proto(1, false, t, f),
            Proto::Icmp6 => self.ip6_proto(58, t, f),
            Proto::Tcp | Proto::Udp | Proto::Sctp => {
                let n = transport_number(p);
                let mid = self.label();
                self.ip_proto(n, false, t, mid);
                self.place(mid);
                self.ip6_proto(n, t, f);
            }
        }
        Ok(())
    }

    fn prim(&mut self, p: &Prim, t: L, f: L) -> Result<(), CompileError> {
        let nl = self.off_nl;
        match p {
            Prim::Proto(p) => self.proto_check(*p, t, f)?,
            Prim::Less(n) => {
                self.load_len();
                self.j(op::JGT, *n, f, t);
            }
            Prim::Greater(n) => {
                self.load_len();
                self.j(op::JGE, *n, t, f);
            }
            Prim::EtherProto(et) => self.link_is(*et, t, f),
            Prim::IpProto(proto, n) => match proto {
                Some(Proto::Ip) => self.ip_proto(*n, false, t, f),
                Some(Proto::Ip6) => self.ip6_proto(*n, t, f),
                _ => {
                    let mid = self.label();
                    self.ip_proto(*n, false, t, mid);
                    self.place(mid);
                    self.ip6_proto(*n, t, f);
                }
            },
            Prim::Vlan(id) => {
                if self.kind != Kind::Ether {
                    return Err(CompileError(
                        "'vlan' is only supported on Ethernet captures".into(),
                    ));
                }
                let lt = self.off_lt;
                let ok = self.label();
                let tag = self.label();
                self.i(ld(op::H, lt));
                let q2 = self.label();
                self.j(op::JEQ, 0x8100, tag, q2);
                self.place(q2);
                let q3 = self.label();
                self.j(op::JEQ, 0x88a8, tag, q3);
                self.place(q3);
                self.j(op::JEQ, 0x9100, tag, f);
                self.place(tag);
                match id {
                    Some(v) => {
                        self.i(ld(op::H, lt + 2));
                        self.i(Insn {
                            code: op::ALU | op::AND | op::K,
                            jt: 0,
                            jf: 0,
                            k: 0x0fff,
                        });
                        self.j(op::JEQ, *v as u32, ok, f);
                    }
                    None => self.code.push(P::Ja(ok)),
                }
                self.place(ok);
                self.code.push(P::Ja(t));
                // As in tcpdump: what follows 'vlan' looks past the tag.
                self.off_lt += 4;
                self.off_nl += 4;
            }
            Prim::EtherHost(dir, mac) => {
                if self.kind != Kind::Ether {
                    return Err(CompileError(
                        "'ether host' is only meaningful on Ethernet captures".into(),
                    ));
                }
                let at = |off: u32| {
                    move |g: &mut Gen, t2: L, f2: L| {
                        let mid = g.label();
                        g.i(ld(op::W, off + 2));
                        g.j(
                            op::JEQ,
                            u32::from_be_bytes([mac[2], mac[3], mac[4], mac[5]]),
                            mid,
                            f2,
                        );
                        g.place(mid);
                        g.i(ld(op::H, off));
                        g.j(op::JEQ, u16::from_be_bytes([mac[0], mac[1]]) as u32, t2, f2);
                    }
                };
                self.dir(*dir, at(6), at(0), t, f);
            }
            Prim::Host(proto, dir, IpAddr::V4(a)) => {
                let v = u32::from(*a);
                let ipaddr = |off: u32| {
                    move |g: &mut Gen, t2: L, f2: L| {
                        g.i(ld(op::W, off));
                        g.j(op::JEQ, v, t2, f2);
                    }
                };
                let ip = |g: &mut Gen, t2: L, f2: L| {
                    g.then(
                        |g, a, b| g.link_is(ETH_IP, a, b),
                        |g, a, b| g.dir(*dir, ipaddr(nl + 12), ipaddr(nl + 16), a, b),
                        t2,
                        f2,
                    )
                };
                let arp = |et: u16| {
                    move |g: &mut Gen, t2: L, f2: L| {
                        g.then(
                            |g, a, b| g.link_is(et, a, b),
                            |g, a, b| g.dir(*dir, ipaddr(nl + 14), ipaddr(nl + 24), a, b),
                            t2,
                            f2,
                        )
                    }
                };
                match proto {
                    Some(Proto::Ip) => ip(self, t, f),
                    Some(Proto::Arp) => arp(ETH_ARP)(self, t, f),
                    Some(Proto::Rarp) => arp(ETH_RARP)(self, t, f),
                    None => {
                        let m1 = self.label();
                        let m2 = self.label();
                        ip(self, t, m1);
                        self.place(m1);
                        arp(ETH_ARP)(self, t, m2);
                        self.place(m2);
                        arp(ETH_RARP)(self, t, f);
                    }
                    Some(other) => {
                        return Err(CompileError(
                            format!("'{other:?} host' is not a valid combination").to_lowercase(),
                        ))
                    }
                }
            }
            Prim::Host(_, dir, IpAddr::V6(a)) => {
                let words: [u32; 4] = std::array::from_fn(|i| {
                    u32::from_be_bytes(a.octets()[4 * i..4 * i + 4].try_into().unwrap())
                });
                self.v6_match(*dir, words, [u32::MAX; 4], t, f);
            }
            Prim::Net(dir, IpAddr::V4(a), bits) => {
                let mask = if *bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - *bits as u32)
                };
                let net = u32::from(*a) & mask;
                let cmp = |off: u32| {
                    move |g: &mut Gen, t2: L, f2: L| {
                        g.i(ld(op::W, off));
                        if mask != u32::MAX {
                            g.i(Insn {
                                code: op::ALU | op::AND | op::K,
                                jt: 0,
                                jf: 0,
                                k: mask,
                            });
                        }
                        g.j(op::JEQ, net, t2, f2);
                    }
                };
                let m1 = self.label();
                let m2 = self.label();
                self.then(
                    |g, a, b| g.link_is(ETH_IP, a, b),
                    |g, a, b| g.dir(*dir, cmp(nl + 12), cmp(nl + 16), a, b),
                    t,
                    m1,
                );
                self.place(m1);
                self.then(
                    |g, a, b| g.link_is(ETH_ARP, a, b),
                    |g, a, b| g.dir(*dir, cmp(nl + 14), cmp(nl + 24), a, b),
                    t,
                    m2,
                );
                self.place(m2);
                self.then(
                    |g, a, b| g.link_is(ETH_RARP, a, b),
                    |g, a, b| g.dir(*dir, cmp(nl + 14), cmp(nl + 24), a, b),
                    t,
                    f,
                );
            }
            Prim::Net(dir, IpAddr::V6(a), bits) => {
                let mut masks = [0u32; 4];
                for (i, m) in masks.iter_mut().enumerate() {
                    let b = (*bits as i32 - 32 * i as i32).clamp(0, 32) as u32;
                    *m = if b == 0 { 0 } else { u32::MAX << (32 - b) };
                }
                let words: [u32; 4] = std::array::from_fn(|i| {
                    u32::from_be_bytes(a.octets()[4 * i..4 * i + 4].try_into().unwrap()) & masks[i]
                });
                self.v6_match(*dir, words, masks, t, f);
            }
            Prim::Port(proto, dir, lo, hi) => {
                let protos: Vec<u8> = match proto {
                    None => vec![6, 17, 132],
                    Some(p @ (Proto::Tcp | Proto::Udp | Proto::Sctp)) => vec![transport_number(*p)],
                    Some(other) => {
                        return Err(CompileError(
                            format!("'port' does not apply to {other:?}").to_lowercase(),
                        ))
                    }
                };
                let (lo, hi) = (*lo as u32, *hi as u32);
                let cmp = move |g: &mut Gen, t2: L, f2: L| {
                    if lo == hi {
                        g.j(op::JEQ, lo, t2, f2);
                    } else {
                        let mid = g.label();
                        g.j(op::JGE, lo, mid, f2);
                        g.place(mid);
                        g.j(op::JGT, hi, f2, t2);
                    }
                };
                // IPv4: the protocol, not a later fragment, then the ports past the IP header.
                let v4 = |g: &mut Gen, t2: L, f2: L| {
                    let ok = g.label();
                    for (i, p) in protos.iter().enumerate() {
                        let next = if i + 1 == protos.len() { f2 } else { g.label() };
                        g.ip_proto(*p, true, ok, next);
                        if i + 1 < protos.len() {
                            g.place(next);
                        }
                    }
                    g.place(ok);
                    g.i(Insn {
                        code: op::LDX | op::B | op::MSH,
                        jt: 0,
                        jf: 0,
                        k: nl,
                    });
                    let port = |off: u32| {
                        move |g: &mut Gen, a: L, b: L| {
                            g.i(Insn {
                                code: op::LD | op::H | op::IND,
                                jt: 0,
                                jf: 0,
                                k: off,
                            });
                            cmp(g, a, b);
                        }
                    };
                    g.dir(*dir, port(nl), port(nl + 2), t2, f2);
                };
                let v6 = |g: &mut Gen, t2: L, f2: L| {
                    let ok = g.label();
                    g.then(
                        |g, a, b| g.link_is(ETH_IP6, a, b),
                        |g, a, b| {
                            g.i(ld(op::B, nl + 6));
                            for (i, p) in protos.iter().enumerate() {
                                let next = if i + 1 == protos.len() { b } else { g.label() };
                                g.j(op::JEQ, *p as u32, a, next);
                                if i + 1 < protos.len() {
                                    g.place(next);
                                }
                            }
                        },
                        ok,
                        f2,
                    );
                    g.place(ok);
                    let port = |off: u32| {
                        move |g: &mut Gen, a: L, b: L| {
                            g.i(ld(op::H, off));
                            cmp(g, a, b);
                        }
                    };
                    g.dir(*dir, port(nl + 40), port(nl + 42), t2, f2);
                };
                let mid = self.label();
                v4(self, t, mid);
                self.place(mid);
                v6(self, t, f);
            }
        }
        Ok(())
    }

    /// Apply a source and a destination test according to the direction.
    fn dir(
        &mut self,
        dir: Dir,
        src: impl FnOnce(&mut Gen, L, L),
        dst: impl FnOnce(&mut Gen, L, L),
        t: L,
        f: L,
    ) {
        match dir {
            Dir::Src => src(self, t, f),
            Dir::Dst => dst(self, t, f),
            Dir::SrcOrDst => {
                let mid = self.label();
                src(self, t, mid);
                self.place(mid);
                dst(self, t, f);
            }
            Dir::SrcAndDst => {
                let mid = self.label();
                src(self, mid, f);
                self.place(mid);
                dst(self, t, f);
            }
        }
    }

    fn v6_match(&mut self, dir: Dir, words: [u32; 4], masks: [u32; 4], t: L, f: L) {
        let nl = self.off_nl;
        let addr = move |off: u32| {
            move |g: &mut Gen, t2: L, f2: L| {
                for i in 0..4 {
                    if masks[i] == 0 {
                        continue;
                    }
                    let next = if i == 3 || masks[i + 1..].iter().all(|m| *m == 0) {
                        t2
                    } else {
                        g.label()
                    };
                    g.i(ld(op::W, off + 4 * i as u32));
                    if masks[i] != u32::MAX {
                        g.i(Insn {
                            code: op::ALU | op::AND | op::K,
                            jt: 0,
                            jf: 0,
                            k: masks[i],
                        });
                    }
                    g.j(op::JEQ, words[i], next, f2);
                    if next != t2 {
                        g.place(next);
                    }
                }
            }
        };
        self.then(
            |g, a, b| g.link_is(ETH_IP6, a, b),
            |g, a, b| g.dir(dir, addr(nl + 8), addr(nl + 24), a, b),
            t,
            f,
        );
    }

    /// Arithmetic into the accumulator.
    fn arith(&mut self, a: &Arith) -> Result<(), CompileError> {
        match a {
            Arith::Num(n) => self.i(Insn {
                code: op::LD | op::IMM,
                jt: 0,
                jf: 0,
                k: *n,
            }),
            Arith::Len => self.load_len(),
            Arith::Load(p, idx, size) => {
                let size = match size {
                    4 => op::W,
                    2 => op::H,
                    _ => op::B,
                };
                let nl = self.off_nl;
                let (base, transport) = match p {
                    Proto::Ether => {
                        if self.kind != Kind::Ether {
                            return Err(CompileError(
                                "'ether[...]' is only meaningful on Ethernet captures".into(),
                            ));
                        }
                        (0, false)
                    }
                    Proto::Ip | Proto::Ip6 | Proto::Arp | Proto::Rarp => (nl, false),
                    Proto::Icmp6 => (nl + 40, false),
                    Proto::Tcp | Proto::Udp | Proto::Sctp | Proto::Icmp => (nl, true),
                };
                match (idx.as_ref(), transport) {
                    (Arith::Num(k), false) => self.i(ld(size, base + k)),
                    (Arith::Num(k), true) => {
                        self.i(Insn {
                            code: op::LDX | op::B | op::MSH,
                            jt: 0,
                            jf: 0,
                            k: nl,
                        });
                        self.i(Insn {
                            code: op::LD | size | op::IND,
                            jt: 0,
                            jf: 0,
                            k: base + k,
                        });
                    }
                    (e, transport) => {
                        self.arith(e)?;
                        if transport {
                            let m = self.alloc();
                            self.i(Insn {
                                code: op::ST,
                                jt: 0,
                                jf: 0,
                                k: m,
                            });
                            self.i(Insn {
                                code: op::LDX | op::B | op::MSH,
                                jt: 0,
                                jf: 0,
                                k: nl,
                            });
                            self.i(Insn {
                                code: op::LD | op::MEM,
                                jt: 0,
                                jf: 0,
                                k: m,
                            });
                            self.i(Insn {
                                code: op::ALU | op::ADD | op::X,
                                jt: 0,
                                jf: 0,
                                k: 0,
                            });
                        }
                        self.i(Insn {
                            code: op::MISC | op::TAX,
                            jt: 0,
                            jf: 0,
                            k: 0,
                        });
                        self.i(Insn {
                            code: op::LD | size | op::IND,
                            jt: 0,
                            jf: 0,
                            k: base,
                        });
                    }
                }
            }
            Arith::Bin(o, l, r) => {
                self.arith(l)?;
                let ml = self.alloc();
                self.i(Insn {
                    code: op::ST,
                    jt: 0,
                    jf: 0,
                    k: ml,
                });
                self.arith(r)?;
                let mr = self.alloc();
                self.i(Insn {
                    code: op::ST,
                    jt: 0,
                    jf: 0,
                    k: mr,
                });
                self.i(Insn {
                    code: op::LDX | op::MEM,
                    jt: 0,
                    jf: 0,
                    k: mr,
                });
                self.i(Insn {
                    code: op::LD | op::MEM,
                    jt: 0,
                    jf: 0,
                    k: ml,
                });
                let alu = match *o {
                    "+" => op::ADD,
                    "-" => op::SUB,
                    "*" => op::MUL,
                    "/" => op::DIV,
                    "%" => op::MOD,
                    "&" => op::AND,
                    "|" => op::OR,
                    "^" => op::XOR,
                    "<<" => op::LSH,
                    _ => op::RSH,
                };
                self.i(Insn {
                    code: op::ALU | alu | op::X,
                    jt: 0,
                    jf: 0,
                    k: 0,
                });
            }
        }
        Ok(())
    }
}

fn transport_number(p: Proto) -> u8 {
    match p {
        Proto::Tcp => 6,
        Proto::Udp => 17,
        Proto::Sctp => 132,
        _ => 1,
    }
}

/// The protocol checks a comparison's loads need (tcp[...] needs TCP over
/// IPv4, not a later fragment: as in libpcap, transport accessors are IPv4 only).
fn preconditions(a: &Arith, out: &mut Vec<Proto>) {
    match a {
        Arith::Load(p, idx, _) => {
            let p = match p {
                Proto::Tcp | Proto::Udp | Proto::Sctp | Proto::Icmp => *p,
                other => *other,
            };
            if !out.contains(&p) {
                out.push(p);
            }
            preconditions(idx, out);
        }
        Arith::Bin(_, l, r) => {
            preconditions(l, out);
            preconditions(r, out);
        }
        _ => {}
    }
}

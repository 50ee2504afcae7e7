//! Classic BPF: the instruction set, an interpreter that behaves like the
//! kernel's (a load past the packet rejects it), and tcpdump's `-d` listing.

/// One instruction, laid out as `struct sock_filter`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    /// Opcode.
    pub code: u16,
    /// Jump offset if true.
    pub jt: u8,
    /// Jump offset if false.
    pub jf: u8,
    /// Constant.
    pub k: u32,
}

/// Opcode parts.
#[allow(missing_docs)]
pub mod op {
    pub const LD: u16 = 0x00;
    pub const LDX: u16 = 0x01;
    pub const ST: u16 = 0x02;
    pub const STX: u16 = 0x03;
    pub const ALU: u16 = 0x04;
    pub const JMP: u16 = 0x05;
    pub const RET: u16 = 0x06;
    pub const MISC: u16 = 0x07;
    pub const W: u16 = 0x00;
    pub const H: u16 = 0x08;
    pub const B: u16 = 0x10;
    pub const IMM: u16 = 0x00;
    pub const ABS: u16 = 0x20;
    pub const IND: u16 = 0x40;
    pub const MEM: u16 = 0x60;
    pub const LEN: u16 = 0x80;
    pub const MSH: u16 = 0xa0;
    pub const ADD: u16 = 0x00;
    pub const SUB: u16 = 0x10;
    pub const MUL: u16 = 0x20;
    pub const DIV: u16 = 0x30;
    pub const OR: u16 = 0x40;
    pub const AND: u16 = 0x50;
    pub const LSH: u16 = 0x60;
    pub const RSH: u16 = 0x70;
    pub const NEG: u16 = 0x80;
    pub const MOD: u16 = 0x90;
    pub const XOR: u16 = 0xa0;
    pub const JA: u16 = 0x00;
    pub const JEQ: u16 = 0x10;
    pub const JGT: u16 = 0x20;
    pub const JGE: u16 = 0x30;
    pub const JSET: u16 = 0x40;
    pub const K: u16 = 0x00;
    pub const X: u16 = 0x08;
    pub const A: u16 = 0x10;
    pub const TAX: u16 = 0x00;
    pub const TXA: u16 = 0x80;
}

/// The kernel's ancillary load offsets (SKF_AD_OFF + SKF_AD_*).
const SKF_AD_OFF: u32 = (-0x1000i32) as u32;
const SKF_AD_PROTOCOL: u32 = 0;
const SKF_AD_PKTTYPE: u32 = 4;
const SKF_AD_IFINDEX: u32 = 8;
const SKF_AD_HATYPE: u32 = 28;

/// Rewrite a program compiled for LINUX_SLL2 (or LINUX_SLL) frames so the
/// kernel can run it on a cooked socket, where the packet starts at the
/// network header. `None` if some instruction has no kernel equivalent.
///
/// This is libpcap's rewrite: offsets move down by the cooked header's
/// length, and loads from that header become the kernel's ancillary loads
/// (protocol, packet type, interface, hardware type). A load of another
/// header field, or of `len` (the kernel's length leaves the cooked header
/// out), has no equivalent.
pub fn for_cooked_socket(prog: &[Insn], sll2: bool) -> Option<Vec<Insn>> {
    use op::{ABS, B, H, IND, LD, LDX, LEN, MSH, W};
    let hdr: u32 = if sll2 { 20 } else { 16 };
    let mut out = Vec::with_capacity(prog.len());
    for insn in prog {
        let class = insn.code & 0x07;
        let mode = insn.code & 0xe0;
        let size = insn.code & 0x18;
        let mut i = *insn;
        match (class, mode) {
            (LD, ABS) if insn.k >= hdr => i.k = insn.k - hdr,
            (LD, ABS) => {
                let field = match (sll2, insn.k, size) {
                    (true, 0, H) | (false, 14, H) => SKF_AD_PROTOCOL,
                    (true, 10, B) | (false, 0, H) => SKF_AD_PKTTYPE,
                    (true, 4, W) => SKF_AD_IFINDEX,
                    (true, 8, H) | (false, 2, H) => SKF_AD_HATYPE,
                    _ => return None,
                };
                i.code = LD | W | ABS;
                i.k = SKF_AD_OFF.wrapping_add(field);
            }
            (LD, IND) | (LDX, MSH) if insn.k >= hdr => i.k = insn.k - hdr,
            (LD, IND) | (LDX, MSH) => return None,
            // The kernel's length excludes the cooked header.
            (LD, LEN) | (LDX, LEN) => return None,
            _ => {}
        }
        out.push(i);
    }
    Some(out)
}

/// Run a program over a packet: the number of bytes to keep (0 = reject).
/// `wirelen` is the packet's length on the wire (for `len`).
pub fn run(prog: &[Insn], pkt: &[u8], wirelen: u32) -> u32 {
    let (mut a, mut x): (u32, u32) = (0, 0);
    let mut mem = [0u32; 16];
    let mut pc = 0usize;
    let load = |off: u64, size: usize| -> Option<u32> {
        let off = usize::try_from(off).ok()?;
        let b = pkt.get(off..off.checked_add(size)?)?;
        Some(b.iter().fold(0u32, |v, x| (v << 8) | *x as u32))
    };
    // Classic BPF jumps only forward (its offsets are unsigned), so the
    // walk ends after at most one step per instruction, however long the
    // program.
    while let Some(i) = prog.get(pc) {
        pc += 1;
        let class = i.code & 0x07;
        let size = match i.code & 0x18 {
            op::W => 4,
            op::H => 2,
            _ => 1,
        };
        match class {
            op::LD => {
                a = match i.code & 0xe0 {
                    op::IMM => i.k,
                    op::ABS => match load(i.k as u64, size) {
                        Some(v) => v,
                        None => return 0,
                    },
                    op::IND => match load(x as u64 + i.k as u64, size) {
                        Some(v) => v,
                        None => return 0,
                    },
                    op::MEM => mem[(i.k & 15) as usize],
                    op::LEN => wirelen,
                    _ => return 0,
                }
            }
            op::LDX => {
                x = match i.code & 0xe0 {
                    op::IMM => i.k,
                    op::MEM => mem[(i.k & 15) as usize],
                    op::LEN => wirelen,
                    op::MSH => match load(i.k as u64, 1) {
                        Some(v) => (v & 0xf) * 4,
                        None => return 0,
                    },
                    _ => return 0,
                }
            }
            op::ST => mem[(i.k & 15) as usize] = a,
            op::STX => mem[(i.k & 15) as usize] = x,
            op::ALU => {
                let v = if i.code & op::X != 0 { x } else { i.k };
                a = match i.code & 0xf0 {
                    op::ADD => a.wrapping_add(v),
                    op::SUB => a.wrapping_sub(v),
                    op::MUL => a.wrapping_mul(v),
                    op::DIV => {
                        if v == 0 {
                            return 0;
                        }
                        a / v
                    }
                    op::MOD => {
                        if v == 0 {
                            return 0;
                        }
                        a % v
                    }
                    op::OR => a | v,
                    op::AND => a & v,
                    op::XOR => a ^ v,
                    op::LSH => a.checked_shl(v).unwrap_or(0),
                    op::RSH => a.checked_shr(v).unwrap_or(0),
                    op::NEG => a.wrapping_neg(),
                    _ => return 0,
                }
            }
            op::JMP => {
                let v = if i.code & op::X != 0 { x } else { i.k };
                let taken = match i.code & 0xf0 {
                    op::JA => {
                        pc += i.k as usize;
                        continue;
                    }
                    op::JEQ => a == v,
                    op::JGT => a > v,
                    op::JGE => a >= v,
                    op::JSET => a & v != 0,
                    _ => return 0,
                };
                pc += if taken { i.jt as usize } else { i.jf as usize };
            }
            op::RET => return if i.code & op::A != 0 { a } else { i.k },
            op::MISC => {
                if i.code & 0xf8 == op::TXA {
                    a = x;
                } else {
                    x = a;
                }
            }
            _ => return 0,
        }
    }
    0
}

/// tcpdump's `-d` listing of a program.
pub fn dump(prog: &[Insn]) -> String {
    let mut s = String::new();
    for (n, i) in prog.iter().enumerate() {
        let class = i.code & 0x07;
        let size = match i.code & 0x18 {
            op::W => "",
            op::H => "h",
            _ => "b",
        };
        let line = match class {
            op::LD => match i.code & 0xe0 {
                op::IMM => format!("ld       #0x{:x}", i.k),
                op::ABS => format!("ld{size:<7}[{}]", i.k),
                op::IND => format!("ld{size:<7}[x + {}]", i.k),
                op::MEM => format!("ld       M[{}]", i.k),
                _ => "ld       #pktlen".to_string(),
            },
            op::LDX => match i.code & 0xe0 {
                op::IMM => format!("ldx      #0x{:x}", i.k),
                op::MEM => format!("ldx      M[{}]", i.k),
                op::MSH => format!("ldxb     4*([{}]&0xf)", i.k),
                _ => "ldx      #pktlen".to_string(),
            },
            op::ST => format!("st       M[{}]", i.k),
            op::STX => format!("stx      M[{}]", i.k),
            op::ALU => {
                let name = match i.code & 0xf0 {
                    op::ADD => "add",
                    op::SUB => "sub",
                    op::MUL => "mul",
                    op::DIV => "div",
                    op::MOD => "mod",
                    op::OR => "or",
                    op::AND => "and",
                    op::XOR => "xor",
                    op::LSH => "lsh",
                    op::RSH => "rsh",
                    _ => "neg",
                };
                if i.code & 0xf0 == op::NEG {
                    "neg".to_string()
                } else if i.code & op::X != 0 {
                    format!("{name:<9}x")
                } else {
                    format!("{name:<9}#0x{:x}", i.k)
                }
            }
            op::JMP => {
                if i.code & 0xf0 == op::JA {
                    format!("ja       {}", n + 1 + i.k as usize)
                } else {
                    let name = match i.code & 0xf0 {
                        op::JEQ => "jeq",
                        op::JGT => "jgt",
                        op::JGE => "jge",
                        _ => "jset",
                    };
                    let v = if i.code & op::X != 0 {
                        "x".to_string()
                    } else {
                        format!("#0x{:x}", i.k)
                    };
                    format!(
                        "{name:<9}{v:<15}jt {:<5}jf {}",
                        n + 1 + i.jt as usize,
                        n + 1 + i.jf as usize
                    )
                }
            }
            op::RET => {
                if i.code & op::A != 0 {
                    "ret      a".to_string()
                } else {
                    format!("ret      #{}", i.k)
                }
            }
            _ => {
                if i.code & 0xf8 == op::TXA {
                    "txa".to_string()
                } else {
                    "tax".to_string()
                }
            }
        };
        s.push_str(&format!("({n:03}) {line}\n"));
    }
    s
}

//! Just enough of the kernel's BTF (/sys/kernel/btf/vmlinux) to find the
//! byte offset of a struct member, through anonymous structs and unions,
//! so that the tracer's small BPF program reads the running kernel's
//! layout rather than one written down for another kernel.

use std::collections::HashMap;
use std::io;

const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_TYPE_TAG: u32 = 18;

/// One type: its kind, name, the type it refers to, and (for structs and
/// unions) its members as (name, type, bit offset).
struct Type {
    kind: u32,
    name: String,
    refers: u32,
    members: Vec<(String, u32, u32)>,
}

/// The types of one BTF blob, and structs by name.
pub struct Btf {
    types: Vec<Type>,
    structs: HashMap<String, u32>,
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

impl Btf {
    /// The running kernel's BTF.
    pub fn vmlinux() -> io::Result<Btf> {
        let raw = std::fs::read("/sys/kernel/btf/vmlinux")?;
        Btf::parse(&raw).ok_or_else(|| io::Error::other("cannot parse /sys/kernel/btf/vmlinux"))
    }

    /// Parse a BTF blob.
    pub fn parse(b: &[u8]) -> Option<Btf> {
        if b.get(0..2)? != [0x9f, 0xeb] {
            return None;
        }
        let hdr = u32_at(b, 4)? as usize;
        let (type_off, type_len) = (u32_at(b, 8)? as usize, u32_at(b, 12)? as usize);
        let (str_off, str_len) = (u32_at(b, 16)? as usize, u32_at(b, 20)? as usize);
        let types_raw = b.get(hdr + type_off..hdr + type_off + type_len)?;
        let strs = b.get(hdr + str_off..hdr + str_off + str_len)?;
        let name = |off: u32| -> String {
            let s = strs.get(off as usize..).unwrap_or(&[]);
            let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
            String::from_utf8_lossy(&s[..end]).into_owned()
        };
        // Type id 0 is void.
        let mut types = vec![Type {
            kind: 0,
            name: String::new(),
            refers: 0,
            members: Vec::new(),
        }];
        let mut structs = HashMap::new();
        let mut at = 0;
        while at + 12 <= types_raw.len() {
            let name_off = u32_at(types_raw, at)?;
            let info = u32_at(types_raw, at + 4)?;
            let size_or_type = u32_at(types_raw, at + 8)?;
            let vlen = (info & 0xffff) as usize;
            let kind = (info >> 24) & 0x1f;
            let kind_flag = info >> 31 == 1;
            at += 12;
            let mut t = Type {
                kind,
                name: name(name_off),
                refers: size_or_type,
                members: Vec::new(),
            };
            let extra = match kind {
                1 | 14 | 17 => 4,
                3 => 12,
                KIND_STRUCT | KIND_UNION => {
                    for i in 0..vlen {
                        let m = at + 12 * i;
                        let off = u32_at(types_raw, m + 8)?;
                        let bits = if kind_flag { off & 0xff_ffff } else { off };
                        t.members.push((
                            name(u32_at(types_raw, m)?),
                            u32_at(types_raw, m + 4)?,
                            bits,
                        ));
                    }
                    12 * vlen
                }
                6 | 13 => 8 * vlen,
                15 | 19 => 12 * vlen,
                _ => 0,
            };
            at += extra;
            if kind == KIND_STRUCT && !t.name.is_empty() {
                structs.entry(t.name.clone()).or_insert(types.len() as u32);
            }
            types.push(t);
        }
        Some(Btf { types, structs })
    }

    /// Follow typedefs and qualifiers to the type itself.
    fn resolve(&self, mut id: u32) -> Option<&Type> {
        for _ in 0..32 {
            let t = self.types.get(id as usize)?;
            match t.kind {
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    id = t.refers
                }
                _ => return Some(t),
            }
        }
        None
    }

    fn find_in(&self, t: &Type, member: &str, depth: usize) -> Option<u32> {
        if depth > 8 {
            return None;
        }
        for (name, ty, bits) in &t.members {
            if name == member {
                return Some(*bits);
            }
            if name.is_empty() {
                let inner = self.resolve(*ty)?;
                if matches!(inner.kind, KIND_STRUCT | KIND_UNION) {
                    if let Some(b) = self.find_in(inner, member, depth + 1) {
                        return Some(bits + b);
                    }
                }
            }
        }
        None
    }

    /// The byte offset of `path` (members separated by dots, as
    /// `__sk_common.skc_net`) inside `struct name`.
    pub fn offset(&self, name: &str, path: &str) -> Option<u32> {
        let mut t = self.types.get(*self.structs.get(name)? as usize)?;
        let mut bits = 0;
        let parts: Vec<&str> = path.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            bits += self.find_in(t, part, 0)?;
            if i + 1 < parts.len() {
                // Descend into the member's own type.
                let (_, ty, _) = self.member_type(t, part)?;
                t = self.resolve(ty)?;
            }
        }
        (bits % 8 == 0).then_some(bits / 8)
    }

    fn member_type(&self, t: &Type, member: &str) -> Option<(String, u32, u32)> {
        for (name, ty, bits) in &t.members {
            if name == member {
                return Some((name.clone(), *ty, *bits));
            }
            if name.is_empty() {
                let inner = self.resolve(*ty)?;
                if let Some(m) = self.member_type(inner, member) {
                    return Some(m);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_offsets_the_tracer_needs_on_this_kernel() {
        let b = Btf::vmlinux().unwrap();
        assert_eq!(b.offset("sock", "__sk_common"), Some(0));
        let net = b.offset("sock_common", "skc_net").unwrap();
        assert!(net > 0 && net < 256, "{net}");
        assert!(b.offset("net", "ns.inum").is_some());
        assert!(b.offset("sk_buff", "dev").is_some());
        assert!(b.offset("net_device", "nd_net").is_some());
        assert!(b.offset("tcp_sock", "bytes_received").is_some());
        assert!(b.offset("tcp_sock", "bytes_acked").is_some());
        assert_eq!(b.offset("sock", "no_such_member"), None);
    }
}

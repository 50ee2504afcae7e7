//! The per-packet dissection context: bounds-checked reads against the
//! current snapshot end, and allocation-free formatting into the output line.
//!
//! tcpdump's printers read through `GET_*` macros that jump out of the whole
//! dissection when a read passes the captured data; the top level then
//! prints ` [|proto]`. Here a read returns `Err(Trunc)` and `?` carries it up
//! to the same place.

use crate::Options;

/// A read went past the captured data (tcpdump's `nd_trunc_longjmp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Trunc;

/// Result of a printing step.
pub(crate) type R<T = ()> = Result<T, Trunc>;

const MAX_SNAP_STACK: usize = 16;

/// Per-packet context.
pub(crate) struct Nd<'a> {
    /// The captured bytes of the whole frame.
    pub pkt: &'a [u8],
    /// Offset one past the last byte printers may read.
    pub snapend: usize,
    stack: [usize; MAX_SNAP_STACK],
    depth: usize,
    /// The line being built.
    pub out: &'a mut Vec<u8>,
    /// Name of the protocol being dissected, for ` [|proto]`.
    pub proto: &'static str,
    pub opts: &'a Options,
    /// Link-layer header length, for -x/-X without the link header.
    pub ll_hdr_len: usize,
    addrs: &'a mut AddrCache,
}

/// The text of recently printed IPv4 addresses. A capture names few hosts
/// and names them on every line; formatting them once saves a quarter of
/// the number formatting.
pub(crate) struct AddrCache {
    slots: [(u32, [u8; 15], u8); 64],
}

impl Default for AddrCache {
    fn default() -> Self {
        // Slot 0's key 0 with length 0 is "empty": 0.0.0.0 is formatted
        // afresh each time, which is correct, only not cached.
        AddrCache {
            slots: [(0, [0; 15], 0); 64],
        }
    }
}

impl AddrCache {
    #[inline]
    fn put(&mut self, out: &mut Vec<u8>, a: [u8; 4]) {
        let key = u32::from_be_bytes(a);
        let slot = &mut self.slots[(key.wrapping_mul(0x9e37_79b9) >> 26) as usize];
        if slot.0 != key || slot.2 == 0 {
            let mut n = 0;
            for (i, octet) in a.iter().enumerate() {
                if i > 0 {
                    slot.1[n] = b'.';
                    n += 1;
                }
                let o = *octet;
                if o >= 100 {
                    slot.1[n] = b'0' + o / 100;
                    n += 1;
                }
                if o >= 10 {
                    slot.1[n] = b'0' + o / 10 % 10;
                    n += 1;
                }
                slot.1[n] = b'0' + o % 10;
                n += 1;
            }
            slot.0 = key;
            slot.2 = n as u8;
        }
        out.extend_from_slice(&slot.1[..slot.2 as usize]);
    }
}

impl<'a> Nd<'a> {
    pub fn new(
        pkt: &'a [u8],
        out: &'a mut Vec<u8>,
        opts: &'a Options,
        addrs: &'a mut AddrCache,
    ) -> Self {
        Nd {
            pkt,
            snapend: pkt.len(),
            stack: [0; MAX_SNAP_STACK],
            depth: 0,
            out,
            proto: "",
            opts,
            ll_hdr_len: 0,
            addrs,
        }
    }

    // ---- bounds ----

    /// Whether `len` bytes at `off` are captured.
    #[inline]
    pub fn ttest(&self, off: usize, len: usize) -> bool {
        off <= self.snapend && len <= self.snapend - off
    }
    /// Bytes available from `off` to the snapshot end (0 past it).
    #[inline]
    pub fn avail(&self, off: usize) -> usize {
        self.snapend.saturating_sub(off)
    }
    #[inline]
    pub fn tcheck(&self, off: usize, len: usize) -> R {
        if self.ttest(off, len) {
            Ok(())
        } else {
            Err(Trunc)
        }
    }
    #[inline]
    pub fn u1(&self, off: usize) -> R<u8> {
        if off < self.snapend {
            Ok(self.pkt[off])
        } else {
            Err(Trunc)
        }
    }
    #[inline]
    pub fn be2(&self, off: usize) -> R<u16> {
        self.tcheck(off, 2)?;
        Ok(u16::from_be_bytes([self.pkt[off], self.pkt[off + 1]]))
    }
    #[inline]
    pub fn be4(&self, off: usize) -> R<u32> {
        self.tcheck(off, 4)?;
        Ok(u32::from_be_bytes([
            self.pkt[off],
            self.pkt[off + 1],
            self.pkt[off + 2],
            self.pkt[off + 3],
        ]))
    }
    #[inline]
    pub fn be8(&self, off: usize) -> R<u64> {
        Ok(((self.be4(off)? as u64) << 32) | self.be4(off + 4)? as u64)
    }
    #[inline]
    pub fn bytes(&self, off: usize, len: usize) -> R<&'a [u8]> {
        self.tcheck(off, len)?;
        Ok(&self.pkt[off..off + len])
    }

    /// nd_push_snaplen: narrow the snapshot end to `off + len` if that is shorter.
    pub fn push_snaplen(&mut self, off: usize, len: usize) {
        if self.depth < MAX_SNAP_STACK {
            self.stack[self.depth] = self.snapend;
        }
        self.depth += 1;
        if len <= self.avail(off) && off <= self.snapend {
            self.snapend = off + len;
        }
    }
    /// nd_change_snaplen: like push, but measured against the end saved by
    /// the previous push (or the current end when there is only one).
    pub fn change_snaplen(&mut self, off: usize, len: usize) {
        let previous = if self.depth >= 2 && self.depth - 2 < MAX_SNAP_STACK {
            self.stack[self.depth - 2]
        } else {
            self.snapend
        };
        if off <= previous && len <= previous - off {
            self.snapend = off + len;
        }
    }
    pub fn pop_snaplen(&mut self) {
        if self.depth > 0 {
            self.depth -= 1;
            if self.depth < MAX_SNAP_STACK {
                self.snapend = self.stack[self.depth];
            }
        }
    }
    /// Restore the frame's full snapshot end (after a truncation unwinds).
    pub fn reset_snaplen(&mut self) {
        self.depth = 0;
        self.snapend = self.pkt.len();
    }

    // ---- output ----

    #[inline(always)]
    pub fn s(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
    }
    #[inline(always)]
    pub fn ch(&mut self, c: u8) {
        self.out.push(c);
    }
    /// Decimal, like `%u`.
    #[inline]
    pub fn dec(&mut self, v: u64) {
        put_dec(self.out, v);
    }
    /// Lower-case hex with at least `width` digits, like `%0*x`.
    #[inline]
    pub fn hex(&mut self, v: u64, width: usize) {
        put_hex(self.out, v, width);
    }
    /// bittok2str: the names of the set bits joined by ", ", or "none".
    pub fn bit_names(&mut self, v: u16, names: &[(u16, &str)]) {
        let mut any = false;
        for (bit, name) in names {
            if v & bit != 0 {
                if any {
                    self.s(", ");
                }
                self.s(name);
                any = true;
            }
        }
        if !any {
            self.s("none");
        }
    }
    /// An 802.1Q tag control field: "vlan ID, p PRIO[, DEI], ".
    pub fn vlan_tci(&mut self, tag: u16) {
        self.s("vlan ");
        self.dec((tag & 0xfff) as u64);
        self.s(", p ");
        self.dec((tag >> 13) as u64);
        if tag & 0x1000 != 0 {
            self.s(", DEI");
        }
        self.s(", ");
    }
    /// ` [|proto]`.
    pub fn print_trunc(&mut self) {
        self.s(" [|");
        let p = self.proto;
        self.s(p);
        self.ch(b']');
    }
    /// ` (invalid)`.
    pub fn print_invalid(&mut self) {
        self.s(" (invalid)");
    }
    /// The protocol name in upper case (nd_print_protocol_caps).
    pub fn print_proto_caps(&mut self) {
        for b in self.proto.bytes() {
            self.out.push(b.to_ascii_uppercase());
        }
    }

    /// An IPv4 address from the packet.
    pub fn ipaddr(&mut self, off: usize) -> R {
        let a = self.bytes(off, 4)?;
        self.addrs.put(self.out, [a[0], a[1], a[2], a[3]]);
        Ok(())
    }
    /// An IPv6 address from the packet.
    pub fn ip6addr(&mut self, off: usize) -> R {
        let a = self.bytes(off, 16)?;
        let mut b = [0u8; 16];
        b.copy_from_slice(a);
        put_ipv6(self.out, &b);
        Ok(())
    }
    /// A MAC address from the packet.
    pub fn etheraddr(&mut self, off: usize) -> R {
        let a = self.bytes(off, 6)?;
        for (i, b) in a.iter().enumerate() {
            if i > 0 {
                self.out.push(b':');
            }
            put_hex(self.out, *b as u64, 2);
        }
        Ok(())
    }
    /// fn_print_char: printable ASCII as is, others as `M-` and `^` escapes.
    pub fn print_char(&mut self, mut c: u8) {
        if c & 0x80 != 0 {
            c &= 0x7f;
            self.s("M-");
        }
        if !(0x20..=0x7e).contains(&c) {
            c ^= 0x40;
            self.ch(b'^');
        }
        self.ch(c);
    }
}

// ---- allocation-free number and address formatting ----

const DIGITS2: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Number of decimal digits of `v`, from its bit length.
#[inline]
fn dec_digits(v: u64) -> usize {
    const POW10: [u64; 20] = [
        1,
        10,
        100,
        1_000,
        10_000,
        100_000,
        1_000_000,
        10_000_000,
        100_000_000,
        1_000_000_000,
        10_000_000_000,
        100_000_000_000,
        1_000_000_000_000,
        10_000_000_000_000,
        100_000_000_000_000,
        1_000_000_000_000_000,
        10_000_000_000_000_000,
        100_000_000_000_000_000,
        1_000_000_000_000_000_000,
        10_000_000_000_000_000_000,
    ];
    let bits = 64 - (v | 1).leading_zeros() as usize;
    // log10(2) ~ 1233/4096: a guess that is right or one too small.
    let guess = (bits * 1233) >> 12;
    (guess + (v >= POW10[guess]) as usize).max(1)
}

/// `%u`: digits are written straight into the vector's spare capacity, two
/// at a time, so no copy call is made per number (this is the hottest
/// formatting path: every line has a dozen numbers).
#[inline]
pub(crate) fn put_dec(out: &mut Vec<u8>, mut v: u64) {
    if v < 10 {
        out.push(b'0' + v as u8);
        return;
    }
    let n = dec_digits(v);
    out.reserve(n);
    let len = out.len();
    let spare = &mut out.spare_capacity_mut()[..n];
    let mut i = n;
    while v >= 100 {
        let r = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        spare[i].write(DIGITS2[r]);
        spare[i + 1].write(DIGITS2[r + 1]);
    }
    if v >= 10 {
        let r = v as usize * 2;
        spare[0].write(DIGITS2[r]);
        spare[1].write(DIGITS2[r + 1]);
    } else {
        spare[0].write(b'0' + v as u8);
    }
    // SAFETY: the loop above initialised exactly the n bytes after len.
    unsafe { out.set_len(len + n) };
}

pub(crate) fn put_dec_padded(out: &mut Vec<u8>, v: u64, width: usize, pad: u8) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut x = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (x % 10) as u8;
        x /= 10;
        if x == 0 {
            break;
        }
    }
    let digits = buf.len() - i;
    for _ in digits..width {
        out.push(pad);
    }
    out.extend_from_slice(&buf[i..]);
}

const HEX: &[u8; 16] = b"0123456789abcdef";

pub(crate) fn put_hex(out: &mut Vec<u8>, mut v: u64, width: usize) {
    let mut buf = [0u8; 16];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = HEX[(v & 0xf) as usize];
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    let digits = buf.len() - i;
    for _ in digits..width {
        out.push(b'0');
    }
    out.extend_from_slice(&buf[i..]);
}

pub(crate) fn put_ipv4(out: &mut Vec<u8>, a: [u8; 4]) {
    for (i, b) in a.iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        put_dec(out, *b as u64);
    }
}

/// IPv6 text form as tcpdump's addrtostr6 writes it: the longest run of two
/// or more zero words becomes `::` (the first such run on a tie), and
/// `::a.b.c.d` / `::ffff:a.b.c.d` keep the IPv4 dotted form.
pub(crate) fn put_ipv6(out: &mut Vec<u8>, a: &[u8; 16]) {
    let mut words = [0u16; 8];
    for (i, w) in words.iter_mut().enumerate() {
        *w = u16::from_be_bytes([a[2 * i], a[2 * i + 1]]);
    }
    let (mut best_base, mut best_len) = (-1i32, 0i32);
    let (mut cur_base, mut cur_len) = (-1i32, 0i32);
    for (i, w) in words.iter().enumerate() {
        if *w == 0 {
            if cur_base == -1 {
                cur_base = i as i32;
                cur_len = 1;
            } else {
                cur_len += 1;
            }
        } else if cur_base != -1 {
            if best_base == -1 || cur_len > best_len {
                best_base = cur_base;
                best_len = cur_len;
            }
            cur_base = -1;
        }
    }
    if cur_base != -1 && (best_base == -1 || cur_len > best_len) {
        best_base = cur_base;
        best_len = cur_len;
    }
    if best_base != -1 && best_len < 2 {
        best_base = -1;
    }
    for i in 0..8i32 {
        if best_base != -1 && i >= best_base && i < best_base + best_len {
            if i == best_base {
                out.push(b':');
            }
            continue;
        }
        if i != 0 {
            out.push(b':');
        }
        if i == 6 && best_base == 0 && (best_len == 6 || (best_len == 5 && words[5] == 0xffff)) {
            put_ipv4(out, [a[12], a[13], a[14], a[15]]);
            return;
        }
        put_hex(out, words[i as usize] as u64, 0);
    }
    if best_base != -1 && best_base + best_len == 8 {
        out.push(b':');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(a: [u8; 16]) -> String {
        let mut o = Vec::new();
        put_ipv6(&mut o, &a);
        String::from_utf8(o).unwrap()
    }

    #[test]
    fn ipv6_forms() {
        let mut a = [0u8; 16];
        a[15] = 1;
        assert_eq!(v6(a), "::1");
        assert_eq!(v6([0; 16]), "::");
        let mut b = [0u8; 16];
        b[0] = 0x20;
        b[1] = 0x01;
        b[2] = 0x0d;
        b[3] = 0xb8;
        b[15] = 0x10;
        assert_eq!(v6(b), "2001:db8::10");
        let mut m = [0u8; 16];
        m[10] = 0xff;
        m[11] = 0xff;
        m[12..].copy_from_slice(&[192, 0, 2, 1]);
        assert_eq!(v6(m), "::ffff:192.0.2.1");
    }

    #[test]
    fn numbers() {
        let mut o = Vec::new();
        put_dec(&mut o, 0);
        o.push(b' ');
        put_dec(&mut o, u64::MAX);
        o.push(b' ');
        put_hex(&mut o, 0xab, 4);
        o.push(b' ');
        put_dec_padded(&mut o, 42, 6, b'0');
        assert_eq!(
            String::from_utf8(o).unwrap(),
            "0 18446744073709551615 00ab 000042"
        );
    }
}

#[cfg(test)]
mod digit_tests {
    use super::*;

    #[test]
    fn digit_counts_at_every_power_of_ten() {
        let mut p = 1u64;
        for n in 1..=20 {
            assert_eq!(dec_digits(p), n, "{p}");
            if n < 20 {
                assert_eq!(dec_digits(p * 10 - 1), n, "{}", p * 10 - 1);
                p *= 10;
            }
        }
        assert_eq!(dec_digits(0), 1);
        assert_eq!(dec_digits(u64::MAX), 20);
        let mut o = Vec::new();
        for v in [0u64, 9, 10, 99, 100, 4294967295, u64::MAX] {
            put_dec(&mut o, v);
            o.push(b' ');
        }
        assert_eq!(
            String::from_utf8(o).unwrap(),
            "0 9 10 99 100 4294967295 18446744073709551615 "
        );
    }
}

//! A fast hasher for flow keys.

use std::hash::Hasher;

/// A folded-multiply hasher for conversation keys. The default SipHash
/// guards against hash flooding, which costs a tenth of the run time here;
/// a capture is not an adversary that can choose its own keys' hashes
/// cheaply enough to matter for a one-pass reader.
#[derive(Default)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.write_u64(u64::from_le_bytes(c.try_into().unwrap()));
        }
        for b in chunks.remainder() {
            self.write_u64(*b as u64);
        }
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        // A folded multiply: the high half of the product is folded into
        // the low half, so every input bit reaches the low bits that pick
        // the bucket. A plain multiply leaves those bits depending only on
        // the inputs' own low bits, and keys that differ in a port alone
        // then share buckets.
        let product = u128::from(self.0 ^ v) * 0x51_7c_c1_b7_27_22_0a_95;
        self.0 = (product as u64) ^ (product >> 64) as u64;
    }
    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.write_u64(v as u64);
    }
    #[inline]
    fn write_u8(&mut self, v: u8) {
        self.write_u64(v as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

//! Bounds-checked big-endian reads: the one place offsets meet slices.

/// Read one byte at `at`, or `None` past the end.
#[inline]
pub fn u8_at(b: &[u8], at: usize) -> Option<u8> {
    b.get(at).copied()
}

/// Read a big-endian u16 at `at`.
#[inline]
pub fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

/// Read a big-endian u32 at `at`.
#[inline]
pub fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Read a big-endian u64 at `at`.
#[inline]
pub fn be64(b: &[u8], at: usize) -> Option<u64> {
    Some(((be32(b, at)? as u64) << 32) | be32(b, at.checked_add(4)?)? as u64)
}

/// Borrow `n` bytes at `at`.
#[inline]
pub fn slice(b: &[u8], at: usize, n: usize) -> Option<&[u8]> {
    b.get(at..at.checked_add(n)?)
}

/// Internet checksum (RFC 1071) over several pieces, folded; 0 means valid
/// when the pieces include the checksum field itself.
pub fn internet_checksum(pieces: &[&[u8]]) -> u16 {
    let mut sum: u64 = 0;
    let mut odd: Option<u8> = None;
    for p in pieces {
        let mut data = *p;
        if let Some(hi) = odd.take() {
            if let Some((&lo, rest)) = data.split_first() {
                sum += u16::from_be_bytes([hi, lo]) as u64;
                data = rest;
            } else {
                odd = Some(hi);
                continue;
            }
        }
        let mut chunks = data.chunks_exact(2);
        for c in &mut chunks {
            sum += u16::from_be_bytes([c[0], c[1]]) as u64;
        }
        if let [last] = chunks.remainder() {
            odd = Some(*last);
        }
    }
    if let Some(hi) = odd {
        sum += (hi as u64) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_at_the_end() {
        let b = [1, 2, 3];
        assert_eq!(be16(&b, 1), Some(0x0203));
        assert_eq!(be16(&b, 2), None);
        assert_eq!(be32(&b, usize::MAX - 1), None);
        assert_eq!(slice(&b, 3, 0), Some(&[][..]));
    }

    #[test]
    fn checksum_of_rfc1071_example() {
        // RFC 1071 section 3: the sum of these words is 0xddf2, so the checksum is 0x220d.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(internet_checksum(&[&data]), 0x220d);
        // Split at an odd boundary: the same answer.
        assert_eq!(internet_checksum(&[&data[..3], &data[3..]]), 0x220d);
    }
}

//! TCP sequence numbers, compared modulo 2^32 (RFC 9293 section 3.4), as
//! smoltcp's `TcpSeqNumber` does: `a > b` means `a` lies less than 2^31
//! ahead of `b`.

use std::cmp::Ordering;
use std::ops::{Add, Sub};

/// A sequence (or acknowledgment) number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SeqNumber(pub u32);

impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &SeqNumber) -> Option<Ordering> {
        Some((self.0.wrapping_sub(other.0) as i32).cmp(&0))
    }
}

impl Add<u32> for SeqNumber {
    type Output = SeqNumber;
    fn add(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(n))
    }
}

impl Sub<u32> for SeqNumber {
    type Output = SeqNumber;
    fn sub(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(n))
    }
}

impl Sub for SeqNumber {
    /// How far `self` lies ahead of `other`, modulo 2^32 (the relative
    /// number when `other` is the ISN).
    type Output = u32;
    fn sub(self, other: SeqNumber) -> u32 {
        self.0.wrapping_sub(other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::SeqNumber as S;

    #[test]
    fn comparison_wraps() {
        assert!(S(5) > S(u32::MAX - 5));
        assert!(S(u32::MAX) < S(0));
        assert!(S(7) >= S(7) && S(7) <= S(7));
        assert_eq!(S(u32::MAX) + 2, S(1));
        assert_eq!(S(1) - S(u32::MAX), 2);
    }
}

//! DNS: not decoded yet; the line ends after the transport.

use crate::nd::{Nd, R};

pub(crate) fn domain_print(_nd: &mut Nd<'_>, _bp: usize, _length: usize, _over_tcp: bool) -> R {
    Ok(())
}

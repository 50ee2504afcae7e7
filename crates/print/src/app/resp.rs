//! Redis RESP (port 6379): not decoded yet; the line ends after TCP.

use crate::nd::{Nd, R};

pub(crate) fn resp_print(_nd: &mut Nd<'_>, _bp: usize, _length: usize) -> R {
    Ok(())
}

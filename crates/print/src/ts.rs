//! Timestamps as tcpdump's `ts_print` writes them for `-t` .. `-ttttt`.

use crate::nd::{put_dec, put_dec_padded};
use crate::Options;

/// The reference time of `-ttt`/`-ttttt` and a cache of the last
/// local-time conversion (one `localtime_r` call per distinct second).
#[derive(Default)]
pub(crate) struct TimeState {
    reference: Option<(i64, i64)>,
    cached_sec: Option<i64>,
    /// "YYYY-MM-DD HH:MM:SS" for `cached_sec`.
    cached_text: [u8; 19],
    cached_ok: bool,
}

impl TimeState {
    pub fn print(&mut self, opts: &Options, sec: i64, frac: i64, out: &mut Vec<u8>) {
        match opts.tflag {
            0 => {
                self.local(sec, frac, false, opts.nano, out);
                out.push(b' ');
            }
            1 => {}
            2 => {
                if (sec as u32) & 0x8000_0000 != 0 {
                    out.extend_from_slice(b"[Error converting time]");
                } else {
                    put_dec(out, sec as u32 as u64);
                    frac_print(frac, opts.nano, out);
                }
                out.push(b' ');
            }
            3 | 5 => {
                let now = (sec, frac);
                let reference = match self.reference {
                    Some(r) if r != (0, 0) => r,
                    _ => now,
                };
                let negative = now < reference;
                let (a, b) = if negative {
                    (reference, now)
                } else {
                    (now, reference)
                };
                let mut dsec = a.0 - b.0;
                let mut dfrac = a.1 - b.1;
                if dfrac < 0 {
                    dsec -= 1;
                    dfrac += if opts.nano { 1_000_000_000 } else { 1_000_000 };
                }
                out.push(if negative { b'-' } else { b' ' });
                utc_hms(dsec, dfrac, opts.nano, out);
                out.push(b' ');
                self.reference = if opts.tflag == 3 {
                    Some(now)
                } else {
                    Some(reference)
                };
            }
            _ => {
                self.local(sec, frac, true, opts.nano, out);
                out.push(b' ');
            }
        }
    }

    fn local(&mut self, sec: i64, frac: i64, with_date: bool, nano: bool, out: &mut Vec<u8>) {
        if (sec as u32) & 0x8000_0000 != 0 {
            out.extend_from_slice(b"[Error converting time]");
            return;
        }
        if self.cached_sec != Some(sec) {
            self.cached_sec = Some(sec);
            self.cached_ok = localtime_text(sec, &mut self.cached_text);
        }
        if !self.cached_ok {
            out.extend_from_slice(b"[Error converting time]");
            return;
        }
        if with_date {
            out.extend_from_slice(&self.cached_text);
        } else {
            out.extend_from_slice(&self.cached_text[11..]);
        }
        frac_print(frac, nano, out);
    }
}

/// `.%06u` or `.%09u` of the fraction cast to unsigned, as tcpdump prints it.
fn frac_print(frac: i64, nano: bool, out: &mut Vec<u8>) {
    out.push(b'.');
    put_dec_padded(out, frac as u32 as u64, if nano { 9 } else { 6 }, b'0');
}

/// gmtime's HH:MM:SS of a difference, then the fraction.
fn utc_hms(sec: i64, frac: i64, nano: bool, out: &mut Vec<u8>) {
    if (sec as u32) & 0x8000_0000 != 0 {
        out.extend_from_slice(b"[Error converting time]");
        return;
    }
    let day = sec.rem_euclid(86_400);
    put_dec_padded(out, (day / 3600) as u64, 2, b'0');
    out.push(b':');
    put_dec_padded(out, (day / 60 % 60) as u64, 2, b'0');
    out.push(b':');
    put_dec_padded(out, (day % 60) as u64, 2, b'0');
    frac_print(frac, nano, out);
}

/// Local time (honouring TZ) as "YYYY-MM-DD HH:MM:SS".
fn localtime_text(sec: i64, text: &mut [u8; 19]) -> bool {
    // SAFETY: localtime_r only writes the tm we pass it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let t: libc::time_t = sec as libc::time_t;
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if !ok {
        return false;
    }
    let mut v = Vec::with_capacity(19);
    put_dec_padded(&mut v, (tm.tm_year as i64 + 1900) as u64, 4, b'0');
    v.push(b'-');
    put_dec_padded(&mut v, (tm.tm_mon + 1) as u64, 2, b'0');
    v.push(b'-');
    put_dec_padded(&mut v, tm.tm_mday as u64, 2, b'0');
    v.push(b' ');
    put_dec_padded(&mut v, tm.tm_hour as u64, 2, b'0');
    v.push(b':');
    put_dec_padded(&mut v, tm.tm_min as u64, 2, b'0');
    v.push(b':');
    put_dec_padded(&mut v, tm.tm_sec as u64, 2, b'0');
    if v.len() != 19 {
        return false;
    }
    text.copy_from_slice(&v);
    true
}

//! The pcapng format: section headers, interface descriptions and the
//! enhanced, simple and obsolete packet blocks. Unknown blocks are skipped.

use crate::format::{Endian, FrameMeta, ReadError, Step, MAXIMUM_SNAPLEN, PCAPNG_SHB};
use crate::Precision;

const BT_IDB: u32 = 1;
const BT_OPB: u32 = 2;
const BT_SPB: u32 = 3;
const BT_EPB: u32 = 6;
const BOM: u32 = 0x1a2b_3c4d;
/// libpcap refuses blocks larger than this; so do we.
const MAX_BLOCK_LEN: u32 = 16 * 1024 * 1024;
const MAX_INTERFACES: usize = 65_536;

#[derive(Clone, Copy, Debug)]
struct Interface {
    linktype: u32,
    snaplen: u32,
    /// Ticks per second of this interface's timestamps.
    tsresol: u64,
    tsoffset: i64,
}

/// State of one pcapng stream: the current section's byte order and interfaces.
#[derive(Debug, Default)]
pub(crate) struct PcapngState {
    endian: Option<Endian>,
    interfaces: Vec<Interface>,
}

impl PcapngState {
    /// The link type of the first interface, once known.
    pub fn first_linktype(&self) -> Option<u32> {
        self.interfaces.first().map(|i| i.linktype)
    }

    /// The first interface's snaplen as libpcap reports it (0 means the maximum).
    pub fn first_snaplen(&self) -> Option<u32> {
        self.interfaces.first().map(|i| {
            if i.snaplen == 0 {
                MAXIMUM_SNAPLEN
            } else {
                i.snaplen
            }
        })
    }

    pub fn step(
        &mut self,
        buf: &[u8],
        offset: u64,
        precision: Precision,
    ) -> Result<Step, ReadError> {
        if buf.len() < 12 {
            return Ok(Step::NeedMore { need: 12 });
        }
        let raw_type = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
        if raw_type == PCAPNG_SHB {
            // The byte-order magic decides how to read everything else.
            let bom_le = u32::from_le_bytes([buf[8], buf[9], buf[10], buf[11]]);
            let e = if bom_le == BOM {
                Endian { big: false }
            } else if u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]) == BOM {
                Endian { big: true }
            } else {
                return Err(ReadError::Corrupt {
                    offset,
                    what: "section header with an unknown byte-order magic".into(),
                });
            };
            let total = block_len(e, buf, offset)?;
            if buf.len() < total {
                return Ok(Step::NeedMore { need: total });
            }
            self.endian = Some(e);
            self.interfaces.clear();
            return Ok(Step::Skip { consumed: total });
        }
        let e = match self.endian {
            Some(e) => e,
            None => return Err(ReadError::NotCapture),
        };
        let btype = e.u32(buf, 0);
        let total = block_len(e, buf, offset)?;
        if buf.len() < total {
            return Ok(Step::NeedMore { need: total });
        }
        let body = &buf[8..total - 4];
        match btype {
            BT_IDB => {
                self.add_interface(e, body, offset)?;
                Ok(Step::Skip { consumed: total })
            }
            BT_EPB | BT_OPB => {
                if body.len() < 20 {
                    return Err(ReadError::Corrupt {
                        offset,
                        what: "packet block shorter than its fixed fields".into(),
                    });
                }
                let (iface_id, hi, lo, caplen, len) = if btype == BT_EPB {
                    (
                        e.u32(body, 0),
                        e.u32(body, 4),
                        e.u32(body, 8),
                        e.u32(body, 12),
                        e.u32(body, 16),
                    )
                } else {
                    (
                        e.u16(body, 0) as u32,
                        e.u32(body, 4),
                        e.u32(body, 8),
                        e.u32(body, 12),
                        e.u32(body, 16),
                    )
                };
                if caplen as usize > body.len() - 20 {
                    return Err(ReadError::Corrupt {
                        offset,
                        what: format!(
                            "packet block claims {caplen} captured bytes but holds only {}",
                            body.len() - 20
                        ),
                    });
                }
                let iface = self.interface(iface_id, offset)?;
                let ts = ((hi as u64) << 32) | lo as u64;
                let (ts_sec, ts_frac) = convert_ts(ts, iface, precision);
                let delivered = cut(caplen, iface.snaplen);
                Ok(Step::Frame {
                    consumed: total,
                    data_at: 8 + 20,
                    meta: FrameMeta {
                        ts_sec,
                        ts_frac,
                        linktype: iface.linktype,
                        caplen: delivered,
                        len,
                        interface: iface_id,
                    },
                })
            }
            BT_SPB => {
                if body.len() < 4 {
                    return Err(ReadError::Corrupt {
                        offset,
                        what: "simple packet block without its length field".into(),
                    });
                }
                let iface = self.interface(0, offset)?;
                let len = e.u32(body, 0);
                let caplen = cut(len.min((body.len() - 4) as u32), iface.snaplen);
                Ok(Step::Frame {
                    consumed: total,
                    data_at: 8 + 4,
                    meta: FrameMeta {
                        ts_sec: 0,
                        ts_frac: 0,
                        linktype: iface.linktype,
                        caplen,
                        len,
                        interface: 0,
                    },
                })
            }
            _ => Ok(Step::Skip { consumed: total }),
        }
    }

    fn interface(&self, id: u32, offset: u64) -> Result<Interface, ReadError> {
        self.interfaces
            .get(id as usize)
            .copied()
            .ok_or_else(|| ReadError::Corrupt {
                offset,
                what: format!(
                    "packet block names interface {id}, but only {} are described",
                    self.interfaces.len()
                ),
            })
    }

    fn add_interface(&mut self, e: Endian, body: &[u8], offset: u64) -> Result<(), ReadError> {
        if body.len() < 8 {
            return Err(ReadError::Corrupt {
                offset,
                what: "interface description block too short".into(),
            });
        }
        if self.interfaces.len() >= MAX_INTERFACES {
            return Err(ReadError::Corrupt {
                offset,
                what: "more than 65536 interfaces in one section".into(),
            });
        }
        let mut iface = Interface {
            linktype: e.u16(body, 0) as u32,
            snaplen: e.u32(body, 4),
            tsresol: 1_000_000,
            tsoffset: 0,
        };
        let mut at = 8;
        while at + 4 <= body.len() {
            let code = e.u16(body, at);
            let olen = e.u16(body, at + 2) as usize;
            let val = &body[at + 4..(at + 4 + olen).min(body.len())];
            match code {
                0 => break,
                9 if !val.is_empty() => {
                    let r = val[0];
                    let exp = (r & 0x7f) as u32;
                    iface.tsresol = if r & 0x80 == 0 {
                        10u64.checked_pow(exp).ok_or_else(|| bad_resol(offset, r))?
                    } else {
                        1u64.checked_shl(exp)
                            .filter(|_| exp < 64)
                            .ok_or_else(|| bad_resol(offset, r))?
                    };
                }
                14 if val.len() >= 8 => {
                    let lo = e.u32(val, 0) as u64;
                    let hi = e.u32(val, 4) as u64;
                    iface.tsoffset = if e.big {
                        ((lo << 32) | hi) as i64
                    } else {
                        ((hi << 32) | lo) as i64
                    };
                }
                _ => {}
            }
            at += 4 + ((olen + 3) & !3);
        }
        self.interfaces.push(iface);
        Ok(())
    }
}

fn bad_resol(offset: u64, r: u8) -> ReadError {
    ReadError::Corrupt {
        offset,
        what: format!("interface time resolution 0x{r:02x} is out of range"),
    }
}

fn block_len(e: Endian, buf: &[u8], offset: u64) -> Result<usize, ReadError> {
    let total = e.u32(buf, 4);
    if total < 12 || total % 4 != 0 || total > MAX_BLOCK_LEN {
        return Err(ReadError::Corrupt {
            offset,
            what: format!("block length {total} is impossible"),
        });
    }
    Ok(total as usize)
}

fn cut(caplen: u32, snaplen: u32) -> u32 {
    let limit = if snaplen == 0 {
        MAXIMUM_SNAPLEN
    } else {
        snaplen.min(MAXIMUM_SNAPLEN)
    };
    caplen.min(limit)
}

/// Split a timestamp in interface ticks as libpcap does: whole seconds plus
/// the fraction scaled to the requested precision.
fn convert_ts(ticks: u64, iface: Interface, precision: Precision) -> (i64, i64) {
    let res = iface.tsresol.max(1);
    // In u64 then to a signed time, as libpcap does (so a hostile
    // if_tsoffset gives the time tcpdump prints, never an overflow).
    let sec = (ticks / res).wrapping_add(iface.tsoffset as u64) as i64;
    let frac = ticks % res;
    let want: u64 = match precision {
        Precision::Micro => 1_000_000,
        Precision::Nano => 1_000_000_000,
    };
    let frac = if res == want {
        frac
    } else if res < want && want % res == 0 {
        frac * (want / res)
    } else if res > want && res % want == 0 {
        frac / (res / want)
    } else {
        ((frac as u128 * want as u128) / res as u128) as u64
    };
    (sec, frac as i64)
}

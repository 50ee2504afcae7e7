//! GRE, version 1 (the enhanced GRE that PPTP uses): flags, call id,
//! sequence and ack numbers. The PPP payload is not decoded, so the line
//! ends before tcpdump's ": LCP ..." part.

use crate::nd::{Nd, R};

const CP: u16 = 0x8000;
const RP: u16 = 0x4000;
const KP: u16 = 0x2000;
const SP: u16 = 0x1000;
const SSR: u16 = 0x0800;
const AP: u16 = 0x0080;

pub(crate) fn gre_print(nd: &mut Nd<'_>, mut bp: usize, length: usize) -> R {
    nd.proto = "gre";
    if !nd.ttest(bp, 2) || length < 2 {
        nd.print_trunc();
        return Ok(());
    }
    let flags = nd.be2(bp)?;
    let vers = flags & 7;
    nd.s("GREv");
    nd.dec(vers as u64);
    if vers != 1 {
        if vers != 0 {
            nd.s(" ERROR: unknown-version");
        }
        return Ok(());
    }
    let mut len = length - 2;
    bp += 2;
    if nd.opts.vflag > 0 {
        nd.s(", Flags [");
        nd.bit_names(
            flags,
            &[
                (CP, "checksum present"),
                (RP, "routing present"),
                (KP, "key present"),
                (SP, "sequence# present"),
                (SSR, "source routing present"),
                (AP, "ack present"),
            ],
        );
        nd.ch(b']');
    }
    if !nd.ttest(bp, 2) || len < 2 {
        nd.print_trunc();
        return Ok(());
    }
    let prot = nd.be2(bp)?;
    len -= 2;
    bp += 2;
    for (bit, label) in [(KP, ", call "), (SP, ", seq "), (AP, ", ack ")] {
        if flags & bit != 0 {
            if !nd.ttest(bp, 4) || len < 4 {
                nd.print_trunc();
                return Ok(());
            }
            let v = nd.be4(bp)?;
            nd.s(label);
            nd.dec(if bit == KP {
                (v & 0xffff) as u64
            } else {
                v as u64
            });
            len -= 4;
            bp += 4;
        }
    }
    if flags & SP == 0 {
        nd.s(", no-payload");
    }
    if nd.opts.eflag {
        nd.s(", proto ");
        nd.s(crate::link::ethertype_name(prot).unwrap_or("unknown"));
        nd.s(" (0x");
        nd.hex(prot as u64, 4);
        nd.ch(b')');
    }
    nd.s(", length ");
    nd.dec(length as u64);
    Ok(())
}

//! `conns --format zeek`: Zeek's conn.log, TSV with its header lines
//! (`#open` and `#close` in Zeek's own `YYYY-MM-DD-HH-MM-SS`, UTC).

use std::io::Write as _;

use tcpscope_track::Side;

use super::Batch;
use crate::words::zeek_time;

/// The header, one line per connection, and the `#close` line.
pub fn write(batches: &[Batch], out: &mut Vec<u8>) {
    let all = || {
        batches
            .iter()
            .flat_map(|b| b.conns.iter().map(move |c| (b, c)))
    };
    let open = all()
        .map(|(_, c)| c)
        .min_by_key(|c| c.start)
        .map_or("-".to_string(), |c| zeek_time(c.start));
    let _ = write!(
        out,
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#open\t{open}\n\
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n\
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n"
    );
    for (i, b) in batches.iter().enumerate() {
        for c in &b.conns {
            row(c, batches.len(), i, out);
        }
    }
    let close = all()
        .map(|(_, c)| c)
        .max_by_key(|c| c.end)
        .map_or("-".to_string(), |c| zeek_time(c.end));
    let _ = writeln!(out, "#close\t{close}");
}

fn row(c: &tcpscope_track::ConnSummary, batches: usize, batch: usize, out: &mut Vec<u8>) {
    {
        // Zeek's uid is random; here it is `C` and the id (`F`, the
        // capture's number from 1, before it when there are several).
        let uid = if batches > 1 {
            format!("F{}C{}", batch + 1, c.id)
        } else {
            format!("C{}", c.id)
        };
        let (to, from) = (c.dir(Side::Client), c.dir(Side::Server));
        let _ = writeln!(
            out,
            "{:.6}\t{}\t{}\t{}\t{}\t{}\ttcp\t-\t{:.6}\t{}\t{}\t{}\t-\t-\t0\t{}\t{}\t{}\t{}\t{}\t-",
            c.start.secs(),
            uid,
            c.client.addr,
            c.client.port,
            c.server.addr,
            c.server.port,
            c.duration(),
            to.bytes,
            from.bytes,
            c.conn_state.name(),
            c.history,
            to.packets,
            to.ip_bytes,
            from.packets,
            from.ip_bytes
        );
    }
}

//! TCP MIB counters from /proc/net/netstat and /proc/net/snmp, each with
//! one line of meaning, grouped by the phase of a connection they describe.

use std::collections::BTreeMap;
use std::path::Path;

/// The phase of a connection a counter belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    /// Opening: SYNs, queues, cookies, refusals.
    Handshake,
    /// Closing: FINs, resets, aborts, TIME-WAIT.
    Teardown,
    /// Moving data: segments, retransmissions, windows.
    Transfer,
}

impl Group {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Group::Handshake => "handshake",
            Group::Teardown => "teardown",
            Group::Transfer => "transfer",
        }
    }
}

/// Where a counter was seen moving: a lab, the namespace it moved in, and
/// the range its change fell in there (`lab all` checks every one).
#[derive(Clone, Copy, Debug)]
pub struct Evidence {
    /// The lab (`tcpscope lab NAME`).
    pub lab: &'static str,
    /// `client` or `server`: whose namespace.
    pub host: &'static str,
    /// The smallest change seen.
    pub at_least: i64,
    /// The largest.
    pub at_most: i64,
}

const fn moved(lab: &'static str, host: &'static str) -> Evidence {
    Evidence {
        lab,
        host,
        at_least: 1,
        at_most: i64::MAX,
    }
}

const fn exactly(lab: &'static str, host: &'static str, n: i64) -> Evidence {
    Evidence {
        lab,
        host,
        at_least: n,
        at_most: n,
    }
}

/// A counter tcpscope explains, with the meaning measured on the kernel.
#[derive(Debug)]
pub struct Known {
    /// `Tcp` (from /proc/net/snmp) or `TcpExt` (/proc/net/netstat).
    pub section: &'static str,
    /// The name within its section.
    pub name: &'static str,
    /// The phase it describes.
    pub group: Group,
    /// What moves it, as the labs and tests saw it.
    pub meaning: &'static str,
    /// The labs where it was seen to move (or not to).
    pub labs: &'static [Evidence],
    /// The test in `crates/cli/tests/counter_meanings.rs` that provokes it, if any.
    pub test: Option<&'static str>,
}

const fn k(
    section: &'static str,
    name: &'static str,
    group: Group,
    meaning: &'static str,
    labs: &'static [Evidence],
    test: Option<&'static str>,
) -> Known {
    Known {
        section,
        name,
        group,
        meaning,
        labs,
        test,
    }
}

use Group::{Handshake as H, Teardown as T, Transfer as X};

/// The counters tcpscope explains, in display order. Every meaning here was
/// seen on the kernel: in the labs named (checked by `lab all` in the test
/// suite) or in the test named. The table in docs/counters.md is this one.
pub const KNOWN: &[Known] = &[
    k("Tcp", "ActiveOpens", H, "connect() calls that sent a SYN (CLOSED -> SYN-SENT)", &[exactly("handshake", "client", 1)], None),
    k("Tcp", "PassiveOpens", H, "handshakes a listener completed: the final ACK created the connection's socket; half-open ones held in SYN-RECV are not counted", &[exactly("handshake", "server", 1), exactly("synack-retries", "server", 0)], Some("listen_overflows_count_dropped_syns")),
    k("Tcp", "AttemptFails", H, "connection attempts the kernel ended: refused (an RST answered the SYN) or given up after SYN retransmissions; not a connect() the application abandoned (close() in SYN-SENT)", &[exactly("rst-refused", "client", 1), exactly("syn-retries", "client", 2)], Some("listen_overflows_count_dropped_syns")),
    k("TcpExt", "ListenOverflows", H, "segments dropped because the accept queue was full: SYNs (and their retransmissions), and handshakes' final ACKs (again for each later segment of that client: ACKs of re-sent SYN-ACKs, FINs)", &[exactly("backlog", "server", 8), moved("accept-queue-overflow", "server")], Some("listen_overflows_count_dropped_syns")),
    k("TcpExt", "ListenDrops", H, "everything a listener dropped: every ListenOverflows, every TCPReqQFullDrop, and other drops", &[moved("backlog", "server"), moved("syn-queue-overflow", "server")], Some("listen_overflows_count_dropped_syns")),
    k("TcpExt", "TCPReqQFullDrop", H, "SYNs dropped because the SYN queue was full and syncookies were off (tcp_syncookies = 0)", &[moved("syn-queue-overflow", "server")], None),
    k("TcpExt", "TCPReqQFullDoCookies", H, "SYNs answered with a syncookie because the SYN queue was full", &[moved("backlog", "server"), moved("syn-flood", "server")], None),
    k("TcpExt", "SyncookiesSent", H, "SYN-ACKs sent carrying a syncookie", &[moved("syn-flood", "server")], None),
    k("TcpExt", "SyncookiesRecv", H, "final ACKs that carried a valid syncookie (the connection is made without a SYN-queue entry)", &[exactly("syn-flood", "server", 1)], None),
    k("TcpExt", "TCPSynRetrans", H, "SYN and SYN-ACK retransmissions (a peer or a queue not answering)", &[exactly("syn-retries", "client", 7), exactly("synack-retries", "server", 2)], None),
    k("TcpExt", "TCPFastOpenActive", H, "connections opened with data in the SYN (Fast Open with a cookie)", &[exactly("fast-open", "client", 1)], None),
    k("TcpExt", "TCPFastOpenPassive", H, "Fast Open SYNs whose data the listener accepted", &[exactly("fast-open", "server", 1)], None),
    k("Tcp", "EstabResets", T, "connections that went from ESTABLISHED or CLOSE-WAIT straight to CLOSED: a reset sent or received (both ends count)", &[exactly("reset-by-peer", "client", 1), exactly("reset-by-peer", "server", 1)], Some("aborts_name_the_close_that_made_them")),
    k("Tcp", "OutRsts", T, "segments sent with RST", &[exactly("rst-refused", "server", 1)], None),
    k("TcpExt", "TCPAbortOnData", T, "RSTs sent by close() with SO_LINGER 0 and nothing unread, or because data arrived after the application closed", &[exactly("rst-linger", "server", 1), moved("reset-by-peer", "server")], Some("aborts_name_the_close_that_made_them")),
    k("TcpExt", "TCPAbortOnClose", T, "RSTs sent because the application closed with unread data (with SO_LINGER 0 too)", &[exactly("rst-unread", "server", 1)], Some("aborts_name_the_close_that_made_them")),
    k("TcpExt", "TCPAbortOnLinger", T, "not SO_LINGER: RSTs sent by close() in FIN-WAIT-2 on a socket whose TCP_LINGER2 is negative", &[exactly("rst-linger", "server", 0)], Some("aborts_name_the_close_that_made_them")),
    k("TcpExt", "TCPAbortOnTimeout", T, "connections given up by a timer (ETIMEDOUT): SYN, data or FIN retransmissions or keepalive probes unanswered", &[exactly("syn-retries", "client", 2), exactly("keepalive", "client", 1), exactly("fin-timeout", "client", 1)], None),
    k("TcpExt", "TW", T, "sockets handed to a timewait socket with more than 4 s to live: TIME-WAIT, or an orphaned FIN-WAIT-2 (counted on entry; ss still lists them)", &[exactly("handshake", "client", 1)], None),
    k("TcpExt", "TWRecycled", T, "TIME-WAIT 4-tuples taken over by a new outgoing connection (tcp_tw_reuse)", &[moved("time-wait", "client")], None),
    k("TcpExt", "TWKilled", T, "sockets handed to a timewait socket with 4 s or less to live: an orphaned FIN-WAIT-2 under a short tcp_fin_timeout", &[exactly("close-wait-leak", "client", 1)], None),
    k("TcpExt", "TCPTimeWaitOverflow", T, "closes that found no TIME-WAIT slot (tcp_max_tw_buckets reached) and skipped TIME-WAIT", &[moved("time-wait", "client")], None),
    k("Tcp", "InSegs", X, "segments received", &[moved("handshake", "server")], None),
    k("Tcp", "OutSegs", X, "segments sent", &[moved("handshake", "client")], None),
    k("Tcp", "RetransSegs", X, "segments retransmitted, SYNs and SYN-ACKs included", &[exactly("syn-retries", "client", 7)], None),
    k("Tcp", "InErrs", X, "segments received in error: bad checksums, and SYNs arriving on a synchronized connection (answered with a challenge ACK, RFC 5961), such as SYN-ACKs re-sent after the final ACK was lost", &[exactly("synack-retries", "client", 2)], None),
    k("TcpExt", "TCPLostRetransmit", X, "retransmissions declared lost again: each retransmission timeout after the first on the same segment", &[exactly("syn-retries", "client", 5)], None),
    k("TcpExt", "TCPFastRetrans", X, "fast retransmissions (after duplicate ACKs or SACK, without waiting for the timer)", &[moved("loss", "server")], None),
    k("TcpExt", "TCPTimeouts", X, "retransmission timer expiries (RTO), SYN and SYN-ACK timeouts included", &[moved("syn-retries", "client"), moved("synack-retries", "server")], None),
    k("TcpExt", "TCPToZeroWindowAdv", X, "times this host advertised a zero window (its reader fell behind)", &[exactly("zero-window", "client", 1)], None),
    k("TcpExt", "TCPFromZeroWindowAdv", X, "times this host opened a window it had closed to zero", &[exactly("zero-window", "client", 1)], None),
    k("TcpExt", "DelayedACKs", X, "delayed ACKs sent (the delayed-ACK timer fired)", &[moved("half-close", "server")], None),
];

/// A snapshot of the counters: section -> name -> value. A counter the
/// running kernel lacks is absent from the map, not zero.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// (section, name) -> value.
    pub values: BTreeMap<(String, String), i64>,
}

impl Snapshot {
    /// Read /proc/net/netstat and /proc/net/snmp of the current network namespace.
    pub fn read() -> Result<Snapshot, crate::KernelError> {
        Snapshot::read_from(Path::new("/proc/net"))
    }

    /// Read netstat and snmp files from `dir`.
    pub fn read_from(dir: &Path) -> Result<Snapshot, crate::KernelError> {
        let mut s = Snapshot::default();
        for f in ["netstat", "snmp"] {
            let path = dir.join(f);
            let text = std::fs::read_to_string(&path)
                .map_err(|source| crate::KernelError::Proc { path, source })?;
            s.parse(&text);
        }
        Ok(s)
    }

    /// Parse the two-line "Section: names" / "Section: values" format.
    pub fn parse(&mut self, text: &str) {
        let lines: Vec<&str> = text.lines().collect();
        for pair in lines.chunks(2) {
            let [names, values] = pair else { continue };
            let (Some((sec, names)), Some((sec2, values))) =
                (names.split_once(':'), values.split_once(':'))
            else {
                continue;
            };
            if sec != sec2 {
                continue;
            }
            for (n, v) in names.split_whitespace().zip(values.split_whitespace()) {
                if let Ok(v) = v.parse::<i64>() {
                    self.values.insert((sec.to_string(), n.to_string()), v);
                }
            }
        }
    }

    /// A counter's value, `None` if this kernel does not have it.
    pub fn get(&self, section: &str, name: &str) -> Option<i64> {
        self.values
            .get(&(section.to_string(), name.to_string()))
            .copied()
    }

    /// `self - earlier` for one counter.
    pub fn delta(&self, earlier: &Snapshot, section: &str, name: &str) -> Option<i64> {
        Some(self.get(section, name)? - earlier.get(section, name)?)
    }
}

/// The meaning of a counter, if tcpscope knows it.
pub fn meaning(section: &str, name: &str) -> Option<&'static Known> {
    KNOWN
        .iter()
        .find(|k| k.section == section && k.name == name)
}

/// The docs' table of counters (docs/counters.md): name as nstat writes
/// it, meaning, and where it was seen moving.
pub fn markdown_table() -> String {
    let mut s =
        String::from("| counter | group | meaning | seen in |\n| --- | --- | --- | --- |\n");
    for k in KNOWN {
        let mut seen: Vec<String> = k
            .labs
            .iter()
            .map(|e| {
                let n = if e.at_least == e.at_most {
                    format!("{:+}", e.at_least)
                } else {
                    "moves".to_string()
                };
                format!("lab `{}` ({} {n})", e.lab, e.host)
            })
            .collect();
        if let Some(t) = k.test {
            seen.push(format!("test `{t}`"));
        }
        s.push_str(&format!(
            "| `{}{}` | {} | {} | {} |\n",
            k.section,
            k.name,
            k.group.name(),
            k.meaning,
            seen.join("; ")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_docs_table_is_this_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/counters.md");
        let doc = std::fs::read_to_string(path).unwrap_or_default();
        let table = markdown_table();
        if std::env::var_os("TCPSCOPE_WRITE_DOCS").is_some() {
            let head = doc.split("| counter |").next().unwrap_or("").to_string();
            std::fs::write(path, head + &table).unwrap();
            return;
        }
        assert!(
            doc.ends_with(&table),
            "docs/counters.md is out of date: run TCPSCOPE_WRITE_DOCS=1 cargo test -p tcpscope-kernel the_docs_table"
        );
    }

    #[test]
    fn parses_pairs_of_lines_and_keeps_absent_counters_absent() {
        let mut s = Snapshot::default();
        s.parse(
            "TcpExt: SyncookiesSent ListenOverflows\nTcpExt: 0 36\nIpExt: InNoRoutes\nIpExt: 0\n",
        );
        s.parse("Tcp: RtoAlgorithm MaxConn ActiveOpens\nTcp: 1 -1 188284\n");
        assert_eq!(s.get("TcpExt", "ListenOverflows"), Some(36));
        assert_eq!(s.get("Tcp", "MaxConn"), Some(-1));
        assert_eq!(s.get("TcpExt", "TCPReqQFullDrop"), None);
        let mut later = s.clone();
        later
            .values
            .insert(("TcpExt".into(), "ListenOverflows".into()), 40);
        assert_eq!(later.delta(&s, "TcpExt", "ListenOverflows"), Some(4));
    }

    #[test]
    fn the_real_files_parse() {
        let s = Snapshot::read().unwrap();
        assert!(s.get("Tcp", "ActiveOpens").is_some());
        assert!(s.get("TcpExt", "ListenOverflows").is_some());
    }
}

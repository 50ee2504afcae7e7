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

/// A counter tcpscope explains: (section, name, group, meaning).
pub type Known = (&'static str, &'static str, Group, &'static str);

/// The counters the labs rely on, in display order, with their meaning.
pub const KNOWN: &[Known] = &[
    ("Tcp", "ActiveOpens", Group::Handshake, "connections this host opened (SYN sent: CLOSED -> SYN-SENT)"),
    ("Tcp", "PassiveOpens", Group::Handshake, "connections accepted by a listener (LISTEN -> SYN-RECEIVED)"),
    ("Tcp", "AttemptFails", Group::Handshake, "opens that failed: SYN-SENT or SYN-RECEIVED -> CLOSED (refused, timed out, reset)"),
    ("TcpExt", "ListenOverflows", Group::Handshake, "final ACKs that found the accept queue full, each repeat again (lab accept-queue-overflow); the handshake is ignored or, with tcp_abort_on_overflow=1, reset"),
    ("TcpExt", "ListenDrops", Group::Handshake, "SYNs and final ACKs a listener dropped for any reason (includes ListenOverflows)"),
    ("TcpExt", "TCPReqQFullDrop", Group::Handshake, "SYNs dropped because the SYN queue was full and syncookies were off"),
    ("TcpExt", "TCPReqQFullDoCookies", Group::Handshake, "SYNs answered with a syncookie because the SYN queue was full"),
    ("TcpExt", "SyncookiesSent", Group::Handshake, "SYN-ACKs sent with a syncookie"),
    ("TcpExt", "SyncookiesRecv", Group::Handshake, "final ACKs carrying a valid syncookie"),
    ("TcpExt", "SyncookiesFailed", Group::Handshake, "ACKs whose syncookie did not check out"),
    ("TcpExt", "TCPSynRetrans", Group::Handshake, "SYN and SYN-ACK retransmissions (a peer or a queue not answering)"),
    ("TcpExt", "TCPFastOpenActive", Group::Handshake, "connections opened with data in the SYN (Fast Open)"),
    ("TcpExt", "TCPFastOpenPassive", Group::Handshake, "Fast Open SYNs whose data was accepted"),
    ("Tcp", "EstabResets", Group::Teardown, "connections reset from ESTABLISHED or CLOSE-WAIT"),
    ("Tcp", "OutRsts", Group::Teardown, "segments sent with RST"),
    ("TcpExt", "TCPAbortOnData", Group::Teardown, "RSTs sent by an abortive close(): SO_LINGER with a zero timeout (lab rst-linger)"),
    ("TcpExt", "TCPAbortOnClose", Group::Teardown, "RSTs sent because the application closed with unread data"),
    ("TcpExt", "TCPAbortOnLinger", Group::Teardown, "not SO_LINGER 0, whatever the name says: that counts TCPAbortOnData (lab rst-linger)"),
    ("TcpExt", "TCPAbortOnTimeout", Group::Teardown, "connections given up after too many retransmissions (ETIMEDOUT)"),
    ("TcpExt", "TCPAbortOnMemory", Group::Teardown, "connections aborted for lack of memory (too many orphans)"),
    ("TcpExt", "TW", Group::Teardown, "sockets handed to a timewait socket with more than 4 s to live: TIME-WAIT, or an orphaned FIN-WAIT-2 (counted on entry, not at the end)"),
    ("TcpExt", "TWRecycled", Group::Teardown, "TIME-WAIT sockets reused for a new connection (tcp_tw_reuse)"),
    ("TcpExt", "TWKilled", Group::Teardown, "sockets handed to a timewait socket with 4 s or less to live: an orphaned FIN-WAIT-2 under a short tcp_fin_timeout (lab close-wait-leak)"),
    ("TcpExt", "TCPTimeWaitOverflow", Group::Teardown, "closes that found no TIME-WAIT slot (tcp_max_tw_buckets reached)"),
    ("Tcp", "InSegs", Group::Transfer, "segments received"),
    ("Tcp", "OutSegs", Group::Transfer, "segments sent"),
    ("Tcp", "RetransSegs", Group::Transfer, "segments retransmitted"),
    ("Tcp", "InErrs", Group::Transfer, "segments received with errors (bad checksum and such)"),
    ("TcpExt", "TCPLostRetransmit", Group::Transfer, "retransmissions that were lost again"),
    ("TcpExt", "TCPFastRetrans", Group::Transfer, "fast retransmissions (after duplicate ACKs or SACK)"),
    ("TcpExt", "TCPTimeouts", Group::Transfer, "retransmission timer expiries (RTO)"),
    ("TcpExt", "TCPSpuriousRTOs", Group::Transfer, "RTOs found spurious afterwards (F-RTO)"),
    ("TcpExt", "TCPFromZeroWindowAdv", Group::Transfer, "times this host opened a window it had closed to zero"),
    ("TcpExt", "TCPToZeroWindowAdv", Group::Transfer, "times this host advertised a zero window (a slow reader)"),
    ("TcpExt", "TCPWantZeroWindowAdv", Group::Transfer, "times this host wanted to advertise a zero window"),
    ("TcpExt", "TCPRcvQDrop", Group::Transfer, "segments dropped because the receive queue was full"),
    ("TcpExt", "TCPBacklogDrop", Group::Transfer, "segments dropped from the socket backlog (receiver overloaded)"),
    ("TcpExt", "DelayedACKs", Group::Transfer, "delayed ACKs sent"),
    ("TcpExt", "PAWSEstab", Group::Transfer, "segments rejected by timestamps (PAWS) on open connections"),
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
    KNOWN.iter().find(|k| k.0 == section && k.1 == name)
}

#[cfg(test)]
mod tests {
    use super::*;

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

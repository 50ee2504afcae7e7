//! The TCP tuning sysctls: current value, kernel default, what each does.
//! Nothing here writes a sysctl; the findings are in [`crate::doctor`].

use std::path::{Path, PathBuf};

use crate::counters::Group;

/// One tunable.
pub struct Setting {
    /// Its name as `sysctl` spells it.
    pub name: &'static str,
    /// The phase it tunes.
    pub group: Group,
    /// The default of a current Linux kernel ("depends on memory" where it does).
    pub default: &'static str,
    /// What it does, in two lines.
    pub what: &'static str,
}

/// The settings `tcpscope doctor` reviews.
pub const SETTINGS: &[Setting] = &[
    Setting { name: "net.ipv4.tcp_syn_retries", group: Group::Handshake, default: "6", what: "How long connect() re-sends an unanswered SYN, counted as the time that many doubling\nretries (1 s, 2 s, 4 s...) would take: 2 gives ETIMEDOUT after 7 s (lab syn-retries), 6 about 2 min." },
    Setting { name: "net.ipv4.tcp_syn_linear_timeouts", group: Group::Handshake, default: "4", what: "SYN retransmissions sent 1 s apart before the wait starts doubling (lab syn-retries).\nThey add SYNs, not time: tcp_syn_retries still bounds how long connect() waits." },
    Setting { name: "net.ipv4.tcp_synack_retries", group: Group::Handshake, default: "5", what: "How many times a listener retransmits an unacknowledged SYN-ACK.\nThe half-open entry stays in the SYN queue meanwhile." },
    Setting { name: "net.ipv4.tcp_max_syn_backlog", group: Group::Handshake, default: "depends on memory (128 or more)", what: "A cap on half-open handshakes; each listener's SYN queue is also bounded by its backlog.\nWhen full, SYNs are dropped unless syncookies answer them (lab syn-queue-overflow)." },
    Setting { name: "net.core.somaxconn", group: Group::Handshake, default: "4096", what: "Upper bound on listen()'s backlog: a listener's queues are limited by min(backlog, somaxconn).\nWith a small backlog the application's value binds, not this (ss -ltn: Send-Q)." },
    Setting { name: "net.ipv4.tcp_syncookies", group: Group::Handshake, default: "1", what: "1: answer SYNs with syncookies when the SYN queue is full; 2: always; 0: never.\nCookies keep accepting under SYN floods, at the cost of some options." },
    Setting { name: "net.ipv4.tcp_abort_on_overflow", group: Group::Handshake, default: "0", what: "1: answer a handshake that finds the accept queue full with RST.\n0: drop the final ACK and let the client retry (usually better)." },
    Setting { name: "net.ipv4.tcp_fastopen", group: Group::Handshake, default: "1", what: "Bitmask: 1 client Fast Open, 2 server Fast Open (with TCP_FASTOPEN).\nData in the SYN saves a round trip on repeat connections." },
    Setting { name: "net.ipv4.tcp_fin_timeout", group: Group::Teardown, default: "60", what: "Seconds an orphaned connection waits in FIN-WAIT-2 for the peer's FIN.\n(Not the TIME-WAIT length, which is fixed at 60 s.)" },
    Setting { name: "net.ipv4.tcp_orphan_retries", group: Group::Teardown, default: "0 (means 8)", what: "Retransmissions before giving up on a connection the application closed.\nLower it where many peers vanish." },
    Setting { name: "net.ipv4.tcp_max_orphans", group: Group::Teardown, default: "depends on memory", what: "Most connections closed by their application but not yet finished.\nBeyond it they are reset at once (TCPAbortOnMemory)." },
    Setting { name: "net.ipv4.tcp_tw_reuse", group: Group::Teardown, default: "2", what: "Reuse a TIME-WAIT 4-tuple for a new outgoing connection: 1 always, 2 loopback only.\nNeeds timestamps; safe for clients that open many short connections." },
    Setting { name: "net.ipv4.tcp_max_tw_buckets", group: Group::Teardown, default: "depends on memory", what: "Most sockets in TIME-WAIT at once.\nBeyond it closes skip TIME-WAIT (TCPTimeWaitOverflow)." },
    Setting { name: "net.ipv4.ip_local_port_range", group: Group::Teardown, default: "32768 60999", what: "Ephemeral ports for outgoing connections.\nWith TIME-WAIT holding ports for 60 s, it caps new connections per second to one peer." },
    Setting { name: "net.ipv4.tcp_window_scaling", group: Group::Transfer, default: "1", what: "Offer the window scale option (RFC 7323).\nWithout it the window stops at 64 KiB, which caps throughput at 64 KiB per RTT." },
    Setting { name: "net.ipv4.tcp_rmem", group: Group::Transfer, default: "4096 131072 6291456", what: "Receive buffer: min, default, max (bytes) for auto-tuning.\nThe max bounds the window, so bandwidth * RTT must fit in it." },
    Setting { name: "net.ipv4.tcp_wmem", group: Group::Transfer, default: "4096 16384 4194304", what: "Send buffer: min, default, max (bytes) for auto-tuning.\nToo small a max stalls senders on long fat networks." },
    Setting { name: "net.core.rmem_max", group: Group::Transfer, default: "212992", what: "Largest SO_RCVBUF an application may set.\n(Auto-tuning is bounded by tcp_rmem instead.)" },
    Setting { name: "net.core.wmem_max", group: Group::Transfer, default: "212992", what: "Largest SO_SNDBUF an application may set.\n(Auto-tuning is bounded by tcp_wmem instead.)" },
    Setting { name: "net.ipv4.tcp_moderate_rcvbuf", group: Group::Transfer, default: "1", what: "Auto-tune the receive buffer to the connection's needs.\nSetting SO_RCVBUF turns it off for that socket." },
    Setting { name: "net.ipv4.tcp_congestion_control", group: Group::Transfer, default: "cubic", what: "Congestion control algorithm for new connections.\nbbr suits lossy long paths; cubic is the kernel default." },
    Setting { name: "net.ipv4.tcp_slow_start_after_idle", group: Group::Transfer, default: "1", what: "Restart slow start after an idle period.\n0 keeps the window for bursty request/response connections." },
    Setting { name: "net.ipv4.tcp_keepalive_time", group: Group::Transfer, default: "7200", what: "Seconds of idleness before the first keepalive probe (with SO_KEEPALIVE).\nTwo hours is longer than most middlebox timeouts." },
    Setting { name: "net.ipv4.tcp_keepalive_intvl", group: Group::Transfer, default: "75", what: "Seconds between keepalive probes.\nDead peers are found after keepalive_time + intvl * probes." },
    Setting { name: "net.ipv4.tcp_keepalive_probes", group: Group::Transfer, default: "9", what: "Unanswered keepalive probes before the connection is reset.\nThe application then gets ETIMEDOUT." },
];

/// Where a sysctl lives under /proc/sys.
pub fn path(name: &str) -> PathBuf {
    Path::new("/proc/sys").join(name.replace('.', "/"))
}

/// A sysctl's current value (whitespace folded), `None` if absent here.
pub fn read(name: &str) -> Option<String> {
    let v = std::fs::read_to_string(path(name)).ok()?;
    Some(v.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_reads_on_this_kernel() {
        for s in SETTINGS {
            assert!(read(s.name).is_some(), "{} is missing", s.name);
            assert_eq!(s.what.lines().count(), 2, "{}: two lines", s.name);
        }
    }
}

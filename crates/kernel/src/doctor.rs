//! `tcpscope doctor`'s findings: what the counters, the settings and the
//! listeners show together, naming the limit that actually binds. Each
//! finding is one a lab provokes (checked by `lab all` in the test suite);
//! a namespace where nothing went wrong gives none.

use crate::counters::Snapshot;
use crate::diag::{tcp_state, Socket};

/// The sysctls the findings read.
pub const SETTINGS_READ: &[&str] = &[
    "net.core.somaxconn",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.tcp_max_syn_backlog",
    "net.ipv4.tcp_max_tw_buckets",
    "net.ipv4.tcp_syn_retries",
    "net.ipv4.tcp_syn_linear_timeouts",
];

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// A stable name: `accept_queue_full`, `syn_queue_drops`,
    /// `syncookies_answered`, `time_wait_overflow`.
    pub kind: &'static str,
    /// The limit that binds: a sysctl, or `listen() backlog`.
    pub limit: String,
    /// The numbers the finding rests on, as (name, value).
    pub numbers: Vec<(String, String)>,
    /// What happened, in words.
    pub text: String,
    /// What to change.
    pub advice: String,
    /// The command to run (tcpscope never runs it).
    pub command: String,
}

/// Everything the findings look at.
pub struct Evidence<'a> {
    /// Counters of the namespace (since boot, or since it was created).
    pub counters: &'a Snapshot,
    /// A sysctl's value in the namespace (`None` where absent).
    pub sysctl: &'a dyn Fn(&str) -> Option<String>,
    /// The listeners (sock_diag), now or as seen while it happened.
    pub listeners: &'a [Socket],
}

fn num(v: Option<String>) -> Option<i64> {
    v?.trim().parse().ok()
}

/// The findings, most urgent first.
pub fn findings(e: &Evidence) -> Vec<Finding> {
    let c = |n: &str| e.counters.get("TcpExt", n).unwrap_or(0);
    let mut out = Vec::new();
    let listeners: Vec<&Socket> = e
        .listeners
        .iter()
        .filter(|s| s.state == tcp_state::LISTEN)
        .collect();

    let reqq = c("TCPReqQFullDrop");
    if reqq > 0 {
        let cookies = num((e.sysctl)("net.ipv4.tcp_syncookies")).unwrap_or(1);
        let linear = num((e.sysctl)("net.ipv4.tcp_syn_linear_timeouts"));
        out.push(Finding {
            kind: "syn_queue_drops",
            limit: if cookies == 0 {
                "net.ipv4.tcp_syncookies".to_string()
            } else {
                "listen() backlog".to_string()
            },
            numbers: vec![
                ("TcpExtTCPReqQFullDrop".to_string(), reqq.to_string()),
                ("TcpExtListenDrops".to_string(), c("ListenDrops").to_string()),
                ("TcpExtTCPSynRetrans".to_string(), c("TCPSynRetrans").to_string()),
                ("net.ipv4.tcp_syncookies".to_string(), cookies.to_string()),
            ],
            text: format!(
                "{reqq} SYNs were dropped because a listener's SYN queue (half-open handshakes) was full and syncookies \
                 did not answer for it. Their clients re-send the SYN{} and time out (ETIMEDOUT) if the queue stays full",
                match linear {
                    Some(n) if n > 0 => format!(" (the first {n} times 1 s apart: tcp_syn_linear_timeouts)"),
                    _ => String::new(),
                }
            ),
            advice: if cookies == 0 {
                "enable syncookies (tcp_syncookies = 1, the kernel's default), or raise the listen() backlog, which \
                 bounds the SYN queue too"
                    .to_string()
            } else {
                "raise the listen() backlog, which bounds the SYN queue, or find who sends the SYNs".to_string()
            },
            command: if cookies == 0 {
                "sysctl -w net.ipv4.tcp_syncookies=1".to_string()
            } else {
                "tcpscope ss -tn state syn-recv".to_string()
            },
        });
    }

    let overflows = c("ListenOverflows");
    let full: Vec<&&Socket> = listeners.iter().filter(|s| s.recv_q > s.send_q).collect();
    if overflows > 0 || !full.is_empty() {
        let somaxconn = num((e.sysctl)("net.core.somaxconn")).unwrap_or(4096);
        let mut numbers = vec![
            ("TcpExtListenOverflows".to_string(), overflows.to_string()),
            (
                "TcpExtListenDrops".to_string(),
                c("ListenDrops").to_string(),
            ),
            ("net.core.somaxconn".to_string(), somaxconn.to_string()),
        ];
        // The listeners that overflowed now, or else every listener.
        let looked: Vec<&Socket> = if full.is_empty() {
            listeners.clone()
        } else {
            full.iter().map(|s| **s).collect()
        };
        for s in &looked {
            numbers.push((
                format!("listener {}", s.local),
                format!("Recv-Q {} Send-Q {}", s.recv_q, s.send_q),
            ));
        }
        let below: Vec<&&Socket> = looked
            .iter()
            .filter(|s| (s.send_q as i64) < somaxconn)
            .collect();
        let watch = match looked.first() {
            Some(s) => format!("tcpscope ss -ltn 'sport = :{}'", s.local.port()),
            None => "tcpscope ss -ltn".to_string(),
        };
        let (limit, advice, command) = if full.is_empty() {
            // No queue is full now: which listener overflowed, and so which
            // limit bound, cannot be told from here.
            (
                "listen() backlog or net.core.somaxconn".to_string(),
                format!(
                    "no listener's accept queue is full now, so which limit bound cannot be told: while it happens, \
                     `tcpscope ss -ltn` shows each listener's queue (Recv-Q) and limit (Send-Q = min(listen() backlog, \
                     somaxconn)); a Send-Q below somaxconn ({somaxconn}) means the application's backlog is the limit"
                ),
                watch,
            )
        } else if let Some(s) = below.first() {
            (
                "listen() backlog".to_string(),
                format!(
                    "the application's listen() backlog binds: Send-Q {} is below somaxconn ({somaxconn}), so raising \
                     somaxconn changes nothing. Raise the backlog the application passes to listen(), or make it accept() \
                     faster (the queue holds Send-Q + 1 connections)",
                    s.send_q
                ),
                watch,
            )
        } else {
            (
                "net.core.somaxconn".to_string(),
                format!(
                    "somaxconn ({somaxconn}) caps the listen() backlog here: raise it and the backlog the application \
                     asks for, or make it accept() faster"
                ),
                format!("sysctl -w net.core.somaxconn={}", somaxconn.saturating_mul(2).max(4096)),
            )
        };
        out.push(Finding {
            kind: "accept_queue_full",
            limit,
            numbers,
            text: format!(
                "an accept queue was full: {overflows} SYNs or handshake-completing ACKs were dropped (ListenOverflows). \
                 Clients whose final ACK was dropped believe they are connected; the others re-send their SYNs"
            ),
            advice,
            command,
        });
    }

    let twov = c("TCPTimeWaitOverflow");
    if twov > 0 {
        let buckets = num((e.sysctl)("net.ipv4.tcp_max_tw_buckets"));
        out.push(Finding {
            kind: "time_wait_overflow",
            limit: "net.ipv4.tcp_max_tw_buckets".to_string(),
            numbers: vec![
                ("TcpExtTCPTimeWaitOverflow".to_string(), twov.to_string()),
                (
                    "net.ipv4.tcp_max_tw_buckets".to_string(),
                    buckets.map_or("absent".into(), |b| b.to_string()),
                ),
            ],
            text: format!(
                "{twov} closes found the TIME-WAIT table full and skipped TIME-WAIT: a late segment of those \
                 connections can reach a new one on the same ports"
            ),
            advice: "raise tcp_max_tw_buckets; fewer, longer connections (keep-alive, pooling) make fewer TIME-WAIT \
                     sockets"
                .to_string(),
            command: format!(
                "sysctl -w net.ipv4.tcp_max_tw_buckets={}",
                buckets.map_or(262144, |b| b.saturating_mul(2).max(1024))
            ),
        });
    }
    let do_cookies = c("TCPReqQFullDoCookies");
    if do_cookies > 0 {
        out.push(Finding {
            kind: "syncookies_answered",
            limit: "listen() backlog".to_string(),
            numbers: vec![
                ("TcpExtTCPReqQFullDoCookies".to_string(), do_cookies.to_string()),
                ("TcpExtSyncookiesSent".to_string(), c("SyncookiesSent").to_string()),
                ("TcpExtSyncookiesRecv".to_string(), c("SyncookiesRecv").to_string()),
            ],
            text: format!(
                "a SYN queue filled up and syncookies answered {do_cookies} SYNs for it; the connections made from a \
                 cookie lose the options the SYN queue would have kept unless timestamps carry them"
            ),
            advice: "under a SYN flood that is the cookies' job; otherwise the listen() backlog is too small for the \
                     rate of new connections: raise it"
                .to_string(),
            command: "tcpscope ss -ltn".to_string(),
        });
    }

    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener(port: u16, recv_q: u32, send_q: u32) -> Socket {
        let mut s = Socket::tcp(
            tcp_state::LISTEN,
            format!("127.0.0.1:{port}").parse().unwrap(),
            "0.0.0.0:0".parse().unwrap(),
        );
        s.recv_q = recv_q;
        s.send_q = send_q;
        s
    }

    fn settings(name: &str) -> Option<String> {
        match name {
            "net.core.somaxconn" => Some("4096".into()),
            "net.ipv4.tcp_syncookies" => Some("0".into()),
            "net.ipv4.tcp_syn_linear_timeouts" => Some("4".into()),
            _ => None,
        }
    }

    #[test]
    fn a_small_backlog_is_named_not_somaxconn() {
        let mut c = Snapshot::default();
        c.parse("TcpExt: ListenOverflows ListenDrops\nTcpExt: 6 6\n");
        let l = [listener(9000, 2, 1)];
        let f = findings(&Evidence {
            counters: &c,
            sysctl: &settings,
            listeners: &l,
        });
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].kind, "accept_queue_full");
        assert_eq!(f[0].limit, "listen() backlog");
        assert!(
            f[0].advice.contains("Send-Q 1 is below somaxconn (4096)"),
            "{}",
            f[0].advice
        );
        assert!(!f[0].command.contains("somaxconn"), "{}", f[0].command);
        // A listener at somaxconn: then somaxconn binds.
        let l = [listener(9000, 4097, 4096)];
        let f = findings(&Evidence {
            counters: &c,
            sysctl: &settings,
            listeners: &l,
        });
        assert_eq!(f[0].limit, "net.core.somaxconn");
        assert_eq!(f[0].command, "sysctl -w net.core.somaxconn=8192");
    }

    #[test]
    fn syn_drops_without_cookies_and_a_quiet_namespace() {
        let mut c = Snapshot::default();
        c.parse("TcpExt: TCPReqQFullDrop ListenDrops TCPSynRetrans\nTcpExt: 14 31 24\n");
        let f = findings(&Evidence {
            counters: &c,
            sysctl: &settings,
            listeners: &[],
        });
        assert_eq!(f[0].kind, "syn_queue_drops");
        assert_eq!(f[0].command, "sysctl -w net.ipv4.tcp_syncookies=1");
        assert!(f[0].text.contains("the first 4 times 1 s apart"));
        let quiet = Snapshot::default();
        assert!(findings(&Evidence {
            counters: &quiet,
            sysctl: &settings,
            listeners: &[]
        })
        .is_empty());
    }
}

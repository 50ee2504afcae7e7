//! The test peers of tcpscope: a server and a client with every knob the
//! TCP phenomena need, which say exactly what the application saw.
//!
//! Instead of writing a client and server by hand to provoke a behaviour
//! (a reset, a broken pipe, a full accept queue, a pile of TIME-WAIT), a
//! user runs `tcpscope server` and `tcpscope client` with the knob for it.
//! Labs and tests run the same code in-process:
//!
//! ```no_run
//! use tcpscope_peers::{client, server, CloseMode};
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! rt.block_on(async {
//!     let srv = server::Server::bind(server::ServerConfig {
//!         close: CloseMode::Rst,
//!         close_after: Some(1),
//!         ..server::ServerConfig::new("127.0.0.1:0".parse().unwrap())
//!     })
//!     .unwrap();
//!     let addr = srv.local_addr();
//!     let handle = tokio::spawn(srv.run());
//!     let report = client::run(client::ClientConfig {
//!         message: Some(b"hello".to_vec()),
//!         recv: true,
//!         ..client::ClientConfig::new(addr)
//!     })
//!     .await;
//!     assert_eq!(report.error_count("read", libc::ECONNRESET), 1);
//!     handle.abort();
//! });
//! ```
//!
//! Every loop is bounded by a count or a duration.
#![deny(missing_docs)]

pub mod client;
pub mod errno;
pub mod report;
pub mod server;
pub mod sockopt;

use std::time::Duration;

/// How a peer ends a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CloseMode {
    /// close(): a FIN, or an RST if received data is still unread (the kernel's rule).
    Fin,
    /// SO_LINGER with a zero timeout, then close(): an RST, and the peer's
    /// next read fails with ECONNRESET.
    Rst,
    /// shutdown(SHUT_WR): a FIN, but keep reading until the peer closes too.
    Half,
    /// Exit the process with the socket open: the kernel closes it.
    Exit,
    /// Never close; wait for the peer or the end of the run.
    Never,
}

impl std::str::FromStr for CloseMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "fin" => CloseMode::Fin,
            "rst" => CloseMode::Rst,
            "half" => CloseMode::Half,
            "exit" => CloseMode::Exit,
            "never" => CloseMode::Never,
            _ => {
                return Err(format!(
                    "unknown close mode '{s}' (fin, rst, half, exit, never)"
                ))
            }
        })
    }
}

/// Parse a duration such as `250ms`, `2s`, `1.5s`, `3m` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (like 500ms, 2s, 1m)"))?;
    let secs = match unit {
        "us" => v / 1e6,
        "ms" => v / 1e3,
        "s" => v,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        _ => return Err(format!("'{s}': unknown unit '{unit}' (us, ms, s, m, h)")),
    };
    if !(0.0..=1e9).contains(&secs) {
        return Err(format!("'{s}' is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Raise the limit on open files to `want`, so that thousands of
/// connections can be held: the soft limit up to the hard one, and the hard
/// one too when the process may (root, CAP_SYS_RESOURCE). Returns the soft
/// limit in force afterwards.
pub fn raise_nofile_limit(want: u64) -> u64 {
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur >= want {
            return lim.rlim_cur;
        }
        let both = libc::rlimit {
            rlim_cur: want,
            rlim_max: want.max(lim.rlim_max),
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &both) != 0 {
            lim.rlim_cur = want.min(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3 weeks").is_err());
    }
}

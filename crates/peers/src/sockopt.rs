//! Socket options shared by the server and the client.

use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};

use crate::CloseMode;

/// Options set on every socket of a peer.
#[derive(Clone, Debug, Default)]
pub struct SockOpts {
    /// SO_RCVBUF in bytes (the kernel doubles it).
    pub rcvbuf: Option<usize>,
    /// SO_SNDBUF in bytes (the kernel doubles it).
    pub sndbuf: Option<usize>,
    /// TCP_NODELAY: no Nagle.
    pub nodelay: bool,
    /// SO_KEEPALIVE with TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT.
    pub keepalive: Option<(Duration, Duration, u32)>,
    /// SO_LINGER timeout used by a `fin` close (close blocks up to it).
    pub linger: Option<Duration>,
}

impl SockOpts {
    /// Set the options that must precede connect() or listen(): buffers
    /// decide the window scale offered in the SYN.
    pub fn apply_early(&self, s: &socket2::Socket) -> std::io::Result<()> {
        if let Some(n) = self.rcvbuf {
            s.set_recv_buffer_size(n)?;
        }
        if let Some(n) = self.sndbuf {
            s.set_send_buffer_size(n)?;
        }
        Ok(())
    }

    /// Set the per-connection options on an established socket.
    pub fn apply(&self, s: SockRef<'_>) -> std::io::Result<()> {
        if self.nodelay {
            s.set_nodelay(true)?;
        }
        if let Some((idle, intvl, cnt)) = self.keepalive {
            s.set_tcp_keepalive(
                &TcpKeepalive::new()
                    .with_time(idle)
                    .with_interval(intvl)
                    .with_retries(cnt),
            )?;
        }
        Ok(())
    }
}

/// Parse `IDLE,INTVL,CNT` (durations, then a count) for `--keepalive`.
pub fn parse_keepalive(s: &str) -> Result<(Duration, Duration, u32), String> {
    let parts: Vec<&str> = s.split(',').collect();
    if parts.len() != 3 {
        return Err(format!(
            "--keepalive wants IDLE,INTVL,CNT (like 10s,2s,3), got '{s}'"
        ));
    }
    let cnt = parts[2]
        .parse()
        .map_err(|_| format!("keepalive count '{}' is not a number", parts[2]))?;
    Ok((
        crate::parse_duration(parts[0])?,
        crate::parse_duration(parts[1])?,
        cnt,
    ))
}

/// What closing a socket in `mode` does to it before the file descriptor
/// is dropped: SO_LINGER 0 for an RST, SO_LINGER n for a lingering FIN.
pub fn prepare_close(
    s: SockRef<'_>,
    mode: CloseMode,
    linger: Option<Duration>,
) -> std::io::Result<()> {
    match mode {
        CloseMode::Rst => s.set_linger(Some(Duration::ZERO)),
        CloseMode::Fin if linger.is_some() => s.set_linger(linger),
        _ => Ok(()),
    }
}

/// Set an integer socket option that socket2 has no method for.
pub(crate) fn set_int(
    s: &impl std::os::fd::AsRawFd,
    level: i32,
    name: i32,
    v: i32,
) -> std::io::Result<()> {
    // SAFETY: a plain int option on a socket the caller owns.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            level,
            name,
            &v as *const i32 as *const libc::c_void,
            std::mem::size_of::<i32>() as u32,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

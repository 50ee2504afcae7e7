//! Sockets and listen queues from the kernel's sock_diag netlink interface,
//! the source `ss` uses: state, queues, and tcp_info.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

const NETLINK_SOCK_DIAG: i32 = 4;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_DONE: u16 = 3;
const NLMSG_ERROR: u16 = 2;
const INET_DIAG_INFO: u16 = 2;
const INET_DIAG_SKMEMINFO: u16 = 7;
const INET_DIAG_SKV6ONLY: u16 = 11;

/// Kernel TCP states as sock_diag numbers them (the vocabulary's table).
pub use tcpscope_wire::state::kernel as tcp_state;

/// The RFC name of a kernel state number.
pub fn state_name(s: u8) -> &'static str {
    tcpscope_wire::State::kernel_name(s)
}

/// The tcp_info fields tcpscope shows (times in microseconds).
#[derive(Clone, Copy, Debug, Default)]
pub struct TcpInfo {
    /// Retransmission timeout.
    pub rto_us: u32,
    /// Smoothed RTT.
    pub rtt_us: u32,
    /// RTT variance.
    pub rttvar_us: u32,
    /// Congestion window (segments).
    pub snd_cwnd: u32,
    /// Slow-start threshold (segments; huge means "infinite").
    pub snd_ssthresh: u32,
    /// Retransmissions of the current segment.
    pub retransmits: u8,
    /// Retransmissions over the connection's life.
    pub total_retrans: u32,
    /// Bytes acknowledged by the peer.
    pub bytes_acked: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Delivery rate (bytes per second).
    pub delivery_rate: u64,
    /// Sender MSS.
    pub snd_mss: u32,
    /// Window scales (send, receive).
    pub wscale: (u8, u8),
    /// Milliseconds since the last data was sent / received.
    pub last_data_sent_ms: u32,
    /// Milliseconds since the last data was received.
    pub last_data_recv_ms: u32,
}

/// One socket.
#[derive(Clone, Debug)]
pub struct Socket {
    /// `IPPROTO_TCP` or `IPPROTO_UDP`.
    pub protocol: u8,
    /// Kernel state number (see [`tcp_state`]; a UDP socket is CLOSE when
    /// unconnected, ESTABLISHED when connected).
    pub state: u8,
    /// Local address.
    pub local: SocketAddr,
    /// Peer address.
    pub peer: SocketAddr,
    /// For a listener: the accept queue's length; otherwise the receive queue's bytes.
    pub recv_q: u32,
    /// For a listener: the accept queue's limit, min(backlog, somaxconn); otherwise unsent bytes.
    pub send_q: u32,
    /// Socket inode, to find the owning process.
    pub inode: u32,
    /// Owner uid.
    pub uid: u32,
    /// Active timer: 0 none, 1 retransmit, 2 keepalive, 3 TIME-WAIT, 4 zero-window probe.
    pub timer: u8,
    /// Milliseconds until the timer fires.
    pub expires_ms: u32,
    /// Retransmissions (or keepalive probes) counted by the active timer.
    pub retrans: u8,
    /// The kernel's socket cookie (what `ss -e` prints as `sk:`).
    pub cookie: u64,
    /// tcp_info, for full TCP sockets.
    pub info: Option<TcpInfo>,
    /// An IPv6 socket with IPV6_V6ONLY set.
    pub v6only: bool,
    /// Socket memory (`ss -m`'s skmem): rmem_alloc, rcvbuf, wmem_alloc,
    /// sndbuf, fwd_alloc, wmem_queued, optmem, backlog, drops.
    pub skmem: Option<[u32; 9]>,
}

impl Socket {
    /// A TCP socket in `state` between two endpoints, its other fields
    /// empty: what tests and callers that build one by hand start from.
    pub fn tcp(state: u8, local: SocketAddr, peer: SocketAddr) -> Socket {
        Socket {
            protocol: libc::IPPROTO_TCP as u8,
            state,
            local,
            peer,
            recv_q: 0,
            send_q: 0,
            inode: 0,
            uid: 0,
            timer: 0,
            expires_ms: 0,
            retrans: 0,
            cookie: 0,
            info: None,
            v6only: false,
            skmem: None,
        }
    }
}

fn u16le(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn u64le(b: &[u8], at: usize) -> u64 {
    (u32le(b, at) as u64) | ((u32le(b, at + 4) as u64) << 32)
}

/// Dump the sockets of one family and protocol (`IPPROTO_TCP` or
/// `IPPROTO_UDP`) in the given states (a bitmask of `1 << state`), with
/// tcp_info and socket memory.
pub fn dump(family: u8, protocol: u8, states: u32) -> io::Result<Vec<Socket>> {
    // SAFETY: plain socket calls on a descriptor this function owns and closes.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            NETLINK_SOCK_DIAG,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let result = dump_on(fd, family, protocol, states);
    unsafe { libc::close(fd) };
    result
}

fn dump_on(fd: i32, family: u8, protocol: u8, states: u32) -> io::Result<Vec<Socket>> {
    let mut req = [0u8; 16 + 56];
    let total = req.len() as u32;
    req[0..4].copy_from_slice(&total.to_le_bytes());
    req[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_le_bytes());
    req[6..8].copy_from_slice(&((libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16).to_le_bytes());
    req[8..12].copy_from_slice(&1u32.to_le_bytes());
    req[16] = family;
    req[17] = protocol;
    req[18] = (1 << (INET_DIAG_INFO - 1)) | (1 << (INET_DIAG_SKMEMINFO - 1));
    req[20..24].copy_from_slice(&states.to_le_bytes());
    // SAFETY: sends our buffer to the kernel (pid 0) on our netlink socket.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as u16;
    let sent = unsafe {
        libc::sendto(
            fd,
            req.as_ptr() as *const libc::c_void,
            req.len(),
            0,
            &addr as *const libc::sockaddr_nl as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // SAFETY: the kernel writes at most buf.len() bytes into buf.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        let mut at = 0;
        while at + 16 <= n {
            let len = u32le(&buf, at) as usize;
            let ty = u16le(&buf, at + 4);
            if len < 16 || at + len > n {
                return Ok(out);
            }
            match ty {
                NLMSG_DONE => return Ok(out),
                NLMSG_ERROR => {
                    let err =
                        i32::from_le_bytes(buf[at + 16..at + 20].try_into().unwrap_or([0; 4]));
                    return Err(io::Error::from_raw_os_error(-err));
                }
                SOCK_DIAG_BY_FAMILY => {
                    if let Some(s) = parse_msg(protocol, &buf[at + 16..at + len]) {
                        out.push(s);
                    }
                }
                _ => {}
            }
            at += (len + 3) & !3;
        }
    }
}

fn parse_msg(protocol: u8, m: &[u8]) -> Option<Socket> {
    if m.len() < 72 {
        return None;
    }
    let family = m[0];
    let addr = |at: usize| -> IpAddr {
        if family == libc::AF_INET as u8 {
            IpAddr::V4(Ipv4Addr::new(m[at], m[at + 1], m[at + 2], m[at + 3]))
        } else {
            let mut b = [0u8; 16];
            b.copy_from_slice(&m[at..at + 16]);
            IpAddr::V6(Ipv6Addr::from(b))
        }
    };
    let sport = u16::from_be_bytes([m[4], m[5]]);
    let dport = u16::from_be_bytes([m[6], m[7]]);
    let mut s = Socket {
        protocol,
        state: m[1],
        timer: m[2],
        retrans: m[3],
        cookie: u32le(m, 44) as u64 | ((u32le(m, 48) as u64) << 32),
        local: SocketAddr::new(addr(8), sport),
        peer: SocketAddr::new(addr(24), dport),
        expires_ms: u32le(m, 52),
        recv_q: u32le(m, 56),
        send_q: u32le(m, 60),
        uid: u32le(m, 64),
        inode: u32le(m, 68),
        info: None,
        v6only: false,
        skmem: None,
    };
    let mut at = 72;
    while at + 4 <= m.len() {
        let len = u16le(m, at) as usize;
        let ty = u16le(m, at + 2);
        if len < 4 || at + len > m.len() {
            break;
        }
        if ty == INET_DIAG_SKV6ONLY && len >= 5 {
            s.v6only = m[at + 4] != 0;
        }
        if ty == INET_DIAG_SKMEMINFO && len >= 4 + 36 {
            let mut v = [0u32; 9];
            for (i, x) in v.iter_mut().enumerate() {
                *x = u32le(m, at + 4 + 4 * i);
            }
            s.skmem = Some(v);
        }
        if ty == INET_DIAG_INFO && protocol == libc::IPPROTO_TCP as u8 {
            let d = &m[at + 4..at + len];
            if d.len() >= 168 {
                s.info = Some(TcpInfo {
                    retransmits: d[2],
                    wscale: (d[6] & 0xf, d[6] >> 4),
                    rto_us: u32le(d, 8),
                    snd_mss: u32le(d, 16),
                    last_data_sent_ms: u32le(d, 44),
                    last_data_recv_ms: u32le(d, 52),
                    rtt_us: u32le(d, 68),
                    rttvar_us: u32le(d, 72),
                    snd_ssthresh: u32le(d, 76),
                    snd_cwnd: u32le(d, 80),
                    total_retrans: u32le(d, 100),
                    bytes_acked: u64le(d, 120),
                    bytes_received: u64le(d, 128),
                    delivery_rate: u64le(d, 160),
                });
            }
        }
        at += (len + 3) & !3;
    }
    Some(s)
}

/// Every TCP socket of both families in the given states.
pub fn tcp_sockets(states: u32) -> Result<Vec<Socket>, crate::KernelError> {
    sockets(libc::IPPROTO_TCP as u8, states)
}

/// Every socket of one protocol (`IPPROTO_TCP`, `IPPROTO_UDP`) of both
/// families in the given states.
pub fn sockets(protocol: u8, states: u32) -> Result<Vec<Socket>, crate::KernelError> {
    let mut v =
        dump(libc::AF_INET as u8, protocol, states).map_err(crate::KernelError::SockDiag)?;
    v.extend(dump(libc::AF_INET6 as u8, protocol, states).map_err(crate::KernelError::SockDiag)?);
    Ok(v)
}

/// All states.
pub const ALL_STATES: u32 = 0xfff;

/// The processes holding each socket inode, as `ss -p` lists them:
/// (command name, pid, file descriptor), by pid.
pub fn owners() -> std::collections::HashMap<u32, Vec<(String, u32, u32)>> {
    let mut map = std::collections::HashMap::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return map;
    };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let comm = std::fs::read_to_string(p.path().join("comm"))
            .unwrap_or_default()
            .trim()
            .to_string();
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Some(fdno) = fd.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Ok(target) = std::fs::read_link(fd.path()) {
                let t = target.to_string_lossy();
                if let Some(inode) = t
                    .strip_prefix("socket:[")
                    .and_then(|r| r.strip_suffix(']'))
                    .and_then(|n| n.parse().ok())
                {
                    map.entry(inode)
                        .or_insert_with(Vec::new)
                        .push((comm.clone(), pid, fdno));
                }
            }
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_shows_its_queue_and_limit() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        // Two completed handshakes, never accepted.
        let _a = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let _b = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let socks = tcp_sockets(1 << tcp_state::LISTEN).unwrap();
        let me = socks
            .iter()
            .find(|s| s.local.port() == port)
            .expect("our listener");
        assert_eq!(me.state, tcp_state::LISTEN);
        assert_eq!(me.recv_q, 2);
        // std's listen() backlog is 128, below somaxconn.
        assert_eq!(me.send_q, 128);
        let est = tcp_sockets(1 << tcp_state::ESTABLISHED).unwrap();
        let conn = est
            .iter()
            .find(|s| s.peer.port() == port)
            .expect("client side");
        assert!(conn.info.is_some_and(|i| i.rtt_us > 0 && i.snd_cwnd > 0));
    }
}

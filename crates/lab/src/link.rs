//! The link between a lab's client and server: two TUN devices, one in each
//! namespace, joined by a relay in user space that delays each packet, may
//! limit the rate, drops at random (seeded) and drops chosen packets. This
//! kernel has no netem; the relay is what makes an RTT, loss and a lost
//! final ACK happen on demand.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tcpscope_wire::ipv4::Ipv4Packet;
use tcpscope_wire::tcp::{flags, TcpPacket};

/// The interface name of the link's end in each namespace.
pub const IFACE: &str = "tcpscope0";
/// The client's address on the link.
pub const CLIENT_ADDR: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
/// The server's address on the link.
pub const SERVER_ADDR: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TUN: i16 = 0x0001;
const IFF_NO_PI: i16 = 0x1000;

/// `struct ifreq`: a name and a 24-byte union.
#[repr(C)]
struct IfReq {
    name: [u8; 16],
    data: [u8; 24],
}

impl IfReq {
    fn new(name: &str) -> io::Result<IfReq> {
        if name.len() >= 16 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "interface name too long",
            ));
        }
        let mut r = IfReq {
            name: [0; 16],
            data: [0; 24],
        };
        r.name[..name.len()].copy_from_slice(name.as_bytes());
        Ok(r)
    }
    fn set_addr(&mut self, a: Ipv4Addr) {
        // struct sockaddr_in: family, port, address.
        self.data[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        self.data[4..8].copy_from_slice(&a.octets());
    }
}

fn ioctl(fd: i32, req: libc::c_ulong, r: &mut IfReq) -> io::Result<()> {
    // SAFETY: the request's argument is an ifreq-sized buffer we own.
    if unsafe { libc::ioctl(fd, req as _, r as *mut IfReq) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn inet_socket() -> io::Result<File> {
    // SAFETY: socket(2); the descriptor is owned by the File.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a new descriptor nobody else owns.
    Ok(unsafe { <File as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// Bring an interface of the current namespace up.
pub fn set_up(name: &str) -> io::Result<()> {
    let s = inet_socket()?;
    let mut r = IfReq::new(name)?;
    ioctl(s.as_raw_fd(), libc::SIOCGIFFLAGS, &mut r)?;
    let fl = i16::from_ne_bytes([r.data[0], r.data[1]]) | libc::IFF_UP as i16;
    r.data[..2].copy_from_slice(&fl.to_ne_bytes());
    ioctl(s.as_raw_fd(), libc::SIOCSIFFLAGS, &mut r)
}

/// Create the link's TUN device in the current namespace with `addr`/24,
/// up; returns the device's packet descriptor.
pub fn create_tun(addr: Ipv4Addr) -> io::Result<File> {
    let tun = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .map_err(|e| io::Error::new(e.kind(), format!("/dev/net/tun: {e}")))?;
    let mut r = IfReq::new(IFACE)?;
    r.data[..2].copy_from_slice(&(IFF_TUN | IFF_NO_PI).to_ne_bytes());
    ioctl(tun.as_raw_fd(), TUNSETIFF, &mut r)?;
    set_addr(IFACE, addr)?;
    set_up(IFACE)?;
    Ok(tun)
}

/// Give an interface of the current namespace `addr`/24.
pub fn set_addr(iface: &str, addr: Ipv4Addr) -> io::Result<()> {
    let s = inet_socket()?;
    let mut r = IfReq::new(iface)?;
    r.set_addr(addr);
    ioctl(s.as_raw_fd(), libc::SIOCSIFADDR, &mut r)?;
    let mut r = IfReq::new(iface)?;
    r.set_addr(Ipv4Addr::new(255, 255, 255, 0));
    ioctl(s.as_raw_fd(), libc::SIOCSIFNETMASK, &mut r)
}

/// Which way a packet goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// From the client to the server.
    ToServer,
    /// From the server to the client.
    ToClient,
}

/// The TCP facts a drop rule looks at.
#[derive(Clone, Copy, Debug)]
pub struct TcpView {
    /// Source address.
    pub src: Ipv4Addr,
    /// Flag byte.
    pub flags: u8,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Payload bytes.
    pub len: u32,
}

impl TcpView {
    /// The TCP segment of an IPv4 packet.
    pub fn of(pkt: &[u8]) -> Option<TcpView> {
        let ip = Ipv4Packet::new(pkt);
        if ip.protocol()? != 6 {
            return None;
        }
        let hl = ip.header_len()?;
        let total = ip.total_len()? as usize;
        let tcp = TcpPacket::new(pkt.get(hl..)?);
        Some(TcpView {
            src: Ipv4Addr::from(ip.src()?),
            flags: tcp.flags()?,
            seq: tcp.seq()?,
            ack: tcp.ack()?,
            len: total.checked_sub(hl + tcp.header_len()?)? as u32,
        })
    }
    /// Whether all of `bits` are set.
    pub fn has(&self, bits: u8) -> bool {
        self.flags & bits == bits
    }
    /// A SYN without ACK.
    pub fn is_syn(&self) -> bool {
        self.has(flags::SYN) && !self.has(flags::ACK)
    }
}

/// A chosen drop: packets in one direction that match, within a window of
/// time since the link came up, up to a count.
pub struct DropRule {
    /// What it drops, for the lab's output ("the client's final ACKs").
    pub name: &'static str,
    /// The direction it applies to.
    pub dir: Dir,
    /// Which packets.
    pub matches: Box<dyn FnMut(&TcpView) -> bool + Send>,
    /// Only from this long after the link came up.
    pub after: Option<Duration>,
    /// Only until this long after the link came up.
    pub during: Option<Duration>,
    /// At most this many.
    pub max: Option<u64>,
}

/// What the link does to packets.
#[derive(Default)]
pub struct LinkSpec {
    /// One-way delay, each direction.
    pub delay: Duration,
    /// Bits per second, each direction (None: no limit).
    pub rate_bps: Option<u64>,
    /// Probability of a random drop, each direction.
    pub loss: f64,
    /// Seed of the random drops.
    pub seed: u64,
    /// Chosen drops.
    pub drops: Vec<DropRule>,
}

impl LinkSpec {
    /// A link that only delays, by `one_way` each way.
    pub fn with_delay(one_way: Duration) -> LinkSpec {
        LinkSpec {
            delay: one_way,
            ..LinkSpec::default()
        }
    }

    /// The link in words: "RTT 40 ms, 1% loss".
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("RTT {} ms", (self.delay * 2).as_millis())];
        if let Some(r) = self.rate_bps {
            parts.push(format!("{} Mbit/s", r as f64 / 1e6));
        }
        if self.loss > 0.0 {
            parts.push(format!(
                "{}% random loss (seed {})",
                self.loss * 100.0,
                self.seed
            ));
        }
        for d in &self.drops {
            parts.push(format!("drops {}", d.name));
        }
        parts.join(", ")
    }
}

/// What the link did.
#[derive(Clone, Debug, Default)]
pub struct LinkStats {
    /// Packets forwarded, to the server and to the client.
    pub forwarded: [u64; 2],
    /// Packets dropped at random, each way.
    pub random_drops: [u64; 2],
    /// Packets dropped by each rule, by its name.
    pub rule_drops: Vec<(&'static str, u64)>,
}

/// A running relay; stopping it (or dropping it) ends the thread.
pub struct Relay {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<Mutex<LinkStats>>,
    next_seq: Arc<Mutex<[Option<u32>; 2]>>,
}

/// xorshift64*: the relay's seeded randomness.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Queued {
    due: Instant,
    pkt: Vec<u8>,
}

impl Relay {
    /// Start relaying between the client's device and the server's; each
    /// packet read starts with `l2` bytes of link header (0 for TUN, 14 for
    /// the Ethernet frames of the veth form).
    pub fn start(client: File, server: File, l2: usize, mut spec: LinkSpec) -> io::Result<Relay> {
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(Mutex::new(LinkStats {
            rule_drops: spec.drops.iter().map(|d| (d.name, 0)).collect(),
            ..LinkStats::default()
        }));
        for f in [&client, &server] {
            // SAFETY: fcntl on a descriptor we own.
            unsafe {
                let fl = libc::fcntl(f.as_raw_fd(), libc::F_GETFL);
                libc::fcntl(f.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
            }
        }
        let next_seq = Arc::new(Mutex::new([None; 2]));
        let (stop2, stats2, next2) = (stop.clone(), stats.clone(), next_seq.clone());
        let thread = std::thread::Builder::new()
            .name("tcpscope-link".into())
            .spawn(move || {
                let mut devs = [client, server];
                let mut queues: [VecDeque<Queued>; 2] = [VecDeque::new(), VecDeque::new()];
                let mut free_at = [Instant::now(); 2];
                let mut rng = Rng(spec.seed.max(1));
                let mut matched = vec![0u64; spec.drops.len()];
                let started = Instant::now();
                let mut buf = vec![0u8; 65536];
                while !stop2.load(Ordering::Relaxed) {
                    let now = Instant::now();
                    // Deliver what is due: queue 0 goes to the server's device.
                    for q in 0..2 {
                        while queues[q].front().is_some_and(|p| p.due <= now) {
                            let p = queues[q].pop_front().expect("front exists");
                            let _ = devs[1 - q].write(&p.pkt);
                        }
                    }
                    let next_due = queues.iter().filter_map(|q| q.front().map(|p| p.due)).min();
                    let timeout = next_due.map_or(50, |d| {
                        d.saturating_duration_since(Instant::now())
                            .as_millis()
                            .min(50) as i32
                    });
                    let mut fds = [
                        libc::pollfd {
                            fd: devs[0].as_raw_fd(),
                            events: libc::POLLIN,
                            revents: 0,
                        },
                        libc::pollfd {
                            fd: devs[1].as_raw_fd(),
                            events: libc::POLLIN,
                            revents: 0,
                        },
                    ];
                    // A due time under a millisecond away: poll without waiting.
                    // SAFETY: poll(2) on two descriptors we own.
                    unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) };
                    for side in 0..2 {
                        if fds[side].revents & libc::POLLIN == 0 {
                            continue;
                        }
                        let dir = if side == 0 {
                            Dir::ToServer
                        } else {
                            Dir::ToClient
                        };
                        while let Ok(n) = devs[side].read(&mut buf) {
                            let pkt = &buf[..n];
                            let now = Instant::now();
                            let view = if l2 == 0 {
                                TcpView::of(pkt)
                            } else if pkt.len() > l2 && pkt[12..14] == [0x08, 0x00] {
                                TcpView::of(&pkt[l2..])
                            } else {
                                None
                            };
                            if let Some(v) = &view {
                                let occupies =
                                    v.len + (v.flags & (flags::SYN | flags::FIN) != 0) as u32;
                                next2.lock().expect("not poisoned")[side] =
                                    Some(v.seq.wrapping_add(occupies));
                            }
                            let mut dropped = false;
                            if let Some(v) = &view {
                                for (i, rule) in spec.drops.iter_mut().enumerate() {
                                    if rule.dir != dir
                                        || rule.after.is_some_and(|d| now - started < d)
                                        || rule.during.is_some_and(|d| now - started > d)
                                        || rule.max.is_some_and(|m| matched[i] >= m)
                                    {
                                        continue;
                                    }
                                    if (rule.matches)(v) {
                                        matched[i] += 1;
                                        stats2.lock().expect("not poisoned").rule_drops[i].1 += 1;
                                        dropped = true;
                                        break;
                                    }
                                }
                            }
                            if !dropped && spec.loss > 0.0 && rng.next_f64() < spec.loss {
                                stats2.lock().expect("not poisoned").random_drops[side] += 1;
                                dropped = true;
                            }
                            if dropped {
                                continue;
                            }
                            let tx = spec.rate_bps.map_or(Duration::ZERO, |r| {
                                Duration::from_secs_f64(n as f64 * 8.0 / r as f64)
                            });
                            let leave = free_at[side].max(now) + tx;
                            free_at[side] = leave;
                            stats2.lock().expect("not poisoned").forwarded[side] += 1;
                            queues[side].push_back(Queued {
                                due: leave + spec.delay,
                                pkt: pkt.to_vec(),
                            });
                        }
                    }
                }
            })?;
        Ok(Relay {
            stop,
            thread: Some(thread),
            stats,
            next_seq,
        })
    }

    /// What the link did so far.
    pub fn stats(&self) -> LinkStats {
        self.stats.lock().expect("not poisoned").clone()
    }

    /// The sequence number after the last TCP packet seen in `dir`.
    pub fn next_seq(&self, dir: Dir) -> Option<u32> {
        self.next_seq.lock().expect("not poisoned")[dir as usize]
    }

    /// Stop relaying.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

//! Live capture on Linux: an AF_PACKET socket with a TPACKET_V3 receive ring,
//! the filter attached in the kernel, and frames handed out without a copy.
//!
//! What libpcap does and this module does the same way:
//! - the socket is created with protocol 0 (it receives nothing), the filter
//!   and the ring are set up, and only then is it bound with `ETH_P_ALL`, so
//!   no packet that the filter rejects is ever delivered;
//! - on a loopback interface every packet is seen twice by a packet socket
//!   (once leaving, once arriving); the outgoing copy is dropped (on `lo`
//!   itself the kernel is asked not to queue it, `PACKET_IGNORE_OUTGOING`,
//!   so the ring holds twice as many packets and "received by filter"
//!   counts each packet once, where libpcap counts it twice);
//! - a VLAN tag the kernel stripped into the ring header is put back into the
//!   frame, so the bytes are those on the wire;
//! - `-i any` is a cooked (`SOCK_DGRAM`) socket; each frame gets a LINUX_SLL2
//!   (or LINUX_SLL) header built from its `sockaddr_ll`. The kernel sees no
//!   link header there, so the program given for it must be one rewritten
//!   for a cooked socket (`tcpscope_filter::bpf::for_cooked_socket`).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::{Frame, LinkType, Precision};

const ETH_P_ALL: u16 = 0x0003;
const SOL_PACKET: libc::c_int = 263;
const PACKET_RX_RING: libc::c_int = 5;
const PACKET_STATISTICS: libc::c_int = 6;
const PACKET_VERSION: libc::c_int = 10;
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
const TPACKET_V3: libc::c_int = 2;
const SO_ATTACH_FILTER: libc::c_int = 26;
const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;
const PACKET_OUTGOING: u8 = 4;
const ARPHRD_ETHER: u16 = 1;
const ARPHRD_LOOPBACK: u16 = 772;
const ARPHRD_NONE: u16 = 0xfffe;
/// Size of `struct tpacket3_hdr` rounded to TPACKET_ALIGNMENT (16).
const TPACKET3_HDRLEN: usize = 48;
/// Ring block size: a power of two that holds the largest loopback frame.
const BLOCK_SIZE: u32 = 1 << 18;

/// Which directions to capture (`-Q`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Both (the default).
    InOut,
    /// Packets received by this host.
    In,
    /// Packets sent by this host.
    Out,
}

/// How to open a live capture.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// Bytes kept of each packet (`-s`; 0 means 262144).
    pub snaplen: u32,
    /// Kernel ring size in bytes (`-B` is in KiB).
    pub buffer_bytes: usize,
    /// Deliver each packet at once instead of when a ring block fills or times out.
    pub immediate: bool,
    /// `-Q`.
    pub direction: Direction,
    /// For `-i any`: LINUX_SLL2 (true, the default) or LINUX_SLL (`-y LINUX_SLL`).
    pub sll2: bool,
    /// Timestamp precision of the frames handed out.
    pub precision: Precision,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            snaplen: 262_144,
            buffer_bytes: 2 << 20,
            immediate: false,
            direction: Direction::InOut,
            sll2: true,
            precision: Precision::Micro,
        }
    }
}

/// Why a live capture could not start, in words for the user.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// No CAP_NET_RAW.
    #[error("capturing needs CAP_NET_RAW: run as root or with sudo")]
    Permission,
    /// The interface does not exist.
    #[error("{0}: No such device exists")]
    NoDevice(String),
    /// The interface is down.
    #[error("{0}: That device is not up")]
    Down(String),
    /// The kernel filter was refused.
    #[error("the kernel refused the filter program: {0}")]
    Filter(io::Error),
    /// Anything else, with the step that failed.
    #[error("{0}: {1}")]
    Os(&'static str, io::Error),
}

/// The kernel's packet counters, accumulated (the kernel resets them on each read).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Packets that passed the filter, including those dropped for lack of room.
    pub received: u64,
    /// Packets the kernel dropped because the ring was full.
    pub dropped: u64,
}

/// An open live capture.
pub struct Live {
    fd: OwnedFd,
    ring: *mut u8,
    ring_len: usize,
    block_size: usize,
    block_nr: usize,
    /// The block being read and the next packet's offset in it.
    block: usize,
    pkt_offset: usize,
    pkts_left: u32,
    holding: bool,
    linktype: u32,
    cooked: bool,
    sll2: bool,
    loopback_ifindex: i32,
    direction: Direction,
    snaplen: u32,
    precision: Precision,
    /// A frame rebuilt with a link header or a VLAN tag.
    scratch: Vec<u8>,
    stats: LiveStats,
}

// The ring is owned by this value alone.
unsafe impl Send for Live {}

/// One classic BPF instruction as the kernel takes it (`struct sock_filter`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SockFilter {
    /// Opcode.
    pub code: u16,
    /// Jump if true.
    pub jt: u8,
    /// Jump if false.
    pub jf: u8,
    /// Constant.
    pub k: u32,
}

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

#[repr(C)]
struct TpacketReq3 {
    tp_block_size: u32,
    tp_block_nr: u32,
    tp_frame_size: u32,
    tp_frame_nr: u32,
    tp_retire_blk_tov: u32,
    tp_sizeof_priv: u32,
    tp_feature_req_word: u32,
}

fn os(step: &'static str) -> LiveError {
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => LiveError::Permission,
        _ => LiveError::Os(step, e),
    }
}

fn setsockopt<T>(fd: i32, level: i32, name: i32, value: &T) -> io::Result<()> {
    // SAFETY: value points to a live T of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            value as *const T as *const libc::c_void,
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// An interface as `-D` lists it.
#[derive(Clone, Debug)]
pub struct Interface {
    /// Name.
    pub name: String,
    /// Kernel index.
    pub index: u32,
    /// IFF_UP.
    pub up: bool,
    /// IFF_RUNNING.
    pub running: bool,
    /// IFF_LOOPBACK.
    pub loopback: bool,
    /// `up` when the link is running (carrier), else `down`.
    pub operstate: String,
}

/// This network namespace's interfaces, in index order. (Asked of the
/// kernel with if_nameindex and ioctls, not read from /sys, which shows the
/// namespace it was mounted in.)
pub fn interfaces() -> Vec<Interface> {
    let mut out = Vec::new();
    // SAFETY: if_nameindex returns an array ended by a zero entry, freed below.
    unsafe {
        let list = libc::if_nameindex();
        if list.is_null() {
            return out;
        }
        let mut p = list;
        while (*p).if_index != 0 && !(*p).if_name.is_null() {
            let name = std::ffi::CStr::from_ptr((*p).if_name)
                .to_string_lossy()
                .into_owned();
            let flags = ifreq_u16(&name, libc::SIOCGIFFLAGS).unwrap_or(0) as u32;
            out.push(Interface {
                index: (*p).if_index,
                up: flags & libc::IFF_UP as u32 != 0,
                running: flags & libc::IFF_RUNNING as u32 != 0,
                loopback: flags & libc::IFF_LOOPBACK as u32 != 0,
                operstate: if flags & libc::IFF_RUNNING as u32 != 0 {
                    "up".to_string()
                } else {
                    "down".to_string()
                },
                name,
            });
            p = p.add(1);
        }
        libc::if_freenameindex(list);
    }
    out.sort_by_key(|i| i.index);
    out
}

/// The 16-bit value an SIOCGIF* ioctl leaves at the start of the ifreq
/// union: the flags for SIOCGIFFLAGS, the hardware type (sa_family of the
/// address) for SIOCGIFHWADDR.
fn ifreq_u16(name: &str, request: libc::Ioctl) -> Option<u16> {
    if name.len() >= 16 {
        return None;
    }
    // struct ifreq: 16 bytes of name, then a 24-byte union.
    let mut ifr = [0u8; 40];
    ifr[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: a plain datagram socket, closed below; ifr is as large as struct ifreq.
    unsafe {
        let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if s < 0 {
            return None;
        }
        let rc = libc::ioctl(s, request, ifr.as_mut_ptr());
        libc::close(s);
        if rc != 0 {
            return None;
        }
    }
    Some(u16::from_ne_bytes([ifr[16], ifr[17]]))
}

/// The interface tcpdump picks without `-i`: the first one that is up and
/// not loopback; `any` if there is none.
pub fn default_interface() -> String {
    interfaces()
        .into_iter()
        .find(|i| i.up && !i.loopback)
        .map(|i| i.name)
        .unwrap_or_else(|| "any".to_string())
}

fn ifindex(name: &str) -> Option<i32> {
    let c = CString::new(name).ok()?;
    // SAFETY: c is a valid NUL-terminated string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i as i32)
}

fn arphrd(name: &str) -> u16 {
    ifreq_u16(name, libc::SIOCGIFHWADDR).unwrap_or(ARPHRD_ETHER)
}

impl Live {
    /// Open `iface` (`"any"` for all interfaces). `filter` is the program
    /// the kernel runs on each packet (for `any`, rewritten for a cooked
    /// socket), or `None` to queue everything.
    pub fn open(
        iface: &str,
        filter: Option<&[SockFilter]>,
        opts: &LiveOptions,
    ) -> Result<Live, LiveError> {
        let cooked = iface == "any";
        let index = if cooked {
            0
        } else {
            let Some(i) = ifindex(iface) else {
                return Err(LiveError::NoDevice(iface.to_string()));
            };
            let up = interfaces().iter().any(|x| x.index as i32 == i && x.up);
            if !up {
                return Err(LiveError::Down(iface.to_string()));
            }
            i
        };
        let linktype = Self::linktype_for(iface, opts.sll2);
        let loopback_ifindex = ifindex("lo").unwrap_or(-1);
        let kind = if cooked {
            libc::SOCK_DGRAM
        } else {
            libc::SOCK_RAW
        };
        // Protocol 0: nothing is delivered until bind() names ETH_P_ALL.
        // SAFETY: plain syscall.
        let raw = unsafe { libc::socket(libc::AF_PACKET, kind | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(os("socket"));
        }
        // SAFETY: raw is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let s = fd.as_raw_fd();

        if let Some(prog) = filter {
            let fprog = SockFprog {
                len: prog.len() as u16,
                filter: prog.as_ptr(),
            };
            setsockopt(s, libc::SOL_SOCKET, SO_ATTACH_FILTER, &fprog).map_err(LiveError::Filter)?;
        }
        // On loopback the outgoing copy of each packet is a duplicate of the
        // incoming one: where libpcap drops it after the ring, ask the kernel
        // (4.20 and later) not to queue it at all, halving the ring's load.
        // With -Q in, outgoing packets are never wanted. Older kernels are
        // handled per packet below.
        if opts.direction == Direction::In
            || (opts.direction == Direction::InOut && index == loopback_ifindex)
        {
            let one: libc::c_int = 1;
            let _ = setsockopt(s, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one);
        }
        setsockopt(s, SOL_PACKET, PACKET_VERSION, &TPACKET_V3)
            .map_err(|e| LiveError::Os("TPACKET_V3 ring", e))?;
        let block_size = BLOCK_SIZE as usize;
        let block_nr = (opts.buffer_bytes / block_size).max(2);
        let req = TpacketReq3 {
            tp_block_size: BLOCK_SIZE,
            tp_block_nr: block_nr as u32,
            tp_frame_size: 2048,
            tp_frame_nr: (block_size * block_nr / 2048) as u32,
            // A block is handed over when full or after this many ms.
            tp_retire_blk_tov: if opts.immediate { 1 } else { 100 },
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setsockopt(s, SOL_PACKET, PACKET_RX_RING, &req)
            .map_err(|e| LiveError::Os("packet ring", e))?;
        let ring_len = block_size * block_nr;
        // SAFETY: mapping the ring the kernel just allocated for this socket.
        let ring = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                ring_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_LOCKED,
                s,
                0,
            )
        };
        let ring = if ring == libc::MAP_FAILED {
            // MAP_LOCKED can fail under RLIMIT_MEMLOCK; retry without it.
            // SAFETY: as above.
            let r = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    ring_len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    s,
                    0,
                )
            };
            if r == libc::MAP_FAILED {
                return Err(os("mmap ring"));
            }
            r
        } else {
            ring
        };
        // SAFETY: zeroed sockaddr_ll is valid; fields set below.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_ALL.to_be();
        sll.sll_ifindex = index;
        // SAFETY: sll is a valid sockaddr_ll of the given size.
        let rc = unsafe {
            libc::bind(
                s,
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        let live = Live {
            fd,
            ring: ring as *mut u8,
            ring_len,
            block_size,
            block_nr,
            block: 0,
            pkt_offset: 0,
            pkts_left: 0,
            holding: false,
            linktype,
            cooked,
            sll2: opts.sll2,
            loopback_ifindex,
            direction: opts.direction,
            snaplen: if opts.snaplen == 0 {
                262_144
            } else {
                opts.snaplen
            },
            precision: opts.precision,
            scratch: Vec::with_capacity(1 << 17),
            stats: LiveStats::default(),
        };
        if rc != 0 {
            return Err(os("bind"));
        }
        Ok(live)
    }

    /// The link type frames from `iface` will have.
    pub fn linktype_for(iface: &str, sll2: bool) -> u32 {
        if iface == "any" {
            return if sll2 {
                LinkType::LINUX_SLL2
            } else {
                LinkType::LINUX_SLL
            };
        }
        match arphrd(iface) {
            ARPHRD_ETHER | ARPHRD_LOOPBACK => LinkType::ETHERNET,
            ARPHRD_NONE => LinkType::RAW,
            _ => LinkType::ETHERNET,
        }
    }

    /// The link type of the frames.
    pub fn linktype(&self) -> u32 {
        self.linktype
    }

    /// The snapshot length.
    pub fn snaplen(&self) -> u32 {
        self.snaplen
    }

    /// The socket, for `poll`.
    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    fn block_ptr(&self, i: usize) -> *mut u8 {
        // SAFETY: i < block_nr, so the block lies inside the ring.
        unsafe { self.ring.add(i * self.block_size) }
    }

    fn block_status(&self, i: usize) -> u32 {
        // SAFETY: block_status is at offset 8 of the block descriptor; the
        // kernel writes it, so read it volatile.
        unsafe { std::ptr::read_volatile(self.block_ptr(i).add(8) as *const u32) }
    }

    fn release_block(&mut self) {
        if self.holding {
            std::sync::atomic::fence(std::sync::atomic::Ordering::Release);
            // SAFETY: as in block_status.
            unsafe {
                std::ptr::write_volatile(
                    self.block_ptr(self.block).add(8) as *mut u32,
                    TP_STATUS_KERNEL,
                )
            };
            self.holding = false;
            self.block = (self.block + 1) % self.block_nr;
        }
    }

    /// The next frame, waiting at most `timeout_ms` (-1: for ever). `None`
    /// when the wait timed out or was interrupted by a signal, so the caller
    /// can look at its flags.
    pub fn next_frame(&mut self, timeout_ms: i32) -> io::Result<Option<Frame<'_>>> {
        loop {
            if self.holding && self.pkts_left == 0 {
                self.release_block();
            }
            if !self.holding {
                if self.block_status(self.block) & TP_STATUS_USER == 0 {
                    let mut pfd = libc::pollfd {
                        fd: self.fd.as_raw_fd(),
                        events: libc::POLLIN | libc::POLLERR,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd.
                    let rc = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
                    if rc < 0 {
                        let e = io::Error::last_os_error();
                        if e.kind() == io::ErrorKind::Interrupted {
                            return Ok(None);
                        }
                        return Err(e);
                    }
                    if self.block_status(self.block) & TP_STATUS_USER == 0 {
                        if pfd.revents & libc::POLLERR != 0 {
                            return Err(io::Error::other("the interface went down"));
                        }
                        return Ok(None);
                    }
                }
                std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
                let b = self.block_ptr(self.block);
                // SAFETY: descriptor fields at fixed offsets inside the block.
                unsafe {
                    self.pkts_left = std::ptr::read_unaligned(b.add(12) as *const u32);
                    self.pkt_offset = std::ptr::read_unaligned(b.add(16) as *const u32) as usize;
                }
                self.holding = true;
                continue;
            }
            // Walk one packet of the held block.
            let block = self.block_ptr(self.block);
            // SAFETY: the block is ours until released; all offsets come
            // from the kernel and are checked against the block size.
            let blk = unsafe { std::slice::from_raw_parts(block as *const u8, self.block_size) };
            let at = self.pkt_offset;
            self.pkts_left -= 1;
            if at + TPACKET3_HDRLEN + 20 > blk.len() {
                self.pkts_left = 0;
                continue;
            }
            let u32_at =
                |o: usize| u32::from_ne_bytes(blk[at + o..at + o + 4].try_into().unwrap_or([0; 4]));
            let u16_at =
                |o: usize| u16::from_ne_bytes(blk[at + o..at + o + 2].try_into().unwrap_or([0; 2]));
            let next = u32_at(0) as usize;
            let sec = u32_at(4);
            let nsec = u32_at(8);
            let caplen = u32_at(12) as usize;
            let wirelen = u32_at(16);
            let status = u32_at(20);
            let mac = u16_at(24) as usize;
            let vlan_tci = u32_at(32);
            let vlan_tpid = u16_at(36);
            let sll = at + TPACKET3_HDRLEN;
            let protocol = u16::from_be_bytes([blk[sll + 2], blk[sll + 3]]);
            let ifidx = i32::from_ne_bytes(blk[sll + 4..sll + 8].try_into().unwrap_or([0; 4]));
            let hatype = u16::from_ne_bytes([blk[sll + 8], blk[sll + 9]]);
            let pkttype = blk[sll + 10];
            let halen = blk[sll + 11].min(8);
            let mut addr = [0u8; 8];
            addr.copy_from_slice(&blk[sll + 12..sll + 20]);
            if next == 0 {
                self.pkts_left = 0;
            } else {
                self.pkt_offset = at + next;
            }
            if at + mac + caplen > blk.len() {
                continue;
            }
            let data = &blk[at + mac..at + mac + caplen];

            // libpcap's direction rules: the outgoing copy on loopback is a
            // duplicate of the incoming one.
            if pkttype == PACKET_OUTGOING && ifidx == self.loopback_ifindex {
                continue;
            }
            match self.direction {
                Direction::In if pkttype == PACKET_OUTGOING => continue,
                Direction::Out if pkttype != PACKET_OUTGOING => continue,
                _ => {}
            }

            let ts_frac = match self.precision {
                Precision::Micro => (nsec / 1000) as i64,
                Precision::Nano => nsec as i64,
            };
            let mut len = wirelen;
            let frame_data: &[u8] = if self.cooked {
                self.scratch.clear();
                if self.sll2 {
                    self.scratch.extend_from_slice(&protocol.to_be_bytes());
                    self.scratch.extend_from_slice(&[0, 0]);
                    self.scratch
                        .extend_from_slice(&(ifidx as u32).to_be_bytes());
                    self.scratch.extend_from_slice(&hatype.to_be_bytes());
                    self.scratch.push(pkttype);
                    self.scratch.push(halen);
                    self.scratch.extend_from_slice(&addr);
                    len += 20;
                } else {
                    self.scratch
                        .extend_from_slice(&(pkttype as u16).to_be_bytes());
                    self.scratch.extend_from_slice(&hatype.to_be_bytes());
                    self.scratch
                        .extend_from_slice(&(halen as u16).to_be_bytes());
                    self.scratch.extend_from_slice(&addr);
                    self.scratch.extend_from_slice(&protocol.to_be_bytes());
                    len += 16;
                }
                self.scratch.extend_from_slice(data);
                &self.scratch
            } else if status & TP_STATUS_VLAN_VALID != 0 && data.len() >= 12 {
                let tpid = if status & TP_STATUS_VLAN_TPID_VALID != 0 {
                    vlan_tpid
                } else {
                    0x8100
                };
                self.scratch.clear();
                self.scratch.extend_from_slice(&data[..12]);
                self.scratch.extend_from_slice(&tpid.to_be_bytes());
                self.scratch
                    .extend_from_slice(&(vlan_tci as u16).to_be_bytes());
                self.scratch.extend_from_slice(&data[12..]);
                len += 4;
                &self.scratch
            } else {
                data
            };
            let keep = frame_data.len().min(self.snaplen as usize);
            let frame_data = &frame_data[..keep];
            // Re-borrow for the caller's lifetime.
            // SAFETY: frame_data points either into the held block (not
            // released until the next call) or into self.scratch (not touched
            // until the next call).
            let data: &[u8] =
                unsafe { std::slice::from_raw_parts(frame_data.as_ptr(), frame_data.len()) };
            return Ok(Some(Frame {
                ts_sec: sec as i64,
                ts_frac,
                linktype: self.linktype,
                caplen: data.len() as u32,
                len,
                interface: 0,
                data,
            }));
        }
    }

    /// The kernel's counters so far (reading them resets the kernel's copy;
    /// this keeps the running total).
    pub fn stats(&mut self) -> LiveStats {
        let mut st = [0u32; 3];
        let mut len = std::mem::size_of_val(&st) as libc::socklen_t;
        // SAFETY: st is large enough for struct tpacket_stats_v3.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                SOL_PACKET,
                PACKET_STATISTICS,
                st.as_mut_ptr() as *mut libc::c_void,
                &mut len,
            )
        };
        if rc == 0 {
            // tp_packets already includes tp_drops.
            self.stats.received += st[0] as u64;
            self.stats.dropped += st[1] as u64;
        }
        self.stats
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        // SAFETY: unmapping the ring mapped in open().
        unsafe { libc::munmap(self.ring as *mut libc::c_void, self.ring_len) };
    }
}

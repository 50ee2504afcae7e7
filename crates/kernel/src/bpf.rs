//! A small BPF program per tracepoint that tells which network namespace
//! each event belongs to: it reads the socket's (or, for a reset sent
//! without a socket, the packet's device's) namespace inode and writes it,
//! with the time, the socket's address and the connection's byte counts,
//! to a BPF ring buffer. User space matches each perf sample with the
//! record of the same address written just before it (a socket's memory is
//! reused at once by the next socket, so the address alone is not enough).
//! The program never drops an event (a tracepoint's BPF programs filter
//! every reader's events, not only ours): user space filters.
//!
//! Written as raw BPF instructions with offsets read from the kernel's BTF
//! (no compiler, no libbpf): the project stays on stable Rust with no C
//! dependency. A tracepoint's BPF context is its raw record, as in the
//! tracepoint's `format` file.

use std::io;

use crate::btf::Btf;
use crate::trace::Format;

const BPF_MAP_CREATE: i32 = 0;
const BPF_PROG_LOAD: i32 = 5;
const BPF_MAP_TYPE_RINGBUF: u32 = 27;
const BPF_PROG_TYPE_TRACEPOINT: u32 = 5;
/// `PERF_EVENT_IOC_SET_BPF`.
pub const PERF_EVENT_IOC_SET_BPF: u64 = 0x4004_2408;

const HELPER_KTIME_GET_NS: i32 = 5;
const HELPER_GET_CURRENT_PID_TGID: i32 = 14;
const HELPER_GET_CURRENT_COMM: i32 = 16;
const HELPER_PROBE_READ_KERNEL: i32 = 113;
const HELPER_RINGBUF_OUTPUT: i32 = 130;

/// What the program recorded for one event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SockInfo {
    /// CLOCK_MONOTONIC ns when the program ran (just before the sample).
    pub time_ns: u64,
    /// The socket's address (the packet's for a reset without a socket).
    pub addr: u64,
    /// Network namespace inode (0 when it could not be read).
    pub netns: u32,
    /// tcp_sock's bytes_acked at the last event (TCP state changes only).
    pub bytes_acked: u64,
    /// tcp_sock's bytes_received at the last event.
    pub bytes_received: u64,
    /// The process that owned the socket when the event fired: the socket
    /// was locked by a system call (or by its release), so the running
    /// process is its owner. `None` in softirq or timer context.
    pub owner: Option<(u32, String)>,
}

const RECORD: usize = 64;

fn bpf(cmd: i32, attr: &mut [u8]) -> io::Result<i32> {
    // SAFETY: the bpf syscall reads (and for some commands writes) `attr`,
    // which lives for the call.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len()) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as i32)
    }
}

/// An owned descriptor, closed on drop.
#[derive(Debug)]
pub struct Fd(pub i32);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: closing a descriptor this value owns.
        unsafe { libc::close(self.0) };
    }
}

/// The BPF ring buffer the programs write to, mapped for reading.
pub struct Ring {
    fd: Fd,
    consumer: *mut u64,
    producer: *const u8,
    size: usize,
    page: usize,
}

impl Ring {
    /// A ring of `size` bytes (a power of two, at least a page).
    pub fn create(size: usize) -> io::Result<Ring> {
        let mut attr = [0u8; 72];
        attr[0..4].copy_from_slice(&BPF_MAP_TYPE_RINGBUF.to_le_bytes());
        attr[12..16].copy_from_slice(&(size as u32).to_le_bytes());
        let fd = Fd(bpf(BPF_MAP_CREATE, &mut attr)?);
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        // SAFETY: the ring buffer's ABI: one writable consumer page at
        // offset 0, then the producer page and the data mapped twice,
        // read-only, at offset one page.
        let consumer = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.0,
                0,
            )
        };
        if consumer == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let producer = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                page + 2 * size,
                libc::PROT_READ,
                libc::MAP_SHARED,
                fd.0,
                page as i64,
            )
        };
        if producer == libc::MAP_FAILED {
            let e = io::Error::last_os_error();
            unsafe { libc::munmap(consumer, page) };
            return Err(e);
        }
        Ok(Ring {
            fd,
            consumer: consumer as *mut u64,
            producer: producer as *const u8,
            size,
            page,
        })
    }

    /// Every record written since the last call.
    pub fn drain(&mut self, out: &mut Vec<SockInfo>) {
        use std::sync::atomic::{fence, Ordering};
        // SAFETY: reads within the mappings made in create(), following
        // the ring buffer protocol (positions, busy and discard bits).
        unsafe {
            let mut cons = std::ptr::read_volatile(self.consumer);
            let prod = std::ptr::read_volatile(self.producer as *const u64);
            fence(Ordering::Acquire);
            let data = self.producer.add(self.page);
            while cons < prod {
                let at = data.add((cons as usize) & (self.size - 1));
                let hdr = std::ptr::read_volatile(at as *const u32);
                fence(Ordering::Acquire);
                if hdr & (1 << 31) != 0 {
                    break; // still being written
                }
                let len = (hdr & !(3 << 30)) as usize;
                if hdr & (1 << 30) == 0 && len >= RECORD {
                    let rec = std::slice::from_raw_parts(at.add(8), RECORD);
                    let u64_at =
                        |o: usize| u64::from_le_bytes(rec[o..o + 8].try_into().unwrap_or([0; 8]));
                    let u32_at =
                        |o: usize| u32::from_le_bytes(rec[o..o + 4].try_into().unwrap_or([0; 4]));
                    let comm = &rec[40..56];
                    let end = comm.iter().position(|&c| c == 0).unwrap_or(comm.len());
                    out.push(SockInfo {
                        time_ns: u64_at(0),
                        addr: u64_at(8),
                        netns: u32_at(16),
                        bytes_acked: u64_at(24),
                        bytes_received: u64_at(32),
                        owner: (u32_at(56) != 0).then(|| {
                            (
                                u32_at(20),
                                String::from_utf8_lossy(&comm[..end]).into_owned(),
                            )
                        }),
                    });
                }
                cons += ((len + 8 + 7) & !7) as u64;
            }
            fence(Ordering::Release);
            std::ptr::write_volatile(self.consumer, cons);
        }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: unmapping what create() mapped.
        unsafe {
            libc::munmap(self.consumer as *mut libc::c_void, self.page);
            libc::munmap(
                self.producer as *mut libc::c_void,
                self.page + 2 * self.size,
            );
        }
    }
}

/// The kernel layout the program reads, from BTF.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    skc_net: u32,
    ns_inum: u32,
    skb_dev: u32,
    nd_net: u32,
    bytes_acked: u32,
    bytes_received: u32,
    sk_owned: u32,
}

impl Layout {
    /// Read the offsets from the running kernel's BTF.
    pub fn of_running_kernel() -> io::Result<Layout> {
        let b = Btf::vmlinux()?;
        let get = |s: &str, m: &str| {
            b.offset(s, m)
                .ok_or_else(|| io::Error::other(format!("BTF has no struct {s}.{m}")))
        };
        Ok(Layout {
            skc_net: get("sock_common", "skc_net")?,
            ns_inum: get("net", "ns.inum")?,
            skb_dev: get("sk_buff", "dev")?,
            nd_net: get("net_device", "nd_net")?,
            bytes_acked: get("tcp_sock", "bytes_acked")?,
            bytes_received: get("tcp_sock", "bytes_received")?,
            sk_owned: get("sock", "sk_lock.owned")?,
        })
    }
}

/// A tiny assembler: instructions with jumps to labels.
#[derive(Default)]
struct Asm {
    insns: Vec<u64>,
    /// (instruction index, label) to patch.
    jumps: Vec<(usize, usize)>,
    labels: Vec<Option<usize>>,
}

const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R6: u8 = 6;
const R7: u8 = 7;
const R8: u8 = 8;
const R10: u8 = 10;

impl Asm {
    fn raw(&mut self, code: u8, dst: u8, src: u8, off: i16, imm: i32) {
        self.insns.push(
            code as u64
                | ((dst as u64 | ((src as u64) << 4)) << 8)
                | ((off as u16 as u64) << 16)
                | ((imm as u32 as u64) << 32),
        );
    }
    fn label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }
    fn here(&mut self, l: usize) {
        self.labels[l] = Some(self.insns.len());
    }
    fn mov(&mut self, dst: u8, src: u8) {
        self.raw(0xbf, dst, src, 0, 0);
    }
    fn movi(&mut self, dst: u8, imm: i32) {
        self.raw(0xb7, dst, 0, 0, imm);
    }
    fn addi(&mut self, dst: u8, imm: i32) {
        self.raw(0x07, dst, 0, 0, imm);
    }
    /// dst = *(u64 *)(src + off)
    fn ld64(&mut self, dst: u8, src: u8, off: i16) {
        self.raw(0x79, dst, src, off, 0);
    }
    /// dst = *(u32 *)(src + off)
    fn ld32(&mut self, dst: u8, src: u8, off: i16) {
        self.raw(0x61, dst, src, off, 0);
    }
    /// dst = *(u16 *)(src + off)
    fn ld16(&mut self, dst: u8, src: u8, off: i16) {
        self.raw(0x69, dst, src, off, 0);
    }
    /// *(u64 *)(dst + off) = src
    fn st64(&mut self, dst: u8, off: i16, src: u8) {
        self.raw(0x7b, dst, src, off, 0);
    }
    /// *(u32 *)(dst + off) = src
    fn st32(&mut self, dst: u8, off: i16, src: u8) {
        self.raw(0x63, dst, src, off, 0);
    }
    /// *(u64 *)(dst + off) = imm
    fn st64i(&mut self, dst: u8, off: i16, imm: i32) {
        self.raw(0x7a, dst, 0, off, imm);
    }
    fn jeqi(&mut self, dst: u8, imm: i32, l: usize) {
        self.jumps.push((self.insns.len(), l));
        self.raw(0x15, dst, 0, 0, imm);
    }
    fn jnei(&mut self, dst: u8, imm: i32, l: usize) {
        self.jumps.push((self.insns.len(), l));
        self.raw(0x55, dst, 0, 0, imm);
    }
    fn ja(&mut self, l: usize) {
        self.jumps.push((self.insns.len(), l));
        self.raw(0x05, 0, 0, 0, 0);
    }
    fn call(&mut self, helper: i32) {
        self.raw(0x85, 0, 0, 0, helper);
    }
    fn exit(&mut self) {
        self.raw(0x95, 0, 0, 0, 0);
    }
    fn ld_map_fd(&mut self, dst: u8, fd: i32) {
        self.raw(0x18, dst, 1, 0, fd);
        self.raw(0, 0, 0, 0, 0);
    }
    /// probe_read_kernel(r10 + to, size, r3 + add): r3 must hold the base.
    fn probe(&mut self, to: i16, size: i32, add: u32) {
        self.addi(R3, add as i32);
        self.mov(R1, R10);
        self.addi(R1, to as i32);
        self.movi(R2, size);
        self.call(HELPER_PROBE_READ_KERNEL);
    }
    fn finish(mut self) -> Vec<u64> {
        for (at, l) in std::mem::take(&mut self.jumps) {
            let target = self.labels[l].expect("every label placed") as i64;
            let off = (target - at as i64 - 1) as i16 as u16 as u64;
            self.insns[at] = (self.insns[at] & !(0xffff << 16)) | (off << 16);
        }
        self.insns
    }
}

/// The program for one tracepoint: record the namespace (and, on a TCP
/// state change, the byte counts) under the socket's address, or the
/// packet's for a reset sent without a socket. It lets every event through.
pub fn program(f: &Format, ring: &Ring, layout: &Layout) -> Option<Vec<u64>> {
    let field = |n: &str| f.fields.get(n).map(|&(o, _)| o as i16);
    let sk = field("skaddr")?;
    let skb = field("skbaddr");
    let state_change = field("newstate").zip(field("protocol"));
    // Every tracepoint here but tcp_send_reset passes a full socket (a
    // reset may be sent for a request or timewait socket, or none).
    let full_sock = !f.fields.contains_key("reason");
    let mut a = Asm::default();
    let (via_skb, net, store, done) = (a.label(), a.label(), a.label(), a.label());
    a.mov(R6, R1);
    a.movi(R8, 0);
    // The record at r10-128: time, address, netns, owner pid,
    // bytes_acked, bytes_received, owner's command (16), owned flag (+ pad).
    for off in [-128, -120, -112, -104, -96, -88, -80, -72] {
        a.st64i(R10, off, 0);
    }
    a.call(HELPER_KTIME_GET_NS);
    a.st64(R10, -128, R0);
    a.ld64(R7, R6, sk);
    a.st64(R10, -8, R7);
    a.st64(R10, -120, R7);
    a.jeqi(R7, 0, via_skb);
    a.mov(R3, R7);
    a.probe(-40, 8, layout.skc_net);
    a.ja(net);
    a.here(via_skb);
    match skb {
        Some(skb) => {
            a.ld64(R7, R6, skb);
            a.st64(R10, -8, R7);
            a.st64(R10, -120, R7);
            a.jeqi(R7, 0, store);
            a.mov(R3, R7);
            a.probe(-40, 8, layout.skb_dev);
            a.ld64(R3, R10, -40);
            a.jeqi(R3, 0, store);
            a.probe(-40, 8, layout.nd_net);
        }
        None => a.ja(store),
    }
    a.here(net);
    a.ld64(R3, R10, -40);
    a.jeqi(R3, 0, store);
    a.probe(-48, 4, layout.ns_inum);
    a.ld32(R8, R10, -48);
    a.st32(R10, -112, R8);
    // A TCP socket's byte counts, read where a state changes.
    if let Some((_, protocol)) = state_change {
        a.ld16(R1, R6, protocol);
        a.jnei(R1, libc::IPPROTO_TCP, store);
        a.ld64(R3, R10, -8);
        a.probe(-104, 8, layout.bytes_acked);
        a.ld64(R3, R10, -8);
        a.probe(-96, 8, layout.bytes_received);
    }
    // The owner: a full socket locked by a process (sock_owned_by_user)
    // changes only in that process's context.
    if full_sock {
        a.ld64(R3, R10, -8);
        a.jeqi(R3, 0, store);
        a.probe(-56, 4, layout.sk_owned);
        a.ld32(R1, R10, -56);
        a.jeqi(R1, 0, store);
        a.st32(R10, -72, R1);
        a.call(HELPER_GET_CURRENT_PID_TGID);
        a.raw(0x77, R0, 0, 0, 32); // r0 >>= 32: the process id
        a.st32(R10, -108, R0);
        a.mov(R1, R10);
        a.addi(R1, -88);
        a.movi(R2, 16);
        a.call(HELPER_GET_CURRENT_COMM);
    }
    a.here(store);
    a.ld_map_fd(R1, ring.fd.0);
    a.mov(R2, R10);
    a.addi(R2, -128);
    a.movi(R3, RECORD as i32);
    a.movi(R4, 0);
    a.call(HELPER_RINGBUF_OUTPUT);
    a.here(done);
    a.movi(R0, 1);
    a.exit();
    Some(a.finish())
}

/// Load a tracepoint program; the verifier's log comes with a refusal.
pub fn load(insns: &[u64]) -> io::Result<Fd> {
    load_with(insns, 0).or_else(|_| load_with(insns, 1))
}

fn load_with(insns: &[u64], log_level: u32) -> io::Result<Fd> {
    let license = b"GPL\0";
    let mut log = vec![0u8; if log_level > 0 { 256 * 1024 } else { 0 }];
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&BPF_PROG_TYPE_TRACEPOINT.to_le_bytes());
    attr[4..8].copy_from_slice(&(insns.len() as u32).to_le_bytes());
    attr[8..16].copy_from_slice(&(insns.as_ptr() as u64).to_le_bytes());
    attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_le_bytes());
    if log_level > 0 {
        attr[24..28].copy_from_slice(&log_level.to_le_bytes());
        attr[28..32].copy_from_slice(&(log.len() as u32).to_le_bytes());
        attr[32..40].copy_from_slice(&(log.as_mut_ptr() as u64).to_le_bytes());
    }
    attr[48..53].copy_from_slice(b"tcpsc");
    match bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => Ok(Fd(fd)),
        Err(e) => {
            let end = log.iter().position(|&c| c == 0).unwrap_or(0);
            let text = String::from_utf8_lossy(&log[..end]);
            let last: Vec<&str> = text.lines().rev().take(6).collect();
            Err(io::Error::new(
                e.kind(),
                format!(
                    "{e}; verifier: {}",
                    last.into_iter().rev().collect::<Vec<_>>().join(" | ")
                ),
            ))
        }
    }
}

/// This thread's network namespace inode.
pub fn own_netns() -> io::Result<u32> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata("/proc/thread-self/ns/net")?.ino() as u32)
}

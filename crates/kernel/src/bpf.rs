//! A small BPF program per tracepoint that tells which network namespace
//! each event belongs to: it reads the socket's (or, for a reset sent
//! without a socket, the packet's device's) namespace inode and keeps it in
//! a map by socket address, with the connection's byte counts. It never
//! drops an event (a tracepoint's BPF programs filter every reader's
//! events, not only ours): user space looks the namespace up and filters.
//!
//! Written as raw BPF instructions with offsets read from the kernel's BTF
//! (no compiler, no libbpf): the project stays on stable Rust with no C
//! dependency. A tracepoint's BPF context is its raw record, as in the
//! tracepoint's `format` file.

use std::io;

use crate::btf::Btf;
use crate::trace::Format;

const BPF_MAP_CREATE: i32 = 0;
const BPF_MAP_LOOKUP_ELEM: i32 = 1;
const BPF_PROG_LOAD: i32 = 5;
const BPF_MAP_TYPE_LRU_HASH: u32 = 9;
const BPF_PROG_TYPE_TRACEPOINT: u32 = 5;
/// `PERF_EVENT_IOC_SET_BPF`.
pub const PERF_EVENT_IOC_SET_BPF: u64 = 0x4004_2408;

const HELPER_MAP_UPDATE: i32 = 2;
const HELPER_PROBE_READ_KERNEL: i32 = 113;

/// What the map holds for one socket (or packet) address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SockInfo {
    /// Network namespace inode (0 when it could not be read).
    pub netns: u32,
    /// tcp_sock's bytes_acked at the last event (TCP state changes only).
    pub bytes_acked: u64,
    /// tcp_sock's bytes_received at the last event.
    pub bytes_received: u64,
}

const VALUE_SIZE: usize = 24;

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

/// The map from socket address to [`SockInfo`].
pub struct SockMap {
    fd: Fd,
}

impl SockMap {
    /// An LRU hash with room for `entries` sockets.
    pub fn create(entries: u32) -> io::Result<SockMap> {
        let mut attr = [0u8; 72];
        attr[0..4].copy_from_slice(&BPF_MAP_TYPE_LRU_HASH.to_le_bytes());
        attr[4..8].copy_from_slice(&8u32.to_le_bytes());
        attr[8..12].copy_from_slice(&(VALUE_SIZE as u32).to_le_bytes());
        attr[12..16].copy_from_slice(&entries.to_le_bytes());
        Ok(SockMap { fd: Fd(bpf(BPF_MAP_CREATE, &mut attr)?) })
    }

    /// What the program recorded for a socket (or packet) address.
    pub fn get(&self, addr: u64) -> Option<SockInfo> {
        let key = addr.to_le_bytes();
        let mut value = [0u8; VALUE_SIZE];
        let mut attr = [0u8; 32];
        attr[0..4].copy_from_slice(&(self.fd.0 as u32).to_le_bytes());
        attr[8..16].copy_from_slice(&(key.as_ptr() as u64).to_le_bytes());
        attr[16..24].copy_from_slice(&(value.as_mut_ptr() as u64).to_le_bytes());
        bpf(BPF_MAP_LOOKUP_ELEM, &mut attr).ok()?;
        Some(SockInfo {
            netns: u32::from_le_bytes(value[0..4].try_into().ok()?),
            bytes_acked: u64::from_le_bytes(value[8..16].try_into().ok()?),
            bytes_received: u64::from_le_bytes(value[16..24].try_into().ok()?),
        })
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
pub fn program(f: &Format, map: &SockMap, layout: &Layout) -> Option<Vec<u64>> {
    let field = |n: &str| f.fields.get(n).map(|&(o, _)| o as i16);
    let sk = field("skaddr")?;
    let skb = field("skbaddr");
    let state_change = field("newstate").zip(field("protocol"));
    let mut a = Asm::default();
    let (via_skb, net, store, done) = (a.label(), a.label(), a.label(), a.label());
    a.mov(R6, R1);
    a.movi(R8, 0);
    // The value: netns, pad, bytes_acked, bytes_received at r10-32.
    a.st64i(R10, -32, 0);
    a.st64i(R10, -24, 0);
    a.st64i(R10, -16, 0);
    a.ld64(R7, R6, sk);
    a.st64(R10, -8, R7);
    a.jeqi(R7, 0, via_skb);
    a.mov(R3, R7);
    a.probe(-40, 8, layout.skc_net);
    a.ja(net);
    a.here(via_skb);
    match skb {
        Some(skb) => {
            a.ld64(R7, R6, skb);
            a.st64(R10, -8, R7);
            a.jeqi(R7, 0, done);
            a.mov(R3, R7);
            a.probe(-40, 8, layout.skb_dev);
            a.ld64(R3, R10, -40);
            a.jeqi(R3, 0, done);
            a.probe(-40, 8, layout.nd_net);
        }
        None => a.ja(done),
    }
    a.here(net);
    a.ld64(R3, R10, -40);
    a.jeqi(R3, 0, done);
    a.probe(-48, 4, layout.ns_inum);
    a.ld32(R8, R10, -48);
    a.st32(R10, -32, R8);
    // A TCP socket's byte counts, read where a state changes.
    if let Some((_, protocol)) = state_change {
        a.ld16(R1, R6, protocol);
        a.jnei(R1, libc::IPPROTO_TCP, store);
        a.ld64(R3, R10, -8);
        a.probe(-24, 8, layout.bytes_acked);
        a.ld64(R3, R10, -8);
        a.probe(-16, 8, layout.bytes_received);
    }
    a.here(store);
    a.ld_map_fd(R1, map.fd.0);
    a.mov(R2, R10);
    a.addi(R2, -8);
    a.mov(R3, R10);
    a.addi(R3, -32);
    a.movi(R4, 0);
    a.call(HELPER_MAP_UPDATE);
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
                format!("{e}; verifier: {}", last.into_iter().rev().collect::<Vec<_>>().join(" | ")),
            ))
        }
    }
}

/// This thread's network namespace inode.
pub fn own_netns() -> io::Result<u32> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata("/proc/thread-self/ns/net")?.ino() as u32)
}

//! The link's other form: veth pairs into a relay namespace, read and
//! written with packet sockets. It is used when `/dev/net/tun` cannot be
//! opened (a device only root may open, as an ordinary user inside a user
//! namespace finds it on some systems); everything else about the link is
//! the same.

use std::fs::File;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd};

use crate::link::{set_up, IFACE};
use crate::netns::Netns;

const RTM_NEWLINK: u16 = 16;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLMSG_ERROR: u16 = 2;
const IFLA_IFNAME: u16 = 3;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const NLA_F_NESTED: u16 = 0x8000;
const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_STXCSUM: u32 = 0x17;
const ETHTOOL_SGSO: u32 = 0x24;
const PACKET_IGNORE_OUTGOING: i32 = 23;

/// A netlink attribute: header, payload, padding to 4 bytes.
fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
    let len = 4 + payload.len();
    let mut v = Vec::with_capacity((len + 3) & !3);
    v.extend_from_slice(&(len as u16).to_ne_bytes());
    v.extend_from_slice(&kind.to_ne_bytes());
    v.extend_from_slice(payload);
    v.resize((len + 3) & !3, 0);
    v
}

fn name(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// `struct ifinfomsg`, all zero (family AF_UNSPEC).
const IFINFOMSG: [u8; 16] = [0; 16];

/// Create a veth pair in the current namespace: `IFACE` here, `peer` in
/// the namespace of `peer_ns` (a namespace descriptor).
fn create_pair(peer: &str, peer_ns: i32) -> io::Result<()> {
    let mut peer_info = IFINFOMSG.to_vec();
    peer_info.extend(attr(IFLA_IFNAME, &name(peer)));
    peer_info.extend(attr(IFLA_NET_NS_FD, &(peer_ns as u32).to_ne_bytes()));
    let data = attr(VETH_INFO_PEER | NLA_F_NESTED, &peer_info);
    let mut info = attr(IFLA_INFO_KIND, b"veth");
    info.extend(attr(IFLA_INFO_DATA | NLA_F_NESTED, &data));
    let mut body = IFINFOMSG.to_vec();
    body.extend(attr(IFLA_IFNAME, &name(IFACE)));
    body.extend(attr(IFLA_LINKINFO | NLA_F_NESTED, &info));
    let mut msg = Vec::with_capacity(16 + body.len());
    msg.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
    msg.extend_from_slice(&RTM_NEWLINK.to_ne_bytes());
    msg.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL).to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend(body);
    // SAFETY: a netlink socket this function owns (closed by the File).
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is new.
    let sock = unsafe { File::from_raw_fd(fd) };
    // SAFETY: send/recv on our socket with buffers we own.
    unsafe {
        if libc::send(
            sock.as_raw_fd(),
            msg.as_ptr() as *const libc::c_void,
            msg.len(),
            0,
        ) < 0
        {
            return Err(io::Error::last_os_error());
        }
        let mut buf = [0u8; 4096];
        let n = libc::recv(
            sock.as_raw_fd(),
            buf.as_mut_ptr() as *mut libc::c_void,
            buf.len(),
            0,
        );
        if n < 20 {
            return Err(io::Error::last_os_error());
        }
        if u16::from_ne_bytes([buf[4], buf[5]]) == NLMSG_ERROR {
            let err = i32::from_ne_bytes([buf[16], buf[17], buf[18], buf[19]]);
            if err != 0 {
                return Err(io::Error::from_raw_os_error(-err));
            }
        }
    }
    Ok(())
}

/// Turn off an offload of `iface` (checksums left to the card, or
/// segmentation left for later): packets copied by the relay must be
/// complete as they are.
fn ethtool_off(iface: &str, cmd: u32) -> io::Result<()> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").or_else(|_| {
        // A namespace without addresses still has loopback.
        std::net::UdpSocket::bind("127.0.0.1:0")
    })?;
    let mut value = [0u32; 2];
    value[0] = cmd;
    let mut ifr = [0u8; 40];
    ifr[..iface.len()].copy_from_slice(iface.as_bytes());
    let ptr = value.as_mut_ptr() as usize;
    ifr[16..24].copy_from_slice(&ptr.to_ne_bytes());
    // SAFETY: SIOCETHTOOL with an ifreq pointing at an ethtool_value we own.
    if unsafe { libc::ioctl(s.as_raw_fd(), SIOCETHTOOL as _, ifr.as_mut_ptr()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A packet socket bound to `iface`, which does not see its own sends.
fn packet_socket(iface: &str) -> io::Result<File> {
    let proto = (libc::ETH_P_ALL as u16).to_be() as i32;
    // SAFETY: socket(2); owned by the File below.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, proto) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is new.
    let f = unsafe { File::from_raw_fd(fd) };
    let c =
        std::ffi::CString::new(iface).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: if_nametoindex with a C string; setsockopt and bind on our socket.
    unsafe {
        let index = libc::if_nametoindex(c.as_ptr());
        if index == 0 {
            return Err(io::Error::last_os_error());
        }
        let one: i32 = 1;
        libc::setsockopt(
            fd,
            libc::SOL_PACKET,
            PACKET_IGNORE_OUTGOING,
            &one as *const i32 as *const libc::c_void,
            4,
        );
        let mut sll: libc::sockaddr_ll = std::mem::zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto as u16;
        sll.sll_ifindex = index as i32;
        if libc::bind(
            fd,
            &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        ) < 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(f)
}

/// Build the veth form of the link: `IFACE` with `addr`/24 in the client's
/// and the server's namespaces, their peers in `relay`; returns the packet
/// sockets on the relay's ends (client side, server side).
pub fn create(client: &Netns, server: &Netns, relay: &Netns) -> io::Result<(File, File)> {
    for (ns, addr, peer) in [
        (client, crate::link::CLIENT_ADDR, "tl0"),
        (server, crate::link::SERVER_ADDR, "tl1"),
    ] {
        let relay_fd = relay.fd_clone()?;
        ns.run(move || {
            create_pair(peer, relay_fd.as_raw_fd())?;
            configure(addr)
        })?;
    }
    // Each host knows the other's hardware address from the start, as on
    // the TUN form (which has none): no ARP round trip delays a first packet.
    let cmac = client.run(|| hwaddr(IFACE))?;
    let smac = server.run(|| hwaddr(IFACE))?;
    client.run(move || static_neighbour(crate::link::SERVER_ADDR, smac))?;
    server.run(move || static_neighbour(crate::link::CLIENT_ADDR, cmac))?;
    relay.run(|| {
        set_up("tl0")?;
        set_up("tl1")?;
        Ok((packet_socket("tl0")?, packet_socket("tl1")?))
    })
}

/// The hardware address of an interface of the current namespace.
fn hwaddr(iface: &str) -> io::Result<[u8; 6]> {
    let s = std::net::UdpSocket::bind("127.0.0.1:0")?;
    let mut ifr = [0u8; 40];
    ifr[..iface.len()].copy_from_slice(iface.as_bytes());
    // SAFETY: SIOCGIFHWADDR fills the ifreq we own.
    if unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCGIFHWADDR as _, ifr.as_mut_ptr()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&ifr[18..24]);
    Ok(mac)
}

/// A permanent neighbour entry on `IFACE` (SIOCSARP).
fn static_neighbour(ip: Ipv4Addr, mac: [u8; 6]) -> io::Result<()> {
    let s = std::net::UdpSocket::bind("127.0.0.1:0")?;
    // SAFETY: an all-zero arpreq is valid; filled below.
    let mut req: libc::arpreq = unsafe { std::mem::zeroed() };
    // SAFETY: arp_pa is a sockaddr large enough for a sockaddr_in.
    unsafe {
        let pa = &mut req.arp_pa as *mut libc::sockaddr as *mut libc::sockaddr_in;
        (*pa).sin_family = libc::AF_INET as u16;
        (*pa).sin_addr.s_addr = u32::from_ne_bytes(ip.octets());
    }
    req.arp_ha.sa_family = libc::ARPHRD_ETHER;
    for (i, b) in mac.iter().enumerate() {
        req.arp_ha.sa_data[i] = *b as libc::c_char;
    }
    req.arp_flags = libc::ATF_PERM | libc::ATF_COM;
    for (i, b) in IFACE.bytes().enumerate() {
        req.arp_dev[i] = b as libc::c_char;
    }
    // SAFETY: SIOCSARP with the arpreq we own.
    if unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCSARP as _, &mut req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn configure(addr: Ipv4Addr) -> io::Result<()> {
    crate::link::set_addr(IFACE, addr)?;
    ethtool_off(IFACE, ETHTOOL_STXCSUM)?;
    ethtool_off(IFACE, ETHTOOL_SGSO)?;
    set_up(IFACE)
}

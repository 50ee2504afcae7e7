//! Every accessor of every view returns a value or `None` on any bytes.

use proptest::prelude::*;
use tcpscope_wire::{
    ethernet::EthernetFrame, icmp::IcmpPacket, ipv4::Ipv4Packet, ipv6::Ipv6Packet, link,
    tcp::TcpPacket, udp::UdpPacket,
};

proptest! {
    #![proptest_config(ProptestConfig { cases: 5000, ..ProptestConfig::default() })]
    #[test]
    fn all_accessors_on_random_bytes(data in prop::collection::vec(any::<u8>(), 0..120)) {
        let b = &data[..];
        let e = EthernetFrame::new(b);
        let _ = (e.dst(), e.src(), e.ethertype(), e.payload());
        let v4 = Ipv4Packet::new(b);
        let _ = (v4.version(), v4.header_len(), v4.tos(), v4.total_len(), v4.ident(), v4.frag_field(), v4.ttl(),
                 v4.protocol(), v4.checksum(), v4.src(), v4.dst(), v4.options(), v4.payload());
        let v6 = Ipv6Packet::new(b);
        let _ = (v6.version(), v6.traffic_class(), v6.flow_label(), v6.payload_len(), v6.next_header(),
                 v6.hop_limit(), v6.src(), v6.dst(), v6.upper_layer());
        let t = TcpPacket::new(b);
        let _ = (t.src_port(), t.dst_port(), t.seq(), t.ack(), t.header_len(), t.flags(), t.window(),
                 t.checksum(), t.urgent(), t.payload());
        let n = t.options().count();
        prop_assert!(n <= 40);
        let u = UdpPacket::new(b);
        let _ = (u.src_port(), u.dst_port(), u.len(), u.is_empty(), u.checksum(), u.payload());
        let i = IcmpPacket::new(b);
        let _ = (i.kind(), i.code(), i.checksum(), i.rest_of_header(), i.echo_id(), i.echo_seq(), i.body());
        let s = link::SllHeader::new(b);
        let _ = (s.pkttype(), s.hatype(), s.halen(), s.addr(), s.protocol());
        let s2 = link::Sll2Header::new(b);
        let _ = (s2.protocol(), s2.ifindex(), s2.hatype(), s2.pkttype(), s2.halen(), s2.addr());
        let _ = (link::null_family(b, false), link::null_family(b, true));
    }
}

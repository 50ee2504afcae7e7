//! The state machine on hand-made segment sequences that loopback traffic
//! rarely produces: simultaneous open and close, retransmitted SYNs, a
//! mid-stream start, and a reused 4-tuple.

use tcpscope_track::segment::{flag, Addr, Endpoint, Segment, Ts};
use tcpscope_track::{ConnState, Flags, FlowTable, Side, State};

fn ep(last: u8, port: u16) -> Endpoint {
    Endpoint {
        addr: Addr::v4([192, 0, 2, last]),
        port,
    }
}

fn seg(t_ms: i64, from_a: bool, flags: u8, seq: u32, ack: u32, len: u32) -> Segment {
    let (a, b) = (ep(1, 40000), ep(2, 80));
    let (src, dst) = if from_a { (a, b) } else { (b, a) };
    Segment {
        ts: Ts {
            sec: t_ms / 1000,
            nsec: (t_ms % 1000) as u32 * 1_000_000,
        },
        src,
        dst,
        seq,
        ack,
        flags,
        win: 1000,
        len,
        ..Segment::default()
    }
}

fn states(t: &FlowTable, s: &Segment) -> (State, State) {
    let c = t.conn_of(s).unwrap();
    (c.client_state, c.server_state)
}

#[test]
fn simultaneous_open_then_simultaneous_close() {
    use State::*;
    let mut t = FlowTable::new();
    let a_syn = seg(0, true, flag::SYN, 100, 0, 0);
    t.observe(&a_syn);
    assert_eq!(states(&t, &a_syn), (SynSent, Listen));
    // B's own SYN crosses A's: A receives a SYN in SYN-SENT.
    t.observe(&seg(1, false, flag::SYN, 500, 0, 0));
    let c = t.conn_of(&a_syn).unwrap();
    assert_eq!(c.client_state, SynReceived);
    t.observe(&seg(2, true, flag::SYN | flag::ACK, 100, 501, 0));
    t.observe(&seg(3, false, flag::SYN | flag::ACK, 500, 101, 0));
    t.observe(&seg(4, true, flag::ACK, 101, 501, 0));
    t.observe(&seg(5, false, flag::ACK, 501, 101, 0));
    assert_eq!(states(&t, &a_syn), (Established, Established));
    // Both FINs cross: each side goes FIN-WAIT-1 -> CLOSING -> TIME-WAIT.
    // B's FIN does not acknowledge A's: B had not received it, so the
    // CLOSE-WAIT inferred from A's FIN is withdrawn and B is in FIN-WAIT-1.
    t.observe(&seg(10, true, flag::FIN | flag::ACK, 101, 501, 0));
    t.observe(&seg(11, false, flag::FIN | flag::ACK, 501, 101, 0));
    assert_eq!(states(&t, &a_syn), (Closing, FinWait1));
    t.observe(&seg(12, true, flag::ACK, 102, 502, 0));
    // B acknowledges A's FIN, never re-sent: it had arrived in FIN-WAIT-1.
    t.observe(&seg(13, false, flag::ACK, 502, 102, 0));
    assert_eq!(states(&t, &a_syn), (TimeWait, TimeWait));
}

#[test]
fn a_retransmitted_syn_is_flagged_and_changes_nothing() {
    let mut t = FlowTable::new();
    t.observe(&seg(0, true, flag::SYN, 100, 0, 0));
    let again = t.observe(&seg(1000, true, flag::SYN, 100, 0, 0));
    assert!(again.flags.has(Flags::RETRANSMISSION));
    assert_eq!(again.ntrans, 0);
    assert_eq!(t.len(), 1);
}

#[test]
fn a_mid_stream_start_guesses_roles_from_the_ports() {
    let mut t = FlowTable::new();
    // The first packet comes from the server (port 80).
    let o = t.observe(&seg(0, false, flag::ACK | flag::PSH, 5000, 9000, 100));
    assert!(o.roles_guessed);
    assert!(!o.from_client);
    let c = t.conn_of(&seg(0, true, 0, 0, 0, 0)).unwrap();
    assert_eq!(c.server.port, 80);
    assert_eq!(c.conn_state(), ConnState::OTH);
    assert!(c.history().starts_with('d'));
}

#[test]
fn a_new_isn_on_a_used_4_tuple_is_a_new_connection_with_reused_ports() {
    let mut t = FlowTable::new();
    t.observe(&seg(0, true, flag::SYN, 100, 0, 0));
    t.observe(&seg(1, false, flag::SYN | flag::ACK, 500, 101, 0));
    t.observe(&seg(2, true, flag::ACK, 101, 501, 0));
    t.observe(&seg(3, true, flag::RST, 101, 0, 0));
    let o = t.observe(&seg(5000, true, flag::SYN, 7777, 0, 0));
    assert_eq!(o.conn, 2);
    assert!(o.flags.has(Flags::REUSED_PORTS));
    let all = t.finish();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].conn_state(), ConnState::RSTO);
    assert_eq!(all[0].first_rst, Some(Side::Client));
}

#[test]
fn a_connection_takes_a_bounded_amount_of_memory() {
    let size = std::mem::size_of::<tcpscope_track::Conn>();
    // 856 bytes since the RST and application-outcome rules keep what each
    // direction sent, acknowledged and re-sent unanswered.
    assert!(size <= 896, "Conn is {size} bytes");
}

#[test]
fn d_sack_below_the_ack_or_inside_the_second_block() {
    use flag::{ACK, SYN};
    let mut t = FlowTable::new();
    t.observe(&seg(0, true, SYN, 100, 0, 0));
    t.observe(&seg(1, false, SYN | ACK, 500, 101, 0));
    t.observe(&seg(2, true, ACK, 101, 501, 0));
    let with_sack = |t_ms, ack, blocks: &[(u32, u32)]| {
        let mut s = seg(t_ms, true, ACK, 101, ack, 0);
        for (i, b) in blocks.iter().enumerate() {
            s.sack[i] = *b;
        }
        s.nsack = blocks.len() as u8;
        s
    };
    // Data past a hole: a plain SACK, relative to the server's ISN.
    let o = t.observe(&with_sack(3, 601, &[(701, 801)]));
    assert_eq!(o.sack(), &[(201, 301)]);
    assert!(!o.flags.has(Flags::DSACK));
    // A block below the ACK: received twice.
    let o = t.observe(&with_sack(4, 801, &[(601, 701)]));
    assert!(o.flags.has(Flags::DSACK));
    // The first block inside the second: received twice too.
    let o = t.observe(&with_sack(5, 801, &[(901, 951), (901, 1001)]));
    assert!(o.flags.has(Flags::DSACK));
    // Two separate blocks beyond the ACK: no D-SACK.
    let o = t.observe(&with_sack(6, 801, &[(1101, 1201), (901, 1001)]));
    assert!(!o.flags.has(Flags::DSACK));
    let c = t.conn_of(&seg(7, true, ACK, 101, 801, 0)).unwrap();
    assert_eq!((c.stats[0].sacks, c.stats[0].dsacks), (4, 2));
}

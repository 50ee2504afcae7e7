//! The three-way handshake over a link with a 40 ms round trip.

use std::time::Duration;

use tcpscope_wire::tcp::flags::{ACK, SYN};

use super::util::{self, in_order, kernel_path};
use crate::analysis::Analysis;
use crate::check::{Check, Source};
use crate::env::{Env, Host, Record};
use crate::link::LinkSpec;
use crate::{Explanation, Lab, LabError};

/// `lab handshake`.
pub struct Handshake;

const ONE_WAY: Duration = Duration::from_millis(20);

impl Lab for Handshake {
    fn name(&self) -> &'static str {
        "handshake"
    }
    fn what(&self) -> &'static str {
        "SYN, SYN-ACK, ACK with each side's state; seq and ack one apart; the handshake RTT equal to the link's"
    }
    fn link(&self) -> LinkSpec {
        LinkSpec::with_delay(ONE_WAY)
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        let srv = util::server(env, 16, |app, l| {
            let mut s = app.accept(&l)?;
            let n = app.read(&mut s, 100)?;
            app.write(&mut s, &b"hello"[..n.min(5)])?;
            app.read(&mut s, 100)?;
            app.close(s);
            Ok(())
        })?;
        util::client(env, |app, to| {
            let mut s = app.connect(to)?;
            app.write(&mut s, b"hello")?;
            app.read(&mut s, 100)?;
            app.close(s);
            Ok(())
        })?;
        util::join(srv)
    }
    fn checks(&self, r: &Record, a: &Analysis) -> Vec<Check> {
        let p: Vec<_> = a.of_conn(1).take(3).collect();
        let shape = p.len() == 3
            && p[0].from_client
            && p[0].flags & (SYN | ACK) == SYN
            && !p[1].from_client
            && p[1].has(SYN | ACK)
            && p[2].from_client
            && p[2].flags & (SYN | ACK) == ACK;
        let numbers =
            shape && p[1].ack == p[0].seq.wrapping_add(1) && p[2].ack == p[1].seq.wrapping_add(1);
        let rtt = if shape { p[2].t - p[0].t } else { f64::NAN };
        let irtt = a.conn(1).and_then(|c| c.irtt);
        let want = (ONE_WAY * 2).as_secs_f64();
        let near = |x: f64| (want..want + 0.015).contains(&x);
        let cpath = kernel_path(r, Host::Client);
        let spath = kernel_path(r, Host::Server);
        let have = r.kernel_missing.is_none();
        let states: Vec<String> = a
            .of_conn(1)
            .take(3)
            .flat_map(|p| {
                p.transitions
                    .iter()
                    .map(|t| format!("{} {}", t.side.name(), t.to))
            })
            .collect();
        let connect_ok = r.calls("client", "connect").all(|c| c.errno.is_none())
            && r.calls("client", "connect").count() == 1;
        vec![
            Check::new(
                Source::Wire,
                "the client sends SYN, the server SYN-ACK, the client ACK",
                shape,
                format!("{} packets", a.packets.len()),
            ),
            Check::new(
                Source::Wire,
                "each side acknowledges the other's SYN: ack = the peer's ISN + 1",
                numbers,
                if shape {
                    format!(
                        "SYN seq {}, SYN-ACK seq {} ack {}, ACK ack {}",
                        p[0].seq, p[1].seq, p[1].ack, p[2].ack
                    )
                } else {
                    "no handshake".into()
                },
            ),
            Check::new(
                Source::Wire,
                "the handshake takes one round trip of the link (40 ms)",
                near(rtt),
                format!("SYN to ACK {:.1} ms", rtt * 1e3),
            ),
            Check::new(
                Source::Tcpscope,
                "tcpscope's handshake RTT (iRTT) is the link's",
                irtt.is_some_and(near),
                irtt.map_or("none".into(), |x| format!("{:.1} ms", x * 1e3)),
            ),
            Check::new(
                Source::Tcpscope,
                "tcpscope: client SYN-SENT then ESTABLISHED; server SYN-RECEIVED then ESTABLISHED",
                states.iter().map(String::as_str).collect::<Vec<_>>()
                    == [
                        "client SYN-SENT",
                        "server SYN-RECEIVED",
                        "client ESTABLISHED",
                        "server ESTABLISHED",
                    ],
                states.join(", "),
            ),
            Check::kernel(
                have,
                "kernel: the client's socket goes SYN-SENT -> ESTABLISHED",
                in_order(&cpath, &["SYN-SENT", "ESTABLISHED"]),
                cpath.join(" -> "),
            ),
            Check::kernel(
                have,
                "kernel: the server's goes SYN-RECEIVED -> ESTABLISHED",
                in_order(&spath, &["SYN-RECEIVED", "ESTABLISHED"]),
                spath.join(" -> "),
            ),
            Check::new(
                Source::App,
                "connect() returns once, successfully",
                connect_ok,
                format!("{} connect() calls", r.calls("client", "connect").count()),
            ),
            Check::new(
                Source::Counters,
                "the client counts one ActiveOpens, the server one PassiveOpens",
                r.delta(Host::Client, "ActiveOpens") == 1
                    && r.delta(Host::Server, "PassiveOpens") == 1,
                format!(
                    "ActiveOpens +{}, PassiveOpens +{}",
                    r.delta(Host::Client, "ActiveOpens"),
                    r.delta(Host::Server, "PassiveOpens")
                ),
            ),
        ]
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "The client's connect() sends a SYN with its initial sequence number (ISN) and moves to SYN-SENT. \
The listener answers with a SYN-ACK carrying its own ISN and acknowledging the client's ISN + 1 (a SYN takes one \
sequence number); the connection waits in the listener's SYN queue in SYN-RECEIVED. The client's ACK of the server's \
ISN + 1 completes it: the client is ESTABLISHED as soon as the SYN-ACK arrives, one round trip after its SYN, and \
connect() returns; the server's side is ESTABLISHED when the ACK arrives and waits in the accept queue for accept(). \
The time from SYN to that ACK, seen at the client, is the handshake RTT (Wireshark's iRTT).",
            tune: &[
                "net.ipv4.tcp_syn_retries / tcp_synack_retries: how long each side re-sends an unanswered SYN or SYN-ACK",
                "net.core.somaxconn and the listen() backlog: the accept queue the finished handshake waits in",
                "TCP Fast Open (net.ipv4.tcp_fastopen) lets a returning client send its request in the SYN",
            ],
            production: "A handshake RTT far above the path's RTT means SYNs or SYN-ACKs were lost and re-sent (1 s on Linux), or the \
server's SYN queue was full; compare `tcpscope conns` irtt with the ping time.",
        }
    }
}

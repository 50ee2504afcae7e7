//! Sockets that linger: an application that never closes (CLOSE-WAIT for
//! good), a closer whose FIN-WAIT-2 times out, a closer whose peer
//! vanished, and piles of TIME-WAIT.

use std::time::Duration;

use tcpscope_kernel::diag::tcp_state;
use tcpscope_wire::tcp::flags::FIN;

use super::util;
use crate::analysis::{Analysis, Pkt};
use crate::check::{Check, Source};
use crate::env::{Env, Host, Record, PORT};
use crate::link::{Dir, DropRule, LinkSpec, CLIENT_ADDR};
use crate::{Explanation, Lab, LabError};

fn in_state(s: &[tcpscope_kernel::diag::Socket], state: u8) -> usize {
    s.iter()
        .filter(|s| s.state == state && s.peer.port() != 0)
        .count()
}

/// `lab close-wait-leak`.
pub struct CloseWaitLeak;

impl Lab for CloseWaitLeak {
    fn name(&self) -> &'static str {
        "close-wait-leak"
    }
    fn what(&self) -> &'static str {
        "an application that never calls close(): its socket stays in CLOSE-WAIT, while the closer's orphaned FIN-WAIT-2 dies after tcp_fin_timeout"
    }
    fn link(&self) -> LinkSpec {
        LinkSpec::with_delay(Duration::from_millis(5))
    }
    fn sysctls(&self) -> Vec<(Host, &'static str, String)> {
        vec![(Host::Client, "net.ipv4.tcp_fin_timeout", "2".into())]
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let srv = util::server(env, 16, move |app, l| {
            let mut s = app.accept(&l)?;
            app.read(&mut s, 100)?;
            // Reads end of file... and forgets to close.
            app.read(&mut s, 100)?;
            let _ = rx.recv();
            drop(s);
            Ok(())
        })?;
        util::client(env, |app, to| {
            let mut s = app.connect(to)?;
            app.write(&mut s, b"hello")?;
            app.close(s);
            Ok(())
        })?;
        std::thread::sleep(Duration::from_millis(800));
        env.snapshot(Host::Client, "client at 1 s")?;
        env.snapshot(Host::Server, "server at 1 s")?;
        std::thread::sleep(Duration::from_millis(2500));
        env.snapshot(Host::Client, "client at 3.5 s")?;
        env.snapshot(Host::Server, "server at 3.5 s")?;
        let _ = tx.send(());
        util::join(srv)
    }
    fn checks(&self, r: &Record, _a: &Analysis) -> Vec<Check> {
        let snap = |l: &str| r.snapshot(l).unwrap_or(&[]);
        let (c1, s1, c3, s3) = (
            snap("client at 1 s"),
            snap("server at 1 s"),
            snap("client at 3.5 s"),
            snap("server at 3.5 s"),
        );
        vec![
            Check::new(Source::App, "the server's application reads end of file and does not close", r.calls("server", "read").any(|c| c.bytes == Some(0)) && r.calls("server", "close").count() == 0, r.calls_text("server", "read")),
            Check::new(Source::Kernel, "after 1 s: the server's socket is in CLOSE-WAIT, the client's in FIN-WAIT-2", in_state(s1, tcp_state::CLOSE_WAIT) == 1 && in_state(c1, tcp_state::FIN_WAIT2) == 1, format!("server CLOSE-WAIT {}, client FIN-WAIT-2 {}", in_state(s1, tcp_state::CLOSE_WAIT), in_state(c1, tcp_state::FIN_WAIT2))),
            Check::new(Source::Kernel, "after 3.5 s: the client's is gone (tcp_fin_timeout = 2 s), the server's is still in CLOSE-WAIT", in_state(s3, tcp_state::CLOSE_WAIT) == 1 && c3.iter().all(|s| s.peer.port() != PORT), format!("server CLOSE-WAIT {}, client sockets {}", in_state(s3, tcp_state::CLOSE_WAIT), c3.iter().filter(|s| s.peer.port() == PORT).count())),
            Check::new(Source::Counters, "the client's orphaned FIN-WAIT-2 was handed to a timewait socket with 4 s or less to live: TWKilled, not TW", r.delta(Host::Client, "TWKilled") == 1 && r.delta(Host::Client, "TW") == 0, format!("TWKilled +{}, TW +{}", r.delta(Host::Client, "TWKilled"), r.delta(Host::Client, "TW"))),
        ]
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "After the peer's FIN, read() returns 0 and the socket is in CLOSE-WAIT: the kernel waits for the application \
to call close(). Nothing times out in CLOSE-WAIT, so an application that forgets to close (a leaked descriptor, an \
error path without close, a connection pool that never checks for EOF) keeps the socket, its descriptor and its \
memory forever. The closer meanwhile sits in FIN-WAIT-2; since its application has closed the socket (an orphan), \
Linux ends that wait after net.ipv4.tcp_fin_timeout (60 s by default, 2 s here): it hands the socket to a small \
timewait socket, counted on entry as TW when it has more than 4 s to live and as TWKilled when it has less, as here.",
            tune: &[
                "fix the application: close the socket when read() returns 0 or an error",
                "net.ipv4.tcp_fin_timeout only limits the other side's orphaned FIN-WAIT-2, never CLOSE-WAIT",
            ],
            production: "A growing number of CLOSE-WAIT sockets (`tcpscope ss -a state close-wait`, or `ss -tan state close-wait`) \
owned by one process is a descriptor leak in that process; their peers have long gone.",
        }
    }
}

/// `lab fin-timeout`.
pub struct FinTimeout;

impl Lab for FinTimeout {
    fn name(&self) -> &'static str {
        "fin-timeout"
    }
    fn what(&self) -> &'static str {
        "the closer's peer vanished: its FIN is re-sent per tcp_orphan_retries, then the orphan is given up"
    }
    fn link(&self) -> LinkSpec {
        LinkSpec {
            delay: Duration::from_millis(5),
            drops: vec![DropRule {
                name: "everything from the server after 0.3 s (the peer vanished)",
                dir: Dir::ToClient,
                matches: Box::new(|_| true),
                after: Some(Duration::from_millis(300)),
                during: None,
                max: None,
            }],
            ..LinkSpec::default()
        }
    }
    fn sysctls(&self) -> Vec<(Host, &'static str, String)> {
        vec![(Host::Client, "net.ipv4.tcp_orphan_retries", "2".into())]
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        let srv = util::server(env, 16, |app, l| {
            let mut s = app.accept(&l)?;
            app.read(&mut s, 100)?;
            std::thread::sleep(Duration::from_millis(4500));
            app.close(s);
            Ok(())
        })?;
        util::client(env, |app, to| {
            let mut s = app.connect(to)?;
            app.write(&mut s, b"hello")?;
            std::thread::sleep(Duration::from_millis(500));
            app.close(s);
            Ok(())
        })?;
        std::thread::sleep(Duration::from_millis(4000));
        util::join(srv)
    }
    fn settle(&self) -> Duration {
        Duration::from_millis(100)
    }
    fn checks(&self, r: &Record, a: &Analysis) -> Vec<Check> {
        let fins: Vec<&Pkt> = a
            .of_conn(1)
            .filter(|p| p.from_client && p.has(FIN))
            .collect();
        let gaps: Vec<f64> = fins.windows(2).map(|w| w[1].t - w[0].t).collect();
        let left = r.sockets[Host::Client as usize]
            .iter()
            .filter(|s| s.peer.port() == PORT)
            .count();
        vec![
            Check::new(Source::Wire, "the client re-sends its FIN with growing waits, for about 1.7 s in all (tcp_orphan_retries = 2 bounds the time, not the count)", fins.len() >= 3 && gaps.last() > gaps.first() && (fins[fins.len() - 1].t - fins[0].t - 1.7).abs() < 0.4, format!("{} FINs, gaps {:?} s", fins.len(), gaps.iter().map(|g| (g * 100.0).round() / 100.0).collect::<Vec<_>>())),
            Check::new(Source::Kernel, "the orphaned socket is gone at the end (sock_diag)", left == 0, format!("{left} client sockets to the server")),
            Check::new(Source::Counters, "the client counts the retransmissions (RetransSegs) and gives up (TCPAbortOnTimeout)", r.delta(Host::Client, "RetransSegs") >= 2 && r.delta(Host::Client, "TCPAbortOnTimeout") == 1, format!("RetransSegs +{}, TCPAbortOnTimeout +{}", r.delta(Host::Client, "RetransSegs"), r.delta(Host::Client, "TCPAbortOnTimeout"))),
            Check::new(Source::App, "the client's close() returned at once: the kernel alone re-sends the FIN", r.calls("client", "close").all(|c| c.duration_s < 0.01), r.calls_text("client", "close")),
        ]
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "close() returns at once; the kernel keeps the socket as an orphan to deliver the FIN. If nothing comes \
back, the FIN is re-sent on the retransmission timer, the waits growing, until the time that tcp_orphan_retries \
doubling retries would take has passed (like tcp_syn_retries, it bounds time, not the count: here 5 FINs in 1.7 s \
for a setting of 2; 0 means the default, 8); then the socket is dropped (TCPAbortOnTimeout). The application never \
hears of it. The same peer, had it still been there, would have answered with an ACK or an RST.",
            tune: &[
                "net.ipv4.tcp_orphan_retries: how long orphans retry (lower it on servers with many vanished clients)",
                "net.ipv4.tcp_max_orphans caps the number of orphans (TCPAbortOnMemory counts the excess)",
            ],
            production: "Sockets in FIN-WAIT-1 with growing retransmission counts (ss -o: timer on) are closers whose peers \
vanished; many of them tie up memory until tcp_orphan_retries lets go.",
        }
    }
}

/// `lab time-wait`.
pub struct TimeWait;

/// The client's ten local ports.
const PORTS: &str = "40000 40009";

fn short_connection(env: &Env) -> Result<(), LabError> {
    util::client(env, |app, to| {
        let mut s = app.connect(to)?;
        app.write(&mut s, b"q")?;
        app.read(&mut s, 10)?;
        app.close(s);
        Ok(())
    })
}

impl Lab for TimeWait {
    fn name(&self) -> &'static str {
        "time-wait"
    }
    fn what(&self) -> &'static str {
        "many short connections: each leaves a TIME-WAIT on the closer; with ten local ports the eleventh connect() fails (EADDRNOTAVAIL) until tcp_tw_reuse"
    }
    fn link(&self) -> LinkSpec {
        LinkSpec::with_delay(Duration::from_millis(2))
    }
    fn sysctls(&self) -> Vec<(Host, &'static str, String)> {
        vec![
            (Host::Client, "net.ipv4.ip_local_port_range", PORTS.into()),
            (Host::Client, "net.ipv4.tcp_tw_reuse", "0".into()),
        ]
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        let srv = util::server(env, 64, |app, l| {
            // Ten short connections, then two more: reuse, and overflow.
            for _ in 0..12 {
                let mut s = app.accept(&l)?;
                app.read(&mut s, 10)?;
                app.write(&mut s, b"a")?;
                app.read(&mut s, 10)?;
                app.close(s);
            }
            Ok(())
        })?;
        for _ in 0..10 {
            short_connection(env)?;
        }
        std::thread::sleep(Duration::from_millis(100));
        env.snapshot(Host::Client, "after ten")?;
        // The eleventh: every local port is held by a TIME-WAIT.
        let _ = util::client(env, |app, to| {
            let _ = app.connect(to);
            Ok(())
        });
        // tcp_tw_reuse=1 lets a connect() take over a TIME-WAIT more than
        // a second old (timestamps tell the connections apart).
        std::thread::sleep(Duration::from_millis(1100));
        env.client
            .set_sysctl("net.ipv4.tcp_tw_reuse", "1")
            .map_err(|e| LabError::Setup("setting tcp_tw_reuse", e))?;
        short_connection(env)?;
        // Its TIME-WAIT begins when the server's FIN arrives.
        std::thread::sleep(Duration::from_millis(100));
        // tcp_max_tw_buckets below the TIME-WAIT count: the next close
        // finds no room and the socket is dropped at once.
        env.client
            .set_sysctl("net.ipv4.tcp_max_tw_buckets", "5")
            .map_err(|e| LabError::Setup("setting tcp_max_tw_buckets", e))?;
        short_connection(env)?;
        std::thread::sleep(Duration::from_millis(100));
        env.snapshot(Host::Client, "at the end")?;
        util::join(srv)
    }
    fn checks(&self, r: &Record, _a: &Analysis) -> Vec<Check> {
        let tw = |l: &str| in_state(r.snapshot(l).unwrap_or(&[]), tcp_state::TIME_WAIT);
        let connects: Vec<_> = r.calls("client", "connect").collect();
        let ports_used: std::collections::BTreeSet<u16> = r
            .snapshot("after ten")
            .unwrap_or(&[])
            .iter()
            .filter(|s| s.local.ip() == std::net::IpAddr::from(CLIENT_ADDR))
            .map(|s| s.local.port())
            .collect();
        vec![
            Check::new(Source::Kernel, "after ten short connections the client holds ten TIME-WAIT sockets, one per local port 40000-40009", tw("after ten") == 10 && ports_used.len() == 10 && ports_used.iter().all(|p| (40000..=40009).contains(p)), format!("{} TIME-WAIT on ports {:?}", tw("after ten"), ports_used)),
            Check::new(Source::App, "the eleventh connect() fails with EADDRNOTAVAIL", connects.get(10).is_some_and(|c| c.errno_code == Some(libc::EADDRNOTAVAIL)), connects.get(10).map_or("none".into(), |c| c.text())),
            Check::new(Source::App, "with tcp_tw_reuse=1 the next connect() succeeds on a reused port", connects.get(11).is_some_and(|c| c.errno.is_none()), connects.get(11).map_or("none".into(), |c| c.text())),
            Check::new(Source::Counters, "each connect() after tcp_tw_reuse=1 takes over a TIME-WAIT: TWRecycled +2", r.delta(Host::Client, "TWRecycled") == 2, format!("TWRecycled +{}", r.delta(Host::Client, "TWRecycled"))),
            Check::new(Source::Counters, "with tcp_max_tw_buckets=5 the last close finds no room: TCPTimeWaitOverflow", r.delta(Host::Client, "TCPTimeWaitOverflow") == 1, format!("TCPTimeWaitOverflow +{}, TW +{}", r.delta(Host::Client, "TCPTimeWaitOverflow"), r.delta(Host::Client, "TW"))),
            Check::new(Source::Kernel, "so the client ends with nine TIME-WAIT sockets: ten, two taken over, one new", tw("at the end") == 9, format!("{} TIME-WAIT", tw("at the end"))),
        ]
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "Every connection the client closes first leaves a TIME-WAIT socket for 60 s that holds its four-tuple. \
Toward one server address and port, the client's only free choice is its local port, so with N ports \
(net.ipv4.ip_local_port_range) it can open N connections a minute: the next connect() fails with EADDRNOTAVAIL, \
\"Cannot assign requested address\". tcp_tw_reuse=1 lets a new outgoing connection take over a TIME-WAIT that is more \
than a second old, relying on TCP timestamps to keep old segments out (TWRecycled counts it; the default 2 allows it \
on loopback only). tcp_max_tw_buckets caps TIME-WAIT sockets: a close beyond it skips TIME-WAIT \
(TCPTimeWaitOverflow), which is what the cap is for, and is not free of risk.",
            tune: &[
                "reuse connections (keep-alive, pools) instead of opening one per request",
                "net.ipv4.ip_local_port_range: more local ports; net.ipv4.tcp_tw_reuse=1 on clients",
                "spread connections over more server addresses or ports",
            ],
            production: "EADDRNOTAVAIL on connect() with thousands of TIME-WAIT sockets toward one destination: port \
exhaustion on the client. `ss -tan state time-wait | wc -l` and TCPTimeWaitOverflow tell how close it is.",
        }
    }
}

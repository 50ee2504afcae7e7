//! Connections that end with an RST: nothing listening, SO_LINGER 0,
//! unread data at close(), a process that dies, and what the applications
//! get: ECONNREFUSED, ECONNRESET, EPIPE.

use std::time::Duration;

use tcpscope_track::{AppOutcome, Side};
use tcpscope_wire::tcp::flags::{ACK, FIN, RST, SYN};

use super::util::{self, in_order, kernel_path};
use crate::analysis::Analysis;
use crate::check::{Check, Source};
use crate::env::{Env, Host, Record};
use crate::link::LinkSpec;
use crate::{Explanation, Lab, LabError};

fn link() -> LinkSpec {
    LinkSpec::with_delay(Duration::from_millis(10))
}

/// The RSTs the kernel's tracepoint says `host` sent, with their reasons.
fn sent_resets(r: &Record, host: Host) -> Vec<String> {
    r.kernel
        .iter()
        .filter(|e| Host::of(&e.local) == Some(host))
        .filter_map(|e| match &e.kind {
            tcpscope_kernel::trace::TcpEventKind::SendReset { reason, .. } => {
                Some(reason.clone().unwrap_or_else(|| "no reason given".into()))
            }
            _ => None,
        })
        .collect()
}

/// Whether `who` made an `op` call that failed with `errno`.
fn failed(r: &Record, who: &str, op: &str, errno: i32) -> bool {
    r.calls(who, op).any(|c| c.errno_code == Some(errno))
}

/// Who sent RSTs on connection 1, and whether any FIN was sent.
fn rst_and_fin(a: &Analysis, from_server: bool) -> (usize, usize) {
    let rst = a
        .of_conn(1)
        .filter(|p| p.has(RST) && p.from_client != from_server)
        .count();
    let fin = a
        .of_conn(1)
        .filter(|p| p.has(FIN) && p.from_client != from_server)
        .count();
    (rst, fin)
}

/// `lab rst-refused`.
pub struct RstRefused;

impl Lab for RstRefused {
    fn name(&self) -> &'static str {
        "rst-refused"
    }
    fn what(&self) -> &'static str {
        "nothing listens on the port: the SYN is answered with RST and connect() fails with ECONNREFUSED"
    }
    fn link(&self) -> LinkSpec {
        link()
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        util::client(env, |app, to| {
            let _ = app.connect(to);
            Ok(())
        })
    }
    fn checks(&self, r: &Record, a: &Analysis) -> Vec<Check> {
        let have = r.kernel_missing.is_none();
        let p: Vec<_> = a.of_conn(1).collect();
        let answered = p.len() == 2
            && p[0].flags & (SYN | ACK) == SYN
            && p[1].has(RST | ACK)
            && p[1].ack == p[0].seq.wrapping_add(1);
        let c = a.conn(1);
        let reasons = sent_resets(r, Host::Server);
        vec![
            Check::new(
                Source::Wire,
                "the SYN is answered by an RST,ACK acknowledging it",
                answered,
                format!("{} packets", p.len()),
            ),
            Check::new(
                Source::App,
                "connect() fails with ECONNREFUSED",
                failed(r, "client", "connect", libc::ECONNREFUSED),
                r.calls_text("client", "connect"),
            ),
            Check::kernel(
                have,
                "kernel: the server's kernel sends the RST without a socket (reason NO_SOCKET)",
                reasons.iter().any(|x| x == "NO_SOCKET"),
                reasons.join(", "),
            ),
            Check::kernel(
                have,
                "kernel: the client's socket goes SYN-SENT -> CLOSED",
                in_order(&kernel_path(r, Host::Client), &["SYN-SENT", "CLOSED"]),
                kernel_path(r, Host::Client).join(" -> "),
            ),
            Check::new(
                Source::Counters,
                "the client counts an AttemptFails, the server an OutRsts",
                r.delta(Host::Client, "AttemptFails") == 1 && r.delta(Host::Server, "OutRsts") == 1,
                format!(
                    "AttemptFails +{}, OutRsts +{}",
                    r.delta(Host::Client, "AttemptFails"),
                    r.delta(Host::Server, "OutRsts")
                ),
            ),
            Check::new(
                Source::Tcpscope,
                "tcpscope: REJ, and the client saw ECONNREFUSED",
                c.is_some_and(|c| {
                    c.conn_state.name() == "REJ" && c.client_saw == AppOutcome::Refused
                }),
                c.map_or("none".into(), |c| {
                    format!("{} / {}", c.conn_state, c.client_saw)
                }),
            ),
        ]
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "A SYN to a port with no listener is answered by the kernel itself with an RST that acknowledges the SYN \
(RFC 9293: a segment to a CLOSED port draws an RST). The client's kernel moves its socket from SYN-SENT to CLOSED and \
connect() fails with ECONNREFUSED, \"Connection refused\", one round trip after it started. A firewall that rejects \
with a TCP reset looks the same on the wire; one that drops makes connect() wait and then fail with ETIMEDOUT instead \
(see the syn-retries lab).",
            tune: &["nothing in TCP: start the service, or point the client at the right port"],
            production: "ECONNREFUSED at once means the host is up and nothing listens (a restarting service, a wrong port). \
Zeek's REJ and tcpscope's conns count them; a flood of them from one client is a port scan.",
        }
    }
}

/// `lab rst-linger`.
pub struct RstLinger;

impl Lab for RstLinger {
    fn name(&self) -> &'static str {
        "rst-linger"
    }
    fn what(&self) -> &'static str {
        "SO_LINGER with a zero timeout: close() sends an RST instead of a FIN, and nobody holds TIME-WAIT"
    }
    fn link(&self) -> LinkSpec {
        link()
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        let srv = util::server(env, 16, |app, l| {
            let mut s = app.accept(&l)?;
            app.read(&mut s, 100)?;
            app.write(&mut s, b"bye")?;
            std::thread::sleep(Duration::from_millis(100));
            app.abort(s)?;
            Ok(())
        })?;
        util::client(env, |app, to| {
            let mut s = app.connect(to)?;
            app.write(&mut s, b"hello")?;
            app.read(&mut s, 100)?;
            // Blocked in read() when the RST arrives.
            let _ = app.read(&mut s, 100);
            app.close(s);
            Ok(())
        })?;
        util::join(srv)
    }
    fn checks(&self, r: &Record, a: &Analysis) -> Vec<Check> {
        let have = r.kernel_missing.is_none();
        let (rst, fin) = rst_and_fin(a, true);
        let reasons = sent_resets(r, Host::Server);
        let c = a.conn(1);
        vec![
            Check::new(Source::Wire, "the server sends an RST and no FIN", rst == 1 && fin == 0, format!("{rst} RST, {fin} FIN from the server")),
            Check::new(Source::App, "the client's read() fails with ECONNRESET", failed(r, "client", "read", libc::ECONNRESET), r.calls_text("client", "read")),
            Check::new(Source::Kernel, "sock_diag: no TIME-WAIT socket on either side", r.time_wait(Host::Client).is_empty() && r.time_wait(Host::Server).is_empty(), format!("client {}, server {}", r.time_wait(Host::Client).len(), r.time_wait(Host::Server).len())),
            Check::kernel(have, "kernel: the server's socket goes ESTABLISHED -> CLOSED directly", in_order(&kernel_path(r, Host::Server), &["ESTABLISHED", "CLOSED"]) && !kernel_path(r, Host::Server).contains(&"FIN-WAIT-1"), kernel_path(r, Host::Server).join(" -> ")),
            Check::kernel(have, "kernel: close() disconnects the socket, and the RST's reason is TCP_STATE", reasons.len() == 1 && (reasons[0] == "TCP_STATE" || reasons[0] == "no reason given"), reasons.join(", ")),
            Check::new(Source::Counters, "the server counts TCPAbortOnData (not TCPAbortOnLinger) and EstabResets; the client EstabResets", r.delta(Host::Server, "TCPAbortOnData") == 1 && r.delta(Host::Server, "TCPAbortOnLinger") == 0 && r.delta(Host::Server, "EstabResets") == 1 && r.delta(Host::Client, "EstabResets") == 1, format!("server TCPAbortOnData +{} TCPAbortOnLinger +{} EstabResets +{}; client EstabResets +{}", r.delta(Host::Server, "TCPAbortOnData"), r.delta(Host::Server, "TCPAbortOnLinger"), r.delta(Host::Server, "EstabResets"), r.delta(Host::Client, "EstabResets"))),
            Check::new(Source::Tcpscope, "tcpscope: RSTR, reset by the server; the client saw ECONNRESET", c.is_some_and(|c| c.conn_state.name() == "RSTR" && c.reset_by == Some(Side::Server) && c.client_saw == AppOutcome::Reset), c.map_or("none".into(), |c| format!("{} / {}", c.conn_state, c.client_saw))),
        ]
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "With SO_LINGER on and a linger time of zero, close() does not send a FIN: the kernel discards what is \
unsent and sends an RST (an abortive close). The socket goes straight from ESTABLISHED to CLOSED, so nobody holds \
TIME-WAIT, which is why it is used, and misused, to avoid TIME-WAIT. The peer's next read() fails with ECONNRESET, \
\"Connection reset by peer\", and its later writes with EPIPE. On this kernel (6.x) close() calls tcp_disconnect(): \
the tracepoint names the RST's reason TCP_STATE, and the counter that moves is TCPAbortOnData, not TCPAbortOnLinger, \
whatever its name suggests.",
            tune: &[
                "avoid SO_LINGER 0 for ordinary closes: the peer sees an error, and data in flight is lost",
                "if TIME-WAIT is the problem, let the client close first, or use net.ipv4.tcp_tw_reuse on the client",
            ],
            production: "\"Connection reset by peer\" right after a response, with an RST and no FIN from the server, is a \
linger-0 close (some load balancers and proxies do it on purpose).",
        }
    }
}

/// `lab rst-unread`.
pub struct RstUnread;

impl Lab for RstUnread {
    fn name(&self) -> &'static str {
        "rst-unread"
    }
    fn what(&self) -> &'static str {
        "close() with received data still unread sends an RST, not a FIN (RFC 2525), and the peer gets ECONNRESET"
    }
    fn link(&self) -> LinkSpec {
        link()
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        let srv = util::server(env, 16, |app, l| {
            let mut s = app.accept(&l)?;
            // Read only the first bytes of a longer request, answer, close.
            app.read(&mut s, 4)?;
            std::thread::sleep(Duration::from_millis(100));
            app.write(&mut s, b"ok")?;
            app.close(s);
            Ok(())
        })?;
        util::client(env, |app, to| {
            let mut s = app.connect(to)?;
            app.write(&mut s, b"GET /a-longer-request HTTP/1.0\r\n\r\n")?;
            std::thread::sleep(Duration::from_millis(300));
            let _ = app.read(&mut s, 100);
            let _ = app.read(&mut s, 100);
            app.close(s);
            Ok(())
        })?;
        util::join(srv)
    }
    fn checks(&self, r: &Record, a: &Analysis) -> Vec<Check> {
        let have = r.kernel_missing.is_none();
        let (rst, fin) = rst_and_fin(a, true);
        let reasons = sent_resets(r, Host::Server);
        vec![
            Check::new(
                Source::Wire,
                "the server's close() sends an RST and no FIN",
                rst >= 1 && fin == 0,
                format!("{rst} RST, {fin} FIN from the server"),
            ),
            Check::new(
                Source::App,
                "the server's application read only 4 of the 34 bytes before close()",
                r.calls("server", "read")
                    .filter_map(|c| c.bytes)
                    .sum::<usize>()
                    == 4,
                r.calls_text("server", "read"),
            ),
            Check::new(
                Source::App,
                "the client's read() fails with ECONNRESET (even the 2-byte answer may be lost)",
                failed(r, "client", "read", libc::ECONNRESET),
                r.calls_text("client", "read"),
            ),
            Check::kernel(
                have,
                "kernel: the RST's reason is TCP_ABORT_ON_CLOSE",
                reasons.iter().any(|x| x == "TCP_ABORT_ON_CLOSE"),
                reasons.join(", "),
            ),
            Check::new(
                Source::Counters,
                "the server counts TCPAbortOnClose",
                r.delta(Host::Server, "TCPAbortOnClose") == 1,
                format!(
                    "TCPAbortOnClose +{}",
                    r.delta(Host::Server, "TCPAbortOnClose")
                ),
            ),
        ]
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "If an application closes a socket while received data sits unread in its buffer, Linux sends an RST instead \
of a FIN (RFC 2525 section 2.17: the data was lost, so the peer must not think it was delivered). The client's next \
read() fails with ECONNRESET; an answer the server wrote just before closing can be thrown away by the client's kernel \
when the RST arrives before the application read it. This is the classic cause of a \"Connection reset by peer\" on a \
request whose body the server did not read (an early error response, an ignored upload).",
            tune: &[
                "read (drain) the request before closing, or shutdown(SHUT_WR) and read until EOF before close()",
            ],
            production: "A server that answers errors before reading the body resets connections; TCPAbortOnClose rising on \
the server is the counter to watch.",
        }
    }
}

/// `lab reset-by-peer`.
pub struct ResetByPeer;

impl Lab for ResetByPeer {
    fn name(&self) -> &'static str {
        "reset-by-peer"
    }
    fn what(&self) -> &'static str {
        "the peer resets the connection: the next read() fails with ECONNRESET, and a write after that with EPIPE"
    }
    fn link(&self) -> LinkSpec {
        link()
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        let srv = util::server(env, 16, |app, l| {
            let mut s = app.accept(&l)?;
            app.read(&mut s, 100)?;
            app.abort(s)?;
            Ok(())
        })?;
        util::client(env, |app, to| {
            let mut s = app.connect(to)?;
            app.write(&mut s, b"hello")?;
            std::thread::sleep(Duration::from_millis(200));
            let _ = app.read(&mut s, 100);
            let _ = app.write(&mut s, b"again");
            app.close(s);
            Ok(())
        })?;
        util::join(srv)
    }
    fn checks(&self, r: &Record, a: &Analysis) -> Vec<Check> {
        let have = r.kernel_missing.is_none();
        let reads: Vec<_> = r.calls("client", "read").collect();
        let writes: Vec<_> = r.calls("client", "write").collect();
        let c = a.conn(1);
        let cpath = kernel_path(r, Host::Client);
        vec![
            Check::new(
                Source::App,
                "the client's read() fails with ECONNRESET",
                reads
                    .first()
                    .is_some_and(|c| c.errno_code == Some(libc::ECONNRESET)),
                r.calls_text("client", "read"),
            ),
            Check::new(
                Source::App,
                "the write() after it fails with EPIPE (Broken pipe)",
                writes
                    .last()
                    .is_some_and(|c| c.errno_code == Some(libc::EPIPE)),
                r.calls_text("client", "write"),
            ),
            Check::new(
                Source::Wire,
                "nothing leaves the client after the RST",
                a.of_conn(1)
                    .skip_while(|p| !p.has(RST))
                    .skip(1)
                    .all(|p| !p.from_client),
                format!("{} packets", a.packets.len()),
            ),
            Check::kernel(
                have,
                "kernel: the client's socket goes ESTABLISHED -> CLOSED on the RST",
                in_order(&cpath, &["ESTABLISHED", "CLOSED"]),
                cpath.join(" -> "),
            ),
            Check::new(
                Source::Counters,
                "the client counts EstabResets",
                r.delta(Host::Client, "EstabResets") == 1,
                format!("EstabResets +{}", r.delta(Host::Client, "EstabResets")),
            ),
            Check::new(
                Source::Tcpscope,
                "tcpscope: the client saw ECONNRESET on read, then EPIPE on write",
                c.is_some_and(|c| c.client_saw == AppOutcome::Reset),
                c.map_or("none".into(), |c| c.client_saw.to_string()),
            ),
        ]
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "An RST ends the connection at once. The kernel that receives it closes the socket and records the error: \
the application's next read() fails with ECONNRESET, \"Connection reset by peer\". The socket is then closed, so a \
write() fails with EPIPE, \"Broken pipe\" (and raises SIGPIPE, unless the program ignores it or writes with \
MSG_NOSIGNAL, as this lab does). No FIN, no TIME-WAIT, and whatever was in flight is lost.",
            tune: &["find out why the peer reset: tcpscope's conns and the other labs name the usual causes (unread data, SO_LINGER 0, a full accept queue, a process killed)"],
            production: "ECONNRESET on read is the peer's kernel (or a middlebox) aborting; EPIPE on write means the \
connection was already gone when the application wrote.",
        }
    }
}

/// `lab broken-pipe`.
pub struct BrokenPipe;

impl Lab for BrokenPipe {
    fn name(&self) -> &'static str {
        "broken-pipe"
    }
    fn what(&self) -> &'static str {
        "writing to a connection the peer closed: the first write succeeds and draws an RST, the next fails with EPIPE"
    }
    fn link(&self) -> LinkSpec {
        link()
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        let srv = util::server(env, 16, |app, l| {
            let mut s = app.accept(&l)?;
            app.read(&mut s, 100)?;
            app.close(s);
            Ok(())
        })?;
        util::client(env, |app, to| {
            let mut s = app.connect(to)?;
            app.write(&mut s, b"hello")?;
            std::thread::sleep(Duration::from_millis(200));
            // The server closed (its FIN has arrived): this write succeeds.
            let _ = app.write(&mut s, b"more");
            std::thread::sleep(Duration::from_millis(200));
            // Its data drew an RST: this one fails.
            let _ = app.write(&mut s, b"again");
            app.close(s);
            Ok(())
        })?;
        util::join(srv)
    }
    fn checks(&self, r: &Record, a: &Analysis) -> Vec<Check> {
        let have = r.kernel_missing.is_none();
        let writes: Vec<_> = r.calls("client", "write").collect();
        let fin_then_rst = {
            let p: Vec<_> = a
                .of_conn(1)
                .filter(|p| !p.from_client && (p.has(FIN) || p.has(RST)))
                .collect();
            p.len() == 2 && p[0].has(FIN) && p[1].has(RST)
        };
        let reasons = sent_resets(r, Host::Server);
        vec![
            Check::new(Source::Wire, "the server sends its FIN, then an RST answering the client's later data", fin_then_rst, format!("{} packets", a.packets.len())),
            Check::new(Source::App, "the write() after the peer's FIN succeeds", writes.get(1).is_some_and(|c| c.errno.is_none()), r.calls_text("client", "write")),
            Check::new(Source::App, "the next write() fails with EPIPE", writes.get(2).is_some_and(|c| c.errno_code == Some(libc::EPIPE)), r.calls_text("client", "write")),
            Check::kernel(have, "kernel: the server's closed socket, now a FIN-WAIT-2 timewait socket, answers the data with an RST (reason TCP_TIMEWAIT_SOCKET)", reasons.iter().any(|x| x == "TCP_TIMEWAIT_SOCKET"), reasons.join(", ")),
            Check::new(Source::Counters, "the server counts the RST (OutRsts) and TW: its orphaned FIN-WAIT-2 became a timewait socket", r.delta(Host::Server, "OutRsts") == 1 && r.delta(Host::Server, "TW") == 1, format!("OutRsts +{}, TW +{}, TCPAbortOnData +{}", r.delta(Host::Server, "OutRsts"), r.delta(Host::Server, "TW"), r.delta(Host::Server, "TCPAbortOnData"))),
        ]
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "A FIN only says the peer will send no more; TCP cannot tell whether it will still read. So the first write \
after the peer's FIN succeeds: the data leaves and reaches a socket its application has closed. On Linux that \
socket, orphaned in FIN-WAIT-2, has been replaced by a small timewait socket (the TW counter counts it), which \
answers the data with an RST (reason TCP_TIMEWAIT_SOCKET). Only the write after the RST fails, with EPIPE, \"Broken pipe\" (SIGPIPE unless ignored). A read in \
between would return 0 (end of file) first: the FIN came before the RST.",
            tune: &[
                "read before writing on a connection that may have been closed (a 0 from read() means the peer is gone)",
                "retry idempotent requests on a fresh connection after EPIPE or ECONNRESET",
            ],
            production: "\"Broken pipe\" in logs means the application wrote to a connection the peer had already closed: \
a pooled connection the server timed out (see http-keepalive-race), or a client that went away mid-response.",
        }
    }
}

/// `lab process-exit`.
pub struct ProcessExit;

impl Lab for ProcessExit {
    fn name(&self) -> &'static str {
        "process-exit"
    }
    fn what(&self) -> &'static str {
        "a killed process's sockets are closed by the kernel: with a FIN when nothing is unread, with an RST when data is"
    }
    fn link(&self) -> LinkSpec {
        link()
    }
    fn run(&self, env: &Env) -> Result<(), LabError> {
        // Two connections to a server whose process is killed with SIGKILL
        // while it holds them: on the first it had read everything, on the
        // second the request is unread.
        let srv = util::server(env, 16, |app, l| {
            let mut a = app.accept(&l)?;
            app.read(&mut a, 100)?;
            let b = app.accept(&l)?;
            std::thread::sleep(Duration::from_millis(100));
            kill_holding(&[&a, &b])?;
            // Our own copies are closed too; the kernel acted when the
            // holder died.
            drop((a, b));
            Ok(())
        })?;
        util::client(env, |app, to| {
            let mut a = app.connect(to)?;
            app.write(&mut a, b"read me")?;
            std::thread::sleep(Duration::from_millis(50));
            let mut b = app.connect(to)?;
            app.write(&mut b, b"never read")?;
            std::thread::sleep(Duration::from_millis(400));
            let _ = app.read(&mut a, 100);
            let _ = app.read(&mut b, 100);
            app.close(a);
            app.close(b);
            Ok(())
        })?;
        util::join(srv)
    }
    fn key_conn(&self) -> u64 {
        2
    }
    fn checks(&self, r: &Record, a: &Analysis) -> Vec<Check> {
        let from_server = |conn: u64, bits: u8| {
            a.of_conn(conn)
                .filter(|p| !p.from_client && p.has(bits))
                .count()
        };
        let reads: Vec<_> = r.calls("client", "read").collect();
        vec![
            Check::new(
                Source::Wire,
                "connection 1 (everything read) ends with a FIN from the server, no RST",
                from_server(1, FIN) == 1 && from_server(1, RST) == 0,
                format!("{} FIN, {} RST", from_server(1, FIN), from_server(1, RST)),
            ),
            Check::new(
                Source::Wire,
                "connection 2 (data unread) ends with an RST from the server, no FIN",
                from_server(2, RST) == 1 && from_server(2, FIN) == 0,
                format!("{} FIN, {} RST", from_server(2, FIN), from_server(2, RST)),
            ),
            Check::new(
                Source::App,
                "the client reads end of file on connection 1",
                reads.first().is_some_and(|c| c.bytes == Some(0)),
                r.calls_text("client", "read"),
            ),
            Check::new(
                Source::App,
                "and ECONNRESET on connection 2",
                reads
                    .get(1)
                    .is_some_and(|c| c.errno_code == Some(libc::ECONNRESET)),
                r.calls_text("client", "read"),
            ),
            Check::new(
                Source::Counters,
                "the server counts one TCPAbortOnClose (the unread connection)",
                r.delta(Host::Server, "TCPAbortOnClose") == 1,
                format!(
                    "TCPAbortOnClose +{}",
                    r.delta(Host::Server, "TCPAbortOnClose")
                ),
            ),
        ]
    }
    fn explain(&self) -> Explanation {
        Explanation {
            what: "When a process dies, however it dies (exit, SIGKILL, a crash), the kernel closes its descriptors as close() \
would. A socket with nothing unread gets an ordinary FIN, and the peer reads end of file; a socket with received data \
still unread gets an RST (the same rule as the rst-unread lab), and the peer gets ECONNRESET. So a crash does not \
always show as a reset: the folklore that it does is only half true.",
            tune: &["nothing in TCP; the peer should treat an unexpected end of file like a reset (a truncated response)"],
            production: "A service restarted or OOM-killed mid-request leaves FINs on idle connections and RSTs on busy ones; \
check the server's TCPAbortOnClose and the process's exit at that time.",
        }
    }
}

/// Fork a child that inherits `socks`, close nothing in it, and kill it
/// with SIGKILL once it holds them, after this process let go of its own
/// copies' ownership. The kernel then closes the sockets as the child exits.
fn kill_holding(socks: &[&std::net::TcpStream]) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // Hand the descriptors to a child process, then drop ours: the child
    // is the last holder, and SIGKILL ends it.
    // SAFETY: the child only calls async-signal-safe functions (pause).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: prctl in the child: it dies with the lab, even if the lab
        // is killed before it kills the child.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
        loop {
            // SAFETY: pause(2) in the child, until it is killed.
            unsafe { libc::pause() };
        }
    }
    // The parent's copies must close first, so the child holds the last ones.
    for s in socks {
        // SAFETY: dup2 of /dev/null over our copy would leave the fd number
        // valid for the owner that drops it later; close the socket itself
        // by shutting nothing down: just replace the descriptor.
        let null = std::fs::File::open("/dev/null")?;
        unsafe { libc::dup2(null.as_raw_fd(), s.as_raw_fd()) };
    }
    std::thread::sleep(Duration::from_millis(50));
    // SAFETY: kill and waitpid on our own child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
    }
    Ok(())
}

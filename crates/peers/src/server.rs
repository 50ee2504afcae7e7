//! `tcpscope server`: a listener with every knob the phenomena need.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinSet;

use crate::report::{ConnRecord, Report};
use crate::sockopt::{prepare_close, set_int, SockOpts};
use crate::CloseMode;

/// What the server does with a connection's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Send back what arrives.
    Echo,
    /// Read and drop.
    Discard,
    /// Send this many bytes, then close.
    Source(u64),
    /// A minimal HTTP/1.1 server: each request gets `200 OK` with a body of
    /// this many bytes; keep-alive until the idle timeout, when the server
    /// closes (and so holds the TIME-WAIT).
    Http(usize),
}

/// When the server calls accept().
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcceptPolicy {
    /// As soon as a connection is queued.
    Normal,
    /// Never: the accept queue fills and stays full.
    Never,
    /// Wait this long before each accept(): a slow application.
    Delay(Duration),
    /// Start paused; SIGUSR1 toggles accepting (in the binary).
    Paused,
}

/// Everything `tcpscope server` can be told.
#[derive(Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub addr: SocketAddr,
    /// What to do with the bytes.
    pub mode: Mode,
    /// listen() backlog; the kernel caps it at net.core.somaxconn.
    pub backlog: i32,
    /// When to accept.
    pub accept: AcceptPolicy,
    /// SO_REUSEPORT on the listener.
    pub reuseport: bool,
    /// How the server ends a connection it closes.
    pub close: CloseMode,
    /// Close actively after this many bytes were received (0: right after
    /// accept). Without it the server closes only after the client does.
    pub close_after: Option<u64>,
    /// Close without reading what the client sent, once something arrived
    /// (the kernel then sends an RST: TCPAbortOnClose).
    pub unread: bool,
    /// Wait this long before each read: a slow reader, for zero windows.
    pub read_delay: Option<Duration>,
    /// TCP_FASTOPEN queue length on the listener.
    pub fastopen: Option<u32>,
    /// Options set on each connection.
    pub opts: SockOpts,
    /// Stop accepting after this many connections (and end when they are done).
    pub max_conns: Option<u64>,
    /// End the run after this long.
    pub duration: Option<Duration>,
    /// HTTP keep-alive idle timeout.
    pub idle_timeout: Duration,
    /// Each finished connection's record, for `-v` and `--json`.
    pub on_conn: Option<mpsc::UnboundedSender<ConnRecord>>,
}

impl ServerConfig {
    /// Defaults: echo, backlog 128, accept at once, passive close by FIN.
    pub fn new(addr: SocketAddr) -> ServerConfig {
        ServerConfig {
            addr,
            mode: Mode::Echo,
            backlog: 128,
            accept: AcceptPolicy::Normal,
            reuseport: false,
            close: CloseMode::Fin,
            close_after: None,
            unread: false,
            read_delay: None,
            fastopen: None,
            opts: SockOpts::default(),
            max_conns: None,
            duration: None,
            idle_timeout: Duration::from_secs(5),
            on_conn: None,
        }
    }
}

/// A bound, listening server.
pub struct Server {
    listener: TcpListener,
    cfg: ServerConfig,
    local: SocketAddr,
    toggle: Arc<Notify>,
}

/// How long connections get to finish their close when a run ends.
const DRAIN: Duration = Duration::from_secs(2);
/// Bound on how long one read may wait before the connection is given up.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

impl Server {
    /// Create the listening socket with the configured options.
    pub fn bind(cfg: ServerConfig) -> io::Result<Server> {
        let sock = Socket::new(
            Domain::for_address(cfg.addr),
            Type::STREAM,
            Some(Protocol::TCP),
        )?;
        sock.set_reuse_address(true)?;
        if cfg.reuseport {
            sock.set_reuse_port(true)?;
        }
        cfg.opts.apply_early(&sock)?;
        if let Some(q) = cfg.fastopen {
            set_int(&sock, libc::IPPROTO_TCP, libc::TCP_FASTOPEN, q as i32)?;
        }
        sock.bind(&cfg.addr.into())?;
        sock.listen(cfg.backlog)?;
        sock.set_nonblocking(true)?;
        let listener = TcpListener::from_std(sock.into())?;
        let local = listener.local_addr()?;
        Ok(Server {
            listener,
            cfg,
            local,
            toggle: Arc::new(Notify::new()),
        })
    }

    /// The address actually bound (port 0 becomes a real port).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// A handle that toggles a paused accept policy (SIGUSR1 in the binary).
    pub fn accept_toggle(&self) -> Arc<Notify> {
        self.toggle.clone()
    }

    /// Serve until the configured duration or connection count is reached.
    pub async fn run(self) -> Report {
        self.run_until(std::future::pending()).await
    }

    /// Serve until `stop` completes (or the configured limits are reached).
    /// The report's `exit_requested` is set when a connection asked for
    /// `--close exit`; the binary then exits with its sockets open.
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> Report {
        let started = Instant::now();
        let mut report = Report::new("server");
        let deadline = self.cfg.duration.map(|d| tokio::time::Instant::now() + d);
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let exit = Arc::new(Exit::default());
        let open = Arc::new(AtomicU64::new(0));
        let mut tasks: JoinSet<ConnRecord> = JoinSet::new();
        let mut accepting = self.cfg.accept != AcceptPolicy::Paused;
        let mut next_accept = tokio::time::Instant::now();
        if let AcceptPolicy::Delay(d) = self.cfg.accept {
            next_accept += d;
        }
        tokio::pin!(stop);
        loop {
            let limit_reached = self.cfg.max_conns.is_some_and(|m| report.connections >= m);
            if limit_reached && tasks.is_empty() {
                break;
            }
            let may_accept = accepting && !limit_reached && self.cfg.accept != AcceptPolicy::Never;
            tokio::select! {
                _ = &mut stop => break,
                _ = sleep_until_opt(deadline) => break,
                _ = exit.notified() => {
                    for rec in exit.take() {
                        self.finish(&mut report, rec);
                    }
                    report.exit_requested = true;
                    break;
                }
                _ = self.toggle.notified() => accepting = !accepting,
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Ok(rec) = done {
                        self.finish(&mut report, rec);
                    }
                }
                _ = tokio::time::sleep_until(next_accept), if may_accept && tokio::time::Instant::now() < next_accept => {}
                accepted = self.listener.accept(), if may_accept && tokio::time::Instant::now() >= next_accept => {
                    if let AcceptPolicy::Delay(d) = self.cfg.accept {
                        next_accept = tokio::time::Instant::now() + d;
                    }
                    match accepted {
                        Ok((stream, peer)) => {
                            report.connections += 1;
                            report.established += 1;
                            let now_open = open.fetch_add(1, Ordering::Relaxed) + 1;
                            report.peak_open = report.peak_open.max(now_open);
                            let rec = ConnRecord { id: report.connections, local: stream.local_addr().ok(), peer: Some(peer), ..Default::default() };
                            let cfg = self.cfg.clone();
                            let (sd, ex, op) = (shutdown_rx.clone(), exit.clone(), open.clone());
                            tasks.spawn(async move {
                                let rec = serve(stream, rec, &cfg, sd, ex).await;
                                op.fetch_sub(1, Ordering::Relaxed);
                                rec
                            });
                        }
                        Err(e) => {
                            *report.errors.entry(("accept", e.raw_os_error().unwrap_or(0))).or_insert(0) += 1;
                            // EMFILE and friends: back off instead of spinning.
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
            }
        }
        if !report.exit_requested {
            let _ = shutdown_tx.send(true);
            let drain = tokio::time::sleep(DRAIN);
            tokio::pin!(drain);
            while !tasks.is_empty() {
                tokio::select! {
                    _ = &mut drain => break,
                    Some(done) = tasks.join_next() => if let Ok(rec) = done { self.finish(&mut report, rec) },
                }
            }
        }
        tasks.abort_all();
        report.elapsed = started.elapsed();
        report
    }

    fn finish(&self, report: &mut Report, rec: ConnRecord) {
        report.add(&rec);
        if let Some(tx) = &self.cfg.on_conn {
            let _ = tx.send(rec);
        }
    }
}

async fn sleep_until_opt(t: Option<tokio::time::Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Why the serving loop stopped.
enum Ending {
    /// The client closed (read returned 0): we close in reply.
    PeerClosed,
    /// We decided to close (close_after, source done, HTTP idle).
    Active,
    /// The run is ending.
    Shutdown,
    /// A read or write failed; nothing more to do.
    Failed,
}

async fn serve(
    mut stream: TcpStream,
    mut rec: ConnRecord,
    cfg: &ServerConfig,
    mut shutdown: watch::Receiver<bool>,
    exit: Arc<Exit>,
) -> ConnRecord {
    if let Err(e) = cfg.opts.apply(SockRef::from(&stream)) {
        rec.fail("setsockopt", &e);
    }
    let ending = if cfg.unread {
        // Wait for data, leave it unread, close: the kernel answers with RST.
        // peek, not readable(): readiness can be reported before any byte
        // has arrived, and a close with nothing unread is a plain FIN.
        let mut one = [0u8; 1];
        tokio::select! {
            r = stream.peek(&mut one) => match r {
                Ok(0) => { rec.peer_closed = true; Ending::PeerClosed }
                Ok(_) => Ending::Active,
                Err(e) => { rec.fail("read", &e); Ending::Failed }
            },
            _ = shutdown.changed() => Ending::Shutdown,
        }
    } else if cfg.close_after == Some(0) {
        Ending::Active
    } else {
        match cfg.mode {
            Mode::Source(n) => source(&mut stream, &mut rec, n, &mut shutdown).await,
            Mode::Http(body) => http(&mut stream, &mut rec, cfg, body, &mut shutdown).await,
            Mode::Echo | Mode::Discard => echo(&mut stream, &mut rec, cfg, &mut shutdown).await,
        }
    };
    if matches!(ending, Ending::Failed) {
        return rec;
    }
    close(
        stream,
        &mut rec,
        cfg.close,
        cfg.opts.linger,
        &mut shutdown,
        &exit,
    )
    .await;
    rec
}

async fn echo(
    stream: &mut TcpStream,
    rec: &mut ConnRecord,
    cfg: &ServerConfig,
    shutdown: &mut watch::Receiver<bool>,
) -> Ending {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if cfg.close_after.is_some_and(|n| rec.received >= n) {
            return Ending::Active;
        }
        if let Some(d) = cfg.read_delay {
            tokio::select! {
                _ = tokio::time::sleep(d) => {}
                _ = shutdown.changed() => return Ending::Shutdown,
            }
        }
        // Read no further than close_after, so that the bytes after it stay
        // unread when the server closes.
        let want = match cfg.close_after {
            Some(n) => ((n - rec.received) as usize).min(buf.len()),
            None => buf.len(),
        };
        let n = tokio::select! {
            r = tokio::time::timeout(IO_TIMEOUT, stream.read(&mut buf[..want])) => match r {
                Ok(Ok(n)) => n,
                Ok(Err(e)) => { rec.fail("read", &e); return Ending::Failed; }
                Err(_) => return Ending::Active,
            },
            _ = shutdown.changed() => return Ending::Shutdown,
        };
        if n == 0 {
            rec.peer_closed = true;
            return Ending::PeerClosed;
        }
        rec.received += n as u64;
        if cfg.mode == Mode::Echo {
            if let Err(e) = stream.write_all(&buf[..n]).await {
                rec.fail("write", &e);
                return Ending::Failed;
            }
            rec.sent += n as u64;
        }
    }
}

async fn source(
    stream: &mut TcpStream,
    rec: &mut ConnRecord,
    total: u64,
    shutdown: &mut watch::Receiver<bool>,
) -> Ending {
    let chunk = vec![b'x'; 64 * 1024];
    while rec.sent < total {
        let n = ((total - rec.sent) as usize).min(chunk.len());
        tokio::select! {
            r = stream.write_all(&chunk[..n]) => if let Err(e) = r {
                rec.fail("write", &e);
                return Ending::Failed;
            },
            _ = shutdown.changed() => return Ending::Shutdown,
        }
        rec.sent += n as u64;
    }
    Ending::Active
}

async fn http(
    stream: &mut TcpStream,
    rec: &mut ConnRecord,
    cfg: &ServerConfig,
    body: usize,
    shutdown: &mut watch::Receiver<bool>,
) -> Ending {
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 8192];
    loop {
        // One request: read until the blank line, within the idle timeout.
        let end = loop {
            if let Some(i) = find_subslice(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > 64 * 1024 {
                return Ending::Active;
            }
            let n = tokio::select! {
                r = tokio::time::timeout(cfg.idle_timeout, stream.read(&mut chunk)) => match r {
                    Ok(Ok(n)) => n,
                    Ok(Err(e)) => { rec.fail("read", &e); return Ending::Failed; }
                    // Idle keep-alive connection: the server closes it.
                    Err(_) => return Ending::Active,
                },
                _ = shutdown.changed() => return Ending::Shutdown,
            };
            if n == 0 {
                rec.peer_closed = true;
                return Ending::PeerClosed;
            }
            rec.received += n as u64;
            buf.extend_from_slice(&chunk[..n]);
        };
        let request = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let close = request.contains("\r\nconnection: close")
            || request.starts_with("get / http/1.0") && !request.contains("keep-alive");
        buf.drain(..end);
        let head = format!(
            "HTTP/1.1 200 OK\r\nServer: tcpscope\r\nContent-Length: {body}\r\nContent-Type: text/plain\r\n{}\r\n",
            if close { "Connection: close\r\n" } else { "" }
        );
        let mut response = head.into_bytes();
        response.resize(response.len() + body, b'x');
        if let Err(e) = stream.write_all(&response).await {
            rec.fail("write", &e);
            return Ending::Failed;
        }
        rec.sent += response.len() as u64;
        if close || cfg.close_after.is_some_and(|n| rec.received >= n) {
            return Ending::Active;
        }
    }
}

fn find_subslice(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// Bytes waiting in a socket's receive queue (SIOCINQ).
fn unread_bytes(stream: &TcpStream) -> i32 {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int to the pointer we pass.
    let r = unsafe { libc::ioctl(stream.as_raw_fd(), libc::FIONREAD, &mut n) };
    if r == 0 {
        n
    } else {
        0
    }
}

/// A connection's request that the process exit (`--close exit`), with
/// its record, which the run reports before it ends.
#[derive(Default)]
pub(crate) struct Exit {
    notify: Notify,
    records: std::sync::Mutex<Vec<ConnRecord>>,
}

impl Exit {
    fn leave(&self, rec: ConnRecord) {
        if let Ok(mut v) = self.records.lock() {
            v.push(rec);
        }
        self.notify.notify_one();
    }

    pub(crate) async fn notified(&self) {
        self.notify.notified().await
    }

    pub(crate) fn take(&self) -> Vec<ConnRecord> {
        self.records
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

/// End a connection the way `mode` says. Shared with the client.
pub(crate) async fn close(
    mut stream: TcpStream,
    rec: &mut ConnRecord,
    mode: CloseMode,
    linger: Option<Duration>,
    shutdown: &mut watch::Receiver<bool>,
    exit: &Exit,
) {
    if rec
        .errors
        .iter()
        .any(|e| e.errno == libc::ECONNRESET || e.errno == libc::EPIPE)
    {
        // Reset already: close() only frees the descriptor; nothing goes on the wire.
        rec.closed_by_us = Some("after reset");
        return;
    }
    match mode {
        CloseMode::Fin | CloseMode::Rst => {
            if let Err(e) = prepare_close(SockRef::from(&stream), mode, linger) {
                rec.fail("setsockopt", &e);
            }
            // What close() will put on the wire: data still unread makes
            // the kernel reset the connection (TCPAbortOnClose), whatever
            // the close mode asked for.
            let unread = unread_bytes(&stream);
            rec.closed_by_us = Some(match (mode, unread) {
                (_, n) if n > 0 => "rst: unread data",
                (CloseMode::Rst, _) => "rst",
                _ => "fin",
            });
            if mode == CloseMode::Fin && linger.is_some() {
                // close() blocks up to the linger time: not on the runtime thread.
                if let Ok(std) = stream.into_std() {
                    let _ = tokio::task::spawn_blocking(move || drop(std)).await;
                }
            }
        }
        CloseMode::Half => {
            rec.closed_by_us = Some("half");
            if let Err(e) = stream.shutdown().await {
                rec.fail("shutdown", &e);
                return;
            }
            // Keep reading until the peer closes its side too.
            let mut buf = [0u8; 16 * 1024];
            loop {
                tokio::select! {
                    r = tokio::time::timeout(IO_TIMEOUT, stream.read(&mut buf)) => match r {
                        Ok(Ok(0)) => { rec.peer_closed = true; break; }
                        Ok(Ok(n)) => rec.received += n as u64,
                        Ok(Err(e)) => { rec.fail("read", &e); break; }
                        Err(_) => break,
                    },
                    _ = shutdown.changed() => break,
                }
            }
        }
        CloseMode::Exit => {
            rec.closed_by_us = Some("exit");
            // The process exits before this task returns: hand the record
            // over first, so it is reported.
            exit.leave(rec.clone());
            // The process exits with this socket open; until then, hold it.
            // In-process (labs, tests) the run's end drops it: the kernel
            // closes it as it would at exit.
            let _ = shutdown.changed().await;
            drop(stream);
        }
        CloseMode::Never => {
            let mut buf = [0u8; 16 * 1024];
            loop {
                tokio::select! {
                    r = stream.read(&mut buf) => match r {
                        Ok(0) => { rec.peer_closed = true; break; }
                        Ok(n) => rec.received += n as u64,
                        Err(e) => { rec.fail("read", &e); break; }
                    },
                    _ = shutdown.changed() => break,
                }
            }
        }
    }
}

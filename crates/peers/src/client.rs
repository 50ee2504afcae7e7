//! `tcpscope client`: connections with every knob the phenomena need.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use socket2::SockRef;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;

use crate::report::{ConnRecord, Report};
use crate::server::close;
use crate::sockopt::{set_int, SockOpts};
use crate::CloseMode;

/// Everything `tcpscope client` can be told.
#[derive(Clone)]
pub struct ClientConfig {
    /// Where to connect.
    pub target: SocketAddr,
    /// Connections to make in all.
    pub count: u64,
    /// Connections open at once at most.
    pub concurrency: u64,
    /// New connections per second at most.
    pub rate: Option<f64>,
    /// Bytes to send on each connection (`--send N` makes N bytes, `--message` text).
    pub message: Option<Vec<u8>>,
    /// Read the reply: as many bytes as were sent, or until EOF if nothing was sent.
    pub recv: bool,
    /// How to end each connection.
    pub close: CloseMode,
    /// Keep each connection open this long before closing it.
    pub hold: Option<Duration>,
    /// TCP_FASTOPEN_CONNECT: data in the SYN when the server gave a cookie.
    pub fastopen: bool,
    /// Give up on connect() after this long (ETIMEDOUT).
    pub connect_timeout: Duration,
    /// Give up on a read or a write that waits longer than this: the
    /// connection records ETIMEDOUT for it.
    pub io_timeout: Duration,
    /// Local address (and port: SO_REUSEADDR is set, to meet TIME-WAIT).
    pub bind: Option<SocketAddr>,
    /// After the exchange, write twice more with a pause: the first write
    /// after a peer's close draws its RST, the next fails with EPIPE.
    pub write_after_reset: bool,
    /// Real HTTP/1.1 requests instead of a message.
    pub http: Option<HttpSpec>,
    /// Further addresses the name resolved to, tried in order when a
    /// connect to the one before fails (`localhost`: 127.0.0.1, then ::1).
    pub fallbacks: Vec<SocketAddr>,
    /// Options set on each connection.
    pub opts: SockOpts,
    /// Each finished connection's record, for `-v` and `--json`.
    pub on_conn: Option<mpsc::UnboundedSender<ConnRecord>>,
}

impl ClientConfig {
    /// Defaults: one connection, nothing sent, FIN close, 5 s connect timeout.
    pub fn new(target: SocketAddr) -> ClientConfig {
        ClientConfig {
            target,
            count: 1,
            concurrency: 1,
            rate: None,
            message: None,
            recv: false,
            close: CloseMode::Fin,
            hold: None,
            fastopen: false,
            connect_timeout: Duration::from_secs(5),
            io_timeout: Duration::from_secs(10),
            bind: None,
            write_after_reset: false,
            fallbacks: Vec::new(),
            http: None,
            opts: SockOpts::default(),
            on_conn: None,
        }
    }
}

/// The pause between writes after a reset, long enough for the RST to arrive.
const RESET_PAUSE: Duration = Duration::from_millis(100);

/// Make the connections and report what the application saw.
pub async fn run(cfg: ClientConfig) -> Report {
    run_until(cfg, std::future::pending()).await
}

/// [`run`] until `stop` completes (SIGINT, SIGTERM): then no connection is
/// started, and each one still open ends at once, recorded as
/// `interrupted` (EINTR); the report covers everything up to the stop.
pub async fn run_until(cfg: ClientConfig, stop: impl std::future::Future<Output = ()>) -> Report {
    let (stop_tx, stop_rx) = watch::channel(false);
    let work = run_stoppable(cfg, stop_rx);
    tokio::pin!(work);
    tokio::pin!(stop);
    let mut stopped = false;
    loop {
        tokio::select! {
            report = &mut work => return report,
            _ = &mut stop, if !stopped => {
                stopped = true;
                let _ = stop_tx.send(true);
            }
        }
    }
}

/// Until `stop` turns true.
async fn stopped(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

async fn run_stoppable(cfg: ClientConfig, stop: watch::Receiver<bool>) -> Report {
    let started = Instant::now();
    let mut report = Report::new("client");
    let cfg = Arc::new(cfg);
    let slots = Arc::new(Semaphore::new(cfg.concurrency.clamp(1, 1 << 20) as usize));
    let open = Arc::new(AtomicU64::new(0));
    let peak = Arc::new(AtomicU64::new(0));
    let (_shutdown_tx, shutdown_rx) = watch::channel(false);
    let exit = Arc::new(crate::server::Exit::default());
    let mut tasks: JoinSet<ConnRecord> = JoinSet::new();
    let gap = cfg
        .rate
        .filter(|r| *r > 0.0)
        .map(|r| Duration::from_secs_f64(1.0 / r));
    let mut next_start = tokio::time::Instant::now();
    for id in 1..=cfg.count {
        if *stop.borrow() {
            break;
        }
        if let Some(g) = gap {
            tokio::select! {
                _ = tokio::time::sleep_until(next_start) => {}
                _ = stopped(stop.clone()) => break,
            }
            next_start += g;
        }
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = stopped(stop.clone()) => break,
        };
        // Fold finished connections as we go, so memory stays bounded.
        while let Some(done) = tasks.try_join_next() {
            finish(&cfg, &mut report, done);
        }
        let (cfg, open, peak, sd, ex) = (
            cfg.clone(),
            open.clone(),
            peak.clone(),
            shutdown_rx.clone(),
            exit.clone(),
        );
        let halt = stop.clone();
        tasks.spawn(async move {
            let rec = one(id, &cfg, &open, &peak, sd, &ex, halt).await;
            drop(permit);
            rec
        });
        report.connections += 1;
    }
    while let Some(done) = tasks.join_next().await {
        finish(&cfg, &mut report, done);
    }
    report.peak_open = peak.load(Ordering::Relaxed);
    report.established = report.connect_times.len() as u64;
    report.elapsed = started.elapsed();
    report
}

fn finish(
    cfg: &ClientConfig,
    report: &mut Report,
    done: Result<ConnRecord, tokio::task::JoinError>,
) {
    if let Ok(rec) = done {
        report.add(&rec);
        if rec.closed_by_us == Some("exit") {
            report.exit_requested = true;
        }
        if let Some(tx) = &cfg.on_conn {
            let _ = tx.send(rec);
        }
    }
}

/// Connect to the target, then to each fallback in turn while the one
/// before fails (as a name's addresses are tried); the record keeps the
/// last error and the address that answered.
async fn connect(id: u64, cfg: &ClientConfig, rec: &mut ConnRecord) -> Option<TcpStream> {
    let _ = id;
    let addrs: Vec<SocketAddr> = std::iter::once(cfg.target)
        .chain(cfg.fallbacks.iter().copied())
        .collect();
    for (i, &target) in addrs.iter().enumerate() {
        let last = i + 1 == addrs.len();
        let sock = match new_socket(cfg, target) {
            Ok(s) => s,
            Err((op, e)) => {
                if last {
                    rec.fail(op, &e);
                    return None;
                }
                continue;
            }
        };
        let t0 = Instant::now();
        let e = match tokio::time::timeout(cfg.connect_timeout, sock.connect(target)).await {
            Ok(Ok(stream)) => {
                rec.connect_time = Some(t0.elapsed());
                rec.local = stream.local_addr().ok();
                rec.peer = Some(target);
                return Some(stream);
            }
            Ok(Err(e)) => e,
            Err(_) => timed_out(),
        };
        if last {
            rec.fail("connect", &e);
            return None;
        }
        rec.tried.push((target, e.raw_os_error().unwrap_or(0)));
    }
    None
}

fn new_socket(
    cfg: &ClientConfig,
    target: SocketAddr,
) -> Result<TcpSocket, (&'static str, io::Error)> {
    let sock = if target.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| ("socket", e))?;
    let s2 = SockRef::from(&sock);
    if let Some(n) = cfg.opts.rcvbuf {
        s2.set_recv_buffer_size(n).map_err(|e| ("setsockopt", e))?;
    }
    if let Some(n) = cfg.opts.sndbuf {
        s2.set_send_buffer_size(n).map_err(|e| ("setsockopt", e))?;
    }
    if cfg.fastopen {
        set_int(&sock, libc::IPPROTO_TCP, libc::TCP_FASTOPEN_CONNECT, 1)
            .map_err(|e| ("setsockopt", e))?;
    }
    if let Some(b) = cfg.bind {
        sock.set_reuseaddr(true).map_err(|e| ("setsockopt", e))?;
        sock.bind(b).map_err(|e| ("bind", e))?;
    }
    Ok(sock)
}

async fn one(
    id: u64,
    cfg: &ClientConfig,
    open: &AtomicU64,
    peak: &AtomicU64,
    mut shutdown: watch::Receiver<bool>,
    exit: &crate::server::Exit,
    halt: watch::Receiver<bool>,
) -> ConnRecord {
    let mut rec = ConnRecord {
        id,
        ..Default::default()
    };
    let interrupted = |rec: &mut ConnRecord| {
        rec.fail("interrupted", &io::Error::from_raw_os_error(libc::EINTR));
    };
    let connected = tokio::select! {
        s = connect(id, cfg, &mut rec) => Some(s),
        _ = stopped(halt.clone()) => None,
    };
    let Some(connected) = connected else {
        interrupted(&mut rec);
        return rec;
    };
    let Some(mut stream) = connected else {
        return rec;
    };
    let now_open = open.fetch_add(1, Ordering::Relaxed) + 1;
    peak.fetch_max(now_open, Ordering::Relaxed);
    if let Err(e) = cfg.opts.apply(SockRef::from(&stream)) {
        rec.fail("setsockopt", &e);
    }
    // A stop (SIGINT, SIGTERM) cuts the exchange or the hold short; the
    // connection is then closed as asked.
    let ok = tokio::select! {
        ok = exchange(&mut stream, cfg, &mut rec) => Some(ok),
        _ = stopped(halt.clone()) => None,
    };
    let ok = ok.unwrap_or_else(|| {
        interrupted(&mut rec);
        false
    });
    let halted = || *halt.borrow();
    if ok && cfg.write_after_reset && !halted() {
        let msg = cfg.message.clone().unwrap_or_else(|| b"x".to_vec());
        // The first write after the peer's RST fails with ECONNRESET (the
        // error the RST left); the next, on a closed socket, with EPIPE.
        for _ in 0..4 {
            tokio::time::sleep(RESET_PAUSE).await;
            match timed(cfg.io_timeout, stream.write_all(&msg)).await {
                Ok(()) => rec.sent += msg.len() as u64,
                Err(e) => {
                    let reset = e.raw_os_error() == Some(libc::ECONNRESET);
                    rec.fail("write", &e);
                    if !reset {
                        break;
                    }
                }
            }
        }
    }
    if let Some(h) = cfg.hold.filter(|_| !halted()) {
        tokio::select! {
            _ = tokio::time::sleep(h) => {}
            _ = stopped(halt.clone()) => interrupted(&mut rec),
        }
    }
    close(
        stream,
        &mut rec,
        cfg.close,
        cfg.opts.linger,
        &mut shutdown,
        exit,
    )
    .await;
    open.fetch_sub(1, Ordering::Relaxed);
    rec
}

/// `io` given up after `limit` with ETIMEDOUT (a peer that does not read
/// leaves a write blocked on a full send buffer for ever).
async fn timed(
    limit: Duration,
    io: impl std::future::Future<Output = io::Result<()>>,
) -> io::Result<()> {
    match tokio::time::timeout(limit, io).await {
        Ok(r) => r,
        Err(_) => Err(timed_out()),
    }
}

/// The error of a wait given up.
fn timed_out() -> io::Error {
    io::Error::from_raw_os_error(libc::ETIMEDOUT)
}

/// HTTP/1.1 requests on one kept-alive connection.
#[derive(Clone, Debug)]
pub struct HttpSpec {
    /// Requests per connection.
    pub requests: u32,
    /// The path asked for.
    pub path: String,
    /// The Host header.
    pub host: String,
    /// Idle time between a response and the next request.
    pub gap: Duration,
    /// Give up on a read or write after this long (ETIMEDOUT).
    pub io_timeout: Duration,
}

/// Send the requests one by one, each response read whole before the next.
async fn http(stream: &mut TcpStream, spec: &HttpSpec, rec: &mut ConnRecord) -> bool {
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: tcpscope\r\n\r\n",
        spec.path, spec.host
    );
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut chunk = vec![0u8; 16 * 1024];
    for i in 0..spec.requests {
        if i > 0 && !spec.gap.is_zero() {
            tokio::time::sleep(spec.gap).await;
        }
        if let Err(e) = timed(spec.io_timeout, stream.write_all(request.as_bytes())).await {
            rec.fail("write", &e);
            return false;
        }
        rec.sent += request.len() as u64;
        // Read the head, then Content-Length bytes of body.
        let mut need: Option<usize> = None;
        loop {
            if need.is_none() {
                if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    need = Some(end + 4 + len);
                }
            }
            if let Some(n) = need {
                if buf.len() >= n {
                    buf.drain(..n);
                    rec.responses += 1;
                    break;
                }
            }
            match tokio::time::timeout(spec.io_timeout, stream.read(&mut chunk)).await {
                Ok(Ok(0)) => {
                    rec.peer_closed = true;
                    return true;
                }
                Ok(Ok(n)) => {
                    rec.received += n as u64;
                    buf.extend_from_slice(&chunk[..n]);
                }
                Ok(Err(e)) => {
                    rec.fail("read", &e);
                    return false;
                }
                Err(_) => {
                    rec.fail("read", &timed_out());
                    return false;
                }
            }
        }
    }
    true
}

async fn exchange(stream: &mut TcpStream, cfg: &ClientConfig, rec: &mut ConnRecord) -> bool {
    if let Some(spec) = &cfg.http {
        return http(stream, spec, rec).await;
    }
    if let Some(msg) = &cfg.message {
        // Write by write, so that what the kernel took is counted even when
        // a peer that does not read makes the next write wait too long.
        let mut off = 0;
        while off < msg.len() {
            match tokio::time::timeout(cfg.io_timeout, stream.write(&msg[off..])).await {
                Ok(Ok(n)) => {
                    off += n;
                    rec.sent += n as u64;
                }
                Ok(Err(e)) => {
                    rec.fail("write", &e);
                    return false;
                }
                Err(_) => {
                    rec.fail("write", &timed_out());
                    return false;
                }
            }
        }
    }
    if !cfg.recv {
        return true;
    }
    let want = cfg.message.as_ref().map_or(u64::MAX, |m| m.len() as u64);
    let mut buf = vec![0u8; 64 * 1024];
    while rec.received < want {
        match tokio::time::timeout(cfg.io_timeout, stream.read(&mut buf)).await {
            Ok(Ok(0)) => {
                rec.peer_closed = true;
                break;
            }
            Ok(Ok(n)) => rec.received += n as u64,
            Ok(Err(e)) => {
                rec.fail("read", &e);
                return true;
            }
            // The peer sent nothing for that long: the wait is given up,
            // and said.
            Err(_) => {
                rec.fail("read", &timed_out());
                return true;
            }
        }
    }
    true
}

//! `tcpscope server` and `tcpscope client`: the test peers.

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use tcpscope_peers::client::{self, ClientConfig};
use tcpscope_peers::report::{ConnRecord, Report};
use tcpscope_peers::server::{AcceptPolicy, Mode, Server, ServerConfig};
use tcpscope_peers::sockopt::{parse_keepalive, SockOpts};
use tcpscope_peers::{parse_duration, raise_nofile_limit, CloseMode};
use tokio::sync::mpsc;

const EXIT_HELP: &str = "Exit status: 0 when no connection met an error, 3 when some did (they are \
listed in the summary), 1 when the peer could not start (bad address, port in use), 2 on a usage error.";

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ModeArg {
    /// Send back what arrives.
    Echo,
    /// Read and drop.
    Discard,
    /// Send --bytes bytes, then close.
    Source,
    /// Minimal HTTP/1.1 with keep-alive and an idle timeout.
    Http,
}

/// Options shared by both peers.
#[derive(Args, Debug)]
struct Common {
    /// How this side ends a connection: fin, rst (SO_LINGER 0), half (shutdown, then read to EOF), exit, never.
    #[arg(long, value_name = "MODE", default_value = "fin", value_parser = parse_close)]
    close: CloseMode,
    /// SO_LINGER timeout for a fin close (close blocks up to it).
    #[arg(long, value_name = "SECS")]
    linger: Option<u64>,
    /// SO_RCVBUF in bytes (the kernel doubles it; it also sets the offered window scale).
    #[arg(long, value_name = "BYTES")]
    rcvbuf: Option<usize>,
    /// SO_SNDBUF in bytes.
    #[arg(long, value_name = "BYTES")]
    sndbuf: Option<usize>,
    /// TCP_NODELAY: disable Nagle.
    #[arg(long)]
    nodelay: bool,
    /// TCP keepalive: IDLE,INTVL,CNT (for example 10s,2s,3).
    #[arg(long, value_name = "IDLE,INTVL,CNT", value_parser = parse_keepalive)]
    keepalive: Option<(Duration, Duration, u32)>,
    /// Print one line per connection as it ends.
    #[arg(short = 'v', long)]
    verbose: bool,
    /// JSON Lines on stdout: one object per connection with -v, then the summary.
    #[arg(long)]
    json: bool,
}

impl Common {
    fn opts(&self) -> SockOpts {
        SockOpts {
            rcvbuf: self.rcvbuf,
            sndbuf: self.sndbuf,
            nodelay: self.nodelay,
            keepalive: self.keepalive,
            linger: self.linger.map(Duration::from_secs),
        }
    }
}

fn parse_close(s: &str) -> Result<CloseMode, String> {
    s.parse()
}

/// A TCP server whose every behaviour is a flag.
#[derive(Args, Debug)]
#[command(after_help = EXIT_HELP)]
pub struct ServerArgs {
    /// [ADDR:]PORT to listen on.
    #[arg(default_value = "127.0.0.1:9292", value_name = "[ADDR:]PORT")]
    listen: String,
    /// What to do with a connection's bytes.
    #[arg(long, value_enum, default_value = "echo")]
    mode: ModeArg,
    /// Bytes to send in source mode; body size in http mode.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    bytes: u64,
    /// listen() backlog (the kernel caps it at net.core.somaxconn).
    #[arg(long, value_name = "N", default_value_t = 128)]
    backlog: i32,
    /// Never accept: the accept queue fills and stays full.
    #[arg(long)]
    no_accept: bool,
    /// Wait this long before each accept (a slow application).
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    accept_delay: Option<Duration>,
    /// Start with accepting paused; SIGUSR1 toggles it.
    #[arg(long)]
    accept_pause: bool,
    /// SO_REUSEPORT on the listener.
    #[arg(long)]
    reuseport: bool,
    /// Close actively after receiving this many bytes (0: right after accept).
    #[arg(long, value_name = "BYTES")]
    close_after: Option<u64>,
    /// Close without reading what arrived (the kernel sends RST).
    #[arg(long)]
    unread: bool,
    /// Wait this long before each read: a slow reader, for zero windows.
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    read_delay: Option<Duration>,
    /// Enable TCP Fast Open with this queue length.
    #[arg(long, value_name = "QLEN")]
    fastopen: Option<u32>,
    /// HTTP keep-alive idle timeout, after which the server closes.
    #[arg(long, value_name = "D", value_parser = parse_duration, default_value = "5s")]
    idle_timeout: Duration,
    /// Stop after this many connections.
    #[arg(long, value_name = "N")]
    max_conns: Option<u64>,
    /// Stop after this long.
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    duration: Option<Duration>,
    #[command(flatten)]
    common: Common,
}

/// A TCP client whose every behaviour is a flag.
#[derive(Args, Debug)]
#[command(after_help = EXIT_HELP)]
pub struct ClientArgs {
    /// HOST:PORT to connect to.
    #[arg(value_name = "HOST:PORT")]
    target: String,
    /// Connections to make.
    #[arg(long, value_name = "N", default_value_t = 1)]
    count: u64,
    /// Connections open at once at most.
    #[arg(long, value_name = "C", default_value_t = 1)]
    concurrency: u64,
    /// New connections per second at most.
    #[arg(long, value_name = "R")]
    rate: Option<f64>,
    /// Send this many bytes on each connection.
    #[arg(long, value_name = "BYTES", conflicts_with = "message")]
    send: Option<usize>,
    /// Send this text on each connection; \r, \n, \t, \\ and \xHH are
    /// escapes (--message 'GET / HTTP/1.1\r\n\r\n').
    #[arg(long, value_name = "TEXT")]
    message: Option<String>,
    /// Real HTTP/1.1: GET requests on each connection, kept alive, each
    /// response read whole (Content-Length) before the next request.
    #[arg(long, conflicts_with_all = ["message", "send", "recv"])]
    http: bool,
    /// With --http: requests per connection.
    #[arg(long, value_name = "N", default_value_t = 1, requires = "http")]
    requests: u32,
    /// With --http: the path requested.
    #[arg(long, value_name = "PATH", default_value = "/", requires = "http")]
    path: String,
    /// With --http: idle time between a response and the next request (to
    /// meet the server's keep-alive timeout).
    #[arg(long, value_name = "D", value_parser = parse_duration, requires = "http")]
    gap: Option<Duration>,
    /// Read the reply (as many bytes as were sent, or to EOF).
    #[arg(long)]
    recv: bool,
    /// Keep each connection open this long before closing it.
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    hold: Option<Duration>,
    /// TCP Fast Open: send data in the SYN when a cookie is cached.
    #[arg(long)]
    fastopen: bool,
    /// Give up on connect after this long.
    #[arg(long, value_name = "D", value_parser = parse_duration, default_value = "5s")]
    connect_timeout: Duration,
    /// Give up on a read or a write that waits longer than this (a silent
    /// server, one that never reads): ETIMEDOUT in the summary, exit 3.
    #[arg(long, value_name = "D", value_parser = parse_duration, default_value = "10s")]
    io_timeout: Duration,
    /// Local ADDR[:PORT] to bind (SO_REUSEADDR is set: reuse a port to meet TIME-WAIT).
    #[arg(long, value_name = "ADDR[:PORT]")]
    bind: Option<String>,
    /// After the exchange write twice more: meet EPIPE ("Broken pipe") after a reset.
    #[arg(long)]
    write_after_reset: bool,
    #[command(flatten)]
    common: Common,
}

fn resolve(s: &str, default_host: &str) -> Result<SocketAddr, String> {
    resolve_all(s, default_host)?
        .into_iter()
        .next()
        .ok_or_else(|| format!("'{s}' resolves to no address"))
}

/// Every address a name resolves to, in the resolver's order, each once.
fn resolve_all(s: &str, default_host: &str) -> Result<Vec<SocketAddr>, String> {
    let with_host = if s.parse::<u16>().is_ok() {
        format!("{default_host}:{s}")
    } else {
        s.to_string()
    };
    let mut all: Vec<SocketAddr> = Vec::new();
    for a in with_host
        .to_socket_addrs()
        .map_err(|e| format!("'{s}': {e}"))?
    {
        if !all.contains(&a) {
            all.push(a);
        }
    }
    if all.is_empty() {
        return Err(format!("'{s}' resolves to no address"));
    }
    Ok(all)
}

/// `\r`, `\n`, `\t`, `\0`, `\\` and `\xHH` in a message.
fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut b = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            continue;
        }
        match chars.next() {
            Some('r') => out.push(b'\r'),
            Some('n') => out.push(b'\n'),
            Some('t') => out.push(b'\t'),
            Some('0') => out.push(0),
            Some('\\') => out.push(b'\\'),
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                let v = u8::from_str_radix(&hex, 16)
                    .map_err(|_| format!("'\\x{hex}' is not a byte in hex (\\x0a)"))?;
                out.push(v);
            }
            Some(o) => {
                return Err(format!(
                    "unknown escape '\\{o}' (\\r \\n \\t \\0 \\\\ \\xHH)"
                ))
            }
            None => return Err("a trailing '\\'".into()),
        }
    }
    Ok(out)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Print connection records as they come, and the summary at the end.
struct Printer {
    role: &'static str,
    verbose: bool,
    json: bool,
}

impl Printer {
    fn conn(&self, rec: &ConnRecord) {
        if !self.verbose {
            return;
        }
        let mut out = std::io::stdout().lock();
        let _ = if self.json {
            writeln!(out, "{}", rec.json(self.role))
        } else {
            writeln!(out, "{}", rec.line(self.role))
        };
    }
    fn summary(&self, report: &Report) {
        let mut out = std::io::stdout().lock();
        let _ = if self.json {
            writeln!(out, "{}", report.json())
        } else {
            write!(out, "{}", report.text())
        };
        let _ = out.flush();
    }
}

fn status(report: &Report) -> ExitCode {
    if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    }
}

pub fn server(args: ServerArgs) -> ExitCode {
    let addr = match resolve(&args.listen, "127.0.0.1") {
        Ok(a) => a,
        Err(e) => {
            eprintln!("tcpscope server: {e}");
            return ExitCode::from(2);
        }
    };
    raise_nofile_limit(1 << 17);
    let printer = Printer {
        role: "server",
        verbose: args.common.verbose,
        json: args.common.json,
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cfg = ServerConfig {
        mode: match args.mode {
            ModeArg::Echo => Mode::Echo,
            ModeArg::Discard => Mode::Discard,
            ModeArg::Source => Mode::Source(args.bytes),
            ModeArg::Http => Mode::Http(args.bytes.min(64 << 20) as usize),
        },
        backlog: args.backlog,
        accept: if args.no_accept {
            AcceptPolicy::Never
        } else if args.accept_pause {
            AcceptPolicy::Paused
        } else if let Some(d) = args.accept_delay {
            AcceptPolicy::Delay(d)
        } else {
            AcceptPolicy::Normal
        },
        reuseport: args.reuseport,
        close: args.common.close,
        close_after: args.close_after,
        unread: args.unread,
        read_delay: args.read_delay,
        fastopen: args.fastopen,
        opts: args.common.opts(),
        max_conns: args.max_conns,
        duration: args.duration,
        idle_timeout: args.idle_timeout,
        on_conn: Some(tx),
        ..ServerConfig::new(addr)
    };
    let rt = runtime();
    let report = rt.block_on(async {
        let srv = match Server::bind(cfg) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("tcpscope server: cannot listen on {addr}: {e}");
                return None;
            }
        };
        eprintln!("tcpscope server: listening on {}", srv.local_addr());
        let toggle = srv.accept_toggle();
        tokio::spawn(async move {
            if let Ok(mut sig) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())
            {
                while sig.recv().await.is_some() {
                    toggle.notify_one();
                }
            }
        });
        let run = tokio::spawn(srv.run_until(async {
            let _ = tokio::signal::ctrl_c().await;
        }));
        tokio::pin!(run);
        loop {
            tokio::select! {
                Some(rec) = rx.recv() => printer.conn(&rec),
                r = &mut run => {
                    while let Ok(rec) = rx.try_recv() { printer.conn(&rec); }
                    return r.ok();
                }
            }
        }
    });
    let Some(report) = report else {
        return ExitCode::from(1);
    };
    printer.summary(&report);
    if report.exit_requested {
        // --close exit: leave with the sockets open; the kernel closes them.
        std::process::exit(0);
    }
    status(&report)
}

pub fn client(args: ClientArgs) -> ExitCode {
    // Every address the name resolves to, tried in order (localhost:
    // 127.0.0.1 then ::1), as a browser or curl would.
    let (target, fallbacks) = match resolve_all(&args.target, "127.0.0.1") {
        Ok(mut all) => {
            let first = all.remove(0);
            (first, all)
        }
        Err(e) => {
            eprintln!("tcpscope client: {e}");
            return ExitCode::from(2);
        }
    };
    let bind = match args.bind.as_deref() {
        None => None,
        Some(b) => {
            let with_port = if b.parse::<std::net::IpAddr>().is_ok() {
                format!("{b}:0")
            } else {
                b.to_string()
            };
            match with_port.parse::<SocketAddr>() {
                Ok(a) => Some(a),
                Err(_) => {
                    eprintln!("tcpscope client: --bind wants ADDR or ADDR:PORT, got '{b}'");
                    return ExitCode::from(2);
                }
            }
        }
    };
    raise_nofile_limit(args.concurrency.saturating_add(1024));
    let printer = Printer {
        role: "client",
        verbose: args.common.verbose,
        json: args.common.json,
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let message = match (&args.message, args.send) {
        (Some(t), _) => match unescape(t) {
            Ok(m) => Some(m),
            Err(e) => {
                eprintln!("tcpscope client: --message: {e}");
                return ExitCode::from(2);
            }
        },
        (None, Some(n)) => Some(vec![b'x'; n]),
        (None, None) => None,
    };
    let cfg = ClientConfig {
        count: args.count,
        concurrency: args.concurrency,
        rate: args.rate,
        message,
        recv: args.recv,
        close: args.common.close,
        hold: args.hold,
        fastopen: args.fastopen,
        connect_timeout: args.connect_timeout,
        io_timeout: args.io_timeout,
        bind,
        write_after_reset: args.write_after_reset,
        fallbacks,
        http: args.http.then(|| tcpscope_peers::client::HttpSpec {
            requests: args.requests,
            path: args.path.clone(),
            host: args.target.clone(),
            gap: args.gap.unwrap_or_default(),
            io_timeout: args.io_timeout,
        }),
        opts: args.common.opts(),
        on_conn: Some(tx),
        ..ClientConfig::new(target)
    };
    let rt = runtime();
    let report = rt.block_on(async {
        // SIGINT and SIGTERM end the run with its summary (a handler is
        // installed even where the shell started us with SIGINT ignored,
        // as it does for a background job of a script).
        let stop = async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async {
                    match term.as_mut() {
                        Some(t) => { t.recv().await; }
                        None => std::future::pending::<()>().await,
                    }
                } => {}
            }
        };
        let run = tokio::spawn(client::run_until(cfg, stop));
        tokio::pin!(run);
        loop {
            tokio::select! {
                Some(rec) = rx.recv() => printer.conn(&rec),
                r = &mut run => {
                    while let Ok(rec) = rx.try_recv() { printer.conn(&rec); }
                    return r.expect("the client task does not panic");
                }
            }
        }
    });
    printer.summary(&report);
    if report.exit_requested {
        std::process::exit(0);
    }
    status(&report)
}

//! Each close mode produces the errors it promises, as both applications
//! see them, over real kernel TCP on loopback.

use std::net::SocketAddr;
use std::time::Duration;

use tcpscope_peers::client::{self, ClientConfig};
use tcpscope_peers::report::Report;
use tcpscope_peers::server::{Mode, Server, ServerConfig};
use tcpscope_peers::CloseMode;

/// Run a server on its own thread and runtime until `client` is done;
/// return both reports.
fn pair(
    server: ServerConfig,
    client_cfg: impl FnOnce(SocketAddr) -> ClientConfig,
) -> (Report, Report) {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let srv = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let s = Server::bind(ServerConfig {
                duration: Some(Duration::from_secs(20)),
                ..server
            })
            .unwrap();
            addr_tx.send(s.local_addr()).unwrap();
            s.run_until(async {
                let _ = stop_rx.await;
            })
            .await
        })
    });
    let addr = addr_rx.recv().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let c = rt.block_on(client::run(client_cfg(addr)));
    // Let the server see the last close before it stops.
    std::thread::sleep(Duration::from_millis(500));
    stop_tx.send(()).unwrap();
    let s = srv.join().unwrap();
    (s, c)
}

fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn hello(addr: SocketAddr) -> ClientConfig {
    ClientConfig {
        message: Some(b"hello".to_vec()),
        recv: true,
        ..ClientConfig::new(addr)
    }
}

#[test]
fn connecting_to_a_closed_port_is_refused() {
    // Bind a port, then free it: nobody listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let r = rt.block_on(client::run(ClientConfig::new(SocketAddr::from((
        [127, 0, 0, 1],
        port,
    )))));
    assert_eq!(
        r.error_count("connect", libc::ECONNREFUSED),
        1,
        "{}",
        r.text()
    );
    assert_eq!(r.established, 0);
}

#[test]
fn echo_with_fin_closes_cleanly_on_both_sides() {
    let (s, c) = pair(ServerConfig::new(local()), hello);
    assert!(c.errors.is_empty(), "{}", c.text());
    assert!(s.errors.is_empty(), "{}", s.text());
    assert_eq!((c.sent, c.received), (5, 5));
    assert_eq!((s.sent, s.received), (5, 5));
}

#[test]
fn a_server_rst_is_connection_reset_by_peer_then_broken_pipe() {
    let server = ServerConfig {
        close: CloseMode::Rst,
        close_after: Some(1),
        ..ServerConfig::new(local())
    };
    let (_, c) = pair(server, |a| ClientConfig {
        write_after_reset: true,
        ..hello(a)
    });
    assert_eq!(c.error_count("read", libc::ECONNRESET), 1, "{}", c.text());
    assert_eq!(c.error_count("write", libc::EPIPE), 1, "{}", c.text());
}

#[test]
fn writing_after_a_server_fin_draws_an_rst_then_broken_pipe() {
    // The server closes after the first byte with FIN; the rest of the
    // message is unread, so the kernel turns that close into an RST.
    // Sending everything first and closing only then gives a clean FIN:
    let server = ServerConfig {
        mode: Mode::Discard,
        close_after: Some(5),
        ..ServerConfig::new(local())
    };
    let (_, c) = pair(server, |a| ClientConfig {
        write_after_reset: true,
        ..hello(a)
    });
    // The client reads EOF (the FIN), its next write is answered with RST,
    // and the one after fails with EPIPE.
    assert_eq!(c.error_count("write", libc::EPIPE), 1, "{}", c.text());
    assert_eq!(c.error_count("read", libc::ECONNRESET), 0, "{}", c.text());
}

#[test]
fn closing_with_unread_data_sends_rst() {
    let server = ServerConfig {
        unread: true,
        ..ServerConfig::new(local())
    };
    let (_, c) = pair(server, hello);
    assert_eq!(c.error_count("read", libc::ECONNRESET), 1, "{}", c.text());
}

#[test]
fn a_client_rst_resets_the_server_read() {
    // The server reads slowly, so the RST is already there when it reads:
    // it first gets the bytes queued before the RST, then ECONNRESET.
    let server = ServerConfig {
        mode: Mode::Discard,
        read_delay: Some(Duration::from_millis(100)),
        ..ServerConfig::new(local())
    };
    let (s, c) = pair(server, |a| ClientConfig {
        message: Some(b"hello".to_vec()),
        close: CloseMode::Rst,
        ..ClientConfig::new(a)
    });
    assert!(c.errors.is_empty(), "{}", c.text());
    assert_eq!(s.error_count("read", libc::ECONNRESET), 1, "{}", s.text());
    assert_eq!(s.received, 5, "{}", s.text());
}

#[test]
fn half_close_lets_the_reply_through() {
    // The client sends, shuts down its side, and still reads the echo.
    let (s, c) = pair(ServerConfig::new(local()), |a| ClientConfig {
        message: Some(b"hello".to_vec()),
        close: CloseMode::Half,
        ..ClientConfig::new(a)
    });
    assert!(
        c.errors.is_empty() && s.errors.is_empty(),
        "{}{}",
        c.text(),
        s.text()
    );
    assert_eq!(c.received, 5, "{}", c.text());
}

#[test]
fn source_mode_sends_the_bytes_then_closes() {
    let server = ServerConfig {
        mode: Mode::Source(1_000_000),
        ..ServerConfig::new(local())
    };
    let (s, c) = pair(server, |a| ClientConfig {
        recv: true,
        ..ClientConfig::new(a)
    });
    assert_eq!(c.received, 1_000_000, "{}", c.text());
    assert_eq!(s.sent, 1_000_000);
}

#[test]
fn http_keep_alive_serves_then_the_server_closes_when_idle() {
    let server = ServerConfig {
        mode: Mode::Http(100),
        idle_timeout: Duration::from_millis(300),
        ..ServerConfig::new(local())
    };
    let req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    let (s, c) = pair(server, |a| ClientConfig {
        message: Some(req),
        recv: true,
        ..ClientConfig::new(a)
    });
    // The response arrives, then the server's FIN after the idle timeout.
    assert!(c.received > 100, "{}", c.text());
    assert!(
        c.errors.is_empty() && s.errors.is_empty(),
        "{}{}",
        c.text(),
        s.text()
    );
    assert_eq!(s.connections, 1);
}

#[test]
fn many_concurrent_connections_are_counted() {
    let (s, c) = pair(
        ServerConfig {
            backlog: 1024,
            ..ServerConfig::new(local())
        },
        |a| ClientConfig {
            count: 500,
            concurrency: 500,
            hold: Some(Duration::from_millis(500)),
            ..ClientConfig::new(a)
        },
    );
    assert_eq!(c.established, 500, "{}", c.text());
    assert_eq!(c.peak_open, 500, "{}", c.text());
    assert_eq!(s.connections, 500, "{}", s.text());
    let (min, med, p99) = c.latency().unwrap();
    assert!(min <= med && med <= p99);
}

#[test]
fn a_full_accept_queue_drops_further_syns() {
    // backlog 1: the queue holds two connections; nobody accepts them.
    let server = ServerConfig {
        backlog: 1,
        accept: tcpscope_peers::server::AcceptPolicy::Never,
        ..ServerConfig::new(local())
    };
    let (s, c) = pair(server, |a| ClientConfig {
        count: 5,
        concurrency: 5,
        connect_timeout: Duration::from_millis(1500),
        ..ClientConfig::new(a)
    });
    assert_eq!(s.connections, 0, "{}", s.text());
    assert_eq!(c.established, 2, "{}", c.text());
    assert_eq!(c.error_count("connect", libc::ETIMEDOUT), 3, "{}", c.text());
}

#[test]
fn reusing_a_local_port_in_time_wait_follows_tcp_tw_reuse() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bind: SocketAddr = SocketAddr::from(([127, 0, 0, 1], port));
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let srv = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let s = Server::bind(ServerConfig {
                duration: Some(Duration::from_secs(2)),
                ..ServerConfig::new(local())
            })
            .unwrap();
            addr_tx.send(s.local_addr()).unwrap();
            s.run().await
        })
    });
    let addr = addr_rx.recv().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The client closes first, so its side of the 4-tuple is in TIME-WAIT.
    let first = rt.block_on(client::run(ClientConfig {
        bind: Some(bind),
        ..hello(addr)
    }));
    assert!(first.errors.is_empty(), "{}", first.text());
    std::thread::sleep(Duration::from_millis(100));
    // The same 4-tuple again, with the server still listening. Whether the
    // kernel may take over the TIME-WAIT is net.ipv4.tcp_tw_reuse: 0 never
    // (connect fails with EADDRNOTAVAIL), 1 always, 2 (the default) for
    // loopback only, which this is.
    let second = rt.block_on(client::run(ClientConfig {
        bind: Some(bind),
        ..ClientConfig::new(addr)
    }));
    let reuse = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_tw_reuse").unwrap();
    if reuse.trim() == "0" {
        assert_eq!(
            second.error_count("connect", libc::EADDRNOTAVAIL),
            1,
            "{}",
            second.text()
        );
    } else {
        assert_eq!(
            second.established,
            1,
            "tcp_tw_reuse={reuse}: {}",
            second.text()
        );
    }
    srv.join().unwrap();
}

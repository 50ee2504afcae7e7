//! A bounded UDP flood for `bench/capture.sh`: THREADS senders each send
//! COUNT/THREADS datagrams of SIZE bytes to DEST (which must be a loopback
//! or namespace-local address), then print the packets per second.
//!
//!   cargo run --release --example flood -- 127.0.0.1:9 2000000 64 4

use std::net::UdpSocket;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dest = args
        .get(1)
        .map(String::as_str)
        .unwrap_or("127.0.0.1:9")
        .to_string();
    let count: u64 = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let size: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(64);
    let threads: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(4);
    let ip: std::net::SocketAddr = dest.parse().expect("DEST is ip:port");
    assert!(
        ip.ip().is_loopback(),
        "flood only sends to loopback (safety): {dest}"
    );
    // Bounded in time as well as in count.
    let limit = Duration::from_secs(60);
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let dest = dest.clone();
            std::thread::spawn(move || {
                let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
                let buf = vec![0x5au8; size];
                let mut sent = 0u64;
                while sent < count / threads {
                    if s.send_to(&buf, &dest).is_ok() {
                        sent += 1;
                    }
                    if sent % 4096 == 0 && start.elapsed() > limit {
                        break;
                    }
                }
                sent
            })
        })
        .collect();
    let sent: u64 = handles.into_iter().map(|h| h.join().unwrap_or(0)).sum();
    let secs = start.elapsed().as_secs_f64();
    println!("{sent} {secs:.3} {:.0}", sent as f64 / secs);
}

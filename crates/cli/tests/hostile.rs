//! Never down on bad input, through the binary: filters nested or chained
//! far beyond use, typos that must not reach the resolver, captures read
//! from pipes, hostile lengths and timestamps, outputs that cannot be
//! written, and peers that never answer or never read.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tcpscope");

fn captures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/captures")
}

fn capture(name: &str) -> String {
    captures().join(name).display().to_string()
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run tcpscope")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tcpscope-hostile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The shapes that used to overflow the stack, as argument words.
fn deep(kind: &str, n: usize) -> Vec<String> {
    match kind {
        "parens" => vec![format!("{}tcp{}", "(".repeat(n), ")".repeat(n))],
        "nots" => std::iter::repeat_n("not".to_string(), n)
            .chain(["tcp".into()])
            .collect(),
        "and" => {
            let mut v = vec!["tcp".to_string()];
            for _ in 1..n {
                v.extend(["and".into(), "tcp".into()]);
            }
            v
        }
        "plus" => {
            let mut v = vec!["len".to_string()];
            for _ in 0..n {
                v.extend(["+".into(), "1".into()]);
            }
            v.extend([">".into(), "0".into()]);
            v
        }
        _ => unreachable!(),
    }
}

#[test]
fn deep_and_long_filters_end_with_an_error_never_an_abort() {
    let file = capture("refused.pcap");
    // Nesting and arithmetic beyond the documented limits: an error.
    for (kind, n) in [("parens", 3929), ("nots", 17_000), ("plus", 72_000)] {
        let expr = deep(kind, n);
        for cmd in [
            &["read", "-r", &file][..],
            &["read", "-d", "-r", &file],
            &["conns", "-r", &file],
        ] {
            let mut args: Vec<&str> = cmd.to_vec();
            args.extend(expr.iter().map(String::as_str));
            let o = run(&args);
            assert_eq!(
                o.status.code(),
                Some(1),
                "{kind} {n} {cmd:?}: {}",
                stderr(&o)
            );
            let e = stderr(&o);
            assert!(e.contains("bad filter expression"), "{kind}: {e}");
            assert!(
                e.len() < 2000,
                "the message shows a window of the expression: {} bytes",
                e.len()
            );
        }
        // capture checks the expression before it opens anything.
        let mut args = vec!["capture", "-i", "lo", "-c", "1"];
        args.extend(expr.iter().map(String::as_str));
        let o = run(&args);
        assert_eq!(o.status.code(), Some(1), "capture {kind}: {}", stderr(&o));
        assert!(stderr(&o).contains("bad filter expression"));
    }
    let o = run(&["read", "-r", &file, &deep("parens", 3929)[0]]);
    assert!(
        stderr(&o).contains("more than 200 levels"),
        "{}",
        stderr(&o)
    );
    // At the limits it works.
    for expr in [deep("parens", 200), deep("nots", 200), deep("plus", 1000)] {
        let mut args = vec!["read", "-r", file.as_str()];
        args.extend(expr.iter().map(String::as_str));
        let o = run(&args);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    // An and-chain of 28,000 terms is compiled as a balanced tree: it
    // selects what `tcp` selects; the kernel would not take a program that
    // long, and capture says so.
    let chain = deep("and", 28_000);
    let mut args = vec!["read", "-r", file.as_str()];
    args.extend(chain.iter().map(String::as_str));
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, run(&["read", "-r", &file, "tcp"]).stdout);
    let mut args = vec!["capture", "-i", "lo", "-c", "1"];
    args.extend(chain.iter().map(String::as_str));
    let o = run(&args);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("filter too large for the kernel"),
        "{}",
        stderr(&o)
    );
    // Long or-chains select what tcpdump selects (their jumps go beyond the
    // 255 instructions a conditional jump reaches).
    let file = capture("loss-after-capture.pcap");
    for n in [20, 400] {
        let ports: Vec<String> = (0..n)
            .map(|i| format!("port {}", 9300 + n - 1 - i))
            .collect();
        let expr = ports.join(" or ");
        let ours = Command::new(BIN)
            .args(["read", "-r", &file, &expr])
            .env("TZ", "UTC")
            .output()
            .unwrap();
        let theirs = Command::new("tcpdump")
            .args(["-n", "-r", &file, &expr])
            .env("TZ", "UTC")
            .output()
            .unwrap();
        assert!(ours.status.success(), "{}", stderr(&ours));
        assert!(!ours.stdout.is_empty());
        assert_eq!(
            String::from_utf8_lossy(&ours.stdout),
            String::from_utf8_lossy(&theirs.stdout),
            "{n} ports"
        );
    }
}

#[test]
fn typos_are_syntax_errors_at_once_and_never_dns_lookups() {
    if !common::privileged("typos_are_syntax_errors_at_once_and_never_dns_lookups") {
        return;
    }
    // A private network and mount namespace whose resolver never answers:
    // its queries to 192.0.2.53 leave by a veth whose far end has no
    // address, so a lookup waits its full timeout (2 s).
    let dir = scratch("dns");
    std::fs::write(
        dir.join("resolv.conf"),
        "nameserver 192.0.2.53\noptions timeout:2 attempts:1\n",
    )
    .unwrap();
    let file = capture("refused.pcap");
    let script = format!(
        "set -e; mount --bind {resolv} /etc/resolv.conf; ip link set lo up; \
         ip link add v0 type veth peer name v1; ip link set v0 up; ip link set v1 up; \
         ip addr add 192.0.2.1/24 dev v0; ip neigh add 192.0.2.53 lladdr 02:00:00:00:00:53 dev v0; \
         for e in 'and tcp' 'inbound' 'port 80 and and' '4294967296 = 0' 'tcp and and host nosuch.example'; do \
           s=$(date +%s%N); {bin} read -r {file} \"$e\" 2>&1 | head -1; echo \"took $(( ($(date +%s%N) - s) / 1000000 )) ms\"; done; \
         s=$(date +%s%N); {bin} read -r {file} 'tcp and host nosuch.example' 2>&1 | head -1; echo \"lookup took $(( ($(date +%s%N) - s) / 1000000 )) ms\"",
        resolv = dir.join("resolv.conf").display(),
        bin = BIN,
    );
    let o = Command::new("unshare")
        .args(["-m", "-n", "sh", "-c", &script])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{text}{}", stderr(&o));
    let lines: Vec<&str> = text.lines().collect();
    let took = |l: &str| -> u64 { l.rsplit(' ').nth(1).unwrap().parse().unwrap() };
    for pair in lines[..10].chunks(2) {
        assert!(pair[0].contains("bad filter expression"), "{text}");
        assert!(!pair[0].contains("resolve"), "no lookup: {text}");
        assert!(took(pair[1]) < 1000, "at once: {text}");
    }
    assert!(lines[0].contains("syntax error at 'and'"), "{text}");
    assert!(
        lines[2].contains("'inbound' is a tcpdump filter keyword"),
        "{text}"
    );
    assert!(
        lines[6].contains("number 4294967296 overflows 32 bits"),
        "{text}"
    );
    // The resolver really is slow: a name in a host position waits for it.
    assert!(
        lines[10].contains("cannot resolve host name 'nosuch.example'"),
        "{text}"
    );
    assert!(took(lines[11]) >= 1500, "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn captures_are_read_from_fifos_and_pipes() {
    let file = capture("zero-window.pcap");
    let dir = scratch("fifo");
    let fifo = dir.join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    for cmd in [&["read"][..], &["conns", "--json"], &["ladder"]] {
        let mut args: Vec<&str> = cmd.to_vec();
        args.extend(["-r", file.as_str()]);
        let want = run(&args);
        assert!(want.status.success());
        // A FIFO.
        let writer = {
            let (fifo, file) = (fifo.clone(), file.clone());
            std::thread::spawn(move || {
                let bytes = std::fs::read(file).unwrap();
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(fifo)
                    .unwrap()
                    .write_all(&bytes)
                    .unwrap();
            })
        };
        let mut args: Vec<&str> = cmd.to_vec();
        let fifo_s = fifo.display().to_string();
        args.extend(["-r", fifo_s.as_str()]);
        let got = run(&args);
        writer.join().unwrap();
        assert!(got.status.success(), "{cmd:?} fifo: {}", stderr(&got));
        let norm =
            |o: &Output, name: &str| String::from_utf8_lossy(&o.stdout).replace(name, "SOURCE");
        assert_eq!(norm(&got, &fifo_s), norm(&want, &file), "{cmd:?}");
        // Process substitution and /dev/stdin that is a pipe.
        for src in ["<(cat FILE)", "/dev/stdin < <(cat FILE)"] {
            let line = format!("{BIN} {} -r {}", cmd.join(" "), src.replace("FILE", &file));
            let o = Command::new("bash").args(["-c", &line]).output().unwrap();
            assert!(o.status.success(), "{line}: {}", stderr(&o));
            assert_eq!(o.stdout.len() > 0, true, "{line}");
            if cmd[0] == "read" {
                assert_eq!(
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&want.stdout),
                    "{line}"
                );
            }
        }
    }
    // An empty standard input, and a pcapng with nothing after its section header.
    let o = Command::new(BIN)
        .args(["read", "-r", "-"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("empty"), "{}", stderr(&o));
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x0A0D_0D0Au32.to_le_bytes());
    shb.extend_from_slice(&28u32.to_le_bytes());
    shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    shb.extend_from_slice(&28u32.to_le_bytes());
    let path = dir.join("shb.pcapng");
    std::fs::write(&path, &shb).unwrap();
    let p = path.display().to_string();
    let tcpdump = Command::new("tcpdump").args(["-r", &p]).output().unwrap();
    for cmd in ["read", "conns"] {
        let o = run(&[cmd, "-r", &p]);
        assert_eq!(
            o.status.code(),
            tcpdump.status.code(),
            "{cmd} as tcpdump: {}",
            stderr(&o)
        );
        assert!(
            stderr(&o).contains("the capture file has no Interface Description Blocks"),
            "{}",
            stderr(&o)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn pcap(records: &[(u32, u32, u32, Vec<u8>)]) -> Vec<u8> {
    let mut f = Vec::new();
    for v in [0xa1b2_c3d4u32] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&262_144u32.to_le_bytes());
    f.extend_from_slice(&1u32.to_le_bytes());
    for (sec, usec, wire, data) in records {
        for v in [*sec, *usec, data.len() as u32, *wire] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f.extend_from_slice(data);
    }
    f
}

/// An Ethernet frame with an IPv4 TCP SYN from 10.0.0.1:40000 to 10.0.0.2:80.
fn syn(seq: u32, ip_total: u16) -> Vec<u8> {
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&[0x08, 0x00]);
    let mut ip = vec![
        0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    ip[2..4].copy_from_slice(&ip_total.to_be_bytes());
    f.extend_from_slice(&ip);
    let mut tcp = vec![0u8; 20];
    tcp[0..2].copy_from_slice(&40000u16.to_be_bytes());
    tcp[2..4].copy_from_slice(&80u16.to_be_bytes());
    tcp[4..8].copy_from_slice(&seq.to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = 0x02;
    tcp[14..16].copy_from_slice(&64240u16.to_be_bytes());
    f.extend_from_slice(&tcp);
    f
}

#[test]
fn hostile_lengths_and_timestamps_never_become_numbers() {
    let dir = scratch("lengths");
    // A SYN whose IP total length is 0 (as TSO captures have) in a record
    // claiming 10 bytes on the wire, shorter than its own link header; then
    // a good SYN.
    let file = dir.join("short.pcap");
    std::fs::write(
        &file,
        pcap(&[
            (1_700_000_000, 0, 10, syn(1000, 0)),
            (1_700_000_000, 100, 54, syn(1000, 40)),
        ]),
    )
    .unwrap();
    let f = file.display().to_string();
    let o = run(&["conns", "-r", &f, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    let c: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(c["client_bytes"], 0, "{text}");
    assert!(c["client_packets"].as_u64().unwrap() <= 2);
    let packets = String::from_utf8_lossy(&run(&["read", "-r", &f, "--json"]).stdout).into_owned();
    assert!(!packets.contains("lost_segment"), "{packets}");
    assert!(!packets.contains("4294967"), "{packets}");

    // pcapng timestamps moved by the most extreme if_tsoffset: tcpscope
    // prints them as tcpdump does, and durations are exact differences.
    for offset in [i64::MAX, i64::MIN, i64::MAX - 1_700_000_000] {
        let file = dir.join("offset.pcapng");
        std::fs::write(&file, pcapng_with_offset(offset)).unwrap();
        let f = file.display().to_string();
        let ours = run(&["read", "-r", &f]);
        let theirs = Command::new("tcpdump")
            .args(["-n", "-r", &f])
            .env("TZ", "UTC")
            .output()
            .unwrap();
        if theirs.status.success() {
            let ours_tz = Command::new(BIN)
                .args(["read", "-r", &f])
                .env("TZ", "UTC")
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&ours_tz.stdout),
                String::from_utf8_lossy(&theirs.stdout),
                "offset {offset}"
            );
        }
        assert!(ours.status.code().is_some(), "no abort");
        let o = run(&["conns", "-r", &f, "--json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let c: serde_json::Value =
            serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().next().unwrap())
                .unwrap();
        let d = c["duration_s"].as_f64().unwrap();
        assert!((d - 1.0).abs() < 1e-6, "offset {offset}: duration {d}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A pcapng file: an interface with if_tsoffset `offset` (microsecond
/// resolution), and two SYNs of one connection one second apart.
fn pcapng_with_offset(offset: i64) -> Vec<u8> {
    let mut f = Vec::new();
    let block = |f: &mut Vec<u8>, kind: u32, body: &[u8]| {
        let len = 12 + body.len() as u32;
        f.extend_from_slice(&kind.to_le_bytes());
        f.extend_from_slice(&len.to_le_bytes());
        f.extend_from_slice(body);
        f.extend_from_slice(&len.to_le_bytes());
    };
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    block(&mut f, 0x0A0D_0D0A, &shb);
    let mut idb = Vec::new();
    idb.extend_from_slice(&1u16.to_le_bytes());
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&262_144u32.to_le_bytes());
    // if_tsoffset (14), 8 bytes; end of options.
    idb.extend_from_slice(&14u16.to_le_bytes());
    idb.extend_from_slice(&8u16.to_le_bytes());
    idb.extend_from_slice(&offset.to_le_bytes());
    idb.extend_from_slice(&[0, 0, 0, 0]);
    block(&mut f, 1, &idb);
    for (i, ticks) in [5_000_000u64, 6_000_000].iter().enumerate() {
        let data = syn(1000 + i as u32 * 0, 40);
        let mut epb = Vec::new();
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&((ticks >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(*ticks as u32).to_le_bytes());
        epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
        epb.extend_from_slice(&data);
        while epb.len() % 4 != 0 {
            epb.push(0);
        }
        block(&mut f, 6, &epb);
    }
    f
}

#[test]
fn write_errors_exit_1_and_a_closed_pipe_stays_quiet() {
    let file = capture("zero-window.pcap");
    let two = capture("refused.pcap");
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["read", "-r", &file],
        vec!["read", "--json", "-r", &file],
        vec!["read", "-r", &file, "-r", &two],
        vec!["conns", "-r", &file],
        vec!["diagnose", "-r", &file],
        vec!["ladder", "-r", &file],
        vec!["counters"],
        vec!["ss", "-tan"],
        vec!["completions", "bash"],
        vec!["man"],
        vec!["lab", "list"],
    ];
    for args in &cases {
        let o = Command::new(BIN)
            .args(args)
            .stdout(full.try_clone().unwrap())
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(1),
            "{args:?} to /dev/full: {}",
            stderr(&o)
        );
        assert!(
            stderr(&o).contains("No space left on device"),
            "{args:?}: {}",
            stderr(&o)
        );
        // A reader that goes away: quiet and successful, as with tcpdump | head.
        let line = format!(
            "{BIN} {} | head -c 1 > /dev/null; exit ${{PIPESTATUS[0]}}",
            args.join(" ")
        );
        let o = Command::new("bash").args(["-c", &line]).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{line}: {}", stderr(&o));
    }
}

/// A tcpscope server on a free loopback port with `args`; killed on drop.
struct Server(std::process::Child, u16);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn server(args: &[&str]) -> Server {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(BIN)
        .args(["server", &listen])
        .args(args)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Server(child, port)
}

#[test]
fn the_client_never_hangs_and_always_says_why() {
    // A server that does not read for a minute: the client's write waits,
    // then gives up with ETIMEDOUT and counts what the kernel took.
    let s = server(&["--mode", "discard", "--read-delay", "60s"]);
    let target = format!("127.0.0.1:{}", s.1);
    let t0 = Instant::now();
    let o = run(&[
        "client",
        &target,
        "--send",
        "50000000",
        "--io-timeout",
        "1s",
        "--json",
    ]);
    assert!(
        t0.elapsed() < Duration::from_secs(8),
        "bounded: {:?}",
        t0.elapsed()
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("\"op\":\"write\",\"errno\":\"ETIMEDOUT\""),
        "{out}"
    );
    let summary: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert!(summary["sent"].as_u64().unwrap() > 0, "{summary}");
    drop(s);

    // A server that never sends: --recv gives up and says so.
    let s = server(&["--mode", "discard"]);
    let target = format!("127.0.0.1:{}", s.1);
    let o = run(&["client", &target, "--recv", "--io-timeout", "1s"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert!(text.contains("read: ETIMEDOUT"), "{text}");

    // SIGINT to a client started in the background by a script (which
    // starts it with SIGINT ignored), and SIGTERM: the summary, at once.
    for sig in ["INT", "TERM"] {
        let line = format!(
            "{BIN} client {target} --hold 30s & sleep 1; kill -{sig} $!; wait $!; echo \"status $?\""
        );
        let t0 = Instant::now();
        let o = Command::new("bash").args(["-c", &line]).output().unwrap();
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "{sig}: {:?}",
            t0.elapsed()
        );
        let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
        assert!(
            text.contains("client: 1 connections, 1 established"),
            "{sig}: {text}"
        );
        assert!(text.contains("interrupted: EINTR"), "{sig}: {text}");
        assert!(text.contains("status 3"), "{sig}: {text}");
    }
}

//! `tcpscope server` and `tcpscope client` as a user runs them: the errors
//! each side reports, 10,000 connections held at once, and (with root) the
//! packets each close mode puts on the wire, captured in a private network
//! namespace and read back with `tcpscope read`.

mod common;
use common::privileged;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_tcpscope");

/// Start a server on an ephemeral port; returns it and its address.
fn server(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .arg("server")
        .arg("127.0.0.1:0")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("tcpscope server: listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    (child, addr)
}

fn client(addr: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .arg("client")
        .arg(addr)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn finish(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn connection_reset_by_peer_then_broken_pipe() {
    let (srv, addr) = server(&["--close", "rst", "--close-after", "1", "--max-conns", "1"]);
    let (code, out) = client(
        &addr,
        &["--message", "hello", "--recv", "--write-after-reset"],
    );
    assert_eq!(code, 3, "errors met: exit status 3\n{out}");
    assert!(
        out.contains("    read: ECONNRESET (Connection reset by peer) x1\n"),
        "{out}"
    );
    assert!(out.contains("    write: EPIPE (Broken pipe) x1\n"), "{out}");
    let s = finish(srv);
    assert!(s.starts_with("server: 1 connections, 1 established"), "{s}");
}

#[test]
fn a_refused_connection_is_named() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, out) = client(&format!("127.0.0.1:{port}"), &["-v"]);
    assert_eq!(code, 3);
    assert!(
        out.contains("connect: ECONNREFUSED (Connection refused)"),
        "{out}"
    );
}

#[test]
fn json_summary_and_connection_lines() {
    let (srv, addr) = server(&["--max-conns", "2"]);
    let (code, out) = client(
        &addr,
        &[
            "--count",
            "2",
            "--message",
            "ping",
            "--recv",
            "-v",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["type"], "peer_connection");
    assert_eq!(lines[0]["sent"], 4);
    assert_eq!(lines[0]["received"], 4);
    assert_eq!(lines[2]["type"], "peer_summary");
    assert_eq!(lines[2]["established"], 2);
    assert_eq!(lines[2]["errors"].as_array().unwrap().len(), 0);
    finish(srv);
}

#[test]
fn ten_thousand_connections_held_and_released() {
    let (srv, addr) = server(&[
        "--backlog",
        "4096",
        "--max-conns",
        "10000",
        "--duration",
        "60s",
        "--json",
    ]);
    let (code, out) = client(
        &addr,
        &[
            "--count",
            "10000",
            "--concurrency",
            "10000",
            "--rate",
            "5000",
            "--hold",
            "4s",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let c: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(c["established"], 10000, "{out}");
    assert_eq!(c["peak_open"], 10000, "{out}");
    let s: serde_json::Value = serde_json::from_str(finish(srv).trim()).unwrap();
    assert_eq!(s["connections"], 10000, "{s}");
    assert_eq!(s["peak_open"], 10000, "{s}");
    assert_eq!(s["errors"].as_array().unwrap().len(), 0, "{s}");
}

/// Run a server and a client inside a fresh network namespace while
/// tcpdump captures on its loopback; return tcpscope's reading of the capture.
fn on_the_wire(server_args: &str, client_args: &str) -> String {
    let dir = std::env::temp_dir().join(format!(
        "tcpscope-wire-{}-{}",
        std::process::id(),
        server_args.len() + client_args.len()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("peers.pcap");
    let script = format!(
        "set -e; ip link set lo up; \
         tcpdump -Z root --immediate-mode -i lo -U -w {pcap} tcp port 9300 2>/dev/null & tp=$!; sleep 1; \
         {BIN} server 127.0.0.1:9300 --max-conns 1 --duration 10s -v {server_args} >{log}/server.txt 2>&1 & sp=$!; \
         for i in $(seq 50); do grep -q listening {log}/server.txt && break; sleep 0.1; done; \
         {BIN} client 127.0.0.1:9300 -v {client_args} >{log}/client.txt 2>&1 || true; \
         wait $sp || true; sleep 0.5; kill -INT $tp; wait $tp || true",
        pcap = pcap.display(),
        log = dir.display()
    );
    let st = Command::new("unshare")
        .args(["--net", "sh", "-c", &script])
        .status()
        .unwrap();
    assert!(st.success());
    let out = Command::new(BIN)
        .args(["read", "-n", "-t", "-r"])
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The flags of each packet, "c" for client to server and "s" for the reverse.
fn flags(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let dir = if l.contains(" > 127.0.0.1.9300:") {
                "c"
            } else {
                "s"
            };
            let f = l
                .split("Flags [")
                .nth(1)
                .and_then(|r| r.split(']').next())
                .unwrap_or("?");
            format!("{dir}{f}")
        })
        .collect()
}

#[test]
fn close_modes_on_the_wire() {
    if !privileged("close_modes_on_the_wire") {
        return;
    }
    // A clean exchange closed by the client: FIN from each side.
    let fin = flags(&on_the_wire("", "--message hello --recv"));
    assert_eq!(&fin[..3], ["cS", "sS.", "c."], "{fin:?}");
    assert!(
        fin.contains(&"cF.".to_string()) && fin.contains(&"sF.".to_string()),
        "{fin:?}"
    );
    assert!(!fin.iter().any(|f| f.contains('R')), "{fin:?}");

    // --close rst on the server: an RST from the server, no FIN.
    let rst = flags(&on_the_wire(
        "--close rst --close-after 1",
        "--message hello --recv",
    ));
    assert!(rst.contains(&"sR.".to_string()), "{rst:?}");
    assert!(
        !rst.iter().any(|f| f.starts_with('s') && f.contains('F')),
        "{rst:?}"
    );

    // --unread: the server closes with data unread, the kernel sends RST.
    let unread = flags(&on_the_wire("--unread", "--message hello --recv"));
    assert!(unread.contains(&"sR.".to_string()), "{unread:?}");

    // --close half on the client: its FIN comes first, the echo still follows.
    let half = on_the_wire("", "--message hello --close half");
    let hf = flags(&half);
    let client_fin = hf
        .iter()
        .position(|f| f == "cFP." || f == "cF.")
        .unwrap_or_else(|| panic!("{half}"));
    let server_fin = hf
        .iter()
        .position(|f| f.starts_with('s') && f.contains('F'))
        .unwrap_or_else(|| panic!("{half}"));
    assert!(client_fin < server_fin, "{half}");
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_close_reported_is_the_one_the_kernel_made() {
    // Data left unread: close() sends an RST whatever the close mode, and
    // the server says so; the client meets it as ECONNRESET.
    let (srv, addr) = server(&[
        "--unread",
        "--close-after",
        "0",
        "--max-conns",
        "1",
        "-v",
        "--json",
    ]);
    let (_, out) = client(&addr, &["--message", "hello", "--recv", "--json", "-v"]);
    let c = json_lines(&out);
    assert_eq!(c[0]["errors"][0]["errno"], "ECONNRESET", "{out}");
    let s = json_lines(&finish(srv));
    assert_eq!(s[0]["closed_by_us"], "rst: unread data", "{s:?}");
    // --close exit: the connection's line and its bytes are reported
    // before the process leaves.
    let (srv, addr) = server(&["--close", "exit", "--close-after", "1", "-v", "--json"]);
    let (_, out) = client(&addr, &["--message", "x", "--recv"]);
    assert!(out.contains("received 1"), "{out}");
    let s = json_lines(&finish(srv));
    assert_eq!(s[0]["type"], "peer_connection", "{s:?}");
    assert_eq!(
        (s[0]["sent"].as_u64(), s[0]["received"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(s[0]["closed_by_us"], "exit");
    assert_eq!(s[1]["type"], "peer_summary");
}

#[test]
fn write_after_reset_meets_both_errors_in_order() {
    // The server resets while the connection is open: the first write after
    // the RST fails with ECONNRESET, the next with EPIPE.
    let (srv, addr) = server(&["--close", "rst", "--close-after", "1", "--max-conns", "1"]);
    let (_, out) = client(
        &addr,
        &["--message", "x", "--write-after-reset", "--json", "-v"],
    );
    let c = json_lines(&out);
    let errs: Vec<&str> = c[0]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["errno"].as_str().unwrap())
        .collect();
    assert_eq!(errs, ["ECONNRESET", "EPIPE"], "{out}");
    finish(srv);
}

#[test]
fn http_requests_and_message_escapes() {
    let (srv, addr) = server(&["--mode", "http", "--bytes", "100", "--max-conns", "2"]);
    let (code, out) = client(
        &addr,
        &["--http", "--requests", "3", "--path", "/x", "--json", "-v"],
    );
    assert_eq!(code, 0, "{out}");
    let c = json_lines(&out);
    assert_eq!(c[0]["responses"], 3, "{out}");
    // --message understands \r\n: a request the http server answers.
    let (code, out) = client(
        &addr,
        &[
            "--message",
            "GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n",
            "--json",
            "-v",
            "--hold",
            "200ms",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(json_lines(&out)[0]["sent"], 27);
    finish(srv);
}

#[test]
fn a_name_with_two_addresses_is_tried_in_order() {
    if !privileged("a_name_with_two_addresses_is_tried_in_order") {
        return;
    }
    // A private mount and network namespace whose hosts file gives
    // both.test two addresses; the server listens on one of them only.
    let dir = std::env::temp_dir().join(format!("tcpscope-names-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hosts"), "127.0.0.1 both.test\n::1 both.test\n").unwrap();
    let script = format!(
        "set -e; mount --bind {d}/hosts /etc/hosts; ip link set lo up; \
         for listen in 127.0.0.1 '[::1]'; do \
           {BIN} server \"$listen:9292\" --max-conns 1 > /dev/null 2>&1 & sleep 0.3; \
           {BIN} client both.test:9292 --json -v >> {d}/out.json; wait; \
         done",
        d = dir.display()
    );
    let st = Command::new("unshare")
        .args(["-mn", "sh", "-c", &script])
        .status()
        .unwrap();
    assert!(st.success());
    let recs: Vec<serde_json::Value> =
        json_lines(&std::fs::read_to_string(dir.join("out.json")).unwrap())
            .into_iter()
            .filter(|v| v["type"] == "peer_connection")
            .collect();
    assert_eq!(recs.len(), 2);
    // Both runs connected, each to the address that listened; whichever
    // address the resolver put first, one run tried it first and says so.
    assert_eq!(recs[0]["peer"], "127.0.0.1:9292", "{recs:?}");
    assert_eq!(recs[1]["peer"], "[::1]:9292", "{recs:?}");
    assert!(
        recs.iter()
            .all(|r| r["errors"].as_array().unwrap().is_empty()),
        "{recs:?}"
    );
    let tried: Vec<&serde_json::Value> = recs
        .iter()
        .flat_map(|r| r["tried"].as_array().unwrap())
        .collect();
    assert_eq!(tried.len(), 1, "{recs:?}");
    assert_eq!(tried[0]["errno"], "ECONNREFUSED");
    std::fs::remove_dir_all(&dir).unwrap();
}

//! `tcpscope ss`, `counters` and `doctor` against the kernel itself and
//! against iproute2's `ss` on the same sockets.

mod common;
use common::privileged;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_tcpscope");

fn run(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn spawn(args: &[&str]) -> Child {
    Command::new(BIN)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// A free port on loopback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Run a shell script in a new network namespace, in a fresh directory
/// (returned) where it leaves its results.
fn in_new_netns(name: &str, script: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tcpscope-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let st = Command::new("unshare")
        .args(["--net", "sh", "-c", script])
        .current_dir(&dir)
        .status()
        .unwrap();
    assert!(st.success(), "{script}");
    dir
}

#[test]
fn a_full_accept_queue_matches_ss() {
    let port = free_port();
    let mut srv = spawn(&[
        "server",
        &format!("127.0.0.1:{port}"),
        "--no-accept",
        "--backlog",
        "2",
        "--duration",
        "5s",
    ]);
    std::thread::sleep(Duration::from_millis(300));
    let mut cli = spawn(&[
        "client",
        &format!("127.0.0.1:{port}"),
        "--count",
        "6",
        "--concurrency",
        "6",
        "--hold",
        "3s",
        "--connect-timeout",
        "3s",
    ]);
    std::thread::sleep(Duration::from_millis(800));
    let ours = json_lines(&run(&["ss", "-l", "--json", "sport", &port.to_string()]));
    let theirs = Command::new("ss")
        .args(["-ltnH", "sport", "=", &format!(":{port}")])
        .output()
        .unwrap();
    let theirs = String::from_utf8_lossy(&theirs.stdout).to_string();
    let cols: Vec<&str> = theirs.split_whitespace().collect();
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert_eq!(cols[0], "LISTEN", "{theirs}");
    // The queue holds backlog + 1 = 3 completed connections; the limit is the backlog, 2.
    assert_eq!(ours[0]["recv_q"], 3);
    assert_eq!(ours[0]["send_q"], 2);
    assert_eq!(ours[0]["recv_q"].to_string(), cols[1]);
    assert_eq!(ours[0]["send_q"].to_string(), cols[2]);
    assert!(ours[0]["note"]
        .as_str()
        .unwrap()
        .starts_with("accept queue full"));
    // -p names the owner: the server process.
    let owned = json_lines(&run(&[
        "ss",
        "-l",
        "-p",
        "--json",
        "sport",
        &port.to_string(),
    ]));
    assert_eq!(owned[0]["process"], format!("tcpscope({})", srv.id()));
    let _ = cli.kill();
    let _ = srv.kill();
    let _ = (cli.wait(), srv.wait());
}

#[test]
fn tcp_info_matches_ss_on_an_idle_connection() {
    let port = free_port();
    let mut srv = spawn(&["server", &format!("127.0.0.1:{port}"), "--duration", "5s"]);
    std::thread::sleep(Duration::from_millis(300));
    let mut cli = spawn(&[
        "client",
        &format!("127.0.0.1:{port}"),
        "--message",
        "hello",
        "--recv",
        "--hold",
        "3s",
    ]);
    std::thread::sleep(Duration::from_millis(600));
    let ours = json_lines(&run(&["ss", "-i", "--json", "dport", &port.to_string()]));
    let theirs = String::from_utf8(
        Command::new("ss")
            .args(["-tinH", "dport", "=", &format!(":{port}")])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(ours.len(), 1, "{ours:?}");
    let field = |name: &str| -> String {
        theirs
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("{name} in {theirs}"))
            .to_string()
    };
    assert_eq!(ours[0]["state"], "ESTABLISHED");
    assert_eq!(ours[0]["info"]["cwnd"].to_string(), field("cwnd"));
    assert_eq!(ours[0]["info"]["mss"].to_string(), field("mss"));
    assert_eq!(
        ours[0]["info"]["bytes_acked"].to_string(),
        field("bytes_acked")
    );
    assert_eq!(
        ours[0]["info"]["bytes_received"].to_string(),
        field("bytes_received")
    );
    let _ = cli.kill();
    let _ = srv.kill();
    let _ = (cli.wait(), srv.wait());
}

#[test]
fn doctor_reports_every_setting_with_its_current_value() {
    let lines = json_lines(&run(&["doctor", "--json"]));
    let settings: Vec<_> = lines.iter().filter(|l| l["type"] == "setting").collect();
    assert!(settings.len() >= 24);
    for s in settings {
        let name = s["name"].as_str().unwrap();
        let path = format!("/proc/sys/{}", name.replace('.', "/"));
        let raw = std::fs::read_to_string(path).unwrap();
        let folded = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(s["value"], folded, "{name}");
    }
}

#[test]
fn counters_show_every_known_counter_with_its_meaning() {
    let lines = json_lines(&run(&["counters", "--json"]));
    let overflows = lines
        .iter()
        .find(|l| l["name"] == "ListenOverflows")
        .unwrap();
    assert_eq!(overflows["group"], "handshake");
    assert!(overflows["value"].is_i64());
    assert!(overflows["meaning"]
        .as_str()
        .unwrap()
        .contains("segments dropped because the accept queue was full"));
}

#[test]
fn counter_deltas_show_a_full_accept_queue_in_a_private_namespace() {
    if !privileged("counter_deltas_show_a_full_accept_queue_in_a_private_namespace") {
        return;
    }
    let script = format!(
        "ip link set lo up; {BIN} counters --json > before.json; \
         {BIN} server 127.0.0.1:9500 --no-accept --backlog 1 --duration 4s >/dev/null 2>&1 & sleep 0.3; \
         {BIN} client 127.0.0.1:9500 --count 4 --concurrency 4 --connect-timeout 2s >/dev/null 2>&1; \
         {BIN} counters --json > after.json; wait"
    );
    let dir = in_new_netns("counters", &script);
    let get = |f: &str, name: &str| -> i64 {
        let text = std::fs::read_to_string(dir.join(f)).unwrap();
        json_lines(&text)
            .iter()
            .find(|l| l["name"] == name)
            .unwrap()["value"]
            .as_i64()
            .unwrap()
    };
    // A new namespace starts its counters at zero; only this run counts.
    assert_eq!(get("before.json", "ListenOverflows"), 0);
    assert!(
        get("after.json", "ListenOverflows") >= 1,
        "no overflow counted"
    );
    assert!(
        get("after.json", "TCPSynRetrans") >= 1,
        "the dropped SYNs were retransmitted"
    );
    assert_eq!(
        get("after.json", "PassiveOpens"),
        2,
        "backlog 1 holds two connections"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn trace_shows_the_kernels_state_changes_and_named_reset_reasons() {
    if !privileged("trace_shows_the_kernels_state_changes_and_named_reset_reasons") {
        return;
    }
    let port = free_port();
    let closed = free_port();
    let tracer = Command::new(BIN)
        .args(["trace", "--json", "--duration", "3s", "--port"])
        .arg(port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let mut srv = spawn(&[
        "server",
        &format!("127.0.0.1:{port}"),
        "--close",
        "rst",
        "--close-after",
        "1",
        "--max-conns",
        "1",
    ]);
    std::thread::sleep(Duration::from_millis(300));
    run_any(&[
        "client",
        &format!("127.0.0.1:{port}"),
        "--message",
        "hi",
        "--recv",
    ]);
    run_any(&["client", &format!("127.0.0.1:{closed}")]);
    let _ = srv.wait();
    let out = tracer.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = json_lines(&String::from_utf8(out.stdout).unwrap());
    let has = |pred: &dyn Fn(&serde_json::Value) -> bool| events.iter().any(pred);
    assert!(
        has(&|e| e["event"] == "state" && e["old"] == "SYN-SENT" && e["new"] == "ESTABLISHED"),
        "{events:?}"
    );
    assert!(
        has(&|e| e["event"] == "state" && e["old"] == "LISTEN" && e["new"] == "SYN-RECEIVED"),
        "{events:?}"
    );
    // The server's SO_LINGER 0 close: an RST whose reason is a name read from the format.
    let rst = events
        .iter()
        .find(|e| e["event"] == "send RST")
        .expect("a send RST event");
    let reason = rst["reason"].as_str().unwrap();
    assert!(
        reason.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
        "reason {reason}"
    );
    assert!(has(&|e| e["event"] == "receive RST"), "{events:?}");
    assert!(
        has(&|e| e["event"] == "lifetime" && e["states"].as_str().unwrap().contains("ESTABLISHED")),
        "{events:?}"
    );
    // Filtered by port: the refused connection to another port is not there.
    assert!(!events
        .iter()
        .any(|e| e["peer"].as_str().unwrap().ends_with(&format!(":{closed}"))));
}

fn run_any(args: &[&str]) {
    let _ = Command::new(BIN).args(args).output().unwrap();
}

#[test]
fn trace_without_privilege_says_what_it_needs() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        let out = Command::new(BIN)
            .args(["trace", "--duration", "1s"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("needs CAP_PERFMON (or root)"));
        return;
    }
    // As root: drop to nobody in a child to see the message.
    let out = Command::new("setpriv")
        .args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ])
        .arg(BIN)
        .args(["trace", "--duration", "1s"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "tcpscope trace: needs CAP_PERFMON (or root) to read kernel tracepoints: run as root or with sudo\n");
}

#[test]
fn the_side_that_closes_first_shows_in_time_wait() {
    let port = free_port();
    let mut srv = spawn(&["server", &format!("127.0.0.1:{port}"), "--max-conns", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    // The client closes first (the server echoes and closes after it).
    run_any(&[
        "client",
        &format!("127.0.0.1:{port}"),
        "--message",
        "bye",
        "--recv",
    ]);
    let _ = srv.wait();
    let socks = json_lines(&run(&["ss", "-a", "--json", "dport", &port.to_string()]));
    let tw = socks
        .iter()
        .find(|s| s["state"] == "TIME-WAIT")
        .unwrap_or_else(|| panic!("{socks:?}"));
    assert_eq!(tw["timer"], "time-wait");
    assert!(tw["timer_ms"].as_u64().unwrap() <= 60_000);
    let theirs = String::from_utf8(
        Command::new("ss")
            .args([
                "-tanH",
                "state",
                "time-wait",
                "dport",
                "=",
                &format!(":{port}"),
            ])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(theirs.lines().count(), 1, "{theirs}");
    assert!(
        theirs.contains(tw["local"].as_str().unwrap()),
        "{theirs} vs {tw}"
    );
}

#[test]
fn half_open_handshakes_are_counted_as_syn_recv_like_ss() {
    if !privileged("half_open_handshakes_are_counted_as_syn_recv_like_ss") {
        return;
    }
    // In a private namespace, an nftables rule at the loopback's ingress
    // drops the client's pure ACKs to the server, so no handshake completes:
    // the server keeps three request sockets in SYN-RECV and resends its
    // SYN-ACKs, while the clients believe they are connected.
    let script = format!(
        "set -e; ip link set lo up; \
         nft add table netdev t; \
         nft add chain netdev t in '{{ type filter hook ingress device lo priority 0; }}'; \
         nft add rule netdev t in ip protocol tcp tcp dport 9500 'tcp flags & (syn|ack) == ack' drop; \
         {BIN} server 127.0.0.1:9500 --duration 4s >/dev/null 2>&1 & sleep 0.3; \
         {BIN} client 127.0.0.1:9500 --count 3 --concurrency 3 --hold 2s >/dev/null 2>&1 & sleep 0.5; \
         {BIN} ss -l --json sport 9500 > ours.json; \
         ss -Htn state syn-recv sport = :9500 > theirs.txt; \
         wait"
    );
    let dir = in_new_netns("synrecv", &script);
    let ours = json_lines(&std::fs::read_to_string(dir.join("ours.json")).unwrap());
    let theirs = std::fs::read_to_string(dir.join("theirs.txt")).unwrap();
    assert_eq!(theirs.lines().count(), 3, "iproute2 ss: {theirs}");
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert_eq!(ours[0]["syn_recv"], 3, "{ours:?}");
    // Nothing completed, so nothing waits for accept().
    assert_eq!(ours[0]["recv_q"], 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Each socket row's words but tcpscope's own `syn-recv:N`, sorted: what
/// `ss` and `tcpscope ss` must agree on. Continuation lines (a tab first)
/// are left out.
fn ss_rows(text: &str) -> Vec<String> {
    let mut rows: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with('\t') && !l.trim().is_empty())
        .map(|l| {
            l.split_whitespace()
                .filter(|w| !w.starts_with("syn-recv:"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn ss_options_and_filters_agree_with_iproute2_in_a_private_namespace() {
    if !privileged("ss_options_and_filters_agree_with_iproute2_in_a_private_namespace") {
        return;
    }
    // A full accept queue on IPv4, connections held open and one closed
    // first (TIME-WAIT) on IPv6, a UDP socket; then each command as ss
    // users type it, run by both tools on the same sockets.
    let pairs: &[(&str, &str)] = &[
        ("tan", "-tanH"),
        ("ltn", "-ltnH"),
        ("tw", "-tanH state time-wait"),
        ("est", "-tnH state established"),
        ("excl", "-tanH exclude listening exclude time-wait"),
        ("expr", "-tanH ( sport = :9602 or dport = :9602 )"),
        ("expr2", "-tnH dst [::1] and not dport = :9601"),
        ("v4", "-tan4H"),
        ("v6", "-tan6H"),
        ("udp", "-ulnH"),
        ("tu", "-tualnH"),
        ("la", "-tlanH"),
        ("late", "state listening -n -t -H"),
    ];
    let mut script = format!(
        "set -e; ip link set lo up; \
         {BIN} server 127.0.0.1:9601 --no-accept --backlog 1 --duration 5s >/dev/null 2>&1 & \
         {BIN} server [::1]:9602 --duration 5s >/dev/null 2>&1 & \
         python3 -c 'import socket,time; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((\"127.0.0.1\", 9603)); time.sleep(5)' & \
         sleep 0.4; \
         {BIN} client 127.0.0.1:9601 --count 3 --concurrency 3 --hold 4s >/dev/null 2>&1 & \
         {BIN} client [::1]:9602 --count 2 --concurrency 2 --hold 4s >/dev/null 2>&1 & \
         {BIN} client [::1]:9602 --message bye --recv >/dev/null 2>&1; \
         sleep 0.6; "
    );
    for (name, args) in pairs {
        let quoted: String = args
            .split_whitespace()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(" ");
        script.push_str(&format!(
            "{BIN} ss {quoted} > ours-{name}.txt; ss {quoted} > theirs-{name}.txt; "
        ));
    }
    script.push_str(&format!(
        "{BIN} ss -tnoH state time-wait > ours-timer.txt; ss -tnoH state time-wait > theirs-timer.txt; \
         {BIN} ss -s > ours-s.txt; ss -s > theirs-s.txt; {BIN} ss -s --json > ours-s.json; wait"
    ));
    let dir = in_new_netns("ss-words", &script);
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    for (name, args) in pairs {
        let (ours, theirs) = (
            read(&format!("ours-{name}.txt")),
            read(&format!("theirs-{name}.txt")),
        );
        assert_eq!(
            ss_rows(&ours),
            ss_rows(&theirs),
            "ss {args}\nours:\n{ours}\ntheirs:\n{theirs}"
        );
    }
    // The sockets the comparison rests on are there.
    let tan = read("ours-tan.txt");
    for want in [
        "LISTEN 2 1 127.0.0.1:9601 0.0.0.0:*",
        "TIME-WAIT 0 0 [::1]:",
        "ESTAB 0 0 [::1]:9602",
    ] {
        assert!(
            ss_rows(&tan).iter().any(|r| r.starts_with(want)),
            "{want} in\n{tan}"
        );
    }
    assert_eq!(
        ss_rows(&read("ours-udp.txt")),
        ["UNCONN 0 0 127.0.0.1:9603 0.0.0.0:*"]
    );
    // -o: the TIME-WAIT timer with the same name and about the same time left.
    let timer = |t: &str| -> (String, String) {
        let w = t
            .split_whitespace()
            .find(|w| w.starts_with("timer:("))
            .unwrap_or_else(|| panic!("{t}"));
        let inner = &w["timer:(".len()..w.len() - 1];
        let parts: Vec<&str> = inner.split(',').collect();
        (parts[0].to_string(), parts[1].to_string())
    };
    let (ours_t, theirs_t) = (
        timer(&read("ours-timer.txt")),
        timer(&read("theirs-timer.txt")),
    );
    assert_eq!(ours_t.0, "timewait");
    assert_eq!(ours_t.0, theirs_t.0);
    assert!(
        ours_t.1.ends_with("sec") && theirs_t.1.ends_with("sec"),
        "{ours_t:?} {theirs_t:?}"
    );
    // -s: ss's own lines, the same numbers.
    let (ours_s, theirs_s) = (read("ours-s.txt"), read("theirs-s.txt"));
    let lines = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.starts_with("TCP:") || l.starts_with("TCP\t") || l.starts_with("UDP\t"))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    };
    assert_eq!(
        lines(&ours_s),
        lines(&theirs_s),
        "ours:\n{ours_s}\ntheirs:\n{theirs_s}"
    );
    assert!(ours_s.contains("timewait 1)"), "{ours_s}");
    let s = json_lines(&read("ours-s.json"));
    assert_eq!(s[0]["type"], "socket_summary");
    assert_eq!(s[0]["tcp_timewait"], 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn ss_typos_are_usage_errors_that_name_the_word() {
    for (args, want) in [
        (&["ss", "-ltnz"][..], "unknown option"),
        (
            &["ss", "-tan", "state", "timewait"][..],
            "unknown state 'timewait'",
        ),
        (
            &["ss", "-tan", "sport", "=", ":http"][..],
            "':http' after 'sport' is not a port number",
        ),
        (&["ss", "-tan", "dev", "lo"][..], "unknown word 'dev'"),
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("tcpscope ss: ") && err.contains(want),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn counters_agree_with_nstat_in_a_private_namespace() {
    if !privileged("counters_agree_with_nstat_in_a_private_namespace") {
        return;
    }
    // Some traffic (a full accept queue, an echo), then both tools read the
    // same quiet namespace: every counter nstat prints, tcpscope prints with
    // the same name and value; a pattern selects the same names.
    let script = format!(
        "set -e; ip link set lo up; export NSTAT_HISTORY=$PWD/nstat.hist; \
         {BIN} server 127.0.0.1:9500 --no-accept --backlog 1 --duration 2s >/dev/null 2>&1 & sleep 0.3; \
         {BIN} client 127.0.0.1:9500 --count 3 --concurrency 3 --connect-timeout 1500ms >/dev/null 2>&1 || true; wait; \
         sleep 0.2; \
         nstat -az > theirs.txt; {BIN} counters -az > ours.txt; {BIN} counters -az --json > ours.json; \
         nstat -az 'TcpExtListen*' TcpActiveOpens > theirs-pat.txt; {BIN} counters -az 'TcpExtListen*' TcpActiveOpens > ours-pat.txt"
    );
    let dir = in_new_netns("nstat", &script);
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let nstat = |t: &str| -> Vec<(String, i64)> {
        t.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                Some((w.next()?.to_string(), w.next()?.parse().ok()?))
            })
            .collect()
    };
    let theirs = nstat(&read("theirs.txt"));
    let ours: HashMap<String, i64> = json_lines(&read("ours.json"))
        .iter()
        .filter_map(|v| Some((v["nstat"].as_str()?.to_string(), v["value"].as_i64()?)))
        .collect();
    let tcp: Vec<_> = theirs
        .iter()
        .filter(|(n, _)| n.starts_with("Tcp") || n.starts_with("Ip") && !n.starts_with("Ip6"))
        .collect();
    assert!(tcp.len() > 100, "{}", read("theirs.txt"));
    for (name, v) in tcp {
        assert_eq!(ours.get(name), Some(v), "{name}");
    }
    assert!(theirs
        .iter()
        .any(|(n, v)| n == "TcpExtListenOverflows" && *v >= 1));
    // The table shows nstat's names too, and a pattern picks the same ones.
    let ours_text = read("ours.txt");
    assert!(
        ours_text
            .lines()
            .any(|l| l.trim_start().starts_with("TcpExtListenOverflows ")),
        "{ours_text}"
    );
    let names = |t: &str| -> Vec<String> {
        let mut v: Vec<String> = t
            .lines()
            .filter(|l| l.starts_with("  "))
            .map(|l| l.split_whitespace().next().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let mut want: Vec<String> = nstat(&read("theirs-pat.txt"))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    want.sort();
    assert_eq!(names(&read("ours-pat.txt")), want);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn counters_name_an_unknown_pattern_and_count_wants_watch() {
    let out = Command::new(BIN)
        .args(["counters", "TcpExtNoSuchThing"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("no counter is named like 'TcpExtNoSuchThing'"));
    let out = Command::new(BIN)
        .args(["counters", "--count", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--watch"));
}

#[test]
fn trace_in_a_namespace_shows_that_namespace_only() {
    if !privileged("trace_in_a_namespace_shows_that_namespace_only") {
        return;
    }
    // Namespace A runs the traces and 2 connections; namespace B, at the
    // same time and on the same address and port, 5. Every address is
    // 127.0.0.1:9700: only the namespace tells them apart.
    let b_script = format!(
        "ip link set lo up; {BIN} server 127.0.0.1:9700 --duration 3s >/dev/null 2>&1 & sleep 0.8; \
         {BIN} client 127.0.0.1:9700 --count 5 --message hello --recv >/dev/null 2>&1; wait"
    );
    let b = Command::new("unshare")
        .args(["--net", "sh", "-c", &b_script])
        .spawn()
        .unwrap();
    let script = format!(
        "set -e; ip link set lo up; \
         {BIN} trace --json --duration 3500ms > ours.json 2> ours.err & \
         {BIN} trace --json -A --duration 3500ms > all.json 2> all.err & sleep 0.5; \
         {BIN} server 127.0.0.1:9700 --duration 1500ms >/dev/null 2>&1 & echo $! > server.pid; sleep 0.5; \
         {BIN} client 127.0.0.1:9700 --count 2 --message hello --recv >/dev/null 2>&1 & echo $! > client.pid; wait $!; \
         {BIN} client 127.0.0.1:9701 >/dev/null 2>&1 & echo $! > refused.pid; wait $! || true; wait; \
         readlink /proc/self/ns/net > netns.txt"
    );
    let dir = in_new_netns("trace-ns", &script);
    let _ = b.wait_with_output();
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let ours = json_lines(&read("ours.json"));
    let all = json_lines(&read("all.json"));
    let ns: u64 = read("netns.txt")
        .trim()
        .trim_start_matches("net:[")
        .trim_end_matches(']')
        .parse()
        .unwrap();
    let client_lives = |ev: &[serde_json::Value]| {
        ev.iter()
            .filter(|e| {
                e["event"] == "lifetime"
                    && e["states"]
                        .as_str()
                        .unwrap()
                        .starts_with("CLOSED -> SYN-SENT -> ESTABLISHED")
            })
            .count()
    };
    // Only namespace A's two connections, each event from namespace A.
    assert_eq!(client_lives(&ours), 2, "{ours:?}");
    assert!(ours.iter().all(|e| e["netns"] == ns), "{ours:?}");
    // Widened: B's five as well (and any other namespace's), each event
    // naming its namespace.
    assert!(client_lives(&all) >= 7, "{all:?}");
    assert!(all.iter().all(|e| !e["netns"].is_null()), "{all:?}");
    assert!(all
        .iter()
        .any(|e| e["netns"] != ns && !e["netns"].is_null()));
    // The listener was up 1.5 s; its pid is the server's, confirmed.
    let down = ours
        .iter()
        .find(|e| e["event"] == "state" && e["old"] == "LISTEN" && e["new"] == "CLOSED")
        .unwrap_or_else(|| panic!("{ours:?}"));
    let ms = down["ms_in_old"].as_f64().unwrap();
    assert!((1400.0..2000.0).contains(&ms), "{down}");
    let pid = |f: &str| -> u64 { read(f).trim().parse().unwrap() };
    assert_eq!(down["command"], "tcpscope");
    assert_eq!(down["pid"].as_u64(), Some(pid("server.pid")));
    // Owners come from the kernel (the process that had the socket locked):
    // the client's connect() and close() name the client; every pid shown is
    // one of the three processes; the listener's new connections, made in
    // softirq, name none.
    for e in ours.iter().filter(|e| {
        e["event"] == "lifetime"
            && e["states"]
                .as_str()
                .unwrap()
                .starts_with("CLOSED -> SYN-SENT -> ESTABLISHED")
    }) {
        assert_eq!(e["pid"].as_u64(), Some(pid("client.pid")), "{e}");
    }
    let known = [pid("server.pid"), pid("client.pid"), pid("refused.pid")];
    assert!(
        ours.iter()
            .all(|e| e["pid"].as_u64().is_none_or(|p| known.contains(&p))),
        "{ours:?}"
    );
    assert!(ours
        .iter()
        .any(|e| e["new"] == "SYN-RECEIVED" && e["pid"].is_null()));
    // A client's lifetime: tcplife's bytes (5 sent and echoed; the SYN and
    // FIN count in bytes_acked, the FIN in bytes_received).
    let life = ours
        .iter()
        .find(|e| {
            e["event"] == "lifetime"
                && e["states"]
                    .as_str()
                    .unwrap()
                    .starts_with("CLOSED -> SYN-SENT -> ESTABLISHED")
        })
        .unwrap();
    assert_eq!(
        (
            life["bytes_acked"].as_u64(),
            life["bytes_received"].as_u64()
        ),
        (Some(7), Some(6)),
        "{life}"
    );
    // The refused connection: its RST in words, with the errno the
    // application got.
    let rst = ours.iter().find(|e| e["event"] == "receive RST").unwrap();
    assert_eq!(rst["state"], "SYN-SENT");
    assert_eq!(rst["errno"], "ECONNREFUSED");
    // In time order.
    let times: Vec<f64> = ours
        .iter()
        .map(|e| e["elapsed_s"].as_f64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn doctor_names_the_binding_limit_and_finds_nothing_in_a_quiet_namespace() {
    if !privileged("doctor_names_the_binding_limit_and_finds_nothing_in_a_quiet_namespace") {
        return;
    }
    // A fresh namespace: nothing went wrong, no finding. Then a full accept
    // queue behind listen(2) with somaxconn at 4096: the finding names the
    // application's backlog, with the listener's numbers, not somaxconn.
    let script = format!(
        "set -e; ip link set lo up; {BIN} doctor > quiet.txt; {BIN} doctor --json > quiet.json; \
         {BIN} server 127.0.0.1:9500 --no-accept --backlog 2 --duration 3s >/dev/null 2>&1 & sleep 0.3; \
         {BIN} client 127.0.0.1:9500 --count 5 --concurrency 5 --hold 2s --connect-timeout 2s >/dev/null 2>&1 & sleep 0.8; \
         {BIN} doctor --json > full.json; wait"
    );
    let dir = in_new_netns("doctor", &script);
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    assert!(
        read("quiet.txt").contains("findings: none"),
        "{}",
        read("quiet.txt")
    );
    assert!(!read("quiet.json").contains("\"finding\""));
    let full = json_lines(&read("full.json"));
    let f: Vec<_> = full.iter().filter(|l| l["type"] == "finding").collect();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["kind"], "accept_queue_full");
    assert_eq!(f[0]["limit"], "listen() backlog");
    assert_eq!(
        f[0]["numbers"]["listener 127.0.0.1:9500"],
        "Recv-Q 3 Send-Q 2"
    );
    assert_eq!(f[0]["numbers"]["net.core.somaxconn"], "4096");
    assert_eq!(f[0]["command"], "tcpscope ss -ltn 'sport = :9500'");
    assert!(!f[0]["advice"].as_str().unwrap().contains("sysctl -w"));
    std::fs::remove_dir_all(&dir).unwrap();
}

//! The one JSON Lines schema (docs/json.md), checked on every command that
//! writes JSON: each line parses, has a `type`, and carries exactly the keys
//! the schema lists for that type. The privileged commands (capture, trace,
//! and the peers, ss and counter deltas inside a private namespace) run as
//! root, as under CI.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_tcpscope");

/// Every type and its keys, as docs/json.md lists them.
const SCHEMA: &[(&str, &[&str])] = &[
    (
        "packet",
        &[
            "source_file",
            "n",
            "ts",
            "conn",
            "dir",
            "src",
            "dst",
            "flags",
            "seq",
            "ack",
            "window",
            "len",
            "client_state",
            "server_state",
            "roles_guessed",
            "transitions",
            "analysis",
            "dupack",
            "irtt_ms",
            "sack",
            "rst",
            "challenge_ack",
            "correction",
            "ended_time_wait",
        ],
    ),
    (
        "connection",
        &[
            "source_file",
            "id",
            "client",
            "server",
            "roles_guessed",
            "ts",
            "duration_s",
            "irtt_ms",
            "conn_state",
            "history",
            "client_packets",
            "client_bytes",
            "client_ip_bytes",
            "client_retransmissions",
            "client_dup_acks",
            "client_zero_windows",
            "client_sacks",
            "client_dsacks",
            "server_packets",
            "server_bytes",
            "server_ip_bytes",
            "server_retransmissions",
            "server_dup_acks",
            "server_zero_windows",
            "server_sacks",
            "server_dsacks",
            "closed_first",
            "time_wait",
            "reset_by",
            "rst_cause",
            "rsts_not_obeyed",
            "synacks_after_final_ack",
            "missing_direction",
            "time_wait_ended_by",
            "client_end_state",
            "server_end_state",
            "client_saw",
            "server_saw",
        ],
    ),
    (
        "ladder",
        &["conn", "client", "server", "client_state", "server_state"],
    ),
    (
        "arrow",
        &[
            "conn",
            "n",
            "ts",
            "elapsed_s",
            "dir",
            "label",
            "transitions",
            "notes",
        ],
    ),
    (
        "socket",
        &[
            "netid",
            "state",
            "ss_state",
            "recv_q",
            "send_q",
            "syn_recv",
            "local",
            "peer",
            "uid",
            "inode",
            "cookie",
            "timer",
            "timer_ms",
            "timer_retrans",
            "process",
            "users",
            "note",
            "info",
            "skmem",
        ],
    ),
    (
        "diagnosis",
        &[
            "rank",
            "kind",
            "severity",
            "title",
            "connections",
            "examples",
            "applications",
            "cause",
            "advice",
            "confirm",
            "source_file",
        ],
    ),
    (
        "counter",
        &["group", "section", "name", "nstat", "value", "meaning"],
    ),
    (
        "counter_delta",
        &[
            "interval",
            "interval_s",
            "elapsed_s",
            "section",
            "name",
            "nstat",
            "delta",
            "rate_per_s",
            "meaning",
        ],
    ),
    ("setting", &["group", "name", "value", "default", "what"]),
    (
        "finding",
        &["kind", "limit", "numbers", "text", "advice", "command"],
    ),
    (
        "kernel_event",
        &[
            "elapsed_s",
            "time",
            "pid",
            "command",
            "netns",
            "netns_name",
            "event",
            "local",
            "peer",
            "detail",
            "old",
            "new",
            "ms_in_old",
            "state",
            "reason",
            "errno",
            "duration_ms",
            "states",
            "bytes_acked",
            "bytes_received",
        ],
    ),
    (
        "peer_connection",
        &[
            "role",
            "id",
            "local",
            "peer",
            "connect_time_ms",
            "sent",
            "received",
            "responses",
            "peer_closed",
            "closed_by_us",
            "tried",
            "errors",
        ],
    ),
    (
        "lab",
        &[
            "name",
            "what",
            "passed",
            "duration_s",
            "link",
            "captured_at",
            "link_drops",
            "link_random_drops",
            "sysctls",
            "packets",
            "connections",
            "kernel_events",
            "kernel_missing",
            "time_wait_sockets",
            "counters",
            "doctor",
            "apps",
            "explanation",
            "agreement",
            "outcome_agreement",
            "checks",
        ],
    ),
    (
        "peer_summary",
        &[
            "role",
            "connections",
            "established",
            "peak_open",
            "elapsed_s",
            "connect_latency",
            "sent",
            "received",
            "errors",
        ],
    ),
];

/// Nested objects and their keys.
const NESTED: &[(&str, &str, &[&str])] = &[
    (
        "packet",
        "transitions",
        &["side", "from", "to", "inferred", "note", "withdraws"],
    ),
    (
        "arrow",
        "transitions",
        &["side", "from", "to", "inferred", "note", "withdraws"],
    ),
    ("packet", "rst", &["cause", "effect", "text"]),
    (
        "diagnosis",
        "examples",
        &["conn", "client", "server", "packets", "what"],
    ),
    (
        "diagnosis",
        "applications",
        &["side", "outcome", "text", "count"],
    ),
    ("packet", "correction", &["kind", "text"]),
    ("packet", "ended_time_wait", &["conn", "side"]),
    (
        "connection",
        "client_saw",
        &["outcome", "errno", "errno_code", "text"],
    ),
    (
        "connection",
        "server_saw",
        &["outcome", "errno", "errno_code", "text"],
    ),
    (
        "socket",
        "info",
        &[
            "rtt_ms",
            "rttvar_ms",
            "rto_ms",
            "cwnd",
            "ssthresh",
            "retransmits",
            "total_retrans",
            "bytes_acked",
            "bytes_received",
            "delivery_rate",
            "mss",
            "wscale",
        ],
    ),
];

fn keys(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// Parse every line of `text` and check it against the schema; returns how
/// many objects of each type there were.
fn check(what: &str, text: &str) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {line}"));
        let t = v["type"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: no type: {line}"))
            .to_string();
        let (_, want) = SCHEMA
            .iter()
            .find(|(name, _)| *name == t)
            .unwrap_or_else(|| panic!("{what}: type {t} is not in the schema"));
        let mut want: BTreeSet<String> = want.iter().map(|k| k.to_string()).collect();
        want.insert("type".into());
        assert_eq!(keys(&v), want, "{what}: keys of {t}: {line}");
        for (ty, key, inner) in NESTED.iter().filter(|(ty, _, _)| *ty == t) {
            let want: BTreeSet<String> = inner.iter().map(|k| k.to_string()).collect();
            let mut items = match &v[*key] {
                serde_json::Value::Array(a) => a.clone(),
                serde_json::Value::Null => vec![],
                other => vec![other.clone()],
            };
            for item in items.drain(..) {
                assert_eq!(keys(&item), want, "{what}: {ty}.{key}: {line}");
            }
        }
        // The rules: no absent value written as "" or "-".
        for (k, val) in v.as_object().unwrap() {
            assert!(
                val != "" && val != "-",
                "{what}: {t}.{k} is {val}, absent values are null: {line}"
            );
        }
        *seen.entry(t).or_insert(0) += 1;
    }
    seen
}

fn run(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn capture(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/captures")
        .join(name);
    p.to_str().unwrap().to_string()
}

#[test]
fn read_conns_and_ladder_follow_the_schema() {
    for name in [
        "zero-window.pcap",
        "refused.pcap",
        "loss-before-capture.pcap",
        "ipv6.pcap",
    ] {
        let f = capture(name);
        let packets = check(name, &run(&["read", "--json", "-r", &f]));
        assert!(packets["packet"] > 0);
        let conns = check(name, &run(&["conns", "--json", "-r", &f]));
        assert!(conns["connection"] > 0);
        check(name, &run(&["diagnose", "--json", "-r", &f]));
        let ladder = check(name, &run(&["ladder", "--json", "-r", &f]));
        assert_eq!(ladder["ladder"], 1);
        assert!(ladder["arrow"] > 0);
    }
    // The refused connection's client saw ECONNREFUSED, with its number.
    let refused = run(&["conns", "--json", "-r", &capture("refused.pcap")]);
    let v: serde_json::Value = serde_json::from_str(refused.lines().next().unwrap()).unwrap();
    assert_eq!(v["client_saw"]["errno"], "ECONNREFUSED");
    assert_eq!(v["client_saw"]["errno_code"], libc::ECONNREFUSED);
    assert_eq!(v["server_saw"]["errno"], serde_json::Value::Null);
    let d = check(
        "refused diagnosis",
        &run(&["diagnose", "--json", "-r", &capture("refused.pcap")]),
    );
    assert_eq!(d["diagnosis"], 1);
}

#[test]
fn counters_and_doctor_follow_the_schema() {
    let seen = check("counters", &run(&["counters", "--json", "--all"]));
    assert!(seen["counter"] > 20);
    let seen = check("doctor", &run(&["doctor", "--json"]));
    assert!(seen["setting"] > 10);
}

/// Run `script` in a new network namespace with lo up and $T the binary,
/// and return the files it wrote, by name.
fn in_netns(script: &str, files: &[&str]) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("tcpscope-json-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let full = format!(
        "set -e; cd {}; T={BIN}; ip link set lo up; {script}",
        dir.display()
    );
    let st = Command::new("unshare")
        .args(["--net", "bash", "-c", &full])
        .status()
        .unwrap();
    assert!(st.success(), "script failed: {script}");
    let out = files
        .iter()
        .map(|f| std::fs::read_to_string(dir.join(f)).unwrap_or_default())
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    out
}

#[test]
fn live_commands_follow_the_schema() {
    if !common::privileged("live_commands_follow_the_schema") {
        return;
    }
    let out = in_netns(
        "$T capture -i lo -c 20 --json -Z root > capture.json 2>/dev/null & c=$!; \
         $T trace --json --port 9600 --duration 4s > trace.json 2>/dev/null & t=$!; \
         $T counters --json --watch 2 --count 1 > delta.json & d=$!; \
         $T server 127.0.0.1:9600 --json -v --max-conns 2 > server.json 2>/dev/null & s=$!; \
         sleep 1; \
         $T client 127.0.0.1:9600 --count 2 --message hello --recv --hold 1s --json > client.json & k=$!; \
         sleep 0.5; $T ss -a -i -p --json > ss.json; \
         wait $k; wait $s; wait $d; wait $t; kill -INT $c 2>/dev/null || true; wait $c || true",
        &[
            "capture.json",
            "trace.json",
            "delta.json",
            "server.json",
            "client.json",
            "ss.json",
        ],
    );
    let names = [
        "capture",
        "trace",
        "counters --watch",
        "server",
        "client",
        "ss",
    ];
    let seen: Vec<BTreeMap<String, usize>> = names
        .iter()
        .zip(&out)
        .map(|(n, text)| check(n, text))
        .collect();
    assert!(
        seen[0].get("packet").copied().unwrap_or(0) > 0,
        "{}",
        out[0]
    );
    assert!(
        seen[1].get("kernel_event").copied().unwrap_or(0) > 0,
        "{}",
        out[1]
    );
    assert!(
        seen[2].get("counter_delta").copied().unwrap_or(0) > 0,
        "{}",
        out[2]
    );
    assert_eq!(seen[3].get("peer_connection"), Some(&2), "{}", out[3]);
    assert_eq!(seen[3].get("peer_summary"), Some(&1), "{}", out[3]);
    assert_eq!(seen[4].get("peer_summary"), Some(&1), "{}", out[4]);
    assert!(
        seen[5].get("socket").copied().unwrap_or(0) >= 3,
        "{}",
        out[5]
    );
    // ss -i: tcp_info under "info" on the established sockets, null on the listener.
    let socks: Vec<serde_json::Value> = out[5]
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(socks
        .iter()
        .any(|s| s["state"] == "ESTABLISHED" && s["info"]["mss"].is_u64()));
    assert!(socks
        .iter()
        .any(|s| s["state"] == "LISTEN" && s["info"].is_null() && s["syn_recv"] == 0));
    // A lab's document.
    let lab = run(&["lab", "rst-refused", "--json"]);
    let seen = check("lab", &lab);
    assert_eq!(seen.get("lab"), Some(&1));
}

/// `conns --format csv` read back by the csv crate: every row has every
/// column, and each value is the one `conns --json` gives.
#[test]
fn conns_csv_reads_back_as_the_json_says() {
    for name in ["loss-before-capture.pcap", "refused.pcap", "ipv6.pcap"] {
        let f = capture(name);
        let csv_text = run(&["conns", "--format", "csv", "-r", &f]);
        let json_text = run(&["conns", "--json", "-r", &f]);
        let mut rd = csv::Reader::from_reader(csv_text.as_bytes());
        let header = rd.headers().unwrap().clone();
        let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
        let objs: Vec<serde_json::Value> = json_text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rows.len(), objs.len(), "{name}");
        for (row, obj) in rows.iter().zip(&objs) {
            assert_eq!(row.len(), header.len(), "{name}: {row:?}");
            let col = |k: &str| {
                row.get(header.iter().position(|h| h == k).unwrap())
                    .unwrap()
            };
            for k in [
                "id",
                "client",
                "server",
                "conn_state",
                "history",
                "client_bytes",
                "server_packets",
                "client_retransmissions",
                "server_dsacks",
            ] {
                let want = match &obj[k] {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                assert_eq!(col(k), want, "{name}: {k}");
            }
            assert_eq!(col("client_saw"), obj["client_saw"]["text"], "{name}");
        }
    }
}

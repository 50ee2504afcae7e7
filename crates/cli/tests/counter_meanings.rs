//! Each counter meaning tcpscope teaches that no lab provokes exactly,
//! provoked here in a private network namespace, its change read back
//! through `tcpscope counters --json` (the docs' counter table names these
//! tests; the labs cover the rest, checked in lab_cli.rs).

mod common;
use common::privileged;

use std::collections::HashMap;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_tcpscope");

/// Run `script` in a new network namespace, in a fresh directory.
fn in_new_netns(name: &str, script: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tcpscope-cm-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new("unshare")
        .args(["--net", "sh", "-c", script])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// nstat name -> value, from one `counters -az --json` file.
fn values(dir: &std::path::Path, file: &str) -> HashMap<String, i64> {
    std::fs::read_to_string(dir.join(file))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|v| Some((v["nstat"].as_str()?.to_string(), v["value"].as_i64()?)))
        .collect()
}

/// The change of each counter between two files.
fn deltas(dir: &std::path::Path, before: &str, after: &str) -> impl Fn(&str) -> i64 {
    let (b, a) = (values(dir, before), values(dir, after));
    move |name: &str| a.get(name).copied().unwrap_or(0) - b.get(name).copied().unwrap_or(0)
}

/// A pair of connected sockets on loopback and the close under test, in Python
/// (the socket options SO_LINGER and TCP_LINGER2 as an application sets them).
const ABORTS: &str = r#"
import socket, struct, sys, time
def pair(port):
    l = socket.socket(); l.bind(("127.0.0.1", port)); l.listen(8)
    c = socket.create_connection(("127.0.0.1", port)); s, _ = l.accept()
    return l, c, s
case = sys.argv[1]
if case == "linger0":
    l, c, s = pair(9601)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); s.close()
elif case == "linger0-unread":
    l, c, s = pair(9602); c.send(b"x"); time.sleep(0.05)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); s.close()
elif case == "unread":
    l, c, s = pair(9603); c.send(b"x"); time.sleep(0.05); s.close()
elif case == "linger2":
    l, c, s = pair(9604)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_LINGER2, -1)
    c.shutdown(socket.SHUT_WR); time.sleep(0.1); c.close()
time.sleep(0.2)
"#;

#[test]
fn aborts_name_the_close_that_made_them() {
    if !privileged("aborts_name_the_close_that_made_them") {
        return;
    }
    let cases = ["linger0", "linger0-unread", "unread", "linger2"];
    let mut script = format!("set -e; ip link set lo up; cat > aborts.py <<'PY'\n{ABORTS}\nPY\n");
    for c in cases {
        script.push_str(&format!(
            "{BIN} counters -az --json > before-{c}.json; python3 aborts.py {c}; {BIN} counters -az --json > after-{c}.json\n"
        ));
    }
    let dir = in_new_netns("aborts", &script);
    let d = |c: &str| {
        deltas(
            &dir,
            &format!("before-{c}.json"),
            &format!("after-{c}.json"),
        )
    };
    // SO_LINGER 0 with nothing unread: TCPAbortOnData, not TCPAbortOnLinger;
    // both ends leave ESTABLISHED for CLOSED.
    let l0 = d("linger0");
    assert_eq!(
        (
            l0("TcpExtTCPAbortOnData"),
            l0("TcpExtTCPAbortOnLinger"),
            l0("TcpExtTCPAbortOnClose")
        ),
        (1, 0, 0)
    );
    assert_eq!((l0("TcpEstabResets"), l0("TcpOutRsts")), (2, 1));
    // Unread data decides, with or without SO_LINGER 0: TCPAbortOnClose.
    for c in ["linger0-unread", "unread"] {
        let x = d(c);
        assert_eq!(
            (x("TcpExtTCPAbortOnClose"), x("TcpExtTCPAbortOnData")),
            (1, 0),
            "{c}"
        );
    }
    // TCPAbortOnLinger: close() in FIN-WAIT-2 with TCP_LINGER2 negative.
    let l2 = d("linger2");
    assert_eq!(
        (
            l2("TcpExtTCPAbortOnLinger"),
            l2("TcpExtTCPAbortOnData"),
            l2("TcpOutRsts")
        ),
        (1, 0, 1)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn listen_overflows_count_dropped_syns() {
    if !privileged("listen_overflows_count_dropped_syns") {
        return;
    }
    // Backlog 1: the accept queue holds 2. Two connections fill it; the third
    // client's SYN and its retransmissions find it full and are dropped.
    let script = format!(
        "set -e; ip link set lo up; \
         {BIN} server 127.0.0.1:9500 --no-accept --backlog 1 --duration 6s >/dev/null 2>&1 & sleep 0.3; \
         {BIN} client 127.0.0.1:9500 --count 2 --concurrency 2 --hold 5s >/dev/null 2>&1 & sleep 0.5; \
         {BIN} counters -az --json > before.json; \
         {BIN} client 127.0.0.1:9500 --connect-timeout 2500ms > third.txt 2>&1 || true; \
         {BIN} counters -az --json > after.json; wait"
    );
    let dir = in_new_netns("overflow-syn", &script);
    let d = deltas(&dir, "before.json", "after.json");
    let syns = 1 + d("TcpExtTCPSynRetrans");
    assert!(syns >= 2, "the third client re-sent its SYN: {syns}");
    assert_eq!(
        d("TcpExtListenOverflows"),
        syns,
        "each SYN dropped counts once"
    );
    assert_eq!(d("TcpExtListenDrops"), syns);
    assert_eq!(d("TcpPassiveOpens"), 0, "no handshake completed");
    // The application gave up (its own connect timeout, then close() in
    // SYN-SENT): the kernel counts no failed attempt for that.
    assert!(std::fs::read_to_string(dir.join("third.txt"))
        .unwrap()
        .contains("timed out"));
    assert_eq!(d("TcpAttemptFails"), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

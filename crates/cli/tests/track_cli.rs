//! `read --explain`, `read --simple`, `read --json`, `conns` and `ladder`
//! as a user runs them, on captures of real kernel traffic.

use std::path::{Path, PathBuf};
use std::process::Command;

fn capture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/captures")
        .join(name)
}

fn run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tcpscope"))
        .args(args)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn explain_puts_each_sides_transitions_under_tcpdumps_lines() {
    let f = capture("client-close.pcap");
    let out = run(&["read", "-n", "--explain", "-r", f.to_str().unwrap()]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].contains("Flags [S], seq"), "{out}");
    assert_eq!(
        lines[1],
        "    conn 1, client → server: client CLOSED → SYN-SENT"
    );
    assert_eq!(
        lines[3],
        "    conn 1, server → client: server LISTEN → SYN-RECEIVED"
    );
    assert!(
        lines[5].starts_with(
            "    conn 1, client → server: client SYN-SENT → ESTABLISHED (handshake RTT "
        ),
        "{out}"
    );
    assert!(
        lines[5].ends_with("; server SYN-RECEIVED → ESTABLISHED (inferred)"),
        "{out}"
    );
    assert!(
        out.contains("client ESTABLISHED → FIN-WAIT-1 (active closer: it will hold TIME-WAIT)"),
        "{out}"
    );
    assert!(
        out.contains("client FIN-WAIT-1 → TIME-WAIT (inferred)")
            || out.contains("client FIN-WAIT-2 → TIME-WAIT (inferred)"),
        "{out}"
    );
    // The tcpdump lines themselves are untouched.
    let plain = run(&["read", "-n", "-r", f.to_str().unwrap()]);
    let kept: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.starts_with("    conn "))
        .collect();
    assert_eq!(kept, plain.lines().collect::<Vec<_>>());
}

#[test]
fn explain_names_the_errors_a_reset_causes() {
    let out = run(&[
        "read",
        "-n",
        "--explain",
        "-r",
        capture("refused.pcap").to_str().unwrap(),
    ]);
    assert!(out.contains("client SYN-SENT → CLOSED (inferred, connect() fails: ECONNREFUSED \"Connection refused\")"), "{out}");
    let out = run(&[
        "read",
        "-n",
        "--explain",
        "-r",
        capture("reset-by-peer.pcap").to_str().unwrap(),
    ]);
    assert!(out.contains("next read fails: ECONNRESET \"Connection reset by peer\"; a later write: EPIPE \"Broken pipe\""), "{out}");
}

#[test]
fn simple_and_json_views() {
    let f = capture("zero-window.pcap");
    let simple = run(&["read", "--simple", "-r", f.to_str().unwrap()]);
    assert!(simple
        .lines()
        .next()
        .unwrap()
        .contains("client        server        analysis"));
    assert!(simple.contains("TCP ZeroWindow"), "{simple}");
    let json = run(&["read", "--json", "-r", f.to_str().unwrap()]);
    let objs: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objs[0]["client_state"], "SYN-SENT");
    assert!(objs.iter().any(|o| o["analysis"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "zero_window")));
    assert_eq!(objs[2]["transitions"][0]["to"], "ESTABLISHED");
}

#[test]
fn conns_in_every_format() {
    let f = capture("client-close.pcap");
    let table = run(&["conns", "-r", f.to_str().unwrap()]);
    assert!(table.lines().next().unwrap().contains("history"));
    assert!(table.lines().nth(1).unwrap().contains(" SF "), "{table}");
    let json: serde_json::Value =
        serde_json::from_str(run(&["conns", "--json", "-r", f.to_str().unwrap()]).trim()).unwrap();
    assert_eq!(json["conn_state"], "SF");
    assert_eq!(json["history"], "ShADadFf");
    assert_eq!(json["time_wait"], "client");
    assert_eq!(json["closed_first"], "client");
    assert_eq!(json["client_bytes"], 5);
    let zeek = run(&["conns", "--format", "zeek", "-r", f.to_str().unwrap()]);
    assert!(zeek.starts_with("#separator \\x09\n"));
    let row = zeek.lines().find(|l| !l.starts_with('#')).unwrap();
    let cols: Vec<&str> = row.split('\t').collect();
    assert_eq!(cols.len(), 21, "{row}");
    assert_eq!(
        (cols[5], cols[6], cols[11], cols[15]),
        ("9300", "tcp", "SF", "ShADadFf")
    );
    let csv = run(&["conns", "--format", "csv", "-r", f.to_str().unwrap()]);
    assert!(csv.starts_with("id,client,server,"));
    let refused: serde_json::Value = serde_json::from_str(
        run(&[
            "conns",
            "--json",
            "-r",
            capture("refused.pcap").to_str().unwrap(),
        ])
        .trim(),
    )
    .unwrap();
    assert_eq!(refused["conn_state"], "REJ");
    assert_eq!(refused["client_saw"]["outcome"], "refused");
    assert_eq!(refused["client_saw"]["errno"], "ECONNREFUSED");
    assert_eq!(
        refused["client_saw"]["text"],
        "ECONNREFUSED (Connection refused) on connect"
    );
}

#[test]
fn ladder_draws_the_handshake_and_the_close() {
    let out = run(&[
        "ladder",
        "-r",
        capture("client-close.pcap").to_str().unwrap(),
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("client 127.0.0.1:"), "{out}");
    assert!(
        lines[1].starts_with("CLOSED") && lines[1].trim_end().ends_with("LISTEN"),
        "{out}"
    );
    assert!(
        lines[2].starts_with("SYN-SENT")
            && lines[2].contains("SYN seq 0")
            && lines[2].contains("▶"),
        "{out}"
    );
    assert!(
        lines[3].contains("◀") && lines[3].contains("SYN-RECEIVED"),
        "{out}"
    );
    assert!(out.contains("TIME-WAIT*"), "{out}");
    // Analysis flags and SACK details close the arrow's line.
    let lossy = run(&[
        "ladder",
        "-r",
        capture("lost-window-update.pcap").to_str().unwrap(),
    ]);
    assert!(
        lossy
            .lines()
            .any(|l| l.contains("◀") && l.ends_with("  [TCP Spurious Retransmission]")),
        "{lossy}"
    );
    assert!(
        lossy.lines().any(|l| l.contains("▶")
            && l.contains("  [TCP Dup ACK #1]  [D-SACK ")
            && l.ends_with(": received twice]")),
        "{lossy}"
    );
    let missing = Command::new(env!("CARGO_BIN_EXE_tcpscope"))
        .args(["ladder", "--conn", "9", "-r"])
        .arg(capture("client-close.pcap"))
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no connection 9"));
}

#[test]
fn ladder_svg_is_a_document_with_an_arrow_per_packet_and_the_states() {
    let f = capture("client-close.pcap");
    let svg = run(&["ladder", "--svg", "-r", f.to_str().unwrap()]);
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    // One arrow per packet, whose hover text is the packet's line as
    // `read --nano` prints it.
    let arrows: Vec<_> = doc
        .descendants()
        .filter(|n| n.attribute("class").is_some_and(|c| c.starts_with("pkt ")))
        .collect();
    let lines = run(&["read", "-n", "--nano", "-r", f.to_str().unwrap()]);
    let lines: Vec<&str> = lines.lines().collect();
    assert_eq!(arrows.len(), lines.len());
    for (a, l) in arrows.iter().zip(&lines) {
        let title = a.children().find(|c| c.has_tag_name("title")).unwrap();
        assert_eq!(title.text(), Some(*l));
        assert!(a.children().any(|c| c.has_tag_name("line")));
    }
    // The states at each lifeline, in order (x < the middle: the client).
    let mut client = Vec::new();
    let mut server = Vec::new();
    for n in doc
        .descendants()
        .filter(|n| n.attribute("class").is_some_and(|c| c.starts_with("state")))
    {
        let x: f64 = n.attribute("x").unwrap().parse().unwrap();
        let t = n.text().unwrap().to_string();
        if x < 450.0 {
            client.push(t);
        } else {
            server.push(t);
        }
    }
    assert_eq!(
        client,
        [
            "CLOSED",
            "SYN-SENT",
            "ESTABLISHED",
            "FIN-WAIT-1",
            "TIME-WAIT*"
        ]
    );
    assert_eq!(
        server,
        [
            "LISTEN",
            "SYN-RECEIVED",
            "ESTABLISHED*",
            "CLOSE-WAIT*",
            "LAST-ACK",
            "CLOSED*"
        ]
    );
    // Analysis flags and D-SACKs are written under their arrows.
    let f = capture("lost-window-update.pcap");
    let svg = run(&["ladder", "--svg", "-r", f.to_str().unwrap()]);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let notes: Vec<_> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("note"))
        .filter_map(|n| n.text())
        .collect();
    assert!(notes.contains(&"TCP Spurious Retransmission"), "{notes:?}");
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("TCP Dup ACK #1 D-SACK ") && n.ends_with(": received twice")),
        "{notes:?}"
    );
}

#[test]
fn diagnose_names_the_refusal_and_what_the_client_saw() {
    let f = capture("refused.pcap");
    let out = run(&["diagnose", "-r", f.to_str().unwrap()]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[2], "1. [error] connections refused: 1 connection",
        "{out}"
    );
    assert!(
        out.contains("client (1x): ECONNREFUSED (Connection refused) on connect"),
        "{out}"
    );
    assert!(out.contains("confirm: ss -ltn on the server"), "{out}");
}

#[test]
fn diagnose_finds_nothing_wrong_in_a_clean_close() {
    for name in ["client-close.pcap", "server-close.pcap", "half-close.pcap"] {
        let f = capture(name);
        let out = run(&["diagnose", "-r", f.to_str().unwrap()]);
        assert!(
            out.lines().nth(1).unwrap().starts_with("no findings"),
            "{name}: {out}"
        );
    }
}

#[test]
fn diagnose_gives_the_cause_of_a_reset_with_its_packet() {
    let f = capture("reset-by-peer.pcap");
    let out = run(&["diagnose", "--json", "-r", f.to_str().unwrap()]);
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["kind"], "reset_abort_linger", "{out}");
    assert_eq!(first["examples"][0]["packets"][0], 8);
    assert_eq!(first["applications"][0]["outcome"], "reset");
    // And the packet it names is the RST.
    let line = run(&["read", "-#", "-r", f.to_str().unwrap()]);
    let rst = line
        .lines()
        .find(|l| l.trim_start().starts_with("8 "))
        .unwrap();
    assert!(rst.contains("Flags [R"), "{rst}");
}

#[test]
fn a_capture_of_one_direction_says_what_it_cannot_tell() {
    // Only the server's packets, as `src port 9300` captures them.
    let f = capture("client-close.pcap");
    let out = run(&["diagnose", "-r", f.to_str().unwrap(), "src", "port", "9300"]);
    assert!(out.contains("captured in one direction only"), "{out}");
    let conns = run(&["conns", "--json", "-r", f.to_str().unwrap()]);
    let c: serde_json::Value = serde_json::from_str(conns.lines().next().unwrap()).unwrap();
    assert_eq!(c["missing_direction"], serde_json::Value::Null);
}

#[test]
fn explain_numbers_packets_as_read_does_when_it_skips_frames_without_tcp() {
    // The corpus capture mixes TCP with other protocols: --explain prints
    // only TCP packets, but -# keeps tcpdump's numbers, which diagnose's
    // packet numbers refer to.
    let f = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/corpus/tcpdump/pcaps/syn-snaplen-cuts.pcap");
    let f = f.to_str().unwrap();
    let plain = run(&["read", "-#", "-r", f]);
    let explained = run(&["read", "-#", "--explain", "-r", f]);
    let mut lines = explained.lines().filter(|l| !l.starts_with("    conn"));
    // Its first TCP packet with whole headers is the 12th frame.
    assert!(
        lines.next().unwrap().trim_start().starts_with("12 "),
        "{explained}"
    );
    for line in lines {
        assert!(plain.lines().any(|p| p == line), "{line}");
    }
}

/// Two captures of different connections in one file (the second's records
/// after the first's, under the first's header).
fn two_connections() -> PathBuf {
    let a = std::fs::read(capture("half-close.pcap")).unwrap();
    let b = std::fs::read(capture("refused.pcap")).unwrap();
    let path = std::env::temp_dir().join(format!("tcpscope-two-{}.pcap", std::process::id()));
    std::fs::write(&path, [&a[..], &b[24..]].concat()).unwrap();
    path
}

#[test]
fn conns_ladder_and_explain_choose_connections_with_a_filter_or_endpoints() {
    let two = two_connections();
    let file = two.to_str().unwrap();
    let all: Vec<serde_json::Value> = run(&["conns", "-r", file, "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(all.len(), 2);
    // A pcap-filter expression on conns, as on read.
    let port = all[1]["client"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let one = run(&["conns", "-r", file, "--json", "port", &port]);
    assert_eq!(one.lines().count(), 1, "{one}");
    assert!(one.contains(all[1]["client"].as_str().unwrap()));
    // The ladder of the second connection, by its endpoints in either order.
    let (c, s) = (
        all[1]["client"].as_str().unwrap(),
        all[1]["server"].as_str().unwrap(),
    );
    let by_id = run(&["ladder", "-r", file, "--conn", "2"]);
    assert_eq!(
        run(&["ladder", "-r", file, "--conn", &format!("{c}-{s}")]),
        by_id
    );
    assert_eq!(
        run(&["ladder", "-r", file, "--conn", &format!("{s}-{c}")]),
        by_id
    );
    // -c draws the first packets only.
    let first = run(&["ladder", "-r", file, "--conn", "1", "-c", "2"]);
    assert_eq!(
        first.lines().filter(|l| l.contains('─')).count(),
        2,
        "{first}"
    );
    // read --explain with an expression.
    let explained = run(&["read", "-r", file, "--explain", "port", &port]);
    assert!(
        !explained.contains(all[0]["client"].as_str().unwrap()),
        "{explained}"
    );
    // A connection that is not there says how to find one.
    let out = Command::new(env!("CARGO_BIN_EXE_tcpscope"))
        .args(["ladder", "-r", file, "--conn", "127.0.0.9:1-127.0.0.9:2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`tcpscope conns -r FILE` lists"));
    std::fs::remove_file(&two).unwrap();
}

#[test]
fn annotated_pcapng_carries_the_explain_lines_for_wireshark() {
    let src = capture("reset-by-peer.pcap");
    let out =
        std::env::temp_dir().join(format!("tcpscope-annotated-{}.pcapng", std::process::id()));
    run(&[
        "read",
        "-r",
        src.to_str().unwrap(),
        "-w",
        out.to_str().unwrap(),
        "--annotate",
    ]);
    // tshark reads each packet's comment: the line read --explain prints under it.
    let t = Command::new("tshark")
        .args([
            "-r",
            out.to_str().unwrap(),
            "-T",
            "fields",
            "-e",
            "frame.comment",
        ])
        .output()
        .unwrap();
    assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
    let comments: Vec<String> = String::from_utf8(t.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let explain = run(&["read", "-r", src.to_str().unwrap(), "--explain"]);
    let mut want = Vec::new();
    for line in explain.lines() {
        if let Some(v) = line.strip_prefix("    ") {
            *want.last_mut().unwrap() = format!("tcpscope: {v}");
        } else {
            want.push(String::new());
        }
    }
    assert_eq!(comments, want);
    assert!(
        comments.iter().any(|c| c.contains("cause: abort on close")),
        "{comments:?}"
    );
    // The packets themselves are unchanged: tcpscope and tcpdump print the same lines.
    let a = run(&["read", "-r", out.to_str().unwrap()]);
    let b = run(&["read", "-r", src.to_str().unwrap()]);
    assert_eq!(a, b);
    std::fs::remove_file(&out).unwrap();
}

#[test]
fn the_svg_ladder_keeps_notes_with_their_arrows_labels_clear_and_pauses_visible() {
    let f = capture("lost-window-update.pcap");
    let svg = run(&["ladder", "--svg", "-r", f.to_str().unwrap()]);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let num = |n: roxmltree::Node, a: &str| -> f64 { n.attribute(a).unwrap().parse().unwrap() };
    let pkts: Vec<_> = doc
        .descendants()
        .filter(|n| n.attribute("class").is_some_and(|c| c.starts_with("pkt ")))
        .collect();
    let mut notes = 0;
    for (i, p) in pkts.iter().enumerate() {
        let line = p.children().find(|c| c.has_tag_name("line")).unwrap();
        let (y1, y2) = (num(line, "y1"), num(line, "y2"));
        let label = p
            .children()
            .find(|c| c.attribute("class") == Some("label"))
            .unwrap();
        // The label sits above the arrow: the sloped line never crosses it.
        assert!(num(label, "y") < y1.min(y2), "packet {i}");
        if let Some(note) = p.children().find(|c| c.attribute("class") == Some("note")) {
            notes += 1;
            let ny = num(note, "y");
            // Under its own arrow's middle, and nearer it than the next
            // packet's label.
            assert!(ny > (y1 + y2) / 2.0, "packet {i}");
            if let Some(next) = pkts.get(i + 1) {
                let nl = next
                    .children()
                    .find(|c| c.attribute("class") == Some("label"))
                    .unwrap();
                assert!(
                    ny - (y1 + y2) / 2.0 < num(nl, "y") - ny,
                    "packet {i}: note at {ny}, next label at {}",
                    num(nl, "y")
                );
            }
        }
    }
    assert!(notes >= 3);
    // Pauses of 50 ms or more are marked with their length, and the times
    // on the right agree with it.
    let gaps: Vec<f64> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("gap"))
        .map(|g| {
            let t = g
                .children()
                .find(|c| c.has_tag_name("text"))
                .unwrap()
                .text()
                .unwrap();
            t.trim_end_matches(" s later").parse().unwrap()
        })
        .collect();
    assert!(!gaps.is_empty());
    assert!(gaps.iter().all(|g| *g >= 0.05), "{gaps:?}");
    let times: Vec<f64> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("time"))
        .filter_map(|n| n.text()?.parse().ok())
        .collect();
    let big: Vec<f64> = times
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d >= 0.05)
        .collect();
    assert_eq!(big.len(), gaps.len());
    for (a, b) in big.iter().zip(&gaps) {
        assert!((a - b).abs() < 0.001, "{a} {b}");
    }
    // A legend for the colours and the star.
    let legend: String = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("legend"))
        .flat_map(|n| n.descendants().filter_map(|c| c.text()))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        legend.contains("RST") && legend.contains("STATE* inferred"),
        "{legend}"
    );
}

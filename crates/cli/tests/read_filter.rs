//! `tcpscope read -r FILE EXPRESSION` prints exactly tcpdump's lines for
//! the packets tcpdump's filter selects (absolute sequence numbers, so
//! each packet's line does not depend on which others were printed).

use std::path::{Path, PathBuf};
use std::process::Command;

fn tests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests")
}

const EXPRESSIONS: &[usize] = &[0, 5, 12, 20, 27, 33, 41, 45, 47, 55, 60, 64, 71, 74, 78];
const APPLICATION_EXCEPTIONS: &[&str] = &[
    "bgp-role",
    "bgp-enhanced-route-refresh-subtype",
    "nfs-write-verf-cookie",
    "pptp",
    "zmtp1",
];

#[test]
fn filtered_output_is_tcpdumps_lines_for_tcpdumps_packets() {
    let exprs: Vec<String> = std::fs::read_to_string(tests().join("filter/expressions.txt"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let answers = std::fs::read_to_string(tests().join("filter/tcpdump.tsv")).unwrap();
    let manifest = std::fs::read_to_string(tests().join("corpus/tcpdump/MANIFEST.tsv")).unwrap();
    let mut checked = 0;
    for line in answers.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.splitn(3, '\t').collect();
        let (i, file, want) = (f[0].parse::<usize>().unwrap(), f[1], f[2]);
        if !EXPRESSIONS.contains(&i) || want.starts_with("ERROR") {
            continue;
        }
        // The nnS expected output of this capture: one line per packet?
        let Some(row) = manifest.lines().find(|l| {
            l.split('\t').nth(1) == Some(&format!("pcaps/{file}"))
                && l.split('\t').nth(2) == Some("nnS")
        }) else {
            continue;
        };
        let case = row.split('\t').next().unwrap();
        if APPLICATION_EXCEPTIONS.contains(&case) {
            continue;
        }
        let expected = std::fs::read_to_string(
            tests()
                .join("corpus/tcpdump/expected")
                .join(format!("{case}.nnS.out")),
        )
        .unwrap();
        let lines: Vec<&str> = expected.lines().collect();
        let packets: usize = row.split('\t').nth(5).unwrap().parse().unwrap();
        if lines.len() != packets {
            continue;
        }
        let selected: Vec<usize> = want
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        let wanted: String = selected
            .iter()
            .map(|n| format!("{}\n", lines[n - 1]))
            .collect();
        let out = Command::new(env!("CARGO_BIN_EXE_tcpscope"))
            .args(["read", "-nn", "-S", "-r"])
            .arg(tests().join("corpus/tcpdump/pcaps").join(file))
            .arg(&exprs[i])
            .env("TZ", "UTC")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{file} '{}': {}",
            exprs[i],
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            wanted,
            "{file} '{}'",
            exprs[i]
        );
        checked += 1;
    }
    println!("filtered reads identical to tcpdump's lines: {checked}");
    assert!(checked > 400, "{checked}");
}

#[test]
fn a_bad_expression_points_at_the_token() {
    let out = Command::new(env!("CARGO_BIN_EXE_tcpscope"))
        .args(["read", "-r"])
        .arg(tests().join("corpus/tcpdump/pcaps/print-flags.pcap"))
        .args([
            "tcp", "and", "port", "80", "and", "(", "ip[2:3]", ">", "1", ")",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err,
        "tcpscope: bad filter expression: size must be 1, 2 or 4, not '3' (column 28)\n  tcp and port 80 and ( ip[2:3] > 1 )\n                             ^\n"
    );
}

#[test]
fn dash_d_prints_the_program() {
    let out = Command::new(env!("CARGO_BIN_EXE_tcpscope"))
        .args(["read", "-d", "-r"])
        .arg(tests().join("corpus/tcpdump/pcaps/print-flags.pcap"))
        .arg("tcp[tcpflags] & tcp-syn != 0")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("(000) ldh      [12]\n(001) jeq      #0x800 "),
        "{text}"
    );
    assert!(text.contains("jset     #0x1fff"), "{text}");
    assert!(text.trim_end().ends_with("ret      #0"), "{text}");
}

#[test]
fn read_w_cuts_the_same_subset_as_tcpdump_r_w() {
    let dir = std::env::temp_dir().join(format!("tcpscope-readw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cap = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/captures/half-close.pcap"
    );
    for (i, expr) in ["", "tcp[tcpflags] & tcp-fin != 0", "dst port 9300", "ip6"]
        .iter()
        .enumerate()
    {
        let (ours, theirs) = (
            dir.join(format!("ours{i}.pcap")),
            dir.join(format!("theirs{i}.pcap")),
        );
        let mut a = vec!["read", "-r", cap, "-w", ours.to_str().unwrap()];
        let mut b = vec!["-r", cap, "-w", theirs.to_str().unwrap()];
        if !expr.is_empty() {
            a.push(expr);
            b.push(expr);
        }
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_tcpscope"))
            .args(&a)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let t = std::process::Command::new("tcpdump")
            .args(&b)
            .output()
            .unwrap();
        assert!(t.status.success());
        assert_eq!(
            std::fs::read(&ours).unwrap(),
            std::fs::read(&theirs).unwrap(),
            "'{expr}'"
        );
    }
    // pcapng on request, which tcpscope and tcpdump read back the same.
    let ng = dir.join("ours.pcapng");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_tcpscope"))
        .args([
            "read",
            "-r",
            cap,
            "-w",
            ng.to_str().unwrap(),
            "--pcapng",
            "tcp",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    let back = std::process::Command::new("tcpdump")
        .args(["-t", "-nn", "-r", ng.to_str().unwrap()])
        .output()
        .unwrap();
    let orig = std::process::Command::new("tcpdump")
        .args(["-t", "-nn", "-r", cap, "tcp"])
        .output()
        .unwrap();
    assert_eq!(back.stdout, orig.stdout);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_expression_no_packet_can_pass_and_a_directory_end_as_tcpdump_ends() {
    let dir = std::env::temp_dir().join(format!("tcpscope-rejects-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A raw-IPv6 capture (LINKTYPE_IPV6, no packets needed): `ip` can match nothing.
    let raw6 = dir.join("raw6.pcap");
    let mut h = Vec::new();
    for v in [0xa1b2_c3d4u32] {
        h.extend_from_slice(&v.to_le_bytes());
    }
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&4u16.to_le_bytes());
    for v in [0u32, 0, 262_144, 229] {
        h.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(&raw6, &h).unwrap();
    let ours = std::process::Command::new(env!("CARGO_BIN_EXE_tcpscope"))
        .args(["read", "-r", raw6.to_str().unwrap(), "ip"])
        .output()
        .unwrap();
    let theirs = std::process::Command::new("tcpdump")
        .args(["-r", raw6.to_str().unwrap(), "ip"])
        .output()
        .unwrap();
    assert_eq!(ours.status.code(), Some(1));
    assert_eq!(theirs.status.code(), Some(1));
    let tail = |o: &std::process::Output| {
        String::from_utf8_lossy(&o.stderr)
            .lines()
            .last()
            .unwrap_or("")
            .replace("tcpdump", "tcpscope")
    };
    assert_eq!(tail(&ours), tail(&theirs));
    // `ip6` on it is fine.
    let ok = std::process::Command::new(env!("CARGO_BIN_EXE_tcpscope"))
        .args(["read", "-r", raw6.to_str().unwrap(), "ip6"])
        .output()
        .unwrap();
    assert!(ok.status.success());
    let d = std::process::Command::new(env!("CARGO_BIN_EXE_tcpscope"))
        .args(["read", "-r", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(d.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&d.stderr).contains("is a directory"));
    std::fs::remove_dir_all(&dir).unwrap();
}

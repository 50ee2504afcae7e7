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

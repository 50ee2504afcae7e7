//! Conformance with tcpdump 4.99.3: every row of the corpus MANIFEST is run
//! through `tcpscope read` with the same arguments and compared byte for
//! byte with tcpdump's output.
//!
//! A few captures carry application protocols that tcpscope does not decode
//! (BGP, NFS, PPTP, PPP, ZMTP). For those, and only those, the application part of
//! a line may be missing: each of our lines must equal tcpdump's line up to
//! the end of the TCP/IP fields, and nothing else may differ. The list is
//! below with its reasons; an entry that is no longer needed fails the test,
//! so the list only shrinks.

use std::path::{Path, PathBuf};
use std::process::Command;

/// (case, why tcpscope prints less than tcpdump for it)
const APPLICATION_EXCEPTIONS: &[(&str, &str)] = &[
    ("bgp-role", "BGP messages (port 179) are not decoded"),
    (
        "bgp-enhanced-route-refresh-subtype",
        "BGP messages (port 179) are not decoded",
    ),
    (
        "nfs-write-verf-cookie",
        "NFS over RPC (port 2049) is not decoded",
    ),
    (
        "pptp",
        "PPTP control messages (port 1723) and the PPP inside GRE are not decoded",
    ),
    ("zmtp1", "ZeroMQ ZMTP/1.0 (-T zmtp1) is not decoded"),
];

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus/tcpdump")
}

struct Row {
    case: String,
    optset: String,
    args: Vec<String>,
    expected: PathBuf,
}

fn manifest() -> Vec<Row> {
    let dir = corpus();
    let text = std::fs::read_to_string(dir.join("MANIFEST.tsv"))
        .expect("MANIFEST.tsv is in the repository");
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            Row {
                case: f[0].to_string(),
                optset: f[2].to_string(),
                args: f[3].split_whitespace().map(String::from).collect(),
                expected: dir.join(f[4]),
            }
        })
        .collect()
}

fn run(args: &[String]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_tcpscope"))
        .arg("read")
        .args(args)
        .current_dir(corpus())
        .env("TZ", "UTC")
        .env("LC_ALL", "C")
        .output()
        .expect("tcpscope runs");
    assert!(
        out.status.success(),
        "tcpscope read {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The TCP/IP part agrees: same packet lines, ours a prefix of tcpdump's
/// that stops where the application part starts.
fn transport_part_matches(ours: &str, theirs: &str) -> Result<(), String> {
    // Continuation lines of application decoders start with a tab.
    let keep = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with('\t'))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let (a, b) = (keep(ours), keep(theirs));
    if a.len() != b.len() {
        return Err(format!("{} lines, tcpdump has {}", a.len(), b.len()));
    }
    for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
        if x == y {
            continue;
        }
        let rest = y
            .strip_prefix(x.as_str())
            .ok_or_else(|| format!("line {}: ours {x:?}\n tcpdump {y:?}", i + 1))?;
        if !(rest.starts_with(':') || rest.starts_with(' ')) {
            return Err(format!(
                "line {}: cut inside a field: {x:?} vs {y:?}",
                i + 1
            ));
        }
    }
    Ok(())
}

#[test]
fn every_manifest_row_matches_tcpdump() {
    let rows = manifest();
    assert!(
        rows.len() > 300,
        "the corpus manifest has {} rows",
        rows.len()
    );
    let mut identical = 0;
    let mut excepted = 0;
    let mut failures = Vec::new();
    let mut needed: Vec<&str> = Vec::new();
    for row in &rows {
        let ours = run(&row.args);
        let theirs = std::fs::read(&row.expected).unwrap();
        if ours == theirs {
            identical += 1;
            continue;
        }
        let label = format!("{} {}", row.case, row.optset);
        if let Some((case, _)) = APPLICATION_EXCEPTIONS.iter().find(|(c, _)| *c == row.case) {
            needed.push(case);
            match transport_part_matches(
                &String::from_utf8_lossy(&ours),
                &String::from_utf8_lossy(&theirs),
            ) {
                Ok(()) => excepted += 1,
                Err(e) => failures.push(format!(
                    "{label} (excepted for its application part, but): {e}"
                )),
            }
            continue;
        }
        let first_diff = String::from_utf8_lossy(&ours)
            .lines()
            .zip(String::from_utf8_lossy(&theirs).lines())
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .map(|(i, (a, b))| format!("line {}:\n  ours:    {a}\n  tcpdump: {b}", i + 1))
            .unwrap_or_else(|| "outputs differ in length".to_string());
        failures.push(format!("{label}: {first_diff}"));
    }
    let stale: Vec<_> = APPLICATION_EXCEPTIONS
        .iter()
        .filter(|(c, _)| !needed.contains(c))
        .map(|(c, _)| *c)
        .collect();
    println!("identical {identical} of {}", rows.len());
    println!(
        "application-layer exceptions: {excepted} rows in {} captures",
        APPLICATION_EXCEPTIONS.len()
    );
    for (case, why) in APPLICATION_EXCEPTIONS {
        println!("  {case}: {why}");
    }
    assert!(
        stale.is_empty(),
        "exceptions no longer needed, remove them: {stale:?}"
    );
    assert!(
        failures.is_empty(),
        "{} rows differ from tcpdump:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(identical + excepted, rows.len());
}

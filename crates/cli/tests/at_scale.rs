//! Beyond one file: several captures in parallel, rotated sets read as
//! one stream, Parquet records queried by DuckDB and by Apache Spark, and
//! Zeek's conn.log read by zat (Zeek's log reader for Python). The sets
//! are cut from the project's real captures by editcap, as a capture ring
//! would leave them; the numbers are checked against tshark's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_tcpscope");

fn captures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/captures")
}

fn tcpscope(args: &[&str]) -> Output {
    let out = Command::new(BIN).args(args).output().expect("run tcpscope");
    out
}

fn ok(args: &[&str]) -> String {
    let out = tcpscope(args);
    assert!(
        out.status.success(),
        "tcpscope {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tcpscope-at-scale-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// Cut `capture` into pieces of `packets` packets with editcap, into `dir`
/// (names ring_00000_<time>.pcap, ...).
fn cut(capture: &str, packets: u32, dir: &Path) -> Vec<PathBuf> {
    let st = Command::new("editcap")
        .arg("-c")
        .arg(packets.to_string())
        .arg(captures().join(capture))
        .arg(dir.join("ring.pcap"))
        .status()
        .expect("editcap (installed with tshark by scripts/install-deps.sh)");
    assert!(st.success());
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The `source_file` of each JSON line.
fn source_files(jsonl: &str) -> Vec<String> {
    jsonl
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["source_file"].as_str().unwrap().to_string()
        })
        .collect()
}

/// CSV rows without the last column (source_file).
fn without_source(csv: &str) -> Vec<String> {
    csv.lines()
        .map(|l| l.rsplit_once(',').map_or(l, |(a, _)| a).to_string())
        .collect()
}

#[test]
fn a_rotated_set_is_one_stream_whatever_the_order_of_its_names() {
    let dir = scratch("ring");
    let pieces = cut("loss-after-capture.pcap", 8, &dir);
    assert_eq!(pieces.len(), 4, "31 packets in pieces of 8");
    let whole = captures().join("loss-after-capture.pcap");
    let whole = whole.to_str().unwrap();
    let pattern = format!("{}/*.pcap", dir.display());

    // One connection, as in the whole file, from a glob.
    let joined = ok(&["conns", "-r", &pattern, "--format", "csv"]);
    let alone = ok(&["conns", "-r", whole, "--format", "csv"]);
    assert_eq!(without_source(&joined), without_source(&alone));
    assert!(
        joined.lines().nth(1).unwrap().contains("ring_00000_"),
        "{joined}"
    );

    // tcpdump's lines of the set are the whole file's lines, numbered on.
    assert_eq!(
        ok(&["read", "-#", "-r", &pattern]),
        ok(&["read", "-#", "-r", whole])
    );

    // A ring that wrapped: the newest piece has the lowest number. The
    // pieces are read by time, not by name.
    let names = ["ring.pcap2", "ring.pcap3", "ring.pcap0", "ring.pcap1"];
    for (p, n) in pieces.iter().zip(names) {
        std::fs::rename(p, dir.join(n)).unwrap();
    }
    let wrapped = ok(&[
        "conns",
        "-r",
        &format!("{}/ring.pcap*", dir.display()),
        "--format",
        "csv",
    ]);
    assert_eq!(without_source(&wrapped), without_source(&alone));
    assert!(wrapped.contains("ring.pcap2"), "{wrapped}");

    // --separate: four captures, each connection cut.
    let separate = ok(&[
        "conns",
        "-r",
        &format!("{}/ring.pcap*", dir.display()),
        "--separate",
        "--format",
        "json",
    ]);
    let files = source_files(&separate);
    assert_eq!(files.len(), 4, "{separate}");
    assert!(
        files[0].ends_with("ring.pcap0"),
        "in the order given (glob: by name): {files:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn files_that_overlap_in_time_are_separate_captures_and_say_so() {
    let dir = scratch("overlap");
    for n in ["web1.pcap", "web2.pcap"] {
        std::fs::copy(captures().join("reset-by-peer.pcap"), dir.join(n)).unwrap();
    }
    let out = tcpscope(&[
        "conns",
        "-r",
        &format!("{}/web*.pcap", dir.display()),
        "--json",
    ]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("their times overlap"), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    // Declared as one capture, the copy's packets are retransmissions of
    // the same connection.
    let one = ok(&[
        "conns",
        "-r",
        &format!("{}/web*.pcap", dir.display()),
        "--one-capture",
        "--json",
    ]);
    assert_eq!(one.lines().count(), 1, "{one}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn parallel_runs_print_the_same_bytes_in_the_order_given() {
    let files: Vec<String> = [
        "zero-window.pcap",
        "refused.pcap",
        "loss-before-capture.pcap",
        "ipv6.pcap",
        "keepalive.pcap",
    ]
    .iter()
    .map(|f| captures().join(f).display().to_string())
    .collect();
    let mut args = vec!["read".to_string(), "--json".to_string()];
    for f in &files {
        args.push("-r".into());
        args.push(f.clone());
    }
    let serial: Vec<&str> = args.iter().map(String::as_str).chain(["-j", "1"]).collect();
    let parallel: Vec<&str> = args.iter().map(String::as_str).chain(["-j", "4"]).collect();
    let a = ok(&serial);
    assert_eq!(a, ok(&parallel));
    // Each file's packets in turn, as read alone.
    let mut expected = String::new();
    for f in &files {
        expected.push_str(&ok(&["read", "--json", "-r", f]));
    }
    assert_eq!(a, expected);
    let order = source_files(&a);
    let mut firsts = order.clone();
    firsts.dedup();
    assert_eq!(firsts, files);

    // diagnose: one report per capture, in order.
    let mut d = vec!["diagnose"];
    for f in &files {
        d.extend(["-r", f.as_str()]);
    }
    let text = ok(&d);
    let heads: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("tcpscope diagnose: "))
        .collect();
    assert_eq!(heads.len(), files.len(), "{text}");
    assert!(heads[1].contains("refused.pcap"), "{heads:?}");
}

/// Sums of IP lengths per direction from tshark: (client, server).
fn tshark_ip_bytes(capture: &Path) -> (u64, u64) {
    let out = Command::new("tshark")
        .args(["-r"])
        .arg(capture)
        .args([
            "-Y",
            "tcp",
            "-T",
            "fields",
            "-e",
            "tcp.srcport",
            "-e",
            "ip.len",
            "-e",
            "ipv6.plen",
        ])
        .output()
        .expect("tshark");
    let text = String::from_utf8(out.stdout).unwrap();
    let (mut client, mut server, mut client_port) = (0, 0, None);
    for l in text.lines() {
        let f: Vec<&str> = l.split('\t').collect();
        let len: u64 = match (f[1], f.get(2).copied().unwrap_or("")) {
            ("", v6) => v6.parse::<u64>().unwrap() + 40,
            (v4, _) => v4.parse().unwrap(),
        };
        // The first packet is the client's SYN in these captures.
        let port = client_port.get_or_insert(f[0].to_string()).clone();
        if f[0] == port {
            client += len;
        } else {
            server += len;
        }
    }
    (client, server)
}

#[test]
fn zeeks_log_is_read_by_zat_with_the_ip_bytes_tshark_counts() {
    let dir = scratch("zeek");
    let names = [
        "client-close.pcap",
        "ipv6.pcap",
        "refused.pcap",
        "loss-after-capture.pcap",
    ];
    let mut args = vec!["conns".to_string(), "--format".into(), "zeek".into()];
    for n in names {
        args.push("-r".into());
        args.push(captures().join(n).display().to_string());
    }
    let log = ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let path = dir.join("conn.log");
    std::fs::write(&path, &log).unwrap();
    // zat parses the header (#separator, #fields, #types) and types each column.
    let rows = python(
        "import sys, json\nfrom zat import zeek_log_reader\nr = zeek_log_reader.ZeekLogReader(sys.argv[1])\nfor row in r.readrows():\n    print(json.dumps({k: str(v) for k, v in row.items()}))",
        &[path.to_str().unwrap()],
    );
    let rows: Vec<serde_json::Value> = rows
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), names.len());
    for (row, n) in rows.iter().zip(names) {
        let (c, s) = tshark_ip_bytes(&captures().join(n));
        assert_eq!(row["orig_ip_bytes"], c.to_string(), "{n}: {row}");
        assert_eq!(row["resp_ip_bytes"], s.to_string(), "{n}: {row}");
        assert_ne!(row["ts"], "-", "{row}");
    }
    assert!(
        log.contains("\n#open\t2026-"),
        "Zeek's own time format: {log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The question both engines answer: connections reset by the server, by
/// cause, per host, as `host|cause|count` lines in order.
const QUESTION: &str = "select host, rst_cause, count(*) as n from conns where reset_by = 'server' group by host, rst_cause order by host, rst_cause";

/// Write Parquet from real captures of two "hosts" (two runs into one
/// partitioned directory, as two cluster tasks would) and one file of
/// all; returns (dir, file, the JSON rows per host).
fn parquet_fixture(
    name: &str,
) -> (
    PathBuf,
    PathBuf,
    PathBuf,
    BTreeMap<&'static str, Vec<serde_json::Value>>,
) {
    let root = scratch(name);
    let hosts: [(&str, &[&str]); 2] = [
        (
            "web1",
            &[
                "reset-by-peer.pcap",
                "refused.pcap",
                "client-close.pcap",
                "zero-window.pcap",
            ],
        ),
        (
            "web2",
            &[
                "rst-linger0.pcap",
                "refused.pcap",
                "ipv6.pcap",
                "loss-before-capture.pcap",
            ],
        ),
    ];
    let dir = root.join("conns");
    let mut json = BTreeMap::new();
    let mut singles = Vec::new();
    for (host, files) in hosts {
        let mut args = vec!["conns".to_string(), "--host".into(), host.into()];
        for f in files {
            args.push("-r".into());
            args.push(captures().join(f).display().to_string());
        }
        let mut p = args.clone();
        p.extend(
            [
                "--format",
                "parquet",
                "-o",
                dir.to_str().unwrap(),
                "--partition-by",
                "date,host",
            ]
            .map(String::from),
        );
        ok(&p.iter().map(String::as_str).collect::<Vec<_>>());
        let mut single = args.clone();
        let file = root.join(format!("{host}.parquet"));
        single.extend(["--format", "parquet", "-o", file.to_str().unwrap()].map(String::from));
        ok(&single.iter().map(String::as_str).collect::<Vec<_>>());
        singles.push(file);
        let mut j = args.clone();
        j.push("--json".into());
        let rows = ok(&j.iter().map(String::as_str).collect::<Vec<_>>())
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        json.insert(host, rows);
    }
    (root, dir, singles[0].clone(), json)
}

fn expected_answer(json: &BTreeMap<&str, Vec<serde_json::Value>>) -> String {
    let mut count: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (host, rows) in json {
        for r in rows {
            if r["reset_by"] == "server" {
                *count
                    .entry((
                        host.to_string(),
                        r["rst_cause"].as_str().unwrap().to_string(),
                    ))
                    .or_default() += 1;
            }
        }
    }
    count
        .iter()
        .map(|((h, c), n)| format!("{h}|{c}|{n}\n"))
        .collect()
}

#[test]
fn duckdb_reads_the_parquet_records_and_agrees_with_the_json() {
    let (root, dir, web1, json) = parquet_fixture("duckdb");
    let answer = expected_answer(&json);
    assert!(
        answer.lines().count() >= 3,
        "the captures hold server resets of several causes: {answer}"
    );
    let script = r#"
import sys, duckdb
root, web1, question = sys.argv[1], sys.argv[2], sys.argv[3]
con = duckdb.connect()
con.execute(f"create view conns as select * from read_parquet('{root}/**/*.parquet', hive_partitioning = true)")
for r in con.execute(question).fetchall():
    print("answer", "|".join(str(v) for v in r))
n, bytes_, ip = con.execute(f"select count(*), sum(client_bytes + server_bytes), sum(client_ip_bytes) from read_parquet('{web1}')").fetchone()
print("web1", n, bytes_, ip)
for name, typ in con.execute(f"select column_name, column_type from (describe select * from read_parquet('{web1}'))").fetchall():
    print("type", name, typ)
print("dates", con.execute("select distinct cast(date as varchar) from conns").fetchall()[0][0])
"#;
    let out = python(
        script,
        &[dir.to_str().unwrap(), web1.to_str().unwrap(), QUESTION],
    );
    let got: String = out
        .lines()
        .filter_map(|l| l.strip_prefix("answer "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(got, answer);
    let w: Vec<u64> = json["web1"]
        .iter()
        .map(|r| r["client_bytes"].as_u64().unwrap() + r["server_bytes"].as_u64().unwrap())
        .collect();
    let ip: u64 = json["web1"]
        .iter()
        .map(|r| r["client_ip_bytes"].as_u64().unwrap())
        .sum();
    assert!(
        out.contains(&format!(
            "web1 {} {} {ip}\n",
            w.len(),
            w.iter().sum::<u64>()
        )),
        "{out}"
    );
    for (col, typ) in [
        ("ts", "TIMESTAMP WITH TIME ZONE"),
        ("duration_s", "DOUBLE"),
        ("client_port", "INTEGER"),
        ("client_bytes", "BIGINT"),
        ("rst_cause", "VARCHAR"),
        ("roles_guessed", "BOOLEAN"),
    ] {
        assert!(out.contains(&format!("type {col} {typ}\n")), "{col}: {out}");
    }
    let first = json["web1"][0]["ts"].as_f64().unwrap();
    let date = Command::new("date")
        .args(["-u", "-d", &format!("@{}", first as i64), "+%Y-%m-%d"])
        .output()
        .unwrap();
    assert!(
        out.contains(&format!(
            "dates {}",
            String::from_utf8_lossy(&date.stdout).trim()
        )),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn spark_reads_the_partitioned_directory_and_answers_the_same_question() {
    let (root, dir, _, json) = parquet_fixture("spark");
    let script = r#"
import sys
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[2]").appName("tcpscope-test")
         .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC")
         .getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
spark.read.parquet(sys.argv[1]).createOrReplaceTempView("conns")
for r in spark.sql(sys.argv[2]).collect():
    print("answer", "|".join(str(v) for v in r))
print("rows", spark.sql("select count(*) from conns").collect()[0][0])
spark.stop()
"#;
    let out = python(script, &[dir.to_str().unwrap(), QUESTION]);
    let got: String = out
        .lines()
        .filter_map(|l| l.strip_prefix("answer "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(got, expected_answer(&json));
    let rows: usize = json.values().map(Vec::len).sum();
    assert!(out.contains(&format!("rows {rows}\n")), "{out}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn packet_records_carry_the_explain_fields_of_read_json() {
    let dir = scratch("packets");
    let file = dir.join("p.parquet");
    let capture = captures().join("reset-by-peer.pcap");
    let capture = capture.to_str().unwrap();
    ok(&[
        "read",
        "-r",
        capture,
        "--format",
        "parquet",
        "-o",
        file.to_str().unwrap(),
    ]);
    let json: Vec<serde_json::Value> = ok(&["read", "-r", capture, "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let out = python(
        r#"
import sys, duckdb
for r in duckdb.sql(f"select n, flags, client_state, server_state, rst_cause, len(transitions), len(analysis), source_file from read_parquet('{sys.argv[1]}') order by n").fetchall():
    print("|".join("" if v is None else str(v) for v in r))
"#,
        &[file.to_str().unwrap()],
    );
    let expected: String = json
        .iter()
        .map(|p| {
            format!(
                "{}|{}|{}|{}|{}|{}|{}|{}\n",
                p["n"],
                p["flags"].as_str().unwrap(),
                p["client_state"].as_str().unwrap(),
                p["server_state"].as_str().unwrap(),
                p["rst"]["cause"].as_str().unwrap_or(""),
                p["transitions"].as_array().unwrap().len(),
                p["analysis"].as_array().unwrap().len(),
                capture
            )
        })
        .collect();
    assert_eq!(out, expected);
    assert!(out.contains("abort_linger"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_uses_say_what_is_wrong() {
    let f = captures().join("refused.pcap");
    let f = f.to_str().unwrap();
    let out = tcpscope(&["conns", "-r", f, "--format", "parquet"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-o FILE"));
    let out = tcpscope(&[
        "conns",
        "-r",
        f,
        "--format",
        "parquet",
        "-o",
        "/tmp/x",
        "--partition-by",
        "day",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown key 'day' (known: date, host)"));
    let out = tcpscope(&["conns", "-r", "/nonexistent/dir/*.pcap"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no file matches the pattern"));
    let out = tcpscope(&["read", "-r", f, "-r", f, "-w", "/tmp/x.pcap"]);
    assert_eq!(out.status.code(), Some(2));
}

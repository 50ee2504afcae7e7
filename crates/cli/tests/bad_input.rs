//! What a user sees when the input is not a good capture: a clear message,
//! a meaningful exit status, and every readable packet printed first.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus/tcpdump")
}

fn tcpscope(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tcpscope"))
        .args(args)
        .env("TZ", "UTC")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(data) = stdin {
        child.stdin.take().unwrap().write_all(data).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tcpscope-bad-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn pcap_header(snaplen: u32, linktype: u32) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&4u16.to_le_bytes());
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&snaplen.to_le_bytes());
    h.extend_from_slice(&linktype.to_le_bytes());
    h
}

fn record(sec: u32, caplen: u32, len: u32, data: &[u8]) -> Vec<u8> {
    let mut r = Vec::new();
    for v in [sec, 0, caplen, len] {
        r.extend_from_slice(&v.to_le_bytes());
    }
    r.extend_from_slice(data);
    r
}

#[test]
fn a_file_that_is_not_a_capture_is_named_as_such() {
    let p = scratch("notes.txt", b"this is not a capture file\n");
    let o = tcpscope(&["read", "-r", p.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert_eq!(
        stderr(&o),
        format!("tcpscope: {}: not a pcap or pcapng file\n", p.display())
    );
}

#[test]
fn an_empty_file_is_not_a_capture() {
    let p = scratch("empty.pcap", b"");
    let o = tcpscope(&["read", "-r", p.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).ends_with("empty: no capture file header (0 bytes)\n"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_missing_file_says_so() {
    let o = tcpscope(&["read", "-r", "/nonexistent/trace.pcap"], None);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "tcpscope: /nonexistent/trace.pcap: No such file or directory\n"
    );
}

#[test]
fn a_truncated_file_prints_every_complete_record_then_says_where_it_is_cut() {
    let full = std::fs::read(corpus().join("pcaps/print-flags.pcap")).unwrap();
    // Records: 24-byte file header, then 16-byte header + data each. Cut the
    // fifth record in the middle of its data.
    let mut off = 24;
    let mut starts = Vec::new();
    while off < full.len() {
        starts.push(off);
        let caplen = u32::from_le_bytes(full[off + 8..off + 12].try_into().unwrap()) as usize;
        off += 16 + caplen;
    }
    let cut = starts[4] + 16 + 10;
    let p = scratch("cut.pcap", &full[..cut]);
    let o = tcpscope(&["read", "-n", "-r", p.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(1));
    let expected = std::fs::read_to_string(corpus().join("expected/print-flags.n.out")).unwrap();
    let first4: String = expected.lines().take(4).map(|l| format!("{l}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&o.stdout), first4);
    let err = stderr(&o);
    let needed = 16 + u32::from_le_bytes(full[starts[4] + 8..starts[4] + 12].try_into().unwrap());
    assert!(
        err.contains(&format!(
            "truncated capture: record 5 at byte offset {} needs {needed} bytes, only 26 remain (after 4 complete packets)",
            starts[4]
        )),
        "{err}"
    );
}

#[test]
fn a_file_cut_inside_a_record_header_is_reported_too() {
    let full = std::fs::read(corpus().join("pcaps/print-flags.pcap")).unwrap();
    let p = scratch("cut-header.pcap", &full[..24 + 7]);
    let o = tcpscope(&["read", "-r", p.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("record 1 at byte offset 24 needs 16 bytes, only 7 remain"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn zero_length_and_inconsistent_records_are_shown_and_reading_goes_on() {
    let ip = [
        0x45u8, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    let mut f = pcap_header(65535, 101);
    f.extend(record(1, 0, 0, &[]));
    f.extend(record(2, 20, 10, &ip));
    f.extend(record(3, 20, 20, &ip));
    let p = scratch("odd-records.pcap", &f);
    let o = tcpscope(&["read", "-t", "-r", p.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "[Invalid header: caplen==0, len==0]\n[Invalid header: len(10) < caplen(20)]\nIP 10.0.0.1 > 10.0.0.2: [|tcp]\n"
    );
}

#[test]
fn a_caplen_beyond_the_snaplen_is_cut_to_it_with_a_warning() {
    let ip = [
        0x45u8, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0, 80, 0, 81, 0, 0, 0,
        1, 0, 0, 0, 0, 0x50, 2, 1, 0, 0, 0, 0, 0,
    ];
    let mut f = pcap_header(30, 101);
    f.extend(record(1, 40, 40, &ip));
    let p = scratch("over-snaplen.pcap", &f);
    let o = tcpscope(&["read", "-t", "-r", p.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "IP 10.0.0.1.80 > 10.0.0.2.81:  [|tcp]\n"
    );
    assert!(
        stderr(&o).contains("1 record(s) claimed more bytes than the file's snapshot length"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_absurd_caplen_stops_reading_with_the_offset() {
    let mut f = pcap_header(65535, 1);
    f.extend(record(1, 0x7fff_0000, 60, &[0; 60]));
    let p = scratch("absurd.pcap", &f);
    let o = tcpscope(&["read", "-r", p.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("corrupt capture at byte offset 24: record claims 2147418112 captured bytes, more than the maximum of 262144"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_absurd_pcapng_block_length_is_reported_after_the_good_blocks() {
    let mut f = std::fs::read(corpus().join("pcaps/local-lo-ipv4.pcapng")).unwrap();
    // A block claiming 3 GB.
    let at = f.len() as u64;
    f.extend_from_slice(&6u32.to_le_bytes());
    f.extend_from_slice(&0xc000_0000u32.to_le_bytes());
    f.extend_from_slice(&[0; 24]);
    let p = scratch("absurd.pcapng", &f);
    let o = tcpscope(&["read", "-n", "-r", p.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(1));
    let expected = std::fs::read(corpus().join("expected/local-lo-ipv4-ng.n.out")).unwrap();
    assert_eq!(o.stdout, expected);
    assert!(
        stderr(&o).contains(&format!(
            "corrupt capture at byte offset {at}: block length 3221225472 is impossible"
        )),
        "{}",
        stderr(&o)
    );
}

#[test]
fn standard_input_reads_the_same_as_the_file() {
    for name in [
        "print-flags.pcap",
        "syn-pcapng-2if-nsec.pcapng",
        "syn-pcap-bigendian.pcap",
    ] {
        let data = std::fs::read(corpus().join("pcaps").join(name)).unwrap();
        let path = corpus().join("pcaps").join(name);
        let from_file = tcpscope(&["read", "-n", "-r", path.to_str().unwrap()], None);
        let from_stdin = tcpscope(&["read", "-n", "-r", "-"], Some(&data));
        assert_eq!(from_stdin.status.code(), Some(0), "{}", stderr(&from_stdin));
        assert_eq!(from_file.stdout, from_stdin.stdout, "{name}");
    }
}

#[test]
fn count_limits_the_packets_printed() {
    let path = corpus().join("pcaps/print-flags.pcap");
    let o = tcpscope(
        &["read", "-n", "-c", "3", "-r", path.to_str().unwrap()],
        None,
    );
    let expected = std::fs::read_to_string(corpus().join("expected/print-flags.n.out")).unwrap();
    let first3: String = expected.lines().take(3).map(|l| format!("{l}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&o.stdout), first3);
}

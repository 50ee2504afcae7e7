//! `tcpscope report` rendered in a real browser: headless Chromium (Debian's
//! package, installed by scripts/install-deps.sh) loads the page from a
//! file, runs its script, and the tests read the DOM it ends with, its
//! console, and a screenshot.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_tcpscope");

fn capture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/captures")
            .join(name),
    )
    .unwrap()
}

/// Three real connections in one file: a zero-window transfer with
/// retransmissions, a half-close and a refusal.
fn three(dir: &Path) -> PathBuf {
    let (a, b, c) = (
        capture("zero-window.pcap"),
        capture("half-close.pcap"),
        capture("refused.pcap"),
    );
    let path = dir.join("three.pcap");
    std::fs::write(&path, [&a[..], &b[24..], &c[24..]].concat()).unwrap();
    path
}

/// Chromium headless on `url`: (the DOM after scripts ran, stderr).
fn chromium(dir: &Path, url: &str, extra: &[&str]) -> (String, String) {
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("chromium (scripts/install-deps.sh installs it)");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_report_renders_in_chromium_with_its_table_graphs_and_marks() {
    let dir = std::env::temp_dir().join(format!("tcpscope-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cap = three(&dir);
    let page = dir.join("report.html");
    let o = Command::new(BIN)
        .args([
            "report",
            "-r",
            cap.to_str().unwrap(),
            "-o",
            page.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: no stylesheet, script or image to fetch.
    for outside in [
        "<link",
        "<script src",
        "<img",
        "src=\"http",
        "href=\"http",
        "url(http",
    ] {
        assert!(!html.contains(outside), "{outside}");
    }
    let url = format!("file://{}", page.display());
    let (dom, log) = chromium(&dir, &url, &["--dump-dom"]);
    assert!(
        dom.contains("<table class=\"sortable\" id=\"conns\">"),
        "{log}"
    );
    let rows = dom
        .split("<tbody>")
        .nth(1)
        .unwrap()
        .split("</tbody>")
        .next()
        .unwrap();
    assert_eq!(rows.matches("<tr>").count(), 3, "{rows}");
    // One time-sequence graph (and the others) per connection, with the
    // retransmissions and zero windows this capture has marked.
    assert_eq!(dom.matches("<svg class=\"tsg\"").count(), 3);
    assert_eq!(dom.matches("<svg class=\"rtt\"").count(), 3);
    assert!(dom.contains("class=\"seg retrans\""));
    assert!(dom.contains("class=\"zwin\""));
    assert!(dom.contains("id=\"diagnosis\"") && dom.contains("zero"));
    // No script error in the console.
    assert!(!log.contains("Uncaught"), "{log}");
    // Sorted by duration, longest first, from the address: the zero-window
    // transfer (3 s) leads.
    let (sorted, _) = chromium(&dir, &format!("{url}#sort=-3"), &["--dump-dom"]);
    let first = sorted
        .split("<tbody>")
        .nth(1)
        .unwrap()
        .split("</tr>")
        .next()
        .unwrap()
        .to_string();
    assert!(first.contains("#conn1"), "{first}");
    let (asc, _) = chromium(&dir, &format!("{url}#sort=3"), &["--dump-dom"]);
    let first = asc
        .split("<tbody>")
        .nth(1)
        .unwrap()
        .split("</tr>")
        .next()
        .unwrap()
        .to_string();
    assert!(!first.contains("#conn1"), "{first}");
    // Stevens' graph is one switch away (also from the address).
    let (stevens, _) = chromium(&dir, &format!("{url}#stevens"), &["--dump-dom"]);
    assert!(
        stevens.contains("<body class=\"stevens\">"),
        "{}",
        &stevens[..200.min(stevens.len())]
    );
    assert!(dom.contains("<circle class=\"stevens\""));
    // A screenshot of the rendered page.
    let shot = dir.join("report.png");
    let _ = chromium(
        &dir,
        &url,
        &[
            "--window-size=1100,2400",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 50_000,
        "{}",
        png.len()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_long_capture_makes_a_page_of_bounded_size() {
    // 60,000 packets of one connection's records again and again: every
    // graph keeps at most 5,000 segments and two points per pixel column.
    let dir = std::env::temp_dir().join(format!("tcpscope-report-big-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let one = capture("zero-window.pcap");
    let mut big = one.clone();
    for _ in 0..600 {
        big.extend_from_slice(&one[24..]);
    }
    let cap = dir.join("big.pcap");
    std::fs::write(&cap, &big).unwrap();
    let page = dir.join("big.html");
    let o = Command::new(BIN)
        .args([
            "report",
            "-r",
            cap.to_str().unwrap(),
            "-o",
            page.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.len() < 2_000_000, "{} bytes", html.len());
    let segs = html.matches("class=\"seg").count();
    assert!((1000..=5000).contains(&segs), "{segs}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn thousands_of_connections_fill_the_table_and_sort_in_chromium() {
    // One real connection's records 2,000 times, each copy with its own
    // client port: 2,000 connections.
    let dir = std::env::temp_dir().join(format!("tcpscope-report-many-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let one = capture("half-close.pcap");
    let (head, records) = one.split_at(24);
    let client = u16::from_be_bytes([records[16 + 34], records[16 + 35]]);
    let mut many = head.to_vec();
    for k in 0..2000u16 {
        let port = (20000 + k).to_be_bytes();
        let mut at = 0;
        while at + 16 <= records.len() {
            let caplen = u32::from_le_bytes(records[at + 8..at + 12].try_into().unwrap()) as usize;
            let mut rec = records[at..at + 16 + caplen].to_vec();
            // Ethernet (14) + IPv4 (20): the TCP ports.
            for off in [16 + 34, 16 + 36] {
                if u16::from_be_bytes([rec[off], rec[off + 1]]) == client {
                    rec[off..off + 2].copy_from_slice(&port);
                }
            }
            many.extend_from_slice(&rec);
            at += 16 + caplen;
        }
    }
    let cap = dir.join("many.pcap");
    std::fs::write(&cap, &many).unwrap();
    let page = dir.join("many.html");
    let o = Command::new(BIN)
        .args([
            "report",
            "-r",
            cap.to_str().unwrap(),
            "-o",
            page.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let url = format!("file://{}", page.display());
    let (dom, log) = chromium(&dir, &format!("{url}#sort=-0"), &["--dump-dom"]);
    let rows = dom
        .split("<tbody>")
        .nth(1)
        .unwrap()
        .split("</tbody>")
        .next()
        .unwrap();
    assert_eq!(rows.matches("<tr>").count(), 2000, "{log}");
    // Sorted by id, highest first, by the page's own script.
    let first = rows.split("</tr>").next().unwrap();
    assert!(first.contains(">2000<"), "{first}");
    assert!(!log.contains("Uncaught"), "{log}");
    std::fs::remove_dir_all(&dir).unwrap();
}

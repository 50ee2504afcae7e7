//! `tcpscope capture` on real loopback traffic inside private network
//! namespaces, side by side with tcpdump as the oracle: the same packets, the
//! same lines, files tcpdump reads, SIGINT losing nothing, drops counted.

mod common;
use common::privileged;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_tcpscope");

/// Traffic with a known shape: N TCP exchanges over IPv4 and IPv6 (client
/// sends 100*i+1 bytes, server answers "ok", client closes first), then one
/// UDP datagram "last" to 127.0.0.1:40000 as the very last packet.
const TRAFFIC: &str = r#"
import socket, sys
n = int(sys.argv[1]); m = int(sys.argv[2]) if len(sys.argv) > 2 else 1
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 9292)); s.listen(128)
s6 = socket.socket(socket.AF_INET6); s6.bind(("::1", 9293)); s6.listen(128)
for i in range(n):
    for srv, addr in ((s, ("127.0.0.1", 9292)), (s6, ("::1", 9293))):
        c = socket.create_connection(addr); a, _ = srv.accept()
        c.sendall(b"x" * (i * 100 + 1) * m); got = 0
        while got < (i * 100 + 1) * m: got += len(a.recv(1 << 20))
        a.sendall(b"ok"); c.recv(10); c.close(); a.close()
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(("127.0.0.1", 40000))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(b"last", ("127.0.0.1", 40000))
"#;

struct Lab {
    dir: PathBuf,
}

impl Lab {
    fn new(name: &str) -> Lab {
        let dir = std::env::temp_dir().join(format!("tcpscope-cap-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("traffic.py"), TRAFFIC).unwrap();
        Lab { dir }
    }
    fn path(&self, f: &str) -> PathBuf {
        self.dir.join(f)
    }
    /// Run a shell script in a fresh network namespace with lo up, in the lab
    /// directory, with $T the tcpscope binary.
    fn netns(&self, script: &str) {
        let full = format!(
            "set -e; cd {}; T={BIN}; ip link set lo up; {script}",
            self.dir.display()
        );
        let st = Command::new("unshare")
            .args(["--net", "bash", "-c", &full])
            .status()
            .unwrap();
        assert!(st.success(), "script failed: {script}");
    }
    fn read(&self, f: &str) -> String {
        std::fs::read_to_string(self.path(f)).unwrap_or_default()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd).args(args).output().unwrap()
}

/// tcpdump's reading of a file without timestamps (each capturing socket
/// stamps its own copy, a microsecond apart).
fn tcpdump_lines(file: &Path, expr: &str) -> String {
    let mut args = vec!["-t", "-nn", "-r", file.to_str().unwrap()];
    if !expr.is_empty() {
        args.push(expr);
    }
    let out = run("tcpdump", &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Equal texts, or a panic naming the first line that differs.
fn same(ours: &str, want: &str, what: &str) {
    if ours == want {
        return;
    }
    let (a, b): (Vec<&str>, Vec<&str>) = (ours.lines().collect(), want.lines().collect());
    let i = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    panic!(
        "{what}: {} lines vs {} expected; first difference at line {}:\n  ours: {:?}\n  want: {:?}",
        a.len(),
        b.len(),
        i + 1,
        a.get(i),
        b.get(i)
    );
}

/// The number in tcpdump's "N packets captured" style line.
fn counter(stderr: &str, what: &str) -> u64 {
    stderr
        .lines()
        .find(|l| l.ends_with(what) || l.ends_with(&what.replacen("packets", "packet", 1)))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no '{what}' line in:\n{stderr}"))
}

#[test]
fn writes_the_same_packets_as_tcpdump_and_reads_them_back() {
    if !privileged("writes_the_same_packets_as_tcpdump_and_reads_them_back") {
        return;
    }
    let lab = Lab::new("same");
    lab.netns(
        "$T capture -i lo -w ours.pcap -Z root 2>ours.err & a=$!; \
         $T capture -i lo -w ours.pcapng --pcapng -Z root 2>ng.err & b=$!; \
         tcpdump -i lo -w theirs.pcap -Z root 2>theirs.err & c=$!; \
         sleep 1; python3 traffic.py 20; sleep 1.5; kill -INT $a $b $c; wait $a $b $c",
    );
    let theirs = tcpdump_lines(&lab.path("theirs.pcap"), "");
    let ours = tcpdump_lines(&lab.path("ours.pcap"), "");
    // 20 exchanges x 2 families, at least 8 packets each, plus the UDP datagram.
    assert!(
        theirs.lines().count() > 320,
        "{} lines",
        theirs.lines().count()
    );
    same(&ours, &theirs, "tcpdump reads our file as it reads its own");
    same(
        &tcpdump_lines(&lab.path("ours.pcapng"), ""),
        &theirs,
        "pcapng",
    );
    // The project's own reader agrees with tcpdump on our file.
    let mine = run(
        BIN,
        &[
            "read",
            "-t",
            "-n",
            "-r",
            lab.path("ours.pcap").to_str().unwrap(),
        ],
    );
    same(
        &String::from_utf8(mine.stdout).unwrap(),
        &theirs,
        "our reader on our file",
    );
    let err = lab.read("ours.err");
    // tcpdump's header line, word for word (with -w it carries the name).
    assert_eq!(
        err.lines().next(),
        Some(
            "tcpscope: listening on lo, link-type EN10MB (Ethernet), snapshot length 262144 bytes"
        )
    );
    assert_eq!(
        err.lines().next().map(|l| l.replace("tcpscope", "tcpdump")),
        lab.read("theirs.err").lines().next().map(String::from)
    );
    assert_eq!(
        counter(&err, "packets captured"),
        theirs.lines().count() as u64
    );
    // Each packet passes tcpdump's filter twice on loopback (out and in)
    // and libpcap drops the outgoing copy after the ring; tcpscope has the
    // kernel skip it, so each packet is received once.
    assert_eq!(
        2 * counter(&err, "packets received by filter"),
        counter(&lab.read("theirs.err"), "packets received by filter")
    );
    assert_eq!(
        counter(&err, "packets received by filter"),
        theirs.lines().count() as u64
    );
    assert_eq!(counter(&err, "packets dropped by kernel"), 0);
}

#[test]
fn kernel_filters_select_what_tcpdump_selects() {
    if !privileged("kernel_filters_select_what_tcpdump_selects") {
        return;
    }
    let exprs = [
        "tcp",
        "ip6",
        "udp port 40000",
        "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0",
        "dst port 9292 and greater 200",
        "host ::1 and dst port 9293",
        "not ip6 and less 80",
    ];
    let lab = Lab::new("filters");
    let mut script = String::from("tcpdump -i lo -w all.pcap -Z root 2>/dev/null & pids=$!; ");
    for (i, e) in exprs.iter().enumerate() {
        script.push_str(&format!(
            "$T capture -i lo -Z root -t -n '{e}' >f{i}.txt 2>f{i}.err & pids=\"$pids $!\"; "
        ));
    }
    script.push_str("sleep 1; python3 traffic.py 10; sleep 1.5; kill -INT $pids; wait $pids");
    lab.netns(&script);
    for (i, e) in exprs.iter().enumerate() {
        let want = tcpdump_lines(&lab.path("all.pcap"), e);
        assert!(!want.is_empty(), "{e} selects something");
        same(
            &lab.read(&format!("f{i}.txt")),
            &want,
            &format!("live capture with '{e}'"),
        );
        let err = lab.read(&format!("f{i}.err"));
        assert_eq!(
            counter(&err, "packets captured"),
            want.lines().count() as u64,
            "{e}"
        );
    }
}

/// (expression, -y, whether the kernel can run it on a cooked socket)
const ANY_FILTERS: [(&str, &str, bool); 6] = [
    ("tcp", "LINUX_SLL2", true),
    ("ip6 and tcp and dst port 9293", "LINUX_SLL2", true),
    ("udp port 40000", "LINUX_SLL2", true),
    ("src host 127.0.0.1 and tcp[13] & 1 != 0", "LINUX_SLL", true),
    ("dst port 9292 and greater 200", "LINUX_SLL2", false),
    ("ip6 and less 100", "LINUX_SLL", false),
];

#[test]
fn any_interface_is_cooked_as_tcpdump_cooks_it() {
    if !privileged("any_interface_is_cooked_as_tcpdump_cooks_it") {
        return;
    }
    let lab = Lab::new("any");
    let mut script = String::from(
        "$T capture -i any -w sll2.pcap -Z root 2>sll2.err & p=$!; \
         $T capture -i any -y LINUX_SLL -w sll.pcap -Z root 2>/dev/null & p=\"$p $!\"; \
         tcpdump -i any -w t2.pcap -Z root 2>/dev/null & p=\"$p $!\"; \
         tcpdump -i any -y LINUX_SLL -w t1.pcap -Z root 2>/dev/null & p=\"$p $!\"; \
         $T capture -i any -Z root -t -n -e 'ip6 and tcp' >any.txt 2>/dev/null & p=\"$p $!\"; ",
    );
    for (i, (e, y, _)) in ANY_FILTERS.iter().enumerate() {
        script.push_str(&format!(
            "$T capture -i any -y {y} -Z root -t -n '{e}' >a{i}.txt 2>a{i}.err & p=\"$p $!\"; "
        ));
    }
    script.push_str("sleep 1; python3 traffic.py 5; sleep 1.5; kill -INT $p; wait $p");
    lab.netns(&script);
    assert!(lab.read("sll2.err").starts_with(
        "tcpscope: listening on any, link-type LINUX_SLL2 (Linux cooked v2), snapshot length 262144 bytes"
    ));
    let t2 = tcpdump_lines(&lab.path("t2.pcap"), "");
    assert!(t2.lines().count() > 80, "{} lines", t2.lines().count());
    same(
        &tcpdump_lines(&lab.path("sll2.pcap"), ""),
        &t2,
        "LINUX_SLL2",
    );
    same(
        &tcpdump_lines(&lab.path("sll.pcap"), ""),
        &tcpdump_lines(&lab.path("t1.pcap"), ""),
        "LINUX_SLL",
    );
    // Filters on "any" are rewritten for the kernel's cooked socket (or run
    // in user space when they read `len`): the same packets either way. When
    // the kernel filters, "received by filter" counts only matching packets
    // (twice each: loopback's outgoing and incoming copies).
    for (i, (e, y, in_kernel)) in ANY_FILTERS.iter().enumerate() {
        let file = if *y == "LINUX_SLL" {
            "t1.pcap"
        } else {
            "t2.pcap"
        };
        let want = tcpdump_lines(&lab.path(file), e);
        assert!(!want.is_empty(), "{e}");
        same(
            &lab.read(&format!("a{i}.txt")),
            &want,
            &format!("-i any -y {y} '{e}'"),
        );
        let err = lab.read(&format!("a{i}.err"));
        let captured = counter(&err, "packets captured");
        assert_eq!(captured, want.lines().count() as u64, "{e}");
        let received = counter(&err, "packets received by filter");
        assert_eq!(received == 2 * captured, *in_kernel, "{e}: {err}");
    }
    // -e prints the cooked header.
    let out = run(
        "tcpdump",
        &[
            "-t",
            "-nn",
            "-e",
            "-r",
            lab.path("t2.pcap").to_str().unwrap(),
            "ip6 and tcp",
        ],
    );
    same(
        &lab.read("any.txt"),
        &String::from_utf8(out.stdout).unwrap(),
        "-i any -e with a filter",
    );
}

#[test]
fn sigint_right_after_the_traffic_loses_nothing() {
    if !privileged("sigint_right_after_the_traffic_loses_nothing") {
        return;
    }
    let lab = Lab::new("sigint");
    // SIGINT 20 ms after the last packet: it sits in a ring block the kernel
    // has not handed over yet. It must still reach the file.
    lab.netns(
        "$T capture -i lo -w s.pcap -Z root 2>s.err & a=$!; \
         $T capture -i lo -w term.pcap -Z root 2>term.err & b=$!; \
         sleep 1; python3 traffic.py 3; sleep 0.02; kill -INT $a; kill -TERM $b; wait $a $b",
    );
    // SIGTERM does what SIGINT does.
    let term = tcpdump_lines(&lab.path("term.pcap"), "");
    assert!(term
        .lines()
        .last()
        .unwrap_or("")
        .ends_with("127.0.0.1.40000: UDP, length 4"));
    assert_eq!(
        counter(&lab.read("term.err"), "packets captured"),
        term.lines().count() as u64
    );
    let lines = tcpdump_lines(&lab.path("s.pcap"), "");
    let last = lines.lines().last().unwrap_or("");
    assert!(
        last.ends_with("127.0.0.1.40000: UDP, length 4"),
        "last line: {last}"
    );
    let err = lab.read("s.err");
    assert_eq!(
        counter(&err, "packets captured"),
        lines.lines().count() as u64
    );
    let mine = run(BIN, &["read", "-r", lab.path("s.pcap").to_str().unwrap()]);
    assert!(
        mine.status.success(),
        "{}",
        String::from_utf8_lossy(&mine.stderr)
    );
}

#[test]
fn count_stops_by_itself_and_explain_works_live() {
    if !privileged("count_stops_by_itself_and_explain_works_live") {
        return;
    }
    let lab = Lab::new("count");
    lab.netns(
        "$T capture -i lo -Z root -c 3 -n 'tcp port 9292' >c.txt 2>c.err & a=$!; \
         $T capture -i lo -Z root -c 3 -n --immediate-mode --explain 'tcp port 9292' >e.txt 2>/dev/null & b=$!; \
         sleep 1; python3 traffic.py 2; wait $a $b",
    );
    let c = lab.read("c.txt");
    assert_eq!(c.lines().count(), 3, "{c}");
    assert!(c.lines().next().unwrap().contains("Flags [S], seq"), "{c}");
    assert_eq!(counter(&lab.read("c.err"), "packets captured"), 3);
    let e = lab.read("e.txt");
    let explained: Vec<&str> = e.lines().filter(|l| l.starts_with("    ")).collect();
    assert_eq!(
        explained[..2],
        [
            "    conn 1, client → server: client CLOSED → SYN-SENT",
            "    conn 1, server → client: server LISTEN → SYN-RECEIVED",
        ],
        "{e}"
    );
    let third = explained[2];
    assert!(
        third.starts_with(
            "    conn 1, client → server: client SYN-SENT → ESTABLISHED (handshake RTT "
        ) && third.ends_with(" ms); server SYN-RECEIVED → ESTABLISHED (inferred)"),
        "{e}"
    );
}

#[test]
fn a_stalled_reader_gets_drops_counted_and_sigusr1_reports() {
    if !privileged("a_stalled_reader_gets_drops_counted_and_sigusr1_reports") {
        return;
    }
    let lab = Lab::new("drops");
    // The capturing process is stopped while 40,000 datagrams go by; the
    // smallest ring (-B 1: two blocks) overflows and the kernel counts drops.
    lab.netns(
        "$T capture -i lo -B 1 -w d.pcap -Z root 2>d.err & a=$!; sleep 1; \
         kill -STOP $a; \
         python3 -c 'import socket; u=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
for i in range(40000): u.sendto(b\"x\" * 64, (\"127.0.0.1\", 9))'; \
         kill -CONT $a; sleep 0.5; kill -USR1 $a; sleep 0.3; kill -INT $a; wait $a",
    );
    let err = lab.read("d.err");
    let captured = counter(&err, "packets captured");
    let received = counter(&err, "packets received by filter");
    let dropped = counter(&err, "packets dropped by kernel");
    assert!(dropped > 0, "{err}");
    assert!(captured > 0 && captured < 40_000, "{err}");
    assert!(received >= captured + dropped, "{err}");
    // SIGUSR1 printed the three lines once before the final three.
    assert_eq!(err.matches("packets captured").count(), 2, "{err}");
    let lines = tcpdump_lines(&lab.path("d.pcap"), "");
    assert_eq!(lines.lines().count() as u64, captured);
}

#[test]
fn rotation_by_size_keeps_every_packet_in_valid_files() {
    if !privileged("rotation_by_size_keeps_every_packet_in_valid_files") {
        return;
    }
    let lab = Lab::new("rotate");
    lab.netns(
        "$T capture -i lo -C 1 -w r.pcap -Z root 2>r.err & a=$!; \
         $T capture -i lo -C 1 -W 2 -w ring.pcap -Z root 2>/dev/null & b=$!; \
         sleep 1; python3 traffic.py 60 10; sleep 1.5; kill -INT $a $b; wait $a $b",
    );
    let mut names: Vec<String> = std::fs::read_dir(&lab.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("r.pcap"))
        .collect();
    names.sort();
    // About 3.6 MB of traffic: r.pcap, r.pcap1, r.pcap2, r.pcap3.
    assert!(names.len() >= 3, "{names:?}");
    assert_eq!(names[0], "r.pcap");
    assert_eq!(names[1], "r.pcap1");
    let mut total = 0;
    for n in &names {
        let size = std::fs::metadata(lab.path(n)).unwrap().len();
        total += tcpdump_lines(&lab.path(n), "").lines().count() as u64;
        if n != names.last().unwrap() {
            assert!(size > 1_000_000 && size < 1_200_000, "{n}: {size}");
        }
    }
    assert_eq!(total, counter(&lab.read("r.err"), "packets captured"));
    // -W 2: two names used in turn.
    assert!(lab.path("ring.pcap0").exists() && lab.path("ring.pcap1").exists());
    assert!(!lab.path("ring.pcap2").exists() && !lab.path("ring.pcap").exists());
}

#[test]
fn privileges_are_dropped_and_missing_ones_named() {
    if !privileged("privileges_are_dropped_and_missing_ones_named") {
        return;
    }
    use std::os::unix::process::CommandExt;
    let out = Command::new(BIN)
        .args(["capture", "-i", "lo", "-c", "1"])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "tcpscope: capturing needs CAP_NET_RAW: run as root or with sudo\n"
    );
    let lab = Lab::new("drop");
    lab.netns(
        "$T capture -i lo -Z nobody -n >/dev/null 2>/dev/null & a=$!; sleep 1; \
         grep '^Uid:' /proc/$a/status > uid.txt; kill -INT $a; wait $a",
    );
    assert_eq!(lab.read("uid.txt"), "Uid:\t65534\t65534\t65534\t65534\n");
    let bad = run(BIN, &["capture", "-i", "lo", "tcp port 80 and"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).starts_with("tcpscope: bad filter expression"));
    let none = run(BIN, &["capture", "-i", "nosuchif0", "-Z", "root"]);
    assert_eq!(
        String::from_utf8_lossy(&none.stderr),
        "tcpscope: nosuchif0: No such device exists\n"
    );
}

#[test]
fn snaplen_direction_and_time_rotation_as_tcpdump_does_them() {
    if !privileged("snaplen_direction_and_time_rotation_as_tcpdump_does_them") {
        return;
    }
    let lab = Lab::new("snap");
    lab.netns(
        "$T capture -i lo -Z root -s 80 -w s80.pcap 2>/dev/null & a=$!; \
         tcpdump -i lo -Z root -s 80 -w t80.pcap 2>/dev/null & b=$!; \
         $T capture -i lo -Z root -Q in -w in.pcap 2>/dev/null & c=$!; \
         tcpdump -i lo -Z root -Q in -w tin.pcap 2>/dev/null & d=$!; \
         timeout 20 $T capture -i lo -Z root -G 1 -W 2 -w 'g-%s.pcap' 2>g.err & e=$!; \
         sleep 1; for i in 1 2 3 4; do python3 traffic.py 2 30; sleep 1.1; done; \
         kill -INT $a $b $c $d; wait $a $b $c $d; wait $e",
    );
    let t80 = tcpdump_lines(&lab.path("t80.pcap"), "");
    assert!(
        t80.contains("[|tcp]") || t80.contains("[|"),
        "snaplen 80 cuts packets"
    );
    same(&tcpdump_lines(&lab.path("s80.pcap"), ""), &t80, "-s 80");
    same(
        &tcpdump_lines(&lab.path("in.pcap"), ""),
        &tcpdump_lines(&lab.path("tin.pcap"), ""),
        "-Q in",
    );
    // -G 1 -W 2: two files named by strftime, then the capture ends by itself.
    let mut g: Vec<String> = std::fs::read_dir(&lab.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("g-"))
        .collect();
    g.sort();
    assert_eq!(g.len(), 2, "{g:?}");
    let secs: Vec<i64> = g
        .iter()
        .map(|n| n[2..n.len() - 5].parse().unwrap())
        .collect();
    assert!(secs[1] > secs[0], "{g:?}");
    let total: u64 = g
        .iter()
        .map(|n| tcpdump_lines(&lab.path(n), "").lines().count() as u64)
        .sum();
    assert!(total > 0);
    assert_eq!(total, counter(&lab.read("g.err"), "packets captured"));
}

#[test]
fn interfaces_and_the_default_one_are_tcpdumps() {
    if !privileged("interfaces_and_the_default_one_are_tcpdumps") {
        return;
    }
    let lab = Lab::new("ifaces");
    // In a namespace with only lo: the list is asked of the kernel (not of
    // /sys, which shows the host), and without -i both tools fall back to
    // "any" as LINUX_SLL.
    lab.netns(
        "$T capture -D >ours.txt; tcpdump -D >theirs.txt; \
         timeout 2 $T capture -Z root -c 1 2>ours.err >/dev/null || true; \
         timeout 2 tcpdump -Z root -c 1 2>theirs.err >/dev/null || true",
    );
    let ours = lab.read("ours.txt");
    assert_eq!(
        ours,
        "1.any (Pseudo-device that captures on all interfaces) [Up, Running]\n2.lo [Up, Running, Loopback]\n"
    );
    assert!(lab.read("theirs.txt").starts_with(&ours));
    let listening = |f: &str| {
        lab.read(f)
            .lines()
            .find(|l| l.contains("listening on"))
            .map(|l| l.replace("tcpdump", "tcpscope"))
    };
    assert_eq!(listening("ours.err"), listening("theirs.err"));
    assert_eq!(
        listening("ours.err").as_deref(),
        Some(
            "listening on any, link-type LINUX_SLL (Linux cooked v1), snapshot length 262144 bytes"
        )
    );
}

#[test]
fn live_lines_reach_a_pipe_before_the_capture_stops() {
    if !privileged("live_lines_reach_a_pipe_before_the_capture_stops") {
        return;
    }
    let lab = Lab::new("live");
    // Output is a pipe here (not a terminal): with -l each packet is written
    // at once; without it, as soon as the ring runs dry. Either way a reader
    // sees the lines while the capture still runs.
    lab.netns(
        "$T capture -i lo -Z root -l -n 'udp port 40000' 2>/dev/null > >(cat >l.txt) & a=$!; \
         $T capture -i lo -Z root -n 'udp port 40000' 2>/dev/null > >(cat >d.txt) & b=$!; \
         sleep 1; python3 traffic.py 1; sleep 0.5; cp l.txt l-early.txt; cp d.txt d-early.txt; \
         kill -INT $a $b; wait $a $b",
    );
    for f in ["l-early.txt", "d-early.txt"] {
        let early = lab.read(f);
        assert_eq!(early.lines().count(), 1, "{f}: {early}");
        assert!(
            early.contains("127.0.0.1.40000: UDP, length 4"),
            "{f}: {early}"
        );
    }
}

#[test]
fn post_rotate_commands_run_on_the_files_tcpdump_runs_them_on() {
    if !privileged("post_rotate_commands_run_on_the_files_tcpdump_runs_them_on") {
        return;
    }
    let lab = Lab::new("postrotate");
    std::fs::write(
        lab.path("post.sh"),
        format!(
            "#!/bin/sh\necho \"$(basename \"$1\") $(id -un)\" >> {}/post.log\n",
            lab.dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        lab.path("post.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    // -C 1 -W 2 (a ring of two names) interrupted, and -G 1 -W 2 ending by
    // itself; each run by tcpscope (ours-*) and tcpdump (theirs-*), both
    // dropping privileges to nobody, which then runs the command.
    lab.netns(
        "chmod 777 .; \
         $T capture -i lo -Z nobody -C 1 -W 2 -w ours-c.pcap -z ./post.sh 2>/dev/null & a=$!; \
         tcpdump -i lo -Z nobody -C 1 -W 2 -w theirs-c.pcap -z ./post.sh 2>/dev/null & b=$!; \
         timeout 20 $T capture -i lo -Z nobody -G 1 -W 2 -w 'ours-g-%s.pcap' -z ./post.sh 2>/dev/null & c=$!; \
         timeout 20 tcpdump -i lo -Z nobody -G 1 -W 2 -w 'theirs-g-%s.pcap' -z ./post.sh 2>/dev/null & d=$!; \
         sleep 1; for i in 1 2 3; do python3 traffic.py 40 10; sleep 1.1; done; \
         wait $c $d; kill -INT $a $b; wait $a $b; sleep 0.5",
    );
    let log = lab.read("post.log");
    let mut seen: Vec<&str> = log.lines().collect();
    seen.sort();
    let of = |who: &str, what: &str| -> Vec<String> {
        seen.iter()
            .filter(|l| l.starts_with(&format!("{who}-{what}")))
            .map(|l| l.replacen(who, "X", 1))
            .collect()
    };
    // Size rotation: each file the ring closed (about 4.7 MB in 1 MB
    // files: pcap0, pcap1, pcap0, pcap1), not the one open at SIGINT.
    let c = of("ours", "c");
    assert_eq!(c, of("theirs", "c"), "{log}");
    assert!(c.len() >= 3, "{log}");
    assert!(
        c.iter()
            .all(|l| l == "X-c.pcap0 nobody" || l == "X-c.pcap1 nobody"),
        "{log}"
    );
    // Time rotation: both files, the last one when -W ends the capture.
    let g = of("ours", "g");
    assert_eq!(g.len(), 2, "{log}");
    assert_eq!(of("theirs", "g").len(), 2, "{log}");
    assert!(g.iter().all(|l| l.ends_with(".pcap nobody")), "{log}");
}

/// Frames with 802.1Q and 802.1ad tags sent into one end of a veth pair.
const VLAN_FRAMES: &str = r#"
import socket, struct
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def udp(i):
    payload = b"vlan test %d" % i
    u = struct.pack("!HHHH", 40000 + i, 40000, 8 + len(payload), 0) + payload
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(u), i, 0, 64, 17, 0,
                    bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + u
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("va", 0))
dst, src = b"\x02\x00\x00\x00\x00\x02", b"\x02\x00\x00\x00\x00\x01"
for i in range(4):
    # One 802.1Q tag, priority 3, VLAN 100 + i.
    s.send(dst + src + struct.pack("!HH", 0x8100, (3 << 13) | (100 + i)) + struct.pack("!H", 0x0800) + udp(i))
    # QinQ: an 802.1ad outer tag (VLAN 200) around an 802.1Q inner one (VLAN 300 + i).
    s.send(dst + src + struct.pack("!HH", 0x88a8, 200) + struct.pack("!HH", 0x8100, 300 + i) + struct.pack("!H", 0x0800) + udp(i + 10))
"#;

#[test]
fn vlan_tags_the_kernel_took_out_are_put_back_as_tcpdump_does() {
    if !privileged("vlan_tags_the_kernel_took_out_are_put_back_as_tcpdump_does") {
        return;
    }
    // The receiving side moves the outer tag into the packet's metadata
    // before any capture sees it (no 8021q module needed), so both tools
    // must rebuild the frame from the ring header's tag.
    let lab = Lab::new("vlan");
    std::fs::write(lab.path("vlan.py"), VLAN_FRAMES).unwrap();
    lab.netns(
        "ip link add va type veth peer name vb; ip link set va up; ip link set vb up; \
         $T capture -i vb -Z root -w ours.pcap 2>/dev/null & a=$!; \
         tcpdump -i vb -Z root --immediate-mode -w theirs.pcap 2>/dev/null & b=$!; \
         sleep 1; python3 vlan.py; sleep 1.5; kill -INT $a $b; wait $a $b",
    );
    // -e: the link-level header, where the tags are printed.
    let read_e = |tool: &str, f: &str| {
        let p = lab.path(f);
        let p = p.to_str().unwrap();
        let args: Vec<&str> = if tool == "tcpdump" {
            vec!["-t", "-nn", "-e", "-r", p, "vlan"]
        } else {
            vec!["read", "-t", "-n", "-e", "-r", p, "vlan"]
        };
        String::from_utf8(run(tool, &args).stdout).unwrap()
    };
    let theirs = read_e("tcpdump", "theirs.pcap");
    let ours = read_e("tcpdump", "ours.pcap");
    assert_eq!(theirs.lines().count(), 8, "{theirs}");
    assert!(
        theirs.contains(
            "ethertype 802.1Q (0x8100), length 57: vlan 100, p 3, ethertype IPv4 (0x0800)"
        ),
        "{theirs}"
    );
    assert!(
        theirs.contains("ethertype 802.1Q-QinQ (0x88a8), length 62: vlan 200, p 0, ethertype 802.1Q (0x8100), vlan 300, p 0, ethertype IPv4"),
        "{theirs}"
    );
    same(&ours, &theirs, "VLAN frames");
    // And tcpscope's own reading of its file prints the same.
    same(&read_e(BIN, "ours.pcap"), &theirs, "tcpscope read");
}

#[test]
fn capture_files_go_where_tcpdump_puts_them() {
    if !privileged("capture_files_go_where_tcpdump_puts_them") {
        return;
    }
    let lab = Lab::new("files");
    // -w - into a pipe read by tcpscope and by tcpdump; -w with --print;
    // a root-only directory written after dropping to nobody (-Z), as
    // tcpdump keeps CAP_DAC_OVERRIDE for its first file.
    lab.netns(
        "mkdir -m 0700 rootonly; \
         $T capture -i lo -w - -c 8 -U tcp port 9292 2> pipe.err | tee piped.pcap | $T read -r - -t -n > piped.txt 2> read.err & \
         $T capture -i lo -w printed.pcap --print -t -c 8 tcp port 9292 > printed.txt 2> printed.err & \
         $T capture -i lo -Z nobody -w rootonly/kept.pcap -c 8 tcp port 9292 2> kept.err & \
         sleep 0.7; python3 traffic.py 2; wait; \
         stat -c %U rootonly/kept.pcap > owner.txt; \
         tcpdump -t -nn -r piped.pcap > theirs-piped.txt 2>/dev/null; \
         tcpdump -t -nn -r printed.pcap > theirs-printed.txt 2>/dev/null",
    );
    let piped = lab.read("piped.txt");
    assert_eq!(piped.lines().count(), 8, "{piped}{}", lab.read("pipe.err"));
    same(
        &piped,
        &lab.read("theirs-piped.txt"),
        "-w - read back by tcpscope and tcpdump",
    );
    // --print: the lines on stdout are the file's packets.
    same(
        &lab.read("printed.txt"),
        &lab.read("theirs-printed.txt"),
        "--print with -w",
    );
    assert_eq!(
        lab.read("owner.txt").trim(),
        "nobody",
        "{}",
        lab.read("kept.err")
    );
    assert_eq!(counter(&lab.read("kept.err"), "packets captured"), 8);
}

#[test]
fn a_directory_the_user_cannot_write_gets_a_hint_and_view_flags_need_print() {
    if !privileged("a_directory_the_user_cannot_write_gets_a_hint_and_view_flags_need_print") {
        return;
    }
    let lab = Lab::new("hint");
    // Where even root may not create a file (sysfs), the failure says what
    // to do; a view flag with -w is a usage error.
    lab.netns(
        "$T capture -i lo -Z nobody -w /sys/x.pcap -c 1 > /dev/null 2> nodir.err || echo $? > nodir.rc; \
         $T capture -i lo -w x.pcap --explain -c 1 2> explain.err || echo $? > explain.rc; \
         $T capture -D --json > list.json",
    );
    assert_eq!(lab.read("explain.rc").trim(), "2");
    assert!(
        lab.read("explain.err").contains("add --print"),
        "{}",
        lab.read("explain.err")
    );
    assert_eq!(lab.read("nodir.rc").trim(), "1");
    assert!(
        lab.read("nodir.err").ends_with("(as user nobody, after dropping root): run with -Z root, or write into a directory nobody can write\n"),
        "{}",
        lab.read("nodir.err")
    );
    let list: Vec<serde_json::Value> = lab
        .read("list.json")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        list.iter()
            .any(|i| i["name"] == "lo" && i["type"] == "interface"),
        "{list:?}"
    );
    assert!(list.iter().any(|i| i["name"] == "any"));
}

#[test]
fn capture_annotate_writes_verdicts_wireshark_shows() {
    if !privileged("capture_annotate_writes_verdicts_wireshark_shows") {
        return;
    }
    let lab = Lab::new("annotate");
    lab.netns(
        "$T capture -i lo -w live.pcapng --annotate -c 6 tcp port 9292 2> cap.err & \
         sleep 0.7; python3 traffic.py 1; wait; \
         tshark -r live.pcapng -T fields -e frame.comment > comments.txt 2>/dev/null",
    );
    let comments = lab.read("comments.txt");
    let lines: Vec<&str> = comments.lines().collect();
    assert_eq!(lines.len(), 6, "{comments}{}", lab.read("cap.err"));
    assert_eq!(
        lines[0],
        "tcpscope: conn 1, client → server: client CLOSED → SYN-SENT"
    );
    assert!(
        lines[1].starts_with("tcpscope: conn 1, server → client: server LISTEN → SYN-RECEIVED"),
        "{comments}"
    );
}

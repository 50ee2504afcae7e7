//! The habits people bring: shell completions and man pages generated from
//! the same flag definitions as --help.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_tcpscope");

fn out(args: &[&str]) -> String {
    let o = Command::new(BIN).args(args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn bash_completes_subcommands_and_flags() {
    let script = out(&["completions", "bash"]);
    let dir = std::env::temp_dir().join(format!("tcpscope-compl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tcpscope.bash");
    std::fs::write(&file, script).unwrap();
    let complete = |words: &str, cword: usize| -> String {
        let sh = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{words}'; COMP_POINT=${{#COMP_LINE}}; _tcpscope tcpscope; echo \"${{COMPREPLY[@]}}\"",
            file.display()
        );
        let o = Command::new("bash").args(["-c", &sh]).output().unwrap();
        String::from_utf8(o.stdout).unwrap()
    };
    let subs = complete("tcpscope s", 1);
    assert!(
        subs.split_whitespace().any(|w| w == "ss") && subs.contains("server"),
        "{subs}"
    );
    let flags = complete("tcpscope ss --", 2);
    assert!(
        flags.contains("--listening") && flags.contains("--summary"),
        "{flags}"
    );
    for shell in ["zsh", "fish"] {
        assert!(out(&["completions", shell]).contains("tcpscope"));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn man_pages_carry_the_flags_of_help() {
    let dir = std::env::temp_dir().join(format!("tcpscope-man-{}", std::process::id()));
    out(&["man", "--dir", dir.to_str().unwrap()]);
    let page = std::fs::read_to_string(dir.join("tcpscope-capture.1")).unwrap();
    // The same flags and words as --help.
    assert!(
        page.contains("\\-w") && page.contains("CAP_DAC_OVERRIDE"),
        "{page}"
    );
    let rendered = Command::new("man")
        .args(["-l", dir.join("tcpscope-ss.1").to_str().unwrap()])
        .env("MANWIDTH", "100")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&rendered.stdout);
    assert!(
        text.contains("--listening") && text.contains("state time-wait"),
        "{text}"
    );
    assert!(out(&["man"]).starts_with(".ie"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A capture of some 30,000 packets: one real connection's records again
/// and again.
fn big_capture(dir: &std::path::Path) -> std::path::PathBuf {
    let one = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/captures/half-close.pcap"
    ))
    .unwrap();
    let mut big = one.clone();
    for _ in 0..3000 {
        big.extend_from_slice(&one[24..]);
    }
    let path = dir.join("big.pcap");
    std::fs::write(&path, big).unwrap();
    path
}

#[test]
fn progress_shows_on_a_terminal_only() {
    let dir = std::env::temp_dir().join(format!("tcpscope-progress-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let big = big_capture(&dir);
    // On a terminal (script(1) gives the command a pty), after no delay.
    let on_tty = |extra: &str| -> String {
        let cmd = format!(
            "{extra} TCPSCOPE_PROGRESS_AFTER_MS=0 {BIN} conns -r {} > /dev/null",
            big.display()
        );
        let o = Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let shown = on_tty("");
    assert!(
        shown.contains("packets") && shown.contains("MiB"),
        "{shown:?}"
    );
    // NO_COLOR: no colour sequence.
    let plain = on_tty("NO_COLOR=1 TERM=xterm-256color");
    assert!(
        plain.contains("packets") && !plain.contains("\x1b[3"),
        "{plain:?}"
    );
    // In a pipe: nothing on stderr.
    let o = Command::new(BIN)
        .args(["conns", "-r", big.to_str().unwrap()])
        .env("TCPSCOPE_PROGRESS_AFTER_MS", "0")
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stderr), "");
    std::fs::remove_dir_all(&dir).unwrap();
}

//! The filter selects exactly the packets tcpdump selects: every expression
//! of tests/filter/expressions.txt over every capture of the corpus,
//! against tcpdump's stored answers (tests/filter/make.py).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tcpscope_capture::{Precision, Reader};
use tcpscope_filter::Filter;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests")
}

#[test]
fn every_expression_selects_what_tcpdump_selects() {
    let exprs: Vec<String> = std::fs::read_to_string(root().join("filter/expressions.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect();
    assert!(exprs.len() >= 60, "{} expressions", exprs.len());
    let answers = std::fs::read_to_string(root().join("filter/tcpdump.tsv")).unwrap();
    let mut frames_of: HashMap<String, Vec<(u32, Vec<u8>, u32)>> = HashMap::new();
    let (mut agree, mut total) = (0, 0);
    let mut problems = Vec::new();
    for line in answers.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.splitn(3, '\t').collect();
        let (i, file, want) = (f[0].parse::<usize>().unwrap(), f[1], f[2]);
        let frames = frames_of.entry(file.to_string()).or_insert_with(|| {
            let mut r = Reader::open(
                &root().join("corpus/tcpdump/pcaps").join(file),
                Precision::Micro,
            )
            .unwrap();
            let mut v = Vec::new();
            while let Ok(Some(fr)) = r.next_frame() {
                v.push((fr.linktype, fr.data.to_vec(), fr.len));
            }
            v
        });
        total += 1;
        let linktype = frames.first().map_or(1, |f| f.0);
        let ours = Filter::new(&exprs[i], linktype);
        let expected_none = want.contains("rejects all packets");
        match (ours, want.strip_prefix("ERROR ")) {
            (Err(_), Some(_)) => agree += 1,
            (Ok(filter), err) => {
                let got: Vec<usize> = frames
                    .iter()
                    .enumerate()
                    .filter(|(_, fr)| filter.matches(&fr.1, fr.2))
                    .map(|(n, _)| n + 1)
                    .collect();
                let want: Vec<usize> = match err {
                    Some(_) if expected_none => Vec::new(),
                    Some(e) => {
                        problems.push(format!(
                            "{file} '{}': tcpdump refuses it ({e}), tcpscope compiles it",
                            exprs[i]
                        ));
                        continue;
                    }
                    None => want
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(|s| s.parse().unwrap())
                        .collect(),
                };
                if got == want {
                    agree += 1;
                } else {
                    let only_ours: Vec<_> = got.iter().filter(|n| !want.contains(n)).collect();
                    let only_theirs: Vec<_> = want.iter().filter(|n| !got.contains(n)).collect();
                    problems.push(format!(
                        "{file} '{}': only tcpscope {only_ours:?}, only tcpdump {only_theirs:?}",
                        exprs[i]
                    ));
                }
            }
            (Err(e), None) => {
                if want.is_empty() {
                    // tcpdump compiled it and selected nothing; a compile error is as good.
                    agree += 1;
                } else {
                    problems.push(format!(
                        "{file} '{}': tcpscope refuses it ({e}), tcpdump selects {want}",
                        exprs[i]
                    ));
                }
            }
        }
    }
    println!("filter agreement with tcpdump: {agree} of {total} (expression, capture) pairs over {} expressions", exprs.len());
    assert!(
        problems.is_empty(),
        "{} disagreements:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

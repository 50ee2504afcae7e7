//! /proc/net/sockstat and sockstat6: socket totals by protocol, the source
//! of `ss -s`.

use std::collections::HashMap;
use std::path::Path;

/// "PROTO" -> "field" -> value, from both files (IPv6 protocols end in 6).
#[derive(Clone, Debug, Default)]
pub struct SockStat {
    values: HashMap<(String, String), i64>,
}

impl SockStat {
    /// Read the current network namespace's files.
    pub fn read() -> Result<SockStat, crate::KernelError> {
        let mut s = SockStat::default();
        for f in ["sockstat", "sockstat6"] {
            let path = Path::new("/proc/net").join(f);
            let text = std::fs::read_to_string(&path)
                .map_err(|source| crate::KernelError::Proc { path, source })?;
            s.parse(&text);
        }
        Ok(s)
    }

    /// Parse lines such as `TCP: inuse 1 orphan 0 tw 0 alloc 1 mem 164`.
    pub fn parse(&mut self, text: &str) {
        for line in text.lines() {
            let Some((proto, rest)) = line.split_once(':') else {
                continue;
            };
            let words: Vec<&str> = rest.split_whitespace().collect();
            for pair in words.chunks(2) {
                if let [k, v] = pair {
                    if let Ok(v) = v.parse() {
                        self.values.insert((proto.to_string(), k.to_string()), v);
                    }
                }
            }
        }
    }

    /// One value, 0 when absent.
    pub fn get(&self, proto: &str, field: &str) -> i64 {
        self.values
            .get(&(proto.to_string(), field.to_string()))
            .copied()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_files() {
        let mut s = SockStat::default();
        s.parse(
            "sockets: used 8\nTCP: inuse 1 orphan 0 tw 3 alloc 2 mem 164\nFRAG: inuse 0 memory 0\n",
        );
        s.parse("TCP6: inuse 4\n");
        assert_eq!(s.get("sockets", "used"), 8);
        assert_eq!(s.get("TCP", "tw"), 3);
        assert_eq!(s.get("TCP6", "inuse"), 4);
        assert_eq!(s.get("RAW6", "inuse"), 0);
    }
}

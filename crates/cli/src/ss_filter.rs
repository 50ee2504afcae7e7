//! The filter words of iproute2's `ss`: `state NAME` and `exclude NAME`,
//! then an expression over ports and addresses (`sport = :22`,
//! `dst 10.0.0.0/8`, `and`, `or`, `not`, parentheses), as `ss(8)` and
//! `ss -h` describe them.

use std::net::{IpAddr, SocketAddr};

use tcpscope_kernel::diag::{tcp_state as st, Socket};

/// What the filter words ask for.
#[derive(Debug, Default)]
pub struct Filter {
    /// The states named by `state` (a mask of `1 << state`), if any.
    pub states: Option<u32>,
    /// The states named by `exclude`.
    pub excluded: u32,
    /// The expression, if any.
    pub expr: Option<Expr>,
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// An address pattern: an address or prefix (or any), and a port (or any).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostCond {
    /// Address and prefix length; `None` is `*`.
    pub net: Option<(IpAddr, u8)>,
    /// Port; `None` is `*`.
    pub port: Option<u16>,
}

/// A filter expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// Local port compared with a number.
    Sport(Op, u16),
    /// Peer port compared with a number.
    Dport(Op, u16),
    /// Local or peer port equal to a number (tcpscope's shorthand).
    Port(u16),
    /// Local address (and port).
    Src(HostCond),
    /// Peer address (and port).
    Dst(HostCond),
    /// Both.
    And(Box<Expr>, Box<Expr>),
    /// Either.
    Or(Box<Expr>, Box<Expr>),
    /// Not.
    Not(Box<Expr>),
}

/// The state names `ss` accepts, with the states each stands for.
pub fn state_mask(name: &str) -> Option<u32> {
    let one = |s: u8| 1u32 << s;
    // States 1 (ESTABLISHED) to 11 (CLOSING); request sockets are reported as SYN-RECV.
    let all: u32 = (1 << 12) - 2;
    let connected = all & !(one(st::LISTEN) | one(st::CLOSE));
    let bucket = one(st::SYN_RECV) | one(st::TIME_WAIT);
    Some(match name {
        "all" => all,
        "connected" => connected,
        "synchronized" => connected & !one(st::SYN_SENT),
        "bucket" => bucket,
        "big" => all & !bucket,
        "established" => one(st::ESTABLISHED),
        "syn-sent" => one(st::SYN_SENT),
        "syn-recv" => one(st::SYN_RECV),
        "fin-wait-1" => one(st::FIN_WAIT1),
        "fin-wait-2" => one(st::FIN_WAIT2),
        "time-wait" => one(st::TIME_WAIT),
        "closed" => one(st::CLOSE),
        "close-wait" => one(st::CLOSE_WAIT),
        "last-ack" => one(st::LAST_ACK),
        "listening" | "listen" => one(st::LISTEN),
        "closing" => one(st::CLOSING),
        _ => return None,
    })
}

const STATE_NAMES: &str = "all, connected, synchronized, bucket, big, established, syn-sent, \
syn-recv, fin-wait-1, fin-wait-2, time-wait, closed, close-wait, last-ack, listening, closing";

/// Parse the words after the options.
pub fn parse(words: &[String]) -> Result<Filter, String> {
    let text = words.join(" ");
    let toks = tokenize(&text);
    let mut f = Filter::default();
    let mut i = 0;
    while i < toks.len() {
        match toks[i].as_str() {
            kw @ ("state" | "exclude" | "excl") => {
                let name = toks
                    .get(i + 1)
                    .ok_or_else(|| format!("'{kw}' wants a state name ({STATE_NAMES})"))?;
                let m = state_mask(name)
                    .ok_or_else(|| format!("unknown state '{name}' (one of {STATE_NAMES})"))?;
                if kw == "state" {
                    *f.states.get_or_insert(0) |= m;
                } else {
                    f.excluded |= m;
                }
                i += 2;
            }
            _ => break,
        }
    }
    if i < toks.len() {
        let mut p = Parser {
            toks: &toks[i..],
            at: 0,
        };
        let e = p.or()?;
        if let Some(t) = p.toks.get(p.at) {
            return Err(format!("unexpected '{t}' in the filter"));
        }
        f.expr = Some(e);
    }
    Ok(f)
}

/// Split into words and the operator characters `( ) = ! < >`.
fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() || "()=!<>".contains(c) {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            if c.is_whitespace() {
                continue;
            }
            let mut op = c.to_string();
            if "=!<>".contains(c) && chars.peek() == Some(&'=') {
                op.push('=');
                chars.next();
            }
            out.push(op);
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

struct Parser<'a> {
    toks: &'a [String],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&str> {
        self.toks.get(self.at).map(String::as_str)
    }

    fn next(&mut self) -> Option<&str> {
        let t = self.toks.get(self.at).map(String::as_str);
        self.at += 1;
        t
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut e = self.and()?;
        while matches!(self.peek(), Some("or" | "||" | "|")) {
            self.at += 1;
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut e = self.unary()?;
        loop {
            match self.peek() {
                Some("and" | "&&" | "&") => self.at += 1,
                // Juxtaposition means `and`, as in ss.
                Some(t) if t != ")" && t != "or" && t != "||" && t != "|" => {}
                _ => return Ok(e),
            }
            e = Expr::And(Box::new(e), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Expr, String> {
        match self.next() {
            None => Err("the filter ends where a condition was expected".into()),
            Some("not" | "!") => Ok(Expr::Not(Box::new(self.unary()?))),
            Some("(") => {
                let e = self.or()?;
                match self.next() {
                    Some(")") => Ok(e),
                    _ => Err("a '(' in the filter is not closed".into()),
                }
            }
            Some(kw @ ("sport" | "dport" | "port")) => {
                let kw = kw.to_string();
                let op = self.op();
                let v = self
                    .next()
                    .ok_or_else(|| format!("'{kw}' wants a port, as in '{kw} = :80'"))?;
                let port = parse_port(v)
                    .ok_or_else(|| format!("'{v}' after '{kw}' is not a port number"))?;
                Ok(match kw.as_str() {
                    "sport" => Expr::Sport(op, port),
                    "dport" => Expr::Dport(op, port),
                    _ if op == Op::Eq => Expr::Port(port),
                    _ => Expr::Not(Box::new(Expr::Port(port))),
                })
            }
            Some(kw @ ("src" | "dst")) => {
                let kw = kw.to_string();
                let op = self.op();
                if !matches!(op, Op::Eq | Op::Ne) {
                    return Err(format!("'{kw}' takes '=' or '!=' only"));
                }
                let v = self.next().ok_or_else(|| {
                    format!(
                        "'{kw}' wants an address, as in '{kw} 10.0.0.1:80' or '{kw} 10.0.0.0/8'"
                    )
                })?;
                let c = parse_host(v)
                    .ok_or_else(|| format!("'{v}' after '{kw}' is not an address[/len][:port]"))?;
                let e = if kw == "src" {
                    Expr::Src(c)
                } else {
                    Expr::Dst(c)
                };
                Ok(if op == Op::Ne {
                    Expr::Not(Box::new(e))
                } else {
                    e
                })
            }
            Some(t) => Err(format!(
                "unknown word '{t}' in the filter (sport, dport, src, dst, port, and, or, not, \
                 parentheses; state and exclude come first)"
            )),
        }
    }

    /// An optional comparison operator (equality when absent).
    fn op(&mut self) -> Op {
        let op = match self.peek() {
            Some("=" | "==" | "eq") => Op::Eq,
            Some("!=" | "ne" | "neq") => Op::Ne,
            Some("<" | "lt") => Op::Lt,
            Some("<=" | "le") => Op::Le,
            Some(">" | "gt") => Op::Gt,
            Some(">=" | "ge") => Op::Ge,
            _ => return Op::Eq,
        };
        self.at += 1;
        op
    }
}

fn parse_port(v: &str) -> Option<u16> {
    v.strip_prefix(':').unwrap_or(v).parse().ok()
}

/// `*`, `ADDR`, `ADDR/LEN`, `ADDR:PORT`, `[V6]:PORT`, `*:PORT`, `:PORT`.
fn parse_host(v: &str) -> Option<HostCond> {
    let (addr, port) = if let Some(rest) = v.strip_prefix('[') {
        let (a, after) = rest.split_once(']')?;
        (a, after.strip_prefix(':'))
    } else if v.matches(':').count() == 1 {
        let (a, p) = v.split_once(':')?;
        (a, Some(p))
    } else {
        (v, None)
    };
    let port = match port {
        None | Some("*") => None,
        Some(p) => Some(p.parse().ok()?),
    };
    let net = if addr.is_empty() || addr == "*" {
        None
    } else {
        let (a, len) = match addr.split_once('/') {
            Some((a, l)) => (a, Some(l.parse::<u8>().ok()?)),
            None => (addr, None),
        };
        let ip: IpAddr = a.parse().ok()?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let len = len.unwrap_or(max);
        if len > max {
            return None;
        }
        Some((ip, len))
    };
    Some(HostCond { net, port })
}

fn in_prefix(a: IpAddr, net: IpAddr, len: u8) -> bool {
    let (a, n, bits) = match (a, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => (u32::from(a) as u128, u32::from(n) as u128, 32),
        (IpAddr::V6(a), IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128),
        // An IPv4 prefix also matches IPv4-mapped IPv6 sockets.
        (IpAddr::V6(a), IpAddr::V4(n)) => match a.to_ipv4_mapped() {
            Some(a) => (u32::from(a) as u128, u32::from(n) as u128, 32),
            None => return false,
        },
        _ => return false,
    };
    if len == 0 {
        return true;
    }
    let shift = bits - len as u32;
    (a >> shift) == (n >> shift)
}

fn host_matches(c: &HostCond, a: &SocketAddr) -> bool {
    c.port.is_none_or(|p| p == a.port()) && c.net.is_none_or(|(n, l)| in_prefix(a.ip(), n, l))
}

fn cmp(op: Op, a: u16, b: u16) -> bool {
    match op {
        Op::Eq => a == b,
        Op::Ne => a != b,
        Op::Lt => a < b,
        Op::Le => a <= b,
        Op::Gt => a > b,
        Op::Ge => a >= b,
    }
}

impl Expr {
    /// Whether a socket matches.
    pub fn matches(&self, s: &Socket) -> bool {
        match self {
            Expr::Sport(op, p) => cmp(*op, s.local.port(), *p),
            Expr::Dport(op, p) => cmp(*op, s.peer.port(), *p),
            Expr::Port(p) => s.local.port() == *p || s.peer.port() == *p,
            Expr::Src(c) => host_matches(c, &s.local),
            Expr::Dst(c) => host_matches(c, &s.peer),
            Expr::And(a, b) => a.matches(s) && b.matches(s),
            Expr::Or(a, b) => a.matches(s) || b.matches(s),
            Expr::Not(a) => !a.matches(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    fn sock(local: &str, peer: &str) -> Socket {
        Socket::tcp(
            st::ESTABLISHED,
            local.parse().unwrap(),
            peer.parse().unwrap(),
        )
    }

    #[test]
    fn states_and_expressions_as_ss_writes_them() {
        let f = parse(&words(
            "state time-wait exclude syn-recv sport = :22 or dport = :80",
        ))
        .unwrap();
        assert_eq!(f.states, Some(1 << st::TIME_WAIT));
        assert_eq!(f.excluded, 1 << st::SYN_RECV);
        let e = f.expr.unwrap();
        assert!(e.matches(&sock("10.0.0.1:22", "10.0.0.2:5000")));
        assert!(e.matches(&sock("10.0.0.1:5000", "10.0.0.2:80")));
        assert!(!e.matches(&sock("10.0.0.1:5000", "10.0.0.2:81")));
        // Operators glued to their words, words for operators, parentheses.
        let e = parse(&words("( sport>=:1024 and not dst 127.0.0.0/8 )"))
            .unwrap()
            .expr
            .unwrap();
        assert!(e.matches(&sock("10.0.0.1:5000", "10.0.0.2:80")));
        assert!(!e.matches(&sock("10.0.0.1:5000", "127.0.0.5:80")));
        assert!(!e.matches(&sock("10.0.0.1:80", "10.0.0.2:80")));
        let e = parse(&words("src [::1]:9292 dport ne 80"))
            .unwrap()
            .expr
            .unwrap();
        assert!(e.matches(&sock("[::1]:9292", "[::1]:5000")));
        assert!(!e.matches(&sock("[::1]:9292", "[::1]:80")));
        let e = parse(&words("dst *:9292")).unwrap().expr.unwrap();
        assert!(e.matches(&sock("127.0.0.1:5000", "127.0.0.1:9292")));
    }

    #[test]
    fn mistakes_name_the_word() {
        assert!(parse(&words("state timewait"))
            .unwrap_err()
            .contains("unknown state 'timewait'"));
        assert!(parse(&words("sport = :http"))
            .unwrap_err()
            .contains("':http'"));
        assert!(parse(&words("sport = :22 )"))
            .unwrap_err()
            .contains("unexpected ')'"));
        assert!(parse(&words("( sport = :22"))
            .unwrap_err()
            .contains("not closed"));
        assert!(parse(&words("dev eth0"))
            .unwrap_err()
            .contains("unknown word 'dev'"));
    }
}

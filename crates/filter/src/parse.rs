//! The pcap-filter language: tokens, and a parser to an expression tree.
//! Errors name the offending token and its column.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

/// A filter that does not parse: what, and where (0-based column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What is wrong.
    pub message: String,
    /// Column of the offending token.
    pub column: usize,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (column {})", self.message, self.column + 1)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Num(u32),
    Op(&'static str),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    col: usize,
    text: String,
}

const OPS: &[&str] = &[
    "&&", "||", "<<", ">>", "<=", ">=", "!=", "==", "(", ")", "[", "]", ":", "&", "|", "^", "+",
    "-", "*", "/", "%", "=", "<", ">", "!",
];

fn lex(s: &str) -> Result<Vec<Token>, ParseError> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    let mut brackets = 0usize;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        // Words: names, numbers, addresses (dots, colons of MACs and IPv6, slash of CIDR).
        // IPv6 addresses may start with "::".
        if c == b':' && b.get(i + 1) == Some(&b':') && brackets == 0 {
            let start = i;
            while i < b.len() && (b[i].is_ascii_hexdigit() || matches!(b[i], b':' | b'.' | b'/')) {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Word(s[start..i].to_string()),
                col: start,
                text: s[start..i].to_string(),
            });
            continue;
        }
        if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' {
            let start = i;
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'.' | b'-' | b'/'))
            {
                i += 1;
            }
            // MAC and IPv6 addresses contain colons: take them with the word
            // when what follows a colon is hex.
            while brackets == 0
                && i + 1 < b.len()
                && b[i] == b':'
                && (b[i + 1].is_ascii_hexdigit() || b[i + 1] == b':')
                && looks_like_address(&s[start..i])
            {
                i += 1;
                while i < b.len()
                    && (b[i].is_ascii_hexdigit() || matches!(b[i], b':' | b'.' | b'/'))
                {
                    i += 1;
                }
            }
            let text = &s[start..i];
            // "tcp-syn" is a word; "5-3" is arithmetic.
            let text = if text.contains('-') && text.as_bytes()[0].is_ascii_digit() {
                let cut = text.find('-').unwrap_or(text.len());
                i = start + cut;
                &s[start..start + cut]
            } else {
                text
            };
            let tok = match parse_num(text) {
                Some(n) => Tok::Num(n),
                None if is_number(text) => {
                    return Err(ParseError {
                        message: format!("number {text} overflows 32 bits"),
                        column: start,
                    })
                }
                None => Tok::Word(text.to_string()),
            };
            out.push(Token {
                tok,
                col: start,
                text: text.to_string(),
            });
            continue;
        }
        match OPS.iter().find(|op| s[i..].starts_with(**op)) {
            Some(op) => {
                match *op {
                    "[" => brackets += 1,
                    "]" => brackets = brackets.saturating_sub(1),
                    _ => {}
                }
                out.push(Token {
                    tok: Tok::Op(op),
                    col: i,
                    text: op.to_string(),
                });
                i += op.len();
            }
            None => {
                return Err(ParseError {
                    message: format!(
                        "unexpected character '{}'",
                        &s[i..].chars().next().unwrap_or('?')
                    ),
                    column: i,
                });
            }
        }
    }
    Ok(out)
}

fn looks_like_address(prefix: &str) -> bool {
    !prefix.is_empty() && prefix.len() <= 4 && prefix.bytes().all(|c| c.is_ascii_hexdigit())
}

/// Whether `s` is written as a number (decimal, octal or 0x hex), whatever
/// its size.
fn is_number(s: &str) -> bool {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => !h.is_empty() && h.bytes().all(|c| c.is_ascii_hexdigit()),
        None => !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()),
    }
}

fn parse_num(s: &str) -> Option<u32> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u32::from_str_radix(h, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') && s.bytes().all(|c| c.is_ascii_digit()) {
        u32::from_str_radix(&s[1..], 8).ok()
    } else if s.bytes().all(|c| c.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// Protocol qualifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Proto {
    Ether,
    Ip,
    Ip6,
    Arp,
    Rarp,
    Tcp,
    Udp,
    Icmp,
    Icmp6,
    Sctp,
}

fn proto_word(w: &str) -> Option<Proto> {
    Some(match w {
        "ether" => Proto::Ether,
        "ip" => Proto::Ip,
        "ip6" => Proto::Ip6,
        "arp" => Proto::Arp,
        "rarp" => Proto::Rarp,
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        "icmp" => Proto::Icmp,
        "icmp6" => Proto::Icmp6,
        "sctp" => Proto::Sctp,
        _ => return None,
    })
}

/// Direction qualifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Dir {
    Src,
    Dst,
    SrcOrDst,
    SrcAndDst,
}

/// A primitive.
#[derive(Clone, Debug, PartialEq)]
pub enum Prim {
    /// `tcp`, `ip6`, `arp` ...
    Proto(Proto),
    /// `[proto] [dir] host ADDR`.
    Host(Option<Proto>, Dir, IpAddr),
    /// `[dir] net ADDR/LEN` (IPv4 or IPv6) with its mask bits.
    Net(Dir, IpAddr, u8),
    /// `[tcp|udp] [dir] port LO[-HI]`.
    Port(Option<Proto>, Dir, u16, u16),
    /// `ether [dir] host MAC`.
    EtherHost(Dir, [u8; 6]),
    /// `ether proto N` (or a name: ip, ip6, arp).
    EtherProto(u16),
    /// `ip proto N`, `ip6 proto N`, or `proto N` (both).
    IpProto(Option<Proto>, u8),
    /// `vlan [ID]`: and what follows looks past the tag.
    Vlan(Option<u16>),
    /// `less N`: length <= N.
    Less(u32),
    /// `greater N`: length >= N.
    Greater(u32),
}

/// Arithmetic over packet bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum Arith {
    /// A constant.
    Num(u32),
    /// The packet's length.
    Len,
    /// `proto[index : size]`.
    Load(Proto, Box<Arith>, u8),
    /// A binary operation (one of + - * / % & | ^ << >>).
    Bin(&'static str, Box<Arith>, Box<Arith>),
}

/// A filter expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// Both.
    And(Box<Expr>, Box<Expr>),
    /// Either.
    Or(Box<Expr>, Box<Expr>),
    /// Not.
    Not(Box<Expr>),
    /// A primitive.
    Prim(Prim),
    /// A comparison (one of = == != < <= > >=).
    Rel(Arith, &'static str, Arith),
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    end_col: usize,
    /// Qualifiers of the last primitive, for `port 80 or 443`.
    last: Option<(Option<Proto>, Dir, &'static str)>,
    /// Levels of parentheses, `not` and `[` open now.
    depth: usize,
    /// Arithmetic operators seen.
    operators: usize,
    /// Whether host names are looked up (the second pass, once the whole
    /// expression parsed without them).
    resolve: bool,
}

/// How deeply parentheses, `not` and `proto[...]` may nest. Parsing and
/// compiling recurse once per level; this bound keeps them far inside a
/// thread's stack (tcpdump's parser stops near 3,300 levels with "memory
/// exhausted").
pub const MAX_NESTING: usize = 200;

/// How many arithmetic operators an expression may hold (an arithmetic
/// chain compiles recursively, one level per operator).
pub const MAX_OPERATORS: usize = 1000;

/// `and`/`or` chains longer than this are compiled as balanced trees (the
/// same truth, evaluated in the same order, but nesting log2(n) deep).
const BALANCE_ABOVE: usize = 16;

/// Parse a filter expression. An empty expression matches everything (`None`).
pub fn parse(s: &str) -> Result<Option<Expr>, ParseError> {
    let toks = lex(s)?;
    if toks.is_empty() {
        return Ok(None);
    }
    // First without looking up host names, so that a syntax error is
    // reported at once and no name is resolved that was not in a host
    // position of a valid expression; then again, resolving them.
    for resolve in [false, true] {
        let mut p = Parser {
            toks: toks.clone(),
            pos: 0,
            end_col: s.len(),
            last: None,
            depth: 0,
            operators: 0,
            resolve,
        };
        let e = p.or()?;
        if p.pos < p.toks.len() {
            return Err(p.err_here("syntax error"));
        }
        if resolve || !p.has_names() {
            return Ok(Some(e));
        }
    }
    unreachable!("the second pass returns")
}

/// `terms` joined by `join`, left to right; long chains as a balanced tree.
fn chain(mut terms: Vec<Expr>, join: fn(Box<Expr>, Box<Expr>) -> Expr) -> Expr {
    if terms.len() > BALANCE_ABOVE {
        let right = terms.split_off(terms.len() / 2);
        return join(Box::new(chain(terms, join)), Box::new(chain(right, join)));
    }
    let mut it = terms.into_iter();
    let first = it.next().expect("a chain has a first term");
    it.fold(first, |e, r| join(Box::new(e), Box::new(r)))
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }
    fn peek_word(&self) -> Option<&str> {
        match self.peek() {
            Some(Tok::Word(w)) => Some(w.as_str()),
            _ => None,
        }
    }
    fn err_here(&self, what: &str) -> ParseError {
        match self.toks.get(self.pos) {
            Some(t) => ParseError {
                message: format!("{what} at '{}'", t.text),
                column: t.col,
            },
            None => ParseError {
                message: format!("{what} at the end of the expression"),
                column: self.end_col,
            },
        }
    }
    fn eat_op(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Op(o)) if *o == op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn eat_word(&mut self, w: &str) -> bool {
        if self.peek_word() == Some(w) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Whether the expression holds a word in a host position that is not
    /// an address (a name to look up).
    fn has_names(&self) -> bool {
        self.toks
            .iter()
            .any(|t| matches!(&t.tok, Tok::Word(w) if !is_keyword(w)))
    }

    /// Enter one more level of nesting, or say that it is too deep.
    fn deeper(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            let t = &self.toks[self.pos.saturating_sub(1)];
            return Err(ParseError {
                message: format!(
                    "expression nested too deeply: more than {MAX_NESTING} levels of parentheses, 'not' or brackets at '{}'",
                    t.text
                ),
                column: t.col,
            });
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut terms = vec![self.and()?];
        while self.eat_word("or") || self.eat_op("||") {
            terms.push(self.and()?);
        }
        Ok(chain(terms, Expr::Or))
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut terms = vec![self.unary()?];
        while self.eat_word("and") || self.eat_op("&&") {
            terms.push(self.unary()?);
        }
        Ok(chain(terms, Expr::And))
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.eat_word("not") || self.eat_op("!") {
            self.deeper()?;
            let e = Expr::Not(Box::new(self.unary()?));
            self.depth -= 1;
            return Ok(e);
        }
        // A comparison, when what starts here is arithmetic followed by a
        // relation. `len`, a named constant or `proto[` can only start one: commit
        // to it so that its errors are reported. A '(' or a number (an id, as in
        // `port 80 or 443`) may start either.
        let committed = match self.peek() {
            Some(Tok::Word(w)) => {
                w == "len"
                    || named_constant(w).is_some()
                    || (proto_word(w).is_some()
                        && matches!(
                            self.toks.get(self.pos + 1).map(|t| &t.tok),
                            Some(Tok::Op("["))
                        ))
            }
            _ => false,
        };
        if committed {
            let lhs = self.arith()?;
            let Some(Tok::Op(op)) = self.peek().cloned() else {
                return Err(self.err_here("expected a comparison (=, !=, <, <=, >, >=)"));
            };
            if !matches!(op, "=" | "==" | "!=" | "<" | "<=" | ">" | ">=") {
                return Err(self.err_here("expected a comparison (=, !=, <, <=, >, >=)"));
            }
            self.pos += 1;
            let rhs = self.arith()?;
            return Ok(Expr::Rel(lhs, op, rhs));
        }
        let save = self.pos;
        let (depth, operators) = (self.depth, self.operators);
        let attempt = self.arith();
        if let Err(e) = &attempt {
            if e.message.starts_with("expression nested too deeply")
                || e.message.starts_with("arithmetic expression too long")
            {
                return Err(e.clone());
            }
        }
        (self.depth, self.operators) = (depth, operators);
        if let Ok(lhs) = attempt {
            if let Some(Tok::Op(op)) = self.peek().cloned() {
                if matches!(op, "=" | "==" | "!=" | "<" | "<=" | ">" | ">=") {
                    self.pos += 1;
                    let rhs = self.arith()?;
                    return Ok(Expr::Rel(lhs, op, rhs));
                }
            }
        }
        self.pos = save;
        if self.eat_op("(") {
            self.deeper()?;
            let e = self.or()?;
            if !self.eat_op(")") {
                return Err(self.err_here("expected ')'"));
            }
            self.depth -= 1;
            return Ok(e);
        }
        self.primitive()
    }

    fn primitive(&mut self) -> Result<Expr, ParseError> {
        let start = self.pos;
        let Some(tok) = self.toks.get(self.pos).cloned() else {
            return Err(self.err_here("expected a primitive"));
        };
        // less / greater / vlan.
        if let Tok::Word(w) = &tok.tok {
            match w.as_str() {
                "less" | "greater" => {
                    self.pos += 1;
                    let n = self.number()?;
                    return Ok(Expr::Prim(if w == "less" {
                        Prim::Less(n)
                    } else {
                        Prim::Greater(n)
                    }));
                }
                "vlan" => {
                    self.pos += 1;
                    let id = match self.peek() {
                        Some(Tok::Num(n)) => {
                            let n = *n;
                            self.pos += 1;
                            Some(n as u16)
                        }
                        _ => None,
                    };
                    return Ok(Expr::Prim(Prim::Vlan(id)));
                }
                _ => {}
            }
        }
        // Qualifiers: [proto] [dir] [type] id
        let mut proto = None;
        let mut dir = None;
        let mut kind: Option<&'static str> = None;
        if let Some(p) = self.peek_word().and_then(proto_word) {
            proto = Some(p);
            self.pos += 1;
        }
        if self.eat_word("src") {
            dir = Some(if self.eat_word("or") && self.eat_word("dst") {
                Dir::SrcOrDst
            } else if self.toks.get(self.pos - 1).map(|t| t.text.as_str()) == Some("and") {
                Dir::SrcAndDst
            } else if self.eat_word("and") && self.eat_word("dst") {
                Dir::SrcAndDst
            } else {
                Dir::Src
            });
        } else if self.eat_word("dst") {
            dir = Some(if self.eat_word("or") && self.eat_word("src") {
                Dir::SrcOrDst
            } else if self.eat_word("and") && self.eat_word("src") {
                Dir::SrcAndDst
            } else {
                Dir::Dst
            });
        }
        for k in ["host", "net", "port", "portrange", "proto"] {
            if self.eat_word(k) {
                kind = Some(k);
                break;
            }
        }
        if kind.is_none() && dir.is_none() {
            // A bare protocol ("tcp"), or a bare id inheriting the last qualifiers.
            let bare_id = matches!(self.peek(), Some(Tok::Num(_)))
                || self.peek_word().is_some_and(|w| !is_keyword(w));
            if let Some(p) = proto {
                if !bare_id || p == Proto::Ether {
                    if p == Proto::Ether && bare_id {
                        return Err(
                            self.err_here("expected host, proto or a direction after 'ether'")
                        );
                    }
                    return Ok(Expr::Prim(Prim::Proto(p)));
                }
            }
            if bare_id && proto.is_none() {
                match self.last {
                    Some((lp, ld, lk)) => {
                        proto = lp;
                        dir = Some(ld);
                        kind = Some(lk);
                    }
                    None => kind = Some("host"),
                }
            } else if bare_id {
                kind = Some("host");
            }
        }
        let dir = dir.unwrap_or(Dir::SrcOrDst);
        let kind = kind.unwrap_or("host");
        self.last = Some((proto, dir, kind));
        let Some(id) = self.toks.get(self.pos).cloned() else {
            return Err(self.err_here("expected an address, port or number"));
        };
        match &id.tok {
            // `proto tcp`, `ether proto ip`: the id is a protocol's name.
            _ if kind == "proto" => {}
            Tok::Word(w) if is_keyword(w) => return Err(self.err_here("syntax error")),
            Tok::Word(w) if TCPDUMP_KEYWORDS.contains(&w.as_str()) => {
                return Err(ParseError {
                    message: format!(
                        "'{w}' is a tcpdump filter keyword that tcpscope's filter does not support"
                    ),
                    column: id.col,
                })
            }
            Tok::Op(_) => return Err(self.err_here("syntax error")),
            _ => {}
        }
        self.pos += 1;
        let text = id.text.clone();
        let bad = |what: &str| ParseError {
            message: format!("{what} '{text}'"),
            column: id.col,
        };
        let prim = match kind {
            "port" | "portrange" => {
                let lo = match id.tok {
                    Tok::Num(n) => n,
                    _ => service_port(&text).ok_or_else(|| bad("unknown port"))?,
                };
                // "1000-2000" lexes as 1000, -, 2000.
                let hi = if self.eat_op("-") { self.number()? } else { lo };
                Prim::Port(
                    proto,
                    dir,
                    port16(lo.min(hi), &id)?,
                    port16(lo.max(hi), &id)?,
                )
            }
            "proto" => {
                let n = match id.tok {
                    Tok::Num(n) => n,
                    _ => match (proto, text.as_str()) {
                        (Some(Proto::Ether), "ip") => 0x800,
                        (Some(Proto::Ether), "ip6") => 0x86dd,
                        (Some(Proto::Ether), "arp") => 0x806,
                        (_, "tcp") => 6,
                        (_, "udp") => 17,
                        (_, "icmp") => 1,
                        (_, "icmp6") => 58,
                        (_, "sctp") => 132,
                        _ => return Err(bad("unknown protocol")),
                    },
                };
                if proto == Some(Proto::Ether) {
                    Prim::EtherProto(n as u16)
                } else {
                    if n > 255 {
                        return Err(bad("protocol number out of range"));
                    }
                    Prim::IpProto(proto, n as u8)
                }
            }
            "net" => {
                let (addr, bits) = parse_net(&text, self, &id)?;
                Prim::Net(dir, addr, bits)
            }
            _ => {
                if proto == Some(Proto::Ether) {
                    Prim::EtherHost(
                        dir,
                        parse_mac(&text).ok_or_else(|| bad("not a MAC address"))?,
                    )
                } else {
                    let addr = match text.parse::<IpAddr>() {
                        Ok(a) => a,
                        Err(_) => {
                            if let Tok::Num(_) = id.tok {
                                return Err(bad("not a host address"));
                            }
                            if !self.resolve {
                                // The first pass: any address will do.
                                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
                            } else {
                                resolve(&text).ok_or_else(|| bad("cannot resolve host name"))?
                            }
                        }
                    };
                    Prim::Host(proto, dir, addr)
                }
            }
        };
        let _ = start;
        Ok(Expr::Prim(prim))
    }

    fn number(&mut self) -> Result<u32, ParseError> {
        match self.peek() {
            Some(Tok::Num(n)) => {
                let n = *n;
                self.pos += 1;
                Ok(n)
            }
            _ => Err(self.err_here("expected a number")),
        }
    }

    // ---- arithmetic, lowest precedence first ----
    fn arith(&mut self) -> Result<Arith, ParseError> {
        self.binary(0)
    }

    fn binary(&mut self, level: usize) -> Result<Arith, ParseError> {
        const LEVELS: &[&[&str]] = &[
            &["|"],
            &["^"],
            &["&"],
            &["<<", ">>"],
            &["+", "-"],
            &["*", "/", "%"],
        ];
        if level == LEVELS.len() {
            return self.operand();
        }
        let mut e = self.binary(level + 1)?;
        loop {
            let Some(Tok::Op(op)) = self.peek().cloned() else {
                break;
            };
            if !LEVELS[level].contains(&op) {
                break;
            }
            self.pos += 1;
            self.operators += 1;
            if self.operators > MAX_OPERATORS {
                return Err(ParseError {
                    message: format!(
                        "arithmetic expression too long: more than {MAX_OPERATORS} operators"
                    ),
                    column: self.toks[self.pos - 1].col,
                });
            }
            let r = self.binary(level + 1)?;
            e = Arith::Bin(op, Box::new(e), Box::new(r));
        }
        Ok(e)
    }

    fn operand(&mut self) -> Result<Arith, ParseError> {
        match self.peek().cloned() {
            Some(Tok::Num(n)) => {
                self.pos += 1;
                Ok(Arith::Num(n))
            }
            Some(Tok::Op("(")) => {
                self.pos += 1;
                self.deeper()?;
                let e = self.arith()?;
                if !self.eat_op(")") {
                    return Err(self.err_here("expected ')'"));
                }
                self.depth -= 1;
                Ok(e)
            }
            Some(Tok::Word(w)) => {
                if w == "len" {
                    self.pos += 1;
                    return Ok(Arith::Len);
                }
                if let Some(v) = named_constant(&w) {
                    self.pos += 1;
                    return Ok(Arith::Num(v));
                }
                let Some(p) = proto_word(&w) else {
                    return Err(self.err_here("expected a number"));
                };
                if !matches!(
                    self.toks.get(self.pos + 1).map(|t| &t.tok),
                    Some(Tok::Op("["))
                ) {
                    return Err(self.err_here("expected '['"));
                }
                self.pos += 2;
                self.deeper()?;
                let idx = self.arith()?;
                self.depth -= 1;
                let size = if self.eat_op(":") {
                    let n = self.number()?;
                    if !matches!(n, 1 | 2 | 4) {
                        return Err(self.err_here_prev("size must be 1, 2 or 4"));
                    }
                    n as u8
                } else {
                    1
                };
                if !self.eat_op("]") {
                    return Err(self.err_here("expected ']'"));
                }
                Ok(Arith::Load(p, Box::new(idx), size))
            }
            _ => Err(self.err_here("expected a number")),
        }
    }

    fn err_here_prev(&self, what: &str) -> ParseError {
        let t = &self.toks[self.pos.saturating_sub(1)];
        ParseError {
            message: format!("{what}, not '{}'", t.text),
            column: t.col,
        }
    }
}

fn port16(v: u32, id: &Token) -> Result<u16, ParseError> {
    u16::try_from(v).map_err(|_| ParseError {
        message: format!("port out of range '{}'", id.text),
        column: id.col,
    })
}

/// tcpdump's filter keywords that tcpscope's filter does not take: in a
/// host position they are an error, never a name to look up.
const TCPDUMP_KEYWORDS: &[&str] = &[
    "gateway",
    "netmask",
    "protochain",
    "byte",
    "igmp",
    "igrp",
    "pim",
    "vrrp",
    "carp",
    "radio",
    "ah",
    "esp",
    "atalk",
    "aarp",
    "decnet",
    "lat",
    "sca",
    "moprc",
    "mopdl",
    "iso",
    "esis",
    "es-is",
    "isis",
    "l1",
    "l2",
    "iih",
    "lsp",
    "snp",
    "csnp",
    "psnp",
    "clnp",
    "stp",
    "ipx",
    "netbeui",
    "inbound",
    "outbound",
    "ifindex",
    "mpls",
    "pppoed",
    "pppoes",
    "geneve",
    "lane",
    "llc",
    "metac",
    "bcc",
    "oam",
    "oamf4",
    "oamf4ec",
    "oamf4sc",
    "sc",
    "ilmic",
    "vpi",
    "vci",
    "connectmsg",
    "metaconnect",
    "on",
    "ifname",
    "rnr",
    "rulenum",
    "reason",
    "rset",
    "srnr",
    "subrulenum",
    "action",
    "wlan",
    "type",
    "subtype",
    "direction",
    "dir",
    "ra",
    "ta",
    "addr1",
    "addr2",
    "addr3",
    "addr4",
    "fisu",
    "lssu",
    "lsu",
    "msu",
    "hfisu",
    "hlssu",
    "hmsu",
    "sio",
    "opc",
    "dpc",
    "sls",
    "hsio",
    "hopc",
    "hdpc",
    "hsls",
    "broadcast",
    "multicast",
];

fn is_keyword(w: &str) -> bool {
    matches!(
        w,
        "and"
            | "or"
            | "not"
            | "host"
            | "net"
            | "port"
            | "portrange"
            | "proto"
            | "src"
            | "dst"
            | "less"
            | "greater"
            | "vlan"
            | "len"
    ) || proto_word(w).is_some()
}

fn named_constant(w: &str) -> Option<u32> {
    Some(match w {
        "tcpflags" => 13,
        "icmptype" => 0,
        "icmpcode" => 1,
        "icmp6type" => 0,
        "tcp-fin" => 0x01,
        "tcp-syn" => 0x02,
        "tcp-rst" => 0x04,
        "tcp-push" => 0x08,
        "tcp-ack" => 0x10,
        "tcp-urg" => 0x20,
        "tcp-ece" => 0x40,
        "tcp-cwr" => 0x80,
        "icmp-echoreply" => 0,
        "icmp-unreach" => 3,
        "icmp-echo" => 8,
        "icmp-timxceed" => 11,
        _ => return None,
    })
}

fn service_port(name: &str) -> Option<u32> {
    Some(match name {
        "http" => 80,
        "https" => 443,
        "ssh" => 22,
        "domain" => 53,
        "smtp" => 25,
        "ftp" => 21,
        "telnet" => 23,
        "bgp" => 179,
        "whois" => 43,
        "redis" => 6379,
        _ => return None,
    })
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = s.split([':', '-', '.']).collect();
    if parts.len() != 6 {
        return None;
    }
    let mut m = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        m[i] = u8::from_str_radix(p, 16).ok()?;
    }
    Some(m)
}

/// `net` arguments: CIDR, `net A mask M`, or a dotted prefix ("10.1").
fn parse_net(text: &str, p: &mut Parser, id: &Token) -> Result<(IpAddr, u8), ParseError> {
    let bad = |what: &str| ParseError {
        message: format!("{what} '{text}'"),
        column: id.col,
    };
    if let Some((a, bits)) = text.split_once('/') {
        let addr: IpAddr = a
            .parse()
            .or_else(|_| dotted_prefix(a).map(|(a, _)| IpAddr::V4(a)).ok_or(()))
            .map_err(|_| bad("not a network"))?;
        let bits: u8 = bits.parse().map_err(|_| bad("bad prefix length in"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if bits > max {
            return Err(bad("prefix length too long in"));
        }
        return Ok((addr, bits));
    }
    if p.eat_word("mask") {
        let m = p
            .toks
            .get(p.pos)
            .cloned()
            .ok_or_else(|| p.err_here("expected a mask"))?;
        p.pos += 1;
        let mask: Ipv4Addr = m.text.parse().map_err(|_| ParseError {
            message: format!("not a mask '{}'", m.text),
            column: m.col,
        })?;
        let bits = u32::from(mask).leading_ones() as u8;
        let addr: Ipv4Addr = text.parse().map_err(|_| bad("not a network"))?;
        return Ok((IpAddr::V4(addr), bits));
    }
    if let Ok(a) = text.parse::<IpAddr>() {
        return Ok((a, if a.is_ipv4() { 32 } else { 128 }));
    }
    let (a, bits) = dotted_prefix(text).ok_or_else(|| bad("not a network"))?;
    Ok((IpAddr::V4(a), bits))
}

/// "10" is 10.0.0.0/8, "10.1" 10.1.0.0/16, "10.1.2" 10.1.2.0/24.
fn dotted_prefix(s: &str) -> Option<(Ipv4Addr, u8)> {
    let parts: Vec<u8> = s
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<Vec<u8>>>()?;
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut b = [0u8; 4];
    b[..parts.len()].copy_from_slice(&parts);
    Some((Ipv4Addr::from(b), 8 * parts.len() as u8))
}

/// Host names are resolved once, when the filter is parsed.
#[cfg(not(fuzzing))]
fn resolve(name: &str) -> Option<IpAddr> {
    use std::net::ToSocketAddrs;
    let addrs: Vec<IpAddr> = (name, 0).to_socket_addrs().ok()?.map(|a| a.ip()).collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
}

/// Under the fuzzer no name goes to a resolver: it would spend the run
/// waiting on the network, and test nothing of ours.
#[cfg(fuzzing)]
fn resolve(name: &str) -> Option<IpAddr> {
    (name == "localhost").then_some(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implicit_qualifiers_carry_over() {
        let e = parse("port 80 or 443").unwrap().unwrap();
        let Expr::Or(_, b) = e else { panic!() };
        assert_eq!(*b, Expr::Prim(Prim::Port(None, Dir::SrcOrDst, 443, 443)));
    }

    #[test]
    fn errors_point_at_the_token() {
        // A typo is a syntax error found before any name is looked up.
        let e = parse("tcp and prot 80").unwrap_err();
        assert_eq!(e.column, 13);
        assert_eq!(e.message, "syntax error at '80'");
        let e = parse("tcp and host nosuch.invalid").unwrap_err();
        assert_eq!(e.column, 13);
        assert_eq!(e.message, "cannot resolve host name 'nosuch.invalid'");
        let e = parse("port 80 and (tcp or").unwrap_err();
        assert!(e.message.contains("end of the expression"), "{e}");
        let e = parse("tcp[13] & ").unwrap_err();
        assert!(e.message.contains("end of the expression"), "{e}");
    }

    #[test]
    fn flags_and_accessors() {
        let e = parse("tcp[tcpflags] & (tcp-syn|tcp-ack) != 0")
            .unwrap()
            .unwrap();
        assert!(matches!(
            e,
            Expr::Rel(Arith::Bin("&", _, _), "!=", Arith::Num(0))
        ));
        assert!(parse("(tcp[13] & 2) != 0").unwrap().is_some());
        assert!(parse("ip[2:2] > 100").unwrap().is_some());
    }
}

//! pcap-filter expressions: `host`, `net`, `port`, `portrange`, the
//! `src`/`dst` qualifiers, protocol names, `ether host`/`ether proto`,
//! `vlan`, `less`/`greater`, `len`, accessors such as `tcp[13]` and
//! `ip[2:2]` with `tcp[tcpflags]` and the `tcp-syn`... constants, arithmetic,
//! comparisons and `and`/`or`/`not` (also `&&`, `||`, `!`), with tcpdump's
//! implicit qualifiers (`port 80 or 443`).
//!
//! An expression compiles to classic BPF for a link type, with the protocol
//! checks tcpdump makes. The same program runs in the kernel for a live
//! capture and in [`bpf::run`] for a file, so both select the same packets.
//!
//! ```
//! let f = tcpscope_filter::Filter::new("tcp and port 80", 1).unwrap();
//! assert!(f.program().len() > 5);
//! ```
#![deny(missing_docs)]

pub mod bpf;
pub mod compile;
pub mod parse;

pub use bpf::Insn;
pub use compile::CompileError;
pub use parse::ParseError;

/// A compiled filter for one link type.
#[derive(Clone, Debug)]
pub struct Filter {
    prog: Vec<Insn>,
}

/// Either failure, with a message for the user.
#[derive(Debug, Clone)]
pub enum FilterError {
    /// The expression does not parse.
    Parse(ParseError),
    /// It cannot be compiled for this link type.
    Compile(CompileError),
}

impl std::fmt::Display for FilterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FilterError::Parse(e) => e.fmt(f),
            FilterError::Compile(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for FilterError {}

/// The snapshot length an accepting program returns.
pub const SNAPLEN: u32 = 262_144;

impl Filter {
    /// Parse and compile `expr` for `linktype`.
    pub fn new(expr: &str, linktype: u32) -> Result<Filter, FilterError> {
        let e = parse::parse(expr).map_err(FilterError::Parse)?;
        let prog = compile::compile(e.as_ref(), linktype, SNAPLEN).map_err(FilterError::Compile)?;
        Ok(Filter { prog })
    }
    /// The program.
    pub fn program(&self) -> &[Insn] {
        &self.prog
    }
    /// Whether a frame passes.
    pub fn matches(&self, data: &[u8], wirelen: u32) -> bool {
        bpf::run(&self.prog, data, wirelen) != 0
    }
}

//! A lab's expectations, each checked against one of the four sources.

use serde::Serialize;

/// Where a check looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The captured packets.
    Wire,
    /// The kernel's tracepoints and sockets.
    Kernel,
    /// The namespaces' MIB counters.
    Counters,
    /// The applications' calls.
    App,
    /// What tcpscope inferred from the capture.
    Tcpscope,
}

impl Source {
    /// The source's name.
    pub fn name(self) -> &'static str {
        match self {
            Source::Wire => "wire",
            Source::Kernel => "kernel",
            Source::Counters => "counters",
            Source::App => "app",
            Source::Tcpscope => "tcpscope",
        }
    }
}

/// One expectation and whether it held.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// Where it looks.
    pub source: Source,
    /// What is expected, in words.
    pub expect: String,
    /// Whether it held; null when its source was not recorded (the
    /// kernel's account without privilege).
    pub passed: Option<bool>,
    /// What was seen.
    pub saw: String,
}

impl Check {
    /// A check that holds when `ok`.
    pub fn new(
        source: Source,
        expect: impl Into<String>,
        ok: bool,
        saw: impl Into<String>,
    ) -> Check {
        Check {
            source,
            expect: expect.into(),
            passed: Some(ok),
            saw: saw.into(),
        }
    }

    /// A check of the kernel's account, or left out when there is none.
    pub fn kernel(
        have: bool,
        expect: impl Into<String>,
        ok: bool,
        saw: impl Into<String>,
    ) -> Check {
        Check {
            source: Source::Kernel,
            expect: expect.into(),
            passed: have.then_some(ok),
            saw: if have {
                saw.into()
            } else {
                "not recorded".into()
            },
        }
    }
}

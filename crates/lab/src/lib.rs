//! `tcpscope lab`: each TCP phenomenon made to happen for real, on this
//! kernel, in network namespaces of the lab's own, captured, explained and
//! checked.
//!
//! A lab ([`Lab`]) says what link it wants ([`link::LinkSpec`]: delay,
//! rate, loss, chosen drops), which sysctls to set in which namespace, and
//! what its client and server applications do ([`app::App`]: every socket
//! call logged with its errno). The runner ([`run`]) builds the world
//! ([`env::Env`]: two namespaces joined by the user-space link, a capture on
//! the client's end, the kernel's tracepoints, both namespaces' counters),
//! lets the lab's applications run, gathers a [`env::Record`], reads the
//! capture with tcpscope's own tracker ([`analysis::Analysis`]) and checks
//! the lab's expectations against the four sources ([`check::Check`]).
//!
//! Nothing outside the lab's namespaces is touched: they exist only as long
//! as the process does.
#![deny(missing_docs)]

pub mod agreement;
pub mod analysis;
pub mod app;
pub mod check;
pub mod env;
pub mod labs;
pub mod link;
pub mod netns;
pub mod raw;
pub mod render;
pub mod veth;

use std::path::Path;
use std::time::Duration;

use analysis::Analysis;
use check::Check;
use env::{Env, Host, Record};
use link::LinkSpec;

/// Why a lab could not run.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// Building the lab's world failed at this step.
    #[error("{0}: {1}")]
    Setup(&'static str, #[source] std::io::Error),
    /// The capture failed.
    #[error("capture: {0}")]
    Capture(String),
    /// The lab's applications failed in a way the lab did not expect.
    #[error("{0}")]
    App(String),
}

/// What a lab explains, beside the evidence.
pub struct Explanation {
    /// What happened and why, in a few sentences.
    pub what: &'static str,
    /// The settings and application changes that tune it.
    pub tune: &'static [&'static str],
    /// What to look for in production.
    pub production: &'static str,
}

/// One phenomenon.
pub trait Lab: Sync {
    /// Its name (`handshake`).
    fn name(&self) -> &'static str;
    /// What it shows, in one line (`lab list`).
    fn what(&self) -> &'static str;
    /// The link between client and server.
    fn link(&self) -> LinkSpec {
        LinkSpec {
            delay: Duration::from_millis(5),
            ..LinkSpec::default()
        }
    }
    /// Sysctls to set, in the client's or the server's namespace.
    fn sysctls(&self) -> Vec<(Host, &'static str, String)> {
        Vec::new()
    }
    /// The end of the link the capture sits at: what was lost on the way
    /// to it is missing from the capture, what is lost after it shows.
    fn capture_at(&self) -> Host {
        Host::Client
    }
    /// Make it happen: the applications' calls.
    fn run(&self, env: &Env) -> Result<(), LabError>;
    /// How long the last packets get to cross before the record is taken.
    fn settle(&self) -> Duration {
        Duration::from_millis(300)
    }
    /// The connection to draw and show in full.
    fn key_conn(&self) -> u64 {
        1
    }
    /// The expectations, checked.
    fn checks(&self, r: &Record, a: &Analysis) -> Vec<Check>;
    /// What it means.
    fn explain(&self) -> Explanation;
}

/// A lab's outcome.
pub struct Outcome {
    /// The lab's name.
    pub name: &'static str,
    /// What it recorded.
    pub record: Record,
    /// What tcpscope made of the capture.
    pub analysis: Analysis,
    /// What tcpscope made of the capture up to the instant the kernel's
    /// sockets were listed: what the agreement compares with them.
    pub at_listing: Analysis,
    /// Its checks.
    pub checks: Vec<Check>,
    /// The sysctls it set.
    pub sysctls: Vec<(Host, &'static str, String)>,
}

impl Outcome {
    /// Whether every check that could be made held.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed != Some(false))
    }
}

/// Run one lab, keeping its capture in `pcap`; `trace` asks for the
/// kernel's tracepoints (root or CAP_PERFMON).
pub fn run(lab: &dyn Lab, pcap: &Path, trace: bool) -> Result<Outcome, LabError> {
    let sysctls = lab.sysctls();
    let env = Env::start(lab.link(), &sysctls, lab.capture_at(), pcap, trace)?;
    lab.run(&env)?;
    let record = env.finish(lab.settle())?;
    let analysis = Analysis::of(&record.pcap)?;
    let at_listing = Analysis::until(&record.pcap, record.sockets_listed_at)?;
    let checks = lab.checks(&record, &analysis);
    Ok(Outcome {
        name: lab.name(),
        record,
        analysis,
        at_listing,
        checks,
        sysctls,
    })
}

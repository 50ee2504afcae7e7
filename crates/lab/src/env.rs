//! A lab's world: a client and a server namespace joined by the link, a
//! capture on the client's end of the link, the kernel's tracepoints, the
//! counters of both namespaces, and the applications' log. [`Env::finish`]
//! turns all of it into a [`Record`].

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tcpscope_capture::live::{Live, LiveOptions};
use tcpscope_capture::{Precision, WriteFormat, Writer};
use tcpscope_kernel::counters::Snapshot;
use tcpscope_kernel::diag::{self, Socket};
use tcpscope_kernel::doctor::{findings, Evidence as DoctorEvidence, Finding, SETTINGS_READ};
use tcpscope_kernel::trace::{monotonic_ns, TcpEvent, Tracer};

use crate::app::{AppCall, AppLog};
use crate::link::{self, LinkSpec, LinkStats, Relay, CLIENT_ADDR, SERVER_ADDR};
use crate::netns::Netns;
use crate::LabError;

/// The server's port in every lab.
pub const PORT: u16 = 9000;

/// Which namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Host {
    /// The client's namespace.
    Client,
    /// The server's namespace.
    Server,
}

impl Host {
    /// "client" or "server".
    pub fn name(self) -> &'static str {
        match self {
            Host::Client => "client",
            Host::Server => "server",
        }
    }
    /// The host an address on the link belongs to.
    pub fn of(addr: &SocketAddr) -> Option<Host> {
        match addr.ip() {
            IpAddr::V4(a) if a == CLIENT_ADDR => Some(Host::Client),
            IpAddr::V4(a) if a == SERVER_ADDR => Some(Host::Server),
            _ => None,
        }
    }
}

/// Everything a lab recorded, to check and to show.
pub struct Record {
    /// The capture file (pcap, nanoseconds), at one end of the link.
    pub pcap: PathBuf,
    /// The end of the link it was taken at.
    pub captured_at: Host,
    /// The kernel's TCP events on the lab's addresses, in time order (root only).
    pub kernel: Vec<TcpEvent>,
    /// Why the kernel's account is missing, when it is.
    pub kernel_missing: Option<String>,
    /// CLOCK_MONOTONIC ns when the lab started, to time kernel events.
    pub kernel_t0: u64,
    /// CLOCK_MONOTONIC ns when the sockets were listed at the end.
    pub sockets_listed_ns: u64,
    /// CLOCK_MONOTONIC ns when that listing began: an event between the two
    /// instants may be newer than what the list shows of its socket.
    pub sockets_listing_started_ns: u64,
    /// The same instant on the capture's clock (CLOCK_REALTIME).
    pub sockets_listed_at: tcpscope_track::Ts,
    /// Every TCP socket of each namespace at the end (sock_diag), client first.
    pub sockets: [Vec<Socket>; 2],
    /// Counters of each namespace, before and after, client first.
    pub counters: [(Snapshot, Snapshot); 2],
    /// The applications' calls.
    pub apps: Vec<AppCall>,
    /// What the link did.
    pub link: LinkStats,
    /// The link in words.
    pub link_text: String,
    /// Seconds the lab took.
    pub seconds: f64,
    /// Socket lists the lab took while it ran, by label.
    pub snapshots: Vec<(String, Host, Vec<Socket>)>,
    /// `tcpscope doctor`'s findings in each namespace at the end, client first.
    pub doctor: [Vec<Finding>; 2],
}

impl Record {
    /// A counter's change in one namespace (0 when absent).
    pub fn delta(&self, host: Host, name: &str) -> i64 {
        let (before, after) = &self.counters[host as usize];
        let section = if matches!(
            name,
            "ActiveOpens"
                | "PassiveOpens"
                | "AttemptFails"
                | "EstabResets"
                | "OutRsts"
                | "RetransSegs"
                | "InSegs"
                | "OutSegs"
                | "CurrEstab"
                | "InErrs"
        ) {
            "Tcp"
        } else {
            "TcpExt"
        };
        after.delta(before, section, name).unwrap_or(0)
    }

    /// The application calls of one side with this op.
    pub fn calls<'a>(
        &'a self,
        who: &'a str,
        op: &'a str,
    ) -> impl Iterator<Item = &'a AppCall> + 'a {
        self.apps.iter().filter(move |c| c.who == who && c.op == op)
    }

    /// One side's calls of one kind, in words with how long each took.
    pub fn calls_text(&self, who: &str, op: &str) -> String {
        let v: Vec<String> = self
            .calls(who, op)
            .map(|c| format!("{} after {:.2} s", c.text(), c.duration_s))
            .collect();
        if v.is_empty() {
            format!("no {op}() calls")
        } else {
            v.join("; ")
        }
    }

    /// The TIME-WAIT sockets of one namespace at the end.
    pub fn time_wait(&self, host: Host) -> Vec<&Socket> {
        self.sockets[host as usize]
            .iter()
            .filter(|s| s.state == diag::tcp_state::TIME_WAIT)
            .collect()
    }

    /// A snapshot the lab took, by label.
    pub fn snapshot(&self, label: &str) -> Option<&[Socket]> {
        self.snapshots
            .iter()
            .find(|(l, _, _)| l == label)
            .map(|(_, _, s)| s.as_slice())
    }

    /// The kernel's state changes of the sockets of one host, as
    /// (seconds since the start, local, peer, old, new).
    pub fn state_changes(&self, host: Host) -> Vec<(f64, SocketAddr, SocketAddr, u8, u8)> {
        self.kernel
            .iter()
            .filter(|e| Host::of(&e.local) == Some(host))
            .filter_map(|e| match e.kind {
                tcpscope_kernel::trace::TcpEventKind::State { old, new, .. } => Some((
                    e.time_ns.saturating_sub(self.kernel_t0) as f64 / 1e9,
                    e.local,
                    e.peer,
                    old,
                    new,
                )),
                _ => None,
            })
            .collect()
    }
}

/// The running world of one lab.
pub struct Env {
    /// The client's namespace.
    pub client: Netns,
    /// The server's namespace.
    pub server: Netns,
    /// The applications' log.
    pub log: AppLog,
    relay: Relay,
    /// The relay's namespace, in the veth form of the link.
    _relay_ns: Option<Netns>,
    link_text: String,
    started: Instant,
    stop: Arc<AtomicBool>,
    capture: Option<JoinHandle<Result<(), String>>>,
    tracer: Option<JoinHandle<Vec<TcpEvent>>>,
    kernel_missing: Option<String>,
    kernel_t0: u64,
    before: [Snapshot; 2],
    pcap: PathBuf,
    captured_at: Host,
    snapshots: std::sync::Mutex<Vec<(String, Host, Vec<Socket>)>>,
}

/// CLOCK_REALTIME now, the packets' clock.
fn wall_clock() -> tcpscope_track::Ts {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    tcpscope_track::Ts {
        sec: d.as_secs() as i64,
        nsec: d.subsec_nanos(),
    }
}

/// The sysctls doctor reads, as the namespace has them.
fn doctor_settings(ns: &Netns) -> Result<Vec<(String, Option<String>)>, LabError> {
    ns.run(|| {
        Ok(SETTINGS_READ
            .iter()
            .map(|n| (n.to_string(), tcpscope_kernel::sysctl::read(n)))
            .collect())
    })
    .map_err(|e| LabError::Setup("reading sysctls", e))
}

fn counters(ns: &Netns) -> Result<Snapshot, LabError> {
    ns.run(|| {
        Snapshot::read_from(Path::new("/proc/thread-self/net")).map_err(std::io::Error::other)
    })
    .map_err(|e| LabError::Setup("reading counters", e))
}

impl Env {
    /// Build the world: namespaces with these sysctls, the link, the
    /// capture into `pcap`, the tracer when allowed.
    pub fn start(
        spec: LinkSpec,
        sysctls: &[(Host, &str, String)],
        capture_at: Host,
        pcap: &Path,
        trace: bool,
    ) -> Result<Env, LabError> {
        let setup = |what: &'static str| move |e: std::io::Error| LabError::Setup(what, e);
        let client =
            Netns::new("client").map_err(setup("creating the client's network namespace"))?;
        let server =
            Netns::new("server").map_err(setup("creating the server's network namespace"))?;
        for (host, name, value) in sysctls {
            let ns = match host {
                Host::Client => &client,
                Host::Server => &server,
            };
            ns.set_sysctl(name, value)
                .map_err(|e| LabError::Setup("setting a sysctl in the lab's namespace", e))?;
        }
        // The link: TUN devices where /dev/net/tun may be opened, else
        // veth pairs into a relay namespace.
        let (ends, l2, relay_ns) = match client.run(|| link::create_tun(CLIENT_ADDR)) {
            Ok(ctun) => {
                let stun = server
                    .run(|| link::create_tun(SERVER_ADDR))
                    .map_err(setup("creating the server's end of the link (TUN)"))?;
                ((ctun, stun), 0, None)
            }
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                let relay = Netns::new("link").map_err(setup("creating the link's namespace"))?;
                let ends = crate::veth::create(&client, &server, &relay)
                    .map_err(setup("creating the link (veth pairs and packet sockets)"))?;
                (ends, 14, Some(relay))
            }
            Err(e) => {
                return Err(LabError::Setup(
                    "creating the client's end of the link (TUN)",
                    e,
                ))
            }
        };
        let link_text = spec.describe();
        let relay = Relay::start(ends.0, ends.1, l2, spec).map_err(setup("starting the link"))?;
        let stop = Arc::new(AtomicBool::new(false));

        // The kernel's account: every TCP tracepoint, kept when it is about
        // the lab's addresses (the tracepoints see every namespace).
        let (tracer, kernel_missing) = if !trace {
            (None, Some("not asked for".to_string()))
        } else {
            let (tx, rx) = std::sync::mpsc::channel();
            let stop = stop.clone();
            let h = std::thread::spawn(move || {
                // The tracer's rings stay on this thread.
                let mut t = match Tracer::open() {
                    Ok(t) => {
                        let _ = tx.send(None);
                        t
                    }
                    Err(e) => {
                        let _ = tx.send(Some(e.to_string()));
                        return Vec::new();
                    }
                };
                let mut events = Vec::new();
                loop {
                    let done = stop.load(Ordering::Relaxed);
                    for s in t.poll(20) {
                        if let Some(e) = t.decode(&s) {
                            if Host::of(&e.local).is_some() || Host::of(&e.peer).is_some() {
                                events.push(e);
                            }
                        }
                    }
                    if done {
                        break;
                    }
                }
                events.sort_by_key(|e| e.time_ns);
                events
            });
            match rx.recv() {
                Ok(None) => (Some(h), None),
                Ok(Some(why)) => (None, Some(why)),
                Err(_) => (None, Some("the tracer thread ended".to_string())),
            }
        };

        // The capture, on one end of the link.
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let path = pcap.to_path_buf();
        let stop2 = stop.clone();
        let capture = match capture_at {
            Host::Client => &client,
            Host::Server => &server,
        }
        .spawn(move || {
            let r = (|| -> Result<(), String> {
                let opts = LiveOptions {
                    immediate: true,
                    precision: Precision::Nano,
                    ..LiveOptions::default()
                };
                let mut live = Live::open(link::IFACE, None, &opts).map_err(|e| e.to_string())?;
                let mut w = Writer::create(
                    &path,
                    WriteFormat::Pcap,
                    live.linktype(),
                    live.snaplen(),
                    Precision::Nano,
                    link::IFACE,
                )
                .map_err(|e| format!("{}: {e}", path.display()))?;
                let _ = ready_tx.send(Ok(()));
                let mut quiet_after_stop = 0;
                loop {
                    match live.next_frame(20).map_err(|e| e.to_string())? {
                        Some(f) => {
                            w.write(&f).map_err(|e| e.to_string())?;
                            quiet_after_stop = 0;
                        }
                        None if stop2.load(Ordering::Relaxed) => {
                            quiet_after_stop += 1;
                            if quiet_after_stop >= 3 {
                                break;
                            }
                        }
                        None => {}
                    }
                }
                w.flush().map_err(|e| e.to_string())
            })();
            if let Err(e) = &r {
                let _ = ready_tx.send(Err(e.clone()));
            }
            Ok(r)
        })
        .map_err(setup("starting the capture"))?;
        match ready_rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(LabError::Capture(e)),
            Err(_) => return Err(LabError::Capture("the capture did not start".into())),
        }
        let capture = std::thread::spawn(move || {
            capture
                .join()
                .map_err(|_| "capture thread panicked".to_string())?
                .map_err(|e| e.to_string())?
        });
        let before = [counters(&client)?, counters(&server)?];
        // The applications' clock and the tracepoints' start together.
        let (started, kernel_t0) = (Instant::now(), monotonic_ns());
        Ok(Env {
            client,
            server,
            log: AppLog::new(started),
            relay,
            _relay_ns: relay_ns,
            link_text,
            started,
            stop,
            capture: Some(capture),
            tracer,
            kernel_missing,
            kernel_t0,
            before,
            pcap: pcap.to_path_buf(),
            captured_at: capture_at,
            snapshots: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// The server's address on the link.
    pub fn server_addr(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(SERVER_ADDR), PORT)
    }

    /// List the sockets of one namespace now (as `ss -tan` would), keep
    /// the list under `label`, and return it.
    pub fn snapshot(&self, host: Host, label: &str) -> Result<Vec<Socket>, LabError> {
        let socks = self
            .ns(host)
            .run(|| diag::tcp_sockets(diag::ALL_STATES).map_err(std::io::Error::other))
            .map_err(|e| LabError::Setup("listing the namespace's sockets", e))?;
        self.snapshots
            .lock()
            .expect("not poisoned")
            .push((label.to_string(), host, socks.clone()));
        Ok(socks)
    }

    /// The next sequence number the last packet in this direction leaves
    /// the receiver expecting (seq + length, + 1 for SYN or FIN), as the
    /// link saw it.
    pub fn next_seq(&self, dir: link::Dir) -> Option<u32> {
        self.relay.next_seq(dir)
    }

    /// The namespace of a host.
    pub fn ns(&self, host: Host) -> &Netns {
        match host {
            Host::Client => &self.client,
            Host::Server => &self.server,
        }
    }

    /// Stop everything and gather the record; `settle` lets the last
    /// packets cross the link first.
    pub fn finish(mut self, settle: Duration) -> Result<Record, LabError> {
        std::thread::sleep(settle);
        let sockets = |ns: &Netns| {
            ns.run(|| diag::tcp_sockets(diag::ALL_STATES).map_err(std::io::Error::other))
                .map_err(|e| LabError::Setup("listing the namespace's sockets", e))
        };
        // The sockets' list is the end of the kernel's account: the capture
        // stops right after it, and kernel events after it are not compared.
        let sockets_listing_started_ns = monotonic_ns();
        let sockets = [sockets(&self.client)?, sockets(&self.server)?];
        let sockets_listed_ns = monotonic_ns();
        let sockets_listed_at = wall_clock();
        self.stop.store(true, Ordering::Relaxed);
        let after = [counters(&self.client)?, counters(&self.server)?];
        let settings = [
            doctor_settings(&self.client)?,
            doctor_settings(&self.server)?,
        ];
        if let Some(c) = self.capture.take() {
            c.join()
                .map_err(|_| LabError::Capture("capture thread panicked".into()))?
                .map_err(LabError::Capture)?;
        }
        let kernel = self
            .tracer
            .take()
            .map(|t| t.join().unwrap_or_default())
            .unwrap_or_default();
        self.relay.stop();
        let snapshots = std::mem::take(&mut *self.snapshots.lock().expect("not poisoned"));
        // `tcpscope doctor` in each namespace: its counters, its settings,
        // and its listeners as the lab saw them while it ran.
        let doctor = [Host::Client, Host::Server].map(|h| {
            let mut listeners: Vec<Socket> = snapshots
                .iter()
                .filter(|(_, host, _)| *host == h)
                .flat_map(|(_, _, s)| s.iter().cloned())
                .chain(sockets[h as usize].iter().cloned())
                .filter(|s| s.state == tcpscope_kernel::diag::tcp_state::LISTEN)
                .collect();
            // One entry per listening address: the fullest seen.
            listeners.sort_by_key(|s| (s.local, std::cmp::Reverse(s.recv_q)));
            listeners.dedup_by_key(|s| s.local);
            let map = &settings[h as usize];
            let read = |n: &str| {
                map.iter()
                    .find(|(k, _)| k == n)
                    .and_then(|(_, v)| v.clone())
            };
            findings(&DoctorEvidence {
                counters: &after[h as usize],
                sysctl: &read,
                listeners: &listeners,
            })
        });
        let [cb, sb] = self.before;
        let [ca, sa] = after;
        Ok(Record {
            pcap: self.pcap.clone(),
            captured_at: self.captured_at,
            kernel,
            kernel_missing: self.kernel_missing.clone(),
            kernel_t0: self.kernel_t0,
            sockets_listed_ns,
            sockets_listing_started_ns,
            sockets_listed_at,
            sockets,
            counters: [(cb, ca), (sb, sa)],
            apps: self.log.calls(),
            link: self.relay.stats(),
            link_text: self.link_text.clone(),
            seconds: self.started.elapsed().as_secs_f64(),
            snapshots,
            doctor,
        })
    }
}

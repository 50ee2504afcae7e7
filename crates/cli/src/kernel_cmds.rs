//! `tcpscope counters` and `tcpscope doctor`: the kernel's TCP counters and
//! tuning, each with its meaning.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use tcpscope_kernel::counters::{meaning, Group, Known, Snapshot, KNOWN};
use tcpscope_kernel::doctor::{findings, Evidence};
use tcpscope_kernel::sysctl::{self, SETTINGS};

/// Where the counters start.
const SINCE: &str = "since boot, or since this network namespace was created";

/// TCP MIB counters from /proc/net/netstat and /proc/net/snmp, explained.
#[derive(Args, Debug)]
#[command(
    after_help = "Counters are read in the current network namespace and named as nstat \
names them (TcpExtListenOverflows; TcpExt.ListenOverflows is accepted too). Values are totals since \
the namespace was created (nstat -a's absolute values: tcpscope keeps no history file). A counter \
this kernel does not have is shown as absent, not as zero.

Examples: `tcpscope counters`, `tcpscope counters -az`, `tcpscope counters 'TcpExtListen*' \
TcpExtTCPReqQFullDrop`, `tcpscope counters --watch 1 --count 10`."
)]
pub struct CountersArgs {
    /// Print the changes every SECS seconds instead of the totals.
    #[arg(long, value_name = "SECS")]
    watch: Option<f64>,
    /// With --watch: stop after this many intervals.
    #[arg(long, value_name = "N", requires = "watch")]
    count: Option<u64>,
    /// Every counter of /proc/net/netstat and /proc/net/snmp, not only those tcpscope explains.
    #[arg(short = 'a', long)]
    all: bool,
    /// With -a: also the counters that are zero (those tcpscope explains are always shown).
    #[arg(short = 'z', long)]
    zeros: bool,
    /// JSON Lines.
    #[arg(long)]
    json: bool,
    /// Only counters whose name matches one of these patterns (`*` and `?`, as nstat's).
    #[arg(value_name = "PATTERN")]
    patterns: Vec<String>,
}

/// The TCP tuning sysctls, their defaults and meaning, and what the counters say about them.
#[derive(Args, Debug)]
#[command(
    after_help = "tcpscope never writes a sysctl: a finding prints the numbers it rests on, the limit \
that binds (a sysctl or the application's listen() backlog) and the command you would run. Run it \
inside a network namespace (ip netns exec NAME tcpscope doctor) to see that namespace's counters and \
settings. Findings: accept queue full, SYN queue drops, syncookies answering, TIME-WAIT overflow."
)]
pub struct DoctorArgs {
    /// JSON Lines: one object per setting, then one per finding.
    #[arg(long)]
    json: bool,
}

/// Write one JSON Lines object.
fn json_line(out: &mut impl Write, v: &serde_json::Value) -> io::Result<()> {
    serde_json::to_writer(&mut *out, v)?;
    writeln!(out)
}

/// The counters now; `cmd` names the command in the error.
fn snapshot(cmd: &'static str) -> anyhow::Result<Snapshot> {
    Snapshot::read().context(cmd)
}

/// A counter's name as nstat writes it: section and name run together.
fn nstat_name(section: &str, name: &str) -> String {
    format!("{section}{name}")
}

/// Shell-style match with `*` and `?`, ignoring case.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob(&pattern[1..], name) || (!name.is_empty() && glob(pattern, &name[1..]))
        }
        (Some(b'?'), Some(_)) => glob(&pattern[1..], &name[1..]),
        (Some(p), Some(n)) if p.eq_ignore_ascii_case(n) => glob(&pattern[1..], &name[1..]),
        _ => false,
    }
}

/// Which counters the patterns select (all when there are none).
struct Names(Vec<String>);

impl Names {
    fn new(patterns: &[String]) -> Names {
        Names(patterns.iter().map(|p| p.replace('.', "")).collect())
    }
    fn wants(&self, section: &str, name: &str) -> bool {
        let n = nstat_name(section, name);
        self.0.is_empty() || self.0.iter().any(|p| glob(p.as_bytes(), n.as_bytes()))
    }
}

/// The counters to show: (section, name, value, meaning, group), in the
/// explained counters' order, then the others by name.
fn selected<'a>(
    s: &'a Snapshot,
    args: &CountersArgs,
    names: &Names,
) -> Vec<(&'a str, &'a str, Option<i64>, Option<&'static Known>)> {
    let mut v = Vec::new();
    for k in KNOWN.iter().filter(|k| names.wants(k.section, k.name)) {
        v.push((k.section, k.name, s.get(k.section, k.name), Some(k)));
    }
    if args.all || !names.0.is_empty() {
        for ((sec, name), val) in &s.values {
            if meaning(sec, name).is_some() || !names.wants(sec, name) {
                continue;
            }
            // Without -a, a pattern still reaches every counter; zeros need -z
            // only where nothing asked for them by name.
            if *val == 0 && !args.zeros && names.0.is_empty() {
                continue;
            }
            v.push((sec.as_str(), name.as_str(), Some(*val), None));
        }
    }
    v
}

pub fn counters(args: CountersArgs) -> anyhow::Result<ExitCode> {
    let names = Names::new(&args.patterns);
    let first = snapshot("counters")?;
    for p in &names.0 {
        let one = Names(vec![p.clone()]);
        if !first.values.keys().any(|(s, n)| one.wants(s, n))
            && !KNOWN.iter().any(|k| one.wants(k.section, k.name))
        {
            return Err(anyhow::anyhow!(
                "counters: no counter is named like '{p}' (names as nstat writes them: TcpExtListenOverflows, TcpActiveOpens; `tcpscope counters -az` lists them all)"
            ));
        }
    }
    let mut out = io::BufWriter::new(io::stdout().lock());
    let Some(secs) = args.watch else {
        let r = print_totals(&mut out, &first, &args, &names).and_then(|_| out.flush());
        return Ok(crate::out::status("counters", r));
    };
    if !(secs > 0.0 && secs.is_finite()) {
        return Err(
            crate::Usage("counters: --watch wants a positive number of seconds".into()).into(),
        );
    }
    let mut prev = first;
    let mut round = 0u64;
    loop {
        if args.count.is_some_and(|n| round >= n) {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_secs_f64(secs));
        round += 1;
        let now = snapshot("counters")?;
        let mut changed = Vec::new();
        for ((sec, name), v) in &now.values {
            let Some(old) = prev.get(sec, name) else {
                continue;
            };
            let known = meaning(sec, name);
            if *v != old
                && (args.all || known.is_some() || !names.0.is_empty())
                && names.wants(sec, name)
            {
                changed.push((sec.clone(), name.clone(), v - old, known.map(|k| k.meaning)));
            }
        }
        let elapsed = secs * round as f64;
        let r = if args.json {
            changed.iter().try_for_each(|(s, n, d, m)| {
                json_line(&mut out, &json!({"type": "counter_delta", "interval": round, "interval_s": secs, "elapsed_s": elapsed, "section": s, "name": n, "nstat": nstat_name(s, n), "delta": d, "rate_per_s": *d as f64 / secs, "meaning": m}))
            })
        } else {
            writeln!(
                out,
                "-- after {elapsed:.1} s, changes over the last {secs} s:{}",
                if changed.is_empty() { " none" } else { "" }
            )
            .and_then(|_| {
                changed.iter().try_for_each(|(s, n, d, m)| {
                    writeln!(
                        out,
                        "  {:<32} {:>+10} {:>10}/s  {}",
                        nstat_name(s, n),
                        d,
                        format!("{:.1}", *d as f64 / secs),
                        m.unwrap_or("")
                    )
                })
            })
        };
        if let Err(e) = r.and_then(|_| out.flush()) {
            return Ok(crate::out::status("counters", Err(e)));
        }
        prev = now;
    }
}

fn print_totals(
    out: &mut impl Write,
    s: &Snapshot,
    args: &CountersArgs,
    names: &Names,
) -> io::Result<()> {
    let rows = selected(s, args, names);
    let mut group: Option<&str> = None;
    for (sec, name, v, known) in rows {
        let g = known.map_or("other", |k| k.group.name());
        if args.json {
            json_line(
                out,
                &json!({"type": "counter", "group": g, "section": sec, "name": name, "nstat": nstat_name(sec, name), "value": v, "meaning": known.map(|k| k.meaning)}),
            )?;
            continue;
        }
        if group != Some(g) {
            writeln!(out, "{g}:")?;
            group = Some(g);
        }
        let shown = v.map_or("absent".to_string(), |v| v.to_string());
        let line = format!(
            "  {:<32} {:>12}  {}",
            nstat_name(sec, name),
            shown,
            known.map_or("", |k| k.meaning)
        );
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

pub fn doctor(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let c = snapshot("doctor")?;
    let mut out = io::stdout().lock();
    for group in [Group::Handshake, Group::Teardown, Group::Transfer] {
        if !args.json {
            let _ = writeln!(out, "{} tuning:", group.name());
        }
        for s in SETTINGS.iter().filter(|s| s.group == group) {
            let cur = sysctl::read(s.name);
            let _ = if args.json {
                json_line(
                    &mut out,
                    &json!({"type": "setting", "group": group.name(), "name": s.name, "value": cur, "default": s.default, "what": s.what}),
                )
            } else {
                let shown = cur.unwrap_or_else(|| "absent".into());
                let mut lines = s.what.lines();
                writeln!(
                    out,
                    "  {:<34} {:<22} (default {})",
                    s.name, shown, s.default
                )
                .and_then(|_| writeln!(out, "      {}", lines.next().unwrap_or("")))
                .and_then(|_| writeln!(out, "      {}", lines.next().unwrap_or("")))
            };
        }
    }
    let listeners =
        tcpscope_kernel::diag::tcp_sockets(1 << tcpscope_kernel::diag::tcp_state::LISTEN)
            .context("doctor")?;
    let f = findings(&Evidence {
        counters: &c,
        sysctl: &sysctl::read,
        listeners: &listeners,
    });
    let r = if args.json {
        f.iter().try_for_each(|x| {
            let numbers: serde_json::Map<String, serde_json::Value> = x
                .numbers
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            json_line(
                &mut out,
                &json!({"type": "finding", "kind": x.kind, "limit": x.limit, "numbers": numbers, "text": x.text, "advice": x.advice, "command": x.command}),
            )
        })
    } else if f.is_empty() {
        writeln!(
            out,
            "findings: none (no accept-queue or SYN-queue drop, syncookie or TIME-WAIT overflow counted {SINCE})"
        )
    } else {
        writeln!(out, "findings (counters {SINCE}):").and_then(|_| {
            f.iter().try_for_each(|x| {
                let numbers: Vec<String> =
                    x.numbers.iter().map(|(k, v)| format!("{k} {v}")).collect();
                writeln!(
                    out,
                    "  - {}\n    numbers: {}\n    limit: {}\n    advice: {}\n    run: {}",
                    x.text,
                    numbers.join(", "),
                    x.limit,
                    x.advice,
                    x.command
                )
            })
        })
    };
    Ok(crate::out::status("doctor", r.and_then(|_| out.flush())))
}

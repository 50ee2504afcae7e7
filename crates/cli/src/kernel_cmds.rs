//! `tcpscope counters` and `tcpscope doctor`: the kernel's TCP counters and
//! tuning, each with its meaning.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use tcpscope_kernel::counters::{meaning, Group, Snapshot, KNOWN};
use tcpscope_kernel::sysctl::{self, findings, SETTINGS};

/// TCP MIB counters from /proc/net/netstat and /proc/net/snmp, explained.
#[derive(Args, Debug)]
#[command(
    after_help = "Counters are read in the current network namespace. A counter this kernel \
does not have is shown as absent, not as zero."
)]
pub struct CountersArgs {
    /// Print the changes every SECS seconds instead of the totals.
    #[arg(long, value_name = "SECS")]
    watch: Option<f64>,
    /// With --watch: stop after this many intervals.
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Also every other Tcp, TcpExt and IpExt counter (without a meaning).
    #[arg(long)]
    all: bool,
    /// JSON Lines.
    #[arg(long)]
    json: bool,
}

/// The TCP tuning sysctls, their defaults and meaning, and what the counters say about them.
#[derive(Args, Debug)]
#[command(
    after_help = "tcpscope never writes a sysctl: a finding prints the command you would run."
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

pub fn counters(args: CountersArgs) -> anyhow::Result<ExitCode> {
    let first = snapshot("counters")?;
    let mut out = io::stdout().lock();
    let Some(secs) = args.watch else {
        print_totals(&mut out, &first, &args);
        return Ok(ExitCode::SUCCESS);
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
            if *v != old && (args.all || known.is_some()) {
                changed.push((
                    sec.clone(),
                    name.clone(),
                    v - old,
                    known.map_or("", |k| k.3),
                ));
            }
        }
        let r = if args.json {
            changed.iter().try_for_each(|(s, n, d, m)| {
                json_line(&mut out, &json!({"type": "counter_delta", "interval": round, "elapsed_s": secs * round as f64, "section": s, "name": n, "delta": d, "meaning": (!m.is_empty()).then_some(*m)}))
            })
        } else {
            writeln!(
                out,
                "-- after {:.1} s:{}",
                secs * round as f64,
                if changed.is_empty() { " no change" } else { "" }
            )
            .and_then(|_| {
                changed.iter().try_for_each(|(s, n, d, m)| {
                    writeln!(out, "  {:<28} {:>+10}  {m}", format!("{s}.{n}"), d)
                })
            })
        };
        if r.and_then(|_| out.flush()).is_err() {
            return Ok(ExitCode::SUCCESS);
        }
        prev = now;
    }
}

fn print_totals(out: &mut impl Write, s: &Snapshot, args: &CountersArgs) {
    for group in [Group::Handshake, Group::Teardown, Group::Transfer] {
        if !args.json {
            let _ = writeln!(out, "{}:", group.name());
        }
        for (sec, name, g, what) in KNOWN.iter().filter(|k| k.2 == group) {
            let _ = g;
            let v = s.get(sec, name);
            let _ = if args.json {
                json_line(
                    out,
                    &json!({"type": "counter", "group": group.name(), "section": sec, "name": name, "value": v, "meaning": what}),
                )
            } else {
                let shown = v.map_or("absent".to_string(), |v| v.to_string());
                writeln!(
                    out,
                    "  {:<28} {:>12}  {what}",
                    format!("{sec}.{name}"),
                    shown
                )
            };
        }
    }
    if args.all {
        if !args.json {
            let _ = writeln!(out, "other:");
        }
        for ((sec, name), v) in &s.values {
            if meaning(sec, name).is_some() || !matches!(sec.as_str(), "Tcp" | "TcpExt" | "IpExt") {
                continue;
            }
            let _ = if args.json {
                json_line(
                    out,
                    &json!({"type": "counter", "group": "other", "section": sec, "name": name, "value": v, "meaning": null}),
                )
            } else {
                writeln!(out, "  {:<28} {:>12}", format!("{sec}.{name}"), v)
            };
        }
    }
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
    let f = findings(&c);
    if args.json {
        for x in &f {
            let _ = json_line(
                &mut out,
                &json!({"type": "finding", "setting": x.setting, "text": x.text, "command": x.command}),
            );
        }
    } else if f.is_empty() {
        let _ = writeln!(
            out,
            "findings: none (no queue overflow, SYN drop or TIME-WAIT overflow counted since boot)"
        );
    } else {
        let _ = writeln!(out, "findings (counters since boot):");
        for x in &f {
            let _ = writeln!(out, "  - {}\n    to change it: {}", x.text, x.command);
        }
    }
    Ok(ExitCode::SUCCESS)
}

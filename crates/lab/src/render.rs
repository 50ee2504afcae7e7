//! A lab's outcome for people (text) and for machines (one JSON document
//! of type `lab`, in the project's schema).

use std::fmt::Write as _;

use serde_json::{json, Value};
use tcpscope_kernel::counters::meaning;
use tcpscope_kernel::trace::TcpEventKind;
use tcpscope_wire::State;

use crate::env::Host;
use crate::{analysis, Lab, Outcome};

/// Packets shown in full; past that the key connection's first and last
/// ones are shown and the rest counted.
const FULL: usize = 60;

/// The counters that moved in one namespace, with their meaning.
pub fn counter_deltas(o: &Outcome, host: Host) -> Vec<(String, i64, &'static str)> {
    let (before, after) = &o.record.counters[host as usize];
    let mut v = Vec::new();
    for ((sec, name), val) in &after.values {
        let Some(m) = meaning(sec, name) else {
            continue;
        };
        let d = val - before.get(sec, name).unwrap_or(0);
        if d != 0 && name != "CurrEstab" {
            v.push((format!("{sec}{name}"), d, m.meaning));
        }
    }
    v
}

fn kernel_line(o: &Outcome, e: &tcpscope_kernel::trace::TcpEvent) -> String {
    let t = e.time_ns.saturating_sub(o.record.kernel_t0) as f64 / 1e9;
    let who = Host::of(&e.local).map_or("other", Host::name);
    let what = match &e.kind {
        TcpEventKind::State { old, new, .. } => {
            format!(
                "{} -> {}",
                State::kernel_name(*old),
                State::kernel_name(*new)
            )
        }
        TcpEventKind::Retransmit { state } => {
            format!("retransmits (in {})", state.map_or("?", State::kernel_name))
        }
        TcpEventKind::RetransmitSynAck => "re-sends its SYN-ACK".into(),
        TcpEventKind::SendReset { state, reason } => format!(
            "sends RST (in {}{})",
            state.map_or("no socket", State::kernel_name),
            reason
                .as_ref()
                .map_or(String::new(), |r| format!(", reason {r}"))
        ),
        TcpEventKind::ReceiveReset { state } => {
            format!(
                "receives RST (in {})",
                state.map_or("?", State::kernel_name)
            )
        }
    };
    format!(
        "  {t:>9.6}  {who:<6} {:<21} > {:<21} {what}",
        e.local.to_string(),
        e.peer.to_string()
    )
}

/// The whole text of one lab.
pub fn text(lab: &dyn Lab, o: &Outcome) -> String {
    let r = &o.record;
    let mut s = String::new();
    let _ = writeln!(s, "== lab {}: {}", lab.name(), lab.what());
    let _ = writeln!(
        s,
        "link: {} (client {}, server {}:{}; captured at the {}'s end)",
        r.link_text,
        crate::link::CLIENT_ADDR,
        crate::link::SERVER_ADDR,
        crate::env::PORT,
        r.captured_at.name()
    );
    if !o.sysctls.is_empty() {
        let set: Vec<String> = o
            .sysctls
            .iter()
            .map(|(h, n, v)| format!("{n}={v} ({})", h.name()))
            .collect();
        let _ = writeln!(
            s,
            "sysctls, in the lab's namespaces only: {}",
            set.join(", ")
        );
    }
    let drops: Vec<String> = r
        .link
        .rule_drops
        .iter()
        .map(|(n, c)| format!("{c} of {n}"))
        .chain(
            (r.link.random_drops.iter().sum::<u64>() > 0)
                .then(|| format!("{} at random", r.link.random_drops.iter().sum::<u64>())),
        )
        .collect();
    if !drops.is_empty() {
        let _ = writeln!(s, "the link dropped: {}", drops.join(", "));
    }

    let _ = writeln!(
        s,
        "\npackets (tcpdump -n -ttttt --nano, with tcpscope's --explain):"
    );
    let key = lab.key_conn();
    let pk = &o.analysis.packets;
    if pk.len() <= FULL {
        for p in pk {
            s.push_str(&p.text);
        }
    } else {
        let mine: Vec<&analysis::Pkt> = pk.iter().filter(|p| p.conn == key).collect();
        let others = pk.len() - mine.len();
        let _ = writeln!(
            s,
            "  ({} packets in {} connections; connection {key} shown{})",
            pk.len(),
            o.analysis.conns.len(),
            if mine.len() > FULL {
                ", its first and last packets"
            } else {
                " in full"
            }
        );
        if mine.len() <= FULL {
            for p in &mine {
                s.push_str(&p.text);
            }
        } else {
            for p in &mine[..FULL / 2] {
                s.push_str(&p.text);
            }
            let _ = writeln!(s, "  ... {} packets ...", mine.len() - FULL);
            for p in &mine[mine.len() - FULL / 2..] {
                s.push_str(&p.text);
            }
        }
        if others > 0 {
            let _ = writeln!(s, "  ({others} packets of other connections not shown)");
        }
    }

    if let Ok(l) = analysis::ladder(&r.pcap, key) {
        let _ = writeln!(s, "\nladder of connection {key}:");
        s.push_str(&l);
    }

    let _ = writeln!(
        s,
        "\nthe kernel's account (tracepoints; sockets at the end):"
    );
    match &r.kernel_missing {
        Some(why) => {
            let _ = writeln!(s, "  left out: {why}");
        }
        None => {
            let shown = r.kernel.len().min(80);
            for e in &r.kernel[..shown] {
                let _ = writeln!(s, "{}", kernel_line(o, e));
            }
            if r.kernel.len() > shown {
                let _ = writeln!(s, "  ... {} more events", r.kernel.len() - shown);
            }
        }
    }
    for host in [Host::Client, Host::Server] {
        let tw = r.time_wait(host);
        if !tw.is_empty() {
            let _ = writeln!(
                s,
                "  {} holds {} socket(s) in TIME-WAIT, e.g. {} > {} ({:.1} s left)",
                host.name(),
                tw.len(),
                tw[0].local,
                tw[0].peer,
                tw[0].expires_ms as f64 / 1e3
            );
        }
    }

    let _ = writeln!(s, "\ncounters that moved:");
    for host in [Host::Client, Host::Server] {
        for (name, d, m) in counter_deltas(o, host) {
            let _ = writeln!(s, "  {:<6} {name:<30} {d:>+6}  {m}", host.name());
        }
    }

    let _ = writeln!(s, "\ntcpscope doctor in each namespace:");
    for host in [Host::Client, Host::Server] {
        let f = &r.doctor[host as usize];
        if f.is_empty() {
            let _ = writeln!(s, "  {:<6} no finding", host.name());
        }
        for x in f {
            let numbers: Vec<String> = x.numbers.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let _ = writeln!(
                s,
                "  {:<6} {}: {}\n         limit: {}; run: {}",
                host.name(),
                x.kind,
                numbers.join(", "),
                x.limit,
                x.command
            );
        }
    }

    let _ = writeln!(s, "\nwhat the applications saw:");
    for c in &r.apps {
        let _ = writeln!(s, "  {:>9.6}  {:<6} {}", c.elapsed_s, c.who, c.text());
    }

    let e = lab.explain();
    let _ = writeln!(s, "\nwhat happened:\n{}", wrap(e.what, 78, "  "));
    let _ = writeln!(s, "\nwhat tunes it:");
    for t in e.tune {
        let _ = writeln!(s, "{}", wrap(t, 78, "  - "));
    }
    let _ = writeln!(s, "\nin production:\n{}", wrap(e.production, 78, "  "));

    let agree = crate::agreement::endpoints(o);
    if !agree.is_empty() {
        let n = agree.iter().filter(|a| a.agrees).count();
        let _ = writeln!(
            s,
            "\ntcpscope's inferred states against the kernel's (every state each endpoint went through): {n} of {} endpoints agree",
            agree.len()
        );
        for a in agree.iter().filter(|a| !a.agrees) {
            let _ = writeln!(
                s,
                "  connection {} {}: tcpscope {}; kernel {}{}",
                a.conn,
                a.side,
                a.tcpscope.join(" → "),
                a.kernel.join(" → "),
                a.invisible
                    .map_or(" (they differ)".to_string(), |w| format!(
                        " (invisible here: {w})"
                    ))
            );
        }
    }

    for a in crate::agreement::outcomes(o) {
        let _ = writeln!(
            s,
            "what the {} saw: tcpscope says {}, its calls say {}{}",
            a.side,
            a.tcpscope,
            a.app,
            if a.agrees {
                String::new()
            } else {
                a.invisible.map_or(" (they differ)".to_string(), |w| {
                    format!(" (invisible here: {w})")
                })
            }
        );
    }

    let _ = writeln!(s, "\nchecks:");
    for c in &o.checks {
        let verdict = match c.passed {
            Some(true) => "PASS",
            Some(false) => "FAIL",
            None => "----",
        };
        let _ = writeln!(
            s,
            "  {verdict} [{}] {}: {}",
            c.source.name(),
            c.expect,
            c.saw
        );
    }
    let made = o.checks.iter().filter(|c| c.passed.is_some()).count();
    let held = o.checks.iter().filter(|c| c.passed == Some(true)).count();
    let _ = writeln!(
        s,
        "result: {} ({held} of {made} checks held{}; {:.1} s)",
        if o.passed() { "PASS" } else { "FAIL" },
        if made < o.checks.len() {
            format!(", {} left out", o.checks.len() - made)
        } else {
            String::new()
        },
        r.seconds
    );
    s
}

/// Wrap `text` at `width` columns, each line starting with `indent`
/// (continuation lines with as many spaces).
pub fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = indent.to_string();
    let cont = " ".repeat(indent.chars().count());
    for w in text.split_whitespace() {
        if line.chars().count() + w.chars().count() + 1 > width && line.trim().len() > 0 {
            out.push_str(line.trim_end());
            out.push('\n');
            line = cont.clone();
        }
        line.push_str(w);
        line.push(' ');
    }
    out.push_str(line.trim_end());
    out
}

/// The JSON document of one lab (type `lab`).
pub fn json(lab: &dyn Lab, o: &Outcome) -> Value {
    let r = &o.record;
    let e = lab.explain();
    let kernel: Option<Vec<Value>> = r.kernel_missing.is_none().then(|| {
        r.kernel
            .iter()
            .map(|ev| {
                let (event, old, new, state, reason) = match &ev.kind {
                    TcpEventKind::State { old, new, .. } => (
                        "state",
                        Some(State::kernel_name(*old)),
                        Some(State::kernel_name(*new)),
                        None,
                        None,
                    ),
                    TcpEventKind::Retransmit { state } => (
                        "retransmit",
                        None,
                        None,
                        state.map(State::kernel_name),
                        None,
                    ),
                    TcpEventKind::RetransmitSynAck => {
                        ("retransmit SYN-ACK", None, None, Some("SYN-RECEIVED"), None)
                    }
                    TcpEventKind::SendReset { state, reason } => (
                        "send RST",
                        None,
                        None,
                        state.map(State::kernel_name),
                        reason.clone(),
                    ),
                    TcpEventKind::ReceiveReset { state } => (
                        "receive RST",
                        None,
                        None,
                        state.map(State::kernel_name),
                        None,
                    ),
                };
                json!({
                    "elapsed_s": ev.time_ns.saturating_sub(r.kernel_t0) as f64 / 1e9,
                    "host": Host::of(&ev.local).map(Host::name),
                    "event": event, "local": ev.local.to_string(), "peer": ev.peer.to_string(),
                    "old": old, "new": new, "state": state, "reason": reason,
                })
            })
            .collect()
    });
    let counters: Vec<Value> = [Host::Client, Host::Server]
        .iter()
        .flat_map(|h| {
            counter_deltas(o, *h).into_iter().map(
                move |(n, d, m)| json!({"host": h.name(), "name": n, "delta": d, "meaning": m}),
            )
        })
        .collect();
    let doctor: Vec<Value> = [Host::Client, Host::Server]
        .iter()
        .flat_map(|h| {
            r.doctor[*h as usize].iter().map(move |x| {
                let numbers: serde_json::Map<String, Value> = x
                    .numbers
                    .iter()
                    .map(|(k, v)| (k.clone(), json!(v)))
                    .collect();
                json!({
                    "host": h.name(), "kind": x.kind, "limit": x.limit, "numbers": numbers,
                    "text": x.text, "advice": x.advice, "command": x.command,
                })
            })
        })
        .collect();
    let time_wait: Vec<Value> = [Host::Client, Host::Server]
        .iter()
        .flat_map(|h| {
            r.time_wait(*h).into_iter().map(move |s| {
                json!({"host": h.name(), "local": s.local.to_string(), "peer": s.peer.to_string(), "timer_ms": s.expires_ms})
            })
        })
        .collect();
    json!({
        "type": "lab",
        "name": lab.name(),
        "what": lab.what(),
        "passed": o.passed(),
        "duration_s": r.seconds,
        "link": r.link_text,
        "captured_at": r.captured_at.name(),
        "link_drops": r.link.rule_drops.iter().map(|(n, c)| json!({"rule": n, "dropped": c})).collect::<Vec<_>>(),
        "link_random_drops": r.link.random_drops.iter().sum::<u64>(),
        "sysctls": o.sysctls.iter().map(|(h, n, v)| json!({"host": h.name(), "name": n, "value": v})).collect::<Vec<_>>(),
        "packets": o.analysis.packets.len(),
        "connections": o.analysis.conns.iter().map(|c| json!({
            "id": c.id, "client": c.client.to_string(), "server": c.server.to_string(),
            "conn_state": c.conn_state.name(), "history": c.history,
            "closed_first": c.closed_first.map(|s| s.name()), "time_wait": c.time_wait.map(|s| s.name()),
            "reset_by": c.reset_by.map(|s| s.name()),
            "client_saw": c.client_saw.key(), "server_saw": c.server_saw.key(),
            "irtt_ms": c.irtt.map(|x| x * 1e3),
        })).collect::<Vec<_>>(),
        "kernel_events": kernel,
        "kernel_missing": r.kernel_missing,
        "time_wait_sockets": time_wait,
        "counters": counters,
        "doctor": doctor,
        "apps": r.apps,
        "explanation": {"what": e.what, "tune": e.tune, "production": e.production},
        "agreement": crate::agreement::endpoints(o),
        "outcome_agreement": crate::agreement::outcomes(o),
        "checks": o.checks,
    })
}

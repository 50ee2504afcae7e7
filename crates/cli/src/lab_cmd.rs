//! `tcpscope lab`: flags and wiring of the labs.

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tcpscope_lab::{labs, netns, render, Lab};

/// Make one TCP phenomenon happen in private network namespaces, capture it,
/// explain it and check it.
#[derive(Args, Debug)]
#[command(
    after_help = "Each lab runs in network namespaces of its own, joined by a link in user \
space (delay, loss, chosen drops); the host's settings are never touched, and everything is gone \
when the lab ends, also on Ctrl-C. As an ordinary user the labs run inside a user namespace; the \
kernel's account (tracepoints) then needs root or CAP_PERFMON and is left out.\n\nExit status: \
0 when every check held, 1 when one failed or the lab could not run, 2 on a usage error."
)]
pub struct LabArgs {
    /// A lab's name, `list` for the labs and what each shows, or `all`.
    #[arg(value_name = "NAME")]
    name: String,
    /// One JSON document (type "lab") per lab, as JSON Lines.
    #[arg(long)]
    json: bool,
    /// Keep the lab's capture in FILE (pcap).
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// Keep everything the lab recorded in DIR: NAME.pcap, NAME.json (kernel
    /// events, counters, application calls, checks) and NAME.txt.
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
}

/// A capture file that lives in memory only: nothing is left on disk if
/// the lab is interrupted.
fn memory_file(name: &str) -> std::io::Result<(OwnedFd, PathBuf)> {
    let c = std::ffi::CString::new(format!("tcpscope-lab-{name}")).expect("no NUL");
    // SAFETY: memfd_create with a valid name; the descriptor is owned below.
    let fd = unsafe { libc::memfd_create(c.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is new and owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let path = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    Ok((fd, path))
}

pub fn lab(args: LabArgs) -> anyhow::Result<ExitCode> {
    if args.name == "list" {
        let mut out = std::io::stdout().lock();
        let r = labs::all()
            .iter()
            .try_for_each(|l| writeln!(out, "{:<24} {}", l.name(), l.what()))
            .and_then(|_| out.flush());
        return Ok(crate::out::status("lab", r));
    }
    let chosen: Vec<&dyn Lab> = if args.name == "all" {
        labs::all()
    } else {
        match labs::find(&args.name) {
            Some(l) => vec![l],
            None => {
                return Err(crate::Usage(format!(
                    "lab: no lab named '{}' (`tcpscope lab list` names them)",
                    args.name
                ))
                .into())
            }
        }
    };
    if args.pcap.is_some() && chosen.len() > 1 {
        return Err(crate::Usage(
            "lab: --pcap keeps one lab's capture; use --keep DIR with all".into(),
        )
        .into());
    }
    let root = netns::is_root();
    if !root {
        netns::enter_user_namespace().map_err(|e| {
            anyhow::anyhow!(
                "lab: needs root, or unprivileged user namespaces to run as an ordinary user \
(kernel.unprivileged_userns_clone=1): {e}"
            )
        })?;
    }
    if let Some(dir) = &args.keep {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("lab: {}: {e}", dir.display()))?;
    }
    let many = chosen.len() > 1;
    let mut failed = 0;
    let mut out = std::io::stdout().lock();
    if many && !args.json {
        let _ = writeln!(
            out,
            "{:<24} {:<6} {:>7} {:>9}",
            "lab", "result", "checks", "seconds"
        );
    }
    let mut progress =
        crate::progress::Progress::new(crate::progress::Kind::Labs, Some(chosen.len() as u64));
    for (done, lab) in chosen.into_iter().enumerate() {
        if many {
            progress.update(done as u64, || format!("running {}", lab.name()));
        }
        let (_fd, path) = memory_file(lab.name())
            .map_err(|e| anyhow::anyhow!("lab: cannot make the capture file: {e}"))?;
        let outcome = match tcpscope_lab::run(lab, &path, true) {
            Ok(o) => o,
            Err(e) => {
                failed += 1;
                if many && !args.json {
                    let _ = writeln!(out, "{:<24} {:<6}  could not run: {e}", lab.name(), "ERROR");
                    continue;
                }
                return Err(anyhow::anyhow!("lab {}: {e}", lab.name()));
            }
        };
        if !outcome.passed() {
            failed += 1;
        }
        let text = render::text(lab, &outcome);
        let doc = render::json(lab, &outcome);
        if let Some(file) = &args.pcap {
            std::fs::copy(&path, file)
                .map_err(|e| anyhow::anyhow!("lab: {}: {e}", file.display()))?;
        }
        if let Some(dir) = &args.keep {
            let keep = |ext: &str, data: &[u8]| {
                let f = dir.join(format!("{}.{ext}", lab.name()));
                std::fs::write(&f, data).map_err(|e| anyhow::anyhow!("lab: {}: {e}", f.display()))
            };
            keep("pcap", &std::fs::read(&path).unwrap_or_default())?;
            keep("json", serde_json::to_string_pretty(&doc)?.as_bytes())?;
            keep("txt", text.as_bytes())?;
        }
        let r = progress.suspend(|| {
            if args.json {
                serde_json::to_writer(&mut out, &doc)
                    .map_err(std::io::Error::from)
                    .and_then(|_| writeln!(out))
            } else if many {
                let made = outcome.checks.iter().filter(|c| c.passed.is_some()).count();
                let held = outcome
                    .checks
                    .iter()
                    .filter(|c| c.passed == Some(true))
                    .count();
                writeln!(
                    out,
                    "{:<24} {:<6} {:>7} {:>9.1}",
                    lab.name(),
                    if outcome.passed() { "PASS" } else { "FAIL" },
                    format!("{held}/{made}"),
                    outcome.record.seconds
                )
                .and_then(|_| {
                    outcome
                        .checks
                        .iter()
                        .filter(|c| c.passed == Some(false))
                        .try_for_each(|c| {
                            writeln!(
                                out,
                                "    failed [{}] {}: {}",
                                c.source.name(),
                                c.expect,
                                c.saw
                            )
                        })
                })
            } else {
                out.write_all(text.as_bytes())
            }
            .and_then(|_| out.flush())
        });
        if r.is_err() {
            return Ok(ExitCode::SUCCESS);
        }
    }
    progress.finish();
    if many && !args.json {
        let _ = writeln!(out, "{failed} failed");
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

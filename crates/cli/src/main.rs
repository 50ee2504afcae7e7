//! The `tcpscope` binary: argument parsing and wiring, nothing else.

mod capture_cmd;
mod inputs;
mod kernel_cmds;
mod lab_cmd;
mod out;
mod peers;
mod progress;
mod read;
mod sink;
mod ss_cmd;
mod ss_filter;
mod trace_cmd;
mod track_cmds;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Make TCP connections visible and explainable.
#[derive(Parser)]
#[command(name = "tcpscope", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print a pcap or pcapng capture exactly as tcpdump 4.99 does.
    Read(read::ReadArgs),
    /// Capture live packets (AF_PACKET, no libpcap) and print or write them, as tcpdump does.
    Capture(capture_cmd::CaptureArgs),
    /// One row per connection: states, history, bytes, RTT, who closed, who reset, what each application saw.
    Conns(track_cmds::ConnsArgs),
    /// The sequence diagram of one connection, with both sides' states.
    Ladder(track_cmds::LadderArgs),
    /// What went wrong in a capture: resets by cause, refusals, timeouts, stalls; evidence and the fix.
    Diagnose(track_cmds::DiagnoseArgs),
    /// One self-contained HTML page: connection table, diagnosis, time-sequence graphs, throughput, RTT, ladders.
    Report(track_cmds::ReportArgs),
    /// Sockets and listen queues (accept queue, SYN-RECV count, tcp_info, timers), with ss's options and filters.
    Ss(ss_cmd::SsArgs),
    /// TCP MIB counters (nstat, netstat -s) with their meaning, totals or deltas.
    Counters(kernel_cmds::CountersArgs),
    /// The TCP tuning sysctls: value, default, meaning, and findings from the counters.
    Doctor(kernel_cmds::DoctorArgs),
    /// Kernel ground truth from tracepoints: state changes, retransmits, resets with their reason.
    Trace(trace_cmd::TraceArgs),
    /// Make a TCP phenomenon happen in private network namespaces, capture, explain and check it.
    Lab(lab_cmd::LabArgs),
    /// Run a test server: echo, discard, source or HTTP, with every TCP knob.
    Server(peers::ServerArgs),
    /// Run a test client: connections with every TCP knob; reports what the application saw.
    Client(peers::ClientArgs),
    /// Print a shell completion script: bash, zsh, fish, elvish or powershell.
    Completions(CompletionsArgs),
    /// Print the man page (roff), generated from the same flag definitions.
    Man(ManArgs),
}

/// `tcpscope completions SHELL`.
#[derive(clap::Args)]
#[command(
    after_help = "bash: tcpscope completions bash > ~/.local/share/bash-completion/completions/tcpscope\n\
zsh: tcpscope completions zsh > ~/.zfunc/_tcpscope (with fpath+=~/.zfunc)\n\
fish: tcpscope completions fish > ~/.config/fish/completions/tcpscope.fish\n\
scripts/install.sh installs them, and the man page, for you."
)]
struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// `tcpscope man`.
#[derive(clap::Args)]
#[command(
    after_help = "tcpscope man > tcpscope.1; man ./tcpscope.1. With --dir, one page per \
subcommand as well (tcpscope-read.1 ...), as scripts/install.sh installs them."
)]
struct ManArgs {
    /// Write tcpscope.1 and one page per subcommand into DIR instead of printing tcpscope.1.
    #[arg(long, value_name = "DIR")]
    dir: Option<std::path::PathBuf>,
}

/// The man pages: tcpscope.1 and tcpscope-SUB.1 for each subcommand.
fn man(args: ManArgs) -> anyhow::Result<ExitCode> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    let Some(dir) = args.dir else {
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut page)?;
        let w = std::io::Write::write_all(&mut std::io::stdout().lock(), &page);
        return Ok(out::status("man", w));
    };
    std::fs::create_dir_all(&dir)?;
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
    std::fs::write(dir.join("tcpscope.1"), &page)?;
    for sub in cmd.get_subcommands() {
        let name = format!("tcpscope-{}", sub.get_name());
        let sub = sub.clone().name(&*Box::leak(name.clone().into_boxed_str()));
        let mut page = Vec::new();
        clap_mangen::Man::new(sub).render(&mut page)?;
        std::fs::write(dir.join(format!("{name}.1")), &page)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(2),
            };
        }
    };
    let ran = match cli.command {
        Command::Read(args) => Ok(read::run(args)),
        Command::Capture(args) => Ok(capture_cmd::capture(args)),
        Command::Conns(args) => Ok(track_cmds::conns(args)),
        Command::Ladder(args) => Ok(track_cmds::ladder(args)),
        Command::Diagnose(args) => Ok(track_cmds::diagnose(args)),
        Command::Report(args) => Ok(track_cmds::report(args)),
        Command::Ss(args) => ss_cmd::ss(args),
        Command::Counters(args) => kernel_cmds::counters(args),
        Command::Doctor(args) => kernel_cmds::doctor(args),
        Command::Trace(args) => trace_cmd::trace(args),
        Command::Lab(args) => lab_cmd::lab(args),
        Command::Server(args) => Ok(peers::server(args)),
        Command::Client(args) => Ok(peers::client(args)),
        Command::Completions(args) => {
            use clap::CommandFactory;
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut Cli::command(), "tcpscope", &mut script);
            let w = std::io::Write::write_all(&mut std::io::stdout().lock(), &script);
            Ok(out::status("completions", w))
        }
        Command::Man(args) => man(args),
    };
    match ran {
        Ok(code) => code,
        // A usage error: exit status 2, as clap's own.
        Err(e) if e.is::<Usage>() => {
            eprintln!("tcpscope {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("tcpscope {e:#}");
            ExitCode::from(1)
        }
    }
}

/// A usage error found after parsing (a bad value in a free-form argument),
/// its text starting with the command's name.
#[derive(Debug)]
struct Usage(String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

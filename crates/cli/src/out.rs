//! Writing to standard output: a closed pipe (`| head`) ends a command
//! quietly and successfully, as tcpdump's does; any other write error (a
//! full disk, /dev/full, an I/O error) is said on stderr and exits 1.

use std::io;
use std::process::ExitCode;

/// What a command that wrote `r` ends with.
pub fn status(command: &str, r: io::Result<()>) -> ExitCode {
    failed(command, r).unwrap_or(ExitCode::SUCCESS)
}

/// `Some(exit 1)` after saying so when `r` is a write error other than a
/// closed pipe; `None` otherwise.
pub fn failed(command: &str, r: io::Result<()>) -> Option<ExitCode> {
    match r {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            eprintln!("tcpscope {command}: cannot write to standard output: {e}");
            Some(ExitCode::from(1))
        }
        _ => None,
    }
}

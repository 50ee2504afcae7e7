//! What each application saw: the result its next socket call gets, as far
//! as the capture can tell, with the errno the kernel gives it.

use std::fmt;

use crate::conn::{Conn, Side};
use crate::state::State;

/// What an application saw of the connection's end, from the packets its
/// peer sent. Compared with what the application really got using `==`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppOutcome {
    /// Nothing the capture shows reached it: no FIN or RST from the peer.
    Nothing,
    /// The peer's FIN arrived: read() returns 0 (end of file).
    Eof,
    /// An RST answered its SYN: connect() fails with ECONNREFUSED.
    Refused,
    /// An RST arrived on an open connection: the next read fails with
    /// ECONNRESET, and a write after that with EPIPE.
    Reset,
}

impl AppOutcome {
    /// The errno the application's call gets, if it fails.
    pub fn errno(self) -> Option<i32> {
        match self {
            AppOutcome::Nothing | AppOutcome::Eof => None,
            AppOutcome::Refused => Some(libc::ECONNREFUSED),
            AppOutcome::Reset => Some(libc::ECONNRESET),
        }
    }

    /// The errno's symbolic name.
    pub fn errno_name(self) -> Option<&'static str> {
        match self {
            AppOutcome::Nothing | AppOutcome::Eof => None,
            AppOutcome::Refused => Some("ECONNREFUSED"),
            AppOutcome::Reset => Some("ECONNRESET"),
        }
    }

    /// The machine word for it, as JSON and CSV readers filter on.
    pub fn key(self) -> &'static str {
        match self {
            AppOutcome::Nothing => "nothing",
            AppOutcome::Eof => "eof",
            AppOutcome::Refused => "refused",
            AppOutcome::Reset => "reset",
        }
    }

    /// What it means for the application, in words (`-` for nothing).
    pub fn text(self) -> &'static str {
        match self {
            AppOutcome::Nothing => "-",
            AppOutcome::Eof => "EOF (peer closed)",
            AppOutcome::Refused => "ECONNREFUSED (Connection refused) on connect",
            AppOutcome::Reset => {
                "ECONNRESET (Connection reset by peer) on read, then EPIPE (Broken pipe) on write"
            }
        }
    }
}

impl fmt::Display for AppOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

impl Conn {
    /// Who ends in TIME-WAIT: the side that closed first, once both FINs
    /// were exchanged without an RST.
    pub fn time_wait(&self) -> Option<Side> {
        if self.client_state == State::TimeWait {
            Some(Side::Client)
        } else if self.server_state == State::TimeWait {
            Some(Side::Server)
        } else if self.first_rst.is_none() && self.stats[0].fin && self.stats[1].fin {
            self.first_fin
        } else {
            None
        }
    }

    /// What one side's application saw: the peer's RST first, then the
    /// peer's FIN.
    pub fn outcome(&self, me: Side) -> AppOutcome {
        match self.first_rst {
            Some(s) if s != me && self.refused => AppOutcome::Refused,
            Some(s) if s != me => AppOutcome::Reset,
            _ if self.stats[me.other() as usize].fin => AppOutcome::Eof,
            _ => AppOutcome::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AppOutcome;

    #[test]
    fn errnos_are_the_kernels() {
        assert_eq!(AppOutcome::Refused.errno(), Some(111));
        assert_eq!(AppOutcome::Reset.errno(), Some(104));
        assert_eq!(AppOutcome::Eof.errno(), None);
    }
}

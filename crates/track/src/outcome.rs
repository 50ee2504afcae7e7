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
    /// The peer's FIN (or RST) came after this side's own FIN: its
    /// application had closed, so no call sees it (after shutdown(SHUT_WR)
    /// only, read() returns 0; the wire shows that when it goes on reading).
    AfterClose,
    /// The peer's RST came after its FIN: read() returns 0, and the next
    /// write fails with EPIPE (Linux's tcp_reset in CLOSE-WAIT).
    EofThenEpipe,
    /// An RST answered its SYN: connect() fails with ECONNREFUSED.
    Refused,
    /// An RST arrived on an open connection: the next read fails with
    /// ECONNRESET, and a write after that with EPIPE.
    Reset,
    /// Its keep-alive probes or retransmissions went unanswered and it gave
    /// up (it sent the RST that says so): ETIMEDOUT.
    TimedOut,
    /// It kept re-sending (a SYN, or data) unanswered and then went silent
    /// well before the capture ended: its call most likely failed with
    /// ETIMEDOUT. A heuristic.
    TimedOutLikely,
    /// The capture cannot tell: the packets that reached it are not in the
    /// capture, or it was still retrying when the capture ended.
    CannotTell,
}

impl AppOutcome {
    /// The errno the application's call gets, if it fails.
    pub fn errno(self) -> Option<i32> {
        match self {
            AppOutcome::Refused => Some(libc::ECONNREFUSED),
            AppOutcome::Reset => Some(libc::ECONNRESET),
            AppOutcome::EofThenEpipe => Some(libc::EPIPE),
            AppOutcome::TimedOut | AppOutcome::TimedOutLikely => Some(libc::ETIMEDOUT),
            _ => None,
        }
    }

    /// The errno's symbolic name.
    pub fn errno_name(self) -> Option<&'static str> {
        match self {
            AppOutcome::Refused => Some("ECONNREFUSED"),
            AppOutcome::Reset => Some("ECONNRESET"),
            AppOutcome::EofThenEpipe => Some("EPIPE"),
            AppOutcome::TimedOut | AppOutcome::TimedOutLikely => Some("ETIMEDOUT"),
            _ => None,
        }
    }

    /// The machine word for it, as JSON and CSV readers filter on.
    pub fn key(self) -> &'static str {
        match self {
            AppOutcome::Nothing => "nothing",
            AppOutcome::Eof => "eof",
            AppOutcome::AfterClose => "after_close",
            AppOutcome::EofThenEpipe => "eof_then_epipe",
            AppOutcome::Refused => "refused",
            AppOutcome::Reset => "reset",
            AppOutcome::TimedOut => "timed_out",
            AppOutcome::TimedOutLikely => "timed_out_likely",
            AppOutcome::CannotTell => "cannot_tell",
        }
    }

    /// What it means for the application, in words (`-` for nothing).
    pub fn text(self) -> &'static str {
        match self {
            AppOutcome::Nothing => "-",
            AppOutcome::Eof => "EOF (peer closed)",
            AppOutcome::AfterClose => {
                "nothing: it had closed first (after shutdown(SHUT_WR) only, EOF)"
            }
            AppOutcome::EofThenEpipe => {
                "EOF on read, then EPIPE (Broken pipe) on write: the peer's RST came after its FIN"
            }
            AppOutcome::Refused => "ECONNREFUSED (Connection refused) on connect",
            AppOutcome::Reset => {
                "ECONNRESET (Connection reset by peer) on read, then EPIPE (Broken pipe) on write"
            }
            AppOutcome::TimedOut => {
                "ETIMEDOUT (Connection timed out): its probes or retransmissions went unanswered"
            }
            AppOutcome::TimedOutLikely => {
                "ETIMEDOUT (Connection timed out), likely: it re-sent unanswered, then gave up (heuristic)"
            }
            AppOutcome::CannotTell => "cannot tell from this capture",
        }
    }
}

impl fmt::Display for AppOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

/// Whether a side that kept re-sending unanswered had given up when the
/// capture ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retrying {
    /// It was not re-sending unanswered.
    No,
    /// It was still re-sending at the capture's end (or the capture's end
    /// is not known).
    StillTrying,
    /// Its next retry, even with the wait doubled, would have come long
    /// before the capture ended: it gave up. A heuristic.
    GaveUp,
}

impl Conn {
    /// Who ends in TIME-WAIT: the side that closed first, once both FINs
    /// were exchanged without an RST.
    pub fn time_wait(&self) -> Option<Side> {
        if self.missing_direction().is_some() {
            None
        } else if self.client_state == State::TimeWait {
            Some(Side::Client)
        } else if self.server_state == State::TimeWait {
            Some(Side::Server)
        } else if self.first_rst.is_none() && self.stats[0].fin && self.stats[1].fin {
            self.first_fin
        } else {
            None
        }
    }

    /// The direction the capture is missing: a side none of whose packets
    /// were captured although the other side acknowledged something from
    /// it (a capture filter such as `dst port 80`, or a capture point that
    /// sees one way only).
    pub fn missing_direction(&self) -> Option<Side> {
        [Side::Client, Side::Server].into_iter().find(|&s| {
            let d = s as usize;
            self.stats[d].packets == 0 && self.last_ack[1 - d].is_some()
        })
    }

    /// Whether `side` kept re-sending unanswered, and whether it gave up
    /// before the capture ended.
    pub fn retrying(&self, side: Side) -> Retrying {
        let rt = &self.retry[side as usize];
        let needed = if rt.syn { 1 } else { 2 };
        if rt.count < needed || self.state(side) == State::Closed {
            return Retrying::No;
        }
        let Some(end) = self.capture_end else {
            return Retrying::StillTrying;
        };
        let (last, prev) = (rt.last, rt.prev);
        let gap = last.since(prev).max(0.0);
        let quiet = end.since(last);
        if quiet >= 2.0 * gap && quiet > 0.0 {
            Retrying::GaveUp
        } else {
            Retrying::StillTrying
        }
    }

    /// Whether what `side` kept re-sending is a SYN or SYN-ACK.
    pub fn retry_is_syn(&self, side: Side) -> bool {
        self.retry[side as usize].syn
    }

    /// Whether the server sent anything but SYN-ACKs.
    pub fn server_spoke(&self) -> bool {
        self.spoke[1]
    }

    /// Whether a side's keep-alive probes were left unanswered.
    pub fn probes_unanswered(&self) -> bool {
        self.probes.iter().any(|&n| n > 0)
    }

    /// One side's state when the capture ended: its last inferred state,
    /// or CLOSED when it gave up retrying (a heuristic).
    pub fn end_state(&self, side: Side) -> State {
        match self.retrying(side) {
            Retrying::GaveUp => State::Closed,
            _ => self.state(side),
        }
    }

    /// What one side's application saw.
    pub fn outcome(&self, me: Side) -> AppOutcome {
        let i = me as usize;
        if self.missing_direction() == Some(me.other()) {
            return AppOutcome::CannotTell;
        }
        let saw = self.saw[i];
        let rt = &self.retry[i];
        // What it re-sent: a SYN (connect() waits), data (a write's bytes),
        // or only a SYN-ACK or a FIN (no application call waits on those).
        let app_waits = if rt.syn {
            me == Side::Client
        } else {
            self.fin_seq[i].is_none()
        };
        match self.retrying(me) {
            Retrying::GaveUp if app_waits && saw == AppOutcome::Nothing => {
                AppOutcome::TimedOutLikely
            }
            Retrying::StillTrying if app_waits && saw == AppOutcome::Nothing => {
                AppOutcome::CannotTell
            }
            _ => saw,
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

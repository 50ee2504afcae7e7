//! Progress on long work, on stderr, only when stderr is a terminal and
//! the work has taken more than a moment (indicatif draws it); never in a
//! pipe or a file. Without colour when NO_COLOR is set.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar that appears after `delay`, if stderr is a terminal.
pub struct Progress {
    bar: Option<ProgressBar>,
    enabled: bool,
    started: Instant,
    delay: Duration,
    total: Option<u64>,
    kind: Kind,
}

/// What the bar counts.
#[derive(Clone, Copy)]
pub enum Kind {
    /// Bytes of a file, with packets in the message.
    Bytes,
    /// Labs.
    Labs,
}

impl Progress {
    /// A bar for `total` units (bytes or labs), if known.
    pub fn new(kind: Kind, total: Option<u64>) -> Progress {
        // TCPSCOPE_PROGRESS_AFTER_MS: how long before the bar appears
        // (default 1000; tests set 0).
        let delay = std::env::var("TCPSCOPE_PROGRESS_AFTER_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(Duration::from_secs(1), Duration::from_millis);
        Progress {
            bar: None,
            enabled: std::io::stderr().is_terminal(),
            started: Instant::now(),
            delay,
            total,
            kind,
        }
    }

    fn style(&self) -> ProgressStyle {
        let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let bar = if color {
            "{bar:30.cyan/blue}"
        } else {
            "{bar:30}"
        };
        let template = match (self.kind, self.total.is_some()) {
            (Kind::Bytes, true) => format!(
                "{bar} {{bytes}}/{{total_bytes}} {{binary_bytes_per_sec}}, {{msg}}, {{eta}} left"
            ),
            (Kind::Bytes, false) => {
                "{spinner} {bytes} read, {binary_bytes_per_sec}, {msg}".to_string()
            }
            (Kind::Labs, _) => format!("{bar} {{pos}}/{{len}} labs, {{elapsed}} ({{msg}})"),
        };
        ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar())
    }

    /// The total, once known (a file's size).
    pub fn set_total(&mut self, total: Option<u64>) {
        if self.bar.is_none() {
            self.total = total;
        }
    }

    /// Where the work is: `pos` units done, `packets` (or a word) for the message.
    pub fn update(&mut self, pos: u64, msg: impl FnOnce() -> String) {
        if !self.enabled {
            return;
        }
        if self.bar.is_none() {
            if self.started.elapsed() < self.delay {
                return;
            }
            let bar = match self.total {
                Some(t) => {
                    ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr_with_hz(8))
                }
                None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(8)),
            };
            bar.set_style(self.style());
            self.bar = Some(bar);
        }
        if let Some(b) = &self.bar {
            b.set_position(pos);
            b.set_message(msg());
        }
    }

    /// Run `f` (which writes to the terminal) with the bar out of the way.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(b) => b.suspend(f),
            None => f(),
        }
    }

    /// Remove the bar.
    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

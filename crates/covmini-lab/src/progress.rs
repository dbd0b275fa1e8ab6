//! The live progress view: one line per step as it ends, with its phase,
//! outcome and scenario line, and the running counters.
//!
//! Three modes. On a terminal the step lines scroll and one status line
//! under them is redrawn in place with the phase and counters. When stdout
//! is not a terminal (a pipe, CI, a file) every step line carries the
//! counters itself and nothing is redrawn. Quiet (`-q`) prints no step at
//! all; the failures and the summary table still print. Verbose (`-v`)
//! adds every NDIS↔driver event under the step that caused it.
//!
//! It owns only the wording and the terminal handling; it decides nothing.
//! It prints through `crate::out`, so a reader that goes away mid-run ends
//! the lab at the next step.

use std::fmt::Write;
use std::io::IsTerminal;

use ndis_emu::Event;

use crate::steps::{Counters, Step};

/// How steps are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// No step lines.
    Quiet,
    /// One plain line per step, counters on each line.
    Plain,
    /// One line per step and a status line redrawn in place.
    Live,
}

impl Mode {
    /// Quiet when asked, live on a terminal, plain otherwise.
    #[must_use]
    pub fn pick(quiet: bool) -> Self {
        if quiet {
            Self::Quiet
        } else if std::io::stdout().is_terminal() {
            Self::Live
        } else {
            Self::Plain
        }
    }
}

/// The progress view of one run.
pub struct View {
    mode: Mode,
    verbose: bool,
    total: usize,
    status_line: bool,
}

/// The running counters in one short line (the status line stays under 80
/// columns, so redrawing it never leaves a wrapped half behind).
#[must_use]
pub fn counters_line(c: &Counters) -> String {
    format!(
        "calls {} made/{} ok/{} rejected · NBLs {} · violations {}",
        c.calls_made,
        c.calls_accepted,
        c.calls_rejected,
        c.nbls(),
        c.violations
    )
}

/// What the compact counters at the end of a plain step line mean.
pub const COMPACT_LEGEND: &str = "[calls made/accepted/rejected · NBLs received · violations]";

/// The running counters as the end of a plain step line.
#[must_use]
pub fn counters_compact(c: &Counters) -> String {
    format!(
        "[calls {}/{}/{} · NBLs {} · violations {}]",
        c.calls_made,
        c.calls_accepted,
        c.calls_rejected,
        c.nbls(),
        c.violations
    )
}

/// Step text, status and line are padded to this many characters in plain
/// mode, so the counters line up.
const PLAIN_TEXT: usize = 72;

impl View {
    /// A view of a run expected to take `total` steps.
    #[must_use]
    pub fn new(mode: Mode, verbose: bool, total: usize) -> Self {
        Self {
            mode,
            verbose,
            total,
            status_line: false,
        }
    }

    fn clear_status(&mut self, out: &mut String) {
        if self.status_line {
            let _ = write!(out, "\r\x1b[2K");
            self.status_line = false;
        }
    }

    /// Shows step `index` (0-based) as it ended.
    pub fn step(&mut self, index: usize, step: &Step, counters: &Counters, events: &[Event]) {
        if self.mode == Mode::Quiet {
            return;
        }
        let mut out = String::new();
        self.clear_status(&mut out);
        let n = index + 1;
        self.total = self.total.max(n);
        let width = self.total.to_string().len();
        let live = self.mode == Mode::Live;
        let mark = match (step.skipped, step.ok(), live) {
            (true, _, true) => "\x1b[2mskip\x1b[0m",
            (true, _, false) => "skip",
            (false, true, true) => "\x1b[32mok  \x1b[0m",
            (false, false, true) => "\x1b[1;31mFAIL\x1b[0m",
            (false, true, false) => "ok  ",
            (false, false, false) => "FAIL",
        };
        let status = match (&step.status, step.skipped) {
            (_, true) => " → skipped: not run, an earlier step failed".to_owned(),
            (Some(s), false) => format!(" → {s}"),
            (None, false) => String::new(),
        };
        let line = step.line.map_or_else(String::new, |l| format!("  (line {l})"));
        let body = format!("{}{status}{line}", step.text);
        let _ = write!(out, "  {n:>width$}/{}  {:<8} {mark} ", self.total, step.phase);
        if self.mode == Mode::Plain {
            let pad = PLAIN_TEXT.saturating_sub(body.chars().count());
            let _ = write!(out, "{body}{}  {}", " ".repeat(pad), counters_compact(counters));
        } else {
            let _ = write!(out, "{body}");
        }
        let _ = writeln!(out);
        if let Some(f) = &step.failure {
            let _ = writeln!(out, "           {f}");
        }
        if self.verbose {
            for e in events {
                let _ = writeln!(out, "           {e}");
            }
        }
        if live {
            let _ = write!(
                out,
                "\x1b[2m  ▸ {} · step {n}/{} · {}\x1b[0m",
                step.phase,
                self.total,
                counters_line(counters)
            );
            self.status_line = true;
        }
        crate::out::print(&out);
    }

    /// Ends the view (clears the status line).
    pub fn finish(&mut self) {
        let mut out = String::new();
        self.clear_status(&mut out);
        crate::out::print(&out);
    }
}

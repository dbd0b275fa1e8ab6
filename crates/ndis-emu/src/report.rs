//! What an emulator step returns when it cannot be taken ([`EmuError`])
//! and what a run left behind ([`Report`]).
//!
//! It owns these two value types only. A leaf under the facade: the
//! facade (`crate::emulator`) and the subsystems that run its steps
//! (`crate::lifecycle`, `crate::sched`) name it, so it must name neither.

use std::fmt;

use ndis_sys::*;

use crate::rules::{Rule, Violation};
use crate::trace::Event;
use crate::world::World;

/// Why an emulator step could not be taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmuError {
    /// DriverEntry returned a failure NTSTATUS.
    DriverEntryFailed(NTSTATUS),
    /// No driver is registered (DriverEntry not run, or it failed).
    NotLoaded,
    /// MiniportInitializeEx failed with this status.
    InitializeFailed(NDIS_STATUS),
    /// MiniportRestart failed with this status.
    RestartFailed(NDIS_STATUS),
    /// No adapter is up.
    NoAdapter,
    /// An adapter is already up (ndis-emu runs one adapter per driver).
    AdapterExists,
    /// The scheduler ran `steps` work item routines and timer callbacks and
    /// still had `pending` ready: a periodic timer or a work item that
    /// requeues itself keeps it busy (see [`crate::Emulator::set_step_limit`]).
    NeverIdle {
        /// Routines and callbacks run before giving up.
        steps: usize,
        /// Work items queued and timers set when it gave up.
        pending: usize,
    },
}

impl fmt::Display for EmuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DriverEntryFailed(s) => write!(f, "DriverEntry failed with {s:#010x}"),
            Self::NotLoaded => f.write_str("no miniport driver is registered"),
            Self::InitializeFailed(s) => write!(f, "MiniportInitializeEx failed with {s:#010x}"),
            Self::RestartFailed(s) => write!(f, "MiniportRestart failed with {s:#010x}"),
            Self::NoAdapter => f.write_str("no adapter is up"),
            Self::AdapterExists => f.write_str("an adapter is already up"),
            Self::NeverIdle { steps, pending } => write!(
                f,
                "deferred work never went idle: {steps} routine(s) and callback(s) ran and {pending} work item(s) or \
                 timer(s) are still pending (a periodic timer or a self-requeuing work item; cancel it, or use \
                 advance_time)"
            ),
        }
    }
}

impl std::error::Error for EmuError {}

/// What a run left behind: violations (leaks included), the trace and the
/// driver's debug output.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Every broken rule, in the order seen (leaks last).
    pub violations: Vec<Violation>,
    /// The trace: handler entries/returns and DDI calls, in order.
    pub events: Vec<Event>,
    /// What the driver printed with DbgPrintEx.
    pub debug_output: Vec<String>,
}

impl Report {
    /// No rule was broken and nothing leaked.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }

    /// The violations of one rule.
    pub fn of(&self, rule: Rule) -> impl Iterator<Item = &Violation> {
        self.violations.iter().filter(move |v| v.rule == rule)
    }

    /// The distinct rules broken, in catalog order.
    #[must_use]
    pub fn rules(&self) -> Vec<Rule> {
        let mut r: Vec<Rule> = self.violations.iter().map(|v| v.rule).collect();
        r.sort();
        r.dedup();
        r
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} violation(s)", self.violations.len())?;
        for v in &self.violations {
            writeln!(f, "  {v}")?;
        }
        writeln!(f, "trace (last 40 events):")?;
        let skip = self.events.len().saturating_sub(40);
        for e in self.events.iter().skip(skip) {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl Report {
    /// What the world holds now: its violations, trace and debug output.
    pub(crate) fn snapshot(w: &World) -> Self {
        Self {
            violations: w.violations.clone(),
            events: w.events.clone(),
            debug_output: w.debug_output.clone(),
        }
    }

    /// What the world held at its end (taken, not copied).
    pub(crate) fn from_world(w: World) -> Self {
        Self {
            violations: w.violations,
            events: w.events,
            debug_output: w.debug_output,
        }
    }
}

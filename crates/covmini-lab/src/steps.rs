//! The story's steps, each with the slice of the emulator's trace (and of its
//! violations) that happened while it ran, so the trace and the diagram can
//! group NDIS↔driver traffic under the client action that caused it.

use std::ops::Range;

use ndis_emu::Emulator;

/// One step of a story, as run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// What the step did, in words.
    pub text: String,
    /// Whether it did what it should.
    pub ok: bool,
    /// Indices into `Report::events` recorded during the step.
    pub events: Range<usize>,
    /// Indices into `Report::violations` recorded during the step.
    pub violations: Range<usize>,
}

/// Records steps as the story runs and prints one line for each.
#[derive(Default)]
pub struct Recorder {
    /// The steps so far.
    pub steps: Vec<Step>,
    events: usize,
    violations: usize,
}

impl Recorder {
    /// Records a step that ended now, and prints it.
    pub fn record(&mut self, emu: &Emulator, text: &str, ok: bool) {
        let report = emu.report();
        let (events, violations) = (report.events.len(), report.violations.len());
        println!("  {:<4} {text}", if ok { "ok" } else { "FAIL" });
        self.steps.push(Step {
            text: text.to_owned(),
            ok,
            events: self.events..events,
            violations: self.violations..violations,
        });
        self.events = events;
        self.violations = violations;
    }
}

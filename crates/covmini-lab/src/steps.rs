//! A run's steps, each with the slice of the emulator's trace (and of its
//! violations) that happened while it ran, so the trace and the diagram can
//! group NDIS↔driver traffic under the client action that caused it, and the
//! running counters the progress view and the summary show.

use std::collections::HashMap;
use std::ops::Range;

use ndis_emu::Detail;

/// One step of a run, as run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// What the step did, in words.
    pub text: String,
    /// Its phase (driver, setup, call, party, data, qos, teardown).
    pub phase: &'static str,
    /// The scenario line it comes from; `None` for the lab's own steps
    /// (loading the driver, adding the adapter, the final halt and unload).
    pub line: Option<usize>,
    /// The client that acted (an index into [`Lanes::names`]); `None` for
    /// halt and the lab's own steps.
    pub client: Option<usize>,
    /// The NDIS status it came to, by name, when it has one.
    pub status: Option<String>,
    /// Why it failed (an unmet expectation), or `None`.
    pub failure: Option<String>,
    /// It was not run: an earlier step failed (the run stops at its first
    /// failure), so no status, no events.
    pub skipped: bool,
    /// Indices into `Report::events` recorded during the step.
    pub events: Range<usize>,
    /// Indices into `Report::violations` recorded during the step.
    pub violations: Range<usize>,
}

impl Step {
    /// It ran and did what the scenario expected.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.failure.is_none() && !self.skipped
    }

    /// `step n (line L) “text”`, for failure and violation messages.
    #[must_use]
    pub fn name(&self, n: usize) -> String {
        match self.line {
            Some(l) => format!("step {n} (line {l}) “{}”", self.text),
            None => format!("step {n} “{}”", self.text),
        }
    }
}

/// The clients of a run, for views that show each client apart (the
/// diagram's lanes), and which client each NDIS handle the trace names
/// belongs to: its AF opens, SAPs, VCs (its own and those covmini created
/// for it) and, for a multipoint root, its parties.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lanes {
    /// The clients' names, in scenario order.
    pub names: Vec<String>,
    /// NDIS handle → index into `names`.
    pub owners: HashMap<usize, usize>,
}

impl Lanes {
    /// The client owning the first handle named in a trace event's `detail`
    /// (its hex numbers, such as the VC of `VC 0x7e5700000090`), if any is
    /// known.
    #[must_use]
    pub fn owner_in(&self, detail: &Detail) -> Option<usize> {
        detail
            .hex()
            .filter_map(|h| usize::try_from(h).ok())
            .find_map(|h| self.owners.get(&h).copied())
    }
}

/// NBLs and payload bytes that went one way.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flow {
    /// `alice → bob`, or `alice → echo → alice`.
    pub label: String,
    /// NBLs received at the far end.
    pub nbls: u64,
    /// Payload bytes received at the far end.
    pub bytes: u64,
}

/// The running counters of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// make_call steps taken.
    pub calls_made: u64,
    /// Calls that connected (at once, or when a pended answer accepted).
    pub calls_accepted: u64,
    /// Calls that reached their callee (or leaf) and failed: refused, or
    /// failed after it was offered.
    pub calls_rejected: u64,
    /// Calls that failed without reaching any callee: no client registered
    /// the address (NO_ROUTE_TO_DESTINATION), or covmini refused the
    /// address itself (INVALID_ADDRESS). Not rejections: nobody refused.
    pub calls_unrouted: u64,
    /// Parties whose leaf accepted (a multipoint call's first party, or an
    /// added one).
    pub parties_joined: u64,
    /// Parties whose leaf left the call: dropped by the root, hung up, or
    /// closed with the root.
    pub parties_left: u64,
    /// Data that went each way, in first-seen order.
    pub flows: Vec<Flow>,
    /// Handlers NDIS called (`->` events).
    pub handler_calls: u64,
    /// DDIs covmini called (`=>` events).
    pub ddi_calls: u64,
    /// Contract violations so far (leaks included once the run ends).
    pub violations: u64,
    /// Steps whose expectation was not met.
    pub failed_steps: u64,
}

impl Counters {
    /// Adds `nbls` NBLs and `bytes` bytes to the flow `label`.
    pub fn add_flow(&mut self, label: &str, nbls: u64, bytes: u64) {
        if let Some(f) = self.flows.iter_mut().find(|f| f.label == label) {
            f.nbls += nbls;
            f.bytes += bytes;
        } else {
            self.flows.push(Flow {
                label: label.to_owned(),
                nbls,
                bytes,
            });
        }
    }

    /// NBLs received, all flows.
    #[must_use]
    pub fn nbls(&self) -> u64 {
        self.flows.iter().map(|f| f.nbls).sum()
    }
}

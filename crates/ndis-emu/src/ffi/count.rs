//! How many times the driver called each import: every DDI defined with
//! `ddi_fn!` counts its own calls, and so do the lookaside lists' Allocate
//! and Free routines (on Windows the pool calls `ExAllocateFromNPagedLookasideList`
//! and `ExFreeToNPagedLookasideList` make when the list misses or is full).
//! covmini-lab's bench reads the counts before and after an operation to
//! show the NDIS calls each operation makes (BENCHMARKS.md).
//!
//! The counts are process-wide and only grow: a reader takes the difference
//! of two [`ddi_calls`] snapshots around code it runs alone (one emulator
//! session at a time, as the bench does). They are cheap (one relaxed atomic
//! add per call, one more load) and they are not derived from the trace.
//!
//! What this module must not do: count anything but a call the driver made
//! into an import, or take a lock on the counting path after a DDI's first
//! call.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// One import's call count: a `static` inside the function it counts.
///
/// INVARIANT: `listed` is true once, and only once, this count is in
/// [`LISTED`], so each count is listed at most once.
pub(crate) struct Count {
    name: &'static str,
    calls: AtomicU64,
    listed: AtomicBool,
}

/// Every count that has been hit at least once.
static LISTED: Mutex<Vec<&'static Count>> = Mutex::new(Vec::new());

impl Count {
    pub(crate) const fn new(name: &'static str) -> Self {
        Self {
            name,
            calls: AtomicU64::new(0),
            listed: AtomicBool::new(false),
        }
    }

    /// The driver called this import once more.
    pub(crate) fn hit(&'static self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if !self.listed.load(Ordering::Acquire) && !self.listed.swap(true, Ordering::AcqRel) {
            LISTED.lock().unwrap_or_else(PoisonError::into_inner).push(self);
        }
    }
}

/// The calls the driver has made so far in this process, by import name
/// (imports it never called are absent).
#[must_use]
pub fn ddi_calls() -> BTreeMap<&'static str, u64> {
    LISTED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .map(|c| (c.name, c.calls.load(Ordering::Relaxed)))
        .collect()
}

//! The NDIS events' state (a field of the world): each event by its
//! address, and how many CPUs wait in NdisWaitEvent.
//!
//! It owns that state only; NdisInitializeEvent, NdisSetEvent, the waits
//! and the rules of events are `crate::sync`. A leaf of the world: it must
//! not name the world nor anything that does.

use std::collections::BTreeMap;

/// One event, by the address of its NDIS_EVENT.
#[derive(Clone, Debug)]
pub(crate) struct EventRec {
    pub(crate) signalled: bool,
    /// The handler that initialized it.
    pub(crate) origin: &'static str,
    /// The memory holding it was freed, in this handler.
    pub(crate) freed_in: Option<&'static str>,
}

/// The events' state (a field of the world).
#[derive(Debug, Default)]
pub struct Events {
    pub(crate) events: BTreeMap<usize, EventRec>,
    /// CPUs blocked in NdisWaitEvent now (the threaded mode).
    pub(crate) waiting: usize,
}

impl Events {
    /// Whether a CPU is blocked in NdisWaitEvent (the threaded mode's
    /// workers then run the clients' later answers).
    #[must_use]
    pub fn someone_waits(&self) -> bool {
        self.waiting > 0
    }
}

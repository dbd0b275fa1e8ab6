//! The scheduler's state (a field of the world): the seeded choice, the
//! virtual clock, and the live work items and timer objects.
//!
//! It owns that state and its bookkeeping. The DDIs' checks, the rules of
//! work items and timers and the running of routines are `crate::sched`. A
//! leaf of the world: it must not name the world nor anything that does.

use std::collections::BTreeMap;

use ndis_sys::*;

/// 100 ns system-time units per millisecond.
pub const TICKS_PER_MS: i64 = 10_000;

/// The virtual system time when an emulator starts: 2025-01-01 00:00:00 UTC
/// as a FILETIME (100 ns units since 1601-01-01).
pub const SYSTEM_TIME_BASE: i64 = 133_801_632_000_000_000;

/// How many work item routines and timer callbacks one `run_until_idle` or
/// `advance_time` runs before it gives up with [`crate::EmuError::NeverIdle`].
pub const DEFAULT_STEP_LIMIT: usize = 10_000;

/// SplitMix64 (Steele, Lea and Flood, 2014): small, fast, and every seed,
/// 0 included, gives a full-quality sequence.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`), by Lemire's multiply-shift.
    pub fn below(&mut self, n: usize) -> usize {
        let wide = u128::from(self.next_u64()) * n as u128;
        // NO-OVERFLOW: (2^64 - 1) * n >> 64 < n, which fits in usize.
        (wide >> 64) as usize
    }
}

/// Who owns a work item or timer, which says when it must be freed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// Allocated with the miniport adapter handle: freed by MiniportHaltEx.
    Adapter(usize),
    /// Allocated with the miniport driver handle: freed by unload.
    Driver(usize),
}

impl Owner {
    pub(crate) fn handle(self) -> usize {
        match self {
            Self::Adapter(h) | Self::Driver(h) => h,
        }
    }
}

/// A queued work item: what to run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct QueuedWork {
    pub(crate) routine: NDIS_IO_WORKITEM_ROUTINE,
    pub(crate) context: usize,
}

/// An NDIS I/O work item.
#[derive(Clone, Debug)]
pub(crate) struct WorkItem {
    pub(crate) queued: Option<QueuedWork>,
    /// Its routine is running now.
    pub(crate) running: bool,
}

/// A set timer: when it fires next and with what.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Armed {
    /// Absolute virtual system time.
    pub(crate) due: i64,
    pub(crate) context: usize,
}

/// An NDIS timer object.
#[derive(Clone, Debug)]
pub(crate) struct Timer {
    pub(crate) function: NDIS_TIMER_FUNCTION,
    pub(crate) default_context: usize,
    /// The period of the last NdisSetTimerObject, in 100 ns (0: one-shot).
    pub(crate) period: i64,
    pub(crate) armed: Option<Armed>,
    pub(crate) fired: u64,
    /// Its callback is running (on how many CPUs).
    pub(crate) running: u32,
}

#[derive(Clone, Debug)]
pub(crate) enum Kind {
    WorkItem(WorkItem),
    Timer(Timer),
}

/// A live work item or timer object.
#[derive(Clone, Debug)]
pub(crate) struct Object {
    pub(crate) owner: Owner,
    /// The handler that allocated it.
    pub(crate) origin: &'static str,
    /// A leak of it was already reported.
    pub(crate) leak_reported: bool,
    pub(crate) kind: Kind,
}

impl Object {
    pub(crate) fn what(&self) -> &'static str {
        match self.kind {
            Kind::WorkItem(_) => "work item",
            Kind::Timer(_) => "timer",
        }
    }

    /// Queued work item, or set timer due by `now`.
    pub(crate) fn ready(&self, now: i64) -> bool {
        match &self.kind {
            Kind::WorkItem(wi) => wi.queued.is_some(),
            Kind::Timer(t) => t.armed.is_some_and(|a| a.due <= now),
        }
    }

    pub(crate) fn pending(&self) -> bool {
        match &self.kind {
            Kind::WorkItem(wi) => wi.queued.is_some(),
            Kind::Timer(t) => t.armed.is_some(),
        }
    }
}

/// The scheduler's state (a field of the world).
#[derive(Debug)]
pub struct Sched {
    seed: u64,
    pub(crate) rng: Rng,
    /// Virtual system time, 100 ns units.
    pub(crate) now: i64,
    pub(crate) step_limit: usize,
    /// Live work items and timers by handle (BTreeMap: handle order is the
    /// deterministic order of the ready set).
    pub(crate) objects: BTreeMap<usize, Object>,
    /// Worker and DPC threads run the work (the threaded mode).
    pub(crate) threaded: bool,
    /// The threaded mode's threads are to stop.
    pub(crate) shutdown: bool,
    /// Routines and callbacks running now (a work item that freed itself
    /// is no longer in `objects` while its routine finishes).
    pub(crate) in_flight: usize,
    /// Routines and callbacks that have run to the end.
    pub(crate) completed: usize,
}

impl Default for Sched {
    fn default() -> Self {
        Self::new(0)
    }
}

impl Sched {
    /// A scheduler whose choices come from `seed`, at [`SYSTEM_TIME_BASE`].
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            rng: Rng::new(seed),
            now: SYSTEM_TIME_BASE,
            step_limit: DEFAULT_STEP_LIMIT,
            objects: BTreeMap::new(),
            threaded: false,
            shutdown: false,
            in_flight: 0,
            completed: 0,
        }
    }

    /// Switches to the threaded mode (before any driver code runs).
    pub fn set_threaded(&mut self) {
        self.threaded = true;
    }

    /// Whether worker and DPC threads run the work.
    #[must_use]
    pub fn threaded(&self) -> bool {
        self.threaded
    }

    /// Tells the threaded mode's threads to stop.
    pub fn stop(&mut self) {
        self.shutdown = true;
    }

    /// The seed.
    #[must_use]
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The virtual system time (100 ns units).
    #[must_use]
    pub fn now(&self) -> i64 {
        self.now
    }

    /// Sets how many steps one run may take.
    pub fn set_step_limit(&mut self, steps: usize) {
        self.step_limit = steps;
    }

    /// How many steps one run may take.
    #[must_use]
    pub fn step_limit(&self) -> usize {
        self.step_limit
    }

    /// Queued work items plus timers in the timer queue.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.objects.values().filter(|o| o.pending()).count()
    }

    /// Time since the emulator started, in ticks, for the trace (`{c}`).
    pub(crate) fn clock(&self) -> i64 {
        self.now - SYSTEM_TIME_BASE
    }

    pub(crate) fn earliest_due(&self) -> Option<i64> {
        self.objects
            .values()
            .filter_map(|o| match &o.kind {
                Kind::Timer(t) => t.armed.map(|a| a.due),
                Kind::WorkItem(_) => None,
            })
            .min()
    }
}

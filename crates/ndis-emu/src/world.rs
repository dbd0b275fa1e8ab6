//! The emulator's state ("the world"): handles, the memory ledger, spin
//! locks, IRQL, the registered driver and adapter, violations and the trace.
//!
//! The driver calls NDIS through plain exported functions with no context
//! argument, so the world is reached through a thread-local: the thread that
//! created the [`crate::Emulator`] is the thread the driver runs on (the
//! deterministic mode). Borrows of the world are always short and never span
//! a call into the driver, because the driver calls back into NDIS
//! (re-entrancy is the normal case: SetOptions inside
//! NdisMRegisterMiniportDriver, incoming-call completions inside a dispatch).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use ndis_sys::*;

use crate::rules::{self, Rule, Violation};

/// What kind of object a handle names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HandleKind {
    /// NdisMiniportDriverHandle.
    Driver,
    /// NdisMiniportHandle (MiniportAdapterHandle).
    Adapter,
    /// NdisAfHandle: one client's open of an address family.
    Af,
    /// NdisSapHandle.
    Sap,
    /// NdisVcHandle.
    Vc,
    /// NdisPartyHandle.
    Party,
    /// An NDIS I/O work item (NdisAllocateIoWorkItem).
    WorkItem,
    /// An NDIS timer object (NdisAllocateTimerObject).
    Timer,
}

/// A handle's record.
#[derive(Clone, Debug)]
pub struct HandleRec {
    pub kind: HandleKind,
    pub alive: bool,
    /// Events of this object, oldest first (for violation reports).
    pub history: Vec<String>,
}

/// Handles are opaque values the driver must never dereference; they are
/// chosen far from any mapping so that a dereference faults at once.
const HANDLE_BASE: usize = 0x0000_7E57_0000_0000;

/// One outstanding allocation.
#[derive(Clone, Debug)]
pub struct Allocation {
    pub size: usize,
    pub tag: ULONG,
    /// The handler (or NDIS call) that allocated it.
    pub origin: &'static str,
}

/// Where MiniportInitializeEx is in its mandatory sequence (§1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum InitStep {
    Started,
    RegistrationAttributes,
    GeneralAttributes,
    AddressFamily,
}

/// The adapter as NDIS sees it.
#[derive(Clone, Debug)]
pub struct AdapterRec {
    pub handle: usize,
    pub context: usize,
    pub step: InitStep,
    pub attribute_flags: ULONG,
    pub medium: NDIS_MEDIUM,
    pub afs: Vec<CO_ADDRESS_FAMILY>,
    pub halted: bool,
}

/// The registered miniport driver.
#[derive(Clone, Copy)]
pub struct DriverRec {
    pub handle: usize,
    pub chars: NDIS_MINIPORT_DRIVER_CHARACTERISTICS,
    pub co: Option<NDIS_MINIPORT_CO_CHARACTERISTICS>,
    pub cm: Option<NDIS_CO_CALL_MANAGER_OPTIONAL_HANDLERS>,
    pub driver_context: usize,
    pub deregistered: bool,
}

/// A spin lock the driver initialized.
#[derive(Clone, Copy, Debug, Default)]
pub struct LockRec {
    pub held: bool,
}

/// One line of the emulator's trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Position in the trace, from 0.
    pub seq: u64,
    /// The IRQL at the time.
    pub irql: KIRQL,
    /// `->` a handler NDIS calls, `<-` its return, `=>` a DDI the driver calls.
    pub dir: &'static str,
    /// The handler or DDI.
    pub name: &'static str,
    /// Arguments, statuses, objects.
    pub detail: String,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:5} irql={} {} {} {}",
            self.seq, self.irql, self.dir, self.name, self.detail
        )
    }
}

/// A handler NDIS is currently running (the call stack of driver entries).
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    pub handler: &'static str,
    pub irql_at_entry: KIRQL,
}

/// Everything the emulator knows.
#[derive(Default)]
pub struct World {
    pub irql: KIRQL,
    pub frames: Vec<Frame>,
    pub handles: HashMap<usize, HandleRec>,
    pub next_handle: usize,
    pub ledger: BTreeMap<usize, Allocation>,
    pub locks: HashMap<usize, LockRec>,
    pub driver: Option<DriverRec>,
    pub adapter: Option<AdapterRec>,
    pub violations: Vec<Violation>,
    pub events: Vec<Event>,
    pub debug_output: Vec<String>,
    pub bug_check: Option<(ULONG, [ULONG_PTR; 4])>,
    /// AFs, SAPs, VCs, parties, clients and pended requests (crate::condis).
    pub condis: crate::condis::Condis,
    /// Work items, timer objects and the virtual clock (crate::sched).
    pub sched: crate::sched::Sched,
    /// Configured failures and their counters (crate::faults).
    pub faults: crate::faults::Faults,
    pub lookaside: crate::lookaside::Lookasides,
    pub nbls: crate::nbl::Nbls,
    /// Echo DbgPrintEx lines to stderr as they come (NDIS_EMU_VERBOSE=1).
    pub verbose: bool,
}

impl World {
    /// Records a broken rule, with the history of the objects involved.
    pub fn violate(&mut self, rule: Rule, call: &'static str, detail: impl Into<String>, objects: &[usize]) {
        let history = objects
            .iter()
            .filter_map(|h| self.handles.get(h))
            .flat_map(|r| r.history.iter().rev().take(6).rev().cloned())
            .collect();
        let v = Violation {
            rule,
            call,
            detail: detail.into(),
            history,
        };
        if self.verbose {
            eprintln!("ndis-emu: VIOLATION {v}");
        }
        self.violations.push(v);
    }

    /// Appends to the trace.
    pub fn event(&mut self, dir: &'static str, name: &'static str, detail: impl Into<String>) {
        let seq = self.events.len() as u64;
        self.events.push(Event {
            seq,
            irql: self.irql,
            dir,
            name,
            detail: detail.into(),
        });
    }

    /// Creates a handle of `kind`.
    pub fn new_handle(&mut self, kind: HandleKind, what: impl Into<String>) -> usize {
        self.next_handle += 1;
        let h = HANDLE_BASE + (self.next_handle << 4);
        self.handles.insert(
            h,
            HandleRec {
                kind,
                alive: true,
                history: vec![what.into()],
            },
        );
        h
    }

    /// Checks a handle the driver passed: known, of `kind`, alive.
    pub fn check_handle(&mut self, h: usize, kind: HandleKind, call: &'static str) -> bool {
        let problem = match self.handles.get(&h) {
            None if h == 0 => Some("a NULL handle".to_string()),
            None => Some(format!("{h:#x}, which NDIS never gave out")),
            Some(r) if r.kind != kind => Some(format!("{h:#x}, a {:?} handle, where a {kind:?} handle is due", r.kind)),
            Some(r) if !r.alive => Some(format!("{h:#x}, a {kind:?} handle that is no longer valid")),
            Some(_) => None,
        };
        match problem {
            Some(p) => {
                self.violate(rules::HANDLE_VALID, call, format!("passed {p}"), &[h]);
                false
            }
            None => true,
        }
    }

    /// Adds to a handle's history.
    pub fn note(&mut self, h: usize, what: impl Into<String>) {
        if let Some(r) = self.handles.get_mut(&h) {
            r.history.push(what.into());
        }
    }

    /// Checks the DDI's IRQL limit.
    pub fn check_irql(&mut self, call: &'static str, max: KIRQL) {
        if self.irql > max {
            let irql = self.irql;
            self.violate(
                rules::IRQL_LIMIT,
                call,
                format!("called at IRQL {irql}; its limit is {max}"),
                &[],
            );
        }
    }

    /// The handler the driver is running now, if any.
    pub fn current_handler(&self) -> Option<&'static str> {
        self.frames.last().map(|f| f.handler)
    }
}

thread_local! {
    static WORLD: RefCell<Option<World>> = const { RefCell::new(None) };
}

/// Installs a fresh world on this thread.
pub fn install(world: World) {
    WORLD.with(|w| *w.borrow_mut() = Some(world));
}

/// Removes this thread's world.
pub fn take() -> Option<World> {
    WORLD.with(|w| w.borrow_mut().take())
}

/// Runs `f` on this thread's world. A driver that calls NDIS with no
/// emulator running (from a stray thread, or after the test dropped the
/// emulator) gets a loud failure, never a silent default.
pub fn with<R>(call: &'static str, f: impl FnOnce(&mut World) -> R) -> R {
    WORLD.with(|w| match w.borrow_mut().as_mut() {
        Some(world) => f(world),
        None => {
            eprintln!("ndis-emu: {call} called with no emulator running on this thread");
            std::process::abort();
        }
    })
}

/// Like [`with`], for the emulator's own API (no abort: the caller owns one).
pub fn try_with<R>(f: impl FnOnce(&mut World) -> R) -> Option<R> {
    WORLD.with(|w| w.borrow_mut().as_mut().map(f))
}

//! The emulator's state ("the world"): handles, the memory ledger, spin
//! locks, the registered driver and adapter, violations and the trace; and
//! the per-CPU state ([`Cpu`]): IRQL and the stack of driver handlers the
//! CPU is running.
//!
//! The driver calls NDIS through plain exported functions with no context
//! argument, so the world is a process-global behind one lock (one emulator
//! per process is the rule: [`Session`] holds the session lock for the
//! emulator's lifetime). Every thread the emulator runs the driver on is a
//! *CPU*: the thread that created the [`crate::Emulator`] is CPU 0, and in
//! the threaded mode its system worker threads, DPC threads and the client
//! threads of [`crate::Emulator::concurrently`] are CPUs too. IRQL belongs to
//! a processor, so each CPU keeps its own in a thread-local [`Cpu`]; the
//! world records which CPU each event and violation happened on.
//!
//! What this module must not do: hold the world lock across a call into the
//! driver. Borrows of the world ([`with`]) are short, because the driver
//! calls back into NDIS (re-entrancy is the normal case: SetOptions inside
//! NdisMRegisterMiniportDriver, incoming-call completions inside a
//! dispatch) and, in the threaded mode, because other CPUs need it
//! meanwhile. Re-entering [`with`] on one thread is an emulator bug and
//! fails loudly, as does a DDI called from a thread that is not one of the
//! running emulator's CPUs.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use ndis_sys::*;

use crate::ffi::shared::{Locked, SharedWorld};
use crate::rules::{self, Rule, Violation};

pub(crate) mod base;
pub(crate) mod bugcheck;
pub(crate) mod faults;
pub(crate) mod io;
pub(crate) mod lookaside;
pub(crate) mod nbl;
pub(crate) mod pause;
pub(crate) mod protocol;
pub(crate) mod sched;
pub(crate) mod signal;
pub(crate) mod sync;

pub use base::{Allocation, CpuId};

pub use protocol::{BindOp, BindOpKind, BindingRec, ProtocolRec};
use signal::CHANGED;
pub use signal::changed;

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
    /// A configuration handle (NdisOpenConfigurationEx).
    Config,
    /// An NdisDeviceHandle (NdisRegisterDeviceEx).
    Device,
    /// NdisProtocolHandle (NdisRegisterProtocolDriver).
    Protocol,
    /// The BindContext of one ProtocolBindAdapterEx call.
    BindContext,
    /// NdisBindingHandle (NdisOpenAdapterEx).
    Binding,
    /// The UnbindContext of one ProtocolUnbindAdapterEx call.
    UnbindContext,
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
    /// A halt began: NDIS unbinds the protocols, so no new send, send
    /// cancel or miniport OID request reaches the driver from here on
    /// (client call-manager requests on an open AF still do).
    pub halting: bool,
    /// Sends, send cancels, miniport OID requests and AF opens of clients
    /// inside the driver now (the halt waits for them: NDIS does not call
    /// MiniportHaltEx with them outstanding, contract §1.4).
    pub calls_in: u32,
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

/// A spin lock the driver used, by the address of its KSPIN_LOCK.
#[derive(Clone, Copy, Debug, Default)]
pub struct LockRec {
    /// The CPU that holds it (None: free).
    pub owner: Option<CpuId>,
    /// The handler it was taken in, for reports.
    pub taken_in: &'static str,
}

use crate::trace::Detail;
pub use crate::trace::Event;

/// A handler NDIS is currently running (the call stack of driver entries).
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    pub handler: &'static str,
    pub irql_at_entry: KIRQL,
}

/// What a CPU (a thread the driver runs on) is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuKind {
    /// The thread that owns the [`crate::Emulator`].
    Owner,
    /// A system worker thread: runs work items at PASSIVE_LEVEL.
    Worker,
    /// A processor's DPC thread: runs timer callbacks at DISPATCH_LEVEL.
    Dpc,
    /// A client thread of [`crate::Emulator::concurrently`].
    Client,
}

/// The per-processor state: what the calling thread's CPU is doing.
#[derive(Clone, Debug)]
pub struct Cpu {
    /// Its number.
    pub id: CpuId,
    /// What kind of thread it is.
    pub kind: CpuKind,
    /// The world it belongs to (a CPU of an earlier emulator is not one of
    /// this emulator's).
    generation: u64,
    /// The current IRQL.
    pub irql: KIRQL,
    /// The handlers NDIS is running on this CPU, outermost first.
    pub frames: Vec<Frame>,
}

/// Everything the emulator knows.
#[derive(Default)]
pub struct World {
    /// Which emulator this is (CPUs carry it).
    generation: u64,
    /// The next CPU number to give out.
    next_cpu: CpuId,
    pub handles: HashMap<usize, HandleRec>,
    pub next_handle: usize,
    pub ledger: BTreeMap<usize, Allocation>,
    /// By the KSPIN_LOCK's address. A BTreeMap: a driver has a handful of
    /// locks and takes them on every send and return, where a SipHash per
    /// acquire and release cost more than the lookup itself.
    pub locks: BTreeMap<usize, LockRec>,
    pub driver: Option<DriverRec>,
    /// The protocol (CoNDIS client) driver, if one registered.
    pub protocol: Option<ProtocolRec>,
    pub adapter: Option<AdapterRec>,
    pub violations: Vec<Violation>,
    pub events: Vec<Event>,
    pub debug_output: Vec<String>,
    pub bug_check: Option<(ULONG, [ULONG_PTR; 4])>,
    /// Registered bug-check reason callbacks (ffi::bugcheck_callbacks).
    pub bugcheck: bugcheck::Registry,
    /// AFs, SAPs, VCs, parties, clients and pended requests (crate::condis).
    pub condis: crate::condis::Condis,
    /// Work items, timer objects and the virtual clock (crate::sched).
    pub sched: sched::Sched,
    /// NDIS events and the CPUs waiting on them (crate::sync).
    pub sync: sync::Events,
    /// Configured failures and their counters (crate::faults).
    pub faults: faults::Faults,
    /// The adapter's registry parameters and the open configuration
    /// handles (crate::config).
    pub config: crate::config::Config,
    pub lookaside: lookaside::Lookasides,
    pub nbls: nbl::Nbls,
    /// Echo DbgPrintEx lines to stderr as they come (NDIS_EMU_VERBOSE=1).
    pub verbose: bool,
    /// The data path's pause state and the holding clients (crate::pause).
    pub pause: pause::PauseState,
    /// ETW registrations, the trace session and its events (crate::etw).
    pub etw: crate::etw::Etw,
    /// Control devices, open files, IRPs and the cancel spin lock (crate::io).
    pub io: io::Io,
}

// The world is the one type behind the process-global lock
// (crate::ffi::shared's marker: see its INVARIANT).
impl Locked for World {}

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
            cpu: cpu_id(),
        };
        if self.verbose {
            eprintln!("ndis-emu: VIOLATION {v}");
        }
        self.violations.push(v);
    }

    /// Appends to the trace, with the calling CPU and its IRQL. `detail` is
    /// stored as it is ([`crate::detail!`]: typed numbers, formatted only
    /// when the trace is read).
    pub fn event(&mut self, dir: &'static str, name: &'static str, detail: impl Into<Detail>) {
        self.event_at(irql(), dir, name, detail);
    }

    /// Appends to the trace at a given IRQL: a handler's return is shown at
    /// the IRQL it returned at, before NDIS lowers the CPU to its caller's.
    pub fn event_at(&mut self, irql: KIRQL, dir: &'static str, name: &'static str, detail: impl Into<Detail>) {
        let seq = self.events.len() as u64;
        self.events.push(Event {
            seq,
            cpu: cpu_id(),
            irql,
            dir,
            name,
            detail: detail.into(),
        });
    }

    /// Gives out the next CPU number (0 first).
    pub fn new_cpu(&mut self, kind: CpuKind) -> Cpu {
        let id = self.next_cpu;
        self.next_cpu += 1;
        Cpu {
            id,
            kind,
            generation: self.generation,
            irql: PASSIVE_LEVEL,
            frames: Vec::new(),
        }
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

    /// Marks handle `h` dead (NDIS no longer accepts it), saying why in its
    /// history.
    pub fn kill(&mut self, h: usize, why: &str) {
        if let Some(r) = self.handles.get_mut(&h) {
            r.alive = false;
            r.history.push(why.to_string());
        }
    }

    /// Adds to a handle's history.
    pub fn note(&mut self, h: usize, what: impl Into<String>) {
        if let Some(r) = self.handles.get_mut(&h) {
            r.history.push(what.into());
        }
    }

    /// Checks the DDI's IRQL limit against the calling CPU's IRQL.
    pub fn check_irql(&mut self, call: &'static str, max: KIRQL) {
        let irql = irql();
        if irql > max {
            self.violate(
                rules::IRQL_LIMIT,
                call,
                format!("called at IRQL {irql}; its limit is {max}"),
                &[],
            );
        }
    }

    /// The handler the calling CPU is running now, if any.
    #[must_use]
    pub fn current_handler(&self) -> Option<&'static str> {
        current_handler()
    }
}

// --- The global world and the session -------------------------------------------

/// One emulator per process at a time: a driver keeps globals (its
/// NdisMiniportDriverHandle), exactly as in the kernel. Emulators on several
/// test threads therefore take turns; cargo-nextest runs each test in its own
/// process and so in parallel.
static SESSION: Mutex<()> = Mutex::new(());

/// The running emulator's world.
static WORLD: Mutex<SharedWorld<World>> = Mutex::new(SharedWorld(None));

/// Emulators started in this process (each world's generation).
static GENERATIONS: Mutex<u64> = Mutex::new(0);

thread_local! {
    /// This thread's CPU, while it is one of the running emulator's.
    static CPU: RefCell<Option<Cpu>> = const { RefCell::new(None) };
    /// This thread holds the world lock (a nested [`with`] would deadlock).
    static HOLDING: Cell<bool> = const { Cell::new(false) };
}

/// The session of one emulator: holds the session lock, owns the global
/// world, and makes the creating thread CPU 0. Dropping it takes the world
/// down (if [`take`] did not already) and ends CPU 0.
///
/// INVARIANT: while a `Session` exists, the world is this session's (or was
/// taken by [`take`]) and no other session exists in the process.
pub struct Session {
    _guard: MutexGuard<'static, ()>,
}

/// Waits for any other emulator in this process to finish, installs `world`
/// and makes this thread its CPU 0.
pub fn open(mut world: World) -> Session {
    let guard = SESSION.lock().unwrap_or_else(PoisonError::into_inner);
    let generation = {
        let mut g = GENERATIONS.lock().unwrap_or_else(PoisonError::into_inner);
        *g += 1;
        *g
    };
    world.generation = generation;
    world.next_cpu = 0;
    let cpu = world.new_cpu(CpuKind::Owner);
    lock().0 = Some(world);
    become_cpu(cpu);
    Session { _guard: guard }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = take();
        leave_cpu();
        CHANGED.notify_all();
    }
}

/// Removes the world (the emulator's end: the report is made from it).
pub fn take() -> Option<World> {
    let w = lock().0.take();
    CHANGED.notify_all();
    w
}

/// The world lock, whatever a panicking holder left behind.
fn lock() -> MutexGuard<'static, SharedWorld<World>> {
    WORLD.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Marks this thread as holding the world lock for the guard's lifetime.
struct Holding;

impl Holding {
    fn enter(call: &str) -> Self {
        if HOLDING.with(|h| h.replace(true)) {
            eprintln!("ndis-emu: {call} re-entered the world lock on one thread (an ndis-emu bug)");
            std::process::abort();
        }
        Self
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        HOLDING.with(|h| h.set(false));
    }
}

/// Runs `f` on the world, from a DDI or from the emulator on behalf of the
/// calling CPU. A driver that calls NDIS with no emulator running (after
/// the test dropped the emulator), or from a thread that is not one of the
/// emulator's CPUs (a thread of its own, or a test thread that shares the
/// emulator without [`crate::Emulator::concurrently`]), gets a loud
/// failure, never a silent default or another test's world.
pub fn with<R>(call: &'static str, f: impl FnOnce(&mut World) -> R) -> R {
    let mine = CPU.with(|c| c.borrow().as_ref().map(|c| c.generation));
    let _holding = Holding::enter(call);
    let mut g = lock();
    match g.0.as_mut() {
        Some(world) if Some(world.generation) == mine => f(world),
        Some(_) => {
            drop(g);
            eprintln!(
                "ndis-emu: {call} called from a thread that is not one of the running emulator's CPUs \
                 (share an emulator between threads with Emulator::concurrently)"
            );
            std::process::abort();
        }
        None => {
            drop(g);
            eprintln!("ndis-emu: {call} called with no emulator running");
            std::process::abort();
        }
    }
}

/// Like [`with`], for the emulator's own API and its public helpers (no
/// abort): None when no emulator runs, or when the calling thread is not
/// one of its CPUs (so a helper called from a thread of its own, say a test
/// running beside another test's emulator, never reaches that world).
pub fn try_with<R>(f: impl FnOnce(&mut World) -> R) -> Option<R> {
    let mine = CPU.with(|c| c.borrow().as_ref().map(|c| c.generation));
    let _holding = Holding::enter("the emulator");
    let mut g = lock();
    match g.0.as_mut() {
        Some(world) if Some(world.generation) == mine => Some(f(world)),
        _ => None,
    }
}

/// Waits until `f` returns Some, re-evaluating it whenever the scheduler's
/// state changes ([`changed`]); the world lock is released while waiting.
/// None if the world goes away first.
pub fn wait_until<R>(mut f: impl FnMut(&mut World) -> Option<R>) -> Option<R> {
    let _holding = Holding::enter("the emulator");
    let mut g = lock();
    loop {
        let world = g.0.as_mut()?;
        if let Some(r) = f(world) {
            return Some(r);
        }
        g = CHANGED.wait(g).unwrap_or_else(PoisonError::into_inner);
    }
}

/// Like [`wait_until`], giving up at `deadline` (None then, as when the
/// world goes away).
pub fn wait_until_deadline<R>(deadline: std::time::Instant, mut f: impl FnMut(&mut World) -> Option<R>) -> Option<R> {
    let _holding = Holding::enter("the emulator");
    let mut g = lock();
    loop {
        let world = g.0.as_mut()?;
        if let Some(r) = f(world) {
            return Some(r);
        }
        let left = deadline.checked_duration_since(std::time::Instant::now())?;
        g = CHANGED.wait_timeout(g, left).unwrap_or_else(PoisonError::into_inner).0;
    }
}

// --- The calling thread's CPU -----------------------------------------------------

/// Makes the calling thread `cpu` (a thread of the threaded mode, from
/// [`World::new_cpu`]).
pub fn become_cpu(cpu: Cpu) {
    CPU.with(|c| *c.borrow_mut() = Some(cpu));
}

/// The calling thread stops being a CPU.
pub fn leave_cpu() {
    CPU.with(|c| *c.borrow_mut() = None);
}

/// Runs `f` on the calling thread's CPU; a thread that is not a CPU fails
/// loudly, as in [`with`].
pub fn cpu<R>(call: &'static str, f: impl FnOnce(&mut Cpu) -> R) -> R {
    CPU.with(|c| match c.borrow_mut().as_mut() {
        Some(cpu) => f(cpu),
        None => {
            eprintln!("ndis-emu: {call} called from a thread that is not one of the emulator's CPUs");
            std::process::abort();
        }
    })
}

/// The calling CPU's number (0 on a thread that is no CPU: unit tests).
#[must_use]
pub fn cpu_id() -> CpuId {
    CPU.with(|c| c.borrow().as_ref().map_or(0, |c| c.id))
}

/// The calling CPU's IRQL (PASSIVE_LEVEL on a thread that is no CPU).
#[must_use]
pub fn irql() -> KIRQL {
    CPU.with(|c| c.borrow().as_ref().map_or(PASSIVE_LEVEL, |c| c.irql))
}

/// Sets the calling CPU's IRQL (no effect on a thread that is no CPU).
pub fn set_irql(irql: KIRQL) {
    CPU.with(|c| {
        if let Some(cpu) = c.borrow_mut().as_mut() {
            cpu.irql = irql;
        }
    });
}

/// The handler the calling CPU is running, if any.
#[must_use]
pub fn current_handler() -> Option<&'static str> {
    CPU.with(|c| c.borrow().as_ref().and_then(|c| c.frames.last().map(|f| f.handler)))
}

/// The handlers running on the calling CPU, outermost first (empty on a
/// thread that is no CPU).
#[must_use]
pub fn handlers() -> Vec<&'static str> {
    CPU.with(|c| {
        c.borrow()
            .as_ref()
            .map(|c| c.frames.iter().map(|f| f.handler).collect())
            .unwrap_or_default()
    })
}

/// The calling thread's CPU as a crash report shows it: its number, IRQL
/// and the handlers running on it (outermost first). None when the thread
/// is no CPU, or when its CPU record is borrowed (a fault inside the
/// emulator's own bookkeeping): a signal handler must not wait or panic.
#[must_use]
pub fn cpu_snapshot() -> Option<(CpuId, KIRQL, Vec<&'static str>)> {
    CPU.with(|c| {
        let c = c.try_borrow().ok()?;
        let c = c.as_ref()?;
        Some((c.id, c.irql, c.frames.iter().map(|f| f.handler).collect()))
    })
}

/// The calling CPU is inside no driver handler.
#[must_use]
pub fn outside_driver() -> bool {
    CPU.with(|c| c.borrow().as_ref().is_none_or(|c| c.frames.is_empty()))
}

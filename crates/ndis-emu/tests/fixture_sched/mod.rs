//! A small CoNDIS MCM that uses NDIS I/O work items and timer objects, to
//! test ndis-emu's scheduler and fault injection. Well-behaved by default:
//! MiniportInitializeEx allocates a work item and a one-shot timer with the
//! adapter handle, queues the one and sets the other (10 ms), and
//! MiniportHaltEx cancels and frees both; on any allocation failure it
//! unwinds what it allocated and returns NDIS_STATUS_RESOURCES. Each
//! [`Mode`] changes one thing, legal or deliberately wrong.
//!
//! It shares no code with covmini, and with the lifecycle fixture
//! (`tests/fixture`) only the no-op registration boilerplate of
//! ndis-fixture, so a rule that fires here fires because of the mode.
//! It keeps its state in globals, as a driver does: in the threaded mode
//! its work items and timer callbacks run on the emulator's worker and DPC
//! threads. The globals are set once the emulator exists, so a test waiting
//! for the emulator session never changes another test's run.
#![allow(dead_code, unsafe_code)]

use std::cell::UnsafeCell;
use std::ptr::{null_mut, without_provenance_mut};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicPtr, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use ndis_emu::{EmuError, Emulator, Report};
use ndis_sys::*;

/// What the fixture does differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Well-behaved: one work item, one 10 ms one-shot timer.
    None,
    /// Four work items and three timers due at the same time (ordering).
    Race,
    /// The timer is periodic (10 ms); HaltEx cancels it at PASSIVE_LEVEL.
    Periodic,
    /// The timer is due at an absolute system time: start + 5 ms.
    AbsoluteDue,
    /// The work item's routine frees its own work item (legal).
    WorkItemFreesItself,
    /// The work item's routine queues its work item once more (legal).
    WorkItemRequeuesItself,
    /// DriverEntry also sets a 5 ms timer allocated with the driver handle;
    /// MiniportDriverUnload cancels and frees it.
    DriverTimer,
    /// InitializeEx first allocates a scratch block with
    /// NdisAllocateMemoryWithTagPriority (freed in HaltEx).
    ScratchMemory,
    /// On an allocation failure InitializeEx returns RESOURCES without
    /// freeing what it had allocated.
    NoUnwindOnFailure,
    // --- Wrong, one rule each -----------------------------------------------
    /// The timer characteristics have no TimerFunction.
    NullTimerFunction,
    /// InitializeEx queues its work item twice.
    QueuedTwice,
    /// HaltEx frees the timer without cancelling it.
    TimerFreedWithoutCancel,
    /// The periodic timer's callback cancels its own timer (at DISPATCH_LEVEL).
    PeriodicCancelInCallback,
    /// HaltEx cancels the timer but never frees it.
    TimerKeptPastHalt,
    /// HaltEx never frees the work item.
    WorkItemKeptPastHalt,
    /// Unload never frees the driver-handle timer of [`Mode::DriverTimer`].
    DriverTimerKeptPastUnload,
    /// HaltEx cancels the timer again after freeing it.
    TimerUsedAfterFree,
    /// The timer is set with MillisecondsPeriod -1 (a LONG in ndis.h).
    NegativePeriod,
    /// The timer (10 ms, one-shot) takes spin lock LOCK with
    /// NdisDprAcquireSpinLock and queues the work item, whose routine
    /// releases LOCK with NdisDprReleaseSpinLock (inside spin lock GUARD, to
    /// be at DISPATCH_LEVEL). On one CPU that is legal; in the threaded mode
    /// the routine runs on a worker thread, not on the DPC thread that holds
    /// LOCK: a release from another CPU.
    LockReleasedOnAnotherCpu,
    // --- For the threaded mode -----------------------------------------------
    /// The timer is due at once; its callback runs until HaltEx lets it go.
    /// HaltEx waits until the callback is running, cancels the timer
    /// (FALSE: it is not in the timer queue, it is running), lets the
    /// callback finish and waits for it (the driver's own synchronization,
    /// as NdisCancelTimerObject asks for a one-shot timer), then frees it.
    CallbackRunsDuringHalt,
}

/// What a run produced.
pub struct Outcome {
    /// The emulator's report (after unload and the leak checks).
    pub report: Report,
    /// What `add_adapter` returned.
    pub init: Result<(), EmuError>,
    /// Routines and callbacks as the driver saw them run, in order: `w<ctx>`
    /// for a work item, `t<ctx>` for a timer.
    pub ran: Vec<String>,
    /// What NdisCancelTimerObject returned in HaltEx
    /// ([`Mode::CallbackRunsDuringHalt`]).
    pub cancel_in_halt: Option<bool>,
}

static MODE: Mutex<Mode> = Mutex::new(Mode::None);
static DRIVER: AtomicPtr<core::ffi::c_void> = AtomicPtr::new(null_mut());
static ADAPTER: AtomicPtr<core::ffi::c_void> = AtomicPtr::new(null_mut());
/// Work items and timers by handle value (NDIS handles are opaque values).
static WORK: Mutex<Vec<usize>> = Mutex::new(Vec::new());
static TIMERS: Mutex<Vec<usize>> = Mutex::new(Vec::new());
static DRIVER_TIMER: AtomicPtr<core::ffi::c_void> = AtomicPtr::new(null_mut());
static SCRATCH: AtomicPtr<core::ffi::c_void> = AtomicPtr::new(null_mut());
static START: AtomicI64 = AtomicI64::new(0);
static RAN: Mutex<Vec<String>> = Mutex::new(Vec::new());
static CANCEL_IN_HALT: Mutex<Option<bool>> = Mutex::new(None);
/// [`Mode::CallbackRunsDuringHalt`]: the callback started / may finish / finished.
static CALLBACK_RUNNING: AtomicBool = AtomicBool::new(false);
static CALLBACK_GO: AtomicBool = AtomicBool::new(false);
static CALLBACK_DONE: AtomicBool = AtomicBool::new(false);

/// An NDIS_SPIN_LOCK in a static, as a driver's global lock.
///
/// INVARIANT: the lock word is reached only through the NDIS spin-lock DDIs
/// (by the pointer [`GlobalLock::get`] returns), never read or written by
/// Rust code; being a static, it never moves.
struct GlobalLock(UnsafeCell<NDIS_SPIN_LOCK>);
// SAFETY: the lock word is only touched through the NDIS spin-lock DDIs,
// which serialize CPUs; OldIrql only by the holder.
unsafe impl Sync for GlobalLock {}
impl GlobalLock {
    const fn new() -> Self {
        Self(UnsafeCell::new(NDIS_SPIN_LOCK {
            SpinLock: 0,
            OldIrql: 0,
        }))
    }
    fn get(&self) -> PNDIS_SPIN_LOCK {
        self.0.get()
    }
}
/// [`Mode::LockReleasedOnAnotherCpu`]'s locks.
static LOCK: GlobalLock = GlobalLock::new();
static GUARD: GlobalLock = GlobalLock::new();

/// A fixture lock, whatever a panicking test left in it.
fn locked<T>(m: &'static Mutex<T>) -> MutexGuard<'static, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn mode() -> Mode {
    *locked(&MODE)
}

fn as_handle(h: usize) -> NDIS_HANDLE {
    h as NDIS_HANDLE
}

const TAG: ULONG = pool_tag(b"FxSc");
const MS: i64 = 10_000;
const AF: CO_ADDRESS_FAMILY = CO_ADDRESS_FAMILY {
    AddressFamily: 0xF2F2,
    MajorVersion: 1,
    MinorVersion: 0,
};

/// The adapter context: NDIS never dereferences it, so a static will do,
/// and it keeps heap addresses out of the trace (determinism tests compare
/// traces of separate runs).
static ADAPTER_CONTEXT: u64 = 0x5C4E_D000;

/// Loads the fixture in `mode` with seed 0, adds the adapter, runs the
/// scheduler until idle, halts, unloads.
pub fn run(mode: Mode) -> Report {
    run_with(
        mode,
        0,
        |_| {},
        |emu| {
            emu.run_until_idle().expect("deferred work goes idle");
        },
    )
    .report
}

/// Like [`run`], with a seed, `setup` before DriverEntry (fault injection)
/// and `middle` between a successful add_adapter and the halt (instead of
/// run_until_idle).
pub fn run_with(
    mode: Mode,
    seed: u64,
    setup: impl FnOnce(&mut Emulator),
    middle: impl FnOnce(&mut Emulator),
) -> Outcome {
    run_on(Emulator::with_seed(seed), mode, setup, middle)
}

/// Like [`run`], in the threaded mode with `workers` worker and DPC threads.
pub fn run_threaded(mode: Mode, workers: usize, middle: impl FnOnce(&mut Emulator)) -> Outcome {
    run_on(Emulator::threaded(0, workers), mode, |_| {}, middle)
}

/// The fixture's whole life on `emu`.
fn run_on(
    mut emu: Emulator,
    mode: Mode,
    setup: impl FnOnce(&mut Emulator),
    middle: impl FnOnce(&mut Emulator),
) -> Outcome {
    // The session is ours now: no other test's driver runs until we finish.
    *locked(&MODE) = mode;
    DRIVER.store(null_mut(), Ordering::SeqCst);
    ADAPTER.store(null_mut(), Ordering::SeqCst);
    locked(&WORK).clear();
    locked(&TIMERS).clear();
    DRIVER_TIMER.store(null_mut(), Ordering::SeqCst);
    SCRATCH.store(null_mut(), Ordering::SeqCst);
    locked(&RAN).clear();
    *locked(&CANCEL_IN_HALT) = None;
    for flag in [&CALLBACK_RUNNING, &CALLBACK_GO, &CALLBACK_DONE] {
        flag.store(false, Ordering::SeqCst);
    }
    START.store(emu.system_time(), Ordering::SeqCst);
    setup(&mut emu);
    let init = match emu.load(driver_entry) {
        Ok(()) => emu.add_adapter(),
        Err(e) => Err(e),
    };
    if init.is_ok() {
        middle(&mut emu);
        emu.halt_adapter().expect("halt");
    }
    if !DRIVER.load(Ordering::SeqCst).is_null() {
        emu.unload().expect("unload");
    }
    // Read before finish() ends the session and the next test resets them.
    let ran = std::mem::take(&mut *locked(&RAN));
    let cancel_in_halt = locked(&CANCEL_IN_HALT).take();
    Outcome {
        report: emu.finish(),
        init,
        ran,
        cancel_in_halt,
    }
}

ndis_fn! {
    unsafe fn driver_entry(object: PDRIVER_OBJECT, path: PUNICODE_STRING) -> NTSTATUS {
        let mut c = ndis_fixture::miniport_characteristics(set_options, initialize, halt, unload);
        let mut handle = null_mut();
        // SAFETY: characteristics and handle slot live across the call.
        let status = unsafe { NdisMRegisterMiniportDriver(object, path, null_mut(), &raw mut c, &raw mut handle) };
        if status != NDIS_STATUS_SUCCESS {
            return status;
        }
        DRIVER.store(handle, Ordering::SeqCst);
        if matches!(mode(), Mode::DriverTimer | Mode::DriverTimerKeptPastUnload) {
            let mut chars = timer_chars(9);
            let mut t = null_mut();
            // SAFETY: the driver handle NDIS returned; block and slot live across the call.
            let s = unsafe { NdisAllocateTimerObject(handle, &raw mut chars, &raw mut t) };
            if s == NDIS_STATUS_SUCCESS {
                DRIVER_TIMER.store(t, Ordering::SeqCst);
                // SAFETY: the timer just allocated.
                let _ = unsafe { NdisSetTimerObject(t, -5 * MS, 0, null_mut()) };
            }
        }
        status
    }
}

ndis_fn! {
    unsafe fn set_options(handle: NDIS_HANDLE, _ctx: NDIS_HANDLE) -> NDIS_STATUS {
        let co = ndis_fixture::co_characteristics();
        let cm = ndis_fixture::cm_handlers();
        // SAFETY: the driver handle NDIS passed to this MiniportSetOptions.
        unsafe { ndis_fixture::set_co_and_cm_handlers(handle, co, cm) }
    }
}

/// The timer characteristics of timer `i` (context 101 + i).
fn timer_chars(i: usize) -> NDIS_TIMER_CHARACTERISTICS {
    NDIS_TIMER_CHARACTERISTICS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS,
            NDIS_TIMER_CHARACTERISTICS_REVISION_1,
            NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1,
        ),
        AllocationTag: TAG,
        TimerFunction: if mode() == Mode::NullTimerFunction {
            None
        } else {
            Some(timer_fn)
        },
        FunctionContext: without_provenance_mut(101 + i),
    }
}

ndis_fn! {
    unsafe fn initialize(handle: NDIS_HANDLE, _d: NDIS_HANDLE, _p: PNDIS_MINIPORT_INIT_PARAMETERS) -> NDIS_STATUS {
        ADAPTER.store(handle, Ordering::SeqCst);
        if mode() == Mode::ScratchMemory {
            // SAFETY: the miniport handle NDIS just passed; PASSIVE_LEVEL.
            let p = unsafe { NdisAllocateMemoryWithTagPriority(handle, 64, TAG, NormalPoolPriority) };
            if p.is_null() {
                return NDIS_STATUS_RESOURCES;
            }
            SCRATCH.store(p, Ordering::SeqCst);
        }
        let mut reg = ndis_fixture::registration_attributes((&raw const ADAPTER_CONTEXT).cast_mut().cast(), 0);
        let mut general = ndis_fixture::general_attributes();
        // SAFETY: header-first blocks alive for the calls.
        let s1 = unsafe { NdisMSetMiniportAttributes(handle, (&raw mut reg).cast()) };
        // SAFETY: `general` is a header-first block on this stack, alive for
        // the call; the miniport handle NDIS passed; PASSIVE_LEVEL.
        let s2 = unsafe { NdisMSetMiniportAttributes(handle, (&raw mut general).cast()) };
        let mut af = AF;
        // SAFETY: the AF block lives across the call.
        let s3 = unsafe { NdisMCmRegisterAddressFamilyEx(handle, &raw mut af) };
        if let Some(&s) = [s1, s2, s3].iter().find(|s| **s != NDIS_STATUS_SUCCESS) {
            cleanup();
            return s;
        }
        let (work_items, timers) = if mode() == Mode::Race { (4, 3) } else { (1, 1) };
        for _ in 0..work_items {
            // SAFETY: the adapter handle; <= DISPATCH_LEVEL.
            let w = unsafe { NdisAllocateIoWorkItem(handle) };
            if w.is_null() {
                return fail(NDIS_STATUS_RESOURCES);
            }
            locked(&WORK).push(w.addr());
        }
        for i in 0..timers {
            let mut chars = timer_chars(i);
            let mut t = null_mut();
            // SAFETY: the adapter handle; block and slot live across the call.
            let s = unsafe { NdisAllocateTimerObject(handle, &raw mut chars, &raw mut t) };
            if s == NDIS_STATUS_SUCCESS {
                locked(&TIMERS).push(t.addr());
            } else if mode() != Mode::NullTimerFunction {
                return fail(s);
            }
        }
        // These two modes queue no work item here: the timer callback
        // queues it, or nothing does (HaltEx does not wait for work items).
        let queue_now = !matches!(mode(), Mode::LockReleasedOnAnotherCpu | Mode::CallbackRunsDuringHalt);
        for (i, w) in locked(&WORK).clone().into_iter().enumerate().filter(|_| queue_now) {
            let w = as_handle(w);
            // SAFETY: a work item of ours, not queued.
            unsafe { NdisQueueIoWorkItem(w, work_routine, without_provenance_mut(1 + i)) };
            if mode() == Mode::QueuedTwice {
                // SAFETY: `w` is the same live work item of ours, allocated
                // at initialize and freed only at halt; queued already, which
                // is the bug the emulator must catch.
                unsafe { NdisQueueIoWorkItem(w, work_routine, without_provenance_mut(1 + i)) };
            }
        }
        let start = START.load(Ordering::SeqCst);
        for t in locked(&TIMERS).clone() {
            let (due, period) = match mode() {
                Mode::Periodic | Mode::PeriodicCancelInCallback => (-10 * MS, 10),
                Mode::AbsoluteDue => (start + 5 * MS, 0),
                // An absolute time already past: due at once.
                Mode::CallbackRunsDuringHalt => (start, 0),
                Mode::NegativePeriod => (-10 * MS, -1),
                _ => (-10 * MS, 0),
            };
            // SAFETY: a timer of ours; a NULL context means the one in its characteristics.
            let _ = unsafe { NdisSetTimerObject(as_handle(t), due, period, null_mut()) };
        }
        NDIS_STATUS_SUCCESS
    }
}

/// A failed initialization: unwinds (unless the mode forgets) and fails.
fn fail(status: NDIS_STATUS) -> NDIS_STATUS {
    if mode() != Mode::NoUnwindOnFailure {
        cleanup();
    }
    status
}

/// Cancels and frees every timer, frees every work item and the scratch block.
fn cleanup() {
    let timers = locked(&TIMERS).split_off(0);
    for t in timers.into_iter().map(as_handle) {
        // SAFETY: a live timer of ours, at PASSIVE_LEVEL.
        let cancelled = unsafe { NdisCancelTimerObject(t) };
        if mode() == Mode::CallbackRunsDuringHalt {
            *locked(&CANCEL_IN_HALT) = Some(cancelled != 0);
            // A one-shot timer's callback may still run on another CPU:
            // let it finish and wait for it before freeing what it uses.
            CALLBACK_GO.store(true, Ordering::SeqCst);
            while !CALLBACK_DONE.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
        }
        // SAFETY: cancelled above: not in the timer queue.
        unsafe { NdisFreeTimerObject(t) };
    }
    let work = locked(&WORK).split_off(0);
    for w in work.into_iter().map(as_handle) {
        // SAFETY: a live work item of ours.
        unsafe { NdisFreeIoWorkItem(w) };
    }
    let p = SCRATCH.swap(null_mut(), Ordering::SeqCst);
    if !p.is_null() {
        // SAFETY: allocated in initialize with this handle and tag, freed once.
        unsafe { NdisFreeMemoryWithTagPriority(ADAPTER.load(Ordering::SeqCst), p, TAG) };
    }
}

ndis_fn! {
    unsafe fn work_routine(ctx: PVOID, item: NDIS_HANDLE) {
        let first = {
            let mut r = locked(&RAN);
            r.push(format!("w{}", ctx.addr()));
            r.iter().filter(|s| **s == format!("w{}", ctx.addr())).count() == 1
        };
        match mode() {
            Mode::LockReleasedOnAnotherCpu => {
                // SAFETY: a static lock; at PASSIVE_LEVEL, raised to DISPATCH_LEVEL.
                unsafe { NdisAcquireSpinLock(GUARD.get()) };
                // SAFETY: at DISPATCH_LEVEL; LOCK is held, by the timer
                // callback's CPU, which is the bug on several CPUs.
                unsafe { NdisDprReleaseSpinLock(LOCK.get()) };
                // SAFETY: acquired above.
                unsafe { NdisReleaseSpinLock(GUARD.get()) };
            }
            Mode::WorkItemFreesItself => {
                locked(&WORK).retain(|w| *w != item.addr());
                // SAFETY: our work item, dequeued before this routine ran.
                unsafe { NdisFreeIoWorkItem(item) };
            }
            Mode::WorkItemRequeuesItself if first => {
                // SAFETY: our work item, dequeued before this routine ran.
                unsafe { NdisQueueIoWorkItem(item, work_routine, ctx) };
            }
            _ => {}
        }
    }
}

ndis_fn! {
    unsafe fn timer_fn(_s1: PVOID, ctx: PVOID, _s2: PVOID, _s3: PVOID) {
        locked(&RAN).push(format!("t{}", ctx.addr()));
        match mode() {
            Mode::PeriodicCancelInCallback => {
                let t = locked(&TIMERS).first().copied().map_or(null_mut(), as_handle);
                // SAFETY: our live periodic timer; DISPATCH_LEVEL here is the bug.
                let _ = unsafe { NdisCancelTimerObject(t) };
            }
            Mode::LockReleasedOnAnotherCpu => {
                // SAFETY: a static lock, at DISPATCH_LEVEL (a timer callback);
                // kept when the callback returns, for the work item.
                unsafe { NdisDprAcquireSpinLock(LOCK.get()) };
                let w = locked(&WORK).first().copied().map_or(null_mut(), as_handle);
                // SAFETY: our work item, not queued yet.
                unsafe { NdisQueueIoWorkItem(w, work_routine, without_provenance_mut(1)) };
            }
            Mode::CallbackRunsDuringHalt => {
                CALLBACK_RUNNING.store(true, Ordering::SeqCst);
                while !CALLBACK_GO.load(Ordering::SeqCst) {
                    std::thread::yield_now();
                }
                CALLBACK_DONE.store(true, Ordering::SeqCst);
            }
            _ => {}
        }
    }
}

ndis_fn! {
    unsafe fn halt(_ctx: NDIS_HANDLE, _a: NDIS_HALT_ACTION) {
        match mode() {
            Mode::CallbackRunsDuringHalt => {
                while !CALLBACK_RUNNING.load(Ordering::SeqCst) {
                    std::thread::yield_now();
                }
            }
            Mode::TimerFreedWithoutCancel => {
                let timers = locked(&TIMERS).split_off(0);
                for t in timers.into_iter().map(as_handle) {
                    // SAFETY: a live timer of ours; still queued, which is the bug.
                    unsafe { NdisFreeTimerObject(t) };
                }
            }
            Mode::TimerKeptPastHalt => {
                let timers = locked(&TIMERS).split_off(0);
                for t in timers.into_iter().map(as_handle) {
                    // SAFETY: a live timer of ours; never freed, which is the bug.
                    let _ = unsafe { NdisCancelTimerObject(t) };
                }
            }
            Mode::WorkItemKeptPastHalt => {
                locked(&WORK).clear();
            }
            Mode::TimerUsedAfterFree => {
                let timers = locked(&TIMERS).clone();
                cleanup();
                for t in timers.into_iter().map(as_handle) {
                    // SAFETY: NDIS validates the handle; it is freed, which is the bug.
                    let _ = unsafe { NdisCancelTimerObject(t) };
                }
                return;
            }
            _ => {}
        }
        cleanup();
    }
}

ndis_fn! {
    unsafe fn unload(_o: PDRIVER_OBJECT) {
        let t = DRIVER_TIMER.swap(null_mut(), Ordering::SeqCst);
        if !t.is_null() && mode() != Mode::DriverTimerKeptPastUnload {
            // SAFETY: our driver-handle timer, at PASSIVE_LEVEL.
            let _ = unsafe { NdisCancelTimerObject(t) };
            // SAFETY: cancelled above.
            unsafe { NdisFreeTimerObject(t) };
        }
        // SAFETY: the handle from registration, once.
        unsafe { NdisMDeregisterMiniportDriver(DRIVER.load(Ordering::SeqCst)) };
    }
}

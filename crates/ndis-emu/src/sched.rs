//! The emulator's scheduler: NDIS I/O work items and NDIS timer objects, run
//! on the emulator's own queue against a virtual clock (the deterministic
//! mode) or by worker and DPC threads (the threaded mode).
//!
//! What it owns: the state NDIS keeps per work item and per timer object, the
//! virtual system time, the seeded choice among ready work, the rules of this
//! area ([`SCHED`]), the loop behind [`crate::Emulator::run_until_idle`] and
//! [`crate::Emulator::advance_time`], and the body of the threaded mode's
//! threads. The DDIs themselves (raw pointers, headers) are in
//! `ffi/deferred.rs`; the calls into the driver's routines are in
//! `ffi/calls.rs`. What it must not do: hold the world lock while a routine
//! runs, or move time by itself.
//!
//! # The model
//!
//! * A work item is *queued* from `NdisQueueIoWorkItem` until a CPU picks
//!   it. It leaves the queue before its routine runs, as a system worker
//!   thread dequeues an `IO_WORKITEM` before calling it, so the routine may
//!   requeue or free its own work item. Routines run at PASSIVE_LEVEL in a
//!   `WorkItemRoutine` frame.
//! * A timer is *queued* (in the system timer queue) from `NdisSetTimerObject`
//!   until it fires or is cancelled. A one-shot timer leaves the queue when it
//!   fires; a periodic timer is requeued one period later before its callback
//!   runs, so it is always in the queue, as `KeSetTimerEx` keeps it.
//!   Callbacks run at DISPATCH_LEVEL in a `NetTimerCallback` frame (a DPC).
//! * *Running* is a state of its own: a routine or callback has been taken
//!   off its queue and has not returned. NdisCancelTimerObject returns FALSE
//!   for a one-shot timer whose callback is running (it is not in the queue)
//!   and does not wait for it: the driver synchronizes itself (the DDI's
//!   Remarks). For a periodic timer, cancelled at PASSIVE_LEVEL, it waits
//!   until the callback has returned on every CPU, as its KeFlushQueuedDpcs
//!   does.
//! * Time is virtual: system time in 100 ns units, starting at
//!   [`SYSTEM_TIME_BASE`] and moving only when the test asks, from one due
//!   time to the next, so a 10 ms periodic timer fires ten times in
//!   `advance_time(100)`. A negative `DueTime` is relative; a positive one is
//!   absolute system time, and one already past is due at once.
//! * `halt_adapter` and `unload` run and wait for no deferred work: NDIS
//!   does not drain a miniport's work items or timers at halt, the miniport
//!   must. A driver that leaves a work item queued or a timer set when
//!   MiniportHaltEx returns is caught by the rules below, not rescued. What
//!   it left stays queued, so running the scheduler after the halt calls
//!   into the halted driver, as Windows would.
//! * Trace details name handles, contexts and virtual time, never code
//!   addresses, so a trace does not depend on where the image was loaded.
//!
//! # The deterministic mode (the default)
//!
//! Nothing runs by itself: `run_until_idle` and `advance_time` run the work
//! on the emulator's thread (CPU 0). Each step takes the *ready* set (queued
//! work items and timers whose due time has come) in handle order and picks
//! one with a SplitMix64 generator seeded by the emulator's seed
//! ([`crate::Emulator::with_seed`]; `new()` is seed 0). The driver runs on
//! one thread and every choice comes from the seed, so the same seed gives
//! the same trace, and another seed gives another interleaving that Windows
//! could also produce (several system worker threads and several processors'
//! DPC queues do not keep FIFO order among each other). Running a scenario
//! over many seeds finds ordering bugs and replays each exactly, which is
//! why the tests use this mode.
//!
//! # The threaded mode (for stress)
//!
//! [`crate::Emulator::threaded`] adds real threads, each a CPU of its own
//! (`crate::world::Cpu`: its IRQL and handler frames are per thread):
//!
//! * `workers` system worker threads take queued work items as soon as they
//!   are queued and run them at PASSIVE_LEVEL; as many DPC threads (one per
//!   virtual processor) take due timers and run their callbacks at
//!   DISPATCH_LEVEL. Both enter the driver through the same `ffi/calls.rs`
//!   frames, with no lock held, and then run the client answers their
//!   routine set off (see `crate::client`). The seeded choice still picks
//!   among what is ready, but the threads' interleaving is the machine's: a
//!   run cannot be replayed.
//! * The clock stays virtual. A timer due now fires at once on a DPC thread;
//!   later ones wait until `run_until_idle` / `advance_time` move time, which
//!   they do only once nothing is queued, due or running (they wait for the
//!   threads to drain at each due time), so a periodic timer still fires once
//!   per period, and a test never sleeps. A work item that keeps requeueing
//!   itself keeps the workers busy: `run_until_idle` gives up after the step
//!   limit, as in the deterministic mode.
//! * Spin locks (`ffi/exports.rs`) really exclude CPUs: a CPU spins while
//!   another holds the lock, and a release by a CPU that does not hold it
//!   breaks `irql.spin-lock-owner`, a rule only several CPUs can break.
//! * [`crate::Emulator::concurrently`] runs client scripts on more CPUs.
//! * The threads stop (finishing what they run) when the emulator finishes
//!   or is dropped.
//!
//! A driver may *wait* for its own deferred work with NdisWaitEvent (at
//! PASSIVE_LEVEL): in the deterministic mode the waiting CPU runs this
//! scheduler's ready work itself (`run_one`) until its event is set, and
//! in the threaded mode it blocks while the worker and DPC threads run it
//! (`crate::sync`).

use ndis_sys::*;

use crate::detail;
use crate::ffi::calls;
use crate::report::EmuError;
use crate::rules;
use crate::trace::Detail;
use crate::world::sched::{Armed, Kind, Object, QueuedWork, Timer, WorkItem};
pub use crate::world::sched::{DEFAULT_STEP_LIMIT, Owner, Rng, SYSTEM_TIME_BASE, Sched, TICKS_PER_MS};
use crate::world::{self, HandleKind, World};

crate::define_rules! { SCHED:
    SCHED_TIMER_CHARACTERISTICS, "sched.timer-characteristics", false, "NdisAllocateTimerObject; NDIS_TIMER_CHARACTERISTICS", "sched_timer_characteristics_fires_on_a_null_timer_function",
        "NdisAllocateTimerObject gets an NDIS_TIMER_CHARACTERISTICS of type 0x97, revision >= 1 and size >= 24 with a non-NULL TimerFunction, and a non-NULL pTimerObject.";
    SCHED_WORKITEM_QUEUE, "sched.workitem-queue", true, "NdisQueueIoWorkItem; IoQueueWorkItem (an IO_WORKITEM is on one queue at a time)", "sched_workitem_queue_fires_on_a_double_queue",
        "NdisQueueIoWorkItem gets a non-NULL routine and a work item that is not already queued (its routine, once started, may queue it again).";
    SCHED_WORKITEM_FREED_WHILE_QUEUED, "sched.workitem-freed-while-queued", false, "NdisFreeIoWorkItem; IoFreeWorkItem (Remarks)", "sched_workitem_freed_while_queued_fires_on_a_free_before_it_ran",
        "NdisFreeIoWorkItem frees a work item that is not queued; its own routine may free it (the item is dequeued before the routine runs).";
    SCHED_TIMER_FREED_WHILE_QUEUED, "sched.timer-freed-while-queued", true, "NdisFreeTimerObject; NdisCancelTimerObject (Remarks)", "sched_timer_freed_while_queued_fires_without_a_cancel",
        "NdisFreeTimerObject frees a timer that is not in the timer queue: a set timer is cancelled with NdisCancelTimerObject first.";
    SCHED_PERIODIC_CANCEL_PASSIVE, "sched.periodic-cancel-passive", false, "NdisCancelTimerObject (Remarks)", "sched_periodic_cancel_passive_fires_from_the_timer_callback",
        "NdisCancelTimerObject on a periodic timer is called at PASSIVE_LEVEL (it waits for the timer's DPC with KeFlushQueuedDpcs): never from a timer callback or under a spin lock.";
    SCHED_TIMER_PERIOD, "sched.timer-period", true, "NdisSetTimerObject [D] (MillisecondsPeriod: a LONG interval in ms, <= MAXLONG; 0: not periodic); ndis.h [H]", "sched_timer_period_fires_on_a_negative_period",
        "NdisSetTimerObject gets a MillisecondsPeriod >= 0 (0 sets a one-shot timer): the parameter is a LONG, and a negative period is no interval. ndis-emu then arms the timer as a one-shot.";
    SCHED_LEAK, "sched.leak", false, "NdisAllocateIoWorkItem (Remarks); NdisFreeTimerObject; §8.10", "sched_leak_fires_on_a_timer_kept_past_halt",
        "Every work item and timer object is freed: with the adapter handle as owner before MiniportHaltEx returns (or a failing MiniportInitializeEx), with the driver handle before MiniportDriverUnload returns.";
}

// --- The DDIs' logic (ffi/deferred.rs reads the driver's memory) -----------

/// Checks the NDIS handle a work item or timer is allocated with: the
/// adapter handle or the driver handle, alive.
fn owner_of(w: &mut World, h: usize, call: &'static str) -> Option<Owner> {
    if w.adapter.as_ref().is_some_and(|a| a.handle == h && a.halted) {
        w.violate(rules::NOTHING_AFTER_HALT, call, "the adapter was already halted", &[h]);
        return None;
    }
    match w.handles.get(&h).map(|r| r.kind) {
        Some(HandleKind::Driver) => w.check_handle(h, HandleKind::Driver, call).then_some(Owner::Driver(h)),
        _ => w
            .check_handle(h, HandleKind::Adapter, call)
            .then_some(Owner::Adapter(h)),
    }
}

fn insert(w: &mut World, owner: Owner, kind: Kind, handle_kind: HandleKind, call: &'static str) -> usize {
    let origin = w.current_handler().unwrap_or("outside any handler");
    let h = w.new_handle(handle_kind, format!("{call} in {origin}"));
    w.sched.objects.insert(
        h,
        Object {
            owner,
            origin,
            leak_reported: false,
            kind,
        },
    );
    h
}

/// Removes a freed object: its handle dies with it.
fn remove(w: &mut World, h: usize, how: String) {
    w.sched.objects.remove(&h);
    w.note(h, how);
    if let Some(r) = w.handles.get_mut(&h) {
        r.alive = false;
    }
}

/// NdisAllocateIoWorkItem: the new work item's handle, or None (NULL).
pub(crate) fn allocate_work_item(w: &mut World, owner: usize) -> Option<usize> {
    const CALL: &str = "NdisAllocateIoWorkItem";
    w.event("=>", CALL, detail!("{x}", owner));
    w.check_irql(CALL, DISPATCH_LEVEL);
    let owner = owner_of(w, owner, CALL)?;
    if crate::faults::allocation_fails(w, CALL, None) {
        return None;
    }
    let kind = Kind::WorkItem(WorkItem {
        queued: None,
        running: false,
    });
    let h = insert(w, owner, kind, HandleKind::WorkItem, CALL);
    w.event("=>", CALL, detail!("-> work item {x}", h));
    Some(h)
}

/// Checks a work item handle.
fn work_item<'a>(w: &'a mut World, h: usize, call: &'static str) -> Option<&'a mut WorkItem> {
    if !w.check_handle(h, HandleKind::WorkItem, call) {
        return None;
    }
    match w.sched.objects.get_mut(&h).map(|o| &mut o.kind) {
        Some(Kind::WorkItem(wi)) => Some(wi),
        _ => None,
    }
}

/// NdisQueueIoWorkItem.
pub(crate) fn queue_work_item(w: &mut World, h: usize, routine: Option<NDIS_IO_WORKITEM_ROUTINE>, context: usize) {
    const CALL: &str = "NdisQueueIoWorkItem";
    let clock = w.sched.clock();
    w.event(
        "=>",
        CALL,
        if routine.is_none() {
            detail!("work item {x} context {x} {c} NULL routine", h, context, clock)
        } else {
            detail!("work item {x} context {x} {c}", h, context, clock)
        },
    );
    w.check_irql(CALL, DISPATCH_LEVEL);
    let Some(routine) = routine else {
        if work_item(w, h, CALL).is_some() {
            w.violate(
                SCHED_WORKITEM_QUEUE,
                CALL,
                format!("work item {h:#x} queued with a NULL routine"),
                &[h],
            );
        }
        return;
    };
    let Some(wi) = work_item(w, h, CALL) else { return };
    if wi.queued.is_some() {
        w.violate(
            SCHED_WORKITEM_QUEUE,
            CALL,
            format!("work item {h:#x} is already queued and has not started: its queue entry would be inserted twice"),
            &[h],
        );
        return;
    }
    wi.queued = Some(QueuedWork { routine, context });
    w.note(h, format!("queued with context {context:#x}"));
    world::changed();
}

/// NdisFreeIoWorkItem.
pub(crate) fn free_work_item(w: &mut World, h: usize) {
    const CALL: &str = "NdisFreeIoWorkItem";
    w.event("=>", CALL, detail!("work item {x}", h));
    w.check_irql(CALL, DISPATCH_LEVEL);
    let Some(wi) = work_item(w, h, CALL) else { return };
    let (queued, running) = (wi.queued.is_some(), wi.running);
    if queued {
        // The routine is dropped with it: on Windows it would run on freed memory.
        w.violate(
            SCHED_WORKITEM_FREED_WHILE_QUEUED,
            CALL,
            format!("work item {h:#x} is still queued: its routine has not run"),
            &[h],
        );
    }
    let how = if running {
        format!("freed by its own routine in {}", w.current_handler().unwrap_or("?"))
    } else {
        format!("freed in {}", w.current_handler().unwrap_or("no handler"))
    };
    remove(w, h, how);
}

/// What NdisAllocateTimerObject read from the driver.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TimerRequest {
    /// NULL TimerCharacteristics reads as None.
    pub characteristics: Option<NDIS_TIMER_CHARACTERISTICS>,
    /// pTimerObject was NULL.
    pub null_out: bool,
}

/// NdisAllocateTimerObject: the timer's handle or the failure status.
pub(crate) fn allocate_timer(w: &mut World, owner: usize, req: TimerRequest) -> Result<usize, NDIS_STATUS> {
    const CALL: &str = "NdisAllocateTimerObject";
    let what = req.characteristics.map_or("NULL characteristics".to_string(), |c| {
        format!(
            "type {:#x} rev {} size {} tag {} context {:p}{}",
            c.Header.Type,
            c.Header.Revision,
            c.Header.Size,
            crate::trace::tag_str(c.AllocationTag),
            c.FunctionContext,
            if c.TimerFunction.is_none() {
                " NULL TimerFunction"
            } else {
                ""
            }
        )
    });
    w.event("=>", CALL, format!("{owner:#x} {what}"));
    w.check_irql(CALL, DISPATCH_LEVEL);
    let owner = owner_of(w, owner, CALL).ok_or(NDIS_STATUS_FAILURE)?;
    let (Some(c), false) = (req.characteristics, req.null_out) else {
        w.violate(
            SCHED_TIMER_CHARACTERISTICS,
            CALL,
            "NULL TimerCharacteristics or pTimerObject",
            &[],
        );
        return Err(NDIS_STATUS_INVALID_PARAMETER);
    };
    let h = c.Header;
    let function = match c.TimerFunction {
        Some(f)
            if h.Type == NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS
                && h.Revision >= NDIS_TIMER_CHARACTERISTICS_REVISION_1
                && usize::from(h.Size) >= NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1 =>
        {
            f
        }
        f => {
            w.violate(
                SCHED_TIMER_CHARACTERISTICS,
                CALL,
                format!(
                    "type {:#x} revision {} size {} TimerFunction {}; needs type {:#x}, revision >= 1, size >= {} and a TimerFunction",
                    h.Type,
                    h.Revision,
                    h.Size,
                    if f.is_some() { "set" } else { "NULL" },
                    NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS,
                    NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1
                ),
                &[],
            );
            return Err(NDIS_STATUS_BAD_CHARACTERISTICS);
        }
    };
    if crate::faults::allocation_fails(w, CALL, None) {
        return Err(NDIS_STATUS_RESOURCES);
    }
    let kind = Kind::Timer(Timer {
        function,
        default_context: c.FunctionContext as usize,
        period: 0,
        armed: None,
        fired: 0,
        running: 0,
    });
    let t = insert(w, owner, kind, HandleKind::Timer, CALL);
    w.event("=>", CALL, detail!("-> timer {x}", t));
    Ok(t)
}

/// Checks a timer handle.
fn timer<'a>(w: &'a mut World, h: usize, call: &'static str) -> Option<&'a mut Timer> {
    if !w.check_handle(h, HandleKind::Timer, call) {
        return None;
    }
    match w.sched.objects.get_mut(&h).map(|o| &mut o.kind) {
        Some(Kind::Timer(t)) => Some(t),
        _ => None,
    }
}

/// NdisSetTimerObject: TRUE if the timer was already in the timer queue.
pub(crate) fn set_timer(w: &mut World, h: usize, due_time: i64, period_ms: LONG, context: usize) -> bool {
    const CALL: &str = "NdisSetTimerObject";
    let clock = w.sched.clock();
    w.event(
        "=>",
        CALL,
        detail!(
            "timer {x} due {} period {}ms context {x} {c}",
            h,
            due_time,
            period_ms,
            context,
            clock
        ),
    );
    w.check_irql(CALL, DISPATCH_LEVEL);
    let now = w.sched.now;
    let period_ms = if period_ms < 0 {
        w.violate(
            SCHED_TIMER_PERIOD,
            CALL,
            format!("timer {h:#x} set with MillisecondsPeriod {period_ms}"),
            &[h],
        );
        0
    } else {
        period_ms
    };
    let Some(t) = timer(w, h, CALL) else { return false };
    // Negative: relative to now; otherwise absolute, and a past time is due now.
    let due = if due_time < 0 {
        now.saturating_sub(due_time)
    } else {
        due_time.max(now)
    };
    let was_queued = t.armed.is_some();
    t.period = i64::from(period_ms) * TICKS_PER_MS;
    t.armed = Some(Armed {
        due,
        context: if context == 0 { t.default_context } else { context },
    });
    w.note(
        h,
        format!(
            "set: due in {}.{:04}ms, period {period_ms}ms{}",
            (due - now) / TICKS_PER_MS,
            (due - now) % TICKS_PER_MS,
            if was_queued { " (was queued: reset)" } else { "" }
        ),
    );
    world::changed();
    was_queued
}

/// NdisCancelTimerObject: TRUE if the timer was in the timer queue.
pub(crate) fn cancel_timer(w: &mut World, h: usize) -> bool {
    const CALL: &str = "NdisCancelTimerObject";
    w.event("=>", CALL, detail!("timer {x}", h));
    w.check_irql(CALL, DISPATCH_LEVEL);
    let irql = world::irql();
    let Some(t) = timer(w, h, CALL) else { return false };
    let was_queued = t.armed.take().is_some();
    let periodic = t.period != 0;
    if periodic && irql > PASSIVE_LEVEL {
        let at = w.current_handler().unwrap_or("no handler");
        w.violate(
            SCHED_PERIODIC_CANCEL_PASSIVE,
            CALL,
            format!("periodic timer {h:#x} cancelled at IRQL {irql} in {at}: KeFlushQueuedDpcs needs PASSIVE_LEVEL"),
            &[h],
        );
    }
    w.note(
        h,
        format!("cancelled ({})", if was_queued { "was queued" } else { "not queued" }),
    );
    was_queued
}

/// Whether NdisCancelTimerObject on `h` must wait for its callback, as its
/// KeFlushQueuedDpcs does: a periodic timer cancelled at PASSIVE_LEVEL whose
/// callback is running on another CPU (only in the threaded mode; in the
/// deterministic mode no callback runs beside the caller).
pub(crate) fn must_flush(s: &Sched, h: usize) -> bool {
    s.threaded
        && world::irql() == PASSIVE_LEVEL
        && matches!(s.objects.get(&h).map(|o| &o.kind), Some(Kind::Timer(t)) if t.period != 0 && t.running > 0)
}

/// KeFlushQueuedDpcs for timer `h`: waits until its callback has returned
/// on every CPU (the world lock is released meanwhile).
pub(crate) fn flush(h: usize) {
    let _ = world::wait_until(|w| match w.sched.objects.get(&h).map(|o| &o.kind) {
        Some(Kind::Timer(t)) if t.running > 0 && !w.sched.shutdown => None,
        _ => Some(()),
    });
}

/// NdisFreeTimerObject.
pub(crate) fn free_timer(w: &mut World, h: usize) {
    const CALL: &str = "NdisFreeTimerObject";
    w.event("=>", CALL, detail!("timer {x}", h));
    w.check_irql(CALL, DISPATCH_LEVEL);
    let Some(t) = timer(w, h, CALL) else { return };
    if let Some(a) = t.armed {
        let period = t.period;
        let now = w.sched.now;
        w.violate(
            SCHED_TIMER_FREED_WHILE_QUEUED,
            CALL,
            format!(
                "timer {h:#x} is still in the timer queue (due in {}ms{}): cancel it first",
                (a.due - now) / TICKS_PER_MS,
                if period != 0 { ", periodic" } else { "" }
            ),
            &[h],
        );
    }
    let how = format!("freed in {}", w.current_handler().unwrap_or("no handler"));
    remove(w, h, how);
}

// --- Leak checks ---------------------------------------------------------

/// The objects `owner` must have freed by now (MiniportHaltEx or a failed
/// MiniportInitializeEx returned, or MiniportDriverUnload): each one still
/// live breaks [`SCHED_LEAK`], once.
pub(crate) fn owner_done(w: &mut World, owner: usize, when: &'static str) {
    let left: Vec<(usize, String)> = w
        .sched
        .objects
        .iter_mut()
        .filter(|(_, o)| o.owner.handle() == owner && !o.leak_reported)
        .map(|(h, o)| {
            o.leak_reported = true;
            let state = if o.pending() { ", still queued" } else { "" };
            (
                *h,
                format!(
                    "{} {h:#x} allocated in {} is not freed when {when} returned{state}",
                    o.what(),
                    o.origin
                ),
            )
        })
        .collect();
    for (h, detail) in left {
        w.violate(SCHED_LEAK, when, detail, &[h]);
    }
}

/// At the end of the run: every object not yet reported.
pub(crate) fn leftovers(w: &mut World) {
    let owners: Vec<usize> = w.sched.objects.values().map(|o| o.owner.handle()).collect();
    for owner in owners {
        owner_done(w, owner, "unload");
    }
}

// --- Running deferred work -------------------------------------------------

/// One routine or callback to run.
#[derive(Clone, Copy, Debug)]
enum Runnable {
    WorkItem {
        handle: usize,
        work: QueuedWork,
    },
    Timer {
        handle: usize,
        function: NDIS_TIMER_FUNCTION,
        context: usize,
    },
}

/// What the next step of a run is.
enum Step {
    Run(Runnable, Detail),
    Idle,
    Busy(usize),
}

/// Which ready objects a CPU takes: the deterministic loop any, a system
/// worker thread work items, a DPC thread timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Take {
    Any,
    WorkItems,
    Timers,
}

impl Take {
    fn admits(self, o: &Object) -> bool {
        match (self, &o.kind) {
            (Self::Any, _) | (Self::WorkItems, Kind::WorkItem(_)) | (Self::Timers, Kind::Timer(_)) => true,
            (Self::WorkItems, Kind::Timer(_)) | (Self::Timers, Kind::WorkItem(_)) => false,
        }
    }
}

/// Picks one ready object that `which` admits (by the seeded PRNG, among the
/// ready ones in handle order), takes it off its queue, marks it running and
/// says what to run.
fn take_ready(s: &mut Sched, which: Take) -> Option<(Runnable, Detail)> {
    let ready: Vec<usize> = s
        .objects
        .iter()
        .filter(|(_, o)| o.ready(s.now) && which.admits(o))
        .map(|(h, _)| *h)
        .collect();
    if ready.is_empty() {
        return None;
    }
    let pick = if ready.len() == 1 { 0 } else { s.rng.below(ready.len()) };
    let h = ready[pick];
    let of = ready.len();
    let clock = s.clock();
    let o = s.objects.get_mut(&h)?;
    let taken = match &mut o.kind {
        Kind::WorkItem(wi) => {
            let work = wi.queued.take()?;
            wi.running = true;
            let detail = detail!(
                "work item {x} context {x} {c} (1 of {} ready)",
                h,
                work.context,
                clock,
                of
            );
            (Runnable::WorkItem { handle: h, work }, detail)
        }
        Kind::Timer(t) => {
            let a = t.armed?;
            // One-shot: out of the queue. Periodic: requeued first.
            t.armed = (t.period != 0).then_some(Armed {
                due: a.due.saturating_add(t.period),
                context: a.context,
            });
            t.fired += 1;
            t.running += 1;
            let detail = detail!(
                "timer {x} context {x} {c} fire #{} (1 of {} ready)",
                h,
                a.context,
                clock,
                t.fired,
                of
            );
            (
                Runnable::Timer {
                    handle: h,
                    function: t.function,
                    context: a.context,
                },
                detail,
            )
        }
    };
    s.in_flight += 1;
    Some(taken)
}

/// A routine or callback returned: it is no longer running.
fn done(w: &mut World, r: &Runnable) {
    match *r {
        Runnable::WorkItem { handle, .. } => {
            if let Some(Kind::WorkItem(wi)) = w.sched.objects.get_mut(&handle).map(|o| &mut o.kind) {
                wi.running = false;
            }
            w.note(handle, "its routine ran");
        }
        Runnable::Timer { handle, .. } => {
            if let Some(Kind::Timer(t)) = w.sched.objects.get_mut(&handle).map(|o| &mut o.kind) {
                t.running = t.running.saturating_sub(1);
            }
            w.note(handle, "its callback ran");
        }
    }
    w.sched.in_flight = w.sched.in_flight.saturating_sub(1);
    w.sched.completed += 1;
    world::changed();
}

/// Runs one routine or callback on the calling CPU, through its
/// `ffi/calls.rs` frame, and records that it returned.
fn execute(r: Runnable, detail: Detail) {
    match r {
        Runnable::WorkItem { handle, work } => calls::work_item(work.routine, work.context, handle, detail),
        Runnable::Timer { function, context, .. } => calls::timer(function, context, detail),
    }
    world::try_with(|w| done(w, &r));
}

/// The deterministic loop's next step: the next ready object (by the seeded
/// PRNG), taken off its queue. Advances the clock to the next due timer when
/// nothing is ready, up to `target` (None: as far as needed).
fn next_step(w: &mut World, target: Option<i64>, exhausted: bool) -> Step {
    loop {
        let now = w.sched.now;
        if w.sched.objects.values().any(|o| o.ready(now)) {
            if exhausted {
                return Step::Busy(w.sched.pending());
            }
            return take_ready(&mut w.sched, Take::Any).map_or(Step::Idle, |(r, detail)| Step::Run(r, detail));
        }
        let before = w.sched.now;
        let due = advance_clock(&mut w.sched, target);
        crate::condis::pended::clock_moved(w, before);
        if !due {
            return Step::Idle;
        }
    }
}

/// Moves the clock to the next due timer, if that is not past `target`
/// (None: no limit); otherwise to `target`. True if a timer is now due.
fn advance_clock(s: &mut Sched, target: Option<i64>) -> bool {
    match (s.earliest_due(), target) {
        (Some(due), Some(t)) if due <= t => s.now = s.now.max(due),
        (Some(due), None) => s.now = s.now.max(due),
        (_, Some(t)) => {
            s.now = s.now.max(t);
            return false;
        }
        (None, None) => return false,
    }
    true
}

/// Runs deferred work: until nothing is queued (`advance_ms` None), or
/// until `advance_ms` of virtual time have passed. Returns how many
/// routines and callbacks ran.
pub(crate) fn run(advance_ms: Option<u64>) -> Result<usize, EmuError> {
    let (limit, target, threaded) = world::try_with(|w| {
        let ticks = advance_ms.map(|ms| i64::try_from(ms).unwrap_or(i64::MAX).saturating_mul(TICKS_PER_MS));
        (
            w.sched.step_limit,
            ticks.map(|t| w.sched.now.saturating_add(t)),
            w.sched.threaded,
        )
    })
    .ok_or(EmuError::NotLoaded)?;
    if threaded {
        return run_threaded(limit, target);
    }
    let mut steps = 0;
    loop {
        let step = world::try_with(|w| next_step(w, target, steps >= limit)).unwrap_or(Step::Idle);
        match step {
            Step::Idle => return Ok(steps),
            Step::Busy(pending) => return Err(EmuError::NeverIdle { steps, pending }),
            Step::Run(r, detail) => execute(r, detail),
        }
        steps += 1;
    }
}

/// What [`run_one`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ran {
    /// Ran one routine or callback.
    One,
    /// Nothing is ready up to the target time (the clock is there now).
    Idle,
    /// Something is ready but the caller has run its step limit.
    StepLimit,
}

/// One step of the deterministic loop for a CPU that waits in
/// NdisWaitEvent (`crate::sync`): runs the next ready routine or callback
/// on the calling CPU, moving the clock to the next due timer if nothing is
/// ready, up to `target` (None: as far as needed).
pub(crate) fn run_one(target: Option<i64>, exhausted: bool) -> Ran {
    match world::try_with(|w| next_step(w, target, exhausted)).unwrap_or(Step::Idle) {
        Step::Run(r, detail) => {
            execute(r, detail);
            Ran::One
        }
        Step::Idle => Ran::Idle,
        Step::Busy(_) => Ran::StepLimit,
    }
}

/// The threaded mode's run: the worker and DPC threads do the work; this
/// waits until nothing is queued, due or running at the current time, then
/// moves the clock to the next due timer (up to `target`), and again.
fn run_threaded(limit: usize, target: Option<i64>) -> Result<usize, EmuError> {
    let start = world::try_with(|w| w.sched.completed).ok_or(EmuError::NotLoaded)?;
    loop {
        let drained = world::wait_until(|w| {
            let s = &w.sched;
            let steps = s.completed.saturating_sub(start);
            let busy = s.in_flight > 0 || s.objects.values().any(|o| o.ready(s.now));
            match (busy, steps >= limit) {
                (true, true) => Some(Err(EmuError::NeverIdle {
                    steps,
                    pending: s.pending(),
                })),
                (true, false) => None,
                (false, _) => Some(Ok(steps)),
            }
        })
        .ok_or(EmuError::NotLoaded)??;
        let due = world::try_with(|w| {
            let before = w.sched.now;
            let more = advance_clock(&mut w.sched, target);
            crate::condis::pended::clock_moved(w, before);
            if more && drained >= limit {
                return Err(EmuError::NeverIdle {
                    steps: drained,
                    pending: w.sched.pending(),
                });
            }
            Ok(more)
        })
        .ok_or(EmuError::NotLoaded)??;
        world::changed();
        if !due {
            return Ok(drained);
        }
    }
}

/// The body of a threaded-mode thread: a system worker thread (work items
/// at PASSIVE_LEVEL) or a DPC thread (timer callbacks at DISPATCH_LEVEL),
/// as `cpu` is. It takes what is ready, runs it with no lock held, runs the
/// client answers the routine set off on this CPU, and waits for more until
/// the emulator stops it. While some CPU waits in NdisWaitEvent, a worker
/// thread also runs the answers clients give on threads of their own
/// (`Condis::later`, such as a pended notify-close).
pub(crate) fn cpu_thread(cpu: world::Cpu) {
    let which = if cpu.kind == world::CpuKind::Dpc {
        Take::Timers
    } else {
        Take::WorkItems
    };
    world::become_cpu(cpu);
    while let Some(job) = world::wait_until(|w| {
        if w.sched.shutdown {
            return Some(None);
        }
        // While a CPU waits in NdisWaitEvent, the clients answer what they
        // owe on threads of their own: a system worker thread plays them.
        if which == Take::WorkItems
            && w.sync.someone_waits()
            && let Some(action) = w.condis.later.pop_front()
        {
            return Some(Some(Job::Client(action)));
        }
        take_ready(&mut w.sched, which).map(|(r, detail)| Some(Job::Run(r, detail)))
    })
    .flatten()
    {
        match job {
            Job::Run(r, detail) => execute(r, detail),
            Job::Client(action) => (crate::hooks::client().run_action)(action),
        }
        (crate::hooks::client().pump)();
    }
    world::leave_cpu();
}

/// What a threaded-mode thread runs next.
enum Job {
    /// A work item routine or timer callback.
    Run(Runnable, Detail),
    /// A client's answer from the later queue.
    Client(crate::condis::ClientAction),
}

/// Switches the world to the threaded mode and starts its CPUs: `workers`
/// worker threads and as many DPC threads (at least one of each), each
/// running [`cpu_thread`] ([`crate::Emulator::threaded`]).
///
/// # Panics
/// If the system cannot start a thread.
pub(crate) fn start_cpus(workers: usize) -> Vec<std::thread::JoinHandle<()>> {
    let workers = workers.max(1);
    let cpus = world::try_with(|w| {
        w.sched.set_threaded();
        let mut cpus: Vec<world::Cpu> = (0..workers).map(|_| w.new_cpu(world::CpuKind::Worker)).collect();
        cpus.extend((0..workers).map(|_| w.new_cpu(world::CpuKind::Dpc)));
        cpus
    })
    .unwrap_or_default();
    cpus.into_iter()
        .map(|cpu| {
            let name = format!("ndis-emu cpu {} ({:?})", cpu.id, cpu.kind);
            match std::thread::Builder::new().name(name).spawn(move || cpu_thread(cpu)) {
                Ok(h) => h,
                Err(e) => panic!("ndis-emu: cannot start a worker thread: {e}"),
            }
        })
        .collect()
}

/// Stops the threaded mode's threads (each finishes what it is running)
/// and joins them.
pub(crate) fn stop_cpus(threads: &mut Vec<std::thread::JoinHandle<()>>) {
    if threads.is_empty() {
        return;
    }
    world::try_with(|w| w.sched.stop());
    world::changed();
    for h in threads.drain(..) {
        let _ = h.join();
    }
}

/// Runs `script(i, ctx)` for `i` in `0..threads`, each on a thread and a
/// client CPU of its own, all at once, and returns what each returned in
/// index order ([`crate::Emulator::concurrently`]). Each script's last
/// client answers run on its CPU before it leaves it.
///
/// # Panics
/// In the deterministic mode. A script that panics stops the process.
pub(crate) fn concurrently<C: Sync, T: Send>(
    ctx: &C,
    threads: usize,
    script: impl Fn(usize, &C) -> T + Sync,
) -> Vec<T> {
    assert!(
        world::try_with(|w| w.sched.threaded()).unwrap_or(false),
        "Emulator::concurrently needs the threaded mode (Emulator::threaded): the deterministic mode runs on one thread"
    );
    let cpus = world::try_with(|w| {
        (0..threads)
            .map(|_| w.new_cpu(world::CpuKind::Client))
            .collect::<Vec<_>>()
    })
    .unwrap_or_default();
    let script = &script;
    std::thread::scope(|s| {
        let handles: Vec<_> = cpus
            .into_iter()
            .enumerate()
            .map(|(i, cpu)| {
                s.spawn(move || {
                    world::become_cpu(cpu);
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| script(i, ctx)));
                    (crate::hooks::client().pump)();
                    world::leave_cpu();
                    match r {
                        Ok(r) => r,
                        Err(_) => {
                            eprintln!("ndis-emu: client script {i} panicked (above); stopping the process rather than leave the other scripts waiting for it");
                            std::process::abort();
                        }
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rule;

    #[test]
    fn splitmix_is_deterministic_and_seeds_differ() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(Rng::new(0).next_u64(), Rng::new(1).next_u64());
        // The published first output of SplitMix64 seeded with 0.
        assert_eq!(Rng::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn below_stays_in_range_and_reaches_every_value() {
        let mut r = Rng::new(42);
        let mut seen = [false; 5];
        for _ in 0..200 {
            let i = r.below(5);
            assert!(i < 5);
            seen[i] = true;
        }
        assert!(seen.iter().all(|s| *s), "{seen:?}");
    }

    #[test]
    fn the_clock_starts_at_the_base_and_prints_relative_time() {
        let mut s = Sched::new(0);
        assert_eq!(s.now(), SYSTEM_TIME_BASE);
        assert_eq!(detail!("{c}", s.clock()).to_string(), "t=0.0000ms");
        s.now += 15 * TICKS_PER_MS + 5;
        assert_eq!(detail!("{c}", s.clock()).to_string(), "t=15.0005ms");
    }

    ndis_fn! {
        unsafe fn nop_timer(_a: PVOID, _b: PVOID, _c: PVOID, _d: PVOID) {}
        unsafe fn nop_work(_c: PVOID, _h: NDIS_HANDLE) {}
    }

    /// A world with an adapter handle (no driver needed for the bookkeeping).
    fn world_with_adapter() -> (World, usize) {
        let mut w = World::default();
        let a = w.new_handle(HandleKind::Adapter, "test adapter");
        (w, a)
    }

    fn chars() -> NDIS_TIMER_CHARACTERISTICS {
        NDIS_TIMER_CHARACTERISTICS {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS,
                NDIS_TIMER_CHARACTERISTICS_REVISION_1,
                NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1,
            ),
            AllocationTag: pool_tag(b"Tmr "),
            TimerFunction: Some(nop_timer),
            FunctionContext: core::ptr::null_mut(),
        }
    }

    fn request(c: NDIS_TIMER_CHARACTERISTICS) -> TimerRequest {
        TimerRequest {
            characteristics: Some(c),
            null_out: false,
        }
    }

    #[test]
    fn set_reports_whether_the_timer_was_queued_and_cancel_dequeues() {
        let (mut w, a) = world_with_adapter();
        let t = allocate_timer(&mut w, a, request(chars())).expect("timer");
        assert!(!set_timer(&mut w, t, -10 * TICKS_PER_MS, 0, 0));
        assert!(
            set_timer(&mut w, t, -20 * TICKS_PER_MS, 0, 0),
            "a reset of a queued timer"
        );
        assert_eq!(w.sched.pending(), 1);
        assert!(cancel_timer(&mut w, t));
        assert!(!cancel_timer(&mut w, t));
        assert_eq!(w.sched.pending(), 0);
        free_timer(&mut w, t);
        assert!(w.violations.is_empty(), "{:?}", w.violations);
        assert!(!w.handles[&t].alive);
    }

    #[test]
    fn relative_and_absolute_due_times_and_periods() {
        let (mut w, a) = world_with_adapter();
        let rel = allocate_timer(&mut w, a, request(chars())).expect("timer");
        let abs = allocate_timer(&mut w, a, request(chars())).expect("timer");
        let past = allocate_timer(&mut w, a, request(chars())).expect("timer");
        set_timer(&mut w, rel, -5 * TICKS_PER_MS, 10, 0);
        set_timer(&mut w, abs, SYSTEM_TIME_BASE + 7 * TICKS_PER_MS, 0, 0);
        set_timer(&mut w, past, 0, 0, 0);
        assert_eq!(w.sched.earliest_due(), Some(SYSTEM_TIME_BASE));
        let ready: Vec<bool> = [rel, abs, past]
            .iter()
            .map(|h| w.sched.objects[h].ready(SYSTEM_TIME_BASE))
            .collect();
        assert_eq!(ready, [false, false, true]);
        // Step through 20 ms: past at 0, rel at 5 and 15, abs at 7.
        let mut fired = Vec::new();
        let end = SYSTEM_TIME_BASE + 20 * TICKS_PER_MS;
        while let Step::Run(Runnable::Timer { handle, .. }, _) = next_step(&mut w, Some(end), false) {
            fired.push(handle);
        }
        assert_eq!(fired, [past, rel, abs, rel]);
        assert_eq!(w.sched.now(), end);
        assert_eq!(w.sched.pending(), 1, "the periodic timer stays queued");
    }

    #[test]
    fn a_bad_timer_characteristics_block_is_refused() {
        let (mut w, a) = world_with_adapter();
        let mut c = chars();
        c.Header.Revision = 0;
        assert_eq!(
            allocate_timer(&mut w, a, request(c)),
            Err(NDIS_STATUS_BAD_CHARACTERISTICS)
        );
        let mut c = chars();
        c.Header.Size = 16;
        assert_eq!(
            allocate_timer(&mut w, a, request(c)),
            Err(NDIS_STATUS_BAD_CHARACTERISTICS)
        );
        let mut c = chars();
        c.Header.Type = NDIS_OBJECT_TYPE_DEFAULT;
        assert_eq!(
            allocate_timer(&mut w, a, request(c)),
            Err(NDIS_STATUS_BAD_CHARACTERISTICS)
        );
        let r = TimerRequest {
            characteristics: None,
            null_out: false,
        };
        assert_eq!(allocate_timer(&mut w, a, r), Err(NDIS_STATUS_INVALID_PARAMETER));
        let rules: Vec<Rule> = w.violations.iter().map(|v| v.rule).collect();
        assert_eq!(rules, [SCHED_TIMER_CHARACTERISTICS; 4]);
        assert!(w.sched.objects.is_empty());
    }

    #[test]
    fn a_work_item_is_dequeued_before_it_runs() {
        let (mut w, a) = world_with_adapter();
        let h = allocate_work_item(&mut w, a).expect("work item");
        queue_work_item(&mut w, h, Some(nop_work), 5);
        queue_work_item(&mut w, h, Some(nop_work), 6);
        assert_eq!(w.violations.len(), 1);
        assert_eq!(w.violations[0].rule, SCHED_WORKITEM_QUEUE);
        let Step::Run(Runnable::WorkItem { handle, work }, _) = next_step(&mut w, None, false) else {
            panic!("the work item is ready");
        };
        assert_eq!((handle, work.context), (h, 5));
        // Now running: requeue and free are both legal.
        queue_work_item(&mut w, h, Some(nop_work), 7);
        assert_eq!(w.violations.len(), 1);
        let _ = next_step(&mut w, None, false);
        free_work_item(&mut w, h);
        assert_eq!(w.violations.len(), 1, "{:?}", w.violations);
        assert!(matches!(next_step(&mut w, None, false), Step::Idle));
    }

    #[test]
    fn freeing_a_queued_work_item_breaks_its_rule_and_drops_the_routine() {
        let (mut w, a) = world_with_adapter();
        let h = allocate_work_item(&mut w, a).expect("work item");
        queue_work_item(&mut w, h, Some(nop_work), 0);
        free_work_item(&mut w, h);
        assert_eq!(w.violations[0].rule, SCHED_WORKITEM_FREED_WHILE_QUEUED);
        assert_eq!(w.sched.pending(), 0);
        // A second free is a dead handle.
        free_work_item(&mut w, h);
        assert_eq!(w.violations[1].rule, rules::HANDLE_VALID);
    }

    #[test]
    fn leaks_are_reported_once_with_their_origin() {
        let (mut w, a) = world_with_adapter();
        let _ = allocate_work_item(&mut w, a).expect("work item");
        owner_done(&mut w, a, "MiniportHaltEx");
        leftovers(&mut w);
        assert_eq!(w.violations.len(), 1);
        assert_eq!(w.violations[0].rule, SCHED_LEAK);
        assert!(
            w.violations[0].detail.contains("outside any handler"),
            "{}",
            w.violations[0].detail
        );
    }

    #[test]
    fn a_handle_of_another_kind_is_refused() {
        let (mut w, a) = world_with_adapter();
        let h = allocate_work_item(&mut w, a).expect("work item");
        assert!(!cancel_timer(&mut w, h));
        assert_eq!(w.violations[0].rule, rules::HANDLE_VALID);
        assert!(
            w.violations[0].detail.contains("WorkItem"),
            "{}",
            w.violations[0].detail
        );
    }
}

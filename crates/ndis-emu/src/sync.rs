//! NDIS events (`NdisInitializeEvent`, `NdisSetEvent`, `NdisResetEvent`,
//! `NdisWaitEvent`) and what a wait does in each mode.
//!
//! What it owns: the state NDIS keeps per event (by the address of the
//! driver's `NDIS_EVENT`), the rules of this area ([`SYNC`]), and the wait
//! loop. The DDIs themselves (raw pointers, the bytes of the KEVENT) are in
//! `ffi/events.rs`. What it must not do: hold the world lock while driver
//! code or a client answer runs, or block the deterministic mode's one
//! thread.
//!
//! # The model
//!
//! * An event is a *notification* event (NdisInitializeEvent's page): set,
//!   it stays set until NdisResetEvent, and every wait on it returns at once.
//!   It is a real object: it exists from NdisInitializeEvent on, at its
//!   address, until the memory that holds it is freed (the memory ledger
//!   says when). An event passed back that was never initialized, or whose
//!   memory was freed, breaks [`SYNC_EVENT_VALID`] and is not touched.
//! * NdisWaitEvent runs at PASSIVE_LEVEL only ("calling NdisWaitEvent from
//!   any IRQL > PASSIVE_LEVEL is a fatal error", NdisInitializeEvent's
//!   page). Above it, `irql.limit` fires and the wait returns FALSE at once.
//!   There is no zero-timeout exception as for KeWaitForSingleObject: an
//!   `MsToWait` of 0 means "wait indefinitely".
//!
//! # The deterministic mode
//!
//! The waiting CPU is the only thread, so it cannot block. While the event
//! is not signalled it runs, itself, whatever could signal it, one at a
//! time: the clients' answers owed on this CPU or on threads of their own
//! (`Condis::later`, a pended notify-close), then the scheduler's ready work
//! items and timers (seeded order, as `run_until_idle`), moving virtual time
//! to the next due timer when nothing is ready. When nothing is left and
//! the event is still not signalled, a timed wait returns FALSE at its
//! (virtual) deadline; an unbounded one would hang on Windows, so
//! [`SYNC_WAIT_FOREVER`] fires, naming the handler that waits, and the wait
//! returns FALSE so the run goes on to its report.
//!
//! # The threaded mode
//!
//! The waiting CPU blocks, with the world lock released, until another CPU
//! sets the event or the timeout passes (real time: the virtual clock moves
//! only when the test moves it). Its own queued client answers are handed
//! to the `later` queue first, and while any CPU waits, the system worker
//! threads run that queue (the clients answer on threads of their own). An
//! unbounded wait that nothing satisfies within [`WAIT_FOREVER_AFTER`]
//! breaks [`SYNC_WAIT_FOREVER`] and returns FALSE.

use std::time::{Duration, Instant};

use ndis_sys::*;

use crate::detail;
use crate::rules;
use crate::world::sync::{EventRec, Events};
use crate::world::{self, World};

crate::define_rules! { SYNC:
    SYNC_EVENT_VALID, "sync.event-valid", true, "NdisSetEvent, NdisResetEvent, NdisWaitEvent (Event: \"a pointer to an initialized event object\"); NdisInitializeEvent", "sync_event_valid_fires_on_an_uninitialized_event",
        "NdisSetEvent, NdisResetEvent and NdisWaitEvent get a non-NULL event that NdisInitializeEvent set up, in memory that has not been freed since.";
    SYNC_WAIT_FOREVER, "sync.wait-forever", true, "NdisWaitEvent (MsToWait 0: \"wait for the event indefinitely\"); §1.4", "sync_wait_forever_fires_on_an_event_nobody_sets",
        "An NdisWaitEvent without timeout is satisfied: some routine, callback or client answer sets the event. With nothing left to run and the event still clear, the waiter would hang for ever on Windows; ndis-emu reports it and the wait returns FALSE.";
}

/// How long an unbounded wait may block in the threaded mode before it is
/// called a deadlock (as a spin lock's `DEADLOCK_AFTER`).
pub const WAIT_FOREVER_AFTER: Duration = Duration::from_secs(10);

/// How long a halt in the threaded mode waits for what NDIS waits for
/// (requests inside the driver, a pended pause) before it goes on and lets
/// the rules report what is left.
const HALT_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// Waits (threaded mode) until `done` holds, at most [`HALT_WAIT`]. A
/// wait that has to block is a blocking wait for the interleavings
/// ([`crate::interleave::blocking`]): what it waits for may be the other
/// script's to finish (a client's teardown waiting for its own request
/// stopped at a boundary), so the two run freely from there.
pub(crate) fn wait_bounded(mut done: impl FnMut(&World) -> bool) {
    if world::try_with(|w| done(w)).unwrap_or(true) {
        return;
    }
    crate::interleave::blocking();
    let deadline = std::time::Instant::now() + HALT_WAIT;
    let _ = world::wait_until_deadline(deadline, |w| done(w).then_some(()));
}

/// NdisInitializeEvent: a new, not-signalled notification event at `at`
/// (any IRQL). A second initialization starts it over.
pub(crate) fn initialize(w: &mut World, at: usize) -> bool {
    const CALL: &str = "NdisInitializeEvent";
    w.event("=>", CALL, detail!("event {x}", at));
    if at == 0 {
        w.violate(SYNC_EVENT_VALID, CALL, "NULL event", &[]);
        return false;
    }
    let origin = w.current_handler().unwrap_or("outside any handler");
    w.sync.events.insert(
        at,
        EventRec {
            signalled: false,
            origin,
            freed_in: None,
        },
    );
    true
}

/// Checks an event the driver passed back: initialized, memory not freed.
fn check(w: &mut World, at: usize, call: &'static str) -> bool {
    let problem = match w.sync.events.get(&at) {
        None if at == 0 => Some("NULL event".to_string()),
        None => Some(format!("event {at:#x} was never set up with NdisInitializeEvent")),
        Some(e) => e.freed_in.map(|freed| {
            format!(
                "event {at:#x} (initialized in {}) lies in memory freed in {freed}",
                e.origin
            )
        }),
    };
    match problem {
        Some(p) => {
            w.violate(SYNC_EVENT_VALID, call, p, &[]);
            false
        }
        None => true,
    }
}

/// NdisSetEvent (`signal` true) or NdisResetEvent: <= DISPATCH_LEVEL. True
/// if the event is valid (and so may be written).
pub(crate) fn set_state(w: &mut World, at: usize, signal: bool) -> bool {
    let call = if signal { "NdisSetEvent" } else { "NdisResetEvent" };
    w.event("=>", call, detail!("event {x}", at));
    w.check_irql(call, DISPATCH_LEVEL);
    if !check(w, at, call) {
        return false;
    }
    if let Some(e) = w.sync.events.get_mut(&at) {
        e.signalled = signal;
    }
    if signal {
        world::changed();
    }
    true
}

/// Whether the event at `at` is signalled.
fn signalled(events: &Events, at: usize) -> bool {
    events.events.get(&at).is_some_and(|e| e.signalled)
}

/// The driver freed `len` bytes at `start` (in `handler`): the events in
/// them are gone.
pub(crate) fn memory_freed(events: &mut Events, start: usize, len: usize, handler: &'static str) {
    for (_, e) in events.events.range_mut(start..start.saturating_add(len)) {
        e.freed_in = Some(handler);
    }
}

/// How a wait starts.
enum Start {
    /// Return at once with this value.
    Done(bool),
    /// Wait, in the threaded mode or not.
    Wait { threaded: bool },
}

/// NdisWaitEvent: TRUE once the event is signalled, FALSE on timeout (see
/// the module docs for what runs meanwhile).
pub(crate) fn wait(at: usize, ms: u32) -> bool {
    const CALL: &str = "NdisWaitEvent";
    let start = world::with(CALL, |w| {
        let limit = if ms == 0 {
            detail!("event {x}, no timeout", at)
        } else {
            detail!("event {x}, {}ms", at, ms)
        };
        w.event("=>", CALL, limit);
        let irql = world::irql();
        if irql > PASSIVE_LEVEL {
            let here = w.current_handler().unwrap_or("no handler");
            w.violate(
                rules::IRQL_LIMIT,
                CALL,
                format!("called at IRQL {irql} in {here}; it waits, so only at PASSIVE_LEVEL (a bug check on Windows)"),
                &[],
            );
            return Start::Done(false);
        }
        if !check(w, at, CALL) {
            return Start::Done(false);
        }
        if signalled(&w.sync, at) {
            return Start::Done(true);
        }
        (crate::hooks::client().unbind_clients_at_halt_wait)(w);
        Start::Wait {
            threaded: w.sched.threaded(),
        }
    });
    match start {
        Start::Done(r) => r,
        Start::Wait { threaded: true } => wait_threaded(at, ms),
        Start::Wait { threaded: false } => wait_deterministic(at, ms),
    }
}

/// Records how a wait that blocked ended.
fn finish(at: usize, ms: u32, satisfied: bool, how: &str) -> bool {
    world::with("NdisWaitEvent", |w| {
        if satisfied {
            w.event("=>", "NdisWaitEvent", format!("event {at:#x} signalled {how}: TRUE"));
        } else if ms == 0 {
            let here = w.current_handler().unwrap_or("no handler");
            w.violate(
                SYNC_WAIT_FOREVER,
                "NdisWaitEvent",
                format!("{here} waits for ever on event {at:#x}: {how}, and nothing sets it; the wait returns FALSE"),
                &[],
            );
        } else {
            w.event(
                "=>",
                "NdisWaitEvent",
                format!("event {at:#x} timed out after {ms}ms {how}: FALSE"),
            );
        }
    });
    satisfied
}

/// The deterministic wait: run what could set the event until it is set or
/// nothing is left.
fn wait_deterministic(at: usize, ms: u32) -> bool {
    let (limit, deadline) = world::with("NdisWaitEvent", |w| {
        let ticks = i64::from(ms).saturating_mul(crate::sched::TICKS_PER_MS);
        (
            w.sched.step_limit(),
            (ms != 0).then(|| w.sched.now().saturating_add(ticks)),
        )
    });
    let cpu = world::cpu_id();
    let mut steps = 0;
    loop {
        let (set, action) = world::with("NdisWaitEvent", |w| {
            if signalled(&w.sync, at) {
                return (true, None);
            }
            let action = w.condis.next_action(cpu).or_else(|| w.condis.later.pop_front());
            (false, action)
        });
        if set {
            return finish(at, ms, true, &format!("after {steps} step(s) run while waiting"));
        }
        if let Some(action) = action {
            (crate::hooks::client().run_action)(action);
            steps += 1;
            continue;
        }
        match crate::sched::run_one(deadline, steps >= limit) {
            crate::sched::Ran::One => steps += 1,
            crate::sched::Ran::Idle => {
                let set = world::with("NdisWaitEvent", |w| signalled(&w.sync, at));
                let how = format!("nothing left to run after {steps} step(s)");
                return finish(at, ms, set, &how);
            }
            crate::sched::Ran::StepLimit => {
                let how = format!("deferred work never went idle ({steps} steps)");
                return finish(at, ms, false, &how);
            }
        }
    }
}

/// The threaded wait: block until another CPU sets the event or time is up.
fn wait_threaded(at: usize, ms: u32) -> bool {
    let cpu = world::cpu_id();
    // An interleaving's scripts stop taking turns: the event may be the
    // stopped one's to set.
    crate::interleave::blocking();
    world::with("NdisWaitEvent", |w| {
        w.condis.hand_over(cpu);
        w.sync.waiting += 1;
    });
    world::changed();
    let wait_for = if ms == 0 {
        WAIT_FOREVER_AFTER
    } else {
        Duration::from_millis(u64::from(ms))
    };
    let deadline = Instant::now() + wait_for;
    let set = world::wait_until_deadline(deadline, |w| signalled(&w.sync, at).then_some(())).is_some();
    world::with("NdisWaitEvent", |w| w.sync.waiting = w.sync.waiting.saturating_sub(1));
    let how = if set {
        "by another CPU".to_string()
    } else {
        format!("after {}ms of real time", wait_for.as_millis())
    };
    finish(at, ms, set, &how)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_valid_from_initialization_until_its_memory_is_freed() {
        let mut w = World::default();
        assert!(initialize(&mut w, 0x1000));
        assert!(set_state(&mut w, 0x1000, true));
        assert!(signalled(&w.sync, 0x1000));
        assert!(set_state(&mut w, 0x1000, false));
        assert!(!signalled(&w.sync, 0x1000));
        assert!(w.violations.is_empty(), "{:?}", w.violations);
        memory_freed(&mut w.sync, 0x0FF0, 0x20, "MiniportHaltEx");
        assert!(!set_state(&mut w, 0x1000, true));
        assert_eq!(w.violations.len(), 1);
        assert_eq!(w.violations[0].rule, SYNC_EVENT_VALID);
        assert!(
            w.violations[0].detail.contains("freed in MiniportHaltEx"),
            "{}",
            w.violations[0].detail
        );
        // Initialized again in new memory at the same address, it is a new event.
        assert!(initialize(&mut w, 0x1000));
        assert!(set_state(&mut w, 0x1000, true));
        assert_eq!(w.violations.len(), 1);
    }

    #[test]
    fn freeing_memory_next_to_an_event_leaves_it_alone() {
        let mut w = World::default();
        assert!(initialize(&mut w, 0x1000));
        memory_freed(&mut w.sync, 0x0F00, 0x100, "h");
        memory_freed(&mut w.sync, 0x1018, 0x100, "h");
        assert!(set_state(&mut w, 0x1000, true));
        assert!(w.violations.is_empty(), "{:?}", w.violations);
    }

    #[test]
    fn an_event_never_initialized_or_null_is_refused() {
        let mut w = World::default();
        assert!(!set_state(&mut w, 0x2000, true));
        assert!(!set_state(&mut w, 0, false));
        assert!(!initialize(&mut w, 0));
        let rules: Vec<_> = w.violations.iter().map(|v| v.rule).collect();
        assert_eq!(rules, [SYNC_EVENT_VALID; 3]);
    }
}

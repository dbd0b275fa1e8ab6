//! Deterministic interleavings: stop a CPU at a chosen DDI boundary and run
//! another script, on another CPU, to completion before that DDI proceeds.
//!
//! A race between two operations on two processors is a question of where
//! one of them is when the other runs. This module answers it exactly,
//! rather than hoping a thread schedule produces it: the *victim* script
//! runs on the calling CPU; when the driver, on that CPU, makes the chosen
//! DDI call (the [`At`] point: the Nth DDI call of the victim's, or the Nth
//! call of a named DDI, optionally only inside a named handler), the victim
//! stops *before the DDI does anything* (world lock released, whatever spin
//! locks the driver holds still held), and the *injected* script runs on a
//! CPU of its own until it returns. Then the victim goes on. Every DDI the
//! driver imports is such a boundary (`ffi::ddi_fn!` puts the hook at the
//! top of each, and a test keeps it so), and so is a scripted client's
//! NdisClCloseAddressFamily (`Emulator::close_af`: after the client decided
//! to close, before NDIS marks the AF closing).
//!
//! ```text
//! let out = emu.interleave(
//!     At::ddi("KeAcquireSpinLockRaiseToDpc").inside("MiniportCoSendNetBufferLists"),
//!     |emu| emu.send(bob_vc, &[b"x"]),   // the victim, on this CPU
//!     |emu| emu.close_call(alice_vc, &[]), // injected, on another CPU
//! );
//! assert!(out.injected.is_some(), "the point was reached");
//! ```
//!
//! To *search* rather than recite, run the victim once with [`At::NEVER`]:
//! [`Interleaving::crossed`] lists every boundary it crosses; then inject at
//! each of them, one fresh emulator per boundary ([`sweep`] does both).
//!
//! Some races need three steps: the victim stopped, the injected script
//! run up to a boundary of its own (past a lock it took and dropped, before
//! the NDIS call that acts on what it decided there), the victim run to
//! its end in between, then the rest of the injected script.
//! [`crate::Emulator::interleave_back`] does that: at its `back` point the
//! injected script stops and hands the turn back to the victim until the
//! victim returns. [`Interleaving::injected_crossed`] lists the injected
//! script's boundaries (from the point on), for sweeping `back` as well.
//!
//! # Who runs when
//!
//! Only one of the two scripts runs at a time (they pass a *turn*), so an
//! interleaving is the same on every run: in the deterministic mode nothing
//! else runs at all, and the run replays exactly. The injected script holds
//! the turn from the point until it returns, unless it would wait for the
//! victim:
//!
//! * it spins on a spin lock the stopped victim holds, or its
//!   NdisMCmDeleteVc / NdisCoDeleteVc waits for the victim's send handler
//!   to leave NDIS's window (`ffi/data.rs`): the victim gets the turn back
//!   and runs to its next DDI boundary (a release is one), where the
//!   injected script gets the turn again and retries, and so on;
//! * it blocks in NdisWaitEvent in the threaded mode, or in one of NDIS's
//!   or a scripted client's bounded waits (a halt waiting for requests
//!   inside the driver, a client's teardown waiting for its own request):
//!   the turns end, and both run freely from there (the event, or what is
//!   waited for, may be the victim's).
//!
//! The victim that returns while the injected script is still blocked hands
//! it the turn for good, and [`crate::Emulator::interleave`] returns once both are
//! done. A point the victim never reaches runs nothing: `injected` is None.
//!
//! Other CPUs (the threaded mode's workers, other scripts of
//! [`crate::Emulator::concurrently`]) are not held: the turns order only the two
//! scripts. One interleaving runs at a time per process.
//!
//! What this module must not do: hold the world lock, or its own, while a
//! script or the driver runs; change what a DDI does (a boundary only
//! waits).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use crate::world::{self, CpuId};

/// Where the injected script runs: at a DDI call the victim's CPU makes.
///
/// Built with [`At::boundary`] (the Nth DDI call of any name) or
/// [`At::ddi`] (the Nth call of one DDI), narrowed with [`At::nth`] and
/// [`At::inside`]. Counts start at 1 and count only the calls that match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct At {
    ddi: Option<&'static str>,
    handler: Option<&'static str>,
    /// The matching call to stop at (1: the first); 0: never.
    nth: usize,
}

impl At {
    /// No point: the victim runs alone and its boundaries are recorded.
    pub const NEVER: Self = Self {
        ddi: None,
        handler: None,
        nth: 0,
    };

    /// The `n`th DDI call (any DDI) the victim makes, from 1.
    #[must_use]
    pub fn boundary(n: usize) -> Self {
        Self {
            ddi: None,
            handler: None,
            nth: n,
        }
    }

    /// The first call of `ddi` (its exported name) the victim makes.
    #[must_use]
    pub fn ddi(ddi: &'static str) -> Self {
        Self {
            ddi: Some(ddi),
            handler: None,
            nth: 1,
        }
    }

    /// The `n`th matching call instead of the first.
    #[must_use]
    pub fn nth(self, n: usize) -> Self {
        Self { nth: n, ..self }
    }

    /// Only calls made while `handler` (a driver handler's name as the
    /// trace shows it, e.g. `MiniportCoSendNetBufferLists`) runs on the
    /// victim's CPU, at any depth, count.
    #[must_use]
    pub fn inside(self, handler: &'static str) -> Self {
        Self {
            handler: Some(handler),
            ..self
        }
    }

    fn matches(&self, ddi: &str, handlers: &[&'static str]) -> bool {
        self.ddi.is_none_or(|d| d == ddi) && self.handler.is_none_or(|h| handlers.contains(&h))
    }
}

/// One DDI boundary the victim crossed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crossing {
    /// The DDI's exported name.
    pub ddi: &'static str,
    /// The innermost driver handler running on the victim's CPU then.
    pub handler: Option<&'static str>,
}

impl std::fmt::Display for Crossing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} in {}", self.ddi, self.handler.unwrap_or("no handler"))
    }
}

/// What [`crate::Emulator::interleave`] ran.
#[derive(Debug)]
pub struct Interleaving<A, B> {
    /// What the victim returned.
    pub victim: A,
    /// What the injected script returned; None if the point was never
    /// reached (the script did not run).
    pub injected: Option<B>,
    /// Every DDI boundary the victim crossed, in order (also those after
    /// the point).
    pub crossed: Vec<Crossing>,
    /// The index in `crossed` of the point, if reached.
    pub fired_at: Option<usize>,
    /// The injected script blocked in NdisWaitEvent and the two ran freely
    /// from there (see the module docs): the rest of the run is not exact.
    pub went_free: bool,
    /// Every DDI boundary the injected script crossed while the two took
    /// turns, in order ([`crate::Emulator::interleave_back`]).
    pub injected_crossed: Vec<Crossing>,
    /// The index in `injected_crossed` of the `back` point, if reached
    /// (the victim then ran to its end there).
    pub back_fired_at: Option<usize>,
}

/// Where the two scripts are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The victim runs alone; the point is not reached yet.
    Armed,
    /// The point was reached: the two take turns.
    Turns,
    /// The injected script blocked on something only time or another CPU
    /// ends: both run freely.
    Free,
    /// The victim is done and the point was never reached: the injected
    /// script is not to run.
    Cancelled,
}

/// One interleaving in progress.
///
/// INVARIANT: in [`Phase::Turns`] only the script on CPU `turn` runs (the
/// other waits in [`wait_turn`], at a DDI boundary or a wait hook, or has
/// not started or is done); the injected script runs at all only from the
/// point on, never in [`Phase::Armed`] or [`Phase::Cancelled`]; once
/// `victim_runs` is set the victim keeps the turn until it is done, but
/// while it waits for the injected script (a spin lock), which gives it back
/// at its next boundary.
pub(crate) struct Run {
    pub(crate) at: At,
    /// Where the injected script stops and lets the victim run to its end
    /// ([`At::NEVER`]: nowhere).
    pub(crate) back: At,
    pub(crate) victim: CpuId,
    pub(crate) injected: CpuId,
    pub(crate) phase: Phase,
    /// Who may run (in [`Phase::Turns`]).
    pub(crate) turn: CpuId,
    /// Matching calls seen so far.
    pub(crate) matched: usize,
    pub(crate) crossed: Vec<Crossing>,
    pub(crate) fired_at: Option<usize>,
    pub(crate) victim_done: bool,
    pub(crate) injected_done: bool,
    /// Matching calls of the injected script's so far (for `back`).
    pub(crate) back_matched: usize,
    pub(crate) injected_crossed: Vec<Crossing>,
    pub(crate) back_fired_at: Option<usize>,
    /// The injected script reached `back`: the victim runs to its end.
    pub(crate) victim_runs: bool,
}

impl Run {
    /// The other script's CPU, if `me` is one of the two.
    fn other(&self, me: CpuId) -> Option<CpuId> {
        if me == self.victim {
            Some(self.injected)
        } else if me == self.injected {
            Some(self.victim)
        } else {
            None
        }
    }
}

/// Set while an interleaving runs: the boundary hook's fast path.
pub(crate) static ARMED: AtomicBool = AtomicBool::new(false);
/// The interleaving in progress (None: none).
static RUN: Mutex<Option<Run>> = Mutex::new(None);
/// Signalled whenever the turn or a script's state changes.
static TURN: Condvar = Condvar::new();

pub(crate) fn lock() -> MutexGuard<'static, Option<Run>> {
    RUN.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waits (holding nothing else) until `me` may run: it has the turn, the
/// two run freely, or the run is over.
pub(crate) fn wait_turn(mut g: MutexGuard<'static, Option<Run>>, me: CpuId) {
    loop {
        match g.as_ref() {
            Some(r) if r.phase == Phase::Turns && r.turn != me => {}
            Some(r) if r.phase == Phase::Armed && me == r.injected => {}
            _ => return,
        }
        g = TURN.wait(g).unwrap_or_else(PoisonError::into_inner);
    }
}

/// The hook at the top of every DDI the driver imports (`ffi::ddi_fn!`):
/// on the victim's CPU, records the boundary and, at the point, stops the
/// victim until the injected script returns or waits for it. Anywhere else
/// it does nothing. Called with no lock held.
pub(crate) fn boundary(ddi: &'static str) {
    if !ARMED.load(Ordering::Acquire) {
        return;
    }
    let me = world::cpu_id();
    let mut g = lock();
    let Some(r) = g.as_mut() else { return };
    if me == r.injected && r.phase == Phase::Turns && !r.injected_done {
        injected_boundary(g, me, ddi);
        return;
    }
    if me != r.victim || r.victim_done {
        return;
    }
    let handlers = world::handlers();
    r.crossed.push(Crossing {
        ddi,
        handler: handlers.last().copied(),
    });
    let fire = match r.phase {
        Phase::Armed if r.at.nth > 0 && r.at.matches(ddi, &handlers) => {
            r.matched += 1;
            r.matched == r.at.nth
        }
        _ => false,
    };
    if fire {
        // In the trace before the injected script's first event (the world
        // lock is taken under this module's, never the other way round).
        let (n, injected) = (r.crossed.len(), r.injected);
        let here = handlers.last().copied().unwrap_or("no handler");
        world::with(ddi, |w| {
            w.event(
                "~~",
                ddi,
                format!("interleave: CPU {me} stops at boundary #{n} ({ddi} in {here}); CPU {injected} runs the injected script"),
            );
        });
        r.phase = Phase::Turns;
        r.fired_at = Some(n - 1);
        r.turn = injected;
    } else if r.phase == Phase::Turns && !r.injected_done && !r.victim_runs {
        // The injected script gave the turn back because it waits for the
        // victim (a spin lock): at each boundary it tries again.
        r.turn = r.injected;
    }
    TURN.notify_all();
    wait_turn(g, me);
}

/// [`boundary`] on the injected script's CPU while the two take turns:
/// records the boundary and, at the `back` point, stops the injected
/// script until the victim is done. After that point, a boundary the
/// injected script reaches because the victim waited for it (a spin lock)
/// hands the turn back to the victim.
fn injected_boundary(mut g: MutexGuard<'static, Option<Run>>, me: CpuId, ddi: &'static str) {
    let Some(r) = g.as_mut() else { return };
    let handlers = world::handlers();
    r.injected_crossed.push(Crossing {
        ddi,
        handler: handlers.last().copied(),
    });
    if r.victim_done {
        return;
    }
    if r.victim_runs {
        r.turn = r.victim;
    } else if r.back.nth > 0 && r.back.matches(ddi, &handlers) {
        r.back_matched += 1;
        if r.back_matched == r.back.nth {
            let (n, victim) = (r.injected_crossed.len(), r.victim);
            let here = handlers.last().copied().unwrap_or("no handler");
            world::with(ddi, |w| {
                w.event(
                    "~~",
                    ddi,
                    format!("interleave: CPU {me} stops at its boundary #{n} ({ddi} in {here}); CPU {victim} runs to its end"),
                );
            });
            r.victim_runs = true;
            r.back_fired_at = Some(n - 1);
            r.turn = victim;
        }
    }
    TURN.notify_all();
    wait_turn(g, me);
}

/// The hook of a CPU that waits for `owner` (a spin lock `owner` holds, a
/// deletion waiting for `owner`'s send handler). If the caller holds the
/// turn and `owner` is the other script's CPU (stopped), the turn goes to
/// `owner` until it comes back; otherwise nothing happens (the caller
/// spins, as on Windows).
pub(crate) fn spinning(owner: CpuId) {
    if !ARMED.load(Ordering::Acquire) {
        return;
    }
    let me = world::cpu_id();
    let mut g = lock();
    let Some(r) = g.as_mut() else { return };
    if r.phase != Phase::Turns || r.turn != me || r.other(me) != Some(owner) {
        return;
    }
    let owner_done = if owner == r.victim {
        r.victim_done
    } else {
        r.injected_done
    };
    if owner_done {
        return;
    }
    r.turn = owner;
    TURN.notify_all();
    wait_turn(g, me);
}

/// The blocking-wait hook (NdisWaitEvent in the threaded mode): if the
/// calling CPU is one of the two, the turns end and both run freely.
pub(crate) fn blocking() {
    if !ARMED.load(Ordering::Acquire) {
        return;
    }
    let me = world::cpu_id();
    let mut g = lock();
    if let Some(r) = g.as_mut()
        && r.phase == Phase::Turns
        && r.other(me).is_some()
    {
        r.phase = Phase::Free;
        TURN.notify_all();
    }
}

/// Marks the victim done when its script returns or unwinds.
pub(crate) struct VictimDone;

impl Drop for VictimDone {
    fn drop(&mut self) {
        let mut g = lock();
        if let Some(r) = g.as_mut() {
            r.victim_done = true;
            match r.phase {
                Phase::Armed => r.phase = Phase::Cancelled,
                Phase::Turns => r.turn = r.injected,
                Phase::Free | Phase::Cancelled => {}
            }
        }
        TURN.notify_all();
    }
}

/// Marks the injected script done when it returns or unwinds.
pub(crate) struct InjectedDone;

impl Drop for InjectedDone {
    fn drop(&mut self) {
        let mut g = lock();
        if let Some(r) = g.as_mut() {
            r.injected_done = true;
            r.turn = r.victim;
        }
        TURN.notify_all();
    }
}

/// Systematic interleaving: calls `run(At::NEVER)` to learn the boundaries
/// the victim crosses, then `run(At::boundary(k))` for every k, each of
/// which should build a fresh emulator in the same state and call
/// [`crate::Emulator::interleave`] with the `At` it is given. Returns the counting
/// run's crossings and every run's result, in order.
///
/// # Panics
/// If a run with a point does not reach it: the victim is not deterministic
/// (it crossed fewer boundaries than when counted).
pub fn sweep<A, B>(mut run: impl FnMut(At) -> Interleaving<A, B>) -> (Vec<Crossing>, Vec<Interleaving<A, B>>) {
    let counted = run(At::NEVER).crossed;
    let runs = (1..=counted.len())
        .map(|k| {
            let out = run(At::boundary(k));
            assert_eq!(
                out.fired_at,
                Some(k - 1),
                "boundary #{k} ({}) was not reached: the victim crossed {:?}",
                counted[k - 1],
                out.crossed
            );
            out
        })
        .collect();
    (counted, runs)
}

/// Runs `victim(ctx)` on the calling CPU and `injected(ctx)` on a new CPU
/// at `at`, handing the turn back at `back` ([`crate::Emulator::interleave_back`]).
///
/// # Panics
/// If another interleaving is running in this process, or no emulator
/// runs on this thread.
pub(crate) fn run<C: Sync, A, B: Send>(
    ctx: &C,
    at: At,
    back: At,
    victim: impl FnOnce(&C) -> A,
    injected: impl FnOnce(&C) -> B + Send,
) -> Interleaving<A, B> {
    let me = world::cpu_id();
    let Some(cpu) = world::try_with(|w| w.new_cpu(world::CpuKind::Client)) else {
        panic!("Emulator::interleave: no emulator runs on this thread");
    };
    let injected_cpu = cpu.id;
    {
        let mut g = lock();
        assert!(
            g.is_none(),
            "Emulator::interleave: one interleaving at a time per process"
        );
        *g = Some(Run {
            at,
            victim: me,
            injected: injected_cpu,
            phase: Phase::Armed,
            turn: me,
            matched: 0,
            crossed: Vec::new(),
            fired_at: None,
            victim_done: false,
            injected_done: false,
            back,
            back_matched: 0,
            injected_crossed: Vec::new(),
            back_fired_at: None,
            victim_runs: false,
        });
        ARMED.store(true, Ordering::Release);
    }
    let this: &C = ctx;
    let (victim_result, injected_result) = std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name(format!("ndis-emu cpu {injected_cpu} (interleave)"))
            .spawn_scoped(s, move || {
                world::become_cpu(cpu);
                wait_turn(lock(), injected_cpu);
                let go = lock().as_ref().is_some_and(|r| r.phase != Phase::Cancelled);
                let r = go.then(|| {
                    let _done = InjectedDone;
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| injected(this)));
                    (crate::hooks::client().pump)();
                    r
                });
                world::leave_cpu();
                r
            });
        let handle = match handle {
            Ok(h) => h,
            Err(e) => panic!("ndis-emu: cannot start the interleaving's CPU: {e}"),
        };
        let v = {
            let _done = VictimDone;
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| victim(this)))
        };
        let i = handle.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        (v, i)
    });
    let run = {
        let mut g = lock();
        ARMED.store(false, Ordering::Release);
        g.take()
    };
    let victim = victim_result.unwrap_or_else(|e| std::panic::resume_unwind(e));
    let injected = injected_result.map(|r| r.unwrap_or_else(|e| std::panic::resume_unwind(e)));
    let (crossed, fired_at, went_free, injected_crossed, back_fired_at) =
        run.map_or((Vec::new(), None, false, Vec::new(), None), |r| {
            let free = r.phase == Phase::Free;
            (r.crossed, r.fired_at, free, r.injected_crossed, r.back_fired_at)
        });
    Interleaving {
        victim,
        injected,
        crossed,
        fired_at,
        went_free,
        injected_crossed,
        back_fired_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_matches_its_ddi_and_handler() {
        let at = At::ddi("KeAcquireSpinLockRaiseToDpc").inside("MiniportCoSendNetBufferLists");
        assert!(at.matches("KeAcquireSpinLockRaiseToDpc", &["MiniportCoSendNetBufferLists"]));
        assert!(at.matches(
            "KeAcquireSpinLockRaiseToDpc",
            &["MiniportCoSendNetBufferLists", "ProtocolCmCloseCall"]
        ));
        assert!(!at.matches("KeReleaseSpinLock", &["MiniportCoSendNetBufferLists"]));
        assert!(!at.matches("KeAcquireSpinLockRaiseToDpc", &["ProtocolCmCloseCall"]));
        assert!(!at.matches("KeAcquireSpinLockRaiseToDpc", &[]));
        assert!(At::boundary(3).matches("anything", &[]));
        assert_eq!(At::ddi("X").nth(2).nth, 2);
        assert_eq!(At::NEVER.nth, 0);
    }
}

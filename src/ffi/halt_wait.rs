//! [`HaltWait`]: what MiniportHaltEx waits for before it frees the adapter
//! context, as one count and one event (a field of the adapter context),
//! and [`Running`], a call-manager handler's share of the count.
//!
//! The count is what HaltEx must not free the adapter under: each
//! call-manager handler while it runs ([`HaltWait::running`], also outside
//! halt), and once HaltEx begins ([`HaltWait::begin`] sets [`HALTING`])
//! HaltEx itself while it notifies, and each AF the core decided to wait
//! for ([`HaltWait::hold`]). Each handler's end, each AF the core releases
//! (Effect::HaltAfDone) and the end of HaltEx's notifying take one off
//! ([`HaltWait::release`]); the one that leaves HALTING alone sets the
//! event. So HaltEx's wait cannot miss a release that came before it
//! started waiting, nor wake before the last one; and since an AF's
//! release happens inside a handler (or HaltEx), whose own count still
//! holds, the event is set only by a handler's very last act, never while
//! a handler is still running on the adapter (a client's
//! NdisClDeregisterSap may end a pended AF close and then still free the
//! SAP context on its CPU).
//!
//! Must not: know the adapter context that holds it, free anything, or be
//! taken on the data path (NDIS halts only a paused adapter with no send
//! or receive outstanding, so no data-path handler runs during halt).

use core::sync::atomic::{AtomicU32, Ordering};

use super::sync::Event;

/// The bit of [`HaltWait`]'s count set from MiniportHaltEx's start; the
/// bits below it count.
const HALTING: u32 = 1 << 31;

/// A call-manager handler running on the adapter (see
/// [`HaltWait::running`]): the adapter is not freed until it drops.
///
/// INVARIANT: holds one count of `wait`, taken when it was made and given
/// back exactly once, by its drop.
pub(crate) struct Running {
    wait: *const HaltWait,
}

impl Drop for Running {
    fn drop(&mut self) {
        // SAFETY: the count this guard holds keeps HaltEx from freeing the
        // adapter, and so the HaltWait inside it, until this call gives it
        // back (the invariant); the guard is dropped last in its handler,
        // so nothing touches the adapter after it.
        let _ = unsafe { HaltWait::release(self.wait) };
    }
}

/// What HaltEx waits for.
///
/// INVARIANT: the bits of `count` below [`HALTING`] are the live
/// [`Running`] guards plus, once HALTING is set, HaltEx's own count while
/// it notifies and the core's halt holds not yet released; `done` is set
/// only by the release that leaves HALTING alone, and HaltEx frees the
/// adapter only after its wait on `done` returned.
#[repr(C)]
pub(crate) struct HaltWait {
    count: AtomicU32,
    done: Event,
}

impl HaltWait {
    /// Storage for the wait, not yet initialized: it must be placed at its
    /// final address and [`Self::init`] called before use.
    pub(crate) const fn new() -> Self {
        Self {
            count: AtomicU32::new(0),
            done: Event::new(),
        }
    }

    /// Initializes the event. Runs at IRQL = PASSIVE_LEVEL.
    ///
    /// # Safety
    /// Called once, before any other method, with `self` at its final
    /// address (inside the adapter context, which never moves while it
    /// lives), and no CPU waiting on it.
    pub(crate) unsafe fn init(&self) {
        // SAFETY: Event::init's precondition: called once, here, before any
        // set or wait (`set_raw` comes only from `release` once `begin` set
        // HALTING, and the wait is HaltEx's, both after this: precondition),
        // with the event at its final address; no CPU is waiting on it.
        unsafe { self.done.init() };
    }

    /// MiniportHaltEx begins: from now on the count reaching [`HALTING`]
    /// alone sets the event; HaltEx counts itself until it has sent its
    /// notifications. Runs at PASSIVE_LEVEL.
    pub(crate) fn begin(&self) {
        self.count.fetch_add(HALTING + 1, Ordering::AcqRel);
    }

    /// Adds `holds` AFs for HaltEx to wait for. Called with the call manager
    /// locked, where the core decided them, so no release can come first.
    /// Runs at IRQL <= DISPATCH_LEVEL (under that spin lock).
    pub(crate) fn hold(&self, holds: u32) {
        self.count.fetch_add(holds, Ordering::AcqRel);
    }

    /// A call-manager handler starts running on the adapter: HaltEx does not
    /// free the adapter until the returned guard is dropped, which must be
    /// the handler's very last act (declare it first, so it drops last).
    /// Runs at IRQL <= DISPATCH_LEVEL, with or without a lock.
    pub(crate) fn running(&self) -> Running {
        self.count.fetch_add(1, Ordering::AcqRel);
        // INVARIANT: one count taken for this guard, given back by its drop.
        Running { wait: self }
    }

    /// One count is given back: a handler ended, halt's hold on an AF was
    /// released, or HaltEx finished notifying. The one that leaves
    /// [`HALTING`] alone sets the event. Returns false, touching nothing, if
    /// no count was held (a core or glue bug). Runs at IRQL <=
    /// DISPATCH_LEVEL, with no lock held.
    ///
    /// # Safety
    /// `this` is the HaltWait of a live adapter context. Setting the event
    /// lets MiniportHaltEx free that context on another CPU at once, so the
    /// caller gives back a count it holds (so the context lives until this
    /// call), holds no reference into the context across this call unless
    /// another count it holds keeps it alive, and otherwise does not touch
    /// it (or any context it owns) afterwards; this function reaches it
    /// only through `this`.
    pub(crate) unsafe fn release(this: *const Self) -> bool {
        // SAFETY: `this` is in a live context (precondition: the caller holds
        // a count, so HaltEx cannot free it before the fetch_update below);
        // this reference is last used by that fetch_update, before the set.
        let counter = unsafe { &(*this).count };
        let taken = counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n & !HALTING).checked_sub(1).map(|_| n - 1)
        });
        let Ok(before) = taken else {
            return false;
        };
        if before == HALTING + 1 {
            // SAFETY: still live: the caller's count kept it so until the
            // fetch_update (precondition), and HaltEx frees it only after its
            // wait on `done` returns, which needs the set below; a place
            // projection, no reference made.
            let event = unsafe { &raw const (*this).done };
            // SAFETY: the halt event of a live context, initialized by
            // `init`; nothing here touches the context after it
            // (precondition), since HaltEx may free it as soon as it is set.
            unsafe { Event::set_raw(event) };
        }
        true
    }

    /// Whether HaltEx has begun (for a completion that came outside halt).
    /// Any IRQL, no lock.
    pub(crate) fn halting(&self) -> bool {
        self.count.load(Ordering::Acquire) & HALTING != 0
    }

    /// MiniportHaltEx's wait for the event, without timeout. Runs at IRQL =
    /// PASSIVE_LEVEL with no lock held. TRUE once every count was given back.
    pub(crate) fn wait(&self) -> bool {
        self.done.wait_forever()
    }
}

//! The condition variable of the world lock: signalled whenever the
//! scheduler's state changes.
//!
//! It owns the signal only; the lock and what it guards are `crate::world`.
//! A leaf, so the state records (`crate::condis`) can wake waiters without
//! naming the world they are part of.

use std::sync::Condvar;

/// Signalled whenever the scheduler's state changes (something queued, set,
/// started or finished, time moved, shutdown, an NDIS event set, a client
/// answer queued for later): the threaded mode's worker threads,
/// `run_until_idle` and NdisWaitEvent wait on it.
pub(crate) static CHANGED: Condvar = Condvar::new();

/// Wakes every thread in `crate::world::wait_until`: the scheduler's state changed.
pub fn changed() {
    CHANGED.notify_all();
}

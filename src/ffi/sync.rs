//! `SpinLock<T>`: an `NDIS_SPIN_LOCK` that owns the data it protects, the
//! Rust-for-Linux way. The only way to the data is a guard, and dropping the
//! guard releases the lock. `NdisAcquireSpinLock` keeps the saved IRQL inside
//! the `NDIS_SPIN_LOCK` itself (its `OldIrql` field), so the guard needs no
//! copy of it.
//!
//! [`Event`]: an `NDIS_EVENT` (a notification event) the driver owns, set
//! from any CPU and waited for at PASSIVE_LEVEL.

use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use ndis_sys::{
    FALSE, NDIS_EVENT, NDIS_SPIN_LOCK, NdisAcquireSpinLock, NdisAllocateSpinLock, NdisFreeSpinLock,
    NdisInitializeEvent, NdisReleaseSpinLock, NdisSetEvent, NdisWaitEvent,
};

/// INVARIANT: `lock` is initialized by `NdisAllocateSpinLock` (in
/// [`SpinLock::init`]) before any guard exists, the value never moves
/// afterwards, and `data` is only reached through a [`SpinLockGuard`], which
/// exists only while `lock` is held.
pub(crate) struct SpinLock<T> {
    lock: UnsafeCell<NDIS_SPIN_LOCK>,
    data: UnsafeCell<T>,
}

// SAFETY: access to `data` is serialized by the NDIS spin lock (INVARIANT), so
// sharing the lock between CPUs is sound when T may move between threads.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: the lock owns its data; sending it sends the data.
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// A lock holding `value`, not yet initialized: it must be placed at its
    /// final address and [`Self::init`] called before [`Self::lock`].
    pub(crate) const fn new(value: T) -> Self {
        Self {
            lock: UnsafeCell::new(NDIS_SPIN_LOCK {
                SpinLock: 0,
                OldIrql: 0,
            }),
            data: UnsafeCell::new(value),
        }
    }

    /// Initializes the lock in place.
    ///
    /// # Safety
    /// 1. called once, before any [`Self::lock`], with the lock at the address
    ///    it keeps until [`Self::free`];
    /// 2. IRQL <= DISPATCH_LEVEL.
    pub(crate) unsafe fn init(&self) {
        // SAFETY: the lock sits at its final address and is not in use (1.).
        // INVARIANT: the lock is initialized before any guard can exist.
        unsafe { NdisAllocateSpinLock(self.lock.get()) };
    }

    /// Acquires the lock, raising to DISPATCH_LEVEL. Runs at IRQL <= DISPATCH_LEVEL.
    #[must_use = "the lock unlocks immediately when the guard is unused"]
    pub(crate) fn lock(&self) -> SpinLockGuard<'_, T> {
        // SAFETY: the lock is initialized (INVARIANT) and stays put.
        unsafe { NdisAcquireSpinLock(self.lock.get()) };
        SpinLockGuard {
            owner: self,
            _same_cpu: PhantomData,
        }
    }

    /// Releases the lock's resources.
    ///
    /// # Safety
    /// No guard exists and the lock is not used again.
    pub(crate) unsafe fn free(&self) {
        // SAFETY: initialized (INVARIANT), unused from now on (precondition).
        unsafe { NdisFreeSpinLock(self.lock.get()) };
    }
}

/// Holds the lock; derefs to the data. INVARIANT: exists only while
/// `owner.lock` is held by this CPU.
pub(crate) struct SpinLockGuard<'a, T> {
    owner: &'a SpinLock<T>,
    /// Makes the guard neither `Send` nor `Sync`: the NDIS spin lock must
    /// be released on the CPU that acquired it (NdisReleaseSpinLock restores
    /// that CPU's saved IRQL), so a guard may not be dropped on another
    /// thread.
    _same_cpu: PhantomData<*const ()>,
}

impl<T> Deref for SpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the lock is held (INVARIANT), so no other reference to the
        // data exists.
        unsafe { &*self.owner.data.get() }
    }
}

impl<T> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the lock is held (INVARIANT) and this guard is borrowed
        // mutably, so this is the only reference.
        unsafe { &mut *self.owner.data.get() }
    }
}

impl<T> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: this guard holds the lock (INVARIANT); release it once.
        unsafe { NdisReleaseSpinLock(self.owner.lock.get()) };
    }
}

/// An NDIS notification event in driver memory: once set it stays set, and
/// every wait on it returns at once (NdisInitializeEvent's page).
///
/// INVARIANT: [`Event::init`] ran (NdisInitializeEvent) before any
/// [`Event::set_raw`] or [`Event::wait_forever`], and the event does not move
/// afterwards (it lives inside a pool block, like the adapter context).
pub(crate) struct Event {
    event: UnsafeCell<NDIS_EVENT>,
}

// SAFETY: the NDIS_EVENT is only reached through the Ndis*Event DDIs, which
// the kernel serializes between CPUs (the dispatcher lock); Rust never reads
// or writes its bytes.
unsafe impl Sync for Event {}
// SAFETY: the NDIS_EVENT is plain storage that only the Ndis*Event DDIs
// touch, and a KEVENT belongs to no thread (any thread may set or wait on it),
// so the owner may hand the storage to another thread.
unsafe impl Send for Event {}

impl Event {
    /// Storage for an event, not yet initialized: it must be placed at its
    /// final address and [`Self::init`] called before use.
    pub(crate) const fn new() -> Self {
        Self {
            event: UnsafeCell::new(NDIS_EVENT::zeroed()),
        }
    }

    /// Initializes the event in place, not signalled. Runs at any IRQL.
    ///
    /// # Safety
    /// Called once, before any other use, with the event at the address it
    /// keeps for the rest of its life, and with no CPU waiting on it.
    pub(crate) unsafe fn init(&self) {
        // SAFETY: storage at its final address, not in use (precondition).
        // INVARIANT: initialized before any set or wait.
        unsafe { NdisInitializeEvent(self.event.get()) };
    }

    /// Sets the event, waking every waiter. Runs at IRQL <= DISPATCH_LEVEL.
    ///
    /// It takes a raw pointer, not `&self`, for the case where setting the
    /// event lets its waiter free the memory that holds it: no reference
    /// into that memory is alive across the call.
    ///
    /// # Safety
    /// `this` points to a live `Event`, and the caller does not touch the
    /// memory holding it after this call unless it knows the waiter has not
    /// freed it.
    pub(crate) unsafe fn set_raw(this: *const Self) {
        // SAFETY: `this` points to a live Event (precondition): a place
        // projection, no reference made.
        let event = UnsafeCell::raw_get(unsafe { &raw const (*this).event });
        // SAFETY: an initialized event (INVARIANT), alive until this call
        // returns (precondition); <= DISPATCH_LEVEL.
        unsafe { NdisSetEvent(event) };
    }

    /// Waits until the event is set, without timeout. Runs at IRQL =
    /// PASSIVE_LEVEL (NdisWaitEvent at any higher IRQL is a fatal error),
    /// with no spin lock held. TRUE once set; FALSE only where an unbounded
    /// wait can end without its event (ndis-emu's deadlock report).
    pub(crate) fn wait_forever(&self) -> bool {
        // SAFETY: initialized (INVARIANT); MsToWait 0 waits indefinitely;
        // PASSIVE_LEVEL is the caller's contract.
        unsafe { NdisWaitEvent(self.event.get(), 0) != FALSE }
    }
}

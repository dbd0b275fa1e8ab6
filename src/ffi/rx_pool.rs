//! [`RxPool`]: the adapter's receive NBLs (`super::data`'s module docs,
//! "Receive NBLs"): one NBL pool made at the first AF open, its NBLs on a
//! free list under its own spin lock, freed at MiniportHaltEx. The data
//! path takes from and puts back to the list; it never allocates.
//!
//! Must not: indicate, complete or read a send (the data path does), or
//! allocate anywhere but in [`RxPool::ensure`], which the data path never
//! calls.

use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use ndis_sys::*;

use super::nbl::{RxChain, RxNbl};
use super::sync::SpinLock;
use super::trace::ERROR;
use crate::pool::TAG_RX;

/// Receive NBLs per adapter, allocated at initialize.
pub(crate) const RX_NBLS: u32 = 256;
/// Under this many free receive NBLs, indications carry
/// NDIS_RECEIVE_FLAGS_RESOURCES.
pub(crate) const RX_LOW_WATER: u32 = 32;

/// The adapter's receive NBLs.
///
/// INVARIANT: `pool` is the NBL pool (or NULL) from [`Self::init`] until
/// [`Self::release`]; every NBL on the free list came from it and is
/// covmini's (not indicated).
pub(crate) struct RxPool {
    pool: AtomicPtr<core::ffi::c_void>,
    allocated: AtomicU32,
    free: SpinLock<RxChain>,
}

impl RxPool {
    pub(crate) const fn new() -> Self {
        Self {
            pool: AtomicPtr::new(null_mut()),
            allocated: AtomicU32::new(0),
            free: SpinLock::new(RxChain::new()),
        }
    }

    /// Initializes the free list's lock. Runs at IRQL = PASSIVE_LEVEL.
    ///
    /// # Safety
    /// Called once, from MiniportInitializeEx, with the pool at its final
    /// address.
    pub(crate) unsafe fn init(&self) {
        // SAFETY: at its final address, unused (precondition).
        unsafe { self.free.init() };
    }

    /// Makes the NBL pool and its NBLs, once: on the first AF open, so an
    /// adapter no client uses costs nothing (and never on the data path).
    ///
    /// # IRQL and locks
    /// Runs at IRQL <= DISPATCH_LEVEL (ProtocolCmOpenAf). The pool and its
    /// [`RX_NBLS`] NBLs are allocated with no lock held (no allocation
    /// loop under a spin lock, which would hold the CPU at DISPATCH_LEVEL
    /// for all of it); the free-list lock is taken only to publish them.
    /// Should two first opens race on two CPUs, the one that publishes
    /// second frees what it made, so the adapter keeps exactly one pool.
    pub(crate) fn ensure(&self, handle: NDIS_HANDLE) -> Result<(), NDIS_STATUS> {
        if !self.pool.load(Ordering::Acquire).is_null() {
            return Ok(());
        }
        let mut params = NET_BUFFER_LIST_POOL_PARAMETERS {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_DEFAULT,
                NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
                NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
            ),
            ProtocolId: NDIS_PROTOCOL_ID_DEFAULT,
            fAllocateNetBuffer: TRUE,
            ContextSize: 0,
            PoolTag: TAG_RX,
            DataSize: 0,
        };
        // SAFETY: the miniport handle and a parameter block alive for the call.
        let pool = unsafe { NdisAllocateNetBufferListPool(handle, &raw mut params) };
        if pool.is_null() {
            return Err(NDIS_STATUS_RESOURCES);
        }
        // A private list first, published below.
        let mut mine = RxChain::new();
        for _ in 0..RX_NBLS {
            // SAFETY: our pool (fAllocateNetBuffer, DataSize 0); no MDL yet.
            let nbl = unsafe { NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, null_mut(), 0, 0) };
            // SAFETY: NULL, or an NBL NDIS just made from covmini's receive
            // pool with its one NET_BUFFER: never indicated, and `nbl` is
            // dropped here, so the RxNbl alone names it.
            let Some(rx) = (unsafe { RxNbl::from_allocated(nbl) }) else {
                // Fewer NBLs: indications go with RESOURCES sooner.
                break;
            };
            mine.push(rx);
        }
        let count = mine.len();
        let lost = {
            let mut free = self.free.lock();
            if self.pool.load(Ordering::Acquire).is_null() {
                free.prepend(mine);
                self.allocated.fetch_add(count, Ordering::Relaxed);
                self.pool.store(pool, Ordering::Release);
                None
            } else {
                Some(mine)
            }
        };
        if let Some(mine) = lost {
            // Another CPU's first open won: give back what this one made.
            for rx in mine {
                // SAFETY: an NBL of `pool`, never indicated, that the chain
                // gave up: freed once, and not named again.
                unsafe { NdisFreeNetBufferList(rx.into_raw()) };
            }
            // SAFETY: every NBL of this pool was freed just above.
            unsafe { NdisFreeNetBufferListPool(pool) };
        }
        Ok(())
    }

    /// Frees the NBLs and the pool. Runs at IRQL = PASSIVE_LEVEL. Should an
    /// NBL still be lent (NDIS never returned it), pool and NBLs are leaked
    /// rather than freed under NDIS's feet.
    ///
    /// # Safety
    /// Called once, at halt (or a failed initialize after [`Self::init`]).
    pub(crate) unsafe fn release(&self) {
        let pool = self.pool.swap(null_mut(), Ordering::AcqRel);
        let out = {
            let free = self.free.lock();
            self.allocated.load(Ordering::Relaxed).saturating_sub(free.len())
        };
        if out > 0 {
            trace!(ERROR, "HaltEx: {} receive NBL(s) never returned: the pool is kept", out);
        } else {
            while let Some(rx) = self.take() {
                // SAFETY: an NBL of this pool, not indicated (INVARIANT), that
                // the free list gave up: freed once, and not named again.
                unsafe { NdisFreeNetBufferList(rx.into_raw()) };
            }
            if !pool.is_null() {
                // SAFETY: every NBL of the pool was freed just above.
                unsafe { NdisFreeNetBufferListPool(pool) };
            }
        }
        // SAFETY: no guard exists, the lock is not used again.
        unsafe { self.free.free() };
    }

    /// Empties `rx` (it forgets the sender's data and tags) and pushes it on
    /// the list.
    ///
    /// # Safety
    /// `rx` is one of this pool's NBLs (not another adapter's): the free list
    /// holds only those (INVARIANT), and they go back to this pool.
    pub(super) unsafe fn put(&self, mut rx: RxNbl) {
        rx.recycle();
        self.free.lock().push(rx);
    }

    pub(super) fn take(&self) -> Option<RxNbl> {
        self.free.lock().pop()
    }

    /// Takes `n` NBLs as one chain; None (nothing taken) if the list has
    /// fewer. Also says whether the list is now under the low water.
    pub(super) fn take_chain(&self, n: u32) -> Option<(RxChain, bool)> {
        let mut free = self.free.lock();
        let chain = free.split_front(n)?;
        Some((chain, free.len() < RX_LOW_WATER))
    }
}

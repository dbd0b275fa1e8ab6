//! `Lookaside<T>`: a nonpaged lookaside list of `T` contexts, one list per
//! kind of context, each with its own pool tag (contract §5, netvmini's
//! per-type tags). Created in MiniportInitializeEx, deleted in MiniportHaltEx.
//!
//! The `NPAGED_LOOKASIDE_LIST` is cache-aligned (64 bytes on x64, 128 on
//! ARM64) but the adapter context that holds it comes from pool, which only
//! promises 16 bytes, so the list lives at the first suitably aligned address
//! inside an over-sized byte buffer instead of being a field of its own type.

use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use core::ptr::NonNull;

use ndis_sys::*;

const LIST_ALIGN: usize = align_of::<NPAGED_LOOKASIDE_LIST>();
const LIST_SIZE: usize = size_of::<NPAGED_LOOKASIDE_LIST>();

// Entries come back from pool or the list 16-byte aligned (MEMORY_ALLOCATION_
// ALIGNMENT on x64/ARM64), so a context may not need more.
const ENTRY_ALIGN: usize = 16;

/// A lookaside list of `T`.
///
/// INVARIANT: between [`Self::init`] and [`Self::delete`] the list at
/// [`Self::list`] is initialized; the storage does not move in that time (it
/// is a field of the adapter context, which never moves).
pub(crate) struct Lookaside<T> {
    storage: UnsafeCell<[u8; LIST_SIZE + LIST_ALIGN]>,
    _items: PhantomData<T>,
}

// SAFETY: the list itself is interlocked (SLIST) and its statistics are
// updated atomically by the ndis-sys helpers; entries are plain memory. No
// `T: Send` bound: `alloc` moves a T in on one CPU and `free` may drop it on
// another, which holds for the only Ts (the call-manager contexts: nonpaged
// memory holding NDIS handles and the adapter pointer, valid on every CPU)
// but would not for a thread-bound T.
unsafe impl<T> Sync for Lookaside<T> {}
// SAFETY: the list header is kernel pool bookkeeping (an interlocked SLIST
// and counters), which any CPU may use; no entry is tied to the thread that
// allocated it (the contexts, as for Sync), so the owner may hand the list to
// another thread.
unsafe impl<T> Send for Lookaside<T> {}

impl<T> Lookaside<T> {
    const FITS: () = assert!(align_of::<T>() <= ENTRY_ALIGN && size_of::<T>() >= LOOKASIDE_MINIMUM_BLOCK_SIZE);

    /// Storage for a list, not yet initialized.
    pub(crate) const fn new() -> Self {
        let () = Self::FITS;
        Self {
            storage: UnsafeCell::new([0; LIST_SIZE + LIST_ALIGN]),
            _items: PhantomData,
        }
    }

    /// The list, at the first LIST_ALIGN-aligned address of the storage.
    fn list(&self) -> PNPAGED_LOOKASIDE_LIST {
        let base = self.storage.get().cast::<u8>();
        let misalign = base.addr() % LIST_ALIGN;
        let pad = if misalign == 0 { 0 } else { LIST_ALIGN - misalign };
        // pad < LIST_ALIGN, so the list ends inside the storage.
        base.wrapping_add(pad).cast()
    }

    /// Initializes the list for entries of `T` with `tag` (Flags 0, Depth 0,
    /// as the NdisInitializeNPagedLookasideList page asks).
    ///
    /// # Safety
    /// 1. called once, before any other method, with `self` at the address
    ///    it keeps until [`Self::delete`];
    /// 2. IRQL <= DISPATCH_LEVEL.
    pub(crate) unsafe fn init(&self, tag: ULONG) {
        // SAFETY: aligned storage of the list's size that stays put (1.); no
        // allocate/free routines (pool defaults); IRQL from 2.
        unsafe { NdisInitializeNPagedLookasideList(self.list(), None, None, 0, size_of::<T>(), tag, 0) };
    }

    /// An entry holding `value`, or None when pool is exhausted.
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(crate) fn alloc(&self, value: T) -> Option<NonNull<T>> {
        // SAFETY: the list is initialized (INVARIANT: alloc is only called
        // between init and delete, by the adapter that owns it).
        let raw = unsafe { NdisAllocateFromNPagedLookasideList(self.list()) };
        let entry = NonNull::new(raw.cast::<T>())?;
        // SAFETY: a fresh entry of size_of::<T>() bytes, 16-byte aligned
        // (ENTRY_ALIGN >= align_of::<T>(), checked by FITS), exclusively ours.
        unsafe { entry.as_ptr().write(value) };
        Some(entry)
    }

    /// Returns an entry to the list. Runs at IRQL <= DISPATCH_LEVEL.
    ///
    /// # Safety
    /// `entry` came from [`Self::alloc`] on this list and is not used after.
    pub(crate) unsafe fn free(&self, entry: NonNull<T>) {
        // SAFETY: a live T from alloc (precondition), dropped in place once.
        unsafe { entry.as_ptr().drop_in_place() };
        // SAFETY: the entry came from this initialized list (precondition).
        unsafe { NdisFreeToNPagedLookasideList(self.list(), entry.as_ptr().cast()) };
    }

    /// Deletes the list.
    ///
    /// # Safety
    /// Every entry was freed, nothing uses the list afterwards, and the
    /// caller runs at IRQL <= DISPATCH_LEVEL.
    pub(crate) unsafe fn delete(&self) {
        // SAFETY: initialized, all entries back (precondition).
        unsafe { NdisDeleteNPagedLookasideList(self.list()) };
    }
}

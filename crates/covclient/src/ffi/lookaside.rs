//! `Lookaside<T>`: a nonpaged lookaside list of `T` contexts, as covmini's
//! `src/ffi/lookaside.rs` (one list per kind of context, each with its own
//! pool tag), but for a `static`: covclient's lists are driver-wide,
//! initialized in DriverEntry before NdisRegisterProtocolDriver (binds may
//! start inside it) and deleted at unload after NdisDeregisterProtocolDriver
//! (every unbind has finished).
//!
//! The `NPAGED_LOOKASIDE_LIST` must be cache-aligned (64 bytes on x64, 128
//! on ARM64), which a static's type does not promise, so the list lives at
//! the first suitably aligned address inside an over-sized byte buffer.
//!
//! Must not: hand out an entry before `init` or after `delete`.

use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, Ordering};

use ndis_sys::*;

const LIST_ALIGN: usize = align_of::<NPAGED_LOOKASIDE_LIST>();
const LIST_SIZE: usize = size_of::<NPAGED_LOOKASIDE_LIST>();
/// Entries are 16-byte aligned (MEMORY_ALLOCATION_ALIGNMENT, x64 and ARM64).
const ENTRY_ALIGN: usize = 16;

/// A lookaside list of `T`.
///
/// INVARIANT: `ready` is true exactly between [`Self::init`] and
/// [`Self::delete`], while the list at [`Self::list`] is initialized; the
/// storage never moves (a static).
pub(super) struct Lookaside<T> {
    storage: UnsafeCell<[u8; LIST_SIZE + LIST_ALIGN]>,
    ready: AtomicBool,
    _items: PhantomData<T>,
}

// SAFETY: the list is interlocked (an SLIST, statistics updated atomically
// by the ndis-sys helpers) and `ready` is atomic; entries are nonpaged
// memory holding NDIS handles and plain data, valid on every CPU.
unsafe impl<T> Sync for Lookaside<T> {}

impl<T> Lookaside<T> {
    const FITS: () = assert!(align_of::<T>() <= ENTRY_ALIGN && size_of::<T>() >= LOOKASIDE_MINIMUM_BLOCK_SIZE);

    /// Storage for a list, not yet initialized.
    pub(super) const fn new() -> Self {
        let () = Self::FITS;
        Self {
            storage: UnsafeCell::new([0; LIST_SIZE + LIST_ALIGN]),
            ready: AtomicBool::new(false),
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

    /// Initializes the list for entries of `T` with `tag`.
    ///
    /// # IRQL
    /// PASSIVE_LEVEL (DriverEntry), before any other method.
    pub(super) fn init(&self, tag: ULONG) {
        if self.ready.load(Ordering::Acquire) {
            return;
        }
        // SAFETY: aligned storage of the list's size in a static, which
        // never moves; initialized once (`ready`); no allocate/free
        // routines, Depth 0, as the NdisInitializeNPagedLookasideList page
        // asks; PASSIVE_LEVEL.
        unsafe { NdisInitializeNPagedLookasideList(self.list(), None, None, 0, size_of::<T>(), tag, 0) };
        self.ready.store(true, Ordering::Release);
    }

    /// An entry holding `value`, or None (pool exhausted, or no list).
    ///
    /// # IRQL
    /// <= DISPATCH_LEVEL.
    pub(super) fn alloc(&self, value: T) -> Option<NonNull<T>> {
        if !self.ready.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: the list is initialized (`ready`, the invariant); <= DISPATCH_LEVEL.
        let raw = unsafe { NdisAllocateFromNPagedLookasideList(self.list()) };
        let entry = NonNull::new(raw.cast::<T>())?;
        // SAFETY: a fresh entry of size_of::<T>() bytes, 16-byte aligned
        // (FITS checks align_of::<T>() <= 16), exclusively ours.
        unsafe { entry.as_ptr().write(value) };
        Some(entry)
    }

    /// Returns an entry to the list.
    ///
    /// # IRQL
    /// <= DISPATCH_LEVEL.
    ///
    /// # Safety
    /// `entry` came from [`Self::alloc`] on this list and is not used after.
    pub(super) unsafe fn free(&self, entry: NonNull<T>) {
        // SAFETY: a live T from alloc (precondition), dropped in place once.
        unsafe { entry.as_ptr().drop_in_place() };
        // SAFETY: the entry came from this list, initialized since (an entry
        // exists only between init and delete); <= DISPATCH_LEVEL.
        unsafe { NdisFreeToNPagedLookasideList(self.list(), entry.as_ptr().cast()) };
    }

    /// Deletes the list.
    ///
    /// # IRQL
    /// PASSIVE_LEVEL (unload).
    ///
    /// # Safety
    /// Every entry was freed and nothing allocates from the list again.
    pub(super) unsafe fn delete(&self) {
        if !self.ready.swap(false, Ordering::AcqRel) {
            return;
        }
        // SAFETY: initialized (`ready` was true), all entries back
        // (precondition); PASSIVE_LEVEL.
        unsafe { NdisDeleteNPagedLookasideList(self.list()) };
    }
}

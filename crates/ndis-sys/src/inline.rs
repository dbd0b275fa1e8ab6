//! The FORCEINLINE routines and macros of ndis.h and wdm.h that covmini
//! uses, written out over the exports they compile to: the six
//! `Ndis*SpinLock` routines and the four nonpaged lookaside helpers.
//!
//! This file owns only those routines. The layouts they work on are in
//! [`crate::sync`] and [`crate::lookaside`], and the exports they call in
//! [`crate::imports`]; keeping the routines apart from the layouts is what
//! lets the imports' signatures name those layouts without an import circle.
//! Nothing here may be called by a name ndis.sys does not export: a C driver
//! built with a modern WDK imports exactly what these routines import.

use crate::imports::{
    ExDeleteNPagedLookasideList, ExInitializeNPagedLookasideList, ExQueryDepthSList, ExpInterlockedPopEntrySList,
    ExpInterlockedPushEntrySList, KeAcquireSpinLockAtDpcLevel, KeAcquireSpinLockRaiseToDpc, KeReleaseSpinLock,
    KeReleaseSpinLockFromDpcLevel, NdisGetVersion,
};
use crate::lookaside::{GENERAL_LOOKASIDE, PALLOCATE_FUNCTION, PFREE_FUNCTION, PNPAGED_LOOKASIDE_LIST, SLIST_HEADER};
use crate::miniport::NDIS_RUNTIME_VERSION_630;
use crate::sync::PNDIS_SPIN_LOCK;
use crate::types::*;
use core::mem::offset_of;
use core::sync::atomic::{AtomicU32, Ordering};

// --- Spin locks -----------------------------------------------------------------

/// The `SpinLock` member, the first field (offset 0, asserted above).
fn spin_lock(lock: PNDIS_SPIN_LOCK) -> *mut KSPIN_LOCK {
    lock.cast()
}

/// `NdisAllocateSpinLock` → `KeInitializeSpinLock`, whose inline form
/// (`KzInitializeSpinLock`) stores 0 \[H\].
///
/// # Safety
/// `lock` points to writable storage for an NDIS_SPIN_LOCK not in use.
#[inline]
pub unsafe fn NdisAllocateSpinLock(lock: PNDIS_SPIN_LOCK) {
    // SAFETY: writable and not in use (precondition).
    unsafe { (*lock).SpinLock = 0 };
}

/// `NdisFreeSpinLock`: "On the NT platform, there is nothing to do here" \[H\].
///
/// # Safety
/// `lock` is not held (kept for symmetry with the DDI's contract).
#[inline]
pub unsafe fn NdisFreeSpinLock(_lock: PNDIS_SPIN_LOCK) {}

/// `NdisAcquireSpinLock` → `KeAcquireSpinLock(&L->SpinLock, &L->OldIrql)`,
/// which on x64/ARM64 is `L->OldIrql = KeAcquireSpinLockRaiseToDpc(...)` \[H\].
///
/// # Safety
/// 1. `lock` was initialized with [`NdisAllocateSpinLock`] and is not held by
///    this CPU; 2. IRQL <= DISPATCH_LEVEL.
#[inline]
pub unsafe fn NdisAcquireSpinLock(lock: PNDIS_SPIN_LOCK) {
    // SAFETY: an initialized lock (1.); IRQL within the DDI's limit (2.).
    let old = unsafe { KeAcquireSpinLockRaiseToDpc(spin_lock(lock)) };
    // SAFETY: the lock is now held by this CPU, so OldIrql is ours to write.
    unsafe { (*lock).OldIrql = old };
}

/// `NdisReleaseSpinLock` → `KeReleaseSpinLock(&L->SpinLock, L->OldIrql)` \[H\].
///
/// # Safety
/// `lock` is held by this CPU through [`NdisAcquireSpinLock`].
#[inline]
pub unsafe fn NdisReleaseSpinLock(lock: PNDIS_SPIN_LOCK) {
    // SAFETY: held by this CPU (precondition), so OldIrql is stable.
    let old = unsafe { (*lock).OldIrql };
    // SAFETY: releases the lock this CPU holds, back to the saved IRQL.
    unsafe { KeReleaseSpinLock(spin_lock(lock), old) };
}

/// `NdisDprAcquireSpinLock` → `KeAcquireSpinLockAtDpcLevel` \[H\].
///
/// # Safety
/// An initialized lock not held by this CPU; IRQL = DISPATCH_LEVEL.
#[inline]
pub unsafe fn NdisDprAcquireSpinLock(lock: PNDIS_SPIN_LOCK) {
    // SAFETY: forwarded preconditions.
    unsafe { KeAcquireSpinLockAtDpcLevel(spin_lock(lock)) };
}

/// `NdisDprReleaseSpinLock` → `KeReleaseSpinLockFromDpcLevel` \[H\].
///
/// # Safety
/// Held by this CPU through [`NdisDprAcquireSpinLock`]; IRQL = DISPATCH_LEVEL.
#[inline]
pub unsafe fn NdisDprReleaseSpinLock(lock: PNDIS_SPIN_LOCK) {
    // SAFETY: forwarded preconditions.
    unsafe { KeReleaseSpinLockFromDpcLevel(spin_lock(lock)) };
}

// --- Nonpaged lookaside lists -------------------------------------------------

/// `NdisInitializeNPagedLookasideList` (ndis.h FORCEINLINE): ORs
/// `POOL_NX_ALLOCATION` into `Flags` when NDIS is 6.30 or later, then calls
/// `ExInitializeNPagedLookasideList` (contract §5).
///
/// # Safety
/// 1. `lookaside` points to writable, cache-aligned storage for a list that
///    stays at that address until [`NdisDeleteNPagedLookasideList`];
/// 2. the caller runs at IRQL <= DISPATCH_LEVEL.
#[inline]
pub unsafe fn NdisInitializeNPagedLookasideList(
    lookaside: PNPAGED_LOOKASIDE_LIST,
    allocate: Option<PALLOCATE_FUNCTION>,
    free: Option<PFREE_FUNCTION>,
    flags: ULONG,
    size: SIZE_T,
    tag: ULONG,
    depth: USHORT,
) {
    // SAFETY: NdisGetVersion has no preconditions beyond IRQL <= DISPATCH (2.).
    let version = unsafe { NdisGetVersion() };
    let flags = if version >= NDIS_RUNTIME_VERSION_630 {
        flags | POOL_NX_ALLOCATION
    } else {
        flags
    };
    // SAFETY: forwarded from this function's preconditions 1. and 2.
    unsafe { ExInitializeNPagedLookasideList(lookaside, allocate, free, flags, size, tag, depth) }
}

/// A pointer to the field at `offset` of the list (safe pointer arithmetic;
/// dereferencing it is the caller's business).
fn field<T>(lookaside: PNPAGED_LOOKASIDE_LIST, offset: usize) -> *mut T {
    lookaside.cast::<u8>().wrapping_add(offset).cast()
}

/// Adds one to a statistics counter of the list. The WDK's inline code does a
/// plain increment that may lose counts under contention; an atomic add is
/// the same field, updated without that race.
///
/// # Safety
/// `counter` points to a ULONG counter of an initialized list.
unsafe fn bump(counter: *mut ULONG) {
    // SAFETY: the counter is a valid, 4-byte aligned u32 (precondition) that
    // is only ever accessed atomically or by NDIS's own interlocked code.
    let counter = unsafe { AtomicU32::from_ptr(counter) };
    counter.fetch_add(1, Ordering::Relaxed);
}

/// `NdisAllocateFromNPagedLookasideList` → the pre-22H2 inline
/// `ExAllocateFromNPagedLookasideList` (contract §5): pop an entry, or count a
/// miss and call the list's Allocate routine.
///
/// # Safety
/// 1. `lookaside` was initialized by [`NdisInitializeNPagedLookasideList`] and
///    not yet deleted;
/// 2. the caller runs at IRQL <= DISPATCH_LEVEL.
#[inline]
pub unsafe fn NdisAllocateFromNPagedLookasideList(lookaside: PNPAGED_LOOKASIDE_LIST) -> PVOID {
    // SAFETY: TotalAllocates of an initialized list (1.).
    unsafe { bump(field(lookaside, offset_of!(GENERAL_LOOKASIDE, TotalAllocates))) };
    // SAFETY: the list head of an initialized list (1.); the pop is interlocked.
    let entry = unsafe { ExpInterlockedPopEntrySList(field(lookaside, offset_of!(GENERAL_LOOKASIDE, ListHead))) };
    if !entry.is_null() {
        return entry.cast();
    }
    // SAFETY: AllocateMisses of an initialized list (1.).
    unsafe { bump(field(lookaside, offset_of!(GENERAL_LOOKASIDE, AllocateMisses))) };
    // SAFETY: Allocate of an initialized list (1.), written once by
    // ExInitializeNPagedLookasideList and only read afterwards, so a plain
    // read races no writer.
    let allocate =
        unsafe { field::<Option<PALLOCATE_FUNCTION>>(lookaside, offset_of!(GENERAL_LOOKASIDE, Allocate)).read() };
    // SAFETY: Type of an initialized list (1.): written once at
    // initialization, never after, so the read races no writer.
    let ty = unsafe { field::<POOL_TYPE>(lookaside, offset_of!(GENERAL_LOOKASIDE, Type)).read() };
    // SAFETY: Size of an initialized list (1.): written once at
    // initialization, never after, so the read races no writer.
    let size = unsafe { field::<ULONG>(lookaside, offset_of!(GENERAL_LOOKASIDE, Size)).read() };
    // SAFETY: Tag of an initialized list (1.): written once at
    // initialization, never after, so the read races no writer.
    let tag = unsafe { field::<ULONG>(lookaside, offset_of!(GENERAL_LOOKASIDE, Tag)).read() };
    match allocate {
        // SAFETY: the list's Allocate routine (ExAllocatePoolWithTag when the
        // caller passed none) takes exactly these arguments; IRQL from 2.
        Some(allocate) => unsafe { allocate(ty, size as SIZE_T, tag) },
        None => core::ptr::null_mut(),
    }
}

/// `NdisFreeToNPagedLookasideList` → the pre-22H2 inline
/// `ExFreeToNPagedLookasideList` (contract §5): push the entry back unless the
/// list is at its depth, in which case count a miss and call Free.
///
/// # Safety
/// 1. `lookaside` was initialized and not yet deleted;
/// 2. `entry` came from [`NdisAllocateFromNPagedLookasideList`] on this list
///    and is not used after this call;
/// 3. the caller runs at IRQL <= DISPATCH_LEVEL.
#[inline]
pub unsafe fn NdisFreeToNPagedLookasideList(lookaside: PNPAGED_LOOKASIDE_LIST, entry: PVOID) {
    let head = field::<SLIST_HEADER>(lookaside, offset_of!(GENERAL_LOOKASIDE, ListHead));
    // SAFETY: TotalFrees of an initialized list (1.).
    unsafe { bump(field(lookaside, offset_of!(GENERAL_LOOKASIDE, TotalFrees))) };
    // SAFETY: the list head of an initialized list (1.).
    let depth = unsafe { ExQueryDepthSList(head) };
    // SAFETY: Depth of an initialized list; the system tunes it with a plain
    // 16-bit store, so a plain read sees an old or a new value, both valid.
    let max = unsafe { field::<USHORT>(lookaside, offset_of!(GENERAL_LOOKASIDE, Depth)).read_volatile() };
    if depth >= max {
        // SAFETY: FreeMisses of an initialized list (1.).
        unsafe { bump(field(lookaside, offset_of!(GENERAL_LOOKASIDE, FreeMisses))) };
        // SAFETY: Free is written once at initialization (1.).
        let free = unsafe { field::<Option<PFREE_FUNCTION>>(lookaside, offset_of!(GENERAL_LOOKASIDE, Free)).read() };
        if let Some(free) = free {
            // SAFETY: `entry` was allocated for this list (2.), whose Free
            // routine releases such blocks; IRQL from 3.
            unsafe { free(entry) };
        }
    } else {
        // SAFETY: `entry` is a block of at least LOOKASIDE_MINIMUM_BLOCK_SIZE
        // bytes owned by this list (2.), 16-byte aligned as pool blocks are.
        unsafe { ExpInterlockedPushEntrySList(head, entry.cast()) };
    }
}

/// `NdisDeleteNPagedLookasideList` → `ExDeleteNPagedLookasideList` \[H\].
///
/// # Safety
/// 1. `lookaside` was initialized and every entry allocated from it is freed;
/// 2. the caller runs at IRQL <= DISPATCH_LEVEL.
#[inline]
pub unsafe fn NdisDeleteNPagedLookasideList(lookaside: PNPAGED_LOOKASIDE_LIST) {
    // SAFETY: forwarded preconditions 1. and 2.
    unsafe { ExDeleteNPagedLookasideList(lookaside) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookaside::NPAGED_LOOKASIDE_LIST;

    /// The written-out helpers reach a list's fields by byte offset from the
    /// list's address: `bump` through `field` at each counter's `offset_of!`
    /// adds one to exactly the field of that name and to nothing else. Under
    /// Miri this also proves the projection stays inside the list and keeps
    /// its provenance (the run uses strict provenance), and that the atomic
    /// view of a plain ULONG field is aligned.
    #[test]
    fn each_counter_bump_lands_on_the_field_it_names() {
        let mut list = NPAGED_LOOKASIDE_LIST::zeroed();
        let l: PNPAGED_LOOKASIDE_LIST = &raw mut list;
        let counters = [
            offset_of!(GENERAL_LOOKASIDE, TotalAllocates),
            offset_of!(GENERAL_LOOKASIDE, AllocateMisses),
            offset_of!(GENERAL_LOOKASIDE, AllocateMisses),
            offset_of!(GENERAL_LOOKASIDE, TotalFrees),
            offset_of!(GENERAL_LOOKASIDE, FreeMisses),
            offset_of!(GENERAL_LOOKASIDE, FreeMisses),
            offset_of!(GENERAL_LOOKASIDE, FreeMisses),
        ];
        for offset in counters {
            // SAFETY: each offset is that of a ULONG counter of `list`, which
            // is live, 64-byte aligned, and not otherwise borrowed here.
            unsafe { bump(field(l, offset)) };
        }
        let g = &list.L;
        assert_eq!(
            (g.TotalAllocates, g.AllocateMisses, g.TotalFrees, g.FreeMisses),
            (1, 2, 1, 3)
        );
        let untouched = (g.Depth, g.MaximumDepth, g.Type, g.Tag, g.Size, g.LastTotalAllocates);
        assert_eq!(untouched, (0, 0, 0, 0, 0, 0));
        assert_eq!((g.ListHead.Alignment, g.ListHead.Region, g.Future), (0, 0, [0; 2]));
    }
}

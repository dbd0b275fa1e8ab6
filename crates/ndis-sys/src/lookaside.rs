//! Nonpaged lookaside lists (contract §5): `NPAGED_LOOKASIDE_LIST`, the
//! SLIST types, and the FORCEINLINE helpers of ndis.h/wdm.h written out.
//!
//! Why written out: `NdisInitializeNPagedLookasideList` is FORCEINLINE in the
//! modern WDK, and `ExAllocateFromNPagedLookasideList`/`ExFreeToNPaged...`
//! only became exports in Windows 11 22H2. A driver that imports them does not
//! load on Windows 10 1809, so these helpers touch the list fields directly,
//! exactly as the pre-22H2 inline code does, and import only
//! `ExpInterlockedPopEntrySList`, `ExpInterlockedPushEntrySList`,
//! `ExQueryDepthSList`, `ExInitializeNPagedLookasideList`,
//! `ExDeleteNPagedLookasideList` and `NdisGetVersion`.

use crate::imports::{
    ExDeleteNPagedLookasideList, ExInitializeNPagedLookasideList, ExQueryDepthSList, ExpInterlockedPopEntrySList,
    ExpInterlockedPushEntrySList, NdisGetVersion,
};
use crate::miniport::NDIS_RUNTIME_VERSION_630;
use crate::types::*;
use core::mem::offset_of;
use core::sync::atomic::{AtomicU32, Ordering};

/// `SLIST_HEADER` on x64/ARM64: 16 bytes, 16-byte aligned; the depth is the
/// low 16 bits of the first quadword \[H\].
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, Default)]
pub struct SLIST_HEADER {
    pub Alignment: ULONGLONG,
    pub Region: ULONGLONG,
}
pub type PSLIST_HEADER = *mut SLIST_HEADER;
assert_layout!(SLIST_HEADER, size = 16, align = 16, { Alignment: 0, Region: 8 });

/// `SLIST_ENTRY` on x64/ARM64: `DECLSPEC_ALIGN(16) { Next }` \[H\].
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug)]
pub struct SLIST_ENTRY {
    pub Next: *mut SLIST_ENTRY,
}
pub type PSLIST_ENTRY = *mut SLIST_ENTRY;
assert_layout!(SLIST_ENTRY, size = 16, align = 16, { Next: 0 });
/// `LOOKASIDE_MINIMUM_BLOCK_SIZE` = sizeof(SLIST_ENTRY) \[H\].
pub const LOOKASIDE_MINIMUM_BLOCK_SIZE: usize = core::mem::size_of::<SLIST_ENTRY>();

ndis_abi_fn_types! {
    /// `PALLOCATE_FUNCTION` (wdm.h) \[H\].
    pub type PALLOCATE_FUNCTION = fn(PoolType: POOL_TYPE, NumberOfBytes: SIZE_T, Tag: ULONG) -> PVOID;
    /// `PFREE_FUNCTION` (wdm.h) \[H\].
    pub type PFREE_FUNCTION = fn(Buffer: PVOID);
}

/// `GENERAL_LOOKASIDE` (wdm.h): `DECLSPEC_CACHEALIGN`, so 128 bytes on both
/// targets, aligned to SYSTEM_CACHE_ALIGNMENT_SIZE: 64 on x64, 128 on ARM64
/// \[H: WDK 10.0.17763 wdm.h\]; offsets from contract §5 \[H\].
#[cfg_attr(not(target_arch = "aarch64"), repr(C, align(64)))]
#[cfg_attr(target_arch = "aarch64", repr(C, align(128)))]
#[derive(Clone, Copy, Debug)]
pub struct GENERAL_LOOKASIDE {
    pub ListHead: SLIST_HEADER,
    pub Depth: USHORT,
    pub MaximumDepth: USHORT,
    pub TotalAllocates: ULONG,
    /// `union { AllocateMisses; AllocateHits; }`
    pub AllocateMisses: ULONG,
    pub TotalFrees: ULONG,
    /// `union { FreeMisses; FreeHits; }`
    pub FreeMisses: ULONG,
    pub Type: POOL_TYPE,
    pub Tag: ULONG,
    pub Size: ULONG,
    /// `union { Allocate; AllocateEx; }`
    pub Allocate: Option<PALLOCATE_FUNCTION>,
    /// `union { Free; FreeEx; }`
    pub Free: Option<PFREE_FUNCTION>,
    pub ListEntry: LIST_ENTRY,
    pub LastTotalAllocates: ULONG,
    /// `union { LastAllocateMisses; LastAllocateHits; }`
    pub LastAllocateMisses: ULONG,
    pub Future: [ULONG; 2],
}
#[cfg(not(target_arch = "aarch64"))]
assert_layout!(GENERAL_LOOKASIDE, size = 128, align = 64);
#[cfg(target_arch = "aarch64")]
assert_layout!(GENERAL_LOOKASIDE, size = 128, align = 128);
assert_layout!(GENERAL_LOOKASIDE, size = 128, {
    ListHead: 0, Depth: 16, MaximumDepth: 18, TotalAllocates: 20, AllocateMisses: 24,
    TotalFrees: 28, FreeMisses: 32, Type: 36, Tag: 40, Size: 44, Allocate: 48,
    Free: 56, ListEntry: 64, LastTotalAllocates: 80, LastAllocateMisses: 84, Future: 88,
});

/// `NPAGED_LOOKASIDE_LIST` on x64/ARM64: `{ GENERAL_LOOKASIDE L; }` (x86
/// appends an obsolete lock) \[H\].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NPAGED_LOOKASIDE_LIST {
    pub L: GENERAL_LOOKASIDE,
}
pub type PNPAGED_LOOKASIDE_LIST = *mut NPAGED_LOOKASIDE_LIST;
assert_layout!(NPAGED_LOOKASIDE_LIST, size = 128, { L: 0 });

impl NPAGED_LOOKASIDE_LIST {
    /// An all-zero list, for storage that `NdisInitializeNPagedLookasideList`
    /// then initializes in place.
    #[must_use]
    pub const fn zeroed() -> Self {
        Self {
            L: GENERAL_LOOKASIDE {
                ListHead: SLIST_HEADER {
                    Alignment: 0,
                    Region: 0,
                },
                Depth: 0,
                MaximumDepth: 0,
                TotalAllocates: 0,
                AllocateMisses: 0,
                TotalFrees: 0,
                FreeMisses: 0,
                Type: 0,
                Tag: 0,
                Size: 0,
                Allocate: None,
                Free: None,
                ListEntry: LIST_ENTRY {
                    Flink: core::ptr::null_mut(),
                    Blink: core::ptr::null_mut(),
                },
                LastTotalAllocates: 0,
                LastAllocateMisses: 0,
                Future: [0; 2],
            },
        }
    }
}

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
    // SAFETY: fields of an initialized list, written once by
    // ExInitializeNPagedLookasideList and only read afterwards (1.).
    let allocate =
        unsafe { field::<Option<PALLOCATE_FUNCTION>>(lookaside, offset_of!(GENERAL_LOOKASIDE, Allocate)).read() };
    // SAFETY: as above.
    let ty = unsafe { field::<POOL_TYPE>(lookaside, offset_of!(GENERAL_LOOKASIDE, Type)).read() };
    // SAFETY: as above.
    let size = unsafe { field::<ULONG>(lookaside, offset_of!(GENERAL_LOOKASIDE, Size)).read() };
    // SAFETY: as above.
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

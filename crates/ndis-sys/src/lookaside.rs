//! Nonpaged lookaside lists (contract §5): `NPAGED_LOOKASIDE_LIST` and the
//! SLIST types. The FORCEINLINE helpers of ndis.h/wdm.h that work on them
//! are written out in [`crate::inline`]; this file holds the layouts only, so
//! it depends on no import (the imports' signatures depend on it).
//!
//! Why the helpers are written out: `NdisInitializeNPagedLookasideList` is FORCEINLINE in the
//! modern WDK, and `ExAllocateFromNPagedLookasideList`/`ExFreeToNPaged...`
//! only became exports in Windows 11 22H2. A driver that imports them does not
//! load on Windows 10 1809, so these helpers touch the list fields directly,
//! exactly as the pre-22H2 inline code does, and import only
//! `ExpInterlockedPopEntrySList`, `ExpInterlockedPushEntrySList`,
//! `ExQueryDepthSList`, `ExInitializeNPagedLookasideList`,
//! `ExDeleteNPagedLookasideList` and `NdisGetVersion`.

use crate::types::*;

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

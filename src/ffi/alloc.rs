//! The global allocator of the kernel image cross-built on Linux (build 2):
//! nonpaged pool through NdisAllocateMemoryWithTagPriority, tag `CvmT`
//! ([`TAG_TABLE`]).
//!
//! Only the call manager's VC table allocates through it (`alloc::vec::Vec`
//! with `try_reserve`, so a refusal is an error and never a panic); every
//! context has its own lookaside list and tag instead. What it must not do:
//! be reached from the data path (the table allocates only when a VC is
//! created) or hand out memory aligned less than asked.
//!
//! * **Pool.** NdisAllocateMemoryWithTagPriority allocates from nonpaged
//!   pool [D]; NDIS 6.30 drivers get NX pool from it, as from the lookaside
//!   lists. The handle is the NdisMiniportDriverHandle, which the page names
//!   as valid ("the NDIS handle that it obtained from the
//!   NdisMRegisterMiniportDriver ... function"); with none (before
//!   registration, after unload) the allocation fails.
//! * **Alignment.** Pool blocks are aligned to MEMORY_ALLOCATION_ALIGNMENT
//!   (16 bytes on 64-bit Windows); a layout asking for more gets NULL (an
//!   allocation failure), never a misaligned block. Nothing covmini
//!   allocates needs more than 8.
//! * **IRQL.** Both DDIs run at IRQL <= DISPATCH_LEVEL, so the table may
//!   grow under the adapter's spin lock.
//!
//! The WDK build (build 3) keeps wdk-alloc's allocator (`ffi::runtime`),
//! whose tag is `rust`. The host build uses std's.

use core::alloc::{GlobalAlloc, Layout};

use ndis_sys::{NdisAllocateMemoryWithTagPriority, NdisFreeMemoryWithTagPriority, NormalPoolPriority, UINT};

use crate::pool::TAG_TABLE;

/// The pool's alignment guarantee on 64-bit Windows.
const POOL_ALIGNMENT: usize = 16;

/// The allocator; stateless (the driver handle is `entry`'s).
struct PoolAllocator;

// SAFETY: `alloc` returns NULL or a fresh pool block of at least
// `layout.size()` bytes aligned to POOL_ALIGNMENT >= `layout.align()`;
// `dealloc` frees exactly such a block, once (GlobalAlloc's contract on the
// caller), with the tag it was allocated with.
unsafe impl GlobalAlloc for PoolAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() > POOL_ALIGNMENT {
            return core::ptr::null_mut();
        }
        let Ok(size) = UINT::try_from(layout.size()) else {
            return core::ptr::null_mut();
        };
        let handle = super::entry::driver_handle();
        if handle.is_null() {
            return core::ptr::null_mut();
        }
        // SAFETY: a driver handle NDIS gave; IRQL <= DISPATCH_LEVEL (every
        // caller is a handler or runs under a spin lock); a non-zero size
        // (GlobalAlloc is never asked for zero bytes).
        unsafe { NdisAllocateMemoryWithTagPriority(handle, size, TAG_TABLE, NormalPoolPriority) }.cast()
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        let handle = super::entry::driver_handle();
        // SAFETY: `ptr` came from `alloc` above (GlobalAlloc's contract), so
        // it is a pool block with this tag; IRQL <= DISPATCH_LEVEL.
        unsafe { NdisFreeMemoryWithTagPriority(handle, ptr.cast(), TAG_TABLE) };
    }
}

#[global_allocator]
static ALLOCATOR: PoolAllocator = PoolAllocator;

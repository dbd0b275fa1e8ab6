//! Pool allocations beyond the ledger (`memory.ledger` in [`crate::rules`]
//! checks that every block is freed once, with its own tag): the tag itself.
//! Proving test: tests/teeth.rs.

use ndis_sys::ULONG;

use crate::world::World;

crate::define_rules! { MEMORY:
    MEMORY_TAG, "memory.tag", true, "NdisAllocateMemoryWithTagPriority [D]; ExAllocatePoolWithTag (each tag character in 0x20..=0x7E) [D]; DDI compliance rule NdisAllocateMemoryWithTagPriority", "memory_tag_fires_on_a_zero_tag",
        "NdisAllocateMemoryWithTagPriority gets a pool tag of four printable characters (never 0), so that the debugger and Driver Verifier can tell the driver's blocks apart.";
}

/// Checks the tag of an NdisAllocateMemoryWithTagPriority call (the
/// allocation goes ahead: Windows does not refuse it).
pub(crate) fn check_tag(w: &mut World, call: &'static str, tag: ULONG) {
    if !crate::nbl::printable_tag(tag) {
        w.violate(
            MEMORY_TAG,
            call,
            format!("pool tag {tag:#010x} is not four printable characters"),
            &[],
        );
    }
}

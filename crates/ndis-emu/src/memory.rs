//! Pool allocations beyond the ledger (`memory.ledger` in [`crate::rules`]
//! checks that every block is freed once, with its own tag): the tag itself.
//! Proving test: tests/teeth.rs.

use ndis_sys::ULONG;

use crate::world::World;

crate::define_rules! { MEMORY:
    MEMORY_TAG, "memory.tag", true, "NdisAllocateMemoryWithTagPriority [D]; ExAllocatePoolWithTag (each tag character in 0x20..=0x7E) [D]; DDI compliance rule NdisAllocateMemoryWithTagPriority", "memory_tag_fires_on_a_zero_tag",
        "NdisAllocateMemoryWithTagPriority gets a pool tag of four printable characters (never 0), so that the debugger and Driver Verifier can tell the driver's blocks apart.";
}

/// A pool tag is four printable ASCII characters (ExAllocatePoolWithTag:
/// "each ASCII character in the tag must be a value in the range 0x20
/// (space) to 0x7E (tilde)") [D].
pub(crate) fn printable_tag(tag: ULONG) -> bool {
    tag.to_le_bytes().iter().all(|b| (0x20..=0x7E).contains(b))
}

/// Checks the tag of an NdisAllocateMemoryWithTagPriority call (the
/// allocation goes ahead: Windows does not refuse it).
pub(crate) fn check_tag(w: &mut World, call: &'static str, tag: ULONG) {
    if !printable_tag(tag) {
        w.violate(
            MEMORY_TAG,
            call,
            format!("pool tag {tag:#010x} is not four printable characters"),
            &[],
        );
    }
}

/// Live allocations in `ledger` by pool tag: (tag, count, bytes), in tag
/// order.
pub(crate) fn by_tag(
    ledger: &std::collections::BTreeMap<usize, crate::world::Allocation>,
) -> Vec<(ULONG, usize, usize)> {
    let mut by: std::collections::BTreeMap<ULONG, (usize, usize)> = std::collections::BTreeMap::new();
    for a in ledger.values() {
        let e = by.entry(a.tag).or_default();
        e.0 += 1;
        e.1 += a.size;
    }
    by.into_iter().map(|(t, (n, b))| (t, n, b)).collect()
}

#[cfg(test)]
mod tests {
    use ndis_sys::pool_tag;

    use super::*;

    #[test]
    fn tags_must_be_printable() {
        assert!(printable_tag(pool_tag(b"CvmV")));
        assert!(!printable_tag(0));
        assert!(!printable_tag(pool_tag(b"ab\x01c")));
    }
}

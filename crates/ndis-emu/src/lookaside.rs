//! Nonpaged lookaside lists (contract §5): what the emulator knows of each
//! list the driver initialized, the rules of their use, and the leak check
//! at unload. The DDIs (ExInitializeNPagedLookasideList, the SList calls the
//! driver's inline allocate/free make, ExDeleteNPagedLookasideList) are in
//! `crate::ffi::lookaside`.
//!
//! The driver's inline code (ndis-sys `lookaside`) pops an entry from the
//! list head or, when the list is empty, calls the list's Allocate routine;
//! it frees by pushing the entry back or, when the list is at its depth,
//! calling the list's Free routine. The emulator sees all four, so it knows
//! every entry a list handed out ("outstanding" from its pop or Allocate
//! until its push or Free) and every entry cached on it:
//! * the list head is a real x64 SLIST_HEADER in the driver's list (depth in
//!   the low 16 bits of the first quadword, a sequence above it, the first
//!   entry in the second quadword) and cached entries are linked through
//!   their first pointer, as on Windows; the emulator keeps its own copy of
//!   both and checks the driver's memory against it;
//! * `Allocate` and `Free` in the list always hold the emulator's routines,
//!   which call the driver's own routines when it passed any (Windows stores
//!   the driver's routines, or ExAllocatePoolWithTag/ExFreePool, directly;
//!   the only difference a driver could see is the pointer value). The
//!   Allocate routine learns which list it serves from the pop that just
//!   came back empty on this thread (the inline code calls it next), or
//!   else from the list's tag and size;
//! * entries of the default Allocate are pool blocks in the memory ledger,
//!   tagged with the list's tag;
//! * cached entries are poisoned after their link, and checked when handed
//!   out again: a write after free is caught at the next allocation.
//!
//! ndis-emu models SLists only inside lookaside lists: a driver SList of
//! its own would need InitializeSListHead, which ndis-sys does not import.

use crate::trace::tag_str;
use crate::world::World;
pub use crate::world::lookaside::{ListRec, Lookasides};

crate::define_rules! { LOOKASIDE:
    LOOKASIDE_INIT, "lookaside.init", true, "§5; ExInitializeNPagedLookasideList, NdisInitializeNPagedLookasideList [D]", "lookaside_init_fires_on_a_nonzero_depth",
        "ExInitializeNPagedLookasideList gets a 16-byte aligned list that is not live already, Size >= LOOKASIDE_MINIMUM_BLOCK_SIZE, a tag of four printable characters, Depth 0 (reserved) and no Flags but POOL_NX_ALLOCATION, which NdisInitializeNPagedLookasideList adds itself (its own Flags and Depth must be 0).";
    LOOKASIDE_LIVE, "lookaside.live-list", true, "§5", "lookaside_live_list_fires_on_use_after_delete",
        "Allocations from, frees to and the deletion of a lookaside list (and the SList calls they make) name a list ExInitializeNPagedLookasideList initialized and that is not deleted yet.";
    LOOKASIDE_ENTRY, "lookaside.entry", true, "§5", "lookaside_entry_fires_on_a_double_free",
        "An entry goes back (pushed, or passed to the list's Free) only to the list it came from, once, while the driver holds it; entries are 16-byte aligned.";
    LOOKASIDE_INTACT, "lookaside.cached-entry-intact", true, "§5", "lookaside_cached_entry_intact_fires_on_a_write_after_free",
        "The driver writes neither an entry it freed to its list (until it allocates it again) nor the list head.";
    LOOKASIDE_DELETE_OUTSTANDING, "lookaside.delete-outstanding", true, "§5; ExDeleteNPagedLookasideList [D]", "lookaside_delete_outstanding_fires_with_an_entry_out",
        "ExDeleteNPagedLookasideList runs only after every entry allocated from the list was freed back to it.";
    LOOKASIDE_NOT_DELETED, "lookaside.not-deleted", false, "§1.4, §5, §8.10", "lookaside_not_deleted_fires_on_a_forgotten_list",
        "Every lookaside list is deleted before unload completes (Windows bug-checks with DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS).";
}

/// A live list, or `lookaside.live-list`.
pub(crate) fn live(w: &mut World, list: usize, call: &'static str) -> bool {
    if w.lookaside.lists.contains_key(&list) {
        return true;
    }
    let why = if w.lookaside.deleted.contains(&list) {
        format!("lookaside list {list:#x} was already deleted")
    } else if list == 0 {
        "a NULL lookaside list".to_string()
    } else {
        format!("{list:#x} is not a lookaside list ExInitializeNPagedLookasideList initialized (or its ListHead)")
    };
    w.violate(LOOKASIDE_LIVE, call, why, &[]);
    false
}

/// At unload: every lookaside list not deleted is a leak, reported with its
/// tag, and its entries (cached and outstanding) are accounted for by that
/// report rather than again as memory leaks. The list's own memory is not
/// touched (the driver may have freed it). Then the NBL pools' check.
pub(crate) fn leaks_at_unload(w: &mut World) {
    let lists = core::mem::take(&mut w.lookaside.lists);
    for (l, r) in lists {
        for e in r.cached.iter().chain(r.outstanding.iter()) {
            w.ledger.remove(e);
        }
        w.violate(
            LOOKASIDE_NOT_DELETED,
            "unload",
            format!(
                "lookaside list {l:#x}, tag {}, {}-byte entries, initialized in {}, was never deleted with NdisDeleteNPagedLookasideList ({} entries cached, {} allocated)",
                tag_str(r.tag),
                r.size,
                r.handler,
                r.cached.len(),
                r.outstanding.len()
            ),
            &[],
        );
    }
    crate::nbl::leaks_at_unload(w);
}

#[cfg(test)]
mod tests {

    use ndis_sys::*;

    use super::*;
    use crate::world::lookaside::intern;

    fn list(size: usize, tag: &[u8; 4]) -> ListRec {
        ListRec::new(
            size,
            pool_tag(tag),
            POOL_NX_ALLOCATION,
            (None, None),
            "MiniportInitializeEx",
        )
    }

    #[test]
    fn the_head_is_an_x64_slist_header() {
        let mut r = list(64, b"Test");
        r.cached = vec![0x1000, 0x2000];
        let head = r.update_head();
        assert_eq!(head[0] & 0xFFFF, 2, "depth in the low 16 bits");
        assert_eq!(head[0] >> 16, 1, "sequence above it");
        assert_eq!(head[1], 0x2000, "the first entry");
        assert_eq!(r.depth(), 2);
    }

    #[test]
    fn allocate_calls_are_paired_with_the_empty_pop_or_the_only_fitting_list() {
        let mut ls = Lookasides::default();
        ls.lists.insert(0x100, list(64, b"Aaaa"));
        ls.lists.insert(0x200, list(64, b"Aaaa"));
        ls.lists.insert(0x300, list(32, b"Bbbb"));
        assert_eq!(ls.allocating_list(Some(0x200), 64, pool_tag(b"Aaaa")), Some(0x200));
        assert_eq!(ls.allocating_list(None, 64, pool_tag(b"Aaaa")), None, "ambiguous");
        assert_eq!(ls.allocating_list(None, 32, pool_tag(b"Bbbb")), Some(0x300));
        assert_eq!(
            ls.allocating_list(Some(0x300), 64, pool_tag(b"Aaaa")),
            None,
            "pending list does not fit"
        );
        assert_eq!(ls.allocating_list(None, 16, pool_tag(b"Cccc")), None);
    }

    #[test]
    fn entries_are_explained() {
        let mut ls = Lookasides::default();
        let mut a = list(64, b"Aaaa");
        a.cached.push(0x10);
        a.outstanding.insert(0x20);
        ls.lists.insert(0x100, a);
        assert!(ls.why_not_outstanding(0x10, None).contains("freed twice"));
        assert!(
            ls.why_not_outstanding(0x20, Some(0x100))
                .contains("came from lookaside list 0x100")
        );
        assert!(ls.why_not_outstanding(0x30, None).contains("did not come from"));
        assert_eq!(ls.holder_of(0x20), Some(0x100));
        assert_eq!(ls.cache_of(0x10), Some(0x100));
    }

    #[test]
    fn a_list_left_at_unload_is_reported_once_with_its_tag() {
        let mut w = World::default();
        let mut r = list(64, b"Left");
        r.cached.push(0x5000);
        w.ledger.insert(
            0x5000,
            crate::world::Allocation {
                size: 64,
                tag: pool_tag(b"Left"),
                origin: r.origin,
            },
        );
        w.lookaside.lists.insert(0x100, r);
        leaks_at_unload(&mut w);
        assert_eq!(w.violations.len(), 1);
        assert_eq!(w.violations[0].rule, LOOKASIDE_NOT_DELETED);
        assert!(w.violations[0].detail.contains("tag Left"));
        assert!(w.ledger.is_empty(), "its entries are not reported again");
    }

    #[test]
    fn interned_strings_are_shared() {
        let a = intern("lookaside list X".to_string());
        let b = intern("lookaside list X".to_string());
        assert!(core::ptr::eq(a, b));
    }
}

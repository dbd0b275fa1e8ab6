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

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError};

use ndis_sys::*;

use crate::trace::tag_str;
use crate::world::{CpuId, World};

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

/// What the emulator knows of one live lookaside list.
#[derive(Clone, Debug)]
pub struct ListRec {
    /// The entry size (at least LOOKASIDE_MINIMUM_BLOCK_SIZE).
    pub size: usize,
    /// The pool tag of its entries.
    pub tag: ULONG,
    /// The Flags it was initialized with.
    pub flags: ULONG,
    /// The driver's own Allocate routine, if it passed one.
    pub allocate: Option<PALLOCATE_FUNCTION>,
    /// The driver's own Free routine, if it passed one.
    pub free: Option<PFREE_FUNCTION>,
    /// The handler that initialized it.
    pub handler: &'static str,
    /// The origin its default allocations carry in the ledger.
    pub origin: &'static str,
    /// Entries cached on the list, oldest first (the last is the first entry).
    pub cached: Vec<usize>,
    /// Entries handed out and not yet given back.
    pub outstanding: BTreeSet<usize>,
    /// The SLIST_HEADER the emulator last wrote into the list.
    pub head: [u64; 2],
    /// Its sequence number.
    pub sequence: u64,
}

impl ListRec {
    /// A fresh, empty list.
    #[must_use]
    pub(crate) fn new(
        size: usize,
        tag: ULONG,
        flags: ULONG,
        routines: (Option<PALLOCATE_FUNCTION>, Option<PFREE_FUNCTION>),
        handler: &'static str,
    ) -> Self {
        Self {
            size,
            tag,
            flags,
            allocate: routines.0,
            free: routines.1,
            handler,
            origin: intern(format!("lookaside list {} (initialized in {handler})", tag_str(tag))),
            cached: Vec::new(),
            outstanding: BTreeSet::new(),
            head: [0, 0],
            sequence: 0,
        }
    }

    /// The first cached entry (0: none).
    #[must_use]
    pub fn top(&self) -> usize {
        self.cached.last().copied().unwrap_or(0)
    }

    /// What ExQueryDepthSList reports.
    #[must_use]
    pub fn depth(&self) -> USHORT {
        (self.cached.len() & 0xFFFF) as USHORT
    }

    /// The x64 SLIST_HEADER for the cached entries: depth in bits 0-15 and
    /// the sequence above it, then the first entry (16-byte aligned, so its
    /// low four bits, which the header reserves, are zero).
    pub(crate) fn update_head(&mut self) -> [u64; 2] {
        self.sequence = (self.sequence + 1) & 0xFFFF_FFFF_FFFF;
        self.head = [u64::from(self.depth()) | (self.sequence << 16), self.top() as u64];
        self.head
    }
}

/// Every lookaside list the driver initialized.
#[derive(Debug, Default)]
pub struct Lookasides {
    /// Live lists, by address (the address of their ListHead).
    pub lists: BTreeMap<usize, ListRec>,
    /// Addresses of lists deleted and not initialized again.
    pub deleted: BTreeSet<usize>,
    /// By CPU, the list whose pop last came back empty there: the inline
    /// allocate calls that list's Allocate routine next, on the same CPU
    /// (in the threaded mode other CPUs pop and query meanwhile).
    pub pending_miss: BTreeMap<CpuId, usize>,
    /// By CPU, the list whose depth was last queried there: the inline free
    /// pushes to it or calls its Free routine next, on the same CPU.
    pub pending_query: BTreeMap<CpuId, usize>,
}

impl Lookasides {
    /// Forgets the pairing of a pop or query with the call that follows it
    /// on `cpu`.
    pub(crate) fn clear_pending(&mut self, cpu: CpuId) {
        self.pending_miss.remove(&cpu);
        self.pending_query.remove(&cpu);
    }

    /// The live list that handed out `entry` and has not got it back.
    #[must_use]
    pub fn holder_of(&self, entry: usize) -> Option<usize> {
        self.lists
            .iter()
            .find(|(_, r)| r.outstanding.contains(&entry))
            .map(|(&l, _)| l)
    }

    /// The live list `entry` is cached on.
    #[must_use]
    pub fn cache_of(&self, entry: usize) -> Option<usize> {
        self.lists
            .iter()
            .find(|(_, r)| r.cached.contains(&entry))
            .map(|(&l, _)| l)
    }

    /// The list an Allocate routine call of `size` bytes with `tag` serves:
    /// the one whose pop just came back empty (`pending`), or else the only
    /// live list of that size and tag.
    #[must_use]
    pub fn allocating_list(&self, pending: Option<usize>, size: usize, tag: ULONG) -> Option<usize> {
        let fits = |r: &ListRec| r.size == size && r.tag == tag;
        if let Some(l) = pending
            && self.lists.get(&l).is_some_and(fits)
        {
            return Some(l);
        }
        let mut matching = self.lists.iter().filter(|(_, r)| fits(r)).map(|(&l, _)| l);
        let first = matching.next()?;
        matching.next().is_none().then_some(first)
    }

    /// "list 0x… (tag T)".
    #[must_use]
    pub fn describe(&self, list: usize) -> String {
        match self.lists.get(&list) {
            Some(r) => format!("lookaside list {list:#x} (tag {})", tag_str(r.tag)),
            None => format!("lookaside list {list:#x}"),
        }
    }

    /// Why `entry` cannot go back: already cached somewhere, out from
    /// another list, or from no list at all.
    #[must_use]
    pub fn why_not_outstanding(&self, entry: usize, to: Option<usize>) -> String {
        let cached = self.cache_of(entry);
        let to = to
            .filter(|&l| Some(l) != cached)
            .map_or(String::new(), |l| format!(" (freed to {})", self.describe(l)));
        match (cached, self.holder_of(entry)) {
            (Some(l), _) => format!(
                "entry {entry:#x} is already cached on {}: freed twice{to}",
                self.describe(l)
            ),
            (None, Some(l)) => format!("entry {entry:#x} came from {}{to}", self.describe(l)),
            (None, None) => format!("entry {entry:#x} did not come from any live lookaside list{to}"),
        }
    }
}

/// A `&'static str` for `s`, shared by equal strings (ledger origins are
/// static; the set of distinct ones is small: tag × handler).
pub(crate) fn intern(s: String) -> &'static str {
    static SET: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut set = SET.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(&found) = set.get(s.as_str()) {
        return found;
    }
    let leaked: &'static str = Box::leak(s.into_boxed_str());
    set.insert(leaked);
    leaked
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
    use super::*;

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

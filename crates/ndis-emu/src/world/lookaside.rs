//! The lookaside lists' state (a field of the world): what the emulator
//! knows of each list the driver initialized, and the pairing of a pop or
//! depth query with the call that follows it on a CPU.
//!
//! It owns that state only; the rules of lookaside lists and the leak check
//! are `crate::lookaside`, the DDIs `crate::ffi::lookaside`. A leaf of the
//! world: it must not name the world nor anything that does.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError};

use ndis_sys::*;

use super::base::CpuId;
use crate::trace::tag_str;

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

//! A growable table of objects addressed by a dense `u32` index: the VC
//! table of the call manager, which has to hold anything from one VC to
//! hundreds of thousands.
//!
//! What it owns: the slots, a free list threaded through the vacant ones,
//! and the count of occupied ones. Every operation is O(1): lookup is two
//! bounds-checked index steps, insert pops the free list (or appends),
//! remove pushes onto it. Nothing here panics: every access is `get`/
//! `get_mut`, and growth uses `try_reserve_exact`, so running out of memory
//! is an [`TableError::NoMemory`] the caller turns into
//! NDIS_STATUS_RESOURCES.
//!
//! # Why chunks rather than one `Vec`
//!
//! The slots live in fixed-size chunks ([`CHUNK_SLOTS`] slots each, a few
//! kilobytes: a small-pool allocation in the kernel), allocated one at a
//! time as the table fills and never moved. One flat `Vec` would also be
//! amortized O(1), but each doubling allocates one contiguous block twice
//! the old one and copies every slot into it, with the caller's spin lock
//! held: at 100k VCs that is a multi-megabyte nonpaged allocation (which
//! fragmentation can refuse) and a multi-megabyte copy at DISPATCH_LEVEL.
//! With chunks the largest allocation is the chunk directory (one pointer-
//! sized header per chunk) and growth copies nothing but that directory.
//!
//! What it must not do: allocate anywhere but [`Table::insert`] (lookups and
//! removals are allocation-free, so the data path can use them), or give
//! memory back before it is dropped: chunks stay allocated at the table's
//! high-water mark until the adapter halts.

use alloc::vec::Vec;

/// Slots per chunk: 64 VC slots (40 bytes each) are 2.5 KB, under a page.
pub const CHUNK_SLOTS: usize = 64;

/// Why an insert failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableError {
    /// The table holds its limit of objects.
    Full,
    /// The pool refused a new chunk (or the directory's growth).
    NoMemory,
}

/// One slot: an object, or a link in the free list.
#[derive(Clone, Copy, Debug)]
enum Entry<T> {
    Occupied(T),
    /// Vacant; the next vacant slot, if any.
    Vacant(Option<u32>),
}

/// The table.
///
/// INVARIANT: every chunk but the last holds exactly `chunk` entries and
/// every chunk has capacity for `chunk` (so `push` into one never
/// reallocates); `free` and the `Vacant` links form a list of distinct
/// vacant slots; `len` counts the `Occupied` ones; `slots() <= limit`.
#[derive(Debug)]
pub struct Table<T> {
    chunks: Vec<Vec<Entry<T>>>,
    free: Option<u32>,
    len: usize,
    chunk: usize,
    limit: usize,
}

impl<T> Table<T> {
    /// Memory one slot costs at the default chunk size: the slot itself
    /// plus its share (rounded up) of its chunk's entry in the directory.
    pub const BYTES_PER_SLOT: usize =
        core::mem::size_of::<Entry<T>>() + core::mem::size_of::<Vec<Entry<T>>>().div_ceil(CHUNK_SLOTS);

    /// An empty table of at most `limit` objects; allocates nothing.
    #[must_use]
    pub const fn new(limit: usize) -> Self {
        Self::with_chunk(CHUNK_SLOTS, limit)
    }

    /// As [`Self::new`], with `chunk` slots per chunk (tests use odd sizes).
    /// A `chunk` of 0 makes every insert fail with `NoMemory`.
    #[must_use]
    pub const fn with_chunk(chunk: usize, limit: usize) -> Self {
        Self {
            chunks: Vec::new(),
            free: None,
            len: 0,
            chunk,
            limit,
        }
    }

    /// How many objects it holds.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds none.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Slots allocated so far (occupied or vacant): the high-water mark
    /// rounded up to a chunk.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.chunks.len().saturating_mul(self.chunk)
    }

    fn slots(&self) -> usize {
        let full = self.chunks.len().saturating_sub(1).saturating_mul(self.chunk);
        full.saturating_add(self.chunks.last().map_or(0, Vec::len))
    }

    fn entry(&self, id: u32) -> Option<&Entry<T>> {
        let i = usize::try_from(id).ok()?;
        self.chunks
            .get(i.checked_div(self.chunk)?)?
            .get(i.checked_rem(self.chunk)?)
    }

    fn entry_mut(&mut self, id: u32) -> Option<&mut Entry<T>> {
        let i = usize::try_from(id).ok()?;
        let chunk = self.chunk;
        self.chunks
            .get_mut(i.checked_div(chunk)?)?
            .get_mut(i.checked_rem(chunk)?)
    }

    /// The object at `id`, if that slot is occupied.
    #[must_use]
    pub fn get(&self, id: u32) -> Option<&T> {
        match self.entry(id)? {
            Entry::Occupied(v) => Some(v),
            Entry::Vacant(_) => None,
        }
    }

    /// The object at `id`, mutably, if that slot is occupied.
    pub fn get_mut(&mut self, id: u32) -> Option<&mut T> {
        match self.entry_mut(id)? {
            Entry::Occupied(v) => Some(v),
            Entry::Vacant(_) => None,
        }
    }

    /// Stores `value` and returns its id: the most recently freed slot if
    /// there is one, else a new one (allocating a chunk when the last is
    /// full). On error the table is unchanged and `value` is dropped.
    pub fn insert(&mut self, value: T) -> Result<u32, TableError> {
        if self.len >= self.limit {
            return Err(TableError::Full);
        }
        if let Some(id) = self.free {
            let entry = self.entry_mut(id).ok_or(TableError::NoMemory)?;
            let Entry::Vacant(next) = *entry else {
                // The free list names an occupied slot: broken invariant.
                // Refuse rather than overwrite.
                return Err(TableError::NoMemory);
            };
            *entry = Entry::Occupied(value);
            self.free = next;
            self.len += 1;
            return Ok(id);
        }
        let id = u32::try_from(self.slots()).map_err(|_| TableError::Full)?;
        if self.chunk == 0 {
            return Err(TableError::NoMemory);
        }
        let last_full = self.chunks.last().is_none_or(|c| c.len() >= self.chunk);
        if last_full {
            let mut chunk = Vec::new();
            chunk.try_reserve_exact(self.chunk).map_err(|_| TableError::NoMemory)?;
            self.chunks.try_reserve(1).map_err(|_| TableError::NoMemory)?;
            self.chunks.push(chunk);
        }
        let last = self.chunks.last_mut().ok_or(TableError::NoMemory)?;
        // INVARIANT: len < chunk <= capacity: this push does not reallocate.
        last.push(Entry::Occupied(value));
        self.len += 1;
        Ok(id)
    }

    /// Takes the object out of `id`; its slot goes on the free list.
    pub fn remove(&mut self, id: u32) -> Option<T> {
        let free = self.free;
        let entry = self.entry_mut(id)?;
        if let Entry::Vacant(_) = entry {
            return None;
        }
        let Entry::Occupied(value) = core::mem::replace(entry, Entry::Vacant(free)) else {
            return None;
        };
        self.free = Some(id);
        self.len = self.len.saturating_sub(1);
        Some(value)
    }

    /// Every object with its id, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &T)> {
        self.chunks.iter().flatten().enumerate().filter_map(|(i, e)| match e {
            Entry::Occupied(v) => Some((u32::try_from(i).ok()?, v)),
            Entry::Vacant(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn inserts_get_dense_ids_and_lookups_find_them_across_chunks() {
        let mut t = Table::with_chunk(4, 100);
        let ids: Vec<u32> = (0..10).map(|v| t.insert(v * 10).unwrap()).collect();
        assert_eq!(ids, (0..10).collect::<Vec<u32>>());
        assert_eq!(t.len(), 10);
        assert_eq!(t.capacity(), 12, "three chunks of four");
        for id in ids {
            assert_eq!(t.get(id), Some(&(id * 10)));
        }
        assert_eq!(t.get(10), None, "a slot of the last chunk never used");
        assert_eq!(t.get(12), None, "past the last chunk");
        assert_eq!(t.get(u32::MAX), None);
    }

    #[test]
    fn freed_slots_are_reused_last_freed_first_without_growing() {
        let mut t = Table::with_chunk(4, 100);
        for v in 0..8 {
            t.insert(v).unwrap();
        }
        assert_eq!(t.remove(2), Some(2));
        assert_eq!(t.remove(6), Some(6));
        assert_eq!(t.remove(6), None, "a second remove finds nothing");
        assert_eq!(t.get(2), None);
        assert_eq!(t.len(), 6);
        assert_eq!(t.insert(60).unwrap(), 6);
        assert_eq!(t.insert(20).unwrap(), 2);
        assert_eq!(t.capacity(), 8, "reuse allocated nothing");
        assert_eq!(t.insert(80).unwrap(), 8, "then a new slot");
        assert_eq!(t.capacity(), 12);
        assert_eq!(t.get(6), Some(&60));
    }

    #[test]
    fn get_mut_changes_the_stored_object() {
        let mut t = Table::new(10);
        let id = t.insert(1).unwrap();
        *t.get_mut(id).unwrap() = 5;
        assert_eq!(t.get(id), Some(&5));
        t.remove(id);
        assert!(t.get_mut(id).is_none());
    }

    #[test]
    fn iter_yields_occupied_slots_in_id_order() {
        let mut t = Table::with_chunk(2, 100);
        for v in 0..5 {
            t.insert(v).unwrap();
        }
        t.remove(1);
        t.remove(3);
        let seen: Vec<(u32, i32)> = t.iter().map(|(i, v)| (i, *v)).collect();
        assert_eq!(seen, [(0, 0), (2, 2), (4, 4)]);
    }

    #[test]
    fn a_full_table_refuses_and_stays_unchanged() {
        let mut t = Table::with_chunk(4, 3);
        for v in 0..3 {
            t.insert(v).unwrap();
        }
        assert_eq!(t.insert(9), Err(TableError::Full));
        assert_eq!(t.len(), 3);
        t.remove(0);
        assert_eq!(t.insert(9), Ok(0), "room again after a remove");
    }

    #[test]
    fn a_refused_allocation_is_an_error_not_a_panic() {
        // A chunk of usize::MAX / 4 u64 slots overflows isize: try_reserve
        // refuses it, exactly as a pool that has no memory left would.
        let mut t: Table<u64> = Table::with_chunk(usize::MAX / 4, 10);
        assert_eq!(t.insert(1), Err(TableError::NoMemory));
        assert_eq!((t.len(), t.capacity()), (0, 0));
        let mut z: Table<u64> = Table::with_chunk(0, 10);
        assert_eq!(z.insert(1), Err(TableError::NoMemory));
    }

    /// `n` objects (`n` even) inserted, every other one removed, then as many
    /// inserted again: they take the freed slots and the table does not grow.
    fn fill_halve_refill(n: u32) {
        let mut t = Table::new(1 << 20);
        for v in 0..n {
            assert_eq!(t.insert(v).unwrap(), v);
        }
        assert_eq!(t.len(), n as usize);
        for v in (0..n).step_by(2) {
            assert_eq!(t.remove(v), Some(v));
        }
        assert_eq!(t.len(), n as usize / 2);
        let cap = t.capacity();
        for _ in 0..n / 2 {
            let id = t.insert(7).unwrap();
            assert_eq!(id % 2, 0, "a freed (even) slot");
        }
        assert_eq!(t.capacity(), cap, "no growth while freed slots remain");
        assert_eq!(t.iter().count(), n as usize);
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "150k inserts take minutes under Miri; a_thousand_objects_then_half_removed_and_reinserted is its Miri-sized variant"
    )]
    fn one_hundred_thousand_objects_then_all_removed_and_reinserted() {
        fill_halve_refill(100_000);
    }

    /// The Miri-sized variant of the 100k-object test: a thousand objects
    /// still span chunks, and every refill takes a freed slot.
    #[test]
    fn a_thousand_objects_then_half_removed_and_reinserted() {
        fill_halve_refill(1_000);
    }
}

//! A fixed table of objects addressed by covclient-abi [`Handle`]s: the
//! slots of one kind (adapters, AFs, SAPs, VCs or parties), each with a
//! generation that moves on every time the slot is freed, so a handle to a
//! freed object (stale) or one another open of the device owns (foreign)
//! is refused with STATUS_INVALID_HANDLE instead of used.
//!
//! Owns: the slots and their generations. Must not: allocate (the size is a
//! const parameter: the whole core is one nonpaged allocation), panic, or
//! decide what an object may do (that is `state`).

use covclient_abi::{Handle, HandleKind};

/// One open of the control device (a file object), numbered by the core
/// (here, with the tables that record each object's owner).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileId(pub u32);

/// Why a handle names no object here (every case is STATUS_INVALID_HANDLE,
/// docs/covclient-ioctl.md "Handles").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Another kind's handle (the parser checks kinds; this is the table's
    /// own guard).
    WrongKind,
    /// An index past the table.
    NoSlot,
    /// The slot is free, or its generation moved on: the handle is stale.
    Stale,
    /// The object belongs to another open of the device.
    Foreign,
}

/// One slot.
#[derive(Clone, Copy, Debug)]
struct Slot<T> {
    generation: u16,
    /// The object and the open that owns it (`None`: driver-wide, such as
    /// an adapter).
    object: Option<(Option<FileId>, T)>,
}

/// The table.
///
/// INVARIANT: a handle this table returned names slot `index` with the
/// slot's generation at the time; freeing the slot moves the generation on
/// (wrapping after 65536 frees of one slot, the ABI's 16 bits).
#[derive(Debug)]
pub struct Table<T, const N: usize> {
    kind: HandleKind,
    slots: [Slot<T>; N],
}

impl<T: Copy, const N: usize> Table<T, N> {
    /// An empty table of `kind` handles.
    #[must_use]
    pub const fn new(kind: HandleKind) -> Self {
        Self {
            kind,
            slots: [Slot {
                generation: 0,
                object: None,
            }; N],
        }
    }

    /// Stores `object` owned by `owner`; its handle, or `None` when full.
    pub fn insert(&mut self, owner: Option<FileId>, object: T) -> Option<Handle> {
        let (index, slot) = self.slots.iter_mut().enumerate().find(|(_, s)| s.object.is_none())?;
        slot.object = Some((owner, object));
        let index = u32::try_from(index).ok()?;
        Some(Handle::new(self.kind, index, slot.generation))
    }

    fn slot(&self, h: Handle) -> Result<&Slot<T>, Lookup> {
        if h.kind() != self.kind {
            return Err(Lookup::WrongKind);
        }
        let slot = self.slots.get(h.index() as usize).ok_or(Lookup::NoSlot)?;
        if slot.generation != h.generation() || slot.object.is_none() {
            return Err(Lookup::Stale);
        }
        Ok(slot)
    }

    /// The object `h` names, if `file` may use it (its owner, or nobody's).
    pub fn get(&self, h: Handle, file: Option<FileId>) -> Result<&T, Lookup> {
        match &self.slot(h)?.object {
            Some((owner, object)) if owner.is_none() || file.is_none() || *owner == file => Ok(object),
            Some(_) => Err(Lookup::Foreign),
            None => Err(Lookup::Stale),
        }
    }

    /// As [`Self::get`], mutable.
    pub fn get_mut(&mut self, h: Handle, file: Option<FileId>) -> Result<&mut T, Lookup> {
        self.slot(h)?;
        match self.slots.get_mut(h.index() as usize).and_then(|s| s.object.as_mut()) {
            Some((owner, object)) if owner.is_none() || file.is_none() || *owner == file => Ok(object),
            Some(_) => Err(Lookup::Foreign),
            None => Err(Lookup::Stale),
        }
    }

    /// The owner of the object `h` names.
    pub fn owner(&self, h: Handle) -> Result<Option<FileId>, Lookup> {
        self.slot(h)?.object.map(|(o, _)| o).ok_or(Lookup::Stale)
    }

    /// Frees the slot `h` names and moves its generation on; the object.
    pub fn remove(&mut self, h: Handle) -> Result<T, Lookup> {
        self.slot(h)?;
        let slot = self.slots.get_mut(h.index() as usize).ok_or(Lookup::NoSlot)?;
        let (_, object) = slot.object.take().ok_or(Lookup::Stale)?;
        slot.generation = slot.generation.wrapping_add(1);
        Ok(object)
    }

    /// Every live object: handle, owner, object.
    pub fn iter(&self) -> impl Iterator<Item = (Handle, Option<FileId>, &T)> {
        let kind = self.kind;
        self.slots.iter().enumerate().filter_map(move |(i, s)| {
            let (owner, object) = s.object.as_ref()?;
            let index = u32::try_from(i).ok()?;
            Some((Handle::new(kind, index, s.generation), *owner, object))
        })
    }

    /// How many objects are live.
    #[must_use]
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.object.is_some()).count()
    }

    /// No object is live.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves a freed slot's old handle is refused as stale after the slot
    /// is reused, and the new handle differs from the old.
    #[test]
    fn stale_handle_refused_after_reuse() {
        let mut t: Table<u8, 2> = Table::new(HandleKind::Vc);
        let a = t.insert(Some(FileId(1)), 7).unwrap();
        assert_eq!(t.remove(a), Ok(7));
        let b = t.insert(Some(FileId(1)), 8).unwrap();
        assert_eq!(a.index(), b.index());
        assert_ne!(a, b);
        assert_eq!(t.get(a, Some(FileId(1))), Err(Lookup::Stale));
        assert_eq!(t.get(b, Some(FileId(1))), Ok(&8));
        assert_eq!(t.remove(a), Err(Lookup::Stale));
    }

    /// Proves another open's object is refused, a driver-wide one is not,
    /// a full table says so, and an index past the end is refused.
    #[test]
    fn foreign_full_and_out_of_range() {
        let mut t: Table<u8, 1> = Table::new(HandleKind::Sap);
        let a = t.insert(Some(FileId(1)), 1).unwrap();
        assert_eq!(t.get(a, Some(FileId(2))), Err(Lookup::Foreign));
        assert_eq!(t.get_mut(a, Some(FileId(2))).err(), Some(Lookup::Foreign));
        assert_eq!(t.insert(None, 2), None);
        let past = Handle::new(HandleKind::Sap, 5, 0);
        assert_eq!(t.get(past, None), Err(Lookup::NoSlot));
        let wrong = Handle::new(HandleKind::Vc, 0, 0);
        assert_eq!(t.get(wrong, None), Err(Lookup::WrongKind));
        let mut g: Table<u8, 1> = Table::new(HandleKind::Adapter);
        let ad = g.insert(None, 3).unwrap();
        assert_eq!(g.get(ad, Some(FileId(9))), Ok(&3));
        assert_eq!(t.len(), 1);
        assert!(!t.is_empty());
    }

    /// Proves the generation wraps instead of overflowing.
    #[test]
    fn generation_wraps() {
        let mut t: Table<u8, 1> = Table::new(HandleKind::Party);
        let mut last = None;
        for _ in 0..=u16::MAX as u32 + 1 {
            let h = t.insert(None, 0).unwrap();
            last = Some(h);
            t.remove(h).unwrap();
        }
        assert_eq!(last.unwrap().generation(), 0);
    }
}

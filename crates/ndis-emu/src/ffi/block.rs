//! The raw memory under the NBL object model: the blocks NDIS allocates for
//! NBLs, NET_BUFFERs, MDLs, contexts and data ([`Block`]), and reads of
//! memory the emulator knows is live ([`Known`], [`read`], [`read_bytes`]).
//!
//! It owns that memory and the unsafe reads of it (the FFI seam). It must
//! not name the world nor the NBL registry (`crate::world::nbl`), which
//! name it: what is live comes in as [`Known`]'s two maps.
#![allow(unsafe_code)]

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::collections::BTreeMap;
use std::fmt;
use std::ptr::NonNull;

use ndis_sys::*;

use super::zero::ZeroValid;
use crate::world::base::Allocation;

// SAFETY: a repr(C) struct of raw pointers, integers and arrays of raw
// pointers (NblReserved, NetBufferListInfo).
unsafe impl ZeroValid for NET_BUFFER_LIST {}
// SAFETY: a repr(C) struct of raw pointers, integers (SIZE_T, ULONG, USHORT,
// the i64 NDIS_PHYSICAL_ADDRESS) and NblReserved arrays of raw pointers.
unsafe impl ZeroValid for NET_BUFFER {}
// SAFETY: a repr(C) struct of raw pointers and integers (CSHORT, USHORT,
// ULONG).
unsafe impl ZeroValid for MDL {}
// SAFETY: a repr(C) struct of an NDIS_OBJECT_HEADER and integers (UCHAR,
// BOOLEAN = u8, USHORT, ULONG).
unsafe impl ZeroValid for NET_BUFFER_LIST_POOL_PARAMETERS {}
// SAFETY: integers.
unsafe impl ZeroValid for usize {}
// SAFETY: integers.
unsafe impl ZeroValid for u32 {}
// SAFETY: integers.
unsafe impl ZeroValid for u16 {}

/// A zeroed `T`.
pub(crate) fn zeroed<T: ZeroValid>() -> T {
    // SAFETY: all-zero bytes are a valid T (ZeroValid's promise).
    unsafe { core::mem::MaybeUninit::<T>::zeroed().assume_init() }
}

/// A block of host memory NDIS allocated and owns: an NBL, a NET_BUFFER, an
/// MDL, a context or data. The driver gets its address; the block is freed
/// when dropped.
///
/// INVARIANT: `ptr` was returned by `alloc_zeroed(layout)` and is freed only
/// by `Drop`.
pub(crate) struct Block {
    ptr: NonNull<u8>,
    layout: Layout,
}

impl fmt::Debug for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Block({:#x}, {} bytes)", self.addr(), self.size())
    }
}

impl Block {
    /// `size` zeroed bytes aligned to `align` (at least one byte).
    pub(crate) fn zeroed(size: usize, align: usize) -> Option<Self> {
        let layout = Layout::from_size_align(size.max(1), align).ok()?;
        // SAFETY: the layout has a non-zero size.
        let p = unsafe { alloc_zeroed(layout) };
        NonNull::new(p).map(|ptr| Self { ptr, layout })
    }

    /// Its address, as the driver sees it.
    pub(crate) fn addr(&self) -> usize {
        self.ptr.as_ptr() as usize
    }

    /// Its size in bytes.
    pub(crate) fn size(&self) -> usize {
        self.layout.size()
    }

    /// Writes `value` at `offset`; false (nothing written) if it does not fit.
    pub(crate) fn write<T: Copy>(&mut self, offset: usize, value: T) -> bool {
        if offset
            .checked_add(core::mem::size_of::<T>())
            .is_none_or(|e| e > self.size())
        {
            return false;
        }
        let p = self.ptr.as_ptr().wrapping_add(offset).cast::<T>();
        // SAFETY: in bounds of this live allocation (checked); unaligned write.
        unsafe { p.write_unaligned(value) };
        true
    }

    /// Reads a `T` at `offset`; None if it does not fit.
    pub(crate) fn read<T: ZeroValid>(&self, offset: usize) -> Option<T> {
        if offset
            .checked_add(core::mem::size_of::<T>())
            .is_none_or(|e| e > self.size())
        {
            return None;
        }
        let p = self.ptr.as_ptr().wrapping_add(offset).cast::<T>();
        // SAFETY: in bounds of this live allocation (checked); any bytes are
        // a valid T (ZeroValid); unaligned read.
        Some(unsafe { p.read_unaligned() })
    }

    /// Copies `bytes` in at `offset`; false (nothing written) if they do not fit.
    pub(crate) fn copy_in(&mut self, offset: usize, bytes: &[u8]) -> bool {
        if offset.checked_add(bytes.len()).is_none_or(|e| e > self.size()) {
            return false;
        }
        let p = self.ptr.as_ptr().wrapping_add(offset);
        // SAFETY: in bounds of this live allocation (checked); `bytes` is a
        // Rust slice, which never points into a block the emulator owns.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
        true
    }

    /// Fills the whole block with `byte`.
    pub(crate) fn fill(&mut self, byte: u8) {
        // SAFETY: the whole of this live allocation.
        unsafe { self.ptr.as_ptr().write_bytes(byte, self.size()) };
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        // SAFETY: allocated by alloc_zeroed with this layout and freed only
        // here (the type's invariant).
        unsafe { dealloc(self.ptr.as_ptr(), self.layout) };
    }
}

/// Reads a `T` at `addr` if the emulator knows `[addr, addr + size)` is live.
pub(crate) fn read<T: ZeroValid>(k: &Known<'_>, addr: usize) -> Option<T> {
    if !k.contains(addr, core::mem::size_of::<T>()) {
        return None;
    }
    // SAFETY: the range lies inside a live block NDIS owns or a live NDIS
    // allocation of the driver's (Known's promise); any bytes are a valid T
    // (ZeroValid); unaligned read.
    Some(unsafe { (addr as *const T).read_unaligned() })
}

/// Copies `len` bytes at `addr` if the emulator knows the range is live.
pub(crate) fn read_bytes(k: &Known<'_>, addr: usize, len: usize) -> Option<Vec<u8>> {
    if !k.contains(addr, len) {
        return None;
    }
    let mut out = vec![0; len];
    // SAFETY: the range is live memory (Known's promise) and `out` is a
    // fresh vector of `len` bytes, so the two do not overlap.
    unsafe { core::ptr::copy_nonoverlapping(addr as *const u8, out.as_mut_ptr(), len) };
    Some(out)
}

/// The memory the emulator may read on the driver's word: its own NBL
/// blocks and the driver's live allocations in the ledger.
pub(crate) struct Known<'a> {
    ledger: &'a BTreeMap<usize, Allocation>,
    blocks: &'a BTreeMap<usize, usize>,
}

impl<'a> Known<'a> {
    /// The memory of these NBL blocks (address to size) and these ledger
    /// allocations.
    pub(crate) fn new(blocks: &'a BTreeMap<usize, usize>, ledger: &'a BTreeMap<usize, Allocation>) -> Self {
        Self { ledger, blocks }
    }

    /// `[addr, addr + len)` lies inside one live block or allocation.
    pub(crate) fn contains(&self, addr: usize, len: usize) -> bool {
        let Some(end) = addr.checked_add(len) else {
            return false;
        };
        let within = |start: usize, size: usize| addr >= start && start.checked_add(size).is_some_and(|e| end <= e);
        self.blocks
            .range(..=addr)
            .next_back()
            .is_some_and(|(&s, &n)| within(s, n))
            || self
                .ledger
                .range(..=addr)
                .next_back()
                .is_some_and(|(&s, a)| within(s, a.size))
    }
}

//! Safe views over the data path's NDIS structures: NET_BUFFER_LIST chains,
//! single NBLs, their NET_BUFFERs and the MDL fields a NET_BUFFER points at.
//!
//! # What this module owns
//! Every raw pointer walk and field access of covmini's data path
//! (`super::data`): walking an NBL chain (reading each `Next` *before*
//! unlinking the NBL, so completing or lending one never loses the rest),
//! walking an NBL's NET_BUFFERs, reading DataLength, re-pointing a receive
//! NBL's own NET_BUFFER at a sender's MDLs (MdlChain, CurrentMdl,
//! CurrentMdlOffset, DataOffset, DataLength), Status, SourceHandle, and the
//! two MiniportReserved slots covmini uses:
//!
//! | NBL       | `MiniportReserved[0]`          | `MiniportReserved[1]`      |
//! |-----------|--------------------------------|----------------------------|
//! | a send    | receive NBLs out (its shares)  | the sending VC's token     |
//! | a receive | the send NBL whose data it lends | the receiving VC's token |
//!
//! Both slots are only reached atomically: returns run on several CPUs.
//!
//! Each type states what it holds in an `// INVARIANT:`. The only way in is
//! an `unsafe fn` constructor whose numbered `# Safety` list is what the
//! caller (the FFI seam in `super::data`) guarantees about a pointer NDIS or
//! covmini's pool handed it; every method after that is safe.
//!
//! # What it must not do
//! Call NDIS (the calls and their IRQL rules stay in `super::data`), take a
//! lock, allocate, copy a payload byte, or panic. Everything here is plain
//! memory access and runs at whatever IRQL its caller does (<=
//! DISPATCH_LEVEL on the data path).
//!
//! Field layouts are ndis-sys's (`ndis_sys::nbl`, asserted there against the
//! WDK's); nothing here guesses an offset.

use core::marker::PhantomData;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicPtr, AtomicUsize};

use ndis_sys::{NDIS_HANDLE, NDIS_STATUS, NET_BUFFER, NET_BUFFER_LIST, PNET_BUFFER, PNET_BUFFER_LIST};

/// A NET_BUFFER's DataLength: the low 32 bits of its
/// `union { ULONG DataLength; SIZE_T stDataLength; }` (little-endian).
pub(crate) fn data_length(nb: &NET_BUFFER) -> u32 {
    // CAST: masked to 32 bits first.
    (nb.stDataLength & 0xFFFF_FFFF) as u32
}

/// Which MiniportReserved slot (the table in the module docs).
#[derive(Clone, Copy)]
enum Slot {
    First = 0,
    Second = 1,
}

/// One NBL covmini holds: the private core of every type below.
///
/// INVARIANT: `0` points to a live NET_BUFFER_LIST that covmini holds (NDIS
/// handed it over and it is not completed, or it is from covmini's receive
/// pool and not indicated) for as long as this value exists, and no other
/// `Nbl` names it. Its holder alone reaches its fields, except
/// MiniportReserved, which other CPUs may reach too, always atomically
/// (module docs).
struct Nbl(NonNull<NET_BUFFER_LIST>);

impl Nbl {
    /// # Safety
    /// 1. `nbl` points to a live NBL that covmini holds until this value (or
    ///    whatever it is turned into) gives it up;
    /// 2. no other `Nbl` names it meanwhile; other CPUs reach at most its
    ///    MiniportReserved slots, atomically.
    unsafe fn new(nbl: NonNull<NET_BUFFER_LIST>) -> Self {
        // INVARIANT: preconditions 1 and 2.
        Self(nbl)
    }
    fn raw(&self) -> PNET_BUFFER_LIST {
        self.0.as_ptr()
    }
    fn next(&self) -> PNET_BUFFER_LIST {
        // SAFETY: a live NBL covmini holds (INVARIANT); `Next` is only
        // written by its holder, which is borrowed here.
        unsafe { (*self.raw()).Next }
    }
    fn set_next(&mut self, next: PNET_BUFFER_LIST) {
        // SAFETY: a live NBL covmini holds alone (INVARIANT), borrowed
        // mutably: nothing else reads `Next` now.
        unsafe { (*self.raw()).Next = next };
    }
    fn first_net_buffer(&self) -> PNET_BUFFER {
        // SAFETY: a live NBL covmini holds (INVARIANT); FirstNetBuffer is
        // not written while covmini holds it.
        unsafe { (*self.raw()).FirstNetBuffer }
    }
    fn set_status(&mut self, status: NDIS_STATUS) {
        // SAFETY: a live NBL covmini holds alone (INVARIANT), borrowed
        // mutably; `Status` is read by NDIS only after the completion.
        unsafe { (*self.raw()).Status = status };
    }
    fn set_source_handle(&mut self, handle: NDIS_HANDLE) {
        // SAFETY: a live NBL covmini holds alone (INVARIANT), borrowed
        // mutably; NDIS reads SourceHandle only once it is indicated.
        unsafe { (*self.raw()).SourceHandle = handle };
    }
    /// The address of a MiniportReserved slot (no read or write).
    fn slot(&self, slot: Slot) -> *mut PNET_BUFFER_LIST {
        // SAFETY: a live NBL (INVARIANT): the address of one of its fields,
        // taken without reading it or making a reference.
        let slots = unsafe { &raw mut (*self.raw()).MiniportReserved.0 };
        // In bounds: `Slot` is 0 or 1 of the two PVOID slots.
        slots.cast::<PNET_BUFFER_LIST>().wrapping_add(slot as usize)
    }
    /// A slot holding a number (a count or a VC token).
    fn word(&self, slot: Slot) -> &AtomicUsize {
        let p = self.slot(slot).cast::<usize>();
        // SAFETY: a PVOID slot of a live NBL (INVARIANT), valid for as long
        // as `self` is borrowed, pointer-sized and pointer-aligned as
        // AtomicUsize needs, and only ever reached atomically (INVARIANT).
        unsafe { AtomicUsize::from_ptr(p) }
    }
    /// A slot holding an NBL's address.
    fn pointer(&self, slot: Slot) -> &AtomicPtr<NET_BUFFER_LIST> {
        let p = self.slot(slot);
        // SAFETY: a PVOID slot of a live NBL (INVARIANT), valid for as long
        // as `self` is borrowed, pointer-sized and aligned, and only ever
        // reached atomically (INVARIANT).
        unsafe { AtomicPtr::from_ptr(p) }
    }
    /// The NBL's NET_BUFFERs, read-only, for as long as `self` is borrowed.
    fn net_buffers(&self) -> NetBuffers<'_> {
        // INVARIANT: the NET_BUFFER chain of an NBL covmini holds, which
        // nobody writes while it does (the types that hand this out say so).
        NetBuffers {
            next: self.first_net_buffer(),
            _nbl: PhantomData,
        }
    }
}

/// The NET_BUFFERs of an NBL covmini holds, read-only.
///
/// INVARIANT: `next` is NULL or a live NET_BUFFER of a NULL-terminated chain
/// that nobody writes for `'a`.
pub(crate) struct NetBuffers<'a> {
    next: PNET_BUFFER,
    _nbl: PhantomData<&'a NET_BUFFER>,
}

impl<'a> Iterator for NetBuffers<'a> {
    type Item = &'a NET_BUFFER;
    fn next(&mut self) -> Option<&'a NET_BUFFER> {
        // SAFETY: NULL, or live and unwritten for 'a (INVARIANT), so a shared
        // reference for 'a is sound.
        let nb = unsafe { self.next.as_ref() }?;
        // INVARIANT: the next of a NULL-terminated chain.
        self.next = nb.Next;
        Some(nb)
    }
}

/// A walk over a chain's NBLs that does not unlink them.
///
/// INVARIANT: `next` is NULL or a live NBL of a NULL-terminated chain that
/// covmini holds alone for `'a`.
struct Walk<'a> {
    next: PNET_BUFFER_LIST,
    _chain: PhantomData<&'a mut NET_BUFFER_LIST>,
}

impl Iterator for Walk<'_> {
    type Item = Nbl;
    fn next(&mut self) -> Option<Nbl> {
        let p = NonNull::new(self.next)?;
        // SAFETY: an NBL of a chain covmini holds alone (INVARIANT); the
        // `Nbl` is the only one naming it until the next step, which reads
        // `Next` through it first.
        let nbl = unsafe { Nbl::new(p) };
        self.next = nbl.next();
        Some(nbl)
    }
}

mod rx;
mod send;
#[cfg(test)]
mod tests;

pub(crate) use rx::{Returned, RxChain, RxNbl};
pub(crate) use send::{AfterIndication, Completions, LentSend, SendChain, SendNbl};

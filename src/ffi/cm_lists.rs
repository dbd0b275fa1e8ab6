//! [`CmLists`]: the adapter's lookaside lists of the call manager's
//! contexts and of the VCs' call blocks, one list per kind, each with its
//! own pool tag (contract §5, netvmini's per-type tags). A field of the
//! adapter context: written and initialized by MiniportInitializeEx,
//! deleted by MiniportHaltEx (or a failed initialize).
//!
//! Must not: decide when a context or block is taken or given back (the
//! handlers and `super::effects` do), or be used outside init..delete.

use core::mem::offset_of;

use super::call_block::CallBlock;
use super::cm_context::{AfContext, PartyContext, SapContext, VcContext};
use super::lookaside::Lookaside;
use crate::pool::{TAG_AF, TAG_CALL, TAG_PARTY, TAG_SAP, TAG_VC};

/// One lookaside list per kind of call-manager context, and the call
/// blocks'.
///
/// INVARIANT: between [`Self::init`] and [`Self::delete`] every list is
/// initialized, at an address that does not move (a field of the adapter
/// context, which never moves).
pub(crate) struct CmLists {
    pub(super) afs: Lookaside<AfContext>,
    pub(super) saps: Lookaside<SapContext>,
    pub(super) vcs: Lookaside<VcContext>,
    pub(super) parties: Lookaside<PartyContext>,
    /// The call blocks of the VCs that carry a call (never the data path's).
    pub(super) calls: Lookaside<CallBlock>,
}

/// The field at `offset` of the lists at `p`, as a `*mut T` (pointer
/// arithmetic only: nothing is read or written).
fn field<T>(p: *mut CmLists, offset: usize) -> *mut T {
    p.cast::<u8>().wrapping_add(offset).cast()
}

impl CmLists {
    /// Writes the lists' storage at `p`, one list at a time (as one value
    /// the five would be a kilobyte-sized stack temporary). Runs at IRQL =
    /// PASSIVE_LEVEL.
    ///
    /// # Safety
    /// `p` is writable and 16-byte aligned for a `CmLists` (inside a fresh
    /// adapter context), and no other CPU can reach it.
    pub(super) unsafe fn write(p: *mut Self) {
        // SAFETY: `p` is writable and aligned for Self (precondition), so its
        // `afs` field is, which a Lookaside<AfContext> (16-byte aligned at
        // most, a byte buffer) fits, at its offset; nothing to drop.
        unsafe { field::<Lookaside<AfContext>>(p, offset_of!(Self, afs)).write(Lookaside::new()) };
        // SAFETY: `p` is writable and aligned for Self (precondition), so its
        // `saps` field is, at its offset, of the written type; nothing to drop.
        unsafe { field::<Lookaside<SapContext>>(p, offset_of!(Self, saps)).write(Lookaside::new()) };
        // SAFETY: `p` is writable and aligned for Self (precondition), so its
        // `vcs` field is, at its offset, of the written type; nothing to drop.
        unsafe { field::<Lookaside<VcContext>>(p, offset_of!(Self, vcs)).write(Lookaside::new()) };
        // SAFETY: `p` is writable and aligned for Self (precondition), so its
        // `parties` field is, at its offset, of the written type; nothing to drop.
        unsafe { field::<Lookaside<PartyContext>>(p, offset_of!(Self, parties)).write(Lookaside::new()) };
        // SAFETY: `p` is writable and aligned for Self (precondition), so its
        // `calls` field is, at its offset, of the written type; nothing to drop.
        unsafe { field::<Lookaside<CallBlock>>(p, offset_of!(Self, calls)).write(Lookaside::new()) };
    }

    /// Initializes every list, each with its tag.
    ///
    /// # Safety
    /// Called once, from the adapter context's `allocate` in
    /// MiniportInitializeEx (PASSIVE_LEVEL), before any handler can take
    /// from a list (NDIS has no context yet), with the lists at their final
    /// address inside the adapter's pool block, which is freed only after
    /// [`Self::delete`].
    pub(super) unsafe fn init(&self) {
        // SAFETY: Lookaside::init 1: called once, here, before any `alloc`
        // (AF opens come through NDIS, which has no context yet), at its
        // final address (precondition); 2: PASSIVE_LEVEL (precondition).
        unsafe { self.afs.init(TAG_AF) };
        // SAFETY: Lookaside::init 1: called once, here, before any `alloc`
        // (a SAP is registered on an open AF, and none can be open yet), at
        // its final address (precondition); 2: PASSIVE_LEVEL (precondition).
        unsafe { self.saps.init(TAG_SAP) };
        // SAFETY: Lookaside::init 1: called once, here, before any `alloc`
        // (a VC is created on an open AF, and none can be open yet), at its
        // final address (precondition); 2: PASSIVE_LEVEL (precondition).
        unsafe { self.vcs.init(TAG_VC) };
        // SAFETY: Lookaside::init 1: called once, here, before any `alloc`
        // (a party is added on a VC's call, and no VC exists yet), at its
        // final address (precondition); 2: PASSIVE_LEVEL (precondition).
        unsafe { self.parties.init(TAG_PARTY) };
        // SAFETY: Lookaside::init 1: called once, here, before any `alloc`
        // (a call block is taken for a call on a VC, and no VC exists yet),
        // at its final address (precondition); 2: PASSIVE_LEVEL
        // (precondition).
        unsafe { self.calls.init(TAG_CALL) };
    }

    /// Deletes every list. Runs at IRQL = PASSIVE_LEVEL.
    ///
    /// # Safety
    /// Called once, from the adapter context's `free`, after [`Self::init`]:
    /// every context and call block taken from the lists went back (every
    /// AF closed, every SAP, VC, party and call gone, or none ever taken),
    /// and nothing uses a list during or after this call.
    pub(super) unsafe fn delete(&self) {
        // SAFETY: Lookaside::delete: every AF context went back to the list
        // (every AF was closed), nothing uses the list afterwards
        // (precondition), and this runs at PASSIVE_LEVEL.
        unsafe { self.afs.delete() };
        // SAFETY: Lookaside::delete: every SAP context went back to the list
        // (every SAP was deregistered), nothing uses the list afterwards
        // (precondition), and this runs at PASSIVE_LEVEL.
        unsafe { self.saps.delete() };
        // SAFETY: Lookaside::delete: every VC context went back to the list
        // (every VC was deleted), nothing uses the list afterwards
        // (precondition), and this runs at PASSIVE_LEVEL.
        unsafe { self.vcs.delete() };
        // SAFETY: Lookaside::delete: every party context went back to the
        // list (every party was dropped), nothing uses the list afterwards
        // (precondition), and this runs at PASSIVE_LEVEL.
        unsafe { self.parties.delete() };
        // SAFETY: Lookaside::delete: every call block went back to the list
        // (a block goes back when its call ends or its VC is freed), nothing
        // uses the list afterwards (precondition), and this runs at
        // PASSIVE_LEVEL.
        unsafe { self.calls.delete() };
    }
}

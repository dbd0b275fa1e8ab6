//! The NDIS side of the client core's objects: one context per adapter, AF,
//! SAP, VC and party, from a nonpaged lookaside list per kind (tags `CcAd`, `CcAf`,
//! `CcSp`, `CcVc`, `CcPy`; a signature each), keyed by the object's core handle.
//! A context holds the object's NDIS handle (NdisAfHandle, NdisSapHandle,
//! NdisVcHandle, NdisPartyHandle, which NDIS writes through the
//! out-parameter pointing into the context, or a completion stores), the
//! NdisBindingHandle it lives on, and the block NDIS reads until the call
//! completes (the CO_ADDRESS_FAMILY, the CO_SAP, the CO_CALL_PARAMETERS:
//! `crate::blocks`).
//!
//! The ProtocolXxxContext NDIS gets is the core handle's value (see
//! `route`), not the context's address: a callback is routed to the core
//! without dereferencing anything, and the context is found here by that
//! handle, its generation included.
//!
//! Lifetime: a context lives while the core holds its object
//! (`Core::holds`). [`reap`] frees the rest; it runs on the dispatch path
//! after an NDIS call returned and its status was reported, and at unbind
//! and unload, never in a completion handler: so a context is never freed
//! under an NDIS call that still reads its block (a pended call's
//! completion is what lets the core drop the object, and NDIS reads no
//! block after completing).
//!
//! Lock rule: the slots change only under the control lock (`locked`), so
//! a lookup, a store and a reap never interleave; lookaside allocation and
//! freeing happen outside it.
//!
//! Must not: make NDIS calls (beyond the lookaside routines), or free a
//! context the core still holds.

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::ptr::{NonNull, null_mut};
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

use covclient_abi::{CloseData, Handle, HandleKind};
use ndis_sys::{CO_ADDRESS_FAMILY, CO_CALL_PARAMETERS, NDIS_HANDLE, ULONG};

use super::control::{Inner, locked};
use super::lookaside::Lookaside;
use crate::blocks::{CallBlock, SapBlock};
use crate::core::{MAX_ADAPTERS, MAX_AFS, MAX_PARTIES, MAX_SAPS, MAX_VCS};
use crate::pool::{
    SIG_ADAPTER, SIG_AF, SIG_FREED, SIG_PARTY, SIG_SAP, SIG_VC, TAG_ADAPTER, TAG_AF, TAG_PARTY, TAG_SAP, TAG_VC,
};

/// One object's NDIS context.
///
/// INVARIANT: `signature` is its registry's signature while the context is
/// in a slot, `SIG_FREED` once freed; `handle` is the core handle it was
/// created for; `block` is touched only by the one thread making the
/// object's NDIS call (the core's state machine allows one call at a time
/// per object) or, for a pended call, by NDIS until the completion.
pub(super) struct Ctx<B> {
    signature: u32,
    handle: Handle,
    /// The NdisBindingHandle the object lives on.
    pub(super) binding: NDIS_HANDLE,
    /// The object's NDIS handle (NULL until NDIS gives it).
    pub(super) ndis: AtomicPtr<c_void>,
    /// An AF the call manager asked to close (ProtocolClNotifyCloseAf
    /// returned PENDING): its close completion reports it.
    pub(super) cm_close: AtomicBool,
    /// An incoming call's CO_CALL_PARAMETERS (NDIS's, valid until the
    /// client answers: NdisClIncomingCallComplete passes them back).
    pub(super) incoming: AtomicPtr<CO_CALL_PARAMETERS>,
    /// The close data of a close call or drop party, read until it completes.
    pub(super) close: UnsafeCell<CloseData>,
    /// What NDIS reads until the call completes.
    pub(super) block: UnsafeCell<B>,
}

/// The contexts of one kind.
///
/// INVARIANT: a non-NULL slot `i` holds a live context from `list` whose
/// handle's index is `i`; slots change only under the control lock.
pub(super) struct Registry<B, const N: usize> {
    kind: HandleKind,
    tag: ULONG,
    signature: u32,
    list: Lookaside<Ctx<B>>,
    slots: [AtomicPtr<Ctx<B>>; N],
}

// SAFETY: the slots are atomics changed under the control lock; the
// contexts they point at are nonpaged memory whose mutable parts are atomics
// or the block, which one thread (or NDIS) uses at a time (Ctx's invariant).
unsafe impl<B, const N: usize> Sync for Registry<B, N> {}

/// Adapter entries: the NdisBindingHandle of each bound adapter (no
/// block), removed when its unbind starts.
pub(super) static ADAPTERS: Registry<(), MAX_ADAPTERS> = Registry::new(HandleKind::Adapter, TAG_ADAPTER, SIG_ADAPTER);
/// AF contexts: the CO_ADDRESS_FAMILY NdisClOpenAddressFamilyEx reads.
pub(super) static AFS: Registry<CO_ADDRESS_FAMILY, MAX_AFS> = Registry::new(HandleKind::Af, TAG_AF, SIG_AF);
/// SAP contexts: the CO_SAP NdisClRegisterSap reads.
pub(super) static SAPS: Registry<SapBlock, MAX_SAPS> = Registry::new(HandleKind::Sap, TAG_SAP, SIG_SAP);
/// VC contexts: the CO_CALL_PARAMETERS of a make call or a QoS change.
pub(super) static VCS: Registry<CallBlock, MAX_VCS> = Registry::new(HandleKind::Vc, TAG_VC, SIG_VC);
/// Party contexts: the CO_CALL_PARAMETERS of an add party.
pub(super) static PARTIES: Registry<CallBlock, MAX_PARTIES> = Registry::new(HandleKind::Party, TAG_PARTY, SIG_PARTY);

impl<B, const N: usize> Registry<B, N> {
    const fn new(kind: HandleKind, tag: ULONG, signature: u32) -> Self {
        Self {
            kind,
            tag,
            signature,
            list: Lookaside::new(),
            slots: [const { AtomicPtr::new(null_mut()) }; N],
        }
    }

    fn slot(&self, h: Handle) -> Option<&AtomicPtr<Ctx<B>>> {
        if h.kind() != self.kind {
            return None;
        }
        self.slots.get(usize::try_from(h.index()).ok()?)
    }

    /// A new context for `h` on `binding` holding `block`; `None` when pool
    /// is exhausted or `h` is not of this kind (the caller fails the call
    /// with NDIS_STATUS_RESOURCES). A context left in the slot by an object
    /// the core no longer holds is freed.
    ///
    /// # IRQL
    /// <= DISPATCH_LEVEL; no covclient lock held.
    pub(super) fn create(&self, h: Handle, binding: NDIS_HANDLE, block: B) -> Option<&Ctx<B>> {
        let slot = self.slot(h)?;
        let ctx = self.list.alloc(Ctx {
            signature: self.signature,
            handle: h,
            binding,
            ndis: AtomicPtr::new(null_mut()),
            cm_close: AtomicBool::new(false),
            incoming: AtomicPtr::new(null_mut()),
            close: UnsafeCell::new(CloseData::EMPTY),
            block: UnsafeCell::new(block),
        })?;
        let Some(old) = locked(|_| slot.swap(ctx.as_ptr(), Ordering::AcqRel)) else {
            // No lock (a corrupted image): the new context is not kept.
            // SAFETY: fresh from the list, never published.
            unsafe { self.list.free(ctx) };
            return None;
        };
        if let Some(old) = NonNull::new(old) {
            // SAFETY: a context of this list, out of its slot (swapped under
            // the lock): no one else can reach it.
            unsafe { self.release(old) };
        }
        // SAFETY: published in the slot; freed only once the core drops
        // `h`, which the caller's call in flight prevents (module docs).
        Some(unsafe { ctx.as_ref() })
    }

    /// The context of `h`, if it has one.
    ///
    /// # IRQL
    /// <= DISPATCH_LEVEL; no covclient lock held.
    pub(super) fn get(&self, h: Handle) -> Option<&Ctx<B>> {
        let slot = self.slot(h)?;
        let p = locked(|_| {
            let p = slot.load(Ordering::Acquire);
            // SAFETY: a slot's context is live while it is in the slot,
            // which cannot change under the lock held here.
            let c = unsafe { p.as_ref() }?;
            (c.signature == self.signature && c.handle == h).then_some(p)
        })??;
        // SAFETY: the context was in its slot under the lock; it is freed
        // only once the core drops `h`, which the caller's call in flight
        // prevents (module docs).
        Some(unsafe { &*p })
    }

    /// The NDIS handle of `h`'s context, or NULL.
    pub(super) fn ndis(&self, h: Handle) -> NDIS_HANDLE {
        self.get(h).map_or(null_mut(), |c| c.ndis.load(Ordering::Acquire))
    }

    /// Frees `h`'s context now, held or not (an adapter whose unbind
    /// started: its binding handle must not be handed out again).
    pub(super) fn forget(&self, h: Handle) {
        let Some(slot) = self.slot(h) else { return };
        let taken = locked(|_| {
            let p = slot.load(Ordering::Acquire);
            // SAFETY: a slot's context is live while it is in the slot, and
            // this closure runs under the lock that slots change under.
            let c = unsafe { p.as_ref() }?;
            (c.handle == h).then(|| slot.swap(null_mut(), Ordering::AcqRel))
        })
        .flatten()
        .and_then(NonNull::new);
        if let Some(c) = taken {
            // SAFETY: out of its slot under the lock: ours alone.
            unsafe { self.release(c) };
        }
    }

    /// Takes every context whose object `inner`'s core no longer holds out
    /// of its slot (under the lock); the caller frees them.
    fn take_dead(&self, inner: &Inner, out: &mut [Option<NonNull<Ctx<B>>>; N]) {
        for (slot, taken) in self.slots.iter().zip(out.iter_mut()) {
            let p = slot.load(Ordering::Acquire);
            // SAFETY: a slot's context is live while it is in the slot, and
            // the caller holds the lock that slots change under.
            let Some(c) = (unsafe { p.as_ref() }) else { continue };
            if !inner.core.holds(c.handle) {
                slot.store(null_mut(), Ordering::Release);
                *taken = NonNull::new(p);
            }
        }
    }

    /// Frees the contexts of objects the core no longer holds.
    fn reap(&self) {
        let mut dead = [None; N];
        let _ = locked(|inner| self.take_dead(inner, &mut dead));
        for c in dead.into_iter().flatten() {
            // SAFETY: out of its slot under the lock: ours alone.
            unsafe { self.release(c) };
        }
    }

    /// Marks a context freed and returns it to the list.
    ///
    /// # Safety
    /// `c` is a context of this list that no slot holds and no one uses.
    unsafe fn release(&self, c: NonNull<Ctx<B>>) {
        // SAFETY: ours alone (precondition).
        unsafe { (*c.as_ptr()).signature = SIG_FREED };
        // SAFETY: from this list, not used again (precondition).
        unsafe { self.list.free(c) };
    }

    /// Frees every context, held or not (unload, after every unbind).
    ///
    /// # Safety
    /// NDIS holds none of these objects any more.
    unsafe fn release_all(&self) {
        for slot in &self.slots {
            if let Some(c) = NonNull::new(slot.swap(null_mut(), Ordering::AcqRel)) {
                // SAFETY: out of its slot; NDIS is done with it (precondition).
                unsafe { self.release(c) };
            }
        }
    }
}

/// Initializes the lookaside lists.
///
/// # IRQL
/// PASSIVE_LEVEL (DriverEntry, before NdisRegisterProtocolDriver).
pub(super) fn init() {
    ADAPTERS.list.init(ADAPTERS.tag);
    AFS.list.init(AFS.tag);
    SAPS.list.init(SAPS.tag);
    VCS.list.init(VCS.tag);
    PARTIES.list.init(PARTIES.tag);
}

/// Frees the contexts of objects the core no longer holds.
///
/// # IRQL
/// <= DISPATCH_LEVEL; no covclient lock held. Never from a completion
/// handler (module docs).
pub(super) fn reap() {
    PARTIES.reap();
    VCS.reap();
    SAPS.reap();
    AFS.reap();
    ADAPTERS.reap();
}

/// Frees every context and deletes the lists.
///
/// # IRQL
/// PASSIVE_LEVEL (unload, after NdisDeregisterProtocolDriver returned:
/// every binding is closed, so NDIS holds no object of covclient's).
pub(super) fn delete() {
    // SAFETY: every unbind ran (NdisDeregisterProtocolDriver returns after
    // them), so NDIS holds none of the parties.
    unsafe { PARTIES.release_all() };
    // SAFETY: every unbind ran, so NDIS holds none of the VCs.
    unsafe { VCS.release_all() };
    // SAFETY: every unbind ran, so NDIS holds none of the SAPs.
    unsafe { SAPS.release_all() };
    // SAFETY: every unbind ran, so NDIS holds none of the AFs.
    unsafe { AFS.release_all() };
    // SAFETY: every unbind ran, so NDIS holds none of the adapters.
    unsafe { ADAPTERS.release_all() };
    // SAFETY: every party entry is back (just above) and nothing allocates
    // after unload.
    unsafe { PARTIES.list.delete() };
    // SAFETY: every VC entry is back and nothing allocates after unload.
    unsafe { VCS.list.delete() };
    // SAFETY: every SAP entry is back and nothing allocates after unload.
    unsafe { SAPS.list.delete() };
    // SAFETY: every AF entry is back and nothing allocates after unload.
    unsafe { AFS.list.delete() };
    // SAFETY: every adapter entry is back and nothing allocates after unload.
    unsafe { ADAPTERS.list.delete() };
}

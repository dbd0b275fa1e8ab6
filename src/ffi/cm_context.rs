//! The call manager's per-object contexts, handed to NDIS as
//! CallMgrAfContext, CallMgrSapContext, CallMgrVcContext (=
//! MiniportVcContext) and CallMgrPartyContext, each from its own lookaside
//! list with its own tag and signature (`crate::pool`). A context holds what the glue needs to talk to
//! NDIS about its object (the NDIS handle, the adapter) and the object's id
//! in the FFI-free [`CallManager`](crate::call_manager::CallManager), which
//! holds the object's state under the adapter lock.
//!
//! A context's *token* (its address as a `usize`) is what the core stores and
//! names in its effects.
//!
//! A VC carries its call's parameters (what covmini activates it with and
//! offers an incoming call with) in a [`CallBlock`] of its own
//! (`super::call_block`, a fourth list, tag `CvmC`), only while it carries
//! a call: an idle VC is just its [`VcContext`]. The glue
//! (`super::effects`: `take_call`, `begin_call`, `end_call`) takes a block
//! when a call begins on the VC and gives it back when the call is over;
//! this module only says how a block is attached and read.
//!
//! Must not: name the adapter's context (it holds these contexts' lists:
//! a context holds an [`AdapterLink`], which `super::adapter_link`
//! follows), or perform the core's effects (`super::effects` does, and
//! `super::adapter_link`'s `Inside::leave`).

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::ptr::{NonNull, null_mut};
use core::sync::atomic::{AtomicPtr, AtomicU16, AtomicU32, Ordering};

use ndis_sys::*;

use super::call_block::CallBlock;
use super::counters::Counters;
// The trait every context here implements, re-exported for the handlers.
pub(crate) use super::signed::Signed;
use super::sync::SpinLockGuard;
use crate::call_manager::{AfId, CallManager, Effects, PartyId, SapId, VcId, VcState};
use crate::ctrl_path::WanLinkInfo;
use crate::pool::{SIG_AF, SIG_CALL, SIG_PARTY, SIG_SAP, SIG_VC};

/// The call manager's state, keyed by context tokens (addresses).
pub(crate) type Cm = CallManager<usize>;

/// The adapter a context belongs to, by address. Its type is
/// `super::context`'s `AdapterContext`, which this module does not name:
/// the adapter holds these contexts' lookaside lists, so naming it back
/// would close an import circle. `super::adapter_link` makes a link from an
/// adapter (the contexts' `new`) and follows it (their `adapter()`).
///
/// INVARIANT: `to` is the address of an adapter context (made only by
/// [`Self::to`], whose precondition says so).
#[derive(Clone, Copy)]
#[repr(transparent)]
pub(crate) struct AdapterLink {
    to: NonNull<c_void>,
}

impl AdapterLink {
    /// A link to the adapter context at `adapter`.
    ///
    /// # Safety
    /// `adapter` points to an `AdapterContext` (`super::context`).
    pub(super) unsafe fn to(adapter: NonNull<c_void>) -> Self {
        // INVARIANT: an adapter context's address (precondition).
        Self { to: adapter }
    }
    /// The adapter context's address.
    pub(super) fn address(self) -> NonNull<c_void> {
        self.to
    }
}

/// One client's open of covmini's AF.
#[repr(C)]
pub(crate) struct AfContext {
    signature: AtomicU32,
    id: AtomicU16,
    adapter: AdapterLink,
    ndis: NDIS_HANDLE,
}

// SAFETY: repr(C), signature first.
unsafe impl Signed for AfContext {
    const SIGNATURE: u32 = SIG_AF;
    fn signature(&self) -> &AtomicU32 {
        &self.signature
    }
}

impl AfContext {
    pub(super) fn linked(adapter: AdapterLink, ndis: NDIS_HANDLE) -> Self {
        Self {
            signature: AtomicU32::new(SIG_AF),
            id: AtomicU16::new(0),
            adapter,
            ndis,
        }
    }
    /// The link to its adapter (`super::adapter_link` follows it).
    pub(super) fn link(&self) -> AdapterLink {
        self.adapter
    }
    pub(crate) fn id(&self) -> AfId {
        AfId::from_raw(self.id.load(Ordering::Acquire))
    }
    pub(crate) fn set_id(&self, id: AfId) {
        self.id.store(id.raw(), Ordering::Release);
    }
    /// The NdisAfHandle.
    pub(crate) fn ndis(&self) -> NDIS_HANDLE {
        self.ndis
    }
}

/// A registered SAP.
#[repr(C)]
pub(crate) struct SapContext {
    signature: AtomicU32,
    id: AtomicU16,
    adapter: AdapterLink,
    ndis: NDIS_HANDLE,
}

// SAFETY: repr(C), signature first.
unsafe impl Signed for SapContext {
    const SIGNATURE: u32 = SIG_SAP;
    fn signature(&self) -> &AtomicU32 {
        &self.signature
    }
}

impl SapContext {
    pub(super) fn linked(adapter: AdapterLink, ndis: NDIS_HANDLE) -> Self {
        Self {
            signature: AtomicU32::new(SIG_SAP),
            id: AtomicU16::new(0),
            adapter,
            ndis,
        }
    }
    /// The link to its adapter (`super::adapter_link` follows it).
    pub(super) fn link(&self) -> AdapterLink {
        self.adapter
    }
    pub(crate) fn id(&self) -> SapId {
        SapId::from_raw(self.id.load(Ordering::Acquire))
    }
    pub(crate) fn set_id(&self, id: SapId) {
        self.id.store(id.raw(), Ordering::Release);
    }
    /// The NdisSapHandle.
    pub(crate) fn ndis(&self) -> NDIS_HANDLE {
        self.ndis
    }
}

/// [`VcContext`]'s `entry` bit that says a close has begun on the VC (the
/// bits below count the handlers inside).
const CLOSING: u32 = 1 << 31;

/// A VC: client-created (ProtocolCoCreateVc) or covmini-created for an
/// incoming call (NdisMCmCreateVc). 136 bytes on x64 (asserted below): an
/// idle VC holds no call parameters ([`CallBlock`]).
///
/// INVARIANT: while `entry` counts a handler ([`Self::enter`] until its
/// [`Inside`] leaves), the context is not freed and no close deactivates
/// or deletes its VC: a close that raises [`CLOSING`] in `entry` while
/// the count is non-zero pends until the last one leaves
/// ([`Inside::leave`]), and a handler whose count enters after that sees
/// [`CLOSING`] and takes nothing (the handshake in `super::data`'s module
/// docs).
#[repr(C)]
pub(crate) struct VcContext {
    signature: AtomicU32,
    id: AtomicU32,
    /// The handshake word: the handlers inside covmini with this context
    /// (sends, and the VC's OID and QoS requests), counted as their first
    /// act, in the low bits; [`CLOSING`]: a close has begun on the VC (an
    /// entering handler takes nothing), cleared when a new call begins on
    /// it ([`Self::attach_call`]). One word, so a handler's entry and a
    /// close's start are read-modify-writes of the same location: one of
    /// the two comes first in its modification order and the other sees it.
    entry: AtomicU32,
    /// Whether the client created this VC (ProtocolCoCreateVc): only
    /// ProtocolCoDeleteVc frees it, never a close. Set at creation, never
    /// changed (it sits in what was padding before `adapter`).
    client_created: bool,
    adapter: AdapterLink,
    /// The NdisVcHandle (for an MCM VC, known once NdisMCmCreateVc returns).
    ndis: AtomicPtr<c_void>,
    /// The client's CO_CALL_PARAMETERS of a pended make call, for
    /// NdisMCmMakeCallComplete.
    client_params: AtomicPtr<CO_CALL_PARAMETERS>,
    /// The NdisPartyHandle a multipoint root's close came with (its last
    /// party), for NdisMCmCloseCallComplete; NULL for a point-to-point call.
    close_party: AtomicPtr<c_void>,
    /// The call's block while the VC carries a call, else NULL. Set by the
    /// handler that sets up a call on the VC, taken back by the one that
    /// ends it (`super::effects`).
    call: AtomicPtr<CallBlock>,
    /// This VC's traffic counters (per-VC statistics OIDs).
    counters: Counters,
    /// What OID_WAN_CO_SET_LINK_INFO stored; read and written only with the
    /// adapter's call-manager lock held (see [`Self::link_info`]).
    link_info: UnsafeCell<Option<WanLinkInfo>>,
}

#[cfg(target_pointer_width = "64")]
const _: () = assert!(core::mem::size_of::<VcContext>() == 136);

// SAFETY: repr(C), signature first.
unsafe impl Signed for VcContext {
    const SIGNATURE: u32 = SIG_VC;
    fn signature(&self) -> &AtomicU32 {
        &self.signature
    }
}

impl VcContext {
    /// A VC context: `ndis` is the client's NdisVcHandle for a VC the
    /// client creates (ProtocolCoCreateVc), or NULL for one covmini creates
    /// (its handle comes with NdisMCmCreateVc).
    pub(super) fn linked(adapter: AdapterLink, ndis: NDIS_HANDLE) -> Self {
        Self {
            signature: AtomicU32::new(SIG_VC),
            id: AtomicU32::new(0),
            entry: AtomicU32::new(0),
            client_created: !ndis.is_null(),
            adapter,
            ndis: AtomicPtr::new(ndis),
            client_params: AtomicPtr::new(null_mut()),
            close_party: AtomicPtr::new(null_mut()),
            call: AtomicPtr::new(null_mut()),
            counters: Counters::new(),
            link_info: UnsafeCell::new(None),
        }
    }
    /// This VC's traffic counters.
    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }
    /// The stored link info; `_cm` proves the adapter lock is held.
    pub(crate) fn link_info(&self, _cm: &SpinLockGuard<'_, Cm>) -> Option<WanLinkInfo> {
        // SAFETY: only touched with the adapter's call-manager lock held,
        // which the guard proves; no reference escapes.
        unsafe { *self.link_info.get() }
    }
    /// Stores link info; `_cm` proves the adapter lock is held.
    pub(crate) fn set_link_info(&self, _cm: &SpinLockGuard<'_, Cm>, info: WanLinkInfo) {
        // SAFETY: as link_info.
        unsafe { *self.link_info.get() = Some(info) };
    }
    /// The link to its adapter (`super::adapter_link` follows it).
    pub(super) fn link(&self) -> AdapterLink {
        self.adapter
    }
    pub(crate) fn id(&self) -> VcId {
        VcId::from_raw(self.id.load(Ordering::Acquire))
    }
    pub(crate) fn set_id(&self, id: VcId) {
        self.id.store(id.raw(), Ordering::Release);
    }
    /// The NdisVcHandle.
    pub(crate) fn ndis(&self) -> NDIS_HANDLE {
        self.ndis.load(Ordering::Acquire)
    }
    pub(crate) fn set_ndis(&self, handle: NDIS_HANDLE) {
        self.ndis.store(handle, Ordering::Release);
    }
    pub(crate) fn client_params(&self) -> PCO_CALL_PARAMETERS {
        self.client_params.load(Ordering::Acquire)
    }
    pub(crate) fn set_client_params(&self, params: PCO_CALL_PARAMETERS) {
        self.client_params.store(params, Ordering::Release);
    }
    /// The NdisPartyHandle to complete a close with (NULL: point to point).
    pub(crate) fn close_party(&self) -> NDIS_HANDLE {
        self.close_party.load(Ordering::Acquire)
    }
    pub(crate) fn set_close_party(&self, party: NDIS_HANDLE) {
        self.close_party.store(party, Ordering::Release);
    }

    /// Attaches the block of the call that begins on this VC; returns the
    /// block it held before, which is None unless a call's end forgot to
    /// take its block back.
    ///
    /// Only the handler the core let set up a new call on the VC calls it
    /// (make_call_begin, party_begin, make_call_echo): one at a time.
    pub(crate) fn attach_call(&self, block: NonNull<CallBlock>) -> Option<NonNull<CallBlock>> {
        self.entry.fetch_and(!CLOSING, Ordering::AcqRel);
        NonNull::new(self.call.swap(block.as_ptr(), Ordering::AcqRel))
    }

    /// The first act of every handler NDIS hands this context to (before
    /// any NDIS call and any lock): counts it inside, and says whether a
    /// close has begun (then the handler takes nothing: it answers at once
    /// and leaves, with no NDIS call but its answer before it leaves).
    ///
    /// The handshake with the close (`super::data`'s module docs): the
    /// count and the close's mark are one word, changed by one
    /// read-modify-write each, so either the close's comes first (this
    /// handler sees [`CLOSING`]) or this one does (the close sees the
    /// count and waits).
    pub(crate) fn enter(&self) -> (Inside<'_>, bool) {
        let before = self.entry.fetch_add(1, Ordering::AcqRel);
        (Inside { vc: self }, before & CLOSING != 0)
    }

    /// [`Self::enter`] for a handler that must make an NDIS call even when
    /// the close has begun (a send completes its NBLs): counted inside
    /// only if no close has begun, else None and nothing written. A close
    /// that began first did not wait for this handler, and may delete and
    /// free the VC once this handler has made an NDIS call; with no count
    /// taken there is nothing to give back after that call, so the handler
    /// reads what it needs, makes its one call and touches the context no
    /// more (`super::data`, "The window").
    pub(crate) fn enter_unless_closing(&self) -> Option<Inside<'_>> {
        self.entry
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |e| {
                (e & CLOSING == 0).then_some(e + 1)
            })
            .ok()
            .map(|_| Inside { vc: self })
    }

    /// ProtocolCmCloseCall's side of the handshake (and a refusal's, which
    /// takes the VC down too), with the adapter lock held (`_cm`, the core
    /// as its guard lends it): raises [`CLOSING`] and says whether handlers
    /// were inside at that instant, besides the caller's `own` (1 if the
    /// handler calling this is itself counted in this context, else 0).
    /// Also returns whether it was raised already, for
    /// [`Self::restore_closing`] should the core refuse.
    pub(crate) fn begin_close(&self, _cm: &Cm, own: u32) -> (bool, bool) {
        self.begin_close_in_core(own)
    }

    /// [`Self::begin_close`] asked for by the core itself (its `Marks`,
    /// `super::setup`), while it runs under the adapter lock: the guard
    /// is lent to the core, so the lock is held though no `&Cm` can be
    /// shown.
    pub(crate) fn begin_close_in_core(&self, own: u32) -> (bool, bool) {
        let before = self.entry.fetch_or(CLOSING, Ordering::AcqRel);
        (before & CLOSING != 0, before & !CLOSING > own)
    }

    /// Lowers [`CLOSING`] again after a refused close, unless it was
    /// raised before (`was`).
    pub(crate) fn restore_closing(&self, was: bool) {
        if !was {
            self.entry.fetch_and(!CLOSING, Ordering::AcqRel);
        }
    }

    /// Lowers [`CLOSING`] once a client VC's close is over (or the refusal
    /// of its make call, which raised it the same way): the VC is idle
    /// and stays (only ProtocolCoDeleteVc frees it), so a handler that
    /// enters it now is answered as on any idle VC (an OID is answered, a
    /// send refused by the core with nothing taken). Only with the adapter
    /// lock held (`cm`), only while the core still has the VC idle (a
    /// VC the call manager created is gone from the core by then, and
    /// keeps the mark until it is freed), and before the close's (or the
    /// make call's) completion reaches NDIS: after it, the client may
    /// delete the VC.
    pub(crate) fn end_close(&self, cm: &Cm) {
        if cm.vc_is(self.id(), self.token()) && cm.vc_state(self.id()) == Some(VcState::Idle) {
            self.entry.fetch_and(!CLOSING, Ordering::AcqRel);
        }
    }

    /// Whether an OID request that entered ([`Self::enter`]) after a close
    /// began may still read this context: a client's VC is freed only by
    /// ProtocolCoDeleteVc, which NDIS does not run under the client's own
    /// request on the VC, so its context outlives the close (statistics
    /// stay readable until the client deletes the VC). A VC covmini created
    /// is deleted and freed by its close, which may not have seen the
    /// request: such a request touches the context no more.
    pub(crate) fn readable_while_closing(&self) -> bool {
        self.client_created
    }

    /// Takes the call's block off the VC (None if it has none).
    pub(crate) fn detach_call(&self) -> Option<NonNull<CallBlock>> {
        NonNull::new(self.call.swap(null_mut(), Ordering::AcqRel))
    }

    /// The block of the call on this VC, if it carries one.
    ///
    /// # Safety
    /// The call cannot end while the reference is used: the caller is the
    /// handler setting the call up, or holds a pin of the VC that its close
    /// waits for (a QoS change).
    pub(crate) unsafe fn call(&self) -> Option<&CallBlock> {
        let block = NonNull::new(self.call.load(Ordering::Acquire))?;
        // SAFETY: an attached block is alive until detached, which only the
        // call's end does (precondition: not while this is used).
        let block = unsafe { block.as_ref() };
        (block.signature().load(Ordering::Acquire) == SIG_CALL).then_some(block)
    }
}

/// A handler's place inside a VC context ([`VcContext::enter`]): the
/// context stays alive and its VC undeactivated while it exists. It must be
/// given back with [`Self::leave`] or [`Self::leave_locked`]; after that
/// the handler touches the context no more (a close that waited for it may
/// free it).
///
/// INVARIANT: from [`VcContext::enter`] until [`Self::leave`] or
/// [`Self::leave_locked`] (which consume it), this handler is counted in
/// `vc`'s handshake word, exactly once.
#[must_use = "a handler inside a VC context must leave it, or its close never finishes"]
pub(crate) struct Inside<'a> {
    vc: &'a VcContext,
}

impl<'a> Inside<'a> {
    /// The context this handler is inside.
    pub(super) fn vc(&self) -> &'a VcContext {
        self.vc
    }

    /// Gives this handler's count back, with no lock held (the first half
    /// of `leave`, in `super::adapter_link`): Some((id, token)) of the VC
    /// if this was the last handler inside, for [`Self::last_out`] under
    /// the adapter lock. From here the context may be gone (a close that
    /// did not wait for this handler): the caller reads it no more, but
    /// through `last_out`, which asks the core first.
    ///
    /// # IRQL
    /// Runs at any IRQL (one atomic operation).
    pub(super) fn give_back(self) -> Option<(VcId, usize)> {
        let (id, token) = (self.vc.id(), self.vc.token());
        (self.vc.entry.fetch_sub(1, Ordering::AcqRel) & !CLOSING == 1).then_some((id, token))
    }

    /// Leaves with the adapter lock held (`cm`), which finishing the close
    /// needs: returns the core's effects, to perform once the lock is
    /// dropped (among them, perhaps, the VC's deletion).
    pub(crate) fn leave_locked(self, cm: &mut Cm) -> Effects<usize> {
        let (id, token) = (self.vc.id(), self.vc.token());
        if self.vc.entry.fetch_sub(1, Ordering::AcqRel) & !CLOSING != 1 {
            return Effects::new();
        }
        Self::last_out(cm, self.vc, id, token)
    }

    /// The last handler is out: a close waiting for handlers finishes,
    /// unless one entered meanwhile (it sees the close, and is last out in
    /// its turn).
    pub(super) fn last_out(cm: &mut Cm, vc: &VcContext, id: VcId, token: usize) -> Effects<usize> {
        // A close waits for handlers only on a VC the core still has, whose
        // context is therefore alive: `vc` is read only then.
        if cm.vc_is(id, token) && cm.waits_for_handlers(id) && vc.entry.load(Ordering::Acquire) & !CLOSING == 0 {
            cm.handlers_left(id)
        } else {
            Effects::new()
        }
    }
}

/// One party of a point-to-multipoint call (CallMgrPartyContext): what
/// the glue needs to talk to NDIS about it. Its state (root, leaf, where it
/// is) is the core's party record. 32 bytes on x64 (asserted below).
#[repr(C)]
pub(crate) struct PartyContext {
    signature: AtomicU32,
    id: AtomicU16,
    adapter: AdapterLink,
    /// The NdisPartyHandle.
    ndis: NDIS_HANDLE,
    /// The client's CO_CALL_PARAMETERS of the make call or add party that
    /// adds the party, for its completion.
    client_params: AtomicPtr<CO_CALL_PARAMETERS>,
}

#[cfg(target_pointer_width = "64")]
const _: () = assert!(core::mem::size_of::<PartyContext>() == 32);

// SAFETY: repr(C), signature first.
unsafe impl Signed for PartyContext {
    const SIGNATURE: u32 = SIG_PARTY;
    fn signature(&self) -> &AtomicU32 {
        &self.signature
    }
}

impl PartyContext {
    pub(super) fn linked(adapter: AdapterLink, ndis: NDIS_HANDLE) -> Self {
        Self {
            signature: AtomicU32::new(SIG_PARTY),
            id: AtomicU16::new(0),
            adapter,
            ndis,
            client_params: AtomicPtr::new(null_mut()),
        }
    }
    /// The link to its adapter (`super::adapter_link` follows it).
    pub(super) fn link(&self) -> AdapterLink {
        self.adapter
    }
    pub(crate) fn id(&self) -> PartyId {
        PartyId::from_raw(self.id.load(Ordering::Acquire))
    }
    pub(crate) fn set_id(&self, id: PartyId) {
        self.id.store(id.raw(), Ordering::Release);
    }
    /// The NdisPartyHandle.
    pub(crate) fn ndis(&self) -> NDIS_HANDLE {
        self.ndis
    }
    pub(crate) fn client_params(&self) -> PCO_CALL_PARAMETERS {
        self.client_params.load(Ordering::Acquire)
    }
    pub(crate) fn set_client_params(&self, params: PCO_CALL_PARAMETERS) {
        self.client_params.store(params, Ordering::Release);
    }
}

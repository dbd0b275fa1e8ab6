//! The effect performer: makes the NDIS calls the call-manager core
//! ([`crate::call_manager`]) decided, in the order it decided them
//! ([`perform`]), and the locked entry into the core every handler uses
//! ([`checked`], [`on_vc`], [`on_party`], [`on_af`], [`finish`]).
//!
//! Owns:
//! - performing each [`Effect`] (a deactivation, a completion, a dispatch,
//!   the freeing of a context), always with the adapter lock released: NDIS
//!   re-enters covmini from most of those calls; a set-up's steps, whose
//!   status the core waits for, are `super::setup`'s;
//! - the call blocks' lifetime ([`CallBlock`], tag `CvmC`): each VC that
//!   carries a call holds one with the parameters covmini activated it
//!   with. A call's setup takes them before anything else ([`take_call`];
//!   the caller's, and the callee's or leaf's with its VC context), so a
//!   refused allocation is NDIS_STATUS_RESOURCES with nothing begun;
//!   [`begin_call`] attaches one, [`end_call`] gives a client VC's block
//!   back once its call is over (the make call failed, or its close
//!   completes), an MCM-created VC's goes with the VC ([`free_vc`]). None is
//!   taken or given back on the data path.
//!
//! Must not: decide an order (the core does), hold the adapter lock across
//! an NDIS call, or read a client's blocks (`super::params` does). The data
//! path (`super::data`) and the contexts' handshake (`super::cm_context`)
//! perform effects through [`perform`] too, so this file depends on neither
//! the handlers nor the data path.

use core::ptr::{NonNull, null_mut};

use crate::flight::event::Ddi;
use ndis_sys::*;

use super::call_block::{CallBlock, CallShape};
use super::cm_context::{AfContext, Cm, PartyContext, SapContext, Signed, VcContext};
use super::context::AdapterContext;
use super::trace::{ERROR, WARN};
use crate::call_manager::{Address, Effect, Effects, Finish, PartyId, Refusal};

/// Performs `fx` in order, where they lie (borrowed: a few hundred bytes
/// the handlers' paths need not copy). Called with the adapter lock
/// released.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL (every DDI it calls allows it).
pub(super) fn perform(adapter: &AdapterContext, fx: &Effects<usize>) {
    if fx.overflowed() {
        trace!(ERROR, "call manager: effects overflowed (a core bug): some were lost");
    }
    for effect in fx.iter() {
        perform_one(adapter, effect);
    }
}

/// Performs one effect. A set-up's steps (CreateVc, ActivateVc,
/// DispatchIncomingCall) are performed by `super::setup`, which reports
/// their status; one that reached this (a core bug) is only traced.
pub(super) fn perform_one(adapter: &AdapterContext, effect: Effect<usize>) {
    match effect {
        Effect::CreateVc { .. } | Effect::ActivateVc(_) | Effect::DispatchIncomingCall { .. } => {
            trace!(
                ERROR,
                "call manager: a set-up step outside a set-up (a core bug): {:?}", effect
            );
        }
        Effect::DeactivateVc(t) => deactivate_vc(adapter, t),
        Effect::DispatchCallConnected(t) => dispatch_call_connected(adapter, t),
        Effect::CompleteMakeCall(t, status) => complete_make_call(adapter, t, status),
        Effect::DispatchIncomingClose(t) => dispatch_incoming_close(adapter, t),
        Effect::CompleteCloseCall(t) => complete_close_call(adapter, t),
        Effect::DeleteVc(t) => delete_vc(adapter, t),
        Effect::FreeVc(t) => {
            // SAFETY: a live VC token from the core: FreeVc is the last effect
            // naming the VC, and free_vc frees the context after its last use.
            free_vc(adapter, unsafe { VcContext::from_token(t) });
        }
        Effect::CompleteDeregisterSap(t) => {
            // SAFETY: a live SAP token from the core.
            let sap = unsafe { SapContext::from_token(t) };
            // Read before the completion, as for every completion: what the
            // client does inside it must not be able to pull the context
            // from under a read that follows.
            let handle = sap.ndis();
            // SAFETY: the deregistration this SAP's handler pended.
            unsafe { NdisMCmDeregisterSapComplete(NDIS_STATUS_SUCCESS, handle) };
            adapter.called(Ddi::NdisMCmDeregisterSapComplete, handle, NDIS_STATUS_SUCCESS);
        }
        Effect::FreeSap(t) => free_sap(adapter, t),
        Effect::CompleteCloseAf(t) => {
            // SAFETY: a live AF token from the core.
            let af = unsafe { AfContext::from_token(t) };
            // Read before the completion: a client whose notify-close is
            // pending may complete it from its ProtocolClCloseAfComplete,
            // and covmini then frees this context (ProtocolCmNotifyCloseAfComplete)
            // before the call below returns.
            let handle = af.ndis();
            // SAFETY: the close this AF's handler pended; `af` is not
            // touched afterwards.
            unsafe { NdisMCmCloseAddressFamilyComplete(NDIS_STATUS_SUCCESS, handle) };
            adapter.called(Ddi::NdisMCmCloseAddressFamilyComplete, handle, NDIS_STATUS_SUCCESS);
        }
        Effect::FreeAf(t) => free_af(adapter, t),
        Effect::HaltAfDone => halt_af_done(adapter),
        Effect::CompleteMakeCallParty(vt, pt, status) => complete_make_call_party(adapter, vt, pt, status),
        Effect::CompleteAddParty(pt, status) => complete_add_party(adapter, pt, status),
        Effect::DispatchIncomingDropParty(pt) => dispatch_incoming_drop_party(adapter, pt),
        Effect::CompleteDropParty(pt) => {
            // SAFETY: a live party token from the core: a party is freed only by
            // a later FreeParty effect, never before this one.
            let party = unsafe { PartyContext::from_token(pt) };
            // Read before the completion, as for every completion.
            let handle = party.ndis();
            // SAFETY: the drop this party's handler pended.
            unsafe { NdisMCmDropPartyComplete(NDIS_STATUS_SUCCESS, handle) };
            adapter.called(Ddi::NdisMCmDropPartyComplete, handle, NDIS_STATUS_SUCCESS);
        }
        Effect::FreeParty(pt) => free_party(adapter, pt),
    }
}

/// Performs [`Effect::DeactivateVc`].
fn deactivate_vc(adapter: &AdapterContext, t: usize) {
    // SAFETY: a live VC token from the core (freed only by a later effect).
    let vc = unsafe { VcContext::from_token(t) };
    // SAFETY: the VC's NdisVcHandle; IRQL <= DISPATCH_LEVEL.
    let s = unsafe { NdisMCmDeactivateVc(vc.ndis()) };
    adapter.called(Ddi::NdisMCmDeactivateVc, vc.ndis(), s);
    if s != NDIS_STATUS_SUCCESS {
        trace!(WARN, "NdisMCmDeactivateVc({:p}): {:#010x}", vc.ndis(), s);
    }
}

/// Performs [`Effect::DispatchCallConnected`].
fn dispatch_call_connected(adapter: &AdapterContext, t: usize) {
    // SAFETY: a live VC token from the core: the core keeps a VC's
    // token only while the VC lives, and frees it by a later effect
    // (DeleteVc, FreeVc) than this one.
    let vc = unsafe { VcContext::from_token(t) };
    // SAFETY: the MCM VC whose offer the client accepted.
    unsafe { NdisMCmDispatchCallConnected(vc.ndis()) };
    adapter.called(Ddi::NdisMCmDispatchCallConnected, vc.ndis(), NDIS_STATUS_SUCCESS);
}

/// Performs [`Effect::CompleteMakeCall`].
fn complete_make_call(adapter: &AdapterContext, t: usize, status: NDIS_STATUS) {
    // SAFETY: a live VC token from the core: the core keeps a VC's
    // token only while the VC lives, and frees it by a later effect
    // (DeleteVc, FreeVc) than this one.
    let vc = unsafe { VcContext::from_token(t) };
    let params = vc.client_params();
    vc.set_client_params(null_mut());
    if status != NDIS_STATUS_SUCCESS {
        // SAFETY: the failed call was taken down (the VC deactivated,
        // by the effects before this one); the client makes no new
        // call on the VC before this completion.
        unsafe { end_call(adapter, vc) };
        // A refusal's mark (`answer_offer`) goes before the client
        // may delete the VC: it is idle and deactivated.
        vc.end_close(&adapter.cm());
    }
    // Read before the completion: a failed call's VC is idle once NDIS has
    // it, and its client may delete it (and covmini free this context, in
    // ProtocolCoDeleteVc) on another CPU before the call below returns.
    let handle = vc.ndis();
    // SAFETY: the make call this VC's handler pended: its handle, no
    // party (point to point), the client's own parameters, which NDIS
    // keeps alive until this completion; status never PENDING (core).
    unsafe { NdisMCmMakeCallComplete(status, handle, null_mut(), null_mut(), params) };
    adapter.called(Ddi::NdisMCmMakeCallComplete, handle, status);
    if status == NDIS_STATUS_SUCCESS {
        // The core pinned the caller for this call: a close that
        // crossed it finishes now.
        let fx = adapter.cm().make_call_completed(vc.id());
        perform(adapter, &fx);
    }
}

/// Performs [`Effect::DispatchIncomingClose`].
fn dispatch_incoming_close(adapter: &AdapterContext, t: usize) {
    // SAFETY: a live VC token from the core: the core keeps a VC's
    // token only while the VC lives, and frees it by a later effect
    // (DeleteVc, FreeVc) than this one.
    let vc = unsafe { VcContext::from_token(t) };
    // SAFETY: a VC that carries a call whose other side hung up; no
    // close data. The core pinned it for this call, so its client's
    // close cannot delete it before we are done.
    unsafe { NdisMCmDispatchIncomingCloseCall(NDIS_STATUS_SUCCESS, vc.ndis(), null_mut(), 0) };
    adapter.called(Ddi::NdisMCmDispatchIncomingCloseCall, vc.ndis(), NDIS_STATUS_SUCCESS);
    let fx = adapter.cm().unpin(vc.id(), 1);
    perform(adapter, &fx);
}

/// Performs [`Effect::CompleteCloseCall`].
fn complete_close_call(adapter: &AdapterContext, t: usize) {
    // SAFETY: a live VC token from the core: the core keeps a VC's
    // token only while the VC lives, and frees it by a later effect
    // (DeleteVc, FreeVc) than this one.
    let vc = unsafe { VcContext::from_token(t) };
    // SAFETY: the VC was deactivated by an earlier effect of this
    // close, and no new call can begin on it before this completion.
    unsafe { end_call(adapter, vc) };
    vc.end_close(&adapter.cm());
    // Read before the completion: once NDIS has it the client may delete
    // its VC (and covmini free this context, in ProtocolCoDeleteVc) on
    // another CPU before the call below returns.
    let (handle, party) = (vc.ndis(), vc.close_party());
    // SAFETY: the close this VC's handler is pending; the party
    // handle it came with (a multipoint root's last party) or NULL.
    unsafe { NdisMCmCloseCallComplete(NDIS_STATUS_SUCCESS, handle, party) };
    adapter.called(Ddi::NdisMCmCloseCallComplete, handle, NDIS_STATUS_SUCCESS);
}

/// Performs [`Effect::DeleteVc`].
fn delete_vc(adapter: &AdapterContext, t: usize) {
    // SAFETY: a live VC token from the core: DeleteVc is the last effect
    // naming the VC, and free_vc below frees the context after its last use.
    let vc = unsafe { VcContext::from_token(t) };
    // SAFETY: an MCM-created, deactivated VC (core); the handle is
    // dead when the call returns.
    let s = unsafe { NdisMCmDeleteVc(vc.ndis()) };
    adapter.called(Ddi::NdisMCmDeleteVc, vc.ndis(), s);
    if s == NDIS_STATUS_SUCCESS {
        free_vc(adapter, vc);
    } else {
        // NDIS still holds the VC and may hand the context back:
        // leaking it (the halt check reports it) beats a stale pointer.
        trace!(
            ERROR,
            "NdisMCmDeleteVc({:p}): {:#010x}; its context is kept",
            vc.ndis(),
            s
        );
    }
}

/// Performs [`Effect::FreeSap`].
fn free_sap(adapter: &AdapterContext, t: usize) {
    // SAFETY: a live SAP token from the core: FreeSap is the last
    // effect naming the SAP, and the context is freed below after its last use.
    let sap = unsafe { SapContext::from_token(t) };
    sap.kill();
    // SAFETY: from this adapter's SAP list; not used after.
    unsafe { adapter.sap_list().free(NonNull::from(sap)) };
}

/// Performs [`Effect::FreeAf`].
fn free_af(adapter: &AdapterContext, t: usize) {
    // SAFETY: a live AF token from the core: FreeAf is the last effect
    // naming the AF, and the context is freed below after its last use.
    let af = unsafe { AfContext::from_token(t) };
    af.kill();
    // SAFETY: from this adapter's AF list; not used after.
    unsafe { adapter.af_list().free(NonNull::from(af)) };
}

/// Performs [`Effect::HaltAfDone`].
fn halt_af_done(adapter: &AdapterContext) {
    // SAFETY: halt held this AF (the core emits this once per hold,
    // and only from MiniportHaltEx's start), so a count is held.
    // During halt effects are performed only by MiniportHaltEx,
    // which holds its own count until it waits, or inside a
    // call-manager handler, whose `Running` guard holds another (the
    // data path, which takes none, does not run: NDIS halts a paused
    // adapter with no send or receive outstanding). So this cannot
    // set the event, and the adapter stays alive.
    if !unsafe { AdapterContext::halt_release(adapter) } {
        trace!(ERROR, "halt: an AF was released that halt did not hold (a core bug)");
    }
}

/// Performs [`Effect::CompleteMakeCallParty`].
fn complete_make_call_party(adapter: &AdapterContext, vt: usize, pt: usize, status: NDIS_STATUS) {
    // SAFETY: a live VC token from the core.
    let vc = unsafe { VcContext::from_token(vt) };
    // SAFETY: a live party token: a failed party is freed by a
    // later effect, a connected one is pinned until party_unpinned
    // below.
    let party = unsafe { PartyContext::from_token(pt) };
    let params = vc.client_params();
    vc.set_client_params(null_mut());
    let ctx = if status == NDIS_STATUS_SUCCESS {
        party.as_handle()
    } else {
        // SAFETY: the root was taken down (deactivated by an earlier
        // effect); no new call on it before this completion.
        unsafe { end_call(adapter, vc) };
        // A refusal's mark (`answer_offer`) goes before the client
        // may delete the VC: it is idle and deactivated.
        vc.end_close(&adapter.cm());
        null_mut()
    };
    // Read before the completion: a failed root is idle once NDIS has it,
    // and its client may delete it (and covmini free this context) on
    // another CPU before the call below returns.
    let (handle, party_handle) = (vc.ndis(), party.ndis());
    // SAFETY: the multipoint make call this root's handler pended:
    // its handle, the initial party's handle and (on SUCCESS) its
    // context, the client's own parameters; status never PENDING.
    unsafe { NdisMCmMakeCallComplete(status, handle, party_handle, ctx, params) };
    adapter.called(Ddi::NdisMCmMakeCallComplete, handle, status);
    if status == NDIS_STATUS_SUCCESS {
        // The core pinned the party and the root for this call.
        party_unpinned(adapter, party.id());
    }
}

/// Performs [`Effect::CompleteAddParty`].
fn complete_add_party(adapter: &AdapterContext, pt: usize, status: NDIS_STATUS) {
    // SAFETY: a live party token from the core: a failed party is
    // freed by a later effect, a connected one is pinned until
    // party_unpinned below.
    let party = unsafe { PartyContext::from_token(pt) };
    let ctx = if status == NDIS_STATUS_SUCCESS {
        party.as_handle()
    } else {
        null_mut()
    };
    // SAFETY: the add party this party's handler pended: its handle,
    // (on SUCCESS) its context, the client's parameters, which NDIS
    // keeps alive until this completion; status never PENDING.
    unsafe { NdisMCmAddPartyComplete(status, party.ndis(), ctx, party.client_params()) };
    adapter.called(Ddi::NdisMCmAddPartyComplete, party.ndis(), status);
    if status == NDIS_STATUS_SUCCESS {
        // The core pinned the party (and its root) for this call.
        party_unpinned(adapter, party.id());
    }
}

/// Performs [`Effect::DispatchIncomingDropParty`].
fn dispatch_incoming_drop_party(adapter: &AdapterContext, pt: usize) {
    // SAFETY: a live party token from the core: the core pinned the
    // party (and its root) for this call, so it is freed no earlier
    // than party_unpinned below.
    let party = unsafe { PartyContext::from_token(pt) };
    // SAFETY: a party of a call with other parties left whose leaf
    // hung up; no close data.
    unsafe { NdisMCmDispatchIncomingDropParty(NDIS_STATUS_SUCCESS, party.ndis(), null_mut(), 0) };
    adapter.called(Ddi::NdisMCmDispatchIncomingDropParty, party.ndis(), NDIS_STATUS_SUCCESS);
    party_unpinned(adapter, party.id());
}

/// Performs [`Effect::FreeParty`].
fn free_party(adapter: &AdapterContext, pt: usize) {
    // SAFETY: a live party token from the core: FreeParty is the last
    // effect naming the party, and the context is freed below after its last use.
    let party = unsafe { PartyContext::from_token(pt) };
    party.kill();
    // SAFETY: from this adapter's party list; not used after.
    unsafe { adapter.party_list().free(NonNull::from(party)) };
}

/// An effect naming `party` that the core pinned it (and its root) for was
/// made: drops those pins ([`Cm::party_dispatched`], which may free the
/// party), then completes each add of the same call whose failure waited
/// for the incoming drop parties on their way ([`Cm::release_failed_add`]).
pub(super) fn party_unpinned(adapter: &AdapterContext, party: PartyId) {
    let (fx, root) = {
        let mut cm = adapter.cm();
        let root = cm.party_root(party);
        (cm.party_dispatched(party), root)
    };
    perform(adapter, &fx);
    let Some(root) = root else { return };
    // Each round completes and frees one party: at most MAX_PARTIES rounds.
    // (The lock's guard is dropped before the effects are performed.)
    loop {
        let released = adapter.cm().release_failed_add(root);
        let Some(fx) = released else { break };
        perform(adapter, &fx);
    }
}

pub(super) fn free_vc(adapter: &AdapterContext, vc: &VcContext) {
    // SAFETY: a VC that goes is inactive and NDIS forgot it (or never knew
    // it): nothing reads its call's parameters any more.
    unsafe { end_call(adapter, vc) };
    vc.kill();
    // SAFETY: from this adapter's VC list; the core forgot it; not used after.
    unsafe { adapter.vc_list().free(NonNull::from(vc)) };
}

/// A call block for a call with `shape` to `address` (see the module
/// docs), or None when pool is exhausted.
pub(super) fn take_call(adapter: &AdapterContext, shape: &CallShape, address: &Address) -> Option<NonNull<CallBlock>> {
    CallBlock::alloc(adapter.call_list(), shape, address.as_bytes())
}

/// Gives back a call block no VC holds and NDIS never saw.
///
/// # Safety
/// `block` came from [`take_call`] on this adapter, was never attached to
/// a VC nor handed to NDIS, and is not used after.
pub(super) unsafe fn drop_call(adapter: &AdapterContext, block: NonNull<CallBlock>) {
    // SAFETY: `block` came from take_call on this adapter's call list, and
    // no VC nor NDIS call holds it, nor uses it after (precondition).
    unsafe { CallBlock::free(adapter.call_list(), block) };
}

/// Attaches a new call's block to `vc` (the core just let the call begin
/// on it, so nothing else attaches one now). A block still attached from an
/// earlier call would mean that call's end forgot it: covmini's bug; that
/// call is over, so the block goes now, and the trace says so.
pub(super) fn begin_call(adapter: &AdapterContext, vc: &VcContext, block: NonNull<CallBlock>) {
    if let Some(stale) = vc.attach_call(block) {
        trace!(
            ERROR,
            "VC {:p}: an ended call's block was still attached",
            vc.as_handle()
        );
        // SAFETY: the core let a new call begin on the VC, so the earlier
        // call is over and nothing reads its block; it was just detached.
        unsafe { CallBlock::free(adapter.call_list(), stale) };
    }
}

/// The call on `vc` is over: its block (if any) goes back to its list.
///
/// # Safety
/// Nothing reads the block's parameters any more, nor will: the VC is
/// deactivated (or was never activated) and the request that ends the call
/// is being answered by the caller, so NDIS begins no new call on the VC
/// before this returns (a make call's failure, a close's completion, the
/// VC's deletion).
pub(super) unsafe fn end_call(adapter: &AdapterContext, vc: &VcContext) {
    if let Some(block) = vc.detach_call() {
        // SAFETY: detached, so no VC holds it; no reader (precondition).
        unsafe { CallBlock::free(adapter.call_list(), block) };
    }
}

/// What a handler that set up a call on `vc` returns: `status`, after
/// giving the call's block back if the call failed (anything but SUCCESS
/// or PENDING: the core took the call down before answering so).
///
/// # Safety
/// `vc` is the VC of the make call being answered with `status`.
pub(super) unsafe fn call_result(adapter: &AdapterContext, vc: &VcContext, status: NDIS_STATUS) -> NDIS_STATUS {
    if status != NDIS_STATUS_SUCCESS && status != NDIS_STATUS_PENDING {
        // SAFETY: a failed make call leaves its VC deactivated (core), and
        // the client makes no new call on it before this handler returns.
        unsafe { end_call(adapter, vc) };
        // A refusal's mark (`answer_offer`) goes before the handler returns
        // (after which the client may delete the VC).
        vc.end_close(&adapter.cm());
    }
    status
}

/// Performs a handler's finish and returns what the handler returns.
pub(super) fn finish(adapter: &AdapterContext, f: &Finish<usize>) -> NDIS_STATUS {
    match f {
        Finish::Return(status, fx) => {
            perform(adapter, fx);
            *status
        }
        Finish::Pend(fx) => {
            perform(adapter, fx);
            NDIS_STATUS_PENDING
        }
    }
}

/// Runs `op` on the locked call manager if it still knows the context
/// (`known`: its id names a live object with this context's token), so the
/// check and the operation see the same state.
pub(super) fn checked<R>(
    adapter: &AdapterContext,
    known: impl FnOnce(&Cm) -> bool,
    op: impl FnOnce(&mut Cm) -> Result<R, Refusal>,
) -> Result<R, Refusal> {
    let mut cm = adapter.cm();
    if !known(&cm) {
        super::flight::refused(adapter.flight(), Refusal::Invalid);
        return Err(Refusal::Invalid);
    }
    let result = op(&mut cm);
    if let Err(r) = result {
        super::flight::refused(adapter.flight(), r);
    }
    result
}

/// `op` on the call manager, for a VC it knows.
pub(super) fn on_vc<R>(vc: &VcContext, op: impl FnOnce(&mut Cm) -> Result<R, Refusal>) -> Result<R, Refusal> {
    checked(vc.adapter(), |cm| cm.vc_is(vc.id(), vc.token()), op)
}

/// `op` on the call manager, for a party it knows.
pub(super) fn on_party<R>(party: &PartyContext, op: impl FnOnce(&mut Cm) -> Result<R, Refusal>) -> Result<R, Refusal> {
    checked(party.adapter(), |cm| cm.party_is(party.id(), party.token()), op)
}

/// `op` on the call manager, for an AF open it knows.
pub(super) fn on_af<R>(af: &AfContext, op: impl FnOnce(&mut Cm) -> Result<R, Refusal>) -> Result<R, Refusal> {
    checked(af.adapter(), |cm| cm.af_is(af.id(), af.token()), op)
}

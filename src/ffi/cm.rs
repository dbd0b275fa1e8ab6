//! The call-manager handlers (NDIS_CO_CALL_MANAGER_OPTIONAL_HANDLERS).
//!
//! Each handler recovers and checks its context, reads what NDIS passed
//! (bounded by the FFI-free checks of [`crate::call_manager`]), asks the core
//! what to do under the adapter lock, drops the lock, and performs the
//! core's [`Effects`] in order ([`perform`]): NDIS re-enters covmini from most
//! of those calls, so none is made with the lock held.
//!
//! Point-to-multipoint calls (a make call with an initial party,
//! AddParty, DropParty, a root's close) go through the core's party state
//! machine ([`crate::call_manager`]'s `party` module); each party's leaf is
//! offered an ordinary incoming call on a VC covmini creates.
//!
//! Call-manager OIDs are answered by `super::oid` (ProtocolCoOidRequest
//! below only hands them over); they never pend.
//!
//! Call blocks ([`CallBlock`], tag `CvmC`): each VC that carries a call
//! holds one with the parameters covmini activated it with. The call's
//! setup takes them before anything else (the caller's, and the callee's or
//! leaf's with its VC context), so a refused allocation is
//! NDIS_STATUS_RESOURCES with nothing begun; [`end_call`] gives a client
//! VC's block back once its call is over (the make call failed, or its
//! close completes), an MCM-created VC's goes with the VC ([`free_vc`]).
//! None is taken or given back on the data path.

use core::ptr::{NonNull, null_mut};

use ndis_sys::*;

use super::cm_context::{AfContext, CallBlock, CallShape, PartyContext, SapContext, Signed, VcContext};
use super::context::{AdapterContext, Cm};
use super::oid;
use super::trace::{ERROR, INFO, WARN};
use crate::call_manager::{
    Address, CallParamsError, ECHO_ADDRESS, Effect, Effects, Finish, Handlers, PartyId, Refusal, Via,
    check_called_address_header, check_flows, check_sap_header, clamp_flow,
};
use crate::config;

// --- Performing the core's effects -------------------------------------------------

/// Performs `fx` in order. Called with the adapter lock released.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL (every DDI it calls allows it).
pub(super) fn perform(adapter: &AdapterContext, fx: Effects<usize>) {
    if fx.overflowed() {
        trace!(ERROR, "call manager: effects overflowed (a core bug): some were lost");
    }
    for effect in fx.iter() {
        perform_one(adapter, effect);
    }
}

fn perform_one(adapter: &AdapterContext, effect: Effect<usize>) {
    match effect {
        Effect::DeactivateVc(t) => {
            // SAFETY: a live VC token from the core (freed only by a later effect).
            let vc = unsafe { VcContext::from_token(t) };
            // SAFETY: the VC's NdisVcHandle; IRQL <= DISPATCH_LEVEL.
            let s = unsafe { NdisMCmDeactivateVc(vc.ndis()) };
            if s != NDIS_STATUS_SUCCESS {
                trace!(WARN, "NdisMCmDeactivateVc({:p}): {:#010x}", vc.ndis(), s);
            }
        }
        Effect::DispatchCallConnected(t) => {
            // SAFETY: as above.
            let vc = unsafe { VcContext::from_token(t) };
            // SAFETY: the MCM VC whose offer the client accepted.
            unsafe { NdisMCmDispatchCallConnected(vc.ndis()) };
        }
        Effect::CompleteMakeCall(t, status) => {
            // SAFETY: as above.
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
            // SAFETY: the make call this VC's handler pended: its handle, no
            // party (point to point), the client's own parameters, which NDIS
            // keeps alive until this completion; status never PENDING (core).
            unsafe { NdisMCmMakeCallComplete(status, vc.ndis(), null_mut(), null_mut(), params) };
            if status == NDIS_STATUS_SUCCESS {
                // The core pinned the caller for this call: a close that
                // crossed it finishes now.
                let fx = adapter.cm().make_call_completed(vc.id());
                perform(adapter, fx);
            }
        }
        Effect::DispatchIncomingClose(t) => {
            // SAFETY: as above.
            let vc = unsafe { VcContext::from_token(t) };
            // SAFETY: a VC that carries a call whose other side hung up; no
            // close data. The core pinned it for this call, so its client's
            // close cannot delete it before we are done.
            unsafe { NdisMCmDispatchIncomingCloseCall(NDIS_STATUS_SUCCESS, vc.ndis(), null_mut(), 0) };
            let fx = adapter.cm().unpin(vc.id(), 1);
            perform(adapter, fx);
        }
        Effect::CompleteCloseCall(t) => {
            // SAFETY: as above.
            let vc = unsafe { VcContext::from_token(t) };
            // SAFETY: the VC was deactivated by an earlier effect of this
            // close, and no new call can begin on it before this completion.
            unsafe { end_call(adapter, vc) };
            vc.end_close(&adapter.cm());
            // SAFETY: the close this VC's handler is pending; the party
            // handle it came with (a multipoint root's last party) or NULL.
            unsafe { NdisMCmCloseCallComplete(NDIS_STATUS_SUCCESS, vc.ndis(), vc.close_party()) };
        }
        Effect::DeleteVc(t) => {
            // SAFETY: as above; this is the last effect naming the VC.
            let vc = unsafe { VcContext::from_token(t) };
            // SAFETY: an MCM-created, deactivated VC (core); the handle is
            // dead when the call returns.
            let s = unsafe { NdisMCmDeleteVc(vc.ndis()) };
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
        Effect::FreeVc(t) => {
            // SAFETY: as above; the last effect naming the VC.
            free_vc(adapter, unsafe { VcContext::from_token(t) });
        }
        Effect::CompleteDeregisterSap(t) => {
            // SAFETY: a live SAP token from the core.
            let sap = unsafe { SapContext::from_token(t) };
            // SAFETY: the deregistration this SAP's handler pended.
            unsafe { NdisMCmDeregisterSapComplete(NDIS_STATUS_SUCCESS, sap.ndis()) };
        }
        Effect::FreeSap(t) => {
            // SAFETY: as above; the last effect naming the SAP.
            let sap = unsafe { SapContext::from_token(t) };
            sap.kill();
            // SAFETY: from this adapter's SAP list; not used after.
            unsafe { adapter.sap_list().free(NonNull::from(sap)) };
        }
        Effect::CompleteCloseAf(t) => {
            // SAFETY: a live AF token from the core.
            let af = unsafe { AfContext::from_token(t) };
            // SAFETY: the close this AF's handler pended.
            unsafe { NdisMCmCloseAddressFamilyComplete(NDIS_STATUS_SUCCESS, af.ndis()) };
        }
        Effect::FreeAf(t) => {
            // SAFETY: as above; the last effect naming the AF.
            let af = unsafe { AfContext::from_token(t) };
            af.kill();
            // SAFETY: from this adapter's AF list; not used after.
            unsafe { adapter.af_list().free(NonNull::from(af)) };
        }
        Effect::HaltAfDone => {
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
        Effect::CompleteMakeCallParty(vt, pt, status) => {
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
            // SAFETY: the multipoint make call this root's handler pended:
            // its handle, the initial party's handle and (on SUCCESS) its
            // context, the client's own parameters; status never PENDING.
            unsafe { NdisMCmMakeCallComplete(status, vc.ndis(), party.ndis(), ctx, params) };
            if status == NDIS_STATUS_SUCCESS {
                // The core pinned the party and the root for this call.
                party_unpinned(adapter, party.id());
            }
        }
        Effect::CompleteAddParty(pt, status) => {
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
            if status == NDIS_STATUS_SUCCESS {
                // The core pinned the party (and its root) for this call.
                party_unpinned(adapter, party.id());
            }
        }
        Effect::DispatchIncomingDropParty(pt) => {
            // SAFETY: as above; the core pinned the party (and its root)
            // for this call.
            let party = unsafe { PartyContext::from_token(pt) };
            // SAFETY: a party of a call with other parties left whose leaf
            // hung up; no close data.
            unsafe { NdisMCmDispatchIncomingDropParty(NDIS_STATUS_SUCCESS, party.ndis(), null_mut(), 0) };
            party_unpinned(adapter, party.id());
        }
        Effect::CompleteDropParty(pt) => {
            // SAFETY: as above.
            let party = unsafe { PartyContext::from_token(pt) };
            // SAFETY: the drop this party's handler pended.
            unsafe { NdisMCmDropPartyComplete(NDIS_STATUS_SUCCESS, party.ndis()) };
        }
        Effect::FreeParty(pt) => {
            // SAFETY: as above; the last effect naming the party.
            let party = unsafe { PartyContext::from_token(pt) };
            party.kill();
            // SAFETY: from this adapter's party list; not used after.
            unsafe { adapter.party_list().free(NonNull::from(party)) };
        }
    }
}

/// An effect naming `party` that the core pinned it (and its root) for was
/// made: drops those pins ([`Cm::party_dispatched`], which may free the
/// party), then completes each add of the same call whose failure waited
/// for the incoming drop parties on their way ([`Cm::release_failed_add`]).
fn party_unpinned(adapter: &AdapterContext, party: PartyId) {
    let (fx, root) = {
        let mut cm = adapter.cm();
        let root = cm.party_root(party);
        (cm.party_dispatched(party), root)
    };
    perform(adapter, fx);
    let Some(root) = root else { return };
    // Each round completes and frees one party: at most MAX_PARTIES rounds.
    // (The lock's guard is dropped before the effects are performed.)
    loop {
        let released = adapter.cm().release_failed_add(root);
        let Some(fx) = released else { break };
        perform(adapter, fx);
    }
}

fn free_vc(adapter: &AdapterContext, vc: &VcContext) {
    // SAFETY: a VC that goes is inactive and NDIS forgot it (or never knew
    // it): nothing reads its call's parameters any more.
    unsafe { end_call(adapter, vc) };
    vc.kill();
    // SAFETY: from this adapter's VC list; the core forgot it; not used after.
    unsafe { adapter.vc_list().free(NonNull::from(vc)) };
}

/// A call block for a call with `shape` to `address` (see the module
/// docs), or None when pool is exhausted.
fn take_call(adapter: &AdapterContext, shape: &CallShape, address: &Address) -> Option<NonNull<CallBlock>> {
    CallBlock::alloc(adapter.call_list(), shape, address.as_bytes())
}

/// Gives back a call block no VC holds and NDIS never saw.
///
/// # Safety
/// `block` came from [`take_call`] on this adapter, was never attached to
/// a VC nor handed to NDIS, and is not used after.
unsafe fn drop_call(adapter: &AdapterContext, block: NonNull<CallBlock>) {
    // SAFETY: as the precondition says.
    unsafe { CallBlock::free(adapter.call_list(), block) };
}

/// Attaches a new call's block to `vc` (the core just let the call begin
/// on it, so nothing else attaches one now). A block still attached from an
/// earlier call would mean that call's end forgot it: covmini's bug; that
/// call is over, so the block goes now, and the trace says so.
fn begin_call(adapter: &AdapterContext, vc: &VcContext, block: NonNull<CallBlock>) {
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
unsafe fn end_call(adapter: &AdapterContext, vc: &VcContext) {
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
unsafe fn call_result(adapter: &AdapterContext, vc: &VcContext, status: NDIS_STATUS) -> NDIS_STATUS {
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
fn finish(adapter: &AdapterContext, f: Finish<usize>) -> NDIS_STATUS {
    match f {
        Finish::Return(status, fx) => {
            perform(adapter, fx);
            status
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
fn checked<R>(
    adapter: &AdapterContext,
    known: impl FnOnce(&Cm) -> bool,
    op: impl FnOnce(&mut Cm) -> Result<R, Refusal>,
) -> Result<R, Refusal> {
    let mut cm = adapter.cm();
    if !known(&cm) {
        return Err(Refusal::Invalid);
    }
    op(&mut cm)
}

/// `op` on the call manager, for a VC it knows.
fn on_vc<R>(vc: &VcContext, op: impl FnOnce(&mut Cm) -> Result<R, Refusal>) -> Result<R, Refusal> {
    checked(vc.adapter(), |cm| cm.vc_is(vc.id(), vc.token()), op)
}

/// `op` on the call manager, for a party it knows.
fn on_party<R>(party: &PartyContext, op: impl FnOnce(&mut Cm) -> Result<R, Refusal>) -> Result<R, Refusal> {
    checked(party.adapter(), |cm| cm.party_is(party.id(), party.token()), op)
}

/// `op` on the call manager, for an AF open it knows.
fn on_af<R>(af: &AfContext, op: impl FnOnce(&mut Cm) -> Result<R, Refusal>) -> Result<R, Refusal> {
    checked(af.adapter(), |cm| cm.af_is(af.id(), af.token()), op)
}

// --- Address families -------------------------------------------------------------

ndis_fn! {
    /// ProtocolCmOpenAf: a client opens covmini's AF. Answered at once.
    ///
    /// Status for an AF covmini does not provide: the ProtocolCmOpenAf page
    /// documents no status for an unsupported AF: its returns are SUCCESS,
    /// PENDING, RESOURCES and FAILURE, the last also standing for an error
    /// propagated from NDIS or any error status the driver writer finds
    /// appropriate (learn.microsoft.com/windows-hardware/drivers/ddi/ndis/nc-ndis-protocol_cm_open_af).
    /// A wrong AddressFamily cannot arrive (NDIS matches on it, contract
    /// §3.1 [B]) and is refused with FAILURE; a version covmini does not
    /// speak (other major, or a newer minor) with NDIS_STATUS_BAD_VERSION,
    /// the more precise error that paragraph allows.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn open_af(binding: NDIS_HANDLE, af: PCO_ADDRESS_FAMILY, ndis_af: NDIS_HANDLE, af_ctx: PNDIS_HANDLE) -> NDIS_STATUS {
        // SAFETY: for an MCM the binding context is our MiniportAdapterContext (contract §2.1).
        let Some(adapter) = (unsafe { AdapterContext::from_context(binding) }) else {
            trace!(ERROR, "ProtocolCmOpenAf: not an adapter context: {:p}", binding);
            return NDIS_STATUS_FAILURE;
        };
        let _running = adapter.running();
        if af.is_null() || af_ctx.is_null() {
            return NDIS_STATUS_INVALID_PARAMETER;
        }
        // SAFETY: NDIS's CO_ADDRESS_FAMILY, valid for the call.
        let requested = unsafe { af.read_unaligned() };
        if requested.AddressFamily != config::COVMINI_AF {
            trace!(WARN, "ProtocolCmOpenAf: AF {:#x} is not covmini's", requested.AddressFamily);
            return NDIS_STATUS_FAILURE;
        }
        if requested.MajorVersion != config::AF_MAJOR_VERSION || requested.MinorVersion > config::AF_MINOR_VERSION {
            trace!(WARN, "ProtocolCmOpenAf: AF version {}.{} not supported", requested.MajorVersion, requested.MinorVersion);
            return NDIS_STATUS_BAD_VERSION;
        }
        // The data path's receive NBLs, made with the first AF open.
        if let Err(status) = adapter.rx().ensure(adapter.miniport_handle()) {
            return status;
        }
        let Some(ctx) = adapter.af_list().alloc(AfContext::new(adapter, ndis_af)) else {
            return NDIS_STATUS_RESOURCES;
        };
        // SAFETY: just allocated, ours.
        let ctx_ref = unsafe { ctx.as_ref() };
        let opened = adapter.cm().open_af(ctx_ref.token());
        match opened {
            Ok(id) => {
                ctx_ref.set_id(id);
                // SAFETY: NDIS's out slot for CallMgrAfContext (checked non-NULL).
                unsafe { af_ctx.write(ctx_ref.as_handle()) };
                trace!(INFO, "ProtocolCmOpenAf({:p}) -> AF context {:p}", ndis_af, ctx_ref.as_handle());
                NDIS_STATUS_SUCCESS
            }
            Err(refusal) => {
                ctx_ref.kill();
                // SAFETY: allocated above, never given to NDIS.
                unsafe { adapter.af_list().free(ctx) };
                refusal.status()
            }
        }
    }
}

ndis_fn! {
    /// ProtocolCmCloseAf: succeeds at once when the open has no SAP and no
    /// VC left; otherwise pends, and NdisMCmCloseAddressFamilyComplete
    /// follows when the last one goes (contract §3.1: pending is preferred).
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn close_af(af_ctx: NDIS_HANDLE) -> NDIS_STATUS {
        // SAFETY: NDIS passes back the CallMgrAfContext covmini gave it.
        let Some(af) = (unsafe { AfContext::from_handle(af_ctx) }) else {
            trace!(ERROR, "ProtocolCmCloseAf: not an AF context: {:p}", af_ctx);
            return NDIS_STATUS_FAILURE;
        };
        let adapter = af.adapter();
        let _running = adapter.running();
        match on_af(af, |cm| cm.close_af(af.id())) {
            Ok(f) => finish(adapter, f),
            Err(r) => {
                trace!(ERROR, "ProtocolCmCloseAf({:p}): {:?}", af_ctx, r);
                r.status()
            }
        }
    }
}

ndis_fn! {
    /// ProtocolCmNotifyCloseAfComplete: the client finished closing an AF
    /// covmini asked it to close at halt (NdisClNotifyCloseAddressFamilyComplete).
    /// The AF context goes now if the AF is closed, and halt stops waiting
    /// for it (if its close is still under way, halt waits for that close
    /// instead). Halt's count drops when the handler ends, and the last
    /// drop wakes MiniportHaltEx, which may then free the adapter on its own
    /// CPU: that is the very last thing this handler does (its `Running`
    /// guard).
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL. Takes the adapter's call-manager lock
    /// only to ask the core, and releases it before any NDIS call.
    pub(super) unsafe fn notify_close_af_complete(af_ctx: NDIS_HANDLE, status: NDIS_STATUS) {
        // SAFETY: the CallMgrAfContext of the AF covmini notified.
        let Some(af) = (unsafe { AfContext::from_handle(af_ctx) }) else {
            trace!(ERROR, "ProtocolCmNotifyCloseAfComplete: not an AF context: {:p}", af_ctx);
            return;
        };
        trace!(INFO, "ProtocolCmNotifyCloseAfComplete({:p}, {:#010x})", af_ctx, status);
        let adapter = af.adapter();
        let _running = adapter.running();
        match on_af(af, |cm| cm.notify_close_done(af.id(), false)) {
            Ok(fx) => perform(adapter, fx),
            Err(_) => {
                let when = if adapter.halting() { "not notified" } else { "outside halt" };
                trace!(WARN, "ProtocolCmNotifyCloseAfComplete({:p}): {}", af_ctx, when);
            }
        }
    }
}

/// MiniportHaltEx's part: decides with the core which AFs it waits for,
/// asks every client with the AF still open to close it
/// (NdisMCmNotifyCloseAddressFamily, contract §1.4), then waits until each
/// AF it waits for is closed (its close completed, and its notification,
/// if any, complete: ProtocolCmNotifyCloseAfComplete, which a client may
/// call long after the notification returned PENDING, from its own
/// thread) and no call-manager handler is still running. An AF whose close
/// covmini pended is not notified (NDIS refuses to: it is closing) but
/// waited for all the same: its client, unbinding, removes what it left,
/// and covmini completes the close when the last SAP or VC goes. Returns
/// how many AF opens, SAPs and VCs are still alive afterwards: all zero
/// once every client closed its AF.
///
/// The wait has no timeout. A client that pends its notification or its
/// close still holds its AF, and through it covmini's AF, SAP and VC
/// contexts and the adapter: after a timeout covmini could neither free
/// them (the client's close would then run on freed memory, the
/// use-after-free this wait exists to prevent) nor return from HaltEx with
/// the AF open (contract §8.10). Every MCM waits here the same way; a client
/// that never answers is a hung unbind that WinDbg shows (`!ndiskd.af`,
/// this thread in NdisWaitEvent), not something HaltEx can repair.
///
/// # IRQL
/// Runs at IRQL = PASSIVE_LEVEL (NdisMCmNotifyCloseAddressFamily and
/// NdisWaitEvent require it), with no lock held across the NDIS calls or the
/// wait: the clients' closes re-enter covmini's handlers meanwhile.
pub(super) fn notify_close_all(adapter: &AdapterContext) -> (usize, usize, usize) {
    adapter.begin_halt();
    let plan = {
        let mut cm = adapter.cm();
        let plan = cm.begin_halt();
        adapter.hold_for_halt(plan.holds);
        plan
    };
    for (id, token) in plan.notify.into_iter().flatten() {
        // SAFETY: a live AF token: the AF cannot be freed while notified.
        let af = unsafe { AfContext::from_token(token) };
        // SAFETY: the NdisAfHandle of an open AF; PASSIVE_LEVEL (HaltEx).
        let status = unsafe { NdisMCmNotifyCloseAddressFamily(af.ndis()) };
        // A close the client made before or during the call pended for it
        // (the handle had to stay valid for NDIS): it completes now.
        let fx = adapter.cm().notify_returned(id);
        perform(adapter, fx);
        if status != NDIS_STATUS_PENDING {
            // NDIS refused (the AF is already closing): no completion
            // follows; halt waits for that close instead.
            trace!(
                WARN,
                "NdisMCmNotifyCloseAddressFamily({:p}): {:#010x}",
                af.ndis(),
                status
            );
            match adapter.cm().notify_close_done(id, true) {
                Ok(fx) => perform(adapter, fx),
                Err(r) => trace!(ERROR, "HaltEx: refused notification of AF {}: {:?}", id.raw(), r),
            }
        }
    }
    // HaltEx's own count: the last AF may have been released already.
    // SAFETY: HaltEx's own adapter, which only HaltEx frees (after this
    // function): setting the event here cannot free it.
    let _ = unsafe { AdapterContext::halt_release(adapter) };
    if !adapter.wait_for_halt() {
        trace!(ERROR, "HaltEx: the wait for the clients' AF closes ended unsatisfied");
    }
    adapter.cm().live()
}

// --- Reading a client's blocks ------------------------------------------------------
//
// CO_SAP, CO_CALL_MANAGER_PARAMETERS and CO_MEDIA_PARAMETERS end in a
// one-byte `[1]` array, so their `sizeof` (12, 76, 32 on x64) counts bytes of
// the tail and padding. A client that allocates the fixed fields and the
// tail it states, no more, is within the contract, and a copy of the whole
// structure would read past its block: these read field by field.

/// The ULONG at `offset` bytes into a client's structure at `base`.
///
/// # Safety
/// `base` is non-NULL and the 4 bytes at `offset` are readable: a field of
/// the fixed part the client must provide.
unsafe fn field_u32<T>(base: *const T, offset: usize) -> ULONG {
    // SAFETY: as the precondition says; read unaligned (a client's block
    // need not be aligned on every architecture's terms).
    unsafe { base.wrapping_byte_add(offset).cast::<ULONG>().read_unaligned() }
}

/// The Transmit and Receive FLOWSPECs of a client's
/// CO_CALL_MANAGER_PARAMETERS, and nothing after them.
///
/// # Safety
/// `cm` is non-NULL and points at the client's CO_CALL_MANAGER_PARAMETERS:
/// at least its two FLOWSPECs are readable.
unsafe fn read_flows(cm: PCO_CALL_MANAGER_PARAMETERS) -> (FLOWSPEC, FLOWSPEC) {
    let tx = cm
        .wrapping_byte_add(core::mem::offset_of!(CO_CALL_MANAGER_PARAMETERS, Transmit))
        .cast::<FLOWSPEC>();
    let rx = cm
        .wrapping_byte_add(core::mem::offset_of!(CO_CALL_MANAGER_PARAMETERS, Receive))
        .cast::<FLOWSPEC>();
    // SAFETY: the first FLOWSPEC of the fixed part (precondition).
    let transmit = unsafe { tx.read_unaligned() };
    // SAFETY: the second FLOWSPEC of the fixed part (precondition).
    let receive = unsafe { rx.read_unaligned() };
    (transmit, receive)
}

// --- SAPs -------------------------------------------------------------------------

/// Reads a CO_SAP into a covmini address.
///
/// # Safety
/// `sap` is NULL or NDIS's CO_SAP, holding SapLength bytes after its header.
unsafe fn read_sap(sap: PCO_SAP) -> Result<Address, NDIS_STATUS> {
    if sap.is_null() {
        return Err(NDIS_STATUS_INVALID_DATA);
    }
    // SAFETY: non-null CO_SAP; SapType is in its 8-byte header (precondition).
    let sap_type = unsafe { field_u32(sap, core::mem::offset_of!(CO_SAP, SapType)) };
    // SAFETY: as above, for SapLength.
    let sap_length = unsafe { field_u32(sap, core::mem::offset_of!(CO_SAP, SapLength)) };
    let len = check_sap_header(sap_type, sap_length).map_err(|e| {
        trace!(WARN, "ProtocolCmRegisterSap: {:?}", e);
        e.status()
    })?;
    let tail = sap.cast::<u8>().wrapping_add(core::mem::offset_of!(CO_SAP, Sap));
    // SAFETY: the SAP holds SapLength >= len bytes after the header
    // (precondition); len <= MAX_ADDRESS_LEN was checked before this read.
    let bytes = unsafe { core::slice::from_raw_parts(tail, len) };
    Address::new(bytes).map_err(|_| NDIS_STATUS_INVALID_DATA)
}

ndis_fn! {
    /// ProtocolCmRegisterSap: a SAP of type [`crate::call_manager::SAP_TYPE_ADDRESS`]
    /// whose bytes are a covmini address (1..=32 bytes). Answered at once:
    /// NDIS_STATUS_INVALID_DATA for a malformed SAP, or for an address
    /// already registered on the adapter (the page's status for a SAP
    /// already in use, contract §3.2 [D]; SAP_IN_USE is not among
    /// ProtocolCmRegisterSap's documented returns).
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn register_sap(af_ctx: NDIS_HANDLE, sap: PCO_SAP, ndis_sap: NDIS_HANDLE, sap_ctx: PNDIS_HANDLE) -> NDIS_STATUS {
        // SAFETY: NDIS passes back the CallMgrAfContext covmini gave it.
        let Some(af) = (unsafe { AfContext::from_handle(af_ctx) }) else {
            trace!(ERROR, "ProtocolCmRegisterSap: not an AF context: {:p}", af_ctx);
            return NDIS_STATUS_FAILURE;
        };
        if sap_ctx.is_null() {
            return NDIS_STATUS_INVALID_PARAMETER;
        }
        // SAFETY: NDIS's CO_SAP for this call (or NULL, refused inside).
        let address = match unsafe { read_sap(sap) } {
            Ok(a) => a,
            Err(s) => return s,
        };
        let adapter = af.adapter();
        let _running = adapter.running();
        let Some(ctx) = adapter.sap_list().alloc(SapContext::new(adapter, ndis_sap)) else {
            return NDIS_STATUS_RESOURCES;
        };
        // SAFETY: just allocated, ours.
        let ctx_ref = unsafe { ctx.as_ref() };
        match on_af(af, |cm| cm.register_sap(af.id(), ctx_ref.token(), address)) {
            Ok(id) => {
                ctx_ref.set_id(id);
                // SAFETY: NDIS's out slot for CallMgrSapContext (checked non-NULL).
                unsafe { sap_ctx.write(ctx_ref.as_handle()) };
                trace!(INFO, "ProtocolCmRegisterSap({:p}): {:?}", ndis_sap, address);
                NDIS_STATUS_SUCCESS
            }
            Err(r) => {
                trace!(WARN, "ProtocolCmRegisterSap({:?}): {:?}", address, r);
                ctx_ref.kill();
                // SAFETY: allocated above, never given to NDIS.
                unsafe { adapter.sap_list().free(ctx) };
                r.status()
            }
        }
    }
}

ndis_fn! {
    /// ProtocolCmDeregisterSap: at once, unless an incoming call is being
    /// offered on the SAP at this moment (then it pends until that offer
    /// returns). Calls already received on the SAP are not affected.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn deregister_sap(sap_ctx: NDIS_HANDLE) -> NDIS_STATUS {
        // SAFETY: NDIS passes back the CallMgrSapContext covmini gave it.
        let Some(sap) = (unsafe { SapContext::from_handle(sap_ctx) }) else {
            trace!(ERROR, "ProtocolCmDeregisterSap: not a SAP context: {:p}", sap_ctx);
            return NDIS_STATUS_FAILURE;
        };
        let adapter = sap.adapter();
        let _running = adapter.running();
        match checked(adapter, |cm| cm.sap_is(sap.id(), sap.token()), |cm| cm.deregister_sap(sap.id())) {
            Ok(f) => finish(adapter, f),
            Err(r) => r.status(),
        }
    }
}

// --- VCs --------------------------------------------------------------------------

ndis_fn! {
    /// ProtocolCoCreateVc: a client creates a VC on its AF (for an MCM NDIS
    /// passes the CallMgrAfContext, contract §1.2 (b) [B]). Never PENDING.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn create_vc(af_ctx: NDIS_HANDLE, ndis_vc: NDIS_HANDLE, vc_ctx: PNDIS_HANDLE) -> NDIS_STATUS {
        // SAFETY: the CallMgrAfContext covmini gave NDIS.
        let Some(af) = (unsafe { AfContext::from_handle(af_ctx) }) else {
            trace!(ERROR, "ProtocolCoCreateVc: not an AF context: {:p}", af_ctx);
            return NDIS_STATUS_FAILURE;
        };
        if vc_ctx.is_null() {
            return NDIS_STATUS_INVALID_PARAMETER;
        }
        let adapter = af.adapter();
        let _running = adapter.running();
        let Some(ctx) = adapter.vc_list().alloc(VcContext::new(adapter, ndis_vc)) else {
            return NDIS_STATUS_RESOURCES;
        };
        // SAFETY: just allocated, ours.
        let ctx_ref = unsafe { ctx.as_ref() };
        match on_af(af, |cm| cm.create_vc(af.id(), ctx_ref.token())) {
            Ok(id) => {
                ctx_ref.set_id(id);
                // SAFETY: NDIS's out slot for ProtocolVcContext (checked non-NULL).
                unsafe { vc_ctx.write(ctx_ref.as_handle()) };
                NDIS_STATUS_SUCCESS
            }
            Err(r) => {
                ctx_ref.kill();
                // SAFETY: allocated above, never given to NDIS.
                unsafe { adapter.vc_list().free(ctx) };
                r.status()
            }
        }
    }
}

ndis_fn! {
    /// ProtocolCoDeleteVc: a client deletes its (inactive) VC. Never PENDING.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn delete_vc(vc_ctx: NDIS_HANDLE) -> NDIS_STATUS {
        // SAFETY: the ProtocolVcContext covmini gave NDIS.
        let Some(vc) = (unsafe { VcContext::from_handle(vc_ctx) }) else {
            trace!(ERROR, "ProtocolCoDeleteVc: not a VC context: {:p}", vc_ctx);
            return NDIS_STATUS_NOT_ACCEPTED;
        };
        let adapter = vc.adapter();
        let _running = adapter.running();
        match on_vc(vc, |cm| cm.delete_vc(vc.id())) {
            Ok(fx) => {
                perform(adapter, fx);
                NDIS_STATUS_SUCCESS
            }
            Err(r) => {
                trace!(ERROR, "ProtocolCoDeleteVc({:p}): {:?}", vc_ctx, r);
                NDIS_STATUS_NOT_ACCEPTED
            }
        }
    }
}

// --- The loopback call ---------------------------------------------------------------

/// Reads and checks a make call's parameters: the called address and the
/// flows covmini copies into its own parameters.
///
/// # Safety
/// `cp` is NULL or NDIS's CO_CALL_PARAMETERS whose non-NULL links point to
/// structures with tails of the lengths they state.
unsafe fn read_call(cp: PCO_CALL_PARAMETERS) -> Result<(Address, CallShape), CallParamsError> {
    if cp.is_null() {
        return Err(CallParamsError::NoCallParameters);
    }
    // SAFETY: non-null (precondition).
    let params = unsafe { cp.read_unaligned() };
    if params.MediaParameters.is_null() {
        return Err(CallParamsError::NoMediaParameters);
    }
    let (transmit, receive) = if params.CallMgrParameters.is_null() {
        let unspecified = FLOWSPEC {
            TokenRate: QOS_NOT_SPECIFIED,
            TokenBucketSize: QOS_NOT_SPECIFIED,
            PeakBandwidth: QOS_NOT_SPECIFIED,
            Latency: QOS_NOT_SPECIFIED,
            DelayVariation: QOS_NOT_SPECIFIED,
            ServiceType: SERVICETYPE_BESTEFFORT,
            MaxSduSize: QOS_NOT_SPECIFIED,
            MinimumPolicedSize: QOS_NOT_SPECIFIED,
        };
        (unspecified, unspecified)
    } else {
        // SAFETY: non-null link (precondition); only the two FLOWSPECs are
        // read, never the CallMgrSpecific header or tail.
        unsafe { read_flows(params.CallMgrParameters) }
    };
    let media_ptr = params.MediaParameters;
    let specific = core::mem::offset_of!(CO_MEDIA_PARAMETERS, MediaSpecific);
    // SAFETY: non-null link (precondition); Flags is in the fixed part.
    let media_flags = unsafe { field_u32(media_ptr, core::mem::offset_of!(CO_MEDIA_PARAMETERS, Flags)) };
    // SAFETY: as above, for ReceiveSizeHint.
    let receive_size_hint =
        unsafe { field_u32(media_ptr, core::mem::offset_of!(CO_MEDIA_PARAMETERS, ReceiveSizeHint)) };
    // SAFETY: as above, for MediaSpecific.ParamType.
    let param_type = unsafe {
        field_u32(
            media_ptr,
            specific + core::mem::offset_of!(CO_SPECIFIC_PARAMETERS, ParamType),
        )
    };
    // SAFETY: as above, for MediaSpecific.Length.
    let length = unsafe {
        field_u32(
            media_ptr,
            specific + core::mem::offset_of!(CO_SPECIFIC_PARAMETERS, Length),
        )
    };
    let len = check_called_address_header(param_type, length)?;
    let tail = media_ptr.cast::<u8>().wrapping_add(
        core::mem::offset_of!(CO_MEDIA_PARAMETERS, MediaSpecific)
            + core::mem::offset_of!(CO_SPECIFIC_PARAMETERS, Parameters),
    );
    // SAFETY: the tail holds Length >= len bytes (precondition); len was
    // bounded by MAX_ADDRESS_LEN before this read.
    let bytes = unsafe { core::slice::from_raw_parts(tail, len) };
    let address = Address::new(bytes).map_err(|_| CallParamsError::BadAddressLength(length))?;
    Ok((
        address,
        CallShape {
            transmit,
            receive,
            media_flags,
            receive_size_hint,
        },
    ))
}

/// Fits a new call's (or party's) flows to the link
/// ([`crate::call_manager::clamp_flow`]: TokenRate and PeakBandwidth at most
/// 125,000,000 bytes/s, MaxSduSize at most the MTU) in covmini's copy, and
/// when that changed anything writes the two FLOWSPECs back into the
/// client's CallMgrParameters and sets CALL_PARAMETERS_CHANGED in its Flags
/// (ProtocolClMakeCallComplete: the flag "indicates that the call manager
/// modified the client-supplied call parameters"). Only the fixed FLOWSPECs
/// are written, which [`read_call`] read, never the CallMgrSpecific tail.
///
/// # Safety
/// `cp` is NDIS's CO_CALL_PARAMETERS of the request being handled, already
/// read by [`read_call`] (non-NULL), which the client lets the call
/// manager change ([in, out]) until the request completes.
unsafe fn fit_flows(cp: PCO_CALL_PARAMETERS, shape: &mut CallShape) {
    let (transmit, tx_changed) = clamp_flow(&shape.transmit, config::LINK_SPEED_BPS, config::MTU);
    let (receive, rx_changed) = clamp_flow(&shape.receive, config::LINK_SPEED_BPS, config::MTU);
    if !(tx_changed || rx_changed) {
        return;
    }
    shape.transmit = transmit;
    shape.receive = receive;
    // SAFETY: non-NULL (precondition).
    let params = unsafe { cp.read_unaligned() };
    let cm = params.CallMgrParameters;
    if cm.is_null() {
        // Nothing was specified, so nothing was clamped (read_call's default).
        return;
    }
    let tx = cm
        .wrapping_byte_add(core::mem::offset_of!(CO_CALL_MANAGER_PARAMETERS, Transmit))
        .cast::<FLOWSPEC>();
    let rx = cm
        .wrapping_byte_add(core::mem::offset_of!(CO_CALL_MANAGER_PARAMETERS, Receive))
        .cast::<FLOWSPEC>();
    let flags = cp
        .wrapping_byte_add(core::mem::offset_of!(CO_CALL_PARAMETERS, Flags))
        .cast::<ULONG>();
    // SAFETY: the client's CO_CALL_MANAGER_PARAMETERS (read by read_call):
    // its fixed Transmit FLOWSPEC is in bounds; [in, out] for the call manager.
    unsafe { tx.write_unaligned(transmit) };
    // SAFETY: as above, the Receive FLOWSPEC.
    unsafe { rx.write_unaligned(receive) };
    // SAFETY: the client's CO_CALL_PARAMETERS (precondition): its Flags.
    unsafe { flags.write_unaligned(params.Flags | CALL_PARAMETERS_CHANGED) };
    trace!(INFO, "call parameters clamped to the link: CALL_PARAMETERS_CHANGED");
}

ndis_fn! {
    /// ProtocolCmMakeCall: the loopback call. Validates the parameters
    /// (MediaParameters required, the called address a covmini address),
    /// fits the flows to the link ([`fit_flows`]: written back with
    /// CALL_PARAMETERS_CHANGED when clamped),
    /// finds the SAP with that address, creates the callee's VC on the SAP's
    /// AF (NdisMCmCreateVc), activates both VCs with covmini's own copy of
    /// the parameters and offers the call (NdisMCmDispatchIncomingCall).
    ///
    /// Returns the callee's answer when it came inside the dispatch (SUCCESS,
    /// or its rejection status with both VCs deactivated), else PENDING: the
    /// callee's later answer (ProtocolCmIncomingCallComplete) completes the
    /// make call with NdisMCmMakeCallComplete, the seed page's path.
    ///
    /// No SAP with the called address: NDIS_STATUS_NO_ROUTE_TO_DESTINATION,
    /// nothing activated. A call block (the caller's or the callee's) or
    /// the callee's context the pool refuses: NDIS_STATUS_RESOURCES, taken
    /// before anything is created or activated. The address is well-formed (a malformed one is
    /// NDIS_STATUS_INVALID_ADDRESS), the fabric just has no destination for
    /// it, which is what NO_ROUTE says and INVALID_ADDRESS does not.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn make_call(vc_ctx: NDIS_HANDLE, cp: PCO_CALL_PARAMETERS, party: NDIS_HANDLE, party_ctx: PNDIS_HANDLE) -> NDIS_STATUS {
        // SAFETY: the CallMgrVcContext covmini gave NDIS.
        let Some(caller) = (unsafe { VcContext::from_handle(vc_ctx) }) else {
            trace!(ERROR, "ProtocolCmMakeCall: not a VC context: {:p}", vc_ctx);
            return NDIS_STATUS_FAILURE;
        };
        let adapter = caller.adapter();
        let _running = adapter.running();
        // SAFETY: NDIS's call parameters for this call (or NULL, refused inside).
        let (address, mut shape) = match unsafe { read_call(cp) } {
            Ok(x) => x,
            Err(e) => {
                trace!(WARN, "ProtocolCmMakeCall({:p}): {:?}", vc_ctx, e);
                return e.status();
            }
        };
        // SAFETY: `cp` was read by read_call; the client's [in, out] block.
        unsafe { fit_flows(cp, &mut shape) };
        let multipoint = !party.is_null();
        // SAFETY: `cp` was read (and found non-NULL) above.
        let flags = unsafe { cp.read_unaligned() }.Flags;
        if flags & MULTIPOINT_VC != 0 && !multipoint {
            // A multipoint VC with no initial party to add.
            return NDIS_STATUS_NOT_SUPPORTED;
        }
        if address.as_bytes() == ECHO_ADDRESS {
            // SAFETY: ProtocolCmMakeCall on the caller VC.
            return unsafe { make_echo_call(caller, &shape, &address, multipoint) };
        }
        if multipoint {
            if party_ctx.is_null() {
                return NDIS_STATUS_INVALID_PARAMETER;
            }
            // SAFETY: a new call on the caller VC; `cp` and `party_ctx` are
            // NDIS's for this request.
            return unsafe { add_leaf(caller, cp, &shape, &address, party, party_ctx, Via::MakeCall) };
        }
        // The call's blocks and the callee's context come first: without
        // any of them nothing begins (RESOURCES, nothing activated).
        let Some(own) = take_call(adapter, &shape, &address) else {
            return NDIS_STATUS_RESOURCES;
        };
        let Some(callee_ctx) = adapter.vc_list().alloc(VcContext::new(adapter, null_mut())) else {
            // SAFETY: taken above, never attached nor given to NDIS.
            unsafe { drop_call(adapter, own) };
            return NDIS_STATUS_RESOURCES;
        };
        // SAFETY: just allocated, ours until the core knows it.
        let callee = unsafe { callee_ctx.as_ref() };
        let Some(theirs) = take_call(adapter, &shape.swapped(), &address) else {
            callee.kill();
            // SAFETY: allocated above, never given to anyone.
            unsafe { adapter.vc_list().free(callee_ctx) };
            // SAFETY: taken above, never attached nor given to NDIS.
            unsafe { drop_call(adapter, own) };
            return NDIS_STATUS_RESOURCES;
        };
        // SAFETY: fresh blocks, alive until their call ends (after every
        // NDIS call below that is handed their parameters).
        let caller_params = unsafe { own.as_ref() }.params();
        // SAFETY: as above.
        let callee_params = unsafe { theirs.as_ref() }.params();
        let begun = on_vc(caller, |cm| cm.make_call_begin(caller.id(), &address, callee.token()));
        let plan = match begun {
            Ok(plan) => plan,
            Err(r) => {
                trace!(INFO, "ProtocolCmMakeCall({:p}) to {:?}: {:?}", vc_ctx, address, r);
                callee.kill();
                // SAFETY: allocated above, never given to anyone.
                unsafe { adapter.vc_list().free(callee_ctx) };
                // SAFETY: taken above, never attached nor given to NDIS.
                unsafe { drop_call(adapter, own) };
                // SAFETY: as above.
                unsafe { drop_call(adapter, theirs) };
                return r.status();
            }
        };
        callee.set_id(plan.callee);
        begin_call(adapter, caller, own);
        begin_call(adapter, callee, theirs);
        caller.set_client_params(cp);
        // SAFETY: the core holds the AF while a VC is being created on it.
        let callee_af = unsafe { AfContext::from_token(plan.callee_af) };
        let mut ndis_vc: NDIS_HANDLE = null_mut();
        // SAFETY: the adapter's NdisMiniportHandle, an open AF's handle, the
        // callee context (which covmini keeps until it deletes the VC), an
        // out slot initialized to NULL; IRQL <= DISPATCH_LEVEL.
        let created = unsafe { NdisMCmCreateVc(adapter.miniport_handle(), callee_af.ndis(), callee.as_handle(), &raw mut ndis_vc) };
        if created != NDIS_STATUS_SUCCESS {
            trace!(WARN, "ProtocolCmMakeCall: NdisMCmCreateVc: {:#010x}", created);
            // Frees the callee's context, and its block with it.
            let fx = adapter.cm().make_call_create_failed(caller.id(), &plan);
            perform(adapter, fx);
            let status = if created == NDIS_STATUS_PENDING { NDIS_STATUS_FAILURE } else { created };
            // SAFETY: the caller's make call, failing.
            return unsafe { call_result(adapter, caller, status) };
        }
        callee.set_ndis(ndis_vc);
        // SAFETY: the caller's NdisVcHandle and covmini's own parameters,
        // MediaParameters non-NULL, alive until the call ends.
        let caller_ok = unsafe { NdisMCmActivateVc(caller.ndis(), caller_params) } == NDIS_STATUS_SUCCESS;
        // SAFETY: as above, for the VC just created.
        let callee_ok = unsafe { NdisMCmActivateVc(ndis_vc, callee_params) } == NDIS_STATUS_SUCCESS;
        let activated = {
            let mut cm = adapter.cm();
            let inside = if caller_ok && callee_ok {
                Handlers::NONE
            } else {
                // The call is taken down: the close's handshake on both VCs
                // first (`answer_offer`), since a send may be inside the
                // caller's, activated above. The marks go as a refusal's do.
                let (_, caller_inside) = caller.begin_close(&cm, 0);
                let (_, callee_inside) = callee.begin_close(&cm, 0);
                Handlers {
                    caller: caller_inside,
                    callee: callee_inside,
                }
            };
            cm.make_call_activated_with_handlers(caller.id(), plan.callee, caller_ok, callee_ok, inside)
        };
        if let Err(mut fx) = activated {
            trace!(ERROR, "ProtocolCmMakeCall: NdisMCmActivateVc failed (caller {}, callee {})", caller_ok, callee_ok);
            fx.extend(adapter.cm().offer_done(plan.sap));
            perform(adapter, fx);
            // FAILURE, after the effects that deactivate the caller's VC,
            // or PENDING while handlers are inside it.
            let (status, fx) = adapter.cm().make_call_end(caller.id());
            perform(adapter, fx);
            // SAFETY: the caller's make call, answered with `status`.
            return unsafe { call_result(adapter, caller, status) };
        }
        // SAFETY: the SAP cannot go while the core counts this offer.
        let sap = unsafe { SapContext::from_token(plan.sap_handle) };
        // SAFETY: a registered SAP's handle, the activated MCM VC and its
        // parameters (alive until the callee's call ends, after its answer).
        // The client may answer inside: ProtocolCmIncomingCallComplete then
        // runs before this returns.
        let offered = unsafe { NdisMCmDispatchIncomingCall(sap.ndis(), ndis_vc, callee_params) };
        if offered != NDIS_STATUS_PENDING {
            // NDIS refused the offer, so no ProtocolCmIncomingCallComplete
            // will come: the offer's status is the callee's answer.
            trace!(WARN, "ProtocolCmMakeCall: NdisMCmDispatchIncomingCall: {:#010x}", offered);
            let answered = answer_offer(&mut adapter.cm(), callee, 0, offered);
            if let Ok(fx) = answered {
                perform(adapter, fx);
            }
        }
        let (mut fx, (status, ended)) = {
            let mut cm = adapter.cm();
            (cm.offer_done(plan.sap), cm.make_call_end(caller.id()))
        };
        // A failure comes with the caller's deactivation, made before the
        // handler returns it.
        fx.extend(ended);
        perform(adapter, fx);
        // SAFETY: the caller's make call, answered with `status`.
        unsafe { call_result(adapter, caller, status) }
    }
}

/// A make call to [`ECHO_ADDRESS`]: covmini itself answers. The caller's VC
/// is activated with covmini's own copy of the parameters and the make call
/// returns SUCCESS (after NdisMCmActivateVc, seed page). No VC is created.
/// The call's block is taken first: without it, RESOURCES and nothing begun.
///
/// # Safety
/// Called from ProtocolCmMakeCall on `caller`, with no call on it (NDIS
/// makes one call per VC at a time; the core refuses a VC with one).
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
unsafe fn make_echo_call(caller: &VcContext, shape: &CallShape, address: &Address, multipoint: bool) -> NDIS_STATUS {
    let adapter = caller.adapter();
    let Some(own) = take_call(adapter, shape, address) else {
        return NDIS_STATUS_RESOURCES;
    };
    if let Err(r) = on_vc(caller, |cm| cm.make_call_echo(caller.id(), multipoint)) {
        trace!(
            INFO,
            "ProtocolCmMakeCall({:p}) to the echo address: {:?}",
            caller.as_handle(),
            r
        );
        // SAFETY: taken above, never attached nor given to NDIS.
        unsafe { drop_call(adapter, own) };
        return r.status();
    }
    // SAFETY: a fresh block, alive until the call ends.
    let params = unsafe { own.as_ref() }.params();
    begin_call(adapter, caller, own);
    // SAFETY: the caller's NdisVcHandle and covmini's own parameters,
    // MediaParameters non-NULL, alive until the call ends.
    let ok = unsafe { NdisMCmActivateVc(caller.ndis(), params) } == NDIS_STATUS_SUCCESS;
    let status = adapter.cm().echo_activated(caller.id(), ok);
    // SAFETY: the caller's make call, answered with `status`.
    unsafe { call_result(adapter, caller, status) }
}

/// The callee's answer `status` to the offer on `callee` (a point-to-point
/// callee or a party's leaf), given to the core with the adapter lock held
/// (`cm`); `own` is 1 if the answering handler is itself counted inside
/// `callee` (ProtocolCmIncomingCallComplete), else 0. A refusal takes the
/// callee down (deactivated, deleted) and, for a make call, the caller's VC
/// (a multipoint make call's root: deactivated, the make call failed), so
/// first it does the close's handshake on those contexts (`super::data`'s
/// module docs): handlers already inside (a send on either VC, which the
/// request activated before the offer) are waited for
/// ([`Cm::incoming_call_complete_with_handlers`]; the last one out,
/// `Inside::leave`, finishes that VC's part), and one that enters later sees
/// CLOSING and takes nothing. The caller's mark goes once its VC is
/// deactivated and idle, as the make call's failure reaches NDIS
/// (`call_result`, or the completion), as a client VC's close lowers it
/// (`VcContext::end_close`); the callee's stays until it is freed.
fn answer_offer(cm: &mut Cm, callee: &VcContext, own: u32, status: NDIS_STATUS) -> Result<Effects<usize>, Refusal> {
    if status == NDIS_STATUS_SUCCESS {
        return cm.incoming_call_complete(callee.id(), status);
    }
    let caller = cm.offer_caller(callee.id()).map(|(_, token)| {
        // SAFETY: the core has this VC's make call waiting for the offer's
        // answer, with this context: a client's VC, freed only by
        // ProtocolCoDeleteVc, which removes it from the core under the lock
        // held here (and NDIS refuses to delete a VC whose make call is
        // outstanding).
        unsafe { VcContext::from_token(token) }
    });
    let (caller_was, caller_inside) = caller.map_or((true, false), |c| c.begin_close(cm, 0));
    let (callee_was, callee_inside) = callee.begin_close(cm, own);
    let inside = Handlers {
        caller: caller_inside,
        callee: callee_inside,
    };
    let answered = cm.incoming_call_complete_with_handlers(callee.id(), status, inside);
    if answered.is_err() {
        if let Some(c) = caller {
            c.restore_closing(caller_was);
        }
        callee.restore_closing(callee_was);
    }
    answered
}

ndis_fn! {
    /// ProtocolCmIncomingCallComplete: the callee's client answered an
    /// offer. SUCCESS: NdisMCmDispatchCallConnected on the callee and, if
    /// the make call pended, NdisMCmMakeCallComplete(SUCCESS) for the caller.
    /// Anything else: both VCs deactivated, the callee VC deleted, the make
    /// call failed with the client's status.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn incoming_call_complete(status: NDIS_STATUS, vc_ctx: NDIS_HANDLE, _params: PCO_CALL_PARAMETERS) {
        // SAFETY: the MCM VC context covmini gave NdisMCmCreateVc.
        let Some(callee) = (unsafe { VcContext::from_handle(vc_ctx) }) else {
            trace!(ERROR, "ProtocolCmIncomingCallComplete: not a VC context: {:p}", vc_ctx);
            return;
        };
        // First act: the handshake with a close of this VC (as a send's,
        // `super::data`). Once the core has the call accepted, the callee's
        // client may close it on another CPU before this handler has
        // dispatched NdisMCmDispatchCallConnected; that close waits for
        // this handler to leave, so the VC (and its handle) outlive the
        // dispatch.
        let (inside, _closing) = callee.enter();
        let adapter = callee.adapter();
        let _running = adapter.running();
        match on_vc(callee, |cm| answer_offer(cm, callee, 1, status)) {
            Ok(fx) if status == NDIS_STATUS_SUCCESS => {
                // Accepted: no effect deletes the callee's VC; leave after
                // the last one names it.
                perform(adapter, fx);
                inside.leave();
            }
            Ok(fx) => {
                // Rejected: the effects deactivate and delete the callee's
                // VC, so leave before they run.
                inside.leave();
                perform(adapter, fx);
            }
            Err(r) => {
                inside.leave();
                trace!(ERROR, "ProtocolCmIncomingCallComplete({:#010x}, {:p}): {:?}", status, vc_ctx, r);
            }
        }
    }
}

ndis_fn! {
    /// ProtocolCmCloseCall, on either end of a call (or an echo call):
    /// offers the peer an incoming close, then deactivates the VC and
    /// completes. A drained client VC completes at once; an MCM-created VC
    /// pends, completes with NdisMCmCloseCallComplete and is then deleted
    /// with NdisMCmDeleteVc (seed page). A VC with sends held (waiting for
    /// their receive to come back) or receives indicated and not returned is
    /// not deactivated yet (contract §3.3): the close pends, and the
    /// completion or return that drains the VC (MiniportReturnNetBufferLists)
    /// deactivates it and calls NdisMCmCloseCallComplete. covmini's fabric
    /// carries no close data: a close with data is refused with
    /// NDIS_STATUS_INVALID_DATA (contract §3.3 "Closing").
    ///
    /// A multipoint root (closed with its last party's context) first
    /// detaches every party left, one at a time: a leaf still connected
    /// gets an incoming close, each party context is freed; the completion
    /// carries the party's handle. Refused with NDIS_STATUS_FAILURE while a
    /// party is being added. A leaf's close tells the root: an incoming drop
    /// party while the root has other parties, else an incoming close.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn close_call(vc_ctx: NDIS_HANDLE, party_ctx: NDIS_HANDLE, data: PVOID, size: UINT) -> NDIS_STATUS {
        // SAFETY: the CallMgrVcContext covmini gave NDIS.
        let Some(vc) = (unsafe { VcContext::from_handle(vc_ctx) }) else {
            trace!(ERROR, "ProtocolCmCloseCall: not a VC context: {:p}", vc_ctx);
            return NDIS_STATUS_FAILURE;
        };
        if !data.is_null() && size > 0 {
            return NDIS_STATUS_INVALID_DATA;
        }
        // SAFETY: NULL, or the CallMgrPartyContext of a multipoint call's
        // last party, which covmini gave NDIS.
        let party = unsafe { PartyContext::from_handle(party_ctx) };
        vc.set_close_party(party.map_or(null_mut(), PartyContext::ndis));
        let adapter = vc.adapter();
        let _running = adapter.running();
        let root = {
            let cm = adapter.cm();
            cm.vc_is(vc.id(), vc.token()) && cm.is_root(vc.id())
        };
        if root {
            if let Err(r) = on_vc(vc, |cm| cm.begin_root_close(vc.id())) {
                trace!(WARN, "ProtocolCmCloseCall({:p}) on a multipoint root: {:?}", vc_ctx, r);
                return NDIS_STATUS_FAILURE;
            }
            // One party at a time: each leaf still connected is told, each
            // party context freed (contract §3.3 "Closing": "that party's
            // state must be freed").
            loop {
                let next = adapter.cm().detach_party(vc.id());
                let Some(fx) = next else { break };
                perform(adapter, fx);
            }
        }
        // The handshake with the handlers inside (`super::data`): mark the
        // close, and let it wait for those already in.
        let closed = on_vc(vc, |cm| {
            let (was, inside) = vc.begin_close(cm, 0);
            let r = cm.close_call_with_handlers(vc.id(), inside);
            if r.is_err() {
                vc.restore_closing(was);
            }
            r
        });
        match closed {
            Ok(f) => {
                let status = finish(adapter, f);
                if status == NDIS_STATUS_SUCCESS {
                    // SAFETY: a close the handler answers SUCCESS is done: the
                    // (client) VC is deactivated and idle, and its client
                    // begins no new call on it before this handler returns.
                    unsafe { end_call(adapter, vc) };
                    vc.end_close(&adapter.cm());
                }
                status
            }
            Err(r) => {
                trace!(WARN, "ProtocolCmCloseCall({:p}): {:?}", vc_ctx, r);
                NDIS_STATUS_FAILURE
            }
        }
    }
}

// --- Point to multipoint ---------------------------------------------------------------

/// What [`add_leaf`] allocates before the core knows about the party.
struct LeafSetup {
    party: NonNull<PartyContext>,
    leaf: NonNull<VcContext>,
    /// The leaf's call block.
    leaf_call: NonNull<CallBlock>,
    /// The root's call block (a multipoint make call only).
    root_call: Option<NonNull<CallBlock>>,
}

impl LeafSetup {
    /// Everything a party needs, or None (nothing kept) when pool is
    /// exhausted: the root's block first, then the party's context, the
    /// leaf's and the leaf's block.
    fn alloc(
        adapter: &AdapterContext,
        shape: &CallShape,
        address: &Address,
        ndis_party: NDIS_HANDLE,
        via: Via,
    ) -> Option<Self> {
        let root_call = match via {
            Via::MakeCall => Some(take_call(adapter, shape, address)?),
            Via::AddParty => None,
        };
        let drop_root = || {
            if let Some(b) = root_call {
                // SAFETY: taken above, never attached nor given to NDIS.
                unsafe { drop_call(adapter, b) };
            }
        };
        let Some(party) = adapter.party_list().alloc(PartyContext::new(adapter, ndis_party)) else {
            drop_root();
            return None;
        };
        let Some(leaf) = adapter.vc_list().alloc(VcContext::new(adapter, null_mut())) else {
            // SAFETY: allocated above, never given to anyone.
            unsafe { party.as_ref() }.kill();
            // SAFETY: as above; not used after.
            unsafe { adapter.party_list().free(party) };
            drop_root();
            return None;
        };
        let Some(leaf_call) = take_call(adapter, &shape.swapped(), address) else {
            // SAFETY: allocated above, never given to anyone.
            unsafe { party.as_ref() }.kill();
            // SAFETY: as above; not used after.
            unsafe { adapter.party_list().free(party) };
            // SAFETY: allocated above, never given to anyone.
            unsafe { leaf.as_ref() }.kill();
            // SAFETY: as above; not used after.
            unsafe { adapter.vc_list().free(leaf) };
            drop_root();
            return None;
        };
        Some(Self {
            party,
            leaf,
            leaf_call,
            root_call,
        })
    }

    /// Gives everything back (the core refused the party).
    ///
    /// # Safety
    /// None of it was given to the core, NDIS or a VC; none is used after.
    unsafe fn free(self, adapter: &AdapterContext) {
        // SAFETY: allocated by Self::alloc, never given to anyone.
        unsafe { self.party.as_ref() }.kill();
        // SAFETY: as above; not used after.
        unsafe { adapter.party_list().free(self.party) };
        // SAFETY: as above.
        unsafe { self.leaf.as_ref() }.kill();
        // SAFETY: as above; not used after.
        unsafe { adapter.vc_list().free(self.leaf) };
        // SAFETY: never attached nor given to NDIS.
        unsafe { drop_call(adapter, self.leaf_call) };
        if let Some(b) = self.root_call {
            // SAFETY: as above.
            unsafe { drop_call(adapter, b) };
        }
    }
}

/// Adds a party to `root`: the initial party of a multipoint make call
/// (`via` MakeCall, which also activates the root) or one more
/// (ProtocolCmAddParty). Allocates the party's and the leaf's contexts and
/// call blocks (and the root's, for a make call: none of them, RESOURCES
/// and nothing begun), records the party in the core, creates the leaf's VC
/// on the SAP's AF (NdisMCmCreateVc), activates it with the party's flows
/// (swapped: the root's transmit is the leaf's receive) and offers it the
/// call (NdisMCmDispatchIncomingCall). Returns the leaf's answer when it
/// came inside the dispatch (and on SUCCESS writes the party context to
/// `out`), else PENDING: the answer completes the request later. A
/// rejection or a failed NdisMCmCreateVc or NdisMCmActivateVc that must
/// wait for an incoming drop party of the call on its way
/// (`CallManager::release_failed_add`) also returns PENDING.
///
/// # Safety
/// `cp` is NDIS's parameters for this request (already read by
/// [`read_call`]); `out` is NDIS's non-NULL out slot for the
/// CallMgrPartyContext; for MakeCall, ProtocolCmMakeCall on `root`.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
unsafe fn add_leaf(
    root: &VcContext,
    cp: PCO_CALL_PARAMETERS,
    shape: &CallShape,
    address: &Address,
    ndis_party: NDIS_HANDLE,
    out: PNDIS_HANDLE,
    via: Via,
) -> NDIS_STATUS {
    let adapter = root.adapter();
    let Some(setup) = LeafSetup::alloc(adapter, shape, address, ndis_party, via) else {
        return NDIS_STATUS_RESOURCES;
    };
    // SAFETY: just allocated, ours until the core knows it; then alive
    // until the core frees it (after this handler's last use).
    let party = unsafe { setup.party.as_ref() };
    // SAFETY: as above; the leaf lives until covmini deletes it.
    let leaf = unsafe { setup.leaf.as_ref() };
    // SAFETY: fresh blocks, alive until their call ends (after every NDIS
    // call below that is handed their parameters).
    let leaf_params = unsafe { setup.leaf_call.as_ref() }.params();
    // SAFETY: as above.
    let root_params = setup.root_call.map(|b| unsafe { b.as_ref() }.params());
    let begun = on_vc(root, |cm| {
        cm.party_begin(root.id(), address, party.token(), leaf.token(), via)
    });
    let plan = match begun {
        Ok(plan) => plan,
        Err(r) => {
            trace!(
                INFO,
                "party to {:?} on VC {:p} ({:?}): {:?}",
                address,
                root.as_handle(),
                via,
                r
            );
            // SAFETY: the core refused: nothing was given to anyone.
            unsafe { setup.free(adapter) };
            return r.status();
        }
    };
    // A failed multipoint make call ends the root's call (the core took it
    // down before answering so); a failed add party leaves it as it was.
    let answer = |status: NDIS_STATUS| match via {
        // SAFETY: ProtocolCmMakeCall on the root, answered with `status`.
        Via::MakeCall => unsafe { call_result(adapter, root, status) },
        Via::AddParty => status,
    };
    party.set_id(plan.party);
    party.set_client_params(cp);
    leaf.set_id(plan.leaf);
    begin_call(adapter, leaf, setup.leaf_call);
    if let Some(b) = setup.root_call {
        begin_call(adapter, root, b);
        root.set_client_params(cp);
    }
    // Computed now: once the request is answered the party may be gone.
    let handle = party.as_handle();
    // SAFETY: the core holds the AF while a VC is being created on it.
    let leaf_af = unsafe { AfContext::from_token(plan.leaf_af) };
    let mut ndis_vc: NDIS_HANDLE = null_mut();
    // SAFETY: the adapter's NdisMiniportHandle, an open AF's handle, the
    // leaf's context (kept until covmini deletes the VC), an out slot
    // initialized to NULL; IRQL <= DISPATCH_LEVEL.
    let created = unsafe {
        NdisMCmCreateVc(
            adapter.miniport_handle(),
            leaf_af.ndis(),
            leaf.as_handle(),
            &raw mut ndis_vc,
        )
    };
    if created != NDIS_STATUS_SUCCESS {
        trace!(WARN, "party: NdisMCmCreateVc: {:#010x}", created);
        // Frees the leaf's context, and its block with it; the failure, or
        // PENDING while an incoming drop party of the call is on its way.
        let (status, fx) = adapter.cm().party_create_failed(&plan, created);
        perform(adapter, fx);
        return answer(status);
    }
    leaf.set_ndis(ndis_vc);
    let root_ok = root_params.map(|own| {
        // SAFETY: the root's NdisVcHandle and covmini's own parameters,
        // MediaParameters non-NULL, alive until the call ends.
        unsafe { NdisMCmActivateVc(root.ndis(), own) == NDIS_STATUS_SUCCESS }
    });
    // SAFETY: as for the root, for the VC just created.
    let leaf_ok = unsafe { NdisMCmActivateVc(ndis_vc, leaf_params) } == NDIS_STATUS_SUCCESS;
    let activated = {
        let mut cm = adapter.cm();
        let inside = if leaf_ok && root_ok != Some(false) {
            Handlers::NONE
        } else {
            // The party is taken down: the close's handshake first on the
            // leaf and a make call's root (`answer_offer`), since a send may
            // be inside either, activated above.
            let (_, root_inside) = match via {
                Via::MakeCall => root.begin_close(&cm, 0),
                Via::AddParty => (false, false),
            };
            let (_, leaf_inside) = leaf.begin_close(&cm, 0);
            Handlers {
                caller: root_inside,
                callee: leaf_inside,
            }
        };
        cm.party_activated_with_handlers(&plan, root_ok, leaf_ok, inside)
    };
    if let Err(mut fx) = activated {
        trace!(
            ERROR,
            "party: NdisMCmActivateVc failed (root {:?}, leaf {})", root_ok, leaf_ok
        );
        fx.extend(adapter.cm().offer_done(plan.sap));
        perform(adapter, fx);
        // FAILURE, after the effects that deactivate a make call's root and
        // free the party, or PENDING while handlers are inside the root.
        let (status, ended) = adapter.cm().party_end(plan.party);
        perform(adapter, ended);
        return answer(status);
    }
    // SAFETY: the SAP cannot go while the core counts this offer.
    let sap = unsafe { SapContext::from_token(plan.sap_handle) };
    // SAFETY: a registered SAP's handle, the activated leaf VC and its
    // parameters (alive until the leaf's call ends, after its answer). The
    // leaf's client may answer inside: ProtocolCmIncomingCallComplete then
    // runs before this returns.
    let offered = unsafe { NdisMCmDispatchIncomingCall(sap.ndis(), ndis_vc, leaf_params) };
    if offered != NDIS_STATUS_PENDING {
        trace!(WARN, "party: NdisMCmDispatchIncomingCall: {:#010x}", offered);
        let answered = answer_offer(&mut adapter.cm(), leaf, 0, offered);
        if let Ok(fx) = answered {
            perform(adapter, fx);
        }
    }
    let (fx, (status, ended)) = {
        let mut cm = adapter.cm();
        (cm.offer_done(plan.sap), cm.party_end(plan.party))
    };
    perform(adapter, fx);
    perform(adapter, ended);
    if status == NDIS_STATUS_SUCCESS {
        // SAFETY: NDIS's out slot for CallMgrPartyContext (non-NULL, precondition).
        unsafe { out.write(handle) };
    }
    answer(status)
}

ndis_fn! {
    /// ProtocolCmAddParty on a multipoint call that is up: the party's
    /// called address is matched against the SAPs like a point-to-point
    /// call, and its leaf is offered an ordinary incoming call on a VC
    /// covmini creates ([`add_leaf`]). Returns the leaf's answer when it
    /// came inside the offer, else PENDING and NdisMCmAddPartyComplete
    /// follows (also for a rejection that waits for an incoming drop party
    /// of the call on its way to the client). A party keeps its own flows: its leaf is activated with the
    /// FLOWSPECs of the party's parameters (the "Adding a Party to a
    /// Multipoint Call" page lets the medium decide whether per-party
    /// traffic parameters exist; covmini's leaves are separate VCs).
    ///
    /// Statuses: a call that is point to point or to the echo address,
    /// NDIS_STATUS_NOT_SUPPORTED (the page's status for "invalid or
    /// unavailable features"); a root not up (being set up or closing),
    /// NDIS_STATUS_FAILURE; the call's 16 parties or the adapter's 64 in
    /// use, or a context or call block the pool refuses,
    /// NDIS_STATUS_RESOURCES; malformed parameters and unknown
    /// addresses as for a make call (INVALID_DATA, INVALID_ADDRESS,
    /// NO_ROUTE_TO_DESTINATION).
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn add_party(vc_ctx: NDIS_HANDLE, cp: PCO_CALL_PARAMETERS, party: NDIS_HANDLE, party_ctx: PNDIS_HANDLE) -> NDIS_STATUS {
        // SAFETY: the CallMgrVcContext covmini gave NDIS.
        let Some(root) = (unsafe { VcContext::from_handle(vc_ctx) }) else {
            trace!(ERROR, "ProtocolCmAddParty: not a VC context: {:p}", vc_ctx);
            return NDIS_STATUS_FAILURE;
        };
        let _running = root.adapter().running();
        if party.is_null() || party_ctx.is_null() {
            return NDIS_STATUS_INVALID_PARAMETER;
        }
        // SAFETY: NDIS's call parameters for this request (or NULL, refused inside).
        let (address, mut shape) = match unsafe { read_call(cp) } {
            Ok(x) => x,
            Err(e) => {
                trace!(WARN, "ProtocolCmAddParty({:p}): {:?}", vc_ctx, e);
                return e.status();
            }
        };
        // SAFETY: `cp` was read by read_call; the client's [in, out] block
        // (ProtocolClAddPartyComplete checks CALL_PARAMETERS_CHANGED too).
        unsafe { fit_flows(cp, &mut shape) };
        if address.as_bytes() == ECHO_ADDRESS {
            return Refusal::NotSupported.status();
        }
        // SAFETY: `cp` and `party_ctx` are NDIS's for this request.
        unsafe { add_leaf(root, cp, &shape, &address, party, party_ctx, Via::AddParty) }
    }
}

ndis_fn! {
    /// ProtocolCmDropParty: a party that is not the call's last goes. Its
    /// leaf, if still connected, gets an incoming close (its client closes
    /// and covmini deletes the leaf's VC); the context is freed and the
    /// handler returns SUCCESS, or PENDING while an incoming drop party
    /// naming the party is being dispatched (NdisMCmDropPartyComplete
    /// follows). The last party: NDIS_STATUS_FAILURE, which
    /// ProtocolClDropPartyComplete documents as "the given party was the
    /// last remaining ... the client should call NdisClCloseCall". A party
    /// still being added, or of a root that is closing: FAILURE. Close data:
    /// NDIS_STATUS_INVALID_DATA (the fabric carries none, as for a close).
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn drop_party(party_ctx: NDIS_HANDLE, data: PVOID, size: UINT) -> NDIS_STATUS {
        // SAFETY: the CallMgrPartyContext covmini gave NDIS.
        let Some(party) = (unsafe { PartyContext::from_handle(party_ctx) }) else {
            trace!(ERROR, "ProtocolCmDropParty: not a party context: {:p}", party_ctx);
            return NDIS_STATUS_FAILURE;
        };
        if !data.is_null() && size > 0 {
            return NDIS_STATUS_INVALID_DATA;
        }
        let adapter = party.adapter();
        let _running = adapter.running();
        match on_party(party, |cm| cm.drop_party(party.id())) {
            // The party context may be freed by these effects: not used after.
            Ok(f) => finish(adapter, f),
            Err(r) => {
                trace!(WARN, "ProtocolCmDropParty({:p}): {:?}", party_ctx, r);
                r.status()
            }
        }
    }
}

ndis_fn! {
    /// ProtocolCmActivateVcComplete: never called for an MCM (contract §2.1).
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn activate_vc_complete(status: NDIS_STATUS, vc_ctx: NDIS_HANDLE, _params: PCO_CALL_PARAMETERS) {
        trace!(WARN, "ProtocolCmActivateVcComplete({:#010x}, vc {:p}): never called for an MCM", status, vc_ctx);
    }
}

ndis_fn! {
    /// ProtocolCmDeactivateVcComplete: never called for an MCM (contract §2.1).
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn deactivate_vc_complete(status: NDIS_STATUS, vc_ctx: NDIS_HANDLE) {
        trace!(WARN, "ProtocolCmDeactivateVcComplete({:#010x}, vc {:p}): never called for an MCM", status, vc_ctx);
    }
}

ndis_fn! {
    /// ProtocolCmModifyCallQoS on a connected call (either end, or an echo
    /// call). Reads only the two fixed FLOWSPECs of CallMgrParameters (the
    /// CallMgrSpecific tail and MediaParameters are not read, so no client
    /// length is trusted) and checks them against the link
    /// ([`crate::call_manager::check_flows`]: TokenRate and PeakBandwidth
    /// at most 1 Gb/s = 125,000,000 bytes/s, MaxSduSize at most the MTU).
    /// A flow beyond the link is refused, not clamped, with
    /// NDIS_STATUS_INCOMPATABLE_QOS, and nothing changes. Accepted: the VC is
    /// re-activated with its new flows (NdisMCmActivateVc, contract §3.3
    /// "QoS, client side"), the peer re-activated with them swapped and told
    /// (NdisMCmActivateVc then NdisMCmDispatchIncomingCallQoSChange, §3.3
    /// "QoS, remote side"), and the handler returns SUCCESS; it never pends.
    /// Should NdisMCmActivateVc fail, the old flows are restored and the
    /// change refused with INCOMPATABLE_QOS. No CallMgrParameters:
    /// NDIS_STATUS_INVALID_DATA. A VC with no active call, or one whose call
    /// is already changing its QoS: NDIS_STATUS_FAILURE.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn modify_call_qos(vc_ctx: NDIS_HANDLE, params: PCO_CALL_PARAMETERS) -> NDIS_STATUS {
        // SAFETY: the CallMgrVcContext covmini gave NDIS.
        let Some(vc) = (unsafe { VcContext::from_handle(vc_ctx) }) else {
            trace!(ERROR, "ProtocolCmModifyCallQoS: not a VC context: {:p}", vc_ctx);
            return NDIS_STATUS_FAILURE;
        };
        if params.is_null() {
            return NDIS_STATUS_INVALID_DATA;
        }
        // SAFETY: NDIS's CO_CALL_PARAMETERS for this request (non-NULL).
        let cp = unsafe { params.read_unaligned() };
        if cp.CallMgrParameters.is_null() {
            return NDIS_STATUS_INVALID_DATA;
        }
        // SAFETY: non-NULL; the two FLOWSPECs only, never the CallMgrSpecific tail.
        let (tx, rx) = unsafe { read_flows(cp.CallMgrParameters) };
        if let Err(e) = check_flows(&tx, &rx, config::LINK_SPEED_BPS, config::MTU) {
            trace!(WARN, "ProtocolCmModifyCallQoS({:p}): {:?}", vc_ctx, e);
            return e.status();
        }
        // First act on the VC's context, as a send's (`super::data`, "The
        // handshake"): a close waits for this change until the core pins
        // the VC, or this change saw the close begin (a VC with no active
        // call: FAILURE).
        let (inside, closing) = vc.enter();
        if closing {
            inside.leave();
            return NDIS_STATUS_FAILURE;
        }
        let adapter = vc.adapter();
        let _running = adapter.running();
        let peer = on_vc(vc, |cm| cm.modify_qos_begin(vc.id()));
        inside.leave();
        let peer = match peer {
            Ok(p) => p,
            Err(r) => {
                trace!(WARN, "ProtocolCmModifyCallQoS({:p}): {:?}", vc_ctx, r);
                return NDIS_STATUS_FAILURE;
            }
        };
        // SAFETY: the core pinned the VC (and the peer) for this change:
        // their calls cannot end, nor their blocks go, before modify_qos_end.
        let status = match unsafe { vc.call() } {
            // SAFETY: the core marked this VC changing for this handler.
            Some(own) => unsafe { change_qos(vc, own, &tx, &rx, peer.map(|(_, t)| t)) },
            None => {
                trace!(ERROR, "ProtocolCmModifyCallQoS({:p}): a call with no call block", vc_ctx);
                NDIS_STATUS_FAILURE
            }
        };
        let fx = adapter.cm().modify_qos_end(vc.id(), peer.map(|(p, _)| p));
        perform(adapter, fx);
        status
    }
}

/// ProtocolCmModifyCallQoS's change, once the core marked it: `vc`
/// re-activated with the new flows (`own` is its call block), the peer
/// (`peer`'s token) re-activated with them swapped and told. Returns the
/// handler's status; on a failed activation the old flows are back.
///
/// # Safety
/// The core marked `vc` and `peer` changing and pinned them for the
/// caller (`modify_qos_begin`), and `own` is `vc`'s call block.
unsafe fn change_qos(
    vc: &VcContext,
    own: &CallBlock,
    tx: &FLOWSPEC,
    rx: &FLOWSPEC,
    peer: Option<usize>,
) -> NDIS_STATUS {
    // SAFETY: the only writer of the block now (precondition).
    let old = unsafe { own.set_flows(*tx, *rx) };
    // SAFETY: the VC's NdisVcHandle (pinned active) and its own parameters.
    if unsafe { NdisMCmActivateVc(vc.ndis(), own.params()) } != NDIS_STATUS_SUCCESS {
        trace!(
            ERROR,
            "ProtocolCmModifyCallQoS({:p}): NdisMCmActivateVc failed; old QoS kept",
            vc.as_handle()
        );
        // SAFETY: still the only writer (marked changing).
        let _ = unsafe { own.set_flows(old.0, old.1) };
        return NDIS_STATUS_INCOMPATABLE_QOS;
    }
    let Some(token) = peer else {
        return NDIS_STATUS_SUCCESS;
    };
    // SAFETY: the core pinned the peer for this change.
    let other = unsafe { VcContext::from_token(token) };
    // SAFETY: pinned: its call cannot end before modify_qos_end.
    let Some(theirs) = (unsafe { other.call() }) else {
        trace!(
            ERROR,
            "ProtocolCmModifyCallQoS: the peer {:p} has no call block",
            other.ndis()
        );
        return NDIS_STATUS_SUCCESS;
    };
    // SAFETY: the core marked the peer changing for this handler.
    let _ = unsafe { theirs.set_flows(*rx, *tx) };
    // SAFETY: the peer's NdisVcHandle (pinned) and its own parameters.
    if unsafe { NdisMCmActivateVc(other.ndis(), theirs.params()) } == NDIS_STATUS_SUCCESS {
        // SAFETY: as above; the client accepts by returning.
        unsafe { NdisMCmDispatchIncomingCallQoSChange(other.ndis(), theirs.params()) };
    } else {
        trace!(
            ERROR,
            "ProtocolCmModifyCallQoS: NdisMCmActivateVc on the peer {:p} failed",
            other.ndis()
        );
    }
    NDIS_STATUS_SUCCESS
}

ndis_fn! {
    /// ProtocolCoOidRequest: OIDs sent to the call manager with an AF handle
    /// (and possibly a VC or party handle), answered from `ctrl_path`'s table
    /// in `Scope::CallManager` by [`oid::cm_request`], never pended.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn oid_request(af_ctx: NDIS_HANDLE, vc_ctx: NDIS_HANDLE, party_ctx: NDIS_HANDLE, request: PNDIS_OID_REQUEST) -> NDIS_STATUS {
        trace!(INFO, "ProtocolCoOidRequest(af {:p}, vc {:p}, party {:p})", af_ctx, vc_ctx, party_ctx);
        // SAFETY: NDIS's contexts and request for this handler.
        unsafe { oid::cm_request(af_ctx, vc_ctx, party_ctx, request) }
    }
}

ndis_fn! {
    /// ProtocolCoOidRequestComplete.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn oid_request_complete(af_ctx: NDIS_HANDLE, _vc_ctx: NDIS_HANDLE, _party_ctx: NDIS_HANDLE, request: PNDIS_OID_REQUEST, status: NDIS_STATUS) {
        trace!(WARN, "ProtocolCoOidRequestComplete(af {:p}, {:p}, {:#010x}): covmini issues no NdisMCmOidRequest", af_ctx, request, status);
    }
}

//! Point-to-point calls: ProtocolCmMakeCall (the loopback call, and the
//! echo call covmini answers itself), ProtocolCmIncomingCallComplete,
//! ProtocolCmCloseCall, and the activate/deactivate completions NDIS never
//! calls for an MCM. A make call with an initial party goes on to
//! `super::party`.
//!
//! Each handler recovers and checks its context, reads the client's
//! parameters through `super::params`, asks the core what to do under the
//! adapter lock, drops the lock, and performs the core's effects in order
//! (`super::effects`): NDIS re-enters covmini from most of those calls, so
//! none is made with the lock held. A make call's set-up (create the
//! callee's VC, activate both, offer) is the core's to drive, step by
//! step, with its rollback: the handler takes the call's blocks and the
//! callee's context, then runs `super::setup::drive`. A callee's answer to
//! the offer goes through `super::setup` too.
//!
//! Must not: read a client's block directly, hold the adapter lock across an
//! NDIS call, or give a call block back while a VC can still be activated
//! with it.

use core::ptr::{NonNull, null_mut};

use ndis_sys::*;

use super::call_block::{CallBlock, CallShape};
use super::cm_context::{Cm, PartyContext, Signed, VcContext};
use super::context::AdapterContext;
use super::effects::{begin_call, call_result, drop_call, end_call, finish, on_vc, perform, take_call};
use super::params::{call_flags, fit_flows, read_call};
use super::party::add_leaf;
use super::recorder::{Span, keep_alive};
use super::setup::{answer_offer, drive};
use super::trace::{ERROR, INFO, WARN};
use crate::call_manager::{Address, ECHO_ADDRESS, Finish, Refusal, Via};

handler! {
    #[flight(ProtocolCmMakeCall, vc_ctx: VcContext, span)]
    pub(super) unsafe fn make_call(
        vc_ctx: NDIS_HANDLE,
        cp: PCO_CALL_PARAMETERS,
        party: NDIS_HANDLE,
        party_ctx: PNDIS_HANDLE,
    ) -> NDIS_STATUS => make_call_impl;
}

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
/// # Lifetime
/// The adapter, reached through the VC's context (`vc_ctx`), lives through
/// the body: `handler!` runs it inside this handler's span, which holds a
/// `Running` count on the adapter it found through that same context until
/// the entry records the return, after the body; [`keep_alive`] checks that
/// the span is on the adapter the body validated, and takes a count of its
/// own if not (or if there is no span).
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
unsafe fn make_call_impl(
    span: Option<&Span<'_>>,
    vc_ctx: NDIS_HANDLE,
    cp: PCO_CALL_PARAMETERS,
    party: NDIS_HANDLE,
    party_ctx: PNDIS_HANDLE,
) -> NDIS_STATUS {
    // SAFETY: the CallMgrVcContext covmini gave NDIS.
    let Some(caller) = (unsafe { VcContext::from_handle(vc_ctx) }) else {
        trace!(ERROR, "ProtocolCmMakeCall: not a VC context: {:p}", vc_ctx);
        return NDIS_STATUS_FAILURE;
    };
    let adapter = caller.adapter();
    let _running = keep_alive(span, adapter);
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
    // SAFETY: `cp` was read (and found non-NULL) by read_call above.
    let flags = unsafe { call_flags(cp) };
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
    // SAFETY: ProtocolCmMakeCall on the caller VC; `cp` is NDIS's.
    unsafe { make_loopback_call(caller, cp, &shape, &address) }
}

/// A point-to-point make call to a SAP's address. The call's blocks and
/// the callee's context come first: without any of them nothing begins
/// (RESOURCES, nothing activated). Then the core drives the set-up:
/// NdisMCmCreateVc for the callee, NdisMCmActivateVc on both VCs,
/// NdisMCmDispatchIncomingCall, and the rollback of whichever fails.
///
/// # Safety
/// Called from ProtocolCmMakeCall on `caller` with NDIS's parameters `cp`
/// (already read by [`read_call`]).
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
unsafe fn make_loopback_call(
    caller: &VcContext,
    cp: PCO_CALL_PARAMETERS,
    shape: &CallShape,
    address: &Address,
) -> NDIS_STATUS {
    let adapter = caller.adapter();
    let Some(parts) = CallParts::take(adapter, shape, address) else {
        return NDIS_STATUS_RESOURCES;
    };
    // SAFETY: just allocated, ours until the core knows it.
    let callee = unsafe { parts.callee.as_ref() };
    let begun = match on_vc(caller, |cm| cm.begin_call(caller.id(), address, callee.token())) {
        Ok(begun) => begun,
        Err(r) => {
            trace!(
                INFO,
                "ProtocolCmMakeCall({:p}) to {:?}: {:?}",
                caller.as_handle(),
                address,
                r
            );
            // SAFETY: the core refused: nothing was given to anyone.
            unsafe { parts.release(adapter) };
            return r.status();
        }
    };
    callee.set_id(begun.plan.callee);
    begin_call(adapter, caller, parts.own);
    begin_call(adapter, callee, parts.theirs);
    caller.set_client_params(cp);
    // The core creates the callee's VC, activates both, offers the
    // call, and takes it down on a failure.
    let status = drive(adapter, begun);
    // SAFETY: the caller's make call, answered with `status`.
    unsafe { call_result(adapter, caller, status) }
}

/// What a point-to-point make call allocates before the core knows of it:
/// the caller's call block, the callee's VC context and its block.
struct CallParts {
    own: NonNull<CallBlock>,
    callee: NonNull<VcContext>,
    theirs: NonNull<CallBlock>,
}

impl CallParts {
    /// All three, in that order, or None (nothing kept) when pool is
    /// exhausted.
    fn take(adapter: &AdapterContext, shape: &CallShape, address: &Address) -> Option<Self> {
        let own = take_call(adapter, shape, address)?;
        let callee = adapter.vc_list().alloc(VcContext::new(adapter, null_mut()));
        let theirs = callee.and_then(|_| take_call(adapter, &shape.swapped(), address));
        match (callee, theirs) {
            (Some(callee), Some(theirs)) => Some(Self { own, callee, theirs }),
            _ => {
                // SAFETY: all taken above, none given to anyone.
                unsafe { release(adapter, callee, Some(own), theirs) };
                None
            }
        }
    }

    /// Gives everything back (the core refused the call).
    ///
    /// # Safety
    /// None of it was given to the core, NDIS or a VC; none is used after.
    unsafe fn release(self, adapter: &AdapterContext) {
        // SAFETY: all three came from Self::take on this adapter and none
        // was given to anyone, nor is used after (precondition).
        unsafe { release(adapter, Some(self.callee), Some(self.own), Some(self.theirs)) };
    }
}

/// Frees a callee's context and the call blocks, those present.
///
/// # Safety
/// Each came from this adapter's lists, was never given to anyone, and is
/// not used after.
unsafe fn release(
    adapter: &AdapterContext,
    callee: Option<NonNull<VcContext>>,
    own: Option<NonNull<CallBlock>>,
    theirs: Option<NonNull<CallBlock>>,
) {
    if let Some(c) = callee {
        // SAFETY: allocated, never given to anyone (precondition).
        unsafe { c.as_ref() }.kill();
        // SAFETY: from this adapter's VC list; not used after (precondition).
        unsafe { adapter.vc_list().free(c) };
    }
    for block in [own, theirs].into_iter().flatten() {
        // SAFETY: taken, never attached nor given to NDIS (precondition).
        unsafe { drop_call(adapter, block) };
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
    let begun = match on_vc(caller, |cm| cm.begin_echo(caller.id(), multipoint)) {
        Ok(begun) => begun,
        Err(r) => {
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
    };
    begin_call(adapter, caller, own);
    // The core activates the caller's VC with the block's parameters.
    let status = drive(adapter, begun);
    // SAFETY: the caller's make call, answered with `status`.
    unsafe { call_result(adapter, caller, status) }
}

handler! {
    #[flight(ProtocolCmIncomingCallComplete, vc_ctx: VcContext, span)]
    pub(super) unsafe fn incoming_call_complete(
        status: NDIS_STATUS,
        vc_ctx: NDIS_HANDLE,
        _params: PCO_CALL_PARAMETERS,
    ) => incoming_call_complete_impl;
}

/// ProtocolCmIncomingCallComplete: the callee's client answered an
/// offer. SUCCESS: NdisMCmDispatchCallConnected on the callee and, if
/// the make call pended, NdisMCmMakeCallComplete(SUCCESS) for the caller.
/// Anything else: both VCs deactivated, the callee VC deleted, the make
/// call failed with the client's status.
///
/// # Lifetime
/// The adapter, reached through the VC's context (`vc_ctx`), lives through
/// the body: `handler!` runs it inside this handler's span, which holds a
/// `Running` count on the adapter it found through that same context until
/// the entry records the return, after the body; [`keep_alive`] checks that
/// the span is on the adapter the body validated, and takes a count of its
/// own if not (or if there is no span).
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
unsafe fn incoming_call_complete_impl(
    span: Option<&Span<'_>>,
    status: NDIS_STATUS,
    vc_ctx: NDIS_HANDLE,
    _params: PCO_CALL_PARAMETERS,
) {
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
    let _running = keep_alive(span, adapter);
    match &on_vc(callee, |cm| answer_offer(cm, callee, 1, status)) {
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
            trace!(
                ERROR,
                "ProtocolCmIncomingCallComplete({:#010x}, {:p}): {:?}", status, vc_ctx, r
            );
        }
    }
}

handler! {
    #[flight(ProtocolCmCloseCall, vc_ctx: VcContext, span)]
    pub(super) unsafe fn close_call(
        vc_ctx: NDIS_HANDLE,
        party_ctx: NDIS_HANDLE,
        data: PVOID,
        size: UINT,
    ) -> NDIS_STATUS => close_call_impl;
}

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
/// # Lifetime
/// The adapter, reached through the VC's context (`vc_ctx`), lives through
/// the body: `handler!` runs it inside this handler's span, which holds a
/// `Running` count on the adapter it found through that same context until
/// the entry records the return, after the body; [`keep_alive`] checks that
/// the span is on the adapter the body validated, and takes a count of its
/// own if not (or if there is no span).
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
unsafe fn close_call_impl(
    span: Option<&Span<'_>>,
    vc_ctx: NDIS_HANDLE,
    party_ctx: NDIS_HANDLE,
    data: PVOID,
    size: UINT,
) -> NDIS_STATUS {
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
    let _running = keep_alive(span, adapter);
    // One lock for a close that is not a root's (the usual one): the root
    // check and the close itself, so no state can change between them.
    let closed = on_vc(vc, |cm| {
        if cm.is_root(vc.id()) {
            return Ok(None);
        }
        close_locked(cm, vc).map(Some)
    });
    match &closed {
        // SAFETY: ProtocolCmCloseCall on `vc`, this handler.
        Ok(Some(f)) => unsafe { close_finished(vc, f) },
        Err(r) => close_refused(vc, *r),
        Ok(None) => {
            // A multipoint root: its parties go first, each under its own
            // lock, then its own close.
            if !close_root_parties(vc) {
                return NDIS_STATUS_FAILURE;
            }
            match &on_vc(vc, |cm| close_locked(cm, vc)) {
                // SAFETY: ProtocolCmCloseCall on `vc`, this handler, after its
                // parties were detached.
                Ok(f) => unsafe { close_finished(vc, f) },
                Err(r) => close_refused(vc, *r),
            }
        }
    }
}

/// A multipoint root's close, before its own: asks the core to begin it,
/// then detaches the parties one at a time: each leaf still connected is
/// told, each party context freed (contract §3.3 "Closing": "that party's
/// state must be freed"). False (nothing done) when the core refuses.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL, without the adapter lock (taken and
/// dropped per party, never held across NDIS).
fn close_root_parties(vc: &VcContext) -> bool {
    let adapter = vc.adapter();
    if let Err(r) = on_vc(vc, |cm| cm.begin_root_close(vc.id())) {
        trace!(
            WARN,
            "ProtocolCmCloseCall({:p}) on a multipoint root: {:?}",
            vc.as_handle(),
            r
        );
        return false;
    }
    loop {
        // Its own statement: the lock guard is dropped before `perform`.
        let next = adapter.cm().detach_party(vc.id());
        let Some(fx) = next else { break };
        perform(adapter, &fx);
    }
    true
}

/// Closes `vc`'s call with the handshake with the data-path handlers inside
/// (`super::data`): marks the close, and lets it wait for those already
/// in; the mark is lowered again if the core refuses the close.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL, with the adapter lock held (`cm`).
fn close_locked(cm: &mut Cm, vc: &VcContext) -> Result<Finish<usize>, Refusal> {
    let (was, inside) = vc.begin_close(cm, 0);
    let r = cm.close_call_with_handlers(vc.id(), inside);
    if r.is_err() {
        vc.restore_closing(was);
    }
    r
}

/// Finishes a close [`close_locked`] accepted (`f`, the core's finish).
/// The status is ProtocolCmCloseCall's: SUCCESS when the close is done
/// (the call ended, the VC idle), or another the core's finish gives
/// (PENDING when the close waits for the handlers inside).
///
/// # Safety
/// Called from ProtocolCmCloseCall on `vc`, so the client begins no new
/// call on it before that handler returns.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL, without the adapter lock.
unsafe fn close_finished(vc: &VcContext, f: &Finish<usize>) -> NDIS_STATUS {
    let adapter = vc.adapter();
    let status = finish(adapter, f);
    if status == NDIS_STATUS_SUCCESS {
        // SAFETY: a close the handler answers SUCCESS is done: the
        // (client) VC is deactivated and idle, and its client begins no
        // new call on it before this handler returns (precondition).
        unsafe { end_call(adapter, vc) };
        vc.end_close(&adapter.cm());
    }
    status
}

/// The core refused the close (`r`): FAILURE.
fn close_refused(vc: &VcContext, r: Refusal) -> NDIS_STATUS {
    trace!(WARN, "ProtocolCmCloseCall({:p}): {:?}", vc.as_handle(), r);
    NDIS_STATUS_FAILURE
}

handler! {
    #[flight(ProtocolCmActivateVcComplete, vc_ctx: VcContext)]
    pub(super) unsafe fn activate_vc_complete(
        status: NDIS_STATUS,
        vc_ctx: NDIS_HANDLE,
        _params: PCO_CALL_PARAMETERS,
    ) => activate_vc_complete_impl;
}

/// ProtocolCmActivateVcComplete: never called for an MCM (contract §2.1).
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
unsafe fn activate_vc_complete_impl(status: NDIS_STATUS, vc_ctx: NDIS_HANDLE, _params: PCO_CALL_PARAMETERS) {
    trace!(
        WARN,
        "ProtocolCmActivateVcComplete({:#010x}, vc {:p}): never called for an MCM", status, vc_ctx
    );
}

handler! {
    #[flight(ProtocolCmDeactivateVcComplete, vc_ctx: VcContext)]
    pub(super) unsafe fn deactivate_vc_complete(
        status: NDIS_STATUS,
        vc_ctx: NDIS_HANDLE,
    ) => deactivate_vc_complete_impl;
}

/// ProtocolCmDeactivateVcComplete: never called for an MCM (contract §2.1).
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
unsafe fn deactivate_vc_complete_impl(status: NDIS_STATUS, vc_ctx: NDIS_HANDLE) {
    trace!(
        WARN,
        "ProtocolCmDeactivateVcComplete({:#010x}, vc {:p}): never called for an MCM", status, vc_ctx
    );
}

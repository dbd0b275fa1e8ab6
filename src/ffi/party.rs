//! Point to multipoint: a party's set-up ([`add_leaf`], for a multipoint
//! make call's initial party and for ProtocolCmAddParty), and
//! ProtocolCmDropParty. These go through the core's party state machine
//! ([`crate::call_manager`]'s `party` module); each party's leaf is offered
//! an ordinary incoming call on a VC covmini creates, whose answer arrives
//! in ProtocolCmIncomingCallComplete (`super::call`, `super::setup`). The
//! core drives a party's set-up (`super::setup::drive`).
//!
//! Must not: read a client's block directly (`super::params` does), hold
//! the adapter lock across an NDIS call, or complete a party the core has
//! not finished (completions are the core's effects).

use core::ptr::{NonNull, null_mut};

use ndis_sys::*;

use super::call_block::{CallBlock, CallShape};
use super::cm_context::{PartyContext, Signed, VcContext};
use super::context::AdapterContext;
use super::effects::{begin_call, call_result, drop_call, finish, on_party, on_vc, take_call};
use super::params::{fit_flows, read_call};
use super::recorder::{Span, keep_alive};
use super::setup::drive;
use super::trace::{ERROR, INFO, WARN};
use crate::call_manager::{Address, ECHO_ADDRESS, PartyPlan, Refusal, Via};

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
        let party = adapter.party_list().alloc(PartyContext::new(adapter, ndis_party));
        let leaf = party.and_then(|_| adapter.vc_list().alloc(VcContext::new(adapter, null_mut())));
        let leaf_call = leaf.and_then(|_| take_call(adapter, &shape.swapped(), address));
        match (party, leaf, leaf_call) {
            (Some(party), Some(leaf), Some(leaf_call)) => Some(Self {
                party,
                leaf,
                leaf_call,
                root_call,
            }),
            _ => {
                // SAFETY: all taken above, none given to anyone.
                unsafe { release(adapter, party, leaf, leaf_call, root_call) };
                None
            }
        }
    }

    /// The core took the party (`plan`): the contexts learn their ids,
    /// and the blocks go to their VCs, with the client's parameters.
    fn attach(&self, adapter: &AdapterContext, root: &VcContext, cp: PCO_CALL_PARAMETERS, plan: &PartyPlan<usize>) {
        // SAFETY: allocated by Self::alloc; the core now holds it, and
        // frees it only after the handler that attaches it returns.
        let party = unsafe { self.party.as_ref() };
        // SAFETY: allocated by Self::alloc; the core deletes the leaf's VC no
        // earlier than an effect of this handler's set-up.
        let leaf = unsafe { self.leaf.as_ref() };
        party.set_id(plan.party);
        party.set_client_params(cp);
        leaf.set_id(plan.leaf);
        begin_call(adapter, leaf, self.leaf_call);
        if let Some(b) = self.root_call {
            begin_call(adapter, root, b);
            root.set_client_params(cp);
        }
    }

    /// Gives everything back (the core refused the party).
    ///
    /// # Safety
    /// None of it was given to the core, NDIS or a VC; none is used after.
    unsafe fn free(self, adapter: &AdapterContext) {
        // SAFETY: all four came from Self::alloc on this adapter and none
        // was given to anyone, nor is used after (precondition).
        unsafe {
            release(
                adapter,
                Some(self.party),
                Some(self.leaf),
                Some(self.leaf_call),
                self.root_call,
            )
        };
    }
}

/// Frees a party's context, its leaf's, the leaf's and the root's call
/// blocks, those present, in that order.
///
/// # Safety
/// Each came from this adapter's lists, was never given to anyone, and is
/// not used after.
unsafe fn release(
    adapter: &AdapterContext,
    party: Option<NonNull<PartyContext>>,
    leaf: Option<NonNull<VcContext>>,
    leaf_call: Option<NonNull<CallBlock>>,
    root_call: Option<NonNull<CallBlock>>,
) {
    if let Some(p) = party {
        // SAFETY: allocated, never given to anyone (precondition).
        unsafe { p.as_ref() }.kill();
        // SAFETY: from this adapter's party list; not used after (precondition).
        unsafe { adapter.party_list().free(p) };
    }
    if let Some(l) = leaf {
        // SAFETY: allocated, never given to anyone (precondition).
        unsafe { l.as_ref() }.kill();
        // SAFETY: from this adapter's VC list; not used after (precondition).
        unsafe { adapter.vc_list().free(l) };
    }
    for block in [leaf_call, root_call].into_iter().flatten() {
        // SAFETY: taken, never attached nor given to NDIS (precondition).
        unsafe { drop_call(adapter, block) };
    }
}

/// Adds a party to `root`: the initial party of a multipoint make call
/// (`via` MakeCall, which also activates the root) or one more
/// (ProtocolCmAddParty). Allocates the party's and the leaf's contexts and
/// call blocks (and the root's, for a make call: none of them, RESOURCES
/// and nothing begun), records the party in the core, and lets the core
/// drive the rest (`super::setup::drive`): the leaf's VC created on the
/// SAP's AF (NdisMCmCreateVc), a make call's root and the leaf activated
/// (the leaf with the party's flows, swapped: the root's transmit is the
/// leaf's receive) and the call offered (NdisMCmDispatchIncomingCall).
/// Returns the leaf's answer when it came inside the dispatch (and on
/// SUCCESS writes the party context to `out`), else PENDING: the answer
/// completes the request later. A rejection or a failed NdisMCmCreateVc
/// or NdisMCmActivateVc that must wait for an incoming drop party of the
/// call on its way (`CallManager::release_failed_add`) also returns
/// PENDING.
///
/// # Safety
/// `cp` is NDIS's parameters for this request (already read by
/// [`read_call`]); `out` is NDIS's non-NULL out slot for the
/// CallMgrPartyContext; for MakeCall, ProtocolCmMakeCall on `root`.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
pub(super) unsafe fn add_leaf(
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
    // SAFETY: just allocated, ours until the core knows it; then alive until
    // covmini deletes the leaf's VC (an effect after this handler's last use).
    let leaf = unsafe { setup.leaf.as_ref() };
    let begun = on_vc(root, |cm| {
        cm.begin_party(root.id(), address, party.token(), leaf.token(), via)
    });
    let begun = match begun {
        Ok(begun) => begun,
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
    setup.attach(adapter, root, cp, &begun.plan);
    // Computed now: once the request is answered the party may be gone.
    let handle = party.as_handle();
    let status = drive(adapter, begun);
    if status == NDIS_STATUS_SUCCESS {
        // SAFETY: NDIS's out slot for CallMgrPartyContext (non-NULL, precondition).
        unsafe { out.write(handle) };
    }
    match via {
        // A failed multipoint make call ends the root's call (the core took
        // it down before answering so).
        // SAFETY: ProtocolCmMakeCall on the root, answered with `status`.
        Via::MakeCall => unsafe { call_result(adapter, root, status) },
        // A failed add party leaves the root as it was.
        Via::AddParty => status,
    }
}

handler! {
    #[flight(ProtocolCmAddParty, vc_ctx: VcContext, span)]
    pub(super) unsafe fn add_party(
        vc_ctx: NDIS_HANDLE,
        cp: PCO_CALL_PARAMETERS,
        party: NDIS_HANDLE,
        party_ctx: PNDIS_HANDLE,
    ) -> NDIS_STATUS => add_party_impl;
}

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
/// # Lifetime
/// The adapter, reached through the root VC's context (`vc_ctx`), lives
/// through the body: `handler!` runs it inside this handler's span, which
/// holds a `Running` count on the adapter it found through that same
/// context until the entry records the return, after the body;
/// [`keep_alive`] checks that the span is on the adapter the body
/// validated, and takes a count of its own if not (or if there is no span).
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
unsafe fn add_party_impl(
    span: Option<&Span<'_>>,
    vc_ctx: NDIS_HANDLE,
    cp: PCO_CALL_PARAMETERS,
    party: NDIS_HANDLE,
    party_ctx: PNDIS_HANDLE,
) -> NDIS_STATUS {
    // SAFETY: the CallMgrVcContext covmini gave NDIS.
    let Some(root) = (unsafe { VcContext::from_handle(vc_ctx) }) else {
        trace!(ERROR, "ProtocolCmAddParty: not a VC context: {:p}", vc_ctx);
        return NDIS_STATUS_FAILURE;
    };
    let _running = keep_alive(span, root.adapter());
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

handler! {
    #[flight(ProtocolCmDropParty, party_ctx: PartyContext, span)]
    pub(super) unsafe fn drop_party(party_ctx: NDIS_HANDLE, data: PVOID, size: UINT) -> NDIS_STATUS => drop_party_impl;
}

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
/// # Lifetime
/// The adapter, reached through the party's context (`party_ctx`), lives
/// through the body: `handler!` runs it inside this handler's span, which
/// holds a `Running` count on the adapter it found through that same
/// context until the entry records the return, after the body;
/// [`keep_alive`] checks that the span is on the adapter the body
/// validated, and takes a count of its own if not (or if there is no span).
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
unsafe fn drop_party_impl(span: Option<&Span<'_>>, party_ctx: NDIS_HANDLE, data: PVOID, size: UINT) -> NDIS_STATUS {
    // SAFETY: the CallMgrPartyContext covmini gave NDIS.
    let Some(party) = (unsafe { PartyContext::from_handle(party_ctx) }) else {
        trace!(ERROR, "ProtocolCmDropParty: not a party context: {:p}", party_ctx);
        return NDIS_STATUS_FAILURE;
    };
    if !data.is_null() && size > 0 {
        return NDIS_STATUS_INVALID_DATA;
    }
    let adapter = party.adapter();
    let _running = keep_alive(span, adapter);
    match on_party(party, |cm| cm.drop_party(party.id())) {
        // The party context may be freed by these effects: not used after.
        Ok(f) => finish(adapter, &f),
        Err(r) => {
            trace!(WARN, "ProtocolCmDropParty({:p}): {:?}", party_ctx, r);
            r.status()
        }
    }
}

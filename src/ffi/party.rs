//! Point to multipoint: a party's set-up ([`add_leaf`], for a multipoint
//! make call's initial party and for ProtocolCmAddParty), and
//! ProtocolCmDropParty. These go through the core's party state machine
//! ([`crate::call_manager`]'s `party` module); each party's leaf is offered
//! an ordinary incoming call on a VC covmini creates, whose answer arrives
//! in ProtocolCmIncomingCallComplete (`super::call`, `super::offer`).
//!
//! Must not: read a client's block directly (`super::params` does), hold
//! the adapter lock across an NDIS call, or complete a party the core has
//! not finished (completions are the core's effects).

use core::ptr::{NonNull, null_mut};

use crate::flight::event::Ddi;
use ndis_sys::*;

use super::cm_context::{AfContext, CallBlock, CallShape, PartyContext, SapContext, Signed, VcContext};
use super::context::AdapterContext;
use super::effects::{begin_call, call_result, drop_call, finish, on_party, on_vc, perform, take_call};
use super::offer::answer_offer;
use super::params::{fit_flows, read_call};
use super::trace::{ERROR, INFO, WARN};
use crate::call_manager::{Address, ECHO_ADDRESS, Handlers, Refusal, Via};

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
            // SAFETY: allocated above from this adapter's party list, never given
            // to anyone; not used after.
            unsafe { adapter.party_list().free(party) };
            drop_root();
            return None;
        };
        let Some(leaf_call) = take_call(adapter, &shape.swapped(), address) else {
            // SAFETY: allocated above, never given to anyone.
            unsafe { party.as_ref() }.kill();
            // SAFETY: allocated above from this adapter's party list, never given
            // to anyone; not used after.
            unsafe { adapter.party_list().free(party) };
            // SAFETY: allocated above, never given to anyone.
            unsafe { leaf.as_ref() }.kill();
            // SAFETY: allocated above from this adapter's VC list, never given to
            // anyone; not used after.
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
        // SAFETY: allocated by Self::alloc from this adapter's party list,
        // never given to anyone (precondition); not used after.
        unsafe { adapter.party_list().free(self.party) };
        // SAFETY: allocated by Self::alloc, never given to anyone
        // (precondition), so still alive.
        unsafe { self.leaf.as_ref() }.kill();
        // SAFETY: allocated by Self::alloc from this adapter's VC list, never
        // given to anyone (precondition); not used after.
        unsafe { adapter.vc_list().free(self.leaf) };
        // SAFETY: never attached nor given to NDIS.
        unsafe { drop_call(adapter, self.leaf_call) };
        if let Some(b) = self.root_call {
            // SAFETY: taken by Self::alloc, never attached nor given to NDIS
            // (precondition); not used after.
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
    // SAFETY: fresh blocks, alive until their call ends (after every NDIS
    // call below that is handed their parameters).
    let leaf_params = unsafe { setup.leaf_call.as_ref() }.params();
    // SAFETY: the root's block (a make call's), fresh from take_call, alive
    // until its call ends (after every NDIS call below that is handed its parameters).
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
        adapter.ddi(Ddi::NdisMCmActivateVc, root.ndis(), unsafe {
            NdisMCmActivateVc(root.ndis(), own)
        }) == NDIS_STATUS_SUCCESS
    });
    // SAFETY: the leaf's NdisVcHandle, just made by NdisMCmCreateVc, and
    // covmini's own parameters for it (the leaf's block), MediaParameters
    // non-NULL, alive until the call ends.
    let leaf_ok = adapter.ddi(Ddi::NdisMCmActivateVc, ndis_vc, unsafe {
        NdisMCmActivateVc(ndis_vc, leaf_params)
    }) == NDIS_STATUS_SUCCESS;
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
    adapter.called(Ddi::NdisMCmDispatchIncomingCall, sap.ndis(), offered);
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

handler! {
    #[flight(ProtocolCmAddParty, vc_ctx: VcContext)]
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

handler! {
    #[flight(ProtocolCmDropParty, party_ctx: PartyContext)]
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

//! The client handlers NDIS calls about the core's objects: completions
//! and call events, routed to the client core by the context value
//! (`route`), the data path's entries (`data`), and the handlers covclient
//! has no use for:
//!
//! * ProtocolCoOidRequest (a call manager querying or setting the client)
//!   returns `NDIS_STATUS_NOT_SUPPORTED` ("For whatever subset of
//!   connection-oriented functionality that a client does not support, its
//!   placeholder ProtocolXxx functions should return
//!   NDIS_STATUS_NOT_SUPPORTED", NDIS_CO_CLIENT_OPTIONAL_HANDLERS \[D\]);
//! * a callback for an object covclient does not hold prints the violation:
//!   a bug in NDIS or in the caller, which a debugger should see;
//! * receive indications are counted and checked (`data`), then returned
//!   unless NDIS kept ownership (`NDIS_RECEIVE_FLAGS_RESOURCES`).
//!
//! Must not: pretend an operation happened, or free a context (`objects`).

use ndis_sys::*;

use covclient_abi::HandleKind::{Party, Sap, Vc};

use core::sync::atomic::Ordering;

use super::route::{complete, handle_of, on, status};
use super::trace::{ERROR, INFO};
use super::{binding, data, objects, oid, send};
use crate::core::incoming::Completion as C;

ndis_fn! {
    pub(super) unsafe fn co_oid_request(af: NDIS_HANDLE, vc: NDIS_HANDLE, party: NDIS_HANDLE, request: PNDIS_OID_REQUEST) -> NDIS_STATUS => co_oid_request_impl;
    pub(super) unsafe fn co_oid_request_complete(af: NDIS_HANDLE, vc: NDIS_HANDLE, party: NDIS_HANDLE, request: PNDIS_OID_REQUEST, status: NDIS_STATUS) => co_oid_request_complete_impl;
    pub(super) unsafe fn register_sap_complete(status: NDIS_STATUS, sap_ctx: NDIS_HANDLE, sap: PCO_SAP, sap_handle: NDIS_HANDLE) => register_sap_complete_impl;
    pub(super) unsafe fn deregister_sap_complete(status: NDIS_STATUS, sap_ctx: NDIS_HANDLE) => deregister_sap_complete_impl;
    pub(super) unsafe fn make_call_complete(status: NDIS_STATUS, vc_ctx: NDIS_HANDLE, party: NDIS_HANDLE, params: PCO_CALL_PARAMETERS) => make_call_complete_impl;
    pub(super) unsafe fn modify_call_qos_complete(status: NDIS_STATUS, vc_ctx: NDIS_HANDLE, params: PCO_CALL_PARAMETERS) => modify_call_qos_complete_impl;
    pub(super) unsafe fn close_call_complete(status: NDIS_STATUS, vc_ctx: NDIS_HANDLE, party_ctx: NDIS_HANDLE) => close_call_complete_impl;
    pub(super) unsafe fn add_party_complete(status: NDIS_STATUS, party_ctx: NDIS_HANDLE, party: NDIS_HANDLE, params: PCO_CALL_PARAMETERS) => add_party_complete_impl;
    pub(super) unsafe fn drop_party_complete(status: NDIS_STATUS, party_ctx: NDIS_HANDLE) => drop_party_complete_impl;
    pub(super) unsafe fn incoming_call_qos_change(vc_ctx: NDIS_HANDLE, params: PCO_CALL_PARAMETERS) => incoming_call_qos_change_impl;
    pub(super) unsafe fn incoming_close_call(status: NDIS_STATUS, vc_ctx: NDIS_HANDLE, data: PVOID, size: UINT) => incoming_close_call_impl;
    pub(super) unsafe fn incoming_drop_party(status: NDIS_STATUS, party_ctx: NDIS_HANDLE, data: PVOID, size: UINT) => incoming_drop_party_impl;
    pub(super) unsafe fn call_connected(vc_ctx: NDIS_HANDLE) => call_connected_impl;
    pub(super) unsafe fn co_status_ex(binding: NDIS_HANDLE, vc_ctx: NDIS_HANDLE, indication: PNDIS_STATUS_INDICATION) => co_status_ex_impl;
    pub(super) unsafe fn co_receive_net_buffer_lists(binding: NDIS_HANDLE, vc_ctx: NDIS_HANDLE, nbls: PNET_BUFFER_LIST, count: ULONG, flags: ULONG) => co_receive_impl;
    pub(super) unsafe fn co_send_net_buffer_lists_complete(vc_ctx: NDIS_HANDLE, nbls: PNET_BUFFER_LIST, flags: ULONG) => co_send_complete_impl;
    pub(super) unsafe fn oid_request_complete(binding: NDIS_HANDLE, request: PNDIS_OID_REQUEST, status: NDIS_STATUS) => oid_request_complete_impl;
    pub(super) unsafe fn status_ex(binding: NDIS_HANDLE, indication: PNDIS_STATUS_INDICATION) => status_ex_impl;
    pub(super) unsafe fn receive_net_buffer_lists(binding: NDIS_HANDLE, nbls: PNET_BUFFER_LIST, port: NDIS_PORT_NUMBER, count: ULONG, flags: ULONG) => receive_impl;
    pub(super) unsafe fn send_net_buffer_lists_complete(binding: NDIS_HANDLE, nbls: PNET_BUFFER_LIST, flags: ULONG) => send_complete_impl;
}

/// ProtocolCoOidRequest (a call manager querying or setting the client):
/// covclient answers none yet. <= DISPATCH_LEVEL.
unsafe fn co_oid_request_impl(
    _af: NDIS_HANDLE,
    _vc: NDIS_HANDLE,
    _party: NDIS_HANDLE,
    _r: PNDIS_OID_REQUEST,
) -> NDIS_STATUS {
    NDIS_STATUS_NOT_SUPPORTED
}

/// ProtocolCoOidRequestComplete: an OID_REQUEST's IRP completes (`oid`).
/// <= DISPATCH_LEVEL.
unsafe fn co_oid_request_complete_impl(
    _af: NDIS_HANDLE,
    _vc: NDIS_HANDLE,
    _p: NDIS_HANDLE,
    r: PNDIS_OID_REQUEST,
    s: NDIS_STATUS,
) {
    // SAFETY: the request NDIS passed to its completion.
    unsafe { oid::completed(r, s) };
}

/// ProtocolClRegisterSapComplete: covclient registers no SAP. <= DISPATCH_LEVEL.
unsafe fn register_sap_complete_impl(s: NDIS_STATUS, ctx: NDIS_HANDLE, _sap: PCO_SAP, h: NDIS_HANDLE) {
    // The NdisSapHandle of a pended registration comes here.
    if s == NDIS_STATUS_SUCCESS
        && let Some(c) = handle_of(ctx, Sap).and_then(|sap| objects::SAPS.get(sap))
    {
        c.ndis.store(h, Ordering::Release);
    }
    if on(ctx, Sap, |h| C::RegisterSap(h, status(s))) {
        return;
    }
    trace!(
        ERROR,
        c"ProtocolClRegisterSapComplete for a SAP covclient never registered"
    );
}

/// ProtocolClDeregisterSapComplete: as above. <= DISPATCH_LEVEL.
unsafe fn deregister_sap_complete_impl(s: NDIS_STATUS, ctx: NDIS_HANDLE) {
    if on(ctx, Sap, |h| C::DeregisterSap(h, status(s))) {
        return;
    }
    trace!(
        ERROR,
        c"ProtocolClDeregisterSapComplete for a SAP covclient never registered"
    );
}

/// ProtocolClMakeCallComplete: covclient makes no call. <= DISPATCH_LEVEL.
unsafe fn make_call_complete_impl(s: NDIS_STATUS, vc: NDIS_HANDLE, _party: NDIS_HANDLE, _p: PCO_CALL_PARAMETERS) {
    // The initial party (NDIS passes its own handle) is found by the core.
    if on(vc, Vc, |h| C::MakeCall(h, None, status(s))) {
        return;
    }
    trace!(ERROR, c"ProtocolClMakeCallComplete for a call covclient never made");
}

/// ProtocolClModifyCallQoSComplete: as above. <= DISPATCH_LEVEL.
unsafe fn modify_call_qos_complete_impl(s: NDIS_STATUS, vc: NDIS_HANDLE, _p: PCO_CALL_PARAMETERS) {
    if on(vc, Vc, |h| C::ModifyQos(h, status(s))) {
        return;
    }
    trace!(ERROR, c"ProtocolClModifyCallQoSComplete without a call");
}

/// ProtocolClCloseCallComplete: as above. <= DISPATCH_LEVEL.
unsafe fn close_call_complete_impl(s: NDIS_STATUS, vc: NDIS_HANDLE, _party: NDIS_HANDLE) {
    if on(vc, Vc, |h| C::CloseCall(h, status(s))) {
        return;
    }
    trace!(ERROR, c"ProtocolClCloseCallComplete without a call");
}

/// ProtocolClAddPartyComplete: as above. <= DISPATCH_LEVEL.
unsafe fn add_party_complete_impl(s: NDIS_STATUS, ctx: NDIS_HANDLE, h: NDIS_HANDLE, _p: PCO_CALL_PARAMETERS) {
    // The NdisPartyHandle of a pended add comes here.
    if s == NDIS_STATUS_SUCCESS
        && let Some(c) = handle_of(ctx, Party).and_then(|p| objects::PARTIES.get(p))
    {
        c.ndis.store(h, Ordering::Release);
    }
    if on(ctx, Party, |h| C::AddParty(h, status(s))) {
        return;
    }
    trace!(ERROR, c"ProtocolClAddPartyComplete without a call");
}

/// ProtocolClDropPartyComplete: as above. <= DISPATCH_LEVEL.
unsafe fn drop_party_complete_impl(s: NDIS_STATUS, ctx: NDIS_HANDLE) {
    if on(ctx, Party, |h| C::DropParty(h, status(s))) {
        return;
    }
    trace!(ERROR, c"ProtocolClDropPartyComplete without a call");
}

/// ProtocolClIncomingCallQoSChange: no call exists. <= DISPATCH_LEVEL.
unsafe fn incoming_call_qos_change_impl(vc: NDIS_HANDLE, _p: PCO_CALL_PARAMETERS) {
    if on(vc, Vc, C::QosChange) {
        return;
    }
    trace!(ERROR, c"ProtocolClIncomingCallQoSChange without a call");
}

/// ProtocolClIncomingCloseCall: no call exists. <= DISPATCH_LEVEL.
unsafe fn incoming_close_call_impl(s: NDIS_STATUS, vc: NDIS_HANDLE, _d: PVOID, _n: UINT) {
    if on(vc, Vc, |h| C::IncomingClose(h, status(s))) {
        return;
    }
    trace!(ERROR, c"ProtocolClIncomingCloseCall without a call");
}

/// ProtocolClIncomingDropParty: no call exists. <= DISPATCH_LEVEL.
unsafe fn incoming_drop_party_impl(s: NDIS_STATUS, ctx: NDIS_HANDLE, _d: PVOID, _n: UINT) {
    if on(ctx, Party, |h| C::IncomingDropParty(h, status(s))) {
        return;
    }
    trace!(ERROR, c"ProtocolClIncomingDropParty without a call");
}

/// ProtocolClCallConnected: no call exists. <= DISPATCH_LEVEL.
unsafe fn call_connected_impl(vc: NDIS_HANDLE) {
    if on(vc, Vc, C::CallConnected) {
        return;
    }
    trace!(ERROR, c"ProtocolClCallConnected without a call");
}

/// ProtocolCoStatusEx: a status indication; the skeleton keeps no link
/// state, so it only notes it. <= DISPATCH_LEVEL.
unsafe fn co_status_ex_impl(_binding: NDIS_HANDLE, _vc: NDIS_HANDLE, _i: PNDIS_STATUS_INDICATION) {
    trace!(INFO, c"CO status indication");
}

/// ProtocolCoReceiveNetBufferLists: each NET_BUFFER counted and checked
/// against the VC's pattern (`data`), then the NBLs NDIS lends (no
/// `NDIS_RECEIVE_FLAGS_RESOURCES`) are returned at once with
/// NdisReturnNetBufferLists, the way a CoNDIS client returns them \[D:
/// nc-ndis-protocol_co_receive_net_buffer_lists\]. <= DISPATCH_LEVEL.
unsafe fn co_receive_impl(binding: NDIS_HANDLE, vc: NDIS_HANDLE, nbls: PNET_BUFFER_LIST, _count: ULONG, flags: ULONG) {
    // SAFETY: the chain NDIS indicated, lent for this call; <= DISPATCH_LEVEL.
    unsafe { data::receive(vc, nbls) };
    // SAFETY: NDIS passes covclient's binding context; the NBLs are the ones
    // it indicated, returned once, at the IRQL of the indication.
    unsafe { return_nbls(binding, nbls, flags) };
}

/// ProtocolCoSendNetBufferListsComplete: a SEND's NBLs are back: freed
/// (`send`), their statuses counted on the VC. <= DISPATCH_LEVEL.
unsafe fn co_send_complete_impl(vc: NDIS_HANDLE, nbls: PNET_BUFFER_LIST, _flags: ULONG) {
    // SAFETY: NBLs covclient sent on this VC, which NDIS returns here.
    let (ok, failed, first) = unsafe { send::completed(nbls) };
    if let Some(h) = send::vc_of(vc)
        && complete(C::SendComplete(h, ok, failed, first))
    {
        return;
    }
    trace!(ERROR, c"CO send completion for a VC the core does not hold");
}

/// ProtocolOidRequestComplete: covclient makes no connectionless OID
/// request. <= DISPATCH_LEVEL.
unsafe fn oid_request_complete_impl(_binding: NDIS_HANDLE, _r: PNDIS_OID_REQUEST, _s: NDIS_STATUS) {
    trace!(ERROR, c"ProtocolOidRequestComplete for a request covclient never made");
}

/// ProtocolStatusEx: noted. <= DISPATCH_LEVEL.
unsafe fn status_ex_impl(_binding: NDIS_HANDLE, _i: PNDIS_STATUS_INDICATION) {
    trace!(INFO, c"status indication");
}

/// ProtocolReceiveNetBufferLists: no connectionless traffic on a CoWAN
/// binding; returned as in [`co_receive_impl`]. <= DISPATCH_LEVEL.
unsafe fn receive_impl(
    binding: NDIS_HANDLE,
    nbls: PNET_BUFFER_LIST,
    _port: NDIS_PORT_NUMBER,
    _count: ULONG,
    flags: ULONG,
) {
    trace!(ERROR, c"connectionless receive indication: returned");
    // SAFETY: as in co_receive_impl.
    unsafe { return_nbls(binding, nbls, flags) };
}

/// ProtocolSendNetBufferListsComplete: covclient sends nothing. <= DISPATCH_LEVEL.
unsafe fn send_complete_impl(_binding: NDIS_HANDLE, _nbls: PNET_BUFFER_LIST, _flags: ULONG) {
    trace!(ERROR, c"send completion for a send covclient never made");
}

/// Returns indicated NBLs unless NDIS kept them (`NDIS_RECEIVE_FLAGS_RESOURCES`:
/// the protocol must not keep them and does not return them).
///
/// # Safety
/// `binding` is the ProtocolBindingContext of the indication, `nbls` its
/// NBLs; called once per indication, at its IRQL.
unsafe fn return_nbls(binding: NDIS_HANDLE, nbls: PNET_BUFFER_LIST, flags: ULONG) {
    if flags & NDIS_RECEIVE_FLAGS_RESOURCES != 0 || nbls.is_null() {
        return;
    }
    // SAFETY: forwarded (the context NDIS passed for this binding).
    let Some(handle) = (unsafe { binding::ndis_binding_handle(binding) }) else {
        trace!(ERROR, c"receive on an unknown binding context: NBLs not returned");
        return;
    };
    let return_flags = if flags & NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL != 0 {
        NDIS_RETURN_FLAGS_DISPATCH_LEVEL
    } else {
        0
    };
    // SAFETY: the binding handle NdisOpenAdapterEx gave; the NBLs NDIS lent
    // in this indication, returned once; <= DISPATCH_LEVEL.
    unsafe { NdisReturnNetBufferLists(handle, nbls, return_flags) };
}

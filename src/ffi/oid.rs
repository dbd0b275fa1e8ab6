//! OID glue: turns an `NDIS_OID_REQUEST` into a checked [`OidRequest`] view,
//! lets the FFI-free [`crate::ctrl_path`] answer it, and writes the answer
//! back. Every covmini OID answer is synchronous: nothing here pends.
//!
//! MiniportCoOidRequest (`super::co`) calls [`answer`] with its adapter or
//! VC snapshot; ProtocolCoOidRequest ([`oid_request`], the call manager's
//! OID handler, at the end of this file) hands its contexts to
//! [`cm_request`], which checks them and snapshots the call manager. Neither
//! stores anything for the call manager: it answers queries only.

use ndis_sys::*;

use super::cm_context::{AfContext, PartyContext, Signed, VcContext};
use super::recorder::{Span, keep_alive};
use super::trace::{ERROR, INFO, WARN};
use crate::ctrl_path::{self, AdapterInfo, CmInfo, OidOutcome, OidRequest, RequestKind, Scope, SetEffect};

/// Answers `request` for `scope`. Returns the status and, for a successful
/// set, what the caller must store.
///
/// # Safety
/// `request` is NULL or the NDIS_OID_REQUEST NDIS passed to the handler:
/// its InformationBuffer is valid for InformationBufferLength bytes and owned
/// by this driver until the handler returns.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
pub(super) unsafe fn answer(
    request: PNDIS_OID_REQUEST,
    scope: Scope<'_>,
    adapter: &AdapterInfo,
) -> (NDIS_STATUS, Option<SetEffect>) {
    if request.is_null() {
        return (NDIS_STATUS_INVALID_PARAMETER, None);
    }
    // SAFETY: non-null request from NDIS (precondition), ours for the call.
    let req = unsafe { &mut *request };
    let kind = RequestKind::from_request_type(req.RequestType);
    // SAFETY: QUERY_INFORMATION and SET_INFORMATION share Oid,
    // InformationBuffer and InformationBufferLength (asserted in ndis-sys);
    // a method request is refused by ctrl_path before its buffer is used.
    let info = unsafe { req.DATA.QUERY_INFORMATION };
    let len = usize::try_from(info.InformationBufferLength).unwrap_or(0);
    if info.InformationBuffer.is_null() && len != 0 {
        // A length with no buffer: no answer fits, and none may be read or
        // written (docs/oids.md, the first row of the status table).
        let mut refused = info;
        refused.BytesWritten = 0;
        refused.BytesNeeded = 0;
        req.DATA.QUERY_INFORMATION = refused;
        return (NDIS_STATUS_INVALID_DATA, None);
    }
    let buffer: &mut [u8] = if info.InformationBuffer.is_null() || len == 0 {
        &mut []
    } else {
        // SAFETY: NDIS's information buffer of InformationBufferLength bytes,
        // exclusively ours until the handler returns (precondition).
        unsafe { core::slice::from_raw_parts_mut(info.InformationBuffer.cast::<u8>(), len) }
    };
    let outcome: OidOutcome = ctrl_path::handle(
        OidRequest {
            kind,
            oid: info.Oid,
            buffer,
        },
        scope,
        adapter,
    );
    // BytesWritten (query) and BytesRead (set) share an offset, as do the two
    // BytesNeeded fields (asserted in ndis-sys), so one write serves both.
    let mut done = info;
    done.BytesWritten = outcome.bytes_written;
    done.BytesNeeded = outcome.bytes_needed;
    req.DATA.QUERY_INFORMATION = done;
    (outcome.status, outcome.effect)
}

/// ProtocolCoOidRequest's work: checks the contexts NDIS passed, copies
/// what the call manager's OIDs answer from (its addresses, [`CmInfo`])
/// under the adapter lock, releases it, and answers the request with
/// `Scope::CallManager`. A VC or party context must be live, but changes no
/// answer: covmini's call-manager OIDs describe the fabric, not one call.
/// Never pends; a context that is not covmini's is
/// `NDIS_STATUS_INVALID_PARAMETER`, as on the miniport path.
///
/// # Safety
/// `af_ctx` is the ProtocolAfContext NDIS passed (a CallMgrAfContext covmini
/// gave it), `vc_ctx` and `party_ctx` NULL or contexts covmini gave NDIS,
/// and `request` as for [`answer`].
///
/// # Lifetime
/// The adapter, reached through the AF's context (`af_ctx`), lives through
/// the body: `handler!` runs it inside this handler's span, which holds a
/// `Running` count on the adapter it found through that same context until
/// the entry records the return, after the body; [`keep_alive`] checks that
/// the span is on the adapter the body validated, and takes a count of its
/// own if not (or if there is no span).
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL; holds the adapter lock only to copy the
/// call manager's addresses, and calls no NDIS function.
pub(super) unsafe fn cm_request(
    span: Option<&Span<'_>>,
    af_ctx: NDIS_HANDLE,
    vc_ctx: NDIS_HANDLE,
    party_ctx: NDIS_HANDLE,
    request: PNDIS_OID_REQUEST,
) -> NDIS_STATUS {
    // SAFETY: the contexts NDIS passed this handler (precondition).
    let Some((af, vc)) = (unsafe { request_contexts(af_ctx, vc_ctx, party_ctx) }) else {
        return NDIS_STATUS_INVALID_PARAMETER;
    };
    let adapter = af.adapter();
    // HaltEx does not free the adapter while this request reads it (a
    // client's close of its AF may complete halt's wait on another CPU).
    let _running = keep_alive(span, adapter);
    // First act on the VC's context, as a send's (`super::data`, "The
    // handshake"): a VC whose close has begun is as one that is gone.
    let inside = match vc.map(|v| (v, v.enter())) {
        // A client's VC outlives its close (`VcContext::readable_while_closing`).
        Some((v, (inside, true))) if !v.readable_while_closing() => {
            inside.leave();
            return NDIS_STATUS_INVALID_PARAMETER;
        }
        Some((_, (inside, _))) => Some(inside),
        None => None,
    };
    let snapshot = {
        let cm = adapter.cm();
        let live = cm.af_is(af.id(), af.token()) && vc.is_none_or(|v| cm.vc_is(v.id(), v.token()));
        live.then(|| CmInfo::new(cm.sap_addresses()))
    };
    // The VC is not read again.
    if let Some(inside) = inside {
        inside.leave();
    }
    let Some(info) = snapshot else {
        trace!(
            ERROR,
            "ProtocolCoOidRequest: AF {:p} or VC {:p} is gone", af_ctx, vc_ctx
        );
        return NDIS_STATUS_INVALID_PARAMETER;
    };
    // SAFETY: NDIS's request for this handler (or NULL, refused inside).
    // The call manager answers queries only: no set reaches a SetEffect.
    let (status, _) = unsafe { answer(request, Scope::CallManager(&info), &adapter.info()) };
    status
}

/// The contexts of a ProtocolCoOidRequest, checked: the AF's, and the VC's
/// when `vc_ctx` is not NULL; a non-NULL `party_ctx` must be a party's.
/// None (traced) when any is not a context of its kind.
///
/// # Safety
/// `af_ctx`, `vc_ctx` and `party_ctx` are the contexts NDIS passed
/// ProtocolCoOidRequest: each NULL or a context covmini gave NDIS.
///
/// # IRQL
/// Any IRQL; takes no lock.
unsafe fn request_contexts<'a>(
    af_ctx: NDIS_HANDLE,
    vc_ctx: NDIS_HANDLE,
    party_ctx: NDIS_HANDLE,
) -> Option<(&'a AfContext, Option<&'a VcContext>)> {
    // SAFETY: NDIS passes back the CallMgrAfContext covmini gave it.
    let Some(af) = (unsafe { AfContext::from_handle(af_ctx) }) else {
        trace!(ERROR, "ProtocolCoOidRequest: not an AF context: {:p}", af_ctx);
        return None;
    };
    let vc = if vc_ctx.is_null() {
        None
    } else {
        // SAFETY: a non-NULL ProtocolVcContext is a VC context covmini gave NDIS.
        let Some(vc) = (unsafe { VcContext::from_handle(vc_ctx) }) else {
            trace!(ERROR, "ProtocolCoOidRequest: not a VC context: {:p}", vc_ctx);
            return None;
        };
        Some(vc)
    };
    // SAFETY: a non-NULL ProtocolPartyContext is a party context covmini gave NDIS.
    if !party_ctx.is_null() && unsafe { PartyContext::from_handle(party_ctx) }.is_none() {
        trace!(ERROR, "ProtocolCoOidRequest: not a party context: {:p}", party_ctx);
        return None;
    }
    Some((af, vc))
}

handler! {
    #[flight(ProtocolCoOidRequest, af_ctx: AfContext, span)]
    pub(super) unsafe fn oid_request(
        af_ctx: NDIS_HANDLE,
        vc_ctx: NDIS_HANDLE,
        party_ctx: NDIS_HANDLE,
        request: PNDIS_OID_REQUEST,
    ) -> NDIS_STATUS => oid_request_impl;
}

/// ProtocolCoOidRequest: OIDs sent to the call manager with an AF handle
/// (and possibly a VC or party handle), answered from `ctrl_path`'s table
/// in `Scope::CallManager` by [`cm_request`], never pended.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
unsafe fn oid_request_impl(
    span: Option<&Span<'_>>,
    af_ctx: NDIS_HANDLE,
    vc_ctx: NDIS_HANDLE,
    party_ctx: NDIS_HANDLE,
    request: PNDIS_OID_REQUEST,
) -> NDIS_STATUS {
    trace!(
        INFO,
        "ProtocolCoOidRequest(af {:p}, vc {:p}, party {:p})", af_ctx, vc_ctx, party_ctx
    );
    // SAFETY: NDIS's contexts and request for this handler.
    unsafe { cm_request(span, af_ctx, vc_ctx, party_ctx, request) }
}

handler! {
    #[flight(ProtocolCoOidRequestComplete, af_ctx: AfContext)]
    pub(super) unsafe fn oid_request_complete(
        af_ctx: NDIS_HANDLE,
        _vc_ctx: NDIS_HANDLE,
        _party_ctx: NDIS_HANDLE,
        request: PNDIS_OID_REQUEST,
        status: NDIS_STATUS,
    ) => oid_request_complete_impl;
}

/// ProtocolCoOidRequestComplete.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
unsafe fn oid_request_complete_impl(
    af_ctx: NDIS_HANDLE,
    _vc_ctx: NDIS_HANDLE,
    _party_ctx: NDIS_HANDLE,
    request: PNDIS_OID_REQUEST,
    status: NDIS_STATUS,
) {
    trace!(
        WARN,
        "ProtocolCoOidRequestComplete(af {:p}, {:p}, {:#010x}): covmini issues no NdisMCmOidRequest",
        af_ctx,
        request,
        status
    );
}

//! The CoNDIS miniport handlers (NDIS_MINIPORT_CO_CHARACTERISTICS).
//!
//! A MiniportVcContext is covmini's VC context (the CallMgrVcContext of the
//! call manager, contract §2.1). The data path itself is `super::data`.
//! Each handler traces its own name, which
//! also keeps `/OPT:ICF` from folding CoOidRequest into the call manager's
//! ProtocolCoOidRequest: NDIS requires the two to be distinct functions.

use ndis_sys::*;

use super::cm_context::{Signed, VcContext};
use super::context::AdapterContext;
use super::data;
use super::oid;
use super::trace::{ERROR, WARN};
use crate::ctrl_path::{Scope, SetEffect, VcInfo};

ndis_fn! {
    pub(super) unsafe fn activate_vc(vc: NDIS_HANDLE, _params: PCO_CALL_PARAMETERS) -> NDIS_STATUS => activate_vc_impl;
}

/// MiniportCoActivateVc: NDIS never calls it for an MCM (contract §3.3);
/// registered because the characteristics ask for it.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
unsafe fn activate_vc_impl(vc: NDIS_HANDLE, _params: PCO_CALL_PARAMETERS) -> NDIS_STATUS {
    trace!(WARN, "MiniportCoActivateVc({:p}): not used by an MCM", vc);
    NDIS_STATUS_NOT_SUPPORTED
}

ndis_fn! {
    pub(super) unsafe fn deactivate_vc(vc: NDIS_HANDLE) -> NDIS_STATUS => deactivate_vc_impl;
}

/// MiniportCoDeactivateVc: as MiniportCoActivateVc.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
unsafe fn deactivate_vc_impl(vc: NDIS_HANDLE) -> NDIS_STATUS {
    trace!(WARN, "MiniportCoDeactivateVc({:p}): not used by an MCM", vc);
    NDIS_STATUS_NOT_SUPPORTED
}

ndis_fn! {
    pub(super) unsafe fn send_net_buffer_lists(
        vc_ctx: NDIS_HANDLE,
        nbls: PNET_BUFFER_LIST,
        flags: ULONG,
    ) => send_net_buffer_lists_impl;
}

/// MiniportCoSendNetBufferLists: the data path (`super::data`). On a
/// connected, active VC each NBL is indicated, without a copy, on the
/// peer VC (or back on this VC for an echo call) and completed with
/// SUCCESS when its receive NBLs come back (at once when they were
/// indicated with NDIS_RECEIVE_FLAGS_RESOURCES). On a VC with no active
/// call, or one closing, every NBL is completed at once with
/// NDIS_STATUS_VC_NOT_ACTIVATED (contract §3.3 [I]). Completions carry
/// NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL when the send flags say
/// DISPATCH_LEVEL. A context that is not a live covmini VC has no
/// NdisVcHandle to complete on: it is reported, not guessed at.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
unsafe fn send_net_buffer_lists_impl(vc_ctx: NDIS_HANDLE, nbls: PNET_BUFFER_LIST, flags: ULONG) {
    // SAFETY: NDIS passes the MiniportVcContext (= covmini's VC context).
    let Some(vc) = (unsafe { VcContext::from_handle(vc_ctx) }) else {
        trace!(
            ERROR,
            "MiniportCoSendNetBufferLists({:p}, {:p}) on a VC covmini never created", vc_ctx, nbls
        );
        return;
    };
    if nbls.is_null() {
        return;
    }
    // SAFETY: NDIS's chain for this VC.
    unsafe { data::send(vc, nbls, flags) };
}

handler! {
    #[flight(MiniportCoOidRequest, ctx: AdapterContext)]
    pub(super) unsafe fn oid_request(
        ctx: NDIS_HANDLE,
        vc: NDIS_HANDLE,
        request: PNDIS_OID_REQUEST,
    ) -> NDIS_STATUS => oid_request_impl;
}

/// MiniportCoOidRequest: adapter-wide OIDs (no VC) and per-VC OIDs (a
/// VC: its statistics, speed and link info, `Scope::Vc`), answered from
/// the single table in `ctrl_path`, never pended.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
unsafe fn oid_request_impl(ctx: NDIS_HANDLE, vc: NDIS_HANDLE, request: PNDIS_OID_REQUEST) -> NDIS_STATUS {
    // SAFETY: NDIS passes back our MiniportAdapterContext.
    let Some(adapter) = (unsafe { AdapterContext::from_context(ctx) }) else {
        trace!(ERROR, "MiniportCoOidRequest: not an adapter context: {:p}", ctx);
        return NDIS_STATUS_INVALID_PARAMETER;
    };
    if vc.is_null() {
        let info = adapter.info();
        // SAFETY: NDIS's request for this handler (or NULL, refused inside).
        let (status, effect) = unsafe { oid::answer(request, Scope::Adapter, &info) };
        if let Some(SetEffect::ProtocolOptions(options)) = effect {
            adapter.set_protocol_options(options);
        }
        return status;
    }
    // SAFETY: a MiniportVcContext covmini gave NDIS.
    let Some(vc) = (unsafe { VcContext::from_handle(vc) }) else {
        trace!(ERROR, "MiniportCoOidRequest: not a VC context: {:p}", vc);
        return NDIS_STATUS_INVALID_PARAMETER;
    };
    // First act on the VC's context, as a send's (`super::data`, "The
    // handshake"): a close waits for this request, or this request saw
    // the close begin. A client's VC outlives its close and is
    // answered; a VC covmini created is freed by its close, and the
    // request touches it no more (answered as a VC that is gone).
    let (inside, closing) = vc.enter();
    if closing && !vc.readable_while_closing() {
        inside.leave();
        return NDIS_STATUS_INVALID_PARAMETER;
    }
    // SAFETY: NDIS's request for this handler (or NULL).
    let status = unsafe { vc_request(adapter, vc, request) };
    inside.leave();
    status
}

/// MiniportCoOidRequest for `vc`, while it is inside the VC's context.
///
/// # Safety
/// `request` is NDIS's request for this handler (or NULL).
unsafe fn vc_request(adapter: &AdapterContext, vc: &VcContext, request: PNDIS_OID_REQUEST) -> NDIS_STATUS {
    let info = adapter.info();
    let snapshot = {
        let cm = adapter.cm();
        cm.vc_is(vc.id(), vc.token()).then(|| VcInfo {
            stats: vc.counters().snapshot(),
            link_info: vc.link_info(&cm).unwrap_or(info.default_link_info()),
            ..VcInfo::new(&info)
        })
    };
    let Some(snapshot) = snapshot else {
        return NDIS_STATUS_INVALID_PARAMETER;
    };
    // SAFETY: NDIS's request for this handler (or NULL, refused inside), as
    // the caller promises.
    let (status, effect) = unsafe { oid::answer(request, Scope::Vc(&snapshot), &info) };
    match effect {
        Some(SetEffect::WanLinkInfo(link)) => {
            let cm = adapter.cm();
            if cm.vc_is(vc.id(), vc.token()) {
                vc.set_link_info(&cm, link);
            }
        }
        Some(SetEffect::ProtocolOptions(options)) => adapter.set_protocol_options(options),
        None => {}
    }
    status
}

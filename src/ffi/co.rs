//! The CoNDIS miniport handlers (NDIS_MINIPORT_CO_CHARACTERISTICS).
//!
//! A MiniportVcContext is covmini's VC context (the CallMgrVcContext of the
//! call manager, contract §2.1). The data path and per-VC OIDs are a later
//! slice of issue #4. Each handler traces its own name, which
//! also keeps `/OPT:ICF` from folding CoOidRequest into the call manager's
//! ProtocolCoOidRequest: NDIS requires the two to be distinct functions.

use ndis_sys::*;

use super::cm_context::{Signed, VcContext};
use super::context::AdapterContext;
use super::oid;
use super::trace::{ERROR, WARN};
use crate::ctrl_path::{Scope, SetEffect};

ndis_fn! {
    /// MiniportCoActivateVc: NDIS never calls it for an MCM (contract §3.3);
    /// registered because the characteristics ask for it.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn activate_vc(vc: NDIS_HANDLE, _params: PCO_CALL_PARAMETERS) -> NDIS_STATUS {
        trace!(WARN, "MiniportCoActivateVc({:p}): not used by an MCM", vc);
        NDIS_STATUS_NOT_SUPPORTED
    }
}

ndis_fn! {
    /// MiniportCoDeactivateVc: as MiniportCoActivateVc.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn deactivate_vc(vc: NDIS_HANDLE) -> NDIS_STATUS {
        trace!(WARN, "MiniportCoDeactivateVc({:p}): not used by an MCM", vc);
        NDIS_STATUS_NOT_SUPPORTED
    }
}

ndis_fn! {
    /// MiniportCoSendNetBufferLists. The fabric carries no data yet (the
    /// data path is a later slice), so every NBL is completed at once, never
    /// lost: NDIS_STATUS_VC_NOT_ACTIVATED on a VC with no active call
    /// (contract §3.3), NDIS_STATUS_NOT_SUPPORTED otherwise. A context that
    /// is not a live covmini VC has no NdisVcHandle to complete on: it is
    /// reported, not guessed at.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn send_net_buffer_lists(vc_ctx: NDIS_HANDLE, nbls: PNET_BUFFER_LIST, flags: ULONG) {
        // SAFETY: NDIS passes the MiniportVcContext (= covmini's VC context).
        let Some(vc) = (unsafe { VcContext::from_handle(vc_ctx) }) else {
            trace!(ERROR, "MiniportCoSendNetBufferLists({:p}, {:p}) on a VC covmini never created", vc_ctx, nbls);
            return;
        };
        let active = {
            let cm = vc.adapter().cm();
            cm.vc_is(vc.id(), vc.token()) && cm.vc_active(vc.id())
        };
        let status = if active { NDIS_STATUS_NOT_SUPPORTED } else { NDIS_STATUS_VC_NOT_ACTIVATED };
        let mut nbl = nbls;
        while !nbl.is_null() {
            // SAFETY: a non-null element of the chain NDIS handed us, ours
            // until we complete it.
            unsafe { (*nbl).Status = status };
            // SAFETY: as above.
            nbl = unsafe { (*nbl).Next };
        }
        let complete_flags = if flags & NDIS_SEND_FLAGS_DISPATCH_LEVEL != 0 {
            NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL
        } else {
            0
        };
        // SAFETY: the chain NDIS gave us, unchanged, completed once on its VC.
        unsafe { NdisMCoSendNetBufferListsComplete(vc.ndis(), nbls, complete_flags) };
    }
}

ndis_fn! {
    /// MiniportCoOidRequest: adapter-wide OIDs, answered from the single
    /// table in `ctrl_path`. Per-VC OIDs are not supported yet (a later
    /// slice of issue #4).
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn oid_request(ctx: NDIS_HANDLE, vc: NDIS_HANDLE, request: PNDIS_OID_REQUEST) -> NDIS_STATUS {
        // SAFETY: NDIS passes back our MiniportAdapterContext.
        let Some(adapter) = (unsafe { AdapterContext::from_context(ctx) }) else {
            trace!(ERROR, "MiniportCoOidRequest: not an adapter context: {:p}", ctx);
            return NDIS_STATUS_INVALID_PARAMETER;
        };
        if !vc.is_null() {
            trace!(WARN, "MiniportCoOidRequest on VC {:p}: per-VC OIDs are not supported yet", vc);
            return NDIS_STATUS_NOT_SUPPORTED;
        }
        // SAFETY: NDIS's request for this handler (or NULL, refused inside).
        let (status, effect) = unsafe { oid::answer(request, Scope::Adapter, &adapter.info()) };
        if let Some(SetEffect::ProtocolOptions(options)) = effect {
            adapter.set_protocol_options(options);
        }
        status
    }
}

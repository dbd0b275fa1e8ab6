//! The CoNDIS miniport handlers (NDIS_MINIPORT_CO_CHARACTERISTICS).
//!
//! In this skeleton no VC can exist (ProtocolCoCreateVc answers
//! NOT_SUPPORTED), so NDIS has no MiniportVcContext to pass here; the data
//! path and OIDs arrive with issue #4. Each handler traces its own name, which
//! also keeps `/OPT:ICF` from folding CoOidRequest into the call manager's
//! ProtocolCoOidRequest: NDIS requires the two to be distinct functions.

use ndis_sys::*;

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
    /// MiniportCoSendNetBufferLists. Sends arrive only on an active VC, and
    /// no VC can exist yet: a call here carries a context covmini never
    /// created, so there is no NdisVcHandle to complete the NBLs on. It is
    /// reported, not guessed at.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn send_net_buffer_lists(vc: NDIS_HANDLE, nbls: PNET_BUFFER_LIST, _flags: ULONG) {
        trace!(ERROR, "MiniportCoSendNetBufferLists({:p}, {:p}) on a VC covmini never created", vc, nbls);
    }
}

ndis_fn! {
    /// MiniportCoOidRequest: adapter-wide OIDs, answered from the single
    /// table in `ctrl_path`. Per-VC requests need VCs, which arrive with the
    /// call-manager paths (issue #4); until then none can exist.
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
            trace!(WARN, "MiniportCoOidRequest on VC {:p}, which covmini never created", vc);
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

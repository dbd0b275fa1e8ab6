//! The CoNDIS miniport handlers (NDIS_MINIPORT_CO_CHARACTERISTICS).
//!
//! In this skeleton no VC can exist (ProtocolCoCreateVc answers
//! NOT_SUPPORTED), so NDIS has no MiniportVcContext to pass here; the data
//! path and OIDs arrive with issue #4. Each handler traces its own name, which
//! also keeps `/OPT:ICF` from folding CoOidRequest into the call manager's
//! ProtocolCoOidRequest: NDIS requires the two to be distinct functions.

use ndis_sys::*;

use super::trace::{ERROR, WARN};

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
    /// MiniportCoOidRequest: adapter-wide and per-VC OIDs (issue #4).
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn oid_request(_ctx: NDIS_HANDLE, vc: NDIS_HANDLE, request: PNDIS_OID_REQUEST) -> NDIS_STATUS {
        // SAFETY: NDIS passes a valid request (or null, tolerated).
        let oid = unsafe { request.as_ref() }.map_or(0, |r| {
            // SAFETY: Oid is the first member of every DATA variant.
            unsafe { r.DATA.QUERY_INFORMATION.Oid }
        });
        trace!(WARN, "MiniportCoOidRequest(vc {:p}, oid {:#010x}): not supported yet", vc, oid);
        NDIS_STATUS_NOT_SUPPORTED
    }
}

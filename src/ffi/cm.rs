//! The call-manager handlers (NDIS_CO_CALL_MANAGER_OPTIONAL_HANDLERS).
//!
//! The contract requires every member to be non-NULL, and unsupported ones
//! to return NDIS_STATUS_NOT_SUPPORTED (contract §1.2 (b)). In this skeleton
//! every path is unsupported; issue #4 replaces each handler with the real
//! call-manager path. None of them ever returns NDIS_STATUS_PENDING, so NDIS
//! completes each request itself with NOT_SUPPORTED.

use ndis_sys::*;

use super::oid;
use super::trace::WARN;
use crate::ctrl_path::{AdapterInfo, Scope};

ndis_fn! {
    /// ProtocolCoCreateVc.
    /// Never PENDING (contract §2.1).
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn create_vc(af_ctx: NDIS_HANDLE, vc: NDIS_HANDLE, _vc_ctx: PNDIS_HANDLE) -> NDIS_STATUS {
        trace!(WARN, "ProtocolCoCreateVc(af {:p}, vc {:p}): not supported yet", af_ctx, vc);
        NDIS_STATUS_NOT_SUPPORTED
    }
}

ndis_fn! {
    /// ProtocolCoDeleteVc.
    /// Never PENDING (contract §2.1).
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn delete_vc(vc_ctx: NDIS_HANDLE) -> NDIS_STATUS {
        trace!(WARN, "ProtocolCoDeleteVc({:p}): not supported yet", vc_ctx);
        NDIS_STATUS_NOT_SUPPORTED
    }
}

ndis_fn! {
    /// ProtocolCmOpenAf.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn open_af(_binding: NDIS_HANDLE, _af: PCO_ADDRESS_FAMILY, af: NDIS_HANDLE, _af_ctx: PNDIS_HANDLE) -> NDIS_STATUS {
        trace!(WARN, "ProtocolCmOpenAf(NdisAfHandle {:p}): not supported yet", af);
        NDIS_STATUS_NOT_SUPPORTED
    }
}

ndis_fn! {
    /// ProtocolCmCloseAf.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn close_af(af_ctx: NDIS_HANDLE) -> NDIS_STATUS {
        trace!(WARN, "ProtocolCmCloseAf({:p}): not supported yet", af_ctx);
        NDIS_STATUS_NOT_SUPPORTED
    }
}

ndis_fn! {
    /// ProtocolCmRegisterSap.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn register_sap(af_ctx: NDIS_HANDLE, _sap: PCO_SAP, sap: NDIS_HANDLE, _sap_ctx: PNDIS_HANDLE) -> NDIS_STATUS {
        trace!(WARN, "ProtocolCmRegisterSap(af {:p}, sap {:p}): not supported yet", af_ctx, sap);
        NDIS_STATUS_NOT_SUPPORTED
    }
}

ndis_fn! {
    /// ProtocolCmDeregisterSap.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn deregister_sap(sap_ctx: NDIS_HANDLE) -> NDIS_STATUS {
        trace!(WARN, "ProtocolCmDeregisterSap({:p}): not supported yet", sap_ctx);
        NDIS_STATUS_NOT_SUPPORTED
    }
}

ndis_fn! {
    /// ProtocolCmMakeCall.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn make_call(vc_ctx: NDIS_HANDLE, _params: PCO_CALL_PARAMETERS, party: NDIS_HANDLE, _party_ctx: PNDIS_HANDLE) -> NDIS_STATUS {
        trace!(WARN, "ProtocolCmMakeCall(vc {:p}, party {:p}): not supported yet", vc_ctx, party);
        NDIS_STATUS_NOT_SUPPORTED
    }
}

ndis_fn! {
    /// ProtocolCmCloseCall.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn close_call(vc_ctx: NDIS_HANDLE, party_ctx: NDIS_HANDLE, _data: PVOID, _size: UINT) -> NDIS_STATUS {
        trace!(WARN, "ProtocolCmCloseCall(vc {:p}, party {:p}): not supported yet", vc_ctx, party_ctx);
        NDIS_STATUS_NOT_SUPPORTED
    }
}

ndis_fn! {
    /// ProtocolCmIncomingCallComplete.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn incoming_call_complete(status: NDIS_STATUS, vc_ctx: NDIS_HANDLE, _params: PCO_CALL_PARAMETERS) {
        trace!(WARN, "ProtocolCmIncomingCallComplete({:#010x}, vc {:p}): no call was dispatched", status, vc_ctx);
    }
}

ndis_fn! {
    /// ProtocolCmAddParty.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn add_party(vc_ctx: NDIS_HANDLE, _params: PCO_CALL_PARAMETERS, party: NDIS_HANDLE, _party_ctx: PNDIS_HANDLE) -> NDIS_STATUS {
        trace!(WARN, "ProtocolCmAddParty(vc {:p}, party {:p}): not supported yet", vc_ctx, party);
        NDIS_STATUS_NOT_SUPPORTED
    }
}

ndis_fn! {
    /// ProtocolCmDropParty.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn drop_party(party_ctx: NDIS_HANDLE, _data: PVOID, _size: UINT) -> NDIS_STATUS {
        trace!(WARN, "ProtocolCmDropParty({:p}): not supported yet", party_ctx);
        NDIS_STATUS_NOT_SUPPORTED
    }
}

ndis_fn! {
    /// ProtocolCmActivateVcComplete.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn activate_vc_complete(status: NDIS_STATUS, vc_ctx: NDIS_HANDLE, _params: PCO_CALL_PARAMETERS) {
        trace!(WARN, "ProtocolCmActivateVcComplete({:#010x}, vc {:p}): never called for an MCM", status, vc_ctx);
    }
}

ndis_fn! {
    /// ProtocolCmDeactivateVcComplete.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn deactivate_vc_complete(status: NDIS_STATUS, vc_ctx: NDIS_HANDLE) {
        trace!(WARN, "ProtocolCmDeactivateVcComplete({:#010x}, vc {:p}): never called for an MCM", status, vc_ctx);
    }
}

ndis_fn! {
    /// ProtocolCmModifyCallQoS.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn modify_call_qos(vc_ctx: NDIS_HANDLE, _params: PCO_CALL_PARAMETERS) -> NDIS_STATUS {
        trace!(WARN, "ProtocolCmModifyCallQoS({:p}): not supported yet", vc_ctx);
        NDIS_STATUS_NOT_SUPPORTED
    }
}

ndis_fn! {
    /// ProtocolCoOidRequest: OIDs sent to the call manager with an AF handle.
    /// covmini's private AF has no call-manager OIDs (`ctrl_path`'s
    /// `Scope::CallManager`); each request is answered, never pended.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn oid_request(af_ctx: NDIS_HANDLE, vc_ctx: NDIS_HANDLE, party_ctx: NDIS_HANDLE, request: PNDIS_OID_REQUEST) -> NDIS_STATUS {
        trace!(WARN, "ProtocolCoOidRequest(af {:p}, vc {:p}, party {:p})", af_ctx, vc_ctx, party_ctx);
        // SAFETY: NDIS's request for this handler (or NULL, refused inside).
        let (status, _) = unsafe { oid::answer(request, Scope::CallManager, &AdapterInfo::covmini()) };
        status
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

ndis_fn! {
    /// ProtocolCmNotifyCloseAfComplete.
    ///
    /// # IRQL
    /// Runs at IRQL <= DISPATCH_LEVEL.
    pub(super) unsafe fn notify_close_af_complete(af_ctx: NDIS_HANDLE, status: NDIS_STATUS) {
        trace!(WARN, "ProtocolCmNotifyCloseAfComplete({:p}, {:#010x}): covmini notified no AF", af_ctx, status);
    }
}

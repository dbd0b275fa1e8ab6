//! The call-manager side: `PROTOCOL_CM_*` / `PROTOCOL_CO_*` handler types and
//! `NDIS_CO_CALL_MANAGER_OPTIONAL_HANDLERS`, the 0xA5 block an MCM registers
//! from MiniportSetOptions (contract §1.2(b), §2.1) \[H\].

use crate::co::{PCO_ADDRESS_FAMILY, PCO_CALL_PARAMETERS, PCO_SAP};
use crate::object::NDIS_OBJECT_HEADER;
use crate::oid::PNDIS_OID_REQUEST;
use crate::types::*;

ndis_abi_fn_types! {
    pub type PROTOCOL_CO_CREATE_VC = fn(ProtocolAfContext: NDIS_HANDLE, NdisVcHandle: NDIS_HANDLE, ProtocolVcContext: PNDIS_HANDLE) -> NDIS_STATUS;
    pub type PROTOCOL_CO_DELETE_VC = fn(ProtocolVcContext: NDIS_HANDLE) -> NDIS_STATUS;
    pub type PROTOCOL_CM_OPEN_AF = fn(CallMgrBindingContext: NDIS_HANDLE, AddressFamily: PCO_ADDRESS_FAMILY, NdisAfHandle: NDIS_HANDLE, CallMgrAfContext: PNDIS_HANDLE) -> NDIS_STATUS;
    pub type PROTOCOL_CM_CLOSE_AF = fn(CallMgrAfContext: NDIS_HANDLE) -> NDIS_STATUS;
    pub type PROTOCOL_CM_REG_SAP = fn(CallMgrAfContext: NDIS_HANDLE, Sap: PCO_SAP, NdisSapHandle: NDIS_HANDLE, CallMgrSapContext: PNDIS_HANDLE) -> NDIS_STATUS;
    pub type PROTOCOL_CM_DEREGISTER_SAP = fn(CallMgrSapContext: NDIS_HANDLE) -> NDIS_STATUS;
    pub type PROTOCOL_CM_MAKE_CALL = fn(CallMgrVcContext: NDIS_HANDLE, CallParameters: PCO_CALL_PARAMETERS, NdisPartyHandle: NDIS_HANDLE, CallMgrPartyContext: PNDIS_HANDLE) -> NDIS_STATUS;
    pub type PROTOCOL_CM_CLOSE_CALL = fn(CallMgrVcContext: NDIS_HANDLE, CallMgrPartyContext: NDIS_HANDLE, CloseData: PVOID, Size: UINT) -> NDIS_STATUS;
    pub type PROTOCOL_CM_INCOMING_CALL_COMPLETE = fn(Status: NDIS_STATUS, CallMgrVcContext: NDIS_HANDLE, CallParameters: PCO_CALL_PARAMETERS);
    pub type PROTOCOL_CM_ADD_PARTY = fn(CallMgrVcContext: NDIS_HANDLE, CallParameters: PCO_CALL_PARAMETERS, NdisPartyHandle: NDIS_HANDLE, CallMgrPartyContext: PNDIS_HANDLE) -> NDIS_STATUS;
    pub type PROTOCOL_CM_DROP_PARTY = fn(CallMgrPartyContext: NDIS_HANDLE, CloseData: PVOID, Size: UINT) -> NDIS_STATUS;
    pub type PROTOCOL_CM_ACTIVATE_VC_COMPLETE = fn(Status: NDIS_STATUS, CallMgrVcContext: NDIS_HANDLE, CallParameters: PCO_CALL_PARAMETERS);
    pub type PROTOCOL_CM_DEACTIVATE_VC_COMPLETE = fn(Status: NDIS_STATUS, CallMgrVcContext: NDIS_HANDLE);
    pub type PROTOCOL_CM_MODIFY_QOS_CALL = fn(CallMgrVcContext: NDIS_HANDLE, CallParameters: PCO_CALL_PARAMETERS) -> NDIS_STATUS;
    pub type PROTOCOL_CO_OID_REQUEST = fn(ProtocolAfContext: NDIS_HANDLE, ProtocolVcContext: NDIS_HANDLE, ProtocolPartyContext: NDIS_HANDLE, OidRequest: PNDIS_OID_REQUEST) -> NDIS_STATUS;
    pub type PROTOCOL_CO_OID_REQUEST_COMPLETE = fn(ProtocolAfContext: NDIS_HANDLE, ProtocolVcContext: NDIS_HANDLE, ProtocolPartyContext: NDIS_HANDLE, OidRequest: PNDIS_OID_REQUEST, Status: NDIS_STATUS);
    pub type PROTOCOL_CM_NOTIFY_CLOSE_AF_COMPLETE = fn(CallMgrAfContext: NDIS_HANDLE, Status: NDIS_STATUS);
}

/// `NDIS_CO_CALL_MANAGER_OPTIONAL_HANDLERS` \[H\] (contract §1.2(b)).
///
/// Size quirk \[H\]: `NDIS_SIZEOF_CO_CALL_MANAGER_OPTIONAL_HANDLERS_REVISION_1`
/// runs only through `CmOidRequestCompleteHandler` (136 on x64) although
/// sizeof is 144; NDIS requires Size >= 136 and copies all 144 bytes \[B\].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_CO_CALL_MANAGER_OPTIONAL_HANDLERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub Reserved: ULONG,
    pub CmCreateVcHandler: Option<PROTOCOL_CO_CREATE_VC>,
    pub CmDeleteVcHandler: Option<PROTOCOL_CO_DELETE_VC>,
    pub CmOpenAfHandler: Option<PROTOCOL_CM_OPEN_AF>,
    pub CmCloseAfHandler: Option<PROTOCOL_CM_CLOSE_AF>,
    pub CmRegisterSapHandler: Option<PROTOCOL_CM_REG_SAP>,
    pub CmDeregisterSapHandler: Option<PROTOCOL_CM_DEREGISTER_SAP>,
    pub CmMakeCallHandler: Option<PROTOCOL_CM_MAKE_CALL>,
    pub CmCloseCallHandler: Option<PROTOCOL_CM_CLOSE_CALL>,
    pub CmIncomingCallCompleteHandler: Option<PROTOCOL_CM_INCOMING_CALL_COMPLETE>,
    pub CmAddPartyHandler: Option<PROTOCOL_CM_ADD_PARTY>,
    pub CmDropPartyHandler: Option<PROTOCOL_CM_DROP_PARTY>,
    pub CmActivateVcCompleteHandler: Option<PROTOCOL_CM_ACTIVATE_VC_COMPLETE>,
    pub CmDeactivateVcCompleteHandler: Option<PROTOCOL_CM_DEACTIVATE_VC_COMPLETE>,
    pub CmModifyCallQoSHandler: Option<PROTOCOL_CM_MODIFY_QOS_CALL>,
    pub CmOidRequestHandler: Option<PROTOCOL_CO_OID_REQUEST>,
    pub CmOidRequestCompleteHandler: Option<PROTOCOL_CO_OID_REQUEST_COMPLETE>,
    pub CmNotifyCloseAfCompleteHandler: Option<PROTOCOL_CM_NOTIFY_CLOSE_AF_COMPLETE>,
}
pub type PNDIS_CO_CALL_MANAGER_OPTIONAL_HANDLERS = *mut NDIS_CO_CALL_MANAGER_OPTIONAL_HANDLERS;
assert_layout!(NDIS_CO_CALL_MANAGER_OPTIONAL_HANDLERS, size = 144, {
    Header: 0, Reserved: 4, CmCreateVcHandler: 8, CmDeleteVcHandler: 16,
    CmOpenAfHandler: 24, CmCloseAfHandler: 32, CmRegisterSapHandler: 40,
    CmDeregisterSapHandler: 48, CmMakeCallHandler: 56, CmCloseCallHandler: 64,
    CmIncomingCallCompleteHandler: 72, CmAddPartyHandler: 80, CmDropPartyHandler: 88,
    CmActivateVcCompleteHandler: 96, CmDeactivateVcCompleteHandler: 104,
    CmModifyCallQoSHandler: 112, CmOidRequestHandler: 120,
    CmOidRequestCompleteHandler: 128, CmNotifyCloseAfCompleteHandler: 136,
});
/// Through CmOidRequestCompleteHandler \[H\] (the quirk above).
pub const NDIS_SIZEOF_CO_CALL_MANAGER_OPTIONAL_HANDLERS_REVISION_1: usize = 136;

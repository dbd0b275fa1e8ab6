//! The `NdisMCm*` names of the WDK, which are macros over `NdisCm*` (and
//! `NdisCoOidRequestComplete`) exports with the same arguments in the same
//! order (contract §2.3) \[H\]. A Rust driver has no macros to import, so these
//! `#[inline]` functions give the driver the names the MCM documentation uses
//! while the image imports the real exports.

use crate::co::PCO_CALL_PARAMETERS;
use crate::imports;
use crate::oid::PNDIS_OID_REQUEST;
use crate::types::*;

/// `NdisMCmOpenAddressFamilyComplete` → `NdisCmOpenAddressFamilyComplete`.
///
/// # Safety
/// The preconditions of `NdisCmOpenAddressFamilyComplete` (handles valid and owned as the DDI page
/// says, IRQL within its limit).
#[inline]
pub unsafe fn NdisMCmOpenAddressFamilyComplete(
    Status: NDIS_STATUS,
    NdisAfHandle: NDIS_HANDLE,
    CallMgrAfContext: NDIS_HANDLE,
) {
    // SAFETY: forwarded from this function's preconditions.
    unsafe { imports::NdisCmOpenAddressFamilyComplete(Status, NdisAfHandle, CallMgrAfContext) }
}

/// `NdisMCmCloseAddressFamilyComplete` → `NdisCmCloseAddressFamilyComplete`.
///
/// # Safety
/// The preconditions of `NdisCmCloseAddressFamilyComplete` (handles valid and owned as the DDI page
/// says, IRQL within its limit).
#[inline]
pub unsafe fn NdisMCmCloseAddressFamilyComplete(Status: NDIS_STATUS, NdisAfHandle: NDIS_HANDLE) {
    // SAFETY: forwarded from this function's preconditions.
    unsafe { imports::NdisCmCloseAddressFamilyComplete(Status, NdisAfHandle) }
}

/// `NdisMCmNotifyCloseAddressFamily` → `NdisCmNotifyCloseAddressFamily`.
///
/// # Safety
/// The preconditions of `NdisCmNotifyCloseAddressFamily` (handles valid and owned as the DDI page
/// says, IRQL within its limit).
#[inline]
pub unsafe fn NdisMCmNotifyCloseAddressFamily(NdisAfHandle: NDIS_HANDLE) -> NDIS_STATUS {
    // SAFETY: forwarded from this function's preconditions.
    unsafe { imports::NdisCmNotifyCloseAddressFamily(NdisAfHandle) }
}

/// `NdisMCmRegisterSapComplete` → `NdisCmRegisterSapComplete`.
///
/// # Safety
/// The preconditions of `NdisCmRegisterSapComplete` (handles valid and owned as the DDI page
/// says, IRQL within its limit).
#[inline]
pub unsafe fn NdisMCmRegisterSapComplete(
    Status: NDIS_STATUS,
    NdisSapHandle: NDIS_HANDLE,
    CallMgrSapContext: NDIS_HANDLE,
) {
    // SAFETY: forwarded from this function's preconditions.
    unsafe { imports::NdisCmRegisterSapComplete(Status, NdisSapHandle, CallMgrSapContext) }
}

/// `NdisMCmDeregisterSapComplete` → `NdisCmDeregisterSapComplete`.
///
/// # Safety
/// The preconditions of `NdisCmDeregisterSapComplete` (handles valid and owned as the DDI page
/// says, IRQL within its limit).
#[inline]
pub unsafe fn NdisMCmDeregisterSapComplete(Status: NDIS_STATUS, NdisSapHandle: NDIS_HANDLE) {
    // SAFETY: forwarded from this function's preconditions.
    unsafe { imports::NdisCmDeregisterSapComplete(Status, NdisSapHandle) }
}

/// `NdisMCmMakeCallComplete` → `NdisCmMakeCallComplete`.
///
/// # Safety
/// The preconditions of `NdisCmMakeCallComplete` (handles valid and owned as the DDI page
/// says, IRQL within its limit).
#[inline]
pub unsafe fn NdisMCmMakeCallComplete(
    Status: NDIS_STATUS,
    NdisVcHandle: NDIS_HANDLE,
    NdisPartyHandle: NDIS_HANDLE,
    CallMgrPartyContext: NDIS_HANDLE,
    CallParameters: PCO_CALL_PARAMETERS,
) {
    // SAFETY: forwarded from this function's preconditions.
    unsafe {
        imports::NdisCmMakeCallComplete(
            Status,
            NdisVcHandle,
            NdisPartyHandle,
            CallMgrPartyContext,
            CallParameters,
        )
    }
}

/// `NdisMCmCloseCallComplete` → `NdisCmCloseCallComplete`.
///
/// # Safety
/// The preconditions of `NdisCmCloseCallComplete` (handles valid and owned as the DDI page
/// says, IRQL within its limit).
#[inline]
pub unsafe fn NdisMCmCloseCallComplete(Status: NDIS_STATUS, NdisVcHandle: NDIS_HANDLE, NdisPartyHandle: NDIS_HANDLE) {
    // SAFETY: forwarded from this function's preconditions.
    unsafe { imports::NdisCmCloseCallComplete(Status, NdisVcHandle, NdisPartyHandle) }
}

/// `NdisMCmAddPartyComplete` → `NdisCmAddPartyComplete`.
///
/// # Safety
/// The preconditions of `NdisCmAddPartyComplete` (handles valid and owned as the DDI page
/// says, IRQL within its limit).
#[inline]
pub unsafe fn NdisMCmAddPartyComplete(
    Status: NDIS_STATUS,
    NdisPartyHandle: NDIS_HANDLE,
    CallMgrPartyContext: NDIS_HANDLE,
    CallParameters: PCO_CALL_PARAMETERS,
) {
    // SAFETY: forwarded from this function's preconditions.
    unsafe { imports::NdisCmAddPartyComplete(Status, NdisPartyHandle, CallMgrPartyContext, CallParameters) }
}

/// `NdisMCmDropPartyComplete` → `NdisCmDropPartyComplete`.
///
/// # Safety
/// The preconditions of `NdisCmDropPartyComplete` (handles valid and owned as the DDI page
/// says, IRQL within its limit).
#[inline]
pub unsafe fn NdisMCmDropPartyComplete(Status: NDIS_STATUS, NdisPartyHandle: NDIS_HANDLE) {
    // SAFETY: forwarded from this function's preconditions.
    unsafe { imports::NdisCmDropPartyComplete(Status, NdisPartyHandle) }
}

/// `NdisMCmDispatchIncomingCall` → `NdisCmDispatchIncomingCall`.
///
/// # Safety
/// The preconditions of `NdisCmDispatchIncomingCall` (handles valid and owned as the DDI page
/// says, IRQL within its limit).
#[inline]
pub unsafe fn NdisMCmDispatchIncomingCall(
    NdisSapHandle: NDIS_HANDLE,
    NdisVcHandle: NDIS_HANDLE,
    CallParameters: PCO_CALL_PARAMETERS,
) -> NDIS_STATUS {
    // SAFETY: forwarded from this function's preconditions.
    unsafe { imports::NdisCmDispatchIncomingCall(NdisSapHandle, NdisVcHandle, CallParameters) }
}

/// `NdisMCmDispatchCallConnected` → `NdisCmDispatchCallConnected`.
///
/// # Safety
/// The preconditions of `NdisCmDispatchCallConnected` (handles valid and owned as the DDI page
/// says, IRQL within its limit).
#[inline]
pub unsafe fn NdisMCmDispatchCallConnected(NdisVcHandle: NDIS_HANDLE) {
    // SAFETY: forwarded from this function's preconditions.
    unsafe { imports::NdisCmDispatchCallConnected(NdisVcHandle) }
}

/// `NdisMCmModifyCallQoSComplete` → `NdisCmModifyCallQoSComplete`.
///
/// # Safety
/// The preconditions of `NdisCmModifyCallQoSComplete` (handles valid and owned as the DDI page
/// says, IRQL within its limit).
#[inline]
pub unsafe fn NdisMCmModifyCallQoSComplete(
    Status: NDIS_STATUS,
    NdisVcHandle: NDIS_HANDLE,
    CallParameters: PCO_CALL_PARAMETERS,
) {
    // SAFETY: forwarded from this function's preconditions.
    unsafe { imports::NdisCmModifyCallQoSComplete(Status, NdisVcHandle, CallParameters) }
}

/// `NdisMCmDispatchIncomingCallQoSChange` → `NdisCmDispatchIncomingCallQoSChange`.
///
/// # Safety
/// The preconditions of `NdisCmDispatchIncomingCallQoSChange` (handles valid and owned as the DDI page
/// says, IRQL within its limit).
#[inline]
pub unsafe fn NdisMCmDispatchIncomingCallQoSChange(NdisVcHandle: NDIS_HANDLE, CallParameters: PCO_CALL_PARAMETERS) {
    // SAFETY: forwarded from this function's preconditions.
    unsafe { imports::NdisCmDispatchIncomingCallQoSChange(NdisVcHandle, CallParameters) }
}

/// `NdisMCmDispatchIncomingCloseCall` → `NdisCmDispatchIncomingCloseCall`.
///
/// # Safety
/// The preconditions of `NdisCmDispatchIncomingCloseCall` (handles valid and owned as the DDI page
/// says, IRQL within its limit).
#[inline]
pub unsafe fn NdisMCmDispatchIncomingCloseCall(
    CloseStatus: NDIS_STATUS,
    NdisVcHandle: NDIS_HANDLE,
    Buffer: PVOID,
    Size: UINT,
) {
    // SAFETY: forwarded from this function's preconditions.
    unsafe { imports::NdisCmDispatchIncomingCloseCall(CloseStatus, NdisVcHandle, Buffer, Size) }
}

/// `NdisMCmDispatchIncomingDropParty` → `NdisCmDispatchIncomingDropParty`.
///
/// # Safety
/// The preconditions of `NdisCmDispatchIncomingDropParty` (handles valid and owned as the DDI page
/// says, IRQL within its limit).
#[inline]
pub unsafe fn NdisMCmDispatchIncomingDropParty(
    DropStatus: NDIS_STATUS,
    NdisPartyHandle: NDIS_HANDLE,
    Buffer: PVOID,
    Size: UINT,
) {
    // SAFETY: forwarded from this function's preconditions.
    unsafe { imports::NdisCmDispatchIncomingDropParty(DropStatus, NdisPartyHandle, Buffer, Size) }
}

/// `NdisMCmOidRequestComplete` → `NdisCoOidRequestComplete`.
///
/// # Safety
/// The preconditions of `NdisCoOidRequestComplete` (handles valid and owned as the DDI page
/// says, IRQL within its limit).
#[inline]
pub unsafe fn NdisMCmOidRequestComplete(
    NdisAfHandle: NDIS_HANDLE,
    NdisVcHandle: NDIS_HANDLE,
    NdisPartyHandle: NDIS_HANDLE,
    OidRequest: PNDIS_OID_REQUEST,
    Status: NDIS_STATUS,
) {
    // SAFETY: forwarded from this function's preconditions.
    unsafe { imports::NdisCoOidRequestComplete(NdisAfHandle, NdisVcHandle, NdisPartyHandle, OidRequest, Status) }
}

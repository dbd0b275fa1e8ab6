//! Every function covclient (the CoNDIS client protocol driver) imports
//! beyond covmini's [`crate::imports`]: protocol registration, binding, the
//! `NdisCl*`/`NdisCo*` client calls and the control device's IRP routines.
//!
//! Same rules as [`crate::imports`]: raw-dylib imports on Windows targets;
//! each name listed with its source and first Windows version in
//! `crates/ndis-sys/exports/` (the kernel image test checks covclient.sys
//! against those lists); the preconditions are the DDI pages'.
//!
//! Why a module of its own: ndis-emu implements every import of
//! [`crate::imports`] (its `catalog` test parses that file and fails on any
//! it lacks), and ndis-emu does not emulate the protocol side yet. These
//! move into `imports.rs` as it does (protocol registration has). Until then nothing in the host
//! build may call them (the host link would fail); only the kernel images
//! of covclient use them.

use crate::co::PCO_CALL_PARAMETERS;
use crate::device::{PDEVICE_OBJECT, PIRP, PNDIS_DEVICE_OBJECT_ATTRIBUTES};
use crate::nbl::PNET_BUFFER_LIST;
use crate::oid::PNDIS_OID_REQUEST;
use crate::types::*;

ndis_import!("ndis.sys" {
    // --- The protocol (CoNDIS client) side: covclient ---------------------
    // Signatures: WDK 10.0.17763 and 10.0.22621 km/ndis.h (22621 lines in
    // brackets) [H]. IRQLs: shared/reference/ndis-ddi-irql.txt where it
    // lists the DDI, otherwise the header's `_IRQL_requires_` annotation
    // and the DDI's page (`req.irql` of
    // learn.microsoft.com/windows-hardware/drivers/ddi/ndis/nf-ndis-<name>),
    // named on each line as [D] (read from github.com/MicrosoftDocs/
    // windows-driver-docs-ddi, commit 6dcd4d9f2a, wdk-ddi-src/content/ndis/,
    // the same commit the exports lists quote).
    // NdisRegisterProtocolDriver, NdisDeregisterProtocolDriver,
    // NdisOpenAdapterEx, NdisCloseAdapterEx, NdisCompleteBindAdapterEx and
    // NdisCompleteUnbindAdapterEx, NdisClOpenAddressFamilyEx,
    // NdisClCloseAddressFamily, NdisClRegisterSap, NdisClDeregisterSap,
    // NdisCoCreateVc and NdisCoDeleteVc: in crate::imports (ndis-emu
    // implements them).
    /// <= DISPATCH_LEVEL [H 14277; D nf-ndis-ndisclnotifycloseaddressfamilycomplete].
    pub fn NdisClNotifyCloseAddressFamilyComplete(NdisAfHandle: NDIS_HANDLE, Status: NDIS_STATUS);
    /// <= DISPATCH_LEVEL [H 13901; D nf-ndis-ndisclmakecall].
    pub fn NdisClMakeCall(NdisVcHandle: NDIS_HANDLE, CallParameters: PCO_CALL_PARAMETERS, ProtocolPartyContext: NDIS_HANDLE, NdisPartyHandle: PNDIS_HANDLE) -> NDIS_STATUS;
    /// <= DISPATCH_LEVEL [H 13912; D nf-ndis-ndisclclosecall].
    pub fn NdisClCloseCall(NdisVcHandle: NDIS_HANDLE, NdisPartyHandle: NDIS_HANDLE, Buffer: PVOID, Size: UINT) -> NDIS_STATUS;
    /// <= DISPATCH_LEVEL [H 13923; D nf-ndis-ndisclmodifycallqos].
    pub fn NdisClModifyCallQoS(NdisVcHandle: NDIS_HANDLE, CallParameters: PCO_CALL_PARAMETERS) -> NDIS_STATUS;
    /// <= DISPATCH_LEVEL [H 13932; D nf-ndis-ndisclincomingcallcomplete].
    pub fn NdisClIncomingCallComplete(Status: NDIS_STATUS, NdisVcHandle: NDIS_HANDLE, CallParameters: PCO_CALL_PARAMETERS);
    /// <= DISPATCH_LEVEL [H 13942; D nf-ndis-ndiscladdparty].
    pub fn NdisClAddParty(NdisVcHandle: NDIS_HANDLE, ProtocolPartyContext: NDIS_HANDLE, CallParameters: PCO_CALL_PARAMETERS, NdisPartyHandle: PNDIS_HANDLE) -> NDIS_STATUS;
    /// <= DISPATCH_LEVEL [H 13953; D nf-ndis-ndiscldropparty].
    pub fn NdisClDropParty(NdisPartyHandle: NDIS_HANDLE, Buffer: PVOID, Size: UINT) -> NDIS_STATUS;
    /// <= DISPATCH_LEVEL (ndis-ddi-irql.txt) [H 14208].
    pub fn NdisCoSendNetBufferLists(NdisVcHandle: NDIS_HANDLE, NetBufferLists: PNET_BUFFER_LIST, SendFlags: ULONG);
    /// <= DISPATCH_LEVEL (ndis-ddi-irql.txt) [H 14218]. A client passes its
    /// binding handle; the AF, VC and party handles are optional (NULL).
    pub fn NdisCoOidRequest(NdisBindingHandle: NDIS_HANDLE, NdisAfHandle: NDIS_HANDLE, NdisVcHandle: NDIS_HANDLE, NdisPartyHandle: NDIS_HANDLE, OidRequest: PNDIS_OID_REQUEST) -> NDIS_STATUS;
    // NdisCoOidRequestComplete: in crate::imports, with the call-manager completions.
    /// <= DISPATCH_LEVEL [H 8711; D nf-ndis-ndisreturnnetbufferlists]: how a
    /// protocol, connection-oriented or not, returns received NBLs it kept.
    pub fn NdisReturnNetBufferLists(NdisBindingHandle: NDIS_HANDLE, NetBufferLists: PNET_BUFFER_LIST, ReturnFlags: ULONG);
    /// PASSIVE_LEVEL [H 4754; D nf-ndis-ndisregisterdeviceex]. `NdisHandle`
    /// is the protocol (or miniport) driver handle.
    pub fn NdisRegisterDeviceEx(NdisHandle: NDIS_HANDLE, DeviceObjectAttributes: PNDIS_DEVICE_OBJECT_ATTRIBUTES, pDeviceObject: *mut PDEVICE_OBJECT, NdisDeviceHandle: PNDIS_HANDLE) -> NDIS_STATUS;
    /// PASSIVE_LEVEL [H 4764; D nf-ndis-ndisderegisterdeviceex].
    pub fn NdisDeregisterDeviceEx(NdisDeviceHandle: NDIS_HANDLE);
});

ndis_import!("ntoskrnl.exe" {
    // --- A control device's IRPs (covclient) -------------------------------
    /// `IoCompleteRequest` is a macro over this export (wdm.h: 22621 lines
    /// 32643 and 32649, 17763 lines 30455 and 30461)
    /// \[H\]; <= DISPATCH_LEVEL \[D: nf-wdm-iocompleterequest\]. `FASTCALL` in
    /// the header, which x64 and ARM64 ignore (one calling convention).
    pub fn IofCompleteRequest(Irp: PIRP, PriorityBoost: CHAR);
    /// Releases the cancel spin lock a `DRIVER_CANCEL` routine is called with,
    /// passing `Irp->CancelIrql` (wdm.h 22621 line 33910, 17763 line 31706)
    /// \[H\]; DISPATCH_LEVEL \[D:
    /// nf-wdm-ioreleasecancelspinlock\].
    pub fn IoReleaseCancelSpinLock(Irql: KIRQL);
});

//! Every function covclient (the CoNDIS client protocol driver) imports
//! beyond covmini's [`crate::imports`]: protocol registration, binding, the
//! `NdisCl*`/`NdisCo*` client calls and the control device's IRP routines
//! (those four are in [`crate::imports`] now: ndis-emu's I/O manager
//! implements them).
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
use crate::nbl::{PMDL, PNET_BUFFER_LIST};
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
    // NdisRegisterDeviceEx, NdisDeregisterDeviceEx: in crate::imports (ndis-emu's I/O manager implements them).
    /// An MDL over nonpaged pool ("only accepts memory from the nonpaged
    /// pool ... NdisAllocateMemoryWithTagPriority"); NULL on failure;
    /// <= DISPATCH_LEVEL [D nf-ndis-ndisallocatemdl].
    pub fn NdisAllocateMdl(NdisHandle: NDIS_HANDLE, VirtualAddress: PVOID, Length: ULONG) -> PMDL;
    /// Frees an MDL from NdisAllocateMdl; <= DISPATCH_LEVEL [D nf-ndis-ndisfreemdl].
    pub fn NdisFreeMdl(Mdl: PMDL);
});

ndis_import!("ntoskrnl.exe" {
    // IofCompleteRequest, IoReleaseCancelSpinLock: in crate::imports.
    // --- Reading a received NET_BUFFER's data (covclient's receive check) --
    /// Maps an MDL's locked pages into system space; what
    /// `MmGetSystemAddressForMdlSafe` (below, Windows targets) calls for an
    /// MDL that is not mapped yet. <= DISPATCH_LEVEL for a KernelMode
    /// mapping (its Remarks); BugCheckOnFailure: "Drivers must set this
    /// parameter to FALSE" \[D: nf-wdm-mmmaplockedpagesspecifycache\]. `AccessMode` is a KPROCESSOR_MODE (CCHAR),
    /// `CacheType` a MEMORY_CACHING_TYPE (an enum: int) \[H: wdm.h\].
    pub fn MmMapLockedPagesSpecifyCache(MemoryDescriptorList: PMDL, AccessMode: CHAR, CacheType: i32, RequestedAddress: PVOID, BugCheckOnFailure: ULONG, Priority: ULONG) -> PVOID;
});

/// `KernelMode` of `MODE` (wdm.h: `typedef enum _MODE { KernelMode,
/// UserMode, MaximumMode } MODE;`).
pub const KernelMode: CHAR = 0;
/// `MmCached` of `MEMORY_CACHING_TYPE` (wdm.h: `MmNonCached = FALSE,
/// MmCached = TRUE, ...`).
pub const MmCached: i32 = 1;
/// `NormalPagePriority` of `MM_PAGE_PRIORITY` (wdm.h: `LowPagePriority,
/// NormalPagePriority = 16, HighPagePriority = 32`).
pub const NormalPagePriority: ULONG = 16;
/// `MdlMappingNoExecute` (wdm.h: "Additional -OR- flags for
/// MM_PAGE_PRIORITY", `0x40000000`, Windows 8 and later; covclient's
/// floor, Windows 10 1809, has it).
pub const MdlMappingNoExecute: ULONG = 0x4000_0000;

/// `MmGetSystemAddressForMdlSafe`, a macro in wdm.h (no export): an MDL
/// already mapped or describing nonpaged pool (`MDL_MAPPED_TO_SYSTEM_VA |
/// MDL_SOURCE_IS_NONPAGED_POOL` in `MdlFlags`) gives its `MappedSystemVa`;
/// any other is mapped with `MmMapLockedPagesSpecifyCache(Mdl, KernelMode,
/// MmCached, NULL, FALSE, Priority)`. NULL when the mapping fails.
///
/// # Safety
/// `mdl` points at a valid MDL describing locked pages (a NET_BUFFER's
/// MDLs are); IRQL <= DISPATCH_LEVEL.
#[cfg(windows)]
#[inline]
pub unsafe fn MmGetSystemAddressForMdlSafe(mdl: PMDL, priority: ULONG) -> PVOID {
    use crate::nbl::{MDL_MAPPED_TO_SYSTEM_VA, MDL_SOURCE_IS_NONPAGED_POOL};
    // SAFETY: a valid MDL (precondition), its header read.
    let m = unsafe { &*mdl };
    if m.MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL) != 0 {
        return m.MappedSystemVa;
    }
    // SAFETY: a valid MDL of locked pages (precondition), mapped for the
    // kernel without a bug check on failure; <= DISPATCH_LEVEL.
    unsafe { MmMapLockedPagesSpecifyCache(mdl, KernelMode, MmCached, core::ptr::null_mut(), 0, priority) }
}

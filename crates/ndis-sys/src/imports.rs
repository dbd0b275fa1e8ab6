//! Every function covmini imports from `ndis.sys` and `ntoskrnl.exe`.
//!
//! On Windows targets these are raw-dylib imports (no import library, no
//! WDK); on the host they are resolved at link time by ndis-emu, which defines
//! every symbol here with the same ABI. The names and signatures are the
//! exports' (contract §2.3, ndis.h, wdm.h) \[H\]; the macro names of the WDK
//! (`NdisMCm*`, spin-lock and lookaside helpers) are in [`crate::mcm`] and
//! [`crate::inline`]. Each name must also be listed, with its source and the
//! first Windows version that exports it, in `crates/ndis-sys/exports/`; the
//! kernel image test fails on any import not listed there or newer than
//! Windows 10 1809.
//!
//! All functions here are `unsafe`: their preconditions are the DDI pages'
//! (valid handles, IRQL limits in `shared/reference/ndis-ddi-irql.txt`).

use crate::bugcheck::{
    KBUGCHECK_CALLBACK_REASON, KBUGCHECK_REASON_CALLBACK_ROUTINE, PKBUGCHECK_REASON_CALLBACK_RECORD,
};
use crate::co::{PCO_ADDRESS_FAMILY, PCO_CALL_PARAMETERS, PCO_SAP};
use crate::config::{NDIS_PARAMETER_TYPE, PNDIS_CONFIGURATION_OBJECT, PNDIS_CONFIGURATION_PARAMETER, PNDIS_STRING};
use crate::device::{PDEVICE_OBJECT, PIRP, PNDIS_DEVICE_OBJECT_ATTRIBUTES};
use crate::etw::{
    EVENT_INFO_CLASS, LPCGUID, PCEVENT_DESCRIPTOR, PETWENABLECALLBACK, PEVENT_DATA_DESCRIPTOR, PREGHANDLE, REGHANDLE,
};
use crate::indication::PNDIS_STATUS_INDICATION;
use crate::lookaside::{PALLOCATE_FUNCTION, PFREE_FUNCTION, PNPAGED_LOOKASIDE_LIST, PSLIST_ENTRY, PSLIST_HEADER};
use crate::miniport::{
    PNDIS_DRIVER_OPTIONAL_HANDLERS, PNDIS_MINIPORT_ADAPTER_ATTRIBUTES, PNDIS_MINIPORT_DRIVER_CHARACTERISTICS,
};
use crate::nbl::{PMDL, PNET_BUFFER_LIST, PNET_BUFFER_LIST_POOL_PARAMETERS};
use crate::oid::PNDIS_OID_REQUEST;
use crate::protocol::{PNDIS_OPEN_PARAMETERS, PNDIS_PROTOCOL_DRIVER_CHARACTERISTICS};
use crate::sync::{NDIS_IO_WORKITEM_ROUTINE, PNDIS_EVENT, PNDIS_TIMER_CHARACTERISTICS};
use crate::types::*;

ndis_import!("ndis.sys" {
    // --- Registration (PASSIVE_LEVEL) -------------------------------------
    pub fn NdisMRegisterMiniportDriver(
        DriverObject: PDRIVER_OBJECT,
        RegistryPath: PUNICODE_STRING,
        MiniportDriverContext: NDIS_HANDLE,
        MiniportDriverCharacteristics: PNDIS_MINIPORT_DRIVER_CHARACTERISTICS,
        NdisMiniportDriverHandle: PNDIS_HANDLE,
    ) -> NDIS_STATUS;
    pub fn NdisMDeregisterMiniportDriver(NdisMiniportDriverHandle: NDIS_HANDLE);
    pub fn NdisSetOptionalHandlers(NdisHandle: NDIS_HANDLE, OptionalHandlers: PNDIS_DRIVER_OPTIONAL_HANDLERS) -> NDIS_STATUS;
    /// A protocol (CoNDIS client) driver's registration: PASSIVE_LEVEL
    /// [ndis.h 22621 line 8692; nf-ndis-ndisregisterprotocoldriver `req.irql`].
    pub fn NdisRegisterProtocolDriver(ProtocolDriverContext: NDIS_HANDLE, ProtocolCharacteristics: PNDIS_PROTOCOL_DRIVER_CHARACTERISTICS, NdisProtocolHandle: PNDIS_HANDLE) -> NDIS_STATUS;
    /// PASSIVE_LEVEL [ndis.h 22621 line 7941; nf-ndis-ndisderegisterprotocoldriver].
    pub fn NdisDeregisterProtocolDriver(NdisProtocolHandle: NDIS_HANDLE);
    // Binding; signatures ndis.h 22621 [H], IRQLs as each line says.
    /// PASSIVE_LEVEL [H 8779; D nf-ndis-ndisopenadapterex].
    pub fn NdisOpenAdapterEx(NdisProtocolHandle: NDIS_HANDLE, ProtocolBindingContext: NDIS_HANDLE, OpenParameters: PNDIS_OPEN_PARAMETERS, BindContext: NDIS_HANDLE, NdisBindingHandle: PNDIS_HANDLE) -> NDIS_STATUS;
    /// PASSIVE_LEVEL [H 8799; D nf-ndis-ndiscloseadapterex].
    pub fn NdisCloseAdapterEx(NdisBindingHandle: NDIS_HANDLE) -> NDIS_STATUS;
    /// <= DISPATCH_LEVEL (ndis-ddi-irql.txt) [H 8790].
    pub fn NdisCompleteBindAdapterEx(BindAdapterContext: NDIS_HANDLE, Status: NDIS_STATUS);
    /// <= DISPATCH_LEVEL (ndis-ddi-irql.txt) [H 8806].
    pub fn NdisCompleteUnbindAdapterEx(UnbindContext: NDIS_HANDLE);
    /// PASSIVE_LEVEL [H 14241; D nf-ndis-ndisclopenaddressfamilyex].
    pub fn NdisClOpenAddressFamilyEx(NdisBindingHandle: NDIS_HANDLE, AddressFamily: PCO_ADDRESS_FAMILY, ClientAfContext: NDIS_HANDLE, NdisAfHandle: PNDIS_HANDLE) -> NDIS_STATUS;
    /// <= DISPATCH_LEVEL [H 13874; D nf-ndis-ndisclcloseaddressfamily].
    pub fn NdisClCloseAddressFamily(NdisAfHandle: NDIS_HANDLE) -> NDIS_STATUS;
    /// <= DISPATCH_LEVEL [H 13882; D nf-ndis-ndisclregistersap].
    pub fn NdisClRegisterSap(NdisAfHandle: NDIS_HANDLE, ProtocolSapContext: NDIS_HANDLE, Sap: PCO_SAP, NdisSapHandle: PNDIS_HANDLE) -> NDIS_STATUS;
    /// <= DISPATCH_LEVEL [H 13893; D nf-ndis-ndisclderegistersap].
    pub fn NdisClDeregisterSap(NdisSapHandle: NDIS_HANDLE) -> NDIS_STATUS;
    /// <= DISPATCH_LEVEL (ndis-ddi-irql.txt) [H 13771]. `NdisAfHandle` is NULL
    /// only for a call manager's signalling VC.
    pub fn NdisCoCreateVc(NdisBindingHandle: NDIS_HANDLE, NdisAfHandle: NDIS_HANDLE, ProtocolVcContext: NDIS_HANDLE, NdisVcHandle: PNDIS_HANDLE) -> NDIS_STATUS;
    /// <= DISPATCH_LEVEL (ndis-ddi-irql.txt) [H 13782].
    pub fn NdisCoDeleteVc(NdisVcHandle: NDIS_HANDLE) -> NDIS_STATUS;
    pub fn NdisMSetMiniportAttributes(NdisMiniportHandle: NDIS_HANDLE, MiniportAttributes: PNDIS_MINIPORT_ADAPTER_ATTRIBUTES) -> NDIS_STATUS;
    pub fn NdisMCmRegisterAddressFamilyEx(MiniportAdapterHandle: NDIS_HANDLE, AddressFamily: PCO_ADDRESS_FAMILY) -> NDIS_STATUS;
    pub fn NdisGetVersion() -> UINT;

    // --- Registry configuration (PASSIVE_LEVEL) ----------------------------
    pub fn NdisOpenConfigurationEx(ConfigObject: PNDIS_CONFIGURATION_OBJECT, ConfigurationHandle: PNDIS_HANDLE) -> NDIS_STATUS;
    pub fn NdisReadConfiguration(
        Status: PNDIS_STATUS,
        ParameterValue: *mut PNDIS_CONFIGURATION_PARAMETER,
        ConfigurationHandle: NDIS_HANDLE,
        Keyword: PNDIS_STRING,
        ParameterType: NDIS_PARAMETER_TYPE,
    );
    pub fn NdisCloseConfiguration(ConfigurationHandle: NDIS_HANDLE);

    // --- MCM VC management (<= DISPATCH_LEVEL) -----------------------------
    pub fn NdisMCmCreateVc(MiniportAdapterHandle: NDIS_HANDLE, NdisAfHandle: NDIS_HANDLE, MiniportVcContext: NDIS_HANDLE, NdisVcHandle: PNDIS_HANDLE) -> NDIS_STATUS;
    pub fn NdisMCmDeleteVc(NdisVcHandle: NDIS_HANDLE) -> NDIS_STATUS;
    pub fn NdisMCmActivateVc(NdisVcHandle: NDIS_HANDLE, CallParameters: PCO_CALL_PARAMETERS) -> NDIS_STATUS;
    pub fn NdisMCmDeactivateVc(NdisVcHandle: NDIS_HANDLE) -> NDIS_STATUS;
    pub fn NdisMCmOidRequest(NdisAfHandle: NDIS_HANDLE, NdisVcHandle: NDIS_HANDLE, NdisPartyHandle: NDIS_HANDLE, NdisOidRequest: PNDIS_OID_REQUEST) -> NDIS_STATUS;

    // --- Call-manager completions and dispatches (the NdisMCm* macros) ----
    pub fn NdisCmOpenAddressFamilyComplete(Status: NDIS_STATUS, NdisAfHandle: NDIS_HANDLE, CallMgrAfContext: NDIS_HANDLE);
    pub fn NdisCmCloseAddressFamilyComplete(Status: NDIS_STATUS, NdisAfHandle: NDIS_HANDLE);
    pub fn NdisCmNotifyCloseAddressFamily(NdisAfHandle: NDIS_HANDLE) -> NDIS_STATUS;
    pub fn NdisCmRegisterSapComplete(Status: NDIS_STATUS, NdisSapHandle: NDIS_HANDLE, CallMgrSapContext: NDIS_HANDLE);
    pub fn NdisCmDeregisterSapComplete(Status: NDIS_STATUS, NdisSapHandle: NDIS_HANDLE);
    pub fn NdisCmMakeCallComplete(Status: NDIS_STATUS, NdisVcHandle: NDIS_HANDLE, NdisPartyHandle: NDIS_HANDLE, CallMgrPartyContext: NDIS_HANDLE, CallParameters: PCO_CALL_PARAMETERS);
    pub fn NdisCmCloseCallComplete(Status: NDIS_STATUS, NdisVcHandle: NDIS_HANDLE, NdisPartyHandle: NDIS_HANDLE);
    pub fn NdisCmAddPartyComplete(Status: NDIS_STATUS, NdisPartyHandle: NDIS_HANDLE, CallMgrPartyContext: NDIS_HANDLE, CallParameters: PCO_CALL_PARAMETERS);
    pub fn NdisCmDropPartyComplete(Status: NDIS_STATUS, NdisPartyHandle: NDIS_HANDLE);
    pub fn NdisCmDispatchIncomingCall(NdisSapHandle: NDIS_HANDLE, NdisVcHandle: NDIS_HANDLE, CallParameters: PCO_CALL_PARAMETERS) -> NDIS_STATUS;
    pub fn NdisCmDispatchCallConnected(NdisVcHandle: NDIS_HANDLE);
    pub fn NdisCmModifyCallQoSComplete(Status: NDIS_STATUS, NdisVcHandle: NDIS_HANDLE, CallParameters: PCO_CALL_PARAMETERS);
    pub fn NdisCmDispatchIncomingCallQoSChange(NdisVcHandle: NDIS_HANDLE, CallParameters: PCO_CALL_PARAMETERS);
    pub fn NdisCmDispatchIncomingCloseCall(CloseStatus: NDIS_STATUS, NdisVcHandle: NDIS_HANDLE, Buffer: PVOID, Size: UINT);
    pub fn NdisCmDispatchIncomingDropParty(DropStatus: NDIS_STATUS, NdisPartyHandle: NDIS_HANDLE, Buffer: PVOID, Size: UINT);
    pub fn NdisCoOidRequestComplete(NdisAfHandle: NDIS_HANDLE, NdisVcHandle: NDIS_HANDLE, NdisPartyHandle: NDIS_HANDLE, OidRequest: PNDIS_OID_REQUEST, Status: NDIS_STATUS);

    // --- CoNDIS miniport indications and completions -----------------------
    pub fn NdisMCoActivateVcComplete(Status: NDIS_STATUS, NdisVcHandle: NDIS_HANDLE, CallParameters: PCO_CALL_PARAMETERS);
    pub fn NdisMCoDeactivateVcComplete(Status: NDIS_STATUS, NdisVcHandle: NDIS_HANDLE);
    pub fn NdisMCoSendNetBufferListsComplete(NdisVcHandle: NDIS_HANDLE, NetBufferLists: PNET_BUFFER_LIST, SendCompleteFlags: ULONG);
    pub fn NdisMCoIndicateReceiveNetBufferLists(NdisVcHandle: NDIS_HANDLE, NetBufferLists: PNET_BUFFER_LIST, NumberOfNetBufferLists: ULONG, CoReceiveFlags: ULONG);
    pub fn NdisMCoIndicateStatusEx(MiniportAdapterHandle: NDIS_HANDLE, NdisVcHandle: NDIS_HANDLE, StatusIndication: PNDIS_STATUS_INDICATION);
    pub fn NdisMCoOidRequestComplete(MiniportAdapterHandle: NDIS_HANDLE, NdisMiniportVcHandle: NDIS_HANDLE, Request: PNDIS_OID_REQUEST, Status: NDIS_STATUS);

    // --- Connectionless send completion (for the mandatory send stub) -----
    pub fn NdisMSendNetBufferListsComplete(MiniportAdapterHandle: NDIS_HANDLE, NetBufferList: PNET_BUFFER_LIST, SendCompleteFlags: ULONG);

    // --- Memory, locks, work items, timers, NBL pools ----------------------
    pub fn NdisAllocateMemoryWithTagPriority(NdisHandle: NDIS_HANDLE, Length: UINT, Tag: ULONG, Priority: EX_POOL_PRIORITY) -> PVOID;
    pub fn NdisFreeMemoryWithTagPriority(NdisHandle: NDIS_HANDLE, VirtualAddress: PVOID, Tag: ULONG);
    pub fn NdisAllocateIoWorkItem(NdisObjectHandle: NDIS_HANDLE) -> NDIS_HANDLE;
    pub fn NdisQueueIoWorkItem(NdisIoWorkItemHandle: NDIS_HANDLE, Routine: NDIS_IO_WORKITEM_ROUTINE, WorkItemContext: PVOID);
    pub fn NdisFreeIoWorkItem(NdisIoWorkItemHandle: NDIS_HANDLE);
    pub fn NdisAllocateTimerObject(NdisHandle: NDIS_HANDLE, TimerCharacteristics: PNDIS_TIMER_CHARACTERISTICS, pTimerObject: PNDIS_HANDLE) -> NDIS_STATUS;
    // MillisecondsPeriod is a LONG (<= MAXLONG; 0: one-shot) [H: WDK 10.0.17763
    // and 10.0.22621 km/ndis.h, `_In_opt_ LONG MillisecondsPeriod`]; the
    // Windows CE page's ULONG is not the desktop signature.
    pub fn NdisSetTimerObject(TimerObject: NDIS_HANDLE, DueTime: LARGE_INTEGER, MillisecondsPeriod: LONG, FunctionContext: PVOID) -> BOOLEAN;
    pub fn NdisCancelTimerObject(TimerObject: NDIS_HANDLE) -> BOOLEAN;
    pub fn NdisFreeTimerObject(TimerObject: NDIS_HANDLE);
    pub fn NdisAllocateNetBufferListPool(NdisHandle: NDIS_HANDLE, Parameters: PNET_BUFFER_LIST_POOL_PARAMETERS) -> NDIS_HANDLE;
    pub fn NdisFreeNetBufferListPool(PoolHandle: NDIS_HANDLE);
    pub fn NdisAllocateNetBufferAndNetBufferList(PoolHandle: NDIS_HANDLE, ContextSize: USHORT, ContextBackFill: USHORT, MdlChain: PMDL, DataOffset: ULONG, DataLength: SIZE_T) -> PNET_BUFFER_LIST;
    pub fn NdisAllocateNetBufferList(PoolHandle: NDIS_HANDLE, ContextSize: USHORT, ContextBackFill: USHORT) -> PNET_BUFFER_LIST;
    pub fn NdisFreeNetBufferList(NetBufferList: PNET_BUFFER_LIST);

    // --- NDIS events (crate::sync): set and reset at <= DISPATCH_LEVEL, wait
    // only at PASSIVE_LEVEL ("calling NdisWaitEvent from any IRQL >
    // PASSIVE_LEVEL is a fatal error", NdisInitializeEvent's page) --------
    pub fn NdisInitializeEvent(Event: PNDIS_EVENT);
    pub fn NdisSetEvent(Event: PNDIS_EVENT);
    pub fn NdisResetEvent(Event: PNDIS_EVENT);
    /// `MsToWait` 0 waits forever; TRUE when the event is signalled.
    pub fn NdisWaitEvent(Event: PNDIS_EVENT, MsToWait: UINT) -> BOOLEAN;
    // --- Pause and restart (<= DISPATCH_LEVEL) ------------------------------
    /// Completes a MiniportPause that returned NDIS_STATUS_PENDING, once the
    /// last send is completed and the last receive NBL returned.
    pub fn NdisMPauseComplete(MiniportAdapterHandle: NDIS_HANDLE);
    // --- A control device (NdisRegisterDeviceEx) ---------------------------
    // Signatures: WDK 10.0.17763 and 10.0.22621 km/ndis.h (22621 lines in
    // brackets) [H]; [D] is the DDI's page (its `req.irql`).
    /// PASSIVE_LEVEL [H 4754; D nf-ndis-ndisregisterdeviceex]. `NdisHandle`
    /// is the protocol (or miniport) driver handle.
    pub fn NdisRegisterDeviceEx(NdisHandle: NDIS_HANDLE, DeviceObjectAttributes: PNDIS_DEVICE_OBJECT_ATTRIBUTES, pDeviceObject: *mut PDEVICE_OBJECT, NdisDeviceHandle: PNDIS_HANDLE) -> NDIS_STATUS;
    /// PASSIVE_LEVEL [H 4764; D nf-ndis-ndisderegisterdeviceex].
    pub fn NdisDeregisterDeviceEx(NdisDeviceHandle: NDIS_HANDLE);
});

ndis_import!("ntoskrnl.exe" {
    pub fn ExInitializeNPagedLookasideList(
        Lookaside: PNPAGED_LOOKASIDE_LIST,
        Allocate: Option<PALLOCATE_FUNCTION>,
        Free: Option<PFREE_FUNCTION>,
        Flags: ULONG,
        Size: SIZE_T,
        Tag: ULONG,
        Depth: USHORT,
    );
    pub fn ExDeleteNPagedLookasideList(Lookaside: PNPAGED_LOOKASIDE_LIST);
    pub fn ExpInterlockedPopEntrySList(ListHead: PSLIST_HEADER) -> PSLIST_ENTRY;
    pub fn ExpInterlockedPushEntrySList(ListHead: PSLIST_HEADER, ListEntry: PSLIST_ENTRY) -> PSLIST_ENTRY;
    pub fn ExQueryDepthSList(SListHead: PSLIST_HEADER) -> USHORT;
    pub fn KeAcquireSpinLockRaiseToDpc(SpinLock: *mut KSPIN_LOCK) -> KIRQL;
    pub fn KeReleaseSpinLock(SpinLock: *mut KSPIN_LOCK, NewIrql: KIRQL);
    pub fn KeAcquireSpinLockAtDpcLevel(SpinLock: *mut KSPIN_LOCK);
    pub fn KeReleaseSpinLockFromDpcLevel(SpinLock: *mut KSPIN_LOCK);
    pub fn KeBugCheckEx(BugCheckCode: ULONG, P1: ULONG_PTR, P2: ULONG_PTR, P3: ULONG_PTR, P4: ULONG_PTR) -> !;
    /// Variadic in C. Under the Windows x64 and ARM64 conventions integer
    /// variadic arguments travel exactly like fixed ones, so ndis-emu can
    /// implement it as a fixed-arity function.
    pub fn DbgPrintEx(ComponentId: ULONG, Level: ULONG, Format: PCSTR, ...) -> ULONG;

    // --- ETW (wdm.h, crate::etw): register, set traits and unregister at
    // PASSIVE_LEVEL; write at <= HIGH_LEVEL --------------------------------
    pub fn EtwRegister(ProviderId: LPCGUID, EnableCallback: Option<PETWENABLECALLBACK>, CallbackContext: PVOID, RegHandle: PREGHANDLE) -> NTSTATUS;
    pub fn EtwUnregister(RegHandle: REGHANDLE) -> NTSTATUS;
    pub fn EtwSetInformation(RegHandle: REGHANDLE, InformationClass: EVENT_INFO_CLASS, EventInformation: PVOID, InformationLength: ULONG) -> NTSTATUS;
    pub fn EtwWriteTransfer(
        RegHandle: REGHANDLE,
        EventDescriptor: PCEVENT_DESCRIPTOR,
        ActivityId: LPCGUID,
        RelatedActivityId: LPCGUID,
        UserDataCount: ULONG,
        UserData: PEVENT_DATA_DESCRIPTOR,
    ) -> NTSTATUS;
    // --- The flight recorder (any IRQL) ------------------------------------
    /// wdm.h (WDK 22621, line 23447) \[H\]; any IRQL, Windows 8.1 and later
    /// \[D: nf-wdm-kequeryinterrupttimeprecise\]. Interrupt time in 100 ns
    /// units; `QpcTimeStamp` receives the performance counter it used.
    pub fn KeQueryInterruptTimePrecise(QpcTimeStamp: *mut ULONG64) -> ULONG64;
    /// wdm.h (line 23553) \[H\]; any IRQL, Windows 7 and later \[D:
    /// nf-wdm-kegetcurrentprocessornumberex\]. `ProcNumber` is an optional
    /// `PPROCESSOR_NUMBER`; covmini passes NULL, so it is declared opaque.
    pub fn KeGetCurrentProcessorNumberEx(ProcNumber: PVOID) -> ULONG;
    /// wdm.h (line 23320) \[H\]; any IRQL (covmini calls it at PASSIVE_LEVEL, in initialize); Windows XP SP1 and
    /// later \[D: nf-wdm-keregisterbugcheckreasoncallback\]. The record and
    /// `Component` must stay in nonpaged memory until deregistered.
    pub fn KeRegisterBugCheckReasonCallback(
        CallbackRecord: PKBUGCHECK_REASON_CALLBACK_RECORD,
        CallbackRoutine: KBUGCHECK_REASON_CALLBACK_ROUTINE,
        Reason: KBUGCHECK_CALLBACK_REASON,
        Component: PUCHAR,
    ) -> BOOLEAN;
    /// wdm.h (line 23311) \[H\]; any IRQL (covmini calls it at PASSIVE_LEVEL, at halt); Windows XP SP1 and
    /// later \[D: nf-wdm-kederegisterbugcheckreasoncallback\].
    pub fn KeDeregisterBugCheckReasonCallback(CallbackRecord: PKBUGCHECK_REASON_CALLBACK_RECORD) -> BOOLEAN;

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
    /// Takes the system cancel spin lock, raising to DISPATCH_LEVEL and
    /// saving the caller's IRQL in `*Irql` for `IoReleaseCancelSpinLock`
    /// (wdm.h) \[H\]; <= DISPATCH_LEVEL \[D: nf-wdm-ioacquirecancelspinlock\].
    /// A cancel routine, called with the lock held, must not take it again
    /// before releasing it.
    pub fn IoAcquireCancelSpinLock(Irql: *mut KIRQL);
});

/// Compiler intrinsics of the x64 kernel image, imported from ntoskrnl.exe
/// (architecture.md: "memcpy/memset/memmove/memcmp/__chkstk must be imported
/// from ntoskrnl.exe"; exported by x64 ntoskrnl, see exports/ntoskrnl.exe.txt).
/// No public listing confirms ARM64 ntoskrnl exports them (the WDK links ARM64
/// drivers with the static arm64rt.lib instead), so the ARM64 image carries
/// its own (crates/kernel-rt, for both drivers). On the host the C library provides them.
#[cfg(all(windows, target_arch = "x86_64"))]
pub mod intrinsics {
    #[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
    unsafe extern "C" {
        pub fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8;
        pub fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8;
        pub fn memset(dest: *mut u8, c: i32, n: usize) -> *mut u8;
        pub fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32;
        pub fn __chkstk();
    }
}

/// `DPFLTR_IHVNETWORK_ID` (dpfilter.h) \[H\]: the component id network drivers
/// print under.
pub const DPFLTR_IHVNETWORK_ID: ULONG = 80;
/// `DPFLTR_ERROR_LEVEL`, `DPFLTR_WARNING_LEVEL`, `DPFLTR_TRACE_LEVEL`,
/// `DPFLTR_INFO_LEVEL` (dpfilter.h) \[H\].
pub const DPFLTR_ERROR_LEVEL: ULONG = 0;
pub const DPFLTR_WARNING_LEVEL: ULONG = 1;
pub const DPFLTR_TRACE_LEVEL: ULONG = 2;
pub const DPFLTR_INFO_LEVEL: ULONG = 3;

//! The one table of what build 3 checks against the WDK: the NDIS types whose
//! size, alignment and field offsets `ndis-sys` must share with the WDK's
//! `ndis.h`, and a few constants whose values must agree.
//!
//! Included by `build.rs` (`#[path]` module) on every host: there it is only
//! validated (well-formed names, no duplicates). On Windows with the cargo
//! feature `wdk`, the build script turns it into
//!
//! * a C header that asks clang (through bindgen, over the WDK's `ndis.h`)
//!   for `sizeof`, `_Alignof` and `__builtin_offsetof` of every entry, as the
//!   constants of one C `enum`; and
//! * `wdk_layout_check.rs` in `OUT_DIR`: bindgen's output plus one
//!   compile-time `assert!` per size, alignment, field offset and constant,
//!   comparing `ndis_sys::T` with those constants.
//!
//! # How fields are named
//!
//! Every field is named by its C member designator, the way `offsetof` takes
//! it: `Header`, `DATA.QUERY_INFORMATION.Oid`, `L.AllocateMisses`. Members of
//! anonymous unions and structs are named directly (`NET_BUFFER_LIST.Status`
//! lives in an anonymous `union { NDIS_STATUS Status; ULONG NdisReserved2; }`),
//! because C's `offsetof` sees through anonymous members. That is why the
//! check asks clang for the offsets instead of comparing with bindgen's Rust
//! types: bindgen names anonymous members `__bindgen_anon_N`, which would tie
//! this table to bindgen's numbering. `ndis-sys` keeps the C names and
//! flattens anonymous unions to one of their members, so the same path is
//! almost always valid on the Rust side; where it is not, [`Field::rust`]
//! says the `offset_of!` path separately.
//!
//! Fields of `ndis-sys` that have no C counterpart (explicit padding such as
//! `CO_MEDIA_PARAMETERS::_Pad` or `NET_BUFFER::_Pad0`) are not listed; the
//! size and the offsets of the fields around them cover them.
//!
//! # Protocol-side and kernel structures
//!
//! covclient.sys's structures (ndis-sys `protocol` and `device`) are checked
//! in the same views: ndis.h declares the protocol structures under
//! `NDIS_SUPPORT_NDIS6` alone, and `IRP`, `IO_STACK_LOCATION` and
//! `DRIVER_OBJECT` come from wdm.h, which ndis.h includes through ntddk.h.
//! The check runs in covmini's WDK build (this build script); it compares
//! `ndis_sys` types, whichever driver uses them. Where `ndis-sys` names a
//! type differently ([`TypeCheck::rust_ty`]) or flattens a union it reads
//! (`IRP::Tail_Overlay_CurrentStackLocation`), the entry says both names.
//!
//! # Which NDIS version the WDK view uses
//!
//! covmini registers as an NDIS 6.30 miniport, and most structures are
//! compared as a 6.30 miniport's headers declare them ([`View::Ndis630`]).
//! Where `ndis-sys` models a later revision of a versioned structure, that
//! structure is compared in a view that also declares the later fields
//! ([`View::Ndis680`]): `NDIS_MINIPORT_DRIVER_CHARACTERISTICS` revision 3
//! (`SynchronousOidRequestHandler`, `NDIS_SUPPORT_NDIS680`) and
//! `NDIS_OID_REQUEST` revision 2 (`SwitchId`, `VPortId`, `Flags`,
//! `NDIS_SUPPORT_NDIS650`), and `NET_PNP_EVENT_NOTIFICATION` revision 2
//! (`SwitchId`, `VPortId`, `NDIS_SUPPORT_NDIS650`). Revisions only append
//! fields, so every 6.30 field keeps its offset there. `NET_BUFFER_LIST` must stay in the 6.30 view: its
//! `NetBufferListInfo` array grows with the version (24 entries for 6.30).

/// The WDK preprocessor view a type or constant is compared in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum View {
    /// `NDIS_MINIPORT_DRIVER`, `NDIS630_MINIPORT`, `NDIS_WDM`: the contract
    /// covmini registers (`MajorNdisVersion` 6, `MinorNdisVersion` 30).
    Ndis630,
    /// As [`View::Ndis630`], plus `NDIS680_MINIPORT`: ndis.h then declares the
    /// 6.50 and 6.80 fields of the versioned structures as well.
    Ndis680,
}

impl View {
    /// Every view, in the order the build script generates them.
    pub(crate) const ALL: [Self; 2] = [Self::Ndis630, Self::Ndis680];

    /// The name used in generated identifiers and file names.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Ndis630 => "ndis630",
            Self::Ndis680 => "ndis680",
        }
    }

    /// The macros defined before `ndis.h` is included (ndis.h's own notes:
    /// a miniport defines `NDIS_MINIPORT_DRIVER` and `NDISxxx_MINIPORT`; a WDM
    /// NDIS driver also defines `NDIS_WDM`). When several `NDISxxx_MINIPORT`
    /// are defined, ndis.h takes the highest as the declared version and the
    /// lowest as the minimum it checks against `NTDDI_VERSION`.
    pub(crate) const fn defines(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Ndis630 => &[
                ("NDIS_MINIPORT_DRIVER", "1"),
                ("NDIS630_MINIPORT", "1"),
                ("NDIS_WDM", "1"),
            ],
            Self::Ndis680 => &[
                ("NDIS_MINIPORT_DRIVER", "1"),
                ("NDIS630_MINIPORT", "1"),
                ("NDIS680_MINIPORT", "1"),
                ("NDIS_WDM", "1"),
            ],
        }
    }
}

/// One structure to compare.
pub(crate) struct TypeCheck {
    /// The C typedef name in the WDK.
    pub(crate) ty: &'static str,
    /// The `ndis_sys` type: the C name, except where `ndis-sys` models only
    /// the driver-visible prefix of a kernel structure under another name
    /// (`DRIVER_OBJECT_FIELDS` for `DRIVER_OBJECT`, whose `ndis_sys` type
    /// is opaque).
    pub(crate) rust_ty: &'static str,
    /// The WDK view the structure is compared in.
    pub(crate) view: View,
    /// The fields whose offsets are compared. `size_of` and `align_of` are
    /// always compared.
    pub(crate) fields: &'static [Field],
}

/// One field to compare.
pub(crate) struct Field {
    /// The C member designator (what `offsetof` takes).
    pub(crate) c: &'static str,
    /// The `core::mem::offset_of!` path in `ndis-sys`.
    pub(crate) rust: &'static str,
}

/// One constant to compare. Only values that fit a C `int` (enum constants
/// are `int`): object types, revisions, `NDIS_SIZEOF_*`, indices.
pub(crate) struct ConstCheck {
    /// The constant in `ndis_sys`.
    pub(crate) rust: &'static str,
    /// The C macro or enumerator in the WDK headers.
    pub(crate) c: &'static str,
    /// The WDK view the constant is evaluated in.
    pub(crate) view: View,
}

/// A field with the same path in C and in `ndis-sys`.
const fn f(name: &'static str) -> Field {
    Field { c: name, rust: name }
}

/// A field whose `ndis-sys` path differs from its C member designator.
const fn renamed(c: &'static str, rust: &'static str) -> Field {
    Field { c, rust }
}

const fn t(ty: &'static str, fields: &'static [Field]) -> TypeCheck {
    TypeCheck {
        ty,
        rust_ty: ty,
        view: View::Ndis630,
        fields,
    }
}

const fn t680(ty: &'static str, fields: &'static [Field]) -> TypeCheck {
    TypeCheck {
        ty,
        rust_ty: ty,
        view: View::Ndis680,
        fields,
    }
}

/// A structure whose `ndis_sys` type has another name than the C typedef.
const fn t_as(ty: &'static str, rust_ty: &'static str, fields: &'static [Field]) -> TypeCheck {
    TypeCheck {
        ty,
        rust_ty,
        view: View::Ndis630,
        fields,
    }
}

const fn c(name: &'static str) -> ConstCheck {
    ConstCheck {
        rust: name,
        c: name,
        view: View::Ndis630,
    }
}

const fn c680(name: &'static str) -> ConstCheck {
    ConstCheck {
        rust: name,
        c: name,
        view: View::Ndis680,
    }
}

/// The structures: every `#[repr(C)]` type covmini hands to or receives
/// from NDIS.
pub(crate) const TYPES: &[TypeCheck] = &[
    t("NDIS_OBJECT_HEADER", &[f("Type"), f("Revision"), f("Size")]),
    t680(
        "NDIS_MINIPORT_DRIVER_CHARACTERISTICS",
        &[
            f("Header"),
            f("MajorNdisVersion"),
            f("MinorNdisVersion"),
            f("MajorDriverVersion"),
            f("MinorDriverVersion"),
            f("Flags"),
            f("SetOptionsHandler"),
            f("InitializeHandlerEx"),
            f("HaltHandlerEx"),
            f("UnloadHandler"),
            f("PauseHandler"),
            f("RestartHandler"),
            f("OidRequestHandler"),
            f("SendNetBufferListsHandler"),
            f("ReturnNetBufferListsHandler"),
            f("CancelSendHandler"),
            f("CheckForHangHandlerEx"),
            f("ResetHandlerEx"),
            f("DevicePnPEventNotifyHandler"),
            f("ShutdownHandlerEx"),
            f("CancelOidRequestHandler"),
            f("DirectOidRequestHandler"),
            f("CancelDirectOidRequestHandler"),
            f("SynchronousOidRequestHandler"),
        ],
    ),
    t(
        "NDIS_MINIPORT_CO_CHARACTERISTICS",
        &[
            f("Header"),
            f("Flags"),
            f("CoCreateVcHandler"),
            f("CoDeleteVcHandler"),
            f("CoActivateVcHandler"),
            f("CoDeactivateVcHandler"),
            f("CoSendNetBufferListsHandler"),
            f("CoOidRequestHandler"),
        ],
    ),
    t(
        "NDIS_CO_CALL_MANAGER_OPTIONAL_HANDLERS",
        &[
            f("Header"),
            f("Reserved"),
            f("CmCreateVcHandler"),
            f("CmDeleteVcHandler"),
            f("CmOpenAfHandler"),
            f("CmCloseAfHandler"),
            f("CmRegisterSapHandler"),
            f("CmDeregisterSapHandler"),
            f("CmMakeCallHandler"),
            f("CmCloseCallHandler"),
            f("CmIncomingCallCompleteHandler"),
            f("CmAddPartyHandler"),
            f("CmDropPartyHandler"),
            f("CmActivateVcCompleteHandler"),
            f("CmDeactivateVcCompleteHandler"),
            f("CmModifyCallQoSHandler"),
            f("CmOidRequestHandler"),
            f("CmOidRequestCompleteHandler"),
            f("CmNotifyCloseAfCompleteHandler"),
        ],
    ),
    t(
        "NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES",
        &[
            f("Header"),
            f("MiniportAdapterContext"),
            f("AttributeFlags"),
            f("CheckForHangTimeInSeconds"),
            f("InterfaceType"),
        ],
    ),
    t(
        "NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES",
        &[
            f("Header"),
            f("Flags"),
            f("MediaType"),
            f("PhysicalMediumType"),
            f("MtuSize"),
            f("MaxXmitLinkSpeed"),
            f("XmitLinkSpeed"),
            f("MaxRcvLinkSpeed"),
            f("RcvLinkSpeed"),
            f("MediaConnectState"),
            f("MediaDuplexState"),
            f("LookaheadSize"),
            f("PowerManagementCapabilities"),
            f("MacOptions"),
            f("SupportedPacketFilters"),
            f("MaxMulticastListSize"),
            f("MacAddressLength"),
            f("PermanentMacAddress"),
            f("CurrentMacAddress"),
            f("RecvScaleCapabilities"),
            f("AccessType"),
            f("DirectionType"),
            f("ConnectionType"),
            f("IfType"),
            f("IfConnectorPresent"),
            f("SupportedStatistics"),
            f("SupportedPauseFunctions"),
            f("DataBackFillSize"),
            f("ContextBackFillSize"),
            f("SupportedOidList"),
            f("SupportedOidListLength"),
            f("AutoNegotiationFlags"),
            f("PowerManagementCapabilitiesEx"),
        ],
    ),
    t(
        "NDIS_MINIPORT_INIT_PARAMETERS",
        &[
            f("Header"),
            f("Flags"),
            f("AllocatedResources"),
            f("IMDeviceInstanceContext"),
            f("MiniportAddDeviceContext"),
            f("IfIndex"),
            f("NetLuid"),
            f("DefaultPortAuthStates"),
            f("PciDeviceCustomProperties"),
        ],
    ),
    t(
        "NDIS_MINIPORT_PAUSE_PARAMETERS",
        &[f("Header"), f("Flags"), f("PauseReason")],
    ),
    t(
        "NDIS_MINIPORT_RESTART_PARAMETERS",
        &[f("Header"), f("RestartAttributes"), f("Flags")],
    ),
    t(
        "CO_ADDRESS_FAMILY",
        &[f("AddressFamily"), f("MajorVersion"), f("MinorVersion")],
    ),
    t("CO_SAP", &[f("SapType"), f("SapLength"), f("Sap")]),
    t("CO_ADDRESS", &[f("AddressSize"), f("Address")]),
    t(
        "CO_ADDRESS_LIST",
        &[
            f("NumberOfAddressesAvailable"),
            f("NumberOfAddresses"),
            f("AddressList"),
        ],
    ),
    t(
        "CO_SPECIFIC_PARAMETERS",
        &[f("ParamType"), f("Length"), f("Parameters")],
    ),
    // qos.h
    t(
        "FLOWSPEC",
        &[
            f("TokenRate"),
            f("TokenBucketSize"),
            f("PeakBandwidth"),
            f("Latency"),
            f("DelayVariation"),
            f("ServiceType"),
            f("MaxSduSize"),
            f("MinimumPolicedSize"),
        ],
    ),
    t(
        "CO_CALL_MANAGER_PARAMETERS",
        &[f("Transmit"), f("Receive"), f("CallMgrSpecific")],
    ),
    // MediaSpecific is POINTER_ALIGNMENT in the WDK (offset 16 on x64, not
    // mingw-w64's 12): the reason this check exists.
    t(
        "CO_MEDIA_PARAMETERS",
        &[
            f("Flags"),
            f("ReceivePriority"),
            f("ReceiveSizeHint"),
            f("MediaSpecific"),
        ],
    ),
    t(
        "CO_CALL_PARAMETERS",
        &[f("Flags"), f("CallMgrParameters"), f("MediaParameters")],
    ),
    t("CO_PVC", &[f("NdisAfHandle"), f("PvcParameters")]),
    t680(
        "NDIS_OID_REQUEST",
        &[
            f("Header"),
            f("RequestType"),
            f("PortNumber"),
            f("Timeout"),
            f("RequestId"),
            f("RequestHandle"),
            f("DATA"),
            f("DATA.QUERY_INFORMATION.Oid"),
            f("DATA.QUERY_INFORMATION.InformationBuffer"),
            f("DATA.QUERY_INFORMATION.InformationBufferLength"),
            f("DATA.QUERY_INFORMATION.BytesWritten"),
            f("DATA.QUERY_INFORMATION.BytesNeeded"),
            f("DATA.SET_INFORMATION.Oid"),
            f("DATA.SET_INFORMATION.InformationBuffer"),
            f("DATA.SET_INFORMATION.InformationBufferLength"),
            f("DATA.SET_INFORMATION.BytesRead"),
            f("DATA.SET_INFORMATION.BytesNeeded"),
            f("DATA.METHOD_INFORMATION.Oid"),
            f("DATA.METHOD_INFORMATION.InformationBuffer"),
            f("DATA.METHOD_INFORMATION.InputBufferLength"),
            f("DATA.METHOD_INFORMATION.OutputBufferLength"),
            f("DATA.METHOD_INFORMATION.MethodId"),
            f("DATA.METHOD_INFORMATION.BytesWritten"),
            f("DATA.METHOD_INFORMATION.BytesRead"),
            f("DATA.METHOD_INFORMATION.BytesNeeded"),
            f("NdisReserved"),
            f("MiniportReserved"),
            f("SourceReserved"),
            f("SupportedRevision"),
            f("Reserved1"),
            f("Reserved2"),
            f("SwitchId"),
            f("VPortId"),
            f("Flags"),
        ],
    ),
    // Next/FirstNetBuffer sit in an anonymous struct inside an anonymous
    // union; Status in an anonymous union with NdisReserved2.
    t(
        "NET_BUFFER_LIST",
        &[
            f("Next"),
            f("FirstNetBuffer"),
            f("Context"),
            f("ParentNetBufferList"),
            f("NdisPoolHandle"),
            f("NdisReserved"),
            f("ProtocolReserved"),
            f("MiniportReserved"),
            f("Scratch"),
            f("SourceHandle"),
            f("NblFlags"),
            f("ChildRefCount"),
            f("Flags"),
            f("Status"),
            f("NetBufferListInfo"),
        ],
    ),
    // Next..DataOffset sit in an anonymous struct inside an anonymous union;
    // stDataLength in the anonymous `union { ULONG DataLength; SIZE_T
    // stDataLength; }` (ndis-sys models the union as its SIZE_T member);
    // SharedMemoryInfo in the trailing anonymous union with ScatterGatherList.
    t(
        "NET_BUFFER",
        &[
            f("Next"),
            f("CurrentMdl"),
            f("CurrentMdlOffset"),
            f("stDataLength"),
            f("MdlChain"),
            f("DataOffset"),
            f("ChecksumBias"),
            f("Reserved"),
            f("NdisPoolHandle"),
            f("NdisReserved"),
            f("ProtocolReserved"),
            f("MiniportReserved"),
            f("DataPhysicalAddress"),
            f("SharedMemoryInfo"),
        ],
    ),
    // wdm.h. ndis-sys's AllocationProcessorNumber/Reserved (offsets 12/14,
    // from the kernel's PDB type) are not listed: not every WDK's public
    // wdm.h declares them. The offset of Process and the size cover them.
    t(
        "MDL",
        &[
            f("Next"),
            f("Size"),
            f("MdlFlags"),
            f("Process"),
            f("MappedSystemVa"),
            f("StartVa"),
            f("ByteCount"),
            f("ByteOffset"),
        ],
    ),
    t(
        "NDIS_STATUS_INDICATION",
        &[
            f("Header"),
            f("SourceHandle"),
            f("PortNumber"),
            f("StatusCode"),
            f("Flags"),
            f("DestinationHandle"),
            f("RequestId"),
            f("StatusBuffer"),
            f("StatusBufferSize"),
            f("Guid"),
            f("NdisReserved"),
        ],
    ),
    // wdm.h. GENERAL_LOOKASIDE's unions (ListHead/SingleListHead,
    // AllocateMisses/AllocateHits, FreeMisses/FreeHits, Allocate/AllocateEx,
    // Free/FreeEx, LastAllocateMisses/LastAllocateHits) are anonymous
    // (DUMMYUNIONNAME is empty: clang defines _MSC_EXTENSIONS); ndis-sys names
    // each after its first member. The inlined ExAllocateFrom/ExFreeTo
    // helpers touch these fields directly (contract §5).
    t(
        "NPAGED_LOOKASIDE_LIST",
        &[
            f("L"),
            f("L.ListHead"),
            f("L.Depth"),
            f("L.MaximumDepth"),
            f("L.TotalAllocates"),
            f("L.AllocateMisses"),
            f("L.TotalFrees"),
            f("L.FreeMisses"),
            f("L.Type"),
            f("L.Tag"),
            f("L.Size"),
            f("L.Allocate"),
            f("L.Free"),
            f("L.ListEntry"),
            f("L.LastTotalAllocates"),
            f("L.LastAllocateMisses"),
            f("L.Future"),
        ],
    ),
    t("NDIS_SPIN_LOCK", &[f("SpinLock"), f("OldIrql")]),
    // wdm.h's DISPATCHER_HEADER: Type..Reserved1 are members of an anonymous
    // struct inside an anonymous union, which offsetof sees through.
    t(
        "DISPATCHER_HEADER",
        &[
            f("Type"),
            f("Signalling"),
            f("Size"),
            f("Reserved1"),
            f("SignalState"),
            f("WaitListHead"),
        ],
    ),
    t("KEVENT", &[f("Header")]),
    t("NDIS_EVENT", &[f("Event")]),
    t(
        "NET_DEVICE_PNP_EVENT",
        &[
            f("Header"),
            f("PortNumber"),
            f("DevicePnPEvent"),
            f("InformationBuffer"),
            f("InformationBufferLength"),
            f("NdisReserved"),
        ],
    ),
    t(
        "NDIS_TIMER_CHARACTERISTICS",
        &[
            f("Header"),
            f("AllocationTag"),
            f("TimerFunction"),
            f("FunctionContext"),
        ],
    ),
    // The registry configuration covmini reads its trace level with.
    t("NDIS_CONFIGURATION_OBJECT", &[f("Header"), f("NdisHandle"), f("Flags")]),
    t(
        "NDIS_CONFIGURATION_PARAMETER",
        &[f("ParameterType"), f("ParameterData")],
    ),
    // ETW (evntprov.h, which wdm.h includes; ndis.h includes ntddk.h): the
    // TraceLogging provider's descriptors. EVENT_DATA_DESCRIPTOR's Type,
    // Reserved1 and Reserved2 are members of an anonymous struct inside an
    // anonymous union, which offsetof sees through.
    t(
        "EVENT_DESCRIPTOR",
        &[
            f("Id"),
            f("Version"),
            f("Channel"),
            f("Level"),
            f("Opcode"),
            f("Task"),
            f("Keyword"),
        ],
    ),
    t(
        "EVENT_DATA_DESCRIPTOR",
        &[f("Ptr"), f("Size"), f("Type"), f("Reserved1"), f("Reserved2")],
    ),
    t("EVENT_FILTER_DESCRIPTOR", &[f("Ptr"), f("Size"), f("Type")]),
    // The protocol (CoNDIS client) side, covclient.sys's (ndis-sys
    // `protocol`). ndis.h declares them under NDIS_SUPPORT_NDIS6 alone, so
    // a miniport's view sees them as a protocol's would.
    t(
        "NDIS_PROTOCOL_DRIVER_CHARACTERISTICS",
        &[
            f("Header"),
            f("MajorNdisVersion"),
            f("MinorNdisVersion"),
            f("MajorDriverVersion"),
            f("MinorDriverVersion"),
            f("Flags"),
            f("Name"),
            f("SetOptionsHandler"),
            f("BindAdapterHandlerEx"),
            f("UnbindAdapterHandlerEx"),
            f("OpenAdapterCompleteHandlerEx"),
            f("CloseAdapterCompleteHandlerEx"),
            f("NetPnPEventHandler"),
            f("UninstallHandler"),
            f("OidRequestCompleteHandler"),
            f("StatusHandlerEx"),
            f("ReceiveNetBufferListsHandler"),
            f("SendNetBufferListsCompleteHandler"),
            f("DirectOidRequestCompleteHandler"),
        ],
    ),
    t(
        "NDIS_PROTOCOL_CO_CHARACTERISTICS",
        &[
            f("Header"),
            f("Flags"),
            f("CoStatusHandlerEx"),
            f("CoAfRegisterNotifyHandler"),
            f("CoReceiveNetBufferListsHandler"),
            f("CoSendNetBufferListsCompleteHandler"),
        ],
    ),
    t(
        "NDIS_CO_CLIENT_OPTIONAL_HANDLERS",
        &[
            f("Header"),
            f("Reserved"),
            f("ClCreateVcHandler"),
            f("ClDeleteVcHandler"),
            f("ClOidRequestHandler"),
            f("ClOidRequestCompleteHandler"),
            f("ClOpenAfCompleteHandlerEx"),
            f("ClCloseAfCompleteHandler"),
            f("ClRegisterSapCompleteHandler"),
            f("ClDeregisterSapCompleteHandler"),
            f("ClMakeCallCompleteHandler"),
            f("ClModifyCallQoSCompleteHandler"),
            f("ClCloseCallCompleteHandler"),
            f("ClAddPartyCompleteHandler"),
            f("ClDropPartyCompleteHandler"),
            f("ClIncomingCallHandler"),
            f("ClIncomingCallQoSChangeHandler"),
            f("ClIncomingCloseCallHandler"),
            f("ClIncomingDropPartyHandler"),
            f("ClCallConnectedHandler"),
            f("ClNotifyCloseAfHandler"),
        ],
    ),
    // Every NDIS 6.30 member; ndis.h adds none after 6.30.
    t(
        "NDIS_BIND_PARAMETERS",
        &[
            f("Header"),
            f("ProtocolSection"),
            f("AdapterName"),
            f("PhysicalDeviceObject"),
            f("MediaType"),
            f("MtuSize"),
            f("MaxXmitLinkSpeed"),
            f("XmitLinkSpeed"),
            f("MaxRcvLinkSpeed"),
            f("RcvLinkSpeed"),
            f("MediaConnectState"),
            f("MediaDuplexState"),
            f("LookaheadSize"),
            f("PowerManagementCapabilities"),
            f("SupportedPacketFilters"),
            f("MaxMulticastListSize"),
            f("MacAddressLength"),
            f("CurrentMacAddress"),
            f("PhysicalMediumType"),
            f("RcvScaleCapabilities"),
            f("BoundIfNetluid"),
            f("BoundIfIndex"),
            f("LowestIfNetluid"),
            f("LowestIfIndex"),
            f("AccessType"),
            f("DirectionType"),
            f("ConnectionType"),
            f("IfType"),
            f("IfConnectorPresent"),
            f("ActivePorts"),
            f("DataBackFillSize"),
            f("ContextBackFillSize"),
            f("MacOptions"),
            f("CompartmentId"),
            f("DefaultOffloadConfiguration"),
            f("TcpConnectionOffloadCapabilities"),
            f("BoundAdapterName"),
            f("HDSplitCurrentConfig"),
            f("ReceiveFilterCapabilities"),
            f("PowerManagementCapabilitiesEx"),
            f("NicSwitchCapabilities"),
            f("NDKEnabled"),
            f("NDKCapabilities"),
            f("SriovCapabilities"),
            f("NicSwitchArray"),
        ],
    ),
    t(
        "NDIS_OPEN_PARAMETERS",
        &[
            f("Header"),
            f("AdapterName"),
            f("MediumArray"),
            f("MediumArraySize"),
            f("SelectedMediumIndex"),
            f("FrameTypeArray"),
            f("FrameTypeArraySize"),
        ],
    ),
    t(
        "NDIS_PROTOCOL_PAUSE_PARAMETERS",
        &[f("Header"), f("Flags"), f("PauseReason")],
    ),
    t(
        "NDIS_PROTOCOL_RESTART_PARAMETERS",
        &[
            f("Header"),
            f("FilterModuleNameBuffer"),
            f("FilterModuleNameBufferLength"),
            f("RestartAttributes"),
            f("BoundIfIndex"),
            f("BoundIfNetluid"),
            f("Flags"),
        ],
    ),
    t(
        "NET_PNP_EVENT",
        &[
            f("NetEvent"),
            f("Buffer"),
            f("BufferLength"),
            f("NdisReserved"),
            f("TransportReserved"),
            f("TdiReserved"),
            f("TdiClientReserved"),
        ],
    ),
    // Revision 2: SwitchId and VPortId exist under NDIS_SUPPORT_NDIS650.
    t680(
        "NET_PNP_EVENT_NOTIFICATION",
        &[
            f("Header"),
            f("PortNumber"),
            f("NetPnPEvent"),
            f("Flags"),
            f("SwitchId"),
            f("VPortId"),
        ],
    ),
    // The control device (ndis-sys `device`): ndis.h's attributes and
    // wdm.h's IRP, IO_STACK_LOCATION and DRIVER_OBJECT (ndis.h includes
    // ntddk.h, which includes wdm.h). ndis-sys flattens the unions it reads
    // (`AssociatedIrp.SystemBuffer`, `Tail.Overlay.*`) to `_`-joined names.
    t(
        "NDIS_DEVICE_OBJECT_ATTRIBUTES",
        &[
            f("Header"),
            f("DeviceName"),
            f("SymbolicName"),
            f("MajorFunctions"),
            f("ExtensionSize"),
            f("DefaultSDDLString"),
            f("DeviceClassGuid"),
        ],
    ),
    t(
        "IO_STATUS_BLOCK",
        &[renamed("Status", "StatusOrPointer"), f("Information")],
    ),
    t(
        "IRP",
        &[
            f("Type"),
            f("Size"),
            f("MdlAddress"),
            f("Flags"),
            renamed("AssociatedIrp.SystemBuffer", "AssociatedIrp_SystemBuffer"),
            f("ThreadListEntry"),
            f("IoStatus"),
            f("RequestorMode"),
            f("PendingReturned"),
            f("StackCount"),
            f("CurrentLocation"),
            f("Cancel"),
            f("CancelIrql"),
            f("ApcEnvironment"),
            f("AllocationFlags"),
            f("UserIosb"),
            f("UserEvent"),
            f("Overlay"),
            f("CancelRoutine"),
            f("UserBuffer"),
            renamed("Tail.Overlay.DriverContext", "Tail_Overlay_DriverContext"),
            renamed("Tail.Overlay.Thread", "Tail_Overlay_Thread"),
            renamed("Tail.Overlay.AuxiliaryBuffer", "Tail_Overlay_AuxiliaryBuffer"),
            renamed("Tail.Overlay.ListEntry", "Tail_Overlay_ListEntry"),
            renamed("Tail.Overlay.CurrentStackLocation", "Tail_Overlay_CurrentStackLocation"),
            renamed("Tail.Overlay.OriginalFileObject", "Tail_Overlay_OriginalFileObject"),
        ],
    ),
    t(
        "IO_STACK_LOCATION",
        &[
            f("MajorFunction"),
            f("MinorFunction"),
            f("Flags"),
            f("Control"),
            f("Parameters"),
            f("Parameters.DeviceIoControl.OutputBufferLength"),
            f("Parameters.DeviceIoControl.InputBufferLength"),
            f("Parameters.DeviceIoControl.IoControlCode"),
            f("Parameters.DeviceIoControl.Type3InputBuffer"),
            f("DeviceObject"),
            f("FileObject"),
            f("CompletionRoutine"),
            f("Context"),
        ],
    ),
    // ndis-sys's DRIVER_OBJECT is opaque (only handled by pointer); the
    // fields a driver writes are DRIVER_OBJECT_FIELDS, its whole layout.
    t_as(
        "DRIVER_OBJECT",
        "DRIVER_OBJECT_FIELDS",
        &[
            f("Type"),
            f("Size"),
            f("DeviceObject"),
            f("Flags"),
            f("DriverStart"),
            f("DriverSize"),
            f("DriverSection"),
            f("DriverExtension"),
            f("DriverName"),
            f("HardwareDatabase"),
            f("FastIoDispatch"),
            f("DriverInit"),
            f("DriverStartIo"),
            f("DriverUnload"),
            f("MajorFunction"),
        ],
    ),
];

/// Constants of `ndis-sys` that the WDK defines too, chiefly the ones
/// `ndis-sys` marks [I] (inferred) or computes [C]: the sizes NDIS checks
/// in `Header.Size`, an object type and the NBL info indices.
pub(crate) const CONSTANTS: &[ConstCheck] = &[
    c("NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS"),
    c("NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_1"),
    c("NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2"),
    c680("NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_3"),
    c("NDIS_SIZEOF_MINIPORT_CO_CHARACTERISTICS_REVISION_1"),
    c("NDIS_SIZEOF_CO_CALL_MANAGER_OPTIONAL_HANDLERS_REVISION_1"),
    c("NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1"),
    c("NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_2"),
    c("NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_1"),
    c("NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2"),
    c("NDIS_SIZEOF_MINIPORT_INIT_PARAMETERS_REVISION_1"),
    c("NDIS_SIZEOF_MINIPORT_PAUSE_PARAMETERS_REVISION_1"),
    c("NDIS_SIZEOF_MINIPORT_RESTART_PARAMETERS_REVISION_1"),
    c("NDIS_SIZEOF_OID_REQUEST_REVISION_1"),
    c680("NDIS_SIZEOF_OID_REQUEST_REVISION_2"),
    c("NDIS_SIZEOF_STATUS_INDICATION_REVISION_1"),
    c("NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1"),
    c("NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT"),
    c("NDIS_SIZEOF_CONFIGURATION_OBJECT_REVISION_1"),
    c("MaxNetBufferListInfo"),
    c("NetBufferListCancelId"),
    c("MediaSpecificInformation"),
    // qos.h (included by ndis.h for FLOWSPEC): ndis-sys once had
    // SERVICETYPE_NOCHANGE = 0x8000 where qos.h has 6.
    c("SERVICETYPE_NOTRAFFIC"),
    c("SERVICETYPE_BESTEFFORT"),
    c("SERVICETYPE_CONTROLLEDLOAD"),
    c("SERVICETYPE_GUARANTEED"),
    c("SERVICETYPE_NETWORK_UNAVAILABLE"),
    c("SERVICETYPE_GENERAL_INFORMATION"),
    c("SERVICETYPE_NOCHANGE"),
    c("SERVICETYPE_NONCONFORMING"),
    c("SERVICETYPE_NETWORK_CONTROL"),
    c("SERVICETYPE_QUALITATIVE"),
    // evntprov.h: what covmini's ETW provider passes and receives.
    c("EVENT_DATA_DESCRIPTOR_TYPE_NONE"),
    c("EVENT_DATA_DESCRIPTOR_TYPE_EVENT_METADATA"),
    c("EVENT_DATA_DESCRIPTOR_TYPE_PROVIDER_METADATA"),
    c("EVENT_CONTROL_CODE_DISABLE_PROVIDER"),
    c("EVENT_CONTROL_CODE_ENABLE_PROVIDER"),
    c("EVENT_CONTROL_CODE_CAPTURE_STATE"),
    c("EventProviderSetTraits"),
    // The protocol side and the control device (ndis-sys `protocol`, `device`).
    c("NDIS_OBJECT_TYPE_DEVICE_OBJECT_ATTRIBUTES"),
    c("NDIS_OBJECT_TYPE_BIND_PARAMETERS"),
    c("NDIS_OBJECT_TYPE_OPEN_PARAMETERS"),
    c("NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS"),
    c("NDIS_OBJECT_TYPE_PROTOCOL_RESTART_PARAMETERS"),
    c("NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1"),
    c("NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_2"),
    c("NDIS_SIZEOF_PROTOCOL_CO_CHARACTERISTICS_REVISION_1"),
    c("NDIS_SIZEOF_CO_CLIENT_OPTIONAL_HANDLERS_REVISION_1"),
    c("NDIS_SIZEOF_BIND_PARAMETERS_REVISION_1"),
    c("NDIS_SIZEOF_BIND_PARAMETERS_REVISION_2"),
    c("NDIS_SIZEOF_BIND_PARAMETERS_REVISION_3"),
    c("NDIS_SIZEOF_BIND_PARAMETERS_REVISION_4"),
    c("NDIS_SIZEOF_OPEN_PARAMETERS_REVISION_1"),
    c("NDIS_SIZEOF_PROTOCOL_PAUSE_PARAMETERS_REVISION_1"),
    c("NDIS_SIZEOF_PROTOCOL_RESTART_PARAMETERS_REVISION_1"),
    c("NDIS_SIZEOF_NET_PNP_EVENT_NOTIFICATION_REVISION_1"),
    c680("NDIS_SIZEOF_NET_PNP_EVENT_NOTIFICATION_REVISION_2"),
    c("NDIS_SIZEOF_DEVICE_OBJECT_ATTRIBUTES_REVISION_1"),
    c("IRP_MJ_MAXIMUM_FUNCTION"),
];

/// Checks that the table is well formed: every name is a C identifier (or a
/// dotted member designator), no type, field or constant appears twice, and
/// no name contains `__` (generated C identifiers join names with `__`).
///
/// # Errors
///
/// A description of the first malformed entry.
pub(crate) fn validate() -> Result<(), String> {
    let mut types = Vec::new();
    for check in TYPES {
        ident(check.ty)?;
        ident(check.rust_ty)?;
        if types.contains(&check.ty) {
            return Err(format!("layout table: type {} is listed twice", check.ty));
        }
        types.push(check.ty);
        if check.fields.is_empty() {
            return Err(format!("layout table: type {} has no fields", check.ty));
        }
        let mut fields = Vec::new();
        for field in check.fields {
            designator(field.c)?;
            designator(field.rust)?;
            if fields.contains(&field.c) {
                return Err(format!("layout table: {}.{} is listed twice", check.ty, field.c));
            }
            fields.push(field.c);
        }
    }
    let mut constants = Vec::new();
    for constant in CONSTANTS {
        ident(constant.rust)?;
        ident(constant.c)?;
        if constants.contains(&constant.c) {
            return Err(format!("layout table: constant {} is listed twice", constant.c));
        }
        constants.push(constant.c);
    }
    Ok(())
}

/// A C identifier without `__`.
fn ident(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let well_formed = chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        && !name.contains("__");
    if well_formed {
        Ok(())
    } else {
        Err(format!("layout table: `{name}` is not a plain C identifier"))
    }
}

/// Identifiers joined by `.`.
fn designator(path: &str) -> Result<(), String> {
    path.split('.').try_for_each(ident)
}

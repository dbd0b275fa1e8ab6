//! The miniport side of registration: driver characteristics (revisions
//! 1–3), CoNDIS miniport characteristics, adapter registration and general
//! attributes, the parameter blocks the handlers receive, and the handler
//! types (`MINIPORT_*`).
//!
//! Sources: contract §1.1–§1.3 and §4.1 \[H\]/\[B\]; parameter blocks from the
//! WDK field lists \[H\] with x64 offsets computed \[C\] where marked.

use crate::co::PCO_CALL_PARAMETERS;
use crate::nbl::PNET_BUFFER_LIST;
use crate::object::NDIS_OBJECT_HEADER;
use crate::oid::PNDIS_OID_REQUEST;
use crate::types::*;

ndis_abi_fn_types! {
    pub type MINIPORT_SET_OPTIONS = fn(NdisDriverHandle: NDIS_HANDLE, DriverContext: NDIS_HANDLE) -> NDIS_STATUS;
    pub type MINIPORT_INITIALIZE = fn(NdisMiniportHandle: NDIS_HANDLE, MiniportDriverContext: NDIS_HANDLE, MiniportInitParameters: PNDIS_MINIPORT_INIT_PARAMETERS) -> NDIS_STATUS;
    pub type MINIPORT_HALT = fn(MiniportAdapterContext: NDIS_HANDLE, HaltAction: NDIS_HALT_ACTION);
    pub type MINIPORT_UNLOAD = fn(DriverObject: PDRIVER_OBJECT);
    pub type MINIPORT_PAUSE = fn(MiniportAdapterContext: NDIS_HANDLE, PauseParameters: PNDIS_MINIPORT_PAUSE_PARAMETERS) -> NDIS_STATUS;
    pub type MINIPORT_RESTART = fn(MiniportAdapterContext: NDIS_HANDLE, RestartParameters: PNDIS_MINIPORT_RESTART_PARAMETERS) -> NDIS_STATUS;
    pub type MINIPORT_OID_REQUEST = fn(MiniportAdapterContext: NDIS_HANDLE, OidRequest: PNDIS_OID_REQUEST) -> NDIS_STATUS;
    pub type MINIPORT_SEND_NET_BUFFER_LISTS = fn(MiniportAdapterContext: NDIS_HANDLE, NetBufferList: PNET_BUFFER_LIST, PortNumber: NDIS_PORT_NUMBER, SendFlags: ULONG);
    pub type MINIPORT_RETURN_NET_BUFFER_LISTS = fn(MiniportAdapterContext: NDIS_HANDLE, NetBufferLists: PNET_BUFFER_LIST, ReturnFlags: ULONG);
    pub type MINIPORT_CANCEL_SEND = fn(MiniportAdapterContext: NDIS_HANDLE, CancelId: PVOID);
    pub type MINIPORT_CHECK_FOR_HANG = fn(MiniportAdapterContext: NDIS_HANDLE) -> BOOLEAN;
    pub type MINIPORT_RESET = fn(MiniportAdapterContext: NDIS_HANDLE, AddressingReset: *mut BOOLEAN) -> NDIS_STATUS;
    pub type MINIPORT_DEVICE_PNP_EVENT_NOTIFY = fn(MiniportAdapterContext: NDIS_HANDLE, NetDevicePnPEvent: PNET_DEVICE_PNP_EVENT);
    pub type MINIPORT_SHUTDOWN = fn(MiniportAdapterContext: NDIS_HANDLE, ShutdownAction: NDIS_SHUTDOWN_ACTION);
    pub type MINIPORT_CANCEL_OID_REQUEST = fn(MiniportAdapterContext: NDIS_HANDLE, RequestId: PVOID);
    pub type MINIPORT_DIRECT_OID_REQUEST = fn(MiniportAdapterContext: NDIS_HANDLE, OidRequest: PNDIS_OID_REQUEST) -> NDIS_STATUS;
    pub type MINIPORT_CANCEL_DIRECT_OID_REQUEST = fn(MiniportAdapterContext: NDIS_HANDLE, RequestId: PVOID);
    pub type MINIPORT_SYNCHRONOUS_OID_REQUEST = fn(MiniportAdapterContext: NDIS_HANDLE, OidRequest: PNDIS_OID_REQUEST) -> NDIS_STATUS;

    pub type MINIPORT_CO_CREATE_VC = fn(MiniportAdapterContext: NDIS_HANDLE, NdisVcHandle: NDIS_HANDLE, MiniportVcContext: PNDIS_HANDLE) -> NDIS_STATUS;
    pub type MINIPORT_CO_DELETE_VC = fn(MiniportVcContext: NDIS_HANDLE) -> NDIS_STATUS;
    pub type MINIPORT_CO_ACTIVATE_VC = fn(MiniportVcContext: NDIS_HANDLE, CallParameters: PCO_CALL_PARAMETERS) -> NDIS_STATUS;
    pub type MINIPORT_CO_DEACTIVATE_VC = fn(MiniportVcContext: NDIS_HANDLE) -> NDIS_STATUS;
    pub type MINIPORT_CO_SEND_NET_BUFFER_LISTS = fn(MiniportVcContext: NDIS_HANDLE, NetBufferLists: PNET_BUFFER_LIST, SendFlags: ULONG);
    pub type MINIPORT_CO_OID_REQUEST = fn(MiniportAdapterContext: NDIS_HANDLE, MiniportVcContext: NDIS_HANDLE, NdisRequest: PNDIS_OID_REQUEST) -> NDIS_STATUS;
}

/// `NDIS_MINIPORT_DRIVER_CHARACTERISTICS` \[H\] (field order: contract §1.1).
///
/// Revision 1 (NDIS 6.0) runs through `CancelOidRequestHandler` (136 bytes on
/// x64), revision 2 (6.1+) through `CancelDirectOidRequestHandler` (152), and
/// revision 3 (6.80+) through `SynchronousOidRequestHandler` (160) \[H\].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
    pub Header: NDIS_OBJECT_HEADER,
    pub MajorNdisVersion: UCHAR,
    pub MinorNdisVersion: UCHAR,
    pub MajorDriverVersion: UCHAR,
    pub MinorDriverVersion: UCHAR,
    pub Flags: ULONG,
    pub SetOptionsHandler: Option<MINIPORT_SET_OPTIONS>,
    pub InitializeHandlerEx: Option<MINIPORT_INITIALIZE>,
    pub HaltHandlerEx: Option<MINIPORT_HALT>,
    pub UnloadHandler: Option<MINIPORT_UNLOAD>,
    pub PauseHandler: Option<MINIPORT_PAUSE>,
    pub RestartHandler: Option<MINIPORT_RESTART>,
    pub OidRequestHandler: Option<MINIPORT_OID_REQUEST>,
    pub SendNetBufferListsHandler: Option<MINIPORT_SEND_NET_BUFFER_LISTS>,
    pub ReturnNetBufferListsHandler: Option<MINIPORT_RETURN_NET_BUFFER_LISTS>,
    pub CancelSendHandler: Option<MINIPORT_CANCEL_SEND>,
    pub CheckForHangHandlerEx: Option<MINIPORT_CHECK_FOR_HANG>,
    pub ResetHandlerEx: Option<MINIPORT_RESET>,
    pub DevicePnPEventNotifyHandler: Option<MINIPORT_DEVICE_PNP_EVENT_NOTIFY>,
    pub ShutdownHandlerEx: Option<MINIPORT_SHUTDOWN>,
    pub CancelOidRequestHandler: Option<MINIPORT_CANCEL_OID_REQUEST>,
    pub DirectOidRequestHandler: Option<MINIPORT_DIRECT_OID_REQUEST>,
    pub CancelDirectOidRequestHandler: Option<MINIPORT_CANCEL_DIRECT_OID_REQUEST>,
    pub SynchronousOidRequestHandler: Option<MINIPORT_SYNCHRONOUS_OID_REQUEST>,
}
pub type PNDIS_MINIPORT_DRIVER_CHARACTERISTICS = *mut NDIS_MINIPORT_DRIVER_CHARACTERISTICS;
assert_layout!(NDIS_MINIPORT_DRIVER_CHARACTERISTICS, size = 160, {
    Header: 0, MajorNdisVersion: 4, MinorNdisVersion: 5, MajorDriverVersion: 6,
    MinorDriverVersion: 7, Flags: 8, SetOptionsHandler: 16, InitializeHandlerEx: 24,
    HaltHandlerEx: 32, UnloadHandler: 40, PauseHandler: 48, RestartHandler: 56,
    OidRequestHandler: 64, SendNetBufferListsHandler: 72, ReturnNetBufferListsHandler: 80,
    CancelSendHandler: 88, CheckForHangHandlerEx: 96, ResetHandlerEx: 104,
    DevicePnPEventNotifyHandler: 112, ShutdownHandlerEx: 120, CancelOidRequestHandler: 128,
    DirectOidRequestHandler: 136, CancelDirectOidRequestHandler: 144,
    SynchronousOidRequestHandler: 152,
});
/// x64 `NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_n` \[H\].
pub const NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_1: usize = 136;
pub const NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2: usize = 152;
pub const NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_3: usize = 160;
pub const NDIS_INTERMEDIATE_DRIVER: ULONG = 0x0000_0001;
pub const NDIS_WDM_DRIVER: ULONG = 0x0000_0002;

/// `NDIS_MINIPORT_CO_CHARACTERISTICS` \[H\]: 56 bytes on x64, copied by NDIS
/// without a Revision/Size check \[B\].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_MINIPORT_CO_CHARACTERISTICS {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: ULONG,
    pub CoCreateVcHandler: Option<MINIPORT_CO_CREATE_VC>,
    pub CoDeleteVcHandler: Option<MINIPORT_CO_DELETE_VC>,
    pub CoActivateVcHandler: Option<MINIPORT_CO_ACTIVATE_VC>,
    pub CoDeactivateVcHandler: Option<MINIPORT_CO_DEACTIVATE_VC>,
    pub CoSendNetBufferListsHandler: Option<MINIPORT_CO_SEND_NET_BUFFER_LISTS>,
    pub CoOidRequestHandler: Option<MINIPORT_CO_OID_REQUEST>,
}
pub type PNDIS_MINIPORT_CO_CHARACTERISTICS = *mut NDIS_MINIPORT_CO_CHARACTERISTICS;
assert_layout!(NDIS_MINIPORT_CO_CHARACTERISTICS, size = 56, {
    Header: 0, Flags: 4, CoCreateVcHandler: 8, CoDeleteVcHandler: 16,
    CoActivateVcHandler: 24, CoDeactivateVcHandler: 32,
    CoSendNetBufferListsHandler: 40, CoOidRequestHandler: 48,
});
pub const NDIS_SIZEOF_MINIPORT_CO_CHARACTERISTICS_REVISION_1: usize = 56;

/// `NDIS_DRIVER_OPTIONAL_HANDLERS`: what `NdisSetOptionalHandlers` takes. It
/// is a header-first union in the WDK; NDIS dispatches on `Header.Type` \[H\].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_DRIVER_OPTIONAL_HANDLERS {
    pub Header: NDIS_OBJECT_HEADER,
}
pub type PNDIS_DRIVER_OPTIONAL_HANDLERS = *mut NDIS_DRIVER_OPTIONAL_HANDLERS;

/// `NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES` [H/D]; offsets 0, 8, 16,
/// 20, 24 on x64 \[C from the WDK 10.0.17763 ndis.h field list\]; sizeof 32 \[C\].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES {
    pub Header: NDIS_OBJECT_HEADER,
    pub MiniportAdapterContext: NDIS_HANDLE,
    pub AttributeFlags: ULONG,
    pub CheckForHangTimeInSeconds: UINT,
    pub InterfaceType: NDIS_INTERFACE_TYPE,
}
assert_layout!(NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES, size = 32, {
    Header: 0, MiniportAdapterContext: 8, AttributeFlags: 16,
    CheckForHangTimeInSeconds: 20, InterfaceType: 24,
});
/// `RTL_SIZEOF_THROUGH_FIELD(..., InterfaceType)` = 28 for both revisions:
/// revision 2 adds flags, no field \[H: WDK 10.0.17763 ndis.h\].
pub const NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1: usize = 28;
pub const NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_2: usize = 28;

/// `NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES` \[H field list, B offsets;
/// contract §4.1]. Revision 1 runs through AutoNegotiationFlags (216),
/// revision 2 through PowerManagementCapabilitiesEx (224).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: ULONG,
    pub MediaType: NDIS_MEDIUM,
    pub PhysicalMediumType: NDIS_PHYSICAL_MEDIUM,
    pub MtuSize: ULONG,
    pub MaxXmitLinkSpeed: ULONG64,
    pub XmitLinkSpeed: ULONG64,
    pub MaxRcvLinkSpeed: ULONG64,
    pub RcvLinkSpeed: ULONG64,
    pub MediaConnectState: NDIS_MEDIA_CONNECT_STATE,
    pub MediaDuplexState: NDIS_MEDIA_DUPLEX_STATE,
    pub LookaheadSize: ULONG,
    pub PowerManagementCapabilities: PVOID,
    pub MacOptions: ULONG,
    pub SupportedPacketFilters: ULONG,
    pub MaxMulticastListSize: ULONG,
    pub MacAddressLength: USHORT,
    pub PermanentMacAddress: [UCHAR; NDIS_MAX_PHYS_ADDRESS_LENGTH],
    pub CurrentMacAddress: [UCHAR; NDIS_MAX_PHYS_ADDRESS_LENGTH],
    pub RecvScaleCapabilities: PVOID,
    pub AccessType: NET_IF_ACCESS_TYPE,
    pub DirectionType: NET_IF_DIRECTION_TYPE,
    pub ConnectionType: NET_IF_CONNECTION_TYPE,
    pub IfType: NET_IFTYPE,
    pub IfConnectorPresent: BOOLEAN,
    pub SupportedStatistics: ULONG,
    pub SupportedPauseFunctions: ULONG,
    pub DataBackFillSize: ULONG,
    pub ContextBackFillSize: ULONG,
    pub SupportedOidList: *mut crate::types::NDIS_OID,
    pub SupportedOidListLength: ULONG,
    pub AutoNegotiationFlags: ULONG,
    pub PowerManagementCapabilitiesEx: PVOID,
}
assert_layout!(NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES, size = 224, {
    Header: 0, Flags: 4, MediaType: 8, PhysicalMediumType: 12, MtuSize: 16,
    MaxXmitLinkSpeed: 24, XmitLinkSpeed: 32, MaxRcvLinkSpeed: 40, RcvLinkSpeed: 48,
    MediaConnectState: 56, MediaDuplexState: 60, LookaheadSize: 64,
    PowerManagementCapabilities: 72, MacOptions: 80, SupportedPacketFilters: 84,
    MaxMulticastListSize: 88, MacAddressLength: 92, PermanentMacAddress: 94,
    CurrentMacAddress: 126, RecvScaleCapabilities: 160, AccessType: 168,
    DirectionType: 172, ConnectionType: 176, IfType: 180, IfConnectorPresent: 182,
    SupportedStatistics: 184, SupportedPauseFunctions: 188, DataBackFillSize: 192,
    ContextBackFillSize: 196, SupportedOidList: 200, SupportedOidListLength: 208,
    AutoNegotiationFlags: 212, PowerManagementCapabilitiesEx: 216,
});
pub const NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_1: usize = 216;
pub const NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2: usize = 224;
/// `NDIS_MAX_PHYS_ADDRESS_LENGTH` = `IF_MAX_PHYS_ADDRESS_LENGTH` = 32 \[H\].
pub const NDIS_MAX_PHYS_ADDRESS_LENGTH: usize = 32;

/// `NDIS_MINIPORT_ADAPTER_ATTRIBUTES`: a header-first union keyed on
/// `Header.Type` \[H\]; `NdisMSetMiniportAttributes` takes a pointer to it.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_MINIPORT_ADAPTER_ATTRIBUTES {
    pub Header: NDIS_OBJECT_HEADER,
}
pub type PNDIS_MINIPORT_ADAPTER_ATTRIBUTES = *mut NDIS_MINIPORT_ADAPTER_ATTRIBUTES;

// NDIS_MINIPORT_ATTRIBUTES_* (contract §4.2) [H].
pub const NDIS_MINIPORT_ATTRIBUTES_HARDWARE_DEVICE: ULONG = 0x0000_0001;
pub const NDIS_MINIPORT_ATTRIBUTES_NDIS_WDM: ULONG = 0x0000_0002;
pub const NDIS_MINIPORT_ATTRIBUTES_SURPRISE_REMOVE_OK: ULONG = 0x0000_0004;
pub const NDIS_MINIPORT_ATTRIBUTES_NOT_CO_NDIS: ULONG = 0x0000_0008;
pub const NDIS_MINIPORT_ATTRIBUTES_DO_NOT_BIND_TO_ALL_CO: ULONG = 0x0000_0010;
pub const NDIS_MINIPORT_ATTRIBUTES_NO_HALT_ON_SUSPEND: ULONG = 0x0000_0020;
pub const NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER: ULONG = 0x0000_0040;
pub const NDIS_MINIPORT_ATTRIBUTES_CONTROLS_DEFAULT_PORT: ULONG = 0x0000_0080;
pub const NDIS_MINIPORT_ATTRIBUTES_NO_PAUSE_ON_SUSPEND: ULONG = 0x0000_0100;
pub const NDIS_MINIPORT_ATTRIBUTES_NO_OID_INTERCEPT_ON_NONDEFAULT_PORTS: ULONG = 0x0000_0200;
pub const NDIS_MINIPORT_ATTRIBUTES_REGISTER_BUGCHECK_CALLBACK: ULONG = 0x0000_0400;

// NDIS_MEDIUM (contract §4.2) [H].
pub const NdisMedium802_3: NDIS_MEDIUM = 0;
pub const NdisMediumWan: NDIS_MEDIUM = 3;
pub const NdisMediumAtm: NDIS_MEDIUM = 8;
pub const NdisMediumCoWan: NDIS_MEDIUM = 12;
pub const NdisMediumLoopback: NDIS_MEDIUM = 17;

/// `NdisInterfaceInternal` (NDIS_INTERFACE_TYPE) \[H: first enumerator = 0\].
pub const NdisInterfaceInternal: NDIS_INTERFACE_TYPE = 0;
/// `NdisPhysicalMediumUnspecified` \[H: first enumerator = 0\].
pub const NdisPhysicalMediumUnspecified: NDIS_PHYSICAL_MEDIUM = 0;
/// NDIS_MEDIA_CONNECT_STATE: Unknown 0, Connected 1, Disconnected 2 \[H\].
pub const MediaConnectStateUnknown: NDIS_MEDIA_CONNECT_STATE = 0;
pub const MediaConnectStateConnected: NDIS_MEDIA_CONNECT_STATE = 1;
pub const MediaConnectStateDisconnected: NDIS_MEDIA_CONNECT_STATE = 2;
/// NDIS_MEDIA_DUPLEX_STATE: Unknown 0, Half 1, Full 2 \[H\].
pub const MediaDuplexStateUnknown: NDIS_MEDIA_DUPLEX_STATE = 0;
pub const MediaDuplexStateHalf: NDIS_MEDIA_DUPLEX_STATE = 1;
pub const MediaDuplexStateFull: NDIS_MEDIA_DUPLEX_STATE = 2;
/// NET_IF_ACCESS_TYPE: LOOPBACK 1, BROADCAST 2, POINT_TO_POINT 3, POINT_TO_MULTI_POINT 4 \[H\].
pub const NET_IF_ACCESS_LOOPBACK: NET_IF_ACCESS_TYPE = 1;
pub const NET_IF_ACCESS_BROADCAST: NET_IF_ACCESS_TYPE = 2;
pub const NET_IF_ACCESS_POINT_TO_POINT: NET_IF_ACCESS_TYPE = 3;
pub const NET_IF_ACCESS_POINT_TO_MULTI_POINT: NET_IF_ACCESS_TYPE = 4;
/// NET_IF_DIRECTION_TYPE: SENDRECEIVE 0 \[H\].
pub const NET_IF_DIRECTION_SENDRECEIVE: NET_IF_DIRECTION_TYPE = 0;
/// NET_IF_CONNECTION_TYPE: DEDICATED 1, PASSIVE 2, DEMAND 3 \[H\].
pub const NET_IF_CONNECTION_DEDICATED: NET_IF_CONNECTION_TYPE = 1;
pub const NET_IF_CONNECTION_PASSIVE: NET_IF_CONNECTION_TYPE = 2;
pub const NET_IF_CONNECTION_DEMAND: NET_IF_CONNECTION_TYPE = 3;
/// IANA ifType values used by WAN miniports (ipifcons.h) \[H\].
pub const IF_TYPE_OTHER: NET_IFTYPE = 1;
pub const IF_TYPE_PPP: NET_IFTYPE = 23;
pub const IF_TYPE_TUNNEL: NET_IFTYPE = 131;
/// `NDIS_LINK_SPEED_UNKNOWN` \[H\].
pub const NDIS_LINK_SPEED_UNKNOWN: ULONG64 = u64::MAX;
/// `NdisPauseFunctionsUnsupported` \[H: first enumerator = 0\].
pub const NdisPauseFunctionsUnsupported: NDIS_SUPPORTED_PAUSE_FUNCTIONS = 0;

/// `NDIS_MINIPORT_INIT_PARAMETERS` \[H: WDK 10.0.17763 ndis.h; the only
/// revision]; x64 offsets \[C\].
/// covmini reads only the header; the rest is declared so the emulator can
/// build a faithful block.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_MINIPORT_INIT_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: ULONG,
    pub AllocatedResources: PVOID,
    pub IMDeviceInstanceContext: NDIS_HANDLE,
    pub MiniportAddDeviceContext: NDIS_HANDLE,
    pub IfIndex: NET_IFINDEX,
    pub NetLuid: NET_LUID,
    pub DefaultPortAuthStates: PVOID,
    pub PciDeviceCustomProperties: PVOID,
}
pub type PNDIS_MINIPORT_INIT_PARAMETERS = *mut NDIS_MINIPORT_INIT_PARAMETERS;
assert_layout!(NDIS_MINIPORT_INIT_PARAMETERS, size = 64, {
    Header: 0, Flags: 4, AllocatedResources: 8, IMDeviceInstanceContext: 16,
    MiniportAddDeviceContext: 24, IfIndex: 32, NetLuid: 40,
    DefaultPortAuthStates: 48, PciDeviceCustomProperties: 56,
});
/// Through PciDeviceCustomProperties \[C\]. (The WDK macro is spelled
/// `NDIS_SIZEOF_MINIPORT_INIT_PARAMETER_REVISION_1`, singular \[H\].)
pub const NDIS_SIZEOF_MINIPORT_INIT_PARAMETERS_REVISION_1: usize = 64;

/// `NDIS_MINIPORT_PAUSE_PARAMETERS { Header; ULONG Flags; ULONG PauseReason; }`
/// \[H: WDK 10.0.17763 ndis.h\]; 12 bytes \[C\]; Header.Type is
/// NDIS_OBJECT_TYPE_DEFAULT \[D\].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_MINIPORT_PAUSE_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: ULONG,
    pub PauseReason: ULONG,
}
pub type PNDIS_MINIPORT_PAUSE_PARAMETERS = *mut NDIS_MINIPORT_PAUSE_PARAMETERS;
assert_layout!(NDIS_MINIPORT_PAUSE_PARAMETERS, size = 12, { Header: 0, Flags: 4, PauseReason: 8 });
pub const NDIS_SIZEOF_MINIPORT_PAUSE_PARAMETERS_REVISION_1: usize = 12;
pub const NDIS_MINIPORT_PAUSE_PARAMETERS_REVISION_1: UCHAR = 1;

/// `NDIS_MINIPORT_RESTART_PARAMETERS { Header; PNDIS_RESTART_ATTRIBUTES
/// RestartAttributes; ULONG Flags; }` \[H: WDK 10.0.17763 ndis.h\]; x64 offsets
/// \[C\]. NDIS sets Header.Type to NDIS_OBJECT_TYPE_DEFAULT \[D\]; there is no
/// object type of its own.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_MINIPORT_RESTART_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub RestartAttributes: PVOID,
    pub Flags: ULONG,
}
pub type PNDIS_MINIPORT_RESTART_PARAMETERS = *mut NDIS_MINIPORT_RESTART_PARAMETERS;
assert_layout!(NDIS_MINIPORT_RESTART_PARAMETERS, size = 24, { Header: 0, RestartAttributes: 8, Flags: 16 });
/// Through Flags: 20, less than sizeof (24) \[C from the \[H\] field list].
pub const NDIS_SIZEOF_MINIPORT_RESTART_PARAMETERS_REVISION_1: usize = 20;
pub const NDIS_MINIPORT_RESTART_PARAMETERS_REVISION_1: UCHAR = 1;

/// `NET_DEVICE_PNP_EVENT` \[H: WDK 10.0.17763 ndis.h\]; x64 offsets \[C,
/// matching the PDB type dump of the 1809 x64 ndis.sys].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NET_DEVICE_PNP_EVENT {
    pub Header: NDIS_OBJECT_HEADER,
    pub PortNumber: NDIS_PORT_NUMBER,
    pub DevicePnPEvent: NDIS_DEVICE_PNP_EVENT,
    pub InformationBuffer: PVOID,
    pub InformationBufferLength: ULONG,
    pub NdisReserved: [UCHAR; 2 * core::mem::size_of::<PVOID>()],
}
pub type PNET_DEVICE_PNP_EVENT = *mut NET_DEVICE_PNP_EVENT;
assert_layout!(NET_DEVICE_PNP_EVENT, size = 48, {
    Header: 0, PortNumber: 4, DevicePnPEvent: 8, InformationBuffer: 16,
    InformationBufferLength: 24, NdisReserved: 28,
});
/// Through NdisReserved: 44, less than sizeof (48) \[C\].
pub const NDIS_SIZEOF_NET_DEVICE_PNP_EVENT_REVISION_1: usize = 44;
pub const NET_DEVICE_PNP_EVENT_REVISION_1: UCHAR = 1;

// NDIS_HALT_ACTION [H: enumerators in order].
pub const NdisHaltDeviceDisabled: NDIS_HALT_ACTION = 0;
pub const NdisHaltDeviceInstanceDeInitialized: NDIS_HALT_ACTION = 1;
pub const NdisHaltDevicePoweredDown: NDIS_HALT_ACTION = 2;
pub const NdisHaltDeviceSurpriseRemoved: NDIS_HALT_ACTION = 3;
pub const NdisHaltDeviceFailed: NDIS_HALT_ACTION = 4;
pub const NdisHaltDeviceInitializationFailed: NDIS_HALT_ACTION = 5;
pub const NdisHaltDeviceStopped: NDIS_HALT_ACTION = 6;
// NDIS_SHUTDOWN_ACTION [H].
pub const NdisShutdownPowerOff: NDIS_SHUTDOWN_ACTION = 0;
pub const NdisShutdownBugCheck: NDIS_SHUTDOWN_ACTION = 1;
// NDIS_DEVICE_PNP_EVENT [H: enumerators in order].
pub const NdisDevicePnPEventQueryRemoved: NDIS_DEVICE_PNP_EVENT = 0;
pub const NdisDevicePnPEventRemoved: NDIS_DEVICE_PNP_EVENT = 1;
pub const NdisDevicePnPEventSurpriseRemoved: NDIS_DEVICE_PNP_EVENT = 2;
pub const NdisDevicePnPEventQueryStopped: NDIS_DEVICE_PNP_EVENT = 3;
pub const NdisDevicePnPEventStopped: NDIS_DEVICE_PNP_EVENT = 4;
pub const NdisDevicePnPEventPowerProfileChanged: NDIS_DEVICE_PNP_EVENT = 5;

/// `NDIS_RUNTIME_VERSION_630` = 0x0006001E \[H: WDK ndis.h\].
pub const NDIS_RUNTIME_VERSION_630: UINT = (6 << 16) | 30;

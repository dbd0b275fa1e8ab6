//! The protocol (CoNDIS client) side: the structures a protocol driver hands
//! to NDIS or reads from it, and the handler types of a CoNDIS client.
//!
//! Owns the layouts of `NDIS_PROTOCOL_DRIVER_CHARACTERISTICS`,
//! `NDIS_PROTOCOL_CO_CHARACTERISTICS`, `NDIS_CO_CLIENT_OPTIONAL_HANDLERS`,
//! `NDIS_BIND_PARAMETERS`, `NDIS_OPEN_PARAMETERS`,
//! `NDIS_PROTOCOL_PAUSE_PARAMETERS`, `NDIS_PROTOCOL_RESTART_PARAMETERS`,
//! `NET_PNP_EVENT` and `NET_PNP_EVENT_NOTIFICATION`, and the
//! `PROTOCOL_*`/`PROTOCOL_CL_*`/`PROTOCOL_CO_*` function-pointer types
//! (the call-manager and shared ones, `PROTOCOL_CO_CREATE_VC`,
//! `PROTOCOL_CO_DELETE_VC`, `PROTOCOL_CO_OID_REQUEST(_COMPLETE)`, are in
//! [`crate::cm`]). No policy, no state.
//!
//! Sources \[H\]: WDK 10.0.17763 `km/ndis.h` (MuAlphaOmegaEpsilon/wdk-10)
//! and WDK 10.0.22621 `km/ndis.h` and `km/netpnp.h` (T-RN-R/ddk_headers);
//! every structure here has the same field list in both (compared field by
//! field). 22621 line numbers: NET_PNP_EVENT_NOTIFICATION 4376,
//! NDIS_BIND_PARAMETERS 8453, the PROTOCOL_* bind/unbind/open/close/PnP
//! types 8530–8600, NDIS_PROTOCOL_CO_CHARACTERISTICS 8604,
//! NDIS_PROTOCOL_DRIVER_CHARACTERISTICS 8627, NDIS_OPEN_PARAMETERS 8757,
//! NDIS_PROTOCOL_PAUSE_PARAMETERS 8814, NDIS_PROTOCOL_RESTART_PARAMETERS
//! 8831, the CoNDIS 6 entry points 7862–7920, the client handler types
//! 13255–13430, NDIS_CO_CLIENT_OPTIONAL_HANDLERS 14147. Object types and
//! `IF_MAX_PHYS_ADDRESS_LENGTH` (32): SDK 10.0.25290 `shared/ntddndis.h`
//! lines 192–229 and `shared/ifdef.h` line 284 (T-RN-R/WindowsPreviewSDKs).
//!
//! Offsets are \[C\]: the x64 C layout rules applied to those field lists
//! (LLP64, natural alignment, 8-byte pointers). The 64-bit ARM ABI lays out
//! these structures identically (same data model, no over-aligned member),
//! so the same assertions hold on aarch64-pc-windows-msvc. Every structure
//! here, with its `NDIS_SIZEOF_*` and object types, is in
//! build/layout_table.rs, so the WDK build compares them with the WDK's
//! headers; an independent gcc compile of the 22621 definitions agreed with
//! every value (LAYOUT.md).

use crate::cm::{
    PROTOCOL_CO_CREATE_VC, PROTOCOL_CO_DELETE_VC, PROTOCOL_CO_OID_REQUEST, PROTOCOL_CO_OID_REQUEST_COMPLETE,
};
use crate::co::{PCO_ADDRESS_FAMILY, PCO_CALL_PARAMETERS, PCO_SAP};
use crate::config::{NDIS_STRING, PNDIS_STRING};
use crate::indication::PNDIS_STATUS_INDICATION;
use crate::miniport::{MINIPORT_SET_OPTIONS, NDIS_MAX_PHYS_ADDRESS_LENGTH};
use crate::nbl::PNET_BUFFER_LIST;
use crate::object::NDIS_OBJECT_HEADER;
use crate::oid::PNDIS_OID_REQUEST;
use crate::types::*;

/// `NET_IF_COMPARTMENT_ID` (ifdef.h) \[H\]: a `UINT32`.
pub type NET_IF_COMPARTMENT_ID = ULONG;
/// `NET_PNP_EVENT_CODE` (netpnp.h) \[H\]: a C enum.
pub type NET_PNP_EVENT_CODE = i32;

// --- Object types (ntddndis.h) [H] ------------------------------------------
pub const NDIS_OBJECT_TYPE_DEVICE_OBJECT_ATTRIBUTES: UCHAR = 0x85;
pub const NDIS_OBJECT_TYPE_BIND_PARAMETERS: UCHAR = 0x86;
pub const NDIS_OBJECT_TYPE_OPEN_PARAMETERS: UCHAR = 0x87;
pub const NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS: UCHAR = 0x95;
pub const NDIS_OBJECT_TYPE_PROTOCOL_RESTART_PARAMETERS: UCHAR = 0xA3;
// NDIS_OBJECT_TYPE_CO_PROTOCOL_CHARACTERISTICS (0x90) and
// NDIS_OBJECT_TYPE_CO_CLIENT_OPTIONAL_HANDLERS (0xA6) are in crate::object.

// --- Revisions (ndis.h) [H] --------------------------------------------------
pub const NDIS_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1: UCHAR = 1;
pub const NDIS_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_2: UCHAR = 2;
pub const NDIS_PROTOCOL_CO_CHARACTERISTICS_REVISION_1: UCHAR = 1;
pub const NDIS_BIND_PARAMETERS_REVISION_1: UCHAR = 1;
pub const NDIS_BIND_PARAMETERS_REVISION_2: UCHAR = 2;
pub const NDIS_BIND_PARAMETERS_REVISION_3: UCHAR = 3;
pub const NDIS_BIND_PARAMETERS_REVISION_4: UCHAR = 4;
pub const NDIS_OPEN_PARAMETERS_REVISION_1: UCHAR = 1;
pub const NDIS_PROTOCOL_PAUSE_PARAMETERS_REVISION_1: UCHAR = 1;
pub const NDIS_PROTOCOL_RESTART_PARAMETERS_REVISION_1: UCHAR = 1;
pub const NET_PNP_EVENT_NOTIFICATION_REVISION_1: UCHAR = 1;
pub const NET_PNP_EVENT_NOTIFICATION_REVISION_2: UCHAR = 2;

// --- NET_PNP_EVENT_CODE (netpnp.h, enumerator order) [H] ---------------------
pub const NetEventSetPower: NET_PNP_EVENT_CODE = 0;
pub const NetEventQueryPower: NET_PNP_EVENT_CODE = 1;
pub const NetEventQueryRemoveDevice: NET_PNP_EVENT_CODE = 2;
pub const NetEventCancelRemoveDevice: NET_PNP_EVENT_CODE = 3;
pub const NetEventReconfigure: NET_PNP_EVENT_CODE = 4;
pub const NetEventBindList: NET_PNP_EVENT_CODE = 5;
pub const NetEventBindsComplete: NET_PNP_EVENT_CODE = 6;
pub const NetEventPnPCapabilities: NET_PNP_EVENT_CODE = 7;
pub const NetEventPause: NET_PNP_EVENT_CODE = 8;
pub const NetEventRestart: NET_PNP_EVENT_CODE = 9;
pub const NetEventPortActivation: NET_PNP_EVENT_CODE = 10;
pub const NetEventPortDeactivation: NET_PNP_EVENT_CODE = 11;
pub const NetEventIMReEnableDevice: NET_PNP_EVENT_CODE = 12;

ndis_abi_fn_types! {
    // --- NDIS 6 protocol driver entry points (ndis.h 22621 8520–8600) [H] --
    /// `PROTOCOL_SET_OPTIONS` is `SET_OPTIONS`, the same type as a
    /// miniport's (ndis.h 22621 line 4142).
    pub type PROTOCOL_BIND_ADAPTER_EX = fn(ProtocolDriverContext: NDIS_HANDLE, BindContext: NDIS_HANDLE, BindParameters: PNDIS_BIND_PARAMETERS) -> NDIS_STATUS;
    pub type PROTOCOL_UNBIND_ADAPTER_EX = fn(UnbindContext: NDIS_HANDLE, ProtocolBindingContext: NDIS_HANDLE) -> NDIS_STATUS;
    pub type PROTOCOL_OPEN_ADAPTER_COMPLETE_EX = fn(ProtocolBindingContext: NDIS_HANDLE, Status: NDIS_STATUS);
    pub type PROTOCOL_CLOSE_ADAPTER_COMPLETE_EX = fn(ProtocolBindingContext: NDIS_HANDLE);
    pub type PROTOCOL_STATUS_EX = fn(ProtocolBindingContext: NDIS_HANDLE, StatusIndication: PNDIS_STATUS_INDICATION);
    pub type PROTOCOL_NET_PNP_EVENT = fn(ProtocolBindingContext: NDIS_HANDLE, NetPnPEventNotification: PNET_PNP_EVENT_NOTIFICATION) -> NDIS_STATUS;
    pub type PROTOCOL_UNINSTALL = fn();
    pub type PROTOCOL_OID_REQUEST_COMPLETE = fn(ProtocolBindingContext: NDIS_HANDLE, OidRequest: PNDIS_OID_REQUEST, Status: NDIS_STATUS);
    pub type PROTOCOL_RECEIVE_NET_BUFFER_LISTS = fn(ProtocolBindingContext: NDIS_HANDLE, NetBufferLists: PNET_BUFFER_LIST, PortNumber: NDIS_PORT_NUMBER, NumberOfNetBufferLists: ULONG, ReceiveFlags: ULONG);
    pub type PROTOCOL_SEND_NET_BUFFER_LISTS_COMPLETE = fn(ProtocolBindingContext: NDIS_HANDLE, NetBufferList: PNET_BUFFER_LIST, SendCompleteFlags: ULONG);
    pub type PROTOCOL_DIRECT_OID_REQUEST_COMPLETE = fn(ProtocolBindingContext: NDIS_HANDLE, OidRequest: PNDIS_OID_REQUEST, Status: NDIS_STATUS);

    // --- CoNDIS 6 protocol entry points (ndis.h 22621 7760, 7862–7920) [H] -
    pub type PROTOCOL_CO_AF_REGISTER_NOTIFY = fn(ProtocolBindingContext: NDIS_HANDLE, AddressFamily: PCO_ADDRESS_FAMILY);
    pub type PROTOCOL_CO_RECEIVE_NET_BUFFER_LISTS = fn(ProtocolBindingContext: NDIS_HANDLE, ProtocolVcContext: NDIS_HANDLE, NetBufferLists: PNET_BUFFER_LIST, NumberOfNetBufferLists: ULONG, ReceiveFlags: ULONG);
    pub type PROTOCOL_CO_SEND_NET_BUFFER_LISTS_COMPLETE = fn(ProtocolVcContext: NDIS_HANDLE, NetBufferLists: PNET_BUFFER_LIST, SendCompleteFlags: ULONG);
    pub type PROTOCOL_CO_STATUS_EX = fn(ProtocolBindingContext: NDIS_HANDLE, ProtocolVcContext: NDIS_HANDLE, StatusIndication: PNDIS_STATUS_INDICATION);

    // --- CoNDIS client handlers (ndis.h 22621 7905–7920, 13255–13430) [H] --
    pub type PROTOCOL_CL_NOTIFY_CLOSE_AF = fn(ClientAfContext: NDIS_HANDLE) -> NDIS_STATUS;
    pub type PROTOCOL_CL_OPEN_AF_COMPLETE_EX = fn(ProtocolAfContext: NDIS_HANDLE, NdisAfHandle: NDIS_HANDLE, Status: NDIS_STATUS);
    pub type PROTOCOL_CL_CLOSE_AF_COMPLETE = fn(Status: NDIS_STATUS, ProtocolAfContext: NDIS_HANDLE);
    pub type PROTOCOL_CL_REGISTER_SAP_COMPLETE = fn(Status: NDIS_STATUS, ProtocolSapContext: NDIS_HANDLE, Sap: PCO_SAP, NdisSapHandle: NDIS_HANDLE);
    pub type PROTOCOL_CL_DEREGISTER_SAP_COMPLETE = fn(Status: NDIS_STATUS, ProtocolSapContext: NDIS_HANDLE);
    pub type PROTOCOL_CL_MAKE_CALL_COMPLETE = fn(Status: NDIS_STATUS, ProtocolVcContext: NDIS_HANDLE, NdisPartyHandle: NDIS_HANDLE, CallParameters: PCO_CALL_PARAMETERS);
    pub type PROTOCOL_CL_CLOSE_CALL_COMPLETE = fn(Status: NDIS_STATUS, ProtocolVcContext: NDIS_HANDLE, ProtocolPartyContext: NDIS_HANDLE);
    pub type PROTOCOL_CL_ADD_PARTY_COMPLETE = fn(Status: NDIS_STATUS, ProtocolPartyContext: NDIS_HANDLE, NdisPartyHandle: NDIS_HANDLE, CallParameters: PCO_CALL_PARAMETERS);
    pub type PROTOCOL_CL_DROP_PARTY_COMPLETE = fn(Status: NDIS_STATUS, ProtocolPartyContext: NDIS_HANDLE);
    pub type PROTOCOL_CL_INCOMING_CALL = fn(ProtocolSapContext: NDIS_HANDLE, ProtocolVcContext: NDIS_HANDLE, CallParameters: PCO_CALL_PARAMETERS) -> NDIS_STATUS;
    pub type PROTOCOL_CL_CALL_CONNECTED = fn(ProtocolVcContext: NDIS_HANDLE);
    pub type PROTOCOL_CL_INCOMING_CLOSE_CALL = fn(CloseStatus: NDIS_STATUS, ProtocolVcContext: NDIS_HANDLE, CloseData: PVOID, Size: UINT);
    pub type PROTOCOL_CL_INCOMING_DROP_PARTY = fn(DropStatus: NDIS_STATUS, ProtocolPartyContext: NDIS_HANDLE, CloseData: PVOID, Size: UINT);
    pub type PROTOCOL_CL_MODIFY_CALL_QOS_COMPLETE = fn(Status: NDIS_STATUS, ProtocolVcContext: NDIS_HANDLE, CallParameters: PCO_CALL_PARAMETERS);
    pub type PROTOCOL_CL_INCOMING_CALL_QOS_CHANGE = fn(ProtocolVcContext: NDIS_HANDLE, CallParameters: PCO_CALL_PARAMETERS);
}

/// `PROTOCOL_SET_OPTIONS`: `SET_OPTIONS`, shared with miniports \[H\].
pub type PROTOCOL_SET_OPTIONS = MINIPORT_SET_OPTIONS;

/// `NDIS_PROTOCOL_DRIVER_CHARACTERISTICS` \[H: ndis.h 17763 line 10194, 22621
/// line 8627\]; offsets \[C\].
///
/// A CoNDIS client registers revision 2 (NDIS 6.1+, through
/// `DirectOidRequestCompleteHandler`) with its NDIS 6.x version; its CoNDIS
/// handlers are not here but in [`NDIS_PROTOCOL_CO_CHARACTERISTICS`] and
/// [`NDIS_CO_CLIENT_OPTIONAL_HANDLERS`], registered from
/// `ProtocolSetOptions` with `NdisSetOptionalHandlers`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_PROTOCOL_DRIVER_CHARACTERISTICS {
    pub Header: NDIS_OBJECT_HEADER,
    pub MajorNdisVersion: UCHAR,
    pub MinorNdisVersion: UCHAR,
    pub MajorDriverVersion: UCHAR,
    pub MinorDriverVersion: UCHAR,
    pub Flags: ULONG,
    pub Name: NDIS_STRING,
    pub SetOptionsHandler: Option<PROTOCOL_SET_OPTIONS>,
    pub BindAdapterHandlerEx: Option<PROTOCOL_BIND_ADAPTER_EX>,
    pub UnbindAdapterHandlerEx: Option<PROTOCOL_UNBIND_ADAPTER_EX>,
    pub OpenAdapterCompleteHandlerEx: Option<PROTOCOL_OPEN_ADAPTER_COMPLETE_EX>,
    pub CloseAdapterCompleteHandlerEx: Option<PROTOCOL_CLOSE_ADAPTER_COMPLETE_EX>,
    pub NetPnPEventHandler: Option<PROTOCOL_NET_PNP_EVENT>,
    pub UninstallHandler: Option<PROTOCOL_UNINSTALL>,
    pub OidRequestCompleteHandler: Option<PROTOCOL_OID_REQUEST_COMPLETE>,
    pub StatusHandlerEx: Option<PROTOCOL_STATUS_EX>,
    pub ReceiveNetBufferListsHandler: Option<PROTOCOL_RECEIVE_NET_BUFFER_LISTS>,
    pub SendNetBufferListsCompleteHandler: Option<PROTOCOL_SEND_NET_BUFFER_LISTS_COMPLETE>,
    pub DirectOidRequestCompleteHandler: Option<PROTOCOL_DIRECT_OID_REQUEST_COMPLETE>,
}
pub type PNDIS_PROTOCOL_DRIVER_CHARACTERISTICS = *mut NDIS_PROTOCOL_DRIVER_CHARACTERISTICS;
assert_layout!(NDIS_PROTOCOL_DRIVER_CHARACTERISTICS, size = 128, align = 8, {
    Header: 0, MajorNdisVersion: 4, MinorNdisVersion: 5, MajorDriverVersion: 6,
    MinorDriverVersion: 7, Flags: 8, Name: 16, SetOptionsHandler: 32,
    BindAdapterHandlerEx: 40, UnbindAdapterHandlerEx: 48,
    OpenAdapterCompleteHandlerEx: 56, CloseAdapterCompleteHandlerEx: 64,
    NetPnPEventHandler: 72, UninstallHandler: 80, OidRequestCompleteHandler: 88,
    StatusHandlerEx: 96, ReceiveNetBufferListsHandler: 104,
    SendNetBufferListsCompleteHandler: 112, DirectOidRequestCompleteHandler: 120,
});
/// `RTL_SIZEOF_THROUGH_FIELD(..., SendNetBufferListsCompleteHandler)` \[H, C\].
pub const NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_1: usize = 120;
/// `RTL_SIZEOF_THROUGH_FIELD(..., DirectOidRequestCompleteHandler)` \[H, C\].
pub const NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_2: usize = 128;

/// `NDIS_PROTOCOL_CO_CHARACTERISTICS` \[H: ndis.h 17763 line 10171, 22621
/// line 8604\] (`Header.Type` = `NDIS_OBJECT_TYPE_CO_PROTOCOL_CHARACTERISTICS`,
/// 0x90); offsets \[C\].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_PROTOCOL_CO_CHARACTERISTICS {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: ULONG,
    pub CoStatusHandlerEx: Option<PROTOCOL_CO_STATUS_EX>,
    pub CoAfRegisterNotifyHandler: Option<PROTOCOL_CO_AF_REGISTER_NOTIFY>,
    pub CoReceiveNetBufferListsHandler: Option<PROTOCOL_CO_RECEIVE_NET_BUFFER_LISTS>,
    pub CoSendNetBufferListsCompleteHandler: Option<PROTOCOL_CO_SEND_NET_BUFFER_LISTS_COMPLETE>,
}
pub type PNDIS_PROTOCOL_CO_CHARACTERISTICS = *mut NDIS_PROTOCOL_CO_CHARACTERISTICS;
assert_layout!(NDIS_PROTOCOL_CO_CHARACTERISTICS, size = 40, align = 8, {
    Header: 0, Flags: 4, CoStatusHandlerEx: 8, CoAfRegisterNotifyHandler: 16,
    CoReceiveNetBufferListsHandler: 24, CoSendNetBufferListsCompleteHandler: 32,
});
/// Through `CoSendNetBufferListsCompleteHandler` \[H, C\].
pub const NDIS_SIZEOF_PROTOCOL_CO_CHARACTERISTICS_REVISION_1: usize = 40;

/// `NDIS_CO_CLIENT_OPTIONAL_HANDLERS` \[H: ndis.h 17763 line 15690, 22621
/// line 14147\]; offsets \[C\]. The client must set every member ("even if
/// the call manager does not support incoming calls, outgoing calls, or
/// point-to-multipoint connections ... its placeholder ProtocolXxx functions
/// should return NDIS_STATUS_NOT_SUPPORTED", the structure's page \[D\]).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_CO_CLIENT_OPTIONAL_HANDLERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub Reserved: ULONG,
    pub ClCreateVcHandler: Option<PROTOCOL_CO_CREATE_VC>,
    pub ClDeleteVcHandler: Option<PROTOCOL_CO_DELETE_VC>,
    pub ClOidRequestHandler: Option<PROTOCOL_CO_OID_REQUEST>,
    pub ClOidRequestCompleteHandler: Option<PROTOCOL_CO_OID_REQUEST_COMPLETE>,
    pub ClOpenAfCompleteHandlerEx: Option<PROTOCOL_CL_OPEN_AF_COMPLETE_EX>,
    pub ClCloseAfCompleteHandler: Option<PROTOCOL_CL_CLOSE_AF_COMPLETE>,
    pub ClRegisterSapCompleteHandler: Option<PROTOCOL_CL_REGISTER_SAP_COMPLETE>,
    pub ClDeregisterSapCompleteHandler: Option<PROTOCOL_CL_DEREGISTER_SAP_COMPLETE>,
    pub ClMakeCallCompleteHandler: Option<PROTOCOL_CL_MAKE_CALL_COMPLETE>,
    pub ClModifyCallQoSCompleteHandler: Option<PROTOCOL_CL_MODIFY_CALL_QOS_COMPLETE>,
    pub ClCloseCallCompleteHandler: Option<PROTOCOL_CL_CLOSE_CALL_COMPLETE>,
    pub ClAddPartyCompleteHandler: Option<PROTOCOL_CL_ADD_PARTY_COMPLETE>,
    pub ClDropPartyCompleteHandler: Option<PROTOCOL_CL_DROP_PARTY_COMPLETE>,
    pub ClIncomingCallHandler: Option<PROTOCOL_CL_INCOMING_CALL>,
    pub ClIncomingCallQoSChangeHandler: Option<PROTOCOL_CL_INCOMING_CALL_QOS_CHANGE>,
    pub ClIncomingCloseCallHandler: Option<PROTOCOL_CL_INCOMING_CLOSE_CALL>,
    pub ClIncomingDropPartyHandler: Option<PROTOCOL_CL_INCOMING_DROP_PARTY>,
    pub ClCallConnectedHandler: Option<PROTOCOL_CL_CALL_CONNECTED>,
    pub ClNotifyCloseAfHandler: Option<PROTOCOL_CL_NOTIFY_CLOSE_AF>,
}
pub type PNDIS_CO_CLIENT_OPTIONAL_HANDLERS = *mut NDIS_CO_CLIENT_OPTIONAL_HANDLERS;
assert_layout!(NDIS_CO_CLIENT_OPTIONAL_HANDLERS, size = 160, align = 8, {
    Header: 0, Reserved: 4, ClCreateVcHandler: 8, ClDeleteVcHandler: 16,
    ClOidRequestHandler: 24, ClOidRequestCompleteHandler: 32,
    ClOpenAfCompleteHandlerEx: 40, ClCloseAfCompleteHandler: 48,
    ClRegisterSapCompleteHandler: 56, ClDeregisterSapCompleteHandler: 64,
    ClMakeCallCompleteHandler: 72, ClModifyCallQoSCompleteHandler: 80,
    ClCloseCallCompleteHandler: 88, ClAddPartyCompleteHandler: 96,
    ClDropPartyCompleteHandler: 104, ClIncomingCallHandler: 112,
    ClIncomingCallQoSChangeHandler: 120, ClIncomingCloseCallHandler: 128,
    ClIncomingDropPartyHandler: 136, ClCallConnectedHandler: 144,
    ClNotifyCloseAfHandler: 152,
});
/// Through `ClNotifyCloseAfHandler`: the whole structure \[H, C\].
pub const NDIS_SIZEOF_CO_CLIENT_OPTIONAL_HANDLERS_REVISION_1: usize = 160;

/// `NDIS_BIND_PARAMETERS` \[H: ndis.h 17763 line 10020, 22621 line 8453\],
/// with every NDIS 6.30 member; offsets \[C\]. NDIS creates it; a binder
/// reads `Header.Revision`/`Header.Size` before any member past revision 1,
/// and covclient reads only `MediaType` and `AdapterName` (revision 1).
/// The pointer members whose targets covclient never reads are `PVOID`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_BIND_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub ProtocolSection: PNDIS_STRING,
    pub AdapterName: PNDIS_STRING,
    /// `PDEVICE_OBJECT`.
    pub PhysicalDeviceObject: PVOID,
    pub MediaType: NDIS_MEDIUM,
    pub MtuSize: ULONG,
    pub MaxXmitLinkSpeed: ULONG64,
    pub XmitLinkSpeed: ULONG64,
    pub MaxRcvLinkSpeed: ULONG64,
    pub RcvLinkSpeed: ULONG64,
    pub MediaConnectState: NDIS_MEDIA_CONNECT_STATE,
    pub MediaDuplexState: NDIS_MEDIA_DUPLEX_STATE,
    pub LookaheadSize: ULONG,
    /// `PNDIS_PNP_CAPABILITIES`.
    pub PowerManagementCapabilities: PVOID,
    pub SupportedPacketFilters: ULONG,
    pub MaxMulticastListSize: ULONG,
    pub MacAddressLength: USHORT,
    pub CurrentMacAddress: [UCHAR; NDIS_MAX_PHYS_ADDRESS_LENGTH],
    pub PhysicalMediumType: NDIS_PHYSICAL_MEDIUM,
    /// `PNDIS_RECEIVE_SCALE_CAPABILITIES`.
    pub RcvScaleCapabilities: PVOID,
    pub BoundIfNetluid: NET_LUID,
    pub BoundIfIndex: NET_IFINDEX,
    pub LowestIfNetluid: NET_LUID,
    pub LowestIfIndex: NET_IFINDEX,
    pub AccessType: NET_IF_ACCESS_TYPE,
    pub DirectionType: NET_IF_DIRECTION_TYPE,
    pub ConnectionType: NET_IF_CONNECTION_TYPE,
    pub IfType: NET_IFTYPE,
    pub IfConnectorPresent: BOOLEAN,
    /// `PNDIS_PORT`.
    pub ActivePorts: PVOID,
    pub DataBackFillSize: ULONG,
    pub ContextBackFillSize: ULONG,
    pub MacOptions: ULONG,
    pub CompartmentId: NET_IF_COMPARTMENT_ID,
    /// `PNDIS_OFFLOAD`.
    pub DefaultOffloadConfiguration: PVOID,
    /// `PNDIS_TCP_CONNECTION_OFFLOAD`.
    pub TcpConnectionOffloadCapabilities: PVOID,
    pub BoundAdapterName: PNDIS_STRING,
    /// NDIS 6.1: `PNDIS_HD_SPLIT_CURRENT_CONFIG`.
    pub HDSplitCurrentConfig: PVOID,
    /// NDIS 6.20: `PNDIS_RECEIVE_FILTER_CAPABILITIES`.
    pub ReceiveFilterCapabilities: PVOID,
    /// NDIS 6.20: `PNDIS_PM_CAPABILITIES`.
    pub PowerManagementCapabilitiesEx: PVOID,
    /// NDIS 6.20: `PNDIS_NIC_SWITCH_CAPABILITIES`.
    pub NicSwitchCapabilities: PVOID,
    /// NDIS 6.30.
    pub NDKEnabled: BOOLEAN,
    /// NDIS 6.30: `PNDIS_NDK_CAPABILITIES`.
    pub NDKCapabilities: PVOID,
    /// NDIS 6.30: `PNDIS_SRIOV_CAPABILITIES`.
    pub SriovCapabilities: PVOID,
    /// NDIS 6.30: `PNDIS_NIC_SWITCH_INFO_ARRAY`.
    pub NicSwitchArray: PVOID,
}
pub type PNDIS_BIND_PARAMETERS = *mut NDIS_BIND_PARAMETERS;
assert_layout!(NDIS_BIND_PARAMETERS, size = 312, align = 8, {
    Header: 0, ProtocolSection: 8, AdapterName: 16, PhysicalDeviceObject: 24,
    MediaType: 32, MtuSize: 36, MaxXmitLinkSpeed: 40, XmitLinkSpeed: 48,
    MaxRcvLinkSpeed: 56, RcvLinkSpeed: 64, MediaConnectState: 72,
    MediaDuplexState: 76, LookaheadSize: 80, PowerManagementCapabilities: 88,
    SupportedPacketFilters: 96, MaxMulticastListSize: 100, MacAddressLength: 104,
    CurrentMacAddress: 106, PhysicalMediumType: 140, RcvScaleCapabilities: 144,
    BoundIfNetluid: 152, BoundIfIndex: 160, LowestIfNetluid: 168,
    LowestIfIndex: 176, AccessType: 180, DirectionType: 184, ConnectionType: 188,
    IfType: 192, IfConnectorPresent: 194, ActivePorts: 200, DataBackFillSize: 208,
    ContextBackFillSize: 212, MacOptions: 216, CompartmentId: 220,
    DefaultOffloadConfiguration: 224, TcpConnectionOffloadCapabilities: 232,
    BoundAdapterName: 240, HDSplitCurrentConfig: 248,
    ReceiveFilterCapabilities: 256, PowerManagementCapabilitiesEx: 264,
    NicSwitchCapabilities: 272, NDKEnabled: 280, NDKCapabilities: 288,
    SriovCapabilities: 296, NicSwitchArray: 304,
});
/// Through `BoundAdapterName` \[H, C\].
pub const NDIS_SIZEOF_BIND_PARAMETERS_REVISION_1: usize = 248;
/// Through `HDSplitCurrentConfig` \[H, C\].
pub const NDIS_SIZEOF_BIND_PARAMETERS_REVISION_2: usize = 256;
/// Through `NicSwitchCapabilities` \[H, C\].
pub const NDIS_SIZEOF_BIND_PARAMETERS_REVISION_3: usize = 280;
/// Through `NicSwitchArray` \[H, C\].
pub const NDIS_SIZEOF_BIND_PARAMETERS_REVISION_4: usize = 312;

/// `NET_FRAME_TYPE` (ndis.h) \[H\]: a `USHORT`.
pub type NET_FRAME_TYPE = USHORT;
pub type PNDIS_MEDIUM = *mut NDIS_MEDIUM;

/// `NDIS_OPEN_PARAMETERS` \[H: ndis.h 17763 line 10324, 22621 line 8757\];
/// offsets \[C\]. It, the medium array and `SelectedMediumIndex` must stay
/// valid until the open completes (NDIS writes the index and the binding
/// handle after NdisOpenAdapterEx returns PENDING, ProtocolBindAdapterEx
/// \[D\]).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_OPEN_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub AdapterName: PNDIS_STRING,
    pub MediumArray: PNDIS_MEDIUM,
    pub MediumArraySize: UINT,
    pub SelectedMediumIndex: *mut UINT,
    pub FrameTypeArray: *mut NET_FRAME_TYPE,
    pub FrameTypeArraySize: UINT,
}
pub type PNDIS_OPEN_PARAMETERS = *mut NDIS_OPEN_PARAMETERS;
assert_layout!(NDIS_OPEN_PARAMETERS, size = 56, align = 8, {
    Header: 0, AdapterName: 8, MediumArray: 16, MediumArraySize: 24,
    SelectedMediumIndex: 32, FrameTypeArray: 40, FrameTypeArraySize: 48,
});
/// Through `FrameTypeArraySize` \[H, C\].
pub const NDIS_SIZEOF_OPEN_PARAMETERS_REVISION_1: usize = 52;

/// `NDIS_PROTOCOL_PAUSE_PARAMETERS` \[H: ndis.h 17763 line 10381, 22621
/// line 8814\]; offsets \[C\]. The `Buffer` of a `NetEventPause` event.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_PROTOCOL_PAUSE_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: ULONG,
    pub PauseReason: ULONG,
}
pub type PNDIS_PROTOCOL_PAUSE_PARAMETERS = *mut NDIS_PROTOCOL_PAUSE_PARAMETERS;
assert_layout!(NDIS_PROTOCOL_PAUSE_PARAMETERS, size = 12, align = 4, { Header: 0, Flags: 4, PauseReason: 8 });
pub const NDIS_SIZEOF_PROTOCOL_PAUSE_PARAMETERS_REVISION_1: usize = 12;

/// `NDIS_PROTOCOL_RESTART_PARAMETERS` \[H: ndis.h 17763 line 10398, 22621
/// line 8831\]; offsets \[C\]. The `Buffer` of a `NetEventRestart` event.
/// `RestartAttributes` (`PNDIS_RESTART_ATTRIBUTES`) is opaque here.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_PROTOCOL_RESTART_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub FilterModuleNameBuffer: PUCHAR,
    pub FilterModuleNameBufferLength: ULONG,
    pub RestartAttributes: PVOID,
    pub BoundIfIndex: NET_IFINDEX,
    pub BoundIfNetluid: NET_LUID,
    pub Flags: ULONG,
}
pub type PNDIS_PROTOCOL_RESTART_PARAMETERS = *mut NDIS_PROTOCOL_RESTART_PARAMETERS;
assert_layout!(NDIS_PROTOCOL_RESTART_PARAMETERS, size = 56, align = 8, {
    Header: 0, FilterModuleNameBuffer: 8, FilterModuleNameBufferLength: 16,
    RestartAttributes: 24, BoundIfIndex: 32, BoundIfNetluid: 40, Flags: 48,
});
/// Through `Flags` \[H, C\].
pub const NDIS_SIZEOF_PROTOCOL_RESTART_PARAMETERS_REVISION_1: usize = 52;

/// `NET_PNP_EVENT` \[H: WDK 22621 km/netpnp.h line 44; WDK 17763 has the
/// same definition inline in km/ndis.h, line 183\]; offsets \[C\]. The four reserved arrays are
/// pointer-aligned ("these reserved areas must be pointer aligned").
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NET_PNP_EVENT {
    pub NetEvent: NET_PNP_EVENT_CODE,
    pub Buffer: PVOID,
    pub BufferLength: ULONG,
    pub NdisReserved: [ULONG_PTR; 4],
    pub TransportReserved: [ULONG_PTR; 4],
    pub TdiReserved: [ULONG_PTR; 4],
    pub TdiClientReserved: [ULONG_PTR; 4],
}
pub type PNET_PNP_EVENT = *mut NET_PNP_EVENT;
assert_layout!(NET_PNP_EVENT, size = 152, align = 8, {
    NetEvent: 0, Buffer: 8, BufferLength: 16, NdisReserved: 24,
    TransportReserved: 56, TdiReserved: 88, TdiClientReserved: 120,
});

/// `NET_PNP_EVENT_NOTIFICATION` \[H: ndis.h 17763 line 4595, 22621 line
/// 4376\]; offsets \[C\]. `SwitchId` and `VPortId` exist only under
/// `NDIS_SUPPORT_NDIS650` (revision 2): a reader checks `Header.Revision`
/// (and `Header.Size`) before touching them; NDIS may hand a revision-1
/// object of [`NDIS_SIZEOF_NET_PNP_EVENT_NOTIFICATION_REVISION_1`] bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NET_PNP_EVENT_NOTIFICATION {
    pub Header: NDIS_OBJECT_HEADER,
    pub PortNumber: NDIS_PORT_NUMBER,
    pub NetPnPEvent: NET_PNP_EVENT,
    pub Flags: ULONG,
    /// Revision 2 only (`NDIS_NIC_SWITCH_ID`, a ULONG).
    pub SwitchId: ULONG,
    /// Revision 2 only (`NDIS_NIC_SWITCH_VPORT_ID`, a ULONG).
    pub VPortId: ULONG,
}
pub type PNET_PNP_EVENT_NOTIFICATION = *mut NET_PNP_EVENT_NOTIFICATION;
assert_layout!(NET_PNP_EVENT_NOTIFICATION, size = 176, align = 8, {
    Header: 0, PortNumber: 4, NetPnPEvent: 8, Flags: 160, SwitchId: 164, VPortId: 168,
});
/// Through `Flags` \[H, C\].
pub const NDIS_SIZEOF_NET_PNP_EVENT_NOTIFICATION_REVISION_1: usize = 164;
/// Through `VPortId` \[H, C\].
pub const NDIS_SIZEOF_NET_PNP_EVENT_NOTIFICATION_REVISION_2: usize = 172;

//! `NDIS_OID_REQUEST` and the OIDs a CoNDIS WAN miniport and its call
//! manager answer.
//!
//! Layout: contract §4.1 [D/H field list]; x64 offsets \[C\], DATA at 32 and
//! NdisReserved at 72 \[H: PDB type dump of the x64 ndis.sys; WDK 10.0.17763
//! ndis.h field list]. OID values from
//! ntddndis.h \[H\] unless marked.

use crate::object::NDIS_OBJECT_HEADER;
use crate::types::*;

/// `DATA.QUERY_INFORMATION` \[H\].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_OID_REQUEST_QUERY_INFORMATION {
    pub Oid: NDIS_OID,
    pub InformationBuffer: PVOID,
    pub InformationBufferLength: UINT,
    pub BytesWritten: UINT,
    pub BytesNeeded: UINT,
}
assert_layout!(NDIS_OID_REQUEST_QUERY_INFORMATION, size = 32, {
    Oid: 0, InformationBuffer: 8, InformationBufferLength: 16, BytesWritten: 20, BytesNeeded: 24,
});

/// `DATA.SET_INFORMATION` \[H\].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_OID_REQUEST_SET_INFORMATION {
    pub Oid: NDIS_OID,
    pub InformationBuffer: PVOID,
    pub InformationBufferLength: UINT,
    pub BytesRead: UINT,
    pub BytesNeeded: UINT,
}
assert_layout!(NDIS_OID_REQUEST_SET_INFORMATION, size = 32, {
    Oid: 0, InformationBuffer: 8, InformationBufferLength: 16, BytesRead: 20, BytesNeeded: 24,
});

/// `DATA.METHOD_INFORMATION` \[H\].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_OID_REQUEST_METHOD_INFORMATION {
    pub Oid: NDIS_OID,
    pub InformationBuffer: PVOID,
    pub InputBufferLength: ULONG,
    pub OutputBufferLength: ULONG,
    pub MethodId: ULONG,
    pub BytesWritten: UINT,
    pub BytesRead: UINT,
    pub BytesNeeded: UINT,
}
assert_layout!(NDIS_OID_REQUEST_METHOD_INFORMATION, size = 40, {
    Oid: 0, InformationBuffer: 8, InputBufferLength: 16, OutputBufferLength: 20,
    MethodId: 24, BytesWritten: 28, BytesRead: 32, BytesNeeded: 36,
});

/// The `DATA` union of `NDIS_OID_REQUEST` \[H\].
#[repr(C)]
#[derive(Clone, Copy)]
pub union NDIS_OID_REQUEST_DATA {
    pub QUERY_INFORMATION: NDIS_OID_REQUEST_QUERY_INFORMATION,
    pub SET_INFORMATION: NDIS_OID_REQUEST_SET_INFORMATION,
    pub METHOD_INFORMATION: NDIS_OID_REQUEST_METHOD_INFORMATION,
}
assert_layout!(NDIS_OID_REQUEST_DATA, size = 40, align = 8);

/// `NDIS_OID_REQUEST` [D/H]; revision 2 (NDIS 6.50) appends SwitchId,
/// VPortId and Flags. A revision-1 request is only 236 bytes long: never
/// touch the revision-2 fields without checking `Header.Revision`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_OID_REQUEST {
    pub Header: NDIS_OBJECT_HEADER,
    pub RequestType: NDIS_REQUEST_TYPE,
    pub PortNumber: NDIS_PORT_NUMBER,
    pub Timeout: UINT,
    pub RequestId: PVOID,
    pub RequestHandle: NDIS_HANDLE,
    pub DATA: NDIS_OID_REQUEST_DATA,
    pub NdisReserved: [UCHAR; 16 * core::mem::size_of::<PVOID>()],
    pub MiniportReserved: [UCHAR; 2 * core::mem::size_of::<PVOID>()],
    pub SourceReserved: [UCHAR; 2 * core::mem::size_of::<PVOID>()],
    pub SupportedRevision: UCHAR,
    pub Reserved1: UCHAR,
    pub Reserved2: USHORT,
    pub SwitchId: ULONG,
    pub VPortId: ULONG,
    pub Flags: ULONG,
}
pub type PNDIS_OID_REQUEST = *mut NDIS_OID_REQUEST;
assert_layout!(NDIS_OID_REQUEST, size = 248, {
    Header: 0, RequestType: 4, PortNumber: 8, Timeout: 12, RequestId: 16,
    RequestHandle: 24, DATA: 32, NdisReserved: 72, MiniportReserved: 200,
    SourceReserved: 216, SupportedRevision: 232, Reserved1: 233, Reserved2: 234,
    SwitchId: 236, VPortId: 240, Flags: 244,
});
/// Through Reserved2: 236 \[C from the \[H\] field list, matching the PDB dump].
pub const NDIS_SIZEOF_OID_REQUEST_REVISION_1: usize = 236;
/// Through Flags \[C\].
pub const NDIS_SIZEOF_OID_REQUEST_REVISION_2: usize = 248;

// NDIS_REQUEST_TYPE (contract §4.1) [H].
pub const NdisRequestQueryInformation: NDIS_REQUEST_TYPE = 0;
pub const NdisRequestSetInformation: NDIS_REQUEST_TYPE = 1;
pub const NdisRequestQueryStatistics: NDIS_REQUEST_TYPE = 2;
pub const NdisRequestMethod: NDIS_REQUEST_TYPE = 12;

// General OIDs (ntddndis.h) [H].
pub const OID_GEN_SUPPORTED_LIST: NDIS_OID = 0x0001_0101;
pub const OID_GEN_HARDWARE_STATUS: NDIS_OID = 0x0001_0102;
pub const OID_GEN_MEDIA_SUPPORTED: NDIS_OID = 0x0001_0103;
pub const OID_GEN_MEDIA_IN_USE: NDIS_OID = 0x0001_0104;
pub const OID_GEN_MAXIMUM_LOOKAHEAD: NDIS_OID = 0x0001_0105;
pub const OID_GEN_MAXIMUM_FRAME_SIZE: NDIS_OID = 0x0001_0106;
pub const OID_GEN_LINK_SPEED: NDIS_OID = 0x0001_0107;
pub const OID_GEN_VENDOR_ID: NDIS_OID = 0x0001_010C;
pub const OID_GEN_VENDOR_DESCRIPTION: NDIS_OID = 0x0001_010D;
pub const OID_GEN_CURRENT_LOOKAHEAD: NDIS_OID = 0x0001_010F;
pub const OID_GEN_DRIVER_VERSION: NDIS_OID = 0x0001_0110;
pub const OID_GEN_MAXIMUM_TOTAL_SIZE: NDIS_OID = 0x0001_0111;
pub const OID_GEN_PROTOCOL_OPTIONS: NDIS_OID = 0x0001_0112;
pub const OID_GEN_MAC_OPTIONS: NDIS_OID = 0x0001_0113;
pub const OID_GEN_MEDIA_CONNECT_STATUS: NDIS_OID = 0x0001_0114;
pub const OID_GEN_VENDOR_DRIVER_VERSION: NDIS_OID = 0x0001_0116;
pub const OID_GEN_SUPPORTED_GUIDS: NDIS_OID = 0x0001_0117;
pub const OID_GEN_XMIT_OK: NDIS_OID = 0x0002_0101;
pub const OID_GEN_RCV_OK: NDIS_OID = 0x0002_0102;
pub const OID_GEN_XMIT_ERROR: NDIS_OID = 0x0002_0103;
pub const OID_GEN_RCV_ERROR: NDIS_OID = 0x0002_0104;
pub const OID_GEN_RCV_NO_BUFFER: NDIS_OID = 0x0002_0105;
pub const OID_GEN_STATISTICS: NDIS_OID = 0x0002_0106;

// CoNDIS OIDs: ntddndis.h defines each OID_GEN_CO_* as the OID_GEN_* of the
// same meaning [H], so a CoNDIS query and its connectionless twin share a value.
pub const OID_GEN_CO_SUPPORTED_LIST: NDIS_OID = OID_GEN_SUPPORTED_LIST;
pub const OID_GEN_CO_HARDWARE_STATUS: NDIS_OID = OID_GEN_HARDWARE_STATUS;
pub const OID_GEN_CO_MEDIA_SUPPORTED: NDIS_OID = OID_GEN_MEDIA_SUPPORTED;
pub const OID_GEN_CO_MEDIA_IN_USE: NDIS_OID = OID_GEN_MEDIA_IN_USE;
pub const OID_GEN_CO_LINK_SPEED: NDIS_OID = OID_GEN_LINK_SPEED;
pub const OID_GEN_CO_VENDOR_ID: NDIS_OID = OID_GEN_VENDOR_ID;
pub const OID_GEN_CO_VENDOR_DESCRIPTION: NDIS_OID = OID_GEN_VENDOR_DESCRIPTION;
pub const OID_GEN_CO_DRIVER_VERSION: NDIS_OID = OID_GEN_DRIVER_VERSION;
pub const OID_GEN_CO_PROTOCOL_OPTIONS: NDIS_OID = OID_GEN_PROTOCOL_OPTIONS;
pub const OID_GEN_CO_MAC_OPTIONS: NDIS_OID = OID_GEN_MAC_OPTIONS;
pub const OID_GEN_CO_MEDIA_CONNECT_STATUS: NDIS_OID = OID_GEN_MEDIA_CONNECT_STATUS;
pub const OID_GEN_CO_VENDOR_DRIVER_VERSION: NDIS_OID = OID_GEN_VENDOR_DRIVER_VERSION;
pub const OID_GEN_CO_SUPPORTED_GUIDS: NDIS_OID = OID_GEN_SUPPORTED_GUIDS;
pub const OID_GEN_CO_XMIT_PDUS_OK: NDIS_OID = OID_GEN_XMIT_OK;
pub const OID_GEN_CO_RCV_PDUS_OK: NDIS_OID = OID_GEN_RCV_OK;
pub const OID_GEN_CO_XMIT_PDUS_ERROR: NDIS_OID = OID_GEN_XMIT_ERROR;
pub const OID_GEN_CO_RCV_PDUS_ERROR: NDIS_OID = OID_GEN_RCV_ERROR;
pub const OID_GEN_CO_RCV_PDUS_NO_BUFFER: NDIS_OID = OID_GEN_RCV_NO_BUFFER;

// WAN CoNDIS OIDs (ntddndis.h) [H].
pub const OID_WAN_CO_GET_INFO: NDIS_OID = 0x0401_0180;
pub const OID_WAN_CO_SET_LINK_INFO: NDIS_OID = 0x0401_0181;
pub const OID_WAN_CO_GET_LINK_INFO: NDIS_OID = 0x0401_0182;
pub const OID_WAN_CO_GET_COMP_INFO: NDIS_OID = 0x0401_0280;
pub const OID_WAN_CO_SET_COMP_INFO: NDIS_OID = 0x0401_0281;
pub const OID_WAN_CO_GET_STATS_INFO: NDIS_OID = 0x0401_0282;

// Power management (ntddndis.h) [H].
pub const OID_PNP_SET_POWER: NDIS_OID = 0xFD01_0101;
pub const OID_PNP_QUERY_POWER: NDIS_OID = 0xFD01_0102;

// ===========================================================================
// Issue #4: what ctrl_path answers (the CoNDIS OID paths).
//
// Appended as one block. Sources:
// * [H] SDK 10.0.22000 shared/ntddndis.h, as transcribed in the layout
//   research (`/tmp/research/layouts.md` §11, LAYOUT.md), identical in every
//   WDK, and in the copies of ntddndis.h found in public source trees;
// * [H] WDK km/ndiswan.h (10.0.17763, and the identical older copies): the
//   CoNDIS WAN structures and the framing bits;
// * [D] Microsoft Learn, the OID pages named beside each item.
// ===========================================================================

/// `OID_GEN_CO_MINIMUM_LINK_SPEED` \[H: ntddndis.h defines it with its own
/// value, not as an OID_GEN_* alias]; answered as an [`NDIS_CO_LINK_SPEED`]
/// \[D: "OID_GEN_CO_MINIMUM_LINK_SPEED"\].
pub const OID_GEN_CO_MINIMUM_LINK_SPEED: NDIS_OID = 0x0002_0120;
/// `OID_GEN_DIRECTED_BYTES_XMIT` \[H\].
pub const OID_GEN_DIRECTED_BYTES_XMIT: NDIS_OID = 0x0002_0201;
/// `OID_GEN_DIRECTED_BYTES_RCV` \[H\].
pub const OID_GEN_DIRECTED_BYTES_RCV: NDIS_OID = 0x0002_0207;
/// `OID_GEN_CO_BYTES_XMIT` = `OID_GEN_DIRECTED_BYTES_XMIT` \[H\].
pub const OID_GEN_CO_BYTES_XMIT: NDIS_OID = OID_GEN_DIRECTED_BYTES_XMIT;
/// `OID_GEN_CO_BYTES_RCV` = `OID_GEN_DIRECTED_BYTES_RCV` \[H\].
pub const OID_GEN_CO_BYTES_RCV: NDIS_OID = OID_GEN_DIRECTED_BYTES_RCV;

/// `NDIS_HARDWARE_STATUS`, a C enum (`int`) \[H: ntddndis.h\].
pub type NDIS_HARDWARE_STATUS = i32;
pub const NdisHardwareStatusReady: NDIS_HARDWARE_STATUS = 0;
pub const NdisHardwareStatusInitializing: NDIS_HARDWARE_STATUS = 1;
pub const NdisHardwareStatusReset: NDIS_HARDWARE_STATUS = 2;
pub const NdisHardwareStatusClosing: NDIS_HARDWARE_STATUS = 3;
pub const NdisHardwareStatusNotReady: NDIS_HARDWARE_STATUS = 4;

/// `NDIS_MEDIA_STATE`, the answer to `OID_GEN_CO_MEDIA_CONNECT_STATUS`, a C
/// enum \[H: ntddndis.h\]. Not `NDIS_MEDIA_CONNECT_STATE` (Unknown 0,
/// Connected 1, Disconnected 2) of the NDIS 6 attributes: here Connected is 0.
pub type NDIS_MEDIA_STATE = i32;
pub const NdisMediaStateConnected: NDIS_MEDIA_STATE = 0;
pub const NdisMediaStateDisconnected: NDIS_MEDIA_STATE = 1;

// Protocol option bits, OID_GEN_PROTOCOL_OPTIONS / OID_GEN_CO_PROTOCOL_OPTIONS
// [H: ntddndis.h; D: "OID_GEN_CO_PROTOCOL_OPTIONS"].
pub const NDIS_PROT_OPTION_ESTIMATED_LENGTH: ULONG = 0x0000_0001;
pub const NDIS_PROT_OPTION_NO_LOOPBACK: ULONG = 0x0000_0002;
pub const NDIS_PROT_OPTION_NO_RSVD_ON_RCVPKT: ULONG = 0x0000_0004;
pub const NDIS_PROT_OPTION_SEND_RESTRICTED: ULONG = 0x0000_0008;

// NDIS WAN framing bits, NDIS_WAN_CO_INFO.FramingBits and the link-info
// Send/RecvFramingBits [H: ndiswan.h; D: "OID_WAN_CO_GET_INFO"].
pub const RAS_FRAMING: ULONG = 0x0000_0001;
pub const RAS_COMPRESSION: ULONG = 0x0000_0002;
pub const PPP_MULTILINK_FRAMING: ULONG = 0x0000_0010;
pub const PPP_SHORT_SEQUENCE_HDR_FORMAT: ULONG = 0x0000_0020;
pub const PPP_MC_MULTILINK_FRAMING: ULONG = 0x0000_0040;
pub const PPP_FRAMING: ULONG = 0x0000_0100;
pub const PPP_COMPRESS_ADDRESS_CONTROL: ULONG = 0x0000_0200;
pub const PPP_COMPRESS_PROTOCOL_FIELD: ULONG = 0x0000_0400;
pub const PPP_ACCM_SUPPORTED: ULONG = 0x0000_0800;
pub const SLIP_FRAMING: ULONG = 0x0000_1000;
pub const SLIP_VJ_COMPRESSION: ULONG = 0x0000_2000;
pub const SLIP_VJ_AUTODETECT: ULONG = 0x0000_4000;
pub const PASS_THROUGH_MODE: ULONG = 0x1000_0000;
pub const RAW_PASS_THROUGH_MODE: ULONG = 0x2000_0000;
pub const TAPI_PROVIDER: ULONG = 0x8000_0000;

/// `NDIS_CO_LINK_SPEED` \[H: ntddndis.h\]: both speeds in units of 100 bit/s
/// \[D: "OID_GEN_CO_LINK_SPEED": "a value of 100,000 represents ... 10 Mbps"\].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_CO_LINK_SPEED {
    pub Outbound: ULONG,
    pub Inbound: ULONG,
}
assert_layout!(NDIS_CO_LINK_SPEED, size = 8, align = 4, { Outbound: 0, Inbound: 4 });

/// `NDIS_WAN_CO_INFO`, the answer to `OID_WAN_CO_GET_INFO` \[H: ndiswan.h\];
/// offsets \[C\].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_WAN_CO_INFO {
    pub MaxFrameSize: ULONG,
    pub MaxSendWindow: ULONG,
    pub FramingBits: ULONG,
    pub DesiredACCM: ULONG,
}
assert_layout!(NDIS_WAN_CO_INFO, size = 16, align = 4, {
    MaxFrameSize: 0, MaxSendWindow: 4, FramingBits: 8, DesiredACCM: 12,
});

/// `NDIS_WAN_CO_SET_LINK_INFO`, the input of `OID_WAN_CO_SET_LINK_INFO`
/// \[H: ndiswan.h\]; offsets \[C\]. Unlike the NDIS 3/4 `NDIS_WAN_SET_LINK_INFO`
/// it has no link handle: the VC names the link.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_WAN_CO_SET_LINK_INFO {
    pub MaxSendFrameSize: ULONG,
    pub MaxRecvFrameSize: ULONG,
    pub SendFramingBits: ULONG,
    pub RecvFramingBits: ULONG,
    pub SendCompressionBits: ULONG,
    pub RecvCompressionBits: ULONG,
    pub SendACCM: ULONG,
    pub RecvACCM: ULONG,
}
assert_layout!(NDIS_WAN_CO_SET_LINK_INFO, size = 32, align = 4, {
    MaxSendFrameSize: 0, MaxRecvFrameSize: 4, SendFramingBits: 8, RecvFramingBits: 12,
    SendCompressionBits: 16, RecvCompressionBits: 20, SendACCM: 24, RecvACCM: 28,
});

/// `NDIS_WAN_CO_GET_LINK_INFO`, the answer to `OID_WAN_CO_GET_LINK_INFO`
/// \[H: ndiswan.h\]: the same eight ULONGs as [`NDIS_WAN_CO_SET_LINK_INFO`];
/// offsets \[C\].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_WAN_CO_GET_LINK_INFO {
    pub MaxSendFrameSize: ULONG,
    pub MaxRecvFrameSize: ULONG,
    pub SendFramingBits: ULONG,
    pub RecvFramingBits: ULONG,
    pub SendCompressionBits: ULONG,
    pub RecvCompressionBits: ULONG,
    pub SendACCM: ULONG,
    pub RecvACCM: ULONG,
}
assert_layout!(NDIS_WAN_CO_GET_LINK_INFO, size = 32, align = 4, {
    MaxSendFrameSize: 0, MaxRecvFrameSize: 4, SendFramingBits: 8, RecvFramingBits: 12,
    SendCompressionBits: 16, RecvCompressionBits: 20, SendACCM: 24, RecvACCM: 28,
});

// ===========================================================================
// Call-manager OIDs (issue #4 path 10: ProtocolCoOidRequest).
//
// [H] ntddndis.h, "objects for Connection-oriented media call-managers" and
// "Objects for call-managers and MCMs that support TAPI access" (the 0xFE
// range of every NDIS 6 ntddndis.h; NDIS 5-era copies and RNDIS used 0xFF).
// [D] "OIDs for connection-oriented call managers and clients", "TAPI
// extension OIDs for connection-oriented NDIS" and each OID's page.
// ===========================================================================

/// Client → CM, set: add a permanent VC to the CM's list \[D\].
pub const OID_CO_ADD_PVC: NDIS_OID = 0xFE00_0001;
/// Client → CM, set: delete a permanent VC \[D\].
pub const OID_CO_DELETE_PVC: NDIS_OID = 0xFE00_0002;
/// Reserved for future use \[D\].
pub const OID_CO_GET_CALL_INFORMATION: NDIS_OID = 0xFE00_0003;
/// Client → CM, set: an alias address for the host, a `CO_ADDRESS` \[D\].
pub const OID_CO_ADD_ADDRESS: NDIS_OID = 0xFE00_0004;
/// Client → CM, set: delete an alias address, a `CO_ADDRESS` \[D\].
pub const OID_CO_DELETE_ADDRESS: NDIS_OID = 0xFE00_0005;
/// Client → CM, query: the addresses the host is reached at, a
/// `CO_ADDRESS_LIST` \[D\].
pub const OID_CO_GET_ADDRESSES: NDIS_OID = 0xFE00_0006;
/// CM → client, set: the CM's addresses changed \[D\].
pub const OID_CO_ADDRESS_CHANGE: NDIS_OID = 0xFE00_0007;
/// CM → client, set: the CM is ready to make and dispatch calls \[D\].
pub const OID_CO_SIGNALING_ENABLED: NDIS_OID = 0xFE00_0008;
/// CM → client, set: the CM can no longer make or dispatch calls \[D\].
pub const OID_CO_SIGNALING_DISABLED: NDIS_OID = 0xFE00_0009;
/// CM → client, set: a stand-alone CM unbinding asks the client to close
/// the AF \[D\].
pub const OID_CO_AF_CLOSE: NDIS_OID = 0xFE00_000A;

/// TAPI extension OIDs (client → CM or MCM) \[H\].
pub const OID_CO_TAPI_CM_CAPS: NDIS_OID = 0xFE00_1001;
pub const OID_CO_TAPI_LINE_CAPS: NDIS_OID = 0xFE00_1002;
pub const OID_CO_TAPI_ADDRESS_CAPS: NDIS_OID = 0xFE00_1003;
pub const OID_CO_TAPI_TRANSLATE_TAPI_CALLPARAMS: NDIS_OID = 0xFE00_1004;
pub const OID_CO_TAPI_TRANSLATE_NDIS_CALLPARAMS: NDIS_OID = 0xFE00_1005;
pub const OID_CO_TAPI_TRANSLATE_TAPI_SAP: NDIS_OID = 0xFE00_1006;
pub const OID_CO_TAPI_GET_CALL_DIAGNOSTICS: NDIS_OID = 0xFE00_1007;
pub const OID_CO_TAPI_REPORT_DIGITS: NDIS_OID = 0xFE00_1008;
pub const OID_CO_TAPI_DONT_REPORT_DIGITS: NDIS_OID = 0xFE00_1009;

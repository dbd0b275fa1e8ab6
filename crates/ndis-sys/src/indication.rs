//! `NDIS_STATUS_INDICATION`, what `NdisMCoIndicateStatusEx` takes.
//!
//! Source: field list from the contract §4.1 \[D\]; x64 offsets \[C\].

use crate::object::NDIS_OBJECT_HEADER;
use crate::types::*;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_STATUS_INDICATION {
    pub Header: NDIS_OBJECT_HEADER,
    pub SourceHandle: NDIS_HANDLE,
    pub PortNumber: NDIS_PORT_NUMBER,
    pub StatusCode: NDIS_STATUS,
    pub Flags: ULONG,
    pub DestinationHandle: NDIS_HANDLE,
    pub RequestId: PVOID,
    pub StatusBuffer: PVOID,
    pub StatusBufferSize: ULONG,
    pub Guid: GUID,
    pub NdisReserved: [PVOID; 4],
}
pub type PNDIS_STATUS_INDICATION = *mut NDIS_STATUS_INDICATION;
assert_layout!(NDIS_STATUS_INDICATION, size = 112, {
    Header: 0, SourceHandle: 8, PortNumber: 16, StatusCode: 20, Flags: 24,
    DestinationHandle: 32, RequestId: 40, StatusBuffer: 48, StatusBufferSize: 56,
    Guid: 60, NdisReserved: 80,
});
/// Through NdisReserved \[C\].
pub const NDIS_SIZEOF_STATUS_INDICATION_REVISION_1: usize = 112;

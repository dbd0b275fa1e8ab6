//! NDIS_STATUS values (ndis/status.h, ntstatus.h) \[H\], as listed in the
//! contract §4.2 unless marked otherwise.
//!
//! `NDIS_STATUS` is an `i32`; the constants are written as the WDK's hex
//! values and cast, so a failure reads `0xC0010015` in traces as in WinDbg.

use crate::types::NDIS_STATUS;

/// Casts the WDK's unsigned hex spelling to `NDIS_STATUS`.
const fn st(v: u32) -> NDIS_STATUS {
    // CAST: NDIS_STATUS is the same 32 bits, reinterpreted as signed.
    v as i32
}

pub const NDIS_STATUS_SUCCESS: NDIS_STATUS = 0;
pub const NDIS_STATUS_PENDING: NDIS_STATUS = st(0x0000_0103);
pub const NDIS_STATUS_NOT_RECOGNIZED: NDIS_STATUS = st(0x0001_0001);
pub const NDIS_STATUS_NOT_COPIED: NDIS_STATUS = st(0x0001_0002);
pub const NDIS_STATUS_NOT_ACCEPTED: NDIS_STATUS = st(0x0001_0003);
pub const NDIS_STATUS_CALL_ACTIVE: NDIS_STATUS = st(0x0001_0007);
/// Status indications a WAN MCM makes (contract §4.2) \[H\].
pub const NDIS_STATUS_WAN_CO_FRAGMENT: NDIS_STATUS = st(0x4001_0015);
pub const NDIS_STATUS_WAN_CO_LINKPARAMS: NDIS_STATUS = st(0x4001_0016);
pub const NDIS_STATUS_WAN_CO_MTULINKPARAMS: NDIS_STATUS = st(0x4001_0025);
pub const NDIS_STATUS_FAILURE: NDIS_STATUS = st(0xC000_0001);
pub const NDIS_STATUS_INVALID_PARAMETER: NDIS_STATUS = st(0xC000_000D);
pub const NDIS_STATUS_RESOURCES: NDIS_STATUS = st(0xC000_009A);
pub const NDIS_STATUS_NOT_SUPPORTED: NDIS_STATUS = st(0xC000_00BB);
pub const NDIS_STATUS_CLOSING: NDIS_STATUS = st(0xC001_0002);
pub const NDIS_STATUS_BAD_VERSION: NDIS_STATUS = st(0xC001_0004);
pub const NDIS_STATUS_BAD_CHARACTERISTICS: NDIS_STATUS = st(0xC001_0005);
pub const NDIS_STATUS_ADAPTER_NOT_FOUND: NDIS_STATUS = st(0xC001_0006);
pub const NDIS_STATUS_REQUEST_ABORTED: NDIS_STATUS = st(0xC001_000C);
pub const NDIS_STATUS_INVALID_LENGTH: NDIS_STATUS = st(0xC001_0014);
pub const NDIS_STATUS_INVALID_DATA: NDIS_STATUS = st(0xC001_0015);
pub const NDIS_STATUS_BUFFER_TOO_SHORT: NDIS_STATUS = st(0xC001_0016);
pub const NDIS_STATUS_INVALID_OID: NDIS_STATUS = st(0xC001_0017);
pub const NDIS_STATUS_UNSUPPORTED_MEDIA: NDIS_STATUS = st(0xC001_0019);
pub const NDIS_STATUS_INVALID_SAP: NDIS_STATUS = st(0xC001_0020);
pub const NDIS_STATUS_SAP_IN_USE: NDIS_STATUS = st(0xC001_0021);
pub const NDIS_STATUS_INVALID_ADDRESS: NDIS_STATUS = st(0xC001_0022);
pub const NDIS_STATUS_VC_NOT_ACTIVATED: NDIS_STATUS = st(0xC001_0023);
pub const NDIS_STATUS_DEST_OUT_OF_ORDER: NDIS_STATUS = st(0xC001_0024);
pub const NDIS_STATUS_VC_NOT_AVAILABLE: NDIS_STATUS = st(0xC001_0025);
pub const NDIS_STATUS_CELLRATE_NOT_AVAILABLE: NDIS_STATUS = st(0xC001_0026);
pub const NDIS_STATUS_INCOMPATABLE_QOS: NDIS_STATUS = st(0xC001_0027);
pub const NDIS_STATUS_AAL_PARAMS_UNSUPPORTED: NDIS_STATUS = st(0xC001_0028);
pub const NDIS_STATUS_NO_ROUTE_TO_DESTINATION: NDIS_STATUS = st(0xC001_0029);
/// `STATUS_INVALID_PARAMETER` (ntstatus.h) \[H\]: what NdisSetOptionalHandlers
/// and NdisMSetMiniportAttributes return for a bad header \[B\].
pub const STATUS_INVALID_PARAMETER: NDIS_STATUS = st(0xC000_000D);
/// `NDIS_STATUS_SEND_ABORTED` = `STATUS_NDIS_REQUEST_ABORTED` = 0xC023000C
/// \[H: SDK ndis/status.h, ntstatus.h\]. Not NDIS_STATUS_REQUEST_ABORTED
/// (0xC001000C), which is the OID-cancel status.
pub const NDIS_STATUS_SEND_ABORTED: NDIS_STATUS = st(0xC023_000C);
/// `NDIS_STATUS_PAUSED` = `STATUS_NDIS_PAUSED` = 0xC023002A \[H: SDK
/// ndis/status.h, ntstatus.h\]: the per-NBL status of a send a paused (or
/// pausing) miniport rejects (NET_BUFFER_LIST.Status, MiniportPause \[D\]).
pub const NDIS_STATUS_PAUSED: NDIS_STATUS = st(0xC023_002A);
pub const STATUS_SUCCESS: NDIS_STATUS = 0;

/// True for the failure statuses (severity bits 11), as `NT_ERROR` tests.
#[must_use]
pub const fn ndis_status_is_error(status: NDIS_STATUS) -> bool {
    // CAST: look at the severity bits of the same 32 bits.
    (status as u32) >> 30 == 3
}

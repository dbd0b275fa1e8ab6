//! OID glue: turns an `NDIS_OID_REQUEST` into a checked [`OidRequest`] view,
//! lets the FFI-free [`crate::ctrl_path`] answer it, and writes the answer
//! back. Every covmini OID answer is synchronous: nothing here pends.

use ndis_sys::*;

use crate::ctrl_path::{self, AdapterInfo, OidOutcome, OidRequest, RequestKind, Scope, SetEffect};

/// Answers `request` for `scope`. Returns the status and, for a successful
/// set, what the caller must store.
///
/// # Safety
/// `request` is NULL or the NDIS_OID_REQUEST NDIS passed to the handler:
/// its InformationBuffer is valid for InformationBufferLength bytes and owned
/// by this driver until the handler returns.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
pub(super) unsafe fn answer(
    request: PNDIS_OID_REQUEST,
    scope: Scope<'_>,
    adapter: &AdapterInfo,
) -> (NDIS_STATUS, Option<SetEffect>) {
    if request.is_null() {
        return (NDIS_STATUS_INVALID_PARAMETER, None);
    }
    // SAFETY: non-null request from NDIS (precondition), ours for the call.
    let req = unsafe { &mut *request };
    let kind = RequestKind::from_request_type(req.RequestType);
    // SAFETY: QUERY_INFORMATION and SET_INFORMATION share Oid,
    // InformationBuffer and InformationBufferLength (asserted in ndis-sys);
    // a method request is refused by ctrl_path before its buffer is used.
    let info = unsafe { req.DATA.QUERY_INFORMATION };
    let len = usize::try_from(info.InformationBufferLength).unwrap_or(0);
    let buffer: &mut [u8] = if info.InformationBuffer.is_null() || len == 0 {
        &mut []
    } else {
        // SAFETY: NDIS's information buffer of InformationBufferLength bytes,
        // exclusively ours until the handler returns (precondition).
        unsafe { core::slice::from_raw_parts_mut(info.InformationBuffer.cast::<u8>(), len) }
    };
    let outcome: OidOutcome = ctrl_path::handle(
        OidRequest {
            kind,
            oid: info.Oid,
            buffer,
        },
        scope,
        adapter,
    );
    // BytesWritten (query) and BytesRead (set) share an offset, as do the two
    // BytesNeeded fields (asserted in ndis-sys), so one write serves both.
    let mut done = info;
    done.BytesWritten = outcome.bytes_written;
    done.BytesNeeded = outcome.bytes_needed;
    req.DATA.QUERY_INFORMATION = done;
    (outcome.status, outcome.effect)
}

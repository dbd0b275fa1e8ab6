//! The NDIS calls the core asks for ([`NdisCall`]). **Not built yet**: the
//! map from the core's handles to NDIS's (NdisAfHandle, NdisSapHandle,
//! NdisVcHandle, NdisPartyHandle) and the CO_SAP / CO_CALL_PARAMETERS /
//! NBL builders do not exist, so every call answers
//! `NDIS_STATUS_NOT_SUPPORTED` without reaching NDIS, which the core
//! treats as a failed call (the object it created is freed; a state it
//! entered is left as the failure arrow says). A client sees
//! `COVCLIENT_RESULT.ndis_status` = NDIS_STATUS_NOT_SUPPORTED.
//!
//! Must not: pretend a call was made.

use ndis_sys::NDIS_STATUS_NOT_SUPPORTED;

use crate::core::NdisCall;

/// Makes `call`; its NDIS status as the ABI carries it.
///
/// # IRQL
/// PASSIVE_LEVEL (from the dispatch routines); no covclient lock held.
pub(super) fn make(call: &NdisCall) -> u32 {
    let _ = call;
    // CAST: an NDIS_STATUS's bits.
    NDIS_STATUS_NOT_SUPPORTED as u32
}

//! The checked reading of a client's blocks: CO_CALL_PARAMETERS (with its
//! CO_CALL_MANAGER_PARAMETERS and CO_MEDIA_PARAMETERS), CO_SAP, the
//! FLOWSPECs and CO_ADDRESS_FAMILY, as `ctrl_path`'s `wire` module reads OID buffers. Every raw
//! read of a block a client passed to a call-manager handler is here, each
//! bounded by the FFI-free checks of [`crate::call_manager`]
//! ([`check_sap_header`], [`check_called_address_header`]); the handlers
//! get checked values ([`Address`], [`CallShape`], FLOWSPECs) or the
//! documented status. The one write, [`fit_flows`], puts clamped FLOWSPECs
//! back into the client's [in, out] parameters.
//!
//! Must not: keep a pointer to a client's block past the call that passed
//! it, read past the fixed part and the tail the block states, take the
//! adapter lock, or call NDIS. Every routine runs at the IRQL of the handler
//! that calls it (<= DISPATCH_LEVEL) and allocates nothing.

use ndis_sys::*;

use super::call_block::CallShape;
use super::trace::{INFO, WARN};
use crate::call_manager::{Address, CallParamsError, check_called_address_header, check_sap_header, clamp_flow};
use crate::config;

// --- Reading a client's blocks ------------------------------------------------------
//
// CO_SAP, CO_CALL_MANAGER_PARAMETERS and CO_MEDIA_PARAMETERS end in a
// one-byte `[1]` array, so their `sizeof` (12, 76, 32 on x64) counts bytes of
// the tail and padding. A client that allocates the fixed fields and the
// tail it states, no more, is within the contract, and a copy of the whole
// structure would read past its block: these read field by field.

/// The ULONG at `offset` bytes into a client's structure at `base`.
///
/// # Safety
/// `base` is non-NULL and the 4 bytes at `offset` are readable: a field of
/// the fixed part the client must provide.
unsafe fn field_u32<T>(base: *const T, offset: usize) -> ULONG {
    // SAFETY: as the precondition says; read unaligned (a client's block
    // need not be aligned on every architecture's terms).
    unsafe { base.wrapping_byte_add(offset).cast::<ULONG>().read_unaligned() }
}

/// The Transmit and Receive FLOWSPECs of a client's
/// CO_CALL_MANAGER_PARAMETERS, and nothing after them.
///
/// # Safety
/// `cm` is non-NULL and points at the client's CO_CALL_MANAGER_PARAMETERS:
/// at least its two FLOWSPECs are readable.
unsafe fn read_flows(cm: PCO_CALL_MANAGER_PARAMETERS) -> (FLOWSPEC, FLOWSPEC) {
    let tx = cm
        .wrapping_byte_add(core::mem::offset_of!(CO_CALL_MANAGER_PARAMETERS, Transmit))
        .cast::<FLOWSPEC>();
    let rx = cm
        .wrapping_byte_add(core::mem::offset_of!(CO_CALL_MANAGER_PARAMETERS, Receive))
        .cast::<FLOWSPEC>();
    // SAFETY: the first FLOWSPEC of the fixed part (precondition).
    let transmit = unsafe { tx.read_unaligned() };
    // SAFETY: the second FLOWSPEC of the fixed part (precondition).
    let receive = unsafe { rx.read_unaligned() };
    (transmit, receive)
}

/// The new flows of a ProtocolCmModifyCallQoS: the two fixed FLOWSPECs of
/// the client's CallMgrParameters (neither the CallMgrSpecific tail nor
/// MediaParameters is read, so no client length is trusted), or None when
/// `cp` or its CallMgrParameters is NULL (NDIS_STATUS_INVALID_DATA).
///
/// # Safety
/// `cp` is NULL or NDIS's CO_CALL_PARAMETERS for the request, whose
/// non-NULL CallMgrParameters points at the client's
/// CO_CALL_MANAGER_PARAMETERS.
pub(super) unsafe fn read_qos_flows(cp: PCO_CALL_PARAMETERS) -> Option<(FLOWSPEC, FLOWSPEC)> {
    if cp.is_null() {
        return None;
    }
    // SAFETY: NDIS's CO_CALL_PARAMETERS for this request (non-NULL, checked
    // above; precondition).
    let params = unsafe { cp.read_unaligned() };
    if params.CallMgrParameters.is_null() {
        return None;
    }
    // SAFETY: a non-NULL link to the client's CO_CALL_MANAGER_PARAMETERS
    // (precondition); only its two fixed FLOWSPECs are read.
    Some(unsafe { read_flows(params.CallMgrParameters) })
}

// --- Address families -------------------------------------------------------------

/// Checks the CO_ADDRESS_FAMILY a client opens: covmini's AF
/// ([`config::COVMINI_AF`]; another cannot arrive, NDIS matches on it, and
/// is refused with NDIS_STATUS_FAILURE) in a version covmini speaks (same
/// major, minor at most covmini's; else NDIS_STATUS_BAD_VERSION).
///
/// # Safety
/// `af` is non-NULL: NDIS's CO_ADDRESS_FAMILY for ProtocolCmOpenAf, valid
/// for the call.
pub(super) unsafe fn check_af(af: PCO_ADDRESS_FAMILY) -> Result<(), NDIS_STATUS> {
    // SAFETY: NDIS's CO_ADDRESS_FAMILY, non-NULL and valid for the call
    // (precondition); a fixed 12-byte structure with no tail.
    let requested = unsafe { af.read_unaligned() };
    if requested.AddressFamily != config::COVMINI_AF {
        trace!(
            WARN,
            "ProtocolCmOpenAf: AF {:#x} is not covmini's", requested.AddressFamily
        );
        return Err(NDIS_STATUS_FAILURE);
    }
    if requested.MajorVersion != config::AF_MAJOR_VERSION || requested.MinorVersion > config::AF_MINOR_VERSION {
        trace!(
            WARN,
            "ProtocolCmOpenAf: AF version {}.{} not supported", requested.MajorVersion, requested.MinorVersion
        );
        return Err(NDIS_STATUS_BAD_VERSION);
    }
    Ok(())
}

// --- SAPs -------------------------------------------------------------------------

/// Reads a CO_SAP into a covmini address.
///
/// # Safety
/// `sap` is NULL or NDIS's CO_SAP, holding SapLength bytes after its header.
pub(super) unsafe fn read_sap(sap: PCO_SAP) -> Result<Address, NDIS_STATUS> {
    if sap.is_null() {
        return Err(NDIS_STATUS_INVALID_DATA);
    }
    // SAFETY: non-null CO_SAP; SapType is in its 8-byte header (precondition).
    let sap_type = unsafe { field_u32(sap, core::mem::offset_of!(CO_SAP, SapType)) };
    // SAFETY: non-null CO_SAP (checked above); SapLength is in its 8-byte
    // header, which the client must provide (precondition).
    let sap_length = unsafe { field_u32(sap, core::mem::offset_of!(CO_SAP, SapLength)) };
    let len = check_sap_header(sap_type, sap_length).map_err(|e| {
        trace!(WARN, "ProtocolCmRegisterSap: {:?}", e);
        e.status()
    })?;
    let tail = sap.cast::<u8>().wrapping_add(core::mem::offset_of!(CO_SAP, Sap));
    // SAFETY: the SAP holds SapLength >= len bytes after the header
    // (precondition); len <= MAX_ADDRESS_LEN was checked before this read.
    let bytes = unsafe { core::slice::from_raw_parts(tail, len) };
    Address::new(bytes).map_err(|_| NDIS_STATUS_INVALID_DATA)
}

// --- Call parameters ----------------------------------------------------------------

/// Reads and checks a make call's parameters: the called address and the
/// flows covmini copies into its own parameters.
///
/// # Safety
/// `cp` is NULL or NDIS's CO_CALL_PARAMETERS whose non-NULL links point to
/// structures with tails of the lengths they state.
pub(super) unsafe fn read_call(cp: PCO_CALL_PARAMETERS) -> Result<(Address, CallShape), CallParamsError> {
    if cp.is_null() {
        return Err(CallParamsError::NoCallParameters);
    }
    // SAFETY: non-null (precondition).
    let params = unsafe { cp.read_unaligned() };
    if params.MediaParameters.is_null() {
        return Err(CallParamsError::NoMediaParameters);
    }
    let (transmit, receive) = if params.CallMgrParameters.is_null() {
        (UNSPECIFIED_FLOW, UNSPECIFIED_FLOW)
    } else {
        // SAFETY: non-null link (precondition); only the two FLOWSPECs are
        // read, never the CallMgrSpecific header or tail.
        unsafe { read_flows(params.CallMgrParameters) }
    };
    // SAFETY: the non-NULL MediaParameters link (checked above) of NDIS's
    // CO_CALL_PARAMETERS, pointing at the client's CO_MEDIA_PARAMETERS with
    // a tail of the length it states (precondition).
    let (address, media_flags, receive_size_hint) = unsafe { read_media(params.MediaParameters) }?;
    Ok((
        address,
        CallShape {
            transmit,
            receive,
            media_flags,
            receive_size_hint,
        },
    ))
}

/// The flows of a call whose client gave no CO_CALL_MANAGER_PARAMETERS.
const UNSPECIFIED_FLOW: FLOWSPEC = FLOWSPEC {
    TokenRate: QOS_NOT_SPECIFIED,
    TokenBucketSize: QOS_NOT_SPECIFIED,
    PeakBandwidth: QOS_NOT_SPECIFIED,
    Latency: QOS_NOT_SPECIFIED,
    DelayVariation: QOS_NOT_SPECIFIED,
    ServiceType: SERVICETYPE_BESTEFFORT,
    MaxSduSize: QOS_NOT_SPECIFIED,
    MinimumPolicedSize: QOS_NOT_SPECIFIED,
};

/// Reads and checks a make call's media parameters: the called address
/// (in MediaSpecific), Flags and ReceiveSizeHint.
///
/// # Safety
/// `media_ptr` is a non-NULL CO_MEDIA_PARAMETERS of NDIS's call parameters
/// with a MediaSpecific tail of the length it states.
///
/// # IRQL
/// Any IRQL (reads only), no lock.
unsafe fn read_media(media_ptr: PCO_MEDIA_PARAMETERS) -> Result<(Address, u32, u32), CallParamsError> {
    let specific = core::mem::offset_of!(CO_MEDIA_PARAMETERS, MediaSpecific);
    // SAFETY: non-null (precondition); Flags is in the fixed part.
    let media_flags = unsafe { field_u32(media_ptr, core::mem::offset_of!(CO_MEDIA_PARAMETERS, Flags)) };
    // SAFETY: non-null, the client's CO_MEDIA_PARAMETERS
    // (precondition); ReceiveSizeHint is in its fixed part.
    let receive_size_hint =
        unsafe { field_u32(media_ptr, core::mem::offset_of!(CO_MEDIA_PARAMETERS, ReceiveSizeHint)) };
    // SAFETY: non-null, the client's CO_MEDIA_PARAMETERS
    // (precondition); MediaSpecific's
    // ParamType is in its fixed part (the header of the specific parameters).
    let param_type = unsafe {
        field_u32(
            media_ptr,
            specific + core::mem::offset_of!(CO_SPECIFIC_PARAMETERS, ParamType),
        )
    };
    // SAFETY: non-null, the client's CO_MEDIA_PARAMETERS
    // (precondition); MediaSpecific's
    // Length is in its fixed part (the header of the specific parameters).
    let length = unsafe {
        field_u32(
            media_ptr,
            specific + core::mem::offset_of!(CO_SPECIFIC_PARAMETERS, Length),
        )
    };
    let len = check_called_address_header(param_type, length)?;
    let tail = media_ptr.cast::<u8>().wrapping_add(
        core::mem::offset_of!(CO_MEDIA_PARAMETERS, MediaSpecific)
            + core::mem::offset_of!(CO_SPECIFIC_PARAMETERS, Parameters),
    );
    // SAFETY: the tail holds Length >= len bytes (precondition); len was
    // bounded by MAX_ADDRESS_LEN before this read.
    let bytes = unsafe { core::slice::from_raw_parts(tail, len) };
    let address = Address::new(bytes).map_err(|_| CallParamsError::BadAddressLength(length))?;
    Ok((address, media_flags, receive_size_hint))
}

/// The Flags of a make call's CO_CALL_PARAMETERS (MULTIPOINT_VC).
///
/// # Safety
/// `cp` is NDIS's CO_CALL_PARAMETERS of the request being handled, already
/// read by [`read_call`] (non-NULL).
pub(super) unsafe fn call_flags(cp: PCO_CALL_PARAMETERS) -> ULONG {
    // SAFETY: non-NULL, NDIS's CO_CALL_PARAMETERS for this request
    // (precondition); Flags is in its fixed part.
    unsafe { cp.read_unaligned() }.Flags
}

/// Fits a new call's (or party's) flows to the link
/// ([`crate::call_manager::clamp_flow`]: TokenRate and PeakBandwidth at most
/// 125,000,000 bytes/s, MaxSduSize at most the MTU) in covmini's copy, and
/// when that changed anything writes the two FLOWSPECs back into the
/// client's CallMgrParameters and sets CALL_PARAMETERS_CHANGED in its Flags
/// (ProtocolClMakeCallComplete: the flag "indicates that the call manager
/// modified the client-supplied call parameters"). Only the fixed FLOWSPECs
/// are written, which [`read_call`] read, never the CallMgrSpecific tail.
///
/// # Safety
/// `cp` is NDIS's CO_CALL_PARAMETERS of the request being handled, already
/// read by [`read_call`] (non-NULL), which the client lets the call
/// manager change ([in, out]) until the request completes.
pub(super) unsafe fn fit_flows(cp: PCO_CALL_PARAMETERS, shape: &mut CallShape) {
    let (transmit, tx_changed) = clamp_flow(&shape.transmit, config::LINK_SPEED_BPS, config::MTU);
    let (receive, rx_changed) = clamp_flow(&shape.receive, config::LINK_SPEED_BPS, config::MTU);
    if !(tx_changed || rx_changed) {
        return;
    }
    shape.transmit = transmit;
    shape.receive = receive;
    // SAFETY: non-NULL (precondition).
    let params = unsafe { cp.read_unaligned() };
    let cm = params.CallMgrParameters;
    if cm.is_null() {
        // Nothing was specified, so nothing was clamped (read_call's default).
        return;
    }
    let tx = cm
        .wrapping_byte_add(core::mem::offset_of!(CO_CALL_MANAGER_PARAMETERS, Transmit))
        .cast::<FLOWSPEC>();
    let rx = cm
        .wrapping_byte_add(core::mem::offset_of!(CO_CALL_MANAGER_PARAMETERS, Receive))
        .cast::<FLOWSPEC>();
    let flags = cp
        .wrapping_byte_add(core::mem::offset_of!(CO_CALL_PARAMETERS, Flags))
        .cast::<ULONG>();
    // SAFETY: the client's CO_CALL_MANAGER_PARAMETERS (read by read_call):
    // its fixed Transmit FLOWSPEC is in bounds; [in, out] for the call manager.
    unsafe { tx.write_unaligned(transmit) };
    // SAFETY: the client's CO_CALL_MANAGER_PARAMETERS (read by read_call):
    // its fixed Receive FLOWSPEC is in bounds; [in, out] for the call manager.
    unsafe { rx.write_unaligned(receive) };
    // SAFETY: the client's CO_CALL_PARAMETERS (precondition): its Flags.
    unsafe { flags.write_unaligned(params.Flags | CALL_PARAMETERS_CHANGED) };
    trace!(INFO, "call parameters clamped to the link: CALL_PARAMETERS_CHANGED");
}

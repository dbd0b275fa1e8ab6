//! Checking a ModifyCallQoS request's flows against the fabric's link.
//!
//! covmini reads only the two fixed FLOWSPECs of a CO_CALL_MANAGER_PARAMETERS
//! (never its variable-length CallMgrSpecific tail, so no client length is
//! trusted). A flow may ask for at most the link: TokenRate and
//! PeakBandwidth are bytes per second (FLOWSPEC, qos.h), each either
//! `QOS_NOT_SPECIFIED` or no more than the link speed / 8; MaxSduSize is
//! `QOS_NOT_SPECIFIED` or 1..=MTU. Anything above is **refused**, not
//! clamped: clamping would rewrite the client's parameters behind its back
//! (CALL_PARAMETERS_CHANGED exists for make call and incoming call answers,
//! not for a QoS change), while a refusal leaves the call exactly as it was,
//! which is what NdisClModifyCallQoS's caller can rely on.

use ndis_sys::{FLOWSPEC, NDIS_STATUS, NDIS_STATUS_INCOMPATABLE_QOS, QOS_NOT_SPECIFIED, ULONG};

/// Why a flow is not acceptable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QosError {
    /// TokenRate above the link (bytes per second).
    TokenRate(ULONG),
    /// PeakBandwidth above the link (bytes per second).
    PeakBandwidth(ULONG),
    /// TokenRate above PeakBandwidth (both specified).
    RateAbovePeak,
    /// MaxSduSize 0 or above the MTU.
    MaxSdu(ULONG),
}

impl QosError {
    /// The status ProtocolCmModifyCallQoS returns: the QoS cannot be met.
    #[must_use]
    pub const fn status(self) -> NDIS_STATUS {
        NDIS_STATUS_INCOMPATABLE_QOS
    }
}

/// The link in bytes per second, saturated to a FLOWSPEC field.
#[must_use]
pub fn link_bytes_per_second(link_bps: u64) -> ULONG {
    ULONG::try_from(link_bps / 8).unwrap_or(ULONG::MAX)
}

/// Checks one flow against a link of `link_bps` bits per second and an MTU.
pub fn check_flow(flow: &FLOWSPEC, link_bps: u64, mtu: ULONG) -> Result<(), QosError> {
    let link = link_bytes_per_second(link_bps);
    let specified = |v: ULONG| v != QOS_NOT_SPECIFIED;
    if specified(flow.TokenRate) && flow.TokenRate > link {
        return Err(QosError::TokenRate(flow.TokenRate));
    }
    if specified(flow.PeakBandwidth) && flow.PeakBandwidth > link {
        return Err(QosError::PeakBandwidth(flow.PeakBandwidth));
    }
    if specified(flow.TokenRate) && specified(flow.PeakBandwidth) && flow.TokenRate > flow.PeakBandwidth {
        return Err(QosError::RateAbovePeak);
    }
    if specified(flow.MaxSduSize) && (flow.MaxSduSize == 0 || flow.MaxSduSize > mtu) {
        return Err(QosError::MaxSdu(flow.MaxSduSize));
    }
    Ok(())
}

/// Checks both flows of a QoS change.
pub fn check_flows(transmit: &FLOWSPEC, receive: &FLOWSPEC, link_bps: u64, mtu: ULONG) -> Result<(), QosError> {
    check_flow(transmit, link_bps, mtu)?;
    check_flow(receive, link_bps, mtu)
}

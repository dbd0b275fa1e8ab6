//! Checking a ModifyCallQoS request's flows against the fabric's link, and
//! fitting a make call's flows to it.
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
//!
//! A make call (or an added party) is different: the call does not exist
//! yet, and the client asks the call manager to set it up with parameters
//! it may change. ProtocolClMakeCallComplete (and ProtocolClAddPartyComplete)
//! tell the client to check CALL_PARAMETERS_CHANGED, "which indicates that
//! the call manager modified the client-supplied call parameters". So there
//! a flow beyond the link is **clamped** ([`clamp_flow`]): TokenRate and
//! PeakBandwidth lowered to the link, MaxSduSize to the MTU, and the glue
//! writes the result back with that flag.

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

/// A make call's flow fitted to a link of `link_bps` bits per second and an
/// MTU: a TokenRate or PeakBandwidth above the link is lowered to it, a
/// MaxSduSize above the MTU to the MTU. `QOS_NOT_SPECIFIED` and values
/// within the link stay as they are (so does anything [`check_flow`] would
/// refuse for another reason, such as a MaxSduSize of 0). Returns the flow
/// and whether it changed.
#[must_use]
pub fn clamp_flow(flow: &FLOWSPEC, link_bps: u64, mtu: ULONG) -> (FLOWSPEC, bool) {
    let link = link_bytes_per_second(link_bps);
    let fit = |v: ULONG, max: ULONG| if v != QOS_NOT_SPECIFIED && v > max { max } else { v };
    let out = FLOWSPEC {
        TokenRate: fit(flow.TokenRate, link),
        PeakBandwidth: fit(flow.PeakBandwidth, link),
        MaxSduSize: fit(flow.MaxSduSize, mtu),
        ..*flow
    };
    let changed =
        (out.TokenRate, out.PeakBandwidth, out.MaxSduSize) != (flow.TokenRate, flow.PeakBandwidth, flow.MaxSduSize);
    (out, changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndis_sys::SERVICETYPE_BESTEFFORT;

    const LINK: u64 = 1_000_000_000;
    const MTU: ULONG = 1500;

    fn flow(rate: ULONG, peak: ULONG, sdu: ULONG) -> FLOWSPEC {
        FLOWSPEC {
            TokenRate: rate,
            TokenBucketSize: 9000,
            PeakBandwidth: peak,
            Latency: QOS_NOT_SPECIFIED,
            DelayVariation: QOS_NOT_SPECIFIED,
            ServiceType: SERVICETYPE_BESTEFFORT,
            MaxSduSize: sdu,
            MinimumPolicedSize: QOS_NOT_SPECIFIED,
        }
    }

    #[test]
    fn a_flow_within_the_link_is_left_alone() {
        let f = flow(125_000, 125_000_000, 1500);
        assert_eq!(clamp_flow(&f, LINK, MTU), (f, false));
        let unspecified = flow(QOS_NOT_SPECIFIED, QOS_NOT_SPECIFIED, QOS_NOT_SPECIFIED);
        assert_eq!(clamp_flow(&unspecified, LINK, MTU), (unspecified, false));
    }

    #[test]
    fn rates_above_the_link_and_an_sdu_above_the_mtu_are_lowered_and_nothing_else() {
        let (out, changed) = clamp_flow(&flow(400_000_000, 300_000_000, 9000), LINK, MTU);
        assert!(changed);
        assert_eq!(out, flow(125_000_000, 125_000_000, 1500));
        assert_eq!(check_flow(&out, LINK, MTU), Ok(()), "the clamped flow fits");
        // One field is enough to count as a change; the rest is kept.
        let (out, changed) = clamp_flow(&flow(1000, QOS_NOT_SPECIFIED, 1501), LINK, MTU);
        assert!(changed);
        assert_eq!(out, flow(1000, QOS_NOT_SPECIFIED, 1500));
        assert_eq!(out.TokenBucketSize, 9000);
    }
}

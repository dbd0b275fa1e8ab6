//! Call parameters as plain Rust values ([`CallSpec`]): what a scripted
//! client asks for and what the emulator read back from a driver's
//! CO_CALL_PARAMETERS.
//!
//! It owns the value type only. It must not touch C memory (that is
//! `ffi::params` and `ffi::raw`, which build and read the blocks) nor
//! depend on any other module of the crate: it is a leaf both the FFI
//! layer and the emulator's state name.

use ndis_sys::*;

/// Call parameters as plain Rust values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallSpec {
    /// CO_CALL_PARAMETERS.Flags (MULTIPOINT_VC, CALL_PARAMETERS_CHANGED, ...).
    pub flags: ULONG,
    /// CallMgrParameters->Transmit.
    pub transmit: FLOWSPEC,
    /// CallMgrParameters->Receive.
    pub receive: FLOWSPEC,
    /// CallMgrSpecific ParamType and bytes.
    pub cm_specific_type: ULONG,
    /// CallMgrSpecific bytes.
    pub cm_specific: Vec<u8>,
    /// CO_MEDIA_PARAMETERS.Flags.
    pub media_flags: ULONG,
    /// CO_MEDIA_PARAMETERS.ReceiveSizeHint.
    pub receive_size_hint: ULONG,
    /// MediaSpecific ParamType and bytes (covmini carries addresses here).
    pub media_specific_type: ULONG,
    /// MediaSpecific bytes.
    pub media_specific: Vec<u8>,
}

impl CallSpec {
    /// Best-effort flows of `bytes_per_second` both ways with an SDU limit.
    #[must_use]
    pub fn best_effort(bytes_per_second: ULONG, max_sdu: ULONG) -> Self {
        let flow = FLOWSPEC {
            TokenRate: bytes_per_second,
            TokenBucketSize: max_sdu,
            PeakBandwidth: bytes_per_second,
            Latency: QOS_NOT_SPECIFIED,
            DelayVariation: QOS_NOT_SPECIFIED,
            ServiceType: SERVICETYPE_BESTEFFORT,
            MaxSduSize: max_sdu,
            MinimumPolicedSize: QOS_NOT_SPECIFIED,
        };
        Self {
            flags: 0,
            transmit: flow,
            receive: flow,
            cm_specific_type: 0,
            cm_specific: Vec::new(),
            media_flags: TRANSMIT_VC | RECEIVE_VC,
            receive_size_hint: max_sdu,
            media_specific_type: 0,
            media_specific: Vec::new(),
        }
    }
}

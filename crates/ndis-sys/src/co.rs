//! Connection-oriented structures: address families, SAPs, addresses, call
//! parameters and FLOWSPEC (ndis.h, qos.h), with their flags and AF values.
//!
//! Source: contract §4.1/§4.2 \[H\] unless marked. Variable-length tails
//! (`Sap[1]`, `Parameters[1]`, `Address[1]`) are declared as one-element
//! arrays as in C; `sizeof` therefore includes the padding C gives them, and
//! the data starts at the asserted offset. Code that reads a tail must bound
//! it by the enclosing buffer, never by these declarations.

use crate::types::{NDIS_AF, NDIS_HANDLE, UCHAR, ULONG};

/// `CO_ADDRESS_FAMILY` \[H\].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CO_ADDRESS_FAMILY {
    pub AddressFamily: NDIS_AF,
    pub MajorVersion: ULONG,
    pub MinorVersion: ULONG,
}
pub type PCO_ADDRESS_FAMILY = *mut CO_ADDRESS_FAMILY;
assert_layout!(CO_ADDRESS_FAMILY, size = 12, { AddressFamily: 0, MajorVersion: 4, MinorVersion: 8 });

/// `CO_SAP { ULONG SapType; ULONG SapLength; UCHAR Sap[1]; }` \[H\]; sizeof 12 \[C\].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CO_SAP {
    pub SapType: ULONG,
    pub SapLength: ULONG,
    pub Sap: [UCHAR; 1],
}
pub type PCO_SAP = *mut CO_SAP;
assert_layout!(CO_SAP, size = 12, { SapType: 0, SapLength: 4, Sap: 8 });

/// `CO_ADDRESS { ULONG AddressSize; UCHAR Address[1]; }` \[H\]; sizeof 8 \[C\].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CO_ADDRESS {
    pub AddressSize: ULONG,
    pub Address: [UCHAR; 1],
}
assert_layout!(CO_ADDRESS, size = 8, { AddressSize: 0, Address: 4 });

/// `CO_ADDRESS_LIST` \[H\]; sizeof 16 \[C\].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CO_ADDRESS_LIST {
    pub NumberOfAddressesAvailable: ULONG,
    pub NumberOfAddresses: ULONG,
    pub AddressList: CO_ADDRESS,
}
assert_layout!(CO_ADDRESS_LIST, size = 16, { NumberOfAddressesAvailable: 0, NumberOfAddresses: 4, AddressList: 8 });

/// `CO_SPECIFIC_PARAMETERS { ULONG ParamType; ULONG Length; UCHAR Parameters[1]; }` \[H\]; sizeof 12 \[H\].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CO_SPECIFIC_PARAMETERS {
    pub ParamType: ULONG,
    pub Length: ULONG,
    pub Parameters: [UCHAR; 1],
}
assert_layout!(CO_SPECIFIC_PARAMETERS, size = 12, align = 4, { ParamType: 0, Length: 4, Parameters: 8 });

/// `FLOWSPEC` (qos.h): eight ULONGs, 32 bytes \[H\].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FLOWSPEC {
    pub TokenRate: ULONG,
    pub TokenBucketSize: ULONG,
    pub PeakBandwidth: ULONG,
    pub Latency: ULONG,
    pub DelayVariation: ULONG,
    pub ServiceType: ULONG,
    pub MaxSduSize: ULONG,
    pub MinimumPolicedSize: ULONG,
}
assert_layout!(FLOWSPEC, size = 32, {
    TokenRate: 0, TokenBucketSize: 4, PeakBandwidth: 8, Latency: 12,
    DelayVariation: 16, ServiceType: 20, MaxSduSize: 24, MinimumPolicedSize: 28,
});
/// `QOS_NOT_SPECIFIED` (qos.h) \[H\].
pub const QOS_NOT_SPECIFIED: ULONG = 0xFFFF_FFFF;
// SERVICETYPE_* (qos.h, which km/ndis.h includes for FLOWSPEC) [H: the SDK's
// shared/qos.h; the same values in Microsoft's older Platform SDK qos.h
// ("QoS definitions for NDIS components")]. The values run 0-6, 9, 0xA, 0xD:
// SERVICETYPE_NOCHANGE is 6 (an earlier version of this file had 0x8000,
// which is no qos.h value). `build/layout_table.rs` checks them against the
// installed WDK on Windows; `tests` below pins them here.
pub const SERVICETYPE_NOTRAFFIC: ULONG = 0x0000_0000;
pub const SERVICETYPE_BESTEFFORT: ULONG = 0x0000_0001;
pub const SERVICETYPE_CONTROLLEDLOAD: ULONG = 0x0000_0002;
pub const SERVICETYPE_GUARANTEED: ULONG = 0x0000_0003;
pub const SERVICETYPE_NETWORK_UNAVAILABLE: ULONG = 0x0000_0004;
pub const SERVICETYPE_GENERAL_INFORMATION: ULONG = 0x0000_0005;
pub const SERVICETYPE_NOCHANGE: ULONG = 0x0000_0006;
pub const SERVICETYPE_NONCONFORMING: ULONG = 0x0000_0009;
pub const SERVICETYPE_NETWORK_CONTROL: ULONG = 0x0000_000A;
pub const SERVICETYPE_QUALITATIVE: ULONG = 0x0000_000D;

/// `CO_CALL_MANAGER_PARAMETERS` \[H\]; sizeof 76 \[C\].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CO_CALL_MANAGER_PARAMETERS {
    pub Transmit: FLOWSPEC,
    pub Receive: FLOWSPEC,
    pub CallMgrSpecific: CO_SPECIFIC_PARAMETERS,
}
pub type PCO_CALL_MANAGER_PARAMETERS = *mut CO_CALL_MANAGER_PARAMETERS;
assert_layout!(CO_CALL_MANAGER_PARAMETERS, size = 76, { Transmit: 0, Receive: 32, CallMgrSpecific: 64 });

/// `CO_MEDIA_PARAMETERS` \[H\].
///
/// The WDK declares `CO_SPECIFIC_PARAMETERS POINTER_ALIGNMENT MediaSpecific`,
/// which on x64 puts `MediaSpecific` at offset 16, not 12 (mingw-w64 lacks the
/// alignment and is wrong here; contract §4.1). The explicit `_Pad` keeps the
/// field where the WDK puts it; sizeof is then 32 \[C from the \[H\] offsets].
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug)]
pub struct CO_MEDIA_PARAMETERS {
    pub Flags: ULONG,
    pub ReceivePriority: ULONG,
    pub ReceiveSizeHint: ULONG,
    pub _Pad: ULONG,
    pub MediaSpecific: CO_SPECIFIC_PARAMETERS,
}
pub type PCO_MEDIA_PARAMETERS = *mut CO_MEDIA_PARAMETERS;
assert_layout!(CO_MEDIA_PARAMETERS, size = 32, align = 8, {
    Flags: 0, ReceivePriority: 4, ReceiveSizeHint: 8, MediaSpecific: 16,
});

/// `CO_CALL_PARAMETERS` \[H\]: 24 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CO_CALL_PARAMETERS {
    pub Flags: ULONG,
    pub CallMgrParameters: PCO_CALL_MANAGER_PARAMETERS,
    pub MediaParameters: PCO_MEDIA_PARAMETERS,
}
pub type PCO_CALL_PARAMETERS = *mut CO_CALL_PARAMETERS;
assert_layout!(CO_CALL_PARAMETERS, size = 24, { Flags: 0, CallMgrParameters: 8, MediaParameters: 16 });

/// `CO_PVC { NDIS_HANDLE NdisAfHandle; CO_SPECIFIC_PARAMETERS PvcParameters; }` \[H\]; sizeof 24 \[C\].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CO_PVC {
    pub NdisAfHandle: NDIS_HANDLE,
    pub PvcParameters: CO_SPECIFIC_PARAMETERS,
}
assert_layout!(CO_PVC, size = 24, { NdisAfHandle: 0, PvcParameters: 8 });

// CO_ADDRESS_FAMILY_* (contract §4.2) [H].
pub const CO_ADDRESS_FAMILY_Q2931: NDIS_AF = 0x1;
pub const CO_ADDRESS_FAMILY_PSCHED: NDIS_AF = 0x2;
pub const CO_ADDRESS_FAMILY_L2TP: NDIS_AF = 0x3;
pub const CO_ADDRESS_FAMILY_IRDA: NDIS_AF = 0x4;
pub const CO_ADDRESS_FAMILY_1394: NDIS_AF = 0x5;
pub const CO_ADDRESS_FAMILY_PPP: NDIS_AF = 0x6;
pub const CO_ADDRESS_FAMILY_INFINIBAND: NDIS_AF = 0x7;
pub const CO_ADDRESS_FAMILY_TAPI: NDIS_AF = 0x800;
pub const CO_ADDRESS_FAMILY_TAPI_PROXY: NDIS_AF = 0x801;
pub const CO_ADDRESS_FAMILY_PROXY: NDIS_AF = 0x8000_0000;

// CO_CALL_PARAMETERS.Flags (contract §4.2) [H].
pub const PERMANENT_VC: ULONG = 0x0000_0001;
pub const CALL_PARAMETERS_CHANGED: ULONG = 0x0000_0002;
pub const QUERY_CALL_PARAMETERS: ULONG = 0x0000_0004;
pub const BROADCAST_VC: ULONG = 0x0000_0008;
pub const MULTIPOINT_VC: ULONG = 0x0000_0010;

// CO_MEDIA_PARAMETERS.Flags (contract §4.2) [H].
pub const RECEIVE_TIME_INDICATION: ULONG = 0x0000_0001;
pub const USE_TIME_STAMPS: ULONG = 0x0000_0002;
pub const TRANSMIT_VC: ULONG = 0x0000_0004;
pub const RECEIVE_VC: ULONG = 0x0000_0008;
pub const INDICATE_ERRED_PACKETS: ULONG = 0x0000_0010;
pub const INDICATE_END_OF_TX: ULONG = 0x0000_0020;
pub const RESERVE_RESOURCES_VC: ULONG = 0x0000_0040;
pub const ROUND_DOWN_FLOW: ULONG = 0x0000_0080;
pub const ROUND_UP_FLOW: ULONG = 0x0000_0100;
/// Sic: the WDK spells it ELIBILITY \[H\].
pub const CO_SEND_FLAG_SET_DISCARD_ELIBILITY: ULONG = 0x1;

#[cfg(test)]
mod tests {
    use super::*;

    /// The `SERVICETYPE_*` values are qos.h's (the SDK's shared/qos.h, which
    /// km/ndis.h includes; Microsoft's older Platform SDK qos.h has the same
    /// defines): 0 to 6, then 9, 0xA and 0xD. `SERVICETYPE_NOCHANGE` was
    /// 0x8000 here once, a value qos.h does not have; a client that asks
    /// for "no change" in one direction sends 6.
    #[test]
    fn service_types_are_the_qos_h_values() {
        let expected = [
            (SERVICETYPE_NOTRAFFIC, 0x0),
            (SERVICETYPE_BESTEFFORT, 0x1),
            (SERVICETYPE_CONTROLLEDLOAD, 0x2),
            (SERVICETYPE_GUARANTEED, 0x3),
            (SERVICETYPE_NETWORK_UNAVAILABLE, 0x4),
            (SERVICETYPE_GENERAL_INFORMATION, 0x5),
            (SERVICETYPE_NOCHANGE, 0x6),
            (SERVICETYPE_NONCONFORMING, 0x9),
            (SERVICETYPE_NETWORK_CONTROL, 0xA),
            (SERVICETYPE_QUALITATIVE, 0xD),
        ];
        for (i, (ours, header)) in expected.into_iter().enumerate() {
            assert_eq!(ours, header, "SERVICETYPE entry {i} differs from qos.h");
        }
    }
}

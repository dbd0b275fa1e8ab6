//! What covmini reports about itself: NDIS version, medium, link, the
//! address family it registers. One place, so the INF, the README and the
//! attributes given to NDIS cannot drift apart silently (tests compare them).

use ndis_sys::*;

/// NDIS 6.30 (Windows 8 / Server 2012 and later, so every supported Windows 10
/// and 11 build). Why 6.30 and not 6.0: 6.30 is the first version for which
/// `NdisInitializeNPagedLookasideList` asks for NX pool, which HVCI requires;
/// nothing covmini needs is newer. It registers characteristics revision 2.
pub const NDIS_MAJOR_VERSION: u8 = 6;
/// See [`NDIS_MAJOR_VERSION`].
pub const NDIS_MINOR_VERSION: u8 = 30;
/// covmini's own version, reported in the characteristics.
pub const DRIVER_MAJOR_VERSION: u8 = 0;
/// See [`DRIVER_MAJOR_VERSION`].
pub const DRIVER_MINOR_VERSION: u8 = 1;

/// The medium: a CoNDIS WAN medium (contract §1.3).
pub const MEDIUM: NDIS_MEDIUM = NdisMediumCoWan;
/// The physical medium of a software adapter.
pub const PHYSICAL_MEDIUM: NDIS_PHYSICAL_MEDIUM = NdisPhysicalMediumUnspecified;
/// `*IfType` in the INF and IfType in the general attributes:
/// IF_TYPE_TUNNEL (131), what Microsoft's CoNDIS WAN miniports (PPTP, L2TP,
/// SSTP, IKEv2) report; tests/inf.rs checks the INF says the same.
pub const IF_TYPE: NET_IFTYPE = IF_TYPE_TUNNEL;
/// Largest payload per NBL, in bytes (covclient-abi's `COVMINI_MTU`).
pub const MTU: ULONG = covclient_abi::COVMINI_MTU;
/// The fabric's nominal link speed, bits per second (1 Gb/s).
pub const LINK_SPEED_BPS: ULONG64 = 1_000_000_000;

/// The address family covmini registers: a private one, so neither NDPROXY
/// (TAPI_PROXY) nor any other stock client mistakes covmini for something it
/// is not. Clients open `AddressFamily = 0x0000C0C0`, version 1.0.
pub const AF: CO_ADDRESS_FAMILY = CO_ADDRESS_FAMILY {
    AddressFamily: COVMINI_AF,
    MajorVersion: AF_MAJOR_VERSION,
    MinorVersion: AF_MINOR_VERSION,
};
/// covmini's private `NDIS_AF` value. The value lives in covclient-abi (the
/// one source for what clients see, checked against include/covmini.h).
pub const COVMINI_AF: NDIS_AF = covclient_abi::COVMINI_AF;
/// The AF's major version (covclient-abi).
pub const AF_MAJOR_VERSION: ULONG = covclient_abi::COVMINI_AF_MAJOR_VERSION;
/// The AF's minor version (covclient-abi).
pub const AF_MINOR_VERSION: ULONG = covclient_abi::COVMINI_AF_MINOR_VERSION;

/// Registration attribute flags: not NOT_CO_NDIS (a CoNDIS miniport must not
/// set it), no HARDWARE_DEVICE (virtual), and DO_NOT_BIND_TO_ALL_CO so
/// NDPROXY does not bind to an adapter that offers no TAPI (contract §1.3).
pub const ATTRIBUTE_FLAGS: ULONG = NDIS_MINIPORT_ATTRIBUTES_DO_NOT_BIND_TO_ALL_CO;

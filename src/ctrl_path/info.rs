//! What the OID paths answer from: snapshots the glue takes under its locks
//! (the adapter, and the VC a request names) and hands to
//! [`handle`](super::handle). Plain values, no pointers, no locks: CoNDIS OID
//! requests are not serialized (contract §2.2), so the glue copies what a
//! request needs and the answer is computed from the copy.

use core::ffi::CStr;

use ndis_sys::*;

use super::wire::{CoAddressList, WanCoInfo, WanLinkInfo};
use crate::adapter::AdapterState;
use crate::call_manager::{Address, ECHO_ADDRESS};
use crate::config;

/// `OID_GEN_CO_VENDOR_DESCRIPTION`: the INF's `covmini.DeviceDesc`, so
/// Device Manager and the OID agree (a test reads the INF).
pub const VENDOR_DESCRIPTION: &CStr = c"covmini CoNDIS WAN Miniport (loopback MCM)";

/// `OID_GEN_CO_VENDOR_ID`: no IEEE OUI, so the three vendor bytes are
/// 0xFFFFFF [D: "OID_GEN_CO_VENDOR_ID": "Vendors without an IEEE-registered
/// code should use the value 0xFFFFFF"] and the NIC byte is 0. As a ULONG:
/// 0x00FFFFFF, netvmini's `NIC_VENDOR_ID` ("highest byte is the NIC byte").
pub const VENDOR_ID: ULONG = 0x00FF_FFFF;

/// The framing a loopback fabric offers NDISWAN: PPP (which every CoNDIS WAN
/// miniport "should always" set [D: "OID_WAN_CO_GET_INFO"]), with address/
/// control and protocol field compression, which cost a fabric that carries
/// frames untouched nothing. No TAPI_PROVIDER: covmini offers no TAPI AF
/// (config::ATTRIBUTE_FLAGS, DO_NOT_BIND_TO_ALL_CO).
pub const WAN_FRAMING_BITS: ULONG = PPP_FRAMING | PPP_COMPRESS_ADDRESS_CONTROL | PPP_COMPRESS_PROTOCOL_FIELD;

/// `NDIS_WAN_CO_INFO.MaxSendWindow`: sends outstanding per VC before NDISWAN
/// queues. The fabric completes sends without a hardware queue; 32 keeps
/// NDISWAN's queue short without throttling a 1 Gb/s loopback.
pub const WAN_MAX_SEND_WINDOW: ULONG = 32;

/// A link speed in bits per second, each direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkSpeed {
    /// Transmit, bit/s.
    pub outbound_bps: u64,
    /// Receive, bit/s.
    pub inbound_bps: u64,
}

impl LinkSpeed {
    /// The same speed both ways.
    #[must_use]
    pub const fn symmetric(bps: u64) -> Self {
        Self {
            outbound_bps: bps,
            inbound_bps: bps,
        }
    }
}

/// The counters behind the CoNDIS statistics OIDs, adapter-wide or per VC.
/// 64-bit: the OID paths return the low 32 bits to a 4-byte query.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// PDUs sent without error (`OID_GEN_CO_XMIT_PDUS_OK`).
    pub xmit_pdus_ok: u64,
    /// PDUs received without error (`OID_GEN_CO_RCV_PDUS_OK`).
    pub rcv_pdus_ok: u64,
    /// PDUs that failed to send (`OID_GEN_CO_XMIT_PDUS_ERROR`).
    pub xmit_pdus_error: u64,
    /// PDUs received with errors (`OID_GEN_CO_RCV_PDUS_ERROR`).
    pub rcv_pdus_error: u64,
    /// PDUs dropped for lack of a buffer (`OID_GEN_CO_RCV_PDUS_NO_BUFFER`).
    pub rcv_no_buffer: u64,
    /// Bytes in PDUs sent without error (`OID_GEN_CO_BYTES_XMIT`).
    pub bytes_xmit: u64,
    /// Bytes in PDUs received without error (`OID_GEN_CO_BYTES_RCV`).
    pub bytes_rcv: u64,
}

impl Stats {
    /// No traffic yet (`Stats::default()`, usable in a `const fn`).
    pub const ZERO: Self = Self {
        xmit_pdus_ok: 0,
        rcv_pdus_ok: 0,
        xmit_pdus_error: 0,
        rcv_pdus_error: 0,
        rcv_no_buffer: 0,
        bytes_xmit: 0,
        bytes_rcv: 0,
    };
}

/// `NDIS_HARDWARE_STATUS`, the answer to `OID_GEN_CO_HARDWARE_STATUS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HardwareStatus {
    /// Able to send and receive.
    Ready,
    /// Initializing.
    Initializing,
    /// Resetting.
    Reset,
    /// Closing.
    Closing,
    /// Not ready.
    NotReady,
}

impl HardwareStatus {
    /// The `NDIS_HARDWARE_STATUS` value.
    #[must_use]
    pub const fn to_ndis(self) -> NDIS_HARDWARE_STATUS {
        match self {
            Self::Ready => NdisHardwareStatusReady,
            Self::Initializing => NdisHardwareStatusInitializing,
            Self::Reset => NdisHardwareStatusReset,
            Self::Closing => NdisHardwareStatusClosing,
            Self::NotReady => NdisHardwareStatusNotReady,
        }
    }
}

impl From<AdapterState> for HardwareStatus {
    /// A virtual adapter's "hardware" is ready as soon as InitializeEx has
    /// finished: NDIS sends OIDs to a paused adapter too, and pausing stops
    /// the data path, not the device.
    fn from(state: AdapterState) -> Self {
        match state {
            AdapterState::Initializing => Self::Initializing,
            AdapterState::Paused | AdapterState::Pausing | AdapterState::Running => Self::Ready,
            AdapterState::Halted => Self::Closing,
        }
    }
}

/// The adapter as the OID paths see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdapterInfo {
    /// `OID_GEN_CO_HARDWARE_STATUS`.
    pub hardware_status: HardwareStatus,
    /// `OID_GEN_CO_MEDIA_SUPPORTED` and `OID_GEN_CO_MEDIA_IN_USE`.
    pub medium: NDIS_MEDIUM,
    /// `OID_GEN_CO_LINK_SPEED` when no VC is named.
    pub link_speed: LinkSpeed,
    /// `OID_GEN_CO_MINIMUM_LINK_SPEED`.
    pub minimum_link_speed: LinkSpeed,
    /// `OID_GEN_CO_VENDOR_ID`.
    pub vendor_id: ULONG,
    /// `OID_GEN_CO_VENDOR_DESCRIPTION` (returned with its NUL).
    pub vendor_description: &'static CStr,
    /// `OID_GEN_CO_DRIVER_VERSION`: the NDIS version, major in the high byte.
    pub ndis_version: USHORT,
    /// `OID_GEN_CO_VENDOR_DRIVER_VERSION`: major in the high 16 bits.
    pub vendor_driver_version: ULONG,
    /// `OID_GEN_CO_MAC_OPTIONS`: the general attributes' `MacOptions`.
    pub mac_options: ULONG,
    /// `OID_GEN_CO_MEDIA_CONNECT_STATUS`.
    pub media_connected: bool,
    /// `OID_WAN_CO_GET_INFO`, and the bounds a `OID_WAN_CO_SET_LINK_INFO`
    /// must respect.
    pub wan: WanCoInfo,
    /// Adapter-wide statistics (requests that name no VC).
    pub stats: Stats,
}

impl AdapterInfo {
    /// covmini's adapter, from `config`, ready and connected, counters at 0.
    /// The glue overrides `hardware_status`, `media_connected` and `stats`
    /// with the live values.
    #[must_use]
    pub const fn covmini() -> Self {
        Self {
            hardware_status: HardwareStatus::Ready,
            medium: config::MEDIUM,
            link_speed: LinkSpeed::symmetric(config::LINK_SPEED_BPS),
            // One fabric, one speed: the slowest it runs is the speed.
            minimum_link_speed: LinkSpeed::symmetric(config::LINK_SPEED_BPS),
            vendor_id: VENDOR_ID,
            vendor_description: VENDOR_DESCRIPTION,
            ndis_version: ((config::NDIS_MAJOR_VERSION as USHORT) << 8) | config::NDIS_MINOR_VERSION as USHORT,
            vendor_driver_version: ((config::DRIVER_MAJOR_VERSION as ULONG) << 16)
                | config::DRIVER_MINOR_VERSION as ULONG,
            mac_options: 0,
            media_connected: true,
            wan: WanCoInfo {
                max_frame_size: config::MTU,
                max_send_window: WAN_MAX_SEND_WINDOW,
                framing_bits: WAN_FRAMING_BITS,
                desired_accm: 0,
            },
            stats: Stats::ZERO,
        }
    }

    /// The link state a new VC starts with, until NDISWAN sets its own with
    /// `OID_WAN_CO_SET_LINK_INFO`: the adapter's frame size both ways, every
    /// framing bit the adapter offers, no compression, the desired ACCM.
    #[must_use]
    pub const fn default_link_info(&self) -> WanLinkInfo {
        WanLinkInfo {
            max_send_frame_size: self.wan.max_frame_size,
            max_recv_frame_size: self.wan.max_frame_size,
            send_framing_bits: self.wan.framing_bits,
            recv_framing_bits: self.wan.framing_bits,
            send_compression_bits: 0,
            recv_compression_bits: 0,
            send_accm: self.wan.desired_accm,
            recv_accm: self.wan.desired_accm,
        }
    }
}

/// One VC as the OID paths see it (a request that names a VC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VcInfo {
    /// This VC's counters.
    pub stats: Stats,
    /// This VC's speed (`OID_GEN_CO_LINK_SPEED` on the VC).
    pub link_speed: LinkSpeed,
    /// What the last `OID_WAN_CO_SET_LINK_INFO` stored, or
    /// [`AdapterInfo::default_link_info`].
    pub link_info: WanLinkInfo,
}

impl VcInfo {
    /// A VC just created on `adapter`: no traffic, the adapter's speed, the
    /// default link info.
    #[must_use]
    pub const fn new(adapter: &AdapterInfo) -> Self {
        Self {
            stats: Stats::ZERO,
            link_speed: adapter.link_speed,
            link_info: adapter.default_link_info(),
        }
    }
}

/// The call manager as its OID path sees it (ProtocolCoOidRequest): the
/// addresses a call on the fabric reaches, copied under the adapter lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CmInfo {
    /// The echo address, then the SAPs' addresses; filled from the front.
    addresses: [Option<Address>; CoAddressList::CAPACITY],
}

impl CmInfo {
    /// No address at all (a fallback; [`Self::new`] always lists echo).
    pub const EMPTY: Self = Self {
        addresses: [None; CoAddressList::CAPACITY],
    };

    /// The echo address, which every call reaches, then `saps`: the
    /// addresses of the registered SAPs
    /// ([`CallManager::sap_addresses`](crate::call_manager::CallManager::sap_addresses)).
    /// Holds at most [`CoAddressList::CAPACITY`] (`MAX_SAPS` + 1, so every
    /// SAP fits).
    #[must_use]
    pub fn new<'a>(saps: impl IntoIterator<Item = &'a Address>) -> Self {
        let mut info = Self::EMPTY;
        let echo = Address::new(ECHO_ADDRESS).ok();
        let all = echo.into_iter().chain(saps.into_iter().copied());
        for (slot, address) in info.addresses.iter_mut().zip(all) {
            *slot = Some(address);
        }
        info
    }

    /// The addresses, echo first.
    pub fn addresses(&self) -> impl Iterator<Item = &Address> + '_ {
        self.addresses.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendor_description_is_the_inf_device_description() {
        let inx = include_str!("../../inf/covmini.inx");
        let desc = VENDOR_DESCRIPTION.to_str().unwrap();
        let line = std::format!("covmini.DeviceDesc       = \"{desc}\"");
        assert!(inx.contains(&line), "inf/covmini.inx has no `{line}`");
    }

    #[test]
    fn versions_are_packed_as_the_oid_pages_say() {
        let a = AdapterInfo::covmini();
        // OID_GEN_CO_DRIVER_VERSION: NDIS 6.30, major in the high byte.
        assert_eq!(a.ndis_version, 0x061E);
        // OID_GEN_CO_VENDOR_DRIVER_VERSION: covmini 0.1, major in the high half.
        assert_eq!(a.vendor_driver_version, 0x0000_0001);
    }

    #[test]
    fn the_adapter_mirrors_config() {
        let a = AdapterInfo::covmini();
        assert_eq!(a.medium, NdisMediumCoWan);
        assert_eq!(a.link_speed, LinkSpeed::symmetric(1_000_000_000));
        assert_eq!(a.wan.max_frame_size, config::MTU);
        assert!(a.wan.max_send_window >= 1, "OID_WAN_CO_GET_INFO: at least one");
        assert_ne!(a.wan.framing_bits & PPP_FRAMING, 0, "PPP_FRAMING should always be set");
        assert_eq!(a.wan.framing_bits & TAPI_PROVIDER, 0, "covmini offers no TAPI");
        assert_eq!(a.stats, Stats::default());
    }

    #[test]
    fn a_new_vc_starts_from_the_adapter() {
        let a = AdapterInfo::covmini();
        let vc = VcInfo::new(&a);
        assert_eq!(vc.stats, Stats::default());
        assert_eq!(vc.link_speed, a.link_speed);
        assert_eq!(vc.link_info.max_send_frame_size, 1500);
        assert_eq!(vc.link_info.recv_framing_bits, WAN_FRAMING_BITS);
    }

    #[test]
    fn hardware_status_follows_the_lifecycle() {
        assert_eq!(
            HardwareStatus::from(AdapterState::Initializing),
            HardwareStatus::Initializing
        );
        assert_eq!(HardwareStatus::from(AdapterState::Paused), HardwareStatus::Ready);
        assert_eq!(HardwareStatus::from(AdapterState::Running), HardwareStatus::Ready);
        assert_eq!(HardwareStatus::from(AdapterState::Halted), HardwareStatus::Closing);
        assert_eq!(HardwareStatus::Ready.to_ndis(), 0);
        assert_eq!(HardwareStatus::NotReady.to_ndis(), 4);
    }
}

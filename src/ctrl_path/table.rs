//! The one OID table (netvmini's `NICSupportedOids[]`, with the behaviour
//! beside each OID): one entry per OID, sorted by value, saying where the OID
//! may be asked (the miniport, with or without a VC, or the call manager),
//! how it is queried and how it is set. [`SUPPORTED_OIDS`], what covmini
//! gives NDIS as `SupportedOidList` and answers to
//! `OID_GEN_CO_SUPPORTED_LIST`, is computed from the miniport's entries at
//! compile time, so what is advertised and what is answered cannot drift
//! apart. docs/oids.md and the README's OID table are checked against this
//! table by the unit test `the_docs_list_exactly_the_table`.
//!
//! Handlers only choose the value (`Reply`) or decode the input; the
//! length rules (too short, 4-or-8-byte counters, over-long buffers) live
//! once, in the dispatcher (`super::handle`).

use ndis_sys::*;

use super::info::{AdapterInfo, CmInfo, LinkSpeed, Stats, VcInfo};
use super::wire::{self, CoAddressList, CoLinkSpeed, TooShort, WanCoInfo, WanLinkInfo};
use super::{Scope, SetEffect};

/// What a handler answers from: the adapter snapshot, when the request
/// names a VC that VC's snapshot, and for the call manager its snapshot.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ctx<'a> {
    pub adapter: &'a AdapterInfo,
    pub vc: Option<&'a VcInfo>,
    pub cm: Option<&'a CmInfo>,
}

impl Ctx<'_> {
    /// The VC's counters if a VC is named, else the adapter's.
    fn stats(&self) -> &Stats {
        self.vc.map_or(&self.adapter.stats, |vc| &vc.stats)
    }

    /// The VC's speed if a VC is named, else the adapter's.
    fn link_speed(&self) -> LinkSpeed {
        self.vc.map_or(self.adapter.link_speed, |vc| vc.link_speed)
    }
}

/// Where an OID may be asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scopes {
    /// MiniportCoOidRequest with no VC.
    pub adapter: bool,
    /// MiniportCoOidRequest naming a VC.
    pub vc: bool,
    /// ProtocolCoOidRequest (the call manager, reached with an AF handle).
    pub call_manager: bool,
}

impl Scopes {
    /// The miniport, with or without a VC. Adapter-wide OIDs asked on a VC
    /// get the adapter's answer (as Microsoft's CoNDIS samples do); the
    /// statistics and the link speed get the VC's.
    pub const MINIPORT: Self = Self {
        adapter: true,
        vc: true,
        call_manager: false,
    };
    /// The miniport, on a VC only: the WAN link OIDs describe one VC.
    pub const VC_ONLY: Self = Self {
        adapter: false,
        vc: true,
        call_manager: false,
    };
    /// The call manager only (ProtocolCoOidRequest, with or without a VC or
    /// party handle): the `OID_CO_*` a client sends with its AF handle.
    pub const CALL_MANAGER: Self = Self {
        adapter: false,
        vc: false,
        call_manager: true,
    };

    /// Whether MiniportCoOidRequest answers the OID (it is then in
    /// [`SUPPORTED_OIDS`]).
    #[must_use]
    pub const fn miniport(self) -> bool {
        self.adapter || self.vc
    }

    /// Whether a request in `scope` may reach this OID, or the status that
    /// refuses it:
    /// * a VC-only OID asked with no VC: `NDIS_STATUS_INVALID_DATA`, the
    ///   request lacks a parameter (Microsoft's L2TP, PPTP and NDISTAPI
    ///   CoNDIS WAN samples answer exactly this);
    /// * any other mismatch, a miniport OID sent to the call manager or a
    ///   call-manager OID sent to the miniport: `NDIS_STATUS_NOT_SUPPORTED`,
    ///   recognized but not supported there [D: MiniportCoOidRequest and
    ///   ProtocolCoOidRequest return values].
    pub(super) fn admit(self, scope: &Scope<'_>) -> Result<(), NDIS_STATUS> {
        match scope {
            Scope::Adapter if self.adapter => Ok(()),
            Scope::Adapter if self.vc => Err(NDIS_STATUS_INVALID_DATA),
            Scope::Vc(_) if self.vc => Ok(()),
            Scope::CallManager(_) if self.call_manager => Ok(()),
            _ => Err(NDIS_STATUS_NOT_SUPPORTED),
        }
    }
}

/// The value a query answers, before it meets the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reply<'a> {
    /// A USHORT.
    U16(u16),
    /// A ULONG.
    U32(u32),
    /// A C enum (`int`).
    I32(i32),
    /// A statistics counter: 8 bytes, or the low 4 to a 4-byte buffer.
    Counter(u64),
    /// Raw bytes (a NUL-terminated string).
    Bytes(&'static [u8]),
    /// An `NDIS_OID` array.
    Oids(&'static [NDIS_OID]),
    /// `NDIS_CO_LINK_SPEED`.
    LinkSpeed(CoLinkSpeed),
    /// `NDIS_WAN_CO_INFO`.
    WanCoInfo(WanCoInfo),
    /// `NDIS_WAN_CO_GET_LINK_INFO`.
    WanLinkInfo(WanLinkInfo),
    /// `CO_ADDRESS_LIST` of the call manager's addresses.
    Addresses(&'a CmInfo),
}

impl Reply<'_> {
    /// The full length of the answer, in bytes.
    pub(super) fn len(&self) -> usize {
        match self {
            Self::U16(_) => 2,
            Self::U32(_) | Self::I32(_) => 4,
            Self::Counter(_) => 8,
            Self::Bytes(b) => b.len(),
            Self::Oids(o) => o.len().saturating_mul(4),
            Self::LinkSpeed(_) => CoLinkSpeed::LEN,
            Self::WanCoInfo(_) => WanCoInfo::LEN,
            Self::Addresses(_) => CoAddressList::LEN,
            Self::WanLinkInfo(_) => WanLinkInfo::LEN,
        }
    }

    /// Writes the full answer at the start of `buf`, or nothing.
    pub(super) fn emit(&self, buf: &mut [u8]) -> Result<usize, TooShort> {
        match self {
            Self::U16(v) => wire::put_u16(buf, *v),
            Self::U32(v) => wire::put_u32(buf, *v),
            Self::I32(v) => wire::put_i32(buf, *v),
            Self::Counter(v) => wire::put_u64(buf, *v),
            Self::Bytes(b) => wire::put_bytes(buf, b),
            Self::Oids(o) => wire::put_u32_array(buf, o),
            Self::LinkSpeed(s) => s.emit(buf),
            Self::WanCoInfo(i) => i.emit(buf),
            Self::WanLinkInfo(l) => l.emit(buf),
            Self::Addresses(cm) => CoAddressList::emit(buf, cm.addresses()),
        }
    }
}

/// Chooses the answer to a query.
pub(super) type QueryFn = for<'a> fn(&Ctx<'a>) -> Reply<'a>;

/// How an OID is set: the input it reads and what it makes of it.
#[derive(Clone, Copy, Debug)]
pub(super) struct SetSpec {
    /// Bytes read; any other length is `NDIS_STATUS_INVALID_LENGTH`.
    pub len: usize,
    /// Decodes and checks exactly `len` bytes; refuses with the status owed
    /// (`NDIS_STATUS_INVALID_DATA` for a value out of bounds).
    pub apply: fn(&Ctx<'_>, &[u8]) -> Result<SetEffect, NDIS_STATUS>,
}

/// One OID: its value, its ntddndis.h name, where it may be asked, and how
/// it is queried and set (`None`: that operation is `NOT_SUPPORTED`).
#[derive(Clone, Copy, Debug)]
pub struct OidEntry {
    /// The OID.
    pub oid: NDIS_OID,
    /// Its name in ntddndis.h (for traces and docs/oids.md).
    pub name: &'static str,
    /// Where it may be asked.
    pub scopes: Scopes,
    pub(super) query: Option<QueryFn>,
    pub(super) set: Option<SetSpec>,
}

impl OidEntry {
    /// Whether the OID can be queried.
    #[must_use]
    pub const fn queryable(&self) -> bool {
        self.query.is_some()
    }

    /// Whether the OID can be set.
    #[must_use]
    pub const fn settable(&self) -> bool {
        self.set.is_some()
    }
}

/// A query-only entry; the name is the constant's, so it cannot be mistyped.
macro_rules! query {
    ($oid:ident, $scopes:expr, $answer:expr) => {
        OidEntry {
            oid: $oid,
            name: stringify!($oid),
            scopes: $scopes,
            query: Some($answer),
            set: None,
        }
    };
}

/// A set-only entry reading `$len` bytes.
macro_rules! set {
    ($oid:ident, $scopes:expr, $len:expr, $apply:expr) => {
        OidEntry {
            oid: $oid,
            name: stringify!($oid),
            scopes: $scopes,
            query: None,
            set: Some(SetSpec {
                len: $len,
                apply: $apply,
            }),
        }
    };
}

/// Every OID covmini answers, in increasing numeric order, as
/// `OID_GEN_CO_SUPPORTED_LIST` asks ("The underlying driver should order the
/// OID list it returns in increasing numeric order" \[D\]). Sorted order is
/// checked at compile time below; the dispatcher binary-searches it.
pub static TABLE: &[OidEntry] = &TABLE_ARRAY;

const M: Scopes = Scopes::MINIPORT;
const VC: Scopes = Scopes::VC_ONLY;
const CM: Scopes = Scopes::CALL_MANAGER;

#[rustfmt::skip]
const TABLE_ARRAY: [OidEntry; 24] = [
    // General operational OIDs [D: "General operational OIDs for
    // connection-oriented miniport drivers"]. Each OID_GEN_CO_* has the
    // value of its OID_GEN_* twin.
    query!(OID_GEN_CO_SUPPORTED_LIST,        M,  supported_list),
    query!(OID_GEN_CO_HARDWARE_STATUS,       M,  hardware_status),
    query!(OID_GEN_CO_MEDIA_SUPPORTED,       M,  medium),
    query!(OID_GEN_CO_MEDIA_IN_USE,          M,  medium),
    query!(OID_GEN_CO_LINK_SPEED,            M,  link_speed),
    query!(OID_GEN_CO_VENDOR_ID,             M,  vendor_id),
    query!(OID_GEN_CO_VENDOR_DESCRIPTION,    M,  vendor_description),
    query!(OID_GEN_CO_DRIVER_VERSION,        M,  driver_version),
    set!  (OID_GEN_CO_PROTOCOL_OPTIONS,      M,  4, set_protocol_options),
    query!(OID_GEN_CO_MAC_OPTIONS,           M,  mac_options),
    query!(OID_GEN_CO_MEDIA_CONNECT_STATUS,  M,  media_connect_status),
    query!(OID_GEN_CO_VENDOR_DRIVER_VERSION, M,  vendor_driver_version),
    // General statistics OIDs [D: "General statistics OIDs for
    // connection-oriented miniport drivers": 4 or 8 bytes], per VC when a VC
    // is named.
    query!(OID_GEN_CO_XMIT_PDUS_OK,          M,  |c| Reply::Counter(c.stats().xmit_pdus_ok)),
    query!(OID_GEN_CO_RCV_PDUS_OK,           M,  |c| Reply::Counter(c.stats().rcv_pdus_ok)),
    query!(OID_GEN_CO_XMIT_PDUS_ERROR,       M,  |c| Reply::Counter(c.stats().xmit_pdus_error)),
    query!(OID_GEN_CO_RCV_PDUS_ERROR,        M,  |c| Reply::Counter(c.stats().rcv_pdus_error)),
    query!(OID_GEN_CO_RCV_PDUS_NO_BUFFER,    M,  |c| Reply::Counter(c.stats().rcv_no_buffer)),
    query!(OID_GEN_CO_MINIMUM_LINK_SPEED,    M,  minimum_link_speed),
    query!(OID_GEN_CO_BYTES_XMIT,            M,  |c| Reply::Counter(c.stats().bytes_xmit)),
    query!(OID_GEN_CO_BYTES_RCV,             M,  |c| Reply::Counter(c.stats().bytes_rcv)),
    // CoNDIS WAN OIDs [D: "Handling Queries in a CoNDIS WAN Miniport Driver":
    // GET_INFO and GET_LINK_INFO required; "OID_WAN_CO_SET_LINK_INFO"].
    query!(OID_WAN_CO_GET_INFO,              M,  |c| Reply::WanCoInfo(c.adapter.wan)),
    set!  (OID_WAN_CO_SET_LINK_INFO,         VC, WanLinkInfo::LEN, set_wan_link_info),
    query!(OID_WAN_CO_GET_LINK_INFO,         VC, wan_link_info),
    // Call-manager OIDs [D: "OIDs for connection-oriented call managers and
    // clients"]: the one a client queries its call manager with.
    query!(OID_CO_GET_ADDRESSES,             CM, co_addresses),
];

// ---------------------------------------------------------------------------
// Query handlers: choose the value; the dispatcher fits it to the buffer.
// ---------------------------------------------------------------------------

fn supported_list<'a>(_: &Ctx<'a>) -> Reply<'a> {
    Reply::Oids(SUPPORTED_OIDS)
}

fn hardware_status<'a>(c: &Ctx<'a>) -> Reply<'a> {
    Reply::I32(c.adapter.hardware_status.to_ndis())
}

/// `OID_GEN_CO_MEDIA_SUPPORTED` and `OID_GEN_CO_MEDIA_IN_USE`: a one-entry
/// `NDIS_MEDIUM` array.
fn medium<'a>(c: &Ctx<'a>) -> Reply<'a> {
    Reply::I32(c.adapter.medium)
}

fn link_speed<'a>(c: &Ctx<'a>) -> Reply<'a> {
    let s = c.link_speed();
    Reply::LinkSpeed(CoLinkSpeed::from_bps(s.outbound_bps, s.inbound_bps))
}

fn minimum_link_speed<'a>(c: &Ctx<'a>) -> Reply<'a> {
    let s = c.adapter.minimum_link_speed;
    Reply::LinkSpeed(CoLinkSpeed::from_bps(s.outbound_bps, s.inbound_bps))
}

fn vendor_id<'a>(c: &Ctx<'a>) -> Reply<'a> {
    Reply::U32(c.adapter.vendor_id)
}

fn vendor_description<'a>(c: &Ctx<'a>) -> Reply<'a> {
    Reply::Bytes(c.adapter.vendor_description.to_bytes_with_nul())
}

fn driver_version<'a>(c: &Ctx<'a>) -> Reply<'a> {
    Reply::U16(c.adapter.ndis_version)
}

/// Reserved [D: "OID_GEN_CO_MAC_OPTIONS"], yet listed as mandatory in the
/// same docs' table: answered with the general attributes' `MacOptions` (0),
/// as Microsoft's NDISTAPI sample does ("Reserved - leave it set to zero").
fn mac_options<'a>(c: &Ctx<'a>) -> Reply<'a> {
    Reply::U32(c.adapter.mac_options)
}

/// `NDIS_MEDIA_STATE`: Connected is 0 here.
fn media_connect_status<'a>(c: &Ctx<'a>) -> Reply<'a> {
    Reply::I32(if c.adapter.media_connected {
        NdisMediaStateConnected
    } else {
        NdisMediaStateDisconnected
    })
}

fn vendor_driver_version<'a>(c: &Ctx<'a>) -> Reply<'a> {
    Reply::U32(c.adapter.vendor_driver_version)
}

/// `VC` scope: the dispatcher never calls this without a VC; the fallback
/// only keeps the function total.
fn wan_link_info<'a>(c: &Ctx<'a>) -> Reply<'a> {
    Reply::WanLinkInfo(c.vc.map_or(c.adapter.default_link_info(), |vc| vc.link_info))
}

/// `OID_CO_GET_ADDRESSES`: the addresses a call on the fabric reaches (the
/// echo address and every registered SAP's), as a `CO_ADDRESS_LIST`
/// ([`CoAddressList`]). "AddressList contains network addresses at which
/// the local host can be reached" \[D\]; covmini has no alias addresses
/// (`OID_CO_ADD_ADDRESS` is refused), so every client gets the same list.
/// `CM` scope: the fallback only keeps the function total.
fn co_addresses<'a>(c: &Ctx<'a>) -> Reply<'a> {
    static NONE: CmInfo = CmInfo::EMPTY;
    Reply::Addresses(c.cm.unwrap_or(&NONE))
}

/// The OID list given to NDIS (`SupportedOidList` in the general attributes)
/// and returned for `OID_GEN_CO_SUPPORTED_LIST`: the OIDs of [`TABLE`] that
/// MiniportCoOidRequest answers, in order. The call manager's OIDs are not
/// in it: that list is the miniport's ("the OIDs that the miniport driver
/// supports" \[D: NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES\]). A `static`,
/// so its address is stable for the attributes.
pub static SUPPORTED_OIDS: &[NDIS_OID] = &SUPPORTED_OID_ARRAY;

/// How many entries of the table the miniport answers.
const MINIPORT_OID_COUNT: usize = miniport_count(&TABLE_ARRAY);

/// `SupportedOidListLength` for the general attributes: the length of
/// [`SUPPORTED_OIDS`] in **bytes** [D: NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES].
// CAST: a few dozen OIDs of 4 bytes; the assertion below keeps it far from u32::MAX.
pub const SUPPORTED_OID_LIST_LENGTH: ULONG = (MINIPORT_OID_COUNT * core::mem::size_of::<NDIS_OID>()) as ULONG;
const _: () = assert!(MINIPORT_OID_COUNT * core::mem::size_of::<NDIS_OID>() <= 4096);

static SUPPORTED_OID_ARRAY: [NDIS_OID; MINIPORT_OID_COUNT] = miniport_oids(&TABLE_ARRAY);

/// How many entries of `table` the miniport answers (compile time).
const fn miniport_count(mut table: &[OidEntry]) -> usize {
    let mut n = 0;
    while let [e, rest @ ..] = table {
        if e.scopes.miniport() {
            n += 1;
        }
        table = rest;
    }
    n
}

/// The OIDs of `table` the miniport answers, in its order (compile time).
/// `N` is [`miniport_count`] of `table`, so every slot is filled.
const fn miniport_oids<const N: usize>(mut table: &[OidEntry]) -> [NDIS_OID; N] {
    let mut out = [0; N];
    let mut dst: &mut [NDIS_OID] = &mut out;
    while let [e, rest @ ..] = table {
        if e.scopes.miniport() {
            let [d, d_rest @ ..] = dst else { break };
            *d = e.oid;
            dst = d_rest;
        }
        table = rest;
    }
    out
}

/// Whether `table` is in strictly increasing OID order (compile time).
const fn strictly_increasing(mut table: &[OidEntry]) -> bool {
    while let [a, rest @ ..] = table {
        if let [b, ..] = rest
            && a.oid >= b.oid
        {
            return false;
        }
        table = rest;
    }
    true
}

/// Whether every entry can be queried or set (compile time).
const fn every_entry_answers(mut table: &[OidEntry]) -> bool {
    while let [e, rest @ ..] = table {
        if e.query.is_none() && e.set.is_none() {
            return false;
        }
        table = rest;
    }
    true
}

const _: () = assert!(
    strictly_increasing(&TABLE_ARRAY),
    "TABLE must be sorted by OID, without duplicates"
);
const _: () = assert!(
    every_entry_answers(&TABLE_ARRAY),
    "a TABLE entry must be queryable or settable"
);

/// The entry for `oid`, if covmini knows it.
#[must_use]
pub fn lookup(oid: NDIS_OID) -> Option<&'static OidEntry> {
    TABLE
        .binary_search_by_key(&oid, |e| e.oid)
        .ok()
        .and_then(|i| TABLE.get(i))
}

/// The ntddndis.h name of `oid`, for traces.
#[must_use]
pub fn oid_name(oid: NDIS_OID) -> Option<&'static str> {
    lookup(oid).map(|e| e.name)
}

// ---------------------------------------------------------------------------
// Set handlers
// ---------------------------------------------------------------------------

/// `OID_GEN_CO_PROTOCOL_OPTIONS`: a bitmask of the protocol's properties
/// \[D\]. Every bit is accepted and stored, including ones defined after this
/// driver: they describe the protocol, and covmini's behaviour does not
/// depend on them (it never loops back, and it indicates exact lengths).
fn set_protocol_options(_: &Ctx<'_>, input: &[u8]) -> Result<SetEffect, NDIS_STATUS> {
    let options = wire::get_u32(input).map_err(|_| NDIS_STATUS_INVALID_LENGTH)?;
    Ok(SetEffect::ProtocolOptions(options))
}

/// Why an `OID_WAN_CO_SET_LINK_INFO` is refused (`NDIS_STATUS_INVALID_DATA`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkInfoError {
    /// `MaxSendFrameSize` exceeds the adapter's `MaxFrameSize`.
    SendFrameTooLarge,
    /// `MaxRecvFrameSize` exceeds the adapter's `MaxFrameSize`.
    RecvFrameTooLarge,
    /// A framing bit the adapter did not offer in `OID_WAN_CO_GET_INFO`.
    UnsupportedFraming,
}

impl core::fmt::Display for LinkInfoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::SendFrameTooLarge => "MaxSendFrameSize exceeds the adapter's MaxFrameSize",
            Self::RecvFrameTooLarge => "MaxRecvFrameSize exceeds the adapter's MaxFrameSize",
            Self::UnsupportedFraming => "framing bits the adapter does not offer",
        })
    }
}

impl core::error::Error for LinkInfoError {}

/// Checks a link state against the adapter's WAN capabilities [D:
/// "OID_WAN_CO_SET_LINK_INFO"]: frame sizes "must be less than or equal to"
/// what the miniport reports (the adapter's `MaxFrameSize`, which is what
/// `OID_WAN_CO_GET_LINK_INFO` reports on a new VC), and the framing bits are
/// among those `OID_WAN_CO_GET_INFO` returned. Zero framing bits are
/// allowed: they ask the miniport to auto-detect [D: "OID_WAN_CO_GET_INFO"].
/// Compression bits are reserved and ACCMs are free-form: stored as given.
pub fn check_link_info(caps: &WanCoInfo, info: &WanLinkInfo) -> Result<(), LinkInfoError> {
    if info.max_send_frame_size > caps.max_frame_size {
        return Err(LinkInfoError::SendFrameTooLarge);
    }
    if info.max_recv_frame_size > caps.max_frame_size {
        return Err(LinkInfoError::RecvFrameTooLarge);
    }
    if (info.send_framing_bits | info.recv_framing_bits) & !caps.framing_bits != 0 {
        return Err(LinkInfoError::UnsupportedFraming);
    }
    Ok(())
}

/// `OID_WAN_CO_SET_LINK_INFO`: the VC's new PPP framing state, for the glue
/// to store in the VC. A loopback fabric frames nothing, so the state changes
/// no byte on the wire; it is what `OID_WAN_CO_GET_LINK_INFO` answers next,
/// and the frame sizes are the bounds the data path may enforce.
fn set_wan_link_info(c: &Ctx<'_>, input: &[u8]) -> Result<SetEffect, NDIS_STATUS> {
    let info = WanLinkInfo::parse(input).map_err(|_| NDIS_STATUS_INVALID_LENGTH)?;
    check_link_info(&c.adapter.wan, &info).map_err(|_| NDIS_STATUS_INVALID_DATA)?;
    Ok(SetEffect::WanLinkInfo(info))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctrl_path::info::WAN_FRAMING_BITS;

    #[test]
    fn the_list_is_the_miniports_part_of_the_table_in_increasing_order() {
        let miniport: std::vec::Vec<NDIS_OID> = TABLE.iter().filter(|e| e.scopes.miniport()).map(|e| e.oid).collect();
        assert_eq!(SUPPORTED_OIDS, miniport);
        assert_eq!(SUPPORTED_OIDS.len(), TABLE.len() - 1, "all but OID_CO_GET_ADDRESSES");
        assert!(SUPPORTED_OIDS.windows(2).all(|w| w[0] < w[1]), "sorted, no duplicates");
        assert_eq!(
            SUPPORTED_OID_LIST_LENGTH as usize,
            core::mem::size_of_val(SUPPORTED_OIDS)
        );
    }

    #[test]
    fn sortedness_check_catches_disorder_and_duplicates() {
        let a = TABLE_ARRAY[0];
        let b = TABLE_ARRAY[1];
        assert!(strictly_increasing(&[a, b]));
        assert!(!strictly_increasing(&[b, a]));
        assert!(!strictly_increasing(&[a, a]));
        assert!(strictly_increasing(&[]));
        assert!(strictly_increasing(&[a]));
    }

    #[test]
    fn lookup_finds_every_entry_and_nothing_else() {
        for e in TABLE {
            assert_eq!(lookup(e.oid).map(|f| f.oid), Some(e.oid));
        }
        assert!(lookup(OID_PNP_SET_POWER).is_none());
        assert!(lookup(0).is_none());
        assert!(lookup(u32::MAX).is_none());
        assert_eq!(oid_name(OID_WAN_CO_GET_INFO), Some("OID_WAN_CO_GET_INFO"));
    }

    #[test]
    fn names_are_unique_ntddndis_names() {
        for (i, e) in TABLE.iter().enumerate() {
            assert!(
                e.name.starts_with("OID_GEN_CO_") || e.name.starts_with("OID_WAN_CO_") || e.name.starts_with("OID_CO_"),
                "{}",
                e.name
            );
            assert!(TABLE.iter().skip(i + 1).all(|f| f.name != e.name), "{} twice", e.name);
        }
    }

    #[test]
    fn only_protocol_options_and_set_link_info_are_settable() {
        let settable: std::vec::Vec<_> = TABLE.iter().filter(|e| e.settable()).map(|e| e.oid).collect();
        assert_eq!(settable, [OID_GEN_CO_PROTOCOL_OPTIONS, OID_WAN_CO_SET_LINK_INFO]);
        assert!(TABLE.iter().all(|e| e.queryable() != e.settable()));
    }

    #[test]
    fn link_info_checks() {
        let caps = AdapterInfo::covmini().wan;
        let ok = AdapterInfo::covmini().default_link_info();
        assert_eq!(check_link_info(&caps, &ok), Ok(()));
        let auto = WanLinkInfo {
            send_framing_bits: 0,
            recv_framing_bits: 0,
            ..ok
        };
        assert_eq!(check_link_info(&caps, &auto), Ok(()), "zero framing: auto-detect");
        let big_send = WanLinkInfo {
            max_send_frame_size: caps.max_frame_size + 1,
            ..ok
        };
        assert_eq!(check_link_info(&caps, &big_send), Err(LinkInfoError::SendFrameTooLarge));
        let big_recv = WanLinkInfo {
            max_recv_frame_size: u32::MAX,
            ..ok
        };
        assert_eq!(check_link_info(&caps, &big_recv), Err(LinkInfoError::RecvFrameTooLarge));
        let slip = WanLinkInfo {
            recv_framing_bits: WAN_FRAMING_BITS | SLIP_FRAMING,
            ..ok
        };
        assert_eq!(check_link_info(&caps, &slip), Err(LinkInfoError::UnsupportedFraming));
        assert_eq!(
            std::format!("{}", LinkInfoError::UnsupportedFraming),
            "framing bits the adapter does not offer"
        );
    }

    #[test]
    fn scope_admission() {
        let vc = VcInfo::new(&AdapterInfo::covmini());
        let info = CmInfo::EMPTY;
        let m = Scopes::MINIPORT;
        assert_eq!(m.admit(&Scope::Adapter), Ok(()));
        assert_eq!(m.admit(&Scope::Vc(&vc)), Ok(()));
        assert_eq!(m.admit(&Scope::CallManager(&info)), Err(NDIS_STATUS_NOT_SUPPORTED));
        let v = Scopes::VC_ONLY;
        assert_eq!(v.admit(&Scope::Adapter), Err(NDIS_STATUS_INVALID_DATA));
        assert_eq!(v.admit(&Scope::Vc(&vc)), Ok(()));
        assert_eq!(v.admit(&Scope::CallManager(&info)), Err(NDIS_STATUS_NOT_SUPPORTED));
        let cm = Scopes::CALL_MANAGER;
        assert_eq!(cm.admit(&Scope::CallManager(&info)), Ok(()));
        assert_eq!(cm.admit(&Scope::Adapter), Err(NDIS_STATUS_NOT_SUPPORTED));
        assert_eq!(cm.admit(&Scope::Vc(&vc)), Err(NDIS_STATUS_NOT_SUPPORTED));
        assert!(m.miniport() && v.miniport() && !cm.miniport());
    }
}

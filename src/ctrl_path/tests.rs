//! The dispatcher, end to end: requests in, outcomes and bytes out.

use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use super::*;
use crate::call_manager::{Address, CallManager, ECHO_ADDRESS, MAX_ADDRESS_LEN, MAX_SAPS};

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

/// covmini with traffic: every adapter counter distinct, one above 2^32.
fn adapter() -> AdapterInfo {
    AdapterInfo {
        stats: Stats {
            xmit_pdus_ok: 0x0000_0001_0000_0002,
            rcv_pdus_ok: 3,
            xmit_pdus_error: 4,
            rcv_pdus_error: 5,
            rcv_no_buffer: 6,
            bytes_xmit: 7,
            bytes_rcv: 8,
        },
        ..AdapterInfo::covmini()
    }
}

/// The call manager with two SAPs: `bob` and a 32-byte address (the longest).
fn cm() -> CmInfo {
    let bob = Address::new(b"bob").unwrap();
    let long = Address::new(&[b'x'; MAX_ADDRESS_LEN]).unwrap();
    CmInfo::new([&bob, &long])
}

/// A buffer every answer fits in (`CO_ADDRESS_LIST` is the longest).
const BIG: usize = 2048;

/// A VC with its own counters and a 64 kb/s link.
fn vc() -> VcInfo {
    VcInfo {
        stats: Stats {
            xmit_pdus_ok: 101,
            rcv_pdus_ok: 102,
            xmit_pdus_error: 103,
            rcv_pdus_error: 104,
            rcv_no_buffer: 105,
            bytes_xmit: 106,
            bytes_rcv: 107,
        },
        link_speed: LinkSpeed::symmetric(64_000),
        ..VcInfo::new(&AdapterInfo::covmini())
    }
}

const FILL: u8 = 0xEE;

/// Runs one request with a `len`-byte buffer prefilled with `FILL`.
fn run(kind: RequestKind, oid: NDIS_OID, len: usize, scope: Scope<'_>, a: &AdapterInfo) -> (OidOutcome, Vec<u8>) {
    let mut buffer = vec![FILL; len];
    let outcome = handle(
        OidRequest {
            kind,
            oid,
            buffer: &mut buffer,
        },
        scope,
        a,
    );
    (outcome, buffer)
}

fn query(oid: NDIS_OID, len: usize, scope: Scope<'_>) -> (OidOutcome, Vec<u8>) {
    run(RequestKind::Query, oid, len, scope, &adapter())
}

fn set(oid: NDIS_OID, input: &[u8], scope: Scope<'_>) -> OidOutcome {
    let mut buffer = input.to_vec();
    handle(
        OidRequest {
            kind: RequestKind::Set,
            oid,
            buffer: &mut buffer,
        },
        scope,
        &adapter(),
    )
}

/// A successful query's answer, asserting the counts.
fn answer(oid: NDIS_OID, scope: Scope<'_>) -> Vec<u8> {
    let (o, buf) = query(oid, BIG, scope);
    assert_eq!(o.status, NDIS_STATUS_SUCCESS, "{:?}", oid_name(oid));
    assert_eq!(o.effect, None);
    let n = o.bytes_written as usize;
    assert!(buf[n..].iter().all(|&b| b == FILL), "nothing written past BytesWritten");
    buf[..n].to_vec()
}

fn success(bytes: u32, needed: u32) -> OidOutcome {
    OidOutcome {
        status: NDIS_STATUS_SUCCESS,
        bytes_written: bytes,
        bytes_needed: needed,
        effect: None,
    }
}

fn failure(status: NDIS_STATUS, needed: u32) -> OidOutcome {
    OidOutcome {
        status,
        bytes_written: 0,
        bytes_needed: needed,
        effect: None,
    }
}

/// The scope an entry is normally asked in.
fn home_scope<'v>(entry: &table::OidEntry, vc: &'v VcInfo, cm: &'v CmInfo) -> Scope<'v> {
    if entry.scopes.adapter {
        Scope::Adapter
    } else if entry.scopes.vc {
        Scope::Vc(vc)
    } else {
        Scope::CallManager(cm)
    }
}

/// A valid set input for each settable OID.
fn valid_set_input(oid: NDIS_OID) -> Vec<u8> {
    match oid {
        OID_GEN_CO_PROTOCOL_OPTIONS => NDIS_PROT_OPTION_NO_LOOPBACK.to_le_bytes().to_vec(),
        OID_WAN_CO_SET_LINK_INFO => {
            let mut b = vec![0; WanLinkInfo::LEN];
            AdapterInfo::covmini().default_link_info().emit(&mut b).unwrap();
            b
        }
        other => panic!("no set input for {other:#010x}"),
    }
}

/// Every OID value worth probing: each table OID's neighbourhood, the
/// general, statistics, WAN, PnP and CoNDIS call-manager ranges, and the
/// OIDs a CoNDIS client might plausibly send that covmini leaves to NDIS.
fn probe_oids() -> Vec<NDIS_OID> {
    let mut oids: Vec<NDIS_OID> = Vec::new();
    for base in [
        0x0001_0100,
        0x0001_0200,
        0x0002_0100,
        0x0002_0200,
        0x0401_0100,
        0x0401_0180,
        0x0401_0280,
    ] {
        oids.extend(base..base + 0x40);
    }
    oids.extend(0xFD01_0100..0xFD01_0110);
    oids.extend(0xFE00_0000..0xFE00_0010);
    oids.extend(0xFE00_1000..0xFE00_1010);
    oids.extend([
        0,
        1,
        u32::MAX,
        OID_GEN_STATISTICS,
        OID_GEN_MAXIMUM_FRAME_SIZE,
        OID_GEN_MAXIMUM_TOTAL_SIZE,
    ]);
    for e in TABLE {
        oids.extend(e.oid.saturating_sub(2)..=e.oid.saturating_add(2));
    }
    oids
}

// ---------------------------------------------------------------------------
// The list and the behaviour agree
// ---------------------------------------------------------------------------

#[test]
fn every_table_oid_is_answered_and_the_miniports_are_listed() {
    let vc = vc();
    let cm = cm();
    for entry in TABLE {
        assert_eq!(
            SUPPORTED_OIDS.contains(&entry.oid),
            entry.scopes.miniport(),
            "{}: listed iff the miniport answers it",
            entry.name
        );
        let scope = home_scope(entry, &vc, &cm);
        if entry.queryable() {
            let (o, _) = query(entry.oid, BIG, scope);
            assert_eq!(o.status, NDIS_STATUS_SUCCESS, "query {}", entry.name);
        }
        if entry.settable() {
            let o = set(entry.oid, &valid_set_input(entry.oid), scope);
            assert_eq!(o.status, NDIS_STATUS_SUCCESS, "set {}", entry.name);
            assert!(o.effect.is_some(), "set {}", entry.name);
        }
    }
}

#[test]
fn every_answered_oid_is_in_the_table_and_the_miniports_are_listed() {
    let vc = vc();
    let cm = cm();
    let a = adapter();
    for oid in probe_oids() {
        let known = table::lookup(oid).is_some();
        for scope in [Scope::Adapter, Scope::Vc(&vc), Scope::CallManager(&cm)] {
            for kind in [
                RequestKind::Query,
                RequestKind::Set,
                RequestKind::Method,
                RequestKind::Other(3),
            ] {
                let (o, _) = run(kind, oid, BIG, scope, &a);
                if !known {
                    assert_eq!(o, failure(scope.unknown_oid_status(), 0), "{oid:#010x} {scope:?}");
                }
                if o.succeeded() {
                    assert!(known, "{oid:#010x} answered but not in the table");
                    if scope.cm().is_none() {
                        assert!(SUPPORTED_OIDS.contains(&oid), "{oid:#010x} answered but not listed");
                    }
                }
            }
        }
    }
}

#[test]
fn an_unknown_oid_is_invalid_oid_for_the_miniport_and_not_supported_for_the_call_manager() {
    let vc = vc();
    let cm = cm();
    assert_eq!(Scope::Adapter.unknown_oid_status(), NDIS_STATUS_INVALID_OID);
    assert_eq!(Scope::Vc(&vc).unknown_oid_status(), NDIS_STATUS_INVALID_OID);
    assert_eq!(Scope::CallManager(&cm).unknown_oid_status(), NDIS_STATUS_NOT_SUPPORTED);
}

#[test]
fn the_supported_list_is_the_table_in_ascending_order() {
    let bytes = answer(OID_GEN_CO_SUPPORTED_LIST, Scope::Adapter);
    assert_eq!(bytes.len(), 4 * SUPPORTED_OIDS.len());
    let listed: Vec<NDIS_OID> = bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(listed, SUPPORTED_OIDS);
    assert!(listed.windows(2).all(|w| w[0] < w[1]));
    // The mandatory CoNDIS OIDs [D: general operational and statistics
    // tables, and the CoNDIS WAN query table] are all there.
    for oid in [
        OID_GEN_CO_SUPPORTED_LIST,
        OID_GEN_CO_HARDWARE_STATUS,
        OID_GEN_CO_MEDIA_SUPPORTED,
        OID_GEN_CO_MEDIA_IN_USE,
        OID_GEN_CO_LINK_SPEED,
        OID_GEN_CO_MINIMUM_LINK_SPEED,
        OID_GEN_CO_VENDOR_ID,
        OID_GEN_CO_VENDOR_DESCRIPTION,
        OID_GEN_CO_DRIVER_VERSION,
        OID_GEN_CO_VENDOR_DRIVER_VERSION,
        OID_GEN_CO_PROTOCOL_OPTIONS,
        OID_GEN_CO_MAC_OPTIONS,
        OID_GEN_CO_MEDIA_CONNECT_STATUS,
        OID_GEN_CO_XMIT_PDUS_OK,
        OID_GEN_CO_RCV_PDUS_OK,
        OID_GEN_CO_XMIT_PDUS_ERROR,
        OID_GEN_CO_RCV_PDUS_ERROR,
        OID_GEN_CO_RCV_PDUS_NO_BUFFER,
        OID_WAN_CO_GET_INFO,
        OID_WAN_CO_GET_LINK_INFO,
    ] {
        assert!(SUPPORTED_OIDS.contains(&oid), "{:?} missing", oid_name(oid));
    }
}

#[test]
fn a_zero_length_probe_learns_the_list_length() {
    let (o, _) = query(OID_GEN_CO_SUPPORTED_LIST, 0, Scope::Adapter);
    assert_eq!(
        o,
        failure(NDIS_STATUS_BUFFER_TOO_SHORT, 4 * SUPPORTED_OIDS.len() as u32)
    );
    assert_eq!(SUPPORTED_OID_LIST_LENGTH, 4 * SUPPORTED_OIDS.len() as u32);
    assert!(
        !SUPPORTED_OIDS.contains(&OID_CO_GET_ADDRESSES),
        "the miniport's list has no call-manager OID"
    );
}

// ---------------------------------------------------------------------------
// Answers, byte for byte
// ---------------------------------------------------------------------------

#[test]
fn general_answers() {
    let cases: [(NDIS_OID, &[u8]); 10] = [
        (OID_GEN_CO_HARDWARE_STATUS, &[0, 0, 0, 0]),       // NdisHardwareStatusReady
        (OID_GEN_CO_MEDIA_SUPPORTED, &[0x0C, 0, 0, 0]),    // NdisMediumCoWan
        (OID_GEN_CO_MEDIA_IN_USE, &[0x0C, 0, 0, 0]),       // NdisMediumCoWan
        (OID_GEN_CO_VENDOR_ID, &[0xFF, 0xFF, 0xFF, 0x00]), // no OUI, NIC byte 0
        (OID_GEN_CO_DRIVER_VERSION, &[0x1E, 0x06]),        // NDIS 6.30
        (OID_GEN_CO_MAC_OPTIONS, &[0, 0, 0, 0]),           // reserved: 0
        (OID_GEN_CO_MEDIA_CONNECT_STATUS, &[0, 0, 0, 0]),  // NdisMediaStateConnected
        (OID_GEN_CO_VENDOR_DRIVER_VERSION, &[1, 0, 0, 0]), // covmini 0.1
        // 1 Gb/s = 10,000,000 units of 100 bit/s, both ways.
        (OID_GEN_CO_LINK_SPEED, &[0x80, 0x96, 0x98, 0x00, 0x80, 0x96, 0x98, 0x00]),
        (
            OID_GEN_CO_MINIMUM_LINK_SPEED,
            &[0x80, 0x96, 0x98, 0x00, 0x80, 0x96, 0x98, 0x00],
        ),
    ];
    for (oid, expected) in cases {
        assert_eq!(answer(oid, Scope::Adapter), expected, "{:?}", oid_name(oid));
    }
    assert_eq!(
        answer(OID_GEN_CO_VENDOR_DESCRIPTION, Scope::Adapter),
        b"covmini CoNDIS WAN Miniport (loopback MCM)\0"
    );
}

#[test]
fn adapter_oids_asked_on_a_vc_get_the_adapter_answer() {
    let vc = vc();
    for oid in [
        OID_GEN_CO_VENDOR_ID,
        OID_GEN_CO_HARDWARE_STATUS,
        OID_WAN_CO_GET_INFO,
        OID_GEN_CO_SUPPORTED_LIST,
    ] {
        assert_eq!(answer(oid, Scope::Vc(&vc)), answer(oid, Scope::Adapter));
    }
}

#[test]
fn a_disconnected_or_initializing_adapter_says_so() {
    let a = AdapterInfo {
        media_connected: false,
        hardware_status: HardwareStatus::Initializing,
        ..AdapterInfo::covmini()
    };
    let (o, buf) = run(
        RequestKind::Query,
        OID_GEN_CO_MEDIA_CONNECT_STATUS,
        4,
        Scope::Adapter,
        &a,
    );
    assert_eq!((o, buf.as_slice()), (success(4, 4), &[1u8, 0, 0, 0][..]));
    let (o, buf) = run(RequestKind::Query, OID_GEN_CO_HARDWARE_STATUS, 4, Scope::Adapter, &a);
    assert_eq!((o, buf.as_slice()), (success(4, 4), &[1u8, 0, 0, 0][..]));
}

#[test]
fn link_speed_on_a_vc_is_the_vcs() {
    let vc = vc();
    // 64 kb/s = 640 units.
    assert_eq!(
        answer(OID_GEN_CO_LINK_SPEED, Scope::Vc(&vc)),
        [0x80, 0x02, 0, 0, 0x80, 0x02, 0, 0]
    );
    // The minimum is the adapter's, whoever asks.
    assert_eq!(
        answer(OID_GEN_CO_MINIMUM_LINK_SPEED, Scope::Vc(&vc)),
        answer(OID_GEN_CO_MINIMUM_LINK_SPEED, Scope::Adapter)
    );
}

#[test]
fn wan_co_get_info_fixture() {
    assert_eq!(
        answer(OID_WAN_CO_GET_INFO, Scope::Adapter),
        [
            0xDC, 0x05, 0x00, 0x00, // MaxFrameSize 1500
            0x20, 0x00, 0x00, 0x00, // MaxSendWindow 32
            0x00, 0x07, 0x00, 0x00, // PPP_FRAMING | ACFC | PFC
            0x00, 0x00, 0x00, 0x00, // DesiredACCM
        ]
    );
}

#[test]
fn wan_co_get_link_info_of_a_new_vc() {
    let vc = vc();
    assert_eq!(
        answer(OID_WAN_CO_GET_LINK_INFO, Scope::Vc(&vc)),
        [
            0xDC, 0x05, 0, 0, 0xDC, 0x05, 0, 0, // frame sizes 1500
            0x00, 0x07, 0, 0, 0x00, 0x07, 0, 0, // framing: all the adapter offers
            0, 0, 0, 0, 0, 0, 0, 0, // no compression
            0, 0, 0, 0, 0, 0, 0, 0, // ACCMs
        ]
    );
}

// ---------------------------------------------------------------------------
// Statistics: the 4-or-8-byte rule
// ---------------------------------------------------------------------------

#[test]
fn counters_are_64_bit_with_an_8_byte_buffer() {
    let (o, buf) = query(OID_GEN_CO_XMIT_PDUS_OK, 8, Scope::Adapter);
    assert_eq!(o, success(8, 8));
    assert_eq!(buf, [2, 0, 0, 0, 1, 0, 0, 0]);
    let (o, buf) = query(OID_GEN_CO_BYTES_RCV, 12, Scope::Adapter);
    assert_eq!(o, success(8, 8));
    assert_eq!(buf, [8, 0, 0, 0, 0, 0, 0, 0, FILL, FILL, FILL, FILL]);
}

#[test]
fn a_4_to_7_byte_buffer_gets_the_low_32_bits_and_bytes_needed_8() {
    for len in 4..8 {
        let (o, buf) = query(OID_GEN_CO_XMIT_PDUS_OK, len, Scope::Adapter);
        assert_eq!(o, success(4, 8), "len {len}");
        assert_eq!(buf[..4], [2, 0, 0, 0]);
        assert!(buf[4..].iter().all(|&b| b == FILL));
    }
}

#[test]
fn a_counter_buffer_under_4_bytes_is_invalid_length() {
    for len in 0..4 {
        let (o, buf) = query(OID_GEN_CO_RCV_PDUS_OK, len, Scope::Adapter);
        assert_eq!(o, failure(NDIS_STATUS_INVALID_LENGTH, 8), "len {len}");
        assert!(buf.iter().all(|&b| b == FILL));
    }
}

#[test]
fn every_counter_reads_its_own_field_adapter_wide_and_per_vc() {
    let vc = vc();
    let cases = [
        (OID_GEN_CO_XMIT_PDUS_OK, 0x0000_0001_0000_0002, 101),
        (OID_GEN_CO_RCV_PDUS_OK, 3, 102),
        (OID_GEN_CO_XMIT_PDUS_ERROR, 4, 103),
        (OID_GEN_CO_RCV_PDUS_ERROR, 5, 104),
        (OID_GEN_CO_RCV_PDUS_NO_BUFFER, 6, 105),
        (OID_GEN_CO_BYTES_XMIT, 7, 106),
        (OID_GEN_CO_BYTES_RCV, 8, 107),
    ];
    let read = |bytes: Vec<u8>| u64::from_le_bytes(bytes.try_into().unwrap());
    for (oid, adapter_value, vc_value) in cases {
        assert_eq!(read(answer(oid, Scope::Adapter)), adapter_value, "{:?}", oid_name(oid));
        assert_eq!(
            read(answer(oid, Scope::Vc(&vc))),
            vc_value,
            "{:?} on a VC",
            oid_name(oid)
        );
    }
}

// ---------------------------------------------------------------------------
// Buffer lengths: short, exact, long
// ---------------------------------------------------------------------------

/// Every queryable, non-counter entry with its full answer length.
fn fixed_queries<'v>(vc: &'v VcInfo, cm: &'v CmInfo) -> Vec<(NDIS_OID, Scope<'v>, usize)> {
    TABLE
        .iter()
        .filter(|e| e.queryable())
        .filter_map(|e| {
            let scope = home_scope(e, vc, cm);
            let (o, _) = query(e.oid, BIG, scope);
            // Counters answer BytesNeeded 8 with BytesWritten 8: same shape,
            // but their short-buffer rule differs (tested above).
            let is_counter = matches!(
                e.oid,
                OID_GEN_CO_XMIT_PDUS_OK
                    | OID_GEN_CO_RCV_PDUS_OK
                    | OID_GEN_CO_XMIT_PDUS_ERROR
                    | OID_GEN_CO_RCV_PDUS_ERROR
                    | OID_GEN_CO_RCV_PDUS_NO_BUFFER
                    | OID_GEN_CO_BYTES_XMIT
                    | OID_GEN_CO_BYTES_RCV
            );
            (!is_counter).then_some((e.oid, scope, o.bytes_written as usize))
        })
        .collect()
}

#[test]
fn short_query_buffers_are_buffer_too_short_with_bytes_needed_and_untouched() {
    let vc = vc();
    let cm = cm();
    let cases = fixed_queries(&vc, &cm);
    assert_eq!(cases.len(), 15);
    for (oid, scope, full) in cases {
        for len in [0, full - 1] {
            let (o, buf) = query(oid, len, scope);
            assert_eq!(
                o,
                failure(NDIS_STATUS_BUFFER_TOO_SHORT, full as u32),
                "{:?} len {len}",
                oid_name(oid)
            );
            assert!(
                buf.iter().all(|&b| b == FILL),
                "{:?} wrote into a short buffer",
                oid_name(oid)
            );
        }
    }
}

#[test]
fn exact_and_long_query_buffers_succeed_with_the_full_answer() {
    let vc = vc();
    let cm = cm();
    for (oid, scope, full) in fixed_queries(&vc, &cm) {
        let (exact, exact_buf) = query(oid, full, scope);
        assert_eq!(exact, success(full as u32, full as u32), "{:?}", oid_name(oid));
        let (long, long_buf) = query(oid, full + 5, scope);
        assert_eq!(long, exact, "{:?}", oid_name(oid));
        assert_eq!(long_buf[..full], exact_buf[..]);
        assert_eq!(long_buf[full..], [FILL; 5]);
    }
}

// ---------------------------------------------------------------------------
// Unknown OIDs and unsupported operations
// ---------------------------------------------------------------------------

#[test]
fn unknown_oids_are_invalid_oid_to_the_miniport_and_not_supported_to_the_call_manager() {
    let vc = vc();
    let cm = cm();
    // Left to NDIS or deliberately not answered (docs/oids.md says why).
    for oid in [
        OID_PNP_SET_POWER,
        OID_PNP_QUERY_POWER,
        OID_GEN_MAXIMUM_FRAME_SIZE,
        OID_GEN_MAXIMUM_TOTAL_SIZE,
        OID_GEN_STATISTICS,
        OID_GEN_CO_SUPPORTED_GUIDS,
        OID_WAN_CO_GET_COMP_INFO,
        OID_WAN_CO_SET_COMP_INFO,
        OID_WAN_CO_GET_STATS_INFO,
        0xDEAD_BEEF,
    ] {
        for scope in [Scope::Adapter, Scope::Vc(&vc)] {
            let (o, buf) = query(oid, 64, scope);
            assert_eq!(o, failure(NDIS_STATUS_INVALID_OID, 0), "{oid:#010x}");
            assert!(buf.iter().all(|&b| b == FILL));
        }
        let (o, buf) = query(oid, 64, Scope::CallManager(&cm));
        assert_eq!(o, failure(NDIS_STATUS_NOT_SUPPORTED, 0), "{oid:#010x}");
        assert!(buf.iter().all(|&b| b == FILL));
    }
}

#[test]
fn known_oids_refuse_what_they_do_not_support() {
    // Set of a query-only OID.
    assert_eq!(
        set(OID_GEN_CO_VENDOR_ID, &[1, 2, 3, 4], Scope::Adapter),
        failure(NDIS_STATUS_NOT_SUPPORTED, 0)
    );
    // Query of a set-only OID [D: PROTOCOL_OPTIONS is set-only].
    let (o, buf) = query(OID_GEN_CO_PROTOCOL_OPTIONS, 4, Scope::Adapter);
    assert_eq!(o, failure(NDIS_STATUS_NOT_SUPPORTED, 0));
    assert_eq!(buf, [FILL; 4]);
    // Methods and legacy request types, on every table OID.
    for e in TABLE {
        for kind in [RequestKind::Method, RequestKind::Other(5)] {
            let (o, _) = run(kind, e.oid, 64, Scope::Adapter, &adapter());
            assert_eq!(o, failure(NDIS_STATUS_NOT_SUPPORTED, 0), "{}", e.name);
        }
    }
}

#[test]
fn request_types_classify_as_ndis_defines_them() {
    assert_eq!(
        RequestKind::from_request_type(NdisRequestQueryInformation),
        RequestKind::Query
    );
    assert_eq!(
        RequestKind::from_request_type(NdisRequestQueryStatistics),
        RequestKind::Query
    );
    assert_eq!(
        RequestKind::from_request_type(NdisRequestSetInformation),
        RequestKind::Set
    );
    assert_eq!(RequestKind::from_request_type(NdisRequestMethod), RequestKind::Method);
    assert_eq!(RequestKind::from_request_type(3), RequestKind::Other(3));
}

// ---------------------------------------------------------------------------
// Set paths
// ---------------------------------------------------------------------------

#[test]
fn protocol_options_set_returns_the_effect() {
    let o = set(OID_GEN_CO_PROTOCOL_OPTIONS, &[0x06, 0, 0, 0], Scope::Adapter);
    assert_eq!(o.status, NDIS_STATUS_SUCCESS);
    assert_eq!((o.bytes_written, o.bytes_needed), (4, 4));
    assert_eq!(
        o.effect,
        Some(SetEffect::ProtocolOptions(
            NDIS_PROT_OPTION_NO_LOOPBACK | NDIS_PROT_OPTION_NO_RSVD_ON_RCVPKT
        ))
    );
    // Bits defined later are stored too.
    let o = set(OID_GEN_CO_PROTOCOL_OPTIONS, &[0, 0, 0, 0x80], Scope::Adapter);
    assert_eq!(o.effect, Some(SetEffect::ProtocolOptions(0x8000_0000)));
}

#[test]
fn set_buffers_of_any_other_length_are_invalid_length_with_bytes_needed() {
    let vc = vc();
    for len in [0, 1, 3, 5, 8] {
        let o = set(OID_GEN_CO_PROTOCOL_OPTIONS, &vec![1; len], Scope::Adapter);
        assert_eq!(o, failure(NDIS_STATUS_INVALID_LENGTH, 4), "len {len}");
    }
    let mut input = valid_set_input(OID_WAN_CO_SET_LINK_INFO);
    let o = set(OID_WAN_CO_SET_LINK_INFO, &input[..31], Scope::Vc(&vc));
    assert_eq!(o, failure(NDIS_STATUS_INVALID_LENGTH, 32));
    input.push(0);
    let o = set(OID_WAN_CO_SET_LINK_INFO, &input, Scope::Vc(&vc));
    assert_eq!(o, failure(NDIS_STATUS_INVALID_LENGTH, 32));
}

#[test]
fn an_exact_set_buffer_is_read_whole() {
    let o = set(OID_GEN_CO_PROTOCOL_OPTIONS, &[1, 0, 0, 0], Scope::Adapter);
    assert_eq!((o.status, o.bytes_written, o.bytes_needed), (NDIS_STATUS_SUCCESS, 4, 4));
    assert_eq!(o.effect, Some(SetEffect::ProtocolOptions(1)));
}

/// NDISWAN's set after LCP: 1400-byte frames, PPP with ACFC on receive.
static SET_LINK_INFO_BYTES: [u8; 32] = [
    0x78, 0x05, 0, 0, // MaxSendFrameSize 1400
    0x78, 0x05, 0, 0, // MaxRecvFrameSize 1400
    0x00, 0x01, 0, 0, // SendFramingBits PPP_FRAMING
    0x00, 0x03, 0, 0, // RecvFramingBits PPP_FRAMING | ACFC
    0, 0, 0, 0, 0, 0, 0, 0, // compression (reserved)
    0xFF, 0xFF, 0xFF, 0xFF, // SendACCM
    0, 0, 0, 0, // RecvACCM
];

#[test]
fn set_link_info_round_trips_through_the_vc() {
    let mut vc = vc();
    let o = set(OID_WAN_CO_SET_LINK_INFO, &SET_LINK_INFO_BYTES, Scope::Vc(&vc));
    assert_eq!(
        (o.status, o.bytes_written, o.bytes_needed),
        (NDIS_STATUS_SUCCESS, 32, 32)
    );
    let Some(SetEffect::WanLinkInfo(info)) = o.effect else {
        panic!("no link info effect: {o:?}")
    };
    assert_eq!(info.max_send_frame_size, 1400);
    assert_eq!(info.recv_framing_bits, PPP_FRAMING | PPP_COMPRESS_ADDRESS_CONTROL);
    // The glue stores it; the next query answers it, byte for byte.
    vc.link_info = info;
    assert_eq!(answer(OID_WAN_CO_GET_LINK_INFO, Scope::Vc(&vc)), SET_LINK_INFO_BYTES);
}

#[test]
fn set_link_info_out_of_bounds_is_invalid_data_without_effect() {
    let vc = vc();
    let mut too_big = SET_LINK_INFO_BYTES;
    too_big[..4].copy_from_slice(&1501u32.to_le_bytes());
    assert_eq!(
        set(OID_WAN_CO_SET_LINK_INFO, &too_big, Scope::Vc(&vc)),
        failure(NDIS_STATUS_INVALID_DATA, 32)
    );
    let mut slip = SET_LINK_INFO_BYTES;
    slip[8..12].copy_from_slice(&SLIP_FRAMING.to_le_bytes());
    assert_eq!(
        set(OID_WAN_CO_SET_LINK_INFO, &slip, Scope::Vc(&vc)),
        failure(NDIS_STATUS_INVALID_DATA, 32)
    );
}

// ---------------------------------------------------------------------------
// Scope refusals
// ---------------------------------------------------------------------------

#[test]
fn vc_only_oids_without_a_vc_are_invalid_data() {
    let (o, buf) = query(OID_WAN_CO_GET_LINK_INFO, 64, Scope::Adapter);
    assert_eq!(o, failure(NDIS_STATUS_INVALID_DATA, 0));
    assert!(buf.iter().all(|&b| b == FILL));
    assert_eq!(
        set(OID_WAN_CO_SET_LINK_INFO, &SET_LINK_INFO_BYTES, Scope::Adapter),
        failure(NDIS_STATUS_INVALID_DATA, 0)
    );
}

#[test]
fn the_call_manager_refuses_every_miniport_oid() {
    let cm = cm();
    let miniport: Vec<_> = TABLE.iter().filter(|e| e.scopes.miniport()).collect();
    assert_eq!(miniport.len(), SUPPORTED_OIDS.len());
    for e in miniport {
        if e.queryable() {
            let (o, buf) = query(e.oid, BIG, Scope::CallManager(&cm));
            assert_eq!(o, failure(NDIS_STATUS_NOT_SUPPORTED, 0), "{}", e.name);
            assert!(buf.iter().all(|&b| b == FILL));
        }
        if e.settable() {
            let o = set(e.oid, &valid_set_input(e.oid), Scope::CallManager(&cm));
            assert_eq!(o, failure(NDIS_STATUS_NOT_SUPPORTED, 0), "{}", e.name);
        }
    }
}

#[test]
fn the_miniport_refuses_the_call_managers_oids() {
    let vc = vc();
    let cm_only: Vec<_> = TABLE.iter().filter(|e| !e.scopes.miniport()).collect();
    assert_eq!(
        cm_only.iter().map(|e| e.oid).collect::<Vec<_>>(),
        [OID_CO_GET_ADDRESSES]
    );
    for e in cm_only {
        for scope in [Scope::Adapter, Scope::Vc(&vc)] {
            let (o, buf) = query(e.oid, BIG, scope);
            assert_eq!(o, failure(NDIS_STATUS_NOT_SUPPORTED, 0), "{} {scope:?}", e.name);
            assert!(buf.iter().all(|&b| b == FILL));
        }
    }
}

// ---------------------------------------------------------------------------
// Robustness: no panic, never PENDING, never past the buffer
// ---------------------------------------------------------------------------

/// Every OID of the table (and two it lacks), in every scope and of every
/// kind, with each buffer length `lengths` picks from a probe of that request
/// with a 100-byte buffer: never PENDING, never past the buffer, nothing
/// written on a refusal, and a set's effect only on success.
fn any_request_is_answered_within_the_buffer(lengths: fn(&OidOutcome) -> Vec<usize>) {
    let vc = vc();
    let cm = cm();
    let a = adapter();
    let mut oids: Vec<NDIS_OID> = TABLE.iter().map(|e| e.oid).collect();
    oids.extend([0x0401_0183, OID_CO_ADD_ADDRESS]);
    for oid in oids {
        for scope in [Scope::Adapter, Scope::Vc(&vc), Scope::CallManager(&cm)] {
            for kind in [RequestKind::Query, RequestKind::Set, RequestKind::Method] {
                let (probe, _) = run(kind, oid, 100, scope, &a);
                for len in lengths(&probe) {
                    let (o, buf) = run(kind, oid, len, scope, &a);
                    assert_ne!(o.status, NDIS_STATUS_PENDING);
                    assert!(o.bytes_written as usize <= len, "{oid:#010x} {kind:?} len {len}");
                    if kind != RequestKind::Query || o.status != NDIS_STATUS_SUCCESS {
                        assert!(buf.iter().all(|&b| b == FILL), "{oid:#010x} {kind:?} len {len} wrote");
                    }
                    assert_eq!(o.effect.is_some(), kind == RequestKind::Set && o.succeeded());
                }
            }
        }
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "45k requests take many minutes under Miri; any_request_at_its_boundary_lengths_is_answered_within_the_buffer is its Miri-sized variant"
)]
fn any_request_any_length_is_answered_within_the_buffer() {
    any_request_is_answered_within_the_buffer(|_| (0..=100).collect());
}

/// The Miri-sized variant of the every-length test: each request only at the
/// lengths where its answer can change: 0, 1, one byte short of what the
/// probe needed or wrote, exactly that, one byte more, and 100.
#[test]
fn any_request_at_its_boundary_lengths_is_answered_within_the_buffer() {
    any_request_is_answered_within_the_buffer(|probe| {
        let n = probe.bytes_needed.max(probe.bytes_written) as usize;
        vec![0, 1, n.saturating_sub(1), n, n + 1, 100]
    });
}

// ---------------------------------------------------------------------------
// The call manager: OID_CO_GET_ADDRESSES and the refused OID_CO_*
// ---------------------------------------------------------------------------

/// One `CO_ADDRESS` slot as the OID page lays it out: AddressSize, then the
/// bytes, zero-padded to the slot.
fn slot(address: &[u8]) -> Vec<u8> {
    let mut s = (address.len() as u32).to_le_bytes().to_vec();
    s.extend_from_slice(address);
    s.resize(4 + MAX_ADDRESS_LEN, 0);
    s
}

#[test]
fn get_addresses_lists_echo_then_every_sap_in_fixed_slots() {
    let cm = cm();
    let bytes = answer(OID_CO_GET_ADDRESSES, Scope::CallManager(&cm));
    // 8-byte header, MAX_SAPS + 1 slots of 4 + 32 bytes: 8 + 33 * 36.
    assert_eq!(bytes.len(), 1196);
    assert_eq!(
        bytes[..4],
        33u32.to_le_bytes(),
        "NumberOfAddressesAvailable: the capacity"
    );
    assert_eq!(
        bytes[4..8],
        3u32.to_le_bytes(),
        "NumberOfAddresses: echo, bob, the long one"
    );
    let mut expected = slot(ECHO_ADDRESS);
    expected.extend(slot(b"bob"));
    expected.extend(slot(&[b'x'; MAX_ADDRESS_LEN]));
    assert_eq!(bytes[8..8 + 3 * 36], expected[..]);
    assert!(bytes[8 + 3 * 36..].iter().all(|&b| b == 0), "unfilled slots are zeros");
    // The reader agrees with the bytes.
    assert_eq!(CoAddressList::counts(&bytes), Ok((33, 3)));
    assert_eq!(CoAddressList::address(&bytes, 0), Some(ECHO_ADDRESS));
    assert_eq!(CoAddressList::address(&bytes, 1), Some(&b"bob"[..]));
    assert_eq!(CoAddressList::address(&bytes, 3), None);
}

#[test]
fn get_addresses_has_one_length_whatever_the_number_of_saps() {
    let none = CmInfo::new([]);
    let full_saps: Vec<Address> = (0..MAX_SAPS)
        .map(|i| Address::new(std::format!("sap{i}").as_bytes()).unwrap())
        .collect();
    let full = CmInfo::new(&full_saps);
    for (info, count) in [(none, 1u32), (cm(), 3), (full, 33)] {
        let (o, buf) = query(OID_CO_GET_ADDRESSES, BIG, Scope::CallManager(&info));
        assert_eq!(o, success(1196, 1196));
        assert_eq!(CoAddressList::counts(&buf), Ok((33, count)));
        assert!(buf[1196..].iter().all(|&b| b == FILL), "nothing past BytesWritten");
    }
    let full = CmInfo::new(&full_saps);
    let (_, buf) = query(OID_CO_GET_ADDRESSES, BIG, Scope::CallManager(&full));
    assert_eq!(CoAddressList::address(&buf, 32), Some(&b"sap31"[..]));
}

#[test]
fn get_addresses_short_buffers_are_buffer_too_short_with_the_exact_length() {
    let cm = cm();
    for len in [0, 1, 8, 16, 44, 1195] {
        let (o, buf) = query(OID_CO_GET_ADDRESSES, len, Scope::CallManager(&cm));
        assert_eq!(o, failure(NDIS_STATUS_BUFFER_TOO_SHORT, 1196), "len {len}");
        assert!(buf.iter().all(|&b| b == FILL), "len {len}: buffer untouched");
    }
    let (o, _) = query(OID_CO_GET_ADDRESSES, 1196, Scope::CallManager(&cm));
    assert_eq!(o, success(1196, 1196));
}

#[test]
fn get_addresses_is_query_only() {
    let cm = cm();
    for len in [0, 4, 1196] {
        let o = set(OID_CO_GET_ADDRESSES, &vec![0; len], Scope::CallManager(&cm));
        assert_eq!(o, failure(NDIS_STATUS_NOT_SUPPORTED, 0), "set len {len}");
    }
    for kind in [RequestKind::Method, RequestKind::Other(3)] {
        let (o, buf) = run(kind, OID_CO_GET_ADDRESSES, BIG, Scope::CallManager(&cm), &adapter());
        assert_eq!(o, failure(NDIS_STATUS_NOT_SUPPORTED, 0), "{kind:?}");
        assert!(buf.iter().all(|&b| b == FILL));
    }
}

/// The `OID_CO_*` covmini's call manager does not answer (docs/oids.md says
/// why): each is NOT_SUPPORTED with nothing read or written, whatever the
/// length, as a query or a set.
#[test]
fn the_other_call_manager_oids_are_not_supported() {
    let cm = cm();
    for oid in [
        OID_CO_ADD_PVC,
        OID_CO_DELETE_PVC,
        OID_CO_GET_CALL_INFORMATION,
        OID_CO_ADD_ADDRESS,
        OID_CO_DELETE_ADDRESS,
        OID_CO_ADDRESS_CHANGE,
        OID_CO_SIGNALING_ENABLED,
        OID_CO_SIGNALING_DISABLED,
        OID_CO_AF_CLOSE,
        OID_CO_TAPI_CM_CAPS,
        OID_CO_TAPI_LINE_CAPS,
        OID_CO_TAPI_ADDRESS_CAPS,
        OID_CO_TAPI_TRANSLATE_TAPI_CALLPARAMS,
        OID_CO_TAPI_TRANSLATE_NDIS_CALLPARAMS,
        OID_CO_TAPI_TRANSLATE_TAPI_SAP,
        OID_CO_TAPI_GET_CALL_DIAGNOSTICS,
        OID_CO_TAPI_REPORT_DIGITS,
        OID_CO_TAPI_DONT_REPORT_DIGITS,
    ] {
        assert!(table::lookup(oid).is_none(), "{oid:#010x}");
        for len in [0, 8, 64] {
            let (o, buf) = query(oid, len, Scope::CallManager(&cm));
            assert_eq!(o, failure(NDIS_STATUS_NOT_SUPPORTED, 0), "query {oid:#010x}");
            assert!(buf.iter().all(|&b| b == FILL));
            let o = set(oid, &vec![1; len], Scope::CallManager(&cm));
            assert_eq!(o, failure(NDIS_STATUS_NOT_SUPPORTED, 0), "set {oid:#010x}");
        }
        // Sent to the miniport instead: not recognized there.
        let (o, _) = query(oid, 64, Scope::Adapter);
        assert_eq!(o, failure(NDIS_STATUS_INVALID_OID, 0), "{oid:#010x}");
    }
}

// ---------------------------------------------------------------------------
// The call manager's snapshot: what a call reaches
// ---------------------------------------------------------------------------

fn addresses_of(cm: &CallManager<usize>) -> Vec<Vec<u8>> {
    CmInfo::new(cm.sap_addresses())
        .addresses()
        .map(|a| a.as_bytes().to_vec())
        .collect()
}

#[test]
fn the_snapshot_lists_echo_and_the_saps_a_call_reaches() {
    let mut cm: CallManager<usize> = CallManager::new();
    assert_eq!(addresses_of(&cm), [ECHO_ADDRESS.to_vec()], "echo needs no SAP");
    let af_bob = cm.open_af(1).unwrap();
    let af_carol = cm.open_af(2).unwrap();
    let af_alice = cm.open_af(3).unwrap();
    cm.register_sap(af_bob, 10, Address::new(b"bob").unwrap()).unwrap();
    let carol = cm.register_sap(af_carol, 11, Address::new(b"carol").unwrap()).unwrap();
    assert_eq!(
        addresses_of(&cm),
        [b"echo".to_vec(), b"bob".to_vec(), b"carol".to_vec()]
    );

    // A SAP whose deregistration pends (a call is being offered on it) is
    // no longer reached.
    let caller = cm.create_vc(af_alice, 20).unwrap();
    let plan = cm
        .make_call_begin(caller, &Address::new(b"carol").unwrap(), 21)
        .unwrap();
    assert!(matches!(
        cm.deregister_sap(carol),
        Ok(crate::call_manager::Finish::Pend(_))
    ));
    assert_eq!(addresses_of(&cm), [b"echo".to_vec(), b"bob".to_vec()]);
    let _ = cm.make_call_create_failed(caller, &plan);

    // Nor is a SAP whose AF is closing.
    assert!(matches!(cm.close_af(af_bob), Ok(crate::call_manager::Finish::Pend(_))));
    assert_eq!(addresses_of(&cm), [b"echo".to_vec()]);
}

#[test]
fn the_snapshot_holds_every_sap() {
    let saps: Vec<Address> = (0..MAX_SAPS + 5)
        .map(|i| Address::new(std::format!("s{i}").as_bytes()).unwrap())
        .collect();
    let info = CmInfo::new(&saps);
    let listed: Vec<&Address> = info.addresses().collect();
    assert_eq!(listed.len(), MAX_SAPS + 1, "echo and MAX_SAPS SAPs; more cannot exist");
    assert_eq!(listed[0].as_bytes(), ECHO_ADDRESS);
    assert_eq!(listed[MAX_SAPS].as_bytes(), b"s31");
    assert_eq!(CmInfo::EMPTY.addresses().count(), 0);
}

// ---------------------------------------------------------------------------
// The docs agree with the table (docs/oids.md and the README's OID table)
// ---------------------------------------------------------------------------

/// The rows of the first Markdown table under `heading` whose first cell
/// names an OID, split into trimmed cells (`**` dropped). Cells after the
/// ones compared may contain escaped pipes; only leading cells are used.
fn oid_rows(doc: &str, heading: &str) -> Vec<Vec<String>> {
    let start = doc.find(heading).unwrap_or_else(|| panic!("no `{heading}`"));
    let section = &doc[start + heading.len()..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter(|l| l.starts_with("| `OID_"))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().replace("**", "").trim_matches('`').to_string())
                .collect()
        })
        .collect()
}

fn is_counter(oid: NDIS_OID) -> bool {
    matches!(
        oid,
        OID_GEN_CO_XMIT_PDUS_OK
            | OID_GEN_CO_RCV_PDUS_OK
            | OID_GEN_CO_XMIT_PDUS_ERROR
            | OID_GEN_CO_RCV_PDUS_ERROR
            | OID_GEN_CO_RCV_PDUS_NO_BUFFER
            | OID_GEN_CO_BYTES_XMIT
            | OID_GEN_CO_BYTES_RCV
    )
}

/// docs/oids.md's "The table" has one row per table entry, in order, with the
/// entry's value, scope, operation and answer length; the README's "OIDs"
/// table has one row per entry, in order, with its scope and operation. So
/// neither can drift from `table.rs`: an OID added, removed, re-scoped or
/// made settable there fails this test until both are updated.
#[test]
fn the_docs_list_exactly_the_table() {
    let vc = vc();
    let cm = cm();
    let docs = oid_rows(include_str!("../../docs/oids.md"), "## The table");
    let readme = oid_rows(include_str!("../../README.md"), "## OIDs");
    let names: Vec<&str> = TABLE.iter().map(|e| e.name).collect();
    assert_eq!(
        docs.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(),
        names,
        "docs/oids.md rows"
    );
    assert_eq!(
        readme.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(),
        names,
        "README rows"
    );
    for ((e, d), r) in TABLE.iter().zip(&docs).zip(&readme) {
        let (docs_scope, readme_scope) = match (e.scopes.adapter, e.scopes.vc, e.scopes.call_manager) {
            (true, true, false) => ("A, V", "adapter, VC"),
            (false, true, false) => ("V only", "VC"),
            (false, false, true) => ("CM", "CM"),
            other => panic!("{}: scopes {other:?} have no notation in the docs", e.name),
        };
        let (docs_op, readme_op) = if e.settable() {
            ("set only", "set")
        } else {
            ("query", "query")
        };
        let len = if e.oid == OID_GEN_CO_SUPPORTED_LIST {
            std::format!("4 × {} = {}", SUPPORTED_OIDS.len(), 4 * SUPPORTED_OIDS.len())
        } else if is_counter(e.oid) {
            "4 or 8".into()
        } else if let Some(spec) = e.set {
            spec.len.to_string()
        } else {
            let (o, _) = query(e.oid, BIG, home_scope(e, &vc, &cm));
            o.bytes_written.to_string()
        };
        assert_eq!(
            d[1..5],
            [std::format!("0x{:08X}", e.oid), docs_scope.into(), docs_op.into(), len],
            "docs/oids.md row of {}",
            e.name
        );
        assert_eq!(r[1..3], [readme_scope, readme_op], "README row of {}", e.name);
    }
}

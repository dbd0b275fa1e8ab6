//! Malformed input reaches the driver (issue #10): raw CO_CALL_PARAMETERS,
//! CO_SAPs and OID information buffers, laid out byte by byte by ndis-emu's
//! raw client API (`ndis_emu::ffi::raw`), each structure in guarded memory
//! that ends where its bytes end, so a read past what a client really passed
//! faults the test. Each case gets the status docs/call-manager.md and
//! docs/oids.md document, no contract violation, no leak, and the adapter
//! still connects a good call afterwards.
//!
//! NDIS reads none of these blocks on the way to covmini: a
//! CO_CALL_PARAMETERS carries no total length and a CO_SAP only its own
//! SapLength, so NDIS could not bound them, and "NDIS does not validate the
//! OID-specific contents" (MiniportCoOidRequest, Remarks). The call manager
//! is the only reader, so these are exactly what covmini sees on Windows.

mod common;

use common::scenario::{Pair, assert_clean, call_to, call_to_at, pair, with_adapter};

use covmini::call_manager::{PARAM_TYPE_CALLED_ADDRESS, SAP_TYPE_ADDRESS};
use covmini::config;
use ndis_emu::ffi::raw::{CM_TAIL, MEDIA_TAIL, raw_sap};
use ndis_emu::{Answer, CallSpec, CallState, Emulator, RawCallParams, RawOidBuffer};
use ndis_sys::*;

/// A well-formed raw call to `address`: fixed parts and tails exactly as
/// long as they state, each block ending at its guard page.
fn raw_call(address: &[u8]) -> RawCallParams {
    RawCallParams::from_spec(&call_to(address))
}

/// A flow with every field chosen by the test.
fn flow(rate: ULONG, peak: ULONG, sdu: ULONG, service: ULONG) -> FLOWSPEC {
    FLOWSPEC {
        TokenRate: rate,
        TokenBucketSize: sdu,
        PeakBandwidth: peak,
        Latency: QOS_NOT_SPECIFIED,
        DelayVariation: QOS_NOT_SPECIFIED,
        ServiceType: service,
        MaxSduSize: sdu,
        MinimumPolicedSize: QOS_NOT_SPECIFIED,
    }
}

/// After the malformed requests: a fresh VC of alice's still gets a good
/// call to bob through, and closes it.
fn still_connects(emu: &Emulator, p: &Pair) {
    let vc = emu.create_vc(p.alice_af).expect("a fresh VC");
    assert_eq!(
        emu.make_call(vc, &call_to(b"bob")),
        NDIS_STATUS_SUCCESS,
        "a good call after the bad ones"
    );
    assert_eq!(emu.vc_state(vc), Some((CallState::Connected, true)));
    assert_eq!(emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS);
    assert_eq!(emu.delete_vc(vc), NDIS_STATUS_SUCCESS);
}

/// Makes a raw call on a fresh VC of alice's and returns its status; a
/// call that connected is closed again, and the VC deleted.
fn make_raw(emu: &Emulator, p: &Pair, raw: &RawCallParams) -> NDIS_STATUS {
    let vc = emu.create_vc(p.alice_af).expect("VC");
    let (status, _) = emu.make_call_raw(vc, raw, false);
    if status == NDIS_STATUS_SUCCESS {
        assert_eq!(emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS);
    } else {
        assert_eq!(
            emu.vc_state(vc).map(|(_, active)| active),
            Some(false),
            "a failed call leaves the VC inactive"
        );
    }
    assert_eq!(emu.delete_vc(vc), NDIS_STATUS_SUCCESS);
    status
}

/// A raw call whose blocks hold exactly the fixed fields and the tails they
/// state connects: covmini reads no byte past them (the regression test of
/// the whole-structure copies, which faulted here).
#[test]
fn a_well_formed_raw_call_whose_blocks_end_at_their_last_byte_connects() {
    // "bob": a media block of 24 + 3 bytes and a call-manager block of 72,
    // shorter than sizeof(CO_MEDIA_PARAMETERS) + 3 and
    // sizeof(CO_CALL_MANAGER_PARAMETERS): a driver that copies whole
    // structures reads past them.
    let report = with_adapter(|emu| {
        let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
        let raw = raw_call(b"bob");
        assert_eq!(raw.media.as_ref().map(Vec::len), Some(MEDIA_TAIL + 3));
        assert_eq!(raw.call_mgr.as_ref().map(Vec::len), Some(CM_TAIL));
        assert_eq!(make_raw(emu, &p, &raw), NDIS_STATUS_SUCCESS);
        still_connects(emu, &p);
    });
    assert_clean(&report);
}

/// NULL MediaParameters is INVALID_DATA; NULL CallMgrParameters is a call
/// with no QoS asked for, which connects.
#[test]
fn make_call_links_that_are_null_get_the_documented_status() {
    let report = with_adapter(|emu| {
        let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
        assert_eq!(
            make_raw(emu, &p, &raw_call(b"bob").without_media()),
            NDIS_STATUS_INVALID_DATA,
            "no MediaParameters: no called address"
        );
        assert_eq!(
            make_raw(emu, &p, &raw_call(b"bob").without_media().without_call_mgr()),
            NDIS_STATUS_INVALID_DATA,
            "neither link"
        );
        // No CallMgrParameters: no QoS asked for; the call goes through
        // with unspecified best-effort flows (docs/call-manager.md).
        assert_eq!(
            make_raw(emu, &p, &raw_call(b"bob").without_call_mgr()),
            NDIS_STATUS_SUCCESS
        );
        still_connects(emu, &p);
    });
    assert_clean(&report);
}

/// A called address whose Length is 0 or past 32, or whose ParamType is not
/// covmini's, is INVALID_ADDRESS before its tail is read; more bytes than
/// stated are ignored; odd lengths that are addresses are routed.
#[test]
fn called_addresses_whose_header_disagrees_with_their_bytes_are_invalid_address_unread() {
    let report = with_adapter(|emu| {
        let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
        // The tail holds 3 bytes; each stated Length past the 32 an address
        // may have is refused before a byte of the tail is read (a read
        // would fault on the guard page 1 byte after "bob").
        for length in [33, 64, 0x1_0000, 0x7FFF_FFFF, u32::MAX] {
            let raw = raw_call(b"bob").media_specific(PARAM_TYPE_CALLED_ADDRESS, length, b"bob");
            assert_eq!(make_raw(emu, &p, &raw), NDIS_STATUS_INVALID_ADDRESS, "Length {length}");
        }
        let empty = raw_call(b"bob").media_specific(PARAM_TYPE_CALLED_ADDRESS, 0, b"");
        assert_eq!(
            make_raw(emu, &p, &empty),
            NDIS_STATUS_INVALID_ADDRESS,
            "Length 0, no tail"
        );
        for param_type in [0, 2, PARAM_TYPE_CALLED_ADDRESS + 1, u32::MAX] {
            let raw = raw_call(b"bob").media_specific(param_type, u32::MAX, b"");
            assert_eq!(
                make_raw(emu, &p, &raw),
                NDIS_STATUS_INVALID_ADDRESS,
                "ParamType {param_type:#x}"
            );
        }
        // More bytes than stated: only the stated ones are the address.
        let longer = raw_call(b"bob").media_specific(PARAM_TYPE_CALLED_ADDRESS, 3, b"bobby");
        assert_eq!(make_raw(emu, &p, &longer), NDIS_STATUS_SUCCESS, "\"bob\" of \"bobby\"");
        // Odd lengths that are addresses: 1 and 31 bytes, nobody listening.
        for address in [&b"b"[..], &[b'x'; 31][..], &[0xFF; 32][..]] {
            let raw = raw_call(address);
            assert_eq!(
                make_raw(emu, &p, &raw),
                NDIS_STATUS_NO_ROUTE_TO_DESTINATION,
                "{} bytes",
                address.len()
            );
        }
        still_connects(emu, &p);
    });
    assert_clean(&report);
}

/// CallMgrSpecific is never read, whatever its Length says.
#[test]
fn call_manager_specific_tails_are_never_read() {
    let report = with_adapter(|emu| {
        let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
        // A CallMgrSpecific that states 4 GiB with nothing behind it: covmini
        // reads only the two FLOWSPECs.
        let raw = raw_call(b"bob").call_mgr_specific(0x1234, u32::MAX, b"");
        assert_eq!(make_raw(emu, &p, &raw), NDIS_STATUS_SUCCESS);
        still_connects(emu, &p);
    });
    assert_clean(&report);
}

/// MULTIPOINT_VC in Flags without an initial party is NOT_SUPPORTED.
#[test]
fn flags_covmini_does_not_offer_are_refused() {
    let report = with_adapter(|emu| {
        let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
        let mut raw = raw_call(b"bob");
        raw.flags = MULTIPOINT_VC;
        assert_eq!(
            make_raw(emu, &p, &raw),
            NDIS_STATUS_NOT_SUPPORTED,
            "MULTIPOINT_VC without a party"
        );
        still_connects(emu, &p);
    });
    assert_clean(&report);
}

/// The make call's flows as covmini fitted them into the caller's block:
/// the call connects, TokenRate and PeakBandwidth at most the link's
/// 125,000,000 bytes/s, MaxSduSize at most the MTU.
#[test]
fn absurd_make_call_flows_are_fitted_to_the_link() {
    let report = with_adapter(|emu| {
        let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
        let link = 125_000_000;
        for f in [
            flow(u32::MAX - 1, u32::MAX - 1, u32::MAX - 1, SERVICETYPE_BESTEFFORT),
            flow(link + 1, link + 1, config::MTU + 1, SERVICETYPE_GUARANTEED),
            flow(1, 1, 1, 0xDEAD_BEEF),
        ] {
            let raw = raw_call(b"bob").flows(&f, &f);
            let vc = emu.create_vc(p.alice_af).expect("VC");
            let (status, _) = emu.make_call_raw(vc, &raw, false);
            assert_eq!(status, NDIS_STATUS_SUCCESS, "{f:?}");
            let back = emu
                .completed_call_params(vc)
                .expect("the caller's parameters, read within their blocks");
            for fitted in [back.transmit, back.receive] {
                assert!(fitted.TokenRate <= link && fitted.PeakBandwidth <= link, "{fitted:?}");
                assert!(fitted.MaxSduSize <= config::MTU, "{fitted:?}");
            }
            assert_eq!(emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS);
            assert_eq!(emu.delete_vc(vc), NDIS_STATUS_SUCCESS);
        }
        still_connects(emu, &p);
    });
    assert_clean(&report);
}

/// SAPs with a SapLength of 0, past 32 or huge, or a wrong SapType, are
/// INVALID_DATA with their tails unread; a SAP is its stated bytes only.
#[test]
fn malformed_sap_blocks_are_invalid_data_and_their_tails_unread() {
    let report = with_adapter(|emu| {
        let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
        let c = emu.client("c");
        let af = emu.open_af(c, config::AF).expect("open");
        // 8-byte header and 3 bytes: a SAP block shorter than sizeof(CO_SAP)
        // + 2; every other case has no more than its header.
        let cases: [(&str, Vec<u8>); 7] = [
            ("SapLength 0", raw_sap(SAP_TYPE_ADDRESS, 0, b"")),
            ("SapLength 33, 3 bytes", raw_sap(SAP_TYPE_ADDRESS, 33, b"ali")),
            ("SapLength 2^31, none", raw_sap(SAP_TYPE_ADDRESS, 0x8000_0000, b"")),
            ("SapLength u32::MAX, none", raw_sap(SAP_TYPE_ADDRESS, u32::MAX, b"")),
            ("SapType 0", raw_sap(0, 3, b"ali")),
            ("SapType u32::MAX, huge", raw_sap(u32::MAX, u32::MAX, b"")),
            ("SapType 2", raw_sap(SAP_TYPE_ADDRESS + 1, 3, b"ali")),
        ];
        for (what, block) in &cases {
            assert_eq!(emu.register_sap_raw(af, block), Err(NDIS_STATUS_INVALID_DATA), "{what}");
        }
        // More bytes than SapLength: the SAP is the stated bytes.
        let sap = emu
            .register_sap_raw(af, &raw_sap(SAP_TYPE_ADDRESS, 3, b"alix"))
            .expect("\"ali\" of \"alix\"");
        let vc = emu.create_vc(p.alice_af).expect("VC");
        assert_eq!(
            emu.make_call(vc, &call_to(b"ali")),
            NDIS_STATUS_SUCCESS,
            "the SAP is \"ali\""
        );
        assert_eq!(emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.delete_vc(vc), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.deregister_sap(sap), NDIS_STATUS_SUCCESS);
        still_connects(emu, &p);
    });
    assert_clean(&report);
}

/// Sets up alice's multipoint call to bob (the initial party); returns the root VC.
fn multipoint_root(emu: &Emulator, p: &Pair) -> ndis_emu::Vc {
    let root = emu.create_vc(p.alice_af).expect("root VC");
    let (status, party) = emu.make_multipoint_call(root, &call_to(b"bob"));
    assert_eq!(status, NDIS_STATUS_SUCCESS);
    assert!(party.is_some());
    root
}

/// Add party parses its parameters as make call does: the same statuses,
/// and a well-formed raw party (or one with no CallMgrParameters) joins.
#[test]
fn malformed_add_party_parameters_get_the_make_call_statuses() {
    let report = with_adapter(|emu| {
        let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
        let carol = emu.client("carol");
        let carol_af = emu.open_af(carol, config::AF).expect("carol's AF");
        let _carol_sap = emu
            .register_sap(carol_af, SAP_TYPE_ADDRESS, b"carol")
            .expect("carol's SAP");
        let root = multipoint_root(emu, &p);
        let cases = [
            (raw_call(b"carol").without_media(), NDIS_STATUS_INVALID_DATA),
            (
                raw_call(b"carol").media_specific(PARAM_TYPE_CALLED_ADDRESS, 99, b"carol"),
                NDIS_STATUS_INVALID_ADDRESS,
            ),
            (
                raw_call(b"carol").media_specific(7, 5, b"carol"),
                NDIS_STATUS_INVALID_ADDRESS,
            ),
            (
                raw_call(b"carol").media_specific(PARAM_TYPE_CALLED_ADDRESS, 0, b""),
                NDIS_STATUS_INVALID_ADDRESS,
            ),
            (raw_call(b"nobody"), NDIS_STATUS_NO_ROUTE_TO_DESTINATION),
        ];
        for (raw, want) in &cases {
            let (status, _) = emu.add_party_raw(root, raw);
            assert_eq!(status, *want, "{raw:?}");
        }
        // The well-formed raw party joins, with its blocks ending at their last byte.
        let (status, party) = emu.add_party_raw(root, &raw_call(b"carol"));
        assert_eq!(status, NDIS_STATUS_SUCCESS);
        assert!(party.is_some());
        assert_eq!(emu.parties(root).len(), 2);
        // Without CallMgrParameters: unspecified flows, as for a make call.
        let (status, _) = emu.add_party_raw(root, &raw_call(b"bob").without_call_mgr());
        assert_eq!(status, NDIS_STATUS_SUCCESS);
        assert_eq!(emu.close_call(root, &[]), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.delete_vc(root), NDIS_STATUS_SUCCESS);
        still_connects(emu, &p);
    });
    assert_clean(&report);
}

/// A QoS change with no CallMgrParameters is INVALID_DATA, absurd flows
/// INCOMPATABLE_QOS; only the FLOWSPECs are read.
#[test]
fn malformed_qos_changes_get_the_documented_status_and_change_nothing() {
    let report = with_adapter(|emu| {
        let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
        let vc = emu.create_vc(p.alice_af).expect("VC");
        assert_eq!(emu.make_call(vc, &call_to(b"bob")), NDIS_STATUS_SUCCESS);
        let good = call_to_at(b"bob", 250_000);
        assert_eq!(
            emu.modify_qos_raw(vc, &RawCallParams::from_spec(&good).without_call_mgr()),
            NDIS_STATUS_INVALID_DATA,
            "no CallMgrParameters"
        );
        let link = 125_000_000;
        for f in [
            flow(u32::MAX - 1, 1, 1500, SERVICETYPE_BESTEFFORT),
            flow(1, link + 1, 1500, SERVICETYPE_BESTEFFORT),
            flow(1, 1, config::MTU + 1, SERVICETYPE_BESTEFFORT),
            flow(1, 1, 0, SERVICETYPE_BESTEFFORT),
        ] {
            let raw = RawCallParams::from_spec(&good).flows(&f, &f);
            assert_eq!(emu.modify_qos_raw(vc, &raw), NDIS_STATUS_INCOMPATABLE_QOS, "{f:?}");
        }
        // Only the FLOWSPECs are read: a change with no MediaParameters and
        // a CallMgrSpecific stating 4 GiB of nothing is a good change.
        let raw = RawCallParams::from_spec(&good)
            .without_media()
            .call_mgr_specific(0, u32::MAX, b"");
        assert_eq!(emu.modify_qos_raw(vc, &raw), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.delete_vc(vc), NDIS_STATUS_SUCCESS);
        still_connects(emu, &p);
    });
    assert_clean(&report);
}

/// An answer with no links at all: covmini does not read the callee's
/// parameters, so the call connects.
#[test]
fn an_incoming_call_answered_with_malformed_parameters_connects_on_its_own_terms() {
    // covmini's ProtocolCmIncomingCallComplete reads none of the callee's
    // parameters (the call was activated with covmini's own, docs/call-manager.md):
    // a raw answer with no links at all changes nothing.
    let report = with_adapter(|emu| {
        let p = pair(emu, Answer::Pend, NDIS_STATUS_SUCCESS);
        assert_eq!(emu.make_call(p.vc, &call_to(b"bob")), NDIS_STATUS_PENDING);
        let bob_vc = *emu.offered_vcs(p.bob).last().expect("offered");
        let raw = raw_call(b"bob").without_media().without_call_mgr();
        emu.answer_incoming_raw(bob_vc, NDIS_STATUS_SUCCESS, &raw)
            .expect("bob answers");
        assert_eq!(emu.vc_state(p.vc), Some((CallState::Connected, true)));
        assert_eq!(emu.close_call(p.vc, &[]), NDIS_STATUS_SUCCESS);
        emu.set_incoming_answer(p.bob, Answer::Sync, NDIS_STATUS_SUCCESS);
        still_connects(emu, &p);
    });
    assert_clean(&report);
}

/// A NULL InformationBuffer with a non-zero length is INVALID_DATA with
/// nothing counted, on the miniport and call-manager paths, query and set;
/// with length 0 it is an ordinary probe.
#[test]
fn a_null_information_buffer_with_a_length_is_invalid_data_on_both_paths() {
    let report = with_adapter(|emu| {
        let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
        for len in [1, 4, 8, 1196, u32::MAX] {
            for (af, oid) in [
                (None, OID_GEN_CO_LINK_SPEED),
                (None, OID_GEN_CO_VENDOR_DESCRIPTION),
                (Some(p.alice_af), OID_CO_GET_ADDRESSES),
            ] {
                let (_, r) = emu
                    .oid_raw(af, None, false, oid, &RawOidBuffer::null(len))
                    .expect("query");
                assert_eq!(
                    (r.status, r.bytes_done, r.bytes_needed),
                    (NDIS_STATUS_INVALID_DATA, 0, 0),
                    "query {oid:#x}, {len}"
                );
            }
            let (_, r) = emu
                .oid_raw(None, None, true, OID_GEN_CO_LINK_SPEED, &RawOidBuffer::null(len))
                .expect("set");
            assert_eq!(
                (r.status, r.bytes_done, r.bytes_needed),
                (NDIS_STATUS_INVALID_DATA, 0, 0),
                "set, {len}"
            );
        }
        // NULL with length 0: an ordinary zero-length probe.
        let (_, r) = emu
            .oid_raw(None, None, false, OID_GEN_CO_LINK_SPEED, &RawOidBuffer::null(0))
            .expect("probe");
        assert_eq!(r.status, NDIS_STATUS_BUFFER_TOO_SHORT);
        assert!(r.bytes_needed > 0);
        still_connects(emu, &p);
    });
    assert_clean(&report);
}

/// Counter queries of 1 to 7 bytes and sets of odd lengths get docs/oids.md's
/// statuses, each buffer ending at its guard page.
#[test]
fn odd_information_buffer_lengths_get_the_documented_status_and_stay_inside() {
    let report = with_adapter(|emu| {
        let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
        // A counter in 1..=7 bytes, each buffer ending at its guard page:
        // under 4 INVALID_LENGTH, 4 to 7 the low 32 bits (docs/oids.md).
        for len in 1..=7u8 {
            let bytes = vec![0xAA; usize::from(len)];
            let (_, r) = emu
                .oid_raw(
                    None,
                    Some(p.vc),
                    false,
                    OID_GEN_CO_XMIT_PDUS_OK,
                    &RawOidBuffer::exact(&bytes),
                )
                .expect("query");
            if len < 4 {
                assert_eq!(
                    (r.status, r.bytes_done, r.bytes_needed),
                    (NDIS_STATUS_INVALID_LENGTH, 0, 8)
                );
                assert_eq!(r.data, bytes, "a refused query writes nothing");
            } else {
                assert_eq!((r.status, r.bytes_done, r.bytes_needed), (NDIS_STATUS_SUCCESS, 4, 8));
                assert_eq!(&r.data[4..], &bytes[4..], "nothing past the low 32 bits");
            }
        }
        // A set of an odd length is INVALID_LENGTH, nothing read past it.
        for len in [1usize, 3, 5, 7, 9, 33] {
            let (_, r) = emu
                .oid_raw(
                    None,
                    Some(p.vc),
                    true,
                    OID_WAN_CO_SET_LINK_INFO,
                    &RawOidBuffer::exact(&vec![0; len]),
                )
                .expect("set");
            assert_eq!(r.status, NDIS_STATUS_INVALID_LENGTH, "set of {len}");
        }
        still_connects(emu, &p);
    });
    assert_clean(&report);
}

/// The spec is only used to build well-formed blocks; this pins that a raw
/// block from a spec is what a scripted client passes (so the raw tests
/// above differ from the scripted ones only in what they change).
#[test]
fn a_raw_block_from_a_spec_is_the_scripted_clients_block() {
    let spec: CallSpec = call_to(b"bob");
    let raw = RawCallParams::from_spec(&spec);
    assert_eq!(raw.place().read(), Some(spec));
}

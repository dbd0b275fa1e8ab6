//! covmini's OID paths under ndis-emu's scripted clients (issue #4, path 10):
//! ProtocolCoOidRequest (NdisCoOidRequest with an AF handle, and optionally a
//! VC handle of that AF) and MiniportCoOidRequest (no AF handle), as a client
//! sees them: the status, BytesWritten/BytesRead, BytesNeeded and the bytes
//! of each answer, with a clean report (no contract violation, no leak)
//! after every scenario. The byte layouts are decoded here from the OID
//! pages, not with covmini's own reader, so a wrong layout in the driver
//! fails these tests. docs/oids.md is the reference for every answer.

mod common;

use common::scenario::{assert_clean, call_to, with_adapter};

use covmini::call_manager::{ECHO_ADDRESS, MAX_ADDRESS_LEN, MAX_SAPS, SAP_TYPE_ADDRESS};
use covmini::config;
use covmini::ctrl_path::TABLE;
use ndis_emu::{Af, Answer, CallState, Emulator, OidResult, Vc};
use ndis_sys::*;

/// `CO_ADDRESS_LIST` as docs/oids.md lays it out: two ULONGs, then
/// `MAX_SAPS + 1` slots of `AddressSize` + `MAX_ADDRESS_LEN` bytes.
const SLOT: usize = 4 + MAX_ADDRESS_LEN;
const CAPACITY: usize = MAX_SAPS + 1;
const LIST_LEN: usize = 8 + CAPACITY * SLOT;

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// The addresses of a `CO_ADDRESS_LIST`, checking its header and padding.
fn decode_addresses(data: &[u8]) -> Vec<Vec<u8>> {
    assert!(data.len() >= LIST_LEN, "{} bytes", data.len());
    assert_eq!(u32_at(data, 0) as usize, CAPACITY, "NumberOfAddressesAvailable");
    let count = u32_at(data, 4) as usize;
    assert!((1..=CAPACITY).contains(&count), "NumberOfAddresses {count}");
    let mut out = Vec::new();
    for i in 0..CAPACITY {
        let slot = &data[8 + i * SLOT..8 + (i + 1) * SLOT];
        let size = u32_at(slot, 0) as usize;
        if i < count {
            assert!((1..=MAX_ADDRESS_LEN).contains(&size), "slot {i}: AddressSize {size}");
            out.push(slot[4..4 + size].to_vec());
            assert!(slot[4 + size..].iter().all(|&b| b == 0), "slot {i}: padding");
        } else {
            assert!(slot.iter().all(|&b| b == 0), "unfilled slot {i} is zeros");
        }
    }
    out
}

/// OID_CO_GET_ADDRESSES through the call manager (`af`, optionally `vc`),
/// asserting a synchronous, full answer; returns the addresses.
fn addresses(emu: &mut Emulator, af: Af, vc: Option<Vc>) -> Vec<Vec<u8>> {
    let (_, r) = emu
        .oid_query(Some(af), vc, OID_CO_GET_ADDRESSES, LIST_LEN)
        .expect("NdisCoOidRequest");
    assert_eq!(
        (r.status, r.bytes_done, r.bytes_needed),
        (NDIS_STATUS_SUCCESS, LIST_LEN as u32, LIST_LEN as u32),
        "answered at once, whole"
    );
    decode_addresses(&r.data)
}

fn refused(r: &OidResult, status: NDIS_STATUS) {
    assert_eq!((r.status, r.bytes_done, r.bytes_needed), (status, 0, 0), "{r:?}");
}

fn strs(list: &[&[u8]]) -> Vec<Vec<u8>> {
    list.iter().map(|a| a.to_vec()).collect()
}

// --- OID_CO_GET_ADDRESSES ------------------------------------------------------------

/// The call manager lists the echo address and every registered SAP, to every
/// client and on any of its VCs (idle, offered, connected), with the callee
/// answering the call at once or pending its answer; a SAP deregistered
/// while its call is still being offered drops out of the list at once, and
/// the call still completes.
fn lists_what_a_call_reaches(answer: Answer) {
    let report = with_adapter(|emu| {
        let alice = emu.client("alice");
        let bob = emu.client("bob");
        emu.set_incoming_answer(bob, answer, NDIS_STATUS_SUCCESS);
        let alice_af = emu.open_af(alice, config::AF).expect("alice's AF");
        let bob_af = emu.open_af(bob, config::AF).expect("bob's AF");
        assert_eq!(
            addresses(emu, alice_af, None),
            strs(&[ECHO_ADDRESS]),
            "echo needs no SAP"
        );

        let bob_sap = emu.register_sap(bob_af, SAP_TYPE_ADDRESS, b"bob").expect("bob's SAP");
        let long = [b'L'; MAX_ADDRESS_LEN];
        let long_sap = emu
            .register_sap(alice_af, SAP_TYPE_ADDRESS, &long)
            .expect("a 32-byte SAP");
        let all = strs(&[ECHO_ADDRESS, b"bob", &long]);
        assert_eq!(addresses(emu, alice_af, None), all);
        assert_eq!(addresses(emu, bob_af, None), all, "the same list for every client");

        // A call to bob: the answer is the same on either end's VC.
        let vc = emu.create_vc(alice_af).expect("alice's VC");
        assert_eq!(addresses(emu, alice_af, Some(vc)), all, "on an idle VC");
        let status = emu.make_call(vc, &call_to(b"bob"));
        let bob_vc = *emu.offered_vcs(bob).last().expect("bob was offered the call");
        assert_eq!(addresses(emu, bob_af, Some(bob_vc)), all, "on the offered VC");
        match answer {
            Answer::Sync => {
                assert_eq!(status, NDIS_STATUS_SUCCESS);
                assert_eq!(emu.deregister_sap(bob_sap), NDIS_STATUS_SUCCESS);
            }
            Answer::Pend => {
                assert_eq!(status, NDIS_STATUS_PENDING, "bob has not answered yet");
                assert_eq!(emu.vc_state(bob_vc), Some((CallState::Offered, true)));
                // Deregistering the SAP does not affect the call it already
                // received (contract §3.2), but no new call reaches it.
                assert_eq!(emu.deregister_sap(bob_sap), NDIS_STATUS_SUCCESS);
                assert_eq!(addresses(emu, alice_af, Some(vc)), strs(&[ECHO_ADDRESS, &long]));
                assert_eq!(addresses(emu, bob_af, Some(bob_vc)), strs(&[ECHO_ADDRESS, &long]));
                emu.answer_incoming(bob_vc, NDIS_STATUS_SUCCESS).expect("bob answers");
            }
        }
        assert_eq!(emu.vc_state(vc), Some((CallState::Connected, true)));
        let after = strs(&[ECHO_ADDRESS, &long]);
        assert_eq!(addresses(emu, bob_af, Some(bob_vc)), after, "on the connected VC");
        assert_eq!(addresses(emu, alice_af, None), after);

        assert_eq!(emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS);
        emu.pump();
        assert_eq!(emu.delete_vc(vc), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.deregister_sap(long_sap), NDIS_STATUS_SUCCESS);
        assert_eq!(addresses(emu, bob_af, None), strs(&[ECHO_ADDRESS]));
    });
    assert_clean(&report);
}

#[test]
fn get_addresses_lists_echo_and_the_saps_a_call_reaches_callee_answering_at_once() {
    lists_what_a_call_reaches(Answer::Sync);
}

#[test]
fn get_addresses_lists_echo_and_the_saps_a_call_reaches_callee_pending_its_answer() {
    lists_what_a_call_reaches(Answer::Pend);
}

/// A full list: every SAP the call manager can hold, in one fixed-size answer.
#[test]
fn get_addresses_holds_every_sap_in_one_constant_length() {
    let report = with_adapter(|emu| {
        let c = emu.client("c");
        let af = emu.open_af(c, config::AF).expect("AF");
        let mut expected = strs(&[ECHO_ADDRESS]);
        let mut saps = Vec::new();
        for i in 0..MAX_SAPS {
            let name = format!("sap{i}").into_bytes();
            saps.push(emu.register_sap(af, SAP_TYPE_ADDRESS, &name).expect("SAP"));
            expected.push(name);
        }
        assert_eq!(addresses(emu, af, None), expected);
        for sap in saps {
            assert_eq!(emu.deregister_sap(sap), NDIS_STATUS_SUCCESS);
        }
    });
    assert_clean(&report);
}

/// A client that probes with too small a buffer learns the exact length, and
/// nothing is written; a longer buffer gets the same answer.
#[test]
fn get_addresses_short_buffers_get_the_exact_bytes_needed() {
    let report = with_adapter(|emu| {
        let c = emu.client("c");
        let af = emu.open_af(c, config::AF).expect("AF");
        let _sap = emu.register_sap(af, SAP_TYPE_ADDRESS, b"c").expect("SAP");
        for len in [0, 1, 8, 16, LIST_LEN - 1] {
            let (_, r) = emu.oid_query(Some(af), None, OID_CO_GET_ADDRESSES, len).expect("query");
            assert_eq!(
                (r.status, r.bytes_done, r.bytes_needed),
                (NDIS_STATUS_BUFFER_TOO_SHORT, 0, LIST_LEN as u32),
                "len {len}"
            );
            assert!(r.data.iter().all(|&b| b == 0), "len {len}: nothing written");
        }
        let (_, r) = emu
            .oid_query(Some(af), None, OID_CO_GET_ADDRESSES, LIST_LEN + 100)
            .expect("query");
        assert_eq!(
            (r.status, r.bytes_done, r.bytes_needed),
            (NDIS_STATUS_SUCCESS, LIST_LEN as u32, LIST_LEN as u32)
        );
        assert_eq!(decode_addresses(&r.data), strs(&[ECHO_ADDRESS, b"c"]));
        // The AF closes with its SAP still registered: NDIS tears it down.
    });
    assert_clean(&report);
}

// --- What the call manager refuses ---------------------------------------------------

/// Sets to the call manager: it has no settable OID. OID_CO_GET_ADDRESSES
/// is query-only, and the alias, PVC and signalling OIDs are refused
/// whatever their length; nothing is read.
#[test]
fn the_call_manager_refuses_every_set() {
    let report = with_adapter(|emu| {
        let c = emu.client("c");
        let af = emu.open_af(c, config::AF).expect("AF");
        let vc = emu.create_vc(af).expect("VC");
        // A well-formed CO_ADDRESS (AddressSize 3, "ali"), a short one, none.
        let co_address = [3, 0, 0, 0, b'a', b'l', b'i'];
        for oid in [
            OID_CO_GET_ADDRESSES,
            OID_CO_ADD_ADDRESS,
            OID_CO_DELETE_ADDRESS,
            OID_CO_ADD_PVC,
            OID_CO_DELETE_PVC,
            OID_CO_SIGNALING_ENABLED,
            OID_CO_SIGNALING_DISABLED,
            OID_CO_ADDRESS_CHANGE,
            OID_CO_AF_CLOSE,
        ] {
            for data in [&co_address[..], &co_address[..2], &[]] {
                for on in [None, Some(vc)] {
                    let (_, r) = emu.oid_set(Some(af), on, oid, data).expect("set");
                    refused(&r, NDIS_STATUS_NOT_SUPPORTED);
                }
            }
        }
        assert_eq!(emu.delete_vc(vc), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.close_af(af), NDIS_STATUS_SUCCESS);
    });
    assert_clean(&report);
}

/// An OID the call manager does not know is NDIS_STATUS_NOT_SUPPORTED (the
/// ProtocolCoOidRequest page), where the miniport says
/// NDIS_STATUS_INVALID_OID (the MiniportCoOidRequest page): TAPI queries
/// (covmini's AF is private and offers no TAPI) and made-up values alike.
#[test]
fn unknown_oids_are_not_supported_by_the_call_manager_and_invalid_to_the_miniport() {
    let report = with_adapter(|emu| {
        let c = emu.client("c");
        let af = emu.open_af(c, config::AF).expect("AF");
        let vc = emu.create_vc(af).expect("VC");
        for oid in [
            OID_CO_TAPI_CM_CAPS,
            OID_CO_TAPI_LINE_CAPS,
            OID_CO_TAPI_ADDRESS_CAPS,
            OID_CO_TAPI_TRANSLATE_TAPI_SAP,
            OID_CO_GET_CALL_INFORMATION,
            0xFE00_00FF,
            0xDEAD_BEEF,
        ] {
            for on in [None, Some(vc)] {
                let (_, r) = emu.oid_query(Some(af), on, oid, 64).expect("query");
                refused(&r, NDIS_STATUS_NOT_SUPPORTED);
                assert!(r.data.iter().all(|&b| b == 0), "nothing written");
                let (_, r) = emu.oid_query(None, on, oid, 64).expect("query");
                refused(&r, NDIS_STATUS_INVALID_OID);
            }
        }
        assert_eq!(emu.delete_vc(vc), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.close_af(af), NDIS_STATUS_SUCCESS);
    });
    assert_clean(&report);
}

/// Each OID answers in its own scope only: every miniport OID sent with an
/// AF handle is NOT_SUPPORTED (a client reaches the miniport with a NULL AF
/// handle), and the call manager's OID sent without one is NOT_SUPPORTED
/// too, adapter-wide or on a VC; the same OIDs answer in their own scope.
#[test]
fn miniport_and_call_manager_oids_refuse_each_others_scope() {
    let report = with_adapter(|emu| {
        let c = emu.client("c");
        let af = emu.open_af(c, config::AF).expect("AF");
        let vc = emu.create_vc(af).expect("VC");
        assert_eq!(emu.make_call(vc, &call_to(ECHO_ADDRESS)), NDIS_STATUS_SUCCESS);
        emu.send(vc, &[b"counted"]).expect("send");
        let (mut cm_oids, mut miniport_oids) = (0, 0);
        for e in TABLE {
            let miniport = e.scopes.adapter || e.scopes.vc;
            let home = if e.scopes.adapter { None } else { Some(vc) };
            if e.queryable() {
                let (_, wrong_af) = emu.oid_query(Some(af), None, e.oid, 2048).expect("query");
                let (_, wrong_vc) = emu.oid_query(Some(af), Some(vc), e.oid, 2048).expect("query");
                let (_, right) = if miniport {
                    emu.oid_query(None, home, e.oid, 2048).expect("query")
                } else {
                    emu.oid_query(Some(af), None, e.oid, 2048).expect("query")
                };
                assert_eq!(right.status, NDIS_STATUS_SUCCESS, "{} in its own scope", e.name);
                if miniport {
                    miniport_oids += 1;
                    refused(&wrong_af, NDIS_STATUS_NOT_SUPPORTED);
                    refused(&wrong_vc, NDIS_STATUS_NOT_SUPPORTED);
                } else {
                    cm_oids += 1;
                    assert_eq!(wrong_vc.data, right.data, "{}: a VC changes no CM answer", e.name);
                    for on in [None, Some(vc)] {
                        let (_, r) = emu.oid_query(None, on, e.oid, 2048).expect("query");
                        refused(&r, NDIS_STATUS_NOT_SUPPORTED);
                        assert!(r.data.iter().all(|&b| b == 0), "{}: nothing written", e.name);
                    }
                }
            }
            if e.settable() {
                let (_, r) = emu.oid_set(Some(af), Some(vc), e.oid, &[0; 32]).expect("set");
                refused(&r, NDIS_STATUS_NOT_SUPPORTED);
            }
        }
        assert_eq!(cm_oids, 1, "OID_CO_GET_ADDRESSES");
        assert!(miniport_oids > 20);
        // The statistics of the VC: from the miniport, not through the AF.
        let (_, r) = emu
            .oid_query(None, Some(vc), OID_GEN_CO_XMIT_PDUS_OK, 8)
            .expect("query");
        assert_eq!(
            (r.status, r.bytes_done, r.data),
            (NDIS_STATUS_SUCCESS, 8, 1u64.to_le_bytes().to_vec())
        );
        assert_eq!(emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS);
        emu.pump();
        assert_eq!(emu.delete_vc(vc), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.close_af(af), NDIS_STATUS_SUCCESS);
    });
    assert_clean(&report);
}

// --- The miniport's short and wrong-length buffers -------------------------------------

/// The miniport's length rules as a client sees them: a short query is
/// BUFFER_TOO_SHORT with the exact BytesNeeded and nothing written; a
/// counter takes 4 bytes (the low half, BytesNeeded 8) and refuses fewer
/// with INVALID_LENGTH; a set of any length but its structure's is
/// INVALID_LENGTH with that length as BytesNeeded, and changes nothing.
#[test]
fn the_miniport_answers_short_and_wrong_length_buffers_with_the_documented_status() {
    let report = with_adapter(|emu| {
        let c = emu.client("c");
        let af = emu.open_af(c, config::AF).expect("AF");
        let vc = emu.create_vc(af).expect("VC");

        let (_, r) = emu
            .oid_query(None, None, OID_GEN_CO_VENDOR_DESCRIPTION, 10)
            .expect("query");
        let desc_len = b"covmini CoNDIS WAN Miniport (loopback MCM)\0".len() as u32;
        assert_eq!(
            (r.status, r.bytes_done, r.bytes_needed),
            (NDIS_STATUS_BUFFER_TOO_SHORT, 0, desc_len)
        );
        assert_eq!(r.data, [0; 10]);
        let (_, r) = emu
            .oid_query(None, Some(vc), OID_WAN_CO_GET_LINK_INFO, 31)
            .expect("query");
        assert_eq!(
            (r.status, r.bytes_done, r.bytes_needed),
            (NDIS_STATUS_BUFFER_TOO_SHORT, 0, 32)
        );

        let (_, r) = emu.oid_query(None, Some(vc), OID_GEN_CO_RCV_PDUS_OK, 4).expect("query");
        assert_eq!((r.status, r.bytes_done, r.bytes_needed), (NDIS_STATUS_SUCCESS, 4, 8));
        let (_, r) = emu.oid_query(None, Some(vc), OID_GEN_CO_RCV_PDUS_OK, 3).expect("query");
        assert_eq!(
            (r.status, r.bytes_done, r.bytes_needed),
            (NDIS_STATUS_INVALID_LENGTH, 0, 8)
        );

        for len in [0, 3, 5] {
            let (_, r) = emu
                .oid_set(None, None, OID_GEN_CO_PROTOCOL_OPTIONS, &vec![1; len])
                .expect("set");
            assert_eq!(
                (r.status, r.bytes_done, r.bytes_needed),
                (NDIS_STATUS_INVALID_LENGTH, 0, 4),
                "len {len}"
            );
        }
        let (_, before) = emu
            .oid_query(None, Some(vc), OID_WAN_CO_GET_LINK_INFO, 32)
            .expect("query");
        for len in [31, 33] {
            let (_, r) = emu
                .oid_set(None, Some(vc), OID_WAN_CO_SET_LINK_INFO, &vec![0; len])
                .expect("set");
            assert_eq!(
                (r.status, r.bytes_done, r.bytes_needed),
                (NDIS_STATUS_INVALID_LENGTH, 0, 32),
                "len {len}"
            );
        }
        let (_, after) = emu
            .oid_query(None, Some(vc), OID_WAN_CO_GET_LINK_INFO, 32)
            .expect("query");
        assert_eq!(after.data, before.data, "a refused set changes nothing");

        assert_eq!(emu.delete_vc(vc), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.close_af(af), NDIS_STATUS_SUCCESS);
    });
    assert_clean(&report);
}

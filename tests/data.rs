//! covmini's data path and echo address under ndis-emu (issue #4, paths 11
//! and 13): zero-copy forwarding between the two VCs of a loopback call,
//! the echo address, sends on VCs with no active call, the statistics OIDs,
//! and closes after traffic, each with a clean report (no violation, no leak).

mod common;

use common::scenario::{assert_clean, call_to, with_adapter};

use covmini::call_manager::{ECHO_ADDRESS, SAP_TYPE_ADDRESS};
use covmini::config;
use ndis_emu::{CallState, Emulator, Vc};
use ndis_sys::*;

fn counter(emu: &mut Emulator, vc: Option<Vc>, oid: NDIS_OID) -> u64 {
    let (_, r) = emu.oid_query(None, vc, oid, 8).expect("query");
    assert_eq!(r.status, NDIS_STATUS_SUCCESS, "OID {oid:#x}");
    let mut b = [0u8; 8];
    b.copy_from_slice(&r.data[..8]);
    u64::from_le_bytes(b)
}

#[test]
fn data_flows_both_ways_over_a_loopback_call_without_a_copy() {
    let report = with_adapter(|emu| {
        let alice = emu.client("alice");
        let bob = emu.client("bob");
        let alice_af = emu.open_af(alice, config::AF).expect("alice AF");
        let bob_af = emu.open_af(bob, config::AF).expect("bob AF");
        let sap = emu.register_sap(bob_af, SAP_TYPE_ADDRESS, b"bob").expect("sap");
        let vc = emu.create_vc(alice_af).expect("vc");
        assert_eq!(emu.make_call(vc, &call_to(b"bob")), NDIS_STATUS_SUCCESS);
        let bob_vc = *emu.offered_vcs(bob).last().expect("offered");

        emu.send(vc, &[b"hello bob"]).expect("send");
        assert_eq!(emu.received(bob), [b"hello bob".to_vec()]);
        assert_eq!(emu.send_results(alice), [NDIS_STATUS_SUCCESS]);

        emu.send(bob_vc, &[b"hi", b"alice", b"!"]).expect("multi-NBL send");
        assert_eq!(emu.received(alice), [b"hi".to_vec(), b"alice".to_vec(), b"!".to_vec()]);
        assert_eq!(emu.send_results(bob), [NDIS_STATUS_SUCCESS; 3]);

        // Per-VC and adapter statistics.
        assert_eq!(counter(emu, Some(vc), OID_GEN_CO_XMIT_PDUS_OK), 1);
        assert_eq!(counter(emu, Some(vc), OID_GEN_CO_RCV_PDUS_OK), 3);
        assert_eq!(counter(emu, Some(bob_vc), OID_GEN_CO_XMIT_PDUS_OK), 3);
        assert_eq!(counter(emu, Some(bob_vc), OID_GEN_CO_RCV_PDUS_OK), 1);
        assert_eq!(counter(emu, Some(vc), OID_GEN_CO_BYTES_XMIT), 9);
        assert_eq!(counter(emu, None, OID_GEN_CO_XMIT_PDUS_OK), 4);
        assert_eq!(counter(emu, None, OID_GEN_CO_RCV_PDUS_OK), 4);
        assert_eq!(counter(emu, None, OID_GEN_CO_BYTES_RCV), 17);

        assert_eq!(emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS);
        emu.pump();
        assert_eq!(emu.delete_vc(vc), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.deregister_sap(sap), NDIS_STATUS_SUCCESS);
    });
    assert_clean(&report);
}

#[test]
fn sends_on_a_vc_with_no_active_call_fail_with_vc_not_activated() {
    let report = with_adapter(|emu| {
        let alice = emu.client("alice");
        let af = emu.open_af(alice, config::AF).expect("AF");
        let vc = emu.create_vc(af).expect("vc");
        emu.send(vc, &[b"nobody", b"there"]).expect("send");
        assert_eq!(emu.send_results(alice), [NDIS_STATUS_VC_NOT_ACTIVATED; 2]);
        assert_eq!(counter(emu, Some(vc), OID_GEN_CO_XMIT_PDUS_ERROR), 2);
        assert_eq!(counter(emu, None, OID_GEN_CO_XMIT_PDUS_ERROR), 2);

        // After a closed call too.
        assert_eq!(emu.make_call(vc, &call_to(ECHO_ADDRESS)), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS);
        emu.send(vc, &[b"late"]).expect("send");
        assert_eq!(emu.send_results(alice).last(), Some(&NDIS_STATUS_VC_NOT_ACTIVATED));
        assert!(emu.received(alice).is_empty());
        assert_eq!(emu.delete_vc(vc), NDIS_STATUS_SUCCESS);
    });
    assert_clean(&report);
}

#[test]
fn the_echo_address_returns_every_nbl_on_the_same_vc() {
    let report = with_adapter(|emu| {
        let c = emu.client("c");
        let af = emu.open_af(c, config::AF).expect("AF");
        let vc = emu.create_vc(af).expect("vc");
        assert_eq!(emu.make_call(vc, &call_to(ECHO_ADDRESS)), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.vc_state(vc), Some((CallState::Connected, true)));
        emu.send(vc, &[b"ping", b"pong"]).expect("send");
        assert_eq!(emu.received(c), [b"ping".to_vec(), b"pong".to_vec()]);
        assert_eq!(emu.send_results(c), [NDIS_STATUS_SUCCESS; 2]);
        assert_eq!(counter(emu, Some(vc), OID_GEN_CO_XMIT_PDUS_OK), 2);
        assert_eq!(counter(emu, Some(vc), OID_GEN_CO_RCV_PDUS_OK), 2);
        assert_eq!(emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.delete_vc(vc), NDIS_STATUS_SUCCESS);
    });
    assert_clean(&report);
}

#[test]
fn the_echo_address_cannot_be_registered_as_a_sap() {
    let report = with_adapter(|emu| {
        let c = emu.client("c");
        let af = emu.open_af(c, config::AF).expect("AF");
        assert_eq!(
            emu.register_sap(af, SAP_TYPE_ADDRESS, ECHO_ADDRESS).err(),
            Some(NDIS_STATUS_INVALID_DATA)
        );
    });
    assert_clean(&report);
}

#[test]
fn many_sends_recycle_the_receive_nbls_and_halt_frees_them() {
    let report = with_adapter(|emu| {
        let c = emu.client("c");
        let af = emu.open_af(c, config::AF).expect("AF");
        let vc = emu.create_vc(af).expect("vc");
        assert_eq!(emu.make_call(vc, &call_to(ECHO_ADDRESS)), NDIS_STATUS_SUCCESS);
        let payloads: Vec<Vec<u8>> = (0..300u32).map(|i| i.to_le_bytes().to_vec()).collect();
        let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        // More NBLs in one chain than covmini has receive NBLs: the tail
        // goes with NDIS_RECEIVE_FLAGS_RESOURCES or fails with RESOURCES.
        emu.send(vc, &refs).expect("send");
        let results = emu.send_results(c);
        assert_eq!(results.len(), 300);
        assert!(
            results
                .iter()
                .all(|s| *s == NDIS_STATUS_SUCCESS || *s == NDIS_STATUS_RESOURCES)
        );
        let ok = results.iter().filter(|s| **s == NDIS_STATUS_SUCCESS).count();
        assert_eq!(emu.received(c).len(), ok);
        // The client left the call up: halt's AF teardown closes it.
    });
    assert_clean(&report);
}

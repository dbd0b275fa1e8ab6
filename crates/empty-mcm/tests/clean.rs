//! The empty MCM is a correct CoNDIS MCM: every path the bench drives (and
//! the ones a client could take instead: a pended answer, a rejection, an
//! unroutable call, a multipoint call, a send on an idle VC) runs under
//! ndis-emu with zero contract violations and zero leaks. A baseline that
//! cut a corner the contract forbids would make covmini look slow for
//! following it.

use covmini::call_manager::{PARAM_TYPE_CALLED_ADDRESS, SAP_TYPE_ADDRESS};
use ndis_emu::{Answer, CallSpec, CallState, Emulator, Report};
use ndis_sys::*;

fn call_to(address: &[u8]) -> CallSpec {
    let mut spec = CallSpec::best_effort(125_000, 1500);
    spec.media_specific_type = PARAM_TYPE_CALLED_ADDRESS;
    spec.media_specific = address.to_vec();
    spec
}

fn with_adapter(f: impl FnOnce(&mut Emulator)) -> Report {
    let mut emu = Emulator::new();
    emu.load(empty_mcm::driver_entry).expect("DriverEntry");
    emu.add_adapter().expect("adapter");
    f(&mut emu);
    emu.halt_adapter().expect("halt");
    emu.unload().expect("unload");
    emu.finish()
}

#[test]
fn calls_data_both_ways_and_teardown_are_clean() {
    let report = with_adapter(|emu| {
        let alice = emu.client("alice");
        let bob = emu.client("bob");
        let a_af = emu
            .open_af(alice, covmini::config::AF)
            .expect("alice opens covmini's AF");
        let b_af = emu.open_af(bob, covmini::config::AF).expect("bob opens it");
        let sap = emu.register_sap(b_af, SAP_TYPE_ADDRESS, b"bob").expect("bob's SAP");
        for round in 0..3 {
            let vc = emu.create_vc(a_af).expect("alice's VC");
            assert_eq!(
                emu.make_call(vc, &call_to(b"bob")),
                NDIS_STATUS_SUCCESS,
                "round {round}"
            );
            let bob_vc = *emu.offered_vcs(bob).last().expect("bob was offered the call");
            assert_eq!(emu.vc_state(vc), Some((CallState::Connected, true)));
            assert_eq!(emu.vc_state(bob_vc), Some((CallState::Connected, true)));
            let small = [7u8; 64];
            let big = [9u8; 1500];
            emu.send(vc, &[&small, &big]).expect("alice sends");
            emu.send(bob_vc, &[b"back"]).expect("bob answers");
            assert_eq!(emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS);
            assert_eq!(
                emu.vc_state(bob_vc),
                None,
                "bob's side closed and the MCM deleted its VC"
            );
            assert_eq!(emu.delete_vc(vc), NDIS_STATUS_SUCCESS);
        }
        let got = emu.received(bob);
        assert_eq!(got.len(), 6);
        assert_eq!(got[0], vec![7u8; 64]);
        assert_eq!(got[1], vec![9u8; 1500]);
        assert_eq!(emu.received(alice), vec![b"back".to_vec(); 3]);
        assert_eq!(emu.send_results(alice), vec![NDIS_STATUS_SUCCESS; 6]);
        assert_eq!(emu.send_results(bob), vec![NDIS_STATUS_SUCCESS; 3]);
        assert_eq!(emu.deregister_sap(sap), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.close_af(a_af), NDIS_STATUS_SUCCESS);
        // bob's AF stays open: HaltEx must notify it.
    });
    assert!(report.is_clean(), "{report}");
}

#[test]
fn pended_and_rejected_answers_unroutable_and_multipoint_calls_are_clean() {
    let report = with_adapter(|emu| {
        let alice = emu.client("alice");
        let bob = emu.client("bob");
        let a_af = emu.open_af(alice, covmini::config::AF).unwrap();
        let b_af = emu.open_af(bob, covmini::config::AF).unwrap();
        emu.register_sap(b_af, SAP_TYPE_ADDRESS, b"bob").unwrap();
        let vc = emu.create_vc(a_af).unwrap();

        emu.set_incoming_answer(bob, Answer::Pend, NDIS_STATUS_SUCCESS);
        assert_eq!(emu.make_call(vc, &call_to(b"bob")), NDIS_STATUS_PENDING);
        let bob_vc = *emu.offered_vcs(bob).last().unwrap();
        emu.answer_incoming(bob_vc, NDIS_STATUS_SUCCESS).unwrap();
        assert_eq!(emu.vc_state(vc), Some((CallState::Connected, true)));
        // The callee hangs up; its close completes inside the handler.
        assert_eq!(emu.close_call(bob_vc, &[]), NDIS_STATUS_SUCCESS);
        emu.pump();
        assert_eq!(emu.vc_state(vc).map(|s| s.0), Some(CallState::Closed));

        emu.set_incoming_answer(bob, Answer::Sync, NDIS_STATUS_NOT_ACCEPTED);
        assert_eq!(emu.make_call(vc, &call_to(b"bob")), NDIS_STATUS_NOT_ACCEPTED);
        emu.set_incoming_answer(bob, Answer::Pend, NDIS_STATUS_SUCCESS);
        assert_eq!(emu.make_call(vc, &call_to(b"bob")), NDIS_STATUS_PENDING);
        let bob_vc = *emu.offered_vcs(bob).last().unwrap();
        emu.answer_incoming(bob_vc, NDIS_STATUS_NOT_ACCEPTED).unwrap();
        assert_eq!(emu.vc_state(bob_vc), None, "a rejected offer's VC is deleted");

        assert_eq!(
            emu.make_call(vc, &call_to(b"nobody")),
            NDIS_STATUS_NO_ROUTE_TO_DESTINATION
        );
        let (status, _party) = emu.make_multipoint_call(vc, &call_to(b"bob"));
        assert_eq!(status, NDIS_STATUS_NOT_SUPPORTED);
        assert!(emu.send(vc, &[b"nobody listens"]).is_ok());
        assert_eq!(emu.send_results(alice), [NDIS_STATUS_VC_NOT_ACTIVATED]);
        assert_eq!(emu.delete_vc(vc), NDIS_STATUS_SUCCESS);
    });
    assert!(report.is_clean(), "{report}");
}

#[test]
fn thousands_of_vcs_reuse_their_slots() {
    let report = with_adapter(|emu| {
        let alice = emu.client("alice");
        let af = emu.open_af(alice, covmini::config::AF).unwrap();
        let vcs: Vec<_> = (0..2_000).map(|_| emu.create_vc(af).unwrap()).collect();
        assert_eq!(empty_mcm::live_vcs(), 2_000);
        for vc in vcs {
            assert_eq!(emu.delete_vc(vc), NDIS_STATUS_SUCCESS);
        }
        assert_eq!(empty_mcm::live_vcs(), 0);
        let _again = emu.create_vc(af).unwrap();
        assert_eq!(empty_mcm::live_vcs(), 1);
        // The AF (and this VC) are torn down by HaltEx's notification.
    });
    assert!(report.is_clean(), "{report}");
}

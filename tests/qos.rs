//! ProtocolCmModifyCallQoS under ndis-emu's scripted clients (issue #4,
//! path 9): a QoS change within the link re-activates both ends of the call
//! and tells the peer; one beyond the link is refused with
//! NDIS_STATUS_INCOMPATABLE_QOS and the call carries on unchanged. Each test
//! checks what the clients see and a clean report.

mod common;

use common::scenario::{assert_clean, call_to_at, with_adapter};

use covmini::call_manager::{SAP_TYPE_ADDRESS, link_bytes_per_second};
use covmini::config;
use ndis_emu::{Answer, CallSpec, CallState, Client, Emulator, Vc};
use ndis_sys::*;

/// Alice calls bob, who accepts at once: (alice, bob, alice's VC, bob's VC).
fn connected(emu: &mut Emulator) -> (Client, Client, Vc, Vc) {
    let alice = emu.client("alice");
    let bob = emu.client("bob");
    let alice_af = emu.open_af(alice, config::AF).expect("alice opens the AF");
    let bob_af = emu.open_af(bob, config::AF).expect("bob opens the AF");
    emu.register_sap(bob_af, SAP_TYPE_ADDRESS, b"bob").expect("bob's SAP");
    let vc = emu.create_vc(alice_af).expect("alice's VC");
    assert_eq!(emu.make_call(vc, &call_to_at(b"bob", 125_000)), NDIS_STATUS_SUCCESS);
    let bob_vc = *emu.offered_vcs(bob).last().expect("bob was offered the call");
    (alice, bob, vc, bob_vc)
}

fn qos_changes(emu: &Emulator, client: Client) -> usize {
    emu.inbox(client)
        .iter()
        .filter(|l| l.starts_with("IncomingCallQoSChange"))
        .count()
}

#[test]
fn a_qos_change_within_the_link_succeeds_and_the_peer_is_told() {
    let report = with_adapter(|emu| {
        let (alice, bob, vc, bob_vc) = connected(emu);
        let link = link_bytes_per_second(config::LINK_SPEED_BPS);
        assert_eq!(emu.modify_qos(vc, &call_to_at(b"bob", link)), NDIS_STATUS_SUCCESS);
        assert_eq!(qos_changes(emu, bob), 1, "{:?}", emu.inbox(bob));
        assert_eq!(qos_changes(emu, alice), 0);
        // Bob's side may change it back, and alice is told.
        assert_eq!(emu.modify_qos(bob_vc, &call_to_at(b"bob", 1000)), NDIS_STATUS_SUCCESS);
        assert_eq!(qos_changes(emu, alice), 1);
        assert_eq!(emu.vc_state(vc), Some((CallState::Connected, true)));
        assert_eq!(emu.vc_state(bob_vc), Some((CallState::Connected, true)));
        // Data still flows after the change.
        emu.send(vc, &[b"after qos"]).expect("send");
        assert_eq!(emu.received(bob), [b"after qos".to_vec()]);
        assert_eq!(emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS);
    });
    assert_clean(&report);
}

#[test]
fn a_qos_change_beyond_the_link_is_incompatible_and_changes_nothing() {
    let report = with_adapter(|emu| {
        let (_alice, bob, vc, bob_vc) = connected(emu);
        let link = link_bytes_per_second(config::LINK_SPEED_BPS);
        assert_eq!(
            emu.modify_qos(vc, &call_to_at(b"bob", link + 1)),
            NDIS_STATUS_INCOMPATABLE_QOS
        );
        let mut big_sdu = call_to_at(b"bob", 1000);
        big_sdu.receive.MaxSduSize = config::MTU + 1;
        assert_eq!(emu.modify_qos(vc, &big_sdu), NDIS_STATUS_INCOMPATABLE_QOS);
        assert_eq!(qos_changes(emu, bob), 0);
        assert_eq!(emu.vc_state(vc), Some((CallState::Connected, true)));
        assert_eq!(emu.vc_state(bob_vc), Some((CallState::Connected, true)));
        emu.send(vc, &[b"still up"]).expect("send");
        assert_eq!(emu.received(bob), [b"still up".to_vec()]);
        assert_eq!(emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS);
    });
    assert_clean(&report);
}

#[test]
fn an_echo_call_changes_its_qos_without_telling_anyone() {
    let report = with_adapter(|emu| {
        let alice = emu.client("alice");
        let af = emu.open_af(alice, config::AF).expect("open");
        let vc = emu.create_vc(af).expect("VC");
        assert_eq!(emu.make_call(vc, &call_to_at(b"echo", 1000)), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.modify_qos(vc, &call_to_at(b"echo", 2000)), NDIS_STATUS_SUCCESS);
        assert_eq!(qos_changes(emu, alice), 0);
        assert_eq!(emu.vc_state(vc), Some((CallState::Connected, true)));
        assert_eq!(emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS);
    });
    assert_clean(&report);
}

// --- Path 4: parameters the call manager changes at make call ------------------------

/// A call spec to `address` asking for four times the link and a 9000-byte SDU.
fn beyond_the_link(address: &[u8]) -> CallSpec {
    let mut spec = call_to_at(address, 4 * link_bytes_per_second(config::LINK_SPEED_BPS));
    spec.transmit.MaxSduSize = 9000;
    spec.receive.MaxSduSize = 9000;
    spec
}

/// Whether a completed make call's parameters came back clamped to the link
/// and flagged CALL_PARAMETERS_CHANGED.
fn clamped(spec: &CallSpec) -> bool {
    let link = link_bytes_per_second(config::LINK_SPEED_BPS);
    spec.flags & CALL_PARAMETERS_CHANGED != 0
        && [spec.transmit, spec.receive]
            .iter()
            .all(|f| f.TokenRate == link && f.PeakBandwidth == link && f.MaxSduSize == config::MTU)
}

#[test]
fn a_make_call_beyond_the_link_completes_with_clamped_flows_and_call_parameters_changed() {
    for answer in [Answer::Sync, Answer::Pend] {
        let report = with_adapter(|emu| {
            let alice = emu.client("alice");
            let bob = emu.client("bob");
            emu.set_incoming_answer(bob, answer, NDIS_STATUS_SUCCESS);
            let alice_af = emu.open_af(alice, config::AF).expect("alice's AF");
            let bob_af = emu.open_af(bob, config::AF).expect("bob's AF");
            emu.register_sap(bob_af, SAP_TYPE_ADDRESS, b"bob").expect("bob's SAP");
            let vc = emu.create_vc(alice_af).expect("alice's VC");
            let asked = beyond_the_link(b"bob");
            let status = emu.make_call(vc, &asked);
            if answer == Answer::Pend {
                assert_eq!(status, NDIS_STATUS_PENDING);
                let bob_vc = *emu.offered_vcs(bob).last().expect("offered");
                emu.answer_incoming(bob_vc, NDIS_STATUS_SUCCESS).expect("bob answers");
            } else {
                assert_eq!(status, NDIS_STATUS_SUCCESS);
            }
            let seen = emu.completed_call_params(vc).expect("completed");
            assert!(clamped(&seen), "{seen:?}");
            assert_eq!(
                (seen.transmit.TokenBucketSize, seen.receive.ServiceType),
                (asked.transmit.TokenBucketSize, asked.receive.ServiceType),
                "only the three fields change"
            );
            assert_eq!(emu.vc_state(vc), Some((CallState::Connected, true)));
            assert_eq!(emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS);
        });
        assert_clean(&report);
    }
}

#[test]
fn a_make_call_within_the_link_and_an_echo_call_beyond_it_complete_as_they_should() {
    let report = with_adapter(|emu| {
        let alice = emu.client("alice");
        let af = emu.open_af(alice, config::AF).expect("open");
        let vc = emu.create_vc(af).expect("VC");
        let within = call_to_at(b"echo", 1000);
        assert_eq!(emu.make_call(vc, &within), NDIS_STATUS_SUCCESS);
        let seen = emu.completed_call_params(vc).expect("completed");
        assert_eq!(seen.flags & CALL_PARAMETERS_CHANGED, 0);
        assert_eq!((seen.transmit, seen.receive), (within.transmit, within.receive));
        assert_eq!(emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.make_call(vc, &beyond_the_link(b"echo")), NDIS_STATUS_SUCCESS);
        assert!(clamped(&emu.completed_call_params(vc).expect("completed")));
        assert_eq!(emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS);
    });
    assert_clean(&report);
}

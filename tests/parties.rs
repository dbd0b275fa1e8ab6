//! covmini's point-to-multipoint calls under ndis-emu's scripted clients
//! (issue #4, path 8): the initial party of a multipoint make call, parties
//! added and dropped, a leaf hanging up (an incoming drop party at the root,
//! an incoming close for the last one), the last party going with the close,
//! data fanned out to every leaf, bad inputs, and halt with parties open.
//! Each test checks what the clients see (statuses, inbox lines, data,
//! NDIS's view of VCs and parties) and a clean report: no contract
//! violation, no leak.
//!
//! Where NDIS lets a leaf answer either way (its incoming call), the paths
//! run with a synchronous and a pended answer.

mod common;

use common::scenario::{assert_clean, call_to, with_adapter};

use covmini::call_manager::{ECHO_ADDRESS, MAX_LEAVES, PARAM_TYPE_CALLED_ADDRESS, SAP_TYPE_ADDRESS};
use covmini::config;
use ndis_emu::{Answer, CallState, Client, Emulator, Party, Report, Vc};
use ndis_sys::*;

// --- Helpers ------------------------------------------------------------------------

/// A root client with a VC, and three leaf clients listening on their own
/// names: "bob" and "dave" answer at once, "carol" pends her answers.
struct Net {
    root: Client,
    bob: Client,
    carol: Client,
    dave: Client,
    vc: Vc,
}

fn net(emu: &mut Emulator) -> Net {
    let root = emu.client("root");
    let af = emu.open_af(root, config::AF).expect("root's AF");
    let vc = emu.create_vc(af).expect("root's VC");
    let leaf = |name: &str, answer: Answer| {
        let c = emu.client(name);
        emu.set_incoming_answer(c, answer, NDIS_STATUS_SUCCESS);
        let af = emu.open_af(c, config::AF).expect("leaf AF");
        emu.register_sap(af, SAP_TYPE_ADDRESS, name.as_bytes())
            .expect("leaf SAP");
        c
    };
    let bob = leaf("bob", Answer::Sync);
    let carol = leaf("carol", Answer::Pend);
    let dave = leaf("dave", Answer::Sync);
    Net {
        root,
        bob,
        carol,
        dave,
        vc,
    }
}

/// The VC covmini created for `leaf`'s incoming call (its latest).
fn leaf_vc(emu: &Emulator, leaf: Client) -> Vc {
    *emu.offered_vcs(leaf).last().expect("the leaf was offered a call")
}

fn last(emu: &Emulator, c: Client) -> Option<String> {
    emu.inbox(c).last().cloned()
}

fn has(emu: &Emulator, c: Client, line: &str) -> bool {
    emu.inbox(c).iter().any(|l| l == line)
}

/// The multipoint call up with bob (initial party, synchronous), carol
/// (added, pended answer) and dave (added, synchronous), in that order.
fn three_leaves(emu: &mut Emulator, n: &Net) -> [(Party, Vc); 3] {
    let (s, bob) = emu.make_multipoint_call(n.vc, &call_to(b"bob"));
    assert_eq!(s, NDIS_STATUS_SUCCESS);
    let bob = (bob.expect("initial party"), leaf_vc(emu, n.bob));
    let (s, carol) = emu.add_party(n.vc, &call_to(b"carol"));
    assert_eq!(s, NDIS_STATUS_PENDING, "carol pends her answer");
    let carol_vc = leaf_vc(emu, n.carol);
    emu.answer_incoming(carol_vc, NDIS_STATUS_SUCCESS)
        .expect("carol answers");
    assert_eq!(last(emu, n.root).as_deref(), Some("AddPartyComplete 0x0"));
    let carol = (carol.expect("party"), carol_vc);
    let (s, dave) = emu.add_party(n.vc, &call_to(b"dave"));
    assert_eq!(s, NDIS_STATUS_SUCCESS);
    let dave = (dave.expect("party"), leaf_vc(emu, n.dave));
    assert_eq!(emu.parties(n.vc), [bob.0, carol.0, dave.0]);
    [bob, carol, dave]
}

fn events(report: &Report, name: &str) -> usize {
    report.events.iter().filter(|e| e.name == name).count()
}

// --- Setting up ---------------------------------------------------------------------

#[test]
fn a_multipoint_call_connects_its_initial_party_and_two_added_leaves_sync_and_pended() {
    let report = with_adapter(|emu| {
        let n = net(emu);
        let [bob, carol, dave] = three_leaves(emu, &n);
        assert_eq!(emu.vc_state(n.vc), Some((CallState::Connected, true)));
        for (leaf, (_, vc)) in [(n.bob, bob), (n.carol, carol), (n.dave, dave)] {
            assert_eq!(
                emu.vc_state(vc),
                Some((CallState::Connected, true)),
                "each leaf is an ordinary call"
            );
            assert!(has(emu, leaf, &format!("CallConnected VC {:#x}", vc.0)));
        }
        assert!(has(emu, n.root, "MakeCallComplete 0x0"));
        assert!(has(emu, n.root, "AddPartyComplete 0x0"));
    });
    assert_clean(&report);
    assert_eq!(events(&report, "NdisCmAddPartyComplete"), 1, "only carol's add pended");
}

#[test]
fn a_pended_initial_party_completes_the_make_call_when_the_leaf_answers() {
    let report = with_adapter(|emu| {
        let n = net(emu);
        let (s, party) = emu.make_multipoint_call(n.vc, &call_to(b"carol"));
        assert_eq!(s, NDIS_STATUS_PENDING);
        let carol_vc = leaf_vc(emu, n.carol);
        assert_eq!(emu.vc_state(n.vc), Some((CallState::Outgoing, true)));
        emu.answer_incoming(carol_vc, NDIS_STATUS_SUCCESS)
            .expect("carol answers");
        assert_eq!(last(emu, n.root).as_deref(), Some("MakeCallComplete 0x0"));
        assert_eq!(emu.parties(n.vc), [party.expect("initial party")]);
        assert_eq!(emu.vc_state(n.vc), Some((CallState::Connected, true)));
    });
    assert_clean(&report);
    assert_eq!(events(&report, "NdisCmMakeCallComplete"), 1);
}

#[test]
fn a_refused_initial_party_fails_the_make_call_and_leaves_the_root_reusable() {
    for answer in [Answer::Sync, Answer::Pend] {
        let report = with_adapter(|emu| {
            let n = net(emu);
            emu.set_incoming_answer(n.bob, answer, NDIS_STATUS_NOT_ACCEPTED);
            let (s, _) = emu.make_multipoint_call(n.vc, &call_to(b"bob"));
            if answer == Answer::Pend {
                assert_eq!(s, NDIS_STATUS_PENDING);
                emu.answer_incoming(leaf_vc(emu, n.bob), NDIS_STATUS_NOT_ACCEPTED)
                    .expect("bob refuses");
            } else {
                assert_eq!(s, NDIS_STATUS_NOT_ACCEPTED);
            }
            assert_eq!(
                last(emu, n.root),
                Some(format!("MakeCallComplete {NDIS_STATUS_NOT_ACCEPTED:#x}"))
            );
            assert!(emu.parties(n.vc).is_empty());
            assert_eq!(emu.vc_state(n.vc), Some((CallState::Closed, false)), "left inactive");
            assert!(emu.offered_vcs(n.bob).is_empty(), "the leaf's VC is deleted");
            assert!(emu.inbox(n.bob).iter().any(|l| l.starts_with("DeleteVc")));
            // The VC takes another call.
            let (s, _) = emu.make_multipoint_call(n.vc, &call_to(b"dave"));
            assert_eq!(s, NDIS_STATUS_SUCCESS);
        });
        assert_clean(&report);
    }
}

#[test]
fn a_refused_added_party_fails_its_add_and_the_call_stays_up() {
    for answer in [Answer::Sync, Answer::Pend] {
        let report = with_adapter(|emu| {
            let n = net(emu);
            emu.make_multipoint_call(n.vc, &call_to(b"bob"));
            emu.set_incoming_answer(n.dave, answer, NDIS_STATUS_NOT_ACCEPTED);
            let (s, _) = emu.add_party(n.vc, &call_to(b"dave"));
            if answer == Answer::Pend {
                assert_eq!(s, NDIS_STATUS_PENDING);
                emu.answer_incoming(leaf_vc(emu, n.dave), NDIS_STATUS_NOT_ACCEPTED)
                    .expect("dave refuses");
            } else {
                assert_eq!(s, NDIS_STATUS_NOT_ACCEPTED);
            }
            assert_eq!(
                last(emu, n.root),
                Some(format!("AddPartyComplete {NDIS_STATUS_NOT_ACCEPTED:#x}"))
            );
            assert_eq!(emu.parties(n.vc).len(), 1);
            emu.send(n.vc, &[b"still up"]).expect("send");
            assert_eq!(emu.received(n.bob), [b"still up".to_vec()]);
        });
        assert_clean(&report);
    }
}

#[test]
fn a_multipoint_call_and_a_party_beyond_the_link_come_back_clamped_and_flagged_changed() {
    let report = with_adapter(|emu| {
        let n = net(emu);
        let link = covmini::call_manager::link_bytes_per_second(config::LINK_SPEED_BPS);
        let beyond = |to: &[u8]| {
            let mut spec = common::scenario::call_to_at(to, 2 * link);
            spec.transmit.MaxSduSize = config::MTU + 1;
            spec
        };
        let clamped = |spec: &ndis_emu::CallSpec| {
            spec.flags & CALL_PARAMETERS_CHANGED != 0
                && [spec.transmit, spec.receive]
                    .iter()
                    .all(|f| f.TokenRate == link && f.PeakBandwidth == link)
                && spec.transmit.MaxSduSize == config::MTU
        };
        let (s, _) = emu.make_multipoint_call(n.vc, &beyond(b"bob"));
        assert_eq!(s, NDIS_STATUS_SUCCESS);
        let seen = emu.completed_call_params(n.vc).expect("completed");
        assert!(clamped(&seen), "{seen:?}");
        assert_ne!(seen.flags & MULTIPOINT_VC, 0, "the other flags stay");
        let (s, carol) = emu.add_party(n.vc, &beyond(b"carol"));
        assert_eq!(s, NDIS_STATUS_PENDING);
        emu.answer_incoming(leaf_vc(emu, n.carol), NDIS_STATUS_SUCCESS)
            .expect("answer");
        let seen = emu.completed_party_params(carol.expect("party")).expect("completed");
        assert!(clamped(&seen), "{seen:?}");
    });
    assert_clean(&report);
}

// --- Data -------------------------------------------------------------------------------

#[test]
fn the_root_s_data_reaches_every_leaf_intact_and_the_send_completes_once() {
    let report = with_adapter(|emu| {
        let n = net(emu);
        let [bob, carol, dave] = three_leaves(emu, &n);
        emu.send(n.vc, &[b"to all", b"of you"]).expect("send");
        for leaf in [n.bob, n.carol, n.dave] {
            assert_eq!(emu.received(leaf), [b"to all".to_vec(), b"of you".to_vec()]);
        }
        assert_eq!(
            emu.send_results(n.root),
            [NDIS_STATUS_SUCCESS; 2],
            "each NBL completed once"
        );
        // Per-VC counters: 2 PDUs out of the root, 2 into each leaf.
        let count = |emu: &mut Emulator, vc: Vc, oid| {
            let (_, r) = emu.oid_query(None, Some(vc), oid, 8).expect("query");
            u64::from_le_bytes(r.data[..8].try_into().expect("8 bytes"))
        };
        assert_eq!(count(emu, n.vc, OID_GEN_CO_XMIT_PDUS_OK), 2);
        for (_, vc) in [bob, carol, dave] {
            assert_eq!(count(emu, vc, OID_GEN_CO_RCV_PDUS_OK), 2);
        }
        // A leaf does not send: the call carries data from the root.
        emu.send(bob.1, &[b"back?"]).expect("send");
        assert_eq!(emu.send_results(n.bob), [NDIS_STATUS_FAILURE]);
        assert!(emu.received(n.root).is_empty());
    });
    assert_clean(&report);
}

// --- Dropping ---------------------------------------------------------------------------

#[test]
fn dropping_a_party_closes_its_leaf_and_the_rest_keep_receiving() {
    let report = with_adapter(|emu| {
        let n = net(emu);
        let [_, carol, _] = three_leaves(emu, &n);
        assert_eq!(emu.drop_party(carol.0, &[]), NDIS_STATUS_SUCCESS);
        assert!(has(emu, n.carol, &format!("IncomingCloseCall 0x0 VC {:#x}", carol.1.0)));
        emu.pump();
        assert_eq!(emu.vc_state(carol.1), None, "carol closed; covmini deleted her VC");
        assert_eq!(emu.parties(n.vc).len(), 2);
        emu.send(n.vc, &[b"two left"]).expect("send");
        assert_eq!(emu.received(n.bob), [b"two left".to_vec()]);
        assert_eq!(emu.received(n.dave), [b"two left".to_vec()]);
        assert!(emu.received(n.carol).is_empty());
    });
    assert_clean(&report);
}

#[test]
fn the_last_party_cannot_be_dropped_and_goes_with_the_close() {
    let report = with_adapter(|emu| {
        let n = net(emu);
        let (_, bob) = emu.make_multipoint_call(n.vc, &call_to(b"bob"));
        let bob = bob.expect("initial party");
        let bob_vc = leaf_vc(emu, n.bob);
        // NdisClDropParty of the last party fails (ProtocolClDropPartyComplete:
        // FAILURE, "the client should call NdisClCloseCall").
        assert_eq!(emu.drop_party(bob, &[]), NDIS_STATUS_FAILURE);
        assert_eq!(emu.close_call(n.vc, &[]), NDIS_STATUS_SUCCESS);
        assert!(emu.parties(n.vc).is_empty());
        assert_eq!(emu.vc_state(n.vc), Some((CallState::Closed, false)));
        assert!(has(emu, n.bob, &format!("IncomingCloseCall 0x0 VC {:#x}", bob_vc.0)));
        emu.pump();
        assert_eq!(emu.vc_state(bob_vc), None);
        assert_eq!(emu.delete_vc(n.vc), NDIS_STATUS_SUCCESS);
    });
    assert_clean(&report);
}

#[test]
fn a_leaf_hanging_up_is_an_incoming_drop_party_and_the_last_an_incoming_close() {
    let report = with_adapter(|emu| {
        let n = net(emu);
        let [bob, carol, dave] = three_leaves(emu, &n);
        assert_eq!(emu.close_call(carol.1, &[]), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.vc_state(carol.1), None, "covmini deleted the leaf's VC");
        assert_eq!(
            last(emu, n.root),
            Some(format!("IncomingDropParty 0x0 party {:#x}", carol.0.0))
        );
        // The root answers with NdisClDropParty.
        assert_eq!(emu.drop_party(carol.0, &[]), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.close_call(dave.1, &[]), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.drop_party(dave.0, &[]), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.parties(n.vc), [bob.0]);
        // The last leaf goes: the root gets an incoming close and closes.
        emu.close_call(bob.1, &[]);
        assert!(has(emu, n.root, &format!("IncomingCloseCall 0x0 VC {:#x}", n.vc.0)));
        emu.pump();
        assert_eq!(last(emu, n.root).as_deref(), Some("CloseCallComplete 0x0"));
        assert_eq!(emu.vc_state(n.vc), Some((CallState::Closed, false)));
        assert_eq!(emu.delete_vc(n.vc), NDIS_STATUS_SUCCESS);
    });
    assert_clean(&report);
    assert_eq!(events(&report, "NdisCmDispatchIncomingDropParty"), 2);
}

#[test]
fn closing_the_root_with_several_parties_closes_every_leaf() {
    let report = with_adapter(|emu| {
        let n = net(emu);
        let leaves = three_leaves(emu, &n);
        assert_eq!(emu.close_call(n.vc, &[]), NDIS_STATUS_SUCCESS);
        emu.pump();
        for (_, vc) in leaves {
            assert_eq!(emu.vc_state(vc), None);
        }
        assert!(emu.parties(n.vc).is_empty());
        assert_eq!(emu.delete_vc(n.vc), NDIS_STATUS_SUCCESS);
    });
    assert_clean(&report);
}

// --- Bad inputs -------------------------------------------------------------------------------

#[test]
fn bad_party_requests_get_their_documented_statuses_and_change_nothing() {
    let report = with_adapter(|emu| {
        let n = net(emu);
        // A multipoint call to the echo address: ProtocolCmMakeCall's
        // NOT_SUPPORTED ("invalid or unavailable features").
        let (s, _) = emu.make_multipoint_call(n.vc, &call_to(ECHO_ADDRESS));
        assert_eq!(s, NDIS_STATUS_NOT_SUPPORTED);
        // MULTIPOINT_VC without an initial party.
        let mut flagged = call_to(b"bob");
        flagged.flags |= MULTIPOINT_VC;
        assert_eq!(emu.make_call(n.vc, &flagged), NDIS_STATUS_NOT_SUPPORTED);
        assert!(emu.offered_vcs(n.bob).is_empty(), "nothing was offered");

        let (_, bob) = emu.make_multipoint_call(n.vc, &call_to(b"bob"));
        let bob = bob.expect("initial party");
        // Malformed party parameters and addresses: as for a make call.
        let mut wrong_type = call_to(b"dave");
        wrong_type.media_specific_type = PARAM_TYPE_CALLED_ADDRESS + 1;
        assert_eq!(emu.add_party(n.vc, &wrong_type).0, NDIS_STATUS_INVALID_ADDRESS);
        assert_eq!(
            emu.add_party(n.vc, &call_to(&[0xAB; 33])).0,
            NDIS_STATUS_INVALID_ADDRESS
        );
        assert_eq!(emu.add_party(n.vc, &call_to(b"")).0, NDIS_STATUS_INVALID_ADDRESS);
        assert_eq!(
            emu.add_party(n.vc, &call_to(b"nobody")).0,
            NDIS_STATUS_NO_ROUTE_TO_DESTINATION
        );
        assert_eq!(emu.add_party(n.vc, &call_to(ECHO_ADDRESS)).0, NDIS_STATUS_NOT_SUPPORTED);
        // Drop-party close data: the fabric carries none.
        let (_, dave) = emu.add_party(n.vc, &call_to(b"dave"));
        let dave = dave.expect("party");
        assert_eq!(emu.drop_party(dave, b"bye"), NDIS_STATUS_INVALID_DATA);
        assert_eq!(
            emu.parties(n.vc),
            [bob, dave],
            "every refused party is gone, the rest unchanged"
        );
        assert_eq!(
            emu.inbox(n.root)
                .iter()
                .filter(|l| l.starts_with("AddPartyComplete 0x0"))
                .count(),
            1
        );

        // NDIS itself refuses a party on a point-to-point call and a drop
        // of a party it does not know (NdisClAddParty/NdisClDropParty
        // return FAILURE before reaching covmini).
        let af = emu.last_af().expect("an AF");
        let p2p = emu.create_vc(af).expect("VC");
        assert_eq!(emu.make_call(p2p, &call_to(b"carol")), NDIS_STATUS_PENDING);
        emu.answer_incoming(leaf_vc(emu, n.carol), NDIS_STATUS_SUCCESS)
            .expect("answer");
        assert_eq!(emu.add_party(p2p, &call_to(b"dave")).0, NDIS_STATUS_FAILURE);
        assert_eq!(emu.drop_party(Party(0xdead), &[]), NDIS_STATUS_FAILURE);
    });
    assert_clean(&report);
}

#[test]
fn a_call_takes_sixteen_parties_and_the_seventeenth_is_resources() {
    let report = with_adapter(|emu| {
        let n = net(emu);
        emu.make_multipoint_call(n.vc, &call_to(b"bob"));
        for _ in 1..MAX_LEAVES {
            assert_eq!(emu.add_party(n.vc, &call_to(b"dave")).0, NDIS_STATUS_SUCCESS);
        }
        assert_eq!(emu.add_party(n.vc, &call_to(b"dave")).0, NDIS_STATUS_RESOURCES);
        assert_eq!(emu.parties(n.vc).len(), MAX_LEAVES);
        emu.send(n.vc, &[b"fan"]).expect("send");
        assert_eq!(emu.received(n.dave).len(), MAX_LEAVES - 1);
        assert_eq!(emu.send_results(n.root), [NDIS_STATUS_SUCCESS]);
    });
    assert_clean(&report);
}

// --- Halt ----------------------------------------------------------------------------------

#[test]
fn halt_with_a_multipoint_call_and_parties_open_tears_everything_down() {
    let report = with_adapter(|emu| {
        let n = net(emu);
        let [_, carol, _] = three_leaves(emu, &n);
        // One leaf has hung up and its party is not dropped yet.
        emu.close_call(carol.1, &[]);
        emu.send(n.vc, &[b"last words"]).expect("send");
    });
    assert_clean(&report);
    assert_eq!(events(&report, "NdisCmNotifyCloseAddressFamily"), 4, "one per open AF");
}

//! The party state machine and its ordering rules, without NDIS. Handles:
//! AFs 10 (the root's client) and 11 (the leaves' client), SAPs 20 "bob"
//! and 21 "carol" on 11, the root VC 30, leaf VCs 31.., parties 50...

use super::super::tests::{Cm, addr, effects};
use super::super::*;
use Effect as E;
use ndis_sys::{NDIS_STATUS_FAILURE, NDIS_STATUS_NOT_ACCEPTED, NDIS_STATUS_NOT_SUPPORTED, NDIS_STATUS_RESOURCES};
use std::vec::Vec;

/// The root's AF with VC 30, the leaves' AF with SAPs "bob" and "carol".
fn setup() -> (Cm, VcId) {
    let mut cm = Cm::new();
    let a = cm.open_af(10).unwrap();
    let b = cm.open_af(11).unwrap();
    cm.register_sap(b, 20, addr("bob")).unwrap();
    cm.register_sap(b, 21, addr("carol")).unwrap();
    let root = cm.create_vc(a, 30).unwrap();
    (cm, root)
}

/// Begins a party to `to` and offers its leaf (everything activates).
fn offer(cm: &mut Cm, root: VcId, to: &str, party: u32, leaf: u32, via: Via) -> PartyPlan<u32> {
    let plan = cm.party_begin(root, &addr(to), party, leaf, via).unwrap();
    let root_ok = (via == Via::MakeCall).then_some(true);
    cm.party_activated(&plan, root_ok, true).unwrap();
    plan
}

/// The leaf accepts inside the offer; returns the handler's status.
fn accept_sync(cm: &mut Cm, plan: &PartyPlan<u32>) -> NDIS_STATUS {
    cm.incoming_call_complete(plan.leaf, NDIS_STATUS_SUCCESS).unwrap();
    assert!(cm.offer_done(plan.sap).is_empty());
    let (s, fx) = cm.party_end(plan.party);
    assert!(fx.is_empty());
    s
}

/// A multipoint call up with parties 50 (leaf 31, "bob") and 51 (leaf 32, "carol").
fn two_parties() -> (Cm, VcId, PartyPlan<u32>, PartyPlan<u32>) {
    let (mut cm, root) = setup();
    let first = offer(&mut cm, root, "bob", 50, 31, Via::MakeCall);
    assert_eq!(accept_sync(&mut cm, &first), NDIS_STATUS_SUCCESS);
    let second = offer(&mut cm, root, "carol", 51, 32, Via::AddParty);
    assert_eq!(accept_sync(&mut cm, &second), NDIS_STATUS_SUCCESS);
    (cm, root, first, second)
}

// --- Setting up ---------------------------------------------------------------------

#[test]
fn a_synchronous_leaf_answer_is_returned_by_the_make_call_and_brings_the_root_up() {
    let (mut cm, root) = setup();
    let plan = offer(&mut cm, root, "bob", 50, 31, Via::MakeCall);
    assert_eq!(
        cm.vc_state(root),
        Some(VcState::Root {
            phase: RootPhase::Setup
        })
    );
    assert_eq!(cm.vc_state(plan.leaf), Some(VcState::LeafOffered { party: plan.party }));
    assert!(
        cm.vc_active(root) && cm.vc_active(plan.leaf),
        "both activated before the offer"
    );
    let fx = cm.incoming_call_complete(plan.leaf, NDIS_STATUS_SUCCESS).unwrap();
    assert_eq!(
        effects(&fx),
        [E::DispatchCallConnected(31)],
        "no completion: the handler returns it"
    );
    assert!(cm.offer_done(plan.sap).is_empty());
    assert_eq!(cm.party_end(plan.party), (NDIS_STATUS_SUCCESS, Effects::new()));
    assert_eq!(cm.vc_state(root), Some(VcState::Root { phase: RootPhase::Up }));
    assert_eq!(cm.party_state(plan.party), Some(PartyState::Connected));
    assert_eq!(
        cm.vc_state(plan.leaf),
        Some(VcState::Leaf {
            party: Some(plan.party)
        })
    );
}

#[test]
fn a_pended_leaf_answer_completes_the_make_call_with_the_party_after_connecting_the_leaf() {
    let (mut cm, root) = setup();
    let plan = offer(&mut cm, root, "bob", 50, 31, Via::MakeCall);
    assert!(cm.offer_done(plan.sap).is_empty());
    assert_eq!(cm.party_end(plan.party).0, NDIS_STATUS_PENDING);
    let fx = cm.incoming_call_complete(plan.leaf, NDIS_STATUS_SUCCESS).unwrap();
    assert_eq!(
        effects(&fx),
        [
            E::DispatchCallConnected(31),
            E::CompleteMakeCallParty(30, 50, NDIS_STATUS_SUCCESS)
        ]
    );
}

#[test]
fn a_pended_refusal_deletes_the_leaf_deactivates_the_root_then_completes_and_frees_the_party() {
    let (mut cm, root) = setup();
    let plan = offer(&mut cm, root, "bob", 50, 31, Via::MakeCall);
    cm.offer_done(plan.sap);
    assert_eq!(cm.party_end(plan.party).0, NDIS_STATUS_PENDING);
    let fx = cm.incoming_call_complete(plan.leaf, NDIS_STATUS_NOT_ACCEPTED).unwrap();
    assert_eq!(
        effects(&fx),
        [
            E::DeactivateVc(31),
            E::DeleteVc(31),
            E::DeactivateVc(30),
            E::CompleteMakeCallParty(30, 50, NDIS_STATUS_NOT_ACCEPTED),
            E::FreeParty(50),
        ]
    );
    assert_eq!(cm.vc_state(root), Some(VcState::Idle));
    assert!(!cm.vc_active(root));
    assert_eq!(cm.live_parties(), 0);
    assert_eq!(cm.live(), (2, 2, 1));
}

#[test]
fn a_refusal_inside_the_offer_is_returned_and_the_party_freed_by_the_handler_end() {
    let (mut cm, root) = setup();
    let first = offer(&mut cm, root, "bob", 50, 31, Via::MakeCall);
    accept_sync(&mut cm, &first);
    let plan = offer(&mut cm, root, "carol", 51, 32, Via::AddParty);
    let fx = cm.incoming_call_complete(plan.leaf, NDIS_STATUS_NOT_ACCEPTED).unwrap();
    assert_eq!(
        effects(&fx),
        [E::DeactivateVc(32), E::DeleteVc(32)],
        "the root stays up"
    );
    cm.offer_done(plan.sap);
    let (s, fx) = cm.party_end(plan.party);
    assert_eq!(s, NDIS_STATUS_NOT_ACCEPTED);
    assert_eq!(effects(&fx), [E::FreeParty(51)]);
    assert_eq!(cm.vc_state(root), Some(VcState::Root { phase: RootPhase::Up }));
    assert_eq!(cm.live_parties(), 1);
}

#[test]
fn a_pended_add_party_completes_with_add_party_complete() {
    let (mut cm, root) = setup();
    let first = offer(&mut cm, root, "bob", 50, 31, Via::MakeCall);
    accept_sync(&mut cm, &first);
    let plan = offer(&mut cm, root, "carol", 51, 32, Via::AddParty);
    cm.offer_done(plan.sap);
    assert_eq!(cm.party_end(plan.party).0, NDIS_STATUS_PENDING);
    let fx = cm.incoming_call_complete(plan.leaf, NDIS_STATUS_SUCCESS).unwrap();
    assert_eq!(
        effects(&fx),
        [
            E::DispatchCallConnected(32),
            E::CompleteAddParty(51, NDIS_STATUS_SUCCESS)
        ]
    );
}

#[test]
fn a_failed_leaf_creation_or_activation_takes_the_party_and_a_make_call_root_down() {
    let (mut cm, root) = setup();
    let plan = cm.party_begin(root, &addr("bob"), 50, 31, Via::MakeCall).unwrap();
    let (status, fx) = cm.party_create_failed(&plan, NDIS_STATUS_RESOURCES);
    assert_eq!(status, NDIS_STATUS_RESOURCES, "the creation's failure is the handler's");
    assert_eq!(effects(&fx), [E::FreeVc(31), E::FreeParty(50)]);
    assert_eq!(cm.vc_state(root), Some(VcState::Idle));

    let plan = cm.party_begin(root, &addr("bob"), 50, 31, Via::MakeCall).unwrap();
    let fx = cm.party_activated(&plan, Some(true), false).unwrap_err();
    assert_eq!(effects(&fx), [E::DeleteVc(31)]);
    assert!(cm.offer_done(plan.sap).is_empty());
    assert_eq!(
        cm.vc_state(root),
        Some(VcState::Abandoned),
        "active until its handler deactivates it"
    );
    // The handler deactivates the root itself before it fails.
    let (status, fx) = cm.party_end(plan.party);
    assert_eq!(status, NDIS_STATUS_FAILURE);
    assert_eq!(effects(&fx), [E::DeactivateVc(30), E::FreeParty(50)]);
    assert!(!cm.vc_active(root));
    assert_eq!((cm.live(), cm.live_parties()), ((2, 2, 1), 0));
}

#[test]
fn parties_go_only_to_the_right_calls_and_addresses() {
    let (mut cm, root) = setup();
    // Adding to a VC with no call, or before the call is up.
    assert_eq!(
        cm.party_begin(root, &addr("bob"), 51, 32, Via::AddParty),
        Err(Refusal::Invalid)
    );
    assert_eq!(
        cm.party_begin(root, &addr("nobody"), 50, 31, Via::MakeCall),
        Err(Refusal::NoRoute)
    );
    assert_eq!(cm.vc_state(root), Some(VcState::Idle), "nothing changed");
    let plan = offer(&mut cm, root, "bob", 50, 31, Via::MakeCall);
    assert_eq!(
        cm.party_begin(root, &addr("carol"), 51, 32, Via::AddParty),
        Err(Refusal::Invalid)
    );
    assert_eq!(
        cm.party_begin(root, &addr("carol"), 51, 32, Via::MakeCall),
        Err(Refusal::CallActive)
    );
    accept_sync(&mut cm, &plan);
    // A party on a point-to-point call; a multipoint echo call.
    let a = cm.open_af(12).unwrap();
    let p2p = cm.create_vc(a, 40).unwrap();
    let pplan = cm.make_call_begin(p2p, &addr("carol"), 41).unwrap();
    cm.make_call_activated(p2p, pplan.callee, true, true).unwrap();
    cm.incoming_call_complete(pplan.callee, NDIS_STATUS_SUCCESS).unwrap();
    assert_eq!(
        cm.party_begin(p2p, &addr("bob"), 52, 42, Via::AddParty),
        Err(Refusal::NotSupported)
    );
    assert_eq!(Refusal::NotSupported.status(), NDIS_STATUS_NOT_SUPPORTED);
    let echo = cm.create_vc(a, 43).unwrap();
    assert_eq!(cm.make_call_echo(echo, true), Err(Refusal::NotSupported));
}

#[test]
fn a_call_takes_sixteen_parties_and_the_adapter_sixty_four() {
    let (mut cm, root) = setup();
    let first = offer(&mut cm, root, "bob", 100, 200, Via::MakeCall);
    accept_sync(&mut cm, &first);
    for i in 1..MAX_LEAVES as u32 {
        let p = offer(&mut cm, root, "carol", 100 + i, 200 + i, Via::AddParty);
        accept_sync(&mut cm, &p);
    }
    assert_eq!(
        cm.party_begin(root, &addr("carol"), 999, 998, Via::AddParty),
        Err(Refusal::Resources)
    );
    // Three more full calls fill the adapter's table.
    let a = cm.open_af(12).unwrap();
    for r in 0..3u32 {
        let root = cm.create_vc(a, 300 + r).unwrap();
        for i in 0..MAX_LEAVES as u32 {
            let via = if i == 0 { Via::MakeCall } else { Via::AddParty };
            let p = offer(&mut cm, root, "bob", 400 + r * 100 + i, 800 + r * 100 + i, via);
            accept_sync(&mut cm, &p);
        }
    }
    assert_eq!(cm.live_parties(), MAX_PARTIES);
    let extra = cm.create_vc(a, 700).unwrap();
    assert_eq!(
        cm.party_begin(extra, &addr("bob"), 701, 702, Via::MakeCall),
        Err(Refusal::Resources)
    );
    assert_eq!(cm.vc_state(extra), Some(VcState::Idle));
    assert_eq!(Refusal::Resources.status(), NDIS_STATUS_RESOURCES);
}

// --- Data ------------------------------------------------------------------------------

#[test]
fn the_root_sends_to_every_connected_leaf_and_a_leaf_does_not_send() {
    let (mut cm, root, first, second) = two_parties();
    let r = cm.route(root, 1, 2).unwrap();
    assert_eq!(r.targets().collect::<Vec<_>>(), [(first.leaf, 31), (second.leaf, 32)]);
    assert_eq!((cm.busy(root), cm.busy(first.leaf), cm.busy(second.leaf)), (1, 2, 2));
    assert_eq!(cm.route(first.leaf, 1, 1), Err(Refusal::LeafSend));
    assert_eq!(Refusal::LeafSend.status(), NDIS_STATUS_FAILURE);
    // A dropped party's leaf gets nothing more.
    cm.unpin(root, 1);
    cm.unpin(first.leaf, 2);
    cm.unpin(second.leaf, 2);
    cm.drop_party(first.party).unwrap();
    let r = cm.route(root, 1, 1).unwrap();
    assert_eq!(r.targets().collect::<Vec<_>>(), [(second.leaf, 32)]);
}

// --- Dropping ---------------------------------------------------------------------------

#[test]
fn dropping_a_party_tells_its_leaf_and_frees_it_but_the_last_party_is_refused() {
    let (mut cm, root, first, second) = two_parties();
    let f = cm.drop_party(first.party).unwrap();
    let Finish::Return(s, fx) = f else { panic!("{f:?}") };
    assert_eq!(s, NDIS_STATUS_SUCCESS);
    assert_eq!(effects(&fx), [E::DispatchIncomingClose(31), E::FreeParty(50)]);
    assert_eq!(cm.vc_state(first.leaf), Some(VcState::Leaf { party: None }));
    assert_eq!(cm.busy(first.leaf), 1, "pinned for the incoming close");
    assert_eq!(cm.drop_party(second.party), Err(Refusal::LastParty));
    assert_eq!(Refusal::LastParty.status(), NDIS_STATUS_FAILURE);
    // The told leaf's client closes: no one else is told, the leaf is deleted.
    assert!(cm.unpin(first.leaf, 1).is_empty());
    let f = cm.close_call(first.leaf).unwrap();
    let Finish::Pend(fx) = f else { panic!("{f:?}") };
    assert_eq!(
        effects(&fx),
        [E::DeactivateVc(31), E::CompleteCloseCall(31), E::DeleteVc(31)]
    );
    assert_eq!(cm.vc_state(root), Some(VcState::Root { phase: RootPhase::Up }));
}

#[test]
fn a_leaf_hanging_up_is_an_incoming_drop_party_and_the_last_one_an_incoming_close() {
    let (mut cm, root, first, second) = two_parties();
    let Finish::Pend(fx) = cm.close_call(first.leaf).unwrap() else {
        panic!()
    };
    assert_eq!(
        effects(&fx),
        [
            E::DeactivateVc(31),
            E::DispatchIncomingDropParty(50),
            E::CompleteCloseCall(31),
            E::DeleteVc(31),
        ]
    );
    assert_eq!(cm.party_state(first.party), Some(PartyState::LeafGone));
    assert_eq!(cm.busy(root), 1, "the root is pinned for the dispatch");
    assert!(cm.party_dispatched(first.party).is_empty());
    assert_eq!(cm.busy(root), 0);
    // The root's client answers with NdisClDropParty.
    let Finish::Return(s, fx) = cm.drop_party(first.party).unwrap() else {
        panic!()
    };
    assert_eq!((s, effects(&fx)), (NDIS_STATUS_SUCCESS, std::vec![E::FreeParty(50)]));
    // The last leaf hangs up: the root gets an incoming close instead.
    let Finish::Pend(fx) = cm.close_call(second.leaf).unwrap() else {
        panic!()
    };
    assert_eq!(
        effects(&fx),
        [
            E::DeactivateVc(32),
            E::DispatchIncomingClose(30),
            E::CompleteCloseCall(32),
            E::DeleteVc(32),
        ]
    );
    assert!(cm.unpin(root, 1).is_empty());
    // The root closes with its last party.
    cm.begin_root_close(root).unwrap();
    assert_eq!(effects(&cm.detach_party(root).unwrap()), [E::FreeParty(51)]);
    assert_eq!(cm.detach_party(root), None);
    let Finish::Return(s, fx) = cm.close_call(root).unwrap() else {
        panic!()
    };
    assert_eq!((s, effects(&fx)), (NDIS_STATUS_SUCCESS, std::vec![E::DeactivateVc(30)]));
    assert_eq!(cm.vc_state(root), Some(VcState::Idle));
    assert_eq!((cm.live(), cm.live_parties()), ((2, 2, 1), 0));
}

#[test]
fn a_drop_while_the_incoming_drop_party_is_dispatched_pends_until_it_returns() {
    let (mut cm, root, first, _) = two_parties();
    cm.close_call(first.leaf).unwrap();
    // The client answers from inside ProtocolClIncomingDropParty.
    assert_eq!(cm.drop_party(first.party), Ok(Finish::Pend(Effects::new())));
    assert_eq!(cm.party_state(first.party), Some(PartyState::Dropping));
    assert_eq!(
        effects(&cm.party_dispatched(first.party)),
        [E::CompleteDropParty(50), E::FreeParty(50)]
    );
    assert_eq!(cm.busy(root), 0);
}

/// The leaf's answer came while the adding handler still runs: until that
/// handler reports it (party_end), the party is still being added, so
/// neither a drop nor the root's close may take it from under the handler
/// (which returns its context to NDIS on SUCCESS).
#[test]
fn an_answer_the_adding_handler_has_not_reported_yet_keeps_the_party_from_drop_and_close() {
    for via in [Via::MakeCall, Via::AddParty] {
        let (mut cm, root) = setup();
        let mut others = 0;
        if via == Via::AddParty {
            let first = offer(&mut cm, root, "carol", 49, 39, Via::MakeCall);
            assert_eq!(accept_sync(&mut cm, &first), NDIS_STATUS_SUCCESS);
            others = 1;
        }
        let plan = offer(&mut cm, root, "bob", 50, 31, via);
        cm.incoming_call_complete(plan.leaf, NDIS_STATUS_SUCCESS).unwrap();
        // The leaf hangs up at once, on another CPU: the root is told.
        cm.close_call(plan.leaf).unwrap();
        if others > 0 {
            cm.party_dispatched(plan.party);
        } else {
            cm.unpin(root, 1);
        }
        assert_eq!(cm.drop_party(plan.party), Err(Refusal::Invalid), "{via:?}");
        assert_eq!(cm.begin_root_close(root), Err(Refusal::Invalid), "{via:?}");
        cm.offer_done(plan.sap);
        let (s, fx) = cm.party_end(plan.party);
        assert_eq!((s, effects(&fx)), (NDIS_STATUS_SUCCESS, std::vec![]), "{via:?}");
        assert_eq!(cm.party_state(plan.party), Some(PartyState::LeafGone));
        // Reported: now the root's client may let it go.
        if others > 0 {
            assert!(matches!(
                cm.drop_party(plan.party),
                Ok(Finish::Return(NDIS_STATUS_SUCCESS, _))
            ));
        } else {
            cm.begin_root_close(root).unwrap();
        }
    }
}

/// A pended add's completion runs after the lock is dropped while the
/// party is already up: it is pinned (with its root) until the glue has
/// made it. A drop meanwhile pends and completes after it; a root's close
/// skips it and finishes after it, detaching it then (its leaf told); the
/// party is never freed before.
#[test]
fn a_successful_completion_pins_the_party_until_the_glue_made_it() {
    for via in [Via::MakeCall, Via::AddParty] {
        for drop in [true, false] {
            if via == Via::MakeCall && drop {
                continue; // the last party: dropping it is refused anyway
            }
            let (mut cm, root) = setup();
            if via == Via::AddParty {
                let first = offer(&mut cm, root, "carol", 49, 39, Via::MakeCall);
                assert_eq!(accept_sync(&mut cm, &first), NDIS_STATUS_SUCCESS);
            }
            let plan = offer(&mut cm, root, "bob", 50, 31, via);
            cm.offer_done(plan.sap);
            assert_eq!(cm.party_end(plan.party).0, NDIS_STATUS_PENDING);
            cm.incoming_call_complete(plan.leaf, NDIS_STATUS_SUCCESS).unwrap();
            assert_eq!(cm.busy(root), 1, "{via:?}: the root is pinned");
            if drop {
                let Ok(Finish::Pend(fx)) = cm.drop_party(plan.party) else {
                    panic!("the drop pends on the completion's pin")
                };
                assert_eq!(effects(&fx), [E::DispatchIncomingClose(31)]);
                assert_eq!(
                    effects(&cm.party_completed(plan.party)),
                    [E::CompleteDropParty(50), E::FreeParty(50)]
                );
            } else {
                cm.begin_root_close(root).unwrap();
                while let Some(fx) = cm.detach_party(root) {
                    assert!(!effects(&fx).contains(&E::FreeParty(50)), "{via:?}: freed while pinned");
                }
                assert!(matches!(cm.close_call(root), Ok(Finish::Pend(_))), "{via:?}");
                // Detached now: its leaf is told (it was left linked to
                // the freed party's slot), then the party goes and the
                // root's close finishes.
                let fx = effects(&cm.party_completed(plan.party));
                assert_eq!(
                    fx.get(..2),
                    Some(&[E::DispatchIncomingClose(31), E::FreeParty(50)][..]),
                    "{via:?}: {fx:?}"
                );
                assert!(fx.contains(&E::CompleteCloseCall(30)), "{via:?}: {fx:?}");
                assert_eq!(cm.vc_state(plan.leaf), Some(VcState::Leaf { party: None }));
            }
            assert_eq!(cm.busy(root), 0);
        }
    }
}

/// A leaf's hang-up crossing the drop of the call's other party: the core
/// chose an incoming drop party for the hung-up party because the other
/// was there, so while that indication is on its way the other party is
/// refused as the last one (else NDIS would get
/// NdisMCmDispatchIncomingDropParty for the call's last party); once it was
/// dispatched, the drop goes through.
#[test]
fn a_drop_crossing_the_incoming_drop_party_of_the_other_party_is_refused_as_the_last() {
    let (mut cm, _, first, second) = two_parties();
    cm.close_call(first.leaf).unwrap(); // incoming drop party for 50, pinned
    assert_eq!(cm.drop_party(second.party), Err(Refusal::LastParty));
    cm.party_dispatched(first.party);
    assert!(matches!(
        cm.drop_party(second.party),
        Ok(Finish::Return(NDIS_STATUS_SUCCESS, _))
    ));
}

/// A leaf's hang-up crossing the failure of the call's other party, whose
/// add pended (the leaf answers after ProtocolCmAddParty returned): the
/// core chose an incoming drop party for the hung-up party because the
/// other was there, and NDIS forgets a party when its add's failure
/// reaches it; so while that indication is on its way the failure is held
/// (the party stays, [`PartyState::Failed`]) and completes after it.
#[test]
fn a_pended_adds_failure_crossing_the_incoming_drop_party_of_the_other_party_waits_for_it() {
    let (mut cm, root) = setup();
    let first = offer(&mut cm, root, "bob", 50, 31, Via::MakeCall);
    assert_eq!(accept_sync(&mut cm, &first), NDIS_STATUS_SUCCESS);
    let second = offer(&mut cm, root, "carol", 51, 32, Via::AddParty);
    assert!(cm.offer_done(second.sap).is_empty());
    assert_eq!(
        cm.party_end(second.party).0,
        NDIS_STATUS_PENDING,
        "carol pends her answer"
    );
    cm.close_call(first.leaf).unwrap(); // incoming drop party for 50, pinned
    let fx = effects(
        &cm.incoming_call_complete(second.leaf, NDIS_STATUS_NOT_ACCEPTED)
            .unwrap(),
    );
    assert_eq!(fx, [E::DeactivateVc(32), E::DeleteVc(32)], "no completion yet");
    assert_eq!(cm.party_state(second.party), Some(PartyState::Failed));
    assert_eq!(cm.release_failed_add(root), None, "the indication is on its way");
    assert!(cm.party_dispatched(first.party).is_empty());
    let fx = cm.release_failed_add(root).map(|fx| effects(&fx));
    assert_eq!(
        fx,
        Some(std::vec![
            E::CompleteAddParty(51, NDIS_STATUS_NOT_ACCEPTED),
            E::FreeParty(51)
        ])
    );
    assert_eq!(cm.release_failed_add(root), None);
    assert_eq!(cm.party_state(second.party), None);
}

/// The same with the leaf's refusal inside ProtocolCmAddParty: the handler
/// would return the failure, so it returns PENDING instead, and the
/// failure is completed after the indication.
#[test]
fn a_failure_inside_the_add_crossing_the_incoming_drop_party_of_the_other_party_pends() {
    let (mut cm, root) = setup();
    let first = offer(&mut cm, root, "bob", 50, 31, Via::MakeCall);
    assert_eq!(accept_sync(&mut cm, &first), NDIS_STATUS_SUCCESS);
    let second = offer(&mut cm, root, "carol", 51, 32, Via::AddParty);
    cm.close_call(first.leaf).unwrap(); // incoming drop party for 50, pinned
    let fx = effects(
        &cm.incoming_call_complete(second.leaf, NDIS_STATUS_NOT_ACCEPTED)
            .unwrap(),
    );
    assert_eq!(fx, [E::DeactivateVc(32), E::DeleteVc(32)]);
    assert!(cm.offer_done(second.sap).is_empty());
    let (s, fx) = cm.party_end(second.party);
    assert_eq!((s, effects(&fx)), (NDIS_STATUS_PENDING, std::vec![]));
    assert_eq!(
        cm.begin_root_close(root),
        Err(Refusal::Invalid),
        "the add is not over for NDIS"
    );
    assert!(cm.party_dispatched(first.party).is_empty());
    let fx = cm.release_failed_add(root).map(|fx| effects(&fx));
    assert_eq!(
        fx,
        Some(std::vec![
            E::CompleteAddParty(51, NDIS_STATUS_NOT_ACCEPTED),
            E::FreeParty(51)
        ])
    );
    // With no indication on its way, a failure inside the add is returned.
    let third = offer(&mut cm, root, "carol", 52, 33, Via::AddParty);
    cm.incoming_call_complete(third.leaf, NDIS_STATUS_NOT_ACCEPTED).unwrap();
    assert!(cm.offer_done(third.sap).is_empty());
    let (s, fx) = cm.party_end(third.party);
    assert_eq!(
        (s, effects(&fx)),
        (NDIS_STATUS_NOT_ACCEPTED, std::vec![E::FreeParty(52)])
    );
}

/// The same with the add failing before its offer (NdisMCmCreateVc
/// refused for the new leaf): the handler returns PENDING and the
/// creation's failure completes after the indication; with none on its way
/// the failure is returned, as before.
#[test]
fn a_failed_leaf_creation_crossing_the_incoming_drop_party_of_the_other_party_pends() {
    let (mut cm, root) = setup();
    let first = offer(&mut cm, root, "bob", 50, 31, Via::MakeCall);
    assert_eq!(accept_sync(&mut cm, &first), NDIS_STATUS_SUCCESS);
    let second = cm.party_begin(root, &addr("carol"), 51, 32, Via::AddParty).unwrap();
    cm.close_call(first.leaf).unwrap(); // incoming drop party for 50, pinned
    let (s, fx) = cm.party_create_failed(&second, NDIS_STATUS_RESOURCES);
    assert_eq!((s, effects(&fx)), (NDIS_STATUS_PENDING, std::vec![E::FreeVc(32)]));
    assert_eq!(cm.party_state(second.party), Some(PartyState::Failed));
    assert_eq!(cm.release_failed_add(root), None, "the indication is on its way");
    assert!(cm.party_dispatched(first.party).is_empty());
    let fx = cm.release_failed_add(root).map(|fx| effects(&fx));
    assert_eq!(
        fx,
        Some(std::vec![
            E::CompleteAddParty(51, NDIS_STATUS_RESOURCES),
            E::FreeParty(51)
        ])
    );
    assert_eq!(cm.release_failed_add(root), None);
    let third = cm.party_begin(root, &addr("carol"), 52, 33, Via::AddParty).unwrap();
    let (s, fx) = cm.party_create_failed(&third, NDIS_STATUS_PENDING);
    assert_eq!(
        (s, effects(&fx)),
        (NDIS_STATUS_FAILURE, std::vec![E::FreeVc(33), E::FreeParty(52)]),
        "no indication on its way: returned (PENDING is no failure: FAILURE)"
    );
}

// --- The root closes -------------------------------------------------------------------

#[test]
fn closing_the_root_with_parties_tells_each_leaf_and_frees_each_party_one_at_a_time() {
    let (mut cm, root, first, second) = two_parties();
    cm.begin_root_close(root).unwrap();
    assert_eq!(cm.route(root, 1, 1), Err(Refusal::Invalid), "no sends while closing");
    assert_eq!(cm.drop_party(second.party), Err(Refusal::Invalid));
    assert_eq!(
        effects(&cm.detach_party(root).unwrap()),
        [E::DispatchIncomingClose(31), E::FreeParty(50)]
    );
    assert_eq!(
        effects(&cm.detach_party(root).unwrap()),
        [E::DispatchIncomingClose(32), E::FreeParty(51)]
    );
    assert_eq!(cm.detach_party(root), None);
    let Finish::Return(s, fx) = cm.close_call(root).unwrap() else {
        panic!()
    };
    assert_eq!((s, effects(&fx)), (NDIS_STATUS_SUCCESS, std::vec![E::DeactivateVc(30)]));
    // The leaves' clients close; the root is not told again.
    for leaf in [first.leaf, second.leaf] {
        cm.unpin(leaf, 1);
        let Finish::Pend(fx) = cm.close_call(leaf).unwrap() else {
            panic!()
        };
        assert_eq!(effects(&fx).len(), 3, "deactivate, complete, delete: {fx:?}");
    }
    assert_eq!((cm.live(), cm.live_parties()), ((2, 2, 1), 0));
}

#[test]
fn a_root_is_not_closed_while_a_party_is_being_added() {
    let (mut cm, root) = setup();
    let first = offer(&mut cm, root, "bob", 50, 31, Via::MakeCall);
    accept_sync(&mut cm, &first);
    let adding = offer(&mut cm, root, "carol", 51, 32, Via::AddParty);
    assert_eq!(cm.begin_root_close(root), Err(Refusal::Invalid));
    assert_eq!(
        cm.close_call(root),
        Err(Refusal::Invalid),
        "only through begin_root_close"
    );
    accept_sync(&mut cm, &adding);
    cm.begin_root_close(root).unwrap();
}

#[test]
fn a_root_closing_while_a_drop_is_dispatched_frees_that_party_when_the_dispatch_returns() {
    let (mut cm, root, first, _) = two_parties();
    cm.close_call(first.leaf).unwrap(); // incoming drop party for 50, pinned
    cm.begin_root_close(root).unwrap();
    assert_eq!(
        effects(&cm.detach_party(root).unwrap()),
        [E::DispatchIncomingClose(32), E::FreeParty(51)]
    );
    assert_eq!(cm.detach_party(root), None, "50 is pinned");
    assert!(
        matches!(cm.close_call(root), Ok(Finish::Pend(_))),
        "the root's pin holds the close"
    );
    assert_eq!(
        effects(&cm.party_dispatched(first.party)),
        [E::FreeParty(50), E::DeactivateVc(30), E::CompleteCloseCall(30)]
    );
    assert_eq!(cm.live_parties(), 0);
}

#[test]
fn a_party_record_is_small() {
    // The core's per-party cost: one table slot (the context is 32 bytes more).
    assert!(core::mem::size_of::<Option<PartySlot<usize>>>() <= 32);
}

// --- A refusal with handlers inside (the glue's handshake) -----------------------------

/// Handlers inside the root (`caller`) or the leaf (`callee`).
const ROOT: Handlers = Handlers {
    caller: true,
    callee: false,
};
const LEAF: Handlers = Handlers {
    caller: false,
    callee: true,
};

/// Only the initial party's leaf of a multipoint make call names the root
/// its refusal takes down; an added party's leaf names none.
#[test]
fn a_make_calls_leaf_offer_names_its_root_an_added_partys_none() {
    let (mut cm, root) = setup();
    let plan = offer(&mut cm, root, "bob", 50, 31, Via::MakeCall);
    assert_eq!(cm.offer_caller(plan.leaf), Some((root, 30)));
    assert_eq!(accept_sync(&mut cm, &plan), NDIS_STATUS_SUCCESS);
    assert_eq!(cm.offer_caller(plan.leaf), None, "answered");
    let added = offer(&mut cm, root, "carol", 51, 32, Via::AddParty);
    assert_eq!(cm.offer_caller(added.leaf), None);
}

/// The leaf rejects a pended multipoint make call while a handler is
/// inside the root (a send the route refused): the leaf goes at once, the
/// root stays active and the party with it (no route, no close, no drop)
/// until the handlers left, and only then is the root deactivated and the
/// make call completed with the party and the leaf's status, the party
/// freed after.
#[test]
fn a_leafs_reject_with_handlers_inside_the_pended_root_waits_for_them() {
    let (mut cm, root) = setup();
    let plan = offer(&mut cm, root, "bob", 50, 31, Via::MakeCall);
    assert!(cm.offer_done(plan.sap).is_empty());
    assert_eq!(cm.party_end(plan.party).0, NDIS_STATUS_PENDING);
    let fx = cm
        .incoming_call_complete_with_handlers(plan.leaf, NDIS_STATUS_NOT_ACCEPTED, ROOT)
        .unwrap();
    assert_eq!(effects(&fx), [E::DeactivateVc(31), E::DeleteVc(31)]);
    assert!(cm.vc_active(root), "not deactivated under its handlers");
    assert_eq!(
        cm.vc_state(root),
        Some(VcState::RootRefused {
            party: plan.party,
            status: NDIS_STATUS_NOT_ACCEPTED
        })
    );
    assert_eq!(cm.route(root, 1, 1), Err(Refusal::Invalid));
    assert_eq!(cm.close_call(root), Err(Refusal::Invalid));
    assert_eq!(cm.drop_party(plan.party), Err(Refusal::Invalid));
    assert_eq!(cm.live_parties(), 1);
    assert_eq!(
        effects(&cm.handlers_left(root)),
        [
            E::DeactivateVc(30),
            E::CompleteMakeCallParty(30, 50, NDIS_STATUS_NOT_ACCEPTED),
            E::FreeParty(50)
        ]
    );
    assert_eq!(cm.vc_state(root), Some(VcState::Idle));
    assert!(!cm.vc_active(root));
    assert_eq!((cm.live(), cm.live_parties()), ((2, 2, 1), 0));
}

/// The same while the make call handler still runs: if the handlers leave
/// first, the handler gets the failure and deactivates the root itself
/// before returning it; if after, the make call pends and the last handler
/// out completes it.
#[test]
fn a_leafs_reject_with_handlers_inside_the_root_during_the_make_call() {
    let (mut cm, root) = setup();
    let plan = offer(&mut cm, root, "bob", 50, 31, Via::MakeCall);
    cm.incoming_call_complete_with_handlers(plan.leaf, NDIS_STATUS_NOT_ACCEPTED, ROOT)
        .unwrap();
    assert!(cm.handlers_left(root).is_empty(), "left to the handler");
    assert!(cm.vc_active(root));
    assert!(cm.offer_done(plan.sap).is_empty());
    let (status, fx) = cm.party_end(plan.party);
    assert_eq!(status, NDIS_STATUS_NOT_ACCEPTED);
    assert_eq!(effects(&fx), [E::DeactivateVc(30), E::FreeParty(50)]);

    let plan = offer(&mut cm, root, "bob", 50, 31, Via::MakeCall);
    cm.incoming_call_complete_with_handlers(plan.leaf, NDIS_STATUS_NOT_ACCEPTED, ROOT)
        .unwrap();
    assert!(cm.offer_done(plan.sap).is_empty());
    assert_eq!(cm.party_end(plan.party), (NDIS_STATUS_PENDING, Effects::new()));
    assert_eq!(
        effects(&cm.handlers_left(root)),
        [
            E::DeactivateVc(30),
            E::CompleteMakeCallParty(30, 50, NDIS_STATUS_NOT_ACCEPTED),
            E::FreeParty(50)
        ]
    );
    assert_eq!((cm.vc_state(root), cm.live_parties()), (Some(VcState::Idle), 0));
}

/// A leaf that rejects with a handler inside its own VC (a send, refused
/// as a leaf's): the make call fails as usual, the leaf stays active until
/// the handler left, and is then deactivated and deleted.
#[test]
fn a_leafs_reject_with_handlers_inside_the_leaf_deletes_it_after_them() {
    for via in [Via::MakeCall, Via::AddParty] {
        let (mut cm, root) = setup();
        if via == Via::AddParty {
            let first = offer(&mut cm, root, "carol", 51, 32, Via::MakeCall);
            assert_eq!(accept_sync(&mut cm, &first), NDIS_STATUS_SUCCESS);
        }
        let plan = offer(&mut cm, root, "bob", 50, 31, via);
        assert!(cm.offer_done(plan.sap).is_empty());
        assert_eq!(cm.party_end(plan.party).0, NDIS_STATUS_PENDING);
        let fx = cm
            .incoming_call_complete_with_handlers(plan.leaf, NDIS_STATUS_NOT_ACCEPTED, LEAF)
            .unwrap();
        let completion = match via {
            Via::MakeCall => std::vec![
                E::DeactivateVc(30),
                E::CompleteMakeCallParty(30, 50, NDIS_STATUS_NOT_ACCEPTED),
                E::FreeParty(50)
            ],
            Via::AddParty => std::vec![E::CompleteAddParty(50, NDIS_STATUS_NOT_ACCEPTED), E::FreeParty(50)],
        };
        assert_eq!(effects(&fx), completion, "{via:?}");
        assert!(cm.vc_active(plan.leaf), "{via:?}: not deactivated under its handler");
        assert_eq!(
            effects(&cm.handlers_left(plan.leaf)),
            [E::DeactivateVc(31), E::DeleteVc(31)],
            "{via:?}"
        );
        assert_eq!(cm.vc_state(plan.leaf), None, "{via:?}");
    }
}

/// A multipoint make call whose leaf's activation failed while a handler
/// was inside the root (activated first): the root stays active until it
/// left, the make call pends, and the last one out deactivates the root and
/// fails the call.
#[test]
fn a_failed_leaf_activation_with_handlers_inside_the_root_waits_for_them() {
    let (mut cm, root) = setup();
    let plan = cm.party_begin(root, &addr("bob"), 50, 31, Via::MakeCall).unwrap();
    let fx = cm
        .party_activated_with_handlers(&plan, Some(true), false, ROOT)
        .unwrap_err();
    assert_eq!(effects(&fx), [E::DeleteVc(31)]);
    assert!(cm.offer_done(plan.sap).is_empty());
    assert!(cm.vc_active(root));
    assert_eq!(cm.party_end(plan.party), (NDIS_STATUS_PENDING, Effects::new()));
    assert_eq!(
        effects(&cm.handlers_left(root)),
        [
            E::DeactivateVc(30),
            E::CompleteMakeCallParty(30, 50, NDIS_STATUS_FAILURE),
            E::FreeParty(50)
        ]
    );
    assert!(!cm.vc_active(root));
}

/// The party state machine's arrows, and a few it refuses (accepting a
/// party twice, dropping one still being added, a hang-up of a party being
/// dropped) leaving the party as it was.
#[test]
fn the_party_state_machine_has_the_diagrams_arrows_and_refuses_others() {
    let adding = PartyState::Adding {
        via: Via::AddParty,
        phase: MakeCallPhase::InHandler,
    };
    assert_eq!(
        adding.on(PartyEvent::Pend),
        Ok(PartyState::Adding {
            via: Via::AddParty,
            phase: MakeCallPhase::Pended
        })
    );
    assert_eq!(adding.on(PartyEvent::Accept), Ok(PartyState::Connected));
    assert_eq!(adding.on(PartyEvent::HoldFailure), Ok(PartyState::Failed));
    assert_eq!(
        PartyState::Connected.on(PartyEvent::LeafHungUp),
        Ok(PartyState::LeafGone)
    );
    assert_eq!(PartyState::LeafGone.on(PartyEvent::Drop), Ok(PartyState::Dropping));
    for (from, event) in [
        (PartyState::Connected, PartyEvent::Accept),
        (adding, PartyEvent::Drop),
        (PartyState::Dropping, PartyEvent::LeafHungUp),
        (PartyState::Failed, PartyEvent::Pend),
    ] {
        assert_eq!(
            from.on(event),
            Err(InvalidTransition {
                from: Some(from),
                event
            }),
            "{from:?} --{event:?}-->"
        );
    }
    let (mut cm, _) = setup();
    let none = PartyId::from_raw(7);
    assert_eq!(cm.set_party_state(none, PartyEvent::Drop).unwrap_err().from, None);
}

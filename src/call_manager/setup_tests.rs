//! The set-up driver's rollback rules ([`CallManager::resume`]): a make
//! call, an echo call and a party driven step by step, with each step's
//! NDIS call failing in turn, and the exact effects the core emits for
//! each. These are the rules the handlers' hand-written rollbacks held
//! before the core drove the set-up. Handles as in `tests`: AFs 10
//! (caller's) and 11 (callee's), SAP 20 ("bob"), caller VC 30, callee or
//! leaf VC 31, party 40.

use super::tests::{Cm, addr, effects};
use super::*;
use Effect as E;
use ndis_sys::NDIS_STATUS_NOT_ACCEPTED;
use std::vec::Vec;

/// The glue's handshake, recorded: which contexts were marked (with the
/// handler's own count), which report handlers inside, which restored.
#[derive(Default)]
struct Rec {
    marked: Vec<(u32, u32)>,
    inside: Vec<u32>,
    restored: Vec<u32>,
}

impl Marks<u32> for Rec {
    fn begin_close(&mut self, vc: u32, own: u32) -> (bool, bool) {
        self.marked.push((vc, own));
        (false, self.inside.contains(&vc))
    }
    fn restore_closing(&mut self, vc: u32, _was: bool) {
        self.restored.push(vc);
    }
}

/// Two AFs, the SAP "bob" on 11, the client VC 30 on 10.
fn world() -> (Cm, VcId) {
    let mut cm = Cm::new();
    let a = cm.open_af(10).unwrap();
    let b = cm.open_af(11).unwrap();
    cm.register_sap(b, 20, addr("bob")).unwrap();
    let vc = cm.create_vc(a, 30).unwrap();
    (cm, vc)
}

/// A step's effects (the glue performs them and reports a status).
fn step(n: Next<u32>) -> Vec<Effect<u32>> {
    match n {
        Next::Step(fx) => effects(&fx),
        Next::Return(..) => panic!("a step was expected: {n:?}"),
    }
}

/// The handler's return: its status and the effects before it.
fn ret(n: Next<u32>) -> (NDIS_STATUS, Vec<Effect<u32>>) {
    match n {
        Next::Return(s, fx) => (s, effects(&fx)),
        Next::Step(..) => panic!("a return was expected: {n:?}"),
    }
}

const OK: NDIS_STATUS = NDIS_STATUS_SUCCESS;

/// The step a make call from 30 to "bob" begins with.
const CREATE_AND_ACTIVATE: [Effect<u32>; 3] = [E::CreateVc { vc: 31, af: 11 }, E::ActivateVc(30), E::ActivateVc(31)];

/// A make call from 30 to "bob", driven to its dispatch (every step
/// before it succeeds); the setup and the dispatch step.
fn to_dispatch(cm: &mut Cm, caller: VcId, marks: &mut Rec) -> (Setup<u32>, Vec<Effect<u32>>) {
    let b = cm.begin_call(caller, &addr("bob"), 31).unwrap();
    let mut s = b.setup;
    assert_eq!(step(b.next), CREATE_AND_ACTIVATE);
    let dispatch = step(cm.resume(&mut s, &[OK, OK, OK], marks));
    (s, dispatch)
}

#[test]
fn a_make_call_is_create_activate_both_then_offer_and_an_accept_inside_succeeds() {
    let (mut cm, caller) = world();
    let mut m = Rec::default();
    let (mut s, dispatch) = to_dispatch(&mut cm, caller, &mut m);
    assert_eq!(dispatch, [E::DispatchIncomingCall { sap: 20, vc: 31 }]);
    // The callee accepts inside the dispatch (ProtocolCmIncomingCallComplete).
    let callee = VcId::from_raw(1);
    let fx = cm.answer_offer(callee, 1, OK, &mut m).unwrap();
    assert_eq!(effects(&fx), [E::DispatchCallConnected(31)]);
    assert_eq!(ret(cm.resume(&mut s, &[NDIS_STATUS_PENDING], &mut m)), (OK, Vec::new()));
    assert!(m.marked.is_empty(), "no take-down, no handshake");
    assert!(matches!(cm.vc_state(caller), Some(VcState::Connected { .. })));
}

#[test]
fn a_failed_create_frees_the_callees_context_and_fails_with_its_status() {
    let (mut cm, caller) = world();
    let mut m = Rec::default();
    let b = cm.begin_call(caller, &addr("bob"), 31).unwrap();
    let mut s = b.setup;
    // The glue stops the step at the failed create: nothing is activated.
    let r = ret(cm.resume(&mut s, &[NDIS_STATUS_RESOURCES], &mut m));
    assert_eq!(r, (NDIS_STATUS_RESOURCES, std::vec![E::FreeVc(31)]));
    assert_eq!(cm.vc_state(caller), Some(VcState::Idle));
    assert_eq!(cm.live(), (2, 1, 1));
    // A create that pends (an MCM's never does) fails the call too.
    let b = cm.begin_call(caller, &addr("bob"), 31).unwrap();
    let mut s = b.setup;
    let r = ret(cm.resume(&mut s, &[NDIS_STATUS_PENDING], &mut m));
    assert_eq!(r, (NDIS_STATUS_FAILURE, std::vec![E::FreeVc(31)]));
}

#[test]
fn a_failed_caller_activation_still_activates_the_callee_then_deletes_it() {
    let (mut cm, caller) = world();
    let mut m = Rec::default();
    let b = cm.begin_call(caller, &addr("bob"), 31).unwrap();
    let mut s = b.setup;
    assert_eq!(step(b.next), CREATE_AND_ACTIVATE, "both activations in the step");
    let fx = step(cm.resume(&mut s, &[OK, NDIS_STATUS_FAILURE, OK], &mut m));
    assert_eq!(fx, [E::DeactivateVc(31), E::DeleteVc(31)]);
    assert_eq!(m.marked, [(30, 0), (31, 0)], "the handshake on both, caller first");
    // The caller never became active: nothing to deactivate.
    assert_eq!(ret(cm.resume(&mut s, &[], &mut m)), (NDIS_STATUS_FAILURE, Vec::new()));
    assert_eq!(cm.vc_state(caller), Some(VcState::Idle));
    assert_eq!(cm.live(), (2, 1, 1));
}

#[test]
fn a_failed_callee_activation_deletes_the_callee_and_deactivates_the_caller_last() {
    let (mut cm, caller) = world();
    let mut m = Rec::default();
    let b = cm.begin_call(caller, &addr("bob"), 31).unwrap();
    let mut s = b.setup;
    let fx = step(cm.resume(&mut s, &[OK, OK, NDIS_STATUS_FAILURE], &mut m));
    assert_eq!(fx, [E::DeleteVc(31)], "never active: deleted, not deactivated");
    assert_eq!(m.marked, [(30, 0), (31, 0)]);
    let r = ret(cm.resume(&mut s, &[], &mut m));
    assert_eq!(r, (NDIS_STATUS_FAILURE, std::vec![E::DeactivateVc(30)]));
    assert!(!cm.vc_active(caller));
}

#[test]
fn a_failed_activation_with_a_send_inside_the_caller_pends_until_it_leaves() {
    let (mut cm, caller) = world();
    let mut m = Rec {
        inside: std::vec![30],
        ..Rec::default()
    };
    let b = cm.begin_call(caller, &addr("bob"), 31).unwrap();
    let mut s = b.setup;
    let fx = step(cm.resume(&mut s, &[OK, OK, NDIS_STATUS_FAILURE], &mut m));
    assert_eq!(fx, [E::DeleteVc(31)]);
    assert_eq!(ret(cm.resume(&mut s, &[], &mut m)), (NDIS_STATUS_PENDING, Vec::new()));
    // The send leaves: the caller is deactivated, then the make call fails.
    let fx = cm.handlers_left(caller);
    assert_eq!(
        effects(&fx),
        [E::DeactivateVc(30), E::CompleteMakeCall(30, NDIS_STATUS_FAILURE)]
    );
}

#[test]
fn an_offer_ndis_refuses_is_the_callees_refusal_with_its_status() {
    let (mut cm, caller) = world();
    let mut m = Rec::default();
    let (mut s, _) = to_dispatch(&mut cm, caller, &mut m);
    let fx = step(cm.resume(&mut s, &[NDIS_STATUS_FAILURE], &mut m));
    assert_eq!(fx, [E::DeactivateVc(31), E::DeleteVc(31)]);
    assert_eq!(m.marked, [(30, 0), (31, 0)]);
    let r = ret(cm.resume(&mut s, &[], &mut m));
    assert_eq!(r, (NDIS_STATUS_FAILURE, std::vec![E::DeactivateVc(30)]));
    assert_eq!(cm.live(), (2, 1, 1));
}

#[test]
fn a_callee_rejecting_inside_the_offer_fails_the_make_call_with_its_status() {
    let (mut cm, caller) = world();
    let mut m = Rec::default();
    let (mut s, _) = to_dispatch(&mut cm, caller, &mut m);
    let callee = VcId::from_raw(1);
    let fx = cm.answer_offer(callee, 1, NDIS_STATUS_NOT_ACCEPTED, &mut m).unwrap();
    assert_eq!(effects(&fx), [E::DeactivateVc(31), E::DeleteVc(31)]);
    assert_eq!(m.marked, [(30, 0), (31, 1)], "the answering handler counts itself");
    let r = ret(cm.resume(&mut s, &[NDIS_STATUS_PENDING], &mut m));
    assert_eq!(r, (NDIS_STATUS_NOT_ACCEPTED, std::vec![E::DeactivateVc(30)]));
}

#[test]
fn a_callee_rejecting_after_the_handler_pended_completes_the_make_call() {
    // Both ends deactivated, the callee deleted, then the completion.
    let (mut cm, caller) = world();
    let mut m = Rec::default();
    let (mut s, _) = to_dispatch(&mut cm, caller, &mut m);
    assert_eq!(
        ret(cm.resume(&mut s, &[NDIS_STATUS_PENDING], &mut m)),
        (NDIS_STATUS_PENDING, Vec::new())
    );
    let callee = VcId::from_raw(1);
    let fx = cm.answer_offer(callee, 1, NDIS_STATUS_NOT_ACCEPTED, &mut m).unwrap();
    assert_eq!(
        effects(&fx),
        [
            E::DeactivateVc(31),
            E::DeactivateVc(30),
            E::DeleteVc(31),
            E::CompleteMakeCall(30, NDIS_STATUS_NOT_ACCEPTED)
        ]
    );
}

#[test]
fn a_refused_answer_restores_the_marks() {
    let (mut cm, caller) = world();
    let mut m = Rec::default();
    to_dispatch(&mut cm, caller, &mut m);
    // The caller's VC is no offer: the core refuses, the marks go back.
    assert_eq!(
        cm.answer_offer(caller, 0, NDIS_STATUS_NOT_ACCEPTED, &mut m),
        Err(Refusal::Invalid)
    );
    assert_eq!(m.marked, [(30, 0)]);
    assert_eq!(m.restored, [30]);
}

#[test]
fn an_echo_call_activates_the_caller_and_answers_with_the_activation() {
    let (mut cm, caller) = world();
    let mut m = Rec::default();
    let b = cm.begin_echo(caller, false).unwrap();
    let mut s = b.setup;
    assert_eq!(step(b.next), [E::ActivateVc(30)]);
    assert_eq!(ret(cm.resume(&mut s, &[OK], &mut m)), (OK, Vec::new()));
    assert_eq!(cm.vc_state(caller), Some(VcState::Echo));
    assert!(cm.vc_active(caller));
    let (mut cm, caller) = world();
    let b = cm.begin_echo(caller, false).unwrap();
    let mut s = b.setup;
    assert_eq!(
        ret(cm.resume(&mut s, &[NDIS_STATUS_FAILURE], &mut m)),
        (NDIS_STATUS_FAILURE, Vec::new())
    );
    assert_eq!(cm.vc_state(caller), Some(VcState::Idle));
    assert_eq!(cm.begin_echo(caller, true).err(), Some(Refusal::NotSupported));
}

#[test]
fn a_party_is_create_then_a_make_calls_root_then_the_leaf_then_offer() {
    let (mut cm, root) = world();
    let mut m = Rec::default();
    let b = cm.begin_party(root, &addr("bob"), 40, 31, Via::MakeCall).unwrap();
    let mut s = b.setup;
    assert_eq!(
        step(b.next),
        CREATE_AND_ACTIVATE,
        "the root is activated before the leaf"
    );
    assert_eq!(
        step(cm.resume(&mut s, &[OK, OK, OK], &mut m)),
        [E::DispatchIncomingCall { sap: 20, vc: 31 }]
    );
    let leaf = VcId::from_raw(1);
    let fx = cm.answer_offer(leaf, 1, OK, &mut m).unwrap();
    assert_eq!(effects(&fx), [E::DispatchCallConnected(31)]);
    assert_eq!(ret(cm.resume(&mut s, &[NDIS_STATUS_PENDING], &mut m)), (OK, Vec::new()));
    assert_eq!(cm.vc_state(root), Some(VcState::Root { phase: RootPhase::Up }));
}

#[test]
fn a_partys_failed_create_frees_the_leaf_and_the_party() {
    let (mut cm, root) = world();
    let mut m = Rec::default();
    let b = cm.begin_party(root, &addr("bob"), 40, 31, Via::MakeCall).unwrap();
    let mut s = b.setup;
    let r = ret(cm.resume(&mut s, &[NDIS_STATUS_RESOURCES], &mut m));
    assert_eq!(r, (NDIS_STATUS_RESOURCES, std::vec![E::FreeVc(31), E::FreeParty(40)]));
    assert_eq!(cm.vc_state(root), Some(VcState::Idle));
    assert_eq!(cm.live_parties(), 0);
}

#[test]
fn a_partys_failed_root_activation_takes_the_leaf_and_party_down() {
    let (mut cm, root) = world();
    let mut m = Rec::default();
    let b = cm.begin_party(root, &addr("bob"), 40, 31, Via::MakeCall).unwrap();
    let mut s = b.setup;
    let fx = step(cm.resume(&mut s, &[OK, NDIS_STATUS_FAILURE, OK], &mut m));
    assert_eq!(fx, [E::DeactivateVc(31), E::DeleteVc(31)]);
    assert_eq!(m.marked, [(30, 0), (31, 0)], "the root first, then the leaf");
    let r = ret(cm.resume(&mut s, &[], &mut m));
    assert_eq!(r, (NDIS_STATUS_FAILURE, std::vec![E::FreeParty(40)]));
    assert_eq!(cm.vc_state(root), Some(VcState::Idle));
    assert_eq!(cm.live_parties(), 0);
}

#[test]
fn an_added_partys_refused_offer_leaves_the_root_up() {
    let (mut cm, root) = world();
    let mut m = Rec::default();
    // An up root first.
    let b = cm.begin_party(root, &addr("bob"), 40, 31, Via::MakeCall).unwrap();
    let mut s = b.setup;
    step(cm.resume(&mut s, &[OK, OK, OK], &mut m));
    cm.answer_offer(VcId::from_raw(1), 1, OK, &mut m).unwrap();
    ret(cm.resume(&mut s, &[NDIS_STATUS_PENDING], &mut m));
    // Party 41, leaf 32: only the leaf is activated, and NDIS refuses the offer.
    let b = cm.begin_party(root, &addr("bob"), 41, 32, Via::AddParty).unwrap();
    let mut s = b.setup;
    assert_eq!(step(b.next), [E::CreateVc { vc: 32, af: 11 }, E::ActivateVc(32)]);
    step(cm.resume(&mut s, &[OK, OK], &mut m));
    m.marked.clear();
    let fx = step(cm.resume(&mut s, &[NDIS_STATUS_FAILURE], &mut m));
    assert_eq!(fx, [E::DeactivateVc(32), E::DeleteVc(32)]);
    assert_eq!(m.marked, [(32, 0)], "an added party's refusal leaves the root unmarked");
    let r = ret(cm.resume(&mut s, &[], &mut m));
    assert_eq!(r, (NDIS_STATUS_FAILURE, std::vec![E::FreeParty(41)]));
    assert_eq!(cm.vc_state(root), Some(VcState::Root { phase: RootPhase::Up }));
}

#[test]
fn a_step_the_glue_did_not_report_counts_as_failed() {
    let (mut cm, caller) = world();
    let mut m = Rec::default();
    let b = cm.begin_call(caller, &addr("bob"), 31).unwrap();
    let mut s = b.setup;
    // The create's status but not the activations': both taken as failed.
    let fx = step(cm.resume(&mut s, &[OK], &mut m));
    assert_eq!(fx, [E::DeleteVc(31)]);
    // A set-up that returned answers FAILURE to a stray resume, and
    // changes nothing.
    let r = ret(cm.resume(&mut s, &[], &mut m));
    assert_eq!(r.0, NDIS_STATUS_FAILURE);
    assert_eq!(ret(cm.resume(&mut s, &[OK], &mut m)), (NDIS_STATUS_FAILURE, Vec::new()));
    assert_eq!(cm.vc_state(caller), Some(VcState::Idle));
}

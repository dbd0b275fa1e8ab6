//! The call manager's ordering rules, without NDIS. Handles are small
//! integers: AFs 10.., SAPs 20.., VCs 30...

use super::*;
use Effect as E;
use std::vec::Vec;

/// The core with small-integer handles (shared with the party tests).
pub(super) type Cm = CallManager<u32>;

pub(super) fn addr(s: &str) -> Address {
    Address::new(s.as_bytes()).unwrap()
}

pub(super) fn effects(fx: &Effects<u32>) -> Vec<Effect<u32>> {
    assert!(!fx.overflowed(), "effects overflowed: {fx:?}");
    fx.iter().collect()
}

/// Two AFs (caller's 10, callee's 11), a SAP "bob" (20) on 11, a client VC (30) on 10.
fn two_clients() -> (Cm, AfId, AfId, SapId, VcId) {
    let mut cm = Cm::new();
    let a = cm.open_af(10).unwrap();
    let b = cm.open_af(11).unwrap();
    let sap = cm.register_sap(b, 20, addr("bob")).unwrap();
    let vc = cm.create_vc(a, 30).unwrap();
    (cm, a, b, sap, vc)
}

/// Runs a make call up to the dispatch: plan, created, activated.
fn offered(cm: &mut Cm, caller: VcId) -> MakeCallPlan<u32> {
    let plan = cm.make_call_begin(caller, &addr("bob"), 31).unwrap();
    cm.make_call_activated(caller, plan.callee, true, true).unwrap();
    plan
}

/// A connected call: caller 30 (client VC), callee 31 (MCM VC).
fn connected() -> (Cm, AfId, AfId, SapId, VcId, VcId) {
    let (mut cm, a, b, sap, vc) = two_clients();
    let plan = offered(&mut cm, vc);
    cm.incoming_call_complete(plan.callee, NDIS_STATUS_SUCCESS).unwrap();
    assert!(cm.offer_done(plan.sap).is_empty());
    assert_eq!(cm.make_call_end(vc).0, NDIS_STATUS_SUCCESS);
    (cm, a, b, sap, vc, plan.callee)
}

// --- Address families ------------------------------------------------------------

#[test]
fn an_empty_af_closes_at_once_and_frees_its_context() {
    let mut cm = Cm::new();
    let a = cm.open_af(10).unwrap();
    let f = cm.close_af(a).unwrap();
    let Finish::Return(s, fx) = f else { panic!("{f:?}") };
    assert_eq!(s, NDIS_STATUS_SUCCESS);
    assert_eq!(effects(&fx), [E::FreeAf(10)]);
    assert_eq!(cm.live(), (0, 0, 0));
}

#[test]
fn an_af_with_a_sap_pends_its_close_until_the_sap_goes() {
    let mut cm = Cm::new();
    let a = cm.open_af(10).unwrap();
    let sap = cm.register_sap(a, 20, addr("x")).unwrap();
    assert_eq!(cm.close_af(a), Ok(Finish::Pend(Effects::new())));
    assert_eq!(cm.af_state(a), Some(AfState::ClosePending));
    let Finish::Return(s, fx) = cm.deregister_sap(sap).unwrap() else {
        panic!()
    };
    assert_eq!(s, NDIS_STATUS_SUCCESS);
    assert_eq!(effects(&fx), [E::FreeSap(20), E::CompleteCloseAf(10), E::FreeAf(10)]);
}

#[test]
fn nothing_new_is_accepted_on_a_closing_af() {
    let mut cm = Cm::new();
    let a = cm.open_af(10).unwrap();
    cm.create_vc(a, 30).unwrap();
    assert!(matches!(cm.close_af(a), Ok(Finish::Pend(_))));
    assert_eq!(cm.register_sap(a, 20, addr("x")), Err(Refusal::AfClosing));
    assert_eq!(cm.create_vc(a, 31), Err(Refusal::AfClosing));
    assert_eq!(cm.close_af(a), Err(Refusal::Invalid), "a second close is refused");
}

/// The AFs a halt plan notifies, by context.
fn notified(plan: &HaltPlan<u32>) -> Vec<u32> {
    plan.notify.iter().flatten().map(|(_, h)| *h).collect()
}

#[test]
fn a_notified_af_keeps_its_context_until_the_notification_completes() {
    let mut cm = Cm::new();
    let a = cm.open_af(10).unwrap();
    let b = cm.open_af(11).unwrap();
    let plan = cm.begin_halt();
    assert_eq!(notified(&plan), [10, 11]);
    assert_eq!(plan.holds, 2);
    let again = cm.begin_halt();
    assert!(again.notify.iter().all(Option::is_none), "each AF is notified once");
    assert_eq!(again.holds, 0);
    // Both notifications returned PENDING; the clients close later.
    assert!(cm.notify_returned(a).is_empty() && cm.notify_returned(b).is_empty());
    let Finish::Return(_, fx) = cm.close_af(a).unwrap() else {
        panic!()
    };
    assert!(fx.is_empty(), "ProtocolCmNotifyCloseAfComplete still needs the context");
    assert_eq!(
        effects(&cm.notify_close_done(a, false).unwrap()),
        [E::FreeAf(10), E::HaltAfDone]
    );
    // Notification completing before the client closed (a client bug): the
    // AF stays, but halt no longer waits for it (its leak check reports it).
    assert_eq!(effects(&cm.notify_close_done(b, false).unwrap()), [E::HaltAfDone]);
    assert_eq!(cm.af_state(b), Some(AfState::Open));
    assert_eq!(cm.af_halt_hold(b), Some(HaltHold::None));
    assert_eq!(
        cm.notify_close_done(b, false),
        Err(Refusal::Invalid),
        "not notified any more"
    );
}

#[test]
fn halt_waits_for_an_af_whose_close_pended_and_not_for_one_already_closed() {
    let mut cm = Cm::new();
    let a = cm.open_af(10).unwrap();
    let sap = cm.register_sap(a, 20, addr("x")).unwrap();
    assert!(matches!(cm.close_af(a), Ok(Finish::Pend(_))));
    // An AF whose close already completed is gone: nothing to wait for.
    let gone = cm.open_af(11).unwrap();
    assert!(matches!(cm.close_af(gone), Ok(Finish::Return(NDIS_STATUS_SUCCESS, _))));
    let plan = cm.begin_halt();
    assert!(
        plan.notify.iter().all(Option::is_none),
        "NDIS refuses to notify a closing AF"
    );
    assert_eq!(plan.holds, 1, "the closing AF is waited for");
    assert_eq!(cm.af_halt_hold(a), Some(HaltHold::Closing));
    let Finish::Return(_, fx) = cm.deregister_sap(sap).unwrap() else {
        panic!()
    };
    assert_eq!(
        effects(&fx),
        [E::FreeSap(20), E::CompleteCloseAf(10), E::FreeAf(10), E::HaltAfDone],
        "released once its close completed and its context is gone"
    );
    assert_eq!(cm.live(), (0, 0, 0));
}

#[test]
fn a_pended_close_outside_halt_releases_nothing() {
    let mut cm = Cm::new();
    let a = cm.open_af(10).unwrap();
    let vc = cm.create_vc(a, 30).unwrap();
    assert!(matches!(cm.close_af(a), Ok(Finish::Pend(_))));
    assert_eq!(
        effects(&cm.delete_vc(vc).unwrap()),
        [E::FreeVc(30), E::CompleteCloseAf(10), E::FreeAf(10)]
    );
}

#[test]
fn a_notified_af_whose_close_pends_is_held_until_the_close_completes() {
    let mut cm = Cm::new();
    let a = cm.open_af(10).unwrap();
    let vc = cm.create_vc(a, 30).unwrap();
    assert_eq!(cm.begin_halt().holds, 1);
    // The client closes inside its ProtocolClNotifyCloseAf; the close pends
    // (for the VC, and until the notification call returns).
    assert!(matches!(cm.close_af(a), Ok(Finish::Pend(_))));
    assert!(cm.notify_returned(a).is_empty(), "the VC is still there");
    // A client that completes its notification before its close completed:
    // the hold passes to the close.
    assert!(cm.notify_close_done(a, false).unwrap().is_empty());
    assert_eq!(cm.af_halt_hold(a), Some(HaltHold::Closing));
    assert_eq!(
        effects(&cm.delete_vc(vc).unwrap()),
        [E::FreeVc(30), E::CompleteCloseAf(10), E::FreeAf(10), E::HaltAfDone]
    );
}

#[test]
fn a_notified_af_whose_close_completes_first_is_released_by_the_notification() {
    let mut cm = Cm::new();
    let a = cm.open_af(10).unwrap();
    let vc = cm.create_vc(a, 30).unwrap();
    cm.begin_halt();
    assert!(cm.notify_returned(a).is_empty());
    assert!(matches!(cm.close_af(a), Ok(Finish::Pend(_))));
    assert_eq!(
        effects(&cm.delete_vc(vc).unwrap()),
        [E::FreeVc(30), E::CompleteCloseAf(10)],
        "the context stays for ProtocolCmNotifyCloseAfComplete"
    );
    assert_eq!(
        effects(&cm.notify_close_done(a, false).unwrap()),
        [E::FreeAf(10), E::HaltAfDone]
    );
}

#[test]
fn a_refused_notification_hands_the_hold_to_the_close_under_way() {
    // NDIS refuses NdisMCmNotifyCloseAddressFamily for an AF its client is
    // closing (contract §1.4). The close may have reached covmini already
    // (pended or done), or may still be on its way.
    let mut cm = Cm::new();
    let pended = cm.open_af(10).unwrap();
    let sap = cm.register_sap(pended, 20, addr("x")).unwrap();
    let done = cm.open_af(11).unwrap();
    let coming = cm.open_af(12).unwrap();
    assert_eq!(cm.begin_halt().holds, 3);
    assert!(matches!(cm.close_af(pended), Ok(Finish::Pend(_))));
    // A close that reaches covmini before halt's notification call: it
    // pends until the call has returned, so that NDIS still holds the
    // handle the call names (completed now, NDIS would free it first).
    assert!(matches!(cm.close_af(done), Ok(Finish::Pend(_))));

    assert!(cm.notify_returned(pended).is_empty(), "the SAP is still there");
    assert!(cm.notify_close_done(pended, true).unwrap().is_empty());
    assert_eq!(cm.af_halt_hold(pended), Some(HaltHold::Closing));
    assert_eq!(effects(&cm.notify_returned(done)), [E::CompleteCloseAf(11)]);
    assert_eq!(
        effects(&cm.notify_close_done(done, true).unwrap()),
        [E::FreeAf(11), E::HaltAfDone]
    );
    assert!(cm.notify_returned(coming).is_empty());
    assert!(cm.notify_close_done(coming, true).unwrap().is_empty());
    assert_eq!(cm.af_halt_hold(coming), Some(HaltHold::Closing));

    let Finish::Return(_, fx) = cm.deregister_sap(sap).unwrap() else {
        panic!()
    };
    assert_eq!(
        effects(&fx),
        [E::FreeSap(20), E::CompleteCloseAf(10), E::FreeAf(10), E::HaltAfDone]
    );
    let Finish::Return(s, fx) = cm.close_af(coming).unwrap() else {
        panic!()
    };
    assert_eq!(s, NDIS_STATUS_SUCCESS);
    assert_eq!(effects(&fx), [E::FreeAf(12), E::HaltAfDone]);
    assert_eq!(cm.live(), (0, 0, 0));
}

#[test]
fn a_closing_af_at_either_end_of_a_call_is_released_when_its_call_is_gone() {
    // The callee's AF closing with the MCM VC and the SAP left: the caller
    // hangs up, the callee closes its end (the MCM VC is deleted), and the
    // deregistration completes the AF's close.
    let (mut cm, _a, b, sap, vc, callee) = connected();
    assert!(matches!(cm.close_af(b), Ok(Finish::Pend(_))));
    let plan = cm.begin_halt();
    assert_eq!((notified(&plan), plan.holds), (std::vec![10], 2));
    let (Finish::Return(_, fx) | Finish::Pend(fx)) = cm.close_call(vc).unwrap();
    assert!(effects(&fx).contains(&E::DispatchIncomingClose(31)));
    assert!(cm.unpin(callee, 1).is_empty(), "the incoming close was made");
    let (Finish::Return(_, fx) | Finish::Pend(fx)) = cm.close_call(callee).unwrap();
    assert!(!effects(&fx).contains(&E::HaltAfDone), "the SAP is still there: {fx:?}");
    assert_eq!(cm.live(), (2, 1, 1), "the caller's idle VC, the SAP, both AFs");
    let Finish::Return(_, fx) = cm.deregister_sap(sap).unwrap() else {
        panic!()
    };
    assert_eq!(
        effects(&fx),
        [E::FreeSap(20), E::CompleteCloseAf(11), E::FreeAf(11), E::HaltAfDone]
    );
}

#[test]
fn the_af_table_has_a_limit_and_says_so() {
    let mut cm = Cm::new();
    for i in 0..MAX_AFS {
        cm.open_af(i as u32).unwrap();
    }
    assert_eq!(cm.open_af(99), Err(Refusal::Resources));
    assert_eq!(Refusal::Resources.status(), NDIS_STATUS_RESOURCES);
}

// --- SAPs -------------------------------------------------------------------------

#[test]
fn a_sap_address_is_unique_on_the_adapter_across_afs() {
    let mut cm = Cm::new();
    let a = cm.open_af(10).unwrap();
    let b = cm.open_af(11).unwrap();
    cm.register_sap(a, 20, addr("bob")).unwrap();
    assert_eq!(cm.register_sap(b, 21, addr("bob")), Err(Refusal::DuplicateSap));
    assert_eq!(Refusal::DuplicateSap.status(), ndis_sys::NDIS_STATUS_INVALID_DATA);
    cm.register_sap(b, 21, addr("bobby")).unwrap();
}

#[test]
fn deregistering_a_sap_with_an_offer_in_flight_pends_until_the_offer_returns() {
    let (mut cm, _, _, sap, vc) = two_clients();
    let plan = offered(&mut cm, vc);
    assert_eq!(cm.deregister_sap(sap), Ok(Finish::Pend(Effects::new())));
    // The pended SAP is not offered calls any more.
    let other = cm.create_vc(AfId::from_raw(0), 40).unwrap();
    assert_eq!(cm.make_call_begin(other, &addr("bob"), 41), Err(Refusal::NoRoute));
    let fx = cm.offer_done(plan.sap);
    assert_eq!(effects(&fx), [E::CompleteDeregisterSap(20), E::FreeSap(20)]);
}

// --- Make call --------------------------------------------------------------------

#[test]
fn no_sap_with_the_called_address_is_no_route_and_nothing_changes() {
    let (mut cm, _, _, _, vc) = two_clients();
    assert_eq!(cm.make_call_begin(vc, &addr("carol"), 31), Err(Refusal::NoRoute));
    assert_eq!(Refusal::NoRoute.status(), NDIS_STATUS_NO_ROUTE_TO_DESTINATION);
    assert_eq!(cm.vc_state(vc), Some(VcState::Idle));
    assert!(!cm.vc_active(vc));
    assert_eq!(cm.live(), (2, 1, 1));
}

#[test]
fn a_synchronous_accept_is_returned_by_the_make_call_handler() {
    let (mut cm, _, _, sap, vc) = two_clients();
    let plan = offered(&mut cm, vc);
    assert_eq!(cm.vc_state(plan.callee), Some(VcState::Offered { caller: vc }));
    assert!(cm.vc_active(vc) && cm.vc_active(plan.callee));
    // Inside NdisMCmDispatchIncomingCall:
    let fx = cm.incoming_call_complete(plan.callee, NDIS_STATUS_SUCCESS).unwrap();
    assert_eq!(
        effects(&fx),
        [E::DispatchCallConnected(31)],
        "no MakeCallComplete: the handler returns it"
    );
    assert!(cm.offer_done(sap).is_empty());
    assert_eq!(cm.make_call_end(vc).0, NDIS_STATUS_SUCCESS);
    assert_eq!(
        cm.vc_state(vc),
        Some(VcState::Connected {
            peer: Some(plan.callee)
        })
    );
    assert_eq!(cm.vc_state(plan.callee), Some(VcState::Connected { peer: Some(vc) }));
}

#[test]
fn a_pended_answer_pends_the_make_call_and_the_accept_completes_it() {
    let (mut cm, _, _, sap, vc) = two_clients();
    let plan = offered(&mut cm, vc);
    assert!(cm.offer_done(sap).is_empty());
    assert_eq!(cm.make_call_end(vc).0, NDIS_STATUS_PENDING);
    let fx = cm.incoming_call_complete(plan.callee, NDIS_STATUS_SUCCESS).unwrap();
    assert_eq!(
        effects(&fx),
        [
            E::DispatchCallConnected(31),
            E::CompleteMakeCall(30, NDIS_STATUS_SUCCESS)
        ]
    );
}

/// A pended make call's successful completion runs after the lock is
/// dropped: until the glue made it, the caller is pinned, so a close of
/// the caller crossing it (NdisClCloseCall may cross a make call still
/// outstanding) pends, and finishes (deactivate, complete) only after it;
/// no new call can begin on the VC before.
#[test]
fn a_pended_accepts_completion_holds_the_callers_close_until_it_is_made() {
    let (mut cm, _, _, sap, vc) = two_clients();
    let plan = offered(&mut cm, vc);
    cm.offer_done(sap);
    assert_eq!(cm.make_call_end(vc).0, NDIS_STATUS_PENDING);
    cm.incoming_call_complete(plan.callee, NDIS_STATUS_SUCCESS).unwrap();
    assert_eq!(cm.busy(vc), 1, "pinned for the completion");
    let Ok(Finish::Pend(fx)) = cm.close_call(vc) else {
        panic!("the close waits for the completion")
    };
    assert_eq!(effects(&fx), [E::DispatchIncomingClose(31)]);
    assert_eq!(cm.vc_state(vc), Some(VcState::Closing));
    assert_eq!(
        cm.make_call_begin(vc, &addr("bob"), 32).err(),
        Some(Refusal::CallActive)
    );
    assert_eq!(
        effects(&cm.make_call_completed(vc)),
        [E::DeactivateVc(30), E::CompleteCloseCall(30)]
    );
    assert_eq!((cm.busy(vc), cm.vc_state(vc)), (0, Some(VcState::Idle)));
    // A completion no close crossed just drops the pin.
    let (mut cm, _, _, sap, vc) = two_clients();
    let plan = offered(&mut cm, vc);
    cm.offer_done(sap);
    cm.make_call_end(vc);
    cm.incoming_call_complete(plan.callee, NDIS_STATUS_SUCCESS).unwrap();
    assert!(cm.make_call_completed(vc).is_empty());
    assert_eq!(cm.busy(vc), 0);
}

#[test]
fn a_synchronous_reject_deactivates_both_deletes_the_callee_and_fails_the_call() {
    let (mut cm, _, _, sap, vc) = two_clients();
    let plan = offered(&mut cm, vc);
    let fx = cm
        .incoming_call_complete(plan.callee, ndis_sys::NDIS_STATUS_NOT_ACCEPTED)
        .unwrap();
    assert_eq!(effects(&fx), [E::DeactivateVc(31), E::DeleteVc(31)]);
    assert!(cm.vc_active(vc), "left to the make call handler");
    assert!(cm.offer_done(sap).is_empty());
    let (status, fx) = cm.make_call_end(vc);
    assert_eq!(status, ndis_sys::NDIS_STATUS_NOT_ACCEPTED);
    assert_eq!(effects(&fx), [E::DeactivateVc(30)], "deactivated before it returns");
    assert_eq!(cm.vc_state(vc), Some(VcState::Idle));
    assert!(!cm.vc_active(vc));
    assert_eq!(cm.live(), (2, 1, 1), "the callee VC is gone");
}

#[test]
fn a_pended_reject_completes_the_make_call_after_deactivating_the_caller() {
    let (mut cm, _, _, sap, vc) = two_clients();
    let plan = offered(&mut cm, vc);
    cm.offer_done(sap);
    assert_eq!(cm.make_call_end(vc).0, NDIS_STATUS_PENDING);
    let fx = cm.incoming_call_complete(plan.callee, NDIS_STATUS_FAILURE).unwrap();
    assert_eq!(
        effects(&fx),
        [
            E::DeactivateVc(31),
            E::DeactivateVc(30),
            E::DeleteVc(31),
            E::CompleteMakeCall(30, NDIS_STATUS_FAILURE)
        ]
    );
}

/// Handlers inside the caller's VC only.
const CALLER: Handlers = Handlers {
    caller: true,
    callee: false,
};

/// A rejection while a handler is inside the callee's VC (a send on it,
/// refused by the route): the caller's VC is deactivated and its make call
/// fails at once, the callee's stays active (not deleted, its context not
/// freed) until the handlers left, and is then deactivated and deleted.
#[test]
fn a_reject_with_handlers_inside_the_callee_deletes_it_after_them() {
    let (mut cm, _, _, sap, vc) = two_clients();
    let plan = offered(&mut cm, vc);
    cm.offer_done(sap);
    assert_eq!(cm.make_call_end(vc).0, NDIS_STATUS_PENDING);
    let inside = Handlers {
        caller: false,
        callee: true,
    };
    let fx = cm
        .incoming_call_complete_with_handlers(plan.callee, NDIS_STATUS_FAILURE, inside)
        .unwrap();
    assert_eq!(
        effects(&fx),
        [E::DeactivateVc(30), E::CompleteMakeCall(30, NDIS_STATUS_FAILURE)]
    );
    assert!(cm.vc_active(plan.callee));
    assert_eq!(cm.live(), (2, 1, 2), "the callee VC is still there");
    assert_eq!(cm.offer_caller(plan.callee), None);
    assert_eq!(cm.close_call(plan.callee), Err(Refusal::Invalid));
    assert_eq!(
        effects(&cm.handlers_left(plan.callee)),
        [E::DeactivateVc(31), E::DeleteVc(31)]
    );
    assert_eq!(cm.live(), (2, 1, 1), "the callee VC is gone");
}

/// A pended make call rejected while a handler is inside the caller's VC
/// (a send the route refused): the callee's VC goes at once, the caller's
/// stays active and calling (refused) until the handlers left, and only then
/// is it deactivated and the make call failed. Nothing else changes it
/// meanwhile: no route, no close, no second make call.
#[test]
fn a_reject_with_handlers_inside_the_caller_waits_for_them_before_deactivating() {
    let (mut cm, _, _, sap, vc) = two_clients();
    let plan = offered(&mut cm, vc);
    cm.offer_done(sap);
    assert_eq!(cm.make_call_end(vc).0, NDIS_STATUS_PENDING);
    assert_eq!(cm.offer_caller(plan.callee), Some((vc, 30)));
    let fx = cm
        .incoming_call_complete_with_handlers(plan.callee, ndis_sys::NDIS_STATUS_NOT_ACCEPTED, CALLER)
        .unwrap();
    assert_eq!(effects(&fx), [E::DeactivateVc(31), E::DeleteVc(31)]);
    assert!(
        cm.vc_active(vc),
        "the caller's VC is not deactivated under its handlers"
    );
    assert!(cm.waits_for_handlers(vc));
    assert_eq!(cm.route(vc, 1, 1), Err(Refusal::Invalid));
    assert_eq!(cm.close_call(vc), Err(Refusal::Invalid));
    assert_eq!(cm.make_call_begin(vc, &addr("bob"), 32), Err(Refusal::CallActive));
    let fx = cm.handlers_left(vc);
    assert_eq!(
        effects(&fx),
        [
            E::DeactivateVc(30),
            E::CompleteMakeCall(30, ndis_sys::NDIS_STATUS_NOT_ACCEPTED)
        ]
    );
    assert_eq!(cm.vc_state(vc), Some(VcState::Idle));
    assert!(!cm.vc_active(vc));
    assert!(!cm.waits_for_handlers(vc));
    assert_eq!(cm.live(), (2, 1, 1), "the callee VC is gone");
}

/// The same while ProtocolCmMakeCall still runs (the callee answered inside
/// the dispatch): if the handlers leave before the make call returns, the
/// make call handler gets the failure and deactivates the VC itself before
/// returning it (the last handler out, on another CPU, deactivating it
/// after the lock is dropped could come after that return); if after, the
/// make call pends and the last handler out completes it after
/// deactivating the VC.
#[test]
fn a_reject_with_handlers_inside_during_the_make_call_is_completed_after_the_deactivation() {
    let (mut cm, _, _, sap, vc) = two_clients();
    let plan = offered(&mut cm, vc);
    cm.incoming_call_complete_with_handlers(plan.callee, NDIS_STATUS_FAILURE, CALLER)
        .unwrap();
    assert!(effects(&cm.handlers_left(vc)).is_empty(), "left to the handler");
    assert!(cm.vc_active(vc));
    cm.offer_done(sap);
    let (status, fx) = cm.make_call_end(vc);
    assert_eq!(
        (status, effects(&fx)),
        (NDIS_STATUS_FAILURE, std::vec![E::DeactivateVc(30)]),
        "left first: the handler deactivates, then fails"
    );
    assert_eq!(cm.vc_state(vc), Some(VcState::Idle));

    let plan = offered(&mut cm, vc);
    cm.incoming_call_complete_with_handlers(plan.callee, NDIS_STATUS_FAILURE, CALLER)
        .unwrap();
    cm.offer_done(sap);
    assert_eq!(cm.make_call_end(vc).0, NDIS_STATUS_PENDING, "still inside: pended");
    assert_eq!(
        effects(&cm.handlers_left(vc)),
        [E::DeactivateVc(30), E::CompleteMakeCall(30, NDIS_STATUS_FAILURE)]
    );
    assert_eq!(cm.vc_state(vc), Some(VcState::Idle));
}

/// Only an offer answered by nobody yet names a caller.
#[test]
fn only_an_unanswered_offer_names_its_caller() {
    let (mut cm, _, _, _, vc) = two_clients();
    let plan = offered(&mut cm, vc);
    assert_eq!(cm.offer_caller(vc), None, "the caller is no offer");
    cm.incoming_call_complete(plan.callee, NDIS_STATUS_SUCCESS).unwrap();
    assert_eq!(cm.offer_caller(plan.callee), None, "answered");
}

#[test]
fn a_refused_dispatch_is_a_reject_with_the_dispatch_status() {
    let (mut cm, _, _, sap, vc) = two_clients();
    let plan = offered(&mut cm, vc);
    // NdisMCmDispatchIncomingCall returned FAILURE: no completion will come.
    let fx = cm.incoming_call_complete(plan.callee, NDIS_STATUS_FAILURE).unwrap();
    assert_eq!(effects(&fx), [E::DeactivateVc(31), E::DeleteVc(31)]);
    cm.offer_done(sap);
    let (status, fx) = cm.make_call_end(vc);
    assert_eq!(
        (status, effects(&fx)),
        (NDIS_STATUS_FAILURE, std::vec![E::DeactivateVc(30)])
    );
}

#[test]
fn an_answer_pending_is_never_passed_on() {
    let (mut cm, _, _, _, vc) = two_clients();
    let plan = offered(&mut cm, vc);
    cm.incoming_call_complete(plan.callee, NDIS_STATUS_PENDING).unwrap();
    assert_eq!(cm.make_call_end(vc).0, NDIS_STATUS_FAILURE);
}

#[test]
fn a_failed_create_leaves_the_caller_idle_and_inactive() {
    let (mut cm, _, _, _, vc) = two_clients();
    let plan = cm.make_call_begin(vc, &addr("bob"), 31).unwrap();
    let fx = cm.make_call_create_failed(vc, &plan);
    assert_eq!(effects(&fx), [E::FreeVc(31)]);
    assert_eq!(cm.vc_state(vc), Some(VcState::Idle));
    assert_eq!(cm.live(), (2, 1, 1));
}

#[test]
fn a_failed_activation_takes_down_what_was_activated() {
    let (mut cm, _, _, _, vc) = two_clients();
    let plan = cm.make_call_begin(vc, &addr("bob"), 31).unwrap();
    let fx = cm.make_call_activated(vc, plan.callee, true, false).unwrap_err();
    assert_eq!(effects(&fx), [E::DeleteVc(31)]);
    // The call is gone, the caller still active: awaiting its deactivation.
    assert_eq!(cm.vc_state(vc), Some(VcState::Abandoned));
    assert!(cm.vc_active(vc));
    // The handler deactivates the caller itself before it fails.
    let (status, fx) = cm.make_call_end(vc);
    assert_eq!(status, NDIS_STATUS_FAILURE);
    assert_eq!(effects(&fx), [E::DeactivateVc(30)]);
    assert_eq!(cm.vc_state(vc), Some(VcState::Idle));
    assert!(!cm.vc_active(vc));
}

#[test]
fn a_vc_with_a_call_cannot_make_another() {
    let (mut cm, _, _, _, vc, _) = connected();
    assert_eq!(cm.make_call_begin(vc, &addr("bob"), 32), Err(Refusal::CallActive));
}

// --- Close ------------------------------------------------------------------------

#[test]
fn the_caller_closing_deactivates_tells_the_callee_and_succeeds_at_once() {
    let (mut cm, _, _, _, vc, callee) = connected();
    let Finish::Return(s, fx) = cm.close_call(vc).unwrap() else {
        panic!()
    };
    assert_eq!(s, NDIS_STATUS_SUCCESS);
    assert_eq!(effects(&fx), [E::DeactivateVc(30), E::DispatchIncomingClose(31)]);
    assert_eq!(cm.vc_state(vc), Some(VcState::Idle));
    assert_eq!(cm.vc_state(callee), Some(VcState::Connected { peer: None }));
    // The callee is pinned until the glue has dispatched the incoming close.
    assert_eq!(cm.busy(callee), 1);
    assert!(cm.unpin(callee, 1).is_empty());
    // The callee's client answers with its own close: complete, then delete.
    let Finish::Pend(fx) = cm.close_call(callee).unwrap() else {
        panic!()
    };
    assert_eq!(
        effects(&fx),
        [E::DeactivateVc(31), E::CompleteCloseCall(31), E::DeleteVc(31)]
    );
    assert_eq!(cm.live(), (2, 1, 1));
}

#[test]
fn the_callee_closing_is_completed_then_deleted_and_the_caller_is_told() {
    let (mut cm, _, _, _, vc, callee) = connected();
    let Finish::Pend(fx) = cm.close_call(callee).unwrap() else {
        panic!()
    };
    assert_eq!(
        effects(&fx),
        [
            E::DeactivateVc(31),
            E::DispatchIncomingClose(30),
            E::CompleteCloseCall(31),
            E::DeleteVc(31)
        ]
    );
    assert!(cm.unpin(vc, 1).is_empty());
    let Finish::Return(_, fx) = cm.close_call(vc).unwrap() else {
        panic!()
    };
    assert_eq!(effects(&fx), [E::DeactivateVc(30)]);
    assert_eq!(effects(&cm.delete_vc(vc).unwrap()), [E::FreeVc(30)]);
    assert_eq!(cm.live(), (2, 1, 0));
}

#[test]
fn a_closed_client_vc_can_call_again() {
    let (mut cm, _, _, _, vc, callee) = connected();
    cm.close_call(vc).unwrap();
    cm.unpin(callee, 1);
    cm.close_call(callee).unwrap();
    let plan = offered(&mut cm, vc);
    assert!(cm.incoming_call_complete(plan.callee, NDIS_STATUS_SUCCESS).is_ok());
}

#[test]
fn closing_an_idle_vc_is_refused() {
    let (mut cm, _, _, _, vc) = two_clients();
    assert_eq!(cm.close_call(vc), Err(Refusal::Invalid));
}

#[test]
fn the_last_vc_going_completes_a_pended_af_close() {
    let (mut cm, a, b, sap, vc, callee) = connected();
    assert!(matches!(cm.close_af(b), Ok(Finish::Pend(_))));
    let Finish::Return(..) = cm.deregister_sap(sap).unwrap() else {
        panic!()
    };
    let Finish::Pend(fx) = cm.close_call(callee).unwrap() else {
        panic!()
    };
    assert_eq!(
        effects(&fx),
        [
            E::DeactivateVc(31),
            E::DispatchIncomingClose(30),
            E::CompleteCloseCall(31),
            E::DeleteVc(31),
            E::CompleteCloseAf(11),
            E::FreeAf(11)
        ]
    );
    assert!(cm.unpin(vc, 1).is_empty());
    cm.close_call(vc).unwrap();
    cm.delete_vc(vc).unwrap();
    assert!(matches!(cm.close_af(a), Ok(Finish::Return(NDIS_STATUS_SUCCESS, _))));
    assert_eq!(cm.live(), (0, 0, 0));
}

#[test]
fn contexts_are_checked_against_their_ids() {
    let (cm, a, _, sap, vc) = two_clients();
    assert!(cm.af_is(a, 10) && !cm.af_is(a, 11));
    assert!(cm.sap_is(sap, 20) && !cm.sap_is(SapId::from_raw(9), 20));
    assert!(cm.vc_is(vc, 30) && !cm.vc_is(VcId::from_raw(999), 30));
}

// --- Data path and echo -------------------------------------------------------------

#[test]
fn a_send_routes_to_the_peer_and_pins_both_ends() {
    let (mut cm, _, _, _, vc, callee) = connected();
    let r = cm.route(vc, 2, 3).unwrap();
    assert_eq!(r.targets().collect::<Vec<_>>(), [(callee, 31)]);
    assert_eq!((cm.busy(vc), cm.busy(callee)), (2, 3));
    assert_eq!(cm.route(callee, 1, 1).unwrap().targets().next(), Some((vc, 30)));
}

#[test]
fn an_idle_or_closing_vc_does_not_send() {
    let (mut cm, _, _, _, vc) = two_clients();
    assert_eq!(cm.route(vc, 1, 1), Err(Refusal::Invalid));
    let (mut cm, _, _, _, vc, callee) = connected();
    cm.route(vc, 1, 1).unwrap();
    assert!(matches!(cm.close_call(vc), Ok(Finish::Pend(_))));
    assert_eq!(cm.vc_state(vc), Some(VcState::Closing));
    assert_eq!(cm.route(vc, 1, 1), Err(Refusal::Invalid));
    // The peer was told (and unlinked): it cannot send either.
    assert_eq!(cm.route(callee, 1, 1), Err(Refusal::Invalid));
}

#[test]
fn a_close_waits_for_the_drain_and_the_last_unpin_finishes_it() {
    let (mut cm, _, _, _, vc, callee) = connected();
    cm.route(vc, 1, 1).unwrap();
    let Finish::Pend(fx) = cm.close_call(vc).unwrap() else {
        panic!()
    };
    // Nothing is deactivated while the send is held.
    assert_eq!(effects(&fx), [E::DispatchIncomingClose(31)]);
    // The receive comes back (the callee's pin), then the incoming close
    // was dispatched, then the send completes: that finishes the close.
    assert!(cm.unpin(callee, 1).is_empty());
    assert!(cm.unpin(callee, 1).is_empty());
    assert_eq!(
        effects(&cm.unpin(vc, 1)),
        [E::DeactivateVc(30), E::CompleteCloseCall(30)]
    );
    assert_eq!(cm.vc_state(vc), Some(VcState::Idle));
    assert!(!cm.vc_active(vc));
}

#[test]
fn a_callee_close_with_a_receive_out_completes_and_deletes_on_its_return() {
    let (mut cm, _, _, _, vc, callee) = connected();
    cm.route(vc, 1, 1).unwrap();
    assert!(matches!(cm.close_call(callee), Ok(Finish::Pend(_))));
    assert!(cm.unpin(vc, 1).is_empty()); // incoming close dispatched
    assert!(cm.unpin(vc, 1).is_empty()); // the send completed
    assert_eq!(
        effects(&cm.unpin(callee, 1)),
        [E::DeactivateVc(31), E::CompleteCloseCall(31), E::DeleteVc(31)]
    );
}

#[test]
fn a_close_with_handlers_inside_pends_and_the_last_one_out_finishes_it() {
    // Defect 2 of issue #10: the callee's send is inside its handler, not
    // yet routed (no pin), when the caller hangs up and the callee closes.
    let (mut cm, _, _, _, vc, callee) = connected();
    let Finish::Return(s, _) = cm.close_call(vc).unwrap() else {
        panic!()
    };
    assert_eq!(s, NDIS_STATUS_SUCCESS);
    assert!(cm.unpin(callee, 1).is_empty(), "incoming close dispatched");
    let Finish::Pend(fx) = cm.close_call_with_handlers(callee, true).unwrap() else {
        panic!("a close with a handler inside pends")
    };
    assert!(fx.is_empty(), "nothing deactivated or deleted: {fx:?}");
    assert!(cm.waits_for_handlers(callee));
    // The send reaches the table: refused (closing), no pin taken.
    assert_eq!(cm.route(callee, 1, 1), Err(Refusal::Invalid));
    // Only the handlers' leaving finishes it, not a stray unpin.
    assert!(cm.unpin(callee, 0).is_empty());
    assert_eq!(
        effects(&cm.handlers_left(callee)),
        [E::DeactivateVc(31), E::CompleteCloseCall(31), E::DeleteVc(31)]
    );
    assert!(!cm.vc_is(callee, 31));
    // A second leaving finds nothing to finish.
    assert!(cm.handlers_left(callee).is_empty());
}

#[test]
fn a_close_waiting_for_pins_and_handlers_finishes_with_the_last_of_both() {
    let (mut cm, _, _, _, vc, callee) = connected();
    cm.route(vc, 1, 1).unwrap();
    let Finish::Pend(fx) = cm.close_call_with_handlers(vc, true).unwrap() else {
        panic!()
    };
    assert_eq!(effects(&fx), [E::DispatchIncomingClose(31)]);
    assert!(cm.unpin(callee, 2).is_empty(), "receive back, close dispatched");
    // Pins gone first: the handlers still hold it.
    assert!(cm.unpin(vc, 1).is_empty());
    assert_eq!(cm.vc_state(vc), Some(VcState::Closing));
    assert_eq!(
        effects(&cm.handlers_left(vc)),
        [E::DeactivateVc(30), E::CompleteCloseCall(30)]
    );
    // The other order: handlers first, then the last pin.
    let (mut cm, _, _, _, vc, callee) = connected();
    cm.route(vc, 1, 1).unwrap();
    assert!(matches!(cm.close_call_with_handlers(vc, true), Ok(Finish::Pend(_))));
    assert!(cm.unpin(callee, 2).is_empty());
    assert!(cm.handlers_left(vc).is_empty(), "a send is still held");
    assert_eq!(
        effects(&cm.unpin(vc, 1)),
        [E::DeactivateVc(30), E::CompleteCloseCall(30)]
    );
}

#[test]
fn handlers_leaving_a_vc_no_close_waits_for_change_nothing() {
    let (mut cm, _, _, _, vc, _) = connected();
    assert!(cm.handlers_left(vc).is_empty());
    assert_eq!(cm.vc_state(vc), Some(VcState::Connected { peer: Some(VcId(1)) }));
    // A refused close (an idle VC) does not start waiting.
    let (mut cm, _, _, _, idle) = two_clients();
    assert_eq!(cm.close_call_with_handlers(idle, true), Err(Refusal::Invalid));
    assert!(!cm.waits_for_handlers(idle));
}

#[test]
fn an_echo_call_sends_to_itself_and_closes_at_once_when_drained() {
    let (mut cm, _, _, _, vc) = two_clients();
    cm.make_call_echo(vc, false).unwrap();
    assert_eq!(cm.route(vc, 1, 1), Err(Refusal::Invalid), "not active yet");
    assert_eq!(cm.echo_activated(vc, true), NDIS_STATUS_SUCCESS);
    assert_eq!(cm.vc_state(vc), Some(VcState::Echo));
    assert_eq!(cm.make_call_echo(vc, false), Err(Refusal::CallActive));
    let r = cm.route(vc, 1, 1).unwrap();
    assert_eq!(r.targets().collect::<Vec<_>>(), [(vc, 30)]);
    assert!(cm.unpin(vc, 2).is_empty());
    let Finish::Return(s, fx) = cm.close_call(vc).unwrap() else {
        panic!()
    };
    assert_eq!(s, NDIS_STATUS_SUCCESS);
    assert_eq!(effects(&fx), [E::DeactivateVc(30)]);
    assert_eq!(cm.vc_state(vc), Some(VcState::Idle));
}

/// A close of an echo call whose make call is still activating its VC is
/// refused and changes nothing (it would free the call's parameters under
/// the activation and leave a closed call's VC active); once active, it
/// closes.
#[test]
fn an_echo_call_closes_only_once_its_make_call_activated_it() {
    let (mut cm, _, _, _, vc) = two_clients();
    cm.make_call_echo(vc, false).unwrap();
    assert_eq!(cm.close_call(vc), Err(Refusal::Invalid));
    assert_eq!(cm.vc_state(vc), Some(VcState::EchoActivating));
    assert_eq!(cm.echo_activated(vc, true), NDIS_STATUS_SUCCESS);
    assert!(matches!(cm.close_call(vc), Ok(Finish::Return(NDIS_STATUS_SUCCESS, _))));
    assert_eq!(cm.vc_state(vc), Some(VcState::Idle));
    assert!(!cm.vc_active(vc));
}

#[test]
fn a_failed_echo_activation_leaves_the_vc_idle() {
    let (mut cm, _, _, _, vc) = two_clients();
    cm.make_call_echo(vc, false).unwrap();
    assert_eq!(cm.echo_activated(vc, false), NDIS_STATUS_FAILURE);
    assert_eq!(cm.vc_state(vc), Some(VcState::Idle));
    assert_eq!(cm.make_call_echo(vc, true), Err(Refusal::NotSupported));
}

#[test]
fn the_echo_address_is_reserved() {
    let (mut cm, a, _, _, _) = two_clients();
    assert_eq!(cm.register_sap(a, 99, addr("echo")), Err(Refusal::DuplicateSap));
}

// --- QoS changes ---------------------------------------------------------------

fn flow(rate: ULONG, peak: ULONG, sdu: ULONG) -> ndis_sys::FLOWSPEC {
    ndis_sys::FLOWSPEC {
        TokenRate: rate,
        TokenBucketSize: sdu,
        PeakBandwidth: peak,
        Latency: ndis_sys::QOS_NOT_SPECIFIED,
        DelayVariation: ndis_sys::QOS_NOT_SPECIFIED,
        ServiceType: ndis_sys::SERVICETYPE_BESTEFFORT,
        MaxSduSize: sdu,
        MinimumPolicedSize: ndis_sys::QOS_NOT_SPECIFIED,
    }
}

use ndis_sys::ULONG;

#[test]
fn a_flow_within_the_link_is_accepted_and_one_above_it_refused() {
    const GBPS: u64 = 1_000_000_000;
    let link = link_bytes_per_second(GBPS);
    assert_eq!(link, 125_000_000);
    let nsp = ndis_sys::QOS_NOT_SPECIFIED;
    assert_eq!(check_flow(&flow(link, link, 1500), GBPS, 1500), Ok(()));
    assert_eq!(check_flow(&flow(nsp, nsp, nsp), GBPS, 1500), Ok(()));
    assert_eq!(
        check_flow(&flow(link + 1, nsp, 1500), GBPS, 1500),
        Err(QosError::TokenRate(link + 1))
    );
    assert_eq!(
        check_flow(&flow(1000, link + 1, 1500), GBPS, 1500),
        Err(QosError::PeakBandwidth(link + 1))
    );
    assert_eq!(
        check_flow(&flow(2000, 1000, 1500), GBPS, 1500),
        Err(QosError::RateAbovePeak)
    );
    assert_eq!(check_flow(&flow(1000, 1000, 0), GBPS, 1500), Err(QosError::MaxSdu(0)));
    assert_eq!(
        check_flow(&flow(1000, 1000, 1501), GBPS, 1500),
        Err(QosError::MaxSdu(1501))
    );
    assert_eq!(
        check_flows(&flow(1000, 1000, 1500), &flow(link + 1, nsp, 1500), GBPS, 1500),
        Err(QosError::TokenRate(link + 1))
    );
    assert_eq!(QosError::RateAbovePeak.status(), ndis_sys::NDIS_STATUS_INCOMPATABLE_QOS);
}

#[test]
fn a_qos_change_pins_both_ends_and_refuses_a_second_one_until_done() {
    let (mut cm, _, _, _, vc, callee) = connected();
    assert_eq!(cm.modify_qos_begin(vc), Ok(Some((callee, 31))));
    assert_eq!((cm.busy(vc), cm.busy(callee)), (1, 1));
    assert_eq!(cm.modify_qos_begin(vc), Err(Refusal::Invalid));
    assert_eq!(cm.modify_qos_begin(callee), Err(Refusal::Invalid));
    assert!(cm.modify_qos_end(vc, Some(callee)).is_empty());
    assert_eq!((cm.busy(vc), cm.busy(callee)), (0, 0));
    // The callee's side may change it too, and tells the caller.
    assert_eq!(cm.modify_qos_begin(callee), Ok(Some((vc, 30))));
    assert!(cm.modify_qos_end(callee, Some(vc)).is_empty());
}

#[test]
fn a_close_during_a_qos_change_pends_until_the_change_is_done() {
    let (mut cm, _, _, _, vc, callee) = connected();
    assert_eq!(cm.modify_qos_begin(vc), Ok(Some((callee, 31))));
    // The callee hangs up meanwhile: its close waits for the pin.
    let Ok(Finish::Pend(fx)) = cm.close_call(callee) else {
        panic!()
    };
    assert_eq!(effects(&fx), [E::DispatchIncomingClose(30)]);
    assert!(cm.unpin(vc, 1).is_empty()); // the incoming close was made
    let fx = cm.modify_qos_end(vc, Some(callee));
    assert_eq!(
        effects(&fx),
        [E::DeactivateVc(31), E::CompleteCloseCall(31), E::DeleteVc(31)]
    );
}

/// One of the longest effect lists a core method returns for the glue to
/// perform at once: a QoS change that ends both closes of its call, the callee's
/// AF closing and held by halt. The callee's close (deactivate, complete,
/// delete, then its AF's completion, freeing and halt release) and the
/// caller's (deactivate, complete) are one list of exactly `MAX_EFFECTS`,
/// nothing lost; a close that needs one more effect must split the list
/// (as a root's send does per leaf, `ffi::data`).
#[test]
fn a_qos_change_ending_both_closes_fits_one_effect_list() {
    let (mut cm, _, b, sap, vc, callee) = connected();
    assert!(matches!(cm.deregister_sap(sap), Ok(Finish::Return(..))));
    assert!(matches!(cm.close_af(b), Ok(Finish::Pend(_))), "its VC is left");
    assert_eq!(cm.begin_halt().holds, 2);
    assert_eq!(cm.modify_qos_begin(callee), Ok(Some((vc, 30))));
    // Both hang up meanwhile: each close waits for its pin.
    let Ok(Finish::Pend(fx)) = cm.close_call(vc) else {
        panic!()
    };
    assert_eq!(effects(&fx), [E::DispatchIncomingClose(31)]);
    assert!(cm.unpin(callee, 1).is_empty()); // the incoming close was made
    assert!(matches!(cm.close_call(callee), Ok(Finish::Pend(_))));
    let fx = cm.modify_qos_end(callee, Some(vc));
    assert_eq!(fx.len(), MAX_EFFECTS);
    assert_eq!(
        effects(&fx),
        [
            E::DeactivateVc(31),
            E::CompleteCloseCall(31),
            E::DeleteVc(31),
            E::CompleteCloseAf(11),
            E::FreeAf(11),
            E::HaltAfDone,
            E::DeactivateVc(30),
            E::CompleteCloseCall(30)
        ]
    );
}

#[test]
fn only_an_active_call_changes_its_qos() {
    let (mut cm, _, _, _, vc) = two_clients();
    assert_eq!(cm.modify_qos_begin(vc), Err(Refusal::Invalid));
    cm.make_call_echo(vc, false).unwrap();
    assert_eq!(cm.modify_qos_begin(vc), Err(Refusal::Invalid)); // not activated yet
    assert_eq!(cm.echo_activated(vc, true), NDIS_STATUS_SUCCESS);
    assert_eq!(cm.modify_qos_begin(vc), Ok(None));
    assert!(cm.modify_qos_end(vc, None).is_empty());
    assert_eq!(cm.busy(vc), 0);
}

// --- VC table scale ---------------------------------------------------------------

/// `n` VCs more on one AF: each is created, the newest still makes a call
/// that connects, and deleting them all frees every slot.
fn many_vcs_live_at_once_and_calls_still_connect(n: u32) -> VcId {
    let (mut cm, a, _, _, _) = two_clients();
    let many: Vec<VcId> = (0..n).map(|i| cm.create_vc(a, 1_000 + i).unwrap()).collect();
    assert_eq!(cm.live().2, n as usize + 1);
    let last = *many.last().unwrap();
    assert_eq!(last.raw(), n, "dense ids after the first VC's 0");
    assert!(cm.vc_is(last, 1_000 + n - 1));
    // A call from the newest VC still finds its SAP and connects.
    let plan = cm.make_call_begin(last, &addr("bob"), 31).unwrap();
    cm.make_call_activated(last, plan.callee, true, true).unwrap();
    cm.incoming_call_complete(plan.callee, NDIS_STATUS_SUCCESS).unwrap();
    assert_eq!(
        cm.vc_state(last),
        Some(VcState::Connected {
            peer: Some(plan.callee)
        })
    );
    // Deleting them all frees every slot; the AF can then close at once.
    for id in many.iter().rev().skip(1) {
        cm.delete_vc(*id).unwrap();
    }
    assert_eq!(cm.live().2, 3);
    last
}

#[test]
#[cfg_attr(
    miri,
    ignore = "200k VCs take many minutes under Miri; three_hundred_vcs_live_at_once_and_calls_still_connect is its Miri-sized variant"
)]
fn hundreds_of_thousands_of_vcs_live_at_once_and_calls_still_connect() {
    // 200k VCs on one AF: far past the old 128-slot table and u16 ids.
    let last = many_vcs_live_at_once_and_calls_still_connect(200_000);
    assert!(last.raw() > u32::from(u16::MAX), "ids past u16: {}", last.raw());
}

/// The Miri-sized variant of the 200k-VC test: 300 VCs are still past the old
/// 128-slot table, and the newest one's call connects.
#[test]
fn three_hundred_vcs_live_at_once_and_calls_still_connect() {
    many_vcs_live_at_once_and_calls_still_connect(300);
}

#[test]
fn a_deleted_vcs_slot_is_reused_and_its_old_id_no_longer_names_it() {
    let (mut cm, a, _, _, vc) = two_clients();
    cm.delete_vc(vc).unwrap();
    let again = cm.create_vc(a, 77).unwrap();
    assert_eq!(again, vc, "the freed slot is taken first");
    assert!(!cm.vc_is(vc, 30), "the old context no longer matches the slot");
    assert!(cm.vc_is(again, 77));
}

#[test]
fn the_longest_effect_list_fits_with_halts_release() {
    // A pended multipoint make call whose initial party's leaf rejects, the
    // leaf's AF closing (its SAP already gone) and held by halt: the reject
    // takes the leaf and the root down, fails the make call, completes the
    // AF's close and releases halt's hold, all in one list.
    let mut cm = Cm::new();
    let a = cm.open_af(10).unwrap();
    let b = cm.open_af(11).unwrap();
    let sap = cm.register_sap(b, 20, addr("bob")).unwrap();
    let root = cm.create_vc(a, 30).unwrap();
    let plan = cm.party_begin(root, &addr("bob"), 50, 31, Via::MakeCall).unwrap();
    cm.party_activated(&plan, Some(true), true).unwrap();
    assert!(cm.offer_done(plan.sap).is_empty());
    assert_eq!(cm.party_end(plan.party).0, NDIS_STATUS_PENDING);
    assert!(matches!(
        cm.deregister_sap(sap),
        Ok(Finish::Return(NDIS_STATUS_SUCCESS, _))
    ));
    assert!(matches!(cm.close_af(b), Ok(Finish::Pend(_))));
    assert_eq!(cm.begin_halt().holds, 2);
    let fx = cm.incoming_call_complete(plan.leaf, NDIS_STATUS_FAILURE).unwrap();
    let fx = effects(&fx);
    assert_eq!(fx.len(), MAX_EFFECTS, "{fx:?}");
    assert_eq!(
        fx[2..5],
        [E::CompleteCloseAf(11), E::FreeAf(11), E::HaltAfDone],
        "the leaf VC's deletion ends the AF's close: {fx:?}"
    );
}

/// A point-to-point make call whose callee's activation failed while a
/// handler was inside the caller's VC (activated first): the caller's VC
/// stays active until it left (the make call pends), and the last one out
/// deactivates it and fails the call; a handler inside the callee's VC
/// keeps it (active, not deleted) until it left.
#[test]
fn a_failed_activation_with_handlers_inside_waits_for_them() {
    let (mut cm, _, _, sap, vc) = two_clients();
    let plan = cm.make_call_begin(vc, &addr("bob"), 31).unwrap();
    let both = Handlers {
        caller: true,
        callee: true,
    };
    let fx = cm
        .make_call_activated_with_handlers(vc, plan.callee, true, false, both)
        .unwrap_err();
    assert!(effects(&fx).is_empty(), "{:?}", effects(&fx));
    cm.offer_done(sap);
    assert!(cm.vc_active(vc));
    assert_eq!(cm.make_call_end(vc).0, NDIS_STATUS_PENDING);
    assert_eq!(
        effects(&cm.handlers_left(vc)),
        [E::DeactivateVc(30), E::CompleteMakeCall(30, NDIS_STATUS_FAILURE)]
    );
    assert_eq!(effects(&cm.handlers_left(plan.callee)), [E::DeleteVc(31)]);
    assert_eq!(cm.live(), (2, 1, 1));
}

// --- The VC state machine's transitions -------------------------------------------

/// The arrows of vc.rs's diagram are there, with their fields carried
/// over, and a few that are not (a second make call, a close of a call
/// being set up, an accept naming another peer) are refused, leaving the
/// VC as it was.
#[test]
fn the_vc_state_machine_has_the_diagrams_arrows_and_refuses_others() {
    let (c, p) = (VcId::from_raw(1), VcId::from_raw(2));
    let dialing = VcState::Idle.on(VcEvent::Call { callee: c }).unwrap();
    assert_eq!(dialing, VcState::Dialing { callee: c });
    let calling = dialing.on(VcEvent::Activate).unwrap();
    assert_eq!(
        calling,
        VcState::Calling {
            callee: c,
            phase: MakeCallPhase::InHandler
        }
    );
    assert_eq!(
        calling.on(VcEvent::Pend),
        Ok(VcState::Calling {
            callee: c,
            phase: MakeCallPhase::Pended
        })
    );
    assert_eq!(
        calling.on(VcEvent::Connect { peer: c }),
        Ok(VcState::Connected { peer: Some(c) })
    );
    assert!(
        calling.on(VcEvent::Connect { peer: p }).is_err(),
        "not the callee it called"
    );
    assert_eq!(
        VcState::Creating { caller: p }.on(VcEvent::Offer),
        Ok(VcState::Offered { caller: p })
    );
    let up = VcState::Connected { peer: Some(p) };
    assert_eq!(up.on(VcEvent::PeerGone), Ok(VcState::Connected { peer: None }));
    assert_eq!(up.on(VcEvent::Close), Ok(VcState::Closing));
    assert_eq!(VcState::Closing.on(VcEvent::Deactivate), Ok(VcState::Deactivated));
    assert_eq!(VcState::Deactivated.on(VcEvent::Closed), Ok(VcState::Idle));
    assert_eq!(VcState::EchoActivating.on(VcEvent::SetupFailed), Ok(VcState::Idle));
    let root = VcState::Idle
        .on(VcEvent::RootSetup)
        .and_then(|r| r.on(VcEvent::Activate))
        .unwrap();
    assert_eq!(root.on(VcEvent::RootUp), Ok(VcState::Root { phase: RootPhase::Up }));
    assert_eq!(
        VcState::Root { phase: RootPhase::Up }.on(VcEvent::DetachParties),
        Ok(VcState::Root {
            phase: RootPhase::Closing
        })
    );
    for (from, event) in [
        (calling, VcEvent::Call { callee: p }),
        (calling, VcEvent::Close),
        (VcState::Idle, VcEvent::Close),
        (VcState::Closing, VcEvent::Pend),
        (VcState::Closing, VcEvent::Closed),
        (root, VcEvent::DetachParties),
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
    // Through the core: refused, and the VC is unchanged.
    let (mut cm, _, _, _, vc) = two_clients();
    assert_eq!(
        cm.set_state(vc, VcEvent::Close),
        Err(InvalidTransition {
            from: Some(VcState::Idle),
            event: VcEvent::Close
        })
    );
    assert_eq!(cm.vc_state(vc), Some(VcState::Idle));
    let gone = VcId::from_raw(99);
    assert_eq!(cm.set_state(gone, VcEvent::Echo).unwrap_err().from, None);
}

/// Every VC state and a sample of every event (fields that matter to the
/// arrows taken from the same two VCs and one party).
fn all_states_and_events() -> (Vec<VcState>, Vec<VcEvent>) {
    use MakeCallPhase::{InHandler, Pended};
    let (c, p) = (VcId::from_raw(1), VcId::from_raw(2));
    let party = PartyId::from_raw(0);
    let s = NDIS_STATUS_FAILURE;
    let mut states = std::vec![
        VcState::Idle,
        VcState::Abandoned,
        VcState::Dialing { callee: c },
        VcState::Creating { caller: p },
        VcState::Offered { caller: p },
        VcState::Connected { peer: Some(p) },
        VcState::Connected { peer: None },
        VcState::RootRefused { party, status: s },
        VcState::RootWithdrawn { party, status: s },
        VcState::EchoActivating,
        VcState::Echo,
        VcState::Closing,
        VcState::Deactivated,
        VcState::LeafCreating { party },
        VcState::LeafOffered { party },
        VcState::Leaf { party: Some(party) },
        VcState::Leaf { party: None },
    ];
    for phase in [InHandler, Pended] {
        states.push(VcState::Calling { callee: c, phase });
        states.push(VcState::Refused { status: s, phase });
        states.push(VcState::Withdrawn { status: s, phase });
    }
    for phase in [
        RootPhase::Activating,
        RootPhase::Setup,
        RootPhase::Up,
        RootPhase::Closing,
    ] {
        states.push(VcState::Root { phase });
    }
    let mut events = std::vec![
        VcEvent::Call { callee: c },
        VcEvent::Echo,
        VcEvent::RootSetup,
        VcEvent::Activate,
        VcEvent::Offer,
        VcEvent::Pend,
        VcEvent::Connect { peer: c },
        VcEvent::Connect { peer: p },
        VcEvent::LeafUp,
        VcEvent::RootUp,
        VcEvent::RefuseRoot { party, status: s },
        VcEvent::SetupFailed,
        VcEvent::Deactivate,
        VcEvent::PeerGone,
        VcEvent::DetachParties,
        VcEvent::Close,
        VcEvent::Closed,
    ];
    for phase in [InHandler, Pended] {
        events.push(VcEvent::Refuse { status: s, phase });
    }
    (states, events)
}

/// NDIS's activation bit is the state's (issue #11: no `active` beside
/// it): over every state and event, an arrow that changes
/// [`VcState::is_active`] is an activation (`Activate`, `Offer`: off to
/// on) or a deactivation (`Deactivate`: on to off), and those events
/// change nothing else's activation; every state but the transient
/// `Deactivated` is reached from `Idle` through the arrows.
#[test]
fn activation_changes_only_on_the_activation_and_deactivation_arrows() {
    let (states, events) = all_states_and_events();
    let mut arrows = 0;
    for &from in &states {
        for &event in &events {
            let Ok(to) = from.on(event) else { continue };
            arrows += 1;
            match event {
                VcEvent::Activate | VcEvent::Offer => {
                    assert!(!from.is_active() && to.is_active(), "{from:?} --{event:?}--> {to:?}")
                }
                VcEvent::Deactivate => {
                    assert!(from.is_active() && !to.is_active(), "{from:?} --{event:?}--> {to:?}")
                }
                _ => assert_eq!(
                    from.is_active(),
                    to.is_active(),
                    "{from:?} --{event:?}--> {to:?} changes the activation"
                ),
            }
        }
    }
    assert!(arrows > 40, "the machine has its arrows ({arrows})");
    // A failed set-up leaves an activated VC awaiting its deactivation,
    // an inactive one idle.
    for (from, to) in [
        (
            VcState::Dialing {
                callee: VcId::from_raw(1),
            },
            VcState::Idle,
        ),
        (VcState::EchoActivating, VcState::Idle),
        (
            VcState::Root {
                phase: RootPhase::Activating,
            },
            VcState::Idle,
        ),
        (
            VcState::Calling {
                callee: VcId::from_raw(1),
                phase: MakeCallPhase::InHandler,
            },
            VcState::Abandoned,
        ),
        (
            VcState::Root {
                phase: RootPhase::Setup,
            },
            VcState::Abandoned,
        ),
    ] {
        assert_eq!(from.on(VcEvent::SetupFailed), Ok(to), "{from:?}");
    }
    assert_eq!(VcState::Abandoned.on(VcEvent::Deactivate), Ok(VcState::Idle));
}

/// The activation arrows the machine refuses: activating an active or
/// idle VC, deactivating an inactive one or a call that is up (only its
/// close deactivates it), a new make call or a failed set-up on an
/// abandoned VC (it goes idle only through its deactivation), and a
/// close of a VC whose activation is still running.
#[test]
fn the_vc_state_machine_refuses_activation_arrows_it_lacks() {
    let c = VcId::from_raw(1);
    let calling = VcState::Calling {
        callee: c,
        phase: MakeCallPhase::InHandler,
    };
    for (from, event) in [
        (VcState::Idle, VcEvent::Activate),
        (calling, VcEvent::Activate),
        (VcState::Echo, VcEvent::Activate),
        (VcState::Idle, VcEvent::Deactivate),
        (VcState::Dialing { callee: c }, VcEvent::Deactivate),
        (VcState::Deactivated, VcEvent::Deactivate),
        (VcState::Connected { peer: Some(c) }, VcEvent::Deactivate),
        (VcState::Echo, VcEvent::Deactivate),
        (VcState::Abandoned, VcEvent::Call { callee: c }),
        (VcState::Abandoned, VcEvent::Echo),
        (VcState::Abandoned, VcEvent::SetupFailed),
        (VcState::Abandoned, VcEvent::Closed),
        (VcState::EchoActivating, VcEvent::Close),
        (VcState::Echo, VcEvent::SetupFailed),
        (VcState::Deactivated, VcEvent::Close),
        (
            VcState::Root {
                phase: RootPhase::Activating,
            },
            VcEvent::RootUp,
        ),
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
}

/// A make call whose caller's activation failed while a send was inside
/// the caller's VC: the caller waits, not active, in `Withdrawn`, and goes
/// idle once the handler left with no NdisMCmDeactivateVc (it was never
/// active); the callee, activated, is deactivated and deleted at once.
#[test]
fn a_caller_never_activated_waits_for_its_handlers_withdrawn_and_is_not_deactivated() {
    let (mut cm, _, _, _, vc) = two_clients();
    let plan = cm.make_call_begin(vc, &addr("bob"), 31).unwrap();
    let inside = Handlers {
        caller: true,
        callee: false,
    };
    let fx = cm
        .make_call_activated_with_handlers(vc, plan.callee, false, true, inside)
        .unwrap_err();
    assert_eq!(effects(&fx), [E::DeactivateVc(31), E::DeleteVc(31)]);
    assert!(matches!(cm.vc_state(vc), Some(VcState::Withdrawn { .. })));
    assert!(!cm.vc_active(vc));
    assert!(cm.offer_done(plan.sap).is_empty());
    let (status, fx) = cm.make_call_end(vc);
    assert_eq!(status, NDIS_STATUS_PENDING, "the last handler out fails it");
    assert!(effects(&fx).is_empty());
    let fx = cm.handlers_left(vc);
    assert_eq!(effects(&fx), [E::CompleteMakeCall(30, NDIS_STATUS_FAILURE)]);
    assert_eq!(cm.vc_state(vc), Some(VcState::Idle));
}

/// An AF's close arrows, and the ones it lacks (a closed AF neither pends
/// nor closes again) refused.
#[test]
fn the_af_state_machine_closes_once() {
    assert_eq!(AfState::Open.on(AfEvent::ClosePends), Ok(AfState::ClosePending));
    assert_eq!(AfState::Open.on(AfEvent::Closed), Ok(AfState::Closed));
    assert_eq!(AfState::ClosePending.on(AfEvent::Closed), Ok(AfState::Closed));
    for (from, event) in [
        (AfState::ClosePending, AfEvent::ClosePends),
        (AfState::Closed, AfEvent::Closed),
        (AfState::Closed, AfEvent::ClosePends),
    ] {
        assert_eq!(
            from.on(event),
            Err(InvalidTransition {
                from: Some(from),
                event
            })
        );
    }
}

//! The CoNDIS rules have teeth: a small loopback MCM (tests/fixture_cm)
//! completes the whole call story with zero violations, pended or not, and
//! each fault makes exactly its rule fire.

mod fixture_cm;

use fixture_cm::{AF, Fault, complete_cm_oid, complete_deregistration, complete_make_call, set_fault, wait_results};
use ndis_emu::condis::rules as r;
use ndis_emu::{Af, Answer, CallSpec, CallState, Client, Emulator, Report, Rule, Vc, rules, sync};
use ndis_sys::*;

/// A loaded fixture with two clients that opened the AF.
struct Net {
    emu: Emulator,
    caller: Client,
    callee: Client,
    caller_af: Af,
    callee_af: Af,
}

fn up(f: Fault) -> Net {
    set_fault(f);
    let mut emu = Emulator::new();
    emu.load(fixture_cm::driver_entry).expect("load");
    emu.add_adapter().expect("adapter");
    let caller = emu.client("caller");
    let callee = emu.client("callee");
    let caller_af = emu.open_af(caller, AF).expect("caller opens the AF");
    let callee_af = emu.open_af(callee, AF).expect("callee opens the AF");
    Net {
        emu,
        caller,
        callee,
        caller_af,
        callee_af,
    }
}

fn to(address: &[u8]) -> CallSpec {
    let mut spec = CallSpec::best_effort(125_000, 1500);
    spec.media_specific = address.to_vec();
    spec
}

/// Halts (the MCM notifies the clients, which tear their AFs down) and unloads.
fn down(mut net: Net) -> Report {
    net.emu.halt_adapter().expect("halt");
    net.emu.unload().expect("unload");
    net.emu.finish()
}

/// Asserts that `rule`, and no other rule, fired.
fn only(report: &Report, rule: Rule) {
    assert!(report.of(rule).count() > 0, "{rule} did not fire:\n{report}");
    assert_eq!(report.rules(), vec![rule], "other rules fired too:\n{report}");
}

/// callee registers "callee", caller calls it: returns (caller VC, status).
fn call(net: &mut Net) -> (Vc, NDIS_STATUS) {
    net.emu.register_sap(net.callee_af, 0, b"callee").expect("SAP");
    let vc = net.emu.create_vc(net.caller_af).expect("VC");
    let status = net.emu.make_call(vc, &to(b"callee"));
    (vc, status)
}

#[test]
fn a_whole_call_connects_closes_on_both_sides_and_tears_down_clean() {
    let net = up(Fault::None);
    let sap = net.emu.register_sap(net.callee_af, 0, b"callee").expect("SAP");
    let vc = net.emu.create_vc(net.caller_af).expect("VC");
    assert_eq!(net.emu.make_call(vc, &to(b"callee")), NDIS_STATUS_SUCCESS);
    assert_eq!(net.emu.vc_state(vc), Some((CallState::Connected, true)));
    let offered = net.emu.offered_vcs(net.callee);
    assert_eq!(offered.len(), 1);
    assert_eq!(net.emu.vc_state(offered[0]), Some((CallState::Connected, true)));
    let inbox = net.emu.inbox(net.callee);
    assert!(inbox.iter().any(|l| l.starts_with("IncomingCall")), "{inbox:?}");
    let caller_inbox = net.emu.inbox(net.caller);
    assert!(
        caller_inbox.iter().any(|l| l.starts_with("Status 0x40010016")),
        "link parameters indicated: {caller_inbox:?}"
    );
    assert!(inbox.iter().any(|l| l.starts_with("CallConnected")), "{inbox:?}");
    assert_eq!(net.emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS);
    assert_eq!(net.emu.vc_state(vc), Some((CallState::Closed, false)));
    // The callee was told and closed its side; the MCM deleted its VC.
    assert!(
        net.emu
            .inbox(net.callee)
            .iter()
            .any(|l| l.starts_with("IncomingCloseCall"))
    );
    assert_eq!(net.emu.vc_state(offered[0]), None, "the MCM-created VC is gone");
    assert_eq!(net.emu.delete_vc(vc), NDIS_STATUS_SUCCESS);
    assert_eq!(net.emu.deregister_sap(sap), NDIS_STATUS_SUCCESS);
    assert_eq!(net.emu.close_af(net.caller_af), NDIS_STATUS_SUCCESS);
    // The callee leaves its AF open: the MCM's halt notifies it closed.
    let callee = net.callee;
    let report = down(net);
    assert!(report.is_clean(), "{report}");
    assert!(report.events.iter().any(|e| e.name == "NdisCmNotifyCloseAddressFamily"));
    let _ = callee;
}

#[test]
fn a_pended_make_call_completes_through_ndis_mcm_make_call_complete() {
    let mut net = up(Fault::PendMakeCall);
    let (vc, status) = call(&mut net);
    assert_eq!(status, NDIS_STATUS_PENDING);
    assert_eq!(net.emu.vc_state(vc), Some((CallState::Outgoing, false)));
    complete_make_call();
    assert_eq!(net.emu.vc_state(vc), Some((CallState::Connected, true)));
    assert!(net.emu.inbox(net.caller).contains(&"MakeCallComplete 0x0".to_string()));
    let report = down(net);
    assert!(report.is_clean(), "{report}");
}

#[test]
fn a_rejected_incoming_call_and_a_pended_answer_are_both_clean() {
    let mut net = up(Fault::None);
    net.emu
        .set_incoming_answer(net.callee, Answer::Sync, NDIS_STATUS_NOT_ACCEPTED);
    let (_, status) = call(&mut net);
    assert_eq!(status, NDIS_STATUS_SUCCESS);
    assert!(
        net.emu
            .offered_vcs(net.callee)
            .iter()
            .all(|v| net.emu.vc_state(*v).is_none()),
        "rejected VC deleted"
    );
    net.emu
        .set_incoming_answer(net.callee, Answer::Pend, NDIS_STATUS_SUCCESS);
    let vc2 = net.emu.create_vc(net.caller_af).expect("VC");
    assert_eq!(net.emu.make_call(vc2, &to(b"callee")), NDIS_STATUS_SUCCESS);
    let offered = *net.emu.offered_vcs(net.callee).last().expect("offered");
    assert_eq!(net.emu.vc_state(offered), Some((CallState::Offered, true)));
    net.emu.answer_incoming(offered, NDIS_STATUS_SUCCESS).expect("answer");
    assert_eq!(net.emu.vc_state(offered), Some((CallState::Connected, true)));
    let report = down(net);
    assert!(report.is_clean(), "{report}");
}

#[test]
fn complete_not_pending_fires_on_a_pending_completion() {
    let mut net = up(Fault::CompleteWithPending);
    let (_, status) = call(&mut net);
    assert_eq!(status, NDIS_STATUS_PENDING);
    only(&down(net), r::COMPLETE_NOT_PENDING);
}

#[test]
fn complete_only_pended_fires_on_completing_a_synchronous_request() {
    let mut net = up(Fault::CompleteSynchronousCall);
    let _ = call(&mut net);
    only(&down(net), r::COMPLETE_ONLY_PENDED);
}

#[test]
fn vc_handlers_never_pend_fires_on_a_pending_create_vc() {
    let net = up(Fault::PendCreateVc);
    assert_eq!(net.emu.create_vc(net.caller_af), Err(NDIS_STATUS_PENDING));
    only(&down(net), r::VC_HANDLERS_NEVER_PEND);
}

#[test]
fn call_success_needs_active_vc_fires_without_activation() {
    let mut net = up(Fault::SucceedWithoutActivation);
    let _ = call(&mut net);
    only(&down(net), r::CALL_SUCCESS_NEEDS_ACTIVE_VC);
}

#[test]
fn call_failure_leaves_vc_inactive_fires_on_a_failed_call_left_active() {
    let mut net = up(Fault::FailActivated);
    let (_, status) = call(&mut net);
    assert_eq!(status, NDIS_STATUS_FAILURE);
    only(&down(net), r::CALL_FAILURE_LEAVES_VC_INACTIVE);
}

#[test]
fn call_party_context_fires_on_a_party_context_for_a_point_to_point_call() {
    let mut net = up(Fault::PartyContextOnPointToPoint);
    let _ = call(&mut net);
    only(&down(net), r::CALL_PARTY_CONTEXT);
}

#[test]
fn vc_activate_needs_media_parameters_fires_on_null_media() {
    let mut net = up(Fault::NullMediaParameters);
    let (_, status) = call(&mut net);
    assert_eq!(status, NDIS_STATUS_FAILURE);
    only(&down(net), r::VC_ACTIVATE_NEEDS_MEDIA_PARAMETERS);
}

#[test]
fn vc_only_creator_deletes_fires_on_deleting_a_client_vc() {
    let mut net = up(Fault::DeleteClientVc);
    let (vc, _) = call(&mut net);
    let _ = net.emu.close_call(vc, &[]);
    only(&down(net), r::VC_ONLY_CREATOR_DELETES);
}

#[test]
fn vc_deactivated_before_delete_fires_on_close_without_deactivation() {
    let mut net = up(Fault::CloseWithoutDeactivation);
    let (vc, _) = call(&mut net);
    assert_eq!(net.emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS);
    assert_eq!(net.emu.delete_vc(vc), NDIS_STATUS_NOT_ACCEPTED);
    only(&down(net), r::VC_DEACTIVATED_BEFORE_DELETE);
}

#[test]
fn vc_create_on_open_af_fires_on_a_null_af() {
    let mut net = up(Fault::CreateVcOnNullAf);
    let (_, status) = call(&mut net);
    assert_eq!(status, NDIS_STATUS_DEST_OUT_OF_ORDER);
    only(&down(net), r::VC_CREATE_ON_OPEN_AF);
    // The same rule guards the out handle, which must start NULL.
    let mut net = up(Fault::CreateVcOutNotNull);
    let (_, status) = call(&mut net);
    assert_eq!(status, NDIS_STATUS_DEST_OUT_OF_ORDER);
    only(&down(net), r::VC_CREATE_ON_OPEN_AF);
}

#[test]
fn a_close_completed_inside_the_handler_reaches_the_client_at_once() {
    // The fixture completes an MCM-created VC's close inside ProtocolCmCloseCall
    // and deletes the VC before returning PENDING (the seed page's order).
    let mut net = up(Fault::None);
    let (vc, _) = call(&mut net);
    assert_eq!(net.emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS);
    let inbox = net.emu.inbox(net.callee);
    assert!(
        inbox.iter().any(|l| l.starts_with("CloseCallComplete 0x0")),
        "{inbox:?}"
    );
    let report = down(net);
    assert!(report.is_clean(), "{report}");
}

#[test]
fn incoming_sap_registered_fires_on_a_deregistering_sap() {
    let net = up(Fault::DispatchOnDeregisteringSap);
    let sap = net.emu.register_sap(net.callee_af, 0, b"callee").expect("SAP");
    assert_eq!(net.emu.deregister_sap(sap), NDIS_STATUS_PENDING);
    let vc = net.emu.create_vc(net.caller_af).expect("VC");
    let _ = net.emu.make_call(vc, &to(b"callee"));
    complete_deregistration();
    only(&down(net), r::INCOMING_SAP_REGISTERED);
}

#[test]
fn incoming_vc_created_and_active_fires_on_an_inactive_vc() {
    let mut net = up(Fault::DispatchOnInactiveVc);
    let _ = call(&mut net);
    only(&down(net), r::INCOMING_VC_CREATED_AND_ACTIVE);
}

#[test]
fn incoming_connected_after_accept_fires_on_a_rejected_call() {
    let mut net = up(Fault::ConnectRejectedCall);
    net.emu
        .set_incoming_answer(net.callee, Answer::Sync, NDIS_STATUS_NOT_ACCEPTED);
    let _ = call(&mut net);
    only(&down(net), r::INCOMING_CONNECTED_AFTER_ACCEPT);
}

#[test]
fn close_incoming_on_a_call_fires_on_an_idle_vc() {
    let net = up(Fault::IncomingCloseOnIdleVc);
    let vc = net.emu.create_vc(net.caller_af).expect("VC");
    assert_eq!(net.emu.delete_vc(vc), NDIS_STATUS_SUCCESS);
    only(&down(net), r::CLOSE_INCOMING_ON_A_CALL);
}

#[test]
fn halt_afs_closed_fires_when_halt_forgets_notify_close() {
    let net = up(Fault::HaltWithoutNotifyClose);
    only(&down(net), r::HALT_AFS_CLOSED);
}

/// A driver that pends a client's AF close over its SAP and, at halt, waits
/// only for the AFs it notifies: the client's removal of its SAP (which it
/// does once HaltEx waits) never runs, and the AF is still open when HaltEx
/// returns.
#[test]
fn halt_afs_closed_fires_when_halt_does_not_wait_for_a_pended_af_close() {
    let net = up(Fault::HaltWithoutWaitingForAPendedAfClose);
    net.emu.register_sap(net.callee_af, 0, b"callee").expect("SAP");
    assert_eq!(net.emu.close_af(net.callee_af), NDIS_STATUS_PENDING);
    let report = down(net);
    only(&report, r::HALT_AFS_CLOSED);
    assert_eq!(report.of(r::HALT_AFS_CLOSED).count(), 1, "{report}");
    assert!(
        report
            .of(r::HALT_AFS_CLOSED)
            .all(|v| v.detail.contains("its close pended")),
        "{report}"
    );
}

/// The same driver is clean when the client removed its SAP before halt:
/// the fixture's pended close itself is right, only halt's wait is missing.
#[test]
fn a_pended_af_close_completed_before_halt_is_clean() {
    let net = up(Fault::HaltWithoutWaitingForAPendedAfClose);
    let sap = net.emu.register_sap(net.callee_af, 0, b"callee").expect("SAP");
    assert_eq!(net.emu.close_af(net.callee_af), NDIS_STATUS_PENDING);
    assert_eq!(net.emu.deregister_sap(sap), NDIS_STATUS_SUCCESS);
    let report = down(net);
    assert!(report.is_clean(), "{report}");
}

// --- Halt with clients that pend their notify-close, and NDIS events -----------

/// A connected call between the two clients, a SAP, and both clients set to
/// pend their ProtocolClNotifyCloseAf.
fn up_pending_notify_close(f: Fault) -> Net {
    let mut net = up(f);
    let (_, status) = call(&mut net);
    assert_eq!(status, NDIS_STATUS_SUCCESS);
    net.emu.set_notify_close_answer(net.caller, Answer::Pend);
    net.emu.set_notify_close_answer(net.callee, Answer::Pend);
    net
}

/// The position of the first trace event named `name` with direction `dir`.
fn first(report: &Report, dir: &str, name: &str) -> usize {
    report
        .events
        .iter()
        .position(|e| e.dir == dir && e.name == name)
        .unwrap_or_else(|| panic!("no {dir} {name} in the trace:\n{report}"))
}

#[test]
fn a_halt_that_waits_for_pended_notify_closes_tears_everything_down_clean() {
    let net = up_pending_notify_close(Fault::None);
    let report = down(net);
    assert!(report.is_clean(), "{report}");
    // Each client's close ran inside HaltEx's wait, through the proper paths:
    // its call closed, its SAP went, its AF closed, then the notification
    // completed, and only then did HaltEx return.
    let halt_returned = report
        .events
        .iter()
        .rposition(|e| e.dir == "<-" && e.name == "MiniportHaltEx")
        .expect("HaltEx returned");
    let wait = first(&report, "=>", "NdisWaitEvent");
    let teardown = [
        "ProtocolCmCloseCall",
        "ProtocolCmDeregisterSap",
        "ProtocolCmCloseAf",
        "ProtocolCmNotifyCloseAfComplete",
    ];
    let during: Vec<(usize, &ndis_emu::Event)> = report
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.dir == "->" && teardown.contains(&e.name))
        .collect();
    assert!(
        during.iter().all(|(i, _)| wait < *i && *i < halt_returned),
        "the teardown ran inside HaltEx's wait:\n{report}"
    );
    for name in teardown {
        assert!(during.iter().any(|(_, e)| e.name == name), "no {name}:\n{report}");
    }
    // Each AF's notification completed after that AF's close.
    let completes: Vec<&(usize, &ndis_emu::Event)> = during
        .iter()
        .filter(|(_, e)| e.name == "ProtocolCmNotifyCloseAfComplete")
        .collect();
    assert_eq!(completes.len(), 2, "{report}");
    for (at, complete) in completes {
        let closed = during
            .iter()
            .any(|(i, e)| e.name == "ProtocolCmCloseAf" && e.detail == complete.detail && i < at);
        assert!(closed, "{} completed before its close:\n{report}", complete.detail);
    }
}

#[test]
fn halt_afs_closed_fires_when_halt_does_not_wait_for_a_pended_notify_close() {
    let net = up_pending_notify_close(Fault::HaltWithoutWaitingForNotifyClose);
    let report = down(net);
    only(&report, r::HALT_AFS_CLOSED);
    assert_eq!(report.of(r::HALT_AFS_CLOSED).count(), 2, "{report}");
    assert!(
        report
            .of(r::HALT_AFS_CLOSED)
            .all(|v| v.detail.contains("without waiting")),
        "{report}"
    );
    // The answers the clients still owed were dropped, not run into the halted driver.
    let halt_returned = first(&report, "<-", "MiniportHaltEx");
    assert!(
        report.events[halt_returned..]
            .iter()
            .all(|e| e.name != "ProtocolCmCloseAf" && e.name != "ProtocolCmNotifyCloseAfComplete"),
        "{report}"
    );
}

#[test]
fn a_pended_notify_close_is_answered_by_pump_when_the_test_asks() {
    let net = up_pending_notify_close(Fault::None);
    // Issue the notification outside halt: the client owes its answer until pumped.
    let af = net.caller_af;
    // SAFETY: an AF handle the emulator gave; this thread is CPU 0 at PASSIVE_LEVEL.
    let status = unsafe { NdisMCmNotifyCloseAddressFamily(af.0 as NDIS_HANDLE) };
    assert_eq!(status, NDIS_STATUS_PENDING);
    assert!(
        !net.emu
            .inbox(net.caller)
            .iter()
            .any(|l| l.starts_with("CloseAfComplete"))
    );
    net.emu.pump();
    let inbox = net.emu.inbox(net.caller);
    assert!(inbox.iter().any(|l| l.starts_with("CloseAfComplete")), "{inbox:?}");
    assert!(
        inbox.iter().any(|l| l.starts_with("NotifyCloseAfComplete")),
        "{inbox:?}"
    );
    let report = down(net);
    assert!(report.is_clean(), "{report}");
}

#[test]
fn sync_wait_forever_fires_on_an_event_nobody_sets() {
    let net = up(Fault::WaitOnAnEventNobodySets);
    let report = down(net);
    only(&report, sync::SYNC_WAIT_FOREVER);
    let v = report.of(sync::SYNC_WAIT_FOREVER).next().expect("fired");
    assert!(v.detail.contains("MiniportHaltEx waits for ever"), "{v}");
    assert_eq!(wait_results(), [false], "the wait returns FALSE so the run goes on");
}

#[test]
fn sync_event_valid_fires_on_an_uninitialized_event() {
    let net = up(Fault::SetAnUninitializedEvent);
    let report = down(net);
    only(&report, sync::SYNC_EVENT_VALID);
}

#[test]
fn irql_limit_fires_on_a_wait_under_a_spin_lock() {
    let net = up(Fault::WaitUnderASpinLock);
    let report = down(net);
    only(&report, rules::IRQL_LIMIT);
    let v = report.of(rules::IRQL_LIMIT).next().expect("fired");
    assert_eq!(v.call, "NdisWaitEvent", "{v}");
    assert_eq!(wait_results(), [false], "no wait at DISPATCH_LEVEL");
}

#[test]
fn a_wait_runs_the_drivers_own_work_item_and_returns_true() {
    let net = up(Fault::WaitForOwnWorkItem);
    let report = down(net);
    assert!(report.is_clean(), "{report}");
    assert_eq!(wait_results(), [true]);
    let wait = first(&report, "=>", "NdisWaitEvent");
    let routine = first(&report, "->", "WorkItemRoutine");
    assert!(wait < routine, "the routine ran inside the wait:\n{report}");
}

#[test]
fn a_timed_wait_on_an_event_nobody_sets_times_out_in_virtual_time() {
    set_fault(Fault::WaitBriefly);
    let mut emu = Emulator::new();
    emu.load(fixture_cm::driver_entry).expect("load");
    emu.add_adapter().expect("adapter");
    let before = emu.system_time();
    emu.halt_adapter().expect("halt");
    assert_eq!(emu.system_time() - before, 5 * ndis_emu::sched::TICKS_PER_MS);
    emu.unload().expect("unload");
    let report = emu.finish();
    assert!(report.is_clean(), "{report}");
    assert_eq!(wait_results(), [false]);
}

#[test]
fn a_multipoint_call_adds_and_drops_parties_and_closes_with_the_last() {
    let net = up(Fault::None);
    let vc = net.emu.create_vc(net.caller_af).expect("VC");
    let (status, first) = net.emu.make_multipoint_call(vc, &to(b"leaves"));
    assert_eq!(status, NDIS_STATUS_SUCCESS);
    assert!(first.is_some());
    let (status, second) = net.emu.add_party(vc, &to(b"leaf-2"));
    assert_eq!(status, NDIS_STATUS_SUCCESS);
    assert_eq!(net.emu.parties(vc).len(), 2);
    // NDIS refuses to drop the last party: that is what close call is for.
    assert_eq!(net.emu.drop_party(second.expect("party"), &[]), NDIS_STATUS_SUCCESS);
    assert_eq!(net.emu.drop_party(first.expect("party"), &[]), NDIS_STATUS_FAILURE);
    assert_eq!(net.emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS);
    assert!(net.emu.parties(vc).is_empty());
    let report = down(net);
    assert!(report.is_clean(), "{report}");
}

#[test]
fn party_incoming_drop_not_last_fires_on_the_last_party() {
    let net = up(Fault::IncomingDropOfLastParty);
    let vc = net.emu.create_vc(net.caller_af).expect("VC");
    let _ = net.emu.make_multipoint_call(vc, &to(b"leaves"));
    only(&down(net), r::PARTY_INCOMING_DROP_NOT_LAST);
}

#[test]
fn oid_queries_reach_the_miniport_or_the_call_manager_and_report_their_bytes() {
    let net = up(Fault::None);
    let (_, r) = net.emu.oid_query(None, None, OID_GEN_CO_VENDOR_ID, 4).expect("query");
    assert_eq!((r.status, r.bytes_done), (NDIS_STATUS_SUCCESS, 4));
    assert_eq!(r.data, 0x00C0_FFEEu32.to_ne_bytes());
    let (_, short) = net.emu.oid_query(None, None, OID_GEN_CO_VENDOR_ID, 2).expect("query");
    assert_eq!((short.status, short.bytes_needed), (NDIS_STATUS_BUFFER_TOO_SHORT, 4));
    let af = net.caller_af;
    let (_, cm) = net
        .emu
        .oid_query(Some(af), None, OID_GEN_CO_VENDOR_ID, 4)
        .expect("query");
    assert_eq!(cm.status, NDIS_STATUS_INVALID_OID);
    let report = down(net);
    assert!(report.is_clean(), "{report}");
}

#[test]
fn a_pended_call_manager_oid_completes_through_ndis_mcm_oid_request_complete() {
    let net = up(Fault::PendCmOid);
    let af = net.caller_af;
    let (id, r) = net
        .emu
        .oid_query(Some(af), None, OID_GEN_CO_VENDOR_ID, 4)
        .expect("query");
    assert_eq!(r.status, NDIS_STATUS_PENDING);
    complete_cm_oid();
    assert_eq!(net.emu.oid_result(id).map(|r| r.status), Some(NDIS_STATUS_INVALID_OID));
    let report = down(net);
    assert!(report.is_clean(), "{report}");
}

#[test]
fn oid_completion_matches_path_fires_on_the_miniport_completion_of_a_cm_request() {
    let net = up(Fault::CompleteCmOidAsMiniport);
    let af = net.caller_af;
    let _ = net
        .emu
        .oid_query(Some(af), None, OID_GEN_CO_VENDOR_ID, 4)
        .expect("query");
    complete_cm_oid();
    only(&down(net), r::OID_COMPLETION_MATCHES_PATH);
}

#[test]
fn oid_bytes_within_buffer_fires_on_overstated_bytes_written() {
    let net = up(Fault::OverstateBytesWritten);
    let _ = net.emu.oid_query(None, None, OID_GEN_CO_VENDOR_ID, 4).expect("query");
    only(&down(net), r::OID_BYTES_WITHIN_BUFFER);
}

/// The same rule on a failure: BUFFER_TOO_SHORT must ask for more than the
/// buffer it got.
#[test]
fn oid_bytes_within_buffer_fires_on_a_too_short_that_needs_no_more() {
    let net = up(Fault::TooShortNeedingItsOwnLength);
    let _ = net.emu.oid_query(None, None, OID_GEN_CO_VENDOR_ID, 2).expect("query");
    only(&down(net), r::OID_BYTES_WITHIN_BUFFER);
}

/// INVALID_LENGTH with BytesNeeded equal to the length it refused names no
/// correct length: the rule fires.
#[test]
fn oid_bytes_within_buffer_fires_on_an_invalid_length_that_needs_its_own_length() {
    let net = up(Fault::InvalidLengthNeedingItsOwnLength);
    let _ = net.emu.oid_query(None, None, OID_GEN_CO_VENDOR_ID, 8).expect("query");
    only(&down(net), r::OID_BYTES_WITHIN_BUFFER);
}

/// INVALID_LENGTH for a buffer longer than the structure, with the
/// structure's size in BytesNeeded (MiniportCoOidRequest: a length
/// "incorrect for the specified OID"), breaks no rule.
#[test]
fn oid_bytes_within_buffer_allows_an_invalid_length_that_needs_less() {
    let net = up(Fault::InvalidLengthNeedingTheStructure);
    let (_, answer) = net.emu.oid_query(None, None, OID_GEN_CO_VENDOR_ID, 8).expect("query");
    assert_eq!((answer.status, answer.bytes_needed), (NDIS_STATUS_INVALID_LENGTH, 4));
    let report = down(net);
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
}

#[test]
fn status_indication_valid_fires_on_a_foreign_source_handle() {
    let mut net = up(Fault::StatusFromAForeignSource);
    let _ = call(&mut net);
    only(&down(net), r::STATUS_INDICATION_VALID);
}

#[test]
fn mcm_request_on_open_af_fires_on_an_oid_to_a_closed_af() {
    let net = up(Fault::McmOidToAClosedAf);
    let af = net.caller_af;
    assert_eq!(net.emu.close_af(af), NDIS_STATUS_SUCCESS);
    only(&down(net), r::MCM_REQUEST_ON_OPEN_AF);
}

#[test]
fn data_flows_both_ways_over_a_call_and_every_send_completes() {
    for mode in [Fault::None, Fault::HoldUntilReturned] {
        let mut net = up(mode);
        let (vc, status) = call(&mut net);
        assert_eq!(status, NDIS_STATUS_SUCCESS);
        net.emu.send(vc, &[b"hello", b"world"]).expect("send");
        assert_eq!(
            net.emu.received(net.callee),
            vec![b"hello".to_vec(), b"world".to_vec()],
            "{mode:?}"
        );
        let back = net.emu.offered_vcs(net.callee)[0];
        net.emu.send(back, &[b"reply"]).expect("send back");
        assert_eq!(net.emu.received(net.caller), vec![b"reply".to_vec()]);
        assert_eq!(net.emu.send_results(net.caller), vec![NDIS_STATUS_SUCCESS; 2]);
        assert_eq!(net.emu.send_results(net.callee), vec![NDIS_STATUS_SUCCESS]);
        let lone = net.emu.create_vc(net.caller_af).expect("VC");
        net.emu.send(lone, &[b"nobody"]).expect("send");
        assert_eq!(
            net.emu.send_results(net.caller).last(),
            Some(&NDIS_STATUS_VC_NOT_ACTIVATED)
        );
        let report = down(net);
        assert!(report.is_clean(), "{mode:?}: {report}");
        if mode == Fault::HoldUntilReturned {
            assert!(report.events.iter().any(|e| e.name == "MiniportReturnNetBufferLists"));
        }
    }
}

#[test]
fn data_send_complete_once_fires_on_a_double_completion() {
    let mut net = up(Fault::CompleteSendsTwice);
    let (vc, _) = call(&mut net);
    net.emu.send(vc, &[b"x"]).expect("send");
    only(&down(net), r::DATA_SEND_COMPLETE_ONCE);
}

#[test]
fn data_send_status_fires_on_an_unset_status() {
    let mut net = up(Fault::LeaveSendStatusUnset);
    let (vc, _) = call(&mut net);
    net.emu.send(vc, &[b"x"]).expect("send");
    only(&down(net), r::DATA_SEND_STATUS);
}

#[test]
fn data_receive_valid_fires_on_a_foreign_source_handle() {
    let mut net = up(Fault::ReceiveFromTheSender);
    let (vc, _) = call(&mut net);
    net.emu.send(vc, &[b"x"]).expect("send");
    only(&down(net), r::DATA_RECEIVE_VALID);
}

#[test]
fn data_drain_before_deactivate_fires_with_a_send_held() {
    let mut net = up(Fault::HoldSendsAndClose);
    let (vc, _) = call(&mut net);
    net.emu.send(vc, &[b"x"]).expect("send");
    let _ = net.emu.close_call(vc, &[]);
    only(&down(net), r::DATA_DRAIN_BEFORE_DEACTIVATE);
}

//! covmini's call manager under ndis-emu's scripted clients (issue #4,
//! paths 1–7 and 12): address families, SAPs, client VCs and the loopback
//! call, each path with the outcome a client sees (statuses, inbox lines,
//! NDIS's view of the VC) and a clean report: no contract violation, no
//! leak. Path 12 is halt with calls, SAPs and AFs still open, and clients
//! that pend their answer to the notify-close, deterministically and with a
//! client closing on another CPU while HaltEx waits.
//!
//! Where NDIS lets the client answer either way (an incoming call), each
//! path runs with a synchronous and a pended answer.

mod common;

use common::scenario::{Pair, assert_clean, call_to, pair, with_adapter};

use covmini::call_manager::SAP_TYPE_ADDRESS;
use covmini::config;
use ndis_emu::{Answer, CallState, Emulator, Report, Vc};
use ndis_sys::*;

// --- Helpers ------------------------------------------------------------------------

/// Alice calls bob, who accepts (synchronously or not); returns bob's VC.
fn connect(emu: &mut Emulator, p: &Pair, answer: Answer) -> Vc {
    let status = emu.make_call(p.vc, &call_to(b"bob"));
    let offered = emu.offered_vcs(p.bob);
    let bob_vc = *offered.last().expect("bob was offered the call");
    match answer {
        Answer::Sync => assert_eq!(status, NDIS_STATUS_SUCCESS),
        Answer::Pend => {
            assert_eq!(status, NDIS_STATUS_PENDING, "the make call waits for bob");
            assert_eq!(emu.vc_state(bob_vc), Some((CallState::Offered, true)));
            emu.answer_incoming(bob_vc, NDIS_STATUS_SUCCESS).expect("bob answers");
            assert_eq!(
                emu.inbox(p.alice).last().map(String::as_str),
                Some("MakeCallComplete 0x0")
            );
        }
    }
    assert_eq!(emu.vc_state(p.vc), Some((CallState::Connected, true)));
    assert_eq!(emu.vc_state(bob_vc), Some((CallState::Connected, true)));
    bob_vc
}

fn has(inbox: &[String], prefix: &str) -> bool {
    inbox.iter().any(|l| l.starts_with(prefix))
}

// --- Path 1: address families --------------------------------------------------------

#[test]
fn a_client_opens_and_closes_the_af_synchronously() {
    let report = with_adapter(|emu| {
        let c = emu.client("c");
        let af = emu.open_af(c, config::AF).expect("open");
        assert_eq!(emu.inbox(c), ["OpenAfComplete 0x0"]);
        assert_eq!(emu.close_af(af), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.inbox(c).last().map(String::as_str), Some("CloseAfComplete 0x0"));
    });
    assert_clean(&report);
    let allocs = report
        .events
        .iter()
        .filter(|e| e.name == "ExInitializeNPagedLookasideList")
        .map(|e| e.detail())
        .collect::<Vec<_>>()
        .join(" ");
    for tag in ["CvmF", "CvmS", "CvmV", "CvmP", "CvmC"] {
        assert!(allocs.contains(tag), "a list tagged {tag}: {allocs}");
    }
}

#[test]
fn an_af_version_covmini_does_not_speak_is_bad_version() {
    let report = with_adapter(|emu| {
        let c = emu.client("c");
        let newer = CO_ADDRESS_FAMILY {
            MajorVersion: config::AF_MAJOR_VERSION + 1,
            ..config::AF
        };
        assert_eq!(emu.open_af(c, newer), Err(NDIS_STATUS_BAD_VERSION));
        assert_eq!(emu.inbox(c), [format!("OpenAfComplete {NDIS_STATUS_BAD_VERSION:#x}")]);
    });
    assert_clean(&report);
}

#[test]
fn closing_an_af_with_a_sap_pends_until_the_sap_is_deregistered() {
    let report = with_adapter(|emu| {
        let c = emu.client("c");
        let af = emu.open_af(c, config::AF).expect("open");
        let sap = emu.register_sap(af, SAP_TYPE_ADDRESS, b"svc").expect("sap");
        assert_eq!(emu.close_af(af), NDIS_STATUS_PENDING);
        assert!(!has(&emu.inbox(c), "CloseAfComplete"));
        assert_eq!(emu.deregister_sap(sap), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.inbox(c).last().map(String::as_str), Some("CloseAfComplete 0x0"));
    });
    assert_clean(&report);
}

#[test]
fn closing_an_af_with_a_vc_pends_until_the_vc_is_deleted() {
    let report = with_adapter(|emu| {
        let c = emu.client("c");
        let af = emu.open_af(c, config::AF).expect("open");
        let vc = emu.create_vc(af).expect("vc");
        assert_eq!(emu.close_af(af), NDIS_STATUS_PENDING);
        assert_eq!(emu.delete_vc(vc), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.inbox(c).last().map(String::as_str), Some("CloseAfComplete 0x0"));
    });
    assert_clean(&report);
}

#[test]
fn halt_asks_every_client_to_close_its_af_and_everything_is_freed() {
    let report = with_adapter(|emu| {
        let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
        connect(emu, &p, Answer::Sync);
        // A second, idle client VC and an unused SAP stay for halt too.
        emu.create_vc(p.bob_af).expect("vc");
        emu.register_sap(p.alice_af, SAP_TYPE_ADDRESS, b"alice").expect("sap");
    });
    assert_clean(&report);
    let notified = report
        .events
        .iter()
        .filter(|e| e.name == "NdisCmNotifyCloseAddressFamily")
        .count();
    assert_eq!(notified, 2, "one notification per open AF");
}

// --- Path 2: SAPs ------------------------------------------------------------------------

#[test]
fn a_sap_registers_and_deregisters_synchronously() {
    let report = with_adapter(|emu| {
        let c = emu.client("c");
        let af = emu.open_af(c, config::AF).expect("open");
        let sap = emu
            .register_sap(af, SAP_TYPE_ADDRESS, &[0xAB; 32])
            .expect("32 bytes is the limit");
        assert_eq!(emu.deregister_sap(sap), NDIS_STATUS_SUCCESS);
        // The address is free again.
        emu.register_sap(af, SAP_TYPE_ADDRESS, &[0xAB; 32]).expect("again");
    });
    assert_clean(&report);
}

#[test]
fn a_sap_address_already_registered_on_the_adapter_is_invalid_data() {
    let report = with_adapter(|emu| {
        let a = emu.client("a");
        let b = emu.client("b");
        let af_a = emu.open_af(a, config::AF).expect("open");
        let af_b = emu.open_af(b, config::AF).expect("open");
        emu.register_sap(af_a, SAP_TYPE_ADDRESS, b"shared").expect("first");
        assert_eq!(
            emu.register_sap(af_b, SAP_TYPE_ADDRESS, b"shared"),
            Err(NDIS_STATUS_INVALID_DATA),
            "another client's SAP"
        );
        assert_eq!(
            emu.register_sap(af_a, SAP_TYPE_ADDRESS, b"shared"),
            Err(NDIS_STATUS_INVALID_DATA),
            "the same client's SAP"
        );
    });
    assert_clean(&report);
}

#[test]
fn malformed_saps_are_invalid_data() {
    let report = with_adapter(|emu| {
        let c = emu.client("c");
        let af = emu.open_af(c, config::AF).expect("open");
        assert_eq!(
            emu.register_sap(af, 0, b"x"),
            Err(NDIS_STATUS_INVALID_DATA),
            "wrong type"
        );
        assert_eq!(
            emu.register_sap(af, SAP_TYPE_ADDRESS, b""),
            Err(NDIS_STATUS_INVALID_DATA),
            "empty"
        );
        assert_eq!(
            emu.register_sap(af, SAP_TYPE_ADDRESS, &[1; 33]),
            Err(NDIS_STATUS_INVALID_DATA),
            "too long"
        );
    });
    assert_clean(&report);
}

// --- Path 3: client VCs ---------------------------------------------------------------------

#[test]
fn a_client_creates_and_deletes_vcs() {
    let report = with_adapter(|emu| {
        let c = emu.client("c");
        let af = emu.open_af(c, config::AF).expect("open");
        let vcs: Vec<Vc> = (0..4).map(|_| emu.create_vc(af).expect("vc")).collect();
        for vc in &vcs {
            assert_eq!(emu.vc_state(*vc), Some((CallState::Idle, false)));
        }
        for vc in vcs {
            assert_eq!(emu.delete_vc(vc), NDIS_STATUS_SUCCESS);
            assert_eq!(emu.vc_state(vc), None);
        }
        assert_eq!(emu.close_af(af), NDIS_STATUS_SUCCESS);
    });
    assert_clean(&report);
}

// --- Path 4: make call, accepted -------------------------------------------------------------

fn accepted(answer: Answer) {
    let report = with_adapter(|emu| {
        let p = pair(emu, answer, NDIS_STATUS_SUCCESS);
        let bob_vc = connect(emu, &p, answer);
        let bob = emu.inbox(p.bob);
        assert!(
            has(
                &bob,
                &format!("IncomingCall VC {:#x} on SAP {:#x}", bob_vc.0, p.bob_sap.0)
            ),
            "{bob:?}"
        );
        assert!(has(&bob, &format!("CallConnected VC {:#x}", bob_vc.0)), "{bob:?}");
    });
    assert_clean(&report);
}

#[test]
fn a_call_to_a_registered_sap_connects_when_the_callee_accepts_at_once() {
    accepted(Answer::Sync);
}

#[test]
fn a_call_pends_until_the_callee_accepts_later() {
    accepted(Answer::Pend);
}

// --- Path 5: make call, rejected or unroutable -----------------------------------------------------

fn rejected(answer: Answer) {
    let report = with_adapter(|emu| {
        let p = pair(emu, answer, NDIS_STATUS_NOT_ACCEPTED);
        let status = emu.make_call(p.vc, &call_to(b"bob"));
        assert!(has(&emu.inbox(p.bob), "IncomingCall VC "), "bob was offered the call");
        match answer {
            Answer::Sync => assert_eq!(status, NDIS_STATUS_NOT_ACCEPTED),
            Answer::Pend => {
                assert_eq!(status, NDIS_STATUS_PENDING);
                let bob_vc = *emu.offered_vcs(p.bob).last().expect("bob's offered VC");
                emu.answer_incoming(bob_vc, NDIS_STATUS_NOT_ACCEPTED)
                    .expect("bob rejects");
                assert_eq!(
                    emu.inbox(p.alice).last().map(String::as_str),
                    Some(format!("MakeCallComplete {NDIS_STATUS_NOT_ACCEPTED:#x}").as_str())
                );
            }
        }
        assert_eq!(
            emu.vc_state(p.vc),
            Some((CallState::Closed, false)),
            "alice's VC is left inactive"
        );
        assert!(has(&emu.inbox(p.bob), "DeleteVc"), "bob's offered VC was deleted");
        assert!(emu.offered_vcs(p.bob).is_empty());
        // The VC can be deleted, or used again.
        assert_eq!(emu.delete_vc(p.vc), NDIS_STATUS_SUCCESS);
    });
    assert_clean(&report);
}

#[test]
fn a_call_the_callee_rejects_at_once_fails_with_its_status() {
    rejected(Answer::Sync);
}

#[test]
fn a_pended_call_the_callee_rejects_later_completes_with_its_status() {
    rejected(Answer::Pend);
}

#[test]
fn a_call_to_an_address_with_no_sap_is_no_route_and_activates_nothing() {
    let report = with_adapter(|emu| {
        let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
        assert_eq!(
            emu.make_call(p.vc, &call_to(b"carol")),
            NDIS_STATUS_NO_ROUTE_TO_DESTINATION
        );
        assert_eq!(emu.vc_state(p.vc), Some((CallState::Closed, false)));
        assert!(emu.offered_vcs(p.bob).is_empty());
        assert!(!has(&emu.inbox(p.bob), "IncomingCall"));
    });
    assert_clean(&report);
    assert!(!report.events.iter().any(|e| e.name == "NdisMCmActivateVc"));
}

#[test]
fn a_call_whose_called_address_is_malformed_is_invalid_address() {
    let report = with_adapter(|emu| {
        let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
        let mut wrong_type = call_to(b"bob");
        wrong_type.media_specific_type = SAP_TYPE_ADDRESS;
        assert_eq!(emu.make_call(p.vc, &wrong_type), NDIS_STATUS_INVALID_ADDRESS);
        assert_eq!(emu.make_call(p.vc, &call_to(b"")), NDIS_STATUS_INVALID_ADDRESS);
        assert_eq!(emu.make_call(p.vc, &call_to(&[1; 33])), NDIS_STATUS_INVALID_ADDRESS);
        assert_eq!(emu.vc_state(p.vc), Some((CallState::Closed, false)));
    });
    assert_clean(&report);
}

#[test]
fn a_callee_whose_client_refuses_the_vc_fails_the_call() {
    let report = with_adapter(|emu| {
        let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
        emu.set_create_vc_status(p.bob, NDIS_STATUS_RESOURCES);
        assert_eq!(emu.make_call(p.vc, &call_to(b"bob")), NDIS_STATUS_RESOURCES);
        assert_eq!(emu.vc_state(p.vc), Some((CallState::Closed, false)));
    });
    assert_clean(&report);
}

// --- Paths 6 and 7: close from either side ----------------------------------------------------------

fn caller_closes(answer: Answer) {
    let report = with_adapter(|emu| {
        let p = pair(emu, answer, NDIS_STATUS_SUCCESS);
        let bob_vc = connect(emu, &p, answer);
        assert_eq!(emu.close_call(p.vc, &[]), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.vc_state(p.vc), Some((CallState::Closed, false)));
        let bob = emu.inbox(p.bob);
        assert!(
            has(&bob, &format!("IncomingCloseCall 0x0 VC {:#x}", bob_vc.0)),
            "{bob:?}"
        );
        assert!(has(&bob, &format!("DeleteVc {:#x}", bob_vc.0)), "{bob:?}");
        assert_eq!(emu.vc_state(bob_vc), None, "covmini deleted its VC after the close");
        assert_eq!(emu.delete_vc(p.vc), NDIS_STATUS_SUCCESS);
    });
    assert_clean(&report);
}

#[test]
fn the_caller_hangs_up_a_call_accepted_at_once() {
    caller_closes(Answer::Sync);
}

#[test]
fn the_caller_hangs_up_a_call_accepted_later() {
    caller_closes(Answer::Pend);
}

fn callee_closes(answer: Answer) {
    let report = with_adapter(|emu| {
        let p = pair(emu, answer, NDIS_STATUS_SUCCESS);
        let bob_vc = connect(emu, &p, answer);
        assert_eq!(emu.close_call(bob_vc, &[]), NDIS_STATUS_SUCCESS);
        assert_eq!(
            emu.vc_state(bob_vc),
            None,
            "covmini deleted its VC after the close completed"
        );
        let alice = emu.inbox(p.alice);
        assert!(
            has(&alice, &format!("IncomingCloseCall 0x0 VC {:#x}", p.vc.0)),
            "{alice:?}"
        );
        assert_eq!(
            alice.last().map(String::as_str),
            Some("CloseCallComplete 0x0"),
            "alice closed her side"
        );
        assert_eq!(emu.vc_state(p.vc), Some((CallState::Closed, false)));
        // Alice's VC can carry a new call.
        let again = connect(emu, &p, answer);
        assert_ne!(again, bob_vc);
        assert_eq!(emu.close_call(p.vc, &[]), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.delete_vc(p.vc), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.deregister_sap(p.bob_sap), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.close_af(p.bob_af), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.close_af(p.alice_af), NDIS_STATUS_SUCCESS);
    });
    assert_clean(&report);
}

#[test]
fn the_callee_hangs_up_a_call_it_accepted_at_once() {
    callee_closes(Answer::Sync);
}

#[test]
fn the_callee_hangs_up_a_call_it_accepted_later() {
    callee_closes(Answer::Pend);
}

#[test]
fn a_close_with_close_data_is_invalid_data_and_the_call_stays_up() {
    let report = with_adapter(|emu| {
        let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
        connect(emu, &p, Answer::Sync);
        assert_eq!(emu.close_call(p.vc, b"bye"), NDIS_STATUS_INVALID_DATA);
        assert_eq!(emu.vc_state(p.vc), Some((CallState::Connected, true)));
    });
    assert_clean(&report);
}

#[test]
fn the_callee_deregistering_its_sap_keeps_its_calls() {
    let report = with_adapter(|emu| {
        let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
        let bob_vc = connect(emu, &p, Answer::Sync);
        assert_eq!(emu.deregister_sap(p.bob_sap), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.vc_state(bob_vc), Some((CallState::Connected, true)));
        let vc = emu.create_vc(p.alice_af).expect("vc");
        assert_eq!(emu.make_call(vc, &call_to(b"bob")), NDIS_STATUS_NO_ROUTE_TO_DESTINATION);
    });
    assert_clean(&report);
}

/// The call-manager traffic of `report` from the first ProtocolCmMakeCall
/// up to halt: handler entries and NDIS calls, in order.
fn call_traffic(report: &Report) -> Vec<&'static str> {
    report
        .events
        .iter()
        .filter(|e| e.dir != "<-")
        .map(|e| e.name)
        .skip_while(|n| *n != "ProtocolCmMakeCall")
        .take_while(|n| *n != "MiniportPause")
        .filter(|n| n.starts_with("NdisCm") || n.starts_with("NdisMCm") || n.starts_with("ProtocolC"))
        .collect()
}

#[test]
fn a_pended_call_and_a_callee_close_make_their_ndis_calls_in_contract_order() {
    let report = with_adapter(|emu| {
        let p = pair(emu, Answer::Pend, NDIS_STATUS_SUCCESS);
        let bob_vc = connect(emu, &p, Answer::Pend);
        assert_eq!(emu.close_call(bob_vc, &[]), NDIS_STATUS_SUCCESS);
    });
    assert_clean(&report);
    assert_eq!(
        call_traffic(&report),
        [
            "ProtocolCmMakeCall",
            "NdisMCmCreateVc",
            // Both VCs active before the offer and before any SUCCESS (seed page).
            "NdisMCmActivateVc",
            "NdisMCmActivateVc",
            "NdisCmDispatchIncomingCall",
            // Bob answers later: covmini's pended make call completes then.
            "ProtocolCmIncomingCallComplete",
            "NdisCmDispatchCallConnected",
            "NdisCmMakeCallComplete",
            // Bob hangs up: deactivate, tell alice, complete, then delete
            // the VC covmini created (seed NdisMCmCloseCallComplete).
            "ProtocolCmCloseCall",
            "NdisMCmDeactivateVc",
            "NdisCmDispatchIncomingCloseCall",
            "NdisCmCloseCallComplete",
            "NdisMCmDeleteVc",
            // Alice answers the incoming close.
            "ProtocolCmCloseCall",
            "NdisMCmDeactivateVc",
        ]
    );
}

#[test]
fn a_call_accepted_at_once_is_connected_before_the_make_call_returns() {
    let report = with_adapter(|emu| {
        let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
        connect(emu, &p, Answer::Sync);
    });
    assert_clean(&report);
    let traffic = call_traffic(&report);
    assert_eq!(
        traffic.get(..7),
        Some(
            &[
                "ProtocolCmMakeCall",
                "NdisMCmCreateVc",
                "NdisMCmActivateVc",
                "NdisMCmActivateVc",
                "NdisCmDispatchIncomingCall",
                // NDIS re-enters covmini inside the dispatch (contract §2.3).
                "ProtocolCmIncomingCallComplete",
                "NdisCmDispatchCallConnected",
            ][..]
        )
    );
    assert!(
        !traffic.contains(&"NdisCmMakeCallComplete"),
        "the handler returned SUCCESS itself"
    );
}

#[test]
fn sends_on_a_connected_call_reach_the_callee_and_complete() {
    let report = with_adapter(|emu| {
        let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
        connect(emu, &p, Answer::Sync);
        emu.send(p.vc, &[b"hello", b"world"]).expect("send");
        assert_eq!(emu.send_results(p.alice), [NDIS_STATUS_SUCCESS, NDIS_STATUS_SUCCESS]);
        assert_eq!(emu.received(p.bob), [b"hello".to_vec(), b"world".to_vec()]);
    });
    assert_clean(&report);
}

// --- Path 12: halt with calls, SAPs and AFs open; clients that close later -----

/// Alice and bob connected, bob with a second idle VC, alice with an unused
/// SAP; both answer NdisMCmNotifyCloseAddressFamily by pending and closing
/// later (ProtocolClNotifyCloseAf returns PENDING).
fn everything_open_and_pending_notify_close(emu: &mut Emulator) -> Pair {
    let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
    connect(emu, &p, Answer::Sync);
    emu.create_vc(p.bob_af).expect("bob's idle VC");
    emu.register_sap(p.alice_af, SAP_TYPE_ADDRESS, b"alice")
        .expect("alice's SAP");
    emu.set_notify_close_answer(p.alice, Answer::Pend);
    emu.set_notify_close_answer(p.bob, Answer::Pend);
    p
}

/// The trace positions of the `dir` events named `name`.
fn positions(report: &Report, dir: &str, name: &str) -> Vec<usize> {
    report
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.dir == dir && e.name == name)
        .map(|(i, _)| i)
        .collect()
}

/// What both modes must show: HaltEx waited for both pended notifications;
/// each client's calls, VCs, SAPs and AF went through covmini's ordinary
/// handlers after HaltEx began waiting; the adapter was freed only after the
/// last ProtocolCmNotifyCloseAfComplete; and HaltEx returned after that.
fn assert_halt_waited_for_the_clients(report: &Report) {
    assert_clean(report);
    let halt_enter = positions(report, "->", "MiniportHaltEx");
    let halt_return = positions(report, "<-", "MiniportHaltEx");
    let (Some(&halt_enter), Some(&halt_return)) = (halt_enter.first(), halt_return.first()) else {
        panic!("no HaltEx in the trace:\n{report}");
    };
    assert_eq!(
        positions(report, "=>", "NdisCmNotifyCloseAddressFamily").len(),
        2,
        "{report}"
    );
    let wait = positions(report, "=>", "NdisWaitEvent");
    let wait = *wait.first().unwrap_or_else(|| panic!("HaltEx never waited:\n{report}"));
    assert!(halt_enter < wait && wait < halt_return, "{report}");
    // Both clients' teardown, through the proper paths, inside the wait.
    for (dir, name, count) in [
        ("->", "ProtocolCmCloseCall", 2),
        ("->", "ProtocolCoDeleteVc", 2),
        ("->", "ProtocolCmDeregisterSap", 2),
        ("->", "ProtocolCmCloseAf", 2),
        ("->", "ProtocolCmNotifyCloseAfComplete", 2),
    ] {
        let at = positions(report, dir, name);
        assert_eq!(at.len(), count, "{name}:\n{report}");
        assert!(
            at.iter().all(|i| wait < *i && *i < halt_return),
            "{name} outside the wait:\n{report}"
        );
    }
    // The adapter (pool tag CvmA) is freed after the last completion.
    let last_complete = positions(report, "->", "ProtocolCmNotifyCloseAfComplete")
        .into_iter()
        .max()
        .unwrap_or(usize::MAX);
    let freed = report
        .events
        .iter()
        .position(|e| e.name == "NdisFreeMemoryWithTagPriority" && e.detail().ends_with("tag CvmA"))
        .unwrap_or_else(|| panic!("the adapter was never freed:\n{report}"));
    assert!(last_complete < freed && freed < halt_return, "{report}");
}

#[test]
fn halt_waits_for_clients_that_pend_their_notify_close_and_tears_everything_down() {
    let mut emu = Emulator::new();
    emu.load(common::driver::driver_entry()).expect("DriverEntry");
    emu.add_adapter().expect("adapter");
    let p = everything_open_and_pending_notify_close(&mut emu);
    emu.halt_adapter().expect("halt");
    for client in [p.alice, p.bob] {
        let inbox = emu.inbox(client);
        assert!(has(&inbox, "NotifyCloseAf "), "{inbox:?}");
        assert!(has(&inbox, "CloseAfComplete 0x0"), "{inbox:?}");
        assert!(has(&inbox, "NotifyCloseAfComplete"), "{inbox:?}");
    }
    emu.unload().expect("unload");
    assert_halt_waited_for_the_clients(&emu.finish());
}

#[test]
fn halt_waits_while_the_clients_close_on_another_cpu() {
    for seed in [1, 2, 3] {
        let mut emu = Emulator::threaded(seed, 1);
        emu.load(common::driver::driver_entry()).expect("DriverEntry");
        emu.add_adapter().expect("adapter");
        everything_open_and_pending_notify_close(&mut emu);
        emu.halt_adapter().expect("halt");
        emu.unload().expect("unload");
        let report = emu.finish();
        assert_halt_waited_for_the_clients(&report);
        // HaltEx blocked on CPU 0; the clients' closes, and the completion
        // that woke it, ran on another CPU meanwhile.
        let wait = report
            .events
            .iter()
            .find(|e| e.name == "NdisWaitEvent")
            .expect("waited");
        assert_eq!(wait.cpu, 0, "{report}");
        for e in report
            .events
            .iter()
            .filter(|e| e.dir == "->" && e.name == "ProtocolCmNotifyCloseAfComplete")
        {
            assert_ne!(e.cpu, 0, "seed {seed}: {e}\n{report}");
        }
        let woke = report
            .events
            .iter()
            .find(|e| e.name == "NdisWaitEvent" && e.detail().contains("signalled"))
            .unwrap_or_else(|| panic!("seed {seed}: the wait did not end signalled:\n{report}"));
        assert!(woke.detail().contains("by another CPU"), "{woke}");
    }
}

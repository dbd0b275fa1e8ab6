//! covmini paused, restarted, notified of PnP events and asked to cancel
//! sends in the middle of a run (issue #4, rows 11 and 12), under ndis-emu.
//!
//! What it proves, each with a clean report (no rule broken, nothing
//! leaked): a pause with nothing in flight completes at once; a pause while
//! a client holds receive NBLs pends, refuses new sends with
//! NDIS_STATUS_PAUSED, and completes (NdisMPauseComplete) when the client
//! returns them, the held sends then completing with SUCCESS; a restart
//! reopens the data path; call control goes on while paused; PnP events are
//! taken without harm; MiniportCancelSend cannot recall a delivered send,
//! and every send still completes exactly once; sends on a VC whose close
//! is pending fail per NBL; and in the threaded mode, pauses racing another
//! CPU's sends end with every send completed exactly once.

mod common;

use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};

use common::scenario::{assert_clean, call_to, with_adapter};

use covmini::call_manager::{ECHO_ADDRESS, SAP_TYPE_ADDRESS};
use covmini::config;
use ndis_emu::{Answer, CallState, Client, DataPath, Emulator, Vc};
use ndis_sys::*;

fn counter(emu: &Emulator, vc: Option<Vc>, oid: NDIS_OID) -> u64 {
    let (_, r) = emu.oid_query(None, vc, oid, 8).expect("query");
    assert_eq!(r.status, NDIS_STATUS_SUCCESS, "OID {oid:#x}");
    let mut b = [0u8; 8];
    b.copy_from_slice(&r.data[..8]);
    u64::from_le_bytes(b)
}

/// How many times the driver called `ddi` so far.
fn calls_of(emu: &Emulator, ddi: &str) -> usize {
    emu.report()
        .events
        .iter()
        .filter(|e| e.dir == "=>" && e.name == ddi && !e.detail().starts_with("->"))
        .count()
}

/// alice calls bob (bob's SAP "bob"): (alice, bob, alice's VC, bob's VC).
fn alice_calls_bob(emu: &Emulator) -> (Client, Client, Vc, Vc) {
    let alice = emu.client("alice");
    let bob = emu.client("bob");
    let alice_af = emu.open_af(alice, config::AF).expect("alice AF");
    let bob_af = emu.open_af(bob, config::AF).expect("bob AF");
    emu.register_sap(bob_af, SAP_TYPE_ADDRESS, b"bob").expect("sap");
    let vc = emu.create_vc(alice_af).expect("vc");
    assert_eq!(emu.make_call(vc, &call_to(b"bob")), NDIS_STATUS_SUCCESS);
    let bob_vc = *emu.offered_vcs(bob).last().expect("offered");
    (alice, bob, vc, bob_vc)
}

#[test]
fn a_pause_with_nothing_in_flight_completes_at_once_and_restart_reopens_the_data_path() {
    let report = with_adapter(|emu| {
        let c = emu.client("c");
        let af = emu.open_af(c, config::AF).expect("AF");
        let vc = emu.create_vc(af).expect("vc");
        assert_eq!(emu.make_call(vc, &call_to(ECHO_ADDRESS)), NDIS_STATUS_SUCCESS);
        emu.send(vc, &[b"before"]).expect("send");

        assert_eq!(emu.pause_adapter(), Ok(NDIS_STATUS_SUCCESS));
        assert_eq!(emu.data_path(), Some(DataPath::Paused));
        assert_eq!(
            calls_of(emu, "NdisMPauseComplete"),
            0,
            "a synchronous pause is not completed again"
        );
        // Paused: each NBL is refused with NDIS_STATUS_PAUSED, nothing echoed.
        emu.send(vc, &[b"during", b"pause"]).expect("send");
        assert_eq!(
            emu.send_results(c),
            [NDIS_STATUS_SUCCESS, NDIS_STATUS_PAUSED, NDIS_STATUS_PAUSED]
        );
        assert_eq!(emu.received(c), [b"before".to_vec()]);
        assert_eq!(counter(emu, Some(vc), OID_GEN_CO_XMIT_PDUS_ERROR), 2);
        assert_eq!(counter(emu, None, OID_GEN_CO_XMIT_PDUS_ERROR), 2);

        emu.restart_adapter().expect("restart");
        assert_eq!(emu.data_path(), Some(DataPath::Running));
        emu.send(vc, &[b"after"]).expect("send");
        assert_eq!(emu.received(c), [b"before".to_vec(), b"after".to_vec()]);
        assert_eq!(emu.send_results(c).last(), Some(&NDIS_STATUS_SUCCESS));
        assert_eq!(emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.delete_vc(vc), NDIS_STATUS_SUCCESS);
    });
    assert_clean(&report);
}

#[test]
fn a_pause_waits_for_held_receives_refuses_new_sends_and_completes_when_they_return() {
    let report = with_adapter(|emu| {
        let (alice, bob, vc, bob_vc) = alice_calls_bob(emu);
        emu.hold_receives(bob, true);
        emu.send(vc, &[b"one", b"two"]).expect("send");
        assert_eq!(emu.held_receives(bob), 2);
        assert!(
            emu.send_results(alice).is_empty(),
            "sends are held while bob holds their data"
        );

        assert_eq!(emu.pause_adapter(), Ok(NDIS_STATUS_PENDING));
        assert_eq!(emu.data_path(), Some(DataPath::Pausing));
        // Pausing: new sends fail at once, both ways, and nothing new arrives.
        emu.send(vc, &[b"refused"]).expect("send");
        emu.send(bob_vc, &[b"refused too"]).expect("send");
        assert_eq!(emu.send_results(alice), [NDIS_STATUS_PAUSED]);
        assert_eq!(emu.send_results(bob), [NDIS_STATUS_PAUSED]);
        assert!(emu.received(alice).is_empty());
        assert_eq!(calls_of(emu, "NdisMPauseComplete"), 0);

        // bob gives the receive NBLs back: the held sends complete, then the pause.
        assert_eq!(emu.return_held(bob), 2);
        assert_eq!(
            emu.send_results(alice),
            [NDIS_STATUS_PAUSED, NDIS_STATUS_SUCCESS, NDIS_STATUS_SUCCESS]
        );
        assert_eq!(emu.data_path(), Some(DataPath::Paused));
        assert!(emu.wait_for_pause());
        assert_eq!(calls_of(emu, "NdisMPauseComplete"), 1);
        assert_eq!(emu.received(bob), [b"one".to_vec(), b"two".to_vec()]);

        emu.hold_receives(bob, false);
        emu.restart_adapter().expect("restart");
        emu.send(vc, &[b"three"]).expect("send");
        assert_eq!(emu.received(bob).last(), Some(&b"three".to_vec()));
        assert_eq!(emu.send_results(alice).last(), Some(&NDIS_STATUS_SUCCESS));
        assert_eq!(emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS);
        emu.pump();
    });
    assert_clean(&report);
}

#[test]
fn a_halt_during_a_pending_pause_takes_the_held_receives_back_first() {
    let report = with_adapter(|emu| {
        let (_, bob, vc, _) = alice_calls_bob(emu);
        emu.hold_receives(bob, true);
        emu.send(vc, &[b"held at halt"]).expect("send");
        assert_eq!(emu.pause_adapter(), Ok(NDIS_STATUS_PENDING));
        // with_adapter halts now: bob unbinds (returns), the pause
        // completes, HaltEx tears the call down.
    });
    assert_clean(&report);
    assert_eq!(
        report
            .events
            .iter()
            .filter(|e| e.dir == "=>" && e.name == "NdisMPauseComplete")
            .count(),
        1
    );
}

#[test]
fn calls_closes_and_saps_go_on_while_paused_with_sync_and_pending_answers() {
    let report = with_adapter(|emu| {
        let alice = emu.client("alice");
        let bob = emu.client("bob");
        let carol = emu.client("carol");
        emu.set_incoming_answer(carol, Answer::Pend, NDIS_STATUS_SUCCESS);
        let alice_af = emu.open_af(alice, config::AF).expect("alice AF");
        assert_eq!(emu.pause_adapter(), Ok(NDIS_STATUS_SUCCESS));

        // AF opens and SAPs while paused.
        let bob_af = emu.open_af(bob, config::AF).expect("bob AF");
        let carol_af = emu.open_af(carol, config::AF).expect("carol AF");
        let bob_sap = emu.register_sap(bob_af, SAP_TYPE_ADDRESS, b"bob").expect("bob sap");
        emu.register_sap(carol_af, SAP_TYPE_ADDRESS, b"carol")
            .expect("carol sap");

        // A call answered at once connects.
        let to_bob = emu.create_vc(alice_af).expect("vc");
        assert_eq!(emu.make_call(to_bob, &call_to(b"bob")), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.vc_state(to_bob), Some((CallState::Connected, true)));
        // A call the callee pends connects when it answers.
        let to_carol = emu.create_vc(alice_af).expect("vc");
        assert_eq!(emu.make_call(to_carol, &call_to(b"carol")), NDIS_STATUS_PENDING);
        let carol_vc = *emu.offered_vcs(carol).last().expect("offered");
        emu.answer_incoming(carol_vc, NDIS_STATUS_SUCCESS).expect("answer");
        assert_eq!(emu.vc_state(to_carol), Some((CallState::Connected, true)));
        // The data path stays shut.
        emu.send(to_bob, &[b"not yet"]).expect("send");
        assert_eq!(emu.send_results(alice), [NDIS_STATUS_PAUSED]);
        assert!(emu.received(bob).is_empty());

        // A close while paused completes (nothing in flight to wait for).
        assert_eq!(emu.close_call(to_carol, &[]), NDIS_STATUS_SUCCESS);
        emu.pump();
        assert_eq!(emu.vc_state(to_carol), Some((CallState::Closed, false)));
        assert_eq!(emu.delete_vc(to_carol), NDIS_STATUS_SUCCESS);

        // After the restart the call made while paused carries data.
        emu.restart_adapter().expect("restart");
        emu.send(to_bob, &[b"now"]).expect("send");
        assert_eq!(emu.received(bob), [b"now".to_vec()]);
        assert_eq!(emu.close_call(to_bob, &[]), NDIS_STATUS_SUCCESS);
        emu.pump();
        assert_eq!(emu.delete_vc(to_bob), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.deregister_sap(bob_sap), NDIS_STATUS_SUCCESS);
    });
    assert_clean(&report);
}

#[test]
fn pnp_events_running_and_paused_are_taken_without_harm() {
    let report = with_adapter(|emu| {
        let c = emu.client("c");
        let af = emu.open_af(c, config::AF).expect("AF");
        let vc = emu.create_vc(af).expect("vc");
        assert_eq!(emu.make_call(vc, &call_to(ECHO_ADDRESS)), NDIS_STATUS_SUCCESS);
        // NdisPowerProfileAcOnLine = 1.
        emu.pnp_event(NdisDevicePnPEventPowerProfileChanged, Some(1))
            .expect("pnp");
        emu.send(vc, &[b"still up"]).expect("send");
        assert_eq!(emu.received(c), [b"still up".to_vec()]);
        assert_eq!(emu.pause_adapter(), Ok(NDIS_STATUS_SUCCESS));
        emu.pnp_event(NdisDevicePnPEventSurpriseRemoved, None).expect("pnp");
        // NDIS halts a surprise-removed adapter next: with_adapter does.
    });
    assert_clean(&report);
    let out = report.debug_output.join("");
    assert!(out.contains("power profile Some(1)"), "{out}");
    assert!(out.contains("surprise removal"), "{out}");
}

#[test]
fn cancel_send_cannot_recall_a_delivered_send_and_each_send_completes_once() {
    let report = with_adapter(|emu| {
        let (alice, bob, vc, _) = alice_calls_bob(emu);
        emu.hold_receives(bob, true);
        emu.send_with_cancel_id(vc, &[b"x", b"y"], 0x77).expect("send");
        emu.cancel_sends(0x77).expect("cancel");
        // Delivered to bob: not aborted, still held until bob returns it.
        assert!(emu.send_results(alice).is_empty());
        assert_eq!(emu.received(bob), [b"x".to_vec(), b"y".to_vec()]);
        assert_eq!(emu.return_held(bob), 2);
        assert_eq!(emu.send_results(alice), [NDIS_STATUS_SUCCESS; 2]);
        // A cancel naming nothing is harmless too.
        emu.cancel_sends(0x78).expect("cancel");
        assert_eq!(emu.send_results(alice).len(), 2);
        emu.hold_receives(bob, false);
    });
    // data.send-complete-once would show a second completion.
    assert_clean(&report);
}

#[test]
fn sends_on_a_vc_whose_close_is_pending_fail_per_nbl_with_vc_not_activated() {
    let report = with_adapter(|emu| {
        let (alice, bob, vc, _) = alice_calls_bob(emu);
        emu.hold_receives(bob, true);
        emu.send(vc, &[b"in flight"]).expect("send");
        // The close waits for the send covmini holds.
        assert_eq!(emu.close_call(vc, &[]), NDIS_STATUS_PENDING);
        emu.send(vc, &[b"late", b"later"]).expect("send");
        assert_eq!(
            emu.send_results(alice),
            [NDIS_STATUS_VC_NOT_ACTIVATED, NDIS_STATUS_VC_NOT_ACTIVATED]
        );
        assert_eq!(emu.received(bob), [b"in flight".to_vec()]);
        emu.hold_receives(bob, false);
        emu.return_held(bob);
        emu.pump();
        assert_eq!(emu.send_results(alice).last(), Some(&NDIS_STATUS_SUCCESS));
        assert_eq!(emu.vc_state(vc), Some((CallState::Closed, false)));
        assert_eq!(emu.delete_vc(vc), NDIS_STATUS_SUCCESS);
    });
    assert_clean(&report);
}

/// Chains of two NBLs the sending CPU sends on an echo call, while the
/// other CPU pauses and restarts the adapter until the sender is done.
const SENDS: usize = 60;

#[test]
fn pauses_racing_another_cpus_sends_complete_every_send_exactly_once() {
    let mut emu = Emulator::threaded(0xFA05E, 2);
    emu.load(common::driver::driver_entry()).expect("DriverEntry");
    emu.add_adapter().expect("adapter");
    let ready = Barrier::new(2);
    let done = AtomicBool::new(false);
    let results = emu.concurrently(2, |i, emu| {
        if i == 0 {
            let me = emu.client("sender");
            let af = emu.open_af(me, config::AF).expect("AF");
            let vc = emu.create_vc(af).expect("vc");
            assert_eq!(emu.make_call(vc, &call_to(ECHO_ADDRESS)), NDIS_STATUS_SUCCESS);
            // The sender keeps what it receives for three sends at a time,
            // so a pause often finds sends held and has to pend.
            emu.hold_receives(me, true);
            ready.wait();
            let mut sent = 0;
            for k in 0..SENDS {
                let a = format!("p{k}a").into_bytes();
                let b = format!("p{k}b").into_bytes();
                emu.send(vc, &[&a, &b]).expect("send");
                sent += 2;
                if k % 3 == 2 {
                    emu.return_held(me);
                }
            }
            emu.hold_receives(me, false);
            emu.return_held(me);
            done.store(true, Ordering::Release);
            assert_eq!(emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS);
            assert_eq!(emu.delete_vc(vc), NDIS_STATUS_SUCCESS);
            assert_eq!(emu.close_af(af), NDIS_STATUS_SUCCESS);
            (Some(me), sent, 0)
        } else {
            ready.wait();
            let mut pended = 0;
            while !done.load(Ordering::Acquire) {
                let s = emu.pause_adapter().expect("pause");
                assert!(s == NDIS_STATUS_SUCCESS || s == NDIS_STATUS_PENDING, "{s:#x}");
                pended += usize::from(s == NDIS_STATUS_PENDING);
                assert!(emu.wait_for_pause(), "the pause completed");
                emu.restart_adapter().expect("restart");
            }
            (None, 0, pended)
        }
    });
    let (sender, sent, _) = results[0];
    let sender = sender.expect("the sender's client");
    let completions = emu.send_results(sender);
    assert_eq!(completions.len(), sent, "one completion per NBL sent");
    assert!(
        completions
            .iter()
            .all(|s| *s == NDIS_STATUS_SUCCESS || *s == NDIS_STATUS_PAUSED),
        "{completions:x?}"
    );
    let ok = completions.iter().filter(|s| **s == NDIS_STATUS_SUCCESS).count();
    assert_eq!(
        emu.received(sender).len(),
        ok,
        "every SUCCESS was echoed, no PAUSED one was"
    );
    eprintln!("pauses that pended: {}", results[1].2);
    emu.halt_adapter().expect("halt");
    emu.unload().expect("unload");
    assert_clean(&emu.finish());
}

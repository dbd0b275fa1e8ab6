//! covmini under clients that react inside NDIS's calls into them
//! (`Emulator::set_reacts_inside`), before those calls return to covmini:
//! a client deletes its VC inside a failed ProtocolClMakeCallComplete and
//! inside ProtocolClCloseCallComplete, closes the call inside
//! ProtocolClIncomingCloseCall and drops the party inside
//! ProtocolClIncomingDropParty. What it proves: each reaction runs inside
//! covmini's DDI call (the trace shows the nested handler before covmini's
//! own handler returns), covmini survives it with a clean report (no
//! contract violation, no leak, and no read of a context it freed: the
//! emulator's quarantined lookaside entries fault on such a read), and the
//! objects end where a client that reacts later leaves them.

mod common;

use common::scenario::{assert_clean, call_to, pair, with_adapter};

use ndis_emu::{Answer, CallState, Emulator, Report};
use ndis_sys::*;

/// The first `-> inner` whose detail contains `what` runs while a call of
/// the handler `outer` has not returned (the test runs on one CPU, so the
/// `->`/`<-` pairs nest).
fn nested(report: &Report, inner: &str, what: &str, outer: &str) -> bool {
    let mut open = 0_usize;
    for e in &report.events {
        if e.dir == "->" && e.name == inner && e.detail().contains(what) {
            return open > 0;
        }
        if e.name == outer {
            match e.dir {
                "->" => open += 1,
                "<-" => open = open.saturating_sub(1),
                _ => {}
            }
        }
    }
    false
}

/// Every test here runs with the lookaside quarantine on (the whole test
/// binary does: the switch is the process's), so a read of a VC context
/// covmini freed inside one of its DDI calls faults there. With covmini's
/// 390ad75 reverted (it read `vc.ndis()` after NdisMCmCloseCallComplete and a
/// failed NdisMCmMakeCallComplete), the first two tests die at that read.
fn quarantined() {
    Emulator::set_lookaside_quarantine(true);
}

#[test]
fn a_caller_deletes_its_vc_inside_the_failed_make_call_complete() {
    quarantined();
    let mut vc_h = 0;
    let report = with_adapter(|emu| {
        let p = pair(emu, Answer::Pend, NDIS_STATUS_NOT_ACCEPTED);
        emu.set_reacts_inside(p.alice, true);
        vc_h = p.vc.0;
        assert_eq!(emu.make_call(p.vc, &call_to(b"bob")), NDIS_STATUS_PENDING);
        let bob_vc = *emu.offered_vcs(p.bob).last().expect("bob's offered VC");
        emu.answer_incoming(bob_vc, NDIS_STATUS_NOT_ACCEPTED)
            .expect("bob rejects");
        assert_eq!(emu.vc_state(p.vc), None, "alice deleted her VC");
        assert_eq!(
            emu.delete_vc(p.vc),
            NDIS_STATUS_FAILURE,
            "a deleted VC's handle is dead: NDIS refuses a second delete"
        );
    });
    assert_clean(&report);
    assert!(
        nested(
            &report,
            "ProtocolCoDeleteVc",
            &format!("{vc_h:#x}"),
            "ProtocolCmIncomingCallComplete"
        ),
        "the delete ran inside NdisMCmMakeCallComplete, in covmini's handler:\n{report}"
    );
}

#[test]
fn a_caller_closes_inside_the_incoming_close_and_deletes_inside_the_close_complete() {
    quarantined();
    let mut vc_h = 0;
    let report = with_adapter(|emu| {
        let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
        emu.set_reacts_inside(p.alice, true);
        vc_h = p.vc.0;
        assert_eq!(emu.make_call(p.vc, &call_to(b"bob")), NDIS_STATUS_SUCCESS);
        let bob_vc = *emu.offered_vcs(p.bob).last().expect("bob's VC");
        assert_eq!(emu.close_call(bob_vc, &[]), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.vc_state(bob_vc), None, "covmini deleted bob's VC");
        assert_eq!(emu.vc_state(p.vc), None, "alice closed and deleted her VC");
        assert_eq!(emu.deregister_sap(p.bob_sap), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.close_af(p.bob_af), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.close_af(p.alice_af), NDIS_STATUS_SUCCESS);
    });
    assert_clean(&report);
    assert!(
        nested(
            &report,
            "ProtocolCmCloseCall",
            &format!("{vc_h:#x}"),
            "ProtocolCmCloseCall"
        ),
        "alice's close ran inside covmini's handler of bob's close:\n{report}"
    );
    assert!(
        nested(
            &report,
            "ProtocolCoDeleteVc",
            &format!("{vc_h:#x}"),
            "ProtocolCmCloseCall"
        ),
        "alice's delete ran inside a close's handler:\n{report}"
    );
}

#[test]
fn a_client_that_reacts_later_leaves_its_vc_to_the_script() {
    // The same failed call as above, without the option: the VC stays,
    // so the test above shows the option, not the default.
    quarantined();
    let report = with_adapter(|emu| {
        let p = pair(emu, Answer::Pend, NDIS_STATUS_NOT_ACCEPTED);
        assert_eq!(emu.make_call(p.vc, &call_to(b"bob")), NDIS_STATUS_PENDING);
        let bob_vc = *emu.offered_vcs(p.bob).last().expect("bob's offered VC");
        emu.answer_incoming(bob_vc, NDIS_STATUS_NOT_ACCEPTED)
            .expect("bob rejects");
        assert_eq!(emu.vc_state(p.vc), Some((CallState::Closed, false)));
        assert_eq!(emu.delete_vc(p.vc), NDIS_STATUS_SUCCESS);
    });
    assert_clean(&report);
}

/// Both ends of a call react inside NDIS's calls, and HaltEx's
/// notification finds the call up: each client tears its AF down inside
/// its ProtocolClNotifyCloseAf, covmini pends alice's AF close until her
/// VC is gone, and she completes the notification inside her
/// ProtocolClCloseAfComplete, so covmini frees the AF's context inside its
/// own NdisMCmCloseAddressFamilyComplete. Clean, under the quarantine: no
/// read of that context after the call (covmini read `af.ndis()` after it
/// until this session: the process died here, "offset 0x10", the AF
/// context's NDIS handle).
#[test]
fn a_client_completes_its_notify_close_inside_the_close_complete() {
    quarantined();
    let report = with_adapter(|emu| {
        let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
        for c in [p.alice, p.bob] {
            emu.set_reacts_inside(c, true);
        }
        assert_eq!(emu.make_call(p.vc, &call_to(b"bob")), NDIS_STATUS_SUCCESS);
    });
    assert_clean(&report);
    let closes = report
        .events
        .iter()
        .filter(|e| e.dir == "=>" && e.name == "NdisCmCloseAddressFamilyComplete")
        .count();
    assert!(closes > 0, "an AF close pended and completed:\n{report}");
    // Inside: no handler returned between covmini's
    // NdisMCmCloseAddressFamilyComplete and the notification's completion.
    let inside = report.events.iter().enumerate().any(|(k, e)| {
        e.dir == "=>"
            && e.name == "NdisCmCloseAddressFamilyComplete"
            && report.events[k + 1..]
                .iter()
                .find(|n| n.dir == "->" || n.dir == "<-")
                .is_some_and(|n| n.dir == "->" && n.name == "ProtocolCmNotifyCloseAfComplete")
    });
    assert!(
        inside,
        "the notification completed inside the close's completion:\n{report}"
    );
}

//! covmini's per-call blocks (tag `CvmC`, issue #6's memory target): a VC
//! holds the call parameters it was activated with only while it carries a
//! call, one block per end, taken when the call begins and given back when
//! it ends (a failed make call, a completed close, the VC's deletion); an
//! idle VC holds none. A block covmini cannot get fails the make call with
//! NDIS_STATUS_RESOURCES before anything is activated, on the caller's side
//! and on the callee's, and leaks nothing.
//!
//! What a VC holds is read from the trace: ndis-emu logs every lookaside
//! allocation and free with the list's tag.

mod common;

use common::scenario::{assert_clean, call_to, pair, with_adapter};

use covmini::call_manager::{ECHO_ADDRESS, SAP_TYPE_ADDRESS};
use covmini::config;
use ndis_emu::{Answer, CallState, Emulator, Event};
use ndis_sys::*;

/// The routine ndis-emu runs when a lookaside list has no cached entry: on
/// a fresh adapter every context allocation is one pool allocation by it.
const LIST_MISS: &str = "ExAllocateFromNPagedLookasideList";

/// Whether `e` is a lookaside allocation from the call blocks' list (a
/// failed one too).
fn block_allocation(e: &Event) -> bool {
    e.detail().contains("(tag CvmC): allocated ")
}

/// Call blocks covmini holds now: those allocated from the `CvmC` list
/// minus those given back, over the whole trace so far.
fn blocks_out(emu: &Emulator) -> usize {
    let mut out = 0usize;
    for e in emu.report().events {
        if block_allocation(&e) && !e.detail().ends_with("allocated 0x0") {
            out += 1;
        } else if e.detail().contains("(tag CvmC): freed ") {
            out = out.checked_sub(1).expect("a call block freed that was never allocated");
        }
    }
    out
}

/// covmini said nothing about a call block left behind by an ended call.
fn no_stale_block(emu: &Emulator) {
    let report = emu.report();
    assert!(
        !report.debug_output.iter().any(|l| l.contains("still attached")),
        "{:?}",
        report.debug_output
    );
}

#[test]
fn an_idle_vc_holds_no_call_block_and_each_end_of_a_call_holds_one_until_the_call_ends() {
    let report = with_adapter(|emu| {
        let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
        assert_eq!(blocks_out(emu), 0, "a VC with no call");

        // Accepted at once, closed by the caller: both ends give theirs back.
        assert_eq!(emu.make_call(p.vc, &call_to(b"bob")), NDIS_STATUS_SUCCESS);
        assert_eq!(blocks_out(emu), 2, "caller and callee");
        assert_eq!(emu.close_call(p.vc, &[]), NDIS_STATUS_SUCCESS);
        assert_eq!(blocks_out(emu), 0, "after the close");

        // The same VC again, the answer pended: the callee's block lives
        // while its client holds the offer.
        emu.set_incoming_answer(p.bob, Answer::Pend, NDIS_STATUS_SUCCESS);
        assert_eq!(emu.make_call(p.vc, &call_to(b"bob")), NDIS_STATUS_PENDING);
        let bob_vc = *emu.offered_vcs(p.bob).last().expect("bob was offered the call");
        assert_eq!(blocks_out(emu), 2, "while the offer is pending");
        emu.answer_incoming(bob_vc, NDIS_STATUS_SUCCESS).expect("bob accepts");
        assert_eq!(emu.vc_state(p.vc), Some((CallState::Connected, true)));
        assert_eq!(blocks_out(emu), 2);
        // Bob hangs up; alice's client closes her side when told.
        assert_eq!(emu.close_call(bob_vc, &[]), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.vc_state(p.vc), Some((CallState::Closed, false)));
        assert_eq!(blocks_out(emu), 0, "after both closes");

        // Rejected, at once and later: the failed make call gives both back.
        emu.set_incoming_answer(p.bob, Answer::Sync, NDIS_STATUS_NOT_ACCEPTED);
        assert_eq!(emu.make_call(p.vc, &call_to(b"bob")), NDIS_STATUS_NOT_ACCEPTED);
        assert_eq!(blocks_out(emu), 0, "after an answer refused at once");
        emu.set_incoming_answer(p.bob, Answer::Pend, NDIS_STATUS_SUCCESS);
        assert_eq!(emu.make_call(p.vc, &call_to(b"bob")), NDIS_STATUS_PENDING);
        let bob_vc = *emu.offered_vcs(p.bob).last().expect("bob was offered the call");
        emu.answer_incoming(bob_vc, NDIS_STATUS_NOT_ACCEPTED)
            .expect("bob refuses");
        assert_eq!(
            emu.inbox(p.alice).last().map(String::as_str),
            Some("MakeCallComplete 0x10003")
        );
        assert_eq!(blocks_out(emu), 0, "after an answer refused later");

        // No route: the blocks taken for the call go back at once.
        assert_eq!(
            emu.make_call(p.vc, &call_to(b"carol")),
            NDIS_STATUS_NO_ROUTE_TO_DESTINATION
        );
        assert_eq!(blocks_out(emu), 0, "after no route");

        // The echo call: one end, one block.
        assert_eq!(emu.make_call(p.vc, &call_to(ECHO_ADDRESS)), NDIS_STATUS_SUCCESS);
        assert_eq!(blocks_out(emu), 1, "an echo call");
        assert_eq!(emu.close_call(p.vc, &[]), NDIS_STATUS_SUCCESS);
        assert_eq!(blocks_out(emu), 0, "after the echo call");

        assert_eq!(emu.delete_vc(p.vc), NDIS_STATUS_SUCCESS);
        no_stale_block(emu);
    });
    assert_clean(&report);
}

#[test]
fn a_multipoint_call_holds_a_block_for_its_root_and_one_per_leaf_until_each_goes() {
    let report = with_adapter(|emu| {
        let root = emu.client("root");
        let af = emu.open_af(root, config::AF).expect("root's AF");
        let vc = emu.create_vc(af).expect("root's VC");
        for name in ["bob", "carol"] {
            let c = emu.client(name);
            let af = emu.open_af(c, config::AF).expect("leaf AF");
            emu.register_sap(af, SAP_TYPE_ADDRESS, name.as_bytes())
                .expect("leaf SAP");
        }
        let (s, _bob) = emu.make_multipoint_call(vc, &call_to(b"bob"));
        assert_eq!(s, NDIS_STATUS_SUCCESS);
        assert_eq!(blocks_out(emu), 2, "the root and bob's leaf");
        let (s, carol) = emu.add_party(vc, &call_to(b"carol"));
        assert_eq!(s, NDIS_STATUS_SUCCESS);
        assert_eq!(blocks_out(emu), 3, "and carol's leaf");
        // Dropping carol closes her leaf (her client closes when told).
        assert_eq!(emu.drop_party(carol.expect("carol's party"), &[]), NDIS_STATUS_SUCCESS);
        assert_eq!(blocks_out(emu), 2, "carol's leaf gave its block back");
        assert_eq!(emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS);
        assert_eq!(blocks_out(emu), 0, "after the root's close");
        // A multipoint make call refused (no SAP): nothing kept.
        let (s, _) = emu.make_multipoint_call(vc, &call_to(b"dave"));
        assert_eq!(s, NDIS_STATUS_NO_ROUTE_TO_DESTINATION);
        assert_eq!(blocks_out(emu), 0);
        assert_eq!(emu.delete_vc(vc), NDIS_STATUS_SUCCESS);
        no_stale_block(emu);
    });
    assert_clean(&report);
}

/// Fails the `nth` allocation of alice's next make call to bob (on a fresh
/// adapter every list is empty, so each context allocation is a pool
/// allocation by [`LIST_MISS`]) and checks what a refused call block must give: the
/// allocation that failed is a call block's, the make call fails with
/// NDIS_STATUS_RESOURCES, nothing was created or activated, bob was offered
/// nothing, every block taken went back, and alice's VC then carries a call
/// as if nothing happened. `blocks_before` is how many call blocks the
/// make call took before the one that failed.
fn call_block_refused(nth: u64, blocks_before: usize) {
    let report = with_adapter(|emu| {
        let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
        let start = emu.report().events.len();
        emu.fail_nth_allocation(nth);
        assert_eq!(emu.make_call(p.vc, &call_to(b"bob")), NDIS_STATUS_RESOURCES);

        let events = emu.report().events;
        let during = events.get(start..).expect("the make call's events");
        let blocks: Vec<&Event> = during.iter().filter(|e| block_allocation(e)).collect();
        assert_eq!(blocks.len(), blocks_before + 1, "{blocks:#?}");
        let failed = blocks.last().expect("the failed allocation");
        assert!(
            failed.detail().ends_with("allocated 0x0"),
            "the injected failure hit the call block: {failed:?}"
        );
        assert!(
            during.iter().any(|e| e.dir == "!!" && e.name == LIST_MISS),
            "a fault was injected"
        );
        for ddi in ["NdisMCmCreateVc", "NdisMCmActivateVc", "NdisCmDispatchIncomingCall"] {
            assert!(!during.iter().any(|e| e.name == ddi), "{ddi} was called");
        }
        assert_eq!(emu.vc_state(p.vc), Some((CallState::Closed, false)));
        assert!(emu.offered_vcs(p.bob).is_empty());
        assert!(!emu.inbox(p.bob).iter().any(|l| l.starts_with("IncomingCall")));
        assert_eq!(blocks_out(emu), 0, "every block taken went back");

        // Nothing was left half done: the same VC calls bob now.
        assert_eq!(emu.make_call(p.vc, &call_to(b"bob")), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.vc_state(p.vc), Some((CallState::Connected, true)));
        assert_eq!(emu.close_call(p.vc, &[]), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.delete_vc(p.vc), NDIS_STATUS_SUCCESS);
        assert_eq!(emu.deregister_sap(p.bob_sap), NDIS_STATUS_SUCCESS);
        let _ = p.alice;
    });
    // The ledger: every context and block went back (no leak), and no rule
    // was broken on the way.
    assert_clean(&report);
}

#[test]
fn a_make_call_whose_caller_block_is_refused_is_resources_with_nothing_activated() {
    // The make call's first allocation is the caller's block.
    call_block_refused(1, 0);
}

#[test]
fn a_make_call_whose_callee_block_is_refused_is_resources_with_nothing_activated() {
    // Then the callee's VC context, then the callee's block: the caller's
    // block was taken and must go back.
    call_block_refused(3, 1);
}

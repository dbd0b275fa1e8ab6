//! MiniportHaltEx with an AF whose close covmini pended (issue #10, defect
//! 1), and the rest of halt's waits.
//!
//! A client that closes its AF while it still has a SAP, a VC or a call gets
//! PENDING (docs/call-manager.md, "Behaviour"); covmini completes the close
//! when the last of them goes. NDIS then unbinds the client and halts the
//! adapter, and the client, whose close is still pending, removes what it
//! left through the ordinary NdisCl* paths while HaltEx runs (ndis-emu's
//! scripted clients do that when the driver waits). HaltEx must wait for
//! that close to complete, as it waits for the AFs it notifies, and then
//! free everything: on Windows, returning with the AF open is
//! DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS, and ndis-emu
//! reports `halt.afs-closed`, `lookaside.not-deleted` and `nbl.leak`.
//!
//! The second half audits the rest of halt: a make call or add party
//! pended on the callee's answer, a multipoint make call pended, a close
//! pended on held receives, when NDIS halts. Those found a second shape of
//! the same defect: a client that answers ProtocolClNotifyCloseAf while its
//! own NdisClCloseAddressFamily is still pending (ndis-emu's synchronous
//! client does) made the old HaltEx stop waiting for that AF.
//!
//! Each test builds one shape, halts and unloads, and requires a clean
//! report (no violation, no leak) and that every close it left pending
//! completed before HaltEx returned. The shapes run on one CPU and, where the timing matters, with
//! the clients on another CPU while HaltEx waits (`Emulator::threaded`).

mod common;

use common::scenario::{Pair, call_to, pair};

use covmini::call_manager::{ECHO_ADDRESS, SAP_TYPE_ADDRESS};
use covmini::config;
use ndis_emu::{Af, Answer, Client, Emulator, Report, Vc};
use ndis_sys::*;

// --- Helpers ------------------------------------------------------------------------

/// An emulator with covmini loaded and one adapter: on one CPU (`seed`
/// None), or threaded with one worker CPU for the clients.
fn up(seed: Option<u64>) -> Emulator {
    let mut emu = seed.map_or_else(Emulator::new, |s| Emulator::threaded(s, 1));
    emu.load(common::driver::driver_entry()).expect("DriverEntry");
    emu.add_adapter().expect("adapter");
    emu
}

/// Halts, unloads and returns the report.
fn down(mut emu: Emulator) -> Report {
    emu.halt_adapter().expect("halt");
    emu.unload().expect("unload");
    emu.finish()
}

/// Runs `shape` on one CPU and threaded (seeds 1..=3), halts each time and
/// requires a clean report in which every close `shape` left pending
/// completed before HaltEx returned; `check` then looks at each report.
/// The clients remove what they left only once HaltEx waits (ndis-emu's
/// slowest unbinding client), on HaltEx's CPU in the deterministic mode,
/// on another CPU in the threaded mode.
fn each_mode(shape: impl Fn(&mut Emulator) -> usize, check: impl Fn(&Report)) {
    for seed in [None, Some(1), Some(2), Some(3)] {
        let mut emu = up(seed);
        let closing = shape(&mut emu);
        let report = down(emu);
        show(&report);
        assert!(report.is_clean(), "seed {seed:?}:\n{report}");
        let ret = report
            .events
            .iter()
            .position(|e| e.dir == "<-" && e.name == "MiniportHaltEx")
            .unwrap_or_else(|| panic!("seed {seed:?}: no HaltEx return:\n{report}"));
        let completed = report.events[..ret]
            .iter()
            .filter(|e| e.dir == "=>" && e.name == "NdisCmCloseAddressFamilyComplete")
            .count();
        assert!(
            completed >= closing,
            "seed {seed:?}: {closing} pended closes, {completed} completed before HaltEx returned:\n{report}"
        );
        check(&report);
    }
}

/// With COVMINI_SHOW_TRACE set, a test's trace (no debug output) instead of its result.
fn show(r: &Report) {
    if std::env::var_os("COVMINI_SHOW_TRACE").is_some() {
        let t: Vec<String> = r
            .events
            .iter()
            .filter(|e| e.name != "DbgPrintEx")
            .map(|e| format!("{} {} {}", e.dir, e.name, e.detail))
            .collect();
        panic!("{}", t.join("\n"));
    }
}

/// How many `dir` events named `name` the report has.
fn count(report: &Report, dir: &str, name: &str) -> usize {
    report.events.iter().filter(|e| e.dir == dir && e.name == name).count()
}

/// HaltEx waited (NdisWaitEvent inside it) and every close the clients
/// began completed inside that wait, before HaltEx returned.
fn assert_halt_waited(report: &Report) {
    let pos = |dir: &str, name: &str| {
        report
            .events
            .iter()
            .position(|e| e.dir == dir && e.name == name)
            .unwrap_or_else(|| panic!("no {dir} {name}:\n{report}"))
    };
    let enter = pos("->", "MiniportHaltEx");
    let ret = pos("<-", "MiniportHaltEx");
    let wait = pos("=>", "NdisWaitEvent");
    assert!(enter < wait && wait < ret, "{report}");
    let last_close = report
        .events
        .iter()
        .rposition(|e| e.name == "NdisCmCloseAddressFamilyComplete")
        .unwrap_or_else(|| panic!("no close completed:\n{report}"));
    assert!(wait < last_close && last_close < ret, "{report}");
}

/// A client with covmini's AF open.
fn client_af(emu: &mut Emulator, name: &str) -> (Client, Af) {
    let c = emu.client(name);
    let af = emu.open_af(c, config::AF).expect("open");
    (c, af)
}

/// Closes `af` and checks covmini pended the close.
fn close_pends(emu: &mut Emulator, af: Af) {
    assert_eq!(emu.close_af(af), NDIS_STATUS_PENDING, "the close pends");
}

/// Alice calls bob (bob answers at once) and the call is up.
fn connect(emu: &mut Emulator, p: &Pair) -> Vc {
    assert_eq!(emu.make_call(p.vc, &call_to(b"bob")), NDIS_STATUS_SUCCESS);
    *emu.offered_vcs(p.bob).last().expect("bob was offered the call")
}

// --- Defect 1: an AF close pending at halt ---------------------------------------------

/// A SAP left on an AF whose close pended: HaltEx waits until the client
/// deregisters it and the close completes, then frees everything.
#[test]
fn halt_waits_for_a_pended_af_close_with_a_sap_left() {
    each_mode(
        |emu| {
            let (_, af) = client_af(emu, "c");
            emu.register_sap(af, SAP_TYPE_ADDRESS, b"c").expect("sap");
            close_pends(emu, af);
            1
        },
        |r| {
            assert_halt_waited(r);
            assert_eq!(count(r, "->", "ProtocolCmDeregisterSap"), 1, "{r}");
        },
    );
}

/// A client VC left on an AF whose close pended.
#[test]
fn halt_waits_for_a_pended_af_close_with_a_vc_left() {
    each_mode(
        |emu| {
            let (_, af) = client_af(emu, "c");
            emu.create_vc(af).expect("vc");
            close_pends(emu, af);
            1
        },
        |r| {
            assert_halt_waited(r);
            assert_eq!(count(r, "->", "ProtocolCoDeleteVc"), 1, "{r}");
        },
    );
}

/// An echo call up on an AF whose close pended: the client closes the
/// call and deletes the VC during HaltEx's wait.
#[test]
fn halt_waits_for_a_pended_af_close_with_an_echo_call_up() {
    each_mode(
        |emu| {
            let (_, af) = client_af(emu, "c");
            let vc = emu.create_vc(af).expect("vc");
            assert_eq!(emu.make_call(vc, &call_to(ECHO_ADDRESS)), NDIS_STATUS_SUCCESS);
            close_pends(emu, af);
            1
        },
        |r| {
            assert_halt_waited(r);
            assert_eq!(count(r, "->", "ProtocolCmCloseCall"), 1, "{r}");
            assert_eq!(count(r, "->", "ProtocolCoDeleteVc"), 1, "{r}");
        },
    );
}

/// A connected call, the caller's AF close pended (the callee's AF open,
/// so HaltEx notifies it): both ends go during the wait.
#[test]
fn halt_waits_for_a_pended_af_close_at_the_calling_end() {
    each_mode(
        |emu| {
            let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
            connect(emu, &p);
            close_pends(emu, p.alice_af);
            1
        },
        |r| {
            assert_halt_waited(r);
            assert_eq!(
                count(r, "=>", "NdisCmNotifyCloseAddressFamily"),
                1,
                "only bob's AF: {r}"
            );
        },
    );
}

/// A connected call, the callee's AF close pended (its SAP and the VC
/// covmini created for it left): covmini deletes that VC when the call
/// closes, and the close completes.
#[test]
fn halt_waits_for_a_pended_af_close_at_the_called_end() {
    each_mode(
        |emu| {
            let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
            connect(emu, &p);
            close_pends(emu, p.bob_af);
            1
        },
        |r| {
            assert_halt_waited(r);
            assert_eq!(
                count(r, "=>", "NdisCmNotifyCloseAddressFamily"),
                1,
                "only alice's AF: {r}"
            );
        },
    );
}

/// Both ends of a call closed their AFs (both pended): nothing is
/// notified, HaltEx waits for both closes.
#[test]
fn halt_waits_for_pended_af_closes_at_both_ends() {
    each_mode(
        |emu| {
            let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
            connect(emu, &p);
            close_pends(emu, p.alice_af);
            close_pends(emu, p.bob_af);
            2
        },
        |r| {
            assert_halt_waited(r);
            assert_eq!(count(r, "=>", "NdisCmNotifyCloseAddressFamily"), 0, "{r}");
            assert_eq!(count(r, "=>", "NdisCmCloseAddressFamilyComplete"), 2, "{r}");
        },
    );
}

/// A multipoint call with two leaves; the root's AF close pended.
#[test]
fn halt_waits_for_a_pended_af_close_at_a_multipoint_root() {
    each_mode(
        |emu| {
            let (_, root_af, _) = multipoint(emu);
            close_pends(emu, root_af);
            1
        },
        assert_halt_waited,
    );
}

/// A multipoint call with two leaves; one leaf's AF close pended.
#[test]
fn halt_waits_for_a_pended_af_close_at_a_multipoint_leaf() {
    each_mode(
        |emu| {
            let (_, _, (_, leaf_af)) = multipoint(emu);
            close_pends(emu, leaf_af);
            1
        },
        assert_halt_waited,
    );
}

/// A root with a VC and a multipoint call up to "leaf1" and "leaf2" (each
/// listening on its name and answering at once). Returns the root and its
/// AF, and the first leaf and its AF.
fn multipoint(emu: &mut Emulator) -> (Client, Af, (Client, Af)) {
    let (root, root_af) = client_af(emu, "root");
    let mut leaves = Vec::new();
    for name in ["leaf1", "leaf2"] {
        let (c, af) = client_af(emu, name);
        emu.register_sap(af, SAP_TYPE_ADDRESS, name.as_bytes()).expect("sap");
        leaves.push((c, af));
    }
    let vc = emu.create_vc(root_af).expect("root's VC");
    let (s, party) = emu.make_multipoint_call(vc, &call_to(b"leaf1"));
    assert_eq!(s, NDIS_STATUS_SUCCESS);
    assert!(party.is_some());
    let (s, party) = emu.add_party(vc, &call_to(b"leaf2"));
    assert_eq!(s, NDIS_STATUS_SUCCESS);
    assert!(party.is_some());
    (root, root_af, leaves[0])
}

/// One client's AF close pended (a SAP and a VC left) while another
/// client pends its answer to HaltEx's notify-close: HaltEx waits for both,
/// the close completion and the notification's completion.
#[test]
fn halt_waits_for_a_pended_af_close_and_a_pended_notify_close_together() {
    each_mode(
        |emu| {
            let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
            emu.set_notify_close_answer(p.alice, Answer::Pend);
            close_pends(emu, p.bob_af);
            1
        },
        |r| {
            assert_halt_waited(r);
            assert_eq!(count(r, "=>", "NdisCmNotifyCloseAddressFamily"), 1, "{r}");
            assert_eq!(count(r, "->", "ProtocolCmNotifyCloseAfComplete"), 1, "{r}");
        },
    );
}

// --- The rest of halt: what else can be pending when NDIS halts -------------------------

/// Alice's make call pended on bob's answer (bob pends it) when NDIS halts,
/// both AFs open: bob's teardown rejects the call, alice's make call
/// completes with that failure, and both AFs close.
#[test]
fn halt_with_a_make_call_pended_on_the_callees_answer() {
    each_mode(
        |emu| {
            let p = pair(emu, Answer::Pend, NDIS_STATUS_SUCCESS);
            assert_eq!(emu.make_call(p.vc, &call_to(b"bob")), NDIS_STATUS_PENDING);
            0
        },
        |r| {
            assert_eq!(count(r, "=>", "NdisCmNotifyCloseAddressFamily"), 2, "{r}");
        },
    );
}

/// The same with the callee's AF close pended as well (its SAP and the
/// offered VC left): its unbinding client rejects the call during HaltEx's
/// wait.
#[test]
fn halt_with_a_make_call_pended_on_a_callee_whose_af_close_pended() {
    each_mode(
        |emu| {
            let p = pair(emu, Answer::Pend, NDIS_STATUS_SUCCESS);
            assert_eq!(emu.make_call(p.vc, &call_to(b"bob")), NDIS_STATUS_PENDING);
            close_pends(emu, p.bob_af);
            1
        },
        assert_halt_waited,
    );
}

/// A root with a VC, and a leaf "carol" that pends her answers.
fn root_and_pending_leaf(emu: &mut Emulator) -> (Af, Vc) {
    let (_, root_af) = client_af(emu, "root");
    let carol = emu.client("carol");
    emu.set_incoming_answer(carol, Answer::Pend, NDIS_STATUS_SUCCESS);
    let af = emu.open_af(carol, config::AF).expect("carol's AF");
    emu.register_sap(af, SAP_TYPE_ADDRESS, b"carol").expect("sap");
    let vc = emu.create_vc(root_af).expect("root's VC");
    (root_af, vc)
}

/// An add party pended on the new leaf's answer when NDIS halts (the
/// call's first leaf answered at once).
#[test]
fn halt_with_an_add_party_pended_on_the_leafs_answer() {
    each_mode(
        |emu| {
            let (_, vc) = root_and_pending_leaf(emu);
            let (_, af) = client_af(emu, "bob");
            emu.register_sap(af, SAP_TYPE_ADDRESS, b"bob").expect("sap");
            let (s, _) = emu.make_multipoint_call(vc, &call_to(b"bob"));
            assert_eq!(s, NDIS_STATUS_SUCCESS);
            let (s, _) = emu.add_party(vc, &call_to(b"carol"));
            assert_eq!(s, NDIS_STATUS_PENDING);
            0
        },
        |r| assert_eq!(count(r, "=>", "NdisCmNotifyCloseAddressFamily"), 3, "{r}"),
    );
}

/// A multipoint make call pended on its first leaf's answer when NDIS
/// halts, with the root's AF close pended as well.
#[test]
fn halt_with_a_multipoint_make_call_pended_and_the_roots_af_close_pended() {
    each_mode(
        |emu| {
            let (root_af, vc) = root_and_pending_leaf(emu);
            let (s, _) = emu.make_multipoint_call(vc, &call_to(b"carol"));
            assert_eq!(s, NDIS_STATUS_PENDING);
            close_pends(emu, root_af);
            1
        },
        |r| assert_eq!(count(r, "=>", "NdisCmNotifyCloseAddressFamily"), 1, "{r}"),
    );
}

/// A close that pends while the peer holds receive NBLs (contract §3.3:
/// drain before deactivating), with its AF close pended too: NDIS's pause
/// before halt gives the receives back, the close finishes, and HaltEx
/// waits for the AF's close.
#[test]
fn halt_with_a_close_call_pended_on_held_receives() {
    each_mode(
        |emu| {
            let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
            connect(emu, &p);
            emu.hold_receives(p.bob, true);
            emu.send(p.vc, &[b"held"]).expect("send");
            assert_eq!(emu.close_call(p.vc, &[]), NDIS_STATUS_PENDING, "drains first");
            close_pends(emu, p.alice_af);
            1
        },
        |_| {},
    );
}

//! Operations on a VC racing a close (issue #10, defect 2), found by
//! stopping one CPU at a DDI boundary and running the other operation to
//! completion there (`ndis_emu::interleave`), rather than by hoping threads
//! collide: the same interleaving every run, in the deterministic mode.
//!
//! The defect as filed: Alice calls Bob; Bob sends on his (covmini-created)
//! VC; stopped inside MiniportCoSendNetBufferLists, before the send reaches
//! the call manager, Alice hangs up on another CPU, Bob's client closes,
//! and covmini deactivated, deleted and freed Bob's VC under the send.
//!
//! The sweeps then stop the operation at *every* DDI boundary it crosses,
//! one fresh adapter per boundary, and run the close there: a send on
//! either end of a point-to-point call, an echo send (its own client
//! closes), a multipoint root's send (a leaf hangs up; the root closes), a
//! receive's return (MiniportReturnNetBufferLists), a per-VC OID through
//! the miniport and through the call manager, and a QoS change. What each
//! proves: no contract violation (no VC deactivated with a send it holds,
//! no freed context or dead handle touched), nothing leaked at halt, every
//! send completed exactly once with SUCCESS or NDIS_STATUS_VC_NOT_ACTIVATED,
//! and every close completed. They run against the host build or, with
//! `COVMINI_SYS`, the kernel image (see `common::driver`); under valgrind
//! (`COVMINI_UNDER_VALGRIND`) every seventh boundary.

mod common;

use common::scenario::{Pair, assert_clean, call_to, pair};

use covmini::call_manager::{ECHO_ADDRESS, SAP_TYPE_ADDRESS};
use covmini::config;
use ndis_emu::interleave::At;
use ndis_emu::{Answer, Client, Emulator, Report, Vc};
use ndis_sys::*;

fn up() -> Emulator {
    let mut emu = Emulator::new();
    emu.load(common::driver::driver_entry()).expect("DriverEntry");
    emu.add_adapter().expect("adapter");
    emu
}

/// Runs the clients' answers, halts (which tears down what is left) and
/// unloads.
fn down(mut emu: Emulator) -> Report {
    emu.pump();
    emu.halt_adapter().expect("halt");
    emu.unload().expect("unload");
    emu.finish()
}

/// Alice calls Bob (who accepts at once); returns the pair and Bob's VC.
fn connected(emu: &mut Emulator) -> (Pair, Vc) {
    let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
    assert_eq!(emu.make_call(p.vc, &call_to(b"bob")), NDIS_STATUS_SUCCESS);
    let offered = emu.offered_vcs(p.bob);
    assert_eq!(offered.len(), 1);
    (p, offered[0])
}

/// Every send `client` made was completed once, with SUCCESS or, on a VC
/// whose call went, NDIS_STATUS_VC_NOT_ACTIVATED; the problem otherwise.
fn sends_completed_once(emu: &Emulator, client: Client, sent: usize, case: &str) -> Option<String> {
    let results = emu.send_results(client);
    let ok = results.len() == sent
        && results
            .iter()
            .all(|s| *s == NDIS_STATUS_SUCCESS || *s == NDIS_STATUS_VC_NOT_ACTIVATED);
    (!ok).then(|| format!("{case}: {sent} send(s), each completed once: {results:x?}"))
}

/// A close the client made completed (at once, or later with
/// ProtocolClCloseCallComplete); the problem otherwise.
fn close_done(emu: &Emulator, client: Client, status: NDIS_STATUS, case: &str) -> Option<String> {
    let ok = status == NDIS_STATUS_SUCCESS
        || (status == NDIS_STATUS_PENDING && emu.inbox(client).iter().any(|l| l.starts_with("CloseCallComplete")));
    (!ok).then(|| format!("{case}: the close ({status:#x}) completed: {:?}", emu.inbox(client)))
}

/// What one run of a sweep returns: its report, the boundaries the victim
/// crossed, where the point was, and what the scenario found wrong besides
/// the report.
type Run = (Report, Vec<ndis_emu::interleave::Crossing>, Option<usize>, Vec<String>);

/// The boundaries to stop at, out of `n`: all of them, or under valgrind
/// (about 30 times slower) every seventh, and the first.
fn boundaries(n: usize) -> Vec<usize> {
    let step = if std::env::var_os("COVMINI_UNDER_VALGRIND").is_some() {
        7
    } else {
        1
    };
    (1..=n).filter(|k| (k - 1) % step == 0).collect()
}

/// One sweep: `run(at)` builds a fresh adapter, runs the victim and the
/// injected operation with [`Emulator::interleave`] at `at`, tears down and
/// returns a [`Run`]. It is run once without a point (to count the victim's
/// boundaries), then at each boundary; every report must be clean (checked
/// first: it names the broken rule) and the scenario find nothing wrong.
/// Returns how many boundaries were swept.
fn sweep(case: &str, mut run: impl FnMut(At) -> Run) -> usize {
    let (report, crossed, _, problems) = run(At::NEVER);
    assert_clean(&report);
    assert!(problems.is_empty(), "{case}: {problems:?}");
    assert!(!crossed.is_empty(), "{case}: the victim crosses no DDI boundary");
    let ks = boundaries(crossed.len());
    eprintln!("{case}: {} boundaries, {} swept", crossed.len(), ks.len());
    for &k in &ks {
        let (report, again, fired, problems) = run(At::boundary(k));
        assert_eq!(
            fired,
            Some(k - 1),
            "{case}: boundary #{k} ({}) not reached: {again:?}",
            crossed[k - 1]
        );
        let at = format!(
            "the close injected at boundary #{k} of {} ({})",
            crossed.len(),
            crossed[k - 1]
        );
        assert!(report.is_clean(), "{case}: {at}:\n{report}");
        assert!(problems.is_empty(), "{case}: {at}: {problems:?}");
    }
    ks.len()
}

/// One run of a send racing a close: who sends, on which VC, how many
/// NBLs, and who closes which VC.
struct SendVsClose {
    sender: Client,
    from: Vc,
    nbls: usize,
    closer: Client,
    closed: Vc,
}

/// The sweep shared by the sends racing a close: `setup` builds the call on
/// a fresh adapter and names the two sides; the send (the victim) is stopped
/// at each boundary and the close runs there. Each send must complete once
/// (SUCCESS or VC_NOT_ACTIVATED) and the close must complete; `after` may
/// add what the case needs once both are done (a client deleting its VC).
fn send_races_close(
    case: &str,
    setup: impl Fn(&mut Emulator) -> SendVsClose,
    after: impl Fn(&mut Emulator, &SendVsClose),
) -> usize {
    sweep(case, |at| {
        let mut emu = up();
        let s = setup(&mut emu);
        let payload: Vec<&[u8]> = vec![b"racing the close".as_slice(); s.nbls];
        let out = emu.interleave(
            at,
            |emu| emu.send(s.from, &payload).expect("send"),
            |emu| emu.close_call(s.closed, &[]),
        );
        emu.pump();
        let mut problems = Vec::new();
        problems.extend(sends_completed_once(&emu, s.sender, s.nbls, case));
        if let Some(status) = out.injected {
            problems.extend(close_done(&emu, s.closer, status, case));
            after(&mut emu, &s);
        }
        (down(emu), out.crossed, out.fired_at, problems)
    })
}

/// The defect as filed: Bob's send stopped at the first spin-lock acquire
/// inside MiniportCoSendNetBufferLists (before it reaches the call
/// manager), Alice's close run to completion on another CPU there. On the
/// old code: `data.drain-before-deactivate`, `handle.valid`
/// (0xdddddddddddddddd) and `lookaside.cached-entry-intact`.
#[test]
fn alices_close_while_bobs_send_is_inside_the_send_handler() {
    let mut emu = up();
    let (p, bob_vc) = connected(&mut emu);
    let out = emu.interleave(
        At::ddi("KeAcquireSpinLockRaiseToDpc").inside("MiniportCoSendNetBufferLists"),
        |emu| emu.send(bob_vc, &[b"racing the close"]),
        |emu| emu.close_call(p.vc, &[]),
    );
    assert_eq!(out.victim, Ok(()));
    let closed = out.injected.expect("alice's close ran at the point");
    emu.pump();
    let (results, inbox, bob_vc_left) = (emu.send_results(p.bob), emu.inbox(p.alice), emu.vc_state(bob_vc));
    let deleted = emu.delete_vc(p.vc);
    // The contract first: what the old code broke.
    assert_clean(&down(emu));
    assert_eq!(
        results,
        [NDIS_STATUS_VC_NOT_ACTIVATED],
        "bob's send completed once, refused"
    );
    assert!(
        closed == NDIS_STATUS_SUCCESS || inbox.iter().any(|l| l.starts_with("CloseCallComplete")),
        "alice's close completed: {closed:#x} {inbox:?}"
    );
    assert_eq!(bob_vc_left, None, "covmini deleted Bob's VC after the send");
    assert_eq!(deleted, NDIS_STATUS_SUCCESS);
}

/// Bob's send (callee, covmini's VC) at every boundary vs Alice's close.
#[test]
fn a_send_on_the_callee_vc_races_the_callers_close_at_every_boundary() {
    let connected_pair = |emu: &mut Emulator| {
        let (p, bob_vc) = connected(emu);
        SendVsClose {
            sender: p.bob,
            from: bob_vc,
            nbls: 2,
            closer: p.alice,
            closed: p.vc,
        }
    };
    let n = send_races_close("callee send vs caller close", connected_pair, |_, _| {});
    assert!(n > 3, "{n}");
}

/// Alice's send (caller, her own VC) at every boundary vs Bob's close.
#[test]
fn a_send_on_the_caller_vc_races_the_callees_close_at_every_boundary() {
    let connected_pair = |emu: &mut Emulator| {
        let (p, bob_vc) = connected(emu);
        SendVsClose {
            sender: p.alice,
            from: p.vc,
            nbls: 1,
            closer: p.bob,
            closed: bob_vc,
        }
    };
    send_races_close("caller send vs callee close", connected_pair, |_, _| {});
}

/// An echo send at every boundary vs its own client's close (another CPU).
#[test]
fn an_echo_send_races_its_own_close_at_every_boundary() {
    let echo_call = |emu: &mut Emulator| {
        let c = emu.client("c");
        let af = emu.open_af(c, config::AF).expect("AF");
        let vc = emu.create_vc(af).expect("VC");
        assert_eq!(emu.make_call(vc, &call_to(ECHO_ADDRESS)), NDIS_STATUS_SUCCESS);
        SendVsClose {
            sender: c,
            from: vc,
            nbls: 2,
            closer: c,
            closed: vc,
        }
    };
    // Its client deletes the VC once the close is done.
    let delete = |emu: &mut Emulator, s: &SendVsClose| {
        assert_eq!(emu.delete_vc(s.closed), NDIS_STATUS_SUCCESS, "echo send vs close");
    };
    send_races_close("echo send vs close", echo_call, delete);
}

/// A root with two leaves (bob, dave) up: (root client, root VC, leaves'
/// clients, leaves' VCs).
fn multipoint(emu: &mut Emulator) -> (Client, Vc, [Client; 2], [Vc; 2]) {
    let root = emu.client("root");
    let af = emu.open_af(root, config::AF).expect("root's AF");
    let vc = emu.create_vc(af).expect("root's VC");
    let mut leaves = Vec::new();
    for name in ["bob", "dave"] {
        let c = emu.client(name);
        emu.set_incoming_answer(c, Answer::Sync, NDIS_STATUS_SUCCESS);
        let af = emu.open_af(c, config::AF).expect("leaf AF");
        emu.register_sap(af, SAP_TYPE_ADDRESS, name.as_bytes()).expect("SAP");
        leaves.push(c);
    }
    let (s, _) = emu.make_multipoint_call(vc, &call_to(b"bob"));
    assert_eq!(s, NDIS_STATUS_SUCCESS);
    let (s, _) = emu.add_party(vc, &call_to(b"dave"));
    assert_eq!(s, NDIS_STATUS_SUCCESS);
    let leaf_vcs = [leaves[0], leaves[1]].map(|c| *emu.offered_vcs(c).last().expect("leaf VC"));
    (root, vc, [leaves[0], leaves[1]], leaf_vcs)
}

/// A multipoint root's send at every boundary vs a leaf hanging up.
#[test]
fn a_root_send_races_a_leaf_hanging_up_at_every_boundary() {
    let root_and_leaf = |emu: &mut Emulator| {
        let (root, vc, leaves, leaf_vcs) = multipoint(emu);
        SendVsClose {
            sender: root,
            from: vc,
            nbls: 1,
            closer: leaves[0],
            closed: leaf_vcs[0],
        }
    };
    send_races_close("root send vs leaf close", root_and_leaf, |_, _| {});
}

/// A multipoint root's send at every boundary vs the root's own close.
#[test]
fn a_root_send_races_the_roots_close_at_every_boundary() {
    // NDIS passes the last party's context with the root's close (the
    // emulator does).
    let root = |emu: &mut Emulator| {
        let (root, vc, _, _) = multipoint(emu);
        SendVsClose {
            sender: root,
            from: vc,
            nbls: 1,
            closer: root,
            closed: vc,
        }
    };
    send_races_close("root send vs root close", root, |_, _| {});
}

/// Bob holds the receives of Alice's send; his return of them
/// (MiniportReturnNetBufferLists, which completes Alice's send) at every
/// boundary vs Alice's close.
#[test]
fn returning_receives_races_the_senders_close_at_every_boundary() {
    sweep("receive return vs sender close", |at| {
        let mut emu = up();
        let (p, _) = connected(&mut emu);
        emu.hold_receives(p.bob, true);
        emu.send(p.vc, &[b"held", b"by bob"]).expect("send");
        assert_eq!(emu.held_receives(p.bob), 2);
        emu.hold_receives(p.bob, false);
        let out = emu.interleave(
            at,
            |emu| assert_eq!(emu.return_held(p.bob), 2),
            |emu| emu.close_call(p.vc, &[]),
        );
        emu.pump();
        let mut problems = Vec::new();
        let case = "receive return vs sender close";
        problems.extend(sends_completed_once(&emu, p.alice, 2, case));
        if let Some(s) = out.injected {
            problems.extend(close_done(&emu, p.alice, s, case));
        }
        (down(emu), out.crossed, out.fired_at, problems)
    });
}

/// A per-VC statistics OID on Bob's VC, through the miniport
/// (MiniportCoOidRequest) and through the call manager
/// (ProtocolCoOidRequest), at every boundary vs Alice's close (after which
/// covmini deletes Bob's VC).
#[test]
fn a_vc_oid_races_the_peers_close_at_every_boundary() {
    for through_cm in [false, true] {
        let case = if through_cm {
            "ProtocolCoOidRequest vs close"
        } else {
            "MiniportCoOidRequest vs close"
        };
        sweep(case, |at| {
            let mut emu = up();
            let (p, bob_vc) = connected(&mut emu);
            let af = through_cm.then_some(p.bob_af);
            let out = emu.interleave(
                at,
                |emu| emu.oid_query(af, Some(bob_vc), OID_GEN_CO_XMIT_PDUS_OK, 8),
                |emu| emu.close_call(p.vc, &[]),
            );
            let mut problems = Vec::new();
            // Answered at once (covmini never pends an OID), whatever the
            // answer: statistics, a VC gone, or not a call-manager OID.
            if let Ok((_, r)) = &out.victim
                && r.status == NDIS_STATUS_PENDING
            {
                problems.push(format!("{case}: pended: {r:?}"));
            }
            emu.pump();
            if let Some(s) = out.injected {
                problems.extend(close_done(&emu, p.alice, s, case));
            }
            (down(emu), out.crossed, out.fired_at, problems)
        });
    }
}

/// Bob's QoS change (ProtocolCmModifyCallQoS) at every boundary vs Alice's
/// close.
#[test]
fn a_qos_change_races_the_peers_close_at_every_boundary() {
    sweep("QoS change vs close", |at| {
        let mut emu = up();
        let (p, bob_vc) = connected(&mut emu);
        let faster = common::scenario::call_to_at(b"bob", 250_000);
        let out = emu.interleave(
            at,
            |emu| emu.modify_qos(bob_vc, &faster),
            |emu| emu.close_call(p.vc, &[]),
        );
        let case = "QoS change vs close";
        let mut problems = Vec::new();
        if out.victim != NDIS_STATUS_SUCCESS && out.victim != NDIS_STATUS_FAILURE {
            problems.push(format!("{case}: {:#x}", out.victim));
        }
        emu.pump();
        if let Some(s) = out.injected {
            problems.extend(close_done(&emu, p.alice, s, case));
        }
        (down(emu), out.crossed, out.fired_at, problems)
    });
}

/// The other way round: Alice's close (the whole chain: Bob's incoming
/// close, his client's close, covmini deactivating and deleting his VC)
/// stopped at every boundary, Bob's send run there. A send that finds the
/// close begun is refused at once with NDIS_STATUS_VC_NOT_ACTIVATED; one on
/// a VC already deleted never reaches covmini (NDIS fails it).
#[test]
fn a_close_chain_races_a_send_at_every_boundary() {
    sweep("caller close vs callee send", |at| {
        let mut emu = up();
        let (p, bob_vc) = connected(&mut emu);
        let out = emu.interleave(at, |emu| emu.close_call(p.vc, &[]), |emu| emu.send(bob_vc, &[b"late"]));
        emu.pump();
        let mut problems = Vec::new();
        let case = "caller close vs callee send";
        problems.extend(close_done(&emu, p.alice, out.victim, case));
        match out.injected {
            Some(Ok(())) => problems.extend(sends_completed_once(&emu, p.bob, 1, case)),
            Some(Err(s)) if emu.vc_state(bob_vc).is_some() => {
                problems.push(format!(
                    "{case}: the send was refused ({s:#x}) on a VC that is still there"
                ));
            }
            _ => {}
        }
        (down(emu), out.crossed, out.fired_at, problems)
    });
}

/// A root's send that ends four leaves' closes at once. The receive pool
/// is low (a third client holds its echo receives down to the low-water
/// mark), so the send indicates with NDIS_RECEIVE_FLAGS_RESOURCES and every
/// leaf's pin comes back in the send handler itself. Stopped at its first
/// indication, after the route pinned the leaves, bob hangs up his four
/// leaves there: each close pends on its pin. The send's end then drops the four pins, finishing
/// four closes: deactivate, complete and delete each leaf, twelve NDIS
/// calls. On the old code they were one list of at most eight
/// (`call_manager::MAX_EFFECTS`): the last four were lost, though the core
/// had already removed the leaves. The fourth leaf's close was never
/// completed, and its AF could close over it, so HaltEx returned with it
/// pended: `halt.requests-completed` ("ProtocolCmCloseCall pended the
/// request ... and HaltEx returned without NdisCmCloseCallComplete", the
/// rule seed 273000299 of the threaded soak broke; RELIABILITY.md), after
/// `lookaside.delete-outstanding` for the two leaf contexts never deleted.
/// Each close must complete, once, and the run be clean.
#[test]
fn a_root_send_ending_four_leaf_closes_completes_every_one() {
    let emu = up();
    let root = emu.client("root");
    let bob = emu.client("bob");
    let hog = emu.client("hog");
    emu.set_incoming_answer(bob, Answer::Sync, NDIS_STATUS_SUCCESS);
    let root_af = emu.open_af(root, config::AF).expect("root's AF");
    let bob_af = emu.open_af(bob, config::AF).expect("bob's AF");
    let hog_af = emu.open_af(hog, config::AF).expect("hog's AF");
    emu.register_sap(bob_af, SAP_TYPE_ADDRESS, b"bob").expect("bob's SAP");
    let root_vc = emu.create_vc(root_af).expect("root's VC");
    let (s, _) = emu.make_multipoint_call(root_vc, &call_to(b"bob"));
    assert_eq!(s, NDIS_STATUS_SUCCESS, "the multipoint call");
    for _ in 0..3 {
        assert_eq!(emu.add_party(root_vc, &call_to(b"bob")).0, NDIS_STATUS_SUCCESS);
    }
    let leaves = emu.offered_vcs(bob);
    assert_eq!(leaves.len(), 4, "bob has four leaves");
    // The hog holds receive NBLs until covmini indicates with RESOURCES
    // (the free list at its low-water mark: it keeps none of those).
    let echo = emu.create_vc(hog_af).expect("hog's VC");
    assert_eq!(emu.make_call(echo, &call_to(ECHO_ADDRESS)), NDIS_STATUS_SUCCESS);
    emu.hold_receives(hog, true);
    for _ in 0..256 {
        emu.send(echo, &[b"held"]).expect("echo send");
    }
    let held = emu.held_receives(hog);
    assert!((200..256).contains(&held), "the hog holds {held}");
    let out = emu.interleave(
        At::ddi("NdisMCoIndicateReceiveNetBufferLists").inside("MiniportCoSendNetBufferLists"),
        |emu| emu.send(root_vc, &[b"to four leaves"]),
        |emu| leaves.iter().map(|v| emu.close_call(*v, &[])).collect::<Vec<_>>(),
    );
    assert_eq!(out.victim, Ok(()), "the root's send");
    let closes = out.injected.expect("bob's closes ran inside the send");
    assert_eq!(closes, [NDIS_STATUS_PENDING; 4], "each leaf's close waits for its pin");
    emu.pump();
    assert_eq!(
        emu.send_results(root),
        [NDIS_STATUS_SUCCESS],
        "completed at once, lent with RESOURCES"
    );
    let completed = emu
        .inbox(bob)
        .iter()
        .filter(|l| l.starts_with("CloseCallComplete"))
        .count();
    let left: Vec<_> = leaves.iter().filter_map(|v| emu.vc_state(*v)).collect();
    emu.hold_receives(hog, false);
    assert_eq!(emu.return_held(hog), held);
    let report = down(emu);
    assert_clean(&report);
    assert_eq!(completed, 4, "every leaf's close completed");
    assert!(left.is_empty(), "covmini deleted every leaf: {left:?}");
}

/// The same race on real threads (`Emulator::threaded`), many rounds: Bob
/// sends on his VC on one CPU while Alice hangs up on another, with no
/// point chosen, so the machine picks the interleavings (including the
/// stretch between the send handler's entry and its first instruction,
/// which no DDI boundary marks). Every round must leave a clean report.
#[test]
fn sends_racing_the_peers_close_on_two_cpus_break_nothing() {
    let rounds = if std::env::var_os("COVMINI_UNDER_VALGRIND").is_some() {
        5
    } else {
        40
    };
    for round in 0..rounds {
        let mut emu = Emulator::threaded(round, 1);
        emu.load(common::driver::driver_entry()).expect("DriverEntry");
        emu.add_adapter().expect("adapter");
        let (p, bob_vc) = connected(&mut emu);
        let go = std::sync::Barrier::new(2);
        let out = emu.concurrently(2, |i, emu| {
            go.wait();
            if i == 0 {
                let sent = (0..8).filter(|_| emu.send(bob_vc, &[b"x"]).is_ok()).count();
                (sent, NDIS_STATUS_SUCCESS)
            } else {
                std::thread::yield_now();
                (0, emu.close_call(p.vc, &[]))
            }
        });
        emu.pump();
        let problems: Vec<String> = sends_completed_once(&emu, p.bob, out[0].0, "threaded")
            .into_iter()
            .chain(close_done(&emu, p.alice, out[1].1, "threaded"))
            .collect();
        let report = down(emu);
        assert!(report.is_clean(), "round {round}:\n{report}");
        assert!(problems.is_empty(), "round {round}: {problems:?}");
    }
}

/// Alice's make call to Bob, who pends his answer: her VC is active (covmini
/// activates both ends before it offers the call) and carries no call yet.
/// Returns the pair and Bob's offered VC.
fn calling(emu: &mut Emulator) -> (Pair, Vc) {
    let p = pair(emu, Answer::Pend, NDIS_STATUS_SUCCESS);
    assert_eq!(emu.make_call(p.vc, &call_to(b"bob")), NDIS_STATUS_PENDING);
    let offered = emu.offered_vcs(p.bob);
    assert_eq!(offered.len(), 1);
    (p, offered[0])
}

/// Whether Alice's make call was completed with a failure (her inbox).
fn make_call_failed(emu: &Emulator, alice: Client) -> bool {
    emu.inbox(alice)
        .iter()
        .any(|l| l.starts_with("MakeCallComplete") && l != "MakeCallComplete 0x0")
}

/// What a sweep of a race with Bob's rejection checks about Alice once the
/// answers ran: her make call failed (if the rejection ran: `rejection` is
/// Some), and her VC can be deleted: by the delete that raced the
/// rejection (the status inside `rejection`, when the case makes one), or
/// by one now, since a delete refused while the make call was outstanding
/// succeeds once it failed. (One argument, so a delete cannot be reported
/// for a rejection that did not run.)
fn after_rejection(
    emu: &mut Emulator,
    alice: Client,
    vc: Vc,
    rejection: Option<Option<NDIS_STATUS>>,
    case: &str,
) -> Vec<String> {
    let mut problems = Vec::new();
    if rejection.is_some() && !make_call_failed(emu, alice) {
        problems.push(format!("{case}: alice's make call failed: {:?}", emu.inbox(alice)));
    }
    if let Some(Some(deleted)) = rejection
        && deleted != NDIS_STATUS_SUCCESS
        && emu.delete_vc(vc) != NDIS_STATUS_SUCCESS
    {
        problems.push(format!("{case}: alice's VC deleted"));
    }
    problems
}

/// The threaded soak's `data.drain-before-deactivate` (and, when Alice's
/// client deletes her VC as soon as her make call failed, the write after
/// free of her VC context and the completion on a deleted VC): Alice sends
/// on her VC while her make call waits for Bob's answer. The send gets no
/// route (the VC carries no call yet) but is inside
/// MiniportCoSendNetBufferLists, stopped at its first spin-lock acquire,
/// when Bob rejects the call on another CPU and Alice deletes her VC. On the
/// old code the rejection deactivated Alice's VC with the send inside
/// (`data.drain-before-deactivate`) and completed her make call, so her
/// delete freed the context under the send. Now the rejection waits for the
/// send to leave before it deactivates her VC and fails her make call: the
/// delete that came first is refused (the make call is outstanding), and
/// one after succeeds.
#[test]
fn a_send_on_the_caller_vc_while_the_callee_rejects_and_the_caller_deletes() {
    let mut emu = up();
    let (p, bob_vc) = calling(&mut emu);
    let out = emu.interleave(
        At::ddi("KeAcquireSpinLockRaiseToDpc").inside("MiniportCoSendNetBufferLists"),
        |emu| emu.send(p.vc, &[b"too early"]),
        |emu| {
            let answered = emu.answer_incoming(bob_vc, NDIS_STATUS_NOT_ACCEPTED);
            (answered, emu.delete_vc(p.vc))
        },
    );
    assert_eq!(out.victim, Ok(()));
    let (answered, deleted_early) = out.injected.expect("bob's answer ran at the point");
    assert_eq!(answered, Ok(()));
    emu.pump();
    let results = emu.send_results(p.alice);
    let failed = make_call_failed(&emu, p.alice);
    let deleted = if deleted_early == NDIS_STATUS_SUCCESS {
        NDIS_STATUS_SUCCESS
    } else {
        emu.delete_vc(p.vc)
    };
    assert_clean(&down(emu));
    assert_eq!(
        results,
        [NDIS_STATUS_VC_NOT_ACTIVATED],
        "alice's send completed once, refused"
    );
    assert!(failed, "alice's make call failed");
    assert_eq!(deleted, NDIS_STATUS_SUCCESS, "alice's VC deleted");
}

/// The threaded soak's `data.drain-before-deactivate` on its own: Alice's
/// send on her VC (its make call waiting for Bob's answer, so refused by
/// the route) is stopped at its completion (NdisMCoSendNetBufferListsComplete,
/// past NDIS's window: it has taken and released the adapter's lock), and
/// Bob rejects the call there. On the old code the rejection deactivated
/// Alice's VC with the send inside it. Now her VC is deactivated, and her
/// make call failed, after the send left.
#[test]
fn a_send_on_the_caller_vc_while_the_callee_rejects() {
    let mut emu = up();
    let (p, bob_vc) = calling(&mut emu);
    let out = emu.interleave(
        At::ddi("NdisMCoSendNetBufferListsComplete").inside("MiniportCoSendNetBufferLists"),
        |emu| emu.send(p.vc, &[b"too early"]),
        |emu| emu.answer_incoming(bob_vc, NDIS_STATUS_NOT_ACCEPTED),
    );
    assert_eq!(out.victim, Ok(()));
    assert_eq!(out.injected, Some(Ok(())), "bob's answer ran at the point");
    emu.pump();
    let (results, failed, left) = (
        emu.send_results(p.alice),
        make_call_failed(&emu, p.alice),
        emu.vc_state(p.vc),
    );
    let deleted = emu.delete_vc(p.vc);
    assert_clean(&down(emu));
    assert_eq!(
        results,
        [NDIS_STATUS_VC_NOT_ACTIVATED],
        "alice's send completed once, refused"
    );
    assert!(failed, "alice's make call failed");
    assert!(
        matches!(left, Some((_, false))),
        "alice's VC is left inactive: {left:?}"
    );
    assert_eq!(deleted, NDIS_STATUS_SUCCESS, "alice's VC deleted");
}

/// Alice's send on her VC while her make call waits for Bob's answer, at
/// every boundary vs Bob's rejection (after which Alice deletes her VC, as
/// a client whose call failed does).
#[test]
fn a_send_on_the_caller_vc_races_the_callees_rejection_at_every_boundary() {
    sweep("caller send vs callee rejection", |at| {
        let mut emu = up();
        let (p, bob_vc) = calling(&mut emu);
        let out = emu.interleave(
            at,
            |emu| emu.send(p.vc, &[b"one", b"two"]).expect("send"),
            |emu| {
                let answered = emu.answer_incoming(bob_vc, NDIS_STATUS_NOT_ACCEPTED);
                (answered, emu.delete_vc(p.vc))
            },
        );
        emu.pump();
        let mut problems = Vec::new();
        let case = "caller send vs callee rejection";
        problems.extend(sends_completed_once(&emu, p.alice, 2, case));
        let rejection = out.injected.map(|(_, deleted)| Some(deleted));
        problems.extend(after_rejection(&mut emu, p.alice, p.vc, rejection, case));
        (down(emu), out.crossed, out.fired_at, problems)
    });
}

/// The callee's side of the same race: Bob sends on the VC covmini offered
/// him (active since covmini activated it before the offer; the send gets
/// no route) and, while the send is inside MiniportCoSendNetBufferLists at
/// its completion, rejects the call on another CPU. The rejection must
/// neither deactivate nor delete (and free) Bob's VC under the send.
#[test]
fn a_send_on_the_callee_vc_while_the_callee_rejects() {
    let mut emu = up();
    let (p, bob_vc) = calling(&mut emu);
    let out = emu.interleave(
        At::ddi("NdisMCoSendNetBufferListsComplete").inside("MiniportCoSendNetBufferLists"),
        |emu| emu.send(bob_vc, &[b"before the answer"]),
        |emu| emu.answer_incoming(bob_vc, NDIS_STATUS_NOT_ACCEPTED),
    );
    assert_eq!(out.victim, Ok(()));
    assert_eq!(out.injected, Some(Ok(())), "bob's answer ran at the point");
    emu.pump();
    let (results, failed, left) = (
        emu.send_results(p.bob),
        make_call_failed(&emu, p.alice),
        emu.vc_state(bob_vc),
    );
    assert_clean(&down(emu));
    assert_eq!(
        results,
        [NDIS_STATUS_VC_NOT_ACTIVATED],
        "bob's send completed once, refused"
    );
    assert!(failed, "alice's make call failed");
    assert_eq!(left, None, "covmini deleted bob's VC after the send");
}

/// Bob's send on his offered VC at every boundary vs his own rejection.
#[test]
fn a_send_on_the_callee_vc_races_its_rejection_at_every_boundary() {
    sweep("callee send vs its rejection", |at| {
        let mut emu = up();
        let (p, bob_vc) = calling(&mut emu);
        let out = emu.interleave(
            at,
            |emu| emu.send(bob_vc, &[b"one", b"two"]).expect("send"),
            |emu| emu.answer_incoming(bob_vc, NDIS_STATUS_NOT_ACCEPTED),
        );
        emu.pump();
        let mut problems = Vec::new();
        let case = "callee send vs its rejection";
        problems.extend(sends_completed_once(&emu, p.bob, 2, case));
        // No delete races this rejection.
        let rejection = out.injected.map(|_answered| None);
        problems.extend(after_rejection(&mut emu, p.alice, p.vc, rejection, case));
        (down(emu), out.crossed, out.fired_at, problems)
    });
}

/// Alice's multipoint make call with Bob as the initial party, who pends
/// his answer: her VC (the root) and Bob's leaf VC are active (covmini
/// activates both before the offer) and carry no call yet. Returns the
/// pair and Bob's leaf VC.
fn multipoint_calling(emu: &mut Emulator) -> (Pair, Vc) {
    let p = pair(emu, Answer::Pend, NDIS_STATUS_SUCCESS);
    let (s, _) = emu.make_multipoint_call(p.vc, &call_to(b"bob"));
    assert_eq!(s, NDIS_STATUS_PENDING);
    let offered = emu.offered_vcs(p.bob);
    assert_eq!(offered.len(), 1);
    (p, offered[0])
}

/// The soak's seed 600437 (and likely 1201114, 600314): the multipoint twin
/// of the caller's refusal race. Alice sends on the root of her multipoint
/// make call (refused by the route: the call is not up) and, while the
/// send is inside MiniportCoSendNetBufferLists at its completion, Bob (the
/// initial party's leaf) rejects on another CPU and Alice deletes her VC.
/// On the old code the leaf's rejection deactivated the root under the send
/// (`data.drain-before-deactivate`) and failed the make call, after which
/// the delete freed the root's context under it. Now the root is
/// deactivated, and the make call failed, after the send left.
#[test]
fn a_send_on_the_root_while_its_leaf_rejects_and_the_root_deletes() {
    let mut emu = up();
    let (p, leaf_vc) = multipoint_calling(&mut emu);
    let out = emu.interleave(
        At::ddi("NdisMCoSendNetBufferListsComplete").inside("MiniportCoSendNetBufferLists"),
        |emu| emu.send(p.vc, &[b"too early"]),
        |emu| {
            let answered = emu.answer_incoming(leaf_vc, NDIS_STATUS_NOT_ACCEPTED);
            (answered, emu.delete_vc(p.vc))
        },
    );
    assert_eq!(out.victim, Ok(()));
    let (answered, deleted_early) = out.injected.expect("bob's answer ran at the point");
    assert_eq!(answered, Ok(()));
    emu.pump();
    let (results, failed, left) = (
        emu.send_results(p.alice),
        make_call_failed(&emu, p.alice),
        emu.vc_state(p.vc),
    );
    let deleted = if deleted_early == NDIS_STATUS_SUCCESS {
        NDIS_STATUS_SUCCESS
    } else {
        emu.delete_vc(p.vc)
    };
    assert_clean(&down(emu));
    assert_eq!(
        results,
        [NDIS_STATUS_VC_NOT_ACTIVATED],
        "alice's send completed once, refused"
    );
    assert!(failed, "alice's make call failed");
    assert!(
        deleted_early == NDIS_STATUS_SUCCESS || matches!(left, Some((_, false))),
        "alice's VC is left inactive: {left:?}"
    );
    assert_eq!(deleted, NDIS_STATUS_SUCCESS, "alice's VC deleted");
}

/// The leaf's side: Bob sends on the leaf VC covmini offered him (active
/// since covmini activated it before the offer; a leaf's send is refused)
/// and, while the send is inside MiniportCoSendNetBufferLists at its
/// completion, rejects the party on another CPU. On the old code the
/// rejection deactivated, deleted and freed the leaf under the send (no
/// handshake at all on a leaf); now only after it left.
#[test]
fn a_send_on_the_leaf_while_it_rejects() {
    let mut emu = up();
    let (p, leaf_vc) = multipoint_calling(&mut emu);
    let out = emu.interleave(
        At::ddi("NdisMCoSendNetBufferListsComplete").inside("MiniportCoSendNetBufferLists"),
        |emu| emu.send(leaf_vc, &[b"before the answer"]),
        |emu| emu.answer_incoming(leaf_vc, NDIS_STATUS_NOT_ACCEPTED),
    );
    assert_eq!(out.victim, Ok(()));
    assert_eq!(out.injected, Some(Ok(())), "bob's answer ran at the point");
    emu.pump();
    let (results, failed, left) = (
        emu.send_results(p.bob),
        make_call_failed(&emu, p.alice),
        emu.vc_state(leaf_vc),
    );
    assert_clean(&down(emu));
    assert_eq!(results.len(), 1, "bob's send completed once: {results:x?}");
    assert!(failed, "alice's make call failed");
    assert_eq!(left, None, "covmini deleted the leaf after the send");
}

/// Alice's send on her root (multipoint make call pending) at every
/// boundary vs Bob's rejection of the initial party, after which Alice
/// deletes her VC; and Bob's send on his leaf at every boundary vs his own
/// rejection.
#[test]
fn sends_on_a_multipoint_make_calls_vcs_race_the_leafs_rejection_at_every_boundary() {
    for on_leaf in [false, true] {
        let case = if on_leaf {
            "leaf send vs its rejection"
        } else {
            "root send vs the leaf's rejection"
        };
        sweep(case, |at| {
            let mut emu = up();
            let (p, leaf_vc) = multipoint_calling(&mut emu);
            let (sender, from) = if on_leaf { (p.bob, leaf_vc) } else { (p.alice, p.vc) };
            let out = emu.interleave(
                at,
                |emu| emu.send(from, &[b"one", b"two"]).expect("send"),
                |emu| {
                    let answered = emu.answer_incoming(leaf_vc, NDIS_STATUS_NOT_ACCEPTED);
                    (answered, emu.delete_vc(p.vc))
                },
            );
            emu.pump();
            let mut problems = Vec::new();
            let results = emu.send_results(sender);
            if results.len() != 2 {
                problems.push(format!("{case}: 2 sends, each completed once: {results:x?}"));
            }
            let rejection = out.injected.map(|(_, deleted)| Some(deleted));
            problems.extend(after_rejection(&mut emu, p.alice, p.vc, rejection, case));
            (down(emu), out.crossed, out.fired_at, problems)
        });
    }
}

/// A make call whose callee's (or leaf's) activation fails, with a send
/// inside the caller's VC (or root), which the make call activated just
/// before: the make call is stopped at that second NdisMCmActivateVc (made
/// to fail), Alice's send runs on another CPU up to its completion
/// (refused by the route, inside MiniportCoSendNetBufferLists) and is
/// stopped there, and the make call runs to its end. On the old code it
/// deactivated Alice's VC under the send (`data.drain-before-deactivate`)
/// and returned FAILURE, after which her client may delete the VC under
/// it. Now the make call pends and the send, leaving, deactivates the VC
/// and fails the call.
#[test]
fn a_send_on_the_caller_vc_while_the_callees_activation_fails() {
    for multipoint in [false, true] {
        let mut emu = up();
        let p = pair(&mut emu, Answer::Pend, NDIS_STATUS_SUCCESS);
        emu.fail_nth_call("NdisMCmActivateVc", 2);
        let vc = p.vc;
        let out = emu.interleave_back(
            At::ddi("NdisMCmActivateVc").nth(2),
            At::ddi("NdisMCoSendNetBufferListsComplete"),
            |emu| {
                if multipoint {
                    emu.make_multipoint_call(vc, &call_to(b"bob")).0
                } else {
                    emu.make_call(vc, &call_to(b"bob"))
                }
            },
            |emu| emu.send(vc, &[b"too early"]),
        );
        assert_eq!(out.injected, Some(Ok(())), "multipoint {multipoint}: the send ran");
        assert!(
            out.back_fired_at.is_some(),
            "multipoint {multipoint}: the send stopped at its completion: {:?}",
            out.injected_crossed
        );
        assert!(
            [NDIS_STATUS_PENDING, NDIS_STATUS_FAILURE].contains(&out.victim),
            "multipoint {multipoint}: {:#x}",
            out.victim
        );
        emu.pump();
        let (results, failed) = (emu.send_results(p.alice), make_call_failed(&emu, p.alice));
        let deleted = emu.delete_vc(vc);
        assert_clean(&down(emu));
        assert_eq!(
            results,
            [NDIS_STATUS_VC_NOT_ACTIVATED],
            "multipoint {multipoint}: the send completed once, refused"
        );
        assert!(failed, "multipoint {multipoint}: the make call failed");
        assert_eq!(
            deleted, NDIS_STATUS_SUCCESS,
            "multipoint {multipoint}: alice's VC deleted"
        );
    }
}

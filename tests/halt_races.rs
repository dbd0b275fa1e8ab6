//! HaltEx racing a client's call-manager requests, produced exactly
//! (`ndis_emu::interleave`): NDIS halts a paused adapter with no send or
//! miniport OID outstanding, but a client's call-manager requests on an AF
//! still open go on until the AF is closed (contract §1.4), so they may
//! cross HaltEx anywhere: its decision of which AFs to wait for, each
//! NdisMCmNotifyCloseAddressFamily (and the clients' teardowns inside it or
//! after it), and its wait. Three setups ([`Setup`]): a connected call; a
//! second call whose answer bob pended; alice's AF close pended over her
//! VCs. The clients answer the notification at once or pend it.
//!
//! * **Halt stopped, request injected**: HaltEx is stopped at each DDI
//!   boundary it crosses up to the event's set that ends its wait (one
//!   fresh deterministic emulator per boundary), and a client's close AF
//!   (either client), close call (either end), deregister SAP, make call,
//!   delete VC, send, or answer to the pended offer (accept, reject) runs
//!   there to completion.
//! * **Request stopped, halt injected**: each of those requests but the
//!   send is stopped at each DDI boundary covmini crosses while serving it,
//!   and the whole halt runs there (threaded mode, so HaltEx can wait for
//!   the stopped handler on a CPU of its own).
//!
//! What it proves: whichever boundary the crossing lands on, each request
//! ends with a status its DDI allows, HaltEx returns with every AF closed,
//! and the run breaks no rule and leaks nothing after unload. It runs
//! against the host build or, with `COVMINI_SYS`, the kernel image. To
//! stay within seconds the halt-stopped sweep leaves out boundaries and
//! cases that repeat others ([`boundaries`], [`halt_stopped_cases`], and
//! the AF closes and the deregistration only with the connected call);
//! `HALT_RACES_EVERY_BOUNDARY=1` sweeps them all (clean, about a minute).
//! Under valgrind (`COVMINI_UNDER_VALGRIND`), every fifth boundary.

mod common;

use common::scenario::{assert_clean, call_to};
use covmini::call_manager::SAP_TYPE_ADDRESS;
use covmini::config;
use ndis_emu::interleave::{At, Crossing, Interleaving};
use ndis_emu::{Af, Answer, EmuError, Emulator, Party, Report, Sap, Vc};
use ndis_sys::*;

/// What is under way when the race begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setup {
    /// Alice's call to bob is connected; nothing pends.
    Connected,
    /// Also: alice's second call, on her spare VC, waits for bob's answer
    /// (he pended it).
    OfferPended,
    /// Also: alice closed her AF with the call and the spare VC left on it
    /// (covmini pended the close).
    AfClosePending,
    /// Also: alice's spare VC roots a multipoint call with two parties,
    /// both leaves bob's.
    Multipoint,
    /// Also: a multipoint call on the spare VC with one party, and a second
    /// party being added, whose offer bob pended.
    AddPartyPended,
}

/// The objects [`net`] made.
#[derive(Clone, Copy, Debug)]
struct Objs {
    alice_af: Af,
    bob_af: Af,
    sap: Sap,
    /// Alice's VC of her connected call to bob.
    call: Vc,
    /// Bob's VC of that call.
    theirs: Vc,
    /// Alice's spare VC (idle, or with a make call pending: `offer`).
    spare: Vc,
    /// Bob's VC of the call or party pending on `spare`
    /// ([`Setup::OfferPended`], [`Setup::AddPartyPended`]).
    offer: Option<Vc>,
    /// The multipoint call's first party and the last one added.
    parties: Option<(Party, Option<Party>)>,
    /// Bob's leaf VC of the last connected party.
    leaf: Option<Vc>,
}

/// Two clients on a fresh adapter: alice (a VC with a call to bob, and a
/// spare VC) and bob (the SAP "bob", and his VC of alice's call), as
/// `setup` says; with `pend_notify`, both pend ProtocolClNotifyCloseAf.
fn net(mut emu: Emulator, pend_notify: bool, setup: Setup) -> (Emulator, Objs) {
    emu.load(common::driver::driver_entry()).expect("DriverEntry");
    emu.add_adapter().expect("adapter");
    let alice = emu.client("alice");
    let bob = emu.client("bob");
    emu.set_incoming_answer(bob, Answer::Sync, NDIS_STATUS_SUCCESS);
    if pend_notify {
        emu.set_notify_close_answer(alice, Answer::Pend);
        emu.set_notify_close_answer(bob, Answer::Pend);
    }
    let alice_af = emu.open_af(alice, config::AF).expect("alice's AF");
    let bob_af = emu.open_af(bob, config::AF).expect("bob's AF");
    let sap = emu.register_sap(bob_af, SAP_TYPE_ADDRESS, b"bob").expect("bob's SAP");
    let call = emu.create_vc(alice_af).expect("alice's VC");
    let spare = emu.create_vc(alice_af).expect("alice's spare VC");
    assert_eq!(emu.make_call(call, &call_to(b"bob")), NDIS_STATUS_SUCCESS);
    let theirs = *emu.offered_vcs(bob).last().expect("bob was offered the call");
    let mut offer = None;
    let mut parties = None;
    let mut leaf = None;
    match setup {
        Setup::Connected => {}
        Setup::OfferPended => {
            emu.set_incoming_answer(bob, Answer::Pend, NDIS_STATUS_SUCCESS);
            assert_eq!(emu.make_call(spare, &call_to(b"bob")), NDIS_STATUS_PENDING);
            offer = Some(*emu.offered_vcs(bob).last().expect("bob was offered the second call"));
        }
        Setup::AfClosePending => assert_eq!(emu.close_af(alice_af), NDIS_STATUS_PENDING),
        Setup::Multipoint | Setup::AddPartyPended => {
            let (st, first) = emu.make_multipoint_call(spare, &call_to(b"bob"));
            assert_eq!(st, NDIS_STATUS_SUCCESS, "alice's multipoint call");
            let first = first.expect("the initial party");
            if setup == Setup::AddPartyPended {
                emu.set_incoming_answer(bob, Answer::Pend, NDIS_STATUS_SUCCESS);
            }
            let (st, second) = emu.add_party(spare, &call_to(b"bob"));
            let pended = setup == Setup::AddPartyPended;
            let want = if pended {
                NDIS_STATUS_PENDING
            } else {
                NDIS_STATUS_SUCCESS
            };
            assert_eq!(st, want, "alice's second party");
            let last = *emu.offered_vcs(bob).last().expect("bob was offered the party");
            if pended {
                offer = Some(last);
            } else {
                leaf = Some(last);
            }
            parties = Some((first, second));
        }
    }
    let objs = Objs {
        alice_af,
        bob_af,
        sap,
        call,
        theirs,
        spare,
        offer,
        parties,
        leaf,
    };
    (emu, objs)
}

/// A client's call-manager request (or send) that may cross HaltEx.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// Alice closes her AF (a call and a spare VC left on it: PENDING).
    CloseAliceAf,
    /// Bob closes his AF (a SAP and a call left on it: PENDING).
    CloseBobAf,
    /// Alice hangs up her call.
    CloseCaller,
    /// Bob hangs up alice's call.
    CloseCallee,
    /// Bob deregisters his SAP.
    DeregisterSap,
    /// Alice calls bob again, on her spare VC.
    MakeCall,
    /// Alice deletes her spare VC.
    DeleteVc,
    /// Alice sends on her call (NDIS refuses it once the halt began).
    Send,
    /// Bob accepts the call he pended ([`Setup::OfferPended`]).
    Accept,
    /// Bob rejects it.
    Reject,
    /// Alice adds a party to her multipoint call.
    AddParty,
    /// Alice drops the last party she added.
    DropParty,
    /// Alice drops the first party.
    DropFirstParty,
    /// Alice closes the multipoint call's root.
    CloseRoot,
    /// Bob hangs up his leaf of the last connected party.
    CloseLeaf,
}

/// The operations that make sense in `setup`.
fn ops(setup: Setup) -> &'static [Op] {
    match setup {
        Setup::Connected => &[
            Op::CloseAliceAf,
            Op::CloseBobAf,
            Op::CloseCaller,
            Op::CloseCallee,
            Op::DeregisterSap,
            Op::MakeCall,
            Op::DeleteVc,
            Op::Send,
        ],
        Setup::OfferPended => &[
            Op::Accept,
            Op::Reject,
            Op::CloseAliceAf,
            Op::CloseBobAf,
            Op::CloseCallee,
            Op::DeregisterSap,
        ],
        Setup::AfClosePending => &[Op::CloseCaller, Op::CloseCallee, Op::DeleteVc, Op::CloseBobAf],
        Setup::Multipoint => &[
            Op::AddParty,
            Op::DropParty,
            Op::CloseRoot,
            Op::CloseLeaf,
            Op::CloseAliceAf,
            Op::CloseBobAf,
            Op::DeregisterSap,
        ],
        Setup::AddPartyPended => &[
            Op::Accept,
            Op::Reject,
            Op::DropFirstParty,
            Op::CloseRoot,
            Op::CloseAliceAf,
            Op::CloseBobAf,
        ],
    }
}

const SETUPS: [Setup; 5] = [
    Setup::Connected,
    Setup::OfferPended,
    Setup::AfClosePending,
    Setup::Multipoint,
    Setup::AddPartyPended,
];

/// The statuses `op` may end with when it crosses a halt: its success
/// (SUCCESS or PENDING), and the refusals its DDI page and
/// docs/call-manager.md give for an object that is closing or gone
/// (FAILURE: NDIS's own refusal of a request on an AF, SAP or VC already
/// closing, or covmini's for an AF closing, contract §1.4; a make call to
/// a SAP already gone finds no route, NDIS refuses one on a VC its
/// client already deleted with CALL_ACTIVE, and bob, tearing his AF down,
/// rejects the offer with NOT_ACCEPTED; a send once the halt began is
/// refused PAUSED by NDIS, which paused the adapter). An answer is
/// `Ok` or refused by NDIS (the offer was answered already, by bob's
/// teardown).
fn allowed(op: Op, s: NDIS_STATUS) -> bool {
    let common = [NDIS_STATUS_SUCCESS, NDIS_STATUS_PENDING, NDIS_STATUS_FAILURE];
    match op {
        Op::MakeCall => {
            common.contains(&s)
                || [
                    NDIS_STATUS_NO_ROUTE_TO_DESTINATION,
                    NDIS_STATUS_CALL_ACTIVE,
                    NDIS_STATUS_NOT_ACCEPTED,
                ]
                .contains(&s)
        }
        Op::DeleteVc => [NDIS_STATUS_SUCCESS, NDIS_STATUS_FAILURE, NDIS_STATUS_NOT_ACCEPTED].contains(&s),
        Op::Send => s == NDIS_STATUS_PAUSED,
        Op::Accept | Op::Reject => [NDIS_STATUS_SUCCESS, NDIS_STATUS_FAILURE].contains(&s),
        Op::AddParty => {
            common.contains(&s) || [NDIS_STATUS_NO_ROUTE_TO_DESTINATION, NDIS_STATUS_NOT_ACCEPTED].contains(&s)
        }
        _ => common.contains(&s),
    }
}

/// Runs `op` on `o`.
fn run(op: Op, emu: &Emulator, o: Objs) -> NDIS_STATUS {
    let answer = |status| {
        let Some(v) = o.offer else { return NDIS_STATUS_FAILURE };
        match emu.answer_incoming(v, status) {
            Ok(()) => NDIS_STATUS_SUCCESS,
            Err(s) => s,
        }
    };
    match op {
        Op::CloseAliceAf => emu.close_af(o.alice_af),
        Op::CloseBobAf => emu.close_af(o.bob_af),
        Op::CloseCaller => emu.close_call(o.call, &[]),
        Op::CloseCallee => emu.close_call(o.theirs, &[]),
        Op::DeregisterSap => emu.deregister_sap(o.sap),
        Op::MakeCall => emu.make_call(o.spare, &call_to(b"bob")),
        Op::DeleteVc => emu.delete_vc(o.spare),
        Op::Send => match emu.send(o.call, &[b"x"]) {
            Ok(()) => NDIS_STATUS_SUCCESS,
            Err(s) => s,
        },
        Op::Accept => answer(NDIS_STATUS_SUCCESS),
        Op::Reject => answer(NDIS_STATUS_NOT_ACCEPTED),
        Op::AddParty => emu.add_party(o.spare, &call_to(b"bob")).0,
        Op::DropParty => match o.parties {
            Some((_, Some(p))) => emu.drop_party(p, &[]),
            _ => NDIS_STATUS_FAILURE,
        },
        Op::DropFirstParty => o.parties.map_or(NDIS_STATUS_FAILURE, |(p, _)| emu.drop_party(p, &[])),
        Op::CloseRoot => emu.close_call(o.spare, &[]),
        Op::CloseLeaf => o.leaf.map_or(NDIS_STATUS_FAILURE, |v| emu.close_call(v, &[])),
    }
}

/// The boundaries of `crossed[..n]` to stop at: every one but a
/// DbgPrintEx, the ExQueryDepthSList a lookaside push or pop makes right
/// before its own call, and a spin lock's acquisition (between the DDI
/// before those and the next one covmini changes nothing another CPU
/// sees: a stop there is a stop at the next one), all of them with
/// `HALT_RACES_EVERY_BOUNDARY` set; under valgrind
/// (`COVMINI_UNDER_VALGRIND`) every fifth of those (and the last).
fn boundaries(crossed: &[Crossing], n: usize) -> Vec<usize> {
    let every = std::env::var_os("HALT_RACES_EVERY_BOUNDARY").is_some();
    let step = if std::env::var_os("COVMINI_UNDER_VALGRIND").is_some() {
        5
    } else {
        1
    };
    let mut v: Vec<usize> = (1..=n)
        .filter(|&k| {
            every || !["DbgPrintEx", "ExQueryDepthSList", "KeAcquireSpinLockRaiseToDpc"].contains(&crossed[k - 1].ddi)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .step_by(step)
        .collect();
    if v.last() != Some(&n) && n > 0 {
        v.push(n);
    }
    v
}

/// Unloads and returns the report.
fn down(mut emu: Emulator) -> Report {
    emu.unload().expect("unload");
    emu.finish()
}

/// The setups and notify-close answers every sweep runs.
fn cases() -> impl Iterator<Item = (Setup, bool)> {
    SETUPS.into_iter().flat_map(|s| [(s, false), (s, true)])
}

/// [`cases`] for the halt-stopped sweep, the slow one: the pended
/// notification only with the connected call (its teardown runs after the
/// wait, so the other setups' requests land at the same boundaries as with
/// the notification answered at once), unless `HALT_RACES_EVERY_BOUNDARY`.
fn halt_stopped_cases() -> impl Iterator<Item = (Setup, bool)> {
    let every = std::env::var_os("HALT_RACES_EVERY_BOUNDARY").is_some();
    cases().filter(move |&(s, pend)| every || !pend || s == Setup::Connected)
}

/// HaltEx stopped at every DDI boundary it crosses up to the event's set
/// that ends its wait, each client request of [`ops`] injected there, in
/// every [`Setup`], with the clients answering the notification at once
/// and pended: each request ends with an allowed status, the halt returns,
/// and the run is clean.
#[test]
fn every_request_crossing_halt_at_every_boundary_is_clean() {
    let every = std::env::var_os("HALT_RACES_EVERY_BOUNDARY").is_some();
    for (setup, pend) in halt_stopped_cases() {
        // The AF closes and the deregistration meet the same halt in every
        // setup: swept with the connected call (all of them with
        // `HALT_RACES_EVERY_BOUNDARY`).
        let again = |op: &&Op| {
            every || setup == Setup::Connected || ![Op::CloseAliceAf, Op::CloseBobAf, Op::DeregisterSap].contains(op)
        };
        for &op in ops(setup).iter().filter(again) {
            let one = |at: At| -> (Interleaving<Result<(), EmuError>, NDIS_STATUS>, Report) {
                let (emu, o) = net(Emulator::new(), pend, setup);
                let out = emu.interleave(at, |emu| emu.halt_adapter(), move |emu| run(op, emu, o));
                (out, down(emu))
            };
            let (first, report) = one(At::NEVER);
            first.victim.expect("halt");
            assert_clean(&report);
            // Up to the event's set that ends the wait (the boundaries after
            // it free the receive pool, with every AF closed).
            let last = first
                .crossed
                .iter()
                .position(|c| c.ddi == "NdisSetEvent")
                .map_or(first.crossed.len(), |i| i + 1);
            for k in boundaries(&first.crossed, last) {
                let (out, report) = one(At::boundary(k));
                let case = format!(
                    "{setup:?}: {op:?} (notify pended: {pend}) at halt's boundary #{k} ({})",
                    first.crossed[k - 1]
                );
                assert!(out.victim.is_ok(), "{case}: halt {:?}", out.victim);
                let s = out.injected.unwrap_or_else(|| panic!("{case}: not reached"));
                assert!(allowed(op, s), "{case}: status {s:#010x}");
                assert!(report.is_clean(), "{case}:\n{report}");
            }
        }
    }
}

/// The reverse: each client request of [`ops`] but the send (NDIS halts
/// no adapter with a send in its handler) stopped at every DDI boundary
/// covmini crosses while serving it, and the whole halt run there on a CPU
/// of its own (threaded mode: HaltEx waits for the stopped handler, which
/// then goes on). Each request ends with an allowed status, the halt
/// returns, and the run is clean.
#[test]
fn halt_crossing_every_request_at_every_boundary_is_clean() {
    for (setup, pend) in cases() {
        for &op in ops(setup).iter().filter(|&&op| op != Op::Send) {
            let one = |at: At| -> (Interleaving<NDIS_STATUS, Result<(), EmuError>>, Report) {
                let (emu, o) = net(Emulator::threaded(7, 1), pend, setup);
                let out = emu.interleave(at, move |emu| run(op, emu, o), |emu| emu.halt_adapter());
                if out.injected.is_none() {
                    emu.halt_adapter().expect("halt");
                }
                (out, down(emu))
            };
            let (first, report) = one(At::NEVER);
            assert!(
                allowed(op, first.victim),
                "{setup:?}: {op:?} alone: {:#010x}",
                first.victim
            );
            assert_clean(&report);
            for k in boundaries(&first.crossed, first.crossed.len()) {
                let (out, report) = one(At::boundary(k));
                let case = format!(
                    "{setup:?}: halt at {op:?}'s boundary #{k} ({}) (notify pended: {pend})",
                    first.crossed[k - 1]
                );
                let halted = out.injected.unwrap_or_else(|| panic!("{case}: not reached"));
                assert!(halted.is_ok(), "{case}: halt {halted:?}");
                assert!(allowed(op, out.victim), "{case}: status {:#010x}", out.victim);
                assert!(report.is_clean(), "{case}:\n{report}");
            }
        }
    }
}

/// Regression (found by the sweep above): bob accepts alice's call, whose
/// make call pended (his answer pended), and the halt comes while covmini's
/// ProtocolCmIncomingCallComplete has decided the call is connected but not
/// yet completed alice's make call. Alice's teardown (HaltEx's notification
/// of her AF, on another CPU) closes the now connected call and deletes her
/// VC; covmini then completed the make call naming the freed VC
/// (NdisMCmMakeCallComplete on 0xdddddddddddddddd: `cm.complete-only-pended`,
/// `lookaside.cached-entry-intact`). The close must wait for the
/// completion: clean, and alice's make call completed once.
#[test]
fn an_accept_crossing_the_callers_teardown_at_halt_is_clean() {
    let (emu, o) = net(Emulator::threaded(7, 1), false, Setup::OfferPended);
    let at = At::ddi("KeReleaseSpinLock").inside("ProtocolCmIncomingCallComplete");
    let out = emu.interleave(at, move |emu| run(Op::Accept, emu, o), |emu| emu.halt_adapter());
    assert_eq!(out.victim, NDIS_STATUS_SUCCESS, "bob's accept");
    assert!(
        matches!(out.injected, Some(Ok(()))),
        "the halt ran there: {:?}",
        out.injected
    );
    let report = down(emu);
    assert_clean(&report);
    let completions = report
        .events
        .iter()
        .filter(|e| e.name == "NdisCmMakeCallComplete" && e.dir == "=>")
        .count();
    assert_eq!(completions, 1, "alice's pended make call is completed once");
}

/// Found by the reverse sweep (the party use after free, fixed by a
/// successful completion pinning its party, `CallManager::party_completed`,
/// RELIABILITY.md "Threaded runs"): bob accepts the party alice
/// is adding (he had pended its offer), and the halt comes while covmini's
/// ProtocolCmIncomingCallComplete has decided the party is connected but
/// not yet completed the add. Alice's teardown (HaltEx's notification, on
/// another CPU) drops the party and closes the root; covmini then
/// completes the add naming the freed party (NdisMCmAddPartyComplete on
/// 0xdddddddddddddddd: `cm.complete-only-pended`, and the add is never
/// completed: `halt.requests-completed`). Failed before that fix every time.
#[test]
fn an_accept_of_a_party_crossing_the_roots_teardown_at_halt_is_clean() {
    let (emu, o) = net(Emulator::threaded(7, 1), false, Setup::AddPartyPended);
    let at = At::ddi("KeReleaseSpinLock").inside("ProtocolCmIncomingCallComplete");
    let out = emu.interleave(at, move |emu| run(Op::Accept, emu, o), |emu| emu.halt_adapter());
    assert_eq!(out.victim, NDIS_STATUS_SUCCESS, "bob's accept");
    assert!(
        matches!(out.injected, Some(Ok(()))),
        "the halt ran there: {:?}",
        out.injected
    );
    assert_clean(&down(emu));
}

/// The setup of [`a_roots_refused_close_crossing_its_adds_failure_at_halt_is_retried`]:
/// alice's multipoint call is up with bob's party, her add of carol's
/// party pends on carol's answer, and all three clients closed their AFs
/// (covmini pended each: a VC or an offer is left on it). Returns the
/// emulator and the three close statuses.
fn unbinding_with_an_add_pending() -> (Emulator, [NDIS_STATUS; 3]) {
    let mut emu = Emulator::new();
    emu.load(common::driver::driver_entry()).expect("DriverEntry");
    emu.add_adapter().expect("adapter");
    let alice = emu.client("alice");
    let bob = emu.client("bob");
    let carol = emu.client("carol");
    emu.set_incoming_answer(bob, Answer::Sync, NDIS_STATUS_SUCCESS);
    emu.set_incoming_answer(carol, Answer::Pend, NDIS_STATUS_SUCCESS);
    let alice_af = emu.open_af(alice, config::AF).expect("alice's AF");
    let bob_af = emu.open_af(bob, config::AF).expect("bob's AF");
    let carol_af = emu.open_af(carol, config::AF).expect("carol's AF");
    emu.register_sap(bob_af, SAP_TYPE_ADDRESS, b"bob").expect("bob's SAP");
    emu.register_sap(carol_af, SAP_TYPE_ADDRESS, b"carol")
        .expect("carol's SAP");
    let root = emu.create_vc(alice_af).expect("alice's VC");
    let (s, _) = emu.make_multipoint_call(root, &call_to(b"bob"));
    assert_eq!(s, NDIS_STATUS_SUCCESS, "alice's multipoint call");
    let (s, _) = emu.add_party(root, &call_to(b"carol"));
    assert_eq!(s, NDIS_STATUS_PENDING, "carol's party pends on her answer");
    assert_eq!(emu.offered_vcs(carol).len(), 1, "carol was offered the party");
    let closes = [emu.close_af(alice_af), emu.close_af(bob_af), emu.close_af(carol_af)];
    (emu, closes)
}

/// A root's close that covmini refuses because a party is being added
/// (documented: FAILURE, "close after the add completes"), crossing that
/// add's failure, is made again (seed 1801147 of the threaded soak, where
/// HaltEx waited for ever). At halt the clients unbind, each with its AF
/// close pended, and remove what they left, alice first: her close of the
/// root is stopped at each DDI boundary covmini's ProtocolCmCloseCall
/// crosses, and there the other clients' threads run what they owe
/// (`pump`): carol's teardown rejects her offer, failing the add, and
/// alice's thread, learning of that completion, goes on with her teardown,
/// finds the root's close still in flight and leaves it. The refusal
/// then returned, and the scripted client, which resumed its teardown only
/// on a completion that ended the refusal's cause, never closed the root
/// again: the root's VC stayed, alice's AF close never completed, and
/// HaltEx waited for ever (`sync.wait-forever`, `halt.afs-closed`). Clean
/// at every boundary, and at least one crossing had the refusal return
/// after the add's failure.
#[test]
fn a_roots_refused_close_crossing_its_adds_failure_at_halt_is_retried() {
    let (emu, closes) = unbinding_with_an_add_pending();
    assert_eq!(closes, [NDIS_STATUS_PENDING; 3], "covmini pends the three AF closes");
    let counted = emu.interleave(At::NEVER, |emu| emu.halt_adapter(), |_| ()).crossed;
    // Alone, the teardown closes the root once carol's teardown failed the add.
    assert_clean(&down(emu));
    let points: Vec<usize> = counted
        .iter()
        .enumerate()
        .filter(|(_, c)| c.handler == Some("ProtocolCmCloseCall"))
        .map(|(k, _)| k + 1)
        .collect();
    assert!(!points.is_empty(), "no root close at halt: {counted:?}");
    let mut refused_after = 0;
    for k in points {
        let (emu, _) = unbinding_with_an_add_pending();
        let out = emu.interleave(At::boundary(k), |emu| emu.halt_adapter(), |emu| emu.pump());
        assert!(matches!(out.victim, Ok(())), "boundary {k}: the halt: {:?}", out.victim);
        let report = down(emu);
        assert_clean(&report);
        let refusal = report
            .events
            .iter()
            .position(|e| e.dir == "<-" && e.name == "ProtocolCmCloseCall" && e.detail() == "FAILURE");
        let failure = report
            .events
            .iter()
            .position(|e| e.name == "NdisCmAddPartyComplete" && e.dir == "=>");
        if matches!((out.injected, failure, refusal), (Some(()), Some(f), Some(r)) if f < r) {
            refused_after += 1;
        }
    }
    assert!(
        refused_after > 0,
        "no refusal of the root's close came after the add's failure"
    );
}

/// The setup of [`a_close_crossing_its_pended_notification_at_halt_removes_what_it_left`]:
/// bob (the SAP "bob") and alice (an idle VC of her own), each pending
/// ProtocolClNotifyCloseAf, bob's AF opened first (so HaltEx notifies it
/// first, and bob's teardown runs first in HaltEx's wait). Returns the
/// emulator and alice's AF.
fn notified_while_closing() -> (Emulator, Af) {
    let mut emu = Emulator::new();
    emu.load(common::driver::driver_entry()).expect("DriverEntry");
    emu.add_adapter().expect("adapter");
    let bob = emu.client("bob");
    let alice = emu.client("alice");
    emu.set_notify_close_answer(bob, Answer::Pend);
    emu.set_notify_close_answer(alice, Answer::Pend);
    let bob_af = emu.open_af(bob, config::AF).expect("bob's AF");
    emu.register_sap(bob_af, SAP_TYPE_ADDRESS, b"bob").expect("bob's SAP");
    let alice_af = emu.open_af(alice, config::AF).expect("alice's AF");
    emu.create_vc(alice_af).expect("alice's VC");
    (emu, alice_af)
}

/// A client's own NdisClCloseAddressFamily crossing HaltEx's notification
/// of that AF, which the client pended (seed 3200104 of the threaded soak,
/// where HaltEx waited for ever). Alice decides to close her AF, with her
/// VC left on it, and is stopped there (her NdisClCloseAddressFamily
/// boundary, before NDIS marks the AF closing); the halt runs, notifies
/// her AF (she pends the answer) and waits, and is stopped at each DDI
/// boundary of its wait (bob's teardown, then alice's); there alice's
/// close goes on (covmini pends it: her VC is left), and then the halt.
/// Where her close lands after the wait began and before her pended
/// answer ran, the AF is closing when that answer runs: the scripted
/// client only waited for its close to complete and never deleted the VC,
/// so the close never completed and HaltEx waited for ever
/// (`sync.wait-forever`, `halt.afs-closed`). A client told to close its AF
/// whose own close is pending still removes what it left. Clean at every
/// boundary, and in at least one run alice's close pended after the wait
/// began.
#[test]
fn a_close_crossing_its_pended_notification_at_halt_removes_what_it_left() {
    let one = |back: At| {
        let (emu, af) = notified_while_closing();
        let out = emu.interleave_back(
            At::ddi("NdisClCloseAddressFamily"),
            back,
            move |emu| emu.close_af(af),
            |emu| emu.halt_adapter(),
        );
        (out, down(emu))
    };
    // The halt all at once at alice's close: her teardown deletes her VC
    // and closes the AF first; her close then finds it closed.
    let (first, report) = one(At::NEVER);
    assert!(matches!(first.injected, Some(Ok(()))), "the halt: {:?}", first.injected);
    assert_clean(&report);
    let wait = first
        .injected_crossed
        .iter()
        .position(|c| c.ddi == "NdisWaitEvent")
        .expect("HaltEx waits for the notified AFs");
    let mut crossed = 0;
    for k in wait + 1..=first.injected_crossed.len() {
        let (out, report) = one(At::boundary(k));
        let case = format!("halt stopped at its boundary #{k} ({})", first.injected_crossed[k - 1]);
        assert!(
            matches!(out.injected, Some(Ok(()))),
            "{case}: the halt: {:?}",
            out.injected
        );
        assert!(
            [NDIS_STATUS_SUCCESS, NDIS_STATUS_PENDING, NDIS_STATUS_FAILURE].contains(&out.victim),
            "{case}: alice's close: {:#010x}",
            out.victim
        );
        assert!(report.is_clean(), "{case}:\n{report}");
        if out.back_fired_at.is_some() && k > wait + 1 && out.victim == NDIS_STATUS_PENDING {
            crossed += 1;
        }
    }
    assert!(
        crossed > 0,
        "alice's close never pended inside HaltEx's wait: {:?}",
        first.injected_crossed
    );
}

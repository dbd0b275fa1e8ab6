//! HaltEx racing a client's call-manager requests, produced exactly
//! (`ndis_emu::interleave`): NDIS halts a paused adapter with no send or
//! miniport OID outstanding, but a client's call-manager requests on an AF
//! still open go on until the AF is closed (contract §1.4), so they may
//! cross HaltEx anywhere: its decision of which AFs to wait for, each
//! NdisMCmNotifyCloseAddressFamily (and the client's teardown inside it),
//! and its wait.
//!
//! * **Halt stopped, request injected**: HaltEx is stopped at every DDI
//!   boundary it crosses up to its wait (one fresh deterministic emulator
//!   per boundary), and a client's close AF, close call (either end),
//!   deregister SAP, make call, delete VC or send runs there to completion.
//! * **Request stopped, halt injected**: the client's request is stopped at
//!   every DDI boundary covmini crosses while serving it, and the whole
//!   halt runs there (in the threaded mode, so HaltEx can wait for the
//!   stopped handler on a CPU of its own).
//!
//! What it proves: whichever boundary the crossing lands on, each request
//! ends with a status its DDI allows, HaltEx returns with every AF closed,
//! and the run breaks no rule and leaks nothing after unload. It runs
//! against the host build or, with `COVMINI_SYS`, the kernel image; under
//! valgrind (`COVMINI_UNDER_VALGRIND`) every fifth boundary.

mod common;

use common::scenario::{assert_clean, call_to};
use covmini::call_manager::SAP_TYPE_ADDRESS;
use covmini::config;
use ndis_emu::interleave::{At, Interleaving};
use ndis_emu::{Af, Answer, EmuError, Emulator, Report, Sap, Vc};
use ndis_sys::*;

/// Two clients on a fresh adapter: alice (a VC with a call to bob, and a
/// spare VC) and bob (the SAP "bob", and his VC of alice's call).
struct Net {
    emu: Emulator,
    alice_af: Af,
    bob_af: Af,
    sap: Sap,
    call: Vc,
    theirs: Vc,
    spare: Vc,
}

fn net(mut emu: Emulator, pend_notify: bool) -> Net {
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
    Net {
        emu,
        alice_af,
        bob_af,
        sap,
        call,
        theirs,
        spare,
    }
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
}

const OPS: [Op; 8] = [
    Op::CloseAliceAf,
    Op::CloseBobAf,
    Op::CloseCaller,
    Op::CloseCallee,
    Op::DeregisterSap,
    Op::MakeCall,
    Op::DeleteVc,
    Op::Send,
];

/// The statuses `op` may end with when it crosses a halt: its success
/// (SUCCESS or PENDING), and the refusals its DDI page and
/// docs/call-manager.md give for an object that is closing or gone
/// (FAILURE: NDIS's own refusal of a request on an AF, SAP or VC already
/// closing, or covmini's for an AF closing, contract §1.4; a make call to
/// a SAP already gone finds no route, and NDIS refuses one on a VC its
/// client already deleted with CALL_ACTIVE, and bob, tearing his AF down,
/// rejects the offer with NOT_ACCEPTED; a send once the halt began is
/// refused PAUSED by NDIS, which paused the adapter).
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
        _ => common.contains(&s),
    }
}

/// Runs `op` on `n`'s objects.
fn run(op: Op, emu: &Emulator, n: (Af, Af, Sap, Vc, Vc, Vc)) -> NDIS_STATUS {
    let (alice_af, bob_af, sap, call, theirs, spare) = n;
    match op {
        Op::CloseAliceAf => emu.close_af(alice_af),
        Op::CloseBobAf => emu.close_af(bob_af),
        Op::CloseCaller => emu.close_call(call, &[]),
        Op::CloseCallee => emu.close_call(theirs, &[]),
        Op::DeregisterSap => emu.deregister_sap(sap),
        Op::MakeCall => emu.make_call(spare, &call_to(b"bob")),
        Op::DeleteVc => emu.delete_vc(spare),
        Op::Send => match emu.send(call, &[b"x"]) {
            Ok(()) => NDIS_STATUS_SUCCESS,
            Err(s) => s,
        },
    }
}

fn objects(n: &Net) -> (Af, Af, Sap, Vc, Vc, Vc) {
    (n.alice_af, n.bob_af, n.sap, n.call, n.theirs, n.spare)
}

/// Under valgrind, every fifth boundary (and the last); else every one.
fn boundaries(n: usize) -> Vec<usize> {
    let step = if std::env::var_os("COVMINI_UNDER_VALGRIND").is_some() {
        5
    } else {
        1
    };
    let mut v: Vec<usize> = (1..=n).step_by(step).collect();
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

/// HaltEx stopped at every DDI boundary it crosses up to (and including)
/// its wait, each client request of [`OPS`] injected there, with the
/// clients answering the notification at once and pended: each request
/// ends with an allowed status, the halt returns, and the run is clean.
#[test]
fn every_request_crossing_halt_at_every_boundary_is_clean() {
    for pend in [false, true] {
        for op in OPS {
            let one = |at: At| -> (Interleaving<Result<(), EmuError>, NDIS_STATUS>, Report) {
                let n = net(Emulator::new(), pend);
                let objs = objects(&n);
                let out = n
                    .emu
                    .interleave(at, |emu| emu.halt_adapter(), move |emu| run(op, emu, objs));
                (out, down(n.emu))
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
            for k in boundaries(last) {
                let (out, report) = one(At::boundary(k));
                let case = format!(
                    "{op:?} (notify pended: {pend}) at halt's boundary #{k} ({})",
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

/// The reverse: each client request of [`OPS`] but the send (NDIS halts
/// no adapter with a send in its handler) stopped at every DDI boundary
/// covmini crosses while serving it, and the whole halt run there on a CPU
/// of its own (threaded mode: HaltEx waits for the stopped handler, which
/// then goes on). Each request ends with an allowed status, the halt
/// returns, and the run is clean.
#[test]
fn halt_crossing_every_request_at_every_boundary_is_clean() {
    for pend in [false, true] {
        for op in OPS.into_iter().filter(|&op| op != Op::Send) {
            let one = |at: At| -> (Interleaving<NDIS_STATUS, Result<(), EmuError>>, Report) {
                let n = net(Emulator::threaded(7, 1), pend);
                let objs = objects(&n);
                let out = n
                    .emu
                    .interleave(at, move |emu| run(op, emu, objs), |emu| emu.halt_adapter());
                if out.injected.is_none() {
                    n.emu.halt_adapter().expect("halt");
                }
                (out, down(n.emu))
            };
            let (first, report) = one(At::NEVER);
            assert!(allowed(op, first.victim), "{op:?} alone: {:#010x}", first.victim);
            assert_clean(&report);
            for k in boundaries(first.crossed.len()) {
                let (out, report) = one(At::boundary(k));
                let case = format!(
                    "halt at {op:?}'s boundary #{k} ({}) (notify pended: {pend})",
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

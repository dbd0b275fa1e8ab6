//! Sends racing the peer's close (issue #10, defect 2), found by stopping
//! one CPU at a DDI boundary and running the other operation to completion
//! there (`ndis_emu::interleave`), rather than by hoping threads collide.
//!
//! Alice calls Bob; Bob sends on his (covmini-created) VC. Stopped at a DDI
//! call inside MiniportCoSendNetBufferLists, Alice closes on another CPU:
//! Bob's client is told, closes, and covmini deactivates, deletes and frees
//! Bob's VC. What it proves: the send is completed exactly once, on Bob's
//! VC, with a documented status; covmini deactivates no VC with a send
//! inside its send handler (`data.drain-before-deactivate`), touches no
//! freed VC context (`handle.valid`, `lookaside.cached-entry-intact`), and
//! leaks nothing. The sweeps do the same at *every* DDI boundary of a
//! send (point to point, echo, multipoint root), of a receive's return, of
//! a per-VC OID and of a QoS change, one fresh run per boundary. They run
//! against the host build or, with `COVMINI_SYS`, the kernel image (see
//! `common::driver`).

mod common;

use common::scenario::{assert_clean, call_to, pair};

use ndis_emu::interleave::At;
use ndis_emu::{Answer, Emulator, Report};
use ndis_sys::*;

/// Alice calls Bob (accepted at once); returns Alice's VC and Bob's.
fn connected(emu: &mut Emulator) -> (common::scenario::Pair, ndis_emu::Vc) {
    let p = pair(emu, Answer::Sync, NDIS_STATUS_SUCCESS);
    assert_eq!(emu.make_call(p.vc, &call_to(b"bob")), NDIS_STATUS_SUCCESS);
    let offered = emu.offered_vcs(p.bob);
    assert_eq!(offered.len(), 1);
    (p, offered[0])
}

/// Takes the adapter down and returns the report.
fn down(mut emu: Emulator) -> Report {
    emu.halt_adapter().expect("halt");
    emu.unload().expect("unload");
    emu.finish()
}

fn up() -> Emulator {
    let mut emu = Emulator::new();
    emu.load(common::driver::driver_entry()).expect("DriverEntry");
    emu.add_adapter().expect("adapter");
    emu
}

/// The defect as filed: Bob's send stopped at its first spin-lock acquire
/// inside MiniportCoSendNetBufferLists (before it reaches the call
/// manager), Alice's close run to completion on another CPU there.
#[test]
fn alices_close_while_bobs_send_is_inside_the_send_handler() {
    let mut emu = up();
    let (p, bob_vc) = connected(&mut emu);
    let out = emu.interleave(
        At::ddi("KeAcquireSpinLockRaiseToDpc").inside("MiniportCoSendNetBufferLists"),
        |emu| emu.send(bob_vc, &[b"racing the close"]),
        |emu| emu.close_call(p.vc, &[]),
    );
    assert_eq!(
        out.injected,
        Some(NDIS_STATUS_SUCCESS),
        "alice's close ran at the point"
    );
    assert_eq!(out.victim, Ok(()));
    let results = emu.send_results(p.bob);
    assert_eq!(emu.delete_vc(p.vc), NDIS_STATUS_SUCCESS);
    let report = down(emu);
    assert_clean(&report);
    assert_eq!(results.len(), 1, "the send completed exactly once: {results:?}");
}

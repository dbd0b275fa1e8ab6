//! The pause rules have teeth: the loopback MCM of tests/fixture_cm pauses
//! right (SUCCESS with nothing out; PENDING with a receive out, completed
//! when it comes back) with zero violations, and each pause fault makes
//! exactly its rule fire.

mod fixture_cm;

use fixture_cm::{AF, Fault, set_fault};
use ndis_emu::pause::{PAUSE_COMPLETE_ONCE, PAUSE_DRAINED, PAUSE_NO_RECEIVE_WHILE_PAUSED, PAUSE_STATUS};
use ndis_emu::{CallSpec, Client, DataPath, Emulator, Report, Rule, Vc};
use ndis_sys::*;

/// The fixture up, callee "callee" registered, caller connected to it:
/// (emulator, caller, callee, caller's VC).
fn connected(f: Fault) -> (Emulator, Client, Client, Vc) {
    set_fault(f);
    let mut emu = Emulator::new();
    emu.load(fixture_cm::driver_entry).expect("load");
    emu.add_adapter().expect("adapter");
    let caller = emu.client("caller");
    let callee = emu.client("callee");
    let caller_af = emu.open_af(caller, AF).expect("caller AF");
    let callee_af = emu.open_af(callee, AF).expect("callee AF");
    emu.register_sap(callee_af, 0, b"callee").expect("SAP");
    let vc = emu.create_vc(caller_af).expect("VC");
    let mut spec = CallSpec::best_effort(125_000, 1500);
    spec.media_specific = b"callee".to_vec();
    assert_eq!(emu.make_call(vc, &spec), NDIS_STATUS_SUCCESS);
    (emu, caller, callee, vc)
}

fn down(mut emu: Emulator) -> Report {
    emu.halt_adapter().expect("halt");
    emu.unload().expect("unload");
    emu.finish()
}

fn only(report: &Report, rule: Rule) {
    assert!(report.of(rule).count() > 0, "{rule} did not fire:\n{report}");
    assert_eq!(report.rules(), vec![rule], "other rules fired too:\n{report}");
}

#[test]
fn a_right_pause_pends_for_a_held_receive_completes_once_and_restarts_clean() {
    let (emu, caller, callee, vc) = connected(Fault::HoldUntilReturned);
    assert_eq!(emu.pause_adapter(), Ok(NDIS_STATUS_SUCCESS), "nothing out: synchronous");
    emu.send(vc, &[b"paused"]).expect("send");
    assert_eq!(emu.send_results(caller), [NDIS_STATUS_PAUSED]);
    emu.restart_adapter().expect("restart");

    emu.hold_receives(callee, true);
    emu.send(vc, &[b"held"]).expect("send");
    assert_eq!(emu.held_receives(callee), 1);
    assert_eq!(emu.pause_adapter(), Ok(NDIS_STATUS_PENDING));
    assert_eq!(emu.data_path(), Some(DataPath::Pausing));
    assert_eq!(emu.return_held(callee), 1);
    assert_eq!(emu.data_path(), Some(DataPath::Paused));
    assert_eq!(emu.send_results(caller), [NDIS_STATUS_PAUSED, NDIS_STATUS_SUCCESS]);
    emu.restart_adapter().expect("restart");
    emu.pnp_event(NdisDevicePnPEventPowerProfileChanged, Some(0))
        .expect("pnp");
    emu.cancel_sends(1).expect("cancel");
    let report = down(emu);
    assert!(report.is_clean(), "{report}");
}

#[test]
fn pause_status_fires_on_a_failed_pause() {
    let (emu, ..) = connected(Fault::FailPause);
    assert_eq!(emu.pause_adapter(), Ok(NDIS_STATUS_FAILURE));
    only(&down(emu), PAUSE_STATUS);
}

#[test]
fn pause_complete_once_fires_on_completing_a_synchronous_pause() {
    let (emu, ..) = connected(Fault::CompletePauseSynchronously);
    assert_eq!(emu.pause_adapter(), Ok(NDIS_STATUS_SUCCESS));
    only(&down(emu), PAUSE_COMPLETE_ONCE);
}

#[test]
fn pause_drained_fires_with_a_receive_out() {
    let (emu, _, callee, vc) = connected(Fault::PauseWithReceivesOut);
    emu.hold_receives(callee, true);
    emu.send(vc, &[b"still out"]).expect("send");
    assert_eq!(emu.pause_adapter(), Ok(NDIS_STATUS_SUCCESS));
    only(&down(emu), PAUSE_DRAINED);
}

#[test]
fn pause_no_receive_while_paused_fires_on_an_indication() {
    let (emu, _, callee, vc) = connected(Fault::IndicateWhilePaused);
    assert_eq!(emu.pause_adapter(), Ok(NDIS_STATUS_SUCCESS));
    emu.send(vc, &[b"indicated anyway"]).expect("send");
    assert_eq!(emu.received(callee), [b"indicated anyway".to_vec()]);
    only(&down(emu), PAUSE_NO_RECEIVE_WHILE_PAUSED);
}

//! The scaffolding every covmini scenario shares: bring the selected build
//! (see [`super::driver`]) up under ndis-emu, run the scenario, take it down,
//! and name a called address the way covmini's call manager reads it.
// Each test binary uses the subset it needs.
#![allow(dead_code)]

use covmini::call_manager::{PARAM_TYPE_CALLED_ADDRESS, SAP_TYPE_ADDRESS};
use covmini::config;
use ndis_emu::{Af, Answer, CallSpec, Client, Emulator, Report, Sap, Vc};
use ndis_sys::{NDIS_STATUS, ULONG};

/// Brings covmini up, runs `f`, takes it down (HaltEx notifies every AF still
/// open) and returns the report. The adapter's `TraceLevel` is 3, so covmini
/// formats and prints its INFO lines too (the scenarios read some of them,
/// and every formatting path runs, under valgrind as well); the default level
/// is tests/trace_level.rs's subject.
pub fn with_adapter(f: impl FnOnce(&mut Emulator)) -> Report {
    let mut emu = Emulator::new();
    emu.set_adapter_parameter("TraceLevel", 3);
    emu.load(super::driver::driver_entry()).expect("DriverEntry");
    emu.add_adapter().expect("adapter");
    f(&mut emu);
    emu.halt_adapter().expect("halt");
    emu.unload().expect("unload");
    emu.finish()
}

/// Zero contract violations and zero leaks.
pub fn assert_clean(report: &Report) {
    assert!(report.is_clean(), "{report}");
}

/// Best-effort call parameters at `bytes_per_second` naming `address` as the
/// called covmini address.
pub fn call_to_at(address: &[u8], bytes_per_second: ULONG) -> CallSpec {
    let mut spec = CallSpec::best_effort(bytes_per_second, 1500);
    spec.media_specific_type = PARAM_TYPE_CALLED_ADDRESS;
    spec.media_specific = address.to_vec();
    spec
}

/// [`call_to_at`] at 1 Mbit/s.
pub fn call_to(address: &[u8]) -> CallSpec {
    call_to_at(address, 125_000)
}

/// Two clients: "alice" with a VC, "bob" listening on the SAP "bob".
pub struct Pair {
    pub alice: Client,
    pub bob: Client,
    pub alice_af: Af,
    pub bob_af: Af,
    pub bob_sap: Sap,
    pub vc: Vc,
}

/// Sets up a [`Pair`]: both open covmini's AF, bob registers "bob" and
/// answers incoming calls with `bob_answers`/`bob_status`, alice creates a
/// VC.
pub fn pair(emu: &mut Emulator, bob_answers: Answer, bob_status: NDIS_STATUS) -> Pair {
    let alice = emu.client("alice");
    let bob = emu.client("bob");
    emu.set_incoming_answer(bob, bob_answers, bob_status);
    let alice_af = emu.open_af(alice, config::AF).expect("alice opens the AF");
    let bob_af = emu.open_af(bob, config::AF).expect("bob opens the AF");
    let bob_sap = emu.register_sap(bob_af, SAP_TYPE_ADDRESS, b"bob").expect("bob's SAP");
    let vc = emu.create_vc(alice_af).expect("alice's VC");
    Pair {
        alice,
        bob,
        alice_af,
        bob_af,
        bob_sap,
        vc,
    }
}

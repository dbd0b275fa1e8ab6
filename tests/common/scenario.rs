//! The scaffolding every covmini scenario shares: bring the selected build
//! (see [`super::driver`]) up under ndis-emu, run the scenario, take it down,
//! and name a called address the way covmini's call manager reads it.
// Each test binary uses the subset it needs.
#![allow(dead_code)]

use covmini::call_manager::PARAM_TYPE_CALLED_ADDRESS;
use ndis_emu::{CallSpec, Emulator, Report};
use ndis_sys::ULONG;

/// Brings covmini up, runs `f`, takes it down (HaltEx notifies every AF still
/// open) and returns the report.
pub fn with_adapter(f: impl FnOnce(&mut Emulator)) -> Report {
    let mut emu = Emulator::new();
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

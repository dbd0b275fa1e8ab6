//! The switch between the host build and a real kernel image
//! (`tests/common/driver.rs`): the registration lifecycle through
//! `driver_entry()`, clean with either. Plain `cargo test` drives the host
//! build; `COVMINI_SYS=target/kernel/x64/covmini.sys cargo test --test
//! driver_switch` drives the image.

mod common;

use common::driver::{COVMINI_SYS, driver_entry};
use ndis_emu::Emulator;

#[test]
fn the_lifecycle_is_clean_with_the_selected_build() {
    let mut emu = Emulator::new();
    emu.load(driver_entry()).expect("DriverEntry");
    emu.add_adapter().expect("MiniportInitializeEx + MiniportRestart");
    let (_, media) = emu
        .oid_query(None, None, ndis_sys::OID_GEN_CO_MEDIA_IN_USE, 4)
        .expect("query");
    assert_eq!(media.status, ndis_sys::NDIS_STATUS_SUCCESS);
    assert_eq!(media.data, (ndis_sys::NdisMediumCoWan as u32).to_ne_bytes());
    emu.halt_adapter().expect("MiniportPause + MiniportHaltEx");
    emu.unload().expect("MiniportDriverUnload");
    let report = emu.finish();
    assert!(report.is_clean(), "{report}");
}

#[test]
fn the_image_is_driven_only_when_covmini_sys_is_set() {
    let host: ndis_sys::DRIVER_INITIALIZE = covmini::DriverEntry;
    let selected = driver_entry() as usize;
    if std::env::var_os(COVMINI_SYS).is_some() {
        assert_ne!(selected, host as usize, "the image's DriverEntry, not the host build's");
    } else {
        assert_eq!(selected, host as usize);
    }
}

//! covmini's registration skeleton under ndis-emu (the host build): every
//! step of the NDIS lifecycle a CoNDIS MCM goes through, with zero contract
//! violations and zero leaks.

use ndis_emu::{Emulator, rules};

/// Runs load → add adapter → halt → unload and returns the report.
fn lifecycle() -> ndis_emu::Report {
    let mut emu = Emulator::new();
    emu.load(covmini::DriverEntry).expect("DriverEntry");
    emu.add_adapter().expect("MiniportInitializeEx + MiniportRestart");
    emu.halt_adapter().expect("MiniportPause + MiniportHaltEx");
    emu.unload().expect("MiniportDriverUnload");
    emu.finish()
}

#[test]
fn covmini_registers_initializes_halts_and_unloads_with_no_violation_or_leak() {
    let report = lifecycle();
    assert!(report.is_clean(), "{report}");
}

#[test]
fn registration_runs_every_step_in_the_order_the_contract_requires() {
    let report = lifecycle();
    let steps: Vec<&str> = report
        .events
        .iter()
        .filter(|e| e.dir != "=>" || !e.name.starts_with("Dbg"))
        .filter(|e| e.dir != "<-")
        .map(|e| e.name)
        .filter(|n| !n.contains("SpinLock") && !n.contains("Memory"))
        .collect();
    assert_eq!(
        steps,
        [
            "DriverEntry",
            "NdisMRegisterMiniportDriver",
            "MiniportSetOptions",
            "NdisSetOptionalHandlers",
            "NdisSetOptionalHandlers",
            "MiniportInitializeEx",
            "NdisMSetMiniportAttributes",
            "NdisMSetMiniportAttributes",
            "NdisMCmRegisterAddressFamilyEx",
            "MiniportRestart",
            "MiniportPause",
            "MiniportHaltEx",
            "MiniportDriverUnload",
            "NdisMDeregisterMiniportDriver",
        ]
    );
}

#[test]
fn covmini_registers_its_private_af_as_version_1_0() {
    let report = lifecycle();
    let af = report
        .events
        .iter()
        .find(|e| e.name == "NdisMCmRegisterAddressFamilyEx")
        .expect("AF registration");
    assert!(af.detail.ends_with("AF 0xc0c0 v1.0"), "{}", af.detail);
    let registrations = report
        .events
        .iter()
        .filter(|e| e.name == "NdisMCmRegisterAddressFamilyEx")
        .count();
    assert_eq!(registrations, 1, "one AF, registered once");
    assert_eq!(report.of(rules::INIT_AF_REGISTRATION).count(), 0, "{report}");
}

#[test]
fn covmini_prints_through_dbgprintex_and_the_emulator_captures_it() {
    let report = lifecycle();
    assert!(
        report
            .debug_output
            .iter()
            .any(|l| l == "covmini: DriverEntry: NDIS 6.30"),
        "{:?}",
        report.debug_output
    );
    assert!(
        report.debug_output.iter().any(|l| l == "covmini: HaltEx (action 0)"),
        "{:?}",
        report.debug_output
    );
}

#[test]
fn the_adapter_context_is_allocated_with_its_own_tag_and_freed_at_halt() {
    let report = lifecycle();
    let alloc = report
        .events
        .iter()
        .find(|e| e.name == "NdisAllocateMemoryWithTagPriority")
        .expect("adapter allocation");
    assert!(alloc.detail.contains("tag CvmA"), "{}", alloc.detail);
    let free = report
        .events
        .iter()
        .find(|e| e.name == "NdisFreeMemoryWithTagPriority")
        .expect("adapter free");
    assert!(free.detail.contains("tag CvmA"), "{}", free.detail);
    assert_eq!(report.of(rules::MEMORY_LEDGER).count(), 0, "{report}");
}

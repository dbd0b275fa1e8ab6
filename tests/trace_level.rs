//! covmini formats no debug message its trace level drops, and prints the
//! INFO ones once the adapter's `TraceLevel` registry value asks for them
//! (src/ffi/trace.rs; docs/windows.md, "Debug output").
//!
//! The same lifecycle (load, add the adapter, halt, unload) runs three ways:
//! with no `TraceLevel` value (the default level, WARNING: nothing covmini
//! prints on a clean run reaches DbgPrintEx), with `TraceLevel` 3 (INFO: the
//! handler lines appear), and with `TraceLevel` 0 (ERROR only). DbgPrintEx
//! is covmini's only way to print, and it formats right before calling it
//! (`trace!` formats only when the level lets the message through), so
//! counting DbgPrintEx calls in the emulator's trace counts formatted
//! messages. The formatting itself (a Display counted, arguments not even
//! evaluated) is counted by the unit test in src/ffi/trace.rs.
//!
//! Runs against the host build, or the kernel image with `COVMINI_SYS`.

mod common;

use ndis_emu::{Emulator, Report};

fn lifecycle(trace_level: Option<u32>) -> Report {
    let mut emu = Emulator::new();
    if let Some(level) = trace_level {
        emu.set_adapter_parameter("TraceLevel", level);
    }
    emu.load(common::driver::driver_entry()).expect("DriverEntry");
    emu.add_adapter().expect("MiniportInitializeEx + MiniportRestart");
    emu.halt_adapter().expect("MiniportPause + MiniportHaltEx");
    emu.unload().expect("MiniportDriverUnload");
    emu.finish()
}

fn dbgprint_calls(report: &Report) -> usize {
    report.events.iter().filter(|e| e.name == "DbgPrintEx").count()
}

#[test]
fn at_the_default_level_a_clean_run_formats_and_prints_nothing() {
    let report = lifecycle(None);
    assert!(report.is_clean(), "{report}");
    assert_eq!(dbgprint_calls(&report), 0, "{:?}", report.debug_output);
    assert!(report.debug_output.is_empty(), "{:?}", report.debug_output);
    // covmini did read the value (and found none).
    assert!(
        report.events.iter().any(|e| e.name == "NdisReadConfiguration"),
        "{report}"
    );
}

#[test]
fn trace_level_3_prints_the_info_lines() {
    let report = lifecycle(Some(3));
    assert!(report.is_clean(), "{report}");
    for line in [
        "covmini: trace level 3 (TraceLevel)",
        "covmini: InitializeEx (NDIS 6.30)",
        "covmini: HaltEx (action 0)",
        "covmini: Unload",
    ] {
        assert!(
            report.debug_output.iter().any(|l| l == line),
            "{line:?} missing: {:?}",
            report.debug_output
        );
    }
    assert_eq!(dbgprint_calls(&report), report.debug_output.len());
}

#[test]
fn trace_level_0_prints_nothing_on_a_clean_run_either() {
    let report = lifecycle(Some(0));
    assert!(report.is_clean(), "{report}");
    assert_eq!(dbgprint_calls(&report), 0, "{:?}", report.debug_output);
}

/// Each emulator starts from the default: a level set by one run does not
/// leak into the next (DriverEntry resets it, as a fresh image starts there).
#[test]
fn the_level_does_not_survive_into_the_next_load() {
    let verbose = lifecycle(Some(3));
    assert!(dbgprint_calls(&verbose) > 0);
    let default = lifecycle(None);
    assert_eq!(dbgprint_calls(&default), 0, "{:?}", default.debug_output);
}

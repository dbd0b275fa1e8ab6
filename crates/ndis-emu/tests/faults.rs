//! Every failable DDI can be made to fail, and the failure reaches the
//! driver: a test per injection point fails the call through the public
//! knobs (`fail_nth_call`, `fail_site`), drives the loopback MCM of
//! tests/fixture_cm, and sees the DDI's documented failure status come back
//! to it (through what the fixture does with it) and the fault in the trace.
//! The allocating DDIs and lookaside lists are proven in the unit tests of
//! `faults`, `ffi::lookaside`, `ffi::nbl` and in teeth_sched.

mod fixture_cm;

use fixture_cm::{AF, Fault, set_fault};
use ndis_emu::{Af, CallSpec, CallState, Client, EmuError, Emulator, Report, SiteKind, Vc};
use ndis_sys::*;

/// The injected faults of a report: (DDI, detail).
fn faults(report: &Report) -> Vec<(String, String)> {
    report
        .events
        .iter()
        .filter(|e| e.dir == "!!")
        .map(|e| (e.name.to_string(), e.detail()))
        .collect()
}

/// Asserts exactly one fault was injected, the first call of `ddi`.
fn one_fault(report: &Report, ddi: &str) {
    assert_eq!(
        faults(report),
        [(ddi.to_string(), format!("fault injected: call #1 of {ddi} fails"))],
        "{report}"
    );
}

/// The fixture loaded with the first call of `ddi` set to fail.
fn load_failing(ddi: &str) -> (Emulator, Result<(), EmuError>) {
    set_fault(Fault::None);
    let mut emu = Emulator::new();
    emu.fail_nth_call(ddi, 1);
    let loaded = emu.load(fixture_cm::driver_entry);
    (emu, loaded)
}

/// The fixture up, with a caller and a callee listening on "callee".
struct Net {
    emu: Emulator,
    callee: Client,
    caller_af: Af,
}

fn up() -> Net {
    set_fault(Fault::None);
    let mut emu = Emulator::new();
    emu.load(fixture_cm::driver_entry).expect("load");
    emu.add_adapter().expect("adapter");
    let caller = emu.client("caller");
    let callee = emu.client("callee");
    let caller_af = emu.open_af(caller, AF).expect("caller opens the AF");
    let callee_af = emu.open_af(callee, AF).expect("callee opens the AF");
    emu.register_sap(callee_af, 0, b"callee").expect("SAP");
    Net { emu, callee, caller_af }
}

fn to(address: &[u8]) -> CallSpec {
    let mut spec = CallSpec::best_effort(125_000, 1500);
    spec.media_specific = address.to_vec();
    spec
}

/// The caller's make call to the callee: (VC, status).
fn call(net: &mut Net) -> (Vc, NDIS_STATUS) {
    let vc = net.emu.create_vc(net.caller_af).expect("VC");
    let status = net.emu.make_call(vc, &to(b"callee"));
    (vc, status)
}

fn down(mut net: Net) -> Report {
    net.emu.halt_adapter().expect("halt");
    net.emu.unload().expect("unload");
    net.emu.finish()
}

/// NdisMRegisterMiniportDriver fails with NDIS_STATUS_RESOURCES, which the
/// fixture's DriverEntry returns; MiniportSetOptions never runs.
#[test]
fn a_failed_ndis_m_register_miniport_driver_returns_resources_to_driver_entry() {
    let (emu, loaded) = load_failing("NdisMRegisterMiniportDriver");
    assert_eq!(loaded, Err(EmuError::DriverEntryFailed(NDIS_STATUS_RESOURCES)));
    let report = emu.finish();
    assert!(
        !report.events.iter().any(|e| e.name == "MiniportSetOptions"),
        "{report}"
    );
    one_fault(&report, "NdisMRegisterMiniportDriver");
}

/// NdisSetOptionalHandlers fails with NDIS_STATUS_RESOURCES: the fixture's
/// MiniportSetOptions returns it, so NdisMRegisterMiniportDriver does.
#[test]
fn a_failed_ndis_set_optional_handlers_fails_set_options_and_registration() {
    let (emu, loaded) = load_failing("NdisSetOptionalHandlers");
    assert_eq!(loaded, Err(EmuError::DriverEntryFailed(NDIS_STATUS_RESOURCES)));
    one_fault(&emu.finish(), "NdisSetOptionalHandlers");
}

/// NdisMSetMiniportAttributes fails with its one documented failure,
/// NDIS_STATUS_BAD_VERSION, which the fixture's InitializeEx returns.
#[test]
fn a_failed_ndis_m_set_miniport_attributes_fails_initialize_with_bad_version() {
    set_fault(Fault::None);
    let mut emu = Emulator::new();
    emu.load(fixture_cm::driver_entry).expect("load");
    emu.fail_nth_call("NdisMSetMiniportAttributes", 1);
    assert_eq!(
        emu.add_adapter(),
        Err(EmuError::InitializeFailed(NDIS_STATUS_BAD_VERSION))
    );
    one_fault(&emu.report(), "NdisMSetMiniportAttributes");
}

/// NdisMCmRegisterAddressFamilyEx fails with NDIS_STATUS_RESOURCES, which
/// the fixture's InitializeEx returns.
#[test]
fn a_failed_af_registration_fails_initialize_with_resources() {
    set_fault(Fault::None);
    let mut emu = Emulator::new();
    emu.load(fixture_cm::driver_entry).expect("load");
    emu.fail_nth_call("NdisMCmRegisterAddressFamilyEx", 1);
    assert_eq!(
        emu.add_adapter(),
        Err(EmuError::InitializeFailed(NDIS_STATUS_RESOURCES))
    );
    one_fault(&emu.report(), "NdisMCmRegisterAddressFamilyEx");
}

/// NdisMCmCreateVc fails with NDIS_STATUS_RESOURCES: the fixture fails the
/// make call (DEST_OUT_OF_ORDER, its status for a callee it cannot reach),
/// the callee is offered nothing, and the run stays clean.
#[test]
fn a_failed_ndis_m_cm_create_vc_reaches_the_mcm_and_nothing_is_offered() {
    let mut net = up();
    net.emu.fail_nth_call("NdisMCmCreateVc", 1);
    let (vc, status) = call(&mut net);
    assert_eq!(status, NDIS_STATUS_DEST_OUT_OF_ORDER);
    assert_eq!(net.emu.vc_state(vc), Some((CallState::Closed, false)));
    assert!(net.emu.offered_vcs(net.callee).is_empty());
    let report = down(net);
    assert!(report.is_clean(), "{report}");
    one_fault(&report, "NdisMCmCreateVc");
}

/// NdisMCmActivateVc fails with NDIS_STATUS_RESOURCES: the fixture fails
/// the make call with FAILURE and the VC was never active.
#[test]
fn a_failed_ndis_m_cm_activate_vc_reaches_the_mcm_which_fails_the_call() {
    let mut net = up();
    net.emu.fail_nth_call("NdisMCmActivateVc", 1);
    let (vc, status) = call(&mut net);
    assert_eq!(status, NDIS_STATUS_FAILURE);
    assert_eq!(net.emu.vc_state(vc), Some((CallState::Closed, false)));
    let report = down(net);
    assert!(report.is_clean(), "{report}");
    one_fault(&report, "NdisMCmActivateVc");
}

/// NdisCmDispatchIncomingCall fails with NDIS_STATUS_FAILURE: the callee
/// hears nothing, and the fixture, seeing a status other than PENDING,
/// takes its VC down again.
#[test]
fn a_failed_incoming_call_dispatch_offers_nothing_and_the_mcm_drops_its_vc() {
    let mut net = up();
    net.emu.fail_nth_call("NdisCmDispatchIncomingCall", 1);
    let (_, status) = call(&mut net);
    assert_eq!(status, NDIS_STATUS_SUCCESS, "the fixture connects the caller anyway");
    assert!(
        !net.emu.inbox(net.callee).iter().any(|l| l.starts_with("IncomingCall")),
        "the callee was not offered the call"
    );
    assert!(net.emu.offered_vcs(net.callee).is_empty());
    let report = down(net);
    assert!(
        report.events.iter().any(|e| e.name == "NdisMCmDeleteVc"),
        "the fixture saw the failure and deleted its VC:\n{report}"
    );
    one_fault(&report, "NdisCmDispatchIncomingCall");
}

/// NdisCmNotifyCloseAddressFamily fails with NDIS_STATUS_FAILURE, its one
/// documented failure (the AF is already closing): the client is closing
/// its AF on its own thread, and no ProtocolCmNotifyCloseAfComplete
/// follows. The fixture's halt counts a non-PENDING return as done and does
/// not wait for that close, so it returns with the AF open: `halt.afs-closed`
/// fires (an MCM must wait for the close in flight), and the client's close
/// is still owed.
#[test]
fn a_failed_notify_close_is_a_client_closing_on_its_own() {
    let mut net = up();
    net.emu.fail_nth_call("NdisCmNotifyCloseAddressFamily", 1);
    let report = down(net);
    one_fault(&report, "NdisCmNotifyCloseAddressFamily");
    let completes = report
        .events
        .iter()
        .filter(|e| e.name == "ProtocolCmNotifyCloseAfComplete" && e.dir == "->")
        .count();
    assert_eq!(completes, 1, "two AFs, one notification completed:\n{report}");
    assert!(
        report.rules().contains(&ndis_emu::condis::rules::HALT_AFS_CLOSED),
        "halt returned before the client's own close:\n{report}"
    );
}

/// The census of a clean run names every site; failing one of its
/// failable-call sites by name fails exactly that call.
#[test]
fn a_census_site_fails_by_name() {
    let mut net = up();
    let _ = call(&mut net);
    let clean = down(net);
    assert!(clean.is_clean(), "{clean}");

    set_fault(Fault::None);
    let mut census = Emulator::new();
    census.load(fixture_cm::driver_entry).expect("load");
    census.add_adapter().expect("adapter");
    let sites = census.fault_sites();
    let kinds: Vec<SiteKind> = sites.iter().map(|s| s.kind).collect();
    assert!(
        kinds.contains(&SiteKind::Call) && kinds.contains(&SiteKind::Allocation),
        "{sites:?}"
    );
    let af = sites
        .iter()
        .find(|s| s.ddi == "NdisMCmRegisterAddressFamilyEx")
        .expect("the AF registration is a site")
        .clone();
    drop(census);

    set_fault(Fault::None);
    let mut emu = Emulator::new();
    emu.fail_site(&af);
    emu.load(fixture_cm::driver_entry).expect("load");
    assert_eq!(
        emu.add_adapter(),
        Err(EmuError::InitializeFailed(NDIS_STATUS_RESOURCES))
    );
    one_fault(&emu.report(), "NdisMCmRegisterAddressFamilyEx");
}

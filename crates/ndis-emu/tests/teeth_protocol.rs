//! ndis-emu's protocol-side rules (`proto.*`, crate::protocol) have teeth:
//! for each, a fixture protocol driver that is wrong in exactly one way and
//! a test that exactly that rule fires; plus the same fixture, well-behaved,
//! registering its CoNDIS client blocks, binding to fixture_cm's MCM,
//! hearing of its AF and unbinding, firing none.

mod fixture_cm;
mod fixture_protocol;

use fixture_protocol::{Fault, run};
use ndis_emu::protocol as rules;
use ndis_emu::{Emulator, Report, Rule};

/// Asserts that `rule`, and no other rule, fired.
fn only(report: &Report, rule: Rule) {
    assert!(report.of(rule).count() > 0, "{rule} did not fire:\n{report}");
    assert_eq!(report.rules(), vec![rule], "other rules fired too:\n{report}");
}

#[test]
fn the_well_behaved_protocol_registers_and_breaks_no_rule() {
    let (report, registered) = run(Fault::None);
    assert!(report.is_clean(), "{report}");
    assert!(
        registered,
        "its CO characteristics and client handlers were not recorded:\n{report}"
    );
    // It really ran: NDIS called ProtocolSetOptions, and Unload deregistered.
    for name in ["ProtocolSetOptions", "NdisDeregisterProtocolDriver"] {
        assert!(report.events.iter().any(|e| e.name == name), "no {name}:\n{report}");
    }
}

#[test]
fn proto_characteristics_fires_on_ndis_5() {
    let (report, registered) = run(Fault::Ndis5);
    only(&report, rules::PROTO_CHARACTERISTICS);
    assert!(!registered, "{report}");
}

#[test]
fn proto_required_handlers_fires_without_unbind() {
    let (report, _) = run(Fault::NoUnbind);
    only(&report, rules::PROTO_REQUIRED_HANDLERS);
    assert!(
        report.violations[0].detail.contains("UnbindAdapterHandlerEx"),
        "{report}"
    );
}

#[test]
fn proto_set_options_required_fires_without_set_options() {
    only(&run(Fault::NoSetOptions).0, rules::PROTO_SET_OPTIONS_REQUIRED);
}

#[test]
fn proto_only_in_set_options_fires_from_driver_entry() {
    only(&run(Fault::OptionalFromDriverEntry).0, rules::PROTO_ONLY_IN_SET_OPTIONS);
}

#[test]
fn proto_cl_all_handlers_fires_on_a_null_incoming_call() {
    let (report, _) = run(Fault::NullIncomingCall);
    only(&report, rules::PROTO_CL_ALL_HANDLERS);
    assert!(
        report.violations[0].detail.contains("ClIncomingCallHandler"),
        "{report}"
    );
}

#[test]
fn proto_deregister_outside_ndis_fires_from_set_options() {
    only(
        &run(Fault::DeregisterFromSetOptions).0,
        rules::PROTO_DEREGISTER_OUTSIDE_NDIS,
    );
}

#[test]
fn proto_unload_deregisters_fires_when_unload_forgets() {
    only(&run(Fault::UnloadForgets).0, rules::PROTO_UNLOAD_DEREGISTERS);
}

// --- Binding: the fixture protocol over fixture_cm's MCM ----------------------

/// Loads fixture_cm's MCM and the fixture protocol (with `f`), brings the
/// adapter up and binds; then unbinds, halts and unloads both. The report,
/// the bind's status, whether it was bound after the bind, and the AFs
/// ProtocolCoAfRegisterNotify offered.
fn bind_run(f: Fault) -> (Report, Option<ndis_sys::NDIS_STATUS>, bool, Vec<ndis_sys::NDIS_AF>) {
    fixture_cm::set_fault(fixture_cm::Fault::None);
    fixture_protocol::start(f);
    let mut emu = Emulator::new();
    emu.load(fixture_cm::driver_entry).expect("the MCM loads");
    emu.load_protocol(fixture_protocol::DRIVER_ENTRY)
        .expect("the protocol loads");
    emu.add_adapter().expect("the adapter comes up");
    let status = emu.bind_protocol().expect("a bind runs");
    let bound = emu.protocol_bound();
    if bound {
        emu.unbind_protocol().expect("an unbind runs");
    }
    emu.halt_adapter().expect("halt");
    emu.unload().expect("the MCM unloads");
    emu.unload_protocol(fixture_protocol::UNLOAD);
    (emu.finish(), status, bound, fixture_protocol::notified())
}

#[test]
fn the_well_behaved_protocol_binds_hears_of_the_af_and_unbinds_cleanly() {
    let (report, status, bound, notified) = bind_run(Fault::None);
    assert!(report.is_clean(), "{report}");
    assert_eq!(status, Some(ndis_sys::NDIS_STATUS_SUCCESS), "{report}");
    assert!(bound, "{report}");
    assert_eq!(notified, vec![fixture_cm::AF.AddressFamily], "{report}");
    // It opened the AF it was offered, through the MCM's ProtocolCmOpenAf,
    // and closed it in its unbind.
    let ok = Some(ndis_sys::NDIS_STATUS_SUCCESS);
    assert_eq!(fixture_protocol::af_statuses(), (ok, ok), "{report}");
    // And registered a SAP on it, deregistered before the AF's close.
    assert_eq!(fixture_protocol::sap_statuses(), (ok, ok), "{report}");
    // And created a VC on it, deleted first in its unbind.
    assert_eq!(fixture_protocol::vc_statuses(), (true, ok), "{report}");
    for name in [
        "ProtocolBindAdapterEx",
        "NdisOpenAdapterEx",
        "NdisClOpenAddressFamilyEx",
        "ProtocolCmOpenAf",
        "NdisClRegisterSap",
        "ProtocolCmRegisterSap",
        "NdisCoCreateVc",
        "ProtocolCoCreateVc",
        "NdisCoDeleteVc",
        "ProtocolCoDeleteVc",
        "NdisClDeregisterSap",
        "ProtocolCmDeregisterSap",
        "NdisClCloseAddressFamily",
        "ProtocolCmCloseAf",
        "ProtocolUnbindAdapterEx",
        "NdisCloseAdapterEx",
    ] {
        assert!(report.events.iter().any(|e| e.name == name), "no {name}:\n{report}");
    }
}

/// A bind completed (as if by another thread) before its handler returned
/// NDIS_STATUS_PENDING is a correct pended bind: no rule fires and the AF
/// notification follows.
#[test]
fn a_bind_completed_before_its_handler_returns_pending_is_accepted() {
    let (report, status, bound, notified) = bind_run(Fault::PendBind);
    assert!(report.is_clean(), "{report}");
    assert_eq!(status, Some(ndis_sys::NDIS_STATUS_SUCCESS), "{report}");
    assert!(bound, "{report}");
    assert_eq!(notified, vec![fixture_cm::AF.AddressFamily], "{report}");
}

#[test]
fn proto_open_in_bind_fires_from_driver_entry() {
    let (report, _, _, _) = bind_run(Fault::OpenFromDriverEntry);
    only(&report, rules::PROTO_OPEN_IN_BIND);
}

#[test]
fn proto_complete_only_pended_fires_on_completing_a_synchronous_bind() {
    let (report, _, _, _) = bind_run(Fault::CompleteSyncBind);
    only(&report, rules::PROTO_COMPLETE_ONLY_PENDED);
}

#[test]
fn proto_op_completes_fires_on_a_bind_never_completed() {
    let (report, status, bound, notified) = bind_run(Fault::PendBindForever);
    only(&report, rules::PROTO_OP_COMPLETES);
    assert_eq!(status, None, "{report}");
    // The failed bind leaves no binding, and no AF is offered.
    assert!(!bound && notified.is_empty(), "{report}");
}

#[test]
fn proto_unbind_closes_fires_when_unbind_keeps_the_binding() {
    let (report, _, _, _) = bind_run(Fault::UnbindKeepsBinding);
    only(&report, rules::PROTO_UNBIND_CLOSES);
}

#[test]
fn proto_af_after_notify_fires_on_an_af_never_offered() {
    let (report, _, _, _) = bind_run(Fault::OpenAfInBind);
    only(&report, rules::PROTO_AF_AFTER_NOTIFY);
}

/// A call manager that pends the driver client's AF open and close: NDIS
/// returns PENDING to the driver and calls its ProtocolClOpenAfCompleteEx
/// and ProtocolClCloseAfComplete when the call manager completes them (the
/// driver client's completions take the scripted clients' route up to
/// `condis::complete`, then reach the driver's handlers).
#[test]
fn a_pended_af_open_and_close_complete_in_the_driver_clients_handlers() {
    fixture_cm::set_fault(fixture_cm::Fault::PendAfRequests);
    fixture_protocol::start(Fault::None);
    let mut emu = Emulator::new();
    emu.load(fixture_cm::driver_entry).expect("the MCM loads");
    emu.load_protocol(fixture_protocol::DRIVER_ENTRY)
        .expect("the protocol loads");
    emu.add_adapter().expect("the adapter comes up");
    assert_eq!(
        emu.bind_protocol().expect("a bind runs"),
        Some(ndis_sys::NDIS_STATUS_SUCCESS)
    );
    assert_eq!(fixture_protocol::af_statuses(), (None, None), "the open is pending");
    fixture_cm::complete_af_requests();
    let ok = Some(ndis_sys::NDIS_STATUS_SUCCESS);
    assert_eq!(
        fixture_protocol::af_statuses(),
        (ok, None),
        "ProtocolClOpenAfCompleteEx ran"
    );
    // The unbind closes the AF (pended), then the binding.
    emu.unbind_protocol().expect("an unbind runs");
    assert_eq!(fixture_protocol::af_statuses(), (ok, None), "the close is pending");
    fixture_cm::complete_af_requests();
    assert_eq!(
        fixture_protocol::af_statuses(),
        (ok, ok),
        "ProtocolClCloseAfComplete ran"
    );
    emu.halt_adapter().expect("halt");
    emu.unload().expect("the MCM unloads");
    emu.unload_protocol(fixture_protocol::UNLOAD);
    let report = emu.finish();
    assert!(report.is_clean(), "{report}");
    for name in ["ProtocolClOpenAfCompleteEx", "ProtocolClCloseAfComplete"] {
        assert!(report.events.iter().any(|e| e.name == name), "no {name}:\n{report}");
    }
}

#[test]
fn proto_close_af_empty_fires_on_closing_an_af_with_a_sap() {
    let (report, _, _, _) = bind_run(Fault::CloseAfWithSap);
    only(&report, rules::PROTO_CLOSE_AF_EMPTY);
}

/// The AF left open is the MCM's to notify closed at halt: ndis-emu does
/// not deliver ProtocolClNotifyCloseAf to a driver client yet, and says so
/// (`emu.unimplemented-ddi`) rather than answer for the driver; the AF then
/// outlives the halt (`halt.afs-closed`, a consequence).
#[test]
fn proto_close_adapter_after_afs_fires_on_closing_with_an_af_open() {
    let (report, _, _, _) = bind_run(Fault::CloseAdapterWithAfOpen);
    assert!(report.of(rules::PROTO_CLOSE_ADAPTER_AFTER_AFS).count() > 0, "{report}");
    let unrouted = ndis_emu::rules::UNIMPLEMENTED_DDI;
    let consequences = [
        rules::PROTO_CLOSE_ADAPTER_AFTER_AFS,
        unrouted,
        ndis_emu::condis::rules::HALT_AFS_CLOSED,
    ];
    assert!(
        report.rules().iter().all(|r| consequences.contains(r)),
        "other rules fired too:\n{report}"
    );
    assert!(
        report.of(unrouted).any(|v| v.call == "NdisCmNotifyCloseAddressFamily"),
        "the notify-close of the driver's AF was answered silently:\n{report}"
    );
}

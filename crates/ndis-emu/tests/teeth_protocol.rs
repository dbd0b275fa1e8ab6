//! ndis-emu's protocol-side rules (`proto.*`, crate::protocol) have teeth:
//! for each, a fixture protocol driver that is wrong in exactly one way and
//! a test that exactly that rule fires; plus the same fixture, well-behaved,
//! registering its CoNDIS client blocks and firing none.

mod fixture_protocol;

use fixture_protocol::{Fault, run};
use ndis_emu::protocol as rules;
use ndis_emu::{Report, Rule};

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

//! ndis-emu proves its own teeth: for every rule, a fixture driver that is
//! wrong in exactly one way, and a test that exactly that rule fires; plus the
//! same fixture, well-behaved, firing none. The rules catalog names each
//! proving test; `every_rule_has_a_proving_test_here` keeps the two in step.

mod fixture;

use fixture::{Fault, run};
use ndis_emu::{Report, Rule, memory, rules};

/// Asserts that `rule`, and no other rule, fired.
fn only(report: &Report, rule: Rule) {
    assert!(report.of(rule).count() > 0, "{rule} did not fire:\n{report}");
    assert_eq!(report.rules(), vec![rule], "other rules fired too:\n{report}");
}

#[test]
fn the_well_behaved_fixture_breaks_no_rule() {
    let report = run(Fault::None);
    assert!(report.is_clean(), "{report}");
    // It really ran: the lifecycle reached unload.
    assert!(
        report.events.iter().any(|e| e.name == "MiniportDriverUnload"),
        "{report}"
    );
}

#[test]
fn reg_characteristics_header_fires_on_a_short_revision() {
    only(&run(Fault::ShortCharacteristics), rules::REG_CHARACTERISTICS_HEADER);
}

#[test]
fn reg_required_handlers_fires_without_cancel_send() {
    let report = run(Fault::NoCancelSend);
    only(&report, rules::REG_REQUIRED_HANDLERS);
    assert!(report.violations[0].detail.contains("CancelSendHandler"), "{report}");
}

#[test]
fn reg_direct_oid_pair_fires_on_half_a_pair() {
    only(&run(Fault::HalfDirectOid), rules::REG_DIRECT_OID_PAIR);
}

#[test]
fn reg_set_options_required_fires_without_set_options() {
    only(&run(Fault::NoSetOptions), rules::REG_SET_OPTIONS_REQUIRED);
}

#[test]
fn reg_oid_handler_fires_without_any_oid_handler() {
    only(&run(Fault::NoOidHandlers), rules::REG_OID_HANDLER);
}

#[test]
fn opt_only_in_set_options_fires_from_initialize() {
    only(
        &run(Fault::SetOptionalHandlersInInitialize),
        rules::OPT_ONLY_IN_SET_OPTIONS,
    );
}

#[test]
fn opt_co_required_handlers_fires_without_co_send() {
    only(&run(Fault::NoCoSend), rules::OPT_CO_REQUIRED_HANDLERS);
}

#[test]
fn opt_cm_header_fires_on_a_short_block() {
    only(&run(Fault::ShortCmBlock), rules::OPT_CM_HEADER);
}

#[test]
fn opt_cm_all_handlers_fires_on_a_null_add_party() {
    let report = run(Fault::NullAddParty);
    only(&report, rules::OPT_CM_ALL_HANDLERS);
    assert!(report.violations[0].detail.contains("CmAddPartyHandler"), "{report}");
}

#[test]
fn opt_cm_oid_distinct_fires_on_a_shared_oid_handler() {
    only(&run(Fault::SharedOidHandler), rules::OPT_CM_OID_DISTINCT);
}

#[test]
fn opt_unknown_type_fires_on_a_default_header() {
    only(&run(Fault::UnknownOptType), rules::OPT_UNKNOWN_TYPE);
}

#[test]
fn init_attribute_order_fires_on_general_first() {
    only(&run(Fault::GeneralFirst), rules::INIT_ATTRIBUTE_ORDER);
}

#[test]
fn init_not_co_ndis_fires_on_the_flag() {
    only(&run(Fault::NotCoNdisFlag), rules::INIT_NOT_CO_NDIS);
}

#[test]
fn init_general_attributes_fires_on_ethernet() {
    let report = run(Fault::EthernetMedium);
    only(&report, rules::INIT_GENERAL_ATTRIBUTES);
    assert!(report.violations[0].detail.contains("MediaType 0"), "{report}");
}

#[test]
fn init_af_registration_fires_on_a_duplicate_af() {
    only(&run(Fault::DuplicateAf), rules::INIT_AF_REGISTRATION);
}

#[test]
fn init_adapter_context_fires_on_a_null_context() {
    only(&run(Fault::NullContext), rules::INIT_ADAPTER_CONTEXT);
}

#[test]
fn irql_limit_fires_on_register_af_under_a_spin_lock() {
    let report = run(Fault::RegisterAfUnderSpinLock);
    only(&report, rules::IRQL_LIMIT);
    assert!(report.violations[0].detail.contains("IRQL 2"), "{report}");
}

#[test]
fn irql_balance_fires_on_a_lock_held_across_return() {
    let report = run(Fault::LockHeldAcrossReturn);
    only(&report, rules::IRQL_BALANCE);
    assert_eq!(report.violations[0].call, "MiniportRestart", "{report}");
}

/// A second acquire of a spin lock the CPU already holds (with the
/// DISPATCH_LEVEL variant, as Microsoft's SpinLock and SpinLockDpr rules
/// forbid) breaks `irql.balance`: on Windows the CPU spins on itself for ever.
#[test]
fn irql_balance_fires_on_a_second_acquire_of_a_held_lock() {
    let report = run(Fault::AcquireHeldLock);
    only(&report, rules::IRQL_BALANCE);
    let v = &report.violations[0];
    assert_eq!(v.call, "KeAcquireSpinLockAtDpcLevel", "{report}");
    assert!(v.detail.contains("acquired while this CPU holds it"), "{report}");
}

/// Releasing a spin lock nobody took (Microsoft's SpinLockRelease rule)
/// breaks `irql.balance`.
#[test]
fn irql_balance_fires_on_a_release_without_an_acquire() {
    let report = run(Fault::ReleaseUnheldLock);
    only(&report, rules::IRQL_BALANCE);
    assert!(
        report.violations[0].detail.contains("released but not held"),
        "{report}"
    );
}

/// NdisDprAcquireSpinLock (KeAcquireSpinLockAtDpcLevel) at PASSIVE_LEVEL
/// breaks `irql.limit`: that routine is only for callers already at
/// DISPATCH_LEVEL (Microsoft's Irql_Synch_Function rule).
#[test]
fn irql_limit_fires_on_a_dpr_acquire_at_passive_level() {
    let report = run(Fault::DprAcquireAtPassive);
    only(&report, rules::IRQL_LIMIT);
    let v = &report.violations[0];
    assert_eq!(v.call, "KeAcquireSpinLockAtDpcLevel", "{report}");
    assert!(v.detail.contains("requires DISPATCH_LEVEL"), "{report}");
}

#[test]
fn handle_valid_fires_on_a_made_up_handle() {
    let report = run(Fault::MadeUpHandle);
    only(&report, rules::HANDLE_VALID);
    assert!(report.violations[0].detail.contains("0x1234"), "{report}");
}

#[test]
fn nothing_after_halt_fires_on_a_late_attribute_call() {
    only(&run(Fault::LateAttributes), rules::NOTHING_AFTER_HALT);
}

/// A status indication after MiniportHaltEx returned (Microsoft's
/// NdisMIndicateStatusEx rule, on the CoNDIS NdisMCoIndicateStatusEx) breaks
/// `halt.nothing-after`.
#[test]
fn nothing_after_halt_fires_on_a_status_indication_after_halt() {
    let report = run(Fault::StatusAfterHalt);
    only(&report, rules::NOTHING_AFTER_HALT);
    assert_eq!(report.violations[0].call, "NdisMCoIndicateStatusEx", "{report}");
}

#[test]
fn unload_deregisters_fires_when_unload_forgets() {
    only(&run(Fault::UnloadForgets), rules::UNLOAD_DEREGISTERS);
}

/// A configuration handle opened in MiniportInitializeEx and never closed
/// breaks `config.closed` when MiniportHaltEx returns, once.
#[test]
fn config_closed_fires_on_a_handle_kept_past_halt() {
    let report = run(Fault::ConfigKeptOpen);
    only(&report, ndis_emu::config::CONFIG_CLOSED);
    assert_eq!(report.violations.len(), 1, "{report}");
    let v = &report.violations[0];
    assert_eq!(v.call, "MiniportHaltEx");
    assert!(v.detail.contains("opened in MiniportInitializeEx"), "{report}");
}

#[test]
fn memory_ledger_fires_on_a_leak_and_on_a_wrong_tag() {
    let leak = run(Fault::Leak);
    only(&leak, rules::MEMORY_LEDGER);
    assert!(leak.violations[0].detail.contains("tag Fixt"), "{leak}");
    assert!(
        leak.violations[0].detail.contains("MiniportInitializeEx"),
        "origin named: {leak}"
    );
    let wrong = run(Fault::WrongTag);
    only(&wrong, rules::MEMORY_LEDGER);
    assert!(wrong.violations[0].detail.contains("freed with tag Oops"), "{wrong}");
}

/// An allocation with pool tag 0 (Microsoft's NdisAllocateMemoryWithTagPriority
/// rule: no allocation without a tag) breaks `memory.tag`; freed with the
/// same tag, it breaks nothing else.
#[test]
fn memory_tag_fires_on_a_zero_tag() {
    let report = run(Fault::ZeroTag);
    only(&report, memory::MEMORY_TAG);
    let v = &report.violations[0];
    assert_eq!(v.call, "NdisAllocateMemoryWithTagPriority", "{report}");
    assert!(v.detail.contains("0x00000000"), "{report}");
}

#[test]
fn unimplemented_ddi_fires_on_mco_activate_vc_complete() {
    let report = run(Fault::ActivateVcComplete);
    only(&report, rules::UNIMPLEMENTED_DDI);
    assert_eq!(report.violations[0].call, "NdisMCoActivateVcComplete");
}

/// KeBugCheckEx ends the process, as it ends Windows; so this test runs the
/// fixture in a child process (itself, filtered to the helper below) and
/// reads what the emulator reported.
#[test]
fn bug_check_is_reported_with_its_code() {
    let exe = std::env::current_exe().expect("test binary");
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "bug_check_child",
            "--nocapture",
            "--include-ignored",
            "--test-threads=1",
        ])
        .env("NDIS_EMU_BUGCHECK_CHILD", "1")
        .output()
        .expect("run child");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "stderr:\n{stderr}");
    assert!(stderr.contains("bug-checked: code 0xdeadf1c5"), "stderr:\n{stderr}");
    assert!(stderr.contains("[driver.bug-check]"), "stderr:\n{stderr}");
}

/// The child half of `bug_check_is_reported_with_its_code`.
#[test]
#[ignore = "runs only as the child of bug_check_is_reported_with_its_code"]
fn bug_check_child() {
    if std::env::var_os("NDIS_EMU_BUGCHECK_CHILD").is_some() {
        let _ = run(Fault::BugCheck);
        unreachable!("KeBugCheckEx returned");
    }
}

/// Every rule in the catalog names a proving test, and that test exists in
/// one of this crate's test files.
#[test]
fn every_rule_has_a_proving_test() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests");
    let mut sources = String::new();
    for entry in std::fs::read_dir(dir).expect("tests dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "rs") {
            sources.push_str(&std::fs::read_to_string(&path).expect("read test file"));
        }
    }
    for r in ndis_emu::catalog::all() {
        let info = r.info();
        assert!(
            sources.contains(&format!("fn {}()", info.proving_test)),
            "rule {} names missing test {}",
            info.id,
            info.proving_test
        );
    }
}

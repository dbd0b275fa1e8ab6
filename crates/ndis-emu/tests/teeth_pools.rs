//! The lookaside and NBL rules have teeth: a small MCM (tests/fixture_pools)
//! that runs lookaside lists (through the ndis-sys inline helpers) and NBL
//! pools through InitializeEx and HaltEx breaks no rule, and each fault
//! makes exactly its rule fire.

mod fixture_pools;

use fixture_pools::{Fault, PAYLOAD, run};
use ndis_emu::nbl::{self, NblOwner, NblState};
use ndis_emu::{Report, Rule, lookaside, rules};

/// Asserts that `rule`, and no other rule, fired.
fn only(report: &Report, rule: Rule) {
    assert!(report.of(rule).count() > 0, "{rule} did not fire:\n{report}");
    assert_eq!(report.rules(), vec![rule], "other rules fired too:\n{report}");
}

#[test]
fn the_well_behaved_pool_fixture_breaks_no_rule() {
    let (report, seen) = run(Fault::None);
    assert!(report.is_clean(), "{report}");
    assert!(
        report.events.iter().any(|e| e.name == "MiniportDriverUnload"),
        "{report}"
    );
    // The inline helpers ran over the emulated list: six misses, four
    // cached and two freed at depth 4, two hits, four cached at the end.
    assert_eq!(seen.counters, Some((8, 6, 8, 2, 4)));
    // The driver's own routines served the other list: five allocated, one
    // freed at the depth and four when the list was deleted.
    assert_eq!((seen.own_allocations, seen.own_frees), (5, 5));
    // The NBL over the driver's own MDL reads back as DataOffset 7, length 5.
    let data = seen.read_back.expect("read back").expect("a well-formed NBL");
    assert_eq!(data.len(), 1);
    assert_eq!(data[0].net_buffers, vec![PAYLOAD[7..12].to_vec()]);
    assert!(matches!(
        seen.ownership,
        Some((NblOwner::DriverPool(_), NblState::OwnedByDriver))
    ));
    // ContextSize 16 + ContextBackFill 16: a context with Size 32, Offset 16.
    assert_eq!(seen.context, Some((true, 32, 16)));
}

#[test]
fn lookaside_init_fires_on_a_nonzero_depth() {
    let (report, _) = run(Fault::LookasideNonzeroDepth);
    only(&report, lookaside::LOOKASIDE_INIT);
    assert!(report.violations[0].detail.contains("Depth 8"), "{report}");
}

#[test]
fn lookaside_live_list_fires_on_use_after_delete() {
    let (report, _) = run(Fault::LookasideUseAfterDelete);
    only(&report, lookaside::LOOKASIDE_LIVE);
    assert!(report.violations[0].detail.contains("already deleted"), "{report}");
}

#[test]
fn lookaside_entry_fires_on_a_double_free() {
    let (report, _) = run(Fault::LookasideDoubleFree);
    only(&report, lookaside::LOOKASIDE_ENTRY);
    assert!(report.violations[0].detail.contains("freed twice"), "{report}");
}

#[test]
fn lookaside_entry_fires_on_an_entry_of_another_list() {
    let (report, _) = run(Fault::LookasideForeignEntry);
    only(&report, lookaside::LOOKASIDE_ENTRY);
    assert!(report.violations[0].detail.contains("tag PxLb"), "{report}");
}

#[test]
fn lookaside_cached_entry_intact_fires_on_a_write_after_free() {
    let (report, _) = run(Fault::LookasideWriteAfterFree);
    only(&report, lookaside::LOOKASIDE_INTACT);
    assert!(report.violations[0].detail.contains("byte 20"), "{report}");
}

#[test]
fn lookaside_delete_outstanding_fires_with_an_entry_out() {
    let (report, _) = run(Fault::LookasideDeleteWithEntryOut);
    only(&report, lookaside::LOOKASIDE_DELETE_OUTSTANDING);
    assert!(
        report.violations[0].detail.contains("1 entry still allocated"),
        "{report}"
    );
}

#[test]
fn lookaside_not_deleted_fires_on_a_forgotten_list() {
    let (report, _) = run(Fault::LookasideNotDeleted);
    only(&report, lookaside::LOOKASIDE_NOT_DELETED);
    let v = &report.violations[0];
    assert!(v.detail.contains("tag PxLa"), "{report}");
    assert!(v.detail.contains("MiniportInitializeEx"), "{report}");
}

#[test]
fn nbl_pool_params_fires_on_a_protocol_id() {
    let (report, _) = run(Fault::NblPoolProtocolId);
    only(&report, nbl::NBL_POOL_PARAMS);
    assert!(report.violations[0].detail.contains("ProtocolId 0x2"), "{report}");
}

#[test]
fn nbl_alloc_params_fires_on_an_odd_context_size() {
    let (report, _) = run(Fault::NblOddContextSize);
    only(&report, nbl::NBL_ALLOC_PARAMS);
    assert!(report.violations[0].detail.contains("ContextSize 8"), "{report}");
}

#[test]
fn nbl_free_owner_fires_on_a_double_free() {
    let (report, _) = run(Fault::NblDoubleFree);
    only(&report, nbl::NBL_FREE_OWNER);
    assert!(report.violations[0].detail.contains("double free"), "{report}");
}

#[test]
fn nbl_pool_free_outstanding_fires_with_an_nbl_out() {
    let (report, _) = run(Fault::NblPoolFreedWithNblOut);
    only(&report, nbl::NBL_POOL_FREE_OUTSTANDING);
    assert!(report.violations[0].detail.contains("tag PxNb"), "{report}");
}

#[test]
fn nbl_leak_fires_on_a_pool_never_freed() {
    let (report, _) = run(Fault::NblPoolNeverFreed);
    only(&report, nbl::NBL_LEAK);
    let v = &report.violations[0];
    assert!(v.detail.contains("tag PxNo"), "{report}");
    assert!(v.detail.contains("MiniportInitializeEx"), "{report}");
}

#[test]
fn an_nbl_from_a_freed_pool_is_a_bad_handle() {
    let (report, _) = run(Fault::NblFromFreedPool);
    only(&report, rules::HANDLE_VALID);
    assert!(report.violations[0].detail.contains("already freed"), "{report}");
}

#[test]
fn the_nbl_api_needs_a_running_emulator() {
    assert_eq!(nbl::chain_data(core::ptr::null_mut()), Err(nbl::NblError::NoEmulator));
    assert_eq!(nbl::ownership(core::ptr::null_mut()), None);
}

#[test]
fn a_client_chain_built_while_the_emulator_runs_reads_back() {
    let emu = ndis_emu::Emulator::new();
    let head = nbl::client_send_chain(0x1234 as _, &[b"one", b"two"]).expect("built");
    let data = nbl::chain_data(head).expect("read");
    assert_eq!(
        data.iter().map(|d| d.net_buffers.concat()).collect::<Vec<_>>(),
        vec![b"one".to_vec(), b"two".to_vec()]
    );
    assert!(data.iter().all(|d| d.source_handle == 0x1234));
    assert_eq!(nbl::ownership(head), Some((NblOwner::Client, NblState::OwnedByNdis)));
    let report = emu.finish();
    assert!(
        report.is_clean(),
        "client NBLs are NDIS's own, not a driver leak:\n{report}"
    );
}

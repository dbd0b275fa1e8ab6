//! The target check the exit status rests on: a run that meets every
//! target passes; a run that misses one it checks fails, whatever the
//! target; `--quick` leaves the wall-clock targets out (and only those).
//! The figures are made up here: these tests prove the check, the
//! integration tests (`tests/bench.rs`) run the measurements.

use super::*;

/// The NDIS calls of one operation: the baseline's, plus `extra`.
fn calls(extra: &[(&'static str, f64)]) -> Calls {
    let mut m: Calls = [("NdisMCmActivateVc", 2.0), ("NdisMCmCreateVc", 1.0)]
        .into_iter()
        .collect();
    for &(name, n) in extra {
        *m.entry(name).or_insert(0.0) += n;
    }
    m
}

/// One driver's figures, every target met when it is covmini's against
/// itself.
fn figures() -> Figures {
    Figures {
        call_s: 10e-6,
        nbl_s: [5e-6, 6e-6],
        copied: 0,
        audited: 31_280,
        level_s: [10e-6, 10.5e-6, 11e-6],
        ledger_per_vc: 136.0,
        table_per_vc: 41.0,
        call_blocks: 336.0,
        call_other: 136.0,
        per_party: Ok(PartyBytes {
            own: 32.0,
            slot: 32.0,
            leaf_vc: 136.0,
            leaf_table: 41.0,
            leaf_call: 168.0,
        }),
        ndis_calls: [calls(&[]), calls(&[]), calls(&[])],
    }
}

fn results(covmini: Figures, quick: bool) -> Results {
    Results {
        covmini,
        baseline: figures(),
        counts: QUICK,
        quick,
    }
}

#[test]
fn a_run_that_meets_every_target_passes() {
    for quick in [false, true] {
        assert_eq!(results(figures(), quick).missed(), [], "quick: {quick}");
    }
}

#[test]
fn a_missed_deterministic_target_fails_quick_and_full_runs() {
    let mut copies = figures();
    copies.copied = 64;
    let mut audit_blind = figures();
    audit_blind.audited = 0;
    let mut vc = figures();
    vc.ledger_per_vc = 216.0;
    let mut party = figures();
    party.per_party = Err("n/a".into());
    let mut big_party = figures();
    if let Ok(p) = &mut big_party.per_party {
        p.own = 97.0;
    }
    let mut ndis = figures();
    ndis.ndis_calls[2] = calls(&[("NdisMCoIndicateReceiveNetBufferLists", 1.0)]);
    let mut fewer = figures();
    fewer.ndis_calls[0] = calls(&[("NdisMCmActivateVc", -1.0)]);
    let mut none = figures();
    none.ndis_calls[1] = Calls::new();
    for (f, want) in [
        (copies, Target::Copies),
        (audit_blind, Target::Copies),
        (vc, Target::VcBytes),
        (party, Target::PartyBytes),
        (big_party, Target::PartyBytes),
        (ndis, Target::NdisCalls(2)),
        (fewer, Target::NdisCalls(0)),
        (none, Target::NdisCalls(1)),
    ] {
        for quick in [false, true] {
            assert_eq!(results(f.clone(), quick).missed(), [want], "quick: {quick}");
        }
    }
}

#[test]
fn a_missed_timing_target_fails_a_full_run_only() {
    let mut call = figures();
    call.call_s = 15.1e-6;
    let mut nbl = figures();
    nbl.nbl_s[1] = 7.3e-6;
    let mut scaling = figures();
    scaling.level_s[2] = 12.6e-6;
    for (f, want) in [
        (call, Target::PerCall),
        (nbl, Target::PerNbl(1)),
        (scaling, Target::Scaling),
    ] {
        assert_eq!(results(f.clone(), false).missed(), [want]);
        let quick = results(f, true);
        assert_eq!(quick.missed(), []);
        assert!(!quick.met(want), "shown as missed in --quick, not checked");
    }
}

#[test]
fn lookaside_traffic_and_spin_locks_are_not_the_operations_ndis_calls() {
    let mut f = figures();
    f.ndis_calls[0] = calls(&[
        ("ExpInterlockedPopEntrySList", 4.0),
        ("ExpInterlockedPushEntrySList", 4.0),
        ("ExQueryDepthSList", 4.0),
        ("lookaside Allocate routine", 1.0),
        ("KeAcquireSpinLockRaiseToDpc", 14.0),
        ("KeReleaseSpinLock", 14.0),
    ]);
    let r = results(f, false);
    assert_eq!(r.missed(), []);
    let c = &r.covmini.ndis_calls[0];
    assert_eq!(of_kind(c, CallKind::Ndis), 3.0);
    assert_eq!(of_kind(c, CallKind::Lookaside), 13.0);
    assert_eq!(of_kind(c, CallKind::SpinLock), 28.0);
    let t = r.table();
    assert!(t.contains("NDIS calls per call"), "{t}");
    assert!(!t.contains("MISSED"), "{t}");
}

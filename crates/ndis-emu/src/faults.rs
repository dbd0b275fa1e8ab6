//! Deterministic fault injection: fail the Nth allocation, the Nth call of
//! a named DDI, or the Nth allocation from the lookaside lists of one pool
//! tag, the way low memory would on Windows; and the census of every place
//! a run could have failed.
//!
//! What it owns: the three hooks DDIs call. The counters, the configured
//! failures and the census of one emulator are the world's
//! (`crate::world::faults`, a field of the world, so two emulators never
//! share them):
//!
//! * [`allocation_fails`]: every DDI that allocates on the driver's behalf
//!   (`NdisAllocateMemoryWithTagPriority`, `NdisAllocateIoWorkItem`,
//!   `NdisAllocateTimerObject`, `NdisAllocateNetBufferListPool`,
//!   `NdisAllocateNetBufferAndNetBufferList`, `NdisAllocateNetBufferList`)
//!   calls it once per call, after validating its arguments and before
//!   allocating. It counts the call and the allocation; when either is a
//!   configured failure, the DDI fails the way its page documents (NULL, or
//!   NDIS_STATUS_RESOURCES).
//! * [`lookaside_fails`]: the pop of the inline
//!   `NdisAllocateFromNPagedLookasideList` calls it once per allocation from
//!   a list. It counts an allocation and one allocation from the lists of
//!   that pool tag. A failure makes the pop come back empty (as it does when
//!   other CPUs took the last cached entry) and the list's Allocate routine
//!   then return NULL, so the inline allocate returns NULL exactly as it
//!   does on Windows when pool is exhausted.
//! * [`call_fails`]: the same for a DDI that can fail without allocating on
//!   the driver's behalf (NdisMRegisterMiniportDriver,
//!   NdisSetOptionalHandlers, NdisMSetMiniportAttributes,
//!   NdisMCmRegisterAddressFamilyEx, NdisMCmCreateVc, NdisMCmActivateVc,
//!   NdisCmDispatchIncomingCall, NdisCmNotifyCloseAddressFamily,
//!   NdisOpenConfigurationEx). Each
//!   returns the failure status its page (or the contract's [B] note)
//!   documents; the DDI says which, with the quote.
//!
//! The DDIs ndis-emu implements that cannot fail are VOID, or fail only on a
//! caller's error the rules already catch: NdisMDeregisterMiniportDriver,
//! NdisFreeMemoryWithTagPriority, NdisMCmDeleteVc and NdisMCmDeactivateVc
//! (NOT_ACCEPTED only for a VC in the wrong state), every Ndis*Complete and
//! NdisCmDispatch* but the incoming call, NdisMCoIndicate*, NdisMCo*Complete,
//! NdisM*SendNetBufferListsComplete, NdisFree*, NdisQueueIoWorkItem,
//! NdisSetTimerObject and NdisCancelTimerObject (BOOLEAN: was it queued),
//! the events (NdisWaitEvent's FALSE is a timeout, not a failure), the
//! spin locks, ExInitialize/ExDeleteNPagedLookasideList (VOID), the other
//! SList calls, NdisGetVersion, NdisMPauseComplete, DbgPrintEx,
//! NdisCloseConfiguration and KeBugCheckEx. NdisReadConfiguration fails
//! only for a value that is not set (NDIS_STATUS_FAILURE, data rather than
//! a fault). NdisMCmOidRequest fails with the client's answer (the
//! scripted clients answer NDIS_STATUS_INVALID_OID), not with one of NDIS's
//! own, so it has no hook.
//!
//! Counting is per emulator and starts when it is created; a failure is
//! configured relative to the count so far ("the 3rd allocation from now"),
//! or, for a [`Site`] of the census, by its absolute ordinal. Every injected
//! failure is an event in the trace, direction `!!`, named after the DDI
//! that failed, so a report shows exactly which call saw it. A fault is not
//! a rule violation: what is checked is how the driver copes (it must unwind
//! what it allocated, and the leak rules say if it did not).
//!
//! The census (`Faults::sites`): every call of a hook is a fault site,
//! named by (kind, DDI, pool tag if any, ordinal), the ordinal counting
//! calls of that DDI (allocations and failable calls) or allocations from
//! that tag's lists (lookaside) since the emulator started. A clean run's
//! census is the list of every place the same run could fail; a sweep fails
//! each one in turn with `Faults::fail_site`.
//!
//! What it must not do: fail anything the test did not ask for.

use ndis_sys::ULONG;

use crate::world::faults::{Faults, LOOKASIDE_DDI, Site, SiteKind};
use crate::world::{CpuId, World};

fn inject(w: &mut World, call: &'static str, why: Vec<String>) -> bool {
    if why.is_empty() {
        return false;
    }
    w.event("!!", call, format!("fault injected: {} fails", why.join(" and ")));
    true
}

/// The hook of every allocating DDI: counts this call of `call` (a site,
/// with the allocation's pool tag if the DDI takes one) and one allocation.
/// True: fail it (the failure is already in the trace).
pub fn allocation_fails(w: &mut World, call: &'static str, tag: Option<ULONG>) -> bool {
    let (ordinal, by_call) = w.faults.count_call(call);
    let by_allocation = w.faults.count_allocation();
    w.faults.sites.push(Site {
        kind: SiteKind::Allocation,
        ddi: call,
        tag,
        ordinal,
    });
    let why: Vec<String> = [by_call, by_allocation].into_iter().flatten().collect();
    inject(w, call, why)
}

/// The hook of a DDI that can fail without allocating: counts this call of
/// `call` (a site). True: fail it (the failure is already in the trace).
pub fn call_fails(w: &mut World, call: &'static str) -> bool {
    let (ordinal, why) = w.faults.count_call(call);
    w.faults.sites.push(Site {
        kind: SiteKind::Call,
        ddi: call,
        tag: None,
        ordinal,
    });
    inject(w, call, why.into_iter().collect())
}

/// The hook of the inline lookaside allocate's pop, on `cpu`, from a list
/// tagged `tag`: counts a site, an allocation and one allocation from that
/// tag. True: the pop comes back empty and the list's Allocate routine,
/// which the inline code calls next on this CPU, fails; it reports the
/// failure ([`report_lookaside`]).
pub(crate) fn lookaside_fails(faults: &mut Faults, cpu: CpuId, tag: ULONG) -> bool {
    let (ordinal, by_tag) = faults.count_lookaside(tag);
    let by_allocation = faults.count_allocation();
    faults.sites.push(Site {
        kind: SiteKind::Lookaside,
        ddi: LOOKASIDE_DDI,
        tag: Some(tag),
        ordinal,
    });
    let why: Vec<String> = [by_tag, by_allocation].into_iter().flatten().collect();
    if why.is_empty() {
        return false;
    }
    faults.pending_lookaside.insert(cpu, why.join(" and "));
    true
}

/// The Allocate routine's half of [`lookaside_fails`]: true (and the
/// failure in the trace, named `call`) when the pop before it on `cpu` was
/// made to fail.
pub(crate) fn report_lookaside(w: &mut World, cpu: CpuId, call: &'static str) -> bool {
    match w.faults.take_pending_lookaside(cpu) {
        Some(why) => inject(w, call, vec![why]),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAG: ULONG = u32::from_le_bytes(*b"Test");

    #[test]
    fn nothing_fails_unless_asked() {
        let mut w = World::default();
        for _ in 0..100 {
            assert!(!allocation_fails(&mut w, "NdisAllocateIoWorkItem", None));
            assert!(!call_fails(&mut w, "NdisMCmActivateVc"));
            assert!(!lookaside_fails(&mut w.faults, 0, TAG));
            assert!(!report_lookaside(&mut w, 0, "ExAllocateFromNPagedLookasideList"));
        }
        assert!(w.events.is_empty());
    }

    #[test]
    fn the_nth_allocation_fails_across_ddis_once() {
        let mut w = World::default();
        w.faults.fail_nth_allocation(3);
        let got: Vec<bool> = ["A", "B", "A", "B", "A"]
            .into_iter()
            .map(|c| allocation_fails(&mut w, c, None))
            .collect();
        assert_eq!(got, [false, false, true, false, false]);
        assert_eq!(w.events.len(), 1);
        assert_eq!(w.events[0].dir, "!!");
        assert_eq!(w.events[0].name, "A");
        assert_eq!(w.events[0].detail, "fault injected: allocation #3 fails");
    }

    #[test]
    fn the_nth_call_of_a_ddi_fails_and_counts_from_now() {
        let mut w = World::default();
        assert!(!allocation_fails(&mut w, "NdisAllocateTimerObject", None));
        w.faults.fail_nth_call("NdisAllocateTimerObject", 2);
        w.faults.fail_nth_call("NdisAllocateTimerObject", 3);
        let got: Vec<bool> = (0..4)
            .map(|_| allocation_fails(&mut w, "NdisAllocateTimerObject", None))
            .collect();
        assert_eq!(got, [false, true, true, false]);
        assert!(w.events[0].detail().contains("call #3 of NdisAllocateTimerObject"));
        assert_eq!(w.events.len(), 2);
    }

    #[test]
    fn a_call_and_an_allocation_failing_together_are_one_failure() {
        let mut w = World::default();
        w.faults.fail_nth_allocation(1);
        w.faults.fail_nth_call("X", 1);
        assert!(allocation_fails(&mut w, "X", None));
        assert_eq!(w.events.len(), 1);
        assert_eq!(
            w.events[0].detail,
            "fault injected: call #1 of X and allocation #1 fails"
        );
        assert!(!allocation_fails(&mut w, "X", None));
    }

    #[test]
    fn non_allocating_calls_do_not_count_as_allocations() {
        let mut w = World::default();
        w.faults.fail_nth_allocation(1);
        assert!(!call_fails(&mut w, "NdisMCmActivateVc"));
        assert!(allocation_fails(&mut w, "NdisAllocateMemoryWithTagPriority", Some(TAG)));
    }

    /// The non-allocating hook fails the configured call of its DDI and no
    /// other, and logs it under that DDI.
    #[test]
    fn the_nth_call_of_a_non_allocating_ddi_fails() {
        let mut w = World::default();
        w.faults.fail_nth_call("NdisMCmCreateVc", 2);
        let got: Vec<bool> = [
            "NdisMCmCreateVc",
            "NdisMCmActivateVc",
            "NdisMCmCreateVc",
            "NdisMCmCreateVc",
        ]
        .into_iter()
        .map(|c| call_fails(&mut w, c))
        .collect();
        assert_eq!(got, [false, false, true, false]);
        assert_eq!(w.events.len(), 1);
        assert_eq!(w.events[0].name, "NdisMCmCreateVc");
        assert_eq!(w.events[0].detail, "fault injected: call #2 of NdisMCmCreateVc fails");
    }

    /// A lookaside failure is chosen by tag, counted per tag, and reported
    /// once, by the Allocate routine on the CPU whose pop was failed.
    #[test]
    fn a_lookaside_allocation_fails_by_tag_on_its_cpu() {
        let mut w = World::default();
        let other = u32::from_le_bytes(*b"Othr");
        w.faults.fail_nth_lookaside(TAG, 2);
        assert!(!lookaside_fails(&mut w.faults, 0, TAG));
        assert!(!lookaside_fails(&mut w.faults, 0, other), "another tag does not count");
        assert!(lookaside_fails(&mut w.faults, 1, TAG));
        assert!(w.events.is_empty(), "reported by the Allocate routine, not the pop");
        assert!(
            !report_lookaside(&mut w, 0, "ExAllocateFromNPagedLookasideList"),
            "CPU 0's pop did not fail"
        );
        assert!(report_lookaside(&mut w, 1, "ExAllocateFromNPagedLookasideList"));
        assert!(
            !report_lookaside(&mut w, 1, "ExAllocateFromNPagedLookasideList"),
            "once"
        );
        assert!(!lookaside_fails(&mut w.faults, 0, TAG));
        assert_eq!(w.events.len(), 1);
        assert_eq!(
            w.events[0].detail,
            "fault injected: lookaside allocation #2 of tag Test fails"
        );
    }

    /// A lookaside allocation is an allocation: fail_nth_allocation counts it.
    #[test]
    fn a_lookaside_allocation_counts_as_an_allocation() {
        let mut w = World::default();
        w.faults.fail_nth_allocation(2);
        assert!(!allocation_fails(
            &mut w,
            "NdisAllocateMemoryWithTagPriority",
            Some(TAG)
        ));
        assert!(lookaside_fails(&mut w.faults, 0, TAG));
        assert!(report_lookaside(&mut w, 0, "ExAllocateFromNPagedLookasideList"));
        assert_eq!(w.events[0].detail, "fault injected: allocation #2 fails");
    }

    /// From the configured allocation on, every allocation fails, and
    /// non-allocating calls are untouched.
    #[test]
    fn every_allocation_from_the_nth_on_fails() {
        let mut w = World::default();
        w.faults.fail_allocations_from(2);
        assert!(!allocation_fails(&mut w, "A", None));
        assert!(allocation_fails(&mut w, "A", None));
        assert!(!call_fails(&mut w, "NdisMCmActivateVc"));
        assert!(lookaside_fails(&mut w.faults, 0, TAG));
        assert!(allocation_fails(&mut w, "B", None));
    }

    /// The census names every hook call by kind, DDI, tag and ordinal; a
    /// site of it, configured on a fresh count, fails that call and only it.
    #[test]
    fn the_census_names_each_site_and_a_site_fails_by_its_name() {
        let run = |w: &mut World| -> Vec<bool> {
            vec![
                allocation_fails(w, "NdisAllocateMemoryWithTagPriority", Some(TAG)),
                lookaside_fails(&mut w.faults, 0, TAG) && report_lookaside(w, 0, "L"),
                call_fails(w, "NdisMCmCreateVc"),
                allocation_fails(w, "NdisAllocateMemoryWithTagPriority", Some(TAG)),
                lookaside_fails(&mut w.faults, 0, TAG) && report_lookaside(w, 0, "L"),
            ]
        };
        let mut clean = World::default();
        assert_eq!(run(&mut clean), [false; 5]);
        let sites = clean.faults.sites().to_vec();
        assert_eq!(sites.len(), 5);
        assert_eq!(
            sites[3],
            Site {
                kind: SiteKind::Allocation,
                ddi: "NdisAllocateMemoryWithTagPriority",
                tag: Some(TAG),
                ordinal: 2
            }
        );
        assert_eq!(sites[4].kind, SiteKind::Lookaside);
        assert_eq!(sites[4].ordinal, 2);
        assert_eq!(sites[2].to_string(), "NdisMCmCreateVc #1");
        for (k, site) in sites.iter().enumerate() {
            let mut w = World::default();
            w.faults.fail_site(site);
            let got = run(&mut w);
            let want: Vec<bool> = (0..5).map(|i| i == k).collect();
            assert_eq!(got, want, "failing {site}");
            assert_eq!(w.events.len(), 1, "failing {site}: one fault logged");
        }
    }
}

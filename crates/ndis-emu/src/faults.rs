//! Deterministic fault injection: fail the Nth allocation, or the Nth call
//! of a named DDI, the way low memory would on Windows.
//!
//! What it owns: the counters and the configured failures of one emulator
//! (a field of the world, so two emulators never share them), and the two
//! hooks DDIs call:
//!
//! * [`allocation_fails`]: every DDI that allocates on the driver's behalf
//!   (`NdisAllocateMemoryWithTagPriority`, `NdisAllocateIoWorkItem`,
//!   `NdisAllocateTimerObject`, and the NBL, pool and lookaside DDIs as they
//!   arrive) calls it once per call, after validating its arguments and
//!   before allocating. It counts the call and the allocation; when either is
//!   a configured failure, the DDI fails the way its page documents (NULL,
//!   or NDIS_STATUS_RESOURCES).
//! * [`call_fails`]: the same for a DDI that can fail without allocating.
//!
//! Counting is per emulator and starts when it is created; a failure is
//! configured relative to the count so far ("the 3rd allocation from now").
//! Every injected failure is an event in the trace, direction `!!`, named
//! after the DDI that failed, so a report shows exactly which call saw it.
//! A fault is not a rule violation: what is checked is how the driver copes
//! (it must unwind what it allocated, and the leak rules say if it did not).
//!
//! What it must not do: fail anything the test did not ask for.

use std::collections::BTreeMap;

use crate::world::World;

/// The configured failures and the counts so far.
#[derive(Debug, Default)]
pub struct Faults {
    /// Allocations seen (calls of [`allocation_fails`]).
    allocations: u64,
    /// Allocation numbers (1-based, since the emulator started) that fail.
    failing_allocations: Vec<u64>,
    /// Calls seen per DDI (of either hook).
    calls: BTreeMap<String, u64>,
    /// (DDI, call number since the emulator started) that fail.
    failing_calls: Vec<(String, u64)>,
}

impl Faults {
    /// Makes the `n`-th allocation from now fail (`n` = 1: the next one).
    ///
    /// # Panics
    /// If `n` is 0.
    pub fn fail_nth_allocation(&mut self, n: u64) {
        assert!(n > 0, "fail_nth_allocation counts from 1 (the next allocation)");
        self.failing_allocations.push(self.allocations + n);
    }

    /// Makes the `n`-th call of `ddi` from now fail (`n` = 1: the next one).
    ///
    /// # Panics
    /// If `n` is 0.
    pub fn fail_nth_call(&mut self, ddi: &str, n: u64) {
        assert!(n > 0, "fail_nth_call counts from 1 (the next call)");
        let seen = self.calls.get(ddi).copied().unwrap_or(0);
        self.failing_calls.push((ddi.to_string(), seen + n));
    }

    /// Counts one call of `ddi`; says which configured failure hits it.
    fn count_call(&mut self, ddi: &str) -> Option<String> {
        let n = self.calls.entry(ddi.to_string()).or_insert(0);
        *n += 1;
        let n = *n;
        let hit = self.failing_calls.iter().position(|(d, at)| d == ddi && *at == n)?;
        self.failing_calls.swap_remove(hit);
        Some(format!("call #{n} of {ddi}"))
    }

    /// Counts one allocation; says if it is a configured failure.
    fn count_allocation(&mut self) -> Option<String> {
        self.allocations += 1;
        let n = self.allocations;
        let hit = self.failing_allocations.iter().position(|at| *at == n)?;
        self.failing_allocations.swap_remove(hit);
        Some(format!("allocation #{n}"))
    }
}

fn inject(w: &mut World, call: &'static str, why: Vec<String>) -> bool {
    if why.is_empty() {
        return false;
    }
    w.event("!!", call, format!("fault injected: {} fails", why.join(" and ")));
    true
}

/// The hook of every allocating DDI: counts this call of `call` and one
/// allocation. True: fail it (the failure is already in the trace).
pub fn allocation_fails(w: &mut World, call: &'static str) -> bool {
    let why: Vec<String> = [w.faults.count_call(call), w.faults.count_allocation()]
        .into_iter()
        .flatten()
        .collect();
    inject(w, call, why)
}

/// The hook of a DDI that can fail without allocating: counts this call of
/// `call`. True: fail it (the failure is already in the trace).
#[allow(
    dead_code,
    reason = "the hook for DDIs that fail without allocating; they arrive with issue #3"
)]
pub fn call_fails(w: &mut World, call: &'static str) -> bool {
    let why: Vec<String> = w.faults.count_call(call).into_iter().collect();
    inject(w, call, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_fails_unless_asked() {
        let mut w = World::default();
        for _ in 0..100 {
            assert!(!allocation_fails(&mut w, "NdisAllocateIoWorkItem"));
            assert!(!call_fails(&mut w, "NdisMCmActivateVc"));
        }
        assert!(w.events.is_empty());
    }

    #[test]
    fn the_nth_allocation_fails_across_ddis_once() {
        let mut w = World::default();
        w.faults.fail_nth_allocation(3);
        let got: Vec<bool> = ["A", "B", "A", "B", "A"]
            .into_iter()
            .map(|c| allocation_fails(&mut w, c))
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
        assert!(!allocation_fails(&mut w, "NdisAllocateTimerObject"));
        w.faults.fail_nth_call("NdisAllocateTimerObject", 2);
        w.faults.fail_nth_call("NdisAllocateTimerObject", 3);
        let got: Vec<bool> = (0..4)
            .map(|_| allocation_fails(&mut w, "NdisAllocateTimerObject"))
            .collect();
        assert_eq!(got, [false, true, true, false]);
        assert!(w.events[0].detail.contains("call #3 of NdisAllocateTimerObject"));
        assert_eq!(w.events.len(), 2);
    }

    #[test]
    fn a_call_and_an_allocation_failing_together_are_one_failure() {
        let mut w = World::default();
        w.faults.fail_nth_allocation(1);
        w.faults.fail_nth_call("X", 1);
        assert!(allocation_fails(&mut w, "X"));
        assert_eq!(w.events.len(), 1);
        assert_eq!(
            w.events[0].detail,
            "fault injected: call #1 of X and allocation #1 fails"
        );
        assert!(!allocation_fails(&mut w, "X"));
    }

    #[test]
    fn non_allocating_calls_do_not_count_as_allocations() {
        let mut w = World::default();
        w.faults.fail_nth_allocation(1);
        assert!(!call_fails(&mut w, "NdisMCmActivateVc"));
        assert!(allocation_fails(&mut w, "NdisAllocateMemoryWithTagPriority"));
    }
}

//! The fault injector's state (a field of the world): the failures a test
//! configured, the counters of calls, allocations and lookaside
//! allocations, and the census of fault sites.
//!
//! It owns that state and its counting. The hooks the DDIs call (which
//! decide a failure and put it in the trace) are `crate::faults`. A leaf of
//! the world: it must not name the world nor anything that does.

use std::collections::BTreeMap;

use ndis_sys::ULONG;

use super::base::CpuId;
use crate::trace::tag_str;

/// What kind of fault site: which hook counted it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SiteKind {
    /// A call of a DDI that allocates (NdisAllocateMemoryWithTagPriority,
    /// the NBL and NBL-pool allocators, work items, timers).
    Allocation,
    /// An allocation from a lookaside list (the inline
    /// NdisAllocateFromNPagedLookasideList), counted per pool tag.
    Lookaside,
    /// A call of a DDI that can fail without allocating on the driver's
    /// behalf (NdisMCmCreateVc, NdisMCmActivateVc, ...).
    Call,
}

/// One place a run could fail: the `ordinal`-th call of `ddi` (for
/// [`SiteKind::Lookaside`], the `ordinal`-th allocation from the lookaside
/// lists tagged `tag`) since the emulator started.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Site {
    /// Which hook.
    pub kind: SiteKind,
    /// The DDI (`NdisAllocateFromNPagedLookasideList` for a lookaside site).
    pub ddi: &'static str,
    /// The pool tag, for the DDIs that take one.
    pub tag: Option<ULONG>,
    /// 1-based, per DDI (per tag for lookaside sites).
    pub ordinal: u64,
}

impl core::fmt::Display for Site {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.tag {
            Some(t) => write!(f, "{} #{} (tag {})", self.ddi, self.ordinal, tag_str(t)),
            None => write!(f, "{} #{}", self.ddi, self.ordinal),
        }
    }
}

/// The DDI name a lookaside site carries.
pub const LOOKASIDE_DDI: &str = "NdisAllocateFromNPagedLookasideList";

/// The configured failures, the counts so far and the census.
#[derive(Debug, Default)]
pub struct Faults {
    /// Allocations seen (calls of [`allocation_fails`] and [`lookaside_fails`]).
    allocations: u64,
    /// Allocation numbers (1-based, since the emulator started) that fail.
    failing_allocations: Vec<u64>,
    /// Every allocation from this number on fails.
    failing_from: Option<u64>,
    /// Calls seen per DDI (of [`allocation_fails`] or [`call_fails`]).
    calls: BTreeMap<String, u64>,
    /// (DDI, call number since the emulator started) that fail.
    failing_calls: Vec<(String, u64)>,
    /// Lookaside allocations seen per pool tag.
    lookaside: BTreeMap<ULONG, u64>,
    /// (tag, allocation number from that tag's lists) that fail.
    failing_lookaside: Vec<(ULONG, u64)>,
    /// A lookaside pop made to come back empty per CPU: the failure its
    /// Allocate routine reports next.
    pub(crate) pending_lookaside: BTreeMap<CpuId, String>,
    /// Every site so far, in order.
    pub(crate) sites: Vec<Site>,
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

    /// Makes every allocation from the `n`-th from now on fail (`n` = 1:
    /// this one and all after): pool exhausted for good.
    ///
    /// # Panics
    /// If `n` is 0.
    pub fn fail_allocations_from(&mut self, n: u64) {
        assert!(n > 0, "fail_allocations_from counts from 1 (the next allocation)");
        self.failing_from = Some(self.allocations + n);
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

    /// Makes the `n`-th allocation from now from a lookaside list tagged
    /// `tag` fail (`n` = 1: the next one).
    ///
    /// # Panics
    /// If `n` is 0.
    pub fn fail_nth_lookaside(&mut self, tag: ULONG, n: u64) {
        assert!(n > 0, "fail_nth_lookaside counts from 1 (the next allocation)");
        let seen = self.lookaside.get(&tag).copied().unwrap_or(0);
        self.failing_lookaside.push((tag, seen + n));
    }

    /// Makes the census site `site` fail when the run reaches it again (its
    /// ordinal counts from the emulator's start, so configure it before the
    /// run gets there: a site already passed never fails).
    pub fn fail_site(&mut self, site: &Site) {
        match site.kind {
            SiteKind::Allocation | SiteKind::Call => self.failing_calls.push((site.ddi.to_string(), site.ordinal)),
            SiteKind::Lookaside => {
                if let Some(tag) = site.tag {
                    self.failing_lookaside.push((tag, site.ordinal));
                }
            }
        }
    }

    /// Every fault site so far, in the order the run reached them.
    #[must_use]
    pub fn sites(&self) -> &[Site] {
        &self.sites
    }

    /// Counts one call of `ddi`; says which configured failure hits it.
    pub(crate) fn count_call(&mut self, ddi: &str) -> (u64, Option<String>) {
        let n = self.calls.entry(ddi.to_string()).or_insert(0);
        *n += 1;
        let n = *n;
        let Some(hit) = self.failing_calls.iter().position(|(d, at)| d == ddi && *at == n) else {
            return (n, None);
        };
        self.failing_calls.swap_remove(hit);
        (n, Some(format!("call #{n} of {ddi}")))
    }

    /// Counts one allocation; says if it is a configured failure.
    pub(crate) fn count_allocation(&mut self) -> Option<String> {
        self.allocations += 1;
        let n = self.allocations;
        if self.failing_from.is_some_and(|from| n >= from) {
            return Some(format!(
                "allocation #{n} (every one from #{})",
                self.failing_from.unwrap_or(n)
            ));
        }
        let hit = self.failing_allocations.iter().position(|at| *at == n)?;
        self.failing_allocations.swap_remove(hit);
        Some(format!("allocation #{n}"))
    }

    /// Counts one allocation from the lists tagged `tag`; says if it is a
    /// configured failure.
    pub(crate) fn count_lookaside(&mut self, tag: ULONG) -> (u64, Option<String>) {
        let n = self.lookaside.entry(tag).or_insert(0);
        *n += 1;
        let n = *n;
        let Some(hit) = self.failing_lookaside.iter().position(|(t, at)| *t == tag && *at == n) else {
            return (n, None);
        };
        self.failing_lookaside.swap_remove(hit);
        (n, Some(format!("lookaside allocation #{n} of tag {}", tag_str(tag))))
    }

    /// The failure a lookaside pop on `cpu` decided on, for the Allocate
    /// routine the inline allocate calls next (taken: reported once).
    pub(crate) fn take_pending_lookaside(&mut self, cpu: CpuId) -> Option<String> {
        self.pending_lookaside.remove(&cpu)
    }
}

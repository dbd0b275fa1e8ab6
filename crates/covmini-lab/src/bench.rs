//! `covmini-lab bench`: covmini's costs next to the empty MCM's.
//!
//! Both drivers run under the same ndis-emu, one emulator session each, one
//! after the other, and serve the same client script:
//!
//! * **calls**: a client VC is created, calls a SAP of another client (which
//!   accepts at once), the call is closed from the caller's side (the callee
//!   is told and closes too) and the VC is deleted: one *call* (setup +
//!   teardown), timed over many;
//! * **data**: on one connected call, NdisCoSendNetBufferLists of one NBL
//!   with one NET_BUFFER of 64 or 1500 bytes, indicated to the callee,
//!   returned, completed: one *NBL*, timed over many;
//! * **copies**: ndis-emu's receive audit counts, for every NET_BUFFER
//!   indicated, the data bytes that are not in the sending client's own NBL
//!   memory (bytes the driver copied), over a run of both sizes;
//! * **scaling**: the call is timed again with 1k and 100k VCs held open by a
//!   third client (idle client VCs), against none;
//! * **memory**: nonpaged bytes from ndis-emu's ledger, by pool tag, the
//!   change across many creations divided by their number: per idle VC, per
//!   connected call (its call blocks, tag CvmC, one per end), and per party
//!   (split into the party's own cost and the leaf VC and call block it
//!   brings, which are a VC's and a call's). The host build allocates
//!   covmini's contexts from NDIS lookaside lists (in the ledger) but its VC
//!   table from std, so the table's bytes per VC (`VC_TABLE_BYTES_PER_VC`,
//!   tag CvmT in the kernel images) are added, and a party's slot in the
//!   party table inside the adapter context (`PARTY_TABLE_BYTES_PER_PARTY`).
//!
//! The baseline is `empty-mcm` (see its crate docs and BENCHMARKS.md for why
//! it is the fair floor). Every measured operation is checked (statuses,
//! states, deliveries) and each session must end with zero violations and
//! zero leaks, or the bench fails: a fast wrong run measures nothing.
//!
//! * **NDIS calls**: ndis-emu's per-import call counts
//!   ([`ndis_emu::ddi_calls`]) across a few calls and NBLs, per operation,
//!   split into the operation's NDIS calls, lookaside traffic, spin locks
//!   and the flight recorder's stamps.
//!
//! Wall-clock times drift on shared machines; `--callgrind-path` runs one
//! path alone for `scripts/bench-callgrind.sh`, which counts instructions.
//!
//! The exit status is 1 when a target the run checks is missed
//! ([`Target`]; `--quick` leaves the wall-clock ones unchecked).
//!
//! What this module must not do: measure anything the table does not print,
//! or print a figure it did not measure.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use covmini::call_manager::{
    MAX_LEAVES, PARAM_TYPE_CALLED_ADDRESS, PARTY_TABLE_BYTES_PER_PARTY, SAP_TYPE_ADDRESS, VC_TABLE_BYTES_PER_VC,
};
use covmini::pool::{TAG_CALL, TAG_VC};
use ndis_emu::{Af, CallSpec, CallState, Client, Emulator, Vc};
use ndis_sys::{DRIVER_INITIALIZE, NDIS_STATUS, NDIS_STATUS_SUCCESS, ULONG};

use crate::cli::BenchArgs as Args;
use crate::cli::{BenchDriver as Which, BenchPath as Path};

impl Which {
    fn entry(self) -> DRIVER_INITIALIZE {
        match self {
            Self::Covmini => covmini::DriverEntry,
            Self::Baseline => empty_mcm::driver_entry,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Self::Covmini => "covmini",
            Self::Baseline => "baseline",
        }
    }
}

/// How much to run.
#[derive(Clone, Copy, Debug)]
struct Counts {
    calls: u32,
    nbls: u32,
    audit_nbls: u32,
    /// Background VCs of the scaling levels, smallest first.
    levels: [u32; 3],
    level_calls: u32,
    /// Connected calls the per-call memory is measured over.
    calls_held: u32,
    /// Repetitions of each timed run in a session; the fastest counts.
    reps: u32,
    /// Sessions per driver, alternating; the fastest counts.
    rounds: u32,
}

const FULL: Counts = Counts {
    calls: 5_000,
    nbls: 10_000,
    audit_nbls: 200,
    levels: [0, 1_000, 100_000],
    level_calls: 2_000,
    calls_held: 1_000,
    reps: 2,
    rounds: 2,
};

const QUICK: Counts = Counts {
    calls: 200,
    nbls: 300,
    audit_nbls: 20,
    levels: [0, 100, 1_000],
    level_calls: 100,
    calls_held: 100,
    reps: 1,
    rounds: 1,
};

/// The payload sizes of the data path.
const SIZES: [usize; 2] = [64, 1500];
/// The callee's address.
const CALLEE: &[u8] = b"bench-callee";
/// Objects of each kind created before a memory measurement's first ledger
/// reading: more than an ndis-emu lookaside list caches (its depth is 4),
/// so that every allocation between the two readings is a new pool block
/// and the growth is exact.
const DRAIN: u32 = 6;
/// Operations the NDIS calls per operation are counted over (the counts
/// are exact: every call and every NBL makes the same calls once the
/// lookaside caches are warm).
const CALLS_COUNTED: u32 = 10;
/// Parties of the multipoint call the per-party memory is measured on: as
/// many as one call takes. The first [`DRAIN`] come before the first
/// reading.
const PARTIES: u32 = MAX_LEAVES as u32;

/// Nonpaged bytes per party, split (see BENCHMARKS.md).
#[derive(Clone, Copy, Debug)]
struct PartyBytes {
    /// The party's own ledger bytes: everything the party added but its
    /// leaf's VC context and call block (covmini: its CvmP context).
    own: f64,
    /// Its slot in the party table (inside the adapter context).
    slot: f64,
    /// Its leaf's VC context (CvmV) and VC table slot: a VC's cost.
    leaf_vc: f64,
    leaf_table: f64,
    /// Its leaf's call block (CvmC): a call's cost.
    leaf_call: f64,
}

impl PartyBytes {
    /// What the party itself costs: the ≤ 128 B target's figure.
    fn party(&self) -> f64 {
        self.own + self.slot
    }
}

/// One driver's figures.
#[derive(Clone, Debug)]
struct Figures {
    /// Seconds per call (setup + teardown).
    call_s: f64,
    /// Seconds per NBL, by [`SIZES`].
    nbl_s: [f64; 2],
    /// Payload bytes indicated that were not the sender's buffer, and the
    /// bytes the audit saw in all.
    copied: u64,
    audited: u64,
    /// Seconds per call at each scaling level.
    level_s: [f64; 3],
    /// Ledger bytes per VC, and bytes per VC outside the ledger (the host
    /// build's VC table).
    ledger_per_vc: f64,
    table_per_vc: f64,
    /// Ledger bytes per connected point-to-point call: its call blocks
    /// (CvmC), and the rest (the callee's VC context).
    call_blocks: f64,
    call_other: f64,
    /// Bytes per party; Err: why there is no figure.
    per_party: Result<PartyBytes, String>,
    /// The driver's calls into NDIS and the kernel per operation, by import
    /// (ndis-emu's per-DDI counts): per call, then per NBL by [`SIZES`].
    ndis_calls: [Calls; 3],
}

/// Calls per operation, by import name.
type Calls = BTreeMap<&'static str, f64>;

/// What kind of import a call is, for the NDIS-calls breakdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum CallKind {
    /// A CoNDIS or NDIS call the contract makes for the operation (create,
    /// activate, dispatch, indicate, complete, NBL allocation, ...).
    Ndis,
    /// Lookaside traffic: the SList pops, pushes and depth queries of
    /// `NdisAllocateFromNPagedLookasideList` / `NdisFreeToNPagedLookasideList`,
    /// and the lists' Allocate and Free routines when they miss.
    Lookaside,
    /// Spin-lock acquisitions and releases.
    SpinLock,
    /// The flight recorder's stamps: the interrupt time and the processor
    /// number of each recorded event (KeQueryInterruptTimePrecise,
    /// KeGetCurrentProcessorNumberEx), kernel calls that talk to no one.
    Recorder,
}

impl CallKind {
    fn of(import: &str) -> Self {
        match import {
            "ExpInterlockedPopEntrySList"
            | "ExpInterlockedPushEntrySList"
            | "ExQueryDepthSList"
            | "lookaside Allocate routine"
            | "lookaside Free routine" => Self::Lookaside,
            "KeAcquireSpinLockRaiseToDpc"
            | "KeReleaseSpinLock"
            | "KeAcquireSpinLockAtDpcLevel"
            | "KeReleaseSpinLockFromDpcLevel" => Self::SpinLock,
            "KeQueryInterruptTimePrecise" | "KeGetCurrentProcessorNumberEx" => Self::Recorder,
            _ => Self::Ndis,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Self::Ndis => "NDIS calls of the operation",
            Self::Lookaside => "lookaside traffic",
            Self::SpinLock => "spin locks",
            Self::Recorder => "flight recorder stamps",
        }
    }
}

/// The calls of one kind.
fn of_kind(calls: &Calls, kind: CallKind) -> f64 {
    calls
        .iter()
        .filter(|(name, _)| CallKind::of(name) == kind)
        .map(|(_, n)| n)
        .sum()
}

/// A bench failure: what went wrong, in words.
type Failure = String;

fn check(what: &str, got: NDIS_STATUS, want: NDIS_STATUS) -> Result<(), Failure> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: {got:#010x}, expected {want:#010x}"))
    }
}

fn call_spec() -> CallSpec {
    let mut spec = CallSpec::best_effort(125_000_000, 1500);
    spec.media_specific_type = PARAM_TYPE_CALLED_ADDRESS;
    spec.media_specific = CALLEE.to_vec();
    spec
}

/// A driver up in a fresh emulator, with a caller, a callee listening on
/// [`CALLEE`], and a background client.
struct Session {
    emu: Emulator,
    which: Which,
    caller: Client,
    callee: Client,
    caller_af: Af,
    background_af: Af,
    background: Vec<Vc>,
    spec: CallSpec,
}

impl Session {
    fn start(which: Which) -> Result<Self, Failure> {
        let mut emu = Emulator::new();
        emu.load(which.entry())
            .map_err(|e| format!("{}: DriverEntry: {e}", which.name()))?;
        emu.add_adapter()
            .map_err(|e| format!("{}: add adapter: {e}", which.name()))?;
        let caller = emu.client("caller");
        let callee = emu.client("callee");
        let background = emu.client("background");
        let af = covmini::config::AF;
        let caller_af = emu
            .open_af(caller, af)
            .map_err(|s| format!("caller opens the AF: {s:#x}"))?;
        let callee_af = emu
            .open_af(callee, af)
            .map_err(|s| format!("callee opens the AF: {s:#x}"))?;
        let background_af = emu
            .open_af(background, af)
            .map_err(|s| format!("background client opens the AF: {s:#x}"))?;
        emu.register_sap(callee_af, SAP_TYPE_ADDRESS, CALLEE)
            .map_err(|s| format!("callee registers its SAP: {s:#x}"))?;
        Ok(Self {
            emu,
            which,
            caller,
            callee,
            caller_af,
            background_af,
            background: Vec::new(),
            spec: call_spec(),
        })
    }

    /// One call: create a VC, call, close (both sides), delete.
    fn call(&mut self) -> Result<(), Failure> {
        let vc = self
            .emu
            .create_vc(self.caller_af)
            .map_err(|s| format!("create VC: {s:#x}"))?;
        check("make call", self.emu.make_call(vc, &self.spec), NDIS_STATUS_SUCCESS)?;
        check("close call", self.emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS)?;
        check("delete VC", self.emu.delete_vc(vc), NDIS_STATUS_SUCCESS)
    }

    /// Seconds per call over `n` calls (the fastest of `reps` runs).
    fn time_calls(&mut self, n: u32, reps: u32) -> Result<f64, Failure> {
        // The first call of a session also fills lookaside lists and pools.
        self.call()?;
        let vc = self
            .emu
            .create_vc(self.caller_af)
            .map_err(|s| format!("create VC: {s:#x}"))?;
        check("make call", self.emu.make_call(vc, &self.spec), NDIS_STATUS_SUCCESS)?;
        let callee_vc = *self
            .emu
            .offered_vcs(self.callee)
            .last()
            .ok_or("the callee was offered no call")?;
        let up = (CallState::Connected, true);
        if self.emu.vc_state(vc) != Some(up) || self.emu.vc_state(callee_vc) != Some(up) {
            return Err("a call did not connect both ends".into());
        }
        check("close call", self.emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS)?;
        if self.emu.vc_state(callee_vc).is_some() {
            return Err("the callee's VC outlived the call".into());
        }
        check("delete VC", self.emu.delete_vc(vc), NDIS_STATUS_SUCCESS)?;
        best_of(reps, n, || self.call())
    }

    /// Connects a call for the data path; returns the caller's VC.
    fn connect(&mut self) -> Result<Vc, Failure> {
        let vc = self
            .emu
            .create_vc(self.caller_af)
            .map_err(|s| format!("create VC: {s:#x}"))?;
        check("make call", self.emu.make_call(vc, &self.spec), NDIS_STATUS_SUCCESS)?;
        Ok(vc)
    }

    /// Sends one NBL of `payload` on `vc`.
    fn send(&mut self, vc: Vc, payload: &[u8]) -> Result<(), Failure> {
        self.emu.send(vc, &[payload]).map_err(|s| format!("send: {s:#x}"))
    }

    /// Seconds per NBL of `size` bytes over `n` sends, each checked to be
    /// received whole and completed with SUCCESS.
    fn time_nbls(&mut self, vc: Vc, size: usize, n: u32, reps: u32) -> Result<f64, Failure> {
        let payload = vec![0xA5u8; size];
        let received = self.emu.received(self.callee).len();
        let sent = self.emu.send_results(self.caller).len();
        self.send(vc, &payload)?;
        let t = best_of(reps, n, || self.send(vc, &payload))?;
        let got = self.emu.received(self.callee);
        let results = self.emu.send_results(self.caller);
        let want = 1 + (n * reps) as usize;
        if got.len() != received + want || got.last().map(Vec::len) != Some(size) {
            return Err(format!(
                "{size}-byte sends: the callee received {} of {want}",
                got.len() - received
            ));
        }
        if results.len() != sent + want || results.iter().skip(sent).any(|s| *s != NDIS_STATUS_SUCCESS) {
            return Err(format!("{size}-byte sends: not every send completed with SUCCESS"));
        }
        Ok(t)
    }

    /// Bytes the receive audit saw, and those not in the sender's buffer.
    fn audit_copies(&mut self, vc: Vc, n: u32) -> Result<(u64, u64), Failure> {
        self.emu.audit_receive_copies();
        let mut want = 0u64;
        for size in SIZES {
            let payload = vec![0x5Au8; size];
            for _ in 0..n {
                self.send(vc, &payload)?;
                want += size as u64;
            }
        }
        let a = self.emu.receive_copies().ok_or("the receive audit did not run")?;
        if a.shared_bytes + a.copied_bytes != want || a.net_buffers != u64::from(n) * SIZES.len() as u64 {
            return Err(format!(
                "the receive audit saw {} NET_BUFFERs and {} bytes; {want} bytes were sent",
                a.net_buffers,
                a.shared_bytes + a.copied_bytes
            ));
        }
        Ok((a.copied_bytes, want))
    }

    /// The driver's calls into NDIS per run of `op`, by import: ndis-emu's
    /// counts across `n` runs, divided by `n`.
    fn count_calls(&mut self, n: u32, mut op: impl FnMut(&mut Self) -> Result<(), Failure>) -> Result<Calls, Failure> {
        let before = ndis_emu::ddi_calls();
        for _ in 0..n {
            op(self)?;
        }
        let after = ndis_emu::ddi_calls();
        Ok(after
            .into_iter()
            .filter_map(|(name, now)| {
                let was = before.get(name).copied().unwrap_or(0);
                (now > was).then(|| (name, (now - was) as f64 / f64::from(n.max(1))))
            })
            .collect())
    }

    /// Ledger bytes now (every tag).
    fn ledger_bytes(&self) -> usize {
        self.emu.ledger_by_tag().iter().map(|(_, _, b)| b).sum()
    }

    /// Ledger bytes now, by pool tag.
    fn ledger_tags(&self) -> BTreeMap<ULONG, usize> {
        self.emu.ledger_by_tag().into_iter().map(|(t, _, b)| (t, b)).collect()
    }

    /// Holds `total` background VCs open (creates the missing ones).
    fn hold_background(&mut self, total: u32) -> Result<(), Failure> {
        while self.background.len() < total as usize {
            let vc = self
                .emu
                .create_vc(self.background_af)
                .map_err(|s| format!("background VC #{}: {s:#x}", self.background.len()))?;
            self.background.push(vc);
        }
        Ok(())
    }

    /// Ledger bytes per connected call, over `n` calls connected at once
    /// (after [`DRAIN`] more): (call blocks, everything else).
    fn per_call(&mut self, n: u32) -> Result<(f64, f64), Failure> {
        let mut vcs = Vec::new();
        for i in 0..DRAIN + n {
            let vc = self
                .emu
                .create_vc(self.caller_af)
                .map_err(|s| format!("caller VC #{i}: {s:#x}"))?;
            vcs.push(vc);
        }
        let (first, measured) = vcs.split_at(DRAIN as usize);
        for &vc in first {
            check("make call", self.emu.make_call(vc, &self.spec), NDIS_STATUS_SUCCESS)?;
        }
        let before = self.ledger_tags();
        for &vc in measured {
            check("make call", self.emu.make_call(vc, &self.spec), NDIS_STATUS_SUCCESS)?;
            if self.emu.vc_state(vc) != Some((CallState::Connected, true)) {
                return Err("a held call did not connect".into());
            }
        }
        let grew = growth(&before, &self.ledger_tags())?;
        for &vc in &vcs {
            check("close a held call", self.emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS)?;
            check("delete a held call's VC", self.emu.delete_vc(vc), NDIS_STATUS_SUCCESS)?;
        }
        let n = f64::from(n);
        let blocks = grew.tag(TAG_CALL) / n;
        Ok((blocks, grew.all() / n - blocks))
    }

    /// Bytes per party of a multipoint call with [`PARTIES`] parties
    /// (measured over those after the first [`DRAIN`]), or why there is no
    /// such figure.
    fn per_party(&mut self) -> Result<Result<PartyBytes, String>, Failure> {
        let vc = self
            .emu
            .create_vc(self.caller_af)
            .map_err(|s| format!("create VC: {s:#x}"))?;
        let (status, party) = self.emu.make_multipoint_call(vc, &self.spec);
        if status != NDIS_STATUS_SUCCESS || party.is_none() {
            check("delete VC", self.emu.delete_vc(vc), NDIS_STATUS_SUCCESS)?;
            return Ok(Err(format!("n/a (multipoint make call: {status:#010x})")));
        }
        let mut before = BTreeMap::new();
        for i in 1..PARTIES {
            if i == DRAIN {
                before = self.ledger_tags();
            }
            let (status, _) = self.emu.add_party(vc, &self.spec);
            if status != NDIS_STATUS_SUCCESS {
                let _ = self.emu.close_call(vc, &[]);
                let _ = self.emu.delete_vc(vc);
                return Ok(Err(format!("n/a (add party #{i}: {status:#010x})")));
            }
        }
        let grew = growth(&before, &self.ledger_tags())?;
        check(
            "close the multipoint call",
            self.emu.close_call(vc, &[]),
            NDIS_STATUS_SUCCESS,
        )?;
        check("delete VC", self.emu.delete_vc(vc), NDIS_STATUS_SUCCESS)?;
        let n = f64::from(PARTIES - DRAIN);
        let (leaf_vc, leaf_call) = (grew.tag(TAG_VC) / n, grew.tag(TAG_CALL) / n);
        let table = |bytes: usize| {
            if self.which == Which::Covmini {
                bytes as f64
            } else {
                0.0
            }
        };
        Ok(Ok(PartyBytes {
            own: grew.all() / n - leaf_vc - leaf_call,
            slot: table(PARTY_TABLE_BYTES_PER_PARTY),
            leaf_vc,
            leaf_table: table(VC_TABLE_BYTES_PER_VC),
            leaf_call,
        }))
    }

    /// Halts, unloads, and fails on any violation or leak.
    fn finish(mut self) -> Result<(), Failure> {
        self.emu.halt_adapter().map_err(|e| format!("halt: {e}"))?;
        self.emu.unload().map_err(|e| format!("unload: {e}"))?;
        let report = self.emu.finish();
        if report.is_clean() {
            Ok(())
        } else {
            let first = report.violations.first().map(ToString::to_string).unwrap_or_default();
            Err(format!(
                "{} violation(s) or leak(s); the first: {first}",
                report.violations.len()
            ))
        }
    }
}

/// The ledger's growth from `before` to `after`: all tags, and by tag. The
/// readings bracket creations only, so a tag that shrank means the
/// measurement is wrong: that is a failure.
fn growth(before: &BTreeMap<ULONG, usize>, after: &BTreeMap<ULONG, usize>) -> Result<Growth, Failure> {
    let mut by = BTreeMap::new();
    for (tag, was) in before {
        let now = after.get(tag).copied().unwrap_or(0);
        let grew = now
            .checked_sub(*was)
            .ok_or_else(|| format!("tag {:?} shrank during a memory reading", tag.to_le_bytes()))?;
        by.insert(*tag, grew);
    }
    for (tag, now) in after {
        by.entry(*tag).or_insert(*now);
    }
    Ok(Growth(by))
}

/// Ledger growth by tag.
struct Growth(BTreeMap<ULONG, usize>);

impl Growth {
    fn all(&self) -> f64 {
        self.0.values().sum::<usize>() as f64
    }
    fn tag(&self, tag: ULONG) -> f64 {
        self.0.get(&tag).copied().unwrap_or(0) as f64
    }
}

/// Seconds per operation: the fastest of `reps` runs of `n` operations.
fn best_of(reps: u32, n: u32, mut op: impl FnMut() -> Result<(), Failure>) -> Result<f64, Failure> {
    let mut best = f64::INFINITY;
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        for _ in 0..n {
            op()?;
        }
        best = best.min(start.elapsed().as_secs_f64() / f64::from(n.max(1)));
    }
    Ok(best)
}

/// Everything for one driver, in one session.
fn measure(which: Which, c: Counts) -> Result<Figures, Failure> {
    let mut s = Session::start(which)?;
    let call_s = s.time_calls(c.calls, c.reps)?;
    // After the timed calls: the lookaside caches are in their steady state.
    let mut ndis_calls = [Calls::new(), Calls::new(), Calls::new()];
    ndis_calls[0] = s.count_calls(CALLS_COUNTED, Session::call)?;
    let vc = s.connect()?;
    let mut nbl_s = [0.0; 2];
    for (i, size) in SIZES.into_iter().enumerate() {
        nbl_s[i] = s.time_nbls(vc, size, c.nbls, c.reps)?;
        let payload = vec![0xA5u8; size];
        ndis_calls[i + 1] = s.count_calls(CALLS_COUNTED, |s| s.send(vc, &payload))?;
    }
    let (copied, audited) = s.audit_copies(vc, c.audit_nbls)?;
    check("close the data call", s.emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS)?;
    check("delete the data VC", s.emu.delete_vc(vc), NDIS_STATUS_SUCCESS)?;
    let before = s.ledger_bytes();
    let mut level_s = [0.0; 3];
    for (t, level) in level_s.iter_mut().zip(c.levels) {
        s.hold_background(level)?;
        *t = s.time_calls(c.level_calls, c.reps)?;
    }
    let held = c.levels[2].max(1);
    let ledger_per_vc = (s.ledger_bytes() as f64 - before as f64) / f64::from(held);
    let table_per_vc = match which {
        Which::Covmini => VC_TABLE_BYTES_PER_VC as f64,
        Which::Baseline => 0.0,
    };
    let (call_blocks, call_other) = s.per_call(c.calls_held)?;
    let per_party = s.per_party()?;
    s.finish()?;
    Ok(Figures {
        call_s,
        nbl_s,
        copied,
        audited,
        level_s,
        ledger_per_vc,
        table_per_vc,
        call_blocks,
        call_other,
        per_party,
        ndis_calls,
    })
}

/// Runs the sessions: covmini, baseline, covmini, baseline, ... for
/// `counts.rounds` rounds, keeping each driver's best figures. The first
/// session of a process runs on a cold heap (fresh pages for the emulator's
/// growing trace, ledger and tables) and measured up to twice as slow,
/// whichever driver it ran; alternating gives each driver warm runs.
fn rounds(counts: Counts) -> Result<(Figures, Figures), Failure> {
    let mut covmini = measure(Which::Covmini, counts)?;
    let mut baseline = measure(Which::Baseline, counts)?;
    for _ in 1..counts.rounds {
        covmini.keep_best(measure(Which::Covmini, counts)?);
        baseline.keep_best(measure(Which::Baseline, counts)?);
    }
    Ok((covmini, baseline))
}

impl Figures {
    /// The faster of each timing; of the copy counts the larger (any copy
    /// in any session shows); the memory figures do not depend on timing,
    /// the latest is kept.
    fn keep_best(&mut self, other: Self) {
        self.call_s = self.call_s.min(other.call_s);
        for (a, b) in self.nbl_s.iter_mut().zip(other.nbl_s) {
            *a = a.min(b);
        }
        for (a, b) in self.level_s.iter_mut().zip(other.level_s) {
            *a = a.min(b);
        }
        self.copied = self.copied.max(other.copied);
        self.audited = other.audited;
        self.ledger_per_vc = other.ledger_per_vc;
        self.table_per_vc = other.table_per_vc;
        self.call_blocks = other.call_blocks;
        self.call_other = other.call_other;
        self.per_party = other.per_party;
        self.ndis_calls = other.ndis_calls;
    }
}

/// `covmini-lab bench`.
pub fn main(args: &Args) -> std::process::ExitCode {
    if let Some(path) = args.callgrind_path {
        return match run_path(args.driver, path, args.iterations, args.background) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("covmini-lab bench: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let counts = if args.quick { QUICK } else { FULL };
    match rounds(counts) {
        Ok((covmini, baseline)) => {
            let r = Results {
                covmini,
                baseline,
                counts,
                quick: args.quick,
            };
            crate::out::print(&if args.json { r.json() } else { r.table() });
            let missed = r.missed();
            if missed.is_empty() {
                std::process::ExitCode::SUCCESS
            } else {
                let names: Vec<String> = missed.iter().map(|t| t.name()).collect();
                eprintln!(
                    "covmini-lab bench: {} target(s) missed: {}",
                    missed.len(),
                    names.join(", ")
                );
                std::process::ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("covmini-lab bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `--callgrind-path`: the session set up (with `background` VCs held),
/// then `n` runs of one path.
fn run_path(which: Which, path: Path, n: u32, background: u32) -> Result<(), Failure> {
    let mut s = Session::start(which)?;
    s.hold_background(background)?;
    match path {
        Path::Call => {
            s.call()?;
            for _ in 0..n {
                s.call()?;
            }
        }
        Path::Nbl64 | Path::Nbl1500 => {
            let size = if path == Path::Nbl64 { 64 } else { 1500 };
            let vc = s.connect()?;
            let payload = vec![0xA5u8; size];
            s.send(vc, &payload)?;
            for _ in 0..n {
                s.send(vc, &payload)?;
            }
            check("close the data call", s.emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS)?;
            check("delete the data VC", s.emu.delete_vc(vc), NDIS_STATUS_SUCCESS)?;
        }
    }
    s.finish()
}

// --- Reporting -------------------------------------------------------------------

/// The targets (#6 item 4).
const CALL_TARGET: f64 = 1.5;
const NBL_TARGET: f64 = 1.2;
const SCALING_TARGET: f64 = 1.25;
const VC_BYTES_TARGET: f64 = 256.0;
const PARTY_BYTES_TARGET: f64 = 128.0;

struct Results {
    covmini: Figures,
    baseline: Figures,
    counts: Counts,
    /// `--quick`: the timing targets are shown but not checked.
    quick: bool,
}

/// A target the bench checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// Wall clock per call ≤ [`CALL_TARGET`] × the baseline's.
    PerCall,
    /// Wall clock per NBL ≤ [`NBL_TARGET`] × the baseline's, by [`SIZES`].
    PerNbl(usize),
    /// Zero payload bytes copied (the receive audit).
    Copies,
    /// Wall clock per call with the most live VCs ≤ [`SCALING_TARGET`] ×
    /// with none.
    Scaling,
    /// Nonpaged bytes per idle VC ≤ [`VC_BYTES_TARGET`].
    VcBytes,
    /// A party's own nonpaged bytes ≤ [`PARTY_BYTES_TARGET`].
    PartyBytes,
    /// The operation's NDIS calls (everything but lookaside traffic and
    /// spin locks) are the baseline's, import by import: per call (0) and
    /// per NBL by [`SIZES`] (1, 2).
    NdisCalls(usize),
}

impl Target {
    const ALL: [Self; 10] = [
        Self::PerCall,
        Self::PerNbl(0),
        Self::PerNbl(1),
        Self::Copies,
        Self::Scaling,
        Self::VcBytes,
        Self::PartyBytes,
        Self::NdisCalls(0),
        Self::NdisCalls(1),
        Self::NdisCalls(2),
    ];

    /// The target's name in `--json` and the exit message.
    fn name(self) -> String {
        match self {
            Self::PerCall => "per_call".into(),
            Self::PerNbl(i) => format!("per_nbl_{}", SIZES.get(i).copied().unwrap_or(0)),
            Self::Copies => "payload_bytes_copied".into(),
            Self::Scaling => "scaling".into(),
            Self::VcBytes => "bytes_per_vc".into(),
            Self::PartyBytes => "bytes_per_party".into(),
            Self::NdisCalls(0) => "ndis_calls_per_call".into(),
            Self::NdisCalls(i) => format!("ndis_calls_per_nbl_{}", SIZES.get(i - 1).copied().unwrap_or(0)),
        }
    }

    /// A wall-clock target: noise at `--quick`'s counts, so checked only in
    /// a full run. The others are counts and ledger bytes, the same at any
    /// count, and always checked.
    fn is_timing(self) -> bool {
        match self {
            Self::PerCall | Self::PerNbl(_) | Self::Scaling => true,
            Self::Copies | Self::VcBytes | Self::PartyBytes | Self::NdisCalls(_) => false,
        }
    }
}

/// Import by import, the NDIS calls (not lookaside traffic, spin locks or
/// the flight recorder's stamps)
/// where covmini and the baseline differ: (import, covmini, baseline).
fn ndis_call_differences(covmini: &Calls, baseline: &Calls) -> Vec<(&'static str, f64, f64)> {
    let mut names: Vec<&'static str> = covmini.keys().chain(baseline.keys()).copied().collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .filter(|name| CallKind::of(name) == CallKind::Ndis)
        .filter_map(|name| {
            let (c, b) = (
                covmini.get(name).copied().unwrap_or(0.0),
                baseline.get(name).copied().unwrap_or(0.0),
            );
            (c != b).then_some((name, c, b))
        })
        .collect()
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

fn level_name(n: u32) -> String {
    match n {
        0 => "1".into(),
        n if n % 1000 == 0 => format!("{}k", n / 1000),
        n => n.to_string(),
    }
}

impl Results {
    /// Whether covmini meets `t` (a missing figure is a miss).
    fn met(&self, t: Target) -> bool {
        match t {
            Target::PerCall => self.call_ratio() <= CALL_TARGET,
            Target::PerNbl(i) => self.nbl_ratio(i) <= NBL_TARGET,
            Target::Copies => self.covmini.copied == 0 && self.covmini.audited > 0,
            Target::Scaling => self.scaling(&self.covmini) <= SCALING_TARGET,
            Target::VcBytes => self.vc_bytes() <= VC_BYTES_TARGET,
            Target::PartyBytes => self
                .covmini
                .per_party
                .as_ref()
                .is_ok_and(|p| p.party() <= PARTY_BYTES_TARGET),
            Target::NdisCalls(i) => self
                .covmini
                .ndis_calls
                .get(i)
                .zip(self.baseline.ndis_calls.get(i))
                .is_some_and(|(c, b)| !c.is_empty() && ndis_call_differences(c, b).is_empty()),
        }
    }

    /// Whether this run checks `t`: every target in a full run; in
    /// `--quick`, all but the wall-clock ones.
    fn checks(&self, t: Target) -> bool {
        !(self.quick && t.is_timing())
    }

    /// The targets this run checks and covmini missed.
    fn missed(&self) -> Vec<Target> {
        Target::ALL
            .into_iter()
            .filter(|&t| self.checks(t) && !self.met(t))
            .collect()
    }

    /// The verdict cell of `t`'s row: `LIMIT: met` or `LIMIT: MISSED`, and
    /// whether this run checks it.
    fn verdict(&self, t: Target, limit: &str) -> String {
        let v = verdict(self.met(t));
        if self.checks(t) {
            format!("{limit}: {v}")
        } else {
            format!("{limit}: {v} (timing: not checked in --quick)")
        }
    }

    fn call_ratio(&self) -> f64 {
        self.covmini.call_s / self.baseline.call_s
    }
    fn nbl_ratio(&self, i: usize) -> f64 {
        self.covmini.nbl_s[i] / self.baseline.nbl_s[i]
    }
    fn scaling(&self, f: &Figures) -> f64 {
        f.level_s[2] / f.level_s[0]
    }
    fn vc_bytes(&self) -> f64 {
        self.covmini.ledger_per_vc + self.covmini.table_per_vc
    }

    fn table(&self) -> String {
        let (c, b) = (&self.covmini, &self.baseline);
        let mut o = String::new();
        let _ = writeln!(
            o,
            "covmini-lab bench: covmini (host build) vs the empty MCM, each in its own ndis-emu session"
        );
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "{:<36} {:>14} {:>14} {:>8}   target",
            "measure", "covmini", "baseline", "ratio"
        );
        let row = |o: &mut String, name: &str, cv: String, bv: String, ratio: String, target: String| {
            let _ = writeln!(o, "{name:<36} {cv:>14} {bv:>14} {ratio:>8}   {target}");
        };
        let per_call = self.call_ratio();
        row(
            &mut o,
            "calls/s (setup + teardown)",
            format!("{:.0}", 1.0 / c.call_s),
            format!("{:.0}", 1.0 / b.call_s),
            String::new(),
            String::new(),
        );
        row(
            &mut o,
            "per call (us)",
            format!("{:.2}", c.call_s * 1e6),
            format!("{:.2}", b.call_s * 1e6),
            format!("{per_call:.2}x"),
            self.verdict(Target::PerCall, &format!("<= {CALL_TARGET}x")),
        );
        for (i, size) in SIZES.into_iter().enumerate() {
            let ratio = self.nbl_ratio(i);
            row(
                &mut o,
                &format!("NBLs/s, {size} B"),
                format!("{:.0}", 1.0 / c.nbl_s[i]),
                format!("{:.0}", 1.0 / b.nbl_s[i]),
                String::new(),
                String::new(),
            );
            row(
                &mut o,
                &format!("bytes/s, {size} B"),
                format!("{:.3e}", size as f64 / c.nbl_s[i]),
                format!("{:.3e}", size as f64 / b.nbl_s[i]),
                String::new(),
                String::new(),
            );
            row(
                &mut o,
                &format!("per NBL, {size} B (us)"),
                format!("{:.2}", c.nbl_s[i] * 1e6),
                format!("{:.2}", b.nbl_s[i] * 1e6),
                format!("{ratio:.2}x"),
                self.verdict(Target::PerNbl(i), &format!("<= {NBL_TARGET}x")),
            );
        }
        row(
            &mut o,
            "payload bytes copied",
            format!("{} of {}", c.copied, c.audited),
            format!("{} of {}", b.copied, b.audited),
            String::new(),
            self.verdict(Target::Copies, "0"),
        );
        for (i, level) in self.counts.levels.into_iter().enumerate() {
            row(
                &mut o,
                &format!(
                    "per call, {} live VC{} (us)",
                    level_name(level),
                    if level == 0 { "" } else { "s" }
                ),
                format!("{:.2}", c.level_s[i] * 1e6),
                format!("{:.2}", b.level_s[i] * 1e6),
                String::new(),
                String::new(),
            );
        }
        let (cs, bs) = (self.scaling(c), self.scaling(b));
        row(
            &mut o,
            &format!(
                "setup cost {} / {} live VC",
                level_name(self.counts.levels[2]),
                level_name(self.counts.levels[0])
            ),
            format!("{cs:.2}x"),
            format!("{bs:.2}x"),
            String::new(),
            self.verdict(Target::Scaling, &format!("<= {SCALING_TARGET}x")),
        );
        row(
            &mut o,
            "nonpaged bytes per VC",
            format!("{:.0}", self.vc_bytes()),
            format!("{:.0}", b.ledger_per_vc),
            String::new(),
            self.verdict(Target::VcBytes, &format!("<= {VC_BYTES_TARGET}")),
        );
        row(
            &mut o,
            "  of which contexts (ledger)",
            format!("{:.0}", c.ledger_per_vc),
            format!("{:.0}", b.ledger_per_vc),
            String::new(),
            String::new(),
        );
        row(
            &mut o,
            "  of which VC table (CvmT)",
            format!("{:.0}", c.table_per_vc),
            "-".into(),
            String::new(),
            String::new(),
        );
        row(
            &mut o,
            "nonpaged bytes per call (CvmC)",
            format!("{:.0}", c.call_blocks),
            format!("{:.0}", b.call_blocks),
            String::new(),
            String::new(),
        );
        row(
            &mut o,
            "  + the callee's VC (a VC, above)",
            format!("{:.0}", c.call_other + c.table_per_vc),
            format!("{:.0}", b.call_other),
            String::new(),
            String::new(),
        );
        match &c.per_party {
            Ok(p) => {
                row(
                    &mut o,
                    "nonpaged bytes per party",
                    format!("{:.0}", p.party()),
                    "-".into(),
                    String::new(),
                    self.verdict(Target::PartyBytes, &format!("<= {PARTY_BYTES_TARGET}")),
                );
                for (name, v) in [
                    ("  of which party context (CvmP)", p.own),
                    ("  of which party table slot", p.slot),
                    ("  + its leaf's VC (a VC, above)", p.leaf_vc + p.leaf_table),
                    ("  + its leaf's call block (CvmC)", p.leaf_call),
                ] {
                    row(
                        &mut o,
                        name,
                        format!("{v:.0}"),
                        "-".into(),
                        String::new(),
                        String::new(),
                    );
                }
            }
            Err(why) => {
                let _ = writeln!(
                    o,
                    "{:<36} {why}   <= {PARTY_BYTES_TARGET}: not measured",
                    "nonpaged bytes per party"
                );
            }
        }
        let _ = writeln!(o);
        self.ndis_calls_table(&mut o);
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "calls: {} per run; NBLs: {} per size per run; best of {} runs in each of {} sessions per driver \
             (alternating); copies audited over {} NBLs per size; scaling: {} calls per level; memory per \
             call over {} calls held, per party over {} parties",
            self.counts.calls,
            self.counts.nbls,
            self.counts.reps,
            self.counts.rounds,
            self.counts.audit_nbls,
            self.counts.level_calls,
            self.counts.calls_held,
            PARTIES - DRAIN
        );
        let _ = writeln!(
            o,
            "both sessions: zero violations, zero leaks. Wall-clock figures drift on shared machines; \
             scripts/bench-callgrind.sh counts instructions."
        );
        o
    }

    /// The NDIS calls per operation: each import either driver called, the
    /// totals by kind, and the target (the operation's NDIS calls are the
    /// baseline's; covmini's beyond them are lookaside traffic and spin
    /// locks).
    fn ndis_calls_table(&self, o: &mut String) {
        let (c, b) = (&self.covmini.ndis_calls, &self.baseline.ndis_calls);
        let _ = writeln!(
            o,
            "NDIS calls per operation (the driver's calls into NDIS and the kernel, counted by ndis-emu)"
        );
        let _ = writeln!(
            o,
            "{:<40} {:>19} {:>19} {:>19}",
            "import", "per call", "per NBL, 64 B", "per NBL, 1500 B"
        );
        let _ = writeln!(
            o,
            "{:<40} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "", "covmini", "baseline", "covmini", "baseline", "covmini", "baseline"
        );
        let mut names: Vec<&'static str> = c.iter().chain(b.iter()).flat_map(|m| m.keys().copied()).collect();
        names.sort_by_key(|n| (CallKind::of(n), *n));
        names.dedup();
        let cell = |m: &Calls, name: &str| m.get(name).copied().unwrap_or(0.0);
        let row = |o: &mut String, name: &str, v: [f64; 6]| {
            let _ = writeln!(
                o,
                "{name:<40} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                count(v[0]),
                count(v[1]),
                count(v[2]),
                count(v[3]),
                count(v[4]),
                count(v[5])
            );
        };
        for name in names {
            let v = [
                cell(&c[0], name),
                cell(&b[0], name),
                cell(&c[1], name),
                cell(&b[1], name),
                cell(&c[2], name),
                cell(&b[2], name),
            ];
            row(o, &format!("  {name}"), v);
        }
        for kind in [
            CallKind::Ndis,
            CallKind::Lookaside,
            CallKind::SpinLock,
            CallKind::Recorder,
        ] {
            let v = [
                of_kind(&c[0], kind),
                of_kind(&b[0], kind),
                of_kind(&c[1], kind),
                of_kind(&b[1], kind),
                of_kind(&c[2], kind),
                of_kind(&b[2], kind),
            ];
            row(o, kind.name(), v);
        }
        let total = |m: &Calls| m.values().sum::<f64>();
        row(
            o,
            "all",
            [
                total(&c[0]),
                total(&b[0]),
                total(&c[1]),
                total(&b[1]),
                total(&c[2]),
                total(&b[2]),
            ],
        );
        for (i, what) in ["per call", "per NBL, 64 B", "per NBL, 1500 B"].into_iter().enumerate() {
            let diff = c
                .get(i)
                .zip(b.get(i))
                .map(|(c, b)| ndis_call_differences(c, b))
                .unwrap_or_default();
            let detail: Vec<String> = diff
                .iter()
                .map(|(name, c, b)| format!("{name} {} vs {}", count(*c), count(*b)))
                .collect();
            let _ = writeln!(
                o,
                "{:<40} {}{}",
                format!("NDIS calls {what}"),
                self.verdict(Target::NdisCalls(i), "= the baseline's + lookaside, locks, stamps"),
                if detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", detail.join(", "))
                }
            );
        }
    }

    fn json(&self) -> String {
        fn figures(f: &Figures, levels: [u32; 3]) -> String {
            let party = match &f.per_party {
                Ok(p) => format!(
                    "{:.1}, \"party_context_bytes\": {:.1}, \"party_table_bytes\": {:.1}, \
                     \"party_leaf_vc_bytes\": {:.1}, \"party_leaf_call_block_bytes\": {:.1}",
                    p.party(),
                    p.own,
                    p.slot,
                    p.leaf_vc + p.leaf_table,
                    p.leaf_call
                ),
                Err(why) => format!("null, \"per_party_note\": {}", json_str(why)),
            };
            let levels: Vec<String> = levels
                .iter()
                .zip(f.level_s)
                .map(|(l, s)| format!("{{\"background_vcs\": {l}, \"per_call_us\": {:.3}}}", s * 1e6))
                .collect();
            format!(
                "{{\"calls_per_s\": {:.1}, \"per_call_us\": {:.3}, \
                 \"data\": [{{\"payload\": 64, \"nbls_per_s\": {:.1}, \"bytes_per_s\": {:.1}, \"per_nbl_us\": {:.3}}}, \
                 {{\"payload\": 1500, \"nbls_per_s\": {:.1}, \"bytes_per_s\": {:.1}, \"per_nbl_us\": {:.3}}}], \
                 \"payload_bytes_copied\": {}, \"payload_bytes_audited\": {}, \"scaling\": [{}], \
                 \"nonpaged_bytes_per_vc\": {:.1}, \"ledger_bytes_per_vc\": {:.1}, \"table_bytes_per_vc\": {:.1}, \
                 \"nonpaged_bytes_per_call\": {:.1}, \"callee_vc_ledger_bytes_per_call\": {:.1}, \
                 \"nonpaged_bytes_per_party\": {party}, \"ndis_calls\": {}}}",
                1.0 / f.call_s,
                f.call_s * 1e6,
                1.0 / f.nbl_s[0],
                64.0 / f.nbl_s[0],
                f.nbl_s[0] * 1e6,
                1.0 / f.nbl_s[1],
                1500.0 / f.nbl_s[1],
                f.nbl_s[1] * 1e6,
                f.copied,
                f.audited,
                levels.join(", "),
                f.ledger_per_vc + f.table_per_vc,
                f.ledger_per_vc,
                f.table_per_vc,
                f.call_blocks,
                f.call_other,
                ndis_calls_json(&f.ndis_calls),
            )
        }
        let levels = self.counts.levels;
        format!(
            "{{\"covmini\": {}, \"baseline\": {}, \"ratios\": {{\"per_call\": {:.3}, \"per_nbl_64\": {:.3}, \
             \"per_nbl_1500\": {:.3}, \"scaling_covmini\": {:.3}, \"scaling_baseline\": {:.3}}}, \
             \"targets\": {{\"per_call\": {CALL_TARGET}, \"per_nbl\": {NBL_TARGET}, \"payload_bytes_copied\": 0, \
             \"scaling\": {SCALING_TARGET}, \"bytes_per_vc\": {VC_BYTES_TARGET}, \"bytes_per_party\": {PARTY_BYTES_TARGET}}}, \
             \"verdicts\": [{}], \
             \"counts\": {{\"calls\": {}, \"nbls\": {}, \"audit_nbls\": {}, \"levels\": [{}, {}, {}], \"level_calls\": {}, \
             \"calls_held\": {}, \"parties\": {}, \"reps\": {}, \"rounds\": {}}}}}\n",
            figures(&self.covmini, levels),
            figures(&self.baseline, levels),
            self.call_ratio(),
            self.nbl_ratio(0),
            self.nbl_ratio(1),
            self.scaling(&self.covmini),
            self.scaling(&self.baseline),
            self.verdicts_json(),
            self.counts.calls,
            self.counts.nbls,
            self.counts.audit_nbls,
            levels[0],
            levels[1],
            levels[2],
            self.counts.level_calls,
            self.counts.calls_held,
            PARTIES - DRAIN,
            self.counts.reps,
            self.counts.rounds,
        )
    }
}

impl Results {
    /// Each target: its name, whether covmini met it, whether this run
    /// checks it (the exit status counts only those).
    fn verdicts_json(&self) -> String {
        Target::ALL
            .into_iter()
            .map(|t| {
                format!(
                    "{{\"target\": {}, \"met\": {}, \"checked\": {}}}",
                    json_str(&t.name()),
                    self.met(t),
                    self.checks(t)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The NDIS calls per operation as JSON: `{"call": {import: n}, "nbl_64":
/// ..., "nbl_1500": ...}`.
fn ndis_calls_json(calls: &[Calls; 3]) -> String {
    let op = |m: &Calls| {
        let fields: Vec<String> = m.iter().map(|(k, v)| format!("{}: {v}", json_str(k))).collect();
        format!("{{{}}}", fields.join(", "))
    };
    format!(
        "{{\"call\": {}, \"nbl_64\": {}, \"nbl_1500\": {}}}",
        op(&calls[0]),
        op(&calls[1]),
        op(&calls[2])
    )
}

/// A count per operation: an integer as one, a fraction with 2 decimals.
fn count(n: f64) -> String {
    if n == 0.0 {
        // Also -0.0, the sum of no values.
        "0".into()
    } else if n.fract() == 0.0 {
        format!("{n:.0}")
    } else {
        format!("{n:.2}")
    }
}

/// A JSON string literal.
fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", u32::from(c));
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

#[cfg(test)]
mod tests;

//! The runner: proptest-state-machine's reference machine (the model and
//! its generator), the system under test (covmini under ndis-emu, through
//! the executor), the step-by-step comparison, the coverage counts, and a
//! seeded, budgeted run.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use ndis_emu::Emulator;
use ndis_sys::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};

use super::common;
use super::gen_;
use super::ops::{Addr, Exec, Gen, Ind, Observed, Op, Status, Step, status_name};
use super::reference::{Expect, Model};

/// How much to run.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Steps to run at least (whole sequences).
    pub steps: usize,
    /// The longest sequence (each ends with a halt).
    pub max_len: usize,
}

impl Budget {
    /// CI's fixed budget: a few seconds on the host build, a twentieth
    /// (never zero) under valgrind.
    #[must_use]
    pub fn ci() -> Self {
        let valgrind = std::env::var_os("COVMINI_UNDER_VALGRIND").is_some_and(|v| v == "1");
        let steps = if valgrind { 150 } else { 3_000 };
        Self { steps, max_len: 60 }
    }
}

/// The seed: `MODEL_SEED` when set, else `default`.
#[must_use]
pub fn seed_from_env(default: u64) -> u64 {
    std::env::var("MODEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

// --- Coverage -----------------------------------------------------------------

/// Per operation kind: how often it ran and what came of it.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    /// Generated and run (a step with nothing to pick is not).
    pub attempted: u64,
    /// SUCCESS, or done (a send: something was delivered).
    pub succeeded: u64,
    /// PENDING (completed later).
    pub pended: u64,
    /// Refused, by status.
    pub refused: BTreeMap<String, u64>,
}

thread_local! {
    /// The current run's counts and steps (one run per thread at a time).
    static COVERAGE: RefCell<(BTreeMap<&'static str, Counts>, usize)> = RefCell::new(Default::default());
}

/// The kind of an op, for the table.
#[must_use]
pub fn kind<R, N>(op: &Op<R, N>) -> &'static str {
    match op {
        Op::SetReply { .. } => "set reply",
        Op::SetNotifyClose { .. } => "set notify-close answer",
        Op::Hold { .. } => "hold receives",
        Op::ReturnHeld { .. } => "return held receives",
        Op::OpenAf { .. } => "open AF",
        Op::CloseAf { .. } => "close AF",
        Op::RegisterSap { .. } => "register SAP",
        Op::DeregisterSap { .. } => "deregister SAP",
        Op::CreateVc { .. } => "create VC",
        Op::DeleteVc { .. } => "delete VC",
        Op::MakeCall {
            multipoint: Some(_), ..
        } => "make call (multipoint)",
        Op::MakeCall { to: Addr::Echo, .. } => "make call (echo)",
        Op::MakeCall { .. } => "make call",
        Op::AnswerIncoming { .. } => "answer incoming call",
        Op::CloseCall { .. } => "close call",
        Op::AddParty { .. } => "add party",
        Op::DropParty { .. } => "drop party",
        Op::ModifyQos { .. } => "modify QoS",
        Op::Send { .. } => "send",
        Op::CancelSends { .. } => "cancel sends",
        Op::OidQuery { .. } => "OID query",
        Op::OidSet { .. } => "OID set",
        Op::Pause => "pause",
        Op::Restart => "restart",
        Op::PnpEvent { .. } => "PnP event",
    }
}

fn count(step: &Step, seen: &Observed, sender: Option<usize>) {
    COVERAGE.with(|c| {
        let mut c = c.borrow_mut();
        c.1 += 1;
        let e = c.0.entry(kind(step)).or_default();
        e.attempted += 1;
        let outcome = match (step, seen.status) {
            (Op::Send { .. }, _) => {
                let results = sender.map(|s| seen.send_results[s].clone()).unwrap_or_default();
                let delivered = seen.received.iter().any(|r| !r.is_empty());
                if delivered {
                    Ok(false)
                } else {
                    Err(results.first().map_or("held".to_string(), |s| status_name(*s)))
                }
            }
            (_, Some(Status::Ndis(NDIS_STATUS_SUCCESS) | Status::Done)) => Ok(false),
            (_, Some(Status::Ndis(NDIS_STATUS_PENDING))) => Ok(true),
            (_, Some(s)) => Err(s.to_string()),
            (_, None) => Err("?".into()),
        };
        match outcome {
            Ok(false) => e.succeeded += 1,
            Ok(true) => e.pended += 1,
            Err(why) => *e.refused.entry(why).or_default() += 1,
        }
    });
}

/// The counts so far and the steps, and starts over.
fn take_coverage() -> (BTreeMap<&'static str, Counts>, usize) {
    COVERAGE.with(|c| std::mem::take(&mut *c.borrow_mut()))
}

// --- The machines -------------------------------------------------------------

/// The reference machine: the model and its generator.
pub struct Reference;

impl ReferenceStateMachine for Reference {
    type State = Model;
    type Transition = Gen;

    fn init_state() -> BoxedStrategy<Model> {
        (2..=4usize).prop_map(Model::new).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Gen> {
        gen_::transitions(state)
    }

    fn apply(mut state: Model, transition: &Gen) -> Model {
        state.last = state.resolve(transition).map(|step| {
            let expect = state.apply(&step);
            (step, expect)
        });
        state
    }
}

/// covmini under ndis-emu, the executor, and the steps so far (readable).
pub struct Sut {
    emu: Emulator,
    exec: Exec,
    history: Vec<String>,
}

/// The system under test.
pub struct Covmini;

fn sorted<T: Ord + Clone>(v: &[T]) -> Vec<T> {
    let mut v = v.to_vec();
    v.sort();
    v
}

/// What differs between an expectation and an observation, if anything.
fn differences(exec: &Exec, expect: &Expect, seen: &Observed) -> Vec<String> {
    let mut out = Vec::new();
    if expect.status != seen.status {
        out.push(format!(
            "status: the model says {}, covmini returned {}",
            expect.status.map_or("-".into(), |s| s.to_string()),
            seen.status.map_or("-".into(), |s| s.to_string())
        ));
    }
    let set = |v: &Option<Vec<Vec<u8>>>| v.as_ref().map(|l| sorted(l));
    if set(&expect.addresses) != set(&seen.addresses) {
        let t = |v: &Option<Vec<Vec<u8>>>| {
            v.as_ref().map(|l| {
                l.iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>()
            })
        };
        out.push(format!(
            "OID_CO_GET_ADDRESSES: the model says {:?}, covmini listed {:?}",
            t(&expect.addresses),
            t(&seen.addresses)
        ));
    }
    if let Some(changed) = expect.params_changed
        && seen.params_changed != Some(changed)
    {
        out.push(format!(
            "CALL_PARAMETERS_CHANGED: the model says {changed}, the client's parameters say {:?}",
            seen.params_changed
        ));
    }
    let name = |c: usize| super::ops::CLIENTS.get(c).copied().unwrap_or("client");
    for c in 0..exec.clients.len() {
        let (e, s) = (sorted(&expect.inds[c]), sorted(&seen.inds[c]));
        if e != s {
            let t = |v: &[Ind]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
            out.push(format!(
                "{}'s indications: the model says {:?}, covmini gave {:?}",
                name(c),
                t(&e),
                t(&s)
            ));
        }
        let (e, s) = (sorted(&expect.send_results[c]), sorted(&seen.send_results[c]));
        if e != s {
            let n = |v: &[NDIS_STATUS]| v.iter().map(|x| status_name(*x)).collect::<Vec<_>>();
            out.push(format!(
                "{}'s send completions: the model says {:?}, covmini gave {:?}",
                name(c),
                n(&e),
                n(&s)
            ));
        }
        let (e, s) = (sorted(&expect.received[c]), sorted(&seen.received[c]));
        if e != s {
            let t = |v: &[Vec<u8>]| {
                v.iter()
                    .map(|x| String::from_utf8_lossy(x).into_owned())
                    .collect::<Vec<_>>()
            };
            out.push(format!(
                "{}'s received payloads: the model says {:?}, covmini delivered {:?}",
                name(c),
                t(&e),
                t(&s)
            ));
        }
    }
    out
}

fn who(step: &Step, model: &Model) -> String {
    let owner = |c: usize| super::ops::CLIENTS.get(c).copied().unwrap_or("client").to_string();
    let of_vc = |v: &u32| model.vcs.get(v).map(|x| owner(x.client));
    let by = match step {
        Op::CloseAf { af } | Op::RegisterSap { af, .. } | Op::CreateVc { af, .. } => {
            model.afs.get(af).map(|a| owner(a.client))
        }
        Op::MakeCall { vc, .. }
        | Op::CloseCall { vc, .. }
        | Op::AddParty { vc, .. }
        | Op::ModifyQos { vc, .. }
        | Op::Send { vc, .. }
        | Op::AnswerIncoming { vc, .. }
        | Op::DeleteVc { vc } => of_vc(vc),
        _ => None,
    };
    by.map_or(String::new(), |b| format!("{b}: "))
}

impl StateMachineTest for Covmini {
    type SystemUnderTest = Sut;
    type Reference = Reference;

    fn init_test(model: &Model) -> Sut {
        let mut emu = Emulator::new();
        emu.load(common::driver::driver_entry()).expect("DriverEntry");
        emu.add_adapter().expect("adapter");
        let exec = Exec::new(&emu, model.clients.len());
        Sut {
            emu,
            exec,
            history: vec![format!(
                "{} clients: {:?}",
                model.clients.len(),
                &super::ops::CLIENTS[..model.clients.len()]
            )],
        }
    }

    fn apply(mut sut: Sut, model: &Model, _transition: Gen) -> Sut {
        if let Some((step, expect)) = &model.last {
            sut.check(step, expect, model);
        }
        sut
    }

    fn check_invariants(sut: &Sut, _model: &Model) {
        sut.check_violations();
    }

    fn teardown(sut: Sut, model: Model) {
        sut.halt_and_unload(&model);
    }
}

impl Sut {
    /// Runs `step`, counts it, and compares what happened with `expect`.
    fn check(&mut self, step: &Step, expect: &Expect, model: &Model) {
        // The sender (a send deletes nothing, so the model after it knows).
        let sender = match step {
            Op::Send { vc, .. } => self.exec.handle(*vc).and_then(|_| model.vcs.get(vc).map(|v| v.client)),
            _ => None,
        };
        let seen = self.exec.run(&self.emu, step);
        count(step, &seen, sender);
        self.history.push(format!(
            "{:>3}. {}{step}  => {}",
            self.history.len(),
            who(step, model),
            seen.status.map_or("-".into(), |s| s.to_string())
        ));
        let mut diffs = differences(&self.exec, expect, &seen);
        diffs.extend(self.vc_differences(model));
        if !diffs.is_empty() {
            panic!(
                "covmini differs from the model at the last step:\n{}\n  {}",
                self.history.join("\n"),
                diffs.join("\n  ")
            );
        }
    }

    /// NDIS's view of every VC the model knows (its call and active bit)
    /// against the model's: a VC carries a call, and is active, from its
    /// make call (or offer) until its close completes (Behaviour; a close
    /// pending for its data keeps it active until the data is back).
    fn vc_differences(&self, model: &Model) -> Vec<String> {
        use ndis_emu::CallState as N;

        use super::reference::Call;
        let mut out = Vec::new();
        for (id, v) in &model.vcs {
            let Some(h) = self.exec.handle(*id) else { continue };
            let seen = self.emu.vc_state(ndis_emu::Vc(h));
            let ok = matches!(
                (v.call, seen),
                (Call::Idle, Some((N::Idle | N::Closed, false)))
                    | (Call::Outgoing(_), Some((N::Outgoing, true)))
                    | (Call::Offered { .. }, Some((N::Offered, true)))
                    | (Call::Connected(_), Some((N::Connected, true)))
                    | (Call::Closing, Some((N::Closing, true)))
            );
            if !ok {
                out.push(format!("vc#{id}: the model says {:?}, NDIS sees {seen:?}", v.call));
            }
        }
        out
    }

    /// Zero violations so far.
    fn check_violations(&self) {
        let (_, violations) = self.emu.events_since(usize::MAX);
        if violations > 0 {
            let report = self.emu.report();
            panic!(
                "ndis-emu reports violations after:\n{}\n{report}",
                self.history.join("\n")
            );
        }
    }

    /// Halts and unloads: every open AF is notified, nothing is left.
    fn halt_and_unload(self, model: &Model) {
        let Sut {
            mut emu,
            mut exec,
            mut history,
        } = self;
        history.push(format!(
            "{:>3}. NDIS halts the adapter, then unloads the driver",
            history.len()
        ));
        let halted = exec.halt(&mut emu).expect("halt");
        // Every AF still open (not closing) is asked to close.
        for (af, a) in &model.afs {
            if !a.closing && !halted.inds[a.client].contains(&Ind::NotifyCloseAf { af: *af }) {
                panic!(
                    "at halt, af#{af} got no NdisMCmNotifyCloseAddressFamily:\n{}\n  indications: {:?}",
                    history.join("\n"),
                    halted.inds
                );
            }
        }
        let unread: Vec<&Ind> = halted
            .inds
            .iter()
            .flatten()
            .filter(|i| matches!(i, Ind::Unread(_)))
            .collect();
        emu.unload().expect("unload");
        let report = emu.finish();
        if !report.is_clean() || !unread.is_empty() {
            panic!(
                "after halt and unload:\n{}\n  unreadable indications: {unread:?}\n{report}",
                history.join("\n")
            );
        }
    }
}

// --- Running ------------------------------------------------------------------

/// What a run did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Steps run (shrinking excluded).
    pub steps: usize,
    /// Sequences run.
    pub cases: usize,
    /// Per operation kind.
    pub coverage: BTreeMap<&'static str, Counts>,
    /// The shrunk failure, readable, with the seed that replays it.
    pub failure: Option<String>,
}

impl Outcome {
    /// The coverage table.
    #[must_use]
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<26} {:>9} {:>9} {:>8} {:>9}  refused by status",
            "operation", "attempted", "succeeded", "pended", "refused"
        );
        for (k, c) in &self.coverage {
            let refused: u64 = c.refused.values().sum();
            let by: Vec<String> = c.refused.iter().map(|(s, n)| format!("{s} {n}")).collect();
            let _ = writeln!(
                s,
                "{k:<26} {:>9} {:>9} {:>8} {:>9}  {}",
                c.attempted,
                c.succeeded,
                c.pended,
                refused,
                by.join(", ")
            );
        }
        s
    }
}

fn rng(seed: u64, chunk: u64) -> TestRng {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&chunk.to_le_bytes());
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

/// Runs sequences from `seed` until `budget.steps` steps ran or one fails
/// (then shrunk). Deterministic: the same seed and budget run the same
/// sequences.
#[must_use]
pub fn run(seed: u64, budget: Budget) -> Outcome {
    let _ = take_coverage();
    let mut outcome = Outcome::default();
    // Chunks of up to 32 sequences, each from its own seed, sized so a
    // small budget (valgrind's) is not overrun by a whole chunk.
    let mut chunk = 0u64;
    while outcome.steps < budget.steps {
        let average = (budget.max_len / 2).max(1);
        let cases = ((budget.steps - outcome.steps) / average).clamp(1, 32);
        let config = Config {
            cases: u32::try_from(cases).unwrap_or(32),
            failure_persistence: None,
            max_shrink_iters: 4096,
            ..Config::default()
        };
        let mut runner = TestRunner::new_with_rng(config.clone(), rng(seed, chunk));
        let strategy = Reference::sequential_strategy(1..budget.max_len);
        let quiet = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let result = runner.run(&strategy, |(initial, transitions, seen)| {
            Covmini::test_sequential(config.clone(), initial, transitions, seen);
            Ok(())
        });
        std::panic::set_hook(quiet);
        let (by_kind, steps) = take_coverage();
        for (k, c) in by_kind {
            let e = outcome.coverage.entry(k).or_default();
            e.attempted += c.attempted;
            e.succeeded += c.succeeded;
            e.pended += c.pended;
            for (s, n) in c.refused {
                *e.refused.entry(s).or_default() += n;
            }
        }
        outcome.steps += steps;
        outcome.cases += cases;
        if let Err(e) = result {
            let why = match e {
                TestError::Fail(reason, (initial, transitions, _)) => {
                    let quiet = std::panic::take_hook();
                    std::panic::set_hook(Box::new(|_| {}));
                    let minimized = minimize(initial.clients.len(), &transitions);
                    std::panic::set_hook(quiet);
                    let _ = take_coverage();
                    match minimized {
                        Some((n, why)) => format!(
                            "{why}\n(proptest shrank it to {} generated ops; dropping steps one by one, to these {n})",
                            transitions.len()
                        ),
                        None => format!("{reason}\n(shrunk to {} generated ops)", transitions.len()),
                    }
                }
                TestError::Abort(reason) => format!("aborted: {reason}"),
            };
            outcome.failure = Some(format!(
                "model run failed (seed {seed}, chunk {chunk}; replay: MODEL_SEED={seed} with the same budget, \
                 e.g. scripts/soak.sh {} {seed}):\n{why}",
                budget.steps
            ));
            break;
        }
        chunk += 1;
    }
    outcome
}

/// Runs `steps` (resolved) on a fresh model and covmini with `clients`
/// clients, skipping a step that names an object the model does not have;
/// the failure's message, if it fails.
fn replay_steps(clients: usize, steps: &[Step]) -> Option<String> {
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut model = Model::new(clients);
        let mut sut = Covmini::init_test(&model);
        for step in steps {
            if !model.names_live_objects(step) {
                continue;
            }
            let expect = model.apply(step);
            sut.check(step, &expect, &model);
            sut.check_violations();
        }
        sut.halt_and_unload(&model);
    }));
    run.err().map(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_string()))
            .unwrap_or_else(|| "a panic with no message".into())
    })
}

/// Step-level shrinking after proptest's: proptest's sequences name objects
/// by position, so dropping a step moves every later pick and a step that
/// does not matter often cannot go. Here the failing sequence is resolved
/// once (objects named by id) and steps are dropped one at a time while it
/// still fails, until none can go. Returns the steps left and the message of
/// the shortest failing run, or None if the resolved sequence does not fail
/// (then proptest's result stands).
fn minimize(clients: usize, transitions: &[Gen]) -> Option<(usize, String)> {
    let mut model = Model::new(clients);
    let mut steps: Vec<Step> = transitions
        .iter()
        .filter_map(|t| {
            let step = model.resolve(t)?;
            model.apply(&step);
            Some(step)
        })
        .collect();
    let mut why = replay_steps(clients, &steps)?;
    loop {
        let mut dropped = false;
        let mut i = steps.len();
        while i > 0 {
            i -= 1;
            let mut fewer = steps.clone();
            fewer.remove(i);
            if let Some(w) = replay_steps(clients, &fewer) {
                steps = fewer;
                why = w;
                dropped = true;
            }
        }
        if !dropped {
            return Some((steps.len(), why));
        }
    }
}

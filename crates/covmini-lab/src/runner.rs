//! Runs a checked [`Scenario`] against covmini under ndis-emu.
//!
//! The runner brings the driver up (DriverEntry, then the adapter), takes
//! the scenario's steps in order as its scripted CoNDIS clients, compares
//! each outcome with what the step expects, and takes the adapter down
//! (halt, unload) whatever happened, so the leak check always runs. The
//! first unmet expectation stops the scenario's steps (later steps would act
//! on state that is not what the file describes); violations do not stop it.
//!
//! Besides the status a step names, the runner checks what a client would
//! rely on: a call that made SUCCESS has both ends connected and active; a
//! closed call's peer was told and covmini deleted the VC it created; a send
//! completed every NBL and the far end received exactly the bytes sent.
//! Multipoint calls (`multipoint`) are checked the same way per party: each
//! accepted party's leaf is connected and active and among NDIS's parties
//! of the root; a root's send reaches every connected leaf; a dropped
//! party's leaf, and every leaf of a closed root, is told and its VC
//! deleted; a leaf that hangs up is deleted and the root told (an incoming
//! drop party, or an incoming close for the last party).
//!
//! Like a well-behaved client it deletes its own VC when its call did not
//! connect or was closed (NdisCoDeleteVc), so a scenario need not.
//!
//! What it must not do: parse anything (the scenario is checked already) or
//! print (the caller's observer sees each step as it ends).

mod multipoint;

use std::collections::HashMap;

use covmini::call_manager::{PARAM_TYPE_CALLED_ADDRESS, SAP_TYPE_ADDRESS};
use ndis_emu::{Af, CallSpec, CallState, Client, Emulator, Event, Party, Report, Sap, Vc};
use ndis_sys::{DRIVER_INITIALIZE, NDIS_STATUS, NDIS_STATUS_PENDING, NDIS_STATUS_SUCCESS};

use crate::scenario::{Action, Flow, Scenario, Step as Decl, Target, phase, status};
use crate::steps::{Counters, Lanes, Step};

/// What a run left: its steps, counters and the emulator's report.
pub struct Outcome {
    /// Every step taken, the lab's own included.
    pub steps: Vec<Step>,
    /// The final counters (leaks included in `violations`).
    pub counters: Counters,
    /// The emulator's report (trace, violations, debug output).
    pub report: Report,
    /// The clients, and the NDIS handles each owned.
    pub lanes: Lanes,
}

impl Outcome {
    /// Every expectation met, no violation, no leak.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.report.is_clean() && self.steps.iter().all(Step::ok)
    }
}

/// How many steps a run of `scenario` takes when nothing fails: loading the
/// driver, adding the adapter, the scenario's own, a halt unless the
/// scenario has one, and the unload.
#[must_use]
pub fn planned_steps(scenario: &Scenario) -> usize {
    let halts = scenario.steps.iter().any(|s| s.action == Action::Halt);
    scenario.steps.len() + if halts { 3 } else { 4 }
}

struct ClientRt {
    handle: Client,
    af: Option<Af>,
    saps: HashMap<String, Sap>,
}

struct CallRt {
    caller: usize,
    caller_vc: Option<Vc>,
    /// The client owning the called SAP: the callee, or the first party's
    /// leaf of a multipoint call.
    callee: Option<usize>,
    /// The callee's VC (point to point; a multipoint call's leaves are its
    /// parties' `leaf_vc`).
    callee_vc: Option<Vc>,
    to: Target,
    multipoint: bool,
}

/// A party of a multipoint call, and its leaf.
struct PartyRt {
    /// Its name in the scenario (none for an unnamed first party).
    name: Option<String>,
    /// Its call.
    call: String,
    handle: Party,
    /// The make call's initial party: its answer completes the make call
    /// (MakeCallComplete), an added one's the add party (AddPartyComplete).
    first: bool,
    /// The client owning its address.
    leaf: Option<usize>,
    /// The VC covmini created for the leaf, while the leaf is on the call.
    leaf_vc: Option<Vc>,
    /// The leaf accepted: the party is connected.
    connected: bool,
}

/// What one step came to: a status, or an error before any status.
struct Done {
    status: Option<NDIS_STATUS>,
    failure: Option<String>,
}

impl Done {
    fn status(s: NDIS_STATUS) -> Self {
        Self {
            status: Some(s),
            failure: None,
        }
    }
    fn fail(why: String) -> Self {
        Self {
            status: None,
            failure: Some(why),
        }
    }
}

struct Runner<'a, F> {
    emu: Emulator,
    scenario: &'a Scenario,
    seed: u64,
    clients: Vec<ClientRt>,
    calls: HashMap<String, CallRt>,
    /// Every party still in a call, in the order they were added.
    parties: Vec<PartyRt>,
    counters: Counters,
    steps: Vec<Step>,
    lanes: Lanes,
    events_seen: usize,
    violations_seen: usize,
    observer: F,
}

/// Runs `scenario` with the driver whose DriverEntry is `entry`, on a
/// scheduler seeded with `seed`. `observer` sees each step as it ends: its
/// index, the step, the counters so far and the trace events it caused.
pub fn run(
    scenario: &Scenario,
    entry: DRIVER_INITIALIZE,
    seed: u64,
    observer: impl FnMut(usize, &Step, &Counters, &[Event]),
) -> Outcome {
    let mut r = Runner {
        emu: Emulator::with_seed(seed),
        scenario,
        seed,
        clients: Vec::new(),
        calls: HashMap::new(),
        parties: Vec::new(),
        counters: Counters::default(),
        steps: Vec::new(),
        lanes: Lanes {
            names: scenario.clients.iter().map(|c| c.name.clone()).collect(),
            owners: HashMap::new(),
        },
        events_seen: 0,
        violations_seen: 0,
        observer,
    };
    r.all(entry);
    let report = r.emu.finish();
    let mut counters = r.counters;
    counters.violations = report.violations.len() as u64;
    Outcome {
        steps: r.steps,
        counters,
        report,
        lanes: r.lanes,
    }
}

/// Best-effort call parameters at `flow` naming `address` as the called
/// covmini address (covmini's format: docs/call-manager.md).
fn call_spec(address: &str, flow: Flow) -> CallSpec {
    let mut spec = CallSpec::best_effort(flow.rate, flow.max_sdu);
    spec.media_specific_type = PARAM_TYPE_CALLED_ADDRESS;
    spec.media_specific = address.as_bytes().to_vec();
    spec
}

/// The payload of NBL `i` of a send: `size` bytes of a pattern that differs
/// per step and NBL, so a misdelivered NBL shows.
fn payload(seed: u64, line: usize, i: u32, size: u32) -> Vec<u8> {
    let base = seed.wrapping_mul(131).wrapping_add(line as u64 * 31 + u64::from(i) * 7);
    (0..u64::from(size))
        .map(|j| (base.wrapping_add(j) % 251) as u8)
        .collect()
}

impl<F: FnMut(usize, &Step, &Counters, &[Event])> Runner<'_, F> {
    fn name(&self, client: usize) -> &str {
        self.scenario.clients.get(client).map_or("?", |c| c.name.as_str())
    }

    /// Notes that NDIS handle `handle` belongs to `client`.
    fn own(&mut self, handle: usize, client: usize) {
        self.lanes.owners.insert(handle, client);
    }

    /// Records a step that ended now and tells the observer.
    fn record(&mut self, text: String, phase: &'static str, at: (Option<usize>, Option<usize>), done: Done) {
        let (line, client) = at;
        for (i, c) in self.clients.iter().enumerate() {
            for vc in self.emu.offered_vcs(c.handle) {
                self.lanes.owners.insert(vc.0, i);
            }
        }
        let (new_events, violations) = self.emu.events_since(self.events_seen);
        let events = self.events_seen + new_events.len();
        let range = self.events_seen..events;
        for e in &new_events {
            match e.dir {
                "->" => self.counters.handler_calls += 1,
                "=>" => self.counters.ddi_calls += 1,
                _ => {}
            }
        }
        self.counters.violations = violations as u64;
        if done.failure.is_some() {
            self.counters.failed_steps += 1;
        }
        let step = Step {
            text,
            phase,
            line,
            client,
            status: done.status.map(status::name),
            failure: done.failure,
            skipped: false,
            events: range.clone(),
            violations: self.violations_seen..violations,
        };
        (self.observer)(self.steps.len(), &step, &self.counters, &new_events);
        self.steps.push(step);
        self.events_seen = events;
        self.violations_seen = violations;
    }

    fn all(&mut self, entry: DRIVER_INITIALIZE) {
        let loaded = self.emu.load(entry);
        let ok = loaded.is_ok();
        self.record(
            "load the driver: DriverEntry registers the CoNDIS miniport".to_owned(),
            "driver",
            (None, None),
            match loaded {
                Ok(()) => Done::status(NDIS_STATUS_SUCCESS),
                Err(e) => Done::fail(format!("load the driver: {e}")),
            },
        );
        if !ok {
            return;
        }
        let added = self.emu.add_adapter();
        let ok = added.is_ok();
        self.record(
            "add the adapter: InitializeEx, then Restart".to_owned(),
            "driver",
            (None, None),
            match added {
                Ok(()) => Done::status(NDIS_STATUS_SUCCESS),
                Err(e) => Done::fail(format!("add the adapter: {e}")),
            },
        );
        if ok {
            self.clients = self
                .scenario
                .clients
                .iter()
                .map(|c| {
                    let handle = self.emu.client(&c.name);
                    let answer = match c.answers {
                        crate::scenario::Answers::Sync => ndis_emu::Answer::Sync,
                        crate::scenario::Answers::Pend => ndis_emu::Answer::Pend,
                    };
                    self.emu.set_incoming_answer(handle, answer, c.answer_status);
                    ClientRt {
                        handle,
                        af: None,
                        saps: HashMap::new(),
                    }
                })
                .collect();
            let mut halted = false;
            let mut steps = self.scenario.steps.iter();
            for decl in steps.by_ref() {
                let done = self.step(decl);
                let done = check_expectation(decl, done);
                let failed = done.failure.is_some();
                halted |= decl.action == Action::Halt && !failed;
                self.record(
                    self.scenario.describe(decl),
                    phase(&decl.action),
                    (Some(decl.line), decl.client),
                    done,
                );
                if failed {
                    break;
                }
            }
            // The run stops at its first failure: the steps after it are
            // named, as not run.
            for decl in steps {
                self.skip(decl);
            }
            if !halted {
                let done = match self.emu.halt_adapter() {
                    Ok(()) => Done::status(NDIS_STATUS_SUCCESS),
                    Err(e) => Done::fail(format!("halt: {e}")),
                };
                self.record(
                    "halt the adapter (end of the scenario): covmini asks every client to close its AF".to_owned(),
                    "driver",
                    (None, None),
                    done,
                );
            }
        }
        let done = match self.emu.unload() {
            Ok(()) => Done::status(NDIS_STATUS_SUCCESS),
            Err(e) => Done::fail(format!("unload: {e}")),
        };
        self.record(
            "unload the driver: MiniportDriverUnload deregisters it".to_owned(),
            "driver",
            (None, None),
            done,
        );
    }

    /// covmini offered an incoming call to a client during the current
    /// step (NdisCmDispatchIncomingCall is in the step's trace).
    fn dispatched_this_step(&self) -> bool {
        let (events, _) = self.emu.events_since(self.events_seen);
        events
            .iter()
            .any(|e| e.dir == "=>" && e.name == "NdisCmDispatchIncomingCall")
    }

    /// Records a scenario step that was not run (an earlier one failed).
    fn skip(&mut self, decl: &Decl) {
        let step = Step {
            text: self.scenario.describe(decl),
            phase: phase(&decl.action),
            line: Some(decl.line),
            client: decl.client,
            status: None,
            failure: None,
            skipped: true,
            events: self.events_seen..self.events_seen,
            violations: self.violations_seen..self.violations_seen,
        };
        (self.observer)(self.steps.len(), &step, &self.counters, &[]);
        self.steps.push(step);
    }

    fn af(&self, client: usize) -> Result<Af, Done> {
        self.clients
            .get(client)
            .and_then(|c| c.af)
            .ok_or_else(|| Done::fail(format!("client {:?} has no open AF at this point", self.name(client))))
    }

    /// The VC `client` holds of call `name`: the caller's (the root's), the
    /// callee's, or (`party` given, or the first party's) a leaf's.
    fn vc_of(&self, client: usize, name: &str, party: Option<&str>) -> Result<Vc, Done> {
        let call = self
            .calls
            .get(name)
            .ok_or_else(|| Done::fail(format!("call {name:?} was never made")))?;
        let vc = if party.is_none() && client == call.caller {
            call.caller_vc
        } else if call.multipoint {
            self.party_index(name, party)
                .and_then(|i| self.parties.get(i))
                .and_then(|p| p.leaf_vc)
        } else {
            call.callee_vc
        };
        vc.ok_or_else(|| {
            let of = party.map_or_else(String::new, |p| format!(" as party {p:?}'s leaf"));
            Done::fail(format!(
                "{:?} holds no VC of call {name:?}{of} (the call did not connect, or was closed)",
                self.name(client)
            ))
        })
    }

    /// A client's handle.
    fn handle(&self, client: usize) -> Result<Client, Done> {
        self.clients
            .get(client)
            .map(|c| c.handle)
            .ok_or_else(|| Done::fail("no client".into()))
    }

    /// The VC covmini offered `client` since `before` (its incoming call).
    fn new_offer(&self, client: Option<Client>, before: &[Vc]) -> Option<Vc> {
        client.and_then(|h| self.emu.offered_vcs(h).into_iter().rfind(|v| !before.contains(v)))
    }

    /// How many lines `client`'s inbox holds now.
    fn inbox_len(&self, client: Option<Client>) -> usize {
        client.map_or(0, |h| self.emu.inbox(h).len())
    }

    /// Whether `client`'s inbox got a line since `seen` that starts with
    /// `head` and ends with `tail`.
    fn told(&self, client: Option<Client>, seen: usize, head: &str, tail: &str) -> bool {
        client.is_some_and(|h| {
            self.emu
                .inbox(h)
                .iter()
                .skip(seen)
                .any(|l| l.starts_with(head) && l.ends_with(tail))
        })
    }

    fn step(&mut self, decl: &Decl) -> Done {
        let who = decl.client.unwrap_or(usize::MAX);
        let result = match &decl.action {
            Action::OpenAf => self.open_af(who),
            Action::RegisterSap { address } => self.register_sap(who, address),
            Action::DeregisterSap { address } => self.deregister_sap(who, address),
            Action::CloseAf => self.close_af(who),
            Action::MakeCall {
                call,
                to,
                flow,
                multipoint,
                party,
            } => self.make_call(who, call, to, *flow, *multipoint, party.as_deref()),
            Action::Answer { call, party, status } => self.answer(call, party.as_deref(), *status),
            Action::AddParty { call, party, to } => self.add_party(who, call, party, to),
            Action::DropParty { call, party } => self.drop_party(call, party),
            Action::Send {
                call,
                party,
                count,
                size,
            } => self.send(decl, who, call, party.as_deref(), *count, *size),
            Action::ModifyQos { call, party, flow } => self.modify_qos(who, call, party.as_deref(), *flow),
            Action::CloseCall { call, party } => self.close_call(who, call, party.as_deref()),
            Action::Halt => self.halt(),
        };
        result.unwrap_or_else(|d| d)
    }

    fn open_af(&mut self, who: usize) -> Result<Done, Done> {
        let handle = self
            .clients
            .get(who)
            .map(|c| c.handle)
            .ok_or_else(|| Done::fail("no client".into()))?;
        let (af, s) = match self.emu.open_af(handle, covmini::config::AF) {
            Ok(af) => (Some(af), NDIS_STATUS_SUCCESS),
            Err(NDIS_STATUS_PENDING) => (self.emu.last_af(), NDIS_STATUS_PENDING),
            Err(s) => (None, s),
        };
        if let Some(c) = self.clients.get_mut(who) {
            c.af = af;
        }
        if let Some(af) = af {
            self.own(af.0, who);
        }
        Ok(Done::status(s))
    }

    fn register_sap(&mut self, who: usize, address: &str) -> Result<Done, Done> {
        let af = self.af(who)?;
        Ok(match self.emu.register_sap(af, SAP_TYPE_ADDRESS, address.as_bytes()) {
            Ok(sap) => {
                self.own(sap.0, who);
                if let Some(c) = self.clients.get_mut(who) {
                    c.saps.insert(address.to_owned(), sap);
                }
                Done::status(NDIS_STATUS_SUCCESS)
            }
            Err(s) => Done::status(s),
        })
    }

    fn deregister_sap(&mut self, who: usize, address: &str) -> Result<Done, Done> {
        let sap = self
            .clients
            .get(who)
            .and_then(|c| c.saps.get(address).copied())
            .ok_or_else(|| Done::fail(format!("{:?} holds no SAP {address:?}", self.name(who))))?;
        let s = self.emu.deregister_sap(sap);
        if s == NDIS_STATUS_SUCCESS
            && let Some(c) = self.clients.get_mut(who)
        {
            c.saps.remove(address);
        }
        Ok(Done::status(s))
    }

    fn close_af(&mut self, who: usize) -> Result<Done, Done> {
        let af = self.af(who)?;
        let s = self.emu.close_af(af);
        if s == NDIS_STATUS_SUCCESS
            && let Some(c) = self.clients.get_mut(who)
        {
            c.af = None;
        }
        Ok(Done::status(s))
    }

    /// `vc` (the `end` of a call) is connected and active, as a client
    /// that saw SUCCESS relies on.
    fn check_up(&self, end: &str, vc: Option<Vc>) -> Result<(), Done> {
        let state = vc.and_then(|v| self.emu.vc_state(v));
        if state == Some((CallState::Connected, true)) {
            return Ok(());
        }
        Err(Done {
            status: Some(NDIS_STATUS_SUCCESS),
            failure: Some(format!(
                "the call reported SUCCESS but the {end}'s VC is {state:?}, not connected and active"
            )),
        })
    }

    /// Every end of call `name` is connected and active: the caller, and
    /// the callee or every connected party's leaf.
    fn check_connected(&self, name: &str) -> Result<(), Done> {
        let Some(call) = self.calls.get(name) else {
            return Ok(());
        };
        self.check_up("caller", call.caller_vc)?;
        if call.multipoint {
            for i in 0..self.parties.len() {
                if self.parties.get(i).is_some_and(|p| p.call == name && p.connected) {
                    self.check_party_up(i)?;
                }
            }
        } else if call.callee.is_some() {
            self.check_up("callee", call.callee_vc)?;
        }
        Ok(())
    }

    /// The caller deletes its VC of a call that did not connect; covmini
    /// must have deleted what it created for the callee (or the refused
    /// first party's leaf). `reached`: the call was offered to a callee (a
    /// rejection), not refused before it found one (no route).
    fn give_up_call(&mut self, name: &str, status: NDIS_STATUS, reached: bool) -> Result<Done, Done> {
        if reached {
            self.counters.calls_rejected += 1;
        } else {
            self.counters.calls_unrouted += 1;
        }
        let fail = |why: String| Done {
            status: Some(status),
            failure: Some(why),
        };
        let mut created: Vec<Vc> = Vec::new();
        self.parties.retain(|p| {
            if p.call == name {
                created.extend(p.leaf_vc);
            }
            p.call != name
        });
        let vc = self.calls.get_mut(name).and_then(|c| {
            created.extend(c.callee_vc.take());
            c.caller_vc.take()
        });
        if let Some(state) = created.iter().find_map(|v| self.emu.vc_state(*v)) {
            return Err(fail(format!(
                "covmini did not delete the VC it created for the refused callee (still {state:?})"
            )));
        }
        if let Some(vc) = vc {
            let d = self.emu.delete_vc(vc);
            if d != NDIS_STATUS_SUCCESS {
                return Err(fail(format!(
                    "after the failed call the caller could not delete its VC: NdisCoDeleteVc returned {}",
                    status::name(d)
                )));
            }
        }
        Ok(Done::status(status))
    }

    fn make_call(
        &mut self,
        who: usize,
        name: &str,
        to: &Target,
        flow: Flow,
        multipoint: bool,
        party: Option<&str>,
    ) -> Result<Done, Done> {
        let af = self.af(who)?;
        let vc = self.emu.create_vc(af).map_err(|s| Done {
            status: Some(s),
            failure: Some(format!("NdisCoCreateVc failed with {}", status::name(s))),
        })?;
        self.own(vc.0, who);
        let callee = match to {
            Target::Sap { owner, .. } => Some(*owner),
            Target::Echo | Target::Undeclared(_) => None,
        };
        let callee_handle = callee.and_then(|c| self.clients.get(c)).map(|c| c.handle);
        let before = callee_handle.map(|h| self.emu.offered_vcs(h)).unwrap_or_default();
        let spec = call_spec(to.address(), flow);
        let (s, first_party) = if multipoint {
            self.emu.make_multipoint_call(vc, &spec)
        } else {
            (self.emu.make_call(vc, &spec), None)
        };
        self.counters.calls_made += 1;
        let offered = self.new_offer(callee_handle, &before);
        if let Some(handle) = first_party {
            self.own(handle.0, who);
            self.parties.push(PartyRt {
                name: party.map(str::to_owned),
                call: name.to_owned(),
                handle,
                first: true,
                leaf: callee,
                leaf_vc: offered,
                connected: s == NDIS_STATUS_SUCCESS,
            });
        }
        self.calls.insert(
            name.to_owned(),
            CallRt {
                caller: who,
                caller_vc: Some(vc),
                callee,
                callee_vc: if multipoint { None } else { offered },
                to: to.clone(),
                multipoint,
            },
        );
        match s {
            NDIS_STATUS_SUCCESS => {
                if multipoint && first_party.is_none() {
                    return Err(Done {
                        status: Some(s),
                        failure: Some("the multipoint call reported SUCCESS without a party handle".to_owned()),
                    });
                }
                self.check_connected(name)?;
                self.counters.calls_accepted += 1;
                if multipoint {
                    self.counters.parties_joined += 1;
                }
                Ok(Done::status(s))
            }
            NDIS_STATUS_PENDING => Ok(Done::status(s)),
            // Rejected if covmini offered it to a callee (this step's trace
            // has the dispatch; echo is covmini's own callee), else it found
            // no route.
            _ => {
                let reached = matches!(to, Target::Echo) || self.dispatched_this_step();
                self.give_up_call(name, s, reached)
            }
        }
    }

    /// A pended callee or leaf answers; the status is what the caller's
    /// make call (or, for an added party, the root's add party) completes
    /// with.
    fn answer(&mut self, name: &str, party: Option<&str>, answer: NDIS_STATUS) -> Result<Done, Done> {
        let call = self
            .calls
            .get(name)
            .ok_or_else(|| Done::fail(format!("call {name:?} was never made")))?;
        let (vc, index) = if call.multipoint {
            let i = self.party_index(name, party);
            (i.and_then(|i| self.parties.get(i)).and_then(|p| p.leaf_vc), i)
        } else {
            (call.callee_vc, None)
        };
        let added = index.and_then(|i| self.parties.get(i)).is_some_and(|p| !p.first);
        let vc = vc.ok_or_else(|| {
            Done::fail(match party {
                Some(p) => format!("party {p:?} of call {name:?} was not offered to its leaf"),
                None => format!("call {name:?} was not offered to its callee"),
            })
        })?;
        let caller = self.clients.get(call.caller).map(|c| c.handle);
        let seen = self.inbox_len(caller);
        if let Err(s) = self.emu.answer_incoming(vc, answer) {
            return Ok(Done::status(s));
        }
        let (line, request) = if added {
            ("AddPartyComplete ", "the root's add party")
        } else {
            ("MakeCallComplete ", "the caller's make call")
        };
        let completion = caller
            .map(|c| self.emu.inbox(c))
            .unwrap_or_default()
            .iter()
            .skip(seen)
            .filter_map(|l| l.strip_prefix(line))
            .filter_map(|h| status::parse(h.split_whitespace().next().unwrap_or("")))
            .next_back();
        let Some(s) = completion else {
            return Err(Done::fail(format!(
                "the {} answered but {request} did not complete (no {})",
                if index.is_some() { "leaf" } else { "callee" },
                line.trim_end()
            )));
        };
        match (added, index) {
            (true, Some(i)) => self.party_answered(i, s),
            _ if s == NDIS_STATUS_SUCCESS => {
                if let Some(p) = index.and_then(|i| self.parties.get_mut(i)) {
                    p.connected = true;
                    self.counters.parties_joined += 1;
                }
                self.check_connected(name)?;
                self.counters.calls_accepted += 1;
                Ok(Done::status(s))
            }
            // A pended answer: the callee had the call.
            _ => self.give_up_call(name, s, true),
        }
    }

    fn send(
        &mut self,
        decl: &Decl,
        who: usize,
        name: &str,
        party: Option<&str>,
        count: u32,
        size: u32,
    ) -> Result<Done, Done> {
        let vc = self.vc_of(who, name, party)?;
        let receivers = self.receivers(who, name, party)?;
        let sender = self.handle(who)?;
        let handles = receivers
            .iter()
            .map(|r| self.handle(r.client))
            .collect::<Result<Vec<_>, _>>()?;
        let payloads: Vec<Vec<u8>> = (0..count).map(|i| payload(self.seed, decl.line, i, size)).collect();
        let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        let sent_before = self.emu.send_results(sender).len();
        let got_before: Vec<usize> = handles.iter().map(|h| self.emu.received(*h).len()).collect();
        if let Err(s) = self.emu.send(vc, &refs) {
            return Ok(Done::status(s));
        }
        let results: Vec<NDIS_STATUS> = self.emu.send_results(sender).into_iter().skip(sent_before).collect();
        let status = results
            .iter()
            .copied()
            .find(|s| *s != NDIS_STATUS_SUCCESS)
            .unwrap_or(NDIS_STATUS_SUCCESS);
        let want_ok = decl.expect.status == NDIS_STATUS_SUCCESS;
        let want_n = decl
            .expect
            .received
            .unwrap_or(if want_ok { u64::from(count) } else { 0 });
        let want_b = decl
            .expect
            .bytes
            .unwrap_or(if want_ok { u64::from(count) * u64::from(size) } else { 0 });
        let mut failure = (results.len() != count as usize).then(|| {
            format!(
                "{} of {count} sends completed (NdisMCoSendNetBufferListsComplete)",
                results.len()
            )
        });
        for ((r, h), before) in receivers.iter().zip(&handles).zip(got_before) {
            let got: Vec<Vec<u8>> = self.emu.received(*h).into_iter().skip(before).collect();
            let bytes: u64 = got.iter().map(|p| p.len() as u64).sum();
            self.counters.add_flow(&r.label, got.len() as u64, bytes);
            let (n, b) = (r.ends * want_n, r.ends * want_b);
            // Another status than expected is the failure to report (the
            // expected data followed from the expected status).
            if failure.is_some() || status != decl.expect.status {
                continue;
            }
            if got.len() as u64 != n || bytes != b {
                failure = Some(format!(
                    "{}: received {} NBL(s), {bytes} B; expected {n} NBL(s), {b} B",
                    r.label,
                    got.len()
                ));
            } else if want_ok && !same_payloads(&got, &payloads, r.ends) {
                let k = got.iter().zip(&payloads).position(|(a, b)| a != b).unwrap_or(0);
                failure = Some(format!("{}: NBL {k} arrived with other bytes than were sent", r.label));
            }
        }
        Ok(Done {
            status: Some(status),
            failure,
        })
    }

    /// Who receives what `who` sends on call `name` (as `party`'s leaf):
    /// the other end of a point-to-point call, the sender itself on an echo
    /// call, every connected leaf for a multipoint root, the root for a leaf.
    fn receivers(&self, who: usize, name: &str, party: Option<&str>) -> Result<Vec<Receiver>, Done> {
        let call = self.calls.get(name).ok_or_else(|| Done::fail("no call".into()))?;
        let me = self.name(who).to_owned();
        let to = |client: usize, label: String| Receiver { client, label, ends: 1 };
        if call.multipoint && party.is_none() && who == call.caller {
            return Ok(self.leaves(name, &me));
        }
        if call.multipoint {
            return Ok(vec![to(call.caller, format!("{me} → {}", self.name(call.caller)))]);
        }
        Ok(vec![match (call.callee, &call.to) {
            (Some(callee), _) => {
                let peer = if who == call.caller { callee } else { call.caller };
                to(peer, format!("{me} → {}", self.name(peer)))
            }
            (None, Target::Echo) => to(who, format!("{me} → echo → {me}")),
            (None, t) => to(who, format!("{me} → {:?}", t.address())),
        }])
    }

    fn modify_qos(&mut self, who: usize, name: &str, party: Option<&str>, flow: Flow) -> Result<Done, Done> {
        let vc = self.vc_of(who, name, party)?;
        let to = self
            .calls
            .get(name)
            .map(|c| c.to.address().to_owned())
            .unwrap_or_default();
        Ok(Done::status(self.emu.modify_qos(vc, &call_spec(&to, flow))))
    }

    fn close_call(&mut self, who: usize, name: &str, party: Option<&str>) -> Result<Done, Done> {
        let vc = self.vc_of(who, name, party)?;
        let (caller, callee, callee_vc, multipoint) = self
            .calls
            .get(name)
            .map(|c| (c.caller, c.callee, c.callee_vc, c.multipoint))
            .ok_or_else(|| Done::fail("no call".into()))?;
        if multipoint {
            return if party.is_none() && who == caller {
                self.close_root(name, vc)
            } else {
                self.hang_up_leaf(name, party, vc)
            };
        }
        let peer = callee.map(|c| if who == caller { c } else { caller });
        let peer_handle = peer.and_then(|p| self.clients.get(p)).map(|c| c.handle);
        let seen = self.inbox_len(peer_handle);
        let s = self.emu.close_call(vc, &[]);
        if s != NDIS_STATUS_SUCCESS {
            return Ok(Done::status(s));
        }
        self.emu.pump();
        let fail = |why: String| Done {
            status: Some(s),
            failure: Some(why),
        };
        if peer_handle.is_some() && !self.told(peer_handle, seen, "IncomingCloseCall", "") {
            return Err(fail(format!(
                "{:?} was not told the call closed (no IncomingCloseCall)",
                self.name(peer.unwrap_or(usize::MAX))
            )));
        }
        if let Some(v) = callee_vc
            && let Some(state) = self.emu.vc_state(v)
        {
            return Err(fail(format!(
                "covmini did not delete the VC it created for the callee (still {state:?})"
            )));
        }
        self.delete_caller_vc(name, s)
    }

    /// After a close: the caller deletes its VC (NdisCoDeleteVc).
    fn delete_caller_vc(&mut self, name: &str, s: NDIS_STATUS) -> Result<Done, Done> {
        let caller_vc = self.calls.get_mut(name).and_then(|c| {
            c.callee_vc = None;
            c.caller_vc.take()
        });
        if let Some(v) = caller_vc {
            let d = self.emu.delete_vc(v);
            if d != NDIS_STATUS_SUCCESS {
                return Err(Done {
                    status: Some(s),
                    failure: Some(format!(
                        "the caller could not delete its VC after the close: NdisCoDeleteVc returned {}",
                        status::name(d)
                    )),
                });
            }
        }
        Ok(Done::status(s))
    }

    fn halt(&mut self) -> Result<Done, Done> {
        self.emu.halt_adapter().map_err(|e| Done::fail(format!("halt: {e}")))?;
        for c in &mut self.clients {
            c.af = None;
            c.saps.clear();
        }
        Ok(Done::status(NDIS_STATUS_SUCCESS))
    }
}

/// One receiving end of a send: a client, the flow's label, and how many
/// of the call's ends it is (a client can be the leaf of several parties).
struct Receiver {
    client: usize,
    label: String,
    ends: u64,
}

/// `got` is `sent` delivered once per end: in order for one end; for
/// several (one copy per party, interleaved), the same bytes in any order.
fn same_payloads(got: &[Vec<u8>], sent: &[Vec<u8>], ends: u64) -> bool {
    if ends == 1 {
        return got == sent;
    }
    let mut want: Vec<&Vec<u8>> = (0..ends).flat_map(|_| sent.iter()).collect();
    let mut have: Vec<&Vec<u8>> = got.iter().collect();
    want.sort();
    have.sort();
    want == have
}

/// Fails `done` when its status is not the one `decl` expects.
fn check_expectation(decl: &Decl, done: Done) -> Done {
    match (done.status, &done.failure) {
        (Some(s), None) if s != decl.expect.status => Done {
            status: Some(s),
            failure: Some(format!(
                "expected {}, got {}",
                status::name(decl.expect.status),
                status::name(s)
            )),
        },
        _ => done,
    }
}

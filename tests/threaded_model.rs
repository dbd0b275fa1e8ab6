//! Threaded model runs: covmini under ndis-emu's threaded mode, with
//! several scripted clients on CPUs of their own issuing random client
//! operations (valid and invalid) at once, NDIS events (pause, restart, PnP
//! events, send cancels) among them, and a halt at a random step of a random
//! client while the others go on. The interleaving is the machine's, so no
//! exact status is determined; each operation's status must be within the
//! set covmini's documentation (docs/call-manager.md) and the DDI pages
//! allow for that operation under any interleaving ([`allowed`]). Every run
//! must end, after halt and unload, with zero rule violations and zero
//! leaks. It runs against the host build or, with `COVMINI_SYS`, the
//! kernel image (`common::driver`).
//!
//! Budget: `THREADED_MODEL_STEPS` client steps in all (default 3 000; a
//! tenth of that, never zero, when `COVMINI_UNDER_VALGRIND` is set),
//! `THREADED_MODEL_SEED` for the first seed, `THREADED_MODEL_INSIDE=0` to
//! keep every client reacting after NDIS's calls return (by default about
//! half react inside them, `Emulator::set_reacts_inside`; seeds recorded
//! before that option replay as they ran only with it off),
//! `THREADED_MODEL_TRACE` a file
//! to write a failing run's whole trace to (then its violations and problems), `THREADED_MODEL_KEEP_GOING` to
//! go on past a failing seed (the soak's census: every failing seed and its
//! first violation are printed at the end, and the test then fails). With `--nocapture` it prints
//! steps/s and each operation's coverage (succeeded / refused). The soak:
//! `THREADED_MODEL_STEPS=1000000 cargo test --release -p covmini --test threaded_model -- --nocapture`.
//!
//! The targeted tests below produce the three races no correct driver can
//! avoid (both ends closing at once, a root's close crossing a leaf's,
//! deregister SAP racing an offer) many times on real threads and require
//! each run clean.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::Instant;

use common::scenario::{assert_clean, call_to};
use covmini::call_manager::{ECHO_ADDRESS, SAP_TYPE_ADDRESS};
use covmini::config;
use ndis_emu::{Af, Answer, CallState, EmuError, Emulator, Party, Report, Sap, Vc};
use ndis_sys::*;

/// Client threads (CPUs) per run.
const CLIENTS: usize = 3;
/// Client steps per client per seed.
const STEPS_PER_CLIENT: usize = 250;

/// A small, seedable PRNG (xorshift64*): each client thread has its own.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> Option<T> {
        (!v.is_empty()).then(|| v[self.below(v.len())])
    }
}

/// The operation kinds, for coverage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    OpenAf,
    CloseAf,
    RegisterSap,
    DeregisterSap,
    CreateVc,
    DeleteVc,
    MakeCall,
    MakeMultipointCall,
    AddParty,
    DropParty,
    CloseCall,
    CloseIncoming,
    AnswerIncoming,
    ModifyQos,
    Send,
    CancelSend,
    OidMiniport,
    OidCm,
    Pause,
    Restart,
    PnpEvent,
    Halt,
}

/// Every operation kind.
const ALL_OPS: [Op; 22] = [
    Op::OpenAf,
    Op::CloseAf,
    Op::RegisterSap,
    Op::DeregisterSap,
    Op::CreateVc,
    Op::DeleteVc,
    Op::MakeCall,
    Op::MakeMultipointCall,
    Op::AddParty,
    Op::DropParty,
    Op::CloseCall,
    Op::CloseIncoming,
    Op::AnswerIncoming,
    Op::ModifyQos,
    Op::Send,
    Op::CancelSend,
    Op::OidMiniport,
    Op::OidCm,
    Op::Pause,
    Op::Restart,
    Op::PnpEvent,
    Op::Halt,
];

/// What a step came back with: success (SUCCESS, or PENDING: accepted and
/// held), or a refusal with its status.
#[derive(Clone, Copy, Debug)]
enum Outcome {
    Ok,
    Refused(NDIS_STATUS),
}

/// The statuses `op` may end with under any interleaving (including a halt
/// racing it): covmini's documented statuses (docs/call-manager.md,
/// "Statuses" and "Behaviour"), plus NDIS's own refusals of a request on an
/// object that is gone or closing (FAILURE) and, for sends, the refusal of
/// NDIS once a halt began (PAUSED). `reject` is the status callees reject
/// incoming calls with.
fn allowed(op: Op, status: NDIS_STATUS, reject: NDIS_STATUS) -> bool {
    use Op::*;
    let common = [NDIS_STATUS_SUCCESS, NDIS_STATUS_FAILURE, NDIS_STATUS_RESOURCES];
    if common.contains(&status) {
        return true;
    }
    match op {
        OpenAf | CreateVc | AnswerIncoming => false,
        CloseAf | DeregisterSap | DropParty | CloseCall | CloseIncoming => status == NDIS_STATUS_PENDING,
        RegisterSap => status == NDIS_STATUS_INVALID_DATA,
        DeleteVc => [NDIS_STATUS_NOT_ACCEPTED, NDIS_STATUS_CLOSING].contains(&status),
        MakeCall | MakeMultipointCall | AddParty => [
            NDIS_STATUS_PENDING,
            NDIS_STATUS_NO_ROUTE_TO_DESTINATION,
            NDIS_STATUS_CALL_ACTIVE,
            NDIS_STATUS_NOT_SUPPORTED,
            reject,
        ]
        .contains(&status),
        ModifyQos => [NDIS_STATUS_PENDING, NDIS_STATUS_INCOMPATABLE_QOS].contains(&status),
        // The refusal of the send as a whole; each NBL's own status is
        // checked with [`allowed_send_completion`].
        Send => status == NDIS_STATUS_PAUSED,
        OidMiniport | OidCm => [
            NDIS_STATUS_NOT_SUPPORTED,
            NDIS_STATUS_INVALID_PARAMETER,
            NDIS_STATUS_INVALID_OID,
            NDIS_STATUS_INVALID_LENGTH,
            NDIS_STATUS_BUFFER_TOO_SHORT,
            NDIS_STATUS_PENDING,
        ]
        .contains(&status),
        Pause => status == NDIS_STATUS_PENDING,
        CancelSend | Restart | PnpEvent | Halt => false,
    }
}

/// The status each sent NBL may complete with (docs/call-manager.md, "Data"
/// and "Pause and restart"): SUCCESS, RESOURCES (short of receive NBLs),
/// VC_NOT_ACTIVATED (no active call: the peer hung up, or a halt tore it
/// down), PAUSED (paused or pausing), FAILURE (a leaf's send).
fn allowed_send_completion(status: NDIS_STATUS) -> bool {
    [
        NDIS_STATUS_SUCCESS,
        NDIS_STATUS_RESOURCES,
        NDIS_STATUS_VC_NOT_ACTIVATED,
        NDIS_STATUS_PAUSED,
        NDIS_STATUS_FAILURE,
    ]
    .contains(&status)
}

/// Succeeded and refused counts per operation kind.
type Coverage = BTreeMap<Op, (u64, u64)>;

/// The called address of client `j`'s SAP number `k`.
fn address(j: usize, k: usize) -> Vec<u8> {
    format!("tm-{j}-{k}").into_bytes()
}

fn status_of<T>(r: &Result<T, NDIS_STATUS>) -> Outcome {
    match r {
        Ok(_) => Outcome::Ok,
        Err(s) => as_outcome(*s),
    }
}

fn as_outcome(s: NDIS_STATUS) -> Outcome {
    if s == NDIS_STATUS_SUCCESS || s == NDIS_STATUS_PENDING {
        Outcome::Ok
    } else {
        Outcome::Refused(s)
    }
}

fn emu_outcome<T>(r: &Result<T, EmuError>) -> Outcome {
    match r {
        Ok(_) => Outcome::Ok,
        // The adapter is halting or halted, or not in the state the event
        // needs (a restart of a running adapter): NDIS would not issue it.
        Err(EmuError::NoAdapter) => Outcome::Refused(NDIS_STATUS_FAILURE),
        Err(EmuError::RestartFailed(s)) | Err(EmuError::InitializeFailed(s)) => Outcome::Refused(*s),
        Err(_) => Outcome::Refused(NDIS_STATUS_NOT_ACCEPTED),
    }
}

/// One client thread's state and tallies.
struct Script<'a> {
    i: usize,
    emu: &'a Emulator,
    rng: Rng,
    me: ndis_emu::Client,
    af: Option<Af>,
    saps: Vec<Sap>,
    vcs: Vec<Vc>,
    parties: Vec<(Vc, Party)>,
    reject: NDIS_STATUS,
    coverage: Coverage,
    problems: Vec<String>,
    /// NBLs handed to NdisCoSendNetBufferLists (each completes once).
    nbls_sent: usize,
    /// The client reacts inside NDIS's calls: its VCs may be gone (it
    /// deleted them inside a completion) when its script comes to them.
    inside: bool,
}

impl Script<'_> {
    fn record(&mut self, op: Op, outcome: Outcome) {
        let e = self.coverage.entry(op).or_default();
        match outcome {
            Outcome::Ok => e.0 += 1,
            Outcome::Refused(s) => {
                e.1 += 1;
                if !allowed(op, s, self.reject) {
                    self.problems.push(format!(
                        "client {}: {op:?} ended with {s:#010x}, not a status it may end with",
                        self.i
                    ));
                }
            }
        }
    }

    /// Any address: another client's SAP, one's own, echo, or nowhere.
    fn any_address(&mut self) -> Vec<u8> {
        match self.rng.below(8) {
            0 => ECHO_ADDRESS.to_vec(),
            1 => b"nowhere".to_vec(),
            _ => address(self.rng.below(CLIENTS), self.rng.below(2)),
        }
    }

    /// Another client's first SAP address (the one each registers at
    /// start), or its own.
    fn peer_address(&mut self) -> Vec<u8> {
        address(self.rng.below(CLIENTS), 0)
    }

    fn answer_offers(&mut self) {
        for vc in self.emu.offered_vcs(self.me) {
            if self.emu.vc_state(vc).map(|s| s.0) == Some(CallState::Offered) {
                let status = if self.rng.below(3) == 0 {
                    self.reject
                } else {
                    NDIS_STATUS_SUCCESS
                };
                let r = self.emu.answer_incoming(vc, status);
                self.record(Op::AnswerIncoming, status_of(&r));
            }
        }
    }

    /// One random step; `halt_now` makes it the halt.
    fn step(&mut self, halt_now: bool) {
        let emu = self.emu;
        if halt_now {
            let r = emu.halt_adapter();
            self.record(Op::Halt, emu_outcome(&r));
            return;
        }
        if self.inside {
            // What it deleted inside a completion, it no longer uses.
            self.vcs.retain(|v| emu.vc_state(*v).is_some());
            let vcs = &self.vcs;
            self.parties.retain(|(v, _)| vcs.contains(v));
        }
        let vc = self.rng.pick(&self.vcs);
        match self.rng.below(24) {
            0 => {
                let r = emu.open_af(self.me, config::AF);
                if let Ok(af) = r {
                    self.af = Some(af);
                }
                self.record(Op::OpenAf, status_of(&r));
            }
            1 => {
                if let Some(af) = self.af {
                    let s = emu.close_af(af);
                    if s == NDIS_STATUS_SUCCESS {
                        self.af = None;
                        self.saps.clear();
                        self.vcs.clear();
                        self.parties.clear();
                    }
                    self.record(Op::CloseAf, as_outcome(s));
                }
            }
            2 | 3 => {
                if let Some(af) = self.af {
                    // Mostly its own addresses; now and then another's (a
                    // duplicate) or one of its own twice.
                    let j = if self.rng.below(5) == 0 {
                        self.rng.below(CLIENTS)
                    } else {
                        self.i
                    };
                    let r = emu.register_sap(af, SAP_TYPE_ADDRESS, &address(j, self.rng.below(2)));
                    if let Ok(sap) = r {
                        self.saps.push(sap);
                    }
                    self.record(Op::RegisterSap, status_of(&r));
                }
            }
            4 => {
                if let Some(sap) = self.rng.pick(&self.saps) {
                    let s = emu.deregister_sap(sap);
                    self.saps.retain(|x| *x != sap);
                    self.record(Op::DeregisterSap, as_outcome(s));
                }
            }
            5 | 6 => {
                if let Some(af) = self.af {
                    let r = emu.create_vc(af);
                    if let Ok(v) = r {
                        self.vcs.push(v);
                    }
                    self.record(Op::CreateVc, status_of(&r));
                }
            }
            7 => {
                if let Some(v) = vc {
                    let s = emu.delete_vc(v);
                    if s == NDIS_STATUS_SUCCESS {
                        self.vcs.retain(|x| *x != v);
                        self.parties.retain(|(x, _)| *x != v);
                    }
                    self.record(Op::DeleteVc, as_outcome(s));
                }
            }
            8 | 9 => {
                if let Some(v) = vc {
                    let to = self.any_address();
                    let s = emu.make_call(v, &call_to(&to));
                    self.record(Op::MakeCall, as_outcome(s));
                }
            }
            10 => {
                if let Some(v) = vc {
                    let to = if self.rng.below(5) == 0 {
                        self.any_address()
                    } else {
                        self.peer_address()
                    };
                    let (s, p) = emu.make_multipoint_call(v, &call_to(&to));
                    if let (Some(p), true) = (p, s == NDIS_STATUS_SUCCESS || s == NDIS_STATUS_PENDING) {
                        self.parties.push((v, p));
                    }
                    self.record(Op::MakeMultipointCall, as_outcome(s));
                }
            }
            11 => {
                // Mostly on a multipoint call it made (a party's VC).
                let roots: Vec<Vc> = self.parties.iter().map(|(v, _)| *v).collect();
                let target = if self.rng.below(5) == 0 {
                    vc
                } else {
                    self.rng.pick(&roots).or(vc)
                };
                if let Some(v) = target {
                    let to = if self.rng.below(5) == 0 {
                        self.any_address()
                    } else {
                        self.peer_address()
                    };
                    let (s, p) = emu.add_party(v, &call_to(&to));
                    if let (Some(p), true) = (p, s == NDIS_STATUS_SUCCESS || s == NDIS_STATUS_PENDING) {
                        self.parties.push((v, p));
                    }
                    self.record(Op::AddParty, as_outcome(s));
                }
            }
            12 => {
                if let Some((v, p)) = self.rng.pick(&self.parties) {
                    let s = emu.drop_party(p, &[]);
                    if s == NDIS_STATUS_SUCCESS {
                        self.parties.retain(|x| *x != (v, p));
                    }
                    self.record(Op::DropParty, as_outcome(s));
                }
            }
            13 | 14 => {
                if let Some(v) = vc {
                    let s = emu.close_call(v, &[]);
                    if s == NDIS_STATUS_SUCCESS {
                        self.parties.retain(|(x, _)| *x != v);
                    }
                    self.record(Op::CloseCall, as_outcome(s));
                }
            }
            15 => {
                let offered = emu.offered_vcs(self.me);
                if let Some(v) = self.rng.pick(&offered) {
                    let s = emu.close_call(v, &[]);
                    self.record(Op::CloseIncoming, as_outcome(s));
                }
            }
            16 => {
                if let Some(v) = vc {
                    let s = emu.modify_qos(v, &call_to(b"qos"));
                    self.record(Op::ModifyQos, as_outcome(s));
                }
            }
            17 | 18 => {
                // On one of its own VCs or one offered to it (a callee sends
                // back), one to three NBLs.
                let offered = emu.offered_vcs(self.me);
                let target = if self.rng.below(2) == 0 {
                    vc
                } else {
                    self.rng.pick(&offered)
                };
                if let Some(v) = target {
                    let n = 1 + self.rng.below(3);
                    let payloads: Vec<Vec<u8>> = (0..n).map(|k| format!("c{}-{k}", self.i).into_bytes()).collect();
                    let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
                    let r = if self.rng.below(4) == 0 {
                        emu.send_with_cancel_id(v, &refs, 0x51 + self.i)
                    } else {
                        emu.send(v, &refs)
                    };
                    if r.is_ok() {
                        self.nbls_sent += n;
                    }
                    self.record(Op::Send, status_of(&r));
                }
            }
            19 => {
                let r = emu.cancel_sends(0x51 + self.rng.below(CLIENTS));
                self.record(Op::CancelSend, emu_outcome(&r));
            }
            20 => {
                let on_vc = if self.rng.below(2) == 0 { vc } else { None };
                let r = emu.oid_query(None, on_vc, OID_GEN_CO_XMIT_PDUS_OK, 8);
                let o = match &r {
                    Ok((_, res)) => as_outcome(res.status),
                    Err(s) => as_outcome(*s),
                };
                self.record(Op::OidMiniport, o);
            }
            21 => {
                if let Some(af) = self.af {
                    let len = if self.rng.below(4) == 0 { 16 } else { 4096 };
                    let r = emu.oid_query(Some(af), None, OID_CO_GET_ADDRESSES, len);
                    let o = match &r {
                        Ok((_, res)) => as_outcome(res.status),
                        Err(s) => as_outcome(*s),
                    };
                    self.record(Op::OidCm, o);
                }
            }
            22 => match self.rng.below(3) {
                0 => {
                    let r = emu.pause_adapter();
                    let o = match r {
                        Ok(s) => as_outcome(s),
                        Err(e) => emu_outcome::<()>(&Err(e)),
                    };
                    self.record(Op::Pause, o);
                }
                1 => {
                    let r = emu.restart_adapter();
                    self.record(Op::Restart, emu_outcome(&r));
                }
                _ => {
                    let r = emu.pnp_event(NdisDevicePnPEventPowerProfileChanged, Some(self.rng.below(2) as ULONG));
                    self.record(Op::PnpEvent, emu_outcome(&r));
                }
            },
            _ => self.answer_offers(),
        }
    }
}

/// What one seed's run produced.
struct RunResult {
    steps: usize,
    coverage: Coverage,
    problems: Vec<String>,
    report: Report,
}

/// One run: `CLIENTS` client threads, `steps` steps each, a halt at a random
/// step of a random client, then halt (if none happened), unload, finish.
fn run(seed: u64, steps: usize) -> RunResult {
    let mut emu = Emulator::threaded(seed, 2);
    emu.load(common::driver::driver_entry()).expect("DriverEntry");
    emu.add_adapter().expect("adapter");
    let mut seeder = Rng::new(seed);
    let halter = seeder.below(CLIENTS);
    let halt_at = seeder.below(steps + steps / 4);
    let finished = AtomicUsize::new(0);
    let all_up = Barrier::new(CLIENTS);
    let scripts = emu.concurrently(CLIENTS, |i, emu| {
        let me = emu.client(&format!("tm{i}"));
        let mut rng = Rng::new(seed ^ (0xC0FFEE * (i as u64 + 1)));
        let (answer, reject) = match rng.below(3) {
            0 => (Answer::Pend, NDIS_STATUS_NOT_ACCEPTED),
            _ => (Answer::Sync, NDIS_STATUS_NOT_ACCEPTED),
        };
        emu.set_incoming_answer(me, answer, NDIS_STATUS_SUCCESS);
        if rng.below(2) == 0 {
            emu.set_notify_close_answer(me, Answer::Pend);
        }
        // Half the clients react inside NDIS's calls into them (delete
        // their VC inside the close's or a failed call's completion, close
        // inside the incoming close, ...), chosen by an RNG of their own so
        // the scripts' steps stay what the seed made them before.
        let inside = reacts_inside() && Rng::new(seed ^ (0x1A5_1DE * (i as u64 + 1))).below(2) == 0;
        emu.set_reacts_inside(me, inside);
        let mut s = Script {
            i,
            emu,
            rng,
            me,
            af: None,
            saps: Vec::new(),
            vcs: Vec::new(),
            parties: Vec::new(),
            reject,
            coverage: Coverage::new(),
            problems: Vec::new(),
            nbls_sent: 0,
            inside,
        };
        // Every client starts with its AF open and a SAP, so calls connect.
        let r = emu.open_af(me, config::AF);
        s.record(Op::OpenAf, status_of(&r));
        s.af = r.ok();
        if let Some(af) = s.af {
            let r = emu.register_sap(af, SAP_TYPE_ADDRESS, &address(i, 0));
            s.record(Op::RegisterSap, status_of(&r));
            s.saps.extend(r.ok());
        }
        all_up.wait();
        for k in 0..steps {
            s.step(i == halter && k == halt_at);
        }
        finished.fetch_add(1, Ordering::SeqCst);
        // A client that pends its answers answers the calls offered to it
        // until every client is done (a halt may still be waiting for it).
        while finished.load(Ordering::SeqCst) < CLIENTS {
            s.answer_offers();
            std::thread::yield_now();
        }
        s.answer_offers();
        (s.me, s.coverage, s.problems, s.nbls_sent)
    });
    let mut coverage = Coverage::new();
    let mut problems = Vec::new();
    for (_, cov, probs, _) in &scripts {
        for (op, (ok, refused)) in cov {
            let e = coverage.entry(*op).or_default();
            e.0 += ok;
            e.1 += refused;
        }
        problems.extend(probs.iter().cloned());
    }
    let halted = emu.halt_adapter();
    if halted.is_ok() {
        let e = coverage.entry(Op::Halt).or_default();
        e.0 += 1;
    }
    for (i, (me, _, _, sent)) in scripts.iter().enumerate() {
        let results = emu.send_results(*me);
        if results.len() != *sent {
            problems.push(format!(
                "client {i}: {} NBL(s) sent, {} completion(s) after the halt",
                sent,
                results.len()
            ));
        }
        for r in results {
            if !allowed_send_completion(r) {
                problems.push(format!("client {i}: a sent NBL completed with {r:#010x}"));
            }
        }
    }
    emu.unload().expect("unload");
    let report = emu.finish();
    RunResult {
        steps: steps * CLIENTS,
        coverage,
        problems,
        report,
    }
}

/// Whether clients may react inside NDIS's calls (`Emulator::set_reacts_inside`):
/// yes, unless `THREADED_MODEL_INSIDE=0` (to replay a seed recorded before
/// the option existed with the clients it ran with).
fn reacts_inside() -> bool {
    std::env::var("THREADED_MODEL_INSIDE").map_or(true, |v| v != "0")
}

/// The total step budget, from the environment.
fn budget() -> usize {
    let dflt = 3_000;
    let steps = std::env::var("THREADED_MODEL_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(dflt);
    if std::env::var_os("COVMINI_UNDER_VALGRIND").is_some() {
        (steps / 10).max(CLIENTS * 20)
    } else {
        steps
    }
}

/// The random threaded runs, seed after seed until the budget is spent:
/// every status within its allowed set, every sent NBL completed once with
/// an allowed status, and every run clean (no violation, no leak) after
/// halt and unload. Prints steps/s and per-operation coverage.
#[test]
fn random_clients_on_threads_with_a_racing_halt_stay_clean() {
    let total = budget();
    let first: u64 = std::env::var("THREADED_MODEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7EAD);
    let per_client = STEPS_PER_CLIENT.min(total.div_ceil(CLIENTS)).max(1);
    let started = Instant::now();
    let mut done = 0;
    let mut seeds = 0u64;
    let mut coverage = Coverage::new();
    let keep_going = std::env::var_os("THREADED_MODEL_KEEP_GOING").is_some();
    let mut failures: Vec<String> = Vec::new();
    while done < total {
        let seed = first + seeds;
        let r = run(seed, per_client);
        let clean = r.problems.is_empty() && r.report.is_clean();
        if let (false, Some(path)) = (clean, std::env::var_os("THREADED_MODEL_TRACE")) {
            // The events, then what failed: each violation (with its
            // objects' histories) and each problem of the test's own.
            let mut trace: Vec<String> = r.report.events.iter().map(|e| format!("{e}")).collect();
            trace.push("--- violations".to_owned());
            trace.extend(r.report.violations.iter().map(|v| format!("{v}")));
            trace.push("--- problems".to_owned());
            trace.extend(r.problems.iter().cloned());
            std::fs::write(path, trace.join("\n")).expect("write the trace");
        }
        if !clean && keep_going {
            // The soak's census: the seed and what it found, then on.
            let what = r
                .report
                .violations
                .first()
                .map(|v| format!("{v}"))
                .or_else(|| r.problems.first().cloned())
                .unwrap_or_default();
            failures.push(format!("seed {seed}: {}", what.chars().take(300).collect::<String>()));
        } else {
            assert!(
                clean,
                "seed {seed} ({per_client} steps per client, {CLIENTS} clients; rerun with THREADED_MODEL_SEED={seed} \
                 THREADED_MODEL_STEPS={}): {:#?}\n{}",
                per_client * CLIENTS,
                r.problems,
                r.report
            );
        }
        for (op, (ok, refused)) in r.coverage {
            let e = coverage.entry(op).or_default();
            e.0 += ok;
            e.1 += refused;
        }
        done += r.steps;
        seeds += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "threaded model: {done} steps, {seeds} seeds from {first:#x}, {CLIENTS} client CPUs + 2 worker + 2 DPC, \
         {:.0} steps/s",
        done as f64 / secs.max(1e-9)
    );
    println!("{:<20} {:>10} {:>10}", "operation", "succeeded", "refused");
    for (op, (ok, refused)) in &coverage {
        println!("{:<20} {ok:>10} {refused:>10}", format!("{op:?}"));
    }
    for f in &failures {
        println!("FAILED {f}");
    }
    assert!(failures.is_empty(), "{} seed(s) failed (above)", failures.len());
    // Coverage that proves the runs did something (given a few thousand
    // steps; valgrind's budget is smaller): calls connected and closed,
    // sends went, halts happened.
    let basic: &[Op] = if done >= 3_000 {
        &[Op::MakeCall, Op::CloseCall, Op::Send, Op::Halt, Op::CreateVc]
    } else {
        &[Op::Halt, Op::CreateVc]
    };
    for &op in basic {
        assert!(
            coverage.get(&op).is_some_and(|c| c.0 > 0),
            "{op:?} never succeeded: {coverage:?}"
        );
    }
    // And, given tens of thousands of steps (the soak), every kind of
    // operation succeeded at least once: multipoint calls and parties too.
    if done >= 30_000 {
        let never: Vec<Op> = ALL_OPS
            .iter()
            .copied()
            .filter(|op| coverage.get(op).is_none_or(|c| c.0 == 0))
            .collect();
        assert!(never.is_empty(), "never succeeded: {never:?} ({coverage:?})");
    }
}

/// Brings covmini up in the threaded mode (two worker and two DPC CPUs).
fn up(seed: u64) -> Emulator {
    let mut emu = Emulator::threaded(seed, 2);
    emu.load(common::driver::driver_entry()).expect("DriverEntry");
    emu.add_adapter().expect("adapter");
    emu
}

/// Halts, unloads, and reports.
fn down(mut emu: Emulator) -> Report {
    emu.halt_adapter().expect("halt");
    emu.unload().expect("unload");
    emu.finish()
}

/// How many times each race is produced.
fn rounds() -> usize {
    if std::env::var_os("COVMINI_UNDER_VALGRIND").is_some() {
        4
    } else {
        60
    }
}

/// Both ends closing at once: alice and bob hang up the same call on two
/// CPUs released by one barrier, round after round. covmini tells each the
/// other hung up (NdisMCmDispatchIncomingCloseCall) while the other's own
/// NdisClCloseCall may already have marked its VC closing; either way each
/// close ends SUCCESS or PENDING, and the run is clean.
#[test]
fn both_ends_closing_at_once_is_clean() {
    let mut emu = up(0xB07);
    let alice = emu.client("alice");
    let bob = emu.client("bob");
    let a_af = emu.open_af(alice, config::AF).expect("AF");
    let b_af = emu.open_af(bob, config::AF).expect("AF");
    emu.register_sap(b_af, SAP_TYPE_ADDRESS, b"bob").expect("SAP");
    let go = Barrier::new(2);
    let vc_slot = Mutex::new(None);
    let n = rounds();
    emu.concurrently(2, |i, emu| {
        for _ in 0..n {
            if i == 0 {
                let vc = emu.create_vc(a_af).expect("VC");
                assert_eq!(emu.make_call(vc, &call_to(b"bob")), NDIS_STATUS_SUCCESS);
                *vc_slot.lock().unwrap() = Some(vc);
            }
            go.wait();
            let mine = if i == 0 {
                vc_slot.lock().unwrap().expect("alice's VC")
            } else {
                *emu.offered_vcs(bob).last().expect("bob's VC")
            };
            go.wait();
            let s = emu.close_call(mine, &[]);
            assert!(
                [NDIS_STATUS_SUCCESS, NDIS_STATUS_PENDING, NDIS_STATUS_FAILURE].contains(&s),
                "close {s:#x}"
            );
            go.wait();
            if i == 0 {
                emu.pump();
                let _ = emu.delete_vc(mine);
            }
            go.wait();
        }
    });
    let report = down(emu);
    assert_clean(&report);
}

/// A root's close crossing a leaf's: alice calls bob with a multipoint call
/// (bob is the leaf), then alice closes the call while bob hangs up his
/// leaf, at once. Clean every time.
#[test]
fn a_roots_close_crossing_a_leafs_close_is_clean() {
    let mut emu = up(0x2007);
    let alice = emu.client("alice");
    let bob = emu.client("bob");
    let a_af = emu.open_af(alice, config::AF).expect("AF");
    let b_af = emu.open_af(bob, config::AF).expect("AF");
    emu.register_sap(b_af, SAP_TYPE_ADDRESS, b"bob").expect("SAP");
    let go = Barrier::new(2);
    let vc_slot = Mutex::new(None);
    let n = rounds();
    emu.concurrently(2, |i, emu| {
        for _ in 0..n {
            if i == 0 {
                let vc = emu.create_vc(a_af).expect("VC");
                let (s, _) = emu.make_multipoint_call(vc, &call_to(b"bob"));
                assert_eq!(s, NDIS_STATUS_SUCCESS);
                *vc_slot.lock().unwrap() = Some(vc);
            }
            go.wait();
            let mine = if i == 0 {
                vc_slot.lock().unwrap().expect("alice's VC")
            } else {
                *emu.offered_vcs(bob).last().expect("bob's leaf VC")
            };
            go.wait();
            let s = emu.close_call(mine, &[]);
            assert!(
                [NDIS_STATUS_SUCCESS, NDIS_STATUS_PENDING, NDIS_STATUS_FAILURE].contains(&s),
                "close {s:#x}"
            );
            go.wait();
            if i == 0 {
                emu.pump();
                let _ = emu.delete_vc(mine);
            }
            go.wait();
        }
    });
    let report = down(emu);
    assert_clean(&report);
}

/// Deregister SAP racing an offer: bob deregisters his SAP on one CPU while
/// alice calls it on another. The call connects or finds no route; the
/// deregistration ends SUCCESS or PENDING (covmini pends it while the offer
/// is in flight); the run is clean every time.
#[test]
fn deregister_sap_racing_an_offer_is_clean() {
    let mut emu = up(0x5A9);
    let alice = emu.client("alice");
    let bob = emu.client("bob");
    let a_af = emu.open_af(alice, config::AF).expect("AF");
    let b_af = emu.open_af(bob, config::AF).expect("AF");
    let go = Barrier::new(2);
    let sap_slot = Mutex::new(None);
    let n = rounds();
    emu.concurrently(2, |i, emu| {
        for _ in 0..n {
            if i == 1 {
                *sap_slot.lock().unwrap() = Some(emu.register_sap(b_af, SAP_TYPE_ADDRESS, b"bob").expect("SAP"));
            }
            go.wait();
            if i == 0 {
                let vc = emu.create_vc(a_af).expect("VC");
                let s = emu.make_call(vc, &call_to(b"bob"));
                assert!(
                    [NDIS_STATUS_SUCCESS, NDIS_STATUS_NO_ROUTE_TO_DESTINATION].contains(&s),
                    "make call {s:#x}"
                );
                if s == NDIS_STATUS_SUCCESS {
                    assert_eq!(emu.close_call(vc, &[]), NDIS_STATUS_SUCCESS);
                }
                assert_eq!(emu.delete_vc(vc), NDIS_STATUS_SUCCESS);
            } else {
                let sap = sap_slot.lock().unwrap().expect("bob's SAP");
                let s = emu.deregister_sap(sap);
                assert!(
                    [NDIS_STATUS_SUCCESS, NDIS_STATUS_PENDING].contains(&s),
                    "deregister {s:#x}"
                );
            }
            go.wait();
            emu.pump();
            go.wait();
        }
    });
    let report = down(emu);
    assert_clean(&report);
}

/// A synchronous answer is the client's only answer: bob answers alice's
/// calls inside ProtocolClIncomingCall (`Answer::Sync`, the default) while
/// his own thread keeps calling NdisClIncomingCallComplete on every call he
/// was offered, as a client that pends some of its answers does
/// (`Script::answer_offers`). NdisClIncomingCallComplete is only for a call
/// whose ProtocolClIncomingCall returned PENDING (its DDI page), so each of
/// bob's answers must be refused, and the run clean. ndis-emu used to
/// record a synchronous answer only after dropping its lock, after the
/// offer: bob's thread could answer the call in between, and the
/// synchronous answer's ProtocolCmIncomingCallComplete then ran after
/// covmini had connected, closed and deleted the VC, on a context since
/// reused for the next call's VC (the soaks' `incoming.connected-after-accept`,
/// seeds 580, 700902, 901302). The window has no DDI boundary in it, so
/// `ndis_emu::interleave` cannot stop there: this test hammers it.
#[test]
fn a_synchronous_answer_is_never_answered_again() {
    let mut emu = up(0x5A5);
    let alice = emu.client("alice");
    let bob = emu.client("bob");
    let a_af = emu.open_af(alice, config::AF).expect("AF");
    let b_af = emu.open_af(bob, config::AF).expect("AF");
    emu.register_sap(b_af, SAP_TYPE_ADDRESS, b"bob").expect("SAP");
    let n = rounds() * 20;
    let done = AtomicUsize::new(0);
    let answered = AtomicUsize::new(0);
    emu.concurrently(2, |i, emu| {
        if i == 0 {
            for _ in 0..n {
                let vc = emu.create_vc(a_af).expect("VC");
                let s = emu.make_call(vc, &call_to(b"bob"));
                assert_eq!(s, NDIS_STATUS_SUCCESS, "make call");
                let s = emu.close_call(vc, &[]);
                assert!([NDIS_STATUS_SUCCESS, NDIS_STATUS_PENDING].contains(&s), "close {s:#x}");
                emu.pump();
                assert_eq!(emu.delete_vc(vc), NDIS_STATUS_SUCCESS, "delete VC");
            }
            done.store(1, Ordering::SeqCst);
        } else {
            while done.load(Ordering::SeqCst) == 0 {
                for vc in emu.offered_vcs(bob) {
                    if emu.answer_incoming(vc, NDIS_STATUS_SUCCESS).is_ok() {
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        }
    });
    let report = down(emu);
    assert_clean(&report);
    assert_eq!(
        answered.load(Ordering::SeqCst),
        0,
        "bob answered a call he had answered already"
    );
}

//! Deterministic interleavings (`ndis_emu::interleave`): a script stopped at
//! a chosen DDI boundary, before the DDI does anything, while another script
//! runs to completion on another CPU. What it proves: the injected script
//! runs exactly at the point asked for (the Nth DDI call, a named DDI, only
//! inside a named handler), in both modes, the same way every run; a point
//! never reached runs nothing; every DDI the victim crosses is recorded, so
//! a sweep can stop it at each one; an injected script that needs a spin
//! lock the stopped victim holds lets the victim run to its release instead
//! of deadlocking; one that waits on an event only the victim sets ends the
//! turns instead of hanging; the hook at the top of every DDI cannot be
//! left out of one (the sources are read); and a scripted client's
//! NdisClCloseAddressFamily stops before NDIS marks the AF closing.

mod fixture_cm;

use std::cell::UnsafeCell;
use std::sync::{Mutex, PoisonError};

use fixture_cm::{AF, Fault, set_fault};
use ndis_emu::ffi::table::table;
use ndis_emu::interleave::{self, At, Interleaving};
use ndis_emu::{CallSpec, Emulator};
use ndis_sys::*;

/// An NDIS_SPIN_LOCK in a static, as a driver's global lock.
struct GlobalLock(UnsafeCell<NDIS_SPIN_LOCK>);
// SAFETY: the lock is only touched through the NDIS spin-lock DDIs, which
// serialize CPUs; OldIrql only by the holder.
unsafe impl Sync for GlobalLock {}
impl GlobalLock {
    const fn new() -> Self {
        Self(UnsafeCell::new(NDIS_SPIN_LOCK {
            SpinLock: 0,
            OldIrql: 0,
        }))
    }
    fn acquire(&self) {
        // SAFETY: a lock in static storage, initialized (zero); the callers
        // run at PASSIVE_LEVEL.
        unsafe { NdisAcquireSpinLock(self.0.get()) };
    }
    fn release(&self) {
        // SAFETY: acquired by this CPU with NdisAcquireSpinLock.
        unsafe { NdisReleaseSpinLock(self.0.get()) };
    }
}

/// What the scripts did, in order (a test's own; tests take turns on the
/// emulator session, so one log at a time is in use).
static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn log(s: impl Into<String>) {
    LOG.lock().unwrap_or_else(PoisonError::into_inner).push(s.into());
}

fn take_log() -> Vec<String> {
    std::mem::take(&mut *LOG.lock().unwrap_or_else(PoisonError::into_inner))
}

static L: GlobalLock = GlobalLock::new();

/// The victim: two DDI boundaries (the acquire and the release of `L`),
/// with a log line before, between and after.
fn victim(_: &Emulator) -> &'static str {
    log("v: before");
    L.acquire();
    log("v: holds L");
    L.release();
    log("v: after");
    "victim"
}

/// The injected script: takes `L` itself.
fn injected(_: &Emulator) -> &'static str {
    log("i: start");
    L.acquire();
    log("i: holds L");
    L.release();
    "injected"
}

/// One run of the two scripts at `at`, on a fresh emulator; the run's log.
fn run(emu: Emulator, at: At) -> (Interleaving<&'static str, &'static str>, Vec<String>) {
    take_log();
    let out = emu.interleave(at, victim, injected);
    // Read before finish() ends the session and the next test clears it.
    let log = take_log();
    let report = emu.finish();
    assert!(report.is_clean(), "{report}");
    (out, log)
}

/// The trace lines the interleaving wrote ("~~").
fn stops(report: &ndis_emu::Report) -> Vec<String> {
    report
        .events
        .iter()
        .filter(|e| e.dir == "~~")
        .map(|e| e.detail())
        .collect()
}

#[test]
fn the_injected_script_runs_before_the_first_boundary_proceeds() {
    let (out, log) = run(Emulator::new(), At::boundary(1));
    assert_eq!(
        log,
        ["v: before", "i: start", "i: holds L", "v: holds L", "v: after"],
        "the injected script ran to its end before the victim's acquire"
    );
    assert_eq!((out.victim, out.injected), ("victim", Some("injected")));
    assert_eq!(out.fired_at, Some(0));
    let names: Vec<_> = out.crossed.iter().map(|c| c.ddi).collect();
    assert_eq!(names, ["KeAcquireSpinLockRaiseToDpc", "KeReleaseSpinLock"]);
    assert!(!out.went_free);
}

#[test]
fn an_injected_script_needing_the_stopped_victims_lock_lets_the_victim_release_it() {
    // Stopped at the release, the victim holds L: the injected script
    // spins on it, the victim gets the turn, releases, and the injected
    // script takes L once the victim has returned (its last boundary).
    let (out, log) = run(Emulator::new(), At::boundary(2));
    assert_eq!(log, ["v: before", "v: holds L", "i: start", "v: after", "i: holds L"]);
    assert_eq!(out.fired_at, Some(1));
    assert_eq!(out.injected, Some("injected"));
}

static M: GlobalLock = GlobalLock::new();

/// An injected script with two boundaries of its own (the acquire and the
/// release of `M`, a lock the victim never takes).
fn injected_on_m(_: &Emulator) -> &'static str {
    log("i: start");
    M.acquire();
    log("i: holds M");
    M.release();
    log("i: after");
    "injected"
}

#[test]
fn an_injected_script_stopped_at_its_back_point_lets_the_victim_run_to_its_end() {
    // Three steps (`Emulator::interleave_back`): the victim stops at its
    // first boundary, the injected script runs to its second (the release
    // of M), stops there before the release does anything, the victim runs
    // to its end, and then the injected script finishes.
    // The emulator first: its session is what makes the tests take turns
    // (and so share LOG one at a time).
    let emu = Emulator::new();
    take_log();
    let out = emu.interleave_back(At::boundary(1), At::boundary(2), victim, injected_on_m);
    let log = take_log();
    let report = emu.finish();
    assert!(report.is_clean(), "{report}");
    assert_eq!(
        log,
        [
            "v: before",
            "i: start",
            "i: holds M",
            "v: holds L",
            "v: after",
            "i: after"
        ],
        "the victim ran to its end between the injected script's acquire and release"
    );
    assert_eq!((out.victim, out.injected), ("victim", Some("injected")));
    assert_eq!((out.fired_at, out.back_fired_at), (Some(0), Some(1)));
    let names: Vec<_> = out.injected_crossed.iter().map(|c| c.ddi).collect();
    assert_eq!(names, ["KeAcquireSpinLockRaiseToDpc", "KeReleaseSpinLock"]);
    assert_eq!(
        stops(&report).len(),
        2,
        "both stops are in the trace: {:?}",
        stops(&report)
    );
    // With no back point it is the two-step interleaving.
    let emu = Emulator::new();
    take_log();
    let out = emu.interleave_back(At::boundary(1), At::NEVER, victim, injected_on_m);
    assert_eq!(
        take_log(),
        [
            "v: before",
            "i: start",
            "i: holds M",
            "i: after",
            "v: holds L",
            "v: after"
        ]
    );
    assert_eq!(out.back_fired_at, None);
    assert!(emu.finish().is_clean());
}

#[test]
fn a_point_never_reached_runs_nothing_and_records_every_boundary() {
    let (out, log) = run(Emulator::new(), At::NEVER);
    assert_eq!(log, ["v: before", "v: holds L", "v: after"]);
    assert_eq!(out.injected, None);
    assert_eq!(out.fired_at, None);
    assert_eq!(out.crossed.len(), 2);
    assert!(out.crossed.iter().all(|c| c.handler.is_none()), "{:?}", out.crossed);
    // A named DDI the victim never calls is never reached either.
    let (out, log) = run(Emulator::new(), At::ddi("NdisMCmDeactivateVc"));
    assert_eq!(out.injected, None);
    assert_eq!(log.len(), 3);
    // Nor is a third release.
    let (out, _) = run(Emulator::new(), At::ddi("KeReleaseSpinLock").nth(2));
    assert_eq!(out.injected, None);
}

#[test]
fn the_same_point_gives_the_same_order_every_run_and_in_the_threaded_mode() {
    let first = run(Emulator::new(), At::ddi("KeReleaseSpinLock")).1;
    for _ in 0..5 {
        assert_eq!(run(Emulator::new(), At::ddi("KeReleaseSpinLock")).1, first);
    }
    for _ in 0..5 {
        assert_eq!(
            run(Emulator::threaded(0, 1), At::ddi("KeReleaseSpinLock")).1,
            first,
            "the two scripts take turns in the threaded mode too"
        );
    }
}

#[test]
fn a_sweep_injects_at_every_boundary_once() {
    let mut logs = Vec::new();
    let (counted, runs) = interleave::sweep(|at| {
        let (out, log) = run(Emulator::new(), at);
        logs.push(log);
        out
    });
    assert_eq!(counted.len(), 2);
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|r| r.injected.is_some()));
    // The counting run and one per boundary, each a different order.
    assert_eq!(logs.len(), 3);
    assert_ne!(logs[1], logs[2]);
}

#[test]
fn a_point_inside_a_handler_stops_the_driver_there() {
    // The loopback fixture: a call (DDIs in ProtocolCmMakeCall), then a
    // send (DDIs in MiniportCoSendNetBufferLists); stop at the send's first.
    set_fault(Fault::None);
    let mut emu = Emulator::new();
    emu.load(fixture_cm::driver_entry).expect("load");
    emu.add_adapter().expect("adapter");
    let (caller, callee) = (emu.client("caller"), emu.client("callee"));
    let caller_af = emu.open_af(caller, AF).expect("AF");
    let callee_af = emu.open_af(callee, AF).expect("AF");
    emu.register_sap(callee_af, 0, b"callee").expect("SAP");
    let vc = emu.create_vc(caller_af).expect("VC");
    let mut spec = CallSpec::best_effort(125_000, 1500);
    spec.media_specific = b"callee".to_vec();
    let r = emu.interleave(
        At::boundary(1).inside("MiniportCoSendNetBufferLists"),
        |emu| {
            assert_eq!(emu.make_call(vc, &spec), NDIS_STATUS_SUCCESS);
            emu.send(vc, &[b"x"]).expect("send");
        },
        // On a CPU of its own, at PASSIVE_LEVEL, while the victim is
        // inside the send handler at DISPATCH_LEVEL.
        |emu| (emu.current_cpu(), emu.current_irql()),
    );
    let (cpu, irql) = r.injected.expect("the point was reached");
    assert_ne!(cpu, emu.current_cpu());
    assert_eq!(irql, PASSIVE_LEVEL);
    let at = r.fired_at.expect("fired");
    assert_eq!(r.crossed[at].handler, Some("MiniportCoSendNetBufferLists"));
    // The make call's DDIs came first and did not count.
    assert!(
        r.crossed[..at].iter().any(|c| c.handler == Some("ProtocolCmMakeCall")),
        "{:?}",
        r.crossed
    );
    let report = emu.finish();
    let stops = stops(&report);
    assert_eq!(stops.len(), 1, "{stops:?}");
    assert!(
        stops[0].contains(&format!("{} in MiniportCoSendNetBufferLists", r.crossed[at].ddi)),
        "{stops:?}"
    );
    assert_eq!(report.of(ndis_emu::rules::UNIMPLEMENTED_DDI).count(), 0, "{report}");
}

/// A scripted client's NdisClCloseAddressFamily is a boundary of its own,
/// after the client decided to close and before NDIS marks the AF closing
/// (the race of a client's close with NDIS's notification of that AF): a
/// second close injected there still finds the AF open and closes it, and
/// the stopped close then finds it closed (NDIS refuses it, FAILURE). Run
/// alone, the close succeeds.
#[test]
fn a_clients_af_close_stops_before_ndis_marks_the_af_closing() {
    set_fault(Fault::None);
    let run = |at: At| {
        let mut emu = Emulator::new();
        emu.load(fixture_cm::driver_entry).expect("load");
        emu.add_adapter().expect("adapter");
        let client = emu.client("client");
        let af = emu.open_af(client, AF).expect("AF");
        let r = emu.interleave(at, |emu| emu.close_af(af), |emu| emu.close_af(af));
        // No halt: the fixture keeps its AFs per thread, and the injected
        // close ran on a thread of its own.
        (r, emu.finish())
    };
    let (alone, _) = run(At::NEVER);
    assert_eq!(alone.victim, NDIS_STATUS_SUCCESS);
    assert_eq!(alone.crossed.first().map(|c| c.ddi), Some("NdisClCloseAddressFamily"));
    let (r, report) = run(At::ddi("NdisClCloseAddressFamily"));
    assert_eq!(
        r.injected,
        Some(NDIS_STATUS_SUCCESS),
        "the AF was still open at the stop"
    );
    assert_eq!(r.victim, NDIS_STATUS_FAILURE, "the stopped close finds the AF closed");
    let at = r.fired_at.expect("fired");
    assert_eq!(
        r.crossed[at].handler, None,
        "no driver handler ran yet: {:?}",
        r.crossed
    );
    let closes = report
        .events
        .iter()
        .filter(|e| e.dir == "->" && e.name == "ProtocolCmCloseAf")
        .count();
    assert_eq!(closes, 1, "ProtocolCmCloseAf once, for the injected close");
    let stops = stops(&report);
    assert!(
        stops.len() == 1 && stops[0].contains("NdisClCloseAddressFamily in no handler"),
        "{stops:?}"
    );
    assert_eq!(report.of(ndis_emu::rules::HANDLE_VALID).count(), 0, "{report}");
}

/// An NDIS_EVENT in a static.
struct GlobalEvent(UnsafeCell<NDIS_EVENT>);
// SAFETY: touched only through the NDIS event DDIs.
unsafe impl Sync for GlobalEvent {}
static EVENT: GlobalEvent = GlobalEvent(UnsafeCell::new(NDIS_EVENT {
    Event: KEVENT {
        Header: DISPATCHER_HEADER {
            Type: 0,
            Signalling: 0,
            Size: 0,
            Reserved1: 0,
            SignalState: 0,
            WaitListHead: LIST_ENTRY {
                Flink: std::ptr::null_mut(),
                Blink: std::ptr::null_mut(),
            },
        },
    },
}));

#[test]
fn an_injected_script_waiting_for_the_victim_ends_the_turns() {
    let emu = Emulator::threaded(0, 1);
    // SAFETY: a static event, at PASSIVE_LEVEL.
    unsafe { NdisInitializeEvent(EVENT.0.get()) };
    let out = emu.interleave(
        At::boundary(1),
        |_| {
            L.acquire();
            L.release();
            // SAFETY: initialized above.
            unsafe { NdisSetEvent(EVENT.0.get()) };
        },
        // SAFETY: initialized above; PASSIVE_LEVEL; no timeout (the victim sets it).
        |_| unsafe { NdisWaitEvent(EVENT.0.get(), 0) },
    );
    assert_eq!(out.injected, Some(TRUE), "the victim set the event");
    assert!(out.went_free);
    let report = emu.finish();
    assert!(report.is_clean(), "{report}");
}

#[test]
fn every_exported_ddi_is_a_boundary() {
    // Every `#[unsafe(no_mangle)]` function of the FFI seam is defined with
    // `ddi_fn!`, whose first act is the boundary hook.
    let sources = [
        (
            "bugcheck_callbacks.rs",
            include_str!("../src/ffi/bugcheck_callbacks.rs"),
        ),
        ("cm.rs", include_str!("../src/ffi/cm.rs")),
        ("data.rs", include_str!("../src/ffi/data.rs")),
        ("deferred.rs", include_str!("../src/ffi/deferred.rs")),
        ("etw.rs", include_str!("../src/ffi/etw.rs")),
        ("events.rs", include_str!("../src/ffi/events.rs")),
        ("exports.rs", include_str!("../src/ffi/exports.rs")),
        ("io.rs", include_str!("../src/ffi/io.rs")),
        ("lookaside.rs", include_str!("../src/ffi/lookaside.rs")),
        ("nbl.rs", include_str!("../src/ffi/nbl.rs")),
        ("pnp.rs", include_str!("../src/ffi/pnp.rs")),
        ("client.rs", include_str!("../src/ffi/client.rs")),
        ("protocol.rs", include_str!("../src/ffi/protocol.rs")),
        ("unimplemented.rs", include_str!("../src/ffi/unimplemented.rs")),
    ];
    let mut defined = Vec::new();
    for (file, text) in sources {
        let mut opener = "";
        for line in text.lines() {
            let t = line.trim();
            if t == "ndis_fn! {" || t == "ddi_fn! {" {
                opener = t;
            }
            if t.starts_with("#[unsafe(no_mangle)]") {
                assert_eq!(opener, "ddi_fn! {", "{file}: an export outside ddi_fn!: {line}");
            }
            if opener == "ddi_fn! {"
                && let Some(rest) = t.strip_prefix("pub unsafe fn ")
            {
                defined.push(rest.split('(').next().unwrap_or_default().to_string());
            }
        }
    }
    // The unimplemented DDIs are defined through a macro of their own.
    let unimplemented = include_str!("../src/ffi/unimplemented.rs");
    for import in table() {
        let found = defined.iter().any(|d| d == import.name) || unimplemented.contains(&format!("fn {}(", import.name));
        assert!(
            found,
            "{} is in the import table but not defined with ddi_fn!",
            import.name
        );
    }
}

#[test]
fn an_interleaving_runs_from_a_script_of_concurrently_too() {
    // The victim is whichever CPU calls interleave: here a client script's.
    let mut emu = Emulator::threaded(0, 1);
    take_log();
    let out = emu.concurrently(1, |_, emu| {
        let cpu = emu.current_cpu();
        let r = emu.interleave(At::boundary(1), victim, injected);
        (cpu, r.injected, r.fired_at)
    });
    let log = take_log();
    let report = emu.finish();
    assert!(report.is_clean(), "{report}");
    let (cpu, injected, fired) = out[0];
    assert_ne!(cpu, 0, "a script's CPU");
    assert_eq!((injected, fired), (Some("injected"), Some(0)));
    assert_eq!(log, ["v: before", "i: start", "i: holds L", "v: holds L", "v: after"]);
}

//! The threaded mode itself: CPUs that really run at once. Spin locks
//! exclude CPUs from each other and each CPU has its own IRQL; a CPU that
//! takes a lock it holds is caught while two CPUs taking it in turn are not;
//! work items run on system worker threads at PASSIVE_LEVEL and timer
//! callbacks on DPC threads at DISPATCH_LEVEL; a one-shot timer's callback
//! can be running while the driver cancels it; and the one rule only
//! several CPUs can break (a spin lock released by a CPU that does not hold
//! it) fires there and not in the deterministic mode.

mod fixture_sched;

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::Duration;

use fixture_sched::{Mode, run_threaded, run_with};
use ndis_emu::{Emulator, Report, Rule, rules};
use ndis_sys::*;

/// Asserts that `rule`, and no other rule, fired.
fn only(report: &Report, rule: Rule) {
    assert!(report.of(rule).count() > 0, "{rule} did not fire:\n{report}");
    assert_eq!(report.rules(), vec![rule], "other rules fired too:\n{report}");
}

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

// --- Spin locks and IRQL -------------------------------------------------------

#[test]
fn two_cpus_contending_a_spin_lock_really_exclude_each_other() {
    static LOCK: GlobalLock = GlobalLock::new();
    static INSIDE: AtomicU32 = AtomicU32::new(0);
    static OVERLAP: AtomicBool = AtomicBool::new(false);
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let mut emu = Emulator::threaded(0, 1);
    emu.concurrently(4, |_, _| {
        for _ in 0..300 {
            LOCK.acquire();
            if INSIDE.fetch_add(1, Ordering::SeqCst) != 0 {
                OVERLAP.store(true, Ordering::SeqCst);
            }
            // A read-modify-write that loses updates unless the lock excludes.
            let c = COUNT.load(Ordering::Relaxed);
            std::thread::yield_now();
            COUNT.store(c + 1, Ordering::Relaxed);
            INSIDE.fetch_sub(1, Ordering::SeqCst);
            LOCK.release();
        }
    });
    assert!(!OVERLAP.load(Ordering::SeqCst), "two CPUs were inside the lock at once");
    assert_eq!(COUNT.load(Ordering::SeqCst), 4 * 300);
    let report = emu.finish();
    assert!(report.is_clean(), "{report}");
}

#[test]
fn irql_is_per_cpu() {
    static LOCK: GlobalLock = GlobalLock::new();
    let mut emu = Emulator::threaded(0, 1);
    let both = Barrier::new(2);
    // Each script reports (its CPU, the IRQLs it saw).
    let seen = emu.concurrently(2, |i, emu| {
        let mut irqls = vec![emu.current_irql()];
        if i == 0 {
            LOCK.acquire();
            irqls.push(emu.current_irql());
            both.wait(); // CPU 1 looks now
            both.wait();
            LOCK.release();
        } else {
            both.wait();
            irqls.push(emu.current_irql());
            both.wait();
        }
        irqls.push(emu.current_irql());
        (emu.current_cpu(), irqls)
    });
    assert_ne!(seen[0].0, seen[1].0, "two scripts, two CPUs");
    assert_ne!(seen[0].0, emu.current_cpu(), "not the emulator's own CPU");
    assert_eq!(
        seen[0].1,
        [PASSIVE_LEVEL, DISPATCH_LEVEL, PASSIVE_LEVEL],
        "the holder is raised"
    );
    assert_eq!(
        seen[1].1, [PASSIVE_LEVEL; 3],
        "the other CPU stays at PASSIVE_LEVEL meanwhile"
    );
    assert_eq!(emu.current_irql(), PASSIVE_LEVEL);
    let report = emu.finish();
    assert!(report.is_clean(), "{report}");
}

#[test]
fn a_recursive_acquire_on_one_cpu_is_caught() {
    static LOCK: GlobalLock = GlobalLock::new();
    let mut emu = Emulator::threaded(0, 1);
    emu.concurrently(1, |_, _| {
        LOCK.acquire();
        LOCK.acquire(); // would spin forever on Windows
        LOCK.release();
    });
    let report = emu.finish();
    only(&report, rules::IRQL_BALANCE);
    assert!(
        report.violations[0].detail.contains("while this CPU holds it"),
        "{report}"
    );
    assert_ne!(report.violations[0].cpu, 0, "seen on the script's CPU: {report}");
}

#[test]
fn two_cpus_acquiring_in_turn_wait_for_each_other_and_break_no_rule() {
    static LOCK: GlobalLock = GlobalLock::new();
    let mut emu = Emulator::threaded(0, 1);
    let log = Mutex::new(Vec::new());
    let both = Barrier::new(2);
    emu.concurrently(2, |i, _| {
        if i == 0 {
            LOCK.acquire();
            log.lock().expect("log").push("0 took");
            both.wait();
            // CPU 1 is spinning on the lock now.
            std::thread::sleep(Duration::from_millis(50));
            log.lock().expect("log").push("0 releases");
            LOCK.release();
        } else {
            both.wait();
            LOCK.acquire();
            log.lock().expect("log").push("1 took");
            LOCK.release();
        }
    });
    assert_eq!(*log.lock().expect("log"), ["0 took", "0 releases", "1 took"]);
    let report = emu.finish();
    assert!(report.is_clean(), "{report}");
}

#[test]
#[should_panic(expected = "needs the threaded mode")]
fn concurrent_scripts_need_the_threaded_mode() {
    let mut emu = Emulator::new();
    emu.concurrently(2, |_, _| ());
}

// --- Work items and timers on their threads ----------------------------------------

/// The `->` event of `name`, if any.
fn entry<'a>(report: &'a Report, name: &str) -> Option<&'a ndis_emu::Event> {
    report.events.iter().find(|e| e.dir == "->" && e.name == name)
}

#[test]
fn work_items_run_on_worker_threads_at_passive_and_timers_on_dpc_threads_at_dispatch() {
    let out = run_threaded(Mode::None, 2, |emu| {
        // The work item may have run already (it ran as soon as
        // MiniportInitializeEx queued it); the timer waits for time to move.
        let before = ran_so_far(emu);
        let ran = emu.run_until_idle().expect("idle");
        // The timer fires only now; the work item, now or before.
        assert!((1..=2 - before).contains(&ran), "{ran} ran, {before} before");
        assert_eq!(ran_so_far(emu), 2);
        assert_eq!(emu.pending_deferred(), 0);
        assert_eq!(
            emu.system_time() - ndis_emu::sched::SYSTEM_TIME_BASE,
            10 * ndis_emu::sched::TICKS_PER_MS
        );
    });
    let report = &out.report;
    assert!(report.is_clean(), "{report}");
    assert_eq!(out.ran, ["w1", "t101"]);
    let work = entry(report, "WorkItemRoutine").expect("the work item ran");
    let timer = entry(report, "NetTimerCallback").expect("the timer fired");
    assert_eq!(work.irql, PASSIVE_LEVEL, "{work}");
    assert_eq!(timer.irql, DISPATCH_LEVEL, "{timer}");
    // CPU 0 is the test's thread; workers are 1..=2, DPC threads 3..=4.
    assert!((1..=2).contains(&work.cpu), "{work}");
    assert!((3..=4).contains(&timer.cpu), "{timer}");
    assert!(timer.detail().contains("t=10.0000ms"), "{timer}");
}

/// Routines and callbacks that have returned so far.
fn ran_so_far(emu: &Emulator) -> usize {
    emu.report()
        .events
        .iter()
        .filter(|e| e.dir == "<-" && (e.name == "WorkItemRoutine" || e.name == "NetTimerCallback"))
        .count()
}

#[test]
fn virtual_time_moves_only_when_asked_and_a_periodic_timer_fires_each_period() {
    let out = run_threaded(Mode::Periodic, 2, |emu| {
        // Ten periods of 10 ms; the callbacks run on the DPC threads.
        emu.advance_time(100).expect("advance");
        assert_eq!(
            emu.system_time() - ndis_emu::sched::SYSTEM_TIME_BASE,
            100 * ndis_emu::sched::TICKS_PER_MS
        );
        assert_eq!(emu.pending_deferred(), 1, "the periodic timer stays queued");
    });
    assert!(out.report.is_clean(), "{}", out.report);
    assert_eq!(out.ran.iter().filter(|r| *r == "t101").count(), 10, "{:?}", out.ran);
    assert_eq!(out.ran.iter().filter(|r| *r == "w1").count(), 1, "{:?}", out.ran);
}

#[test]
fn a_one_shot_timer_callback_is_running_while_halt_cancels_it() {
    // The callback is due at once and runs on a DPC thread until HaltEx,
    // on the test's CPU, lets it go: the cancel finds it out of the timer
    // queue (FALSE), and the driver's own wait keeps the free after it.
    let out = run_threaded(Mode::CallbackRunsDuringHalt, 1, |_| {});
    assert_eq!(out.cancel_in_halt, Some(false), "{}", out.report);
    assert!(out.report.is_clean(), "{}", out.report);
    assert_eq!(out.ran, ["t101"]);
}

// --- The rule only several CPUs break ----------------------------------------------

#[test]
fn irql_spin_lock_owner_fires_on_a_release_from_another_cpu() {
    let threaded = run_threaded(Mode::LockReleasedOnAnotherCpu, 2, |emu| {
        emu.run_until_idle().expect("idle");
    });
    only(&threaded.report, rules::IRQL_SPIN_LOCK_OWNER);
    let v = &threaded.report.violations[0];
    assert_eq!(v.call, "KeReleaseSpinLockFromDpcLevel", "{}", threaded.report);
    assert!(v.detail.contains("taken in NetTimerCallback"), "{v}");
    assert!((1..=2).contains(&v.cpu), "released on a worker thread: {v}");
    assert_eq!(threaded.ran, ["t101", "w1"]);
    // On one CPU the same driver releases what it holds: nothing to see.
    let single = run_with(
        Mode::LockReleasedOnAnotherCpu,
        0,
        |_| {},
        |emu| {
            emu.run_until_idle().expect("idle");
        },
    );
    assert!(single.report.is_clean(), "{}", single.report);
    assert_eq!(single.ran, ["t101", "w1"]);
}

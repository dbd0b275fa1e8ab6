//! NDIS's window around a send handler call, and the drain rule it
//! shapes (`data.drain-before-deactivate`).
//!
//! A send is the driver's from the instant its handler is entered: the VC
//! is looked up, the NBLs recorded on it and the entry traced in one
//! critical section (`crate::ffi::data::send_tagged`, through
//! [`handing_over`]), so no CPU ever sees a send NDIS has recorded but not
//! handed over. Between the handler's entry and its first
//! instruction, though, no driver can have counted the call (to make a
//! close on another CPU wait for it): that stretch is NDIS's. Microsoft
//! Learn: NdisMCmDeactivateVc "notifies NDIS that there will be no further
//! transfers on a particular active VC"; "Before it deactivates a VC, the
//! miniport driver must complete any pending transfers on the VC"
//! (NdisMCoDeactivateVcComplete), pending transfers being those the
//! miniport has; and "When NdisMCmDeleteVc returns control, the NdisVcHandle
//! is no longer valid. The MCM driver can release the resources it allocated
//! to maintain state about the deleted VC" (NdisMCmDeleteVc), which would be
//! unsound with a call in flight that the driver cannot know of. ndis-emu
//! sees the driver only at DDI calls, so it counts a send handler call as
//! *taken* by the driver once the driver, inside it, has come back from a
//! DDI call and made another (or returned): a driver can make itself known
//! before its first DDI call, and a driver that refuses at once makes its
//! completion its first. Until then:
//!
//! * NdisMCmDeactivateVc's drain check ([`check_drained`], rule
//!   `data.drain-before-deactivate`) does not count the call's NBLs when it
//!   runs on another CPU; a handler that then returns still holding them on
//!   the VC, now inactive, breaks the same rule (`send_returned`);
//! * NdisMCmDeleteVc and a client's NdisCoDeleteVc wait until the call is
//!   taken or over ([`wait_for_ndis_window`]), as NDIS keeps a VC it has a
//!   call in flight on.
//!
//! On one CPU (the deterministic mode) no such call runs elsewhere, and an
//! interleaving (`crate::interleave`) lets the waited-for CPU run.

//!
//! It owns the per-CPU records of send handler calls in flight (in the
//! world: `Condis::in_handler`) and a per-thread count of those the driver
//! has not taken yet (each CPU is a thread, so a thread-local is the CPU's
//! own; it lets the DDI prologue skip the world when there is none). What
//! it must not do: call into the driver.

use super::rules as r;
use super::{Condis, InHandler};
use crate::world::{self, World};

thread_local! {
    /// Send handler calls in flight on this thread's CPU that the driver
    /// has not taken yet: the DDI prologue looks at the world only while
    /// there is one (at most twice per call).
    static UNTAKEN: core::cell::Cell<u32> = const { core::cell::Cell::new(0) };
}

/// NDIS hands `nbls` over to the send handler on `vc`, on the calling CPU
/// (in the same critical section as it records them on the VC).
pub(crate) fn handing_over(condis: &mut Condis, vc: usize, nbls: &[usize]) {
    condis.in_handler.entry(world::cpu_id()).or_default().push(InHandler {
        vc,
        nbls: nbls.to_vec(),
        boundaries: 0,
    });
}

/// The handler call recorded by [`handing_over`] is about to begin, on
/// the calling CPU: one more call the driver has not taken yet.
pub(crate) fn handed_over() {
    UNTAKEN.with(|n| n.set(n.get() + 1));
}

/// The calling CPU's untaken calls, counted again from the world.
fn recount_untaken(w: &World, me: world::CpuId) {
    let n = w
        .condis
        .in_handler
        .get(&me)
        .map_or(0, |calls| calls.iter().filter(|c| !c.taken()).count());
    UNTAKEN.with(|u| u.set(u32::try_from(n).unwrap_or(u32::MAX)));
}

/// The DDI prologue's part (`crate::ffi::ddi_fn!`): the calling CPU makes a DDI
/// call inside whatever send handler calls it has in flight and has not
/// taken yet.
pub(crate) fn ddi_called() {
    if UNTAKEN.with(core::cell::Cell::get) == 0 {
        return;
    }
    let me = world::cpu_id();
    world::with("a DDI", |w| {
        for call in w.condis.in_handler.get_mut(&me).into_iter().flatten() {
            call.boundaries = call.boundaries.saturating_add(1);
        }
        recount_untaken(w, me);
    });
}

/// The calling CPU's send handler on `vc` returned: its record goes, and
/// should it have kept NBLs of this call on a VC that is no longer active
/// (deactivated while it ran, or before), that breaks the drain rule.
pub(crate) fn send_returned(w: &mut World, vc: usize) {
    let me = world::cpu_id();
    let Some(calls) = w.condis.in_handler.get_mut(&me) else {
        return;
    };
    let Some(i) = calls.iter().rposition(|c| c.vc == vc) else {
        return;
    };
    let call = calls.remove(i);
    if calls.is_empty() {
        w.condis.in_handler.remove(&me);
    }
    recount_untaken(w, me);
    let Some(v) = w.condis.vcs.get(&vc) else { return };
    let held = call.nbls.iter().filter(|m| v.sends_out.contains(m)).count();
    if !v.active && held > 0 {
        w.violate(
            r::DATA_DRAIN_BEFORE_DEACTIVATE,
            "MiniportCoSendNetBufferLists",
            format!("returned holding {held} send(s) on VC {vc:#x}, which is not active (deactivated while the handler ran, or before)"),
            &[vc],
        );
    }
}

/// The CPU (one of them) and the NBLs of the send handler calls on `vc`
/// that run on a CPU other than the caller's and that the driver has not
/// taken yet (module docs).
fn untaken_elsewhere(condis: &Condis, vc: usize) -> (Option<world::CpuId>, Vec<usize>) {
    let me = world::cpu_id();
    let mut cpu = None;
    let mut nbls = Vec::new();
    for (c, calls) in &condis.in_handler {
        for call in calls.iter().filter(|call| *c != me && call.vc == vc && !call.taken()) {
            cpu = Some(*c);
            nbls.extend(call.nbls.iter().copied());
        }
    }
    (cpu, nbls)
}

/// How long a deletion waits for a call in NDIS's window before ndis-emu
/// calls it a deadlock (as a spin lock's).
const WINDOW_DEADLOCK_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

/// Before `call` (NdisMCmDeleteVc, NdisCoDeleteVc) deletes `vc`: waits,
/// with the world lock released, until no send handler call on it that the
/// driver has not taken runs on another CPU (module docs). In an
/// interleaving the turn goes to that CPU meanwhile.
pub(crate) fn wait_for_ndis_window(call: &'static str, vc: usize) {
    let mut since = None;
    loop {
        let Some(cpu) = world::with(call, |w| untaken_elsewhere(&w.condis, vc).0) else {
            return;
        };
        let started = *since.get_or_insert_with(std::time::Instant::now);
        if started.elapsed() > WINDOW_DEADLOCK_AFTER {
            eprintln!(
                "ndis-emu: deadlock: {call} on VC {vc:#x} has waited {}s for CPU {cpu}'s send handler to reach the driver",
                WINDOW_DEADLOCK_AFTER.as_secs()
            );
            std::process::abort();
        }
        crate::interleave::spinning(cpu);
        std::thread::yield_now();
    }
}

/// Runs `f`, a deletion of `vc` by `call`, in the world's critical section
/// once no send handler call on the VC is in NDIS's window on another CPU:
/// the check and the deletion are one critical section, so no send can be
/// handed over between them (a send looked up after the wait but before
/// the deletion would otherwise run in the driver on a VC NDIS deleted).
pub(crate) fn with_ndis_window_closed<R>(call: &'static str, vc: usize, mut f: impl FnMut(&mut World) -> R) -> R {
    loop {
        wait_for_ndis_window(call, vc);
        if let Some(r) = world::with(call, |w| untaken_elsewhere(&w.condis, vc).0.is_none().then(|| f(w))) {
            return r;
        }
    }
}

/// NdisMCmDeactivateVc's drain check (contract §3.3): no send outstanding,
/// no indicated receive unreturned.
pub(crate) fn check_drained(w: &mut World, vc: usize) {
    // Sends still in NDIS's window on another CPU are not the driver's yet.
    let (_, unseen) = untaken_elsewhere(&w.condis, vc);
    let (sends, receives) = w.condis.vcs.get(&vc).map_or((0, 0), |v| {
        let sends = v.sends_out.iter().filter(|m| !unseen.contains(m)).count();
        (sends, v.receives_out.len())
    });
    if sends + receives > 0 {
        w.violate(
            r::DATA_DRAIN_BEFORE_DEACTIVATE,
            "NdisMCmDeactivateVc",
            format!("VC {vc:#x} deactivated with {sends} send(s) not completed and {receives} receive(s) not returned"),
            &[vc],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condis::{CallState, Creator, VcRec};

    /// A world with one active VC (handle 0x100) holding sends 1 and 2,
    /// handed over in a send handler call running on CPU 3 (the test's
    /// thread is CPU 0) that has begun `boundaries` DDI calls.
    fn world_with_a_send_on_another_cpu(boundaries: u32) -> World {
        let mut w = World::default();
        w.condis.vcs.insert(
            0x100,
            VcRec {
                af: 0,
                client: 0,
                client_context: 0,
                creator: Creator::CallManager,
                cm_context: 0,
                active: true,
                call: CallState::Connected,
                sap: None,
                parties: Vec::new(),
                closed_while_active: false,
                activated_in_call: false,
                sends_out: [1, 2].into_iter().collect(),
                receives_out: Default::default(),
            },
        );
        w.condis.in_handler.insert(
            3,
            vec![InHandler {
                vc: 0x100,
                nbls: vec![1, 2],
                boundaries,
            }],
        );
        w
    }

    #[test]
    fn a_send_in_ndis_window_on_another_cpu_is_not_the_drivers_to_drain_yet() {
        for boundaries in [0, 1] {
            let mut w = world_with_a_send_on_another_cpu(boundaries);
            assert_eq!(untaken_elsewhere(&w.condis, 0x100), (Some(3), vec![1, 2]));
            check_drained(&mut w, 0x100);
            assert!(w.violations.is_empty(), "{boundaries}: {:?}", w.violations);
        }
    }

    #[test]
    fn a_send_the_driver_took_is_drained_before_deactivation() {
        // Back from one DDI call and into a second: the driver's.
        let mut w = world_with_a_send_on_another_cpu(2);
        assert_eq!(untaken_elsewhere(&w.condis, 0x100), (None, vec![]));
        check_drained(&mut w, 0x100);
        assert_eq!(w.violations.len(), 1);
        assert_eq!(w.violations[0].rule, r::DATA_DRAIN_BEFORE_DEACTIVATE);
        assert!(
            w.violations[0].detail.contains("2 send(s)"),
            "{}",
            w.violations[0].detail
        );
    }

    #[test]
    fn a_send_on_this_cpu_is_the_drivers_at_once() {
        // The deactivating CPU runs the handler itself (nested): no window.
        let mut w = world_with_a_send_on_another_cpu(0);
        let call = w.condis.in_handler.remove(&3).expect("call");
        w.condis.in_handler.insert(world::cpu_id(), call);
        assert_eq!(untaken_elsewhere(&w.condis, 0x100).0, None);
        check_drained(&mut w, 0x100);
        assert_eq!(w.violations.len(), 1);
    }

    #[test]
    fn a_handler_returning_with_sends_held_on_a_deactivated_vc_breaks_the_drain_rule() {
        let mut w = world_with_a_send_on_another_cpu(0);
        let call = w.condis.in_handler.remove(&3).expect("call");
        w.condis.in_handler.insert(world::cpu_id(), call.clone());
        // Deactivated while the handler ran; it returns still holding both.
        if let Some(v) = w.condis.vcs.get_mut(&0x100) {
            v.active = false;
        }
        send_returned(&mut w, 0x100);
        assert_eq!(w.violations.len(), 1);
        assert_eq!(w.violations[0].rule, r::DATA_DRAIN_BEFORE_DEACTIVATE);
        assert!(w.condis.in_handler.is_empty(), "the call's record goes");
        // Completed before returning: nothing to report.
        let mut w = world_with_a_send_on_another_cpu(0);
        w.condis.in_handler.remove(&3);
        w.condis.in_handler.insert(world::cpu_id(), call);
        if let Some(v) = w.condis.vcs.get_mut(&0x100) {
            v.active = false;
            v.sends_out.clear();
        }
        send_returned(&mut w, 0x100);
        assert!(w.violations.is_empty(), "{:?}", w.violations);
    }
}

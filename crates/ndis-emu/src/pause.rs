//! Pause, restart and PnP events in the middle of a run, MiniportCancelSend,
//! and a client that holds the receive NBLs indicated to it.
//!
//! What it owns: the rules of a pause (MiniportPause, NdisMPauseComplete,
//! "Pausing an Adapter" \[D\]) and their checks, over the adapter's
//! data-path state as NDIS sees it (`DataPath`, kept in
//! `crate::world::pause` with the receive NBLs a holding client keeps:
//! Paused after MiniportInitializeEx, Running after MiniportRestart,
//! Pausing while a MiniportPause that returned NDIS_STATUS_PENDING waits for
//! NdisMPauseComplete). The calls into the driver that move it
//! ([`crate::Emulator::pause_adapter`], the pause before a halt, a holding
//! client's return) are `crate::lifecycle`'s.
//!
//! NDIS pauses the protocol bindings of an adapter before it pauses the
//! miniport, so a real protocol does not send to a paused miniport; the
//! emulator still passes a client's sends through, to check that the
//! miniport refuses them (each NBL with NDIS_STATUS_PAUSED).
//!
//! What it must not do: call into the driver (that is `ffi::pnp`, driven
//! from `crate::lifecycle`), or name the layers above it (the DDI shims, the
//! Emulator).

use ndis_sys::*;

use crate::world::World;
pub use crate::world::pause::DataPath;

crate::define_rules! { PAUSE:
    PAUSE_STATUS, "pause.status", true, "MiniportPause [D] (\"Miniport drivers cannot fail a pause request\")", "pause_status_fires_on_a_failed_pause",
        "MiniportPause returns NDIS_STATUS_SUCCESS or NDIS_STATUS_PENDING: a pause cannot fail.";
    PAUSE_COMPLETE_ONCE, "pause.complete-once", true, "NdisMPauseComplete, MiniportPause [D]", "pause_complete_once_fires_on_completing_a_synchronous_pause",
        "A MiniportPause that returned NDIS_STATUS_PENDING is completed with NdisMPauseComplete exactly once, before NDIS restarts or halts the adapter; NdisMPauseComplete completes no other pause.";
    PAUSE_DRAINED, "pause.drained", true, "MiniportPause, NdisMPauseComplete, \"Pausing an Adapter\" [D]", "pause_drained_fires_with_a_receive_out",
        "A pause completes (MiniportPause returns SUCCESS, or NdisMPauseComplete) only after every send was completed and every indicated receive NBL returned.";
    PAUSE_NO_RECEIVE_WHILE_PAUSED, "pause.no-receive-while-paused", true, "MiniportPause [D] (Paused state: \"should not indicate received network data\")", "pause_no_receive_while_paused_fires_on_an_indication",
        "NdisMCoIndicateReceiveNetBufferLists is not called while the adapter is paused (from a completed pause to the next MiniportRestart).";
}

/// Sends the driver holds (handed over, not completed) and receives not
/// returned, over every VC.
fn outstanding(w: &World) -> (usize, usize) {
    let sending = &w.pause.sending;
    w.condis.vcs.values().fold((0, 0), |(s, r), v| {
        let held = v.sends_out.iter().filter(|n| !sending.contains(n)).count();
        (s + held, r + v.receives_out.len())
    })
}

/// Whether a client's NdisCoSendNetBufferLists on `vc` has not returned
/// yet (its NBLs are on their way into, or inside,
/// MiniportCoSendNetBufferLists).
pub(crate) fn sending_on(w: &World, vc: usize) -> bool {
    w.condis
        .vcs
        .get(&vc)
        .is_some_and(|v| v.sends_out.iter().any(|n| w.pause.sending.contains(n)))
}

/// A pause is completing now: nothing may be in flight.
fn check_drained(w: &mut World, call: &'static str) {
    let (sends, receives) = outstanding(w);
    if sends + receives > 0 {
        let adapter = w.adapter.as_ref().map_or(0, |a| a.handle);
        w.violate(
            PAUSE_DRAINED,
            call,
            format!(
                "the pause completed with {sends} send(s) not completed and {receives} receive NBL(s) not returned"
            ),
            &[adapter],
        );
    }
}

/// MiniportPause returned `status`.
pub(crate) fn pause_returned(w: &mut World, status: NDIS_STATUS) {
    w.pause.in_handler = false;
    let early = std::mem::take(&mut w.pause.early);
    match status {
        NDIS_STATUS_PENDING if early => {}
        NDIS_STATUS_PENDING => w.pause.data_path = DataPath::Pausing,
        NDIS_STATUS_SUCCESS => {
            if early {
                w.violate(
                    PAUSE_COMPLETE_ONCE,
                    "MiniportPause",
                    "called NdisMPauseComplete and returned NDIS_STATUS_SUCCESS: the pause completed twice",
                    &[],
                );
            } else {
                check_drained(w, "MiniportPause");
            }
            w.pause.data_path = DataPath::Paused;
        }
        s => {
            w.violate(
                PAUSE_STATUS,
                "MiniportPause",
                format!(
                    "returned {}; a pause cannot fail (SUCCESS or PENDING only)",
                    crate::trace::Status(s)
                ),
                &[],
            );
            w.pause.data_path = DataPath::Paused;
        }
    }
}

/// The driver called NdisMPauseComplete.
pub(crate) fn pause_completed(w: &mut World, call: &'static str) {
    let problem = if w.pause.in_handler {
        if w.pause.early {
            Some("a second NdisMPauseComplete inside one MiniportPause")
        } else {
            w.pause.early = true;
            None
        }
    } else if w.pause.data_path == DataPath::Pausing {
        None
    } else {
        Some("no MiniportPause is pending (it returned SUCCESS, was completed already, or never ran)")
    };
    match problem {
        Some(p) => w.violate(PAUSE_COMPLETE_ONCE, call, p, &[]),
        None => {
            check_drained(w, call);
            w.pause.data_path = DataPath::Paused;
        }
    }
}

/// A receive indication on `vc`: not while paused.
pub(crate) fn check_receive(w: &mut World, vc: usize) {
    if w.pause.data_path == DataPath::Paused && !w.pause.in_handler {
        w.violate(
            PAUSE_NO_RECEIVE_WHILE_PAUSED,
            "NdisMCoIndicateReceiveNetBufferLists",
            format!("indicated on VC {vc:#x} while the adapter is paused"),
            &[vc],
        );
    }
}

/// A halt is due: a pause left pending although every client returned
/// what it held never completed.
pub(crate) fn check_completed_before(w: &mut World, what: &'static str) {
    if w.pause.data_path == DataPath::Pausing && !w.pause.in_handler {
        w.violate(
            PAUSE_COMPLETE_ONCE,
            what,
            "a MiniportPause that returned PENDING was never completed with NdisMPauseComplete, though every send and receive came back",
            &[],
        );
        w.pause.data_path = DataPath::Paused;
    }
}

/// Whether the adapter is paused. In the threaded mode it first waits while
/// a pending pause is still waiting for its NdisMPauseComplete (other CPUs
/// may be returning NBLs); in the deterministic mode it answers at once.
pub(crate) fn wait_for_pause(threaded: bool) -> bool {
    if threaded {
        crate::world::wait_until(|w| {
            (w.pause.data_path != DataPath::Pausing).then_some(w.pause.data_path == DataPath::Paused)
        })
        .unwrap_or(false)
    } else {
        crate::world::try_with(|w| w.pause.data_path) == Some(DataPath::Paused)
    }
}

//! Pause, restart and PnP events in the middle of a run, MiniportCancelSend,
//! and a client that holds the receive NBLs indicated to it.
//!
//! What it owns: the adapter's data-path state as NDIS sees it
//! (`DataPath`, kept in `crate::world::pause`: Paused after MiniportInitializeEx, Running after
//! MiniportRestart, Pausing while a MiniportPause that returned
//! NDIS_STATUS_PENDING waits for NdisMPauseComplete), the rules of a pause
//! (MiniportPause, NdisMPauseComplete, "Pausing an Adapter" \[D\]), and the
//! receive NBLs a holding client keeps ([`crate::Emulator::hold_receives`]).
//!
//! NDIS pauses the protocol bindings of an adapter before it pauses the
//! miniport, so a real protocol does not send to a paused miniport; the
//! emulator still passes a client's sends through, to check that the
//! miniport refuses them (each NBL with NDIS_STATUS_PAUSED).
//!
//! What it must not do: call into the driver (that is `ffi::pnp`), or hold
//! the world across such a call.

use ndis_sys::*;

use crate::client::{Client, Vc};
use crate::condis::ClientId;
use crate::emulator::{EmuError, Emulator};
pub use crate::world::pause::DataPath;
use crate::world::{self, World};

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

/// NBLs on their way into MiniportCoSendNetBufferLists.
pub(crate) fn sending(w: &mut World, nbls: &[usize]) {
    w.pause.sending.extend(nbls.iter().copied());
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

/// MiniportCoSendNetBufferLists returned for these NBLs.
pub(crate) fn sent(w: &mut World, nbls: &[usize]) {
    for n in nbls {
        w.pause.sending.remove(n);
    }
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

/// MiniportRestart returned SUCCESS.
pub(crate) fn restarted(w: &mut World) {
    w.pause.data_path = DataPath::Running;
}

/// NDIS is about to call MiniportPause.
pub(crate) fn pause_begins(w: &mut World) {
    w.pause.data_path = DataPath::Pausing;
    w.pause.in_handler = true;
    w.pause.early = false;
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

/// An indication of `nbls` on `vc` to `client`: true when the client keeps
/// them (they stay indicated until [`Emulator::return_held`]).
pub(crate) fn keep(w: &mut World, client: ClientId, vc: usize, nbls: &[usize]) -> bool {
    if !w.pause.holding.contains(&client) {
        return false;
    }
    w.pause.held.entry(client).or_default().push((vc, nbls.to_vec()));
    true
}

/// Whether MiniportPause has to be called before a halt, from the state.
pub(crate) fn running(w: &World) -> bool {
    w.pause.data_path == DataPath::Running
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

/// The pause NDIS makes before MiniportHaltEx: protocols unbind first, so
/// every holding client gives back what it held; then MiniportPause, unless
/// the adapter is paused already (a test paused it); then the pause must be
/// complete. In the threaded mode NDIS waits for a pending pause (another
/// CPU may be completing the last send) before it checks.
pub(crate) fn pause_before_halt(handler: Option<MINIPORT_PAUSE>, ctx: usize, threaded: bool) {
    release_all_holders();
    let due = world::try_with(|w| running(w)).unwrap_or(false);
    if let (true, Some(handler)) = (due, handler) {
        let _ = crate::ffi::pnp::pause(handler, ctx);
        crate::ffi::cm::pump();
    }
    if threaded {
        crate::sync::wait_bounded(|w| w.pause.data_path != DataPath::Pausing);
    }
    world::try_with(|w| check_completed_before(w, "MiniportHaltEx"));
}

/// The adapter is up and no halt has begun (NDIS sends it no PnP event,
/// pause or restart once it is halting).
fn live(a: &crate::world::AdapterRec) -> bool {
    !a.halted && !a.halting
}

/// Every client stops holding and gives back what it held (protocols
/// unbinding before a halt), in indication order per client.
pub(crate) fn release_all_holders() {
    let clients: Vec<ClientId> = world::try_with(|w| {
        w.pause.holding.clear();
        w.pause.held.keys().copied().collect()
    })
    .unwrap_or_default();
    for c in clients {
        return_held_of(c);
    }
}

fn return_held_of(client: ClientId) -> usize {
    let held = world::try_with(|w| w.pause.held.remove(&client))
        .flatten()
        .unwrap_or_default();
    let mut n = 0;
    for (vc, nbls) in held {
        n += nbls.len();
        crate::ffi::data::return_nbls(vc, &nbls);
        crate::ffi::cm::pump();
    }
    n
}

impl Emulator {
    /// MiniportPause, mid-run (NDIS does this to bind or unbind a protocol,
    /// or to attach a filter). Returns what MiniportPause returned: SUCCESS
    /// (the adapter is paused) or PENDING (it is Pausing until the driver
    /// calls NdisMPauseComplete, typically when a holding client returns
    /// its receive NBLs: see [`Self::return_held`], [`Self::wait_for_pause`]).
    /// It returns at once in both modes.
    ///
    /// # Errors
    /// [`EmuError::NoAdapter`] without a running adapter (NDIS pauses only
    /// a running one).
    pub fn pause_adapter(&self) -> Result<NDIS_STATUS, EmuError> {
        self.pnp_op(|| {
            let target = world::try_with(|w| {
                let d = w.driver?;
                let a = w.adapter.as_ref().filter(|a| live(a))?;
                (w.pause.data_path == DataPath::Running).then_some((d.chars.PauseHandler?, a.context))
            })
            .flatten();
            let (handler, ctx) = target.ok_or(EmuError::NoAdapter)?;
            let status = crate::ffi::pnp::pause(handler, ctx);
            crate::ffi::cm::pump();
            Ok(status)
        })
    }

    /// Where the adapter's data path is (None: no emulator on this thread).
    #[must_use]
    pub fn data_path(&self) -> Option<DataPath> {
        world::try_with(|w| w.pause.data_path)
    }

    /// Whether the adapter is paused. In the threaded mode it first waits
    /// while a pending pause is still waiting for its NdisMPauseComplete
    /// (other CPUs may be returning NBLs); in the deterministic mode it
    /// answers at once.
    #[must_use]
    pub fn wait_for_pause(&self) -> bool {
        if self.is_threaded() {
            world::wait_until(|w| {
                (w.pause.data_path != DataPath::Pausing).then_some(w.pause.data_path == DataPath::Paused)
            })
            .unwrap_or(false)
        } else {
            self.data_path() == Some(DataPath::Paused)
        }
    }

    /// MiniportRestart of a paused adapter (the state after a completed
    /// pause). NDIS waits for a pending pause to complete first; so does
    /// this: a pause still pending is an error here.
    ///
    /// # Errors
    /// [`EmuError::NoAdapter`] without a paused adapter;
    /// [`EmuError::RestartFailed`] if MiniportRestart fails.
    pub fn restart_adapter(&self) -> Result<(), EmuError> {
        self.pnp_op(|| {
            let target = world::try_with(|w| {
                let d = w.driver?;
                let a = w.adapter.as_ref().filter(|a| live(a))?;
                (w.pause.data_path == DataPath::Paused).then_some((d.chars.RestartHandler?, a.context))
            })
            .flatten();
            let (handler, ctx) = target.ok_or(EmuError::NoAdapter)?;
            // The data path may flow from the moment the driver opens it inside
            // MiniportRestart (another CPU may send then); a failed restart
            // leaves the adapter paused.
            world::try_with(restarted);
            let status = crate::ffi::pnp::restart(handler, ctx);
            if status != NDIS_STATUS_SUCCESS {
                world::try_with(|w| w.pause.data_path = DataPath::Paused);
                return Err(EmuError::RestartFailed(status));
            }
            Ok(())
        })
    }

    /// MiniportDevicePnPEventNotify with a NET_DEVICE_PNP_EVENT of `event`
    /// (`NdisDevicePnPEvent*`). A power profile change carries its profile
    /// (`profile`, a ULONG: NdisPowerProfileBattery 0, AcOnLine 1) in the
    /// InformationBuffer; the other events carry none.
    ///
    /// # Errors
    /// [`EmuError::NoAdapter`] without an adapter.
    pub fn pnp_event(&self, event: NDIS_DEVICE_PNP_EVENT, profile: Option<ULONG>) -> Result<(), EmuError> {
        self.pnp_op(|| {
            let target = world::try_with(|w| {
                let d = w.driver?;
                let a = w.adapter.as_ref().filter(|a| live(a))?;
                Some((d.chars.DevicePnPEventNotifyHandler?, a.context))
            })
            .flatten();
            let (handler, ctx) = target.ok_or(EmuError::NoAdapter)?;
            crate::ffi::pnp::pnp_event(handler, ctx, event, profile);
            crate::ffi::cm::pump();
            Ok(())
        })
    }

    /// NdisCoSendNetBufferLists on `vc` with every NBL tagged with
    /// `cancel_id` (NDIS_SET_NET_BUFFER_LIST_CANCEL_ID: the
    /// NetBufferListCancelId slot of NetBufferListInfo).
    /// Refused with NDIS_STATUS_PAUSED once a halt has begun (see
    /// [`Emulator::halt_adapter`]).
    pub fn send_with_cancel_id(&self, vc: Vc, payloads: &[&[u8]], cancel_id: usize) -> Result<(), NDIS_STATUS> {
        let r = self.adapter_call(Err(NDIS_STATUS_PAUSED), || {
            crate::ffi::cm::on_af(crate::ffi::cm::On::Vc(vc.0), Err(NDIS_STATUS_FAILURE), || {
                crate::ffi::data::send_tagged(vc.0, payloads, Some(cancel_id))
            })
        });
        crate::ffi::cm::pump();
        r
    }

    /// NdisCancelSendNetBufferLists: MiniportCancelSend with `cancel_id`,
    /// at DISPATCH_LEVEL.
    ///
    /// # Errors
    /// [`EmuError::NoAdapter`] without an adapter.
    pub fn cancel_sends(&self, cancel_id: usize) -> Result<(), EmuError> {
        self.adapter_call(Err(EmuError::NoAdapter), || {
            let target = world::try_with(|w| {
                let d = w.driver?;
                let a = w.adapter.as_ref().filter(|a| !a.halted)?;
                Some((d.chars.CancelSendHandler?, a.context))
            })
            .flatten();
            let (handler, ctx) = target.ok_or(EmuError::NoAdapter)?;
            crate::ffi::pnp::cancel_send(handler, ctx, cancel_id);
            crate::ffi::cm::pump();
            Ok(())
        })
    }

    /// Whether `client` keeps the receive NBLs indicated to it (true) or
    /// returns each indication once the driver's handler returned (false,
    /// the default). Turning it off returns nothing: see
    /// [`Self::return_held`].
    pub fn hold_receives(&self, client: Client, hold: bool) {
        world::try_with(|w| {
            if hold {
                w.pause.holding.insert(client.0);
            } else {
                w.pause.holding.remove(&client.0);
            }
        });
    }

    /// Returns everything `client` holds (MiniportReturnNetBufferLists, one
    /// call per indication, oldest first); how many NBLs.
    pub fn return_held(&self, client: Client) -> usize {
        return_held_of(client.0)
    }

    /// Receive NBLs `client` holds now.
    #[must_use]
    pub fn held_receives(&self, client: Client) -> usize {
        world::try_with(|w| {
            w.pause
                .held
                .get(&client.0)
                .map_or(0, |h| h.iter().map(|(_, n)| n.len()).sum())
        })
        .unwrap_or(0)
    }
}

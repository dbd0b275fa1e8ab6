//! The scripted clients' answers: what a CoNDIS client does after NDIS
//! called it, run on a CPU once that CPU is out of the driver ([`pump`]),
//! on a thread of its own (the `later` queue: a pended notify-close, an
//! unbind at halt), or while the driver waits in NdisWaitEvent (through
//! `crate::hooks`, which `crate::lifecycle` fills with [`pump`],
//! [`run_action`] and [`unbind_clients_at_halt_wait`]); inside the driver's
//! DDI call that reached the client, for a client that reacts there
//! ([`inside`], through the same hooks); and a client's own serialization of
//! its requests on an AF ([`on_af`]) and of its teardowns of one AF
//! ([`alone`]).
//!
//! It owns the clients' behaviour only: each answer is made of the client
//! requests `crate::ffi::cm` carries to the driver, and the rules are
//! checked below (`crate::condis`). What it must not do: call a driver
//! handler itself, or name the facade (`crate::emulator`),
//! `crate::lifecycle` or `crate::client`, which name it.

use ndis_sys::*;

use crate::condis::{AfState, CallState, ClientAction, Condis, Creator, PartyState, ReqKind, SapState};
use crate::ffi::cm::{
    answer_incoming, close_af, close_call, complete_notify_close, delete_vc, deregister_sap, drop_party,
};
use crate::hooks::Reached;
use crate::world::{self, World};

/// The AF a client request names (directly, or through its SAP, VC or
/// party), if NDIS knows the object.
pub(crate) enum On {
    Af(usize),
    Sap(usize),
    Vc(usize),
    Party(usize),
}

fn af_of(condis: &Condis, on: &On) -> Option<usize> {
    match *on {
        On::Af(a) => Some(a),
        On::Sap(s) => condis.saps.get(&s).map(|x| x.af),
        On::Vc(v) => condis.vcs.get(&v).map(|x| x.af),
        On::Party(p) => condis.parties.get(&p).and_then(|x| condis.vcs.get(&x.vc)).map(|x| x.af),
    }
}

/// Runs `f`, a scripted client's request on the AF `on` names, as a
/// correct client does: not at all once the client is tearing that AF
/// down for NdisCmNotifyCloseAddressFamily (the client refuses its own
/// request: `refused`), and counted as in flight meanwhile, so that the
/// teardown ([`tear_down_af`]) waits for it before it closes calls, deletes
/// VCs and closes the AF (a client does not close what its own request on
/// another thread is still using: NdisClCloseCall "Before calling
/// NdisClCloseCall, a protocol must ensure that all its outstanding send
/// packets have been returned").
pub(crate) fn on_af<R>(on: On, refused: R, f: impl FnOnce() -> R) -> R {
    let af = world::try_with(|w| {
        let af = af_of(&w.condis, &on)?;
        // The client is tearing the AF down (NDIS asked it to, or it is
        // unbinding at halt with the AF's close pending): it stops using it.
        let unbinding = w.condis.unbound_at_halt;
        let tearing = w
            .condis
            .afs
            .get(&af)
            .is_some_and(|a| a.notify_close_pending || (unbinding && a.state == AfState::Closing));
        Some(if tearing {
            None
        } else {
            *w.condis.af_busy.entry(af).or_default() += 1;
            Some(af)
        })
    })
    .flatten();
    match af {
        // Unknown object: NDIS refuses it (inside `f`).
        None => f(),
        Some(None) => refused,
        Some(Some(af)) => {
            let r = f();
            world::try_with(|w| {
                if let Some(n) = w.condis.af_busy.get_mut(&af) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        w.condis.af_busy.remove(&af);
                    }
                }
            });
            world::changed();
            r
        }
    }
}

/// In the threaded mode, waits until no request of the client on `af` is
/// inside the driver (see [`on_af`]).
fn wait_af_idle(af: usize) {
    if world::try_with(|w| w.sched.threaded()).unwrap_or(false) {
        crate::sync::wait_bounded(|w| !w.condis.af_busy.contains_key(&af));
    }
}

/// Runs the scripted clients' deferred answers (incoming closes, NBL
/// returns) that requests on the calling CPU set off, once that CPU is out of
/// the driver, until none is left; bounded so a driver that keeps generating
/// work cannot hang the emulator.
pub(crate) fn pump() {
    for _ in 0..10_000 {
        if !world::outside_driver() {
            return;
        }
        let cpu = world::cpu_id();
        let Some(action) = world::try_with(|w| w.condis.next_action(cpu)).flatten() else {
            return;
        };
        run_action(action);
    }
}

/// [`pump`], then the answers clients give later on threads of their own
/// (a pended notify-close), each followed by what it set off: what
/// `Emulator::pump` runs when the test asks.
pub(crate) fn pump_all() {
    pump();
    for _ in 0..10_000 {
        if !world::outside_driver() {
            return;
        }
        let Some(action) = world::try_with(|w| w.condis.later.pop_front()).flatten() else {
            return;
        };
        run_action(action);
        pump();
    }
}

/// Runs one client answer on the calling CPU (from [`pump`], a driver's
/// wait in NdisWaitEvent, or a system worker thread of the threaded mode).
pub(crate) fn run_action(action: ClientAction) {
    match action {
        ClientAction::CloseCall { vc } => {
            // The client answers the incoming close with NdisClCloseCall,
            // and "Before calling NdisClCloseCall, a protocol must ensure
            // that all its outstanding send packets have been returned"
            // (NdisClCloseCall [D]): in the threaded mode its own
            // NdisCoSendNetBufferLists on the VC may still be under way on
            // another CPU, and it waits for that call to return first.
            if world::try_with(|w| w.sched.threaded()).unwrap_or(false) {
                crate::sync::wait_bounded(|w| !crate::pause::sending_on(w, vc));
            }
            // An answer, not a request of the client's own: it runs also
            // while the client tears the AF down (that teardown needs it).
            let _ = close_call(vc, &[]);
        }
        ClientAction::TearDownAf { af } => tear_down_af(af),
        ClientAction::ReturnNbls { vc, nbls } => crate::ffi::data::return_nbls(vc, &nbls),
        ClientAction::AnswerNotifyClose { af } => answer_notify_close(af),
        ClientAction::CompleteNotifyClose { af } => complete_notify_close(af),
        ClientAction::FinishClose { af } => remove_what_is_left(af),
        ClientAction::DeleteVc { vc } => {
            let _ = delete_vc(vc);
        }
        ClientAction::DropParty { party } => {
            let _ = drop_party(party, &[]);
        }
    }
}

/// NDIS's call into a client inside a driver's DDI call, before that call
/// returns to the driver: a client that reacts there
/// ([`crate::condis::ClientRec::reacts_inside`]) makes its next request
/// from inside its handler, as real clients do:
///
/// * ProtocolClCloseCallComplete (SUCCESS) on a VC it created:
///   NdisCoDeleteVc. "If the given VC was created by the client and Status
///   is NDIS_STATUS_SUCCESS, the client can now do either of the following:
///   Tear down its VC with NdisCoDeleteVc and release or prepare for reuse
///   the context area(s) it allocated [...]" (PROTOCOL_CL_CLOSE_CALL_COMPLETE
///   \[D\], learn.microsoft.com nc-ndis-protocol_cl_close_call_complete);
///   NdisCoDeleteVc is callable at IRQL <= DISPATCH_LEVEL
///   (ndis-ddi-irql.txt: "NF:ndis.NdisCoDeleteVc | <= DISPATCH_LEVEL").
/// * A failed ProtocolClMakeCallComplete on a VC it created: NdisCoDeleteVc
///   ("The VC stays created; the client then calls NdisCoDeleteVc",
///   contract §3.3, failed call).
/// * ProtocolClIncomingCloseCall: NdisClCloseCall. "ProtocolClIncomingCloseCall
///   must then call NdisClCloseCall [...] If the call manager or MCM driver
///   created this VC, ProtocolClIncomingCloseCall should return control
///   after it calls NdisClCloseCall" (learn.microsoft.com, "Incoming Request
///   to Close a Call").
/// * ProtocolClIncomingDropParty: NdisClDropParty ("The client answers with
///   NdisClDropParty", contract §3.5, remote drop).
/// * ProtocolClCloseAfComplete of an AF whose notify-close it pended:
///   NdisClNotifyCloseAddressFamilyComplete (a pended answer completes
///   "once its close has completed", `ClientAction::CompleteNotifyClose`).
/// * A completion its teardown of an AF was waiting for (queued as
///   [`ClientAction::TearDownAf`] or [`ClientAction::FinishClose`]): the
///   teardown goes on there (closes calls, deletes VCs, deregisters SAPs,
///   closes the AF), as a client does from its completion handlers.
///
/// Only at PASSIVE_LEVEL (the emulator calls the driver's handlers these
/// requests reach at PASSIVE_LEVEL; at DISPATCH_LEVEL the client defers, as
/// one queuing a work item does), and only where it cannot step on itself:
/// nothing on an AF while a request of the client on that AF is in flight
/// (a client does not delete, close or drop what its own request on
/// another thread may still be using: the threaded model's soak under the
/// quarantine found ProtocolCmDropParty and ProtocolCmAddParty reaching
/// contexts freed by such reactions), no teardown while another teardown of
/// the AF runs, no close while a send on the VC is inside the driver (the
/// close waits for those, [`run_action`]). Whatever it does not do inside
/// stays queued and runs as before.
pub(crate) fn inside(reached: Reached) {
    if world::irql() != PASSIVE_LEVEL {
        return;
    }
    let cpu = world::cpu_id();
    let now = world::try_with(|w| what_inside(w, reached, cpu)).unwrap_or_default();
    for action in now {
        run_action(action);
    }
}

/// What a client that reacts inside does now for `reached` (removing it
/// from the queues it was deferred to).
fn what_inside(w: &mut World, reached: Reached, cpu: u32) -> Vec<ClientAction> {
    let reacts = |w: &World, client: usize| w.condis.clients.get(client).is_some_and(|c| c.reacts_inside);
    let mut now = Vec::new();
    match reached {
        Reached::Completed(kind, h, status) => {
            let done_with_vc = match kind {
                ReqKind::CloseCall => status == NDIS_STATUS_SUCCESS,
                ReqKind::MakeCall => status != NDIS_STATUS_SUCCESS,
                _ => false,
            };
            let vc = if matches!(kind, ReqKind::MakeCall | ReqKind::CloseCall) {
                w.condis.vcs.get(&h)
            } else {
                None
            };
            if let Some(v) = vc
                && done_with_vc
                && v.creator == Creator::Client
                && v.call == CallState::Closed
                && reacts(w, v.client)
                && !w.condis.deleting.contains(&h)
                // A client does not delete a VC that a request of its own
                // on another thread may still be using: none on the AF.
                && !w.condis.af_busy.contains_key(&v.af)
            {
                now.push(ClientAction::DeleteVc { vc: h });
            }
            // Its close of an AF it was asked to close completed: it
            // completes the notification there, from its
            // ProtocolClCloseAfComplete (NdisClNotifyCloseAddressFamilyComplete,
            // which covmini answers by freeing the AF's context).
            if kind == ReqKind::CloseAf
                && status == NDIS_STATUS_SUCCESS
                && w.condis.afs.get(&h).is_some_and(|a| reacts(w, a.client))
            {
                let done = ClientAction::CompleteNotifyClose { af: h };
                if let Some(i) = w.condis.later.iter().position(|a| *a == done) {
                    w.condis.later.remove(i);
                    now.push(done);
                }
            }
            let af = match kind {
                ReqKind::OpenAf | ReqKind::CloseAf | ReqKind::CmOid | ReqKind::MiniportOid => None,
                ReqKind::RegisterSap | ReqKind::DeregisterSap => af_of(&w.condis, &On::Sap(h)),
                ReqKind::MakeCall | ReqKind::CloseCall | ReqKind::ModifyQos => af_of(&w.condis, &On::Vc(h)),
                ReqKind::AddParty | ReqKind::DropParty => af_of(&w.condis, &On::Party(h)).or_else(|| vc.map(|v| v.af)),
            };
            let owner = af.and_then(|a| w.condis.afs.get(&a)).map(|a| a.client);
            if let (Some(af), Some(owner)) = (af, owner)
                && reacts(w, owner)
                && !w.condis.af_busy.contains_key(&af)
                && !w.condis.tearing.contains_key(&af)
            {
                let queued = w.condis.later.iter().position(|a| {
                    matches!(a, ClientAction::TearDownAf { af: x } | ClientAction::FinishClose { af: x } if *x == af)
                });
                if let Some(action) = queued.and_then(|i| w.condis.later.remove(i)) {
                    w.note(af, "the client goes on with its teardown inside the completion");
                    now.push(action);
                }
            }
        }
        Reached::IncomingClose(vc) => {
            let rec = w.condis.vcs.get(&vc).map(|v| (v.client, v.af));
            if let Some((client, af)) = rec
                && reacts(w, client)
                && !crate::pause::sending_on(w, vc)
                && !w.condis.af_busy.contains_key(&af)
            {
                let queue = w.condis.actions.entry(cpu).or_default();
                let close = ClientAction::CloseCall { vc };
                if let Some(i) = queue.iter().position(|a| *a == close) {
                    queue.remove(i);
                    now.push(close);
                }
            }
        }
        Reached::IncomingDropParty(party) => {
            let client = w
                .condis
                .parties
                .get(&party)
                .filter(|p| p.state == PartyState::Connected)
                .and_then(|p| w.condis.vcs.get(&p.vc))
                .map(|v| (v.client, v.af));
            if let Some((client, af)) = client
                && reacts(w, client)
                && !w.condis.af_busy.contains_key(&af)
            {
                now.push(ClientAction::DropParty { party });
            }
        }
    }
    now
}

/// The later half of a pended ProtocolClNotifyCloseAf: the client tears the
/// AF down as in [`tear_down_af`], then calls
/// NdisClNotifyCloseAddressFamilyComplete, at once if its close completed,
/// else when it does (`apply`, CloseAf).
///
/// An AF the client is already closing on a thread of its own (its
/// NdisClCloseAddressFamily crossed the notification, and the call manager
/// pended it) is not closed again, but what the client left on it is still
/// removed: the call manager completes that close only once it is gone
/// (ProtocolCmCloseAf \[D\]: "After the client has closed all calls and
/// deregistered all SAPs, the call manager can then close the address
/// family"), and the notification asks the client for exactly that
/// (ProtocolClNotifyCloseAf \[D\], learn.microsoft.com
/// nc-ndis-protocol_cl_notify_close_af: "In response, the client should:
/// Call the NdisClDropParty function as many times as necessary until only
/// a single party remains active on each multipoint virtual connection
/// (VC) [...] Call the NdisClCloseCall function as many times as necessary
/// to close all of the calls that are still open [...] Call the
/// NdisClDeregisterSap function as many times as necessary to deregister
/// all of the service access points (SAPs) [...] Call the
/// NdisClCloseAddressFamily function to close the AF"; NdisClCloseAddressFamily
/// \[D\], nf-ndis-ndisclcloseaddressfamily: a client calls it "after it
/// closes all the client's open VCs on the binding"). Waiting for the
/// close alone left HaltEx waiting for ever (seed 3200104 of the threaded
/// soak; RELIABILITY.md).
fn answer_notify_close(af: usize) {
    let state = world::with("ProtocolClNotifyCloseAf", |w| {
        w.note(af, "the client's ProtocolClNotifyCloseAf tears the AF down");
        w.condis.afs.get(&af).map(|a| a.state)
    });
    match state {
        Some(AfState::Open) => tear_down_af(af),
        Some(AfState::Closing) => remove_what_is_left(af),
        _ => {}
    }
    let closed = world::with("NdisClCloseAddressFamily", |w| {
        let Some(a) = w.condis.afs.get_mut(&af) else {
            return true;
        };
        if a.state == AfState::Closed {
            return true;
        }
        a.notify_complete_on_close = true;
        false
    });
    if closed {
        complete_notify_close(af);
    }
}

/// A client answering NdisCmNotifyCloseAddressFamily (contract §1.4):
/// removes what it has on the AF ([`remove_what_is_left`]), then closes it
/// if it is still open (a client closes an AF once: NDIS "fails a second
/// close", contract §3.1), one teardown of the AF at a time ([`alone`]).
fn tear_down_af(af: usize) {
    alone(af, ClientAction::TearDownAf { af }, || {
        remove_what_is_left(af);
        let open = world::try_with(|w| w.condis.afs.get(&af).is_some_and(|a| a.state == AfState::Open));
        if open == Some(true) {
            let _ = close_af(af);
        }
    });
}

/// Runs `f`, a teardown of `af` by its client, while no other teardown of
/// `af` runs: a notify-close's answer, a teardown resumed from a completion
/// and an unbind's removal can be set off on two worker threads at once,
/// but a client runs one teardown of its binding at a time (the
/// notification asks it, once, to "Call the NdisClCloseCall function as
/// many times as necessary to close all of the calls that are still open
/// [...] Call the NdisClCloseAddressFamily function to close the AF",
/// ProtocolClNotifyCloseAf \[D\]; one answer per offer,
/// NdisClIncomingCallComplete \[D\]). Two at once answered one offer
/// twice and crossed one's drop of a party with the other's close of its
/// root. A teardown nested in one this thread runs (a completion inside
/// it) runs at once, as part of it. One set off while another thread's
/// runs does not run and does not wait: it is remembered (`again`, the
/// action that makes it), and the running one queues it when it ends, in
/// the same step as its release, so it then finds what is still left. (A
/// wait would hold the action where no one sees it: a halt's NdisWaitEvent
/// that runs the later queue itself found it empty and the event clear,
/// and called the wait endless.)
fn alone(af: usize, again: ClientAction, f: impl FnOnce()) {
    let me = std::thread::current().id();
    let claimed = world::try_with(|w| match w.condis.tearing.get(&af) {
        None => {
            w.condis.tearing.insert(af, me);
            Some(true)
        }
        Some(t) if *t == me => Some(false),
        Some(_) => {
            // The one that closes the AF covers the one that does not.
            let keep = matches!(w.condis.tearing_again.get(&af), Some(ClientAction::TearDownAf { .. }));
            if !keep {
                w.condis.tearing_again.insert(af, again);
            }
            w.note(
                af,
                "a teardown of the AF is under way on another thread: this one runs after it",
            );
            None
        }
    })
    .flatten();
    let Some(claimed) = claimed else {
        return;
    };
    f();
    if claimed {
        world::try_with(|w| {
            w.condis.tearing.remove(&af);
            if let Some(action) = w.condis.tearing_again.remove(&af)
                && !w.condis.later.contains(&action)
            {
                w.condis.later.push_back(action);
            }
        });
        world::changed();
    }
}

/// A client removing everything it has on `af` through the ordinary NdisCl*
/// paths, once its own requests on the AF in flight on other threads are
/// done ([`on_af`]): it rejects the calls offered to it that it has not
/// answered, drops the parties of its multipoint calls but the last
/// (NdisClCloseCall \[D\]: "the client must call NdisClDropParty one or
/// more times to release all but the last party on the VC before it calls
/// NdisClCloseCall"), closes its calls, deletes the VCs it created and
/// deregisters its SAPs (ProtocolClNotifyCloseAf \[D\];
/// NdisClCloseAddressFamily \[D\]: "A client commonly calls
/// NdisClCloseAddressFamily from its ProtocolUnbindAdapterEx function,
/// after it closes all the client's open VCs on the binding with calls to
/// NdisClCloseCall and/or NdisClDeregisterSap").
fn remove_what_is_left(af: usize) {
    alone(af, ClientAction::FinishClose { af }, || remove_all(af));
}

/// [`remove_what_is_left`]'s body, run [`alone`].
fn remove_all(af: usize) {
    wait_af_idle(af);
    let extra_parties: Vec<usize> = world::with("ProtocolClNotifyCloseAf", |w| {
        w.condis
            .vcs
            .values()
            .filter(|v| v.af == af && v.parties.len() > 1)
            .flat_map(|v| v.parties.iter().skip(1).copied())
            .filter(|p| {
                w.condis
                    .parties
                    .get(p)
                    .is_some_and(|x| x.state == PartyState::Connected)
            })
            .collect()
    });
    for party in extra_parties {
        let _ = drop_party(party, &[]);
    }
    let (vcs, saps) = world::with("ProtocolClNotifyCloseAf", |w| {
        let vcs: Vec<(usize, Creator, CallState)> = w
            .condis
            .vcs
            .iter()
            .filter(|(_, v)| v.af == af)
            .map(|(h, v)| (*h, v.creator, v.call))
            .collect();
        let saps: Vec<usize> = w
            .condis
            .saps
            .iter()
            .filter(|(_, s)| s.af == af && s.state == SapState::Registered)
            .map(|(h, _)| *h)
            .collect();
        (vcs, saps)
    });
    for (vc, _, call) in &vcs {
        if *call == CallState::Offered {
            let _ = answer_incoming(*vc, NDIS_STATUS_FAILURE);
        }
    }
    for (vc, _, call) in &vcs {
        if matches!(call, CallState::Connected | CallState::Accepted | CallState::Outgoing) {
            let _ = close_call(*vc, &[]);
        }
    }
    for (vc, creator, _) in &vcs {
        if *creator == Creator::Client {
            let _ = delete_vc(*vc);
        }
    }
    for sap in saps {
        let _ = deregister_sap(sap);
    }
}

/// NDIS unbinds the clients before it calls MiniportHaltEx (contract §1.4):
/// "Clients unbinding normally close their AFs themselves". A client whose
/// NdisClCloseAddressFamily the call manager pended still owes the removal
/// of what it left on that AF before its unbind is done
/// (NdisClCloseAddressFamily \[D\]: "a client should release all the
/// resources it allocated for connection-oriented communications through
/// the miniport driver before its ProtocolUnbindAdapterEx function calls
/// NdisCloseAdapterEx"; ProtocolCmCloseAf \[D\]: the call manager pends,
/// and "After the client has closed all calls and deregistered all SAPs,
/// the call manager can then close the address family and call
/// NdisMCmCloseAddressFamilyComplete"). The scripted client is as slow as a
/// client can be: it starts when MiniportHaltEx first blocks in
/// NdisWaitEvent, on a thread of its own (the `later` queue, behind any
/// pended notify-close answer), so a driver must wait for that close as
/// well as for its notifications. A driver that does not wait leaves it
/// undone ([`drop_client_answers_at_halt`], `halt.afs-closed`). Called by
/// NdisWaitEvent before it blocks.
pub(crate) fn unbind_clients_at_halt_wait(w: &mut World) {
    if w.condis.unbound_at_halt || w.current_handler() != Some("MiniportHaltEx") {
        return;
    }
    w.condis.unbound_at_halt = true;
    let closing: Vec<usize> = w
        .condis
        .afs
        .iter()
        .filter(|(_, a)| a.state == AfState::Closing)
        .map(|(h, _)| *h)
        .collect();
    for af in closing {
        w.note(
            af,
            "unbinding at halt: the client's close pended, so it removes what it left",
        );
        w.condis.defer_later(ClientAction::FinishClose { af });
    }
    world::changed();
}

/// After MiniportHaltEx returned: the answers clients still owed (a pended
/// notify-close the driver did not wait for) are dropped, not run, so the
/// emulator never calls a halted driver; `condis::rules::check_afs_closed_at_halt` has
/// reported the AFs they concern.
pub(crate) fn drop_client_answers_at_halt() {
    world::try_with(|w| {
        w.condis.unbound_at_halt = false;
        let owed: Vec<ClientAction> = w.condis.later.drain(..).collect();
        for action in owed {
            if let ClientAction::AnswerNotifyClose { af }
            | ClientAction::CompleteNotifyClose { af }
            | ClientAction::FinishClose { af } = action
            {
                w.note(af, "the client's pended close never ran: the adapter was halted first");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;

    /// Two teardowns of one AF set off on two threads at once run one
    /// after the other: the second, set off while the first runs, does not
    /// run then but is queued when the first ends, and a teardown nested
    /// in the first on its own thread (a completion inside it) runs at
    /// once, as part of it. Without [`alone`] the second would run while
    /// the first sleeps (and answer the offers, drop the parties the first
    /// is answering and dropping).
    #[test]
    #[cfg_attr(
        miri,
        ignore = "two OS threads ordered by wall-clock sleeps with 10 s deadlines; Miri's clock and scheduler make those deadlines meaningless"
    )]
    fn two_teardowns_of_one_af_run_one_after_the_other() {
        let _session = world::open(World::default());
        let log = Mutex::new(Vec::new());
        let say = |s: &'static str| log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(s);
        let said = |s: &str| {
            log.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .contains(&s)
        };
        let again = ClientAction::FinishClose { af: 7 };
        // Each thread is a CPU of this world, as the threaded mode's are.
        let cpu = || world::try_with(|w| w.new_cpu(crate::world::CpuKind::Client)).expect("world");
        let (one, two) = (cpu(), cpu());
        std::thread::scope(|s| {
            let first = s.spawn(|| {
                world::become_cpu(one);
                alone(7, ClientAction::TearDownAf { af: 7 }, || {
                    say("first begins");
                    // Until the second has been set off (bounded).
                    let deadline = std::time::Instant::now() + Duration::from_secs(10);
                    while !said("second set off") && std::time::Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    alone(7, again.clone(), || say("nested in the first"));
                    say("first ends");
                });
            });
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while !said("first begins") {
                assert!(std::time::Instant::now() < deadline, "the first teardown never began");
                std::thread::yield_now();
            }
            let second = s.spawn(|| {
                world::become_cpu(two);
                alone(7, again.clone(), || say("second ran while the first did"));
                say("second set off");
            });
            second.join().expect("second");
            // Another AF's teardown is not held up.
            alone(8, ClientAction::FinishClose { af: 8 }, || say("other AF"));
            first.join().expect("first");
        });
        let log = log.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        assert_eq!(
            log,
            [
                "first begins",
                "second set off",
                "other AF",
                "nested in the first",
                "first ends"
            ],
            "the second did not run inside the first"
        );
        let (tearing, later) = world::try_with(|w| (w.condis.tearing.clone(), w.condis.later.clone())).expect("world");
        assert!(tearing.is_empty(), "{tearing:?}");
        assert_eq!(later, [again], "the second is queued once the first ended");
    }
}

//! The data path's rules, checked: a miniport's send completions
//! (`data.send-complete-once`, `data.send-status`) and its receive
//! indications (`data.receive-valid`, with the pause's
//! `pause.no-receive-while-paused`), each delivered to the client as NDIS
//! delivers it. The rules are declared in [`crate::condis::rules`]; NDIS's
//! window around a send handler call and the drain rule are
//! [`crate::condis::window`]'s.
//!
//! It owns the world changes of those DDIs (NBL ownership, what the
//! client received, what it is owed back). What it must not do: call into
//! the driver (`crate::ffi::data` does, and calls these from its shims).

use ndis_sys::*;

use super::ClientAction;
use super::rules::{DATA_RECEIVE_VALID, DATA_SEND_COMPLETE_ONCE, DATA_SEND_STATUS, STATUS_NOT_SET};
use crate::nbl::{self, NblOwner, NblState};
use crate::world::{self, World};

/// NdisMCoIndicateReceiveNetBufferLists on `vc` (a live VC handle) of the
/// chain at `head`: checked, then delivered.
pub(crate) fn receive(w: &mut World, vc: usize, head: usize, count: ULONG, flags: ULONG) {
    crate::pause::check_receive(w, vc);
    if let Some(p) = indicate(w, vc, head, count, flags) {
        w.violate(DATA_RECEIVE_VALID, "NdisMCoIndicateReceiveNetBufferLists", p, &[vc]);
    }
}

/// NdisMSendNetBufferListsComplete by a CoNDIS miniport: NDIS never sent it
/// a connectionless NBL, so whatever it completes there was not sent.
pub(crate) fn connectionless_send_complete(w: &mut World) {
    w.violate(
        DATA_SEND_COMPLETE_ONCE,
        "NdisMSendNetBufferListsComplete",
        "no connectionless send was ever issued to a CoNDIS miniport",
        &[],
    );
}

/// Checks and delivers one receive indication; the problem, if any.
fn indicate(w: &mut World, vc: usize, head: usize, count: ULONG, flags: ULONG) -> Option<String> {
    let active = w.condis.vcs.get(&vc).is_some_and(|v| v.active);
    if !active {
        return Some(format!("VC {vc:#x} is not active"));
    }
    let members = match w.nbls.chain(head) {
        Ok(m) => m,
        Err(e) => return Some(format!("not a chain of live NBLs: {e:?}")),
    };
    if usize::try_from(count).ok() != Some(members.len()) {
        return Some(format!(
            "NumberOfNetBufferLists is {count}, the chain has {}",
            members.len()
        ));
    }
    for m in &members {
        let held = matches!(w.nbls.owner(*m), Some(NblOwner::DriverPool(_)))
            && w.nbls.state(*m).is_some_and(NblState::held_by_driver);
        if !held {
            return Some(format!("NBL {m:#x} is not one of the driver's own NBLs that it holds"));
        }
    }
    let data = match nbl::read_chain(w, head) {
        Ok(d) => d,
        Err(e) => return Some(format!("malformed NBL chain: {e:?}")),
    };
    if let Some(d) = data.iter().find(|d| d.source_handle != vc) {
        return Some(format!(
            "NBL {:#x} has SourceHandle {:#x}, not the NdisVcHandle {vc:#x}",
            d.nbl, d.source_handle
        ));
    }
    nbl::audit_receive(w, head);
    let client = w.condis.vcs.get(&vc).map(|v| v.client);
    if let Some(c) = client.and_then(|c| w.condis.clients.get_mut(c)) {
        for d in &data {
            c.received.extend(d.net_buffers.iter().cloned());
        }
    }
    if flags & NDIS_RECEIVE_FLAGS_RESOURCES == 0 {
        for m in &members {
            let _ = w.nbls.set_state(*m, NblState::IndicatedToClient);
        }
        if let Some(v) = w.condis.vcs.get_mut(&vc) {
            v.receives_out.extend(members.iter().copied());
        }
        let kept = client.is_some_and(|c| w.pause.keep(c, vc, &members));
        if !kept {
            w.condis
                .defer(world::cpu_id(), ClientAction::ReturnNbls { vc, nbls: members });
        }
    }
    None
}

/// Completes the driver's send completion of `head` on `vc`.
pub(crate) fn complete_sends(w: &mut World, call: &'static str, vc: Option<usize>, head: usize) {
    let members = match w.nbls.chain(head) {
        Ok(m) => m,
        Err(e) => {
            w.violate(
                DATA_SEND_COMPLETE_ONCE,
                call,
                format!("completed a chain NDIS never sent: {e:?}"),
                &[],
            );
            return;
        }
    };
    let data = nbl::read_chain(w, head).unwrap_or_default();
    for m in members {
        // An NBL is outstanding on one VC at most: look on the VC the driver
        // names first, and search every VC only when it is not there (to say
        // where it was sent, or for a completion that names no VC).
        let on_named = vc.filter(|h| w.condis.vcs.get(h).is_some_and(|v| v.sends_out.contains(&m)));
        let sent_on = on_named.or_else(|| {
            w.condis
                .vcs
                .iter()
                .find(|(_, v)| v.sends_out.contains(&m))
                .map(|(h, _)| *h)
        });
        let ok = sent_on.is_some() && (vc.is_none() || sent_on == vc);
        if !ok || w.nbls.owner(m) != Some(NblOwner::Client) {
            w.violate(
                DATA_SEND_COMPLETE_ONCE,
                call,
                format!("NBL {m:#x} is not a send outstanding on {:#x} (sent on {sent_on:?}): completed twice, never sent, or on the wrong VC", vc.unwrap_or(0)),
                &[vc.unwrap_or(0)],
            );
            continue;
        }
        let status = data.iter().find(|d| d.nbl == m).map_or(STATUS_NOT_SET, |d| d.status);
        if status == STATUS_NOT_SET {
            w.violate(
                DATA_SEND_STATUS,
                call,
                format!("NBL {m:#x} completed with its Status never set (or PENDING)"),
                &[],
            );
        }
        let h = sent_on.unwrap_or(0);
        let client = w.condis.vcs.get_mut(&h).map(|v| {
            v.sends_out.remove(&m);
            v.client
        });
        if let Some(c) = client.and_then(|c| w.condis.clients.get_mut(c)) {
            c.send_results.push(status);
        }
        let _ = w.nbls.transition(m, &[NblState::OwnedByDriver], NblState::OwnedByNdis);
    }
    // Free what NDIS holds again (all of it, unless the chain was bad).
    let _ = w.nbls.release_client_chain(head);
}

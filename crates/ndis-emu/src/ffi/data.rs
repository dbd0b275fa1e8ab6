//! The CoNDIS data path: a client's sends into MiniportCoSendNetBufferLists
//! and their completion, the MCM's receive indications and NDIS's return of
//! them through MiniportReturnNetBufferLists (contract §2.2, §3.3).
//!
//! Every NBL is tracked by ownership ([`crate::nbl`]): a client's NBL is the
//! driver's from the send until its completion, exactly once; a driver NBL
//! indicated without NDIS_RECEIVE_FLAGS_RESOURCES is the client's until NDIS
//! returns it, after the driver's current handler has returned.

use ndis_sys::*;

use super::calls::{enter, leave};
use crate::condis::ClientAction;
use crate::condis::rules as r;
use crate::nbl::{self, NblOwner, NblState};
use crate::world::{self, HandleKind, World};

/// A Status the driver must overwrite before completing a send: the
/// emulator stores it in every NBL it sends, so an unset Status is visible.
const STATUS_NOT_SET: NDIS_STATUS = NDIS_STATUS_PENDING;

/// NdisCoSendNetBufferLists by a client: one NBL per payload, on `vc`, at
/// DISPATCH_LEVEL (clients may send at <= DISPATCH_LEVEL; the higher one
/// finds more driver bugs).
pub(crate) fn send(vc: usize, payloads: &[&[u8]]) -> Result<(), NDIS_STATUS> {
    send_tagged(vc, payloads, None)
}

/// [`send`], each NBL tagged with `cancel_id` when given
/// (NDIS_SET_NET_BUFFER_LIST_CANCEL_ID writes NetBufferListInfo's
/// NetBufferListCancelId slot).
pub(crate) fn send_tagged(vc: usize, payloads: &[&[u8]], cancel_id: Option<usize>) -> Result<(), NDIS_STATUS> {
    const CALL: &str = "NdisCoSendNetBufferLists";
    let (handler, ctx, head, members) = world::with(CALL, |w| -> Result<_, NDIS_STATUS> {
        let rec = w.condis.vcs.get(&vc).ok_or(NDIS_STATUS_FAILURE)?;
        let ctx = rec.cm_context;
        let handler = w
            .driver
            .and_then(|d| d.co)
            .and_then(|c| c.CoSendNetBufferListsHandler)
            .ok_or(NDIS_STATUS_FAILURE)?;
        let head = w
            .nbls
            .build_send_chain(vc, payloads)
            .map_err(|_| NDIS_STATUS_RESOURCES)?;
        let members = w.nbls.chain(head).map_err(|_| NDIS_STATUS_FAILURE)?;
        for m in &members {
            w.nbls
                .poke(m + core::mem::offset_of!(NET_BUFFER_LIST, Status), STATUS_NOT_SET);
            if let Some(id) = cancel_id {
                let slot = core::mem::offset_of!(NET_BUFFER_LIST, NetBufferListInfo)
                    + NetBufferListCancelId * core::mem::size_of::<PVOID>();
                w.nbls.poke(m + slot, id);
            }
            let _ = w.nbls.transition(*m, &[NblState::OwnedByNdis], NblState::OwnedByDriver);
        }
        if let Some(v) = w.condis.vcs.get_mut(&vc) {
            v.sends_out.extend(members.iter().copied());
        }
        crate::pause::sending(w, &members);
        Ok((handler, ctx, head, members))
    })?;
    let caller = enter(
        "MiniportCoSendNetBufferLists",
        DISPATCH_LEVEL,
        format!("VC {vc:#x}, {} NBL(s)", payloads.len()),
    );
    // SAFETY: the registered handler with the VC's MiniportVcContext and a
    // chain the emulator built and keeps alive until the driver completes it.
    unsafe {
        handler(
            ctx as NDIS_HANDLE,
            head as PNET_BUFFER_LIST,
            NDIS_SEND_FLAGS_DISPATCH_LEVEL,
        )
    };
    leave("MiniportCoSendNetBufferLists", caller, String::new());
    world::with(CALL, |w| crate::pause::sent(w, &members));
    Ok(())
}

/// Completes the driver's send completion of `head` on `vc`.
fn complete_sends(w: &mut World, call: &'static str, vc: Option<usize>, head: usize) {
    let members = match w.nbls.chain(head) {
        Ok(m) => m,
        Err(e) => {
            w.violate(
                r::DATA_SEND_COMPLETE_ONCE,
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
                r::DATA_SEND_COMPLETE_ONCE,
                call,
                format!("NBL {m:#x} is not a send outstanding on {:#x} (sent on {sent_on:?}): completed twice, never sent, or on the wrong VC", vc.unwrap_or(0)),
                &[vc.unwrap_or(0)],
            );
            continue;
        }
        let status = data.iter().find(|d| d.nbl == m).map_or(STATUS_NOT_SET, |d| d.status);
        if status == STATUS_NOT_SET {
            w.violate(
                r::DATA_SEND_STATUS,
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

ndis_fn! {
    /// NdisMCoSendNetBufferListsComplete: every NBL of the chain was sent on
    /// this VC and is completed once, with its Status set.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMCoSendNetBufferListsComplete(vc: NDIS_HANDLE, nbls: PNET_BUFFER_LIST, _flags: ULONG) {
        const CALL: &str = "NdisMCoSendNetBufferListsComplete";
        let h = vc as usize;
        world::with(CALL, |w| {
            w.event("=>", CALL, format!("VC {h:#x} {nbls:p}"));
            w.check_irql(CALL, DISPATCH_LEVEL);
            if !w.check_handle(h, HandleKind::Vc, CALL) {
                return;
            }
            complete_sends(w, CALL, Some(h), nbls as usize);
        });
    }

    /// NdisMSendNetBufferListsComplete: the connectionless send path. NDIS
    /// never sends connectionless NBLs to a CoNDIS miniport, so whatever is
    /// completed here was not sent.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMSendNetBufferListsComplete(adapter: NDIS_HANDLE, nbls: PNET_BUFFER_LIST, _flags: ULONG) {
        const CALL: &str = "NdisMSendNetBufferListsComplete";
        world::with(CALL, |w| {
            w.event("=>", CALL, format!("{nbls:p}"));
            w.check_irql(CALL, DISPATCH_LEVEL);
            if w.check_handle(adapter as usize, HandleKind::Adapter, CALL) {
                w.violate(r::DATA_SEND_COMPLETE_ONCE, CALL, "no connectionless send was ever issued to a CoNDIS miniport", &[]);
            }
        });
    }

    /// NdisMCoIndicateReceiveNetBufferLists: driver NBLs, on an active VC,
    /// each with SourceHandle = the NdisVcHandle, counted right.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMCoIndicateReceiveNetBufferLists(vc: NDIS_HANDLE, nbls: PNET_BUFFER_LIST, count: ULONG, flags: ULONG) {
        const CALL: &str = "NdisMCoIndicateReceiveNetBufferLists";
        let h = vc as usize;
        world::with(CALL, |w| {
            w.event("=>", CALL, format!("VC {h:#x} {nbls:p} x{count} flags {flags:#x}"));
            w.check_irql(CALL, DISPATCH_LEVEL);
            if !w.check_handle(h, HandleKind::Vc, CALL) {
                return;
            }
            crate::pause::check_receive(w, h);
            let problem = indicate(w, h, nbls as usize, count, flags);
            if let Some(p) = problem {
                w.violate(r::DATA_RECEIVE_VALID, CALL, p, &[h]);
            }
        });
    }
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
        let kept = client.is_some_and(|c| crate::pause::keep(w, c, vc, &members));
        if !kept {
            w.condis
                .defer(world::cpu_id(), ClientAction::ReturnNbls { vc, nbls: members });
        }
    }
    None
}

/// NDIS returns indicated NBLs to the driver (MiniportReturnNetBufferLists),
/// relinked in indication order.
pub(crate) fn return_nbls(vc: usize, nbls: &[usize]) {
    const CALL: &str = "MiniportReturnNetBufferLists";
    let target = world::with(CALL, |w| {
        let handler = w.driver.and_then(|d| d.chars.ReturnNetBufferListsHandler)?;
        let ctx = w.adapter.as_ref().map(|a| a.context)?;
        let live: Vec<usize> = nbls
            .iter()
            .copied()
            .filter(|m| w.nbls.state(*m) == Some(NblState::IndicatedToClient))
            .collect();
        for (i, m) in live.iter().enumerate() {
            // A pointer, not the bare address (see Nbls::build_chain).
            let next = core::ptr::with_exposed_provenance_mut::<NET_BUFFER_LIST>(live.get(i + 1).copied().unwrap_or(0));
            w.nbls.poke(m + core::mem::offset_of!(NET_BUFFER_LIST, Next), next);
            let _ = w.nbls.set_state(*m, NblState::Returned);
        }
        if let Some(v) = w.condis.vcs.get_mut(&vc) {
            for m in &live {
                v.receives_out.remove(m);
            }
        }
        live.first().map(|head| (handler, ctx, *head, live.len()))
    });
    let Some((handler, ctx, head, n)) = target else { return };
    let caller = enter(CALL, DISPATCH_LEVEL, format!("{n} NBL(s)"));
    // SAFETY: the registered handler with the adapter context; the NBLs are
    // the driver's own, handed back as NDIS does.
    unsafe {
        handler(
            ctx as NDIS_HANDLE,
            head as PNET_BUFFER_LIST,
            NDIS_RETURN_FLAGS_DISPATCH_LEVEL,
        )
    };
    leave(CALL, caller, String::new());
}

/// NdisMCmDeactivateVc's drain check (contract §3.3): no send outstanding,
/// no indicated receive unreturned.
pub(crate) fn check_drained(w: &mut World, vc: usize) {
    let (sends, receives) = w
        .condis
        .vcs
        .get(&vc)
        .map_or((0, 0), |v| (v.sends_out.len(), v.receives_out.len()));
    if sends + receives > 0 {
        w.violate(
            r::DATA_DRAIN_BEFORE_DEACTIVATE,
            "NdisMCmDeactivateVc",
            format!("VC {vc:#x} deactivated with {sends} send(s) not completed and {receives} receive(s) not returned"),
            &[vc],
        );
    }
}

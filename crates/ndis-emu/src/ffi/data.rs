//! The CoNDIS data path: a client's sends into MiniportCoSendNetBufferLists
//! and their completion, the MCM's receive indications and NDIS's return of
//! them through MiniportReturnNetBufferLists (contract §2.2, §3.3).
//!
//! Every NBL is tracked by ownership ([`crate::nbl`]): a client's NBL is the
//! driver's from the send until its completion, exactly once; a driver NBL
//! indicated without NDIS_RECEIVE_FLAGS_RESOURCES is the client's until NDIS
//! returns it, after the driver's current handler has returned.

//!
//! What it owns: the calls into the driver on the data path (the send
//! handler, MiniportReturnNetBufferLists) and the shims of the data-path
//! DDIs, which hand their arguments to `crate::condis::data` (the data
//! path's rules) and `crate::condis::window` (NDIS's window around a send
//! handler call). What it must not do: check a rule itself.

use ndis_sys::*;

use super::calls::{enter, enter_locked, leave};
use crate::condis::rules::STATUS_NOT_SET;
use crate::condis::{data, window};
use crate::detail;
use crate::nbl::NblState;
use crate::trace::Detail;
use crate::world::{self, HandleKind};

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
    const HANDLER: &str = "MiniportCoSendNetBufferLists";
    // The send is the driver's from the instant its handler is entered, and
    // not before: the VC is looked up, the NBLs recorded as outstanding on
    // it and the handler's entry traced in one critical section, so another
    // CPU's NdisMCmDeactivateVc (its drain check) or deletion sees either
    // no send or a send inside the handler, never one NDIS has recorded but
    // not yet handed over (which no driver could know of).
    let caller = world::cpu(HANDLER, |c| c.irql);
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
        w.pause.sending(&members);
        window::handing_over(&mut w.condis, vc, &members);
        enter_locked(
            w,
            HANDLER,
            DISPATCH_LEVEL,
            detail!("VC {x}, {} NBL(s)", vc, payloads.len()),
        );
        Ok((handler, ctx, head, members))
    })?;
    window::handed_over();
    // SAFETY: the registered handler with the VC's MiniportVcContext and a
    // chain the emulator built and keeps alive until the driver completes it.
    unsafe {
        handler(
            ctx as NDIS_HANDLE,
            head as PNET_BUFFER_LIST,
            NDIS_SEND_FLAGS_DISPATCH_LEVEL,
        )
    };
    leave("MiniportCoSendNetBufferLists", caller, Detail::EMPTY);
    world::with(CALL, |w| {
        window::send_returned(w, vc);
        w.pause.sent(&members);
    });
    Ok(())
}

ddi_fn! {
    /// NdisMCoSendNetBufferListsComplete: every NBL of the chain was sent on
    /// this VC and is completed once, with its Status set.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMCoSendNetBufferListsComplete(vc: NDIS_HANDLE, nbls: PNET_BUFFER_LIST, _flags: ULONG) {
        const CALL: &str = "NdisMCoSendNetBufferListsComplete";
        let h = vc as usize;
        world::with(CALL, |w| {
            w.event("=>", CALL, detail!("VC {x} {x}", h, nbls));
            w.check_irql(CALL, DISPATCH_LEVEL);
            if !w.check_handle(h, HandleKind::Vc, CALL) {
                return;
            }
            data::complete_sends(w, CALL, Some(h), nbls as usize);
        });
    }

    /// NdisMSendNetBufferListsComplete: the connectionless send path. NDIS
    /// never sends connectionless NBLs to a CoNDIS miniport, so whatever is
    /// completed here was not sent.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisMSendNetBufferListsComplete(adapter: NDIS_HANDLE, nbls: PNET_BUFFER_LIST, _flags: ULONG) {
        const CALL: &str = "NdisMSendNetBufferListsComplete";
        world::with(CALL, |w| {
            w.event("=>", CALL, detail!("{x}", nbls));
            w.check_irql(CALL, DISPATCH_LEVEL);
            if w.check_handle(adapter as usize, HandleKind::Adapter, CALL) {
                data::connectionless_send_complete(w);
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
            w.event("=>", CALL, detail!("VC {x} {x} x{} flags {x}", h, nbls, count, flags));
            w.check_irql(CALL, DISPATCH_LEVEL);
            if !w.check_handle(h, HandleKind::Vc, CALL) {
                return;
            }
            data::receive(w, h, nbls as usize, count, flags);
        });
    }
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
    let caller = enter(CALL, DISPATCH_LEVEL, detail!("{} NBL(s)", n));
    // SAFETY: the registered handler with the adapter context; the NBLs are
    // the driver's own, handed back as NDIS does.
    unsafe {
        handler(
            ctx as NDIS_HANDLE,
            head as PNET_BUFFER_LIST,
            NDIS_RETURN_FLAGS_DISPATCH_LEVEL,
        )
    };
    leave(CALL, caller, Detail::EMPTY);
}

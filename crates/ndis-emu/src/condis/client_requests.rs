//! A client's requests as NDIS carries them to the call manager: what NDIS
//! checks before it calls the call manager's handler for a client's
//! NdisCoCreateVc, NdisCoDeleteVc or NdisClMakeCall (the admission), and
//! what it checks and records once the handler has returned (rules
//! `cm.vc-handlers-never-pend`, `vc.deactivated-before-delete`,
//! `call.party-context`; declared in [`crate::condis::rules`]).
//!
//! It owns those world changes only; the shims (`crate::ffi::cm`) look the
//! handler up, call it outside the world's lock, and bring back what it
//! returned. The handler is passed through here as an opaque value, so the
//! order of NDIS's checks (state first, then the handler) stays one place.
//! Requests a protocol driver makes (NdisCl*, NdisCo*) take the same path
//! to the call manager and come through here too. What it must not do:
//! call into the driver or read C memory.

use ndis_sys::*;

use super::complete::settle;
use super::rules as r;
use super::{AfState, CallState, ClientId, Creator, ReqKind, VcRec};
use crate::world::{HandleKind, World};

/// NDIS refused a client's request before it reached the driver, with this
/// status.
pub(crate) type Refused = NDIS_STATUS;

/// NdisCoCreateVc on AF `af`, before ProtocolCoCreateVc: the AF is open and
/// the call manager has the handler; the handler, the AF's CallMgrAfContext,
/// its client and the new VC's handle.
pub(crate) fn admit_create_vc<H>(
    w: &mut World,
    af: usize,
    handler: Option<H>,
) -> Result<(H, usize, ClientId, usize), Refused> {
    let rec = w
        .condis
        .afs
        .get(&af)
        .filter(|a| a.state == AfState::Open)
        .ok_or(NDIS_STATUS_FAILURE)?;
    let (af_ctx, client) = (rec.cm_context, rec.client);
    let handler = handler.ok_or(NDIS_STATUS_FAILURE)?;
    let h = w.new_handle(HandleKind::Vc, format!("created by client {client} on AF {af:#x}"));
    Ok((handler, af_ctx, client, h))
}

/// ProtocolCoCreateVc returned `status` for VC `h` of `client` on `af`, with
/// MiniportVcContext `ctx`: the VC exists (SUCCESS) or its handle dies.
pub(crate) fn created_vc(
    w: &mut World,
    af: usize,
    client: ClientId,
    h: usize,
    status: NDIS_STATUS,
    ctx: usize,
) -> Result<usize, NDIS_STATUS> {
    if status == NDIS_STATUS_PENDING {
        w.violate(
            r::VC_HANDLERS_NEVER_PEND,
            "ProtocolCoCreateVc",
            "returned PENDING: the VC is unusable and NDIS deletes it",
            &[h],
        );
    }
    if status != NDIS_STATUS_SUCCESS {
        w.kill(h, "create failed");
        return Err(status);
    }
    w.condis.vcs.insert(
        h,
        VcRec {
            af,
            client,
            creator: Creator::Client,
            cm_context: ctx,
            active: false,
            call: CallState::Idle,
            sap: None,
            parties: Vec::new(),
            closed_while_active: false,
            activated_in_call: false,
            sends_out: Default::default(),
            receives_out: Default::default(),
        },
    );
    Ok(h)
}

/// NdisCoDeleteVc of `vc`, before ProtocolCoDeleteVc (with no send in
/// NDIS's window on it, [`super::window::with_ndis_window_closed`]): the
/// client created it, no call is being made or closed on it, it is
/// deactivated, the call manager has the handler, and the client is not
/// deleting it already; the handler and the VC's MiniportVcContext.
pub(crate) fn admit_delete_vc<H>(w: &mut World, vc: usize, handler: Option<H>) -> Result<(H, usize), Refused> {
    const CALL: &str = "NdisCoDeleteVc";
    let rec = w.condis.vcs.get(&vc).cloned().ok_or(NDIS_STATUS_FAILURE)?;
    if rec.creator != Creator::Client {
        return Err(NDIS_STATUS_NOT_ACCEPTED);
    }
    // NDIS refuses to delete a VC whose make call is outstanding
    // (activation pending: NOT_ACCEPTED) or whose close is (CLOSING),
    // contract §3.3 [B]: the call manager may still be using it, and
    // may have deactivated it already on another CPU.
    match rec.call {
        CallState::Outgoing => return Err(NDIS_STATUS_NOT_ACCEPTED),
        CallState::Closing => return Err(NDIS_STATUS_CLOSING),
        _ => {}
    }
    if rec.active {
        if rec.closed_while_active {
            w.violate(
                r::VC_DEACTIVATED_BEFORE_DELETE,
                CALL,
                format!("the call on VC {vc:#x} was closed but the VC was never deactivated: the client's delete fails with NOT_ACCEPTED and the VC leaks"),
                &[vc],
            );
        }
        return Err(NDIS_STATUS_NOT_ACCEPTED);
    }
    let handler = handler.ok_or(NDIS_STATUS_FAILURE)?;
    // The client's own delete of this VC is inside the driver on
    // another of its threads (two teardowns of one AF, each removing
    // what is left): a client deletes a VC once and knows it did, so
    // this one is refused as a delete of a VC already deleted is
    // (FAILURE, as for an unknown handle), and never reaches the
    // driver. NdisCoDeleteVc \[D\] (learn.microsoft.com,
    // nf-ndis-ndiscodeletevc): "When NdisCoDeleteVc returns control,
    // the NdisVcHandle is no longer valid"; calling it again with the
    // handle would hand NDIS, and the call manager, a VC that is being
    // freed (on Windows a use after free). Seen in the threaded soak, seed
    // 27200207: the second delete ran on the freed VC context and set
    // HaltEx's event after HaltEx returned.
    if !w.condis.deleting.insert(vc) {
        return Err(NDIS_STATUS_FAILURE);
    }
    Ok((handler, rec.cm_context))
}

/// ProtocolCoDeleteVc returned `status` for `vc`: NDIS ignores the status
/// \[B\], and the handle is gone.
pub(crate) fn deleted_vc(w: &mut World, vc: usize, status: NDIS_STATUS) {
    if status == NDIS_STATUS_PENDING {
        w.violate(
            r::VC_HANDLERS_NEVER_PEND,
            "ProtocolCoDeleteVc",
            "returned PENDING",
            &[vc],
        );
    }
    w.condis.deleting.remove(&vc);
    w.condis.vcs.remove(&vc);
    w.kill(vc, "deleted by its client");
}

/// ProtocolCmMakeCall returned `status` for the make call on `vc` (with
/// initial party `party` for a multipoint call) and set
/// *CallMgrPartyContext to `party_ctx`: checked, then settled as any
/// request ([`settle`]); the status the client sees.
pub(crate) fn make_call_returned(
    w: &mut World,
    vc: usize,
    party: Option<usize>,
    party_ctx: usize,
    status: NDIS_STATUS,
) -> NDIS_STATUS {
    if party.is_none() && party_ctx != 0 {
        w.violate(
            r::CALL_PARTY_CONTEXT,
            "ProtocolCmMakeCall",
            "point-to-point call, but *CallMgrPartyContext was set",
            &[vc],
        );
    }
    if let (Some(p), true) = (party, party_ctx != 0)
        && let Some(pr) = w.condis.parties.get_mut(&p)
    {
        pr.cm_context = party_ctx;
    }
    settle(w, ReqKind::MakeCall, vc, status, Some(party_ctx))
}

//! A client's requests as NDIS carries them to the call manager: what NDIS
//! checks and records before it calls the call manager's handler for a
//! client's NdisClOpenAddressFamilyEx, NdisClCloseAddressFamily,
//! NdisClRegisterSap, NdisClDeregisterSap, NdisCoCreateVc, NdisCoDeleteVc,
//! NdisClMakeCall, NdisClCloseCall, NdisClAddParty, NdisClDropParty and
//! NdisClModifyCallQoS (the admission), and, for NdisCoCreateVc,
//! NdisCoDeleteVc and NdisClMakeCall, what it checks and records once the
//! handler has returned (rules
//! `cm.vc-handlers-never-pend`, `vc.deactivated-before-delete`,
//! `call.party-context`; declared in [`crate::condis::rules`]).
//!
//! It owns those world changes only; the shims (`crate::ffi::cm`) look the
//! handler up, call it outside the world's lock, and bring back what it
//! returned. The handler is passed through here as an opaque value, so the
//! order of NDIS's checks (state first, then the handler) stays one place.
//! Requests a protocol driver makes (NdisCl*, NdisCo*) take the same path
//! to the call manager and come through here too. What it must not do:
//! call into the driver or read C memory (it keeps the call parameters'
//! C blocks the shims built, and hands their address back).

use ndis_sys::*;

use super::complete::settle;
use super::rules as r;
use super::{AfRec, AfState, CallState, ClientId, Creator, PartyRec, PartyState, ReqKind, SapRec, SapState, VcRec};
use crate::ffi::params::CallParams;
use crate::world::{HandleKind, World};

/// NDIS refused a client's request before it reached the driver, with this
/// status.
pub(crate) type Refused = NDIS_STATUS;

/// NdisClOpenAddressFamilyEx of `af` by `client`, before ProtocolCmOpenAf:
/// the adapter registered that AF and is not halting, and the call manager
/// has the handler; the handler, the adapter's context and the new AF
/// handle (its open pending).
pub(crate) fn admit_open_af<H>(
    w: &mut World,
    client: ClientId,
    af: CO_ADDRESS_FAMILY,
    client_context: usize,
    handler: Option<H>,
) -> Result<(H, usize, usize), Refused> {
    let registered = w
        .adapter
        .as_ref()
        // NDIS unbinds the protocols before it halts (contract §1.4):
        // no AF is opened once a halt has begun.
        .filter(|a| !a.halted && !a.halting)
        .is_some_and(|a| a.afs.iter().any(|x| x.AddressFamily == af.AddressFamily));
    let (Some(handler), true) = (handler, registered) else {
        return Err(NDIS_STATUS_FAILURE);
    };
    let adapter_ctx = w.adapter.as_ref().map_or(0, |a| a.context);
    let h = w.new_handle(HandleKind::Af, format!("opened by client {client}"));
    w.condis.afs.insert(
        h,
        AfRec {
            client,
            af,
            client_context,
            cm_context: 0,
            state: AfState::Opening,
            notify_close_pending: false,
            notify_complete_on_close: false,
        },
    );
    w.condis.requests.begin(ReqKind::OpenAf, h);
    Ok((handler, adapter_ctx, h))
}

/// NdisClCloseAddressFamily of `af`, before ProtocolCmCloseAf: the AF is
/// open; NDIS marks it closing (also when the handler is missing); the
/// handler and the AF's CallMgrAfContext.
pub(crate) fn admit_close_af<H>(w: &mut World, af: usize, handler: Option<H>) -> Result<(H, usize), Refused> {
    let rec = w
        .condis
        .afs
        .get_mut(&af)
        .filter(|a| a.state == AfState::Open)
        .ok_or(NDIS_STATUS_FAILURE)?;
    rec.state = AfState::Closing;
    let ctx = rec.cm_context;
    let handler = handler.ok_or(NDIS_STATUS_FAILURE)?;
    w.condis.requests.begin(ReqKind::CloseAf, af);
    Ok((handler, ctx))
}

/// NdisClRegisterSap of a SAP of `sap_type` with these bytes on `af`,
/// before ProtocolCmRegisterSap: the AF is open and the call manager has
/// the handler; the handler, the AF's CallMgrAfContext and the new SAP
/// handle (its registration pending).
pub(crate) fn admit_register_sap<H>(
    w: &mut World,
    af: usize,
    sap_type: ULONG,
    sap: &[u8],
    handler: Option<H>,
) -> Result<(H, usize, usize), Refused> {
    let rec = w
        .condis
        .afs
        .get(&af)
        .filter(|a| a.state == AfState::Open)
        .ok_or(NDIS_STATUS_FAILURE)?;
    let af_ctx = rec.cm_context;
    let handler = handler.ok_or(NDIS_STATUS_FAILURE)?;
    let h = w.new_handle(HandleKind::Sap, format!("registered on AF {af:#x}"));
    w.condis.saps.insert(
        h,
        SapRec {
            af,
            sap_type,
            sap: sap.to_vec(),
            cm_context: 0,
            state: SapState::Registering,
            client_context: 0,
            client_sap: 0,
        },
    );
    w.condis.requests.begin(ReqKind::RegisterSap, h);
    Ok((handler, af_ctx, h))
}

/// NdisClDeregisterSap of `sap`, before ProtocolCmDeregisterSap: the SAP is
/// registered; NDIS marks it deregistering (also when the handler is
/// missing); the handler and the SAP's CallMgrSapContext.
pub(crate) fn admit_deregister_sap<H>(w: &mut World, sap: usize, handler: Option<H>) -> Result<(H, usize), Refused> {
    let rec = w
        .condis
        .saps
        .get_mut(&sap)
        .filter(|s| s.state == SapState::Registered)
        .ok_or(NDIS_STATUS_FAILURE)?;
    rec.state = SapState::Deregistering;
    let ctx = rec.cm_context;
    let handler = handler.ok_or(NDIS_STATUS_FAILURE)?;
    w.condis.requests.begin(ReqKind::DeregisterSap, sap);
    Ok((handler, ctx))
}

/// NdisClCloseCall on `vc`, before ProtocolCmCloseCall: the VC carries a
/// call (connected, accepted or being made) and the call manager has the
/// handler; NDIS marks the call closing, remembering what it was; the
/// handler, the VC's and the first party's call-manager contexts.
pub(crate) fn admit_close_call<H>(w: &mut World, vc: usize, handler: Option<H>) -> Result<(H, usize, usize), Refused> {
    let rec = w.condis.vcs.get(&vc).cloned().ok_or(NDIS_STATUS_FAILURE)?;
    if !matches!(
        rec.call,
        CallState::Connected | CallState::Accepted | CallState::Outgoing
    ) {
        return Err(NDIS_STATUS_FAILURE);
    }
    let party_ctx = rec
        .parties
        .first()
        .and_then(|p| w.condis.parties.get(p))
        .map_or(0, |p| p.cm_context);
    let handler = handler.ok_or(NDIS_STATUS_FAILURE)?;
    if let Some(v) = w.condis.vcs.get_mut(&vc) {
        v.call = CallState::Closing;
    }
    w.condis.closing_from.insert(vc, rec.call);
    w.condis.requests.begin(ReqKind::CloseCall, vc);
    Ok((handler, rec.cm_context, party_ctx))
}

/// NdisClMakeCall on `vc` with the call parameters `params` (the C block
/// the call manager gets), before ProtocolCmMakeCall: no call is on the VC
/// (else CALL_ACTIVE) and the call manager has the handler; NDIS
/// allocates the initial party of a `multipoint` call and keeps the
/// parameters until the call completes; the handler, the VC's context,
/// the party and the parameters' address.
pub(crate) fn admit_make_call<H>(
    w: &mut World,
    vc: usize,
    multipoint: bool,
    mut params: CallParams,
    handler: Option<H>,
) -> Result<(H, usize, Option<usize>, PCO_CALL_PARAMETERS), Refused> {
    let rec = w
        .condis
        .vcs
        .get(&vc)
        .filter(|v| matches!(v.call, CallState::Idle | CallState::Closed))
        .ok_or(NDIS_STATUS_CALL_ACTIVE)?;
    let ctx = rec.cm_context;
    let handler = handler.ok_or(NDIS_STATUS_FAILURE)?;
    let party = multipoint.then(|| w.new_handle(HandleKind::Party, format!("initial party of VC {vc:#x}")));
    if let Some(p) = party {
        w.condis.parties.insert(
            p,
            PartyRec {
                vc,
                cm_context: 0,
                state: PartyState::Adding,
            },
        );
    }
    let cp = params.as_ptr();
    w.condis.params.insert(vc, params);
    if let Some(v) = w.condis.vcs.get_mut(&vc) {
        v.call = CallState::Outgoing;
        v.closed_while_active = false;
        v.activated_in_call = v.active;
        v.parties = party.into_iter().collect();
    }
    w.condis.requests.begin(ReqKind::MakeCall, vc);
    Ok((handler, ctx, party, cp))
}

/// NdisClAddParty on `vc` with `params`, before ProtocolCmAddParty: the
/// call is a connected multipoint one and the call manager has the
/// handler; NDIS allocates the party and keeps the parameters until the
/// add completes; the handler, the VC's context, the party and the
/// parameters' address.
pub(crate) fn admit_add_party<H>(
    w: &mut World,
    vc: usize,
    mut params: CallParams,
    handler: Option<H>,
) -> Result<(H, usize, usize, PCO_CALL_PARAMETERS), Refused> {
    let rec = w
        .condis
        .vcs
        .get(&vc)
        .filter(|v| v.call == CallState::Connected && !v.parties.is_empty())
        .ok_or(NDIS_STATUS_FAILURE)?;
    let ctx = rec.cm_context;
    let handler = handler.ok_or(NDIS_STATUS_FAILURE)?;
    let party = w.new_handle(HandleKind::Party, format!("added to VC {vc:#x}"));
    w.condis.parties.insert(
        party,
        PartyRec {
            vc,
            cm_context: 0,
            state: PartyState::Adding,
        },
    );
    if let Some(v) = w.condis.vcs.get_mut(&vc) {
        v.parties.push(party);
    }
    let cp = params.as_ptr();
    w.condis.params.insert(party, params);
    w.condis.requests.begin(ReqKind::AddParty, party);
    Ok((handler, ctx, party, cp))
}

/// NdisClDropParty of `party`, before ProtocolCmDropParty: a connected
/// party that is not its call's last (that one goes with NdisClCloseCall,
/// contract §3.4), and the call manager has the handler; the handler and
/// the party's CallMgrPartyContext.
pub(crate) fn admit_drop_party<H>(w: &mut World, party: usize, handler: Option<H>) -> Result<(H, usize), Refused> {
    let rec = w
        .condis
        .parties
        .get(&party)
        .filter(|p| p.state == PartyState::Connected)
        .cloned()
        .ok_or(NDIS_STATUS_FAILURE)?;
    let others = w.condis.vcs.get(&rec.vc).map_or(0, |v| v.parties.len());
    if others < 2 {
        return Err(NDIS_STATUS_FAILURE);
    }
    let handler = handler.ok_or(NDIS_STATUS_FAILURE)?;
    if let Some(p) = w.condis.parties.get_mut(&party) {
        p.state = PartyState::Dropping;
    }
    w.condis.requests.begin(ReqKind::DropParty, party);
    Ok((handler, rec.cm_context))
}

/// NdisClModifyCallQoS on `vc` with `params`, before
/// ProtocolCmModifyCallQoS: the call is connected and the call manager has
/// the handler; NDIS keeps the parameters until the request completes; the
/// handler, the VC's context and the parameters' address.
pub(crate) fn admit_modify_qos<H>(
    w: &mut World,
    vc: usize,
    mut params: CallParams,
    handler: Option<H>,
) -> Result<(H, usize, PCO_CALL_PARAMETERS), Refused> {
    let rec = w
        .condis
        .vcs
        .get(&vc)
        .filter(|v| v.call == CallState::Connected)
        .ok_or(NDIS_STATUS_FAILURE)?;
    let ctx = rec.cm_context;
    let handler = handler.ok_or(NDIS_STATUS_FAILURE)?;
    let cp = params.as_ptr();
    w.condis.params.insert(vc, params);
    w.condis.requests.begin(ReqKind::ModifyQos, vc);
    Ok((handler, ctx, cp))
}

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
            client_context: 0,
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

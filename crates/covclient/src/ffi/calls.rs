//! The NDIS calls the core asks for ([`NdisCall`]), made with the objects'
//! NDIS handles and blocks from their contexts (`objects`). Each routine
//! builds what NDIS reads in the object's context (which lives until the
//! completion, `objects`' lifetime rule), passes the core handle's value as
//! the ProtocolXxxContext (`route::ctx_of`), and returns NDIS's status; a
//! PENDING call is finished by its completion handler (`callbacks`,
//! `binding`) through `Core::complete`.
//!
//! A call that cannot be made (no context for a handle the core holds: an
//! adapter whose unbind started, pool exhausted) answers
//! NDIS_STATUS_RESOURCES or NDIS_STATUS_FAILURE without reaching NDIS; the
//! core treats it as a failed call. SEND is `send`'s; OID requests answer
//! NDIS_STATUS_NOT_SUPPORTED (not built yet).
//!
//! Every routine runs at PASSIVE_LEVEL (from the dispatch routines and
//! cleanup, and the unbind's teardown) with no covclient lock held: NDIS may
//! call a completion handler before the call returns.
//!
//! Must not: pretend a call was made, touch an object's context after its
//! call returned PENDING, or hold the control lock across a call.

use core::ptr::null_mut;
use core::sync::atomic::Ordering;

use covclient_abi::{AfInfo, CallParameters, CloseData, Flowspec, Handle};
use ndis_sys::*;

use super::objects::{ADAPTERS, AFS, Ctx, PARTIES, SAPS, VCS};
use super::route::ctx_of;
use super::send;
use crate::blocks::{CallBlock, SapBlock};
use crate::core::NdisCall;

/// An NDIS_STATUS as the ABI carries it.
const fn abi(s: NDIS_STATUS) -> u32 {
    // CAST: the same 32 bits.
    s as u32
}

/// Makes `call`; its NDIS status as the ABI carries it.
///
/// # IRQL
/// PASSIVE_LEVEL; no covclient lock held.
pub(super) fn make(call: &NdisCall) -> u32 {
    abi(match *call {
        NdisCall::OpenAf { adapter, af, family } => open_af(adapter, af, family),
        NdisCall::CloseAf(af) => close_af(af),
        NdisCall::RegisterSap {
            af,
            sap,
            sap_type,
            sap_length,
            bytes,
        } => register_sap(af, sap, SapBlock::new(sap_type, sap_length, bytes)),
        NdisCall::DeregisterSap(sap) => deregister_sap(sap),
        NdisCall::CreateVc { af, vc } => create_vc(af, vc),
        NdisCall::DeleteVc(vc) => delete_vc(vc),
        NdisCall::MakeCall { vc, party, params } => make_call(vc, party, &params),
        NdisCall::IncomingCallComplete { vc, status } => incoming_call_complete(vc, status),
        NdisCall::AddParty { vc, party, params } => add_party(vc, party, &params),
        NdisCall::DropParty { party, data } => drop_party(party, &data),
        NdisCall::ModifyQos {
            vc,
            with_call_mgr_parameters,
            transmit,
            receive,
        } => modify_qos(vc, with_call_mgr_parameters, &transmit, &receive),
        NdisCall::CloseCall { vc, party, data } => close_call(vc, party, &data),
        NdisCall::Send {
            vc,
            nbl_count,
            nbl_size,
            pattern,
            seed,
        } => send::send(VCS.ndis(vc), nbl_count, nbl_size, pattern, seed),
        NdisCall::Oid { .. } => NDIS_STATUS_NOT_SUPPORTED,
    })
}

/// NdisClOpenAddressFamilyEx on the adapter's binding.
fn open_af(adapter: Handle, af: Handle, family: AfInfo) -> NDIS_STATUS {
    let Some(binding) = ADAPTERS.get(adapter).map(|a| a.binding) else {
        return NDIS_STATUS_FAILURE;
    };
    let block = CO_ADDRESS_FAMILY {
        AddressFamily: family.address_family,
        MajorVersion: family.major_version,
        MinorVersion: family.minor_version,
    };
    let Some(ctx) = AFS.create(af, binding, block) else {
        return NDIS_STATUS_RESOURCES;
    };
    // SAFETY: an open binding's handle (its entry goes before its close);
    // the CO_ADDRESS_FAMILY and the handle slot live in the AF's context
    // until the core drops the AF, after the open completes; the core
    // handle's value as ClientAfContext; PASSIVE_LEVEL.
    unsafe { NdisClOpenAddressFamilyEx(binding, ctx.block.get(), ctx_of(af), ctx.ndis.as_ptr()) }
}

/// NdisClCloseAddressFamily (the core checked no SAP or VC is left on it).
fn close_af(af: Handle) -> NDIS_STATUS {
    let h = AFS.ndis(af);
    if h.is_null() {
        return NDIS_STATUS_FAILURE;
    }
    // SAFETY: the NdisAfHandle of an open AF, closed once (the core's
    // CLOSING arrow); PASSIVE_LEVEL.
    unsafe { NdisClCloseAddressFamily(h) }
}

/// NdisClRegisterSap with the CO_SAP in the SAP's context.
fn register_sap(af: Handle, sap: Handle, block: SapBlock) -> NDIS_STATUS {
    let Some(a) = AFS.get(af) else {
        return NDIS_STATUS_FAILURE;
    };
    let Some(ctx) = SAPS.create(sap, a.binding, block) else {
        return NDIS_STATUS_RESOURCES;
    };
    // SAFETY: the context's block, which only this call touches (Ctx's
    // invariant), not moved while the context lives.
    let co_sap = unsafe { &mut *ctx.block.get() }.as_co_sap();
    // SAFETY: an open AF's NdisAfHandle; the CO_SAP and the handle slot in
    // the SAP's context, live until the registration completes; the core
    // handle's value as ProtocolSapContext; PASSIVE_LEVEL.
    unsafe { NdisClRegisterSap(a.ndis.load(Ordering::Acquire), ctx_of(sap), co_sap, ctx.ndis.as_ptr()) }
}

/// NdisClDeregisterSap.
fn deregister_sap(sap: Handle) -> NDIS_STATUS {
    let h = SAPS.ndis(sap);
    if h.is_null() {
        return NDIS_STATUS_FAILURE;
    }
    // SAFETY: a registered SAP's NdisSapHandle, deregistered once (the
    // core's arrow); PASSIVE_LEVEL.
    unsafe { NdisClDeregisterSap(h) }
}

/// NdisCoCreateVc on the AF.
fn create_vc(af: Handle, vc: Handle) -> NDIS_STATUS {
    let Some(a) = AFS.get(af) else {
        return NDIS_STATUS_FAILURE;
    };
    let Some(ctx) = VCS.create(vc, a.binding, CallBlock::empty()) else {
        return NDIS_STATUS_RESOURCES;
    };
    // SAFETY: the AF's binding and NdisAfHandle; the core handle's value as
    // ProtocolVcContext; the handle slot in the VC's context (NdisCoCreateVc
    // is synchronous); PASSIVE_LEVEL.
    unsafe { NdisCoCreateVc(a.binding, a.ndis.load(Ordering::Acquire), ctx_of(vc), ctx.ndis.as_ptr()) }
}

/// NdisCoDeleteVc (the core checked the VC is idle and the client's).
fn delete_vc(vc: Handle) -> NDIS_STATUS {
    let h = VCS.ndis(vc);
    if h.is_null() {
        return NDIS_STATUS_FAILURE;
    }
    // SAFETY: an idle VC's NdisVcHandle that covclient created, deleted
    // once (the core's arrow); PASSIVE_LEVEL.
    unsafe { NdisCoDeleteVc(h) }
}

/// Fills `ctx`'s block for a make call or add party.
fn fill(ctx: &Ctx<CallBlock>, params: &CallParameters) -> PCO_CALL_PARAMETERS {
    // SAFETY: the context's block, which only this call touches (Ctx's
    // invariant: the core allows one call per object at a time).
    unsafe { &mut *ctx.block.get() }.fill(params)
}

/// NdisClMakeCall with the parameters in the VC's context (and, for a
/// multipoint call, the initial party's context).
fn make_call(vc: Handle, party: Option<Handle>, params: &CallParameters) -> NDIS_STATUS {
    let Some(v) = VCS.get(vc) else {
        return NDIS_STATUS_FAILURE;
    };
    let (party_ctx, party_slot) = match party {
        Some(p) => match PARTIES.create(p, v.binding, CallBlock::empty()) {
            Some(c) => (ctx_of(p), c.ndis.as_ptr()),
            None => return NDIS_STATUS_RESOURCES,
        },
        None => (null_mut(), null_mut()),
    };
    let cp = fill(v, params);
    // SAFETY: the client's VC's NdisVcHandle; the parameters in its context,
    // live until the call completes; the party's context value and handle
    // slot (in the party's context) or NULL for a point-to-point call;
    // PASSIVE_LEVEL.
    unsafe { NdisClMakeCall(v.ndis.load(Ordering::Acquire), cp, party_ctx, party_slot) }
}

/// NdisClIncomingCallComplete: the client's answer to a pended call, with
/// the parameters NDIS passed to ProtocolClIncomingCall. Returns SUCCESS:
/// the call has no status of its own.
fn incoming_call_complete(vc: Handle, status: u32) -> NDIS_STATUS {
    let Some(v) = VCS.get(vc) else {
        return NDIS_STATUS_FAILURE;
    };
    let params = v.incoming.swap(null_mut(), Ordering::AcqRel);
    // CAST: the answer's NDIS_STATUS bits.
    let answer = status as NDIS_STATUS;
    // SAFETY: the NdisVcHandle of the incoming call's VC; the parameters
    // NDIS passed to ProtocolClIncomingCall, answered once (taken from the
    // context); <= DISPATCH_LEVEL.
    unsafe { NdisClIncomingCallComplete(answer, v.ndis.load(Ordering::Acquire), params) };
    NDIS_STATUS_SUCCESS
}

/// NdisClAddParty with the parameters in the party's context.
fn add_party(vc: Handle, party: Handle, params: &CallParameters) -> NDIS_STATUS {
    let Some(v) = VCS.get(vc) else {
        return NDIS_STATUS_FAILURE;
    };
    let Some(p) = PARTIES.create(party, v.binding, CallBlock::empty()) else {
        return NDIS_STATUS_RESOURCES;
    };
    let cp = fill(p, params);
    // SAFETY: a multipoint call's NdisVcHandle; the party's context value;
    // the parameters and the handle slot in the party's context, live until
    // the add completes; PASSIVE_LEVEL.
    unsafe { NdisClAddParty(v.ndis.load(Ordering::Acquire), ctx_of(party), cp, p.ndis.as_ptr()) }
}

/// Stores `data` in `ctx` for a close or drop; the buffer and its size.
fn close_buffer<B>(ctx: &Ctx<B>, data: &CloseData) -> (PVOID, UINT) {
    let cell = ctx.close.get();
    // SAFETY: the context's close data, which only this call touches (as
    // for the block).
    unsafe { cell.write(*data) };
    // SAFETY: just written; read for its length and address only.
    let bytes = unsafe { &*cell }.as_bytes();
    match UINT::try_from(bytes.len()) {
        Ok(0) | Err(_) => (null_mut(), 0),
        Ok(n) => (bytes.as_ptr().cast_mut().cast(), n),
    }
}

/// NdisClDropParty with the close data in the party's context.
fn drop_party(party: Handle, data: &CloseData) -> NDIS_STATUS {
    let Some(p) = PARTIES.get(party) else {
        return NDIS_STATUS_FAILURE;
    };
    let (buf, size) = close_buffer(p, data);
    // SAFETY: a connected party's NdisPartyHandle, dropped once (the core's
    // arrow); the close data in its context or NULL; PASSIVE_LEVEL.
    unsafe { NdisClDropParty(p.ndis.load(Ordering::Acquire), buf, size) }
}

/// NdisClModifyCallQoS with the FLOWSPECs in the VC's context.
fn modify_qos(vc: Handle, with_cm: bool, transmit: &Flowspec, receive: &Flowspec) -> NDIS_STATUS {
    let Some(v) = VCS.get(vc) else {
        return NDIS_STATUS_FAILURE;
    };
    // SAFETY: the context's block, which only this call touches (as for
    // `fill`).
    let cp = unsafe { &mut *v.block.get() }.fill_qos(with_cm, transmit, receive);
    // SAFETY: a connected VC's NdisVcHandle; the parameters in its context,
    // live until the change completes; PASSIVE_LEVEL.
    unsafe { NdisClModifyCallQoS(v.ndis.load(Ordering::Acquire), cp) }
}

/// NdisClCloseCall (with the last party of a multipoint call).
fn close_call(vc: Handle, party: Option<Handle>, data: &CloseData) -> NDIS_STATUS {
    let Some(v) = VCS.get(vc) else {
        return NDIS_STATUS_FAILURE;
    };
    let party = party.map_or(null_mut(), |p| PARTIES.ndis(p));
    let (buf, size) = close_buffer(v, data);
    // SAFETY: a connected VC's NdisVcHandle, closed once (the core's
    // arrow); its last party's handle or NULL; the close data in its
    // context or NULL; PASSIVE_LEVEL.
    unsafe { NdisClCloseCall(v.ndis.load(Ordering::Acquire), party, buf, size) }
}

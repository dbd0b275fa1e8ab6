//! The call manager's side of an incoming call: ProtocolCoCreateVc (the
//! call manager creates a VC on one of covclient's AFs), ProtocolClIncomingCall
//! (a call arrives on a registered SAP) and ProtocolCoDeleteVc (the call
//! manager deletes the VC it created), each fed to the client core, which
//! decides (accept, reject or pend as the SAP's REGISTER_SAP asked) and
//! posts the INCOMING_CALL event.
//!
//! The VC's context (`objects::VCS`) keeps the NdisVcHandle and, for a
//! pended call, NDIS's CO_CALL_PARAMETERS until ANSWER_CALL passes them to
//! NdisClIncomingCallComplete. A VC the core drops here keeps its context
//! until the next reap (`objects`: never freed in a handler).
//!
//! Must not: answer for the client (the core decides), or keep NDIS's call
//! parameters past the answer.

use core::ptr::null_mut;
use core::sync::atomic::Ordering;

use covclient_abi::HandleKind::{Af, Sap, Vc};
use covclient_abi::{Handle, HandleKind};
use ndis_sys::*;

use super::binding;
use super::control::locked;
use super::objects::{AFS, VCS};
use super::route::{ctx_of, handle_of, status};
use super::trace::ERROR;
use super::waiter;
use crate::blocks::CallBlock;

ndis_fn! {
    pub(super) unsafe fn create_vc(af: NDIS_HANDLE, vc: NDIS_HANDLE, ctx: PNDIS_HANDLE) -> NDIS_STATUS => create_vc_impl;
    pub(super) unsafe fn delete_vc(vc_ctx: NDIS_HANDLE) -> NDIS_STATUS => delete_vc_impl;
    pub(super) unsafe fn incoming_call(sap: NDIS_HANDLE, vc: NDIS_HANDLE, params: PCO_CALL_PARAMETERS) -> NDIS_STATUS => incoming_call_impl;
}

/// The core AF a ProtocolAfContext names: a control device open's AF (the
/// handle's value) or the binding's own AF (the binding context).
///
/// # Safety
/// `af_ctx` is a ProtocolAfContext NDIS passed.
unsafe fn af_of(af_ctx: NDIS_HANDLE) -> Option<Handle> {
    if let Some(h) = handle_of(af_ctx, Af) {
        return Some(h);
    }
    // SAFETY: not a handle value, so the binding context (precondition).
    let raw = unsafe { binding::driver_af_of(af_ctx) }?;
    Handle::parse(raw, &[HandleKind::Af]).ok()
}

/// ProtocolCoCreateVc: a VC for an incoming call on one of covclient's AFs.
///
/// # IRQL
/// <= DISPATCH_LEVEL; no covclient lock held.
///
/// # Safety
/// `ctx` is the slot NDIS passed for the ProtocolVcContext.
unsafe fn create_vc_impl(af_ctx: NDIS_HANDLE, ndis_vc: NDIS_HANDLE, ctx: PNDIS_HANDLE) -> NDIS_STATUS {
    if ctx.is_null() {
        return NDIS_STATUS_INVALID_PARAMETER;
    }
    // SAFETY: NDIS's ProtocolAfContext (precondition).
    let Some(af) = (unsafe { af_of(af_ctx) }) else {
        trace!(ERROR, c"ProtocolCoCreateVc on an AF covclient does not know");
        return NDIS_STATUS_FAILURE;
    };
    let Some(binding) = AFS.get(af).map(|a| a.binding) else {
        return NDIS_STATUS_FAILURE;
    };
    let vc = match locked(|inner| inner.core.cm_create_vc(af)) {
        Some(Ok(vc)) => vc,
        _ => return NDIS_STATUS_RESOURCES,
    };
    let Some(c) = VCS.create(vc, binding, CallBlock::empty()) else {
        let _ = locked(|inner| inner.core.cm_delete_vc(vc));
        return NDIS_STATUS_RESOURCES;
    };
    c.ndis.store(ndis_vc, Ordering::Release);
    // SAFETY: NDIS's slot for the ProtocolVcContext, written once.
    unsafe { ctx.write(ctx_of(vc)) };
    NDIS_STATUS_SUCCESS
}

/// ProtocolCoDeleteVc: the call manager deletes a VC it created.
///
/// # IRQL
/// <= DISPATCH_LEVEL; no covclient lock held.
unsafe fn delete_vc_impl(vc_ctx: NDIS_HANDLE) -> NDIS_STATUS {
    let deleted = handle_of(vc_ctx, Vc).and_then(|vc| locked(|inner| inner.core.cm_delete_vc(vc)));
    if let Some(Ok(())) = deleted {
        return NDIS_STATUS_SUCCESS;
    }
    trace!(ERROR, c"ProtocolCoDeleteVc for a VC covclient does not hold");
    NDIS_STATUS_FAILURE
}

/// ProtocolClIncomingCall: the SAP's answer mode decides (the core).
///
/// # IRQL
/// <= DISPATCH_LEVEL; no covclient lock held.
unsafe fn incoming_call_impl(sap_ctx: NDIS_HANDLE, vc_ctx: NDIS_HANDLE, params: PCO_CALL_PARAMETERS) -> NDIS_STATUS {
    let (Some(sap), Some(vc)) = (handle_of(sap_ctx, Sap), handle_of(vc_ctx, Vc)) else {
        trace!(ERROR, c"ProtocolClIncomingCall for a SAP or VC covclient does not hold");
        return NDIS_STATUS_FAILURE;
    };
    let Some(c) = VCS.get(vc) else {
        return NDIS_STATUS_FAILURE;
    };
    // Before the core posts INCOMING_CALL: the answer may come at once.
    c.incoming.store(params, Ordering::Release);
    let answer = match locked(|inner| inner.core.incoming_call(sap, vc)) {
        Some(Ok(a)) => a,
        _ => {
            c.incoming.store(null_mut(), Ordering::Release);
            return NDIS_STATUS_FAILURE;
        }
    };
    if answer.status != status(NDIS_STATUS_PENDING) {
        // Answered here: NDIS's parameters are not ours past the return.
        c.incoming.store(null_mut(), Ordering::Release);
    }
    if let Some(file) = answer.wake {
        waiter::wake(file);
    }
    // CAST: the answer's NDIS_STATUS bits.
    answer.status as NDIS_STATUS
}

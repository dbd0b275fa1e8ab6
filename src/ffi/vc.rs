//! Client VCs: ProtocolCoCreateVc and ProtocolCoDeleteVc, for VCs a client
//! creates on covmini's AF (for an MCM NDIS passes the CallMgrAfContext).
//! VCs covmini creates itself (a callee's, a leaf's) are made by the call
//! set-up (`super::call`, `super::party`) and deleted as the core's effects
//! (`super::effects`).
//!
//! Must not: pend (neither handler may), or free a context the core still
//! names.

use ndis_sys::*;

use super::cm_context::{AfContext, Signed, VcContext};
use super::effects::{on_af, on_vc, perform};
use super::recorder::{Span, keep_alive};
use super::trace::ERROR;

handler! {
    #[flight(ProtocolCoCreateVc, af_ctx: AfContext, span)]
    pub(super) unsafe fn create_vc(
        af_ctx: NDIS_HANDLE,
        ndis_vc: NDIS_HANDLE,
        vc_ctx: PNDIS_HANDLE,
    ) -> NDIS_STATUS => create_vc_impl;
}

/// ProtocolCoCreateVc: a client creates a VC on its AF (for an MCM NDIS
/// passes the CallMgrAfContext, contract §1.2 (b) [B]). Never PENDING.
///
/// # Lifetime
/// The adapter, reached through the AF's context (`af_ctx`), lives through
/// the body: `handler!` runs it inside this handler's span, which holds a
/// `Running` count on the adapter it found through that same context until
/// the entry records the return, after the body; [`keep_alive`] checks that
/// the span is on the adapter the body validated, and takes a count of its
/// own if not (or if there is no span).
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
unsafe fn create_vc_impl(
    span: Option<&Span<'_>>,
    af_ctx: NDIS_HANDLE,
    ndis_vc: NDIS_HANDLE,
    vc_ctx: PNDIS_HANDLE,
) -> NDIS_STATUS {
    // SAFETY: the CallMgrAfContext covmini gave NDIS.
    let Some(af) = (unsafe { AfContext::from_handle(af_ctx) }) else {
        trace!(ERROR, "ProtocolCoCreateVc: not an AF context: {:p}", af_ctx);
        return NDIS_STATUS_FAILURE;
    };
    if vc_ctx.is_null() {
        return NDIS_STATUS_INVALID_PARAMETER;
    }
    let adapter = af.adapter();
    let _running = keep_alive(span, adapter);
    let Some(ctx) = adapter.vc_list().alloc(VcContext::new(adapter, ndis_vc)) else {
        return NDIS_STATUS_RESOURCES;
    };
    // SAFETY: just allocated, ours.
    let ctx_ref = unsafe { ctx.as_ref() };
    match on_af(af, |cm| cm.create_vc(af.id(), ctx_ref.token())) {
        Ok(id) => {
            ctx_ref.set_id(id);
            // SAFETY: NDIS's out slot for ProtocolVcContext (checked non-NULL).
            unsafe { vc_ctx.write(ctx_ref.as_handle()) };
            NDIS_STATUS_SUCCESS
        }
        Err(r) => {
            ctx_ref.kill();
            // SAFETY: allocated above, never given to NDIS.
            unsafe { adapter.vc_list().free(ctx) };
            r.status()
        }
    }
}

handler! {
    #[flight(ProtocolCoDeleteVc, vc_ctx: VcContext, span)]
    pub(super) unsafe fn delete_vc(vc_ctx: NDIS_HANDLE) -> NDIS_STATUS => delete_vc_impl;
}

/// ProtocolCoDeleteVc: a client deletes its (inactive) VC. Never PENDING.
///
/// # Lifetime
/// The adapter, reached through the VC's context (`vc_ctx`), lives through
/// the body: `handler!` runs it inside this handler's span, which holds a
/// `Running` count on the adapter it found through that same context until
/// the entry records the return, after the body; [`keep_alive`] checks that
/// the span is on the adapter the body validated, and takes a count of its
/// own if not (or if there is no span).
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
unsafe fn delete_vc_impl(span: Option<&Span<'_>>, vc_ctx: NDIS_HANDLE) -> NDIS_STATUS {
    // SAFETY: the ProtocolVcContext covmini gave NDIS.
    let Some(vc) = (unsafe { VcContext::from_handle(vc_ctx) }) else {
        trace!(ERROR, "ProtocolCoDeleteVc: not a VC context: {:p}", vc_ctx);
        return NDIS_STATUS_NOT_ACCEPTED;
    };
    let adapter = vc.adapter();
    let _running = keep_alive(span, adapter);
    match &on_vc(vc, |cm| cm.delete_vc(vc.id())) {
        Ok(fx) => {
            perform(adapter, fx);
            NDIS_STATUS_SUCCESS
        }
        Err(r) => {
            trace!(ERROR, "ProtocolCoDeleteVc({:p}): {:?}", vc_ctx, r);
            NDIS_STATUS_NOT_ACCEPTED
        }
    }
}

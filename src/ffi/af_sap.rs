//! Address families and SAPs: ProtocolCmOpenAf, ProtocolCmCloseAf,
//! ProtocolCmNotifyCloseAfComplete, ProtocolCmRegisterSap,
//! ProtocolCmDeregisterSap, and halt's closing of every AF still open
//! ([`notify_close_all`]).
//!
//! Each handler recovers and checks its context, asks the core under the
//! adapter lock, and performs what it returns through `super::effects`. The
//! AF a client opens and a SAP's bytes are read by `super::params`.
//!
//! Must not: decide when a close completes (the core says, as effects), or
//! hold the adapter lock across an NDIS call.

use crate::flight::event::Ddi;
use ndis_sys::*;

use super::cm_context::{AfContext, SapContext, Signed};
use super::context::AdapterContext;
use super::effects::{checked, finish, on_af, perform};
use super::params::{check_af, read_sap};
use super::recorder::{Span, keep_alive};
use super::trace::{ERROR, INFO, WARN};

// --- Address families -------------------------------------------------------------

handler! {
    #[flight(ProtocolCmOpenAf, binding: AdapterContext, span)]
    pub(super) unsafe fn open_af(
        binding: NDIS_HANDLE,
        af: PCO_ADDRESS_FAMILY,
        ndis_af: NDIS_HANDLE,
        af_ctx: PNDIS_HANDLE,
    ) -> NDIS_STATUS => open_af_impl;
}

/// ProtocolCmOpenAf: a client opens covmini's AF. Answered at once.
///
/// Status for an AF covmini does not provide: the ProtocolCmOpenAf page
/// documents no status for an unsupported AF: its returns are SUCCESS,
/// PENDING, RESOURCES and FAILURE, the last also standing for an error
/// propagated from NDIS or any error status the driver writer finds
/// appropriate (learn.microsoft.com/windows-hardware/drivers/ddi/ndis/nc-ndis-protocol_cm_open_af).
/// A wrong AddressFamily cannot arrive (NDIS matches on it, contract
/// §3.1 [B]) and is refused with FAILURE; a version covmini does not
/// speak (other major, or a newer minor) with NDIS_STATUS_BAD_VERSION,
/// the more precise error that paragraph allows.
///
/// # Lifetime
/// The adapter, reached through the binding context (`binding`), lives
/// through the body: `handler!` runs it inside this handler's span, which
/// holds a `Running` count on the adapter it found through that same
/// context until the entry records the return, after the body;
/// [`keep_alive`] checks that the span is on the adapter the body
/// validated, and takes a count of its own if not (or if there is no span).
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
unsafe fn open_af_impl(
    span: Option<&Span<'_>>,
    binding: NDIS_HANDLE,
    af: PCO_ADDRESS_FAMILY,
    ndis_af: NDIS_HANDLE,
    af_ctx: PNDIS_HANDLE,
) -> NDIS_STATUS {
    // SAFETY: for an MCM the binding context is our MiniportAdapterContext (contract §2.1).
    let Some(adapter) = (unsafe { AdapterContext::from_context(binding) }) else {
        trace!(ERROR, "ProtocolCmOpenAf: not an adapter context: {:p}", binding);
        return NDIS_STATUS_FAILURE;
    };
    let _running = keep_alive(span, adapter);
    if af.is_null() || af_ctx.is_null() {
        return NDIS_STATUS_INVALID_PARAMETER;
    }
    // SAFETY: NDIS's CO_ADDRESS_FAMILY for this call, checked non-NULL.
    if let Err(status) = unsafe { check_af(af) } {
        return status;
    }
    // The data path's receive NBLs, made with the first AF open.
    if let Err(status) = adapter.rx().ensure(adapter.miniport_handle()) {
        return status;
    }
    let Some(ctx) = adapter.af_list().alloc(AfContext::new(adapter, ndis_af)) else {
        return NDIS_STATUS_RESOURCES;
    };
    // SAFETY: just allocated, ours.
    let ctx_ref = unsafe { ctx.as_ref() };
    let opened = adapter.cm().open_af(ctx_ref.token());
    match opened {
        Ok(id) => {
            ctx_ref.set_id(id);
            // SAFETY: NDIS's out slot for CallMgrAfContext (checked non-NULL).
            unsafe { af_ctx.write(ctx_ref.as_handle()) };
            trace!(
                INFO,
                "ProtocolCmOpenAf({:p}) -> AF context {:p}",
                ndis_af,
                ctx_ref.as_handle()
            );
            NDIS_STATUS_SUCCESS
        }
        Err(refusal) => {
            ctx_ref.kill();
            // SAFETY: allocated above, never given to NDIS.
            unsafe { adapter.af_list().free(ctx) };
            refusal.status()
        }
    }
}

handler! {
    #[flight(ProtocolCmCloseAf, af_ctx: AfContext, span)]
    pub(super) unsafe fn close_af(af_ctx: NDIS_HANDLE) -> NDIS_STATUS => close_af_impl;
}

/// ProtocolCmCloseAf: succeeds at once when the open has no SAP and no
/// VC left; otherwise pends, and NdisMCmCloseAddressFamilyComplete
/// follows when the last one goes (contract §3.1: pending is preferred).
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
unsafe fn close_af_impl(span: Option<&Span<'_>>, af_ctx: NDIS_HANDLE) -> NDIS_STATUS {
    // SAFETY: NDIS passes back the CallMgrAfContext covmini gave it.
    let Some(af) = (unsafe { AfContext::from_handle(af_ctx) }) else {
        trace!(ERROR, "ProtocolCmCloseAf: not an AF context: {:p}", af_ctx);
        return NDIS_STATUS_FAILURE;
    };
    let adapter = af.adapter();
    let _running = keep_alive(span, adapter);
    match on_af(af, |cm| cm.close_af(af.id())) {
        Ok(f) => finish(adapter, &f),
        Err(r) => {
            trace!(ERROR, "ProtocolCmCloseAf({:p}): {:?}", af_ctx, r);
            r.status()
        }
    }
}

handler! {
    #[flight(ProtocolCmNotifyCloseAfComplete, af_ctx: AfContext, span)]
    pub(super) unsafe fn notify_close_af_complete(
        af_ctx: NDIS_HANDLE,
        status: NDIS_STATUS,
    ) => notify_close_af_complete_impl;
}

/// ProtocolCmNotifyCloseAfComplete: the client finished closing an AF
/// covmini asked it to close at halt (NdisClNotifyCloseAddressFamilyComplete).
/// The AF context goes now if the AF is closed, and halt stops waiting
/// for it (if its close is still under way, halt waits for that close
/// instead). Halt's count drops when the handler ends, and the last
/// drop wakes MiniportHaltEx, which may then free the adapter on its own
/// CPU: that is the very last thing this handler does (its `Running`
/// guard).
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
/// Runs at IRQL <= DISPATCH_LEVEL. Takes the adapter's call-manager lock
/// only to ask the core, and releases it before any NDIS call.
unsafe fn notify_close_af_complete_impl(span: Option<&Span<'_>>, af_ctx: NDIS_HANDLE, status: NDIS_STATUS) {
    // SAFETY: the CallMgrAfContext of the AF covmini notified.
    let Some(af) = (unsafe { AfContext::from_handle(af_ctx) }) else {
        trace!(
            ERROR,
            "ProtocolCmNotifyCloseAfComplete: not an AF context: {:p}", af_ctx
        );
        return;
    };
    trace!(INFO, "ProtocolCmNotifyCloseAfComplete({:p}, {:#010x})", af_ctx, status);
    let adapter = af.adapter();
    let _running = keep_alive(span, adapter);
    match on_af(af, |cm| cm.notify_close_done(af.id(), false)) {
        Ok(fx) => perform(adapter, &fx),
        Err(_) => {
            let when = if adapter.halting() {
                "not notified"
            } else {
                "outside halt"
            };
            trace!(WARN, "ProtocolCmNotifyCloseAfComplete({:p}): {}", af_ctx, when);
        }
    }
}

/// MiniportHaltEx's part: decides with the core which AFs it waits for,
/// asks every client with the AF still open to close it
/// (NdisMCmNotifyCloseAddressFamily, contract §1.4), then waits until each
/// AF it waits for is closed (its close completed, and its notification,
/// if any, complete: ProtocolCmNotifyCloseAfComplete, which a client may
/// call long after the notification returned PENDING, from its own
/// thread) and no call-manager handler is still running. An AF whose close
/// covmini pended is not notified (NDIS refuses to: it is closing) but
/// waited for all the same: its client, unbinding, removes what it left,
/// and covmini completes the close when the last SAP or VC goes. Returns
/// how many AF opens, SAPs and VCs are still alive afterwards: all zero
/// once every client closed its AF.
///
/// The wait has no timeout. A client that pends its notification or its
/// close still holds its AF, and through it covmini's AF, SAP and VC
/// contexts and the adapter: after a timeout covmini could neither free
/// them (the client's close would then run on freed memory, the
/// use-after-free this wait exists to prevent) nor return from HaltEx with
/// the AF open (contract §8.10). Every MCM waits here the same way; a client
/// that never answers is a hung unbind that WinDbg shows (`!ndiskd.af`,
/// this thread in NdisWaitEvent), not something HaltEx can repair.
///
/// # IRQL
/// Runs at IRQL = PASSIVE_LEVEL (NdisMCmNotifyCloseAddressFamily and
/// NdisWaitEvent require it), with no lock held across the NDIS calls or the
/// wait: the clients' closes re-enter covmini's handlers meanwhile.
pub(super) fn notify_close_all(adapter: &AdapterContext) -> (usize, usize, usize) {
    adapter.begin_halt();
    let plan = {
        let mut cm = adapter.cm();
        let plan = cm.begin_halt();
        adapter.hold_for_halt(plan.holds);
        plan
    };
    for (id, token) in plan.notify.into_iter().flatten() {
        // SAFETY: a live AF token: the AF cannot be freed while notified.
        let af = unsafe { AfContext::from_token(token) };
        // SAFETY: the NdisAfHandle of an open AF; PASSIVE_LEVEL (HaltEx).
        let status = unsafe { NdisMCmNotifyCloseAddressFamily(af.ndis()) };
        adapter.called(Ddi::NdisMCmNotifyCloseAddressFamily, af.ndis(), status);
        // A close the client made before or during the call pended for it
        // (the handle had to stay valid for NDIS): it completes now.
        let fx = adapter.cm().notify_returned(id);
        perform(adapter, &fx);
        if status != NDIS_STATUS_PENDING {
            // NDIS refused (the AF is already closing): no completion
            // follows; halt waits for that close instead.
            trace!(
                WARN,
                "NdisMCmNotifyCloseAddressFamily({:p}): {:#010x}",
                af.ndis(),
                status
            );
            match adapter.cm().notify_close_done(id, true) {
                Ok(fx) => perform(adapter, &fx),
                Err(r) => trace!(ERROR, "HaltEx: refused notification of AF {}: {:?}", id.raw(), r),
            }
        }
    }
    // HaltEx's own count: the last AF may have been released already.
    // SAFETY: HaltEx's own adapter, which only HaltEx frees (after this
    // function): setting the event here cannot free it.
    let _ = unsafe { AdapterContext::halt_release(adapter) };
    if !adapter.wait_for_halt() {
        trace!(ERROR, "HaltEx: the wait for the clients' AF closes ended unsatisfied");
    }
    adapter.cm().live()
}

// --- SAPs -------------------------------------------------------------------------

handler! {
    #[flight(ProtocolCmRegisterSap, af_ctx: AfContext, span)]
    pub(super) unsafe fn register_sap(
        af_ctx: NDIS_HANDLE,
        sap: PCO_SAP,
        ndis_sap: NDIS_HANDLE,
        sap_ctx: PNDIS_HANDLE,
    ) -> NDIS_STATUS => register_sap_impl;
}

/// ProtocolCmRegisterSap: a SAP of type [`crate::call_manager::SAP_TYPE_ADDRESS`]
/// whose bytes are a covmini address (1..=32 bytes). Answered at once:
/// NDIS_STATUS_INVALID_DATA for a malformed SAP, or for an address
/// already registered on the adapter (the page's status for a SAP
/// already in use, contract §3.2 [D]; SAP_IN_USE is not among
/// ProtocolCmRegisterSap's documented returns).
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
unsafe fn register_sap_impl(
    span: Option<&Span<'_>>,
    af_ctx: NDIS_HANDLE,
    sap: PCO_SAP,
    ndis_sap: NDIS_HANDLE,
    sap_ctx: PNDIS_HANDLE,
) -> NDIS_STATUS {
    // SAFETY: NDIS passes back the CallMgrAfContext covmini gave it.
    let Some(af) = (unsafe { AfContext::from_handle(af_ctx) }) else {
        trace!(ERROR, "ProtocolCmRegisterSap: not an AF context: {:p}", af_ctx);
        return NDIS_STATUS_FAILURE;
    };
    if sap_ctx.is_null() {
        return NDIS_STATUS_INVALID_PARAMETER;
    }
    // SAFETY: NDIS's CO_SAP for this call (or NULL, refused inside).
    let address = match unsafe { read_sap(sap) } {
        Ok(a) => a,
        Err(s) => return s,
    };
    let adapter = af.adapter();
    let _running = keep_alive(span, adapter);
    let Some(ctx) = adapter.sap_list().alloc(SapContext::new(adapter, ndis_sap)) else {
        return NDIS_STATUS_RESOURCES;
    };
    // SAFETY: just allocated, ours.
    let ctx_ref = unsafe { ctx.as_ref() };
    match on_af(af, |cm| cm.register_sap(af.id(), ctx_ref.token(), address)) {
        Ok(id) => {
            ctx_ref.set_id(id);
            // SAFETY: NDIS's out slot for CallMgrSapContext (checked non-NULL).
            unsafe { sap_ctx.write(ctx_ref.as_handle()) };
            trace!(INFO, "ProtocolCmRegisterSap({:p}): {:?}", ndis_sap, address);
            NDIS_STATUS_SUCCESS
        }
        Err(r) => {
            trace!(WARN, "ProtocolCmRegisterSap({:?}): {:?}", address, r);
            ctx_ref.kill();
            // SAFETY: allocated above, never given to NDIS.
            unsafe { adapter.sap_list().free(ctx) };
            r.status()
        }
    }
}

handler! {
    #[flight(ProtocolCmDeregisterSap, sap_ctx: SapContext, span)]
    pub(super) unsafe fn deregister_sap(sap_ctx: NDIS_HANDLE) -> NDIS_STATUS => deregister_sap_impl;
}

/// ProtocolCmDeregisterSap: at once, unless an incoming call is being
/// offered on the SAP at this moment (then it pends until that offer
/// returns). Calls already received on the SAP are not affected.
///
/// # Lifetime
/// The adapter, reached through the SAP's context (`sap_ctx`), lives
/// through the body: `handler!` runs it inside this handler's span, which
/// holds a `Running` count on the adapter it found through that same
/// context until the entry records the return, after the body;
/// [`keep_alive`] checks that the span is on the adapter the body
/// validated, and takes a count of its own if not (or if there is no span).
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
unsafe fn deregister_sap_impl(span: Option<&Span<'_>>, sap_ctx: NDIS_HANDLE) -> NDIS_STATUS {
    // SAFETY: NDIS passes back the CallMgrSapContext covmini gave it.
    let Some(sap) = (unsafe { SapContext::from_handle(sap_ctx) }) else {
        trace!(ERROR, "ProtocolCmDeregisterSap: not a SAP context: {:p}", sap_ctx);
        return NDIS_STATUS_FAILURE;
    };
    let adapter = sap.adapter();
    let _running = keep_alive(span, adapter);
    match checked(
        adapter,
        |cm| cm.sap_is(sap.id(), sap.token()),
        |cm| cm.deregister_sap(sap.id()),
    ) {
        Ok(f) => finish(adapter, &f),
        Err(r) => r.status(),
    }
}

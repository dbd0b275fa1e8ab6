//! The address family on a binding: ProtocolCoAfRegisterNotify,
//! ProtocolClOpenAfCompleteEx, ProtocolClNotifyCloseAf and
//! ProtocolClCloseAfComplete, for the AF the binding opens itself (its
//! context is the binding) and for the AFs the control device's opens
//! open (their context is the core handle's value, `route`).
//!
//! Must not: block in ProtocolClNotifyCloseAf, or free the binding.

use core::ptr::null_mut;
use core::sync::atomic::Ordering;

use ndis_sys::*;

use covclient_abi::{Handle, HandleKind};

use super::super::adapters;
use super::super::control::locked;
use super::super::objects;
use super::super::route;
use super::super::trace::{ERROR, INFO};
use super::{AF_CLOSING, AF_NONE, AF_OPEN, AF_OPENING, Binding, binding_from};
use crate::core::incoming::Completion;
use crate::policy;

ndis_fn! {
    pub(in super::super) unsafe fn af_register_notify(binding: NDIS_HANDLE, af: PCO_ADDRESS_FAMILY) => af_register_notify_impl;
    pub(in super::super) unsafe fn open_af_complete(af_ctx: NDIS_HANDLE, af_handle: NDIS_HANDLE, status: NDIS_STATUS) => open_af_complete_impl;
    pub(in super::super) unsafe fn notify_close_af(af_ctx: NDIS_HANDLE) -> NDIS_STATUS => notify_close_af_impl;
    pub(in super::super) unsafe fn close_af_complete(status: NDIS_STATUS, af_ctx: NDIS_HANDLE) => close_af_complete_impl;
}

/// ProtocolCoAfRegisterNotify: opens covmini's AF on this binding; ignores
/// every other.
///
/// # IRQL
/// PASSIVE_LEVEL.
///
/// # Safety
/// `af` is the CO_ADDRESS_FAMILY NDIS passed, valid for the call.
unsafe fn af_register_notify_impl(binding: NDIS_HANDLE, af: PCO_ADDRESS_FAMILY) {
    // SAFETY: NDIS's AF description (precondition), read for the call.
    let Some(family) = (unsafe { af.as_ref() }) else { return };
    // SAFETY: NDIS passes the binding's context.
    let Some(b) = (unsafe { binding_from(binding) }) else {
        return;
    };
    if b.unbinding.load(Ordering::Acquire) {
        return;
    }
    // Every AF offered is reported to the control device's opens.
    adapters::offered(b.core_adapter.load(Ordering::Acquire), family);
    if !policy::accepts_af(family) {
        trace!(INFO, c"ignoring an address family that is not covmini's");
        return;
    }
    if b.af_state
        .compare_exchange(AF_NONE, AF_OPENING, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        trace!(INFO, c"covmini's AF is already open on this binding");
        return;
    }
    // No waiter can be past these: the unbind has not started (checked above).
    Binding::reset(&b.af_settled);
    Binding::reset(&b.af_closed);
    let mut handle: NDIS_HANDLE = null_mut();
    // SAFETY: the open binding's handle; NDIS's AF description; the binding
    // as the ClientAfContext (pool memory, resident until the unbind, which
    // waits for the AF to close); the handle slot on this frame; PASSIVE_LEVEL.
    let status = unsafe { NdisClOpenAddressFamilyEx(b.handle(), af, binding, &raw mut handle) };
    if status != NDIS_STATUS_PENDING {
        // "the client should make an internal call to its
        // ProtocolClOpenAfCompleteEx" (NdisClOpenAddressFamilyEx [D]).
        open_af_finish(b, handle, status);
    }
}

/// ProtocolClOpenAfCompleteEx: a pended AF open completed.
///
/// # IRQL
/// PASSIVE_LEVEL.
unsafe fn open_af_complete_impl(af_ctx: NDIS_HANDLE, af_handle: NDIS_HANDLE, status: NDIS_STATUS) {
    if let Some(af) = route::handle_of(af_ctx, HandleKind::Af) {
        // An AF a control device open asked for (OPEN_AF).
        if status == NDIS_STATUS_SUCCESS
            && let Some(c) = objects::AFS.get(af)
        {
            c.ndis.store(af_handle, Ordering::Release);
        }
        if !route::complete(Completion::OpenAf(af, route::status(status))) {
            trace!(ERROR, c"ProtocolClOpenAfCompleteEx for an AF the core refused");
        }
        return;
    }
    // SAFETY: NDIS passes the ClientAfContext of the open: the binding.
    let Some(b) = (unsafe { binding_from(af_ctx) }) else {
        return;
    };
    open_af_finish(b, af_handle, status);
}

/// Ends an AF open: OPEN with NDIS's handle, or back to NONE.
fn open_af_finish(b: &Binding, af_handle: NDIS_HANDLE, status: NDIS_STATUS) {
    if status == NDIS_STATUS_SUCCESS {
        b.af_handle.store(af_handle, Ordering::Release);
        // The core's handle first: a close can start as soon as OPEN shows.
        let af = adapters::af_opened(b.core_adapter.load(Ordering::Acquire));
        record_driver_af(b, af, af_handle);
        b.core_af.store(af, Ordering::Release);
        b.af_state.store(AF_OPEN, Ordering::Release);
        trace!(INFO, c"covmini's AF is open");
    } else {
        trace!(ERROR, c"NdisClOpenAddressFamilyEx failed");
        b.af_state.store(AF_NONE, Ordering::Release);
        Binding::set(&b.af_closed);
    }
    // An unbind waits for this before it looks at the AF.
    Binding::set(&b.af_settled);
}

/// The binding's AF is open as the core's `af`: its context keeps the
/// NdisAfHandle and the binding's handle, for the control device's SAPs
/// and VCs on it.
fn record_driver_af(b: &Binding, af: u64, af_handle: NDIS_HANDLE) {
    // What the context records (NDIS copied the offered one at the open).
    let family = CO_ADDRESS_FAMILY {
        AddressFamily: policy::COVMINI_AF,
        MajorVersion: policy::COVMINI_AF_MAJOR_VERSION,
        MinorVersion: 0,
    };
    let Ok(h) = Handle::parse(af, &[HandleKind::Af]) else {
        return;
    };
    match objects::AFS.create(h, b.handle(), family) {
        Some(ctx) => ctx.ndis.store(af_handle, Ordering::Release),
        None => trace!(ERROR, c"no AF context: the driver's AF takes no SAP or VC"),
    }
}

/// The core handle (raw) of the binding's own AF, if `ctx` is a binding.
///
/// # Safety
/// `ctx` is a ProtocolAfContext NDIS passed that is not a core handle's
/// value: a binding context.
pub(in super::super) unsafe fn driver_af_of(ctx: NDIS_HANDLE) -> Option<u64> {
    // SAFETY: a binding context (precondition), live while NDIS passes it.
    let b = unsafe { binding_from(ctx) }?;
    Some(b.core_af.load(Ordering::Acquire)).filter(|&raw| raw != 0)
}

/// ProtocolClNotifyCloseAf: the call manager wants the AF closed. For the
/// binding's own AF: failed while the opens still have SAPs or VCs on it
/// (they are not torn down from here: that needs waiting, which this
/// handler must not do; the unbind and each open's cleanup do it), else
/// closed. For an open's AF: `notify_close_open_af`.
///
/// # IRQL
/// <= DISPATCH_LEVEL. Never waits.
unsafe fn notify_close_af_impl(af_ctx: NDIS_HANDLE) -> NDIS_STATUS {
    if let Some(af) = route::handle_of(af_ctx, HandleKind::Af) {
        return notify_close_open_af(af);
    }
    // SAFETY: NDIS passes the ClientAfContext of an open AF: the binding.
    let Some(b) = (unsafe { binding_from(af_ctx) }) else {
        return NDIS_STATUS_INVALID_PARAMETER;
    };
    if adapters::af_busy(b.core_af.load(Ordering::Acquire)) {
        trace!(INFO, c"ProtocolClNotifyCloseAf with SAPs or VCs on the AF: failed");
        return NDIS_STATUS_FAILURE;
    }
    if b.af_state
        .compare_exchange(AF_OPEN, AF_CLOSING, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        // Not open, or the unbind is closing it already ("NDIS_STATUS_XXX:
        // The client failed the request for some driver-determined reason",
        // ProtocolClNotifyCloseAf [D]); a close under way ends the AF.
        trace!(INFO, c"ProtocolClNotifyCloseAf for an AF that is not open");
        return NDIS_STATUS_FAILURE;
    }
    adapters::af_closing(b.core_af.load(Ordering::Acquire));
    // Set before the close, so a pended completion sees it.
    b.af_notify.store(true, Ordering::Release);
    // SAFETY: the open AF's handle, closed once (the CAS); <= DISPATCH_LEVEL.
    let status = unsafe { NdisClCloseAddressFamily(b.af_handle.load(Ordering::Acquire)) };
    if status == NDIS_STATUS_PENDING {
        // ProtocolClCloseAfComplete calls NdisClNotifyCloseAddressFamilyComplete.
        return NDIS_STATUS_PENDING;
    }
    // Completed: the notification's return value reports it.
    b.af_notify.store(false, Ordering::Release);
    close_af_finish(b, status, false);
    status
}

/// ProtocolClNotifyCloseAf for an AF a control device open opened: closed
/// if it has no SAP or VC left (the core's `cm_close_af`), else failed
/// (the open's cleanup or the unbind closes it after its children).
/// <= DISPATCH_LEVEL; never waits.
fn notify_close_open_af(af: Handle) -> NDIS_STATUS {
    let Some(c) = objects::AFS.get(af) else {
        return NDIS_STATUS_FAILURE;
    };
    if !matches!(locked(|inner| inner.core.cm_close_af(af)), Some(Ok(()))) {
        trace!(INFO, c"ProtocolClNotifyCloseAf with SAPs or VCs on the AF: failed");
        return NDIS_STATUS_FAILURE;
    }
    // Set before the close, so a pended completion sees it.
    c.cm_close.store(true, Ordering::Release);
    // SAFETY: an open AF's NdisAfHandle, closed once (the core's CLOSING
    // arrow just applied); <= DISPATCH_LEVEL.
    let status = unsafe { NdisClCloseAddressFamily(c.ndis.load(Ordering::Acquire)) };
    if status == NDIS_STATUS_PENDING {
        return NDIS_STATUS_PENDING;
    }
    c.cm_close.store(false, Ordering::Release);
    let _ = route::complete(Completion::CloseAf(af, route::status(status)));
    status
}

/// ProtocolClCloseAfComplete: a pended close completed.
///
/// # IRQL
/// <= DISPATCH_LEVEL.
unsafe fn close_af_complete_impl(status: NDIS_STATUS, af_ctx: NDIS_HANDLE) {
    if let Some(af) = route::handle_of(af_ctx, HandleKind::Af) {
        // CLOSE_AF of a control device open's AF, or the call manager's.
        if let Some(c) = objects::AFS.get(af)
            && c.cm_close.swap(false, Ordering::AcqRel)
        {
            // SAFETY: the NdisAfHandle of the AF whose pended
            // ProtocolClNotifyCloseAf this completes, once (the swap);
            // <= DISPATCH_LEVEL.
            unsafe { NdisClNotifyCloseAddressFamilyComplete(c.ndis.load(Ordering::Acquire), status) };
        }
        if !route::complete(Completion::CloseAf(af, route::status(status))) {
            trace!(ERROR, c"ProtocolClCloseAfComplete for an AF the core refused");
        }
        return;
    }
    // SAFETY: NDIS passes the ClientAfContext of the closing AF: the binding.
    let Some(b) = (unsafe { binding_from(af_ctx) }) else {
        return;
    };
    let notify = b.af_notify.swap(false, Ordering::AcqRel);
    close_af_finish(b, status, notify);
}

/// Ends an AF whose close completed (called once per close, with the AF
/// CLOSING): back to NONE, reports a pended call-manager close, and wakes
/// the unbind. <= DISPATCH_LEVEL.
pub(super) fn close_af_finish(b: &Binding, status: NDIS_STATUS, notify: bool) {
    if status != NDIS_STATUS_SUCCESS {
        trace!(ERROR, c"NdisClCloseAddressFamily failed");
    }
    let handle = b.af_handle.swap(null_mut(), Ordering::AcqRel);
    adapters::af_closed(b.core_af.swap(0, Ordering::AcqRel), status);
    b.af_state.store(AF_NONE, Ordering::Release);
    if notify {
        // "use the handle in the NdisClNotifyCloseAddressFamilyComplete call
        // after the close operation completes" (ProtocolClNotifyCloseAf [D]).
        // SAFETY: the AF handle of the pended notification, completed once;
        // <= DISPATCH_LEVEL.
        unsafe { NdisClNotifyCloseAddressFamilyComplete(handle, status) };
    }
    trace!(INFO, c"covmini's AF is closed");
    // Last: an unbind waiting on this may free the binding at once.
    Binding::set(&b.af_closed);
}

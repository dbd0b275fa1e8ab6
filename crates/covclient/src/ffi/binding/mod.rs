//! Bindings and the address family: ProtocolBindAdapterEx,
//! ProtocolOpenAdapterCompleteEx, ProtocolUnbindAdapterEx,
//! ProtocolCloseAdapterCompleteEx, ProtocolNetPnPEvent,
//! ProtocolCoAfRegisterNotify, ProtocolClOpenAfCompleteEx,
//! ProtocolClNotifyCloseAf and ProtocolClCloseAfComplete.
//!
//! Owns the binding context (`ProtocolBindingContext`, tag `CcBd`):
//! nonpaged pool, a signature checked on every handler entry, overwritten
//! with `SIG_FREED` when freed. covmini registers one AF per adapter and
//! covclient opens at most one per binding, so the binding is also the
//! `ProtocolAfContext`, and the AF's state lives in it: nothing the unbind
//! and the call manager's close both touch is ever freed under either.
//!
//! The lifecycle:
//! * **Bind** (PASSIVE): refuse any medium but CoWAN
//!   (`policy::bind_decision`), open the adapter; a pended open completes the
//!   bind with NdisCompleteBindAdapterEx from ProtocolOpenAdapterCompleteEx,
//!   so nothing waits.
//! * **AF** (PASSIVE notify): open covmini's AF only (`policy::accepts_af`),
//!   one per binding. `af_state` goes NONE → OPENING → OPEN → CLOSING →
//!   NONE.
//! * **The call manager closes the AF** (ProtocolClNotifyCloseAf, <=
//!   DISPATCH_LEVEL): close it without waiting ("should not block the
//!   current thread since this could cause a deadlock", NdisClCloseAddressFamily
//!   \[D\]); a pended close is reported with
//!   NdisClNotifyCloseAddressFamilyComplete.
//! * **Unbind** (PASSIVE): wait for an AF open in flight, close the AF if it
//!   is open, wait for its close, close the adapter, wait for that, free the
//!   context. Waiting here is allowed (PASSIVE_LEVEL, not in a call
//!   manager's notification) and needs no work item, which protocol drivers
//!   cannot allocate ("Protocol drivers cannot use NdisAllocateIoWorkItem",
//!   its page \[D\]).
//!
//! Concurrency: NDIS does not call ProtocolCoAfRegisterNotify for a binding
//! while its unbind runs (it offers AFs to bound, open bindings); the
//! `unbinding` flag refuses a late one. `af_state` changes by
//! compare-and-swap, so the unbind and the call manager's close cannot both
//! close the AF; ProtocolClNotifyCloseAf during an open or during the
//! unbind's close fails (the close under way ends the AF).
//!
//! Must not: free a context while NDIS may still pass it, call
//! NdisCloseAdapterEx (PASSIVE only) from a completion handler, or block in
//! ProtocolClNotifyCloseAf.

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::mem::size_of;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};

use ndis_sys::*;

use covclient_abi::{Handle, HandleKind};

use super::adapters;
use super::handle::protocol_handle;
use super::trace::{ERROR, INFO};
use super::{objects, send, teardown};
use crate::policy;
use crate::pool::{SIG_BINDING, SIG_FREED, TAG_BINDING};

mod af;

use af::close_af_finish;
pub(super) use af::{af_register_notify, close_af_complete, driver_af_of, notify_close_af, open_af_complete};

/// `af_state` values.
const AF_NONE: u32 = 0;
const AF_OPENING: u32 = 1;
const AF_OPEN: u32 = 2;
const AF_CLOSING: u32 = 3;

/// One binding to a CoWAN miniport, and the AF open on it (if any).
///
/// INVARIANT: `signature == SIG_BINDING` from `bind_adapter_impl` until the
/// unbind (or a failed open) frees it; `binding_handle` is NDIS's once the
/// open succeeded (NDIS writes it, through the cell, during the open only);
/// `af_handle` is NDIS's NdisAfHandle while `af_state` is OPEN or CLOSING;
/// `af_closed` is set whenever `af_state` is NONE; the three events were
/// set up with NdisInitializeEvent and never move (pool memory, never
/// copied); the cells NDIS writes are touched only through their pointers;
/// `core_adapter` is the adapter's raw handle in the client core once the
/// bind succeeded (0 before, or if the core's table was full), and
/// `core_af` the AF's while `af_state` is OPEN or CLOSING (or 0).
#[repr(C)]
pub(crate) struct Binding {
    signature: AtomicU32,
    /// `NDIS_BIND_PARAMETERS.BoundIfNetluid` and `.BoundIfIndex`, for the
    /// control device's LIST_ADAPTERS.
    net_luid: NET_LUID,
    if_index: NET_IFINDEX,
    core_adapter: AtomicU64,
    /// The open AF's handle in the client core (0: none).
    core_af: AtomicU64,
    /// Set at unbind: a late AF offer is ignored.
    unbinding: AtomicBool,
    /// Written by NDIS through NdisOpenAdapterEx's out parameter.
    binding_handle: UnsafeCell<NDIS_HANDLE>,
    /// The BindContext, for NdisCompleteBindAdapterEx after a pended open.
    bind_context: NDIS_HANDLE,
    af_state: AtomicU32,
    af_handle: AtomicPtr<c_void>,
    /// The close was asked by the call manager and ProtocolClNotifyCloseAf
    /// returned PENDING: report it with NdisClNotifyCloseAddressFamilyComplete.
    af_notify: AtomicBool,
    medium: UnsafeCell<[NDIS_MEDIUM; 1]>,
    selected_medium: UnsafeCell<UINT>,
    /// Must stay valid until a pended open completes (ProtocolBindAdapterEx \[D\]).
    open_params: UnsafeCell<NDIS_OPEN_PARAMETERS>,
    /// Set when no AF open is in flight.
    af_settled: UnsafeCell<NDIS_EVENT>,
    /// Set when the binding has no AF (initially, after a failed open, after
    /// a close completes).
    af_closed: UnsafeCell<NDIS_EVENT>,
    /// Set by ProtocolCloseAdapterCompleteEx.
    adapter_closed: UnsafeCell<NDIS_EVENT>,
    /// Never set: the unbind's teardown waits on it with a timeout, to
    /// pause while completions come in.
    pause: UnsafeCell<NDIS_EVENT>,
}

/// Allocates nonpaged pool for a `T` with `tag`; NULL on failure.
///
/// # Safety
/// PASSIVE..DISPATCH_LEVEL.
unsafe fn alloc<T>(tag: ULONG) -> *mut T {
    let handle = protocol_handle();
    if handle.is_null() {
        return null_mut();
    }
    let Ok(size) = UINT::try_from(size_of::<T>()) else {
        return null_mut();
    };
    // SAFETY: a handle from NdisRegisterProtocolDriver, which the page names
    // as valid for it; a non-zero size; <= DISPATCH_LEVEL. Pool blocks are
    // 16-byte aligned, enough for every T here.
    unsafe { NdisAllocateMemoryWithTagPriority(handle, size, tag, NormalPoolPriority) }.cast()
}

/// Frees a block from [`alloc`].
///
/// # Safety
/// `p` came from `alloc` with `tag` and is not used again.
unsafe fn free<T>(p: *const T, tag: ULONG) {
    // SAFETY: a pool block of this driver with this tag (precondition).
    unsafe { NdisFreeMemoryWithTagPriority(protocol_handle(), p.cast_mut().cast(), tag) };
}

/// The binding context NDIS passed, if it is one. The reference must not
/// be used after the binding is freed (the unbind's end).
///
/// # Safety
/// `ctx` is NULL or a ProtocolBindingContext NDIS passed back.
unsafe fn binding_from<'a>(ctx: NDIS_HANDLE) -> Option<&'a Binding> {
    // SAFETY: non-NULL contexts are covclient's bindings (precondition),
    // live while NDIS passes them.
    let b = unsafe { ctx.cast::<Binding>().as_ref() }?;
    if b.signature.load(Ordering::Relaxed) != SIG_BINDING {
        trace!(ERROR, c"not a covclient binding context");
        return None;
    }
    Some(b)
}

impl Binding {
    /// The NdisBindingHandle (valid once the open succeeded).
    fn handle(&self) -> NDIS_HANDLE {
        // SAFETY: NDIS wrote the cell during the open, which completed
        // before any caller runs (bind, completion, unbind, indications).
        unsafe { *self.binding_handle.get() }
    }

    /// Sets `event`.
    fn set(event: &UnsafeCell<NDIS_EVENT>) {
        // SAFETY: an event of a live binding, set up at bind; <= DISPATCH_LEVEL.
        unsafe { NdisSetEvent(event.get()) };
    }

    /// Resets `event`.
    fn reset(event: &UnsafeCell<NDIS_EVENT>) {
        // SAFETY: as in `set`.
        unsafe { NdisResetEvent(event.get()) };
    }

    /// Waits up to `ms` milliseconds for `event`. PASSIVE_LEVEL only.
    fn wait_ms(event: &UnsafeCell<NDIS_EVENT>, ms: UINT) {
        // SAFETY: an event of a live binding, set up at bind; the only
        // caller is the unbind, at PASSIVE_LEVEL.
        unsafe { NdisWaitEvent(event.get(), ms) };
    }

    /// Waits for `event`, without a timeout. PASSIVE_LEVEL only.
    fn wait(event: &UnsafeCell<NDIS_EVENT>) {
        // SAFETY: as in `set`; every caller runs at PASSIVE_LEVEL (unbind).
        unsafe { NdisWaitEvent(event.get(), 0) };
    }
}

/// The NdisBindingHandle of a binding context, for returning NBLs.
///
/// # Safety
/// As [`binding_from`].
pub(super) unsafe fn ndis_binding_handle(ctx: NDIS_HANDLE) -> Option<NDIS_HANDLE> {
    // SAFETY: forwarded.
    unsafe { binding_from(ctx) }.map(Binding::handle)
}

ndis_fn! {
    pub(super) unsafe fn bind_adapter(driver_ctx: NDIS_HANDLE, bind_ctx: NDIS_HANDLE, params: PNDIS_BIND_PARAMETERS) -> NDIS_STATUS => bind_adapter_impl;
    pub(super) unsafe fn open_adapter_complete(binding: NDIS_HANDLE, status: NDIS_STATUS) => open_adapter_complete_impl;
    pub(super) unsafe fn unbind_adapter(unbind_ctx: NDIS_HANDLE, binding: NDIS_HANDLE) -> NDIS_STATUS => unbind_adapter_impl;
    pub(super) unsafe fn close_adapter_complete(binding: NDIS_HANDLE) => close_adapter_complete_impl;
    pub(super) unsafe fn net_pnp_event(binding: NDIS_HANDLE, event: PNET_PNP_EVENT_NOTIFICATION) -> NDIS_STATUS => net_pnp_event_impl;
}

/// ProtocolBindAdapterEx: binds to a CoWAN adapter.
///
/// # IRQL
/// PASSIVE_LEVEL.
///
/// # Safety
/// `params` is the NDIS_BIND_PARAMETERS NDIS passed, valid for the call.
unsafe fn bind_adapter_impl(
    _driver_ctx: NDIS_HANDLE,
    bind_ctx: NDIS_HANDLE,
    params: PNDIS_BIND_PARAMETERS,
) -> NDIS_STATUS {
    // SAFETY: NDIS's bind parameters (precondition), read for the call.
    let Some(params) = (unsafe { params.as_ref() }) else {
        return NDIS_STATUS_INVALID_PARAMETER;
    };
    // MediaType and AdapterName are revision-1 members, in every revision.
    if let Err(status) = policy::bind_decision(params.MediaType) {
        trace!(INFO, c"not a CoWAN adapter: not binding");
        return status;
    }
    // SAFETY: PASSIVE_LEVEL.
    let p: *mut Binding = unsafe { alloc(TAG_BINDING) };
    if p.is_null() {
        return NDIS_STATUS_RESOURCES;
    }
    // SAFETY: a fresh block for a Binding, exclusively owned; written whole.
    unsafe {
        p.write(Binding {
            signature: AtomicU32::new(SIG_BINDING),
            // Revision-1 members (offsets 152 and 160, below its 248 bytes).
            net_luid: params.BoundIfNetluid,
            if_index: params.BoundIfIndex,
            core_adapter: AtomicU64::new(0),
            core_af: AtomicU64::new(0),
            unbinding: AtomicBool::new(false),
            binding_handle: UnsafeCell::new(null_mut()),
            bind_context: bind_ctx,
            af_state: AtomicU32::new(AF_NONE),
            af_handle: AtomicPtr::new(null_mut()),
            af_notify: AtomicBool::new(false),
            medium: UnsafeCell::new([policy::MEDIUM]),
            selected_medium: UnsafeCell::new(0),
            // Written below, once the pointers into `b` exist.
            open_params: UnsafeCell::new(NDIS_OPEN_PARAMETERS {
                Header: NDIS_OBJECT_HEADER {
                    Type: 0,
                    Revision: 0,
                    Size: 0,
                },
                AdapterName: null_mut(),
                MediumArray: null_mut(),
                MediumArraySize: 0,
                SelectedMediumIndex: null_mut(),
                FrameTypeArray: null_mut(),
                FrameTypeArraySize: 0,
            }),
            af_settled: UnsafeCell::new(NDIS_EVENT::zeroed()),
            af_closed: UnsafeCell::new(NDIS_EVENT::zeroed()),
            adapter_closed: UnsafeCell::new(NDIS_EVENT::zeroed()),
            pause: UnsafeCell::new(NDIS_EVENT::zeroed()),
        });
    }
    // SAFETY: just written; shared from here on.
    let b = unsafe { &*p };
    for event in [&b.af_settled, &b.af_closed, &b.adapter_closed, &b.pause] {
        // SAFETY: the event's own storage, set up in place once, before use.
        unsafe { NdisInitializeEvent(event.get()) };
    }
    Binding::set(&b.af_settled);
    Binding::set(&b.af_closed);
    let open_params = b.open_params.get();
    // SAFETY: no one else sees `b` yet; the pointers are into `b`, which
    // outlives the open.
    unsafe {
        open_params.write(NDIS_OPEN_PARAMETERS {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_OPEN_PARAMETERS,
                NDIS_OPEN_PARAMETERS_REVISION_1,
                NDIS_SIZEOF_OPEN_PARAMETERS_REVISION_1,
            ),
            AdapterName: params.AdapterName,
            MediumArray: b.medium.get().cast(),
            MediumArraySize: 1,
            SelectedMediumIndex: b.selected_medium.get(),
            // A CoNDIS client receives per VC, not by frame type.
            FrameTypeArray: null_mut(),
            FrameTypeArraySize: 0,
        });
    }
    // SAFETY: the protocol handle; `b` as ProtocolBindingContext; the open
    // parameters, medium array, index and handle slot live in `b` until the
    // open completes (a failed open frees `b` only after NDIS is done with
    // it); PASSIVE_LEVEL.
    let status = unsafe {
        NdisOpenAdapterEx(
            protocol_handle(),
            p.cast(),
            open_params,
            bind_ctx,
            b.binding_handle.get(),
        )
    };
    if status == NDIS_STATUS_PENDING {
        // ProtocolOpenAdapterCompleteEx completes the bind.
        return NDIS_STATUS_PENDING;
    }
    if status != NDIS_STATUS_SUCCESS {
        trace!(ERROR, c"NdisOpenAdapterEx failed");
        // SAFETY: the open failed: NDIS holds no reference to `b`.
        unsafe { free_binding(b) };
        return status;
    }
    record_bound(b);
    trace!(INFO, c"bound");
    NDIS_STATUS_SUCCESS
}

/// The adapter is open: the core learns of it, and its entry keeps the
/// NdisBindingHandle for the control device's OPEN_AF.
fn record_bound(b: &Binding) {
    let raw = adapters::bound(b.net_luid, b.if_index);
    b.core_adapter.store(raw, Ordering::Release);
    if let Ok(h) = Handle::parse(raw, &[HandleKind::Adapter])
        && objects::ADAPTERS.create(h, b.handle(), ()).is_none()
    {
        trace!(ERROR, c"no adapter entry: OPEN_AF on this adapter will fail");
    }
}

/// Frees a binding context.
///
/// # Safety
/// NDIS no longer passes `b`; nothing else uses it after this.
unsafe fn free_binding(b: &Binding) {
    b.signature.store(SIG_FREED, Ordering::Relaxed);
    // SAFETY: allocated with TAG_BINDING; not used again (precondition).
    unsafe { free(core::ptr::from_ref(b), TAG_BINDING) };
}

/// ProtocolOpenAdapterCompleteEx: completes a bind whose open pended.
///
/// # IRQL
/// PASSIVE_LEVEL.
unsafe fn open_adapter_complete_impl(binding: NDIS_HANDLE, status: NDIS_STATUS) {
    // SAFETY: NDIS passes the context given to NdisOpenAdapterEx.
    let Some(b) = (unsafe { binding_from(binding) }) else {
        return;
    };
    let bind_ctx = b.bind_context;
    if status == NDIS_STATUS_SUCCESS {
        record_bound(b);
        trace!(INFO, c"bound (open completed)");
    } else {
        trace!(ERROR, c"NdisOpenAdapterEx completed with a failure");
        // SAFETY: the open failed: NDIS holds no reference to `b`.
        unsafe { free_binding(b) };
    }
    // SAFETY: the BindContext of the pended ProtocolBindAdapterEx, completed
    // once; <= DISPATCH_LEVEL.
    unsafe { NdisCompleteBindAdapterEx(bind_ctx, status) };
}

/// ProtocolUnbindAdapterEx: closes the AF (if open) and the adapter, waiting
/// for each, then frees the binding.
///
/// # IRQL
/// PASSIVE_LEVEL.
unsafe fn unbind_adapter_impl(_unbind_ctx: NDIS_HANDLE, binding: NDIS_HANDLE) -> NDIS_STATUS {
    // SAFETY: NDIS passes the binding's context.
    let Some(b) = (unsafe { binding_from(binding) }) else {
        return NDIS_STATUS_INVALID_PARAMETER;
    };
    b.unbinding.store(true, Ordering::Release);
    // No new OPEN_AF on this binding from here on.
    if let Ok(h) = Handle::parse(b.core_adapter.load(Ordering::Acquire), &[HandleKind::Adapter]) {
        objects::ADAPTERS.forget(h);
    }
    // The opens' objects on this adapter first, then the binding's AF.
    teardown::unbind(b.core_adapter.load(Ordering::Acquire), || {
        Binding::wait_ms(&b.pause, 10);
    });
    // An AF open in flight completes first.
    Binding::wait(&b.af_settled);
    if b.af_state
        .compare_exchange(AF_OPEN, AF_CLOSING, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
    {
        adapters::af_closing(b.core_af.load(Ordering::Acquire));
        // SAFETY: an open AF's handle, closed once (the CAS); PASSIVE_LEVEL.
        let status = unsafe { NdisClCloseAddressFamily(b.af_handle.load(Ordering::Acquire)) };
        if status != NDIS_STATUS_PENDING {
            // "the client should make an internal call to its
            // ProtocolClCloseAfComplete" (NdisClCloseAddressFamily [D]).
            close_af_finish(b, status, false);
        }
    }
    // No AF, or ours or the call manager's close under way: wait for NONE.
    Binding::wait(&b.af_closed);
    // SAFETY: the open binding's handle, closed once; no AF is open on it;
    // PASSIVE_LEVEL.
    let status = unsafe { NdisCloseAdapterEx(b.handle()) };
    if status == NDIS_STATUS_PENDING {
        Binding::wait(&b.adapter_closed);
    } else if status != NDIS_STATUS_SUCCESS {
        trace!(ERROR, c"NdisCloseAdapterEx failed");
    }
    adapters::gone(b.core_adapter.load(Ordering::Acquire));
    // The core forgot everything under the adapter: free their contexts.
    objects::reap();
    // SAFETY: the adapter is closed: NDIS passes `b` no more.
    unsafe { free_binding(b) };
    trace!(INFO, c"unbound");
    NDIS_STATUS_SUCCESS
}

/// ProtocolCloseAdapterCompleteEx: wakes the unbind.
///
/// # IRQL
/// PASSIVE_LEVEL.
unsafe fn close_adapter_complete_impl(binding: NDIS_HANDLE) {
    // SAFETY: NDIS passes the binding's context.
    let Some(b) = (unsafe { binding_from(binding) }) else {
        return;
    };
    // Last access: the unbind frees `b` once woken.
    Binding::set(&b.adapter_closed);
}

/// ProtocolNetPnPEvent: a pause waits (bounded) for covclient's sends in
/// flight to complete, as a protocol's pause must before it returns;
/// every other event succeeds at once (covclient keeps no power state).
/// `binding` is NULL for driver-wide events.
///
/// # IRQL
/// PASSIVE_LEVEL.
///
/// # Safety
/// `event` is NULL or the notification NDIS passed, valid for the call.
unsafe fn net_pnp_event_impl(binding: NDIS_HANDLE, event: PNET_PNP_EVENT_NOTIFICATION) -> NDIS_STATUS {
    // SAFETY: NDIS's notification (precondition), read for the call.
    let Some(e) = (unsafe { event.as_ref() }) else {
        return NDIS_STATUS_SUCCESS;
    };
    if e.NetPnPEvent.NetEvent != NetEventPause {
        return NDIS_STATUS_SUCCESS;
    }
    // SAFETY: NDIS passes the binding's context (or NULL).
    if let Some(b) = unsafe { binding_from(binding) } {
        send::drain(|| Binding::wait_ms(&b.pause, 10));
    }
    NDIS_STATUS_SUCCESS
}

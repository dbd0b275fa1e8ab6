//! The handlers every miniport registers beside its lifecycle (contract
//! §1.1 (3)): the connectionless send path NDIS requires but never uses for
//! a CoNDIS miniport (MiniportSendNetBufferLists, MiniportCancelSend),
//! MiniportReturnNetBufferLists (covmini's receives coming back),
//! MiniportDevicePnPEventNotify, MiniportShutdownEx and
//! MiniportCancelOidRequest.
//!
//! Must not: allocate, or hold the adapter lock across an NDIS call.

use ndis_sys::*;

use super::context::AdapterContext;
use super::data;
use super::trace::{ERROR, INFO, WARN};

ndis_fn! {
    pub(super) unsafe fn send_net_buffer_lists(
        ctx: NDIS_HANDLE,
        nbls: PNET_BUFFER_LIST,
        _port: NDIS_PORT_NUMBER,
        send_flags: ULONG,
    ) => send_net_buffer_lists_impl;
}

/// MiniportSendNetBufferLists: the connectionless send path, which NDIS
/// requires to be present (contract §1.1 (3)) but never uses for a CoNDIS
/// miniport. Should it be called, every NBL is completed at once with
/// NDIS_STATUS_NOT_SUPPORTED rather than lost.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
unsafe fn send_net_buffer_lists_impl(
    ctx: NDIS_HANDLE,
    nbls: PNET_BUFFER_LIST,
    _port: NDIS_PORT_NUMBER,
    send_flags: ULONG,
) {
    // SAFETY: NDIS passes back our MiniportAdapterContext.
    let Some(adapter) = (unsafe { AdapterContext::from_context(ctx) }) else {
        trace!(ERROR, "SendNetBufferLists: not an adapter context: {:p}", ctx);
        return;
    };
    trace!(
        WARN,
        "connectionless SendNetBufferLists on a CoNDIS miniport: failing the NBLs"
    );
    let mut nbl = nbls;
    while !nbl.is_null() {
        // SAFETY: `nbl` is a non-null element of the chain NDIS handed us,
        // which we own until we complete it.
        unsafe { (*nbl).Status = NDIS_STATUS_NOT_SUPPORTED };
        // SAFETY: `nbl` is still the same non-null NBL of the chain NDIS
        // handed us, owned until the completion below.
        nbl = unsafe { (*nbl).Next };
    }
    let flags = send_flags & NDIS_SEND_FLAGS_DISPATCH_LEVEL;
    // SAFETY: the chain NDIS gave us, unchanged, completed once; the
    // dispatch-level flag is passed through as NDIS requires.
    unsafe { NdisMSendNetBufferListsComplete(adapter.miniport_handle(), nbls, flags) };
}

ndis_fn! {
    pub(super) unsafe fn return_net_buffer_lists(
        ctx: NDIS_HANDLE,
        nbls: PNET_BUFFER_LIST,
        flags: ULONG,
    ) => return_net_buffer_lists_impl;
}

/// MiniportReturnNetBufferLists: NDIS returns the receive NBLs covmini
/// indicated (`super::data`): each goes back on the free list, the send
/// whose data it lent is completed when its last receive is back, and
/// the VC it was indicated on may finish a pended close.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
unsafe fn return_net_buffer_lists_impl(ctx: NDIS_HANDLE, nbls: PNET_BUFFER_LIST, flags: ULONG) {
    // SAFETY: NDIS passes back our MiniportAdapterContext.
    let Some(adapter) = (unsafe { AdapterContext::from_context(ctx) }) else {
        trace!(ERROR, "ReturnNetBufferLists: not an adapter context: {:p}", ctx);
        return;
    };
    // SAFETY: receive NBLs covmini indicated on this adapter.
    unsafe { data::return_nbls(adapter, nbls, flags) };
}

ndis_fn! {
    pub(super) unsafe fn cancel_send(_ctx: NDIS_HANDLE, cancel_id: PVOID) => cancel_send_impl;
}

/// MiniportCancelSend: covmini has no send queue, so nothing to cancel.
///
/// The page describes the operation as one on *queued* NBLs: the
/// miniport "traverses its list of queued NET_BUFFER_LIST structures",
/// unlinks those with the cancel id and completes them with
/// NDIS_STATUS_SEND_ABORTED (MiniportCancelSend \[D\]). covmini never
/// queues a send: each one is either completed inside
/// MiniportCoSendNetBufferLists or already delivered, its data lent to
/// the receiving protocol as a receive indication (`super::data`). A
/// delivered send cannot be recalled (the protocol owns the receive NBL
/// until it returns it, NdisMIndicateReceiveNetBufferLists \[D\]); it
/// completes, once, with SUCCESS when NDIS returns the last receive NBL.
/// So a cancel changes nothing and every send still completes exactly
/// once.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL; takes no lock.
unsafe fn cancel_send_impl(_ctx: NDIS_HANDLE, cancel_id: PVOID) {
    trace!(
        INFO,
        "CancelSend({:p}): no queued sends (delivered sends complete when their receives return)", cancel_id
    );
}

handler! {
    #[flight(MiniportDevicePnPEventNotify, _ctx: AdapterContext)]
    pub(super) unsafe fn device_pnp_event_notify(
        _ctx: NDIS_HANDLE,
        event: PNET_DEVICE_PNP_EVENT,
    ) => device_pnp_event_notify_impl;
}

/// MiniportDevicePnPEventNotify: decodes the event and records it.
///
/// covmini is a virtual adapter with no device behind it: a surprise
/// removal leaves nothing to stop touching (NDIS halts the adapter next,
/// through MiniportHaltEx, which tears everything down), and a power
/// profile change (a ULONG in InformationBuffer) changes nothing in a
/// loopback fabric. A block with a bad header or a short buffer is
/// traced and ignored.
///
/// # IRQL
/// Runs at IRQL = PASSIVE_LEVEL; takes no lock.
unsafe fn device_pnp_event_notify_impl(_ctx: NDIS_HANDLE, event: PNET_DEVICE_PNP_EVENT) {
    // SAFETY: NDIS passes a valid event block, or null, which is tolerated.
    let Some(e) = (unsafe { event.as_ref() }) else {
        trace!(WARN, "DevicePnPEventNotify: no event block");
        return;
    };
    if e.Header.Revision < NET_DEVICE_PNP_EVENT_REVISION_1
        || usize::from(e.Header.Size) < NDIS_SIZEOF_NET_DEVICE_PNP_EVENT_REVISION_1
    {
        trace!(
            WARN,
            "DevicePnPEventNotify: header revision {} size {}", e.Header.Revision, e.Header.Size
        );
        return;
    }
    let code = e.DevicePnPEvent;
    if code == NdisDevicePnPEventSurpriseRemoved {
        trace!(
            INFO,
            "DevicePnPEventNotify: surprise removal (a virtual adapter has no device to stop)"
        );
    } else if code == NdisDevicePnPEventPowerProfileChanged {
        let profile = if e.InformationBufferLength >= 4 && !e.InformationBuffer.is_null() {
            // SAFETY: NDIS's buffer of at least a ULONG (checked), read
            // once, unaligned-tolerant.
            Some(unsafe { e.InformationBuffer.cast::<ULONG>().read_unaligned() })
        } else {
            None
        };
        trace!(INFO, "DevicePnPEventNotify: power profile {:?}", profile);
    } else {
        trace!(INFO, "DevicePnPEventNotify({})", code);
    }
}

ndis_fn! {
    pub(super) unsafe fn shutdown(_ctx: NDIS_HANDLE, action: NDIS_SHUTDOWN_ACTION) => shutdown_impl;
}

/// MiniportShutdownEx: no hardware to quiesce.
///
/// # IRQL
/// Runs at IRQL = PASSIVE_LEVEL for a power-off, any IRQL for a bug check:
/// it touches nothing but the debug print.
unsafe fn shutdown_impl(_ctx: NDIS_HANDLE, action: NDIS_SHUTDOWN_ACTION) {
    if action != NdisShutdownBugCheck {
        trace!(INFO, "ShutdownEx({})", action);
    }
}

handler! {
    #[flight(MiniportCancelOidRequest, _ctx: AdapterContext)]
    pub(super) unsafe fn cancel_oid_request(_ctx: NDIS_HANDLE, request_id: PVOID) => cancel_oid_request_impl;
}

/// MiniportCancelOidRequest: no OID is ever pended yet, so none to cancel.
///
/// # IRQL
/// Runs at IRQL <= DISPATCH_LEVEL.
unsafe fn cancel_oid_request_impl(_ctx: NDIS_HANDLE, request_id: PVOID) {
    trace!(INFO, "CancelOidRequest({:p}): nothing pending", request_id);
}

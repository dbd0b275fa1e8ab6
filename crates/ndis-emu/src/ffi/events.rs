//! NDIS events: the four `Ndis*Event` DDIs as the driver calls them. Each
//! hands the event's address to `crate::sync`, which keeps its state, checks
//! the rules and does the waiting; here the KEVENT bytes in the driver's
//! memory are written as the kernel would (so a debugger's view of the
//! driver's NDIS_EVENT reads right), and only while the event is valid.
//!
//! IRQL (each DDI's page): NdisInitializeEvent at any level, NdisSetEvent
//! and NdisResetEvent at <= DISPATCH_LEVEL, NdisWaitEvent at PASSIVE_LEVEL.

use core::mem::offset_of;

use ndis_sys::*;

use crate::sync;
use crate::world;

/// `sizeof(KEVENT) / sizeof(LONG)`: what KeInitializeEvent stores in
/// `Header.Size` (wdm.h \[H\]).
const KEVENT_SIZE_IN_LONGS: UCHAR = (core::mem::size_of::<KEVENT>() / core::mem::size_of::<LONG>()) as UCHAR;

/// Writes `SignalState` of the event at `event` (a valid event: initialized
/// by the driver's NdisInitializeEvent in memory not freed since).
fn write_signal_state(event: PNDIS_EVENT, state: LONG) {
    let field = event
        .cast::<u8>()
        .wrapping_add(offset_of!(DISPATCHER_HEADER, SignalState))
        .cast::<LONG>();
    // SAFETY: the driver's NDIS_EVENT storage, which NdisInitializeEvent's
    // contract makes writable caller-supplied storage for the object, still
    // allocated (sync checked it); unaligned-tolerant in case the driver's
    // storage is not.
    unsafe { field.write_unaligned(state) };
}

ddi_fn! {
    /// NdisInitializeEvent. Any IRQL. A notification event, not signalled,
    /// as KeInitializeEvent(NotificationEvent, FALSE) writes it.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisInitializeEvent(event: PNDIS_EVENT) {
        world::with("NdisInitializeEvent", |w| {
            if !sync::initialize(w, event as usize) {
                return;
            }
            let header = event.cast::<DISPATCHER_HEADER>();
            let list = header
                .cast::<u8>()
                .wrapping_add(offset_of!(DISPATCHER_HEADER, WaitListHead))
                .cast::<LIST_ENTRY>();
            let value = DISPATCHER_HEADER {
                Type: EventNotificationObject,
                Signalling: 0,
                Size: KEVENT_SIZE_IN_LONGS,
                Reserved1: 0,
                SignalState: 0,
                // An empty wait list points at itself (InitializeListHead).
                WaitListHead: LIST_ENTRY { Flink: list, Blink: list },
            };
            // SAFETY: non-null (checked); the caller-supplied storage for the
            // event object the DDI's page describes, NDIS_EVENT-sized.
            unsafe { header.write_unaligned(value) };
        });
    }
}

ddi_fn! {
    /// NdisSetEvent. <= DISPATCH_LEVEL. Wakes every waiter; the event stays
    /// set until NdisResetEvent.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisSetEvent(event: PNDIS_EVENT) {
        world::with("NdisSetEvent", |w| {
            if sync::set_state(w, event as usize, true) {
                write_signal_state(event, 1);
            }
        });
    }
}

ddi_fn! {
    /// NdisResetEvent. <= DISPATCH_LEVEL.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisResetEvent(event: PNDIS_EVENT) {
        world::with("NdisResetEvent", |w| {
            if sync::set_state(w, event as usize, false) {
                write_signal_state(event, 0);
            }
        });
    }
}

ddi_fn! {
    /// NdisWaitEvent. PASSIVE_LEVEL. TRUE when the event is signalled; FALSE
    /// after `ms` milliseconds (0: no limit), or at once for a bad event or
    /// IRQL. What runs meanwhile is `crate::sync`'s business.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisWaitEvent(event: PNDIS_EVENT, ms: UINT) -> BOOLEAN {
        if sync::wait(event as usize, ms) { TRUE } else { FALSE }
    }
}

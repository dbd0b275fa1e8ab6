//! NDIS I/O work items and NDIS timer objects: the DDIs as the driver calls
//! them. Each reads what the driver passed (headers before the bytes they
//! announce) and hands plain values to `crate::sched`, which keeps the state,
//! checks the rules and runs the routines later: on its queue in the
//! deterministic mode, on worker and DPC threads in the threaded mode.
//!
//! IRQL (ndis-ddi-irql.txt has none of these; the DDI pages say): all six
//! are callable at IRQL <= DISPATCH_LEVEL; NdisCancelTimerObject on a
//! periodic timer only at PASSIVE_LEVEL (rule `sched.periodic-cancel-passive`).

use core::ptr::null_mut;

use ndis_sys::*;

use super::zero::{ZeroValid, read_prefix};
use crate::sched::{self, TimerRequest};
use crate::world;

// SAFETY: a repr(C) struct of a header (integers), a ULONG, an
// Option<fn> and a raw pointer: all-zero is valid (TimerFunction None).
unsafe impl ZeroValid for NDIS_TIMER_CHARACTERISTICS {}

ddi_fn! {
    /// NdisAllocateIoWorkItem. <= DISPATCH_LEVEL. The miniport passes its
    /// adapter handle (the work item is freed by MiniportHaltEx) or its driver
    /// handle (freed before unload). NULL on failure, including an injected
    /// allocation failure.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisAllocateIoWorkItem(handle: NDIS_HANDLE) -> NDIS_HANDLE {
        match world::with("NdisAllocateIoWorkItem", |w| sched::allocate_work_item(w, handle as usize)) {
            Some(h) => h as NDIS_HANDLE,
            None => null_mut(),
        }
    }
}

ddi_fn! {
    /// NdisQueueIoWorkItem. <= DISPATCH_LEVEL. The routine runs later, at
    /// PASSIVE_LEVEL: when the test runs the scheduler (deterministic mode),
    /// or at once on a system worker thread (threaded mode). `Routine` is read as
    /// nullable so that a NULL from a real image is reported, not undefined.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisQueueIoWorkItem(handle: NDIS_HANDLE, routine: Option<NDIS_IO_WORKITEM_ROUTINE>, context: PVOID) {
        world::with("NdisQueueIoWorkItem", |w| sched::queue_work_item(w, handle as usize, routine, context as usize));
    }
}

ddi_fn! {
    /// NdisFreeIoWorkItem. <= DISPATCH_LEVEL. Not while queued; the work
    /// item's own routine may free it.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisFreeIoWorkItem(handle: NDIS_HANDLE) {
        world::with("NdisFreeIoWorkItem", |w| sched::free_work_item(w, handle as usize));
    }
}

ddi_fn! {
    /// NdisAllocateTimerObject. <= DISPATCH_LEVEL. Reads the characteristics
    /// header, then as many bytes as it announces (at most the 24 NDIS knows).
    /// SUCCESS and the timer in `*timer_out`; BAD_CHARACTERISTICS for a bad
    /// block, INVALID_PARAMETER for a NULL pointer, RESOURCES for an injected
    /// allocation failure, FAILURE for a bad NdisHandle.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisAllocateTimerObject(handle: NDIS_HANDLE, characteristics: PNDIS_TIMER_CHARACTERISTICS, timer_out: PNDIS_HANDLE) -> NDIS_STATUS {
        // SAFETY: read only when non-null; the header is the first 4 bytes.
        let header = (!characteristics.is_null()).then(|| unsafe { read_prefix(characteristics.cast::<NDIS_OBJECT_HEADER>(), 4) });
        // SAFETY: non-null, and readable for the size its header announces
        // (the DDI's contract); read_prefix reads no more than 24 bytes.
        let chars = header.map(|h| unsafe { read_prefix(characteristics, usize::from(h.Size)) });
        let req = TimerRequest { characteristics: chars, null_out: timer_out.is_null() };
        match world::with("NdisAllocateTimerObject", |w| sched::allocate_timer(w, handle as usize, req)) {
            Ok(t) => {
                // SAFETY: checked non-null by allocate_timer (null_out); the
                // driver passed a handle slot.
                unsafe { timer_out.write(t as NDIS_HANDLE) };
                NDIS_STATUS_SUCCESS
            }
            Err(status) => status,
        }
    }
}

ddi_fn! {
    /// NdisSetTimerObject. <= DISPATCH_LEVEL. A negative `due_time` is
    /// relative (100 ns units), a positive one absolute system time; a
    /// positive `period_ms` makes the timer periodic (a LONG, as in ndis.h:
    /// a negative one is reported); a NULL context means the one in the
    /// characteristics. TRUE if the timer was already queued.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisSetTimerObject(timer: NDIS_HANDLE, due_time: LARGE_INTEGER, period_ms: LONG, context: PVOID) -> BOOLEAN {
        let was_queued = world::with("NdisSetTimerObject", |w| sched::set_timer(w, timer as usize, due_time, period_ms, context as usize));
        BOOLEAN::from(was_queued)
    }
}

ddi_fn! {
    /// NdisCancelTimerObject. <= DISPATCH_LEVEL, and PASSIVE_LEVEL for a
    /// periodic timer. TRUE if the timer was in the timer queue. For a
    /// periodic timer it also waits until the callback is not running on any
    /// CPU (KeFlushQueuedDpcs); a one-shot timer's callback may still be
    /// running on another CPU when it returns FALSE.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisCancelTimerObject(timer: NDIS_HANDLE) -> BOOLEAN {
        let h = timer as usize;
        let (was_queued, flush) = world::with("NdisCancelTimerObject", |w| (sched::cancel_timer(w, h), sched::must_flush(&w.sched, h)));
        if flush {
            // KeFlushQueuedDpcs: a periodic timer's callback running on
            // another CPU returns before the cancel does.
            sched::flush(h);
        }
        BOOLEAN::from(was_queued)
    }
}

ddi_fn! {
    /// NdisFreeTimerObject. <= DISPATCH_LEVEL. Only a timer not in the timer
    /// queue (cancel it first).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisFreeTimerObject(timer: NDIS_HANDLE) {
        world::with("NdisFreeTimerObject", |w| sched::free_timer(w, timer as usize));
    }
}

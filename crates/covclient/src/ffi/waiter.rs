//! The pended WAIT_EVENTS IRP of each open: parking it with a cancel
//! routine, completing it when events arrive, cancelling it, and completing
//! it at cleanup (docs/covclient-ioctl.md, "Events").
//!
//! The cancel protocol (IoSetCancelRoutine \[D\], "Cancel-safe IRP
//! queues"): whoever clears the cancel routine and finds it still set owns
//! the IRP and completes it; if the routine was already gone, the I/O
//! manager is calling it, and the cancel routine completes the IRP, so
//! everyone else leaves the waiter where the cancel routine will find it.
//! All of it happens under `control::locked`, which the cancel routine also
//! takes (after releasing the cancel spin lock), so the parked slot is the
//! one place both sides look.
//!
//! Must not: complete an IRP under the lock, or complete one whose cancel
//! routine is running.

use ndis_sys::*;

use super::control::{Inner, Waiter, locked};
use super::irp;
use super::trace::ERROR;
use crate::core::FileId;

/// What [`park`] did.
pub(super) enum Parked {
    /// The IRP waits (or its cancel routine will complete it).
    Waiting,
    /// It was cancelled before it could wait: complete it with
    /// STATUS_CANCELLED (after the lock).
    Cancelled,
}

/// Parks a WAIT_EVENTS IRP the core answered PENDING for. Called under the
/// lock, inside the same `locked` as the core's decision, so no event can
/// slip between the decision and the parking. The caller has already
/// marked the IRP pending and returns STATUS_PENDING whatever this says.
///
/// # IRQL
/// DISPATCH_LEVEL (under the lock).
///
/// # Safety
/// `w.irp` is the IRP being dispatched, marked pending.
pub(super) unsafe fn park(inner: &mut Inner, w: Waiter) -> Parked {
    let Some(slot) = inner.waiters.iter_mut().find(|s| s.is_none()) else {
        // One waiter per open and at most MAX_FILES opens: unreachable
        // unless the tables disagree. Refuse rather than lose the IRP.
        trace!(ERROR, c"no waiter slot");
        inner.core.waiter_gone(w.file);
        return Parked::Cancelled;
    };
    // SAFETY: the dispatched IRP (precondition), held until completed.
    unsafe { irp::set_cancel_routine(w.irp, Some(cancel)) };
    // SAFETY: the dispatched IRP, not completed: nothing completes it
    // while this routine holds the lock and has not parked it.
    if unsafe { irp::cancelled(w.irp) } {
        // SAFETY: the same IRP, still held here; the exchange tells whether
        // the I/O manager took the routine.
        if unsafe { irp::set_cancel_routine(w.irp, None) } {
            // The routine was not taken: the cancel came first, we own it.
            inner.core.waiter_gone(w.file);
            return Parked::Cancelled;
        }
        // The I/O manager is calling the routine: park it so it finds it.
    }
    *slot = Some(w);
    Parked::Waiting
}

ndis_fn! {
    unsafe fn cancel(device: PDEVICE_OBJECT, irp: PIRP) => cancel_impl;
}

/// DRIVER_CANCEL for a parked WAIT_EVENTS: releases the cancel spin lock,
/// unparks the IRP (the core's queue keeps its events) and completes it
/// with STATUS_CANCELLED.
///
/// # IRQL
/// Called at DISPATCH_LEVEL holding the cancel spin lock, released first
/// with `Irp->CancelIrql` (DRIVER_CANCEL \[D\]); takes covclient's lock
/// after that, never both.
unsafe fn cancel_impl(_device: PDEVICE_OBJECT, irp: PIRP) {
    // SAFETY: the IRP the I/O manager is cancelling, alive until completed.
    let irql = unsafe { (*irp).CancelIrql };
    // SAFETY: the I/O manager called this with the cancel spin lock held and
    // the IRQL to restore in Irp->CancelIrql; released once, first.
    unsafe { IoReleaseCancelSpinLock(irql) };
    let _ = locked(|inner| {
        let slot = inner.waiters.iter_mut().find(|s| s.is_some_and(|w| w.irp == irp));
        if let Some(w) = slot.and_then(Option::take) {
            inner.core.waiter_gone(w.file);
        }
    });
    // SAFETY: the I/O manager took our cancel routine to call it, so every
    // other path saw `set_cancel_routine(None) == false` and left the IRP to
    // this routine: it is ours to complete, once.
    unsafe { irp::complete(irp, STATUS_CANCELLED, 0) };
}

/// Takes `file`'s waiter if its cancel routine can still be cleared (then
/// it is the caller's to complete); else leaves it for the cancel routine.
fn unpark(inner: &mut Inner, file: FileId) -> Option<Waiter> {
    let slot = inner.waiters.iter_mut().find(|s| s.is_some_and(|w| w.file == file))?;
    let w = (*slot)?;
    // SAFETY: a parked IRP is held by covclient (Waiter's invariant).
    if unsafe { irp::set_cancel_routine(w.irp, None) } {
        *slot = None;
        Some(w)
    } else {
        None
    }
}

/// Completes `file`'s parked WAIT_EVENTS with the queued events, if it has
/// one and events are queued (after a core callback answered `Some(file)`).
///
/// # IRQL
/// <= DISPATCH_LEVEL; no covclient lock held.
pub(super) fn wake(file: FileId) {
    let done = locked(|inner| {
        if !inner.core.has_waiter(file) {
            return None;
        }
        let w = unpark(inner, file)?;
        // SAFETY: the IRP's system buffer of `out_len` bytes (Waiter's
        // invariant), ours until the IRP completes; nothing else maps it.
        let out = unsafe { core::slice::from_raw_parts_mut(w.out, w.out_len) };
        let r = inner.core.take_events(file, w.max_events, out);
        Some((w.irp, r))
    });
    if let Some(Some((irp, r))) = done {
        let (status, n) = match r {
            Ok(n) => (STATUS_SUCCESS, n),
            // CAST: an NTSTATUS's bits.
            Err(s) => (s as NTSTATUS, 0),
        };
        // SAFETY: unparked with its cancel routine cleared: ours to complete.
        unsafe { irp::complete(irp, status, n) };
    }
}

/// IRP_MJ_CLEANUP: completes `file`'s parked WAIT_EVENTS with
/// STATUS_CANCELLED (the contract), unless its cancel routine is running.
///
/// # IRQL
/// PASSIVE_LEVEL; no covclient lock held.
pub(super) fn cancel_file(file: FileId) {
    let taken = locked(|inner| {
        let w = unpark(inner, file);
        if w.is_some() {
            inner.core.waiter_gone(file);
        }
        w
    });
    if let Some(Some(w)) = taken {
        // SAFETY: unparked with its cancel routine cleared: ours to complete.
        unsafe { irp::complete(w.irp, STATUS_CANCELLED, 0) };
    }
}

/// Wakes every open whose pended WAIT_EVENTS has events to take (after a
/// broadcast event).
///
/// # IRQL
/// <= DISPATCH_LEVEL; no covclient lock held.
pub(super) fn wake_all() {
    let files = locked(|inner| {
        let mut ready = [None; crate::core::MAX_FILES];
        let waiting = inner
            .files
            .iter()
            .flatten()
            .filter(|(_, id)| inner.core.has_waiter(*id));
        for ((_, id), slot) in waiting.zip(ready.iter_mut()) {
            *slot = Some(*id);
        }
        ready
    });
    for file in files.into_iter().flatten().flatten() {
        wake(file);
    }
}

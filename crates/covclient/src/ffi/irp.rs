//! The inline IRP routines of wdm.h that the control device needs, written
//! over the fields and exports they compile to: IoCompleteRequest,
//! IoSetCancelRoutine, IoMarkIrpPending.
//!
//! Must not: keep an IRP, or touch one the caller does not own.

use core::ffi::c_void;
use core::sync::atomic::{AtomicPtr, Ordering};

use ndis_sys::*;

/// `SL_PENDING_RETURNED` (wdm.h \[H\]): the `Control` bit IoMarkIrpPending
/// sets in the current stack location.
const SL_PENDING_RETURNED: UCHAR = 0x01;

/// `IoCompleteRequest(irp, IO_NO_INCREMENT)` with `status` and `information`.
///
/// # IRQL
/// <= DISPATCH_LEVEL (IoCompleteRequest \[D\]). No covclient lock held.
///
/// # Safety
/// `irp` is an IRP covclient owns (dispatched to it and not yet completed,
/// with no cancel routine set); it is gone after this call.
pub(super) unsafe fn complete(irp: PIRP, status: NTSTATUS, information: usize) {
    // SAFETY: the caller owns the IRP (precondition), so its IoStatus is
    // ours to write until completion.
    unsafe { (*irp).IoStatus.set(status, information) };
    // SAFETY: an owned, uncompleted IRP, completed once; <= DISPATCH_LEVEL.
    unsafe { IofCompleteRequest(irp, IO_NO_INCREMENT) };
}

/// `IoSetCancelRoutine(irp, routine)`: wdm.h defines it inline as
/// `(PDRIVER_CANCEL)InterlockedExchangePointer((PVOID *)&Irp->CancelRoutine,
/// (PVOID)NewCancelRoutine)` \[H\], so it is an atomic exchange on the
/// field, which is what this does. Returns whether a routine was set
/// before: `false` after a set of `None` means the I/O manager already took
/// the routine to call it (the IRP is being cancelled and the routine will
/// complete it).
///
/// # IRQL
/// Any (an interlocked exchange).
///
/// # Safety
/// `irp` is an IRP covclient holds (not completed).
pub(super) unsafe fn set_cancel_routine(irp: PIRP, routine: Option<DRIVER_CANCEL>) -> bool {
    let new: *mut c_void = match routine {
        // CAST: a function pointer as the PVOID the header exchanges.
        Some(f) => f as *mut c_void,
        None => core::ptr::null_mut(),
    };
    // SAFETY: a held IRP (precondition): taking a field's address reads
    // nothing.
    let slot = unsafe { &raw mut (*irp).CancelRoutine };
    // SAFETY: `CancelRoutine` is a pointer-sized, pointer-aligned field of a
    // live IRP (the IRP's layout assertion: offset 104, 8-byte aligned) that
    // the I/O manager also only touches by interlocked exchange, so viewing
    // it as an AtomicPtr for this exchange is sound; Option<fn> has the
    // pointer's representation (NULL is None).
    let field = unsafe { AtomicPtr::<c_void>::from_ptr(slot.cast()) };
    !field.swap(new, Ordering::SeqCst).is_null()
}

/// `IoMarkIrpPending(irp)`: `IoGetCurrentIrpStackLocation(Irp)->Control |=
/// SL_PENDING_RETURNED` (wdm.h, inline \[H\]). A dispatch routine that marks
/// an IRP pending returns STATUS_PENDING.
///
/// # Safety
/// `irp` is the IRP the current dispatch routine was called with.
pub(super) unsafe fn mark_pending(irp: PIRP) {
    // SAFETY: the dispatched IRP's current stack location (precondition).
    let stack = unsafe { IoGetCurrentIrpStackLocation(irp) };
    // SAFETY: the current stack location belongs to this driver while it
    // runs the dispatch routine.
    unsafe { (*stack).Control |= SL_PENDING_RETURNED };
}

/// Was the IRP cancelled (`Irp->Cancel`)?
///
/// # Safety
/// `irp` is an IRP covclient holds.
pub(super) unsafe fn cancelled(irp: PIRP) -> bool {
    // SAFETY: a held IRP (precondition): taking a field's address reads
    // nothing.
    let cancel = unsafe { &raw const (*irp).Cancel };
    // SAFETY: a live IRP's byte; the I/O manager sets it before it takes the
    // cancel routine, and a volatile read is not cached across the check.
    unsafe { cancel.read_volatile() != 0 }
}

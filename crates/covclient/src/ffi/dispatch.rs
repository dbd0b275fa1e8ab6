//! The control device's dispatch routines: IRP_MJ_CREATE, IRP_MJ_CLEANUP,
//! IRP_MJ_CLOSE and IRP_MJ_DEVICE_CONTROL (every code METHOD_BUFFERED).
//!
//! DEVICE_CONTROL: copies the input out of the system buffer (METHOD_BUFFERED
//! gives input and output one buffer, so the input is read whole before any
//! output is written), parses it (`covclient_abi::Request::parse`), asks the
//! core, and carries out its outcome: complete, pend (WAIT_EVENTS), or make
//! the NDIS call (`calls`) and complete with the core's result.
//!
//! Must not: decide (the core does), or complete an IRP under the lock.

use covclient_abi::Request;
use covclient_abi::layout::Wire;
use ndis_sys::*;

use super::control::{Waiter, locked};
use super::trace::ERROR;
use super::waiter::{self, Parked};
use super::{calls, irp, objects, oid};
use crate::core::{FileId, NdisCall, Outcome};

/// The largest input copied to the stack: every fixed request (160 bytes
/// at most, CallRequest). Only an OID set is longer.
const INPUT_MAX: usize = 256;

/// "The requested operation is not implemented.": OID requests (their
/// glue is not built).
const STATUS_NOT_IMPLEMENTED: NTSTATUS = 0xC000_0002_u32 as NTSTATUS;

ndis_fn! {
    pub(super) unsafe fn create(device: PDEVICE_OBJECT, irp: PIRP) -> NTSTATUS => create_impl;
    pub(super) unsafe fn cleanup(device: PDEVICE_OBJECT, irp: PIRP) -> NTSTATUS => cleanup_impl;
    pub(super) unsafe fn close(device: PDEVICE_OBJECT, irp: PIRP) -> NTSTATUS => close_impl;
    pub(super) unsafe fn device_control(device: PDEVICE_OBJECT, irp: PIRP) -> NTSTATUS => device_control_impl;
}

/// The FILE_OBJECT of the dispatched IRP.
///
/// # Safety
/// `irp` is the IRP being dispatched.
unsafe fn file_object(irp: PIRP) -> PVOID {
    // SAFETY: the dispatched IRP's current stack location (precondition).
    let stack = unsafe { IoGetCurrentIrpStackLocation(irp) };
    // SAFETY: a valid stack location of the IRP; a plain field read.
    unsafe { (*stack).FileObject }
}

/// Completes `irp` and returns its status (a dispatch routine's return).
///
/// # Safety
/// As `irp::complete`.
unsafe fn finish(irp: PIRP, status: NTSTATUS, information: usize) -> NTSTATUS {
    // SAFETY: as the caller's precondition.
    unsafe { irp::complete(irp, status, information) };
    status
}

/// IRP_MJ_CREATE: a new open (the device's SDDL already let only SYSTEM
/// and Administrators get here). STATUS_INSUFFICIENT_RESOURCES when
/// `MAX_FILES` opens exist.
///
/// # IRQL
/// PASSIVE_LEVEL. Takes the device lock.
unsafe fn create_impl(_device: PDEVICE_OBJECT, irp: PIRP) -> NTSTATUS {
    // SAFETY: the dispatched IRP.
    let key = unsafe { file_object(irp) } as usize;
    let ok = locked(|inner| {
        let slot = inner.files.iter_mut().find(|f| f.is_none())?;
        let id = inner.core.open_file()?;
        *slot = Some((key, id));
        Some(())
    });
    let status = match ok {
        Some(Some(())) => STATUS_SUCCESS,
        // CAST: the NTSTATUS's bits.
        _ => crate::core::ntstatus::STATUS_INSUFFICIENT_RESOURCES as NTSTATUS,
    };
    // SAFETY: the dispatched IRP, not pended: ours to complete.
    unsafe { finish(irp, status, 0) }
}

/// IRP_MJ_CLEANUP: completes the open's pended WAIT_EVENTS (cancelled),
/// then undoes what the open owns, one core-chosen NDIS call at a time
/// (bounded: a call that keeps failing cannot loop forever).
///
/// # IRQL
/// PASSIVE_LEVEL. Takes the device lock; NDIS calls without it.
unsafe fn cleanup_impl(_device: PDEVICE_OBJECT, irp: PIRP) -> NTSTATUS {
    // SAFETY: the dispatched IRP.
    let fo = unsafe { file_object(irp) };
    if let Some(Some(file)) = locked(|inner| inner.file_of(fo)) {
        waiter::cancel_file(file);
        undo(file);
    }
    // SAFETY: the dispatched IRP, not pended: ours to complete.
    unsafe { finish(irp, STATUS_SUCCESS, 0) }
}

/// Cleanup's undo loop.
///
/// # IRQL
/// PASSIVE_LEVEL; no lock held.
fn undo(file: FileId) {
    let mut scratch = [0u8; covclient_abi::OpResult::SIZE];
    for _ in 0..4 * crate::core::MAX_VCS {
        let Some(Some(call)) = locked(|inner| inner.core.cleanup_next(file)) else {
            return;
        };
        let status = calls::make(&call);
        let _ = locked(|inner| inner.core.returned(&call, status, &mut scratch));
        objects::reap();
    }
    trace!(ERROR, c"cleanup gave up: calls kept failing");
}

/// IRP_MJ_CLOSE: forgets the open.
///
/// # IRQL
/// PASSIVE_LEVEL. Takes the device lock.
unsafe fn close_impl(_device: PDEVICE_OBJECT, irp: PIRP) -> NTSTATUS {
    // SAFETY: the dispatched IRP.
    let key = unsafe { file_object(irp) } as usize;
    let _ = locked(|inner| {
        if let Some(slot) = inner.files.iter_mut().find(|f| f.is_some_and(|(fo, _)| fo == key))
            && let Some((_, id)) = slot.take()
        {
            inner.core.close_file(id);
        }
    });
    // SAFETY: the dispatched IRP, not pended: ours to complete.
    unsafe { finish(irp, STATUS_SUCCESS, 0) }
}

/// IRP_MJ_DEVICE_CONTROL. See the module doc.
///
/// # IRQL
/// PASSIVE_LEVEL (a user's DeviceIoControl). Takes the device lock; NDIS
/// calls without it.
unsafe fn device_control_impl(_device: PDEVICE_OBJECT, irp: PIRP) -> NTSTATUS {
    // SAFETY: the dispatched IRP's current stack location.
    let stack = unsafe { IoGetCurrentIrpStackLocation(irp) };
    // SAFETY: the dispatched IRP's current stack location, valid for the call.
    let params = unsafe { (*stack).Parameters };
    // SAFETY: IRP_MJ_DEVICE_CONTROL's stack location holds the
    // DeviceIoControl member of the union (IO_STACK_LOCATION [H]).
    let p = unsafe { params.DeviceIoControl };
    // SAFETY: the dispatched IRP; a plain field read.
    let buf = unsafe { (*irp).AssociatedIrp_SystemBuffer }.cast::<u8>();
    // SAFETY: the dispatched IRP's current stack location; a plain field read.
    let fo = unsafe { (*stack).FileObject };
    let (in_len, out_len) = (p.InputBufferLength as usize, p.OutputBufferLength as usize);
    if let Some(status) = precheck(p.IoControlCode, buf.is_null(), in_len, out_len) {
        // SAFETY: the dispatched IRP, not pended.
        return unsafe { finish(irp, status, 0) };
    }
    // SAFETY: the dispatched IRP; `buf` its system buffer (checked non-NULL
    // when a length is non-zero) of a METHOD_BUFFERED code.
    unsafe { buffered(irp, fo, p.IoControlCode, buf, in_len, out_len) }
}

/// The refusals made before any buffer is touched: a code that is not
/// METHOD_BUFFERED (none of covclient's: with another method the system
/// buffer is not input-and-output, or absent), or a missing system buffer.
fn precheck(code: ULONG, buf_null: bool, in_len: usize, out_len: usize) -> Option<NTSTATUS> {
    if code & 0x3 != covclient_abi::METHOD_BUFFERED {
        // CAST: the NTSTATUS's bits.
        return Some(covclient_abi::ntstatus::STATUS_INVALID_DEVICE_REQUEST as NTSTATUS);
    }
    if buf_null && (in_len != 0 || out_len != 0) {
        return Some(STATUS_INVALID_PARAMETER);
    }
    None
}

/// DEVICE_CONTROL past the prechecks: the input copied out, parsed, acted on.
///
/// # IRQL
/// PASSIVE_LEVEL, as [`device_control_impl`].
///
/// # Safety
/// `irp` is the dispatched IOCTL of a METHOD_BUFFERED code; `buf` its system
/// buffer, non-NULL if either length is non-zero.
unsafe fn buffered(irp: PIRP, fo: PVOID, code: ULONG, buf: *mut u8, in_len: usize, out_len: usize) -> NTSTATUS {
    let mut input = [0u8; INPUT_MAX];
    if in_len > INPUT_MAX {
        // SAFETY: METHOD_BUFFERED: the system buffer holds `in_len` input
        // bytes; only read, and no output slice exists yet.
        let whole = unsafe { core::slice::from_raw_parts(buf, in_len) };
        let status = match Request::parse(code, whole) {
            // CAST: the NTSTATUS's bits.
            Err(e) => e.ntstatus() as NTSTATUS,
            // SAFETY: the dispatched IRP; `whole` is not used after this.
            Ok(req @ Request::OidSet { .. }) => return unsafe { big_oid_set(irp, fo, &req, buf, out_len) },
            Ok(_) => STATUS_NOT_IMPLEMENTED,
        };
        // SAFETY: the dispatched IRP, not pended.
        return unsafe { finish(irp, status, 0) };
    }
    if in_len != 0 {
        // SAFETY: `in_len <= INPUT_MAX` bytes of input in the system buffer
        // (METHOD_BUFFERED), copied to the stack before any output is written.
        unsafe { core::ptr::copy_nonoverlapping(buf, input.as_mut_ptr(), in_len) };
    }
    let out: &mut [u8] = if out_len == 0 {
        &mut []
    } else {
        // SAFETY: the system buffer is at least `out_len` bytes
        // (METHOD_BUFFERED sizes it to the larger of the two lengths) and
        // ours until the IRP completes; the input was copied out of it.
        unsafe { core::slice::from_raw_parts_mut(buf, out_len) }
    };
    let req = match Request::parse(code, input.get(..in_len).unwrap_or(&[])) {
        Ok(r) => Ok(r),
        // CAST: the NTSTATUS's bits.
        Err(e) => Err(e.ntstatus() as NTSTATUS),
    };
    match req {
        // SAFETY: the dispatched IRP (and its system buffer as `out`).
        Ok(r) => unsafe { act(irp, fo, &r, out) },
        // SAFETY: the dispatched IRP, not pended.
        Err(status) => unsafe { finish(irp, status, 0) },
    }
}

/// An OID set whose input is larger than the stack copy: decided by the
/// core (nothing is written to the output), then started with its data
/// read from the system buffer before the output is written.
///
/// # Safety
/// `irp` is the dispatched IOCTL; `req` borrows its system buffer `buf`,
/// which has `out_len` output bytes.
unsafe fn big_oid_set(irp: PIRP, fo: PVOID, req: &Request<'_>, buf: *mut u8, out_len: usize) -> NTSTATUS {
    let mut scratch = [0u8; covclient_abi::OidResult::SIZE];
    let n = out_len.min(scratch.len());
    let o = locked(|inner| {
        let file = inner.file_of(fo)?;
        Some(inner.core.request(file, req, scratch.get_mut(..n).unwrap_or(&mut [])))
    });
    match (o.flatten(), *req) {
        (Some(Outcome::Call(call @ NdisCall::Oid { .. })), Request::OidSet { data, .. }) => {
            // SAFETY: the dispatched IRP and its output; the data is read
            // (copied) before the output is written.
            unsafe { oid::start(irp, buf, out_len, &call, data.as_ptr(), data.len()) }
        }
        // CAST: the NTSTATUS's bits.
        // SAFETY: the dispatched IRP, not pended.
        (Some(Outcome::Refuse(s)), _) => unsafe { finish(irp, s as NTSTATUS, 0) },
        // SAFETY: the dispatched IRP, not pended.
        _ => unsafe { finish(irp, STATUS_INVALID_HANDLE_NT, 0) },
    }
}

/// Carries out the core's outcome for a parsed request.
///
/// # Safety
/// `irp` is the dispatched IOCTL, `out` its system buffer's output.
unsafe fn act(irp: PIRP, fo: PVOID, req: &Request<'_>, out: &mut [u8]) -> NTSTATUS {
    let out_ptr = out.as_mut_ptr();
    let out_len = out.len();
    let outcome = locked(|inner| {
        let file = inner.file_of(fo)?;
        let o = inner.core.request(file, req, out);
        if o != Outcome::Pend {
            return Some(Ok(o));
        }
        let Request::WaitEvents { max_events } = *req else {
            return Some(Ok(Outcome::Refuse(
                covclient_abi::ntstatus::STATUS_INVALID_DEVICE_REQUEST,
            )));
        };
        // SAFETY: the dispatched IRP; marked before it can be completed
        // by anyone (parking publishes it).
        unsafe { irp::mark_pending(irp) };
        let w = Waiter {
            file,
            irp,
            max_events,
            out: out_ptr,
            out_len,
        };
        // SAFETY: the dispatched IRP, marked pending just above.
        Some(Err(unsafe { waiter::park(inner, w) }))
    });
    let o = match outcome {
        Some(Some(Ok(o))) => o,
        Some(Some(Err(Parked::Waiting))) => return STATUS_PENDING_NT,
        Some(Some(Err(Parked::Cancelled))) => {
            // SAFETY: marked pending and not parked: ours; a routine that
            // marked the IRP pending returns STATUS_PENDING.
            unsafe { irp::complete(irp, STATUS_CANCELLED, 0) };
            return STATUS_PENDING_NT;
        }
        // SAFETY: the dispatched IRP, not pended.
        _ => return unsafe { finish(irp, STATUS_INVALID_HANDLE_NT, 0) },
    };
    if let Outcome::Call(call) = o {
        // SAFETY: forwarded (the dispatched IRP, `out` its output).
        return unsafe { call_for(irp, req, &call, out) };
    }
    // SAFETY: the dispatched IRP, not pended.
    unsafe { complete_outcome(irp, o) }
}

/// Makes the NDIS call the core asked for `req`, reports it to the core
/// and completes the IRP; an OID request pends it instead (`oid`).
///
/// # Safety
/// `irp` is the dispatched IOCTL, `out` its system buffer's output.
unsafe fn call_for(irp: PIRP, req: &Request<'_>, call: &NdisCall, out: &mut [u8]) -> NTSTATUS {
    if let NdisCall::Oid { .. } = call {
        let (set, set_len) = match *req {
            Request::OidSet { data, .. } => (data.as_ptr(), data.len()),
            _ => (core::ptr::null(), 0),
        };
        // SAFETY: the dispatched IRP and its output; a set's data is the
        // stack copy of the input.
        return unsafe { oid::start(irp, out.as_mut_ptr(), out.len(), call, set, set_len) };
    }
    let status = calls::make(call);
    let o = locked(|inner| inner.core.returned(call, status, out)).unwrap_or(Outcome::Refuse(0xC000_0001));
    // A failed call's object is gone from the core: free its context.
    objects::reap();
    // SAFETY: the dispatched IRP, not pended.
    unsafe { complete_outcome(irp, o) }
}

/// Completes the IRP as a final outcome says.
///
/// # Safety
/// `irp` is the dispatched IOCTL, not pended.
unsafe fn complete_outcome(irp: PIRP, o: Outcome) -> NTSTATUS {
    let (status, n) = match o {
        Outcome::Done(n) => (STATUS_SUCCESS, n),
        // CAST: the NTSTATUS's bits.
        Outcome::Refuse(s) => (s as NTSTATUS, 0),
        // The core pends only WAIT_EVENTS (handled in `act`) and calls once.
        Outcome::Pend | Outcome::Call(_) => (STATUS_UNSUCCESSFUL, 0),
    };
    // SAFETY: the dispatched IRP, not pended (precondition).
    unsafe { finish(irp, status, n) }
}

/// STATUS_PENDING (ntstatus.h: 0x00000103, the same value as
/// NDIS_STATUS_PENDING).
const STATUS_PENDING_NT: NTSTATUS = NDIS_STATUS_PENDING;
/// STATUS_INVALID_HANDLE (ntstatus.h): the IRP's FILE_OBJECT is not an
/// open the device knows.
const STATUS_INVALID_HANDLE_NT: NTSTATUS = 0xC000_0008_u32 as NTSTATUS;

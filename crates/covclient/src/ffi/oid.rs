//! OID_REQUEST: NdisCoOidRequest on the adapter, AF or VC the request
//! names, its IRP pended until ProtocolCoOidRequestComplete (or completed
//! at once when NDIS does not pend). The NDIS_OID_REQUEST, its information
//! buffer (at most `COVCLIENT_MAX_OID_BYTES`) and the IRP live in a
//! context from a nonpaged lookaside list (tag `CcOi`, signature `ccOi`),
//! found again from the request NDIS hands back.
//!
//! The IRP has no cancel routine: NDIS completes every OID request, and
//! the IRP completes with it.
//!
//! Must not: touch the IRP's buffer after completing it, or free a context
//! NDIS still holds (only its completion, or a non-PENDING return, does).

use core::mem::offset_of;
use core::ptr::{NonNull, null_mut};
use core::sync::atomic::Ordering;

use covclient_abi::layout::Wire;
use covclient_abi::{COVCLIENT_MAX_OID_BYTES, Handle, HandleKind, OidResult};
use ndis_sys::*;

use super::control::locked;
use super::irp;
use super::lookaside::Lookaside;
use super::objects::{ADAPTERS, AFS, VCS};
use super::trace::ERROR;
use crate::core::NdisCall;
use crate::pool::{SIG_FREED, SIG_OID, TAG_OID};

const DATA: usize = COVCLIENT_MAX_OID_BYTES as usize;

/// One OID request in flight.
///
/// INVARIANT: `signature == SIG_OID` from [`start`] until [`finish`] frees
/// it; `irp` is pended and ours, `out`/`out_len` its system buffer's
/// output; `request.DATA`'s buffer is `data`.
struct OidCtx {
    signature: u32,
    query: bool,
    irp: PIRP,
    out: *mut u8,
    out_len: usize,
    request: NDIS_OID_REQUEST,
    data: [u8; DATA],
}

static OIDS: Lookaside<OidCtx> = Lookaside::new();

/// Initializes the list. PASSIVE_LEVEL (DriverEntry).
pub(super) fn init() {
    OIDS.init(TAG_OID);
}

/// Deletes the list. PASSIVE_LEVEL (unload: every IRP completed, since the
/// device has no open).
pub(super) fn delete() {
    // SAFETY: no open of the device is left at unload, so every OID IRP
    // (and its context) completed; nothing allocates after.
    unsafe { OIDS.delete() };
}

/// The NDIS handles NdisCoOidRequest takes for `target`: binding, AF, VC.
fn handles(target: Handle) -> Option<(NDIS_HANDLE, NDIS_HANDLE, NDIS_HANDLE)> {
    match target.kind() {
        HandleKind::Adapter => ADAPTERS.get(target).map(|a| (a.binding, null_mut(), null_mut())),
        HandleKind::Af => AFS
            .get(target)
            .map(|a| (a.binding, a.ndis.load(Ordering::Acquire), null_mut())),
        HandleKind::Vc => {
            let v = VCS.get(target)?;
            let af = locked(|inner| inner.core.vc(target).map(|x| x.af)).flatten()?;
            Some((v.binding, AFS.ndis(af), v.ndis.load(Ordering::Acquire)))
        }
        HandleKind::Sap | HandleKind::Party => None,
    }
}

/// The request block for `oid` over `data` (`length` bytes).
fn request(query: bool, oid: u32, data: *mut u8, length: u32) -> NDIS_OID_REQUEST {
    let info = NDIS_OID_REQUEST_QUERY_INFORMATION {
        Oid: oid,
        InformationBuffer: data.cast(),
        InformationBufferLength: length,
        BytesWritten: 0,
        BytesNeeded: 0,
    };
    NDIS_OID_REQUEST {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_OID_REQUEST,
            NDIS_OID_REQUEST_REVISION_1,
            NDIS_SIZEOF_OID_REQUEST_REVISION_1,
        ),
        RequestType: if query {
            NdisRequestQueryInformation
        } else {
            NdisRequestSetInformation
        },
        PortNumber: 0,
        Timeout: 0,
        RequestId: null_mut(),
        RequestHandle: null_mut(),
        // QUERY_INFORMATION and SET_INFORMATION share their layout (oid.rs).
        DATA: NDIS_OID_REQUEST_DATA {
            QUERY_INFORMATION: info,
        },
        NdisReserved: [0; 16 * size_of::<PVOID>()],
        MiniportReserved: [0; 2 * size_of::<PVOID>()],
        SourceReserved: [0; 2 * size_of::<PVOID>()],
        SupportedRevision: 0,
        Reserved1: 0,
        Reserved2: 0,
        SwitchId: 0,
        VPortId: 0,
        Flags: 0,
    }
}

/// Starts `call` (an [`NdisCall::Oid`]: OID `oid` on `target`) for the
/// dispatched `irp`: a query of `length` bytes, or a set of the `set_len` bytes at `set` (copied
/// before any output is written). Returns STATUS_PENDING: the IRP is marked pending and
/// completed here or by the completion.
///
/// # IRQL
/// PASSIVE_LEVEL; no covclient lock held.
///
/// # Safety
/// `irp` is the dispatched METHOD_BUFFERED IOCTL, `out`/`out_len` its
/// system buffer's output; `set` is NULL or `set_len` readable bytes
/// (possibly in the same system buffer: read before `out` is written).
pub(super) unsafe fn start(
    irp: PIRP,
    out: *mut u8,
    out_len: usize,
    call: &NdisCall,
    set: *const u8,
    set_len: usize,
) -> NTSTATUS {
    let NdisCall::Oid {
        target,
        oid,
        query,
        length,
    } = *call
    else {
        // SAFETY: the dispatched IRP, not pended: ours to complete.
        unsafe { irp::complete(irp, STATUS_INVALID_PARAMETER_NT, 0) };
        return STATUS_INVALID_PARAMETER_NT;
    };
    // SAFETY: the dispatched IRP (precondition); completed below or by the
    // completion, after which this routine returns STATUS_PENDING.
    unsafe { irp::mark_pending(irp) };
    let len = if query { length as usize } else { set_len }.min(DATA);
    let ctx = OIDS.alloc(OidCtx {
        signature: SIG_OID,
        query,
        irp,
        out,
        out_len,
        request: request(query, oid, null_mut(), 0),
        data: [0; DATA],
    });
    let (Some(ctx), Some((binding, af, vc))) = (ctx, handles(target)) else {
        if let Some(ctx) = ctx {
            // SAFETY: fresh from the list, never given to NDIS.
            unsafe { OIDS.free(ctx) };
        }
        // SAFETY: the pended IRP, ours, its output as the precondition says.
        unsafe { complete_with(irp, out, out_len, NDIS_STATUS_FAILURE, (0, 0), &[]) };
        return STATUS_PENDING_NT;
    };
    let p = ctx.as_ptr();
    // SAFETY: a fresh context, ours alone until NDIS gets the request.
    let c = unsafe { &mut *p };
    if !query && !set.is_null() {
        // SAFETY: `len <= set_len` readable bytes at `set` (precondition)
        // into the context's DATA bytes (`len <= DATA`); distinct memory.
        unsafe { core::ptr::copy_nonoverlapping(set, c.data.as_mut_ptr(), len) };
    }
    // CAST: len <= 4096.
    c.request = request(query, oid, c.data.as_mut_ptr(), len as u32);
    // SAFETY: the binding's handle and the AF's and VC's NDIS handles (NULL
    // where the target is above them); the request and its buffer in the
    // context, live until the completion frees it; PASSIVE_LEVEL.
    let status = unsafe { NdisCoOidRequest(binding, af, vc, null_mut(), &raw mut c.request) };
    if status != NDIS_STATUS_PENDING {
        // SAFETY: NDIS is done with the request (not pended); ours.
        unsafe { finish(ctx, status) };
    }
    STATUS_PENDING_NT
}

/// STATUS_INVALID_PARAMETER (ntstatus.h): not an OID call (a glue bug).
const STATUS_INVALID_PARAMETER_NT: NTSTATUS = 0xC000_000D_u32 as NTSTATUS;
/// STATUS_PENDING as an NTSTATUS (0x103, ntstatus.h).
const STATUS_PENDING_NT: NTSTATUS = NDIS_STATUS_PENDING;

/// Completes the pended `irp` with an OidResult and `data`.
///
/// # Safety
/// `irp` is a pended IRP covclient holds; `out`/`out_len` its output.
unsafe fn complete_with(irp: PIRP, out: *mut u8, out_len: usize, status: NDIS_STATUS, n: (u32, u32), data: &[u8]) {
    let r = OidResult {
        // CAST: the NDIS_STATUS's bits.
        ndis_status: status as u32,
        bytes_written: n.0,
        bytes_needed: n.1,
        reserved: 0,
    };
    let size = OidResult::SIZE.saturating_add(data.len()).min(out_len);
    // SAFETY: the IRP's system buffer holds `out_len` output bytes, ours
    // until the IRP completes (precondition).
    let buf = unsafe { core::slice::from_raw_parts_mut(out, out_len) };
    let written = match (r.write(buf), buf.get_mut(OidResult::SIZE..size)) {
        (Some(()), Some(tail)) => {
            tail.copy_from_slice(data.get(..tail.len()).unwrap_or(&[]));
            size
        }
        _ => 0,
    };
    // SAFETY: the pended IRP, completed once.
    unsafe { irp::complete(irp, STATUS_SUCCESS, written) };
}

/// Completes the context's IRP with the request's outcome and frees it.
///
/// # Safety
/// `ctx` is a context of [`OIDS`] that NDIS no longer holds.
unsafe fn finish(ctx: NonNull<OidCtx>, status: NDIS_STATUS) {
    // SAFETY: ours alone (precondition).
    let c = unsafe { &mut *ctx.as_ptr() };
    // SAFETY: both union members share their layout; the one written is
    // read (oid.rs asserts the offsets).
    let q = unsafe { c.request.DATA.QUERY_INFORMATION };
    let shown = if c.query && status == NDIS_STATUS_SUCCESS {
        c.data.get(..q.BytesWritten as usize).unwrap_or(&[])
    } else {
        &[]
    };
    // SAFETY: the context's pended IRP and its output (OidCtx's invariant).
    unsafe { complete_with(c.irp, c.out, c.out_len, status, (q.BytesWritten, q.BytesNeeded), shown) };
    c.signature = SIG_FREED;
    // SAFETY: from OIDS, not used again.
    unsafe { OIDS.free(ctx) };
}

/// ProtocolCoOidRequestComplete's work for a request covclient made.
///
/// # IRQL
/// <= DISPATCH_LEVEL.
///
/// # Safety
/// `request` is the NDIS_OID_REQUEST NDIS passed to the completion.
pub(super) unsafe fn completed(request: PNDIS_OID_REQUEST, status: NDIS_STATUS) {
    let p = request.wrapping_byte_sub(offset_of!(OidCtx, request)).cast::<OidCtx>();
    // SAFETY: covclient's requests live in OidCtx (the only ones it
    // makes); the signature is checked before anything else is trusted.
    let ok = !request.is_null() && unsafe { (*p).signature } == SIG_OID;
    let Some(ctx) = NonNull::new(p).filter(|_| ok) else {
        trace!(
            ERROR,
            c"ProtocolCoOidRequestComplete for a request covclient never made"
        );
        return;
    };
    // SAFETY: NDIS completed the request: it holds the context no more.
    unsafe { finish(ctx, status) };
}

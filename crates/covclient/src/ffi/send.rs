//! SEND: N NBLs of S bytes with a pattern, sent with
//! NdisCoSendNetBufferLists and freed by ProtocolCoSendNetBufferListsComplete.
//!
//! Owns the driver's send resources, made once after the protocol
//! registers (DriverEntry, PASSIVE) and freed at unload: an NBL pool
//! (tag `CcTx`, one NET_BUFFER per NBL) and a slab of [`SLAB_BYTES`] of
//! nonpaged pool with one MDL over it. A send writes NBL `j`'s pattern
//! bytes (`covclient_abi::pattern_byte(pattern, seed, j, k)`) at `j * S` in
//! the slab and points NBL `j`'s NET_BUFFER there (DataOffset `j * S`), so
//! a send allocates only NBLs from its pool.
//!
//! One send is in flight at a time, driver-wide (the slab holds its data):
//! a SEND while NBLs are out, or with `N * S` above the slab, answers
//! NDIS_STATUS_RESOURCES without reaching NDIS.
//!
//! Must not: touch the slab while NBLs are out, or free the pool or slab
//! with NBLs out.

use core::ffi::c_void;
use core::ptr::null_mut;
use core::slice;
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use covclient_abi::{Handle, pattern_byte};
use ndis_sys::*;

use super::trace::ERROR;
use crate::pool::TAG_SEND;

/// The slab's size: N * S of one send fits in it.
pub(super) const SLAB_BYTES: u32 = 1 << 20;

/// The send resources.
///
/// INVARIANT: `pool`, `slab` and `mdl` are all NULL or all live (made by
/// [`init`], freed by [`delete`]); `mdl` describes the `SLAB_BYTES` at
/// `slab`; `in_flight` counts NBLs of `pool` sent and not yet completed,
/// and the slab is written only while it is 0 and claimed.
struct Sender {
    pool: AtomicPtr<c_void>,
    slab: AtomicPtr<u8>,
    mdl: AtomicPtr<MDL>,
    in_flight: AtomicU32,
}

static SENDER: Sender = Sender {
    pool: AtomicPtr::new(null_mut()),
    slab: AtomicPtr::new(null_mut()),
    mdl: AtomicPtr::new(null_mut()),
    in_flight: AtomicU32::new(0),
};

/// Makes the pool, the slab and its MDL; SEND fails with RESOURCES
/// without them.
///
/// # IRQL
/// PASSIVE_LEVEL (DriverEntry, after NdisRegisterProtocolDriver).
pub(super) fn init(handle: NDIS_HANDLE) {
    let mut params = NET_BUFFER_LIST_POOL_PARAMETERS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEFAULT,
            NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
            NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
        ),
        ProtocolId: NDIS_PROTOCOL_ID_DEFAULT,
        fAllocateNetBuffer: TRUE,
        ContextSize: 0,
        PoolTag: TAG_SEND,
        DataSize: 0,
    };
    // SAFETY: the protocol handle and a parameter block alive for the call;
    // PASSIVE_LEVEL.
    let pool = unsafe { NdisAllocateNetBufferListPool(handle, &raw mut params) };
    // SAFETY: the protocol handle, a non-zero size, a tag; PASSIVE_LEVEL.
    let slab = unsafe { NdisAllocateMemoryWithTagPriority(handle, SLAB_BYTES, TAG_SEND, NormalPoolPriority) };
    let mdl = if slab.is_null() {
        null_mut()
    } else {
        // SAFETY: nonpaged pool of SLAB_BYTES just allocated; PASSIVE_LEVEL.
        unsafe { NdisAllocateMdl(handle, slab, SLAB_BYTES) }
    };
    SENDER.pool.store(pool, Ordering::Release);
    SENDER.slab.store(slab.cast(), Ordering::Release);
    SENDER.mdl.store(mdl, Ordering::Release);
    if pool.is_null() || mdl.is_null() {
        trace!(ERROR, c"no send pool: SEND will fail");
        delete(handle);
    }
}

/// Waits, `pause` at a time and about ten seconds at most, for the sends
/// in flight to complete (a binding's pause). PASSIVE_LEVEL.
pub(super) fn drain(pause: impl Fn()) {
    for _ in 0..1000 {
        if SENDER.in_flight.load(Ordering::Acquire) == 0 {
            return;
        }
        pause();
    }
    trace!(ERROR, c"pause: sends still out after ten seconds");
}

/// Frees what [`init`] made (unless NBLs are still out: then it is left,
/// traced, rather than freed under NDIS).
///
/// # IRQL
/// PASSIVE_LEVEL (unload, after every unbind).
pub(super) fn delete(handle: NDIS_HANDLE) {
    if SENDER.in_flight.load(Ordering::Acquire) != 0 {
        trace!(ERROR, c"unload with sends out: the send pool is leaked");
        return;
    }
    let mdl = SENDER.mdl.swap(null_mut(), Ordering::AcqRel);
    if !mdl.is_null() {
        // SAFETY: the MDL from NdisAllocateMdl, no NBL uses it (none out).
        unsafe { NdisFreeMdl(mdl) };
    }
    let slab = SENDER.slab.swap(null_mut(), Ordering::AcqRel);
    if !slab.is_null() {
        // SAFETY: the slab from NdisAllocateMemoryWithTagPriority with TAG_SEND.
        unsafe { NdisFreeMemoryWithTagPriority(handle, slab.cast(), TAG_SEND) };
    }
    let pool = SENDER.pool.swap(null_mut(), Ordering::AcqRel);
    if !pool.is_null() {
        // SAFETY: the pool, every NBL of it freed (none out).
        unsafe { NdisFreeNetBufferListPool(pool) };
    }
}

/// Writes NBL `j`'s pattern bytes at `j * size` in the slab.
fn fill(slab: &mut [u8], size: usize, pattern: u32, seed: u32) {
    for (j, nbl) in slab.chunks_exact_mut(size).enumerate() {
        for (k, b) in nbl.iter_mut().enumerate() {
            // CAST: j < 256 and k < 65536 (the ABI's limits, below SLAB_BYTES).
            *b = pattern_byte(pattern, seed, j as u32, k as u32).unwrap_or(0);
        }
    }
}

/// Frees an NBL chain of the pool; the number freed.
///
/// # Safety
/// `nbl` is NULL or a chain of NBLs of the send pool that no one uses.
unsafe fn free_chain(mut nbl: PNET_BUFFER_LIST) -> u32 {
    let mut n = 0u32;
    // SAFETY: an NBL of the chain (precondition).
    while let Some(l) = unsafe { nbl.as_ref() } {
        let next = l.Next;
        // SAFETY: an NBL of the send pool, freed once.
        unsafe { NdisFreeNetBufferList(nbl) };
        n = n.saturating_add(1);
        nbl = next;
    }
    n
}

/// Sends `count` NBLs of `size` bytes on the VC `ndis_vc`; SUCCESS once
/// posted (the completion reports each NBL's status).
///
/// # IRQL
/// PASSIVE_LEVEL; no covclient lock held.
pub(super) fn send(ndis_vc: NDIS_HANDLE, count: u32, size: u32, pattern: u32, seed: u32) -> NDIS_STATUS {
    let (pool, slab, mdl) = (
        SENDER.pool.load(Ordering::Acquire),
        SENDER.slab.load(Ordering::Acquire),
        SENDER.mdl.load(Ordering::Acquire),
    );
    let total = count.checked_mul(size).filter(|&t| t <= SLAB_BYTES && t != 0);
    let (Some(total), false) = (total, pool.is_null() || mdl.is_null() || ndis_vc.is_null()) else {
        return NDIS_STATUS_RESOURCES;
    };
    if SENDER
        .in_flight
        .compare_exchange(0, count, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return NDIS_STATUS_RESOURCES;
    }
    // SAFETY: the slab's first `total` bytes (<= SLAB_BYTES), ours alone
    // while claimed (in_flight was 0: no NBL of a send reads it).
    let data = unsafe { slice::from_raw_parts_mut(slab, total as usize) };
    fill(data, size as usize, pattern, seed);
    let mut head: PNET_BUFFER_LIST = null_mut();
    for j in (0..count).rev() {
        // SAFETY: the send pool (one NET_BUFFER, DataSize 0); the slab's MDL,
        // NBL j's bytes at j * size within it; PASSIVE_LEVEL.
        let nbl = unsafe { NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, mdl, j * size, size as SIZE_T) };
        // SAFETY: NULL, or an NBL just made, ours alone.
        let Some(l) = (unsafe { nbl.as_mut() }) else {
            // SAFETY: the NBLs made so far, never sent.
            unsafe { free_chain(head) };
            SENDER.in_flight.store(0, Ordering::Release);
            return NDIS_STATUS_RESOURCES;
        };
        l.Next = head;
        head = nbl;
    }
    // SAFETY: a connected VC's NdisVcHandle; the chain of `count` NBLs
    // over the slab, ours until ProtocolCoSendNetBufferListsComplete;
    // PASSIVE_LEVEL (<= DISPATCH_LEVEL allowed).
    unsafe { NdisCoSendNetBufferLists(ndis_vc, head, 0) };
    NDIS_STATUS_SUCCESS
}

/// ProtocolCoSendNetBufferListsComplete's work: counts each NBL's status,
/// frees the NBLs, releases the slab once all are back. Returns (ok,
/// failed, the first failure's status).
///
/// # IRQL
/// <= DISPATCH_LEVEL.
///
/// # Safety
/// `nbls` is a chain of NBLs covclient sent, which NDIS returned.
pub(super) unsafe fn completed(nbls: PNET_BUFFER_LIST) -> (u32, u32, u32) {
    let (mut ok, mut failed, mut first) = (0u32, 0u32, 0u32);
    let mut nbl = nbls;
    // SAFETY: NBLs NDIS returned (precondition), read before they are freed.
    while let Some(l) = unsafe { nbl.as_ref() } {
        if l.Status == NDIS_STATUS_SUCCESS {
            ok = ok.saturating_add(1);
        } else {
            if failed == 0 {
                // CAST: the NDIS_STATUS's bits, as the ABI carries them.
                first = l.Status as u32;
            }
            failed = failed.saturating_add(1);
        }
        nbl = l.Next;
    }
    // SAFETY: the NBLs NDIS returned (precondition), freed once.
    let n = unsafe { free_chain(nbls) };
    let _ = SENDER
        .in_flight
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| Some(v.saturating_sub(n)));
    (ok, failed, first)
}

/// The VC of a send completion's context, for the core.
pub(super) fn vc_of(ctx: NDIS_HANDLE) -> Option<Handle> {
    super::route::handle_of(ctx, covclient_abi::HandleKind::Vc)
}

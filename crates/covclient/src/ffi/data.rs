//! The data path: ProtocolCoReceiveNetBufferLists counts each NET_BUFFER
//! and checks its bytes against the VC's expected pattern
//! (`core::counters`) where they lie, through its MDL chain, without a
//! copy, then returns the NBLs.
//!
//! covmini indicates receive NBLs of its own whose NET_BUFFERs point at the
//! sender's MDLs (`src/ffi/rx_pool.rs`), so an MDL here may be a sender's:
//! each is mapped with `MmGetSystemAddressForMdlSafe` (nonpaged-pool and
//! already-mapped MDLs give their address; any other is mapped, and the
//! mapping stays the MDL owner's to undo).
//!
//! Must not: allocate or copy payload, keep an NBL NDIS lent past the
//! return, or run above DISPATCH_LEVEL.

use core::slice;

use ndis_sys::*;

use covclient_abi::HandleKind::Vc;

use super::control::locked;
use super::route::handle_of;
use super::trace::ERROR;
use crate::core::counters::Check;

/// NBLs of one indication looked at, at most: a bound on the walk, so a
/// corrupt chain cannot hold the lock forever.
const MAX_NBLS: u32 = 4096;
/// MDLs of one NET_BUFFER looked at, at most.
const MAX_MDLS: u32 = 256;

/// Feeds one NET_BUFFER's data to `check`: its first MDL from
/// `CurrentMdlOffset`, then whole MDLs, `DataLength` bytes in all.
///
/// # Safety
/// `nb` is a NET_BUFFER of an indication NDIS lent, whose MDLs describe
/// locked pages; <= DISPATCH_LEVEL.
unsafe fn check_net_buffer(nb: &NET_BUFFER, check: &mut Check<'_>) {
    // The low 32 bits of the union are DataLength (nbl.rs).
    let mut left = nb.stDataLength & 0xFFFF_FFFF;
    let mut mdl = nb.CurrentMdl;
    let mut offset = nb.CurrentMdlOffset as usize;
    for _ in 0..MAX_MDLS {
        if left == 0 || mdl.is_null() {
            return;
        }
        // SAFETY: an MDL of the chain (precondition), its header read.
        let m = unsafe { &*mdl };
        let len = (m.ByteCount as usize).saturating_sub(offset).min(left);
        // SAFETY: an MDL of locked pages (precondition); <= DISPATCH_LEVEL.
        let va = unsafe { MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority | MdlMappingNoExecute) };
        if va.is_null() {
            trace!(ERROR, c"receive: an MDL could not be mapped");
            return;
        }
        // SAFETY: the MDL maps ByteCount bytes at `va`; `offset + len` is
        // within them (len is ByteCount - offset at most), read only while
        // NDIS lends the NBL.
        let bytes = unsafe { slice::from_raw_parts(va.cast::<u8>().wrapping_add(offset), len) };
        check.chunk(bytes);
        left -= len;
        offset = 0;
        mdl = m.Next;
    }
}

/// Counts and checks every NET_BUFFER of the NBL chain `nbls` on `vc_ctx`'s
/// VC. NBLs of a VC the core does not hold are only returned.
///
/// # IRQL
/// <= DISPATCH_LEVEL; takes the control lock for the walk (no NDIS call
/// under it: only the MDL mapping).
///
/// # Safety
/// `nbls` is the chain NDIS indicated, lent for the call.
pub(super) unsafe fn receive(vc_ctx: NDIS_HANDLE, nbls: PNET_BUFFER_LIST) {
    let Some(vc) = handle_of(vc_ctx, Vc) else {
        trace!(ERROR, c"receive on a VC covclient does not hold");
        return;
    };
    let _ = locked(|inner| {
        let Some(counters) = inner.core.counters_mut(vc) else {
            return;
        };
        let mut nbl = nbls;
        for _ in 0..MAX_NBLS {
            // SAFETY: an NBL of the indicated chain (precondition).
            let Some(l) = (unsafe { nbl.as_ref() }) else { return };
            let mut nb = l.FirstNetBuffer;
            // SAFETY: the NET_BUFFERs of an indicated NBL (precondition).
            while let Some(b) = unsafe { nb.as_ref() } {
                let mut check = counters.receive();
                // SAFETY: a lent NET_BUFFER (precondition); <= DISPATCH_LEVEL.
                unsafe { check_net_buffer(b, &mut check) };
                check.finish();
                nb = b.Next;
            }
            nbl = l.Next;
        }
    });
}

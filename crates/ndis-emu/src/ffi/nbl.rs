//! NET_BUFFER_LIST pools and NBLs: the DDIs as the driver calls them, as
//! shims that read the raw arguments and call `crate::nbl`, which checks
//! the rules (`nbl.*`) and changes the world. The
//! raw memory under `crate::nbl` (the blocks NDIS allocates, reads of memory
//! the emulator knows is live) is `crate::ffi::block`.
//!
//! IRQL: every DDI here is callable at IRQL <= DISPATCH_LEVEL [D: the DDI
//! pages, `Irql_NetBuffer_Function`].
//!
//! Choices (the pages leave them open):
//! * A pool handle is an emulator value, never dereferenced; a bad one is
//!   `handle.valid`.
//! * A non-zero ContextSize/ContextBackFill gets a real
//!   NET_BUFFER_LIST_CONTEXT (Size = both, Offset = the backfill) in
//!   `NBL->Context`; the pool's own ContextSize only has to be valid.
//! * NdisAllocateNetBufferList from a pool with fAllocateNetBuffer TRUE gives
//!   an NBL with one NET_BUFFER; with DataSize > 0 that NET_BUFFER maps
//!   DataSize bytes NDIS allocates (the page: "NDIS allocates a
//!   NET_BUFFER_LIST, NET_BUFFER, MDL, and data"), otherwise it has no MDL.
//! * A call that breaks `nbl.pool-params` or `nbl.alloc-params` fails (NULL)
//!   after the violation is recorded, so a wrong driver sees a failure
//!   rather than an object built from bad parameters.

use ndis_sys::*;

use super::zero::read_prefix;
use crate::detail;
use crate::nbl;
use crate::world;

ddi_fn! {
    /// NdisAllocateNetBufferListPool. <= DISPATCH_LEVEL. `NdisHandle` is
    /// optional; when given it must be an NDIS handle (the adapter's or the
    /// driver's). NULL for bad parameters (`nbl.pool-params`) and on an
    /// injected allocation failure.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisAllocateNetBufferListPool(handle: NDIS_HANDLE, params: PNET_BUFFER_LIST_POOL_PARAMETERS) -> NDIS_HANDLE {
        const CALL: &str = "NdisAllocateNetBufferListPool";
        // SAFETY: read only when non-null; the header is the first 4 bytes.
        let header = (!params.is_null()).then(|| unsafe { read_prefix(params.cast::<NDIS_OBJECT_HEADER>(), 4) });
        // SAFETY: non-null, and readable for the size its header announces
        // (the DDI's contract); read_prefix reads no more than 16 bytes.
        let p = header.map(|h| unsafe { read_prefix(params, usize::from(h.Size)) });
        world::with(CALL, |w| {
            let what = p.map_or(detail!("{x} NULL parameters", handle), |p| detail!(
                "{x} tag {t}, fAllocateNetBuffer {}, ContextSize {}, DataSize {}",
                handle, p.PoolTag, p.fAllocateNetBuffer, p.ContextSize, p.DataSize
            ));
            w.event("=>", CALL, what);
            w.check_irql(CALL, DISPATCH_LEVEL);
            nbl::allocate_pool(w, handle as usize, header, p) as NDIS_HANDLE
        })
    }
}

ddi_fn! {
    /// NdisFreeNetBufferListPool. <= DISPATCH_LEVEL. Every NBL from the pool
    /// must be freed first; any still out is reported (and not again as a
    /// leak at unload).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisFreeNetBufferListPool(pool: NDIS_HANDLE) {
        const CALL: &str = "NdisFreeNetBufferListPool";
        world::with(CALL, |w| {
            w.event("=>", CALL, detail!("{x}", pool));
            w.check_irql(CALL, DISPATCH_LEVEL);
            nbl::free_pool(w, pool as usize);
        });
    }
}

ddi_fn! {
    /// NdisAllocateNetBufferAndNetBufferList. <= DISPATCH_LEVEL. The pool
    /// must have been made with fAllocateNetBuffer TRUE and DataSize 0; the
    /// NET_BUFFER gets MdlChain, DataOffset and DataLength as passed, and
    /// CurrentMdl/CurrentMdlOffset where DataOffset falls in the chain. The
    /// MDLs must lie in memory NDIS knows (see `crate::nbl`).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisAllocateNetBufferAndNetBufferList(pool: NDIS_HANDLE, context_size: USHORT, context_backfill: USHORT, mdl_chain: PMDL, data_offset: ULONG, data_length: SIZE_T) -> PNET_BUFFER_LIST {
        const CALL: &str = "NdisAllocateNetBufferAndNetBufferList";
        world::with(CALL, |w| {
            w.event("=>", CALL, detail!("{x} context {}+{}, MDL {x}, offset {}, length {}", pool, context_size, context_backfill, mdl_chain, data_offset, data_length));
            nbl::allocate_over_mdls(w, pool as usize, (context_size, context_backfill), mdl_chain as usize, data_offset, data_length) as PNET_BUFFER_LIST
        })
    }
}

ddi_fn! {
    /// NdisAllocateNetBufferList. <= DISPATCH_LEVEL. A pool with
    /// fAllocateNetBuffer FALSE gives a bare NBL; TRUE gives one NET_BUFFER,
    /// mapping DataSize bytes of NDIS's when the pool has a DataSize.
    #[unsafe(no_mangle)]
    pub unsafe fn NdisAllocateNetBufferList(pool: NDIS_HANDLE, context_size: USHORT, context_backfill: USHORT) -> PNET_BUFFER_LIST {
        const CALL: &str = "NdisAllocateNetBufferList";
        world::with(CALL, |w| {
            w.event("=>", CALL, detail!("{x} context {}+{}", pool, context_size, context_backfill));
            nbl::allocate_plain(w, pool as usize, (context_size, context_backfill)) as PNET_BUFFER_LIST
        })
    }
}

ddi_fn! {
    /// NdisFreeNetBufferList. <= DISPATCH_LEVEL. Only an NBL from one of the
    /// driver's pools that the driver holds (not indicated and unreturned),
    /// once; never a client's (NDIS frees those after the send completes).
    #[unsafe(no_mangle)]
    pub unsafe fn NdisFreeNetBufferList(nbl: PNET_BUFFER_LIST) {
        const CALL: &str = "NdisFreeNetBufferList";
        world::with(CALL, |w| {
            w.event("=>", CALL, detail!("{x}", nbl));
            w.check_irql(CALL, DISPATCH_LEVEL);
            nbl::free(w, nbl as usize);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr::null_mut;

    use crate::nbl::{NblOwner, NblState};
    use crate::rules;
    use crate::world::World;

    /// Runs `f` as CPU 0 of a fresh world (in the session, so it never
    /// meets another test's emulator) and hands the world back.
    fn run<R>(f: impl FnOnce() -> R) -> (R, World) {
        let _session = world::open(World::default());
        let r = f();
        (r, world::take().expect("world"))
    }

    fn params(fallocate: BOOLEAN, data_size: ULONG) -> NET_BUFFER_LIST_POOL_PARAMETERS {
        NET_BUFFER_LIST_POOL_PARAMETERS {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_DEFAULT,
                NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
                NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
            ),
            ProtocolId: NDIS_PROTOCOL_ID_DEFAULT,
            fAllocateNetBuffer: fallocate,
            ContextSize: 0,
            PoolTag: pool_tag(b"Test"),
            DataSize: data_size,
        }
    }

    #[test]
    fn freeing_a_clients_or_an_indicated_nbl_is_a_violation() {
        let (_, w) = run(|| {
            let mut p = params(TRUE, 0);
            // SAFETY: a valid parameter block, alive for the call.
            let pool = unsafe { NdisAllocateNetBufferListPool(null_mut(), &raw mut p) };
            assert!(!pool.is_null());
            let client = nbl::client_send_chain(null_mut(), &[b"abc"]).expect("chain");
            // SAFETY: the emulator checks the NBL; nothing is freed.
            unsafe { NdisFreeNetBufferList(client) };
            // SAFETY: a live pool; no MDL.
            let mine = unsafe { NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, null_mut(), 0, 0) };
            assert!(!mine.is_null());
            world::with("test", |w| w.nbls.set_state(mine as usize, NblState::IndicatedToClient));
            // SAFETY: `mine` is a live NBL of the emulator's, marked
            // indicated: the emulator records the violation and frees nothing.
            unsafe { NdisFreeNetBufferList(mine) };
            world::with("test", |w| w.nbls.set_state(mine as usize, NblState::Returned));
            // SAFETY: now the driver's again: freed.
            unsafe { NdisFreeNetBufferList(mine) };
            assert_eq!(nbl::ownership(mine), None);
            // SAFETY: the pool has nothing out.
            unsafe { NdisFreeNetBufferListPool(pool) };
            assert_eq!(nbl::ownership(client), Some((NblOwner::Client, NblState::OwnedByNdis)));
        });
        let details: Vec<&str> = w.violations.iter().map(|v| v.detail.as_str()).collect();
        assert_eq!(w.violations.len(), 2, "{details:?}");
        assert!(w.violations.iter().all(|v| v.rule == nbl::NBL_FREE_OWNER));
        assert!(details[0].contains("belongs to NDIS"));
        assert!(details[1].contains("IndicatedToClient"));
    }

    #[test]
    fn pool_and_nbl_allocations_honour_injected_failures() {
        let (_, w) = run(|| {
            let mut p = params(FALSE, 0);
            world::with("test", |w| w.faults.fail_nth_allocation(1));
            // SAFETY: a valid parameter block, alive for the call.
            assert!(unsafe { NdisAllocateNetBufferListPool(null_mut(), &raw mut p) }.is_null());
            // SAFETY: `p`, the same valid parameter block, still alive on this
            // stack for the call.
            let pool = unsafe { NdisAllocateNetBufferListPool(null_mut(), &raw mut p) };
            world::with("test", |w| w.faults.fail_nth_allocation(1));
            // SAFETY: a live pool.
            assert!(unsafe { NdisAllocateNetBufferList(pool, 0, 0) }.is_null());
            // SAFETY: a live pool.
            let n = unsafe { NdisAllocateNetBufferList(pool, 16, 0) };
            assert!(!n.is_null());
            // SAFETY: ours, once.
            unsafe { NdisFreeNetBufferList(n) };
            // SAFETY: empty pool.
            unsafe { NdisFreeNetBufferListPool(pool) };
        });
        assert!(w.violations.is_empty(), "{:?}", w.violations);
        assert_eq!(w.events.iter().filter(|e| e.dir == "!!").count(), 2);
    }

    #[test]
    fn data_pools_give_nbls_with_data() {
        let (_, w) = run(|| {
            let mut p = params(TRUE, 128);
            // SAFETY: a valid parameter block, alive for the call.
            let pool = unsafe { NdisAllocateNetBufferListPool(null_mut(), &raw mut p) };
            // SAFETY: a live pool.
            let n = unsafe { NdisAllocateNetBufferList(pool, 0, 0) };
            let data = nbl::chain_data(n).expect("readable");
            assert_eq!(data[0].net_buffers, vec![vec![0; 128]]);
            // A data pool is not for NdisAllocateNetBufferAndNetBufferList.
            // SAFETY: a live pool; no MDL.
            assert!(unsafe { NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, null_mut(), 0, 0) }.is_null());
            // SAFETY: ours, once.
            unsafe { NdisFreeNetBufferList(n) };
            // SAFETY: empty pool.
            unsafe { NdisFreeNetBufferListPool(pool) };
        });
        assert_eq!(w.violations.len(), 1);
        assert_eq!(w.violations[0].rule, nbl::NBL_ALLOC_PARAMS);
    }

    #[test]
    fn bad_pool_handles_are_handle_violations() {
        let (_, w) = run(|| {
            // SAFETY: the emulator checks the handle.
            assert!(unsafe { NdisAllocateNetBufferList(0x1234 as NDIS_HANDLE, 0, 0) }.is_null());
            // SAFETY: the emulator checks the NULL pool handle against its
            // table before using it, and frees nothing.
            unsafe { NdisFreeNetBufferListPool(null_mut()) };
        });
        assert_eq!(w.violations.len(), 2);
        assert!(w.violations.iter().all(|v| v.rule == rules::HANDLE_VALID));
    }
}

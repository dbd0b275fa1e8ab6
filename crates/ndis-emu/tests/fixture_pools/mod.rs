//! A small CoNDIS MCM that uses lookaside lists (through the ndis-sys inline
//! helpers) and NBL pools, to test ndis-emu's pool rules: well-behaved by
//! default, and wrong in exactly one way for each [`Fault`]. It shares no
//! code with covmini, and with the other fixtures only the no-op
//! registration boilerplate of ndis-fixture.
//!
//! InitializeEx brings the adapter up as the contract wants, then makes two
//! lookaside lists (one with NDIS's own routines, one with the driver's),
//! runs entries through them past their depth, makes two NBL pools and
//! three NBLs (one over an MDL of the driver's own memory, which it reads
//! back through the emulator); HaltEx frees and deletes all of it.
#![allow(dead_code, unsafe_code)]

use std::cell::{Cell, RefCell};
use std::ptr::null_mut;

use ndis_emu::nbl::{NblData, NblError, NblOwner, NblState};
use ndis_emu::{Emulator, Report};
use ndis_sys::*;

/// The one thing the fixture gets wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    LookasideNonzeroDepth,
    LookasideUseAfterDelete,
    LookasideDoubleFree,
    LookasideForeignEntry,
    LookasideWriteAfterFree,
    LookasideDeleteWithEntryOut,
    LookasideNotDeleted,
    NblPoolProtocolId,
    NblOddContextSize,
    NblDoubleFree,
    NblPoolFreedWithNblOut,
    NblPoolNeverFreed,
    NblFromFreedPool,
}

/// What the fixture saw while it ran, for the tests to check.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    /// The NBL over the driver's MDL, read back through the emulator.
    pub read_back: Option<Result<Vec<NblData>, NblError>>,
    /// Who owned and held that NBL, as the emulator said.
    pub ownership: Option<(NblOwner, NblState)>,
    /// The NET_BUFFER_LIST_CONTEXT of the NBL allocated with a context:
    /// (non-NULL, Size, Offset).
    pub context: Option<(bool, u16, u16)>,
    /// Entries allocated from the list with the driver's own routines, as
    /// counted by those routines.
    pub own_allocations: usize,
    /// And freed by them.
    pub own_frees: usize,
    /// The default list's counters after the workout: (TotalAllocates,
    /// AllocateMisses, TotalFrees, FreeMisses, depth).
    pub counters: Option<(u32, u32, u32, u32, u16)>,
}

thread_local! {
    static FAULT: Cell<Fault> = const { Cell::new(Fault::None) };
    static DRIVER: Cell<NDIS_HANDLE> = const { Cell::new(null_mut()) };
    static ADAPTER: Cell<NDIS_HANDLE> = const { Cell::new(null_mut()) };
    static CONTEXT: Cell<PVOID> = const { Cell::new(null_mut()) };
    static LIST_A: Cell<PNPAGED_LOOKASIDE_LIST> = const { Cell::new(null_mut()) };
    static LIST_B: Cell<PNPAGED_LOOKASIDE_LIST> = const { Cell::new(null_mut()) };
    static POOL: Cell<NDIS_HANDLE> = const { Cell::new(null_mut()) };
    static BARE_POOL: Cell<NDIS_HANDLE> = const { Cell::new(null_mut()) };
    static MDL_BLOCK: Cell<PVOID> = const { Cell::new(null_mut()) };
    static NBLS: RefCell<Vec<PNET_BUFFER_LIST>> = const { RefCell::new(Vec::new()) };
    static SEEN: RefCell<Seen> = RefCell::new(Seen::default());
}

fn fault() -> Fault {
    FAULT.with(Cell::get)
}

fn seen(f: impl FnOnce(&mut Seen)) {
    SEEN.with(|s| f(&mut s.borrow_mut()));
}

const TAG: ULONG = pool_tag(b"PxCx");
const TAG_A: ULONG = pool_tag(b"PxLa");
const TAG_B: ULONG = pool_tag(b"PxLb");
const TAG_POOL: ULONG = pool_tag(b"PxNb");
const TAG_BARE: ULONG = pool_tag(b"PxNo");
const SIZE_A: usize = 64;
const SIZE_B: usize = 48;
/// The bytes of the driver's own buffer that its MDL maps.
pub const PAYLOAD: &[u8] = b"hello, pools";
const AF: CO_ADDRESS_FAMILY = CO_ADDRESS_FAMILY {
    AddressFamily: 0xF2F2,
    MajorVersion: 1,
    MinorVersion: 0,
};

/// Loads the fixture with `f`, brings an adapter up, halts it, unloads, and
/// returns the report and what the fixture saw.
pub fn run(f: Fault) -> (Report, Seen) {
    FAULT.with(|c| c.set(f));
    SEEN.with(|s| *s.borrow_mut() = Seen::default());
    let mut emu = Emulator::new();
    emu.load(driver_entry).expect("load");
    emu.add_adapter().expect("adapter");
    emu.halt_adapter().expect("halt");
    emu.unload().expect("unload");
    DRIVER.with(|c| c.set(null_mut()));
    (emu.finish(), SEEN.with(|s| s.borrow().clone()))
}

ndis_fn! {
    unsafe fn driver_entry(object: PDRIVER_OBJECT, path: PUNICODE_STRING) -> NTSTATUS {
        let mut c = ndis_fixture::miniport_characteristics(set_options, initialize, halt, unload);
        let mut handle = null_mut();
        // SAFETY: characteristics and handle slot live across the call.
        let status = unsafe { NdisMRegisterMiniportDriver(object, path, null_mut(), &raw mut c, &raw mut handle) };
        if status == NDIS_STATUS_SUCCESS {
            DRIVER.with(|d| d.set(handle));
        }
        status
    }
}

ndis_fn! {
    unsafe fn set_options(handle: NDIS_HANDLE, _ctx: NDIS_HANDLE) -> NDIS_STATUS {
        let co = ndis_fixture::co_characteristics();
        let cm = ndis_fixture::cm_handlers();
        // SAFETY: the driver handle NDIS passed to this MiniportSetOptions.
        unsafe { ndis_fixture::set_co_and_cm_handlers(handle, co, cm) }
    }
}

ndis_fn! {
    unsafe fn initialize(handle: NDIS_HANDLE, _d: NDIS_HANDLE, _p: PNDIS_MINIPORT_INIT_PARAMETERS) -> NDIS_STATUS {
        ADAPTER.with(|a| a.set(handle));
        // SAFETY: the miniport handle NDIS just passed; PASSIVE_LEVEL.
        let ctx = unsafe { NdisAllocateMemoryWithTagPriority(handle, 64, TAG, NormalPoolPriority) };
        if ctx.is_null() {
            return NDIS_STATUS_RESOURCES;
        }
        CONTEXT.with(|c| c.set(ctx));
        let mut reg = ndis_fixture::registration_attributes(ctx, 0);
        let mut general = ndis_fixture::general_attributes();
        // SAFETY: header-first blocks alive for the calls.
        let s1 = unsafe { NdisMSetMiniportAttributes(handle, (&raw mut reg).cast()) };
        // SAFETY: `general` is a header-first block on this stack, alive for
        // the call; the miniport handle NDIS passed; PASSIVE_LEVEL.
        let s2 = unsafe { NdisMSetMiniportAttributes(handle, (&raw mut general).cast()) };
        let mut af = AF;
        // SAFETY: the AF block lives across the call.
        let s3 = unsafe { NdisMCmRegisterAddressFamilyEx(handle, &raw mut af) };
        if s1 != NDIS_STATUS_SUCCESS || s2 != NDIS_STATUS_SUCCESS || s3 != NDIS_STATUS_SUCCESS {
            return NDIS_STATUS_FAILURE;
        }
        // SAFETY: PASSIVE_LEVEL, inside MiniportInitializeEx; the lists and
        // pools are torn down in halt.
        unsafe { set_up_lists() };
        // SAFETY: once, at PASSIVE_LEVEL, inside this MiniportInitializeEx
        // (set_up_nbls's precondition); the pools are freed in halt.
        unsafe { set_up_nbls(handle) };
        NDIS_STATUS_SUCCESS
    }
}

fn new_list() -> PNPAGED_LOOKASIDE_LIST {
    Box::into_raw(Box::new(NPAGED_LOOKASIDE_LIST::zeroed()))
}

/// # Safety
/// Runs once, at PASSIVE_LEVEL, before any use of the lists.
unsafe fn set_up_lists() {
    let a = new_list();
    let b = new_list();
    LIST_A.with(|c| c.set(a));
    LIST_B.with(|c| c.set(b));
    let depth = if fault() == Fault::LookasideNonzeroDepth { 8 } else { 0 };
    // SAFETY: cache-aligned storage that outlives the list (freed at halt).
    unsafe { NdisInitializeNPagedLookasideList(a, None, None, 0, SIZE_A, TAG_A, depth) };
    // SAFETY: `b` is the second boxed list: cache-aligned storage that
    // outlives the list (freed at halt) (precondition 1); PASSIVE_LEVEL, as
    // this function's precondition says (precondition 2); the Allocate/Free
    // routines are the driver's own, which live as long as the image.
    unsafe { NdisInitializeNPagedLookasideList(b, Some(own_allocate), Some(own_free), 0, SIZE_B, TAG_B, 0) };

    if fault() == Fault::LookasideWriteAfterFree {
        // SAFETY: an initialized list.
        let e = unsafe { NdisAllocateFromNPagedLookasideList(a) };
        // SAFETY: ours, freed once.
        unsafe { NdisFreeToNPagedLookasideList(a, e) };
        // SAFETY: the block is still allocated (cached by the list); writing
        // it after the free is the bug.
        unsafe { e.cast::<u8>().wrapping_add(20).write(0x42) };
        // SAFETY: an initialized list.
        let again = unsafe { NdisAllocateFromNPagedLookasideList(a) };
        // SAFETY: ours, freed once.
        unsafe { NdisFreeToNPagedLookasideList(a, again) };
    }

    // A workout past the depth: six out, six back (four cached, two freed),
    // two out again (cache hits), two back.
    let mut out = Vec::new();
    for i in 0..6u8 {
        // SAFETY: an initialized list.
        let e = unsafe { NdisAllocateFromNPagedLookasideList(a) };
        assert!(!e.is_null());
        // SAFETY: a fresh entry of SIZE_A bytes, ours until freed.
        unsafe { e.cast::<u8>().write_bytes(i, SIZE_A) };
        out.push(e);
    }
    for e in out.drain(..) {
        // SAFETY: each came from this list and is freed once.
        unsafe { NdisFreeToNPagedLookasideList(a, e) };
    }
    for _ in 0..2 {
        // SAFETY: an initialized list.
        out.push(unsafe { NdisAllocateFromNPagedLookasideList(a) });
    }
    for e in out.drain(..) {
        // SAFETY: each of the two came from list `a` just above and is freed
        // once.
        unsafe { NdisFreeToNPagedLookasideList(a, e) };
    }
    // SAFETY: an initialized list the fixture owns: a copy of its fields.
    let l = unsafe { a.read() }.L;
    // SAFETY: the list head (at offset 0) of an initialized list.
    let depth = unsafe { ExQueryDepthSList(a.cast()) };
    seen(|s| s.counters = Some((l.TotalAllocates, l.AllocateMisses, l.TotalFrees, l.FreeMisses, depth)));

    // The list with the driver's routines: five out, five back.
    for _ in 0..5 {
        // SAFETY: an initialized list.
        out.push(unsafe { NdisAllocateFromNPagedLookasideList(b) });
    }
    for e in out.drain(..) {
        // SAFETY: each came from this list and is freed once.
        unsafe { NdisFreeToNPagedLookasideList(b, e) };
    }

    match fault() {
        Fault::LookasideDoubleFree => {
            // SAFETY: an initialized list.
            let e = unsafe { NdisAllocateFromNPagedLookasideList(a) };
            // SAFETY: ours, freed once.
            unsafe { NdisFreeToNPagedLookasideList(a, e) };
            // SAFETY: the second free is the bug; the emulator refuses it.
            unsafe { NdisFreeToNPagedLookasideList(a, e) };
        }
        Fault::LookasideForeignEntry => {
            // SAFETY: an initialized list.
            let e = unsafe { NdisAllocateFromNPagedLookasideList(b) };
            // SAFETY: freeing B's entry to A is the bug; the emulator refuses it.
            unsafe { NdisFreeToNPagedLookasideList(a, e) };
            // SAFETY: then it goes back where it belongs, once.
            unsafe { NdisFreeToNPagedLookasideList(b, e) };
        }
        _ => {}
    }
}

ndis_fn! {
    /// The driver's own Allocate routine for list B.
    unsafe fn own_allocate(_pool_type: POOL_TYPE, bytes: SIZE_T, tag: ULONG) -> PVOID {
        seen(|s| s.own_allocations += 1);
        // SAFETY: the adapter handle, valid until halt; <= DISPATCH_LEVEL.
        unsafe { NdisAllocateMemoryWithTagPriority(ADAPTER.with(Cell::get), bytes as UINT, tag, NormalPoolPriority) }
    }
}

ndis_fn! {
    /// The driver's own Free routine for list B.
    unsafe fn own_free(entry: PVOID) {
        seen(|s| s.own_frees += 1);
        // SAFETY: allocated by own_allocate with this tag.
        unsafe { NdisFreeMemoryWithTagPriority(ADAPTER.with(Cell::get), entry, TAG_B) };
    }
}

fn pool_params(tag: ULONG, fallocate: BOOLEAN) -> NET_BUFFER_LIST_POOL_PARAMETERS {
    NET_BUFFER_LIST_POOL_PARAMETERS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEFAULT,
            NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
            NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
        ),
        ProtocolId: NDIS_PROTOCOL_ID_DEFAULT,
        fAllocateNetBuffer: fallocate,
        ContextSize: 0,
        PoolTag: tag,
        DataSize: 0,
    }
}

/// # Safety
/// Runs once, at PASSIVE_LEVEL, inside MiniportInitializeEx.
unsafe fn set_up_nbls(handle: NDIS_HANDLE) {
    let mut params = pool_params(TAG_POOL, TRUE);
    if fault() == Fault::NblPoolProtocolId {
        params.ProtocolId = 2; // NDIS_PROTOCOL_ID_TCP_IP: not for a miniport
    }
    // SAFETY: a valid parameter block, alive for the call.
    let pool = unsafe { NdisAllocateNetBufferListPool(handle, &raw mut params) };
    POOL.with(|c| c.set(pool));
    let mut bare = pool_params(TAG_BARE, FALSE);
    // SAFETY: `bare` is a valid parameter block on this stack, alive for the
    // call; the miniport handle of this MiniportInitializeEx (precondition).
    let bare_pool = unsafe { NdisAllocateNetBufferListPool(handle, &raw mut bare) };
    BARE_POOL.with(|c| c.set(bare_pool));

    // An MDL of the driver's own (NDIS-allocated) memory: the MDL at the
    // start of the block, the bytes it maps at offset 64.
    // SAFETY: the adapter handle; PASSIVE_LEVEL.
    let block = unsafe { NdisAllocateMemoryWithTagPriority(handle, 256, TAG, NormalPoolPriority) };
    assert!(!block.is_null());
    MDL_BLOCK.with(|c| c.set(block));
    let va = block as usize + 64;
    // SAFETY: 256 bytes of ours; the payload fits at offset 64.
    unsafe { core::ptr::copy_nonoverlapping(PAYLOAD.as_ptr(), va as *mut u8, PAYLOAD.len()) };
    let pages = ((va % 4096) + PAYLOAD.len()).div_ceil(4096);
    let mdl = MDL {
        Next: null_mut(),
        Size: (core::mem::size_of::<MDL>() + 8 * pages) as CSHORT,
        MdlFlags: MDL_SOURCE_IS_NONPAGED_POOL,
        AllocationProcessorNumber: 0,
        Reserved: 0,
        Process: null_mut(),
        MappedSystemVa: va as PVOID,
        StartVa: (va & !0xFFF) as PVOID,
        ByteCount: PAYLOAD.len() as ULONG,
        ByteOffset: (va & 0xFFF) as ULONG,
    };
    // SAFETY: the block is 16-byte aligned and holds an MDL at offset 0.
    unsafe { block.cast::<MDL>().write(mdl) };

    if pool.is_null() || bare_pool.is_null() {
        return;
    }
    // SAFETY: a live pool made for this call; the MDL chain outlives the NBL.
    let over = unsafe { NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, block.cast(), 7, 5) };
    if !over.is_null() {
        seen(|s| {
            s.read_back = Some(ndis_emu::nbl::chain_data(over));
            s.ownership = ndis_emu::nbl::ownership(over);
        });
        NBLS.with(|n| n.borrow_mut().push(over));
    }
    let context_size = if fault() == Fault::NblOddContextSize { 8 } else { 16 };
    // SAFETY: a live pool; no MDL.
    let with_context = unsafe { NdisAllocateNetBufferAndNetBufferList(pool, context_size, 16, null_mut(), 0, 0) };
    if !with_context.is_null() {
        // SAFETY: a live NBL of ours; the context block NDIS made for it.
        let ctx = unsafe { (*with_context).Context };
        let (size, offset) = if ctx.is_null() {
            (0, 0)
        } else {
            // SAFETY: a NET_BUFFER_LIST_CONTEXT: Size at 8.
            let size = unsafe { ctx.cast::<u8>().wrapping_add(8).cast::<u16>().read() };
            // SAFETY: and Offset at 10.
            let offset = unsafe { ctx.cast::<u8>().wrapping_add(10).cast::<u16>().read() };
            (size, offset)
        };
        seen(|s| s.context = Some((!ctx.is_null(), size, offset)));
        NBLS.with(|n| n.borrow_mut().push(with_context));
    }
    // SAFETY: a live pool.
    let plain = unsafe { NdisAllocateNetBufferList(bare_pool, 0, 0) };
    if !plain.is_null() {
        NBLS.with(|n| n.borrow_mut().push(plain));
    }
}

ndis_fn! {
    unsafe fn halt(_ctx: NDIS_HANDLE, _a: NDIS_HALT_ACTION) {
        let pool = POOL.with(Cell::get);
        let bare_pool = BARE_POOL.with(Cell::get);
        let nbls: Vec<PNET_BUFFER_LIST> = NBLS.with(|n| n.borrow_mut().drain(..).collect());
        if fault() == Fault::NblPoolFreedWithNblOut && !pool.is_null() {
            // SAFETY: a live pool; freeing it with NBLs out is the bug (and
            // they are not freed afterwards: the pool is gone).
            unsafe { NdisFreeNetBufferListPool(pool) };
        } else {
            for (i, &n) in nbls.iter().enumerate() {
                // SAFETY: ours, from a live pool, freed once.
                unsafe { NdisFreeNetBufferList(n) };
                if fault() == Fault::NblDoubleFree && i == 0 {
                    // SAFETY: the second free is the bug; the emulator refuses it.
                    unsafe { NdisFreeNetBufferList(n) };
                }
            }
            if !pool.is_null() {
                // SAFETY: a live pool with nothing out.
                unsafe { NdisFreeNetBufferListPool(pool) };
            }
        }
        if !bare_pool.is_null() && fault() != Fault::NblPoolNeverFreed {
            // SAFETY: a live pool with nothing out.
            unsafe { NdisFreeNetBufferListPool(bare_pool) };
            if fault() == Fault::NblFromFreedPool {
                // SAFETY: the pool was just freed: the bug; the emulator refuses it.
                let late = unsafe { NdisAllocateNetBufferList(bare_pool, 0, 0) };
                assert!(late.is_null());
            }
        }

        let a = LIST_A.with(Cell::get);
        let b = LIST_B.with(Cell::get);
        if fault() == Fault::LookasideDeleteWithEntryOut {
            // SAFETY: an initialized list; the entry is never freed: the bug.
            let _ = unsafe { NdisAllocateFromNPagedLookasideList(a) };
        }
        if fault() != Fault::LookasideNotDeleted {
            // SAFETY: every entry is back (unless the fault above).
            unsafe { NdisDeleteNPagedLookasideList(a) };
        }
        if fault() == Fault::LookasideUseAfterDelete {
            // SAFETY: the list's memory is still ours; using it after the
            // delete is the bug, which the emulator refuses (NULL).
            let late = unsafe { NdisAllocateFromNPagedLookasideList(a) };
            assert!(late.is_null());
        }
        // SAFETY: every entry is back.
        unsafe { NdisDeleteNPagedLookasideList(b) };
        // SAFETY: from Box::into_raw in set_up_lists; the lists are deleted
        // (or, for the fault, abandoned: the emulator does not touch them again).
        drop(unsafe { Box::from_raw(a) });
        // SAFETY: `b` came from Box::into_raw in set_up_lists, is deleted
        // just above, and is not used again.
        drop(unsafe { Box::from_raw(b) });

        let handle = ADAPTER.with(Cell::get);
        // SAFETY: ours, allocated with this tag, freed once.
        unsafe { NdisFreeMemoryWithTagPriority(handle, MDL_BLOCK.with(Cell::get), TAG) };
        // SAFETY: the adapter context, allocated in initialize with this tag,
        // freed once here, at halt, after which NDIS does not use it.
        unsafe { NdisFreeMemoryWithTagPriority(handle, CONTEXT.with(Cell::get), TAG) };
    }
}

ndis_fn! {
    unsafe fn unload(_o: PDRIVER_OBJECT) {
        // SAFETY: the handle from registration, once.
        unsafe { NdisMDeregisterMiniportDriver(DRIVER.with(Cell::get)) };
    }
}

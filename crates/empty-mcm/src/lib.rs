//! # empty-mcm: the least a CoNDIS MCM can do
//!
//! A CoNDIS miniport with an integrated call manager that registers
//! covmini's address family, accepts every AF open, SAP and VC, and carries
//! calls and data between them with the fewest NDIS calls and the least
//! bookkeeping the contract allows. It is the *baseline* of `covmini-lab
//! bench`: both drivers run in the same emulator, serve the same client
//! script and produce the same client-visible events, so the difference in
//! time (and instructions) is what covmini's own work costs.
//!
//! What "the least" means here, precisely (BENCHMARKS.md repeats it):
//!
//! * **Calls.** ProtocolCmMakeCall to an address that a SAP registered
//!   (covmini's formats: MediaSpecific ParamType
//!   [`PARAM_TYPE_CALLED_ADDRESS`], SapType [`SAP_TYPE_ADDRESS`]) creates the
//!   callee's VC (NdisMCmCreateVc), activates both VCs with the caller's own
//!   call parameters (NdisMCmActivateVc; no copy of its own), offers the
//!   call (NdisMCmDispatchIncomingCall) and, when the callee accepts inside
//!   that dispatch, connects it (NdisMCmDispatchCallConnected) and returns
//!   SUCCESS: one handler, everything at once. A callee that pends its
//!   answer gets the make call pended and completed on its answer; a
//!   rejection deactivates and deletes the callee's VC (contract §3.3).
//! * **Closes.** ProtocolCmCloseCall deactivates the VC, tells the peer
//!   (NdisMCmDispatchIncomingCloseCall) and returns SUCCESS; on the VC the
//!   MCM created it completes and deletes it (seed NdisMCmCloseCallComplete)
//!   and returns PENDING.
//! * **Data.** A send NBL is indicated on the peer VC over the sender's own
//!   MDLs (zero copy: a receive NBL, taken from a free list filled at
//!   initialize, re-pointed at each NET_BUFFER's data), without
//!   NDIS_RECEIVE_FLAGS_RESOURCES, and completed when the last of its receive
//!   NBLs comes back: the same NDIS calls covmini makes. Completing at once
//!   with RESOURCES would be cheaper, but it is not the same service (the
//!   receiver would have to copy), so it would not be a fair floor.
//!
//! What it does not do: no locks (the emulator runs the driver on one
//! thread, so its state is thread-local), no pool tags or signatures, no
//! QoS, OIDs, parties or echo address (each refused with
//! NDIS_STATUS_NOT_SUPPORTED or NDIS_STATUS_INVALID_OID), no state machine
//! beyond "linked to a peer". It is a measuring stick for the host build,
//! not a driver to ship: it is never built for the kernel.
//!
//! Every `unsafe` block is an NDIS call or a dereference of a pointer NDIS
//! handed this driver, each with its `// SAFETY:` reason.

use std::cell::RefCell;
use std::ptr::null_mut;

pub use covmini::call_manager::{PARAM_TYPE_CALLED_ADDRESS, SAP_TYPE_ADDRESS};
use ndis_sys::*;

/// Receive NBLs allocated at initialize: enough for every NBL of one send
/// chain the bench makes, and more.
pub const RX_NBLS: usize = 256;

/// The non-NULL MiniportAdapterContext (the adapter has no memory of its own).
const ADAPTER_CONTEXT: usize = 0xE3B7;

/// One VC. Its MiniportVcContext is its slot index + 1.
#[derive(Clone, Copy, Debug, Default)]
struct Vc {
    /// The NdisVcHandle (0 while NdisMCmCreateVc runs).
    handle: usize,
    /// The VC at the other end, as slot index + 1; 0 when none.
    peer: usize,
    /// Created by this MCM (for an incoming call): it deletes it.
    mcm_created: bool,
    /// A caller inside ProtocolCmMakeCall: the callee's answer, if it came.
    answer: Option<NDIS_STATUS>,
    /// A caller whose make call is pending: its call parameters.
    pended: Option<usize>,
}

/// Everything the driver keeps.
///
/// INVARIANT: `free_vcs` holds each index of a `None` slot of `vcs` exactly
/// once, and no other index (so `new_vc` never overwrites a live VC); every
/// NBL in `rx_free` was allocated from `pool` and is not indicated (NDIS has
/// returned it, or it was never sent up), so its MiniportReserved and
/// NET_BUFFER are the driver's to write.
#[derive(Default)]
struct State {
    driver: usize,
    adapter: usize,
    /// Open AFs (NdisAfHandle = CallMgrAfContext).
    afs: Vec<usize>,
    /// Registered SAPs: (NdisSapHandle = CallMgrSapContext, NdisAfHandle, address).
    saps: Vec<(usize, usize, Vec<u8>)>,
    /// VC slots and the free ones: O(1) create, lookup and delete.
    vcs: Vec<Option<Vc>>,
    free_vcs: Vec<usize>,
    /// The receive NBL pool and its free NBLs.
    pool: usize,
    rx_free: Vec<usize>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

fn with<R>(f: impl FnOnce(&mut State) -> R) -> R {
    STATE.with(|s| f(&mut s.borrow_mut()))
}

fn vc(ctx: usize) -> Option<Vc> {
    with(|s| s.vcs.get(ctx.wrapping_sub(1)).copied().flatten())
}

fn with_vc(ctx: usize, f: impl FnOnce(&mut Vc)) {
    with(|s| {
        if let Some(Some(v)) = s.vcs.get_mut(ctx.wrapping_sub(1)) {
            f(v);
        }
    });
}

fn new_vc(v: Vc) -> usize {
    with(|s| match s.free_vcs.pop() {
        Some(i) => {
            if let Some(slot) = s.vcs.get_mut(i) {
                *slot = Some(v);
            }
            i + 1
        }
        None => {
            s.vcs.push(Some(v));
            s.vcs.len()
        }
    })
}

fn drop_vc(ctx: usize) {
    with(|s| {
        let i = ctx.wrapping_sub(1);
        if let Some(slot @ Some(_)) = s.vcs.get_mut(i) {
            *slot = None;
            s.free_vcs.push(i);
        }
    });
}

/// How many VC slots are in use (tests).
#[must_use]
pub fn live_vcs() -> usize {
    with(|s| s.vcs.iter().flatten().count())
}

/// The bytes of a MediaSpecific called address, or None if the call
/// parameters carry none in covmini's format.
///
/// # Safety
/// `cp` is the CO_CALL_PARAMETERS NDIS passed to ProtocolCmMakeCall.
unsafe fn called_address(cp: PCO_CALL_PARAMETERS) -> Option<Vec<u8>> {
    if cp.is_null() {
        return None;
    }
    // SAFETY: NDIS's parameters (precondition).
    let media = unsafe { (*cp).MediaParameters };
    if media.is_null() {
        return None;
    }
    // SAFETY: NDIS's media parameters, readable (precondition).
    let spec = unsafe { &(*media).MediaSpecific };
    if spec.ParamType != PARAM_TYPE_CALLED_ADDRESS {
        return None;
    }
    let tail = spec.Parameters.as_ptr();
    // SAFETY: the MediaSpecific block holds Length bytes of parameters.
    Some(unsafe { std::slice::from_raw_parts(tail, spec.Length as usize) }.to_vec())
}

/// Undoes a call that did not happen: deactivates both VCs, deletes the
/// callee's (contract §3.3 "Reject") and unlinks the caller.
fn take_down(caller_ctx: usize, callee_ctx: usize) {
    let callee = vc(callee_ctx).unwrap_or_default();
    let caller = vc(caller_ctx).unwrap_or_default();
    // SAFETY: the VC handles NDIS gave; NOT_ACCEPTED if never activated.
    let _ = unsafe { NdisMCmDeactivateVc(callee.handle as NDIS_HANDLE) };
    // SAFETY: the caller's VC handle, which NDIS gave in ProtocolCoCreateVc
    // and which stays valid until the client deletes the VC, after this call
    // completes; NOT_ACCEPTED if never activated.
    let _ = unsafe { NdisMCmDeactivateVc(caller.handle as NDIS_HANDLE) };
    // SAFETY: the MCM's own VC, now inactive.
    let _ = unsafe { NdisMCmDeleteVc(callee.handle as NDIS_HANDLE) };
    drop_vc(callee_ctx);
    with_vc(caller_ctx, |c| c.peer = 0);
}

// --- Registration and the adapter ------------------------------------------------

ndis_fn! {
    /// DriverEntry: registers the miniport (NDIS 6.30, characteristics
    /// revision 2). Runs at IRQL = PASSIVE_LEVEL.
    pub unsafe fn driver_entry(object: PDRIVER_OBJECT, path: PUNICODE_STRING) -> NTSTATUS {
        with(|s| *s = State::default());
        // Pause, restart, connectionless sends, cancels, PnP and shutdown:
        // ndis-fixture's no-ops (NDIS makes no connectionless send to a
        // CoNDIS miniport).
        let mut c = ndis_fixture::miniport_characteristics(set_options, initialize, halt, unload);
        c.ReturnNetBufferListsHandler = Some(return_nbls);
        let mut handle = null_mut();
        // SAFETY: the characteristics and the handle slot outlive the call;
        // the kernel's objects are passed through.
        let status = unsafe { NdisMRegisterMiniportDriver(object, path, null_mut(), &raw mut c, &raw mut handle) };
        with(|s| s.driver = handle as usize);
        status
    }

    unsafe fn set_options(handle: NDIS_HANDLE, _context: NDIS_HANDLE) -> NDIS_STATUS {
        // Activate and deactivate stay ndis-fixture's NOT_SUPPORTED: NDIS
        // never calls them for an MCM (it activates through NdisMCmActivateVc).
        let mut co = ndis_fixture::co_characteristics();
        co.CoSendNetBufferListsHandler = Some(co_send);
        co.CoOidRequestHandler = Some(co_oid);
        // Parties, QoS changes and OIDs stay ndis-fixture's NOT_SUPPORTED
        // (INVALID_OID); the completions and notifications have nothing to do.
        let mut cm = ndis_fixture::cm_handlers();
        cm.CmCreateVcHandler = Some(cm_create_vc);
        cm.CmDeleteVcHandler = Some(cm_delete_vc);
        cm.CmOpenAfHandler = Some(cm_open_af);
        cm.CmCloseAfHandler = Some(cm_close_af);
        cm.CmRegisterSapHandler = Some(cm_register_sap);
        cm.CmDeregisterSapHandler = Some(cm_deregister_sap);
        cm.CmMakeCallHandler = Some(cm_make_call);
        cm.CmCloseCallHandler = Some(cm_close_call);
        cm.CmIncomingCallCompleteHandler = Some(cm_incoming_call_complete);
        // SAFETY: the driver handle NDIS passed to this MiniportSetOptions.
        unsafe { ndis_fixture::set_co_and_cm_handlers(handle, co, cm) }
    }

    /// MiniportInitializeEx: attributes, covmini's AF, the receive NBLs.
    unsafe fn initialize(handle: NDIS_HANDLE, _driver: NDIS_HANDLE, _params: PNDIS_MINIPORT_INIT_PARAMETERS) -> NDIS_STATUS {
        with(|s| s.adapter = handle as usize);
        let mut reg = ndis_fixture::registration_attributes(ADAPTER_CONTEXT as NDIS_HANDLE, covmini::config::ATTRIBUTE_FLAGS);
        // SAFETY: the miniport handle; the block outlives the call.
        let status = unsafe { NdisMSetMiniportAttributes(handle, (&raw mut reg).cast()) };
        if status != NDIS_STATUS_SUCCESS {
            return status;
        }
        // SAFETY: all-zero general attributes are plain data; set below.
        let mut general: NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES = unsafe { core::mem::zeroed() };
        general.Header = NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES,
            NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2,
            NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2,
        );
        general.MediaType = covmini::config::MEDIUM;
        general.MtuSize = covmini::config::MTU;
        // SAFETY: the miniport handle of this MiniportInitializeEx; `general`
        // is a header-first block on this stack that outlives the call.
        let status = unsafe { NdisMSetMiniportAttributes(handle, (&raw mut general).cast()) };
        if status != NDIS_STATUS_SUCCESS {
            return status;
        }
        let mut af = covmini::config::AF;
        // SAFETY: the miniport handle of this MiniportInitializeEx, whose
        // attributes are set; `af` is on this stack for the call (NDIS copies
        // it).
        let status = unsafe { NdisMCmRegisterAddressFamilyEx(handle, &raw mut af) };
        if status != NDIS_STATUS_SUCCESS {
            return status;
        }
        let mut params = NET_BUFFER_LIST_POOL_PARAMETERS {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_DEFAULT,
                NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
                NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
            ),
            ProtocolId: NDIS_PROTOCOL_ID_DEFAULT,
            fAllocateNetBuffer: TRUE,
            ContextSize: 0,
            PoolTag: pool_tag(b"Mt0R"),
            DataSize: 0,
        };
        // SAFETY: the miniport handle of this MiniportInitializeEx; `params`
        // is a header-first block on this stack for the call.
        let pool = unsafe { NdisAllocateNetBufferListPool(handle, &raw mut params) };
        if pool.is_null() {
            return NDIS_STATUS_RESOURCES;
        }
        let mut free = Vec::with_capacity(RX_NBLS);
        for _ in 0..RX_NBLS {
            // SAFETY: our pool (fAllocateNetBuffer, DataSize 0): one empty NET_BUFFER.
            let nbl = unsafe { NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, null_mut(), 0, 0) };
            if nbl.is_null() {
                break;
            }
            free.push(nbl as usize);
        }
        with(|s| {
            s.pool = pool as usize;
            s.rx_free = free;
        });
        NDIS_STATUS_SUCCESS
    }

    /// MiniportHaltEx: the receive NBLs and their pool go, then every open
    /// AF is told to close (contract §1.4).
    unsafe fn halt(_context: NDIS_HANDLE, _action: NDIS_HALT_ACTION) {
        let (pool, free) = with(|s| (std::mem::take(&mut s.pool), std::mem::take(&mut s.rx_free)));
        for nbl in free {
            // SAFETY: one of our pool's NBLs, back on the free list.
            unsafe { NdisFreeNetBufferList(nbl as PNET_BUFFER_LIST) };
        }
        if pool != 0 {
            // SAFETY: the pool from initialize; each of its NBLs was freed above.
            unsafe { NdisFreeNetBufferListPool(pool as NDIS_HANDLE) };
        }
        let afs = with(|s| s.afs.clone());
        for af in afs {
            // SAFETY: an AF NDIS opened on this MCM; PASSIVE_LEVEL.
            let _ = unsafe { NdisMCmNotifyCloseAddressFamily(af as NDIS_HANDLE) };
        }
    }

    unsafe fn unload(_object: PDRIVER_OBJECT) {
        let driver = with(|s| s.driver);
        // SAFETY: the handle from NdisMRegisterMiniportDriver.
        unsafe { NdisMDeregisterMiniportDriver(driver as NDIS_HANDLE) };
    }

    /// No OID is answered.
    unsafe fn co_oid(_c: NDIS_HANDLE, _v: NDIS_HANDLE, _r: PNDIS_OID_REQUEST) -> NDIS_STATUS { NDIS_STATUS_INVALID_OID }
}

// --- The call manager -------------------------------------------------------------

ndis_fn! {
    unsafe fn cm_open_af(_b: NDIS_HANDLE, _af: PCO_ADDRESS_FAMILY, handle: NDIS_HANDLE, ctx: PNDIS_HANDLE) -> NDIS_STATUS {
        with(|s| s.afs.push(handle as usize));
        // SAFETY: NDIS's out slot. The AF's context is its NdisAfHandle.
        unsafe { ctx.write(handle) };
        NDIS_STATUS_SUCCESS
    }

    unsafe fn cm_close_af(ctx: NDIS_HANDLE) -> NDIS_STATUS {
        with(|s| s.afs.retain(|a| *a != ctx as usize));
        NDIS_STATUS_SUCCESS
    }

    unsafe fn cm_register_sap(af: NDIS_HANDLE, sap: PCO_SAP, handle: NDIS_HANDLE, ctx: PNDIS_HANDLE) -> NDIS_STATUS {
        // SAFETY: NDIS's CO_SAP, readable.
        let header = unsafe { &*sap };
        let (sap_type, len) = (header.SapType, header.SapLength as usize);
        if sap_type != SAP_TYPE_ADDRESS {
            return NDIS_STATUS_INVALID_DATA;
        }
        let tail = sap.cast::<u8>().wrapping_add(core::mem::offset_of!(CO_SAP, Sap));
        // SAFETY: the CO_SAP holds SapLength bytes after its header.
        let bytes = unsafe { std::slice::from_raw_parts(tail, len) }.to_vec();
        with(|s| s.saps.push((handle as usize, af as usize, bytes)));
        // SAFETY: NDIS's out slot. The SAP's context is its NdisSapHandle.
        unsafe { ctx.write(handle) };
        NDIS_STATUS_SUCCESS
    }

    unsafe fn cm_deregister_sap(ctx: NDIS_HANDLE) -> NDIS_STATUS {
        with(|s| s.saps.retain(|x| x.0 != ctx as usize));
        NDIS_STATUS_SUCCESS
    }

    /// ProtocolCoCreateVc: a slot, whose index + 1 is the context.
    unsafe fn cm_create_vc(_af: NDIS_HANDLE, handle: NDIS_HANDLE, ctx: PNDIS_HANDLE) -> NDIS_STATUS {
        let index = new_vc(Vc { handle: handle as usize, ..Vc::default() });
        // SAFETY: NDIS's out slot.
        unsafe { ctx.write(index as NDIS_HANDLE) };
        NDIS_STATUS_SUCCESS
    }

    /// ProtocolCoDeleteVc (a client's VC) and the delete side of
    /// NdisMCmDeleteVc (the MCM frees its own slot itself).
    unsafe fn cm_delete_vc(ctx: NDIS_HANDLE) -> NDIS_STATUS {
        if vc(ctx as usize).is_some_and(|v| !v.mcm_created) {
            drop_vc(ctx as usize);
        }
        NDIS_STATUS_SUCCESS
    }

    /// ProtocolCmMakeCall: everything at once (see the crate docs).
    unsafe fn cm_make_call(ctx: NDIS_HANDLE, cp: PCO_CALL_PARAMETERS, party: NDIS_HANDLE, _party_ctx: PNDIS_HANDLE) -> NDIS_STATUS {
        let caller_ctx = ctx as usize;
        let Some(caller) = vc(caller_ctx) else { return NDIS_STATUS_FAILURE };
        if !party.is_null() {
            return NDIS_STATUS_NOT_SUPPORTED;
        }
        // SAFETY: NDIS's call parameters.
        let Some(called) = (unsafe { called_address(cp) }) else {
            return NDIS_STATUS_INVALID_ADDRESS;
        };
        let Some((sap, af)) = with(|s| s.saps.iter().find(|x| x.2 == called).map(|x| (x.0, x.1))) else {
            return NDIS_STATUS_NO_ROUTE_TO_DESTINATION;
        };
        let adapter = with(|s| s.adapter);
        let callee_ctx = new_vc(Vc { peer: caller_ctx, mcm_created: true, ..Vc::default() });
        let mut callee: NDIS_HANDLE = null_mut();
        // SAFETY: the adapter and AF handles NDIS gave; the out slot lives.
        let created = unsafe { NdisMCmCreateVc(adapter as NDIS_HANDLE, af as NDIS_HANDLE, callee_ctx as NDIS_HANDLE, &raw mut callee) };
        if created != NDIS_STATUS_SUCCESS {
            drop_vc(callee_ctx);
            return created;
        }
        with_vc(callee_ctx, |v| v.handle = callee as usize);
        with_vc(caller_ctx, |v| {
            v.peer = callee_ctx;
            v.answer = None;
        });
        // SAFETY: NDIS's VC handles and the caller's parameters, alive
        // across each call (NDIS reads them during the activation).
        let a = unsafe { NdisMCmActivateVc(caller.handle as NDIS_HANDLE, cp) };
        // SAFETY: `callee` is the handle NdisMCmCreateVc just returned; `cp`
        // is the caller's parameters, which NDIS keeps alive until this make
        // call completes.
        let b = unsafe { NdisMCmActivateVc(callee, cp) };
        if a != NDIS_STATUS_SUCCESS || b != NDIS_STATUS_SUCCESS {
            take_down(caller_ctx, callee_ctx);
            return NDIS_STATUS_FAILURE;
        }
        // SAFETY: NDIS's SAP handle, the active callee VC, the caller's
        // parameters (valid until this make call completes).
        let offered = unsafe { NdisMCmDispatchIncomingCall(sap as NDIS_HANDLE, callee, cp) };
        if offered != NDIS_STATUS_PENDING && offered != NDIS_STATUS_SUCCESS {
            take_down(caller_ctx, callee_ctx);
            return NDIS_STATUS_FAILURE;
        }
        let answer = with(|s| {
            let v = s.vcs.get_mut(caller_ctx.wrapping_sub(1))?.as_mut()?;
            let answer = v.answer.take();
            if answer.is_none() {
                v.pended = Some(cp as usize);
            }
            answer
        });
        answer.unwrap_or(NDIS_STATUS_PENDING)
    }

    /// ProtocolCmIncomingCallComplete: connect, or undo; then answer the
    /// caller (from inside its make call, or by completing it).
    unsafe fn cm_incoming_call_complete(status: NDIS_STATUS, ctx: NDIS_HANDLE, _cp: PCO_CALL_PARAMETERS) {
        let callee_ctx = ctx as usize;
        let Some(callee) = vc(callee_ctx) else { return };
        let caller_ctx = callee.peer;
        let Some(caller) = vc(caller_ctx) else { return };
        let status = if status == NDIS_STATUS_PENDING { NDIS_STATUS_FAILURE } else { status };
        if status == NDIS_STATUS_SUCCESS {
            // SAFETY: the callee's VC, active, whose client accepted.
            unsafe { NdisMCmDispatchCallConnected(callee.handle as NDIS_HANDLE) };
        } else {
            take_down(caller_ctx, callee_ctx);
        }
        match caller.pended {
            Some(cp) => {
                with_vc(caller_ctx, |v| v.pended = None);
                // SAFETY: completing the make call this MCM pended, with its
                // parameters; never PENDING.
                unsafe { NdisMCmMakeCallComplete(status, caller.handle as NDIS_HANDLE, null_mut(), null_mut(), cp as PCO_CALL_PARAMETERS) };
            }
            None => with_vc(caller_ctx, |v| v.answer = Some(status)),
        }
    }

    /// ProtocolCmCloseCall: deactivate, tell the peer, finish.
    unsafe fn cm_close_call(ctx: NDIS_HANDLE, _party: NDIS_HANDLE, _data: PVOID, _size: UINT) -> NDIS_STATUS {
        let me_ctx = ctx as usize;
        let Some(me) = vc(me_ctx) else { return NDIS_STATUS_FAILURE };
        // SAFETY: this VC's handle; NOT_ACCEPTED if it was not active.
        let _ = unsafe { NdisMCmDeactivateVc(me.handle as NDIS_HANDLE) };
        let peer = vc(me.peer).filter(|p| p.peer == me_ctx);
        with_vc(me_ctx, |v| v.peer = 0);
        if let Some(p) = peer {
            with_vc(me.peer, |v| v.peer = 0);
            // SAFETY: the peer's VC handle, which carries the call.
            unsafe { NdisMCmDispatchIncomingCloseCall(NDIS_STATUS_SUCCESS, p.handle as NDIS_HANDLE, null_mut(), 0) };
        }
        if !me.mcm_created {
            return NDIS_STATUS_SUCCESS;
        }
        // An MCM-created VC: complete, then delete it (seed
        // NdisMCmCloseCallComplete), and return PENDING.
        // SAFETY: completing this handler's own request.
        unsafe { NdisMCmCloseCallComplete(NDIS_STATUS_SUCCESS, me.handle as NDIS_HANDLE, null_mut()) };
        // SAFETY: the MCM's own VC, deactivated above.
        let _ = unsafe { NdisMCmDeleteVc(me.handle as NDIS_HANDLE) };
        drop_vc(me_ctx);
        NDIS_STATUS_PENDING
    }
}

// --- The data path ----------------------------------------------------------------

/// The `i`-th MiniportReserved slot of an NBL this driver holds.
///
/// # Safety
/// `nbl` is an NBL this driver holds; `i < 2`.
unsafe fn reserved(nbl: PNET_BUFFER_LIST, i: usize) -> *mut usize {
    // SAFETY: a live NBL (precondition): the field's address, no read.
    let slots = unsafe { &raw mut (*nbl).MiniportReserved.0 };
    slots.cast::<usize>().wrapping_add(i)
}

/// Reads MiniportReserved slot `i`.
///
/// # Safety
/// As [`reserved`].
unsafe fn get_reserved(nbl: PNET_BUFFER_LIST, i: usize) -> usize {
    // SAFETY: `nbl` is an NBL this driver holds and `i < 2`: this
    // function's precondition, which is `reserved`'s.
    let slot = unsafe { reserved(nbl, i) };
    // SAFETY: a pointer-sized, aligned slot of an NBL we hold.
    unsafe { slot.read() }
}

/// Writes MiniportReserved slot `i`.
///
/// # Safety
/// As [`reserved`].
unsafe fn set_reserved(nbl: PNET_BUFFER_LIST, i: usize, value: usize) {
    // SAFETY: `nbl` is an NBL this driver holds and `i < 2`: this
    // function's precondition, which is `reserved`'s.
    let slot = unsafe { reserved(nbl, i) };
    // SAFETY: a pointer-sized, aligned MiniportReserved slot (i < 2, the
    // array's length) of an NBL this driver holds, so no one else uses it.
    unsafe { slot.write(value) };
}

/// Completes one detached send NBL with `status`.
///
/// # Safety
/// `send` is a send NBL NDIS gave this driver on the VC `vc`, detached.
unsafe fn complete(vc: usize, send: PNET_BUFFER_LIST, status: NDIS_STATUS, flags: ULONG) {
    // SAFETY: ours until completed (precondition).
    unsafe { (*send).Status = status };
    // SAFETY: completed once, on the VC it came on.
    unsafe { NdisMCoSendNetBufferListsComplete(vc as NDIS_HANDLE, send, flags) };
}

ndis_fn! {
    /// MiniportCoSendNetBufferLists: each send NBL is indicated on the
    /// peer over the sender's MDLs and completed when it comes back.
    unsafe fn co_send(ctx: NDIS_HANDLE, nbls: PNET_BUFFER_LIST, flags: ULONG) {
        let me = vc(ctx as usize).unwrap_or_default();
        let peer = vc(me.peer).filter(|p| p.peer == ctx as usize);
        let dispatch = flags & NDIS_SEND_FLAGS_DISPATCH_LEVEL != 0;
        let complete_flags = if dispatch { NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL } else { 0 };
        let receive_flags = if dispatch { NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL } else { 0 };
        let mut nbl = nbls;
        while !nbl.is_null() {
            let send = nbl;
            // SAFETY: NDIS's chain, ours until completed; detach this one.
            nbl = unsafe { (*send).Next };
            // SAFETY: `send` is the same non-null NBL of NDIS's chain read
            // above, this driver's until it is completed.
            unsafe { (*send).Next = null_mut() };
            let Some(peer) = peer else {
                // SAFETY: a detached send NBL of this VC.
                unsafe { complete(me.handle, send, NDIS_STATUS_VC_NOT_ACTIVATED, complete_flags) };
                continue;
            };
            // SAFETY: the send NBL's first NET_BUFFER.
            let mut nb = unsafe { (*send).FirstNetBuffer };
            let mut count = 0usize;
            let mut nbs = nb;
            while !nbs.is_null() {
                count += 1;
                // SAFETY: a NET_BUFFER of the send.
                nbs = unsafe { (*nbs).Next };
            }
            let enough = with(|s| s.rx_free.len() >= count);
            if count == 0 || !enough {
                let status = if count == 0 { NDIS_STATUS_SUCCESS } else { NDIS_STATUS_RESOURCES };
                // SAFETY: `send` was detached above and came on this VC, whose
                // handle `me.handle` is; it is completed once, here.
                unsafe { complete(me.handle, send, status, complete_flags) };
                continue;
            }
            // SAFETY: the send is ours until its last receive is back.
            unsafe { set_reserved(send, 0, count) };
            // SAFETY: `send` is still the NBL held until its last receive is
            // back; slot 1 < 2.
            unsafe { set_reserved(send, 1, me.handle) };
            let mut head: PNET_BUFFER_LIST = null_mut();
            let mut tail: PNET_BUFFER_LIST = null_mut();
            while !nb.is_null() {
                let Some(r) = with(|s| s.rx_free.pop()) else { break };
                let r = r as PNET_BUFFER_LIST;
                // SAFETY: a receive NBL of ours with its one NET_BUFFER.
                let mine = unsafe { (*r).FirstNetBuffer };
                // SAFETY: a NET_BUFFER of the send we hold, read once.
                let theirs = unsafe { nb.read() };
                // SAFETY: ours: re-point our NET_BUFFER at the sender's data.
                unsafe { (*mine).MdlChain = theirs.MdlChain };
                // SAFETY: `mine` is the NET_BUFFER of receive NBL `r`, off the
                // free list, so no one else reads it.
                unsafe { (*mine).CurrentMdl = theirs.CurrentMdl };
                // SAFETY: `mine`, the free receive NBL's NET_BUFFER, still ours.
                unsafe { (*mine).CurrentMdlOffset = theirs.CurrentMdlOffset };
                // SAFETY: `mine`, the free receive NBL's NET_BUFFER, still ours.
                unsafe { (*mine).DataOffset = theirs.DataOffset };
                // SAFETY: `mine`, the free receive NBL's NET_BUFFER, still ours
                // (not indicated until the loop ends).
                unsafe { (*mine).stDataLength = theirs.stDataLength & 0xFFFF_FFFF };
                // SAFETY: ours.
                unsafe { (*r).SourceHandle = peer.handle as NDIS_HANDLE };
                // SAFETY: `r` is a receive NBL of this driver's pool, off the
                // free list; its MiniportReserved is the miniport's; slot 0 < 2.
                unsafe { set_reserved(r, 0, send as usize) };
                // SAFETY: `r`, the same receive NBL off the free list, still
                // not indicated: it ends the chain.
                unsafe { (*r).Next = null_mut() };
                if tail.is_null() {
                    head = r;
                } else {
                    // SAFETY: the previous receive NBL of ours.
                    unsafe { (*tail).Next = r };
                }
                tail = r;
                nb = theirs.Next;
            }
            // CAST: count <= RX_NBLS.
            let n = count as ULONG;
            // SAFETY: our receive NBLs, SourceHandle = the peer's active VC.
            unsafe { NdisMCoIndicateReceiveNetBufferLists(peer.handle as NDIS_HANDLE, head, n, receive_flags) };
        }
    }

    /// MiniportReturnNetBufferLists: the receive NBLs go back on the free
    /// list; a send whose last receive is back completes with SUCCESS.
    unsafe fn return_nbls(_c: NDIS_HANDLE, nbls: PNET_BUFFER_LIST, flags: ULONG) {
        let complete_flags = if flags & NDIS_RETURN_FLAGS_DISPATCH_LEVEL != 0 { NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL } else { 0 };
        let mut rx = nbls;
        while !rx.is_null() {
            // SAFETY: our receive NBL, back from NDIS.
            let next = unsafe { (*rx).Next };
            // SAFETY: `rx` is a receive NBL of this driver's pool that NDIS
            // returned, so its MiniportReserved is ours again; slot 0 < 2.
            let send = unsafe { get_reserved(rx, 0) } as PNET_BUFFER_LIST;
            // SAFETY: `rx`, the same returned receive NBL; it has one
            // NET_BUFFER (allocated with it at initialize).
            let mine = unsafe { (*rx).FirstNetBuffer };
            // SAFETY: our NET_BUFFER.
            unsafe { (*mine).MdlChain = null_mut() };
            // SAFETY: `mine` is the NET_BUFFER of the returned receive NBL
            // `rx`, which NDIS no longer reads.
            unsafe { (*mine).CurrentMdl = null_mut() };
            // SAFETY: `mine`, the returned receive NBL's NET_BUFFER, ours.
            unsafe { (*mine).CurrentMdlOffset = 0 };
            // SAFETY: `mine`, the returned receive NBL's NET_BUFFER, ours.
            unsafe { (*mine).DataOffset = 0 };
            // SAFETY: `mine`, the returned receive NBL's NET_BUFFER, ours.
            unsafe { (*mine).stDataLength = 0 };
            // SAFETY: ours.
            unsafe { (*rx).Next = null_mut() };
            with(|s| s.rx_free.push(rx as usize));
            rx = next;
            if send.is_null() {
                continue;
            }
            // SAFETY: the send NBL we hold until its last receive is back.
            let left = unsafe { get_reserved(send, 0) } - 1;
            // SAFETY: `send` is the same send NBL, held until its last
            // receive is back (this one may be the last); slot 0 < 2.
            unsafe { set_reserved(send, 0, left) };
            if left == 0 {
                // SAFETY: `send`, still held: it completes just below; slot
                // 1 < 2 holds the VC it was sent on.
                let sender = unsafe { get_reserved(send, 1) };
                // SAFETY: the send, detached and now done.
                unsafe { complete(sender, send, NDIS_STATUS_SUCCESS, complete_flags) };
            }
        }
    }
}

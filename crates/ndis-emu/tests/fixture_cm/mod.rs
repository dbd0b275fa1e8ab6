//! A tiny loopback MCM written directly against ndis-sys, to prove
//! ndis-emu's CoNDIS rules: a call whose MediaSpecific bytes equal a
//! registered SAP becomes an incoming call on an MCM-created VC; accepting it
//! connects both sides; closing either side closes both. Well-behaved by
//! default, wrong in exactly one way for each [`Fault`].
//!
//! Contexts are small integers (1-based indices into thread-local tables),
//! so the fixture allocates nothing and leaks nothing.
#![allow(dead_code, unsafe_code)]

use std::cell::{Cell, RefCell};
use std::ptr::null_mut;

use ndis_sys::*;

/// The one thing the fixture gets wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Pend ProtocolCmMakeCall; the test completes it with [`complete_make_call`].
    PendMakeCall,
    CompleteWithPending,
    CompleteSynchronousCall,
    PendCreateVc,
    SucceedWithoutActivation,
    FailActivated,
    PartyContextOnPointToPoint,
    NullMediaParameters,
    DeleteClientVc,
    CloseWithoutDeactivation,
    CreateVcOnNullAf,
    /// Not a fault: pend ProtocolCmDeregisterSap (the test completes it
    /// with [`complete_deregistration`]) and keep offering calls on the SAP
    /// meanwhile, as an offer crossing the deregistration does.
    DispatchOnDeregisteringSap,
    /// Complete ProtocolCmDeregisterSap but keep offering calls on the SAP.
    DispatchOnDeregisteredSap,
    /// Not a fault: pend ProtocolCmCloseCall of a client-created VC before
    /// the peer hears of it (the test completes it with
    /// [`complete_close_call`]), so the peer's own close crosses it.
    PendClientCloseCall,
    DispatchOnInactiveVc,
    ConnectRejectedCall,
    IncomingCloseOnIdleVc,
    HaltWithoutNotifyClose,
    /// Notify every AF at halt but return without waiting for the
    /// notifications a client pended.
    HaltWithoutWaitingForNotifyClose,
    /// Pend a client's AF close while the AF has SAPs (completing it when
    /// the last goes), and at halt wait only for the AFs notified.
    HaltWithoutWaitingForAPendedAfClose,
    /// At halt, wait without timeout on an event nothing will ever set.
    WaitOnAnEventNobodySets,
    /// At halt, NdisWaitEvent under a spin lock (DISPATCH_LEVEL).
    WaitUnderASpinLock,
    /// At halt, NdisSetEvent on an NDIS_EVENT never initialized.
    SetAnUninitializedEvent,
    /// Not a fault: at halt, queue a work item that sets an event, and wait
    /// for it without timeout.
    WaitForOwnWorkItem,
    /// Not a fault: at halt, wait 5 ms on an event nothing sets (it times out).
    WaitBriefly,
    IncomingDropOfLastParty,
    /// Pend ProtocolCoOidRequest; the test completes it with [`complete_cm_oid`].
    PendCmOid,
    CompleteCmOidAsMiniport,
    /// Pend ProtocolCoOidRequest; [`complete_cm_oid`] completes it twice.
    CompleteCmOidTwice,
    /// At halt, NdisMCmNotifyCloseAddressFamily (PASSIVE_LEVEL only) under a
    /// spin lock.
    NotifyCloseUnderSpinLock,
    OverstateBytesWritten,
    /// BUFFER_TOO_SHORT for a short buffer, with BytesNeeded its own length.
    TooShortNeedingItsOwnLength,
    /// INVALID_LENGTH for a buffer longer than 4, with BytesNeeded its own
    /// length (the one length that cannot be the right one).
    InvalidLengthNeedingItsOwnLength,
    /// Not a fault: INVALID_LENGTH for a buffer longer than 4, with
    /// BytesNeeded 4 (the refusal of `!= sizeof` Microsoft's samples make).
    InvalidLengthNeedingTheStructure,
    StatusFromAForeignSource,
    McmOidToAClosedAf,
    /// Not a fault: indicate without NDIS_RECEIVE_FLAGS_RESOURCES and
    /// complete each send when its receive comes back (zero copy).
    HoldUntilReturned,
    CompleteSendsTwice,
    LeaveSendStatusUnset,
    ReceiveFromTheSender,
    HoldSendsAndClose,
    CreateVcOutNotNull,
    // --- Pause (crate::pause). Every mode pauses correctly otherwise: a pause
    // with a receive out pends and completes when the last one is returned,
    // and sends are refused with NDIS_STATUS_PAUSED while paused.
    FailPause,
    CompletePauseSynchronously,
    PauseWithReceivesOut,
    IndicateWhilePaused,
    /// Well-behaved: pend ProtocolCmOpenAf and ProtocolCmCloseAf; the test
    /// completes them with [`complete_af_requests`].
    PendAfRequests,
}

/// The fixture's address family.
pub const AF: CO_ADDRESS_FAMILY = CO_ADDRESS_FAMILY {
    AddressFamily: 0xF1F2,
    MajorVersion: 1,
    MinorVersion: 0,
};

#[derive(Clone, Copy, Default)]
struct Vc {
    handle: usize,
    /// The VC at the other end of the loopback, by index + 1.
    peer: usize,
    mcm_created: bool,
}

/// Everything the fixture keeps, per thread (one emulator per test thread).
///
/// INVARIANT: `halt_event` is set once, in initialize (one adapter per
/// run), to an event NdisInitializeEvent initialized, which stays in its box
/// until the next run resets the state;
/// every `lent` entry is a receive NBL indicated to NDIS and not yet
/// returned, with the send NBL it carries, which is held (not completed)
/// until that receive comes back.
#[derive(Default)]
struct State {
    driver: usize,
    adapter: usize,
    afs: Vec<usize>,
    saps: Vec<(usize, usize, Vec<u8>)>, // (sap handle, af handle, bytes)
    vcs: Vec<Vc>,
    pending_make_call: Option<usize>,
    pending_oid: Option<usize>,
    /// AF opens and closes pended under PendAfRequests: (AF handle, is open).
    pending_af: Vec<(usize, bool)>,
    pool: usize,
    /// Receive NBL → (the sender's VC handle, the send NBL it carries).
    lent: Vec<(usize, usize, usize)>,
    deregistering: Option<usize>,
    /// AFs whose close was pended until their SAPs are gone.
    closing: Vec<usize>,
    /// The client VC whose close is pended under PendClientCloseCall.
    pending_close: Option<usize>,
    /// Set when the last notification of halt completes (boxed: an
    /// NDIS_EVENT must not move once initialized).
    halt_event: Option<Box<NDIS_EVENT>>,
    /// Notifications outstanding, plus one while halt is still notifying.
    notifying: u32,
    /// Halt has begun (a notification completing before is not halt's).
    halting: bool,
    /// What each of halt's extra waits (the modes above) returned.
    waits: Vec<bool>,
    /// Sends held under [`Fault::HoldSendsAndClose`]: (VC handle, NBL).
    held_sends: Vec<(usize, usize)>,
    /// MiniportPause ran (and no MiniportRestart since).
    paused: bool,
    /// MiniportPause returned PENDING; NdisMPauseComplete is due.
    pause_pending: bool,
}

thread_local! {
    static FAULT: Cell<Fault> = const { Cell::new(Fault::None) };
    static STATE: RefCell<State> = RefCell::new(State::default());
}

fn fault() -> Fault {
    FAULT.with(Cell::get)
}

/// Selects the fault for this thread from now on, keeping the fixture's
/// tables (a fault that strikes mid-run).
pub fn switch_fault(f: Fault) {
    FAULT.with(|c| c.set(f));
}

/// Selects the fault for this thread and clears the fixture's tables.
pub fn set_fault(f: Fault) {
    FAULT.with(|c| c.set(f));
    STATE.with(|s| *s.borrow_mut() = State::default());
}

fn vc_handle(ctx: NDIS_HANDLE) -> usize {
    STATE.with(|s| {
        s.borrow()
            .vcs
            .get((ctx as usize).wrapping_sub(1))
            .map_or(0, |v| v.handle)
    })
}

/// Completes the AF opens and closes pended under [`Fault::PendAfRequests`]
/// with SUCCESS (what a work item would do in a real MCM).
pub fn complete_af_requests() {
    let pending = STATE.with(|s| core::mem::take(&mut s.borrow_mut().pending_af));
    for (af, open) in pending {
        if open {
            // SAFETY: completing the open NDIS pended for this AF handle;
            // the AF context is the handle itself, as cm_open_af gives it.
            unsafe { NdisCmOpenAddressFamilyComplete(NDIS_STATUS_SUCCESS, af as NDIS_HANDLE, af as NDIS_HANDLE) };
        } else {
            // SAFETY: completing the close NDIS pended for this AF handle.
            unsafe { NdisCmCloseAddressFamilyComplete(NDIS_STATUS_SUCCESS, af as NDIS_HANDLE) };
        }
    }
}

/// Completes the make call pended under [`Fault::PendMakeCall`] (what a work
/// item would do in a real MCM): activate, then complete with SUCCESS.
pub fn complete_make_call() {
    let Some(vc) = STATE.with(|s| s.borrow_mut().pending_make_call.take()) else {
        return;
    };
    let mut cp = media_params();
    // SAFETY: an NDIS VC handle NDIS gave this MCM; parameters alive across the call.
    unsafe { NdisMCmActivateVc(vc as NDIS_HANDLE, cp.as_mut_ptr()) };
    // SAFETY: completing the request pended for this VC.
    unsafe {
        NdisMCmMakeCallComplete(
            NDIS_STATUS_SUCCESS,
            vc as NDIS_HANDLE,
            null_mut(),
            null_mut(),
            cp.as_mut_ptr(),
        )
    };
}

/// Completes the OID request pended under PendCmOid (correctly) or
/// CompleteCmOidAsMiniport (with the miniport's completion: the fault).
pub fn complete_cm_oid() {
    let Some(req) = STATE.with(|s| s.borrow_mut().pending_oid.take()) else {
        return;
    };
    let req = req as PNDIS_OID_REQUEST;
    if fault() == Fault::CompleteCmOidAsMiniport {
        let adapter = STATE.with(|s| s.borrow().adapter);
        // SAFETY: the request NDIS gave; completing it on the wrong path is the fault.
        unsafe { NdisMCoOidRequestComplete(adapter as NDIS_HANDLE, null_mut(), req, NDIS_STATUS_INVALID_OID) };
    } else {
        // SAFETY: the request ProtocolCoOidRequest pended.
        unsafe { NdisMCmOidRequestComplete(null_mut(), null_mut(), null_mut(), req, NDIS_STATUS_INVALID_OID) };
    }
    if fault() == Fault::CompleteCmOidTwice {
        // SAFETY: the same request, completed again: the fault. NDIS keeps
        // the request's memory (the emulator's) alive until the run ends.
        unsafe { NdisMCmOidRequestComplete(null_mut(), null_mut(), null_mut(), req, NDIS_STATUS_INVALID_OID) };
    }
}

/// What each NdisWaitEvent of the last halt's extra waits returned.
pub fn wait_results() -> Vec<bool> {
    STATE.with(|s| s.borrow().waits.clone())
}

/// The halt event's address (stable: boxed), or NULL before initialize.
fn halt_event() -> PNDIS_EVENT {
    STATE.with(|s| s.borrow_mut().halt_event.as_mut().map_or(null_mut(), |e| &raw mut **e))
}

/// One notification is done (or halt's own count): the last sets the event.
fn notification_done() {
    let last = STATE.with(|s| {
        let mut s = s.borrow_mut();
        if !s.halting {
            return false;
        }
        s.notifying = s.notifying.saturating_sub(1);
        s.notifying == 0
    });
    if last {
        // SAFETY: the event NdisInitializeEvent set up in initialize.
        unsafe { NdisSetEvent(halt_event()) };
    }
}

/// Waits (or not: the fault) for the notifications halt sent.
fn wait_for_notifications() {
    notification_done();
    if fault() != Fault::HaltWithoutWaitingForNotifyClose {
        // SAFETY: the initialized halt event; HaltEx runs at PASSIVE_LEVEL.
        let _ = unsafe { NdisWaitEvent(halt_event(), 0) };
    }
}

/// The extra waits of the event modes, at the end of halt.
fn extra_waits() {
    let mut other = Box::new(NDIS_EVENT::zeroed());
    let ev = &raw mut *other;
    match fault() {
        Fault::SetAnUninitializedEvent => {
            // SAFETY: storage for an event; never initializing it is the fault.
            unsafe { NdisSetEvent(ev) };
            return;
        }
        Fault::WaitOnAnEventNobodySets | Fault::WaitForOwnWorkItem | Fault::WaitBriefly | Fault::WaitUnderASpinLock => {
            // SAFETY: boxed storage that outlives every use below.
            unsafe { NdisInitializeEvent(ev) };
        }
        _ => return,
    }
    let result = match fault() {
        Fault::WaitOnAnEventNobodySets => {
            // SAFETY: an initialized event; PASSIVE_LEVEL.
            unsafe { NdisWaitEvent(ev, 0) }
        }
        Fault::WaitBriefly => {
            // SAFETY: `ev` was initialized by NdisInitializeEvent in the arm
            // above and its boxed storage outlives the wait; PASSIVE_LEVEL.
            unsafe { NdisWaitEvent(ev, 5) }
        }
        Fault::WaitUnderASpinLock => {
            let mut lock = NDIS_SPIN_LOCK::default();
            // SAFETY: a fresh lock on this stack frame.
            unsafe { NdisAllocateSpinLock(&raw mut lock) };
            // SAFETY: initialized, not held.
            unsafe { NdisAcquireSpinLock(&raw mut lock) };
            // SAFETY: an initialized event; waiting at DISPATCH_LEVEL is the fault.
            let r = unsafe { NdisWaitEvent(ev, 0) };
            // SAFETY: held by this CPU.
            unsafe { NdisReleaseSpinLock(&raw mut lock) };
            r
        }
        _ => {
            let adapter = STATE.with(|s| s.borrow().adapter);
            // SAFETY: the adapter handle of this halt; PASSIVE_LEVEL.
            let item = unsafe { NdisAllocateIoWorkItem(adapter as NDIS_HANDLE) };
            // SAFETY: a work item just allocated; the event outlives the wait.
            unsafe { NdisQueueIoWorkItem(item, set_from_work_item, ev.cast()) };
            // SAFETY: an initialized event; PASSIVE_LEVEL.
            let r = unsafe { NdisWaitEvent(ev, 0) };
            // SAFETY: its routine ran (the wait returned TRUE) or not; either
            // way it is not queued any more when the wait is satisfied.
            unsafe { NdisFreeIoWorkItem(item) };
            r
        }
    };
    STATE.with(|s| s.borrow_mut().waits.push(result != FALSE));
    drop(other);
}

ndis_fn! {
    unsafe fn set_from_work_item(ctx: PVOID, _item: NDIS_HANDLE) {
        // SAFETY: the event extra_waits passed, initialized, alive while it waits.
        unsafe { NdisSetEvent(ctx.cast()) };
    }
}

/// Completes the close pended under PendClientCloseCall: deactivates the VC
/// and completes the close.
pub fn complete_close_call() {
    let Some(vc) = STATE.with(|s| s.borrow_mut().pending_close.take()) else {
        return;
    };
    // SAFETY: the VC whose close this MCM pended; deactivated before completing.
    unsafe { NdisMCmDeactivateVc(vc as NDIS_HANDLE) };
    // SAFETY: completing the request pended for this VC.
    unsafe { NdisMCmCloseCallComplete(NDIS_STATUS_SUCCESS, vc as NDIS_HANDLE, null_mut()) };
}

/// Completes the SAP deregistration pended under DispatchOnDeregisteringSap.
pub fn complete_deregistration() {
    if let Some(sap) = STATE.with(|s| s.borrow_mut().deregistering.take()) {
        // SAFETY: completing the request pended for this SAP.
        unsafe { NdisMCmDeregisterSapComplete(NDIS_STATUS_SUCCESS, sap as NDIS_HANDLE) };
    }
}

/// Owned call parameters for activation (the MCM's own copy).
///
/// INVARIANT: always boxed ([`media_params`]) and never moved out of its box,
/// so the links [`Params::as_mut_ptr`] writes into `cp` (to `cm` and `media`
/// of the same block) stay valid for as long as the box lives.
struct Params {
    media: CO_MEDIA_PARAMETERS,
    cm: CO_CALL_MANAGER_PARAMETERS,
    cp: CO_CALL_PARAMETERS,
}

impl Params {
    fn as_mut_ptr(&mut self) -> PCO_CALL_PARAMETERS {
        self.cp.CallMgrParameters = &raw mut self.cm;
        self.cp.MediaParameters = if fault() == Fault::NullMediaParameters {
            null_mut()
        } else {
            &raw mut self.media
        };
        &raw mut self.cp
    }
}

fn media_params() -> Box<Params> {
    let spec = CO_SPECIFIC_PARAMETERS {
        ParamType: 0,
        Length: 0,
        Parameters: [0],
    };
    Box::new(Params {
        media: CO_MEDIA_PARAMETERS {
            Flags: TRANSMIT_VC | RECEIVE_VC,
            ReceivePriority: 0,
            ReceiveSizeHint: 1500,
            _Pad: 0,
            MediaSpecific: spec,
        },
        cm: CO_CALL_MANAGER_PARAMETERS {
            Transmit: FLOWSPEC::default(),
            Receive: FLOWSPEC::default(),
            CallMgrSpecific: spec,
        },
        cp: CO_CALL_PARAMETERS {
            Flags: 0,
            CallMgrParameters: null_mut(),
            MediaParameters: null_mut(),
        },
    })
}

/// The MediaSpecific bytes of the caller's parameters (the called address).
///
/// # Safety
/// `cp` is the CO_CALL_PARAMETERS NDIS passed to ProtocolCmMakeCall.
unsafe fn called_address(cp: PCO_CALL_PARAMETERS) -> Vec<u8> {
    // SAFETY: NDIS's parameters (precondition): MediaParameters is valid.
    let media = unsafe { (*cp).MediaParameters };
    if media.is_null() {
        return Vec::new();
    }
    // SAFETY: `media` is non-null (checked) and is the MediaParameters of
    // NDIS's call parameters (precondition), readable for the call.
    let len = unsafe { (*media).MediaSpecific.Length } as usize;
    let tail = media.cast::<u8>().wrapping_add(
        core::mem::offset_of!(CO_MEDIA_PARAMETERS, MediaSpecific)
            + core::mem::offset_of!(CO_SPECIFIC_PARAMETERS, Parameters),
    );
    // SAFETY: the tail holds Length bytes (the emulator built it).
    unsafe { core::slice::from_raw_parts(tail, len) }.to_vec()
}

/// Tells the caller's client the link parameters of its VC, as a WAN MCM does.
fn indicate_link_up(vc: usize) {
    let adapter = STATE.with(|s| s.borrow().adapter);
    let source = if fault() == Fault::StatusFromAForeignSource {
        0x5151
    } else {
        adapter
    };
    let mut ind = NDIS_STATUS_INDICATION {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_STATUS_INDICATION,
            NDIS_STATUS_INDICATION_REVISION_1,
            NDIS_SIZEOF_STATUS_INDICATION_REVISION_1,
        ),
        SourceHandle: source as NDIS_HANDLE,
        PortNumber: 0,
        StatusCode: NDIS_STATUS_WAN_CO_LINKPARAMS,
        Flags: 0,
        DestinationHandle: null_mut(),
        RequestId: null_mut(),
        StatusBuffer: null_mut(),
        StatusBufferSize: 0,
        Guid: GUID::default(),
        NdisReserved: [null_mut(); 4],
    };
    // SAFETY: the adapter and VC handles NDIS gave; the indication lives across the call.
    unsafe { NdisMCoIndicateStatusEx(adapter as NDIS_HANDLE, vc as NDIS_HANDLE, &raw mut ind) };
}

/// Indicates the send NBL's data on the peer VC, zero copy: a receive NBL
/// of the fixture's pool over the sender's own MDL chain.
fn forward(sender: usize, peer: usize, send: PNET_BUFFER_LIST) {
    // SAFETY: NDIS's send NBL with its first NET_BUFFER.
    let nb = unsafe { (*send).FirstNetBuffer };
    // SAFETY: `nb` is the first NET_BUFFER of the same send NBL, which NDIS
    // handed to co_send and which stays the driver's until finish_send (every
    // send NBL has at least one NET_BUFFER); read once, by value.
    let nb = unsafe { nb.read() };
    let (mdl, offset, len) = (nb.MdlChain, nb.DataOffset, nb.stDataLength & 0xFFFF_FFFF);
    let pool = STATE.with(|s| s.borrow().pool);
    // SAFETY: the fixture's pool; the sender's MDLs outlive the receive
    // (the send completes only after the receive is back, or at once with RESOURCES).
    let rx = unsafe { NdisAllocateNetBufferAndNetBufferList(pool as NDIS_HANDLE, 0, 0, mdl, offset, len) };
    if rx.is_null() {
        finish_send(sender, send, NDIS_STATUS_RESOURCES);
        return;
    }
    let source = if fault() == Fault::ReceiveFromTheSender {
        sender
    } else {
        peer
    };
    // SAFETY: the fixture's own fresh NBL.
    unsafe { (*rx).SourceHandle = source as NDIS_HANDLE };
    if matches!(fault(), Fault::HoldUntilReturned | Fault::PauseWithReceivesOut) {
        STATE.with(|s| s.borrow_mut().lent.push((rx as usize, sender, send as usize)));
        // SAFETY: the peer's VC and the fixture's NBL; NDIS returns it later.
        unsafe { NdisMCoIndicateReceiveNetBufferLists(peer as NDIS_HANDLE, rx, 1, NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL) };
        return;
    }
    // SAFETY: `peer` is the peer VC's NDIS handle and `rx` the fixture's
    // fresh NBL; with RESOURCES the NBL is the fixture's again on return.
    unsafe { NdisMCoIndicateReceiveNetBufferLists(peer as NDIS_HANDLE, rx, 1, NDIS_RECEIVE_FLAGS_RESOURCES) };
    // SAFETY: the fixture's own NBL, back with RESOURCES.
    unsafe { NdisFreeNetBufferList(rx) };
    finish_send(sender, send, NDIS_STATUS_SUCCESS);
}

/// Completes one send NBL with `status`.
fn finish_send(vc: usize, send: PNET_BUFFER_LIST, status: NDIS_STATUS) {
    if fault() != Fault::LeaveSendStatusUnset {
        // SAFETY: NDIS's send NBL, still the driver's.
        unsafe { (*send).Status = status };
    }
    // SAFETY: completing NDIS's NBL on the VC it was sent on.
    unsafe { NdisMCoSendNetBufferListsComplete(vc as NDIS_HANDLE, send, 0) };
    if fault() == Fault::CompleteSendsTwice {
        // SAFETY: the fault: the same NBL a second time.
        unsafe { NdisMCoSendNetBufferListsComplete(vc as NDIS_HANDLE, send, 0) };
    }
}

/// Takes down an MCM-created VC whose call did not happen (contract §3.3
/// "Reject": deactivate, then delete) and unlinks it from its caller.
fn drop_callee(index: usize) {
    let vc = STATE
        .with(|s| s.borrow().vcs.get(index.wrapping_sub(1)).copied())
        .unwrap_or_default();
    // SAFETY: the MCM's own VC handle (NOT_ACCEPTED if it was never active).
    let _ = unsafe { NdisMCmDeactivateVc(vc.handle as NDIS_HANDLE) };
    // SAFETY: the MCM's own, now inactive VC.
    let _ = unsafe { NdisMCmDeleteVc(vc.handle as NDIS_HANDLE) };
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        if let Some(caller) = s.vcs.get_mut(vc.peer.wrapping_sub(1)) {
            caller.peer = 0;
        }
        if let Some(me) = s.vcs.get_mut(index.wrapping_sub(1)) {
            me.peer = 0;
        }
    });
}

// --- Registration ------------------------------------------------------------

ndis_fn! {
    pub unsafe fn driver_entry(object: PDRIVER_OBJECT, path: PUNICODE_STRING) -> NTSTATUS {
        let mut c = ndis_fixture::miniport_characteristics(set_options, initialize, halt, unload);
        c.PauseHandler = Some(ok_pause);
        c.RestartHandler = Some(ok_restart);
        c.ReturnNetBufferListsHandler = Some(return_nbls);
        let mut handle = null_mut();
        // SAFETY: blocks alive across the call.
        let status = unsafe { NdisMRegisterMiniportDriver(object, path, null_mut(), &raw mut c, &raw mut handle) };
        STATE.with(|s| s.borrow_mut().driver = handle as usize);
        status
    }
}

ndis_fn! {
    unsafe fn set_options(handle: NDIS_HANDLE, _c: NDIS_HANDLE) -> NDIS_STATUS {
        let mut co = ndis_fixture::co_characteristics();
        co.CoSendNetBufferListsHandler = Some(co_send);
        co.CoOidRequestHandler = Some(co_oid);
        let mut cm = ndis_fixture::cm_handlers();
        cm.CmCreateVcHandler = Some(cm_create_vc);
        cm.CmDeleteVcHandler = Some(cm_delete_vc);
        cm.CmOpenAfHandler = Some(cm_open_af);
        cm.CmCloseAfHandler = Some(if fault() == Fault::McmOidToAClosedAf { cm_close_af_then_ask } else { cm_close_af });
        cm.CmRegisterSapHandler = Some(cm_reg_sap);
        cm.CmDeregisterSapHandler = Some(cm_dereg_sap);
        cm.CmMakeCallHandler = Some(cm_make_call);
        cm.CmCloseCallHandler = Some(cm_close_call);
        cm.CmIncomingCallCompleteHandler = Some(cm_incoming_complete);
        cm.CmAddPartyHandler = Some(cm_add_party);
        cm.CmDropPartyHandler = Some(cm_drop_party);
        cm.CmOidRequestHandler = Some(cm_oid);
        cm.CmNotifyCloseAfCompleteHandler = Some(cm_notify_close_af_complete);
        // SAFETY: the driver handle NDIS passed to this MiniportSetOptions.
        unsafe { ndis_fixture::set_co_and_cm_handlers(handle, co, cm) }
    }
}

ndis_fn! {
    unsafe fn initialize(handle: NDIS_HANDLE, _d: NDIS_HANDLE, _p: PNDIS_MINIPORT_INIT_PARAMETERS) -> NDIS_STATUS {
        STATE.with(|s| s.borrow_mut().adapter = handle as usize);
        // The fixture needs no adapter memory: its context is a constant.
        let mut reg = ndis_fixture::registration_attributes(0xADA as NDIS_HANDLE, 0);
        // SAFETY: block alive across the call.
        let s1 = unsafe { NdisMSetMiniportAttributes(handle, (&raw mut reg).cast()) };
        // SAFETY: an all-zero general-attributes block is valid plain data.
        let mut general: NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES = unsafe { core::mem::zeroed() };
        general.Header = NDIS_OBJECT_HEADER::new(NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES, 2, NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2);
        general.MediaType = NdisMediumCoWan;
        general.MtuSize = 1500;
        // SAFETY: block alive across the call.
        let s2 = unsafe { NdisMSetMiniportAttributes(handle, (&raw mut general).cast()) };
        let mut af = AF;
        // SAFETY: block alive across the call.
        let s3 = unsafe { NdisMCmRegisterAddressFamilyEx(handle, &raw mut af) };
        let mut pool = NET_BUFFER_LIST_POOL_PARAMETERS {
            Header: NDIS_OBJECT_HEADER::new(NDIS_OBJECT_TYPE_DEFAULT, NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1, NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1),
            ProtocolId: NDIS_PROTOCOL_ID_DEFAULT,
            fAllocateNetBuffer: TRUE,
            ContextSize: 0,
            PoolTag: pool_tag(b"Fixd"),
            DataSize: 0,
        };
        // SAFETY: the miniport handle; parameters alive across the call.
        let p = unsafe { NdisAllocateNetBufferListPool(handle, &raw mut pool) };
        STATE.with(|s| s.borrow_mut().pool = p as usize);
        let mut event = Box::new(NDIS_EVENT::zeroed());
        // SAFETY: boxed storage, kept in STATE (it never moves) until unload.
        unsafe { NdisInitializeEvent(&raw mut *event) };
        STATE.with(|s| s.borrow_mut().halt_event = Some(event));
        [s1, s2, s3].into_iter().find(|s| *s != NDIS_STATUS_SUCCESS).unwrap_or(NDIS_STATUS_SUCCESS)
    }
}

ndis_fn! {
    unsafe fn halt(_c: NDIS_HANDLE, _a: NDIS_HALT_ACTION) {
        let pool = STATE.with(|s| core::mem::take(&mut s.borrow_mut().pool));
        if pool != 0 {
            // SAFETY: the pool from initialize; every NBL of it is back.
            unsafe { NdisFreeNetBufferListPool(pool as NDIS_HANDLE) };
        }
        if fault() == Fault::HaltWithoutNotifyClose {
            return;
        }
        let afs = STATE.with(|s| s.borrow().afs.clone());
        // Halt's own count keeps the event clear until every AF is notified.
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            s.halting = true;
            s.notifying = 1;
        });
        for af in afs {
            STATE.with(|s| s.borrow_mut().notifying += 1);
            let mut lock = NDIS_SPIN_LOCK::default();
            let under_lock = fault() == Fault::NotifyCloseUnderSpinLock;
            if under_lock {
                // SAFETY: a fresh lock on this stack frame.
                unsafe { NdisAllocateSpinLock(&raw mut lock) };
                // SAFETY: the lock just initialized, free; released below.
                unsafe { NdisAcquireSpinLock(&raw mut lock) };
            }
            // SAFETY: an AF handle NDIS gave this MCM; PASSIVE_LEVEL unless
            // the fault holds a spin lock.
            let status = unsafe { NdisMCmNotifyCloseAddressFamily(af as NDIS_HANDLE) };
            if under_lock {
                // SAFETY: the lock taken above, on this CPU.
                unsafe { NdisReleaseSpinLock(&raw mut lock) };
            }
            if status != NDIS_STATUS_PENDING {
                notification_done();
            }
        }
        wait_for_notifications();
        extra_waits();
    }
}

ndis_fn! {
    unsafe fn unload(_o: PDRIVER_OBJECT) {
        let d = STATE.with(|s| s.borrow().driver);
        // SAFETY: the registration handle.
        unsafe { NdisMDeregisterMiniportDriver(d as NDIS_HANDLE) };
    }
}

// --- The call manager ---------------------------------------------------------

ndis_fn! {
    unsafe fn cm_open_af(_b: NDIS_HANDLE, _af: PCO_ADDRESS_FAMILY, h: NDIS_HANDLE, ctx: PNDIS_HANDLE) -> NDIS_STATUS {
        STATE.with(|s| s.borrow_mut().afs.push(h as usize));
        if fault() == Fault::PendAfRequests {
            STATE.with(|s| s.borrow_mut().pending_af.push((h as usize, true)));
            return NDIS_STATUS_PENDING;
        }
        // SAFETY: NDIS's out slot. The AF context is the AF handle itself.
        unsafe { ctx.write(h) };
        NDIS_STATUS_SUCCESS
    }

    unsafe fn cm_close_af(ctx: NDIS_HANDLE) -> NDIS_STATUS {
        if fault() == Fault::PendAfRequests {
            STATE.with(|s| {
                let mut s = s.borrow_mut();
                s.afs.retain(|a| *a != ctx as usize);
                s.pending_af.push((ctx as usize, false));
            });
            return NDIS_STATUS_PENDING;
        }
        let pend = STATE.with(|s| {
            let mut s = s.borrow_mut();
            s.afs.retain(|a| *a != ctx as usize);
            let has_saps = s.saps.iter().any(|x| x.1 == ctx as usize);
            let pend = fault() == Fault::HaltWithoutWaitingForAPendedAfClose && has_saps;
            if pend {
                s.closing.push(ctx as usize);
            }
            pend
        });
        if pend { NDIS_STATUS_PENDING } else { NDIS_STATUS_SUCCESS }
    }

    unsafe fn cm_close_af_then_ask(ctx: NDIS_HANDLE) -> NDIS_STATUS {
        STATE.with(|s| s.borrow_mut().afs.retain(|a| *a != ctx as usize));
        // SAFETY: an all-zero request is plain data; header set below.
        let mut req: NDIS_OID_REQUEST = unsafe { core::mem::zeroed() };
        req.Header = NDIS_OBJECT_HEADER::new(NDIS_OBJECT_TYPE_OID_REQUEST, 1, NDIS_SIZEOF_OID_REQUEST_REVISION_1);
        // SAFETY: the AF handle NDIS gave; asking on it while it closes is the fault.
        let _ = unsafe { NdisMCmOidRequest(ctx, null_mut(), null_mut(), &raw mut req) };
        NDIS_STATUS_SUCCESS
    }

    unsafe fn cm_reg_sap(af: NDIS_HANDLE, sap: PCO_SAP, h: NDIS_HANDLE, ctx: PNDIS_HANDLE) -> NDIS_STATUS {
        // SAFETY: NDIS's CO_SAP with SapLength bytes.
        let len = unsafe { (*sap).SapLength } as usize;
        let tail = sap.cast::<u8>().wrapping_add(core::mem::offset_of!(CO_SAP, Sap));
        // SAFETY: NDIS's CO_SAP holds SapLength bytes after its header.
        let bytes = unsafe { core::slice::from_raw_parts(tail, len) }.to_vec();
        STATE.with(|s| s.borrow_mut().saps.push((h as usize, af as usize, bytes)));
        // SAFETY: NDIS's out slot; the SAP context is the SAP handle.
        unsafe { ctx.write(h) };
        NDIS_STATUS_SUCCESS
    }

    unsafe fn cm_dereg_sap(ctx: NDIS_HANDLE) -> NDIS_STATUS {
        if fault() == Fault::DispatchOnDeregisteringSap {
            STATE.with(|s| s.borrow_mut().deregistering = Some(ctx as usize));
            return NDIS_STATUS_PENDING;
        }
        let done: Vec<usize> = STATE.with(|s| {
            let mut s = s.borrow_mut();
            if fault() != Fault::DispatchOnDeregisteredSap {
                s.saps.retain(|x| x.0 != ctx as usize);
            }
            let saps = core::mem::take(&mut s.saps);
            let (done, still): (Vec<usize>, Vec<usize>) =
                s.closing.iter().partition(|af| !saps.iter().any(|x| x.1 == **af));
            s.saps = saps;
            s.closing = still;
            done
        });
        for af in done {
            // SAFETY: an AF whose close this MCM pended, now without SAPs.
            unsafe { NdisMCmCloseAddressFamilyComplete(NDIS_STATUS_SUCCESS, af as NDIS_HANDLE) };
        }
        NDIS_STATUS_SUCCESS
    }

    unsafe fn cm_create_vc(_af: NDIS_HANDLE, h: NDIS_HANDLE, ctx: PNDIS_HANDLE) -> NDIS_STATUS {
        let index = STATE.with(|s| {
            let mut s = s.borrow_mut();
            s.vcs.push(Vc { handle: h as usize, peer: 0, mcm_created: false });
            s.vcs.len()
        });
        // SAFETY: NDIS's out slot.
        unsafe { ctx.write(index as NDIS_HANDLE) };
        if fault() == Fault::PendCreateVc { NDIS_STATUS_PENDING } else { NDIS_STATUS_SUCCESS }
    }

    unsafe fn cm_delete_vc(ctx: NDIS_HANDLE) -> NDIS_STATUS {
        if fault() == Fault::IncomingCloseOnIdleVc {
            // SAFETY: the VC handle NDIS gave; the bug is that it carries no call.
            unsafe { NdisMCmDispatchIncomingCloseCall(NDIS_STATUS_SUCCESS, vc_handle(ctx) as NDIS_HANDLE, null_mut(), 0) };
        }
        NDIS_STATUS_SUCCESS
    }

    unsafe fn cm_make_call(ctx: NDIS_HANDLE, cp: PCO_CALL_PARAMETERS, party: NDIS_HANDLE, party_ctx: PNDIS_HANDLE) -> NDIS_STATUS {
        let vc = vc_handle(ctx);
        if !party.is_null() {
            // A multipoint call: the party context is the party handle. The
            // fixture's fabric has no leaves, so the call just comes up.
            // SAFETY: NDIS's out slot.
            unsafe { party_ctx.write(party) };
            let mut own = media_params();
            // SAFETY: NDIS's VC handle; parameters alive across the call.
            unsafe { NdisMCmActivateVc(vc as NDIS_HANDLE, own.as_mut_ptr()) };
            if fault() == Fault::IncomingDropOfLastParty {
                // SAFETY: NDIS's party handle; dropping the only party this way is the bug.
                unsafe { NdisMCmDispatchIncomingDropParty(NDIS_STATUS_SUCCESS, party, null_mut(), 0) };
            }
            return NDIS_STATUS_SUCCESS;
        }
        if fault() == Fault::PartyContextOnPointToPoint {
            // SAFETY: NDIS's out slot; writing it for a point-to-point call is the bug.
            unsafe { party_ctx.write(0x77 as NDIS_HANDLE) };
        }
        if fault() == Fault::PendMakeCall || fault() == Fault::CompleteWithPending {
            STATE.with(|s| s.borrow_mut().pending_make_call = Some(vc));
            if fault() == Fault::CompleteWithPending {
                // SAFETY: completing the pended request, with the forbidden status.
                unsafe { NdisMCmMakeCallComplete(NDIS_STATUS_PENDING, vc as NDIS_HANDLE, null_mut(), null_mut(), cp) };
            }
            return NDIS_STATUS_PENDING;
        }
        if fault() == Fault::SucceedWithoutActivation {
            return NDIS_STATUS_SUCCESS;
        }
        let mut own = media_params();
        // SAFETY: NDIS's VC handle; parameters alive across the call.
        let activated = unsafe { NdisMCmActivateVc(vc as NDIS_HANDLE, own.as_mut_ptr()) };
        if activated != NDIS_STATUS_SUCCESS {
            return NDIS_STATUS_FAILURE;
        }
        if fault() == Fault::FailActivated {
            return NDIS_STATUS_FAILURE;
        }
        if fault() == Fault::CompleteSynchronousCall {
            // SAFETY: completing a request this handler is about to complete by
            // returning SUCCESS: the double completion is the bug.
            unsafe { NdisMCmMakeCallComplete(NDIS_STATUS_SUCCESS, vc as NDIS_HANDLE, null_mut(), null_mut(), cp) };
            return NDIS_STATUS_SUCCESS;
        }
        // Loopback: a SAP whose bytes equal the called address gets an incoming call.
        // SAFETY: NDIS's parameters.
        let called = unsafe { called_address(cp) };
        let target = STATE.with(|s| s.borrow().saps.iter().find(|x| x.2 == called).map(|x| (x.0, x.1)));
        if let Some((sap, af)) = target {
            let af = if fault() == Fault::CreateVcOnNullAf { 0 } else { af };
            let adapter = STATE.with(|s| s.borrow().adapter);
            let index = STATE.with(|s| {
                let mut s = s.borrow_mut();
                s.vcs.push(Vc { handle: 0, peer: ctx as usize, mcm_created: true });
                s.vcs.len()
            });
            let mut callee: NDIS_HANDLE = if fault() == Fault::CreateVcOutNotNull { 0x99 as NDIS_HANDLE } else { null_mut() };
            // SAFETY: adapter and AF handles NDIS gave; out slot alive.
            let created = unsafe { NdisMCmCreateVc(adapter as NDIS_HANDLE, af as NDIS_HANDLE, index as NDIS_HANDLE, &raw mut callee) };
            if created != NDIS_STATUS_SUCCESS {
                // SAFETY: undo the caller's activation before failing (seed page).
                unsafe { NdisMCmDeactivateVc(vc as NDIS_HANDLE) };
                return NDIS_STATUS_DEST_OUT_OF_ORDER;
            }
            STATE.with(|s| {
                let mut s = s.borrow_mut();
                if let Some(v) = s.vcs.get_mut(index - 1) {
                    v.handle = callee as usize;
                }
                if let Some(v) = s.vcs.get_mut(ctx as usize - 1) {
                    v.peer = index;
                }
            });
            if fault() != Fault::DispatchOnInactiveVc {
                let mut p = media_params();
                // SAFETY: the VC just created; parameters alive across the call.
                unsafe { NdisMCmActivateVc(callee, p.as_mut_ptr()) };
            }
            // SAFETY: NDIS's SAP handle and the new VC; NDIS's parameters.
            let offered = unsafe { NdisMCmDispatchIncomingCall(sap as NDIS_HANDLE, callee, cp) };
            indicate_link_up(vc);
            if offered != NDIS_STATUS_PENDING {
                // NDIS refused the offer: take the callee's VC down again.
                drop_callee(index);
            }
        }
        NDIS_STATUS_SUCCESS
    }

    unsafe fn cm_close_call(ctx: NDIS_HANDLE, _party: NDIS_HANDLE, _d: PVOID, _s: UINT) -> NDIS_STATUS {
        let me = STATE.with(|s| s.borrow().vcs.get(ctx as usize - 1).copied()).unwrap_or_default();
        if fault() == Fault::PendClientCloseCall && !me.mcm_created {
            // The peer link stays: the peer's own close will tell this VC.
            STATE.with(|s| s.borrow_mut().pending_close = Some(me.handle));
            return NDIS_STATUS_PENDING;
        }
        if fault() != Fault::CloseWithoutDeactivation {
            // SAFETY: NDIS's VC handle.
            unsafe { NdisMCmDeactivateVc(me.handle as NDIS_HANDLE) };
        }
        if fault() == Fault::DeleteClientVc && !me.mcm_created {
            // SAFETY: NDIS's VC handle; deleting a client's VC is the bug.
            let _ = unsafe { NdisMCmDeleteVc(me.handle as NDIS_HANDLE) };
        }
        // The peer learns of the close.
        let peer = STATE.with(|s| s.borrow().vcs.get(me.peer.wrapping_sub(1)).copied());
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            if let Some(v) = s.vcs.get_mut(ctx as usize - 1) {
                v.peer = 0;
            }
            if let Some(v) = s.vcs.get_mut(me.peer.wrapping_sub(1)) {
                v.peer = 0;
            }
        });
        if let Some(peer) = peer.filter(|p| p.peer == ctx as usize) {
            // SAFETY: the peer's NDIS VC handle, which carries the call.
            unsafe { NdisMCmDispatchIncomingCloseCall(NDIS_STATUS_SUCCESS, peer.handle as NDIS_HANDLE, null_mut(), 0) };
        }
        if me.mcm_created {
            // An MCM-created VC is deleted after its close completes (seed
            // page): complete inside the handler, delete, return PENDING.
            // SAFETY: completing this handler's own request, then deleting the VC.
            unsafe { NdisMCmCloseCallComplete(NDIS_STATUS_SUCCESS, me.handle as NDIS_HANDLE, null_mut()) };
            // SAFETY: the MCM's own, deactivated VC.
            let _ = unsafe { NdisMCmDeleteVc(me.handle as NDIS_HANDLE) };
            return NDIS_STATUS_PENDING;
        }
        NDIS_STATUS_SUCCESS
    }

    unsafe fn cm_incoming_complete(status: NDIS_STATUS, ctx: NDIS_HANDLE, _cp: PCO_CALL_PARAMETERS) {
        let vc = vc_handle(ctx);
        if status == NDIS_STATUS_SUCCESS || fault() == Fault::ConnectRejectedCall {
            // SAFETY: NDIS's VC handle (connecting a rejected call is the fault).
            unsafe { NdisMCmDispatchCallConnected(vc as NDIS_HANDLE) };
        }
        if status != NDIS_STATUS_SUCCESS {
            drop_callee(ctx as usize);
        }
    }

    unsafe fn cm_add_party(_v: NDIS_HANDLE, _p: PCO_CALL_PARAMETERS, ph: NDIS_HANDLE, pc: PNDIS_HANDLE) -> NDIS_STATUS {
        // SAFETY: NDIS's out slot; the party context is the party handle.
        unsafe { pc.write(ph) };
        NDIS_STATUS_SUCCESS
    }
    unsafe fn cm_drop_party(_p: NDIS_HANDLE, _d: PVOID, _s: UINT) -> NDIS_STATUS { NDIS_STATUS_SUCCESS }
    unsafe fn cm_oid(_a: NDIS_HANDLE, _v: NDIS_HANDLE, _p: NDIS_HANDLE, r: PNDIS_OID_REQUEST) -> NDIS_STATUS {
        if matches!(fault(), Fault::PendCmOid | Fault::CompleteCmOidAsMiniport | Fault::CompleteCmOidTwice) {
            STATE.with(|s| s.borrow_mut().pending_oid = Some(r as usize));
            return NDIS_STATUS_PENDING;
        }
        NDIS_STATUS_INVALID_OID
    }
    unsafe fn cm_notify_close_af_complete(_a: NDIS_HANDLE, _s: NDIS_STATUS) {
        notification_done();
    }

    unsafe fn ok_pause(_c: NDIS_HANDLE, _p: PNDIS_MINIPORT_PAUSE_PARAMETERS) -> NDIS_STATUS {
        // A pausing miniport completes the sends it holds (MiniportPause).
        let held = STATE.with(|s| std::mem::take(&mut s.borrow_mut().held_sends));
        for (vc, nbl) in held {
            finish_send(vc, nbl as PNET_BUFFER_LIST, NDIS_STATUS_PAUSED);
        }
        let out = STATE.with(|s| {
            let mut s = s.borrow_mut();
            s.paused = true;
            !s.lent.is_empty()
        });
        match fault() {
            Fault::FailPause => return NDIS_STATUS_FAILURE,
            Fault::CompletePauseSynchronously => {
                let adapter = STATE.with(|s| s.borrow().adapter);
                // SAFETY: the adapter's handle; completing a pause this
                // handler completes by returning SUCCESS is the bug.
                unsafe { NdisMPauseComplete(adapter as NDIS_HANDLE) };
                return NDIS_STATUS_SUCCESS;
            }
            Fault::PauseWithReceivesOut => return NDIS_STATUS_SUCCESS,
            _ => {}
        }
        if out {
            STATE.with(|s| s.borrow_mut().pause_pending = true);
            return NDIS_STATUS_PENDING;
        }
        NDIS_STATUS_SUCCESS
    }
    unsafe fn ok_restart(_c: NDIS_HANDLE, _p: PNDIS_MINIPORT_RESTART_PARAMETERS) -> NDIS_STATUS {
        STATE.with(|s| s.borrow_mut().paused = false);
        NDIS_STATUS_SUCCESS
    }
    unsafe fn return_nbls(_c: NDIS_HANDLE, nbls: PNET_BUFFER_LIST, _f: ULONG) {
        let mut rx = nbls;
        while !rx.is_null() {
            // SAFETY: a receive NBL of this driver, handed back by NDIS.
            let next = unsafe { (*rx).Next };
            let lent = STATE.with(|s| {
                let mut s = s.borrow_mut();
                let i = s.lent.iter().position(|l| l.0 == rx as usize)?;
                Some(s.lent.remove(i))
            });
            // SAFETY: the driver's own NBL, back from NDIS.
            unsafe { NdisFreeNetBufferList(rx) };
            if let Some((_, sender, send)) = lent {
                finish_send(sender, send as PNET_BUFFER_LIST, NDIS_STATUS_SUCCESS);
            }
            rx = next;
        }
        let (complete, adapter) = STATE.with(|s| {
            let mut s = s.borrow_mut();
            let complete = s.pause_pending && s.lent.is_empty();
            if complete {
                s.pause_pending = false;
            }
            (complete, s.adapter)
        });
        if complete {
            // SAFETY: the adapter's handle; the pause returned PENDING and
            // this is its one completion, with every receive back.
            unsafe { NdisMPauseComplete(adapter as NDIS_HANDLE) };
        }
    }
    unsafe fn co_send(ctx: NDIS_HANDLE, nbls: PNET_BUFFER_LIST, _f: ULONG) {
        let me = STATE.with(|s| s.borrow().vcs.get((ctx as usize).wrapping_sub(1)).copied()).unwrap_or_default();
        let peer = STATE.with(|s| s.borrow().vcs.get(me.peer.wrapping_sub(1)).copied());
        let mut nbl = nbls;
        while !nbl.is_null() {
            // SAFETY: an NBL of the chain NDIS gave; ours until completed.
            let next = unsafe { (*nbl).Next };
            // SAFETY: `nbl` is the same non-null NBL of NDIS's chain, ours
            // until completed: unlink it so it completes alone.
            unsafe { (*nbl).Next = null_mut() };
            match peer.filter(|p| p.peer == ctx as usize) {
                _ if fault() == Fault::HoldSendsAndClose => {
                    STATE.with(|s| s.borrow_mut().held_sends.push((me.handle, nbl as usize)));
                }
                _ if STATE.with(|s| s.borrow().paused) && fault() != Fault::IndicateWhilePaused => {
                    finish_send(me.handle, nbl, NDIS_STATUS_PAUSED);
                }
                Some(p) => forward(me.handle, p.handle, nbl),
                None => finish_send(me.handle, nbl, NDIS_STATUS_VC_NOT_ACTIVATED),
            }
            nbl = next;
        }
    }
    unsafe fn co_oid(_c: NDIS_HANDLE, _v: NDIS_HANDLE, r: PNDIS_OID_REQUEST) -> NDIS_STATUS {
        // The fixture answers one OID: OID_GEN_CO_VENDOR_ID, 4 bytes.
        // The query information, found by offset (no dereference).
        let q = r.cast::<u8>().wrapping_add(core::mem::offset_of!(NDIS_OID_REQUEST, DATA)).cast::<NDIS_OID_REQUEST_QUERY_INFORMATION>();
        // SAFETY: NDIS's request, a query (QUERY_INFORMATION in use), ours for
        // the duration of the call.
        let q = unsafe { &mut *q };
        if q.Oid != OID_GEN_CO_VENDOR_ID {
            return NDIS_STATUS_INVALID_OID;
        }
        if q.InformationBufferLength < 4 {
            q.BytesNeeded = if fault() == Fault::TooShortNeedingItsOwnLength { q.InformationBufferLength } else { 4 };
            return NDIS_STATUS_BUFFER_TOO_SHORT;
        }
        if q.InformationBufferLength > 4 {
            match fault() {
                Fault::InvalidLengthNeedingItsOwnLength => {
                    q.BytesNeeded = q.InformationBufferLength;
                    return NDIS_STATUS_INVALID_LENGTH;
                }
                Fault::InvalidLengthNeedingTheStructure => {
                    q.BytesNeeded = 4;
                    return NDIS_STATUS_INVALID_LENGTH;
                }
                _ => {}
            }
        }
        // SAFETY: the buffer holds at least 4 bytes (checked).
        unsafe { q.InformationBuffer.cast::<u32>().write_unaligned(0x00C0_FFEE) };
        q.BytesWritten = if fault() == Fault::OverstateBytesWritten { q.InformationBufferLength + 4 } else { 4 };
        NDIS_STATUS_SUCCESS
    }
}

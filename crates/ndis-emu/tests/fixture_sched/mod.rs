//! A small CoNDIS MCM that uses NDIS I/O work items and timer objects, to
//! test ndis-emu's scheduler and fault injection. Well-behaved by default:
//! MiniportInitializeEx allocates a work item and a one-shot timer with the
//! adapter handle, queues the one and sets the other (10 ms), and
//! MiniportHaltEx cancels and frees both; on any allocation failure it
//! unwinds what it allocated and returns NDIS_STATUS_RESOURCES. Each
//! [`Mode`] changes one thing, legal or deliberately wrong.
//!
//! It shares no code with covmini or with the lifecycle fixture
//! (`tests/fixture`), so a rule that fires here fires because of the mode.
//! The handlers read the mode from a thread-local: the emulator runs the
//! driver, its work items and its timer callbacks on the test's thread.
#![allow(dead_code, unsafe_code)]

use std::cell::{Cell, RefCell};
use std::ptr::{null_mut, without_provenance_mut};

use ndis_emu::{EmuError, Emulator, Report};
use ndis_sys::*;

/// What the fixture does differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Well-behaved: one work item, one 10 ms one-shot timer.
    None,
    /// Four work items and three timers due at the same time (ordering).
    Race,
    /// The timer is periodic (10 ms); HaltEx cancels it at PASSIVE_LEVEL.
    Periodic,
    /// The timer is due at an absolute system time: start + 5 ms.
    AbsoluteDue,
    /// The work item's routine frees its own work item (legal).
    WorkItemFreesItself,
    /// The work item's routine queues its work item once more (legal).
    WorkItemRequeuesItself,
    /// DriverEntry also sets a 5 ms timer allocated with the driver handle;
    /// MiniportDriverUnload cancels and frees it.
    DriverTimer,
    /// InitializeEx first allocates a scratch block with
    /// NdisAllocateMemoryWithTagPriority (freed in HaltEx).
    ScratchMemory,
    /// On an allocation failure InitializeEx returns RESOURCES without
    /// freeing what it had allocated.
    NoUnwindOnFailure,
    // --- Wrong, one rule each -----------------------------------------------
    /// The timer characteristics have no TimerFunction.
    NullTimerFunction,
    /// InitializeEx queues its work item twice.
    QueuedTwice,
    /// HaltEx frees the timer without cancelling it.
    TimerFreedWithoutCancel,
    /// The periodic timer's callback cancels its own timer (at DISPATCH_LEVEL).
    PeriodicCancelInCallback,
    /// HaltEx cancels the timer but never frees it.
    TimerKeptPastHalt,
    /// HaltEx never frees the work item.
    WorkItemKeptPastHalt,
    /// Unload never frees the driver-handle timer of [`Mode::DriverTimer`].
    DriverTimerKeptPastUnload,
    /// HaltEx cancels the timer again after freeing it.
    TimerUsedAfterFree,
}

/// What a run produced.
pub struct Outcome {
    /// The emulator's report (after unload and the leak checks).
    pub report: Report,
    /// What `add_adapter` returned.
    pub init: Result<(), EmuError>,
    /// Routines and callbacks as the driver saw them run, in order: `w<ctx>`
    /// for a work item, `t<ctx>` for a timer.
    pub ran: Vec<String>,
}

thread_local! {
    static MODE: Cell<Mode> = const { Cell::new(Mode::None) };
    static DRIVER: Cell<NDIS_HANDLE> = const { Cell::new(null_mut()) };
    static ADAPTER: Cell<NDIS_HANDLE> = const { Cell::new(null_mut()) };
    static WORK: RefCell<Vec<NDIS_HANDLE>> = const { RefCell::new(Vec::new()) };
    static TIMERS: RefCell<Vec<NDIS_HANDLE>> = const { RefCell::new(Vec::new()) };
    static DRIVER_TIMER: Cell<NDIS_HANDLE> = const { Cell::new(null_mut()) };
    static SCRATCH: Cell<PVOID> = const { Cell::new(null_mut()) };
    static START: Cell<i64> = const { Cell::new(0) };
    static RAN: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn mode() -> Mode {
    MODE.with(Cell::get)
}

const TAG: ULONG = pool_tag(b"FxSc");
const MS: i64 = 10_000;
const AF: CO_ADDRESS_FAMILY = CO_ADDRESS_FAMILY {
    AddressFamily: 0xF2F2,
    MajorVersion: 1,
    MinorVersion: 0,
};

/// The adapter context: NDIS never dereferences it, so a static will do,
/// and it keeps heap addresses out of the trace (determinism tests compare
/// traces of separate runs).
static ADAPTER_CONTEXT: u64 = 0x5C4E_D000;

/// Loads the fixture in `mode` with seed 0, adds the adapter, runs the
/// scheduler until idle, halts, unloads.
pub fn run(mode: Mode) -> Report {
    run_with(
        mode,
        0,
        |_| {},
        |emu| {
            emu.run_until_idle().expect("deferred work goes idle");
        },
    )
    .report
}

/// Like [`run`], with a seed, `setup` before DriverEntry (fault injection)
/// and `middle` between a successful add_adapter and the halt (instead of
/// run_until_idle).
pub fn run_with(
    mode: Mode,
    seed: u64,
    setup: impl FnOnce(&mut Emulator),
    middle: impl FnOnce(&mut Emulator),
) -> Outcome {
    MODE.with(|m| m.set(mode));
    DRIVER.with(|d| d.set(null_mut()));
    ADAPTER.with(|a| a.set(null_mut()));
    WORK.with(|w| w.borrow_mut().clear());
    TIMERS.with(|t| t.borrow_mut().clear());
    DRIVER_TIMER.with(|t| t.set(null_mut()));
    SCRATCH.with(|s| s.set(null_mut()));
    RAN.with(|r| r.borrow_mut().clear());
    let mut emu = Emulator::with_seed(seed);
    START.with(|s| s.set(emu.system_time()));
    setup(&mut emu);
    let init = match emu.load(driver_entry) {
        Ok(()) => emu.add_adapter(),
        Err(e) => Err(e),
    };
    if init.is_ok() {
        middle(&mut emu);
        emu.halt_adapter().expect("halt");
    }
    if !DRIVER.with(Cell::get).is_null() {
        emu.unload().expect("unload");
    }
    Outcome {
        report: emu.finish(),
        init,
        ran: RAN.with(|r| r.take()),
    }
}

ndis_fn! {
    unsafe fn driver_entry(object: PDRIVER_OBJECT, path: PUNICODE_STRING) -> NTSTATUS {
        let mut c = NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS,
                NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
                NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
            ),
            MajorNdisVersion: 6,
            MinorNdisVersion: 30,
            SetOptionsHandler: Some(set_options),
            InitializeHandlerEx: Some(initialize),
            HaltHandlerEx: Some(halt),
            UnloadHandler: Some(unload),
            PauseHandler: Some(pause),
            RestartHandler: Some(restart),
            SendNetBufferListsHandler: Some(send),
            ReturnNetBufferListsHandler: Some(return_nbls),
            CancelSendHandler: Some(cancel_send),
            DevicePnPEventNotifyHandler: Some(pnp),
            ShutdownHandlerEx: Some(shutdown),
            CancelOidRequestHandler: Some(cancel_oid),
            ..Default::default()
        };
        let mut handle = null_mut();
        // SAFETY: characteristics and handle slot live across the call.
        let status = unsafe { NdisMRegisterMiniportDriver(object, path, null_mut(), &raw mut c, &raw mut handle) };
        if status != NDIS_STATUS_SUCCESS {
            return status;
        }
        DRIVER.with(|d| d.set(handle));
        if matches!(mode(), Mode::DriverTimer | Mode::DriverTimerKeptPastUnload) {
            let mut chars = timer_chars(9);
            let mut t = null_mut();
            // SAFETY: the driver handle NDIS returned; block and slot live across the call.
            let s = unsafe { NdisAllocateTimerObject(handle, &raw mut chars, &raw mut t) };
            if s == NDIS_STATUS_SUCCESS {
                DRIVER_TIMER.with(|d| d.set(t));
                // SAFETY: the timer just allocated.
                let _ = unsafe { NdisSetTimerObject(t, -5 * MS, 0, null_mut()) };
            }
        }
        status
    }
}

fn co_block() -> NDIS_MINIPORT_CO_CHARACTERISTICS {
    NDIS_MINIPORT_CO_CHARACTERISTICS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_CO_MINIPORT_CHARACTERISTICS,
            1,
            NDIS_SIZEOF_MINIPORT_CO_CHARACTERISTICS_REVISION_1,
        ),
        CoActivateVcHandler: Some(co_activate),
        CoDeactivateVcHandler: Some(co_deactivate),
        CoSendNetBufferListsHandler: Some(co_send),
        CoOidRequestHandler: Some(co_oid),
        ..Default::default()
    }
}

fn cm_block() -> NDIS_CO_CALL_MANAGER_OPTIONAL_HANDLERS {
    NDIS_CO_CALL_MANAGER_OPTIONAL_HANDLERS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_CO_CALL_MANAGER_OPTIONAL_HANDLERS,
            1,
            NDIS_SIZEOF_CO_CALL_MANAGER_OPTIONAL_HANDLERS_REVISION_1,
        ),
        Reserved: 0,
        CmCreateVcHandler: Some(cm_create_vc),
        CmDeleteVcHandler: Some(cm_delete_vc),
        CmOpenAfHandler: Some(cm_open_af),
        CmCloseAfHandler: Some(cm_close_af),
        CmRegisterSapHandler: Some(cm_reg_sap),
        CmDeregisterSapHandler: Some(cm_dereg_sap),
        CmMakeCallHandler: Some(cm_make_call),
        CmCloseCallHandler: Some(cm_close_call),
        CmIncomingCallCompleteHandler: Some(cm_incoming_complete),
        CmAddPartyHandler: Some(cm_add_party),
        CmDropPartyHandler: Some(cm_drop_party),
        CmActivateVcCompleteHandler: Some(cm_activate_complete),
        CmDeactivateVcCompleteHandler: Some(cm_deactivate_complete),
        CmModifyCallQoSHandler: Some(cm_modify_qos),
        CmOidRequestHandler: Some(cm_oid),
        CmOidRequestCompleteHandler: Some(cm_oid_complete),
        CmNotifyCloseAfCompleteHandler: Some(cm_notify_close_af_complete),
    }
}

ndis_fn! {
    unsafe fn set_options(handle: NDIS_HANDLE, _ctx: NDIS_HANDLE) -> NDIS_STATUS {
        let mut co = co_block();
        // SAFETY: header-first block, alive for the call.
        let status = unsafe { NdisSetOptionalHandlers(handle, (&raw mut co).cast()) };
        if status != NDIS_STATUS_SUCCESS {
            return status;
        }
        let mut cm = cm_block();
        // SAFETY: as above.
        unsafe { NdisSetOptionalHandlers(handle, (&raw mut cm).cast()) }
    }
}

/// The timer characteristics of timer `i` (context 101 + i).
fn timer_chars(i: usize) -> NDIS_TIMER_CHARACTERISTICS {
    NDIS_TIMER_CHARACTERISTICS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS,
            NDIS_TIMER_CHARACTERISTICS_REVISION_1,
            NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1,
        ),
        AllocationTag: TAG,
        TimerFunction: if mode() == Mode::NullTimerFunction {
            None
        } else {
            Some(timer_fn)
        },
        FunctionContext: without_provenance_mut(101 + i),
    }
}

ndis_fn! {
    unsafe fn initialize(handle: NDIS_HANDLE, _d: NDIS_HANDLE, _p: PNDIS_MINIPORT_INIT_PARAMETERS) -> NDIS_STATUS {
        ADAPTER.with(|a| a.set(handle));
        if mode() == Mode::ScratchMemory {
            // SAFETY: the miniport handle NDIS just passed; PASSIVE_LEVEL.
            let p = unsafe { NdisAllocateMemoryWithTagPriority(handle, 64, TAG, NormalPoolPriority) };
            if p.is_null() {
                return NDIS_STATUS_RESOURCES;
            }
            SCRATCH.with(|s| s.set(p));
        }
        let mut reg = registration();
        let mut general = general();
        // SAFETY: header-first blocks alive for the calls.
        let s1 = unsafe { NdisMSetMiniportAttributes(handle, (&raw mut reg).cast()) };
        // SAFETY: as above.
        let s2 = unsafe { NdisMSetMiniportAttributes(handle, (&raw mut general).cast()) };
        let mut af = AF;
        // SAFETY: the AF block lives across the call.
        let s3 = unsafe { NdisMCmRegisterAddressFamilyEx(handle, &raw mut af) };
        if let Some(&s) = [s1, s2, s3].iter().find(|s| **s != NDIS_STATUS_SUCCESS) {
            cleanup();
            return s;
        }
        let (work_items, timers) = if mode() == Mode::Race { (4, 3) } else { (1, 1) };
        for _ in 0..work_items {
            // SAFETY: the adapter handle; <= DISPATCH_LEVEL.
            let w = unsafe { NdisAllocateIoWorkItem(handle) };
            if w.is_null() {
                return fail(NDIS_STATUS_RESOURCES);
            }
            WORK.with(|v| v.borrow_mut().push(w));
        }
        for i in 0..timers {
            let mut chars = timer_chars(i);
            let mut t = null_mut();
            // SAFETY: the adapter handle; block and slot live across the call.
            let s = unsafe { NdisAllocateTimerObject(handle, &raw mut chars, &raw mut t) };
            if s == NDIS_STATUS_SUCCESS {
                TIMERS.with(|v| v.borrow_mut().push(t));
            } else if mode() != Mode::NullTimerFunction {
                return fail(s);
            }
        }
        for (i, w) in WORK.with(|v| v.borrow().clone()).into_iter().enumerate() {
            // SAFETY: a work item of ours, not queued.
            unsafe { NdisQueueIoWorkItem(w, work_routine, without_provenance_mut(1 + i)) };
            if mode() == Mode::QueuedTwice {
                // SAFETY: as above; queued already, which is the bug.
                unsafe { NdisQueueIoWorkItem(w, work_routine, without_provenance_mut(1 + i)) };
            }
        }
        let start = START.with(Cell::get);
        for t in TIMERS.with(|v| v.borrow().clone()) {
            let (due, period) = match mode() {
                Mode::Periodic | Mode::PeriodicCancelInCallback => (-10 * MS, 10),
                Mode::AbsoluteDue => (start + 5 * MS, 0),
                _ => (-10 * MS, 0),
            };
            // SAFETY: a timer of ours; a NULL context means the one in its characteristics.
            let _ = unsafe { NdisSetTimerObject(t, due, period, null_mut()) };
        }
        NDIS_STATUS_SUCCESS
    }
}

/// A failed initialization: unwinds (unless the mode forgets) and fails.
fn fail(status: NDIS_STATUS) -> NDIS_STATUS {
    if mode() != Mode::NoUnwindOnFailure {
        cleanup();
    }
    status
}

/// Cancels and frees every timer, frees every work item and the scratch block.
fn cleanup() {
    for t in TIMERS.with(|v| v.borrow_mut().split_off(0)) {
        // SAFETY: a live timer of ours, at PASSIVE_LEVEL.
        let _ = unsafe { NdisCancelTimerObject(t) };
        // SAFETY: cancelled above: not in the timer queue.
        unsafe { NdisFreeTimerObject(t) };
    }
    for w in WORK.with(|v| v.borrow_mut().split_off(0)) {
        // SAFETY: a live work item of ours.
        unsafe { NdisFreeIoWorkItem(w) };
    }
    let p = SCRATCH.with(|s| s.replace(null_mut()));
    if !p.is_null() {
        // SAFETY: allocated in initialize with this handle and tag, freed once.
        unsafe { NdisFreeMemoryWithTagPriority(ADAPTER.with(Cell::get), p, TAG) };
    }
}

ndis_fn! {
    unsafe fn work_routine(ctx: PVOID, item: NDIS_HANDLE) {
        let first = RAN.with(|r| {
            let mut r = r.borrow_mut();
            r.push(format!("w{}", ctx.addr()));
            r.iter().filter(|s| **s == format!("w{}", ctx.addr())).count() == 1
        });
        match mode() {
            Mode::WorkItemFreesItself => {
                WORK.with(|v| v.borrow_mut().retain(|w| *w != item));
                // SAFETY: our work item, dequeued before this routine ran.
                unsafe { NdisFreeIoWorkItem(item) };
            }
            Mode::WorkItemRequeuesItself if first => {
                // SAFETY: our work item, dequeued before this routine ran.
                unsafe { NdisQueueIoWorkItem(item, work_routine, ctx) };
            }
            _ => {}
        }
    }
}

ndis_fn! {
    unsafe fn timer_fn(_s1: PVOID, ctx: PVOID, _s2: PVOID, _s3: PVOID) {
        RAN.with(|r| r.borrow_mut().push(format!("t{}", ctx.addr())));
        if mode() == Mode::PeriodicCancelInCallback {
            let t = TIMERS.with(|v| v.borrow().first().copied()).unwrap_or(null_mut());
            // SAFETY: our live periodic timer; DISPATCH_LEVEL here is the bug.
            let _ = unsafe { NdisCancelTimerObject(t) };
        }
    }
}

fn registration() -> NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES {
    NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES,
            1,
            NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1,
        ),
        MiniportAdapterContext: (&raw const ADAPTER_CONTEXT).cast_mut().cast(),
        AttributeFlags: 0,
        CheckForHangTimeInSeconds: 0,
        InterfaceType: NdisInterfaceInternal,
    }
}

fn general() -> NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES {
    NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES,
            2,
            NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2,
        ),
        Flags: 0,
        MediaType: NdisMediumCoWan,
        PhysicalMediumType: 0,
        MtuSize: 1500,
        MaxXmitLinkSpeed: 1_000_000,
        XmitLinkSpeed: 1_000_000,
        MaxRcvLinkSpeed: 1_000_000,
        RcvLinkSpeed: 1_000_000,
        MediaConnectState: MediaConnectStateConnected,
        MediaDuplexState: MediaDuplexStateFull,
        LookaheadSize: 1500,
        PowerManagementCapabilities: null_mut(),
        MacOptions: 0,
        SupportedPacketFilters: 0,
        MaxMulticastListSize: 0,
        MacAddressLength: 0,
        PermanentMacAddress: [0; 32],
        CurrentMacAddress: [0; 32],
        RecvScaleCapabilities: null_mut(),
        AccessType: NET_IF_ACCESS_POINT_TO_POINT,
        DirectionType: NET_IF_DIRECTION_SENDRECEIVE,
        ConnectionType: NET_IF_CONNECTION_DEDICATED,
        IfType: IF_TYPE_OTHER,
        IfConnectorPresent: FALSE,
        SupportedStatistics: 0,
        SupportedPauseFunctions: 0,
        DataBackFillSize: 0,
        ContextBackFillSize: 0,
        SupportedOidList: null_mut(),
        SupportedOidListLength: 0,
        AutoNegotiationFlags: 0,
        PowerManagementCapabilitiesEx: null_mut(),
    }
}

ndis_fn! {
    unsafe fn halt(_ctx: NDIS_HANDLE, _a: NDIS_HALT_ACTION) {
        match mode() {
            Mode::TimerFreedWithoutCancel => {
                for t in TIMERS.with(|v| v.borrow_mut().split_off(0)) {
                    // SAFETY: a live timer of ours; still queued, which is the bug.
                    unsafe { NdisFreeTimerObject(t) };
                }
            }
            Mode::TimerKeptPastHalt => {
                for t in TIMERS.with(|v| v.borrow_mut().split_off(0)) {
                    // SAFETY: a live timer of ours; never freed, which is the bug.
                    let _ = unsafe { NdisCancelTimerObject(t) };
                }
            }
            Mode::WorkItemKeptPastHalt => {
                WORK.with(|v| v.borrow_mut().clear());
            }
            Mode::TimerUsedAfterFree => {
                let timers = TIMERS.with(|v| v.borrow().clone());
                cleanup();
                for t in timers {
                    // SAFETY: NDIS validates the handle; it is freed, which is the bug.
                    let _ = unsafe { NdisCancelTimerObject(t) };
                }
                return;
            }
            _ => {}
        }
        cleanup();
    }
}

ndis_fn! {
    unsafe fn unload(_o: PDRIVER_OBJECT) {
        let t = DRIVER_TIMER.with(|d| d.replace(null_mut()));
        if !t.is_null() && mode() != Mode::DriverTimerKeptPastUnload {
            // SAFETY: our driver-handle timer, at PASSIVE_LEVEL.
            let _ = unsafe { NdisCancelTimerObject(t) };
            // SAFETY: cancelled above.
            unsafe { NdisFreeTimerObject(t) };
        }
        // SAFETY: the handle from registration, once.
        unsafe { NdisMDeregisterMiniportDriver(DRIVER.with(Cell::get)) };
    }
}

ndis_fn! {
    unsafe fn pause(_ctx: NDIS_HANDLE, _p: PNDIS_MINIPORT_PAUSE_PARAMETERS) -> NDIS_STATUS { NDIS_STATUS_SUCCESS }
    unsafe fn restart(_ctx: NDIS_HANDLE, _p: PNDIS_MINIPORT_RESTART_PARAMETERS) -> NDIS_STATUS { NDIS_STATUS_SUCCESS }
    unsafe fn send(_c: NDIS_HANDLE, _n: PNET_BUFFER_LIST, _p: NDIS_PORT_NUMBER, _f: ULONG) {}
    unsafe fn return_nbls(_c: NDIS_HANDLE, _n: PNET_BUFFER_LIST, _f: ULONG) {}
    unsafe fn cancel_send(_c: NDIS_HANDLE, _id: PVOID) {}
    unsafe fn pnp(_c: NDIS_HANDLE, _e: PNET_DEVICE_PNP_EVENT) {}
    unsafe fn shutdown(_c: NDIS_HANDLE, _a: NDIS_SHUTDOWN_ACTION) {}
    unsafe fn cancel_oid(_c: NDIS_HANDLE, _id: PVOID) {}
    unsafe fn co_activate(_v: NDIS_HANDLE, _p: PCO_CALL_PARAMETERS) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
    unsafe fn co_deactivate(_v: NDIS_HANDLE) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
    unsafe fn co_send(_v: NDIS_HANDLE, _n: PNET_BUFFER_LIST, _f: ULONG) {}
    unsafe fn co_oid(_c: NDIS_HANDLE, _v: NDIS_HANDLE, _r: PNDIS_OID_REQUEST) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
    unsafe fn cm_create_vc(_a: NDIS_HANDLE, _v: NDIS_HANDLE, _c: PNDIS_HANDLE) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
    unsafe fn cm_delete_vc(_v: NDIS_HANDLE) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
    unsafe fn cm_open_af(_b: NDIS_HANDLE, _af: PCO_ADDRESS_FAMILY, _h: NDIS_HANDLE, _c: PNDIS_HANDLE) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
    unsafe fn cm_close_af(_a: NDIS_HANDLE) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
    unsafe fn cm_reg_sap(_a: NDIS_HANDLE, _s: PCO_SAP, _h: NDIS_HANDLE, _c: PNDIS_HANDLE) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
    unsafe fn cm_dereg_sap(_s: NDIS_HANDLE) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
    unsafe fn cm_make_call(_v: NDIS_HANDLE, _p: PCO_CALL_PARAMETERS, _ph: NDIS_HANDLE, _pc: PNDIS_HANDLE) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
    unsafe fn cm_close_call(_v: NDIS_HANDLE, _p: NDIS_HANDLE, _d: PVOID, _s: UINT) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
    unsafe fn cm_incoming_complete(_s: NDIS_STATUS, _v: NDIS_HANDLE, _p: PCO_CALL_PARAMETERS) {}
    unsafe fn cm_add_party(_v: NDIS_HANDLE, _p: PCO_CALL_PARAMETERS, _ph: NDIS_HANDLE, _pc: PNDIS_HANDLE) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
    unsafe fn cm_drop_party(_p: NDIS_HANDLE, _d: PVOID, _s: UINT) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
    unsafe fn cm_activate_complete(_s: NDIS_STATUS, _v: NDIS_HANDLE, _p: PCO_CALL_PARAMETERS) {}
    unsafe fn cm_deactivate_complete(_s: NDIS_STATUS, _v: NDIS_HANDLE) {}
    unsafe fn cm_modify_qos(_v: NDIS_HANDLE, _p: PCO_CALL_PARAMETERS) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
    unsafe fn cm_oid(_a: NDIS_HANDLE, _v: NDIS_HANDLE, _p: NDIS_HANDLE, _r: PNDIS_OID_REQUEST) -> NDIS_STATUS { NDIS_STATUS_INVALID_OID }
    unsafe fn cm_oid_complete(_a: NDIS_HANDLE, _v: NDIS_HANDLE, _p: NDIS_HANDLE, _r: PNDIS_OID_REQUEST, _s: NDIS_STATUS) {}
    unsafe fn cm_notify_close_af_complete(_a: NDIS_HANDLE, _s: NDIS_STATUS) {}
}

//! A small CoNDIS client protocol driver written directly against ndis-sys,
//! to test ndis-emu's protocol side: it registers (NdisRegisterProtocolDriver,
//! whose ProtocolSetOptions registers its CO characteristics and client
//! handlers), binds to the adapter (NdisOpenAdapterEx for NdisMediumCoWan
//! in ProtocolBindAdapterEx), records the AFs ProtocolCoAfRegisterNotify
//! offers, closes the binding in ProtocolUnbindAdapterEx and deregisters from
//! its Unload routine. Well-behaved by default, and wrong in exactly one way
//! for each [`Fault`]. It is not covclient and shares no code with it.
//!
//! Its client handlers are placeholders returning NDIS_STATUS_NOT_SUPPORTED:
//! ndis-emu does not route a driver client's NdisCl* requests yet.
#![allow(dead_code, unsafe_code)]

use std::cell::{Cell, RefCell};
use std::ptr::null_mut;

use ndis_emu::{Emulator, Report};
use ndis_sys::*;

/// The one thing the fixture protocol gets wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Registers MajorNdisVersion 5.
    Ndis5,
    /// UnbindAdapterHandlerEx is NULL.
    NoUnbind,
    /// SetOptionsHandler is NULL.
    NoSetOptions,
    /// DriverEntry, after the registration, calls NdisSetOptionalHandlers.
    OptionalFromDriverEntry,
    /// The client handlers' ClIncomingCallHandler is NULL.
    NullIncomingCall,
    /// ProtocolSetOptions calls NdisDeregisterProtocolDriver.
    DeregisterFromSetOptions,
    /// Unload returns without NdisDeregisterProtocolDriver.
    UnloadForgets,
    /// Well-behaved: the bind completes (as if on another thread) before
    /// its handler returns NDIS_STATUS_PENDING.
    PendBind,
    /// DriverEntry calls NdisOpenAdapterEx with a made-up BindContext.
    OpenFromDriverEntry,
    /// The bind succeeds synchronously and also calls NdisCompleteBindAdapterEx.
    CompleteSyncBind,
    /// The bind returns NDIS_STATUS_PENDING and never completes.
    PendBindForever,
    /// The unbind returns without NdisCloseAdapterEx.
    UnbindKeepsBinding,
    /// The bind opens the AF itself, before NDIS offered it.
    OpenAfInBind,
    /// The unbind closes the AF with its SAP still registered.
    CloseAfWithSap,
    /// The unbind closes the binding with the AF still open.
    CloseAdapterWithAfOpen,
}

thread_local! {
    static FAULT: Cell<Fault> = const { Cell::new(Fault::None) };
    static HANDLE: Cell<NDIS_HANDLE> = const { Cell::new(null_mut()) };
    static BINDING: Cell<NDIS_HANDLE> = const { Cell::new(null_mut()) };
    static NOTIFIED: RefCell<Vec<NDIS_AF>> = const { RefCell::new(Vec::new()) };
    /// The AF handle NdisClOpenAddressFamilyEx gave, and the statuses of
    /// the open and of the close.
    static AF_HANDLE: Cell<NDIS_HANDLE> = const { Cell::new(null_mut()) };
    static AF_OPEN: Cell<Option<NDIS_STATUS>> = const { Cell::new(None) };
    static AF_CLOSE: Cell<Option<NDIS_STATUS>> = const { Cell::new(None) };
    /// The SAP handle NdisClRegisterSap gave, and the statuses of the
    /// registration and of the deregistration.
    static SAP_HANDLE: Cell<NDIS_HANDLE> = const { Cell::new(null_mut()) };
    static SAP_REG: Cell<Option<NDIS_STATUS>> = const { Cell::new(None) };
    static SAP_DEREG: Cell<Option<NDIS_STATUS>> = const { Cell::new(None) };
    /// The CO_SAP the fixture registers (NDIS hands it back in
    /// ProtocolClRegisterSapComplete, so it outlives the registration).
    static SAP: Cell<[u32; 4]> = const { Cell::new([0; 4]) };
    /// The VC NdisCoCreateVc gave (NULL: none), and the status of its delete.
    static VC: Cell<NDIS_HANDLE> = const { Cell::new(null_mut()) };
    static VC_DELETE: Cell<Option<NDIS_STATUS>> = const { Cell::new(None) };
}

/// The ProtocolVcContext the fixture gives NdisCoCreateVc.
const VC_CONTEXT: usize = 0x7C;

/// Whether the fixture created a VC, and the status of its delete.
pub fn vc_statuses() -> (bool, Option<NDIS_STATUS>) {
    (!VC.with(Cell::get).is_null(), VC_DELETE.with(Cell::get))
}

/// The ProtocolSapContext the fixture gives NdisClRegisterSap.
const SAP_CONTEXT: usize = 0x5A;

/// What became of the fixture's SAP: the statuses of its registration and
/// of its deregistration.
pub fn sap_statuses() -> (Option<NDIS_STATUS>, Option<NDIS_STATUS>) {
    (SAP_REG.with(Cell::get), SAP_DEREG.with(Cell::get))
}

/// The ClientAfContext the fixture gives NdisClOpenAddressFamilyEx.
const AF_CONTEXT: usize = 0xAF;

/// What became of the fixture's AF: the status of NdisClOpenAddressFamilyEx
/// (or of its ProtocolClOpenAfCompleteEx) and of its close.
pub fn af_statuses() -> (Option<NDIS_STATUS>, Option<NDIS_STATUS>) {
    (AF_OPEN.with(Cell::get), AF_CLOSE.with(Cell::get))
}

/// The ProtocolBindingContext the fixture gives NdisOpenAdapterEx (it
/// allocates nothing: one binding, a constant context).
const BINDING_CONTEXT: usize = 0xB1;

/// The AFs ProtocolCoAfRegisterNotify offered since the last [`run`] or
/// [`start`].
pub fn notified() -> Vec<NDIS_AF> {
    NOTIFIED.with(|n| n.borrow().clone())
}

/// Picks the fault and forgets the last run's state (for a test that drives
/// the emulator itself).
pub fn start(f: Fault) {
    FAULT.with(|c| c.set(f));
    HANDLE.with(|c| c.set(null_mut()));
    BINDING.with(|c| c.set(null_mut()));
    NOTIFIED.with(|n| n.borrow_mut().clear());
    AF_HANDLE.with(|c| c.set(null_mut()));
    AF_OPEN.with(|c| c.set(None));
    AF_CLOSE.with(|c| c.set(None));
    SAP_HANDLE.with(|c| c.set(null_mut()));
    SAP_REG.with(|c| c.set(None));
    SAP_DEREG.with(|c| c.set(None));
    VC.with(|c| c.set(null_mut()));
    VC_DELETE.with(|c| c.set(None));
}

/// NdisCoCreateVc on the open AF (for an outgoing call).
fn create_own_vc() {
    let mut vc = null_mut();
    // SAFETY: the binding and AF handles NDIS gave; the slot lives across the call.
    let status = unsafe {
        NdisCoCreateVc(
            BINDING.with(Cell::get),
            AF_HANDLE.with(Cell::get),
            VC_CONTEXT as NDIS_HANDLE,
            &raw mut vc,
        )
    };
    if status == NDIS_STATUS_SUCCESS {
        VC.with(|c| c.set(vc));
    }
}

/// NdisClRegisterSap of a 4-byte SAP on the open AF.
fn register_sap() {
    // CO_SAP { SapType 1, SapLength 4, Sap "SAP1" }, 4-byte aligned.
    SAP.with(|s| s.set([1, 4, u32::from_le_bytes(*b"SAP1"), 0]));
    let sap = SAP.with(Cell::as_ptr).cast::<CO_SAP>();
    let mut handle = null_mut();
    // SAFETY: the AF handle NDIS gave; the CO_SAP is thread-local storage
    // that outlives the registration; the slot lives across the call.
    let status = unsafe {
        NdisClRegisterSap(
            AF_HANDLE.with(Cell::get),
            SAP_CONTEXT as NDIS_HANDLE,
            sap,
            &raw mut handle,
        )
    };
    SAP_HANDLE.with(|c| c.set(handle));
    if status != NDIS_STATUS_PENDING {
        SAP_REG.with(|c| c.set(Some(status)));
    }
}

/// NdisClOpenAddressFamilyEx for `af` on the binding; keeps the handle and
/// the status (a PENDING open's status comes in ProtocolClOpenAfCompleteEx).
///
/// # Safety
/// `af` is passed to NDIS as it is.
unsafe fn open_af(af: PCO_ADDRESS_FAMILY) {
    let mut handle = null_mut();
    // SAFETY: the binding handle NDIS gave; the AF and the slot live across the call.
    let status =
        unsafe { NdisClOpenAddressFamilyEx(BINDING.with(Cell::get), af, AF_CONTEXT as NDIS_HANDLE, &raw mut handle) };
    AF_HANDLE.with(|c| c.set(handle));
    if status != NDIS_STATUS_PENDING {
        AF_OPEN.with(|c| c.set(Some(status)));
    }
}

/// The fixture protocol's unload routine, for [`Emulator::unload_protocol`].
pub const UNLOAD: DRIVER_UNLOAD = unload;
/// Its DriverEntry, for [`Emulator::load_protocol`].
pub const DRIVER_ENTRY: DRIVER_INITIALIZE = driver_entry;

fn fault() -> Fault {
    FAULT.with(Cell::get)
}

/// Loads the fixture protocol with `f`, unloads it, and returns the report.
/// `registered` says whether the emulator saw its CoNDIS client registration
/// complete between the two.
pub fn run(f: Fault) -> (Report, bool) {
    start(f);
    let mut emu = Emulator::new();
    let loaded = emu.load_protocol(driver_entry).is_ok();
    let registered = emu.protocol_client_registered();
    if loaded {
        emu.unload_protocol(unload);
    }
    (emu.finish(), registered)
}

fn characteristics() -> NDIS_PROTOCOL_DRIVER_CHARACTERISTICS {
    // SAFETY: all-zero is a valid NDIS_PROTOCOL_DRIVER_CHARACTERISTICS
    // (integers, a NULL NDIS_STRING buffer and None handlers).
    let mut c: NDIS_PROTOCOL_DRIVER_CHARACTERISTICS = unsafe { core::mem::zeroed() };
    c.Header = NDIS_OBJECT_HEADER {
        Type: NDIS_OBJECT_TYPE_PROTOCOL_DRIVER_CHARACTERISTICS,
        Revision: NDIS_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_2,
        Size: NDIS_SIZEOF_PROTOCOL_DRIVER_CHARACTERISTICS_REVISION_2 as u16,
    };
    c.MajorNdisVersion = 6;
    c.MinorNdisVersion = 30;
    c.SetOptionsHandler = Some(set_options);
    c.BindAdapterHandlerEx = Some(bind);
    c.UnbindAdapterHandlerEx = Some(unbind);
    c.OpenAdapterCompleteHandlerEx = Some(open_complete);
    c.CloseAdapterCompleteHandlerEx = Some(close_complete);
    c
}

fn co_characteristics() -> NDIS_PROTOCOL_CO_CHARACTERISTICS {
    NDIS_PROTOCOL_CO_CHARACTERISTICS {
        Header: NDIS_OBJECT_HEADER {
            Type: NDIS_OBJECT_TYPE_CO_PROTOCOL_CHARACTERISTICS,
            Revision: NDIS_PROTOCOL_CO_CHARACTERISTICS_REVISION_1,
            Size: NDIS_SIZEOF_PROTOCOL_CO_CHARACTERISTICS_REVISION_1 as u16,
        },
        Flags: 0,
        CoStatusHandlerEx: None,
        CoAfRegisterNotifyHandler: Some(af_notify),
        CoReceiveNetBufferListsHandler: None,
        CoSendNetBufferListsCompleteHandler: None,
    }
}

fn client_handlers() -> NDIS_CO_CLIENT_OPTIONAL_HANDLERS {
    NDIS_CO_CLIENT_OPTIONAL_HANDLERS {
        Header: NDIS_OBJECT_HEADER {
            Type: NDIS_OBJECT_TYPE_CO_CLIENT_OPTIONAL_HANDLERS,
            Revision: 1,
            Size: NDIS_SIZEOF_CO_CLIENT_OPTIONAL_HANDLERS_REVISION_1 as u16,
        },
        Reserved: 0,
        ClCreateVcHandler: Some(create_vc),
        ClDeleteVcHandler: Some(delete_vc),
        ClOidRequestHandler: Some(oid),
        ClOidRequestCompleteHandler: Some(oid_complete),
        ClOpenAfCompleteHandlerEx: Some(open_af_complete),
        ClCloseAfCompleteHandler: Some(close_af_complete),
        ClRegisterSapCompleteHandler: Some(reg_sap_complete),
        ClDeregisterSapCompleteHandler: Some(dereg_sap_complete),
        ClMakeCallCompleteHandler: Some(call_complete),
        ClModifyCallQoSCompleteHandler: Some(qos_complete),
        ClCloseCallCompleteHandler: Some(close_call_complete),
        ClAddPartyCompleteHandler: Some(call_complete),
        ClDropPartyCompleteHandler: Some(status_ctx),
        ClIncomingCallHandler: if fault() == Fault::NullIncomingCall {
            None
        } else {
            Some(incoming_call)
        },
        ClIncomingCallQoSChangeHandler: Some(qos_change),
        ClIncomingCloseCallHandler: Some(incoming_close),
        ClIncomingDropPartyHandler: Some(incoming_close),
        ClCallConnectedHandler: Some(connected),
        ClNotifyCloseAfHandler: Some(notify_close_af),
    }
}

/// Registers the CO characteristics and client handlers on `handle`.
///
/// # Safety
/// `handle` is what NDIS passed (or wrote); the blocks live across the calls.
unsafe fn register_client_blocks(handle: NDIS_HANDLE) -> NDIS_STATUS {
    let mut co = co_characteristics();
    let mut cl = client_handlers();
    // SAFETY: the block lives across the call; NDIS copies it.
    let status = unsafe { NdisSetOptionalHandlers(handle, (&raw mut co).cast()) };
    if status != NDIS_STATUS_SUCCESS {
        return status;
    }
    // SAFETY: `cl` lives across the call; NDIS copies it.
    unsafe { NdisSetOptionalHandlers(handle, (&raw mut cl).cast()) }
}

/// NdisOpenAdapterEx for NdisMediumCoWan; keeps the binding handle.
///
/// # Safety
/// `handle` and `bind_context` are passed to NDIS as they are.
unsafe fn open(handle: NDIS_HANDLE, bind_context: NDIS_HANDLE) -> NDIS_STATUS {
    let mut mediums = [NdisMediumCoWan];
    let mut selected: UINT = u32::MAX;
    let mut params = NDIS_OPEN_PARAMETERS {
        Header: NDIS_OBJECT_HEADER {
            Type: NDIS_OBJECT_TYPE_OPEN_PARAMETERS,
            Revision: NDIS_OPEN_PARAMETERS_REVISION_1,
            Size: NDIS_SIZEOF_OPEN_PARAMETERS_REVISION_1 as u16,
        },
        AdapterName: null_mut(),
        MediumArray: mediums.as_mut_ptr(),
        MediumArraySize: 1,
        SelectedMediumIndex: &raw mut selected,
        FrameTypeArray: null_mut(),
        FrameTypeArraySize: 0,
    };
    let mut binding = null_mut();
    // SAFETY: the parameters, the arrays and slots they point to live across the call.
    let status = unsafe {
        NdisOpenAdapterEx(
            handle,
            BINDING_CONTEXT as NDIS_HANDLE,
            &raw mut params,
            bind_context,
            &raw mut binding,
        )
    };
    if status == NDIS_STATUS_SUCCESS {
        BINDING.with(|b| b.set(binding));
        if selected != 0 {
            // NDIS must select the one medium offered.
            return NDIS_STATUS_FAILURE;
        }
    }
    status
}

ndis_fn! {
    unsafe fn driver_entry(_object: PDRIVER_OBJECT, _path: PUNICODE_STRING) -> NTSTATUS {
        let mut c = characteristics();
        match fault() {
            Fault::Ndis5 => c.MajorNdisVersion = 5,
            Fault::NoUnbind => c.UnbindAdapterHandlerEx = None,
            Fault::NoSetOptions => c.SetOptionsHandler = None,
            _ => {}
        }
        let mut handle = null_mut();
        // SAFETY: the characteristics and the handle slot live across the call.
        let status = unsafe { NdisRegisterProtocolDriver(null_mut(), &raw mut c, &raw mut handle) };
        if status != NDIS_STATUS_SUCCESS {
            return status;
        }
        HANDLE.with(|h| h.set(handle));
        if fault() == Fault::OptionalFromDriverEntry {
            // SAFETY: the handle NDIS just wrote.
            let _ = unsafe { register_client_blocks(handle) };
        }
        if fault() == Fault::OpenFromDriverEntry {
            // SAFETY: a made-up BindContext (the fault); the rest live across the call.
            let _ = unsafe { open(handle, 0x1234 as NDIS_HANDLE) };
        }
        STATUS_SUCCESS
    }

    unsafe fn unload(_object: PDRIVER_OBJECT) {
        let handle = HANDLE.with(Cell::get);
        if fault() != Fault::UnloadForgets && fault() != Fault::DeregisterFromSetOptions && !handle.is_null() {
            // SAFETY: the handle NdisRegisterProtocolDriver gave.
            unsafe { NdisDeregisterProtocolDriver(handle) };
        }
    }

    unsafe fn set_options(handle: NDIS_HANDLE, _context: NDIS_HANDLE) -> NDIS_STATUS {
        if fault() == Fault::DeregisterFromSetOptions {
            // SAFETY: the protocol handle NDIS passed.
            unsafe { NdisDeregisterProtocolDriver(handle) };
            return NDIS_STATUS_SUCCESS;
        }
        if fault() == Fault::OptionalFromDriverEntry {
            return NDIS_STATUS_SUCCESS;
        }
        // SAFETY: the protocol handle NDIS passed to ProtocolSetOptions.
        unsafe { register_client_blocks(handle) }
    }

    unsafe fn bind(_d: NDIS_HANDLE, bind_context: NDIS_HANDLE, _p: PNDIS_BIND_PARAMETERS) -> NDIS_STATUS {
        // SAFETY: the protocol handle NDIS gave and the BindContext it passed.
        let status = unsafe { open(HANDLE.with(Cell::get), bind_context) };
        if fault() == Fault::OpenAfInBind {
            let mut af = CO_ADDRESS_FAMILY { AddressFamily: 0xF1F2, MajorVersion: 1, MinorVersion: 0 };
            // SAFETY: the AF lives across the call.
            unsafe { open_af(&raw mut af) };
        }
        match fault() {
            Fault::PendBind => {
                // SAFETY: the BindContext NDIS passed to this bind.
                unsafe { NdisCompleteBindAdapterEx(bind_context, status) };
                NDIS_STATUS_PENDING
            }
            Fault::CompleteSyncBind => {
                // SAFETY: the BindContext NDIS passed to this bind (the fault is
                // returning SUCCESS after completing it).
                unsafe { NdisCompleteBindAdapterEx(bind_context, status) };
                status
            }
            Fault::PendBindForever => NDIS_STATUS_PENDING,
            _ => status,
        }
    }
    unsafe fn unbind(_u: NDIS_HANDLE, _b: NDIS_HANDLE) -> NDIS_STATUS {
        let vc = VC.with(Cell::get);
        if !vc.is_null() {
            // SAFETY: the VC handle NdisCoCreateVc gave; no call is on it.
            VC_DELETE.with(|c| c.set(Some(unsafe { NdisCoDeleteVc(vc) })));
        }
        if SAP_REG.with(Cell::get) == Some(NDIS_STATUS_SUCCESS) && fault() != Fault::CloseAfWithSap {
            // SAFETY: the SAP handle NdisClRegisterSap gave.
            let status = unsafe { NdisClDeregisterSap(SAP_HANDLE.with(Cell::get)) };
            if status != NDIS_STATUS_PENDING {
                SAP_DEREG.with(|c| c.set(Some(status)));
            }
        }
        let af = AF_HANDLE.with(Cell::get);
        if AF_OPEN.with(Cell::get) == Some(NDIS_STATUS_SUCCESS) && fault() != Fault::CloseAdapterWithAfOpen {
            // SAFETY: the AF handle NdisClOpenAddressFamilyEx gave.
            let status = unsafe { NdisClCloseAddressFamily(af) };
            if status != NDIS_STATUS_PENDING {
                AF_CLOSE.with(|c| c.set(Some(status)));
            }
        }
        if fault() != Fault::UnbindKeepsBinding {
            // SAFETY: the binding handle NdisOpenAdapterEx gave.
            let _ = unsafe { NdisCloseAdapterEx(BINDING.with(Cell::get)) };
        }
        NDIS_STATUS_SUCCESS
    }
    unsafe fn open_complete(_b: NDIS_HANDLE, _s: NDIS_STATUS) {}
    unsafe fn close_complete(_b: NDIS_HANDLE) {}
    unsafe fn af_notify(_b: NDIS_HANDLE, af: PCO_ADDRESS_FAMILY) {
        // SAFETY: NDIS passes a valid CO_ADDRESS_FAMILY for the call.
        let family = unsafe { (*af).AddressFamily };
        NOTIFIED.with(|n| n.borrow_mut().push(family));
        // The fixture's client knows fixture_cm's AF only (covclient, like a
        // real client, ignores AFs it does not know).
        if family == 0xF1F2 {
            // SAFETY: NDIS's AF block, alive across this call.
            unsafe { open_af(af) };
            if AF_OPEN.with(Cell::get) == Some(NDIS_STATUS_SUCCESS) {
                register_sap();
                create_own_vc();
            }
        }
    }
    unsafe fn create_vc(_a: NDIS_HANDLE, _v: NDIS_HANDLE, _c: PNDIS_HANDLE) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
    unsafe fn delete_vc(_v: NDIS_HANDLE) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
    unsafe fn oid(_c: NDIS_HANDLE, _v: NDIS_HANDLE, _p: NDIS_HANDLE, _r: PNDIS_OID_REQUEST) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
    unsafe fn oid_complete(_c: NDIS_HANDLE, _v: NDIS_HANDLE, _p: NDIS_HANDLE, _r: PNDIS_OID_REQUEST, _s: NDIS_STATUS) {}
    unsafe fn open_af_complete(_c: NDIS_HANDLE, _a: NDIS_HANDLE, s: NDIS_STATUS) {
        AF_OPEN.with(|c| c.set(Some(s)));
    }
    unsafe fn close_af_complete(s: NDIS_STATUS, _c: NDIS_HANDLE) {
        AF_CLOSE.with(|c| c.set(Some(s)));
    }
    unsafe fn status_ctx(_s: NDIS_STATUS, _c: NDIS_HANDLE) {}
    unsafe fn reg_sap_complete(s: NDIS_STATUS, _c: NDIS_HANDLE, _sap: PCO_SAP, _h: NDIS_HANDLE) {
        SAP_REG.with(|c| c.set(Some(s)));
    }
    unsafe fn dereg_sap_complete(s: NDIS_STATUS, _c: NDIS_HANDLE) {
        SAP_DEREG.with(|c| c.set(Some(s)));
    }
    unsafe fn call_complete(_s: NDIS_STATUS, _c: NDIS_HANDLE, _p: NDIS_HANDLE, _cp: PCO_CALL_PARAMETERS) {}
    unsafe fn qos_complete(_s: NDIS_STATUS, _c: NDIS_HANDLE, _cp: PCO_CALL_PARAMETERS) {}
    unsafe fn close_call_complete(_s: NDIS_STATUS, _c: NDIS_HANDLE, _p: NDIS_HANDLE) {}
    unsafe fn incoming_call(_s: NDIS_HANDLE, _v: NDIS_HANDLE, _cp: PCO_CALL_PARAMETERS) -> NDIS_STATUS { NDIS_STATUS_NOT_SUPPORTED }
    unsafe fn qos_change(_v: NDIS_HANDLE, _cp: PCO_CALL_PARAMETERS) {}
    unsafe fn incoming_close(_s: NDIS_STATUS, _c: NDIS_HANDLE, _d: PVOID, _n: UINT) {}
    unsafe fn connected(_v: NDIS_HANDLE) {}
    unsafe fn notify_close_af(_a: NDIS_HANDLE) -> NDIS_STATUS { NDIS_STATUS_SUCCESS }
}
